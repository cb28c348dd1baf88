//! What the planner makes: ops, conflicts with the outcome a policy gave them, skipped records,
//! and their counts, in a deterministic order.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::mapping::ConflictPolicy;
use crate::model::{Fields, Millis, ObjectKind, RecordId};

use super::input::*;

/// One field's value before and after a write; `None` is empty (a clear).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// One planned write. `base` is the link's whole base after the op (see the module docs).
///
/// Applying an op stores `base` (and, for creates, the new link). A link's `archived` flag
/// is set only by [`Op::LocalArchive`], [`Op::RemoteArchive`] and [`Op::Link`] with
/// `archived: true`; other ops leave it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Store or update a link without writing either side: a newly matched pair (the base
    /// holds the fields both sides already agree on; writes for the rest follow), a base that
    /// moved because both sides changed to the same value, or (`archived`) a link retired
    /// because of an archive that `on_delete = ignore` does not carry over.
    Link {
        local_id: RecordId,
        remote_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        matched_by: Option<MatchedBy>,
        #[serde(default)]
        archived: bool,
        base: Fields,
    },
    /// Create a local record from a remote one and link them; the executor picks the id.
    LocalCreate {
        remote_id: String,
        fields: Fields,
        base: Fields,
    },
    /// Change local fields to the remote's values.
    LocalUpdate {
        local_id: RecordId,
        remote_id: String,
        changes: Vec<FieldChange>,
        base: Fields,
    },
    /// Archive the local record (after applying `changes`, the remote's last edits); the link
    /// is retired.
    LocalArchive {
        local_id: RecordId,
        remote_id: String,
        changes: Vec<FieldChange>,
        base: Fields,
    },
    /// Create the local record in the CRM (carrying the local id as `crmsync_id`) and link.
    RemoteCreate {
        local_id: RecordId,
        fields: Fields,
        base: Fields,
    },
    /// Change remote fields to the local values. `set_external_id`: also write the local id
    /// into the remote record's external-id field (`crmsync_id`), for a record linked by the
    /// engine without carrying it; `changes` may then be empty.
    RemoteUpdate {
        local_id: RecordId,
        remote_id: String,
        changes: Vec<FieldChange>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        set_external_id: bool,
        base: Fields,
    },
    /// Archive (or delete, as the CRM does it) the remote record; the link is retired.
    RemoteArchive {
        local_id: RecordId,
        remote_id: String,
        base: Fields,
    },
}

impl Op {
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Link { .. } => OpKind::Link,
            Op::LocalCreate { .. } => OpKind::LocalCreate,
            Op::LocalUpdate { .. } => OpKind::LocalUpdate,
            Op::LocalArchive { .. } => OpKind::LocalArchive,
            Op::RemoteCreate { .. } => OpKind::RemoteCreate,
            Op::RemoteUpdate { .. } => OpKind::RemoteUpdate,
            Op::RemoteArchive { .. } => OpKind::RemoteArchive,
        }
    }

    /// The local record; `None` for a local create (the executor assigns the id).
    pub fn local_id(&self) -> Option<&RecordId> {
        match self {
            Op::LocalCreate { .. } => None,
            Op::Link { local_id, .. }
            | Op::LocalUpdate { local_id, .. }
            | Op::LocalArchive { local_id, .. }
            | Op::RemoteCreate { local_id, .. }
            | Op::RemoteUpdate { local_id, .. }
            | Op::RemoteArchive { local_id, .. } => Some(local_id),
        }
    }

    /// The remote record; `None` for a remote create (the CRM assigns the id).
    pub fn remote_id(&self) -> Option<&str> {
        match self {
            Op::RemoteCreate { .. } => None,
            Op::Link { remote_id, .. }
            | Op::LocalCreate { remote_id, .. }
            | Op::LocalUpdate { remote_id, .. }
            | Op::LocalArchive { remote_id, .. }
            | Op::RemoteUpdate { remote_id, .. }
            | Op::RemoteArchive { remote_id, .. } => Some(remote_id),
        }
    }

    /// The link's base after this op succeeds.
    pub fn base(&self) -> &Fields {
        match self {
            Op::Link { base, .. }
            | Op::LocalCreate { base, .. }
            | Op::LocalUpdate { base, .. }
            | Op::LocalArchive { base, .. }
            | Op::RemoteCreate { base, .. }
            | Op::RemoteUpdate { base, .. }
            | Op::RemoteArchive { base, .. } => base,
        }
    }

    /// Whether the op writes to the CRM.
    pub fn is_remote_write(&self) -> bool {
        matches!(
            self.kind(),
            OpKind::RemoteCreate | OpKind::RemoteUpdate | OpKind::RemoteArchive
        )
    }
}

/// The kinds of op, in plan order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Link,
    LocalCreate,
    LocalUpdate,
    LocalArchive,
    RemoteCreate,
    RemoteUpdate,
    RemoteArchive,
}

/// How a conflict was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The local value was kept (and pushed).
    Local,
    /// The remote value was taken (pulled).
    Remote,
    /// `manual`: held for `crmsync conflicts resolve`; nothing written.
    Held,
}

impl Outcome {
    /// The name used in the state file and in `--json` output (`local`, `remote`, `held`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Local => "local",
            Outcome::Remote => "remote",
            Outcome::Held => "held",
        }
    }
}

