use std::path::Path;

use super::*;

fn example() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hookbridge.toml");
    let env = std::sync::Arc::new(|_: &str| None);
    Config::load(&path, env).expect("the example config is valid")
}

/// docs/contract is what `hookbridge contract` writes for the example config; the
/// README links it, so it must not go stale.
#[test]
fn the_committed_contract_of_the_example_config_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/contract");
    let files = generate(&example());
    for file in &files {
        let committed = std::fs::read_to_string(dir.join(&file.path)).unwrap_or_default();
        assert!(
            committed == file.text,
            "docs/contract/{} is stale: run `cargo run -- contract --config examples/hookbridge.toml --out docs/contract`",
            file.path.display()
        );
    }
    let committed = std::fs::read_dir(dir.join("schemas")).unwrap().count();
    assert_eq!(
        committed + 1,
        files.len(),
        "docs/contract/schemas has extra files"
    );
}

#[test]
fn the_example_contract_has_every_event_and_the_dead_letter() {
    let files = generate(&example());
    let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    assert_eq!(names.len(), 1 + 13 + 1, "{names:?}");
    assert_eq!(names[0], "asyncapi.yaml");
    assert!(names.contains(&"schemas/milestone-status-change.json".to_string()));
    assert_eq!(
        names.last().map(String::as_str),
        Some("schemas/deadletter.json")
    );
}

#[test]
fn writing_replaces_an_earlier_contract_whole() {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("schemas/stale-event.json");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, "{}").unwrap();
    let files = vec![
        File {
            path: "asyncapi.yaml".into(),
            text: "asyncapi: \"3.0.0\"\n".into(),
        },
        File {
            path: Path::new("schemas").join("deadletter.json"),
            text: "{}\n".into(),
        },
    ];
    write(&files, dir.path()).unwrap();
    assert!(!stale.exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("schemas/deadletter.json")).unwrap(),
        "{}\n"
    );
}
