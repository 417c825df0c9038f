//! Apache Kafka (KRaft, from Maven Central's jars) for the tests whose behaviour
//! depends on the broker: one node or a cluster, optionally with SASL/SCRAM-SHA-512
//! and TLS, whose nodes can be paused, killed and restarted on their own data.
//!
//! `scripts/kafka.sh` does the installing, the configuration and the formatting (one
//! place for both the tests and people); this module starts each node under a guard
//! shell that kills it when the test process ends, however it ends. A JVM start costs
//! seconds, so tests that need no broker of their own share [`Kafka::shared`] and keep
//! to topics of their own ([`Kafka::lease`]). If Kafka cannot be installed or started,
//! the test fails: nothing is skipped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::{Cluster, is_alive, signal};

/// How a cluster is secured.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Nodes, each broker and controller (replication factor min(nodes, 3)).
    pub nodes: usize,
    /// A SASL/SCRAM-SHA-512 listener for user [`SCRAM_USER`] with this password.
    pub scram_password: Option<String>,
    /// TLS on that listener, with valid or expired node certificates.
    pub tls: Tls,
    /// Topics must be created before use (`auto.create.topics.enable=false`).
    pub no_auto_create: bool,
}

/// TLS on the secure listener.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tls {
    #[default]
    Off,
    /// Node certificates signed by the cluster's CA, valid now.
    Valid,
    /// The same, expired yesterday.
    Expired,
}

/// The SCRAM user [`Options::scram_password`] creates.
pub const SCRAM_USER: &str = "hookbridge";

/// How long a node may take to start (a cluster's nodes wait for their quorum).
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// How many times a cluster is made again when another process took one of its ports
/// between `kafka.sh init` choosing it and the node binding it.
const PORT_ATTEMPTS: usize = 3;

/// A running Apache Kafka cluster; its nodes are killed and its data removed on drop.
pub struct Kafka {
    dir: PathBuf,
    /// `kafka.sh init`'s KEY=value lines.
    env: HashMap<String, String>,
    nodes: Vec<Node>,
    /// Whether node 1's guard removes the folder when it stops (see
    /// [`Kafka::for_process`]).
    remove_on_exit: bool,
    /// The cluster's folder, removed on drop (`None` from [`Kafka::for_process`]).
    _temp: Option<tempfile::TempDir>,
}

/// One node: the guard shell that runs it and the JVM's pid.
struct Node {
    guard: Option<Child>,
    pid: Option<u32>,
}

/// Why one attempt did not give a cluster.
enum Attempt {
    PortTaken,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/kafka.sh")
}

impl Kafka {
    /// A cluster as `options` say, removed on drop; fails the test if it cannot start.
    pub fn start(options: Options) -> Kafka {
        let temp = tempfile::tempdir().expect("a folder for Kafka");
        let mut kafka = Kafka::start_in(temp.path().join("cluster"), &options, false);
        kafka._temp = Some(temp);
        kafka
    }

    /// A cluster that lasts as long as the test process (for a `static`, which is never
    /// dropped): its nodes' guards stop it and remove its folder when the process ends.
    pub fn for_process(options: Options) -> Kafka {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hookbridge-it-kafka-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        Kafka::start_in(dir, &options, true)
    }

