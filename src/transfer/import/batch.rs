//! Rows stored batch by batch: each batch matched against the records already stored and the rows
//! pending before it (by match key, the file's own duplicates included), then saved in one
//! transaction.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::mpsc::Sender;

use crate::model::normalize::{excerpt, match_key};
use crate::model::{ObjectKind, Record, RecordId};
use crate::store::{WriteOrigin, encode_fields};
use crate::transfer::types::{
    ImportError, ImportOptions, ImportReport, MAX_LISTED_NAMES, OnDuplicate, RecordStore,
};

use super::row::{HASHED_KEYS, Row, known_hash};

/// Collects rows into batches, matches each batch against itself, earlier rows and the store,
/// and saves it.
pub(super) struct Batcher<'s, S: RecordStore + ?Sized> {
    pub(super) store: &'s mut S,
    pub(super) opts: &'s ImportOptions,
    pub(super) report: ImportReport,
    pub(super) rows: Vec<Row>,
    /// Hash of (match key index, value) → the line that brought the value in. Names the line
    /// in messages, and, when the store held no records of the kind before the import, picks
    /// the values worth looking up: whether a row is a duplicate is decided on real values.
    pub(super) seen: HashMap<u64, u64, BuildHasherDefault<Prehashed>>,
    /// Whether the store held live records of the kind when the import began.
    pub(super) store_had_records: bool,
    pub(super) saved: u64,
    /// Where saved batches go to be freed: the thread that allocated their strings frees them
    /// far more cheaply than this one would (the allocator's per-thread arenas).
    pub(super) spent: Option<Sender<Spent>>,
    /// For a contact import, the live companies by [`company_key`] of their name (`None`
    /// where two share a name): a row naming one gets its `company_id`.
    pub(super) companies: HashMap<String, Option<RecordId>>,
    /// The same companies' name keys by id.
    pub(super) company_keys: HashMap<RecordId, String>,
}

impl<'s, S: RecordStore + ?Sized> Batcher<'s, S> {
    pub(super) fn new(
        store: &'s mut S,
        opts: &'s ImportOptions,
        report: ImportReport,
        store_had_records: bool,
    ) -> Self {
        Batcher {
            store,
            opts,
            report,
            rows: Vec::with_capacity(opts.batch_size.min(crate::transfer::types::DEFAULT_BATCH)),
            seen: HashMap::default(),
            store_had_records,
            saved: 0,
            spent: None,
            companies: HashMap::new(),
            company_keys: HashMap::new(),
        }
    }

    pub(super) fn push(&mut self, row: Row) -> Result<(), ImportError> {
        self.rows.push(row);
        if self.rows.len() >= self.opts.batch_size {
            self.flush()?;
        }
        Ok(())
    }

    pub(super) fn store_err(&self, source: crate::store::StoreError) -> ImportError {
        ImportError::Store {
            saved: self.saved,
            source,
        }
    }

