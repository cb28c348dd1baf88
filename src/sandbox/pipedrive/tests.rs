//! Behaviour of the Pipedrive sandbox over real HTTP. Every body a test sends and every JSON
//! body the sandbox answers is checked against the official OpenAPI files (`spec_check`),
//! so a shape that drifts from Pipedrive's fails the test that served it.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

use super::spec_check::{self, ERRATA, Part};
use super::{EditBefore, PipedriveOptions, PipedriveSandbox};
use crate::sandbox::FaultOptions;

pub(super) struct Resp {
    pub(super) status: u16,
    headers: reqwest::header::HeaderMap,
    pub(super) body: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub(super) fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    })
}

/// Panics with the spec's complaints about `body`, if any.
pub(super) fn check_spec(method: &str, path: &str, part: Part, body: &Value) {
    let errors = spec_check::errors_in(method, path, part, body, false)
        .unwrap_or_else(|| panic!("the specs have no schema for {method} {path} {part:?}"));
    assert!(
        errors.is_empty(),
        "{method} {path} {part:?} does not match the Pipedrive spec:\n  {}\nbody: {body}",
        errors.join("\n  ")
    );
}

/// One call with `token` (as `x-api-token`), checked against the spec both ways.
fn send(
    sb: &PipedriveSandbox,
    method: &str,
    target: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let path = target.split('?').next().unwrap_or(target);
    if let Some(b) = body.as_ref().filter(|_| !path.starts_with("/_sandbox")) {
        check_spec(method, path, Part::Request, b);
    }
    send_any(sb, method, target, token, body)
}

