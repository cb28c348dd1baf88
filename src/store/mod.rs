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
//! * Inside the file SQLite serialises writers (WAL mode, `busy_timeout` 5 s); readers never
//!   block. Short cross-process critical sections that are not whole runs use leases.

mod accounts;
mod checkpoint;
mod lock;
mod queries;
mod records;
mod schema;
mod sync_state;
mod tracking;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::model::{Fields, Millis, ObjectKind, RecordId};

pub use accounts::{AccountBinding, Forgotten};
pub use lock::RunLock;
pub use records::encode_fields;
pub use schema::LATEST_VERSION;

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but is not an SQLite database, or is damaged.
    #[error(
        "`{path}` is not a crmsync state file (not SQLite or damaged); move it aside or pass another `--state`"
    )]
    NotAStateFile { path: PathBuf },
    /// The file was written by a newer crmsync.
    #[error(
        "state file `{path}` has schema version {found}, but this crmsync knows only up to version {supported}; upgrade crmsync to use it"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A read-only open found a file that still needs migrating.
    #[error(
        "state file `{path}` has schema version {found} and needs upgrading to version {supported}; run `crmsync sync` or `crmsync import` once to upgrade it"
    )]
    NeedsUpgrade {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A read-only open found no file.
    #[error("no state file at `{path}`; run `crmsync import` or `crmsync sync` first")]
    Missing { path: PathBuf },
    /// Another live process holds the run lock.
    #[error(
        "another crmsync run ({holder}) is using state file `{path}`; wait for it to finish or stop it"
    )]
    Locked { path: PathBuf, holder: String },
    /// A file-system operation on the state file or its lock failed.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file, or the folder SQLite keeps its write-ahead log in, cannot be written.
    #[error(
        "state file `{path}` is read-only, and this command writes to it: make the file and its folder writable for this user (`chmod u+w`), or pass another `--state`; `status`, `log` and the other listings only read it"
    )]
    ReadOnly { path: PathBuf },
    /// SQLite reported an error.
    #[error("state file `{path}`: {context}: {source}")]
    Sql {
        path: PathBuf,
        context: String,
        #[source]
        source: rusqlite::Error,
    },
    /// A stored value could not be read back (the file was edited by hand or is damaged).
    #[error("state file `{path}`: {message}")]
    Corrupt { path: PathBuf, message: String },
    /// A caller asked for something the state does not allow.
    #[error("{message}")]
    Invalid { message: String },
    /// Any other failure, raised by a callback passed to the store.
    #[error("state file `{path}`: {message}")]
    Other { path: String, message: String },
}

/// Who made a local write (kept in the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOrigin {
    /// `crmsync import` run `run` (a row of the runs table).
    Import { run: i64 },
    /// A sync run pulled the value from `connection`.
    Pull { run: i64, connection: String },
    /// A sync run changed the local record as a consequence of a write to `connection`
    /// (e.g. the CRM archived it on our request).
    Push { run: i64, connection: String },
    /// `conflicts resolve` applied a chosen value.
    ConflictResolved { run: Option<i64> },
    /// `conflicts resolve` or another command run by the user.
    User,
}

impl WriteOrigin {
    fn run(&self) -> Option<i64> {
        match self {
            WriteOrigin::Import { run }
            | WriteOrigin::Pull { run, .. }
            | WriteOrigin::Push { run, .. } => Some(*run),
            WriteOrigin::ConflictResolved { run } => *run,
            WriteOrigin::User => None,
        }
    }
    fn connection(&self) -> Option<&str> {
        match self {
            WriteOrigin::Pull { connection, .. } | WriteOrigin::Push { connection, .. } => {
                Some(connection)
            }
            _ => None,
        }
    }
    fn cause(&self) -> AuditCause {
        match self {
            WriteOrigin::Import { .. } => AuditCause::Import,
            WriteOrigin::Pull { .. } => AuditCause::Pull,
            WriteOrigin::Push { .. } => AuditCause::Push,
            WriteOrigin::ConflictResolved { .. } => AuditCause::ConflictResolved,
            WriteOrigin::User => AuditCause::User,
        }
    }
}