    pub(super) fn flush(&mut self) -> Result<(), ImportError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut rows = std::mem::take(&mut self.rows);
        if self.report.unlinked_companies.is_some() {
            for row in &mut rows {
                self.fill_company_id(row);
            }
        }
        let kind = self.opts.kind;
        let found = self.stored_by_keys(&rows)?;
        let stored_by_id = self.stored_by_id(&rows)?;
        let keys = &self.opts.match_keys;
        let mut pending: Vec<Pending> = Vec::new();
        let mut by_key: Vec<PendingByKey> = keys.iter().map(|_| PendingByKey::default()).collect();
        let mut by_id: HashMap<RecordId, usize> = HashMap::new();
        for row in rows {
            let existing =
                self.find_existing(&row, &found, &by_key, &by_id, &stored_by_id, &pending);
            let Some((existing, via)) = existing else {
                // A row without an id gets a fresh one, which no later row can name: only ids
                // from the file need to be found again.
                let id_from_file = row.id.is_some();
                let hashes = row.hashes;
                let record = Record {
                    id: match &row.id {
                        Some(id) => id.clone(),
                        None => row.new_id.unwrap_or_default(),
                    },
                    kind,
                    fields: row.fields,
                    updated_at: row.updated_at.unwrap_or(self.opts.now),
                    archived_at: row.archived_at,
                };
                self.report.loaded += 1;
                let at = pending.len();
                let ids = id_from_file.then_some(&mut by_id);
                pending.push(Pending {
                    record,
                    line: row.line,
                    encoded: Some(row.encoded),
                });
                self.register(&pending, &hashes, row.line, at, &mut by_key, ids);
                continue;
            };
            match self.opts.on_duplicate {
                OnDuplicate::Skip => self.report.skipped += 1,
                OnDuplicate::Error => self.refuse_duplicate(&row, &existing, via, &pending),
                OnDuplicate::Merge => {
                    let (base, at) = match existing {
                        Existing::Pending(i) => (pending[i].record.clone(), Some(i)),
                        Existing::Stored(r) => (r, None),
                    };
                    let mut merged = base.clone();
                    self.drop_stale_company_id(&row, &mut merged);
                    for (f, v) in row.fields {
                        // The same address in another form is no change: the record keeps
                        // it as first written.
                        if keys.contains(&f) && same_key(&f, merged.get(&f), &v) {
                            continue;
                        }
                        merged.fields.insert(f, v);
                    }
                    for f in &row.blank {
                        merged.fields.remove(f);
                    }
                    if row.archived_at.is_some() {
                        merged.archived_at = row.archived_at;
                    }
                    if merged.fields == base.fields && merged.archived_at == base.archived_at {
                        self.report.unchanged += 1;
                        self.report.unchanged_ids.push(base.id.clone());
                        continue;
                    }
                    merged.updated_at = row.updated_at.unwrap_or(self.opts.now);
                    self.report.merged += 1;
                    let at = match at {
                        Some(i) => {
                            pending[i].record = merged.clone();
                            pending[i].encoded = None;
                            i
                        }
                        None => {
                            pending.push(Pending {
                                record: merged.clone(),
                                line: row.line,
                                encoded: None,
                            });
                            pending.len() - 1
                        }
                    };
                    let none = [None; HASHED_KEYS];
                    self.register(&pending, &none, row.line, at, &mut by_key, Some(&mut by_id));
                }
            }
        }
        self.save(pending)
    }

    /// Refuses `row` as a duplicate of `existing` (found `via` a match key's index and value,
    /// or by id), naming the line or stored record it repeats.
    fn refuse_duplicate(
        &mut self,
        row: &Row,
        existing: &Existing,
        via: (Option<usize>, String),
        pending: &[Pending],
    ) {
        let keys = &self.opts.match_keys;
        let (key, value) = via;
        let what = match &existing {
            Existing::Pending(i) => format!(
                "line {} (record `{}`)",
                pending[*i].line, pending[*i].record.id
            ),
            Existing::Stored(r) => {
                match key.and_then(|k| self.seen.get(&row.key_hash(k, &keys[k], &value))) {
                    Some(line) => format!("line {line} (record `{}`)", r.id),
                    None => format!("record `{}` already in the store", r.id),
                }
            }
        };
        let field = key.map_or("id", |k| keys[k].as_str());
        self.report.reject(
            row.line,
            None,
            format!("duplicate of {what}: same `{field}` `{}`", excerpt(&value)),
        );
    }

    /// The stored records each match key of `rows` names, by key value, one map per key
    /// (only values an earlier row or the store can hold are looked up).
    fn stored_by_keys(&self, rows: &[Row]) -> Result<Vec<HashMap<String, Record>>, ImportError> {
        let kind = self.opts.kind;
        let keys = &self.opts.match_keys;
        let mut found: Vec<HashMap<String, Record>> = Vec::with_capacity(keys.len());
        for (k, key) in keys.iter().enumerate() {
            let mut values: Vec<String> = rows
                .iter()
                .filter_map(|r| Some((r, r.fields.get(key)?)))
                .filter(|(r, v)| {
                    self.store_had_records || self.seen.contains_key(&r.key_hash(k, key, v))
                })
                .map(|(_, v)| v.clone())
                .collect();
            values.sort_unstable();
            values.dedup();
            let hits = if values.is_empty() {
                HashMap::new()
            } else {
                self.store
                    .find_by_field(kind, key, &values)
                    .map_err(|e| self.store_err(e))?
            };
            found.push(hits);
        }

        Ok(found)
    }

    /// The stored records of this kind that rows name by id: a row naming a record by id
    /// updates that record, wherever it is (earlier in the file or in the store).
    fn stored_by_id(&self, rows: &[Row]) -> Result<HashMap<RecordId, Record>, ImportError> {
        let kind = self.opts.kind;
        let ids: Vec<RecordId> = rows.iter().filter_map(|r| r.id.clone()).collect();
        Ok(if ids.is_empty() {
            HashMap::new()
        } else {
            let mut stored = self
                .store
                .get_records(&ids)
                .map_err(|e| self.store_err(e))?;
            stored.retain(|_, r| r.kind == kind);
            stored
        })
    }

    /// Saves the batch's records to the store and hands their buffers back to the parser.
    fn save(&mut self, pending: Vec<Pending>) -> Result<(), ImportError> {
        let mut records: Vec<Record> = Vec::with_capacity(pending.len());
        let mut encoded: Vec<String> = Vec::with_capacity(pending.len());
        for p in pending {
            encoded.push(p.encoded.unwrap_or_else(|| encode_fields(&p.record.fields)));
            records.push(p.record);
        }
        if !records.is_empty() {
            self.store
                .save_records_encoded(
                    &records,
                    &encoded,
                    &WriteOrigin::Import { run: self.opts.run },
                )
                .map_err(|e| self.store_err(e))?;
            self.saved += records.len() as u64;
        }
        if let Some(spent) = &self.spent {
            // When the parsing thread is gone the batch comes back and is freed here.
            let _ = spent.send((records, encoded));
        }
        Ok(())
    }

    /// Takes the live companies' name keys by id, and from them the companies by name.
    pub(super) fn set_companies(&mut self, keys: HashMap<RecordId, String>) {
        for (id, key) in &keys {
            self.companies
                .entry(key.clone())
                .and_modify(|one| *one = None)
                .or_insert_with(|| Some(id.clone()));
        }
        self.company_keys = keys;
    }

    /// Gives a contact row that names a company (`company`) but no `company_id` the id of
    /// the one live local company of that name, where there is exactly one; counts the row
    /// in the report's [`UnlinkedCompanies`] where there is none or several.
    pub(super) fn fill_company_id(&mut self, row: &mut Row) {
        if row.fields.contains_key("company_id") {
            return;
        }
        let Some(name) = row.fields.get("company") else {
            return;
        };
        // With no local companies, no key is built for the name.
        let found = if self.companies.is_empty() {
            None
        } else {
            self.companies.get(&company_key(name))
        };
        let unlinked = self.report.unlinked_companies.get_or_insert_default();
        match found {
            Some(Some(id)) => {
                row.fields.insert("company_id".into(), id.0.clone());
                row.encoded = encode_fields(&row.fields);
            }
            Some(None) => {
                unlinked.ambiguous += 1;
                if unlinked.ambiguous_names.len() < MAX_LISTED_NAMES
                    && !unlinked.ambiguous_names.contains(name)
                {
                    unlinked.ambiguous_names.push(name.clone());
                }
            }
            None => unlinked.not_found += 1,
        }
    }

    /// When a row moves a stored contact to another company by name (`company`, with no
    /// `company_id` of its own or found), the contact's `company_id` no longer names its
    /// company: it is dropped, so a sync does not keep the old company's association.
    pub(super) fn drop_stale_company_id(&self, row: &Row, merged: &mut Record) {
        let (Some(name), None) = (row.fields.get("company"), row.fields.get("company_id")) else {
            return;
        };
        let Some(old) = merged.get("company_id").and_then(RecordId::parse) else {
            return;
        };
        if self
            .company_keys
            .get(&old)
            .is_some_and(|key| *key != company_key(name))
        {
            merged.fields.remove("company_id");
        }
    }

    /// The record `row` duplicates, and by which match key (`None`: by id) and value.
    pub(super) fn find_existing(
        &self,
        row: &Row,
        found: &[HashMap<String, Record>],
        by_key: &[PendingByKey],
        by_id: &HashMap<RecordId, usize>,
        stored_by_id: &HashMap<RecordId, Record>,
        pending: &[Pending],
    ) -> Option<(Existing, (Option<usize>, String))> {
        if let Some(id) = &row.id
            && let Some(&i) = by_id.get(id)
        {
            return Some((Existing::Pending(i), (None, id.to_string())));
        }
        if let Some(id) = &row.id
            && let Some(r) = stored_by_id.get(id)
        {
            return Some((Existing::Stored(r.clone()), (None, id.to_string())));
        }
        for (k, key) in self.opts.match_keys.iter().enumerate() {
            let Some(value) = row.fields.get(key) else {
                continue;
            };
            if let Some(i) = by_key[k].get(row.key_hash(k, key, value), key, value, pending) {
                return Some((Existing::Pending(i), (Some(k), value.clone())));
            }
            if let Some(r) = found[k].get(value) {
                let existing = match by_id.get(&r.id) {
                    Some(&i) => Existing::Pending(i),
                    None => Existing::Stored(r.clone()),
                };
                return Some((existing, (Some(k), value.clone())));
            }
        }
        None
    }

    /// Files `pending[at]` under its id (where `by_id` is given) and match key values.
    /// `hashes` are the record's match key hashes where known (see [`Row::hashes`]).
    pub(super) fn register(
        &mut self,
        pending: &[Pending],
        hashes: &[Option<u64>; HASHED_KEYS],
        line: u64,
        at: usize,
        by_key: &mut [PendingByKey],
        by_id: Option<&mut HashMap<RecordId, usize>>,
    ) {
        let record = &pending[at].record;
        if let Some(by_id) = by_id {
            by_id.insert(record.id.clone(), at);
        }
        if record.archived_at.is_some() {
            return;
        }
        for (k, key) in self.opts.match_keys.iter().enumerate() {
            if let Some(value) = record.fields.get(key) {
                let hash = known_hash(hashes, k, key, value);
                by_key[k].insert(hash, key, value, at, pending);
                self.seen.entry(hash).or_insert(line);
            }
        }
    }
}

