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
//!
//! A listener for given jobs ([`Queue::listen_for`], the API's waits and
//! `submit --wait`) is handed only the finished messages that name one of
//! its jobs: a thousand waits on a busy queue are not each woken, and do
//! not each read, for every job that ends.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{Mutex, broadcast, mpsc};

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
    source: Source,
    /// Keeps the senders alive, so the channel never closes under a listener.
    shared: Arc<Shared>,
}

enum Source {
    /// Every message of the topic.
    Topic(broadcast::Receiver<Notice>),
    /// The finished messages that name one of `ids` (registered as `key`).
    Jobs {
        receiver: mpsc::UnboundedReceiver<Notice>,
        key: u64,
        ids: Vec<String>,
    },
}

impl Listener {
    /// The next notice.
    pub async fn recv(&mut self) -> Notice {
        match &mut self.source {
            Source::Topic(receiver) => match receiver.recv().await {
                Ok(notice) => notice,
                // Lagged; closed cannot happen while `shared` is held.
                Err(_) => Notice::Missed,
            },
            // The sender stays registered until this listener drops.
            Source::Jobs { receiver, .. } => match receiver.recv().await {
                Some(notice) => notice,
                None => std::future::pending().await,
            },
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Source::Jobs { key, ids, .. } = &self.source {
            self.shared.routes().remove(*key, ids);
        }
    }
}

/// The listeners for given jobs: who waits on each id.
#[derive(Default)]
struct Routes {
    next_key: u64,
    by_id: HashMap<String, Vec<u64>>,
    senders: HashMap<u64, mpsc::UnboundedSender<Notice>>,
}

impl Routes {
    fn add(&mut self, ids: &[String]) -> (u64, mpsc::UnboundedReceiver<Notice>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.next_key += 1;
        let key = self.next_key;
        for id in ids {
            self.by_id.entry(id.clone()).or_default().push(key);
        }
        self.senders.insert(key, sender);
        (key, receiver)
    }

    fn remove(&mut self, key: u64, ids: &[String]) {
        self.senders.remove(&key);
        for id in ids {
            if let Some(keys) = self.by_id.get_mut(id) {
                keys.retain(|&k| k != key);
                if keys.is_empty() {
                    self.by_id.remove(id);
                }
            }
        }
    }

    /// Hands `message` to each listener waiting on an id it names, once.
    fn route(&self, message: &Message) {
        if self.by_id.is_empty() {
            return;
        }
        let mut told: Vec<u64> = Vec::new();
        for id in message.ids() {
            for key in self.by_id.get(id).into_iter().flatten() {
                if !told.contains(key) {
                    told.push(*key);
                    if let Some(sender) = self.senders.get(key) {
                        let _ = sender.send(Notice::Message(message.clone()));
                    }
                }
            }
        }
    }

    fn tell_all(&self, notice: &Notice) {
        for sender in self.senders.values() {
            let _ = sender.send(notice.clone());
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
    /// The listeners for given jobs (of the finished topic).
    routes: std::sync::Mutex<Routes>,
    link: Mutex<Link>,
}

impl Shared {
    /// The routes; held only for map work, never across an await.
    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether anyone listens to `topic`.
    fn listened(&self, topic: Topic) -> bool {
        self.senders[topic.index()].receiver_count() > 0
            || (topic == Topic::Finished && !self.routes().senders.is_empty())
    }

    /// Tells every listener of `topic` `notice`.
    fn tell(&self, topic: Topic, notice: Notice) {
        if topic == Topic::Finished {
            self.routes().tell_all(&notice);
        }
        let _ = self.senders[topic.index()].send(notice);
    }
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
                routes: std::sync::Mutex::new(Routes::default()),
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
        let listener = Listener {
            source: Source::Topic(shared.senders[topic.index()].subscribe()),
            shared: shared.clone(),
        };
        self.subscribe_topic(topic).await?;
        Ok(listener)
    }

    /// Listens for the end of the jobs `ids` from now on: only the finished
    /// messages that name one of them (each once), and [`Notice::Missed`].
    pub async fn listen_for(&self, ids: &[String]) -> Result<Listener, QueueError> {
        let shared = &self.notifier.shared;
        let (key, receiver) = shared.routes().add(ids);
        let listener = Listener {
            source: Source::Jobs {
                receiver,
                key,
                ids: ids.to_vec(),
            },
            shared: shared.clone(),
        };
        self.subscribe_topic(Topic::Finished).await?;
        Ok(listener)
    }

    /// Subscribes `topic`'s channel unless it is (or is to be, on
    /// reconnecting) already.
    async fn subscribe_topic(&self, topic: Topic) -> Result<(), QueueError> {
        let mut link = self.notifier.shared.link.lock().await;
        // Subscribed already, or to be on reconnecting (which says Missed).
        if link.wanted[topic.index()] {
            return Ok(());
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
        Ok(())
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
                let message = Message(Arc::from(text));
                let shared = &self.notifier.shared;
                if topic == Topic::Finished {
                    shared.routes().route(&message);
                }
                if shared.senders[topic.index()]
                    .send(Notice::Message(message))
                    .is_err()
                    && !shared.listened(topic)
                {
                    self.forget(topic).await;
                }
            }
            tracing::debug!("the pub/sub connection dropped; making it again");
            // Told now, so a listener reads at once (and learns whether
            // Redis is gone), and again once listening anew.
            for topic in Topic::ALL {
                self.notifier.shared.tell(topic, Notice::Missed);
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
        if shared.listened(topic) || !link.wanted[topic.index()] {
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
                    link.wanted[topic.index()] &= shared.listened(topic);
                }
                if !link.wanted.contains(&true) {
                    link.reading = false;
                    return None;
                }
                match self.subscribe_wanted(&link.wanted).await {
                    Ok((sink, stream)) => {
                        link.sink = Some(sink);
                        for topic in Topic::ALL.into_iter().filter(|t| link.wanted[t.index()]) {
                            shared.tell(topic, Notice::Missed);
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
