//! Keeping the state file: copies of it (`crmsync backup`), putting one back (`crmsync
//! restore`), and pruning the run log (`crmsync log --prune`, and the end of every sync run).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::error::Error;
use crate::model::Millis;
use crate::store::{Pruned, RunLock, StateFileInfo, Store};

use super::Settings;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Removes the runs and audit entries older than `log.keep_days` (none when it is 0).
pub fn prune_log(store: &mut Store, config: &Config, now: Millis) -> anyhow::Result<Pruned> {
    let days = config.log.keep_days;
    if days == 0 {
        return Ok(Pruned::default());
    }
    let names: Vec<String> = config.connections.keys().cloned().collect();
    Ok(store.prune_log(now - i64::from(days) * DAY_MS, &names)?)
}

/// `crmsync log --prune`: under the run lock.
pub fn prune_now(settings: &Settings<'_>) -> anyhow::Result<Pruned> {
    let (mut store, _lock) = open_locked(settings.state_path)?;
    prune_log(&mut store, settings.config, settings.clock.now())
}

/// What `crmsync backup` made (`--json` shape).
#[derive(Debug, Serialize)]
pub struct BackupMade {
    pub path: PathBuf,
    pub bytes: u64,
    /// The automatic copies beside the state file, oldest first (after this one).
    pub kept: Vec<PathBuf>,
}

/// Copies the state file to `to`, or into the set beside it (keeping `backup.keep`). Refused
/// while a run holds the lock, so the copy is of a file between runs.
pub fn backup(settings: &Settings<'_>, to: Option<&Path>) -> anyhow::Result<BackupMade> {
    let (store, _lock) = open_locked(settings.state_path)?;
    let path = match to {
        Some(to) => {
            store.backup_to(to)?;
            to.to_path_buf()
        }
        None => store.backup_beside(Some(settings.config.backup.keep), "")?,
    };
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Ok(BackupMade {
        path,
        bytes,
        kept: crate::store::backups_of(settings.state_path)?,
    })
}

/// What `crmsync restore` did (`--json` shape).
#[derive(Debug, Serialize)]
pub struct Restored {
    /// The file restored from, as it was checked.
    pub from: StateFileInfo,
    /// The copy of the state file as it was before (none when there was no state file).
    pub previous: Option<PathBuf>,
    /// The schema version of the state file now (an older backup is upgraded).
    pub schema_version: i64,
}

/// Puts the backup `from` in place of the state file: checked first (a file that is not a
/// crmsync state file, or is from a newer crmsync, is refused and nothing changes), refused
/// while a run holds the lock, and the state file as it was is copied beside it first.
pub fn restore(settings: &Settings<'_>, from: &Path) -> anyhow::Result<Restored> {
    let state_path = settings.state_path;
    // A file offered by mistake is a bad argument, refused before anything is touched.
    crate::store::inspect(from).map_err(|e| Error::usage(e.to_string()))?;
    if same_file(from, state_path) {
        return Err(Error::usage(format!(
            "`{}` is the state file itself; name a backup of it",
            from.display()
        ))
        .into());
    }
    let lock = RunLock::acquire(state_path)?;
    let previous = if state_path.exists() {
        let store = Store::open(state_path)?;
        Some(store.backup_beside(Some(settings.config.backup.keep), ".before-restore")?)
    } else {
        None
    };
    let from_info = crate::store::replace_state_file(state_path, from)?;
    let store = Store::open(state_path)?;
    let schema_version = store.schema_version()?;
    drop(lock);
    Ok(Restored {
        from: from_info,
        previous,
        schema_version,
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Takes the run lock, then opens the existing state file.
fn open_locked(state_path: &Path) -> anyhow::Result<(Store, RunLock)> {
    if !state_path.exists() {
        return Err(Error::usage(format!(
            "there is no state file at `{}` yet; nothing to do",
            state_path.display()
        ))
        .into());
    }
    let lock = RunLock::acquire(state_path)?;
    let store = Store::open(state_path)?;
    Ok((store, lock))
}
