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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
#[cfg(feature = "test-seams")]
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::Clock;
use crate::engine::field_times;
use crate::engine::plan::{
    self, MatchedBy, Op, Outcome, Plan, PlanCounts, PlanInput, PlanItem, RemoteSide, SkipReason,
};
use crate::engine::{StepError, SyncReporter, link_state};
use crate::mapping::{FieldMap, IdLookup, OnDelete};
use crate::model::{FieldType, Fields, ObjectKind, Record, RecordId, set_field};
use crate::providers::{Provider, RecordError, RemoteRecord, RemoteWrite};
use crate::store::{
    ConflictDecision, JournalEntry, Link, NewConflict, PendingWrite, Store, WriteFailure, WriteOp,
    WriteOrigin, WriteOutcome,
};

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
    fn add(&mut self, op: WriteOp) {
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
struct Refused {
    journal: i64,
    local_id: RecordId,
    /// The CRM's id of the record it already has.
    remote_id: String,
    error: RecordError,
}

impl Refused {
    /// What happened, for the failure's message.
    fn refusal(&self, crm: &str, object: ObjectKind) -> String {
        format!(
            "{crm} refused to create local {object} `{}` as a duplicate of {crm} {object} `{}` \
             ({})",
            self.local_id, self.remote_id, self.error.message
        )
    }
}

/// A link the CRM moved: it answered an update of `from` with `into`, the record `from` was
/// merged into.
struct Moved {
    local_id: RecordId,
    from: String,
    into: String,
}

/// What a plan's writes leave for the executor to settle after them (see the module docs).
#[derive(Default)]
struct AfterWrites {
    refused: Vec<Refused>,
    moved: Vec<Moved>,
}

/// Reference translation (local id ⇄ CRM id) backed by links loaded ahead of time, since
/// [`IdLookup`] is called from pure mapping code.
#[derive(Debug, Default)]
pub struct IdCache {
    to_local: HashMap<(ObjectKind, String), RecordId>,
    to_remote: HashMap<(ObjectKind, RecordId), String>,
}

impl IdLookup for IdCache {
    fn local_id(&self, kind: ObjectKind, remote_id: &str) -> Option<RecordId> {
        self.to_local.get(&(kind, remote_id.to_string())).cloned()
    }
    fn remote_id(&self, kind: ObjectKind, local_id: &RecordId) -> Option<String> {
        self.to_remote.get(&(kind, local_id.clone())).cloned()
    }
}

impl IdCache {
    fn add(&mut self, kind: ObjectKind, local: &RecordId, remote: &str) {
        self.to_local
            .insert((kind, remote.to_string()), local.clone());
        self.to_remote
            .insert((kind, local.clone()), remote.to_string());
    }

    fn ref_rules(map: &FieldMap) -> Vec<(String, String, ObjectKind)> {
        map.rules
            .iter()
            .filter_map(|r| match r.ty {
                FieldType::Ref(kind) => Some((r.field.clone(), r.remote.clone(), kind)),
                _ => None,
            })
            .collect()
    }

    /// Loads the links that the reference properties of `records` point at.
    pub fn load_for_remote(
        &mut self,
        store: &Store,
        connection: &str,
        map: &FieldMap,
        records: &[RemoteRecord],
    ) -> Result<(), StepError> {
        for (_, remote, kind) in Self::ref_rules(map) {
            let ids: Vec<String> = records
                .iter()
                .filter_map(|r| r.props.get(&remote).cloned())
                .collect();
            if ids.is_empty() {
                continue;
            }
            for (rid, link) in store.links_by_remote_ids(connection, kind, &ids)? {
                self.add(kind, &link.local_id, &rid);
            }
        }
        Ok(())
    }

    /// Loads the links that the reference fields of `fields` point at.
    fn load_for_local<'f>(
        &mut self,
        store: &Store,
        connection: &str,
        map: &FieldMap,
        fields: impl Iterator<Item = (&'f str, &'f str)> + Clone,
    ) -> Result<(), StepError> {
        for (field, _, kind) in Self::ref_rules(map) {
            let ids: Vec<RecordId> = fields
                .clone()
                .filter(|(f, _)| *f == field)
                .filter_map(|(_, v)| RecordId::parse(v))
                .collect();
            if ids.is_empty() {
                continue;
            }
            for (lid, link) in store.links_by_local_ids(connection, kind, &ids)? {
                self.add(kind, &lid, &link.remote_id);
            }
        }
        Ok(())
    }
}

