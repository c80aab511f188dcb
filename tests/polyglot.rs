//! Job types in other languages, through the same host, sandbox and limits:
//! `pantry_hours` (Python, componentize-py) and `html_extract` (JavaScript,
//! componentize-js).

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::host::Host;
use common::redis::TestRedis;
use common::*;
use deckhand::job::NewJob;
use deckhand::queue::{JobStatus, Queue, QueueConfig};
use deckhand::runtime::{
    CacheOutcome, JobFailure, JobInput, Plugin, Runtime, RuntimeConfig, Standalone,
};
use serde_json::{Value, json};

fn fixtures() -> Value {
    let text = std::fs::read_to_string(root().join("tests/fixtures/pantry_hours.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn job(job_type: &str, payload: Value) -> JobInput {
    JobInput {
        id: "py-test".into(),
        job_type: job_type.into(),
        payload: payload.to_string(),
        attempt: 1,
        feedback: None,
        metadata: vec![],
    }
}

/// A loop is stopped by the deadline and a memory bomb by the cap, as for
/// any plugin; `probe` is the plugin's `limits_probe` job type.
async fn assert_limits_hold(runtime: &Runtime, plugin: &Plugin, probe: &str) {
    let services = Arc::new(Standalone);
    let looped = runtime
        .run(plugin, job(probe, json!({"do": "loop"})), services.clone())
        .await;
    assert_eq!(
        looped,
        Err(JobFailure::Timeout { limit_ms: 2000 }),
        "{probe}"
    );
    let bomb = runtime
        .run(plugin, job(probe, json!({"do": "alloc"})), services)
        .await;
    assert_eq!(
        bomb,
        Err(JobFailure::MemoryLimit {
            limit_bytes: 128 * 1024 * 1024
        }),
        "{probe}"
    );
}

/// The schedules without their description, for comparison.
fn core(result: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(result).unwrap();
    assert_eq!(v["unparsed"], json!([]), "{v}");
    v["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            json!({
                "freq": s["freq"], "byday": s["byday"],
                "opens_at": s["opens_at"], "closes_at": s["closes_at"],
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pantry_hours_reads_real_hours_and_refuses_to_guess() {
    let cache = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        compile_cache: Some(cache.path().to_path_buf()),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config.clone()).unwrap();
    let plugin = Plugin::load(&runtime, &plugin_wasm("pantry_hours"))
        .await
        .unwrap();
    let services = Arc::new(Standalone);

    let f = fixtures();
    for case in f["parsed"].as_array().unwrap() {
        let out = runtime
            .run(
                &plugin,
                job("pantry_hours", json!({ "hours": case["hours"] })),
                services.clone(),
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case["hours"]));
        assert_eq!(
            Value::Array(core(&out)),
            case["expect"],
            "{}",
            case["hours"]
        );
        let full: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(full["schedules"][0]["description"], case["hours"]);
    }
    for text in f["unreadable"].as_array().unwrap() {
        match runtime
            .run(
                &plugin,
                job("pantry_hours", json!({ "hours": text })),
                services.clone(),
            )
            .await
        {
            Err(JobFailure::Fail { message }) => {
                assert!(
                    message.contains("no opening hours could be read"),
                    "{message}"
                )
            }
            other => panic!("{text}: expected a clear failure, got {other:?}"),
        }
    }
    match runtime
        .run(
            &plugin,
            job("pantry_hours", json!({ "hours": 42 })),
            services.clone(),
        )
        .await
    {
        Err(JobFailure::Fail { message }) => {
            assert!(message.contains("payload must be"), "{message}")
        }
        other => panic!("{other:?}"),
    }

    assert_limits_hold(&runtime, &plugin, "pantry_hours.limits_probe").await;
    let after = runtime
        .run(
            &plugin,
            job("pantry_hours", json!("Tu: 10a - 1p")),
            services.clone(),
        )
        .await;
    assert!(after.is_ok(), "{after:?}");

    // A warm compile cache makes the 18 MB component load in milliseconds.
    let cold = plugin.load_time;
    let again = Plugin::load(&Runtime::new(config).unwrap(), &plugin_wasm("pantry_hours"))
        .await
        .unwrap();
    assert_eq!(again.compiled, CacheOutcome::Hit);
    eprintln!(
        "pantry_hours.wasm ({} bytes): compiled in {cold:?}, loaded from the warm cache in {:?}",
        std::fs::metadata(plugin_wasm("pantry_hours"))
            .unwrap()
            .len(),
        again.load_time
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_extract_finds_the_fields_and_keeps_to_its_limits() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = Plugin::load(&runtime, &plugin_wasm("html_extract"))
        .await
        .unwrap();
    let services = Arc::new(Standalone);
    let dir = root().join("tests/fixtures/html");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    for (file, want) in expected.as_object().unwrap() {
        let html = std::fs::read_to_string(dir.join(file)).unwrap();
        let out = runtime
            .run(
                &plugin,
                job("html_extract", json!({ "html": html })),
                services.clone(),
            )
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut got: Value = serde_json::from_str(&out).unwrap();
        let text = got["text"].as_str().unwrap().to_string();
        got.as_object_mut().unwrap().remove("text");
        assert_eq!(&got, want, "{file}");
        // Scripts, styles, comments and markup are gone; entities decoded.
        for gone in [
            "analytics",
            "font-family",
            "tracking pixel",
            "<",
            "&nbsp;",
            "&#39;",
            "&middot;",
            "wp-admin",
        ] {
            assert!(
                !text.contains(gone),
                "{file}: text still has {gone:?}:\n{text}"
            );
        }
        assert!(
            text.len() < html.len() / 2,
            "{file}: the text should be much shorter than the page"
        );
    }

    for (payload, needle) in [
        (
            json!({"html": "<script>only()</script>"}),
            "no visible text",
        ),
        (json!({"page": "<p>x</p>"}), "payload must be"),
    ] {
        match runtime
            .run(&plugin, job("html_extract", payload), services.clone())
            .await
        {
            Err(JobFailure::Fail { message }) => assert!(message.contains(needle), "{message}"),
            other => panic!("expected a clear failure, got {other:?}"),
        }
    }
    assert_limits_hold(&runtime, &plugin, "html_extract.limits_probe").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_javascript_job_types_run_through_the_queue() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["pantry_hours", "html_extract"]);
    let host = Host::start("py", &redis.url(), dir.path(), &[]);
    let q = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();
    common::registered(&q, &["pantry_hours", "html_extract"], None).await;
    let sub = q
        .submit(NewJob::new(
            "pantry_hours",
            json!({"hours": "Mon-Fri 9am-5pm"}).into(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", host.log()));
    let done = q
        .wait_for_jobs(std::slice::from_ref(&sub.id), Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(done[0].status, JobStatus::Completed, "{}", host.log());
    assert_eq!(
        core(done[0].result.as_deref().unwrap()),
        vec![
            json!({"freq": "WEEKLY", "byday": "MO,TU,WE,TH,FR", "opens_at": "09:00:00", "closes_at": "17:00:00"})
        ]
    );
}

/// The host reserves instance slots (wasmtime's pooling allocator) by
/// default; components with many core modules, tables and large tables
/// (componentize-py, componentize-js) must fit them, limits included, with
/// more of them running at once than the pool has slots for one-module
/// components.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_javascript_run_in_pooled_slots() {
    let runtime = Arc::new(
        Runtime::new(RuntimeConfig {
            pool_instances: 6,
            ..RuntimeConfig::default()
        })
        .unwrap(),
    );
    let hours = Arc::new(
        Plugin::load(&runtime, &plugin_wasm("pantry_hours"))
            .await
            .unwrap(),
    );
    let html = Arc::new(
        Plugin::load(&runtime, &plugin_wasm("html_extract"))
            .await
            .unwrap(),
    );
    let mut running = tokio::task::JoinSet::new();
    for i in 0..6 {
        let (runtime, hours, html) = (runtime.clone(), hours.clone(), html.clone());
        running.spawn(async move {
            let services = Arc::new(Standalone);
            if i % 2 == 0 {
                let payload = json!({"hours": "Mon-Fri 9am-5pm"});
                let out = runtime
                    .run(&hours, job("pantry_hours", payload), services)
                    .await
                    .unwrap();
                assert_eq!(core(&out).len(), 1, "{out}");
            } else {
                let payload = json!({"html": "<p>Open <b>Tuesdays</b></p>"});
                let out = runtime
                    .run(&html, job("html_extract", payload), services)
                    .await
                    .unwrap();
                assert!(out.contains("Tuesdays"), "{out}");
            }
        });
    }
    while let Some(done) = running.join_next().await {
        done.unwrap();
    }
    assert_limits_hold(&runtime, &html, "html_extract.limits_probe").await;
    assert_limits_hold(&runtime, &hours, "pantry_hours.limits_probe").await;
}
