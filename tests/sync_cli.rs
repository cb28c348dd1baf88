//! `sync` as a user runs it against the sandbox HubSpot: the archive gate over a pull and a
//! push of one run (HubSpot's daily archive scan), the request budget, the shipped samples,
//! the README's report and runs without a connection or object to sync.
//!
//! Dry runs, saved plans, the archive gate and held conflicts' exit codes, which any CRM meets
//! alike, are in `tests/scenarios/`, run against each CRM's sandbox.

mod common;

use common::TestEnv;
use common::crm::{HubSpotCrm, Synced};
use crmsync::model::{Fields, ObjectKind, Record, RecordId};
use crmsync::sandbox::Sandbox;
use crmsync::store::{Store, WriteOrigin};

/// A sandbox with generous limits and a configured, set-up connection `hs`.
fn setup() -> (Sandbox, TestEnv) {
    let Synced { crm, env, .. } = Synced::<HubSpotCrm>::named("hs", "");
    (crm.sandbox, env)
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

fn remote_contacts(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    let dump = sandbox.dump();
    let all = dump["contacts"].as_array().cloned().unwrap_or_default();
    all.into_iter().filter(|c| c["archived"] != true).collect()
}

/// Archives these local records, as `crmsync records archive` does.
fn archive_locally(env: &TestEnv, records: &[Record]) {
    let mut store = Store::open(&env.state_path()).unwrap();
    store
        .save_records(&common::crm::archived(records, 3), &WriteOrigin::User)
        .unwrap();
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
