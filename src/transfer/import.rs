//! Reading a CSV or JSONL file into records, batch by batch.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender};

use super::columns::{ColumnMapper, HeaderProblem, MapTarget, resolve_header};
use super::export::unneutralise;
use super::{
    Blank, Format, ImportError, ImportOptions, ImportProgress, ImportReport, MAX_LISTED_NAMES,
    OnDuplicate, RecordStore, parse_millis,
};
use crate::model::normalize::{excerpt, match_key, normalize, phone_e164};
use crate::model::{FieldType, Fields, Millis, ObjectKind, Record, RecordId};
use crate::store::{Store, WriteOrigin, encode_fields};

/// Imports the CSV or JSONL file at `path` into `store` as records of `opts.kind`.
///
/// Refusals (the file is not CSV/JSONL, is empty, has columns that are not fields) come back as
/// [`ImportError`] before anything is written; rows that do not fit are listed in the report.
pub fn import_file(
    store: &mut Store,
    path: &Path,
    opts: &ImportOptions,
    progress: &dyn ImportProgress,
) -> Result<ImportReport, ImportError> {
    import_into(store, path, opts, progress)
}

/// The bytes looked at to tell what a file is.
const SNIFF: usize = 8192;

pub(crate) fn import_into<S: RecordStore + ?Sized>(
    store: &mut S,
    path: &Path,
    opts: &ImportOptions,
    progress: &dyn ImportProgress,
) -> Result<ImportReport, ImportError> {
    check_options(opts)?;
    let read_err = |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    let total = file.metadata().map_err(read_err)?.len();
    let mut input = BufReader::with_capacity(1 << 16, file);
    let head = {
        let mut head = Vec::with_capacity(SNIFF);
        (&mut input)
            .take(SNIFF as u64)
            .read_to_end(&mut head)
            .map_err(read_err)?;
        head
    };
    let format = opts
        .format
        .or_else(|| Format::from_path(path))
        .unwrap_or_else(|| sniff_format(&head));
    refuse_non_tabular(path, format, &head)?;
    let head_lines = (head.iter().filter(|&&b| b == b'\n').count(), head.len());
    let input = std::io::Cursor::new(head).chain(input);

    progress.set_total(total);
    // Whether the store already holds records this import could match. When it does not,
    // every stored record a row could duplicate was saved by this import, so its match key
    // values are in the batcher's hash map and only hash hits need a store lookup.
    let store_had_records = !opts.match_keys.is_empty()
        && store
            .has_live_records(opts.kind)
            .map_err(|source| ImportError::Store { saved: 0, source })?;
    let report = ImportReport::new(path, opts.kind, format);
    // A load that looks every row up in the store would only build its indexes back at once.
    let expected_rows = if store_had_records {
        0
    } else {
        estimated_rows(&head_lines, total)
    };
    store
        .begin_bulk_load(expected_rows)
        .map_err(|source| ImportError::Store { saved: 0, source })?;
    let company_keys = match opts.kind {
        ObjectKind::Contact => {
            company_keys(store).map_err(|source| ImportError::Store { saved: 0, source })?
        }
        _ => HashMap::new(),
    };
    let mut sink = Batcher::new(store, opts, report, store_had_records);
    sink.set_companies(company_keys);
    let mapper = ColumnMapper::new(opts.kind, &opts.map);
    let read = match format {
        Format::Csv => read_csv(path, input, &mapper, opts, &mut sink, progress),
        Format::Jsonl => read_jsonl(path, input, &mapper, opts, &mut sink, progress),
    }
    .and_then(|()| sink.flush());
    let (report, saved) = (sink.report, sink.saved);
    // Ended on every path, so a failed import leaves the store as it found it.
    let ended = store
        .end_bulk_load()
        .map_err(|source| ImportError::Store { saved, source });
    read?;
    ended?;
    progress.finish();
    Ok(report)
}

/// About how many rows a file of `total` bytes holds, from the `(newlines, bytes)` of its
/// first bytes; 0 for a file that fits in them (its rows are counted soon enough).
fn estimated_rows((newlines, bytes): &(usize, usize), total: u64) -> u64 {
    if *bytes == 0 || total <= *bytes as u64 {
        return 0;
    }
    total.saturating_mul(*newlines as u64) / *bytes as u64
}

fn check_options(opts: &ImportOptions) -> Result<(), ImportError> {
    for key in &opts.match_keys {
        if opts.kind.field_type(key).is_none() {
            return Err(ImportError::Options(format!(
                "match key `{key}` is not a {} field",
                opts.kind
            )));
        }
    }
    if opts.batch_size == 0 {
        return Err(ImportError::Options(
            "the batch size must be at least 1".into(),
        ));
    }
    Ok(())
}

fn first_significant(head: &[u8]) -> Option<u8> {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    head.iter().copied().find(|b| !b.is_ascii_whitespace())
}

fn sniff_format(head: &[u8]) -> Format {
    match first_significant(head) {
        Some(b'{') => Format::Jsonl,
        _ => Format::Csv,
    }
}

/// Refuses a file that is plainly not `format`, from its first bytes.
fn refuse_non_tabular(path: &Path, format: Format, head: &[u8]) -> Result<(), ImportError> {
    let expected = match format {
        Format::Csv => "a CSV file with a header row",
        Format::Jsonl => "a JSONL file (one JSON object per line)",
    };
    let refuse = |why: String| {
        Err(ImportError::NotTabular {
            path: path.to_path_buf(),
            expected,
            why,
        })
    };
    if head.starts_with(b"PK\x03\x04") {
        return refuse(
            "it is a ZIP archive (an Excel or OpenDocument workbook is one); save the sheet as CSV first"
                .into(),
        );
    }
    if head.starts_with(b"%PDF") {
        return refuse("it is a PDF document".into());
    }
    if let Some(encoding) = utf16(head) {
        return Err(ImportError::NotTabular {
            path: path.to_path_buf(),
            expected: "a file in UTF-8",
            why: format!(
                "it is in {encoding}; save it as UTF-8 (in Excel \"CSV UTF-8\", in LibreOffice the character set \"Unicode (UTF-8)\"), or convert it with `iconv -f UTF-16 -t UTF-8 {} > utf8.{}`",
                path.display(),
                format.as_str()
            ),
        });
    }
    if let Some(at) = head.iter().position(|&b| b == 0) {
        let line = head[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let column = at
            - head[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        return refuse(format!(
            "it holds binary data (a NUL byte on line {line}, byte {column} of the line)"
        ));
    }
    let Some(first) = first_significant(head) else {
        return refuse("the file is empty".into());
    };
    match (first, format) {
        (b'<', _) => refuse("it looks like HTML or XML (it starts with `<`)".into()),
        (b'[', Format::Jsonl) => refuse(
            "it is a JSON array; write one object per line instead (e.g. `jq -c '.[]'`)".into(),
        ),
        (b'[' | b'{', Format::Csv) => {
            refuse("it looks like JSON; for one object per line pass `--format jsonl`".into())
        }
        _ => Ok(()),
    }
}

/// The name of the UTF-16 encoding `head` is in, if it is: a byte-order mark, or (without
/// one) text whose every other byte is NUL, as ASCII text in UTF-16 is.
fn utf16(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\xff\xfe") {
        return Some("UTF-16 (little-endian, with a byte-order mark)");
    }
    if head.starts_with(b"\xfe\xff") {
        return Some("UTF-16 (big-endian, with a byte-order mark)");
    }
    let pairs = &head[..head.len() & !1];
    if pairs.len() < 4 {
        return None;
    }
    let nul_at = |odd: usize| {
        pairs
            .iter()
            .skip(odd)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let half = pairs.len() / 2;
    // Nearly every high byte NUL, nearly no low byte: ASCII-range text in UTF-16.
    if nul_at(1) * 10 >= half * 9 && nul_at(0) * 10 < half {
        Some("UTF-16 (little-endian, without a byte-order mark)")
    } else if nul_at(0) * 10 >= half * 9 && nul_at(1) * 10 < half {
        Some("UTF-16 (big-endian, without a byte-order mark)")
    } else {
        None
    }
}

/// One row, read and normalised, not yet matched.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    line: u64,
    id: Option<RecordId>,
    fields: Fields,
    updated_at: Option<Millis>,
    archived_at: Option<Millis>,
    /// The fields whose cells were empty, kept only under [`Blank::Clear`]: a merge removes
    /// them from the record.
    blank: Vec<String>,
    /// Made with the row, on the thread that parsed it, so the saving thread does less: the
    /// stored form of `fields` ([`encode_fields`]) and the [`key_hash`] of its value of each
    /// of the first [`HASHED_KEYS`] match keys.
    encoded: String,
    hashes: [Option<u64>; HASHED_KEYS],
    /// The id a row without one gets if it is loaded as a new record (also made ahead).
    new_id: Option<RecordId>,
}

/// Match keys whose value hashes a row carries; further keys are hashed when needed.
const HASHED_KEYS: usize = 2;

impl Row {
    /// The [`key_hash`] of this row's `value` of match key `k` (the field `key`).
    fn key_hash(&self, k: usize, key: &str, value: &str) -> u64 {
        known_hash(&self.hashes, k, key, value)
    }
}

/// The [`key_hash`] of `value` of match key `k`: taken from `hashes` where it was made ahead.
fn known_hash(hashes: &[Option<u64>; HASHED_KEYS], k: usize, key: &str, value: &str) -> u64 {
    match hashes.get(k) {
        Some(Some(h)) => *h,
        _ => key_hash(k, key, value),
    }
}

/// Why a row was rejected: the column at fault and the reason.
type RowError = (Option<String>, String);

/// Builds a [`Row`] from (column name, target, raw value) triples.
struct RowBuilder<'a> {
    kind: ObjectKind,
    calling_code: Option<&'a str>,
    match_keys: &'a [String],
    clear_blanks: bool,
    row: Row,
}

