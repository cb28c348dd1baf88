//! Salesforce end to end, beyond the generic scenarios (`tests/scenarios`): a large first
//! import through Bulk API 2.0, the daily allocation's reserve, and a Task logged against a
//! contact reaching the local timeline. The sandbox is served in this process; crmsync runs
//! as a user runs it (`common::crm::Synced`).

mod common;

use common::crm::{Synced, TestCrm};
use common::salesforce::SalesforceCrm;
use crmsync::model::ObjectKind;

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
    w.sync().ok();
    assert_eq!(w.local(Contact).len(), 50_000);
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
