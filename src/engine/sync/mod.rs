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

mod activities;
mod conflicts;
mod fields;
mod follow_ups;
mod limited;
pub(crate) mod meta;
mod options;
mod pull;
mod push;
mod referenced;
mod report;
mod session;

pub(crate) use activities::linked_twins;
pub use options::{ById, Only, Stamp, SyncOptions};
pub use report::{ConnectionReport, ObjectReport, SyncReport};
use report::{add_counts, merge_plans};
use session::{ArchiveTally, Session};

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::engine::accounts::{self};
use crate::engine::plan::Plan;
pub use crate::engine::{Participant, Quiet, StepError, SyncReporter};
use crate::model::{Millis, ObjectKind, RecordId};
use crate::store::{ConflictFilter, RunOutcome, Store, StoreError};

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
    // Failed records whose wait is over are tried again by this run's push; a run limited to
    // some records leaves the others' failures as they are.
    if !opts.dry_run && opts.only.is_none() {
        crate::engine::retry::requeue_due(store, &config.retry, &names, clock.now())?;
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
    let shared = Shared {
        config,
        opts,
        clock: clock.clone(),
        reporter,
        run_id,
    };
    let mut carried: Vec<Carried> = participants.iter().map(|_| Carried::default()).collect();
    pull_all(
        store,
        &shared,
        participants,
        &mut report,
        &mut conn_reports,
        &mut carried,
    )
    .await?;
    push_all(
        store,
        &shared,
        participants,
        &mut report,
        &mut conn_reports,
        &mut carried,
    )
    .await?;
    if !opts.dry_run {
        report.erased = erase_values(store, participants, &carried, run_id, clock.now())?;
    }
    count_waiting(store, participants, opts, &mut conn_reports)?;
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
        finish_run(store, &report, run, clock.now())?;
    }
    Ok(report)
}

/// What every connection's part of a run shares.
struct Shared<'a> {
    config: &'a Config,
    opts: &'a SyncOptions,
    clock: Arc<dyn Clock>,
    reporter: &'a dyn SyncReporter,
    run_id: i64,
}

/// What a connection's pull leaves for its push.
#[derive(Default)]
struct Carried {
    /// Fields held in the pull, so the push does not count them again.
    held: HashSet<(RecordId, String)>,
    /// Whether a failed history read was already warned of in this run.
    history_warned: bool,
    dry_pulled: HashSet<RecordId>,
    tally: ArchiveTally,
    /// Records erased in the CRM, read as archived in the pull (see [`erase_values`]).
    erased: Vec<(ObjectKind, String)>,
}

/// Erases from the state file the values of the records a CRM erased for privacy that this
/// run archived locally (a record the gates held back is not archived, and keeps its values
/// until a run archives it). Returns the records erased.
fn erase_values(
    store: &mut Store,
    participants: &[Participant],
    carried: &[Carried],
    run_id: i64,
    now: Millis,
) -> Result<Vec<RecordId>, StoreError> {
    let mut erased = Vec::new();
    for (p, carry) in participants.iter().zip(carried) {
        for (object, remote_id) in &carry.erased {
            let links =
                store.links_by_remote_ids(&p.name, *object, std::slice::from_ref(remote_id))?;
            for link in links.into_values() {
                if store.erase_values(&link.local_id, &p.name, Some(run_id), now)? {
                    erased.push(link.local_id);
                }
            }
        }
    }
    Ok(erased)
}

/// Phase 0 and 1: recover, then pull from every connection.
async fn pull_all(
    store: &mut Store,
    shared: &Shared<'_>,
    participants: &[Participant],
    report: &mut SyncReport,
    conn_reports: &mut [ConnectionReport],
    carried: &mut [Carried],
) -> Result<(), StoreError> {
    let Shared {
        config,
        opts,
        reporter,
        run_id,
        ..
    } = *shared;
    let mut claims = accounts::Claims::default();
    let mut asked = accounts::Asked::of(participants, opts.known_accounts.as_ref());
    for (i, ((p, rep), carry)) in participants
        .iter()
        .zip(conn_reports.iter_mut())
        .zip(carried.iter_mut())
        .enumerate()
    {
        // Before anything is recovered, read or written: the account the links belong to.
        match asked
            .check(i, store, config, p, opts.dry_run, &mut claims)
            .await
        {
            Ok((account, note)) => {
                rep.account = Some(account);
                rep.warnings.extend(note);
            }
            Err(e) => {
                stop(rep, e)?;
                continue;
            }
        }
        let mut sess = Session::new(
            store,
            config,
            p,
            opts,
            shared.clock.clone(),
            reporter,
            run_id,
        );
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
        rep.clock_skew = rep.clock_skew.or(sess.clock_skew.take());
        carry.held = std::mem::take(&mut sess.held);
        carry.history_warned = sess.history_warned;
        carry.dry_pulled = std::mem::take(&mut sess.dry_pulled);
        carry.tally = std::mem::take(&mut sess.archives);
        carry.erased = std::mem::take(&mut sess.erased);
        merge_versions(&mut report.remote_versions, &p.name, sess.versions);
        if let Err(e) = result {
            stop(rep, e)?;
        }
    }
    Ok(())
}

/// Phase 2: push local changes to every connection that is still going.
async fn push_all(
    store: &mut Store,
    shared: &Shared<'_>,
    participants: &[Participant],
    report: &mut SyncReport,
    conn_reports: &mut [ConnectionReport],
    carried: &mut [Carried],
) -> Result<(), StoreError> {
    let Shared {
        config,
        opts,
        reporter,
        run_id,
        ..
    } = *shared;
    for ((p, rep), carry) in participants
        .iter()
        .zip(conn_reports.iter_mut())
        .zip(carried.iter_mut())
    {
        if rep.error.is_some() || rep.stopped_by.is_some() {
            continue;
        }
        let mut sess = Session::new(
            store,
            config,
            p,
            opts,
            shared.clock.clone(),
            reporter,
            run_id,
        );
        sess.archives = std::mem::take(&mut carry.tally);
        sess.held = std::mem::take(&mut carry.held);
        sess.history_warned = carry.history_warned;
        sess.dry_pulled = std::mem::take(&mut carry.dry_pulled);
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
    Ok(())
}

/// What waits (exit code 3): of the whole connection, or, for a run limited to some records
/// (`apply`, `import --to`), of those records only.
fn count_waiting(
    store: &Store,
    participants: &[Participant],
    opts: &SyncOptions,
    conn_reports: &mut [ConnectionReport],
) -> Result<(), StoreError> {
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
    Ok(())
}

/// Stores the run's outcome, counts and errors in its `runs` row.
fn finish_run(
    store: &mut Store,
    report: &SyncReport,
    run: i64,
    now: Millis,
) -> Result<(), StoreError> {
    let outcome = if report.errored_before_the_day_ended() {
        RunOutcome::Failed
    } else if report.gated() {
        RunOutcome::Stopped
    } else if report.failed() > 0 || report.held() > 0 || report.stopped_for_the_day() {
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
        now,
    )
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