/// One call whose body may break the spec on purpose; the answer is still checked.
fn send_any(
    sb: &PipedriveSandbox,
    method: &str,
    target: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    exchange(sb, method, target, |mut rb| {
        if let Some(t) = token {
            rb = rb.header("x-api-token", t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb
    })
}

/// One call made by `build`; a JSON answer outside the admin API is checked against the spec.
fn exchange(
    sb: &PipedriveSandbox,
    method: &str,
    target: &str,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> Resp {
    let path = target.split('?').next().unwrap_or(target).to_string();
    let url = format!("{}{target}", sb.base_url());
    let method_r = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let rb = build(client().request(method_r, url));
    let (status, headers, text) = runtime().block_on(async move {
        let r = rb.send().await.expect("the sandbox answers");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.unwrap())
    });
    let body: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| json!(text))
    };
    if body.is_object() && !path.starts_with("/_sandbox") {
        check_spec(method, &path, Part::Response(status), &body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

/// A form POST to the OAuth token endpoint with the client credentials `basic`.
fn token_call(
    sb: &PipedriveSandbox,
    path: &str,
    basic: (&str, &str),
    form: &[(&str, &str)],
) -> Resp {
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    exchange(sb, "POST", path, |rb| {
        rb.basic_auth(basic.0, Some(basic.1)).form(&form)
    })
}

pub(super) fn api(sb: &PipedriveSandbox, method: &str, target: &str, body: Option<Value>) -> Resp {
    let token = sb.api_token();
    send(sb, method, target, Some(&token), body)
}

/// An API call whose body may break the spec (to see the sandbox refuse it); the answer is
/// still checked.
fn api_unchecked(sb: &PipedriveSandbox, method: &str, target: &str, body: Value) -> Resp {
    let token = sb.api_token();
    send_any(sb, method, target, Some(&token), Some(body))
}

pub(super) fn start() -> PipedriveSandbox {
    PipedriveSandbox::start(PipedriveOptions {
        burst_limit: 10_000,
        ..PipedriveOptions::default()
    })
    .unwrap()
}

/// Adds a custom person field through the API; returns its key.
fn add_person_field(sb: &PipedriveSandbox, body: Value) -> Value {
    let r = api(sb, "POST", "/v1/personFields", Some(body));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].clone()
}

/// The ids of a list answer's records, in order.
fn ids_in(r: &Resp) -> Vec<i64> {
    r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {}", r.body))
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect()
}

fn is_hash_key(k: &str) -> bool {
    k.len() == 40 && k.chars().all(|c| c.is_ascii_hexdigit())
}

#[test]
fn a_person_is_created_read_updated_and_deleted_in_the_v2_shapes() {
    let sb = start();
    let org = api(
        &sb,
        "POST",
        "/api/v2/organizations",
        Some(json!({"name": "Acme"})),
    );
    assert_eq!(org.status, 200, "a v2 create answers 200: {}", org.body);
    let org_id = org.body["data"]["id"].as_i64().unwrap();
    let nick = add_person_field(&sb, json!({"name": "Nickname", "field_type": "varchar"}));
    let tags = add_person_field(
        &sb,
        json!({"name": "Tags", "field_type": "set", "options": [{"label": "a"}, {"label": "b"}]}),
    );
    let nick_key = nick["key"].as_str().unwrap().to_string();
    let tags_key = tags["key"].as_str().unwrap().to_string();
    assert!(
        is_hash_key(&nick_key) && is_hash_key(&tags_key),
        "{nick_key} {tags_key}"
    );
    assert_ne!(nick_key, tags_key);
    let tag_a = tags["options"][0]["id"].as_i64().unwrap();

    let created = api(
        &sb,
        "POST",
        "/api/v2/persons",
        Some(json!({
            "name": "Ann Lee", "org_id": org_id, "label_ids": [1, 2],
            "emails": [{"value": "ann@example.com", "label": "work"},
                       {"value": "ann@home.example", "primary": false, "label": "home"}],
            "phones": [{"value": "+1555", "primary": true, "label": "mobile"}],
            "custom_fields": {nick_key.clone(): "Annie", tags_key.clone(): [tag_a]},
        })),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.body["success"], json!(true));
    let p = &created.body["data"];
    let id = p["id"].as_i64().unwrap();
    assert_eq!(p["first_name"], json!("Ann"));
    assert_eq!(p["last_name"], json!("Lee"));
    assert_eq!(p["org_id"], json!(org_id));
    assert_eq!(
        p["owner_id"],
        json!(1),
        "the token's user owns what it creates"
    );
    assert_eq!(
        p["emails"][0],
        json!({"value": "ann@example.com", "primary": true, "label": "work"})
    );
    assert_eq!(p["emails"][1]["primary"], json!(false));
    assert_eq!(p["label_ids"], json!([1, 2]));
    assert_eq!(p["custom_fields"][&nick_key], json!("Annie"));
    assert_eq!(p["custom_fields"][&tags_key], json!([tag_a]));
    let added = p["add_time"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(added).is_ok(),
        "RFC 3339: {added}"
    );
    assert!(
        added.ends_with('Z') && !added.contains('.'),
        "whole seconds in UTC: {added}"
    );

    sb.advance_clock(Duration::from_secs(5));
    let patched = api(
        &sb,
        "PATCH",
        &format!("/api/v2/persons/{id}"),
        Some(json!({"name": "Ann Smith", "custom_fields": {tags_key.clone(): null}})),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["data"]["last_name"], json!("Smith"));
    assert_eq!(
        patched.body["data"]["custom_fields"][&tags_key],
        Value::Null,
        "null clears a set"
    );
    assert_eq!(
        patched.body["data"]["custom_fields"][&nick_key],
        json!("Annie"),
        "untouched"
    );
    assert_ne!(patched.body["data"]["update_time"], p["update_time"]);
    let same = api(
        &sb,
        "PATCH",
        &format!("/api/v2/persons/{id}"),
        Some(json!({"name": "Ann Smith"})),
    );
    assert_eq!(
        same.body["data"]["update_time"], patched.body["data"]["update_time"],
        "a write that changes nothing leaves update_time"
    );

    let got = api(
        &sb,
        "GET",
        &format!("/api/v2/persons/{id}?custom_fields={nick_key}"),
        None,
    );
    assert_eq!(
        got.body["data"]["custom_fields"],
        json!({nick_key.clone(): "Annie"})
    );

    let deleted = api(&sb, "DELETE", &format!("/api/v2/persons/{id}"), None);
    assert_eq!(deleted.status, 200);
    assert_eq!(
        deleted.body,
        json!({"success": true, "data": {"id": id}, "additional_data": null})
    );
    let gone = api(&sb, "GET", &format!("/api/v2/persons/{id}"), None);
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body["success"], json!(false));
    assert_eq!(gone.body["error"], json!("Person not found"));
    assert!(
        gone.body["error_info"]
            .as_str()
            .unwrap()
            .contains("developers.pipedrive.com")
    );
    let again = api(&sb, "DELETE", &format!("/api/v2/persons/{id}"), None);
    assert_eq!(again.status, 404);
    let list = api(&sb, "GET", "/api/v2/persons", None);
    assert_eq!(
        list.body["data"],
        json!([]),
        "lists leave deleted records out"
    );
    assert_eq!(sb.dump()["persons"][0]["is_deleted"], json!(true));
}

#[test]
fn lists_page_by_cursor_filter_by_update_time_and_sort() {
    let sb = start();
    sb.freeze_clock(true);
    let t0 = sb.now_ms();
    let (ids, orgs) = sb.seed(7, 2);
    assert_eq!((ids.len(), orgs.len()), (7, 2));
    let mut seen = Vec::new();
    let mut target = "/api/v2/persons?limit=3".to_string();
    loop {
        let r = api(&sb, "GET", &target, None);
        assert_eq!(r.status, 200, "{}", r.body);
        let page = ids_in(&r);
        assert!(page.len() <= 3);
        seen.extend(page);
        match r.body["additional_data"]["next_cursor"].as_str() {
            Some(c) => target = format!("/api/v2/persons?limit=3&cursor={c}"),
            None => {
                assert_eq!(
                    r.body["additional_data"]["next_cursor"],
                    Value::Null,
                    "null on the last page"
                );
                break;
            }
        }
    }
    assert_eq!(seen, ids, "every person once, by id");

    let desc = api(
        &sb,
        "GET",
        "/api/v2/persons?sort_by=id&sort_direction=desc&limit=2",
        None,
    );
    assert_eq!(ids_in(&desc), vec![ids[6], ids[5]]);
    let cursor = desc.body["additional_data"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let next = api(
        &sb,
        "GET",
        &format!("/api/v2/persons?cursor={cursor}&limit=2"),
        None,
    );
    assert_eq!(
        next.body["data"][0]["id"],
        json!(ids[4]),
        "the cursor keeps its sort"
    );

    sb.advance_clock(Duration::from_secs(60));
    sb.update_record("persons", ids[2], &json!({"name": "Late Edit"}))
        .unwrap();
    let since = super::values::rfc3339(t0 + 30_000);
    let listed = |query: String| -> Vec<i64> {
        ids_in(&api(&sb, "GET", &format!("/api/v2/persons?{query}"), None))
    };
    assert_eq!(
        listed(format!("updated_since={since}&sort_by=update_time")),
        vec![ids[2]]
    );
    assert_eq!(
        listed(format!("updated_until={since}&limit=500")).len(),
        6,
        "updated_until is exclusive of later ones"
    );
    assert_eq!(
        listed(format!("ids={},{},999999", ids[0], ids[3])),
        vec![ids[0], ids[3]],
        "unknown ids are left out"
    );
    let too_many: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
    assert_eq!(
        api(
            &sb,
            "GET",
            &format!("/api/v2/persons?ids={}", too_many.join(",")),
            None
        )
        .status,
        400,
        "at most 100 ids"
    );
    assert_eq!(
        api(
            &sb,
            "GET",
            &format!("/api/v2/persons?ids={},abc", ids[0]),
            None
        )
        .status,
        400,
        "an id that is no integer is refused, not dropped (which could list everything)"
    );
    let by_org = api(
        &sb,
        "GET",
        &format!("/api/v2/persons?org_id={}", orgs[0]),
        None,
    );
    assert!(
        by_org.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["org_id"] == json!(orgs[0]))
    );

    for bad in [
        "limit=501",
        "limit=0",
        "sort_by=name",
        "sort_direction=up",
        "cursor=zzz",
        "updated_since=yesterday",
    ] {
        let r = api(&sb, "GET", &format!("/api/v2/persons?{bad}"), None);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.body["success"], json!(false));
    }
    sb.delete_record("persons", ids[3]).unwrap();
    assert_eq!(
        listed(format!("ids={},{}", ids[0], ids[3])),
        vec![ids[0]],
        "deleted ones are left out"
    );
    let orgs_list = api(&sb, "GET", "/api/v2/organizations?limit=500", None);
    assert_eq!(orgs_list.body["data"].as_array().unwrap().len(), 2);
}

