//! Activities synced with Pipedrive both ways, as a user meets them: the crmsync binary against
//! the Pipedrive sandbox, local records written into the state file as an import would leave
//! them, Pipedrive's side read and edited through the sandbox.

mod common;

use common::crm::{Synced, TestCrm, contact, record};
use common::pipedrive::PipedriveCrm;
use crmsync::model::{ObjectKind, Record, RecordId};
use crmsync::sandbox::pipedrive::EditBefore;
use serde_json::{Value, json};

use ObjectKind::{Activity, Contact};

type World = Synced<PipedriveCrm>;

/// Every activity in Pipedrive (deleted ones too), in its v2 shape.
fn activities(w: &World) -> Vec<Value> {
    w.crm.sandbox.dump()["activities"]
        .as_array()
        .unwrap()
        .clone()
}

fn live_activities(w: &World) -> Vec<Value> {
    activities(w)
        .into_iter()
        .filter(|a| a["is_deleted"] != true)
        .collect()
}

fn activity(w: &World, id: &str) -> Value {
    activities(w)
        .into_iter()
        .find(|a| a["id"].as_i64().is_some_and(|n| n.to_string() == id))
        .unwrap_or_else(|| panic!("no activity `{id}` in Pipedrive"))
}

/// A local activity of `contact`.
fn local_activity(contact: &RecordId, kind: &str, subject: &str) -> Record {
    record(
        Activity,
        &[
            ("type", kind),
            ("subject", subject),
            ("due_date", "2026-03-01"),
            ("note", "Met at the fair"),
            ("contact_id", contact.as_str()),
        ],
    )
}

/// A world with one local contact, synced into Pipedrive: the contact and its person's id.
fn with_contact(extra_in_connection: &str) -> (World, Record, i64) {
    let w = World::start();
    if !extra_in_connection.is_empty() {
        w.config("", extra_in_connection);
    }
    let c = contact(1);
    w.save_local(std::slice::from_ref(&c));
    w.sync().ok();
    let person = w.remote_id(Contact, &c.id).parse().unwrap();
    (w, c, person)
}

fn live_local(w: &World) -> Vec<Record> {
    w.local(Activity)
        .into_iter()
        .filter(|r| r.archived_at.is_none())
        .collect()
}

