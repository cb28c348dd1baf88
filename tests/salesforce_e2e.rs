//! Salesforce end to end, beyond the generic scenarios (`tests/scenarios`): a large first
//! import through Bulk API 2.0 and the progress it reports, the daily allocation's reserve,
//! a Task logged against a contact reaching the local timeline, and an upsert whose external
//! id matches two records. The sandbox is served in this process; crmsync runs as a user
//! runs it (`common::crm::Synced`), but for the progress, which the sync engine reports
//! in-process.

mod common;

use std::sync::{Arc, Mutex};

use common::crm::{Synced, TestCrm, contact};
use common::salesforce::SalesforceCrm;
use crmsync::model::ObjectKind;
use serde_json::json;

use ObjectKind::{Activity, Contact};

/// The calls of the sandbox's log whose path holds `part`.
fn calls_to(w: &Synced<SalesforceCrm>, part: &str) -> usize {
    w.crm
        .sandbox
        .request_log()
        .iter()
        .filter(|r| r.path.contains(part))
        .count()
}

#[test]
fn a_first_import_of_50000_contacts_goes_through_bulk_api_query_jobs() {
    let w = Synced::<SalesforceCrm>::start();
    w.crm.sandbox.seed(50_000, 0, 0);
    w.crm.clear_request_log();
    let run = w.sync();
    run.ok();
    assert_eq!(w.local(Contact).len(), 50_000);
    // Its progress bar is drawn on a terminal only: off one (here), nothing of it.
    assert!(
        !run.stderr.contains("reading") && !run.stderr.contains('\r'),
        "{}",
        run.stderr
    );
    // Above `bulk_threshold` (10,000): a query job, polled, its CSV results read in pages.
    assert!(calls_to(&w, "/jobs/query") >= 2, "no Bulk API job was used");
    // No contact came through SOQL paging: the REST queries are the COUNT() and the small
    // objects' reads, not 2,000-record pages of contacts.
    let rest_queries = calls_to(&w, "/query?") + calls_to(&w, "/query/");
    assert!(rest_queries < 10, "{rest_queries} REST query pages");
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());
}

#[test]
fn at_the_reserve_of_the_daily_allocation_the_run_stops_with_exit_3() {
    let w = Synced::<SalesforceCrm>::start();
    w.crm.seed(5, 1);
    // The org's allocation is nearly spent: past the 20% kept for its other integrations.
    let (used, _) = w.crm.sandbox.api_usage();
    w.crm.sandbox.set_daily_api_requests(used + 10);
    let run = w.sync();
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("kept in reserve"), "{said}");
    // ... and when to run again: the allocation is counted over the last 24 hours.
    assert!(said.contains("run again in a few hours"), "{said}");
    assert!(said.contains(&format!("`{}`", common::crm::CONN)), "{said}");
    // crmsync stopped before the org's own refusal: no call came back 403.
    assert!(
        w.crm.sandbox.request_log().iter().all(|r| r.status != 403),
        "a call went past the allocation"
    );
}

#[test]
fn a_task_logged_against_a_contact_in_salesforce_appears_locally_against_it() {
    let w = Synced::<SalesforceCrm>::start();
    let contact = w
        .crm
        .create(Contact, &[("first_name", "Tia"), ("last_name", "Task")]);
    w.crm
        .sandbox
        .create_record(
            "Task",
            &serde_json::json!({"WhoId": contact, "Subject": "Renewal call",
                                "TaskSubtype": "Call", "Status": "Completed"}),
        )
        .expect("log a task");
    w.sync().ok();
    let local_contact = w.local_for(Contact, &contact);
    let tasks = w.local(Activity);
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let task = &tasks[0];
    assert_eq!(task.get("subject"), Some("Renewal call"));
    assert_eq!(task.get("type"), Some("call"));
    assert_eq!(task.get("done"), Some("true"));
    assert_eq!(task.get("contact_id"), Some(local_contact.id.as_str()));
}