#[test]
fn writes_are_validated_strictly() {
    let sb = start();
    let amount = add_person_field(&sb, json!({"name": "Score", "field_type": "double"}))["key"]
        .as_str()
        .unwrap()
        .to_string();
    let tags = add_person_field(
        &sb,
        json!({"name": "Tags", "field_type": "set", "options": [{"label": "x"}]}),
    )["key"]
        .as_str()
        .unwrap()
        .to_string();
    let bad_bodies = [
        (json!({"emails": []}), "name: Required"),
        (
            json!({"name": "A", "custom_fields": {amount.clone(): "42"}}),
            "expected a number",
        ),
        (
            json!({"name": "A", "custom_fields": {tags.clone(): []}}),
            "empty array",
        ),
        (
            json!({"name": "A", "custom_fields": {"0123456789012345678901234567890123456789": 1}}),
            "not found",
        ),
        (
            json!({"name": "A", "org_id": 424242}),
            "Organization with ID 424242 not found",
        ),
        (
            json!({"name": "A", "owner_id": 99}),
            "User with ID 99 not found",
        ),
        (
            json!({"name": "A", "label_ids": [77]}),
            "Label with ID 77 not found",
        ),
        (json!({"name": "A", "visible_to": 2}), "visible_to"),
    ];
    for (body, message) in bad_bodies {
        let r = api_unchecked(&sb, "POST", "/api/v2/persons", body.clone());
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.body["success"], json!(false));
        let error = r.body["error"].as_str().unwrap();
        assert!(
            error.contains(message),
            "{body}: `{error}` lacks `{message}`"
        );
    }
    let no_name_org = api_unchecked(
        &sb,
        "POST",
        "/api/v2/organizations",
        json!({"label_ids": [5]}),
    );
    assert_eq!(no_name_org.status, 400);
    let missing = api(
        &sb,
        "PATCH",
        "/api/v2/persons/31337",
        Some(json!({"name": "X"})),
    );
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"], json!("Person not found"));
    let nowhere = api(&sb, "GET", "/api/v2/deals", None);
    assert_eq!(nowhere.status, 404);
    assert_eq!(nowhere.body["success"], json!(false));
}