/// Why an audited value changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditCause {
    Import,
    Pull,
    Push,
    ConflictResolved,
    User,
}

impl AuditCause {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditCause::Import => "import",
            AuditCause::Pull => "pull",
            AuditCause::Push => "push",
            AuditCause::ConflictResolved => "conflict-resolved",
            AuditCause::User => "user",
        }
    }
    fn parse(s: &str) -> Option<AuditCause> {
        Some(match s {
            "import" => AuditCause::Import,
            "pull" => AuditCause::Pull,
            "push" => AuditCause::Push,
            "conflict-resolved" => AuditCause::ConflictResolved,
            "user" => AuditCause::User,
            _ => return None,
        })
    }
}

/// The audit `side` of a change to the local store.
pub const LOCAL_SIDE: &str = "local";

/// The audit `field` of a record's creation. A creation is not written to the audit table:
/// who created the record, when and in which run is kept on the record row itself (its values
/// are the record), so a million-row import writes no audit rows; the audit queries return it
/// as an entry with id 0 and this field.
pub const CREATED_FIELD: &str = "*";

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub run: Option<i64>,
    pub at: Millis,
    pub record_id: RecordId,
    pub kind: ObjectKind,
    /// A canonical field name, [`CREATED_FIELD`] for a creation, or `archived_at`.
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
    /// [`LOCAL_SIDE`] or the connection whose CRM was written.
    pub side: String,
    /// The connection a local change came from (pull) or went to (push), if any.
    pub connection: Option<String>,
    pub cause: AuditCause,
}

/// The pairing of a local record with a CRM record of one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub connection: String,
    pub kind: ObjectKind,
    pub local_id: RecordId,
    pub remote_id: String,
    /// The canonical values both sides agreed on at the last sync.
    pub base: Fields,
    /// The CRM's last-modified time of the record when last seen.
    pub remote_updated_at: Option<Millis>,
    pub synced_at: Millis,
    /// Retired by an archive on either side: kept for `explain` and `status`, never planned
    /// again.
    #[serde(default)]
    pub retired: bool,
}

/// What a journalled remote write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteOp {
    Create,
    Update,
    Archive,
}

impl WriteOp {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOp::Create => "create",
            WriteOp::Update => "update",
            WriteOp::Archive => "archive",
        }
    }
    fn parse(s: &str) -> Option<WriteOp> {
        Some(match s {
            "create" => WriteOp::Create,
            "update" => WriteOp::Update,
            "archive" => WriteOp::Archive,
            _ => return None,
        })
    }
}

/// A remote write about to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub run: i64,
    pub connection: String,
    pub kind: ObjectKind,
    pub op: WriteOp,
    pub local_id: RecordId,
    /// `None` for a create.
    pub remote_id: Option<String>,
    /// The remote properties sent.
    pub props: BTreeMap<String, String>,
    /// An update that also writes the local id into the external-id field
    /// ([`crate::providers::RemoteWrite::set_external_id`]).
    pub set_external_id: bool,
    pub created_at: Millis,
}

/// A journal entry still in the file: a write whose outcome was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingWrite {
    pub id: i64,
    pub entry: JournalEntry,
}

/// What the CRM answered to a successful write; see [`Store::commit_write`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// The CRM's id of the record (new for a create).
    pub remote_id: String,
    /// The canonical values both sides now agree on.
    pub base: Fields,
    pub remote_updated_at: Option<Millis>,
    pub at: Millis,
    /// A local change to save with the outcome (e.g. the record archived); its `seq` is bumped
    /// and audited with [`WriteOrigin::Push`].
    pub record: Option<crate::model::Record>,
    /// The write archived the remote record: the link is retired.
    pub retired: bool,
}

