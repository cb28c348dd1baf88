//! The import and export contracts: formats, options, reports, errors, and the record store
//! the import writes through ([`RecordStore`]); the facade in [`crate::transfer`] re-exports
//! them.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::columns::MapTarget;

pub use crate::config::OnDuplicate;
use crate::model::{Millis, ObjectKind, Record, RecordId};
use crate::store::{Store, StoreError, WriteOrigin};

/// The two file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line, keyed by column (field) name.
    Jsonl,
}

impl Format {
    /// The format a file name implies: `.csv`/`.txt` → CSV, `.jsonl`/`.ndjson`/`.json` → JSONL.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "txt" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    /// What this format's field names are: `column` (CSV) or `key` (JSONL).
    fn columns_word(self) -> &'static str {
        match self {
            Format::Csv => "column",
            Format::Jsonl => "key",
        }
    }

    /// How a file of this format names fields, with an example for `kind`.
    fn header_advice(self, kind: ObjectKind) -> String {
        let names: Vec<&str> = kind
            .standard_fields()
            .iter()
            .take(3)
            .map(|f| f.name)
            .collect();
        match self {
            Format::Csv => format!(
                "the first line must be a header such as `{}`",
                names.join(",")
            ),
            Format::Jsonl => format!(
                "each line must be a JSON object keyed by field names, such as `{{{}}}`",
                names
                    .iter()
                    .map(|n| format!("\"{n}\": \"…\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to import one file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// The kind of object every row is.
    pub kind: ObjectKind,
    /// `None`: from the file's extension (`.csv`, `.txt`; `.jsonl`, `.ndjson`, `.json`), else
    /// sniffed from its first bytes (`{` → JSONL, anything else → CSV).
    pub format: Option<Format>,
    /// Explicit column → field mappings (`--map`), applied before the built-in names.
    pub map: Vec<(String, MapTarget)>,
    /// Canonical fields that make two rows, or a row and a stored record, the same object.
    pub match_keys: Vec<String>,
    pub on_duplicate: OnDuplicate,
    /// What an empty cell does to a field of a record the row updates.
    pub blank: Blank,
    /// CSV values as they are: a `'` that export put before a value a spreadsheet would run
    /// (see [`export`]) is kept instead of taken off.
    pub raw: bool,
    /// The calling code for national phone numbers (`+44`), for `phone_e164`.
    pub default_calling_code: Option<String>,
    /// `updated_at` of rows that carry none.
    pub now: Millis,
    /// The run this import is recorded under in the audit trail.
    pub run: i64,
    /// Rows per `save_records` call.
    pub batch_size: usize,
}

impl ImportOptions {
    /// Defaults for `kind`: format from the file, no overrides, the kind's default match keys,
    /// merge duplicates, batches of 10,000.
    pub fn new(kind: ObjectKind, now: Millis, run: i64) -> ImportOptions {
        ImportOptions {
            kind,
            format: None,
            map: Vec::new(),
            match_keys: default_match_keys(kind),
            on_duplicate: OnDuplicate::Merge,
            blank: Blank::Keep,
            raw: false,
            default_calling_code: None,
            now,
            run,
            batch_size: DEFAULT_BATCH,
        }
    }
}

/// What an empty cell (or a JSON `null`, or `""`) does when a row updates a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Blank {
    /// The field keeps its value: a file updates only what it has.
    #[default]
    Keep,
    /// The field is cleared.
    Clear,
}

/// Rows per batch unless the caller says otherwise.
pub const DEFAULT_BATCH: usize = 10_000;

/// At most this many rejections are listed in a report; the count goes on.
pub const MAX_LISTED_REJECTIONS: usize = 10_000;

pub use crate::config::default_match_keys;

/// One row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The physical line (1-based) where the row starts.
    pub line: u64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// What an import did. The `--json` shape of `crmsync import` for files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub file: PathBuf,
    pub kind: ObjectKind,
    pub format: Format,
    /// Data rows read (header and blank lines not counted).
    pub rows: u64,
    /// Rows that became new records.
    pub loaded: u64,
    /// Rows merged into an existing record (stored or earlier in the file) and changing it.
    pub merged: u64,
    /// Rows that matched an existing record and would change nothing.
    pub unchanged: u64,
    /// Duplicate rows left alone under `on_duplicate = skip`.
    pub skipped: u64,
    /// Rows not imported; `rejections` lists the first [`MAX_LISTED_REJECTIONS`].
    pub rejected: u64,
    pub rejections: Vec<Rejection>,
    /// For contacts: the rows naming a company that got no `company_id` from it. `None`
    /// (and left out of the JSON) for other objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unlinked_companies: Option<UnlinkedCompanies>,
    /// The stored records that rows matched without changing them (not in the JSON).
    #[serde(skip)]
    pub unchanged_ids: Vec<RecordId>,
}

/// Contact rows that name a company (`company`) and have no `company_id`, yet got none from
/// the name, by why. Their contacts are imported all the same, with the name as text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnlinkedCompanies {
    /// Rows naming a company that no live local company has (its companies may not be
    /// imported yet).
    pub not_found: u64,
    /// Rows naming a company that several live local companies share.
    pub ambiguous: u64,
    /// The first [`MAX_LISTED_NAMES`] names that several companies share, as the rows wrote
    /// them.
    pub ambiguous_names: Vec<String>,
}

/// Names listed in [`UnlinkedCompanies::ambiguous_names`].
pub const MAX_LISTED_NAMES: usize = 20;

impl ImportReport {
    pub(crate) fn new(file: &Path, kind: ObjectKind, format: Format) -> ImportReport {
        ImportReport {
            file: file.to_path_buf(),
            kind,
            format,
            rows: 0,
            loaded: 0,
            merged: 0,
            unchanged: 0,
            skipped: 0,
            rejected: 0,
            rejections: Vec::new(),
            unlinked_companies: (kind == ObjectKind::Contact).then(UnlinkedCompanies::default),
            unchanged_ids: Vec::new(),
        }
    }

    pub(crate) fn reject(&mut self, line: u64, column: Option<&str>, reason: String) {
        self.rejected += 1;
        if self.rejections.len() < MAX_LISTED_REJECTIONS {
            self.rejections.push(Rejection {
                line,
                column: column.map(str::to_string),
                reason,
            });
        }
    }
}

/// Progress of a long import, drawn by the output layer. Called from the importing thread.
pub trait ImportProgress {
    /// The file's size in bytes, once known.
    fn set_total(&self, bytes: u64);
    /// `bytes` more of the file were read and `rows` more rows handled.
    fn advance(&self, bytes: u64, rows: u64);
    fn finish(&self);
}

/// Progress that nobody watches.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl ImportProgress for NoProgress {
    fn set_total(&self, _bytes: u64) {}
    fn advance(&self, _bytes: u64, _rows: u64) {}
    fn finish(&self) {}
}

