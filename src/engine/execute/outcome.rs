//! What executing a plan did, and what its writes leave for the follow-up after them: creates the
//! CRM refused as duplicates, updates of records it merged into others.

use crate::engine::plan::PlanCounts;
use crate::model::{ObjectKind, RecordId};
use crate::providers::RecordError;
use crate::store::WriteOp;

/// What executing one plan did.
#[derive(Debug, Default)]
pub struct ExecOutcome {
    /// The writes the CRM refused, by kind.
    pub failed_writes: FailedWrites,
    pub decided: u64,
    pub held: u64,
    pub warnings: Vec<String>,
    /// Ops planned and carried out after the plan, for creates the CRM refused as duplicates
    /// of records it has (see the module docs).
    pub follow_up: PlanCounts,
    /// Planned creates that were linked to the CRM's existing record instead.
    pub linked_duplicates: usize,
    /// Set when the CRM's field times for the duplicates' `newest-wins` conflicts could not
    /// be read; the session gives it once per connection and run, like its own.
    pub history_warning: Option<String>,
    /// Local records whose write the CRM refused for naming properties it does not have
    /// (deleted there since the catalogue was read), kept as failures: the session asks for
    /// the catalogue again and writes them once more without those properties.
    pub unknown_properties: Vec<(RecordId, WriteOp)>,
}

/// Writes to the CRM that it refused, by kind: what a report takes off the planned creates,
/// updates and archives to say what was done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FailedWrites {
    pub create: u64,
    pub update: u64,
    pub archive: u64,
}

impl FailedWrites {
    pub(super) fn add(&mut self, op: WriteOp) {
        match op {
            WriteOp::Create => self.create += 1,
            WriteOp::Update => self.update += 1,
            WriteOp::Archive => self.archive += 1,
        }
    }

    pub fn add_all(&mut self, other: &FailedWrites) {
        self.create += other.create;
        self.update += other.update;
        self.archive += other.archive;
    }

    pub fn total(&self) -> u64 {
        self.create + self.update + self.archive
    }
}

/// A create the CRM refused as a duplicate of a record it has, still journalled.
pub(super) struct Refused {
    pub(super) journal: i64,
    pub(super) local_id: RecordId,
    /// The CRM's id of the record it already has.
    pub(super) remote_id: String,
    pub(super) error: RecordError,
}

impl Refused {
    /// What happened, for the failure's message.
    pub(super) fn refusal(&self, crm: &str, object: ObjectKind) -> String {
        format!(
            "{crm} refused to create local {object} `{}` as a duplicate of {crm} {object} `{}` \
             ({})",
            self.local_id, self.remote_id, self.error.message
        )
    }
}

/// A link the CRM moved: it answered an update of `from` with `into`, the record `from` was
/// merged into.
pub(super) struct Moved {
    pub(super) local_id: RecordId,
    pub(super) from: String,
    pub(super) into: String,
}

/// What a plan's writes leave for the executor to settle after them (see the module docs).
#[derive(Default)]
pub(super) struct AfterWrites {
    pub(super) refused: Vec<Refused>,
    pub(super) moved: Vec<Moved>,
}
