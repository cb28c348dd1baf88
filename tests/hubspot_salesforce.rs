//! HubSpot and Salesforce synced through the local store: both sandboxes in this process, one
//! crmsync environment with a connection to each (`hubspot` and `salesforce`), and the binary
//! run as a user runs it. What one CRM's users do reaches the other in one `crmsync sync`; an
//! edit of one field in both CRMs is one conflict, decided by the field's policy; and a
//! further sync writes nothing in either CRM, counted in both sandboxes' request logs.
//! (`tests/hubspot_pipedrive.rs` is the same for Pipedrive.)

mod common;

use common::both::{Both, HS, SF};
use common::crm::{TestCrm, linked_local, tick};
use crmsync::model::{ObjectKind, Record};
use crmsync::store::ConflictFilter;
use serde_json::json;

use ObjectKind::{Activity, Contact};

/// A HubSpot connection syncs activities only when its `objects` names them (a Salesforce
/// one does by default).
const HUBSPOT_ACTIVITIES: &str = "objects = [\"company\", \"contact\", \"activity\"]\n";

impl Both {
    fn start() -> Both {
        Both::with_hubspot("")
    }

    /// With `hubspot` added to the HubSpot connection's table.
    fn with_hubspot(hubspot: &str) -> Both {
        Both::with(hubspot, "", "")
    }

    fn local_for(&self, conn: &str, kind: ObjectKind, remote_id: &str) -> Record {
        linked_local(&self.store(), conn, kind, remote_id)
    }
}

/// Both CRMs after a first sync of 3 HubSpot contacts and one Salesforce contact.
fn synced() -> (Both, Vec<String>, String) {
    synced_with(Both::start())
}

fn synced_with(w: Both) -> (Both, Vec<String>, String) {
    let (ids, _) = w.hs.seed(3, 0);
    let sf_id = w.sf.create(
        Contact,
        &[
            ("first_name", "Sol"),
            ("last_name", "Force"),
            ("email", "sol@sf.example"),
        ],
    );
    w.sync().ok();
    assert_eq!((w.hs.live(Contact).len(), w.sf.live(Contact).len()), (4, 4));
    (w, ids, sf_id)
}

#[test]
fn a_change_in_either_crm_reaches_the_other_in_one_sync_and_a_further_sync_writes_nothing() {
    let (w, ids, sf_id) = synced();
    w.assert_sync_writes_nothing();
    // HubSpot to Salesforce.
    let sf_of_hs = w.across(HS, SF, Contact, &ids[0]);
    w.hs.edit(Contact, &ids[0], &[("phone", "+1 555 0100")]);
    w.sync().ok();
    assert_eq!(
        w.sf.record(Contact, &sf_of_hs).get("phone"),
        Some("+1 555 0100")
    );
    // Salesforce to HubSpot.
    tick();
    let hs_of_sf = w.across(SF, HS, Contact, &sf_id);
    w.sf.edit(Contact, &sf_id, &[("job_title", "Admin")]);
    w.sync().ok();
    assert_eq!(
        w.hs.record(Contact, &hs_of_sf).get("job_title"),
        Some("Admin")
    );
    assert_eq!(
        w.local_for(SF, Contact, &sf_id).get("job_title"),
        Some("Admin")
    );
    w.assert_sync_writes_nothing();
}

