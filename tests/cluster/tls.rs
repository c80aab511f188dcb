//! `rediss+cluster://`: a 3-master cluster whose nodes speak TLS only (the
//! cluster bus too), under a private CA. A host with `queue.tls_ca_file`
//! and 3 partitions runs jobs in every partition, its direct connections
//! to each slot's master over TLS as well.

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
fn cli(certs: &Path, args: &[&str]) -> std::process::Output {
    Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(certs.join("ca.crt"))
        .args(args)
        .output()
        .expect("redis-cli on PATH")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_runs_jobs_in_every_partition() {
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    // Declared before the nodes, so dropped after them.
    let mut dirs = Vec::new();
    let mut nodes = Vec::new();
    for port in &ports {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(certs.path().join("server.crt"))
            .arg("--tls-key-file")
            .arg(certs.path().join("server.key"))
            .arg("--tls-ca-cert-file")
            .arg(certs.path().join("ca.crt"))
            .args(["--tls-auth-clients", "no", "--tls-cluster", "yes"])
            .args([
                "--cluster-enabled",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        nodes.push(Node(child));
        dirs.push(dir);
        let port = port.to_string();
        wait_for(Duration::from_secs(10), || {
            cli(certs.path(), &["-p", &port, "PING"])
                .stdout
                .starts_with(b"PONG")
        });
    }
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut create = vec!["--cluster", "create"];
    create.extend(addrs.iter().map(String::as_str));
    create.push("--cluster-yes");
    let out = cli(certs.path(), &create);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    wait_for(Duration::from_secs(20), || {
        ports.iter().all(|p| {
            let info = cli(certs.path(), &["-p", &p.to_string(), "CLUSTER", "INFO"]);
            String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok")
        })
    });

    let ca = certs.path().join("ca.crt").display().to_string();
    let dir = plugin_dir(&["echo"]);
    let host = Host::start_with_env(
        "tls-cluster",
        &format!("rediss+cluster://{}", addrs.join(",")),
        dir.path(),
        &[],
        &[
            ("DECKHAND_QUEUE_TLS_CA_FILE", ca.as_str()),
            ("DECKHAND_QUEUE_PARTITIONS", "3"),
        ],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let ids: Vec<String> = (0..30).map(|i| format!("t{i}")).collect();
    for id in &ids {
        let (status, body) = api
            .post(
                "/v1/jobs",
                json!({"job_type": "echo", "payload": {"id": id}, "id": id}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let done = api.wait(&id_refs).await;
    assert!(done.iter().all(|j| j["status"] == "completed"), "{done:?}");
    // Every master holds part of the queue.
    for port in &ports {
        let size = cli(certs.path(), &["-p", &port.to_string(), "DBSIZE"]);
        let keys: u64 = String::from_utf8_lossy(&size.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        assert!(keys > 0, "master on {port} holds no key");
    }
}
