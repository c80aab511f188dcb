//! Periodic jobs: each tick fires exactly once across several hosts, one
//! of them killed mid-run; missed ticks are caught up once; schedules come
//! from the configuration, the API and the CLI; bad ones are refused.
//! Real Redis, the real binary and real components.

use crate::common;

use std::time::Duration;

use ::redis::AsyncCommands;
use common::api::Api;
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{FIRE_BATCH, Fired, Queue, QueueConfig, QueueError};
use deckhand::schedule::Schedule;
use serde_json::json;

/// The ids of the jobs a schedule has fired (read straight from Redis).
async fn fired(redis: &TestRedis, name: &str) -> Vec<u64> {
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = conn
        .keys(format!("{{deckhand}}:job:cron:{name}:*"))
        .await
        .unwrap();
    let mut ticks: Vec<u64> = keys
        .iter()
        .map(|k| k.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    ticks.sort_unstable();
    ticks
}

fn fired_lines(hosts: &[Host], name: &str) -> usize {
    let needle = format!("schedule={name}");
    hosts
        .iter()
        .map(|h| {
            h.log()
                .lines()
                .filter(|l| l.contains("schedule fired") && l.contains(&needle))
                .count()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tick_fires_once_across_three_hosts_one_killed_mid_run() {
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["echo"]);
    let mut hosts = vec![
        Host::start("cron-a", &redis.url(), plugins.path(), &[]),
        Host::start("cron-b", &redis.url(), plugins.path(), &[]),
        Host::start("cron-c", &redis.url(), plugins.path(), &[]),
    ];
    for host in &hosts {
        Api::new(host).ready(host).await;
    }
    let out = deckhand()
        .args(["schedule", "add", "every-second", "--cron", "* * * * * *"])
        .args(["--job-type", "echo", "--payload", r#"{"from":"cron"}"#])
        .args(["--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    tokio::time::sleep(Duration::from_millis(3200)).await;
    hosts[0].kill9();
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let api = Api::new(&hosts[1]);
    let (status, body) = api
        .call(reqwest::Method::DELETE, "/v1/schedules/every-second", None)
        .await;
    assert_eq!(status, 200, "{body}");
    // A fire already under way when the schedule went has landed by now.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let ticks = fired(&redis, "every-second").await;
    assert!(ticks.len() >= 5, "{ticks:?}");
    for pair in ticks.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            1000,
            "a tick missed or doubled: {ticks:?}"
        );
    }
    assert_eq!(
        fired_lines(&hosts, "every-second"),
        ticks.len(),
        "one host submitted each tick"
    );
    let ids: Vec<String> = ticks
        .iter()
        .map(|t| format!("cron:every-second:{t}"))
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let done = api.wait(&refs).await;
    for job in &done {
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["metadata"]["schedule"], "every-second", "{job}");
    }
    let (_, list) = api.get("/v1/schedules").await;
    assert_eq!(list["schedules"], json!([]), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_ticks_are_caught_up_once_and_schedules_come_from_everywhere() {
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["echo"]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("deckhand.toml");
    std::fs::write(
        &config,
        r#"
[[schedules]]
name = "from-file"
cron = "0 3 * * *"
job_type = "echo"
timezone = "America/Chicago"
payload = { state = "IL" }
"#,
    )
    .unwrap();
    let config_path = config.to_str().unwrap();
    let hosts = [
        Host::start_with_env(
            "catch-a",
            &redis.url(),
            plugins.path(),
            &[],
            &[("DECKHAND_CONFIG", config_path)],
        ),
        Host::start("catch-b", &redis.url(), plugins.path(), &[]),
    ];
    for host in &hosts {
        Api::new(host).ready(host).await;
    }
    let api = Api::new(&hosts[1]);
    let q = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();
    let (now, schedules) = q.schedules().await.unwrap();
    let from_file = &schedules["from-file"];
    assert_eq!(from_file.schedule.payload, json!({ "state": "IL" }));
    assert!(
        from_file.last_tick.unwrap() <= now,
        "its ticks start when it was added"
    );

    // Every minute, added over the API; then no host "ran" for ten minutes:
    // only the last missed tick fires.
    let (status, body) = api
        .call(
            reqwest::Method::PUT,
            "/v1/schedules/minutely",
            Some(json!({ "cron": "* * * * *", "job_type": "echo", "priority": 3 })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let long_ago = now - 10 * 60_000;
    let _: () = conn
        .hset("{deckhand}:ticks", "minutely", long_ago)
        .await
        .unwrap();
    let mut ticks = Vec::new();
    for _ in 0..100 {
        ticks = fired(&redis, "minutely").await;
        if !ticks.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ticks_after = fired(&redis, "minutely").await;
    assert_eq!(ticks.len(), 1, "{ticks:?}");
    assert!(
        ticks_after.len() == 1
            || (ticks_after.len() == 2 && ticks_after[1] - ticks_after[0] == 60_000),
        "one catch-up, then only the next minute's tick: {ticks_after:?}"
    );
    assert_eq!(ticks[0] % 60_000, 0);
    assert!(
        ticks[0] > now - 60_000,
        "the last missed tick, not an early one"
    );

    // Run now: a job outside the ticks; the schedule's ticks are untouched.
    let (status, body) = api.post("/v1/schedules/from-file/run", json!({})).await;
    assert_eq!(status, 201, "{body}");
    let job = api.wait(&[body["id"].as_str().unwrap()]).await.remove(0);
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["metadata"]["schedule"], "from-file");
    let out = deckhand()
        .args(["schedule", "list", "--json", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

    // Bad schedules are refused, naming the field; nothing is written.
    for (body, field) in [
        (json!({ "cron": "61 * * * *", "job_type": "echo" }), "cron"),
        (
            json!({ "cron": "* * * * *", "job_type": "echo", "timezone": "Mars/Base" }),
            "timezone",
        ),
        (
            json!({ "cron": "* * * * *", "job_type": "bad type" }),
            "job_type",
        ),
        (
            json!({ "cron": "* * * * *", "job_type": "echo", "name": "other" }),
            "name",
        ),
        (json!({ "cron": "* * * * *" }), "job_type"),
    ] {
        let (status, answer) = api
            .call(reqwest::Method::PUT, "/v1/schedules/bad", Some(body))
            .await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer.to_string().contains(field), "{field}: {answer}");
    }
    let out = deckhand()
        .args([
            "schedule",
            "add",
            "bad",
            "--cron",
            "* * *",
            "--job-type",
            "echo",
        ])
        .args(["--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cron"), "{}", stderr(&out));
    let (status, _) = api
        .call(reqwest::Method::DELETE, "/v1/schedules/nope", None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = api.post("/v1/schedules/nope/run", json!({})).await;
    assert_eq!(status, 404);
    assert!(!q.schedules().await.unwrap().1.contains_key("bad"));

    std::fs::write(
        &config,
        "[[schedules]]\nname = \"x\"\ncron = \"0 0 31 2 *\"\njob_type = \"echo\"\n",
    )
    .unwrap();
    let out = deckhand()
        .args(["serve", "--listen", "", "--redis-url", &redis.url()])
        .args(["--config", config_path])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("[[schedules]]"), "{}", stderr(&out));
    assert!(stderr(&out).contains("never comes due"), "{}", stderr(&out));
}

/// `fire.lua`'s branches: a tick fires once; the same or an older tick is
/// skipped; a removed schedule fires nothing.
#[tokio::test]
async fn a_tick_fires_once_and_never_for_a_removed_schedule() {
    let redis = TestRedis::start();
    let q = queue_with_types(&redis.url(), QueueConfig::default(), "h", &["echo"]).await;
    let schedule = schedule("s", "echo");
    q.put_schedule(&schedule).await.unwrap();
    let tick = deckhand::job::unix_ms_now() + 3_600_000;
    let fired = q.fire(&[(&schedule, tick)]).await.unwrap();
    let [Ok(Fired::Submitted(submitted))] = &fired[..] else {
        panic!("{fired:?}")
    };
    assert_eq!(submitted.id, format!("cron:s:{tick}"));
    let job = q.get(&submitted.id).await.unwrap().unwrap();
    assert_eq!(job.group.as_deref(), Some("g"));
    assert_eq!(job.metadata["tick"], tick.to_string());
    let again = q
        .fire(&[(&schedule, tick), (&schedule, tick - 1)])
        .await
        .unwrap();
    assert!(
        matches!(&again[..], [Ok(Fired::Skipped), Ok(Fired::Skipped)]),
        "{again:?}"
    );
    assert!(q.remove_schedule("s").await.unwrap());
    assert!(!q.remove_schedule("s").await.unwrap());
    let gone = q.fire(&[(&schedule, tick + 3_600_000)]).await.unwrap();
    assert!(matches!(&gone[..], [Ok(Fired::Skipped)]), "{gone:?}");
    assert!(
        q.get(&format!("cron:s:{}", tick + 3_600_000))
            .await
            .unwrap()
            .is_none()
    );
}

/// Due ticks of many schedules fire in one call per [`FIRE_BATCH`] ticks,
/// not a round trip each; a tick refused (its job type unknown) is
/// answered on its own and the others fire.
#[tokio::test]
async fn due_ticks_fire_in_one_call_per_batch_and_a_refusal_stays_its_own() {
    let redis = TestRedis::start();
    let config = QueueConfig {
        check_job_types: true,
        ..QueueConfig::default()
    };
    let q = queue_with_types(&redis.url(), config, "h", &["echo"]).await;
    let mut schedules: Vec<Schedule> = (0..FIRE_BATCH + 20)
        .map(|i| schedule(&format!("m{i}"), "echo"))
        .collect();
    schedules.insert(7, schedule("nobody-runs-it", "unknown.type"));
    for s in &schedules {
        q.put_schedule(s).await.unwrap();
    }
    let tick = deckhand::job::unix_ms_now() + 3_600_000;
    let due: Vec<(&Schedule, u64)> = schedules.iter().map(|s| (s, tick)).collect();
    // The first call loads the library (an FCALL refused, then sent again).
    let warm = NewJob::new("echo", Payload::parse("{}").unwrap());
    q.submit(warm).await.unwrap();
    let before = redis.calls("fcall");
    let fired = q.fire(&due).await.unwrap();
    assert_eq!(
        redis.calls("fcall") - before,
        2,
        "two calls for {} ticks",
        due.len()
    );
    assert_eq!(fired.len(), due.len());
    for (s, fired) in schedules.iter().zip(&fired) {
        match fired {
            Ok(Fired::Submitted(job)) => {
                assert_eq!(job.id, s.job_id(tick));
                assert!(job.created, "{job:?}");
            }
            Err(QueueError::UnknownJobType(t)) if s.name == "nobody-runs-it" => {
                assert_eq!(t, "unknown.type")
            }
            other => panic!("{}: {other:?}", s.name),
        }
    }
    let ids: Vec<String> = due.iter().map(|(s, _)| s.job_id(tick)).collect();
    let made = q.get_many(&ids).await.unwrap();
    assert_eq!(made.iter().filter(|j| j.is_some()).count(), FIRE_BATCH + 20);
    // Every tick is recorded, the refused one too: none fires again.
    let again = q.fire(&due).await.unwrap();
    assert!(
        again.iter().all(|f| matches!(f, Ok(Fired::Skipped))),
        "{again:?}"
    );
}

fn schedule(name: &str, job_type: &str) -> Schedule {
    Schedule {
        name: name.into(),
        cron: "@hourly".into(),
        job_type: job_type.into(),
        payload: json!({ "n": 1 }),
        timezone: None,
        priority: 0,
        group: Some("g".into()),
    }
}
