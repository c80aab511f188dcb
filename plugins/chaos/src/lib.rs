//! `chaos`: job types that misbehave on purpose, one way each, so the tests
//! can prove the host contains them. Not for production use.
//!
//! | job type        | what it does                                          | limit it declares |
//! |-----------------|-------------------------------------------------------|-------------------|
//! | `chaos.sleep`   | sleeps `{"ms": N}` then returns `{"slept_ms": N}`      | timeout 3 s       |
//! | `chaos.spin`    | loops forever on the CPU                              | timeout 1 s       |
//! | `chaos.alloc`   | allocates without bound                               | memory 32 MiB     |
//! | `chaos.recurse` | recurses without bound                                | (stack)           |
//! | `chaos.panic`   | panics (a trap)                                       |                   |
//! | `chaos.abort`   | calls `abort()` (a trap)                              |                   |
//! | `chaos.open-file` | reads `{"path": P}` (default `/etc/passwd`)         |                   |
//! | `chaos.connect` | opens a TCP connection to `{"addr": A}`               |                   |
//! | `chaos.env`     | returns the environment and arguments it can see      |                   |
//! | `chaos.counter` | bumps a global counter and returns it (fresh instance: always 1) | |
//! | `chaos.fail`    | fails as `{"error": "retry"|"fail"|"feedback"}` until attempt `succeed_on` | |
//! | `chaos.fanout`  | submits `{"children": N}` echo jobs (each `later_ms` from now, if given; then retries until attempt `fail_until`); with `"depth": D` > 0 the children are `chaos.fanout` jobs of depth D-1 | |
//! | `chaos.llm`     | asks the host's LLM `{"prompt": P}`                   | needs LLM         |
//! | `chaos.talk`    | logs and reports progress, then returns               |                   |
//! | `chaos.fetch`   | one outbound request `{"method", "url", "body_bytes"}`; the status, or the host's refusal as the error | |
//! | `chaos.kv`      | `{"set": K, "value": V}` or `{"get": K}` in its key-value store; the value, or the store's refusal as the error | |
//! | `chaos.leak`    | reads the variable `secret` and tries to leak it: logs it, prints it, returns it (or fails with it, `{"fail": true}`) | |
//! | `chaos.wait`    | suspends on a wait (`name`, `question`, `timeout_ms`, `on_timeout`: `fail`, `complete`, `dead-letter`); resumed, returns the value it was handed | |

use deckhand_guest::{
    Guest, Job, JobError, JobTypeInfo, PluginInfo, RetryFeedback, jobs, keyvalue, llm, log,
    payload, variables,
};
use serde_json::{Value, json};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

struct Chaos;

const MIB: u64 = 1024 * 1024;

