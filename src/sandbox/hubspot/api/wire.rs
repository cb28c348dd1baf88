//! What the endpoints read from a call (its JSON body, object type, ids, flags) and the shape
//! of a batch answer.

use serde_json::{Value, json};

use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::hubspot::errors::{ApiError, bad_request};
use crate::sandbox::hubspot::store::ObjType;
use crate::sandbox::iso_ms;

/// HubSpot's batch size limit.
pub const MAX_BATCH: usize = 100;

pub fn parse_body(req: &HttpRequest) -> Result<Value, ApiError> {
    serde_json::from_slice(&req.body).map_err(|e| {
        bad_request(&format!(
            "Invalid input JSON on line {}, column {}: {}",
            e.line(),
            e.column(),
            e
        ))
    })
}

pub fn obj_type(s: &str) -> Result<ObjType, ApiError> {
    ObjType::parse(s).ok_or_else(|| {
        ApiError::new(
            400,
            "VALIDATION_ERROR",
            &format!("Unable to infer object type from: {s}"),
        )
    })
}

pub fn inputs(body: &Value) -> Result<Vec<Value>, ApiError> {
    let inputs = body
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_request("Invalid input JSON: `inputs` is required"))?;
    if inputs.len() > MAX_BATCH {
        return Err(bad_request(&format!(
            "Batch input size {} is more than the allowed maximum of {MAX_BATCH}",
            inputs.len()
        )));
    }
    Ok(inputs.clone())
}

pub fn id_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

pub fn batch_response(
    status: u16,
    results: Vec<Value>,
    errors: Vec<Value>,
    started: i64,
    now: i64,
) -> HttpResponse {
    let mut body = json!({"status": "COMPLETE", "results": results,
                          "startedAt": iso_ms(started), "completedAt": iso_ms(now)});
    if errors.is_empty() {
        HttpResponse::json(status, &body)
    } else {
        body["numErrors"] = json!(errors.len());
        body["errors"] = Value::Array(errors);
        HttpResponse::json(207, &body)
    }
}

pub fn archived_flag(req: &HttpRequest) -> bool {
    req.query_param("archived")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub fn assoc_list(req: &HttpRequest) -> Vec<ObjType> {
    req.query_list("associations")
        .iter()
        .filter_map(|s| ObjType::parse(s))
        .collect()
}

/// The strings of a body's array field (`properties`, `propertiesWithHistory`); none when it
/// is absent.
pub fn strings(body: &Value, key: &str) -> Vec<String> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
