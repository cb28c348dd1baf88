//! A sync run: recover, pull from every connection, push to every connection.
//!
//! ```text
//! for each connection: recover its journal (creates found by crmsync_id are linked)
//! for each connection, object (companies before contacts):
//!     read the change feed since the cursor → map to canonical → match unlinked records
//!     → plan (with the current local records) → gates → execute → store the cursor
//! for each connection, object:
//!     local changes since the connection's local cursor → plan → gates → execute
//!     (creates refused as duplicates: read the CRM's records by id → link and merge)
//!     → store the local cursor
//! ```
//!
//! Pulling from every connection before pushing to any is what carries a change made in one
//! CRM to the others in the same run. Cursors only move after everything they cover is
//! committed (the change feed's page by page, so a run stopped part-way keeps what it read),
//! so a run stopped at any point is resumed by the next one: journalled creates are looked up
//! by their `crmsync_id`, journalled updates and archives are planned again (a write that did
//! land shows up as "both sides changed to the same value"). A run limited to some records
//! (`apply`, `import --to`) moves no cursor: the records it left out are still to be read.
//!
//! Held conflicts follow the configuration: the push also plans the records of those whose
//! field is no longer `manual` two-way (decided now), and those whose field or connection is
//! no longer synced are closed.
//!
//! A field held by a `manual` conflict stays held until both sides agree on it: the push,
//! which does not read the CRM again, plans such a record with the conflict's remote value
//! in place of the base, so the local side is never pushed over it; once a plan no longer
//! finds the two sides different (a user took one side's value, on either side), the open
//! conflict is marked resolved (`agreed`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::config::Config;
use crate::engine::accounts::{self, AccountStop};
use crate::engine::execute::{self, ExecOutcome, Executor, IdCache};
use crate::engine::field_times;
use crate::engine::gates::{self, GateInput, GateStop};
use crate::engine::link_state;
use crate::engine::plan::{
    self, LinkState, MatchedBy, OpKind, Outcome, Plan, PlanCounts, PlanInput, PlanItem, RemoteSide,
};
pub use crate::engine::{Participant, Quiet, StepError, SyncReporter};
use crate::mapping::{ConflictPolicy, Direction, FieldMap, OnDelete};
use crate::model::{FieldType, Millis, ObjectKind, Record, RecordId};
use crate::providers::{ChangeQuery, Provider, ProviderError, RemoteRecord};
use crate::store::{ConflictFilter, Link, RunOutcome, Store, StoreError, WriteOp, WriteOrigin};

/// What a sync run does.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Only these objects (empty: every object each connection syncs).
    pub objects: Vec<ObjectKind>,
    /// Read everything instead of the change feed since the cursor.
    pub full: bool,
    /// Plan only; nothing is written and no cursor moves.
    pub dry_run: bool,
    /// Go past the safety gates.
    pub force: bool,
    /// Only these records (`import --to`, `apply`); `None` means every record.
    pub only: Option<Only>,
}

/// A subset of records a run is limited to.
#[derive(Debug, Clone, Default)]
pub struct Only {
    pub local: HashSet<RecordId>,
    /// Connection → remote ids.
    pub remote: HashMap<String, HashSet<String>>,
}

impl Only {
    /// Just these local records.
    pub fn records(ids: HashSet<RecordId>) -> Only {
        Only {
            local: ids,
            remote: HashMap::new(),
        }
    }

    fn has_local(&self, id: &RecordId) -> bool {
        self.local.contains(id)
    }

    fn has_remote(&self, connection: &str, id: &str) -> bool {
        self.remote.get(connection).is_some_and(|s| s.contains(id))
    }
}

/// What happened to one object of one connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ObjectReport {
    pub object: Option<ObjectKind>,
    /// Remote records read from the change feed.
    pub read: u64,
    /// Of those, records already seen at the same version (the change feed's overlap, the
    /// echoes of crmsync's own writes), left out of the plan.
    #[serde(default)]
    pub unchanged: u64,
    /// Local records considered because they changed since the last push.
    pub local_changes: u64,
    /// Ops planned (and, unless dry run, carried out or failed). A create the CRM refused as
    /// a duplicate of a record it has, linked to that record instead, counts as a link, with
    /// the updates that merged the two.
    pub planned: PlanCounts,
    /// Writes the CRM refused (kept as failures for `crmsync retry`).
    pub failed: u64,
    /// Those writes by kind: `planned` less these is what was written to the CRM.
    #[serde(default)]
    pub failed_writes: crate::engine::execute::FailedWrites,
    /// Conflicts decided by a policy.
    pub decided_conflicts: u64,
    /// Conflicts held for `crmsync conflicts resolve`.
    pub held_conflicts: u64,
    /// What the run planned but did not write because a safety gate stopped it (not
    /// counted in `planned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_written: Option<PlanCounts>,
}

/// What happened to one connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConnectionReport {
    pub connection: String,
    pub objects: Vec<ObjectReport>,
    /// Journalled writes of an earlier, interrupted run that were settled first.
    pub recovered: u64,
    /// The safety gate that stopped this connection, if any.
    pub stopped_by: Option<GateStop>,
    /// The error that stopped this connection, if any.
    pub error: Option<String>,
    /// Why the connection was stopped before writing anything because the CRM account it
    /// reaches does not fit the state file (its message is also `error`).
    #[serde(default)]
    pub account_stop: Option<AccountStop>,
    /// The id of the CRM account the connection reached in this run (for a saved plan).
    #[serde(skip)]
    pub account: Option<String>,
    /// The CRM error behind `error`, when there is one, so the command line can say what
    /// to do about it (sign in again, raise the request budget…).
    #[serde(skip)]
    pub provider_error: Option<Arc<ProviderError>>,
    /// Requests sent to the CRM.
    pub requests: u64,
    pub warnings: Vec<String>,
    /// After the run: conflicts of this connection still waiting for a person (from this
    /// run or an earlier one).
    #[serde(default)]
    pub open_conflicts: u64,
    /// After the run: records whose last write to this connection failed (from this run or
    /// an earlier one), waiting for `crmsync retry`.
    #[serde(default)]
    pub failed_records: u64,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncReport {
    pub run: Option<i64>,
    pub dry_run: bool,
    pub connections: Vec<ConnectionReport>,
    /// The plans (with `--dry-run` and `--plan`), in run order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<Plan>,
    /// The local change number of each local record the plans touch (with `--dry-run` and
    /// `--plan`), or, in a run limited to some records, of those records before it wrote
    /// anything (for `crmsync apply`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub local_versions: BTreeMap<RecordId, i64>,
    /// The state file's identity ([`Store::state_id`]).
    #[serde(skip)]
    pub state_id: Option<String>,
    /// What the run says that concerns no connection of it (conflicts of a connection no
    /// longer configured, closed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The remote version of each record the plans touch: connection → object → remote id →
    /// `updated_at` (for `crmsync apply`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub remote_versions: BTreeMap<String, BTreeMap<ObjectKind, BTreeMap<String, i64>>>,
}

