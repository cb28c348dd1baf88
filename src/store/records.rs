//! Records and the local change sequence.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::audit::{AUDIT_INSERT, AuditRow, exec_audit};
use super::open::Store;
use super::sql::{
    corrupt, encode_fields, parse_fields, parse_kind, read_seq, sql_error, write_seq,
};
use super::types::{LOCAL_SIDE, StoreError, WriteOrigin};
use crate::model::normalize::match_key;
use crate::model::{Millis, ObjectKind, Record, RecordId};

const RECORD_COLUMNS: &str = "id, kind, fields, updated_at, archived_at";

/// Values per match-key lookup statement.
const FIND_CHUNK: usize = 500;

/// A record row as stored, before its JSON is parsed.
pub(super) struct RawRecord {
    id: String,
    kind: String,
    fields: String,
    updated_at: Millis,
    archived_at: Option<Millis>,
}

impl RawRecord {
    pub(super) fn from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<RawRecord> {
        Ok(RawRecord {
            id: row.get(first)?,
            kind: row.get(first + 1)?,
            fields: row.get(first + 2)?,
            updated_at: row.get(first + 3)?,
            archived_at: row.get(first + 4)?,
        })
    }

    pub(super) fn into_record(self, path: &Path) -> Result<Record, StoreError> {
        let kind = parse_kind(path, &self.kind)?;
        let fields = parse_fields(path, &self.fields)
            .map_err(|m| corrupt(path, format!("record `{}`: {m}", self.id)))?;
        Ok(Record {
            id: RecordId(self.id),
            kind,
            fields,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
        })
    }
}

/// The one field of each kind whose match keys the store keeps in an indexed column of the
/// same name (a contact's `email`, a company's `domain`); the one definition the lookups and
/// the writes below use.
fn indexed_field(kind: ObjectKind) -> Option<&'static str> {
    match kind {
        ObjectKind::Contact => Some("email"),
        ObjectKind::Company => Some("domain"),
        ObjectKind::Activity | ObjectKind::Deal => None,
    }
}

/// The indexed match-key columns of a record, `(email, domain)`: the [`match_key`] of its
/// [`indexed_field`]. The record's fields keep the values as written.
fn match_keys(record: &Record) -> (Option<Cow<'_, str>>, Option<Cow<'_, str>>) {
    let Some(field) = indexed_field(record.kind) else {
        return (None, None);
    };
    let key = record.get(field).map(|v| match_key(field, v));
    if field == "email" {
        (key, None)
    } else {
        (None, key)
    }
}

/// The indexed column that holds `field`'s match keys for records of `kind`, if one does.
fn match_key_column(kind: ObjectKind, field: &str) -> Option<&'static str> {
    indexed_field(kind).filter(|f| *f == field)
}

/// Saves `records` inside `tx`; returns how many changed. Shared by `save_records` and the
/// transactions that save a record together with other state.
pub(super) fn save_in(
    tx: &Transaction<'_>,
    path: &Path,
    records: &[Record],
    origin: &WriteOrigin,
    at: Millis,
) -> Result<usize, StoreError> {
    save_encoded_in(tx, path, records, None, origin, at, None)
}

/// [`save_in`] for records whose changes were made before `at`, each at its time in
/// `changed_at` (a record pulled from a CRM: when it changed there): that is the time its
/// audit rows give the fields it changes, which `newest-wins` compares.
pub(super) fn save_changed_in(
    tx: &Transaction<'_>,
    path: &Path,
    records: &[Record],
    origin: &WriteOrigin,
    at: Millis,
    changed_at: &HashMap<RecordId, Millis>,
) -> Result<usize, StoreError> {
    save_encoded_in(tx, path, records, None, origin, at, Some(changed_at))
}

/// Records per multi-row insert of [`save_encoded_in`]: one statement inserting many rows
/// keeps its cursors open across them, where a statement a row opens and closes three B-tree
/// cursors every time. 32 rows bind 8 × 32 + 4 parameters, far under SQLite's limit.
const INSERT_ROWS: usize = 32;

/// The columns a record insert binds for each row, and the four bound once for all of them
/// (the creation's time, run, cause and connection), as `?1`–`?4`.
const INSERT_COLUMNS: &str =
    "INTO records(id, kind, fields, updated_at, archived_at, seq, email, domain,
                          created_at, created_run, created_cause, created_connection)
             VALUES ";
const ROW_PARAMS: usize = 8;
const SHARED_PARAMS: usize = 4;

