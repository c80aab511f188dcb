//! The queue's semantics against a real Redis (one private server per test).

use crate::common;

use std::time::Duration;

use common::redis::TestRedis;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{
    Ack, Cancel, ClaimedJob, Completion, JobStatus, MAX_COMPLETE_BATCH, Queue, QueueConfig,
    QueueError, RetryStrategy,
};
use deckhand::runtime::JobFailure;

mod leases;
mod lifecycle;
mod order;

const HOST: &str = "test-host";
const LEASE: Duration = Duration::from_secs(30);

async fn queue_with(redis: &TestRedis, config: QueueConfig) -> Queue {
    common::queue_with_types(&redis.url(), config, HOST, &["a", "b", "echo"]).await
}

async fn queue(redis: &TestRedis) -> Queue {
    queue_with(redis, QueueConfig::default()).await
}

fn job(job_type: &str, payload: &str) -> NewJob {
    NewJob::new(job_type, Payload::parse(payload).unwrap())
}

async fn submit(q: &Queue, req: NewJob) -> String {
    q.submit(req).await.unwrap().id
}

async fn claim_one(q: &Queue, types: &[&str]) -> Option<ClaimedJob> {
    q.claim(HOST, types, 1, LEASE)
        .await
        .unwrap()
        .into_iter()
        .next()
}

async fn status(q: &Queue, id: &str) -> JobStatus {
    q.get(id).await.unwrap().unwrap().status
}

fn retry(message: &str) -> JobFailure {
    JobFailure::Retry {
        message: message.into(),
    }
}

/// Claims a job of `job_type`, waiting for scheduled retries to come due.
async fn claim_eventually(q: &Queue, job_type: &str) -> ClaimedJob {
    for _ in 0..200 {
        if let Some(j) = claim_one(q, &[job_type]).await {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {job_type} job became ready within 10 s");
}

fn no_backoff(max_retries: u32) -> QueueConfig {
    QueueConfig {
        retry: RetryStrategy {
            max_retries,
            backoff_factor_secs: 0.0,
            jitter: false,
            ..RetryStrategy::default()
        },
        ..QueueConfig::default()
    }
}
