//! Activities synced with HubSpot's engagement objects both ways, as a user meets them: the
//! crmsync binary against the HubSpot sandbox, local records written into the state file as
//! an import would leave them, HubSpot's side read and edited through the sandbox.

mod common;

use common::crm::{HubSpotCrm, Synced, TestCrm, contact, record, tick};
use crmsync::model::{ObjectKind, Record, RecordId};
use serde_json::Value;

use ObjectKind::{Activity, Company, Contact};

type World = Synced<HubSpotCrm>;

/// The connection syncs activities (HubSpot's are read only when `objects` names them).
const WITH_ACTIVITIES: &str = "objects = [\"company\", \"contact\", \"activity\"]\n";

/// Every record of an engagement object in HubSpot (archived ones too).
fn engagements(w: &World, path: &str) -> Vec<Value> {
    w.crm.sandbox.dump()[path].as_array().unwrap().clone()
}

fn live_engagements(w: &World) -> Vec<(String, Value)> {
    ["calls", "emails", "meetings", "notes", "tasks"]
        .iter()
        .flat_map(|p| {
            engagements(w, p)
                .into_iter()
                .filter(|r| r["archived"] != true)
                .map(|r| (p.to_string(), r))
        })
        .collect()
}

/// The HubSpot record an activity id (`call:1042`) names: its object path, id and properties.
fn engagement(w: &World, activity_id: &str) -> (String, String, Value) {
    let (key, id) = activity_id.split_once(':').expect("an activity id");
    let path = format!("{key}s");
    let found = engagements(w, &path)
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no {path} `{id}` in HubSpot"));
    (path, id.to_string(), found["properties"].clone())
}

fn local_activity(contact: &RecordId, kind: &str, subject: &str, time: &str) -> Record {
    record(
        Activity,
        &[
            ("type", kind),
            ("subject", subject),
            ("time", time),
            ("note", "Met at the fair"),
            ("contact_id", contact.as_str()),
        ],
    )
}

/// A world syncing activities with one local company and one contact of it, both synced.
fn with_contact(in_connection: &str) -> (World, Record, Record) {
    let w = World::start();
    w.config("", &format!("{WITH_ACTIVITIES}{in_connection}"));
    let co = record(Company, &[("name", "Acme"), ("domain", "acme.example")]);
    let mut c = contact(1);
    c.fields.insert("company_id".into(), co.id.0.clone());
    w.save_local(std::slice::from_ref(&co));
    w.save_local(std::slice::from_ref(&c));
    w.sync().ok();
    (w, c, co)
}

fn live_local(w: &World) -> Vec<Record> {
    w.local(Activity)
        .into_iter()
        .filter(|r| r.archived_at.is_none())
        .collect()
}

