//! Deals synced with Salesforce Opportunities both ways: the crmsync binary against the
//! Salesforce sandbox, local records written into the state file as an import would leave them,
//! Salesforce's side read and edited through the sandbox as its users would.

mod common;

use std::time::Duration;

use common::crm::{Synced, TestCrm, contact, record, tick};
use common::salesforce::SalesforceCrm;
use crmsync::model::{ObjectKind, Record, RecordId};
use serde_json::{Value, json};

use ObjectKind::{Company, Contact, Deal};

type World = Synced<SalesforceCrm>;

/// The connection syncs deals (they are read only when `objects` names them).
const WITH_DEALS: &str = "objects = [\"company\", \"contact\", \"deal\"]\n";

/// Every Opportunity in Salesforce (deleted ones too).
fn opportunities(w: &World) -> Vec<Value> {
    w.crm.sandbox.dump()["Opportunity"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn live_opportunities(w: &World) -> Vec<Value> {
    opportunities(w)
        .into_iter()
        .filter(|o| o["IsDeleted"] != json!(true))
        .collect()
}

/// Opportunity `id` as Salesforce holds it.
fn opportunity(w: &World, id: &str) -> Value {
    opportunities(w)
        .into_iter()
        .find(|r| r["Id"] == json!(id))
        .unwrap_or_else(|| panic!("no Opportunity `{id}` in Salesforce"))
}

/// The live contact roles of opportunity `id`: (contact, primary).
fn roles(w: &World, id: &str) -> Vec<(String, bool)> {
    w.crm.sandbox.dump()["OpportunityContactRole"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["OpportunityId"] == json!(id) && r["IsDeleted"] != json!(true))
        .map(|r| {
            (
                r["ContactId"].as_str().unwrap().to_string(),
                r["IsPrimary"] == json!(true),
            )
        })
        .collect()
}

fn local_deal(name: &str, stage: &str) -> Record {
    record(
        Deal,
        &[
            ("name", name),
            ("stage", stage),
            ("amount", "1200.5"),
            ("close_date", "2026-06-30"),
        ],
    )
}

/// A world whose connection syncs deals, `Opportunity.crmsync_id__c` made by `mappings setup`.
fn syncing_deals() -> World {
    let w = World::start();
    w.config("", WITH_DEALS);
    w.run(&["mappings", "setup", "-c", w.conn]).ok();
    w
}

/// A company, a contact of it and a deal with both, saved locally.
fn company_contact_deal(w: &World, stage: &str) -> (Record, Record, Record) {
    let co = record(Company, &[("name", "Acme"), ("domain", "acme.example")]);
    let mut c = contact(1);
    c.fields.insert("company_id".into(), co.id.0.clone());
    let mut d = local_deal("Acme renewal", stage);
    d.fields.insert("company_id".into(), co.id.0.clone());
    d.fields.insert("contact_id".into(), c.id.0.clone());
    w.save_local(std::slice::from_ref(&co));
    w.save_local(std::slice::from_ref(&c));
    w.save_local(std::slice::from_ref(&d));
    (co, c, d)
}

/// Lets the sandbox's clock pass the minute, so that `deleted` (which covers whole minutes up
/// to now) lists what was deleted in this one.
fn next_minute(w: &World) {
    w.crm.advance_clock(Duration::from_secs(61));
}

#[test]
fn a_deal_made_locally_reaches_salesforce_with_its_account_and_contact_and_one_made_there_comes_back()
 {
    let w = syncing_deals();
    let (co, c, d) = company_contact_deal(&w, "Prospecting");
    w.sync().ok();
    let (acct, person) = (w.remote_id(Company, &co.id), w.remote_id(Contact, &c.id));
    let id = w.remote_id(Deal, &d.id);
    let o = opportunity(&w, &id);
    assert_eq!(o["Name"], json!("Acme renewal"), "{o}");
    assert_eq!(o["StageName"], json!("Prospecting"));
    assert_eq!(o["Amount"], json!(1200.5));
    assert_eq!(o["CloseDate"], json!("2026-06-30"));
    assert_eq!(o["AccountId"], json!(acct));
    assert_eq!(o["ContactId"], json!(person));
    assert_eq!(o["crmsync_id__c"], json!(d.id.as_str()));
    assert_eq!(roles(&w, &id), [(person.clone(), true)]);
    w.assert_sync_writes_nothing();

    // An opportunity a Salesforce user makes for the account, with the contact's role.
    tick();
    let made = w
        .crm
        .sandbox
        .create_record(
            "Opportunity",
            &json!({"Name": "Upsell", "StageName": "Qualification", "CloseDate": "2026-09-30",
                    "Amount": 99, "AccountId": acct, "ContactId": person}),
        )
        .unwrap();
    w.sync().ok();
    let local = w.local_for(Deal, made["Id"].as_str().unwrap());
    assert_eq!(local.get("name"), Some("Upsell"));
    assert_eq!(local.get("stage"), Some("Qualification"));
    assert_eq!(local.get("amount"), Some("99"));
    assert_eq!(local.get("close_date"), Some("2026-09-30"));
    assert_eq!(local.get("company_id"), Some(co.id.as_str()));
    assert_eq!(local.get("contact_id"), Some(c.id.as_str()));
    w.assert_sync_writes_nothing();
}

#[test]
fn an_edit_on_each_side_reaches_the_other_the_primary_contact_too() {
    let w = syncing_deals();
    let (_, c, d) = company_contact_deal(&w, "Prospecting");
    let other = contact(2);
    w.save_local(std::slice::from_ref(&other));
    w.sync().ok();
    let id = w.remote_id(Deal, &d.id);
    let (first, second) = (w.remote_id(Contact, &c.id), w.remote_id(Contact, &other.id));

    // Local edits: the stage, the amount and the primary contact.
    tick();
    w.edit_local(
        &d.id,
        &[
            ("stage", "Closed Won"),
            ("amount", "5000"),
            ("contact_id", other.id.as_str()),
        ],
    );
    w.sync().ok();
    let o = opportunity(&w, &id);
    assert_eq!(
        (
            o["StageName"].clone(),
            o["IsWon"].clone(),
            o["Amount"].clone()
        ),
        (json!("Closed Won"), json!(true), json!(5000.0)),
        "{o}"
    );
    assert_eq!(o["ContactId"], json!(second));
    // The first contact keeps its role, no longer primary.
    let mut now = roles(&w, &id);
    now.sort();
    let mut expected = vec![(first.clone(), false), (second.clone(), true)];
    expected.sort();
    assert_eq!(now, expected);
    w.assert_sync_writes_nothing();

    // Salesforce edits: a user moves the stage and the amount, and makes the first contact's
    // role primary again.
    tick();
    w.crm
        .sandbox
        .update_record(
            "Opportunity",
            &id,
            &json!({"StageName": "Closed Lost", "Amount": 10}),
        )
        .unwrap();
    let role = w.crm.sandbox.dump()["OpportunityContactRole"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["OpportunityId"] == json!(id) && r["ContactId"] == json!(first))
        .unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    w.crm
        .sandbox
        .update_record("OpportunityContactRole", &role, &json!({"IsPrimary": true}))
        .unwrap();
    w.sync().ok();
    let local = w.local_record(&d.id);
    assert_eq!(local.get("stage"), Some("Closed Lost"));
    assert_eq!(local.get("amount"), Some("10"));
    assert_eq!(local.get("contact_id"), Some(c.id.as_str()));
    w.assert_sync_writes_nothing();

    // The contact cleared locally: no role is primary, the roles stay.
    tick();
    w.edit_local(&d.id, &[("contact_id", "")]);
    w.sync().ok();
    assert_eq!(opportunity(&w, &id)["ContactId"], Value::Null);
    assert_eq!(roles(&w, &id).len(), 2);
    assert!(roles(&w, &id).iter().all(|(_, primary)| !primary));
    w.assert_sync_writes_nothing();
}

#[test]
fn an_archive_on_either_side_deletes_or_archives_on_the_other() {
    let w = syncing_deals();
    let deals: Vec<Record> = (0..4)
        .map(|i| local_deal(&format!("Deal {i}"), "Qualification"))
        .collect();
    w.save_local(&deals);
    w.sync().ok();
    let (ours, theirs) = (&deals[0], &deals[1]);
    let (ours_id, theirs_id) = (w.remote_id(Deal, &ours.id), w.remote_id(Deal, &theirs.id));

    tick();
    w.archive_local(&ours.id);
    w.crm
        .sandbox
        .delete_record("Opportunity", &theirs_id)
        .unwrap();
    next_minute(&w);
    w.sync().ok();
    assert_eq!(opportunity(&w, &ours_id)["IsDeleted"], json!(true));
    assert!(w.local_record(&theirs.id).archived_at.is_some());
    assert_eq!(live_opportunities(&w).len(), 2);
    assert_eq!(
        w.local(Deal)
            .iter()
            .filter(|r| r.archived_at.is_none())
            .count(),
        2
    );
    w.assert_sync_writes_nothing();
}

#[test]
fn stages_given_by_label_or_by_value_reach_salesforce_as_the_stages_value() {
    let w = syncing_deals();
    // An admin has renamed a stage: its label is `Proposal`, its API name stays.
    w.crm
        .sandbox
        .relabel_picklist_value(
            "Opportunity",
            "StageName",
            "Proposal/Price Quote",
            "Proposal",
        )
        .unwrap();
    let by_label = local_deal("By label", "Proposal");
    let by_label_case_aside = local_deal("Case aside", "closed won");
    let by_value = local_deal("By value", "Negotiation/Review");
    w.save_local(&[
        by_label.clone(),
        by_label_case_aside.clone(),
        by_value.clone(),
    ]);
    w.sync().ok();
    for (r, stage) in [
        (&by_label, "Proposal/Price Quote"),
        (&by_label_case_aside, "Closed Won"),
        (&by_value, "Negotiation/Review"),
    ] {
        let o = opportunity(&w, &w.remote_id(Deal, &r.id));
        assert_eq!(o["StageName"], json!(stage), "{o}");
    }
    // The labels kept locally are the same values as the stages Salesforce holds.
    w.assert_sync_writes_nothing();
    assert_eq!(w.local_record(&by_label.id).get("stage"), Some("Proposal"));

    // An opportunity moved in Salesforce comes back with the stage's value.
    tick();
    let id = w.remote_id(Deal, &by_value.id);
    w.crm
        .sandbox
        .update_record(
            "Opportunity",
            &id,
            &json!({"StageName": "Proposal/Price Quote"}),
        )
        .unwrap();
    w.sync().ok();
    assert_eq!(
        w.local_record(&by_value.id).get("stage"),
        Some("Proposal/Price Quote")
    );
    w.assert_sync_writes_nothing();
}

#[test]
fn a_stage_salesforce_does_not_have_is_refused_by_mappings_check_and_reported_for_that_deal_alone()
{
    let w = syncing_deals();
    let good = local_deal("Good", "Prospecting");
    let bad = local_deal("Bad", "Renewal");
    w.save_local(&[good.clone(), bad.clone()]);
    w.crm.clear_request_log();
    let check = w.run(&["mappings", "check", "-c", w.conn]);
    assert_eq!(check.code, 1, "{}\n{}", check.stdout, check.stderr);
    assert!(
        check
            .stdout
            .contains("1 local record(s) hold values `StageName` refuses: `Renewal` (1)"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("Prospecting, Qualification"),
        "{}",
        check.stdout
    );
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());

    // A sync run anyway writes the good deal and fails the bad one alone, with Salesforce's
    // words.
    w.sync().expect_code(3);
    let live = live_opportunities(&w);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["Name"], json!("Good"));
    let failures = w.store().list_failures(None).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].local_id, bad.id, "{failures:?}");
    assert!(
        failures[0]
            .message
            .contains("bad value for restricted picklist"),
        "{failures:?}"
    );
}

