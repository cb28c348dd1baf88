//! The planner: one pure function from the state of both sides to the writes that make them
//! agree.
//!
//! [`plan`] takes, per record, up to three things — the local record, the link (remote id and
//! **base**: the values both sides agreed on at the last sync), and the remote record in
//! canonical terms — together with the resolved field rules of the connection, and returns a
//! [`Plan`]: ops and conflicts in a deterministic order. It reads no clock, store or network,
//! so the same input always gives the same plan.
//!
//! # Rules (DESIGN §3)
//!
//! Field by field, three-way against the base (values compared after normalisation and the
//! field's transform, see [`FieldRule::same`]):
//!
//! | local vs base | remote vs base | result |
//! | --- | --- | --- |
//! | same | same | nothing |
//! | changed | same | pushed, if the direction pushes (`both`, `to-crm`) |
//! | same | changed | pulled, if the direction pulls (`both`, `from-crm`) |
//! | changed | changed, equal | no write; the base moves |
//! | changed | changed, different | `to-crm`: local pushed; `from-crm`: remote pulled; `both`: the policy decides and a [`Conflict`] row records it |
//!
//! Policies: `local-wins`, `remote-wins`, `newest-wins`, and `manual` (no write either way,
//! the base keeps its old value for that field, a conflict row is kept; the record's other
//! fields proceed).
//!
//! `newest-wins` compares, for the one field, when it last changed on each side: remotely
//! [`RemoteSide::field_updated_at`] where the CRM gave a per-field time, else the remote
//! record's `updated_at`; locally [`PlanItem::local_field_updated_at`] where the engine
//! found one, else the local record's `updated_at`. **A tie goes to the local value**, since
//! the local store is the hub every connection is fed from. A CRM whose times are to the
//! second (Pipedrive) stamps an edit with the start of its second, so a local edit made within
//! that second compares as later: an order the clocks cannot tell is the tie, and keeps the
//! local value; a CRM edit a second or more after the local one wins. The [`Conflict`] row keeps the two
//! times that were compared. Record times alone decide wrongly when a record was touched for
//! another reason after an old edit of the field, so the engine plans a page, and for the
//! records whose plan holds a `newest-wins` conflict it looks up the per-field times (the
//! CRM's property history, the local audit trail) and plans those records again
//! (`crate::engine::field_times`). The planner itself only reads what it is given. Fields with direction `none` are never
//! looked at. A `to-crm` field ignores remote edits until the local value next changes, and a
//! `from-crm` field ignores local edits, so one-way fields are stable without being equal.
//!
//! **Absent means unchanged, never deleted.** A linked record missing from the remote read
//! (a delta read only returns what changed) is taken to equal its base; so is a local record
//! the engine did not load. Remote fields listed in [`RemoteSide::unreadable`] are treated as
//! unchanged too, so a value that failed to convert never clears a good one. Only an explicit
//! archive (`archived_at` locally, [`RemoteSide::archived`] remotely) archives.
//!
//! **Archives.** When one side is archived, the archive wins: the other side is archived too
//! (or, with `on_delete = ignore`, left as it is and the link retired). Nothing is lost: the
//! remote's edits are still pulled into the local record before it is archived (decided by the
//! policy where both sides edited; a `manual` field keeps the local value, since the retired
//! link could never resolve it), local edits stay in the local record, and an archived
//! remote record keeps its values in the CRM. Local edits are never pushed to a record being
//! archived. Once settled, the link is marked archived and is not planned again.
//!
//! **New records.** An unlinked remote record paired by the engine with a local record (by
//! match key, by the `crmsync_id` it carries, or because the CRM refused to create the local
//! record as a duplicate of it) is linked: planned three-way with an empty
//! base, so equal fields become the base, a field set on one side only is copied, and
//! different values are decided by the direction and policy. Unless it was paired by the
//! `crmsync_id` it carries, its remote update also writes the local id there
//! (`set_external_id`), with no field to change if need be, so that every linked remote
//! record carries its local id as the ones crmsync created do. An unlinked remote record with no
//! local one is created locally; an unlinked, unarchived local record is created remotely when
//! [`PlanItem::may_create_remote`] allows. Archived records are never created, and an archived
//! record is never linked to a live one (it is reported in [`Plan::skipped`]).
//!
//! # Ops and bases
//!
//! Each op carries `base`: the link's **whole** base once that op — and the ops of the same
//! record before it in the plan — have succeeded. Per record the order is: link, local write,
//! remote write (the plan's global order keeps it, see [`OpKind`]). A pull is settled as soon
//! as the local write commits, so if the remote write that follows fails, the stored base
//! still says which fields are agreed and the next run pushes only what is left. The executor
//! replaces the planned base value of a pushed field with what the CRM answered, so a CRM that
//! reformats a value does not echo it back as a change.
//!
//! After every op of a plan is applied, base = local = remote on every field that syncs both
//! ways, and planning the new state gives a plan with no ops.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::mapping::{ConflictPolicy, Direction, FieldRule, OnDelete};
use crate::model::{Fields, Millis, Record};

