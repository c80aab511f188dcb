//! Durable waits: a running job suspends on a token (`suspend.lua`), a
//! value from outside resumes it (`resume.lua`), and the waits that run out
//! end as their policy says (`expire_waits.lua`, a maintenance duty).
//!
//! A suspended job is a record and an entry in `P:suspended`, nothing
//! else: no lease, no running count (so no cap or slot), no instance. It
//! lives in Redis like any other state, so host restarts and failovers
//! keep it as they keep a scheduled retry.

use crate::job::{Wait, WaitError, WaitToken, wait};

use super::*;

/// Most waits one maintenance call ends per partition.
const EXPIRE_BATCH: u32 = 500;

/// What a resume found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumed {
    /// The job is ready again, the value in its feedback.
    Resumed,
    /// The wait was resumed before, ran out, or the job was cancelled:
    /// nothing was written.
    Ended,
    /// No job waits on this token: nothing was written.
    Unknown,
}

impl Queue {
    /// Suspends `job` (this host holds its lease) on `wait`, keeping
    /// `result` for a wait that ends `complete`. `token` is what resumes it.
    pub async fn suspend(
        &self,
        job: &ClaimedJob,
        wait: &Wait,
        token: &WaitToken,
        result: &str,
        plugin_version: &str,
    ) -> Result<Ack, QueueError> {
        self.of_token(&job.token)
            .run_write(&calls::SuspendJob {
                id: &job.id,
                lease_token: &job.token,
                wait_token: token,
                wait,
                result,
                plugin_version,
            })
            .await
    }

    /// Resumes the job waiting on `token` with `value` (JSON text).
    /// A token that does not parse, or a value that is not JSON within its
    /// bound, is refused before anything is sent.
    pub async fn resume_wait(&self, token: &str, value: &str) -> Result<Resumed, QueueError> {
        let invalid = |field, e: WaitError| QueueError::Invalid {
            field,
            reason: e.to_string(),
        };
        let token = WaitToken::parse(token).map_err(|e| invalid("token", e))?;
        wait::check_value(value).map_err(|e| invalid("value", e))?;
        self.holder(&token.job_id)
            .await?
            .run_write(&calls::ResumeWait {
                token: &token,
                value,
            })
            .await
    }

    /// Ends the waits that ran out, as each one's policy says. Returns
    /// (id, new status) pairs.
    pub async fn expire_waits(&self) -> Result<Vec<(String, JobStatus)>, QueueError> {
        let ended = self
            .on_every(|part| async move {
                let lifetimes = part.lifetimes();
                part.run_write(&calls::ExpireWaits {
                    lifetimes,
                    most: EXPIRE_BATCH,
                })
                .await
            })
            .await?;
        Ok(ended.into_iter().flatten().collect())
    }
}
