//! Every endpoint the HubSpot sandbox serves, called over HTTP, with each response body
//! checked against a JSON Schema fixture written from HubSpot's OpenAPI files
//! (`tests/fixtures/hubspot-schemas/`, each naming its source in `description`), and each
//! answer's `Date` header checked to be the sandbox clock's time in HTTP's date form.
//!
//! The validator is deliberately small: `type` (one or a list), `nullable`, `enum`,
//! `required`, `properties`, `additionalProperties`, `items`, `format: date-time|uuid` and
//! `$ref` to `#/$defs/…`, to another fixture file, or to a file's `$defs`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use crmsync::sandbox::{Sandbox, SandboxOptions};
use serde_json::{Value, json};
use sha2::Digest as _;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hubspot-schemas")
}

struct Schemas {
    docs: BTreeMap<String, Value>,
    used: Mutex<BTreeSet<String>>,
}

impl Schemas {
    fn load() -> Schemas {
        let mut docs = BTreeMap::new();
        for entry in std::fs::read_dir(fixture_dir()).expect("fixture dir") {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).unwrap();
                let doc: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                docs.insert(
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    doc,
                );
            }
        }
        Schemas {
            docs,
            used: Mutex::new(BTreeSet::new()),
        }
    }

    /// Errors found validating `value` against fixture `file`.
    fn errors(&self, file: &str, value: &Value) -> Vec<String> {
        self.used.lock().unwrap().insert(file.to_string());
        let root = self
            .docs
            .get(file)
            .unwrap_or_else(|| panic!("no fixture `{file}`"));
        let mut errors = Vec::new();
        self.check(file, root, value, "$", &mut errors);
        errors
    }

    fn check_ok(&self, file: &str, value: &Value, what: &str) {
        let errors = self.errors(file, value);
        assert!(
            errors.is_empty(),
            "{what} does not match `{file}`:\n  {}\nbody: {value}",
            errors.join("\n  ")
        );
    }

    fn resolve(&self, current: &str, reference: &str) -> (String, Value) {
        let (file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        let file = if file.is_empty() {
            current.to_string()
        } else {
            file.to_string()
        };
        self.used.lock().unwrap().insert(file.clone());
        let mut node = self
            .docs
            .get(&file)
            .unwrap_or_else(|| panic!("$ref to missing fixture `{file}`"))
            .clone();
        for part in pointer.split('/').filter(|p| !p.is_empty()) {
            node = node
                .get(part)
                .unwrap_or_else(|| panic!("$ref `{reference}` does not resolve"))
                .clone();
        }
        (file, node)
    }

    fn check(
        &self,
        file: &str,
        schema: &Value,
        value: &Value,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let (f, s) = self.resolve(file, r);
            return self.check(&f, &s, value, path, errors);
        }
        if value.is_null() && schema.get("nullable") == Some(&json!(true)) {
            return;
        }
        if let Some(t) = schema.get("type") {
            let types: Vec<&str> = match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let ok = types.iter().any(|t| match *t {
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "object" => value.is_object(),
                "array" => value.is_array(),
                "null" => value.is_null(),
                _ => false,
            });
            if !ok {
                errors.push(format!("{path}: expected {types:?}, got {value}"));
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{path}: {value} is not one of {allowed:?}"));
        }
        if let (Some(format), Some(s)) =
            (schema.get("format").and_then(Value::as_str), value.as_str())
        {
            let ok = match format {
                "date-time" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
                "uuid" => s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4,
                _ => true,
            };
            if !ok {
                errors.push(format!("{path}: `{s}` is not a valid {format}"));
            }
        }
        if let Some(obj) = value.as_object() {
            for req in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let key = req.as_str().unwrap();
                if !obj.contains_key(key) {
                    errors.push(format!("{path}: missing required `{key}`"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, v) in obj {
                let sub = format!("{path}.{k}");
                match (
                    props.and_then(|p| p.get(k)),
                    schema.get("additionalProperties"),
                ) {
                    (Some(s), _) => self.check(file, s, v, &sub, errors),
                    (None, Some(Value::Bool(false))) => errors.push(format!("{sub}: not allowed")),
                    (None, Some(extra)) if extra.is_object() => {
                        self.check(file, extra, v, &sub, errors)
                    }
                    _ => {}
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
            for (i, v) in arr.iter().enumerate() {
                self.check(file, items, v, &format!("{path}[{i}]"), errors);
            }
        }
    }
}

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

fn raw(
    sb: &Sandbox,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &str,
) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", sb.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().into(), v.trim().into()))
        .collect();
    let resp = Resp {
        status,
        headers,
        body: body.into(),
    };
    check_date(sb, &resp, &format!("{method} {path}"));
    resp
}

/// Every answer carries a `Date` header (RFC 9110 §6.6.1, an IMF-fixdate such as
/// `Sun, 06 Nov 1994 08:49:37 GMT`) with the sandbox clock's time to the second, which is what
/// crmsync measures the CRM's clock by.
fn check_date(sb: &Sandbox, resp: &Resp, what: &str) {
    let date = resp
        .header("date")
        .unwrap_or_else(|| panic!("{what}: no Date header"));
    assert!(
        date.ends_with(" GMT"),
        "{what}: Date `{date}` is not in GMT"
    );
    let at = chrono::DateTime::parse_from_rfc2822(date)
        .unwrap_or_else(|e| panic!("{what}: Date `{date}` is not an HTTP date: {e}"))
        .timestamp_millis();
    let now = sb.now_ms();
    assert!(
        at % 1000 == 0 && at <= now && now - at < 5_000,
        "{what}: Date `{date}` is not the sandbox clock's time ({now})"
    );
}

fn api(sb: &Sandbox, method: &str, path: &str, body: Option<Value>) -> Resp {
    raw(
        sb,
        method,
        path,
        Some(&sb.token()),
        "application/json",
        &body.map(|b| b.to_string()).unwrap_or_default(),
    )
}

/// Calls an endpoint, checks the status and validates the body against `fixture`.
fn expect(
    s: &Schemas,
    sb: &Sandbox,
    method: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
    fixture: &str,
) -> Value {
    let r = api(sb, method, path, body);
    assert_eq!(r.status, status, "{method} {path}: {}", r.body);
    let v = r.json();
    s.check_ok(fixture, &v, &format!("{method} {path} ({status})"));
    v
}

fn expect_empty(sb: &Sandbox, method: &str, path: &str, body: Option<Value>) {
    let r = api(sb, method, path, body);
    assert_eq!(r.status, 204, "{method} {path}: {}", r.body);
    assert!(r.body.is_empty());
}

/// A sandbox whose rate limits no test here reaches.
fn roomy_sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        rate_limit: (10_000, 10_000),
        search_per_second: 0,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn every_endpoint_answers_in_hubspots_documented_shapes() {
    let s = Schemas::load();
    let sb = roomy_sandbox();
    // An hour ahead of this machine: each answer's `Date` is the sandbox clock's.
    sb.advance_clock(Duration::from_secs(3_600));
    let (contacts, companies) = sb.seed(12, 3);

    // The account.
    let details = expect(
        &s,
        &sb,
        "GET",
        "/account-info/v3/details",
        None,
        200,
        "portal-information-response.json",
    );
    assert_eq!(details["portalId"], sb.hub_id());

    // Objects.
    let c = expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts",
        Some(
            json!({"properties": {"email": "schema@example.com", "firstname": "Sam"}, "associations": []}),
        ),
        201,
        "simple-public-object.json",
    );
    let id = c["id"].as_str().unwrap().to_string();
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/companies",
        Some(json!({"properties": {"name": "Schema Inc", "domain": "schema.example"}})),
        201,
        "simple-public-object.json",
    );
    for path in [
        "/crm/v3/objects/contacts",
        "/crm/v3/objects/contacts?limit=5&associations=companies&properties=email,phone",
        "/crm/v3/objects/companies?associations=contacts",
    ] {
        expect(
            &s,
            &sb,
            "GET",
            path,
            None,
            200,
            "collection-response-with-associations.json",
        );
    }
    expect(
        &s,
        &sb,
        "GET",
        &format!(
            "/crm/v3/objects/contacts/{}?associations=companies&properties=email,jobtitle",
            contacts[0]
        ),
        None,
        200,
        "simple-public-object.json",
    );
    expect(
        &s,
        &sb,
        "GET",
        &format!("/crm/v3/objects/companies/{}", companies[0]),
        None,
        200,
        "simple-public-object.json",
    );
    expect(
        &s,
        &sb,
        "GET",
        "/crm/v3/objects/contacts/schema%40example.com?idProperty=email&propertiesWithHistory=firstname",
        None,
        200,
        "simple-public-object.json",
    );
    expect(
        &s,
        &sb,
        "PATCH",
        &format!("/crm/v3/objects/contacts/{id}"),
        Some(json!({"properties": {"lastname": "Ple"}})),
        200,
        "simple-public-object.json",
    );
    expect_empty(
        &sb,
        "DELETE",
        &format!("/crm/v3/objects/contacts/{id}"),
        None,
    );
    expect(
        &s,
        &sb,
        "GET",
        &format!("/crm/v3/objects/contacts/{id}?archived=true"),
        None,
        200,
        "simple-public-object.json",
    );
    let recycle_bin = || {
        let bin = expect(
            &s,
            &sb,
            "GET",
            "/crm/v3/objects/contacts?archived=true",
            None,
            200,
            "collection-response-with-associations.json",
        );
        bin["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == id.as_str())
    };
    assert!(recycle_bin());
    // Restored from the recycle bin (as a user does in HubSpot): live again, in the same shape.
    sb.restore_record("contacts", &id).unwrap();
    let back = expect(
        &s,
        &sb,
        "GET",
        &format!("/crm/v3/objects/contacts/{id}"),
        None,
        200,
        "simple-public-object.json",
    );
    assert_eq!(back["archived"], false, "{back}");
    assert!(back.get("archivedAt").is_none(), "{back}");
    let found = expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(
            json!({"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": id}]}]}),
        ),
        200,
        "collection-response-with-total.json",
    );
    assert_eq!(found["results"][0]["id"], id.as_str(), "{found}");
    assert!(
        !recycle_bin(),
        "a restored contact is still in the recycle bin"
    );

    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/merge",
        Some(json!({"primaryObjectId": contacts[4], "objectIdToMerge": contacts[5]})),
        200,
        "simple-public-object.json",
    );
    expect_empty(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/gdpr-delete",
        Some(json!({"objectId": contacts[6]})),
    );

    // Search.
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(
            json!({"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], "properties": ["email"], "limit": 5}),
        ),
        200,
        "collection-response-with-total.json",
    );
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/companies/search",
        Some(json!({"sorts": ["-hs_lastmodifieddate"]})),
        200,
        "collection-response-with-total.json",
    );

    // Batches.
    let created = expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        Some(
            json!({"inputs": [{"properties": {"email": "b1@example.com"}, "associations": []}, {"properties": {"email": "b2@example.com"}, "associations": []}]}),
        ),
        201,
        "batch-response-simple-public-object.json",
    );
    // The results come in an order of their own, not the inputs'.
    let b1 = created["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["properties"]["email"] == "b1@example.com")
        .expect("b1's result")["id"]
        .as_str()
        .unwrap()
        .to_string();
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        Some(
            json!({"inputs": [{"id": b1}], "properties": ["email"], "propertiesWithHistory": ["email"]}),
        ),
        200,
        "batch-response-simple-public-object.json",
    );
    let partial = expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        Some(
            json!({"inputs": [{"id": b1}, {"id": "1"}], "properties": [], "propertiesWithHistory": []}),
        ),
        207,
        "batch-response-simple-public-object.json",
    );
    assert_eq!(partial["numErrors"], 1);
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        Some(json!({"inputs": [{"id": b1, "properties": {"firstname": "B"}}]})),
        200,
        "batch-response-simple-public-object.json",
    );
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        Some(
            json!({"inputs": [{"id": b1, "properties": {"firstname": "C"}}, {"id": "2", "properties": {"firstname": "D"}}]}),
        ),
        207,
        "batch-response-simple-public-object.json",
    );
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/upsert",
        Some(
            json!({"inputs": [{"id": "b2@example.com", "idProperty": "email", "properties": {"firstname": "U"}}, {"id": "b3@example.com", "idProperty": "email", "properties": {"firstname": "V"}}]}),
        ),
        200,
        "batch-response-upsert.json",
    );
    expect_empty(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/archive",
        Some(json!({"inputs": [{"id": b1}]})),
    );

    // The change feed's page within one modification time: `EQ` the time, `GT` the last id
    // read, sorted by id.
    sb.freeze_clock(true);
    let tied = expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        Some(json!({"inputs": (1..=3)
            .map(|i| json!({"properties": {"email": format!("t{i}@example.com")}, "associations": []}))
            .collect::<Vec<_>>()})),
        201,
        "batch-response-simple-public-object.json",
    );
    sb.freeze_clock(false);
    let mut ids: Vec<u64> = tied["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    let at = tied["results"][0]["properties"]["lastmodifieddate"].clone();
    let page = expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(json!({"filterGroups": [{"filters": [
            {"propertyName": "lastmodifieddate", "operator": "EQ", "value": at},
            {"propertyName": "hs_object_id", "operator": "GT", "value": ids[0].to_string()}]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": ["email", "lastmodifieddate"], "limit": 200})),
        200,
        "collection-response-with-total.json",
    );
    let got: Vec<u64> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(got, ids[1..], "{page}");

    // Errors.
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts",
        Some(json!({"properties": {"nope": "x"}})),
        400,
        "error.json",
    );
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts",
        Some(json!({"properties": {"email": "b2@example.com"}})),
        409,
        "error.json",
    );
    expect(
        &s,
        &sb,
        "GET",
        "/crm/v3/objects/contacts/999999",
        None,
        404,
        "error.json",
    );
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(json!({"after": "10000"})),
        400,
        "error.json",
    );
    let many: Vec<Value> = (0..101).map(|i| json!({"id": i.to_string()})).collect();
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        Some(json!({"inputs": many, "properties": [], "propertiesWithHistory": []})),
        400,
        "error.json",
    );
    let r = raw(
        &sb,
        "GET",
        "/crm/v3/objects/contacts",
        None,
        "application/json",
        "",
    );
    assert_eq!(r.status, 401);
    s.check_ok("error.json", &r.json(), "401");

    // Properties.
    expect(
        &s,
        &sb,
        "GET",
        "/crm/v3/properties/contacts",
        None,
        200,
        "collection-response-property.json",
    );
    expect(
        &s,
        &sb,
        "GET",
        "/crm/v3/properties/companies",
        None,
        200,
        "collection-response-property.json",
    );
    expect(
        &s,
        &sb,
        "GET",
        "/crm/v3/properties/contacts/lifecyclestage",
        None,
        200,
        "property.json",
    );
    let def = json!({"name": "crmsync_id", "label": "crmsync id", "type": "string", "fieldType": "text", "groupName": "contactinformation", "hasUniqueValue": true});
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/properties/contacts",
        Some(def.clone()),
        201,
        "property.json",
    );
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/properties/contacts",
        Some(def),
        409,
        "error.json",
    );
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/properties/contacts",
        Some(
            json!({"name": "pronouns", "label": "Pronouns", "type": "enumeration", "fieldType": "select", "groupName": "contactinformation",
        "options": [{"label": "she/her", "value": "she_her", "hidden": false}, {"label": "they/them", "value": "they_them", "hidden": false}]}),
        ),
        201,
        "property.json",
    );
    expect(
        &s,
        &sb,
        "GET",
        "/crm/v3/properties/contacts/pronouns",
        None,
        200,
        "property.json",
    );
    expect(
        &s,
        &sb,
        "GET",
        "/crm/v3/properties/contacts/missing_prop",
        None,
        404,
        "error.json",
    );
    expect_empty(&sb, "DELETE", "/crm/v3/properties/contacts/pronouns", None);
    for (name, status) in [("pronouns", 404), ("email", 400)] {
        expect(
            &s,
            &sb,
            "DELETE",
            &format!("/crm/v3/properties/contacts/{name}"),
            None,
            status,
            "error.json",
        );
    }

    // Owners.
    let owners = expect(
        &s,
        &sb,
        "GET",
        "/crm/v3/owners?limit=1",
        None,
        200,
        "collection-response-public-owner.json",
    );
    expect(
        &s,
        &sb,
        "GET",
        "/crm/v3/owners",
        None,
        200,
        "collection-response-public-owner.json",
    );
    expect(
        &s,
        &sb,
        "GET",
        &format!(
            "/crm/v3/owners/{}",
            owners["results"][0]["id"].as_str().unwrap()
        ),
        None,
        200,
        "public-owner.json",
    );

    // Associations v4.
    let (c0, co0) = (&contacts[1], &companies[1]);
    expect(
        &s,
        &sb,
        "PUT",
        &format!("/crm/v4/objects/contacts/{c0}/associations/default/companies/{co0}"),
        None,
        200,
        "batch-response-default-association.json",
    );
    expect(
        &s,
        &sb,
        "GET",
        &format!("/crm/v4/objects/contacts/{c0}/associations/companies"),
        None,
        200,
        "collection-response-multi-associated-object-with-label.json",
    );
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v4/associations/contacts/companies/batch/read",
        Some(json!({"inputs": [{"id": c0}]})),
        200,
        "batch-response-association-multi-with-label.json",
    );
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v4/associations/companies/contacts/batch/read",
        Some(json!({"inputs": [{"id": co0}, {"id": "5"}]})),
        207,
        "batch-response-association-multi-with-label.json",
    );
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v4/associations/contacts/companies/batch/associate/default",
        Some(json!({"inputs": [{"from": {"id": contacts[2]}, "to": {"id": companies[2]}}]})),
        200,
        "batch-response-default-association.json",
    );
    let mixed = json!({"inputs": [{"from": {"id": contacts[3]}, "to": {"id": companies[0]}}, {"from": {"id": contacts[3]}, "to": {"id": "777"}}]});
    let v = expect(
        &s,
        &sb,
        "POST",
        "/crm/v4/associations/contacts/companies/batch/associate/default",
        Some(mixed),
        207,
        "batch-response-default-association.json",
    );
    assert_eq!(v["numErrors"], 1);
    expect(
        &s,
        &sb,
        "PUT",
        &format!("/crm/v4/objects/contacts/{c0}/associations/default/companies/777"),
        None,
        400,
        "error.json",
    );
    expect_empty(
        &sb,
        "DELETE",
        &format!("/crm/v4/objects/contacts/{c0}/associations/companies/{co0}"),
        None,
    );
    expect_empty(
        &sb,
        "POST",
        "/crm/v4/associations/contacts/companies/batch/archive",
        Some(json!({"inputs": [{"from": {"id": contacts[2]}, "to": [{"id": companies[2]}]}]})),
    );

    // OAuth.
    let verifier = "verifier-verifier-verifier-verifier-verifier";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", sb.client_id().as_str()),
            ("redirect_uri", "http://127.0.0.1:1/cb"),
            ("scope", "oauth crm.objects.contacts.write"),
            ("state", "s"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let r = raw(
        &sb,
        "GET",
        &format!("/oauth/authorize?{q}"),
        None,
        "text/plain",
        "",
    );
    assert_eq!(r.status, 302);
    let back = url::Url::parse(r.header("location").unwrap()).unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let form = |pairs: &[(&str, &str)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let (cid, secret) = (sb.client_id(), sb.client_secret());
    let token_req = |body: String| {
        raw(
            &sb,
            "POST",
            "/oauth/v1/token",
            None,
            "application/x-www-form-urlencoded",
            &body,
        )
    };
    let r = token_req(form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &cid),
        ("client_secret", &secret),
        ("redirect_uri", "http://127.0.0.1:1/cb"),
        ("code", &code),
        ("code_verifier", verifier),
    ]));
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    s.check_ok(
        "access-token-response.json",
        &t,
        "token (authorization_code)",
    );
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    let r = token_req(form(&[
        ("grant_type", "refresh_token"),
        ("client_id", &cid),
        ("client_secret", &secret),
        ("refresh_token", &refresh),
    ]));
    s.check_ok(
        "access-token-response.json",
        &r.json(),
        "token (refresh_token)",
    );
    let access = r.json()["access_token"].as_str().unwrap().to_string();
    let r = raw(
        &sb,
        "GET",
        "/crm/v3/owners",
        Some(&access),
        "application/json",
        "",
    );
    assert_eq!(
        r.status, 403,
        "the token was not granted crm.objects.owners.read"
    );
    s.check_ok("error.json", &r.json(), "403 missing scopes");
    let r = raw(
        &sb,
        "GET",
        &format!("/oauth/v1/access-tokens/{access}"),
        None,
        "",
        "",
    );
    assert_eq!(r.status, 200);
    s.check_ok("access-token-info.json", &r.json(), "access-token info");
    let r = raw(
        &sb,
        "GET",
        &format!("/oauth/v1/refresh-tokens/{refresh}"),
        None,
        "",
        "",
    );
    assert_eq!(r.status, 200);
    s.check_ok("refresh-token-info.json", &r.json(), "refresh-token info");
    for body in [
        form(&[("grant_type", "password")]),
        form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &cid),
            ("client_secret", &secret),
            ("refresh_token", "bogus"),
        ]),
    ] {
        let r = token_req(body);
        assert_eq!(r.status, 400);
        s.check_ok("token-error.json", &r.json(), "token error");
    }
    let r = raw(
        &sb,
        "DELETE",
        &format!("/oauth/v1/refresh-tokens/{refresh}"),
        None,
        "",
        "",
    );
    assert_eq!(r.status, 204);
    let r = raw(
        &sb,
        "GET",
        &format!("/oauth/v1/refresh-tokens/{refresh}"),
        None,
        "",
        "",
    );
    assert_eq!(r.status, 404);
    s.check_ok("error.json", &r.json(), "unknown refresh token");

    // Engagements: the five activity objects. Their spec files
    // (`PublicApiSpecs/CRM/{Calls,Emails,Meetings,Notes,Tasks}/Rollouts/424/v3/*.json`) declare
    // the same component schemas as the contacts' file the fixtures are written from.
    for (path, title, to_contact, to_company) in [
        ("calls", "hs_call_title", 194, 182),
        ("emails", "hs_email_subject", 198, 186),
        ("meetings", "hs_meeting_title", 200, 188),
        ("notes", "hs_note_body", 202, 190),
        ("tasks", "hs_task_subject", 204, 192),
    ] {
        let assoc = |to: &str, type_id: i64| json!({"to": {"id": to}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]});
        let one = expect(
            &s,
            &sb,
            "POST",
            &format!("/crm/v3/objects/{path}"),
            Some(
                json!({"properties": {title: "Schema", "hs_timestamp": "2026-03-01T10:00:00Z"},
                        "associations": [assoc(&contacts[1], to_contact)]}),
            ),
            201,
            "simple-public-object.json",
        );
        let one = one["id"].as_str().unwrap().to_string();
        let made = expect(
            &s,
            &sb,
            "POST",
            &format!("/crm/v3/objects/{path}/batch/create"),
            Some(
                json!({"inputs": [{"properties": {title: "Batch", "hs_timestamp": "1772359200000"},
                                    "associations": [assoc(&contacts[2], to_contact), assoc(&companies[1], to_company)],
                                    "objectWriteTraceId": "trace-1"}]}),
            ),
            201,
            "batch-response-simple-public-object.json",
        );
        assert_eq!(made["results"][0]["objectWriteTraceId"], "trace-1");
        let batch_id = made["results"][0]["id"].as_str().unwrap().to_string();
        let r = api(
            &sb,
            "POST",
            &format!("/crm/v3/objects/{path}"),
            Some(json!({"properties": {title: "No time"}})),
        );
        assert_eq!(r.status, 400, "{path} without hs_timestamp: {}", r.body);
        s.check_ok(
            "error.json",
            &r.json(),
            "an engagement without hs_timestamp",
        );
        expect(
            &s,
            &sb,
            "POST",
            &format!("/crm/v3/objects/{path}/batch/read"),
            Some(
                json!({"inputs": [{"id": one}, {"id": batch_id}], "properties": [title, "hs_timestamp"],
                        "propertiesWithHistory": []}),
            ),
            200,
            "batch-response-simple-public-object.json",
        );
        expect(
            &s,
            &sb,
            "POST",
            &format!("/crm/v3/objects/{path}/batch/update"),
            Some(json!({"inputs": [{"id": one, "properties": {title: "Schema 2"}}]})),
            200,
            "batch-response-simple-public-object.json",
        );
        let found = expect(
            &s,
            &sb,
            "POST",
            &format!("/crm/v3/objects/{path}/search"),
            Some(
                json!({"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "0"}]}],
                        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                        "properties": [title, "hs_timestamp"], "limit": 10}),
            ),
            200,
            "collection-response-with-total.json",
        );
        assert_eq!(found["total"], 2, "{path}");
        expect(
            &s,
            &sb,
            "GET",
            &format!("/crm/v3/objects/{path}?associations=contacts,companies"),
            None,
            200,
            "collection-response-with-associations.json",
        );
        let links = expect(
            &s,
            &sb,
            "POST",
            &format!("/crm/v4/associations/{path}/contacts/batch/read"),
            Some(json!({"inputs": [{"id": one}, {"id": batch_id}]})),
            200,
            "batch-response-association-multi-with-label.json",
        );
        let types: Vec<i64> = links["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["to"][0]["associationTypes"][0]["typeId"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(types, [to_contact, to_contact], "{path}");
        expect(
            &s,
            &sb,
            "POST",
            &format!("/crm/v4/associations/{path}/companies/batch/associate/default"),
            Some(json!({"inputs": [{"from": {"id": one}, "to": {"id": companies[0]}}]})),
            200,
            "batch-response-default-association.json",
        );
        expect_empty(
            &sb,
            "POST",
            &format!("/crm/v4/associations/{path}/contacts/batch/archive"),
            Some(json!({"inputs": [{"from": {"id": one}, "to": [{"id": contacts[1]}]}]})),
        );
        assert!(sb.associated(path, &one, "contacts").is_empty(), "{path}");
        let r = api(
            &sb,
            "POST",
            &format!("/crm/v4/associations/{path}/calls/batch/read"),
            Some(json!({"inputs": [{"id": one}]})),
        );
        assert_eq!(
            r.status, 400,
            "two engagements are not associated: {}",
            r.body
        );
        expect_empty(
            &sb,
            "POST",
            &format!("/crm/v3/objects/{path}/batch/archive"),
            Some(json!({"inputs": [{"id": one}]})),
        );
    }

    // Rate limits.
    sb.set_rate_limit(1, 60_000, 1);
    api(&sb, "GET", "/crm/v3/owners", None);
    expect(
        &s,
        &sb,
        "GET",
        "/crm/v3/owners",
        None,
        429,
        "rate-limit-error.json",
    );
    api(
        &sb,
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(json!({})),
    );
    let v = expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(json!({})),
        429,
        "rate-limit-error.json",
    );
    assert_eq!(v["message"], "You have reached your secondly limit.");

    let unused: Vec<String> = s
        .docs
        .keys()
        .filter(|k| !s.used.lock().unwrap().contains(*k))
        .cloned()
        .collect();
    assert!(unused.is_empty(), "fixtures never checked: {unused:?}");
}