#[test]
fn fields_users_and_activity_types_read_as_v1_shows_them() {
    let sb = start();
    let fields = api(&sb, "GET", "/v1/personFields", None);
    assert_eq!(fields.status, 200);
    let list = fields.body["data"].as_array().unwrap();
    assert!(
        list.iter()
            .any(|f| f["key"] == json!("name") && f["edit_flag"] == json!(false))
    );
    let labels = list
        .iter()
        .find(|f| f["key"] == json!("label_ids"))
        .unwrap();
    assert_eq!(
        labels["options"][0],
        json!({"id": 1, "label": "Customer", "color": "green"})
    );
    assert_eq!(
        fields.body["additional_data"]["more_items_in_collection"],
        json!(false)
    );
    let paged = api(&sb, "GET", "/api/v1/personFields?start=0&limit=2", None);
    assert_eq!(paged.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        paged.body["additional_data"]["more_items_in_collection"],
        json!(true)
    );

    let made = add_person_field(
        &sb,
        json!({"name": "Region", "field_type": "enum", "options": [{"label": "EU"}, {"label": "US"}]}),
    );
    assert_eq!(made["edit_flag"], json!(true));
    assert_eq!(made["options"].as_array().unwrap().len(), 2);
    let one = api(
        &sb,
        "GET",
        &format!("/v1/personFields/{}", made["id"]),
        None,
    );
    assert_eq!(one.body["data"]["key"], made["key"]);
    for bad in [
        json!({"name": "X", "field_type": "enum"}),
        json!({"field_type": "varchar"}),
        json!({"name": "X", "field_type": "blob"}),
    ] {
        let r = api_unchecked(&sb, "POST", "/v1/personFields", bad.clone());
        assert_eq!(r.status, 400, "{bad}");
    }
    let org_field = api(
        &sb,
        "POST",
        "/v1/organizationFields",
        Some(json!({"name": "Tier", "field_type": "user"})),
    );
    assert_eq!(org_field.status, 200);
    let org_key = org_field.body["data"]["key"].as_str().unwrap().to_string();
    let org = api(
        &sb,
        "POST",
        "/api/v2/organizations",
        Some(json!({"name": "Acme", "custom_fields": {org_key.clone(): 3}})),
    );
    assert_eq!(org.body["data"]["custom_fields"][&org_key], json!(3));
    assert_eq!(api(&sb, "GET", "/v1/activityFields", None).status, 200);

    let users = api(&sb, "GET", "/v1/users", None);
    assert_eq!(users.body["data"].as_array().unwrap().len(), 3);
    let me = api(&sb, "GET", "/v1/users/me", None);
    assert_eq!(me.body["data"]["id"], json!(1));
    assert_eq!(me.body["data"]["is_you"], json!(true));
    assert!(me.body["data"]["company_id"].is_i64());
    assert_eq!(
        api(&sb, "GET", "/v1/users/2", None).body["data"]["is_you"],
        json!(false)
    );
    let nobody = api(&sb, "GET", "/v1/users/99", None);
    assert_eq!(nobody.status, 404);
    let types = api(&sb, "GET", "/v1/activityTypes", None);
    let keys: Vec<&str> = types.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key_string"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"call") && keys.contains(&"meeting"),
        "{keys:?}"
    );
}