#[test]
fn local_activities_reach_pipedrive_with_their_types_mapped_and_are_not_echoed_back() {
    let (w, c, person) = with_contact("");
    let linkedin = local_activity(&c.id, "linkedin", "Connected on LinkedIn");
    let call = local_activity(&c.id, "call", "First call");
    let mut conference = local_activity(&c.id, "conference", "Booth chat");
    conference.fields.insert("done".into(), "true".into());
    // Nobody it concerns is in Pipedrive: it stays local.
    let loose = record(Activity, &[("type", "call"), ("subject", "Nobody's")]);
    w.save_local(&[
        linkedin.clone(),
        call.clone(),
        conference.clone(),
        loose.clone(),
    ]);
    w.sync().ok();

    let types: Vec<(String, String)> = [&linkedin, &call, &conference]
        .iter()
        .map(|a| {
            let remote = activity(&w, &w.remote_id(Activity, &a.id));
            assert_eq!(remote["person_id"], person, "{remote}");
            assert_eq!(remote["subject"], a.get("subject").unwrap());
            assert_eq!(remote["due_date"], "2026-03-01");
            assert_eq!(remote["note"], "Met at the fair");
            (
                a.get("type").unwrap().to_string(),
                remote["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("linkedin".to_string(), "task".to_string()),
            ("call".into(), "call".into()),
            ("conference".into(), "meeting".into()),
        ]
    );
    let booth = activity(&w, &w.remote_id(Activity, &conference.id));
    assert_eq!(booth["done"], true);
    assert_eq!(live_activities(&w).len(), 3);
    // The other commands show activities as they show contacts.
    let explained = w.run(&["explain", linkedin.id.as_str()]);
    explained.ok();
    let type_line = explained
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("type "))
        .unwrap_or_default();
    assert!(
        type_line.contains("linkedin") && type_line.contains("nothing: in step"),
        "{}",
        explained.stdout
    );
    let exported = w.run(&["export", "--object", "activity", "--format", "jsonl"]);
    exported.ok();
    assert_eq!(exported.stdout.lines().count(), 4, "{}", exported.stdout);
    let status = w.run(&["status", "--json"]);
    status.ok();
    assert!(status.stdout.contains("activity"), "{}", status.stdout);
    assert!(
        w.store()
            .links_by_local_ids(w.conn, Activity, std::slice::from_ref(&loose.id))
            .unwrap()
            .is_empty()
    );

    // Read back as `task`, the local `linkedin` is what it was sent as: nothing changes on
    // either side, on later runs or a full read.
    w.assert_sync_writes_nothing();
    w.run(&["sync", "--full"]).ok();
    assert_eq!(w.local_record(&linkedin.id).get("type"), Some("linkedin"));
    assert_eq!(
        w.local_record(&conference.id).get("type"),
        Some("conference")
    );
    w.assert_sync_writes_nothing();

    // An edit in Pipedrive comes in, and the type stays the local one.
    let rid: i64 = w.remote_id(Activity, &linkedin.id).parse().unwrap();
    w.crm
        .sandbox
        .update_record(
            "activities",
            rid,
            &json!({"subject": "Replied on LinkedIn"}),
        )
        .unwrap();
    w.sync().ok();
    let local = w.local_record(&linkedin.id);
    assert_eq!(local.get("subject"), Some("Replied on LinkedIn"));
    assert_eq!(local.get("type"), Some("linkedin"));
    // A local change of type goes out as Pipedrive's.
    w.edit_local(&linkedin.id, &[("type", "meeting")]);
    w.sync().ok();
    assert_eq!(activity(&w, &rid.to_string())["type"], "meeting");
    assert_eq!(live_activities(&w).len(), 3);
}

#[test]
fn pipedrive_activities_come_in_with_local_types_and_references() {
    let (w, c, person) = with_contact("");
    let org = w
        .crm
        .sandbox
        .create_record("organizations", &json!({"name": "Fair Ltd"}))
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let add =
        |body: Value| w.crm.sandbox.create_record("activities", &body).unwrap()["id"].to_string();
    let deadline = add(json!({"type": "deadline", "subject": "Send offer",
                              "due_date": "2026-04-01", "person_id": person}));
    let call = add(json!({"type": "call", "subject": "Follow-up", "done": true,
                          "person_id": person, "org_id": org}));
    let org_only = add(json!({"type": "task", "subject": "Org chore", "org_id": org}));
    w.sync().ok();

    let deadline = w.local_for(Activity, &deadline);
    // A Pipedrive type no local type is kept as comes in under its own key.
    assert_eq!(deadline.get("type"), Some("deadline"));
    assert_eq!(deadline.get("subject"), Some("Send offer"));
    assert_eq!(deadline.get("due_date"), Some("2026-04-01"));
    assert_eq!(deadline.get("done"), Some("false"));
    assert_eq!(deadline.get("contact_id"), Some(c.id.as_str()));
    let call = w.local_for(Activity, &call);
    assert_eq!(call.get("type"), Some("call"));
    assert_eq!(call.get("done"), Some("true"));
    assert_eq!(call.get("contact_id"), Some(c.id.as_str()));
    assert!(call.get("company_id").is_some());
    let org_only = w.local_for(Activity, &org_only);
    assert_eq!(org_only.get("contact_id"), None);
    assert_eq!(org_only.get("company_id"), call.get("company_id"));
    assert_eq!(live_local(&w).len(), 3);
    w.assert_sync_writes_nothing();
}

#[test]
fn an_activity_deleted_in_pipedrive_is_archived_locally_and_a_local_archive_deletes_it() {
    let (w, c, _) = with_contact("");
    // Enough kept that two archives stay under `max_archive_pct`.
    let kept: Vec<Record> = (0..4)
        .map(|i| local_activity(&c.id, "call", &format!("Kept {i}")))
        .collect();
    let gone_there = local_activity(&c.id, "call", "Deleted in Pipedrive");
    let gone_here = local_activity(&c.id, "email", "Archived locally");
    w.save_local(&kept);
    w.save_local(&[gone_there.clone(), gone_here.clone()]);
    w.sync().ok();
    assert_eq!(live_activities(&w).len(), 6);

    let there: i64 = w.remote_id(Activity, &gone_there.id).parse().unwrap();
    w.crm.sandbox.delete_record("activities", there).unwrap();
    let here = w.remote_id(Activity, &gone_here.id);
    w.archive_local(&gone_here.id);
    w.sync().ok();

    assert!(w.local_record(&gone_there.id).archived_at.is_some());
    assert_eq!(activity(&w, &here)["is_deleted"], true);
    assert!(w.local_record(&kept[0].id).archived_at.is_none());
    assert_eq!(live_activities(&w).len(), 4);
    assert_eq!(live_local(&w).len(), 4);
    w.assert_sync_writes_nothing();
}

#[test]
fn an_activity_already_in_pipedrive_is_linked_not_created_again() {
    let w = World::start();
    // In Pipedrive: the person and an activity; locally: the same person and the same
    // activity, typed as the local type Pipedrive keeps as `task`.
    let person = w.crm.create(
        Contact,
        &[
            ("first_name", "Local1"),
            ("last_name", "Person"),
            ("email", "local1@example.org"),
        ],
    );
    let there = w
        .crm
        .sandbox
        .create_record(
            "activities",
            &json!({"type": "task", "subject": "Intro", "due_date": "2026-03-01",
                    "person_id": person.parse::<i64>().unwrap(), "note": "from Pipedrive"}),
        )
        .unwrap()["id"]
        .to_string();
    let c = contact(1);
    let mut mine = local_activity(&c.id, "linkedin", "Intro");
    mine.fields.remove("note");
    w.save_local(&[c.clone(), mine.clone()]);
    w.sync().ok();

    assert_eq!(live_activities(&w).len(), 1);
    assert_eq!(w.remote_id(Activity, &mine.id), there);
    assert_eq!(live_local(&w).len(), 1);
    let local = w.local_record(&mine.id);
    assert_eq!(local.get("type"), Some("linkedin"));
    assert_eq!(local.get("note"), Some("from Pipedrive"));
    w.assert_sync_writes_nothing();
}

#[test]
fn a_create_sent_by_a_killed_run_is_linked_by_the_next_run_not_sent_twice() {
    let (mut w, c, person) = with_contact("");
    let a = local_activity(&c.id, "linkedin", "Killed mid-run");
    w.save_local(std::slice::from_ref(&a));
    w.env.set_env("CRMSYNC_TEST_KILL_AFTER_WRITES", "1");
    let killed = w.sync();
    assert_ne!(killed.code, 0, "the run was to be killed");
    assert_eq!(live_activities(&w).len(), 1, "the create was sent");
    w.env.remove_env("CRMSYNC_TEST_KILL_AFTER_WRITES");
    w.sync().ok();
    w.sync().ok();

    let all = live_activities(&w);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["person_id"], person);
    assert_eq!(w.remote_id(Activity, &a.id), all[0]["id"].to_string());
    assert_eq!(live_local(&w).len(), 1);
    assert_eq!(w.local_record(&a.id).get("type"), Some("linkedin"));
    assert!(w.store().list_failures(None).unwrap().is_empty());
    w.assert_sync_writes_nothing();
}

