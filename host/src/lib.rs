//! Deckhand: a job host whose job types are sandboxed WebAssembly components.
//!
//! # Layout
//!
//! Each module owns one thing; arrows point down only (a module imports from
//! those listed below it, never from those above):
//!
//! | module | owns | imports |
//! |---|---|---|
//! | `api` | the HTTP API (axum): jobs, DLQ, job-type controls, schedules, health, metrics; the dashboard (`api/ui/`) | worker, queue, metrics, schedule, job, redis_server (the embedded Redis' last failure) |
//! | `config` | `deckhand.toml` + `DECKHAND_*`: bounds, then each subsystem's settings | worker, runtime, grants, llm, queue, schedule, job, redact, telemetry |
//! | [`worker`] | a host's loops: claim, run, complete, leases, presence, cron, durable waits ending | registry, runtime, llm, content, metrics, queue, schedule, telemetry, job |
//! | [`metrics`] | counters and the Prometheus text | queue |
//! | [`llm`] | the LLM client: dialects, retries, shared limits (slots, budgets, cooldowns), structured output; the bill (prices, asks, money budgets, fallback) and the batch lane | runtime (its port's types), queue (shared limits, the spend ledger, the lane's state), redact, schema, job (wait bounds) |
//! | [`content`] | the content store's durable copy and export/import | queue, job |
//! | [`registry`] | the plugin directory, with hot reload | runtime |
//! | [`runtime`] | compiles plugins and runs each job in a fresh, limited instance; the `HostServices` port; outbound HTTP checked against the grants | grants, job, schema |
//! | [`grants`] | what the operator grants each plugin (`[plugins.NAME]`): outbound hosts, key-value, variables and secrets, LLM models and tokens; no IO but a variable's source | — |
//! | [`queue`] | the Redis queue: scripts, records, hosts, DLQ, controls, schedules; one server, a cluster or Sentinel (storage: Redis code only); inside, `net/` (the connection, a leaf), `calls/` (a script call as a type), `partition/` (one slot's operations, naming nothing of the router) and the router `Queue` over them, each layer kept by a layout test | schedule, job, redact (passwords kept out of its errors) |
//! | [`schedule`] | periodic jobs, no IO: a schedule's fields, checks and ticks | job |
//! | [`telemetry`] | logging, and traces out over OTLP; W3C trace context | job, redact |
//! | [`job`] | the job vocabulary, no IO: failures, job type names, content hashes | — |
//! | `schema`, `redact`, `redis_server` | JSON Schema checks, secret redaction, an embedded `redis-server` | — |
//!
//! The binary's `cli/` parses flags and prints; it wires the rest together
//! (`cli/serve.rs` starts a host).

pub mod api;
pub mod config;
pub mod content;
pub mod grants;
pub mod job;
pub mod llm;
pub mod metrics;
pub mod queue;
pub mod redact;
pub mod redis_server;
pub mod registry;
pub mod runtime;
pub mod schedule;
pub mod schema;
pub mod telemetry;
pub mod worker;

#[cfg(test)]
mod layout_tests;
#[cfg(test)]
mod size_tests;
