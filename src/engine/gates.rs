//! Safety gates: pure checks between plan and execute that stop a run which looks wrong.
//!
//! * **Empty read.** A *full* remote read (first sync or `--full`) that returned no record at
//!   all while the connection has live links is far more likely a wrong account, a lost
//!   permission or a broken filter than "everything was deleted". A delta read that returns
//!   nothing is normal and never stops.
//! * **Mass archive.** A run that archives (on either side, pull and push together) more
//!   than `max_archive_pct` percent of the connection's live links stops before it archives
//!   any. Links retired by earlier archives do not count, so a data set cannot be archived
//!   away in rounds that each stay under the limit.
//!
//! Each stop carries the reason, the numbers and the flag that goes past it (`--force`).
//! A failed or partial read never reaches the gates: the engine does not plan from it.

use serde::{Deserialize, Serialize};

use crate::model::ObjectKind;

use super::plan::Plan;

/// The flag that overrides every gate.
pub const FORCE_FLAG: &str = "--force";

/// What the gates look at besides the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateInput {
    pub connection: String,
    pub object: ObjectKind,
    /// The remote read was a full read (no cursor), not a delta.
    pub full_read: bool,
    /// Remote records the read returned (archived ones included).
    pub remote_records: usize,
    /// Live links (not retired by an archive) of this connection and object before the run.
    pub linked: usize,
    /// Archives of this connection and object the run carries out besides the plan's: for a
    /// pull, the local archives its push will send; for a push, those its pull made. The
    /// gate counts a run's archives on both sides together.
    #[serde(default)]
    pub also_archiving: usize,
    /// `[sync] max_archive_pct`.
    pub max_archive_pct: u8,
}

/// Why a run was stopped before writing anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "gate", rename_all = "snake_case")]
pub enum GateStop {
    #[error(
        "stopped before writing: a full read of {object} records from connection `{connection}` returned none, but {linked} records are linked to it; check the account and its permissions, or pass `--force` if they really were all deleted"
    )]
    EmptyRead {
        connection: String,
        object: ObjectKind,
        linked: usize,
    },
    #[error(
        "stopped before writing: the plan for connection `{connection}` would archive {archives} of {linked} linked {object} records ({pct}%, more than the `max_archive_pct` of {max_pct}%); check what was deleted, or pass `--force` to archive them"
    )]
    TooManyArchives {
        connection: String,
        object: ObjectKind,
        archives: usize,
        linked: usize,
        /// The share, rounded up to a whole percent.
        pct: u64,
        max_pct: u8,
    },
}

impl GateStop {
    /// The command-line flag that goes past this stop.
    pub fn override_flag(&self) -> &'static str {
        FORCE_FLAG
    }
}

