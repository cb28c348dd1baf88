//! The push: the local changes since the connection's local cursor, planned against the links'
//! bases (and held conflicts' remote values), gated and carried out.

use std::collections::{HashMap, HashSet};

use crate::engine::StepError;
use crate::engine::execute::{ExecOutcome, IdCache};
use crate::engine::gates::{self, GateInput};
use crate::engine::plan::{self, Outcome, Plan, PlanInput, PlanItem};
use crate::mapping::{OnDelete, Rule};
use crate::model::{ObjectKind, Record, RecordId};
use crate::store::{Link, WriteOp};

use super::conflicts::{HeldField, held_remote_side};
use super::report::{ObjectReport, add_follow_up, add_plan_counts, merge_plans};
use super::session::Session;

impl<'a> Session<'a> {
    /// How many local records of `object` changed since the connection's last push (within
    /// the run's records).
    pub(super) fn local_changes(&self, object: ObjectKind) -> Result<u64, StepError> {
        let cursor = self.store.local_cursor(&self.p.name, object)?;
        let Some(only) = self.opts.only.as_ref() else {
            return Ok(self.store.count_changed_since(object, cursor)?);
        };
        let mut n = 0;
        let mut after = cursor;
        loop {
            let changed = self.store.records_changed_since(object, after, 5_000)?;
            let Some(&(last, _)) = changed.last() else {
                return Ok(n);
            };
            after = last;
            n += changed
                .iter()
                .filter(|(_, r)| only.has_local(&r.id))
                .count() as u64;
        }
    }

    /// The local records whose archive this run's push to the connection carries over: the
    /// archived ones changed since its local cursor whose link is still live (none with
    /// `on_delete = ignore`), within the run's records.
    pub(super) fn push_archives(&self, object: ObjectKind) -> Result<Vec<RecordId>, StepError> {
        if self.p.config.on_delete != OnDelete::Archive {
            return Ok(Vec::new());
        }
        let cursor = self.store.local_cursor(&self.p.name, object)?;
        let top = self.store.max_seq()?;
        let mut ids = self
            .store
            .archived_with_live_links(&self.p.name, object, cursor, top)?;
        ids.retain(|id| {
            !self.dry_pulled.contains(id)
                && self
                    .opts
                    .only
                    .as_ref()
                    .is_none_or(|only| only.has_local(id))
        });
        Ok(ids)
    }

    pub(super) fn match_keys(&self, object: ObjectKind) -> Vec<String> {
        crate::connection::match_keys(self.config, Some(&self.p.config), object)
    }

