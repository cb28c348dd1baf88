//! The write-ahead journal of remote writes, and the transactions that settle its entries
//! together with their outcome (link, base, record, failure, audit).

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::audit::{AuditRow, insert_audit};
use super::failures::{FailureRow, clear_failure_in, upsert_failure_in};
use super::links::{get_link_in, upsert_link_in};
use super::open::Store;
use super::records::{save_changed_in, save_in};
use super::sql::{begin, commit, corrupt, parse_kind, sql_error};
use super::types::{
    AuditCause, JournalEntry, Link, PendingWrite, StoreError, WriteFailure, WriteOp, WriteOrigin,
    WriteOutcome,
};
use crate::model::{Millis, RecordId};

type RawJournal = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Millis,
    bool,
);

const JOURNAL_COLUMNS: &str =
    "id, run, connection, kind, op, local_id, remote_id, props, created_at, set_external_id";

fn raw_journal(r: &Row<'_>) -> rusqlite::Result<RawJournal> {
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
    ))
}

fn pending_from(path: &Path, raw: RawJournal) -> Result<PendingWrite, StoreError> {
    let op = WriteOp::parse(&raw.4).ok_or_else(|| {
        corrupt(
            path,
            format!("journal entry {}: unknown op `{}`", raw.0, raw.4),
        )
    })?;
    let props = serde_json::from_str(&raw.7)
        .map_err(|e| corrupt(path, format!("journal entry {}: bad props: {e}", raw.0)))?;
    Ok(PendingWrite {
        id: raw.0,
        entry: JournalEntry {
            run: raw.1,
            connection: raw.2,
            kind: parse_kind(path, &raw.3)?,
            op,
            local_id: RecordId(raw.5),
            remote_id: raw.6,
            props,
            set_external_id: raw.9,
            created_at: raw.8,
        },
    })
}

pub(super) fn take_journal(
    tx: &Transaction<'_>,
    path: &Path,
    id: i64,
) -> Result<PendingWrite, StoreError> {
    let raw = tx
        .prepare_cached(&format!(
            "SELECT {JOURNAL_COLUMNS} FROM journal WHERE id = ?1"
        ))
        .and_then(|mut s| s.query_row([id], raw_journal).optional())
        .map_err(|e| sql_error(path, "read the journal", e))?
        .ok_or_else(|| StoreError::Invalid {
            message: format!("journal entry {id} does not exist (already committed or failed)"),
        })?;
    tx.prepare_cached("DELETE FROM journal WHERE id = ?1")
        .and_then(|mut s| s.execute([id]))
        .map_err(|e| sql_error(path, "remove a journal entry", e))?;
    pending_from(path, raw)
}

impl Store {
    /// Saves records pulled from a CRM together with their links, in one transaction, so a
    /// record created from a remote one is never left without its link.
    pub fn save_pulled(
        &mut self,
        records: &[crate::model::Record],
        links: &[Link],
        origin: &WriteOrigin,
    ) -> Result<(), StoreError> {
        self.save_pulled_settling(records, links, &[], origin, &HashMap::new())
    }

    /// As [`Store::save_pulled`], and in the same transaction settles the journalled creates
    /// `settled` that the CRM refused as duplicates of records now linked: their journal
    /// entries are removed, and so are the failures of their records for the connection.
    /// `changed_at` gives, for records whose changes were made in the CRM before now, when
    /// (on this machine's clock): the audit trail keeps that as the time of the fields they
    /// change, so a field pulled from one CRM and edited in another is decided by
    /// `newest-wins` on the two edits' times, not on when this run pulled the first.
    pub fn save_pulled_settling(
        &mut self,
        records: &[crate::model::Record],
        links: &[Link],
        settled: &[i64],
        origin: &WriteOrigin,
        changed_at: &HashMap<RecordId, Millis>,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let tx = begin(&mut self.conn, &self.path)?;
        if !records.is_empty() {
            save_changed_in(&tx, &self.path, records, origin, now, changed_at)?;
        }
        for link in links {
            upsert_link_in(&tx, &self.path, link)?;
        }
        for journal_id in settled {
            let e = take_journal(&tx, &self.path, *journal_id)?.entry;
            clear_failure_in(&tx, &self.path, &e.connection, e.kind, e.local_id.as_str())?;
        }
        commit(tx, &self.path, "commit pulled records")
    }

    /// Drops journal entry `journal_id` without recording an outcome: the write is planned
    /// again from the current state (recovery of an update or archive whose answer was lost,
    /// or of a create the CRM never received).
    pub fn journal_discard(&mut self, journal_id: i64) -> Result<(), StoreError> {
        let tx = begin(&mut self.conn, &self.path)?;
        take_journal(&tx, &self.path, journal_id)?;
        commit(tx, &self.path, "drop a journal entry")
    }

