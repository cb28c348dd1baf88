//! sObject Collections: create, update, delete and upsert, results in input order,
//! `allOrNone`, the 200-record limit.

use serde_json::{Value, json};

use super::Org;

fn contact(last: &str) -> Value {
    json!({"attributes": {"type": "Contact"}, "LastName": last})
}

#[test]
fn a_collection_create_answers_in_input_order_with_per_record_errors() {
    let org = Org::start();
    let body = json!({"allOrNone": false, "records": [
        contact("One"), {"attributes": {"type": "Contact"}, "FirstName": "NoLast"},
        {"attributes": {"type": "Account"}, "Name": "Acme"}]});
    let r = org.call("POST", &Org::api("composite/sobjects"), Some(body));
    assert_eq!(r.status, 200);
    let results = r.body.as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert!(results[0]["id"].as_str().unwrap().starts_with("003"));
    assert_eq!(results[1]["success"], json!(false));
    assert!(results[1].get("id").is_none());
    assert_eq!(
        results[1]["errors"][0]["statusCode"],
        json!("REQUIRED_FIELD_MISSING")
    );
    assert!(results[2]["id"].as_str().unwrap().starts_with("001"));

    let all = json!({"allOrNone": true, "records": [contact("Kept?"), {"attributes": {"type": "Contact"}, "Bogus": 1}]});
    let r = org.call("POST", &Org::api("composite/sobjects"), Some(all));
    assert_eq!(
        r.body[0]["errors"][0]["statusCode"],
        json!("ALL_OR_NONE_OPERATION_ROLLED_BACK")
    );
    assert_eq!(r.body[1]["errors"][0]["statusCode"], json!("INVALID_FIELD"));
    let dump = org.sb.dump();
    assert_eq!(
        dump["Contact"].as_array().unwrap().len(),
        1,
        "the rolled-back record is gone"
    );

    let many: Vec<Value> = (0..201).map(|i| contact(&format!("C{i}"))).collect();
    let r = org.call(
        "POST",
        &Org::api("composite/sobjects"),
        Some(json!({"records": many})),
    );
    assert_eq!((r.status, r.code()), (400, "EXCEEDED_ID_LIMIT"));
}

#[test]
fn collections_update_delete_and_upsert_by_external_id() {
    let org = Org::start();
    org.sb.add_field(&json!({"FullName": "Contact.crmsync_id__c",
                             "Metadata": {"type": "Text", "label": "crmsync id", "length": 64, "externalId": true, "unique": true}})).unwrap();
    let seeded = org.sb.seed(3, 0, 0);
    let (a, b, c) = (
        &seeded.contacts[0],
        &seeded.contacts[1],
        &seeded.contacts[2],
    );
    let upd = json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Contact"}, "id": a, "Title": "CEO"},
        {"attributes": {"type": "Contact"}, "id": "003Dn0000000999AAA", "Title": "x"},
        {"attributes": {"type": "Contact"}, "Title": "no id"}]});
    let r = org.call("PATCH", &Org::api("composite/sobjects"), Some(upd));
    assert_eq!(r.body[0], json!({"id": a, "success": true, "errors": []}));
    assert_eq!(r.body[1]["errors"][0]["statusCode"], json!("NOT_FOUND"));
    assert_eq!(
        r.body[2]["errors"][0]["statusCode"],
        json!("MISSING_ARGUMENT")
    );
    assert_eq!(org.record(a)["Title"], json!("CEO"));

    let rolled = json!({"allOrNone": true, "records": [
        {"attributes": {"type": "Contact"}, "id": b, "Title": "Rolled"},
        {"attributes": {"type": "Contact"}, "id": c, "LastName": ""}]});
    let r = org.call("PATCH", &Org::api("composite/sobjects"), Some(rolled));
    assert_eq!(r.body[0]["id"], json!(b));
    assert_eq!(
        r.body[0]["errors"][0]["statusCode"],
        json!("ALL_OR_NONE_OPERATION_ROLLED_BACK")
    );
    assert_ne!(org.record(b)["Title"], json!("Rolled"), "rolled back");

    let ups = json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Contact"}, "crmsync_id__c": "L-1", "LastName": "New"},
        {"attributes": {"type": "Contact"}, "crmsync_id__c": "L-1", "Title": "Second"},
        {"attributes": {"type": "Contact"}, "LastName": "No key"}]});
    let r = org.call(
        "PATCH",
        &Org::api("composite/sobjects/Contact/crmsync_id__c"),
        Some(ups),
    );
    assert_eq!(
        (
            r.body[0]["created"].as_bool(),
            r.body[1]["created"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(r.body[0]["id"], r.body[1]["id"]);
    assert_eq!(r.body[2]["success"], json!(false));
    assert_eq!(
        org.call(
            "PATCH",
            &Org::api("composite/sobjects/Contact/Email"),
            Some(json!({"records": []}))
        )
        .code(),
        "INVALID_FIELD"
    );

    let r = org.call(
        "DELETE",
        &Org::api(&format!("composite/sobjects?ids={a},{b}&allOrNone=false")),
        None,
    );
    assert_eq!(
        r.body,
        json!([{"id": a, "success": true, "errors": []}, {"id": b, "success": true, "errors": []}])
    );
    let r = org.call(
        "DELETE",
        &Org::api(&format!("composite/sobjects?ids={a},{c}&allOrNone=true")),
        None,
    );
    assert_eq!(
        r.body[0]["errors"][0]["statusCode"],
        json!("ENTITY_IS_DELETED")
    );
    assert_eq!(
        r.body[1]["errors"][0]["statusCode"],
        json!("ALL_OR_NONE_OPERATION_ROLLED_BACK")
    );
    assert_eq!(org.record(c)["IsDeleted"], json!(false), "rolled back");
}

#[test]
fn a_collection_upsert_whose_key_matches_several_records_fails_that_record() {
    let org = Org::start();
    org.sb.add_field(&json!({"FullName": "Contact.Legacy__c",
                             "Metadata": {"type": "Text", "label": "Legacy", "length": 20, "externalId": true}})).unwrap();
    for n in ["A", "B"] {
        org.sb
            .create_record("Contact", &json!({"LastName": n, "Legacy__c": "k"}))
            .unwrap();
    }
    let r = org.call(
        "PATCH",
        &Org::api("composite/sobjects/Contact/Legacy__c"),
        Some(json!({"records": [
        {"attributes": {"type": "Contact"}, "Legacy__c": "k", "Title": "x"}]})),
    );
    assert_eq!(
        r.body[0]["errors"][0]["statusCode"],
        json!("DUPLICATE_EXTERNAL_ID")
    );
}
