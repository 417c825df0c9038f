//! Live reload: a new config replaces the running one without a restart.
//!
//! A reload is triggered by SIGHUP, or when the config file or any secret file it
//! references changes — checked every [`POLL_INTERVAL`] by content, so Kubernetes'
//! atomic symlink swap of mounted ConfigMaps and Secrets is noticed like any edit. The
//! new file is read and validated in full; a bad one is logged, counted and ignored,
//! and the old config keeps serving. A good one becomes a new [`App`], swapped in
//! whole: requests in flight finish on the config they started with.
//!
//! The Kafka producer is kept when `[kafka]` is unchanged, and replaced (the old one
//! flushed) when it changed. Listener addresses and the connection and in-flight
//! limits are bound at start: changing them is logged as needing a restart, and the
//! rest of the new config still applies.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::KafkaError;
use tokio::signal::unix::{Signal, SignalKind};

use crate::app::{App, State};
use crate::config::{self, Config, Dedup, Kafka, Origin, Server};
use crate::publish::Publish;

/// How often the config and secret files are checked for changes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// What a reload compares the new config with.
#[derive(Debug, Clone)]
pub struct Running {
    server: Server,
    kafka: Kafka,
    dedup: Dedup,
    spool: Option<config::Spool>,
    secret_files: Vec<PathBuf>,
}

impl Running {
    /// The parts of `config` a later reload needs to know about.
    pub fn of(config: &Config) -> Running {
        Running {
            server: config.server.clone(),
            kafka: config.kafka.clone(),
            dedup: config.dedup,
            spool: config.spool.clone(),
            secret_files: config.secret_files.clone(),
        }
    }
}

/// Creates a publisher for a config (the real one connects to Kafka).
pub type Connect = dyn Fn(&Config) -> Result<Arc<dyn Publish>, KafkaError> + Send + Sync;

/// Installs the SIGHUP handler now (so a SIGHUP sent before [`watch`] first runs
/// still reloads); `None` when it cannot be, and then only file changes reload.
pub fn hangup() -> Option<Signal> {
    crate::shutdown::install(SignalKind::hangup(), "SIGHUP")
}

/// The files whose content differs between two readings, comma-separated (all of
/// `after` when the list of files itself changed).
fn changed_files(before: &[(PathBuf, [u8; 32])], after: &[(PathBuf, [u8; 32])]) -> String {
    let mut changed: Vec<String> = after
        .iter()
        .filter(|file| !before.contains(file))
        .map(|(path, _)| path.display().to_string())
        .collect();
    if changed.is_empty() {
        // A file that went away, or the first reading was taken after the change.
        changed = after.iter().map(|(p, _)| p.display().to_string()).collect();
    }
    changed.join(", ")
}

/// Watches `origin` and swaps reloaded configs into `state` until `stop` resolves,
/// on each `hangup` signal and each change of its files. `running` describes the
/// config `state` serves now.
pub async fn watch(
    state: Arc<State>,
    origin: Origin,
    running: Running,
    connect: Arc<Connect>,
    mut hangup: Option<Signal>,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    let mut running = running;
    let mut seen = origin.fingerprint;
    let mut files = origin.digests_now(&running.secret_files);
    loop {
        let hup = async {
            match hangup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut stop => return,
            () = hup => tracing::info!("SIGHUP: reloading the config"),
            () = tokio::time::sleep(POLL_INTERVAL) => {
                let now = origin.fingerprint_now(&running.secret_files);
                if now == seen {
                    continue;
                }
                seen = now;
                let before = std::mem::replace(&mut files, origin.digests_now(&running.secret_files));
                let changed = changed_files(&before, &files);
                tracing::info!(files = %changed, "config or secret file changed: reloading");
            }
        }
        if let Some((next, read)) = reload(&state, &origin, &running, &*connect) {
            running = next;
            seen = read;
        }
    }
}

/// One reload attempt; when it succeeded, what now serves and the fingerprint of the
/// files it was read from.
fn reload(
    state: &State,
    origin: &Origin,
    running: &Running,
    connect: &Connect,
) -> Option<(Running, [u8; 32])> {
    let metrics = &state.metrics;
    let next = match origin.load() {
        Ok(next) => next,
        Err(errors) => {
            metrics.config_reloads.with_label_values(&["failure"]).inc();
            tracing::error!(errors = %errors, "config reload rejected; the running config stays");
            return None;
        }
    };
    warn_about_restart_only_changes(running, &next);
    let publisher = if next.kafka == running.kafka {
        let kept = state.app().publisher.clone();
        // The credentials may have changed the topics written to.
        kept.expect_topics(next.topics());
        kept
    } else {
        match connect(&next) {
            Ok(p) => {
                tracing::info!("[kafka] changed: a new producer replaces the old one");
                p
            }
            Err(e) => {
                metrics.config_reloads.with_label_values(&["failure"]).inc();
                tracing::error!(error = %e, "config reload rejected; the running config stays");
                return None;
            }
        }
    };
    let now_running = Running::of(&next);
    let read = next.origin.as_ref().map_or([0; 32], |o| o.fingerprint);
    let credentials = next.credentials.len();
    state.swap(App::new(next, publisher, metrics));
    metrics.config_reloads.with_label_values(&["success"]).inc();
    metrics.config_loaded();
    tracing::info!(credentials, "config reloaded");
    Some((now_running, read))
}

fn warn_about_restart_only_changes(running: &Running, next: &Config) {
    let (a, b) = (&running.server, &next.server);
    let changed: Vec<&str> = [
        ("server.listen", a.listen != b.listen),
        ("server.admin_listen", a.admin_listen != b.admin_listen),
        ("server.max_inflight", a.max_inflight != b.max_inflight),
        (
            "server.max_connections",
            a.max_connections != b.max_connections,
        ),
        (
            "server.shutdown_grace",
            a.shutdown_grace != b.shutdown_grace,
        ),
        (
            "dedup.capacity",
            running.dedup.capacity != next.dedup.capacity,
        ),
        // The spool is opened once: its records and lock belong to the process.
        ("spool", running.spool != next.spool),
    ]
    .into_iter()
    .filter_map(|(key, differs)| differs.then_some(key))
    .collect();
    if !changed.is_empty() {
        tracing::warn!(keys = ?changed, "these settings only take effect after a restart");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reload_line_names_the_file_that_changed() {
        let file = |name: &str, digest: u8| (PathBuf::from(name), [digest; 32]);
        let before = [file("/etc/hb.toml", 1), file("/run/secrets/token", 2)];
        let secret_changed = [file("/etc/hb.toml", 1), file("/run/secrets/token", 3)];
        assert_eq!(
            changed_files(&before, &secret_changed),
            "/run/secrets/token"
        );
        let config_changed = [file("/etc/hb.toml", 4), file("/run/secrets/token", 2)];
        assert_eq!(changed_files(&before, &config_changed), "/etc/hb.toml");
        assert_eq!(
            changed_files(&before, &before),
            "/etc/hb.toml, /run/secrets/token",
            "unknown which: every file"
        );
    }
}
