//! The LLM batch lane's state (`keys::llmb`): deferred calls (items), the
//! batches they are sent in, and the jobs waiting on them. Everything the
//! lane knows is here, so a host that dies or a Redis that restarts (AOF)
//! loses nothing: the next host to take the lane's lock goes on from it.

use std::collections::HashMap;

use redis::AsyncCommands;

use super::calls::{self, DeferItem, ItemOutcome};
use super::keys::{key, llmb};
use super::{Queue, QueueError};

/// A deferred call's record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Item {
    pub id: String,
    pub state: String,
    pub model: String,
    pub body: String,
    pub schema: Option<String>,
    pub job_type: String,
    pub group: Option<String>,
    pub run: Option<String>,
    pub payer: String,
    pub content: String,
    pub prompt_tokens: u32,
    pub cached_tokens: u32,
    pub completion_tokens: u32,
    pub cost_micros: u64,
    /// Why it goes live, when it does.
    pub reason: String,
}

/// How a deferred call stands for the job that asks.
#[derive(Debug, Clone, PartialEq)]
pub enum Deferred {
    /// In the lane: the job waits (its token is among the waiters).
    Waiting,
    /// Answered by a batch.
    Done(Box<Item>),
    /// To be asked live (the batch failed it, expired, or its answer broke
    /// the schema): why.
    Live(String),
}

/// A batch in flight: its local id, model, items, and the provider's id
/// once created.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredBatch {
    pub local: String,
    pub model: String,
    pub items: Vec<String>,
    pub provider_id: Option<String>,
}

/// Models with calls waiting for a batch: (model, calls, oldest ms, newest ms).
pub type PendingModel = (String, u64, u64, u64);

/// How long an item and its waiters are kept (a batch may take 24 h).
const ITEM_TTL_SECS: u64 = 7 * 24 * 3600;

impl Queue {
    fn llmb(&self, parts: &[&str]) -> String {
        let mut all = vec![key::LLMB];
        all.extend_from_slice(parts);
        self.hub().key(&all)
    }

    /// Hands `item` to the lane (or finds it there), and says how it stands.
    pub async fn llm_defer(&self, item: &DeferItem<'_>) -> Result<Deferred, QueueError> {
        let state = self
            .hub()
            .run_write(&calls::LlmDefer {
                item,
                now_ms: super::now_ms(),
                ttl_secs: ITEM_TTL_SECS,
            })
            .await?;
        Ok(match state.as_str() {
            llmb::DONE | llmb::LIVE => match self.llm_items(&[item.id.to_string()]).await?.pop() {
                Some(Some(found)) if found.state == llmb::DONE => Deferred::Done(Box::new(found)),
                Some(Some(found)) => Deferred::Live(found.reason),
                _ => Deferred::Live("the batch item expired".into()),
            },
            _ => Deferred::Waiting,
        })
    }

