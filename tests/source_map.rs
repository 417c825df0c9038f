//! The README's source map (under "Development") names every module in `src/`, and
//! nothing that is not there: a module added, renamed or removed must update it.

#![allow(
    clippy::expect_used,
    reason = "a test that cannot read the tree fails loudly"
)]

use std::collections::BTreeSet;
use std::path::Path;

/// The names in the README's `src/` block: `name.rs` and `name/` entries.
fn mapped() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme
        .find("```\nsrc/\n")
        .expect("the README has a src/ source map");
    let block = &readme[start + 4..];
    let block = &block[..block.find("```").expect("the source map block ends")];
    block
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| {
            let name = line.split_whitespace().next()?;
            // Continuation lines of a description are indented past the name column.
            (line.len() - line.trim_start().len() == 2).then(|| name.to_string())
        })
        .collect()
}

/// The modules in `src/`: files as `name.rs`, directories as `name/`.
fn modules() -> BTreeSet<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    std::fs::read_dir(src)
        .expect("src/")
        .map(|entry| {
            let entry = entry.expect("a directory entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().expect("a file type").is_dir() {
                format!("{name}/")
            } else {
                name
            }
        })
        .collect()
}

#[test]
fn the_readme_source_map_names_every_module() {
    let (mapped, modules) = (mapped(), modules());
    assert!(
        mapped.contains("lib.rs") && mapped.contains("ingress/"),
        "{mapped:?}"
    );
    let missing: Vec<_> = modules.difference(&mapped).collect();
    let stale: Vec<_> = mapped.difference(&modules).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README source map: missing {missing:?}, names what is not in src/ {stale:?}"
    );
}