#[test]
fn activities_are_served_like_persons() {
    let sb = start();
    let (persons, _) = sb.seed(1, 1);
    let made = api(
        &sb,
        "POST",
        "/api/v2/activities",
        Some(
            json!({"type": "call", "person_id": persons[0], "due_date": "2026-01-02", "due_time": "10:30"}),
        ),
    );
    assert_eq!(made.status, 200, "{}", made.body);
    assert_eq!(
        made.body["data"]["subject"],
        json!("Call"),
        "named after its type"
    );
    assert_eq!(made.body["data"]["done"], json!(false));
    let id = made.body["data"]["id"].as_i64().unwrap();
    let done = api(
        &sb,
        "PATCH",
        &format!("/api/v2/activities/{id}"),
        Some(json!({"done": true})),
    );
    assert!(done.body["data"]["marked_as_done_time"].is_string());
    let open = api(&sb, "GET", "/api/v2/activities?done=false", None);
    assert_eq!(open.body["data"], json!([]));
    let by_person = api(
        &sb,
        "GET",
        &format!(
            "/api/v2/activities?person_id={}&sort_by=due_date",
            persons[0]
        ),
        None,
    );
    assert_eq!(by_person.body["data"][0]["id"], json!(id));
    let bad = api(
        &sb,
        "POST",
        "/api/v2/activities",
        Some(json!({"type": "sing"})),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        api(&sb, "DELETE", &format!("/api/v2/activities/{id}"), None).status,
        200
    );
}

