//! The sign-in and refresh flows against a fake authorization server on 127.0.0.1, with the
//! browser played by an HTTP client that follows the authorize URL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};
use url::Url;

use crmsync::auth::{
    AuthError, CredentialKind, CredentialScope, Credentials, FileLock, Keychain, MemoryLock,
    OAuthTokenSource, RefreshLock, SecretString, SignInEvent, SignInOptions, sign_in,
};
use crmsync::clock::{Clock, FixedClock};
use crmsync::providers::{OAuthSpec, ProviderError, ProviderKind, TokenSource};

const NOW: i64 = 1_800_000_000_000;

/// How the fake authorization server behaves.
#[derive(Clone, Default)]
struct Behaviour {
    /// `/authorize` redirects with this `error` instead of a code.
    deny: Option<(&'static str, &'static str)>,
    /// `/authorize` redirects with a `state` other than the one it got.
    tamper_state: bool,
    /// `/authorize` records another challenge than the one sent, as if the verifier leaked
    /// and was replaced: the token endpoint then refuses the real verifier.
    replace_challenge: bool,
    /// `/authorize` never answers (the user never comes back).
    hang: bool,
    /// Refresh tokens the server treats as revoked.
    revoked: Vec<String>,
    /// The client must authenticate with this secret (in Basic unless `secret_in_body`).
    secret: Option<String>,
    /// How long `/token` takes, so that concurrent refreshes overlap.
    token_delay: Duration,
}

#[derive(Default)]
struct Seen {
    token_requests: AtomicUsize,
    refresh_requests: AtomicUsize,
    /// code → (challenge, redirect_uri)
    codes: Mutex<HashMap<String, (Option<String>, String)>>,
    issued: AtomicUsize,
    last_token_form: Mutex<HashMap<String, String>>,
    last_authorization: Mutex<Option<String>>,
    revoked: Mutex<Vec<String>>,
}

struct FakeAuthServer {
    base: String,
    seen: Arc<Seen>,
}

impl FakeAuthServer {
    fn start(behaviour: Behaviour) -> FakeAuthServer {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let seen = Arc::new(Seen::default());
        let seen2 = seen.clone();
        thread::spawn(move || {
            for rq in server.incoming_requests() {
                let seen = seen2.clone();
                let behaviour = behaviour.clone();
                // One thread per request: `/token` may be slow on purpose.
                thread::spawn(move || handle(rq, &behaviour, &seen));
            }
        });
        FakeAuthServer {
            base: format!("http://127.0.0.1:{port}"),
            seen,
        }
    }

    fn spec(&self, pkce: bool, secret_in_body: bool) -> OAuthSpec {
        OAuthSpec {
            provider: ProviderKind::Hubspot,
            authorize_url: format!("{}/authorize?prompt=consent", self.base),
            token_url: format!("{}/token", self.base),
            revoke_url: Some(format!("{}/revoke", self.base)),
            pkce,
            client_secret_in_body: secret_in_body,
            scopes: vec!["contacts.read".into(), "contacts.write".into()],
            scope_separator: " ",
        }
    }

    /// Signs in with PKCE and no client secret, `browser` playing the user.
    async fn sign_in(
        &self,
        browser: &Browser,
        timeout: Duration,
    ) -> Result<Credentials, AuthError> {
        let (_, notify) = events();
        sign_in(
            &self.spec(true, false),
            "client-1",
            None,
            options(browser, timeout),
            &notify,
        )
        .await
    }
}

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn json(status: u16, body: serde_json::Value) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    tiny_http::Response::from_data(body.to_string().into_bytes())
        .with_status_code(status)
        .with_header(
            tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).unwrap(),
        )
}

fn oauth_error(error: &str, description: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    json(
        400,
        serde_json::json!({"error": error, "error_description": description}),
    )
}

fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn handle(mut rq: tiny_http::Request, b: &Behaviour, seen: &Seen) {
    let url = Url::parse(&format!("http://fake{}", rq.url())).unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    match url.path() {
        "/authorize" => {
            if b.hang {
                thread::sleep(Duration::from_secs(3600));
                return;
            }
            let redirect = q["redirect_uri"].clone();
            let state = if b.tamper_state {
                format!("{}X", q["state"])
            } else {
                q["state"].clone()
            };
            let mut target = Url::parse(&redirect).unwrap();
            if let Some((error, description)) = b.deny {
                target
                    .query_pairs_mut()
                    .append_pair("error", error)
                    .append_pair("error_description", description)
                    .append_pair("state", &state);
            } else {
                assert_eq!(q["response_type"], "code");
                assert_eq!(q["scope"], "contacts.read contacts.write");
                assert_eq!(q["prompt"], "consent", "the spec's own query is kept");
                let code = format!("code-{}", seen.issued.fetch_add(1, Ordering::SeqCst));
                let mut challenge = q.get("code_challenge").cloned();
                if challenge.is_some() {
                    assert_eq!(q["code_challenge_method"], "S256");
                }
                if b.replace_challenge {
                    challenge = Some(self::challenge("some other verifier"));
                }
                seen.codes
                    .lock()
                    .unwrap()
                    .insert(code.clone(), (challenge, redirect.clone()));
                target
                    .query_pairs_mut()
                    .append_pair("code", &code)
                    .append_pair("state", &state);
            }
            let response = tiny_http::Response::empty(302).with_header(
                tiny_http::Header::from_bytes(&b"Location"[..], target.as_str().as_bytes())
                    .unwrap(),
            );
            let _ = rq.respond(response);
        }
        "/token" => {
            seen.token_requests.fetch_add(1, Ordering::SeqCst);
            thread::sleep(b.token_delay);
            let mut body = String::new();
            rq.as_reader().read_to_string(&mut body).unwrap();
            let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            let authorization = rq
                .headers()
                .iter()
                .find(|h| h.field.equiv("Authorization"))
                .map(|h| h.value.to_string());
            *seen.last_token_form.lock().unwrap() = form.clone();
            *seen.last_authorization.lock().unwrap() = authorization.clone();
            if let Some(secret) = &b.secret {
                // RFC 6749 §2.3.1: Basic carries the form-urlencoded id and secret.
                let basic = authorization
                    .as_deref()
                    .and_then(|h| h.strip_prefix("Basic "))
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .and_then(|raw| String::from_utf8(raw).ok())
                    .and_then(|text| {
                        let (user, pass) = text.split_once(':')?;
                        Some((form_decode(user), form_decode(pass)))
                    });
                let basic_ok = basic.is_some_and(|(u, p)| u == "client-1" && &p == secret);
                let ok = basic_ok || form.get("client_secret") == Some(secret);
                if !ok {
                    let _ = rq.respond(json(401, serde_json::json!({"error": "invalid_client"})));
                    return;
                }
            }
            let response = match form.get("grant_type").map(String::as_str) {
                Some("authorization_code") => {
                    let code = &form["code"];
                    match seen.codes.lock().unwrap().remove(code) {
                        None => oauth_error("invalid_grant", "unknown or used code"),
                        Some((_, redirect)) if form.get("redirect_uri") != Some(&redirect) => {
                            oauth_error("invalid_grant", "redirect_uri mismatch")
                        }
                        Some((Some(expected), _))
                            if form.get("code_verifier").map(|v| challenge(v)).as_ref()
                                != Some(&expected) =>
                        {
                            oauth_error("invalid_grant", "code_verifier does not match")
                        }
                        Some(_) => json(
                            200,
                            serde_json::json!({
                                "access_token": "access-1",
                                "refresh_token": "refresh-1",
                                "api_host": "https://acme.example",
                                "account_id": 42,
                                "id_token": "secret-id-token",
                                "expires_in": 1800,
                                "token_type": "bearer",
                            }),
                        ),
                    }
                }
                Some("refresh_token") => {
                    let n = seen.refresh_requests.fetch_add(1, Ordering::SeqCst) + 2;
                    let rt = &form["refresh_token"];
                    if b.revoked.contains(rt) {
                        oauth_error("invalid_grant", "refresh token is revoked")
                    } else {
                        json(
                            200,
                            serde_json::json!({
                                "access_token": format!("access-{n}"),
                                "refresh_token": format!("refresh-{n}"),
                                "expires_in": "1800",
                                "token_type": "bearer",
                                "scope": "contacts.read contacts.write",
                            }),
                        )
                    }
                }
                _ => oauth_error("unsupported_grant_type", "?"),
            };
            let _ = rq.respond(response);
        }
        "/revoke" => {
            let mut body = String::new();
            rq.as_reader().read_to_string(&mut body).unwrap();
            let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            seen.revoked.lock().unwrap().push(form["token"].clone());
            let _ = rq.respond(tiny_http::Response::empty(200));
        }
        _ => {
            let _ = rq.respond(tiny_http::Response::empty(404));
        }
    }
}

