//! Writing the store's records of one kind as CSV or JSONL.
//!
//! CSV: a header of `id`, every standard field of the kind in canonical order, then every other
//! field present in any exported record (custom fields) sorted by name, then `updated_at` and
//! `archived_at` (RFC 3339, UTC, milliseconds). Finding the custom columns takes a first pass
//! over the records, so memory stays flat.
//!
//! A CSV value that a spreadsheet program would run as a formula — one beginning with `=`, `+`,
//! `-`, `@`, a tab or a carriage return, as OWASP lists for CSV injection — is written with a
//! `'` before it (`'=cmd|' /C calc'!A0`), which spreadsheets show as text; a value already
//! beginning with `'` and one of those (or a second `'`) gets one more `'`, so import takes one
//! off and reads back exactly what was stored. `raw` writes every value as it is, for programs.
//!
//! JSONL: one flat object per record, with the same names as the CSV columns —
//! `{"id":"01…","email":"ann@example.com","custom.colour":"red","updated_at":"…","archived_at":null}` —
//! holding only the fields the record has. Both read back through import unchanged.

use std::collections::BTreeSet;
use std::io::Write;

use serde::Serialize;

use super::types::{Format, RecordStore, format_millis};
use crate::model::{FieldType, ObjectKind, Record};
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
    options: ExportOptions,
    out: &mut dyn Write,
) -> Result<ExportSummary, ExportError> {
    export_from(store, kind, format, options, out)
}

/// How to export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Archived records too.
    pub include_archived: bool,
    /// CSV values as they are, with no `'` before those a spreadsheet would run.
    pub raw: bool,
}

/// The characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
fn is_formula_start(c: u8) -> bool {
    matches!(c, b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
}

/// Whether a CSV value needs a `'` before it: it begins with a formula character, or with a
/// `'` that import would otherwise take off.
fn needs_quote_mark(v: &str) -> bool {
    match v.as_bytes() {
        [c, ..] if is_formula_start(*c) => true,
        [b'\'', c, ..] => *c == b'\'' || is_formula_start(*c),
        _ => false,
    }
}

/// `v` with a `'` before it where a spreadsheet would run it (see [`needs_quote_mark`]).
pub(crate) fn neutralise(v: &str) -> std::borrow::Cow<'_, str> {
    if needs_quote_mark(v) {
        std::borrow::Cow::Owned(format!("'{v}"))
    } else {
        std::borrow::Cow::Borrowed(v)
    }
}

/// A CSV value as export wrote it, back as stored: one `'` taken off where [`neutralise`]
/// put it.
pub(crate) fn unneutralise(v: &str) -> &str {
    match v.strip_prefix('\'') {
        Some(rest) if needs_quote_mark(rest) => rest,
        _ => v,
    }
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
    options: ExportOptions,
    out: &mut dyn Write,
) -> Result<ExportSummary, ExportError> {
    let include_archived = options.include_archived;
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
                            let v = r.fields.get(c).map_or("", String::as_str);
                            row.push(if options.raw {
                                v.to_string()
                            } else {
                                neutralise(v).into_owned()
                            });
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
            let row = JsonRow {
                record: &r,
                fields: field_columns,
            };
            let written = serde_json::to_writer(&mut *out, &row)
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

/// One JSONL line, keys in the CSV column order (`id` first), absent fields left out.
struct JsonRow<'a> {
    record: &'a Record,
    fields: &'a [String],
}

impl Serialize for JsonRow<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let r = self.record;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &r.id.0)?;
        for c in self.fields {
            if let Some(v) = r.fields.get(c) {
                match typed_json(r.kind.field_type(c), v) {
                    Some(typed) => m.serialize_entry(c, &typed)?,
                    None => m.serialize_entry(c, v)?,
                }
            }
        }
        m.serialize_entry("updated_at", &format_millis(r.updated_at))?;
        m.serialize_entry("archived_at", &r.archived_at.map(format_millis))?;
        m.end()
    }
}