/// The SOQL queries of the sandbox's log, by the object each reads.
fn queries_by_object(w: &World) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for r in w.crm.sandbox.request_log() {
        let Ok(url) = reqwest::Url::parse(&format!("http://sandbox{}", r.path)) else {
            continue;
        };
        let tail = url
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        if url.path().contains("/query/") {
            *out.entry("(next page)".to_string()).or_insert(0) += 1;
            continue;
        }
        if tail != "query" && tail != "queryAll" {
            continue;
        }
        let soql = url
            .query_pairs()
            .find(|(k, _)| k == "q")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let object = soql
            .split_whitespace()
            .skip_while(|w| !w.eq_ignore_ascii_case("FROM"))
            .nth(1)
            .unwrap_or("?")
            .to_string();
        *out.entry(object).or_insert(0) += 1;
    }
    out
}

#[test]
fn a_no_op_resync_writes_nothing_and_costs_one_query_per_configured_object() {
    let w = syncing_deals();
    w.crm.sandbox.seed(20, 4, 0);
    w.crm.sandbox.seed_opportunities(30);
    w.sync().ok();
    assert_eq!(w.local(Deal).len(), 30, "every opportunity is a local deal");
    let first = live_opportunities(&w)[0]["Id"].clone();
    let d = w.local_for(Deal, first.as_str().unwrap());
    assert!(d.get("company_id").is_some() && d.get("contact_id").is_some());
    // Past the change feed's overlap (two seconds here): inside it every read brings the last
    // records again, and a Contact or Account read that brings records asks `queryAll` for
    // merges.
    w.config("[sync]\noverlap_secs = 2\n", WITH_DEALS);
    std::thread::sleep(Duration::from_secs(3));
    w.sync().ok();
    for _ in 0..2 {
        w.crm.clear_request_log();
        w.sync().ok();
        assert_eq!(w.crm.write_calls(), Vec::<String>::new());
        let queries = queries_by_object(&w);
        assert_eq!(
            queries,
            [("Account", 1), ("Contact", 1), ("Opportunity", 1)]
                .map(|(o, n)| (o.to_string(), n))
                .into_iter()
                .collect(),
            "{queries:?}"
        );
    }
}

