//! The shutdown signal: SIGTERM (Kubernetes) or SIGINT (a terminal).

use tokio::signal::unix::{SignalKind, signal as listen};

/// Resolves on the first SIGTERM or SIGINT. A handler that cannot be installed is
/// logged, and that signal is then simply not awaited.
pub async fn signal() {
    tokio::select! {
        () = wait(SignalKind::terminate(), "SIGTERM") => {}
        () = wait(SignalKind::interrupt(), "SIGINT") => {}
    }
}

async fn wait(kind: SignalKind, name: &'static str) {
    match listen(kind) {
        Ok(mut s) => {
            s.recv().await;
            tracing::info!(signal = name, "shutdown requested");
        }
        Err(e) => {
            tracing::error!(signal = name, error = %e, "cannot listen for signal");
            std::future::pending::<()>().await;
        }
    }
}
