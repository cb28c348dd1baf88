//! What a run reports: per object, per connection and in all, and how the reports of a
//! connection's pull and push add up.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::accounts::AccountStop;
use crate::engine::execute::ExecOutcome;
use crate::engine::gates::GateStop;
use crate::engine::plan::{Plan, PlanCounts};
use crate::model::{ObjectKind, RecordId};
use crate::providers::ProviderError;

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
    /// The CRM's clock was off this machine's by more than the change feed's overlap: the run
    /// cannot be sure it read everything, which it says with a warning and exit code 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_skew: Option<ClockSkew>,
    /// After the run: conflicts of this connection still waiting for a person (from this
    /// run or an earlier one).
    #[serde(default)]
    pub open_conflicts: u64,
    /// After the run: records whose last write to this connection failed (from this run or
    /// an earlier one), waiting for `crmsync retry`.
    #[serde(default)]
    pub failed_records: u64,
}

/// How far a CRM's clock was off this machine's, beyond the change feed's overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSkew {
    /// The CRM's clock less this machine's (ms): positive when the CRM's is ahead.
    pub skew_ms: i64,
    /// The change feed's overlap (`sync.overlap_secs`) it exceeded.
    pub overlap_secs: u64,
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
    /// its [`RemoteRecord::fingerprint`](crate::providers::RemoteRecord::fingerprint) (for
    /// `crmsync apply`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub remote_versions: BTreeMap<String, BTreeMap<ObjectKind, BTreeMap<String, i64>>>,
    /// The local records whose values the run erased: their CRM erased them for privacy
    /// ([`super::SyncOptions::erase`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erased: Vec<RecordId>,
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
    /// A connection stopped on an error other than its CRM's allowance for the day.
    pub fn errored_before_the_day_ended(&self) -> bool {
        self.connections
            .iter()
            .any(|c| c.error.is_some() && !c.stopped_for_the_day())
    }
    /// A connection stopped because its CRM's allowance for the day is down to crmsync's
    /// reserve: nothing is half-done, and the rest goes on the next day.
    pub fn stopped_for_the_day(&self) -> bool {
        self.connections
            .iter()
            .any(ConnectionReport::stopped_for_the_day)
    }
    /// A connection's CRM clock was off by more than the overlap ([`ClockSkew`]).
    pub fn clock_skewed(&self) -> bool {
        self.connections.iter().any(|c| c.clock_skew.is_some())
    }
    /// A connection was stopped because the account it reaches does not fit the state file.
    pub fn account_stopped(&self) -> bool {
        self.connections.iter().any(|c| c.account_stop.is_some())
    }
}

impl ConnectionReport {
    /// Stopped by the CRM's allowance for the day ([`ProviderError::DailyLimit`]).
    pub fn stopped_for_the_day(&self) -> bool {
        matches!(
            self.provider_error.as_deref(),
            Some(ProviderError::DailyLimit { .. })
        )
    }
}

pub(super) fn add_plan_counts(a: &mut PlanCounts, b: &PlanCounts) {
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
pub(super) fn add_follow_up(rep: &mut ObjectReport, outcome: &ExecOutcome) {
    add_plan_counts(&mut rep.planned, &outcome.follow_up);
    rep.planned.remote_create = rep
        .planned
        .remote_create
        .saturating_sub(outcome.linked_duplicates);
}

pub(super) fn add_counts(into: &mut ObjectReport, from: &ObjectReport) {
    into.read += from.read;
    into.local_changes += from.local_changes;
    add_plan_counts(&mut into.planned, &from.planned);
    into.failed += from.failed;
    into.failed_writes.add_all(&from.failed_writes);
    into.decided_conflicts += from.decided_conflicts;
    into.held_conflicts += from.held_conflicts;
}

pub(super) fn merge_plans(connection: &str, object: ObjectKind, plans: Vec<Plan>) -> Plan {
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