#[test]
fn a_connection_that_does_not_sync_deals_makes_no_opportunity_calls() {
    let w = World::start();
    w.crm.sandbox.seed(2, 1, 0);
    w.crm.sandbox.seed_opportunities(3);
    w.save_local(&[local_deal("Alpha", "Prospecting")]);
    w.crm.clear_request_log();
    w.sync().ok();
    let log = w.crm.sandbox.request_log();
    assert!(!log.is_empty());
    let dealt: Vec<String> = log
        .iter()
        .filter(|c| c.path.contains("Opportunity"))
        .map(|c| c.path.clone())
        .collect();
    assert_eq!(dealt, Vec::<String>::new());
    assert_eq!(live_opportunities(&w).len(), 3);
    assert!(
        w.local(Deal).len() == 1,
        "the Salesforce opportunities stay there"
    );
}

#[test]
fn an_owner_mapped_goes_as_the_users_id_and_comes_back_as_the_users_email() {
    let w = World::start();
    w.config(
        "",
        &format!(
            "{WITH_DEALS}[[connections.crm.fields]]\nobject = \"deal\"\nlocal = \"owner\"\nremote = \"OwnerId\"\n"
        ),
    );
    w.run(&["mappings", "setup", "-c", w.conn]).ok();
    let mut d = local_deal("Owned", "Prospecting");
    d.fields
        .insert("owner".into(), "sam.seller@sandbox.example".into());
    w.save_local(std::slice::from_ref(&d));
    w.sync().ok();
    let id = w.remote_id(Deal, &d.id);
    let seller = opportunity(&w, &id)["OwnerId"]
        .as_str()
        .unwrap()
        .to_string();
    let users = w.crm.sandbox.dump()["User"].clone();
    let email_of = |uid: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["Id"] == json!(uid))
            .map(|u| u["Email"].as_str().unwrap().to_string())
    };
    assert_eq!(
        email_of(&seller).as_deref(),
        Some("sam.seller@sandbox.example")
    );
    w.assert_sync_writes_nothing();

    // Given to the other user in Salesforce, the deal's owner is that user's email.
    tick();
    let admin = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["Email"] == json!("admin@sandbox.example"))
        .unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    w.crm
        .sandbox
        .update_record("Opportunity", &id, &json!({"OwnerId": admin}))
        .unwrap();
    w.sync().ok();
    assert_eq!(
        w.local_record(&d.id).get("owner"),
        Some("admin@sandbox.example")
    );
    w.assert_sync_writes_nothing();
}