impl<'a> RowBuilder<'a> {
    fn new(opts: &'a ImportOptions, line: u64) -> RowBuilder<'a> {
        RowBuilder {
            kind: opts.kind,
            calling_code: opts.default_calling_code.as_deref(),
            match_keys: &opts.match_keys,
            clear_blanks: opts.blank == Blank::Clear,
            row: Row {
                line,
                id: None,
                fields: Fields::new(),
                updated_at: None,
                archived_at: None,
                blank: Vec::new(),
                encoded: String::new(),
                hashes: [None; HASHED_KEYS],
                new_id: None,
            },
        }
    }

    fn set(&mut self, column: &str, target: &MapTarget, raw: &str) -> Result<(), RowError> {
        let bad = |reason: String| Err((Some(column.to_string()), reason));
        let v = raw.trim();
        match target {
            MapTarget::Drop => {}
            MapTarget::Id => {
                if !v.is_empty() {
                    match RecordId::parse(v) {
                        Some(id) => self.row.id = Some(id),
                        None => {
                            return bad(format!(
                                "column `{column}`: `{}` is not a record id (a ULID)",
                                excerpt(v)
                            ));
                        }
                    }
                }
            }
            MapTarget::UpdatedAt | MapTarget::ArchivedAt => {
                if !v.is_empty() {
                    let Some(ms) = parse_millis(v) else {
                        return bad(format!(
                            "column `{column}`: `{}` is not a time (expected RFC 3339 such as `2026-03-01T09:30:00Z`, or epoch milliseconds)",
                            excerpt(v)
                        ));
                    };
                    if *target == MapTarget::UpdatedAt {
                        self.row.updated_at = Some(ms);
                    } else {
                        self.row.archived_at = Some(ms);
                    }
                }
            }
            MapTarget::Field(name) => {
                let ty = self.kind.field_type(name).unwrap_or(FieldType::Text);
                let value = match normalize(ty, v) {
                    Ok(Some(value)) => value,
                    Ok(None) => {
                        if self.clear_blanks {
                            self.row.blank.push(name.clone());
                        }
                        return Ok(());
                    }
                    Err(e) => return bad(format!("column `{column}`: {e}")),
                };
                let value = match ty {
                    FieldType::Ref(to) => match RecordId::parse(&value) {
                        Some(id) => id.0,
                        None => {
                            return bad(format!(
                                "column `{column}`: `{}` is not a {to} record id (a ULID)",
                                excerpt(v)
                            ));
                        }
                    },
                    // The model keeps domains lower-cased so that matching on them is exact.
                    _ if name == "domain" => value.to_lowercase(),
                    _ => value,
                };
                self.row.fields.insert(name.clone(), value);
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Row {
        if self.kind == ObjectKind::Contact
            && !self.row.fields.contains_key("phone_e164")
            && let Some(phone) = self.row.fields.get("phone")
            && let Some(e164) = phone_e164(phone, self.calling_code)
        {
            self.row.fields.insert("phone_e164".into(), e164);
        }
        self.row.encoded = encode_fields(&self.row.fields);
        if self.row.id.is_none() {
            self.row.new_id = Some(RecordId::new());
        }
        for (k, key) in self.match_keys.iter().enumerate().take(HASHED_KEYS) {
            self.row.hashes[k] = self.row.fields.get(key).map(|v| key_hash(k, key, v));
        }
        self.row
    }
}

fn header_refusal(
    path: &Path,
    kind: ObjectKind,
    format: Format,
    header: &[String],
    problem: HeaderProblem,
) -> ImportError {
    match problem {
        HeaderProblem::Unknown(columns) => ImportError::UnknownColumns {
            path: path.to_path_buf(),
            kind,
            columns,
        },
        HeaderProblem::NoFields => ImportError::NoFields {
            path: path.to_path_buf(),
            kind,
            format,
            found: header.to_vec(),
        },
        HeaderProblem::Twice(a, b, what) => ImportError::NotTabular {
            path: path.to_path_buf(),
            expected: "a file with one column per field",
            why: format!(
                "columns `{}` and `{}` both fill `{what}`; drop one with `--map \"{}=-\"`",
                excerpt(&a),
                excerpt(&b),
                excerpt(&b)
            ),
        },
        HeaderProblem::MissingMapped(col) => ImportError::Options(format!(
            "`--map` names column `{col}`, which `{}` does not have",
            path.display()
        )),
    }
}

fn csv_error(path: &Path, e: csv::Error) -> ImportError {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => ImportError::Read {
            path: path.to_path_buf(),
            source,
        },
        other => ImportError::NotTabular {
            path: path.to_path_buf(),
            expected: "a CSV file with a header row",
            why: format!("{other:?}"),
        },
    }
}

/// What the CSV parsing thread hands to the saving one, in file order.
enum Parsed {
    Row(Row),
    Rejected(u64, RowError),
    /// `bytes` more of the file and `rows` more rows were read.
    Advance {
        bytes: u64,
        rows: u64,
    },
}

/// Items per message from the parsing thread: enough to make the channel's cost vanish,
/// few enough that memory stays flat.
const PARSED_CHUNK: usize = 1024;
/// Chunks the parsing thread may run ahead of the saving one.
const PARSED_AHEAD: usize = 8;

fn read_csv<S: RecordStore + ?Sized>(
    path: &Path,
    input: impl Read + Send,
    mapper: &ColumnMapper,
    opts: &ImportOptions,
    sink: &mut Batcher<'_, S>,
    progress: &dyn ImportProgress,
) -> Result<(), ImportError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let header: Vec<String> = {
        let raw = rdr.byte_headers().map_err(|e| csv_error(path, e))?.clone();
        let mut header = Vec::with_capacity(raw.len());
        for (i, col) in raw.iter().enumerate() {
            match std::str::from_utf8(col) {
                Ok(s) => header.push(s.trim().trim_start_matches('\u{feff}').to_string()),
                Err(_) => {
                    return Err(ImportError::NotTabular {
                        path: path.to_path_buf(),
                        expected: "a CSV file in UTF-8",
                        why: format!(
                            "header column {} is not valid UTF-8; save the file as UTF-8",
                            i + 1
                        ),
                    });
                }
            }
        }
        header
    };
    let targets = resolve_header(mapper, &header, &opts.map)
        .map_err(|p| header_refusal(path, opts.kind, Format::Csv, &header, p))?;

    // Parsing and normalising rows runs on its own thread while this one matches and saves
    // them: the two take comparable time, so on two cores an import takes about as long as
    // the slower of them. Rows come back in file order, so the report is the same as a
    // single-threaded read would give.
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel(PARSED_AHEAD);
        let (spent_tx, spent_rx) = std::sync::mpsc::channel();
        let (header, targets) = (&header, &targets);
        scope.spawn(move || parse_csv(path, rdr, opts, header, targets, &tx, &spent_rx));
        sink.spent = Some(spent_tx);
        let result = forward_parsed(rx, sink, progress);
        sink.spent = None;
        result
    })
}

