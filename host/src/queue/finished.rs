//! One subscription to the finished channel, shared by every wait of a
//! process: a thousand API waits are one Redis connection, not a thousand.
//!
//! The first wait subscribes (and waits for Redis to confirm it); every
//! message is then handed to each waiter through a broadcast channel. A
//! waiter that falls behind is told it lagged and reads its jobs' states
//! again; when the connection drops, the feed ends, every waiter is told
//! (as a closed channel), and the next wait subscribes anew.

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::{Mutex, broadcast};

use super::*;

/// Messages a waiter may fall behind by before it is told it lagged.
const BACKLOG: usize = 4096;

/// The shared subscription (none until the first wait). Cheap to clone.
#[derive(Clone, Default)]
pub(super) struct FinishedFeed {
    sender: Arc<Mutex<Option<broadcast::Sender<Arc<str>>>>>,
}

impl Queue {
    /// A receiver of every finished-jobs message from now on: ids
    /// separated by spaces, as published.
    pub(super) async fn finished_feed(&self) -> Result<broadcast::Receiver<Arc<str>>, QueueError> {
        let mut slot = self.feed.sender.lock().await;
        if let Some(sender) = slot.as_ref() {
            return Ok(sender.subscribe());
        }
        let mut pubsub = self.pubsub().await?;
        pubsub.subscribe(self.finished_channel()).await?;
        let (sender, receiver) = broadcast::channel(BACKLOG);
        *slot = Some(sender.clone());
        let feed = self.feed.clone();
        tokio::spawn(async move {
            let mut messages = pubsub.into_on_message();
            while let Some(msg) = messages.next().await {
                if let Ok(text) = msg.get_payload::<String>() {
                    // No receiver now is fine: the next wait subscribes.
                    let _ = sender.send(Arc::from(text));
                }
            }
            // The connection is gone: the next wait subscribes anew, and
            // the waiters of this one see their channel close.
            let mut slot = feed.sender.lock().await;
            if slot.as_ref().is_some_and(|s| s.same_channel(&sender)) {
                *slot = None;
            }
        });
        Ok(receiver)
    }
}
