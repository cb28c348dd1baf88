//! Erasing a record's values: what is left of a record its CRM erased for privacy (HubSpot's
//! GDPR delete), once the record is archived here.

use rusqlite::{OptionalExtension, params};

use super::audit::{AuditRow, insert_audit};
use super::open::Store;
use super::sql::{begin, commit, parse_kind, sql_error};
use super::types::{AuditCause, LOCAL_SIDE, StoreError};
use crate::model::{Millis, ObjectKind, RecordId};

/// The audit `field` of an erasure (of every field's values).
pub const ERASED_FIELD: &str = "(erased)";

/// The `resolved_by` of a conflict closed because its record was erased.
pub const ERASED_RESOLUTION: &str = "erased";

impl Store {
    /// Erases the values the state file keeps of archived record `id`: its fields and match
    /// keys, the bases its links keep for each connection, the old and new values of its
    /// audit trail, and the values of its conflicts (an open one is closed, `resolved_by`
    /// [`ERASED_RESOLUTION`]). The record's row, its links (ids, so that the record is not
    /// created again), and when which field changed stay, and one audit row says when it was
    /// erased and on whose word (`connection`). Returns whether it was erased: a record that
    /// is not archived (or not here) is left as it is.
    pub fn erase_values(
        &mut self,
        id: &RecordId,
        connection: &str,
        run: Option<i64>,
        at: Millis,
    ) -> Result<bool, StoreError> {
        let tx = begin(&mut self.conn, &self.path)?;
        let path = &self.path;
        let e = |what: &'static str| move |err| sql_error(path, what, err);
        let kind: Option<String> = tx
            .query_row(
                "SELECT kind FROM records WHERE id = ?1 AND archived_at IS NOT NULL",
                [id.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(e("read the record to erase"))?;
        let Some(kind) = kind else {
            return Ok(false);
        };
        let kind: ObjectKind = parse_kind(path, &kind)?;
        tx.execute(
            "UPDATE records SET fields = '{}', email = NULL, domain = NULL WHERE id = ?1",
            [id.as_str()],
        )
        .map_err(e("erase the record's values"))?;
        tx.execute(
            "UPDATE links SET base = '{}' WHERE local_id = ?1",
            [id.as_str()],
        )
        .map_err(e("erase the values its links keep"))?;
        tx.execute(
            "UPDATE audit SET old = NULL, new = NULL WHERE record_id = ?1",
            [id.as_str()],
        )
        .map_err(e("erase the values of its history"))?;
        tx.execute(
            "UPDATE conflicts SET base = NULL, local = NULL, remote = NULL, resolution = NULL,
                 resolved_by = COALESCE(resolved_by, ?3), resolved_at = COALESCE(resolved_at, ?2)
             WHERE local_id = ?1",
            params![id.as_str(), at, ERASED_RESOLUTION],
        )
        .map_err(e("erase the values of its conflicts"))?;
        insert_audit(
            &tx,
            path,
            &AuditRow {
                run,
                at,
                record_id: id.as_str(),
                kind,
                field: ERASED_FIELD,
                old: None,
                new: None,
                side: LOCAL_SIDE,
                connection: Some(connection),
                cause: AuditCause::Erased,
            },
        )?;
        commit(tx, path, "commit an erasure")?;
        Ok(true)
    }
}