/// Why a write (or the preparation of one) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteFailure {
    pub message: String,
    /// A machine-readable code (the CRM's error code or HTTP status), if any.
    pub code: Option<String>,
    pub at: Millis,
}

/// The last failure of a record's writes to one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub connection: String,
    pub kind: ObjectKind,
    pub local_id: RecordId,
    pub remote_id: Option<String>,
    pub op: WriteOp,
    pub message: String,
    pub code: Option<String>,
    pub attempts: i64,
    pub first_at: Millis,
    pub last_at: Millis,
}

/// A conflict as detected by the planner; see [`Store::upsert_conflict`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConflict {
    pub connection: String,
    pub kind: ObjectKind,
    pub local_id: RecordId,
    pub field: String,
    pub base: Option<String>,
    pub local: Option<String>,
    pub remote: Option<String>,
    pub detected_at: Millis,
    pub decision: ConflictDecision,
}

/// How a sync met and decided a conflict (kept from schema version 4 on): the field's policy,
/// the outcome, and the two times `newest-wins` compares, with where each came from. The
/// times are worked out for every policy; only `newest-wins` decides by them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictDecision {
    /// The sync run that last met the conflict.
    pub run: Option<i64>,
    /// `newest-wins`, `local-wins`, `remote-wins` or `manual`.
    pub policy: String,
    /// `local` (the local value kept and pushed), `remote` (the remote value pulled) or
    /// `held` (`manual`: waits for `crmsync conflicts resolve`).
    pub outcome: String,
    /// When the field last changed locally, as compared.
    pub local_updated_at: Millis,
    /// `field` (the field's own last change) or `record` (the record's `updated_at`, for want
    /// of a field time).
    pub local_time_source: String,
    /// When the field last changed in the CRM, as compared.
    pub remote_updated_at: Millis,
    /// `field` or `record`, as for the local time.
    pub remote_time_source: String,
}

/// A stored conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub id: i64,
    pub connection: String,
    pub kind: ObjectKind,
    pub local_id: RecordId,
    pub field: String,
    pub base: Option<String>,
    pub local: Option<String>,
    pub remote: Option<String>,
    pub detected_at: Millis,
    pub resolved_at: Option<Millis>,
    /// The chosen value (`None` = the field is cleared), set once resolved.
    pub resolution: Option<String>,
    /// How it was resolved (`local`, `remote`, `value`, a policy name…).
    pub resolved_by: Option<String>,
    /// How the sync decided it; `None` for a conflict recorded before schema version 4 (not
    /// recorded).
    pub decision: Option<ConflictDecision>,
}

/// Which open conflicts to list; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConflictFilter {
    pub connection: Option<String>,
    pub kind: Option<ObjectKind>,
    pub local_id: Option<RecordId>,
    pub field: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    Ok,
    Failed,
    Stopped,
    Partial,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Ok => "ok",
            RunOutcome::Failed => "failed",
            RunOutcome::Stopped => "stopped",
            RunOutcome::Partial => "partial",
        }
    }
    fn parse(s: &str) -> Option<RunOutcome> {
        Some(match s {
            "ok" => RunOutcome::Ok,
            "failed" => RunOutcome::Failed,
            "stopped" => RunOutcome::Stopped,
            "partial" => RunOutcome::Partial,
            _ => return None,
        })
    }
}

/// One command execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: i64,
    pub command: String,
    pub connections: Vec<String>,
    pub started_at: Millis,
    pub finished_at: Option<Millis>,
    /// `None` while running (or when the process died before finishing).
    pub outcome: Option<RunOutcome>,
    pub counts: serde_json::Value,
    pub error: Option<String>,
}