/// `INSERT ... VALUES (...), (...)` for `rows` records, leaving ids that exist alone.
///
/// Many rows are inserted `OR IGNORE`: a statement that could stop half-way (as `ON CONFLICT
/// DO NOTHING` could, on another constraint) makes SQLite copy every page it touches into a
/// statement journal first, which cost a tenth of the insert. It is safe here: the one
/// constraint the columns can break is the id's uniqueness, and a run with fewer rows
/// inserted than given is saved again one by one ([`save_encoded_in`]), with the strict
/// one-row statement, which fails on anything but an existing id.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(if rows == 1 {
        "INSERT "
    } else {
        "INSERT OR IGNORE "
    });
    sql.push_str(INSERT_COLUMNS);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        let p = SHARED_PARAMS + r * ROW_PARAMS;
        sql.push('(');
        for c in 1..=ROW_PARAMS {
            sql.push_str(&format!("?{}, ", p + c));
        }
        sql.push_str("?1, ?2, ?3, ?4)");
    }
    if rows == 1 {
        sql.push_str(" ON CONFLICT(id) DO NOTHING");
    }
    sql
}

fn insert_sql_cached(rows: usize) -> &'static str {
    static MANY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static ONE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    match rows {
        INSERT_ROWS => MANY.get_or_init(|| insert_sql(INSERT_ROWS)),
        1 => ONE.get_or_init(|| insert_sql(1)),
        _ => unreachable!("inserts are of {INSERT_ROWS} rows or of one"),
    }
}

/// [`save_in`], with the fields of `records[i]` already encoded as `encoded[i]` when given.
///
/// New records (the usual case of an import) are inserted many to a statement; a record whose
/// id exists is left alone by the insert, found afterwards, and then read, compared and
/// updated with its audit trail.
fn save_encoded_in(
    tx: &Transaction<'_>,
    path: &Path,
    records: &[Record],
    encoded: Option<&[String]>,
    origin: &WriteOrigin,
    at: Millis,
    changed_at: Option<&HashMap<RecordId, Millis>>,
) -> Result<usize, StoreError> {
    let start_seq = read_seq(tx, path)?;
    let mut seq = start_seq;
    let mut changed = 0;
    let run = origin.run();
    let connection = origin.connection();
    let cause = origin.cause();
    let json_of = |i: usize| -> Cow<'_, str> {
        match encoded {
            Some(e) => Cow::Borrowed(e[i].as_str()),
            None => Cow::Owned(encode_fields(&records[i].fields)),
        }
    };
    // Inserts `records[from..from + rows]` as changes `seq + 1 ...`; how many were new.
    let insert = |from: usize, rows: usize, seq: i64| -> Result<usize, StoreError> {
        let mut stmt = tx
            .prepare_cached(insert_sql_cached(rows))
            .map_err(|e| sql_error(path, "prepare the record insert", e))?;
        let jsons: Vec<Cow<'_, str>> = (from..from + rows).map(json_of).collect();
        (|| {
            stmt.raw_bind_parameter(1, at)?;
            stmt.raw_bind_parameter(2, run)?;
            stmt.raw_bind_parameter(3, cause.as_str())?;
            stmt.raw_bind_parameter(4, connection)?;
            for (r, record) in records[from..from + rows].iter().enumerate() {
                let p = SHARED_PARAMS + r * ROW_PARAMS;
                let (email, domain) = match_keys(record);
                stmt.raw_bind_parameter(p + 1, record.id.as_str())?;
                stmt.raw_bind_parameter(p + 2, record.kind.as_str())?;
                stmt.raw_bind_parameter(p + 3, jsons[r].as_ref())?;
                stmt.raw_bind_parameter(p + 4, record.updated_at)?;
                stmt.raw_bind_parameter(p + 5, record.archived_at)?;
                stmt.raw_bind_parameter(p + 6, seq + 1 + r as i64)?;
                stmt.raw_bind_parameter(p + 7, email.as_deref())?;
                stmt.raw_bind_parameter(p + 8, domain.as_deref())?;
            }
            stmt.raw_execute()
        })()
        .map_err(|e| sql_error(path, "insert records", e))
    };
    let mut i = 0;
    while i < records.len() {
        let mut one_by_one = records.len() - i;
        if one_by_one >= INSERT_ROWS {
            let inserted = insert(i, INSERT_ROWS, seq)?;
            if inserted == INSERT_ROWS {
                seq += INSERT_ROWS as i64;
                changed += INSERT_ROWS;
                i += INSERT_ROWS;
                continue;
            }
            // An id of these existed (or came twice): the rows just inserted are taken out
            // again and the lot saved one by one, so that change numbers stay dense and in
            // the records' order, and an existing record is compared and audited.
            let mut undo = tx
                .prepare_cached("DELETE FROM records WHERE id = ?1 AND seq = ?2")
                .map_err(|e| sql_error(path, "prepare a record delete", e))?;
            for (r, record) in records[i..i + INSERT_ROWS].iter().enumerate() {
                undo.execute(params![record.id.as_str(), seq + 1 + r as i64])
                    .map_err(|e| sql_error(path, "take back a record insert", e))?;
            }
            one_by_one = INSERT_ROWS;
        }
        for (j, record) in records.iter().enumerate().skip(i).take(one_by_one) {
            let changed_at = changed_at
                .and_then(|c| c.get(&record.id))
                .map_or(at, |&t| t.min(at));
            let saved = insert(j, 1, seq)? == 1
                || update_existing(tx, path, record, &json_of(j), origin, changed_at, seq + 1)?;
            if saved {
                seq += 1;
                changed += 1;
            }
        }
        i += one_by_one;
    }
    if seq != start_seq {
        write_seq(tx, path, seq)?;
    }
    Ok(changed)
}

