//! The binary against the HubSpot sandbox over HTTP, as a user runs it: `mappings setup`,
//! then `sync` again and again while people edit on both sides. Each test starts its own
//! sandbox and its own hermetic environment; what is checked is what a user would see in
//! HubSpot, in the local store or on the terminal.
//!
//! crmsync's clock is the real one here (the fixed test clock is removed) so that it and the
//! sandbox's clock agree on which edit is newer; retries are not slept.
//!
//! Local records are written straight into the state file with the store API, as an import
//! or an edit would leave them. Where a command is not in this build yet the test goes
//! through the store call that command makes: `conflicts resolve` (a held conflict is
//! decided by editing the local record instead), `status --failed` (`Store::list_failures`)
//! and `retry` (`Store::requeue_failures`). `import FILE --to CONNECTION` is not covered
//! here for the same reason.
//!
//! What any CRM does alike (edits both ways, the conflict policies, archives, merges, killed
//! and failing runs) is in `tests/scenarios/`, run against each CRM's sandbox; this file keeps
//! what is HubSpot's own: its calls, associations, property history, owners, dropdowns.

mod common;

use std::ops::{Deref, DerefMut};

use common::TestEnv;
use common::crm::{HubSpotCrm, Synced, contact, now_ms, record, tick};
use crmsync::model::{ObjectKind, Record, RecordId};
use crmsync::sandbox::Sandbox;
use serde_json::Value;

const CONN: &str = "hs";

/// A sandbox HubSpot and a crmsync environment with connection `hs` pointed at it, with the
/// views of HubSpot's own records, associations and calls these tests check.
struct Hs(Synced<HubSpotCrm>);

impl Deref for Hs {
    type Target = Synced<HubSpotCrm>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Hs {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Hs {
    fn start() -> Hs {
        Hs::with("")
    }

    /// `extra` goes into the config file (policies, more settings).
    fn with(extra: &str) -> Hs {
        Hs(Synced::named(CONN, extra))
    }

    fn sandbox(&self) -> &Sandbox {
        &self.crm.sandbox
    }

    /// HubSpot's records of `plural` (`contacts`, `companies`), archived ones too.
    fn remote_all(&self, plural: &str) -> Vec<Value> {
        self.sandbox().dump()[plural].as_array().unwrap().clone()
    }

    fn remote_live(&self, plural: &str) -> Vec<Value> {
        self.remote_all(plural)
            .into_iter()
            .filter(|r| r["archived"] == false)
            .collect()
    }

    fn remote(&self, plural: &str, id: &str) -> Value {
        self.remote_all(plural)
            .into_iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no HubSpot {plural} `{id}`"))
    }

    /// The company HubSpot associates a contact with.
    fn company_of(&self, contact_id: &str) -> Vec<String> {
        common::crm::TestCrm::company_of(&self.crm, contact_id)
    }

    /// Does `what` on HubSpot's clock an hour back, before the change feed's window: a change
    /// a HubSpot user made that no incremental sync reads.
    fn out_of_sight<T>(&self, what: impl FnOnce(&Sandbox) -> T) -> T {
        let now = self.sandbox().now_ms();
        self.sandbox().set_clock_ms(now - 3_600_000);
        let out = what(self.sandbox());
        self.sandbox().set_clock_ms(now);
        out
    }

    /// The paths of the association calls in the request log.
    fn association_calls(&self) -> Vec<String> {
        self.sandbox()
            .request_log()
            .into_iter()
            .filter(|r| r.path.starts_with("/crm/v4/associations"))
            .map(|r| r.path)
            .collect()
    }

    /// Write calls (anything but GET, search and batch read) in the request log.
    fn write_calls(&self) -> Vec<String> {
        common::write_calls(self.sandbox())
    }
}

fn prop<'a>(record: &'a Value, name: &str) -> Option<&'a str> {
    record["properties"][name]
        .as_str()
        .filter(|s| !s.is_empty())
}

/// Creates a contact in HubSpot as a user would; returns its id.
fn hubspot_contact(sandbox: &Sandbox, props: &[(&str, &str)]) -> String {
    let made = sandbox.create_record("contacts", props).unwrap();
    made["id"].as_str().unwrap().to_string()
}

// ---- initial import and creates ---------------------------------------------------------

#[test]
fn first_sync_imports_hubspot_contacts_and_companies_with_their_association() {
    let hs = Hs::start();
    let (contact_ids, company_ids) = hs.sandbox().seed(12, 3);
    hs.sandbox().clear_request_log();
    hs.sync().ok();
    // Reading HubSpot into an empty store writes nothing back to HubSpot.
    assert_eq!(hs.write_calls(), Vec::<String>::new());
    // The owners are read once, though contacts and companies both have an owner property.
    let owner_reads = hs
        .sandbox()
        .request_log()
        .into_iter()
        .filter(|r| r.path.starts_with("/crm/v3/owners"))
        .count();
    assert_eq!(owner_reads, 1);
    // Each contact's primary company comes with the contact: no association is read.
    assert_eq!(hs.association_calls(), Vec::<String>::new());

    let companies = hs.local(ObjectKind::Company);
    let contacts = hs.local(ObjectKind::Contact);
    assert_eq!(companies.len(), 3);
    assert_eq!(contacts.len(), 12);
    for id in &company_ids {
        let remote = hs.remote("companies", id);
        let local = hs.local_for(ObjectKind::Company, id);
        assert_eq!(local.get("name"), prop(&remote, "name"));
        assert_eq!(local.get("domain"), prop(&remote, "domain"));
    }
    for id in &contact_ids {
        let remote = hs.remote("contacts", id);
        let local = hs.local_for(ObjectKind::Contact, id);
        assert_eq!(local.get("email"), prop(&remote, "email"));
        assert_eq!(local.get("first_name"), prop(&remote, "firstname"));
        assert_eq!(local.get("last_name"), prop(&remote, "lastname"));
        assert_eq!(
            local.get("lifecycle_stage"),
            prop(&remote, "lifecyclestage")
        );
        // The association arrives as a reference to the right local company.
        let hub_company = hs.company_of(id);
        assert_eq!(hub_company.len(), 1, "{id}");
        let local_company = hs.local_for(ObjectKind::Company, &hub_company[0]);
        assert_eq!(
            local.get("company_id"),
            Some(local_company.id.as_str()),
            "contact {id}"
        );
    }

    // A contact left with only a company that is not its primary (associated with a second
    // one, then taken off its primary) has its associations read, and takes that company.
    let primary = hs.company_of(&contact_ids[0]);
    let second = company_ids.iter().find(|c| **c != primary[0]).unwrap();
    hs.sandbox().associate(&contact_ids[0], second).unwrap();
    hs.sandbox()
        .dissociate(&contact_ids[0], &primary[0])
        .unwrap();
    hs.sandbox().clear_request_log();
    hs.sync().ok();
    assert_eq!(
        hs.association_calls(),
        vec!["/crm/v4/associations/contacts/companies/batch/read"]
    );
    let local = hs.local_for(ObjectKind::Contact, &contact_ids[0]);
    let second_local = hs.local_for(ObjectKind::Company, second);
    assert_eq!(local.get("company_id"), Some(second_local.id.as_str()));
}