/// Record states of one kind for one connection; each record is counted once, in the first
/// state that applies, in the order conflict, error, pending, local only, synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindStatus {
    pub kind: ObjectKind,
    /// Not archived, linked (by a link no archive retired), no failure, no open conflict,
    /// not changed since the local cursor.
    pub synced: u64,
    /// Not archived, no live link, nothing pending.
    pub local_only: u64,
    /// Changed since the local cursor, or with a journalled write.
    pub pending: u64,
    /// With a failure row.
    pub error: u64,
    /// With at least one open conflict.
    pub conflict: u64,
    /// Journalled writes not yet answered plus records changed since the local cursor.
    pub queue_depth: u64,
}

/// The open state file.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    clock: Arc<dyn Clock>,
    /// Set during a bulk load: see [`Store::begin_bulk_load`].
    checkpointer: Option<checkpoint::Checkpointer>,
    /// Whether a bulk load has set the [`schema::DEFERRABLE_RECORD_INDEXES`] aside. A `Cell`,
    /// because a lookup that needs them (`&self`) builds them again first.
    indexes_aside: std::cell::Cell<bool>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The page size of new state files. Larger pages than SQLite's 4 KiB default make the
/// B-trees of a large import shallower, with fewer page splits: a million-row import spends
/// about a third less CPU inside SQLite at 16 KiB. A file keeps the page size it was made
/// with (changing it needs a `VACUUM` outside WAL mode), so older files stay at 4 KiB.
const PAGE_SIZE: i64 = 16_384;

/// `PRAGMA cache_size` of every connection: 64 MiB.
const CACHE_SIZE: i64 = -65_536;

/// Rows a bulk load must expect before it sets the record indexes aside: below this,
/// keeping them up to date costs too little to be worth a rebuild.
pub const BULK_INDEX_ROWS: u64 = 50_000;