fn job_type(
    name: &str,
    description: &str,
    timeout_ms: Option<u64>,
    memory: Option<u64>,
) -> JobTypeInfo {
    JobTypeInfo {
        name: name.into(),
        description: description.into(),
        needs_llm: name == "chaos.llm",
        timeout_ms,
        memory_limit_bytes: memory,
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

// Unbounded on purpose: the host must turn this into a stack-overflow error.
// No addressable locals, so every frame lives on the wasm stack (which the
// host limits) rather than on the shadow stack in linear memory.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    recurse(black_box(depth + 1))
        .wrapping_mul(3)
        .wrapping_add(depth)
}

impl Guest for Chaos {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "chaos".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            job_types: vec![
                job_type(
                    "chaos.sleep",
                    "Sleeps for payload.ms milliseconds.",
                    Some(3_000),
                    None,
                ),
                job_type("chaos.spin", "Loops forever.", Some(1_000), None),
                job_type(
                    "chaos.alloc",
                    "Allocates without bound.",
                    None,
                    Some(32 * MIB),
                ),
                job_type("chaos.recurse", "Recurses without bound.", None, None),
                job_type("chaos.panic", "Panics.", None, None),
                job_type("chaos.abort", "Aborts.", None, None),
                job_type("chaos.open-file", "Tries to read a file.", None, None),
                job_type(
                    "chaos.connect",
                    "Tries to open a TCP connection.",
                    None,
                    None,
                ),
                job_type("chaos.env", "Returns the environment it sees.", None, None),
                job_type(
                    "chaos.counter",
                    "Returns a global counter bumped per call.",
                    None,
                    None,
                ),
                job_type("chaos.fail", "Fails until a given attempt.", None, None),
                job_type("chaos.fanout", "Submits child echo jobs.", None, None),
                job_type("chaos.llm", "Asks the host's LLM.", None, None),
                job_type("chaos.talk", "Logs and reports progress.", None, None),
                job_type("chaos.leak", "Tries to leak a secret.", None, None),
                job_type("chaos.fetch", "Makes one outbound request.", None, None),
                job_type("chaos.kv", "Sets or gets a key.", None, None),
                job_type("chaos.lookup", "Looks jobs up by id.", None, None),
                job_type("chaos.wait", "Suspends until resumed.", None, None),
            ],
        }
    }

    fn process(job: Job) -> Result<String, JobError> {
        let p: Value = payload(&job)?;
        match job.job_type.as_str() {
            "chaos.sleep" => {
                let ms = p["ms"].as_u64().unwrap_or(100);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                Ok(json!({ "slept_ms": ms, "id": job.id, "attempt": job.attempt }).to_string())
            }
            "chaos.spin" => {
                let mut n = 0u64;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "chaos.alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![1u8; 1 << 20]));
                }
            }
            "chaos.recurse" => Ok(recurse(0).to_string()),
            "chaos.panic" => panic!("chaos.panic was asked to panic"),
            "chaos.abort" => std::process::abort(),
            "chaos.open-file" => {
                let path = p["path"].as_str().unwrap_or("/etc/passwd");
                match std::fs::read(path) {
                    Ok(bytes) => Ok(json!({ "read_bytes": bytes.len() }).to_string()),
                    Err(e) => Err(JobError::Fail(format!(
                        "cannot open {path}: {e} ({:?})",
                        e.kind()
                    ))),
                }
            }
            "chaos.connect" => {
                let addr = p["addr"].as_str().unwrap_or("127.0.0.1:6379");
                match std::net::TcpStream::connect(addr) {
                    Ok(_) => Ok(json!({ "connected": addr }).to_string()),
                    Err(e) => Err(JobError::Fail(format!(
                        "cannot connect to {addr}: {e} ({:?})",
                        e.kind()
                    ))),
                }
            }
            "chaos.env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
                let args: Vec<String> = std::env::args().collect();
                let cwd = std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .ok();
                Ok(json!({ "vars": vars, "args": args, "cwd": cwd }).to_string())
            }
            "chaos.counter" => {
                let n = COUNTER.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(json!({ "count": n }).to_string())
            }
            "chaos.fail" => fail(&job, &p),
            "chaos.fanout" => fanout(&job, &p),
            "chaos.llm" => ask_llm(&p),
            "chaos.lookup" => lookup(&p),
            "chaos.wait" => wait(&job, &p),
            "chaos.leak" => leak(&p),
            "chaos.fetch" => fetch(&p),
            "chaos.kv" => kv(&p),
            "chaos.talk" => {
                log::log(
                    log::Level::Info,
                    "talking",
                    &[("job".into(), job.id.clone())],
                );
                jobs::progress(0.5, "half way");
                jobs::progress(1.0, "done");
                Ok(json!({ "talked": true }).to_string())
            }
            other => Err(JobError::Fail(format!(
                "chaos does not handle job type {other}"
            ))),
        }
    }
}

/// `chaos.wait`: a resumed attempt returns what it was handed; any other
/// suspends and returns `{"as_is": attempt}` (kept for a wait that
/// completes as is). `"twice": true` asks to suspend a second time and
/// reports the host's answer.
fn wait(job: &Job, p: &Value) -> Result<String, JobError> {
    let resumed = job
        .feedback
        .as_deref()
        .and_then(|f| serde_json::from_str::<Value>(f).ok())
        .and_then(|f| f.get("resume").cloned());
    if let Some(resumed) = resumed {
        return Ok(json!({ "resumed": resumed, "attempt": job.attempt }).to_string());
    }
    let on_timeout = match p["on_timeout"].as_str().unwrap_or("fail") {
        "complete" => jobs::OnTimeout::Complete,
        "dead-letter" => jobs::OnTimeout::DeadLetter,
        _ => jobs::OnTimeout::Fail,
    };
    let asked = jobs::Wait {
        name: p["name"].as_str().unwrap_or("chaos").to_string(),
        question: p.get("question").unwrap_or(&json!({})).to_string(),
        timeout_ms: p["timeout_ms"].as_u64().unwrap_or(60_000),
        on_timeout,
    };
    jobs::suspend(&asked).map_err(JobError::Fail)?;
    let again = p["twice"]
        .as_bool()
        .unwrap_or(false)
        .then(|| jobs::suspend(&asked).err());
    Ok(json!({ "as_is": job.attempt, "second": again }).to_string())
}

/// `chaos.fail`: fails until attempt `succeed_on`, as `error` says (`retry`,
/// `fail`, `feedback`, `trap`); `say` is added to the error.
fn fail(job: &Job, p: &Value) -> Result<String, JobError> {
    let succeed_on = p["succeed_on"].as_u64().unwrap_or(u64::MAX);
    if u64::from(job.attempt) >= succeed_on {
        return Ok(json!({ "attempt": job.attempt, "feedback": job.feedback }).to_string());
    }
    // `say`: text added to the error (a newline, say).
    let say = p["say"].as_str().unwrap_or("");
    let message = format!("attempt {} failed on purpose{say}", job.attempt);
    match p["error"].as_str().unwrap_or("retry") {
        "fail" => Err(JobError::Fail(message)),
        "feedback" => Err(JobError::RetryWithFeedback(RetryFeedback {
            message,
            feedback: format!("feedback from attempt {}", job.attempt),
        })),
        "trap" => panic!("{message}"),
        _ => Err(JobError::Retry(message)),
    }
}