#[test]
fn opportunities_moving_while_they_are_read_are_all_read_once_and_none_lost() {
    let w = World::paged(200);
    w.config("", WITH_DEALS);
    w.run(&["mappings", "setup", "-c", w.conn]).ok();
    w.crm.sandbox.seed(10, 2, 0);
    let ids = w.crm.sandbox.seed_opportunities(450);
    w.sync().ok();
    assert_eq!(w.local(Deal).len(), 450);
    // 300 opportunities change (two pages of the next read); while crmsync pages through
    // them, users edit one it has read, one it has not, and one outside the changes.
    tick();
    for (i, id) in ids.iter().enumerate().filter(|(i, _)| i % 3 != 2) {
        w.crm
            .sandbox
            .update_record(
                "Opportunity",
                id,
                &json!({"Description": format!("Changed {i}")}),
            )
            .unwrap();
    }
    for i in [3usize, 400, 5] {
        w.crm
            .sandbox
            .edit_before(crmsync::sandbox::salesforce::EditBefore {
                method: "GET".into(),
                // A later page of a query: the opportunities' second.
                path_contains: "/query/".into(),
                nth: 1,
                object: "Opportunity".into(),
                id: ids[i].clone(),
                body: json!({"Name": format!("Moved {i}")}),
            });
    }
    w.crm.clear_request_log();
    w.sync().ok();
    assert!(
        w.crm
            .sandbox
            .request_log()
            .iter()
            .any(|r| r.path.contains("/query/")),
        "the read took more than one page"
    );
    w.sync().ok();
    for i in [3usize, 400, 5] {
        assert_eq!(
            w.local_for(Deal, &ids[i]).get("name"),
            Some(format!("Moved {i}").as_str())
        );
    }
    assert_eq!(w.local(Deal).len(), 450);
    w.assert_sync_writes_nothing();
}

