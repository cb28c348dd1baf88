//! The pull: the change feed since the cursor, page by page, planned against the local records,
//! gated, carried out, and the cursor stored after each page.

use std::collections::{HashMap, HashSet};

use crate::engine::StepError;
use crate::engine::execute::{self, IdCache};
use crate::engine::field_times;
use crate::engine::gates::{self, GateInput};
use crate::engine::plan::{
    self, MatchedBy, OpKind, Outcome, Plan, PlanInput, PlanItem, RemoteSide,
};
use crate::mapping::FieldMap;
use crate::model::{FieldType, Millis, ObjectKind, Record, RecordId};
use crate::providers::{ChangeQuery, Provider, RemoteRecord};
use crate::store::Link;

use super::report::{ObjectReport, add_follow_up, add_plan_counts, merge_plans};
use super::session::Session;

/// Leaves out of a change-feed page the linked records that `seen` finds already synced
/// (see [`seen_as_synced`]). Their changes (the echo of a write of crmsync's own, or a pull)
/// are in the link's base already, so planning them again would find nothing; a delta read
/// meets them again in its overlap. Leaving them out makes what a run does independent of
/// whether a record falls in the overlap, and spares the calls [`Provider::complete`] makes.
/// Archived records are always kept (an archive need not move the version), and so is every
/// record of a full read (`--full` re-reads on purpose, for example after a mapping change).
/// Returns how many it left out.
pub(super) fn leave_out_seen(
    records: &mut Vec<RemoteRecord>,
    links: &HashMap<String, Link>,
    seen: impl Fn(&RemoteRecord, &Link) -> bool,
) -> u64 {
    let before = records.len();
    records.retain(|r| r.archived || !links.get(&r.id).is_some_and(|l| !l.retired && seen(r, l)));
    (before - records.len()) as u64
}

/// Whether `link` keeps its local record `rec` from being paired with a new remote record
/// that has its match key: a live link does, and so does a retired one of an archived record.
/// A live record whose link was retired (its remote record archived, with `on_delete =
/// "ignore"`) is paired again, with the new record, instead of being copied beside it.
pub(super) fn holds(link: &Link, rec: &Record) -> bool {
    !link.retired || rec.archived_at.is_some()
}

/// Whether remote record `r` (as `side`, in canonical terms) holds nothing `link` has not
/// synced: every field the connection pulls equals the link's base. A version crmsync
/// recorded (from a read, or from a write's answer) is not enough on its own: a write's
/// answer may carry another writer's edit made between crmsync's read and its write, which
/// the base does not hold. Nor is it needed: the version moves with changes crmsync has
/// synced already (HubSpot stamps a contact again when crmsync sets its company after the
/// write), and equal values are equal. A reference field the page does not carry (a
/// contact's company that only [`Provider::complete`] reads) is unknown; then the record
/// counts as synced only at the very version recorded.
pub(super) fn seen_as_synced(
    map: &FieldMap,
    r: &RemoteRecord,
    side: &RemoteSide,
    base: &crate::model::Fields,
    link: &Link,
) -> bool {
    let mut unknown = false;
    for rule in map.rules.iter().filter(|rule| rule.direction.pulls()) {
        let f = rule.field.as_str();
        if matches!(rule.ty, FieldType::Ref(_)) && !r.props.contains_key(&rule.remote) {
            unknown = true;
            continue;
        }
        if side.unreadable.contains(f) {
            continue;
        }
        if !rule.same(
            side.fields.get(f).map(String::as_str),
            base.get(f).map(String::as_str),
        ) {
            return false;
        }
    }
    !unknown || link.remote_updated_at == Some(r.updated_at)
}

/// Whether a record of `records` was read without a mapped property (one the CRM's answer
/// would name, empty or not, if it still existed).
pub(super) fn has_absent_properties(map: &FieldMap, records: &[RemoteRecord]) -> bool {
    // An archived record (one erased in the CRM has nothing to name) asks nothing of it.
    records.iter().filter(|r| !r.archived).any(|r| {
        r.returned.as_ref().is_some_and(|named| {
            map.rules.iter().any(|rule| {
                rule.direction != crate::mapping::Direction::None
                    && !rule.remote.starts_with("associations.")
                    && !named.contains(&rule.remote)
            })
        })
    })
}

