//! JSON Schema validation of records with an independent validator: `check-jsonschema`
//! (PyPI, on the Python reference implementation `jsonschema`, formats checked), found
//! through `CHECK_JSONSCHEMA`, then the project-local install made by
//! `scripts/install-contract-tools.sh`, then `PATH`. If it cannot be found, the test
//! fails: nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

fn check_jsonschema() -> PathBuf {
    super::tool(
        "CHECK_JSONSCHEMA",
        ".tools/contract/venv/bin/check-jsonschema",
        "check-jsonschema",
        "run scripts/install-contract-tools.sh (or set CHECK_JSONSCHEMA)",
    )
}

/// The committed contract of the example config (`docs/contract`).
pub fn committed(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/contract/schemas")
        .join(file)
}

/// Validates each of `instances` (JSON values) against the schema file `schema`:
/// `Ok` when all pass, else the validator's report.
pub fn validate(schema: &Path, instances: &[serde_json::Value]) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("a folder for the instances");
    let files: Vec<PathBuf> = instances
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let path = dir.path().join(format!("record-{i}.json"));
            std::fs::write(&path, value.to_string()).expect("an instance file");
            path
        })
        .collect();
    let output = Command::new(check_jsonschema())
        .arg("--schemafile")
        .arg(schema)
        .args(&files)
        .output()
        .expect("cannot run check-jsonschema");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(report),
        _ => panic!(
            "check-jsonschema failed to run ({}): {report}",
            output.status
        ),
    }
}