impl SyncReport {
    pub fn failed(&self) -> u64 {
        self.connections
            .iter()
            .flat_map(|c| &c.objects)
            .map(|o| o.failed)
            .sum()
    }
    pub fn held(&self) -> u64 {
        self.connections
            .iter()
            .flat_map(|c| &c.objects)
            .map(|o| o.held_conflicts)
            .sum()
    }
    /// Conflicts and failed records still waiting after the run, over every connection.
    pub fn waiting(&self) -> (u64, u64) {
        self.connections.iter().fold((0, 0), |(c, f), r| {
            (c + r.open_conflicts, f + r.failed_records)
        })
    }

    pub fn gated(&self) -> bool {
        self.connections.iter().any(|c| c.stopped_by.is_some())
    }
    pub fn errored(&self) -> bool {
        self.connections.iter().any(|c| c.error.is_some())
    }
    /// A connection was stopped because the account it reaches does not fit the state file.
    pub fn account_stopped(&self) -> bool {
        self.connections.iter().any(|c| c.account_stop.is_some())
    }
}

/// Runs one sync over `participants`. The caller holds the run lock.
pub async fn run(
    store: &mut Store,
    config: &Config,
    participants: &[Participant],
    opts: &SyncOptions,
    clock: Arc<dyn Clock>,
    reporter: &dyn SyncReporter,
) -> Result<SyncReport, StoreError> {
    let names: Vec<String> = participants.iter().map(|p| p.name.clone()).collect();
    let mut report = SyncReport {
        dry_run: opts.dry_run,
        ..SyncReport::default()
    };
    if !opts.dry_run {
        report.run = Some(store.begin_run("sync", &names, clock.now())?);
    }
    let run_id = report.run.unwrap_or(0);
    report.state_id = store.state_id()?;
    if let Some(only) = &opts.only {
        report.local_versions = local_versions(store, only.local.iter())?;
    }
    if !opts.dry_run {
        report.warnings = close_orphan_conflicts(store, config, clock.now())?;
    }
    let mut conn_reports: Vec<ConnectionReport> = participants
        .iter()
        .map(|p| ConnectionReport {
            connection: p.name.clone(),
            ..ConnectionReport::default()
        })
        .collect();

    // Fields held in each connection's pull, so the push does not count them again.
    let mut held: Vec<HashSet<(RecordId, String)>> = vec![HashSet::new(); participants.len()];
    // Whether a failed history read of each connection was already warned of in this run.
    let mut history_warned = vec![false; participants.len()];
    let mut dry_pulled: Vec<HashSet<RecordId>> = vec![HashSet::new(); participants.len()];
    let mut claims = accounts::Claims::default();
    let mut tallies: Vec<ArchiveTally> = vec![ArchiveTally::new(); participants.len()];

    // Phase 0 and 1: recover, then pull from every connection.
    for (((((p, rep), held), warned), pulled), tally) in participants
        .iter()
        .zip(conn_reports.iter_mut())
        .zip(held.iter_mut())
        .zip(history_warned.iter_mut())
        .zip(dry_pulled.iter_mut())
        .zip(tallies.iter_mut())
    {
        // Before anything is recovered, read or written: the account the links belong to.
        match accounts::check(store, config, p, opts.dry_run, &mut claims).await {
            Ok((account, note)) => {
                rep.account = Some(account);
                rep.warnings.extend(note);
            }
            Err(e) => {
                stop(rep, e)?;
                continue;
            }
        }
        let mut sess = Session::new(store, config, p, opts, clock.clone(), reporter, run_id);
        let result = async {
            if !opts.dry_run {
                rep.recovered = sess.recover().await?;
            }
            for object in sess.objects() {
                let mut obj_report = ObjectReport {
                    object: Some(object),
                    ..ObjectReport::default()
                };
                // Counted before the pull writes anything: its own writes are not local
                // changes, so a run and its dry run count the same.
                obj_report.local_changes = sess.local_changes(object)?;
                let pulled = sess.pull(object, &mut obj_report).await;
                if pulled.is_err() {
                    sess.warn_progress(object);
                }
                rep.objects.push(obj_report);
                if let Some(plan) = pulled? {
                    report.plans.push(plan);
                }
                if let Some(stop) = sess.gated.take() {
                    return Err(StepError::Gate(stop));
                }
            }
            Ok::<_, StepError>(())
        }
        .await;
        add_warnings(rep, &mut sess.warnings);
        *held = std::mem::take(&mut sess.held);
        *warned = sess.history_warned;
        *pulled = std::mem::take(&mut sess.dry_pulled);
        *tally = std::mem::take(&mut sess.archives);
        merge_versions(&mut report.remote_versions, &p.name, sess.versions);
        if let Err(e) = result {
            stop(rep, e)?;
        }
    }
    // Phase 2: push local changes to every connection that is still going.
    for (((((p, rep), held), warned), pulled), tally) in participants
        .iter()
        .zip(conn_reports.iter_mut())
        .zip(held.iter_mut())
        .zip(&history_warned)
        .zip(dry_pulled.iter_mut())
        .zip(tallies.iter_mut())
    {
        if rep.error.is_some() || rep.stopped_by.is_some() {
            continue;
        }
        let mut sess = Session::new(store, config, p, opts, clock.clone(), reporter, run_id);
        sess.archives = std::mem::take(tally);
        sess.held = std::mem::take(held);
        sess.history_warned = *warned;
        sess.dry_pulled = std::mem::take(pulled);
        let result = async {
            for object in sess.objects() {
                let (obj_report, plan) = sess.push(object).await?;
                if let Some(existing) = rep.objects.iter_mut().find(|o| o.object == Some(object)) {
                    add_counts(existing, &obj_report);
                } else {
                    rep.objects.push(obj_report);
                }
                // One plan per connection and object: the push's joins the pull's.
                if let Some(plan) = plan {
                    match report
                        .plans
                        .iter_mut()
                        .find(|q| q.connection == plan.connection && q.object == plan.object)
                    {
                        Some(pulled) => {
                            let pull = std::mem::replace(pulled, Plan::empty(&p.name, object));
                            *pulled = merge_plans(&p.name, object, vec![pull, plan]);
                        }
                        None => report.plans.push(plan),
                    }
                }
            }
            Ok::<_, StepError>(())
        }
        .await;
        add_warnings(rep, &mut sess.warnings);
        if let Err(e) = result {
            stop(rep, e)?;
        }
    }
    // What waits (exit code 3): of the whole connection, or, for a run limited to some
    // records (`apply`, `import --to`), of those records only.
    let in_scope = |name: &str, local: &RecordId, remote: Option<&str>| {
        opts.only.as_ref().is_none_or(|only| {
            only.has_local(local) || remote.is_some_and(|r| only.has_remote(name, r))
        })
    };
    for (p, rep) in participants.iter().zip(conn_reports.iter_mut()) {
        rep.requests = p.provider.requests_sent();
        rep.open_conflicts = store
            .list_open_conflicts(&crate::store::ConflictFilter {
                connection: Some(p.name.clone()),
                ..Default::default()
            })?
            .iter()
            .filter(|c| in_scope(&p.name, &c.local_id, None))
            .count() as u64;
        rep.failed_records = store
            .list_failures(Some(&p.name))?
            .iter()
            .filter(|f| in_scope(&p.name, &f.local_id, f.remote_id.as_deref()))
            .count() as u64;
    }
    report.connections = conn_reports;
    if opts.dry_run {
        let ids = report.plans.iter().flat_map(|p| {
            p.ops
                .iter()
                .filter_map(|op| op.local_id())
                .chain(p.conflicts.iter().map(|c| &c.local_id))
        });
        report.local_versions = local_versions(store, ids)?;
    }
    if let Some(run) = report.run {
        let outcome = if report.errored() {
            RunOutcome::Failed
        } else if report.gated() {
            RunOutcome::Stopped
        } else if report.failed() > 0 || report.held() > 0 {
            RunOutcome::Partial
        } else {
            RunOutcome::Ok
        };
        let error = report
            .connections
            .iter()
            .filter_map(|c| {
                c.error
                    .as_ref()
                    .map(|e| {
                        // Most errors name their connection already.
                        if e.contains(&format!("connection `{}`", c.connection)) {
                            e.clone()
                        } else {
                            format!("{}: {e}", c.connection)
                        }
                    })
                    .or_else(|| c.stopped_by.as_ref().map(|g| g.to_string()))
            })
            .collect::<Vec<_>>()
            .join("; ");
        let counts = serde_json::to_value(&report.connections).unwrap_or_default();
        store.finish_run(
            run,
            outcome,
            &counts,
            (!error.is_empty()).then_some(error.as_str()),
            clock.now(),
        )?;
    }
    Ok(report)
}

