//! Describe, record calls, upserts by external id, the Tooling API's custom fields, the
//! error codes, and the admin side's user edits.

use std::time::{Duration, Instant};

use crmsync::sandbox::salesforce::EditBefore;
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

#[test]
fn describe_lists_the_fields_with_their_types_limits_and_picklists() {
    let org = Org::start();
    let c = org.get(&Org::api("sobjects/Contact/describe")).body;
    assert_eq!(c["keyPrefix"], json!("003"));
    let last = field(&c, "LastName");
    assert_eq!(
        (
            last["type"].as_str(),
            last["length"].as_u64(),
            last["nillable"].as_bool()
        ),
        (Some("string"), Some(80), Some(false))
    );
    assert_eq!(field(&c, "Email")["type"], json!("email"));
    assert_eq!(field(&c, "AccountId")["referenceTo"], json!(["Account"]));
    assert_eq!(field(&c, "SystemModstamp")["updateable"], json!(false));
    let a = org.get(&Org::api("sobjects/Account/describe")).body;
    let industry = field(&a, "Industry");
    assert_eq!(industry["restrictedPicklist"], json!(true));
    assert!(
        industry["picklistValues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["value"] == json!("Technology"))
    );
    let t = org.get(&Org::api("sobjects/Task/describe")).body;
    assert_eq!(t["keyPrefix"], json!("00T"));
    let subtypes: Vec<&str> = field(&t, "TaskSubtype")["picklistValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert!(subtypes.contains(&"Call") && subtypes.contains(&"Email"));
    assert_eq!(
        org.get(&Org::api("sobjects/Lead/describe")).code(),
        "NOT_FOUND"
    );
    assert_eq!(org.get(&Org::api("sobjects")).status, 200);
    assert_eq!(org.get(&Org::api("sobjects/Contact")).status, 200);
}

#[test]
fn records_are_created_read_updated_and_deleted_with_salesforce_status_codes() {
    let org = Org::start();
    let acct = org.call(
        "POST",
        &Org::api("sobjects/Account"),
        Some(json!({"Name": "Acme", "Industry": "Retail"})),
    );
    assert_eq!(acct.status, 201);
    let acct_id = acct.body["id"].as_str().unwrap().to_string();
    assert!(acct_id.starts_with("001") && acct_id.len() == 18);
    let c = org.call("POST", &Org::api("sobjects/Contact"),
                     Some(json!({"FirstName": "Ann", "lastname": "Lee", "Email": "ann@example.com", "AccountId": acct_id})));
    assert_eq!(c.status, 201, "{}", c.text);
    let id = c.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("003"));
    let got = org.get(&Org::api(&format!("sobjects/Contact/{id}")));
    assert_eq!(got.body["LastName"], json!("Lee"));
    assert_eq!(got.body["Name"], json!("Ann Lee"));
    assert_eq!(
        got.body["attributes"]["url"],
        json!(Org::api(&format!("sobjects/Contact/{id}")))
    );
    let some = org.get(&Org::api(&format!(
        "sobjects/Contact/{}?fields=Email,AccountId",
        &id[..15]
    )));
    assert_eq!(
        some.body.as_object().unwrap().len(),
        3,
        "attributes and the two fields: {}",
        some.text
    );

    org.sb.advance_clock(Duration::from_secs(5));
    let before = got.body["SystemModstamp"].clone();
    let p = org.call(
        "PATCH",
        &Org::api(&format!("sobjects/Contact/{id}")),
        Some(json!({"Title": "CFO", "Email": ""})),
    );
    assert_eq!(p.status, 204);
    let after = org.get(&Org::api(&format!("sobjects/Contact/{id}"))).body;
    assert_eq!(
        (after["Title"].as_str(), after["Email"].as_str()),
        (Some("CFO"), None),
        "an empty string is stored as null"
    );
    assert_ne!(after["SystemModstamp"], before);
    assert_eq!(after["SystemModstamp"], after["LastModifiedDate"]);

    assert_eq!(
        org.call("DELETE", &Org::api(&format!("sobjects/Contact/{id}")), None)
            .status,
        204
    );
    assert_eq!(
        org.get(&Org::api(&format!("sobjects/Contact/{id}"))).code(),
        "NOT_FOUND"
    );
    let again = org.call("DELETE", &Org::api(&format!("sobjects/Contact/{id}")), None);
    assert_eq!((again.status, again.code()), (404, "ENTITY_IS_DELETED"));
    assert_eq!(
        org.call(
            "PATCH",
            &Org::api(&format!("sobjects/Contact/{id}")),
            Some(json!({"Title": "x"}))
        )
        .code(),
        "ENTITY_IS_DELETED"
    );
    assert_eq!(org.record(&id)["IsDeleted"], json!(true));
    org.sb.undelete_record(&id).unwrap();
    assert_eq!(
        org.get(&Org::api(&format!("sobjects/Contact/{id}"))).status,
        200
    );
}

#[test]
fn writes_the_org_refuses_answer_the_documented_error_codes() {
    let org = Org::start();
    let post = |obj: &str, body: Value| {
        org.call("POST", &Org::api(&format!("sobjects/{obj}")), Some(body))
    };
    let r = post("Contact", json!({"FirstName": "No"}));
    assert_eq!((r.status, r.code()), (400, "REQUIRED_FIELD_MISSING"));
    assert_eq!(r.body[0]["fields"], json!(["LastName"]));
    assert_eq!(
        post("Account", json!({"Website": "x.com"})).body[0]["fields"],
        json!(["Name"])
    );
    assert_eq!(
        post("Contact", json!({"LastName": "A", "Shoe__c": "x"})).code(),
        "INVALID_FIELD"
    );
    let long = post("Contact", json!({"LastName": "x".repeat(81)}));
    assert_eq!(
        (long.code(), &long.body[0]["fields"]),
        ("STRING_TOO_LONG", &json!(["LastName"]))
    );
    let pick = post("Account", json!({"Name": "A", "Industry": "Wizardry"}));
    assert_eq!(pick.code(), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    assert_eq!(
        post("Task", json!({"Subject": "s", "Status": "Nope"})).code(),
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    assert_eq!(
        post("Contact", json!({"LastName": "A", "Email": "not-an-email"})).code(),
        "INVALID_EMAIL_ADDRESS"
    );
    assert_eq!(
        post(
            "Contact",
            json!({"LastName": "A", "CreatedDate": "2024-01-01T00:00:00Z"})
        )
        .code(),
        "INVALID_FIELD_FOR_INSERT_UPDATE"
    );
    assert_eq!(
        post(
            "Contact",
            json!({"LastName": "A", "AccountId": "001Dn0000000999AAA"})
        )
        .code(),
        "INVALID_CROSS_REFERENCE_KEY"
    );
    assert_eq!(
        post("Contact", json!({"LastName": "A", "AccountId": "garbage"})).code(),
        "MALFORMED_ID"
    );
    let bad_json = org.send(
        "POST",
        &Org::api("sobjects/Contact"),
        None,
        &[("Content-Type", "application/json")],
    );
    assert_eq!(bad_json.code(), "JSON_PARSER_ERROR");
    let t = post(
        "Task",
        json!({"Subject": "Call Ann", "TaskSubtype": "Call", "ActivityDate": "2024-05-01"}),
    );
    assert_eq!(t.status, 201);
    let task = org
        .get(&Org::api(&format!(
            "sobjects/Task/{}",
            t.body["id"].as_str().unwrap()
        )))
        .body;
    assert_eq!(
        (task["Status"].as_str(), task["Priority"].as_str()),
        (Some("Not Started"), Some("Normal")),
        "the defaults"
    );
}

fn add_ext_field(org: &Org, name: &str, unique: bool) {
    let r = org.call("POST", &Org::api("tooling/sobjects/CustomField"), Some(json!({
        "FullName": format!("Contact.{name}"),
        "Metadata": {"type": "Text", "label": name, "length": 64, "externalId": true, "unique": unique}})));
    assert_eq!(r.status, 201, "{}", r.text);
}

#[test]
fn the_tooling_api_adds_custom_fields_to_describe() {
    let org = Org::start();
    let r = org.call("POST", &Org::api("tooling/sobjects/CustomField"), Some(json!({
        "FullName": "Contact.Pronouns__c", "Metadata": {"type": "Text", "label": "Pronouns", "length": 40}})));
    assert_eq!(r.status, 201);
    add_ext_field(&org, "crmsync_id__c", true);
    let d = org.get(&Org::api("sobjects/Contact/describe")).body;
    let f = field(&d, "crmsync_id__c");
    assert_eq!(
        (
            f["externalId"].as_bool(),
            f["unique"].as_bool(),
            f["custom"].as_bool(),
            f["length"].as_u64()
        ),
        (Some(true), Some(true), Some(true), Some(64))
    );
    assert_eq!(field(&d, "Pronouns__c")["length"], json!(40));
    let dup = org.call("POST", &Org::api("tooling/sobjects/CustomField"), Some(json!({
        "FullName": "Contact.Pronouns__c", "Metadata": {"type": "Text", "label": "P", "length": 40}})));
    assert_eq!(dup.code(), "DUPLICATE_DEVELOPER_NAME");
    let bad = org.call(
        "POST",
        &Org::api("tooling/sobjects/CustomField"),
        Some(json!({
        "FullName": "Contact.NoSuffix", "Metadata": {"type": "Text", "label": "P", "length": 40}})),
    );
    assert_eq!(bad.code(), "INVALID_FIELD");
    let c = org.call(
        "POST",
        &Org::api("sobjects/Contact"),
        Some(json!({"LastName": "A", "Pronouns__c": "she/her"})),
    );
    assert_eq!(c.status, 201);
}

#[test]
fn upserts_by_external_id_create_update_refuse_duplicates_and_answer_300_for_several() {
    let org = Org::start();
    add_ext_field(&org, "crmsync_id__c", true);
    let url = Org::api("sobjects/Contact/crmsync_id__c/L-1");
    let created = org.call("PATCH", &url, Some(json!({"LastName": "Lee"})));
    assert_eq!(
        (created.status, &created.body["created"]),
        (201, &json!(true))
    );
    let id = created.body["id"].as_str().unwrap().to_string();
    let updated = org.call(
        "PATCH",
        &Org::api("sobjects/Contact/crmsync_id__c/l-1"),
        Some(json!({"Title": "CFO"})),
    );
    assert_eq!(
        (
            updated.status,
            &updated.body["id"],
            &updated.body["created"]
        ),
        (200, &json!(id), &json!(false))
    );
    assert_eq!(org.get(&url).body["Title"], json!("CFO"));
    let dup = org.call(
        "POST",
        &Org::api("sobjects/Contact"),
        Some(json!({"LastName": "Two", "crmsync_id__c": "L-1"})),
    );
    assert_eq!(dup.code(), "DUPLICATE_VALUE");
    assert_eq!(
        org.call(
            "PATCH",
            &Org::api("sobjects/Contact/Email/x"),
            Some(json!({"LastName": "x"}))
        )
        .code(),
        "NOT_FOUND"
    );

    add_ext_field(&org, "Legacy_Id__c", false);
    for name in ["One", "Two"] {
        org.sb
            .create_record(
                "Contact",
                &json!({"LastName": name, "Legacy_Id__c": "same"}),
            )
            .unwrap();
    }
    let several = org.call(
        "PATCH",
        &Org::api("sobjects/Contact/Legacy_Id__c/same"),
        Some(json!({"Title": "x"})),
    );
    assert_eq!(several.status, 300);
    assert_eq!(several.body.as_array().unwrap().len(), 2);
    assert_eq!(
        org.get(&Org::api("sobjects/Contact/Legacy_Id__c/same"))
            .status,
        300
    );
}

#[test]
fn a_users_edits_move_the_modstamps_and_a_system_change_moves_system_modstamp_alone() {
    let org = Org::start();
    let seeded = org.sb.seed(3, 1, 2);
    assert_eq!(
        (
            seeded.contacts.len(),
            seeded.accounts.len(),
            seeded.tasks.len()
        ),
        (3, 1, 2)
    );
    let id = &seeded.contacts[0];
    let before = org.record(id);
    org.sb.advance_clock(Duration::from_secs(2));
    let edited = org
        .sb
        .update_record("Contact", id, &json!({"Title": "Chief"}))
        .unwrap();
    assert_eq!(edited["Title"], json!("Chief"));
    assert_ne!(edited["LastModifiedDate"], before["LastModifiedDate"]);
    assert_eq!(edited["SystemModstamp"], edited["LastModifiedDate"]);
    assert!(
        org.sb
            .update_record("Contact", id, &json!({"LastName": ""}))
            .is_err(),
        "the user's edit is checked too"
    );
    org.sb.advance_clock(Duration::from_secs(2));
    let r = org.call(
        "POST",
        &format!("/_sandbox/records/Contact/{id}/touch"),
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body["LastModifiedDate"], edited["LastModifiedDate"]);
    assert_ne!(r.body["SystemModstamp"], edited["SystemModstamp"]);
    let task = org.record(&seeded.tasks[0]);
    assert_eq!(
        (task["WhoId"].as_str(), task["WhatId"].as_str()),
        (
            Some(seeded.contacts[0].as_str()),
            Some(seeded.accounts[0].as_str())
        )
    );

    org.sb.edit_before(EditBefore {
        method: "GET".into(),
        path_contains: "/sobjects/Contact/".into(),
        nth: 1,
        object: "Contact".into(),
        id: id.clone(),
        body: json!({"Title": "Landed"}),
    });
    assert_eq!(
        org.get(&Org::api(&format!("sobjects/Contact/{id}"))).body["Title"],
        json!("Landed")
    );
}

#[test]
fn fifty_thousand_contacts_seed_in_seconds() {
    let org = Org::start();
    let started = Instant::now();
    let seeded = org.sb.seed(50_000, 100, 0);
    assert_eq!(seeded.contacts.len(), 50_000);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    let count = org.get(&Org::api("query?q=SELECT+COUNT()+FROM+Contact"));
    assert_eq!(count.body["totalSize"], json!(50_000));
}

#[test]
fn a_merge_keeps_the_masters_values_deletes_the_others_naming_it_and_moves_their_children() {
    let org = Org::start();
    let seeded = org.sb.seed(4, 2, 0);
    let (master, away) = (&seeded.contacts[0], &seeded.contacts[1]);
    let task = org
        .sb
        .create_record(
            "Task",
            &json!({"WhoId": away, "Subject": "Call back", "Status": "Completed"}),
        )
        .unwrap();
    let before = org.record(master);
    org.sb.advance_clock(Duration::from_secs(2));
    let r = org.call(
        "POST",
        "/_sandbox/merge/Contact",
        Some(json!({"master": master, "merged": [away]})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // The master keeps its own values and is changed.
    assert_eq!(r.body["Email"], before["Email"]);
    assert_eq!(r.body["LastName"], before["LastName"]);
    assert_ne!(r.body["SystemModstamp"], before["SystemModstamp"]);
    assert_eq!(r.body["MasterRecordId"], Value::Null);
    // The merged-away contact is deleted: gone from `query`, in `queryAll` naming the master.
    assert_eq!(
        org.get(&Org::api(&format!("sobjects/Contact/{away}")))
            .status,
        404
    );
    let soql: String = url::form_urlencoded::byte_serialize(
        b"SELECT Id, MasterRecordId FROM Contact WHERE IsDeleted = true AND MasterRecordId != null",
    )
    .collect();
    let all = org.get(&Org::api(&format!("queryAll?q={soql}")));
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(
        all.body["records"],
        json!([{"attributes": {"type": "Contact",
                               "url": format!("/services/data/v{}/sobjects/Contact/{away}", super::V)},
                "Id": away, "MasterRecordId": master}])
    );
    // Its task follows the master.
    let task = org.record(task["Id"].as_str().unwrap());
    assert_eq!(task["WhoId"], json!(master));
    // Tasks are not merged, and a record is merged only into a live one of its object.
    assert_eq!(
        org.call(
            "POST",
            "/_sandbox/merge/Task",
            Some(json!({"master": task["Id"], "merged": [task["Id"]]}))
        )
        .status,
        400
    );
    assert!(
        org.sb
            .merge("Contact", &seeded.contacts[2], &[away])
            .is_err()
    );
    assert!(
        org.sb
            .merge("Contact", &seeded.contacts[2], &[&seeded.accounts[0]])
            .is_err()
    );
    // An account merged away takes its contacts to the master.
    let (keep, gone) = (&seeded.accounts[0], &seeded.accounts[1]);
    let moved: Vec<String> = seeded
        .contacts
        .iter()
        .filter(|c| {
            let r = org.record(c);
            r["AccountId"] == json!(gone) && r["IsDeleted"] == json!(false)
        })
        .cloned()
        .collect();
    assert!(!moved.is_empty());
    org.sb.merge("Account", keep, &[gone]).unwrap();
    for c in &moved {
        assert_eq!(org.record(c)["AccountId"], json!(keep));
    }
    assert_eq!(org.record(gone)["MasterRecordId"], json!(keep));
    // Back from the Recycle Bin, a merged-away record names no master any more.
    org.sb.undelete_record(gone).unwrap();
    assert_eq!(org.record(gone)["MasterRecordId"], Value::Null);
}

#[test]
fn an_external_id_made_non_unique_lets_records_share_a_value_and_an_upsert_then_answers_300() {
    let org = Org::start();
    add_ext_field(&org, "crmsync_id__c", true);
    let one = org
        .sb
        .create_record(
            "Contact",
            &json!({"LastName": "One", "crmsync_id__c": "L-9"}),
        )
        .unwrap();
    assert!(
        org.sb
            .create_record(
                "Contact",
                &json!({"LastName": "Two", "crmsync_id__c": "L-9"})
            )
            .is_err(),
        "unique"
    );
    // An admin unticks Unique in Setup.
    let r = org.call(
        "PATCH",
        "/_sandbox/fields/Contact/crmsync_id__c",
        Some(json!({"unique": false})),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    let described = org.get(&Org::api("sobjects/Contact/describe")).body;
    assert_eq!(
        (
            &field(&described, "crmsync_id__c")["unique"],
            &field(&described, "crmsync_id__c")["externalId"]
        ),
        (&json!(false), &json!(true))
    );
    let two = org
        .sb
        .create_record(
            "Contact",
            &json!({"LastName": "Two", "crmsync_id__c": "L-9"}),
        )
        .unwrap();
    let several = org.call(
        "PATCH",
        &Org::api("sobjects/Contact/crmsync_id__c/L-9"),
        Some(json!({"Title": "x"})),
    );
    assert_eq!(several.status, 300);
    let urls = several.text.clone();
    for id in [&one["Id"], &two["Id"]] {
        assert!(urls.contains(id.as_str().unwrap()), "{urls}");
    }
    // Unique again only once the values are unique.
    assert!(
        org.sb
            .update_field("Contact", "crmsync_id__c", &json!({"unique": true}))
            .is_err()
    );
    org.sb
        .delete_record("Contact", two["Id"].as_str().unwrap())
        .unwrap();
    org.sb
        .update_field("Contact", "crmsync_id__c", &json!({"unique": true}))
        .unwrap();
}