/// A saved batch on its way back to be freed: its records and their encodings.
pub(super) type Spent = (Vec<Record>, Vec<String>);

/// Where a duplicate row's record is.
pub(super) enum Existing {
    /// Earlier in this batch, at this index of the pending records.
    Pending(usize),
    /// In the store.
    Stored(Record),
}

pub(super) struct Pending {
    pub(super) record: Record,
    pub(super) line: u64,
    /// `encode_fields(&record.fields)`, while it is known.
    pub(super) encoded: Option<String>,
}

/// A hasher for keys that are already hashes ([`key_hash`]): hashing them again would only
/// cost time.
#[derive(Default)]
pub(super) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is expected; anything else still hashes, just not as cheaply.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, h: u64) {
        self.0 = h;
    }
}

/// How a company name is matched: trimmed, case and inner spacing ignored.
pub(super) fn company_key(name: &str) -> String {
    crate::model::normalize::collapse_ws(name.trim()).to_lowercase()
}

/// The [`company_key`] of the name of each live company of `store`, by id.
pub(super) fn company_keys<S: RecordStore + ?Sized>(
    store: &S,
) -> Result<HashMap<RecordId, String>, crate::store::StoreError> {
    let mut keys = HashMap::new();
    store.for_each_record(ObjectKind::Company, false, &mut |c| {
        if let Some(name) = c.get("name") {
            keys.insert(c.id.clone(), company_key(name));
        }
        Ok(())
    })?;
    Ok(keys)
}