/// Plays the browser: fetches the authorize URL, follows the redirect to the loopback
/// listener, and keeps the page the listener answered with.
#[derive(Clone, Default)]
struct Browser {
    pages: Arc<Mutex<Vec<(u16, String)>>>,
    visits: Arc<Mutex<Vec<thread::JoinHandle<()>>>>,
    favicon_first: bool,
    /// Before following the real redirect, call the listener as a local process or a web
    /// page could: with another `state`, with none, and with the real one under another
    /// `Host`. Their answers are kept in `forged`.
    forge_first: bool,
    forged: Arc<Mutex<Vec<u16>>>,
    /// Follow the redirect to the listener under this host name (resolved to 127.0.0.1), so
    /// that it is sent with `Host: NAME:PORT`, as a browser given a `localhost` URL does.
    redirect_host: Option<&'static str>,
}

impl Browser {
    fn opener(&self) -> Box<dyn Fn(&Url) -> bool + Send + Sync> {
        let me = self.clone();
        Box::new(move |url: &Url| {
            let url = url.clone();
            let me = me.clone();
            let visits = me.visits.clone();
            visits
                .lock()
                .unwrap()
                .push(thread::spawn(move || me.visit(url)));
            true
        })
    }

    fn visit(&self, url: Url) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status(), 302);
            let location = r.headers()["location"].to_str().unwrap().to_string();
            if self.forge_first {
                let target = Url::parse(&location).unwrap();
                let with_state = |state: Option<&str>| {
                    let mut u = target.clone();
                    let pairs: Vec<(String, String)> = target
                        .query_pairs()
                        .filter(|(k, _)| k != "state")
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .chain(state.map(|s| ("state".to_string(), s.to_string())))
                        .collect();
                    u.query_pairs_mut().clear().extend_pairs(pairs);
                    u
                };
                let port = target.port().unwrap();
                for (url, host) in [
                    (with_state(Some("guessed")), None),
                    (with_state(None), None),
                    (target.clone(), Some(format!("attacker.example:{port}"))),
                ] {
                    let mut rq = http.get(url);
                    if let Some(host) = host {
                        rq = rq.header("Host", host);
                    }
                    let status = rq.send().await.unwrap().status().as_u16();
                    self.forged.lock().unwrap().push(status);
                    if status != 400 {
                        // A forged request was taken for the redirect: the real one would find
                        // the sign-in over.
                        self.pages.lock().unwrap().push((status, "forged".into()));
                        return;
                    }
                }
            }
            if self.favicon_first {
                let target = Url::parse(&location).unwrap();
                let favicon = target.join("/favicon.ico").unwrap();
                let r = http.get(favicon).send().await.unwrap();
                assert_eq!(r.status(), 404);
            }
            let r = match self.redirect_host {
                Some(host) => {
                    let mut target = Url::parse(&location).unwrap();
                    let port = target.port().unwrap();
                    target.set_host(Some(host)).unwrap();
                    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                    let http = reqwest::Client::builder()
                        .redirect(reqwest::redirect::Policy::none())
                        .resolve(host, addr)
                        .build()
                        .unwrap();
                    http.get(target).send().await.unwrap()
                }
                None => http.get(location).send().await.unwrap(),
            };
            let status = r.status().as_u16();
            let page = r.text().await.unwrap();
            self.pages.lock().unwrap().push((status, page));
        });
    }

    /// The last page the listener answered with, once every visit has ended.
    fn page(&self) -> (u16, String) {
        let visits: Vec<_> = self.visits.lock().unwrap().drain(..).collect();
        for v in visits {
            v.join().expect("the browser's visit went as expected");
        }
        self.pages
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the browser got a page")
    }
}

