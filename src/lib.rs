//! crmsync keeps contacts, companies and activities the same in a local store and in HubSpot,
//! Pipedrive and Salesforce, in both directions.
//!
//! # Architecture
//!
//! ```text
//!   cli/ ──▶ ops/ ─────▶ engine::sync ──▶ engine::plan (pure) ──▶ engine::gates ──▶ engine::execute
//!    │                      │   ▲                                                       │
//!    │                      ▼   │ canonical records                                      ▼
//!    │                  mapping/ ◀── remote props ── providers/{hubspot,…} ◀── providers::http
//!    ▼                      │
//!  output/               store/ (SQLite: records, links + bases, cursors, journal, failures,
//!                                conflicts, runs, audit)
//! ```
//!
//! * [`model`]: the canonical objects and their fields.
//! * [`error`]: crmsync's error, its kind (which decides the exit code) and every hint.
//! * [`config`]: the config file, validated, with defaults; settings resolved once.
//! * [`store`]: the SQLite state file, the only code that writes SQL.
//! * [`engine`]: plan (pure), safety gates, execute (journal, commit), the sync run, and the
//!   CRM account each connection's links belong to.
//! * [`mapping`]: field maps, directions, conflict policies, transforms, create rules.
//! * [`providers`]: the `Provider` trait, the shared HTTP layer, one module per CRM.
//! * [`auth`]: OAuth loopback sign-in, keychain and environment token stores, refresh.
//! * [`transfer`]: CSV/JSONL import and export.
//! * [`listen`]: `crmsync listen`, webhooks in: verified, queued in the state file, applied
//!   in batches through the engine (records read by id), with a delta sync on a timer.
//! * [`sandbox`]: faithful local CRM servers for `crmsync sandbox`, `crmsync demo` and tests.
//! * [`output`]: tables, JSON, progress — the only code that draws for people.
//! * [`ops`]: the operations behind the commands (a sync run, a plan file, an import's run,
//!   the status read model, conflict resolution, `connect`'s config edits, the demo).
//! * [`cli`]: one file per command: arguments, one call into [`ops`] or the core, rendering;
//!   `main.rs` only parses, dispatches and exits.
//!
//! The core never prints and never exits; it reports progress through traits
//! ([`transfer::ImportProgress`], [`engine::sync::SyncReporter`]) that [`output`] implements,
//! and returns [`error`]s whose kind `main` turns into an exit code.

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connection;
pub mod engine;
pub mod env;
pub mod error;
pub mod listen;
pub mod mapping;
pub mod model;
pub mod ops;
pub mod output;
pub mod providers;
pub mod sandbox;
pub mod store;
pub mod transfer;
