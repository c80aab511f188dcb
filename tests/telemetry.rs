//! Traces out over OTLP/HTTP: two real hosts export to a receiver started
//! here; one submission's trace reaches through the job, the jobs it
//! submits (on the other host), its host calls and its LLM requests.

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::api::Api;
use common::fake_llm::{Answer, FakeLlm};
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use serde_json::{Value, json};

/// An OTLP/HTTP (JSON) trace receiver: keeps every span it is sent.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

#[derive(Debug, Clone)]
struct Span {
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    service: String,
    attrs: BTreeMap<String, String>,
}

impl Receiver {
    async fn start() -> Receiver {
        let bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
        let kept = bodies.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    kept.lock().unwrap().push(v);
                    axum::Json(json!({}))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{addr}"),
            bodies,
        }
    }

    fn spans(&self) -> Vec<Span> {
        let text = |v: &Value| match v {
            Value::Object(o) => o.values().next().map_or(String::new(), |x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            _ => String::new(),
        };
        let mut out = Vec::new();
        for body in self.bodies.lock().unwrap().iter() {
            for rs in body["resourceSpans"].as_array().into_iter().flatten() {
                let service = rs["resource"]["attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["key"] == "service.name")
                    .map(|a| text(&a["value"]))
                    .unwrap_or_default();
                for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                    for s in ss["spans"].as_array().into_iter().flatten() {
                        out.push(Span {
                            trace_id: s["traceId"].as_str().unwrap_or("").to_string(),
                            span_id: s["spanId"].as_str().unwrap_or("").to_string(),
                            parent: s["parentSpanId"].as_str().unwrap_or("").to_string(),
                            name: s["name"].as_str().unwrap_or("").to_string(),
                            service: service.clone(),
                            attrs: s["attributes"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(|a| {
                                    (
                                        a["key"].as_str().unwrap_or("").to_string(),
                                        text(&a["value"]),
                                    )
                                })
                                .collect(),
                        });
                    }
                }
            }
        }
        out
    }
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const ROOT: &str = "00f067aa0ba902b7";
const LLM_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const LLM_ROOT: &str = "b7ad6b7169203331";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_through_jobs_children_host_calls_and_llm_requests_on_two_hosts() {
    let receiver = Receiver::start().await;
    let redis = TestRedis::start();
    let fake = FakeLlm::start().await;
    fake.always(Answer::content("hello"));
    // The parent's job type on one host, its children's on the other.
    let chaos = plugin_dir(&["chaos"]);
    let echo = plugin_dir(&["echo"]);
    let env = [
        ("DECKHAND_OTEL_ENDPOINT", receiver.url.as_str()),
        ("DECKHAND_OTEL_SERVICE_NAME", "deckhand-test"),
    ];
    let llm = fake.url();
    let mut a = Host::start_with_env(
        "trace-a",
        &redis.url(),
        chaos.path(),
        &[
            "--llm-provider",
            "openai",
            "--llm-base-url",
            &llm,
            "--llm-model",
            "fake",
        ],
        &env,
    );
    let mut b = Host::start_with_env("trace-b", &redis.url(), echo.path(), &[], &env);
    let api = Api::new(&a);
    api.ready(&a).await;
    Api::new(&b).ready(&b).await;

    // A malformed traceparent is refused, naming it; nothing is written.
    let resp = api
        .http
        .post(format!("{}/v1/jobs", a.api))
        .header("traceparent", "00-nothex-00f067aa0ba902b7-01")
        .json(&json!({"job_type": "chaos.fanout", "payload": {}, "id": "bad-trace"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("traceparent"));
    let (s, _) = api.get("/v1/jobs/bad-trace").await;
    assert_eq!(s, 404);

    // The header on one job; the field on another.
    let resp = api
        .http
        .post(format!("{}/v1/jobs", a.api))
        .header("traceparent", format!("00-{TRACE}-{ROOT}-01"))
        .json(&json!({"job_type": "chaos.fanout", "payload": {"children": 3}, "id": "fan"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let (s, body) = api
        .post(
            "/v1/jobs",
            json!({"job_type": "chaos.llm", "payload": {"prompt": "hi"}, "id": "ask", "trace": format!("00-{LLM_TRACE}-{LLM_ROOT}-01")}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let done = api.wait(&["fan", "ask"]).await;
    assert!(done.iter().all(|j| j["status"] == "completed"), "{done:?}");
    let children = common::api::children_of(&done[0]);
    let ids: Vec<&str> = children.iter().map(String::as_str).collect();
    assert!(
        api.wait(&ids)
            .await
            .iter()
            .all(|j| j["status"] == "completed")
    );

    // A graceful stop sends what is queued.
    assert_eq!(a.terminate(), Some(0));
    assert_eq!(b.terminate(), Some(0));
    let job_span = |spans: &[Span], id: &str| {
        spans
            .iter()
            .find(|s| s.name == "job" && s.attrs.get("job_id").map(String::as_str) == Some(id))
            .cloned()
    };
    let mut spans = Vec::new();
    for _ in 0..100 {
        spans = receiver.spans();
        if ids
            .iter()
            .chain(&["fan", "ask"])
            .all(|id| job_span(&spans, id).is_some())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let by_id: BTreeMap<&str, &Span> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let find = |id: &str| {
        job_span(&spans, id).unwrap_or_else(|| panic!("no job span for {id}: {spans:#?}"))
    };

    // The parent's attempt continues the submitted trace, on host a.
    let fan = find("fan");
    assert_eq!((fan.trace_id.as_str(), fan.parent.as_str()), (TRACE, ROOT));
    assert_eq!(fan.attrs["host"], "trace-a");
    assert_eq!(fan.attrs["outcome"], "completed");
    assert_eq!(fan.attrs["job_type"], "chaos.fanout");
    assert_eq!(fan.service, "deckhand-test");
    // Each child ran on host b, in the same trace, under the host call
    // (jobs.submit) its parent's attempt made to submit it.
    for id in &ids {
        let child = find(id);
        assert_eq!(child.trace_id, TRACE, "{child:?}");
        assert_eq!(child.attrs["host"], "trace-b");
        let call = by_id
            .get(child.parent.as_str())
            .unwrap_or_else(|| panic!("{id}'s parent span was not exported: {child:?}"));
        assert_eq!(
            (call.name.as_str(), call.attrs["call"].as_str()),
            ("host_call", "jobs.submit")
        );
        assert_eq!(call.parent, fan.span_id);
    }
    // The LLM job: job -> host call llm.generate -> llm_request, with the
    // request's figures.
    let ask = find("ask");
    assert_eq!(
        (ask.trace_id.as_str(), ask.parent.as_str()),
        (LLM_TRACE, LLM_ROOT)
    );
    let generate = spans
        .iter()
        .find(|s| s.name == "host_call" && s.parent == ask.span_id)
        .unwrap_or_else(|| panic!("no host call under the LLM job: {spans:#?}"));
    assert_eq!(generate.attrs["call"], "llm.generate");
    let request = spans
        .iter()
        .find(|s| s.name == "llm_request" && s.parent == generate.span_id)
        .unwrap_or_else(|| panic!("no llm_request span: {spans:#?}"));
    assert_eq!(request.trace_id, LLM_TRACE);
    assert_eq!(request.attrs["model"], "fake");
    assert_eq!(request.attrs["outcome"], "ok");
    assert_eq!(request.attrs["prompt_tokens"], "11");
    assert_eq!(request.attrs["completion_tokens"], "7");
    assert!(
        request.attrs["latency_ms"].parse::<u64>().is_ok(),
        "{request:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_otel_endpoint_is_refused_before_the_host_starts_without_its_secret() {
    let dir = plugin_dir(&["echo"]);
    let out = deckhand()
        .args(["serve", "--plugin-dir"])
        .arg(dir.path())
        .env(
            "DECKHAND_OTEL_ENDPOINT",
            "ftp://user:hunter2@collector:4318",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("otel.endpoint"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}
