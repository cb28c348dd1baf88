//! Merges in the Pipedrive sandbox (`merge.rs`): the v1 merge endpoints, what the survivor
//! keeps and takes, and how `/v1/recents` shows the merged-away record, each body checked
//! against the spec.

use serde_json::{Value, json};

use super::tests::{api, start};

fn create(sb: &super::PipedriveSandbox, kind: &str, body: Value) -> i64 {
    let r = api(sb, "POST", &format!("/api/v2/{kind}"), Some(body));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"]["id"].as_i64().unwrap()
}

#[test]
fn a_person_merged_into_another_is_deleted_and_the_survivor_takes_its_values_where_it_has_none() {
    let sb = start();
    let org = create(&sb, "organizations", json!({"name": "Acme"}));
    let ann = create(
        &sb,
        "persons",
        json!({"name": "Ann Lee", "org_id": org,
               "emails": [{"value": "ann@example.org", "primary": true, "label": "work"}],
               "phones": [{"value": "+1555", "primary": true, "label": "work"}]}),
    );
    let bea = create(
        &sb,
        "persons",
        json!({"name": "Bea", "emails": [{"value": "bea@example.org", "primary": true, "label": "work"}]}),
    );
    let call = create(
        &sb,
        "activities",
        json!({"subject": "Intro", "person_id": ann}),
    );
    sb.advance_clock(std::time::Duration::from_secs(2));
    let since = super::values::v1_time(sb.now_ms() - 1000);
    let merged = api(
        &sb,
        "PUT",
        &format!("/v1/persons/{ann}/merge"),
        Some(json!({"merge_with_id": bea})),
    );
    assert_eq!(merged.status, 200, "{}", merged.body);
    assert_eq!(merged.body["data"]["id"], json!(bea));
    assert_eq!(merged.body["data"]["merge_what_id"], json!(ann));
    // The survivor keeps its name and primary email, and takes the organization, the phone
    // and the other email.
    let b = api(&sb, "GET", &format!("/api/v2/persons/{bea}"), None).body["data"].clone();
    assert_eq!(b["name"], json!("Bea"));
    assert_eq!(b["org_id"], json!(org));
    let emails: Vec<(&str, bool)> = b["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["value"].as_str().unwrap(), e["primary"] == json!(true)))
        .collect();
    assert_eq!(
        emails,
        [("bea@example.org", true), ("ann@example.org", false)]
    );
    assert_eq!(b["phones"][0]["value"], json!("+1555"));
    // The merged-away person is gone; its activity is the survivor's.
    let a = api(&sb, "GET", &format!("/api/v2/persons/{ann}"), None);
    assert_eq!(a.status, 404);
    let act = api(&sb, "GET", &format!("/api/v2/activities/{call}"), None);
    assert_eq!(act.body["data"]["person_id"], json!(bea));
    // The recents show the merged-away person deleted, naming the survivor.
    let recents = api(
        &sb,
        "GET",
        &format!(
            "/v1/recents?items=person&since_timestamp={}",
            since.replace(' ', "%20")
        ),
        None,
    );
    let items = recents.body["data"].as_array().unwrap();
    let gone = items.iter().find(|i| i["id"] == json!(ann)).unwrap();
    assert_eq!(gone["data"]["active_flag"], json!(false));
    assert_eq!(gone["data"]["merge_what_id"], json!(bea));
    let kept = items.iter().find(|i| i["id"] == json!(bea)).unwrap();
    assert_eq!(kept["data"]["active_flag"], json!(true));
    assert!(kept["data"].get("merge_what_id").is_none());
    // A merge with a deleted person, or with itself, is refused.
    let again = api(
        &sb,
        "PUT",
        &format!("/v1/persons/{ann}/merge"),
        Some(json!({"merge_with_id": bea})),
    );
    assert_eq!(again.status, 404, "{}", again.body);
    let itself = api(
        &sb,
        "PUT",
        &format!("/v1/persons/{bea}/merge"),
        Some(json!({"merge_with_id": bea})),
    );
    assert_eq!(itself.status, 400, "{}", itself.body);
}

#[test]
fn an_organization_merged_into_another_takes_its_persons_and_shows_as_deleted() {
    let sb = start();
    let old = create(&sb, "organizations", json!({"name": "Old Co"}));
    let new = create(&sb, "organizations", json!({"name": "New Co"}));
    let p = create(&sb, "persons", json!({"name": "Cy", "org_id": old}));
    let merged = api(
        &sb,
        "PUT",
        &format!("/v1/organizations/{old}/merge"),
        Some(json!({"merge_with_id": new})),
    );
    assert_eq!(merged.status, 200, "{}", merged.body);
    assert_eq!(merged.body["data"], json!({"id": new}));
    let person = api(&sb, "GET", &format!("/api/v2/persons/{p}"), None);
    assert_eq!(person.body["data"]["org_id"], json!(new));
    assert_eq!(
        api(&sb, "GET", &format!("/api/v2/organizations/{old}"), None).status,
        404
    );
    let dump = sb.dump();
    let gone = dump["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == json!(old))
        .unwrap();
    assert_eq!(gone["is_deleted"], json!(true));
}