/// Deals (`PublicApiSpecs/CRM/Deals/...`): the same object endpoints, v4 associations with
/// the default deal → contact (3) and deal → company (341) types, and the deal pipelines.
#[test]
fn deal_endpoints_answer_in_hubspots_documented_shapes() {
    let s = Schemas::load();
    let sb = roomy_sandbox();
    let (contacts, companies) = sb.seed(3, 2);
    let props = json!({"dealname": "Schema", "dealstage": "contractsent", "pipeline": "default",
                       "amount": "10", "deal_currency_code": "EUR", "closedate": "2026-06-30"});
    let one = expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/deals",
        Some(json!({"properties": props, "associations": [
            {"to": {"id": contacts[0]}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]},
            {"to": {"id": companies[0]}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}]})),
        201,
        "simple-public-object.json",
    );
    let one = one["id"].as_str().unwrap().to_string();
    assert_eq!(
        sb.associated("deals", &one, "contacts"),
        [contacts[0].clone()]
    );
    assert_eq!(
        sb.associated("deals", &one, "companies"),
        [companies[0].clone()]
    );
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/deals/batch/create",
        Some(json!({"inputs": [{"properties": {"dealname": "Batch", "dealstage": "closedwon"}}]})),
        201,
        "batch-response-simple-public-object.json",
    );
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/deals/batch/update",
        Some(json!({"inputs": [{"id": one, "properties": {"dealstage": "closedlost"}}]})),
        200,
        "batch-response-simple-public-object.json",
    );
    let r = api(
        &sb,
        "POST",
        "/crm/v3/objects/deals/batch/update",
        Some(json!({"inputs": [{"id": one, "properties": {"dealstage": "renewal_won"}}]})),
    );
    assert_eq!(r.status, 400, "a stage of another pipeline: {}", r.body);
    s.check_ok("error.json", &r.json(), "a stage of another pipeline");
    let found = expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/deals/search",
        Some(
            json!({"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "0"}]}],
                    "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                    "properties": ["dealname", "dealstage"], "limit": 10}),
        ),
        200,
        "collection-response-with-total.json",
    );
    assert_eq!(found["total"], 2);
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v3/objects/deals/batch/read",
        Some(
            json!({"inputs": [{"id": one}], "properties": ["dealname"], "propertiesWithHistory": []}),
        ),
        200,
        "batch-response-simple-public-object.json",
    );
    let links = expect(
        &s,
        &sb,
        "POST",
        "/crm/v4/associations/deals/companies/batch/read",
        Some(json!({"inputs": [{"id": one}]})),
        200,
        "batch-response-association-multi-with-label.json",
    );
    assert_eq!(
        links["results"][0]["to"][0]["associationTypes"][0]["typeId"],
        341
    );
    expect(
        &s,
        &sb,
        "POST",
        "/crm/v4/associations/deals/contacts/batch/associate/default",
        Some(json!({"inputs": [{"from": {"id": one}, "to": {"id": contacts[1]}}]})),
        200,
        "batch-response-default-association.json",
    );
    let props_list = expect(
        &s,
        &sb,
        "GET",
        "/crm/v3/properties/deals",
        None,
        200,
        "collection-response-property.json",
    );
    assert!(
        props_list["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "dealstage")
    );
    // The pipelines (`PublicApiSpecs/CRM/Pipelines/...`): each with its stages by id and label.
    let r = api(&sb, "GET", "/crm/v3/pipelines/deals", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let pipelines = r.json();
    let first = &pipelines["results"][0];
    assert_eq!(first["id"], "default");
    assert_eq!(first["label"], "Sales Pipeline");
    for stage in first["stages"].as_array().unwrap() {
        assert!(
            stage["id"].is_string() && stage["label"].is_string(),
            "{stage}"
        );
        assert!(stage["metadata"]["probability"].is_string(), "{stage}");
    }
    expect_empty(
        &sb,
        "POST",
        "/crm/v3/objects/deals/batch/archive",
        Some(json!({"inputs": [{"id": one}]})),
    );
}

#[test]
fn every_fixture_names_its_source() {
    let s = Schemas::load();
    assert!(s.docs.len() >= 15);
    for (name, doc) in &s.docs {
        let d = doc["description"].as_str().unwrap_or_default();
        assert!(
            d.contains("PublicApiSpecs/") || d.contains("DIGEST.md"),
            "`{name}` does not say what it was written from"
        );
    }
}

#[test]
fn the_validator_rejects_bodies_that_break_a_fixture() {
    let s = Schemas::load();
    let good = json!({"id": "1", "properties": {"email": "a@b.c", "phone": null}, "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z", "archived": false});
    assert!(s.errors("simple-public-object.json", &good).is_empty());
    let cases = [
        ("/properties/email", json!(5), "a number property value"),
        ("/id", json!(1), "a numeric id"),
        ("/createdAt", json!("yesterday"), "a non-ISO timestamp"),
    ];
    for (pointer, bad_value, what) in cases {
        let mut bad = good.clone();
        *bad.pointer_mut(pointer).unwrap() = bad_value;
        assert!(
            !s.errors("simple-public-object.json", &bad).is_empty(),
            "{what} was accepted"
        );
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("updatedAt");
    assert!(!s.errors("simple-public-object.json", &missing).is_empty());
    let bad_batch = json!({"status": "DONE", "results": [], "startedAt": "2024-01-01T00:00:00Z", "completedAt": "2024-01-01T00:00:00Z"});
    assert!(
        !s.errors("batch-response-simple-public-object.json", &bad_batch)
            .is_empty(),
        "status outside the enum"
    );
    let bad_error = json!({"status": "error", "category": "X", "correlationId": "c", "message": "m", "context": {"ids": "1"}});
    assert!(
        !s.errors("error.json", &bad_error).is_empty(),
        "context values must be arrays and the id a uuid"
    );
}