#[test]
fn each_engagement_type_reaches_hubspot_with_its_contact_and_company_and_comes_back() {
    let (w, c, co) = with_contact("");
    let (contact_id, company_id) = (w.remote_id(Contact, &c.id), w.remote_id(Company, &co.id));
    let mut made = Vec::new();
    for (kind, subject) in [
        ("call", "First call"),
        ("email", "Follow-up"),
        ("meeting", "Demo"),
        ("note", "Likes blue"),
        ("task", "Send the quote"),
        ("linkedin", "Connected"),
    ] {
        let mut a = local_activity(&c.id, kind, subject, "2026-03-01T10:00:00Z");
        a.fields.insert("company_id".into(), co.id.0.clone());
        made.push(a);
    }
    made[0].fields.insert("direction".into(), "outbound".into());
    made[0].fields.insert("duration".into(), "5".into());
    made[1].fields.insert("direction".into(), "inbound".into());
    made[2].fields.insert("duration".into(), "45".into());
    made[4].fields.insert("done".into(), "true".into());
    w.save_local(&made);
    w.sync().ok();

    for a in &made {
        let id = w.remote_id(Activity, &a.id);
        let (path, own, props) = engagement(&w, &id);
        let sent_as = match a.get("type").unwrap() {
            "linkedin" => "tasks".to_string(),
            other => format!("{other}s"),
        };
        assert_eq!(path, sent_as, "{id}");
        assert_eq!(
            crmsync::clock::parse_instant(props["hs_timestamp"].as_str().unwrap()),
            crmsync::clock::parse_instant("2026-03-01T10:00:00Z"),
        );
        assert_eq!(
            w.crm.sandbox.associated(&path, &own, "contacts"),
            std::slice::from_ref(&contact_id),
            "{id}"
        );
        assert_eq!(
            w.crm.sandbox.associated(&path, &own, "companies"),
            std::slice::from_ref(&company_id),
            "{id}"
        );
    }
    let call = engagement(&w, &w.remote_id(Activity, &made[0].id)).2;
    assert_eq!(call["hs_call_title"], "First call");
    assert_eq!(call["hs_call_body"], "Met at the fair");
    assert_eq!(call["hs_call_direction"], "OUTBOUND");
    assert_eq!(call["hs_call_duration"], "300000");
    let email = engagement(&w, &w.remote_id(Activity, &made[1].id)).2;
    assert_eq!(email["hs_email_direction"], "INCOMING_EMAIL");
    let meeting = engagement(&w, &w.remote_id(Activity, &made[2].id)).2;
    assert_eq!(
        crmsync::clock::parse_instant(meeting["hs_meeting_end_time"].as_str().unwrap()),
        crmsync::clock::parse_instant("2026-03-01T10:45:00Z"),
    );
    let note = engagement(&w, &w.remote_id(Activity, &made[3].id)).2;
    assert_eq!(note["hs_note_body"], "Met at the fair");
    let task = engagement(&w, &w.remote_id(Activity, &made[4].id)).2;
    assert_eq!(task["hs_task_status"], "COMPLETED");
    assert_eq!(live_engagements(&w).len(), 6);
    // The local types stay as they were (a `linkedin` read back as a task is unchanged).
    assert_eq!(w.local_record(&made[5].id).get("type"), Some("linkedin"));
    w.assert_sync_writes_nothing();

    // And back: a call logged in HubSpot on the contact's timeline comes in.
    let logged = w
        .crm
        .sandbox
        .create_record(
            "calls",
            &[
                ("hs_call_title", "Called us"),
                ("hs_timestamp", "2026-03-02T09:00:00Z"),
                ("hs_call_direction", "INBOUND"),
            ],
        )
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.crm
        .sandbox
        .link_engagement(("calls", &logged), ("contacts", &contact_id), true)
        .unwrap();
    w.crm
        .sandbox
        .link_engagement(("calls", &logged), ("companies", &company_id), true)
        .unwrap();
    w.sync().ok();
    let local = w.local_for(Activity, &format!("call:{logged}"));
    assert_eq!(local.get("type"), Some("call"));
    assert_eq!(local.get("subject"), Some("Called us"));
    assert_eq!(local.get("direction"), Some("inbound"));
    assert_eq!(local.get("time"), Some("2026-03-02T09:00:00Z"));
    assert_eq!(local.get("due_date"), Some("2026-03-02"));
    assert_eq!(local.get("contact_id"), Some(c.id.as_str()));
    assert_eq!(local.get("company_id"), Some(co.id.as_str()));
    w.assert_sync_writes_nothing();
}

#[test]
fn an_edit_on_each_side_is_carried_over_and_a_moved_contact_moves_the_association() {
    let (w, c, _) = with_contact("");
    let other = contact(2);
    w.save_local(std::slice::from_ref(&other));
    let a = local_activity(&c.id, "call", "First call", "2026-03-01T10:00:00Z");
    w.save_local(std::slice::from_ref(&a));
    w.sync().ok();
    let id = w.remote_id(Activity, &a.id);
    let (_, own, _) = engagement(&w, &id);

    tick();
    w.edit_local(&a.id, &[("subject", "Second call")]);
    w.sync().ok();
    assert_eq!(engagement(&w, &id).2["hs_call_title"], "Second call");

    tick();
    w.crm
        .sandbox
        .update_record("calls", &own, &[("hs_call_body", "They called back")])
        .unwrap();
    w.sync().ok();
    assert_eq!(w.local_record(&a.id).get("note"), Some("They called back"));

    tick();
    w.edit_local(&a.id, &[("contact_id", other.id.as_str())]);
    w.sync().ok();
    assert_eq!(
        w.crm.sandbox.associated("calls", &own, "contacts"),
        [w.remote_id(Contact, &other.id)]
    );
    w.assert_sync_writes_nothing();
}

