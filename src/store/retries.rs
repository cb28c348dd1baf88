//! Re-queueing chosen failures: the automatic tries a sync makes of the failed records whose
//! wait is over, and `crmsync retry RECORD` / `retry --parked`. Which failures are due or
//! parked is the engine's decision ([`crate::engine::retry`]); this stores it.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::{Transaction, params};

use super::open::Store;
use super::sql::{begin, commit, read_seq, sql_error, write_seq};
use super::types::{Failure, StoreError};

impl Store {
    /// Makes the next push try these failed records again, as
    /// [`Store::requeue_failures`] does for all: each record gets a new local change number
    /// (once, however many of its failures are named) and each named failure is marked
    /// re-queued. `by_person` (`crmsync retry`) also starts its automatic tries afresh; an
    /// automatic try keeps counting. Returns how many records were re-queued.
    pub fn requeue_these(
        &mut self,
        failures: &[Failure],
        by_person: bool,
    ) -> Result<usize, StoreError> {
        if failures.is_empty() {
            return Ok(0);
        }
        let now = self.clock.now();
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let ids: BTreeSet<&str> = failures.iter().map(|f| f.local_id.as_str()).collect();
        let requeued = bump_seqs(&tx, &path, ids)?;
        for f in failures {
            tx.prepare_cached(
                "UPDATE failures SET requeued_at = ?4,
                     requeued_attempts = CASE WHEN ?5 THEN attempts ELSE requeued_attempts END
                 WHERE connection = ?1 AND kind = ?2 AND local_id = ?3",
            )
            .and_then(|mut s| {
                s.execute(params![
                    f.connection,
                    f.kind.as_str(),
                    f.local_id.as_str(),
                    now,
                    by_person
                ])
            })
            .map_err(|e| sql_error(&path, "mark a failure re-queued", e))?;
        }
        commit(tx, &path, "commit the re-queue")?;
        Ok(requeued)
    }
}

/// Gives each of these records a new local change number, in the order given, so that every
/// connection's next push reads it again; returns how many of them exist.
pub(super) fn bump_seqs<'i>(
    tx: &Transaction<'_>,
    path: &Path,
    ids: impl IntoIterator<Item = &'i str>,
) -> Result<usize, StoreError> {
    let mut seq = read_seq(tx, path)?;
    let mut bumped = 0;
    for id in ids {
        let n = tx
            .prepare_cached("UPDATE records SET seq = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, seq + 1]))
            .map_err(|e| sql_error(path, "re-queue a record", e))?;
        if n > 0 {
            seq += 1;
            bumped += 1;
        }
    }
    write_seq(tx, path, seq)?;
    Ok(bumped)
}
