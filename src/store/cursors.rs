//! Cursors: per connection and kind, the CRM's change cursor and the last local change
//! number the connection has considered.

use rusqlite::{OptionalExtension, params};

use super::open::Store;
use super::types::StoreError;
use crate::model::ObjectKind;

impl Store {
    /// The CRM's change cursor of `connection` and `kind`, if a sync stored one.
    pub fn remote_cursor(
        &self,
        connection: &str,
        kind: ObjectKind,
    ) -> Result<Option<String>, StoreError> {
        let v: Option<Option<String>> = self
            .conn
            .prepare_cached("SELECT remote_cursor FROM cursors WHERE connection = ?1 AND kind = ?2")
            .and_then(|mut s| {
                s.query_row(params![connection, kind.as_str()], |r| r.get(0))
                    .optional()
            })
            .map_err(|e| self.sql("read a cursor", e))?;
        Ok(v.flatten())
    }

    /// Stores (or with `None` forgets) the CRM's change cursor of `connection` and `kind`.
    pub fn set_remote_cursor(
        &mut self,
        connection: &str,
        kind: ObjectKind,
        cursor: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO cursors(connection, kind, remote_cursor) VALUES (?1, ?2, ?3)
                 ON CONFLICT(connection, kind) DO UPDATE SET remote_cursor = excluded.remote_cursor",
            )
            .and_then(|mut s| s.execute(params![connection, kind.as_str(), cursor]))
            .map(drop)
            .map_err(|e| self.sql("write a cursor", e))
    }

    /// The last local change number `connection` has considered for `kind` (0 = none).
    pub fn local_cursor(&self, connection: &str, kind: ObjectKind) -> Result<i64, StoreError> {
        let v: Option<i64> = self
            .conn
            .prepare_cached("SELECT local_seq FROM cursors WHERE connection = ?1 AND kind = ?2")
            .and_then(|mut s| {
                s.query_row(params![connection, kind.as_str()], |r| r.get(0))
                    .optional()
            })
            .map_err(|e| self.sql("read a cursor", e))?;
        Ok(v.unwrap_or(0))
    }

    /// Stores the last local change number `connection` has considered for `kind`.
    pub fn set_local_cursor(
        &mut self,
        connection: &str,
        kind: ObjectKind,
        seq: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO cursors(connection, kind, local_seq) VALUES (?1, ?2, ?3)
                 ON CONFLICT(connection, kind) DO UPDATE SET local_seq = excluded.local_seq",
            )
            .and_then(|mut s| s.execute(params![connection, kind.as_str(), seq]))
            .map(drop)
            .map_err(|e| self.sql("write a cursor", e))
    }

    /// Forgets both cursors of `connection` (every kind), so the next sync is a full one.
    pub fn reset_cursors(&mut self, connection: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM cursors WHERE connection = ?1")
            .and_then(|mut s| s.execute([connection]))
            .map(drop)
            .map_err(|e| self.sql("reset cursors", e))
    }
}
