//! The OAuth authorization-code sign-in through the system browser and a loopback listener
//! (RFC 8252), token revocation (RFC 7009), and `disconnect`.
//!
//! The listener is a `tiny_http` server on `127.0.0.1` that serves until one redirect decides
//! the sign-in (or the timeout). Every request is checked in this order: the `Host` header
//! (only `127.0.0.1:PORT` or `localhost:PORT`, else 400), the path (anything but `/callback`,
//! such as `/favicon.ico`, gets a 404), then `state` — before the code or an error is even
//! read, because a redirect that does not carry our `state` may be forged; a missing or wrong
//! one gets a 400 and the listener keeps waiting — then `error`, then `code`. The browser gets
//! a short page saying what happened once the code has been exchanged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use url::Url;

use super::AuthError;
use super::credentials::{Credentials, SecretString};
use super::keychain::{CredentialScope, Keychain, client_secret};
use crate::clock::Clock;
use crate::providers::OAuthSpec;

/// What happens during [`sign_in`], for the CLI to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInEvent {
    /// The listener is up; the CRM will redirect here.
    Listening { redirect_uri: String },
    /// The system browser was asked to open `url`.
    BrowserOpened { url: Url },
    /// No browser could be opened (or `no_browser`): the user must open `url` themselves.
    OpenUrlManually { url: Url },
    /// The browser came back with a code; it is being exchanged for tokens.
    ExchangingCode,
}

/// How [`sign_in`] runs.
pub struct SignInOptions {
    /// Do not try to open a browser; only report the URL.
    pub no_browser: bool,
    /// How long to wait for the browser to come back.
    pub timeout: Duration,
    /// Listen on this port instead of a free one (for CRMs that require the exact redirect URI
    /// registered with the app).
    pub redirect_port: Option<u16>,
    /// Scopes to ask for instead of the spec's defaults.
    pub scopes: Option<Vec<String>>,
    /// Opens a URL in a browser; `false` when it could not. Tests replace it with an HTTP
    /// client that plays the browser.
    pub open_browser: Box<dyn Fn(&Url) -> bool + Send + Sync>,
    /// Where "now" comes from (for the tokens' expiry).
    pub clock: Arc<dyn Clock>,
}

impl Default for SignInOptions {
    fn default() -> Self {
        SignInOptions {
            no_browser: false,
            timeout: Duration::from_secs(5 * 60),
            redirect_port: None,
            scopes: None,
            open_browser: Box::new(default_open_browser),
            clock: crate::clock::from_env(),
        }
    }
}

