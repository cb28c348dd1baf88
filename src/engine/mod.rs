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
//!
//! Invariants: the planner never reads a clock or the store; a missing remote record is never
//! taken for a deleted one (only an explicit archive archives); after a plan is applied, base =
//! local = remote on every two-way field, so planning again writes nothing.

pub mod accounts;
pub mod execute;
pub mod field_times;
pub mod gates;
pub mod plan;
#[cfg(test)]
mod sim_tests;
pub mod sync;
#[cfg(test)]
mod tests;