/// One change-feed page, planned.
/// Takes out of the pages waiting for the archive gate the local creates of records that
/// `records`, a later page of the same read about to be planned, brings again (moved by an
/// edit while the read went on), and the creates and links of records it shows merged into
/// another. Carried out after that page, they would make a second local record of one it
/// creates (a second link to one CRM record, which the store refuses, failing the run), or a
/// local record beside a merged-away contact's survivor, which it brings with the merged
/// values.
pub(super) fn give_way(
    deferred: &mut [PlannedPage],
    records: &[RemoteRecord],
    provider: &dyn Provider,
) {
    if deferred.is_empty() {
        return;
    }
    let again: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    let merged: HashSet<String> = records
        .iter()
        .filter(|r| !r.archived)
        .flat_map(|r| provider.merged_from(r))
        .collect();
    for page in deferred {
        page.plan.ops.retain(|op| {
            let id = op.remote_id().unwrap_or_default();
            match op {
                plan::Op::LocalCreate { .. } => !again.contains(id) && !merged.contains(id),
                plan::Op::Link { .. } => !merged.contains(id),
                _ => true,
            }
        });
    }
}

pub(super) struct PlannedPage {
    pub(super) plan: Plan,
    /// The local records of the page's linked items.
    pub(super) linked_ids: Vec<RecordId>,
    pub(super) ids: IdCache,
    /// The version of each remote record planned (see [`Executor::read_versions`]).
    pub(super) read_versions: HashMap<String, Millis>,
}

