//! Links and their bases: which local record is which record in a connection's CRM, and
//! the values both sides last agreed on.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::open::Store;
use super::sql::{begin, commit, corrupt, encode_fields, parse_fields, parse_kind, sql_error};
use super::types::{Link, StoreError};
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

pub(super) fn upsert_link_in(
    tx: &Transaction<'_>,
    path: &Path,
    link: &Link,
) -> Result<(), StoreError> {
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

pub(super) fn get_link_in(
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

impl Store {
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

    /// The record ids `sql` lists for `connection` (`?1`) and `pushed_to` (`?2`).
    fn waiting_ids(
        &self,
        what: &str,
        sql: &str,
        connection: &str,
        pushed_to: i64,
    ) -> Result<Vec<RecordId>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| self.sql(what, e))?;
        let ids = stmt
            .query_map(params![connection, pushed_to], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sql(what, e))?;
        Ok(ids.into_iter().map(RecordId).collect())
    }

    /// Live local deals that `connection` has not linked, that passed its push already
    /// (change number up to `pushed_to`) and hold no failure there, that name a contact or a
    /// company and whose named contact and company it now has linked: a deal left out while
    /// they were not in the CRM, waiting to go now that they are.
    pub fn unlinked_anchored_deals(
        &self,
        connection: &str,
        pushed_to: i64,
    ) -> Result<Vec<RecordId>, StoreError> {
        let what = "list deals whose contact and company were linked since";
        self.waiting_ids(
            what,
            "SELECT r.id FROM records r
                 WHERE r.kind = 'deal' AND r.archived_at IS NULL AND r.seq <= ?2
                   AND NOT EXISTS (SELECT 1 FROM links a
                                   WHERE a.connection = ?1 AND a.kind = 'deal' AND a.local_id = r.id)
                   AND NOT EXISTS (SELECT 1 FROM failures f
                                   WHERE f.connection = ?1 AND f.kind = 'deal' AND f.local_id = r.id)
                   AND COALESCE(json_extract(r.fields, '$.contact_id'),
                                json_extract(r.fields, '$.company_id')) IS NOT NULL
                   AND (json_extract(r.fields, '$.contact_id') IS NULL
                        OR EXISTS (SELECT 1 FROM links c
                                   WHERE c.connection = ?1 AND c.kind = 'contact' AND c.retired = 0
                                     AND c.local_id = json_extract(r.fields, '$.contact_id')))
                   AND (json_extract(r.fields, '$.company_id') IS NULL
                        OR EXISTS (SELECT 1 FROM links o
                                   WHERE o.connection = ?1 AND o.kind = 'company' AND o.retired = 0
                                     AND o.local_id = json_extract(r.fields, '$.company_id')))
                 ORDER BY r.id",
            connection,
            pushed_to,
        )
    }

    /// Live local activities that `connection` has not linked, that passed its push already
    /// (change number up to `pushed_to`) and hold no failure there, whose contact or company
    /// it now has linked: an activity left out while the record it belongs to was not in the
    /// CRM, waiting to go now that it is.
    pub fn unlinked_anchored_activities(
        &self,
        connection: &str,
        pushed_to: i64,
    ) -> Result<Vec<RecordId>, StoreError> {
        let what = "list activities whose contact or company was linked since";
        self.waiting_ids(
            what,
            "SELECT r.id FROM records r
                 WHERE r.kind = 'activity' AND r.archived_at IS NULL AND r.seq <= ?2
                   AND NOT EXISTS (SELECT 1 FROM links a
                                   WHERE a.connection = ?1 AND a.kind = 'activity' AND a.local_id = r.id)
                   AND NOT EXISTS (SELECT 1 FROM failures f
                                   WHERE f.connection = ?1 AND f.kind = 'activity' AND f.local_id = r.id)
                   AND (EXISTS (SELECT 1 FROM links c
                                WHERE c.connection = ?1 AND c.kind = 'contact' AND c.retired = 0
                                  AND c.local_id = json_extract(r.fields, '$.contact_id'))
                        OR EXISTS (SELECT 1 FROM links o
                                   WHERE o.connection = ?1 AND o.kind = 'company' AND o.retired = 0
                                     AND o.local_id = json_extract(r.fields, '$.company_id')))
                 ORDER BY r.id",
            connection,
            pushed_to,
        )
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
}
