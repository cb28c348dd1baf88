//! HubSpot deals and Salesforce Opportunities synced through the local store: both sandboxes
//! in this process, one crmsync environment with a connection to each syncing companies,
//! contacts and deals, and the binary run as a user runs it. HubSpot names its stages by id
//! and Salesforce by their API names, so the Salesforce connection maps the one to the other
//! (`[connections.salesforce.fields.values]`).

mod common;

use common::both::{Both, HS, SF};
use common::crm::{TestCrm, tick};
use crmsync::model::ObjectKind;
use serde_json::{Value, json};

use ObjectKind::{Company, Deal};

const DEALS: &str = "objects = [\"company\", \"contact\", \"deal\"]\n";

/// HubSpot's stage ids of its default pipeline, as the Salesforce org's stages.
const STAGE_MAP: &str = "[[connections.salesforce.fields]]\nobject = \"deal\"\nlocal = \"stage\"\n\
[connections.salesforce.fields.values]\n\
appointmentscheduled = \"Prospecting\"\n\
qualifiedtobuy = \"Qualification\"\n\
presentationscheduled = \"Value Proposition\"\n\
decisionmakerboughtin = \"Id. Decision Makers\"\n\
contractsent = \"Proposal/Price Quote\"\n\
closedwon = \"Closed Won\"\n\
closedlost = \"Closed Lost\"\n";

impl Both {
    fn start() -> Both {
        Both::with(DEALS, DEALS, STAGE_MAP)
    }

    fn opportunity(&self, id: &str) -> Value {
        self.sf.sandbox.dump()["Opportunity"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["Id"] == json!(id))
            .cloned()
            .unwrap_or_else(|| panic!("no Opportunity `{id}`"))
    }

    fn hubspot_deal(&self, id: &str) -> Value {
        self.hs.sandbox.dump()["deals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == json!(id))
            .cloned()
            .unwrap_or_else(|| panic!("no HubSpot deal `{id}`"))
    }
}

#[test]
fn a_hubspot_deal_and_a_salesforce_opportunity_reach_each_other_in_one_sync_and_a_further_sync_writes_nothing()
 {
    let w = Both::start();
    let company =
        w.hs.create(Company, &[("name", "Acme"), ("domain", "acme.example")]);
    let deal =
        w.hs.sandbox
            .create_record(
                "deals",
                &[
                    ("dealname", "Acme renewal"),
                    ("dealstage", "contractsent"),
                    ("pipeline", "default"),
                    ("amount", "1500"),
                    ("closedate", "2026-06-30T00:00:00.000Z"),
                ],
            )
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
    w.hs.sandbox
        .link_engagement(("deals", &deal), ("companies", &company), true)
        .unwrap();

    // HubSpot to Salesforce, its company with it, in one sync.
    w.sync().ok();
    let opp = w.across(HS, SF, Deal, &deal);
    let o = w.opportunity(&opp);
    assert_eq!(o["Name"], json!("Acme renewal"), "{o}");
    assert_eq!(o["StageName"], json!("Proposal/Price Quote"));
    assert_eq!(o["Amount"], json!(1500.0));
    assert_eq!(o["CloseDate"], json!("2026-06-30"));
    assert_eq!(o["AccountId"], json!(w.across(HS, SF, Company, &company)));
    w.assert_sync_writes_nothing();

    // Salesforce to HubSpot: a user's opportunity for the same account, and a stage moved.
    tick();
    let account = w.across(HS, SF, Company, &company);
    let made =
        w.sf.sandbox
            .create_record(
                "Opportunity",
                &json!({"Name": "Acme upsell", "StageName": "Closed Won", "CloseDate": "2026-07-31",
                    "Amount": 700, "AccountId": account}),
            )
            .unwrap()["Id"]
            .as_str()
            .unwrap()
            .to_string();
    w.sf.sandbox
        .update_record("Opportunity", &opp, &json!({"StageName": "Qualification"}))
        .unwrap();
    w.sync().ok();
    let upsell = w.hubspot_deal(&w.across(SF, HS, Deal, &made));
    assert_eq!(
        upsell["properties"]["dealname"],
        json!("Acme upsell"),
        "{upsell}"
    );
    assert_eq!(upsell["properties"]["dealstage"], json!("closedwon"));
    assert_eq!(upsell["properties"]["amount"], json!("700"));
    assert_eq!(
        w.hs.sandbox
            .associated("deals", upsell["id"].as_str().unwrap(), "companies"),
        [company]
    );
    assert_eq!(
        w.hubspot_deal(&deal)["properties"]["dealstage"],
        json!("qualifiedtobuy")
    );
    w.assert_sync_writes_nothing();
}