#[test]
fn local_records_are_created_in_hubspot_companies_first_with_the_association() {
    let hs = Hs::start();
    let company = record(
        ObjectKind::Company,
        &[
            ("name", "Northwind Traders"),
            ("domain", "northwind.example"),
        ],
    );
    let mut people: Vec<Record> = (0..3).map(contact).collect();
    for p in &mut people {
        p.fields.insert("company_id".into(), company.id.to_string());
    }
    // The contacts are saved before their company: the order of creation in HubSpot must
    // not depend on it.
    hs.save_local(&people);
    hs.save_local(std::slice::from_ref(&company));
    hs.sync().ok();

    let companies = hs.remote_live("companies");
    assert_eq!(companies.len(), 1);
    let hub_company = &companies[0];
    assert_eq!(prop(hub_company, "crmsync_id"), Some(company.id.as_str()));
    assert_eq!(prop(hub_company, "name"), Some("Northwind Traders"));
    let company_remote = hub_company["id"].as_str().unwrap();

    let contacts = hs.remote_live("contacts");
    assert_eq!(contacts.len(), 3);
    for p in &people {
        let found: Vec<&Value> = contacts
            .iter()
            .filter(|r| prop(r, "crmsync_id") == Some(p.id.as_str()))
            .collect();
        assert_eq!(found.len(), 1, "contact {}", p.id);
        let r = found[0];
        assert_eq!(prop(r, "email"), p.get("email"));
        assert_eq!(prop(r, "firstname"), p.get("first_name"));
        assert_eq!(prop(r, "lifecyclestage"), Some("lead"));
        assert_eq!(
            hs.company_of(r["id"].as_str().unwrap()),
            vec![company_remote.to_string()]
        );
        assert_eq!(hs.remote_id(ObjectKind::Contact, &p.id), r["id"]);
    }
    // Creates happened in dependency order: the company's create call came first.
    let writes = hs.write_calls();
    let first_company = writes
        .iter()
        .position(|w| w.contains("/objects/companies/batch/upsert"))
        .expect("a company create call");
    let first_contact = writes
        .iter()
        .position(|w| w.contains("/objects/contacts/batch/upsert"))
        .expect("a contact create call");
    assert!(first_company < first_contact, "{writes:#?}");
}

/// A phone that comes from HubSpot gets its E.164 form here, as an imported one does, and
/// keeps it in step when HubSpot changes the number; so export → import is a no-op.
#[test]
fn a_phone_pulled_from_hubspot_gets_and_keeps_its_e164_form() {
    let hs = Hs::start();
    let rid = hubspot_contact(
        hs.sandbox(),
        &[("email", "pia@example.com"), ("phone", "+44 20 7946 0958")],
    );
    hs.sync().ok();
    let pia = hs.local_for(ObjectKind::Contact, &rid);
    assert_eq!(pia.get("phone_e164"), Some("+442079460958"));
    tick();
    hs.sandbox()
        .update_record("contacts", &rid, &[("phone", "+1 415 555 0100")])
        .unwrap();
    hs.sync().ok();
    let pia = hs.local_for(ObjectKind::Contact, &rid);
    assert_eq!(pia.get("phone_e164"), Some("+14155550100"));
    tick();
    hs.sandbox()
        .update_record("contacts", &rid, &[("phone", "ask reception")])
        .unwrap();
    hs.sync().ok();
    let pia = hs.local_for(ObjectKind::Contact, &rid);
    assert_eq!(pia.get("phone_e164"), None);
    // Nothing of it goes back: phone_e164 is not a HubSpot field.
    hs.assert_sync_writes_nothing();

    let export = hs.run(&["export", "--format", "jsonl"]);
    export.ok();
    std::fs::write(hs.env.path("all.jsonl"), &export.stdout).unwrap();
    let again = hs.run(&["import", "all.jsonl", "--json"]);
    again.ok();
    let report: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(report["merged"], 0, "{report:#}");
}

#[test]
fn moving_a_contact_to_another_company_moves_the_association() {
    let hs = Hs::start();
    let (contact_ids, company_ids) = hs.sandbox().seed(1, 2);
    hs.sync().ok();
    let contact = hs.local_for(ObjectKind::Contact, &contact_ids[0]);
    let old = hs.company_of(&contact_ids[0]);
    assert_eq!(old.len(), 1);
    let other = company_ids.iter().find(|c| **c != old[0]).unwrap();
    let other_local = hs.local_for(ObjectKind::Company, other);
    hs.edit_local(&contact.id, &[("company_id", other_local.id.as_str())]);
    hs.sync().ok();
    assert_eq!(hs.company_of(&contact_ids[0]), vec![other.clone()]);
    // ...as the contact's primary company, as HubSpot users see it.
    let remote = hs.remote("contacts", &contact_ids[0]);
    assert_eq!(prop(&remote, "associatedcompanyid"), Some(other.as_str()));

    // In HubSpot a user adds a second company to the contact and edits it: the local record
    // points at one of its companies, and the two sides stay settled (no back and forth
    // between the two companies on later runs).
    hs.sandbox().associate(&contact_ids[0], &old[0]).unwrap();
    hs.sandbox()
        .update_record("contacts", &contact_ids[0], &[("jobtitle", "Moved")])
        .unwrap();
    hs.sync().ok();
    let local = hs.local_record(&contact.id);
    assert_eq!(local.get("job_title"), Some("Moved"));
    let linked: Vec<String> = hs.company_of(&contact_ids[0]);
    let candidates: Vec<String> = linked
        .iter()
        .map(|c| hs.local_for(ObjectKind::Company, c).id.to_string())
        .collect();
    assert!(
        candidates
            .iter()
            .any(|c| local.get("company_id") == Some(c)),
        "{local:?} vs {linked:?}"
    );
    hs.sandbox().clear_request_log();
    hs.sync().ok();
    hs.sync().ok();
    assert_eq!(hs.write_calls(), Vec::<String>::new());
    assert_eq!(hs.local_record(&contact.id), local);
}

// ---- conflicts ---------------------------------------------------------------------------

/// A linked contact whose last name and job title are then changed on both sides, HubSpot
/// after the local store when `remote_later`. Returns (local id, HubSpot id).
fn both_sides_edited(hs: &Hs, remote_later: bool) -> (RecordId, String) {
    let c = contact(7);
    hs.save_local(std::slice::from_ref(&c));
    hs.sync().ok();
    let rid = hs.remote_id(ObjectKind::Contact, &c.id);
    let edit_remote = || {
        hs.sandbox()
            .update_record(
                "contacts",
                &rid,
                &[("lastname", "FromHubSpot"), ("jobtitle", "Remote Title")],
            )
            .unwrap();
    };
    if remote_later {
        hs.edit_local(&c.id, &[("last_name", "FromLocal")]);
        tick();
        edit_remote();
    } else {
        edit_remote();
        tick();
        hs.edit_local(&c.id, &[("last_name", "FromLocal")]);
    }
    (c.id, rid)
}

/// Both sides' last name after the conflict run; the non-conflicting remote edit (job title)
/// always arrives.
fn after_conflict(hs: &Hs, id: &RecordId, rid: &str) -> (Option<String>, Option<String>) {
    let local = hs.local_record(id);
    assert_eq!(local.get("job_title"), Some("Remote Title"));
    let remote = hs.remote("contacts", rid);
    (
        local.get("last_name").map(str::to_string),
        prop(&remote, "lastname").map(str::to_string),
    )
}

