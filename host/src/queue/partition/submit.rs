//! Submissions written into one partition: one job, or a batch in one
//! script call (the router picks the partition and checks the requests).

use super::super::BatchError;
use super::super::calls::{Spec, submitted};
use super::super::{QueueError, Submitted, calls};
use super::Partition;

impl Partition {
    /// Writes one checked job into this partition.
    pub(in crate::queue) async fn write_one(&self, spec: &Spec) -> Result<Submitted, QueueError> {
        self.run_write(&calls::SubmitJob { spec }).await
    }

    /// Writes a checked batch into this partition in one script
    /// call, all or nothing.
    pub(in crate::queue) async fn write_batch(
        &self,
        specs: &[Spec],
    ) -> Result<Vec<Submitted>, BatchError> {
        let reply = self
            .run_write(&calls::SubmitBatch { specs })
            .await
            .map_err(|error| BatchError { index: 0, error })?;
        match reply {
            calls::BatchReply::Written(replies) => replies
                .iter()
                .zip(specs)
                .enumerate()
                .map(|(index, (r, spec))| {
                    submitted(r, spec).map_err(|error| BatchError { index, error })
                })
                .collect(),
            calls::BatchReply::Refused { index, reply } => Err(BatchError {
                index,
                error: submitted(&reply, &specs[index.min(specs.len().saturating_sub(1))])
                    .err()
                    .unwrap_or_else(|| QueueError::Protocol("batch error without a reason".into())),
            }),
        }
    }
}
