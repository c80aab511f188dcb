//! The calls of a plugin's key-value store (`kv_set.lua`, `kv_delete.lua`).

use super::*;

/// `kv_set`: `value` under `key` in `plugin`'s store (the plugin's name as
/// hex, so no name can reach into another's keys), within `quota` bytes;
/// the reply is `None` when written, else the bytes it would have held.
pub(in crate::queue) struct KvSet<'a> {
    pub plugin: &'a str,
    pub key: &'a str,
    pub value: &'a str,
    pub ttl_ms: Option<u64>,
    pub quota_bytes: u64,
}

impl Script for KvSet<'_> {
    type Raw = u64;
    type Reply = Option<u64>;

    fn function(f: &Functions) -> &Function {
        &f.kv_set
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.plugin)
            .arg(self.key)
            .arg(self.value)
            .arg(self.ttl_ms.unwrap_or(0))
            .arg(self.quota_bytes);
    }

    fn reply(&self, would_hold: u64) -> Result<Option<u64>, QueueError> {
        Ok((would_hold > 0).then_some(would_hold))
    }
}

/// `kv_delete`: `key` removed from `plugin`'s store; the reply says whether
/// it was there.
pub(in crate::queue) struct KvDelete<'a> {
    pub plugin: &'a str,
    pub key: &'a str,
}

impl Script for KvDelete<'_> {
    type Raw = u8;
    type Reply = bool;

    fn function(f: &Functions) -> &Function {
        &f.kv_delete
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.plugin).arg(self.key);
    }

    fn reply(&self, existed: u8) -> Result<bool, QueueError> {
        Ok(existed == 1)
    }
}
