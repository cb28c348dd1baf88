//! The store's vocabulary: its error, the rows it reads and writes, and how a write came
//! about (see the parent module for what each word means).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::{Fields, Millis, ObjectKind, RecordId};

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
    pub(super) fn run(&self) -> Option<i64> {
        match self {
            WriteOrigin::Import { run }
            | WriteOrigin::Pull { run, .. }
            | WriteOrigin::Push { run, .. } => Some(*run),
            WriteOrigin::ConflictResolved { run } => *run,
            WriteOrigin::User => None,
        }
    }
    pub(super) fn connection(&self) -> Option<&str> {
        match self {
            WriteOrigin::Pull { connection, .. } | WriteOrigin::Push { connection, .. } => {
                Some(connection)
            }
            _ => None,
        }
    }
    pub(super) fn cause(&self) -> AuditCause {
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
    /// The record's values erased (its CRM erased it for privacy).
    Erased,
}

impl AuditCause {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditCause::Import => "import",
            AuditCause::Pull => "pull",
            AuditCause::Push => "push",
            AuditCause::ConflictResolved => "conflict-resolved",
            AuditCause::User => "user",
            AuditCause::Erased => "erased",
        }
    }
    pub(super) fn parse(s: &str) -> Option<AuditCause> {
        Some(match s {
            "import" => AuditCause::Import,
            "pull" => AuditCause::Pull,
            "push" => AuditCause::Push,
            "conflict-resolved" => AuditCause::ConflictResolved,
            "user" => AuditCause::User,
            "erased" => AuditCause::Erased,
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
    pub(super) fn parse(s: &str) -> Option<WriteOp> {
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
    /// Why trying again as it is cannot succeed, in words, when the refusal is of that kind:
    /// the failure is parked for a person instead of being tried again by later runs.
    pub permanent: Option<String>,
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
    /// Why it waits for a person instead of being tried again by later runs (a refusal that
    /// trying again cannot mend), if so.
    #[serde(default)]
    pub parked_reason: Option<String>,
    /// `attempts` when a person last re-queued it: later runs try it again on their own
    /// counting from there.
    #[serde(default)]
    pub requeued_attempts: i64,
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
    pub(super) fn parse(s: &str) -> Option<RunOutcome> {
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

impl KindStatus {
    /// Whether nothing of this kind is counted.
    pub fn is_empty(&self) -> bool {
        self.synced + self.local_only + self.pending + self.error + self.conflict + self.queue_depth
            == 0
    }
}
