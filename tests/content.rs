//! The content store end to end: real hosts, a real Redis, the `chaos.llm`
//! job type calling the host's LLM client, and a fake LLM API that counts
//! what would have been paid for.

use crate::common;

use std::time::Duration;

use common::fake_llm::{Answer, FakeLlm};
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{JobRecord, JobStatus, Queue, QueueConfig, Submitted};
use serde_json::{Value, json};

struct Setup {
    redis: TestRedis,
    fake: FakeLlm,
    content: tempfile::TempDir,
    _plugins: tempfile::TempDir,
    hosts: Vec<Host>,
}

async fn setup(hosts: usize) -> (Setup, Queue) {
    let redis = TestRedis::start();
    let fake = FakeLlm::start().await;
    let content = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(&["chaos"]);
    let url = fake.url();
    let content_dir = content.path().display().to_string();
    let hosts = (0..hosts)
        .map(|i| {
            Host::start(
                &format!("h{i}"),
                &redis.url(),
                plugins.path(),
                &[
                    "--llm-provider",
                    "openai",
                    "--llm-base-url",
                    &url,
                    "--llm-model",
                    "fake",
                    "--content-dir",
                    &content_dir,
                    "--heartbeat-ms",
                    "200",
                    "--batch-size",
                    "8",
                ],
            )
        })
        .collect();
    let q = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();
    common::registered(&q, &["chaos.llm"], None).await;
    (
        Setup {
            redis,
            fake,
            content,
            _plugins: plugins,
            hosts,
        },
        q,
    )
}

fn llm_job(prompt: &str, force: bool) -> NewJob {
    NewJob {
        force,
        run_after_failure: false,
        ..NewJob::new("chaos.llm", json!({ "prompt": prompt }).into())
    }
}

async fn wait(q: &Queue, s: &Setup, ids: &[String]) -> Vec<JobRecord> {
    match q.wait_for_jobs(ids, Duration::from_secs(120)).await {
        Ok(r) => r,
        Err(e) => {
            let logs: Vec<String> = s.hosts.iter().map(|h| h.log()).collect();
            panic!("{e}\n{}", logs.join("\n----\n"));
        }
    }
}

