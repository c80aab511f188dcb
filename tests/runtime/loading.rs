//! Plugins loaded and run: errors keep their type and feedback, the pooling allocator's limits,
//! hot reload beside running jobs, and the compile cache checked before it is used.

use super::*;

#[tokio::test]
async fn plugin_errors_keep_their_type_and_feedback() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let chaos = load(&runtime, "chaos").await;
    let services = Arc::new(Standalone);
    let run = |payload: Value, attempt: u32| {
        let mut j = job("chaos.fail", payload);
        j.attempt = attempt;
        j.feedback = Some("previous said hi".into());
        runtime.run(&chaos, j, services.clone())
    };
    assert!(matches!(
        run(json!({"error": "retry"}), 1).await,
        Err(JobFailure::Retry { .. })
    ));
    assert!(matches!(
        run(json!({"error": "fail"}), 1).await,
        Err(JobFailure::Fail { .. })
    ));
    match run(json!({"error": "feedback"}), 2).await {
        Err(f @ JobFailure::RetryWithFeedback { .. }) => {
            assert_eq!(f.feedback(), Some("feedback from attempt 2"));
            assert!(f.retryable());
        }
        other => panic!("{other:?}"),
    }
    // The attempt number and the feedback reach the plugin.
    let ok = run(json!({"succeed_on": 3}), 3).await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&ok).unwrap(),
        json!({"attempt": 3, "feedback": "previous said hi"})
    );
}

#[tokio::test]
async fn the_pooling_allocator_runs_jobs_and_enforces_limits() {
    let runtime = Runtime::new(RuntimeConfig {
        pool_instances: 8,
        max_memory_bytes: 64 * 1024 * 1024,
        default_memory_bytes: 64 * 1024 * 1024,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let chaos = load(&runtime, "chaos").await;
    let echo = load(&runtime, "echo").await;
    for i in 0..20 {
        let out = runtime
            .run(&echo, job("echo", json!({ "i": i })), Arc::new(Standalone))
            .await
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap(),
            json!({ "i": i })
        );
    }
    let alloc = runtime
        .run(&chaos, job("chaos.alloc", json!({})), Arc::new(Standalone))
        .await;
    assert!(
        matches!(alloc, Err(JobFailure::MemoryLimit { limit_bytes }) if limit_bytes == 32 * 1024 * 1024),
        "{alloc:?}"
    );
}

/// Replace a plugin while the host runs: new jobs use the new version id, a
/// job started before finishes on the old one. Remove it: its types go away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_swaps_versions_without_disturbing_running_jobs() {
    let dir = plugin_dir(&["echo"]);
    let path = dir.path().join("chaos.wasm");
    let v1 = std::fs::read(plugin_wasm("chaos")).unwrap();
    let v2 = with_custom_section(&v1, "build", b"v2");
    install(&path, &v1);

    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let registry = Arc::new(Registry::open(runtime.clone(), dir.path()).await.unwrap());
    let watcher = registry.watch(Duration::from_millis(50));

    let old = registry
        .snapshot()
        .plugin_for("chaos.sleep")
        .unwrap()
        .clone();
    assert_eq!(old.version_id, sha256_hex(&v1));
    let running = {
        let runtime = runtime.clone();
        let old = old.clone();
        tokio::spawn(async move {
            runtime
                .run(
                    &old,
                    job("chaos.sleep", json!({"ms": 1500})),
                    Arc::new(Standalone),
                )
                .await
        })
    };

    install(&path, &v2);
    let new = wait_for(&registry, |s| {
        s.plugin_for("chaos.sleep")
            .is_some_and(|p| p.version_id == sha256_hex(&v2))
    })
    .await
    .plugin_for("chaos.sleep")
    .unwrap()
    .clone();
    let out = runtime
        .run(&new, job("chaos.counter", json!({})), Arc::new(Standalone))
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!({"count": 1})
    );

    // The job started on v1 finishes, on v1.
    let finished = running.await.unwrap().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&finished).unwrap()["slept_ms"],
        1500
    );
    assert_eq!(old.version_id, sha256_hex(&v1));

    // A new file appears: its job types arrive. The file goes: they leave.
    std::fs::remove_file(&path).unwrap();
    wait_for(&registry, |s| s.plugin_for("chaos.sleep").is_none()).await;
    assert!(registry.snapshot().plugin_for("echo").is_some());
    install(&dir.path().join("again.wasm"), &v1);
    wait_for(&registry, |s| s.plugin_for("chaos.sleep").is_some()).await;

    // A broken replacement is reported, not loaded.
    install(&dir.path().join("again.wasm"), b"broken");
    let snapshot = wait_for(&registry, |s| s.plugin_for("chaos.sleep").is_none()).await;
    assert!(snapshot.errors().any(|e| e.path().ends_with("again.wasm")));
    watcher.abort();
}

/// The compile cache: a second load comes from disk; a corrupt or truncated
/// entry is rebuilt, never trusted; the cached plugin runs jobs like a fresh one.
#[tokio::test]
async fn the_compile_cache_is_used_and_never_trusted_blindly() {
    use deckhand::runtime::CacheOutcome;
    let cache = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        compile_cache: Some(cache.path().to_path_buf()),
        ..RuntimeConfig::default()
    };
    let load = |config: RuntimeConfig| async move {
        let runtime = Runtime::new(config).unwrap();
        let plugin = load(&runtime, "chaos").await;
        let out = runtime
            .run(
                &plugin,
                job("chaos.counter", json!({})),
                Arc::new(Standalone),
            )
            .await
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap(),
            json!({"count": 1})
        );
        (plugin.compiled, plugin.load_time)
    };

    let (first, cold) = load(config.clone()).await;
    assert_eq!(first, CacheOutcome::Compiled);
    let (second, warm) = load(config.clone()).await;
    assert_eq!(second, CacheOutcome::Hit);
    eprintln!("chaos.wasm: compiled in {cold:?}, loaded from the cache in {warm:?}");

    let entries: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];

    // One flipped byte: the checksum catches it.
    let mut bytes = std::fs::read(entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(entry, &bytes).unwrap();
    assert_eq!(load(config.clone()).await.0, CacheOutcome::Rebuilt);
    assert_eq!(load(config.clone()).await.0, CacheOutcome::Hit);

    // Truncated.
    let bytes = std::fs::read(entry).unwrap();
    std::fs::write(entry, &bytes[..bytes.len() / 3]).unwrap();
    assert_eq!(load(config.clone()).await.0, CacheOutcome::Rebuilt);
}