impl Store {
    /// Opens (creating and migrating as needed) the state file at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let existed = check_header(path)?;
        if !existed {
            create_private_file(path)?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(path, e))?;
        // SQLite opens a write-protected file for reading without a word; the first write
        // would fail with "attempt to write a readonly database".
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(StoreError::ReadOnly {
                path: path.to_path_buf(),
            });
        }
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            clock: crate::clock::from_env(),
            checkpointer: None,
            indexes_aside: std::cell::Cell::new(false),
        };
        // Everything up to here only read the file; refuse before the first write.
        let version = store.check_identity()?;
        if version > LATEST_VERSION {
            return Err(StoreError::TooNew {
                path: store.path.clone(),
                found: version,
                supported: LATEST_VERSION,
            });
        }
        store.configure(false)?;
        schema::migrate(&mut store.conn, &store.path)?;
        // A bulk load killed before its end left its indexes aside: they are built now.
        store.build_deferred_indexes()?;
        Ok(store)
    }

    /// Opens an existing, up-to-date state file for reading only (`status`, listings); never
    /// creates, migrates or writes.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !check_header(path)? {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(path, e))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            clock: crate::clock::from_env(),
            checkpointer: None,
            indexes_aside: std::cell::Cell::new(false),
        };
        let version = store.check_identity()?;
        if version > LATEST_VERSION {
            return Err(StoreError::TooNew {
                path: store.path.clone(),
                found: version,
                supported: LATEST_VERSION,
            });
        }
        if version < LATEST_VERSION {
            return Err(StoreError::NeedsUpgrade {
                path: store.path.clone(),
                found: version,
                supported: LATEST_VERSION,
            });
        }
        store.configure(true)?;
        Ok(store)
    }

    /// Starts a bulk load (a large import) expected to bring about `expected_rows` records
    /// (0: not known, or the load looks records up by match key as it goes). Until
    /// [`Store::end_bulk_load`]:
    ///
    /// * WAL checkpoints run on a thread of their own instead of after the commits that fill
    ///   the log, so saving and copying pages into the database file overlap;
    /// * when at least [`BULK_INDEX_ROWS`] rows are expected and the file holds no more
    ///   records than that, the secondary indexes of `records` are set aside and built once
    ///   at the end: one sorted build costs far less than keeping them up to date row by
    ///   row. A lookup that needs them during the load builds them first.
    ///
    /// Durability is the same either way: the indexes are dropped in a transaction of their
    /// own, and a load killed before its end leaves a file whose next open builds them.
    /// Calling it again while a bulk load runs does nothing.
    pub fn begin_bulk_load(&mut self, expected_rows: u64) -> Result<(), StoreError> {
        if self.checkpointer.is_some() {
            return Ok(());
        }
        if expected_rows >= BULK_INDEX_ROWS && !self.indexes_aside.get() {
            let stored: i64 = self
                .conn
                .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
                .map_err(|e| self.sql("count records", e))?;
            if stored as u64 <= expected_rows {
                self.set_indexes_aside()?;
            }
        }
        self.checkpointer = Some(checkpoint::Checkpointer::start(&self.conn, &self.path)?);
        Ok(())
    }

    /// Ends a bulk load begun by [`Store::begin_bulk_load`] (else does nothing): builds the
    /// indexes it set aside, and the store checkpoints after its commits again, starting with
    /// what the log holds now.
    pub fn end_bulk_load(&mut self) -> Result<(), StoreError> {
        let built = self.build_deferred_indexes();
        let finished = match self.checkpointer.take() {
            Some(c) => c.finish(&self.conn, &self.path),
            None => Ok(()),
        };
        built.and(finished)
    }

    fn set_indexes_aside(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sql_error(&self.path, "set indexes aside", e))?;
        for (name, _) in schema::DEFERRABLE_RECORD_INDEXES {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
                .map_err(|e| sql_error(&self.path, "set indexes aside", e))?;
        }
        tx.commit()
            .map_err(|e| sql_error(&self.path, "set indexes aside", e))?;
        self.indexes_aside.set(true);
        Ok(())
    }

    /// Builds whichever of the [`schema::DEFERRABLE_RECORD_INDEXES`] the file lacks: all of
    /// them after a bulk load set them aside, none (at the cost of one read of the schema)
    /// otherwise.
    fn build_deferred_indexes(&self) -> Result<(), StoreError> {
        let mut missing = Vec::new();
        for (name, create) in schema::DEFERRABLE_RECORD_INDEXES {
            let present: bool = self
                .conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?1)",
                )
                .and_then(|mut s| s.query_row([name], |r| r.get(0)))
                .map_err(|e| self.sql("read the schema", e))?;
            if !present {
                missing.push(*create);
            }
        }
        if !missing.is_empty() {
            // The build sorts every entry, in memory up to the page cache's size and in
            // temporary files past it; both are made small for it, so that a million-row
            // load's sort does not add a hundred MB to its memory.
            let sql = format!(
                "PRAGMA temp_store = FILE; PRAGMA cache_size = -8192;
                 BEGIN; {}; COMMIT;",
                missing.join("; ")
            );
            let built = self.conn.execute_batch(&sql).map_err(|e| {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.sql("build the record indexes", e)
            });
            self.conn
                .execute_batch(&format!(
                    "PRAGMA temp_store = MEMORY; PRAGMA cache_size = {CACHE_SIZE};"
                ))
                .map_err(|e| self.sql("configure the connection", e))?;
            built?;
        }
        self.indexes_aside.set(false);
        Ok(())
    }

    /// Called before a lookup that needs the record indexes: builds them if a bulk load set
    /// them aside.
    pub(super) fn need_record_indexes(&self) -> Result<(), StoreError> {
        if self.indexes_aside.get() {
            self.build_deferred_indexes()?;
        }
        Ok(())
    }

    /// Uses `clock` for the times the store stamps itself (audit rows of `save_records`).
    pub fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    /// The path of the state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the run lock of this state file; see [`RunLock`].
    pub fn lock(&self) -> Result<RunLock, StoreError> {
        RunLock::acquire(&self.path)
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql("read the schema version", e))
    }

    /// The state file's identity: random, made when the file was created or upgraded.
    pub fn state_id(&self) -> Result<Option<String>, StoreError> {
        self.meta_get("state_id")
    }

    /// A value of the key/value `meta` table.
    pub fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(|e| self.sql("read meta", e))
    }

    /// Sets a value of the key/value `meta` table.
    pub fn meta_set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute([key, value]))
            .map(drop)
            .map_err(|e| self.sql("write meta", e))
    }

    /// Reads `user_version` and checks the file is ours (or empty); no writes.
    fn check_identity(&mut self) -> Result<i64, StoreError> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.sql("set busy_timeout", e))?;
        let read = |c: &Connection| -> rusqlite::Result<(i64, i64, i64)> {
            let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            let app: i64 = c.query_row("PRAGMA application_id", [], |r| r.get(0))?;
            let objects: i64 =
                c.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
            Ok((version, app, objects))
        };
        let (version, app, objects) = read(&self.conn).map_err(|e| open_error(&self.path, e))?;
        let ours = app == schema::APPLICATION_ID || (app == 0 && version == 0 && objects == 0);
        if !ours {
            return Err(StoreError::NotAStateFile {
                path: self.path.clone(),
            });
        }
        Ok(version)
    }

    fn configure(&mut self, read_only: bool) -> Result<(), StoreError> {
        let c = &self.conn;
        let r = (|| -> rusqlite::Result<()> {
            if !read_only {
                // Takes effect only on a file with nothing in it yet (and before WAL mode).
                c.pragma_update(None, "page_size", PAGE_SIZE)?;
                c.pragma_update(None, "journal_mode", "WAL")?;
            }
            c.pragma_update(None, "synchronous", "NORMAL")?;
            c.pragma_update(None, "foreign_keys", "ON")?;
            // 64 MiB of page cache: index inserts of a large import stay in memory instead of
            // re-reading pages (the default is 2 MiB).
            c.pragma_update(None, "cache_size", CACHE_SIZE)?;
            c.pragma_update(None, "temp_store", "MEMORY")?;
            c.set_prepared_statement_cache_capacity(64);
            Ok(())
        })();
        r.map_err(|e| self.sql("configure the connection", e))
    }

    fn sql(&self, context: &str, source: rusqlite::Error) -> StoreError {
        sql_error(&self.path, context, source)
    }

    fn corrupt(&self, message: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            message: message.into(),
        }
    }
}