    /// One plaintext node, started once per test process and shared by the tests that
    /// need no broker of their own: each takes a [`Lease`] on topics of its own.
    pub fn shared() -> &'static Kafka {
        static SHARED: OnceLock<Kafka> = OnceLock::new();
        SHARED.get_or_init(|| {
            Kafka::for_process(Options {
                nodes: 1,
                ..Options::default()
            })
        })
    }

    /// Topics of their own on the shared cluster, for one test.
    pub fn lease() -> Lease {
        Kafka::shared().leased()
    }

    /// Topics no other test of this process uses, on this cluster.
    pub fn leased(&'static self) -> Lease {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        Lease {
            kafka: self,
            prefix: format!("it{}", NEXT.fetch_add(1, Ordering::SeqCst)),
        }
    }

    /// Makes and starts the cluster in `dir`, in a fresh folder again when one of its
    /// ports was taken.
    fn start_in(dir: PathBuf, options: &Options, remove_on_exit: bool) -> Kafka {
        for attempt in 1..=PORT_ATTEMPTS {
            let _ = std::fs::remove_dir_all(&dir);
            match Kafka::try_start_in(dir.clone(), options, remove_on_exit) {
                Ok(kafka) => return kafka,
                Err(Attempt::PortTaken) => eprintln!("Kafka: a port was taken (attempt {attempt})"),
            }
        }
        panic!("Kafka found one of its ports taken {PORT_ATTEMPTS} times in a row");
    }

    fn try_start_in(
        dir: PathBuf,
        options: &Options,
        remove_on_exit: bool,
    ) -> Result<Kafka, Attempt> {
        let mut init = Command::new("bash");
        init.arg(script())
            .arg("init")
            .arg(&dir)
            .args(["--nodes", &options.nodes.max(1).to_string()])
            .stderr(Stdio::inherit());
        if let Some(password) = &options.scram_password {
            // Never on the command line: visible in `ps`.
            init.args(["--scram", SCRAM_USER])
                .env("KAFKA_SCRAM_PASSWORD", password);
        }
        if options.no_auto_create {
            init.arg("--no-auto-create");
        }
        match options.tls {
            Tls::Off => {}
            Tls::Valid => {
                init.arg("--tls");
            }
            Tls::Expired => {
                init.arg("--tls-expired");
            }
        }
        let output = init.output().expect("cannot run scripts/kafka.sh");
        assert!(
            output.status.success(),
            "scripts/kafka.sh init failed ({}); its stderr is above",
            output.status
        );
        let env = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>();
        let count: usize = env["NODES"].parse().expect("NODES");
        let mut kafka = Kafka {
            dir,
            env,
            nodes: (0..count)
                .map(|_| Node {
                    guard: None,
                    pid: None,
                })
                .collect(),
            remove_on_exit,
            _temp: None,
        };
        for k in 1..=count {
            kafka.spawn(k);
        }
        for k in 1..=count {
            kafka.wait_started(k)?;
        }
        Ok(kafka)
    }

    fn log(&self, k: usize) -> PathBuf {
        self.dir.join(format!("node-{k}/server.log"))
    }

    /// Starts node `k` under a shell that kills it when its stdin closes (on drop, and
    /// when the test process dies).
    fn spawn(&mut self, k: usize) {
        let log = self.log(k);
        // A restart appends: "started" must come from this run.
        let _ = std::fs::remove_file(&log);
        // Standard input closes when the test drops the node or the process ends; "keep"
        // written first means the node alone stopped (a kill or stop to be restarted).
        let guard_script = r#""$0" exec "$1" "$2" >"$3" 2>&1 &
child=$!
echo "$child"
said=$(cat)
kill -CONT "$child" 2>/dev/null
kill -KILL "$child" 2>/dev/null
wait "$child" 2>/dev/null
if [ -n "$4" ] && [ "$said" != keep ]; then rm -rf "$1"; fi"#;
        let remove = if self.remove_on_exit && k == 1 {
            "1"
        } else {
            ""
        };
        let mut guard = Command::new("sh")
            .args(["-c", guard_script])
            .arg(script())
            .arg(&self.dir)
            .arg(k.to_string())
            .arg(&log)
            .arg(remove)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot start a Kafka node");
        let mut line = String::new();
        BufReader::new(guard.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the node's pid");
        let pid = line.trim().parse().expect("a pid");
        self.nodes[k - 1] = Node {
            guard: Some(guard),
            pid: Some(pid),
        };
    }

    fn wait_started(&self, k: usize) -> Result<(), Attempt> {
        let pid = self.pid(k);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let alive = is_alive(pid);
            let log = std::fs::read_to_string(self.log(k)).unwrap_or_default();
            if log.contains("Kafka Server started") {
                return Ok(());
            }
            if log.contains("Address already in use") {
                return Err(Attempt::PortTaken);
            }
            assert!(
                alive,
                "Kafka node {k} exited while starting; its log:\n{log}"
            );
            assert!(
                Instant::now() < deadline,
                "Kafka node {k} did not start within {START_TIMEOUT:?}; its log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pid(&self, k: usize) -> u32 {
        self.nodes[k - 1]
            .pid
            .unwrap_or_else(|| panic!("Kafka node {k} is not running"))
    }

    /// The PLAINTEXT port of node `k` (1-based).
    pub fn node_port(&self, k: usize) -> u16 {
        self.env[&format!("NODE_{k}")].parse().expect("NODE_k")
    }

    /// `host:port,…` of the SASL/TLS listeners.
    pub fn secure_bootstrap(&self) -> String {
        self.env["SECURE"].clone()
    }

    /// The CA that signed the nodes' certificates, and an unrelated one.
    pub fn ca(&self) -> (PathBuf, PathBuf) {
        (
            PathBuf::from(&self.env["CA"]),
            PathBuf::from(&self.env["OTHER_CA"]),
        )
    }

    /// `security.protocol` of the secure listener.
    pub fn secure_protocol(&self) -> &str {
        &self.env["PROTOCOL"]
    }

    /// Kills node `k` with SIGKILL and waits until it is gone.
    pub fn kill(&mut self, k: usize) {
        let pid = self.pid(k);
        signal(pid, "-KILL");
        self.reap(k, pid);
    }

    /// Stops node `k` cleanly (SIGTERM: it hands its leaderships over) and waits.
    pub fn stop(&mut self, k: usize) {
        let pid = self.pid(k);
        signal(pid, "-TERM");
        self.reap(k, pid);
    }

    fn reap(&mut self, k: usize, pid: u32) {
        let deadline = Instant::now() + START_TIMEOUT;
        while is_alive(pid) {
            assert!(Instant::now() < deadline, "Kafka node {k} did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        let node = &mut self.nodes[k - 1];
        if let Some(mut guard) = node.guard.take() {
            if let Some(mut stdin) = guard.stdin.take() {
                let _ = std::io::Write::write_all(&mut stdin, b"keep");
            }
            let _ = guard.wait();
        }
        node.pid = None;
    }

    /// Starts node `k` again on its own data and waits until it has started.
    pub fn restart(&mut self, k: usize) {
        assert!(self.nodes[k - 1].pid.is_none(), "node {k} is running");
        self.spawn(k);
        if self.wait_started(k).is_err() {
            panic!("node {k}'s port was taken while it was down");
        }
    }

    /// Freezes node `k` (SIGSTOP): connections stay open, nothing is answered.
    pub fn pause(&self, k: usize) {
        signal(self.pid(k), "-STOP");
    }

    /// Thaws node `k` (SIGCONT).
    pub fn resume(&self, k: usize) {
        signal(self.pid(k), "-CONT");
    }

    /// The node leading `partition` of `topic`, as the cluster's metadata says now.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<usize> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("a metadata client");
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()?;
        let topic = metadata.topics().iter().find(|t| t.name() == topic)?;
        let leader = topic
            .partitions()
            .iter()
            .find(|p| p.id() == partition)?
            .leader();
        usize::try_from(leader).ok().filter(|l| *l >= 1)
    }

    /// Creates `topics` (3 partitions, replicated on up to three nodes) with topic
    /// `configs` such as `("max.message.bytes", "65536")`, as an operator would.
    pub async fn create_topics(&self, topics: &[String], configs: &[(&str, &str)]) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("an admin client");
        let replication = i32::try_from(self.nodes.len().min(3)).expect("few nodes");
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|t| {
                configs.iter().fold(
                    NewTopic::new(t, 3, TopicReplication::Fixed(replication)),
                    |topic, (k, v)| topic.set(k, v),
                )
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for result in admin
            .create_topics(&new, &options)
            .await
            .expect("CreateTopics")
        {
            result.unwrap_or_else(|(topic, e)| panic!("cannot create {topic}: {e}"));
        }
    }

    /// Waits (up to `within`) until the cluster acknowledges a record with `acks=all` on
    /// a topic of the test support's own: the moment a restarted node serves again,
    /// however long its JVM took, so that what a test times after it is hookbridge's part.
    pub async fn wait_serving(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            // A fresh producer each try: one whose record timed out starts over anyway.
            let producer: FutureProducer = ClientConfig::new()
                .set("bootstrap.servers", self.bootstrap())
                .set("acks", "all")
                .set("message.timeout.ms", "2000")
                .create()
                .expect("a probe producer");
            let record = FutureRecord::<(), str>::to("hookbridge-test.serving").payload("probe");
            if producer.send(record, Duration::ZERO).await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster acknowledged no record within {within:?}"
            );
        }
    }

    /// Waits (up to `within`) until every partition of `topic` has all its replicas in
    /// sync: what a rolling restart waits for before the next node.
    pub fn wait_in_sync(&self, topic: &str, within: Duration) {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("a metadata client");
        let deadline = Instant::now() + within;
        loop {
            let synced = consumer
                .fetch_metadata(Some(topic), Duration::from_secs(5))
                .ok()
                .and_then(|m| {
                    let t = m.topics().iter().find(|t| t.name() == topic)?;
                    Some(
                        !t.partitions().is_empty()
                            && t.partitions()
                                .iter()
                                .all(|p| p.leader() >= 0 && p.isr().len() == p.replicas().len()),
                    )
                })
                .unwrap_or(false);
            if synced {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{topic} not in sync within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Cluster for Kafka {
    fn bootstrap(&self) -> String {
        self.env["BOOTSTRAP"].clone()
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut guard) = node.guard.take() {
                // Closing stdin makes the guard shell kill the node.
                drop(guard.stdin.take());
                let _ = guard.wait();
            }
        }
    }
}

/// Topics of one test's own on the shared cluster: hookbridge's templates get a prefix
/// no other test uses.
pub struct Lease {
    kafka: &'static Kafka,
    prefix: String,
}

impl Lease {
    /// The cluster the topics are on.
    pub fn kafka(&self) -> &'static Kafka {
        self.kafka
    }
}

impl Cluster for Lease {
    fn bootstrap(&self) -> String {
        self.kafka.bootstrap()
    }

    fn prefix(&self) -> &str {
        &self.prefix
    }
}
