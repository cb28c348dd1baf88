//! The commands that work on the local store (`import`, `export`, `status`, `conflicts`,
//! `retry`, `log`, `explain`), run as users run them, and what they do with bad input: every
//! refusal leaves the stored data as it was.

mod common;

use std::collections::BTreeMap;

use common::TestEnv;
use crmsync::model::{ObjectKind, RecordId};
use crmsync::sandbox::{Sandbox, SandboxOptions};
use crmsync::store::{
    ConflictDecision, Link, NewConflict, RunLock, RunOutcome, Store, WriteFailure, WriteOp,
    WriteOrigin,
};
use serde_json::Value;

const CONTACTS: &str = "\
email,first_name,last_name,phone
ann@example.com,Ann,Lee,+44 20 7946 0000
bob@example.com,Bob,Stone,
";

const CONFIG: &str = r#"
[connections.acme]
provider = "hubspot"

[policies.contact]
pronouns = "manual"
"#;

/// An environment with two contacts imported and the `acme` connection configured.
fn seeded() -> TestEnv {
    let env = TestEnv::new();
    env.write_config(CONFIG);
    env.write("contacts.csv", CONTACTS);
    env.run(&["import", "contacts.csv"]).ok();
    env
}

/// Everything stored, as the JSONL export (archived records included).
fn dump(env: &TestEnv) -> String {
    let run = env.run(&["export", "--format", "jsonl", "--include-archived"]);
    run.ok();
    run.stdout.clone()
}

fn id_of(env: &TestEnv, email: &str) -> RecordId {
    let store = Store::open(&env.state_path()).unwrap();
    store
        .find_by_field(ObjectKind::Contact, "email", &[email.to_string()])
        .unwrap()
        .remove(email)
        .unwrap_or_else(|| panic!("no record {email}"))
        .id
}

/// Links Ann to `acme` as remote 501 with a base of her current fields, records a finished
/// sync of `acme` with `outcome`, and marks her as considered by that sync.
fn link_ann(env: &TestEnv, outcome: RunOutcome) -> RecordId {
    let id = id_of(env, "ann@example.com");
    let mut store = Store::open(&env.state_path()).unwrap();
    let record = store.get_record(&id).unwrap().unwrap();
    store
        .upsert_link(&Link {
            connection: "acme".into(),
            kind: ObjectKind::Contact,
            local_id: id.clone(),
            remote_id: "501".into(),
            base: record.fields.clone(),
            remote_updated_at: None,
            synced_at: 1_768_478_400_000,
            retired: false,
        })
        .unwrap();
    let seq = store.max_seq().unwrap();
    store
        .set_local_cursor("acme", ObjectKind::Contact, seq)
        .unwrap();
    let run = store
        .begin_run("sync", &["acme".to_string()], 1_768_478_400_000)
        .unwrap();
    store
        .finish_run(
            run,
            outcome,
            &serde_json::json!({}),
            None,
            1_768_478_401_000,
        )
        .unwrap();
    id
}

fn add_conflict(env: &TestEnv, id: &RecordId, field: &str, local: &str, remote: &str) -> i64 {
    let mut store = Store::open(&env.state_path()).unwrap();
    store
        .upsert_conflict(&NewConflict {
            connection: "acme".into(),
            kind: ObjectKind::Contact,
            local_id: id.clone(),
            field: field.into(),
            base: None,
            local: Some(local.into()),
            remote: Some(remote.into()),
            detected_at: 1_768_478_400_000,
            decision: ConflictDecision {
                run: None,
                policy: "manual".into(),
                outcome: "held".into(),
                local_updated_at: 1_768_478_300_000,
                local_time_source: "field".into(),
                remote_updated_at: 1_768_478_200_000,
                remote_time_source: "record".into(),
            },
        })
        .unwrap()
}

fn add_failure(env: &TestEnv, id: &RecordId) {
    let mut store = Store::open(&env.state_path()).unwrap();
    store
        .record_failure(
            "acme",
            ObjectKind::Contact,
            id,
            Some("501"),
            WriteOp::Update,
            &WriteFailure {
                message: "Property values were not valid: phone".into(),
                code: Some("VALIDATION_ERROR".into()),
                at: 1_768_478_400_000,
                permanent: None,
            },
        )
        .unwrap();
}

/// The emails of a JSONL dump, sorted (records are stored in id order, and ids made in the
/// same millisecond are ordered at random).
fn emails(dump: &str) -> Vec<String> {
    let mut all: Vec<String> = dump
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["email"].as_str().unwrap_or("").to_string()
        })
        .collect();
    all.sort();
    all
}

/// The counts of `kind` in a `status --json` connection entry.
fn counts<'a>(connection: &'a Value, kind: &str) -> &'a Value {
    connection["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {connection}"))
}

// ---- import ----------------------------------------------------------------------------

