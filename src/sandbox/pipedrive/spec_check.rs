//! Test support: checks the bodies the sandbox serves (and the bodies the tests send) against
//! the official OpenAPI files in `shared/api-specs/pipedrive/` (API v2 and v1 of 2026-04),
//! with a JSON Schema validator over each operation's schema.
//!
//! OpenAPI 3.0 schemas become JSON Schema (2020-12) here: `nullable: true` adds `null` to
//! the type (and to an `enum`), `$ref`s into `components` are inlined, `format` is not
//! asserted (the v1 spec marks `YYYY-MM-DD HH:MM:SS` times as `date-time`, which that
//! format refuses). An operation without a schema for an error status is checked against
//! the v1 spec's common error bodies: `failResponse` (`GET /users/{id}` 404) and, for 401
//! and 429, `unathorizedResponse` (`GET /users/me` 401).
//!
//! The files have errata. Each is mended in [`ERRATA`], with its reason, by the smallest
//! change that lets a body the real API sends pass; a test proves each mend is needed (the
//! unmended file refuses the example body) and changes nothing else.

use std::sync::OnceLock;

use serde_json::{Value, json};

/// Which spec an erratum is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    V1,
    V2,
}

/// How an erratum is mended.
#[derive(Debug, Clone, Copy)]
pub enum Mend {
    /// The property may be null.
    Nullable,
    /// The `required` list becomes this one.
    Required(&'static [&'static str]),
    /// A property given as `allOf` loses that constraint (a sibling `allOf` member of the
    /// enclosing schema still constrains it).
    DropAllOf,
}

/// One erratum: in `api`, under the operations whose path template starts with `paths`,
/// every schema object with property `property` (or, for [`Mend::Required`], every schema
/// requiring `property`) is mended; `example` is a body the real API sends that the
/// unmended file refuses, checked against operation `example_op`.
pub struct Erratum {
    pub api: Api,
    pub paths: &'static str,
    pub property: &'static str,
    pub mend: Mend,
    pub reason: &'static str,
    pub example_op: (&'static str, &'static str, Part),
    pub example: Example,
}

/// The body an erratum's test sends through the unmended file.
#[derive(Debug, Clone, Copy)]
pub enum Example {
    Body(fn() -> Value),
    /// A v2 activity with the erratum's property null.
    ActivityNull,
    /// A `/v1/recents` item of this kind with the erratum's property null.
    RecentsNull(&'static str),
}

impl Erratum {
    pub fn example(&self) -> Value {
        match self.example {
            Example::Body(f) => f(),
            Example::ActivityNull => activity_v2(self.property),
            Example::RecentsNull(item) => recents_item(item, self.property),
        }
    }
}

/// Which body of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Request,
    Response(u16),
}

fn person_v2(k: &str, v: Value) -> Value {
    let mut p = json!({"id": 1, "name": "Ann Lee", "owner_id": 1, "org_id": 2,
                       "add_time": "2025-01-01T10:20:00Z", "update_time": "2025-01-01T10:20:00Z",
                       "emails": [], "phones": [], "is_deleted": false, "visible_to": 3,
                       "label_ids": [], "picture_id": 4, "custom_fields": {}});
    p[k] = v;
    json!({"success": true, "data": p, "additional_data": null})
}

fn activity_v2(k: &str) -> Value {
    let mut a = json!({"id": 1, "subject": "Call", "type": "call", "owner_id": 1,
                       "is_deleted": false, "done": false, "busy": false});
    a[k] = Value::Null;
    json!({"success": true, "data": a})
}

