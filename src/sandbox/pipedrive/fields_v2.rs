//! API v2 fields of persons, organizations and activities: `GET /api/v2/{kind}Fields`
//! (cursor-paged), `GET /api/v2/{kind}Fields/{field_code}` and `POST /api/v2/{kind}Fields`
//! (persons and organizations; the v2 spec has no activity field create). The same
//! catalogue as v1's, under v2's names: `key` → `field_code`, `name` → `field_name`,
//! `edit_flag` → `is_custom_field`. Built-in codes are the v2 attribute names (`emails`,
//! `phones` where v1 has `email`, `phone`).

use serde_json::{Value, json};

use super::envelope::{next_cursor, offset_page, ok};
use super::errors::{ApiError, bad_request, not_found};
use super::store::{Company, Field, Kind};
use super::v1::add_field;
use super::values::rfc3339;
use crate::sandbox::http::{HttpRequest, HttpResponse};

/// The field types `POST /api/v2/{kind}Fields` accepts (the spec's enum).
const CREATABLE: [&str; 16] = [
    "varchar",
    "text",
    "double",
    "phone",
    "date",
    "daterange",
    "time",
    "timerange",
    "set",
    "enum",
    "varchar_auto",
    "address",
    "monetary",
    "org",
    "people",
    "user",
];

/// Serves `/api/v2/{kind}Fields[/{field_code}]`; `None` when the method is not served there.
pub fn route(
    co: &mut Company,
    now: i64,
    me: i64,
    req: &HttpRequest,
    kind: Kind,
    code: Option<&str>,
) -> Option<HttpResponse> {
    let answer = match (req.method.as_str(), code) {
        ("GET", None) => list(co, kind, req),
        ("GET", Some(code)) => co
            .fields(kind)
            .iter()
            .find(|f| field_code(f) == code)
            .map(|f| ok(field_json(f), Value::Null))
            .ok_or_else(|| not_found("Field")),
        ("POST", None) if kind != Kind::Activities => create(co, kind, now, me, req),
        _ => return None,
    };
    Some(answer.unwrap_or_else(|e| e.response()))
}

/// A field's v2 code.
fn field_code(f: &Field) -> &str {
    match f.key.as_str() {
        "email" => "emails",
        "phone" => "phones",
        other => other,
    }
}

/// A field as v2 shows it.
fn field_json(f: &Field) -> Value {
    let options = f.options.as_ref().map(|opts| {
        opts.iter()
            .map(|o| {
                json!({"id": o.id, "label": o.label, "color": o.color,
                       "add_time": rfc3339(f.add_ms), "update_time": rfc3339(f.update_ms)})
            })
            .collect::<Vec<_>>()
    });
    json!({"field_name": f.name, "field_code": field_code(f), "field_type": f.field_type,
           "options": options, "subfields": null, "is_custom_field": f.custom,
           "is_optional_response_field": false})
}

/// A page of the catalogue: `limit` 1..=500 (default 100), `cursor` an opaque offset.
fn list(co: &Company, kind: Kind, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let (start, limit) = offset_page(req)?;
    let all = co.fields(kind);
    let page: Vec<Value> = all.iter().skip(start).take(limit).map(field_json).collect();
    let next = next_cursor(start, limit, all.len());
    Ok(ok(Value::Array(page), json!({"next_cursor": next})))
}

/// `POST /api/v2/{kind}Fields` `{field_name*, field_type*, options: [{label}]}`: the new
/// field, with its 40-hex-char `field_code`.
fn create(
    co: &mut Company,
    kind: Kind,
    now: i64,
    me: i64,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let b: Value = serde_json::from_slice(&req.body)
        .map_err(|_| bad_request("Validation failed: the body must be a JSON object"))?;
    let field_type = b["field_type"].as_str().unwrap_or_default();
    if !CREATABLE.contains(&field_type) {
        return Err(bad_request(format!(
            "Validation failed: field_type: must be one of {}",
            CREATABLE.join(", ")
        )));
    }
    let v1_body =
        json!({"name": b["field_name"], "field_type": field_type, "options": b["options"]});
    let f = add_field(co, kind, now, me, &v1_body)?;
    Ok(ok(field_json(&f), Value::Null))
}
