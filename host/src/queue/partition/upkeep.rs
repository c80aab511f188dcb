//! Work on one partition's whole keyspace: the layout migration and the
//! content index (export and import).

use std::collections::HashMap;

use redis::AsyncCommands;

use super::super::keys::{field, key};
use super::super::{LAYOUT_RUNNING, LAYOUT_WAITED_ON, QueueError, calls};
use super::Partition;

impl Partition {
    /// Every key matching the glob made of `parts` under the prefix.
    async fn scan(&self, parts: &[&str]) -> Result<Vec<String>, QueueError> {
        // Braces are not special in Redis glob patterns; the prefix cannot
        // contain the characters that are (checked in `connect`).
        let pattern = self.key(parts);
        let mut conn = self.conn();
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = conn
                .on_slot(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000),
                    self.slot(),
                )
                .await?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }

    /// Brings a queue written by older hosts to this layout, once per queue
    /// (`P:layout` records how far it got; `serve` runs this at start):
    /// 1. flags every job that others wait on (`waited_on`), without which
    ///    completing such a job would not release its waiters;
    /// 2. counts the leases of each job type into `P:running` (the caps).
    ///
    /// Returns how many jobs step 1 flagged.
    pub(in crate::queue) async fn migrate(&self) -> Result<u64, QueueError> {
        let layout: u32 = self
            .conn
            .clone()
            .get::<_, Option<u32>>(self.key(&[key::LAYOUT]))
            .await?
            .unwrap_or(0);
        if layout >= LAYOUT_RUNNING {
            return Ok(0);
        }
        let flagged = if layout < LAYOUT_WAITED_ON {
            self.flag_waited_jobs().await?
        } else {
            0
        };
        self.run(&calls::RecountRunning).await?;
        let _: () = self
            .conn
            .clone()
            .set(self.key(&[key::LAYOUT]), LAYOUT_RUNNING)
            .await?;
        Ok(flagged)
    }

    async fn flag_waited_jobs(&self) -> Result<u64, QueueError> {
        let prefix = self.key(&[key::WAITING, ""]);
        let ids: Vec<String> = self
            .scan(&["waiting", "*"])
            .await?
            .into_iter()
            .filter_map(|key| key.strip_prefix(&prefix).map(str::to_string))
            .collect();
        let mut flagged = 0;
        for chunk in ids.chunks(500) {
            flagged += self.run(&calls::MarkWaited { ids: chunk }).await?;
        }
        Ok(flagged)
    }

    /// Every result in the content index.
    pub(in crate::queue) async fn content_results(
        &self,
    ) -> Result<Vec<crate::job::StoredResult>, QueueError> {
        let keys = self.scan(&["content", "*"]).await?;
        let mut conn = self.conn();
        let prefix = format!("{}:{}:", self.tag(), key::CONTENT);
        let mut out = Vec::new();
        // One pipelined round trip per 500 entries.
        for chunk in keys.chunks(500) {
            let mut pipe = redis::pipe();
            for key in chunk {
                pipe.hgetall(key);
            }
            let entries: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await?;
            for (key, f) in chunk.iter().zip(entries) {
                let Some((job_type, hash)) = key
                    .strip_prefix(&prefix)
                    .and_then(|rest| rest.rsplit_once(':'))
                else {
                    continue;
                };
                let Some(result) = f.get(field::RESULT) else {
                    continue;
                };
                out.push(crate::job::StoredResult {
                    job_type: job_type.to_string(),
                    content_hash: hash.to_string(),
                    result: result.clone(),
                    job_id: f.get(field::JOB_ID).cloned().unwrap_or_default(),
                    plugin_version: f.get(field::PLUGIN_VERSION).cloned().unwrap_or_default(),
                    stored_at: f
                        .get(field::STORED_AT)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0),
                });
            }
        }
        out.sort_by(|a, b| (&a.job_type, &a.content_hash).cmp(&(&b.job_type, &b.content_hash)));
        Ok(out)
    }

    /// Puts results into the content index (import): one pipelined round
    /// trip per 500.
    pub(in crate::queue) async fn store_content(
        &self,
        results: &[crate::job::StoredResult],
    ) -> Result<(), QueueError> {
        let mut conn = self.conn();
        for chunk in results.chunks(500) {
            let mut pipe = redis::pipe();
            for s in chunk {
                pipe.hset_multiple(
                    self.key(&[key::CONTENT, &s.job_type, &s.content_hash]),
                    &[
                        (field::RESULT, s.result.clone()),
                        (field::JOB_ID, s.job_id.clone()),
                        (field::PLUGIN_VERSION, s.plugin_version.clone()),
                        (field::STORED_AT, s.stored_at.to_string()),
                    ],
                )
                .ignore();
            }
            let _: () = pipe.query_async(&mut conn).await?;
        }
        Ok(())
    }

    /// Writes `marker` unless a marker is there; the marker that is.
    pub(in crate::queue) async fn put_identity(&self, marker: &str) -> Result<String, QueueError> {
        let key = self.key(&[key::IDENTITY]);
        let _: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(marker)
            .arg("NX")
            .query_async(&mut self.conn())
            .await?;
        let held: Option<String> = self.conn().get(&key).await?;
        held.ok_or_else(|| {
            QueueError::Protocol("identity marker vanished as it was written".into())
        })
    }
}
