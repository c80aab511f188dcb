//! `rediss+sentinel://`: a master, its replica and three sentinels that
//! speak TLS only (replication and the sentinels' own links too), under a
//! private CA. A host with `queue.tls_ca_file` runs jobs, the master is
//! killed, and once the sentinels name its replica the host runs jobs
//! there, reached over TLS through the sentinels again.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use super::common::api::Api;
use super::common::cluster::wait_for;
use super::common::host::Host;
use super::common::{plugin_dir, redis::free_port, tls::make_certificates};

/// A node's process, stopped when dropped.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `redis-cli` over TLS with the test CA.
fn cli(certs: &Path, port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(certs.join("ca.crt"))
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli on PATH");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A TLS-only `redis-server` on `port` with `extra` arguments.
fn start(certs: &Path, dir: &Path, port: u16, extra: &[String]) -> Node {
    let child = Command::new("redis-server")
        .args(extra)
        .args(["--port", "0", "--tls-port", &port.to_string()])
        .arg("--tls-cert-file")
        .arg(certs.join("server.crt"))
        .arg("--tls-key-file")
        .arg(certs.join("server.key"))
        .arg("--tls-ca-cert-file")
        .arg(certs.join("ca.crt"))
        .args(["--tls-auth-clients", "no", "--tls-replication", "yes"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server on PATH");
    wait_for(Duration::from_secs(10), || {
        cli(certs, port, &["PING"]).starts_with("PONG")
    });
    Node(child)
}

async fn run(api: &Api, stem: &str) {
    let ids: Vec<String> = (0..10).map(|i| format!("{stem}{i}")).collect();
    for id in &ids {
        let (status, body) = api
            .post(
                "/v1/jobs",
                json!({"job_type": "echo", "payload": {"id": id}, "id": id}),
            )
            .await;
        assert_eq!(status, 201, "{stem}: {body}");
    }
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let done = api.wait(&id_refs).await;
    assert!(done.iter().all(|j| j["status"] == "completed"), "{done:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_sentinel_group_serves_the_queue_through_a_failover() {
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let dir = tempfile::tempdir().unwrap();
    let sub = |name: String| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let (m, r) = (free_port(), free_port());
    let mut master = Some(start(certs.path(), &sub(m.to_string()), m, &[]));
    let replica_of = ["--replicaof".into(), "127.0.0.1".into(), m.to_string()];
    let _replica = start(certs.path(), &sub(r.to_string()), r, &replica_of);
    let mut sentinels = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..3 {
        let port = free_port();
        let node_dir = sub(port.to_string());
        let conf = node_dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "sentinel monitor main 127.0.0.1 {m} 2\n\
                 sentinel down-after-milliseconds main 1000\n\
                 sentinel failover-timeout main 5000\n"
            ),
        )
        .unwrap();
        let args = [conf.display().to_string(), "--sentinel".into()];
        sentinels.push(start(certs.path(), &node_dir, port, &args));
        ports.push(port);
    }
    wait_for(Duration::from_secs(30), || {
        ports.iter().all(|p| {
            cli(certs.path(), *p, &["SENTINEL", "replicas", "main"]).contains(&r.to_string())
        })
    });

    let ca = certs.path().join("ca.crt").display().to_string();
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let plugins = plugin_dir(&["echo"]);
    let host = Host::start_with_env(
        "tls-sentinel",
        &format!("rediss+sentinel://{}/main", addrs.join(",")),
        plugins.path(),
        &[],
        &[("DECKHAND_QUEUE_TLS_CA_FILE", ca.as_str())],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    run(&api, "before").await;
    // The replica has everything before the master dies (replication is
    // asynchronous; this test is about reaching the new master, not loss).
    let size = cli(certs.path(), m, &["DBSIZE"]);
    assert!(size.trim() != "0");
    wait_for(Duration::from_secs(30), || {
        cli(certs.path(), r, &["INFO", "replication"]).contains("master_link_status:up")
            && cli(certs.path(), r, &["DBSIZE"]) == size
    });

    master.take();
    wait_for(Duration::from_secs(60), || {
        cli(
            certs.path(),
            ports[0],
            &["SENTINEL", "get-master-addr-by-name", "main"],
        )
        .contains(&r.to_string())
            && cli(certs.path(), r, &["ROLE"]).starts_with("master")
    });
    run(&api, "after").await;
    let keys: u64 = cli(certs.path(), r, &["DBSIZE"])
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(keys > 0, "the promoted replica holds the queue");
}
