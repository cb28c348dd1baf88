//! `sync --dry-run`, `sync --plan` + `apply`, the safety gates and the request budget, run as a
//! user runs them against the sandbox HubSpot.

mod common;

use common::TestEnv;
use crmsync::model::{Fields, ObjectKind, Record, RecordId};
use crmsync::sandbox::{Sandbox, SandboxOptions};
use crmsync::store::{Store, WriteOrigin};

/// A sandbox with generous limits and a configured, set-up connection `hs`.
fn setup() -> (Sandbox, TestEnv) {
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
    (sandbox, env)
}

fn contact(email: &str, first: &str) -> Record {
    let mut fields = Fields::new();
    fields.insert("email".into(), email.into());
    fields.insert("first_name".into(), first.into());
    Record {
        id: RecordId::new(),
        kind: ObjectKind::Contact,
        fields,
        updated_at: 1,
        archived_at: None,
    }
}

fn save(env: &TestEnv, records: &[Record]) {
    let mut store = Store::open(&env.state_path()).unwrap();
    store.save_records(records, &WriteOrigin::User).unwrap();
}

/// Ann, synced to HubSpot, then edited here (`local`: field, value) and there (`remote`:
/// property, value) before the next run.
fn ann_edited_on_both_sides(
    sandbox: &Sandbox,
    env: &TestEnv,
    local: (&str, &str),
    remote: (&str, &str),
) {
    let ann = contact("ann@example.com", "Ann");
    save(env, std::slice::from_ref(&ann));
    env.run(&["sync"]).ok();
    let remote_id = remote_contacts(sandbox)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut edited = ann;
    edited.fields.insert(local.0.into(), local.1.into());
    edited.updated_at = 5;
    save(env, &[edited]);
    sandbox
        .update_record("contacts", &remote_id, &[remote])
        .unwrap();
}

/// Six contacts, synced.
fn six_synced(env: &TestEnv) -> Vec<Record> {
    let records: Vec<Record> = (0..6)
        .map(|i| contact(&format!("p{i}@example.com"), "P"))
        .collect();
    save(env, &records);
    env.run(&["sync"]).ok();
    records
}

fn remote_contacts(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    let dump = sandbox.dump();
    let all = dump["contacts"].as_array().cloned().unwrap_or_default();
    all.into_iter().filter(|c| c["archived"] != true).collect()
}

