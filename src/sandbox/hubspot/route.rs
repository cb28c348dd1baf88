//! The way into the HubSpot API once a call drew no fault: OAuth, the account details, and for
//! `/crm/...` authentication → OAuth scope check → rate limits → the endpoint
//! ([`super::api::route`]).
//!
//! Authentication: the private-app token (given or generated) has every scope and carries the
//! daily-limit headers; OAuth access tokens carry the scopes granted at `/oauth/authorize`
//! and get 403 `MISSING_SCOPES` without the one a call needs (`crm.objects.{type}.read|write`,
//! `crm.schemas.{type}.read|write`, `crm.objects.owners.read`).

use serde_json::json;

use super::errors::{error, no_route};
use super::store::ObjType;
use super::{Shared, api, limits, oauth};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::uuid;

const AUTH_MISSING: &str = "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview";

/// The authenticated caller of an API call.
pub struct Caller {
    pub token: String,
    /// The app the token belongs to: HubSpot's ten-secondly limit is per app (a private
    /// app, or an OAuth app in this account), so every token of one app shares its window.
    pub app: String,
    pub private_app: bool,
    /// Granted OAuth scopes; `None` for the private-app token, which has them all.
    pub scopes: Option<Vec<String>>,
}

/// Serves a call; `None` when no route matches it.
pub fn route(shared: &Shared, req: &HttpRequest) -> Option<HttpResponse> {
    let segs = req.segments();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    if segs.first() == Some(&"oauth") {
        return oauth::handle(shared, req, &segs);
    }
    if segs == ["account-info", "v3", "details"] && req.method == "GET" {
        return Some(account_details(shared, req));
    }
    if segs.first() == Some(&"webhooks") {
        return super::webhooks::api(shared, req, &segs);
    }
    if segs.first() != Some(&"crm") {
        return None;
    }
    let caller = match authenticate(shared, req) {
        Ok(c) => c,
        Err(resp) => return Some(resp),
    };
    if let Some(granted) = &caller.scopes
        && let Some(needed) = required_scope(req, &segs)
        && !granted.contains(&needed)
    {
        return Some(missing_scope(&needed));
    }
    let is_search = req.method == "POST" && segs.last() == Some(&"search");
    let mut hub = shared.api.lock();
    let quota = match limits::admit(&mut hub.rate, &caller, is_search) {
        Ok(quota) => quota,
        Err(refused) => return Some(refused),
    };
    let now = shared.clock.now_ms();
    let resp = api::route(&mut hub, now, req, &segs[1..]).unwrap_or_else(|| no_route(req));
    Some(quota.headers(resp))
}

/// Account Information API (`GET /account-info/v3/details`): the portal the token belongs to.
/// Counted against the rate limit like any other call.
fn account_details(shared: &Shared, req: &HttpRequest) -> HttpResponse {
    if let Err(resp) = authenticate(shared, req) {
        return resp;
    }
    HttpResponse::json(
        200,
        &json!({
            "portalId": shared.api.opts.hub_id(),
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18_000_000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1"
        }),
    )
}

/// The OAuth scope a `/crm/...` call needs. Read and write scopes are distinct: a token
/// granted only `…write` cannot read.
fn required_scope(req: &HttpRequest, segs: &[&str]) -> Option<String> {
    let reads = req.method == "GET"
        || (req.method == "POST" && matches!(segs.last(), Some(&"search") | Some(&"read")));
    let access = if reads { "read" } else { "write" };
    // Engagements are gated by the contacts scopes, as HubSpot's are.
    let plural = |t: &str| match ObjType::parse(t) {
        Some(o) if o.is_engagement() => "contacts".to_string(),
        Some(o) => o.plural().to_string(),
        None => t.to_string(),
    };
    match segs {
        ["crm", "v3", "owners", ..] => Some("crm.objects.owners.read".into()),
        ["crm", "v3", "pipelines", t, ..] => Some(format!("crm.objects.{}.read", plural(t))),
        ["crm", "v3", "properties", t, ..] => Some(format!("crm.schemas.{}.{access}", plural(t))),
        ["crm", "v3", "objects", t, ..]
        | ["crm", "v4", "objects", t, ..]
        | ["crm", "v4", "associations", t, ..] => {
            Some(format!("crm.objects.{}.{access}", plural(t)))
        }
        _ => None,
    }
}

fn missing_scope(needed: &str) -> HttpResponse {
    HttpResponse::json(
        403,
        &json!({
            "status": "error",
            "message": "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
            "correlationId": uuid(),
            "errors": [{"message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": [needed]}}],
            "links": {"scopes": "https://developers.hubspot.com/scopes"},
            "category": "MISSING_SCOPES",
        }),
    )
}

fn authenticate(shared: &Shared, req: &HttpRequest) -> Result<Caller, HttpResponse> {
    let Some(token) = req
        .header("authorization")
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
    else {
        return Err(error(401, "INVALID_AUTHENTICATION", AUTH_MISSING));
    };
    if token == shared.api.token {
        return Ok(Caller {
            token: token.to_string(),
            app: "private-app".to_string(),
            private_app: true,
            scopes: None,
        });
    }
    let now = shared.clock.now_ms();
    let access = shared.api.lock().oauth.access(token);
    match access {
        Some((expires, scopes)) if expires > now => Ok(Caller {
            token: token.to_string(),
            app: format!("oauth-app {}", shared.api.opts.client_id),
            private_app: false,
            scopes: Some(scopes),
        }),
        Some((expires, _)) => {
            let minutes = (now - expires) / 60_000;
            Err(error(
                401,
                "EXPIRED_AUTHENTICATION",
                &format!("The OAuth token used to make this call expired {minutes} minute(s) ago."),
            ))
        }
        None => Err(error(401, "INVALID_AUTHENTICATION", AUTH_MISSING)),
    }
}
