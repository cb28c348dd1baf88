//! Opportunities: describe with the stages, what the stage decides, the primary contact through
//! contact roles, SOQL over them, collections, the replication calls, Bulk jobs, the org's
//! users and multi-currency.

use crmsync::sandbox::salesforce::SalesforceOptions;
use serde_json::{Value, json};

use super::Org;

fn field<'a>(describe: &'a Value, name: &str) -> &'a Value {
    describe["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == json!(name))
        .unwrap_or_else(|| panic!("no field {name}"))
}

fn q(soql: &str) -> String {
    let enc: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
    Org::api(&format!("query?q={enc}"))
}

/// An account and two contacts of it; their ids.
fn account_and_contacts(org: &Org) -> (String, String, String) {
    let s = org.sb.seed(2, 1, 0);
    (
        s.accounts[0].clone(),
        s.contacts[0].clone(),
        s.contacts[1].clone(),
    )
}

fn create(org: &Org, body: Value) -> super::Resp {
    org.call("POST", &Org::api("sobjects/Opportunity"), Some(body))
}

#[test]
fn describe_lists_the_stages_the_required_fields_and_the_numbers() {
    let org = Org::start();
    let d = org.get(&Org::api("sobjects/Opportunity/describe")).body;
    assert_eq!(d["keyPrefix"], json!("006"));
    let stage = field(&d, "StageName");
    assert_eq!(
        (
            stage["type"].as_str(),
            stage["nillable"].as_bool(),
            stage["restrictedPicklist"].as_bool()
        ),
        (Some("picklist"), Some(false), Some(true))
    );
    let stages: Vec<&str> = stage["picklistValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(stages.first(), Some(&"Prospecting"));
    assert!(stages.contains(&"Closed Won") && stages.contains(&"Closed Lost"));
    assert_eq!(field(&d, "CloseDate")["nillable"], json!(false));
    assert_eq!(field(&d, "Name")["length"], json!(120));
    let amount = field(&d, "Amount");
    assert_eq!(
        (
            amount["type"].clone(),
            amount["precision"].clone(),
            amount["scale"].clone()
        ),
        (json!("currency"), json!(18), json!(2))
    );
    assert_eq!(field(&d, "Probability")["type"], json!("percent"));
    let contact = field(&d, "ContactId");
    assert_eq!(
        (contact["createable"].clone(), contact["updateable"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(field(&d, "IsWon")["updateable"], json!(false));
    assert!(
        d["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["name"] != json!("CurrencyIsoCode")),
        "no currency field without multi-currency"
    );
    let roles = org
        .get(&Org::api("sobjects/OpportunityContactRole/describe"))
        .body;
    assert_eq!(roles["keyPrefix"], json!("00K"));
    assert_eq!(field(&roles, "OpportunityId")["updateable"], json!(false));
    assert_eq!(field(&roles, "IsPrimary")["type"], json!("boolean"));
    let users = org.get(&Org::api("sobjects/User/describe")).body;
    assert_eq!(users["createable"], json!(false));
    let global = org.get(&Org::api("sobjects")).body;
    let names: Vec<&str> = global["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Opportunity") && names.contains(&"OpportunityContactRole"));
}

#[test]
fn the_stage_is_required_and_restricted_and_decides_closed_won_and_probability() {
    let org = Org::start();
    let (acct, ann, _) = account_and_contacts(&org);
    let missing = create(&org, json!({"Name": "No date", "StageName": "Prospecting"}));
    assert_eq!(
        (missing.status, missing.code()),
        (400, "REQUIRED_FIELD_MISSING")
    );
    assert_eq!(missing.body[0]["fields"], json!(["CloseDate"]));
    let bad = create(
        &org,
        json!({"Name": "Bad", "StageName": "Won", "CloseDate": "2026-06-30"}),
    );
    assert_eq!(
        (bad.status, bad.code()),
        (400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
    );
    let text = create(
        &org,
        json!({"Name": "x", "StageName": "Prospecting", "CloseDate": "2026-06-30", "Amount": "12"}),
    );
    assert_eq!(text.code(), "JSON_PARSER_ERROR");
    let made = create(
        &org,
        json!({"Name": "Acme renewal", "StageName": "Negotiation/Review",
               "CloseDate": "2026-06-30", "Amount": 1200.505, "AccountId": acct,
               "ContactId": ann}),
    );
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("006"));
    let got = org
        .get(&Org::api(&format!("sobjects/Opportunity/{id}")))
        .body;
    assert_eq!(got["Amount"], json!(1200.51));
    assert_eq!(got["Probability"], json!(90.0));
    assert_eq!(
        (got["IsClosed"].clone(), got["IsWon"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(got["ForecastCategoryName"], json!("Pipeline"));
    assert_eq!(got["ContactId"], json!(ann));
    let won = org.call(
        "PATCH",
        &Org::api(&format!("sobjects/Opportunity/{id}")),
        Some(json!({"StageName": "Closed Won"})),
    );
    assert_eq!(won.status, 204);
    let got = org
        .get(&Org::api(&format!("sobjects/Opportunity/{id}")))
        .body;
    assert_eq!(
        (
            got["IsClosed"].clone(),
            got["IsWon"].clone(),
            got["Probability"].clone()
        ),
        (json!(true), json!(true), json!(100.0))
    );
    // The primary contact is set on create only.
    let moved = org.call(
        "PATCH",
        &Org::api(&format!("sobjects/Opportunity/{id}")),
        Some(json!({"ContactId": ann})),
    );
    assert_eq!(moved.code(), "INVALID_FIELD_FOR_INSERT_UPDATE");
}

#[test]
fn contact_roles_make_the_primary_contact_and_go_with_a_deleted_opportunity() {
    let org = Org::start();
    let (acct, ann, bo) = account_and_contacts(&org);
    let id = create(
        &org,
        json!({"Name": "Acme", "StageName": "Prospecting", "CloseDate": "2026-06-30",
               "AccountId": acct, "ContactId": ann}),
    )
    .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stamp_before = org.record(&id)["SystemModstamp"].clone();
    // A role for another contact, made primary through a collection: the first is not any more.
    let made = org.call(
        "POST",
        &Org::api("composite/sobjects"),
        Some(json!({"allOrNone": false, "records": [
            {"attributes": {"type": "OpportunityContactRole"}, "OpportunityId": id,
             "ContactId": bo, "IsPrimary": true, "Role": "Decision Maker"},
            {"attributes": {"type": "OpportunityContactRole"}, "ContactId": bo}
        ]})),
    );
    assert_eq!(made.body[0]["success"], json!(true), "{}", made.text);
    assert_eq!(
        made.body[1]["errors"][0]["statusCode"],
        json!("REQUIRED_FIELD_MISSING")
    );
    let soql = format!(
        "SELECT Id, ContactId, IsPrimary, Contact.LastName FROM OpportunityContactRole WHERE OpportunityId = '{id}' ORDER BY IsPrimary DESC, CreatedDate"
    );
    let roles = org.get(&q(&soql)).body;
    assert_eq!(roles["totalSize"], json!(2), "{roles}");
    assert_eq!(roles["records"][0]["ContactId"], json!(bo));
    assert_eq!(roles["records"][1]["IsPrimary"], json!(false));
    assert!(roles["records"][0]["Contact"]["LastName"].is_string());
    let opp = org
        .get(&q(&format!(
            "SELECT Id, ContactId, Account.Name FROM Opportunity WHERE Id = '{id}'"
        )))
        .body;
    assert_eq!(opp["records"][0]["ContactId"], json!(bo));
    // The roles changed and the opportunity's `SystemModstamp` did not.
    assert_eq!(org.record(&id)["SystemModstamp"], stamp_before);

    // Deleted, the opportunity takes its roles to the Recycle Bin.
    assert_eq!(
        org.call(
            "DELETE",
            &Org::api(&format!("sobjects/Opportunity/{id}")),
            None
        )
        .status,
        204
    );
    assert_eq!(org.get(&q(&soql)).body["totalSize"], json!(0));
    let all = org.get(&q(&soql).replace("/query?", "/queryAll?")).body;
    assert_eq!(all["totalSize"], json!(2));
    // `deleted` covers whole minutes up to now.
    org.sb.advance_clock(std::time::Duration::from_secs(120));
    let iso = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let now = org.sb.now_ms();
    let window = format!("?start={}&end={}", iso(now - 86_400_000), iso(now));
    let deleted = org
        .get(&Org::api(&format!("sobjects/Opportunity/deleted/{window}")))
        .body;
    assert_eq!(deleted["deletedRecords"][0]["id"], json!(id));
    org.sb.undelete_record(&id).unwrap();
    assert_eq!(org.get(&q(&soql)).body["totalSize"], json!(2));
}

#[test]
fn soql_filters_sorts_and_counts_opportunities_and_refuses_what_it_does_not_read() {
    let org = Org::start();
    org.sb.seed(4, 2, 0);
    let ids = org.sb.seed_opportunities(10);
    assert_eq!(ids.len(), 10);
    let open = org
        .get(&q(
            "SELECT Id, Name, StageName, Amount, CloseDate, AccountId, Account.Name, ContactId FROM Opportunity WHERE IsClosed = false AND Amount >= 0 ORDER BY Amount DESC, Id LIMIT 50",
        ))
        .body;
    let rows = open["records"].as_array().unwrap();
    assert_eq!(rows.len(), 8, "two of ten seeded are closed");
    let amounts: Vec<f64> = rows.iter().map(|r| r["Amount"].as_f64().unwrap()).collect();
    assert!(amounts.windows(2).all(|w| w[0] >= w[1]), "{amounts:?}");
    assert!(rows.iter().all(|r| r["ContactId"].is_string()));
    let won = org
        .get(&q(
            "SELECT COUNT() FROM Opportunity WHERE StageName IN ('Closed Won')",
        ))
        .body;
    assert_eq!(won["totalSize"], json!(1));
    let users = org
        .get(&q(
            "SELECT Id, Email FROM User WHERE IsActive = true ORDER BY Id",
        ))
        .body;
    let emails: Vec<&str> = users["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["Email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["admin@sandbox.example", "sam.seller@sandbox.example"]
    );
    // A parent-to-child sub-query, and a number compared with a string, are refused.
    let sub = org.get(&q(
        "SELECT Id, (SELECT ContactId FROM OpportunityContactRoles) FROM Opportunity",
    ));
    assert_eq!((sub.status, sub.code()), (400, "MALFORMED_QUERY"));
    let typed = org.get(&q("SELECT Id FROM Opportunity WHERE Amount > '5'"));
    assert_eq!(typed.code(), "INVALID_FIELD");
    // Users are read, not written.
    let write = org.call(
        "PATCH",
        &Org::api(&format!(
            "sobjects/User/{}",
            users["records"][0]["Id"].as_str().unwrap()
        )),
        Some(json!({"Email": "x@y.example"})),
    );
    assert_eq!(write.code(), "INSUFFICIENT_ACCESS_OR_READONLY");
}

#[test]
fn collections_upsert_opportunities_by_external_id_and_roll_roles_back_with_all_or_none() {
    let org = Org::start();
    let (acct, ann, bo) = account_and_contacts(&org);
    org.sb
        .add_field(
            &json!({"FullName": "Opportunity.crmsync_id__c", "Metadata": {
            "type": "Text", "label": "crmsync id", "length": 255,
            "externalId": true, "unique": true}}),
        )
        .unwrap();
    let upsert = |records: Value| {
        org.call(
            "PATCH",
            &Org::api("composite/sobjects/Opportunity/crmsync_id__c"),
            Some(json!({"allOrNone": false, "records": records})),
        )
    };
    let body = |name: &str| {
        json!({"attributes": {"type": "Opportunity"}, "crmsync_id__c": "L1", "Name": name,
               "StageName": "Qualification", "CloseDate": "2026-09-30", "Amount": 5000,
               "AccountId": acct})
    };
    let first = upsert(json!([body("First")]));
    assert_eq!(first.body[0]["created"], json!(true), "{}", first.text);
    let again = upsert(json!([body("Again")]));
    assert_eq!(again.body[0]["created"], json!(false));
    let id = first.body[0]["id"].as_str().unwrap().to_string();
    assert_eq!(again.body[0]["id"], json!(id));
    assert_eq!(org.record(&id)["Name"], json!("Again"));
    // An upsert naming `ContactId` cannot update it: that record is refused.
    let mut with_contact = body("x");
    with_contact["ContactId"] = json!(ann);
    let refused = upsert(json!([with_contact]));
    assert_eq!(
        refused.body[0]["errors"][0]["statusCode"],
        json!("INVALID_FIELD_FOR_INSERT_UPDATE")
    );

    // allOrNone: a role made primary and then a failure put every role back as it was.
    let role = |contact: &str| {
        json!({"attributes": {"type": "OpportunityContactRole"}, "OpportunityId": id,
               "ContactId": contact, "IsPrimary": true})
    };
    let ok = org.call(
        "POST",
        &Org::api("composite/sobjects"),
        Some(json!({"allOrNone": false, "records": [role(&ann)]})),
    );
    assert_eq!(ok.body[0]["success"], json!(true));
    let rolled = org.call(
        "POST",
        &Org::api("composite/sobjects"),
        Some(json!({"allOrNone": true, "records": [role(&bo), {"attributes": {"type": "OpportunityContactRole"}}]})),
    );
    assert_eq!(
        rolled.body[0]["errors"][0]["statusCode"],
        json!("ALL_OR_NONE_OPERATION_ROLLED_BACK")
    );
    let primary = org
        .get(&q(&format!(
            "SELECT ContactId FROM OpportunityContactRole WHERE OpportunityId = '{id}' AND IsPrimary = true"
        )))
        .body;
    assert_eq!(primary["records"][0]["ContactId"], json!(ann));
    assert_eq!(primary["totalSize"], json!(1));
    assert_eq!(org.record(&id)["ContactId"], json!(ann));
}

#[test]
fn a_bulk_job_reads_opportunities_as_csv_numbers_and_all() {
    let org = Org::start();
    org.sb.seed(2, 1, 0);
    org.sb.seed_opportunities(3);
    let job = org.call(
        "POST",
        &Org::api("jobs/query"),
        Some(json!({"operation": "query", "query": "SELECT Id, Name, StageName, Amount, CloseDate, AccountId FROM Opportunity"})),
    );
    assert_eq!(job.status, 200, "{}", job.text);
    let id = job.body["id"].as_str().unwrap().to_string();
    for _ in 0..2 {
        org.get(&Org::api(&format!("jobs/query/{id}")));
    }
    let csv = org.get(&Org::api(&format!("jobs/query/{id}/results")));
    let mut lines = csv.text.lines();
    assert_eq!(
        lines.next(),
        Some("\"Id\",\"Name\",\"StageName\",\"Amount\",\"CloseDate\",\"AccountId\"")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].contains("\"Prospecting\""), "{}", rows[0]);
    let amount = rows[0].split(',').nth(3).unwrap().trim_matches('"');
    assert!(amount.parse::<f64>().is_ok(), "{amount}");
}

#[test]
fn multi_currency_adds_the_currency_and_a_relabelled_stage_keeps_its_value() {
    let org = Org::with(SalesforceOptions {
        multi_currency: true,
        ..SalesforceOptions::default()
    });
    org.sb
        .relabel_picklist_value(
            "Opportunity",
            "StageName",
            "Proposal/Price Quote",
            "Proposal",
        )
        .unwrap();
    let d = org.get(&Org::api("sobjects/Opportunity/describe")).body;
    let currency = field(&d, "CurrencyIsoCode");
    assert_eq!(currency["restrictedPicklist"], json!(true));
    let proposal = field(&d, "StageName")["picklistValues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["value"] == json!("Proposal/Price Quote"))
        .cloned()
        .unwrap();
    assert_eq!(proposal["label"], json!("Proposal"));
    let made = create(
        &org,
        json!({"Name": "Euro", "StageName": "Proposal/Price Quote", "CloseDate": "2026-06-30",
               "CurrencyIsoCode": "EUR"}),
    );
    assert_eq!(made.status, 201, "{}", made.text);
    let by_label = create(
        &org,
        json!({"Name": "Label", "StageName": "Proposal", "CloseDate": "2026-06-30"}),
    );
    assert_eq!(
        by_label.code(),
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "the API takes a stage's value, not its label"
    );
    let dflt = create(
        &org,
        json!({"Name": "Default", "StageName": "Prospecting", "CloseDate": "2026-06-30"}),
    );
    let id = dflt.body["id"].as_str().unwrap();
    assert_eq!(org.record(id)["CurrencyIsoCode"], json!("USD"));
}
