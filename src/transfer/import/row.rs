//! One input row made a record: its fields typed and normalised by the column mapping, with the
//! hashes of its match keys, or the reasons it does not fit.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;

use crate::model::normalize::{excerpt, match_key, normalize, phone_e164};
use crate::model::{FieldType, Fields, Millis, ObjectKind, RecordId};
use crate::store::encode_fields;
use crate::transfer::columns::{HeaderProblem, MapTarget};
use crate::transfer::types::{Blank, Format, ImportError, ImportOptions, parse_millis};

/// One row, read and normalised, not yet matched.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Row {
    pub(super) line: u64,
    pub(super) id: Option<RecordId>,
    pub(super) fields: Fields,
    pub(super) updated_at: Option<Millis>,
    pub(super) archived_at: Option<Millis>,
    /// The fields whose cells were empty, kept only under [`Blank::Clear`]: a merge removes
    /// them from the record.
    pub(super) blank: Vec<String>,
    /// Made with the row, on the thread that parsed it, so the saving thread does less: the
    /// stored form of `fields` ([`encode_fields`]) and the [`key_hash`] of its value of each
    /// of the first [`HASHED_KEYS`] match keys.
    pub(super) encoded: String,
    pub(super) hashes: [Option<u64>; HASHED_KEYS],
    /// The id a row without one gets if it is loaded as a new record (also made ahead).
    pub(super) new_id: Option<RecordId>,
}

impl Row {
    /// The [`key_hash`] of this row's `value` of match key `k` (the field `key`).
    pub(super) fn key_hash(&self, k: usize, key: &str, value: &str) -> u64 {
        known_hash(&self.hashes, k, key, value)
    }
}

/// Match keys whose value hashes a row carries; further keys are hashed when needed.
pub(super) const HASHED_KEYS: usize = 2;

/// The [`key_hash`] of `value` of match key `k`: taken from `hashes` where it was made ahead.
pub(super) fn known_hash(
    hashes: &[Option<u64>; HASHED_KEYS],
    k: usize,
    key: &str,
    value: &str,
) -> u64 {
    match hashes.get(k) {
        Some(Some(h)) => *h,
        _ => key_hash(k, key, value),
    }
}

/// Why a row was rejected: the column at fault and the reason.
pub(super) type RowError = (Option<String>, String);

/// Builds a [`Row`] from (column name, target, raw value) triples.
pub(super) struct RowBuilder<'a> {
    pub(super) kind: ObjectKind,
    pub(super) calling_code: Option<&'a str>,
    pub(super) match_keys: &'a [String],
    pub(super) clear_blanks: bool,
    pub(super) row: Row,
}

impl<'a> RowBuilder<'a> {
    pub(super) fn new(opts: &'a ImportOptions, line: u64) -> RowBuilder<'a> {
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

    pub(super) fn set(
        &mut self,
        column: &str,
        target: &MapTarget,
        raw: &str,
    ) -> Result<(), RowError> {
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

    pub(super) fn finish(mut self) -> Row {
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

pub(super) fn header_refusal(
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

/// The hash of match key `k` (the field `key`) and the [`match_key`] of `value`.
pub(super) fn key_hash(k: usize, key: &str, value: &str) -> u64 {
    let mut h = DefaultHasher::new();
    k.hash(&mut h);
    match_key(key, value).hash(&mut h);
    h.finish()
}