#[test]
fn recents_and_changelogs_show_changes_and_deletions() {
    let sb = start();
    sb.freeze_clock(true);
    let since = super::values::v1_time(sb.now_ms() - 10_000);
    let (persons, _) = sb.seed(2, 1);
    let call = api(
        &sb,
        "POST",
        "/api/v2/activities",
        Some(json!({"subject": "Intro", "person_id": persons[0]})),
    );
    assert_eq!(call.status, 200);
    let everything = api(
        &sb,
        "GET",
        &format!("/v1/recents?since_timestamp={}", since.replace(' ', "%20")),
        None,
    );
    let kinds: Vec<&str> = everything.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["organization", "person", "person", "activity"],
        "oldest change first"
    );
    sb.advance_clock(Duration::from_secs(10));
    api(
        &sb,
        "PATCH",
        &format!("/api/v2/persons/{}", persons[0]),
        Some(json!({"name": "Api Edit"})),
    );
    sb.advance_clock(Duration::from_secs(10));
    sb.update_record("persons", persons[0], &json!({"name": "User Edit"}))
        .unwrap();
    sb.delete_record("persons", persons[1]).unwrap();

    let q = since.replace(' ', "%20");
    let recents = api(
        &sb,
        "GET",
        &format!("/v1/recents?since_timestamp={q}&items=person"),
        None,
    );
    assert_eq!(recents.status, 200, "{}", recents.body);
    let items = recents.body["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let deleted = items.iter().find(|i| i["id"] == json!(persons[1])).unwrap();
    assert_eq!(deleted["item"], json!("person"));
    assert_eq!(
        deleted["data"]["active_flag"],
        json!(false),
        "a deletion shows in recents"
    );
    let edited = items.iter().find(|i| i["id"] == json!(persons[0])).unwrap();
    assert_eq!(edited["data"]["name"], json!("User Edit"));
    assert!(
        edited["data"]["email"][0]["value"].is_string(),
        "v1 names: email[]"
    );
    assert_eq!(
        recents.body["additional_data"]["since_timestamp"],
        json!(since)
    );
    let later = super::values::v1_time(sb.now_ms() + 1000).replace(' ', "%20");
    let none = api(
        &sb,
        "GET",
        &format!("/v1/recents?since_timestamp={later}"),
        None,
    );
    assert_eq!(none.body["data"], json!([]));
    assert_eq!(
        api(&sb, "GET", "/v1/recents", None).status,
        400,
        "since_timestamp is required"
    );
    let paged = api(
        &sb,
        "GET",
        &format!("/v1/recents?since_timestamp={q}&limit=1"),
        None,
    );
    assert_eq!(
        paged.body["additional_data"]["pagination"]["more_items_in_collection"],
        json!(true)
    );

    let log = api(
        &sb,
        "GET",
        &format!("/v1/persons/{}/changelog", persons[0]),
        None,
    );
    assert_eq!(log.status, 200);
    let entries = log.body["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["new_value"], json!("User Edit"));
    assert_eq!(entries[0]["change_source"], json!("app"));
    assert_eq!(entries[0]["actor_user_id"], json!(super::admin::APP_USER));
    assert_eq!(entries[1]["change_source"], json!("api"));
    assert_eq!(
        entries[1]["old_value"].as_str().map(|s| !s.is_empty()),
        Some(true)
    );
    let first = api(
        &sb,
        "GET",
        &format!("/v1/persons/{}/changelog?limit=1", persons[0]),
        None,
    );
    let cursor = first.body["additional_data"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let rest = api(
        &sb,
        "GET",
        &format!(
            "/v1/persons/{}/changelog?limit=1&cursor={cursor}",
            persons[0]
        ),
        None,
    );
    assert_eq!(rest.body["data"][0]["change_source"], json!("api"));
    assert_eq!(rest.body["additional_data"]["next_cursor"], Value::Null);
}

#[test]
fn the_api_token_is_required_in_the_header_or_the_query() {
    let sb = start();
    let none = send(&sb, "GET", "/api/v2/persons", None, None);
    assert_eq!(none.status, 401);
    assert_eq!(none.body["success"], json!(false));
    assert_eq!(none.body["errorCode"], json!(401));
    assert_eq!(none.body["error"], json!("unauthorized access"));
    let wrong = send(&sb, "GET", "/v1/users/me", Some("not-the-token"), None);
    assert_eq!(wrong.status, 401);
    let token = sb.api_token();
    assert!(
        is_hash_key(&token),
        "a generated token looks like Pipedrive's: {token}"
    );
    let query = send(
        &sb,
        "GET",
        &format!("/api/v2/persons?api_token={token}"),
        None,
        None,
    );
    assert_eq!(query.status, 200);
    let v1_query = send(
        &sb,
        "GET",
        &format!("/v1/users/me?api_token={token}"),
        None,
        None,
    );
    assert_eq!(v1_query.status, 200);
}

#[test]
fn the_burst_window_and_the_daily_token_budget_refuse_with_429() {
    let sb = start();
    sb.set_rate_limit(3, 400, 1_000);
    let first = api(&sb, "GET", "/api/v2/persons", None);
    assert_eq!(first.header("x-ratelimit-limit"), Some("3"));
    assert_eq!(first.header("x-ratelimit-remaining"), Some("2"));
    assert_eq!(first.header("x-ratelimit-reset"), Some("1"));
    assert_eq!(
        first.header("x-daily-requests-left"),
        Some("990"),
        "a list costs 10 tokens"
    );
    api(&sb, "GET", "/api/v2/persons/1", None);
    let third = api(&sb, "GET", "/v1/users/me", None);
    assert_eq!(
        third.header("x-daily-requests-left"),
        Some("987"),
        "404 get 1, users/me 2"
    );
    let refused = api(&sb, "GET", "/api/v2/persons", None);
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["success"], json!(false));
    assert_eq!(refused.body["errorCode"], json!(429));
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    assert!(refused.header("retry-after").is_some());
    std::thread::sleep(Duration::from_millis(450));
    assert_eq!(
        api(&sb, "GET", "/api/v2/persons", None).status,
        200,
        "the window rolls on"
    );

    sb.freeze_clock(true);
    sb.set_rate_limit(100, 2_000, 12);
    assert_eq!(api(&sb, "GET", "/api/v2/persons", None).status, 200);
    let spent = api(&sb, "GET", "/api/v2/persons", None);
    assert_eq!(spent.status, 429, "10 + 10 tokens is over a budget of 12");
    assert_eq!(spent.body["error"], json!("Daily token budget exceeded"));
    assert_eq!(
        api(&sb, "GET", "/api/v2/persons/1", None).status,
        404,
        "a call of 1 token still fits"
    );
    sb.set_clock_ms((sb.now_ms().div_euclid(86_400_000) + 1) * 86_400_000);
    assert_eq!(
        api(&sb, "GET", "/api/v2/persons", None).status,
        200,
        "the budget is whole again the next day (UTC)"
    );
}

#[test]
fn faults_the_request_log_and_a_users_edits_run_on_the_shared_core() {
    let sb = start();
    let (persons, _) = sb.seed(2, 0);
    sb.set_faults(FaultOptions {
        rate_500: 1.0,
        ..FaultOptions::default()
    });
    let failed = api(&sb, "GET", "/api/v2/persons", None);
    assert_eq!(failed.status, 500);
    assert_eq!(failed.body["success"], json!(false));
    sb.set_faults(FaultOptions {
        rate_429: 1.0,
        ..FaultOptions::default()
    });
    let limited = api(&sb, "GET", "/api/v2/persons", None);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body["errorCode"], json!(429));
    sb.set_faults(FaultOptions {
        fail_after_writes: Some(0),
        ..FaultOptions::default()
    });
    let refused = api(
        &sb,
        "PATCH",
        &format!("/api/v2/persons/{}", persons[0]),
        Some(json!({"name": "X"})),
    );
    assert_eq!(refused.status, 503);
    sb.set_faults(FaultOptions::default());

    sb.edit_before(EditBefore {
        method: "GET".into(),
        path_contains: "/api/v2/persons".into(),
        nth: 1,
        kind: "persons".into(),
        id: persons[1],
        body: json!({"name": "Edited Meanwhile"}),
    });
    let page = api(&sb, "GET", "/api/v2/persons", None);
    assert_eq!(
        page.body["data"][1]["name"],
        json!("Edited Meanwhile"),
        "landed before the call"
    );

    let admin = format!("{}/_sandbox", sb.base_url());
    let via_admin = send(
        &sb,
        "POST",
        "/_sandbox/records/organizations",
        None,
        Some(json!({"name": "Made In App"})),
    );
    assert_eq!(via_admin.status, 200, "{admin}: {}", via_admin.body);
    assert_eq!(via_admin.body["owner_id"], json!(super::admin::APP_USER));
    let info = send(&sb, "GET", "/_sandbox/info", None, None);
    assert_eq!(info.body["api_token"], json!(sb.api_token()));
    let log = sb.request_log();
    assert!(
        log.iter().all(|r| !r.path.starts_with("/_sandbox")),
        "admin calls are not logged"
    );
    assert_eq!(log.iter().filter(|r| r.status == 500).count(), 1);
    assert!(
        log.iter()
            .any(|r| r.body.as_deref() == Some(r#"{"name":"X"}"#))
    );
}

#[test]
fn every_erratum_is_needed_and_its_mend_accepts_its_example() {
    for e in ERRATA {
        let (method, template, part) = e.example_op;
        let path = spec_check::api_path(e.api, template);
        let body = e.example();
        let raw = spec_check::errors_in(method, &path, part, &body, true).unwrap();
        assert!(
            !raw.is_empty(),
            "`{}` ({}): the unmended spec already accepts {body}",
            e.property,
            e.reason
        );
        let mended = spec_check::errors_in(method, &path, part, &body, false).unwrap();
        assert!(
            mended.is_empty(),
            "`{}`: the mend does not accept {body}: {mended:?}",
            e.property
        );
    }
}

#[test]
fn the_spec_check_refuses_bodies_that_break_the_spec() {
    let bad = [
        (
            "GET",
            "/api/v2/persons/1",
            json!({"success": true, "data": {"id": "1"}}),
        ),
        (
            "GET",
            "/api/v2/persons",
            json!({"success": true, "data": [{"emails": "a@b.c"}]}),
        ),
        ("GET", "/v1/users/me", json!({"success": "yes"})),
        (
            "GET",
            "/v1/personFields",
            json!({"success": true, "data": [{"field_type": "blob"}]}),
        ),
        (
            "DELETE",
            "/api/v2/organizations/1",
            json!({"success": true, "data": {"id": null}}),
        ),
    ];
    for (method, path, body) in bad {
        let errors =
            spec_check::errors_in(method, path, Part::Response(200), &body, false).unwrap();
        assert!(!errors.is_empty(), "{method} {path} accepted {body}");
    }
    let error = spec_check::errors_in(
        "GET",
        "/api/v2/persons/1",
        Part::Response(404),
        &json!({"success": 0}),
        false,
    )
    .unwrap();
    assert!(
        !error.is_empty(),
        "error bodies are checked against the common error schema"
    );
}

#[test]
fn v2_fields_list_get_and_create_with_v2_names() {
    let sb = start();
    let made = api(
        &sb,
        "POST",
        "/api/v2/personFields",
        Some(json!({"field_name": "Tier", "field_type": "enum",
                    "options": [{"label": "Gold"}, {"label": "Silver"}]})),
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let code = made.body["data"]["field_code"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(is_hash_key(&code), "{code}");
    assert_eq!(made.body["data"]["is_custom_field"], json!(true));
    let gold = made.body["data"]["options"][0]["id"].as_i64().unwrap();
    let one = api(&sb, "GET", &format!("/api/v2/personFields/{code}"), None);
    assert_eq!(one.body["data"]["field_name"], json!("Tier"));
    let emails = api(&sb, "GET", "/api/v2/personFields/emails", None);
    assert_eq!(emails.body["data"]["is_custom_field"], json!(false));
    let v1 = api(&sb, "GET", "/v1/personFields?limit=500", None);
    assert!(
        v1.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == json!(code)),
        "one catalogue, two names"
    );

    let mut codes = Vec::new();
    let mut target = "/api/v2/personFields?limit=5".to_string();
    loop {
        let page = api(&sb, "GET", &target, None);
        assert_eq!(page.status, 200, "{}", page.body);
        codes.extend(
            page.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["field_code"].as_str().unwrap().to_string()),
        );
        match page.body["additional_data"]["next_cursor"].as_str() {
            Some(c) => target = format!("/api/v2/personFields?limit=5&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(codes.len(), v1.body["data"].as_array().unwrap().len());
    assert_eq!(codes.last(), Some(&code));

    let person = api(
        &sb,
        "POST",
        "/api/v2/persons",
        Some(json!({"name": "Gold Member", "custom_fields": {code.clone(): gold}})),
    );
    assert_eq!(person.body["data"]["custom_fields"][&code], json!(gold));
    let refused = api_unchecked(
        &sb,
        "POST",
        "/api/v2/personFields",
        json!({"field_name": "Who", "field_type": "visible_to"}),
    );
    assert_eq!(refused.status, 400, "v2 creates fewer types than v1");
    let no_create = api_unchecked(
        &sb,
        "POST",
        "/api/v2/activityFields",
        json!({"field_name": "X", "field_type": "varchar"}),
    );
    assert_eq!(no_create.status, 404);
    let missing = api(&sb, "GET", "/api/v2/organizationFields/nope", None);
    assert_eq!(missing.status, 404);
}

#[test]
fn oauth_codes_become_tokens_that_call_the_api_until_they_expire() {
    let sb = start();
    let (id, secret) = sb.client_credentials();
    let redirect = "http://127.0.0.1:9/callback";
    let authorize = exchange(
        &sb,
        "GET",
        &format!("/oauth/authorize?client_id={id}&redirect_uri={redirect}&state=xyz"),
        |rb| rb,
    );
    assert_eq!(authorize.status, 302);
    let location = url::Url::parse(authorize.header("location").unwrap()).unwrap();
    assert!(location.as_str().starts_with(redirect), "{location}");
    let query: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "xyz");
    let code = query["code"].clone();
    let exchange_code = |basic: (&str, &str)| {
        let grant = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
        ];
        token_call(&sb, "/oauth/token", basic, &grant)
    };

    let wrong = exchange_code((&id, "nope"));
    assert_eq!(wrong.status, 401, "bad client credentials");
    let tokens = exchange_code((&id, &secret));
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(tokens.body["token_type"], json!("Bearer"));
    assert_eq!(tokens.body["expires_in"], json!(3599));
    assert_eq!(tokens.body["api_domain"], json!(sb.base_url()));
    let again = exchange_code((&id, &secret));
    assert_eq!(again.status, 400, "a code serves once");

    let access = tokens.body["access_token"].as_str().unwrap().to_string();
    let bearer = |sb: &PipedriveSandbox, token: &str| {
        exchange(sb, "GET", "/api/v2/persons", |rb| rb.bearer_auth(token))
    };
    let ok = bearer(&sb, &access);
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.header("x-ratelimit-limit"),
        Some("40000"),
        "four times the API token's burst"
    );
    sb.advance_clock(Duration::from_secs(3600));
    assert_eq!(bearer(&sb, &access).status, 401, "expired");

    let refresh = tokens.body["refresh_token"].as_str().unwrap().to_string();
    let renewed = token_call(
        &sb,
        "/oauth/token/",
        (&id, &secret),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    );
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    assert_eq!(
        renewed.body["refresh_token"],
        json!(refresh),
        "the refresh token is kept"
    );
    let fresh = renewed.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(bearer(&sb, &fresh).status, 200);
    let bad = token_call(
        &sb,
        "/oauth/token/",
        (&id, &secret),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "unknown"),
        ],
    );
    assert_eq!(bad.status, 400);
    assert!(
        sb.request_log()
            .iter()
            .all(|r| r.body.is_none() || !r.path.starts_with("/oauth")),
        "OAuth bodies carry secrets and are not logged"
    );
}