/// The local change number of each of these records (those not in the store left out).
fn local_versions<'r>(
    store: &Store,
    ids: impl Iterator<Item = &'r RecordId>,
) -> Result<BTreeMap<RecordId, i64>, StoreError> {
    let mut out = BTreeMap::new();
    for id in ids {
        if !out.contains_key(id)
            && let Some(seq) = store.record_seq(id)?
        {
            out.insert(id.clone(), seq);
        }
    }
    Ok(out)
}

/// Closes the open conflicts of connections no longer configured (kept as resolved by
/// `connection-removed`, with the local value): nothing will ever decide them. Returns a
/// warning for each.
fn close_orphan_conflicts(
    store: &mut Store,
    config: &Config,
    now: Millis,
) -> Result<Vec<String>, StoreError> {
    let mut warnings = Vec::new();
    for c in store.list_open_conflicts(&ConflictFilter::default())? {
        if config.connections.contains_key(&c.connection) {
            continue;
        }
        store.resolve_conflict(c.id, c.local.as_deref(), "connection-removed", now)?;
        warnings.push(format!(
            "conflict {} on `{}` of {} `{}` is closed, as connection `{}` is no longer configured; the local value stays",
            c.id, c.field, c.kind, c.local_id, c.connection
        ));
    }
    Ok(warnings)
}

/// Adds a phase's warnings to the connection's, each once per run (the pull and the push
/// each meet a property the CRM no longer has, for example).
fn add_warnings(rep: &mut ConnectionReport, warnings: &mut Vec<String>) {
    for w in warnings.drain(..) {
        if !rep.warnings.contains(&w) {
            rep.warnings.push(w);
        }
    }
}

/// Records why a connection stopped; a store error stops the whole run.
fn stop(rep: &mut ConnectionReport, e: StepError) -> Result<(), StoreError> {
    match e {
        StepError::Gate(g) => rep.stopped_by = Some(g),
        StepError::Account(a) => {
            rep.error = Some(a.to_string());
            rep.account_stop = Some(a);
        }
        StepError::Store(s) => return Err(s),
        StepError::Provider(p) => {
            rep.error = Some(p.to_string());
            rep.provider_error = Some(Arc::new(p));
        }
        other => rep.error = Some(other.to_string()),
    }
    Ok(())
}

