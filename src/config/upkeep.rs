//! `[backup]` and `[log]`: copies of the state file before large runs, and how long the run
//! log and the audit trail are kept.

use serde::{Deserialize, Serialize};

/// `[backup]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSettings {
    /// A sync run copies the state file before it carries out more than this many planned
    /// writes (local and remote together).
    pub min_writes: u64,
    /// How many automatic copies are kept beside the state file; the oldest go first.
    pub keep: usize,
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            min_writes: 1_000,
            keep: 5,
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// Runs and audit entries older than this many days are removed at the end of every sync
    /// run (and by `crmsync log --prune`); 0 keeps them forever.
    pub keep_days: u32,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings { keep_days: 90 }
    }
}
