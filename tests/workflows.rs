//! What people do around a sync, run through the binary against the HubSpot sandbox:
//! resolve conflicts and sync again, save a plan and apply it later, change a mapping or a
//! policy, cap a run's requests, archive on one side with `on_delete = "ignore"`.
//!
//! As in `hubspot_e2e.rs`, crmsync runs on the real clock (so it and the sandbox agree on which
//! edit is newer) and local edits go straight into the state file through the store API.

mod common;

use common::{Run, TestEnv};
use crmsync::model::{ObjectKind, Record, RecordId};
use crmsync::sandbox::{Sandbox, SandboxOptions};
use crmsync::store::{ConflictFilter, Store, WriteOrigin};

const CONN: &str = "hs";

/// A sandbox HubSpot (no rate limit worth the name) and an environment whose connection `hs`
/// points at it.
struct World {
    sandbox: Sandbox,
    env: TestEnv,
}

impl World {
    /// `extra` goes into the config file before the connection's table.
    fn new(extra: &str) -> World {
        let sandbox = common::unlimited_sandbox();
        let env = common::connected_env(&sandbox, CONN);
        let w = World { sandbox, env };
        w.config(extra, "");
        w.run(&["mappings", "setup", "-c", CONN]).ok();
        w
    }

    /// Rewrites the config: `extra` before the connection's table, `in_connection` inside it.
    fn config(&self, extra: &str, in_connection: &str) {
        self.env.write_config(&format!(
            "{extra}\n[connections.{CONN}]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n{in_connection}\n",
            self.sandbox.base_url()
        ));
    }

    fn run(&self, args: &[&str]) -> Run {
        self.env.run(args)
    }

    fn store(&self) -> Store {
        Store::open(&self.env.state_path()).expect("open the state file")
    }

    fn save(&self, records: &[Record]) {
        self.store()
            .save_records(records, &WriteOrigin::User)
            .expect("save local records");
    }

    fn get(&self, id: &RecordId) -> Record {
        self.store().get_record(id).unwrap().expect("local record")
    }

    /// Sets fields of a local record as a user's edit would (an empty value clears one).
    fn edit(&self, id: &RecordId, changes: &[(&str, &str)]) {
        let mut rec = self.get(id);
        for (k, v) in changes {
            crmsync::model::set_field(&mut rec.fields, k, *v);
        }
        rec.updated_at = now_ms();
        self.save(&[rec]);
    }

    fn remote_id(&self, id: &RecordId) -> String {
        self.store()
            .links_by_local_ids(CONN, ObjectKind::Contact, std::slice::from_ref(id))
            .unwrap()
            .remove(id)
            .unwrap_or_else(|| panic!("local contact `{id}` is not linked"))
            .remote_id
    }

    /// The local contact linked to a HubSpot id, if any.
    fn linked_to(&self, remote_id: &str) -> Option<Record> {
        let link = self
            .store()
            .links_by_remote_ids(CONN, ObjectKind::Contact, &[remote_id.to_string()])
            .unwrap()
            .remove(remote_id)?;
        Some(self.get(&link.local_id))
    }

