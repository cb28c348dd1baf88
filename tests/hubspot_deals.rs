//! Deals synced with HubSpot's deals both ways: the crmsync binary against the HubSpot
//! sandbox, local records written into the state file as an import would leave them, HubSpot's
//! side read and edited through the sandbox.

mod common;

use common::crm::{HubSpotCrm, Synced, TestCrm, contact, record, tick};
use crmsync::model::{ObjectKind, Record, RecordId};
use serde_json::Value;

use ObjectKind::{Company, Contact, Deal};

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

/// What HubSpot is told of a deal whose stage its pipeline does not have, named by
/// `mappings check` and by the failure a sync keeps.
const RENEWED_IN_SALES: &str = "stage `renewal_won` (Renewed) is not a stage of pipeline \
    `default` (Sales Pipeline), whose stages are `appointmentscheduled` (Appointment \
    Scheduled), `qualifiedtobuy` (Qualified To Buy), `presentationscheduled` (Presentation \
    Scheduled), `decisionmakerboughtin` (Decision Maker Bought-In), `contractsent` (Contract \
    Sent), `closedwon` (Closed Won), `closedlost` (Closed Lost): set the deal's stage to one \
    of them (by label or id), or its pipeline to the one the stage belongs to";

#[test]
fn a_stage_the_pipeline_does_not_have_is_reported_for_that_deal_alone() {
    let good = local_deal("Good", "Contract Sent", "default");
    // `Renewed` is a stage of the renewals pipeline, not of the sales pipeline.
    let bad = local_deal("Bad", "Renewed", "default");
    let w = syncing_deals();
    w.save_local(&[good.clone(), bad.clone()]);
    w.crm.clear_request_log();
    w.sync().expect_code(3);
    let live: Vec<Value> = deals(&w);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["properties"]["dealname"], "Good");
    let failures = w.store().list_failures(None).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].local_id, bad.id, "{failures:?}");
    assert!(failures[0].message.contains("renewal_won"), "{failures:?}");
    // Refused before it was sent: no call carried it, so HubSpot never refused it.
    assert_eq!(failures[0].message, RENEWED_IN_SALES, "{failures:?}");
    let carried: Vec<_> = w
        .crm
        .sandbox
        .request_log()
        .into_iter()
        .filter(|c| {
            c.body
                .as_deref()
                .is_some_and(|b| b.contains(bad.id.as_str()))
        })
        .map(|c| c.path)
        .collect();
    assert_eq!(carried, Vec::<String>::new());
}

#[test]
fn mappings_check_names_each_deal_whose_stage_its_pipeline_lacks_before_any_sync() {
    let good = local_deal("Good", "Contract Sent", "Sales Pipeline");
    let by_label = local_deal("By label", "Renewed", "Sales Pipeline");
    let by_id = local_deal("By id", "closedwon", "renewals");
    let w = syncing_deals();
    w.save_local(&[good.clone(), by_label.clone(), by_id.clone()]);
    w.crm.clear_request_log();

    let check = w.run(&["mappings", "check", "-c", "crm"]);
    assert_eq!(check.code, 1, "{check:?}");
    // Each refused deal by its id, with the stage, the pipeline and the pipeline's stages.
    assert!(
        check
            .stderr
            .contains(&format!("deal `{}`: {RENEWED_IN_SALES}", by_label.id)),
        "{}",
        check.stderr
    );
    assert!(
        check.stderr.contains(&format!(
            "deal `{}`: stage `closedwon` (Closed Won) is not a stage of pipeline `renewals` \
             (Renewals), whose stages are `renewal_new` (New), `renewal_won` (Renewed)",
            by_id.id
        )),
        "{}",
        check.stderr
    );
    assert!(!check.stderr.contains(good.id.as_str()), "{}", check.stderr);
    assert!(
        check
            .stdout
            .contains("2 local record(s) the CRM would refuse, listed below"),
        "{}",
        check.stdout
    );
    let json = w.run(&["mappings", "check", "-c", "crm", "--json"]).json();
    let stage = json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["object"] == "deal" && r["field"] == "stage")
        .unwrap()
        .clone();
    assert_eq!(stage["problem"], true, "{stage}");
    let refused: Vec<&str> = stage["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        refused,
        [by_label.id.as_str(), by_id.id.as_str()],
        "{stage}"
    );
    // The check wrote nothing.
    let wrote: Vec<_> = w
        .crm
        .request_log()
        .into_iter()
        .filter(|c| c.method != "GET")
        .map(|c| c.path)
        .collect();
    assert_eq!(wrote, Vec::<String>::new());

    // The sync fails the same deals in the same words and sends the good one.
    w.sync().expect_code(3);
    let mut failures: Vec<(String, String)> = w
        .store()
        .list_failures(None)
        .unwrap()
        .into_iter()
        .map(|f| (f.local_id.0, f.message))
        .collect();
    failures.sort();
    for (id, message) in &failures {
        let said = format!("deal `{id}`: {message}");
        assert!(check.stderr.contains(&said), "{said}\n{}", check.stderr);
    }
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(deals(&w).len(), 1);

    // Mended (the stage set to one of the pipeline's), the deal goes and the check passes.
    tick();
    w.edit_local(&by_label.id, &[("stage", "Closed Won")]);
    w.edit_local(&by_id.id, &[("stage", "Renewed")]);
    w.run(&["retry"]).ok();
    w.sync().ok();
    assert_eq!(deals(&w).len(), 3);
    w.run(&["mappings", "check", "-c", "crm"]).ok();

    // An update is judged by the whole deal it leaves: a stage moved out of the deal's
    // pipeline (which the update does not send) is refused the same way.
    tick();
    w.edit_local(&good.id, &[("stage", "Renewed"), ("amount", "8")]);
    w.sync().expect_code(3);
    let failures = w.store().failures_of_record(&good.id).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].message, RENEWED_IN_SALES);
    let props = &deal(&w, &w.remote_id(Deal, &good.id))["properties"];
    assert_eq!(props["dealstage"], "contractsent", "{props}");
    assert_eq!(props["amount"], "1200.5", "{props}");
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

