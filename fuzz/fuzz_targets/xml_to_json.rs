//! Any bytes through format detection and the XML converter, both ways of
//! typing text: no panic, and whatever converts is valid JSON.
#![no_main]

use hookbridge_convert::format::detect;
use hookbridge_convert::xml::{XmlOptions, to_json};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fuzz_target!(|body: &[u8]| {
    let _ = detect(None, body);
    for infer_types in [false, true] {
        if let Ok(json) = to_json(body, &XmlOptions { infer_types }) {
            // Checked as a RawValue: `serde_json::Value` misreads objects whose
            // first member is named `$serde_json::private::RawValue`.
            if let Err(error) = serde_json::from_slice::<&RawValue>(&json) {
                panic!("invalid JSON ({error}): {}", String::from_utf8_lossy(&json));
            }
        }
    }
});
