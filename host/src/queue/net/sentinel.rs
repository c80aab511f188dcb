//! A Sentinel group's master (`redis+sentinel://`, or `rediss+sentinel://`
//! over TLS to the sentinels and the data nodes alike): the client that asks
//! the sentinels, and the connection to the master they name, dropped once
//! it stops answering as the master so the next call asks again.

use redis::aio::MultiplexedConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{ConnectionInfo, IntoConnectionInfo, RedisResult, TlsCertificates, TlsMode, Value};

use super::{CONNECT_TIMEOUT, RESPONSE_TIMEOUT, connection_failed, error_reply, lock};

/// The client for `master` behind `sentinels` (URLs), with `node`'s
/// credentials and db for the data nodes. With `tls`, every connection,
/// to a sentinel or a data node, is TLS, verified against the system's CAs
/// or `certificates`' CA, presenting `certificates`' client certificate if
/// it has one.
pub(super) fn client(
    sentinels: &[String],
    master: &str,
    node: &str,
    tls: bool,
    certificates: Option<TlsCertificates>,
) -> RedisResult<SentinelClient> {
    let addrs = sentinels
        .iter()
        .map(|s| Ok(s.as_str().into_connection_info()?.addr))
        .collect::<RedisResult<Vec<_>>>()?;
    let ConnectionInfo { redis: node, .. } = node.into_connection_info()?;
    let mut builder =
        SentinelClientBuilder::new(addrs, master.to_string(), SentinelServerType::Master)?
            .set_client_to_redis_db(node.db);
    if let Some(username) = node.username {
        builder = builder.set_client_to_redis_username(username);
    }
    if let Some(password) = node.password {
        builder = builder.set_client_to_redis_password(password);
    }
    if tls {
        builder = builder
            .set_client_to_sentinel_tls_mode(TlsMode::Secure)
            .set_client_to_redis_tls_mode(TlsMode::Secure);
        if let Some(certs) = certificates {
            builder = builder
                .set_client_to_sentinel_certificates(certs.clone())
                .set_client_to_redis_certificates(certs);
        }
    } else if certificates.is_some() {
        return Err(redis::RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "TLS files are set but the URL is redis+sentinel:// (rediss+sentinel:// for TLS)",
        )));
    }
    builder.build()
}

/// The master the sentinels name, and the connection to it while it
/// answers.
pub struct SentinelShared {
    pub(super) client: tokio::sync::Mutex<SentinelClient>,
    current: std::sync::Mutex<Option<MultiplexedConnection>>,
}

impl SentinelShared {
    pub(super) fn new(client: SentinelClient) -> SentinelShared {
        SentinelShared {
            client: tokio::sync::Mutex::new(client),
            current: std::sync::Mutex::new(None),
        }
    }

    /// The connection to the master, asking the sentinels for it when
    /// there is none.
    pub(super) async fn connection(&self) -> RedisResult<MultiplexedConnection> {
        if let Some(conn) = lock(&self.current).clone() {
            return Ok(conn);
        }
        let mut client = self.client.lock().await;
        // Another caller may have connected while this one waited.
        if let Some(conn) = lock(&self.current).clone() {
            return Ok(conn);
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(RESPONSE_TIMEOUT);
        let conn = client.get_async_connection_with_config(&config).await?;
        *lock(&self.current) = Some(conn.clone());
        Ok(conn)
    }

    /// Forgets the connection after an error that says its server is gone
    /// or is no longer the master, so the next call asks the sentinels.
    pub(super) fn check(&self, reply: Result<&[Value], &redis::RedisError>) {
        if not_the_master(reply) {
            *lock(&self.current) = None;
        }
    }
}

/// Whether a reply says its server is gone or is no longer the master: a
/// connection error, or an error reply (READONLY, MASTERDOWN), which comes
/// back as a value (in a pipeline's replies too).
fn not_the_master(reply: Result<&[Value], &redis::RedisError>) -> bool {
    let gone = |e: &redis::RedisError| {
        connection_failed(e)
            || matches!(
                e.kind(),
                redis::ErrorKind::ReadOnly | redis::ErrorKind::MasterDown
            )
    };
    match reply {
        Err(e) => gone(e),
        Ok(values) => values.iter().filter_map(error_reply).any(|e| gone(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_reply_or_a_dropped_connection_means_the_master_moved() {
        let reply = |line: &str| {
            redis::parse_redis_value(format!("-{line}\r\n").as_bytes()).expect("an error reply")
        };
        let read_only = reply("READONLY You can't write against a read only replica.");
        let script_error = reply("ERR something else");
        let ok = Value::Okay;
        assert!(not_the_master(Ok(std::slice::from_ref(&read_only))));
        assert!(not_the_master(Ok(&[ok.clone(), read_only])));
        assert!(not_the_master(Ok(&[reply(
            "MASTERDOWN Link with MASTER is down"
        )])));
        let dropped = redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(not_the_master(Err(&dropped)));
        assert!(!not_the_master(Ok(&[ok, script_error])));
        assert!(!not_the_master(Ok(&[])));
    }
}
