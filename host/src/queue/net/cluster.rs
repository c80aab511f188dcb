//! A Redis Cluster connection that sends each partition's commands
//! straight to the master that owns the partition's slot.
//!
//! redis-rs' cluster connection runs every command through one routing
//! task: it copies the command, works out its slot, picks that node's
//! connection, and hands the reply back over a channel. The queue already
//! knows the slot of everything it sends (a partition's keys share one
//! hash tag), so [`Cluster`] keeps a plain multiplexed connection to the
//! master `CLUSTER SLOTS` names for each slot it has been given, and sends
//! single commands there, and pipelines that write at most once.
//!
//! The routed connection stays the authority. These go through it: a slot
//! without a direct connection yet; a pipeline that writes more than once;
//! and any command, or pipeline that wrote nothing, whose direct reply
//! says the map is stale (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, MASTERDOWN,
//! READONLY, a dropped, refused or timed-out connection). It follows
//! redirects, refreshes its slot map and retries exactly as before. The
//! stale direct connection is dropped, and the slot's master is looked up
//! again in the background no sooner than [`LOOKUP_PAUSE`] later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, FromRedisValue,
    Pipeline, RedisError, RedisFuture, RedisResult, Value,
};

use super::{CONNECT_TIMEOUT, RESPONSE_TIMEOUT, connection_failed, error_reply, lock, not_serving};

/// How long a slot waits between lookups of its master, after a lookup
/// failed or its direct connection went stale.
const LOOKUP_PAUSE: Duration = Duration::from_secs(1);

/// The queue's connection to a Redis Cluster. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    routed: ClusterConnection,
    direct: Arc<Direct>,
    /// The slot every key of this handle's commands hashes to, if one.
    slot: Option<u16>,
}

/// The direct connections, shared by every handle on the cluster.
struct Direct {
    /// How to reach a node (settings, credentials): the first seed's, with
    /// the address replaced by the master's.
    template: ConnectionInfo,
    slots: Mutex<HashMap<u16, Pin>>,
}

#[derive(Clone)]
enum Pin {
    /// Commands for the slot go to this master.
    Direct {
        addr: (String, u16),
        conn: MultiplexedConnection,
    },
    /// Looked up since this instant (or failed then): go routed.
    Routed(Instant),
}

impl Cluster {
    pub fn new(routed: ClusterConnection, template: ConnectionInfo) -> Cluster {
        Cluster {
            routed,
            direct: Arc::new(Direct {
                template,
                slots: Mutex::new(HashMap::new()),
            }),
            slot: None,
        }
    }

    /// A handle whose commands all go to `slot`'s master.
    pub fn on(&self, slot: u16) -> Cluster {
        Cluster {
            slot: Some(slot),
            ..self.clone()
        }
    }

    /// Runs `cmd` (keys in `slot`, or none) on `slot`'s master.
    pub async fn on_slot<T: FromRedisValue>(&mut self, cmd: &Cmd, slot: u16) -> RedisResult<T> {
        let value = self.send(cmd, Some(slot)).await?;
        T::from_redis_value(&value)
    }

    async fn send(&mut self, cmd: &Cmd, slot: Option<u16>) -> RedisResult<Value> {
        let Some(slot) = slot else {
            return self.routed.req_packed_command(cmd).await;
        };
        let Some(mut conn) = self.direct.connection(slot, &self.routed) else {
            return self.routed.route_command(cmd, master_of_slot(slot)).await;
        };
        // A server's error reply (MOVED among them) comes back as a value.
        let reply = match conn.req_packed_command(cmd).await {
            Ok(Value::ServerError(e)) => Err(RedisError::from(e)),
            other => other,
        };
        match reply {
            Err(e) if stale(&e) => {
                tracing::debug!(slot, "direct connection to the slot's master: {e}; routing");
                self.direct.forget(slot);
                self.routed.route_command(cmd, master_of_slot(slot)).await
            }
            other => other,
        }
    }
}

impl Cluster {
    /// A pipeline that writes at most once (a function and its `WAIT`, or
    /// reads alone) goes straight to the slot's master like a command. It
    /// is sent again through the routed connection only when nothing in it
    /// wrote: the one writing command's own reply says it did not run
    /// (MOVED, ASK, READONLY, ...), or the connection failed before a reply
    /// (as the routed connection itself would resend it). Any other
    /// pipeline goes routed from the start.
    async fn send_pipeline(
        &mut self,
        pipe: &Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        let commands = pipe.cmd_iter().count();
        let simple = offset == 0 && count == commands;
        let writes = pipe.cmd_iter().filter(|c| !is_read(c)).count();
        let direct = match self.slot {
            Some(slot) if simple && writes <= 1 => self
                .direct
                .connection(slot, &self.routed)
                .map(|conn| (slot, conn)),
            _ => None,
        };
        let Some((slot, mut conn)) = direct else {
            return self.routed.req_packed_commands(pipe, offset, count).await;
        };
        match conn.req_packed_commands(pipe, offset, count).await {
            Err(e) if stale(&e) => {}
            Ok(replies) if replies.iter().any(stale_reply) => {
                if !nothing_written(pipe, &replies) {
                    // Cannot be sent again whole; the caller sees the error.
                    self.direct.forget(slot);
                    return Ok(replies);
                }
            }
            other => return other,
        }
        tracing::debug!(
            slot,
            "direct pipeline to the slot's master went stale; routing"
        );
        self.direct.forget(slot);
        self.routed.req_packed_commands(pipe, offset, count).await
    }
}

