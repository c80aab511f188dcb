//! Where the queue's Redis is and how to reach it, behind one connection
//! type: a single server (`redis://`), a Redis Cluster
//! (`redis+cluster://`), or the master a Sentinel group names
//! (`redis+sentinel://`, kept in `sentinel.rs`); each over TLS with
//! `rediss` in place of `redis`.
//!
//! - [`Endpoint`]: the URL, checked and taken apart.
//! - [`Conn`]: the multiplexed connection every queue operation uses. It
//!   reconnects by itself: a single server's after a restart, a cluster's
//!   slot map after MOVED/ASK or a failover, a Sentinel master's by asking
//!   the sentinels again once the old master stops answering.
//! - [`Connector`]: opens the dedicated pub/sub connections.

use std::sync::Arc;

use redis::TlsCertificates;
use redis::aio::{ConnectionLike, ConnectionManager, PubSub};
use redis::{Cmd, FromRedisValue, IntoConnectionInfo, Pipeline, RedisFuture, RedisResult, Value};

use super::cluster::Cluster;
use super::sentinel::{self, SentinelShared};
use super::{CONNECT_TIMEOUT, Invalid, RESPONSE_TIMEOUT, invalid};

/// A Redis URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `redis://[user:password@]host:port[/db]` (or `rediss://`, `unix://`).
    Single(String),
    /// `redis+cluster://[user:password@]host:port[,host:port...]`: the seed
    /// nodes, each as a `redis://` URL carrying the credentials
    /// (`rediss+cluster://`: `rediss://`, over TLS).
    Cluster(Vec<String>),
    /// `redis+sentinel://[user:password@]host:port[,host:port...]/<master>[/db]`:
    /// the credentials and db are the data nodes'; the sentinels take none.
    Sentinel {
        sentinels: Vec<String>,
        master: String,
        /// `redis://[credentials@]<first sentinel>/<db>`, read for the
        /// data nodes' credentials and db only.
        node: String,
    },
}

impl Endpoint {
    /// Checks `url` and takes it apart. The error never quotes a password.
    pub fn parse(url: &str) -> Result<Endpoint, Invalid> {
        let shown = crate::redact::url(url);
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(invalid(
                "redis_url",
                format!(
                    "{shown:?} is not a URL (redis://, rediss://, redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel://)"
                ),
            ));
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (userinfo, hosts) = match authority.rfind('@') {
            Some(at) => (&authority[..=at], &authority[at + 1..]),
            None => ("", authority),
        };
        let nodes = || -> Result<Vec<&str>, Invalid> {
            let nodes: Vec<&str> = hosts.split(',').collect();
            if nodes.iter().any(|n| n.is_empty()) {
                return Err(invalid(
                    "redis_url",
                    format!("{shown:?}: list the nodes as host:port, separated by commas"),
                ));
            }
            Ok(nodes)
        };
        let endpoint = match scheme {
            "redis+cluster" | "rediss+cluster" => {
                if !matches!(path, "" | "/") {
                    return Err(invalid(
                        "redis_url",
                        format!("{shown:?}: a cluster has no database number or path"),
                    ));
                }
                let seeds = nodes()?;
                let node_scheme = scheme.trim_end_matches("+cluster");
                Endpoint::Cluster(
                    seeds
                        .iter()
                        .map(|n| format!("{node_scheme}://{userinfo}{n}"))
                        .collect(),
                )
            }
            "redis+sentinel" | "rediss+sentinel" => {
                let mut parts = path.trim_start_matches('/').splitn(2, '/');
                let master = parts.next().unwrap_or_default();
                let db = parts.next().unwrap_or("0");
                if master.is_empty() {
                    return Err(invalid(
                        "redis_url",
                        format!(
                            "{shown:?}: name the master after the sentinels (redis+sentinel://host:port/<master>)"
                        ),
                    ));
                }
                let sentinels = nodes()?;
                let node_scheme = scheme.trim_end_matches("+sentinel");
                Endpoint::Sentinel {
                    sentinels: sentinels
                        .iter()
                        .map(|n| format!("{node_scheme}://{n}"))
                        .collect(),
                    master: master.to_string(),
                    node: format!("{node_scheme}://{userinfo}{}/{db}", sentinels[0]),
                }
            }
            _ => Endpoint::Single(url.to_string()),
        };
        endpoint.check(&shown)?;
        Ok(endpoint)
    }