/// Why an import was refused or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not the format it was taken for; nothing was written.
    #[error("`{path}` is not {expected}: {why}")]
    NotTabular {
        path: PathBuf,
        expected: &'static str,
        why: String,
    },
    /// Columns that are not fields of the kind; nothing was written.
    #[error(
        "`{path}` has columns that are not {kind} fields: {}; map each with `--map \"COLUMN=custom.NAME\"` or `--map \"COLUMN=FIELD\"`, or drop it with `--map \"COLUMN=-\"`",
        backticked(.columns)
    )]
    UnknownColumns {
        path: PathBuf,
        kind: ObjectKind,
        columns: Vec<String>,
    },
    /// No column maps to a field; nothing was written.
    #[error(
        "no {} of `{path}` is a {kind} field (found {}); {}",
        .format.columns_word(),
        backticked(.found),
        .format.header_advice(*.kind)
    )]
    NoFields {
        path: PathBuf,
        kind: ObjectKind,
        format: Format,
        found: Vec<String>,
    },
    /// An option is wrong (a bad `--map`, a match key that is not a field).
    #[error("{0}")]
    Options(String),
    /// The store failed mid-import; the records of earlier batches (`saved`) stay saved, and
    /// importing the same file again merges over them.
    #[error(
        "the import stopped because the state file failed, after {saved} records were saved; importing the file again with `--on-duplicate merge` completes it"
    )]
    Store {
        saved: u64,
        #[source]
        source: StoreError,
    },
}

