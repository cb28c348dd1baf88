//! What people do around a sync, run through the binary against the HubSpot sandbox: point a
//! field at another HubSpot property, cap a run's requests, apply a plan against another state
//! file or HubSpot account.
//!
//! The workflows any CRM meets alike (resolving conflicts, a policy or mapping changed under a
//! held conflict, plans applied after either side moved, `on_delete = "ignore"`) are in
//! `tests/scenarios/`, run against each CRM's sandbox.
//!
//! As in `hubspot_e2e.rs`, crmsync runs on the real clock (so it and the sandbox agree on which
//! edit is newer) and local edits go straight into the state file through the store API.

mod common;

use std::ops::Deref;

use common::crm::{HubSpotCrm, Synced, now_ms, tick};
use crmsync::model::{ObjectKind, Record, RecordId};
use crmsync::sandbox::{Sandbox, SandboxOptions};
use crmsync::store::Store;

const CONN: &str = "hs";

/// A sandbox HubSpot (no rate limit worth the name) and an environment whose connection `hs`
/// points at it, with HubSpot's properties at hand.
struct World(Synced<HubSpotCrm>);

impl Deref for World {
    type Target = Synced<HubSpotCrm>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl World {
    /// `extra` goes into the config file before the connection's table.
    fn new(extra: &str) -> World {
        World(Synced::named(CONN, extra))
    }

    fn sandbox(&self) -> &Sandbox {
        &self.crm.sandbox
    }

    /// A HubSpot contact's property (`None` when empty).
    fn hub(&self, remote_id: &str, property: &str) -> Option<String> {
        self.sandbox().dump()["contacts"]
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
        self.sandbox()
            .update_record("contacts", remote_id, props)
            .unwrap();
    }

    fn remote_id(&self, id: &RecordId) -> String {
        self.0.remote_id(ObjectKind::Contact, id)
    }

    /// Live local contacts.
    fn live_contacts(&self) -> Vec<Record> {
        self.local(ObjectKind::Contact)
            .into_iter()
            .filter(|r| r.archived_at.is_none())
            .collect()
    }
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

// ---- request budgets ---------------------------------------------------------------------

#[test]
fn a_request_budget_smaller_than_the_read_moves_forward_run_by_run() {
    let w = World::new("");
    // 450 contacts made in HubSpot over seven and a half hours, a minute apart (a backlog a
    // cron job meets after a pause), so that the change feed's five-minute overlap holds a
    // few of them only.
    let now = w.sandbox().now_ms();
    for i in 0..450i64 {
        w.sandbox().set_clock_ms(now - (450 - i) * 60_000);
        w.sandbox()
            .create_record(
                "contacts",
                &[
                    ("email", &format!("backlog{i}@example.org")),
                    ("firstname", &format!("Backlog{i}")),
                ],
            )
            .unwrap();
    }
    w.sandbox().set_clock_ms(now);
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
    w.save_local(&people);
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
    w.edit_local(&people[0].0, &[("last_name", "Planned")]);
    let plan = w.env.path("plan.json").to_str().unwrap().to_string();
    w.run(&["sync", "--plan", &plan]).ok();
    let first = people[0].clone();
    (people, first, plan)
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
    w.save_local(&people);
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
    assert_eq!(
        w.local_record(&people[0].id).get("custom.colour"),
        Some("red")
    );
    assert_eq!(
        w.local_record(&people[0].id).get("job_title"),
        Some("Painter")
    );
    assert_eq!(w.hub(&rids[0], "colour_b").as_deref(), Some("red"));
    // A full read fills the rest in, and clears no local value.
    w.run(&["sync", "--full"]).ok();
    assert_eq!(
        w.local_record(&people[1].id).get("custom.colour"),
        Some("blue")
    );
    assert_eq!(w.hub(&rids[1], "colour_b").as_deref(), Some("blue"));
    assert_eq!(
        w.local_record(&people[0].id).get("custom.colour"),
        Some("red")
    );
}

#[test]
fn a_full_sync_right_after_pointing_a_field_at_another_property_clears_nothing() {
    let w = World::new("");
    w.config("", &colour_mapped_to("colour_a"));
    w.run(&["mappings", "setup", "-c", CONN]).ok();
    let mut p = new_contact(1);
    p.fields.insert("custom.colour".into(), "green".into());
    w.save_local(std::slice::from_ref(&p));
    w.run(&["sync"]).ok();
    w.config("", &colour_mapped_to("colour_b"));
    w.run(&["mappings", "setup", "-c", CONN]).ok();
    w.run(&["sync", "--full"]).ok();
    let rid = w.remote_id(&p.id);
    assert_eq!(w.local_record(&p.id).get("custom.colour"), Some("green"));
    assert_eq!(w.hub(&rid, "colour_b").as_deref(), Some("green"));
    // Settled: the next runs write nothing.
    w.run(&["sync", "--full"]).ok();
    assert_eq!(w.local_record(&p.id).get("custom.colour"), Some("green"));
}

// ---- plans carried to another state file or account ---------------------------------

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

#[test]
fn a_plan_records_its_account_and_apply_refuses_it_in_another_account() {
    let w = World::new("");
    let (_, (_, l_rid), plan) = planned_edit(&w);
    let (l_rid, plan) = (&l_rid, plan.as_str());
    let portal = w.sandbox().hub_id().to_string();
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