fn options(browser: &Browser, timeout: Duration) -> SignInOptions {
    SignInOptions {
        no_browser: false,
        timeout,
        redirect_port: None,
        scopes: None,
        open_browser: browser.opener(),
        clock: Arc::new(FixedClock::new(NOW)),
    }
}

fn events() -> (Arc<Mutex<Vec<SignInEvent>>>, impl Fn(SignInEvent) + Sync) {
    let list = Arc::new(Mutex::new(Vec::new()));
    let l2 = list.clone();
    (list, move |e| l2.lock().unwrap().push(e))
}

#[tokio::test]
async fn sign_in_with_pkce_returns_credentials_and_tells_the_browser() {
    let fake = FakeAuthServer::start(Behaviour::default());
    let browser = Browser {
        favicon_first: true,
        ..Browser::default()
    };
    let (seen_events, notify) = events();
    let creds = sign_in(
        &fake.spec(true, false),
        "client-1",
        None,
        options(&browser, Duration::from_secs(60)),
        &notify,
    )
    .await
    .unwrap();
    assert_eq!(creds.kind, CredentialKind::Oauth);
    assert_eq!(creds.access_token.expose(), "access-1");
    assert_eq!(creds.refresh_token.as_ref().unwrap().expose(), "refresh-1");
    assert_eq!(creds.expires_at, Some(NOW + 1_800_000));
    assert_eq!(creds.client_id.as_deref(), Some("client-1"));
    let extra: Vec<(&str, &str)> = creds
        .extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        extra,
        [("account_id", "42"), ("api_host", "https://acme.example")],
        "kept for the provider, without the id token"
    );
    let form = fake.seen.last_token_form.lock().unwrap().clone();
    assert_eq!(
        form["client_id"], "client-1",
        "a public client sends its id in the body"
    );
    assert!(form.contains_key("code_verifier"));
    assert!(fake.seen.last_authorization.lock().unwrap().is_none());
    let (status, page) = browser.page();
    assert_eq!(status, 200);
    assert!(page.contains("connected to HubSpot"), "{page}");
    let seen_events = seen_events.lock().unwrap();
    assert!(
        matches!(seen_events[0], SignInEvent::Listening { ref redirect_uri } if redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with("/callback"))
    );
    assert!(matches!(seen_events[1], SignInEvent::BrowserOpened { .. }));
    assert!(seen_events.contains(&SignInEvent::ExchangingCode));
}

#[tokio::test]
async fn client_secret_goes_in_basic_or_in_the_body_as_the_spec_says() {
    for in_body in [false, true] {
        let fake = FakeAuthServer::start(Behaviour {
            secret: Some("s3cr&t".into()),
            ..Behaviour::default()
        });
        let browser = Browser::default();
        let (_, notify) = events();
        let creds = sign_in(
            &fake.spec(false, in_body),
            "client-1",
            Some(SecretString::new("s3cr&t")),
            options(&browser, Duration::from_secs(60)),
            &notify,
        )
        .await
        .unwrap();
        assert_eq!(creds.access_token.expose(), "access-1");
        let form = fake.seen.last_token_form.lock().unwrap().clone();
        let basic = fake.seen.last_authorization.lock().unwrap().clone();
        assert_eq!(form.contains_key("client_secret"), in_body);
        assert_eq!(basic.is_some(), !in_body);
        assert!(
            !form.contains_key("code_verifier"),
            "no PKCE when the spec says so"
        );
    }
}