/// Opens `url` in the system browser. `false` when there is none to open: no graphical
/// session on Linux and the BSDs, or the opener could not be started.
pub fn default_open_browser(url: &Url) -> bool {
    use std::process::{Command, Stdio};
    let mut command = if cfg!(target_os = "macos") {
        let mut c = Command::new("open");
        c.arg(url.as_str());
        c
    } else if cfg!(windows) {
        // Not `cmd /c start`: cmd would split the URL at its `&`s.
        let mut c = Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler").arg(url.as_str());
        c
    } else {
        // DISPLAY and WAYLAND_DISPLAY are the desktop's own variables, read to tell a headless
        // session (SSH, CI) where xdg-open would fail or start a text browser in our terminal.
        let graphical = ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
        if !graphical {
            return false;
        }
        let mut c = Command::new("xdg-open");
        c.arg(url.as_str());
        c
    };
    for (var, _) in std::env::vars_os() {
        if secret_var(&var) {
            command.env_remove(&var);
        }
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .is_ok()
}

/// Whether the environment variable `name` holds a crmsync secret (`CRMSYNC_TOKEN_*`,
/// `CRMSYNC_CLIENT_SECRET_*`), which the browser and what it starts have no use for.
fn secret_var(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with(crate::env::TOKEN_PREFIX) || name.starts_with(crate::env::CLIENT_SECRET_PREFIX)
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Compares without stopping at the first difference, so the time taken says nothing about
/// how much of a guessed `state` was right.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Stops the listener thread when the sign-in future ends or is dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// What the listener got.
enum Callback {
    Code(String, tiny_http::Request),
    Refused(String, Option<String>),
    TimedOut,
}

/// Signs in to the CRM described by `spec` through the system browser and returns the new
/// credentials (not yet saved: see [`Keychain::save`]).
pub async fn sign_in(
    spec: &OAuthSpec,
    client_id: &str,
    client_secret: Option<SecretString>,
    opts: SignInOptions,
    notify: &(dyn Fn(SignInEvent) + Sync),
) -> Result<Credentials, AuthError> {
    let crm = spec.provider.display_name();
    let addr = format!("127.0.0.1:{}", opts.redirect_port.unwrap_or(0));
    let server = tiny_http::Server::http(addr.as_str()).map_err(|e| AuthError::Listen {
        addr: addr.clone(),
        reason: e.to_string(),
    })?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .ok_or_else(|| AuthError::Listen {
            addr: addr.clone(),
            reason: "the listener has no IP address".into(),
        })?;
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");

    let state = random_token(32);
    // 64 random bytes give an 86-character verifier, inside RFC 7636's 43..=128.
    let verifier = spec.pkce.then(|| random_token(64));
    let scopes = opts.scopes.clone().unwrap_or_else(|| spec.scopes.clone());

    let mut url = Url::parse(&spec.authorize_url).map_err(|e| {
        AuthError::Other(format!(
            "{crm}'s authorize URL `{}` is not a URL: {e}",
            spec.authorize_url
        ))
    })?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("state", &state);
        if !scopes.is_empty() {
            q.append_pair("scope", &scopes.join(spec.scope_separator));
        }
        if let Some(v) = &verifier {
            q.append_pair("code_challenge", &pkce_challenge(v))
                .append_pair("code_challenge_method", "S256");
        }
    }

    notify(SignInEvent::Listening {
        redirect_uri: redirect_uri.clone(),
    });
    if !opts.no_browser && (opts.open_browser)(&url) {
        notify(SignInEvent::BrowserOpened { url: url.clone() });
    } else {
        notify(SignInEvent::OpenUrlManually { url: url.clone() });
    }

    let stop = Arc::new(AtomicBool::new(false));
    let _stop_guard = StopOnDrop(stop.clone());
    let server = Arc::new(server);
    let callback = {
        let (server, stop, state) = (server.clone(), stop.clone(), state.clone());
        let deadline = Instant::now() + opts.timeout;
        tokio::task::spawn_blocking(move || {
            wait_for_callback(&server, port, &stop, &state, deadline)
        })
        .await
        .map_err(|e| AuthError::Other(format!("the sign-in listener stopped: {e}")))?
    };

    match callback {
        Callback::TimedOut => Err(AuthError::Timeout {
            crm,
            redirect_uri,
            seconds: opts.timeout.as_secs(),
        }),
        Callback::Refused(error, description) => Err(AuthError::Refused {
            crm,
            error,
            description,
        }),
        Callback::Code(code, request) => {
            notify(SignInEvent::ExchangingCode);
            let mut form = vec![
                ("grant_type", "authorization_code".to_string()),
                ("code", code),
                ("redirect_uri", redirect_uri.clone()),
            ];
            if let Some(v) = verifier {
                form.push(("code_verifier", v));
            }
            let result = super::http::token_request(
                spec,
                "authorization code",
                form,
                client_id,
                client_secret.as_ref(),
                opts.clock.now(),
                None,
            )
            .await;
            let page = match &result {
                Ok(_) => page(
                    200,
                    "Signed in",
                    &format!("crmsync is now connected to {crm}. You can close this tab."),
                ),
                Err(e) => page(
                    400,
                    "Sign-in failed",
                    &format!("{crm} did not accept the sign-in: {e}"),
                ),
            };
            // The browser's answer is best effort: the outcome is already known.
            let _ = tokio::task::spawn_blocking(move || request.respond(page)).await;
            result
        }
    }
}

/// Whether a request's `Host` header names the listener itself (`127.0.0.1:PORT` or
/// `localhost:PORT`), as a browser following the redirect sends it. Another name means a page
/// reached the listener through DNS rebinding, or a client made the request up.
fn host_is_listener(request: &tiny_http::Request, port: u16) -> bool {
    let hosts: Vec<&str> = request
        .headers()
        .iter()
        .filter(|h| h.field.equiv("Host"))
        .map(|h| h.value.as_str())
        .collect();
    let [host] = hosts.as_slice() else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    host == format!("127.0.0.1:{port}") || host == format!("localhost:{port}")
}

/// Serves the listener until a redirect decides the sign-in or `deadline` passes. A request
/// for another host, or whose `state` is missing or wrong, gets a 400 and changes nothing: the
/// listener keeps waiting for the browser's redirect, so a local process or a web page cannot
/// end a sign-in by calling the port first.
fn wait_for_callback(
    server: &tiny_http::Server,
    port: u16,
    stop: &AtomicBool,
    state: &str,
    deadline: Instant,
) -> Callback {
    loop {
        let now = Instant::now();
        if now >= deadline || stop.load(Ordering::SeqCst) {
            return Callback::TimedOut;
        }
        // Short slices so a dropped sign-in frees the port promptly.
        let slice = (deadline - now).min(Duration::from_millis(200));
        let request = match server.recv_timeout(slice) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            // A failed accept (a client that hung up) must not end the sign-in; the pause
            // keeps a persistent failure from spinning until the deadline.
            Err(_) => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        // `url()` is the path and query only.
        let Ok(url) = Url::parse(&format!("http://127.0.0.1{}", request.url())) else {
            let _ = request.respond(page(400, "Bad request", "This is not a sign-in redirect."));
            continue;
        };
        if !host_is_listener(&request, port) {
            tracing::info!("ignored a request to the sign-in listener for another host");
            let _ = request.respond(page(400, "Bad request", "This is not a sign-in redirect."));
            continue;
        }
        if url.path() != "/callback" {
            let _ = request.respond(tiny_http::Response::empty(404));
            continue;
        }
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        if !param("state").is_some_and(|s| same_secret(&s, state)) {
            let _ = request.respond(page(
                400,
                "Sign-in refused",
                "This redirect does not belong to the sign-in crmsync is waiting for, so it was \
                 not used. Close this tab.",
            ));
            tracing::warn!(
                "a request to the sign-in listener carried no or another `state`; it was refused \
                 and the sign-in still waits"
            );
            continue;
        }
        if let Some(error) = param("error") {
            let description = param("error_description");
            let _ = request.respond(page(
                400,
                "Sign-in refused",
                &format!(
                    "The sign-in was not completed: {error}{}. You can close this tab.",
                    description
                        .as_deref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ),
            ));
            return Callback::Refused(error, description);
        }
        match param("code") {
            Some(code) if !code.is_empty() => return Callback::Code(code, request),
            _ => {
                let _ = request.respond(page(
                    400,
                    "Sign-in failed",
                    "The redirect carried neither a code nor an error.",
                ));
                return Callback::Refused("missing_code".into(), None);
            }
        }
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: u16, title: &str, message: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>crmsync: {t}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{t}</h1><p>{m}</p></body></html>",
        t = html_escape(title),
        m = html_escape(message)
    );
    let content_type =
        tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"text/html; charset=utf-8"[..])
            .expect("static header is valid");
    tiny_http::Response::from_data(body.into_bytes())
        .with_status_code(status)
        .with_header(content_type)
}