#[test]
fn the_same_field_edited_in_both_crms_is_one_conflict_the_newest_edit_wins() {
    let (w, ids, _) = synced();
    let sf_id = w.across(HS, SF, Contact, &ids[0]);
    w.hs.edit(Contact, &ids[0], &[("job_title", "From HubSpot")]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    w.sf.edit(Contact, &sf_id, &[("job_title", "From Salesforce")]);
    tick();
    w.sync().ok();
    let titles = [
        w.hs.record(Contact, &ids[0])
            .get("job_title")
            .map(str::to_string),
        w.sf.record(Contact, &sf_id)
            .get("job_title")
            .map(str::to_string),
        w.local_for(HS, Contact, &ids[0])
            .get("job_title")
            .map(str::to_string),
    ];
    let won = Some("From Salesforce".to_string());
    assert_eq!(
        titles,
        [won.clone(), won.clone(), won],
        "(HubSpot, Salesforce, local)"
    );
    let conflicts = w
        .store()
        .list_conflicts(&ConflictFilter::default())
        .unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    w.assert_sync_writes_nothing();
}

/// The Salesforce Task `id` as the org holds it.
fn sf_task(w: &Both, id: &str) -> serde_json::Value {
    w.sf.sandbox.dump()["Task"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["Id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no Task `{id}` in Salesforce"))
}

#[test]
fn a_task_logged_in_salesforce_is_a_hubspot_engagement_on_the_linked_contact_and_back() {
    let (w, ids, sf_id) = synced_with(Both::with_hubspot(HUBSPOT_ACTIVITIES));
    let (hs_of_sf, sf_of_hs) = (
        w.across(SF, HS, Contact, &sf_id),
        w.across(HS, SF, Contact, &ids[0]),
    );
    // A Salesforce user logs a call against the Salesforce contact.
    let task =
        w.sf.sandbox
            .create_record(
                "Task",
                &json!({"WhoId": sf_id, "Subject": "Renewal call", "TaskSubtype": "Call",
                    "Status": "Completed", "ActivityDate": "2026-03-02",
                    "Description": "Wants two more seats"}),
            )
            .unwrap()["Id"]
            .as_str()
            .unwrap()
            .to_string();
    // A HubSpot user logs a call on the HubSpot contact's timeline.
    let call =
        w.hs.sandbox
            .create_record(
                "calls",
                &[
                    ("hs_call_title", "Intro call"),
                    ("hs_call_body", "Asked for a demo"),
                    ("hs_timestamp", "2026-03-03T09:00:00Z"),
                ],
            )
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
    w.hs.sandbox
        .link_engagement(("calls", &call), ("contacts", &ids[0]), true)
        .unwrap();
    tick();
    w.sync().ok();

    // The Salesforce Task is a HubSpot call, on the HubSpot contact of the same person.
    let engagement = w.across(SF, HS, Activity, &task);
    let own = engagement
        .strip_prefix("call:")
        .unwrap_or_else(|| panic!("`{engagement}` is no call"));
    let props = w.hs.sandbox.dump()["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == own)
        .cloned()
        .unwrap()["properties"]
        .clone();
    assert_eq!(props["hs_call_title"], "Renewal call");
    assert_eq!(props["hs_call_body"], "Wants two more seats");
    assert_eq!(
        w.hs.sandbox.associated("calls", own, "contacts"),
        std::slice::from_ref(&hs_of_sf)
    );
    // In the local timeline against the contact both CRMs link.
    let local = w.local_for(SF, Activity, &task);
    assert_eq!(local.get("type"), Some("call"));
    assert_eq!(
        local.get("contact_id"),
        Some(w.local_for(SF, Contact, &sf_id).id.as_str())
    );

    // The HubSpot call is a Salesforce Task, of the Salesforce contact of the same person.
    let logged = sf_task(&w, &w.across(HS, SF, Activity, &format!("call:{call}")));
    assert_eq!(logged["Subject"], "Intro call");
    assert_eq!(logged["TaskSubtype"], "Call");
    assert_eq!(logged["Description"], "Asked for a demo");
    assert_eq!(logged["ActivityDate"], "2026-03-03");
    assert_eq!(logged["WhoId"], json!(sf_of_hs));
    // One of each in each CRM, and a further sync writes nothing anywhere.
    assert_eq!(w.sf.sandbox.dump()["Task"].as_array().unwrap().len(), 2);
    assert_eq!(w.hs.sandbox.dump()["calls"].as_array().unwrap().len(), 2);
    w.assert_sync_writes_nothing();
}
