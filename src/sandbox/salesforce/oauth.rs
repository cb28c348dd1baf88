//! The login host's OAuth 2.0 endpoints, served on the sandbox's own host (where Salesforce
//! has `login.salesforce.com`, `test.salesforce.com` or a My Domain): the web-server flow
//! with PKCE, refresh, revoke, and the sessions the tokens open.
//!
//! * `GET /services/oauth2/authorize?response_type=code&client_id&redirect_uri&state&scope
//!   &code_challenge[&code_challenge_method=S256]`: the browser step; the sandbox's user
//!   signs in and allows at once, and is sent back to `redirect_uri?code=…&state=…`.
//! * `POST /services/oauth2/token`, form-encoded: `grant_type=authorization_code` with
//!   `code`, `client_id`, `redirect_uri`, `code_verifier` (and `client_secret`), or
//!   `grant_type=refresh_token` with `refresh_token` and `client_id`. The answer has
//!   `access_token`, `instance_url` (the sandbox's base URL), `id` (the identity URL),
//!   `token_type`, `issued_at` (epoch ms as a string), `signature` (base64 HMAC-SHA256 of
//!   `id` + `issued_at` keyed by the client secret) and `scope`; `refresh_token` on a code
//!   exchange whose scope has `refresh_token` or `offline_access`; **no `expires_in`**
//!   (DIGEST §3.2: unconfirmed, but widely relied on).
//! * `POST /services/oauth2/revoke` (`token=…`, form or query): revoking a refresh token
//!   ends every session opened from it; revoking an access token ends that session.
//!
//! PKCE as the help article gives it: a challenge sent at authorize and a verifier that does
//! not match it is `invalid_request`; a challenge and no verifier is `invalid_grant`.
//! Chosen where the documents are silent (unconfirmed): a session ends after
//! `session_timeout_secs` without a call (the org's session timeout is an inactivity
//! timeout; Salesforce extends a session only past half of it, the sandbox on every call);
//! a code lives 15 minutes and serves once; refresh tokens are valid until revoked (the
//! connected app's default policy); errors are `{error, error_description}` with 400, as
//! commonly reported; the client secret is checked when given and required only if
//! `require_secret` is set ("Require Secret for Web Server Flow").

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Shared;
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::uuid;

const CODE_TTL_MS: i64 = 15 * 60_000;
/// The scopes a sign-in gets when its authorize URL names none: the connected app's.
pub const APP_SCOPES: &str = "api refresh_token";

#[derive(Debug)]
struct Code {
    redirect: String,
    challenge: Option<String>,
    scope: String,
    expires: i64,
}

#[derive(Debug)]
struct Session {
    last_used: i64,
    grant: u64,
}

#[derive(Debug, Default)]
pub struct OAuthState {
    codes: HashMap<String, Code>,
    sessions: HashMap<String, Session>,
    /// refresh token → (grant, scope).
    refresh: HashMap<String, (u64, String)>,
    grants: u64,
}

impl OAuthState {
    /// Whether `token` opens a live session at `now`; a live one is used (its idle time
    /// starts again).
    pub fn use_session(&mut self, token: &str, now: i64, timeout_ms: i64) -> bool {
        match self.sessions.get_mut(token) {
            Some(s) if now - s.last_used < timeout_ms => {
                s.last_used = now;
                true
            }
            Some(_) => {
                self.sessions.remove(token);
                false
            }
            None => false,
        }
    }

    fn open(&mut self, grant: u64, now: i64) -> String {
        // The shape of a Salesforce session id: the org id, `!`, an opaque part.
        let token = format!("00DDn0000000001!AQ{}", uuid().replace('-', ""));
        self.sessions.insert(
            token.clone(),
            Session {
                last_used: now,
                grant,
            },
        );
        token
    }

    /// Starts a grant with a refresh token of `scope`; returns both.
    fn grant(&mut self, scope: &str) -> (u64, String) {
        self.grants += 1;
        let refresh = format!("5Aep861{}", uuid().replace('-', ""));
        self.refresh
            .insert(refresh.clone(), (self.grants, scope.to_string()));
        (self.grants, refresh)
    }

    /// A session and refresh token made outside the flow (the admin API's `token`).
    pub fn mint(&mut self, now: i64) -> (String, String) {
        let (grant, refresh) = self.grant(APP_SCOPES);
        (self.open(grant, now), refresh)
    }

    /// Ends every session, as a timeout would (the refresh tokens stay good).
    pub fn expire_sessions(&mut self) {
        self.sessions.clear();
    }

    fn revoke(&mut self, token: &str) -> bool {
        if let Some((grant, _)) = self.refresh.remove(token) {
            self.sessions.retain(|_, s| s.grant != grant);
            return true;
        }
        self.sessions.remove(token).is_some()
    }
}

fn oauth_error(code: &str, description: &str) -> HttpResponse {
    HttpResponse::json(
        400,
        &json!({"error": code, "error_description": description}),
    )
}

/// Serves `/services/oauth2/...`; `None` when no route matches.
pub fn handle(shared: &Shared, req: &HttpRequest, segs: &[&str]) -> Option<HttpResponse> {
    Some(match (req.method.as_str(), segs) {
        ("GET", ["services", "oauth2", "authorize"]) => authorize(shared, req),
        ("POST", ["services", "oauth2", "token"]) => token(shared, req),
        ("POST" | "GET", ["services", "oauth2", "revoke"]) => revoke(shared, req),
        ("GET" | "POST", ["services", "oauth2", "userinfo"]) => userinfo(shared, req),
        _ => return None,
    })
}