/// The `POST …/batch/read` calls of the request log that ask for property history: path
/// and body.
fn history_reads(hs: &Hs) -> Vec<(String, Value)> {
    hs.sandbox()
        .request_log()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.contains("/batch/read"))
        .filter_map(|r| {
            let body = serde_json::from_str::<Value>(r.body.as_deref()?).ok()?;
            let path = r.path.split('?').next().unwrap_or_default().to_string();
            Some((path, body))
        })
        .filter(|(_, b)| {
            b["propertiesWithHistory"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .collect()
}

/// A synced contact whose last name a HubSpot user changes; later crmsync's user changes it
/// locally; later still (an hour on HubSpot's clock) the HubSpot user changes the job title,
/// so HubSpot's record is by far the newer one. Returns the local record and its HubSpot id.
fn old_remote_field_edit_in_a_newer_record(hs: &Hs) -> (Record, String) {
    let c = contact(7);
    hs.save_local(std::slice::from_ref(&c));
    hs.sync().ok();
    let rid = hs.remote_id(ObjectKind::Contact, &c.id);
    hs.sandbox()
        .update_record("contacts", &rid, &[("lastname", "FromHubSpot")])
        .unwrap();
    tick();
    hs.edit_local(&c.id, &[("last_name", "FromLocal")]);
    tick();
    hs.sandbox()
        .advance_clock(std::time::Duration::from_secs(3600));
    hs.sandbox()
        .update_record("contacts", &rid, &[("jobtitle", "Remote Title")])
        .unwrap();
    (c, rid)
}

#[test]
fn newest_wins_compares_field_edits_not_record_times() {
    let hs = Hs::start();
    let (c, rid) = old_remote_field_edit_in_a_newer_record(&hs);
    hs.sandbox().clear_request_log();
    // HubSpot's clock is an hour ahead now: the run says so and exits 3.
    hs.sync().expect_code(3);
    // The local last name is the later edit of that field; the job title comes from HubSpot.
    let (l, r) = after_conflict(&hs, &c.id, &rid);
    assert_eq!(l.as_deref(), Some("FromLocal"));
    assert_eq!(r.as_deref(), Some("FromLocal"));
    // One batch read of just the conflicting record and property.
    let reads = history_reads(&hs);
    assert_eq!(reads.len(), 1, "{reads:?}");
    let (path, body) = &reads[0];
    assert_eq!(path, "/crm/v3/objects/contacts/batch/read");
    assert_eq!(
        body["propertiesWithHistory"],
        serde_json::json!(["lastname"])
    );
    assert_eq!(body["inputs"], serde_json::json!([{ "id": rid }]));

    // Nothing left to do: no history read, no write (the clock still an hour ahead).
    hs.sandbox().clear_request_log();
    hs.sync().expect_code(3);
    assert_eq!(history_reads(&hs), Vec::new());
    assert_eq!(hs.write_calls(), Vec::<String>::new());
}

#[test]
fn newest_wins_on_a_contacts_company_compares_when_the_company_changed() {
    let hs = Hs::start();
    let (contact_ids, company_ids) = hs.sandbox().seed(1, 3);
    hs.sync().ok();
    let rid = &contact_ids[0];
    let contact = hs.local_for(ObjectKind::Contact, rid);
    let old = hs.company_of(rid);
    let others: Vec<&String> = company_ids.iter().filter(|c| **c != old[0]).collect();
    // A HubSpot user moves the contact to one company, then it is moved here to another...
    hs.sandbox().dissociate(rid, &old[0]).unwrap();
    hs.sandbox().associate(rid, others[0]).unwrap();
    tick();
    let here = hs.local_for(ObjectKind::Company, others[1]);
    hs.edit_local(&contact.id, &[("company_id", here.id.as_str())]);
    tick();
    // ...and an hour later its job title is edited in HubSpot: the record is newer there.
    hs.sandbox()
        .advance_clock(std::time::Duration::from_secs(3600));
    hs.sandbox()
        .update_record("contacts", rid, &[("jobtitle", "Remote Title")])
        .unwrap();
    // HubSpot's clock is an hour ahead now: the run says so and exits 3.
    hs.sync().expect_code(3);
    // The move made here is the later change of the company: it wins, on both sides.
    let local = hs.local_record(&contact.id);
    assert_eq!(local.get("company_id"), Some(here.id.as_str()));
    assert_eq!(local.get("job_title"), Some("Remote Title"));
    assert_eq!(hs.company_of(rid), vec![others[1].clone()]);
    // Its HubSpot time came from the history of the primary company.
    let reads = history_reads(&hs);
    assert!(
        reads
            .iter()
            .any(|(_, b)| b["propertiesWithHistory"] == serde_json::json!(["associatedcompanyid"])),
        "{reads:?}"
    );
}

#[test]
fn conflicts_show_and_explain_carry_the_times_newest_wins_compared() {
    let hs = Hs::start();
    let (c, rid) = old_remote_field_edit_in_a_newer_record(&hs);
    let local_at = hs
        .store()
        .local_field_times(std::slice::from_ref(&c.id))
        .unwrap()[&c.id]["last_name"];
    let record_at = chrono::DateTime::parse_from_rfc3339(
        hs.remote("contacts", &rid)["updatedAt"].as_str().unwrap(),
    )
    .unwrap()
    .timestamp_millis();
    // HubSpot's clock is an hour ahead now: the run says so and exits 3.
    hs.sync().expect_code(3);

    let decided = hs
        .store()
        .list_conflicts(&crmsync::store::ConflictFilter::default())
        .unwrap();
    assert_eq!(decided.len(), 1, "{decided:?}");
    let id = decided[0].id.to_string();
    let shown = hs.run(&["conflicts", "show", &id, "--json"]);
    shown.ok();
    let d = &shown.json()["decision"];
    assert_eq!(d["policy"], "newest-wins");
    assert_eq!(d["outcome"], "local");
    assert_eq!(
        (&d["local_time_source"], &d["remote_time_source"]),
        (&"field".into(), &"field".into())
    );
    assert_eq!(d["local_updated_at"], local_at);
    // HubSpot's time of the last name, an hour before its record's time.
    let remote_at = d["remote_updated_at"].as_i64().unwrap();
    assert!(remote_at < local_at, "{d}");
    assert!(
        remote_at <= record_at - 3_000_000,
        "{remote_at} vs record {record_at}"
    );
    assert_eq!(d["run"], hs.store().list_runs(1).unwrap()[0].id);

    let explained = hs.run(&["explain", &c.id.to_string(), "last_name", "--json"]);
    explained.ok();
    let field = &explained.json()["connections"][0]["fields"][0];
    assert_eq!(field["field"], "last_name");
    assert_eq!(field["last_conflict"]["id"], decided[0].id);
    assert_eq!(&field["last_conflict"]["decision"], d);

    // The table forms print the same times as the other times of those commands.
    let when = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%d %H:%M:%SZ (field)")
            .to_string()
    };
    let local = when(local_at);
    let remote = when(remote_at);
    let log = hs.run(&[
        "log",
        "--record",
        &c.id.to_string(),
        "--field",
        "last_name",
        "--json",
    ]);
    log.ok();
    let entries = log.json();
    // The push that carried the decided value names its conflict; the earlier changes none.
    let decided_by: Vec<&Value> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["conflict"].is_null())
        .collect();
    assert_eq!(decided_by.len(), 1, "{entries}");
    assert_eq!(decided_by[0]["cause"], "push");
    assert_eq!(decided_by[0]["run"], d["run"]);
    assert_eq!(&decided_by[0]["conflict"]["decision"], d);
    for args in [
        vec!["conflicts", "show", id.as_str()],
        vec!["explain", c.id.as_str(), "last_name"],
        vec!["log", "--record", c.id.as_str()],
    ] {
        let run = hs.run(&args);
        run.ok();
        for want in [&local, &remote] {
            assert!(
                run.stdout.contains(want.as_str()),
                "{args:?}: {want}: {}",
                run.stdout
            );
        }
    }
}