    /// Every URL in it parses as a Redis URL.
    fn check(&self, shown: &str) -> Result<(), Invalid> {
        let urls: Vec<&String> = match self {
            Endpoint::Single(url) => vec![url],
            Endpoint::Cluster(nodes) => nodes.iter().collect(),
            Endpoint::Sentinel {
                sentinels, node, ..
            } => sentinels.iter().chain([node]).collect(),
        };
        for url in urls {
            if let Err(e) = url.as_str().into_connection_info() {
                return Err(invalid(
                    "redis_url",
                    format!("{shown:?}: {}", crate::redact::text(&e.to_string(), url)),
                ));
            }
        }
        Ok(())
    }

    /// Whether it connects over TLS (`rediss://`, `rediss+cluster://`,
    /// `rediss+sentinel://`).
    pub fn tls(&self) -> bool {
        match self {
            Endpoint::Single(url) => url.starts_with("rediss://"),
            Endpoint::Cluster(nodes) => nodes.iter().all(|n| n.starts_with("rediss://")),
            Endpoint::Sentinel { node, .. } => node.starts_with("rediss://"),
        }
    }

    /// Connects (with `tls`'s CA and client certificate, if given); fails if
    /// no node answers now.
    pub async fn connect(&self, tls: Option<TlsCertificates>) -> RedisResult<(Conn, Connector)> {
        let client = |url: &str| match &tls {
            Some(certs) => redis::Client::build_with_tls(url, certs.clone()),
            None => redis::Client::open(url),
        };
        match self {
            Endpoint::Single(url) => {
                let client = client(url)?;
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(CONNECT_TIMEOUT)
                    .set_response_timeout(RESPONSE_TIMEOUT)
                    .set_number_of_retries(2)
                    .set_max_delay(1000);
                let conn = client.get_connection_manager_with_config(config).await?;
                Ok((Conn::Single(conn), Connector::Single(client)))
            }
            Endpoint::Cluster(nodes) => {
                let mut builder = redis::cluster::ClusterClient::builder(nodes.clone());
                if let Some(certs) = &tls {
                    builder = builder.certs(certs.clone());
                }
                let routed = builder
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(10)
                    .min_retry_wait(50)
                    .max_retry_wait(1000)
                    .build()?
                    .get_async_connection()
                    .await?;
                let seeds: Vec<redis::Client> = nodes
                    .iter()
                    .map(|n| client(n))
                    .collect::<RedisResult<_>>()?;
                let template = seeds
                    .first()
                    .map(|seed| seed.get_connection_info().clone())
                    .ok_or_else(|| {
                        redis::RedisError::from((
                            redis::ErrorKind::InvalidClientConfig,
                            "a cluster URL names no seed node",
                        ))
                    })?;
                Ok((
                    Conn::Cluster(Cluster::new(routed, template)),
                    Connector::Cluster(seeds),
                ))
            }
            Endpoint::Sentinel {
                sentinels,
                master,
                node,
            } => {
                let client = sentinel::client(sentinels, master, node, self.tls(), tls)?;
                let shared = Arc::new(SentinelShared::new(client));
                // Fails now if no sentinel names a master that answers.
                shared.connection().await?;
                Ok((Conn::Sentinel(shared.clone()), Connector::Sentinel(shared)))
            }
        }
    }
}

/// The queue's connection, whatever stands behind it. Cheap to clone.
#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    /// Sends a partition's commands straight to its slot's master (see
    /// `cluster.rs`).
    Cluster(Cluster),
    Sentinel(Arc<SentinelShared>),
}

impl Conn {
    /// A handle for commands whose keys are all in `slot` (or that have
    /// none): in a cluster, they go straight to the slot's master.
    pub fn on(&self, slot: u16) -> Conn {
        match self {
            Conn::Cluster(c) => Conn::Cluster(c.on(slot)),
            other => other.clone(),
        }
    }

