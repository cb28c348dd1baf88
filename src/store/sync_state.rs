//! Links and bases, cursors, the write-ahead journal and failures.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::records::{
    AuditRow, corrupt, encode_fields, insert_audit, parse_fields, parse_kind, read_seq, save_in,
    write_seq,
};
use super::{
    AuditCause, Failure, JournalEntry, Link, PendingWrite, Store, StoreError, WriteFailure,
    WriteOp, WriteOrigin, WriteOutcome, sql_error,
};
use crate::model::{Millis, ObjectKind, RecordId};

const LINK_COLUMNS: &str =
    "connection, kind, local_id, remote_id, base, remote_updated_at, synced_at, retired";

type RawLink = (
    String,
    String,
    String,
    String,
    String,
    Option<Millis>,
    Millis,
    bool,
);

fn raw_link(r: &Row<'_>) -> rusqlite::Result<RawLink> {
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

/// Which side's id a link lookup goes by.
#[derive(Clone, Copy)]
enum LinkKey {
    Remote,
    Local,
}

fn link_from(path: &Path, raw: RawLink) -> Result<Link, StoreError> {
    let base = parse_fields(path, &raw.4)
        .map_err(|m| corrupt(path, format!("link of `{}` to `{}`: {m}", raw.2, raw.0)))?;
    Ok(Link {
        connection: raw.0,
        kind: parse_kind(path, &raw.1)?,
        local_id: RecordId(raw.2),
        remote_id: raw.3,
        base,
        remote_updated_at: raw.5,
        synced_at: raw.6,
        retired: raw.7,
    })
}

fn upsert_link_in(tx: &Transaction<'_>, path: &Path, link: &Link) -> Result<(), StoreError> {
    // A retired link of another record gives its remote id way to a live one: it is never
    // planned again, and the new link is the pair that syncs now.
    if !link.retired {
        tx.prepare_cached(
            "DELETE FROM links WHERE connection = ?1 AND kind = ?2 AND remote_id = ?3
                 AND local_id <> ?4 AND retired",
        )
        .and_then(|mut s| {
            s.execute(params![
                link.connection,
                link.kind.as_str(),
                link.remote_id,
                link.local_id.as_str()
            ])
        })
        .map_err(|e| sql_error(path, "give way to a link", e))?;
    }
    // Replacing by local id keeps one link per record; a remote id already linked to another
    // live record of the same connection violates the unique key and is refused.
    tx.prepare_cached(&format!(
        "INSERT INTO links({LINK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(connection, kind, local_id) DO UPDATE SET
             remote_id = excluded.remote_id, base = excluded.base,
             remote_updated_at = excluded.remote_updated_at, synced_at = excluded.synced_at,
             retired = excluded.retired"
    ))
    .and_then(|mut s| {
        s.execute(params![
            link.connection,
            link.kind.as_str(),
            link.local_id.as_str(),
            link.remote_id,
            encode_fields(&link.base),
            link.remote_updated_at,
            link.synced_at,
            link.retired,
        ])
    })
    .map(drop)
    .map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Invalid {
            message: format!(
                "cannot link {} `{}` to `{}` in connection `{}`: {e}",
                link.kind, link.local_id, link.remote_id, link.connection
            ),
        },
        _ => sql_error(path, "write a link", e),
    })
}

fn get_link_in(
    tx: &Transaction<'_>,
    path: &Path,
    connection: &str,
    kind: ObjectKind,
    local_id: &str,
) -> Result<Option<Link>, StoreError> {
    let raw = tx
        .prepare_cached(&format!(
            "SELECT {LINK_COLUMNS} FROM links WHERE connection = ?1 AND kind = ?2 AND local_id = ?3"
        ))
        .and_then(|mut s| {
            s.query_row(params![connection, kind.as_str(), local_id], raw_link)
                .optional()
        })
        .map_err(|e| sql_error(path, "read a link", e))?;
    raw.map(|r| link_from(path, r)).transpose()
}

/// Sets one field of the base of `local_id`'s link in `connection` (`None`: the field is
/// cleared); no link, nothing to do.
pub(super) fn set_base_field_in(
    tx: &Transaction<'_>,
    path: &Path,
    connection: &str,
    kind: ObjectKind,
    local_id: &str,
    field: &str,
    value: Option<&str>,
) -> Result<(), StoreError> {
    let Some(mut link) = get_link_in(tx, path, connection, kind, local_id)? else {
        return Ok(());
    };
    crate::model::set_field(&mut link.base, field, value.unwrap_or_default());
    upsert_link_in(tx, path, &link)
}

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