/// The saving side of [`read_csv`]: hands the parsed rows to `sink` in file order.
fn forward_parsed<S: RecordStore + ?Sized>(
    rx: Receiver<Result<Vec<Parsed>, ImportError>>,
    sink: &mut Batcher<'_, S>,
    progress: &dyn ImportProgress,
) -> Result<(), ImportError> {
    for chunk in rx {
        for item in chunk? {
            match item {
                Parsed::Row(row) => {
                    sink.report.rows += 1;
                    sink.push(row)?;
                }
                Parsed::Rejected(line, (column, reason)) => {
                    sink.report.rows += 1;
                    sink.report.reject(line, column.as_deref(), reason);
                }
                Parsed::Advance { bytes, rows } => progress.advance(bytes, rows),
            }
        }
    }
    // Returning drops the receiver: a parsing thread still running after a failed save
    // stops at its next send, and the scope waits for it.
    Ok(())
}

/// The parsing side of [`read_csv`]: sends the rows after the header, in chunks, then ends;
/// a read error is sent as the last message. Stops early when the receiver is gone.
fn parse_csv<R: Read>(
    path: &Path,
    mut rdr: csv::Reader<R>,
    opts: &ImportOptions,
    header: &[String],
    targets: &[MapTarget],
    tx: &SyncSender<Result<Vec<Parsed>, ImportError>>,
    spent: &Receiver<Spent>,
) {
    let mut rec = csv::ByteRecord::new();
    let mut chunk = Vec::with_capacity(PARSED_CHUNK);
    let mut last_byte = 0u64;
    let mut rows_since = 0u64;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                if !chunk.is_empty() {
                    let _ = tx.send(Ok(std::mem::take(&mut chunk)));
                }
                let _ = tx.send(Err(csv_error(path, e)));
                return;
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        if rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        rows_since += 1;
        chunk.push(match csv_row(opts, header, targets, &rec, line) {
            Ok(row) => Parsed::Row(row),
            Err(why) => Parsed::Rejected(line, why),
        });
        if rows_since >= 4096 {
            let byte = rdr.position().byte();
            chunk.push(Parsed::Advance {
                bytes: byte - last_byte,
                rows: rows_since,
            });
            last_byte = byte;
            rows_since = 0;
        }
        if chunk.len() >= PARSED_CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(PARSED_CHUNK));
            if tx.send(Ok(full)).is_err() {
                return;
            }
            while let Ok(saved) = spent.try_recv() {
                drop(saved);
            }
        }
    }
    chunk.push(Parsed::Advance {
        bytes: rdr.position().byte().saturating_sub(last_byte),
        rows: rows_since,
    });
    let _ = tx.send(Ok(chunk));
}

fn csv_row(
    opts: &ImportOptions,
    header: &[String],
    targets: &[MapTarget],
    rec: &csv::ByteRecord,
    line: u64,
) -> Result<Row, RowError> {
    if rec.len() != header.len() {
        return Err((
            None,
            format!(
                "the row has {} values but the header has {} columns",
                rec.len(),
                header.len()
            ),
        ));
    }
    let mut b = RowBuilder::new(opts, line);
    let has_nul = rec.as_slice().contains(&0);
    for (i, ((col, target), raw)) in header.iter().zip(targets).zip(rec.iter()).enumerate() {
        if *target == MapTarget::Drop {
            if col.is_empty() && !raw.iter().all(u8::is_ascii_whitespace) {
                return Err((
                    None,
                    format!(
                        "column {} has a value, `{}`, but no name in the header; name it in the header, or drop the value",
                        i + 1,
                        excerpt(String::from_utf8_lossy(raw).trim())
                    ),
                ));
            }
            continue;
        }
        if has_nul && raw.contains(&0) {
            return Err((
                Some(col.clone()),
                format!("column `{col}` holds a NUL byte: the file has binary data on this line"),
            ));
        }
        let raw = std::str::from_utf8(raw).map_err(|e| {
            (
                Some(col.clone()),
                format!(
                    "column `{col}` is not valid UTF-8 (bad byte at position {}); save the file as UTF-8",
                    e.valid_up_to() + 1
                ),
            )
        })?;
        let raw = if opts.raw { raw } else { unneutralise(raw) };
        b.set(col, target, raw)?;
    }
    Ok(b.finish())
}

fn read_jsonl<S: RecordStore + ?Sized>(
    path: &Path,
    input: impl Read,
    mapper: &ColumnMapper,
    opts: &ImportOptions,
    sink: &mut Batcher<'_, S>,
    progress: &dyn ImportProgress,
) -> Result<(), ImportError> {
    let mut input = BufReader::with_capacity(1 << 16, input);
    let mut buf = Vec::new();
    let mut line = 0u64;
    let mut first = true;
    let mut known: HashMap<String, Option<MapTarget>> = HashMap::new();
    let (mut bytes_since, mut rows_since) = (0u64, 0u64);
    loop {
        buf.clear();
        let n = input
            .read_until(b'\n', &mut buf)
            .map_err(|source| ImportError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line += 1;
        bytes_since += n as u64;
        let text = buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&buf);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = std::str::from_utf8(text)
            .map_err(|e| {
                format!(
                    "the line is not valid UTF-8 (bad byte at position {}); save the file as UTF-8",
                    e.valid_up_to() + 1
                )
            })
            .and_then(|s| {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(s)
                    .map_err(|e| json_error(&e))
            });
        if first {
            first = false;
            // The first object stands in for a header: a file whose first line is not an
            // object, or whose keys are not fields, is refused before anything is written.
            let obj = parsed.as_ref().map_err(|why| ImportError::NotTabular {
                path: path.to_path_buf(),
                expected: "a JSONL file (one JSON object per line)",
                why: format!("line {line}: {why}"),
            })?;
            let keys: Vec<String> = obj.keys().cloned().collect();
            resolve_header(mapper, &keys, &[])
                .map_err(|p| header_refusal(path, opts.kind, Format::Jsonl, &keys, p))?;
        }
        sink.report.rows += 1;
        rows_since += 1;
        let row = parsed
            .map_err(|reason| (None, reason))
            .and_then(|obj| json_row(opts, mapper, &mut known, obj, line));
        match row {
            Ok(row) => sink.push(row)?,
            Err((column, reason)) => sink.report.reject(line, column.as_deref(), reason),
        }
        if rows_since >= 4096 {
            progress.advance(bytes_since, rows_since);
            (bytes_since, rows_since) = (0, 0);
        }
    }
    progress.advance(bytes_since, rows_since);
    Ok(())
}

/// Why a line is not a JSON object, at its column: the line is the file's, which the
/// rejection names (serde counts lines within the one it was given, always 1).
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(what, _)| what);
    format!(
        "the line is not a JSON object: {what} (at column {})",
        e.column()
    )
}