pub const ERRATA: &[Erratum] = &[
    Erratum {
        api: Api::V2,
        paths: "/persons",
        property: "title",
        mend: Mend::Required(&["name"]),
        reason: "POST /persons requires `title`, a property the body does not define; the API \
                 requires `name`",
        example_op: ("POST", "/persons", Part::Request),
        example: Example::Body(|| json!({"name": "Ann Lee"})),
    },
    Erratum {
        api: Api::V2,
        paths: "/organizations",
        property: "title",
        mend: Mend::Required(&["name"]),
        reason: "POST /organizations requires `title`, a property the body does not define; the \
                 API requires `name`",
        example_op: ("POST", "/organizations", Part::Request),
        example: Example::Body(|| json!({"name": "Acme"})),
    },
    Erratum {
        api: Api::V2,
        paths: "/",
        property: "next_cursor",
        mend: Mend::Nullable,
        reason: "the description says `next_cursor` is null on the last page; the type is a \
                 non-nullable string",
        example_op: ("GET", "/persons", Part::Response(200)),
        example: Example::Body(
            || json!({"success": true, "data": [], "additional_data": {"next_cursor": null}}),
        ),
    },
    Erratum {
        api: Api::V1,
        paths: "/",
        property: "next_cursor",
        mend: Mend::Nullable,
        reason: "a changelog's last page has `next_cursor: null` (as v2 lists do); the type is a \
                 non-nullable string",
        example_op: ("GET", "/persons/{id}/changelog", Part::Response(200)),
        example: Example::Body(
            || json!({"success": true, "data": [], "additional_data": {"next_cursor": null}}),
        ),
    },
    Erratum {
        api: Api::V2,
        paths: "/persons",
        property: "org_id",
        mend: Mend::Nullable,
        reason: "a person in no organization has `org_id: null`; the type is a non-nullable \
                 integer",
        example_op: ("GET", "/persons/{id}", Part::Response(200)),
        example: Example::Body(|| person_v2("org_id", Value::Null)),
    },
    Erratum {
        api: Api::V2,
        paths: "/persons",
        property: "picture_id",
        mend: Mend::Nullable,
        reason: "a person without a picture has `picture_id: null` (DIGEST §2.3); the type is a \
                 non-nullable integer",
        example_op: ("GET", "/persons/{id}", Part::Response(200)),
        example: Example::Body(|| person_v2("picture_id", Value::Null)),
    },
    Erratum {
        api: Api::V2,
        paths: "/organizations",
        property: "address",
        mend: Mend::Nullable,
        reason: "an organization without an address has `address: null`; the type is a \
                 non-nullable object",
        example_op: ("GET", "/organizations/{id}", Part::Response(200)),
        example: Example::Body(
            || json!({"success": true, "data": {"id": 1, "name": "Acme", "address": null}}),
        ),
    },
    activity_null("deal_id"),
    activity_null("lead_id"),
    activity_null("person_id"),
    activity_null("org_id"),
    activity_null("project_id"),
    activity_null("due_date"),
    activity_null("due_time"),
    activity_null("duration"),
    activity_null("marked_as_done_time"),
    activity_null("location"),
    activity_null("public_description"),
    activity_null("priority"),
    activity_null("note"),
    activity_null("conference_meeting_client"),
    activity_null("conference_meeting_url"),
    activity_null("conference_meeting_id"),
    Erratum {
        api: Api::V1,
        paths: "/",
        property: "field_type",
        mend: Mend::DropAllOf,
        reason: "a field is `allOf` a schema whose `field_type` is the creatable types and one \
                 whose `field_type` is the full list; the intersection refuses the built-in \
                 fields' `int`, `boolean` and `deal`, which the full list has",
        example_op: ("GET", "/personFields", Part::Response(200)),
        example: Example::Body(
            || json!({"success": true, "data": [{"id": 1, "key": "id", "name": "ID", "field_type": "int"}]}),
        ),
    },
    Erratum {
        api: Api::V1,
        paths: "/recents",
        property: "org_id",
        mend: Mend::Nullable,
        reason: "a person in no organization (and an activity with none) has `org_id: null`; \
                 the type is a non-nullable integer",
        example_op: ("GET", "/recents", Part::Response(200)),
        example: Example::RecentsNull("person"),
    },
    recents_null("activity", "deal_id"),
    recents_null("activity", "person_id"),
    recents_null("activity", "due_date"),
    recents_null("activity", "due_time"),
    recents_null("activity", "duration"),
    recents_null("activity", "note"),
    recents_null("activity", "public_description"),
    recents_null("organization", "address"),
];

/// An activity attribute the v2 spec types as non-nullable and the API leaves null when
/// unset (an activity with no deal, no due date, ...).
const fn activity_null(property: &'static str) -> Erratum {
    Erratum {
        api: Api::V2,
        paths: "/activities",
        property,
        mend: Mend::Nullable,
        reason: "an activity leaves this null when unset; the type is non-nullable",
        example_op: ("GET", "/activities/{id}", Part::Response(200)),
        example: Example::ActivityNull,
    }
}

