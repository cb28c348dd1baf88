//! Held conflicts: the remote values of fields a `manual` conflict holds, and the open conflicts
//! settled (agreed) or closed when the configuration no longer holds them.

use std::collections::{HashMap, HashSet};

use crate::engine::StepError;
use crate::engine::plan::{LinkState, Plan, RemoteSide};
use crate::mapping::{ConflictPolicy, Direction};
use crate::model::{Millis, ObjectKind, RecordId};
use crate::store::ConflictFilter;

use super::session::Session;

/// A field of a record held by an open `manual` conflict.
pub(super) struct HeldField {
    pub(super) conflict: i64,
    pub(super) field: String,
    /// The remote value when the conflict was last seen.
    pub(super) remote: Option<String>,
}

/// The remote side of a linked record that was not read in this run: its base, with the
/// remote values of the fields held by open conflicts.
pub(super) fn held_remote_side(link: &LinkState, held: &[HeldField], skew: Millis) -> RemoteSide {
    let mut fields = link.base.clone();
    for h in held {
        crate::model::set_field(&mut fields, &h.field, h.remote.clone().unwrap_or_default());
    }
    RemoteSide {
        id: link.remote_id.clone(),
        fields,
        // On this machine's clock, as a record read is (0: not known).
        updated_at: match link.remote_updated_at {
            0 => 0,
            at => at - skew,
        },
        ..RemoteSide::default()
    }
}

impl<'a> Session<'a> {
    /// The remote values of fields held by open conflicts, per local record of `ids`.
    ///
    /// A push plans a linked record without reading it again and takes the remote side to
    /// equal the base. For a field held by a `manual` conflict the base keeps its old value,
    /// so without this the local side of the conflict would be pushed over the remote one;
    /// with the held remote value in place the planner sees the conflict again (and holds it,
    /// or lets the policy decide if it changed, or finds both sides now agree).
    pub(super) fn held_remote_values(
        &self,
        object: ObjectKind,
        ids: &[RecordId],
    ) -> Result<HashMap<RecordId, Vec<HeldField>>, StepError> {
        let mut out: HashMap<RecordId, Vec<HeldField>> = HashMap::new();
        let wanted: HashSet<&RecordId> = ids.iter().collect();
        let open = self.store.list_open_conflicts(&ConflictFilter {
            connection: Some(self.p.name.clone()),
            kind: Some(object),
            ..ConflictFilter::default()
        })?;
        for c in open {
            if wanted.contains(&c.local_id) {
                out.entry(c.local_id).or_default().push(HeldField {
                    conflict: c.id,
                    field: c.field,
                    remote: c.remote,
                });
            }
        }
        Ok(out)
    }

    /// Marks resolved the open conflicts of `held` that `planned` no longer holds: both sides
    /// now agree on the field (a user took one side's value on either side, or put back the
    /// base), so nothing waits any more.
    pub(super) fn settle_conflicts(
        &mut self,
        planned: &Plan,
        held: &HashMap<RecordId, Vec<HeldField>>,
    ) -> Result<(), StepError> {
        let now = self.clock.now();
        for (local_id, fields) in held {
            for h in fields {
                if planned
                    .conflicts
                    .iter()
                    .any(|c| c.local_id == *local_id && c.field == h.field)
                {
                    continue;
                }
                let value = self
                    .store
                    .get_record(local_id)?
                    .and_then(|r| r.get(&h.field).map(str::to_string));
                self.store
                    .resolve_conflict(h.conflict, value.as_deref(), "agreed", now)?;
            }
        }
        Ok(())
    }

    /// Looks at this connection's open conflicts of `object` under the current
    /// configuration. One on a field that is no longer synced (not mapped, or direction
    /// `none`) is closed, kept as resolved by `unmapped` with the local value, and a warning
    /// says so. The records of those whose field's policy is no longer `manual`, or whose
    /// field now syncs one way, are returned: planned again, their conflicts are decided by
    /// that policy or direction.
    pub(super) fn review_open_conflicts(
        &mut self,
        object: ObjectKind,
    ) -> Result<HashSet<RecordId>, StepError> {
        let open = self.store.list_open_conflicts(&ConflictFilter {
            connection: Some(self.p.name.clone()),
            kind: Some(object),
            ..ConflictFilter::default()
        })?;
        // As configured: a property the CRM lacks for now leaves a field out of this run's
        // map only, and does not close its conflicts.
        let configured = self.resolve_map(object)?;
        let mut decide = HashSet::new();
        for c in open {
            match configured.rule(&c.field) {
                Some(rule) if rule.direction != Direction::None => {
                    // A one-way field has no conflicts: its direction decides.
                    if rule.policy != ConflictPolicy::Manual || rule.direction != Direction::Both {
                        decide.insert(c.local_id);
                    }
                }
                _ if self.opts.dry_run => {}
                _ => {
                    let now = self.clock.now();
                    self.store
                        .resolve_conflict(c.id, c.local.as_deref(), "unmapped", now)?;
                    self.warn(format!(
                        "{} {object} `{}`: conflict {} on `{}` is closed, as the field is no longer synced with this connection; the local value stays",
                        self.p.name, c.local_id, c.id, c.field
                    ));
                }
            }
        }
        Ok(decide)
    }
}
