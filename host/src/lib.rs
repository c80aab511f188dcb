//! Deckhand: a job host whose job types are sandboxed WebAssembly components.
//!
//! - [`runtime`]: compiles plugins and runs each job in a fresh, limited instance.
//! - [`registry`]: the plugin directory, with hot reload.

pub mod api;
pub mod config;
pub mod content;
pub mod llm;
pub mod metrics;
pub mod queue;
pub mod redact;
pub mod redis_server;
pub mod registry;
pub mod runtime;
pub mod schema;
pub mod worker;
