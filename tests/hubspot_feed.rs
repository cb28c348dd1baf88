//! The change feed against the HubSpot sandbox, run by the binary: more records at one
//! modification time than HubSpot's search can reach, the versions kept from its batch update
//! answers, and contacts linked again after a killed create without association reads.
//!
//! The scenarios any CRM's feed meets alike (records moving between pages by crmsync's own
//! writes or a user's edit, echoes, a first sync killed or failing part-way, a skewed clock)
//! are in `tests/scenarios/`, run against each CRM's sandbox.

mod common;

use common::crm::{HubSpotCrm, Synced, TestCrm, record};
use crmsync::model::{ObjectKind, Record};
use crmsync::sandbox::EditBefore;
use serde_json::Value;

type Hs = Synced<HubSpotCrm>;

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
    record(
        ObjectKind::Contact,
        &[
            ("first_name", &format!("Local{i}")),
            ("last_name", "Person"),
            ("email", email),
        ],
    )
}

/// Seeds `n` HubSpot contacts a second apart, a day ago; returns their ids in feed order.
fn seed_old(hs: &Hs, n: usize) -> Vec<String> {
    let sandbox = &hs.crm.sandbox;
    let now = sandbox.now_ms();
    sandbox.set_clock_ms(now - 86_400_000);
    let ids = sandbox.seed(n, 0).0;
    sandbox.set_clock_ms(now);
    ids
}

/// The local contact with `email`.
fn local_by_email(hs: &Hs, email: &str) -> Record {
    hs.local(ObjectKind::Contact)
        .into_iter()
        .find(|r| r.archived_at.is_none() && r.get("email") == Some(email))
        .expect("a local contact with that email")
}

#[test]
fn more_contacts_at_one_millisecond_than_a_search_can_reach_are_all_read() {
    let hs = Hs::start();
    hs.crm.sandbox.freeze_clock(true);
    for i in 0..10_500 {
        hs.crm
            .sandbox
            .create_record("contacts", &[("email", &format!("bulk{i}@example.org"))])
            .unwrap();
    }
    hs.sync_json();
    hs.assert_every_contact_local(10_500);
}
#[test]
fn a_users_edit_answered_with_crmsyncs_write_is_pulled_while_echoes_stay_unchanged() {
    let hs = Hs::start();
    let ids = seed_old(&hs, 5);
    hs.sync_json();
    let email = hs
        .crm
        .record(ObjectKind::Contact, &ids[2])
        .get("email")
        .unwrap()
        .to_string();
    // A local edit of one contact is pending, and new local contacts are to be created.
    hs.edit_local(
        &local_by_email(&hs, &email).id,
        &[("last_name", "LocalEdit")],
    );
    hs.save_local(
        &(0..20)
            .map(|i| local_contact(i, &format!("echo{i}@example.org")))
            .collect::<Vec<_>>(),
    );
    // A HubSpot user edits the first name just before crmsync's update arrives: the update's
    // answer carries both edits.
    hs.crm.sandbox.edit_before(EditBefore {
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
    assert_eq!(
        local_by_email(&hs, &email).get("first_name"),
        Some("UserEdit")
    );
    let c = contact_report(&hs.sync_json());
    assert_eq!(c["unchanged"], c["read"], "{c}");
}

#[test]
fn contacts_linked_again_after_a_killed_create_are_unchanged_without_association_reads() {
    let mut hs = Hs::start();
    hs.save_local(
        &(0..30)
            .map(|i| local_contact(i, &format!("killed{i}@example.org")))
            .collect::<Vec<_>>(),
    );
    hs.env.set_env("CRMSYNC_TEST_KILL_AFTER_WRITES", "1");
    let run = hs.sync();
    assert_eq!(run.code, -1, "killed after the create: {}", run.stderr);
    hs.env.remove_env("CRMSYNC_TEST_KILL_AFTER_WRITES");
    hs.crm.sandbox.clear_request_log();
    let c = contact_report(&hs.sync_json());
    assert_eq!(c["unchanged"], c["read"], "{c}");
    assert_eq!(c["read"], 30, "{c}");
    let log = hs.crm.sandbox.request_log();
    assert!(
        !log.iter()
            .any(|r| r.path.starts_with("/crm/v4/associations")),
        "{log:#?}"
    );
    assert_eq!(hs.remote_emails().len(), 30);
    assert_eq!(hs.local_emails().len(), 30);
}
