//! The shutdown signal: SIGTERM (Kubernetes) or SIGINT (a terminal).

use std::future::Future;

use tokio::signal::unix::{Signal, SignalKind, signal as listen};

/// Installs the SIGTERM and SIGINT handlers now, and returns a future that resolves
/// on the first of them. Installing before the future is polled means a signal sent
/// as soon as hookbridge announces its listeners is never lost (nor fatal). A handler
/// that cannot be installed is logged, and that signal is then simply not awaited.
/// Must be called inside a Tokio runtime.
pub fn signal() -> impl Future<Output = ()> {
    let term = install(SignalKind::terminate(), "SIGTERM");
    let int = install(SignalKind::interrupt(), "SIGINT");
    async move {
        tokio::select! {
            () = wait(term, "SIGTERM") => {}
            () = wait(int, "SIGINT") => {}
        }
    }
}

/// The stream of one signal, installed now; `None` (logged) when it cannot be.
pub(crate) fn install(kind: SignalKind, name: &'static str) -> Option<Signal> {
    listen(kind)
        .inspect_err(|e| tracing::error!(signal = name, error = %e, "cannot listen for signal"))
        .ok()
}

async fn wait(stream: Option<Signal>, name: &'static str) {
    match stream {
        Some(mut s) => {
            s.recv().await;
            tracing::info!(signal = name, "shutdown requested");
        }
        None => std::future::pending::<()>().await,
    }
}