fn take_journal(tx: &Transaction<'_>, path: &Path, id: i64) -> Result<PendingWrite, StoreError> {
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

fn clear_failure_in(
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
    connection: &'a str,
    kind: ObjectKind,
    local_id: &'a str,
    remote_id: Option<&'a str>,
    op: WriteOp,
    failure: &'a WriteFailure,
}

fn upsert_failure_in(
    tx: &Transaction<'_>,
    path: &Path,
    row: &FailureRow<'_>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO failures(connection, kind, local_id, remote_id, op, message, code,
                              attempts, first_at, last_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8)
         ON CONFLICT(connection, kind, local_id) DO UPDATE SET
             remote_id = coalesce(excluded.remote_id, failures.remote_id), op = excluded.op,
             message = excluded.message, code = excluded.code,
             attempts = failures.attempts + 1, last_at = excluded.last_at,
             requeued_at = NULL",
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
        ])
    })
    .map(drop)
    .map_err(|e| sql_error(path, "write a failure", e))
}

impl Store {
    // ---- links -------------------------------------------------------------------------

    /// The links of `connection` and `kind` to these remote ids, keyed by remote id.
    pub fn links_by_remote_ids(
        &self,
        connection: &str,
        kind: ObjectKind,
        remote_ids: &[String],
    ) -> Result<HashMap<String, Link>, StoreError> {
        self.links_by(connection, kind, LinkKey::Remote, remote_ids, |id| {
            id.as_str()
        })
    }

    /// The links of `connection` and `kind` of these local records, keyed by local id.
    pub fn links_by_local_ids(
        &self,
        connection: &str,
        kind: ObjectKind,
        local_ids: &[RecordId],
    ) -> Result<HashMap<RecordId, Link>, StoreError> {
        self.links_by(
            connection,
            kind,
            LinkKey::Local,
            local_ids,
            RecordId::as_str,
        )
    }