mod input;
mod output;
#[cfg(test)]
mod tests;

pub use input::{LinkState, MatchedBy, PlanInput, PlanItem, RemoteSide};
pub use output::{
    Conflict, FieldChange, Op, OpKind, Outcome, Plan, PlanCounts, SkipReason, Skipped, TimeSource,
};

/// Plans the writes for `input`. Pure and deterministic.
pub fn plan(input: &PlanInput) -> Plan {
    let rules: Vec<&FieldRule> = input
        .rules
        .iter()
        .filter(|r| r.direction != Direction::None)
        .collect();
    let mut out = Out {
        ops: Vec::with_capacity(input.items.len()),
        ..Out::default()
    };
    for item in &input.items {
        plan_item(&rules, input.on_delete, item, &mut out);
    }
    let mut p = Plan {
        connection: input.connection.clone(),
        object: input.object,
        ops: out.ops,
        conflicts: out.conflicts,
        skipped: out.skipped,
    };
    p.sort();
    p
}

#[derive(Default)]
struct Out {
    ops: Vec<Op>,
    conflicts: Vec<Conflict>,
    skipped: Vec<Skipped>,
}

fn plan_item(rules: &[&FieldRule], on_delete: OnDelete, item: &PlanItem, out: &mut Out) {
    match (&item.local, &item.link, &item.remote) {
        (_, Some(link), _) if link.archived => {}
        (local, Some(link), remote) => {
            // Without the local record there is nothing to pull into or push from; the
            // engine loads the local record of every link it plans.
            let Some(local) = local else { return };
            let synthesized;
            let remote = match remote {
                Some(r) => r,
                None => {
                    synthesized = RemoteSide {
                        id: link.remote_id.clone(),
                        fields: link.base.clone(),
                        updated_at: link.remote_updated_at,
                        ..RemoteSide::default()
                    };
                    &synthesized
                }
            };
            let local = Local::of(local, item);
            linked(rules, on_delete, local, &link.base, remote, None, out);
        }
        (Some(local), None, None) => {
            if local.archived_at.is_none() && item.may_create_remote {
                let fields = pick(rules, &local.fields, |d| d.pushes());
                out.ops.push(Op::RemoteCreate {
                    local_id: local.id.clone(),
                    base: fields.clone(),
                    fields,
                });
            }
        }
        (None, None, Some(remote)) => {
            if !remote.archived {
                let fields = pick(rules, &remote.fields, |d| d.pulls());
                out.ops.push(Op::LocalCreate {
                    remote_id: remote.id.clone(),
                    base: fields.clone(),
                    fields,
                });
            }
        }
        (Some(local), None, Some(remote)) => {
            let reason = if local.archived_at.is_some() {
                Some(SkipReason::LocalArchived)
            } else if remote.archived {
                Some(SkipReason::RemoteArchived)
            } else {
                None
            };
            match reason {
                Some(reason) => out.skipped.push(Skipped {
                    local_id: local.id.clone(),
                    remote_id: remote.id.clone(),
                    reason,
                }),
                None => linked(
                    rules,
                    on_delete,
                    Local::of(local, item),
                    &Fields::new(),
                    remote,
                    Some(item.matched_by.clone()),
                    out,
                ),
            }
        }
        (None, None, None) => {}
    }
}

