//! `rediss+sentinel://`: a master, its replica and three sentinels that
//! speak TLS only (replication and the sentinels' own links too), under a
//! private CA. A host with `queue.tls_ca_file` runs jobs, the master is
//! killed, and once every sentinel names its replica the host runs jobs
//! there, reached over TLS through the sentinels again (a submission made
//! before the host has reconnected is refused with 503 and tried again).

use std::time::Duration;

use serde_json::json;

use super::common::api::Api;
use super::common::cluster::wait_for;
use super::common::host::Host;
use super::common::tls::{cli, make_certificates, start_tls_server};
use super::common::{plugin_dir, redis::free_port};

/// 10 echo jobs named `<stem><i>`, run to completion.
async fn run(api: &Api, stem: &str) {
    let ids: Vec<String> = (0..10).map(|i| format!("{stem}{i}")).collect();
    api.run_echo(&ids).await;
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
    let replicated = ["--tls-replication", "yes"];
    let mut master = Some(start_tls_server(
        certs.path(),
        &sub(m.to_string()),
        m,
        &replicated,
    ));
    let m_port = m.to_string();
    let replica_of = [
        "--replicaof",
        "127.0.0.1",
        &m_port,
        "--tls-replication",
        "yes",
    ];
    let _replica = start_tls_server(certs.path(), &sub(r.to_string()), r, &replica_of);
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
        let conf = conf.display().to_string();
        let args = [conf.as_str(), "--sentinel", "--tls-replication", "yes"];
        sentinels.push(start_tls_server(certs.path(), &node_dir, port, &args));
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
        ports.iter().all(|p| {
            cli(
                certs.path(),
                *p,
                &["SENTINEL", "get-master-addr-by-name", "main"],
            )
            .contains(&r.to_string())
        }) && cli(certs.path(), r, &["ROLE"]).starts_with("master")
    });
    // The host finds the new master on its next connection; until then a
    // submission is refused as an outage (503), which a client retries.
    let probe = json!({"job_type": "echo", "payload": {}, "id": "probe"});
    api.post_through_outage("/v1/jobs", &probe, Duration::from_secs(30))
        .await;
    run(&api, "after").await;
    let keys: u64 = cli(certs.path(), r, &["DBSIZE"])
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(keys > 0, "the promoted replica holds the queue");
}