/// The same content, 1,000 times, concurrently from several clients while
/// two hosts run: one job, one LLM call. Again: zero. Forced: one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_content_is_paid_for_once() {
    let (s, q) = setup(2).await;
    // Slow answers keep the first job in flight while the rest arrive.
    s.fake
        .always(Answer::content("a pantry").after(Duration::from_millis(300)));

    let mut tasks = Vec::new();
    for _ in 0..4 {
        let client = Queue::connect(&s.redis.url(), QueueConfig::default())
            .await
            .unwrap();
        tasks.push(tokio::spawn(async move {
            let mut out: Vec<Submitted> = Vec::new();
            for _ in 0..250 {
                out.push(client.submit(llm_job("same text", false)).await.unwrap());
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(all.len(), 1000);
    let ran: Vec<&Submitted> = all.iter().filter(|x| x.created && !x.cache_hit).collect();
    assert_eq!(ran.len(), 1, "exactly one job runs");
    let first = ran[0].id.clone();
    for x in &all {
        assert!(x.id == first || x.cache_hit, "{x:?}");
    }
    let mut ids: Vec<String> = all.iter().map(|x| x.id.clone()).collect();
    ids.dedup();
    let done = wait(&q, &s, &ids).await;
    assert!(done.iter().all(|j| j.status == JobStatus::Completed));
    assert_eq!(s.fake.calls(), 1, "one LLM call for 1,000 submissions");
    let job = q.get(&first).await.unwrap().unwrap();
    assert_eq!(
        (job.llm_calls, job.prompt_tokens, job.completion_tokens),
        (1, 11, 7)
    );
    assert!(!job.cache_hit);

    // Again: answered from the store, no call.
    let again = q.submit(llm_job("same text", false)).await.unwrap();
    assert!(again.cache_hit && again.status == JobStatus::Completed);
    let rec = q.get(&again.id).await.unwrap().unwrap();
    assert_eq!(rec.result, job.result);
    assert!(rec.cache_hit);
    assert_eq!(s.fake.calls(), 1);

    // Forced: runs and pays again.
    let forced = q.submit(llm_job("same text", true)).await.unwrap();
    assert!(forced.created && !forced.cache_hit);
    wait(&q, &s, std::slice::from_ref(&forced.id)).await;
    assert_eq!(s.fake.calls(), 2);
}

/// A whole batch twice: the second run makes no LLM call. Then export,
/// wipe Redis, import: every result is still a cache hit. And a wiped Redis
/// without an import still does not pay: the hosts' content directory has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_is_free_and_results_survive_a_wiped_redis() {
    let (s, q) = setup(1).await;
    s.fake.always(Answer::content("answer"));
    let prompts: Vec<String> = (0..20).map(|i| format!("record {i}")).collect();

    let mut ids = Vec::new();
    for p in &prompts {
        ids.push(q.submit(llm_job(p, false)).await.unwrap().id);
    }
    wait(&q, &s, &ids).await;
    assert_eq!(s.fake.calls(), 20);

    for p in &prompts {
        let again = q.submit(llm_job(p, false)).await.unwrap();
        assert!(again.cache_hit, "{p}");
    }
    assert_eq!(s.fake.calls(), 20, "the second run is free");

    // Export, wipe, import.
    let export = tempfile::tempdir().unwrap();
    let url = s.redis.url();
    let out = deckhand()
        .args(["content", "export"])
        .arg(export.path())
        .args(["--redis-url", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("exported 20 result(s)"));
    let _: () = ::redis::cmd("FLUSHALL").query(&mut s.redis.conn()).unwrap();
    common::registered(&q, &["chaos.llm"], None).await;
    let out = deckhand()
        .args(["content", "import"])
        .arg(export.path())
        .args(["--redis-url", &url])
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("imported 20 result(s)"),
        "{}",
        stderr(&out)
    );
    for p in &prompts {
        assert!(q.submit(llm_job(p, false)).await.unwrap().cache_hit, "{p}");
    }
    assert_eq!(s.fake.calls(), 20);

    // Wiped again, no import: the job is queued, and the host completes it
    // from its content directory without calling the LLM.
    let _: () = ::redis::cmd("FLUSHALL").query(&mut s.redis.conn()).unwrap();
    common::registered(&q, &["chaos.llm"], None).await;
    let lost = q.submit(llm_job(&prompts[3], false)).await.unwrap();
    assert!(lost.created && !lost.cache_hit);
    let rec = &wait(&q, &s, std::slice::from_ref(&lost.id)).await[0];
    assert_eq!(rec.status, JobStatus::Completed);
    assert!(rec.cache_hit);
    assert_eq!(s.fake.calls(), 20);
    // The content directory is the durable copy the hosts wrote.
    let files = deckhand::content::ContentDir::new(s.content.path())
        .all()
        .unwrap();
    assert_eq!(files.len(), 20);
    assert!(files.iter().all(|f| f.job_type == "chaos.llm"));
}

/// A job that died does not block its content: the next submission runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_job_leaves_its_content_submittable() {
    let (s, q) = setup(1).await;
    s.fake.script([Answer::status(401, "bad key")]);
    let first = q.submit(llm_job("doomed", false)).await.unwrap();
    let rec = &wait(&q, &s, std::slice::from_ref(&first.id)).await[0];
    assert_eq!(rec.status, JobStatus::Dead);

    s.fake.always(Answer::content("fine now"));
    let second = q.submit(llm_job("doomed", false)).await.unwrap();
    assert!(second.created && !second.cache_hit);
    assert_ne!(second.id, first.id);
    let rec = &wait(&q, &s, std::slice::from_ref(&second.id)).await[0];
    assert_eq!(rec.status, JobStatus::Completed);
    let result: Value = serde_json::from_str(rec.result.as_deref().unwrap()).unwrap();
    assert_eq!(result["content"], "fine now");
}

/// Job types that do not use an LLM are never served from the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_types_without_an_llm_are_not_cached() {
    let (s, q) = setup(1).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let sub = q
            .submit(NewJob::new("chaos.counter", Payload::parse("{}").unwrap()))
            .await
            .unwrap();
        assert!(sub.created && !sub.cache_hit);
        ids.push(sub.id);
    }
    assert_ne!(ids[0], ids[1]);
    wait(&q, &s, &ids).await;
}

/// `deckhand bulk` over a file whose records repeat: each repeat attaches
/// to the first record's job (one LLM call per distinct record), is
/// followed through that job and gets its own line with the same result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_run_follows_repeated_records_through_the_job_they_attached_to() {
    let (s, _q) = setup(1).await;
    // Slow answers keep the first jobs in flight while the repeats arrive.
    s.fake
        .always(Answer::content("a pantry").after(Duration::from_millis(200)));
    let work = tempfile::tempdir().unwrap();
    let records = work.path().join("records.jsonl");
    let out = work.path().join("out.jsonl");
    let distinct: Vec<String> = (0..5)
        .map(|i| json!({ "prompt": format!("record {i}") }).to_string())
        .collect();
    let lines: Vec<&String> = distinct.iter().chain(&distinct).chain(&distinct).collect();
    let text: Vec<&str> = lines.iter().map(|l| l.as_str()).collect();
    std::fs::write(&records, text.join("\n") + "\n").unwrap();

    // Every end is heard as it happens: bulk's periodic re-read of the
    // open jobs would come after this timeout.
    let done = deckhand()
        .args(["bulk", "chaos.llm"])
        .arg(&records)
        .arg("--out")
        .arg(&out)
        .args(["--redis-url", &s.redis.url(), "--timeout", "10"])
        .output()
        .unwrap();
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(
        stdout(&done).contains("15 records: 15 completed"),
        "{}",
        stdout(&done)
    );
    assert_eq!(s.fake.calls(), 5, "one call per distinct record");
    let written: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(written.len(), 15);
    for (i, line) in written.iter().enumerate() {
        assert_eq!(line["status"], "completed", "{line}");
        assert_eq!(line["result"], written[i % 5]["result"], "record {i}");
        assert!(!line["result"].is_null(), "{line}");
    }
    // The repeats were followed through the first records' jobs.
    let ids: Vec<&str> = written.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(&ids[5..10], &ids[..5]);
    assert_eq!(&ids[10..], &ids[..5]);
}