fn json_row(
    opts: &ImportOptions,
    mapper: &ColumnMapper,
    known: &mut HashMap<String, Option<MapTarget>>,
    obj: serde_json::Map<String, serde_json::Value>,
    line: u64,
) -> Result<Row, RowError> {
    let mut b = RowBuilder::new(opts, line);
    let mut filled: HashMap<MapTarget, String> = HashMap::new();
    for (key, value) in obj {
        let target = known
            .entry(key.clone())
            .or_insert_with(|| mapper.target(&key))
            .clone();
        let Some(target) = target else {
            let key = excerpt(&key);
            return Err((
                Some(key.to_string()),
                format!(
                    "`{key}` is not a {} field; map it with `--map \"{key}=custom.NAME\"` or drop it with `--map \"{key}=-\"`",
                    opts.kind
                ),
            ));
        };
        if target == MapTarget::Drop {
            continue;
        }
        if let Some(other) = filled.insert(target.clone(), key.clone()) {
            return Err((
                Some(key.clone()),
                format!("keys `{other}` and `{key}` fill the same field"),
            ));
        }
        let text = match value {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => s,
            serde_json::Value::Bool(v) => v.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                return Err((
                    Some(key.clone()),
                    format!(
                        "`{key}` holds a JSON array or object; expected text, a number or a boolean"
                    ),
                ));
            }
        };
        b.set(&key, &target, &text)?;
    }
    Ok(b.finish())
}

/// Collects rows into batches, matches each batch against itself, earlier rows and the store,
/// and saves it.
struct Batcher<'s, S: RecordStore + ?Sized> {
    store: &'s mut S,
    opts: &'s ImportOptions,
    report: ImportReport,
    rows: Vec<Row>,
    /// Hash of (match key index, value) → the line that brought the value in. Names the line
    /// in messages, and, when the store held no records of the kind before the import, picks
    /// the values worth looking up: whether a row is a duplicate is decided on real values.
    seen: HashMap<u64, u64, BuildHasherDefault<Prehashed>>,
    /// Whether the store held live records of the kind when the import began.
    store_had_records: bool,
    saved: u64,
    /// Where saved batches go to be freed: the thread that allocated their strings frees them
    /// far more cheaply than this one would (the allocator's per-thread arenas).
    spent: Option<Sender<Spent>>,
    /// For a contact import, the live companies by [`company_key`] of their name (`None`
    /// where two share a name): a row naming one gets its `company_id`.
    companies: HashMap<String, Option<RecordId>>,
    /// The same companies' name keys by id.
    company_keys: HashMap<RecordId, String>,
}

/// A saved batch on its way back to be freed: its records and their encodings.
type Spent = (Vec<Record>, Vec<String>);

/// Where a duplicate row's record is.
enum Existing {
    /// Earlier in this batch, at this index of the pending records.
    Pending(usize),
    /// In the store.
    Stored(Record),
}

struct Pending {
    record: Record,
    line: u64,
    /// `encode_fields(&record.fields)`, while it is known.
    encoded: Option<String>,
}

/// A hasher for keys that are already hashes ([`key_hash`]): hashing them again would only
/// cost time.
#[derive(Default)]
struct Prehashed(u64);

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
fn company_key(name: &str) -> String {
    crate::model::normalize::collapse_ws(name.trim()).to_lowercase()
}

