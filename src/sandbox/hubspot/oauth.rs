//! OAuth 2.0 as HubSpot runs it: `GET /oauth/authorize` (the browser step, answered with a
//! 302 back to `redirect_uri`), `POST /oauth/v1/token` (authorization_code with optional
//! PKCE S256, refresh_token), `POST /oauth/v3/token/revoke`, token metadata under
//! `/oauth/v1/access-tokens|refresh-tokens`.
//!
//! Access tokens expire `access_token_ttl` after issue on the sandbox clock. Refresh tokens
//! do not expire and, as HubSpot's, do not rotate, unless `rotate_refresh_tokens` is set:
//! then each refresh answers with a new refresh token and the one it was given stops working
//! (the access tokens minted from it live out their time). Authorization codes are single-use and last 10 minutes.
//! Token-endpoint errors use HubSpot's `{status: "BAD_…", message, correlationId}` body;
//! `BAD_CODE_VERIFIER` for a PKCE mismatch is this sandbox's choice (HubSpot documents no
//! wording for it).

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Shared;
use super::errors::error;
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::uuid;

const CODE_TTL_MS: i64 = 10 * 60 * 1000;
const DEFAULT_USER: &str = "ada.lovelace@example.com";
const DEFAULT_USER_ID: i64 = 9_100_001;
const APP_ID: i64 = 1_234_567;

struct Code {
    redirect_uri: String,
    scopes: Vec<String>,
    challenge: Option<String>,
    expires_ms: i64,
}

struct Access {
    expires_ms: i64,
    refresh: String,
    scopes: Vec<String>,
}

#[derive(Default)]
pub struct OAuthState {
    codes: HashMap<String, Code>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Vec<String>>,
    pub deny_next: bool,
}

impl OAuthState {
    /// Expiry (sandbox ms) and granted scopes of a known access token.
    pub fn access(&self, token: &str) -> Option<(i64, Vec<String>)> {
        self.access
            .get(token)
            .map(|a| (a.expires_ms, a.scopes.clone()))
    }

    /// Revokes a refresh token and the access tokens minted from it.
    pub fn revoke(&mut self, refresh: &str) -> bool {
        let known = self.refresh.remove(refresh).is_some();
        self.access.retain(|_, a| a.refresh != refresh);
        known
    }
}

fn random_token(prefix: &str) -> String {
    let raw = format!("{}{}", uuid(), uuid());
    let digest = Sha256::digest(raw.as_bytes());
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

fn token_error(status: &str, message: &str) -> HttpResponse {
    HttpResponse::json(
        400,
        &json!({"status": status, "message": message, "correlationId": uuid(),
                "requestId": uuid()}),
    )
}

/// Serves an `/oauth/...` call; `None` when no route matches it.
pub fn handle(shared: &Shared, req: &HttpRequest, segs: &[&str]) -> Option<HttpResponse> {
    Some(match (req.method.as_str(), segs) {
        ("GET", ["oauth", "authorize"]) => authorize(shared, req),
        ("POST", ["oauth", "v1", "token"]) => token(shared, req),
        ("POST", ["oauth", "v3", "token", "revoke"]) => revoke(shared, req),
        ("GET", ["oauth", "v1", "access-tokens", tok]) => access_info(shared, tok),
        ("GET", ["oauth", "v1", "refresh-tokens", tok]) => refresh_info(shared, tok),
        ("DELETE", ["oauth", "v1", "refresh-tokens", tok]) => {
            if shared.api.lock().oauth.revoke(tok) {
                HttpResponse::empty(204)
            } else {
                not_found_token()
            }
        }
        _ => return None,
    })
}

fn not_found_token() -> HttpResponse {
    error(404, "OBJECT_NOT_FOUND", "Token not found")
}

fn page(status: u16, text: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
        body: text.as_bytes().to_vec(),
    }
}

fn authorize(shared: &Shared, req: &HttpRequest) -> HttpResponse {
    let client_id = req.query_param("client_id").unwrap_or_default();
    if client_id != shared.api.opts.client_id {
        return page(
            400,
            &format!("Authorization failed: unknown client_id `{client_id}`"),
        );
    }
    let Some(redirect) = req
        .query_param("redirect_uri")
        .and_then(|r| url::Url::parse(r).ok())
    else {
        return page(
            400,
            "Authorization failed: `redirect_uri` is missing or not a URL",
        );
    };
    let state = req.query_param("state");
    let mut target = redirect.clone();
    {
        let mut q = target.query_pairs_mut();
        let mut hub = shared.api.lock();
        let method = req.query_param("code_challenge_method");
        if std::mem::take(&mut hub.oauth.deny_next) {
            q.append_pair("error", "access_denied");
            q.append_pair("error_description", "The user denied access to the app");
        } else if method.is_some_and(|m| m != "S256") {
            q.append_pair("error", "invalid_request");
            q.append_pair("error_description", "code_challenge_method must be S256");
        } else {
            let mut scopes: Vec<String> = Vec::new();
            for key in ["scope", "optional_scope"] {
                for s in req
                    .query_param(key)
                    .unwrap_or_default()
                    .split([' ', '+', ','])
                {
                    if !s.is_empty() && !scopes.iter().any(|x| x == s) {
                        scopes.push(s.to_string());
                    }
                }
            }
            let code = uuid();
            hub.oauth.codes.insert(
                code.clone(),
                Code {
                    redirect_uri: redirect.to_string(),
                    scopes,
                    challenge: req.query_param("code_challenge").map(String::from),
                    expires_ms: shared.clock.now_ms() + CODE_TTL_MS,
                },
            );
            q.append_pair("code", &code);
        }
        if let Some(s) = state {
            q.append_pair("state", s);
        }
    }
    HttpResponse::empty(302).with_header("Location", target.to_string())
}

