//! Keeps `keys.rs` and the Lua scripts in agreement: every name a script
//! spells is one `keys.rs` knows.

use std::collections::BTreeSet;

use super::*;
use crate::job::JobFailure;
use crate::queue::JobStatus;

/// Names Lua itself uses, not the layout: `type(x) == 'table'`.
const LUA_WORDS: &[&str] = &["table"];

fn scripts() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/queue/scripts");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("the scripts directory")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "lua"))
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).expect("a script");
            (e.file_name().to_string_lossy().into_owned(), text)
        })
        .collect();
    out.sort();
    out
}

/// Every single-quoted lower-case name in the code (comments left out).
fn names(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("--").next().unwrap_or("");
        let mut rest = code;
        while let Some(start) = rest.find('\'') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('\'') else { break };
            let word = &after[..end];
            if !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                found.insert(word.to_string());
            }
            rest = &after[end + 1..];
        }
    }
    found
}

fn known() -> BTreeSet<String> {
    let statuses = [
        JobStatus::Pending,
        JobStatus::Waiting,
        JobStatus::Scheduled,
        JobStatus::Suspended,
        JobStatus::Running,
        JobStatus::Completed,
        JobStatus::Dead,
        JobStatus::Cancelled,
    ]
    .map(|s| s.as_str());
    let m = String::new();
    let failures = [
        JobFailure::Retry { message: m.clone() },
        JobFailure::Fail { message: m.clone() },
        JobFailure::RetryWithFeedback {
            message: m.clone(),
            feedback: m.clone(),
        },
        JobFailure::Timeout { limit_ms: 0 },
        JobFailure::MemoryLimit { limit_bytes: 0 },
        JobFailure::StackOverflow { limit_bytes: 0 },
        JobFailure::Trap { message: m.clone() },
        JobFailure::BadResult { message: m.clone() },
        JobFailure::Instantiate { message: m },
    ]
    .map(|f| f.kind());
    key::ALL
        .iter()
        .chain(field::ALL)
        .chain(stat::ALL)
        .chain(word::ALL)
        .chain(&statuses)
        .chain(&failures)
        .chain(LUA_WORDS)
        .chain(minute::ALL)
        .chain(kv::ALL)
        .chain(llmb::ALL)
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn every_name_a_script_uses_is_spelled_here() {
    let known = known();
    let mut unknown = Vec::new();
    let scripts = scripts();
    assert!(scripts.len() >= 10, "found the scripts");
    for (file, text) in &scripts {
        for name in names(text) {
            if !known.contains(&name) {
                unknown.push(format!("{file}: '{name}'"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "names the scripts use that keys.rs does not know:\n{}",
        unknown.join("\n")
    );
}

#[test]
fn the_name_reader_skips_comments_and_sees_every_literal() {
    let found = names("redis.call('HSET', k('job', id), 'status', 'x') -- 'not_this'");
    let found: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(found, ["job", "status", "x"]);
}

#[test]
fn every_key_kind_the_layout_draws_is_known() {
    let prelude = scripts()
        .into_iter()
        .find(|(f, _)| f == "prelude.lua")
        .map(|(_, t)| t)
        .expect("prelude.lua");
    // The layout comment: lines like "--   P:job:<id>   hash ...".
    for line in prelude.lines() {
        let Some(rest) = line.trim_start_matches(['-', ' ']).strip_prefix("P:") else {
            continue;
        };
        let kind: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        assert!(
            key::ALL.contains(&kind.as_str()),
            "prelude.lua draws P:{kind}, which keys.rs does not know"
        );
    }
}
