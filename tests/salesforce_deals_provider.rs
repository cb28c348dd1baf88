//! The Salesforce provider's Opportunities against a small scripted fake (shaped as the REST
//! API and the Object Reference describe it): the requests it sends for the deal catalogue,
//! an opportunity's write and its primary contact role.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use crmsync::clock::{Clock, FixedClock};
use crmsync::model::ObjectKind;
use crmsync::providers::http::HttpOptions;
use crmsync::providers::salesforce::{Salesforce, SalesforceOptions, Settings};
use crmsync::providers::{Provider, ProviderContext, ProviderError, RemoteFieldKind, TokenSource};

use common::fake_http::{Fake, Seen, answer, remote_write as write};

const V: &str = "/services/data/v61.0";
const NOW: i64 = 1_800_000_000_000;

struct Token;

#[async_trait]
impl TokenSource for Token {
    async fn access_token(&self) -> Result<String, ProviderError> {
        Ok("token".into())
    }
    async fn refresh(&self, _rejected: &str) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }
}

fn provider(fake: &Fake) -> Salesforce {
    let ctx = ProviderContext {
        connection: "sf".into(),
        base_url: Some(fake.url.clone()),
        tokens: Arc::new(Token),
        clock: Arc::new(FixedClock::new(NOW)) as Arc<dyn Clock>,
        max_requests: None,
        overlap: 300_000,
    };
    Salesforce::with_options(
        ctx,
        SalesforceOptions {
            http: HttpOptions {
                no_sleep: true,
                ..HttpOptions::default()
            },
            settings: Settings::default(),
            batch_size: 2000,
            bulk_poll: std::time::Duration::ZERO,
            ..SalesforceOptions::default()
        },
    )
    .expect("provider")
}

fn f(name: &str, kind: &str, updateable: bool) -> Value {
    json!({ "name": name, "label": name, "type": kind, "length": 0,
            "updateable": updateable, "createable": true, "nillable": true })
}

/// Opportunity's describe, as an org whose `StageName` is not marked restricted lists it.
fn describe() -> Value {
    json!({ "name": "Opportunity", "keyPrefix": "006", "fields": [
        f("Id", "id", false),
        f("SystemModstamp", "datetime", false),
        f("Name", "string", true),
        { "name": "StageName", "label": "Stage", "type": "picklist", "length": 255,
          "updateable": true, "restrictedPicklist": false, "picklistValues": [
            { "value": "Prospecting", "label": "Prospecting", "active": true },
            { "value": "Proposal/Price Quote", "label": "Proposal", "active": true } ] },
        f("Amount", "currency", true),
        f("CloseDate", "date", true),
        f("AccountId", "reference", true),
        f("ContactId", "reference", false),
        f("OwnerId", "reference", true),
        { "name": "crmsync_id__c", "label": "crmsync id", "type": "string", "length": 255,
          "updateable": true, "unique": true, "externalId": true },
    ] })
}

fn soql(req: &Seen) -> &str {
    req.query.get("q").map(String::as_str).unwrap_or_default()
}

fn opportunity(id: &str, contact: Option<&str>) -> Value {
    json!({ "attributes": { "type": "Opportunity" }, "Id": id, "Name": "Big",
            "StageName": "Prospecting", "Amount": 1200.5, "ContactId": contact,
            "SystemModstamp": "2027-01-15T08:00:00.000+0000", "crmsync_id__c": "L1" })
}

#[tokio::test]
async fn the_deal_catalogue_closes_the_stage_lists_the_users_as_owners_and_writes_the_contact() {
    let fake = Fake::start(|req, _| match (req.method.as_str(), req.path.as_str()) {
        ("GET", p) if p.ends_with("/sobjects/Opportunity/describe") => answer(200, describe()),
        ("GET", p) if p == format!("{V}/query") => answer(
            200,
            json!({ "totalSize": 2, "done": true, "records": [
                { "attributes": { "type": "User" }, "Id": "005A", "Email": "ann@acme.example" },
                { "attributes": { "type": "User" }, "Id": "005B", "Email": "bo@acme.example" } ] }),
        ),
        other => panic!("unexpected {other:?}"),
    });
    let sf = provider(&fake);
    let fields = sf.fields(ObjectKind::Deal).await.unwrap();
    let get = |n: &str| fields.iter().find(|f| f.name == n).unwrap().clone();
    let stage = get("StageName");
    assert!(
        !stage.open_options,
        "Salesforce takes only the org's stages"
    );
    assert_eq!(stage.options[1].label, "Proposal");
    let owner = get("OwnerId");
    assert_eq!(owner.kind, RemoteFieldKind::Enumeration);
    assert_eq!(
        owner
            .options
            .iter()
            .map(|o| (o.value.as_str(), o.label.as_str()))
            .collect::<Vec<_>>(),
        [("005A", "ann@acme.example"), ("005B", "bo@acme.example")]
    );
    assert!(!get("ContactId").read_only);
    assert!(!get("Amount").read_only);
    let users = fake
        .seen()
        .into_iter()
        .find(|r| r.path.ends_with("/query"))
        .unwrap();
    assert_eq!(
        soql(&users),
        "SELECT Id, Email FROM User WHERE IsActive = true ORDER BY Id"
    );
}

