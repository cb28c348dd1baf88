//! Reading CSV: a parsing thread sends rows in chunks ahead of the batches that store them.

use std::io::Read;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};

use crate::model::normalize::excerpt;
use crate::transfer::columns::{ColumnMapper, MapTarget, resolve_header};
use crate::transfer::export::unneutralise;
use crate::transfer::types::{Format, ImportError, ImportOptions, ImportProgress, RecordStore};

use super::batch::{Batcher, Spent};
use super::row::{Row, RowBuilder, RowError, header_refusal};

/// What the CSV parsing thread hands to the saving one, in file order.
pub(super) enum Parsed {
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
pub(super) const PARSED_CHUNK: usize = 1024;

/// Chunks the parsing thread may run ahead of the saving one.
pub(super) const PARSED_AHEAD: usize = 8;

pub(super) fn read_csv<S: RecordStore + ?Sized>(
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
pub(super) fn forward_parsed<S: RecordStore + ?Sized>(
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
pub(super) fn parse_csv<R: Read>(
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

pub(super) fn csv_row(
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

pub(super) fn csv_error(path: &Path, e: csv::Error) -> ImportError {
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
