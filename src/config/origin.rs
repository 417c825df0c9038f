//! Where a config was read from, and a fingerprint of exactly what was read, so that
//! a later read can tell whether anything changed.
//!
//! The fingerprint covers the config file and every secret file it referenced, digested
//! in order. It is taken from the bytes actually parsed, so a change made between
//! loading and watching is not missed.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Config, ConfigErrors, Env};

/// Where a config was read from, to read it again.
#[derive(Clone)]
pub struct Origin {
    /// The config file.
    pub path: PathBuf,
    /// How `{ env = … }` secrets are looked up.
    pub env: Env,
    /// A digest of the config file and secret files exactly as they were read.
    pub fingerprint: [u8; 32],
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Origin")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Origin {
    /// Reads and validates the config again.
    pub fn load(&self) -> Result<Config, ConfigErrors> {
        Config::load(&self.path, self.env.clone())
    }

    /// The fingerprint of the config file and `secret_files` as they are on disk now;
    /// equal to [`Origin::fingerprint`] when nothing changed.
    pub fn fingerprint_now(&self, secret_files: &[PathBuf]) -> [u8; 32] {
        fingerprint(&self.path, secret_files)
    }

    /// Each file's digest as it is on disk now, config file first: to tell which one
    /// changed.
    pub fn digests_now(&self, secret_files: &[PathBuf]) -> Vec<(PathBuf, [u8; 32])> {
        files(&self.path, secret_files)
            .map(|path| (path.to_path_buf(), digest_now(path)))
            .collect()
    }
}

/// The config file and its secret files, in the fingerprint's order.
fn files<'a>(config: &'a Path, secret_files: &'a [PathBuf]) -> impl Iterator<Item = &'a Path> {
    std::iter::once(config).chain(secret_files.iter().map(PathBuf::as_path))
}

/// The digest of the file at `path` as it is on disk now.
fn digest_now(path: &Path) -> [u8; 32] {
    file_digest(std::fs::read(path).ok().as_deref())
}

/// A digest of the config file and the secret files as they are on disk now.
fn fingerprint(config: &Path, secret_files: &[PathBuf]) -> [u8; 32] {
    combine(files(config, secret_files).map(digest_now))
}

/// The digest of one file's content (`None`: unreadable).
pub(super) fn file_digest(content: Option<&[u8]>) -> [u8; 32] {
    content.map_or([0xff; 32], |bytes| Sha256::digest(bytes).into())
}

/// The fingerprint of a config file and its secret files, from their digests in order.
pub(super) fn combine(digests: impl IntoIterator<Item = [u8; 32]>) -> [u8; 32] {
    digests
        .into_iter()
        .fold(Sha256::new(), |hash, digest| hash.chain_update(digest))
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_changes_with_any_file_and_not_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let (config, secret) = (dir.path().join("c.toml"), dir.path().join("s"));
        std::fs::write(&config, "a").unwrap();
        std::fs::write(&secret, "1").unwrap();
        let files = [secret.clone()];
        let first = fingerprint(&config, &files);
        assert_eq!(first, fingerprint(&config, &files));
        std::fs::write(&secret, "2").unwrap();
        let second = fingerprint(&config, &files);
        assert_ne!(first, second);
        std::fs::remove_file(&secret).unwrap();
        assert_ne!(second, fingerprint(&config, &files));
    }
}