#[test]
fn a_conflict_is_decided_by_each_policy() {
    for policy in ["local-wins", "remote-wins", "newest-wins", "manual"] {
        let w = World::with(&format!("[sync]\nconflict_policy = \"{policy}\"\n"));
        w.config(
            &format!("[sync]\nconflict_policy = \"{policy}\"\n"),
            WITH_ACTIVITIES,
        );
        let c = contact(1);
        w.save_local(std::slice::from_ref(&c));
        let a = local_activity(&c.id, "task", "Quote", "2026-03-01T10:00:00Z");
        w.save_local(std::slice::from_ref(&a));
        w.sync().ok();
        let (_, own, _) = engagement(&w, &w.remote_id(Activity, &a.id));
        tick();
        w.crm
            .sandbox
            .update_record("tasks", &own, &[("hs_task_subject", "Their quote")])
            .unwrap();
        tick();
        w.edit_local(&a.id, &[("subject", "Our quote")]);
        // A conflict held for `manual` exits 3.
        w.sync().expect_code(if policy == "manual" { 3 } else { 0 });
        let local = w.local_record(&a.id);
        let remote = engagement(&w, &w.remote_id(Activity, &a.id)).2;
        let (want_local, want_remote) = match policy {
            "local-wins" | "newest-wins" => ("Our quote", "Our quote"),
            "remote-wins" => ("Their quote", "Their quote"),
            _ => ("Our quote", "Their quote"),
        };
        assert_eq!(local.get("subject"), Some(want_local), "{policy}");
        assert_eq!(remote["hs_task_subject"], want_remote, "{policy}");
        assert_eq!(
            w.open_conflicts().len(),
            usize::from(policy == "manual"),
            "{policy}"
        );
    }
}

#[test]
fn an_archive_goes_both_ways() {
    let (w, c, _) = with_contact("");
    let ours = local_activity(&c.id, "meeting", "Ours", "2026-03-01T10:00:00Z");
    let theirs = local_activity(&c.id, "note", "Theirs", "2026-03-01T11:00:00Z");
    w.save_local(&[ours.clone(), theirs.clone()]);
    w.sync().ok();
    let ours_id = w.remote_id(Activity, &ours.id);
    let (_, their_own, _) = engagement(&w, &w.remote_id(Activity, &theirs.id));

    w.archive_local(&ours.id);
    w.crm.sandbox.archive_record("notes", &their_own).unwrap();
    // Both of the two linked activities go: past the archive guard.
    w.run(&["sync", "--full", "--force"]).ok();

    let (path, own, _) = engagement(&w, &ours_id);
    let archived = engagements(&w, &path)
        .into_iter()
        .find(|r| r["id"] == own.as_str())
        .unwrap();
    assert_eq!(archived["archived"], true);
    assert!(w.local_record(&theirs.id).archived_at.is_some());
    assert!(live_engagements(&w).is_empty());
}

#[test]
fn the_same_activity_imported_twice_from_a_csv_is_created_once() {
    let (w, c, _) = with_contact("");
    let csv = format!(
        "type,subject,time,contact\ncall,Intro call,2026-03-01T10:00:00Z,{}\n",
        c.id
    );
    w.env.write("calls.csv", &csv);
    w.run(&["import", "calls.csv", "--object", "activity"]).ok();
    w.sync().ok();
    assert_eq!(live_engagements(&w).len(), 1);
    w.run(&["import", "calls.csv", "--object", "activity"]).ok();
    assert_eq!(live_local(&w).len(), 2, "the import keeps both rows");
    // The second copy meets the first in HubSpot by its content: nothing is created, and
    // the copy is a failed record saying which HubSpot call it duplicates. The first is
    // linked, so the engine names it with the create and HubSpot's call is read by id: no
    // search beside the change feed's.
    w.crm.clear_request_log();
    w.sync().expect_code(3);
    let searches = w
        .crm
        .request_log()
        .into_iter()
        .filter(|c| c.path == "/crm/v3/objects/calls/search")
        .count();
    assert_eq!(searches, 1, "the change feed's read of calls alone");
    let all = live_engagements(&w);
    assert_eq!(all.len(), 1, "{all:?}");
    let failures = w.store().list_failures(None).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0]
            .message
            .contains("same time, subject and contact"),
        "{failures:?}"
    );
    w.crm.clear_request_log();
    w.sync().expect_code(3);
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());
}

#[test]
fn a_copy_of_an_activity_archived_here_under_on_delete_ignore_takes_over_its_hubspot_record() {
    // With `on_delete = "ignore"` the archive stays here and HubSpot keeps its call behind a
    // retired link; the same call made again locally is that call, not a second one.
    let (w, c, _) = with_contact("on_delete = \"ignore\"\n");
    let first = local_activity(&c.id, "call", "Intro call", "2026-03-01T10:00:00Z");
    w.save_local(std::slice::from_ref(&first));
    w.sync().ok();
    let remote = w.remote_id(Activity, &first.id);
    w.archive_local(&first.id);
    w.sync().ok();
    assert_eq!(live_engagements(&w).len(), 1, "HubSpot keeps its call");
    let again = local_activity(&c.id, "call", "Intro call", "2026-03-01T10:00:00Z");
    w.save_local(std::slice::from_ref(&again));
    w.sync().ok();
    assert_eq!(live_engagements(&w).len(), 1);
    assert_eq!(w.remote_id(Activity, &again.id), remote);
    w.assert_sync_writes_nothing();
}

