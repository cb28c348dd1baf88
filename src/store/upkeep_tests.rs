//! Pruning, the run history, and copies of the state file.

use std::path::Path;

use super::*;
use crate::engine::sync::{ConnectionReport, ObjectReport};
use crate::model::{Millis, ObjectKind};

const MINUTE: Millis = 60_000;
const DAY: Millis = 24 * 60 * MINUTE;
const START: Millis = 1_768_478_400_000;

/// The counts a sync run with nothing to do stores for one connection.
fn no_op_counts() -> serde_json::Value {
    let report = ConnectionReport {
        connection: "acme".into(),
        objects: [ObjectKind::Contact, ObjectKind::Company]
            .into_iter()
            .map(|k| ObjectReport {
                object: Some(k),
                ..ObjectReport::default()
            })
            .collect(),
        requests: 2,
        ..ConnectionReport::default()
    };
    serde_json::to_value([report]).unwrap()
}

/// Writes `runs` no-op sync runs `every` ms apart from `START`, each followed by the prune a
/// sync run ends with (`keep_days`), as a timer would; returns the file's size in bytes after
/// a checkpoint.
fn simulate(path: &Path, runs: u64, every: Millis, keep_days: i64) -> u64 {
    let mut store = Store::open(path).unwrap();
    // The simulation needs no durability, only the rows and pages of the real writes.
    store
        .conn
        .execute_batch("PRAGMA synchronous = OFF;")
        .unwrap();
    let counts = no_op_counts();
    let names = vec!["acme".to_string()];
    for i in 0..runs as i64 {
        let now = START + i * every;
        let run = store.begin_run("sync", &names, now).unwrap();
        store
            .finish_run(run, RunOutcome::Ok, &counts, None, now + 900)
            .unwrap();
        store.prune_log(now - keep_days * DAY, &names).unwrap();
    }
    store
        .conn
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    drop(store);
    std::fs::metadata(path).unwrap().len()
}

#[test]
fn a_timer_every_minute_reaches_a_steady_size_once_pruning_starts() {
    let dir = tempfile::tempdir().unwrap();
    // One day kept: after day two the file holds as many runs as it ever will.
    let two_days = simulate(&dir.path().join("a.db"), 2 * 1440, MINUTE, 1);
    let six_days = simulate(&dir.path().join("b.db"), 6 * 1440, MINUTE, 1);
    assert!(
        six_days <= two_days + two_days / 10,
        "six days {six_days} bytes against two days {two_days}"
    );
    let store = Store::open(&dir.path().join("b.db")).unwrap();
    let kept: i64 = store
        .conn
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert!((1440..=1442).contains(&kept), "{kept} runs kept");
}

/// A year of no-op runs every minute (525,600), keeping 90 days: prints the state file's
/// size. Slow in a debug build; run with `cargo test --lib year_of_runs -- --ignored
/// --nocapture`.
#[test]
#[ignore]
fn year_of_runs_every_minute() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let bytes = simulate(&dir.path().join("year.db"), 525_600, MINUTE, 90);
    println!(
        "a year of no-op runs every minute, 90 days kept: {bytes} bytes ({:.1} MiB), simulated in {:?}",
        bytes as f64 / 1_048_576.0,
        started.elapsed()
    );
    let unpruned = simulate(&dir.path().join("quarter.db"), 90 * 1440, MINUTE, 90);
    assert!(
        bytes <= unpruned + unpruned / 10,
        "{bytes} against {unpruned}"
    );
}

#[test]
fn pruning_keeps_the_window_and_the_last_successful_sync_of_each_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.db")).unwrap();
    let acme = vec!["acme".to_string()];
    let both = vec!["acme".to_string(), "pd".to_string()];
    // Day 0: pd's last success. Day 1: acme succeeds. Days 2..: acme fails.
    let r0 = store.begin_run("sync", &both, START).unwrap();
    store
        .finish_run(r0, RunOutcome::Partial, &no_op_counts(), None, START)
        .unwrap();
    let r1 = store.begin_run("sync", &acme, START + DAY).unwrap();
    store
        .finish_run(r1, RunOutcome::Ok, &no_op_counts(), None, START + DAY)
        .unwrap();
    for d in 2..10 {
        let r = store.begin_run("sync", &acme, START + d * DAY).unwrap();
        store
            .finish_run(
                r,
                RunOutcome::Failed,
                &no_op_counts(),
                Some("x"),
                START + d * DAY,
            )
            .unwrap();
    }
    let pruned = store.prune_log(START + 8 * DAY, &both).unwrap();
    assert_eq!(
        pruned,
        Pruned {
            runs: 6,
            audit: 0,
            webhook_events: 0
        }
    );
    let left: Vec<i64> = store.list_runs(100).unwrap().iter().map(|r| r.id).collect();
    assert_eq!(left, vec![10, 9, r1, r0]);
    // Nothing more to remove: a second prune removes nothing.
    assert_eq!(
        store.prune_log(START + 8 * DAY, &both).unwrap(),
        Pruned::default()
    );
    let mut seen = Vec::new();
    store
        .visit_sync_runs(Some(START + 9 * DAY), |r| {
            seen.push(r.id);
            true
        })
        .unwrap();
    assert_eq!(seen, vec![10]);
}

