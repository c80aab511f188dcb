//! A real Redis Cluster (masters with a replica each) and a real Sentinel
//! group, on loopback ports picked for the test, that a test can SIGKILL a
//! node of and bring back.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A port whose cluster bus port (port + 10000) is free too, both below the
/// kernel's range for outgoing connections, and neither handed out before
/// in this process.
pub fn free_pair() -> u16 {
    // Both ports below the range the kernel hands out to outgoing
    // connections (the tests' own clients among them), so no client can
    // take one between this check and the server's bind.
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768)
        .clamp(22_000, 55_000);
    // Tests run side by side in one process: two that each found a port
    // free before either server bound it would both start a node there,
    // and the second one's node would be the first one's.
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = 10_000 + fastrand::u16(..ephemeral - 20_000);
        let bus = port + 10_000;
        if [port, bus].iter().any(|p| handed_out.contains(p)) {
            continue;
        }
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(bus) {
            handed_out.extend([port, bus]);
            return port;
        }
    }
}

/// One `redis-server` process.
pub struct Node {
    pub port: u16,
    dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl Node {
    fn spawn(&mut self) {
        std::fs::create_dir_all(&self.dir).expect("node dir");
        let child = Command::new("redis-server")
            .args(&self.args)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        // The server on the port must be this one: one that found the port
        // taken has exited, and another's node answers in its place.
        let ours = format!("process_id:{}", child.id());
        self.child = Some(child);
        wait_or_explain(
            Duration::from_secs(10),
            || {
                self.query("INFO server")
                    .is_some_and(|info| info.contains(&ours))
            },
            || self.report(20),
        );
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The last `lines` lines of the node's log, and its replication state:
    /// what a failed wait prints.
    pub fn report(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        let tail = all[all.len().saturating_sub(lines)..].join("\n");
        format!(
            "node {} replication: {}\n{tail}",
            self.port,
            self.query("INFO replication")
                .unwrap_or_else(|| "(no answer)".into())
                .replace("\r\n", " ")
        )
    }

    /// Sends a signal by name (`STOP`, `CONT`) to the process.
    pub fn signal(&self, name: &str) {
        if let Some(child) = &self.child {
            super::signal(child, name);
        }
    }

    /// A command's reply as text, `None` if the node does not answer.
    pub fn query(&self, command: &str) -> Option<String> {
        let client = redis::Client::open(self.url()).ok()?;
        let mut conn = client
            .get_connection_with_timeout(Duration::from_millis(500))
            .ok()?;
        let mut cmd = redis::cmd(command.split(' ').next()?);
        for arg in command.split(' ').skip(1) {
            cmd.arg(arg);
        }
        Some(render(&cmd.query::<redis::Value>(&mut conn).ok()?, true))
    }
}

/// A reply as text: strings as they are at the top, quoted inside arrays.
fn render(value: &redis::Value, top: bool) -> String {
    let text = |s: String| if top { s } else { format!("{s:?}") };
    match value {
        redis::Value::BulkString(b) => text(String::from_utf8_lossy(b).into_owned()),
        redis::Value::SimpleString(s) => text(s.clone()),
        redis::Value::VerbatimString { text: t, .. } => text(t.clone()),
        redis::Value::Int(n) => n.to_string(),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            let inner: Vec<String> = items.iter().map(|v| render(v, false)).collect();
            format!("[{}]", inner.join(" "))
        }
        redis::Value::Map(pairs) => {
            let inner: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{} {}", render(k, false), render(v, false)))
                .collect();
            format!("{{{}}}", inner.join(" "))
        }
        redis::Value::Nil => "nil".into(),
        other => format!("{other:?}"),
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Each node's `127.0.0.1:<port>`.
fn addresses(nodes: &[Node]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect()
}

pub fn wait_for(limit: Duration, ready: impl FnMut() -> bool) {
    wait_or_explain(limit, ready, String::new);
}

/// [`wait_for`], and on timeout, `explain()` in the panic message.
pub fn wait_or_explain(
    limit: Duration,
    mut ready: impl FnMut() -> bool,
    explain: impl FnOnce() -> String,
) {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() >= limit {
            panic!("not ready within {limit:?}\n{}", explain());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `masters` masters with one replica each, created by `redis-cli --cluster
/// create`; node timeout 1 s, so a dead master's replica takes over within
/// a few seconds.
pub struct TestCluster {
    pub nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl TestCluster {
    pub fn start(masters: usize) -> TestCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut nodes = Vec::new();
        for _ in 0..masters * 2 {
            let port = free_pair();
            let mut node = Node {
                port,
                dir: dir.path().join(port.to_string()),
                args: [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "1000",
                ]
                .map(String::from)
                .to_vec(),
                child: None,
            };
            node.spawn();
            nodes.push(node);
        }
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(addresses(&nodes))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli on PATH");
        assert!(
            out.status.success(),
            "cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = TestCluster { nodes, _dir: dir };
        cluster.wait_healthy();
        cluster
    }

    /// `redis+cluster://` with every node as a seed.
    pub fn url(&self) -> String {
        format!("redis+cluster://{}", addresses(&self.nodes).join(","))
    }

    /// Every slot served and every live master with a replica in sync; on
    /// timeout, what each node says of the cluster and its replication.
    pub fn wait_healthy(&self) {
        wait_or_explain(
            Duration::from_secs(60),
            || {
                self.live().all(|n| {
                    n.query("CLUSTER INFO")
                        .is_some_and(|i| i.contains("cluster_state:ok"))
                }) && self.masters().iter().all(|&m| {
                    self.nodes[m].query("INFO replication").is_some_and(|i| {
                        i.contains("connected_slaves:1") && i.contains("state=online")
                    })
                })
            },
            || {
                let nodes = self.live().map(|n| {
                    let state = n
                        .query("CLUSTER INFO")
                        .and_then(|i| {
                            i.lines()
                                .find(|l| l.starts_with("cluster_state"))
                                .map(str::to_string)
                        })
                        .unwrap_or_else(|| "(no CLUSTER INFO)".into());
                    format!("{state}\n{}", n.report(15))
                });
                let seen = self
                    .live()
                    .next()
                    .and_then(|n| n.query("CLUSTER NODES"))
                    .unwrap_or_default();
                format!(
                    "{}\n\nCLUSTER NODES:\n{seen}",
                    nodes.collect::<Vec<_>>().join("\n\n")
                )
            },
        );
    }

    /// The nodes not killed.
    fn live(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.child.is_some())
    }

    /// The indices of the nodes that are masters now.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| {
                self.nodes[i].child.is_some()
                    && self.nodes[i]
                        .query("ROLE")
                        .is_some_and(|r| r.contains("\"master\""))
            })
            .collect()
    }

    /// The node that serves `slot` now, as the live nodes see it.
    pub fn owner(&self, slot: u16) -> Option<usize> {
        let live = self.live().next()?;
        let text = live.query("CLUSTER NODES")?;
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            if fields.len() < 8 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let owns = fields[8..].iter().any(|range| {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if (a..=b).contains(&slot))
            });
            if owns {
                let port: u16 = fields[1].split([':', '@']).nth(1)?.parse().ok()?;
                return self.nodes.iter().position(|n| n.port == port);
            }
        }
        None
    }

