//! Carrying out a plan: local ops in one transaction, remote writes journalled, batched and
//! committed one answer at a time.
//!
//! A remote write is journalled before it is sent. When the CRM answers, the outcome (the new
//! base, made of the values the CRM *answered*, not the ones sent, so a CRM that reformats a
//! value does not echo it back as a change), the remote id and the link are committed
//! together; a refused record becomes a failure row. A call that fails as a whole leaves its
//! journal entries for [`Executor::recover`] on the next run.
//!
//! # A create refused as a duplicate
//!
//! A CRM with unique values (HubSpot: a contact's email) refuses to create a local record
//! whose value an existing remote record holds, naming that record
//! ([`crate::providers::RecordError::duplicate_of`]). This happens when the remote record is
//! older than the change feed's cursor, so no pull ever paired the two by match key. Once a
//! plan's writes are done, the executor reads those remote records by id (one call per
//! [`Provider::batch_size`] ids) and pairs each with the local record the CRM refused, as the
//! pull pairs a record matched by email: the planner plans the pair three-way with no base
//! (fields set on one side are copied, different values are decided by the field's direction
//! and policy), and the link, the local update and the remote update are carried out in the
//! same run, journalled like every other write. The refused create stays journalled until the
//! link is stored; the same transaction removes it and the record's failure row, so a run
//! stopped in between plans the create again and meets the same refusal.
//!
//! The refusal is kept as a failure, with a message saying what to do, when the remote record
//! is linked to another local record already (two local records share the value: merge them or
//! change one, then `crmsync retry`), or when the read no longer finds it (archived or merged
//! since).
//!
//! # A record the CRM merged into another
//!
//! A CRM that merges records (HubSpot) answers an update of the record merged away with the
//! record it went into, under that record's id ([`Provider::update`]). The link follows: the
//! transaction that stores the new base stores the new remote id. Once the plan's writes are
//! done, the executor reads those records again and plans each with its local record and the
//! moved link (the merge brought in values the update's answer does not show), carried out in
//! the same run, like the duplicates' follow-up. When the record it went into is linked to
//! another local record already, the update is kept as a failure instead: the two local
//! records are one record in the CRM now, and the message says to merge them locally, then
//! `crmsync retry`.

mod follow_up;
mod ids;
mod outcome;
mod recovery;
mod remote;
mod write;

pub use ids::IdCache;
pub use outcome::{ExecOutcome, FailedWrites};
pub(crate) use remote::remote_side;

use std::collections::HashMap;
use std::sync::Arc;

use crate::clock::Clock;
use crate::engine::plan::{Op, Outcome, Plan};
use crate::engine::{StepError, SyncReporter};
use crate::mapping::{FieldMap, OnDelete};
use crate::model::{Fields, Millis, ObjectKind, Record, RecordId, set_field};
use crate::providers::Provider;
use crate::store::{ConflictDecision, Link, NewConflict, Store, WriteOp, WriteOrigin};
use outcome::AfterWrites;

/// Executes plans for one connection and object.
pub struct Executor<'a> {
    pub store: &'a mut Store,
    pub provider: &'a dyn Provider,
    pub connection: &'a str,
    pub map: &'a FieldMap,
    /// The connection's `on_delete`, for the plans the executor makes itself.
    pub on_delete: OnDelete,
    pub run: i64,
    pub clock: Arc<dyn Clock>,
    pub reporter: &'a dyn SyncReporter,
    /// For a plan made from a change-feed page: the version of each remote record read
    /// (remote id → `updated_at`). A link the plan stores with no remote write to follow
    /// keeps it, so that record is not planned again when the feed brings it at the same
    /// version (see `crate::engine::sync`). A link whose record gets a remote write keeps no
    /// version until the CRM's answer is committed: a run stopped before then re-plans it.
    pub read_versions: HashMap<String, crate::model::Millis>,
    /// Remote properties every create carries besides its mapped fields (the seed tag of
    /// `import --tag`, see [`crate::engine::sync::SyncOptions::stamp`]).
    pub stamp: Option<&'a std::collections::BTreeMap<String, String>>,
    /// Whether this run read the object's change feed before these writes, pairing by content
    /// the CRM's records with unlinked local ones: its creates carry it as
    /// [`crate::providers::RemoteWrite::content_checked`]. Not in a run that reads the CRM by
    /// id (`sync --record`, `listen`'s event runs).
    pub content_checked: bool,
}