#[test]
fn a_deal_goes_with_its_contact_and_company_and_a_change_of_them_comes_back() {
    let co = record(Company, &[("name", "Acme"), ("domain", "acme.example")]);
    let mut c = contact(1);
    c.fields.insert("company_id".into(), co.id.0.clone());
    let mut d = local_deal("Acme deal", "Contract Sent", "default");
    d.fields.insert("contact_id".into(), c.id.0.clone());
    d.fields.insert("company_id".into(), co.id.0.clone());
    let w = syncing_deals();
    w.save_local(std::slice::from_ref(&co));
    w.save_local(std::slice::from_ref(&c));
    w.save_local(std::slice::from_ref(&d));
    w.sync().ok();
    let rd = w.remote_id(Deal, &d.id);
    assert_eq!(
        w.crm.sandbox.associated("deals", &rd, "contacts"),
        [w.remote_id(Contact, &c.id)]
    );
    assert_eq!(
        w.crm.sandbox.associated("deals", &rd, "companies"),
        [w.remote_id(Company, &co.id)]
    );
    w.assert_sync_writes_nothing();

    // In HubSpot the deal moves to another contact: the local deal follows.
    let other = contact(2);
    w.save_local(std::slice::from_ref(&other));
    w.sync().ok();
    let (old_c, new_c) = (w.remote_id(Contact, &c.id), w.remote_id(Contact, &other.id));
    tick();
    w.crm
        .sandbox
        .link_engagement(("deals", &rd), ("contacts", &old_c), false)
        .unwrap();
    w.crm
        .sandbox
        .link_engagement(("deals", &rd), ("contacts", &new_c), true)
        .unwrap();
    // The association alone does not move the deal's last-modified time: a property edit
    // brings it into the change feed.
    w.crm
        .sandbox
        .update_record("deals", &rd, &[("amount", "7")])
        .unwrap();
    w.sync().ok();
    let local = w.local_record(&d.id);
    assert_eq!(local.get("contact_id"), Some(other.id.as_str()));
    assert_eq!(local.get("amount"), Some("7"));
    w.assert_sync_writes_nothing();
}

#[test]
fn a_deal_for_a_company_not_linked_yet_waits_then_goes() {
    let w = syncing_deals();
    w.config(
        "",
        &format!("{WITH_DEALS}[connections.crm.company]\ncreate_when = \"industry == 'Design'\"\n"),
    );
    let co = record(
        Company,
        &[
            ("name", "Acme"),
            ("domain", "acme.example"),
            ("industry", "Other"),
        ],
    );
    let mut d = local_deal("Acme deal", "closedwon", "default");
    d.fields.insert("company_id".into(), co.id.0.clone());
    w.save_local(std::slice::from_ref(&co));
    w.save_local(std::slice::from_ref(&d));
    w.sync();
    assert!(w.crm.live(Company).is_empty());
    assert!(deals(&w).is_empty(), "{:?}", deals(&w));

    w.edit_local(&co.id, &[("industry", "Design")]);
    w.sync().ok();
    let rd = w.remote_id(Deal, &d.id);
    assert_eq!(
        w.crm.sandbox.associated("deals", &rd, "companies"),
        [w.remote_id(Company, &co.id)]
    );
    w.assert_sync_writes_nothing();
}