#[test]
fn dry_run_prints_the_plan_field_by_field_and_writes_nothing() {
    let (sandbox, env) = setup();
    save(&env, &[contact("ann@example.com", "Ann")]);
    let id = sandbox
        .create_record(
            "contacts",
            &[("email", "bob@example.com"), ("firstname", "Bob")],
        )
        .unwrap();
    sandbox.clear_request_log();

    let run = env.run(&["sync", "--dry-run"]);
    run.ok();
    assert!(run.stdout.contains("create there"), "{}", run.stdout);
    assert!(run.stdout.contains("ann@example.com"), "{}", run.stdout);
    assert!(run.stdout.contains("create here"), "{}", run.stdout);
    assert!(run.stdout.contains("Bob"), "{}", run.stdout);
    let writes = sandbox
        .request_log()
        .iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/search") && !r.path.ends_with("/read"))
        .count();
    assert_eq!(writes, 0, "a dry run wrote to HubSpot");
    assert_eq!(remote_contacts(&sandbox).len(), 1, "{id:?}");

    let json = env.run(&["sync", "--dry-run", "--json"]);
    json.ok();
    let v = json.json();
    assert_eq!(v["dry_run"], true);
    let ops: Vec<String> = v["plans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["ops"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["op"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(ops.contains(&"remote_create".to_string()), "{ops:?}");
    assert!(ops.contains(&"local_create".to_string()), "{ops:?}");

    // Nothing was stored either: the real run still has everything to do.
    let real = env.run(&["sync", "--json"]);
    real.ok();
    assert_eq!(remote_contacts(&sandbox).len(), 2);
}

#[test]
fn a_saved_plan_is_applied_and_a_record_that_moved_is_planned_again() {
    let (sandbox, env) = setup();
    save(&env, &[contact("ann@example.com", "Ann")]);
    env.run(&["sync"]).ok();
    let remote = remote_contacts(&sandbox);
    let ann = remote[0]["id"].as_str().unwrap().to_string();
    let bob = sandbox
        .create_record(
            "contacts",
            &[("email", "bob@example.com"), ("firstname", "Bob")],
        )
        .unwrap();
    let bob_id = bob["id"].as_str().unwrap().to_string();
    sandbox
        .update_record("contacts", &ann, &[("firstname", "Annie")])
        .unwrap();

    let plan = env.path("plan.json");
    env.run(&["sync", "--plan", plan.to_str().unwrap()]).ok();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved["format"], "crmsync-plan");

    // Bob moves in HubSpot after the plan was made; a new contact appears that the plan never saw.
    sandbox
        .update_record("contacts", &bob_id, &[("firstname", "Robert")])
        .unwrap();
    sandbox
        .create_record(
            "contacts",
            &[("email", "cy@example.com"), ("firstname", "Cy")],
        )
        .unwrap();

    let run = env.run(&["apply", plan.to_str().unwrap()]);
    run.ok();
    assert!(
        run.stderr.contains("planned again") && run.stderr.contains(&bob_id),
        "{}",
        run.stderr
    );
    let export = env.run(&["export", "--format", "jsonl"]);
    export.ok();
    assert!(
        export.stdout.contains("Annie"),
        "the planned pull was applied:\n{}",
        export.stdout
    );
    assert!(
        export.stdout.contains("Robert"),
        "the moved record was planned again:\n{}",
        export.stdout
    );
    assert!(
        !export.stdout.contains("cy@example.com"),
        "apply touched a record outside the plan"
    );

    // A plan with nothing to do, as JSON: the same shape, with no run.
    let empty = env.path("empty.json");
    env.run(&["sync"]).ok();
    env.run(&["sync", "--plan", empty.to_str().unwrap()]).ok();
    let run = env.run(&["apply", empty.to_str().unwrap(), "--json"]);
    run.ok();
    let applied: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        applied["report"]["run"],
        serde_json::Value::Null,
        "{applied:#}"
    );
    assert!(applied["replanned"].as_object().unwrap().is_empty());

    let bad = env.write("bad.json", "{\"not\": \"a plan\"}");
    let run = env.run(&["apply", bad.to_str().unwrap()]);
    run.expect_code(2);
    assert!(run.stderr.contains("not a plan saved by"), "{}", run.stderr);
}