/// The [`company_key`] of the name of each live company of `store`, by id.
fn company_keys<S: RecordStore + ?Sized>(
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

/// The hash of match key `k` (the field `key`) and the [`match_key`] of `value`.
fn key_hash(k: usize, key: &str, value: &str) -> u64 {
    let mut h = DefaultHasher::new();
    k.hash(&mut h);
    match_key(key, value).hash(&mut h);
    h.finish()
}

impl<'s, S: RecordStore + ?Sized> Batcher<'s, S> {
    fn new(
        store: &'s mut S,
        opts: &'s ImportOptions,
        report: ImportReport,
        store_had_records: bool,
    ) -> Self {
        Batcher {
            store,
            opts,
            report,
            rows: Vec::with_capacity(opts.batch_size.min(super::DEFAULT_BATCH)),
            seen: HashMap::default(),
            store_had_records,
            saved: 0,
            spent: None,
            companies: HashMap::new(),
            company_keys: HashMap::new(),
        }
    }

    fn push(&mut self, row: Row) -> Result<(), ImportError> {
        self.rows.push(row);
        if self.rows.len() >= self.opts.batch_size {
            self.flush()?;
        }
        Ok(())
    }

    fn store_err(&self, source: crate::store::StoreError) -> ImportError {
        ImportError::Store {
            saved: self.saved,
            source,
        }
    }

    fn flush(&mut self) -> Result<(), ImportError> {
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

        // Rows naming a record by id update that record, wherever it is: earlier in the file
        // or in the store.
        let ids: Vec<RecordId> = rows.iter().filter_map(|r| r.id.clone()).collect();
        let stored_by_id = if ids.is_empty() {
            HashMap::new()
        } else {
            let mut stored = self
                .store
                .get_records(&ids)
                .map_err(|e| self.store_err(e))?;
            stored.retain(|_, r| r.kind == kind);
            stored
        };
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
                OnDuplicate::Error => {
                    let (key, value) = via;
                    let what = match &existing {
                        Existing::Pending(i) => format!(
                            "line {} (record `{}`)",
                            pending[*i].line, pending[*i].record.id
                        ),
                        Existing::Stored(r) => {
                            match key
                                .and_then(|k| self.seen.get(&row.key_hash(k, &keys[k], &value)))
                            {
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
    fn set_companies(&mut self, keys: HashMap<RecordId, String>) {
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
    fn fill_company_id(&mut self, row: &mut Row) {
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
    fn drop_stale_company_id(&self, row: &Row, merged: &mut Record) {
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
    fn find_existing(
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
    fn register(
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

/// Whether `stored` (a record's value of match key `key`) and `value` have one [`match_key`].
fn same_key(key: &str, stored: Option<&str>, value: &str) -> bool {
    stored.is_some_and(|v| v == value || match_key(key, v) == match_key(key, value))
}

/// A batch's pending records by their value of one match key: the first record holding each
/// value. Filed by the value's [`key_hash`], made ahead on the parsing thread, so that the
/// common case neither hashes nor copies the value again; a value whose hash is taken by
/// another value (or by a record that a merge has since moved off it) is filed by value.
#[derive(Default)]
struct PendingByKey {
    by_hash: HashMap<u64, usize, BuildHasherDefault<Prehashed>>,
    by_value: HashMap<String, usize>,
}

impl PendingByKey {
    /// The pending record holding `value` of match key `key` (whose hash is `hash`).
    fn get(&self, hash: u64, key: &str, value: &str, pending: &[Pending]) -> Option<usize> {
        match self.by_hash.get(&hash) {
            Some(&i) if same_key(key, pending[i].record.get(key), value) => Some(i),
            _ if self.by_value.is_empty() => None,
            _ => self.by_value.get(match_key(key, value).as_ref()).copied(),
        }
    }

    /// Files `pending[at]` under `value`, unless a record already holds that place.
    fn insert(&mut self, hash: u64, key: &str, value: &str, at: usize, pending: &[Pending]) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::NoProgress;
    use crate::transfer::columns::parse_map_spec;
    use crate::transfer::mem::MemStore;

    const NOW: Millis = 1_790_000_000_000;

    fn opts() -> ImportOptions {
        ImportOptions::new(ObjectKind::Contact, NOW, 7)
    }

    fn write(dir: &tempfile::TempDir, name: &str, body: &[u8]) -> std::path::PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    fn run(
        store: &mut MemStore,
        name: &str,
        body: &str,
        opts: &ImportOptions,
    ) -> Result<ImportReport, ImportError> {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, name, body.as_bytes());
        import_into(store, &p, opts, &NoProgress)
    }

    fn by_email<'a>(store: &'a MemStore, email: &str) -> &'a Record {
        store
            .records
            .values()
            .find(|r| r.get("email") == Some(email))
            .unwrap_or_else(|| panic!("no record with email {email}"))
    }

    fn lines(report: &ImportReport) -> Vec<u64> {
        report.rejections.iter().map(|r| r.line).collect()
    }

    #[test]
    fn pending_records_are_found_by_value_when_hashes_collide_or_go_stale() {
        let pending: Vec<Pending> = ["a@x.io", "b@x.io", "c@x.io"]
            .iter()
            .enumerate()
            .map(|(i, email)| Pending {
                record: Record {
                    id: RecordId(format!("01HZY00000000000000000000{i}")),
                    kind: ObjectKind::Contact,
                    fields: [("email".to_string(), email.to_string())].into(),
                    updated_at: 0,
                    archived_at: None,
                },
                line: i as u64 + 2,
                encoded: None,
            })
            .collect();
        let mut index = PendingByKey::default();
        // Two values under one hash: both are found, each as itself.
        index.insert(7, "email", "a@x.io", 0, &pending);
        index.insert(7, "email", "b@x.io", 1, &pending);
        assert_eq!(index.get(7, "email", "a@x.io", &pending), Some(0));
        assert_eq!(index.get(7, "email", "b@x.io", &pending), Some(1));
        assert_eq!(index.get(7, "email", "z@x.io", &pending), None);
        // A value filed twice keeps its first record.
        index.insert(7, "email", "b@x.io", 2, &pending);
        assert_eq!(index.get(7, "email", "b@x.io", &pending), Some(1));
        // A record no longer holding the value it was filed under is not found by it.
        let mut moved = pending;
        moved[2]
            .record
            .fields
            .insert("email".into(), "c2@x.io".into());
        let mut index = PendingByKey::default();
        index.insert(9, "email", "c@x.io", 2, &moved);
        assert_eq!(index.get(9, "email", "c@x.io", &moved), None);
    }

    #[test]
    fn a_files_rows_are_estimated_from_its_first_bytes() {
        // 100 lines in the first 4,000 bytes of a 4 MB file: about 100,000 rows.
        assert_eq!(estimated_rows(&(100, 4000), 4_000_000), 100_000);
        // A file read whole already: its rows are counted as they come.
        assert_eq!(estimated_rows(&(3, 120), 120), 0);
        assert_eq!(estimated_rows(&(0, 0), 0), 0);
    }

    #[test]
    fn rows_are_normalised_and_mapped_by_alias() {
        let mut store = MemStore::default();
        let mut o = opts();
        o.default_calling_code = Some("+44".into());
        let r = run(
            &mut store,
            "c.csv",
            "First Name,Last Name,E-mail,Phone Number,Company Name,Title\n  Ann ,Lee, Ann@Example.COM ,020 7946 0958,Acme  Ltd,CTO\n",
            &o,
        )
        .unwrap();
        assert_eq!((r.rows, r.loaded, r.rejected), (1, 1, 0));
        let ann = by_email(&store, "ann@example.com");
        assert_eq!(ann.get("first_name"), Some("Ann"));
        assert_eq!(ann.get("company"), Some("Acme Ltd"));
        assert_eq!(ann.get("job_title"), Some("CTO"));
        assert_eq!(ann.get("phone"), Some("020 7946 0958"));
        assert_eq!(ann.get("phone_e164"), Some("+442079460958"));
        assert_eq!(ann.updated_at, NOW);
        assert_eq!(ann.kind, ObjectKind::Contact);
    }

    #[test]
    fn bad_values_are_rejected_with_their_line_and_column() {
        let mut store = MemStore::default();
        let body = "email,warmness,first_name,updated_at,id\n\
                    ok@x.com,1,A,,\n\
                    not-an-email,2,B,,\n\
                    b@x.com,lots,C,,\n\
                    c@x.com,3,D,yesterday,\n\
                    d@x.com,4,E,,nope\n\
                    e@x.com,5\n\
                    f@x.com,6,F,,\n";
        let r = run(&mut store, "c.csv", body, &opts()).unwrap();
        assert_eq!((r.rows, r.loaded, r.rejected), (7, 2, 5));
        assert_eq!(lines(&r), vec![3, 4, 5, 6, 7]);
        let reasons: Vec<&str> = r.rejections.iter().map(|r| r.reason.as_str()).collect();
        assert!(reasons[0].contains("column `email`") && reasons[0].contains("`not-an-email`"));
        assert!(reasons[1].contains("column `warmness`") && reasons[1].contains("`lots`"));
        assert!(reasons[2].contains("column `updated_at`") && reasons[2].contains("`yesterday`"));
        assert!(reasons[3].contains("column `id`") && reasons[3].contains("`nope`"));
        assert!(reasons[4].contains("2 values") && reasons[4].contains("5 columns"));
        assert_eq!(r.rejections[0].column.as_deref(), Some("email"));
        assert_eq!(store.records.len(), 2);
        by_email(&store, "f@x.com");
    }

    #[test]
    fn a_contacts_company_name_links_the_one_local_company_of_that_name() {
        let mut store = MemStore::default();
        let companies = "name,domain\nNorthwind Traders,northwind.example\n\
                         Twin Co,twin-a.example\nTwin Co,twin-b.example\n";
        let company_opts = ImportOptions::new(ObjectKind::Company, NOW, 1);
        run(&mut store, "co.csv", companies, &company_opts).unwrap();
        let northwind = store
            .records
            .values()
            .find(|r| r.get("domain") == Some("northwind.example"))
            .unwrap()
            .id
            .clone();
        let given = RecordId::new();
        let body = format!(
            "email,company,company_id\n\
             a@x.com,  northwind   TRADERS ,\n\
             b@x.com,Twin Co,\n\
             c@x.com,Nobody Inc,\n\
             d@x.com,Northwind Traders,{given}\n"
        );
        let report = run(&mut store, "c.csv", &body, &opts()).unwrap();
        assert_eq!(
            by_email(&store, "a@x.com").get("company_id"),
            Some(northwind.as_str())
        );
        // The rows left unlinked are counted, by why.
        assert_eq!(
            report.unlinked_companies,
            Some(super::super::UnlinkedCompanies {
                not_found: 1,
                ambiguous: 1,
                ambiguous_names: vec!["Twin Co".into()],
            })
        );
        // Two companies share the name: neither is guessed.
        assert_eq!(by_email(&store, "b@x.com").get("company_id"), None);
        assert_eq!(by_email(&store, "c@x.com").get("company_id"), None);
        // A company id in the file is kept as it is.
        assert_eq!(
            by_email(&store, "d@x.com").get("company_id"),
            Some(given.as_str())
        );
        // The name itself stays as typed.
        assert_eq!(
            by_email(&store, "a@x.com").get("company"),
            Some("northwind TRADERS")
        );

        // Moved to a company not in the store: the old company's id no longer names it and
        // is dropped; back to Northwind (any spelling), it is found again.
        run(
            &mut store,
            "m.csv",
            "email,company\na@x.com,Nobody Inc\n",
            &opts(),
        )
        .unwrap();
        assert_eq!(by_email(&store, "a@x.com").get("company_id"), None);
        run(
            &mut store,
            "n.csv",
            "email,company\na@x.com,NORTHWIND traders\n",
            &opts(),
        )
        .unwrap();
        assert_eq!(
            by_email(&store, "a@x.com").get("company_id"),
            Some(northwind.as_str())
        );
        // An id that names no local company is not second-guessed.
        run(
            &mut store,
            "o.csv",
            "email,company\nd@x.com,Twin Co\n",
            &opts(),
        )
        .unwrap();
        assert_eq!(
            by_email(&store, "d@x.com").get("company_id"),
            Some(given.as_str())
        );
    }

    #[test]
    fn with_no_local_companies_every_named_company_is_unlinked_and_companies_report_none() {
        let mut store = MemStore::default();
        let body = "email,company\na@x.com,Acme\nb@x.com,Acme\nc@x.com,\n";
        let report = run(&mut store, "c.csv", body, &opts()).unwrap();
        let unlinked = report.unlinked_companies.unwrap();
        assert_eq!((unlinked.not_found, unlinked.ambiguous), (2, 0));
        let company_opts = ImportOptions::new(ObjectKind::Company, NOW, 1);
        let report = run(&mut store, "co.csv", "name\nAcme\n", &company_opts).unwrap();
        assert_eq!(report.unlinked_companies, None);
        let json = serde_json::to_value(&report).unwrap();
        assert!(json.get("unlinked_companies").is_none(), "{json}");
    }

    #[test]
    fn quoted_newlines_move_later_line_numbers() {
        let mut store = MemStore::default();
        let body = "email,first_name,custom.note\n\
                    a@x.com,Ann,\"two\nlines, and a comma\"\n\
                    bad,Bob,x\n\
                    \n\
                    c@x.com,Cy,\"three\n\nlines\"\n\
                    also-bad,Di,y\n";
        let r = run(&mut store, "c.csv", body, &opts()).unwrap();
        assert_eq!(lines(&r), vec![4, 9]);
        // Text normalisation folds runs of white space, line breaks included.
        assert_eq!(
            by_email(&store, "a@x.com").get("custom.note"),
            Some("two lines, and a comma")
        );
    }

    #[test]
    fn invalid_utf8_rejects_only_its_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut body = b"email,first_name\na@x.com,Ann\nb@x.com,Jos".to_vec();
        body.extend_from_slice(b"\xe9\nc@x.com,Cy\n");
        let p = write(&dir, "c.csv", &body);
        let mut store = MemStore::default();
        let r = import_into(&mut store, &p, &opts(), &NoProgress).unwrap();
        assert_eq!((r.loaded, lines(&r)), (2, vec![3]));
        assert!(r.rejections[0].reason.contains("not valid UTF-8"));
        assert_eq!(r.rejections[0].column.as_deref(), Some("first_name"));
    }

    #[test]
    fn unnamed_columns_must_stay_empty() {
        let mut store = MemStore::default();
        let r = run(
            &mut store,
            "c.csv",
            "email,first_name,\na@x.com,Ann,\nb@x.com,Bob,surprise\n",
            &opts(),
        )
        .unwrap();
        assert_eq!((r.loaded, lines(&r)), (1, vec![3]));
        assert!(
            r.rejections[0]
                .reason
                .contains("column 3 has a value, `surprise`"),
            "{}",
            r.rejections[0].reason
        );
    }

    #[test]
    fn maps_rename_and_drop_columns() {
        let mut store = MemStore::default();
        let mut o = opts();
        o.map = vec![
            parse_map_spec(ObjectKind::Contact, "Shoe Size=custom.shoe_size").unwrap(),
            parse_map_spec(ObjectKind::Contact, "Internal=-").unwrap(),
        ];
        let r = run(
            &mut store,
            "c.csv",
            "email,Shoe Size,Internal\na@x.com,42,secret\n",
            &o,
        )
        .unwrap();
        assert_eq!(r.loaded, 1);
        let a = by_email(&store, "a@x.com");
        assert_eq!(a.get("custom.shoe_size"), Some("42"));
        assert_eq!(a.fields.len(), 2, "{:?}", a.fields);
    }

    fn assert_refused(name: &str, body: &[u8], o: &ImportOptions, needle: &str) {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, name, body);
        let mut store = MemStore::default();
        let seeded = Record {
            id: RecordId::new(),
            kind: ObjectKind::Contact,
            fields: [("email".to_string(), "old@x.com".to_string())].into(),
            updated_at: 1,
            archived_at: None,
        };
        store.records.insert(seeded.id.clone(), seeded);
        let before = store.clone();
        let err = import_into(&mut store, &p, o, &NoProgress).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(needle), "{name}: {msg}");
        assert!(msg.contains(name), "the message names the file: {msg}");
        assert_eq!(store, before, "{name}: nothing may be written");
    }

    #[test]
    fn files_that_are_not_csv_or_jsonl_are_refused_before_writing() {
        let o = opts();
        assert_refused("empty.csv", b"", &o, "is empty");
        assert_refused("blank.csv", b"\n  \n", &o, "is empty");
        assert_refused("bin.csv", b"email\x00\x01\x02", &o, "binary");
        assert_refused("book.csv", b"PK\x03\x04rest", &o, "ZIP");
        assert_refused("page.csv", b"<!doctype html><html>", &o, "HTML");
        assert_refused("arr.json", b"[{\"email\":\"a@x.com\"}]", &o, "JSON array");
        assert_refused(
            "arr.csv",
            b"[{\"email\":\"a@x.com\"}]",
            &o,
            "--format jsonl",
        );
        assert_refused(
            "noheader.csv",
            b"ann@example.com,Ann\nbob@example.com,Bob\n",
            &o,
            "no column",
        );
        assert_refused(
            "unknown.csv",
            b"email,Shoe Size,Pet\na@x.com,42,cat\n",
            &o,
            "`Shoe Size`, `Pet`",
        );
        assert_refused(
            "twice.csv",
            b"email,E-mail\na@x.com,b@x.com\n",
            &o,
            "both fill",
        );
        assert_refused("bad.jsonl", b"email,name\n{\"email\":1}\n", &o, "line 1");
        assert_refused(
            "keys.jsonl",
            b"{\"email\":\"a@x.com\",\"pet\":\"cat\"}\n",
            &o,
            "`pet`",
        );
        let mut bad_map = opts();
        bad_map.map = vec![parse_map_spec(ObjectKind::Contact, "Nope=-").unwrap()];
        assert_refused("map.csv", b"email\na@x.com\n", &bad_map, "`Nope`");
    }

    #[test]
    fn unknown_columns_message_has_the_hint() {
        let mut store = MemStore::default();
        let err = run(&mut store, "c.csv", "email,Pet\na@x.com,cat\n", &opts()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`--map \"COLUMN=custom.NAME\"`"), "{msg}");
        assert!(msg.contains("`--map \"COLUMN=-\"`"), "{msg}");
    }

    #[test]
    fn bad_match_keys_are_refused() {
        let mut o = opts();
        o.match_keys = vec!["shoe".into()];
        let err = run(&mut MemStore::default(), "c.csv", "email\n", &o).unwrap_err();
        assert!(err.to_string().contains("match key `shoe`"));
    }

    const DUPS: &str = "email,first_name,last_name\n\
                        a@x.com,Ann,\n\
                        b@x.com,Bob,Ray\n\
                        A@X.com,,Lee\n\
                        a@x.com,Ann,Lee\n";

    #[test]
    fn in_file_duplicates_merge() {
        for batch in [1, 2, 100] {
            let mut store = MemStore::default();
            let mut o = opts();
            o.batch_size = batch;
            let r = run(&mut store, "c.csv", DUPS, &o).unwrap();
            assert_eq!(
                (r.loaded, r.merged, r.unchanged, r.skipped, r.rejected),
                (2, 1, 1, 0, 0),
                "batch {batch}"
            );
            assert_eq!(store.records.len(), 2);
            let a = by_email(&store, "a@x.com");
            assert_eq!(
                (a.get("first_name"), a.get("last_name")),
                (Some("Ann"), Some("Lee"))
            );
        }
    }

    #[test]
    fn rows_with_one_address_in_other_forms_are_one_record() {
        // NFC and NFD `josé`, a Unicode domain and its punycode, a zero-width space: one
        // record each, found in the batch, across batches and in the store; `İ` stays apart.
        let body = "email,first_name\n\
                    jos\u{e9}@example.com,José\n\
                    zo\u{eb}@b\u{fc}cher.example,Zoë\n\
                    jose\u{301}@example.com,Jo\n\
                    zo\u{eb}@xn--bcher-kva.example,Zo\n\
                    jo\u{200b}s\u{e9}@example.com,J\n\
                    \u{130}nci@example.com,I\n\
                    inci@example.com,i\n";
        for batch in [1, 2, 100] {
            let mut store = MemStore::default();
            let mut o = opts();
            o.batch_size = batch;
            let r = run(&mut store, "c.csv", body, &o).unwrap();
            assert_eq!((r.loaded, r.merged), (4, 3), "batch {batch}");
            let zoe = by_email(&store, "zo\u{eb}@b\u{fc}cher.example");
            assert_eq!(zoe.get("first_name"), Some("Zo"), "batch {batch}");
        }
    }

    /// A store holding one full contact and one full company, and their ids.
    fn full_records() -> (MemStore, RecordId, RecordId) {
        let mut store = MemStore::default();
        let fields = |pairs: &[(&str, &str)]| -> Fields {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let contact = Record {
            id: RecordId::new(),
            kind: ObjectKind::Contact,
            fields: fields(&[
                ("email", "ann@x.com"),
                ("first_name", "Ann"),
                ("last_name", "Lee"),
                ("job_title", "CTO"),
                ("phone", "+44 1"),
            ]),
            updated_at: 5,
            archived_at: None,
        };
        let company = Record {
            id: RecordId::new(),
            kind: ObjectKind::Company,
            fields: fields(&[
                ("domain", "acme.com"),
                ("name", "Acme"),
                ("industry", "Tools"),
            ]),
            updated_at: 5,
            archived_at: None,
        };
        let ids = (contact.id.clone(), company.id.clone());
        store.records.insert(contact.id.clone(), contact);
        store.records.insert(company.id.clone(), company);
        (store, ids.0, ids.1)
    }

    #[test]
    fn a_partial_file_updates_only_its_fields_by_id_email_or_domain() {
        for (kind, body) in [
            (ObjectKind::Contact, "id,phone,job_title\n{c},+44 2,\n"),
            (
                ObjectKind::Contact,
                "email,phone,job_title\nANN@x.com,+44 2,\n",
            ),
            (ObjectKind::Company, "id,industry,name\n{o},+44 2,\n"),
            (
                ObjectKind::Company,
                "domain,industry,name\nhttps://www.acme.com/,+44 2,\n",
            ),
        ] {
            for blank in [Blank::Keep, Blank::Clear] {
                let (mut store, c, o) = full_records();
                let body = body.replace("{c}", &c.0).replace("{o}", &o.0);
                let mut opts = ImportOptions::new(kind, NOW, 7);
                opts.blank = blank;
                let r = run(&mut store, "p.csv", &body, &opts).unwrap();
                let what = format!("{kind} {body:?} {blank:?}");
                assert_eq!((r.loaded, r.merged, r.rejected), (0, 1, 0), "{what}");
                assert_eq!(store.records.len(), 2, "{what}");
                let id = if kind == ObjectKind::Contact { &c } else { &o };
                let rec = &store.records[id];
                let changed = if kind == ObjectKind::Contact {
                    "phone"
                } else {
                    "industry"
                };
                assert_eq!(rec.get(changed), Some("+44 2"), "{what}");
                let (kept, emptied) = if kind == ObjectKind::Contact {
                    (["email", "first_name", "last_name"], "job_title")
                } else {
                    (["domain", "domain", "domain"], "name")
                };
                for f in kept {
                    assert!(rec.get(f).is_some(), "{what}: {f} kept");
                }
                assert_eq!(
                    rec.get(emptied).is_none(),
                    blank == Blank::Clear,
                    "{what}: {emptied}"
                );
            }
        }
    }

    #[test]
    fn a_row_archiving_a_stored_contact_by_email_archives_it() {
        let (mut store, c, _) = full_records();
        let r = run(
            &mut store,
            "a.csv",
            "email,archived_at\nann@x.com,2026-03-01T00:00:00Z\n",
            &opts(),
        )
        .unwrap();
        assert_eq!((r.loaded, r.merged), (0, 1));
        let contacts: Vec<&Record> = store
            .records
            .values()
            .filter(|r| r.kind == ObjectKind::Contact)
            .collect();
        assert_eq!(contacts.len(), 1, "no second record");
        assert_eq!(contacts[0].id, c);
        assert!(contacts[0].archived_at.is_some());
        assert_eq!(contacts[0].get("first_name"), Some("Ann"));
    }

    fn refusal(name: &str, body: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, name, body);
        import_into(&mut MemStore::default(), &p, &opts(), &NoProgress)
            .unwrap_err()
            .to_string()
    }

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let mut out = if bom { vec![0xff, 0xfe] } else { Vec::new() };
        out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        out
    }

    #[test]
    fn utf16_files_are_named_with_the_way_to_utf8() {
        let text = "email,first_name\nann@x.com,Ann\n";
        let be: Vec<u8> = [0xfe, 0xff]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        for (body, says) in [
            (
                utf16le(text, true),
                "UTF-16 (little-endian, with a byte-order mark)",
            ),
            (
                utf16le(text, false),
                "UTF-16 (little-endian, without a byte-order mark)",
            ),
            (be, "UTF-16 (big-endian, with a byte-order mark)"),
        ] {
            for name in ["c.csv", "c.jsonl"] {
                let err = refusal(name, &body);
                assert!(err.contains(says), "{err}");
                assert!(
                    err.contains("save it as UTF-8") && err.contains("iconv"),
                    "{err}"
                );
                assert!(!err.contains("NUL"), "{err}");
            }
        }
    }

    #[test]
    fn a_utf8_byte_order_mark_is_read_past() {
        let mut store = MemStore::default();
        let r = run(
            &mut store,
            "c.csv",
            "\u{feff}email,first_name\nann@x.com,Ann\n",
            &opts(),
        )
        .unwrap();
        assert_eq!((r.loaded, r.rejected), (1, 0));
        let r = run(
            &mut store,
            "c.jsonl",
            "\u{feff}{\"email\":\"bo@x.com\"}\n",
            &opts(),
        )
        .unwrap();
        assert_eq!((r.loaded, r.rejected), (1, 0));
    }

    #[test]
    fn a_nul_byte_is_reported_with_its_line() {
        let mut body = String::from("email,first_name\n");
        for i in 0..48 {
            body.push_str(&format!("p{i}@x.com,P\n"));
        }
        body.push_str("bad@x.com,B\0d\n");
        let err = refusal("c.csv", body.as_bytes());
        assert!(err.contains("line 50, byte 12"), "{err}");
        // Past the first bytes looked at, the row is rejected with its line.
        let mut body = String::from("email,first_name\n");
        for i in 0..1000 {
            body.push_str(&format!("p{i}@x.com,P\n"));
        }
        body.push_str("bad@x.com,B\0d\n");
        let mut store = MemStore::default();
        let r = run(&mut store, "c.csv", &body, &opts()).unwrap();
        assert_eq!((r.loaded, r.rejected), (1000, 1));
        assert_eq!(lines(&r), vec![1002]);
        assert!(r.rejections[0].reason.contains("NUL"), "{:?}", r.rejections);
    }

    #[test]
    fn errors_quote_a_huge_line_cut() {
        let huge = "y".repeat(2_000_000);
        let err = refusal("c.csv", format!("{huge}\nmore\n").as_bytes());
        assert!(err.len() < 1_000, "{} bytes", err.len());
        assert!(
            err.contains("(2000000 characters)"),
            "{}",
            &err[..200.min(err.len())]
        );
        let mut store = MemStore::default();
        let r = run(
            &mut store,
            "c.csv",
            &format!("email,first_name\n{huge},Ann\n"),
            &opts(),
        )
        .unwrap();
        assert!(
            r.rejections[0].reason.len() < 300,
            "{}",
            r.rejections[0].reason.len()
        );
    }

    #[test]
    fn a_broken_jsonl_line_is_named_by_its_line_in_the_file() {
        let mut store = MemStore::default();
        let body = "{\"email\":\"a@x.com\"}\n{\"email\":\"b@x.com\"}\n{\"email\": oops}\n";
        let r = run(&mut store, "c.jsonl", body, &opts()).unwrap();
        assert_eq!(lines(&r), vec![3]);
        let reason = &r.rejections[0].reason;
        assert!(!reason.contains("line 1"), "{reason}");
        assert!(reason.contains("column 11"), "{reason}");
    }

    #[test]
    fn in_file_duplicates_skip() {
        for batch in [1, 100] {
            let mut store = MemStore::default();
            let mut o = opts();
            o.batch_size = batch;
            o.on_duplicate = OnDuplicate::Skip;
            let r = run(&mut store, "c.csv", DUPS, &o).unwrap();
            assert_eq!((r.loaded, r.merged, r.skipped), (2, 0, 2), "batch {batch}");
            assert_eq!(by_email(&store, "a@x.com").get("last_name"), None);
        }
    }

    #[test]
    fn in_file_duplicates_error_name_the_first_line() {
        for batch in [1, 3, 100] {
            let mut store = MemStore::default();
            let mut o = opts();
            o.batch_size = batch;
            o.on_duplicate = OnDuplicate::Error;
            let r = run(&mut store, "c.csv", DUPS, &o).unwrap();
            assert_eq!((r.loaded, r.rejected), (2, 2), "batch {batch}");
            assert_eq!(lines(&r), vec![4, 5]);
            for rej in &r.rejections {
                assert!(
                    rej.reason.contains("duplicate of line 2")
                        && rej.reason.contains("`email` `a@x.com`"),
                    "batch {batch}: {}",
                    rej.reason
                );
            }
        }
    }

    #[test]
    fn duplicates_of_stored_records() {
        let existing = Record {
            id: RecordId::new(),
            kind: ObjectKind::Contact,
            fields: [
                ("email".to_string(), "a@x.com".to_string()),
                ("first_name".to_string(), "Ann".to_string()),
                ("job_title".to_string(), "CTO".to_string()),
            ]
            .into(),
            updated_at: 5,
            archived_at: None,
        };
        let seeded = || {
            let mut s = MemStore::default();
            s.records.insert(existing.id.clone(), existing.clone());
            s
        };
        let body = "email,last_name,job_title\nA@x.com,Lee,\n";

        let mut store = seeded();
        let r = run(&mut store, "c.csv", body, &opts()).unwrap();
        assert_eq!((r.loaded, r.merged), (0, 1));
        let a = &store.records[&existing.id];
        assert_eq!(a.get("last_name"), Some("Lee"));
        assert_eq!(a.get("job_title"), Some("CTO"), "empty values do not erase");
        assert_eq!(a.updated_at, NOW);

        let mut o = opts();
        o.on_duplicate = OnDuplicate::Skip;
        let mut store = seeded();
        let r = run(&mut store, "c.csv", body, &o).unwrap();
        assert_eq!((r.loaded, r.skipped), (0, 1));
        assert_eq!(store.records[&existing.id], existing);

        o.on_duplicate = OnDuplicate::Error;
        let mut store = seeded();
        let r = run(&mut store, "c.csv", body, &o).unwrap();
        assert_eq!(lines(&r), vec![2]);
        assert!(
            r.rejections[0]
                .reason
                .contains(&format!("record `{}` already in the store", existing.id)),
            "{}",
            r.rejections[0].reason
        );
        assert_eq!(store.records[&existing.id], existing);

        let mut store = seeded();
        let r = run(
            &mut store,
            "c.csv",
            "email,first_name\na@x.com,Ann\n",
            &opts(),
        )
        .unwrap();
        assert_eq!((r.merged, r.unchanged), (0, 1));
        assert_eq!(store.records[&existing.id].updated_at, 5);
    }

    #[test]
    fn batches_call_the_store_once_each() {
        let mut body = String::from("email\n");
        for i in 0..25 {
            body.push_str(&format!("p{i}@x.com\n"));
        }
        let mut store = MemStore::default();
        let mut o = opts();
        o.batch_size = 10;
        let r = run(&mut store, "c.csv", &body, &o).unwrap();
        assert_eq!((r.loaded, store.saves, store.records.len()), (25, 3, 25));
    }

    #[test]
    fn jsonl_rows_and_their_errors() {
        let mut store = MemStore::default();
        let body = "{\"email\":\"a@x.com\",\"First Name\":\"Ann\",\"warmness\":3.50,\"custom.vip\":true}\n\
                    \n\
                    {\"email\":\"b@x.com\",\n\
                    {\"email\":\"c@x.com\",\"pet\":\"cat\"}\n\
                    {\"email\":[\"d@x.com\"]}\n\
                    [1,2]\n\
                    {\"email\":\"e@x.com\",\"first_name\":null}\n";
        let r = run(&mut store, "c.jsonl", body, &opts()).unwrap();
        assert_eq!((r.rows, r.loaded), (6, 2));
        assert_eq!(lines(&r), vec![3, 4, 5, 6]);
        assert!(r.rejections[0].reason.contains("not a JSON object"));
        assert!(
            r.rejections[1]
                .reason
                .contains("`pet` is not a contact field")
        );
        assert!(r.rejections[2].reason.contains("array or object"));
        let a = by_email(&store, "a@x.com");
        assert_eq!(a.get("warmness"), Some("3.5"));
        assert_eq!(a.get("custom.vip"), Some("true"));
        assert_eq!(a.get("first_name"), Some("Ann"));
        assert_eq!(by_email(&store, "e@x.com").get("first_name"), None);
    }

    #[test]
    fn format_is_sniffed_when_the_name_says_nothing() {
        let mut store = MemStore::default();
        let r = run(
            &mut store,
            "contacts.dat",
            "{\"email\":\"a@x.com\"}\n",
            &opts(),
        )
        .unwrap();
        assert_eq!((r.format, r.loaded), (Format::Jsonl, 1));
        let r = run(&mut store, "more.dat", "email\nb@x.com\n", &opts()).unwrap();
        assert_eq!((r.format, r.loaded), (Format::Csv, 1));
    }

    #[test]
    fn companies_match_on_lower_cased_domain() {
        let mut store = MemStore::default();
        let o = ImportOptions::new(ObjectKind::Company, NOW, 1);
        let r = run(
            &mut store,
            "co.csv",
            "Company Name,Website,Industry\nAcme,ACME.com,Tools\nAcme Inc,acme.com,\n",
            &o,
        )
        .unwrap();
        assert_eq!((r.loaded, r.merged), (1, 1));
        let acme = store.records.values().next().unwrap();
        assert_eq!(acme.get("name"), Some("Acme Inc"));
        assert_eq!(acme.get("domain"), Some("acme.com"));
        assert_eq!(acme.get("industry"), Some("Tools"));
    }

    #[test]
    fn refs_must_be_record_ids() {
        let mut store = MemStore::default();
        let o = ImportOptions::new(ObjectKind::Activity, NOW, 1);
        let id = RecordId::new();
        let body = format!(
            "subject,contact,due date,done\nCall,{id},2026-03-01,yes\nEmail,Ann,2026-03-02,no\nMeet,,31/02/2026,no\n"
        );
        let r = run(&mut store, "a.csv", &body, &o).unwrap();
        assert_eq!((r.loaded, lines(&r)), (1, vec![3, 4]));
        assert!(r.rejections[0].reason.contains("not a contact record id"));
        assert!(r.rejections[1].reason.contains("column `due date`"));
        let call = store.records.values().next().unwrap();
        assert_eq!(call.get("contact_id"), Some(id.as_str()));
        assert_eq!(call.get("done"), Some("true"));
    }
}

#[cfg(test)]
mod sample_tests {
    use super::*;
    use crate::transfer::NoProgress;
    use crate::transfer::mem::MemStore;

    fn sample(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(name)
    }

    /// `samples/README.md` describes exactly this outcome.
    #[test]
    fn sample_contacts_import_as_documented() {
        let mut store = MemStore::default();
        let o = ImportOptions::new(ObjectKind::Contact, 1_790_000_000_000, 1);
        let r = import_into(&mut store, &sample("contacts.csv"), &o, &NoProgress).unwrap();
        assert_eq!((r.rows, r.loaded, r.merged, r.rejected), (51, 47, 1, 3));
        let lines: Vec<u64> = r.rejections.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![8, 15, 42]);
        assert!(r.rejections[0].reason.contains("`freya.halvorsen@`"));
        assert!(r.rejections[1].reason.contains("`very warm`"));
        assert!(r.rejections[2].reason.contains("4 values"));
        let grace = store
            .records
            .values()
            .find(|r| r.get("email") == Some("grace.mensah@quillon.example"))
            .unwrap();
        assert_eq!(grace.get("company"), Some("Quillon Legal"));
        let rosa = store
            .records
            .values()
            .find(|r| r.get("first_name") == Some("Rosa"))
            .unwrap();
        assert_eq!(rosa.get("job_title"), Some("Head of Clinical Partnerships"));
    }

    #[test]
    fn sample_companies_all_load() {
        let mut store = MemStore::default();
        let o = ImportOptions::new(ObjectKind::Company, 1_790_000_000_000, 1);
        let r = import_into(&mut store, &sample("companies.csv"), &o, &NoProgress).unwrap();
        assert_eq!((r.rows, r.loaded, r.rejected), (12, 12, 0));
    }
}
