//! Reading a CSV or JSONL file into records, batch by batch.

mod batch;
mod csv;
mod jsonl;
mod row;
#[cfg(test)]
mod sample_tests;
mod sniff;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::columns::ColumnMapper;
use super::types::{Format, ImportError, ImportOptions, ImportProgress, ImportReport, RecordStore};
use crate::model::ObjectKind;
use crate::store::Store;
use batch::{Batcher, company_keys};
use csv::read_csv;
use jsonl::read_jsonl;
use sniff::{SNIFF, refuse_non_tabular, sniff_format};

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
