//! Copies of the state file made with SQLite's online backup API, which copies a consistent
//! snapshot page by page while the file is open: on demand (`crmsync backup`), before a sync
//! run carries out many writes, and before a schema upgrade; and putting one back in place of
//! the state file (`crmsync restore`).
//!
//! Automatic copies go beside the state file as `<name>.bak.<UTC time>` (a schema upgrade's
//! copy ends `.v<old version>`), readable by the owner only; the oldest beyond `backup.keep`
//! are removed when a run makes a new one. A schema upgrade's copy removes none.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::open::{Store, check_header, create_private_file};
use super::schema::{APPLICATION_ID, LATEST_VERSION};
use super::sql::sql_error;
use super::types::StoreError;

/// When a run copies the state file: the writes it may carry out first, and how many
/// automatic copies are kept.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct BackupPolicy {
    policy: Option<(u64, usize)>,
    planned: u64,
    done: bool,
}

/// What a file offered to `crmsync restore` holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StateFileInfo {
    pub path: PathBuf,
    pub schema_version: i64,
    pub state_id: Option<String>,
    pub records: u64,
    pub runs: u64,
}

impl Store {
    /// From now on, [`Store::before_writes`] copies the file once the writes planned in this
    /// session exceed `min_writes`, keeping `keep` automatic copies.
    pub fn set_backup_policy(&mut self, min_writes: u64, keep: usize) {
        self.backups.policy = Some((min_writes, keep));
    }

    /// Called before a plan of `writes` writes is carried out: the first time the writes
    /// planned in this session exceed the policy's threshold, copies the file (before any of
    /// this plan's writes) and returns where.
    pub fn before_writes(&mut self, writes: u64) -> Result<Option<PathBuf>, StoreError> {
        let Some((min_writes, keep)) = self.backups.policy else {
            return Ok(None);
        };
        self.backups.planned += writes;
        if self.backups.done || self.backups.planned <= min_writes {
            return Ok(None);
        }
        self.backups.done = true;
        let to = self.backup_beside(Some(keep), "")?;
        tracing::info!(
            "{} writes planned (more than backup.min_writes = {min_writes}): copied the state file to `{}` first",
            self.backups.planned,
            to.display()
        );
        Ok(Some(to))
    }

    /// Copies the file to `dest`, which must not exist yet (made readable by its owner only).
    pub fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        if dest.exists() {
            return Err(StoreError::Invalid {
                message: format!(
                    "`{}` exists already; name a new file, or move that one aside",
                    dest.display()
                ),
            });
        }
        create_private_file(dest)?;
        let copied = self.conn.backup(
            rusqlite::MAIN_DB,
            dest,
            None::<fn(rusqlite::backup::Progress)>,
        );
        if let Err(e) = copied {
            let _ = std::fs::remove_file(dest);
            return Err(sql_error(dest, "copy the state file", e));
        }
        Ok(())
    }

    /// Copies the file into the set beside it, named by the time and `tag`; with `keep`,
    /// removes the oldest copies beyond that many afterwards.
    pub fn backup_beside(&self, keep: Option<usize>, tag: &str) -> Result<PathBuf, StoreError> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
        let mut name = self.path.as_os_str().to_os_string();
        name.push(format!(".bak.{stamp}{tag}"));
        let mut dest = PathBuf::from(&name);
        let mut n = 1;
        while dest.exists() {
            n += 1;
            dest = PathBuf::from(format!("{}-{n}", name.to_string_lossy()));
        }
        self.backup_to(&dest)?;
        if let Some(keep) = keep {
            let copies = backups_of(&self.path)?;
            for old in copies.iter().take(copies.len().saturating_sub(keep)) {
                std::fs::remove_file(old).map_err(|source| StoreError::Io {
                    action: "remove the old copy",
                    path: old.clone(),
                    source,
                })?;
            }
        }
        Ok(dest)
    }
}