/// Saves `record`, whose id is stored, as change number `seq`: compares it with the stored
/// row, and where it differs updates the row and audits each field that changed. Returns
/// whether anything changed.
fn update_existing(
    tx: &Transaction<'_>,
    path: &Path,
    record: &Record,
    json: &str,
    origin: &WriteOrigin,
    at: Millis,
    seq: i64,
) -> Result<bool, StoreError> {
    let (run, connection, cause) = (origin.run(), origin.connection(), origin.cause());
    let (email, domain) = match_keys(record);
    let old = tx
        .prepare_cached("SELECT kind, fields, archived_at FROM records WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([record.id.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<Millis>>(2)?,
                ))
            })
        })
        .map_err(|e| sql_error(path, "read a record", e))?;
    let (old_kind, old_json, old_archived) = old;
    if old_kind != record.kind.as_str() {
        return Err(StoreError::Invalid {
            message: format!(
                "record `{}` is a {old_kind} in the state file and cannot be saved as a {}",
                record.id, record.kind
            ),
        });
    }
    if old_json == json && old_archived == record.archived_at {
        return Ok(false);
    }
    let old_fields = parse_fields(path, &old_json)
        .map_err(|m| corrupt(path, format!("record `{}`: {m}", record.id)))?;
    tx.prepare_cached(
        "UPDATE records SET fields = ?2, updated_at = ?3, archived_at = ?4, seq = ?5,
             email = ?6, domain = ?7
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            record.id.as_str(),
            json,
            record.updated_at,
            record.archived_at,
            seq,
            email,
            domain,
        ])
    })
    .map_err(|e| sql_error(path, "update a record", e))?;
    let mut audit_insert = tx
        .prepare_cached(AUDIT_INSERT)
        .map_err(|e| sql_error(path, "prepare the audit insert", e))?;
    let mut audit = |field: &str, old: Option<&str>, new: Option<&str>| {
        exec_audit(
            &mut audit_insert,
            path,
            &AuditRow {
                run,
                at,
                record_id: record.id.as_str(),
                kind: record.kind,
                field,
                old,
                new,
                side: LOCAL_SIDE,
                connection,
                cause,
            },
        )
    };
    for (field, old_value) in &old_fields {
        let new_value = record.fields.get(field);
        if new_value != Some(old_value) {
            audit(field, Some(old_value), new_value.map(String::as_str))?;
        }
    }
    for (field, new_value) in &record.fields {
        if !old_fields.contains_key(field) {
            audit(field, None, Some(new_value))?;
        }
    }
    if old_archived != record.archived_at {
        let old = old_archived.map(|v| v.to_string());
        let new = record.archived_at.map(|v| v.to_string());
        audit("archived_at", old.as_deref(), new.as_deref())?;
    }
    Ok(true)
}

