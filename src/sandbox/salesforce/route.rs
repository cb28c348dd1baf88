//! The way into the org once a call drew no fault: the login host's OAuth calls; then, under
//! `/services/data/`, the version, the session, the API allocation and the endpoint.
//!
//! `GET /services/data/` lists the versions without a session and without counting
//! against the allocation (DIGEST §3.1). Every other call under a listed version needs
//! `Authorization: Bearer <access token>` of a live session (401 `INVALID_SESSION_ID`
//! otherwise), counts one call against the org's rolling 24-hour allocation (403
//! `REQUEST_LIMIT_EXCEEDED` once it is spent; the refused call does not count), and
//! carries `Sforce-Limit-Info: api-usage=N/M` (unconfirmed: whether `GET limits` itself
//! counts; here it does).

use serde_json::{Value, json};

use super::errors::{SfError, invalid_session, limit_exceeded, malformed_query, no_route};
use super::store::Org;
use super::{Shared, bulk, composite, oauth, query, sobjects, soql, tooling};
use crate::sandbox::http::{HttpRequest, HttpResponse};

/// The versions `GET /services/data/` lists, with their releases.
pub const VERSIONS: [(&str, &str); 9] = [
    ("59.0", "Winter '24"),
    ("60.0", "Spring '24"),
    ("61.0", "Summer '24"),
    ("62.0", "Winter '25"),
    ("63.0", "Spring '25"),
    ("64.0", "Summer '25"),
    ("65.0", "Winter '26"),
    ("66.0", "Spring '26"),
    ("67.0", "Summer '26"),
];

/// The version a path segment (`v62.0`) names, if the org serves it.
fn version(seg: &str) -> Option<&'static str> {
    let v = seg.strip_prefix('v')?;
    VERSIONS.iter().map(|(v, _)| *v).find(|known| *known == v)
}

fn versions() -> HttpResponse {
    let list: Vec<Value> = VERSIONS
        .iter()
        .map(|(v, label)| json!({"label": label, "url": format!("/services/data/v{v}"), "version": v}))
        .collect();
    HttpResponse::json(200, &Value::Array(list))
}

/// Serves a call; `None` when no route matches it.
pub fn route(shared: &Shared, req: &HttpRequest) -> Option<HttpResponse> {
    let owned = req.segments();
    let segs: Vec<&str> = owned.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["services", "oauth2", ..] => oauth::handle(shared, req, &segs),
        ["services", "data"] if req.method == "GET" => Some(versions()),
        ["services", "data", v, rest @ ..] => {
            let Some(v) = version(v) else {
                return Some(no_route(req));
            };
            Some(api_call(shared, req, v, rest))
        }
        _ => None,
    }
}

fn api_call(shared: &Shared, req: &HttpRequest, version: &str, rest: &[&str]) -> HttpResponse {
    let now = shared.clock.now_ms();
    let opts = &shared.api.opts;
    let mut org = shared.api.lock();
    let token = req
        .header("authorization")
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("OAuth "))
        })
        .map(str::trim)
        .unwrap_or_default();
    if !org
        .oauth
        .use_session(token, now, opts.session_timeout_secs * 1000)
    {
        return invalid_session();
    }
    let max = org.allocation.max;
    let used = match org.allocation.admit(now) {
        Ok(used) => used,
        Err(used) => {
            return limit_exceeded()
                .response()
                .with_header("Sforce-Limit-Info", format!("api-usage={used}/{max}"));
        }
    };
    let answer = endpoint(&mut org, now, req, version, rest, opts.bulk_polls)
        .unwrap_or_else(|| Ok(no_route(req)))
        .unwrap_or_else(|e| e.response());
    answer.with_header("Sforce-Limit-Info", format!("api-usage={used}/{max}"))
}

fn endpoint(
    org: &mut Org,
    now: i64,
    req: &HttpRequest,
    version: &str,
    rest: &[&str],
    bulk_polls: u32,
) -> Option<Result<HttpResponse, SfError>> {
    let method = req.method.as_str();
    let ok = |v: Value| Ok(HttpResponse::json(200, &v));
    Some(match (method, rest) {
        ("GET", []) => ok(resources(version)),
        ("GET", ["limits"]) => ok(limits(org, now)),
        (_, ["sobjects", more @ ..]) => return sobjects::route(org, now, req, version, more),
        ("GET", [which @ ("query" | "queryAll")]) => {
            run_query(org, now, req, version, *which == "queryAll")
        }
        ("GET", ["query" | "queryAll", locator]) => {
            let batch = query::batch_size(org, req.header("sforce-query-options"));
            query::next_page(org, locator, batch).map(|v| HttpResponse::json(200, &v))
        }
        ("POST", ["composite", "sobjects"]) => composite::create(org, now, req),
        ("PATCH", ["composite", "sobjects"]) => composite::update(org, now, req),
        ("DELETE", ["composite", "sobjects"]) => composite::delete(org, now, req),
        ("PATCH", ["composite", "sobjects", obj, field]) => {
            composite::upsert(org, now, req, obj, field)
        }
        ("POST", ["tooling", "sobjects", "CustomField"]) => {
            tooling::create(org, req).map(|v| HttpResponse::json(201, &v))
        }
        ("POST", ["jobs", "query"]) => bulk::create(org, now, req, version),
        ("GET", ["jobs", "query", id]) => bulk::poll(org, now, id, bulk_polls),
        ("DELETE", ["jobs", "query", id]) => bulk::delete(org, id),
        ("GET", ["jobs", "query", id, "results"]) => bulk::results(org, id, req),
        _ => return None,
    })
}

fn run_query(
    org: &mut Org,
    now: i64,
    req: &HttpRequest,
    version: &str,
    all: bool,
) -> Result<HttpResponse, SfError> {
    let q = req
        .query_param("q")
        .ok_or_else(|| malformed_query("a query is required: ?q=SELECT …"))?;
    let parsed = soql::parse(q)?;
    let rows = query::run(org, &parsed, version, all, now)?;
    let batch = query::batch_size(org, req.header("sforce-query-options"));
    Ok(HttpResponse::json(
        200,
        &query::first_page(org, rows, version, batch),
    ))
}

fn resources(version: &str) -> Value {
    let base = format!("/services/data/v{version}");
    json!({
        "sobjects": format!("{base}/sobjects"), "query": format!("{base}/query"),
        "queryAll": format!("{base}/queryAll"), "limits": format!("{base}/limits"),
        "composite": format!("{base}/composite"), "tooling": format!("{base}/tooling"),
        "jobs": format!("{base}/jobs"),
    })
}

/// `GET limits`: the daily allocation (the other limits an org has are not kept).
fn limits(org: &mut Org, now: i64) -> Value {
    let max = org.allocation.max;
    let used = org.allocation.used(now);
    json!({"DailyApiRequests": {"Max": max, "Remaining": max.saturating_sub(used)}})
}