#[test]
fn manual_holds_the_field_exits_3_and_a_later_local_decision_goes_through() {
    let hs = Hs::with("[policies.contact]\nlast_name = \"manual\"\n");
    let (id, rid) = both_sides_edited(&hs, true);
    let run = hs.sync();
    run.expect_code(3);
    // One conflict, counted once although both the pull and the push met it.
    assert!(run.stderr.contains("1 conflict(s) wait"), "{}", run.stderr);
    // Held: neither side's last name moved; the other field went through.
    let (l, r) = after_conflict(&hs, &id, &rid);
    assert_eq!(l.as_deref(), Some("FromLocal"));
    assert_eq!(r.as_deref(), Some("FromHubSpot"));
    let open = hs
        .store()
        .list_open_conflicts(&crmsync::store::ConflictFilter::default())
        .unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].field, "last_name");
    assert_eq!(open[0].local.as_deref(), Some("FromLocal"));
    assert_eq!(open[0].remote.as_deref(), Some("FromHubSpot"));
    // Held, not decided by time, but the times are recorded: the local one is the field's own
    // (from the audit trail, no CRM call), the remote one the record's, HubSpot's edit being
    // the later, as it was.
    let d = open[0].decision.clone().expect("decision recorded");
    assert_eq!(d.policy, "manual");
    assert_eq!(d.local_time_source, "field", "{d:?}");
    assert_eq!(d.remote_time_source, "record", "{d:?}");
    assert!(d.remote_updated_at > d.local_updated_at, "{d:?}");
    assert!(
        history_reads(&hs).is_empty(),
        "no property history read for a manual conflict"
    );
    // Still held on the next run, also when the record's other fields are edited locally:
    // nothing is written over either side's last name.
    hs.edit_local(&id, &[("first_name", "Again")]);
    hs.sync().expect_code(3);
    let (l, r) = after_conflict(&hs, &id, &rid);
    assert_eq!(l.as_deref(), Some("FromLocal"));
    assert_eq!(r.as_deref(), Some("FromHubSpot"));
    assert_eq!(
        prop(&hs.remote("contacts", &rid), "firstname"),
        Some("Again")
    );

    // `crmsync conflicts resolve` is not in this build; the user decides by taking HubSpot's
    // value in the local record, and the next sync settles the conflict.
    hs.edit_local(&id, &[("last_name", "FromHubSpot")]);
    hs.sync().ok();
    let (l, r) = after_conflict(&hs, &id, &rid);
    assert_eq!(l.as_deref(), Some("FromHubSpot"));
    assert_eq!(r.as_deref(), Some("FromHubSpot"));
    let conflict = hs.store().get_conflict(open[0].id).unwrap().unwrap();
    assert!(conflict.resolved_at.is_some(), "{conflict:?}");
    assert_eq!(conflict.resolution.as_deref(), Some("FromHubSpot"));
    hs.assert_sync_writes_nothing();
}

// ---- archives ----------------------------------------------------------------------------

#[test]
fn archiving_in_hubspot_archives_locally_on_a_full_read_or_the_daily_scan() {
    let mut hs = Hs::start();
    let (ids, _) = hs.sandbox().seed(6, 0);
    hs.sync().ok();
    // A full read sees the archive at once.
    hs.sandbox().archive_record("contacts", &ids[0]).unwrap();
    hs.run(&["sync", "--full"]).ok();
    let first = hs.local_for(ObjectKind::Contact, &ids[0]);
    assert!(first.archived_at.is_some(), "{first:?}");

    // An incremental read sees it once the daily archive scan is due.
    hs.sandbox().archive_record("contacts", &ids[1]).unwrap();
    hs.sync().ok();
    let second = hs.local_for(ObjectKind::Contact, &ids[1]);
    assert!(
        second.archived_at.is_none(),
        "an incremental read within the day does not list archived records"
    );
    hs.sandbox()
        .advance_clock(std::time::Duration::from_secs(25 * 3600));
    // crmsync's own clock decides when the scan is due; move it with the sandbox's.
    let later = chrono::Utc::now() + chrono::Duration::hours(25);
    hs.env.set_env("CRMSYNC_TEST_NOW", &later.to_rfc3339());
    hs.sync().ok();
    let second = hs.local_for(ObjectKind::Contact, &ids[1]);
    assert!(second.archived_at.is_some(), "{second:?}");
    assert_eq!(
        hs.local(ObjectKind::Contact)
            .iter()
            .filter(|r| r.archived_at.is_none())
            .count(),
        4
    );
}

// ---- cost of a repeated run --------------------------------------------------------------

#[test]
fn a_sync_with_nothing_to_do_writes_nothing_searches_once_per_object_and_reads_no_association() {
    let hs = Hs::start();
    hs.sandbox().seed(30, 4);
    hs.save_local(&(0..10).map(contact).collect::<Vec<_>>());
    hs.sync().ok();
    hs.sync().ok();
    hs.sandbox().clear_request_log();
    let run = hs.run(&["sync", "--json"]);
    run.ok();
    let log = hs.sandbox().request_log();
    assert_eq!(hs.write_calls(), Vec::<String>::new(), "{log:#?}");
    // Every record the overlap reads again is at the version already synced: none is planned,
    // and no contact's company is read.
    let report = run.json();
    for o in report["connections"][0]["objects"].as_array().unwrap() {
        assert!(o["read"].as_u64().unwrap() > 0, "{o}");
        assert_eq!(o["unchanged"], o["read"], "{o}");
    }
    assert!(
        !log.iter()
            .any(|r| r.path.starts_with("/crm/v4/associations")),
        "{log:#?}"
    );
    for object in ["contacts", "companies"] {
        let searches = log
            .iter()
            .filter(|r| {
                r.path
                    .starts_with(&format!("/crm/v3/objects/{object}/search"))
            })
            .count();
        assert!(searches <= 1, "{searches} searches of {object}: {log:#?}");
    }
}

// ---- dropdowns ----------------------------------------------------------------------------

#[test]
fn a_dropdown_written_as_its_label_is_sent_as_its_value_and_then_left_alone() {
    let hs = Hs::start();
    let mut people: Vec<Record> = (0..2).map(contact).collect();
    people[0]
        .fields
        .insert("lifecycle_stage".into(), "Marketing Qualified Lead".into());
    people[1]
        .fields
        .insert("lifecycle_stage".into(), "customer".into());
    hs.save_local(&people);
    hs.sync().ok();
    let rid = hs.remote_id(ObjectKind::Contact, &people[0].id);
    assert_eq!(
        prop(&hs.remote("contacts", &rid), "lifecyclestage"),
        Some("marketingqualifiedlead"),
        "HubSpot got the option's value"
    );
    assert!(hs.store().list_failures(None).unwrap().is_empty());
    // The local value stays as written, and is the same value as HubSpot's: nothing moves.
    assert_eq!(
        hs.local_record(&people[0].id).get("lifecycle_stage"),
        Some("Marketing Qualified Lead")
    );
    hs.assert_sync_writes_nothing();
    assert_eq!(
        hs.local_record(&people[0].id).get("lifecycle_stage"),
        Some("Marketing Qualified Lead")
    );
    // A later local edit by label is sent the same way; a change made in HubSpot comes back
    // as HubSpot's value.
    hs.edit_local(
        &people[0].id,
        &[("lifecycle_stage", "sales qualified lead")],
    );
    hs.sync().ok();
    assert_eq!(
        prop(&hs.remote("contacts", &rid), "lifecyclestage"),
        Some("salesqualifiedlead")
    );
    tick();
    hs.sandbox()
        .update_record("contacts", &rid, &[("lifecyclestage", "opportunity")])
        .unwrap();
    hs.sync().ok();
    assert_eq!(
        hs.local_record(&people[0].id).get("lifecycle_stage"),
        Some("opportunity")
    );
    hs.assert_sync_writes_nothing();
}