#[test]
fn deals_and_their_companies_through_failing_calls_arrive_once_each() {
    let w = syncing_deals();
    let companies: Vec<Record> = (0..5)
        .map(|i| {
            record(
                Company,
                &[
                    ("name", &format!("Co {i}")),
                    ("domain", &format!("co{i}.example")),
                ],
            )
        })
        .collect();
    let made: Vec<Record> = (0..30)
        .map(|i| {
            let stage = ["Contract Sent", "closedwon", "qualifiedtobuy"][i % 3];
            let mut d = local_deal(&format!("Deal {i}"), stage, "default");
            d.fields
                .insert("company_id".into(), companies[i % 5].id.0.clone());
            d
        })
        .collect();
    w.save_local(&companies);
    w.save_local(&made);
    w.crm.fail_calls(0.2);
    for _ in 0..20 {
        if w.sync().code == 0 {
            break;
        }
    }
    w.crm.fail_calls(0.0);
    w.sync().ok();
    let live: Vec<Value> = deals(&w)
        .into_iter()
        .filter(|d| d["archived"] != true)
        .collect();
    assert_eq!(live.len(), 30, "{live:?}");
    for d in &made {
        let rd = w.remote_id(Deal, &d.id);
        let co = w.remote_id(Company, &RecordId(d.get("company_id").unwrap().to_string()));
        assert_eq!(w.crm.sandbox.associated("deals", &rd, "companies"), [co]);
    }
    w.assert_sync_writes_nothing();
}

