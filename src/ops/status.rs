//! The status read model: how each connection is doing, counts by record state, and one
//! record's state towards each connection. The one definition of a record's state
//! ([`RecordState::of`]) is here; `status` and `explain` both read it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::Config;
use crate::model::{Fields, Millis, ObjectKind, Record, RecordId};
use crate::store::{Conflict, ConflictFilter, Failure, KindStatus, Link, RunOutcome, Store};

/// How a connection is doing, from its last sync and what waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// The last sync finished without error and nothing failed or waits for a decision.
    Healthy,
    /// Records failed, conflicts wait, or the last sync finished only partly.
    Degraded,
    /// The last sync failed or was stopped.
    Failed,
    /// No sync has run for this connection yet.
    NeverSynced,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Failed => "failed",
            Health::NeverSynced => "never synced",
        }
    }

    /// From the outcome of the connection's last sync (`None`: none ran; `Some(None)`: one
    /// never finished) and whether records failed or wait for a decision.
    fn of(last: Option<Option<RunOutcome>>, waiting: bool) -> Health {
        match last {
            None if waiting => Health::Degraded,
            None => Health::NeverSynced,
            Some(Some(RunOutcome::Failed | RunOutcome::Stopped)) => Health::Failed,
            // A sync that never finished died mid-run; the next one recovers.
            Some(None) => Health::Failed,
            Some(Some(RunOutcome::Partial)) => Health::Degraded,
            Some(Some(RunOutcome::Ok)) if waiting => Health::Degraded,
            Some(Some(RunOutcome::Ok)) => Health::Healthy,
        }
    }
}

/// `crmsync status --json`
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub state_file: PathBuf,
    pub connections: Vec<ConnectionStatus>,
    /// Local records per object (archived ones not counted).
    pub local: BTreeMap<ObjectKind, LocalCount>,
    /// `crmsync listen` on this state file, if one ever ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener: Option<crate::listen::report::ListenerStatus>,
}

#[derive(Debug, Serialize)]
pub struct LocalCount {
    pub active: u64,
    pub archived: u64,
}

#[derive(Debug, Serialize)]
pub struct ConnectionStatus {
    pub name: String,
    pub provider: crate::providers::ProviderKind,
    pub health: Health,
    /// The outcome of the last sync that included this connection (`null`: none, or it has
    /// not finished).
    pub last_run: Option<RunOutcome>,
    pub last_successful_sync: Option<Millis>,
    pub objects: Vec<KindStatus>,
}

/// The overview of the state file at `state_file`: every configured connection (or only
/// `only`) and the local records.
pub fn overview(
    store: &Store,
    config: &Config,
    state_file: PathBuf,
    only: Option<&str>,
) -> anyhow::Result<StatusReport> {
    let mut connections = Vec::new();
    for (name, conn) in &config.connections {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let objects = store.status_all(name)?;
        let last = store.last_run_outcome("sync", name)?;
        let waiting = objects.iter().any(|k| k.error > 0 || k.conflict > 0);
        connections.push(ConnectionStatus {
            name: name.clone(),
            provider: conn.provider,
            health: Health::of(last, waiting),
            last_run: last.flatten(),
            last_successful_sync: store.last_successful_sync(name)?,
            objects,
        });
    }
    let mut local = BTreeMap::new();
    for kind in ObjectKind::ALL {
        let active = store.count_records(kind, false)?;
        let all = store.count_records(kind, true)?;
        if kind == ObjectKind::Deal && all == 0 {
            // A store without deals reads as before deals existed.
            continue;
        }
        local.insert(
            kind,
            LocalCount {
                active,
                archived: all - active,
            },
        );
    }
    Ok(StatusReport {
        state_file,
        connections,
        local,
        listener: crate::listen::report::listener_status(store, crate::clock::from_env().now()),
    })
}

/// A record's state towards one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordState {
    /// An open conflict waits for a decision.
    Conflict,
    /// The last write to the CRM failed.
    Error,
    /// The link was retired by an archive: the record is synced with it no more.
    Retired,
    /// Its change waits for the connection's next push.
    Pending,
    /// Linked and in step.
    Synced,
    /// Not linked, and nothing waits.
    LocalOnly,
}

