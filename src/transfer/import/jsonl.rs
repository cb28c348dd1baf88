//! Reading JSONL: one JSON object a line, its keys the columns.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::model::normalize::excerpt;
use crate::transfer::columns::{ColumnMapper, MapTarget, resolve_header};
use crate::transfer::types::{Format, ImportError, ImportOptions, ImportProgress, RecordStore};

use super::batch::Batcher;
use super::row::{Row, RowBuilder, RowError, header_refusal};

pub(super) fn read_jsonl<S: RecordStore + ?Sized>(
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
pub(super) fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(what, _)| what);
    format!(
        "the line is not a JSON object: {what} (at column {})",
        e.column()
    )
}

pub(super) fn json_row(
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
