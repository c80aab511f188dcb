//! Property tests over what comes from outside: API submit bodies, the
//! checks on a submission, stored job records and content hashes. None may
//! panic, whatever the bytes.

use std::collections::HashMap;

use deckhand::api::parse_submit;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{JobRecord, QueueConfig, check_request};
use proptest::prelude::*;

use crate::common;

/// Strings that look like what a submit body holds, plus anything at all.
fn jsonish() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("job_type".to_string()),
        Just("payload".to_string()),
        Just("priority".to_string()),
        Just("depends_on".to_string()),
        Just("id".to_string()),
        Just("max_retries".to_string()),
        Just("metadata".to_string()),
        Just("force".to_string()),
        "[a-z_]{1,8}",
    ];
    let value = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        "\"[^\"\\\\]{0,20}\"",
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("[\"a\",1,null]".to_string()),
        Just("{\"content_hash\":\"../../x\"}".to_string()),
        Just("-2147483648".to_string()),
    ];
    prop::collection::vec((field, value), 0..8).prop_map(|pairs| {
        let body: Vec<String> = pairs
            .into_iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!("{{{}}}", body.join(","))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn submit_bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_submit(&bytes);
    }

    #[test]
    fn structured_submit_bodies_never_panic(body in jsonish()) {
        if let Ok(req) = parse_submit(body.as_bytes()) {
            let _ = check_request(&QueueConfig::default(), &req);
            let _ = req.payload.content_hash(req.metadata.get("content_hash").map(String::as_str));
        }
    }

    #[test]
    fn submission_checks_never_panic(
        job_type in ".{0,200}",
        payload in ".{0,200}",
        priority in any::<i32>(),
        id in proptest::option::of(".{0,300}"),
        deps in prop::collection::vec(".{0,20}", 0..4),
    ) {
        // A payload is checked where it enters: text that is not JSON
        // never becomes a job.
        let Ok(payload) = Payload::parse(payload) else { return Ok(()) };
        let req = NewJob {
            priority,
            id,
            depends_on: deps,
            ..NewJob::new(job_type, payload)
        };
        let _ = check_request(&QueueConfig::default(), &req);
    }

    #[test]
    fn job_records_decode_without_panicking(
        fields in prop::collection::hash_map(
            prop_oneof![
                Just("id".to_string()), Just("status".to_string()), Just("attempts".to_string()),
                Just("priority".to_string()), Just("created_at".to_string()), Just("metadata".to_string()),
                Just("depends_on".to_string()), Just("progress".to_string()), Just("llm_calls".to_string()),
                Just("run_at".to_string()), Just("cache_hit".to_string()), ".{0,10}",
            ],
            prop_oneof![
                Just("running".to_string()), Just("completed".to_string()), Just("-1".to_string()),
                Just("99999999999999999999999".to_string()), Just("{\"a\":\"b\"}".to_string()), ".{0,20}",
            ],
            0..12,
        ),
        errors in prop::collection::vec(".{0,40}", 0..4),
    ) {
        let fields: HashMap<String, String> = fields;
        let _ = JobRecord::from_redis(fields, errors);
    }
}

/// Numbers, mostly at and past the edges of what each field takes.
fn edgy_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        Just("1e20".to_string()),
        Just("1e300".to_string()),
        Just("-1e300".to_string()),
        Just("18446744073709551615".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("0".to_string()),
        Just("-0.0".to_string()),
        Just("3600.0000001".to_string()),
    ]
}

/// One request to a running host's API, built from a route and numbers.
fn api_request() -> impl Strategy<Value = (String, String, String)> {
    let n = edgy_number;
    prop_oneof![
        (n(), n()).prop_map(|(t, _)| (
            "POST".into(),
            "/v1/jobs/wait".into(),
            format!("{{\"ids\":[\"x\"],\"timeout_secs\":{t}}}")
        )),
        (n(), n()).prop_map(|(p, r)| (
            "POST".into(),
            "/v1/jobs".into(),
            format!(
                "{{\"job_type\":\"echo\",\"payload\":{{}},\"priority\":{p},\"max_retries\":{r}}}"
            )
        )),
        (n(), n()).prop_map(|(p, r)| (
            "POST".into(),
            "/v1/jobs/batch".into(),
            format!("{{\"jobs\":[{{\"job_type\":\"echo\",\"payload\":{p},\"priority\":{r}}}]}}")
        )),
        (n(), n()).prop_map(|(o, l)| (
            "GET".into(),
            format!("/v1/dlq?offset={o}&limit={l}"),
            String::new()
        )),
        jsonish().prop_map(|b| ("POST".into(), "/v1/jobs".into(), b)),
        jsonish().prop_map(|b| ("POST".into(), "/v1/dlq/replay".into(), b)),
        "[a-zA-Z0-9%._~-]{0,40}".prop_map(|id| (
            "GET".into(),
            format!("/v1/jobs/{id}"),
            String::new()
        )),
    ]
}

/// Against a real host: no request body or number is answered with a
/// panic or a 5xx, and the host answers after all of them.
#[test]
fn the_api_never_panics_or_answers_5xx() {
    let redis = common::redis::TestRedis::start();
    let dir = common::plugin_dir(&["echo"]);
    let host = common::host::Host::start("fuzz", &redis.url(), dir.path(), &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = common::api::Api::new(&host);
    rt.block_on(api.ready(&host));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(300));
    runner
        .run(&api_request(), |(method, path, body)| {
            let status = rt.block_on(async {
                let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let resp = api
                    .http
                    .request(method, format!("{}{path}", api.base))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                resp.map(|r| r.status().as_u16()).unwrap_or(0)
            });
            prop_assert!(
                (200..500).contains(&status),
                "{path} {body}: answered {status}"
            );
            Ok(())
        })
        .unwrap();
    assert!(!host.log().contains("panicked"), "{}", host.log());
}

/// The CLI's numeric flags: a clear refusal (exit 2) or success, never a
/// panic, whatever the number.
#[test]
fn cli_numbers_never_panic() {
    let redis = common::redis::TestRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("p.json");
    std::fs::write(&payload, "{}").unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(40));
    let flags = prop_oneof![Just("--priority"), Just("--timeout"), Just("--max-retries"),];
    runner
        .run(&(flags, edgy_number()), |(flag, n)| {
            // No host has registered echo here, so even a good number
            // ends in a refusal (exit 2): the point is how it ends.
            let out = common::deckhand()
                .args(["submit", "echo"])
                .arg(&payload)
                .arg(format!("{flag}={n}"))
                .args(["--redis-url", &redis.url()])
                .output()
                .unwrap();
            let err = common::stderr(&out);
            prop_assert!(!err.contains("panicked"), "{flag} {n}: {err}");
            prop_assert!(
                matches!(out.status.code(), Some(0 | 2)),
                "{flag} {n}: {err}"
            );
            Ok(())
        })
        .unwrap();
}
