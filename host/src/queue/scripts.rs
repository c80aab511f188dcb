//! Every Lua script the queue runs, loaded from `scripts/*.lua`.
//!
//! Each script is `prelude.lua` (shared helpers and the key layout) followed
//! by its own body (the two submit scripts also by `submit_job.lua`, the
//! submission they share); each body's header lists its arguments, the keys it
//! touches and what it returns. Scripts are atomic: every state change of a
//! job happens inside exactly one of them.

use std::sync::OnceLock;

use redis::Script;

const PRELUDE: &str = include_str!("scripts/prelude.lua");
const SUBMIT_JOB: &str = include_str!("scripts/submit_job.lua");

pub(crate) struct Scripts {
    pub submit: Script,
    pub submit_batch: Script,
    pub claim: Script,
    pub complete: Script,
    pub fail: Script,
    pub renew: Script,
    pub reap: Script,
    pub release: Script,
    pub cancel: Script,
    pub replay: Script,
    pub purge: Script,
    pub mark_waited: Script,
    pub recount_running: Script,
    pub slot: Script,
    pub slot_hold: Script,
    pub budget: Script,
    pub fire: Script,
    pub dlq_trim: Script,
    pub wait_also: Script,
    pub relay: Script,
}

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

fn submit_script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{SUBMIT_JOB}\n{body}"))
}

pub(crate) fn scripts() -> &'static Scripts {
    static SCRIPTS: OnceLock<Scripts> = OnceLock::new();
    SCRIPTS.get_or_init(|| Scripts {
        submit: submit_script(include_str!("scripts/submit.lua")),
        submit_batch: submit_script(include_str!("scripts/submit_batch.lua")),
        claim: script(include_str!("scripts/claim.lua")),
        complete: script(include_str!("scripts/complete.lua")),
        fail: script(include_str!("scripts/fail.lua")),
        renew: script(include_str!("scripts/renew.lua")),
        reap: script(include_str!("scripts/reap.lua")),
        release: script(include_str!("scripts/release.lua")),
        cancel: script(include_str!("scripts/cancel.lua")),
        replay: script(include_str!("scripts/replay.lua")),
        purge: script(include_str!("scripts/purge.lua")),
        mark_waited: script(include_str!("scripts/mark_waited.lua")),
        recount_running: script(include_str!("scripts/recount_running.lua")),
        slot: script(include_str!("scripts/slot.lua")),
        slot_hold: script(include_str!("scripts/slot_hold.lua")),
        budget: script(include_str!("scripts/budget.lua")),
        fire: submit_script(include_str!("scripts/fire.lua")),
        dlq_trim: script(include_str!("scripts/dlq_trim.lua")),
        wait_also: script(include_str!("scripts/wait_also.lua")),
        relay: script(include_str!("scripts/relay.lua")),
    })
}