/// The fields of `fields` whose rule's direction passes `keep`.
fn pick(rules: &[&FieldRule], fields: &Fields, keep: impl Fn(Direction) -> bool) -> Fields {
    rules
        .iter()
        .filter(|r| keep(r.direction))
        .filter_map(|r| fields.get(&r.field).map(|v| (r.field.clone(), v.clone())))
        .collect()
}

/// The field-by-field outcome of one pair.
#[derive(Default)]
struct Merge {
    /// Fields whose base moves without a write (same change on both sides).
    moved: Vec<(String, Option<String>)>,
    pulls: Vec<FieldChange>,
    pushes: Vec<FieldChange>,
}

fn get<'a>(f: &'a Fields, k: &str) -> Option<&'a str> {
    f.get(k).map(String::as_str)
}

fn set(fields: &mut Fields, field: &str, value: Option<&String>) {
    match value {
        Some(v) => {
            fields.insert(field.to_string(), v.clone());
        }
        None => {
            fields.remove(field);
        }
    }
}

/// The local record of a pair, with the per-field times the engine found for it.
#[derive(Clone, Copy)]
struct Local<'a> {
    rec: &'a Record,
    field_updated_at: &'a BTreeMap<String, Millis>,
}

impl<'a> Local<'a> {
    fn of(rec: &'a Record, item: &'a PlanItem) -> Self {
        Local {
            rec,
            field_updated_at: &item.local_field_updated_at,
        }
    }

    /// When `field` last changed locally: its own time where known, else the record's.
    fn updated_at(&self, field: &str) -> (Millis, TimeSource) {
        TimeSource::pick(self.field_updated_at.get(field), self.rec.updated_at)
    }
}

fn merge(
    rules: &[&FieldRule],
    base: &Fields,
    local: Local<'_>,
    remote: &RemoteSide,
    conflicts: &mut Vec<Conflict>,
) -> Merge {
    let mut m = Merge::default();
    for rule in rules {
        let f = rule.field.as_str();
        let b = get(base, f);
        let l = get(&local.rec.fields, f);
        let r = if remote.unreadable.contains(f) {
            b
        } else {
            get(&remote.fields, f)
        };
        let local_changed = !rule.same(l, b);
        let remote_changed = !rule.same(r, b);
        let own = |v: Option<&str>| v.map(str::to_string);
        let pull = |m: &mut Merge| {
            m.pulls.push(FieldChange {
                field: f.to_string(),
                old: own(l),
                new: own(r),
            })
        };
        let push = |m: &mut Merge| {
            m.pushes.push(FieldChange {
                field: f.to_string(),
                old: own(r),
                new: own(l),
            })
        };
        match (local_changed, remote_changed) {
            (false, false) => {}
            (true, false) => {
                if rule.direction.pushes() {
                    push(&mut m);
                }
            }
            (false, true) => {
                if rule.direction.pulls() {
                    pull(&mut m);
                }
            }
            (true, true) if rule.same(l, r) => m.moved.push((f.to_string(), own(r))),
            (true, true) => match rule.direction {
                Direction::ToCrm => push(&mut m),
                Direction::FromCrm => pull(&mut m),
                Direction::Both | Direction::None => {
                    let (remote_at, remote_time_source) =
                        TimeSource::pick(remote.field_updated_at.get(f), remote.updated_at);
                    let (local_at, local_time_source) = local.updated_at(f);
                    let outcome = match rule.policy {
                        ConflictPolicy::LocalWins => Outcome::Local,
                        ConflictPolicy::RemoteWins => Outcome::Remote,
                        ConflictPolicy::Manual => Outcome::Held,
                        // A tie keeps the local value: see the module docs.
                        ConflictPolicy::NewestWins => match remote_at.cmp(&local_at) {
                            Ordering::Greater => Outcome::Remote,
                            Ordering::Less | Ordering::Equal => Outcome::Local,
                        },
                    };
                    let value = match outcome {
                        Outcome::Local => {
                            push(&mut m);
                            own(l)
                        }
                        Outcome::Remote => {
                            pull(&mut m);
                            own(r)
                        }
                        Outcome::Held => None,
                    };
                    conflicts.push(Conflict {
                        local_id: local.rec.id.clone(),
                        remote_id: remote.id.clone(),
                        field: f.to_string(),
                        base: own(b),
                        local: own(l),
                        remote: own(r),
                        policy: rule.policy,
                        local_updated_at: local_at,
                        local_time_source,
                        remote_updated_at: remote_at,
                        remote_time_source,
                        outcome,
                        value,
                    });
                }
            },
        }
    }
    m
}