    /// A HubSpot contact's property (`None` when empty).
    fn hub(&self, remote_id: &str, property: &str) -> Option<String> {
        self.sandbox.dump()["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == remote_id)
            .unwrap_or_else(|| panic!("no HubSpot contact `{remote_id}`"))["properties"][property]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    fn hub_edit(&self, remote_id: &str, props: &[(&str, &str)]) {
        self.sandbox
            .update_record("contacts", remote_id, props)
            .unwrap();
    }

    fn open_conflicts(&self) -> Vec<crmsync::store::Conflict> {
        self.store()
            .list_open_conflicts(&ConflictFilter::default())
            .unwrap()
    }

    /// Live local contacts.
    fn live_contacts(&self) -> Vec<Record> {
        let mut out = Vec::new();
        self.store()
            .for_each_record(ObjectKind::Contact, false, &mut |r| {
                out.push(r);
                Ok(())
            })
            .unwrap();
        out
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Lets the clocks move on so that "newer" is strictly newer in both.
fn tick() {
    std::thread::sleep(std::time::Duration::from_millis(20));
}

fn new_contact(n: usize) -> Record {
    let fields = [
        ("first_name", format!("Person{n}")),
        ("last_name", "Original".to_string()),
        ("email", format!("person{n}@example.org")),
    ];
    Record {
        id: RecordId::new(),
        kind: ObjectKind::Contact,
        fields: fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        updated_at: now_ms(),
        archived_at: None,
    }
}

/// A synced contact whose last name is then edited on both sides (HubSpot last) under the
/// `manual` policy, and the sync that holds it (exit 3). Returns (local id, HubSpot id, the
/// conflict's id).
fn held_conflict(w: &World) -> (RecordId, String, i64) {
    let c = new_contact(1);
    w.save(std::slice::from_ref(&c));
    w.run(&["sync"]).ok();
    let rid = w.remote_id(&c.id);
    w.edit(&c.id, &[("last_name", "FromLocal")]);
    tick();
    w.hub_edit(&rid, &[("lastname", "FromHubSpot")]);
    w.run(&["sync"]).expect_code(3);
    let open = w.open_conflicts();
    assert_eq!(open.len(), 1, "{open:?}");
    (c.id, rid, open[0].id)
}

const MANUAL_LAST_NAME: &str = "[policies.contact]\nlast_name = \"manual\"\n";

// ---- resolving conflicts -----------------------------------------------------------------

#[test]
fn a_conflict_resolved_with_the_local_value_stays_resolved_when_hubspot_sends_the_record_again() {
    let w = World::new(MANUAL_LAST_NAME);
    let (id, rid, conflict) = held_conflict(&w);
    w.run(&[
        "conflicts",
        "resolve",
        &conflict.to_string(),
        "--take",
        "local",
    ])
    .ok();
    // Someone edits another field of the record in HubSpot: the next sync reads it again,
    // with the last name it had when the conflict was found.
    tick();
    w.hub_edit(&rid, &[("jobtitle", "Buyer")]);
    w.run(&["sync"]).ok();
    assert!(w.open_conflicts().is_empty(), "{:?}", w.open_conflicts());
    assert_eq!(w.hub(&rid, "lastname").as_deref(), Some("FromLocal"));
    assert_eq!(w.get(&id).get("last_name"), Some("FromLocal"));
    assert_eq!(w.get(&id).get("job_title"), Some("Buyer"));
    // And a value set by hand, read again in the change feed's overlap, stands too.
    w.edit(&id, &[("last_name", "Mine")]);
    tick();
    w.hub_edit(&rid, &[("lastname", "Theirs")]);
    w.run(&["sync"]).expect_code(3);
    let c = w.open_conflicts()[0].id;
    w.run(&["conflicts", "resolve", &c.to_string(), "--value", "Agreed"])
        .ok();
    w.run(&["sync"]).ok();
    w.run(&["sync", "--full"]).ok();
    assert_eq!(w.hub(&rid, "lastname").as_deref(), Some("Agreed"));
    assert_eq!(w.get(&id).get("last_name"), Some("Agreed"));
}

#[test]
fn taking_the_remote_value_never_pushes_one_hubspot_changed_since() {
    for now in ["Newest", "", "Original"] {
        let w = World::new(MANUAL_LAST_NAME);
        let (id, rid, conflict) = held_conflict(&w);
        // HubSpot's value moves after the conflict was recorded (to a new value, cleared,
        // back to the value both sides had agreed on).
        tick();
        w.hub_edit(&rid, &[("lastname", now)]);
        w.run(&[
            "conflicts",
            "resolve",
            &conflict.to_string(),
            "--take",
            "remote",
        ])
        .ok();
        w.run(&["sync"]).ok();
        let expected = (!now.is_empty()).then_some(now);
        assert_eq!(
            w.hub(&rid, "lastname").as_deref(),
            expected,
            "HubSpot, {now:?}"
        );
        assert_eq!(w.get(&id).get("last_name"), expected, "local, {now:?}");
        assert!(w.open_conflicts().is_empty(), "{:?}", w.open_conflicts());
    }
}

// ---- request budgets ---------------------------------------------------------------------

#[test]
fn a_request_budget_smaller_than_the_read_moves_forward_run_by_run() {
    let w = World::new("");
    // 450 contacts made in HubSpot over seven and a half hours, a minute apart (a backlog a
    // cron job meets after a pause), so that the change feed's five-minute overlap holds a
    // few of them only.
    let now = w.sandbox.now_ms();
    for i in 0..450i64 {
        w.sandbox.set_clock_ms(now - (450 - i) * 60_000);
        w.sandbox
            .create_record(
                "contacts",
                &[
                    ("email", &format!("backlog{i}@example.org")),
                    ("firstname", &format!("Backlog{i}")),
                ],
            )
            .unwrap();
    }
    w.sandbox.set_clock_ms(now);
    let mut had = 0;
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs <= 30, "no end after 30 runs; {had} contacts arrived");
        let run = w.run(&["sync", "--max-requests", "7"]);
        let have = w.live_contacts().len();
        if run.code == 0 {
            break;
        }
        // Stopped by the budget: the documented code for a run stopped part-way (the next
        // one resumes), and the message says how far it got.
        run.expect_code(1);
        assert!(
            run.stderr.contains("used its budget of 7 requests"),
            "{}",
            run.stderr
        );
        if runs > 1 {
            assert!(
                have > had,
                "run {runs} made no progress ({have} contacts)\n{}",
                run.stderr
            );
            assert!(
                run.stderr.contains("the next run reads on from there"),
                "{}",
                run.stderr
            );
        }
        had = have;
    }
    assert_eq!(w.live_contacts().len(), 450);
    // And nothing is read twice over once done: a run with nothing to do fits the budget.
    w.run(&["sync", "--max-requests", "7"]).ok();
}

// ---- plans -------------------------------------------------------------------------------

/// Three synced contacts: (local id, HubSpot id) each.
fn three_synced(w: &World) -> Vec<(RecordId, String)> {
    let people: Vec<Record> = (0..3).map(new_contact).collect();
    w.save(&people);
    w.run(&["sync"]).ok();
    people
        .iter()
        .map(|p| (p.id.clone(), w.remote_id(&p.id)))
        .collect()
}

/// Three synced contacts, the first then edited locally (last name `Planned`) and a plan
/// saved with `sync --plan`. Returns all three (local id, HubSpot id), the first again, and
/// the plan file.
#[allow(clippy::type_complexity)]
fn planned_edit(w: &World) -> (Vec<(RecordId, String)>, (RecordId, String), String) {
    let people = three_synced(w);
    w.edit(&people[0].0, &[("last_name", "Planned")]);
    let plan = w.env.path("plan.json").to_str().unwrap().to_string();
    w.run(&["sync", "--plan", &plan]).ok();
    let first = people[0].clone();
    (people, first, plan)
}

#[test]
fn apply_leaves_hubspot_changes_outside_the_plan_to_the_next_sync() {
    let w = World::new("");
    let (people, (_, l_rid), plan) = planned_edit(&w);
    let (l_rid, plan) = (&l_rid, plan.as_str());
    let (c, c_rid) = &people[1];
    let (d, d_rid) = &people[2];
    // Meanwhile in HubSpot: C is edited and N created; ten minutes later D is edited (so
    // that C and N are older than the change feed's overlap behind the newest change).
    tick();
    w.hub_edit(c_rid, &[("jobtitle", "Edited In HubSpot")]);
    let n_rid = w
        .sandbox
        .create_record(
            "contacts",
            &[("email", "newcomer@example.org"), ("firstname", "Newcomer")],
        )
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.sandbox.advance_clock(std::time::Duration::from_secs(600));
    w.hub_edit(d_rid, &[("jobtitle", "Later Edit")]);

    let applied = w.run(&["apply", plan, "--json"]);
    applied.ok();
    let applied = applied.json();
    // Only the planned record was carried out, and none of the records HubSpot changed
    // is said to be planned again: apply did not touch them.
    assert_eq!(applied["replanned"], serde_json::json!({}), "{applied:#}");
    assert_eq!(w.hub(l_rid, "lastname").as_deref(), Some("Planned"));
    assert_eq!(w.get(c).get("job_title"), None);

    w.run(&["sync"]).ok();
    assert_eq!(w.get(c).get("job_title"), Some("Edited In HubSpot"));
    assert_eq!(w.get(d).get("job_title"), Some("Later Edit"));
    let n = w
        .linked_to(&n_rid)
        .expect("the contact created in HubSpot arrived");
    assert_eq!(n.get("first_name"), Some("Newcomer"));
}

// ---- held conflicts under a new configuration --------------------------------------------

/// The conflict `id` as stored (open or resolved).
fn conflict(w: &World, id: i64) -> crmsync::store::Conflict {
    w.store().get_conflict(id).unwrap().expect("the conflict")
}

#[test]
fn a_held_conflict_is_decided_by_the_policy_that_replaced_manual() {
    // No overlap: the change feed does not read the record again (as when the policy is
    // changed more than the overlap after the conflict was found).
    let no_overlap = "[sync]\noverlap_secs = 0\n";
    let w = World::new(&format!("{no_overlap}{MANUAL_LAST_NAME}"));
    let (id, rid, held) = held_conflict(&w);
    w.config(
        &format!("{no_overlap}[policies.contact]\nlast_name = \"local-wins\"\n"),
        "",
    );
    // The record changed on neither side since: the next sync decides it all the same.
    w.run(&["sync"]).ok();
    assert!(w.open_conflicts().is_empty(), "{:?}", w.open_conflicts());
    assert_eq!(
        conflict(&w, held).resolved_by.as_deref(),
        Some("local-wins")
    );
    assert_eq!(w.hub(&rid, "lastname").as_deref(), Some("FromLocal"));
    assert_eq!(w.get(&id).get("last_name"), Some("FromLocal"));
}

#[test]
fn a_held_conflict_on_a_field_made_one_way_is_decided_by_its_direction() {
    let no_overlap = "[sync]\noverlap_secs = 0\n";
    let w = World::new(&format!("{no_overlap}{MANUAL_LAST_NAME}"));
    let (id, rid, _) = held_conflict(&w);
    w.config(
        &format!("{no_overlap}{MANUAL_LAST_NAME}"),
        "[[connections.hs.fields]]\nobject = \"contact\"\nlocal = \"last_name\"\ndirection = \"to-crm\"\n",
    );
    w.run(&["sync"]).ok();
    assert!(w.open_conflicts().is_empty(), "{:?}", w.open_conflicts());
    assert_eq!(w.hub(&rid, "lastname").as_deref(), Some("FromLocal"));
    assert_eq!(w.get(&id).get("last_name"), Some("FromLocal"));
}

#[test]
fn a_held_conflict_on_a_field_no_longer_synced_is_closed_with_the_reason() {
    let w = World::new(MANUAL_LAST_NAME);
    let (id, rid, held) = held_conflict(&w);
    w.config(
        MANUAL_LAST_NAME,
        "[[connections.hs.fields]]\nobject = \"contact\"\nlocal = \"last_name\"\ndirection = \"none\"\n",
    );
    let run = w.run(&["sync"]);
    run.ok();
    assert!(run.stderr.contains("no longer synced"), "{}", run.stderr);
    let c = conflict(&w, held);
    assert_eq!(c.resolved_by.as_deref(), Some("unmapped"), "{c:?}");
    // Nothing is written to either side's value.
    assert_eq!(w.hub(&rid, "lastname").as_deref(), Some("FromHubSpot"));
    assert_eq!(w.get(&id).get("last_name"), Some("FromLocal"));
}

#[test]
fn a_held_conflict_of_a_removed_connection_is_closed_with_the_reason() {
    let w = World::new(MANUAL_LAST_NAME);
    let (_, _, held) = held_conflict(&w);
    // The connection is replaced by another one (another HubSpot account).
    let other = Sandbox::start(SandboxOptions::default()).unwrap();
    w.env.write_config(&format!(
        "{MANUAL_LAST_NAME}\n[connections.other]\nprovider = \"hubspot\"\nbase_url = \"{}\"\ntoken_env = \"OTHER_TOKEN\"\n",
        other.base_url()
    ));
    let mut w = w;
    w.env.set_env("OTHER_TOKEN", &other.token());
    w.run(&["mappings", "setup", "-c", "other"]).ok();
    let run = w.run(&["sync"]);
    run.ok();
    assert!(
        run.stderr
            .contains("connection `hs` is no longer configured"),
        "{}",
        run.stderr
    );
    let c = conflict(&w, held);
    assert_eq!(
        c.resolved_by.as_deref(),
        Some("connection-removed"),
        "{c:?}"
    );
    w.run(&["conflicts", "list"]).ok();
}

// ---- mapping changes ---------------------------------------------------------------------

fn colour_mapped_to(property: &str) -> String {
    format!(
        "[[connections.hs.fields]]\nobject = \"contact\"\nlocal = \"custom.colour\"\nremote = \"{property}\"\n"
    )
}

#[test]
fn pointing_a_field_at_another_property_fills_it_from_the_local_values() {
    let w = World::new("");
    w.config("", &colour_mapped_to("colour_a"));
    w.run(&["mappings", "setup", "-c", CONN]).ok();
    let mut people: Vec<Record> = (0..2).map(new_contact).collect();
    for (p, colour) in people.iter_mut().zip(["red", "blue"]) {
        p.fields.insert("custom.colour".into(), colour.into());
    }
    w.save(&people);
    w.run(&["sync"]).ok();
    let rids: Vec<String> = people.iter().map(|p| w.remote_id(&p.id)).collect();
    assert_eq!(w.hub(&rids[0], "colour_a").as_deref(), Some("red"));

    // The field now syncs with a new, empty property.
    w.config("", &colour_mapped_to("colour_b"));
    w.run(&["mappings", "setup", "-c", CONN]).ok();
    // Someone edits the first contact in HubSpot, so the next sync reads it.
    tick();
    w.hub_edit(&rids[0], &[("jobtitle", "Painter")]);
    // A dry run plans what the run does: the local value goes to the new property.
    let dry = w.run(&["sync", "--dry-run", "--json"]).json();
    let changes: Vec<(String, String)> = dry["plans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["ops"].as_array().unwrap())
        .flat_map(|op| {
            op["changes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["field"] == "custom.colour")
                .map(|c| (op["op"].as_str().unwrap().to_string(), c["new"].to_string()))
        })
        .collect();
    assert_eq!(
        changes,
        vec![("remote_update".to_string(), "\"red\"".to_string())],
        "{dry:#}"
    );
    let run = w.run(&["sync"]);
    run.ok();
    assert!(
        run.stderr.contains("now syncs with `colour_b`"),
        "{}",
        run.stderr
    );
    assert_eq!(w.get(&people[0].id).get("custom.colour"), Some("red"));
    assert_eq!(w.get(&people[0].id).get("job_title"), Some("Painter"));
    assert_eq!(w.hub(&rids[0], "colour_b").as_deref(), Some("red"));
    // A full read fills the rest in, and clears no local value.
    w.run(&["sync", "--full"]).ok();
    assert_eq!(w.get(&people[1].id).get("custom.colour"), Some("blue"));
    assert_eq!(w.hub(&rids[1], "colour_b").as_deref(), Some("blue"));
    assert_eq!(w.get(&people[0].id).get("custom.colour"), Some("red"));
}

#[test]
fn a_full_sync_right_after_pointing_a_field_at_another_property_clears_nothing() {
    let w = World::new("");
    w.config("", &colour_mapped_to("colour_a"));
    w.run(&["mappings", "setup", "-c", CONN]).ok();
    let mut p = new_contact(1);
    p.fields.insert("custom.colour".into(), "green".into());
    w.save(std::slice::from_ref(&p));
    w.run(&["sync"]).ok();
    w.config("", &colour_mapped_to("colour_b"));
    w.run(&["mappings", "setup", "-c", CONN]).ok();
    w.run(&["sync", "--full"]).ok();
    let rid = w.remote_id(&p.id);
    assert_eq!(w.get(&p.id).get("custom.colour"), Some("green"));
    assert_eq!(w.hub(&rid, "colour_b").as_deref(), Some("green"));
    // Settled: the next runs write nothing.
    w.run(&["sync", "--full"]).ok();
    assert_eq!(w.get(&p.id).get("custom.colour"), Some("green"));
}

#[test]
fn apply_plans_again_and_lists_a_record_changed_locally_after_the_plan() {
    let w = World::new("");
    let (_, (l, l_rid), plan) = planned_edit(&w);
    let (l, l_rid, plan) = (&l, &l_rid, plan.as_str());
    w.edit(l, &[("last_name", "Changed After")]);
    let applied = w.run(&["apply", plan, "--json"]);
    applied.ok();
    let applied = applied.json();
    assert_eq!(
        applied["replanned_local"],
        serde_json::json!([l.as_str()]),
        "{applied:#}"
    );
    assert_eq!(w.hub(l_rid, "lastname").as_deref(), Some("Changed After"));
    // Without --json the record is named too.
    w.edit(l, &[("last_name", "Planned Again")]);
    w.run(&["sync", "--plan", plan]).ok();
    w.edit(l, &[("last_name", "And Changed")]);
    let run = w.run(&["apply", plan]);
    run.ok();
    assert!(
        run.stderr.contains("changed after the plan was made") && run.stderr.contains(l.as_str()),
        "{}",
        run.stderr
    );
}

#[test]
fn apply_refuses_a_plan_made_against_another_state_file() {
    let w = World::new("");
    let (_, (_, l_rid), plan) = planned_edit(&w);
    let (l_rid, plan) = (&l_rid, plan.as_str());
    let other = w.env.path("other.db");
    Store::open(&other).unwrap();
    let run = w.run(&["--state", other.to_str().unwrap(), "apply", plan]);
    run.expect_code(2);
    assert!(run.stderr.contains("another state file"), "{}", run.stderr);
    assert_eq!(w.hub(l_rid, "lastname").as_deref(), Some("Original"));
    // Nor is it carried out once the connection points at another CRM.
    let moved = Sandbox::start(SandboxOptions::default()).unwrap();
    w.env.write_config(&format!(
        "[connections.{CONN}]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n",
        moved.base_url()
    ));
    let run = w.run(&["apply", plan]);
    run.expect_code(2);
    assert!(run.stderr.contains("no longer has"), "{}", run.stderr);
    // As made, it applies.
    w.config("", "");
    w.run(&["apply", plan]).ok();
    assert_eq!(w.hub(l_rid, "lastname").as_deref(), Some("Planned"));
}

// ---- on_delete = "ignore" ----------------------------------------------------------------

const IGNORE: &str = "on_delete = \"ignore\"\n";

#[test]
fn with_ignore_a_new_local_contact_takes_over_the_hubspot_contact_its_archived_one_left() {
    let w = World::new("");
    w.config("", IGNORE);
    let old = new_contact(1);
    w.save(std::slice::from_ref(&old));
    w.run(&["sync"]).ok();
    let rid = w.remote_id(&old.id);
    let mut gone = w.get(&old.id);
    gone.archived_at = Some(now_ms());
    w.save(&[gone]);
    w.run(&["sync"]).ok();
    assert_eq!(w.hub(&rid, "email").as_deref(), Some("person1@example.org"));

    // Someone adds the person again locally, with the same email.
    let mut again = new_contact(1);
    again.fields.insert("last_name".into(), "Returned".into());
    w.save(std::slice::from_ref(&again));
    let run = w.run(&["sync"]);
    run.ok();
    assert_eq!(w.remote_id(&again.id), rid);
    assert_eq!(w.hub(&rid, "lastname").as_deref(), Some("Returned"));
    assert!(w.store().list_failures(None).unwrap().is_empty());
    assert!(w.get(&old.id).archived_at.is_some());
    // Settled: nothing more to do, and the HubSpot contact's edits reach the new one.
    w.hub_edit(&rid, &[("jobtitle", "Back")]);
    w.run(&["sync"]).ok();
    assert_eq!(w.get(&again.id).get("job_title"), Some("Back"));
    assert!(w.get(&old.id).get("job_title").is_none());
}

#[test]
fn with_ignore_a_contact_recreated_in_hubspot_is_paired_with_the_local_one_it_left() {
    let w = World::new("");
    w.config("", IGNORE);
    let person = new_contact(1);
    w.save(std::slice::from_ref(&person));
    w.run(&["sync"]).ok();
    let rid = w.remote_id(&person.id);
    w.sandbox.archive_record("contacts", &rid).unwrap();
    w.run(&["sync", "--full"]).ok();
    assert!(w.get(&person.id).archived_at.is_none(), "ignored");

    // Someone creates the person again in HubSpot, with the same email.
    tick();
    let again = w
        .sandbox
        .create_record(
            "contacts",
            &[("email", "person1@example.org"), ("jobtitle", "Rejoined")],
        )
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.run(&["sync"]).ok();
    let live = w.live_contacts();
    assert_eq!(live.len(), 1, "one local contact, not two: {live:?}");
    assert_eq!(live[0].id, person.id);
    assert_eq!(w.remote_id(&person.id), again);
    assert_eq!(w.get(&person.id).get("job_title"), Some("Rejoined"));
    assert_eq!(w.hub(&again, "lastname").as_deref(), Some("Original"));
}

#[test]
fn a_plan_records_its_account_and_apply_refuses_it_in_another_account() {
    let w = World::new("");
    let (_, (_, l_rid), plan) = planned_edit(&w);
    let (l_rid, plan) = (&l_rid, plan.as_str());
    let portal = w.sandbox.hub_id().to_string();
    let mut saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap();
    assert_eq!(saved["connections"][CONN]["account"], portal.as_str());
    // The same plan, as if made while `hs` reached another portal.
    saved["connections"][CONN]["account"] = "424242".into();
    let elsewhere = w.env.path("elsewhere.json");
    std::fs::write(&elsewhere, saved.to_string()).unwrap();
    let run = w.run(&["apply", elsewhere.to_str().unwrap()]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("made against account 424242")
            && run.stderr.contains(&portal)
            && run.stderr.contains("crmsync sync --plan"),
        "{}",
        run.stderr
    );
    assert_eq!(w.hub(l_rid, "lastname").as_deref(), Some("Original"));
    // The plan as made applies.
    w.run(&["apply", plan]).ok();
    assert_eq!(w.hub(l_rid, "lastname").as_deref(), Some("Planned"));
}

#[test]
fn apply_lists_a_planned_record_hubspot_changed_after_the_plan() {
    let w = World::new("");
    let (_, (_, l_rid), plan) = planned_edit(&w);
    let (l_rid, plan) = (&l_rid, plan.as_str());
    tick();
    w.hub_edit(l_rid, &[("jobtitle", "Edited In HubSpot")]);
    let applied = w.run(&["apply", plan, "--json"]);
    applied.ok();
    let applied = applied.json();
    assert_eq!(
        applied["replanned"],
        serde_json::json!({ CONN: [l_rid] }),
        "{applied:#}"
    );
    assert_eq!(w.hub(l_rid, "lastname").as_deref(), Some("Planned"));
    assert_eq!(
        w.hub(l_rid, "jobtitle").as_deref(),
        Some("Edited In HubSpot")
    );
}
