//! A Redis Cluster on loopback ports for `bench --scale`: `masters`
//! cluster-enabled `redis-server`s without replicas or persistence, made
//! one cluster by `redis-cli --cluster create`, stopped on drop.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A Redis Cluster of `masters` loopback masters without replicas.
pub struct Cluster {
    nodes: Vec<(u16, Child)>,
    _dir: tempfile_dir::Dir,
}

impl Cluster {
    pub fn start(masters: usize) -> Result<Cluster, String> {
        let dir = tempfile_dir::Dir::new()?;
        let mut nodes = Vec::new();
        for _ in 0..masters {
            let port = free_pair()?;
            let node_dir = dir.path().join(port.to_string());
            std::fs::create_dir_all(&node_dir).map_err(|e| format!("node dir: {e}"))?;
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--cluster-enabled",
                    "yes",
                ])
                .args(["--cluster-config-file", "nodes.conf"])
                .arg("--dir")
                .arg(&node_dir)
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start redis-server: {e}"))?;
            nodes.push((port, child));
        }
        let cluster = Cluster { nodes, _dir: dir };
        for (port, _) in &cluster.nodes {
            wait_port(*port)?;
        }
        let addrs: Vec<String> = cluster
            .nodes
            .iter()
            .map(|(p, _)| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .map_err(|e| format!("cannot run redis-cli: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        for _ in 0..400 {
            let ok = cluster.nodes.iter().all(|(p, _)| {
                Command::new("redis-cli")
                    .args(["-p", &p.to_string(), "CLUSTER", "INFO"])
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
            });
            if ok {
                return Ok(cluster);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("the cluster did not come up".into())
    }

    /// Every node as `<scheme>127.0.0.1:<port>`, separated by commas.
    fn nodes(&self, scheme: &str) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|(p, _)| format!("{scheme}127.0.0.1:{p}"))
            .collect();
        nodes.join(",")
    }

    pub fn url(&self) -> String {
        format!("redis+cluster://{}", self.nodes(""))
    }

    pub fn stats_urls(&self) -> String {
        self.nodes("redis://")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port whose cluster bus port (+10000) is free too, both below the
/// kernel's range for outgoing connections, so no client (the bench's own
/// among them) can take one between this check and the server's bind.
fn free_pair() -> Result<u16, String> {
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768)
        .clamp(22_000, 55_000);
    let span = u32::from(ephemeral - 20_000);
    let start = u32::from(offset());
    for i in 0..5_000u32 {
        let port = 10_000 + ((start + i * 7) % span) as u16;
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return Ok(port);
        }
    }
    Err(format!(
        "no free port pair below {ephemeral}, the start of the outgoing range"
    ))
}

/// A changing number below 20,000 (xtask has no random crate).
fn offset() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos % 20_000) as u16
}

fn wait_port(port: u16) -> Result<(), String> {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Err(format!("redis-server on {port} did not start"))
}

/// A scratch directory removed on drop (xtask has no tempfile crate).
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Result<Dir, String> {
            let path = std::env::temp_dir().join(format!(
                "deckhand-scale-{}-{}",
                std::process::id(),
                super::offset()
            ));
            std::fs::create_dir_all(&path).map_err(|e| format!("temp dir: {e}"))?;
            Ok(Dir(path))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
