//! Pipedrive's error answers: `{success: false, error, error_info, data: null,
//! additional_data: null}` (the v1 spec's `failResponse`, and the 400/403/404 bodies of the
//! older v1 spec), and the 401 and 429 bodies, which carry `errorCode` as the v1 spec's
//! `unathorizedResponse` does.

use serde_json::{Value, json};

use crate::sandbox::http::{HttpRequest, HttpResponse};

/// The `error_info` every Pipedrive error carries.
pub const ERROR_INFO: &str =
    "Please check developers.pipedrive.com for more information about Pipedrive API.";

/// An error with its HTTP status, as an endpoint returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub error: String,
}

impl ApiError {
    pub fn new(status: u16, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
        }
    }

    pub fn body(&self) -> Value {
        json!({"success": false, "error": self.error, "error_info": ERROR_INFO,
               "data": null, "additional_data": null})
    }

    pub fn response(&self) -> HttpResponse {
        HttpResponse::json(self.status, &self.body())
    }
}

pub fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(400, message)
}

/// `Person not found` and the like.
pub fn not_found(what: &str) -> ApiError {
    ApiError::new(404, format!("{what} not found"))
}

/// An error that also carries `errorCode` (401, 429): the shape of the v1 spec's
/// `unathorizedResponse`, plus the common `error_info`.
pub fn coded(status: u16, message: &str) -> HttpResponse {
    HttpResponse::json(
        status,
        &json!({"success": false, "error": message, "errorCode": status,
                "error_info": ERROR_INFO, "data": null, "additional_data": null}),
    )
}

/// A call without a valid API token.
pub fn unauthorized() -> HttpResponse {
    coded(401, "unauthorized access")
}

/// The answer to a path no route serves. The spec describes no body for it; the common error
/// body is used (unconfirmed wording).
pub fn no_route(req: &HttpRequest) -> HttpResponse {
    ApiError::new(404, format!("Unknown method {} {}", req.method, req.path)).response()
}