fn linked(
    rules: &[&FieldRule],
    on_delete: OnDelete,
    local: Local<'_>,
    base: &Fields,
    remote: &RemoteSide,
    new_link: Option<Option<MatchedBy>>,
    out: &mut Out,
) {
    let first_conflict = out.conflicts.len();
    let m = merge(rules, base, local, remote, &mut out.conflicts);
    let local_archived = local.rec.archived_at.is_some();
    let is_new_link = new_link.is_some();
    let mut stage0: Option<Fields> = None;
    let with = |b: Option<Fields>| b.unwrap_or_else(|| base.clone());
    if !m.moved.is_empty() {
        let mut b = base.clone();
        for (f, v) in &m.moved {
            set(&mut b, f, v.as_ref());
        }
        stage0 = Some(b);
    }
    let local_id = || local.rec.id.clone();
    let remote_id = || remote.id.clone();
    // A pair not matched by the external id it carries gets it with its first remote write.
    let set_external_id = new_link
        .as_ref()
        .is_some_and(|by| !matches!(by, Some(MatchedBy::ExternalId)));
    if let Some(matched_by) = new_link {
        out.ops.push(Op::Link {
            local_id: local_id(),
            remote_id: remote_id(),
            matched_by,
            archived: false,
            base: with(stage0.clone()),
        });
    }
    let after_pulls = |stage: Option<Fields>| -> Option<Fields> {
        if m.pulls.is_empty() {
            return stage;
        }
        let mut b = with(stage);
        for c in &m.pulls {
            set(&mut b, &c.field, c.new.as_ref());
        }
        Some(b)
    };

    if local_archived || remote.archived {
        // The link retires with this plan, so a held field could never be resolved through
        // it: the local record keeps its value (and the archived side keeps its own).
        for c in &mut out.conflicts[first_conflict..] {
            if c.outcome == Outcome::Held {
                c.outcome = Outcome::Local;
                c.value = c.local.clone();
            }
        }
        let stage1 = after_pulls(stage0);
        let base1 = with(stage1);
        let carry = on_delete == OnDelete::Archive;
        if remote.archived && !local_archived && carry {
            out.ops.push(Op::LocalArchive {
                local_id: local_id(),
                remote_id: remote_id(),
                changes: m.pulls,
                base: base1,
            });
            return;
        }
        if !m.pulls.is_empty() {
            out.ops.push(Op::LocalUpdate {
                local_id: local_id(),
                remote_id: remote_id(),
                changes: m.pulls,
                base: base1.clone(),
            });
        }
        if local_archived && !remote.archived && carry {
            out.ops.push(Op::RemoteArchive {
                local_id: local_id(),
                remote_id: remote_id(),
                base: base1,
            });
        } else {
            out.ops.push(Op::Link {
                local_id: local_id(),
                remote_id: remote_id(),
                matched_by: None,
                archived: true,
                base: base1,
            });
        }
        return;
    }

    let had_moves = stage0.is_some();
    let stage1 = after_pulls(stage0);
    let pulled = !m.pulls.is_empty();
    if pulled {
        out.ops.push(Op::LocalUpdate {
            local_id: local_id(),
            remote_id: remote_id(),
            changes: m.pulls,
            base: with(stage1.clone()),
        });
    }
    if !m.pushes.is_empty() || set_external_id {
        let mut b = with(stage1);
        for c in &m.pushes {
            set(&mut b, &c.field, c.new.as_ref());
        }
        out.ops.push(Op::RemoteUpdate {
            local_id: local_id(),
            remote_id: remote_id(),
            changes: m.pushes,
            set_external_id,
            base: b,
        });
    } else if had_moves && !pulled && !is_new_link {
        out.ops.push(Op::Link {
            local_id: local_id(),
            remote_id: remote_id(),
            matched_by: None,
            archived: false,
            base: with(stage1),
        });
    }
}
