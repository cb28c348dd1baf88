//! Daily operation, run as users run it: health over time (`status --history`, `connections
//! --history`, `status --check`), backups (`backup`, `restore`, the copies a large run and a
//! schema upgrade make), run-log retention (`log --prune`, the end of a sync), profiles, and
//! the shipped systemd units. Bad input is refused with nothing changed.

mod common;

use std::path::{Path, PathBuf};

use common::{TestEnv, connected_env, fast_sandbox};
use crmsync::model::ObjectKind;
use crmsync::store::{RunLock, RunOutcome, Store, WriteFailure, WriteOp};
use serde_json::json;

/// `CRMSYNC_TEST_NOW` of [`TestEnv`].
const NOW: i64 = 1_768_478_400_000;
const MINUTE: i64 = 60_000;
const DAY: i64 = 1_440 * MINUTE;

const CONFIG: &str =
    "[connections.acme]\nprovider = \"hubspot\"\n\n[connections.pd]\nprovider = \"pipedrive\"\n";

fn env() -> TestEnv {
    let env = TestEnv::new();
    env.write_config(CONFIG);
    env
}

/// Records a finished sync run of `connections` at `at` (ms), `requests` each, and the error
/// of `failing` (one of them) if any.
fn sync_run(
    env: &TestEnv,
    connections: &[&str],
    at: i64,
    outcome: RunOutcome,
    failing: Option<&str>,
) -> i64 {
    let mut store = Store::open(&env.state_path()).unwrap();
    let names: Vec<String> = connections.iter().map(|c| c.to_string()).collect();
    let run = store.begin_run("sync", &names, at).unwrap();
    let counts: Vec<serde_json::Value> = connections
        .iter()
        .map(|c| {
            json!({
                "connection": c,
                "requests": 4,
                "error": (failing == Some(*c)).then(|| format!("connection `{c}`: the CRM answered 500")),
                "stopped_by": (outcome == RunOutcome::Stopped).then_some("the archive gate"),
            })
        })
        .collect();
    store
        .finish_run(
            run,
            outcome,
            &json!(counts),
            failing.map(|_| "the CRM answered 500"),
            at + 1_000,
        )
        .unwrap();
    run
}

fn fail_records(env: &TestEnv, connection: &str, n: usize) {
    let mut csv = String::from("email\n");
    for i in 0..n {
        csv.push_str(&format!("p{i}@example.com\n"));
    }
    env.write("people.csv", &csv);
    env.run(&["import", "people.csv"]).ok();
    let mut store = Store::open(&env.state_path()).unwrap();
    let records = store
        .records_changed_since(ObjectKind::Contact, 0, 1_000)
        .unwrap();
    for (_, r) in records.iter().take(n) {
        store
            .record_failure(
                connection,
                ObjectKind::Contact,
                &r.id,
                None,
                WriteOp::Create,
                &WriteFailure {
                    message: "invalid email".into(),
                    code: Some("INVALID_EMAIL".into()),
                    at: NOW,
                    permanent: None,
                },
            )
            .unwrap();
    }
}

// ---- health over time -------------------------------------------------------------------