impl ConnectionLike for Cluster {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let slot = self.slot;
        Box::pin(self.send(cmd, slot))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipe: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(self.send_pipeline(pipe, offset, count))
    }

    fn get_db(&self) -> i64 {
        0
    }
}

impl Direct {
    /// The direct connection for `slot`, or `None` (the caller routes);
    /// starts a lookup when the slot has none and none is due to wait.
    fn connection(
        self: &Arc<Self>,
        slot: u16,
        routed: &ClusterConnection,
    ) -> Option<MultiplexedConnection> {
        let mut slots = lock(&self.slots);
        match slots.get(&slot) {
            Some(Pin::Direct { conn, .. }) => return Some(conn.clone()),
            Some(Pin::Routed(since)) if since.elapsed() < LOOKUP_PAUSE => return None,
            _ => {}
        }
        slots.insert(slot, Pin::Routed(Instant::now()));
        drop(slots);
        let (direct, routed) = (self.clone(), routed.clone());
        tokio::spawn(async move {
            match direct.look_up(slot, routed).await {
                Ok(pin) => {
                    lock(&direct.slots).insert(slot, pin);
                }
                Err(e) => {
                    tracing::debug!(slot, "no direct connection to the slot's master: {e}");
                    lock(&direct.slots).insert(slot, Pin::Routed(Instant::now()));
                }
            }
        });
        None
    }

    /// Drops `slot`'s direct connection; the next lookup waits a while.
    fn forget(&self, slot: u16) {
        lock(&self.slots).insert(slot, Pin::Routed(Instant::now()));
    }

    /// Asks the slot's master which node serves `slot`, then connects to it
    /// (or reuses a direct connection to the same node).
    async fn look_up(&self, slot: u16, mut routed: ClusterConnection) -> RedisResult<Pin> {
        let map = routed
            .route_command(redis::cmd("CLUSTER").arg("SLOTS"), master_of_slot(slot))
            .await?;
        let addr = master_of(&map, slot).ok_or_else(|| {
            RedisError::from((
                ErrorKind::ClientError,
                "CLUSTER SLOTS names no reachable master for the slot",
            ))
        })?;
        let known = lock(&self.slots).values().find_map(|pin| match pin {
            Pin::Direct { addr: a, conn } if *a == addr => Some(conn.clone()),
            _ => None,
        });
        let conn = match known {
            Some(conn) => conn,
            None => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(CONNECT_TIMEOUT)
                    .set_response_timeout(RESPONSE_TIMEOUT);
                redis::Client::open(self.at(&addr)?)?
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?
            }
        };
        Ok(Pin::Direct { addr, conn })
    }

    /// The seed's connection settings, at `addr`.
    fn at(&self, (host, port): &(String, u16)) -> RedisResult<ConnectionInfo> {
        let mut info = self.template.clone();
        info.addr = match &self.template.addr {
            ConnectionAddr::Tcp(..) => ConnectionAddr::Tcp(host.clone(), *port),
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host: host.clone(),
                port: *port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            ConnectionAddr::Unix(_) => {
                return Err(RedisError::from((
                    ErrorKind::ClientError,
                    "cluster seeds on unix sockets are reached through routing only",
                )));
            }
        };
        Ok(info)
    }
}

/// The master's address for `slot` in a `CLUSTER SLOTS` reply: entries of
/// `[start, end, [host, port, id, ...], replicas...]`. `None` when the
/// slot is not served or the master's endpoint is unknown (`?` or empty).
fn master_of(map: &Value, slot: u16) -> Option<(String, u16)> {
    let Value::Array(ranges) = map else {
        return None;
    };
    ranges.iter().find_map(|range| {
        let Value::Array(fields) = range else {
            return None;
        };
        let [Value::Int(start), Value::Int(end), Value::Array(master), ..] = fields.as_slice()
        else {
            return None;
        };
        if !(*start..=*end).contains(&i64::from(slot)) {
            return None;
        }
        let host = match master.first()? {
            Value::BulkString(b) => String::from_utf8(b.clone()).ok()?,
            Value::SimpleString(s) => s.clone(),
            _ => return None,
        };
        let Value::Int(port) = master.get(1)? else {
            return None;
        };
        let port = u16::try_from(*port).ok()?;
        (!host.is_empty() && host != "?").then_some((host, port))
    })
}