/// Names listed in a message: each cut to a readable length, at most [`LISTED_NAMES`].
fn backticked(items: &[String]) -> String {
    let mut listed: Vec<String> = items
        .iter()
        .take(LISTED_NAMES)
        .map(|c| format!("`{}`", crate::model::normalize::excerpt(c)))
        .collect();
    if items.len() > LISTED_NAMES {
        listed.push(format!("and {} more", items.len() - LISTED_NAMES));
    }
    listed.join(", ")
}

/// Column names a message lists before it says how many more there are.
const LISTED_NAMES: usize = 20;

/// The store calls import and export make, so that their logic can be tested against an
/// in-memory store as well as the SQLite one.
pub(crate) trait RecordStore {
    fn find_by_field(
        &self,
        kind: ObjectKind,
        field: &str,
        values: &[String],
    ) -> Result<HashMap<String, Record>, StoreError>;
    /// Saves `records` as [`Store::save_records`] does, with `encoded[i]` the
    /// [`crate::store::encode_fields`] of `records[i].fields`.
    fn save_records_encoded(
        &mut self,
        records: &[Record],
        encoded: &[String],
        origin: &WriteOrigin,
    ) -> Result<(), StoreError>;
    /// Brackets a large load (see [`Store::begin_bulk_load`]); stores without such a mode
    /// do nothing.
    fn begin_bulk_load(&mut self, _expected_rows: u64) -> Result<(), StoreError> {
        Ok(())
    }
    fn end_bulk_load(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// The records with these ids that exist (archived ones included), keyed by id.
    fn get_records(&self, ids: &[RecordId]) -> Result<HashMap<RecordId, Record>, StoreError>;
    /// Whether any live (not archived) record of `kind` is stored.
    fn has_live_records(&self, kind: ObjectKind) -> Result<bool, StoreError>;
    fn for_each_record(
        &self,
        kind: ObjectKind,
        include_archived: bool,
        f: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

impl RecordStore for Store {
    fn find_by_field(
        &self,
        kind: ObjectKind,
        field: &str,
        values: &[String],
    ) -> Result<HashMap<String, Record>, StoreError> {
        Store::find_by_field(self, kind, field, values)
    }
    fn save_records_encoded(
        &mut self,
        records: &[Record],
        encoded: &[String],
        origin: &WriteOrigin,
    ) -> Result<(), StoreError> {
        Store::save_records_encoded(self, records, encoded, origin).map(drop)
    }
    fn has_live_records(&self, kind: ObjectKind) -> Result<bool, StoreError> {
        Ok(Store::count_records(self, kind, false)? > 0)
    }
    fn get_records(&self, ids: &[RecordId]) -> Result<HashMap<RecordId, Record>, StoreError> {
        Store::get_records(self, ids)
    }
    fn begin_bulk_load(&mut self, expected_rows: u64) -> Result<(), StoreError> {
        Store::begin_bulk_load(self, expected_rows)
    }
    fn end_bulk_load(&mut self) -> Result<(), StoreError> {
        Store::end_bulk_load(self)
    }
    fn for_each_record(
        &self,
        kind: ObjectKind,
        include_archived: bool,
        f: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        Store::for_each_record(self, kind, include_archived, f)
    }
}

/// Formats epoch milliseconds the way exports write them: RFC 3339, UTC, milliseconds.
pub(crate) fn format_millis(ms: Millis) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

/// Reads a timestamp column: RFC 3339 or epoch milliseconds.
pub(crate) fn parse_millis(v: &str) -> Option<Millis> {
    let v = v.trim();
    if let Ok(ms) = v.parse::<i64>() {
        return Some(ms);
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| t.timestamp_millis())
}
