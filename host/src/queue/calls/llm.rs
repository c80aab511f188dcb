//! The calls of the LLM bill and batch lane: an attempt's spending added to
//! its job (`llm_usage.lua`), a call deferred to a batch (`llm_defer.lua`),
//! a batch's outcomes settled (`llm_settle.lua`).

use super::*;
use crate::queue::keys::llmb;

/// `llm_usage`: calls, tokens, cost, route and asks added to job `id`;
/// the reply says whether the job was there.
pub(in crate::queue) struct AddLlmUsage<'a> {
    pub id: &'a str,
    pub usage: &'a LlmUsage,
}

impl Script for AddLlmUsage<'_> {
    type Raw = u8;
    type Reply = bool;

    fn function(f: &Functions) -> &Function {
        &f.llm_usage
    }

    fn args(&self, call: &mut Call) {
        let u = self.usage;
        call.arg(self.id)
            .arg(u.calls)
            .arg(u.prompt_tokens)
            .arg(u.completion_tokens)
            .arg(u.cost_micros)
            .arg(u.route.as_deref().unwrap_or(""))
            .arg(serde_json::Value::Array(u.asks.clone()).to_string());
    }

    fn reply(&self, added: u8) -> Result<bool, QueueError> {
        Ok(added == 1)
    }
}

/// `llm_defer`: a deferrable call handed to the batch lane; the reply is
/// the item's state (see `llm_defer.lua`).
pub(in crate::queue) struct LlmDefer<'a> {
    pub item: &'a DeferItem<'a>,
    pub now_ms: u64,
    pub ttl_secs: u64,
}

impl Script for LlmDefer<'_> {
    type Raw = String;
    type Reply = String;

    fn function(f: &Functions) -> &Function {
        &f.llm_defer
    }

    fn args(&self, call: &mut Call) {
        let i = self.item;
        call.arg(i.id)
            .arg(i.model)
            .arg(self.now_ms)
            .arg(i.token)
            .arg(i.feedback.unwrap_or(""))
            .arg(i.body)
            .arg(i.schema.unwrap_or(""))
            .arg(i.job_type)
            .arg(i.group.unwrap_or(""))
            .arg(i.run.unwrap_or(""))
            .arg(i.payer)
            .arg(self.ttl_secs);
    }

    fn reply(&self, state: String) -> Result<String, QueueError> {
        Ok(state)
    }
}

/// `llm_settle`: the outcomes of a batch's items; the reply is the ids
/// settled by this call (not before).
pub(in crate::queue) struct LlmSettle<'a> {
    pub outcomes: &'a [ItemOutcome],
}

impl Script for LlmSettle<'_> {
    type Raw = Vec<String>;
    type Reply = Vec<String>;

    fn function(f: &Functions) -> &Function {
        &f.llm_settle
    }

    fn args(&self, call: &mut Call) {
        for o in self.outcomes {
            let (state, content, reason) = match &o.answer {
                Ok(content) => (llmb::DONE, content.as_str(), ""),
                Err(reason) => (llmb::LIVE, "", reason.as_str()),
            };
            call.arg(&o.id)
                .arg(state)
                .arg(content)
                .arg(o.prompt_tokens)
                .arg(o.cached_tokens)
                .arg(o.completion_tokens)
                .arg(o.cost_micros)
                .arg(reason);
        }
    }

    fn reply(&self, settled: Vec<String>) -> Result<Vec<String>, QueueError> {
        Ok(settled)
    }
}

/// A deferred call as a job hands it over.
#[derive(Debug, Clone)]
pub struct DeferItem<'a> {
    /// The call's content hash: the batch line's `custom_id`.
    pub id: &'a str,
    pub model: &'a str,
    /// The asking job's wait token, and its feedback before it waits.
    pub token: &'a str,
    pub feedback: Option<&'a str>,
    /// The provider's request body, JSON.
    pub body: &'a str,
    pub schema: Option<&'a str>,
    pub job_type: &'a str,
    pub group: Option<&'a str>,
    pub run: Option<&'a str>,
    /// The job that pays for it (the first to ask).
    pub payer: &'a str,
}

/// One item's outcome in a batch that ended: its answer, or why it goes live.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemOutcome {
    pub id: String,
    pub answer: Result<String, String>,
    pub prompt_tokens: u32,
    pub cached_tokens: u32,
    pub completion_tokens: u32,
    pub cost_micros: u64,
}
