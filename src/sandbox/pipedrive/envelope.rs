//! The success envelope `{success, data, additional_data}` and the opaque offset cursors of
//! the lists that page by cursor without a sort (v2 fields, v1 changelogs).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::errors::{ApiError, bad_request};
use crate::sandbox::http::{HttpRequest, HttpResponse};

/// `200 {success: true, data, additional_data}`.
pub fn ok(data: Value, additional: Value) -> HttpResponse {
    HttpResponse::json(
        200,
        &json!({"success": true, "data": data, "additional_data": additional}),
    )
}

/// A page's place from `limit` (1..=500, default 100) and `cursor` (made by
/// [`next_cursor`]): `(start, limit)`.
pub fn offset_page(req: &HttpRequest) -> Result<(usize, usize), ApiError> {
    let limit = match req.query_param("limit") {
        None => 100,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| bad_request("Validation failed: limit: must be between 1 and 500"))?,
    };
    let start = match req.query_param("cursor") {
        None => 0,
        Some(c) => URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| bad_request("Invalid cursor"))?,
    };
    Ok((start, limit))
}

/// The cursor of the page after `(start, limit)` of `total` items; `None` on the last page.
pub fn next_cursor(start: usize, limit: usize, total: usize) -> Option<String> {
    (start + limit < total).then(|| URL_SAFE_NO_PAD.encode(format!("offset:{}", start + limit)))
}
