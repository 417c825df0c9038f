//! The `hookbridge serve` binary as a child process, for what only the binary does:
//! signals, exit codes, log output.
//!
//! The config binds port 0 (see [`super::EPHEMERAL_PORTS`]) and the addresses are read
//! from the `hookbridge listening` log line, so there is no window in which another
//! process could take a port chosen in advance.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// How long start-up, a signal handler's installation and a clean stop may take.
const PATIENCE: Duration = Duration::from_secs(15);

/// A running `hookbridge serve`, killed on drop if still running.
pub struct Process {
    child: Child,
    webhook: SocketAddr,
    admin: SocketAddr,
    /// Its stderr (JSON log lines), complete once it has exited.
    logs: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// The signals hookbridge handles. (A test that fails leaves SIGKILL to `Drop`.)
#[derive(Clone, Copy, Debug)]
pub enum Signal {
    Hup,
    Term,
}

impl Signal {
    fn number(self) -> u32 {
        match self {
            Signal::Hup => 1,
            Signal::Term => 15,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Signal::Hup => "HUP",
            Signal::Term => "TERM",
        }
    }
}

impl Process {
    /// Starts `hookbridge --log-format json serve --config <config>` at log level
    /// `info` and waits until it listens.
    pub async fn serve(config: &Path) -> Process {
        Process::serve_with(config, "info", &[]).await
    }

    /// Same with `RUST_LOG=<log_filter>` (it must keep `info` for the `hookbridge`
    /// target: the listening line is read from the logs) and extra environment.
    pub async fn serve_with(config: &Path, log_filter: &str, env: &[(&str, &str)]) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookbridge"))
            .args(["--log-format", "json", "serve", "--config"])
            .arg(config)
            .env("RUST_LOG", log_filter)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start the hookbridge binary");
        let stderr = child.stderr.take().expect("piped stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (listening, addresses) = oneshot::channel();
        let reader = {
            let logs = logs.clone();
            std::thread::spawn(move || read_logs(stderr, &logs, listening))
        };
        let mut process = Process {
            child,
            webhook: ([0, 0, 0, 0], 0).into(),
            admin: ([0, 0, 0, 0], 0).into(),
            logs,
            reader: Some(reader),
        };
        match tokio::time::timeout(PATIENCE, addresses).await {
            Ok(Ok((webhook, admin))) => {
                (process.webhook, process.admin) = (webhook, admin);
                process
            }
            Ok(Err(_)) => {
                // stderr closed before the line: hookbridge exited.
                let status = process.wait_exit(PATIENCE).await;
                panic!(
                    "hookbridge exited ({status}) before listening; its stderr:\n{}",
                    process.logs().join("\n")
                );
            }
            Err(_) => panic!(
                "hookbridge did not log `hookbridge listening` within {PATIENCE:?}; its stderr:\n{}",
                process.logs().join("\n")
            ),
        }
    }

    /// The stderr lines so far (all of them once [`Process::wait_exit`] returned).
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lines").clone()
    }

    /// Sends `signal`, once hookbridge's handler for it is installed: the handlers may
    /// be set up after the listening line is logged, and until then the default action
    /// (exit) would apply. The test fails if the handler never shows up.
    pub async fn signal(&self, signal: Signal) {
        self.wait_for_handler(signal).await;
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-s", signal.name(), &pid])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -s {} {pid} failed", signal.name());
    }

    async fn wait_for_handler(&self, signal: Signal) {
        let status = format!("/proc/{}/status", self.child.id());
        let bit = 1u64 << (signal.number() - 1);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = std::fs::read_to_string(&status)
                .unwrap_or_else(|e| panic!("{status}: {e} (did hookbridge exit?)"));
            let caught = text
                .lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
                .unwrap_or_else(|| panic!("no SigCgt line in {status}:\n{text}"));
            if caught & bit != 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "hookbridge installed no SIG{} handler within {PATIENCE:?}",
                signal.name()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("hookbridge status").is_none()
    }

    /// Waits for the process to exit (failing the test after `within`), then for the
    /// rest of its stderr.
    pub async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("hookbridge status") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "hookbridge did not exit within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if let Some(reader) = self.reader.take() {
            tokio::task::spawn_blocking(move || reader.join())
                .await
                .expect("log reader task")
                .expect("log reader thread");
        }
        status
    }

    /// Kills hookbridge at once (`kill -9`: no handler, no flush, no drain) and waits
    /// for the rest of its stderr.
    pub async fn kill(&mut self) {
        self.child.kill().expect("kill -9 hookbridge");
        self.wait_exit(PATIENCE).await;
    }

    /// Stops hookbridge with SIGTERM and asserts that it exits 0 in time.
    pub async fn terminate(&mut self) {
        self.signal(Signal::Term).await;
        let status = self.wait_exit(PATIENCE).await;
        assert_eq!(status.code(), Some(0), "hookbridge did not stop cleanly");
    }
}

impl super::Endpoints for Process {
    fn webhook(&self) -> SocketAddr {
        self.webhook
    }

    fn admin(&self) -> SocketAddr {
        self.admin
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.child.try_wait().is_ok_and(|s| s.is_none()) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Collects stderr lines into `logs`, sending the addresses of the first
/// `hookbridge listening` line to `listening`.
fn read_logs(
    stderr: std::process::ChildStderr,
    logs: &Mutex<Vec<String>>,
    listening: oneshot::Sender<(SocketAddr, SocketAddr)>,
) {
    let mut listening = Some(listening);
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if let Some(addresses) = listening_addresses(&line)
            && let Some(tx) = listening.take()
        {
            let _ = tx.send(addresses);
        }
        logs.lock().expect("log lines").push(line);
    }
}

/// The `listen` and `admin` fields of a JSON `hookbridge listening` line.
fn listening_addresses(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let event: serde_json::Value = serde_json::from_str(line).ok()?;
    if event["message"] != "hookbridge listening" {
        return None;
    }
    let address = |field: &str| event[field].as_str()?.parse().ok();
    Some((address("listen")?, address("admin")?))
}
