//! Every Lua function the queue runs: one Redis Functions library assembled
//! from `scripts/*.lua`, and [`Call`], one call of a function.
//!
//! The library is `prelude.lua` (shared helpers, the key layout and the
//! per-call state), `endings.lua` (how a failed job ends, and what waits on
//! it), `submit_job.lua` (the submission the submit functions share), then
//! one function per body file; each body's header lists its
//! arguments, the keys it touches and what it returns. Functions are
//! atomic: every state change of a job happens inside exactly one of them.
//!
//! A library rather than EVALSHA scripts: a script runs its whole prelude
//! on every call (some 40 helpers defined before its first command), a
//! library once, when it loads; a submission timed alone took 52-73 µs as
//! a function against 82-88 µs as a script (README, "Past one Redis"). Redis
//! keeps a library in its data set and replicates it, but a server that
//! restarts empty, or a new master, lacks it: a call that finds it missing
//! loads it on that master and runs again. Its name carries a digest of its
//! code, so hosts of different versions sharing one Redis each call their
//! own. Needs Redis 7.0 or later.

use std::sync::OnceLock;

use redis::{Cmd, FromRedisValue, RedisError, RedisResult, ToRedisArgs};
use sha2::{Digest, Sha256};

use super::net::Conn;

const PRELUDE: &str = include_str!("scripts/prelude.lua");
const ENDINGS: &str = include_str!("scripts/endings.lua");
const SUBMIT_JOB: &str = include_str!("scripts/submit_job.lua");

/// Declares the library's functions once: each name is a body file
/// `scripts/<name>.lua` and a field of [`Functions`].
macro_rules! library {
    ($($name:ident),* $(,)?) => {
        /// The body of every function, by name.
        const BODIES: &[(&str, &str)] = &[
            $((stringify!($name), include_str!(concat!("scripts/", stringify!($name), ".lua")))),*
        ];

        pub(crate) struct Functions {
            /// The library's source, loaded by `FUNCTION LOAD`.
            code: String,
            $(pub $name: Function,)*
        }

        impl Functions {
            fn named(library: &str, code: String) -> Functions {
                Functions {
                    code,
                    $($name: Function(format!("{library}_{}", stringify!($name))),)*
                }
            }
        }
    };
}

library![
    submit,
    submit_batch,
    claim,
    complete,
    fail,
    renew,
    reap,
    release,
    cancel,
    replay,
    purge,
    mark_waited,
    recount_running,
    slot,
    slot_hold,
    budget,
    fire,
    dlq_trim,
    wait_also,
    relay,
    pulse,
    suspend,
    resume,
    expire_waits,
    kv_set,
    kv_delete,
    llm_usage,
    llm_defer,
    llm_settle,
];

/// A function of the library, by its name in Redis.
pub(crate) struct Function(String);

/// `deckhand_<digest>`: the library's name, and the start of its functions'.
fn library_name() -> String {
    let mut digest = Sha256::new();
    for part in [PRELUDE, ENDINGS, SUBMIT_JOB] {
        digest.update(part);
    }
    for (name, body) in BODIES {
        digest.update(name);
        digest.update(body);
    }
    let hex: String = digest.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("deckhand_{hex}")
}

pub(crate) fn functions() -> &'static Functions {
    static FUNCTIONS: OnceLock<Functions> = OnceLock::new();
    FUNCTIONS.get_or_init(|| {
        let library = library_name();
        let mut code = format!("#!lua name={library}\n{PRELUDE}\n{ENDINGS}\n{SUBMIT_JOB}\n");
        for (name, body) in BODIES {
            // `begin` sets ARGV for the body, which reads its arguments
            // from there as a script would.
            code.push_str(&format!(
                "redis.register_function('{library}_{name}', function(_, args)\nbegin(args)\n{body}\nend)\n"
            ));
        }
        Functions::named(&library, code)
    })
}

/// One call of a function: `FCALL <function> 1 <key> <args...>`, its one
/// key naming the slot a cluster routes it to.
pub(crate) struct Call {
    cmd: Cmd,
    /// The key's slot: where the library is loaded when it is missing.
    slot: u16,
}

impl Call {
    pub fn new(function: &Function, key: String, slot: u16) -> Call {
        let mut cmd = redis::cmd("FCALL");
        cmd.arg(&function.0).arg(1).arg(key);
        Call { cmd, slot }
    }

    pub fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Call {
        self.cmd.arg(arg);
        self
    }

    pub fn cmd(&self) -> &Cmd {
        &self.cmd
    }

    /// Runs the call, first loading the library where it is missing.
    pub async fn invoke_async<T: FromRedisValue>(&self, conn: &mut Conn) -> RedisResult<T> {
        match self.cmd.query_async(conn).await {
            Err(e) if missing(&e) => {
                self.load(conn).await?;
                self.cmd.query_async(conn).await.map_err(explain)
            }
            other => other.map_err(explain),
        }
    }

    /// Loads the library on the master of the call's slot (replacing a
    /// copy another host loaded meanwhile: the same code).
    pub async fn load(&self, conn: &mut Conn) -> RedisResult<()> {
        let mut cmd = redis::cmd("FUNCTION");
        cmd.arg("LOAD").arg("REPLACE").arg(&functions().code);
        conn.on_slot::<String>(&cmd, self.slot)
            .await
            .map(drop)
            .map_err(explain)
    }
}

/// Whether `e` says the function called is not loaded on that server.
pub(crate) fn missing(e: &RedisError) -> bool {
    e.kind() == redis::ErrorKind::ResponseError
        && e.detail()
            .is_some_and(|d| d.starts_with("Function not found"))
}

/// A server without Redis Functions (before 7.0) answers FCALL and
/// FUNCTION as unknown commands: said as what it means.
pub(crate) fn explain(e: RedisError) -> RedisError {
    let unknown = e.detail().is_some_and(|d| {
        d.starts_with("unknown command") && (d.contains("FCALL") || d.contains("FUNCTION"))
    });
    if unknown {
        return RedisError::from((
            redis::ErrorKind::ClientError,
            "Redis 7.0 or later is needed",
            "this server has no Redis Functions (FCALL, FUNCTION LOAD)".to_string(),
        ));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_body_has_its_function_and_the_name_follows_the_code() {
        let f = functions();
        for (name, _) in BODIES {
            let registered = format!("redis.register_function('{}_{name}',", library_name());
            assert!(f.code.contains(&registered), "{name}");
        }
        assert!(f.claim.0.starts_with("deckhand_") && f.claim.0.ends_with("_claim"));
        assert_eq!(f.claim.0, format!("{}_claim", library_name()));
    }
}