impl RecordState {
    /// The state, first that applies: an open conflict, a failure, a retired link, a change
    /// waiting (`changed`: the record changed after the connection's local cursor, which the
    /// next push reads from — what `status` counts as pending), a link, else none.
    pub fn of(conflict: bool, failure: bool, link: Option<&Link>, changed: bool) -> RecordState {
        if conflict {
            RecordState::Conflict
        } else if failure {
            RecordState::Error
        } else if link.is_some_and(|l| l.retired) {
            RecordState::Retired
        } else if changed {
            RecordState::Pending
        } else if link.is_some() {
            RecordState::Synced
        } else {
            RecordState::LocalOnly
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::Conflict => "conflict",
            RecordState::Error => "error",
            RecordState::Retired => "retired",
            RecordState::Pending => "pending",
            RecordState::Synced => "synced",
            RecordState::LocalOnly => "local-only",
        }
    }
}

/// Whether `record` changed after `connection`'s local cursor: the next push reads it.
pub fn changed_since_push(
    store: &Store,
    record: &Record,
    connection: &str,
) -> anyhow::Result<bool> {
    Ok(store.record_seq(&record.id)?.unwrap_or(0) > store.local_cursor(connection, record.kind)?)
}

/// `crmsync status RECORD --json`
#[derive(Debug, Serialize)]
pub struct RecordStatus {
    pub id: RecordId,
    pub kind: ObjectKind,
    pub fields: Fields,
    pub updated_at: Millis,
    pub archived_at: Option<Millis>,
    pub connections: Vec<RecordLink>,
}

/// One connection's view of a record.
#[derive(Debug, Serialize)]
pub struct RecordLink {
    pub connection: String,
    /// The CRM's id (`null`: not linked).
    pub remote_id: Option<String>,
    pub state: RecordState,
    pub synced_at: Option<Millis>,
    pub failure: Option<Failure>,
    pub conflicts: Vec<Conflict>,
}

/// `record`'s state towards every configured connection and every one it is linked to (or
/// only `only`).
pub fn record(
    store: &Store,
    config: &Config,
    record: &Record,
    only: Option<&str>,
) -> anyhow::Result<RecordStatus> {
    let links = store.links_of_record(&record.id)?;
    let failures = store.failures_of_record(&record.id)?;
    let mut names: Vec<String> = config.connections.keys().cloned().collect();
    for l in &links {
        if !names.contains(&l.connection) {
            names.push(l.connection.clone());
        }
    }
    let mut connections = Vec::new();
    for name in names {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let link = links.iter().find(|l| l.connection == name);
        let failure = failures.iter().find(|f| f.connection == name).cloned();
        let conflicts = store.list_open_conflicts(&ConflictFilter {
            connection: Some(name.clone()),
            local_id: Some(record.id.clone()),
            ..ConflictFilter::default()
        })?;
        // Linked or not, a change waits for the next push (as `status` counts it).
        let changed = changed_since_push(store, record, &name)?;
        let state = RecordState::of(!conflicts.is_empty(), failure.is_some(), link, changed);
        connections.push(RecordLink {
            connection: name,
            remote_id: link.map(|l| l.remote_id.clone()),
            state,
            synced_at: link.map(|l| l.synced_at),
            failure,
            conflicts,
        });
    }
    Ok(RecordStatus {
        id: record.id.clone(),
        kind: record.kind,
        fields: record.fields.clone(),
        updated_at: record.updated_at,
        archived_at: record.archived_at,
        connections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(retired: bool) -> Link {
        Link {
            connection: "acme".into(),
            kind: ObjectKind::Contact,
            local_id: RecordId::new(),
            remote_id: "501".into(),
            base: Fields::new(),
            remote_updated_at: None,
            synced_at: 0,
            retired,
        }
    }

    /// One order decides a record's state: a conflict, then a failure, then a retired link
    /// (which waits for nothing, changed or not), then a change waiting for the push.
    #[test]
    fn a_record_state_is_the_first_that_applies() {
        let (live, retired) = (link(false), link(true));
        let state = RecordState::of;
        assert_eq!(state(true, true, Some(&live), true), RecordState::Conflict);
        assert_eq!(state(false, true, Some(&retired), true), RecordState::Error);
        assert_eq!(
            state(false, false, Some(&retired), true),
            RecordState::Retired
        );
        assert_eq!(state(false, false, Some(&live), true), RecordState::Pending);
        assert_eq!(state(false, false, None, true), RecordState::Pending);
        assert_eq!(state(false, false, Some(&live), false), RecordState::Synced);
        assert_eq!(state(false, false, None, false), RecordState::LocalOnly);
        assert_eq!(
            serde_json::to_value(RecordState::LocalOnly).unwrap(),
            RecordState::LocalOnly.as_str()
        );
    }
}