    /// Plans and executes the local changes since this connection's local cursor.
    pub(super) async fn push(
        &mut self,
        object: ObjectKind,
    ) -> Result<(ObjectReport, Option<Plan>), StepError> {
        let mut map = self.field_map(object).await?;
        let create_when = self
            .p
            .config
            .create_rule(&self.p.name, object)
            .map_err(|e| {
                StepError::Other(format!("`connections.{}.create_when`: {e}", self.p.name))
            })?;
        // Companies of the contacts this run creates, created with them (`referenced.rs`).
        let with_contacts = match object {
            ObjectKind::Company => self.companies_of_new_contacts()?,
            _ => HashSet::new(),
        };
        let cursor = self.store.local_cursor(&self.p.name, object)?;
        let top = self.store.max_seq()?;
        self.push_gate(object)?;
        let mut rep = ObjectReport {
            object: Some(object),
            ..ObjectReport::default()
        };
        let mut plans = Vec::new();
        let mut after = cursor;
        const CHUNK: usize = 5_000;
        // Records of held conflicts that the current configuration decides, activities whose
        // contact is now linked, and companies of the contacts this run creates: planned after
        // the local changes (unless among them), without a change of their own.
        let mut undecided = self.review_open_conflicts(object)?;
        // Activities left out while their contact or company was not in the CRM go once it is
        // (see [`super::activities`]), with no change of their own.
        if object == ObjectKind::Activity {
            undecided.extend(
                self.store
                    .unlinked_anchored_activities(&self.p.name, cursor)?,
            );
        }
        if object == ObjectKind::Deal {
            undecided.extend(self.store.unlinked_anchored_deals(&self.p.name, cursor)?);
        }
        undecided.extend(with_contacts.iter().cloned());
        // Records named by `sync --record` are pushed whether or not they changed since the
        // last push.
        if self.opts.by_id
            && let Some(only) = &self.opts.only
        {
            undecided.extend(only.local.iter().cloned());
        }
        let mut changes_done = false;
        loop {
            let mut records: Vec<Record> = if !changes_done {
                let changed = self.store.records_changed_since(object, after, CHUNK)?;
                let Some(&(last, _)) = changed.last() else {
                    changes_done = true;
                    continue;
                };
                after = last;
                changes_done = last >= top;
                let records: Vec<Record> = changed
                    .into_iter()
                    .filter(|(seq, _)| *seq <= top)
                    .map(|(_, r)| r)
                    .collect();
                records
            } else if !undecided.is_empty() {
                let ids: Vec<RecordId> = std::mem::take(&mut undecided).into_iter().collect();
                let mut records: Vec<Record> = self
                    .store
                    .get_records(&ids)?
                    .into_values()
                    .filter(|r| r.kind == object)
                    .collect();
                records.sort_by(|a, b| a.id.cmp(&b.id));
                records
            } else {
                break;
            };
            records.retain(|r| {
                self.opts
                    .only
                    .as_ref()
                    .is_none_or(|only| only.has_local(&r.id))
            });
            for r in &records {
                undecided.remove(&r.id);
            }
            records.retain(|r| !self.dry_pulled.contains(&r.id));
            // Once more for the records the CRM refused for naming properties it no longer
            // has: with the catalogue asked again, they are written without them.
            let mut again_for_properties = false;
            loop {
                let local_ids: Vec<RecordId> = records.iter().map(|r| r.id.clone()).collect();
                let links = self
                    .store
                    .links_by_local_ids(&self.p.name, object, &local_ids)?;
                let mut held = self.held_remote_values(object, &local_ids)?;
                held.retain(|id, _| links.get(id).is_some_and(|l| !l.retired));
                let unanchored = self.unanchored(object, &records)?;
                let creates = Creates {
                    rule: create_when.as_ref(),
                    also: &with_contacts,
                };
                let mut items = self.push_items(object, records, &links, &held, creates);
                for item in &mut items {
                    if item
                        .local
                        .as_ref()
                        .is_some_and(|r| unanchored.contains(&r.id))
                    {
                        item.may_create_remote = false;
                    }
                }
                let input = PlanInput {
                    connection: self.p.name.clone(),
                    object,
                    rules: map.rules.clone(),
                    on_delete: self.p.config.on_delete,
                    items,
                };
                let planned = plan::plan(&input);
                let mut planned = self.refine(input, planned).await?;
                self.limit_creates(&mut planned);
                if !again_for_properties {
                    add_plan_counts(&mut rep.planned, &planned.counts());
                }
                if self.opts.dry_run {
                    plans.push(planned);
                    break;
                }
                let mut refused = Vec::new();
                if !planned.is_empty() || !planned.conflicts.is_empty() {
                    let mut ids = IdCache::default();
                    let mut outcome = self.executor(&map).execute(&planned, &mut ids).await?;
                    refused = std::mem::take(&mut outcome.unknown_properties);
                    self.count_executed(&mut rep, &planned, outcome);
                }
                self.settle_conflicts(&planned, &held)?;
                if refused.is_empty() || again_for_properties {
                    break;
                }
                again_for_properties = true;
                uncount_refused(&mut rep, &refused);
                self.stale_catalogue.insert(object);
                map = self.field_map(object).await?;
                let ids: Vec<RecordId> = refused.into_iter().map(|(id, _)| id).collect();
                // A record with nothing left to write is settled; one that fails again gets
                // its failure back.
                for id in &ids {
                    self.store.clear_failure(&self.p.name, object, id)?;
                }
                records = self.store.get_records(&ids)?.into_values().collect();
            }
        }
        if self.opts.moves_cursors() && top > cursor {
            self.store.set_local_cursor(&self.p.name, object, top)?;
        }
        let plan = (!plans.is_empty()).then(|| merge_plans(&self.p.name, object, plans));
        Ok((rep, plan))
    }

