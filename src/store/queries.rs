//! Read-only questions asked by the status commands.

use rusqlite::OptionalExtension;

use super::{RunOutcome, Store, StoreError};

impl Store {
    /// How the latest `command` run that included `connection` ended: `None` when there was
    /// none, `Some(None)` when it has not finished (running, or the process died).
    pub fn last_run_outcome(
        &self,
        command: &str,
        connection: &str,
    ) -> Result<Option<Option<RunOutcome>>, StoreError> {
        let found: Option<Option<String>> = self
            .conn
            .prepare_cached(
                "SELECT outcome FROM runs
                 WHERE command = ?1
                   AND EXISTS (SELECT 1 FROM json_each(runs.connections) WHERE value = ?2)
                 ORDER BY id DESC LIMIT 1",
            )
            .and_then(|mut s| s.query_row([command, connection], |r| r.get(0)).optional())
            .map_err(|e| self.sql("read runs", e))?;
        match found {
            None => Ok(None),
            Some(None) => Ok(Some(None)),
            Some(Some(s)) => RunOutcome::parse(&s)
                .map(|o| Some(Some(o)))
                .ok_or_else(|| self.corrupt(format!("unknown run outcome `{s}`"))),
        }
    }
}