fn add_counts(into: &mut ObjectReport, from: &ObjectReport) {
    into.read += from.read;
    into.local_changes += from.local_changes;
    add_plan_counts(&mut into.planned, &from.planned);
    into.failed += from.failed;
    into.failed_writes.add_all(&from.failed_writes);
    into.decided_conflicts += from.decided_conflicts;
    into.held_conflicts += from.held_conflicts;
}

fn merge_versions(
    into: &mut BTreeMap<String, BTreeMap<ObjectKind, BTreeMap<String, i64>>>,
    connection: &str,
    versions: BTreeMap<ObjectKind, BTreeMap<String, i64>>,
) {
    if !versions.is_empty() {
        into.entry(connection.to_string())
            .or_default()
            .extend(versions);
    }
}

/// One connection's part of a run.
struct Session<'a> {
    store: &'a mut Store,
    config: &'a Config,
    p: &'a Participant,
    opts: &'a SyncOptions,
    clock: Arc<dyn Clock>,
    reporter: &'a dyn SyncReporter,
    run: i64,
    warnings: Vec<String>,
    versions: BTreeMap<ObjectKind, BTreeMap<String, i64>>,
    /// Fields of records held by a `manual` conflict in this run's pull.
    held: HashSet<(RecordId, String)>,
    /// A failed history read of this connection was warned of in this run (pull or push):
    /// one warning per connection, however many pages and objects fail.
    history_warned: bool,
    /// In a dry run, the local records its pull planned. The run itself would have settled
    /// them before its push (their links and bases stored), so the dry run's push leaves
    /// them out instead of planning their local changes a second time.
    dry_pulled: HashSet<RecordId>,
    /// In a dry run, the fields of each object whose bases the run would forget (see
    /// [`Session::forget_remapped`]).
    forgotten: HashSet<(ObjectKind, String)>,
    /// In the current pull, how many records had been read when the cursor was last
    /// stored (`None`: not stored yet).
    saved_read: Option<u64>,
    /// The safety gate an object's pull stopped at. The pull still returns its report (and a
    /// dry run its plan, which shows what the gate held back); the connection then stops.
    gated: Option<GateStop>,
    /// Per object, what the archive gate measures across the run's pull and push.
    archives: ArchiveTally,
    /// Objects whose field catalogue a read or a write showed stale (a mapped property the
    /// CRM no longer has): the next [`Session::field_map`] asks the CRM again, whatever the
    /// cached copy's age.
    stale_catalogue: HashSet<ObjectKind>,
}

/// Per object: the live links before the run, and the archives its pull planned (carried
/// out, or in a dry run shown), so that the push's gate counts them with its own.
type ArchiveTally = HashMap<ObjectKind, (usize, usize)>;

impl<'a> Session<'a> {
    fn new(
        store: &'a mut Store,
        config: &'a Config,
        p: &'a Participant,
        opts: &'a SyncOptions,
        clock: Arc<dyn Clock>,
        reporter: &'a dyn SyncReporter,
        run: i64,
    ) -> Self {
        Session {
            store,
            config,
            p,
            opts,
            clock,
            reporter,
            run,
            warnings: Vec::new(),
            versions: BTreeMap::new(),
            held: HashSet::new(),
            history_warned: false,
            dry_pulled: HashSet::new(),
            forgotten: HashSet::new(),
            saved_read: None,
            gated: None,
            archives: ArchiveTally::new(),
            stale_catalogue: HashSet::new(),
        }
    }

    /// The objects this connection syncs in this run, in dependency order.
    fn objects(&self) -> Vec<ObjectKind> {
        ObjectKind::ALL
            .into_iter()
            .filter(|o| self.p.provider.objects().contains(o))
            .filter(|o| self.p.config.objects.as_ref().is_none_or(|c| c.contains(o)))
            .filter(|o| self.opts.objects.is_empty() || self.opts.objects.contains(o))
            .collect()
    }

    fn resolve_map(&self, object: ObjectKind) -> Result<FieldMap, StepError> {
        FieldMap::resolve(
            self.config,
            &self.p.name,
            object,
            &self.p.provider.default_mappings(object),
        )
        .map_err(|e| StepError::Other(e.to_string()))
    }

    /// The field map for this run, without mapped properties the CRM does not have (each
    /// named once in a warning, with the command that creates it), and with the options of
    /// the mapped dropdowns ([`crate::mapping::FieldRule::options`]). The CRM's catalogue is
    /// asked at most once a day while every mapped property exists, and on every run while
    /// one is missing, so a no-op run of a healthy connection costs no extra request; the
    /// options are kept in the state file from the last time it was asked.
    async fn field_map(&mut self, object: ObjectKind) -> Result<FieldMap, StepError> {
        let mut map = self.resolve_map(object)?;
        self.forget_remapped(object, &map)?;
        let (missing, fresh) = self.missing_properties(object, &map).await?;
        let options: DropdownOptions = match fresh {
            Some(options) => options,
            None => self
                .store
                .meta_get(&options_key(&self.p.name, object))?
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default(),
        };
        for rule in &mut map.rules {
            if let Some(o) = options.get(&rule.remote) {
                rule.options = o.clone();
            }
        }
        if let Some(missing) = missing {
            map.rules.retain(|r| !missing.contains(&r.remote));
            for prop in missing {
                self.warn(format!(
                    "{} {object}: the CRM has no field `{prop}`, so it is not synced this run; create it with `crmsync mappings setup -c {}`",
                    self.p.name, self.p.name
                ));
            }
        }
        Ok(map)
    }

