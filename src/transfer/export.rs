//! Writing the store's records of one kind as CSV or JSONL.
//!
//! CSV: a header of `id`, every standard field of the kind in canonical order, then every other
//! field present in any exported record (custom fields) sorted by name, then `updated_at` and
//! `archived_at` (RFC 3339, UTC, milliseconds). Finding the custom columns takes a first pass
//! over the records, so memory stays flat.
//!
//! JSONL: one flat object per record, with the same names as the CSV columns —
//! `{"id":"01…","email":"ann@example.com","custom.colour":"red","updated_at":"…","archived_at":null}` —
//! holding only the fields the record has. Both read back through import unchanged.

use std::collections::BTreeSet;
use std::io::Write;

use serde::Serialize;

use super::{Format, RecordStore, format_millis};
use crate::model::{ObjectKind, Record};
use crate::store::{Store, StoreError};

/// What an export wrote. The `--json` shape of `crmsync export` (on stderr when the data goes to
/// stdout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub kind: ObjectKind,
    pub format: Format,
    pub records: u64,
    /// Of `records`, how many are archived (only with `include_archived`).
    pub archived: u64,
    /// The columns written (CSV), or every key used (JSONL), in order.
    pub columns: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading records from the state file failed")]
    Store(#[from] StoreError),
    #[error("writing the export failed: {0}")]
    Write(#[source] std::io::Error),
}

/// Writes every record of `kind` (and archived ones when `include_archived`) to `out`.
pub fn export(
    store: &Store,
    kind: ObjectKind,
    format: Format,
    include_archived: bool,
    out: &mut dyn Write,
) -> Result<ExportSummary, ExportError> {
    export_from(store, kind, format, include_archived, out)
}

/// The non-standard fields present in the records, sorted.
fn extra_columns<S: RecordStore + ?Sized>(
    store: &S,
    kind: ObjectKind,
    include_archived: bool,
) -> Result<BTreeSet<String>, StoreError> {
    let mut extra = BTreeSet::new();
    store.for_each_record(kind, include_archived, &mut |r: Record| {
        for name in r.fields.keys() {
            if !extra.contains(name) && !kind.standard_fields().iter().any(|f| f.name == name) {
                extra.insert(name.clone());
            }
        }
        Ok(())
    })?;
    Ok(extra)
}

pub(crate) fn export_from<S: RecordStore + ?Sized>(
    store: &S,
    kind: ObjectKind,
    format: Format,
    include_archived: bool,
    out: &mut dyn Write,
) -> Result<ExportSummary, ExportError> {
    let extra = extra_columns(store, kind, include_archived)?;
    let mut columns: Vec<String> = vec!["id".into()];
    columns.extend(kind.standard_fields().iter().map(|f| f.name.to_string()));
    columns.extend(extra);
    columns.extend(["updated_at".into(), "archived_at".into()]);
    let field_columns = &columns[1..columns.len() - 2];

    let mut summary = ExportSummary {
        kind,
        format,
        records: 0,
        archived: 0,
        columns: columns.clone(),
    };
    // The store's callback can only return a store error; a write error is kept aside and
    // stops the walk through this sentinel.
    let mut write_error: Option<std::io::Error> = None;
    let stop = || StoreError::Other {
        path: String::new(),
        message: "export stopped by a write error".into(),
    };
    let walked = match format {
        Format::Csv => {
            let mut w = csv::WriterBuilder::new().from_writer(&mut *out);
            let result = match w.write_record(&columns) {
                Err(e) => Err(csv_io(e)),
                Ok(()) => Ok(()),
            };
            match result {
                Err(e) => {
                    write_error = Some(e);
                    Ok(())
                }
                Ok(()) => {
                    let walked = store.for_each_record(kind, include_archived, &mut |r| {
                        summary.records += 1;
                        summary.archived += u64::from(r.archived_at.is_some());
                        let mut row: Vec<String> = Vec::with_capacity(columns.len());
                        row.push(r.id.0.clone());
                        for c in field_columns {
                            row.push(r.fields.get(c).cloned().unwrap_or_default());
                        }
                        row.push(format_millis(r.updated_at));
                        row.push(r.archived_at.map(format_millis).unwrap_or_default());
                        w.write_record(&row).map_err(|e| {
                            write_error = Some(csv_io(e));
                            stop()
                        })
                    });
                    if write_error.is_none()
                        && let Err(e) = w.flush()
                    {
                        write_error = Some(e);
                    }
                    walked
                }
            }
        }
        Format::Jsonl => store.for_each_record(kind, include_archived, &mut |r| {
            summary.records += 1;
            summary.archived += u64::from(r.archived_at.is_some());
            let mut obj = serde_json::Map::new();
            obj.insert("id".into(), r.id.0.clone().into());
            for c in field_columns {
                if let Some(v) = r.fields.get(c) {
                    obj.insert(c.clone(), v.clone().into());
                }
            }
            obj.insert("updated_at".into(), format_millis(r.updated_at).into());
            obj.insert(
                "archived_at".into(),
                r.archived_at
                    .map_or(serde_json::Value::Null, |t| format_millis(t).into()),
            );
            let written = serde_json::to_writer(&mut *out, &obj)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            written.map_err(|e| {
                write_error = Some(e);
                stop()
            })
        }),
    };
    if let Some(e) = write_error {
        return Err(ExportError::Write(e));
    }
    walked?;
    out.flush().map_err(ExportError::Write)?;
    Ok(summary)
}

fn csv_io(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => std::io::Error::other(format!("{other:?}")),
    }
}
