//! The content directory from a host's side: a job whose content's result
//! the directory keeps completes from it without running (the Redis index
//! lost it, the directory did not), and each completed result is kept.
//! On a partitioned queue the same goes for a result another partition
//! shares (see `queue/shared_content.rs`).

use super::*;
use crate::content::StoredResult;

impl Worker {
    /// Completes `job` from the content directory when the Redis index lost
    /// its content's result but the directory has it (no run, no paying
    /// again); false when the directory has nothing for it.
    pub(super) async fn complete_from_directory(&self, job: &ClaimedJob) -> bool {
        let stored = match self.queue.shared_result(job).await {
            Ok(Some(shared)) => Some(shared),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(job_id = %job.id, "cannot read the shared content store: {e}");
                None
            }
        };
        let Some((result, version)) = stored.or_else(|| {
            self.stored_result(job)
                .map(|s| (s.result, s.plugin_version))
        }) else {
            return false;
        };
        match self.completer.complete(job, &result, &version, true).await {
            Ok(ack) => {
                tracing::info!(job_id = %job.id, ?ack, "completed from the content directory")
            }
            Err(e) => tracing::warn!(job_id = %job.id, "cannot record cached result: {e}"),
        }
        true
    }

    /// The content directory's result for this job's content, if any.
    fn stored_result(&self, job: &ClaimedJob) -> Option<StoredResult> {
        if job.forced {
            return None;
        }
        let dir = self.services.content_dir.as_ref()?;
        let hash = job.content_hash.as_deref()?;
        match dir.read(&job.job_type, hash) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(job_id = %job.id, "content directory: {e}");
                None
            }
        }
    }

    /// Writes a completed result to the content directory.
    pub(super) fn keep_result(&self, job: &ClaimedJob, result: &str, version: &str) {
        let (Some(dir), Some(hash)) = (&self.services.content_dir, &job.content_hash) else {
            return;
        };
        let stored = StoredResult {
            job_type: job.job_type.clone(),
            content_hash: hash.clone(),
            result: result.to_string(),
            job_id: job.id.clone(),
            plugin_version: version.to_string(),
            stored_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        };
        if let Err(e) = dir.write(&stored) {
            tracing::warn!(job_id = %job.id, "cannot write the content directory: {e}");
        }
    }
}
