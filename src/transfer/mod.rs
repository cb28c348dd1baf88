//! CSV and JSONL import into the local store, and export out of it.
//!
//! # The model
//!
//! An import reads one file of one object kind, row by row. Each row becomes a canonical
//! [`Record`]: its columns are mapped to canonical fields by `columns` (forgiving about case,
//! spaces, `-`/`_` and common aliases; `--map column=field` overrides; `--map column=-` drops a
//! column), every value is normalised by its field's type, and the row is matched against
//! earlier rows of the same file and against the store by the **match keys** (`email` for
//! contacts, `domain` for companies, none for activities, unless the caller says otherwise).
//! What happens to a duplicate is the [`OnDuplicate`] policy.
//!
//! Two kinds of failure are kept apart:
//!
//! * a **refusal** ([`ImportError`]): the file as a whole is not what was expected — not CSV or
//!   JSONL at all, empty, a header naming no field, columns that are not fields. Refusals happen
//!   before anything is written.
//! * a **rejection** ([`Rejection`]): one row does not fit (a bad email, a number that is not
//!   one, the wrong number of columns, bad UTF-8 or bad JSON, a duplicate under
//!   `on_duplicate = error`). The row is reported with its physical line in the file — a quoted
//!   CSV value that spans lines moves every later line number — and the other rows go on.
//!
//! A column that is not a known field is refused up front with the list of such columns and
//! the hint to map it (`--map "Shoe size=custom.shoe_size"`) or drop it (`--map "Shoe size=-"`).
//! Columns named `custom.<name>` are custom fields as they stand. In JSONL the keys of the first
//! object are checked up front the same way; a later object with a key that is not a field is
//! rejected as a row.
//!
//! # Identity and round trips
//!
//! The columns `id` (a ULID), `updated_at` and `archived_at` (RFC 3339 or epoch milliseconds)
//! are not fields but the record's own metadata, so an export imports back without loss. A row
//! with an `id` that is stored (or earlier in the file) is that record; otherwise its match key
//! may find a live record, in which case it is a duplicate of that record like any other row
//! (under `merge` the stored record keeps its own id). A row without either gets a new id (the
//! file's, or a fresh one), and `updated_at` defaults to the import's "now".
//!
//! A row that updates a record changes only the fields the file has: an empty cell leaves the
//! field as it is, unless [`Blank::Clear`] says to clear it. A row with `archived_at` whose
//! match key finds a live record archives that record (only live records are matched).
//!
//! # Streaming
//!
//! Rows are read and saved in batches of [`ImportOptions::batch_size`] (10,000 by default):
//! one `find_by_field` per match key per batch and one `save_records` per batch, so memory stays
//! flat however long the file is. Duplicates inside the file are found across batches by a map
//! from a hash of each match key value to the line that brought it in (16 bytes a row); a hash
//! hit is only trusted once the store or the current batch confirms the actual value. When the
//! store held no live records of the kind before the import, only values with a hash hit are
//! looked up: any stored record they could match was saved by this import.
//!
//! A CSV file is parsed and normalised on a second thread while the calling thread matches and
//! saves; rows cross over in file order, so the report is what a single thread would give.

mod columns;
mod export;
mod import;
mod types;

pub use columns::{MapTarget, parse_map_spec};
pub use export::{ExportError, ExportOptions, ExportSummary, export};
pub use import::import_file;
pub use types::*;

#[cfg(test)]
mod store_tests;

#[cfg(test)]
pub(crate) mod mem {
    //! An in-memory [`RecordStore`] with the contract's semantics, for unit tests.

    use std::collections::{BTreeMap, HashMap};

    use super::RecordStore;
    use crate::model::{ObjectKind, Record, RecordId};
    use crate::store::{StoreError, WriteOrigin};

    #[derive(Debug, Default, Clone, PartialEq)]
    pub struct MemStore {
        pub records: BTreeMap<RecordId, Record>,
        pub saves: usize,
    }

    impl RecordStore for MemStore {
        fn find_by_field(
            &self,
            kind: ObjectKind,
            field: &str,
            values: &[String],
        ) -> Result<HashMap<String, Record>, StoreError> {
            let mut out = HashMap::new();
            for r in self.records.values() {
                if r.kind == kind
                    && r.archived_at.is_none()
                    && let Some(v) = r.get(field)
                {
                    let key = crate::model::normalize::match_key(field, v);
                    for x in values {
                        if crate::model::normalize::match_key(field, x) == key {
                            out.entry(x.clone()).or_insert_with(|| r.clone());
                        }
                    }
                }
            }
            Ok(out)
        }
        fn save_records_encoded(
            &mut self,
            records: &[Record],
            encoded: &[String],
            _origin: &WriteOrigin,
        ) -> Result<(), StoreError> {
            assert_eq!(records.len(), encoded.len());
            self.saves += 1;
            for (r, e) in records.iter().zip(encoded) {
                assert_eq!(
                    crate::store::encode_fields(&r.fields),
                    *e,
                    "record {}",
                    r.id
                );
                self.records.insert(r.id.clone(), r.clone());
            }
            Ok(())
        }
        fn get_records(&self, ids: &[RecordId]) -> Result<HashMap<RecordId, Record>, StoreError> {
            Ok(ids
                .iter()
                .filter_map(|id| Some((id.clone(), self.records.get(id)?.clone())))
                .collect())
        }
        fn has_live_records(&self, kind: ObjectKind) -> Result<bool, StoreError> {
            Ok(self
                .records
                .values()
                .any(|r| r.kind == kind && r.archived_at.is_none()))
        }
        fn for_each_record(
            &self,
            kind: ObjectKind,
            include_archived: bool,
            f: &mut dyn FnMut(Record) -> Result<(), StoreError>,
        ) -> Result<(), StoreError> {
            for r in self.records.values() {
                if r.kind == kind && (include_archived || r.archived_at.is_none()) {
                    f(r.clone())?;
                }
            }
            Ok(())
        }
    }
}
