//! A plugin's key-value store, kept under `P:kv:<plugin hex>:` (see
//! `keys::kv`): values with their TTLs and the bytes the plugin holds,
//! checked against its quota by `kv_set.lua` in one step.

use redis::AsyncCommands;

use super::keys::{key, kv};
use super::{Queue, QueueError, calls};

/// One write to a plugin's store.
pub struct KvEntry<'a> {
    pub plugin: &'a str,
    pub key: &'a str,
    pub value: &'a str,
    /// None: no expiry.
    pub ttl_ms: Option<u64>,
    pub quota_bytes: u64,
}

impl Queue {
    /// The value under `name` in `plugin`'s store.
    pub async fn kv_get(&self, plugin: &str, name: &str) -> Result<Option<String>, QueueError> {
        let hub = self.hub();
        let value_key = format!(
            "{}:{name}",
            hub.key(&[key::KV, &hex::encode(plugin), kv::VALUE])
        );
        Ok(hub.conn().get(value_key).await?)
    }

    /// Writes `entry`; `Err` with the bytes the plugin would have held
    /// when that is past its quota (nothing written then).
    pub async fn kv_set(&self, entry: &KvEntry<'_>) -> Result<Result<(), u64>, QueueError> {
        let plugin = hex::encode(entry.plugin);
        let refused = self
            .hub()
            .run_write(&calls::KvSet {
                plugin: &plugin,
                key: entry.key,
                value: entry.value,
                ttl_ms: entry.ttl_ms,
                quota_bytes: entry.quota_bytes,
            })
            .await?;
        Ok(refused.map_or(Ok(()), Err))
    }

    /// Removes `name` from `plugin`'s store; true when it was there.
    pub async fn kv_delete(&self, plugin: &str, name: &str) -> Result<bool, QueueError> {
        self.hub()
            .run_write(&calls::KvDelete {
                plugin: &hex::encode(plugin),
                key: name,
            })
            .await
    }
}
