//! WAL checkpoints on a thread of their own, for bulk loads.
//!
//! In WAL mode every commit appends pages to the `-wal` file, and by default the committing
//! connection then copies them back into the database file itself (an automatic checkpoint,
//! with an `fsync`) once the log holds 1,000 pages. A bulk import commits a batch every few
//! thousand rows, so that copy and its `fsync` run on the saving thread after almost every
//! batch. While a [`Checkpointer`] runs, the saving connection leaves checkpoints alone and a
//! second connection to the same file does them (`PRAGMA wal_checkpoint(PASSIVE)`, which
//! never blocks the writer), so saving and copying overlap.
//!
//! Durability is unchanged: a commit is in the log before it returns, checkpointed or not, and
//! a process killed at any point leaves a log that the next open replays. Should the copying
//! ever fall behind, the writer takes over once the log passes [`WAL_CEILING_BYTES`], so the
//! log cannot grow without bound.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::sql::{BUSY_TIMEOUT, sql_error};
use super::types::StoreError;

/// How often the thread looks for new log pages to copy.
const POLL: Duration = Duration::from_millis(20);

/// SQLite's own automatic checkpoint threshold, in pages, put back when a bulk load ends.
const DEFAULT_AUTOCHECKPOINT: i64 = 1000;

/// While a [`Checkpointer`] runs, the writer checkpoints only when the log holds this much,
/// as a ceiling in case the thread cannot keep up.
const WAL_CEILING_BYTES: i64 = 256 << 20;

/// [`WAL_CEILING_BYTES`] in pages of the file `conn` has open.
pub(super) fn wal_ceiling_pages(conn: &Connection) -> rusqlite::Result<i64> {
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(WAL_CEILING_BYTES / page_size.max(512))
}

pub(super) struct Checkpointer {
    stop: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing `path` on a new thread and makes `writer` leave it to that thread.
    pub(super) fn start(writer: &Connection, path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sql_error(path, "open a connection for checkpoints", e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| sql_error(path, "set busy_timeout", e))?;
        wal_ceiling_pages(writer)
            .and_then(|pages| writer.pragma_update(None, "wal_autocheckpoint", pages))
            .map_err(|e| sql_error(path, "hand checkpoints to their own thread", e))?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("crmsync-checkpoint".into())
            .spawn(move || {
                loop {
                    // A failed checkpoint is not an error for anyone: the pages stay in the
                    // log, which the writer checkpoints itself past the ceiling or at the end.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    match stopped.recv_timeout(POLL) {
                        Err(RecvTimeoutError::Timeout) => continue,
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            })
            .map_err(|e| StoreError::Invalid {
                message: format!("cannot start the checkpoint thread: {e}"),
            })?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread and gives checkpoints back to `writer`, which copies what is left.
    pub(super) fn finish(mut self, writer: &Connection, path: &Path) -> Result<(), StoreError> {
        self.join();
        writer
            .pragma_update(None, "wal_autocheckpoint", DEFAULT_AUTOCHECKPOINT)
            .map_err(|e| sql_error(path, "restore automatic checkpoints", e))?;
        writer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(|e| sql_error(path, "checkpoint the log", e))
    }

    fn join(&mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.join();
    }
}