#[tokio::test]
async fn a_redirect_with_another_state_gets_400_and_the_listener_keeps_waiting() {
    let fake = FakeAuthServer::start(Behaviour {
        tamper_state: true,
        ..Behaviour::default()
    });
    let browser = Browser::default();
    let (_, notify) = events();
    // The tampered redirect is the only one that comes: the sign-in waits until its timeout
    // (short here) without exchanging its code.
    let err = sign_in(
        &fake.spec(true, false),
        "client-1",
        None,
        options(&browser, Duration::from_secs(2)),
        &notify,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AuthError::Timeout { .. }), "{err}");
    assert_eq!(fake.seen.token_requests.load(Ordering::SeqCst), 0);
    let (status, page) = browser.page();
    assert_eq!(status, 400);
    assert!(page.contains("was not used"), "{page}");
}

#[tokio::test]
async fn forged_callbacks_get_400_and_the_real_redirect_still_signs_in() {
    let fake = FakeAuthServer::start(Behaviour::default());
    let browser = Browser {
        forge_first: true,
        ..Browser::default()
    };
    let creds = fake
        .sign_in(&browser, Duration::from_secs(600))
        .await
        .expect("the real redirect signs in");
    assert_eq!(creds.access_token.expose(), "access-1");
    let (status, _) = browser.page();
    assert_eq!(status, 200);
    assert_eq!(
        *browser.forged.lock().unwrap(),
        [400, 400, 400],
        "wrong state, no state, another Host"
    );
    assert_eq!(fake.seen.token_requests.load(Ordering::SeqCst), 1);
}

/// A browser that reaches the listener as `localhost` (`Host: localhost:PORT`) is the user's
/// own: the sign-in goes through.
#[tokio::test]
async fn a_redirect_to_localhost_signs_in() {
    let fake = FakeAuthServer::start(Behaviour::default());
    let browser = Browser {
        redirect_host: Some("localhost"),
        ..Browser::default()
    };
    let creds = fake
        .sign_in(&browser, Duration::from_secs(20))
        .await
        .expect("signed in through `localhost`");
    assert_eq!(creds.access_token.expose(), "access-1");
    let (status, page) = browser.page();
    assert_eq!(status, 200, "{page}");
}

#[tokio::test]
async fn a_verifier_that_does_not_match_the_challenge_is_refused_by_the_server() {
    let fake = FakeAuthServer::start(Behaviour {
        replace_challenge: true,
        ..Behaviour::default()
    });
    let browser = Browser::default();
    let (_, notify) = events();
    let err = sign_in(
        &fake.spec(true, false),
        "client-1",
        None,
        options(&browser, Duration::from_secs(60)),
        &notify,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("invalid_grant") && text.contains("code_verifier"),
        "{text}"
    );
    assert_eq!(fake.seen.token_requests.load(Ordering::SeqCst), 1);
    let (status, page) = browser.page();
    assert_eq!(status, 400);
    assert!(page.contains("did not accept"), "{page}");
}

#[tokio::test]
async fn access_denied_is_reported_with_the_crms_description() {
    let fake = FakeAuthServer::start(Behaviour {
        deny: Some(("access_denied", "The user declined")),
        ..Behaviour::default()
    });
    let browser = Browser::default();
    let (_, notify) = events();
    let err = sign_in(
        &fake.spec(true, false),
        "client-1",
        None,
        options(&browser, Duration::from_secs(60)),
        &notify,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sign-in to HubSpot was refused: access_denied (The user declined)"
    );
    assert_eq!(fake.seen.token_requests.load(Ordering::SeqCst), 0);
    assert!(browser.page().1.contains("The user declined"));
}

