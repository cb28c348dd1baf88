//! The sync engine: plan, check, execute.
//!
//! * [`plan`] is a pure function: local records + links (with their **base**, the values both
//!   sides last agreed on) + the remote records read since the cursor, mapped into canonical
//!   fields → a [`plan::Plan`] of ops and conflicts in a deterministic order. It decides every
//!   rule of DESIGN §3 (three-way merge per field, directions, conflict policies, archives,
//!   matching of new records) and is tested as a function, with no I/O.
//! * [`gates`] are pure safety checks between plan and execute: an empty full read while links
//!   exist, or a plan that archives too large a share of the linked records, stops the run
//!   with the reason, the numbers and the flag that overrides it.
//! * [`execute`] carries a plan out: local ops in one transaction, remote writes journalled
//!   and committed answer by answer. A create the CRM refuses as a duplicate of a record it
//!   has (a HubSpot contact with the email, older than the change feed's cursor) is linked to
//!   that record and merged in the same run, planned by [`plan`] as a pair matched by email
//!   is; it stays a failure only when the CRM's record is linked to another local record
//!   already, or is gone.
//! * [`accounts`] binds each connection's links to the CRM account they were made in and, at
//!   the start of every run, stops a connection that reaches another account (or one another
//!   connection syncs) before it recovers, reads or writes anything.
//! * [`sync`] is one run: recover, pull from every connection, push to every connection.
//! * [`retry`] decides when a failed record is tried again by a later run, and when it is
//!   parked for a person.
//!
//! Invariants: the planner never reads a clock or the store; a missing remote record is never
//! taken for a deleted one (only an explicit archive archives); after a plan is applied, base =
//! local = remote on every two-way field, so planning again writes nothing.

pub mod accounts;
pub mod execute;
pub mod field_times;
pub mod gates;
pub mod plan;
pub mod retry;
#[cfg(test)]
mod sim_tests;
pub mod sync;
pub mod teardown;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::config::ConnectionConfig;
use crate::engine::accounts::stop::AccountStop;
use crate::engine::gates::GateStop;
use crate::engine::plan::LinkState;
use crate::model::ObjectKind;
use crate::providers::{Provider, ProviderError};
use crate::store::{Link, StoreError};

/// A connection taking part in a run.
pub struct Participant {
    pub name: String,
    pub config: ConnectionConfig,
    pub provider: Arc<dyn Provider>,
}

/// Progress of a run, drawn by the output layer.
pub trait SyncReporter: Send + Sync {
    /// A step started (`reading`, `planning`, `writing`).
    fn step(&self, connection: &str, object: ObjectKind, what: &str, total: Option<u64>);
    /// Progress within the step.
    fn advance(&self, n: u64);
    /// Something the user should know that does not stop the run.
    fn warn(&self, message: String);
}

/// A reporter that shows nothing.
pub struct Quiet;

impl SyncReporter for Quiet {
    fn step(&self, _: &str, _: ObjectKind, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn warn(&self, _: String) {}
}

/// Why a connection's part of the run stopped.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Gate(#[from] GateStop),
    #[error(transparent)]
    Account(#[from] AccountStop),
    #[error("{0}")]
    Other(String),
}

/// The planner's view of a stored link.
pub(crate) fn link_state(link: &Link) -> LinkState {
    LinkState {
        remote_id: link.remote_id.clone(),
        base: link.base.clone(),
        remote_updated_at: link.remote_updated_at.unwrap_or(0),
        archived: link.retired,
    }
}