fn token(shared: &Shared, req: &HttpRequest) -> HttpResponse {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let grant = get("grant_type");
    if grant != "authorization_code" && grant != "refresh_token" {
        return token_error(
            "BAD_GRANT_TYPE",
            "grant_type must be one of authorization_code or refresh_token",
        );
    }
    if get("client_id") != shared.api.opts.client_id {
        return token_error("BAD_CLIENT_ID", "missing or invalid client id");
    }
    if get("client_secret") != shared.api.opts.client_secret {
        return token_error("BAD_CLIENT_SECRET", "missing or invalid client secret");
    }
    let now = shared.clock.now_ms();
    let mut hub = shared.api.lock();
    let (refresh, scopes) = if grant == "authorization_code" {
        let Some(code) = hub.oauth.codes.remove(get("code")) else {
            return token_error("BAD_AUTH_CODE", "missing or invalid auth code");
        };
        if code.expires_ms <= now {
            return token_error("BAD_AUTH_CODE", "auth code expired");
        }
        if url::Url::parse(get("redirect_uri"))
            .map(|u| u.to_string())
            .ok()
            != Some(code.redirect_uri.clone())
        {
            return token_error(
                "BAD_REDIRECT_URI",
                "redirect_uri does not match the one used to authorize",
            );
        }
        if let Some(challenge) = &code.challenge {
            let verifier = get("code_verifier");
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            if verifier.is_empty() || computed != *challenge {
                return token_error(
                    "BAD_CODE_VERIFIER",
                    "code_verifier does not match the code_challenge",
                );
            }
        }
        let refresh = random_token("na1-");
        hub.oauth
            .refresh
            .insert(refresh.clone(), code.scopes.clone());
        (refresh, code.scopes)
    } else {
        let refresh = get("refresh_token").to_string();
        let Some(scopes) = hub.oauth.refresh.get(&refresh).cloned() else {
            return token_error("BAD_REFRESH_TOKEN", "missing or invalid refresh token");
        };
        if shared.api.opts.rotate_refresh_tokens {
            hub.oauth.refresh.remove(&refresh);
            let rotated = random_token("na1-");
            hub.oauth.refresh.insert(rotated.clone(), scopes.clone());
            (rotated, scopes)
        } else {
            (refresh, scopes)
        }
    };
    let ttl_ms = shared.api.opts.access_token_ttl.as_millis() as i64;
    let access = random_token("C");
    let token_scopes = scopes.clone();
    hub.oauth.access.insert(
        access.clone(),
        Access {
            expires_ms: now + ttl_ms,
            refresh: refresh.clone(),
            scopes,
        },
    );
    HttpResponse::json(
        200,
        &json!({"token_type": "bearer", "refresh_token": refresh, "access_token": access,
                "expires_in": ttl_ms / 1000, "token_use": "access_token",
                "hub_id": shared.api.opts.hub_id(), "user_id": DEFAULT_USER_ID, "scopes": token_scopes}),
    )
}

/// `POST /oauth/v3/token/revoke` (RFC 7009): the client authenticates in the body; a refresh
/// token is revoked with its access tokens, an access token alone. An unknown token is not an
/// error (RFC 7009 §2.2), so a revoke can be repeated.
fn revoke(shared: &Shared, req: &HttpRequest) -> HttpResponse {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if get("client_id") != shared.api.opts.client_id {
        return token_error("BAD_CLIENT_ID", "missing or invalid client id");
    }
    if get("client_secret") != shared.api.opts.client_secret {
        return token_error("BAD_CLIENT_SECRET", "missing or invalid client secret");
    }
    let token = get("token");
    let mut hub = shared.api.lock();
    if !hub.oauth.revoke(token) {
        hub.oauth.access.remove(token);
    }
    HttpResponse::empty(200)
}

fn hub_domain(shared: &Shared) -> String {
    format!("sandbox-{}.hubspot.com", shared.api.opts.hub_id())
}

fn access_info(shared: &Shared, tok: &str) -> HttpResponse {
    let now = shared.clock.now_ms();
    let hub = shared.api.lock();
    let Some(a) = hub.oauth.access.get(tok).filter(|a| a.expires_ms > now) else {
        return not_found_token();
    };
    let body: Value = json!({
        "token": tok, "user": DEFAULT_USER, "hub_domain": hub_domain(shared),
        "scopes": a.scopes, "hub_id": shared.api.opts.hub_id(), "app_id": APP_ID,
        "expires_in": (a.expires_ms - now) / 1000, "user_id": DEFAULT_USER_ID,
        "token_type": "access",
    });
    HttpResponse::json(200, &body)
}

fn refresh_info(shared: &Shared, tok: &str) -> HttpResponse {
    let hub = shared.api.lock();
    let Some(scopes) = hub.oauth.refresh.get(tok) else {
        return not_found_token();
    };
    HttpResponse::json(
        200,
        &json!({"token": tok, "user": DEFAULT_USER, "hub_domain": hub_domain(shared),
                "scopes": scopes, "hub_id": shared.api.opts.hub_id(),
                "client_id": shared.api.opts.client_id, "user_id": DEFAULT_USER_ID,
                "token_type": "refresh"}),
    )
}