fn authorize(shared: &Shared, req: &HttpRequest) -> HttpResponse {
    let opts = &shared.api.opts;
    if req.query_param("client_id") != Some(opts.client_id.as_str()) {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    let Some(redirect) = req.query_param("redirect_uri") else {
        return oauth_error(
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        );
    };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if req.query_param("response_type") != Some("code") {
        query.append_pair("error", "unsupported_response_type");
        query.append_pair("error_description", "response type not supported");
    } else if req
        .query_param("code_challenge_method")
        .is_some_and(|m| m != "S256")
    {
        query.append_pair("error", "invalid_request");
        query.append_pair("error_description", "invalid code challenge method");
    } else {
        let code = format!("aPrx{}", uuid().replace('-', ""));
        let scope = req
            .query_param("scope")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(APP_SCOPES);
        shared.api.lock().oauth.codes.insert(
            code.clone(),
            Code {
                redirect: redirect.to_string(),
                challenge: req.query_param("code_challenge").map(str::to_string),
                scope: scope.to_string(),
                expires: shared.clock.now_ms() + CODE_TTL_MS,
            },
        );
        query.append_pair("code", &code);
    }
    if let Some(state) = req.query_param("state") {
        query.append_pair("state", state);
    }
    let sep = if redirect.contains('?') { '&' } else { '?' };
    HttpResponse::empty(302).with_header("Location", format!("{redirect}{sep}{}", query.finish()))
}

/// The form of a token or revoke call (the body, or the query when the body is empty).
fn form(req: &HttpRequest) -> HashMap<String, String> {
    if req.body.is_empty() {
        return req.query.iter().cloned().collect();
    }
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

/// The client credentials from `Authorization: Basic` or the form.
fn client_of(
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    match req.basic_auth() {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    }
}

/// base64url(SHA-256(verifier)), unpadded.
fn challenge_of(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn token(shared: &Shared, req: &HttpRequest) -> HttpResponse {
    let opts = &shared.api.opts;
    let form = form(req);
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let (client_id, secret) = client_of(req, &form);
    if client_id.as_deref() != Some(opts.client_id.as_str()) {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    match secret.as_deref() {
        Some(s) if s != opts.client_secret => {
            return oauth_error("invalid_client", "invalid client credentials");
        }
        None if opts.require_secret => {
            return oauth_error("invalid_client", "invalid client credentials");
        }
        _ => {}
    }
    let now = shared.clock.now_ms();
    let mut org = shared.api.lock();
    let (grant, refresh, scope) = match field("grant_type") {
        "authorization_code" => {
            let Some(code) = org.oauth.codes.remove(field("code")) else {
                return oauth_error("invalid_grant", "invalid authorization code");
            };
            if code.expires <= now {
                return oauth_error("invalid_grant", "expired authorization code");
            }
            if code.redirect != field("redirect_uri") {
                return oauth_error(
                    "redirect_uri_mismatch",
                    "redirect_uri must match configuration",
                );
            }
            if let Some(challenge) = &code.challenge {
                match form.get("code_verifier") {
                    None => return oauth_error("invalid_grant", "invalid code verifier"),
                    Some(v) if challenge_of(v) != *challenge => {
                        return oauth_error("invalid_request", "invalid code verifier");
                    }
                    Some(_) => {}
                }
            }
            let offline = code
                .scope
                .split_whitespace()
                .any(|s| s == "refresh_token" || s == "offline_access");
            let (grant, refresh) = org.oauth.grant(&code.scope);
            if !offline {
                org.oauth.refresh.remove(&refresh);
            }
            (grant, offline.then_some(refresh), code.scope)
        }
        "refresh_token" => match org.oauth.refresh.get(field("refresh_token")).cloned() {
            Some((grant, scope)) => (grant, None, scope),
            None => return oauth_error("invalid_grant", "expired access/refresh token"),
        },
        "" => return oauth_error("invalid_request", "grant type is missing"),
        _ => return oauth_error("unsupported_grant_type", "grant type not supported"),
    };
    let access = org.oauth.open(grant, now);
    let id = format!("{}/id/{}/{}", org.base_url, org.org_id, org.user_id);
    let issued_at = now.to_string();
    let signature = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(
        opts.client_secret.as_bytes(),
        format!("{id}{issued_at}").as_bytes(),
    ));
    let mut body = json!({
        "access_token": access, "signature": signature, "scope": scope,
        "instance_url": org.base_url, "id": id, "token_type": "Bearer", "issued_at": issued_at,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = Value::String(r);
    }
    HttpResponse::json(200, &body)
}

/// The OpenID Connect userinfo endpoint, served on the login host and the instance alike,
/// for the session's user. It counts against no allocation. A dead session gets the REST
/// API's `401 INVALID_SESSION_ID` (what Salesforce answers here for one is unconfirmed).
fn userinfo(shared: &Shared, req: &HttpRequest) -> HttpResponse {
    let now = shared.clock.now_ms();
    let timeout = shared.api.opts.session_timeout_secs * 1000;
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    let mut org = shared.api.lock();
    if !org.oauth.use_session(token, now, timeout) {
        return super::errors::invalid_session();
    }
    let sub = format!("{}/id/{}/{}", org.base_url, org.org_id, org.user_id);
    HttpResponse::json(
        200,
        &json!({"sub": sub, "user_id": org.user_id, "organization_id": org.org_id,
                "preferred_username": "admin@sandbox.example", "email": "admin@sandbox.example",
                "name": "Sandbox Admin", "email_verified": true}),
    )
}

fn revoke(shared: &Shared, req: &HttpRequest) -> HttpResponse {
    let form = form(req);
    let token = form.get("token").map(String::as_str).unwrap_or_default();
    if shared.api.lock().oauth.revoke(token) {
        HttpResponse::empty(200)
    } else {
        oauth_error("unsupported_token_type", "this token type is not supported")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
