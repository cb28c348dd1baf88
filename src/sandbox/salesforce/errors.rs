//! Salesforce's error answers: the REST API's JSON array of `{message, errorCode, fields}`
//! (REST API Developer Guide, "Status Codes and Error Responses"), and the same error as an
//! item of a SaveResult (`{statusCode, message, fields}`) in sObject Collections.

use serde_json::{Value, json};

use crate::sandbox::http::{HttpRequest, HttpResponse};

/// One error with the status its call answers.
#[derive(Debug, Clone, PartialEq)]
pub struct SfError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub fields: Vec<String>,
}

impl SfError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        SfError {
            status,
            code: code.into(),
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub fn on(mut self, field: &str) -> Self {
        self.fields.push(field.to_string());
        self
    }

    /// The REST body: a one-element array.
    pub fn body(&self) -> Value {
        json!([{"message": self.message, "errorCode": self.code, "fields": self.fields}])
    }

    pub fn response(&self) -> HttpResponse {
        HttpResponse::json(self.status, &self.body())
    }

    /// The error as a SaveResult lists it.
    pub fn item(&self) -> Value {
        json!({"statusCode": self.code, "message": self.message, "fields": self.fields})
    }
}

impl From<SfError> for HttpResponse {
    fn from(e: SfError) -> Self {
        e.response()
    }
}

pub fn not_found() -> SfError {
    SfError::new(404, "NOT_FOUND", "The requested resource does not exist")
}

pub fn malformed_query(message: impl Into<String>) -> SfError {
    SfError::new(400, "MALFORMED_QUERY", message)
}

pub fn bad_json(detail: impl std::fmt::Display) -> SfError {
    SfError::new(
        400,
        "JSON_PARSER_ERROR",
        format!("Unexpected JSON: {detail}"),
    )
}

/// The 401 of a missing, expired or revoked session. Trailhead shows this body without
/// `fields`; the sandbox leaves it out too.
pub fn invalid_session() -> HttpResponse {
    HttpResponse::json(
        401,
        &json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
    )
}

/// The org's rolling 24-hour allocation is spent. Salesforce answers 403, never 429; the
/// message wording is the commonly reported one (unconfirmed).
pub fn limit_exceeded() -> SfError {
    SfError::new(
        403,
        "REQUEST_LIMIT_EXCEEDED",
        "TotalRequests Limit exceeded.",
    )
}

/// A path no route serves.
pub fn no_route(_req: &HttpRequest) -> HttpResponse {
    not_found().response()
}

/// An injected server failure: Salesforce's 500 body is the error array with
/// `UNKNOWN_EXCEPTION`; 502 and 503 come from the edge as an HTML page (unconfirmed wording).
pub fn server_error(status: u16) -> HttpResponse {
    if status == 500 {
        return SfError::new(
            500,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567-89 (-1)",
        )
        .response();
    }
    HttpResponse {
        status,
        headers: vec![("Content-Type".into(), "text/html".into())],
        body: format!("<html><body><h1>{status}</h1>Service Unavailable</body></html>")
            .into_bytes(),
    }
}
