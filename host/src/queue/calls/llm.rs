//! The call that adds an attempt's LLM spending to its job (`llm_usage.lua`).

use super::*;

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
