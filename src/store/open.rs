//! The open state file: opening, configuring the connection, bulk loads and the `meta` table.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};

use super::checkpoint;
use super::lock::RunLock;
use super::schema::{self, LATEST_VERSION};
use super::sql::{BUSY_TIMEOUT, sql_error};
use super::types::StoreError;
use crate::clock::Clock;

/// The open state file.
pub struct Store {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
    pub(super) clock: Arc<dyn Clock>,
    /// Set during a bulk load: see [`Store::begin_bulk_load`].
    pub(super) checkpointer: Option<checkpoint::Checkpointer>,
    /// Whether a bulk load has set the [`schema::DEFERRABLE_RECORD_INDEXES`] aside. A `Cell`,
    /// because a lookup that needs them (`&self`) builds them again first.
    pub(super) indexes_aside: std::cell::Cell<bool>,
    /// When a run copies the file before its writes (see `backup.rs`).
    pub(super) backups: super::backup::BackupPolicy,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

pub(super) const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The page size of new state files. Larger pages than SQLite's 4 KiB default make the
/// B-trees of a large import shallower, with fewer page splits: a million-row import spends
/// about a third less CPU inside SQLite at 16 KiB. A file keeps the page size it was made
/// with (changing it needs a `VACUUM` outside WAL mode), so older files stay at 4 KiB.
pub(super) const PAGE_SIZE: i64 = 16_384;

/// `PRAGMA cache_size` of every connection: 64 MiB.
const CACHE_SIZE: i64 = -65_536;

/// Rows a bulk load must expect before it sets the record indexes aside: below this,
/// keeping them up to date costs too little to be worth a rebuild.
pub const BULK_INDEX_ROWS: u64 = 50_000;

impl Store {
    /// Opens (creating and migrating as needed) the state file at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let existed = check_header(path)?;
        if !existed {
            create_private_file(path)?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(path, e))?;
        // SQLite opens a write-protected file for reading without a word; the first write
        // would fail with "attempt to write a readonly database".
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(StoreError::ReadOnly {
                path: path.to_path_buf(),
            });
        }
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            clock: crate::clock::from_env(),
            checkpointer: None,
            indexes_aside: std::cell::Cell::new(false),
            backups: Default::default(),
        };
        // Everything up to here only read the file; refuse before the first write.
        let version = store.check_identity()?;
        if version > LATEST_VERSION {
            return Err(StoreError::TooNew {
                path: store.path.clone(),
                found: version,
                supported: LATEST_VERSION,
            });
        }
        store.configure(false)?;
        // Every schema upgrade is preceded by a copy of the file as it was.
        if version > 0 && version < LATEST_VERSION {
            store.backup_beside(None, &format!(".v{version}"))?;
        }
        schema::migrate(&mut store.conn, &store.path)?;
        // A bulk load killed before its end left its indexes aside: they are built now.
        store.build_deferred_indexes()?;
        Ok(store)
    }

    /// Opens an existing, up-to-date state file for reading only (`status`, listings); never
    /// creates, migrates or writes.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !check_header(path)? {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(path, e))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            clock: crate::clock::from_env(),
            checkpointer: None,
            indexes_aside: std::cell::Cell::new(false),
            backups: Default::default(),
        };
        let version = store.check_identity()?;
        if version > LATEST_VERSION {
            return Err(StoreError::TooNew {
                path: store.path.clone(),
                found: version,
                supported: LATEST_VERSION,
            });
        }
        if version < LATEST_VERSION {
            return Err(StoreError::NeedsUpgrade {
                path: store.path.clone(),
                found: version,
                supported: LATEST_VERSION,
            });
        }
        store.configure(true)?;
        Ok(store)
    }

    /// Starts a bulk load (a large import) expected to bring about `expected_rows` records
    /// (0: not known, or the load looks records up by match key as it goes). Until
    /// [`Store::end_bulk_load`]:
    ///
    /// * WAL checkpoints run on a thread of their own instead of after the commits that fill
    ///   the log, so saving and copying pages into the database file overlap;
    /// * when at least [`BULK_INDEX_ROWS`] rows are expected and the file holds no more
    ///   records than that, the secondary indexes of `records` are set aside and built once
    ///   at the end: one sorted build costs far less than keeping them up to date row by
    ///   row. A lookup that needs them during the load builds them first.
    ///
    /// Durability is the same either way: the indexes are dropped in a transaction of their
    /// own, and a load killed before its end leaves a file whose next open builds them.
    /// Calling it again while a bulk load runs does nothing.
    pub fn begin_bulk_load(&mut self, expected_rows: u64) -> Result<(), StoreError> {
        if self.checkpointer.is_some() {
            return Ok(());
        }
        if expected_rows >= BULK_INDEX_ROWS && !self.indexes_aside.get() {
            let stored: i64 = self
                .conn
                .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
                .map_err(|e| self.sql("count records", e))?;
            if stored as u64 <= expected_rows {
                self.set_indexes_aside()?;
            }
        }
        self.checkpointer = Some(checkpoint::Checkpointer::start(&self.conn, &self.path)?);
        Ok(())
    }

    /// Ends a bulk load begun by [`Store::begin_bulk_load`] (else does nothing): builds the
    /// indexes it set aside, and the store checkpoints after its commits again, starting with
    /// what the log holds now.
    pub fn end_bulk_load(&mut self) -> Result<(), StoreError> {
        let built = self.build_deferred_indexes();
        let finished = match self.checkpointer.take() {
            Some(c) => c.finish(&self.conn, &self.path),
            None => Ok(()),
        };
        built.and(finished)
    }

    fn set_indexes_aside(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sql_error(&self.path, "set indexes aside", e))?;
        for (name, _) in schema::DEFERRABLE_RECORD_INDEXES {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
                .map_err(|e| sql_error(&self.path, "set indexes aside", e))?;
        }
        tx.commit()
            .map_err(|e| sql_error(&self.path, "set indexes aside", e))?;
        self.indexes_aside.set(true);
        Ok(())
    }

    /// Builds whichever of the [`schema::DEFERRABLE_RECORD_INDEXES`] the file lacks: all of
    /// them after a bulk load set them aside, none (at the cost of one read of the schema)
    /// otherwise.
    fn build_deferred_indexes(&self) -> Result<(), StoreError> {
        let mut missing = Vec::new();
        for (name, create) in schema::DEFERRABLE_RECORD_INDEXES {
            let present: bool = self
                .conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?1)",
                )
                .and_then(|mut s| s.query_row([name], |r| r.get(0)))
                .map_err(|e| self.sql("read the schema", e))?;
            if !present {
                missing.push(*create);
            }
        }
        if !missing.is_empty() {
            // The build sorts every entry, in memory up to the page cache's size and in
            // temporary files past it; both are made small for it, so that a million-row
            // load's sort does not add a hundred MB to its memory.
            let sql = format!(
                "PRAGMA temp_store = FILE; PRAGMA cache_size = -8192;
                 BEGIN; {}; COMMIT;",
                missing.join("; ")
            );
            let built = self.conn.execute_batch(&sql).map_err(|e| {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.sql("build the record indexes", e)
            });
            self.conn
                .execute_batch(&format!(
                    "PRAGMA temp_store = MEMORY; PRAGMA cache_size = {CACHE_SIZE};"
                ))
                .map_err(|e| self.sql("configure the connection", e))?;
            built?;
        }
        self.indexes_aside.set(false);
        Ok(())
    }

    /// Called before a lookup that needs the record indexes: builds them if a bulk load set
    /// them aside.
    pub(super) fn need_record_indexes(&self) -> Result<(), StoreError> {
        if self.indexes_aside.get() {
            self.build_deferred_indexes()?;
        }
        Ok(())
    }

    /// Uses `clock` for the times the store stamps itself (audit rows of `save_records`).
    pub fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    /// The path of the state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the run lock of this state file; see [`RunLock`].
    pub fn lock(&self) -> Result<RunLock, StoreError> {
        RunLock::acquire(&self.path)
    }

    /// Takes the run lock of this state file, telling `waiting` the listener's PID when it
    /// has to wait for the listener's batch; see [`RunLock::acquire_noting`].
    pub fn lock_noting(&self, waiting: &dyn Fn(u32)) -> Result<RunLock, StoreError> {
        RunLock::acquire_noting(&self.path, waiting)
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql("read the schema version", e))
    }

    /// The state file's identity: random, made when the file was created or upgraded.
    pub fn state_id(&self) -> Result<Option<String>, StoreError> {
        self.meta_get("state_id")
    }

    /// A value of the key/value `meta` table.
    pub fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(|e| self.sql("read meta", e))
    }

    /// Sets a value of the key/value `meta` table.
    pub fn meta_set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute([key, value]))
            .map(drop)
            .map_err(|e| self.sql("write meta", e))
    }

    /// Reads `user_version` and checks the file is ours (or empty); no writes.
    fn check_identity(&mut self) -> Result<i64, StoreError> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.sql("set busy_timeout", e))?;
        let read = |c: &Connection| -> rusqlite::Result<(i64, i64, i64)> {
            let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            let app: i64 = c.query_row("PRAGMA application_id", [], |r| r.get(0))?;
            let objects: i64 =
                c.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
            Ok((version, app, objects))
        };
        let (version, app, objects) = read(&self.conn).map_err(|e| open_error(&self.path, e))?;
        let ours = app == schema::APPLICATION_ID || (app == 0 && version == 0 && objects == 0);
        if !ours {
            return Err(StoreError::NotAStateFile {
                path: self.path.clone(),
            });
        }
        Ok(version)
    }

    fn configure(&mut self, read_only: bool) -> Result<(), StoreError> {
        let c = &self.conn;
        let r = (|| -> rusqlite::Result<()> {
            if !read_only {
                // Takes effect only on a file with nothing in it yet (and before WAL mode).
                c.pragma_update(None, "page_size", PAGE_SIZE)?;
                c.pragma_update(None, "journal_mode", "WAL")?;
            }
            c.pragma_update(None, "synchronous", "NORMAL")?;
            c.pragma_update(None, "foreign_keys", "ON")?;
            // 64 MiB of page cache: index inserts of a large import stay in memory instead of
            // re-reading pages (the default is 2 MiB).
            c.pragma_update(None, "cache_size", CACHE_SIZE)?;
            c.pragma_update(None, "temp_store", "MEMORY")?;
            c.set_prepared_statement_cache_capacity(64);
            Ok(())
        })();
        r.map_err(|e| self.sql("configure the connection", e))
    }

    pub(super) fn sql(&self, context: &str, source: rusqlite::Error) -> StoreError {
        sql_error(&self.path, context, source)
    }

    pub(super) fn corrupt(&self, message: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            message: message.into(),
        }
    }
}

fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    sql_error(path, "open", e)
}

/// Returns whether a non-empty file exists at `path`, refusing one that does not start like
/// an SQLite database. Reading the header ourselves means SQLite never gets the chance to
/// write to a file that is not one.
pub(super) fn check_header(path: &Path) -> Result<bool, StoreError> {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(StoreError::Io {
                action: "open",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut header = Vec::with_capacity(16);
    (&mut file)
        .take(16)
        .read_to_end(&mut header)
        .map_err(|source| StoreError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
    if header.is_empty() {
        return Ok(false);
    }
    if header.as_slice() != SQLITE_MAGIC {
        return Err(StoreError::NotAStateFile {
            path: path.to_path_buf(),
        });
    }
    Ok(true)
}

/// Creates the parent directory and an empty state file readable by its owner only (the
/// file holds customer data); SQLite gives its `-wal` and `-shm` files the same mode.
pub(super) fn create_private_file(path: &Path) -> Result<(), StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|source| StoreError::Io {
            action: "create the directory",
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|source| StoreError::Io {
        action: "create",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(())
}