#[test]
fn import_loads_rows_and_lists_each_rejected_row_by_line() {
    let env = TestEnv::new();
    // Row 3 is bad; row 4 holds a quoted field over two lines, so the bad row after it
    // starts on line 6, not 5.
    env.write(
        "c.csv",
        "email,first_name,job_title\n\
         ann@example.com,Ann,Engineer\n\
         not-an-email,Bob,\n\
         carl@example.com,Carl,\"Head of\nSales\"\n\
         also bad,Dan,\n",
    );
    let run = env.run(&["import", "c.csv", "--json"]);
    run.expect_code(3);
    let report = run.json();
    assert_eq!(report["loaded"], 2);
    assert_eq!(report["rejected"], 2);
    let lines: Vec<u64> = report["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 6]);
    assert_eq!(report["rejections"][0]["column"], "email");
    assert_eq!(emails(&dump(&env)), ["ann@example.com", "carl@example.com"]);

    // The table for people names the lines and reasons too.
    let run = env.run(&["import", "c.csv"]);
    run.expect_code(3);
    assert!(run.stdout.contains("REJECTED"), "{}", run.stdout);
    assert!(run.stdout.contains("not-an-email"), "{}", run.stdout);
    assert!(
        run.stderr.contains("2 of 4 rows were rejected"),
        "{}",
        run.stderr
    );
}

#[test]
fn import_of_a_clean_file_exits_0_and_again_changes_nothing() {
    let env = TestEnv::new();
    env.write("c.csv", CONTACTS);
    let first = env.run(&["import", "c.csv", "--json"]);
    first.ok();
    assert_eq!(first.json()["loaded"], 2);
    let before = dump(&env);
    let again = env.run(&["import", "c.csv", "--json"]);
    again.ok();
    assert_eq!(again.json()["loaded"], 0);
    assert_eq!(again.json()["unchanged"], 2);
    assert_eq!(dump(&env), before);
}

#[test]
fn import_says_which_contacts_named_a_company_they_were_not_linked_to_and_how_to_link_them() {
    let env = TestEnv::new();
    env.write(
        "c.csv",
        "email,company\nann@x.io,Acme\nbo@x.io,Twin Co\ncy@x.io,Twin Co\n",
    );
    let first = env.run(&["import", "c.csv"]);
    first.ok();
    assert!(
        first
            .stderr
            .contains("3 rows name a company that no local company has")
            && first.stderr.contains("--object company")
            && first.stderr.contains("`c.csv` again"),
        "{}",
        first.stderr
    );
    env.write(
        "co.csv",
        "name,domain\nAcme,acme.io\nTwin Co,twin-a.io\nTwin Co,twin-b.io\n",
    );
    env.run(&["import", "co.csv", "--object", "company"]).ok();
    let again = env.run(&["import", "c.csv"]);
    again.ok();
    assert!(
        again
            .stderr
            .contains("2 rows name a company that several local companies share (`Twin Co`)")
            && again.stderr.contains("`company_id` column"),
        "{}",
        again.stderr
    );
    assert!(
        !again.stderr.contains("no local company has"),
        "{}",
        again.stderr
    );
    let json = env.run(&["import", "c.csv", "--json"]).json();
    assert_eq!(json["unlinked_companies"]["ambiguous"], 2);
    assert_eq!(json["unlinked_companies"]["not_found"], 0);
}

#[test]
fn import_refuses_a_file_that_is_not_csv_and_writes_nothing() {
    let env = seeded();
    let before = dump(&env);
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(&[0u8; 64]);
    std::fs::write(env.path("photo.csv"), png).unwrap();
    let run = env.run(&["import", "photo.csv"]);
    run.expect_code(2);
    assert!(run.stderr.contains("`photo.csv`"), "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing was imported"),
        "{}",
        run.stderr
    );
    assert_eq!(dump(&env), before);
    // The refusal is kept in the run log, as the README says.
    let log = env.run(&["log", "--json"]).json();
    assert_eq!(log[0]["command"], "import");
    assert_eq!(log[0]["outcome"], "failed");
    assert!(
        log[0]["error"].as_str().unwrap().contains("photo.csv"),
        "{}",
        log[0]
    );
}

#[test]
fn import_of_a_missing_file_or_a_directory_is_a_usage_error_and_creates_no_state_file() {
    let env = TestEnv::new();
    let run = env.run(&["import", "nosuch.csv"]);
    run.expect_code(2);
    assert!(run.stderr.contains("`nosuch.csv`"), "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing was imported"),
        "{}",
        run.stderr
    );
    std::fs::create_dir(env.path("exports")).unwrap();
    let run = env.run(&["import", "exports"]);
    run.expect_code(2);
    assert!(run.stderr.contains("is a directory"), "{}", run.stderr);
    assert!(!env.state_path().exists(), "a typo made a state file");
}

#[test]
fn import_of_jsonl_reports_the_bad_line_and_loads_the_rest() {
    let env = TestEnv::new();
    env.write(
        "c.jsonl",
        "{\"email\":\"ann@example.com\",\"first_name\":\"Ann\"}\n\
         {this is not json\n\
         {\"email\":\"bob@example.com\"}\n",
    );
    let run = env.run(&["import", "c.jsonl", "--json"]);
    run.expect_code(3);
    let report = run.json();
    assert_eq!(report["format"], "jsonl");
    assert_eq!(report["loaded"], 2);
    assert_eq!(report["rejections"][0]["line"], 2);
    assert_eq!(emails(&dump(&env)), ["ann@example.com", "bob@example.com"]);
}

#[test]
fn import_refuses_unknown_columns_until_they_are_mapped() {
    let env = seeded();
    let before = dump(&env);
    env.write("c.csv", "email,shoe_size\ncara@example.com,41\n");
    let run = env.run(&["import", "c.csv"]);
    run.expect_code(2);
    assert!(run.stderr.contains("`shoe_size`"), "{}", run.stderr);
    assert!(run.stderr.contains("--map"), "{}", run.stderr);
    assert_eq!(dump(&env), before);

    env.run(&["import", "c.csv", "--map", "shoe_size=custom.shoe_size"])
        .ok();
    let after = dump(&env);
    assert!(after.contains("\"custom.shoe_size\":\"41\""), "{after}");
}