/// A HubSpot edit carried out by `apply` leaves nothing waiting: `explain` does not say that
/// local changes wait for the next sync when the record is in step.
#[test]
fn an_applied_plan_leaves_no_local_change_waiting() {
    let (sandbox, env) = setup();
    save(&env, &[contact("ann@example.com", "Ann")]);
    env.run(&["sync"]).ok();
    let ann = remote_contacts(&sandbox)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    sandbox
        .update_record("contacts", &ann, &[("jobtitle", "Chief Tester")])
        .unwrap();
    let plan = env.path("plan.json");
    env.run(&["sync", "--plan", plan.to_str().unwrap()]).ok();
    env.run(&["apply", plan.to_str().unwrap()]).ok();

    let v = env.run(&["explain", "ann@example.com", "--json"]).json();
    let hs = &v["connections"][0];
    assert_eq!(hs["pending"], false, "{v:#}");
    let title = hs["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "job_title")
        .unwrap();
    assert_eq!(title["local"], "Chief Tester");
    let text = env.run(&["explain", "ann@example.com"]);
    assert!(
        !text.stdout.contains("wait for the next sync"),
        "{}",
        text.stdout
    );

    // A local edit after it does wait.
    let mut edited = contact("ann@example.com", "Annie");
    edited.id = RecordId::parse(v["id"].as_str().unwrap()).unwrap();
    save(&env, &[edited]);
    let v = env.run(&["explain", "ann@example.com", "--json"]).json();
    assert_eq!(v["connections"][0]["pending"], true, "{v:#}");
}

#[test]
fn archiving_most_linked_records_stops_at_the_gate_with_exit_4_until_forced() {
    let (sandbox, env) = setup();
    let records = six_synced(&env);
    // Archive four of six locally: 67% > the 50% default.
    archive_locally(&env, &records[..4]);

    let run = env.run(&["sync"]);
    run.expect_code(4);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    // What was held back is said: the four archives, not "no write".
    assert!(
        run.stderr
            .contains("hs contact: planned 4 archives there; none of it was written"),
        "{}",
        run.stderr
    );
    assert_eq!(
        remote_contacts(&sandbox).len(),
        6,
        "the gate let archives through"
    );

    env.run(&["sync", "--force"]).ok();
    assert_eq!(remote_contacts(&sandbox).len(), 2);
}

/// Archives these local records, as `crmsync records archive` does.
fn archive_locally(env: &TestEnv, records: &[Record]) {
    let mut store = Store::open(&env.state_path()).unwrap();
    let archived: Vec<Record> = records
        .iter()
        .map(|r| Record {
            archived_at: Some(3),
            updated_at: 3,
            ..r.clone()
        })
        .collect();
    store.save_records(&archived, &WriteOrigin::User).unwrap();
}

fn synced_contacts(env: &TestEnv) -> u64 {
    let status = env.run(&["status", "--json"]);
    status.ok();
    let v = status.json();
    v["connections"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "contact")
        .unwrap()["synced"]
        .as_u64()
        .unwrap()
}

#[test]
fn archives_in_several_rounds_are_measured_against_the_links_still_live() {
    let (sandbox, env) = setup();
    let records: Vec<Record> = (0..10)
        .map(|i| contact(&format!("r{i}@example.com"), "R"))
        .collect();
    save(&env, &records);
    env.run(&["sync"]).ok();
    assert_eq!(synced_contacts(&env), 10);
    // Five of ten: at the 50% limit, allowed.
    archive_locally(&env, &records[..5]);
    env.run(&["sync"]).ok();
    assert_eq!(remote_contacts(&sandbox).len(), 5);
    assert_eq!(
        synced_contacts(&env),
        5,
        "archived records counted as synced"
    );
    // Three of the five left: 60%, though only 30% of every link ever made.
    archive_locally(&env, &records[5..8]);
    let run = env.run(&["sync"]);
    run.expect_code(4);
    assert!(run.stderr.contains("3 of 5"), "{}", run.stderr);
    assert_eq!(
        remote_contacts(&sandbox).len(),
        5,
        "the gate let archives through"
    );
}

#[test]
fn the_archive_gate_counts_the_pull_and_the_push_of_one_run_together() {
    let (sandbox, mut env) = setup();
    let records: Vec<Record> = (0..10)
        .map(|i| contact(&format!("h{i}@example.com"), "H"))
        .collect();
    save(&env, &records);
    env.run(&["sync"]).ok();
    // Three archived in HubSpot, three others here: 30% each, 60% together.
    let remote = remote_contacts(&sandbox);
    let archived_here: Vec<Record> = records[..3].to_vec();
    let here: Vec<&str> = archived_here
        .iter()
        .map(|r| r.fields["email"].as_str())
        .collect();
    let there: Vec<String> = remote
        .iter()
        .filter(|c| !here.contains(&c["properties"]["email"].as_str().unwrap()))
        .take(3)
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    for id in &there {
        sandbox.archive_record("contacts", id).unwrap();
    }
    archive_locally(&env, &archived_here);
    // A normal sync a day later, when the change feed lists HubSpot's archives again.
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 2 * 24 * 3600 * 1000;
    env.set_env("CRMSYNC_TEST_NOW", &later.to_string());
    let run = env.run(&["sync"]);
    run.expect_code(4);
    assert!(run.stderr.contains("6 of 10"), "{}", run.stderr);
    assert_eq!(
        remote_contacts(&sandbox).len(),
        7,
        "the push archived past the gate"
    );
    let store = Store::open(&env.state_path()).unwrap();
    assert_eq!(
        store.count_records(ObjectKind::Contact, false).unwrap(),
        7,
        "the pull archived past the gate"
    );
}

#[test]
fn a_dry_run_stopped_at_the_gate_shows_what_it_held_back_and_not_nothing_to_do() {
    let (sandbox, env) = setup();
    six_synced(&env);
    // Four of six deleted in HubSpot: a full read would archive 67% here.
    for c in remote_contacts(&sandbox).iter().take(4) {
        sandbox
            .archive_record("contacts", c["id"].as_str().unwrap())
            .unwrap();
    }

    let dry = env.run(&["sync", "--full", "--dry-run"]);
    dry.expect_code(4);
    assert!(!dry.stdout.contains("nothing to do"), "{}", dry.stdout);
    assert!(dry.stdout.contains("archive here"), "{}", dry.stdout);
    assert!(dry.stderr.contains("--force"), "{}", dry.stderr);
    // A plan the gate stopped is not saved: `apply` would carry it out past the gate.
    let saved = env.run(&["sync", "--full", "--plan", "held.json"]);
    saved.expect_code(4);
    assert!(saved.stderr.contains("not saved"), "{}", saved.stderr);
    assert!(!env.path("held.json").exists());

    // The run's report keeps the contact row, with what was read, though the gate stopped it.
    let run = env.run(&["sync", "--full", "--json"]);
    run.expect_code(4);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let contact = v["connections"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "contact")
        .cloned()
        .unwrap_or_default();
    // A full read returns the archived records too.
    assert_eq!(contact["read"], 6, "{v:#}");
    // What the gate held back is reported as planned and not written, not as done.
    assert_eq!(contact["not_written"]["local_archive"], 4, "{v:#}");
    assert_eq!(contact["planned"]["local_archive"], 0, "{v:#}");
    let table = env.run(&["sync", "--full"]);
    table.expect_code(4);
    assert!(
        table.stdout.contains("0 here, 0 there"),
        "the table counts archives that were never written:\n{}",
        table.stdout
    );
    assert!(
        table
            .stderr
            .contains("planned 4 archives here; none of it was written"),
        "{}",
        table.stderr
    );
    let store = Store::open(&env.state_path()).unwrap();
    assert_eq!(store.count_records(ObjectKind::Contact, false).unwrap(), 6);
}

#[test]
fn the_request_budget_stops_a_run_and_the_next_run_finishes_it() {
    let (sandbox, env) = setup();
    let records: Vec<Record> = (0..250)
        .map(|i| contact(&format!("p{i}@example.com"), "P"))
        .collect();
    save(&env, &records);
    let run = env.run(&["sync", "--max-requests", "3"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("budget of 3 requests"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("connection `hs`").count(),
        1,
        "the connection is named once: {}",
        run.stderr
    );
    let log = env.run(&["log", "-n", "1", "--json"]).json();
    assert_eq!(
        log[0]["error"], "connection `hs` used its budget of 3 requests for this run",
        "{log}"
    );
    assert!(
        run.stderr.contains("max_requests_per_run"),
        "{}",
        run.stderr
    );
    let partial = remote_contacts(&sandbox).len();
    assert!(partial < 250, "the budget did not stop the run");
    env.run(&["sync"]).ok();
    let all = remote_contacts(&sandbox);
    assert_eq!(
        all.len(),
        250,
        "the next run finished the push without duplicates"
    );
}

#[test]
fn sync_without_connections_says_how_to_add_one() {
    let env = TestEnv::new();
    let run = env.run(&["sync"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("no connections are configured"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("crmsync connect"), "{}", run.stderr);
}

#[test]
fn a_held_conflict_keeps_the_exit_code_at_3_until_it_is_resolved() {
    let (sandbox, env) = setup();
    env.write_config(&format!(
        "[policies.contact]\nfirst_name = \"manual\"\n\n[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n",
        sandbox.base_url()
    ));
    ann_edited_on_both_sides(
        &sandbox,
        &env,
        ("first_name", "Annabel"),
        ("firstname", "Anna"),
    );

    let run = env.run(&["sync"]);
    run.expect_code(3);
    assert!(run.stderr.contains("1 conflict(s) wait"), "{}", run.stderr);
    // `log` says what the run left waiting, and its counts by connection and object.
    let log = env.run(&["log", "-n", "1"]);
    log.ok();
    assert!(
        log.stdout.contains("partial, 1 conflict waiting"),
        "{}",
        log.stdout
    );
    assert!(log.stdout.contains("hs.contact.read 1"), "{}", log.stdout);
    // The pull held the conflict; the push meeting it again does not count it twice.
    assert!(log.stdout.contains("hs.contact.held 1,"), "{}", log.stdout);
    // A later run that does not touch the record still reports the waiting conflict.
    let run = env.run(&["sync"]);
    run.expect_code(3);
    assert!(run.stderr.contains("1 conflict(s) wait"), "{}", run.stderr);

    env.run(&["conflicts", "resolve", "--all", "--take", "remote"])
        .ok();
    env.run(&["sync"]).ok();
    let export = env.run(&["export", "--format", "jsonl"]);
    assert!(export.stdout.contains("\"Anna\""), "{}", export.stdout);
}

/// The README's quick start with the sample data the repo ships: every record HubSpot takes
/// (dropdowns hold values HubSpot allows), and a second sync writes nothing.
#[test]
fn the_shipped_samples_sync_to_hubspot_without_a_failed_record() {
    let (sandbox, env) = setup();
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let companies = samples.join("companies.csv");
    let contacts = samples.join("contacts.csv");
    env.run(&["import", companies.to_str().unwrap(), "--object", "company"])
        .ok();
    // Three rows of the contacts file are rejected on purpose (samples/README.md): exit 3.
    env.run(&["import", contacts.to_str().unwrap()])
        .expect_code(3);

    let run = env.run(&["sync", "--json"]);
    run.ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let hs = &report["connections"][0];
    assert_eq!(hs["failed_records"], 0, "{report:#}");
    for object in hs["objects"].as_array().unwrap() {
        assert_eq!(object["failed"], 0, "{report:#}");
    }
    assert_eq!(remote_contacts(&sandbox).len(), 47, "{report}");
    let companies = sandbox.dump()["companies"].as_array().unwrap().len();
    assert_eq!(companies, 12);
    // Each contact's Company names one of the imported companies: in HubSpot the contact is
    // associated with it.
    for c in remote_contacts(&sandbox) {
        let props = &c["properties"];
        if props["company"].as_str().is_some_and(|n| !n.is_empty()) {
            assert!(
                props["associatedcompanyid"]
                    .as_str()
                    .is_some_and(|id| !id.is_empty()),
                "{c:#}"
            );
        }
    }

    sandbox.clear_request_log();
    env.run(&["sync"]).ok();
    let writes = sandbox
        .request_log()
        .iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/search") && !r.path.ends_with("/read"))
        .count();
    assert_eq!(writes, 0, "the second sync wrote to HubSpot");
}

/// A record changed on both sides is planned once by a dry run, as the run itself does it:
/// in its pull, with both changes; its push then finds it settled.
#[test]
fn a_dry_run_plans_a_record_changed_on_both_sides_once() {
    let (sandbox, env) = setup();
    ann_edited_on_both_sides(
        &sandbox,
        &env,
        ("job_title", "Planner"),
        ("lastname", "Archer"),
    );

    let dry = env.run(&["sync", "--dry-run", "--json"]);
    dry.ok();
    let v: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    let plans: Vec<&serde_json::Value> = v["plans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["object"] == "contact")
        .collect();
    assert_eq!(plans.len(), 1, "one plan per connection and object: {v:#}");
    let ops: Vec<&str> = plans[0]["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["op"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops.iter().filter(|o| **o == "remote_update").count(),
        1,
        "{ops:?}"
    );
    assert_eq!(
        ops.iter().filter(|o| **o == "local_update").count(),
        1,
        "{ops:?}"
    );
    let contact = v["connections"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "contact")
        .unwrap();
    assert_eq!(contact["planned"]["remote_update"], 1, "{v:#}");

    // The run itself makes the one update the dry run showed.
    sandbox.clear_request_log();
    env.run(&["sync"]).ok();
    let updates = sandbox
        .request_log()
        .iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/search") && !r.path.ends_with("/read"))
        .count();
    assert_eq!(updates, 1);
}

/// The report of a run counts what its dry run counted: the records its own pull wrote here
/// are not local changes.
#[test]
fn a_run_reports_the_counts_its_dry_run_reported() {
    let (sandbox, env) = setup();
    save(&env, &[contact("ann@example.com", "Ann")]);
    for i in 0..3 {
        let email = format!("hub{i}@example.com");
        sandbox
            .create_record("contacts", &[("email", &email), ("firstname", "Hub")])
            .unwrap();
    }

    let objects = |args: &[&str]| {
        let out = env.run(args);
        out.ok();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let mut objects = v["connections"][0]["objects"].clone();
        for o in objects.as_array_mut().unwrap() {
            o.as_object_mut().unwrap().remove("unchanged");
        }
        objects
    };
    let dry = objects(&["sync", "--dry-run", "--json"]);
    let real = objects(&["sync", "--json"]);
    assert_eq!(dry, real);
    let contact = real
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "contact")
        .unwrap();
    assert_eq!(contact["local_changes"], 1, "{real:#}");
    assert_eq!(contact["planned"]["local_create"], 3, "{real:#}");
}

/// The report the README shows for `crmsync sync --json` has the keys a run prints.
#[test]
fn the_readme_shows_the_keys_of_the_sync_report() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let after = readme
        .split_once("`crmsync sync --json` prints the run's report:")
        .unwrap()
        .1;
    let block = after
        .split_once("```json")
        .unwrap()
        .1
        .split_once("```")
        .unwrap()
        .0;
    let shown: serde_json::Value = serde_json::from_str(block).unwrap();

    let (_sandbox, env) = setup();
    save(&env, &[contact("ann@example.com", "Ann")]);
    let real = env.run(&["sync", "--json"]).json();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&shown), keys(&real));
    assert_eq!(
        keys(&shown["connections"][0]),
        keys(&real["connections"][0])
    );
    assert_eq!(
        keys(&shown["connections"][0]["objects"][0]),
        keys(&real["connections"][0]["objects"][0])
    );
}

#[test]
fn syncing_an_object_no_connection_syncs_is_refused() {
    let (_sandbox, env) = setup();
    let run = env.run(&["sync", "--object", "activity"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("syncs activity records"),
        "{}",
        run.stderr
    );
    env.run(&["sync", "--object", "contact"]).ok();
}

#[test]
fn a_dry_run_without_a_state_file_plans_and_leaves_no_file() {
    let (sandbox, env) = setup();
    sandbox
        .create_record(
            "contacts",
            &[("email", "bob@example.com"), ("firstname", "Bob")],
        )
        .unwrap();
    let state = env.state_path();
    assert!(!state.exists(), "the setup made a state file");
    let run = env.run(&["sync", "--dry-run"]);
    run.ok();
    assert!(run.stdout.contains("create here"), "{}", run.stdout);
    let dir = state.parent().unwrap();
    let left: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&*state.file_name().unwrap().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "a dry run left {left:?}");
}