impl Store {
    /// Every live record of `kind` whose field `field` is `value`, oldest first (a contact's
    /// activities by `contact_id`); [`Store::find_by_field`] gives one record per value.
    pub fn records_with_field(
        &self,
        kind: ObjectKind,
        field: &str,
        value: &str,
    ) -> Result<Vec<Record>, StoreError> {
        let what = "list records by a field value";
        // An activity's contact is the indexed expression (`records_activity_contact`).
        let value_of = if kind == ObjectKind::Activity && field == "contact_id" {
            "json_extract(fields, '$.contact_id') = ?3 AND ?2 = ?2"
        } else {
            "json_extract(fields, '$.\"' || ?2 || '\"') = ?3"
        };
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records
             WHERE kind = ?1 AND archived_at IS NULL AND {value_of}
             ORDER BY id"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| self.sql(what, e))?;
        let mut rows = stmt
            .query(rusqlite::params![kind.as_str(), field, value])
            .map_err(|e| self.sql(what, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.sql(what, e))? {
            let raw = RawRecord::from_row(row, 0).map_err(|e| self.sql(what, e))?;
            out.push(raw.into_record(&self.path)?);
        }
        Ok(out)
    }

    /// Non-archived records of `kind` whose canonical `field` equals one of `values`
    /// (normalised values), keyed by that value. Contact `email` and company `domain` are
    /// index lookups by [`match_key`] (`zoë@bücher.example` finds the stored
    /// `zoë@xn--bcher-kva.example`); other fields scan the records of `kind`, exactly. When
    /// several records share a value, the oldest (smallest id) is returned.
    pub fn find_by_field(
        &self,
        kind: ObjectKind,
        field: &str,
        values: &[String],
    ) -> Result<HashMap<String, Record>, StoreError> {
        let column = match_key_column(kind, field);
        if column.is_some() && !values.is_empty() {
            self.need_record_indexes()?;
        }
        // An indexed column holds match keys: the values are looked up by theirs, and each
        // given value gets the record its key found.
        let keys: Vec<Cow<'_, str>> = match column {
            Some(_) => values.iter().map(|v| match_key(field, v)).collect(),
            None => values.iter().map(|v| Cow::Borrowed(v.as_str())).collect(),
        };
        let mut wanted: Vec<&str> = keys
            .iter()
            .map(|k| k.as_ref())
            .filter(|v| !v.is_empty())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut found = HashMap::new();
        if wanted.is_empty() {
            return Ok(found);
        }
        // One statement per chunk of values rather than one per value: an import asks for
        // 10,000 values a batch, and per-statement overhead dominated the lookups. The chunk
        // size stays well under SQLite's bound-parameter limit.
        let marks = vec!["?"; FIND_CHUNK].join(", ");
        // The matched value comes back as the first column, so each row is filed under the
        // value it matched. `ORDER BY id` makes the first row seen for a value the oldest
        // record holding it.
        let sql = match column {
            Some(col) => format!(
                "SELECT {col}, {RECORD_COLUMNS} FROM records
                 WHERE kind = ?1 AND {col} IN ({marks}) AND archived_at IS NULL
                 ORDER BY id"
            ),
            None => format!(
                "SELECT v, {RECORD_COLUMNS} FROM
                   (SELECT json_extract(fields, '$.\"' || ?1 || '\"') AS v, *
                    FROM records WHERE kind = ?2 AND archived_at IS NULL)
                 WHERE v IN ({marks})
                 ORDER BY id"
            ),
        };
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| self.sql("prepare a match-key lookup", e))?;
        let kind_str = kind.as_str();
        let fixed: [&dyn rusqlite::ToSql; 2] = [&field, &kind_str];
        let fixed = if column.is_some() {
            &fixed[1..]
        } else {
            &fixed[..]
        };
        for chunk in wanted.chunks(FIND_CHUNK) {
            // A short last chunk repeats its last value, so every lookup is the one cached
            // statement (a value twice in `IN` matches the same rows once).
            let last = chunk[chunk.len() - 1];
            let mut params: Vec<&dyn rusqlite::ToSql> =
                Vec::with_capacity(fixed.len() + FIND_CHUNK);
            params.extend_from_slice(fixed);
            params.extend(chunk.iter().map(|v| v as &dyn rusqlite::ToSql));
            while params.len() < fixed.len() + FIND_CHUNK {
                params.push(&last);
            }
            let mut rows = stmt
                .query(params.as_slice())
                .map_err(|e| self.sql("look records up by match key", e))?;
            while let Some(row) = rows
                .next()
                .map_err(|e| self.sql("look records up by match key", e))?
            {
                let value: Option<String> = row
                    .get(0)
                    .map_err(|e| self.sql("look records up by match key", e))?;
                let Some(value) = value else { continue };
                if found.contains_key(&value) {
                    continue;
                }
                let raw = RawRecord::from_row(row, 1)
                    .map_err(|e| self.sql("look records up by match key", e))?;
                found.insert(value, raw.into_record(&self.path)?);
            }
        }
        if keys
            .iter()
            .zip(values)
            .all(|(k, v)| k.as_ref() == v.as_str())
        {
            return Ok(found);
        }
        let mut by_value = HashMap::with_capacity(found.len());
        for (key, value) in keys.iter().zip(values) {
            if let Some(record) = found.get(key.as_ref()) {
                by_value.insert(value.clone(), record.clone());
            }
        }
        Ok(by_value)
    }

    /// Inserts or replaces `records` by id in one transaction. Each record changed by this
    /// write gets the next local change sequence number (so sync sees it), and the audit trail
    /// records which fields changed and by `origin`. A record saved unchanged is left alone:
    /// no new `seq`, no audit row. A new record gets one audit row with field `*`.
    pub fn save_records(
        &mut self,
        records: &[Record],
        origin: &WriteOrigin,
    ) -> Result<(), StoreError> {
        self.save_records_counted(records, origin).map(drop)
    }

    /// [`Store::save_records`], returning how many records really changed.
    pub fn save_records_counted(
        &mut self,
        records: &[Record],
        origin: &WriteOrigin,
    ) -> Result<usize, StoreError> {
        self.save_records_tx(records, None, origin)
    }

    /// [`Store::save_records`] for records whose fields were encoded ahead: `encoded[i]` must
    /// be [`encode_fields`] of `records[i].fields`.
    pub fn save_records_encoded(
        &mut self,
        records: &[Record],
        encoded: &[String],
        origin: &WriteOrigin,
    ) -> Result<usize, StoreError> {
        assert_eq!(records.len(), encoded.len(), "one encoding per record");
        debug_assert!(
            records
                .iter()
                .zip(encoded)
                .all(|(r, e)| encode_fields(&r.fields) == *e),
            "encodings match their records"
        );
        self.save_records_tx(records, Some(encoded), origin)
    }

    /// Saves `records` (encoded ahead where `encoded` is given) in one transaction.
    fn save_records_tx(
        &mut self,
        records: &[Record],
        encoded: Option<&[String]>,
        origin: &WriteOrigin,
    ) -> Result<usize, StoreError> {
        let at = self.clock.now();
        let tx = super::sql::begin(&mut self.conn, &self.path)?;
        let changed = save_encoded_in(&tx, &self.path, records, encoded, origin, at, None)?;
        tx.commit()
            .map_err(|e| sql_error(&self.path, "commit records", e))?;
        Ok(changed)
    }

    /// Calls `f` with every record of `kind`, in id order.
    pub fn for_each_record(
        &self,
        kind: ObjectKind,
        include_archived: bool,
        f: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let sql = if include_archived {
            format!("SELECT {RECORD_COLUMNS} FROM records WHERE kind = ?1 ORDER BY id")
        } else {
            format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE kind = ?1 AND archived_at IS NULL ORDER BY id"
            )
        };
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| self.sql("prepare a record scan", e))?;
        let mut rows = stmt
            .query([kind.as_str()])
            .map_err(|e| self.sql("read records", e))?;
        while let Some(row) = rows.next().map_err(|e| self.sql("read records", e))? {
            let raw = RawRecord::from_row(row, 0).map_err(|e| self.sql("read a record", e))?;
            f(raw.into_record(&self.path)?)?;
        }
        Ok(())
    }

    /// The record with id `id`, archived or not.
    pub fn get_record(&self, id: &RecordId) -> Result<Option<Record>, StoreError> {
        let raw = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE id = ?1"
            ))
            .and_then(|mut s| {
                s.query_row([id.as_str()], |r| RawRecord::from_row(r, 0))
                    .optional()
            })
            .map_err(|e| self.sql("read a record", e))?;
        raw.map(|r| r.into_record(&self.path)).transpose()
    }

    /// The record of `kind` whose match key (a contact's email, a company's domain) is
    /// `value`, archived ones included: the oldest live one, else the latest archived one.
    /// For naming a record (`explain`, `status`, `log`), where an archived record is still
    /// one to look at; matching during a sync uses [`Store::find_by_field`].
    pub fn find_by_match_key(
        &self,
        kind: ObjectKind,
        value: &str,
    ) -> Result<Option<Record>, StoreError> {
        let Some(column) = indexed_field(kind) else {
            return Ok(None);
        };
        let value = match_key(column, value);
        let raw = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE kind = ?1 AND {column} = ?2
                 ORDER BY archived_at IS NOT NULL, archived_at DESC, id LIMIT 1"
            ))
            .and_then(|mut s| {
                s.query_row([kind.as_str(), value.as_ref()], |r| {
                    RawRecord::from_row(r, 0)
                })
                .optional()
            })
            .map_err(|e| self.sql("look a record up by match key", e))?;
        raw.map(|r| r.into_record(&self.path)).transpose()
    }

    /// The CRM ids that `connection`'s retired links of `kind` hold for archived local records
    /// whose match key (a contact's email, a company's domain) is `value`: records an archive
    /// here left live in the CRM (`on_delete = "ignore"`), which a new local record with the
    /// same match key takes over.
    pub fn retired_remote_ids_by_match_key(
        &self,
        connection: &str,
        kind: ObjectKind,
        value: &str,
    ) -> Result<Vec<String>, StoreError> {
        let Some(column) = indexed_field(kind) else {
            return Ok(Vec::new());
        };
        let key = match_key(column, value);
        if key.is_empty() {
            return Ok(Vec::new());
        }
        self.need_record_indexes()?;
        let what = "look up retired links by match key";
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT l.remote_id FROM links l JOIN records r ON r.id = l.local_id
                 WHERE l.connection = ?1 AND l.kind = ?2 AND l.retired = 1
                   AND r.kind = ?2 AND r.archived_at IS NOT NULL AND r.{column} = ?3
                 ORDER BY r.archived_at DESC"
            ))
            .map_err(|e| self.sql(what, e))?;
        stmt.query_map(
            rusqlite::params![connection, kind.as_str(), key.as_ref()],
            |r| r.get::<_, String>(0),
        )
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| self.sql(what, e))
    }

    /// The records with these ids that exist, keyed by id.
    pub fn get_records(&self, ids: &[RecordId]) -> Result<HashMap<RecordId, Record>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        for id in ids {
            if out.contains_key(id) {
                continue;
            }
            if let Some(record) = self.get_record(id)? {
                out.insert(id.clone(), record);
            }
        }
        Ok(out)
    }

    /// Up to `limit` records of `kind` (archived included) changed after local change number
    /// `after_seq`, with their change numbers, in change order.
    pub fn records_changed_since(
        &self,
        kind: ObjectKind,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Record)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT seq, {RECORD_COLUMNS} FROM records
                 WHERE kind = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
            ))
            .map_err(|e| self.sql("prepare a change scan", e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![kind.as_str(), after_seq, limit], |r| {
                Ok((r.get::<_, i64>(0)?, RawRecord::from_row(r, 1)?))
            })
            .map_err(|e| self.sql("read changed records", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, raw) = row.map_err(|e| self.sql("read changed records", e))?;
            out.push((seq, raw.into_record(&self.path)?));
        }
        Ok(out)
    }

    /// How many records of `kind` (archived included) changed after local change number
    /// `after_seq`: what [`Store::records_changed_since`] would list.
    pub fn count_changed_since(&self, kind: ObjectKind, after_seq: i64) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM records WHERE kind = ?1 AND seq > ?2")
            .and_then(|mut s| s.query_row(params![kind.as_str(), after_seq], |r| r.get(0)))
            .map_err(|e| self.sql("count changed records", e))?;
        Ok(n as u64)
    }

    /// The highest local change number handed out so far (0 for an empty store).
    pub fn max_seq(&self) -> Result<i64, StoreError> {
        let text: String = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'seq'")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(|e| self.sql("read the change counter", e))?;
        text.parse()
            .map_err(|_| self.corrupt(format!("change counter `{text}` is not a number")))
    }

    /// How many records of `kind` there are (archived ones included or not).
    pub fn count_records(
        &self,
        kind: ObjectKind,
        include_archived: bool,
    ) -> Result<u64, StoreError> {
        let total: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM records WHERE kind = ?1")
            .and_then(|mut s| s.query_row([kind.as_str()], |r| r.get(0)))
            .map_err(|e| self.sql("count records", e))?;
        if include_archived {
            return Ok(total as u64);
        }
        let archived: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM records WHERE kind = ?1 AND archived_at IS NOT NULL",
            )
            .and_then(|mut s| s.query_row([kind.as_str()], |r| r.get(0)))
            .map_err(|e| self.sql("count records", e))?;
        Ok((total - archived) as u64)
    }
}