/// A v1 recents attribute the spec types as non-nullable and the API leaves null when unset.
const fn recents_null(item: &'static str, property: &'static str) -> Erratum {
    Erratum {
        api: Api::V1,
        paths: "/recents",
        property,
        mend: Mend::Nullable,
        reason: "a v1 record leaves this null when unset; the type is non-nullable",
        example_op: ("GET", "/recents", Part::Response(200)),
        example: Example::RecentsNull(item),
    }
}

fn recents_item(item: &str, property: &str) -> Value {
    let mut data = json!({"id": 1, "active_flag": true});
    data[property] = Value::Null;
    json!({"success": true, "data": [{"item": item, "id": 1, "data": data}]})
}

struct Specs {
    v1: Value,
    v2: Value,
}

fn load(path: &str) -> Value {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/api-specs/pipedrive")
        .join(path);
    let text = std::fs::read_to_string(&full)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn raw_specs() -> &'static Specs {
    static RAW: OnceLock<Specs> = OnceLock::new();
    RAW.get_or_init(|| Specs {
        v1: load("pipedrive-api-v1.openapi.2026-04.yaml"),
        v2: load("pipedrive-api-v2.openapi.2026-04.yaml"),
    })
}

fn mended_specs() -> &'static Specs {
    static MENDED: OnceLock<Specs> = OnceLock::new();
    MENDED.get_or_init(|| {
        let raw = raw_specs();
        let (mut v1, mut v2) = (raw.v1.clone(), raw.v2.clone());
        for e in ERRATA {
            let spec = if e.api == Api::V1 { &mut v1 } else { &mut v2 };
            assert!(
                mend(spec, e),
                "erratum `{}` ({}) finds nothing to mend",
                e.property,
                e.paths
            );
        }
        Specs { v1, v2 }
    })
}

/// Applies one erratum to the operations it names; whether it changed anything.
fn mend(spec: &mut Value, e: &Erratum) -> bool {
    let mut changed = false;
    let paths = spec["paths"].as_object_mut().expect("paths");
    for (template, ops) in paths.iter_mut() {
        if template.starts_with(e.paths) {
            changed |= mend_in(ops, e);
        }
    }
    if let Some(schemas) = spec.pointer_mut("/components/schemas")
        && e.paths == "/"
    {
        changed |= mend_in(schemas, e);
    }
    changed
}

fn mend_in(node: &mut Value, e: &Erratum) -> bool {
    let mut changed = false;
    match node {
        Value::Object(m) => {
            if let Mend::Required(names) = e.mend
                && m.get("required")
                    .and_then(Value::as_array)
                    .is_some_and(|r| r.iter().any(|x| x == e.property))
            {
                m.insert("required".into(), json!(names));
                changed = true;
            }
            if let Some(p) = m
                .get_mut("properties")
                .and_then(|p| p.get_mut(e.property))
                .and_then(Value::as_object_mut)
            {
                match e.mend {
                    Mend::Nullable => {
                        p.insert("nullable".into(), json!(true));
                        changed = true;
                    }
                    Mend::DropAllOf => {
                        if p.remove("allOf").is_some() {
                            changed = true;
                        }
                    }
                    Mend::Required(_) => {}
                }
            }
            for v in m.values_mut() {
                changed |= mend_in(v, e);
            }
        }
        Value::Array(a) => {
            for v in a {
                changed |= mend_in(v, e);
            }
        }
        _ => {}
    }
    changed
}

