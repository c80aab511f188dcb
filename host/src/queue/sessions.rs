//! Dashboard sessions ended before their time: a logout is recorded here,
//! so the session's cookie is refused by every host, also after a restart,
//! until it would have expired anyway (the record expires with it).

use super::*;

impl Queue {
    /// Records that the dashboard session `nonce` ended (a logout); the
    /// record lasts until `expires_ms` (Unix ms), the session's own end.
    pub async fn end_session(&self, nonce: &str, expires_ms: u64) -> Result<(), QueueError> {
        let hub = self.hub();
        let _: () = redis::cmd("SET")
            .arg(hub.key(&[key::ENDED, nonce]))
            .arg(1)
            .arg("PXAT")
            .arg(expires_ms.max(1))
            .query_async(&mut hub.conn())
            .await?;
        Ok(())
    }

    /// Whether the dashboard session `nonce` was ended by a logout.
    pub async fn session_ended(&self, nonce: &str) -> Result<bool, QueueError> {
        let hub = self.hub();
        Ok(hub.conn().exists(hub.key(&[key::ENDED, nonce])).await?)
    }
}