/// A number or boolean field's value as a JSON number or boolean (`"warmness": 7`), when it
/// reads back as exactly the stored text; anything else stays a string.
fn typed_json(ty: Option<FieldType>, v: &str) -> Option<serde_json::Value> {
    let typed = match ty? {
        FieldType::Number => serde_json::Value::Number(v.parse().ok()?),
        FieldType::Bool => serde_json::Value::Bool(v.parse().ok()?),
        _ => return None,
    };
    let back = match &typed {
        serde_json::Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    (back == v).then_some(typed)
}

fn csv_io(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RecordId;
    use crate::transfer::import::import_into;
    use crate::transfer::mem::MemStore;
    use crate::transfer::{ImportOptions, NoProgress};

    const NOW: i64 = 1_790_000_000_000;
    const ALL: ExportOptions = ExportOptions {
        include_archived: true,
        raw: false,
    };

    fn import_text(store: &mut MemStore, name: &str, body: &[u8]) -> crate::transfer::ImportReport {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let mut o = ImportOptions::new(ObjectKind::Contact, NOW, 1);
        o.default_calling_code = Some("+1".into());
        import_into(store, &p, &o, &NoProgress).unwrap()
    }

    fn export_bytes(store: &MemStore, format: Format, include_archived: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let options = ExportOptions {
            include_archived,
            raw: false,
        };
        export_from(store, ObjectKind::Contact, format, options, &mut out).unwrap();
        out
    }

    /// A store with awkward values: quoted commas and quotes, unicode, custom fields, an
    /// archived record, a record with few fields.
    fn source_store() -> MemStore {
        let mut store = MemStore::default();
        let body = "First Name,Last Name,Email,Phone,Company,custom.nick,custom.a_first,warmness\n\
                    Zoë,\"O'Brien, Jr.\",zoe@example.com,(555) 010-9999,\"Acme, \"\"the\"\" Co\",Zo 🚀,x,2.50\n\
                    Łukasz,Żółć,lukasz@example.pl,,Ünïcödé GmbH,,,\n\
                    ,,solo@example.com,,,,,\n";
        let r = import_text(&mut store, "in.csv", body.as_bytes());
        assert_eq!((r.loaded, r.rejected), (3, 0));
        let archived = Record {
            id: RecordId::new(),
            kind: ObjectKind::Contact,
            fields: [
                ("email".to_string(), "gone@example.com".to_string()),
                ("custom.zeta".to_string(), "last, \"quoted\"".to_string()),
            ]
            .into(),
            updated_at: NOW - 1234,
            archived_at: Some(NOW - 1000),
        };
        store.records.insert(archived.id.clone(), archived);
        store
    }

    #[test]
    fn csv_values_a_spreadsheet_would_run_are_neutralised_and_read_back() {
        let values = [
            "=cmd|' /C calc'!A0",
            "+1 555 0100",
            "-2+3",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "'=already quoted",
            "''x",
            "'plain",
            "plain",
        ];
        let mut store = MemStore::default();
        let record = Record {
            id: RecordId::new(),
            kind: ObjectKind::Contact,
            fields: values
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("custom.f{i}"), v.to_string()))
                .chain([("email".to_string(), "=a@x.com".to_string())])
                .collect(),
            updated_at: NOW,
            archived_at: None,
        };
        store.records.insert(record.id.clone(), record.clone());

        let out = export_bytes(&store, Format::Csv, false);
        let mut rdr = csv::Reader::from_reader(&out[..]);
        for row in rdr.records() {
            for cell in row.unwrap().iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "a spreadsheet would run `{cell}`"
                );
            }
        }
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("'=cmd|"), "{text}");
        assert!(text.contains(",''=already quoted,"), "{text}");
        assert!(text.contains(",'plain,"), "{text}");

        let mut back = MemStore::default();
        let r = import_text(&mut back, "round.csv", &out);
        assert_eq!((r.loaded, r.rejected), (1, 0), "{:?}", r.rejections);
        assert_eq!(back.records[&record.id].fields, record.fields);

        let mut raw = Vec::new();
        let options = ExportOptions {
            include_archived: false,
            raw: true,
        };
        export_from(&store, ObjectKind::Contact, Format::Csv, options, &mut raw).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        assert!(raw.contains(",=cmd|"), "{raw}");
    }

    #[test]
    fn csv_header_has_id_standard_custom_sorted_then_times() {
        let store = source_store();
        let out = String::from_utf8(export_bytes(&store, Format::Csv, true)).unwrap();
        let header = out.lines().next().unwrap();
        assert_eq!(
            header,
            "id,first_name,last_name,email,emails,phone,phone_e164,company,company_id,job_title,pronouns,owner,lifecycle_stage,warmness,custom.a_first,custom.nick,custom.zeta,updated_at,archived_at"
        );
        assert!(out.contains("\"O'Brien, Jr.\""), "{out}");
        assert!(out.contains("\"Acme, \"\"the\"\" Co\""), "{out}");
        assert!(out.contains("+15550109999"), "{out}");
    }

    #[test]
    fn archived_records_only_on_request() {
        let store = source_store();
        let mut out = Vec::new();
        let s = export_from(
            &store,
            ObjectKind::Contact,
            Format::Jsonl,
            ExportOptions::default(),
            &mut out,
        )
        .unwrap();
        assert_eq!((s.records, s.archived), (3, 0));
        assert!(!s.columns.contains(&"custom.zeta".to_string()));
        assert!(!String::from_utf8(out).unwrap().contains("gone@example.com"));
        let mut out = Vec::new();
        let s = export_from(&store, ObjectKind::Contact, Format::Csv, ALL, &mut out).unwrap();
        assert_eq!((s.records, s.archived), (4, 1));
        assert!(s.columns.contains(&"custom.zeta".to_string()));
        assert!(String::from_utf8(out).unwrap().contains("gone@example.com"));
    }

    #[test]
    fn jsonl_is_flat_with_only_present_fields() {
        let store = source_store();
        let out = String::from_utf8(export_bytes(&store, Format::Jsonl, false)).unwrap();
        let solo = out.lines().find(|l| l.contains("solo@")).unwrap();
        let v: serde_json::Value = serde_json::from_str(solo).unwrap();
        let obj = v.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 4);
        assert!(solo.starts_with("{\"id\":\""), "{solo}");
        assert!(solo.contains("\"email\":\"solo@example.com\""), "{solo}");
        assert_eq!(obj["archived_at"], serde_json::Value::Null);
        assert_eq!(obj["updated_at"], "2026-09-21T14:13:20.000Z");
    }

    fn assert_round_trip(format: Format, name: &str) {
        let a = source_store();
        let first = export_bytes(&a, format, true);
        let mut b = MemStore::default();
        let r = import_text(&mut b, name, &first);
        assert_eq!((r.loaded, r.rejected, r.merged), (4, 0, 0), "{format}");
        assert_eq!(
            a.records, b.records,
            "{format}: every record comes back the same"
        );
        assert_eq!(first, export_bytes(&b, format, true), "{format}");
    }

    #[test]
    fn jsonl_numbers_and_booleans_are_typed_when_they_read_back_the_same() {
        use serde_json::json;
        let n = Some(FieldType::Number);
        assert_eq!(typed_json(n, "7"), Some(json!(7)));
        assert_eq!(typed_json(n, "4.5"), Some(json!(4.5)));
        // Too long for a JSON number to hold exactly: kept as text.
        assert_eq!(typed_json(n, "123456789012345678901234567890"), None);
        assert_eq!(typed_json(Some(FieldType::Bool), "true"), Some(json!(true)));
        assert_eq!(typed_json(Some(FieldType::Text), "7"), None);
        assert_eq!(typed_json(None, "7"), None);
        let out = String::from_utf8(export_bytes(&source_store(), Format::Jsonl, false)).unwrap();
        assert!(out.contains("\"warmness\":"), "{out}");
        assert!(
            !out.contains("\"warmness\":\""),
            "a number written as text: {out}"
        );
    }

    #[test]
    fn csv_export_imports_back_without_loss() {
        assert_round_trip(Format::Csv, "out.csv");
    }

    #[test]
    fn jsonl_export_imports_back_without_loss() {
        assert_round_trip(Format::Jsonl, "out.jsonl");
    }

    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_errors_are_reported() {
        let store = source_store();
        for format in [Format::Csv, Format::Jsonl] {
            let err =
                export_from(&store, ObjectKind::Contact, format, ALL, &mut Broken).unwrap_err();
            assert!(matches!(err, ExportError::Write(_)), "{format}: {err:?}");
            assert!(err.to_string().contains("disk full"), "{err}");
        }
    }
}
