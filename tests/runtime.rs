//! The plugin runtime, end to end: the real `deckhand` binary and the real
//! compiled components from `plugins/`.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use deckhand::registry::Registry;
use deckhand::runtime::{JobFailure, JobInput, Plugin, Runtime, RuntimeConfig, Standalone};
use serde_json::{Value, json};

mod loading;

fn job(job_type: &str, payload: Value) -> JobInput {
    JobInput {
        id: format!("test-{job_type}"),
        job_type: job_type.into(),
        payload: payload.to_string(),
        attempt: 1,
        feedback: None,
        metadata: vec![("source".into(), "test".into())],
    }
}

async fn load(runtime: &Runtime, name: &str) -> Plugin {
    Plugin::load(runtime, &plugin_wasm(name))
        .await
        .unwrap_or_else(|e| panic!("{name} loads: {e}"))
}

#[test]
fn exec_echo_round_trips_a_payload() {
    let payload = r#"{"name":"Food Bank","tags":["a","b"],"n":1.5,"nested":{"ok":true}}"#;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), payload).unwrap();

    let out = deckhand()
        .args(["exec"])
        .arg(plugin_wasm("echo"))
        .arg(file.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let got: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(got, serde_json::from_str::<Value>(payload).unwrap());

    // By job type, from a plugin directory, payload on stdin.
    let dir = plugin_dir(&["echo"]);
    let mut child = deckhand()
        .args(["exec", "echo", "-", "--plugin-dir"])
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(
        serde_json::from_str::<Value>(stdout(&out).trim()).unwrap(),
        serde_json::from_str::<Value>(payload).unwrap()
    );
}

#[test]
fn exec_reports_bad_input_with_exit_code_2() {
    let dir = plugin_dir(&["echo"]);
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), "{not json").unwrap();

    let out = deckhand()
        .args(["exec", "echo"])
        .arg(bad.path())
        .arg("--plugin-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not valid JSON"),
        "{}",
        stderr(&out)
    );

    let good = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(good.path(), "{}").unwrap();
    let out = deckhand()
        .args(["exec", "no.such.type"])
        .arg(good.path())
        .arg("--plugin-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("no plugin") && err.contains("\"no.such.type\"") && err.contains("echo"),
        "{err}"
    );
}

