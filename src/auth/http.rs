//! The HTTP client for token endpoints, and parsing of OAuth token responses.
//!
//! Token requests are plain `reqwest` form posts rather than `oauth2` 5 calls: the endpoints
//! come from an [`OAuthSpec`] at run time (optional PKCE, secret in the body or in Basic),
//! which `oauth2`'s typestate client only expresses through extra runtime-optional setters and
//! an adapter to reqwest 0.13; and we need the raw error body (`invalid_grant` and the CRM's
//! `error_description`) to tell a revoked refresh token from an outage, which `oauth2` folds
//! into its own error type. The form fields are those of RFC 6749 §4.1.3 and §6.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;

use super::AuthError;
use super::credentials::{CredentialKind, Credentials, SecretString};
use crate::model::Millis;
use crate::providers::OAuthSpec;

/// The shared client for auth calls: no redirects (a token endpoint that redirects is
/// misconfigured or hostile, and following would replay the form elsewhere), and a total time
/// well under the refresh lease ([`super::LEASE_TTL_MS`]), so a slow refresh never outlives
/// its lease and races another process's refresh with a refresh token about to be rotated.
pub(crate) fn client() -> Result<reqwest::Client, AuthError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c.clone());
    }
    // reqwest is built without a default crypto provider; an "already installed" answer means
    // another part of crmsync got there first, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let built = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("crmsync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AuthError::Other(format!("could not build the HTTP client: {e}")))?;
    Ok(CLIENT.get_or_init(|| built).clone())
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
    /// A string (RFC 6749) or, from some CRMs, an array under `scopes`.
    #[serde(default)]
    scope: Option<serde_json::Value>,
    #[serde(default)]
    scopes: Option<serde_json::Value>,
    /// Everything else the CRM sent with the token.
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

/// Response fields never kept in [`Credentials::extra`]: secrets, and proofs derived from them.
const NOT_EXTRA: [&str; 2] = ["id_token", "signature"];

fn scope_list(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => s
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// An error response (RFC 6749 §5.2).
#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// An error response in the `{status, message}` shape some token endpoints use instead of
/// RFC 6749's (HubSpot's `{"status": "BAD_REFRESH_TOKEN", "message": …}`): `status` is the
/// error code.
#[derive(Deserialize)]
struct StatusErrorResponse {
    status: String,
    #[serde(default)]
    message: Option<String>,
}

/// Posts `form` to the spec's token endpoint with the client's credentials placed as the CRM
/// expects, and returns the new credentials. `previous` supplies what a refresh response may
/// leave out (the refresh token when it is not rotated, the scopes).
pub(crate) async fn token_request(
    spec: &OAuthSpec,
    grant: &'static str,
    mut form: Vec<(&'static str, String)>,
    client_id: &str,
    client_secret: Option<&SecretString>,
    now: Millis,
    previous: Option<&Credentials>,
) -> Result<Credentials, AuthError> {
    let crm = spec.provider.display_name();
    let http = client()?;
    let mut request = http
        .post(&spec.token_url)
        .header("Accept", "application/json");
    match client_secret {
        Some(secret) if !spec.client_secret_in_body => {
            // RFC 6749 §2.3.1: both parts are form-urlencoded before the Basic encoding.
            let pair = format!(
                "{}:{}",
                form_encode(client_id),
                form_encode(secret.expose())
            );
            let basic = base64::engine::general_purpose::STANDARD.encode(pair);
            request = request.header("Authorization", format!("Basic {basic}"));
        }
        Some(secret) => {
            form.push(("client_id", client_id.to_string()));
            form.push(("client_secret", secret.expose().to_string()));
        }
        None => form.push(("client_id", client_id.to_string())),
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|e| AuthError::Http {
            crm,
            what: "token endpoint could not be reached",
            reason: format!("`{}`: {}", spec.token_url, error_chain(&e)),
        })?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| AuthError::Http {
        crm,
        what: "token endpoint stopped answering",
        reason: error_chain(&e),
    })?;
    if !status.is_success() {
        let (error, description) = match serde_json::from_slice::<ErrorResponse>(&body) {
            Ok(e) => (e.error, e.error_description),
            Err(_) => match serde_json::from_slice::<StatusErrorResponse>(&body) {
                Ok(e) => (e.status, e.message),
                Err(_) => (
                    status.canonical_reason().unwrap_or("error").to_string(),
                    Some(snippet(&body)),
                ),
            },
        };
        return Err(AuthError::TokenEndpoint {
            crm,
            grant,
            status: status.as_u16(),
            error,
            description,
        });
    }
    let token: TokenResponse = serde_json::from_slice(&body).map_err(|e| AuthError::Http {
        crm,
        what: "token endpoint answered something that is not a token",
        reason: format!("{e}"),
    })?;
    let expires_in = token.expires_in.as_ref().and_then(|v| match v {
        // Some CRMs send the number as a string.
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    let scopes = match token.scope.as_ref().or(token.scopes.as_ref()) {
        Some(v) => scope_list(v),
        None => previous.map(|p| p.scopes.clone()).unwrap_or_default(),
    };
    // A refresh response may leave out what the sign-in gave (the API host), so earlier
    // values stay unless the CRM sends new ones.
    let mut extra = previous.map(|p| p.extra.clone()).unwrap_or_default();
    for (key, value) in token.other {
        if NOT_EXTRA.contains(&key.as_str()) {
            continue;
        }
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => continue,
        };
        extra.insert(key, text);
    }
    Ok(Credentials {
        kind: CredentialKind::Oauth,
        provider: spec.provider,
        access_token: SecretString::new(token.access_token),
        refresh_token: token
            .refresh_token
            .map(SecretString::new)
            .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
        expires_at: expires_in.map(|s| now + s * 1000),
        token_type: token.token_type.unwrap_or_else(|| "Bearer".to_string()),
        scopes,
        client_id: Some(client_id.to_string()),
        account: previous.and_then(|p| p.account.clone()),
        account_id: previous.and_then(|p| p.account_id.clone()),
        api_host: previous.and_then(|p| p.api_host.clone()),
        token_host: previous.and_then(|p| p.token_host.clone()),
        extra,
    })
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The start of a non-JSON error body, for the message (token endpoints do not echo secrets
/// in error pages; the length is bounded all the same).
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        // Some errors already print their source in their own message.
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
