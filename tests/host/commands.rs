//! `deckhand serve` starting its own Redis, and `deckhand bulk` writing outcomes in input order.

use super::*;

/// With no Redis URL and nothing answering, `serve` starts its own
/// redis-server with AOF on, and stops it on shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_a_redis_url_starts_its_own_redis() {
    let dir = plugin_dir(&["echo"]);
    let data = tempfile::tempdir().unwrap();
    let port = common::redis::free_port();
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("serve.log");
    let mut child = deckhand()
        .args(["serve", "--embedded-redis-port", &port.to_string()])
        .arg("--plugin-dir")
        .arg(dir.path())
        .arg("--data-dir")
        .arg(data.path())
        .args(["--listen", ""])
        .env_remove("DECKHAND_REDIS_URL")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    for _ in 0..600 {
        if read_log().contains("serving") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        read_log().contains("started an embedded redis-server"),
        "{}",
        read_log()
    );

    let url = format!("redis://127.0.0.1:{port}");
    let out = deckhand()
        .args(["submit", "echo", "-", "--wait", "--redis-url", &url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"[1,2,3]")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", read_log());
    assert_eq!(stdout(&out).trim(), "[1,2,3]");

    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", read_log());
    assert!(read_log().contains("embedded redis-server stopped"));
    assert!(data.path().join("redis").join("appendonlydir").is_dir());
    assert!(
        ::redis::Client::open(url.as_str())
            .unwrap()
            .get_connection()
            .is_err(),
        "the embedded redis stops with the host"
    );
}

/// `deckhand bulk` waits for a host that starts later, then writes one line
/// per record in input order; `deckhand hosts` lists the live host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_submits_a_file_and_writes_outcomes_in_order() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let work = tempfile::tempdir().unwrap();
    let records = work.path().join("records.jsonl");
    let out = work.path().join("out.jsonl");
    let lines: Vec<String> = (0..30).map(|i| json!({"n": i}).to_string()).collect();
    std::fs::write(&records, lines.join("\n") + "\n\n").unwrap();

    // A bad line: refused, nothing submitted.
    let bad = work.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"n\":1}\nnot json\n").unwrap();
    let refused = deckhand()
        .args(["bulk", "echo"])
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .args(["--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("line 2"), "{}", stderr(&refused));

    let bulk = deckhand()
        .args(["bulk", "echo"])
        .arg(&records)
        .arg("--out")
        .arg(&out)
        .args(["--redis-url", &redis.url()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let host = Host::start("late", &redis.url(), dir.path(), &[]);
    let done = bulk.wait_with_output().unwrap();
    assert!(done.status.success(), "{}\n{}", stderr(&done), host.log());
    assert!(stderr(&done).contains("waiting for a host that runs echo"));
    assert!(
        stdout(&done).contains("30 records: 30 completed"),
        "{}",
        stdout(&done)
    );
    let written: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(written.len(), 30);
    for (i, line) in written.iter().enumerate() {
        assert_eq!(line["status"], "completed");
        assert_eq!(line["result"], json!({"n": i}));
    }

    let listed = deckhand()
        .args(["hosts", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert!(
        stdout(&listed).contains("late  live"),
        "{}",
        stdout(&listed)
    );
}