    /// Journals writes about to be sent, in one transaction; returns their ids in order.
    /// Commit this before sending: an entry still present later means the outcome is unknown.
    pub fn journal_add(&mut self, entries: &[JournalEntry]) -> Result<Vec<i64>, StoreError> {
        let tx = begin(&mut self.conn, &self.path)?;
        let mut ids = Vec::with_capacity(entries.len());
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO journal(run, connection, kind, op, local_id, remote_id, props,
                                         created_at, set_external_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(|e| sql_error(&self.path, "prepare a journal insert", e))?;
            for e in entries {
                let props = serde_json::to_string(&e.props).unwrap_or_else(|_| "{}".into());
                stmt.execute(params![
                    e.run,
                    e.connection,
                    e.kind.as_str(),
                    e.op.as_str(),
                    e.local_id.as_str(),
                    e.remote_id,
                    props,
                    e.created_at,
                    e.set_external_id,
                ])
                .map_err(|err| sql_error(&self.path, "journal a write", err))?;
                ids.push(tx.last_insert_rowid());
            }
        }
        commit(tx, &self.path, "commit the journal")?;
        Ok(ids)
    }

    /// Journal entries of `connection` whose outcome was never recorded, oldest first.
    pub fn journal_pending(&self, connection: &str) -> Result<Vec<PendingWrite>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {JOURNAL_COLUMNS} FROM journal WHERE connection = ?1 ORDER BY id"
            ))
            .map_err(|e| self.sql("prepare a journal query", e))?;
        let rows = stmt
            .query_map([connection], raw_journal)
            .map_err(|e| self.sql("read the journal", e))?;
        let mut out = Vec::new();
        for raw in rows {
            out.push(pending_from(
                &self.path,
                raw.map_err(|e| self.sql("read the journal", e))?,
            )?);
        }
        Ok(out)
    }

    /// Records a successful write in one transaction: removes journal entry `journal_id`,
    /// upserts the link with the new base, remote id and time, saves `outcome.record` if
    /// given, clears the record's failure for the connection, and audits every base field the
    /// write changed on the CRM's side (side = connection, cause `push`).
    pub fn commit_write(
        &mut self,
        journal_id: i64,
        outcome: &WriteOutcome,
    ) -> Result<(), StoreError> {
        let tx = begin(&mut self.conn, &self.path)?;
        let path = self.path.clone();
        let pending = take_journal(&tx, &path, journal_id)?;
        let e = &pending.entry;
        let old_base = get_link_in(&tx, &path, &e.connection, e.kind, e.local_id.as_str())?
            .map(|l| l.base)
            .unwrap_or_default();
        upsert_link_in(
            &tx,
            &path,
            &Link {
                connection: e.connection.clone(),
                kind: e.kind,
                local_id: e.local_id.clone(),
                remote_id: outcome.remote_id.clone(),
                base: outcome.base.clone(),
                remote_updated_at: outcome.remote_updated_at,
                synced_at: outcome.at,
                retired: outcome.retired,
            },
        )?;
        if let Some(record) = &outcome.record {
            let origin = WriteOrigin::Push {
                run: e.run,
                connection: e.connection.clone(),
            };
            save_in(
                &tx,
                &path,
                std::slice::from_ref(record),
                &origin,
                outcome.at,
            )?;
        }
        clear_failure_in(&tx, &path, &e.connection, e.kind, e.local_id.as_str())?;
        let audit = |field: &str, old: Option<&str>, new: Option<&str>| {
            insert_audit(
                &tx,
                &path,
                &AuditRow {
                    run: Some(e.run),
                    at: outcome.at,
                    record_id: e.local_id.as_str(),
                    kind: e.kind,
                    field,
                    old,
                    new,
                    side: &e.connection,
                    connection: Some(&e.connection),
                    cause: AuditCause::Push,
                },
            )
        };
        for (field, old) in &old_base {
            let new = outcome.base.get(field);
            if new != Some(old) {
                audit(field, Some(old), new.map(String::as_str))?;
            }
        }
        for (field, new) in &outcome.base {
            if !old_base.contains_key(field) {
                audit(field, None, Some(new))?;
            }
        }
        if e.op == WriteOp::Archive {
            audit("archived_at", None, Some(&outcome.at.to_string()))?;
        }
        commit(tx, &self.path, "commit a write")
    }

    /// Records a failed write in one transaction: removes journal entry `journal_id` and
    /// stores (or counts another attempt of) the record's failure for the connection.
    pub fn fail_write(
        &mut self,
        journal_id: i64,
        failure: &WriteFailure,
    ) -> Result<(), StoreError> {
        let tx = begin(&mut self.conn, &self.path)?;
        let pending = take_journal(&tx, &self.path, journal_id)?;
        let e = &pending.entry;
        upsert_failure_in(
            &tx,
            &self.path,
            &FailureRow {
                connection: &e.connection,
                kind: e.kind,
                local_id: e.local_id.as_str(),
                remote_id: e.remote_id.as_deref(),
                op: e.op,
                failure,
            },
        )?;
        commit(tx, &self.path, "commit a failed write")
    }
}
