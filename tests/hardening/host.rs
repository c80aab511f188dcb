//! Hardening of the host itself: the layout migration once per queue, job types without a live
//! host named, every setting taking effect, bounded LLM requests, the memory guard, TLS with a private CA.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layout_migration_runs_once_per_queue() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let mut conn = redis.conn();
    // A job another waits on, without the waited_on flag (an older host's).
    let _: () = conn
        .hset_multiple(
            "{deckhand}:job:old",
            &[("status", "pending"), ("type", "echo")],
        )
        .unwrap();
    let _: () = conn.sadd("{deckhand}:waiting:old", "later").unwrap();
    let mut first = Host::start("m1", &redis.url(), dir.path(), &[]);
    first.wait_for_log("serving");
    let flagged: Option<String> = conn.hget("{deckhand}:job:old", "waited_on").unwrap();
    assert_eq!(flagged.as_deref(), Some("1"), "{}", first.log());
    first.terminate();

    // Once the queue is at the layout, a start does not scan again.
    let _: () = conn
        .hset_multiple(
            "{deckhand}:job:old2",
            &[("status", "pending"), ("type", "echo")],
        )
        .unwrap();
    let _: () = conn.sadd("{deckhand}:waiting:old2", "later2").unwrap();
    let second = Host::start("m2", &redis.url(), dir.path(), &[]);
    second.wait_for_log("serving");
    let flagged: Option<String> = conn.hget("{deckhand}:job:old2", "waited_on").unwrap();
    assert_eq!(flagged, None, "the scan ran again:\n{}", second.log());
    // Layout 2: waited_on flags (1), then the running counts per type (2).
    let layout: Option<u32> = conn.get("{deckhand}:layout").unwrap();
    assert_eq!(layout, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_types_without_a_live_host_are_named() {
    let redis = TestRedis::start();
    let mut conn = redis.conn();
    // A type registered an hour ago by a host long gone.
    let old = json!({
        "host": "gone-1", "plugin": "x", "version_id": "v", "cache": false,
        "at": deckhand_now_ms() - 3_600_000, "interval_ms": 10_000,
    });
    let _: () = conn
        .hset("{deckhand}:types", "orphan", old.to_string())
        .unwrap();
    let dir = plugin_dir(&["echo"]);
    let host = Host::start("live", &redis.url(), dir.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;

    let payload = dir.path().join("p.json");
    std::fs::write(&payload, "{}").unwrap();
    let out = deckhand()
        .args(["submit", "orphan"])
        .arg(&payload)
        .args(["--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "queued all the same");
    assert!(
        stderr(&out).contains("no live host runs job type \"orphan\""),
        "{}",
        stderr(&out)
    );
    let (_, health) = api.get("/health").await;
    assert_eq!(
        health["job_types_without_live_host"],
        json!(["orphan"]),
        "{health}"
    );
    let (_, body) = api
        .post("/v1/jobs", json!({ "job_type": "orphan", "payload": {} }))
        .await;
    assert!(
        body["warning"]
            .as_str()
            .is_some_and(|w| w.contains("no live host")),
        "{body}"
    );
    let (_, body) = api
        .post("/v1/jobs", json!({ "job_type": "echo", "payload": {} }))
        .await;
    assert!(body.get("warning").is_none(), "{body}");
    let out = deckhand()
        .args(["hosts", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("job types with no live host: orphan"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_setting_takes_effect_wherever_it_is_given() {
    let redis = TestRedis::start();
    let fake = FakeLlm::start().await;
    fake.always(Answer::content("hi"));
    let dir = plugin_dir(&["chaos"]);
    let config = dir.path().join("deckhand.toml");
    std::fs::write(
        &config,
        format!(
            "[llm]\nprovider = \"openai-compatible\"\nbase_url = \"{}\"\nmodel = \"m\"\n",
            fake.url()
        ),
    )
    .unwrap();
    // The LLM comes from the file; the flag alone must still apply, and a
    // job type's limit comes from the environment.
    let host = Host::start_with_env(
        "settings",
        &redis.url(),
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "--llm-max-tokens",
            "77",
        ],
        &[("DECKHAND_JOB_TYPES", "chaos.sleep:timeout_ms=300")],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let (_, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "chaos.llm", "payload": { "prompt": "x" } }),
        )
        .await;
    let done = api.wait(&[body["id"].as_str().unwrap()]).await;
    assert_eq!(done[0]["status"], "completed", "{}", done[0]);
    assert_eq!(
        fake.seen()[0].body["max_tokens"],
        77,
        "{:?}",
        fake.seen()[0].body
    );
    let (_, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "chaos.sleep", "payload": { "ms": 2000 }, "max_retries": 0 }),
        )
        .await;
    let done = api.wait(&[body["id"].as_str().unwrap()]).await;
    assert_eq!(done[0]["status"], "dead", "{}", done[0]);
    assert!(done[0].to_string().contains("timeout"), "{}", done[0]);

    // Without a configured LLM, an LLM flag is refused by name.
    let out = deckhand()
        .args([
            "serve",
            "--redis-url",
            &redis.url(),
            "--llm-max-tokens",
            "5",
        ])
        .arg("--plugin-dir")
        .arg(dir.path())
        .args(["--listen", ""])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--llm-max-tokens"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_requests_are_bounded_and_failed_asks_are_costed() {
    let redis = TestRedis::start();
    let fake = FakeLlm::start().await;
    // Every ask fails: HTTP 500, retried by the client.
    fake.always(Answer::status(500, "{\"error\":\"down\"}"));
    let dir = plugin_dir(&["chaos"]);
    let url = fake.url();
    let host = Host::start(
        "cost",
        &redis.url(),
        dir.path(),
        &[
            "--llm-provider",
            "openai-compatible",
            "--llm-base-url",
            &url,
            "--llm-model",
            "m",
        ],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let (_, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "chaos.llm", "payload": { "prompt": "x" }, "max_retries": 0 }),
        )
        .await;
    let id = body["id"].as_str().unwrap().to_string();
    let done = api.wait(&[id.as_str()]).await;
    assert_ne!(done[0]["status"], "completed", "{}", done[0]);
    assert!(fake.calls() >= 1);
    assert_eq!(fake.seen()[0].body["max_tokens"], 2048, "a bounded default");
    let out = deckhand()
        .args(["status", &id, "--json", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    let job: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        job["llm_calls"].as_u64(),
        Some(fake.calls() as u64),
        "every failed ask counts: {job}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_guard_holds_claims_and_memory_is_given_back() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo", "chaos"]);
    // A guard far below what any process uses: claims stop.
    let guarded = Host::start("guard", &redis.url(), dir.path(), &["--max-memory-mb", "1"]);
    let api = Api::new(&guarded);
    api.ready(&guarded).await;
    let (_, body) = api
        .post("/v1/jobs", json!({ "job_type": "echo", "payload": {} }))
        .await;
    let id = body["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, health) = api.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["claims_paused"], true, "{health}");
    let job = queue(&redis).await.get(&id).await.unwrap().unwrap();
    assert_eq!(
        job.status,
        JobStatus::Pending,
        "not claimed while over the limit"
    );
    assert!(
        api.text("/metrics")
            .await
            .contains("deckhand_claims_paused 1")
    );
    drop(guarded);

    // A burst of jobs that each dirty 96 MiB, one at a time, then idle:
    // the memory goes back (batched decommits used to hold it).
    let host = Host::start_with_env(
        "burst",
        &redis.url(),
        dir.path(),
        &["--batch-size", "1"],
        &[("DECKHAND_JOB_TYPES", "chaos.alloc:memory_mb=96")],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let rss = async || -> f64 {
        let (_, h) = api.get("/health").await;
        h["current_memory"].as_f64().unwrap()
    };
    let before = rss().await;
    let jobs: Vec<Value> = (0..12)
        .map(|i| json!({ "job_type": "chaos.alloc", "payload": { "i": i }, "max_retries": 0 }))
        .collect();
    let (_, body) = api.post("/v1/jobs/batch", json!({ "jobs": jobs })).await;
    let ids: Vec<String> = body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_string())
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let done = api.wait(&refs).await;
    assert!(
        done.iter().all(|j| j["status"] == "dead"),
        "memory_limit deaths"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss().await;
    eprintln!("RSS before the burst {before:.0} MiB, after {after:.0} MiB");
    assert!(
        after < before + 64.0,
        "RSS {after:.0} MiB after the burst, {before:.0} MiB before"
    );
}

/// `rediss://` to a Redis whose certificate a private CA signed and which
/// asks every client for a certificate: a host given the CA and a client
/// certificate (`queue.tls_*_file`) runs jobs over TLS; a client without
/// the client certificate, or without the CA, is refused; TLS files with a
/// plain `redis://` URL are refused by name. Nothing panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca_and_a_client_certificate() {
    let certs = tempfile::tempdir().unwrap();
    common::tls::make_certificates(certs.path());
    let file = |name: &str| certs.path().join(name).display().to_string();
    let tls_port = common::redis::free_port().to_string();
    let (server_crt, server_key, ca) = (file("server.crt"), file("server.key"), file("ca.crt"));
    let redis = TestRedis::start_with(
        &[
            "--tls-port",
            &tls_port,
            "--tls-cert-file",
            &server_crt,
            "--tls-key-file",
            &server_key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "yes",
        ],
        None,
    );
    let url = format!("rediss://127.0.0.1:{tls_port}");
    let (client_crt, client_key) = (file("client.crt"), file("client.key"));
    let tls_env = [
        ("DECKHAND_QUEUE_TLS_CA_FILE", ca.as_str()),
        ("DECKHAND_QUEUE_TLS_CERT_FILE", client_crt.as_str()),
        ("DECKHAND_QUEUE_TLS_KEY_FILE", client_key.as_str()),
    ];
    let dir = plugin_dir(&["echo"]);
    let host = Host::start_with_env("tls-host", &url, dir.path(), &[], &tls_env);
    let api = Api::new(&host);
    api.ready(&host).await;
    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({"job_type": "echo", "payload": {"over": "tls"}, "id": "t1"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let done = api.wait(&["t1"]).await;
    assert_eq!(done[0]["status"], "completed", "{done:?}");
    // The job is in this Redis (read over its plain port).
    let stored: Option<String> = redis.conn().hget("{deckhand}:job:t1", "status").unwrap();
    assert_eq!(stored.as_deref(), Some("completed"));

    let status_with = |url: &str, env: &[(&str, &str)]| {
        let mut cmd = deckhand();
        cmd.args(["status", "t1", "--redis-url", url]);
        for var in [
            "DECKHAND_QUEUE_TLS_CA_FILE",
            "DECKHAND_QUEUE_TLS_CERT_FILE",
            "DECKHAND_QUEUE_TLS_KEY_FILE",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied()).output().unwrap()
    };
    // The CLI with the same files reads the job over TLS.
    let out = status_with(&url, &tls_env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("completed"), "{}", stdout(&out));
    // Without the client certificate, or without the CA: refused.
    for env in [&tls_env[..1], &tls_env[1..]] {
        let out = status_with(&url, env);
        assert!(!out.status.success(), "{env:?}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("cannot reach the queue"),
            "{}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    // TLS files with a plain URL: refused, naming the setting.
    let out = status_with(&redis.url(), &tls_env);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("queue.tls_ca_file") && stderr(&out).contains("rediss://"),
        "{}",
        stderr(&out)
    );
}
