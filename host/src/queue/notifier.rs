//! The notifier: one pub/sub connection per process, with typed topics.
//! Everything in a process that listens (a host's wake-ups and cancels,
//! the API's waits, `deckhand bulk`, `submit --wait`) shares it: a
//! thousand API waits are one Redis connection, not a thousand.
//!
//! A topic's channel is subscribed when its first listener comes (and Redis
//! has confirmed it when [`Queue::listen`] returns, so "listen, then read
//! the state" misses nothing), and unsubscribed when a message finds no
//! listener left. Each listener gets every message through a broadcast
//! channel. When it may have missed some (it fell behind, or the connection
//! dropped, and again once it is made anew) it is told [`Notice::Missed`]:
//! its cue to read the state again. The connection is made again in the
//! background for as long as anyone listens.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{Mutex, broadcast};

use super::*;

/// Messages a listener may fall behind by before it is told it missed some.
const BACKLOG: usize = 4096;

/// Pause between attempts to make a dropped connection again.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// What a listener listens to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// A job is ready: the message is its job type.
    Wake,
    /// Jobs ended (completed, dead or cancelled): their ids.
    Finished,
    /// A running job was cancelled: its id.
    Cancelled,
}

impl Topic {
    const ALL: [Topic; 3] = [Topic::Wake, Topic::Finished, Topic::Cancelled];

    fn index(self) -> usize {
        self as usize
    }

    /// The channel's name under the queue's tag (see `keys.rs`).
    fn name(self) -> &'static str {
        match self {
            Topic::Wake => key::WAKE,
            Topic::Finished => key::FINISHED,
            Topic::Cancelled => key::CANCELLED,
        }
    }
}

/// What a listener hears.
#[derive(Clone, Debug)]
pub enum Notice {
    /// One message on the topic.
    Message(Message),
    /// Messages may have been missed: read the state again.
    Missed,
}

/// One message as published.
#[derive(Clone, Debug)]
pub struct Message(Arc<str>);

impl Message {
    /// The ids (or job types) it names: several are separated by spaces.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.split(' ').filter(|id| !id.is_empty())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A listener on one topic; dropping it stops listening.
pub struct Listener {
    receiver: broadcast::Receiver<Notice>,
    /// Keeps the senders alive, so the channel never closes under a listener.
    _shared: Arc<Shared>,
}

impl Listener {
    /// The next notice.
    pub async fn recv(&mut self) -> Notice {
        match self.receiver.recv().await {
            Ok(notice) => notice,
            // Lagged; closed cannot happen while `_shared` is held.
            Err(_) => Notice::Missed,
        }
    }
}

/// The process's one subscription. Cheap to clone.
#[derive(Clone)]
pub(super) struct Notifier {
    shared: Arc<Shared>,
}

struct Shared {
    /// One broadcast channel per topic, in `Topic::ALL` order.
    senders: [broadcast::Sender<Notice>; 3],
    link: Mutex<Link>,
}

/// The connection's state.
#[derive(Default)]
struct Link {
    /// Subscribes and unsubscribes; `None` while the connection is down.
    sink: Option<PubSubSink>,
    /// The topics subscribed (or to subscribe again on reconnecting).
    wanted: [bool; 3],
    /// Whether the reading task runs (it also makes the connection again).
    reading: bool,
}

impl Default for Notifier {
    fn default() -> Self {
        let senders = Topic::ALL.map(|_| broadcast::channel(BACKLOG).0);
        Notifier {
            shared: Arc::new(Shared {
                senders,
                link: Mutex::new(Link::default()),
            }),
        }
    }
}

impl Queue {
    /// Listens to `topic` from now on. Fails only if no connection could be
    /// made or Redis refused the subscription.
    pub async fn listen(&self, topic: Topic) -> Result<Listener, QueueError> {
        let shared = &self.notifier.shared;
        let mut link = shared.link.lock().await;
        let listener = Listener {
            receiver: shared.senders[topic.index()].subscribe(),
            _shared: shared.clone(),
        };
        // Subscribed already, or to be on reconnecting (which says Missed).
        if link.wanted[topic.index()] {
            return Ok(listener);
        }
        if !link.reading {
            let (sink, stream) = self.pubsub().await?.split();
            link.sink = Some(sink);
            link.reading = true;
            tokio::spawn(self.clone().read_notices(stream));
        }
        if let Some(sink) = link.sink.as_mut() {
            sink.subscribe(self.channel(topic.name())).await?;
        }
        link.wanted[topic.index()] = true;
        Ok(listener)
    }

