//! HubSpot's error answers: the `{status, message, correlationId, category}` body, and
//! [`ApiError`], an error with its status that an endpoint returns whole or lists in a batch
//! answer's `errors[]`.

use serde_json::{Value, json};

use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::uuid;

/// A HubSpot error answer: `{status, message, correlationId, category}`.
pub fn error(status: u16, category: &str, message: &str) -> HttpResponse {
    HttpResponse::json(status, &error_body(category, message))
}

pub fn error_body(category: &str, message: &str) -> Value {
    json!({"status": "error", "message": message, "correlationId": uuid(), "category": category})
}

/// The answer to a call no route serves.
pub fn no_route(req: &HttpRequest) -> HttpResponse {
    error(
        404,
        "OBJECT_NOT_FOUND",
        &format!("no route for {} {}", req.method, req.path),
    )
}

/// An error with its HTTP status and HubSpot body, usable whole or inside `errors[]`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub body: Value,
}

impl ApiError {
    pub fn new(status: u16, category: &str, message: &str) -> Self {
        ApiError {
            status,
            body: error_body(category, message),
        }
    }

    pub fn response(&self) -> HttpResponse {
        HttpResponse::json(self.status, &self.body)
    }

    pub fn message(&self) -> String {
        self.body["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub fn bad_request(message: &str) -> ApiError {
    ApiError::new(400, "VALIDATION_ERROR", message)
}

/// One invalid property value, in the shape HubSpot embeds in a VALIDATION_ERROR message.
pub fn invalid(name: &str, code: &str, message: &str) -> Value {
    json!({"isValid": false, "message": message, "error": code, "name": name,
           "localizedErrorMessage": message})
}

pub fn validation_error(items: Vec<Value>) -> ApiError {
    let message = format!(
        "Property values were not valid: {}",
        serde_json::to_string(&items).unwrap_or_default()
    );
    let mut e = bad_request(&message);
    e.body["errors"] = Value::Array(
        items
            .iter()
            .map(|i| {
                json!({"message": i["message"], "code": i["error"],
                       "context": {"propertyName": [i["name"]]}})
            })
            .collect(),
    );
    e
}

pub fn not_found() -> ApiError {
    ApiError::new(404, "OBJECT_NOT_FOUND", "resource not found")
}
