//! The store's shared SQL helpers: transactions, error mapping, and parsing the values rows
//! keep as text.

use std::path::Path;
use std::time::Duration;

use rusqlite::Transaction;

use super::types::StoreError;
use crate::model::{Fields, ObjectKind};

/// How long a connection waits for another process's write lock.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) fn sql_error(path: &Path, context: &str, source: rusqlite::Error) -> StoreError {
    if is_not_a_database(&source) {
        return StoreError::NotAStateFile {
            path: path.to_path_buf(),
        };
    }
    if source.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) {
        return StoreError::ReadOnly {
            path: path.to_path_buf(),
        };
    }
    StoreError::Sql {
        path: path.to_path_buf(),
        context: context.to_string(),
        source,
    }
}

pub(super) fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

pub(super) fn corrupt(path: &Path, message: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        message,
    }
}

pub(super) fn parse_kind(path: &Path, s: &str) -> Result<ObjectKind, StoreError> {
    match s {
        "contact" => Ok(ObjectKind::Contact),
        "company" => Ok(ObjectKind::Company),
        "activity" => Ok(ObjectKind::Activity),
        "deal" => Ok(ObjectKind::Deal),
        other => Err(corrupt(path, format!("unknown object kind `{other}`"))),
    }
}

pub(super) fn parse_fields(_path: &Path, json: &str) -> Result<Fields, String> {
    serde_json::from_str(json).map_err(|e| format!("fields are not a JSON object of text: {e}"))
}

/// A record's fields in the form the state file keeps them (sorted JSON). Pure, so a caller
/// with a thread to spare (a bulk import's parsing thread) can make it ahead and hand it to
/// [`Store::save_records_encoded`].
pub fn encode_fields(fields: &Fields) -> String {
    // A BTreeMap of strings always serialises; the order is sorted, so equal maps give equal
    // text, which lets a no-op write be detected by comparing text.
    serde_json::to_string(fields).unwrap_or_else(|_| "{}".to_string())
}

/// Reads the next local change number; the counter lives in `meta` so that it never goes
/// back, whatever happens to the rows that carried the highest values.
pub(super) fn read_seq(tx: &Transaction<'_>, path: &Path) -> Result<i64, StoreError> {
    let text: String = tx
        .prepare_cached("SELECT value FROM meta WHERE key = 'seq'")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(|e| sql_error(path, "read the change counter", e))?;
    text.parse()
        .map_err(|_| corrupt(path, format!("change counter `{text}` is not a number")))
}

pub(super) fn write_seq(tx: &Transaction<'_>, path: &Path, seq: i64) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'seq'")
        .and_then(|mut s| s.execute([seq.to_string()]))
        .map(drop)
        .map_err(|e| sql_error(path, "write the change counter", e))
}

/// Starts a write transaction. IMMEDIATE takes the write lock up front, so two processes never
/// both read and then fail to upgrade (`SQLITE_BUSY` without waiting).
pub(super) fn begin<'c>(
    conn: &'c mut rusqlite::Connection,
    path: &Path,
) -> Result<Transaction<'c>, StoreError> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| sql_error(path, "start a transaction", e))
}

pub(super) fn commit(tx: Transaction<'_>, path: &Path, context: &str) -> Result<(), StoreError> {
    tx.commit().map_err(|e| sql_error(path, context, e))
}
