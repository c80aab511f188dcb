//! One round of the batch lane (see `batch.rs`): the lock, then each
//! model's gathered calls into a batch, each batch in flight created or
//! polled, an ended one's items settled and charged, and the waiting jobs
//! woken. Every step reads its state from Redis first, so a round cut short
//! anywhere (a host killed, Redis restarted) is finished by the next one,
//! on any host, without sending a call twice: a batch made but not yet
//! recorded is found again by the local id in its metadata.

use serde_json::Value;

use super::*;
use crate::queue::{ItemOutcome, Spend, StoredBatch};

impl LlmClient {
    /// One round of the lane on behalf of `host`; nothing when another
    /// host holds the lane.
    pub async fn batch_round(&self, host: &str) -> Result<(), String> {
        let Some(queue) = &self.queue else {
            return Ok(());
        };
        let lane = &self.config.batch;
        let hold = lane.poll_ms.saturating_mul(3).max(10_000);
        if !queue
            .llm_lane_lock(host, hold)
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(());
        }
        let now = crate::queue::now_ms();
        for (model, calls, oldest, newest) in
            queue.llm_pending().await.map_err(|e| e.to_string())?
        {
            let ready = calls >= lane.max_items as u64
                || now.saturating_sub(newest) >= lane.gather_ms
                || now.saturating_sub(oldest) >= lane.max_gather_ms;
            if ready {
                let local = uuid::Uuid::now_v7().simple().to_string();
                let ids = queue
                    .llm_form_batch(&model, lane.max_items, &local)
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!(%model, calls = ids.len(), batch = %local, "LLM calls gathered into a batch");
            }
        }
        for batch in queue.llm_batches().await.map_err(|e| e.to_string())? {
            if let Err(e) = self.advance(queue, &batch).await {
                tracing::warn!(batch = %batch.local, "LLM batch: {e}");
            }
        }
        self.wake_waiters(queue).await
    }

    /// Creates `batch` at the provider if it is not there yet, else polls
    /// it, and settles it once it ended.
    async fn advance(&self, queue: &Queue, batch: &StoredBatch) -> Result<(), String> {
        let provider_id = match &batch.provider_id {
            Some(id) => id.clone(),
            None => {
                let id = match self.find_batch(&batch.local).await? {
                    Some(id) => id,
                    None => self.submit_batch(queue, batch).await?,
                };
                queue
                    .llm_batch_created(&batch.local, &id)
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!(batch = %batch.local, provider_batch = %id, calls = batch.items.len(), "LLM batch created");
                return Ok(());
            }
        };
        let remote = self.batch_status(&provider_id).await?;
        if !remote.ended() {
            return Ok(());
        }
        let mut lines: Vec<Value> = Vec::new();
        for file in [&remote.output_file_id, &remote.error_file_id]
            .into_iter()
            .flatten()
        {
            let text = self.batch_file(file).await?;
            lines.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
        }
        self.settle(queue, batch, &remote.status, &lines).await
    }

    /// Uploads the batch's calls as JSONL and makes the batch; its id.
    async fn submit_batch(&self, queue: &Queue, batch: &StoredBatch) -> Result<String, String> {
        let items = queue
            .llm_items(&batch.items)
            .await
            .map_err(|e| e.to_string())?;
        let url = format!("/v1{}", self.dialect().path());
        let mut jsonl = Vec::new();
        for item in items.iter().flatten() {
            let body: Value = serde_json::from_str(&item.body).unwrap_or(Value::Null);
            let line = serde_json::json!({
                "custom_id": item.id, "method": "POST", "url": url, "body": body,
            });
            jsonl.extend_from_slice(line.to_string().as_bytes());
            jsonl.push(b'\n');
        }
        let file = self.upload_batch_file(jsonl).await?;
        self.create_batch(&file, &batch.local).await
    }

    /// Each item's outcome from the batch's lines (an item without one:
    /// the batch ended without it, and it goes live), settled and charged.
    async fn settle(
        &self,
        queue: &Queue,
        batch: &StoredBatch,
        status: &str,
        lines: &[Value],
    ) -> Result<(), String> {
        let by_id: std::collections::HashMap<&str, &Value> = lines
            .iter()
            .filter_map(|l| Some((l["custom_id"].as_str()?, l)))
            .collect();
        let items = queue
            .llm_items(&batch.items)
            .await
            .map_err(|e| e.to_string())?;
        let items: Vec<_> = items.into_iter().flatten().collect();
        let outcomes: Vec<ItemOutcome> = items
            .iter()
            .map(|item| match by_id.get(item.id.as_str()) {
                Some(line) => self.batch_outcome(item, line),
                None => ItemOutcome {
                    id: item.id.clone(),
                    answer: Err(format!("the batch ended {status} without it")),
                    prompt_tokens: 0,
                    cached_tokens: 0,
                    completion_tokens: 0,
                    cost_micros: 0,
                },
            })
            .collect();
        let settled = queue
            .llm_settle(&batch.local, &outcomes, true)
            .await
            .map_err(|e| e.to_string())?;
        let live = outcomes.iter().filter(|o| o.answer.is_err()).count();
        tracing::info!(batch = %batch.local, %status, settled = settled.len(), live, "LLM batch ended");
        // Charged once: only what this call settled (not a batch read twice).
        let spends: Vec<Spend> = items
            .iter()
            .zip(&outcomes)
            .filter(|(item, _)| settled.contains(&item.id))
            .map(|(item, outcome)| Spend {
                provider: self.config.provider.as_str().to_string(),
                model: item.model.clone(),
                job_type: item.job_type.clone(),
                group: item.group.clone(),
                run: item.run.clone(),
                micros: outcome.cost_micros,
                structured: item.schema.is_some(),
                ..Spend::default()
            })
            .collect();
        if let Err(e) = queue.add_spends(&spends).await {
            tracing::warn!("cannot add a batch's cost to the ledger: {e}");
        }
        Ok(())
    }
}