    /// The links whose `key` column is one of `keys`, keyed by that value (one indexed
    /// lookup per distinct key).
    fn links_by<K: Clone + Eq + std::hash::Hash>(
        &self,
        connection: &str,
        kind: ObjectKind,
        key: LinkKey,
        keys: &[K],
        as_str: impl Fn(&K) -> &str,
    ) -> Result<HashMap<K, Link>, StoreError> {
        let column = match key {
            LinkKey::Remote => "remote_id",
            LinkKey::Local => "local_id",
        };
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {LINK_COLUMNS} FROM links
                 WHERE connection = ?1 AND kind = ?2 AND {column} = ?3"
            ))
            .map_err(|e| self.sql("prepare a link lookup", e))?;
        let mut out = HashMap::new();
        for k in keys {
            if out.contains_key(k) {
                continue;
            }
            let raw = stmt
                .query_row(params![connection, kind.as_str(), as_str(k)], raw_link)
                .optional()
                .map_err(|e| self.sql("read links", e))?;
            if let Some(raw) = raw {
                out.insert(k.clone(), link_from(&self.path, raw)?);
            }
        }
        Ok(out)
    }

    /// Every link of a local record, across connections.
    pub fn links_of_record(&self, local_id: &RecordId) -> Result<Vec<Link>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {LINK_COLUMNS} FROM links WHERE local_id = ?1 ORDER BY connection"
            ))
            .map_err(|e| self.sql("prepare a link lookup", e))?;
        let rows = stmt
            .query_map([local_id.as_str()], raw_link)
            .map_err(|e| self.sql("read links", e))?;
        let mut out = Vec::new();
        for raw in rows {
            out.push(link_from(
                &self.path,
                raw.map_err(|e| self.sql("read links", e))?,
            )?);
        }
        Ok(out)
    }

    /// How many records of `kind` are linked in `connection`.
    pub fn count_links(&self, connection: &str, kind: ObjectKind) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM links WHERE connection = ?1 AND kind = ?2")
            .and_then(|mut s| s.query_row(params![connection, kind.as_str()], |r| r.get(0)))
            .map_err(|e| self.sql("count links", e))?;
        Ok(n as u64)
    }

    /// Links of `connection` and `kind` still synced: not retired by an archive. The mass
    /// archive gate measures a run's archives against these.
    pub fn count_live_links(&self, connection: &str, kind: ObjectKind) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM links WHERE connection = ?1 AND kind = ?2 AND retired = 0",
            )
            .and_then(|mut s| s.query_row(params![connection, kind.as_str()], |r| r.get(0)))
            .map_err(|e| self.sql("count live links", e))?;
        Ok(n as u64)
    }

    /// The archived local records of `kind` changed after local change number `after_seq`
    /// (up to `upto_seq`) whose link to `connection` is still live: the archives a push to
    /// it will carry out. Cost is proportional to the archived records.
    pub fn archived_with_live_links(
        &self,
        connection: &str,
        kind: ObjectKind,
        after_seq: i64,
        upto_seq: i64,
    ) -> Result<Vec<RecordId>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.id FROM records r
                 JOIN links l ON l.connection = ?1 AND l.kind = ?2 AND l.local_id = r.id
                 WHERE r.kind = ?2 AND r.archived_at IS NOT NULL AND r.seq > ?3 AND r.seq <= ?4
                   AND l.retired = 0",
            )
            .map_err(|e| self.sql("prepare the archive count", e))?;
        let rows = stmt
            .query_map(
                params![connection, kind.as_str(), after_seq, upto_seq],
                |r| r.get::<_, String>(0),
            )
            .map_err(|e| self.sql("read archived linked records", e))?;
        rows.map(|r| {
            r.map(RecordId)
                .map_err(|e| self.sql("read archived linked records", e))
        })
        .collect()
    }

    /// Inserts or replaces links (by connection, kind and local id) in one transaction.
    pub fn upsert_links(&mut self, links: &[Link]) -> Result<(), StoreError> {
        let tx = begin(&mut self.conn, &self.path)?;
        for link in links {
            upsert_link_in(&tx, &self.path, link)?;
        }
        commit(tx, &self.path, "commit links")
    }

    /// Saves records pulled from a CRM together with their links, in one transaction, so a
    /// record created from a remote one is never left without its link.
    pub fn save_pulled(
        &mut self,
        records: &[crate::model::Record],
        links: &[Link],
        origin: &WriteOrigin,
    ) -> Result<(), StoreError> {
        self.save_pulled_settling(records, links, &[], origin)
    }

    /// As [`Store::save_pulled`], and in the same transaction settles the journalled creates
    /// `settled` that the CRM refused as duplicates of records now linked: their journal
    /// entries are removed, and so are the failures of their records for the connection.
    pub fn save_pulled_settling(
        &mut self,
        records: &[crate::model::Record],
        links: &[Link],
        settled: &[i64],
        origin: &WriteOrigin,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let tx = begin(&mut self.conn, &self.path)?;
        if !records.is_empty() {
            save_in(&tx, &self.path, records, origin, now)?;
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

    /// Removes `field` from the base of every link of `connection` and `kind`, as if it had
    /// never been synced there (when the field now syncs with another CRM property, whose
    /// value the old base says nothing about). Returns how many bases held it.
    pub fn forget_base_field(
        &mut self,
        connection: &str,
        kind: ObjectKind,
        field: &str,
    ) -> Result<usize, StoreError> {
        let path = format!("$.\"{}\"", field.replace('"', "\\\""));
        self.conn
            .prepare_cached(
                "UPDATE links SET base = json_remove(base, ?3)
                 WHERE connection = ?1 AND kind = ?2 AND json_type(base, ?3) IS NOT NULL",
            )
            .and_then(|mut s| s.execute(params![connection, kind.as_str(), path]))
            .map_err(|e| self.sql("reset a field's base", e))
    }

    /// Inserts or replaces one link.
    pub fn upsert_link(&mut self, link: &Link) -> Result<(), StoreError> {
        self.upsert_links(std::slice::from_ref(link))
    }

    /// Removes the link of a local record in `connection`; returns whether there was one.
    pub fn remove_link(
        &mut self,
        connection: &str,
        kind: ObjectKind,
        local_id: &RecordId,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "DELETE FROM links WHERE connection = ?1 AND kind = ?2 AND local_id = ?3",
            )
            .and_then(|mut s| s.execute(params![connection, kind.as_str(), local_id.as_str()]))
            .map_err(|e| self.sql("remove a link", e))?;
        Ok(n > 0)
    }

    // ---- cursors -----------------------------------------------------------------------

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

    // ---- journal -----------------------------------------------------------------------

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

    // ---- failures ----------------------------------------------------------------------

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
                        first_at, last_at
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
            });
        }
        Ok(out)
    }

    /// Makes the next sync try the failed records (of `connection` if given) again: each
    /// gets a new local change number, and its failure row is marked re-queued (no longer
    /// listed as failed; a further failure counts on from its attempts and first time, a
    /// success removes it). Returns how many
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
        let mut seq = read_seq(&tx, &path)?;
        let mut requeued = 0;
        for id in &ids {
            let n = tx
                .prepare_cached("UPDATE records SET seq = ?2 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![id, seq + 1]))
                .map_err(|e| sql_error(&path, "re-queue a record", e))?;
            if n > 0 {
                seq += 1;
                requeued += 1;
            }
        }
        write_seq(&tx, &path, seq)?;
        tx.prepare_cached(
            "UPDATE failures SET requeued_at = ?2
             WHERE (?1 IS NULL OR connection = ?1) AND requeued_at IS NULL",
        )
        .and_then(|mut s| s.execute(params![connection, now]))
        .map_err(|e| sql_error(&path, "mark failures re-queued", e))?;
        commit(tx, &self.path, "commit the re-queue")?;
        Ok(requeued)
    }
}

/// Starts a write transaction. IMMEDIATE takes the write lock up front, so two processes never
/// both read and then fail to upgrade (`SQLITE_BUSY` without waiting).
pub(super) fn begin<'c>(
    conn: &'c mut rusqlite::Connection,
    path: &Path,
) -> Result<Transaction<'c>, StoreError> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| sql_error(path, "start a transaction", e))
}

pub(super) fn commit(tx: Transaction<'_>, path: &Path, context: &str) -> Result<(), StoreError> {
    tx.commit().map_err(|e| sql_error(path, context, e))
}