#[test]
fn exec_prints_the_typed_error_and_exits_1() {
    let good = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(good.path(), "{}").unwrap();
    let out = deckhand()
        .arg("exec")
        .arg(plugin_wasm("chaos"))
        .arg(good.path())
        .args(["--type", "chaos.spin", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["error"]["kind"], "timeout");
    assert_eq!(v["error"]["limit_ms"], 1000);

    // A multi-type plugin without --type is a usage error naming the types.
    let out = deckhand()
        .arg("exec")
        .arg(plugin_wasm("chaos"))
        .arg(good.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("chaos.sleep"), "{}", stderr(&out));
}

#[test]
fn plugins_list_shows_job_types_and_version_ids() {
    let dir = plugin_dir(&["echo", "chaos"]);
    let out = deckhand()
        .args(["plugins", "list", "--json", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let plugins = v["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), 2);
    let echo = plugins
        .iter()
        .find(|p| p["info"]["name"] == "echo")
        .unwrap();
    assert_eq!(echo["info"]["job_types"][0]["name"], "echo");
    let bytes = std::fs::read(plugin_wasm("echo")).unwrap();
    assert_eq!(echo["version_id"], sha256_hex(&bytes));
    assert_eq!(v["errors"].as_array().unwrap().len(), 0);

    // The human listing names the job type and the short version id.
    let out = deckhand()
        .args(["plugins", "list", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("chaos.alloc"), "{text}");
    assert!(text.contains(&sha256_hex(&bytes)[..12]), "{text}");
}

#[test]
fn a_broken_wasm_is_reported_and_skipped_and_the_rest_load() {
    let dir = plugin_dir(&["echo", "chaos"]);
    // Not wasm at all.
    std::fs::write(dir.path().join("garbage.wasm"), b"this is not wasm").unwrap();
    // A valid core module, but not a component.
    std::fs::write(dir.path().join("core-module.wasm"), b"\0asm\x01\0\0\0").unwrap();
    // A second build of echo claims the job type the first one holds.
    let echo = std::fs::read(plugin_wasm("echo")).unwrap();
    std::fs::write(
        dir.path().join("zz-echo-again.wasm"),
        with_custom_section(&echo, "build", b"2"),
    )
    .unwrap();

    let out = deckhand()
        .args(["plugins", "list", "--json", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let mut names: Vec<&str> = v["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["info"]["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["chaos", "echo"]);

    let errors = v["errors"].as_array().unwrap();
    let error_for = |file: &str| -> String {
        errors
            .iter()
            .find(|e| e["path"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("no error reported for {file}: {errors:?}"))["error"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(error_for("garbage.wasm").contains("not a valid component"));
    assert!(error_for("core-module.wasm").contains("not a valid component"));
    let conflict = error_for("zz-echo-again.wasm");
    assert!(
        conflict.contains("\"echo\"") && conflict.contains("already handled by"),
        "{conflict}"
    );

    // The exec path still runs the good plugin from that directory.
    let payload = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(payload.path(), r#"{"still":"works"}"#).unwrap();
    let out = deckhand()
        .args(["exec", "echo"])
        .arg(payload.path())
        .arg("--plugin-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
}

#[test]
fn plugins_check_says_whether_a_file_would_load() {
    let out = deckhand()
        .args(["plugins", "check"])
        .arg(plugin_wasm("echo"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("ok: echo"), "{}", stdout(&out));

    let bad = tempfile::Builder::new().suffix(".wasm").tempfile().unwrap();
    std::fs::write(bad.path(), b"nope").unwrap();
    let out = deckhand()
        .args(["plugins", "check"])
        .arg(bad.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&bad.path().display().to_string()) && err.contains("not a valid component"),
        "{err}"
    );
}

/// What a misbehaving job's failure must look like.
type Expectation = Box<dyn Fn(&JobFailure) -> bool>;

/// Each misbehaving job ends with its own error, within its limits, and the
/// same runtime then runs a good job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_plugins_get_their_own_errors_and_the_host_carries_on() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let chaos = load(&runtime, "chaos").await;
    let echo = load(&runtime, "echo").await;
    let services = Arc::new(Standalone);

    let cases: Vec<(&str, Value, Expectation)> = vec![
        (
            "chaos.sleep",
            json!({"ms": 600_000}),
            Box::new(|f| *f == JobFailure::Timeout { limit_ms: 3000 }),
        ),
        (
            "chaos.spin",
            json!({}),
            Box::new(|f| *f == JobFailure::Timeout { limit_ms: 1000 }),
        ),
        (
            "chaos.alloc",
            json!({}),
            Box::new(|f| {
                *f == JobFailure::MemoryLimit {
                    limit_bytes: 32 * 1024 * 1024,
                }
            }),
        ),
        (
            "chaos.recurse",
            json!({}),
            Box::new(|f| matches!(f, JobFailure::StackOverflow { .. })),
        ),
        (
            "chaos.panic",
            json!({}),
            Box::new(|f| {
                matches!(f, JobFailure::Trap { message }
                    if message.contains("unreachable") && message.contains("chaos.panic was asked to panic"))
            }),
        ),
        (
            "chaos.abort",
            json!({}),
            Box::new(|f| matches!(f, JobFailure::Trap { .. })),
        ),
        (
            "chaos.connect",
            json!({"addr": "127.0.0.1:1"}),
            Box::new(
                |f| matches!(f, JobFailure::Fail { message } if message.contains("PermissionDenied")),
            ),
        ),
        (
            "chaos.fanout",
            json!({"children": 1}),
            Box::new(
                |f| matches!(f, JobFailure::Fail { message } if message.contains("has no queue")),
            ),
        ),
        (
            "chaos.llm",
            json!({}),
            Box::new(
                |f| matches!(f, JobFailure::Fail { message } if message.contains("NotConfigured")),
            ),
        ),
    ];
    for (job_type, payload, expected) in cases {
        let outcome = runtime
            .run(&chaos, job(job_type, payload), services.clone())
            .await;
        match outcome {
            Err(failure) => assert!(expected(&failure), "{job_type}: unexpected {failure:?}"),
            Ok(result) => panic!("{job_type} should fail, returned {result}"),
        }
        // The host is fine: a good job right after runs normally.
        let ok = runtime
            .run(
                &echo,
                job("echo", json!({"after": job_type})),
                services.clone(),
            )
            .await
            .unwrap_or_else(|f| panic!("echo after {job_type} failed: {f}"));
        assert_eq!(
            serde_json::from_str::<Value>(&ok).unwrap(),
            json!({"after": job_type})
        );
    }
}

#[tokio::test]
async fn the_sandbox_grants_no_files_network_or_environment() {
    // A file that exists on the host, with something secret in it.
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "the host's secret").unwrap();
    // A port that accepts connections on the host.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    // SAFETY: set before any thread of this test reads the environment.
    unsafe { std::env::set_var("DECKHAND_TEST_SECRET", "hunter2") };

    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let chaos = load(&runtime, "chaos").await;
    let services = Arc::new(Standalone);

    let path = secret.path().display().to_string();
    let read = runtime
        .run(
            &chaos,
            job("chaos.open-file", json!({ "path": path })),
            services.clone(),
        )
        .await;
    match read {
        Err(JobFailure::Fail { message }) => {
            assert!(message.contains(&path), "{message}");
            assert!(!message.contains("secret"), "{message}");
        }
        other => panic!("reading a host file must fail, got {other:?}"),
    }

    let connect = runtime
        .run(
            &chaos,
            job("chaos.connect", json!({ "addr": addr })),
            services.clone(),
        )
        .await;
    match connect {
        Err(JobFailure::Fail { message }) => {
            assert!(message.contains("PermissionDenied"), "{message}")
        }
        other => panic!("connecting out must fail, got {other:?}"),
    }

    let env = runtime
        .run(&chaos, job("chaos.env", json!({})), services.clone())
        .await
        .unwrap();
    let env: Value = serde_json::from_str(&env).unwrap();
    assert_eq!(env["vars"], json!([]));
    assert_eq!(env["args"], json!([]));
}

#[tokio::test]
async fn every_job_gets_a_fresh_instance() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let chaos = load(&runtime, "chaos").await;
    for _ in 0..3 {
        let out = runtime
            .run(
                &chaos,
                job("chaos.counter", json!({})),
                Arc::new(Standalone),
            )
            .await
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap(),
            json!({"count": 1})
        );
    }
}

/// Polls the registry until `done` holds. The bound is generous: it only
/// keeps a broken watcher from hanging the test run.
async fn wait_for(
    registry: &Registry,
    done: impl Fn(&deckhand::registry::Snapshot) -> bool,
) -> Arc<deckhand::registry::Snapshot> {
    for _ in 0..600 {
        let s = registry.snapshot();
        if done(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the registry did not reach the expected state within 30 s");
}
