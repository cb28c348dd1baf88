//! `SalesforceCrm`, the scenarios' view of the sandbox, seeds, edits and reads back.

use std::time::Duration;

use crmsync::model::ObjectKind::{Company, Contact};

use crate::common::crm::TestCrm;
use crate::common::salesforce::SalesforceCrm;

#[test]
fn the_scenarios_view_seeds_edits_archives_and_reads_back_in_crmsyncs_names() {
    let crm = SalesforceCrm::start();
    let (contacts, companies) = crm.seed(3, 1);
    assert_eq!(crm.company_of(&contacts[0]), companies);
    let id = crm.create(
        Contact,
        &[("first_name", "Ann"), ("email", "ann@example.com")],
    );
    let made = crm.record(Contact, &id);
    assert_eq!(
        (made.get("first_name"), made.get("last_name")),
        (Some("Ann"), Some("Unknown"))
    );
    crm.tick();
    crm.edit(
        Contact,
        &id,
        &[
            ("job_title", "CFO"),
            ("lifecycle_stage", "customer"),
            ("email", ""),
        ],
    );
    let edited = crm.record(Contact, &id);
    assert_eq!(
        (
            edited.get("job_title"),
            edited.get("lifecycle_stage"),
            edited.get("email")
        ),
        (Some("CFO"), Some("customer"), None)
    );
    crm.associate(&id, &companies[0]);
    assert_eq!(crm.company_of(&id), companies);
    crm.dissociate(&id, &companies[0]);
    assert!(crm.company_of(&id).is_empty());
    let acct = crm.create(Company, &[("name", "Acme"), ("domain", "acme.example")]);
    crm.archive(Company, &acct);
    assert!(crm.record(Company, &acct).archived);
    assert_eq!(crm.live(Company).len(), 1);
    let choice = crm.choice_field("crm");
    assert_eq!((choice.good, choice.bad), ("Silver", "Platinum"));
    assert_eq!(crm.page_size(3).1, "3");
    crm.advance_clock(Duration::from_secs(1));
    assert!(crm.request_log().is_empty(), "the admin side is not logged");
    assert!(!crm.credentials("crm")[0].1.is_empty());
}