#[test]
fn a_restricted_picklist_value_and_a_too_long_value_are_reported_by_mappings_check_before_any_sync()
{
    use common::crm::record;
    let w = Synced::<SalesforceCrm>::start();
    w.crm.clear_request_log();
    w.save_local(&[
        record(
            ObjectKind::Company,
            &[("name", "Orbit Ltd"), ("industry", "Spaceflight")],
        ),
        record(
            ObjectKind::Company,
            &[("name", "Bank Ltd"), ("industry", "banking")],
        ),
        record(
            ObjectKind::Company,
            &[("name", "Farm Ltd"), ("country", &"Z".repeat(81))],
        ),
    ]);
    let run = w.run(&["mappings", "check", "-c", common::crm::CONN]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    // The value no option of the restricted picklist names, with the options; `banking`
    // names `Banking` (case aside) and is taken.
    assert!(
        run.stdout
            .contains("1 local record(s) hold values `Industry` refuses: `Spaceflight` (1)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Agriculture, Banking"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("longer than the 80 characters `BillingCountry` takes"),
        "{}",
        run.stdout
    );
    // Nothing was written to Salesforce (the check only reads `describe`).
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());
}

/// What the sync engine told its reporter.
#[derive(Debug, Clone, PartialEq)]
enum Told {
    Step(String, ObjectKind, String, Option<u64>),
    Advance(u64),
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Told>>);

impl crmsync::engine::sync::SyncReporter for Recorder {
    fn step(&self, connection: &str, object: ObjectKind, what: &str, total: Option<u64>) {
        self.0
            .lock()
            .unwrap()
            .push(Told::Step(connection.into(), object, what.into(), total));
    }
    fn advance(&self, n: u64) {
        self.0.lock().unwrap().push(Told::Advance(n));
    }
    fn warn(&self, _message: String) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_import_reports_its_progress_against_the_jobs_count_a_locator_page_at_a_time() {
    use crmsync::auth::{SecretString, StaticTokenSource};
    use crmsync::providers::salesforce::{Salesforce, SalesforceOptions, Settings};

    let crm = SalesforceCrm::start();
    crm.sandbox.seed(1_000, 0, 0);
    let mut config = crmsync::config::Config::default();
    config.connections.insert(
        "sf".into(),
        crmsync::config::ConnectionConfig {
            base_url: Some(crm.sandbox.base_url()),
            ..crmsync::ops::connect::new_connection(crmsync::providers::ProviderKind::Salesforce)
        },
    );
    let clock: Arc<dyn crmsync::clock::Clock> = Arc::new(crmsync::clock::SystemClock);
    let ctx = crmsync::connection::provider_context(
        "sf",
        &config.connections["sf"],
        &config,
        Arc::new(StaticTokenSource::new(SecretString::new(
            crm.sandbox.mint_token().0,
        ))),
        clock.clone(),
        None,
    );
    // Past a threshold of 100 the first read is a Bulk job, read 300 records an answer.
    let provider = Salesforce::with_options(
        ctx,
        SalesforceOptions {
            settings: Settings {
                bulk_threshold: 100,
                ..Settings::default()
            },
            bulk_poll: std::time::Duration::ZERO,
            bulk_page: 300,
            ..SalesforceOptions::default()
        },
    )
    .unwrap();
    let participants = [crmsync::engine::sync::Participant {
        name: "sf".into(),
        config: config.connections["sf"].clone(),
        provider: Arc::new(provider),
    }];
    let dir = tempfile::tempdir().unwrap();
    let mut store = crmsync::store::Store::open(&dir.path().join("state.db")).unwrap();
    let _lock = store.lock().unwrap();
    let recorder = Recorder::default();
    let report = crmsync::engine::sync::run(
        &mut store,
        &config,
        &participants,
        &crmsync::engine::sync::SyncOptions::default(),
        clock,
        &recorder,
    )
    .await
    .unwrap();
    assert_eq!(report.connections[0].objects.len(), 3, "{report:?}");
    let results = crm
        .sandbox
        .request_log()
        .iter()
        .filter(|r| r.path.contains("/results"))
        .count();
    assert_eq!(results, 4, "1,000 records in answers of 300");
    // The contacts' read is told with the job's count once the job is done, and again with
    // each locator page (a page's writes being a step of their own): what was read before
    // the page, then the page.
    let told = recorder.0.lock().unwrap().clone();
    let (mut before, mut pages) = (Vec::new(), Vec::new());
    for (i, t) in told.iter().enumerate() {
        if *t == Told::Step("sf".into(), Contact, "reading".into(), Some(1_000)) {
            match (&told[i + 1], &told[i + 2]) {
                (Told::Advance(read), Told::Advance(page)) => {
                    before.push(*read);
                    pages.push(*page);
                }
                other => panic!("{other:?} after the step: {told:?}"),
            }
        }
    }
    assert_eq!(pages, [300, 300, 300, 100], "{told:?}");
    assert_eq!(before, [0, 300, 600, 900], "{told:?}");
    // A read the CRM says no size of (the REST query of the accounts) stays of unknown size.
    assert!(told.contains(&Told::Step(
        "sf".into(),
        ObjectKind::Company,
        "reading".into(),
        None
    )));
}

#[test]
fn an_upsert_whose_external_id_matches_two_records_fails_alone_naming_them_and_writes_neither() {
    let w = Synced::<SalesforceCrm>::start();
    // An administrator unticks Unique on `crmsync_id__c` (an External ID still), which lets
    // records share a value of it.
    w.crm
        .sandbox
        .update_field("Contact", "crmsync_id__c", &json!({"unique": false}))
        .unwrap();
    w.sync().ok();
    let (dup, fine) = (contact(1), contact(2));
    // A data load a day ago, out of the change feed's sight since, put the id of a local
    // contact not yet in Salesforce on two contacts.
    let now = w.crm.now_ms();
    w.crm.set_clock_ms(now - 86_400_000);
    let twins: Vec<serde_json::Value> = ["Twin One", "Twin Two"]
        .iter()
        .map(|name| {
            w.crm
                .sandbox
                .create_record(
                    "Contact",
                    &json!({"LastName": name, "crmsync_id__c": dup.id.as_str()}),
                )
                .unwrap()
        })
        .collect();
    w.crm.set_clock_ms(now);
    w.save_local(&[dup.clone(), fine.clone()]);
    w.crm.clear_request_log();

    let run = w.sync();
    run.expect_code(3);
    assert!(run.stderr.contains("1 record(s) failed"), "{}", run.stderr);
    // The other contact went through, in the same collection.
    assert_eq!(
        w.crm.write_calls(),
        ["PATCH /services/data/v61.0/composite/sobjects/Contact/crmsync_id__c"]
    );
    let made = w.remote_of(Contact, &fine.id);
    assert_eq!(made.get("email"), Some("local2@example.org"));
    // The failure is the record's, with Salesforce's message naming both matches; crmsync
    // picked neither.
    let failed = w.run(&["status", "--failed", "--json"]).json();
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["local_id"], dup.id.as_str());
    let error = failed[0].to_string();
    for twin in &twins {
        assert!(error.contains(twin["Id"].as_str().unwrap()), "{error}");
    }
    assert!(error.contains("more than one record"), "{error}");
    assert!(
        w.store()
            .links_by_local_ids(common::crm::CONN, Contact, std::slice::from_ref(&dup.id))
            .unwrap()
            .is_empty()
    );
    // Neither contact was written, and none was made beside them.
    let dump = w.crm.sandbox.dump();
    for twin in &twins {
        let now = dump["Contact"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["Id"] == twin["Id"])
            .unwrap();
        for field in ["SystemModstamp", "LastName", "Email", "crmsync_id__c"] {
            assert_eq!(now[field], twin[field], "{field}");
        }
    }
    let holding: Vec<_> = w
        .crm
        .live(Contact)
        .into_iter()
        .filter(|r| r.crmsync_id.as_deref() == Some(dup.id.as_str()))
        .collect();
    assert_eq!(holding.len(), 2, "{holding:?}");
    // Refused as it is, it is not sent again by the next run.
    w.crm.clear_request_log();
    w.sync().expect_code(3);
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());
}