    pub fn kill(&mut self, node: usize) {
        self.nodes[node].kill();
    }

    /// Starts a killed node again with its cluster config: it rejoins as a
    /// replica of whoever took its slots.
    pub fn restart(&mut self, node: usize) {
        self.nodes[node].spawn();
    }
}

/// A master and its replica, nothing watching them: the test fails over
/// by hand (`REPLICAOF NO ONE`).
pub struct TestPair {
    pub master: Node,
    pub replica: Node,
    _dir: tempfile::TempDir,
}

impl TestPair {
    pub fn start() -> TestPair {
        let dir = tempfile::tempdir().expect("temp dir");
        let node = |port: u16, args: Vec<String>| Node {
            port,
            dir: dir.path().join(port.to_string()),
            args,
            child: None,
        };
        let mut master = node(free_pair(), vec![]);
        master.spawn();
        let replica_args = vec![
            "--replicaof".into(),
            "127.0.0.1".into(),
            master.port.to_string(),
        ];
        let mut replica = node(free_pair(), replica_args);
        replica.spawn();
        wait_for(Duration::from_secs(30), || {
            master
                .query("INFO replication")
                .is_some_and(|i| i.contains("state=online"))
        });
        TestPair {
            master,
            replica,
            _dir: dir,
        }
    }
}

/// A master, one replica, and three sentinels (quorum 2) watching it as
/// `main`; the master is declared down after 1 s.
pub struct TestSentinel {
    pub data: Vec<Node>,
    pub sentinels: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl TestSentinel {
    pub fn start() -> TestSentinel {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut data: Vec<Node> = Vec::new();
        for i in 0..2 {
            let port = free_pair();
            let args = if i == 0 {
                vec![]
            } else {
                vec![
                    "--replicaof".into(),
                    "127.0.0.1".into(),
                    data[0].port.to_string(),
                ]
            };
            let mut node = Node {
                port,
                dir: dir.path().join(port.to_string()),
                args,
                child: None,
            };
            node.spawn();
            data.push(node);
        }
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            let port = free_pair();
            let node_dir = dir.path().join(port.to_string());
            std::fs::create_dir_all(&node_dir).expect("sentinel dir");
            let conf = node_dir.join("sentinel.conf");
            // Down after 3 s: with 1 s, a CI run on 2 busy cores once saw the
            // sentinels mark the just-promoted master down a second after the
            // switch and fail over again, onto the killed node restarted a
            // moment before as a replica that had not finished its sync.
            std::fs::write(
                &conf,
                format!(
                    "sentinel monitor main 127.0.0.1 {} 2\n\
                     sentinel down-after-milliseconds main 3000\n\
                     sentinel failover-timeout main 5000\n\
                     sentinel parallel-syncs main 1\n",
                    data[0].port
                ),
            )
            .expect("sentinel.conf");
            let mut node = Node {
                port,
                dir: node_dir,
                args: vec![conf.display().to_string(), "--sentinel".into()],
                child: None,
            };
            node.spawn();
            sentinels.push(node);
        }
        let group = TestSentinel {
            data,
            sentinels,
            _dir: dir,
        };
        wait_for(Duration::from_secs(30), || {
            group.data[0]
                .query("INFO replication")
                .is_some_and(|i| i.contains("state=online"))
                && group.sentinels.iter().all(|s| {
                    s.query("SENTINEL replicas main")
                        .is_some_and(|r| r.contains(&group.data[1].port.to_string()))
                })
        });
        group
    }

    pub fn url(&self) -> String {
        format!(
            "redis+sentinel://{}/main",
            addresses(&self.sentinels).join(",")
        )
    }

    /// Starts a killed data node again, as a replica of `master`.
    pub fn restart_as_replica(&mut self, node: usize, master: usize) {
        let port = self.data[master].port.to_string();
        self.data[node].args = vec!["--replicaof".into(), "127.0.0.1".into(), port];
        self.data[node].spawn();
    }

    /// The data node the sentinels name as master now.
    pub fn master(&self) -> Option<usize> {
        let reply = self.sentinels[0].query("SENTINEL get-master-addr-by-name main")?;
        self.data
            .iter()
            .position(|n| reply.contains(&format!("\"{}\"", n.port)))
    }
}
