//! Carrying out a saved plan: the checks that it still fits, which records it covers, and
//! which of them moved since it was made.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use crate::engine::accounts;
use crate::engine::sync::{Only, SyncOptions, SyncReport};
use crate::error::Error;
use crate::model::RecordId;

use super::Settings;
use super::plan_file::PlanFile;

/// Reads the plan at `path` and refuses it when it was made against another state file, a
/// connection since pointed elsewhere, or another CRM account than the one each of its
/// connections is bound to, or reaches, now (its remote ids would name other records there).
pub async fn load(settings: &Settings<'_>, path: &Path) -> anyhow::Result<PlanFile> {
    let file = PlanFile::read(path)?;
    file.check_made_here(path, settings.config, settings.state_path)?;
    let store = crate::store::Store::open_read_only(settings.state_path).ok();
    for (name, then) in &file.connections {
        let p = crate::connection::open(
            name,
            settings.config,
            settings.state_path,
            settings.clock.clone(),
            None,
        )?
        .into_participant();
        if let Err(moved) = accounts::check_planned(store.as_ref(), &p, &then.account).await? {
            return Err(Error::usage(moved.to_string()).into());
        }
    }
    Ok(file)
}

/// The run that carries a plan out: its connections, in plan order, and a sync limited to
/// the plan's records.
pub struct Scope {
    pub connections: Vec<String>,
    pub opts: SyncOptions,
}

impl Scope {
    /// The run for `file`; `None` when the plan touches no record.
    pub fn of(file: &PlanFile, force: bool) -> Option<Scope> {
        let mut only = Only::default();
        let mut connections: Vec<String> = Vec::new();
        for plan in &file.plans {
            if !connections.contains(&plan.connection) {
                connections.push(plan.connection.clone());
            }
            let remote = only
                .remote
                .entry(plan.connection.clone())
                .or_insert_with(HashSet::new);
            for op in &plan.ops {
                if let Some(id) = op.local_id() {
                    only.local.insert(id.clone());
                }
                if let Some(id) = op.remote_id() {
                    remote.insert(id.to_string());
                }
            }
            for c in &plan.conflicts {
                only.local.insert(c.local_id.clone());
                remote.insert(c.remote_id.clone());
            }
        }
        if only.local.is_empty() && only.remote.values().all(HashSet::is_empty) {
            return None;
        }
        Some(Scope {
            connections,
            opts: SyncOptions {
                full: file.full,
                force,
                only: Some(only),
                ..SyncOptions::default()
            },
        })
    }
}

/// The planned records that moved after the plan was made, and so were planned again.
#[derive(Debug, Default, Serialize)]
pub struct Replanned {
    /// Records whose remote version moved after the plan was made, by connection.
    pub replanned: HashMap<String, Vec<String>>,
    /// Local records changed after the plan was made.
    pub replanned_local: Vec<RecordId>,
}

impl Replanned {
    /// What moved, from the versions the run of `scope` found before it wrote anything.
    pub fn of(file: &PlanFile, scope: &Scope, report: &SyncReport) -> Replanned {
        let only = scope.opts.only.as_ref().expect("a scope has records");
        // The plan also holds the versions of records it read and left alone; those are not
        // touched now, so they are not listed either.
        let mut replanned: HashMap<String, Vec<String>> = HashMap::new();
        for (conn, objects) in &file.remote_versions {
            for (object, saved) in objects {
                let now = report.remote_versions.get(conn).and_then(|o| o.get(object));
                for (id, at) in saved {
                    if let Some(current) = now.and_then(|n| n.get(id))
                        && current != at
                        && only.remote.get(conn).is_some_and(|ids| ids.contains(id))
                    {
                        replanned.entry(conn.clone()).or_default().push(id.clone());
                    }
                }
            }
        }
        let replanned_local = file
            .local_versions
            .iter()
            .filter(|(id, at)| report.local_versions.get(*id) != Some(*at))
            .map(|(id, _)| id.clone())
            .collect();
        Replanned {
            replanned,
            replanned_local,
        }
    }
}