#[test]
fn history_counts_runs_failures_uptime_and_requests_per_connection_in_the_window() {
    let env = env();
    // Outside a 7-day window: not counted.
    sync_run(
        &env,
        &["acme"],
        NOW - 8 * DAY,
        RunOutcome::Failed,
        Some("acme"),
    );
    sync_run(&env, &["acme", "pd"], NOW - 3 * DAY, RunOutcome::Ok, None);
    sync_run(
        &env,
        &["acme", "pd"],
        NOW - 2 * DAY,
        RunOutcome::Failed,
        Some("pd"),
    );
    sync_run(&env, &["acme"], NOW - DAY, RunOutcome::Partial, None);
    sync_run(&env, &["acme"], NOW - MINUTE, RunOutcome::Stopped, None);
    for args in [
        vec!["status", "--history", "--json"],
        vec!["connections", "--history", "--since", "7d", "--json"],
    ] {
        let rows = env.run(&args).ok().json();
        assert_eq!(rows[0]["connection"], "acme", "{args:?}");
        assert_eq!(rows[0]["runs"], 4);
        assert_eq!(rows[0]["failures"], 1, "the gate's stop");
        assert_eq!(rows[0]["uptime"], 0.75);
        assert_eq!(rows[0]["requests"], 16);
        assert_eq!(rows[0]["last_run_at"], NOW - MINUTE);
        assert_eq!(rows[0]["last_success_at"], NOW - DAY + 1_000);
        assert_eq!(rows[1]["connection"], "pd");
        assert_eq!(
            (rows[1]["runs"].clone(), rows[1]["failures"].clone()),
            (json!(2), json!(1))
        );
        assert_eq!(rows[1]["uptime"], 0.5);
    }
    let wide = env
        .run(&["status", "--history", "--since", "2w", "--json"])
        .json();
    assert_eq!(wide[0]["runs"], 5);
    let table = env.run(&["status", "--history", "-c", "pd"]);
    table.ok();
    assert!(table.stdout.contains("50.0%"), "{}", table.stdout);
    assert!(!table.stdout.contains("acme"), "{}", table.stdout);
}

#[test]
fn history_without_a_state_file_shows_each_connection_with_no_runs() {
    let env = env();
    let rows = env.run(&["status", "--history", "--json"]).ok().json();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[0]["runs"], 0);
    assert!(rows[0]["uptime"].is_null());
    assert!(!env.state_path().exists(), "looking writes nothing");
}