/// `chaos.fanout`: submits `children` echo jobs (`later_ms`: each runs no
/// earlier than that from now); `fail_until`: asks for a retry after
/// submitting, until that attempt.
fn fanout(job: &Job, p: &Value) -> Result<String, JobError> {
    let n = p["children"].as_u64().unwrap_or(2);
    let depth = p["depth"].as_u64().unwrap_or(0);
    let mut ids = Vec::new();
    for i in 0..n {
        // `depth`: a fan-out of fan-outs, `depth` levels below this one.
        let (job_type, payload) = if depth > 0 {
            ("chaos.fanout", json!({ "children": n, "depth": depth - 1 }))
        } else {
            ("echo", json!({ "parent": job.id, "index": i }))
        };
        let child = jobs::ChildJob {
            job_type: job_type.into(),
            payload: payload.to_string(),
            priority: None,
            id: None,
            metadata: vec![],
            depends_on: vec![],
            max_retries: None,
            run_after_failure: false,
        };
        // `later_ms`: each child runs no earlier than that from now.
        let id = match p["later_ms"].as_u64() {
            Some(ms) => jobs::submit_later(&child, ms),
            None => jobs::submit(&child),
        };
        ids.push(id.map_err(JobError::Fail)?);
    }
    // `fail_until`: ask for a retry after submitting, until
    // that attempt (a parent that dies after its fan-out).
    let fail_until = p["fail_until"].as_u64().unwrap_or(0);
    if u64::from(job.attempt) < fail_until {
        return Err(JobError::Retry(format!(
            "failing attempt {} after the fan-out",
            job.attempt
        )));
    }
    Ok(json!({ "children": ids }).to_string())
}

/// `chaos.llm`: asks the host's LLM `prompt`.
fn ask_llm(p: &Value) -> Result<String, JobError> {
    let prompt = p["prompt"].as_str().unwrap_or("Say hello.");
    let request = llm::Request {
        messages: vec![llm::Message {
            role: "user".into(),
            content: prompt.into(),
        }],
        model: None,
        temperature: None,
        max_tokens: None,
        response_schema: None,
    };
    match llm::generate(&request) {
        Ok(r) => Ok(json!({ "content": r.content, "cached": r.cached }).to_string()),
        Err(e) => Err(JobError::Fail(format!("llm: {e:?}"))),
    }
}

/// `chaos.lookup`: looks up `ids` and answers the ids found (null for
/// none).
fn lookup(p: &Value) -> Result<String, JobError> {
    let ids: Vec<String> = p["ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let found: Vec<Option<String>> = jobs::get_many(&ids)
        .into_iter()
        .map(|j| j.map(|j| j.id))
        .collect();
    Ok(json!({ "found": found }).to_string())
}

deckhand_guest::export!(Chaos);

/// Reads the secret it was granted and puts it everywhere a job can speak:
/// the log (message and field), stderr, and its result or error.
fn leak(p: &Value) -> Result<String, JobError> {
    let secret = variables::get("secret").map_err(|e| JobError::Fail(format!("{e:?}")))?;
    let fields = [("secret".to_string(), secret.clone())];
    log::log(
        log::Level::Info,
        &format!("the secret is {secret}"),
        &fields,
    );
    eprintln!("stderr holds {secret}");
    if p["fail"].as_bool() == Some(true) {
        return Err(JobError::Fail(format!("failing with {secret}")));
    }
    Ok(json!({ "secret": secret }).to_string())
}

/// One outbound request as the payload says; the host's refusal fails the job.
fn fetch(p: &Value) -> Result<String, JobError> {
    let method = p["method"].as_str().unwrap_or("GET");
    let url = p["url"].as_str().unwrap_or("");
    let size = p["body_bytes"].as_u64().unwrap_or(0).min(64 << 20) as usize;
    match deckhand_guest::http::request(method, url, &[], &vec![b'x'; size]) {
        Ok(r) => Ok(json!({ "status": r.status, "bytes": r.body.len() }).to_string()),
        Err(e) => Err(JobError::Fail(e.to_string())),
    }
}

/// One key-value call as the payload says; a refusal fails the job.
fn kv(p: &Value) -> Result<String, JobError> {
    let refused = |e: keyvalue::KvError| JobError::Fail(format!("{e:?}"));
    if let Some(key) = p["set"].as_str() {
        let value = p["value"].as_str().unwrap_or("");
        keyvalue::set(key, value, None).map_err(refused)?;
        return Ok(json!({ "set": key }).to_string());
    }
    let key = p["get"].as_str().unwrap_or("");
    let value = keyvalue::get(key).map_err(refused)?;
    Ok(json!({ "value": value }).to_string())
}
