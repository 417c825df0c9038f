//! Any bytes through the form converter, with and without embedded JSON
//! fields: no panic, and whatever converts is a valid JSON object.
#![no_main]

use hookbridge_convert::form::{FormOptions, to_json};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fuzz_target!(|body: &[u8]| {
    for json_fields in [false, true] {
        if let Ok(json) = to_json(body, &FormOptions { json_fields }) {
            // Checked as a RawValue: `serde_json::Value` misreads objects whose
            // first member is named `$serde_json::private::RawValue`.
            if let Err(error) = serde_json::from_slice::<&RawValue>(&json) {
                panic!("invalid JSON ({error}): {}", String::from_utf8_lossy(&json));
            }
            assert!(json.starts_with(b"{"), "top level is not an object");
        }
    }
});