#[test]
fn an_activity_waits_for_its_contact_to_be_linked_then_goes() {
    let w = World::start();
    w.config(
        "",
        &format!("{WITH_ACTIVITIES}[connections.crm.contact]\ncreate_when = \"warmness >= 4\"\n"),
    );
    let mut c = contact(1);
    c.fields.insert("warmness".into(), "3".into());
    let call = local_activity(&c.id, "call", "First call", "2026-03-01T10:00:00Z");
    w.save_local(std::slice::from_ref(&c));
    w.save_local(std::slice::from_ref(&call));
    w.sync().ok();
    assert!(w.crm.live(Contact).is_empty());
    assert!(live_engagements(&w).is_empty());

    w.edit_local(&c.id, &[("warmness", "4")]);
    w.sync().ok();
    let (path, own, props) = engagement(&w, &w.remote_id(Activity, &call.id));
    assert_eq!(props["hs_call_title"], "First call");
    assert_eq!(
        w.crm.sandbox.associated(&path, &own, "contacts"),
        [w.remote_id(Contact, &c.id)]
    );
    w.assert_sync_writes_nothing();
}

#[test]
fn a_connection_not_syncing_activities_makes_no_engagement_call() {
    let w = World::start();
    let c = contact(1);
    w.save_local(std::slice::from_ref(&c));
    w.save_local(&[local_activity(
        &c.id,
        "call",
        "Kept local",
        "2026-03-01T10:00:00Z",
    )]);
    w.crm.clear_request_log();
    w.sync().ok();
    let engagement_calls: Vec<String> = w
        .crm
        .request_log()
        .into_iter()
        .map(|c| c.path)
        .filter(|p| {
            ["calls", "emails", "meetings", "notes", "tasks"]
                .iter()
                .any(|e| p.contains(&format!("/{e}")))
        })
        .collect();
    assert_eq!(engagement_calls, Vec::<String>::new());
    assert!(live_engagements(&w).is_empty());
}

#[test]
fn a_run_killed_after_its_creates_is_finished_by_the_next_without_a_second_copy() {
    let (mut w, c, _) = with_contact("");
    let made: Vec<Record> = (0..5)
        .map(|i| {
            local_activity(
                &c.id,
                "task",
                &format!("Task {i}"),
                &format!("2026-03-0{}T10:00:00Z", i + 1),
            )
        })
        .collect();
    w.save_local(&made);
    w.env.set_env("CRMSYNC_TEST_KILL_AFTER_WRITES", "1");
    let killed = w.sync();
    assert_ne!(killed.code, 0, "the run was to be killed");
    w.env.remove_env("CRMSYNC_TEST_KILL_AFTER_WRITES");
    w.sync().ok();
    w.sync().ok();
    assert_eq!(live_engagements(&w).len(), 5);
    assert_eq!(live_local(&w).len(), 5);
    for a in &made {
        assert!(w.remote_id(Activity, &a.id).starts_with("task:"));
    }
    w.assert_sync_writes_nothing();
}

#[test]
fn runs_killed_after_each_batch_of_creates_leave_no_second_copy() {
    // 250 activities of two objects go in three write calls of the engine (100, 100, 50): a
    // run killed after the first or the second leaves HubSpot records no link names, which
    // the next run's change feed pairs by content before its push.
    for kill_after in ["1", "2"] {
        let (mut w, c, _) = with_contact("");
        let made: Vec<Record> = (0..250)
            .map(|i| {
                let time = format!(
                    "2026-03-{:02}T{:02}:{:02}:00Z",
                    1 + i / 60 / 24,
                    i / 60 % 24,
                    i % 60
                );
                local_activity(&c.id, ["call", "task"][i % 2], &format!("Touch {i}"), &time)
            })
            .collect();
        w.save_local(&made);
        w.env.set_env("CRMSYNC_TEST_KILL_AFTER_WRITES", kill_after);
        let killed = w.sync();
        assert_ne!(
            killed.code, 0,
            "the run was to be killed after write {kill_after}"
        );
        w.env.remove_env("CRMSYNC_TEST_KILL_AFTER_WRITES");
        assert!(!live_engagements(&w).is_empty());
        w.sync().ok();
        assert_eq!(
            live_engagements(&w).len(),
            250,
            "killed after write {kill_after}"
        );
        assert_eq!(live_local(&w).len(), 250);
        for a in &made {
            let id = w.remote_id(Activity, &a.id);
            assert!(id.starts_with("call:") || id.starts_with("task:"), "{id}");
        }
        w.assert_sync_writes_nothing();
    }
}

