//! The SQLite state file. (Contract stub: the store module fills this in.)

use std::collections::HashMap;
use std::path::Path;

use crate::model::{ObjectKind, Record};

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state file `{path}`: {message}")]
    Other { path: String, message: String },
}

/// Who made a local write (kept in the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOrigin {
    /// `crmsync import` run `run` (a row of the runs table).
    Import { run: i64 },
    /// A sync run pulled the value from `connection`.
    Pull { run: i64, connection: String },
    /// `conflicts resolve` or another command run by the user.
    User,
}

/// The open state file.
pub struct Store {}

impl Store {
    /// Opens (creating and migrating as needed) the state file at `path`.
    pub fn open(_path: &Path) -> Result<Store, StoreError> {
        unimplemented!("store")
    }

    /// Non-archived records of `kind` whose canonical `field` equals one of `values`
    /// (normalised values, exact match), keyed by that value.
    pub fn find_by_field(
        &self,
        _kind: ObjectKind,
        _field: &str,
        _values: &[String],
    ) -> Result<HashMap<String, Record>, StoreError> {
        unimplemented!("store")
    }

    /// Inserts or replaces `records` by id in one transaction. Each record changed by this
    /// write gets the next local change sequence number (so sync sees it), and the audit trail
    /// records which fields changed and by `origin`.
    pub fn save_records(
        &mut self,
        _records: &[Record],
        _origin: &WriteOrigin,
    ) -> Result<(), StoreError> {
        unimplemented!("store")
    }

    /// Calls `f` with every record of `kind`, in id order.
    pub fn for_each_record(
        &self,
        _kind: ObjectKind,
        _include_archived: bool,
        _f: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        unimplemented!("store")
    }
}
