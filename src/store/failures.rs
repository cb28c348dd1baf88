//! Failures: the last error of a record's write to a connection, kept for `crmsync retry`.

use std::path::Path;

use rusqlite::{Transaction, params};

use super::open::Store;
use super::sql::{begin, commit, parse_kind, sql_error};
use super::types::{Failure, StoreError, WriteFailure, WriteOp};
use crate::model::{Millis, ObjectKind, RecordId};

pub(super) fn clear_failure_in(
    tx: &Transaction<'_>,
    path: &Path,
    connection: &str,
    kind: ObjectKind,
    local_id: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM failures WHERE connection = ?1 AND kind = ?2 AND local_id = ?3")
        .and_then(|mut s| s.execute(params![connection, kind.as_str(), local_id]))
        .map(drop)
        .map_err(|e| sql_error(path, "clear a failure", e))
}

/// A failure about to be stored.
pub(super) struct FailureRow<'a> {
    pub(super) connection: &'a str,
    pub(super) kind: ObjectKind,
    pub(super) local_id: &'a str,
    pub(super) remote_id: Option<&'a str>,
    pub(super) op: WriteOp,
    pub(super) failure: &'a WriteFailure,
}

pub(super) fn upsert_failure_in(
    tx: &Transaction<'_>,
    path: &Path,
    row: &FailureRow<'_>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO failures(connection, kind, local_id, remote_id, op, message, code,
                              attempts, first_at, last_at, parked_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8, ?9)
         ON CONFLICT(connection, kind, local_id) DO UPDATE SET
             remote_id = coalesce(excluded.remote_id, failures.remote_id), op = excluded.op,
             message = excluded.message, code = excluded.code,
             attempts = failures.attempts + 1, last_at = excluded.last_at,
             requeued_at = NULL, parked_reason = excluded.parked_reason",
    )
    .and_then(|mut s| {
        s.execute(params![
            row.connection,
            row.kind.as_str(),
            row.local_id,
            row.remote_id,
            row.op.as_str(),
            row.failure.message,
            row.failure.code,
            row.failure.at,
            row.failure.permanent,
        ])
    })
    .map(drop)
    .map_err(|e| sql_error(path, "write a failure", e))
}

impl Store {
    /// Stores a failure that happened before anything was journalled (e.g. a value the
    /// mapping could not convert), or counts another attempt of it.
    pub fn record_failure(
        &mut self,
        connection: &str,
        kind: ObjectKind,
        local_id: &RecordId,
        remote_id: Option<&str>,
        op: WriteOp,
        failure: &WriteFailure,
    ) -> Result<(), StoreError> {
        let tx = begin(&mut self.conn, &self.path)?;
        upsert_failure_in(
            &tx,
            &self.path,
            &FailureRow {
                connection,
                kind,
                local_id: local_id.as_str(),
                remote_id,
                op,
                failure,
            },
        )?;
        commit(tx, &self.path, "commit a failure")
    }

    /// Removes the failure of a record for `connection` (after a success outside
    /// [`Store::commit_write`]).
    pub fn clear_failure(
        &mut self,
        connection: &str,
        kind: ObjectKind,
        local_id: &RecordId,
    ) -> Result<(), StoreError> {
        let tx = begin(&mut self.conn, &self.path)?;
        clear_failure_in(&tx, &self.path, connection, kind, local_id.as_str())?;
        commit(tx, &self.path, "clear a failure")
    }

    /// Stored failures (of `connection` if given), oldest last attempt first.
    pub fn list_failures(&self, connection: Option<&str>) -> Result<Vec<Failure>, StoreError> {
        self.query_failures(connection, None)
    }

    /// The failures of one record, across connections.
    pub fn failures_of_record(&self, local_id: &RecordId) -> Result<Vec<Failure>, StoreError> {
        self.query_failures(None, Some(local_id.as_str()))
    }

    fn query_failures(
        &self,
        connection: Option<&str>,
        local_id: Option<&str>,
    ) -> Result<Vec<Failure>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT connection, kind, local_id, remote_id, op, message, code, attempts,
                        first_at, last_at, parked_reason, requeued_attempts
                 FROM failures
                 WHERE (?1 IS NULL OR connection = ?1) AND (?2 IS NULL OR local_id = ?2)
                   AND requeued_at IS NULL
                 ORDER BY last_at, connection, local_id",
            )
            .map_err(|e| self.sql("prepare a failure query", e))?;
        type Raw = (
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            Option<String>,
            i64,
            Millis,
            Millis,
            Option<String>,
            i64,
        );
        let rows = stmt
            .query_map(params![connection, local_id], |r| {
                Ok::<Raw, _>((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                ))
            })
            .map_err(|e| self.sql("read failures", e))?;
        let mut out = Vec::new();
        for row in rows {
            let r = row.map_err(|e| self.sql("read failures", e))?;
            let op = WriteOp::parse(&r.4).ok_or_else(|| {
                self.corrupt(format!("failure of `{}`: unknown op `{}`", r.2, r.4))
            })?;
            out.push(Failure {
                connection: r.0,
                kind: parse_kind(&self.path, &r.1)?,
                local_id: RecordId(r.2),
                remote_id: r.3,
                op,
                message: r.5,
                code: r.6,
                attempts: r.7,
                first_at: r.8,
                last_at: r.9,
                parked_reason: r.10,
                requeued_attempts: r.11,
            });
        }
        Ok(out)
    }

    /// Makes the next sync try the failed records (of `connection` if given) again: each
    /// gets a new local change number, and its failure row is marked re-queued (no longer
    /// listed as failed; a further failure counts on from its attempts and first time, a
    /// success removes it), and its automatic tries start afresh. Returns how many
    /// records were re-queued. The new change number is seen by every connection; for those
    /// that are already in step, the planner finds nothing to do.
    pub fn requeue_failures(&mut self, connection: Option<&str>) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let tx = begin(&mut self.conn, &self.path)?;
        let path = self.path.clone();
        let ids: Vec<String> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT DISTINCT local_id FROM failures
                     WHERE (?1 IS NULL OR connection = ?1) AND requeued_at IS NULL
                     ORDER BY local_id",
                )
                .map_err(|e| sql_error(&path, "prepare a failure query", e))?;
            let rows = stmt
                .query_map([connection], |r| r.get(0))
                .map_err(|e| sql_error(&path, "read failures", e))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(|e| sql_error(&path, "read failures", e))?
        };
        let requeued = super::retries::bump_seqs(&tx, &path, ids.iter().map(String::as_str))?;
        tx.prepare_cached(
            "UPDATE failures SET requeued_at = ?2, requeued_attempts = attempts
             WHERE (?1 IS NULL OR connection = ?1) AND requeued_at IS NULL",
        )
        .and_then(|mut s| s.execute(params![connection, now]))
        .map_err(|e| sql_error(&path, "mark failures re-queued", e))?;
        commit(tx, &self.path, "commit the re-queue")?;
        Ok(requeued)
    }
}
