//! Every end-to-end suite, one module a file (`tests/<suite>.rs`, each with
//! its own documentation), in one test binary: the host and wasmtime are
//! linked once instead of once a suite, which was a third of a cold test
//! build. `cargo xtask test` still runs each suite on its own, one after
//! another (`--exact` with that suite's test names), so tests of different
//! suites never share the machine, as when each was a binary of its own.
//! One suite by hand: `cargo test --release --test e2e -- queue::`.

mod common;

mod api;
mod cancel;
mod cluster;
mod config;
mod content;
mod controls;
mod cron;
mod dashboard;
mod dist;
mod fan_in;
mod flow;
mod fuzz;
mod grants;
mod grants_flow;
mod hardening;
mod host;
mod hsds;
mod hsds_answers;
mod llm;
mod llm_batch;
mod llm_bill;
mod llm_limits;
mod notifier;
mod partitions;
mod polyglot;
mod queue;
mod resilience;
mod runtime;
mod telemetry;
mod templates;
mod trust;
mod trust_host;
mod trust_jobs;
mod waits;
