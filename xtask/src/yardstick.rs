//! How fast this machine's Redis runs scripts, stated beside the `--scale`
//! figures. Script time per job moves two- to threefold between machines
//! of the same kind while the code stays the same, so a figure from one
//! machine says little next to a limit or another machine's figure without
//! it. On a fresh `redis-server`, one connection after another
//! (`redis-benchmark`, one client), `INFO commandstats` times:
//!
//! - an `FCALL` of a Redis Function that returns at once: what any script
//!   call costs before it does anything;
//! - an `FCALL` of one that makes a single `redis.call('TIME')`: the
//!   difference is what each `redis.call` inside a script costs before its
//!   command does any work;
//! - a plain `GET`, for scale.

use std::process::Command;

use crate::bench::FreshRedis;

/// Calls timed for each figure.
const CALLS: &str = "20000";

/// A library of two functions that do (next to) nothing.
const LIBRARY: &str = "#!lua name=yardstick
redis.register_function('yardstick_return', function() return 1 end)
redis.register_function('yardstick_time', function() redis.call('TIME') return 1 end)";

/// One sentence for the table's notes; says why when it cannot measure.
pub fn redis_yardstick() -> String {
    match measure() {
        Ok(figures) => figures,
        Err(e) => format!("This Redis' speed was not measured: {e}."),
    }
}

fn measure() -> Result<String, String> {
    let redis = FreshRedis::start()?;
    let port = redis.port.to_string();
    let cli = |args: &[&str]| -> Result<String, String> {
        let out = Command::new("redis-cli")
            .args(["-p", &port])
            .args(args)
            .output()
            .map_err(|e| format!("cannot run redis-cli: {e}"))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let loaded = cli(&["FUNCTION", "LOAD", LIBRARY])?;
    if loaded.trim() != "yardstick" {
        return Err(format!("FUNCTION LOAD answered {:?}", loaded.trim()));
    }
    let time = |stat: &str, command: &[&str]| -> Result<f64, String> {
        cli(&["CONFIG", "RESETSTAT"])?;
        let status = Command::new("redis-benchmark")
            .args(["-p", &port, "-q", "-c", "1", "-n", CALLS])
            .args(command)
            .output()
            .map_err(|e| format!("cannot run redis-benchmark: {e}"))?
            .status;
        if !status.success() {
            return Err(format!("redis-benchmark {} failed", command.join(" ")));
        }
        commandstat(&cli(&["INFO", "commandstats"])?, stat, "usec_per_call")
            .ok_or_else(|| format!("INFO commandstats has no {stat} after {CALLS} calls"))
    };
    let returns = time("fcall", &["FCALL", "yardstick_return", "0"])?;
    let one_call = time("fcall", &["FCALL", "yardstick_time", "0"])?;
    let get = time("get", &["GET", "yardstick"])?;
    Ok(format!(
        "This Redis (`redis-benchmark`, 1 client, {CALLS} calls each, `INFO commandstats`): \
         an FCALL that returns at once {returns:.2} µs, one that makes a single `redis.call` \
         {one_call:.2} µs ({:.2} µs a `redis.call`), a GET {get:.2} µs.",
        one_call - returns
    ))
}

/// `field` of `cmdstat_<command>` in an `INFO commandstats` reply (`usec`,
/// `usec_per_call`, `calls`, ...).
pub(crate) fn commandstat(info: &str, command: &str, field: &str) -> Option<f64> {
    let prefix = format!("cmdstat_{command}:");
    let field = format!("{field}=");
    info.lines()
        .find_map(|l| l.trim().strip_prefix(prefix.as_str()))?
        .split(',')
        .find_map(|f| f.strip_prefix(field.as_str()))?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_field_of_one_command() {
        let info = "# Commandstats\r\n\
            cmdstat_config|resetstat:calls=1,usec=3,usec_per_call=3.00,rejected_calls=0,failed_calls=0\r\n\
            cmdstat_fcall:calls=20000,usec=36200,usec_per_call=1.81,rejected_calls=0,failed_calls=0\r\n";
        assert_eq!(commandstat(info, "fcall", "usec_per_call"), Some(1.81));
        assert_eq!(commandstat(info, "fcall", "usec"), Some(36200.0));
        assert_eq!(commandstat(info, "get", "usec"), None);
        assert_eq!(
            commandstat("cmdstat_get:calls=1,usec=x", "get", "usec"),
            None
        );
    }
}