/// Where a time compared by `newest-wins` came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// The field's own last change (the CRM's property history, the local audit trail).
    Field,
    /// The record's `updated_at`, for want of a time of the field. Also what a plan file
    /// saved before the sources were recorded means: such builds compared record times only.
    #[default]
    Record,
}

impl TimeSource {
    /// The field's time where known, else the record's, with where it came from.
    pub(super) fn pick(field: Option<&Millis>, record: Millis) -> (Millis, TimeSource) {
        match field {
            Some(&at) => (at, TimeSource::Field),
            None => (record, TimeSource::Record),
        }
    }

    /// The name used in the state file and in `--json` output (`field`, `record`).
    pub fn as_str(self) -> &'static str {
        match self {
            TimeSource::Field => "field",
            TimeSource::Record => "record",
        }
    }
}

/// A field changed on both sides to different values since the base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub local_id: RecordId,
    pub remote_id: String,
    pub field: String,
    /// `None` when there was no base yet (a newly matched pair) or it was empty.
    pub base: Option<String>,
    pub local: Option<String>,
    pub remote: Option<String>,
    pub policy: ConflictPolicy,
    /// The times `newest-wins` compared (worked out for every policy), and where each came
    /// from.
    pub local_updated_at: Millis,
    #[serde(default)]
    pub local_time_source: TimeSource,
    pub remote_updated_at: Millis,
    #[serde(default)]
    pub remote_time_source: TimeSource,
    pub outcome: Outcome,
    /// The value both sides get; `None` when held or when the decided value is empty.
    pub value: Option<String>,
}

/// Why a record was left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The matched local record is archived: an archived record is not linked to a live one.
    LocalArchived,
    /// The matched remote record is archived.
    RemoteArchived,
}

/// A matched pair the planner did not link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub local_id: RecordId,
    pub remote_id: String,
    pub reason: SkipReason,
}

/// Counts per op kind, for summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCounts {
    pub link: usize,
    pub local_create: usize,
    pub local_update: usize,
    pub local_archive: usize,
    pub remote_create: usize,
    pub remote_update: usize,
    pub remote_archive: usize,
    pub conflicts: usize,
    pub held: usize,
}

/// What a sync would do for one connection and object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub connection: String,
    pub object: ObjectKind,
    /// Ordered by [`OpKind`], then local id, then remote id.
    pub ops: Vec<Op>,
    /// Ordered by local id, remote id, field.
    pub conflicts: Vec<Conflict>,
    /// Ordered by local id, remote id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

impl Plan {
    /// A plan with nothing in it.
    pub fn empty(connection: &str, object: ObjectKind) -> Plan {
        Plan {
            connection: connection.to_string(),
            object,
            ops: Vec::new(),
            conflicts: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// No op at all: nothing to write on either side, no link to store.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Archive ops on either side, for the archive safety gate.
    pub fn archives(&self) -> usize {
        self.ops
            .iter()
            .filter(|o| matches!(o.kind(), OpKind::LocalArchive | OpKind::RemoteArchive))
            .count()
    }

    /// Replaces everything planned for the local records `local_ids` with `with`, a plan of
    /// just those records (planned again from better inputs), keeping the plan's order.
    pub fn replace_records(&mut self, local_ids: &BTreeSet<RecordId>, with: Plan) {
        let ours = |id: Option<&RecordId>| id.is_some_and(|id| local_ids.contains(id));
        self.ops.retain(|o| !ours(o.local_id()));
        self.conflicts.retain(|c| !ours(Some(&c.local_id)));
        self.skipped.retain(|s| !ours(Some(&s.local_id)));
        self.ops.extend(with.ops);
        self.conflicts.extend(with.conflicts);
        self.skipped.extend(with.skipped);
        self.sort();
    }

    /// The plan's documented order (see the fields).
    pub(super) fn sort(&mut self) {
        // No two ops share kind, local id and remote id, so an unstable sort is deterministic.
        self.ops.sort_unstable_by(|a, b| {
            a.kind()
                .cmp(&b.kind())
                .then_with(|| a.local_id().cmp(&b.local_id()))
                .then_with(|| a.remote_id().cmp(&b.remote_id()))
        });
        self.conflicts.sort_by(|a, b| {
            (&a.local_id, &a.remote_id, &a.field).cmp(&(&b.local_id, &b.remote_id, &b.field))
        });
        self.skipped
            .sort_by(|a, b| (&a.local_id, &a.remote_id).cmp(&(&b.local_id, &b.remote_id)));
    }

    pub fn counts(&self) -> PlanCounts {
        let mut c = PlanCounts::default();
        for op in &self.ops {
            *match op.kind() {
                OpKind::Link => &mut c.link,
                OpKind::LocalCreate => &mut c.local_create,
                OpKind::LocalUpdate => &mut c.local_update,
                OpKind::LocalArchive => &mut c.local_archive,
                OpKind::RemoteCreate => &mut c.remote_create,
                OpKind::RemoteUpdate => &mut c.remote_update,
                OpKind::RemoteArchive => &mut c.remote_archive,
            } += 1;
        }
        c.conflicts = self.conflicts.len();
        c.held = self
            .conflicts
            .iter()
            .filter(|c| c.outcome == Outcome::Held)
            .count();
        c
    }
}