    /// The archive gate of a push, for every chunk at once and with the pull's archives,
    /// before any is written: a large run cannot pass it chunk by chunk, nor pull and push
    /// apart.
    fn push_gate(&self, object: ObjectKind) -> Result<(), StepError> {
        let (linked, pulled_archives) = match self.archives.get(&object) {
            Some(&tally) => tally,
            None => (
                self.store.count_live_links(&self.p.name, object)? as usize,
                0,
            ),
        };
        gates::check(
            &GateInput {
                connection: self.p.name.clone(),
                object,
                full_read: false,
                remote_records: 0,
                linked,
                also_archiving: pulled_archives + self.push_archives(object)?.len(),
                max_archive_pct: self.config.sync.max_archive_pct,
            },
            &Plan::empty(&self.p.name, object),
            self.opts.force,
        )?;
        Ok(())
    }

    /// The plan items of pushed local records: each with its link (none when the record is
    /// to be created in the CRM again) and, for a field a `manual` conflict holds, the
    /// conflict's remote value as its remote side.
    fn push_items(
        &self,
        object: ObjectKind,
        records: Vec<Record>,
        links: &HashMap<RecordId, Link>,
        held: &HashMap<RecordId, Vec<HeldField>>,
        creates: Creates<'_>,
    ) -> Vec<PlanItem> {
        let on_delete = self.p.config.on_delete;
        let skew = self.p.provider.clock_skew().unwrap_or(0);
        records
            .into_iter()
            .map(|r| {
                let mut link = links.get(&r.id).map(|l| self.planned_link(object, l));
                // Restored here after an archive carried over: the CRM's record stays
                // archived (HubSpot's API cannot restore one), so it is created there
                // again, as it was synced before whatever the create rule says.
                let recreate = on_delete == OnDelete::Archive
                    && r.archived_at.is_none()
                    && link.as_ref().is_some_and(|l| l.archived);
                if recreate {
                    link = None;
                }
                let may_create_remote = recreate || link.is_none() && creates.admit(&r);
                let remote = link
                    .as_ref()
                    .zip(held.get(&r.id))
                    .map(|(l, values)| held_remote_side(l, values, skew));
                PlanItem {
                    local: Some(r),
                    link,
                    remote,
                    matched_by: None,
                    may_create_remote,
                    ..PlanItem::default()
                }
            })
            .collect()
    }

    /// Adds what executing a push's plan did to the object's report.
    fn count_executed(&mut self, rep: &mut ObjectReport, planned: &Plan, outcome: ExecOutcome) {
        // A field held in this run's pull is held again here (see
        // `held_remote_values`); it is one conflict, not two.
        let again = planned
            .conflicts
            .iter()
            .filter(|c| {
                c.outcome == Outcome::Held
                    && self.held.contains(&(c.local_id.clone(), c.field.clone()))
            })
            .count() as u64;
        add_follow_up(rep, &outcome);
        rep.failed += outcome.failed_writes.total();
        rep.failed_writes.add_all(&outcome.failed_writes);
        rep.decided_conflicts += outcome.decided;
        rep.held_conflicts += outcome.held.saturating_sub(again);
        rep.planned.conflicts = rep.planned.conflicts.saturating_sub(again as usize);
        rep.planned.held = rep.planned.held.saturating_sub(again as usize);
        for w in outcome.warnings {
            self.warn(w);
        }
        self.warn_history(outcome.history_warning);
    }
}

/// Which unlinked local records a push creates in the CRM: those its `create_when` rule
/// admits (all without one), and those created with the records that point at them.
#[derive(Clone, Copy)]
struct Creates<'a> {
    rule: Option<&'a Rule>,
    also: &'a HashSet<RecordId>,
}

impl Creates<'_> {
    fn admit(&self, r: &Record) -> bool {
        self.also.contains(&r.id) || self.rule.is_none_or(|rule| rule.eval(&r.fields))
    }
}

/// Takes back the failures of the writes refused for naming properties the CRM no longer
/// has: the second write counts them again, failed or not.
fn uncount_refused(rep: &mut ObjectReport, refused: &[(RecordId, WriteOp)]) {
    for (_, op) in refused {
        rep.failed = rep.failed.saturating_sub(1);
        let kind = match op {
            WriteOp::Create => &mut rep.failed_writes.create,
            WriteOp::Update => &mut rep.failed_writes.update,
            WriteOp::Archive => &mut rep.failed_writes.archive,
        };
        *kind = kind.saturating_sub(1);
    }
}