    /// The items `ids`, in order (none where expired), in one trip.
    pub async fn llm_items(&self, ids: &[String]) -> Result<Vec<Option<Item>>, QueueError> {
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hgetall(self.llmb(&[llmb::ITEM, id]));
        }
        let all: Vec<HashMap<String, String>> = pipe.query_async(&mut self.hub().conn()).await?;
        Ok(ids.iter().zip(all).map(|(id, f)| item(id, f)).collect())
    }

    /// Models with calls waiting for a batch.
    pub async fn llm_pending(&self) -> Result<Vec<PendingModel>, QueueError> {
        let hub = self.hub();
        let models: Vec<String> = hub.conn().smembers(self.llmb(&[llmb::MODELS])).await?;
        let mut pipe = redis::pipe();
        for m in &models {
            let pending = self.llmb(&[llmb::PENDING, m]);
            pipe.zcard(&pending)
                .zrange_withscores(&pending, 0, 0)
                .zrange_withscores(&pending, -1, -1);
        }
        type Row = (u64, Vec<(String, u64)>, Vec<(String, u64)>);
        let rows: Vec<Row> = pipe.query_async(&mut hub.conn()).await?;
        Ok(models
            .into_iter()
            .zip(rows)
            .filter(|(_, (n, ..))| *n > 0)
            .map(|(m, (n, oldest, newest))| {
                let at = |v: &[(String, u64)]| v.first().map_or(0, |(_, t)| *t);
                (m, n, at(&oldest), at(&newest))
            })
            .collect())
    }

    /// Takes up to `most` of `model`'s pending calls into a new batch
    /// `local`, in one transaction: they are `submitted` from now on.
    pub async fn llm_form_batch(
        &self,
        model: &str,
        most: usize,
        local: &str,
    ) -> Result<Vec<String>, QueueError> {
        let hub = self.hub();
        let pending = self.llmb(&[llmb::PENDING, model]);
        let stop = isize::try_from(most)
            .unwrap_or(isize::MAX)
            .saturating_sub(1);
        let ids: Vec<String> = hub.conn().zrange(&pending, 0, stop).await?;
        if ids.is_empty() {
            return Ok(ids);
        }
        let mut tx = redis::pipe();
        tx.atomic();
        tx.hset_multiple(
            self.llmb(&[llmb::BATCH, local]),
            &[
                (llmb::MODEL, model.to_string()),
                (llmb::ITEM, serde_json::to_string(&ids).unwrap_or_default()),
            ],
        )
        .ignore();
        tx.sadd(self.llmb(&[llmb::BATCHES]), local).ignore();
        tx.zrem(&pending, &ids).ignore();
        for id in &ids {
            tx.hset_multiple(
                self.llmb(&[llmb::ITEM, id]),
                &[(llmb::STATE, llmb::SUBMITTED), (llmb::BATCH, local)],
            )
            .ignore();
        }
        let () = tx.query_async(&mut hub.conn()).await?;
        Ok(ids)
    }

    /// The batches in flight.
    pub async fn llm_batches(&self) -> Result<Vec<StoredBatch>, QueueError> {
        let hub = self.hub();
        let locals: Vec<String> = hub.conn().smembers(self.llmb(&[llmb::BATCHES])).await?;
        let mut pipe = redis::pipe();
        for l in &locals {
            pipe.hgetall(self.llmb(&[llmb::BATCH, l]));
        }
        let all: Vec<HashMap<String, String>> = pipe.query_async(&mut hub.conn()).await?;
        Ok(locals
            .into_iter()
            .zip(all)
            .map(|(local, mut f)| StoredBatch {
                local,
                model: f.remove(llmb::MODEL).unwrap_or_default(),
                items: f
                    .remove(llmb::ITEM)
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default(),
                provider_id: f.remove(llmb::PROVIDER_ID).filter(|p| !p.is_empty()),
            })
            .collect())
    }

    /// Records the provider's id of batch `local`.
    pub async fn llm_batch_created(
        &self,
        local: &str,
        provider_id: &str,
    ) -> Result<(), QueueError> {
        let key = self.llmb(&[llmb::BATCH, local]);
        let () = self
            .hub()
            .conn()
            .hset(key, llmb::PROVIDER_ID, provider_id)
            .await?;
        Ok(())
    }

    /// Settles a batch's items (those not settled before) and, when
    /// `last`, forgets the batch. Returns the items settled now.
    pub async fn llm_settle(
        &self,
        local: &str,
        outcomes: &[ItemOutcome],
        last: bool,
    ) -> Result<Vec<String>, QueueError> {
        let hub = self.hub();
        let settled = if outcomes.is_empty() {
            Vec::new()
        } else {
            hub.run_write(&calls::LlmSettle { outcomes }).await?
        };
        if last {
            let () = redis::pipe()
                .srem(self.llmb(&[llmb::BATCHES]), local)
                .ignore()
                .del(self.llmb(&[llmb::BATCH, local]))
                .ignore()
                .query_async(&mut hub.conn())
                .await?;
        }
        Ok(settled)
    }

    /// Settled items whose waiters are not all woken: each with its
    /// waiters (token, feedback before), at most `most` items.
    pub async fn llm_waking(&self, most: usize) -> Result<Vec<(String, Waiters)>, QueueError> {
        let hub = self.hub();
        let waking = self.llmb(&[llmb::WAKING]);
        let ids: Vec<String> = hub.conn().srandmember_multiple(waking, most).await?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(self.llmb(&[llmb::WAITERS, id]));
        }
        let all: Vec<Waiters> = pipe.query_async(&mut hub.conn()).await?;
        Ok(ids.into_iter().zip(all).collect())
    }

    /// Forgets the waiters woken (`tokens`) of item `id`; the item leaves
    /// the waking set when none is left.
    pub async fn llm_woken(
        &self,
        id: &str,
        tokens: &[String],
        left: bool,
    ) -> Result<(), QueueError> {
        let mut pipe = redis::pipe();
        if !tokens.is_empty() {
            pipe.hdel(self.llmb(&[llmb::WAITERS, id]), tokens).ignore();
        }
        if !left {
            pipe.srem(self.llmb(&[llmb::WAKING]), id).ignore();
        }
        let () = pipe.query_async(&mut self.hub().conn()).await?;
        Ok(())
    }

    /// Takes (or keeps) the lane's lock for `host` for `ttl_ms`; true when
    /// this host holds it.
    pub async fn llm_lane_lock(&self, host: &str, ttl_ms: u64) -> Result<bool, QueueError> {
        let lock = self.llmb(&[llmb::LOCK]);
        let mut conn = self.hub().conn();
        let taken: Option<String> = redis::cmd("SET")
            .arg(&lock)
            .arg(host)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut conn)
            .await?;
        if taken.is_some() {
            return Ok(true);
        }
        let holder: Option<String> = conn.get(&lock).await?;
        if holder.as_deref() == Some(host) {
            let _: bool = conn.pexpire(&lock, ttl_ms as i64).await?;
            return Ok(true);
        }
        Ok(false)
    }
}

/// A waiting job's token and its feedback before it waited.
pub type Waiters = HashMap<String, String>;

fn item(id: &str, mut f: HashMap<String, String>) -> Option<Item> {
    let state = f.remove(llmb::STATE)?;
    let mut text = |name: &str| f.remove(name).unwrap_or_default();
    let number = |t: String| t.parse::<u64>().unwrap_or(0);
    let tokens = |t: String| u32::try_from(number(t)).unwrap_or(u32::MAX);
    let some = |t: String| (!t.is_empty()).then_some(t);
    Some(Item {
        id: id.to_string(),
        state,
        model: text(llmb::MODEL),
        body: text(llmb::BODY),
        schema: some(text(llmb::SCHEMA)),
        job_type: text(super::keys::field::TYPE),
        group: some(text(super::keys::field::GROUP)),
        run: some(text(llmb::RUN)),
        payer: text(llmb::PAYER),
        content: text(llmb::CONTENT),
        prompt_tokens: tokens(text(llmb::PROMPT)),
        cached_tokens: tokens(text(llmb::CACHED)),
        completion_tokens: tokens(text(llmb::COMPLETION)),
        cost_micros: number(text(llmb::COST)),
        reason: text(llmb::REASON),
    })
}