#[test]
fn a_configured_type_map_is_used_both_ways() {
    let map = "[connections.crm.activity_types]\ndemo = \"lunch\"\nlinkedin = \"call\"\n";
    let (w, c, person) = with_contact(map);
    let demo = local_activity(&c.id, "demo", "Product demo");
    let linkedin = local_activity(&c.id, "linkedin", "Connected");
    let referral = local_activity(&c.id, "referral", "Referred by Ann");
    w.save_local(&[demo.clone(), linkedin.clone(), referral.clone()]);
    let lunch = w
        .crm
        .sandbox
        .create_record(
            "activities",
            &json!({"type": "lunch", "subject": "Lunch", "person_id": person}),
        )
        .unwrap()["id"]
        .to_string();
    w.sync().ok();

    let type_of = |r: &Record| activity(&w, &w.remote_id(Activity, &r.id))["type"].clone();
    assert_eq!(type_of(&demo), "lunch");
    assert_eq!(type_of(&linkedin), "call");
    // Entries the table does not name keep the built-in map.
    assert_eq!(type_of(&referral), "task");
    assert_eq!(w.local_for(Activity, &lunch).get("type"), Some("demo"));
    w.assert_sync_writes_nothing();
    // A Pipedrive connection syncs activities on their own too.
    w.run(&["sync", "--object", "activity"]).ok();
    assert_eq!(w.local_record(&linkedin.id).get("type"), Some("linkedin"));
}

