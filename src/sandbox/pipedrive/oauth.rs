//! Pipedrive's OAuth 2.0 authorization-code flow, as the v1 spec's `/oauth/*` operations
//! give it (served on the sandbox's own host, where Pipedrive uses `oauth.pipedrive.com`):
//!
//! * `GET /oauth/authorize?client_id&redirect_uri&state`: the browser step; the sandbox's
//!   user consents at once and is sent back to `redirect_uri?code=…&state=…`;
//! * `POST /oauth/token` (`grant_type=authorization_code&code&redirect_uri`) and
//!   `POST /oauth/token/` (`grant_type=refresh_token&refresh_token`), the client credentials
//!   in `Authorization: Basic`: `{access_token, token_type, refresh_token, scope, expires_in,
//!   api_domain}`, `api_domain` being the sandbox's base URL;
//! * `POST /oauth/revoke` (RFC 7009; Pipedrive's developer documentation, "Handling user app
//!   uninstallation" → "Token revocation", not the v1 spec, which does not list it):
//!   `token=…&token_type_hint=refresh_token|access_token`, the client credentials in
//!   `Authorization: Basic` (401 `invalid_client` otherwise, as at the token endpoint). A
//!   refresh token is revoked with its whole grant: every refresh token rotated from the same
//!   sign-in and every access token minted from them stop working; an access token is revoked
//!   alone. An unknown token is not an error (RFC 7009 §2.2), so a revoke can be repeated.
//!
//! Chosen where the documents are silent (unconfirmed): a refresh keeps the refresh token
//! (its 60-day idle clock is not kept), unless `rotate_refresh_tokens` is set, when it answers
//! with a new one and voids the old; a code lives 5 minutes and serves once; error bodies
//! are `{success: false, error: <RFC 6749 code>, message}`, 401 for bad client credentials
//! and 400 otherwise. PKCE is not supported (the DIGEST finds it nowhere).

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::json;

use super::{Pipedrive, PipedriveSandbox, Shared};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::server::CrmApi;
use crate::sandbox::uuid;

/// The scopes every app of the sandbox is registered with (Pipedrive sets scopes on the app,
/// not in the authorize URL).
pub const SCOPES: &str = "base,contacts:full,activities:full,users:read,recents:read,admin";

#[derive(Debug, Default)]
pub struct OAuthState {
    /// code → (redirect_uri, expiry ms).
    codes: HashMap<String, (String, i64)>,
    /// access token → (expiry ms, the grant it was minted from).
    access: HashMap<String, (i64, u64)>,
    /// refresh token → its grant: the sign-in it came from, kept by a rotated token.
    refresh: HashMap<String, u64>,
    /// Grants (sign-ins) issued so far.
    grants: u64,
    /// The status `POST /oauth/revoke` answers with, revoking nothing, while set (an outage of
    /// the OAuth server; see [`PipedriveSandbox::fail_revocations`]).
    revoke_failure: Option<u16>,
}

impl OAuthState {
    /// Whether `token` is an access token, and if so its expiry (ms).
    pub fn access_expiry(&self, token: &str) -> Option<i64> {
        self.access.get(token).map(|(expiry, _)| *expiry)
    }

    /// Starts a grant (a sign-in's code exchanged).
    fn new_grant(&mut self) -> u64 {
        self.grants += 1;
        self.grants
    }

    /// Issues a refresh token of `grant` (the form of Pipedrive's example, `1:<hex>`).
    fn new_refresh_token(&mut self, grant: u64) -> String {
        let refresh = format!("{}:{}", 1, uuid().replace('-', ""));
        self.refresh.insert(refresh.clone(), grant);
        refresh
    }

    /// Revokes `token`: a refresh token with its whole grant, an access token alone; an
    /// unknown one changes nothing.
    fn revoke(&mut self, token: &str) {
        if let Some(grant) = self.refresh.get(token).copied() {
            self.refresh.retain(|_, g| *g != grant);
            self.access.retain(|_, (_, g)| *g != grant);
        } else {
            self.access.remove(token);
        }
    }
}

impl PipedriveSandbox {
    /// Makes `POST /oauth/revoke` answer `status` (a 5xx: Pipedrive's OAuth server failing)
    /// and revoke nothing, until called with `None`.
    pub fn fail_revocations(&self, status: Option<u16>) {
        self.shared().api.lock().oauth.revoke_failure = status;
    }
}