#[test]
fn import_with_a_bad_map_spec_is_a_usage_error() {
    let env = seeded();
    let before = dump(&env);
    let run = env.run(&["import", "contacts.csv", "--map", "no-equals-sign"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("`--map no-equals-sign`"),
        "{}",
        run.stderr
    );
    assert_eq!(dump(&env), before);
}

#[test]
fn import_to_an_unknown_connection_is_refused_before_writing() {
    let env = TestEnv::new();
    env.write_config(CONFIG);
    env.write("c.csv", CONTACTS);
    let run = env.run(&["import", "c.csv", "--to", "nope"]);
    run.expect_code(2);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
    assert!(!env.state_path().exists());
}

#[test]
fn import_to_a_connection_pushes_only_the_imported_records_and_only_once() {
    let sandbox = Sandbox::start(SandboxOptions {
        rate_limit: (10_000, 10_000),
        search_per_second: 0,
        ..SandboxOptions::default()
    })
    .unwrap();
    let mut env = TestEnv::new();
    env.remove_env("CRMSYNC_TEST_NOW");
    env.set_env("CRMSYNC_TOKEN_HS", &sandbox.token());
    env.write_config(&format!(
        "[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n",
        sandbox.base_url()
    ));
    env.run(&["mappings", "setup", "-c", "hs"]).ok();
    // A local record from before, not part of the file: not pushed by `import --to`.
    env.write("old.csv", "email\ncarl@example.com\n");
    env.run(&["import", "old.csv"]).ok();

    env.write("c.csv", CONTACTS);
    let run = env.run(&["import", "c.csv", "--to", "hs"]);
    run.ok();
    assert!(
        run.stderr.contains("pushing 2 records to `hs`"),
        "{}",
        run.stderr
    );
    let remote = |sandbox: &Sandbox| -> Vec<String> {
        let dump = sandbox.dump();
        let mut emails: Vec<String> = dump["contacts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|c| c["archived"] != true)
            .map(|c| c["properties"]["email"].as_str().unwrap_or("").to_string())
            .collect();
        emails.sort();
        emails
    };
    assert_eq!(remote(&sandbox), ["ann@example.com", "bob@example.com"]);
    let s = env.run(&["status", "ann@example.com", "--json"]).json();
    assert!(s["connections"][0]["remote_id"].is_string(), "{s}");
    let log = env.run(&["log", "--json"]).json();
    assert_eq!(log[0]["command"], "sync");
    assert_eq!(log[1]["command"], "import");
    assert_eq!(log[1]["connections"], serde_json::json!(["hs"]));

    // Again: nothing changed locally, nothing is created twice.
    let run = env.run(&["import", "c.csv", "--to", "hs"]);
    run.ok();
    assert!(
        run.stderr.contains("nothing new or changed"),
        "{}",
        run.stderr
    );
    assert_eq!(remote(&sandbox), ["ann@example.com", "bob@example.com"]);

    // A record HubSpot refuses fails a whole sync (exit 3), but not an `import --to` of other
    // records, which reports on the records it pushed: a CI seeding job is not failed by a
    // record it never touched.
    env.write(
        "bad.csv",
        "email,lifecycle_stage\ndee@example.com,not-a-stage\n",
    );
    env.run(&["import", "bad.csv"]).ok();
    env.run(&["sync"]).expect_code(3);
    env.write("e.csv", "email\neve@example.com\n");
    let run = env.run(&["import", "e.csv", "--to", "hs", "--json"]);
    run.ok();
    env.run(&["sync"]).expect_code(3);
}

#[test]
fn import_is_listed_by_log_with_its_counts() {
    let env = seeded();
    let run = env.run(&["log", "--json"]);
    run.ok();
    let runs = run.json();
    assert_eq!(runs[0]["command"], "import");
    assert_eq!(runs[0]["outcome"], "ok");
    assert_eq!(runs[0]["counts"]["loaded"], 2);
    let table = env.run(&["log"]);
    table.ok();
    assert!(table.stdout.contains("import"), "{}", table.stdout);
    assert!(table.stdout.contains("loaded 2"), "{}", table.stdout);
}

// ---- refusals that must leave the state file alone --------------------------------------

#[test]
fn a_bad_config_key_is_a_usage_error_naming_file_and_line() {
    let env = seeded();
    let before = dump(&env);
    env.write_config("[sync]\nconflict_policy = \"newest-wins\"\nmax_archve_pct = 10\n");
    for args in [&["status"][..], &["import", "contacts.csv"], &["log"]] {
        let run = env.run(args);
        run.expect_code(2);
        assert!(run.stderr.contains("config.toml"), "{}", run.stderr);
        assert!(run.stderr.contains("line 3"), "{}", run.stderr);
        assert!(run.stderr.contains("max_archve_pct"), "{}", run.stderr);
    }
    env.write_config("");
    assert_eq!(dump(&env), before);
}

#[test]
fn a_corrupt_state_file_is_refused_and_left_byte_for_byte() {
    let env = TestEnv::new();
    env.write("contacts.csv", CONTACTS);
    let garbage = b"this is not a database, it is a shopping list\n".repeat(50);
    std::fs::write(env.state_path(), &garbage).unwrap();
    for args in [
        &["import", "contacts.csv"][..],
        &["status"],
        &["export"],
        &["log"],
        &["conflicts", "list"],
        &["retry"],
    ] {
        let run = env.run(args);
        run.expect_code(1);
        assert!(
            run.stderr.contains("is not a crmsync state file"),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(
            std::fs::read(env.state_path()).unwrap(),
            garbage,
            "{args:?}"
        );
    }
}

#[test]
fn a_state_file_from_a_newer_crmsync_is_refused_and_left_alone() {
    let env = seeded();
    {
        let conn = rusqlite::Connection::open(env.state_path()).unwrap();
        conn.pragma_update(None, "user_version", crmsync::store::LATEST_VERSION + 5)
            .unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let bytes = std::fs::read(env.state_path()).unwrap();
    for args in [&["import", "contacts.csv"][..], &["status"], &["export"]] {
        let run = env.run(args);
        run.expect_code(1);
        assert!(run.stderr.contains("upgrade crmsync"), "{}", run.stderr);
        assert_eq!(std::fs::read(env.state_path()).unwrap(), bytes, "{args:?}");
    }
}

#[test]
fn a_held_run_lock_makes_writers_refuse_with_the_holders_pid() {
    let env = seeded();
    let before = dump(&env);
    let lock = RunLock::acquire(&env.state_path()).unwrap();
    env.write("more.csv", "email\ncara@example.com\n");
    let pid = format!("pid {}", std::process::id());
    for args in [
        &["import", "more.csv"][..],
        &["retry"],
        &["conflicts", "resolve", "--all", "--take", "local"],
    ] {
        let run = env.run(args);
        run.expect_code(1);
        assert!(run.stderr.contains(&pid), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("another crmsync run"), "{}", run.stderr);
    }
    // Readers do not need the lock.
    env.run(&["status"]).ok();
    drop(lock);
    assert_eq!(dump(&env), before);
    env.run(&["import", "more.csv"]).ok();
    assert_eq!(emails(&dump(&env)).len(), 3);
}

#[test]
fn a_lock_left_by_a_dead_process_is_taken_over_with_a_message() {
    let env = seeded();
    std::fs::write(env.path("state.db.lock"), "4194303\n").unwrap();
    env.write("more.csv", "email\ncara@example.com\n");
    let run = env.run(&["import", "more.csv"]);
    run.ok();
    assert!(
        run.stderr.contains("took over the run lock"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("4194303"), "{}", run.stderr);
    // A clean release leaves nothing to take over the next time.
    let run = env.run(&["import", "more.csv"]);
    run.ok();
    assert!(!run.stderr.contains("took over"), "{}", run.stderr);
}

// ---- export ----------------------------------------------------------------------------

#[test]
fn export_writes_a_file_atomically_in_the_format_of_its_extension() {
    let env = seeded();
    let run = env.run(&["export", "--output", "out.jsonl", "--json"]);
    run.ok();
    assert_eq!(run.json()["records"], 2);
    assert_eq!(run.json()["format"], "jsonl");
    let text = std::fs::read_to_string(env.path("out.jsonl")).unwrap();
    assert_eq!(emails(&text), ["ann@example.com", "bob@example.com"]);
    // No temporary file is left beside it.
    let names: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("out.jsonl"))
        .collect();
    assert_eq!(names, ["out.jsonl"]);

    env.run(&["export", "-o", "out.csv"]).ok();
    let csv = std::fs::read_to_string(env.path("out.csv")).unwrap();
    assert!(csv.starts_with("id,first_name"), "{csv}");
    assert_eq!(csv.lines().count(), 3);
}

#[test]
fn export_to_a_file_of_unknown_type_asks_for_the_format_and_keeps_the_old_file() {
    let env = seeded();
    env.write("out.dat", "keep me");
    let run = env.run(&["export", "--output", "out.dat"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--format"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(env.path("out.dat")).unwrap(),
        "keep me"
    );
    env.run(&["export", "--output", "out.dat", "--format", "csv"])
        .ok();
    assert!(
        std::fs::read_to_string(env.path("out.dat"))
            .unwrap()
            .contains("ann@example.com")
    );
}

// ---- status ----------------------------------------------------------------------------

#[test]
fn status_without_a_state_file_says_there_is_nothing_yet_and_creates_nothing() {
    let env = TestEnv::new();
    let run = env.run(&["status"]);
    run.ok();
    assert!(run.stderr.contains("nothing yet"), "{}", run.stderr);
    let run = env.run(&["status", "--json"]);
    run.ok();
    assert_eq!(run.json()["state_file"], Value::Null);
    // `--failed` keeps its shape, a list, empty; a record is not there to be found.
    let run = env.run(&["status", "--failed", "--json"]);
    run.ok();
    assert_eq!(run.json(), serde_json::json!([]));
    let run = env.run(&["status", "ann@example.com"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("no record `ann@example.com`"),
        "{}",
        run.stderr
    );
    assert!(!env.state_path().exists());
}

#[test]
fn status_counts_records_per_connection_and_reports_health() {
    let env = seeded();
    // Before any sync the connection has never synced.
    let run = env.run(&["status", "--json"]);
    run.ok();
    let s = run.json();
    assert_eq!(s["local"]["contact"]["active"], 2);
    let acme = &s["connections"][0];
    assert_eq!(acme["name"], "acme");
    assert_eq!(acme["health"], "never-synced");
    assert_eq!(acme["last_successful_sync"], Value::Null);
    // Both wait for the first push; `status RECORD` says the same of each.
    let contact = counts(acme, "contact");
    assert_eq!(contact["pending"], 2, "{contact}");
    let bob = env.run(&["status", "bob@example.com", "--json"]).json();
    assert_eq!(bob["connections"][0]["state"], "pending", "{bob}");

    let ann = link_ann(&env, RunOutcome::Ok);
    let s = env.run(&["status", "--json"]).json();
    let acme = &s["connections"][0];
    assert_eq!(acme["health"], "healthy");
    assert_eq!(acme["last_successful_sync"], 1_768_478_401_000i64);
    assert_eq!(acme["provider"], "hubspot");
    // `connections --json` says the same, in the same form.
    let c = env.run(&["connections", "--json"]).json();
    assert_eq!(c[0]["provider"], "hubspot", "{c}");
    assert_eq!(c[0]["last_successful_sync"], 1_768_478_401_000i64, "{c}");
    let contact = counts(acme, "contact");
    assert_eq!(contact["synced"], 1);
    assert_eq!(contact["local_only"], 1);

    add_failure(&env, &ann);
    let s = env.run(&["status", "--json"]).json();
    assert_eq!(s["connections"][0]["health"], "degraded");
    assert_eq!(counts(&s["connections"][0], "contact")["error"], 1);
    let table = env.run(&["status"]);
    table.ok();
    assert!(table.stdout.contains("degraded"), "{}", table.stdout);
    assert!(table.stderr.contains("crmsync retry"), "{}", table.stderr);
}

#[test]
fn status_health_follows_the_last_sync_outcome() {
    for (outcome, health) in [
        (RunOutcome::Failed, "failed"),
        (RunOutcome::Stopped, "failed"),
        (RunOutcome::Partial, "degraded"),
    ] {
        let env = seeded();
        link_ann(&env, outcome);
        let s = env.run(&["status", "--json"]).json();
        assert_eq!(s["connections"][0]["health"], health, "{outcome:?}");
        assert_eq!(s["connections"][0]["last_successful_sync"], Value::Null);
    }
}

#[test]
fn status_of_one_record_shows_its_link_failure_and_conflicts() {
    let env = seeded();
    let ann = link_ann(&env, RunOutcome::Ok);
    add_failure(&env, &ann);
    let conflict = add_conflict(&env, &ann, "pronouns", "she/her", "they/them");
    for spec in ["ann@example.com", "acme:501", ann.as_str()] {
        let run = env.run(&["status", spec, "--json"]);
        run.ok();
        let s = run.json();
        assert_eq!(s["id"], ann.as_str(), "{spec}");
        assert_eq!(s["fields"]["first_name"], "Ann");
        let c = &s["connections"][0];
        assert_eq!(c["connection"], "acme");
        assert_eq!(c["remote_id"], "501");
        assert_eq!(c["state"], "conflict");
        assert_eq!(
            c["failure"]["message"],
            "Property values were not valid: phone"
        );
        assert_eq!(c["conflicts"][0]["id"], conflict);
    }
    let bob = env.run(&["status", "bob@example.com", "--json"]).json();
    assert_eq!(bob["connections"][0]["state"], "local-only");
    assert_eq!(bob["connections"][0]["remote_id"], Value::Null);

    let run = env.run(&["status", "nobody@example.com"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("`nobody@example.com`"),
        "{}",
        run.stderr
    );
    let run = env.run(&["status", "acme:999"]);
    run.expect_code(1);
    assert!(run.stderr.contains("`999`"), "{}", run.stderr);
}

#[test]
fn status_failed_lists_the_crms_message() {
    let env = seeded();
    let ann = link_ann(&env, RunOutcome::Partial);
    env.run(&["status", "--failed", "--json"]).ok();
    assert_eq!(
        env.run(&["status", "--failed", "--json"]).json(),
        serde_json::json!([])
    );
    add_failure(&env, &ann);
    let f = env.run(&["status", "--failed", "--json"]).json();
    assert_eq!(f[0]["local_id"], ann.as_str());
    assert_eq!(f[0]["code"], "VALIDATION_ERROR");
    let table = env.run(&["status", "--failed"]);
    table.ok();
    assert!(
        table.stdout.contains("Property values were not valid"),
        "{}",
        table.stdout
    );
}

#[test]
fn status_of_an_unknown_connection_is_a_usage_error() {
    let env = seeded();
    let run = env.run(&["status", "--connection", "nope"]);
    run.expect_code(2);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
}

// ---- conflicts -------------------------------------------------------------------------

#[test]
fn conflicts_list_and_show_the_values_of_both_sides() {
    let env = seeded();
    let ann = link_ann(&env, RunOutcome::Ok);
    let id = add_conflict(&env, &ann, "pronouns", "she/her", "they/them");
    let run = env.run(&["conflicts", "list", "--json"]);
    run.ok();
    let list = run.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["local"], "she/her");
    assert_eq!(list[0]["remote"], "they/them");
    // `conflicts` alone lists; listing is not a failure.
    let run = env.run(&["conflicts"]);
    run.ok();
    assert!(run.stdout.contains("ann@example.com"), "{}", run.stdout);
    assert!(run.stdout.contains("they/them"), "{}", run.stdout);

    // How the sync met it: the policy, the two times it compared and where each came from.
    assert!(
        run.stdout.contains(
            "manual: local 2026-01-15 11:58:20Z (field) vs remote 2026-01-15 11:56:40Z (record) → held"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(list[0]["decision"]["policy"], "manual");
    assert_eq!(
        list[0]["decision"]["local_updated_at"],
        1_768_478_300_000_i64
    );

    let show = env.run(&["conflicts", "show", &id.to_string(), "--json"]);
    show.ok();
    let shown = show.json();
    assert_eq!(shown["field"], "pronouns");
    assert_eq!(
        shown["decision"]["remote_updated_at"],
        1_768_478_200_000_i64
    );
    assert_eq!(shown["decision"]["remote_time_source"], "record");
    let show = env.run(&["conflicts", "show", &id.to_string()]);
    show.ok();
    for want in [
        "2026-01-15 11:58:20Z (field)",
        "2026-01-15 11:56:40Z (record)",
        "held",
    ] {
        assert!(show.stdout.contains(want), "{want}: {}", show.stdout);
    }
    let run = env.run(&["conflicts", "show", "999"]);
    run.expect_code(1);
    assert!(run.stderr.contains("no conflict 999"), "{}", run.stderr);
}

#[test]
fn resolving_with_the_remote_value_writes_it_locally_for_the_next_sync() {
    let env = seeded();
    let ann = link_ann(&env, RunOutcome::Ok);
    let id = add_conflict(&env, &ann, "pronouns", "she/her", "they/them");
    let run = env.run(&[
        "conflicts",
        "resolve",
        &id.to_string(),
        "--take",
        "remote",
        "--json",
    ]);
    run.ok();
    assert_eq!(run.json()["resolved"][0]["resolution"], "they/them");
    assert_eq!(run.json()["resolved"][0]["resolved_by"], "remote");
    assert!(dump(&env).contains("\"pronouns\":\"they/them\""));
    assert_eq!(
        env.run(&["conflicts", "list", "--json"]).json(),
        serde_json::json!([])
    );
    // The record waits for the next sync.
    let s = env.run(&["status", "ann@example.com", "--json"]).json();
    assert_eq!(s["connections"][0]["state"], "pending");
    // And the audit trail says why the value changed.
    let log = env.run(&[
        "log",
        "--record",
        "ann@example.com",
        "--field",
        "pronouns",
        "--json",
    ]);
    log.ok();
    let entries = log.json();
    assert_eq!(entries[0]["cause"], "conflict-resolved");
    assert_eq!(entries[0]["new"], "they/them");

    let again = env.run(&["conflicts", "resolve", &id.to_string(), "--take", "local"]);
    again.expect_code(1);
    assert!(
        again.stderr.contains("already resolved"),
        "{}",
        again.stderr
    );
}

#[test]
fn resolving_by_taking_the_local_value_still_queues_the_record() {
    let env = seeded();
    let ann = link_ann(&env, RunOutcome::Ok);
    let before = dump(&env);
    // The local value is what the record already holds: nothing changes in its fields…
    let id = add_conflict(&env, &ann, "first_name", "Ann", "Anne");
    env.run(&["conflicts", "resolve", &id.to_string(), "--take", "local"])
        .ok();
    assert_eq!(dump(&env), before);
    // …but the next sync must still look at it, or the held field would never be pushed.
    let s = env.run(&["status", "ann@example.com", "--json"]).json();
    assert_eq!(s["connections"][0]["state"], "pending");
}

#[test]
fn resolving_with_a_value_checks_it_against_the_fields_type() {
    let env = seeded();
    let ann = link_ann(&env, RunOutcome::Ok);
    let id = add_conflict(&env, &ann, "email", "ann@example.com", "ann@work.example");
    let before = dump(&env);
    let run = env.run(&[
        "conflicts",
        "resolve",
        &id.to_string(),
        "--value",
        "not an email",
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("`not an email`"), "{}", run.stderr);
    assert_eq!(dump(&env), before);
    assert_eq!(
        env.run(&["conflicts", "list", "--json"]).json()[0]["id"],
        id
    );
    // A valid value is normalised before it is stored.
    env.run(&[
        "conflicts",
        "resolve",
        &id.to_string(),
        "--value",
        " Ann@Home.Example ",
    ])
    .ok();
    assert!(dump(&env).contains("\"email\":\"ann@home.example\""));
}

#[test]
fn resolve_all_takes_one_side_for_every_open_conflict() {
    let env = seeded();
    let ann = link_ann(&env, RunOutcome::Ok);
    add_conflict(&env, &ann, "pronouns", "she/her", "they/them");
    add_conflict(&env, &ann, "job_title", "CTO", "Chief Technology Officer");
    let run = env.run(&[
        "conflicts",
        "resolve",
        "--all",
        "--take",
        "remote",
        "--json",
    ]);
    run.ok();
    assert_eq!(run.json()["resolved"].as_array().unwrap().len(), 2);
    let d = dump(&env);
    assert!(
        d.contains("\"job_title\":\"Chief Technology Officer\""),
        "{d}"
    );
    assert!(d.contains("\"pronouns\":\"they/them\""), "{d}");
    let run = env.run(&["conflicts", "resolve", "--all", "--take", "local"]);
    run.ok();
    assert!(run.stderr.contains("no open conflicts"), "{}", run.stderr);
    // `--value` names one field of one conflict.
    env.run(&["conflicts", "resolve", "--all", "--value", "x"])
        .expect_code(2);
}

// ---- retry -----------------------------------------------------------------------------

#[test]
fn retry_requeues_failed_records_and_clears_their_failures() {
    let env = seeded();
    let ann = link_ann(&env, RunOutcome::Partial);
    add_failure(&env, &ann);
    let run = env.run(&["retry", "--json"]);
    run.ok();
    assert_eq!(run.json()["requeued"], 1);
    assert_eq!(
        env.run(&["status", "--failed", "--json"]).json(),
        serde_json::json!([])
    );
    let s = env.run(&["status", "ann@example.com", "--json"]).json();
    assert_eq!(s["connections"][0]["state"], "pending");
    let run = env.run(&["retry"]);
    run.ok();
    assert!(run.stderr.contains("no failed records"), "{}", run.stderr);

    add_failure(&env, &ann);
    let run = env.run(&["retry", "-c", "acme"]);
    run.ok();
    assert!(run.stderr.contains("re-queued 1"), "{}", run.stderr);
    assert!(run.stderr.contains("crmsync sync"), "{}", run.stderr);
}

// ---- log -------------------------------------------------------------------------------

#[test]
fn log_of_a_field_that_does_not_exist_says_so_instead_of_no_changes() {
    let env = seeded();
    let run = env.run(&["log", "--record", "ann@example.com", "--field", "phonee"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("`phonee` is not a contact field"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("phone_e164"), "{}", run.stderr);
    // A real field without changes is no error.
    env.run(&["log", "--record", "ann@example.com", "--field", "pronouns"])
        .ok();
}

#[test]
fn resolve_without_a_choice_names_both_take_and_value() {
    let env = seeded();
    let ann = link_ann(&env, RunOutcome::Ok);
    let id = add_conflict(&env, &ann, "pronouns", "she/her", "they/them");
    let run = env.run(&["conflicts", "resolve", &id.to_string()]);
    run.expect_code(2);
    assert!(run.stderr.contains("--take"), "{}", run.stderr);
    assert!(run.stderr.contains("--value"), "{}", run.stderr);
}

#[test]
fn log_record_shows_the_audit_trail_newest_first() {
    let env = seeded();
    env.write(
        "update.csv",
        "email,phone\nann@example.com,+44 20 7946 1111\n",
    );
    env.run(&["import", "update.csv"]).ok();
    let log = env.run(&["log", "--record", "ann@example.com", "--json"]);
    log.ok();
    let entries = log.json();
    let entries = entries.as_array().unwrap();
    let phone = entries.iter().find(|e| e["field"] == "phone").unwrap();
    assert_eq!(phone["old"], "+44 20 7946 0000");
    assert_eq!(phone["new"], "+44 20 7946 1111");
    assert_eq!(phone["cause"], "import");
    assert_eq!(phone["run"], 2);
    // Newest first: the creation comes last.
    assert_eq!(entries.last().unwrap()["field"], "*");
    assert_eq!(entries.last().unwrap()["run"], 1);
    let table = env.run(&["log", "--record", "ann@example.com"]);
    table.ok();
    assert!(table.stdout.contains("(created)"), "{}", table.stdout);
    assert!(
        table.stdout.contains("+44 20 7946 0000 → +44 20 7946 1111"),
        "{}",
        table.stdout
    );
    let runs = env.run(&["log", "-n", "1", "--json"]).json();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["counts"]["merged"], 1);
}

// ---- explain ---------------------------------------------------------------------------

#[test]
fn explain_shows_base_local_direction_policy_and_last_writer() {
    let env = seeded();
    let ann = link_ann(&env, RunOutcome::Ok);
    env.write("update.csv", "email,first_name\nann@example.com,Annie\n");
    env.run(&["import", "update.csv"]).ok();
    let run = env.run(&["explain", "acme:501", "--json"]);
    run.ok();
    let e = run.json();
    assert_eq!(e["id"], ann.as_str());
    let acme = &e["connections"][0];
    assert_eq!(acme["remote_id"], "501");
    assert_eq!(acme["pending"], true);
    let fields: BTreeMap<String, Value> = acme["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap().to_string(), f.clone()))
        .collect();
    let first = &fields["first_name"];
    assert_eq!(first["base"], "Ann");
    assert_eq!(first["local"], "Annie");
    assert_eq!(first["remote"], "Ann");
    assert_eq!(first["next"], "push the local value");
    assert_eq!(first["policy"], "newest-wins");
    assert_eq!(first["policy_source"], "[sync] conflict_policy");
    assert_eq!(first["direction"], "both");
    assert_eq!(first["direction_source"], "HubSpot's built-in mapping");
    assert_eq!(first["last_writer"]["cause"], "import");
    assert_eq!(first["last_writer"]["new"], "Annie");
    let pronouns = &fields["pronouns"];
    assert_eq!(pronouns["policy"], "manual");
    assert_eq!(pronouns["policy_source"], "[policies.contact]");
    assert_eq!(fields["email"]["next"], "nothing: in step");

    let one = env.run(&["explain", "ann@example.com", "first_name", "--json"]);
    one.ok();
    assert_eq!(
        one.json()["connections"][0]["fields"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let table = env.run(&["explain", "ann@example.com", "first_name"]);
    table.ok();
    assert!(table.stdout.contains("Annie"), "{}", table.stdout);
    assert!(
        table.stdout.contains("push the local value"),
        "{}",
        table.stdout
    );

    let run = env.run(&["explain", "ann@example.com", "shoe_size"]);
    run.expect_code(2);
    assert!(run.stderr.contains("`shoe_size`"), "{}", run.stderr);

    // A held conflict knows the CRM's newer value: `remote` shows it, not the old base.
    add_conflict(&env, &ann, "pronouns", "she/her", "they/them");
    let e = env.run(&["explain", "ann@example.com", "pronouns", "--json"]);
    e.ok();
    let pronouns = &e.json()["connections"][0]["fields"][0];
    assert_eq!(pronouns["remote"], "they/them", "{pronouns}");
}

#[test]
fn explain_of_an_unlinked_record_says_it_is_not_linked() {
    let env = seeded();
    let run = env.run(&["explain", "bob@example.com"]);
    run.ok();
    assert!(run.stdout.contains("bob@example.com"), "{}", run.stdout);
    assert!(run.stderr.contains("not linked"), "{}", run.stderr);
    let e = env.run(&["explain", "bob@example.com", "--json"]).json();
    assert_eq!(e["connections"], serde_json::json!([]));
}

#[test]
fn taking_local_keeps_a_local_edit_made_after_the_conflict_was_found() {
    let env = seeded();
    let ann = link_ann(&env, RunOutcome::Ok);
    let id = add_conflict(&env, &ann, "pronouns", "she/her", "they/them");
    env.write("edit.csv", "email,pronouns\nann@example.com,she/they\n");
    env.run(&["import", "edit.csv"]).ok();
    let run = env.run(&[
        "conflicts",
        "resolve",
        &id.to_string(),
        "--take",
        "local",
        "--json",
    ]);
    run.ok();
    assert_eq!(run.json()["resolved"][0]["resolution"], "she/they");
    assert!(dump(&env).contains("\"pronouns\":\"she/they\""));
}

#[test]
fn explain_says_where_a_direction_comes_from_and_which_fields_are_not_mapped() {
    let env = seeded();
    env.write_config(&format!(
        "{CONFIG}\n[[connections.acme.fields]]\nobject = \"contact\"\nlocal = \"custom.tier\"\ndirection = \"to-crm\"\npolicy = \"local-wins\"\n"
    ));
    env.write("tier.csv", "email,tier\nann@example.com,gold\n");
    env.run(&["import", "tier.csv", "--map", "tier=custom.tier"])
        .ok();
    link_ann(&env, RunOutcome::Ok);
    let field = |name: &str| -> Value {
        let e = env.run(&["explain", "ann@example.com", name, "--json"]);
        e.ok();
        e.json()["connections"][0]["fields"][0].clone()
    };
    let tier = field("custom.tier");
    assert_eq!(tier["local"], "gold");
    assert_eq!(tier["direction"], "to-crm");
    assert_eq!(tier["direction_source"], "[[connections.acme.fields]]");
    assert_eq!(tier["policy"], "local-wins");
    assert_eq!(tier["policy_source"], "[[connections.acme.fields]]");
    // HubSpot has no built-in property for `warmness`, and the config maps none.
    let warmness = field("warmness");
    assert_eq!(warmness["direction"], "none");
    assert_eq!(warmness["direction_source"], "not mapped");
    assert_eq!(warmness["next"], "nothing: not synced");
}

#[test]
fn a_failed_push_after_import_keeps_the_records_and_says_how_to_finish() {
    let env = TestEnv::new();
    env.write_config(
        "[connections.acme]\nprovider = \"hubspot\"\nbase_url = \"http://127.0.0.1:9\"\n",
    );
    env.write("c.csv", CONTACTS);
    let run = env.run(&["import", "c.csv", "--to", "acme"]);
    run.expect_code(1);
    assert!(run.stderr.contains("CRMSYNC_TOKEN_ACME"), "{}", run.stderr);
    assert!(
        run.stderr.contains("crmsync sync -c acme"),
        "{}",
        run.stderr
    );
    assert_eq!(emails(&dump(&env)), ["ann@example.com", "bob@example.com"]);
}

/// `crmsync … | head` closes the pipe before the output is written: that ends the command
/// quietly with 0, as for any tool, instead of `error: Broken pipe` and exit 1.
#[test]
fn a_closed_stdout_pipe_ends_the_command_quietly() {
    let env = seeded();
    for args in [
        &["export", "--format", "jsonl"][..],
        &["status", "--json"],
        &["log"],
    ] {
        let mut child = env
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reading end is closed before the command writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

/// An archived record (one a sync archived because it was deleted in the CRM) is still named
/// by its email for `explain`, `status` and `log`.
#[test]
fn an_archived_record_is_found_by_its_email() {
    let env = seeded();
    let id = id_of(&env, "ann@example.com");
    let mut store = Store::open(&env.state_path()).unwrap();
    let mut ann = store.get_record(&id).unwrap().unwrap();
    ann.archived_at = Some(7);
    ann.updated_at = 7;
    store.save_records(&[ann], &WriteOrigin::User).unwrap();
    drop(store);

    env.run(&["explain", "ann@example.com"]).ok();
    let s = env.run(&["status", "ann@example.com", "--json"]);
    s.ok();
    let s = s.json();
    assert_eq!(s["id"], id.to_string());
    assert_eq!(s["archived_at"], 7);
    env.run(&["log", "--record", "ANN@example.com"]).ok();
}

/// `explain` of a record whose create failed says so and what to do, instead of promising
/// that the next sync creates it.
#[test]
fn explain_of_an_unlinked_record_that_failed_names_the_failure_and_retry() {
    let env = seeded();
    let bob = id_of(&env, "bob@example.com");
    add_failure(&env, &bob);
    let run = env.run(&["explain", "bob@example.com"]);
    run.ok();
    assert!(run.stderr.contains("the last try failed"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Property values were not valid"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("crmsync retry"), "{}", run.stderr);
    assert!(!run.stderr.contains("creates or matches"), "{}", run.stderr);
}

/// A JSONL file whose keys are no fields is told how JSONL names fields, not how a CSV
/// header does.
#[test]
fn a_jsonl_file_without_field_keys_gets_jsonl_advice() {
    let env = TestEnv::new();
    env.write(
        "c.jsonl",
        "{\"Nom\": \"Ann\", \"Courriel\": \"ann@example.com\"}\n",
    );
    let run = env.run(&["import", "c.jsonl"]);
    run.expect_code(2);
    assert!(run.stderr.contains("no key of"), "{}", run.stderr);
    assert!(
        run.stderr.contains("JSON object keyed by field names"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("header"), "{}", run.stderr);
}

#[test]
fn import_with_blank_clear_empties_a_field_and_export_neutralises_formulas() {
    let env = seeded();
    let id = id_of(&env, "ann@example.com");
    env.write("p.csv", &format!("id,last_name,phone\n{id},,=1+1\n"));
    env.run(&["import", "p.csv"]).ok();
    let show = |env: &TestEnv| {
        let store = Store::open(&env.state_path()).unwrap();
        store.get_record(&id).unwrap().unwrap()
    };
    let ann = show(&env);
    assert_eq!(
        ann.get("last_name"),
        Some("Lee"),
        "an empty cell keeps the value"
    );
    assert_eq!(ann.get("first_name"), Some("Ann"));
    assert_eq!(ann.get("phone"), Some("=1+1"));
    env.run(&["import", "p.csv", "--blank", "clear"]).ok();
    assert_eq!(show(&env).get("last_name"), None);

    let csv = env.run(&["export"]);
    csv.ok();
    assert!(csv.stdout.contains(",'=1+1,"), "{}", csv.stdout);
    let raw = env.run(&["export", "--raw"]);
    raw.ok();
    assert!(raw.stdout.contains(",=1+1,"), "{}", raw.stdout);
}
