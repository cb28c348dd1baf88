//! Restoring archived local records: `crmsync records restore`. A restored record is a local change
//! like any other (a new change number, an audit row), so the next sync carries it out: a
//! record whose archive was carried to a CRM is created there again, one never synced is
//! created as its rules say, and one whose archive was not carried over (`on_delete =
//! "ignore"`, or no sync since) is synced with the CRM record it is linked to.

use serde::Serialize;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::usage_hinted;
use crate::model::{Millis, ObjectKind, Record, RecordId};
use crate::store::{Store, WriteOrigin};

/// A record `restore` brought back.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub id: RecordId,
    pub kind: ObjectKind,
    /// When it had been archived (epoch ms).
    pub archived_at: Millis,
}

/// Restores `records` (found by the command line, under the run lock) in one write, or none
/// of them: a record that is not archived, or whose match key a live record of its kind has
/// taken since, is refused (a usage error, exit code 2) before anything is written.
pub fn restore(
    store: &mut Store,
    config: &Config,
    clock: &dyn Clock,
    records: Vec<Record>,
) -> anyhow::Result<Vec<Restored>> {
    let mut restored = Vec::new();
    let mut saved = Vec::new();
    for record in records {
        if saved.iter().any(|r: &Record| r.id == record.id) {
            continue;
        }
        let Some(archived_at) = record.archived_at else {
            return Err(usage_hinted(
                format!("{} `{}` is not archived", record.kind, record.id),
                "`crmsync status RECORD` shows a record's state; only archived records are restored",
            ));
        };
        refuse_taken_key(store, config, &record, &saved)?;
        restored.push(Restored {
            id: record.id.clone(),
            kind: record.kind,
            archived_at,
        });
        saved.push(Record {
            archived_at: None,
            updated_at: clock.now(),
            ..record
        });
    }
    store.save_records(&saved, &WriteOrigin::User)?;
    Ok(restored)
}

/// Refuses to restore `record` when a live record of its kind (in the store, or restored in
/// the same command) has one of its match keys now: the two would be one CRM record.
fn refuse_taken_key(
    store: &Store,
    config: &Config,
    record: &Record,
    restoring: &[Record],
) -> anyhow::Result<()> {
    for key in config.sync.match_keys.for_object(record.kind) {
        let Some(value) = record.get(&key).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let live = store.find_by_field(record.kind, &key, &[value.to_string()])?;
        let other = live.into_values().map(|r| r.id).next().or_else(|| {
            restoring
                .iter()
                .find(|r| r.kind == record.kind && r.get(&key) == Some(value))
                .map(|r| r.id.clone())
        });
        if let Some(other) = other.filter(|o| *o != record.id) {
            return Err(usage_hinted(
                format!(
                    "{} `{}` cannot be restored: live {} `{other}` has its {key} `{value}`",
                    record.kind, record.id, record.kind
                ),
                "archive that record, or change its value, then restore this one",
            ));
        }
    }
    Ok(())
}