impl<'a> Session<'a> {
    /// Reads the change feed, plans against the local records, executes.
    ///
    /// `rep` is filled as pages are carried out, so that a read stopped part-way still says
    /// what it did.
    pub(super) async fn pull(
        &mut self,
        object: ObjectKind,
        rep: &mut ObjectReport,
    ) -> Result<Option<Plan>, StepError> {
        self.saved_read = None;
        // A run over records named by id (`listen`) has nothing to read of an object none of
        // its records is of.
        if let Some(by_id) = &self.opts.pull_ids
            && by_id.ids(&self.p.name, object).is_empty()
        {
            return Ok(None);
        }
        let mut map = self.field_map(object).await?;
        let mut props = self
            .p
            .provider
            .read_properties(object, &map.remote_properties());
        let since = if self.opts.full {
            None
        } else {
            self.store.remote_cursor(&self.p.name, object)?
        };
        // Records read by id are no read of everything: none missing means anything.
        let full_read = since.is_none() && !self.opts.reads_by_id();
        self.reporter.step(&self.p.name, object, "reading", None);
        let linked = self.store.count_live_links(&self.p.name, object)? as usize;
        let has_links = self.store.count_links(&self.p.name, object)? > 0;
        // Each page is planned and carried out as it arrives, so memory stays flat however
        // large the read. Pages whose plan archives anything wait until the read is complete:
        // the archive gate must see every archive before any is carried out.
        let mut deferred: Vec<PlannedPage> = Vec::new();
        let mut dry_plans: Vec<Plan> = Vec::new();
        let mut page = None;
        let mut checkpoint = None;
        // The catalogue is asked again at most once per read.
        let mut refreshed = false;
        let mut told_total = None;
        loop {
            let query = ChangeQuery {
                object,
                since: since.clone(),
                page: page.take(),
                has_links,
            };
            let got = self.read_page(&query, &props).await?;
            // A mapped property the answer leaves out no longer exists in the CRM: its field is
            // read as unchanged ([`FieldMap::from_remote`]), and the catalogue is asked again now
            // so that the field is left out of the run, with its warning.
            if !refreshed && has_absent_properties(&map, &got.records) {
                refreshed = true;
                self.stale_catalogue.insert(object);
                map = self.field_map(object).await?;
                props = self
                    .p
                    .provider
                    .read_properties(object, &map.remote_properties());
            }
            // A read whose size the CRM told (a Salesforce Bulk API job's count) is drawn
            // against it: the step is told again with each page (a page's writes are a step
            // of their own), with what was read before the page.
            if got.total.is_some() {
                told_total = got.total;
            }
            if told_total.is_some() {
                self.reporter
                    .step(&self.p.name, object, "reading", told_total);
                self.reporter.advance(rep.read);
            }
            self.reporter.advance(got.records.len() as u64);
            rep.read += got.records.len() as u64;
            let mut records = newest_per_id(got.records);
            self.keep_versions(object, &records);
            let links = self.page_links(object, &records)?;
            if !full_read {
                rep.unchanged += self.leave_out_unchanged(object, &map, &mut records, &links)?;
            }
            give_way(&mut deferred, &records, self.p.provider.as_ref());
            self.p
                .provider
                .complete(object, &mut records, &props)
                .await?;
            let planned = self.plan_page(object, &map, &records, &links).await?;
            // A deferred page is counted when it is carried out (or held back by the gate).
            if self.opts.dry_run || planned.plan.archives() == 0 {
                add_plan_counts(&mut rep.planned, &planned.plan.counts());
            }
            if self.opts.dry_run {
                let plan = &planned.plan;
                self.dry_pulled.extend(
                    plan.ops
                        .iter()
                        .filter_map(|op| op.local_id().cloned())
                        .chain(plan.conflicts.iter().map(|c| c.local_id.clone())),
                );
                dry_plans.push(planned.plan);
            } else if planned.plan.archives() > 0 {
                deferred.push(planned);
            } else if !planned.plan.ops.is_empty() || !planned.plan.conflicts.is_empty() {
                self.execute_pulled(&map, planned, rep).await?;
            }
            if got.checkpoint.is_some() {
                checkpoint = got.checkpoint;
            }
            // Progress is kept page by page, so that a run stopped part-way (a request
            // budget, a failure) is continued by the next one instead of read again from the
            // start: the provider's checkpoint covers this page and every one before it, all
            // committed unless a page waits for the archive gate.
            if deferred.is_empty() && self.save_cursor(object, checkpoint.as_deref())? {
                self.saved_read = Some(rep.read);
            }
            match got.next {
                Some(next) => page = Some(next),
                None => break,
            }
        }
        self.warn_skew();
        // What the read learned of the catalogue (read again by the provider itself, say).
        self.keep_catalogue(object)?;
        let pending: Vec<Plan> = if self.opts.dry_run {
            dry_plans
        } else {
            deferred.iter().map(|p| p.plan.clone()).collect()
        };
        let whole = merge_plans(&self.p.name, object, pending);
        let also_archiving = self.push_archives_besides(object, &whole)?;
        self.archives.insert(object, (linked, whole.archives()));
        let gate = gates::check(
            &GateInput {
                connection: self.p.name.clone(),
                object,
                full_read,
                remote_records: rep.read as usize,
                linked,
                also_archiving,
                max_archive_pct: self.config.sync.max_archive_pct,
            },
            &whole,
            self.opts.force,
        );
        if let Err(stop) = gate {
            self.gated = Some(stop);
            if !self.opts.dry_run {
                // With the push's archives that the gate counted: the connection stops here,
                // so they are not written either.
                let mut held = whole.counts();
                held.remote_archive += also_archiving;
                rep.not_written = Some(held);
            }
            return Ok(self.opts.dry_run.then_some(whole));
        }
        if self.opts.dry_run {
            return Ok(Some(whole));
        }
        for planned in deferred {
            add_plan_counts(&mut rep.planned, &planned.plan.counts());
            self.execute_pulled(&map, planned, rep).await?;
        }
        self.save_cursor(object, checkpoint.as_deref())?;
        Ok(None)
    }

