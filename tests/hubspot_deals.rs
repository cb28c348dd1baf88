//! Deals synced with HubSpot's deals both ways: the crmsync binary against the HubSpot
//! sandbox, local records written into the state file as an import would leave them, HubSpot's
//! side read and edited through the sandbox.

mod common;

use common::crm::{HubSpotCrm, Synced, TestCrm, record, tick};
use crmsync::model::{ObjectKind, Record};
use serde_json::Value;

use ObjectKind::{Company, Deal};

type World = Synced<HubSpotCrm>;

/// The connection syncs deals (they are read only when `objects` names them).
const WITH_DEALS: &str = "objects = [\"company\", \"contact\", \"deal\"]\n";

/// Every deal in HubSpot (archived ones too).
fn deals(w: &World) -> Vec<Value> {
    w.crm.sandbox.dump()["deals"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The properties of HubSpot deal `id`.
fn deal(w: &World, id: &str) -> Value {
    deals(w)
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no deal `{id}` in HubSpot"))
}

fn local_deal(name: &str, stage: &str, pipeline: &str) -> Record {
    record(
        Deal,
        &[
            ("name", name),
            ("stage", stage),
            ("pipeline", pipeline),
            ("amount", "1200.5"),
            ("currency", "EUR"),
            ("close_date", "2026-06-30"),
        ],
    )
}

/// A world whose connection syncs deals, its deal properties set up.
fn syncing_deals() -> World {
    let w = World::start();
    w.config("", WITH_DEALS);
    w.run(&["mappings", "setup", "-c", "crm"]).ok();
    w
}

fn with_deals(records: &[Record]) -> World {
    let w = syncing_deals();
    w.save_local(records);
    w.sync().ok();
    w
}

#[test]
fn stages_given_by_label_or_by_id_reach_hubspot_as_stage_ids_and_come_back() {
    let by_label = local_deal("Big one", "Contract Sent", "Sales Pipeline");
    let by_id = local_deal("Small one", "closedwon", "default");
    let renewal = local_deal("Renewal", "Renewed", "renewals");
    let w = with_deals(&[by_label.clone(), by_id.clone(), renewal.clone()]);

    for (r, stage, pipeline) in [
        (&by_label, "contractsent", "default"),
        (&by_id, "closedwon", "default"),
        (&renewal, "renewal_won", "renewals"),
    ] {
        let props = &deal(&w, &w.remote_id(Deal, &r.id))["properties"];
        assert_eq!(props["dealstage"], stage, "{props}");
        assert_eq!(props["pipeline"], pipeline, "{props}");
        assert_eq!(props["dealname"], r.get("name").unwrap(), "{props}");
        assert_eq!(props["amount"], "1200.5", "{props}");
        assert_eq!(props["deal_currency_code"], "EUR", "{props}");
    }
    // The labels kept locally are the same values as the ids HubSpot holds.
    w.assert_sync_writes_nothing();
    assert_eq!(
        w.local_record(&by_label.id).get("stage"),
        Some("Contract Sent")
    );

    // A deal made in HubSpot comes back with its stage and pipeline ids.
    tick();
    let made = w
        .crm
        .sandbox
        .create_record(
            "deals",
            &[
                ("dealname", "From HubSpot"),
                ("dealstage", "qualifiedtobuy"),
                ("pipeline", "default"),
                ("amount", "99"),
            ],
        )
        .unwrap();
    w.sync().ok();
    let local = w.local_for(Deal, made["id"].as_str().unwrap());
    assert_eq!(local.get("name"), Some("From HubSpot"));
    assert_eq!(local.get("stage"), Some("qualifiedtobuy"));
    assert_eq!(local.get("pipeline"), Some("default"));
    assert_eq!(local.get("amount"), Some("99"));
    w.assert_sync_writes_nothing();
}

#[test]
fn an_edit_on_each_side_and_an_archive_both_ways_reach_the_other() {
    let a = local_deal("Alpha", "Appointment Scheduled", "default");
    let b = local_deal("Beta", "qualifiedtobuy", "default");
    let w = with_deals(&[a.clone(), b.clone()]);
    let (ra, rb) = (w.remote_id(Deal, &a.id), w.remote_id(Deal, &b.id));

    // Local edit: the stage moves by label.
    tick();
    w.edit_local(&a.id, &[("stage", "Closed Won"), ("amount", "5000")]);
    w.sync().ok();
    let props = &deal(&w, &ra)["properties"];
    assert_eq!(props["dealstage"], "closedwon", "{props}");
    assert_eq!(props["amount"], "5000", "{props}");

    // HubSpot edit: the stage moves by id.
    tick();
    w.crm
        .sandbox
        .update_record("deals", &rb, &[("dealstage", "closedlost")])
        .unwrap();
    w.sync().ok();
    assert_eq!(w.local_record(&b.id).get("stage"), Some("closedlost"));

    // Archived here, archived there; archived there, archived here (HubSpot's archives are
    // listed by a full read).
    tick();
    w.archive_local(&a.id);
    w.crm.sandbox.archive_record("deals", &rb).unwrap();
    // A full read lists HubSpot's archives; both linked deals go, past the archive guard.
    w.run(&["sync", "--full", "--force"]).ok();
    assert_eq!(deal(&w, &ra)["archived"], true);
    assert!(w.local_record(&b.id).archived_at.is_some());
    w.assert_sync_writes_nothing();
}

#[test]
fn a_stage_the_pipeline_does_not_have_is_reported_for_that_deal_alone() {
    let good = local_deal("Good", "Contract Sent", "default");
    // `Renewed` is a stage of the renewals pipeline, not of the sales pipeline.
    let bad = local_deal("Bad", "Renewed", "default");
    let w = syncing_deals();
    w.save_local(&[good.clone(), bad.clone()]);
    w.sync().expect_code(3);
    let live: Vec<Value> = deals(&w);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["properties"]["dealname"], "Good");
    let failures = w.store().list_failures(None).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].local_id, bad.id, "{failures:?}");
    assert!(failures[0].message.contains("renewal_won"), "{failures:?}");
}

#[test]
fn a_connection_that_does_not_sync_deals_makes_no_deal_calls() {
    let w = World::start();
    w.save_local(&[
        local_deal("Alpha", "closedwon", "default"),
        record(Company, &[("name", "Acme"), ("domain", "acme.example")]),
    ]);
    w.crm.clear_request_log();
    w.sync().ok();
    let log = w.crm.request_log();
    assert!(!log.is_empty());
    let dealt: Vec<_> = log
        .iter()
        .filter(|c| c.path.contains("deals"))
        .map(|c| c.path.clone())
        .collect();
    assert_eq!(dealt, Vec::<String>::new());
    assert!(deals(&w).is_empty());
}
