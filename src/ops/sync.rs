//! A sync run: the state file opened under its lock, the connections opened, the engine run.
//! Used by `sync`, `apply` and `import --to`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::engine::sync::{self, Participant, SyncOptions, SyncReport, SyncReporter};
use crate::error::Error;
use crate::model::RecordId;
use crate::store::{RunLock, Store};

use super::Settings;

/// An empty state file for a dry run where none exists yet, removed (with its WAL and lock
/// files) when the run ends.
struct ScratchState {
    dir: PathBuf,
    path: PathBuf,
}

impl ScratchState {
    fn new() -> ScratchState {
        let dir = std::env::temp_dir().join(format!(
            "crmsync-dry-run-{}-{}",
            std::process::id(),
            ulid::Ulid::new()
        ));
        let path = dir.join("state.sqlite");
        ScratchState { dir, path }
    }
}

impl Drop for ScratchState {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The state file open under the run lock, ready for a sync.
pub struct Session<'a> {
    settings: Settings<'a>,
    // Field order is drop order: the lock goes before the store, the store before its
    // scratch directory.
    lock: RunLock,
    store: Store,
    _scratch: Option<ScratchState>,
}

impl<'a> Session<'a> {
    /// Opens the state file and takes its lock. A dry run writes nothing, a state file
    /// included: with none yet, it plans against an empty one made for the run and removed
    /// after it.
    pub fn open(settings: Settings<'a>, dry_run: bool) -> anyhow::Result<Session<'a>> {
        Self::open_noting(settings, dry_run, &|_| {})
    }

    /// As [`Session::open`], telling `waiting` the listener's PID when the lock is the
    /// listener's and the session waits for its batch to end.
    pub fn open_noting(
        settings: Settings<'a>,
        dry_run: bool,
        waiting: &dyn Fn(u32),
    ) -> anyhow::Result<Session<'a>> {
        if settings.config.connections.is_empty() {
            return Err(crate::error::usage_hinted(
                "no connections are configured, so there is nothing to sync",
                "add one with `crmsync connect hubspot --name NAME`, or try `crmsync demo`",
            ));
        }
        let scratch = (dry_run && !settings.state_path.exists()).then(ScratchState::new);
        let state_path: &Path = scratch
            .as_ref()
            .map_or(settings.state_path, |s| s.path.as_path());
        let mut store = Store::open(state_path)?;
        store.set_clock(settings.clock.clone());
        let lock = store.lock_noting(waiting)?;
        if !dry_run {
            let backup = &settings.config.backup;
            store.set_backup_policy(backup.min_writes, backup.keep);
        }
        Ok(Session {
            settings,
            lock,
            store,
            _scratch: scratch,
        })
    }

    /// The process whose lock this session took over (it was no longer running).
    pub fn took_over_from(&self) -> Option<u32> {
        self.lock.took_over_from
    }

    /// Opens `connections` (every configured one when empty) and runs the engine over them.
    pub async fn run(
        mut self,
        connections: &[String],
        opts: &SyncOptions,
        max_requests: Option<u64>,
        reporter: &dyn SyncReporter,
    ) -> anyhow::Result<SyncReport> {
        let s = &self.settings;
        let opened = crate::connection::open_many(
            connections,
            s.config,
            s.state_path,
            s.clock.clone(),
            max_requests,
        )
        .await?;
        let participants: Vec<Participant> = opened
            .into_iter()
            .map(crate::connection::Opened::into_participant)
            .collect();
        // An object no connection syncs (`--object activity`) is refused, not silently skipped.
        for object in &opts.objects {
            if !participants
                .iter()
                .any(|p| p.provider.objects().contains(object) && p.config.syncs(*object))
            {
                return Err(Error::usage(format!(
                    "no connection of this run syncs {object} records (Pipedrive connections sync activities, and HubSpot connections whose `objects` names `activity`); leave out `--object {object}`"
                ))
                .into());
            }
        }
        let report = sync::run(
            &mut self.store,
            s.config,
            &participants,
            opts,
            s.clock.clone(),
            reporter,
        )
        .await?;
        if report.run.is_some() {
            super::upkeep::prune_log(&mut self.store, s.config, s.clock.now())?;
        }
        Ok(report)
    }
}

/// The options of a sync whose push covers only these local records (`import --to`): records
/// already linked are updated only where they differ, so nothing is created twice.
pub fn only_records(ids: HashSet<RecordId>) -> SyncOptions {
    SyncOptions {
        only: Some(sync::Only::records(ids)),
        ..SyncOptions::default()
    }
}