/// The OpenAPI schema as JSON Schema: `$ref`s inlined, `nullable` as a `null` type.
fn convert(schema: &Value, root: &Value, depth: usize) -> Value {
    assert!(depth < 64, "schema nesting too deep (a $ref cycle?)");
    match schema {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                let target = root
                    .pointer(r.trim_start_matches('#'))
                    .unwrap_or_else(|| panic!("$ref `{r}` does not resolve"));
                return convert(target, root, depth + 1);
            }
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                match k.as_str() {
                    "example" | "examples" | "nullable" | "format" | "description" => {}
                    "properties" => {
                        let props = v
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(name, s)| (name.clone(), convert(s, root, depth + 1)))
                            .collect();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    _ => {
                        out.insert(k.clone(), convert(v, root, depth + 1));
                    }
                }
            }
            if m.get("nullable") == Some(&json!(true)) {
                if let Some(t) = out.get("type").and_then(Value::as_str) {
                    out.insert("type".into(), json!([t, "null"]));
                    if let Some(Value::Array(e)) = out.get_mut("enum") {
                        e.push(Value::Null);
                    }
                } else {
                    return json!({"anyOf": [Value::Object(out), {"type": "null"}]});
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| convert(v, root, depth + 1)).collect()),
        other => other.clone(),
    }
}

/// The spec and its path template for a request path (`/api/v2/persons/7` → v2,
/// `/persons/{id}`).
fn locate<'a>(specs: &'a Specs, path: &str) -> Option<(&'a Value, String)> {
    let (spec, rest) = if let Some(r) = path.strip_prefix("/api/v2") {
        (&specs.v2, r)
    } else if let Some(r) = path
        .strip_prefix("/api/v1")
        .or_else(|| path.strip_prefix("/v1"))
    {
        (&specs.v1, r)
    } else if path.starts_with("/oauth/") {
        // The v1 spec's OAuth operations, served by `oauth.pipedrive.com` there.
        (&specs.v1, path)
    } else {
        return None;
    };
    let paths = spec["paths"].as_object()?;
    if paths.contains_key(rest) {
        return Some((spec, rest.to_string()));
    }
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let template = paths.keys().find(|t| {
        let ts: Vec<&str> = t.split('/').filter(|s| !s.is_empty()).collect();
        ts.len() == segs.len()
            && ts
                .iter()
                .zip(&segs)
                .all(|(t, s)| t == s || (t.starts_with('{') && !segs.is_empty()))
            // A literal segment wins over a parameter (`/users/me` over `/users/{id}`).
            && !paths.keys().any(|other| {
                other != *t
                    && other.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>() == segs
            })
    })?;
    Some((spec, template.clone()))
}

fn schema_of(spec: &Value, template: &str, method: &str, part: Part) -> Option<Value> {
    let op = &spec["paths"][template][method.to_ascii_lowercase()];
    let node = match part {
        Part::Request => &op["requestBody"]["content"]["application/json"]["schema"],
        Part::Response(status) => {
            &op["responses"][status.to_string()]["content"]["application/json"]["schema"]
        }
    };
    (!node.is_null()).then(|| node.clone())
}

/// The common error schema for an error status no operation describes.
fn common_error(specs: &Specs, status: u16) -> Value {
    let (template, code) = if matches!(status, 401 | 429) {
        ("/users/me", 401)
    } else {
        ("/users/{id}", 404)
    };
    schema_of(&specs.v1, template, "GET", Part::Response(code)).expect("v1 error schemas")
}

/// Errors found checking `body` against the (mended, or raw) spec; `None` when the path is
/// in neither spec and the status is not an error.
pub fn errors_in(
    method: &str,
    path: &str,
    part: Part,
    body: &Value,
    raw: bool,
) -> Option<Vec<String>> {
    let specs = if raw { raw_specs() } else { mended_specs() };
    let located = locate(specs, path);
    let schema = located
        .as_ref()
        .and_then(|(spec, t)| schema_of(spec, t, method, part));
    let (schema, root) = match (schema, part) {
        (Some(s), _) => (s, located.map(|(spec, _)| spec).unwrap_or(&specs.v2)),
        (None, Part::Response(status)) if status >= 400 => (common_error(specs, status), &specs.v1),
        _ => return None,
    };
    let converted = convert(&schema, root, 0);
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(false)
        .build(&converted)
        .unwrap_or_else(|e| panic!("the schema of {method} {path} does not compile: {e}"));
    Some(
        validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect(),
    )
}

/// The path as its spec writes it, for the example checks: `/persons` → `/api/v2/persons`.
pub fn api_path(api: Api, template: &str) -> String {
    let concrete = template.replace("{id}", "1");
    match api {
        Api::V1 => format!("/v1{concrete}"),
        Api::V2 => format!("/api/v2{concrete}"),
    }
}
