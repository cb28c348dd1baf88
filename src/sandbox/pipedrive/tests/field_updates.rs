//! `PUT /v1/{…Fields}/{id}` (a label added, options replaced, a custom field renamed) and
//! users seeded with emails, checked against the spec like every other call.

use serde_json::{Value, json};

use super::{add_person_field, api, api_unchecked, start};

/// The `label_ids` field of persons in the v1 catalogue.
fn label_field(sb: &super::PipedriveSandbox) -> Value {
    let r = api(sb, "GET", "/v1/personFields?limit=500", None);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "label_ids")
        .cloned()
        .expect("the person label field")
}

#[test]
fn a_label_is_added_by_giving_the_field_its_options_and_the_new_one() {
    let sb = start();
    let field = label_field(&sb);
    let id = field["id"].as_i64().unwrap();
    let mut options: Vec<Value> = field["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| json!({"id": o["id"], "label": o["label"]}))
        .collect();
    let before = options.len();
    options.push(json!({"label": "Warm Lead"}));
    let r = api(
        &sb,
        "PUT",
        &format!("/v1/personFields/{id}"),
        Some(json!({"options": options})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let after = r.body["data"]["options"].as_array().unwrap().clone();
    assert_eq!(after.len(), before + 1);
    let new = after.last().unwrap();
    assert_eq!(new["label"], "Warm Lead");
    let new_id = new["id"].as_i64().unwrap();
    assert!(
        field["options"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["id"] != new_id)
    );
    // The catalogue shows it, and a person takes it.
    assert!(
        label_field(&sb)["options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == new_id)
    );
    let p = api(
        &sb,
        "POST",
        "/api/v2/persons",
        Some(json!({"name": "Ann", "label_ids": [new_id]})),
    );
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["data"]["label_ids"], json!([new_id]));

    // Left out, an option is removed, and taken off the records that had it.
    let kept: Vec<Value> = after
        .iter()
        .filter(|o| o["id"] != new_id)
        .map(|o| json!({"id": o["id"]}))
        .collect();
    let r = api(
        &sb,
        "PUT",
        &format!("/api/v1/personFields/{id}"),
        Some(json!({"options": kept})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["options"].as_array().unwrap().len(), before);
    let person = p.body["data"]["id"].as_i64().unwrap();
    let read = api(&sb, "GET", &format!("/api/v2/persons/{person}"), None);
    assert_eq!(read.body["data"]["label_ids"], json!([]));
}

#[test]
fn a_field_update_is_refused_where_the_spec_or_the_field_does_not_allow_it() {
    let sb = start();
    let labels = label_field(&sb)["id"].as_i64().unwrap();
    let nick = add_person_field(&sb, json!({"name": "Nickname", "field_type": "varchar"}));
    let nick_id = nick["id"].as_i64().unwrap();
    let cases: &[(i64, Value, &str)] = &[
        (
            labels,
            json!({"options": [{"id": 999_999, "label": "x"}]}),
            "Option with ID 999999 not found",
        ),
        (labels, json!({"options": []}), "Options are required"),
        (
            labels,
            json!({"options": [{"label": "  "}]}),
            "label must be a non-empty string",
        ),
        (
            labels,
            json!({"name": "Tags"}),
            "Only custom fields can be renamed",
        ),
        (
            nick_id,
            json!({"options": [{"label": "a"}]}),
            "only be given to enum and set fields",
        ),
        (424_242, json!({"name": "x"}), "Field not found"),
    ];
    for (id, body, want) in cases {
        let r = api_unchecked(&sb, "PUT", &format!("/v1/personFields/{id}"), body.clone());
        assert!(r.status == 400 || r.status == 404, "{body}: {}", r.status);
        assert!(
            r.body["error"].as_str().unwrap_or_default().contains(want),
            "{body}: {}",
            r.body
        );
    }
    let renamed = api(
        &sb,
        "PUT",
        &format!("/v1/personFields/{nick_id}"),
        Some(json!({"name": "Nick"})),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.body["data"]["name"], "Nick");
    assert_eq!(renamed.body["data"]["key"], nick["key"]);
}

#[test]
fn users_are_seeded_with_emails_and_listed_by_v1() {
    let sb = start();
    let id = sb.add_user("Ana Silva", "ana@company.example").unwrap();
    assert!(
        sb.add_user("Again", "ANA@company.example").is_err(),
        "emails are unique"
    );
    assert!(sb.add_user("", "not-an-email").is_err());
    let users = api(&sb, "GET", "/v1/users", None);
    let ana = users.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .cloned()
        .expect("the new user is listed");
    assert_eq!(ana["email"], "ana@company.example");
    assert_eq!(ana["name"], "Ana Silva");
    // A person can be given to the new user.
    let p = api(
        &sb,
        "POST",
        "/api/v2/persons",
        Some(json!({"name": "Bo", "owner_id": id})),
    );
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["data"]["owner_id"], id);
}

#[test]
fn the_spec_check_knows_the_field_update_both_ways() {
    use super::spec_check::{Part, errors_in};
    let path = "/v1/personFields/9009";
    let good = json!({"options": [{"id": 1, "label": "Customer"}, {"label": "Warm Lead"}]});
    assert_eq!(
        errors_in("PUT", path, Part::Request, &good, false),
        Some(vec![])
    );
    let bad = json!({"options": "Warm Lead", "add_visible_flag": "yes"});
    let errors = errors_in("PUT", path, Part::Request, &bad, false).unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    let answer = json!({"success": true, "data": {"id": 9009, "key": "label_ids", "options": "x"}});
    assert!(
        !errors_in("PUT", path, Part::Response(200), &answer, false)
            .unwrap()
            .is_empty()
    );
}