#[test]
fn a_create_left_by_a_killed_run_is_paired_by_a_sync_of_that_record_alone() {
    // `sync --record` reads HubSpot by id, not through the change feed: the content check is
    // then the provider's search before the create.
    let (mut w, c, _) = with_contact("");
    let call = local_activity(&c.id, "call", "Lost answer", "2026-03-01T10:00:00Z");
    w.save_local(std::slice::from_ref(&call));
    w.env.set_env("CRMSYNC_TEST_KILL_AFTER_WRITES", "1");
    assert_ne!(w.sync().code, 0, "the run was to be killed");
    w.env.remove_env("CRMSYNC_TEST_KILL_AFTER_WRITES");
    assert_eq!(live_engagements(&w).len(), 1);
    w.crm.clear_request_log();
    w.run(&["sync", "--record", call.id.as_str()]).ok();
    let paths: Vec<String> = w.crm.request_log().into_iter().map(|c| c.path).collect();
    assert!(
        paths.iter().any(|p| p.ends_with("/calls/search")),
        "{paths:#?}"
    );
    assert!(
        !paths.iter().any(|p| p.ends_with("/calls/batch/create")),
        "{paths:#?}"
    );
    assert_eq!(live_engagements(&w).len(), 1);
    assert!(w.remote_id(Activity, &call.id).starts_with("call:"));
    w.assert_sync_writes_nothing();
    assert_eq!(live_engagements(&w).len(), 1);
}

#[test]
fn activities_sync_through_a_fifth_of_calls_failing() {
    let (w, c, _) = with_contact("");
    let made: Vec<Record> = (0..30)
        .map(|i| {
            let kind = ["call", "email", "meeting", "note", "task"][i % 5];
            local_activity(
                &c.id,
                kind,
                &format!("Activity {i}"),
                &format!("2026-03-01T10:{i:02}:00Z"),
            )
        })
        .collect();
    w.save_local(&made);
    w.crm.fail_calls(0.2);
    for _ in 0..20 {
        if w.sync().code == 0 {
            break;
        }
    }
    w.crm.fail_calls(0.0);
    w.sync().ok();
    assert_eq!(live_engagements(&w).len(), 30);
    assert_eq!(live_local(&w).len(), 30);
    w.assert_sync_writes_nothing();
}

#[test]
fn pushing_activities_costs_one_batch_create_per_hundred_of_one_type_and_no_search() {
    let (w, c, _) = with_contact("");
    let made: Vec<Record> = (0..500)
        .map(|i| {
            let kind = ["call", "email", "meeting", "note", "task"][i % 5];
            // Times as crmsync reads them back (to the second, `Z`).
            let time = format!(
                "2026-03-{:02}T{:02}:{:02}:00Z",
                1 + i / 60 / 24,
                i / 60 % 24,
                i % 60
            );
            local_activity(&c.id, kind, &format!("Touch {i}"), &time)
        })
        .collect();
    w.save_local(&made);
    w.crm.clear_request_log();
    w.sync().ok();
    assert_eq!(live_engagements(&w).len(), 500);
    let paths: Vec<String> = w
        .crm
        .request_log()
        .into_iter()
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    let count = |end: &str| paths.iter().filter(|p| p.ends_with(end)).count();
    let engagement_searches = paths
        .iter()
        .filter(|p| {
            ["calls", "emails", "meetings", "notes", "tasks"]
                .iter()
                .any(|e| p.ends_with(&format!("/{e}/search")))
        })
        .count();
    // Mixed types in the plan go grouped by object: five batches of 100, their associations
    // inline; the feed's five reads (one an object) come before, and the content check was
    // made on what they read, so no search is sent at push time.
    assert_eq!(count("/batch/create"), 5, "{paths:#?}");
    assert_eq!(engagement_searches, 5, "{paths:#?}");
    let other_engagement_calls: Vec<&String> = paths
        .iter()
        .filter(|p| {
            ["calls", "emails", "meetings", "notes", "tasks"]
                .iter()
                .any(|e| p.contains(&format!("/{e}/")))
        })
        .filter(|p| !p.ends_with("/search") && !p.ends_with("/batch/create"))
        .collect();
    assert_eq!(other_engagement_calls, Vec::<&String>::new());
    w.assert_sync_writes_nothing();
}