#[test]
fn a_copy_is_a_state_file_with_the_same_rows_and_rotation_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut store = Store::open(&path).unwrap();
    store.begin_run("import", &[], START).unwrap();
    let to = dir.path().join("copy.db");
    store.backup_to(&to).unwrap();
    let info = inspect(&to).unwrap();
    assert_eq!((info.schema_version, info.runs), (LATEST_VERSION, 1));
    assert_eq!(info.state_id, store.state_id().unwrap());
    // A copy never overwrites a file.
    assert!(store.backup_to(&to).is_err());
    let made: Vec<_> = (0..4)
        .map(|_| store.backup_beside(Some(3), "").unwrap())
        .collect();
    let kept = backups_of(&path).unwrap();
    assert_eq!(kept, made[1..].to_vec());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_run_copies_the_file_once_when_its_planned_writes_pass_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.before_writes(5_000).unwrap(), None, "no policy set");
    store.set_backup_policy(10, 2);
    assert_eq!(store.before_writes(6).unwrap(), None);
    assert_eq!(
        store.before_writes(4).unwrap(),
        None,
        "10 is not more than 10"
    );
    let copy = store.before_writes(1).unwrap().expect("a copy past 10");
    assert!(copy.exists());
    assert_eq!(store.before_writes(1_000).unwrap(), None, "once per run");
    assert_eq!(backups_of(&path).unwrap(), vec![copy]);
}

#[test]
fn only_a_crmsync_state_file_of_a_known_version_is_accepted_for_restore() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    let newer = dir.path().join("newer.db");
    drop(Store::open(&newer).unwrap());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", LATEST_VERSION + 1)
        .unwrap();
    for (file, says) in [
        (&text, "is not a crmsync state file"),
        (&other, "is not a crmsync state file"),
        (&newer, "upgrade crmsync"),
        (&dir.path().join("missing.db"), "there is no file"),
    ] {
        let err = inspect(file).unwrap_err().to_string();
        assert!(err.contains(says), "{}: {err}", file.display());
    }
    let state = dir.path().join("state.db");
    drop(Store::open(&state).unwrap());
    let before = std::fs::read(&state).unwrap();
    assert!(replace_state_file(&state, &other).is_err());
    assert_eq!(std::fs::read(&state).unwrap(), before, "nothing changed");
}

#[test]
fn restoring_puts_the_copy_in_place_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let mut store = Store::open(&state).unwrap();
    store.begin_run("import", &[], START).unwrap();
    let copy = dir.path().join("copy.db");
    store.backup_to(&copy).unwrap();
    let id = store.state_id().unwrap();
    store.begin_run("import", &[], START + 1).unwrap();
    store.begin_run("import", &[], START + 2).unwrap();
    drop(store);
    let info = replace_state_file(&state, &copy).unwrap();
    assert_eq!(info.runs, 1);
    let store = Store::open(&state).unwrap();
    assert_eq!(store.list_runs(10).unwrap().len(), 1);
    assert_eq!(store.state_id().unwrap(), id);
}

#[test]
fn the_log_prune_removes_handled_webhook_events_and_refusals_and_keeps_queued_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("state.db")).unwrap();
    let event = |id: &str| NewWebhookEvent {
        connection: "hs".into(),
        event_id: id.into(),
        kind: ObjectKind::Contact,
        remote_id: "7".into(),
        action: "change".into(),
        occurred_at: START,
        summary: "contact 7 changed".into(),
    };
    store
        .queue_webhook_events(&[event("old"), event("waiting"), event("new")], START)
        .unwrap();
    let queued = store.queued_webhook_events(10).unwrap();
    store
        .finish_webhook_events(&[queued[0].id], "applied", None, START + MINUTE)
        .unwrap();
    store
        .finish_webhook_events(&[queued[2].id], "dropped", None, START + 10 * DAY)
        .unwrap();
    store
        .record_webhook_refusal("hs", "bad signature", START)
        .unwrap();
    let pruned = store.prune_log(START + DAY, &[]).unwrap();
    assert_eq!(
        pruned.webhook_events, 2,
        "the applied event and the refusal"
    );
    let stats = store.webhook_stats(START + 10 * DAY).unwrap();
    assert_eq!((stats.queued, stats.dropped, stats.refused), (1, 1, 0));
}