    /// Keeps the remote version (its [`RemoteRecord::fingerprint`]) of each record read for plans (`--dry-run`, `--plan`) and
    /// for runs limited to some records (`apply` compares them with the plan's); a full run
    /// keeps none, so its memory does not grow with the read.
    fn keep_versions(&mut self, object: ObjectKind, records: &[RemoteRecord]) {
        if self.opts.dry_run || self.opts.only.is_some() {
            let versions = self.versions.entry(object).or_default();
            for r in records {
                versions.insert(r.id.clone(), r.fingerprint());
            }
        }
    }

    /// The links of a page's records by remote id, read once after any merge moved one (in a
    /// dry run, which stores no moved link, with the moved links as the run would plan
    /// against them), with the local records the CRM restored revived.
    pub(super) fn page_links(
        &mut self,
        object: ObjectKind,
        records: &[RemoteRecord],
    ) -> Result<HashMap<String, Link>, StepError> {
        let moved = self.follow_merges(object, records)?;
        // The page's links, read once (after any merge moved one) for both steps below.
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let mut links = self.store.links_by_remote_ids(&self.p.name, object, &ids)?;
        // A dry run stores no moved link, but plans as the run would: against it.
        if self.opts.dry_run {
            for l in moved {
                links.insert(l.remote_id.clone(), l);
            }
        }
        if !self.opts.dry_run {
            self.revive_restored(object, records, &mut links)?;
        }
        Ok(links)
    }

    /// Leaves out of a page read from the cursor the records already seen at the same
    /// version (the feed's overlap, the echoes of crmsync's own writes); returns how many.
    pub(super) fn leave_out_unchanged(
        &self,
        object: ObjectKind,
        map: &FieldMap,
        records: &mut Vec<RemoteRecord>,
        links: &HashMap<String, Link>,
    ) -> Result<u64, StepError> {
        let mut ids = IdCache::default();
        ids.load_for_remote(self.store, &self.p.name, map, records)?;
        let seen = |r: &RemoteRecord, link: &Link| {
            let side = execute::remote_side(&self.p.name, object, map, r, &ids, 0, &mut Vec::new());
            // In a dry run, without the bases a remapping sets aside, as the run would.
            let base = self.planned_link(object, link).base;
            seen_as_synced(map, r, &side, &base, link)
        };
        Ok(leave_out_seen(records, links, seen))
    }

    /// The archives the push will carry out that the pull's plan `whole` does not: the push's
    /// archives count with the pull's at the gate (a record archived on both counts once).
    pub(super) fn push_archives_besides(
        &self,
        object: ObjectKind,
        whole: &Plan,
    ) -> Result<usize, StepError> {
        let pulled_archives: HashSet<&RecordId> = whole
            .ops
            .iter()
            .filter(|o| matches!(o.kind(), OpKind::LocalArchive | OpKind::RemoteArchive))
            .filter_map(|o| o.local_id())
            .collect();
        Ok(self
            .push_archives(object)?
            .iter()
            .filter(|id| !pulled_archives.contains(id))
            .count())
    }

    /// Stores the change feed's cursor at `checkpoint`, unless this run writes nothing
    /// (a dry run) or is limited to some records (`apply`, `import --to`): such a run leaves
    /// the other records of the feed unread, and a cursor moved past them would skip them
    /// for good.
    /// Returns whether it stored one.
    pub(super) fn save_cursor(
        &mut self,
        object: ObjectKind,
        checkpoint: Option<&str>,
    ) -> Result<bool, StepError> {
        let Some(cp) = checkpoint else {
            return Ok(false);
        };
        if !self.opts.moves_cursors() {
            return Ok(false);
        }
        self.store
            .set_remote_cursor(&self.p.name, object, Some(cp))?;
        Ok(true)
    }

