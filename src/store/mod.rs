//! The SQLite state file: the only code in crmsync that writes SQL.
//!
//! # Vocabulary
//!
//! * **record** — one local object (`records` table): a ULID id, its kind, its canonical fields
//!   as a JSON object, `updated_at`, `archived_at`, and **`seq`**.
//! * **seq** — the local change number. One counter for the whole file (kept in `meta`),
//!   incremented for every record a write really changes. Sync reads "what changed locally
//!   since I last looked" as `seq > local cursor`, through the `(kind, seq)` index, so the cost
//!   is proportional to the number of changes, never to the size of the table.
//! * **link** — the pairing of a local record with a record in one connection's CRM, with the
//!   **base**: the canonical field values both sides agreed on at the last sync (the common
//!   ancestor of three-way merge).
//! * **cursor** — per (connection, kind): the CRM's opaque change cursor (remote) and the last
//!   local `seq` the connection has considered (local).
//! * **journal** — write-ahead log of remote writes: an entry is committed *before* the write is
//!   sent and removed in the same transaction that records its outcome ([`Store::commit_write`],
//!   [`Store::fail_write`]). An entry left behind means a run died mid-write; the next run
//!   reconciles it.
//! * **failure** — the last error of a record's write to a connection; cleared on success.
//! * **conflict** — a field changed on both sides with different values; at most one *open*
//!   conflict per (connection, record, field).
//! * **run** — one command execution (`runs` table), referenced by journal and audit rows.
//! * **audit** — who changed which field when: side (`local` or a connection name) and cause.
//! * **lease** — a named, expiring lock row inside the file (e.g. one process refreshes a
//!   connection's OAuth token at a time).
//!
//! # Invariants
//!
//! * Records are never hard-deleted; archiving sets `archived_at`.
//! * A write that changes nothing (same fields and `archived_at`) does not bump `seq` and adds
//!   no audit row: that is what lets a sync with nothing to do finish without writes.
//! * `seq` only grows; every changed record gets a value larger than any before it.
//! * Links are unique on (connection, kind, local id) and on (connection, kind, remote id).
//! * Every state change happens inside one transaction; an outcome (link, base, remote id,
//!   failure, audit) is committed together with the removal of its journal entry.
//! * Schema changes are an append-only list of migrations tracked by `PRAGMA user_version` and
//!   applied in one exclusive transaction. A file written by a newer crmsync is refused, never
//!   touched. A file that is not a crmsync state file is never modified.
//!
//! # Opening
//!
//! [`Store::open`] creates the file (mode 0600, parent directories included), refuses a file
//! that is not a crmsync state file or was written by a newer crmsync *before* writing
//! anything, then sets WAL, `synchronous=NORMAL`, `foreign_keys=ON`, `busy_timeout` and
//! migrates. [`Store::open_read_only`] is for commands that only look (`status`): it never
//! creates, migrates or writes.
//!
//! # Cost model
//!
//! Match keys (`email` of contacts, `domain` of companies) are columns with their own indexes,
//! holding each value's normalised key ([`crate::model::normalize::match_key`]).
//! Changes since a cursor, links by id, failures, open conflicts and journal entries are all
//! index lookups; [`Store::status`] reads only the records that are out of step plus index
//! counts. A new record costs one insert and no audit row: its creation (time, run, cause,
//! connection) is kept on the row and reported by the audit queries as field `*`. Only a
//! record that already existed is read back and compared, and only its changed fields are
//! audited.
//!
//! # Locking
//!
//! * **One run at a time per state file**: [`RunLock`] holds an OS file lock on `<state>.lock`
//!   with the holder's PID written in it. The OS drops the lock when the process dies; a lock
//!   file with a PID in it that nobody holds is taken over and reported
//!   ([`RunLock::took_over_from`]). Read-only commands (`status`, `conflicts list`) do not
//!   need it.
//! * **One listener per state file**: [`ListenLock`] holds `<state>.listen.lock` the same way
//!   for the whole life of `crmsync listen`, with its PID and address in it; the listener
//!   takes the run lock only while it applies a batch. A command finding the run lock held by
//!   the listener waits its turn, queued in `<state>.lock.queue`, where the listener looks
//!   ([`others_waiting`]) before each batch and lets it go first.
//! * Inside the file SQLite serialises writers (WAL mode, `busy_timeout` 5 s); readers never
//!   block. Short cross-process critical sections that are not whole runs use leases.

mod accounts;
mod audit;
mod backup;
mod checkpoint;
mod cursors;
mod erase;
mod failures;
mod journal;
mod links;
mod lock;
mod open;
mod queries;
mod records;
mod retries;
mod schema;
mod sql;
mod tracking;
mod types;
mod upkeep;
mod webhooks;

#[cfg(test)]
mod tests;

pub use accounts::{AccountBinding, Forgotten};
pub use backup::{StateFileInfo, backups_of, inspect, replace_state_file};
pub use erase::{ERASED_FIELD, ERASED_RESOLUTION};
pub use lock::{LISTENER_PATIENCE, ListenLock, Listener, RunLock, others_waiting};
pub use open::{BULK_INDEX_ROWS, Store};
pub use schema::LATEST_VERSION;
pub use sql::encode_fields;
pub use types::*;
pub use upkeep::Pruned;
pub use webhooks::{
    DeliveryEvents, LastWebhookEvent, ListenerRow, NewWebhookEvent, WebhookEvent, WebhookStats,
};

#[cfg(test)]
mod upkeep_tests;