/// Routing to the master that serves `slot`.
fn master_of_slot(slot: u16) -> RoutingInfo {
    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::new(
        slot,
        SlotAddr::Master,
    )))
}

/// Commands that write nothing: a pipeline of these and one writing
/// command can be sent again if that command did not run.
const READS: &[&str] = &[
    "EXISTS",
    "WAIT",
    "GET",
    "MGET",
    "HGET",
    "HMGET",
    "HGETALL",
    "HLEN",
    "HEXISTS",
    "LRANGE",
    "LLEN",
    "ZCARD",
    "ZSCORE",
    "ZRANGE",
    "ZCOUNT",
    "SCARD",
    "SMEMBERS",
    "SISMEMBER",
    "TTL",
    "PTTL",
    "TYPE",
    "PING",
    "TIME",
    "FCALL_RO",
];

fn is_read(cmd: &Cmd) -> bool {
    match cmd.args_iter().next() {
        Some(redis::Arg::Simple(name)) => READS
            .iter()
            .any(|r| r.as_bytes().eq_ignore_ascii_case(name)),
        _ => false,
    }
}

/// Whether no writing command of `pipe` ran, by its replies: each one's
/// own reply says its node did not serve the slot.
fn nothing_written(pipe: &Pipeline, replies: &[Value]) -> bool {
    !pipe
        .cmd_iter()
        .zip(replies)
        .any(|(c, reply)| !is_read(c) && !stale_reply(reply))
}

/// Whether one reply in a pipeline says the node no longer serves the slot.
fn stale_reply(reply: &Value) -> bool {
    error_reply(reply).is_some_and(|e| stale(&e))
}

/// Whether an error says the direct connection is no longer the way to
/// the slot's master (so the routed connection should take the command).
fn stale(e: &RedisError) -> bool {
    connection_failed(e) || not_serving(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn range(start: i64, end: i64, host: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::Int(start),
            Value::Int(end),
            Value::Array(vec![bulk(host), Value::Int(port), bulk("id")]),
            Value::Array(vec![bulk("10.0.0.9"), Value::Int(7009), bulk("replica")]),
        ])
    }

    #[test]
    fn a_pipeline_goes_again_only_if_nothing_in_it_wrote() {
        let error = |line: &str| {
            redis::parse_redis_value(format!("-{line}\r\n").as_bytes()).expect("an error reply")
        };
        let moved = error("MOVED 3999 127.0.0.1:6381");
        let mut write_and_wait = redis::pipe();
        write_and_wait
            .cmd("FCALL")
            .arg("f")
            .arg(1)
            .arg("{q}:seq")
            .cmd("WAIT")
            .arg(1)
            .arg(1000);
        let writes = write_and_wait.cmd_iter().filter(|c| !is_read(c)).count();
        assert_eq!(writes, 1);
        // The function did not run: send it again.
        assert!(nothing_written(
            &write_and_wait,
            &[moved.clone(), Value::Int(0)]
        ));
        // It ran (whatever WAIT said), or failed in itself: never again.
        assert!(!nothing_written(
            &write_and_wait,
            &[Value::Okay, moved.clone()]
        ));
        let script_error = error("ERR in the script");
        assert!(!nothing_written(
            &write_and_wait,
            &[script_error, Value::Int(0)]
        ));
        // Reads alone may always go again.
        let mut reads = redis::pipe();
        reads.exists("{q}:job:a").exists("{q}:job:b");
        assert!(nothing_written(&reads, &[moved, Value::Int(1)]));
        assert!(is_read(redis::cmd("wait").arg(1)));
        assert!(!is_read(redis::cmd("HSET").arg("k")));
    }

    #[test]
    fn the_master_of_a_slot_is_read_from_cluster_slots() {
        let map = Value::Array(vec![
            range(0, 5460, "10.0.0.1", 7000),
            range(5461, 10922, "10.0.0.2", 7001),
            range(10923, 16383, "?", 7002),
        ]);
        assert_eq!(master_of(&map, 0), Some(("10.0.0.1".into(), 7000)));
        assert_eq!(master_of(&map, 5461), Some(("10.0.0.2".into(), 7001)));
        assert_eq!(master_of(&map, 10922), Some(("10.0.0.2".into(), 7001)));
        // Unknown endpoint, unserved slot, a reply of another shape.
        assert_eq!(master_of(&map, 16000), None);
        assert_eq!(
            master_of(&Value::Array(vec![range(0, 10, "h", 1)]), 11),
            None
        );
        assert_eq!(master_of(&Value::Array(vec![range(0, 10, "", 1)]), 5), None);
        assert_eq!(
            master_of(&Value::Array(vec![range(0, 10, "h", 70000)]), 5),
            None
        );
        assert_eq!(master_of(&Value::Nil, 5), None);
    }
}