#[test]
fn a_deal_in_status_explain_log_and_conflicts() {
    let w = World::with("[sync]\nconflict_policy = \"manual\"\n");
    w.config("[sync]\nconflict_policy = \"manual\"\n", WITH_DEALS);
    w.run(&["mappings", "setup", "-c", "crm"]).ok();
    let d = local_deal("Acme renewal", "Contract Sent", "Sales Pipeline");
    w.save_local(std::slice::from_ref(&d));
    w.sync().ok();
    let rd = w.remote_id(Deal, &d.id);

    // `status` counts the deal, locally and synced.
    let status = w.run(&["status", "--json"]);
    let status = status.ok().json();
    assert_eq!(status["local"]["deal"]["active"], 1, "{status}");
    let deals_synced = status["connections"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "deal")
        .unwrap()["synced"]
        .clone();
    assert_eq!(deals_synced, 1, "{status}");

    // `explain`: the stage and pipeline kept by label locally are in step with the ids
    // HubSpot holds (the same options), so the next sync sends nothing.
    let explained = w.run(&["explain", d.id.as_str(), "--json"]).ok().json();
    let fields = explained["connections"][0]["fields"].as_array().unwrap();
    let next = |name: &str| {
        fields.iter().find(|f| f["field"] == name).unwrap()["next"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(explained["kind"], "deal");
    assert_eq!(explained["connections"][0]["remote_id"], rd.as_str());
    for name in ["name", "stage", "pipeline", "amount", "close_date"] {
        assert_eq!(next(name), "nothing: in step", "{name}: {explained}");
    }
    assert_eq!(explained["connections"][0]["pending"], false, "{explained}");

    // Both sides change the amount: the conflict is held for a person.
    tick();
    w.crm
        .sandbox
        .update_record("deals", &rd, &[("amount", "900")])
        .unwrap();
    tick();
    w.edit_local(&d.id, &[("amount", "1000")]);
    w.sync().expect_code(3);
    let conflicts = w.run(&["conflicts", "list", "--json"]).ok().json();
    assert_eq!(conflicts.as_array().unwrap().len(), 1, "{conflicts}");
    let c = &conflicts[0];
    assert_eq!(
        (&c["kind"], &c["field"], &c["local"], &c["remote"]),
        (
            &"deal".into(),
            &"amount".into(),
            &"1000".into(),
            &"900".into()
        ),
        "{c}"
    );
    let id = c["id"].as_i64().unwrap().to_string();
    let show = w.run(&["conflicts", "show", &id]).ok().stdout.clone();
    assert!(show.contains("deal Acme renewal"), "{show}");
    // `explain` by the HubSpot id names the held conflict.
    let held = w
        .run(&["explain", &format!("crm:{rd}"), "amount"])
        .ok()
        .stdout
        .clone();
    assert!(
        held.contains(&format!(
            "held: conflict {id} waits for `crmsync conflicts resolve`"
        )),
        "{held}"
    );
    w.run(&["conflicts", "resolve", &id, "--take", "remote"])
        .ok();
    w.sync().ok();
    assert_eq!(w.local_record(&d.id).get("amount"), Some("900"));
    assert_eq!(deal(&w, &rd)["properties"]["amount"], "900");

    // `log --record`: the deal's amount, each change with its side and cause.
    let trail = w
        .run(&[
            "log",
            "--record",
            d.id.as_str(),
            "--field",
            "amount",
            "--json",
        ])
        .ok()
        .json();
    let changes: Vec<(String, String)> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["new"].as_str().unwrap_or_default().to_string(),
                e["cause"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        changes.contains(&("900".into(), "conflict-resolved".into())),
        "{trail}"
    );
    assert!(changes.contains(&("1000".into(), "user".into())), "{trail}");
    // `log`: the runs, with the deal counted.
    let runs = w.run(&["log"]).ok().stdout.clone();
    assert!(runs.contains("crm.deal.held conflicts 1"), "{runs}");
    assert!(runs.contains("crm.deal.remote create 1"), "{runs}");
}

#[test]
fn deals_through_import_and_export_in_csv_and_jsonl_with_the_same_reports() {
    let w = syncing_deals();
    let co = record(Company, &[("name", "Acme"), ("domain", "acme.example")]);
    w.save_local(std::slice::from_ref(&co));
    w.env.write(
        "deals.csv",
        &format!(
            "name,stage,pipeline,amount,currency,close_date,company_id\n\
             Big one,Contract Sent,Sales Pipeline,1200.5,EUR,2026-06-30,{co}\n\
             Bad amount,closedwon,default,lots,EUR,2026-06-30,\n\
             Small one,closedwon,default,99,USD,2026-07-01,\n",
            co = co.id
        ),
    );
    // The report of a contacts import: counts, and each rejected row by line and column.
    let run = w.run(&["import", "deals.csv", "--object", "deal", "--json"]);
    run.expect_code(3);
    let report = run.json();
    assert_eq!(report["kind"], "deal", "{report}");
    assert_eq!(
        (&report["rows"], &report["loaded"], &report["rejected"]),
        (&3.into(), &2.into(), &1.into()),
        "{report}"
    );
    assert_eq!(report["rejections"][0]["line"], 3, "{report}");
    assert_eq!(report["rejections"][0]["column"], "amount", "{report}");
    // Deals have no match key: the hint says a row imported twice is two deals.
    w.env.write(
        "bad.csv",
        "name,stage,pipeline,amount\nBad amount,closedwon,default,lots\n",
    );
    let text = w.run(&["import", "bad.csv", "--object", "deal"]);
    text.expect_code(3);
    assert!(
        text.stdout
            .contains("column `amount`: `lots` is not a number"),
        "{}",
        text.stdout
    );
    assert!(
        text.stderr
            .contains("a deal row without an `id` has no match key"),
        "{}",
        text.stderr
    );

    // Exported and imported again, in either format, nothing changes.
    for (file, format) in [("out.csv", "csv"), ("out.jsonl", "jsonl")] {
        w.run(&["export", "--object", "deal", "-o", file]).ok();
        let again = w
            .run(&["import", file, "--object", "deal", "--json"])
            .ok()
            .json();
        assert_eq!(again["format"], format, "{again}");
        assert_eq!(
            (&again["rows"], &again["unchanged"], &again["loaded"]),
            (&2.into(), &2.into(), &0.into()),
            "{again}"
        );
    }
    let jsonl = std::fs::read_to_string(w.env.path("out.jsonl")).unwrap();
    let big: Value = jsonl
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["name"] == "Big one")
        .unwrap();
    assert_eq!(big["stage"], "Contract Sent", "{big}");
    assert_eq!(big["amount"], 1200.5, "{big}");
    assert_eq!(big["company_id"], co.id.as_str(), "{big}");

    // The imported deals reach HubSpot, the stage by its id, with their company.
    w.sync().ok();
    let live = deals(&w);
    assert_eq!(live.len(), 2, "{live:?}");
    let big_id = RecordId(big["id"].as_str().unwrap().to_string());
    let rd = w.remote_id(Deal, &big_id);
    assert_eq!(deal(&w, &rd)["properties"]["dealstage"], "contractsent");
    assert_eq!(
        w.crm.sandbox.associated("deals", &rd, "companies"),
        [w.remote_id(Company, &co.id)]
    );
}

/// A user's edit of `id` (of HubSpot's `object_type`) that lands just before crmsync's
/// `nth` search of that object: it moves the record from a page already read to the end of
/// a read ordered by last change.
fn edit_before_search(w: &World, nth: u32, object_type: &str, id: &str, properties: Value) {
    w.crm.sandbox.edit_before(crmsync::sandbox::EditBefore {
        method: "POST".into(),
        path_contains: format!("/{object_type}/search"),
        nth,
        object_type: object_type.into(),
        id: id.into(),
        properties,
    });
}

#[test]
fn deals_and_calls_edited_in_hubspot_between_two_pages_of_a_read_are_all_read() {
    // crmsync reads 40 records a page.
    let w = World::paged(40);
    w.config(
        "",
        "objects = [\"company\", \"contact\", \"deal\", \"activity\"]\n",
    );
    w.run(&["mappings", "setup", "-c", "crm"]).ok();
    let contact_id = w.crm.sandbox.seed(1, 0).0[0].clone();
    let mut deal_ids = Vec::new();
    let mut call_ids = Vec::new();
    for i in 0..120 {
        let made = w
            .crm
            .sandbox
            .create_record(
                "deals",
                &[
                    ("dealname", &format!("Deal {i}")),
                    ("dealstage", "appointmentscheduled"),
                    ("pipeline", "default"),
                ],
            )
            .unwrap();
        deal_ids.push(made["id"].as_str().unwrap().to_string());
        let call = w
            .crm
            .sandbox
            .create_record(
                "calls",
                &[
                    ("hs_call_title", &format!("Call {i}")),
                    ("hs_timestamp", "2026-03-02T09:00:00Z"),
                ],
            )
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        w.crm
            .sandbox
            .link_engagement(("calls", &call), ("contacts", &contact_id), true)
            .unwrap();
        call_ids.push(call);
    }
    // Deal `i` renamed and call `i` retitled "during the {read}", each just before the second
    // page of its object's read.
    let edit_both_before_page_two = |i: usize, read: &str| {
        edit_before_search(
            &w,
            2,
            "deals",
            &deal_ids[i],
            serde_json::json!({"dealname": format!("Renamed during the {read}")}),
        );
        edit_before_search(
            &w,
            2,
            "calls",
            &call_ids[i],
            serde_json::json!({"hs_call_title": format!("Retitled during the {read}")}),
        );
    };
    // First sync: a deal and a call of the first page are edited before the second page.
    edit_both_before_page_two(3, "first read");
    w.sync().ok();
    let live = |kind| {
        w.local(kind)
            .into_iter()
            .filter(|r| r.archived_at.is_none())
            .count()
    };
    assert_eq!(live(Deal), 120, "every deal read once");
    assert_eq!(live(ObjectKind::Activity), 120, "every call read once");
    assert_eq!(
        w.local_for(Deal, &deal_ids[3]).get("name"),
        Some("Renamed during the first read")
    );
    assert_eq!(
        w.local_for(ObjectKind::Activity, &format!("call:{}", call_ids[3]))
            .get("subject"),
        Some("Retitled during the first read")
    );

    // Delta sync: 100 deals and calls changed since, and one more of each edited between two
    // pages of the read that brings them.
    tick();
    for i in 0..100 {
        w.crm
            .sandbox
            .update_record(
                "deals",
                &deal_ids[i],
                &[("dealname", &format!("Changed {i}"))],
            )
            .unwrap();
        w.crm
            .sandbox
            .update_record(
                "calls",
                &call_ids[i],
                &[("hs_call_title", &format!("Changed {i}"))],
            )
            .unwrap();
    }
    edit_both_before_page_two(110, "delta read");
    w.sync().ok();
    for i in 0..100 {
        assert_eq!(
            w.local_for(Deal, &deal_ids[i]).get("name"),
            Some(format!("Changed {i}").as_str()),
            "deal {}",
            deal_ids[i]
        );
        assert_eq!(
            w.local_for(ObjectKind::Activity, &format!("call:{}", call_ids[i]))
                .get("subject"),
            Some(format!("Changed {i}").as_str()),
            "call {}",
            call_ids[i]
        );
    }
    assert_eq!(
        w.local_for(Deal, &deal_ids[110]).get("name"),
        Some("Renamed during the delta read")
    );
    assert_eq!(
        w.local_for(ObjectKind::Activity, &format!("call:{}", call_ids[110]))
            .get("subject"),
        Some("Retitled during the delta read")
    );
    assert_eq!(live(Deal), 120);
    assert_eq!(live(ObjectKind::Activity), 120);
    w.assert_sync_writes_nothing();
}
