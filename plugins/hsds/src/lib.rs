//! Open Referral HSDS for Deckhand's job types.
//!
//! Plain Rust with no WIT bindings, so the job types (`hsds_alignment`,
//! `hsds_validation`, `bulk`) share it and the host's tests can check it
//! natively:
//! - [`schemas`]: the HSDS 3.x JSON Schemas, bundled into one document;
//! - [`convert`]: the SchemaConverter, HSDS into the strict structured-output
//!   schema an LLM answers to, within provider limits;
//! - [`repair`]: an LLM answer into HSDS: deterministic UUIDs, links, no
//!   empty values, coordinates in degrees;
//! - [`known`]: what `known_fields` says a record holds that a document
//!   lacks; [`answer`]: a question about one such field (or hours code
//!   could not read), the record's own pieces as its candidates;
//! - [`mapper`]: a scraped record into the same draft without an LLM, by
//!   key meaning ([`classify`]) and content, hours by [`hours`], every value
//!   with its provenance; only what it cannot place goes to an LLM;
//! - [`score`]: a document against what a person took from the record by
//!   hand: recall and precision per field;
//! - [`text`]: scraped text as plain text (HTML markup and entities out,
//!   placeholders such as "N/A" read as nothing).

pub mod answer;
pub mod classify;
pub mod convert;
pub mod geo;
pub mod hours;
pub mod known;
pub mod mapper;
pub mod repair;
pub mod schemas;
pub mod score;
pub mod text;

/// The HSDS objects a document built by Deckhand holds at its top level.
pub const TOP_LEVEL: [&str; 4] = ["organization", "service", "location", "service_at_location"];
