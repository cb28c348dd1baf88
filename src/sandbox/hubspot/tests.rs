//! Behaviour of the HubSpot sandbox over real HTTP.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use super::{HubSpotSandbox, SandboxOptions};
use crate::sandbox::FaultOptions;

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on a fresh connection; `None` when the server closed without answering.
fn try_call(
    sb: &HubSpotSandbox,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    content_type: &str,
) -> Option<Resp> {
    let mut s = TcpStream::connect(("127.0.0.1", sb.port())).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    req.push_str(&format!(
        "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    if raw.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Resp {
        status,
        headers,
        body: body.to_string(),
    })
}

fn call(sb: &HubSpotSandbox, method: &str, path: &str, body: Option<Value>) -> Resp {
    let b = body.map(|b| b.to_string());
    try_call(
        sb,
        method,
        path,
        Some(&sb.token()),
        b.as_deref(),
        "application/json",
    )
    .expect("an answer")
}

fn start() -> HubSpotSandbox {
    HubSpotSandbox::start(SandboxOptions {
        rate_limit: (100_000, 10_000),
        search_per_second: 0,
        ..Default::default()
    })
    .unwrap()
}

fn create_contact(sb: &HubSpotSandbox, email: &str) -> String {
    let r = call(
        sb,
        "POST",
        "/crm/v3/objects/contacts",
        Some(json!({"properties": {"email": email, "firstname": "Ann"}, "associations": []})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

fn archive_contact(sb: &HubSpotSandbox, id: &str) {
    let r = call(
        sb,
        "DELETE",
        &format!("/crm/v3/objects/contacts/{id}"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
}

#[test]
fn missing_or_wrong_token_gets_hubspots_401_body() {
    let sb = start();
    for token in [None, Some("pat-na1-wrong")] {
        let r = try_call(
            &sb,
            "GET",
            "/crm/v3/objects/contacts",
            token,
            None,
            "application/json",
        )
        .unwrap();
        assert_eq!(r.status, 401);
        let v = r.json();
        assert_eq!(v["status"], "error");
        assert_eq!(v["category"], "INVALID_AUTHENTICATION");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .starts_with("Authentication credentials not found.")
        );
        assert!(v["correlationId"].as_str().unwrap().len() == 36);
    }
}

#[test]
fn contact_lifecycle_create_read_update_archive() {
    let sb = start();
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts",
        Some(
            json!({"properties": {"email": "ann@example.com", "firstname": "Ann", "annualrevenue": 12}}),
        ),
    );
    assert_eq!(r.status, 201);
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        created["properties"]["annualrevenue"], "12",
        "numbers come back as strings"
    );
    assert_eq!(created["properties"]["hs_object_id"], id.as_str());
    assert!(
        created["properties"]["createdate"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(created["archived"], false);

    let got = call(
        &sb,
        "GET",
        &format!("/crm/v3/objects/contacts/{id}?properties=email,phone"),
        None,
    )
    .json();
    assert_eq!(got["properties"]["email"], "ann@example.com");
    assert_eq!(
        got["properties"]["phone"],
        Value::Null,
        "an unset requested property is null"
    );
    assert!(got["properties"].get("lastmodifieddate").is_some());
    let by_email = call(
        &sb,
        "GET",
        "/crm/v3/objects/contacts/ANN%40example.com?idProperty=email",
        None,
    );
    assert_eq!(
        by_email.json()["id"],
        id.as_str(),
        "email lookup is case-insensitive"
    );

    sb.advance_clock(Duration::from_secs(60));
    let patched = call(
        &sb,
        "PATCH",
        &format!("/crm/v3/objects/contacts/{id}"),
        Some(json!({"properties": {"lastname": "Lee"}})),
    );
    assert_eq!(patched.status, 200);
    let p = patched.json();
    assert!(p["updatedAt"].as_str().unwrap() > created["updatedAt"].as_str().unwrap());
    assert_eq!(p["properties"]["lastmodifieddate"], p["updatedAt"]);

    sb.update_record("contacts", &id, &[("lastname", "Lee-Smith")])
        .unwrap();
    let hist = call(
        &sb,
        "GET",
        &format!("/crm/v3/objects/contacts/{id}?propertiesWithHistory=lastname,firstname"),
        None,
    )
    .json();
    let lastname = hist["propertiesWithHistory"]["lastname"]
        .as_array()
        .unwrap();
    assert_eq!(lastname.len(), 2, "{hist}");
    assert_eq!(lastname[0]["value"], "Lee-Smith", "newest first");
    assert_eq!(lastname[0]["sourceType"], "CRM_UI");
    assert_eq!(lastname[1]["sourceType"], "INTEGRATION");
    assert_eq!(
        hist["propertiesWithHistory"]["firstname"][0]["value"],
        "Ann"
    );

    archive_contact(&sb, &id);
    assert_eq!(
        call(&sb, "GET", &format!("/crm/v3/objects/contacts/{id}"), None).status,
        404
    );
    let archived = call(
        &sb,
        "GET",
        &format!("/crm/v3/objects/contacts/{id}?archived=true"),
        None,
    )
    .json();
    assert_eq!(archived["archived"], true);
    assert!(archived["archivedAt"].is_string());
    let live = call(&sb, "GET", "/crm/v3/objects/contacts", None).json();
    assert_eq!(live["results"].as_array().unwrap().len(), 0);
    let only_archived = call(&sb, "GET", "/crm/v3/objects/contacts?archived=true", None).json();
    assert_eq!(only_archived["results"][0]["id"], id.as_str());
    // The archived contact's email is free again.
    create_contact(&sb, "ann@example.com");
}

#[test]
fn property_history_stamps_each_write_with_its_time_and_batch_read_serves_it() {
    let sb = start();
    let id = create_contact(&sb, "hist@example.com");
    let created = call(&sb, "GET", &format!("/crm/v3/objects/contacts/{id}"), None).json();
    sb.advance_clock(Duration::from_secs(3600));
    let patched = call(
        &sb,
        "PATCH",
        &format!("/crm/v3/objects/contacts/{id}"),
        Some(json!({"properties": {"lastname": "Early"}})),
    )
    .json();
    sb.advance_clock(Duration::from_secs(3600));
    let edited = sb
        .update_record("contacts", &id, &[("jobtitle", "Later")])
        .unwrap();
    // An unchanged value is no write and leaves no entry.
    sb.advance_clock(Duration::from_secs(60));
    sb.update_record("contacts", &id, &[("jobtitle", "Later")])
        .unwrap();
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        Some(json!({"inputs": [{"id": id}], "properties": [],
                    "propertiesWithHistory": ["lastname", "jobtitle", "firstname"]})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rec = &r.json()["results"][0];
    let history = &rec["propertiesWithHistory"];
    let stamps = |prop: &str| -> Vec<String> {
        history[prop]
            .as_array()
            .unwrap_or_else(|| panic!("no history of {prop}: {rec}"))
            .iter()
            .map(|e| e["timestamp"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        stamps("lastname"),
        vec![patched["updatedAt"].as_str().unwrap()]
    );
    assert_eq!(
        stamps("jobtitle"),
        vec![edited["updatedAt"].as_str().unwrap()]
    );
    assert_eq!(
        stamps("firstname"),
        vec![created["createdAt"].as_str().unwrap()]
    );
    assert_eq!(
        rec["updatedAt"], edited["updatedAt"],
        "the record time is the newest"
    );
    assert_ne!(patched["updatedAt"], edited["updatedAt"]);
    assert_eq!(history["jobtitle"][0]["sourceType"], "CRM_UI");
    assert_eq!(history["lastname"][0]["sourceType"], "INTEGRATION");
}

#[test]
fn duplicate_email_is_a_409_naming_the_existing_id() {
    let sb = start();
    let id = create_contact(&sb, "Dup@Example.com");
    let stored = call(&sb, "GET", &format!("/crm/v3/objects/contacts/{id}"), None).json();
    assert_eq!(
        stored["properties"]["email"], "dup@example.com",
        "emails are stored lower-cased"
    );
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts",
        Some(json!({"properties": {"email": "DUP@example.com"}})),
    );
    assert_eq!(r.status, 409);
    let v = r.json();
    assert_eq!(v["category"], "CONFLICT");
    assert_eq!(
        v["message"],
        format!("Contact already exists. Existing ID: {id}")
    );
    let other = create_contact(&sb, "other@example.com");
    let r = call(
        &sb,
        "PATCH",
        &format!("/crm/v3/objects/contacts/{other}"),
        Some(json!({"properties": {"email": "dup@example.com"}})),
    );
    assert_eq!(r.status, 400);
    assert!(r.body.contains(&format!("Existing ID: {id}")), "{}", r.body);
}

#[test]
fn an_upsert_that_would_create_a_taken_email_is_a_409_and_batch_read_by_id_finds_the_owner() {
    let sb = start();
    let id = create_contact(&sb, "taken@example.com");
    let r = call(
        &sb,
        "POST",
        "/crm/v3/properties/contacts",
        Some(
            json!({"name": "crmsync_id", "label": "crmsync id", "type": "string",
                    "fieldType": "text", "groupName": "contactinformation", "hasUniqueValue": true}),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/upsert",
        Some(json!({"inputs": [{"id": "01HY", "idProperty": "crmsync_id",
                                "properties": {"email": "Taken@example.com", "crmsync_id": "01HY"}}]})),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        format!("Contact already exists. Existing ID: {id}")
    );
    // Read back by the id the refusal named: found while live; once archived, named in a 207
    // as not found unless archived records are asked for.
    let read = |query: &str| {
        call(
            &sb,
            "POST",
            &format!("/crm/v3/objects/contacts/batch/read{query}"),
            Some(
                json!({"inputs": [{"id": id}], "properties": ["email", "firstname"],
                        "propertiesWithHistory": []}),
            ),
        )
    };
    let r = read("?archived=false");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["results"][0]["id"], id.as_str());
    assert_eq!(v["results"][0]["properties"]["firstname"], "Ann");
    archive_contact(&sb, &id);
    let r = read("?archived=false");
    assert_eq!(r.status, 207, "{}", r.body);
    let v = r.json();
    assert_eq!(v["results"], json!([]));
    assert_eq!(v["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(v["errors"][0]["context"]["ids"][0], id.as_str());
    let r = read("?archived=true");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["results"][0]["archived"], true);
}

#[test]
fn a_value_longer_than_65536_characters_is_a_validation_error() {
    let sb = start();
    let post = |value: &str| {
        call(
            &sb,
            "POST",
            "/crm/v3/objects/contacts",
            Some(json!({"properties": {"email": "a@x.test", "lastname": value}})),
        )
    };
    let r = post(&"é".repeat(65_537));
    assert_eq!(r.status, 400, "{}", &r.body[..200]);
    let v = r.json();
    assert_eq!(v["category"], "VALIDATION_ERROR");
    assert_eq!(v["errors"][0]["context"]["propertyName"][0], "lastname");
    assert!(
        v["message"].as_str().unwrap().contains("65536"),
        "{}",
        v["message"]
    );
    assert_eq!(post(&"é".repeat(65_536)).status, 201);
}

#[test]
fn unknown_read_only_and_invalid_values_are_validation_errors() {
    let sb = start();
    for (props, code) in [
        (json!({"favourite_colour": "red"}), "PROPERTY_DOESNT_EXIST"),
        (json!({"hs_object_id": "5"}), "READ_ONLY_VALUE"),
        (json!({"lifecyclestage": "champion"}), "INVALID_OPTION"),
        (json!({"annualrevenue": "lots"}), "INVALID_DECIMAL"),
        (json!({"email": "not-an-email"}), "INVALID_EMAIL"),
        (json!({"date_of_birth": "1572480000001"}), "INVALID_DATE"),
    ] {
        let r = call(
            &sb,
            "POST",
            "/crm/v3/objects/contacts",
            Some(json!({"properties": props})),
        );
        assert_eq!(r.status, 400, "{props}");
        let v = r.json();
        assert_eq!(v["category"], "VALIDATION_ERROR");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .starts_with("Property values were not valid: ")
        );
        assert!(
            v["message"].as_str().unwrap().contains(code),
            "{code}: {}",
            v["message"]
        );
    }
    let ok = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts",
        Some(json!({"properties": {"date_of_birth": "1990-02-03", "hs_email_optout": "TRUE"}})),
    )
    .json();
    let got = call(
        &sb,
        "GET",
        &format!(
            "/crm/v3/objects/contacts/{}?properties=date_of_birth,hs_email_optout",
            ok["id"].as_str().unwrap()
        ),
        None,
    )
    .json();
    assert_eq!(got["properties"]["date_of_birth"], "634003200000");
    assert_eq!(got["properties"]["hs_email_optout"], "true");
}

#[test]
fn list_pages_with_after_cursor_and_link() {
    let sb = start();
    sb.seed(25, 0);
    let mut seen = Vec::new();
    let mut path = "/crm/v3/objects/contacts".to_string();
    loop {
        let v = call(&sb, "GET", &path, None).json();
        let page = v["results"].as_array().unwrap();
        assert!(page.len() <= 10, "default limit is 10");
        seen.extend(page.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match v["paging"]["next"]["after"].as_str() {
            Some(after) => {
                assert!(
                    v["paging"]["next"]["link"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("after={after}"))
                );
                path = format!("/crm/v3/objects/contacts?after={after}");
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    seen.dedup();
    assert_eq!(seen.len(), 25);
    assert_eq!(
        call(&sb, "GET", "/crm/v3/objects/contacts?limit=101", None).status,
        400
    );
    assert_eq!(
        call(&sb, "GET", "/crm/v3/objects/contacts?limit=100", None).json()["results"]
            .as_array()
            .unwrap()
            .len(),
        25
    );
}

#[test]
fn a_batch_create_answers_in_an_order_of_its_own_each_result_with_its_trace_id_and_associations() {
    let sb = start();
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts",
        Some(json!({"properties": {"email": "anchor@example.com"}, "associations": []})),
    );
    let contact = r.json()["id"].as_str().unwrap().to_string();
    let inputs: Vec<Value> = (0..20)
        .map(|i| {
            json!({
                "properties": {"hs_call_title": format!("Call {i}"), "hs_timestamp": "2026-03-01T10:00:00Z"},
                "associations": [{"to": {"id": contact},
                                  "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}],
                "objectWriteTraceId": format!("trace-{i}"),
            })
        })
        .collect();
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/calls/batch/create",
        Some(json!({"inputs": inputs})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let results = r.json()["results"].as_array().unwrap().clone();
    let traces: Vec<String> = results
        .iter()
        .map(|r| r["objectWriteTraceId"].as_str().unwrap().to_string())
        .collect();
    let in_order: Vec<String> = (0..20).map(|i| format!("trace-{i}")).collect();
    assert_ne!(traces, in_order, "not in the inputs' order");
    let mut sorted = traces.clone();
    sorted.sort();
    let mut expected = in_order.clone();
    expected.sort();
    assert_eq!(sorted, expected, "one result per input");
    for r in &results {
        let n = r["objectWriteTraceId"]
            .as_str()
            .unwrap()
            .trim_start_matches("trace-");
        assert_eq!(r["properties"]["hs_call_title"], format!("Call {n}"));
        let id = r["id"].as_str().unwrap();
        assert_eq!(
            sb.associated("calls", id, "contacts"),
            std::slice::from_ref(&contact)
        );
    }
}

#[test]
fn batches_enforce_100_inputs_and_report_partial_failure_as_207() {
    let sb = start();
    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({"properties": {"email": format!("c{i}@example.com")}}))
        .collect();
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        Some(json!({"inputs": too_many})),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["category"], "VALIDATION_ERROR");

    let hundred: Vec<Value> = (0..100)
        .map(|i| json!({"properties": {"email": format!("c{i}@example.com")}, "associations": []}))
        .collect();
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        Some(json!({"inputs": hundred})),
    );
    assert_eq!(r.status, 201);
    let created = r.json();
    assert_eq!(created["status"], "COMPLETE");
    assert_eq!(created["results"].as_array().unwrap().len(), 100);
    // The results come in an order of their own, not the inputs'.
    let first = created["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["properties"]["email"] == "c0@example.com")
        .expect("c0's result")["id"]
        .as_str()
        .unwrap()
        .to_string();

    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        Some(
            json!({"inputs": [{"id": first}, {"id": "999999"}], "properties": ["email"], "propertiesWithHistory": []}),
        ),
    );
    assert_eq!(r.status, 207);
    let v = r.json();
    assert_eq!(v["numErrors"], 1);
    assert_eq!(v["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(v["errors"][0]["context"]["ids"][0], "999999");
    assert_eq!(v["results"][0]["properties"]["email"], "c0@example.com");

    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        Some(
            json!({"inputs": [{"id": first, "properties": {"firstname": "Zed"}}, {"id": "999999", "properties": {"firstname": "X"}}]}),
        ),
    );
    assert_eq!(r.status, 207);
    assert_eq!(r.json()["results"][0]["properties"]["firstname"], "Zed");

    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/upsert",
        Some(json!({"inputs": [
        {"id": "c1@example.com", "idProperty": "email", "properties": {"firstname": "Upd"}},
        {"id": "new@example.com", "idProperty": "email", "properties": {"firstname": "New"}}]})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["results"][0]["new"], false);
    assert_eq!(v["results"][1]["new"], true);
    assert_eq!(v["results"][1]["properties"]["firstname"], "New");

    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        Some(json!({"inputs": [{"properties": {"email": "c5@example.com"}}]})),
    );
    assert_eq!(r.status, 409, "a duplicate rejects the batch");

    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/archive",
        Some(json!({"inputs": [{"id": first}]})),
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        call(
            &sb,
            "GET",
            &format!("/crm/v3/objects/contacts/{first}"),
            None
        )
        .status,
        404
    );
}

#[test]
fn properties_catalogue_and_unique_custom_property_as_id_property() {
    let sb = start();
    let all = call(&sb, "GET", "/crm/v3/properties/contacts", None).json();
    let names: Vec<&str> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"lifecyclestage") && names.contains(&"email"));
    assert!(!names.contains(&"crmsync_id") && !names.contains(&"pronouns"));
    let lc = call(
        &sb,
        "GET",
        "/crm/v3/properties/contacts/lifecyclestage",
        None,
    )
    .json();
    assert!(
        lc["options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["value"] == "customer")
    );
    let ro = call(
        &sb,
        "GET",
        "/crm/v3/properties/contacts/lastmodifieddate",
        None,
    )
    .json();
    assert_eq!(ro["modificationMetadata"]["readOnlyValue"], true);
    assert_eq!(
        call(&sb, "GET", "/crm/v3/properties/contacts/crmsync_id", None).status,
        404
    );

    let def = json!({"name": "crmsync_id", "label": "crmsync id", "type": "string", "fieldType": "text", "groupName": "contactinformation", "hasUniqueValue": true});
    let r = call(
        &sb,
        "POST",
        "/crm/v3/properties/contacts",
        Some(def.clone()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["hasUniqueValue"], true);
    assert_eq!(
        call(&sb, "POST", "/crm/v3/properties/contacts", Some(def)).status,
        409
    );

    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/upsert",
        Some(
            json!({"inputs": [{"id": "01HX", "idProperty": "crmsync_id", "properties": {"email": "u@example.com"}}]}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["results"][0]["id"].as_str().unwrap().to_string();
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        Some(
            json!({"idProperty": "crmsync_id", "inputs": [{"id": "01HX"}], "properties": ["crmsync_id"], "propertiesWithHistory": []}),
        ),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["results"][0]["id"], id.as_str());
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts",
        Some(json!({"properties": {"crmsync_id": "01HX"}})),
    );
    assert_eq!(r.status, 409);
}

fn search(sb: &HubSpotSandbox, body: Value) -> Resp {
    call(sb, "POST", "/crm/v3/objects/contacts/search", Some(body))
}

#[test]
fn search_filters_sorts_pages_and_hides_archived() {
    let sb = start();
    sb.set_clock_ms(1_700_000_000_000);
    let ids = sb.seed(30, 0).0;
    sb.advance_clock(Duration::from_secs(3600));
    let edited = sb
        .update_record(
            "contacts",
            &ids[3],
            &[("firstname", "Zoe"), ("jobtitle", "Chief Data Officer")],
        )
        .unwrap();
    let since = 1_700_000_000_000i64 + 1_800_000;
    let v = search(&sb, json!({"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": since.to_string()}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], "properties": ["firstname"], "limit": 200})).json();
    assert_eq!(v["total"], 1);
    assert_eq!(v["results"][0]["id"], edited["id"]);
    assert!(
        v["results"][0]["properties"]["lastmodifieddate"].is_string(),
        "search always returns last-modified"
    );

    // ISO dates work as filter values too.
    let v = search(&sb, json!({"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "LT", "value": "2023-11-14T23:00:00Z"}]}]})).json();
    assert_eq!(v["total"], 29);

    let v = search(&sb, json!({"filterGroups": [{"filters": [{"propertyName": "jobtitle", "operator": "CONTAINS_TOKEN", "value": "data"}]}]})).json();
    assert_eq!(v["total"], 1);
    let v = search(&sb, json!({"filterGroups": [{"filters": [{"propertyName": "jobtitle", "operator": "NOT_HAS_PROPERTY"}]}]})).json();
    assert_eq!(v["total"], 29);
    let v = search(&sb, json!({"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "IN", "values": [ids[0], ids[1]]}]},
        {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "zoe"}]}], "sorts": ["-hs_object_id"]})).json();
    assert_eq!(v["total"], 3, "groups are OR'ed");
    assert_eq!(v["results"][0]["id"], ids[3].as_str(), "descending by id");

    let mut after: Option<String> = None;
    let mut n = 0;
    loop {
        let mut body = json!({"limit": 7});
        if let Some(a) = &after {
            body["after"] = json!(a);
        }
        let v = search(&sb, body).json();
        n += v["results"].as_array().unwrap().len();
        match v["paging"]["next"]["after"].as_str() {
            Some(a) => after = Some(a.to_string()),
            None => break,
        }
    }
    assert_eq!(n, 30);

    sb.archive_record("contacts", &ids[3]).unwrap();
    let v = search(&sb, json!({"filterGroups": [{"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "Zoe"}]}]})).json();
    assert_eq!(v["total"], 0, "archived records are not searchable");

    let six: Vec<Value> = (0..6)
        .map(|_| json!({"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}))
        .collect();
    assert_eq!(search(&sb, json!({"filterGroups": six})).status, 400);
    let eleven: Vec<Value> = (0..11)
        .map(|_| json!({"propertyName": "email", "operator": "HAS_PROPERTY"}))
        .collect();
    assert_eq!(
        search(&sb, json!({"filterGroups": [{"filters": eleven}]})).status,
        400
    );
    let groups: Vec<Value> = (0..3).map(|_| json!({"filters": (0..9).map(|_| json!({"propertyName": "email", "operator": "HAS_PROPERTY"})).collect::<Vec<_>>()})).collect();
    assert_eq!(
        search(&sb, json!({"filterGroups": groups})).status,
        400,
        "27 filters in total"
    );
    assert_eq!(search(&sb, json!({"limit": 201})).status, 400);
    assert_eq!(search(&sb, json!({"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "x"}]}]})).status, 400);
}

#[test]
fn search_cannot_page_past_ten_thousand() {
    let sb = start();
    sb.seed(10_050, 0);
    let v = search(&sb, json!({"limit": 200, "after": "9800"})).json();
    assert_eq!(v["total"], 10_050);
    assert_eq!(v["paging"]["next"]["after"], "10000");
    let r = search(&sb, json!({"limit": 200, "after": "10000"}));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["category"], "VALIDATION_ERROR");
}

#[test]
fn search_takes_one_sort_and_pages_equal_times_by_id_after_an_offset_moved_by_an_edit() {
    let sb = start();
    sb.freeze_clock(true);
    let frozen = sb.now_ms();
    let ids: Vec<String> = (0..6)
        .map(|i| create_contact(&sb, &format!("tie{i}@example.org")))
        .collect();
    assert_eq!(sb.now_ms(), frozen, "a frozen clock stays put");
    let two = json!([{"propertyName": "lastmodifieddate", "direction": "ASCENDING"},
        {"propertyName": "hs_object_id", "direction": "ASCENDING"}]);
    assert_eq!(
        search(&sb, json!({"sorts": two})).status,
        400,
        "one sort only"
    );
    // Equal times, paged by id with EQ and GT.
    let v = search(
        &sb,
        json!({"filterGroups": [{"filters": [
            {"propertyName": "lastmodifieddate", "operator": "EQ", "value": frozen.to_string()},
            {"propertyName": "hs_object_id", "operator": "GT", "value": ids[2]}]}],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}], "limit": 2}),
    )
    .json();
    let got: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[3].as_str(), ids[4].as_str()]);
    // An offset counts positions in the current order: an edit moving a record of the first
    // page to the end shifts the next page past a record never returned.
    sb.freeze_clock(false);
    let sorted = json!([{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]);
    let first = search(&sb, json!({"sorts": sorted, "limit": 3})).json();
    sb.update_record("contacts", &ids[0], &[("firstname", "Moved")])
        .unwrap();
    let second = search(&sb, json!({"sorts": sorted, "limit": 3, "after": "3"})).json();
    let read: BTreeSet<&str> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["results"].as_array().unwrap())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        !read.contains(ids[3].as_str()),
        "the record shifted back is skipped: {read:?}"
    );
    assert!(read.contains(ids[0].as_str()));
}

#[test]
fn api_answers_carry_the_sandbox_clocks_date_and_a_queued_edit_lands_before_its_call() {
    let sb = start();
    sb.set_clock_ms(1_700_000_000_000);
    let id = create_contact(&sb, "ann@example.org");
    let r = call(&sb, "GET", &format!("/crm/v3/objects/contacts/{id}"), None);
    let date = r.header("date").expect("a Date header");
    let at = chrono::DateTime::parse_from_rfc2822(date)
        .unwrap()
        .timestamp_millis();
    assert!((at - 1_700_000_000_000).abs() < 5_000, "{date}");
    sb.edit_before(super::EditBefore {
        method: "GET".into(),
        path_contains: "/contacts/".into(),
        nth: 2,
        object_type: "contacts".into(),
        id: id.clone(),
        properties: json!({"firstname": "Edited"}),
    });
    let path = format!("/crm/v3/objects/contacts/{id}?properties=firstname");
    let first = call(&sb, "GET", &path, None).json();
    assert!(first["properties"]["firstname"] != "Edited");
    let second = call(&sb, "GET", &path, None).json();
    assert_eq!(second["properties"]["firstname"], "Edited");
}

#[test]
fn contact_company_associations_v4_and_on_get() {
    let sb = start();
    let contact = create_contact(&sb, "a@example.com");
    let company = call(
        &sb,
        "POST",
        "/crm/v3/objects/companies",
        Some(json!({"properties": {"name": "Acme", "domain": "acme.com"}})),
    )
    .json();
    let company = company["id"].as_str().unwrap().to_string();
    let r = call(
        &sb,
        "PUT",
        &format!("/crm/v4/objects/contacts/{contact}/associations/default/companies/{company}"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["results"][0]["associationSpec"]["associationTypeId"],
        279
    );
    let got = call(
        &sb,
        "GET",
        &format!("/crm/v3/objects/contacts/{contact}?associations=companies"),
        None,
    )
    .json();
    assert_eq!(
        got["associations"]["companies"]["results"][0]["id"],
        company.as_str()
    );
    let listed = call(
        &sb,
        "GET",
        "/crm/v3/objects/companies?associations=contacts&properties=name",
        None,
    )
    .json();
    assert_eq!(
        listed["results"][0]["associations"]["contacts"]["results"][0]["id"],
        contact.as_str()
    );
    let r = call(
        &sb,
        "POST",
        "/crm/v4/associations/contacts/companies/batch/read",
        Some(json!({"inputs": [{"id": contact}, {"id": "424242"}]})),
    );
    assert_eq!(r.status, 207);
    let v = r.json();
    assert_eq!(v["results"][0]["to"][0]["toObjectId"], company.as_str());
    assert_eq!(v["numErrors"], 1);
    assert_eq!(
        call(
            &sb,
            "DELETE",
            &format!("/crm/v4/objects/contacts/{contact}/associations/companies/{company}"),
            None
        )
        .status,
        204
    );
    let r = call(
        &sb,
        "POST",
        "/crm/v4/associations/contacts/companies/batch/read",
        Some(json!({"inputs": [{"id": contact}]})),
    );
    assert_eq!(r.json()["results"].as_array().unwrap().len(), 0);
    let r = call(
        &sb,
        "POST",
        "/crm/v4/associations/companies/contacts/batch/associate/default",
        Some(json!({"inputs": [{"from": {"id": company}, "to": {"id": contact}}]})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(sb.dump()["associations"].as_array().unwrap().len(), 1);
}

#[test]
fn a_contacts_first_company_is_its_primary_shown_in_associatedcompanyid() {
    let sb = start();
    let contact = create_contact(&sb, "p@example.com");
    let company = |name: &str| {
        call(
            &sb,
            "POST",
            "/crm/v3/objects/companies",
            Some(json!({"properties": {"name": name}})),
        )
        .json()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, b, c) = (company("A"), company("B"), company("C"));
    let read = |sb: &HubSpotSandbox| {
        call(
            sb,
            "GET",
            &format!("/crm/v3/objects/contacts/{contact}?properties=associatedcompanyid"),
            None,
        )
        .json()
    };
    let types = |sb: &HubSpotSandbox, to: &str| -> Vec<i64> {
        let v = call(
            sb,
            "GET",
            &format!("/crm/v4/objects/contacts/{contact}/associations/companies"),
            None,
        )
        .json();
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["toObjectId"] == to)
            .flat_map(|r| r["associationTypes"].as_array().unwrap().clone())
            .map(|t| t["typeId"].as_i64().unwrap())
            .collect()
    };
    let before = read(&sb)["updatedAt"].clone();
    sb.advance_clock(Duration::from_secs(1));
    let put = |to: &str| {
        call(
            &sb,
            "PUT",
            &format!("/crm/v4/objects/contacts/{contact}/associations/default/companies/{to}"),
            None,
        )
        .status
    };
    assert_eq!(put(&a), 200);
    let v = read(&sb);
    assert_eq!(v["properties"]["associatedcompanyid"], a.as_str());
    assert_ne!(
        v["updatedAt"], before,
        "a new primary company moves the contact's time"
    );
    assert_eq!(types(&sb, &a), vec![1, 279]);

    // A second company is not primary, and changes nothing on the contact.
    let at = read(&sb)["updatedAt"].clone();
    sb.advance_clock(Duration::from_secs(1));
    assert_eq!(put(&b), 200);
    assert_eq!(types(&sb, &b), vec![279]);
    assert_eq!(read(&sb)["updatedAt"], at);

    // Removing the primary leaves none; writing the property sets one, associating it too.
    sb.dissociate(&contact, &a).unwrap();
    assert_eq!(read(&sb)["properties"]["associatedcompanyid"], Value::Null);
    assert_eq!(types(&sb, &b), vec![279]);
    let r = call(
        &sb,
        "PATCH",
        &format!("/crm/v3/objects/contacts/{contact}"),
        Some(json!({"properties": {"associatedcompanyid": c}})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(types(&sb, &c), vec![1, 279]);

    // Merging the primary company away makes the survivor the contact's primary.
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/companies/merge",
        Some(json!({"primaryObjectId": b, "objectIdToMerge": c})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(read(&sb)["properties"]["associatedcompanyid"], b.as_str());
    assert_eq!(types(&sb, &b), vec![1, 279]);

    // Archiving the primary company leaves the contact without one.
    let r = call(
        &sb,
        "DELETE",
        &format!("/crm/v3/objects/companies/{b}"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(read(&sb)["properties"]["associatedcompanyid"], Value::Null);
}

#[test]
fn owners_are_paged_and_readable_by_id() {
    let sb = start();
    let v = call(&sb, "GET", "/crm/v3/owners?limit=2", None).json();
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
    let after = v["paging"]["next"]["after"].as_str().unwrap();
    let v2 = call(
        &sb,
        "GET",
        &format!("/crm/v3/owners?limit=2&after={after}"),
        None,
    )
    .json();
    assert_eq!(v2["results"].as_array().unwrap().len(), 1);
    assert!(v2.get("paging").is_none());
    let id = v["results"][0]["id"].as_str().unwrap();
    assert_eq!(
        call(&sb, "GET", &format!("/crm/v3/owners/{id}"), None).json()["email"],
        v["results"][0]["email"]
    );
    assert_eq!(call(&sb, "GET", "/crm/v3/owners/1", None).status, 404);
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn token_call(sb: &HubSpotSandbox, pairs: &[(&str, &str)]) -> Resp {
    try_call(
        sb,
        "POST",
        "/oauth/v1/token",
        None,
        Some(&form(pairs)),
        "application/x-www-form-urlencoded",
    )
    .unwrap()
}

fn authorize(sb: &HubSpotSandbox, challenge: &str) -> url::Url {
    let q = form(&[
        ("client_id", &sb.client_id()),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
        ("scope", "oauth crm.objects.contacts.read"),
        ("state", "st4te"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]);
    let r = try_call(
        sb,
        "GET",
        &format!("/oauth/authorize?{q}"),
        None,
        None,
        "text/plain",
    )
    .unwrap();
    assert_eq!(r.status, 302);
    url::Url::parse(r.header("Location").unwrap()).unwrap()
}

#[test]
fn oauth_code_flow_with_pkce_refresh_expiry_and_revoke() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let sb = start();
    let verifier = "a-long-random-verifier-string-0123456789abcdef";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
    let back = authorize(&sb, &challenge);
    let q: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st4te");
    let code = q["code"].clone();
    let (id, secret) = (sb.client_id(), sb.client_secret());
    let base = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
    ];

    let bad = token_call(
        &sb,
        &[
            base[0],
            base[1],
            base[2],
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", "wrong"),
        ],
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["status"], "BAD_CODE_VERIFIER");
    // A failed exchange used the code up, as a single-use code must be.
    let back = authorize(&sb, &challenge);
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let bad = token_call(
        &sb,
        &[
            base[0],
            ("client_secret", "nope"),
            base[2],
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", verifier),
        ],
    );
    assert_eq!(bad.json()["status"], "BAD_CLIENT_SECRET");
    let ok = token_call(
        &sb,
        &[
            base[0],
            base[1],
            base[2],
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", verifier),
        ],
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let t = ok.json();
    assert_eq!(t["expires_in"], 1800);
    assert_eq!(t["token_type"], "bearer");
    let access = t["access_token"].as_str().unwrap().to_string();
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    let again = token_call(
        &sb,
        &[
            base[0],
            base[1],
            base[2],
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", verifier),
        ],
    );
    assert_eq!(again.json()["status"], "BAD_AUTH_CODE");

    let r = try_call(
        &sb,
        "GET",
        "/crm/v3/objects/contacts",
        Some(&access),
        None,
        "application/json",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    for (method, path) in [
        ("POST", "/crm/v3/objects/contacts"),
        ("GET", "/crm/v3/objects/companies"),
    ] {
        let r = try_call(
            &sb,
            method,
            path,
            Some(&access),
            Some("{}"),
            "application/json",
        )
        .unwrap();
        assert_eq!(r.status, 403, "{method} {path} without its scope");
        assert_eq!(r.json()["category"], "MISSING_SCOPES");
    }
    assert!(
        r.header("X-HubSpot-RateLimit-Daily").is_none(),
        "no daily headers on OAuth calls"
    );
    let info = try_call(
        &sb,
        "GET",
        &format!("/oauth/v1/access-tokens/{access}"),
        None,
        None,
        "",
    )
    .unwrap()
    .json();
    assert_eq!(info["hub_id"], sb.hub_id());
    assert_eq!(
        info["scopes"],
        json!(["oauth", "crm.objects.contacts.read"])
    );
    assert!(info["expires_in"].as_i64().unwrap() <= 1800);

    sb.advance_clock(Duration::from_secs(31 * 60));
    let r = try_call(
        &sb,
        "GET",
        "/crm/v3/objects/contacts",
        Some(&access),
        None,
        "application/json",
    )
    .unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["category"], "EXPIRED_AUTHENTICATION");

    let refreshed = token_call(
        &sb,
        &[
            base[0],
            base[1],
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
        ],
    );
    assert_eq!(refreshed.status, 200);
    let access2 = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        try_call(
            &sb,
            "GET",
            "/crm/v3/objects/contacts",
            Some(&access2),
            None,
            ""
        )
        .unwrap()
        .status,
        200
    );

    assert!(sb.revoke_refresh_token(&refresh));
    let r = token_call(
        &sb,
        &[
            base[0],
            base[1],
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
        ],
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["status"], "BAD_REFRESH_TOKEN");
    assert_eq!(
        try_call(
            &sb,
            "GET",
            "/crm/v3/objects/contacts",
            Some(&access2),
            None,
            ""
        )
        .unwrap()
        .status,
        401
    );

    sb.deny_next_authorize();
    let back = authorize(&sb, &challenge);
    let q: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st4te");
    assert!(!q.contains_key("code"));
}

/// An OAuth access token and its refresh token for the sandbox's app, through the code flow.
fn oauth_tokens(sb: &HubSpotSandbox) -> (String, String) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let verifier = "another-long-random-verifier-0123456789abcdef";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
    let back = authorize(sb, &challenge);
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let (id, secret) = (sb.client_id(), sb.client_secret());
    let t = token_call(
        sb,
        &[
            ("client_id", &id),
            ("client_secret", &secret),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", verifier),
        ],
    )
    .json();
    (
        t["access_token"].as_str().unwrap().to_string(),
        t["refresh_token"].as_str().unwrap().to_string(),
    )
}

#[test]
fn the_ten_secondly_window_is_per_app_not_per_token() {
    let sb = HubSpotSandbox::start(SandboxOptions {
        rate_limit: (3, 60_000),
        ..Default::default()
    })
    .unwrap();
    let get = |token: &str| {
        try_call(
            &sb,
            "GET",
            "/crm/v3/objects/contacts",
            Some(token),
            None,
            "",
        )
        .unwrap()
    };
    let (access, refresh) = oauth_tokens(&sb);
    assert_eq!(
        get(&access).header("X-HubSpot-RateLimit-Remaining"),
        Some("2")
    );
    // A refreshed token is the same app: it carries on in the same window...
    let (id, secret) = (sb.client_id(), sb.client_secret());
    let refreshed = token_call(
        &sb,
        &[
            ("client_id", &id),
            ("client_secret", &secret),
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
        ],
    )
    .json();
    let access2 = refreshed["access_token"].as_str().unwrap();
    assert_ne!(access2, access);
    let r = get(access2);
    assert_eq!(r.header("X-HubSpot-RateLimit-Remaining"), Some("1"));
    // (OAuth calls carry no daily headers.)
    assert!(r.header("X-HubSpot-RateLimit-Daily").is_none());
    assert_eq!(get(&access).status, 200);
    let r = get(access2);
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["policyName"], "TEN_SECONDLY_ROLLING");
    // ...while the private app is another app, with a window of its own.
    let r = get(&sb.token());
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-HubSpot-RateLimit-Remaining"), Some("2"));
}

#[test]
fn ten_secondly_limit_headers_and_429_body_search_has_its_own_limit() {
    let sb = HubSpotSandbox::start(SandboxOptions {
        rate_limit: (3, 60_000),
        search_per_second: 2,
        ..Default::default()
    })
    .unwrap();
    let r = call(&sb, "GET", "/crm/v3/objects/contacts", None);
    assert_eq!(r.header("X-HubSpot-RateLimit-Max"), Some("3"));
    assert_eq!(r.header("X-HubSpot-RateLimit-Remaining"), Some("2"));
    assert_eq!(
        r.header("X-HubSpot-RateLimit-Interval-Milliseconds"),
        Some("60000")
    );
    assert!(r.header("X-HubSpot-RateLimit-Daily").is_some());
    // Searches do not use up the ten-secondly budget...
    assert_eq!(search(&sb, json!({})).status, 200);
    assert_eq!(search(&sb, json!({})).status, 200);
    let r = search(&sb, json!({}));
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["message"], "You have reached your secondly limit.");
    call(&sb, "GET", "/crm/v3/objects/contacts", None);
    call(&sb, "GET", "/crm/v3/objects/contacts", None);
    let r = call(&sb, "GET", "/crm/v3/objects/contacts", None);
    assert_eq!(r.status, 429);
    let v = r.json();
    assert_eq!(v["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(v["errorType"], "RATE_LIMIT");
    assert_eq!(
        v["message"],
        "You have reached your ten_secondly_rolling limit."
    );
    // ...and the window rolls.
    sb.set_rate_limit(3, 200, 2);
    assert_eq!(
        call(&sb, "GET", "/crm/v3/objects/contacts", None).status,
        200
    );
}

#[test]
fn faults_drop_fail_and_fail_after_writes_but_never_touch_admin() {
    let sb = start();
    sb.set_faults(FaultOptions {
        drop_rate: 1.0,
        ..Default::default()
    });
    assert!(
        try_call(
            &sb,
            "GET",
            "/crm/v3/objects/contacts",
            Some(&sb.token()),
            None,
            ""
        )
        .is_none(),
        "closed without an answer"
    );
    let info = try_call(&sb, "GET", "/_sandbox/info", None, None, "").unwrap();
    assert_eq!(info.status, 200, "admin API is exempt");
    sb.set_faults(FaultOptions {
        rate_429: 1.0,
        slow_rate: 1.0,
        delay_ms: 40,
        ..Default::default()
    });
    let started = std::time::Instant::now();
    let r = call(&sb, "GET", "/crm/v3/objects/contacts", None);
    assert!(
        started.elapsed() >= Duration::from_millis(40),
        "the slow fault delays the answer"
    );
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["policyName"], "TEN_SECONDLY_ROLLING");
    sb.set_faults(FaultOptions {
        rate_500: 1.0,
        ..Default::default()
    });
    assert_eq!(
        call(&sb, "GET", "/crm/v3/objects/contacts", None).status,
        500
    );
    sb.set_faults(FaultOptions {
        fail_after_writes: Some(2),
        ..Default::default()
    });
    create_contact(&sb, "w1@example.com");
    create_contact(&sb, "w2@example.com");
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts",
        Some(json!({"properties": {"email": "w3@example.com"}})),
    );
    assert_eq!(r.status, 503);
    assert_eq!(
        call(&sb, "GET", "/crm/v3/objects/contacts", None).status,
        200,
        "reads still work"
    );
    assert_eq!(
        sb.dump()["contacts"].as_array().unwrap().len(),
        2,
        "the refused write changed nothing"
    );
    let log = sb.request_log();
    assert_eq!(log.iter().filter(|l| l.status == 503).count(), 1);
    assert_eq!(log[0].status, 0, "the dropped call is logged with status 0");
}

#[test]
fn the_same_seed_gives_the_same_faults() {
    let run = || {
        let sb = HubSpotSandbox::start(SandboxOptions {
            seed: 7,
            faults: FaultOptions {
                rate_500: 0.3,
                rate_502_503: 0.3,
                rate_429: 0.1,
                ..Default::default()
            },
            rate_limit: (1000, 10_000),
            ..Default::default()
        })
        .unwrap();
        (0..30)
            .map(|_| call(&sb, "GET", "/crm/v3/owners", None).status)
            .collect::<Vec<_>>()
    };
    let a = run();
    assert_eq!(a, run());
    assert!(a.contains(&200) && a.iter().any(|s| *s >= 500), "{a:?}");
}

#[test]
fn admin_http_api_edits_as_a_user_and_moves_the_clock() {
    let sb = start();
    let admin = |method: &str, path: &str, body: Value| {
        try_call(
            &sb,
            method,
            path,
            None,
            Some(&body.to_string()),
            "application/json",
        )
        .unwrap()
    };
    let seeded = admin(
        "POST",
        "/_sandbox/seed",
        json!({"contacts": 3, "companies": 1}),
    )
    .json();
    let id = seeded["contacts"][0].as_str().unwrap().to_string();
    let before = call(&sb, "GET", &format!("/crm/v3/objects/contacts/{id}"), None).json();
    admin("POST", "/_sandbox/clock", json!({"advance_ms": 120_000}));
    let r = admin(
        "PATCH",
        &format!("/_sandbox/objects/contacts/{id}"),
        json!({"properties": {"firstname": "Edited"}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let after = call(&sb, "GET", &format!("/crm/v3/objects/contacts/{id}"), None).json();
    assert_eq!(after["properties"]["firstname"], "Edited");
    assert!(
        after["properties"]["lastmodifieddate"].as_str()
            > before["properties"]["lastmodifieddate"].as_str()
    );
    assert_eq!(
        admin(
            "DELETE",
            &format!("/_sandbox/objects/contacts/{id}"),
            json!({})
        )
        .status,
        204
    );
    let log = admin("GET", "/_sandbox/requests", json!({})).json();
    assert_eq!(
        log.as_array().unwrap().len(),
        2,
        "admin calls are not logged"
    );
    assert_eq!(log[0]["method"], "GET");
    assert_eq!(admin("DELETE", "/_sandbox/requests", json!({})).status, 204);
    assert!(sb.request_log().is_empty());
    let r = admin("PUT", "/_sandbox/faults", json!({"rate_500": 1.0}));
    assert_eq!(r.status, 200);
    assert_eq!(call(&sb, "GET", "/crm/v3/owners", None).status, 500);
    assert_eq!(
        admin("PUT", "/_sandbox/faults", json!({"rate_five_hundred": 1.0})).status,
        400
    );
}

#[test]
fn ten_thousand_contacts_pushed_in_batches_then_found_by_search() {
    let sb = start();
    sb.seed(100_000, 0);
    let started = std::time::Instant::now();
    for b in 0..100 {
        let inputs: Vec<Value> = (0..100).map(|i| json!({"idProperty": "email", "id": format!("p{b}-{i}@example.com"), "properties": {"firstname": "Pushed"}})).collect();
        assert_eq!(
            call(
                &sb,
                "POST",
                "/crm/v3/objects/contacts/batch/upsert",
                Some(json!({"inputs": inputs}))
            )
            .status,
            200
        );
    }
    let push = started.elapsed();
    let started = std::time::Instant::now();
    let v = search(&sb, json!({"filterGroups": [{"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "Pushed"}]}], "limit": 1})).json();
    assert_eq!(v["total"], 10_000);
    let tail = search(&sb, json!({"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": sb.now_ms().to_string()}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], "limit": 10})).json();
    assert!(tail["total"].as_u64().unwrap() <= 10_000);
    // Page through the first 10,000 by cursor: ids strictly increase, no page overlaps.
    let listed_at = std::time::Instant::now();
    let mut path = "/crm/v3/objects/contacts?limit=100".to_string();
    let mut last = 0u64;
    for _ in 0..100 {
        let v = call(&sb, "GET", &path, None).json();
        for r in v["results"].as_array().unwrap() {
            let id: u64 = r["id"].as_str().unwrap().parse().unwrap();
            assert!(id > last);
            last = id;
        }
        let after = v["paging"]["next"]["after"].as_str().expect("more pages");
        path = format!("/crm/v3/objects/contacts?limit=100&after={after}");
    }
    eprintln!("100 list pages of 100 took {:?}", listed_at.elapsed());
    eprintln!(
        "110,000 contacts: 100 upsert batches took {push:?}; two searches plus the listing took {:?}",
        started.elapsed()
    );
}

#[test]
fn merge_keeps_the_primary_and_redirects_the_merged_id_gdpr_delete_erases() {
    let sb = start();
    let a = create_contact(&sb, "a@example.com");
    let b = call(&sb, "POST", "/crm/v3/objects/contacts", Some(json!({"properties": {"email": "b@example.com", "firstname": "Bee", "jobtitle": "CTO"}}))).json();
    let b = b["id"].as_str().unwrap().to_string();
    let company = call(
        &sb,
        "POST",
        "/crm/v3/objects/companies",
        Some(json!({"properties": {"name": "Acme"}})),
    )
    .json();
    sb.associate(&b, company["id"].as_str().unwrap()).unwrap();
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/merge",
        Some(json!({"primaryObjectId": a, "objectIdToMerge": b})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["id"], a.as_str());
    let merged = call(
        &sb,
        "GET",
        &format!(
            "/crm/v3/objects/contacts/{b}?properties=firstname,jobtitle&associations=companies"
        ),
        None,
    )
    .json();
    assert_eq!(
        merged["id"],
        a.as_str(),
        "the merged id reads as the primary"
    );
    assert_eq!(
        merged["properties"]["firstname"], "Ann",
        "the primary keeps its own values"
    );
    assert_eq!(
        merged["properties"]["jobtitle"], "CTO",
        "blanks are filled from the merged record"
    );
    assert!(merged["associations"]["companies"]["results"].is_array());
    let all = call(&sb, "GET", "/crm/v3/objects/contacts?archived=false", None).json();
    assert_eq!(all["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        call(
            &sb,
            "POST",
            "/crm/v3/objects/contacts/merge",
            Some(json!({"primaryObjectId": a, "objectIdToMerge": a}))
        )
        .status,
        400
    );

    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/gdpr-delete",
        Some(json!({"objectId": "a@example.com", "idProperty": "email"})),
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        call(&sb, "GET", &format!("/crm/v3/objects/contacts/{a}"), None).status,
        404
    );
    assert_eq!(
        call(
            &sb,
            "GET",
            &format!("/crm/v3/objects/contacts/{a}?archived=true"),
            None
        )
        .status,
        404
    );
    assert_eq!(
        call(
            &sb,
            "POST",
            "/crm/v3/objects/contacts/gdpr-delete",
            Some(json!({"objectId": "999"}))
        )
        .status,
        204
    );
}

#[test]
fn a_merged_away_id_reads_and_updates_as_the_record_that_absorbed_it() {
    let sb = start();
    let a = create_contact(&sb, "a@example.com");
    let b = create_contact(&sb, "b@example.com");
    let c = create_contact(&sb, "c@example.com");
    let before = call(&sb, "GET", &format!("/crm/v3/objects/contacts/{a}"), None).json();
    // Merged as a user in HubSpot would, through the admin API.
    let admin = |body: Value| {
        let r = try_call(
            &sb,
            "POST",
            "/_sandbox/objects/contacts/merge",
            None,
            Some(&body.to_string()),
            "application/json",
        )
        .unwrap();
        (r.status, r.json())
    };
    let (status, primary) = admin(json!({"primaryObjectId": a, "objectIdToMerge": b}));
    assert_eq!(status, 200, "{primary}");
    assert_eq!(primary["id"], a.as_str());
    assert!(
        primary["updatedAt"].as_str() > before["updatedAt"].as_str(),
        "a merge modifies the primary"
    );
    sb.merge_records("contacts", &c, &a).unwrap();
    assert_eq!(
        admin(json!({"primaryObjectId": c, "objectIdToMerge": c})).0,
        400
    );

    // `b` went into `a`, and `a` into `c`: both old ids answer as `c`, which lists them.
    let read = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        Some(json!({"inputs": [{"id": b}, {"id": a}],
                    "properties": ["email", "hs_merged_object_ids"], "propertiesWithHistory": []})),
    );
    assert_eq!(read.status, 200, "{}", read.body);
    let results = read.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 2, "{results:?}");
    for r in &results {
        assert_eq!(r["id"], c.as_str());
        assert_eq!(r["properties"]["email"], "c@example.com");
        assert_eq!(
            r["properties"]["hs_merged_object_ids"],
            format!("{a};{b}").as_str()
        );
    }
    let update = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        Some(json!({"inputs": [{"id": b, "properties": {"jobtitle": "CEO"}}]})),
    );
    assert_eq!(update.status, 200, "{}", update.body);
    let updated = &update.json()["results"][0];
    assert_eq!(updated["id"], c.as_str());
    assert_eq!(updated["properties"]["jobtitle"], "CEO");
    let got = call(
        &sb,
        "GET",
        &format!("/crm/v3/objects/contacts/{c}?properties=jobtitle"),
        None,
    )
    .json();
    assert_eq!(got["properties"]["jobtitle"], "CEO");
    // The merged-ids property is HubSpot's to write.
    let r = call(
        &sb,
        "PATCH",
        &format!("/crm/v3/objects/contacts/{c}"),
        Some(json!({"properties": {"hs_merged_object_ids": "1"}})),
    );
    assert_eq!(r.status, 400, "{}", r.body);
}

/// Reads one response off a kept-alive connection, framed by `Content-Length`.
fn read_framed(reader: &mut std::io::BufReader<TcpStream>) -> (u16, String) {
    use std::io::BufRead;
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut len = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    (status, String::from_utf8(body).unwrap())
}

#[test]
fn keep_alive_pipelining_and_chunked_bodies_work() {
    let sb = start();
    let stream = TcpStream::connect(("127.0.0.1", sb.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = std::io::BufReader::new(stream);
    let token = sb.token();
    let get =
        format!("GET /crm/v3/owners HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n");
    // Two requests written back to back on one connection.
    writer.write_all(format!("{get}{get}").as_bytes()).unwrap();
    assert_eq!(read_framed(&mut reader).0, 200);
    assert_eq!(read_framed(&mut reader).0, 200);
    let body = r#"{"properties":{"email":"chunk@example.com"}}"#;
    let (a, b) = body.split_at(10);
    let chunked = format!(
        "POST /crm/v3/objects/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    writer.write_all(chunked.as_bytes()).unwrap();
    let (status, body) = read_framed(&mut reader);
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("chunk@example.com"));
    writer.write_all(get.as_bytes()).unwrap();
    assert_eq!(
        read_framed(&mut reader).0,
        200,
        "the connection stays usable"
    );
}

#[test]
fn parallel_clients_get_distinct_ids() {
    let sb = start();
    let ids: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let sb = &sb;
                scope.spawn(move || {
                    (0..20)
                        .map(|i| create_contact(sb, &format!("t{t}-{i}@example.com")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 160);
}

#[test]
fn the_daily_limit_applies_to_private_app_tokens() {
    let sb = HubSpotSandbox::start(SandboxOptions {
        daily_limit: 2,
        ..Default::default()
    })
    .unwrap();
    let first = call(&sb, "GET", "/crm/v3/owners", None);
    assert_eq!(
        first.header("X-HubSpot-RateLimit-Daily-Remaining"),
        Some("1")
    );
    assert_eq!(call(&sb, "GET", "/crm/v3/owners", None).status, 200);
    let r = call(&sb, "GET", "/crm/v3/owners", None);
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["policyName"], "DAILY");
}

#[test]
fn a_batch_with_two_inputs_for_one_record_is_refused_whole() {
    let sb = start();
    let a = create_contact(&sb, "a@example.com");
    let b = create_contact(&sb, "b@example.com");
    let firstname = |id: &str| {
        call(
            &sb,
            "GET",
            &format!("/crm/v3/objects/contacts/{id}?properties=firstname"),
            None,
        )
        .json()["properties"]["firstname"]
            .clone()
    };
    // The same id twice.
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        Some(json!({"inputs": [
            {"id": a, "properties": {"firstname": "One"}},
            {"id": b, "properties": {"firstname": "Two"}},
            {"id": a, "properties": {"firstname": "Three"}},
        ]})),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let v = r.json();
    assert_eq!(v["category"], "VALIDATION_ERROR");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Duplicate IDs found in batch input: [{a}]")),
        "{v}"
    );
    assert_eq!(v["context"]["ids"], json!([a]));
    assert_eq!(firstname(&a), "Ann", "a refused batch wrote");
    assert_eq!(firstname(&b), "Ann", "a refused batch wrote");

    // An id merged into another input's record resolves to the same record.
    let merged = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/merge",
        Some(json!({"primaryObjectId": a, "objectIdToMerge": b})),
    );
    assert_eq!(merged.status, 200, "{}", merged.body);
    let r = call(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        Some(json!({"inputs": [
            {"id": a, "properties": {"firstname": "One"}},
            {"id": b, "properties": {"firstname": "Two"}},
        ]})),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(firstname(&a), "Ann");

    // The same idProperty value twice in an upsert (case aside), new or existing.
    for email in ["new@example.com", "a@example.com"] {
        let r = call(
            &sb,
            "POST",
            "/crm/v3/objects/contacts/batch/upsert",
            Some(json!({"inputs": [
                {"id": email, "idProperty": "email", "properties": {"firstname": "X"}},
                {"id": email.to_uppercase(), "idProperty": "email", "properties": {"firstname": "Y"}},
            ]})),
        );
        assert_eq!(r.status, 400, "{email}: {}", r.body);
        assert!(
            r.body.contains("Duplicate IDs found in batch input"),
            "{}",
            r.body
        );
    }
    let all = call(&sb, "GET", "/crm/v3/objects/contacts?limit=100", None).json();
    assert_eq!(all["results"].as_array().unwrap().len(), 1, "{all}");
}

#[test]
fn a_deleted_property_leaves_reads_and_refuses_writes_naming_it() {
    let sb = start();
    let r = call(
        &sb,
        "POST",
        "/crm/v3/properties/contacts",
        Some(
            json!({"name": "pronouns", "label": "Pronouns", "type": "string",
                    "fieldType": "text", "groupName": "contactinformation"}),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = create_contact(&sb, "a@example.com");
    let r = call(
        &sb,
        "PATCH",
        &format!("/crm/v3/objects/contacts/{id}"),
        Some(json!({"properties": {"pronouns": "she/her"}})),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let r = call(&sb, "DELETE", "/crm/v3/properties/contacts/pronouns", None);
    assert_eq!(r.status, 204, "{}", r.body);
    let r = call(&sb, "GET", "/crm/v3/properties/contacts/pronouns", None);
    assert_eq!(r.status, 404, "{}", r.body);
    // Asked for, the property is left out; one that exists but is empty is named as null.
    let got = call(
        &sb,
        "GET",
        &format!("/crm/v3/objects/contacts/{id}?properties=pronouns,jobtitle"),
        None,
    )
    .json();
    assert!(got["properties"].get("pronouns").is_none(), "{got}");
    assert_eq!(got["properties"]["jobtitle"], Value::Null, "{got}");
    let r = call(
        &sb,
        "PATCH",
        &format!("/crm/v3/objects/contacts/{id}"),
        Some(json!({"properties": {"pronouns": "they/them", "jobtitle": "CTO"}})),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let v = r.json();
    assert_eq!(v["category"], "VALIDATION_ERROR");
    assert_eq!(v["errors"][0]["code"], "PROPERTY_DOESNT_EXIST", "{v}");
    assert_eq!(
        v["errors"][0]["context"]["propertyName"][0], "pronouns",
        "{v}"
    );
    // A property HubSpot defines cannot be deleted.
    let r = call(&sb, "DELETE", "/crm/v3/properties/contacts/email", None);
    assert_eq!(r.status, 400, "{}", r.body);
}

#[test]
fn an_archived_record_is_restored_within_90_days_unless_its_email_was_taken() {
    let sb = start();
    let a = create_contact(&sb, "a@example.com");
    archive_contact(&sb, &a);
    let r = call(&sb, "POST", "/_sandbox/objects/contacts/1/restore", None);
    assert_eq!(r.status, 400, "not archived: {}", r.body);
    let r = call(
        &sb,
        "POST",
        &format!("/_sandbox/objects/contacts/{a}/restore"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let got = call(&sb, "GET", &format!("/crm/v3/objects/contacts/{a}"), None);
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.json()["archived"], false);
    let found = search(
        &sb,
        json!({"filterGroups": [{"filters": [
        {"propertyName": "email", "operator": "EQ", "value": "a@example.com"}]}]}),
    );
    assert_eq!(
        found.json()["total"],
        1,
        "a restored record is in the change feed"
    );

    // Re-created with the same email since: the archived one cannot come back.
    archive_contact(&sb, &a);
    let b = create_contact(&sb, "a@example.com");
    assert_ne!(a, b);
    assert!(sb.restore_record("contacts", &a).is_err());
    // More than 90 days after its archive.
    archive_contact(&sb, &b);
    sb.advance_clock(Duration::from_secs(91 * 24 * 3600));
    let e = sb.restore_record("contacts", &b).unwrap_err().to_string();
    assert!(e.contains("90 days"), "{e}");
}

#[test]
fn webhook_settings_are_read_with_the_developer_key_and_a_change_goes_to_its_propertys_subscription()
 {
    use super::webhooks::{APP_ID, DEVELOPER_KEY};
    let sb = start();
    let receiver = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let target = format!(
        "http://{}/hooks/hubspot",
        receiver.server_addr().to_ip().unwrap()
    );
    sb.set_webhook_subscriptions(
        Some(&target),
        &[
            json!({"eventType": "contact.propertyChange", "propertyName": "phone"}),
            json!({"eventType": "contact.propertyChange", "propertyName": "firstname", "active": false}),
        ],
        0.001,
    );
    let get =
        |path: &str| try_call(&sb, "GET", path, None, None, "application/json").expect("an answer");
    let settings = format!("/webhooks/v3/{APP_ID}/settings");
    assert_eq!(get(&settings).status, 401, "the developer key is needed");
    assert_eq!(get(&format!("{settings}?hapikey=nope")).status, 401);
    let other_app = get(&format!("/webhooks/v3/1/settings?hapikey={DEVELOPER_KEY}"));
    assert_eq!(other_app.status, 404, "{}", other_app.body);
    let s = get(&format!("{settings}?hapikey={DEVELOPER_KEY}"));
    assert_eq!(s.status, 200, "{}", s.body);
    let s = s.json();
    assert_eq!(s["targetUrl"], json!(target));
    assert_eq!(s["throttling"]["maxConcurrentRequests"], json!(10));
    let subs = get(&format!(
        "/webhooks/v3/{APP_ID}/subscriptions?hapikey={DEVELOPER_KEY}"
    ))
    .json();
    let subs = subs["results"].as_array().unwrap().clone();
    assert_eq!(subs.len(), 2);
    assert_eq!(
        (
            &subs[0]["eventType"],
            &subs[0]["propertyName"],
            &subs[0]["active"]
        ),
        (
            &json!("contact.propertyChange"),
            &json!("phone"),
            &json!(true)
        )
    );
    assert_eq!(subs[1]["active"], json!(false));
    // A contact made (no subscription), then its phone and first name changed: one event, of
    // the phone, under its subscription; the paused one delivers nothing.
    let id = create_contact(&sb, "hooked@example.com");
    let r = call(
        &sb,
        "PATCH",
        &format!("/crm/v3/objects/contacts/{id}"),
        Some(json!({"properties": {"phone": "+1 555 0100", "firstname": "Bo"}})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let mut delivery = receiver
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .expect("a delivery");
    let mut body = String::new();
    delivery.as_reader().read_to_string(&mut body).unwrap();
    let _ = delivery.respond(tiny_http::Response::empty(200));
    let events: Value = serde_json::from_str(&body).unwrap();
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1, "{body}");
    assert_eq!(events[0]["propertyName"], json!("phone"));
    assert_eq!(
        events[0]["subscriptionId"].to_string(),
        subs[0]["id"].as_str().unwrap()
    );
    assert!(
        receiver
            .recv_timeout(Duration::from_millis(500))
            .unwrap()
            .is_none(),
        "nothing for the first name"
    );
}
