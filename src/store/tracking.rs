//! Conflicts, runs, record-state counts and leases.

use rusqlite::{OptionalExtension, Row, params};

use super::open::Store;
use super::sql::{begin, commit, parse_kind, sql_error};
use super::types::{
    Conflict, ConflictDecision, ConflictFilter, KindStatus, NewConflict, Run, RunOutcome,
    StoreError,
};
use crate::model::{Millis, ObjectKind, RecordId};

const CONFLICT_COLUMNS: &str = "id, connection, kind, local_id, field, base, local, remote, \
                                detected_at, resolved_at, resolution, resolved_by, \
                                run, policy, outcome, local_updated_at, local_time_source, \
                                remote_updated_at, remote_time_source";

type RawConflict = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Millis,
    Option<Millis>,
    Option<String>,
    Option<String>,
    Option<ConflictDecision>,
);

fn raw_conflict(r: &Row<'_>) -> rusqlite::Result<RawConflict> {
    // Written together, so one absent column means a row from before schema version 4.
    let decision = match (
        r.get::<_, Option<String>>(13)?,
        r.get::<_, Option<String>>(14)?,
        r.get::<_, Option<Millis>>(15)?,
        r.get::<_, Option<String>>(16)?,
        r.get::<_, Option<Millis>>(17)?,
        r.get::<_, Option<String>>(18)?,
    ) {
        (
            Some(policy),
            Some(outcome),
            Some(local_updated_at),
            Some(local_time_source),
            Some(remote_updated_at),
            Some(remote_time_source),
        ) => Some(ConflictDecision {
            run: r.get(12)?,
            policy,
            outcome,
            local_updated_at,
            local_time_source,
            remote_updated_at,
            remote_time_source,
        }),
        _ => None,
    };
    Ok((
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
        decision,
    ))
}

pub(super) const RUN_COLUMNS: &str =
    "id, command, connections, started_at, finished_at, outcome, counts, error";

pub(super) type RawRun = (
    i64,
    String,
    String,
    Millis,
    Option<Millis>,
    Option<String>,
    String,
    Option<String>,
);

