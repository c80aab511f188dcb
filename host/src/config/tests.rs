use super::*;
use crate::job::{NewJob, Payload};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_match_the_seed() {
    let c = Config::from_toml("", "test", env(&[])).unwrap();
    assert_eq!(c.worker_count, 1);
    assert_eq!(c.batch_size, 10);
    assert_eq!(c.max_retries, 3);
    assert_eq!(c.shutdown_timeout, 30.0);
    assert_eq!(c.health_check_interval, 60);
}

#[test]
fn every_bound_names_its_key() {
    let cases = [
        ("worker_count = 0", "worker_count"),
        ("batch_size = 0", "batch_size"),
        ("threads = 1025", "threads"),
        ("shutdown_timeout = -1.0", "shutdown_timeout"),
        ("health_check_interval = 9", "health_check_interval"),
        ("[retry]\nbackoff_factor = -1.0", "retry.backoff_factor"),
        ("[queue]\nlease_ms = 10", "queue.lease_ms"),
        ("[log]\nformat = \"xml\"", "log.format"),
        ("[limits]\npool_instances = 9", "limits.pool_instances"),
        ("[llm]\nmax_in_flight = 10001", "llm.max_in_flight"),
        ("[llm]\ntokens_per_minute = 0", "llm.tokens_per_minute"),
        ("[llm]\nrequests_per_minute = 0", "llm.requests_per_minute"),
        (
            "[queue]\nmax_schedule_ahead_days = 0",
            "queue.max_schedule_ahead_days",
        ),
        (
            "[queue]\nmax_schedule_ahead_days = 3661",
            "queue.max_schedule_ahead_days",
        ),
    ];
    for (text, key) in cases {
        let err = Config::from_toml(text, "test", env(&[])).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(key) && msg.contains("out of bounds"),
            "{text}: {msg}"
        );
    }
    // max_retries ≥ 0 is the type's bound: a negative value cannot parse.
    let err = Config::from_toml("max_retries = -1", "test", env(&[])).unwrap_err();
    assert!(err.to_string().contains("max_retries"), "{err}");
}

#[test]
fn the_instance_pool_covers_every_job_in_flight() {
    let slots = |text: &str| {
        Config::from_toml(text, "test", env(&[]))
            .unwrap()
            .runtime_config()
            .pool_instances
    };
    assert_eq!(slots(""), 10 + 8);
    assert_eq!(slots("worker_count = 2\nbatch_size = 64"), 128 + 8);
    assert_eq!(slots("[limits]\npool_instances = 500"), 500);
    assert_eq!(slots("[limits]\npooling = false"), 0);
}

#[test]
fn unknown_keys_are_named() {
    let err = Config::from_toml("worker_cuont = 2", "deckhand.toml", env(&[])).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("worker_cuont") && msg.contains("deckhand.toml"),
        "{msg}"
    );
    let err = Config::from_toml("[llm]\nmodle = \"x\"", "f", env(&[])).unwrap_err();
    assert!(err.to_string().contains("modle"), "{err}");
}

#[test]
fn environment_overrides_the_file() {
    let text = "worker_count = 2\nredis_url = \"redis://file\"\n[llm]\nprovider = \"ollama\"\nmodel = \"a\"";
    let c = Config::from_toml(
        text,
        "test",
        env(&[
            ("DECKHAND_WORKER_COUNT", "4"),
            ("DECKHAND_REDIS_URL", "redis://env"),
            ("DECKHAND_LLM_MODEL", "b"),
            ("DECKHAND_API_TOKEN", "secret"),
            ("DECKHAND_RETRY_JITTER", "false"),
            ("DECKHAND_TEST_LLM_URL", "ignored: not a key"),
        ]),
    )
    .unwrap();
    assert_eq!(c.worker_count, 4);
    assert_eq!(c.redis_url.as_deref(), Some("redis://env"));
    let llm = c.llm.unwrap();
    assert_eq!(llm.model, "b");
    assert_eq!(llm.provider, crate::llm::Provider::Ollama);
    assert_eq!(c.api.token, "secret");
    assert!(!c.retry.jitter);

    let err = Config::from_toml("", "t", env(&[("DECKHAND_BATCH_SIZE", "many")])).unwrap_err();
    assert!(err.to_string().contains("DECKHAND_BATCH_SIZE"), "{err}");
    let err = Config::from_toml("", "t", env(&[("DECKHAND_BATCH_SIZE", "0")])).unwrap_err();
    assert!(err.to_string().contains("batch_size"), "{err}");
}

