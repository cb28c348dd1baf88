//! The change feed against the HubSpot sandbox, run by the binary: more records at one
//! modification time than HubSpot's search can reach, the versions kept from its batch update
//! answers, and contacts linked again after a killed create without association reads.
//!
//! The scenarios any CRM's feed meets alike (records moving between pages by crmsync's own
//! writes or a user's edit, echoes, a first sync killed or failing part-way, a skewed clock)
//! are in `tests/scenarios/`, run against each CRM's sandbox.

mod common;

use std::collections::BTreeSet;

use common::{Run, TestEnv};
use crmsync::model::{Fields, ObjectKind, Record, RecordId};
use crmsync::sandbox::{EditBefore, Sandbox};
use crmsync::store::{Store, WriteOrigin};
use serde_json::Value;

const CONN: &str = "hs";

struct Hs {
    sandbox: Sandbox,
    env: TestEnv,
}

impl Hs {
    /// A sandbox without rate limits and crmsync pointed at it; `page` is the search page size.
    fn start(page: Option<usize>) -> Hs {
        let sandbox = common::unlimited_sandbox();
        let mut env = common::connected_env(&sandbox, CONN);
        if let Some(page) = page {
            env.set_env("CRMSYNC_TEST_SEARCH_LIMIT", &page.to_string());
        }
        env.run(&["mappings", "setup", "-c", CONN]).ok();
        Hs { sandbox, env }
    }

    fn sync_json(&self) -> Value {
        let run: Run = self.env.run(&["sync", "--json"]);
        run.ok();
        run.json()
    }

    fn store(&self) -> Store {
        Store::open(&self.env.state_path()).expect("open the state file")
    }

    fn save_local(&self, records: &[Record]) {
        self.store()
            .save_records(records, &WriteOrigin::User)
            .expect("save local records");
    }

    fn local_emails(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.store()
            .for_each_record(ObjectKind::Contact, false, &mut |r| {
                out.insert(r.get("email").unwrap_or_default().to_string());
                Ok(())
            })
            .unwrap();
        out
    }