/// The automatic copies of the state file at `state_path`, oldest first.
pub fn backups_of(state_path: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let Some(file_name) = state_path.file_name() else {
        return Ok(Vec::new());
    };
    let prefix = format!("{}.bak.", file_name.to_string_lossy());
    let dir = match state_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let entries = std::fs::read_dir(dir).map_err(|source| StoreError::Io {
        action: "list the directory of",
        path: state_path.to_path_buf(),
        source,
    })?;
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stamp = name.strip_prefix(&prefix)?;
            let ours = stamp.len() >= 16
                && stamp.as_bytes()[..8].iter().all(u8::is_ascii_digit)
                && stamp.as_bytes()[8] == b'T'
                && !stamp.ends_with("-wal")
                && !stamp.ends_with("-shm")
                && !stamp.ends_with("-journal");
            ours.then(|| (stamp.to_string(), e.path()))
        })
        .collect();
    out.sort();
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

/// Reads what the file at `path` holds without writing to it, refusing a file that is not a
/// crmsync state file (not SQLite, another program's database, an empty one, a damaged one)
/// or one written by a newer crmsync.
pub fn inspect(path: &Path) -> Result<StateFileInfo, StoreError> {
    let not_ours = || StoreError::Invalid {
        message: format!(
            "`{}` is not a crmsync state file (not an SQLite database made by crmsync, or damaged); nothing was changed",
            path.display()
        ),
    };
    match check_header(path) {
        Ok(true) => {}
        Ok(false) if path.exists() => return Err(not_ours()),
        Ok(false) => {
            return Err(StoreError::Invalid {
                message: format!("there is no file `{}`; nothing was changed", path.display()),
            });
        }
        Err(StoreError::NotAStateFile { .. }) => return Err(not_ours()),
        Err(e) => return Err(e),
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sql_error(path, "open", e))?;
    let read = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    let (app, version) = match (read("PRAGMA application_id"), read("PRAGMA user_version")) {
        (Ok(app), Ok(version)) => (app, version),
        _ => return Err(not_ours()),
    };
    if app != APPLICATION_ID || version < 1 {
        return Err(not_ours());
    }
    if version > LATEST_VERSION {
        return Err(StoreError::Invalid {
            message: format!(
                "`{}` has schema version {version}, but this crmsync knows only up to version {LATEST_VERSION}; upgrade crmsync to restore it; nothing was changed",
                path.display()
            ),
        });
    }
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|_| not_ours())?;
    if check != "ok" {
        return Err(not_ours());
    }
    let count = |sql: &str| read(sql).map(|n| n as u64).map_err(|_| not_ours());
    let state_id = conn
        .query_row("SELECT value FROM meta WHERE key = 'state_id'", [], |r| {
            r.get(0)
        })
        .ok();
    Ok(StateFileInfo {
        path: path.to_path_buf(),
        schema_version: version,
        state_id,
        records: count("SELECT count(*) FROM records")?,
        runs: count("SELECT count(*) FROM runs")?,
    })
}

/// Puts a copy of `from` (checked with [`inspect`] first) in place of the state file at
/// `state_path`; the caller holds the run lock. The copy is made beside the state file and
/// renamed over it, so a failure half-way leaves the old file as it was; the old file's
/// write-ahead log is checkpointed and removed first, as SQLite would otherwise replay it into
/// the new file. An older schema is upgraded by the next [`Store::open`].
pub fn replace_state_file(state_path: &Path, from: &Path) -> Result<StateFileInfo, StoreError> {
    let info = inspect(from)?;
    let sibling = |suffix: &str| {
        let mut name = state_path.as_os_str().to_os_string();
        name.push(suffix);
        PathBuf::from(name)
    };
    let tmp = sibling(".restoring");
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    };
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io("remove", &tmp)(e));
        }
        _ => {}
    }
    create_private_file(&tmp)?;
    let copied = Connection::open(&tmp).and_then(|mut c| {
        c.restore(
            rusqlite::MAIN_DB,
            from,
            None::<fn(rusqlite::backup::Progress)>,
        )
    });
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp);
        return Err(sql_error(from, "copy the backup", e));
    }
    if state_path.exists() {
        Connection::open(state_path)
            .and_then(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))
            .map_err(|e| sql_error(state_path, "checkpoint the state file", e))?;
    }
    for suffix in ["-wal", "-shm"] {
        let p = sibling(suffix);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("remove", &p)(e));
            }
            _ => {}
        }
    }
    std::fs::rename(&tmp, state_path).map_err(io("replace", state_path))?;
    Ok(info)
}