#[tokio::test]
async fn an_opportunity_is_written_without_its_contact_which_goes_as_its_primary_role() {
    let fake = Fake::start(|req, _| match (req.method.as_str(), req.path.as_str()) {
        ("GET", p) if p.ends_with("/sobjects/Opportunity/describe") => answer(200, describe()),
        ("PATCH", p) if p == format!("{V}/composite/sobjects/Opportunity/crmsync_id__c") => answer(
            200,
            json!([
                { "id": "006A", "success": true, "errors": [], "created": true },
                { "id": "006B", "success": true, "errors": [], "created": false },
                { "id": "006C", "success": true, "errors": [], "created": true }
            ]),
        ),
        ("GET", p) if p == format!("{V}/query") && soql(req).contains("FROM Opportunity ") => {
            answer(
                200,
                json!({ "totalSize": 3, "done": true, "records": [
                    opportunity("006A", None), opportunity("006B", Some("003OLD")),
                    opportunity("006C", None) ] }),
            )
        }
        ("GET", p)
            if p == format!("{V}/query") && soql(req).contains("FROM OpportunityContactRole") =>
        {
            answer(
                200,
                json!({ "totalSize": 2, "done": true, "records": [
                    { "attributes": { "type": "OpportunityContactRole" }, "Id": "00KOLD",
                      "OpportunityId": "006B", "ContactId": "003OLD", "IsPrimary": true },
                    { "attributes": { "type": "OpportunityContactRole" }, "Id": "00KNEW",
                      "OpportunityId": "006B", "ContactId": "003NEW", "IsPrimary": false } ] }),
            )
        }
        ("POST", p) if p == format!("{V}/composite/sobjects") => answer(
            200,
            json!([
                { "id": "00KA", "success": true, "errors": [] },
                { "success": false, "errors": [{ "statusCode": "INVALID_CROSS_REFERENCE_KEY",
                  "message": "Contact ID: id value of incorrect type: 003GONE", "fields": ["ContactId"] }] }
            ]),
        ),
        ("PATCH", p) if p == format!("{V}/composite/sobjects") => answer(
            200,
            json!([{ "id": "00KNEW", "success": true, "errors": [] }]),
        ),
        other => panic!("unexpected {other:?}"),
    });
    let sf = provider(&fake);
    let props = |contact: &'static str| {
        vec![
            ("Name", "Big"),
            ("StageName", "Prospecting"),
            ("Amount", "1200.5"),
            ("ContactId", contact),
        ]
    };
    let out = sf
        .create(
            ObjectKind::Deal,
            &[
                write("L1", None, &props("003ANN")),
                write("L2", None, &props("003NEW")),
                write("L3", None, &props("003GONE")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap().props["ContactId"], "003ANN");
    assert_eq!(out[1].as_ref().unwrap().props["ContactId"], "003NEW");
    let refused = out[2].as_ref().unwrap_err();
    assert!(
        refused
            .message
            .starts_with("Salesforce saved the opportunity but not its primary contact"),
        "{}",
        refused.message
    );
    assert_eq!(refused.code.as_deref(), Some("INVALID_CROSS_REFERENCE_KEY"));

    let seen = fake.seen();
    let upsert = seen.iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(
        upsert.body["records"][0],
        json!({ "attributes": { "type": "Opportunity" }, "Name": "Big",
                "StageName": "Prospecting", "Amount": 1200.5, "crmsync_id__c": "L1" })
    );
    let roles_query = seen
        .iter()
        .find(|r| soql(r).contains("OpportunityContactRole"))
        .unwrap();
    assert_eq!(
        soql(roles_query),
        "SELECT Id, OpportunityId, ContactId, IsPrimary FROM OpportunityContactRole WHERE OpportunityId IN ('006A', '006B', '006C')"
    );
    let made = seen.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(
        made.body,
        json!({ "allOrNone": false, "records": [
            { "attributes": { "type": "OpportunityContactRole" }, "OpportunityId": "006A",
              "ContactId": "003ANN", "IsPrimary": true },
            { "attributes": { "type": "OpportunityContactRole" }, "OpportunityId": "006C",
              "ContactId": "003GONE", "IsPrimary": true } ] })
    );
    // 006B's new contact has a role already: it is made primary, not made again.
    let changed = seen.iter().filter(|r| r.method == "PATCH").nth(1).unwrap();
    assert_eq!(
        changed.body,
        json!({ "allOrNone": false, "records": [
            { "attributes": { "type": "OpportunityContactRole" }, "id": "00KNEW", "IsPrimary": true } ] })
    );
}