/// Revokes `credentials` at the CRM (RFC 7009): the refresh token when there is one (which
/// voids its access tokens too), else the access token. `Ok(false)` when the CRM has no
/// revocation endpoint.
pub async fn revoke(
    spec: &OAuthSpec,
    credentials: &Credentials,
    client_secret: Option<&SecretString>,
) -> Result<bool, AuthError> {
    let crm = spec.provider.display_name();
    let Some(revoke_url) = spec.revoke_url.as_deref() else {
        return Ok(false);
    };
    let (token, hint) = match &credentials.refresh_token {
        Some(r) => (r, "refresh_token"),
        None => (&credentials.access_token, "access_token"),
    };
    let mut form = vec![
        ("token", token.expose().to_string()),
        ("token_type_hint", hint.to_string()),
    ];
    let http = super::http::client()?;
    let mut request = http.post(revoke_url);
    let client_id = credentials.client_id.clone().unwrap_or_default();
    match client_secret {
        Some(secret) if !spec.client_secret_in_body => {
            request = request.basic_auth(&client_id, Some(secret.expose()));
        }
        Some(secret) => {
            form.push(("client_id", client_id));
            form.push(("client_secret", secret.expose().to_string()));
        }
        None if !client_id.is_empty() => form.push(("client_id", client_id)),
        None => {}
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|e| AuthError::Http {
            crm,
            what: "revocation endpoint could not be reached",
            reason: format!("`{revoke_url}`: {}", super::http::error_chain(&e)),
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(true);
    }
    let body = response.bytes().await.unwrap_or_default();
    Err(AuthError::TokenEndpoint {
        crm,
        grant: "revocation",
        status: status.as_u16(),
        error: status.canonical_reason().unwrap_or("error").to_string(),
        description: Some(super::http::snippet(&body)).filter(|s| !s.is_empty()),
    })
}

/// What [`disconnect`] did.
#[derive(Debug)]
pub struct DisconnectOutcome {
    /// The CRM revoked the tokens.
    pub revoked: bool,
    /// Why revoking did not happen or failed, when it was tried or could not be: the
    /// keychain entry is removed all the same, so the user can still revoke the app's access in
    /// the CRM's settings.
    pub revoke_error: Option<AuthError>,
    /// Credentials were found and removed from the keychain.
    pub removed: bool,
    /// How the credentials found were obtained (a static token cannot be revoked).
    pub kind: Option<super::CredentialKind>,
}

/// Revokes the tokens of `scope` where the CRM allows (`spec` given and it has a revocation
/// endpoint), then removes its keychain entries (credentials and client secret). Only the
/// entry issued for `scope`'s hosts is touched.
pub async fn disconnect(
    keychain: &Keychain,
    scope: &CredentialScope,
    spec: Option<&OAuthSpec>,
) -> Result<DisconnectOutcome, AuthError> {
    let credentials = keychain.load(scope).await?;
    let mut outcome = DisconnectOutcome {
        revoked: false,
        revoke_error: None,
        removed: false,
        kind: credentials.as_ref().map(|c| c.kind),
    };
    if let (Some(spec), Some(c)) = (spec, credentials.as_ref())
        && c.kind == super::CredentialKind::Oauth
    {
        let secret = client_secret(keychain, scope).await?;
        match revoke(spec, c, secret.as_ref()).await {
            Ok(revoked) => outcome.revoked = revoked,
            Err(e) => outcome.revoke_error = Some(e),
        }
    }
    outcome.removed = keychain.delete(scope).await?;
    keychain.delete_client_secret(scope).await?;
    Ok(outcome)
}

/// Plays the browser for tests: in a background thread, an HTTP client follows `url` and its
/// redirects (as a user who approves the app would), ending at the loopback listener. Enabled
/// by `CRMSYNC_TEST_BROWSER=follow` in a build with the `test-seams` feature, never otherwise.
#[cfg(feature = "test-seams")]
pub fn follow_redirects_in_background(url: &Url) -> bool {
    let url = url.clone();
    std::thread::spawn(move || {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::limited(10))
                .build();
            if let Ok(client) = client
                && let Err(e) = client.get(url).send().await
            {
                tracing::warn!("the test browser could not follow the sign-in URL: {e}");
            }
        });
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn state_comparison() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }

    #[test]
    fn random_tokens_differ_and_fit_pkce_limits() {
        let a = random_token(64);
        assert_ne!(a, random_token(64));
        assert!((43..=128).contains(&a.len()), "{}", a.len());
    }

    #[test]
    fn error_pages_escape_the_crm_text() {
        let body = format!("{:?}", html_escape("<script>&"));
        assert!(body.contains("&lt;script&gt;&amp;"));
    }
}