/// Remote write calls sent by this process, for the `CRMSYNC_TEST_KILL_AFTER_WRITES` knob.
#[cfg(feature = "test-seams")]
static WRITE_CALLS: AtomicU64 = AtomicU64::new(0);

/// Test knob: the process kills itself (SIGKILL, no cleanup) right after the Nth remote write
/// call was answered and before its outcome is committed — the worst moment to die.
fn maybe_die_after_write() {
    #[cfg(feature = "test-seams")]
    die_after_write();
}

#[cfg(feature = "test-seams")]
fn die_after_write() {
    let n = WRITE_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    let Some(limit) = std::env::var(crate::env::TEST_KILL_AFTER_WRITES)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    if n >= limit {
        crate::env::die_at_once();
    }
}

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
        let object = plan.object;
        let now = self.clock.now();

        for c in &plan.conflicts {
            let policy = serde_json::to_value(c.policy)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
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
        if !records.is_empty() || !links.is_empty() {
            // A record's link is saved once per op (link, then local update); it settles once.
            let mut settles: Vec<i64> = links
                .iter()
                .filter_map(|l| settled.get(&l.local_id).copied())
                .collect();
            settles.sort_unstable();
            settles.dedup();
            self.store.save_pulled_settling(
                &records,
                &links,
                &settles,
                &WriteOrigin::Pull {
                    run: self.run,
                    connection: self.connection.to_string(),
                },
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

        // Remote side.
        let creates: Vec<&Op> = plan
            .ops
            .iter()
            .filter(|o| matches!(o, Op::RemoteCreate { .. }))
            .collect();
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
        let batch = self.provider.batch_size().max(1);
        for (op, ops) in [
            (WriteOp::Create, &creates),
            (WriteOp::Update, &updates),
            (WriteOp::Archive, &archives),
        ] {
            for chunk in ops.chunks(batch) {
                self.write_chunk(object, op, chunk, ids, after, out).await?;
            }
        }
        for m in &after.moved {
            ids.add(object, &m.local_id, &m.into);
        }
        Ok(())
    }

    /// Reads the records the CRM named in `refused` and plans each refused local record with
    /// the one it duplicates, as a new pair (see the module docs). Refusals that cannot be
    /// paired are stored as failures here. Returns the plan and, per local record it links,
    /// the journalled create the link settles.
    async fn pair_duplicates(
        &mut self,
        object: ObjectKind,
        refused: Vec<Refused>,
        ids: &mut IdCache,
        out: &mut ExecOutcome,
    ) -> Result<(Plan, HashMap<RecordId, i64>), StepError> {
        let wanted: Vec<String> = refused.iter().map(|r| r.remote_id.clone()).collect();
        let (wanted, found) = self.read_remote(object, wanted, ids).await?;
        let linked = self
            .store
            .links_by_remote_ids(self.connection, object, &wanted)?;
        let local_ids: Vec<RecordId> = refused.iter().map(|r| r.local_id.clone()).collect();
        let locals = self.store.get_records(&local_ids)?;

        let crm = self.provider.kind().display_name();
        let mut claimed: HashMap<String, RecordId> = HashMap::new();
        let mut items = Vec::new();
        let mut pending: HashMap<RecordId, Refused> = HashMap::new();
        for r in refused {
            let rid = &r.remote_id;
            let lid = &r.local_id;
            let refusal = r.refusal(crm, object);
            // A retired link does not hold the CRM's record: its local record was archived
            // with `on_delete = "ignore"`, and a new local record with the same match key
            // takes the record over (the retired link gives way when the new one is stored).
            let other = linked
                .get(rid)
                .filter(|l| !l.retired)
                .map(|l| &l.local_id)
                .or_else(|| claimed.get(rid))
                .filter(|other| *other != lid);
            let problem = match (found.get(rid), other, locals.get(lid)) {
                (None, _, _) => Some(format!(
                    "{refusal}, but {crm} has no live {object} `{rid}` any more (archived or \
                     merged since), so nothing was linked; check `{rid}` in {crm}, then run \
                     `crmsync retry`"
                )),
                (Some(_), Some(other), _) => Some(format!(
                    "{refusal}; {crm} {object} `{rid}` is linked to local {object} `{other}` \
                     already, so `{lid}` cannot be linked to it too: the two local records \
                     share the value {crm} keeps unique (such as the email). Merge them, or \
                     change that value on one of them, then run `crmsync retry`"
                )),
                (Some(_), None, None) => Some(format!(
                    "{refusal}; the local record is gone, so nothing was linked"
                )),
                (Some(rec), None, Some(local)) => {
                    items.push(PlanItem {
                        local: Some(local.clone()),
                        link: None,
                        remote: Some(self.remote_side(object, rec, ids, out)),
                        matched_by: Some(MatchedBy::Duplicate),
                        may_create_remote: false,
                        ..PlanItem::default()
                    });
                    None
                }
            };
            match problem {
                Some(message) => self.keep_refused(&r, message, out)?,
                None => {
                    claimed.insert(r.remote_id.clone(), r.local_id.clone());
                    pending.insert(r.local_id.clone(), r);
                }
            }
        }
        let planned = self.plan_items(object, items, out).await?;
        let mut settled = HashMap::new();
        for op in &planned.ops {
            if let Op::Link {
                local_id,
                matched_by: Some(_),
                ..
            } = op
                && let Some(r) = pending.remove(local_id)
            {
                settled.insert(r.local_id, r.journal);
            }
        }
        // A pair the planner would not link (an archived side) keeps its failure.
        for s in &planned.skipped {
            if let Some(r) = pending.remove(&s.local_id) {
                let why = match s.reason {
                    SkipReason::LocalArchived => "the local record is archived".to_string(),
                    SkipReason::RemoteArchived => {
                        format!("{crm} {object} `{}` is archived", s.remote_id)
                    }
                };
                let message = format!(
                    "{}; they were not linked because {why}",
                    r.refusal(crm, object)
                );
                self.keep_refused(&r, message, out)?;
            }
        }
        for r in pending.into_values() {
            let message = format!("{}, and they could not be linked", r.refusal(crm, object));
            self.keep_refused(&r, message, out)?;
        }
        Ok((planned, settled))
    }

    /// Plans each local record whose link moved to the record the CRM merged its own into,
    /// with that record read again: the merge changed it in ways an update's answer does not
    /// show (values of the other record, the ones it kept of its own).
    async fn follow_merges(
        &mut self,
        object: ObjectKind,
        moved: Vec<Moved>,
        ids: &mut IdCache,
        out: &mut ExecOutcome,
    ) -> Result<Plan, StepError> {
        let crm = self.provider.kind().display_name();
        let wanted: Vec<String> = moved.iter().map(|m| m.into.clone()).collect();
        let (_, found) = self.read_remote(object, wanted, ids).await?;
        let local_ids: Vec<RecordId> = moved.iter().map(|m| m.local_id.clone()).collect();
        let locals = self.store.get_records(&local_ids)?;
        let links = self
            .store
            .links_by_local_ids(self.connection, object, &local_ids)?;
        let mut items = Vec::new();
        for m in &moved {
            out.warnings.push(format!(
                "{} {object} `{}`: {crm} merged {object} `{}` into `{}`, so the local record is \
                 linked to `{}` now and takes what the merge kept",
                self.connection, m.local_id, m.from, m.into, m.into
            ));
            // A record archived or merged again since is met by the next sync.
            let (Some(local), Some(link), Some(rec)) = (
                locals.get(&m.local_id),
                links.get(&m.local_id).filter(|l| l.remote_id == m.into),
                found.get(&m.into),
            ) else {
                continue;
            };
            items.push(PlanItem {
                local: Some(local.clone()),
                link: Some(link_state(link)),
                remote: Some(self.remote_side(object, rec, ids, out)),
                ..PlanItem::default()
            });
        }
        self.plan_items(object, items, out).await
    }

    /// Reads `wanted` (deduplicated, one call per [`Provider::batch_size`] ids) and loads the
    /// links their references point at. Returns the ids asked for and the records found.
    async fn read_remote(
        &mut self,
        object: ObjectKind,
        mut wanted: Vec<String>,
        ids: &mut IdCache,
    ) -> Result<(Vec<String>, HashMap<String, RemoteRecord>), StepError> {
        let props = self
            .provider
            .read_properties(object, &self.map.remote_properties());
        wanted.sort();
        wanted.dedup();
        let mut found: HashMap<String, RemoteRecord> = HashMap::new();
        for chunk in wanted.chunks(self.provider.batch_size().max(1)) {
            for rec in self.provider.read_by_ids(object, chunk, &props).await? {
                found.insert(rec.id.clone(), rec);
            }
        }
        let records: Vec<RemoteRecord> = found.values().cloned().collect();
        ids.load_for_remote(self.store, self.connection, self.map, &records)?;
        Ok((wanted, found))
    }

    /// [`remote_side`] for this executor's connection, warning in `out`.
    fn remote_side(
        &self,
        object: ObjectKind,
        rec: &RemoteRecord,
        ids: &IdCache,
        out: &mut ExecOutcome,
    ) -> RemoteSide {
        remote_side(
            self.connection,
            object,
            self.map,
            rec,
            ids,
            self.provider.clock_skew().unwrap_or(0),
            &mut out.warnings,
        )
    }

    /// Plans `items` the executor made itself, with field times for their `newest-wins`
    /// conflicts (see [`field_times`]).
    async fn plan_items(
        &mut self,
        object: ObjectKind,
        items: Vec<PlanItem>,
        out: &mut ExecOutcome,
    ) -> Result<Plan, StepError> {
        let input = PlanInput {
            connection: self.connection.to_string(),
            object,
            rules: self.map.rules.clone(),
            on_delete: self.on_delete,
            items,
        };
        let planned = plan::plan(&input);
        let refined =
            field_times::refine(self.store, self.provider, self.connection, input, planned).await?;
        if out.history_warning.is_none() {
            out.history_warning = refined.warning;
        }
        Ok(refined.plan)
    }

    /// Stores a refused create as the record's failure, with `message`.
    fn keep_refused(
        &mut self,
        r: &Refused,
        message: String,
        out: &mut ExecOutcome,
    ) -> Result<(), StepError> {
        out.failed_writes.create += 1;
        self.store.fail_write(
            r.journal,
            &WriteFailure {
                message,
                code: r.error.code.clone(),
                at: self.clock.now(),
            },
        )?;
        Ok(())
    }

    /// Journals, sends and commits one batch of remote writes of one kind.
    async fn write_chunk(
        &mut self,
        object: ObjectKind,
        op: WriteOp,
        chunk: &[&Op],
        ids: &IdCache,
        after: &mut AfterWrites,
        out: &mut ExecOutcome,
    ) -> Result<(), StepError> {
        let now = self.clock.now();
        let mut writes: Vec<(RemoteWrite, &Op)> = Vec::with_capacity(chunk.len());
        for o in chunk {
            let (local_id, remote_id, props, set_external_id) = match o {
                Op::RemoteCreate {
                    local_id, fields, ..
                } => {
                    let outbound = self.map.create_props(fields, ids);
                    self.note_warnings(object, local_id, &outbound.warnings, out);
                    (local_id, None, outbound.props, false)
                }
                Op::RemoteUpdate {
                    local_id,
                    remote_id,
                    changes,
                    set_external_id,
                    ..
                } => {
                    let outbound = self.map.to_remote(
                        changes.iter().map(|c| (c.field.as_str(), c.new.as_deref())),
                        ids,
                    );
                    self.note_warnings(object, local_id, &outbound.warnings, out);
                    (
                        local_id,
                        Some(remote_id.clone()),
                        outbound.props,
                        *set_external_id,
                    )
                }
                Op::RemoteArchive {
                    local_id,
                    remote_id,
                    ..
                } => (local_id, Some(remote_id.clone()), BTreeMap::new(), false),
                _ => continue,
            };
            writes.push((
                RemoteWrite {
                    local_id: local_id.to_string(),
                    remote_id,
                    props,
                    set_external_id,
                },
                o,
            ));
        }
        if writes.is_empty() {
            return Ok(());
        }
        let entries: Vec<JournalEntry> = writes
            .iter()
            .map(|(w, _)| JournalEntry {
                run: self.run,
                connection: self.connection.to_string(),
                kind: object,
                op,
                local_id: RecordId(w.local_id.clone()),
                remote_id: w.remote_id.clone(),
                props: w.props.clone(),
                set_external_id: w.set_external_id,
                created_at: now,
            })
            .collect();
        let journal_ids = self.store.journal_add(&entries)?;
        let inputs: Vec<RemoteWrite> = writes.iter().map(|(w, _)| w.clone()).collect();
        let results: Vec<Result<Option<RemoteRecord>, crate::providers::RecordError>> = match op {
            WriteOp::Create => self
                .provider
                .create(object, &inputs)
                .await?
                .into_iter()
                .map(|r| r.map(Some))
                .collect(),
            WriteOp::Update => self
                .provider
                .update(object, &inputs)
                .await?
                .into_iter()
                .map(|r| r.map(Some))
                .collect(),
            WriteOp::Archive => {
                let ids: Vec<String> = inputs.iter().filter_map(|w| w.remote_id.clone()).collect();
                self.provider
                    .archive(object, &ids)
                    .await?
                    .into_iter()
                    .map(|r| r.map(|()| None))
                    .collect()
            }
        };
        maybe_die_after_write();
        let at = self.clock.now();
        // An update answered under another id was merged into that record by the CRM: who
        // holds a link to it already decides whether the link can follow.
        let merged = |w: &RemoteWrite, rec: &RemoteRecord| {
            op == WriteOp::Update && w.remote_id.as_deref() != Some(rec.id.as_str())
        };
        let merged_into: Vec<String> = writes
            .iter()
            .zip(&results)
            .filter_map(|((w, _), r)| match r {
                Ok(Some(rec)) if merged(w, rec) => Some(rec.id.clone()),
                _ => None,
            })
            .collect();
        let mut holders: HashMap<String, RecordId> = if merged_into.is_empty() {
            HashMap::new()
        } else {
            self.store
                .links_by_remote_ids(self.connection, object, &merged_into)?
                .into_iter()
                .map(|(rid, link)| (rid, link.local_id))
                .collect()
        };
        for (((w, planned), jid), result) in writes.iter().zip(journal_ids).zip(results) {
            match result {
                Ok(Some(rec)) if merged(w, &rec) => {
                    let local_id = RecordId(w.local_id.clone());
                    let from = w.remote_id.clone().unwrap_or_default();
                    match holders.get(&rec.id).filter(|h| **h != local_id) {
                        Some(other) => {
                            out.failed_writes.update += 1;
                            let message =
                                self.merged_message(object, &local_id, &from, &rec.id, other);
                            self.store.fail_write(
                                jid,
                                &WriteFailure {
                                    message,
                                    code: None,
                                    at,
                                },
                            )?;
                        }
                        None => {
                            holders.insert(rec.id.clone(), local_id.clone());
                            self.store.commit_write(
                                jid,
                                &WriteOutcome {
                                    remote_id: rec.id.clone(),
                                    base: answered_base(self.map, planned, &rec, ids),
                                    remote_updated_at: Some(rec.updated_at),
                                    at,
                                    record: None,
                                    retired: false,
                                },
                            )?;
                            after.moved.push(Moved {
                                local_id,
                                from,
                                into: rec.id,
                            });
                        }
                    }
                }
                Ok(answer) => {
                    let (remote_id, base, remote_updated_at) = match answer {
                        Some(rec) => {
                            let base = answered_base(self.map, planned, &rec, ids);
                            (rec.id.clone(), base, Some(rec.updated_at))
                        }
                        None => (
                            w.remote_id.clone().unwrap_or_default(),
                            planned.base().clone(),
                            None,
                        ),
                    };
                    self.store.commit_write(
                        jid,
                        &WriteOutcome {
                            remote_id,
                            base,
                            remote_updated_at,
                            at,
                            record: None,
                            retired: op == WriteOp::Archive,
                        },
                    )?;
                }
                Err(e) if op == WriteOp::Create && e.duplicate_of().is_some() => {
                    // Settled once the plan's writes are done (see `pair_duplicates`).
                    let remote_id = e.duplicate_of().map(str::to_string).unwrap_or_default();
                    after.refused.push(Refused {
                        journal: jid,
                        local_id: RecordId(w.local_id.clone()),
                        remote_id,
                        error: e,
                    });
                }
                Err(e) => {
                    out.failed_writes.add(op);
                    if !e.unknown_properties().is_empty() {
                        out.unknown_properties
                            .push((RecordId(w.local_id.clone()), op));
                    }
                    self.store.fail_write(
                        jid,
                        &WriteFailure {
                            message: e.message.clone(),
                            code: e.code.clone(),
                            at,
                        },
                    )?;
                }
            }
            self.reporter.advance(1);
        }
        Ok(())
    }

    /// The failure kept when the CRM answered an update of `from` with `into`, the record it
    /// merged `from` into, and `into` is linked to another local record, `other`.
    fn merged_message(
        &self,
        object: ObjectKind,
        local_id: &RecordId,
        from: &str,
        into: &str,
        other: &RecordId,
    ) -> String {
        let crm = self.provider.kind().display_name();
        format!(
            "{crm} merged {object} `{from}`, linked to local {object} `{local_id}`, into {crm} \
             {object} `{into}`, which is linked to local {object} `{other}`: the update went to \
             `{into}` (the next sync brings it into `{other}`), but `{local_id}` cannot follow \
             the merge while `{other}` is linked to it. The two local records are one {crm} \
             {object} now: merge them locally (keep what you want of `{local_id}` in `{other}`, \
             then archive `{local_id}`), then run `crmsync retry`"
        )
    }

    fn note_warnings(
        &self,
        object: ObjectKind,
        local_id: &RecordId,
        warnings: &[crate::mapping::FieldWarning],
        out: &mut ExecOutcome,
    ) {
        for w in warnings {
            out.warnings.push(format!(
                "{} {object} `{local_id}`: field `{}` not sent: {}",
                self.connection, w.field, w.message
            ));
        }
    }

    /// Settles journal entries left by an interrupted run: a create that reached the CRM is
    /// found by its external id and linked; anything else is dropped and planned again.
    pub async fn recover(
        &mut self,
        object: ObjectKind,
        writes: Vec<PendingWrite>,
    ) -> Result<(), StepError> {
        // Only the records' ids and versions are used (the base is what was sent), so no
        // mapped property is asked for: a reference such as a contact's company would cost
        // another read.
        let props = self.provider.read_properties(object, &[]);
        let creates: Vec<&PendingWrite> = writes
            .iter()
            .filter(|w| w.entry.op == WriteOp::Create)
            .collect();
        let mut found: HashMap<String, RemoteRecord> = HashMap::new();
        for chunk in creates.chunks(self.provider.batch_size().max(1)) {
            let local_ids: Vec<String> =
                chunk.iter().map(|w| w.entry.local_id.to_string()).collect();
            for rec in self
                .provider
                .find_by_external_id(object, &local_ids, &props)
                .await?
            {
                if let Some(ext) = rec.external_id.clone() {
                    found.insert(ext, rec);
                }
            }
        }
        let mut ids = IdCache::default();
        let records: Vec<RemoteRecord> = found.values().cloned().collect();
        ids.load_for_remote(self.store, self.connection, self.map, &records)?;
        let at = self.clock.now();
        for w in &writes {
            match found.get(w.entry.local_id.as_str()) {
                Some(rec) if w.entry.op == WriteOp::Create => {
                    // The base is what was sent (the journal keeps it), not what the CRM
                    // holds now: an edit made in the CRM since then is a remote change to
                    // pull, and a local edit made since is a local change to push. The link
                    // keeps the version found: a record read again at it is left out of the
                    // plan only when its values also equal the base (see
                    // `crate::engine::sync`), so such an edit is still pulled, while the
                    // record read back unchanged costs nothing more.
                    let sent = RemoteRecord {
                        id: rec.id.clone(),
                        props: w.entry.props.clone(),
                        ..RemoteRecord::default()
                    };
                    let inbound = self.map.from_remote(&sent, &ids);
                    self.store.commit_write(
                        w.id,
                        &WriteOutcome {
                            remote_id: rec.id.clone(),
                            base: inbound.fields,
                            remote_updated_at: Some(rec.updated_at),
                            at,
                            record: None,
                            retired: false,
                        },
                    )?;
                }
                // An update that also wrote the local id into the external-id field: its
                // fields are planned again, but the link it stamps was committed before it
                // was sent, so nothing would plan the stamp again. It is sent now.
                _ if w.entry.op == WriteOp::Update && w.entry.set_external_id => {}
                _ => self.store.journal_discard(w.id)?,
            }
        }
        self.stamp_external_ids(object, &writes).await
    }

    /// Writes the local id into the external-id field of the records whose journalled update
    /// was to do so (see [`Executor::recover`]); each entry is dropped once the CRM answered.
    /// A refusal is a warning: the link stands, and the fields are planned again as usual.
    async fn stamp_external_ids(
        &mut self,
        object: ObjectKind,
        writes: &[PendingWrite],
    ) -> Result<(), StepError> {
        let owed: Vec<&PendingWrite> = writes
            .iter()
            .filter(|w| w.entry.op == WriteOp::Update && w.entry.set_external_id)
            .collect();
        for chunk in owed.chunks(self.provider.batch_size().max(1)) {
            let inputs: Vec<RemoteWrite> = chunk
                .iter()
                .map(|w| RemoteWrite {
                    local_id: w.entry.local_id.to_string(),
                    remote_id: w.entry.remote_id.clone(),
                    props: BTreeMap::new(),
                    set_external_id: true,
                })
                .collect();
            let results = self.provider.update(object, &inputs).await?;
            for (w, result) in chunk.iter().zip(results) {
                if let Err(e) = result {
                    self.reporter.warn(format!(
                        "{}: could not write local id {} into the external-id field (crmsync_id) of {} {}: {}; the link stands",
                        self.connection,
                        w.entry.local_id,
                        object,
                        w.entry.remote_id.as_deref().unwrap_or("?"),
                        e.message
                    ));
                }
                self.store.journal_discard(w.id)?;
            }
        }
        Ok(())
    }
}

/// A record read from `connection` in canonical terms; each value that does not convert is
/// a warning in `warnings`, naming the record and the field. Its time is put on this
/// machine's clock: the CRM's, less `skew` ([`Provider::clock_skew`]), so that
/// `newest-wins` compares like with like.
pub(crate) fn remote_side(
    connection: &str,
    object: ObjectKind,
    map: &FieldMap,
    rec: &RemoteRecord,
    ids: &IdCache,
    skew: crate::model::Millis,
    warnings: &mut Vec<String>,
) -> RemoteSide {
    let inbound = map.from_remote(rec, ids);
    for w in &inbound.warnings {
        warnings.push(format!(
            "{connection} {object} `{}`: field `{}` (`{}` = `{}`): {}",
            rec.id, w.field, w.remote, w.value, w.message
        ));
    }
    let mut side = RemoteSide::from_inbound(&rec.id, inbound, rec.updated_at - skew, rec.archived);
    for at in side.field_updated_at.values_mut() {
        *at -= skew;
    }
    side
}

/// Whether a create left `field` empty.
fn fields_sent_empty(op: &Op, field: &str) -> bool {
    matches!(op, Op::RemoteCreate { fields, .. } if !fields.contains_key(field))
}

/// The base after a successful create or update: the planned base, with every field this op
/// wrote replaced by the value the CRM answered.
fn answered_base(map: &FieldMap, op: &Op, answer: &RemoteRecord, ids: &IdCache) -> Fields {
    let mut base = op.base().clone();
    let inbound = map.from_remote(answer, ids);
    let written: Vec<&str> = match op {
        Op::RemoteCreate { fields, .. } => {
            // Every pushed field, set or not (an absent one is absent in the CRM too).
            map.rules
                .iter()
                .filter(|r| r.direction.pushes())
                .map(|r| r.field.as_str())
                .filter(|f| fields.contains_key(*f) || base.contains_key(*f))
                .collect()
        }
        Op::RemoteUpdate { changes, .. } => changes.iter().map(|c| c.field.as_str()).collect(),
        _ => Vec::new(),
    };
    for field in written {
        let Some(rule) = map.rule(field) else {
            continue;
        };
        // A property the answer does not mention keeps the planned value (what was sent):
        // CRMs answer a write with a subset of the record's properties.
        if !answer.props.contains_key(&rule.remote)
            && (matches!(op, Op::RemoteUpdate { .. }) || !fields_sent_empty(op, field))
        {
            continue;
        }
        if inbound.unreadable.contains(field) {
            continue;
        }
        match inbound.fields.get(field) {
            Some(v) => {
                base.insert(field.to_string(), v.clone());
            }
            // An answered reference we cannot translate keeps the planned value.
            None if matches!(rule.ty, FieldType::Ref(_))
                && answer.props.contains_key(&rule.remote) => {}
            None => {
                base.remove(field);
            }
        }
    }
    base
}