#[test]
fn deals_through_failing_calls_arrive_once_each_with_their_accounts() {
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
            let stage = ["Prospecting", "Closed Won", "Value Proposition"][i % 3];
            let mut d = local_deal(&format!("Deal {i}"), stage);
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
    assert_eq!(live_opportunities(&w).len(), 30);
    for d in &made {
        let o = opportunity(&w, &w.remote_id(Deal, &d.id));
        let co = w.remote_id(Company, &RecordId(d.get("company_id").unwrap().to_string()));
        assert_eq!(o["AccountId"], json!(co));
    }
    w.assert_sync_writes_nothing();
}

#[test]
fn a_large_first_import_of_opportunities_goes_through_a_bulk_query_job() {
    let w = World::start();
    // Above `bulk_threshold`, a first read goes through a Bulk API 2.0 query job.
    w.config("", &format!("{WITH_DEALS}bulk_threshold = 50\n"));
    w.run(&["mappings", "setup", "-c", w.conn]).ok();
    w.crm.sandbox.seed(20, 4, 0);
    let ids = w.crm.sandbox.seed_opportunities(120);
    w.crm.clear_request_log();
    w.sync().ok();
    let jobs: Vec<String> = w
        .crm
        .sandbox
        .request_log()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/jobs/query"))
        .filter_map(|r| r.body.clone())
        .collect();
    assert!(
        jobs.iter().any(|b| b.contains("FROM Opportunity")),
        "no Bulk job read the opportunities: {jobs:?}"
    );
    assert_eq!(w.local(Deal).len(), 120);
    let o = opportunity(&w, &ids[7]);
    let d = w.local_for(Deal, &ids[7]);
    assert_eq!(d.get("name"), o["Name"].as_str());
    assert_eq!(d.get("stage"), o["StageName"].as_str());
    assert_eq!(
        d.get("amount").map(|a| a.parse::<f64>().unwrap()),
        o["Amount"].as_f64()
    );
    let account = w.local_for(Company, o["AccountId"].as_str().unwrap());
    assert_eq!(d.get("company_id"), Some(account.id.as_str()));
    let person = w.local_for(Contact, o["ContactId"].as_str().unwrap());
    assert_eq!(d.get("contact_id"), Some(person.id.as_str()));
    w.assert_sync_writes_nothing();
}