fn sql_error(path: &Path, context: &str, source: rusqlite::Error) -> StoreError {
    if is_not_a_database(&source) {
        return StoreError::NotAStateFile {
            path: path.to_path_buf(),
        };
    }
    if source.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) {
        return StoreError::ReadOnly {
            path: path.to_path_buf(),
        };
    }
    StoreError::Sql {
        path: path.to_path_buf(),
        context: context.to_string(),
        source,
    }
}

fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    sql_error(path, "open", e)
}

/// Returns whether a non-empty file exists at `path`, refusing one that does not start like
/// an SQLite database. Reading the header ourselves means SQLite never gets the chance to
/// write to a file that is not one.
fn check_header(path: &Path) -> Result<bool, StoreError> {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(StoreError::Io {
                action: "open",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut header = Vec::with_capacity(16);
    (&mut file)
        .take(16)
        .read_to_end(&mut header)
        .map_err(|source| StoreError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
    if header.is_empty() {
        return Ok(false);
    }
    if header.as_slice() != SQLITE_MAGIC {
        return Err(StoreError::NotAStateFile {
            path: path.to_path_buf(),
        });
    }
    Ok(true)
}

/// Creates the parent directory and an empty state file readable by its owner only (the
/// file holds customer data); SQLite gives its `-wal` and `-shm` files the same mode.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|source| StoreError::Io {
            action: "create the directory",
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|source| StoreError::Io {
        action: "create",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(())
}