    /// Plans one page of the change feed against the local records (with per-field times for
    /// its `newest-wins` conflicts, see [`field_times`]).
    pub(super) async fn plan_page(
        &mut self,
        object: ObjectKind,
        map: &FieldMap,
        records: &[RemoteRecord],
        links: &HashMap<String, Link>,
    ) -> Result<PlannedPage, StepError> {
        let mut ids = IdCache::default();
        ids.load_for_remote(self.store, &self.p.name, map, records)?;
        let mut items = self.pull_items(object, map, records, links, &ids)?;
        if let Some(only) = &self.opts.only {
            let name = self.p.name.as_str();
            items.retain(|i| {
                i.local.as_ref().is_some_and(|l| only.has_local(&l.id))
                    || i.remote
                        .as_ref()
                        .is_some_and(|r| only.has_remote(name, &r.id))
            });
        }
        let linked_ids: Vec<RecordId> = items
            .iter()
            .filter(|i| i.link.as_ref().is_some_and(|l| !l.archived))
            .filter_map(|i| i.local.as_ref().map(|l| l.id.clone()))
            .collect();
        let input = PlanInput {
            connection: self.p.name.clone(),
            object,
            rules: map.rules.clone(),
            on_delete: self.p.config.on_delete,
            items,
        };
        let planned = plan::plan(&input);
        let mut plan = self.refine(input, planned).await?;
        self.limit_creates(&mut plan);
        Ok(PlannedPage {
            plan,
            linked_ids,
            ids,
            read_versions: records
                .iter()
                .map(|r| (r.id.clone(), r.updated_at))
                .collect(),
        })
    }

    /// [`field_times::refine`] for this connection; a failed history read is a warning, given
    /// once per connection and run.
    pub(super) async fn refine(
        &mut self,
        input: PlanInput,
        planned: Plan,
    ) -> Result<Plan, StepError> {
        let refined = field_times::refine(
            self.store,
            self.p.provider.as_ref(),
            &self.p.name,
            input,
            planned,
        )
        .await?;
        self.warn_history(refined.warning);
        Ok(refined.plan)
    }

    /// Carries out one pulled page's plan and settles the conflicts it met.
    pub(super) async fn execute_pulled(
        &mut self,
        map: &FieldMap,
        page: PlannedPage,
        rep: &mut ObjectReport,
    ) -> Result<(), StepError> {
        let PlannedPage {
            plan: planned,
            linked_ids,
            mut ids,
            read_versions,
        } = page;
        let planned = &planned;
        let mut executor = self.executor(map);
        executor.read_versions = read_versions;
        let outcome = executor.execute(planned, &mut ids).await?;
        let held = self.held_remote_values(planned.object, &linked_ids)?;
        self.settle_conflicts(planned, &held)?;
        add_follow_up(rep, &outcome);
        rep.failed += outcome.failed_writes.total();
        rep.failed_writes.add_all(&outcome.failed_writes);
        rep.decided_conflicts += outcome.decided;
        rep.held_conflicts += outcome.held;
        self.held.extend(
            planned
                .conflicts
                .iter()
                .filter(|c| c.outcome == Outcome::Held)
                .map(|c| (c.local_id.clone(), c.field.clone())),
        );
        for w in outcome.warnings {
            self.warn(w);
        }
        self.warn_history(outcome.history_warning);
        Ok(())
    }

