//! The run log over time: sync runs newest first (for `status --history` and `status
//! --check`), and pruning of old runs and audit entries.

use rusqlite::params;

use super::open::Store;
use super::sql::{begin, commit};
use super::tracking::{RUN_COLUMNS, raw_run};
use super::types::{Run, StoreError};
use crate::model::Millis;

/// What [`Store::prune_log`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    pub runs: u64,
    pub audit: u64,
    /// `listen`'s webhook events done (applied or dropped) and deliveries refused.
    pub webhook_events: u64,
}

impl Store {
    /// Visits the `sync` runs newest first, down to the first that started before `since`
    /// (all of them when `None`; ids grow with time, so the read stops there), until `visit`
    /// answers `false`.
    pub fn visit_sync_runs(
        &self,
        since: Option<Millis>,
        mut visit: impl FnMut(Run) -> bool,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE command = 'sync' ORDER BY id DESC"
            ))
            .map_err(|e| self.sql("prepare a run query", e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sql("read runs", e))?;
        while let Some(row) = rows.next().map_err(|e| self.sql("read runs", e))? {
            let run = self.run_from(raw_run(row).map_err(|e| self.sql("read runs", e))?)?;
            if since.is_some_and(|s| run.started_at < s) || !visit(run) {
                break;
            }
        }
        Ok(())
    }

    /// Removes the runs that started before `before` and the audit entries made before it,
    /// in one transaction, through the time indexes (a prune with nothing to remove reads
    /// one index entry of each table). The newest `sync` run that finished (`ok` or
    /// `partial`) for each of `keep_last_of` stays, however old, so the last successful sync
    /// is still known.
    pub fn prune_log(
        &mut self,
        before: Millis,
        keep_last_of: &[String],
    ) -> Result<Pruned, StoreError> {
        let mut kept: Vec<i64> = Vec::new();
        for name in keep_last_of {
            // One outcome at a time, so each read walks the `runs_outcome` index from its
            // newest entry and stops at the first match.
            let mut last: Option<i64> = None;
            for outcome in ["ok", "partial"] {
                let id: Option<i64> = self
                    .conn
                    .prepare_cached(
                        "SELECT id FROM runs
                         WHERE command = 'sync' AND outcome = ?2
                           AND EXISTS (SELECT 1 FROM json_each(runs.connections) WHERE value = ?1)
                         ORDER BY id DESC LIMIT 1",
                    )
                    .and_then(|mut s| {
                        use rusqlite::OptionalExtension;
                        s.query_row([name.as_str(), outcome], |r| r.get(0))
                            .optional()
                    })
                    .map_err(|e| self.sql("read runs", e))?;
                last = last.max(id);
            }
            kept.extend(last);
        }
        let kept = serde_json::to_string(&kept).unwrap_or_else(|_| "[]".into());
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let pruned = (|| -> rusqlite::Result<Pruned> {
            let runs = tx.execute(
                "DELETE FROM runs WHERE started_at < ?1
                 AND id NOT IN (SELECT value FROM json_each(?2))",
                params![before, kept],
            )?;
            let audit = tx.execute("DELETE FROM audit WHERE at < ?1", [before])?;
            Ok(Pruned {
                runs: runs as u64,
                audit: audit as u64,
                webhook_events: 0,
            })
        })()
        .map_err(|e| super::sql::sql_error(&path, "prune the run log", e))?;
        commit(tx, &path, "commit the pruned run log")?;
        let webhook_events = self.prune_webhook_events(before)? as u64;
        Ok(Pruned {
            webhook_events,
            ..pruned
        })
    }
}