fn oauth_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::json(
        status,
        &json!({"success": false, "error": code, "message": message}),
    )
}

/// Serves `/oauth/...`; `None` when no route matches.
pub fn handle(shared: &Shared, req: &HttpRequest, segs: &[&str]) -> Option<HttpResponse> {
    Some(match (req.method.as_str(), segs) {
        ("GET", ["oauth", "authorize"]) => authorize(shared, req),
        ("POST", ["oauth", "token"]) => token(shared, req),
        ("POST", ["oauth", "revoke"]) => revoke(shared, req),
        _ => return None,
    })
}

fn authorize(shared: &Shared, req: &HttpRequest) -> HttpResponse {
    let opts = &shared.api.opts;
    if req.query_param("client_id") != Some(opts.client_id.as_str()) {
        return oauth_error(400, "invalid_client", "Unknown client_id");
    }
    let Some(redirect) = req.query_param("redirect_uri") else {
        return oauth_error(400, "invalid_request", "redirect_uri is required");
    };
    let code = uuid();
    let expires = shared.clock.now_ms() + 5 * 60_000;
    shared
        .api
        .lock()
        .oauth
        .codes
        .insert(code.clone(), (redirect.to_string(), expires));
    let mut location = url::Url::parse(redirect)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| redirect.to_string());
    location.push(if location.contains('?') { '&' } else { '?' });
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("code", &code);
    if let Some(state) = req.query_param("state") {
        query.append_pair("state", state);
    }
    location.push_str(&query.finish());
    HttpResponse::empty(302).with_header("Location", location)
}

/// Whether the Basic credentials are the app's.
fn client_ok(shared: &Shared, req: &HttpRequest) -> bool {
    let opts = &shared.api.opts;
    req.header("authorization")
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .is_some_and(|pair| pair == format!("{}:{}", opts.client_id, opts.client_secret))
}

fn token(shared: &Shared, req: &HttpRequest) -> HttpResponse {
    if !client_ok(shared, req) {
        return oauth_error(401, "invalid_client", "Invalid client credentials");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let now = shared.clock.now_ms();
    let mut co = shared.api.lock();
    let (refresh, grant) = match field("grant_type") {
        "authorization_code" => match co.oauth.codes.remove(field("code")) {
            Some((redirect, expires)) if expires > now && redirect == field("redirect_uri") => {
                let grant = co.oauth.new_grant();
                (co.oauth.new_refresh_token(grant), grant)
            }
            _ => return oauth_error(400, "invalid_grant", "Invalid authorization code"),
        },
        "refresh_token" => match co.oauth.refresh.get(field("refresh_token")).copied() {
            Some(grant) if shared.api.opts.rotate_refresh_tokens => {
                co.oauth.refresh.remove(field("refresh_token"));
                (co.oauth.new_refresh_token(grant), grant)
            }
            Some(grant) => (field("refresh_token").to_string(), grant),
            None => return oauth_error(400, "invalid_grant", "Invalid refresh token"),
        },
        _ => return oauth_error(400, "unsupported_grant_type", "Unsupported grant_type"),
    };
    let access = format!("v1u:{}", uuid().replace('-', ""));
    let ttl = shared.api.opts.access_token_ttl_secs;
    co.oauth
        .access
        .insert(access.clone(), (now + ttl * 1000, grant));
    HttpResponse::json(
        200,
        &json!({"access_token": access, "token_type": "Bearer", "refresh_token": refresh,
                "scope": SCOPES, "expires_in": ttl, "api_domain": co.base_url}),
    )
}

/// `POST /oauth/revoke` (see the module's notes): 200 with no body once the token is revoked.
fn revoke(shared: &Shared, req: &HttpRequest) -> HttpResponse {
    if let Some(status) = shared.api.lock().oauth.revoke_failure {
        return Pipedrive::server_error(status);
    }
    if !client_ok(shared, req) {
        return oauth_error(401, "invalid_client", "Invalid client credentials");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect();
    let Some(token) = form.get("token").filter(|t| !t.is_empty()) else {
        return oauth_error(400, "invalid_request", "token is required");
    };
    shared.api.lock().oauth.revoke(token);
    HttpResponse::empty(200)
}