pub(super) fn raw_run(r: &Row<'_>) -> rusqlite::Result<RawRun> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

impl Store {
    fn conflict_from(&self, r: RawConflict) -> Result<Conflict, StoreError> {
        Ok(Conflict {
            id: r.0,
            connection: r.1,
            kind: parse_kind(&self.path, &r.2)?,
            local_id: RecordId(r.3),
            field: r.4,
            base: r.5,
            local: r.6,
            remote: r.7,
            detected_at: r.8,
            resolved_at: r.9,
            resolution: r.10,
            resolved_by: r.11,
            decision: r.12,
        })
    }

    // ---- conflicts ---------------------------------------------------------------------

    /// Stores a detected conflict and returns its id; when the same (connection, record,
    /// field) already has an open conflict, its values and outcome are replaced instead (the
    /// first detection time is kept, and so is the decision's run, policy and times while the
    /// values and outcome are the same).
    pub fn upsert_conflict(&mut self, c: &NewConflict) -> Result<i64, StoreError> {
        let tx = begin(&mut self.conn, &self.path)?;
        let d = &c.decision;
        // The same values met again (this run's push after its pull, or a later run) keep
        // the decision that first met them: its times are those of the edits, while a later
        // meeting may only see the record times of crmsync's own writes since.
        let same = "(conflicts.local IS excluded.local AND conflicts.remote IS excluded.remote
                     AND conflicts.outcome IS excluded.outcome)";
        let id: i64 = tx
            .prepare_cached(&format!(
                "INSERT INTO conflicts(connection, kind, local_id, field, base, local, remote,
                                       detected_at, run, policy, outcome, local_updated_at,
                                       local_time_source, remote_updated_at, remote_time_source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT(connection, local_id, field) WHERE resolved_at IS NULL
                 DO UPDATE SET base = excluded.base, local = excluded.local,
                               remote = excluded.remote,
                               run = iif({same}, conflicts.run, excluded.run),
                               policy = iif({same}, conflicts.policy, excluded.policy),
                               outcome = excluded.outcome,
                               local_updated_at =
                                   iif({same}, conflicts.local_updated_at, excluded.local_updated_at),
                               local_time_source =
                                   iif({same}, conflicts.local_time_source, excluded.local_time_source),
                               remote_updated_at =
                                   iif({same}, conflicts.remote_updated_at, excluded.remote_updated_at),
                               remote_time_source =
                                   iif({same}, conflicts.remote_time_source, excluded.remote_time_source)
                 RETURNING id"
            ))
            .and_then(|mut s| {
                s.query_row(
                    params![
                        c.connection,
                        c.kind.as_str(),
                        c.local_id.as_str(),
                        c.field,
                        c.base,
                        c.local,
                        c.remote,
                        c.detected_at,
                        d.run,
                        d.policy,
                        d.outcome,
                        d.local_updated_at,
                        d.local_time_source,
                        d.remote_updated_at,
                        d.remote_time_source,
                    ],
                    |r| r.get(0),
                )
            })
            .map_err(|e| sql_error(&self.path, "write a conflict", e))?;
        commit(tx, &self.path, "commit a conflict")?;
        Ok(id)
    }

    /// How many conflicts (open or resolved) were ever recorded for a record's field.
    pub fn conflict_history(&self, local_id: &RecordId, field: &str) -> Result<u64, StoreError> {
        self.conn
            .prepare_cached("SELECT COUNT(*) FROM conflicts WHERE local_id = ?1 AND field = ?2")
            .and_then(|mut s| {
                s.query_row(params![local_id.as_str(), field], |r| r.get::<_, i64>(0))
            })
            .map(|n| n as u64)
            .map_err(|e| self.sql("count conflicts", e))
    }

    /// Open conflicts matching `filter`, oldest first.
    pub fn list_open_conflicts(
        &self,
        filter: &ConflictFilter,
    ) -> Result<Vec<Conflict>, StoreError> {
        self.conflicts_where(filter, true)
    }

    /// Every conflict (open, resolved, decided by a policy) matching `filter`, oldest first:
    /// the history that `explain` and `log` show.
    pub fn list_conflicts(&self, filter: &ConflictFilter) -> Result<Vec<Conflict>, StoreError> {
        self.conflicts_where(filter, false)
    }

    fn conflicts_where(
        &self,
        filter: &ConflictFilter,
        open_only: bool,
    ) -> Result<Vec<Conflict>, StoreError> {
        // Spelled out, not a parameter, so that the open conflicts' partial indexes apply.
        let open = if open_only {
            "resolved_at IS NULL"
        } else {
            "1"
        };
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {CONFLICT_COLUMNS} FROM conflicts
                 WHERE {open}
                   AND (?1 IS NULL OR connection = ?1) AND (?2 IS NULL OR kind = ?2)
                   AND (?3 IS NULL OR local_id = ?3) AND (?4 IS NULL OR field = ?4)
                 ORDER BY id"
            ))
            .map_err(|e| self.sql("prepare a conflict query", e))?;
        let rows = stmt
            .query_map(
                params![
                    filter.connection,
                    filter.kind.map(ObjectKind::as_str),
                    filter.local_id.as_ref().map(RecordId::as_str),
                    filter.field,
                ],
                raw_conflict,
            )
            .map_err(|e| self.sql("read conflicts", e))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(self.conflict_from(row.map_err(|e| self.sql("read conflicts", e))?)?);
        }
        Ok(out)
    }

    /// The conflict with id `id`, open or resolved.
    pub fn get_conflict(&self, id: i64) -> Result<Option<Conflict>, StoreError> {
        let raw = self
            .conn
            .prepare_cached(&format!(
                "SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE id = ?1"
            ))
            .and_then(|mut s| s.query_row([id], raw_conflict).optional())
            .map_err(|e| self.sql("read a conflict", e))?;
        raw.map(|r| self.conflict_from(r)).transpose()
    }

    /// Marks open conflict `id` resolved with `value` (`None` = the field is cleared), chosen
    /// `how` (`local`, `remote`, `value`, a policy name); the caller applies the value.
    pub fn resolve_conflict(
        &mut self,
        id: i64,
        value: Option<&str>,
        how: &str,
        at: Millis,
    ) -> Result<Conflict, StoreError> {
        let tx = begin(&mut self.conn, &self.path)?;
        let n = tx
            .prepare_cached(
                "UPDATE conflicts SET resolved_at = ?2, resolution = ?3, resolved_by = ?4
                 WHERE id = ?1 AND resolved_at IS NULL",
            )
            .and_then(|mut s| s.execute(params![id, at, value, how]))
            .map_err(|e| sql_error(&self.path, "resolve a conflict", e))?;
        commit(tx, &self.path, "commit a resolution")?;
        let conflict = self.get_conflict(id)?;
        match (n, conflict) {
            (1, Some(c)) => Ok(c),
            (_, Some(c)) => Err(StoreError::Invalid {
                message: format!(
                    "conflict {id} was already resolved (as `{}` by `{}`)",
                    c.resolution.unwrap_or_default(),
                    c.resolved_by.unwrap_or_default()
                ),
            }),
            (_, None) => Err(StoreError::Invalid {
                message: format!("there is no conflict {id}; run `crmsync conflicts` to list them"),
            }),
        }
    }

    // ---- runs --------------------------------------------------------------------------

    /// Records the start of a command run and returns its id.
    pub fn begin_run(
        &mut self,
        command: &str,
        connections: &[String],
        started_at: Millis,
    ) -> Result<i64, StoreError> {
        let list = serde_json::to_string(connections).unwrap_or_else(|_| "[]".into());
        self.conn
            .prepare_cached(
                "INSERT INTO runs(command, connections, started_at) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![command, list, started_at]))
            .map_err(|e| self.sql("record a run", e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records how run `id` ended, with its counts (a JSON object) and error text.
    pub fn finish_run(
        &mut self,
        id: i64,
        outcome: RunOutcome,
        counts: &serde_json::Value,
        error: Option<&str>,
        finished_at: Millis,
    ) -> Result<(), StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE runs SET outcome = ?2, counts = ?3, error = ?4, finished_at = ?5
                 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    outcome.as_str(),
                    counts.to_string(),
                    error,
                    finished_at
                ])
            })
            .map_err(|e| self.sql("finish a run", e))?;
        if n == 0 {
            return Err(StoreError::Invalid {
                message: format!("there is no run {id} to finish"),
            });
        }
        Ok(())
    }

    /// The latest `limit` runs, newest first.
    pub fn list_runs(&self, limit: usize) -> Result<Vec<Run>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?1"
            ))
            .map_err(|e| self.sql("prepare a run query", e))?;
        let rows = stmt
            .query_map([limit], raw_run)
            .map_err(|e| self.sql("read runs", e))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(self.run_from(row.map_err(|e| self.sql("read runs", e))?)?);
        }
        Ok(out)
    }

    /// When the last `sync` run that included `connection` finished with outcome `ok`.
    pub fn last_successful_sync(&self, connection: &str) -> Result<Option<Millis>, StoreError> {
        let v: Option<Option<Millis>> = self
            .conn
            .prepare_cached(
                "SELECT finished_at FROM runs
                 WHERE command = 'sync' AND outcome = 'ok'
                   AND EXISTS (SELECT 1 FROM json_each(runs.connections) WHERE value = ?1)
                 ORDER BY id DESC LIMIT 1",
            )
            .and_then(|mut s| s.query_row([connection], |r| r.get(0)).optional())
            .map_err(|e| self.sql("read runs", e))?;
        Ok(v.flatten())
    }

    pub(super) fn run_from(&self, r: RawRun) -> Result<Run, StoreError> {
        let connections = serde_json::from_str(&r.2)
            .map_err(|e| self.corrupt(format!("run {}: bad connection list: {e}", r.0)))?;
        let outcome = match r.5 {
            None => None,
            Some(s) => Some(
                RunOutcome::parse(&s)
                    .ok_or_else(|| self.corrupt(format!("run {}: unknown outcome `{s}`", r.0)))?,
            ),
        };
        let counts = serde_json::from_str(&r.6)
            .map_err(|e| self.corrupt(format!("run {}: bad counts: {e}", r.0)))?;
        Ok(Run {
            id: r.0,
            command: r.1,
            connections,
            started_at: r.3,
            finished_at: r.4,
            outcome,
            counts,
            error: r.7,
        })
    }

    // ---- status ------------------------------------------------------------------------

    /// Record-state counts of `kind` for `connection`. Cost is proportional to the records
    /// that are not in step (changed, failed, in conflict) plus archived ones, and two index
    /// counts; no record's JSON is read.
    pub fn status(&self, connection: &str, kind: ObjectKind) -> Result<KindStatus, StoreError> {
        let cursor = self.local_cursor(connection, kind)?;
        let k = kind.as_str();
        let total = self.count_records(kind, true)?;
        let active = self.count_records(kind, false)?;
        let archived = total - active;
        // Only live links count: a link retired by an archive is synced no more, and an
        // archived record is not `synced` however it is linked.
        let linked = self.count_live_links(connection, kind)?;
        let linked_archived: i64 = if archived == 0 {
            0
        } else {
            self.conn
                .prepare_cached(
                    "SELECT count(*) FROM records r
                     JOIN links l ON l.connection = ?1 AND l.kind = ?2 AND l.local_id = r.id
                     WHERE r.kind = ?2 AND r.archived_at IS NOT NULL AND l.retired = 0",
                )
                .and_then(|mut s| s.query_row(params![connection, k], |r| r.get(0)))
                .map_err(|e| self.sql("count archived links", e))?
        };
        let active_linked = linked - linked_archived as u64;

        let mut stmt = self
            .conn
            .prepare_cached(
                "WITH
                   cf AS (SELECT DISTINCT local_id AS id FROM conflicts
                          WHERE connection = ?1 AND kind = ?2 AND resolved_at IS NULL),
                   fl AS (SELECT local_id AS id FROM failures
                          WHERE connection = ?1 AND kind = ?2 AND requeued_at IS NULL),
                   pd AS (SELECT id FROM records WHERE kind = ?2 AND seq > ?3
                          UNION SELECT local_id FROM journal WHERE connection = ?1 AND kind = ?2),
                   dirty AS (SELECT id, 1 AS state FROM cf
                             UNION ALL SELECT id, 2 FROM fl WHERE id NOT IN cf
                             UNION ALL SELECT id, 3 FROM pd WHERE id NOT IN cf AND id NOT IN fl)
                 SELECT d.state, l.local_id IS NOT NULL, coalesce(r.archived_at IS NULL, 0),
                        count(*)
                 FROM dirty d
                 LEFT JOIN links l ON l.connection = ?1 AND l.kind = ?2 AND l.local_id = d.id
                                   AND l.retired = 0
                 LEFT JOIN records r ON r.id = d.id
                 GROUP BY 1, 2, 3",
            )
            .map_err(|e| self.sql("prepare the status query", e))?;
        let rows = stmt
            .query_map(params![connection, k, cursor], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, i64>(3)? as u64,
                ))
            })
            .map_err(|e| self.sql("count record states", e))?;
        let mut s = KindStatus {
            kind,
            synced: 0,
            local_only: 0,
            pending: 0,
            error: 0,
            conflict: 0,
            queue_depth: 0,
        };
        let (mut dirty_active_linked, mut dirty_active_unlinked) = (0, 0);
        for row in rows {
            let (state, is_linked, is_active, n) =
                row.map_err(|e| self.sql("count record states", e))?;
            // An archived record that was never linked has nothing to sync: not counted.
            if !is_linked && !is_active {
                continue;
            }
            match state {
                1 => s.conflict += n,
                2 => s.error += n,
                _ => s.pending += n,
            }
            match (is_linked, is_active) {
                (true, true) => dirty_active_linked += n,
                (false, _) => dirty_active_unlinked += n,
                (true, false) => {}
            }
        }
        s.synced = active_linked.saturating_sub(dirty_active_linked);
        s.local_only = (active - active_linked).saturating_sub(dirty_active_unlinked);
        s.queue_depth = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM (SELECT id FROM records WHERE kind = ?2 AND seq > ?3
                    UNION SELECT local_id FROM journal WHERE connection = ?1 AND kind = ?2)",
            )
            .and_then(|mut st| st.query_row(params![connection, k, cursor], |r| r.get::<_, i64>(0)))
            .map_err(|e| self.sql("count the queue", e))? as u64;
        Ok(s)
    }

    /// [`Store::status`] of every kind for `connection`, in dependency order; deals only
    /// where the store has any (a store without deals reads as before deals existed).
    pub fn status_all(&self, connection: &str) -> Result<Vec<KindStatus>, StoreError> {
        let mut out = Vec::new();
        for kind in ObjectKind::ALL {
            let s = self.status(connection, kind)?;
            if kind != ObjectKind::Deal || !s.is_empty() {
                out.push(s);
            }
        }
        Ok(out)
    }

    // ---- leases ------------------------------------------------------------------------

    /// Takes lease `name` for `holder` until `now + ttl_ms` if it is free, expired or
    /// already `holder`'s (which renews it); returns whether `holder` now has it.
    pub fn try_acquire_lease(
        &mut self,
        name: &str,
        holder: &str,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT INTO leases(name, holder, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET holder = excluded.holder,
                                                 expires_at = excluded.expires_at
                 WHERE leases.expires_at <= ?4 OR leases.holder = excluded.holder",
            )
            .and_then(|mut s| s.execute(params![name, holder, now.saturating_add(ttl_ms), now]))
            .map_err(|e| self.sql("take a lease", e))?;
        Ok(n == 1)
    }

    /// Gives lease `name` back if `holder` has it; returns whether it did.
    pub fn release_lease(&mut self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM leases WHERE name = ?1 AND holder = ?2")
            .and_then(|mut s| s.execute(params![name, holder]))
            .map_err(|e| self.sql("release a lease", e))?;
        Ok(n == 1)
    }
}
