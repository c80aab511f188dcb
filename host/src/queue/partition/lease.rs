//! A lease's single-slot steps: a claim in this partition, results
//! recorded here (the router routes by the lease token and adds up).

use super::super::{Ack, Claim, Completion, QueueError, calls};
use super::{Partition, claim_nonce};
use std::time::Duration;

impl Partition {
    /// Claims up to `count` ready jobs of the given types for `host` from
    /// this partition.
    pub(in crate::queue) async fn claim(
        &self,
        host: &str,
        job_types: &[&str],
        count: usize,
        lease: Duration,
    ) -> Result<Claim, QueueError> {
        self.run(&calls::ClaimJobs {
            count,
            lease,
            host,
            // Makes this call's fencing tokens unique even if a failover
            // makes Redis' token counter hand out the same numbers again,
            // and names the partition, so the lease's later calls go
            // straight to it.
            nonce: claim_nonce(self.index()),
            partitions: self.partitions(),
            job_types,
        })
        .await
    }

    /// Records results of leases handed out here, in one atomic step and
    /// one round trip; one ack per completion, in order.
    pub(in crate::queue) async fn complete(
        &self,
        completions: &[Completion<'_>],
    ) -> Result<Vec<Ack>, QueueError> {
        self.run_write(&calls::CompleteJobs {
            result_ttl_secs: self.config.result_ttl_secs,
            completions,
        })
        .await
    }
}