    /// The plan items for records read from the change feed.
    pub(super) fn pull_items(
        &mut self,
        object: ObjectKind,
        map: &FieldMap,
        records: &[RemoteRecord],
        links: &HashMap<String, Link>,
        ids: &IdCache,
    ) -> Result<Vec<PlanItem>, StepError> {
        let mut sides: Vec<(RemoteSide, Option<String>)> = Vec::with_capacity(records.len());
        let skew = self.p.provider.clock_skew().unwrap_or(0);
        for r in records {
            let side =
                execute::remote_side(&self.p.name, object, map, r, ids, skew, &mut self.warnings);
            sides.push((side, r.external_id.clone()));
        }
        // Local records of linked pairs, and candidates for the unlinked ones.
        let mut want: Vec<RecordId> = sides
            .iter()
            .filter_map(|(s, _)| links.get(&s.id))
            .map(|l| l.local_id.clone())
            .collect();
        let ext: Vec<RecordId> = sides
            .iter()
            .filter(|(s, _)| !links.contains_key(&s.id))
            .filter_map(|(_, e)| e.as_deref().and_then(RecordId::parse))
            .collect();
        want.extend(ext.iter().cloned());
        let mut locals = self.store.get_records(&want)?;
        locals.retain(|_, r| r.kind == object);
        let already_linked = self.store.links_by_local_ids(&self.p.name, object, &ext)?;

        let keys = self.match_keys(object);
        let mut by_key: HashMap<(String, String), Record> = HashMap::new();
        for key in &keys {
            let values: Vec<String> = sides
                .iter()
                .filter(|(s, _)| !links.contains_key(&s.id))
                .filter_map(|(s, _)| s.fields.get(key).cloned())
                .collect();
            if values.is_empty() {
                continue;
            }
            for (value, rec) in self.store.find_by_field(object, key, &values)? {
                by_key.insert((key.clone(), value), rec);
            }
        }
        let candidate_ids: Vec<RecordId> = by_key.values().map(|r| r.id.clone()).collect();
        let candidates_linked =
            self.store
                .links_by_local_ids(&self.p.name, object, &candidate_ids)?;

        let by_content = self.content_match(
            object,
            map,
            sides
                .iter()
                .filter(|(s, _)| !links.contains_key(&s.id))
                .map(|(s, _)| s),
        )?;
        let mut claimed: HashSet<RecordId> = HashSet::new();
        let mut items = Vec::with_capacity(sides.len());
        for (side, external) in sides {
            if let Some(link) = links.get(&side.id) {
                items.push(PlanItem {
                    local: locals.get(&link.local_id).cloned(),
                    link: Some(self.planned_link(object, link)),
                    remote: Some(side),
                    matched_by: None,
                    may_create_remote: false,
                    ..PlanItem::default()
                });
                continue;
            }
            let mut matched: Option<(Record, MatchedBy)> = None;
            if let Some(id) = external.as_deref().and_then(RecordId::parse)
                && let Some(rec) = locals.get(&id)
                && !already_linked.contains_key(&id)
                && !claimed.contains(&id)
            {
                matched = Some((rec.clone(), MatchedBy::ExternalId));
            }
            if matched.is_none() {
                for key in &keys {
                    if let Some(value) = side.fields.get(key)
                        && let Some(rec) = by_key.get(&(key.clone(), value.clone()))
                        && !candidates_linked
                            .get(&rec.id)
                            .is_some_and(|l| holds(l, rec))
                        && !claimed.contains(&rec.id)
                    {
                        matched = Some((rec.clone(), MatchedBy::Key { field: key.clone() }));
                        break;
                    }
                }
            }
            if matched.is_none()
                && let Some(content) = &by_content
            {
                matched = content.find(&side, &claimed);
            }
            let (local, matched_by) = match matched {
                Some((rec, by)) => {
                    claimed.insert(rec.id.clone());
                    (Some(rec), Some(by))
                }
                None => (None, None),
            };
            items.push(PlanItem {
                local,
                link: None,
                remote: Some(side),
                matched_by,
                may_create_remote: false,
                ..PlanItem::default()
            });
        }
        Ok(items)
    }
}

/// A page's records, one per id: a page may hold a record twice (a query restarted at the
/// search cap), and the newest is kept. Across pages a repeat is planned again, which is
/// harmless.
pub(super) fn newest_per_id(read: Vec<RemoteRecord>) -> Vec<RemoteRecord> {
    let mut by_id: HashMap<String, RemoteRecord> = HashMap::new();
    for r in read {
        match by_id.get(&r.id) {
            Some(old) if old.updated_at > r.updated_at => {}
            _ => {
                by_id.insert(r.id.clone(), r);
            }
        }
    }
    let mut records: Vec<RemoteRecord> = by_id.into_values().collect();
    records.sort_by(|a, b| a.id.cmp(&b.id));
    records
}