#[test]
fn history_refuses_a_bad_window_and_flags_that_do_not_go_together() {
    let env = env();
    for (args, says) in [
        (
            vec!["status", "--history", "--since", "7"],
            "is not a span of time",
        ),
        (vec!["status", "--history", "--since", "0d"], "above 0"),
        (
            vec!["connections", "--history", "--since", "yesterday"],
            "is not a span of time",
        ),
        (vec!["status", "--since", "7d"], "--history"),
        (
            vec!["status", "--history", "--failed"],
            "cannot be used with",
        ),
        (vec!["status", "--history", "-c", "nope"], "nope"),
    ] {
        let run = env.run(&args);
        run.expect_code(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn check_is_healthy_after_a_recent_successful_sync_of_every_connection() {
    let env = env();
    sync_run(
        &env,
        &["acme", "pd"],
        NOW - 10 * MINUTE,
        RunOutcome::Ok,
        None,
    );
    let run = env.run(&["status", "--check"]);
    run.ok();
    assert_eq!(run.stdout.trim(), "healthy: acme, pd");
    let v = env.run(&["status", "--check", "--json"]).ok().json();
    assert_eq!(v["healthy"], true);
    assert!(v["problem"].is_null());
}

#[test]
fn check_exits_5_when_no_sync_succeeded_within_the_age() {
    let env = env();
    // No state file at all: never synced.
    let run = env.run(&["status", "--check"]);
    run.expect_code(5);
    assert!(
        run.stdout.contains("`acme` has never synced successfully"),
        "{}",
        run.stdout
    );
    sync_run(
        &env,
        &["acme", "pd"],
        NOW - 2 * 3_600_000,
        RunOutcome::Ok,
        None,
    );
    let run = env.run(&["status", "--check", "-c", "acme"]);
    run.expect_code(5);
    assert_eq!(
        run.stdout.trim(),
        "no successful sync of `acme` for 1h 59m (more than 30m)"
    );
    assert_eq!(run.stdout.lines().count(), 1);
    env.run(&["status", "--check", "--max-age", "3h"]).ok();
    let v = env.run(&["status", "--check", "--json"]).json();
    assert_eq!(v["problem"], "stale");
}

#[test]
fn check_exits_7_when_the_last_sync_failed_even_within_the_age() {
    let env = env();
    sync_run(
        &env,
        &["acme", "pd"],
        NOW - 20 * MINUTE,
        RunOutcome::Ok,
        None,
    );
    let failed = sync_run(
        &env,
        &["acme", "pd"],
        NOW - 5 * MINUTE,
        RunOutcome::Failed,
        Some("pd"),
    );
    let run = env.run(&["status", "--check"]);
    run.expect_code(7);
    assert_eq!(
        run.stdout.trim(),
        format!(
            "the last sync of `pd` (run {failed}) failed: connection `pd`: the CRM answered 500"
        )
    );
    // acme's part of the same run went well.
    env.run(&["status", "--check", "-c", "acme"]).ok();
    // A run still going (no outcome yet) is not the last finished one.
    let mut store = Store::open(&env.state_path()).unwrap();
    store
        .begin_run("sync", &["acme".into(), "pd".into()], NOW)
        .unwrap();
    env.run(&["status", "--check"]).expect_code(7);
}

#[test]
fn check_exits_6_with_more_failed_records_than_allowed() {
    let env = env();
    sync_run(
        &env,
        &["acme", "pd"],
        NOW - MINUTE,
        RunOutcome::Partial,
        None,
    );
    fail_records(&env, "acme", 3);
    env.run(&["status", "--check"]).ok();
    env.run(&["status", "--check", "--max-failed", "3"]).ok();
    let run = env.run(&["status", "--check", "--max-failed", "2"]);
    run.expect_code(6);
    assert!(
        run.stdout
            .starts_with("3 failed records of `acme` (more than 2)"),
        "{}",
        run.stdout
    );
}

#[test]
fn check_refuses_bad_limits_and_a_config_without_connections() {
    let env = env();
    for args in [
        vec!["status", "--check", "--max-age", "soon"],
        vec!["status", "--check", "--max-failed", "-1"],
        vec!["status", "--max-age", "30m"],
        vec!["status", "--check", "ann@example.com"],
    ] {
        env.run(&args).expect_code(2);
    }
    env.write_config("");
    let run = env.run(&["status", "--check"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("no connections are configured"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_exit_codes_of_the_check_are_documented_in_the_readme_and_the_help() {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let help = TestEnv::new().run(&["--help"]).stdout.clone();
    for code in ["| 5 |", "| 6 |", "| 7 |"] {
        assert!(readme.contains(code), "README lacks {code}");
    }
    for line in [
        "5  status --check",
        "6  status --check",
        "7  status --check",
    ] {
        assert!(help.contains(line), "--help lacks {line}");
    }
}

// ---- backups ----------------------------------------------------------------------------

fn imported() -> TestEnv {
    let env = env();
    env.write(
        "contacts.csv",
        "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n",
    );
    env.run(&["import", "contacts.csv"]).ok();
    env
}

fn copies(env: &TestEnv) -> Vec<PathBuf> {
    crmsync::store::backups_of(&env.state_path()).unwrap()
}

fn export(env: &TestEnv) -> String {
    env.run(&["export", "--format", "jsonl"])
        .ok()
        .stdout
        .clone()
}

#[test]
fn backup_copies_the_state_file_beside_it_and_keeps_the_newest() {
    let env = imported();
    env.write_config(&format!("{CONFIG}\n[backup]\nkeep = 2\n"));
    for _ in 0..3 {
        let made = env.run(&["backup", "--json"]).ok().json();
        assert!(Path::new(made["path"].as_str().unwrap()).exists());
    }
    let kept = copies(&env);
    assert_eq!(kept.len(), 2);
    let info = crmsync::store::inspect(&kept[1]).unwrap();
    assert_eq!(info.records, 2);
    let to = env.path("elsewhere/copy.db");
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    let run = env.run(&["backup", "--to", to.to_str().unwrap()]);
    run.ok();
    assert!(run.stdout.contains("copy.db"), "{}", run.stdout);
    // Never over an existing file.
    let again = env.run(&["backup", "--to", to.to_str().unwrap()]);
    again.expect_code(1);
    assert!(again.stderr.contains("exists already"), "{}", again.stderr);
}

#[test]
fn backup_of_a_locked_state_file_is_refused() {
    let env = imported();
    let lock = RunLock::acquire(&env.state_path()).unwrap();
    let run = env.run(&["backup"]);
    run.expect_code(1);
    assert!(run.stderr.contains("another crmsync run"), "{}", run.stderr);
    assert!(copies(&env).is_empty());
    drop(lock);
    env.run(&["backup"]).ok();
}

#[test]
fn backup_without_a_state_file_says_so() {
    let env = env();
    let run = env.run(&["backup"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("there is no state file"),
        "{}",
        run.stderr
    );
}

#[test]
fn restore_puts_a_backup_back_and_keeps_the_file_it_replaced() {
    let env = imported();
    let before = export(&env);
    let to = env.path("copy.db");
    env.run(&["backup", "--to", "copy.db"]).ok();
    env.write("more.csv", "email\ncy@example.com\n");
    env.run(&["import", "more.csv"]).ok();
    assert_ne!(export(&env), before);
    let done = env
        .run(&["restore", to.to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(done["from"]["records"], 2);
    assert_eq!(export(&env), before);
    let previous = PathBuf::from(done["previous"].as_str().unwrap());
    assert_eq!(crmsync::store::inspect(&previous).unwrap().records, 3);
    // The restored file is a working state file.
    env.run(&["import", "more.csv"]).ok();
}

#[test]
fn restore_refuses_a_file_that_is_not_a_crmsync_state_file_and_changes_nothing() {
    let env = imported();
    let before = export(&env);
    let state_bytes = std::fs::read(env.state_path()).unwrap();
    env.write("notes.txt", "not a database");
    env.write("empty.db", "");
    let other = env.path("other.db");
    rusqlite_like_other_program(&other);
    for (file, says) in [
        ("notes.txt", "is not a crmsync state file"),
        ("empty.db", "is not a crmsync state file"),
        ("other.db", "is not a crmsync state file"),
        ("missing.db", "there is no file"),
        ("state.db", "is the state file itself"),
    ] {
        let run = env.run(&["restore", file]);
        run.expect_code(2);
        assert!(run.stderr.contains(says), "{file}: {}", run.stderr);
    }
    assert_eq!(export(&env), before);
    assert_eq!(std::fs::read(env.state_path()).unwrap(), state_bytes);
    assert!(
        copies(&env).is_empty(),
        "no copy made for a refused restore"
    );
}

/// Another program's SQLite database: made by crmsync's own copy into an empty file, then
/// stripped of its identity.
fn rusqlite_like_other_program(path: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("x.db")).unwrap();
    store.backup_to(path).unwrap();
    drop(store);
    // A crmsync copy, then marked as another program's (application_id 0, version 0).
    let mut bytes = std::fs::read(path).unwrap();
    bytes[60..64].copy_from_slice(&[0, 0, 0, 0]); // user_version
    bytes[68..72].copy_from_slice(&[0, 0, 0, 0]); // application_id
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn restore_refuses_a_backup_from_a_newer_crmsync_and_while_a_run_holds_the_lock() {
    let env = imported();
    env.run(&["backup", "--to", "copy.db"]).ok();
    let newer = env.path("newer.db");
    std::fs::copy(env.path("copy.db"), &newer).unwrap();
    let mut bytes = std::fs::read(&newer).unwrap();
    let version = (crmsync::store::LATEST_VERSION + 1) as u32;
    bytes[60..64].copy_from_slice(&version.to_be_bytes());
    std::fs::write(&newer, bytes).unwrap();
    let run = env.run(&["restore", "newer.db"]);
    run.expect_code(2);
    assert!(run.stderr.contains("upgrade crmsync"), "{}", run.stderr);
    let lock = RunLock::acquire(&env.state_path()).unwrap();
    let run = env.run(&["restore", "copy.db"]);
    run.expect_code(1);
    assert!(run.stderr.contains("another crmsync run"), "{}", run.stderr);
    drop(lock);
    env.run(&["restore", "copy.db"]).ok();
}

#[test]
fn a_schema_upgrade_copies_the_file_as_it_was_first() {
    let env = env();
    std::fs::copy(
        common::repo().join("tests/fixtures/state-v1.db"),
        env.state_path(),
    )
    .unwrap();
    env.run(&["backup"]).ok();
    let kept = copies(&env);
    assert_eq!(kept.len(), 2, "{kept:?}");
    let upgrade_copy = kept
        .iter()
        .find(|p| p.to_string_lossy().ends_with(".v1"))
        .unwrap();
    assert_eq!(
        crmsync::store::inspect(upgrade_copy)
            .unwrap()
            .schema_version,
        1
    );
    // An older backup is upgraded as it is restored.
    let done = env
        .run(&["restore", upgrade_copy.to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(done["schema_version"], crmsync::store::LATEST_VERSION);
}

#[test]
fn a_sync_that_plans_more_writes_than_the_threshold_copies_the_file_first_and_prunes_old_runs() {
    let sandbox = fast_sandbox();
    let env = connected_env(&sandbox, "acme");
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    env.write_config(&format!(
        "{config}\n[backup]\nmin_writes = 1\n\n[log]\nkeep_days = 30\n"
    ));
    env.write("contacts.csv", "email\nann@example.com\nbob@example.com\n");
    env.run(&["import", "contacts.csv"]).ok();
    let old = sync_run(
        &env,
        &["acme"],
        1_000_000_000_000,
        RunOutcome::Failed,
        Some("acme"),
    );
    assert!(copies(&env).is_empty());
    env.run(&["mappings", "setup", "-c", "acme"]).ok();
    env.run(&["sync"]).ok();
    let kept = copies(&env);
    assert_eq!(kept.len(), 1, "one copy for the run");
    // The copy is of the file before the run's writes: no links yet.
    let store = Store::open(&kept[0]).unwrap();
    assert_eq!(
        store
            .list_runs(10)
            .unwrap()
            .iter()
            .filter(|r| r.command == "sync")
            .count(),
        2
    );
    let runs = env.run(&["log", "--json"]).json();
    assert!(
        runs.as_array().unwrap().iter().all(|r| r["id"] != old),
        "the year-2001 run is pruned: {runs}"
    );
    // A sync with nothing to do makes no copy.
    env.run(&["sync"]).ok();
    assert_eq!(copies(&env).len(), 1);
}

#[test]
fn log_prune_removes_runs_and_audit_entries_older_than_keep_days() {
    let env = env();
    env.write_config(&format!("{CONFIG}\n[log]\nkeep_days = 10\n"));
    sync_run(&env, &["acme"], NOW - 40 * DAY, RunOutcome::Ok, None);
    sync_run(
        &env,
        &["acme"],
        NOW - 30 * DAY,
        RunOutcome::Failed,
        Some("acme"),
    );
    sync_run(
        &env,
        &["acme"],
        NOW - 20 * DAY,
        RunOutcome::Failed,
        Some("acme"),
    );
    let recent = sync_run(&env, &["acme"], NOW - DAY, RunOutcome::Failed, Some("acme"));
    env.write("contacts.csv", "email\nann@example.com\n");
    env.run(&["import", "contacts.csv"]).ok();
    let pruned = env.run(&["log", "--prune", "--json"]).ok().json();
    // The import's run is recent; the 40-day-old run is acme's last success, kept.
    assert_eq!(pruned["runs"], 2);
    let left: Vec<i64> = env
        .run(&["log", "--json"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert_eq!(left[1], recent, "after the import's run");
    let run = env.run(&["log", "--prune"]);
    run.ok();
    assert!(
        run.stdout.contains("removed 0 runs and 0 audit entries"),
        "{}",
        run.stdout
    );
    env.run(&["log", "--prune", "--record", "ann@example.com"])
        .expect_code(2);
}

// ---- profiles ---------------------------------------------------------------------------

fn profile_env() -> TestEnv {
    let mut env = TestEnv::new();
    env.remove_env("CRMSYNC_CONFIG");
    env.remove_env("CRMSYNC_STATE");
    env
}

#[test]
fn a_profile_keeps_its_own_config_and_state_under_the_platform_dirs() {
    let mut env = profile_env();
    env.write("a.csv", "email\nann@example.com\n");
    env.write("b.csv", "email\nbob@example.com\ncy@example.com\n");
    env.run(&["--profile", "client-a", "import", "a.csv"]).ok();
    env.set_env("CRMSYNC_PROFILE", "client-b");
    env.run(&["import", "b.csv"]).ok();
    let a_state = env.path("data/crmsync/profiles/client-a/state.db");
    let b_state = env.path("data/crmsync/profiles/client-b/state.db");
    assert!(a_state.exists() && b_state.exists());
    assert!(
        !env.path("data/crmsync/state.db").exists(),
        "the default pair is untouched"
    );
    let count = |p: &str| {
        env.run(&["--profile", p, "export", "--format", "jsonl"])
            .ok()
            .stdout
            .lines()
            .count()
    };
    assert_eq!((count("client-a"), count("client-b")), (1, 2));
    // A profile's config is read from its own directory.
    env.write(
        "config/crmsync/profiles/client-a/config.toml",
        "[connections.acme]\nprovider = \"hubspot\"\n",
    );
    let history = env
        .run(&["--profile", "client-a", "status", "--history", "--json"])
        .ok()
        .json();
    assert_eq!(history[0]["connection"], "acme");
    let history_b = env.run(&["status", "--history", "--json"]).ok().json();
    assert_eq!(history_b, json!([]));
    // `--state` still wins over the profile.
    env.run(&["--state", "other.db", "import", "a.csv"]).ok();
    assert!(env.path("other.db").exists());
    let listed = env.run(&["profiles", "--json"]).ok().json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["client-a", "client-b"]);
    assert_eq!(listed[0]["config_exists"], true);
    assert_eq!(listed[1]["active"], true);
    assert!(listed[1]["state_bytes"].as_u64().unwrap() > 0);
    let table = env.run(&["profiles"]);
    assert!(
        table.stdout.contains("client-b (active)"),
        "{}",
        table.stdout
    );
}

#[test]
fn connect_and_sync_inside_a_profile_use_the_profiles_config_and_state() {
    let sandbox = fast_sandbox();
    let mut env = profile_env();
    env.remove_env("CRMSYNC_TEST_NOW");
    env.set_env("HUB_TOKEN", &sandbox.token());
    // The test keychain lives in one process only: later runs read the token here.
    env.set_env("CRMSYNC_TOKEN_ACME", &sandbox.token());
    env.set_env("CRMSYNC_PROFILE", "client-a");
    let base_url = sandbox.base_url();
    env.run(&[
        "connect",
        "hubspot",
        "--name",
        "acme",
        "--base-url",
        &base_url,
        "--token-env",
        "HUB_TOKEN",
    ])
    .ok();
    let config = env.path("config/crmsync/profiles/client-a/config.toml");
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("[connections.acme]"),
        "connect wrote the profile's config"
    );
    assert!(!env.path("config/crmsync/config.toml").exists());
    env.run(&["mappings", "setup", "-c", "acme"]).ok();
    env.run(&["sync"]).ok();
    env.run(&["status", "--check"]).ok();
    assert!(env.path("data/crmsync/profiles/client-a/state.db").exists());
    // The default pair knows nothing of it.
    env.remove_env("CRMSYNC_PROFILE");
    let run = env.run(&["status", "--check"]);
    run.expect_code(2);
}

#[test]
fn a_profile_name_that_is_not_a_plain_name_is_refused() {
    let env = profile_env();
    for name in ["../x", "a b", "", "a/b"] {
        let run = env.run(&["--profile", name, "status"]);
        run.expect_code(2);
        assert!(
            run.stderr.contains("is not a profile name"),
            "{name}: {}",
            run.stderr
        );
        env.run(&["--profile", name, "profiles"]).expect_code(2);
    }
    let empty = env.run(&["profiles"]);
    empty.ok();
    assert!(empty.stderr.contains("no profiles yet"), "{}", empty.stderr);
}

// ---- schedules --------------------------------------------------------------------------

#[test]
fn the_shipped_systemd_units_pass_systemd_analyze_verify() {
    let analyze = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output();
    if analyze.is_err() {
        println!("skipped: systemd-analyze is not installed (apt-get install systemd)");
        return;
    }
    // The units name /usr/local/bin/crmsync; verify wants an executable there, so a copy of
    // each names the binary under test instead.
    let dir = tempfile::tempdir().unwrap();
    let units = common::repo().join("contrib/systemd");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&units).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("/usr/local/bin/crmsync") || name.ends_with(".timer"));
        let text = text.replace("/usr/local/bin/crmsync", env!("CARGO_BIN_EXE_crmsync"));
        std::fs::write(dir.path().join(&name), text).unwrap();
        names.push(name);
    }
    names.sort();
    assert_eq!(
        names,
        [
            "crmsync-check.service",
            "crmsync-check.timer",
            "crmsync-prune.service",
            "crmsync-prune.timer",
            "crmsync-sync.service",
            "crmsync-sync.timer"
        ]
    );
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .args(names.iter().map(|n| dir.path().join(n)))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "warnings: {stderr}");
    // Each timer's service runs a command line crmsync accepts.
    for name in names.iter().filter(|n| n.ends_with(".service")) {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap();
        let mut args: Vec<&str> = exec.split_whitespace().skip(1).collect();
        args.push("--help");
        TestEnv::new().run(&args).ok();
    }
}

#[test]
fn logs_and_messages_carry_no_colour_when_not_on_a_terminal() {
    let mut env = imported();
    env.remove_env("NO_COLOR");
    env.set_env("CRMSYNC_LOG", "crmsync=debug");
    for args in [
        vec!["status", "-v"],
        vec!["status", "--check"],
        vec!["backup", "-vv"],
        vec!["sync", "-c", "nope"],
    ] {
        let run = env.run(&args);
        assert!(
            !run.stderr.contains('\u{1b}') && !run.stdout.contains('\u{1b}'),
            "{args:?}: {:?}",
            run.stderr
        );
    }
}

/// The live HubSpot contacts' emails, sorted, with repeats kept (a repeat is a duplicate).
fn hubspot_emails(sandbox: &crmsync::sandbox::Sandbox) -> Vec<String> {
    let mut emails: Vec<String> = sandbox.dump()["contacts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|c| c["archived"] != true)
        .map(|c| c["properties"]["email"].as_str().unwrap_or("").to_string())
        .collect();
    emails.sort();
    emails
}

#[test]
fn restoring_an_older_backup_then_syncing_duplicates_nothing_and_brings_back_what_reached_the_crm()
{
    let sandbox = fast_sandbox();
    let env = connected_env(&sandbox, "acme");
    env.run(&["mappings", "setup", "-c", "acme"]).ok();
    env.write(
        "first.csv",
        "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n",
    );
    env.run(&["import", "first.csv"]).ok();
    env.run(&["sync"]).ok();
    env.run(&["backup", "--to", "before.db"]).ok();
    // After the backup: a new contact and an edit, both pushed to HubSpot.
    env.write("later.csv", "email,first_name\ncy@example.com,Cy\n");
    env.run(&["import", "later.csv"]).ok();
    env.run(&["records", "set", "ann@example.com", "first_name=Anne"])
        .ok();
    env.run(&["sync"]).ok();
    let everyone = ["ann@example.com", "bob@example.com", "cy@example.com"];
    assert_eq!(hubspot_emails(&sandbox), everyone);

    let run = env.run(&["restore", "before.db"]);
    run.ok();
    assert!(
        run.stderr.contains("the next sync reads each CRM again"),
        "the restore says what follows: {}",
        run.stderr
    );
    env.run(&["sync"]).ok();
    // Nothing was created twice in HubSpot, and what reached it after the backup is back here.
    assert_eq!(hubspot_emails(&sandbox), everyone);
    let mut local: Vec<String> = env
        .run(&["records", "list", "--object", "contact", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["fields"]["email"].as_str().unwrap_or("").to_string())
        .collect();
    local.sort();
    assert_eq!(local, everyone);
    let ann = env
        .run(&["records", "show", "ann@example.com", "--json"])
        .ok()
        .json();
    assert_eq!(ann["fields"]["first_name"], "Anne", "{ann}");
    // And the run after that has nothing to do.
    let before = common::write_calls(&sandbox).len();
    env.run(&["sync"]).ok();
    assert_eq!(common::write_calls(&sandbox).len(), before);
}