    /// Hands every message to its topic's listeners, and makes the
    /// connection again when it drops, until no one listens.
    async fn read_notices(self, mut stream: PubSubStream) {
        let channels = Topic::ALL.map(|t| self.channel(t.name()));
        loop {
            while let Some(msg) = stream.next().await {
                let channel = msg.get_channel_name();
                let Some(topic) = Topic::ALL
                    .into_iter()
                    .find(|t| channel == channels[t.index()])
                else {
                    continue;
                };
                let Ok(text) = msg.get_payload::<String>() else {
                    continue;
                };
                let notice = Notice::Message(Message(Arc::from(text)));
                if self.notifier.shared.senders[topic.index()]
                    .send(notice)
                    .is_err()
                {
                    self.forget(topic).await;
                }
            }
            tracing::debug!("the pub/sub connection dropped; making it again");
            // Told now, so a listener reads at once (and learns whether
            // Redis is gone), and again once listening anew.
            for sender in &self.notifier.shared.senders {
                let _ = sender.send(Notice::Missed);
            }
            match self.reconnect().await {
                Some(next) => stream = next,
                None => return,
            }
        }
    }

    /// Unsubscribes `topic` if no one listens to it any more.
    async fn forget(&self, topic: Topic) {
        let shared = &self.notifier.shared;
        let mut link = shared.link.lock().await;
        if shared.senders[topic.index()].receiver_count() > 0 || !link.wanted[topic.index()] {
            return;
        }
        link.wanted[topic.index()] = false;
        if let Some(sink) = link.sink.as_mut() {
            // A failure here is a dropped connection, which the reader sees.
            let _ = sink.unsubscribe(self.channel(topic.name())).await;
        }
    }

    /// Makes the connection again and subscribes the topics someone still
    /// listens to, telling them they may have missed messages. `None` when
    /// no one listens any more (the reader stops).
    async fn reconnect(&self) -> Option<PubSubStream> {
        let shared = &self.notifier.shared;
        loop {
            {
                let mut link = shared.link.lock().await;
                link.sink = None;
                for topic in Topic::ALL {
                    let i = topic.index();
                    link.wanted[i] &= shared.senders[i].receiver_count() > 0;
                }
                if !link.wanted.contains(&true) {
                    link.reading = false;
                    return None;
                }
                match self.subscribe_wanted(&link.wanted).await {
                    Ok((sink, stream)) => {
                        link.sink = Some(sink);
                        for topic in Topic::ALL.into_iter().filter(|t| link.wanted[t.index()]) {
                            let _ = shared.senders[topic.index()].send(Notice::Missed);
                        }
                        return Some(stream);
                    }
                    Err(e) => tracing::debug!("cannot subscribe again yet: {e}"),
                }
            }
            tokio::time::sleep(RECONNECT_PAUSE).await;
        }
    }

    /// A new connection subscribed to the `wanted` topics.
    async fn subscribe_wanted(
        &self,
        wanted: &[bool; 3],
    ) -> Result<(PubSubSink, PubSubStream), QueueError> {
        let (mut sink, stream) = self.pubsub().await?.split();
        let channels: Vec<String> = Topic::ALL
            .into_iter()
            .filter(|t| wanted[t.index()])
            .map(|t| self.channel(t.name()))
            .collect();
        sink.subscribe(&channels).await?;
        Ok((sink, stream))
    }
}