#[tokio::test]
async fn sign_in_gives_up_after_the_timeout_and_reports_the_url_without_a_browser() {
    let fake = FakeAuthServer::start(Behaviour {
        hang: true,
        ..Behaviour::default()
    });
    let browser = Browser::default();
    let mut opts = options(&browser, Duration::from_millis(300));
    opts.no_browser = true;
    let (seen_events, notify) = events();
    let err = sign_in(&fake.spec(true, false), "client-1", None, opts, &notify)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("no redirect reached"), "{err}");
    let seen_events = seen_events.lock().unwrap();
    let Some(SignInEvent::OpenUrlManually { url }) = seen_events.get(1) else {
        panic!("the URL is reported for the user to open: {seen_events:?}");
    };
    assert!(url.as_str().starts_with(&fake.base));
    assert!(
        browser.pages.lock().unwrap().is_empty(),
        "no browser was opened"
    );
}

// ---- refresh ----

/// Connection `acme`'s credentials, issued for the fake CRM's hosts.
fn acme() -> CredentialScope {
    CredentialScope {
        connection: "acme".into(),
        provider: ProviderKind::Hubspot,
        api_host: "acme.example".into(),
        token_host: "acme.example".into(),
        default_hosts: false,
        account_id: None,
    }
}

fn stored(access: &str, refresh: &str, expires_at: i64) -> Credentials {
    Credentials {
        kind: CredentialKind::Oauth,
        provider: ProviderKind::Hubspot,
        access_token: SecretString::new(access),
        refresh_token: Some(SecretString::new(refresh)),
        expires_at: Some(expires_at),
        token_type: "bearer".into(),
        scopes: vec!["contacts.read".into()],
        client_id: Some("client-1".into()),
        account: Some("portal 7".into()),
        account_id: Some("7".into()),
        api_host: None,
        token_host: None,
        extra: [("api_host".to_string(), "https://acme.example".to_string())].into(),
    }
}

fn source(
    fake: &FakeAuthServer,
    keychain: &Keychain,
    lock: Arc<dyn RefreshLock>,
    clock: Arc<FixedClock>,
) -> OAuthTokenSource {
    OAuthTokenSource::new(
        &acme(),
        Some(fake.spec(true, false)),
        keychain.clone(),
        lock,
        clock as Arc<dyn Clock>,
    )
    .with_poll_interval(Duration::from_millis(20))
}