    /// Runs `cmd`, a command without keys (TIME, CONFIG, PING, SCAN), on
    /// the master that owns `slot`: in a cluster, the node the queue's
    /// keys live on; otherwise the one server.
    pub async fn on_slot<T: FromRedisValue>(&mut self, cmd: &Cmd, slot: u16) -> RedisResult<T> {
        match self {
            Conn::Cluster(c) => c.on_slot(cmd, slot).await,
            other => cmd.query_async(other).await,
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Sentinel(s) => Box::pin(async move {
                let mut conn = s.connection().await?;
                let reply = conn.req_packed_command(cmd).await;
                s.check(reply.as_ref().map(std::slice::from_ref));
                reply
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Sentinel(s) => Box::pin(async move {
                let mut conn = s.connection().await?;
                let reply = conn.req_packed_commands(cmd, offset, count).await;
                s.check(reply.as_ref().map(Vec::as_slice));
                reply
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Sentinel(_) => 0,
        }
    }
}

/// Opens dedicated pub/sub connections (pub/sub cannot share [`Conn`]).
#[derive(Clone)]
pub enum Connector {
    Single(redis::Client),
    /// The seed nodes: in a cluster, a message published on any node
    /// reaches the subscribers of every node, so any live seed will do.
    Cluster(Vec<redis::Client>),
    Sentinel(Arc<SentinelShared>),
}

impl Connector {
    pub async fn pubsub(&self) -> RedisResult<PubSub> {
        match self {
            Connector::Single(client) => timed(client.get_async_pubsub()).await,
            Connector::Cluster(seeds) => {
                // From a random seed on, so many hosts' subscriptions spread
                // over the nodes instead of all landing on the first.
                let start = fastrand::usize(..seeds.len().max(1));
                let mut last = None;
                for seed in seeds.iter().cycle().skip(start).take(seeds.len()) {
                    match tokio::time::timeout(CONNECT_TIMEOUT, seed.get_async_pubsub()).await {
                        Ok(Ok(pubsub)) => return Ok(pubsub),
                        Ok(Err(e)) => last = Some(e),
                        Err(_) => {}
                    }
                }
                Err(last.unwrap_or_else(|| {
                    redis::RedisError::from((
                        redis::ErrorKind::IoError,
                        "no cluster seed node answered",
                    ))
                }))
            }
            Connector::Sentinel(shared) => {
                let client = shared.client.lock().await.async_get_client().await?;
                timed(client.get_async_pubsub()).await
            }
        }
    }
}

/// `connect`, given up after `CONNECT_TIMEOUT`: a host that does not
/// answer would otherwise hold the caller for the system's TCP timeout.
async fn timed<T>(connect: impl std::future::Future<Output = RedisResult<T>>) -> RedisResult<T> {
    tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "connecting timed out",
            )))
        })
}

/// The Redis Cluster slot of a hash tag's content (CRC16/XMODEM mod 16384).
pub fn slot(tag: &str) -> u16 {
    let mut crc: u16 = 0;
    for byte in tag.bytes() {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16384
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // `CLUSTER KEYSLOT` gives these.
        assert_eq!(slot("123456789"), 12739);
    }

    #[test]
    fn urls_are_taken_apart() {
        assert_eq!(
            Endpoint::parse("redis://127.0.0.1:6379/2").unwrap(),
            Endpoint::Single("redis://127.0.0.1:6379/2".into())
        );
        assert_eq!(
            Endpoint::parse("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001").unwrap(),
            Endpoint::Cluster(vec![
                "redis://:pw@10.0.0.1:7000".into(),
                "redis://:pw@10.0.0.2:7001".into()
            ])
        );
        let tls = Endpoint::parse("rediss+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001").unwrap();
        assert_eq!(
            tls,
            Endpoint::Cluster(vec![
                "rediss://:pw@10.0.0.1:7000".into(),
                "rediss://:pw@10.0.0.2:7001".into()
            ])
        );
        assert!(tls.tls() && Endpoint::parse("rediss://h:1").unwrap().tls());
        assert!(!Endpoint::parse("redis+cluster://h:1").unwrap().tls());
        assert_eq!(
            Endpoint::parse("redis+sentinel://:pw@h1:26379,h2:26379/main/3").unwrap(),
            Endpoint::Sentinel {
                sentinels: vec!["redis://h1:26379".into(), "redis://h2:26379".into()],
                master: "main".into(),
                node: "redis://:pw@h1:26379/3".into(),
            }
        );
        let tls = Endpoint::parse("rediss+sentinel://:pw@h1:26379,h2:26379/main").unwrap();
        assert_eq!(
            tls,
            Endpoint::Sentinel {
                sentinels: vec!["rediss://h1:26379".into(), "rediss://h2:26379".into()],
                master: "main".into(),
                node: "rediss://:pw@h1:26379/0".into(),
            }
        );
        assert!(tls.tls());
        assert!(!Endpoint::parse("redis+sentinel://h1:1/main").unwrap().tls());
    }

    #[test]
    fn bad_urls_are_named_without_their_password() {
        for url in [
            "redis+cluster://:hunter22@h1:1,,h2:2",
            "redis+cluster://:hunter22@h1:1/3",
            "redis+sentinel://:hunter22@h1:1",
            "redis+sentinel://:hunter22@h1:1/",
            "redis+sentinel://:hunter22@h1:1/main/notadb",
            "localhost:6379",
            "http://:hunter22@h1:1",
        ] {
            let e = Endpoint::parse(url).unwrap_err().to_string();
            assert!(e.contains("redis_url"), "{url}: {e}");
            assert!(!e.contains("hunter22"), "{url}: {e}");
        }
    }
}
