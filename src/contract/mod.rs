//! `hookbridge contract`: the machine-readable contract of the topics a config
//! writes, for the teams that consume them.
//!
//! [`generate`] turns a config into files: `asyncapi.yaml` (AsyncAPI 3.0: servers,
//! one channel per topic, the messages in the config's CloudEvents Kafka binding mode),
//! `schemas/<event slug>.json` for each event the config writes and
//! `schemas/deadletter.json` (JSON Schema 2020-12 of the record value in structured
//! mode). The output depends on the config and hookbridge's version only, so a
//! committed copy can be checked for staleness by generating it again. Validating the
//! documents is left to the AsyncAPI and JSON Schema tools (scripts/contract.sh).

mod asyncapi;
mod attributes;
mod data;
mod schema;
mod servers;
mod text;

use std::io;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::everbright::Event;

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Its path, relative to the output folder.
    pub path: PathBuf,
    /// Its content.
    pub text: String,
}

/// The contract of `config`: the AsyncAPI document, then the schemas.
pub fn generate(config: &Config) -> Vec<File> {
    let catalog = data::Catalog::load();
    let mut events: Vec<Event> = config.deliverable().into_iter().map(|(_, e)| e).collect();
    events.sort();
    events.dedup();
    let mut files = vec![File {
        path: PathBuf::from("asyncapi.yaml"),
        text: text::yaml(&asyncapi::document(config)),
    }];
    for event in events {
        let pointers = config.payload.site_pointers.get(event);
        files.push(File {
            path: Path::new("schemas").join(format!("{}.json", event.slug())),
            text: text::json(&schema::event(&catalog, event, pointers)),
        });
    }
    files.push(File {
        path: Path::new("schemas").join("deadletter.json"),
        text: text::json(&schema::dead_letter()),
    });
    files
}

/// Writes `files` under `dir`, creating folders as needed. Files of an earlier
/// contract that this one no longer has are removed from `dir/schemas`, so the folder
/// always holds exactly one contract.
pub fn write(files: &[File], dir: &Path) -> io::Result<()> {
    let schemas = dir.join("schemas");
    std::fs::create_dir_all(&schemas)?;
    for entry in std::fs::read_dir(&schemas)? {
        let path = entry?.path();
        let ours = files.iter().any(|f| dir.join(&f.path) == path);
        if !ours && path.extension().is_some_and(|e| e == "json") {
            std::fs::remove_file(path)?;
        }
    }
    for file in files {
        std::fs::write(dir.join(&file.path), &file.text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
