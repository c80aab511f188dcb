//! Writes a host's results to the queue in batches.
//!
//! A no-op job runs in tens of microseconds, far less than a Redis round
//! trip, so one write per job would make Redis the limit. Job tasks hand
//! their results to one writer task instead; it sends everything that
//! arrived while its previous write was in flight as one `complete` call.
//! An idle host therefore writes each result at once (a batch of one), and a
//! busy one pays one round trip for many jobs. Each result is still checked
//! against its own lease.
//!
//! On a partitioned queue each partition has its own writer: a batch goes
//! to one partition's master, and a slow partition does not hold up the
//! results bound for the others.

use tokio::sync::{mpsc, oneshot};

use crate::queue::{Ack, ClaimedJob, Completion, MAX_COMPLETE_BATCH, Queue};

/// One result waiting to be written, and who waits for the answer.
struct Pending {
    job: ClaimedJob,
    result: String,
    version: String,
    cache_hit: bool,
    reply: oneshot::Sender<Result<Ack, String>>,
}

/// The job tasks' side: hands a result over to the writer of its lease's
/// partition and waits until it is written.
pub(super) struct Completer {
    queue: Queue,
    /// One per partition, in partition order.
    tx: Vec<mpsc::UnboundedSender<Pending>>,
}

/// The writer's side, until the worker starts it.
pub(super) struct Writer {
    rx: mpsc::UnboundedReceiver<Pending>,
}

/// A completer for `queue`, and a writer for each of its partitions.
pub(super) fn channel(queue: &Queue) -> (Completer, Vec<Writer>) {
    let (tx, writers) = (0..queue.partitions())
        .map(|_| {
            let (tx, rx) = mpsc::unbounded_channel();
            (tx, Writer { rx })
        })
        .unzip();
    let completer = Completer {
        queue: queue.clone(),
        tx,
    };
    (completer, writers)
}

impl Completer {
    /// Records `result` for `job` (in the next batch) and returns the
    /// queue's answer for it. An error means nothing was written for it;
    /// the caller may try again.
    pub(super) async fn complete(
        &self,
        job: &ClaimedJob,
        result: &str,
        version: &str,
        cache_hit: bool,
    ) -> Result<Ack, String> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            job: job.clone(),
            result: result.to_string(),
            version: version.to_string(),
            cache_hit,
            reply,
        };
        let p = self.queue.lease_partition(&job.token) as usize;
        self.tx
            .get(p)
            .or(self.tx.first())
            .ok_or_else(|| "the host has no result writer".to_string())?
            .send(pending)
            .map_err(|_| "the result writer has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the result writer stopped before answering".to_string())?
    }
}

impl Writer {
    /// Writes batches until every [`Completer`] is gone.
    pub(super) async fn run(mut self, queue: Queue) {
        let mut batch: Vec<Pending> = Vec::new();
        while let Some(first) = self.rx.recv().await {
            batch.push(first);
            while batch.len() < MAX_COMPLETE_BATCH {
                match self.rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let completions: Vec<Completion<'_>> = batch
                .iter()
                .map(|p| Completion {
                    job: &p.job,
                    result: &p.result,
                    plugin_version: &p.version,
                    cache_hit: p.cache_hit,
                })
                .collect();
            let written = queue.complete_many(&completions).await;
            drop(completions);
            match written {
                Ok(acks) => {
                    for (pending, ack) in batch.drain(..).zip(acks) {
                        let _ = pending.reply.send(Ok(ack));
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    for pending in batch.drain(..) {
                        let _ = pending.reply.send(Err(message.clone()));
                    }
                }
            }
        }
    }
}
