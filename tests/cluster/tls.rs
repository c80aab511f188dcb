//! `rediss+cluster://`: a 3-master cluster whose nodes speak TLS only (the
//! cluster bus too), under a private CA. A host with `queue.tls_ca_file`
//! and 3 partitions runs jobs in every partition, its direct connections
//! to each slot's master over TLS as well.

use std::time::Duration;

use super::common::api::Api;
use super::common::cluster::{free_pair, wait_for};
use super::common::host::Host;
use super::common::plugin_dir;
use super::common::tls::{cli, cli_output, make_certificates, start_tls_server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_runs_jobs_in_every_partition() {
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    // Each with its cluster bus port (port + 10000) free too.
    let ports: Vec<u16> = (0..3).map(|_| free_pair()).collect();
    // Declared before the nodes, so dropped after them.
    let mut dirs = Vec::new();
    let mut nodes = Vec::new();
    for port in &ports {
        let dir = tempfile::tempdir().unwrap();
        let cluster = ["--tls-cluster", "yes", "--cluster-enabled", "yes"];
        nodes.push(start_tls_server(certs.path(), dir.path(), *port, &cluster));
        dirs.push(dir);
    }
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut create = vec!["--cluster", "create"];
    create.extend(addrs.iter().map(String::as_str));
    create.push("--cluster-yes");
    let out = cli_output(certs.path(), &create);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    wait_for(Duration::from_secs(20), || {
        ports
            .iter()
            .all(|p| cli(certs.path(), *p, &["CLUSTER", "INFO"]).contains("cluster_state:ok"))
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
    api.run_echo(&ids).await;
    // Every master holds part of the queue.
    for port in &ports {
        let keys: u64 = cli(certs.path(), *port, &["DBSIZE"])
            .trim()
            .parse()
            .unwrap_or(0);
        assert!(keys > 0, "master on {port} holds no key");
    }
}
