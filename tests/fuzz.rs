//! Property tests over what comes from outside: API submit bodies, the
//! checks on a submission, stored job records and content hashes. None may
//! panic, whatever the bytes.

use std::collections::HashMap;

use deckhand::api::parse_submit;
use deckhand::content::content_hash;
use deckhand::queue::{JobRecord, QueueConfig, SubmitRequest, check_request};
use proptest::prelude::*;

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
            let _ = content_hash(&req.payload, req.metadata.get("content_hash").map(String::as_str));
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
        let req = SubmitRequest {
            job_type,
            payload,
            priority,
            id,
            depends_on: deps,
            ..SubmitRequest::default()
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