#[test]
fn the_example_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/deckhand.toml");
    let c = Config::load(Some(&path), env(&[])).unwrap();
    assert!(c.llm.is_some());
    assert!(!c.job_types.is_empty());
}

#[test]
fn a_job_type_may_carry_larger_payloads() {
    let text = "[job_types.bulk]\nmax_payload_bytes = 8388608";
    let c = Config::from_toml(text, "test", env(&[])).unwrap();
    let q = c.queue_config();
    assert_eq!(q.payload_limit("bulk").0, 8_388_608);
    assert_eq!(q.payload_limit("echo").0, 1024 * 1024);

    let big = format!("{{\"jsonl\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let req = |job_type: &str| NewJob::new(job_type, Payload::parse(big.clone()).unwrap());
    assert!(crate::queue::check_request(&q, &req("bulk")).is_ok());
    let err = crate::queue::check_request(&q, &req("echo"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("queue.max_payload_bytes") && err.contains("\"echo\""),
        "{err}"
    );

    // Flags and the environment spell it too; out of range is refused by name.
    let (_, limits) = super::env::parse_job_type_limits("bulk:max_payload_bytes=4096").unwrap();
    assert_eq!(limits.max_payload_bytes, Some(4096));
    for text in [
        "[job_types.bulk]\nmax_payload_bytes = 0",
        "[job_types.bulk]\nmax_payload_bytes = 536870913",
    ] {
        let err = Config::from_toml(text, "test", env(&[])).unwrap_err();
        assert!(
            err.to_string().contains("max_payload_bytes"),
            "{text}: {err}"
        );
    }
}

#[test]
fn schedules_and_rate_limits_are_checked_where_they_are_read() {
    let cases = [
        (
            "[[schedules]]\nname = \"a\"\ncron = \"61 * * * *\"\njob_type = \"echo\"",
            "cron",
        ),
        (
            "[[schedules]]\nname = \"a\"\ncron = \"* * * * *\"\njob_type = \"echo\"\n[[schedules]]\nname = \"a\"\ncron = \"@daily\"\njob_type = \"echo\"",
            "appears twice",
        ),
        ("[job_types.echo]\nrate_limit = \"0/1s\"", "rate_limit"),
        (
            "[job_types.echo]\nrate_limit = \"5 per minute\"",
            "rate_limit",
        ),
    ];
    for (text, needle) in cases {
        let msg = Config::from_toml(text, "test", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(msg.contains(needle), "{text}: {msg}");
    }
    let ok = Config::from_toml(
        "[[schedules]]\nname = \"a\"\ncron = \"0 3 * * *\"\njob_type = \"echo\"\ntimezone = \"Europe/Berlin\"\npayload = { x = 1 }\n[job_types.echo]\nrate_limit = \"10/1s\"",
        "test",
        env(&[]),
    )
    .unwrap();
    assert_eq!(ok.schedules[0].payload, serde_json::json!({ "x": 1 }));
    assert_eq!(ok.job_types["echo"].rate_limit.as_deref(), Some("10/1s"));
}

#[test]
fn caps_and_rates_below_the_partition_count_are_refused() {
    let with = |partitions: u32, limits: &str| {
        let text = format!("[queue]\npartitions = {partitions}\n[job_types.echo]\n{limits}");
        Config::from_toml(&text, "test", env(&[]))
    };
    for limits in ["max_running = 2", "rate_limit = \"2/1s\""] {
        let err = with(3, limits).unwrap_err().to_string();
        assert!(
            err.contains("echo") && err.contains("below the queue's 3 partitions"),
            "{limits}: {err}"
        );
        // At or above the count, or on one partition, any in range is taken.
        with(1, limits).unwrap();
        with(2, limits).unwrap();
    }
    with(3, "max_running = 3\nrate_limit = \"4/1s\"").unwrap();
}