    /// Forgets the bases of the fields that now sync with another CRM property than in the
    /// last run (each named in a warning): the old base holds the old property's value, and
    /// against it the new property's (often empty) value would read as a change made in the
    /// CRM, clearing or overwriting the local value. Without a base the field is as newly
    /// mapped: a local value fills an empty property, and two different values are a
    /// conflict for the policy. The properties each field synced with are kept in the state
    /// file, also for fields no longer mapped, so a field mapped again elsewhere is seen too.
    /// A dry run stores nothing and plans as if the bases were forgotten.
    fn forget_remapped(&mut self, object: ObjectKind, map: &FieldMap) -> Result<(), StepError> {
        let key = mapping_key(&self.p.name, object);
        let stored = self.store.meta_get(&key)?;
        let mut known: BTreeMap<String, String> = stored
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default();
        let mut moved = Vec::new();
        for rule in &map.rules {
            if let Some(old) = known.insert(rule.field.clone(), rule.remote.clone())
                && old != rule.remote
            {
                moved.push((rule.field.clone(), old));
            }
        }
        if self.opts.dry_run {
            self.forgotten
                .extend(moved.into_iter().map(|(field, _)| (object, field)));
            return Ok(());
        }
        for (field, old) in moved {
            let n = self.store.forget_base_field(&self.p.name, object, &field)?;
            let now = map.rule(&field).map_or("", |r| r.remote.as_str());
            self.warn(format!(
                "{} {object}: `{field}` now syncs with `{now}` instead of `{old}`, so its last synced values ({n} record(s)) are set aside: a local value fills an empty `{now}` as each record is next synced (`crmsync sync --full` does them all), and two different values are a conflict",
                self.p.name
            ));
        }
        let json = serde_json::to_string(&known).unwrap_or_else(|_| "{}".into());
        if stored.as_deref() != Some(json.as_str()) {
            self.store.meta_set(&key, &json)?;
        }
        Ok(())
    }

    /// A link as the planner sees it; in a dry run, without the bases
    /// [`Session::forget_remapped`] would forget.
    fn planned_link(&self, object: ObjectKind, link: &Link) -> LinkState {
        let mut state = link_state(link);
        for (o, field) in &self.forgotten {
            if *o == object {
                state.base.remove(field);
            }
        }
        state
    }

    /// The mapped properties the CRM does not have (`None`: all are there, or the catalogue
    /// was asked less than a day ago), and, when it was asked now, the mapped dropdowns'
    /// options, which are also kept for later runs (but not by a dry run).
    async fn missing_properties(
        &mut self,
        object: ObjectKind,
        map: &FieldMap,
    ) -> Result<(Option<Vec<String>>, Option<DropdownOptions>), StepError> {
        const FRESH_MS: i64 = 24 * 60 * 60 * 1000;
        let mapped = map.remote_properties();
        let key = catalogue_key(&self.p.name, object);
        // `options` marks catalogues read since their dropdown options are kept, so that a
        // state file from before asks once more.
        let signature = format!("options {}", mapped.join(","));
        let now = self.clock.now();
        if !self.stale_catalogue.remove(&object)
            && let Some(cached) = self.store.meta_get(&key)?
            && let Some((at, sig)) = cached.split_once(' ')
            && sig == signature
            && at.parse::<i64>().is_ok_and(|at| now - at < FRESH_MS)
        {
            return Ok((None, None));
        }
        let fields = self.p.provider.fields(object).await?;
        let missing: Vec<String> = mapped
            .iter()
            .filter(|m| !fields.iter().any(|f| &f.name == *m))
            .cloned()
            .collect();
        let options: DropdownOptions = fields
            .into_iter()
            .filter(|f| !f.options.is_empty() && mapped.contains(&f.name))
            .map(|f| (f.name, f.options))
            .collect();
        if !self.opts.dry_run {
            let json = serde_json::to_string(&options).unwrap_or_else(|_| "{}".into());
            self.store
                .meta_set(&options_key(&self.p.name, object), &json)?;
        }
        if !self.opts.dry_run {
            // A catalogue missing a mapped property is asked again by every run until the
            // property is back (or unmapped).
            let stamp = if missing.is_empty() {
                format!("{now} {signature}")
            } else {
                String::new()
            };
            self.store.meta_set(&key, &stamp)?;
        }
        if missing.is_empty() {
            Ok((None, Some(options)))
        } else {
            Ok((Some(missing), Some(options)))
        }
    }

    fn warn(&mut self, message: String) {
        self.reporter.warn(message.clone());
        self.warnings.push(message);
    }

    fn executor<'b>(&'b mut self, map: &'b FieldMap) -> Executor<'b> {
        Executor {
            store: self.store,
            provider: self.p.provider.as_ref(),
            connection: &self.p.name,
            map,
            on_delete: self.p.config.on_delete,
            run: self.run,
            clock: self.clock.clone(),
            reporter: self.reporter,
            read_versions: HashMap::new(),
        }
    }

    /// Settles the writes an interrupted run journalled but never recorded.
    async fn recover(&mut self) -> Result<u64, StepError> {
        let pending = self.store.journal_pending(&self.p.name)?;
        if pending.is_empty() {
            return Ok(0);
        }
        let n = pending.len() as u64;
        let mut by_object: BTreeMap<ObjectKind, Vec<_>> = BTreeMap::new();
        for w in pending {
            by_object.entry(w.entry.kind).or_default().push(w);
        }
        for (object, writes) in by_object {
            let map = self.resolve_map(object)?;
            self.executor(&map).recover(object, writes).await?;
        }
        Ok(n)
    }

