//! The follow-up after a plan's writes: creates refused as duplicates of a CRM's record are paired
//! with that record, and records the CRM merged into others are planned again with the moved link
//! (see the parent module).

use std::collections::HashMap;

use crate::engine::field_times;
use crate::engine::plan::{self, MatchedBy, Op, Plan, PlanInput, PlanItem, RemoteSide, SkipReason};
use crate::engine::{StepError, link_state};
use crate::model::{ObjectKind, RecordId};
use crate::providers::RemoteRecord;
use crate::store::WriteFailure;

use super::Executor;
use super::ids::IdCache;
use super::outcome::{ExecOutcome, Moved, Refused};
use super::remote::remote_side;

impl Executor<'_> {
    /// Reads the records the CRM named in `refused` and plans each refused local record with
    /// the one it duplicates, as a new pair (see the module docs). Refusals that cannot be
    /// paired are stored as failures here. Returns the plan and, per local record it links,
    /// the journalled create the link settles.
    pub(super) async fn pair_duplicates(
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
    pub(super) async fn follow_merges(
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
    pub(super) async fn read_remote(
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
    pub(super) fn remote_side(
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
    pub(super) async fn plan_items(
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
    pub(super) fn keep_refused(
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
                code: r.error.failure_code(),
                at: self.clock.now(),
                permanent: r.error.permanent_reason(),
            },
        )?;
        Ok(())
    }
}