#[tokio::test]
async fn a_token_is_refreshed_ahead_of_expiry_and_the_rotated_refresh_token_saved() {
    let fake = FakeAuthServer::start(Behaviour::default());
    let keychain = Keychain::isolated_memory();
    let clock = Arc::new(FixedClock::new(NOW));
    // Five minutes left: used as it is.
    keychain
        .save(&acme(), &stored("old", "refresh-1", NOW + 5 * 60_000))
        .await
        .unwrap();
    let tokens = source(
        &fake,
        &keychain,
        Arc::new(MemoryLock::default()),
        clock.clone(),
    );
    assert_eq!(tokens.access_token().await.unwrap(), "old");
    assert_eq!(fake.seen.token_requests.load(Ordering::SeqCst), 0);
    // Ninety seconds left: inside the two-minute margin, so renewed.
    clock.advance(5 * 60_000 - 90_000);
    assert_eq!(tokens.access_token().await.unwrap(), "access-2");
    assert_eq!(fake.seen.refresh_requests.load(Ordering::SeqCst), 1);
    let form = fake.seen.last_token_form.lock().unwrap().clone();
    assert_eq!(form["refresh_token"], "refresh-1");
    let saved = keychain.load(&acme()).await.unwrap().unwrap();
    assert_eq!(saved.refresh_token.unwrap().expose(), "refresh-2");
    assert_eq!(saved.expires_at, Some(clock.now() + 1_800_000));
    assert_eq!(
        saved.account.as_deref(),
        Some("portal 7"),
        "kept across refreshes"
    );
    // And the new one is used without asking again.
    assert_eq!(tokens.access_token().await.unwrap(), "access-2");
    assert_eq!(fake.seen.refresh_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_401_refreshes_once_even_when_the_token_looked_fresh() {
    let fake = FakeAuthServer::start(Behaviour::default());
    let keychain = Keychain::isolated_memory();
    let clock = Arc::new(FixedClock::new(NOW));
    keychain
        .save(&acme(), &stored("old", "refresh-1", NOW + 3_600_000))
        .await
        .unwrap();
    let tokens = source(&fake, &keychain, Arc::new(MemoryLock::default()), clock);
    assert_eq!(tokens.access_token().await.unwrap(), "old");
    assert_eq!(
        tokens.refresh("old").await.unwrap().as_deref(),
        Some("access-2")
    );
    // A second caller that saw the same rejected token gets the new one, not another refresh.
    assert_eq!(
        tokens.refresh("old").await.unwrap().as_deref(),
        Some("access-2")
    );
    assert_eq!(fake.seen.refresh_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_revoked_refresh_token_asks_the_user_to_sign_in_again() {
    let fake = FakeAuthServer::start(Behaviour {
        revoked: vec!["refresh-1".into()],
        ..Behaviour::default()
    });
    let keychain = Keychain::isolated_memory();
    let clock = Arc::new(FixedClock::new(NOW));
    keychain
        .save(&acme(), &stored("old", "refresh-1", NOW - 1))
        .await
        .unwrap();
    let tokens = source(&fake, &keychain, Arc::new(MemoryLock::default()), clock);
    let err = tokens.access_token().await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("sign in again with `crmsync connect hubspot --name acme`"),
        "{text}"
    );
    assert!(text.contains("invalid_grant"), "{text}");
    assert!(
        !text.contains("refresh-1"),
        "no token in the message: {text}"
    );
}

/// Two sources with their own caches and lease holders stand for two processes sharing the
/// keychain and the lease table; both find the token expired at once.
async fn two_processes_refresh_once(lock: Arc<dyn RefreshLock>) {
    let fake = FakeAuthServer::start(Behaviour {
        // Long enough that the second source finds the lease taken.
        token_delay: Duration::from_millis(300),
        ..Behaviour::default()
    });
    let keychain = Keychain::isolated_memory();
    keychain
        .save(&acme(), &stored("old", "refresh-1", NOW - 1))
        .await
        .unwrap();
    let clock = || Arc::new(FixedClock::new(NOW));
    let a = source(&fake, &keychain, lock.clone(), clock());
    let b = source(&fake, &keychain, lock.clone(), clock());
    let (ta, tb) = tokio::join!(a.access_token(), b.access_token());
    assert_eq!(ta.unwrap(), "access-2");
    assert_eq!(tb.unwrap(), "access-2");
    assert_eq!(fake.seen.refresh_requests.load(Ordering::SeqCst), 1);
    assert!(
        lock.try_acquire(&acme().key(), "someone", NOW, 1).unwrap(),
        "the lease was given back"
    );
}

#[tokio::test]
async fn two_processes_refreshing_at_once_send_one_refresh() {
    two_processes_refresh_once(Arc::new(MemoryLock::default())).await;
}

#[tokio::test]
async fn two_processes_with_a_file_lease_send_one_refresh() {
    let dir = tempfile::tempdir().unwrap();
    two_processes_refresh_once(Arc::new(FileLock::new(dir.path()))).await;
}

#[tokio::test]
async fn a_static_token_is_not_refreshed() {
    let keychain = Keychain::isolated_memory();
    keychain
        .save(
            &acme(),
            &Credentials::static_token(ProviderKind::Hubspot, SecretString::new("api-token")),
        )
        .await
        .unwrap();
    let fake = FakeAuthServer::start(Behaviour::default());
    let tokens = source(
        &fake,
        &keychain,
        Arc::new(MemoryLock::default()),
        Arc::new(FixedClock::new(NOW)),
    );
    assert_eq!(tokens.access_token().await.unwrap(), "api-token");
    assert_eq!(tokens.refresh("api-token").await.unwrap(), None);
    assert_eq!(fake.seen.token_requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn disconnect_revokes_and_removes_the_entries() {
    let fake = FakeAuthServer::start(Behaviour::default());
    let keychain = Keychain::isolated_memory();
    keychain
        .save(&acme(), &stored("a", "refresh-1", NOW))
        .await
        .unwrap();
    let outcome = crmsync::auth::disconnect(&keychain, &acme(), Some(&fake.spec(true, false)))
        .await
        .unwrap();
    assert!(outcome.revoked, "{:?}", outcome.revoke_error);
    assert_eq!(
        *fake.seen.revoked.lock().unwrap(),
        vec!["refresh-1".to_string()]
    );
    assert!(outcome.removed);
    assert!(keychain.load(&acme()).await.unwrap().is_none());

    // A CRM whose revocation fails: reported, and the entry is removed all the same.
    keychain
        .save(&acme(), &stored("a", "refresh-1", NOW))
        .await
        .unwrap();
    let mut spec = fake.spec(true, false);
    spec.revoke_url = Some(format!("{}/no-such-endpoint", fake.base));
    let outcome = crmsync::auth::disconnect(&keychain, &acme(), Some(&spec))
        .await
        .unwrap();
    assert!(!outcome.revoked);
    assert!(outcome.revoke_error.unwrap().to_string().contains("404"));
    assert!(outcome.removed);
}

#[tokio::test]
async fn a_refresh_authenticates_with_the_client_secret_from_the_keychain() {
    let fake = FakeAuthServer::start(Behaviour {
        secret: Some("kept-secret".into()),
        ..Behaviour::default()
    });
    let keychain = Keychain::isolated_memory();
    keychain
        .save(&acme(), &stored("old", "refresh-1", NOW - 1))
        .await
        .unwrap();
    let tokens = source(
        &fake,
        &keychain,
        Arc::new(MemoryLock::default()),
        Arc::new(FixedClock::new(NOW)),
    );
    // Without the secret the fake refuses the client.
    let err = tokens.access_token().await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("check the client secret in `CRMSYNC_CLIENT_SECRET_ACME`"),
        "{err}"
    );
    keychain
        .save_client_secret(&acme(), &SecretString::new("kept-secret"))
        .await
        .unwrap();
    assert_eq!(tokens.access_token().await.unwrap(), "access-2");
    assert!(
        fake.seen.last_authorization.lock().unwrap().is_some(),
        "in Basic, as the spec says"
    );
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_a_network_error_naming_the_connection() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fake = FakeAuthServer::start(Behaviour::default());
    let mut spec = fake.spec(true, false);
    spec.token_url = format!("http://127.0.0.1:{port}/token");
    let keychain = Keychain::isolated_memory();
    keychain
        .save(&acme(), &stored("old", "refresh-1", NOW - 1))
        .await
        .unwrap();
    let tokens = OAuthTokenSource::new(
        &acme(),
        Some(spec),
        keychain.clone(),
        Arc::new(MemoryLock::default()),
        Arc::new(FixedClock::new(NOW)),
    );
    let err = tokens.access_token().await.unwrap_err();
    assert!(matches!(err, ProviderError::Network { .. }), "{err:?}");
    assert!(err.to_string().contains("connection `acme`"), "{err}");
    // The stored credentials are untouched, ready for the next try.
    let kept = keychain.load(&acme()).await.unwrap().unwrap();
    assert_eq!(kept.refresh_token.unwrap().expose(), "refresh-1");
}