    /// Reads the change feed, plans against the local records, executes.
    ///
    /// `rep` is filled as pages are carried out, so that a read stopped part-way still says
    /// what it did.
    async fn pull(
        &mut self,
        object: ObjectKind,
        rep: &mut ObjectReport,
    ) -> Result<Option<Plan>, StepError> {
        self.saved_read = None;
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
        let full_read = since.is_none();
        self.reporter.step(&self.p.name, object, "reading", None);
        let linked = self.store.count_live_links(&self.p.name, object)? as usize;
        // Each page is planned and carried out as it arrives, so memory stays flat however
        // large the read. Pages whose plan archives anything wait until the read is complete:
        // the archive gate must see every archive before any is carried out.
        let mut deferred: Vec<PlannedPage> = Vec::new();
        let mut dry_plans: Vec<Plan> = Vec::new();
        let mut page = None;
        let mut checkpoint = None;
        // The catalogue is asked again at most once per read.
        let mut refreshed = false;
        loop {
            let query = ChangeQuery {
                object,
                since: since.clone(),
                page: page.take(),
            };
            let got = self.p.provider.changes(&query, &props).await?;
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
            self.reporter.advance(got.records.len() as u64);
            rep.read += got.records.len() as u64;
            // A page may hold a record twice (a query restarted at the search cap); keep the
            // newest. Across pages a repeat is planned again, which is harmless.
            let mut by_id: HashMap<String, RemoteRecord> = HashMap::new();
            for r in got.records {
                match by_id.get(&r.id) {
                    Some(old) if old.updated_at > r.updated_at => {}
                    _ => {
                        by_id.insert(r.id.clone(), r);
                    }
                }
            }
            let mut records: Vec<RemoteRecord> = by_id.into_values().collect();
            records.sort_by(|a, b| a.id.cmp(&b.id));
            // Remote versions are kept for plans (`--dry-run`, `--plan`) and for runs limited
            // to some records (`apply` compares them with the plan's); a full run keeps none,
            // so its memory does not grow with the read.
            if self.opts.dry_run || self.opts.only.is_some() {
                let versions = self.versions.entry(object).or_default();
                for r in &records {
                    versions.insert(r.id.clone(), r.updated_at);
                }
            }
            let moved = self.follow_merges(object, &records)?;
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
                self.revive_restored(object, &records, &mut links)?;
            }
            if !full_read {
                let mut ids = IdCache::default();
                ids.load_for_remote(self.store, &self.p.name, &map, &records)?;
                let seen = |r: &RemoteRecord, link: &Link| {
                    let side = execute::remote_side(
                        &self.p.name,
                        object,
                        &map,
                        r,
                        &ids,
                        0,
                        &mut Vec::new(),
                    );
                    // In a dry run, without the bases a remapping sets aside, as the run would.
                    let base = self.planned_link(object, link).base;
                    seen_as_synced(&map, r, &side, &base, link)
                };
                rep.unchanged += leave_out_seen(&mut records, &links, seen);
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
        let pending: Vec<Plan> = if self.opts.dry_run {
            dry_plans
        } else {
            deferred.iter().map(|p| p.plan.clone()).collect()
        };
        let whole = merge_plans(&self.p.name, object, pending);
        // The push's archives count with the pull's (a record archived on both counts once).
        let pulled_archives: HashSet<&RecordId> = whole
            .ops
            .iter()
            .filter(|o| matches!(o.kind(), OpKind::LocalArchive | OpKind::RemoteArchive))
            .filter_map(|o| o.local_id())
            .collect();
        let also_archiving = self
            .push_archives(object)?
            .iter()
            .filter(|id| !pulled_archives.contains(id))
            .count();
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

    /// Stores the change feed's cursor at `checkpoint`, unless this run writes nothing
    /// (a dry run) or is limited to some records (`apply`, `import --to`): such a run leaves
    /// the other records of the feed unread, and a cursor moved past them would skip them
    /// for good.
    /// Returns whether it stored one.
    fn save_cursor(
        &mut self,
        object: ObjectKind,
        checkpoint: Option<&str>,
    ) -> Result<bool, StepError> {
        let Some(cp) = checkpoint else {
            return Ok(false);
        };
        if self.opts.dry_run || self.opts.only.is_some() {
            return Ok(false);
        }
        self.store
            .set_remote_cursor(&self.p.name, object, Some(cp))?;
        Ok(true)
    }

    /// Says how far a pull stopped part-way got: what it read and carried out up to its last
    /// stored cursor is kept, and the next run reads on from there.
    fn warn_progress(&mut self, object: ObjectKind) {
        if let Some(read) = self.saved_read.filter(|n| *n > 0) {
            self.warn(format!(
                "{} {object}: stopped part-way through the change feed; the {read} record(s) read up to the last complete page are saved, and the next run reads on from there",
                self.p.name
            ));
        }
    }

    /// Moves to a record the CRM merged others into ([`Provider::merged_from`]) the link of
    /// a merged-away one, so the survivor is planned against that link (its local record
    /// takes what the merge kept) instead of arriving as a new record. Only when the survivor
    /// is linked to no local record (a retired link counts, as it still holds the id): when
    /// it is, the merged-away records' local records are one CRM record now, which a warning
    /// says, naming what to do. When several merged-away records are linked, the first local
    /// record by id follows and the warning names the rest. Returns the moved links; a dry
    /// run stores none of them, and plans the page with them in place.
    fn follow_merges(
        &mut self,
        object: ObjectKind,
        records: &[RemoteRecord],
    ) -> Result<Vec<Link>, StepError> {
        let merges: Vec<(&RemoteRecord, Vec<String>)> = records
            .iter()
            .filter(|r| !r.archived)
            .map(|r| (r, self.p.provider.merged_from(r)))
            .filter(|(_, from)| !from.is_empty())
            .collect();
        if merges.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<String> = merges.iter().map(|(r, _)| r.id.clone()).collect();
        ids.extend(merges.iter().flat_map(|(_, from)| from.iter().cloned()));
        let links = self.store.links_by_remote_ids(&self.p.name, object, &ids)?;
        let crm = self.p.provider.kind().display_name();
        let name = self.p.name.clone();
        let mut moved: Vec<Link> = Vec::new();
        let mut warnings = Vec::new();
        for (survivor, from) in merges {
            let mut linked: Vec<&Link> = from
                .iter()
                .filter_map(|id| links.get(id))
                .filter(|l| !l.retired)
                .collect();
            if linked.is_empty() {
                continue;
            }
            linked.sort_by(|a, b| a.local_id.cmp(&b.local_id));
            // A retired link still holds the survivor's id, so it too keeps the link in place.
            let (holder, rest) = match links.get(&survivor.id) {
                Some(l) => (l.local_id.clone(), linked.as_slice()),
                None => {
                    let first = linked[0];
                    let follows = if self.opts.dry_run {
                        "would follow"
                    } else {
                        "follows"
                    };
                    warnings.push(format!(
                        "{name} {object} `{}`: {crm} merged {object} `{}` into `{}`, so the local \
                         record {follows} `{}` now",
                        first.local_id, first.remote_id, survivor.id, survivor.id
                    ));
                    moved.push(Link {
                        remote_id: survivor.id.clone(),
                        remote_updated_at: None,
                        ..first.clone()
                    });
                    (first.local_id.clone(), &linked[1..])
                }
            };
            for l in rest {
                warnings.push(format!(
                    "{name} {object} `{}`: {crm} merged {object} `{}` into `{}`, which local \
                     {object} `{holder}` follows; the two local records are one {crm} {object} \
                     now: merge them locally (archive `{}`)",
                    l.local_id, l.remote_id, survivor.id, l.local_id
                ));
            }
        }
        if !self.opts.dry_run && !moved.is_empty() {
            self.store.save_pulled(
                &[],
                &moved,
                &WriteOrigin::Pull {
                    run: self.run,
                    connection: self.p.name.clone(),
                },
            )?;
        }
        for w in warnings {
            self.warn(w);
        }
        Ok(moved)
    }

    /// Revives the retired links of records the read returns live: records restored in the CRM
    /// after an archive (HubSpot keeps them restorable for 90 days; its change feed never
    /// returns an archived record). The local record that archive archived is restored too;
    /// with `on_delete = ignore` only a live local record's link is revived (an archived one
    /// was archived here, and its CRM record never was). The record's failures for the
    /// connection go with the archive: it is planned afresh. A dry run stores nothing and
    /// does not plan the restore.
    fn revive_restored(
        &mut self,
        object: ObjectKind,
        records: &[RemoteRecord],
        links: &mut HashMap<String, Link>,
    ) -> Result<(), StepError> {
        let retired: Vec<Link> = records
            .iter()
            .filter(|r| !r.archived)
            .filter_map(|r| links.get(&r.id))
            .filter(|l| l.retired)
            .cloned()
            .collect();
        if retired.is_empty() {
            return Ok(());
        }
        let ids: Vec<RecordId> = retired.iter().map(|l| l.local_id.clone()).collect();
        let locals = self.store.get_records(&ids)?;
        let crm = self.p.provider.kind().display_name();
        let now = self.clock.now();
        let mut restored = Vec::new();
        let mut revived = Vec::new();
        for l in retired {
            let Some(local) = locals.get(&l.local_id) else {
                continue;
            };
            if local.archived_at.is_some() {
                if self.p.config.on_delete != OnDelete::Archive {
                    continue;
                }
                restored.push(Record {
                    archived_at: None,
                    updated_at: now,
                    ..local.clone()
                });
                self.warn(format!(
                    "{} {object} `{}`: restored in {crm} ({object} `{}`), so restored here too",
                    self.p.name, l.local_id, l.remote_id
                ));
            }
            revived.push(Link {
                retired: false,
                ..l
            });
        }
        self.store.save_pulled(
            &restored,
            &revived,
            &WriteOrigin::Pull {
                run: self.run,
                connection: self.p.name.clone(),
            },
        )?;
        for l in revived {
            self.store
                .clear_failure(&self.p.name, object, &l.local_id)?;
            links.insert(l.remote_id.clone(), l);
        }
        Ok(())
    }

    /// Plans one page of the change feed against the local records (with per-field times for
    /// its `newest-wins` conflicts, see [`field_times`]).
    async fn plan_page(
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
        let plan = self.refine(input, planned).await?;
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
    async fn refine(&mut self, input: PlanInput, planned: Plan) -> Result<Plan, StepError> {
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

    /// Warns, once per connection and run, when the CRM's clock is further off this
    /// machine's than the change feed's overlap: the feed itself keeps to the CRM's times,
    /// and `newest-wins` corrects for the skew, but a local time compared with the CRM's
    /// anywhere else would be off by that much.
    fn warn_skew(&mut self) {
        let Some(skew) = self.p.provider.clock_skew() else {
            return;
        };
        let overlap = self.config.sync.overlap_secs as Millis * 1000;
        let prefix = format!("{}: the CRM's clock is ", self.p.name);
        if skew.abs() <= overlap || self.warnings.iter().any(|w| w.starts_with(&prefix)) {
            return;
        }
        let side = if skew > 0 { "ahead of" } else { "behind" };
        self.warn(format!(
            "{prefix}{}s {side} this machine's, more than the change feed's overlap ({}s); \
             crmsync reads by the CRM's times and corrects newest-wins comparisons for it, \
             but check this machine's clock (NTP)",
            skew.abs() / 1000,
            overlap / 1000
        ));
    }

    /// Gives a failed history read's warning, once per connection and run.
    fn warn_history(&mut self, warning: Option<String>) {
        if let Some(w) = warning
            && !self.history_warned
        {
            self.history_warned = true;
            self.warn(w);
        }
    }

    /// Carries out one pulled page's plan and settles the conflicts it met.
    async fn execute_pulled(
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
    fn pull_items(
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

    /// The remote values of fields held by open conflicts, per local record of `ids`.
    ///
    /// A push plans a linked record without reading it again and takes the remote side to
    /// equal the base. For a field held by a `manual` conflict the base keeps its old value,
    /// so without this the local side of the conflict would be pushed over the remote one;
    /// with the held remote value in place the planner sees the conflict again (and holds it,
    /// or lets the policy decide if it changed, or finds both sides now agree).
    fn held_remote_values(
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
    fn settle_conflicts(
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
    fn review_open_conflicts(
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

    /// How many local records of `object` changed since the connection's last push (within
    /// the run's records).
    fn local_changes(&self, object: ObjectKind) -> Result<u64, StepError> {
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
    fn push_archives(&self, object: ObjectKind) -> Result<Vec<RecordId>, StepError> {
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

    fn match_keys(&self, object: ObjectKind) -> Vec<String> {
        let keys = self.p.config.match_keys.as_ref();
        keys.unwrap_or(&self.config.sync.match_keys)
            .for_object(object)
    }

    /// Plans and executes the local changes since this connection's local cursor.
    async fn push(
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
        let cursor = self.store.local_cursor(&self.p.name, object)?;
        let top = self.store.max_seq()?;
        // The archive gate, for every chunk below at once and with the pull's archives, before
        // any is written: a large run cannot pass it chunk by chunk, nor pull and push apart.
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
        let mut rep = ObjectReport {
            object: Some(object),
            ..ObjectReport::default()
        };
        let mut plans = Vec::new();
        let mut after = cursor;
        const CHUNK: usize = 5_000;
        // Records of held conflicts that the current configuration decides: planned after the
        // local changes (unless among them), without a change of their own.
        let mut undecided = self.review_open_conflicts(object)?;
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
                let on_delete = self.p.config.on_delete;
                let skew = self.p.provider.clock_skew().unwrap_or(0);
                let items: Vec<PlanItem> = records
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
                        let may_create_remote = recreate
                            || link.is_none()
                                && create_when.as_ref().is_none_or(|rule| rule.eval(&r.fields));
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
                    .collect();
                let input = PlanInput {
                    connection: self.p.name.clone(),
                    object,
                    rules: map.rules.clone(),
                    on_delete: self.p.config.on_delete,
                    items,
                };
                let planned = plan::plan(&input);
                let planned = self.refine(input, planned).await?;
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
                    add_follow_up(&mut rep, &outcome);
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
                self.settle_conflicts(&planned, &held)?;
                if refused.is_empty() || again_for_properties {
                    break;
                }
                again_for_properties = true;
                // The second write counts them again, failed or not.
                for (_, op) in &refused {
                    rep.failed = rep.failed.saturating_sub(1);
                    let kind = match op {
                        WriteOp::Create => &mut rep.failed_writes.create,
                        WriteOp::Update => &mut rep.failed_writes.update,
                        WriteOp::Archive => &mut rep.failed_writes.archive,
                    };
                    *kind = kind.saturating_sub(1);
                }
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
        if !self.opts.dry_run && self.opts.only.is_none() && top > cursor {
            self.store.set_local_cursor(&self.p.name, object, top)?;
        }
        let plan = (!plans.is_empty()).then(|| merge_plans(&self.p.name, object, plans));
        Ok((rep, plan))
    }
}

fn add_plan_counts(a: &mut PlanCounts, b: &PlanCounts) {
    a.link += b.link;
    a.local_create += b.local_create;
    a.local_update += b.local_update;
    a.local_archive += b.local_archive;
    a.remote_create += b.remote_create;
    a.remote_update += b.remote_update;
    a.remote_archive += b.remote_archive;
    a.conflicts += b.conflicts;
    a.held += b.held;
}

/// Counts what the executor planned itself for creates refused as duplicates: the refused
/// creates that were linked instead are links, not creates.
fn add_follow_up(rep: &mut ObjectReport, outcome: &ExecOutcome) {
    add_plan_counts(&mut rep.planned, &outcome.follow_up);
    rep.planned.remote_create = rep
        .planned
        .remote_create
        .saturating_sub(outcome.linked_duplicates);
}

fn merge_plans(connection: &str, object: ObjectKind, plans: Vec<Plan>) -> Plan {
    let mut all = Plan {
        connection: connection.to_string(),
        object,
        ops: Vec::new(),
        conflicts: Vec::new(),
        skipped: Vec::new(),
    };
    for p in plans {
        all.ops.extend(p.ops);
        all.conflicts.extend(p.conflicts);
        all.skipped.extend(p.skipped);
    }
    all
}

/// Leaves out of a change-feed page the linked records that `seen` finds already synced
/// (see [`seen_as_synced`]). Their changes (the echo of a write of crmsync's own, or a pull)
/// are in the link's base already, so planning them again would find nothing; a delta read
/// meets them again in its overlap. Leaving them out makes what a run does independent of
/// whether a record falls in the overlap, and spares the calls [`Provider::complete`] makes.
/// Archived records are always kept (an archive need not move the version), and so is every
/// record of a full read (`--full` re-reads on purpose, for example after a mapping change).
/// Returns how many it left out.
fn leave_out_seen(
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
fn holds(link: &Link, rec: &Record) -> bool {
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
fn seen_as_synced(
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
fn has_absent_properties(map: &FieldMap, records: &[RemoteRecord]) -> bool {
    records.iter().any(|r| {
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
fn give_way(deferred: &mut [PlannedPage], records: &[RemoteRecord], provider: &dyn Provider) {
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

struct PlannedPage {
    plan: Plan,
    /// The local records of the page's linked items.
    linked_ids: Vec<RecordId>,
    ids: IdCache,
    /// The version of each remote record planned (see [`Executor::read_versions`]).
    read_versions: HashMap<String, Millis>,
}

/// A field of a record held by an open `manual` conflict.
struct HeldField {
    conflict: i64,
    field: String,
    /// The remote value when the conflict was last seen.
    remote: Option<String>,
}

/// The remote side of a linked record that was not read in this run: its base, with the
/// remote values of the fields held by open conflicts.
fn held_remote_side(link: &LinkState, held: &[HeldField], skew: Millis) -> RemoteSide {
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

/// Each mapped dropdown property's options, by property.
type DropdownOptions = BTreeMap<String, Vec<crate::providers::FieldOption>>;

/// The `meta` key of the dropdown options of `connection`'s mapped `object` properties: JSON,
/// property → its options, as the CRM's catalogue last listed them.
fn options_key(connection: &str, object: ObjectKind) -> String {
    format!("options:{connection}:{object}")
}

/// The `meta` key of when `connection`'s field catalogue of `object` was last read, and for
/// which mapped properties.
fn catalogue_key(connection: &str, object: ObjectKind) -> String {
    format!("catalogue:{connection}:{object}")
}

/// The `meta` key of the CRM property each of `connection`'s `object` fields last synced
/// with: JSON, field → property.
fn mapping_key(connection: &str, object: ObjectKind) -> String {
    format!("mapping:{connection}:{object}")
}

/// Every `meta` key that caches what `connection`'s CRM said (its catalogue and dropdown
/// options) or what its links were synced against (the property of each field): dropped when
/// the connection is renamed or its links are forgotten. A renamed connection's next run
/// records its mapping afresh.
pub(crate) fn cached_meta_keys(connection: &str) -> Vec<String> {
    ObjectKind::ALL
        .iter()
        .flat_map(|&o| {
            [
                options_key(connection, o),
                catalogue_key(connection, o),
                mapping_key(connection, o),
            ]
        })
        .collect()
}
