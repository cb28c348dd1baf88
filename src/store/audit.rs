//! The audit trail: who changed which field of a record when.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::open::Store;
use super::sql::{parse_kind, sql_error};
use super::types::{AuditCause, AuditEntry, CREATED_FIELD, LOCAL_SIDE, StoreError};
use crate::model::{Millis, ObjectKind, RecordId};

/// One audit row to write.
pub(super) struct AuditRow<'a> {
    pub run: Option<i64>,
    pub at: Millis,
    pub record_id: &'a str,
    pub kind: ObjectKind,
    pub field: &'a str,
    pub old: Option<&'a str>,
    pub new: Option<&'a str>,
    pub side: &'a str,
    pub connection: Option<&'a str>,
    pub cause: AuditCause,
}

pub(super) const AUDIT_INSERT: &str =
    "INSERT INTO audit(run, at, record_id, kind, field, old, new, side, connection, cause)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

pub(super) fn insert_audit(
    tx: &Transaction<'_>,
    path: &Path,
    row: &AuditRow<'_>,
) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(AUDIT_INSERT)
        .map_err(|e| sql_error(path, "prepare the audit insert", e))?;
    exec_audit(&mut stmt, path, row)
}

pub(super) fn exec_audit(
    stmt: &mut rusqlite::CachedStatement<'_>,
    path: &Path,
    row: &AuditRow<'_>,
) -> Result<(), StoreError> {
    stmt.execute(params![
        row.run,
        row.at,
        row.record_id,
        row.kind.as_str(),
        row.field,
        row.old,
        row.new,
        row.side,
        row.connection,
        row.cause.as_str(),
    ])
    .map(drop)
    .map_err(|e| sql_error(path, "write the audit trail", e))
}

impl Store {
    /// The audit trail of record `id` (only `field` if given), newest first, at most `limit`.
    pub fn audit_for_record(
        &self,
        id: &RecordId,
        field: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, run, at, record_id, kind, field, old, new, side, connection, cause
                 FROM audit WHERE record_id = ?1 AND (?2 IS NULL OR field = ?2)
                 ORDER BY id DESC LIMIT ?3",
            )
            .map_err(|e| self.sql("prepare an audit query", e))?;
        let rows = stmt
            .query_map(params![id.as_str(), field, limit], raw_audit)
            .map_err(|e| self.sql("read the audit trail", e))?;
        let mut out = Vec::new();
        for row in rows {
            let raw = row.map_err(|e| self.sql("read the audit trail", e))?;
            out.push(self.audit_entry(raw)?);
        }
        if (out.len() as i64) < limit && field.is_none_or(|f| f == CREATED_FIELD) {
            out.extend(self.creation_entry(id)?);
        }
        Ok(out)
    }

    /// The latest audit row that set `field` of record `id`: a change of that field, or the
    /// record's creation when the field was never changed since.
    pub fn last_writer(
        &self,
        id: &RecordId,
        field: &str,
    ) -> Result<Option<AuditEntry>, StoreError> {
        let raw = self
            .conn
            .prepare_cached(
                "SELECT id, run, at, record_id, kind, field, old, new, side, connection, cause
                 FROM audit WHERE record_id = ?1 AND field = ?2
                 ORDER BY id DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![id.as_str(), field], raw_audit)
                    .optional()
            })
            .map_err(|e| self.sql("read the audit trail", e))?;
        match raw {
            Some(r) => self.audit_entry(r).map(Some),
            None => self.creation_entry(id),
        }
    }

    /// When each field of the records `ids` last changed in the local store: the time of the
    /// latest audit row of that field (a local edit, import, pull or resolution), per record.
    /// Fields never changed since the record was created have no entry (the creation is kept
    /// on the record row), nor do records with no audited change. One query for all `ids`.
    pub fn local_field_times(
        &self,
        ids: &[RecordId],
    ) -> Result<HashMap<RecordId, BTreeMap<String, Millis>>, StoreError> {
        let mut out: HashMap<RecordId, BTreeMap<String, Millis>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let wanted = serde_json::to_string(&ids.iter().map(RecordId::as_str).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".to_string());
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT a.record_id, a.field, a.at FROM audit a
                 JOIN (SELECT MAX(id) AS id FROM audit
                       WHERE side = ?2 AND record_id IN (SELECT value FROM json_each(?1))
                       GROUP BY record_id, field) latest ON a.id = latest.id",
            )
            .map_err(|e| self.sql("prepare a field time query", e))?;
        let rows = stmt
            .query_map(params![wanted, LOCAL_SIDE], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Millis>(2)?,
                ))
            })
            .map_err(|e| self.sql("read field times", e))?;
        for row in rows {
            let (id, field, at) = row.map_err(|e| self.sql("read field times", e))?;
            out.entry(RecordId(id)).or_default().insert(field, at);
        }
        Ok(out)
    }

    /// The creation of record `id` as an audit entry (field [`CREATED_FIELD`], id 0).
    fn creation_entry(&self, id: &RecordId) -> Result<Option<AuditEntry>, StoreError> {
        let raw = self
            .conn
            .prepare_cached(
                "SELECT 0, created_run, created_at, id, kind, '*', NULL, NULL, 'local',
                        created_connection, created_cause
                 FROM records WHERE id = ?1",
            )
            .and_then(|mut s| s.query_row([id.as_str()], raw_audit).optional())
            .map_err(|e| self.sql("read a record's creation", e))?;
        raw.map(|r| self.audit_entry(r)).transpose()
    }

    fn audit_entry(&self, raw: RawAudit) -> Result<AuditEntry, StoreError> {
        let cause = AuditCause::parse(&raw.10)
            .ok_or_else(|| self.corrupt(format!("unknown audit cause `{}`", raw.10)))?;
        Ok(AuditEntry {
            id: raw.0,
            run: raw.1,
            at: raw.2,
            record_id: RecordId(raw.3),
            kind: parse_kind(&self.path, &raw.4)?,
            field: raw.5,
            old: raw.6,
            new: raw.7,
            side: raw.8,
            connection: raw.9,
            cause,
        })
    }
}

type RawAudit = (
    i64,
    Option<i64>,
    Millis,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
);

fn raw_audit(r: &Row<'_>) -> rusqlite::Result<RawAudit> {
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
    ))
}
