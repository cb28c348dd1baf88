//! The change feed against the HubSpot sandbox, run by the binary: records that move while a
//! read pages through them (by crmsync's own writes, by a user's edit between two requests),
//! many records sharing one modification time, the versions kept from write answers, and a
//! HubSpot clock that is behind or ahead of crmsync's.

mod common;

use std::collections::BTreeSet;

use common::{Run, TestEnv};
use crmsync::model::{Fields, ObjectKind, Record, RecordId};
use crmsync::sandbox::{EditBefore, FaultOptions, Sandbox};
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

/// A user's edit of contact `id` landing just before the change feed's `nth` search.
fn edit_before_search(hs: &Hs, nth: u32, id: &str, first_name: &str) {
    hs.sandbox.edit_before(EditBefore {
        method: "POST".into(),
        path_contains: "/contacts/search".into(),
        nth,
        object_type: "contacts".into(),
        id: id.into(),
        properties: serde_json::json!({ "firstname": first_name }),
    });
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
fn a_first_sync_reads_every_contact_while_its_own_writes_move_them_between_pages() {
    let hs = Hs::start(Some(40));
    let ids = seed_old(&hs, 500);
    // 50 local contacts share their emails with HubSpot contacts of the first pages: crmsync
    // writes to each while it still pages, which moves it to the end of the feed.
    let local: Vec<Record> = ids[..100]
        .iter()
        .step_by(2)
        .enumerate()
        .map(|(i, id)| local_contact(i, &remote_email(&hs, id)))
        .collect();
    hs.save_local(&local);
    let report = hs.sync_json();
    assert_eq!(contact_report(&report)["failed"], 0, "{report}");
    assert_every_contact_local(&hs, 500);
}

#[test]
fn a_users_edit_between_two_searches_of_a_first_sync_loses_no_contact() {
    let hs = Hs::start(Some(40));
    let ids = seed_old(&hs, 300);
    // Before the second search, a user edits a contact of the first page.
    edit_before_search(&hs, 2, &ids[3], "Edited");
    hs.sync_json();
    assert_every_contact_local(&hs, 300);
    assert_eq!(
        local_first_name(&hs, &remote_email(&hs, &ids[3])).as_deref(),
        Some("Edited")
    );
}

#[test]
fn a_users_edit_between_two_searches_of_a_delta_sync_loses_no_change() {
    let hs = Hs::start(Some(40));
    let ids = seed_old(&hs, 300);
    hs.sync_json();
    // 200 contacts changed in HubSpot since, a few a second.
    for (i, id) in ids[..200].iter().enumerate() {
        if i % 20 == 0 {
            hs.sandbox.advance_clock(std::time::Duration::from_secs(1));
        }
        hs.sandbox
            .update_record("contacts", id, &[("lastname", &format!("Changed{i}"))])
            .unwrap();
    }
    edit_before_search(&hs, 2, &ids[5], "Edited");
    hs.sync_json();
    let mut local = std::collections::BTreeMap::new();
    hs.store()
        .for_each_record(ObjectKind::Contact, false, &mut |r| {
            local.insert(
                r.get("email").unwrap_or_default().to_string(),
                r.get("last_name").unwrap_or_default().to_string(),
            );
            Ok(())
        })
        .unwrap();
    assert_eq!(local.len(), 300);
    for (i, id) in ids[..200].iter().enumerate() {
        assert_eq!(
            local[&remote_email(&hs, id)],
            format!("Changed{i}"),
            "contact {id}"
        );
    }
    assert_eq!(
        local_first_name(&hs, &remote_email(&hs, &ids[5])).as_deref(),
        Some("Edited")
    );
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
fn echoes_of_creates_are_unchanged_in_the_next_run() {
    let hs = Hs::start(None);
    hs.sandbox.seed(20, 0);
    let company = Record {
        id: RecordId::new(),
        kind: ObjectKind::Company,
        fields: [
            ("name".to_string(), "Acme".to_string()),
            ("domain".to_string(), "acme.example".to_string()),
        ]
        .into_iter()
        .collect(),
        updated_at: chrono::Utc::now().timestamp_millis(),
        archived_at: None,
    };
    let mut contacts: Vec<Record> = (0..47)
        .map(|i| local_contact(i, &format!("new{i}@example.org")))
        .collect();
    for c in contacts.iter_mut().take(10) {
        c.fields.insert("company_id".into(), company.id.0.clone());
    }
    hs.save_local(&[company]);
    hs.save_local(&contacts);
    hs.sync_json();
    let report = hs.sync_json();
    let c = contact_report(&report);
    eprintln!("{c}");
    assert_eq!(c["unchanged"], c["read"], "{c}");
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

/// A first sync's workload that pulls and pushes at once: 300 HubSpot contacts, 300 local
/// ones of which 50 share an email with a HubSpot contact spread over the feed. Returns how
/// many distinct contacts there are.
fn pull_and_push_at_once(hs: &Hs) -> usize {
    let ids = seed_old(hs, 300);
    let mut local: Vec<Record> = ids
        .iter()
        .step_by(6)
        .enumerate()
        .map(|(i, id)| local_contact(i, &remote_email(hs, id)))
        .collect();
    assert_eq!(local.len(), 50);
    local.extend((0..250).map(|i| local_contact(i, &format!("here{i}@example.org"))));
    hs.save_local(&local);
    550
}

/// Every contact once on each side, linked once, none created twice in HubSpot, and the 300
/// local contacts' ids each on one HubSpot contact.
fn assert_once_on_both_sides(hs: &Hs, expected: usize) {
    assert_every_contact_local(hs, expected);
    let contacts = hs.sandbox.dump()["contacts"].as_array().unwrap().clone();
    let stamps: Vec<&str> = contacts
        .iter()
        .filter_map(|r| r["properties"]["crmsync_id"].as_str())
        .collect();
    let distinct: BTreeSet<&str> = stamps.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        stamps.len(),
        "a local id on two HubSpot contacts"
    );
    assert_eq!(
        stamps.len(),
        300,
        "the local contacts, created or matched, carry their ids"
    );
    assert_eq!(contacts.len(), expected, "no HubSpot contact made twice");
}

#[test]
fn a_first_sync_that_pulls_and_pushes_at_once_killed_every_five_writes_ends_with_each_contact_once()
{
    let mut hs = Hs::start(Some(40));
    let expected = pull_and_push_at_once(&hs);
    hs.env.set_env("CRMSYNC_TEST_KILL_AFTER_WRITES", "5");
    let mut kills = 0;
    loop {
        let run = hs.env.run(&["sync"]);
        if run.code == 0 {
            break;
        }
        assert_eq!(run.code, -1, "{}", run.stderr);
        kills += 1;
        assert!(kills < 100, "no run finished");
    }
    assert!(kills >= 1, "no run was killed");
    hs.env.remove_env("CRMSYNC_TEST_KILL_AFTER_WRITES");
    hs.sync_json();
    assert_once_on_both_sides(&hs, expected);
}

#[test]
fn a_first_sync_that_pulls_and_pushes_at_once_through_faults_ends_with_each_contact_once() {
    let hs = Hs::start(Some(40));
    let expected = pull_and_push_at_once(&hs);
    hs.sandbox.set_faults(FaultOptions {
        rate_429: 0.05,
        rate_500: 0.05,
        rate_502_503: 0.05,
        drop_rate: 0.05,
        ..FaultOptions::default()
    });
    let mut codes = Vec::new();
    loop {
        let run = hs.env.run(&["sync"]);
        codes.push(run.code);
        if run.code == 0 {
            break;
        }
        assert!([1, 3].contains(&run.code), "{}", run.stderr);
        assert!(codes.len() < 60, "no clean run: {codes:?}");
    }
    hs.sandbox.set_faults(FaultOptions::default());
    hs.sync_json();
    assert_once_on_both_sides(&hs, expected);
}

/// Sets the sandbox's clock `offset_ms` off the real one.
fn skew_sandbox(hs: &Hs, offset_ms: i64) {
    hs.sandbox
        .set_clock_ms(chrono::Utc::now().timestamp_millis() + offset_ms);
}

fn warnings(report: &Value) -> String {
    report["connections"][0]["warnings"].to_string()
}

#[test]
fn with_hubspots_clock_an_hour_behind_its_edits_after_a_sync_are_read() {
    let hs = Hs::start(None);
    skew_sandbox(&hs, -3_600_000);
    let ids = seed_old(&hs, 5);
    hs.sync_json();
    let email = remote_email(&hs, &ids[1]);
    hs.sandbox
        .update_record("contacts", &ids[1], &[("firstname", "Later")])
        .unwrap();
    let report = hs.sync_json();
    assert_eq!(local_first_name(&hs, &email).as_deref(), Some("Later"));
    assert!(warnings(&report).contains("behind"), "{report}");
}

#[test]
fn with_hubspots_clock_an_hour_ahead_newest_wins_takes_the_later_local_edit() {
    let hs = Hs::start(None);
    skew_sandbox(&hs, 3_600_000);
    let ids = seed_old(&hs, 5);
    hs.sync_json();
    let email = remote_email(&hs, &ids[1]);
    // Edited in HubSpot first (stamped an hour ahead), then locally, more than the skew's
    // precision (the `Date` header's whole seconds) later.
    hs.sandbox
        .update_record("contacts", &ids[1], &[("firstname", "Remote")])
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    edit_local(&hs, &email, "first_name", "Local");
    let report = hs.sync_json();
    assert_eq!(local_first_name(&hs, &email).as_deref(), Some("Local"));
    assert!(warnings(&report).contains("ahead of"), "{report}");
    let remote = hs.sandbox.dump()["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == ids[1].as_str())
        .unwrap()["properties"]["firstname"]
        .clone();
    assert_eq!(remote, "Local");
}