impl Executor<'_> {
    /// Carries out `plan`: conflicts recorded, local ops committed, remote writes sent; then
    /// creates the CRM refused as duplicates are linked and merged, and records whose links
    /// followed a merge in the CRM are planned again with the record they follow now (see the
    /// module docs).
    pub async fn execute(
        &mut self,
        plan: &Plan,
        ids: &mut IdCache,
    ) -> Result<ExecOutcome, StepError> {
        // A run about to carry out more than `backup.min_writes` writes copies the file first.
        self.store.before_writes(plan.ops.len() as u64)?;
        let mut out = ExecOutcome::default();
        let mut after = AfterWrites::default();
        self.carry_out(plan, ids, &HashMap::new(), &mut after, &mut out)
            .await?;
        if after.refused.is_empty() && after.moved.is_empty() {
            return Ok(out);
        }
        let object = plan.object;
        let (mut follow_up, settled) = if after.refused.is_empty() {
            (Plan::empty(self.connection, object), HashMap::new())
        } else {
            self.pair_duplicates(object, after.refused, ids, &mut out)
                .await?
        };
        out.linked_duplicates = settled.len();
        if !after.moved.is_empty() {
            let merged = self
                .follow_merges(object, after.moved, ids, &mut out)
                .await?;
            let local_ids = merged
                .ops
                .iter()
                .filter_map(Op::local_id)
                .cloned()
                .collect();
            follow_up.replace_records(&local_ids, merged);
        }
        out.follow_up = follow_up.counts();
        // The follow-up creates nothing, so nothing in it can be refused as a duplicate; a
        // link it moves again is stored and followed from then on, without another read.
        let mut again = AfterWrites::default();
        self.carry_out(&follow_up, ids, &settled, &mut again, &mut out)
            .await?;
        Ok(out)
    }

    /// Carries out one plan. `settled` maps the local records of new links to the journalled
    /// creates those links settle; creates refused as duplicates, and links moved to the
    /// record the CRM merged theirs into, are left in `after`.
    async fn carry_out(
        &mut self,
        plan: &Plan,
        ids: &mut IdCache,
        settled: &HashMap<RecordId, i64>,
        after: &mut AfterWrites,
        out: &mut ExecOutcome,
    ) -> Result<(), StepError> {
        let now = self.clock.now();
        self.record_conflicts(plan, now, out)?;
        let (records, links) = self.local_writes(plan, ids, now, out)?;
        let changed_at = self.pulled_change_times(plan);
        self.save_local(plan.object, &records, &links, settled, &changed_at)?;
        self.write_remote(plan, ids, after, out).await
    }

    /// Stores the plan's conflicts: held ones open, decided ones resolved by their policy, so
    /// what was overwritten stays on record.
    fn record_conflicts(
        &mut self,
        plan: &Plan,
        now: Millis,
        out: &mut ExecOutcome,
    ) -> Result<(), StepError> {
        let object = plan.object;
        for c in &plan.conflicts {
            let policy = c.policy.as_str().to_string();
            let id = self.store.upsert_conflict(&NewConflict {
                connection: self.connection.to_string(),
                kind: object,
                local_id: c.local_id.clone(),
                field: c.field.clone(),
                base: c.base.clone(),
                local: c.local.clone(),
                remote: c.remote.clone(),
                detected_at: now,
                decision: ConflictDecision {
                    run: Some(self.run),
                    policy: policy.clone(),
                    outcome: c.outcome.as_str().to_string(),
                    local_updated_at: c.local_updated_at,
                    local_time_source: c.local_time_source.as_str().to_string(),
                    remote_updated_at: c.remote_updated_at,
                    remote_time_source: c.remote_time_source.as_str().to_string(),
                },
            })?;
            if c.outcome == Outcome::Held {
                out.held += 1;
            } else {
                // Decided by policy: kept as a resolved conflict, so what was overwritten
                // stays on record.
                self.store
                    .resolve_conflict(id, c.value.as_deref(), &policy, now)?;
                out.decided += 1;
            }
        }
        Ok(())
    }

    /// The local records and links the plan's local ops and links make (the records as they
    /// will be saved); a local record gone since the plan is skipped with a warning.
    fn local_writes(
        &mut self,
        plan: &Plan,
        ids: &mut IdCache,
        now: Millis,
        out: &mut ExecOutcome,
    ) -> Result<(Vec<Record>, Vec<Link>), StepError> {
        let object = plan.object;
        // Local side: one transaction for the whole plan.
        let local_ids: Vec<RecordId> = plan
            .ops
            .iter()
            .filter(|o| matches!(o, Op::LocalUpdate { .. } | Op::LocalArchive { .. }))
            .filter_map(|o| o.local_id().cloned())
            .collect();
        let mut current = self.store.get_records(&local_ids)?;
        let mut records: Vec<Record> = Vec::new();
        let mut links: Vec<Link> = Vec::new();
        let written: std::collections::HashSet<&str> = plan
            .ops
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    Op::RemoteCreate { .. } | Op::RemoteUpdate { .. } | Op::RemoteArchive { .. }
                )
            })
            .filter_map(|o| o.remote_id())
            .collect();
        let link = |local_id: &RecordId, remote_id: &str, base: &Fields, retired: bool| Link {
            connection: self.connection.to_string(),
            kind: object,
            local_id: local_id.clone(),
            remote_id: remote_id.to_string(),
            base: base.clone(),
            remote_updated_at: if written.contains(remote_id) {
                None
            } else {
                self.read_versions.get(remote_id).copied()
            },
            synced_at: now,
            retired,
        };
        for op in &plan.ops {
            match op {
                Op::Link {
                    local_id,
                    remote_id,
                    archived,
                    base,
                    ..
                } => links.push(link(local_id, remote_id, base, *archived)),
                Op::LocalCreate {
                    remote_id,
                    fields,
                    base,
                } => {
                    let mut fields = fields.clone();
                    if object == ObjectKind::Contact && fields.contains_key("phone") {
                        crate::model::derive_phone_e164(&mut fields);
                    }
                    let rec = Record {
                        id: RecordId::new(),
                        kind: object,
                        fields,
                        updated_at: now,
                        archived_at: None,
                    };
                    links.push(link(&rec.id, remote_id, base, false));
                    ids.add(object, &rec.id, remote_id);
                    records.push(rec);
                }
                Op::LocalUpdate {
                    local_id,
                    remote_id,
                    changes,
                    base,
                }
                | Op::LocalArchive {
                    local_id,
                    remote_id,
                    changes,
                    base,
                } => {
                    let Some(rec) = current.get_mut(local_id) else {
                        out.warnings.push(format!(
                            "{} {object} `{local_id}`: the local record is gone; skipped",
                            self.connection
                        ));
                        continue;
                    };
                    for ch in changes {
                        set_field(
                            &mut rec.fields,
                            &ch.field,
                            ch.new.clone().unwrap_or_default(),
                        );
                    }
                    if object == ObjectKind::Contact && changes.iter().any(|c| c.field == "phone") {
                        crate::model::derive_phone_e164(&mut rec.fields);
                    }
                    rec.updated_at = now;
                    let archive = matches!(op, Op::LocalArchive { .. });
                    if archive && rec.archived_at.is_none() {
                        rec.archived_at = Some(now);
                    }
                    links.push(link(local_id, remote_id, base, archive));
                    records.push(rec.clone());
                }
                _ => {}
            }
        }
        Ok((records, links))
    }

    /// When the CRM's records that the plan's local updates take fields from last changed
    /// there, on this machine's clock (by the CRM's clock skew): the time of those fields'
    /// change in the audit trail. A value pulled from one CRM keeps its edit time there, so
    /// when another CRM's user edited the same field, `newest-wins` compares the two edits
    /// instead of this run's pull with the other edit (which the pull, coming later, would
    /// always win).
    fn pulled_change_times(&self, plan: &Plan) -> HashMap<RecordId, Millis> {
        let skew = self.provider.clock_skew().unwrap_or(0);
        plan.ops
            .iter()
            .filter_map(|op| match op {
                Op::LocalUpdate {
                    local_id,
                    remote_id,
                    ..
                } => Some((local_id.clone(), self.read_versions.get(remote_id)? - skew)),
                _ => None,
            })
            .collect()
    }

    /// Local side: the records and links of the whole plan in one transaction, settling the
    /// journalled creates they link; `changed_at` as [`Store::save_pulled_settling`] takes it.
    fn save_local(
        &mut self,
        object: ObjectKind,
        records: &[Record],
        links: &[Link],
        settled: &HashMap<RecordId, i64>,
        changed_at: &HashMap<RecordId, Millis>,
    ) -> Result<(), StepError> {
        if !records.is_empty() || !links.is_empty() {
            // A record's link is saved once per op (link, then local update); it settles once.
            let mut settles: Vec<i64> = links
                .iter()
                .filter_map(|l| settled.get(&l.local_id).copied())
                .collect();
            settles.sort_unstable();
            settles.dedup();
            self.store.save_pulled_settling(
                records,
                links,
                &settles,
                &WriteOrigin::Pull {
                    run: self.run,
                    connection: self.connection.to_string(),
                },
                changed_at,
            )?;
            // A link retired because the CRM archived its record (the local record archived
            // with it, or archived already) has nothing left to retry: a write refused before
            // the archive reached this side (its update answered 404) is no longer a failed
            // record.
            for l in links.iter().filter(|l| l.retired) {
                self.store
                    .clear_failure(self.connection, object, &l.local_id)?;
            }
        }
        Ok(())
    }

    /// Remote side: the plan's creates, updates and archives, in chunks of the CRM's batch
    /// size, once the links their reference fields point at are loaded.
    async fn write_remote(
        &mut self,
        plan: &Plan,
        ids: &mut IdCache,
        after: &mut AfterWrites,
        out: &mut ExecOutcome,
    ) -> Result<(), StepError> {
        let object = plan.object;
        let mut creates: Vec<&Op> = plan
            .ops
            .iter()
            .filter(|o| matches!(o, Op::RemoteCreate { .. }))
            .collect();
        // Activity creates go grouped by their type as the CRM keeps it (in plan order within
        // a type): a CRM that keeps each type as an object of its own (HubSpot's engagements)
        // then gets whole batches of one object.
        if object == ObjectKind::Activity
            && let Some(rule) = self.map.rule("type")
        {
            creates.sort_by_cached_key(|op| match op {
                Op::RemoteCreate { fields, .. } => {
                    fields.get("type").and_then(|t| rule.canonical(t))
                }
                _ => None,
            });
        }
        let updates: Vec<&Op> = plan
            .ops
            .iter()
            .filter(|o| matches!(o, Op::RemoteUpdate { .. }))
            .collect();
        let archives: Vec<&Op> = plan
            .ops
            .iter()
            .filter(|o| matches!(o, Op::RemoteArchive { .. }))
            .collect();
        let total = (creates.len() + updates.len() + archives.len()) as u64;
        if total > 0 {
            self.reporter
                .step(self.connection, object, "writing", Some(total));
        }
        // References must resolve: load the links every outgoing ref field points at.
        let ref_values: Vec<(String, String)> = plan
            .ops
            .iter()
            .flat_map(|o| match o {
                Op::RemoteCreate { fields, .. } => fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Vec<_>>(),
                Op::RemoteUpdate { changes, .. } => changes
                    .iter()
                    .filter_map(|c| c.new.clone().map(|v| (c.field.clone(), v)))
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        ids.load_for_local(
            self.store,
            self.connection,
            self.map,
            ref_values.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )?;
        // Creates go a few at a time where the CRM takes one record a request (a create
        // whose answer a failed call lost costs a lookup in the next run); updates and
        // archives in whole batches, journalled together: a new link's update that stamps
        // the local id on the CRM's record is planned once only, with the link, so it must be
        // journalled before a run stopped part-way ends.
        let batch = self.provider.batch_size().max(1);
        for (op, ops, size) in [
            (
                WriteOp::Create,
                &creates,
                self.provider.write_chunk().max(1),
            ),
            (WriteOp::Update, &updates, batch),
            (WriteOp::Archive, &archives, batch),
        ] {
            for chunk in ops.chunks(size) {
                self.write_chunk(object, op, chunk, ids, after, out).await?;
            }
        }
        for m in &after.moved {
            ids.add(object, &m.local_id, &m.into);
        }
        Ok(())
    }
}