/// Checks `plan` against the gates. `force` skips them all.
pub fn check(input: &GateInput, plan: &Plan, force: bool) -> Result<(), GateStop> {
    if force {
        return Ok(());
    }
    if input.full_read && input.remote_records == 0 && input.linked > 0 {
        return Err(GateStop::EmptyRead {
            connection: input.connection.clone(),
            object: input.object,
            linked: input.linked,
        });
    }
    let archives = plan.archives() + input.also_archiving;
    if input.linked > 0 && archives > 0 {
        // Integer arithmetic: `archives / linked > max / 100` without rounding surprises.
        let over =
            (archives as u128) * 100 > (input.max_archive_pct as u128) * (input.linked as u128);
        if over {
            let pct = ((archives as u128) * 100).div_ceil(input.linked as u128) as u64;
            return Err(GateStop::TooManyArchives {
                connection: input.connection.clone(),
                object: input.object,
                archives,
                linked: input.linked,
                pct,
                max_pct: input.max_archive_pct,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::Op;
    use crate::model::RecordId;

    fn input(full_read: bool, remote_records: usize, linked: usize) -> GateInput {
        GateInput {
            connection: "hs".into(),
            object: ObjectKind::Contact,
            full_read,
            remote_records,
            linked,
            also_archiving: 0,
            max_archive_pct: 50,
        }
    }

    fn plan_archiving(local: usize, remote: usize) -> Plan {
        let mut ops = Vec::new();
        for i in 0..local {
            ops.push(Op::LocalArchive {
                local_id: RecordId(format!("L{i}")),
                remote_id: format!("R{i}"),
                changes: vec![],
                base: Default::default(),
            });
        }
        for i in 0..remote {
            ops.push(Op::RemoteArchive {
                local_id: RecordId(format!("M{i}")),
                remote_id: format!("S{i}"),
                base: Default::default(),
            });
        }
        Plan {
            connection: "hs".into(),
            object: ObjectKind::Contact,
            ops,
            conflicts: vec![],
            skipped: vec![],
        }
    }

    #[test]
    fn empty_full_read_with_links_stops() {
        let stop = check(&input(true, 0, 12), &plan_archiving(0, 0), false).unwrap_err();
        assert_eq!(
            stop,
            GateStop::EmptyRead {
                connection: "hs".into(),
                object: ObjectKind::Contact,
                linked: 12
            }
        );
        assert_eq!(stop.override_flag(), "--force");
        let text = stop.to_string();
        assert!(
            text.contains("12 records are linked") && text.contains("`--force`"),
            "{text}"
        );
    }

    #[test]
    fn empty_read_passes_when_delta_or_unlinked_or_forced() {
        assert!(check(&input(false, 0, 12), &plan_archiving(0, 0), false).is_ok());
        assert!(check(&input(true, 0, 0), &plan_archiving(0, 0), false).is_ok());
        assert!(check(&input(true, 0, 12), &plan_archiving(0, 0), true).is_ok());
        assert!(check(&input(true, 3, 12), &plan_archiving(0, 0), false).is_ok());
    }

    #[test]
    fn archive_share_is_counted_on_both_sides_against_the_limit() {
        // 5 of 10 = 50%: at the limit, allowed.
        assert!(check(&input(false, 5, 10), &plan_archiving(3, 2), false).is_ok());
        // 6 of 10 = 60%: over.
        let stop = check(&input(false, 6, 10), &plan_archiving(3, 3), false).unwrap_err();
        match &stop {
            GateStop::TooManyArchives {
                archives,
                linked,
                pct,
                max_pct,
                ..
            } => assert_eq!((*archives, *linked, *pct, *max_pct), (6, 10, 60, 50)),
            other => panic!("wrong stop {other:?}"),
        }
        assert!(stop.to_string().contains("6 of 10"), "{stop}");
        assert!(check(&input(false, 6, 10), &plan_archiving(3, 3), true).is_ok());
    }

    #[test]
    fn archives_planned_elsewhere_in_the_run_count_with_the_plan() {
        // 3 in this plan, 3 more on the other side of the run: 6 of 10, over 50%.
        let mut i = input(false, 3, 10);
        i.also_archiving = 3;
        let stop = check(&i, &plan_archiving(3, 0), false).unwrap_err();
        assert!(stop.to_string().contains("6 of 10"), "{stop}");
        i.also_archiving = 2;
        assert!(check(&i, &plan_archiving(3, 0), false).is_ok());
    }

    #[test]
    fn zero_percent_limit_stops_any_archive_and_hundred_never() {
        let mut i = input(false, 1, 1000);
        i.max_archive_pct = 0;
        assert!(check(&i, &plan_archiving(1, 0), false).is_err());
        assert!(check(&i, &plan_archiving(0, 0), false).is_ok());
        i.max_archive_pct = 100;
        assert!(check(&i, &plan_archiving(600, 400), false).is_ok());
    }

    #[test]
    fn stop_serialises_with_its_numbers() {
        let stop = check(&input(true, 0, 3), &plan_archiving(0, 0), false).unwrap_err();
        let json = serde_json::to_value(&stop).unwrap();
        assert_eq!(json["gate"], "empty_read");
        assert_eq!(json["linked"], 3);
    }
}