// ---- refused records ---------------------------------------------------------------------

#[test]
fn a_record_hubspot_refuses_fails_alone_and_goes_through_once_fixed() {
    let hs = Hs::start();
    let mut people: Vec<Record> = (0..5).map(contact).collect();
    people[2]
        .fields
        .insert("lifecycle_stage".into(), "best-friend".into());
    hs.save_local(&people);
    let run = hs.sync();
    run.expect_code(3);
    assert!(run.stderr.contains("1 record(s) failed"), "{}", run.stderr);
    // The report says what was done: four created there, one failed (not five created).
    assert!(run.stdout.contains("0 here, 4 there"), "{}", run.stdout);
    // The other four are in HubSpot.
    let live = hs.remote_live("contacts");
    assert_eq!(live.len(), 4, "{live:#?}");
    assert!(
        live.iter()
            .all(|r| prop(r, "crmsync_id") != Some(people[2].id.as_str()))
    );
    // `crmsync status --failed` is not in this build: the failure is read from the state
    // file, with HubSpot's own message.
    let failures = hs.store().list_failures(Some(CONN)).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].local_id, people[2].id);
    // Each bad property by name, in words rather than the JSON HubSpot embeds, with what a
    // dropdown takes.
    let message = &failures[0].message;
    assert!(
        message.starts_with("`lifecyclestage`: best-friend was not one of the allowed options")
            && message.contains("marketingqualifiedlead")
            && message.contains("a dropdown takes one of the values listed")
            && !message.contains("isValid"),
        "{message}"
    );
    // The failure stays until fixed: a sync without changes does not hide it.
    hs.sync();
    assert_eq!(hs.store().list_failures(Some(CONN)).unwrap().len(), 1);

    // Fix the value; `crmsync retry` is not in this build: the store's re-queue is what it
    // calls.
    hs.edit_local(&people[2].id, &[("lifecycle_stage", "customer")]);
    assert_eq!(hs.store().requeue_failures(Some(CONN)).unwrap(), 1);
    hs.sync().ok();
    assert_eq!(hs.remote_live("contacts").len(), 5);
    let rid = hs.remote_id(ObjectKind::Contact, &people[2].id);
    assert_eq!(
        prop(&hs.remote("contacts", &rid), "lifecyclestage"),
        Some("customer")
    );
    assert!(hs.store().list_failures(None).unwrap().is_empty());
}

#[test]
fn a_duplicate_email_in_hubspot_is_linked_instead_of_created_twice() {
    let hs = Hs::start();
    let existing = hs
        .sandbox()
        .create_record(
            "contacts",
            &[("email", "ann@example.org"), ("firstname", "Ann")],
        )
        .unwrap();
    let ann = record(
        ObjectKind::Contact,
        &[("email", "ann@example.org"), ("last_name", "Lee")],
    );
    hs.save_local(std::slice::from_ref(&ann));
    hs.sync().ok();
    let live = hs.remote_live("contacts");
    assert_eq!(live.len(), 1, "{live:#?}");
    assert_eq!(hs.remote_id(ObjectKind::Contact, &ann.id), existing["id"]);
    let r = &live[0];
    assert_eq!(prop(r, "firstname"), Some("Ann"));
    assert_eq!(prop(r, "lastname"), Some("Lee"));
    assert_eq!(prop(r, "crmsync_id"), Some(ann.id.as_str()));
    assert_eq!(hs.local_record(&ann.id).get("first_name"), Some("Ann"));
}

/// The HubSpot record's `crmsync_id`, and the writes that reached HubSpot with it.
fn stamped(hs: &Hs, rid: &str) -> (Option<String>, Vec<Value>) {
    let id = prop(&hs.remote("contacts", rid), "crmsync_id").map(str::to_string);
    let updates = hs
        .sandbox()
        .request_log()
        .into_iter()
        .filter(|r| {
            r.method == "POST" && r.path.starts_with("/crm/v3/objects/contacts/batch/update")
        })
        .flat_map(|r| {
            let body: Value =
                serde_json::from_str(r.body.as_deref().unwrap_or_default()).unwrap_or_default();
            body["inputs"].as_array().cloned().unwrap_or_default()
        })
        .filter(|i| i["id"] == rid)
        .collect();
    (id, updates)
}

#[test]
fn a_contact_matched_by_email_gets_its_local_id_in_crmsync_id_with_nothing_else_to_write() {
    let hs = Hs::start();
    let rid = hubspot_contact(
        hs.sandbox(),
        &[("email", "ann@example.org"), ("firstname", "Ann")],
    );
    // Both sides agree on every field: linking them writes only the external id.
    let ann = record(
        ObjectKind::Contact,
        &[("email", "ann@example.org"), ("first_name", "Ann")],
    );
    hs.save_local(std::slice::from_ref(&ann));
    hs.sandbox().clear_request_log();
    hs.sync().ok();
    assert_eq!(hs.remote_id(ObjectKind::Contact, &ann.id), rid);
    let (id, updates) = stamped(&hs, &rid);
    assert_eq!(id.as_deref(), Some(ann.id.as_str()));
    assert_eq!(
        updates,
        vec![serde_json::json!({ "id": rid, "properties": { "crmsync_id": ann.id.as_str() } })]
    );
    assert_eq!(hs.remote_live("contacts").len(), 1);
    // Linked and stamped: the next run writes nothing.
    hs.assert_sync_writes_nothing();
}

#[test]
fn a_contact_linked_as_a_duplicate_gets_its_local_id_in_crmsync_id() {
    let hs = Hs::start();
    hs.save_local(&[contact(1)]);
    hs.sync().ok();
    // A contact made in HubSpot an hour ago, out of the change feed's sight, equal to a
    // local contact made now: the create is refused, the two are paired, and no field
    // differs.
    let rid = hs.out_of_sight(|sb| {
        hubspot_contact(
            sb,
            &[
                ("email", "old@example.org"),
                ("firstname", "Olga"),
                ("lifecyclestage", "lead"),
            ],
        )
    });
    let olga = record(
        ObjectKind::Contact,
        &[
            ("email", "old@example.org"),
            ("first_name", "Olga"),
            ("lifecycle_stage", "lead"),
        ],
    );
    hs.save_local(std::slice::from_ref(&olga));
    hs.sandbox().clear_request_log();
    hs.sync().ok();
    assert_eq!(hs.remote_id(ObjectKind::Contact, &olga.id), rid);
    let (id, updates) = stamped(&hs, &rid);
    assert_eq!(id.as_deref(), Some(olga.id.as_str()), "{updates:?}");
    assert_eq!(
        updates,
        vec![serde_json::json!({ "id": rid, "properties": { "crmsync_id": olga.id.as_str() } })]
    );
    assert!(hs.store().list_failures(None).unwrap().is_empty());
    hs.assert_sync_writes_nothing();
}

// ---- credentials -------------------------------------------------------------------------