#[test]
fn a_search_finds_live_records_by_a_custom_value_exactly_or_by_part_of_a_name() {
    let sb = start();
    let key = add_person_field(&sb, json!({"name": "crmsync_id", "field_type": "varchar"}))["key"]
        .as_str()
        .unwrap()
        .to_string();
    let made = |name: &str, local: &str| {
        let r = api(
            &sb,
            "POST",
            "/api/v2/persons",
            Some(json!({"name": name, "custom_fields": {key.as_str(): local}})),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"]["id"].as_i64().unwrap()
    };
    let ann = made("Ann Lee", "L-1");
    let gone = made("Ann Gone", "L-1");
    made("Bob Stone", "L-10");
    assert_eq!(
        api(&sb, "DELETE", &format!("/api/v2/persons/{gone}"), None).status,
        200
    );

    let r = api(
        &sb,
        "GET",
        "/api/v2/persons/search?term=l-1&fields=custom_fields&exact_match=true",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.body["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "exactly, deleted ones left out: {}", r.body);
    assert_eq!(items[0]["item"]["id"], ann);
    assert_eq!(items[0]["item"]["type"], "person");

    let r = api(
        &sb,
        "GET",
        "/api/v2/persons/search?term=St&fields=name",
        None,
    );
    let names: Vec<&str> = r.body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Bob Stone"]);
    let short = api(&sb, "GET", "/api/v2/persons/search?term=S", None);
    assert_eq!(short.status, 400, "{}", short.body);
}

mod field_updates;
