//! The way into the Pipedrive API once a call drew no fault: authentication → rate limits
//! → the endpoint (API v2 records in `records.rs`, API v2 fields in `fields_v2.rs`, API v1
//! in `v1.rs`).
//!
//! Paths: API v2 only under `/api/v2/...`; API v1 under `/v1/...` and `/api/v1/...` (the
//! migration guide). Authentication is the API token, in the `x-api-token` header (the specs'
//! `api_key` scheme) or the `api_token` query parameter (which the DIGEST calls v1-only from
//! third-party sources; the sandbox takes it on both, as the task asks, so clients of either
//! habit work), or an OAuth access token in `Authorization: Bearer …` (`oauth.rs`), until it
//! expires by the sandbox clock. Either way the caller is user 1, the company's admin.

use super::errors::{no_route, unauthorized};
use super::store::Company;
use super::store::Kind;
use super::{Shared, fields_v2, limits, oauth, records, search, v1, webhooks};
use crate::sandbox::http::{HttpRequest, HttpResponse};

/// Splits a path into the API version and the segments after it.
pub fn version<'a>(segs: &'a [&'a str]) -> Option<(&'a str, &'a [&'a str])> {
    match segs {
        ["api", v @ ("v1" | "v2"), rest @ ..] => Some((v, rest)),
        ["v1", rest @ ..] => Some(("v1", rest)),
        _ => None,
    }
}

/// Serves a call; `None` when no route matches it.
pub fn route(shared: &Shared, req: &HttpRequest) -> Option<HttpResponse> {
    let owned = req.segments();
    let segs: Vec<&str> = owned.iter().map(String::as_str).collect();
    if segs.first() == Some(&"oauth") {
        return oauth::handle(shared, req, &segs);
    }
    let (ver, rest) = version(&segs)?;
    let now = shared.clock.now_ms();
    let mut co = shared.api.lock();
    let Some((token, is_oauth)) = authenticate(shared, &co, req, now) else {
        return Some(unauthorized());
    };
    let me = 1;
    let cost = limits::token_cost(&req.method, ver, rest);
    let quota = match limits::admit(&mut co.rate, &token, is_oauth, cost, now) {
        Ok(q) => q,
        Err(refused) => return Some(refused),
    };
    let resp = match (ver, rest) {
        ("v2", [k]) if k.ends_with("Fields") => {
            Kind::parse(k).and_then(|kind| fields_v2::route(&mut co, now, me, req, kind, None))
        }
        ("v2", [k, code]) if k.ends_with("Fields") => Kind::parse(k)
            .and_then(|kind| fields_v2::route(&mut co, now, me, req, kind, Some(code))),
        ("v2", [k]) => {
            Kind::from_v2(k).and_then(|kind| records::route(&mut co, now, me, req, kind, None))
        }
        ("v2", [k, "search"]) => Kind::from_v2(k).and_then(|kind| search::route(&co, kind, req)),
        ("v2", [k, id]) => {
            Kind::from_v2(k).and_then(|kind| records::route(&mut co, now, me, req, kind, Some(id)))
        }
        ("v1", ["webhooks", rest @ ..]) => webhooks::route(&mut co, now, me, req, rest),
        ("v1", rest) => v1::route(&mut co, now, me, req, rest),
        _ => None,
    }
    .unwrap_or_else(|| no_route(req));
    Some(quota.headers(resp))
}

/// The caller's token and whether it is an OAuth access token; `None` when the call carries
/// no valid one.
fn authenticate(
    shared: &Shared,
    co: &Company,
    req: &HttpRequest,
    now: i64,
) -> Option<(String, bool)> {
    let api_token = req
        .header("x-api-token")
        .or_else(|| req.query_param("api_token"))
        .map(str::trim);
    if api_token == Some(shared.api.token.as_str()) {
        return Some((shared.api.token.clone(), false));
    }
    let bearer = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)?;
    co.oauth
        .access_expiry(bearer)
        .filter(|expires| *expires > now)
        .map(|_| (bearer.to_string(), true))
}