#[test]
fn an_invalid_token_exits_1_naming_the_connection_and_how_to_reconnect() {
    let mut hs = Hs::start();
    hs.save_local(&[contact(1)]);
    hs.env
        .set_env("CRMSYNC_TOKEN_HS", "pat-na1-not-a-real-token");
    hs.sandbox().clear_request_log();
    let run = hs.sync();
    run.expect_code(1);
    assert!(run.stderr.contains("`hs`"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert!(run.stderr.contains("crmsync connect"), "{}", run.stderr);
    assert!(run.stderr.contains("--name hs"), "{}", run.stderr);
    assert!(hs.remote_all("contacts").is_empty());
    assert_eq!(hs.write_calls(), Vec::<String>::new());
}

// ---- the search cap ----------------------------------------------------------------------

#[test]
fn more_than_ten_thousand_changed_contacts_are_all_read() {
    let hs = Hs::start();
    // Seeded in slices a second apart, as a bulk import into HubSpot would stamp them.
    let mut ids = Vec::new();
    for _ in 0..11 {
        ids.extend(hs.sandbox().seed(915, 0).0);
        hs.sandbox()
            .advance_clock(std::time::Duration::from_secs(1));
    }
    assert!(ids.len() > 10_050, "{}", ids.len());
    hs.sync().ok();
    let local = hs.local(ObjectKind::Contact);
    assert_eq!(local.len(), ids.len());
    let emails: std::collections::HashSet<&str> =
        local.iter().filter_map(|r| r.get("email")).collect();
    assert_eq!(emails.len(), ids.len(), "every contact once");
    let links = hs.store().count_links(CONN, ObjectKind::Contact).unwrap();
    assert_eq!(links as usize, ids.len());
}

// ---- the demo ----------------------------------------------------------------------------

/// An environment for the demo: its Pipedrive sandbox keeps Pipedrive's burst window in real
/// time, so crmsync runs on the real clock and its waits for the window are slept.
fn demo_env() -> TestEnv {
    let mut env = TestEnv::new();
    env.remove_env("CRMSYNC_TEST_NOW");
    env.remove_env("CRMSYNC_TEST_NO_SLEEP");
    env
}

#[test]
fn demo_runs_and_prints_status() {
    let mut env = demo_env();
    env.remove_env("CRMSYNC_STATE");
    let run = env.run(&["demo", "--contacts", "8"]);
    run.ok();
    assert!(run.stderr.contains("status"), "{}", run.stderr);
    // The status table: every object with its counts by state.
    let table = run.stdout.to_lowercase();
    for word in [
        "synced",
        "local only",
        "pending",
        "conflict",
        "company",
        "contact",
    ] {
        assert!(table.contains(word), "`{word}` missing:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("held for a person"), "{}", run.stdout);
    // Its state was in a directory of its own, which is gone: the closing words say so, and
    // name no command that would act on the user's own state.
    assert!(run.stderr.contains("now removed"), "{}", run.stderr);
    assert!(!run.stdout.contains("conflicts resolve"), "{}", run.stdout);
}

#[test]
fn demo_json_is_one_document_with_the_three_runs_and_the_status() {
    let mut env = demo_env();
    env.remove_env("CRMSYNC_STATE");
    let run = env.run(&["demo", "--contacts", "6", "--json"]);
    run.ok();
    let doc: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(doc["syncs"].as_array().map(Vec::len), Some(3), "{doc:#}");
    assert_eq!(doc["open_conflicts"].as_array().map(Vec::len), Some(1));
    assert!(doc["status"]["contact"]["synced"].as_u64().unwrap() > 0);
    assert_eq!(doc["state_file"], Value::Null);
}

#[test]
fn demo_into_a_state_file_that_holds_records_is_refused_and_the_file_kept() {
    let env = demo_env();
    let state = env.state_path();
    let first = env.run(&[
        "--state",
        state.to_str().unwrap(),
        "demo",
        "--contacts",
        "4",
    ]);
    first.ok();
    assert!(first.stderr.contains("crmsync --state"), "{}", first.stderr);
    let before = std::fs::read(&state).unwrap();
    let again = env.run(&[
        "--state",
        state.to_str().unwrap(),
        "demo",
        "--contacts",
        "4",
    ]);
    again.expect_code(2);
    assert!(
        again.stderr.contains("needs a new state file"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("record(s) already"),
        "{}",
        again.stderr
    );
    assert_eq!(
        std::fs::read(&state).unwrap(),
        before,
        "the state file was touched"
    );
}

#[test]
fn a_dry_run_shows_the_writes_and_makes_none() {
    let hs = Hs::start();
    let c = contact(3);
    hs.save_local(std::slice::from_ref(&c));
    hs.sync().ok();
    hs.edit_local(&c.id, &[("job_title", "Chief Planner")]);
    hs.sandbox().clear_request_log();
    let run = hs.run(&["sync", "--dry-run"]);
    run.ok();
    assert!(run.stdout.contains("update there"), "{}", run.stdout);
    assert!(run.stdout.contains("job_title"), "{}", run.stdout);
    assert!(run.stdout.contains("Chief Planner"), "{}", run.stdout);
    assert_eq!(hs.write_calls(), Vec::<String>::new());
    let rid = hs.remote_id(ObjectKind::Contact, &c.id);
    assert_eq!(prop(&hs.remote("contacts", &rid), "jobtitle"), None);
    // The plan is still to do: the real run carries it out.
    hs.sync().ok();
    assert_eq!(
        prop(&hs.remote("contacts", &rid), "jobtitle"),
        Some("Chief Planner")
    );
}

#[test]
fn a_held_conflict_decided_in_hubspot_is_settled_by_the_next_sync() {
    let hs = Hs::with("[policies.contact]\nlast_name = \"manual\"\n");
    let (id, rid) = both_sides_edited(&hs, true);
    hs.sync().expect_code(3);
    // Someone in HubSpot takes the local value.
    hs.sandbox()
        .update_record("contacts", &rid, &[("lastname", "FromLocal")])
        .unwrap();
    hs.sync().ok();
    let (l, r) = after_conflict(&hs, &id, &rid);
    assert_eq!(l.as_deref(), Some("FromLocal"));
    assert_eq!(r.as_deref(), Some("FromLocal"));
    let open = hs
        .store()
        .list_open_conflicts(&crmsync::store::ConflictFilter::default())
        .unwrap();
    assert!(open.is_empty(), "{open:?}");
    hs.sync().ok();
}

#[test]
fn creating_a_contact_hubspot_already_has_out_of_sight_links_and_merges_it_in_the_same_run() {
    let hs = Hs::with("[policies.contact]\nlast_name = \"remote-wins\"\n");
    hs.save_local(&[contact(1)]);
    hs.sync().ok();
    // A contact made in HubSpot an hour ago (before the change feed's window) with the
    // email of a contact that is then made locally: the create meets HubSpot's unique email.
    let existing_id = hs.out_of_sight(|sb| {
        hubspot_contact(
            sb,
            &[
                ("email", "old@example.org"),
                ("firstname", "Olga"),
                ("lastname", "Svensson"),
                ("jobtitle", "Engineer"),
            ],
        )
    });
    let local = record(
        ObjectKind::Contact,
        &[
            ("email", "old@example.org"),
            ("last_name", "Berg"),
            ("job_title", "Director"),
            ("lifecycle_stage", "lead"),
        ],
    );
    hs.save_local(std::slice::from_ref(&local));
    hs.sandbox().clear_request_log();
    hs.sync().ok();
    let count = |hs: &Hs| {
        hs.remote_live("contacts")
            .iter()
            .filter(|r| prop(r, "email") == Some("old@example.org"))
            .count()
    };
    assert_eq!(count(&hs), 1, "no second contact with the email");
    assert_eq!(hs.remote_all("contacts").len(), 2, "contact 1 and Olga");
    assert_eq!(hs.remote_id(ObjectKind::Contact, &local.id), existing_id);
    let reads: Vec<String> = hs
        .sandbox()
        .request_log()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/crm/v3/objects/contacts/batch/read"))
        .map(|r| r.path)
        .collect();
    // Read once by id to pair it, and once more for the history of the one newest-wins
    // conflict (`job_title`; `last_name` is remote-wins and needs no times).
    let history = history_reads(&hs);
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(
        history[0].1["propertiesWithHistory"],
        serde_json::json!(["jobtitle"])
    );
    assert_eq!(
        history[0].1["inputs"],
        serde_json::json!([{ "id": existing_id }])
    );
    assert_eq!(
        reads.len(),
        2,
        "HubSpot's contact read once by id, once for its history: {reads:?}"
    );
    // Merged as a match by email: each side's own fields copied, the fields set on both sides
    // decided by their policy (`last_name` remote-wins; `job_title` newest-wins, and the
    // local record is the newer).
    let r = hs.remote("contacts", &existing_id);
    assert_eq!(prop(&r, "firstname"), Some("Olga"));
    assert_eq!(prop(&r, "lastname"), Some("Svensson"));
    assert_eq!(prop(&r, "jobtitle"), Some("Director"));
    assert_eq!(prop(&r, "lifecyclestage"), Some("lead"));
    assert_eq!(prop(&r, "crmsync_id"), Some(local.id.as_str()));
    let l = hs.local_record(&local.id);
    assert_eq!(l.get("first_name"), Some("Olga"));
    assert_eq!(l.get("last_name"), Some("Svensson"));
    assert_eq!(l.get("job_title"), Some("Director"));
    assert_eq!(l.get("email"), Some("old@example.org"));
    assert!(hs.store().list_failures(None).unwrap().is_empty());
    let status = hs.run(&["--json", "status"]);
    status.ok();
    let conn = &status.json()["connections"][0];
    assert_eq!(conn["health"], "healthy", "{conn:#}");
    for o in conn["objects"].as_array().unwrap() {
        assert_eq!(o["error"], 0, "{o:#}");
    }
    // Nothing left to do: a second run writes nothing.
    hs.assert_sync_writes_nothing();
    assert_eq!(count(&hs), 1);
}

// ---- records merged in HubSpot -------------------------------------------------------------

#[test]
fn a_contact_merged_in_hubspot_into_one_out_of_sight_is_followed_there() {
    let hs = Hs::start();
    let ann = contact(1);
    hs.save_local(std::slice::from_ref(&ann));
    hs.sync().ok();
    let a = hs.remote_id(ObjectKind::Contact, &ann.id);
    // An hour ago, out of the change feed's sight, someone in HubSpot merged Ann's contact
    // into an older one of theirs, which keeps its own values and takes Ann's where it had
    // none.
    let b = hs.out_of_sight(|sb| {
        let b = hubspot_contact(
            sb,
            &[
                ("email", "bea@example.org"),
                ("firstname", "Bea"),
                ("jobtitle", "Boss"),
            ],
        );
        sb.merge_records("contacts", &b, &a).unwrap();
        b
    });
    hs.sync().ok();
    assert_eq!(
        hs.remote_id(ObjectKind::Contact, &ann.id),
        a,
        "nothing seen yet"
    );

    // The next local edit is sent to Ann's old id; HubSpot answers with the contact it went
    // into, and the link follows.
    hs.edit_local(&ann.id, &[("last_name", "Edited")]);
    sync_follows_merge(&hs, &ann.id, &a, &b);
    let r = hs.remote("contacts", &b);
    assert_eq!(prop(&r, "lastname"), Some("Edited"));
    assert_eq!(prop(&r, "email"), Some("bea@example.org"));
    // In the same run the local record takes what the merge kept.
    let l = hs.local_record(&ann.id);
    assert_eq!(l.get("email"), Some("bea@example.org"));
    assert_eq!(l.get("first_name"), Some("Bea"));
    assert_eq!(l.get("job_title"), Some("Boss"));
    assert_eq!(l.get("last_name"), Some("Edited"));
    assert_eq!(l.get("lifecycle_stage"), Some("lead"));
    assert!(hs.store().list_failures(None).unwrap().is_empty());
    assert_eq!(hs.remote_live("contacts").len(), 1, "nothing created");
    // Settled: the next run writes nothing, and a later edit goes to the contact itself.
    hs.assert_sync_writes_nothing();
    hs.edit_local(&ann.id, &[("job_title", "Chief")]);
    hs.sync().ok();
    assert_eq!(prop(&hs.remote("contacts", &b), "jobtitle"), Some("Chief"));
}

/// Syncs and checks that the link of local contact `local` moved from HubSpot contact `from`
/// to `into`, the one HubSpot merged it into, with a warning saying so.
fn sync_follows_merge(hs: &Hs, local: &RecordId, from: &str, into: &str) {
    let run = hs.sync();
    run.ok();
    assert_eq!(hs.remote_id(ObjectKind::Contact, local), into);
    assert!(
        run.stderr
            .contains(&format!("merged contact `{from}` into `{into}`")),
        "{}",
        run.stderr
    );
}

#[test]
fn two_linked_contacts_merged_in_hubspot_keep_a_failure_saying_to_merge_them_locally() {
    let hs = Hs::start();
    let (ann, bea) = (contact(1), contact(2));
    hs.save_local(&[ann.clone(), bea.clone(), contact(3)]);
    hs.sync().ok();
    let a = hs.remote_id(ObjectKind::Contact, &ann.id);
    let b = hs.remote_id(ObjectKind::Contact, &bea.id);
    hs.sandbox().merge_records("contacts", &b, &a).unwrap();
    tick();
    hs.edit_local(&ann.id, &[("job_title", "Buyer")]);
    let run = hs.sync();
    run.expect_code(3);
    let failures = hs.store().list_failures(Some(CONN)).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let f = &failures[0];
    assert_eq!(f.local_id, ann.id);
    for part in [
        format!("merged contact `{a}`"),
        format!("into HubSpot contact `{b}`"),
        format!("linked to local contact `{}`", bea.id),
        "merge them locally".to_string(),
        format!("archive `{}`", ann.id),
        "crmsync retry".to_string(),
    ] {
        assert!(f.message.contains(&part), "`{part}` not in: {}", f.message);
    }
    assert_eq!(
        hs.remote_id(ObjectKind::Contact, &ann.id),
        a,
        "the link stays"
    );
    assert_eq!(hs.remote_id(ObjectKind::Contact, &bea.id), b);
    // The edit went to the merged contact, and the next sync brings it to the local record
    // linked to it, as the message says.
    assert_eq!(prop(&hs.remote("contacts", &b), "jobtitle"), Some("Buyer"));
    hs.sync().expect_code(3);
    assert_eq!(hs.local_record(&bea.id).get("job_title"), Some("Buyer"));
    assert_eq!(hs.store().list_failures(Some(CONN)).unwrap().len(), 1);

    // Merged locally: Ann's record is archived, the failure re-queued (`crmsync retry`).
    let mut gone = hs.local_record(&ann.id);
    gone.archived_at = Some(now_ms());
    gone.updated_at = now_ms();
    hs.save_local(&[gone]);
    assert_eq!(hs.store().requeue_failures(Some(CONN)).unwrap(), 1);
    hs.sync().ok();
    assert!(hs.store().list_failures(None).unwrap().is_empty());
    let r = hs.remote("contacts", &b);
    assert_eq!(r["archived"], false, "the merged contact stays: {r:#}");
    assert_eq!(hs.local_for(ObjectKind::Contact, &b).id, bea.id);
}

#[test]
fn a_property_deleted_in_hubspot_never_clears_local_values_and_the_rest_of_a_record_syncs() {
    let hs = Hs::start();
    let ann = record(
        ObjectKind::Contact,
        &[
            ("first_name", "Ann"),
            ("email", "ann@example.org"),
            ("pronouns", "she/her"),
        ],
    );
    hs.save_local(std::slice::from_ref(&ann));
    hs.sync().ok();
    let rid = hs.remote_id(ObjectKind::Contact, &ann.id);
    assert_eq!(
        prop(&hs.remote("contacts", &rid), "pronouns"),
        Some("she/her")
    );

    hs.sandbox()
        .delete_property("contacts", "pronouns")
        .unwrap();
    // A local edit while the cached catalogue still lists the property: HubSpot refuses the
    // write naming it; the rest of the change goes through in the same run.
    hs.edit_local(&ann.id, &[("pronouns", "they/them"), ("job_title", "CTO")]);
    let run = hs.sync();
    run.ok();
    assert_eq!(prop(&hs.remote("contacts", &rid), "jobtitle"), Some("CTO"));
    assert_eq!(
        run.stderr.matches("`pronouns`").count(),
        1,
        "one warning per run:\n{}",
        run.stderr
    );

    // HubSpot's reads leave the property out: it is not taken as cleared.
    hs.sandbox()
        .update_record("contacts", &rid, &[("firstname", "Annie")])
        .unwrap();
    hs.sandbox().clear_request_log();
    let run = hs.sync();
    run.ok();
    let local = hs.local_record(&ann.id);
    assert_eq!(
        local.fields.get("first_name").map(String::as_str),
        Some("Annie")
    );
    assert_eq!(
        local.fields.get("pronouns").map(String::as_str),
        Some("they/them"),
        "a deleted property cleared the local value"
    );
    hs.run(&["sync", "--full"]).ok();
    assert_eq!(
        hs.local_record(&ann.id)
            .fields
            .get("pronouns")
            .map(String::as_str),
        Some("they/them")
    );
}

#[test]
fn a_restore_on_either_side_restores_the_other_and_revives_the_link() {
    let hs = Hs::start();
    let ann = record(
        ObjectKind::Contact,
        &[("first_name", "Ann"), ("email", "ann@example.org")],
    );
    let bob = record(
        ObjectKind::Contact,
        &[("first_name", "Bob"), ("email", "bob@example.org")],
    );
    let extra: Vec<Record> = (0..4).map(contact).collect();
    let mut all = vec![ann.clone(), bob.clone()];
    all.extend(extra);
    hs.save_local(&all);
    hs.sync().ok();
    let ann_rid = hs.remote_id(ObjectKind::Contact, &ann.id);

    // Ann is archived in HubSpot while a local edit waits: the edit fails (exit 3), the
    // archive reaches here; then Ann is restored in HubSpot.
    hs.sandbox().archive_record("contacts", &ann_rid).unwrap();
    hs.edit_local(&ann.id, &[("phone", "+1 555 0100")]);
    hs.sync().expect_code(3);
    hs.run(&["sync", "--full"]);
    assert!(hs.local_record(&ann.id).archived_at.is_some());
    hs.sandbox().restore_record("contacts", &ann_rid).unwrap();
    hs.sandbox()
        .update_record("contacts", &ann_rid, &[("firstname", "Annie")])
        .unwrap();
    let run = hs.sync();
    run.ok();
    let local = hs.local_record(&ann.id);
    assert_eq!(
        local.archived_at, None,
        "a restore in HubSpot left the record archived here"
    );
    assert_eq!(
        local.fields.get("first_name").map(String::as_str),
        Some("Annie")
    );
    assert_eq!(hs.remote_id(ObjectKind::Contact, &ann.id), ann_rid);
    // The link is live again: a local edit reaches HubSpot.
    hs.edit_local(&ann.id, &[("job_title", "CTO")]);
    hs.sync().ok();
    assert_eq!(
        prop(&hs.remote("contacts", &ann_rid), "jobtitle"),
        Some("CTO")
    );

    // Bob is archived here, so in HubSpot; then restored here. HubSpot's API cannot restore
    // a record, so Bob is created there again, with his email.
    let mut archived = hs.local_record(&bob.id);
    archived.archived_at = Some(now_ms());
    hs.save_local(&[archived]);
    hs.sync().ok();
    let old = hs.remote_id(ObjectKind::Contact, &bob.id);
    assert_eq!(hs.remote("contacts", &old)["archived"], true);
    let mut restored = hs.local_record(&bob.id);
    restored.archived_at = None;
    restored.updated_at = now_ms();
    hs.save_local(&[restored]);
    hs.sync().ok();
    let new = hs.remote_id(ObjectKind::Contact, &bob.id);
    let remote = hs.remote("contacts", &new);
    assert_eq!(
        remote["archived"], false,
        "a restore here left HubSpot's record archived"
    );
    assert_eq!(prop(&remote, "email"), Some("bob@example.org"));
    hs.assert_sync_writes_nothing();
}

#[test]
fn an_owner_given_as_an_email_is_sent_as_the_owners_id_and_read_back_as_the_email() {
    let hs = Hs::start();
    let ann = record(
        ObjectKind::Contact,
        &[
            ("first_name", "Ann"),
            ("email", "ann@example.org"),
            ("owner", "Grace.Hopper@example.com"),
        ],
    );
    let bob = record(
        ObjectKind::Contact,
        &[
            ("first_name", "Bob"),
            ("email", "bob@example.org"),
            ("owner", "nobody@example.com"),
        ],
    );
    hs.save_local(&[ann.clone(), bob.clone()]);
    hs.sync().expect_code(3);
    let ann_rid = hs.remote_id(ObjectKind::Contact, &ann.id);
    // Grace Hopper is the sandbox's second owner.
    assert_eq!(
        prop(&hs.remote("contacts", &ann_rid), "hubspot_owner_id"),
        Some("71000002")
    );
    // An email no owner has is one failure naming it.
    let failed = hs.run(&["status", "--failed", "--json"]);
    let v = failed.json();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 1, "{v:#}");
    assert_eq!(list[0]["local_id"], bob.id.0.as_str());
    assert!(
        list[0]["message"]
            .as_str()
            .unwrap()
            .contains("nobody@example.com"),
        "{v:#}"
    );
    // Nothing goes back and forth: the local owner stays as written.
    let mut fixed = hs.local_record(&bob.id);
    fixed.fields.remove("owner");
    fixed.updated_at = now_ms();
    hs.save_local(&[fixed]);
    hs.sync().ok();
    hs.assert_sync_writes_nothing();
    assert_eq!(
        hs.local_record(&ann.id)
            .fields
            .get("owner")
            .map(String::as_str),
        Some("Grace.Hopper@example.com")
    );
    // An owner changed in HubSpot reads as the owner's email.
    hs.sandbox()
        .update_record("contacts", &ann_rid, &[("hubspot_owner_id", "71000003")])
        .unwrap();
    hs.sync().ok();
    assert_eq!(
        hs.local_record(&ann.id)
            .fields
            .get("owner")
            .map(String::as_str),
        Some("alan.turing@example.com")
    );
}