    fn remote_emails(&self) -> BTreeSet<String> {
        self.sandbox.dump()["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["archived"] == false)
            .map(|r| {
                r["properties"]["email"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }
}

fn contact_report(report: &Value) -> Value {
    report["connections"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "contact")
        .unwrap()
        .clone()
}

fn local_contact(i: usize, email: &str) -> Record {
    let fields: Fields = [
        ("first_name", format!("Local{i}")),
        ("last_name", "Person".to_string()),
        ("email", email.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Record {
        id: RecordId::new(),
        kind: ObjectKind::Contact,
        fields,
        updated_at: chrono::Utc::now().timestamp_millis(),
        archived_at: None,
    }
}

/// Seeds `n` HubSpot contacts a second apart, a day ago; returns their ids in feed order.
fn seed_old(hs: &Hs, n: usize) -> Vec<String> {
    let now = hs.sandbox.now_ms();
    hs.sandbox.set_clock_ms(now - 86_400_000);
    let ids = hs.sandbox.seed(n, 0).0;
    hs.sandbox.set_clock_ms(now);
    ids
}

/// Checks that every live HubSpot contact is local, and nothing else is.
fn assert_every_contact_local(hs: &Hs, expected: usize) {
    let remote = hs.remote_emails();
    let local = hs.local_emails();
    assert_eq!(remote.len(), expected, "HubSpot's contacts");
    let missing: Vec<&String> = remote.difference(&local).collect();
    let extra: Vec<&String> = local.difference(&remote).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not local: {missing:?}; local only: {extra:?}"
    );
    assert_eq!(
        hs.store().count_links(CONN, ObjectKind::Contact).unwrap() as usize,
        expected,
        "links"
    );
}

fn remote_email(hs: &Hs, id: &str) -> String {
    hs.sandbox.dump()["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .map(|r| r["properties"]["email"].as_str().unwrap().to_string())
        .unwrap()
}

/// Edits a field of the local contact with `email`, as a user would.
fn edit_local(hs: &Hs, email: &str, field: &str, value: &str) {
    let mut found = Vec::new();
    hs.store()
        .for_each_record(ObjectKind::Contact, false, &mut |r| {
            if r.get("email") == Some(email) {
                found.push(r);
            }
            Ok(())
        })
        .unwrap();
    let mut rec = found.pop().expect("a local contact with that email");
    rec.fields.insert(field.into(), value.into());
    rec.updated_at = chrono::Utc::now().timestamp_millis();
    hs.save_local(&[rec]);
}

fn local_first_name(hs: &Hs, email: &str) -> Option<String> {
    let mut out = None;
    hs.store()
        .for_each_record(ObjectKind::Contact, false, &mut |r| {
            if r.get("email") == Some(email) {
                out = r.get("first_name").map(str::to_string);
            }
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn more_contacts_at_one_millisecond_than_a_search_can_reach_are_all_read() {
    let hs = Hs::start(None);
    hs.sandbox.freeze_clock(true);
    for i in 0..10_500 {
        hs.sandbox
            .create_record("contacts", &[("email", &format!("bulk{i}@example.org"))])
            .unwrap();
    }
    hs.sync_json();
    assert_every_contact_local(&hs, 10_500);
}
#[test]
fn a_users_edit_answered_with_crmsyncs_write_is_pulled_while_echoes_stay_unchanged() {
    let hs = Hs::start(None);
    let ids = seed_old(&hs, 5);
    hs.sync_json();
    let email = remote_email(&hs, &ids[2]);
    // A local edit of one contact is pending, and new local contacts are to be created.
    edit_local(&hs, &email, "last_name", "LocalEdit");
    hs.save_local(
        &(0..20)
            .map(|i| local_contact(i, &format!("echo{i}@example.org")))
            .collect::<Vec<_>>(),
    );
    // A HubSpot user edits the first name just before crmsync's update arrives: the update's
    // answer carries both edits.
    hs.sandbox.edit_before(EditBefore {
        method: "POST".into(),
        path_contains: "/contacts/batch/update".into(),
        nth: 1,
        object_type: "contacts".into(),
        id: ids[2].clone(),
        properties: serde_json::json!({ "firstname": "UserEdit" }),
    });
    hs.sync_json();
    let report = hs.sync_json();
    let c = contact_report(&report);
    assert_eq!(c["planned"]["local_update"], 1, "{c}");
    assert_eq!(
        c["unchanged"].as_u64().unwrap() + 1,
        c["read"].as_u64().unwrap(),
        "every echo is unchanged: {c}"
    );
    assert_eq!(local_first_name(&hs, &email).as_deref(), Some("UserEdit"));
    let c = contact_report(&hs.sync_json());
    assert_eq!(c["unchanged"], c["read"], "{c}");
}

#[test]
fn contacts_linked_again_after_a_killed_create_are_unchanged_without_association_reads() {
    let mut hs = Hs::start(None);
    hs.save_local(
        &(0..30)
            .map(|i| local_contact(i, &format!("killed{i}@example.org")))
            .collect::<Vec<_>>(),
    );
    hs.env.set_env("CRMSYNC_TEST_KILL_AFTER_WRITES", "1");
    let run = hs.env.run(&["sync"]);
    assert_eq!(run.code, -1, "killed after the create: {}", run.stderr);
    hs.env.remove_env("CRMSYNC_TEST_KILL_AFTER_WRITES");
    hs.sandbox.clear_request_log();
    let c = contact_report(&hs.sync_json());
    assert_eq!(c["unchanged"], c["read"], "{c}");
    assert_eq!(c["read"], 30, "{c}");
    let log = hs.sandbox.request_log();
    assert!(
        !log.iter()
            .any(|r| r.path.starts_with("/crm/v4/associations")),
        "{log:#?}"
    );
    assert_eq!(hs.remote_emails().len(), 30);
    assert_eq!(hs.local_emails().len(), 30);
}