/// Whether `stored` (a record's value of match key `key`) and `value` have one [`match_key`].
pub(super) fn same_key(key: &str, stored: Option<&str>, value: &str) -> bool {
    stored.is_some_and(|v| v == value || match_key(key, v) == match_key(key, value))
}

/// A batch's pending records by their value of one match key: the first record holding each
/// value. Filed by the value's [`key_hash`], made ahead on the parsing thread, so that the
/// common case neither hashes nor copies the value again; a value whose hash is taken by
/// another value (or by a record that a merge has since moved off it) is filed by value.
#[derive(Default)]
pub(super) struct PendingByKey {
    pub(super) by_hash: HashMap<u64, usize, BuildHasherDefault<Prehashed>>,
    pub(super) by_value: HashMap<String, usize>,
}

impl PendingByKey {
    /// The pending record holding `value` of match key `key` (whose hash is `hash`).
    pub(super) fn get(
        &self,
        hash: u64,
        key: &str,
        value: &str,
        pending: &[Pending],
    ) -> Option<usize> {
        match self.by_hash.get(&hash) {
            Some(&i) if same_key(key, pending[i].record.get(key), value) => Some(i),
            _ if self.by_value.is_empty() => None,
            _ => self.by_value.get(match_key(key, value).as_ref()).copied(),
        }
    }

    /// Files `pending[at]` under `value`, unless a record already holds that place.
    pub(super) fn insert(
        &mut self,
        hash: u64,
        key: &str,
        value: &str,
        at: usize,
        pending: &[Pending],
    ) {
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(at);
            }
            std::collections::hash_map::Entry::Occupied(e) => {
                if !same_key(key, pending[*e.get()].record.get(key), value) {
                    self.by_value
                        .entry(match_key(key, value).into_owned())
                        .or_insert(at);
                }
            }
        }
    }
}