#[test]
fn a_type_map_naming_a_type_pipedrive_does_not_have_is_an_error_naming_its_line() {
    let map = "[connections.crm.activity_types]\nwebinar = \"webinar\"\n";
    let (w, c, _) = with_contact("");
    w.save_local(&[local_activity(&c.id, "webinar", "Webinar")]);
    w.config("", map);
    let line = std::fs::read_to_string(w.env.config_path())
        .unwrap()
        .lines()
        .position(|l| l.starts_with("webinar = "))
        .unwrap()
        + 1;
    let run = w.sync();
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("`connections.crm.activity_types.webinar`")
            && run.stderr.contains(&format!("line {line} "))
            && run.stderr.contains("`task`"),
        "{}",
        run.stderr
    );
    assert!(live_activities(&w).is_empty());
}

#[test]
fn a_type_map_on_a_connection_that_syncs_no_activities_is_refused_at_load() {
    let w = World::start();
    w.config(
        "",
        "objects = [\"contact\"]\n[connections.crm.activity_types]\nlinkedin = \"task\"\n",
    );
    let run = w.sync();
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("`connections.crm.activity_types.linkedin`")
            && run.stderr.contains("syncs no activities")
            && run.stderr.contains("line "),
        "{}",
        run.stderr
    );
}

#[test]
fn pipedrive_activities_read_a_few_a_page_all_arrive_while_one_moves_between_pages() {
    let w = World::paged(2);
    let person: i64 = w
        .crm
        .create(
            Contact,
            &[
                ("first_name", "Paged"),
                ("last_name", "Person"),
                ("email", "paged@example.org"),
            ],
        )
        .parse()
        .unwrap();
    let ids: Vec<i64> = (0..7)
        .map(|n| {
            w.crm
                .sandbox
                .create_record(
                    "activities",
                    &json!({"type": "call", "subject": format!("Call {n}"),
                            "person_id": person}),
                )
                .unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    // Edited in Pipedrive while crmsync reads the second page, a few seconds later: the
    // first moves to the end of the order.
    w.crm.advance_clock(std::time::Duration::from_secs(5));
    w.crm.sandbox.edit_before(EditBefore {
        method: "GET".into(),
        path_contains: "/api/v2/activities?".into(),
        nth: 2,
        kind: "activities".into(),
        id: ids[0],
        body: json!({"subject": "Moved"}),
    });
    w.sync().ok();

    assert_eq!(live_local(&w).len(), 7);
    let moved = w.local_for(Activity, &ids[0].to_string());
    assert_eq!(moved.get("subject"), Some("Moved"));
    for id in &ids[1..] {
        assert!(
            w.local_for(Activity, &id.to_string())
                .get("contact_id")
                .is_some()
        );
    }
    w.assert_sync_writes_nothing();
}

/// The provider against a scripted Pipedrive that writes an activity and then answers its
/// create with a 500 (the answer lost): the next attempt finds it by its content and is
/// answered with it, so the activity is made once; a second create of the same content is
/// refused as a duplicate of it.
#[test]
fn a_create_whose_answer_was_lost_is_found_by_content_not_sent_twice() {
    use std::sync::{Arc, Mutex};

    use common::fake_http::{Fake, answer, remote_write};
    use crmsync::auth::{SecretString, StaticTokenSource};
    use crmsync::providers::http::HttpOptions;
    use crmsync::providers::pipedrive::{Pipedrive, PipedriveOptions};
    use crmsync::providers::{Provider, ProviderContext};

    let made: Arc<Mutex<Vec<Value>>> = Arc::default();
    let store = made.clone();
    let fake = Fake::start(move |req, _| {
        let mut made = store.lock().unwrap();
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/v2/activities") => {
                let person: i64 = req.query["person_id"].parse().unwrap();
                let data: Vec<Value> = made
                    .iter()
                    .filter(|a| a["person_id"] == person)
                    .cloned()
                    .collect();
                answer(
                    200,
                    json!({"success": true, "data": data,
                                   "additional_data": {"next_cursor": null}}),
                )
            }
            ("POST", "/api/v2/activities") => {
                let mut a = req.body.clone();
                a["id"] = json!(100 + made.len());
                a["participants"] = json!([{"person_id": a["person_id"], "primary": true}]);
                a["update_time"] = json!("2026-01-02T10:00:00Z");
                made.push(a);
                answer(500, json!({"success": false, "error": "lost"}))
            }
            (m, p) => panic!("unexpected {m} {p}"),
        }
    });
    let p = Pipedrive::with_options(
        ProviderContext {
            connection: "pd".into(),
            base_url: Some(fake.url.clone()),
            tokens: Arc::new(StaticTokenSource::new(SecretString::new(String::from("t")))),
            clock: Arc::new(crmsync::clock::SystemClock),
            max_requests: None,
            overlap: 0,
        },
        PipedriveOptions {
            http: HttpOptions {
                no_sleep: true,
                ..HttpOptions::default()
            },
            ..PipedriveOptions::default()
        },
    )
    .unwrap();
    let w = remote_write(
        "L1",
        None,
        &[("type", "task"), ("subject", "Intro"), ("person_id", "7")],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let first = rt
        .block_on(p.create(Activity, std::slice::from_ref(&w)))
        .unwrap();
    assert_eq!(first[0].as_ref().unwrap().id, "100");
    let again = rt
        .block_on(p.create(Activity, std::slice::from_ref(&w)))
        .unwrap();
    assert_eq!(again[0].as_ref().unwrap_err().duplicate_of(), Some("100"));
    assert_eq!(made.lock().unwrap().len(), 1);
    let posts = fake.seen().iter().filter(|s| s.method == "POST").count();
    assert_eq!(posts, 1);
}

/// An activity of a contact that is not in Pipedrive stays local; once a later run creates the
/// contact there (its score raised past the rule), the activity follows it, though the activity
/// itself did not change.
#[test]
fn an_activity_follows_its_contact_into_pipedrive_when_the_contact_is_created_later() {
    let w = World::start();
    w.config(
        "",
        "[connections.crm.contact]\ncreate_when = \"warmness >= 4\"\n",
    );
    let mut c = contact(1);
    c.fields.insert("warmness".into(), "3".into());
    let call = local_activity(&c.id, "call", "First call");
    w.save_local(std::slice::from_ref(&c));
    w.save_local(std::slice::from_ref(&call));
    w.sync().ok();
    assert!(w.crm.live(Contact).is_empty());
    assert!(live_activities(&w).is_empty());

    w.edit_local(&c.id, &[("warmness", "4")]);
    w.sync().ok();
    let person: i64 = w.remote_id(Contact, &c.id).parse().unwrap();
    let remote = activity(&w, &w.remote_id(Activity, &call.id));
    assert_eq!(remote["person_id"], person, "{remote}");
    assert_eq!(remote["subject"], "First call");
    assert_eq!(live_activities(&w).len(), 1);
    w.assert_sync_writes_nothing();
}
