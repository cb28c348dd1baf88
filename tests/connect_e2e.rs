//! `connect`, `connections`, `disconnect` and token renewal end to end: the crmsync binary
//! against the HubSpot sandbox's OAuth endpoints, the browser played by
//! `CRMSYNC_TEST_BROWSER=follow` (an HTTP client that follows the sign-in URL's redirects).
//!
//! Credentials must outlive a process (connect in one, sync in the next), so the keychain is
//! the test knob `CRMSYNC_TEST_KEYRING=file:<dir>`, or the real Secret Service when
//! `CRMSYNC_TEST_SECRET_SERVICE=1` (`bash .ci/secret-service.sh cargo test --test
//! connect_e2e`). The real keychain is one per user, so in that mode the tests take turns.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::keychain::{
    assert_no_secret_in, files_outside, forging_browser, keychain_at, keychain_turn, real_keychain,
    runtime, sandbox_scope, use_keychain,
};
use common::{Run, TestEnv};
use crmsync::auth::{
    CredentialKind, CredentialScope, Credentials, Keychain, SignInOptions, sign_in,
};
use crmsync::providers::{self, ProviderKind};
use crmsync::sandbox::{FaultOptions, LoggedRequest, Sandbox, SandboxOptions};

/// 31 minutes after the `CRMSYNC_TEST_NOW` of [`TestEnv`]: past the sandbox's 30-minute access tokens.
const LATER: &str = "2026-01-15T12:31:00Z";
/// The `CRMSYNC_TEST_NOW` of [`TestEnv`] in epoch ms, where the sandbox's clock starts too, so
/// that the two clocks agree (a CRM clock off by more than the overlap makes a sync exit 3).
const TEST_NOW_MS: i64 = 1_768_478_400_000;
const PAST_EXPIRY: Duration = Duration::from_secs(31 * 60);
const SIGN_IN_AGAIN: &str = "sign in again with `crmsync connect hubspot --name hs`";

/// A user's machine with a config naming connection `hs` at the sandbox, and the sandbox.
struct Hs {
    env: TestEnv,
    sandbox: Sandbox,
    keychain_dir: PathBuf,
    _turn: Option<MutexGuard<'static, ()>>,
}

impl Hs {
    fn new() -> Hs {
        Hs::with(SandboxOptions::default())
    }

    fn with(options: SandboxOptions) -> Hs {
        let turn = keychain_turn();
        let sandbox = Sandbox::start(SandboxOptions {
            client_secret: format!("client-secret-{:016x}", rand::random::<u64>()),
            ..options
        })
        .unwrap();
        sandbox.set_clock_ms(TEST_NOW_MS);
        let mut env = TestEnv::new();
        let keychain_dir = env.path("keychain");
        use_keychain(&mut env, &keychain_dir);
        env.set_env("CRMSYNC_CLIENT_SECRET_HS", &sandbox.client_secret());
        env.set_env("CRMSYNC_TEST_BROWSER", "follow");
        let base = sandbox.base_url();
        // No `auth_url`: the sign-in page is found beside the sandbox's API.
        env.write_config(&format!(
            "[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"{base}\"\n"
        ));
        let hs = Hs {
            env,
            sandbox,
            keychain_dir,
            _turn: turn,
        };
        hs.forget();
        hs
    }

    fn keychain(&self) -> Keychain {
        keychain_at(&self.keychain_dir)
    }

    /// What connection `hs`'s credentials are issued for: the sandbox's host.
    fn scope(&self) -> CredentialScope {
        sandbox_scope("hs", ProviderKind::Hubspot, &self.sandbox.base_url())
    }

    fn stored(&self) -> Option<Credentials> {
        runtime()
            .block_on(self.keychain().load(&self.scope()))
            .unwrap()
    }

    fn forget(&self) {
        runtime()
            .block_on(self.keychain().delete(&self.scope()))
            .unwrap();
    }

    fn run(&self, args: &[&str]) -> Run {
        self.env.run(args)
    }

    fn connect(&self) -> Run {
        let client_id = self.sandbox.client_id();
        self.run(&[
            "connect",
            "hubspot",
            "--name",
            "hs",
            "--client-id",
            &client_id,
        ])
    }

    /// Connects, checking that it worked, and returns the stored credentials.
    fn connected(&self) -> Credentials {
        self.connect().ok();
        self.stored().expect("connect stored credentials")
    }

    /// Moves both clocks (crmsync's and the sandbox's) past the access token's expiry.
    fn let_the_access_token_expire(&mut self) {
        self.sandbox.advance_clock(PAST_EXPIRY);
        self.env.set_env("CRMSYNC_TEST_NOW", LATER);
    }

    fn token_calls(&self) -> Vec<LoggedRequest> {
        self.sandbox
            .request_log()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/oauth/v1/token")
            .collect()
    }

    fn connections(&self) -> serde_json::Value {
        let run = self.run(&["--json", "connections"]);
        run.ok();
        let rows = run.json();
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "hs")
            .cloned()
            .unwrap_or_else(|| panic!("no `hs` in {rows}"))
    }
}

impl Drop for Hs {
    fn drop(&mut self) {
        if real_keychain() {
            let _ = runtime().block_on(self.keychain().delete(&self.scope()));
        }
    }
}

/// `refresh_token` at the sandbox, as a client would send it: the HTTP status and body.
async fn refresh_at_sandbox(sandbox: &Sandbox, refresh_token: &str) -> (u16, serde_json::Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .post(format!("{}/oauth/v1/token", sandbox.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &sandbox.client_id()),
            ("client_secret", &sandbox.client_secret()),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[test]
fn connect_signs_in_through_the_browser_and_stores_the_tokens() {
    let hs = Hs::new();
    let run = hs.connect();
    run.ok();
    assert!(
        run.stdout.contains(&format!(
            "connected `hs` to HubSpot (portal {}",
            hs.sandbox.hub_id()
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("signed in; fetching tokens"),
        "{}",
        run.stderr
    );

    let creds = hs.stored().expect("the tokens are in the keychain");
    assert_eq!(creds.kind, CredentialKind::Oauth);
    assert!(creds.refresh_token.is_some());
    assert_eq!(
        creds.client_id.as_deref(),
        Some(hs.sandbox.client_id().as_str())
    );
    assert!(
        creds
            .account
            .as_deref()
            .unwrap()
            .contains(&hs.sandbox.hub_id().to_string())
    );
    // The sandbox grants what was asked for, and crmsync asks for what it needs.
    assert!(
        creds
            .scopes
            .contains(&"crm.objects.contacts.write".to_string()),
        "{:?}",
        creds.scopes
    );
    // The code went through the token endpoint once, with the PKCE verifier accepted.
    let calls = hs.token_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].status, 200);

    let row = hs.connections();
    assert_eq!(row["token_source"], "keychain", "{row}");
    assert_eq!(row["token_state"], "valid", "{row}");
    assert!(
        row["account"]
            .as_str()
            .unwrap()
            .contains(&hs.sandbox.hub_id().to_string()),
        "{row}"
    );

    let check = hs.run(&["--json", "connections", "--check"]);
    check.ok();
    assert_eq!(check.json()[0]["check"], "ok", "{}", check.stdout);
}

#[tokio::test]
async fn a_redirect_with_another_state_is_refused_and_the_real_one_still_signs_in() {
    let sandbox = Sandbox::start(SandboxOptions::default()).unwrap();
    let base = sandbox.base_url();
    let spec = providers::oauth_spec(ProviderKind::Hubspot, Some(&base), None).unwrap();
    let forged_answer = std::sync::Arc::new(Mutex::new(None));
    let opts = SignInOptions {
        timeout: Duration::from_secs(600),
        // The browser first opens a sign-in URL whose `state` is not the one crmsync made,
        // then the real one.
        open_browser: forging_browser(forged_answer.clone()),
        ..SignInOptions::default()
    };
    let result = sign_in(
        &spec,
        &sandbox.client_id(),
        Some(sandbox.client_secret().into()),
        opts,
        &|_| {},
    )
    .await;
    result.expect("the real redirect signs in after the forged one was refused");
    assert_eq!(*forged_answer.lock().unwrap(), Some(400));
    let log = sandbox.request_log();
    assert_eq!(
        log.iter()
            .filter(|r| r.path.starts_with("/oauth/authorize"))
            .count(),
        2,
        "{log:?}"
    );
    assert_eq!(
        log.iter().filter(|r| r.path == "/oauth/v1/token").count(),
        1,
        "only the real redirect's code is exchanged: {log:?}"
    );
}

#[tokio::test]
async fn the_sandbox_refuses_a_code_with_the_wrong_pkce_verifier() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sandbox = Sandbox::start(SandboxOptions::default()).unwrap();
    let base = sandbox.base_url();
    let verifier = "the-verifier-the-client-made-0123456789abcdefghijklmnop";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let redirect_uri = "http://127.0.0.1:9/callback";
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = http
        .get(format!("{base}/oauth/authorize"))
        .query(&[
            ("client_id", sandbox.client_id().as_str()),
            ("redirect_uri", redirect_uri),
            ("scope", "crm.objects.contacts.read"),
            ("state", "s1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status().as_u16(), 302);
    let location = url::Url::parse(authorize.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");

    let exchange = |verifier: &'static str| {
        let (http, code, base) = (http.clone(), code.clone(), base.clone());
        let (id, secret) = (sandbox.client_id(), sandbox.client_secret());
        async move {
            let r = http
                .post(format!("{base}/oauth/v1/token"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", redirect_uri),
                    ("code_verifier", verifier),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, body) = exchange("an-intercepted-code-with-a-guessed-verifier-0123456789").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["status"], "BAD_CODE_VERIFIER", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("code_verifier"),
        "{body}"
    );
    assert!(body.get("access_token").is_none(), "{body}");
    // A refused attempt burns the code: the right verifier cannot redeem it afterwards.
    let (status, body) = exchange(verifier).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["status"], "BAD_AUTH_CODE", "{body}");
}

#[test]
fn access_denied_in_the_browser_exits_1_saying_it_was_refused() {
    let hs = Hs::new();
    hs.sandbox.deny_next_authorize();
    let run = hs.connect();
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("sign-in to HubSpot was refused: access_denied"),
        "{}",
        run.stderr
    );
    assert!(hs.stored().is_none());
    assert!(hs.token_calls().is_empty());
    assert_eq!(hs.connections()["token_state"], "needs sign-in");
}

#[test]
fn no_browser_and_no_redirect_times_out_with_exit_1() {
    let mut hs = Hs::new();
    // Nobody opens the printed URL.
    hs.env.remove_env("CRMSYNC_TEST_BROWSER");
    let client_id = hs.sandbox.client_id();
    let run = hs.run(&[
        "connect",
        "hubspot",
        "--name",
        "hs",
        "--client-id",
        &client_id,
        "--timeout",
        "1",
        "--no-browser",
    ]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("open this URL in a browser to sign in"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("{}/oauth/authorize?", hs.sandbox.base_url())),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("sign-in to HubSpot gave up: no redirect reached `http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("within 1 s"), "{}", run.stderr);
    assert!(hs.stored().is_none());
}

#[test]
fn an_expired_access_token_is_renewed_during_a_sync() {
    let mut hs = Hs::new();
    hs.sandbox.seed(3, 1);
    let before = hs.connected();
    hs.let_the_access_token_expire();
    assert_eq!(hs.connections()["token_state"], "expiring");
    hs.sandbox.clear_request_log();

    let run = hs.run(&["--json", "sync", "-c", "hs"]);
    run.ok();
    let calls = hs.token_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].status, 200);
    // No API call went out with the expired token.
    let refused: Vec<_> = hs
        .sandbox
        .request_log()
        .into_iter()
        .filter(|r| r.status == 401)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");

    let after = hs.stored().unwrap();
    assert_ne!(after.access_token, before.access_token);
    assert_eq!(after.refresh_token, before.refresh_token);
    assert!(after.expires_at > before.expires_at);
    assert_eq!(hs.connections()["token_state"], "valid");
    // The renewed token did the work: the three HubSpot contacts came over.
    let report = run.json();
    let contacts = report["connections"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "contact")
        .cloned()
        .unwrap();
    assert_eq!(contacts["read"], 3, "{report}");
    assert_eq!(contacts["planned"]["local_create"], 3, "{report}");
}

#[test]
fn a_token_the_crm_calls_expired_early_is_renewed_on_the_401() {
    let hs = Hs::new();
    hs.sandbox.seed(2, 0);
    let before = hs.connected();
    // Only HubSpot's clock moves: by crmsync's, the token still has 30 minutes (a skewed
    // clock, or a token HubSpot ended early). The 401 is the only sign. (The skew, more than
    // the change feed's overlap, makes the run finish with exit code 3, saying so.)
    hs.sandbox.advance_clock(PAST_EXPIRY);
    hs.sandbox.clear_request_log();
    let run = hs.run(&["sync", "-c", "hs"]);
    run.expect_code(3);
    assert!(run.stderr.contains("the CRM's clock is"), "{}", run.stderr);
    let log = hs.sandbox.request_log();
    let first_401 = log.iter().position(|r| r.status == 401);
    let refresh = log.iter().position(|r| r.path == "/oauth/v1/token");
    assert!(
        matches!((first_401, refresh), (Some(a), Some(b)) if a < b),
        "a 401, then a refresh: {log:?}"
    );
    assert_eq!(hs.token_calls().len(), 1, "{log:?}");
    assert_ne!(hs.stored().unwrap().access_token, before.access_token);
}

#[test]
fn a_revoked_refresh_token_asks_to_sign_in_again() {
    let hs = Hs::new();
    let creds = hs.connected();
    // An admin uninstalls the app: the refresh token and its access tokens stop working.
    assert!(
        hs.sandbox
            .revoke_refresh_token(creds.refresh_token.as_ref().unwrap().expose())
    );
    let run = hs.run(&["sync", "-c", "hs"]);
    run.expect_code(1);
    assert!(run.stderr.contains(SIGN_IN_AGAIN), "{}", run.stderr);
    assert!(
        run.stderr.contains("revoked or has expired"),
        "{}",
        run.stderr
    );

    // The same after expiry, when the refresh is tried before any API call.
    let mut hs = hs;
    hs.let_the_access_token_expire();
    let run = hs.run(&["sync", "-c", "hs"]);
    run.expect_code(1);
    assert!(run.stderr.contains(SIGN_IN_AGAIN), "{}", run.stderr);
}

#[test]
fn concurrent_syncs_needing_a_refresh_refresh_once() {
    let mut hs = Hs::new();
    hs.sandbox.seed(3, 1);
    let before = hs.connected();
    hs.let_the_access_token_expire();
    // Slow answers, so that both runs are under way while the refresh is in flight.
    hs.sandbox.set_faults(FaultOptions {
        slow_rate: 1.0,
        delay_ms: 300,
        ..FaultOptions::default()
    });
    hs.sandbox.clear_request_log();

    // Two runs of one user at once (two state files, say two cron jobs): they share the
    // keychain entry and, being in one directory, the refresh leases.
    let spawn = |state: &str| {
        hs.env
            .command(&["--state", state, "sync", "-c", "hs"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (hs.env.path("a.db"), hs.env.path("b.db"));
    let children = [spawn(a.to_str().unwrap()), spawn(b.to_str().unwrap())];
    let runs: Vec<Run> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            Run {
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                code: out.status.code().unwrap_or(-1),
            }
        })
        .collect();
    for run in &runs {
        run.ok();
    }
    let calls = hs.token_calls();
    assert_eq!(calls.len(), 1, "one refresh for both runs: {calls:?}");
    let after = hs.stored().unwrap();
    assert_ne!(after.access_token, before.access_token);
    // Both runs worked with the one new token: nothing was refused for its token.
    let refused: Vec<_> = hs
        .sandbox
        .request_log()
        .into_iter()
        .filter(|r| r.status == 401)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

#[test]
fn disconnect_revokes_and_removes_the_tokens() {
    let hs = Hs::new();
    let creds = hs.connected();
    let run = hs.run(&["disconnect", "hs"]);
    run.ok();
    assert!(
        run.stdout
            .contains("disconnected `hs`: revoked its tokens and removed them from the keychain"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    let revokes: Vec<_> = hs
        .sandbox
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains("revoke"))
        .collect();
    assert_eq!(revokes.len(), 1, "{revokes:?}");
    assert_eq!(revokes[0].method, "POST");
    assert_eq!(revokes[0].status, 200);
    // Revoked at HubSpot, not only forgotten here.
    let (status, body) = runtime().block_on(refresh_at_sandbox(
        &hs.sandbox,
        creds.refresh_token.as_ref().unwrap().expose(),
    ));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["status"], "BAD_REFRESH_TOKEN", "{body}");

    assert!(hs.stored().is_none());
    let row = hs.connections();
    assert_eq!(row["token_state"], "needs sign-in", "{row}");
    assert_eq!(row["token_source"], "none", "{row}");
}

#[test]
fn connect_with_a_token_from_the_environment_or_stdin() {
    let mut hs = Hs::new();
    hs.env.set_env("HS_PAT", &hs.sandbox.token());
    let run = hs.run(&[
        "connect",
        "hubspot",
        "--name",
        "hs",
        "--token-env",
        "HS_PAT",
    ]);
    run.ok();
    assert!(
        run.stdout.contains(&format!(
            "connected `hs` to HubSpot (portal {}",
            hs.sandbox.hub_id()
        )),
        "{}",
        run.stdout
    );
    let creds = hs.stored().unwrap();
    assert_eq!(creds.kind, CredentialKind::StaticToken);
    assert_eq!(creds.access_token.expose(), hs.sandbox.token());
    assert!(
        hs.token_calls().is_empty(),
        "no OAuth for a private-app token"
    );
    let row = hs.connections();
    assert_eq!(row["token_source"], "keychain", "{row}");
    assert_eq!(row["token_state"], "valid", "{row}");
    // The stored token serves later runs without the variable.
    hs.env.remove_env("HS_PAT");
    hs.run(&["sync", "-c", "hs"]).ok();

    hs.forget();
    let run = hs.env.run_stdin(
        &["connect", "hubspot", "--name", "hs", "--token-stdin"],
        &format!("{}\n", hs.sandbox.token()),
    );
    run.ok();
    assert_eq!(
        hs.stored().unwrap().access_token.expose(),
        hs.sandbox.token(),
        "the trailing newline is not part of the token"
    );

    // A token the CRM refuses is not stored.
    hs.forget();
    let run = hs.env.run_stdin(
        &["connect", "hubspot", "--name", "hs", "--token-stdin"],
        "pat-na1-not-a-token",
    );
    run.expect_code(1);
    assert!(hs.stored().is_none());

    let run = hs.run(&[
        "connect",
        "hubspot",
        "--name",
        "hs",
        "--token-env",
        "HS_UNSET",
    ]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("`--token-env HS_UNSET`: the variable `HS_UNSET` is not set or empty"),
        "{}",
        run.stderr
    );
}

#[test]
fn without_a_keychain_oauth_fails_naming_the_env_var_and_tokens_warn() {
    let mut hs = Hs::new();
    hs.env.remove_env("CRMSYNC_TEST_KEYRING");
    hs.env.set_env(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/crmsync-test-bus",
    );
    let run = hs.connect();
    run.expect_code(1);
    assert!(
        run.stderr.contains("no keychain is reachable"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("CRMSYNC_TOKEN_HS"), "{}", run.stderr);
    assert!(run.stderr.contains("--token-env VAR"), "{}", run.stderr);
    // Found out before the user was sent through the browser for nothing.
    assert!(
        hs.sandbox.request_log().is_empty(),
        "{:?}",
        hs.sandbox.request_log()
    );

    // A connection already in the config gets the variable's name written into its table,
    // the rest of the file kept as it was.
    hs.env.set_env("HS_PAT", &hs.sandbox.token());
    let before = std::fs::read_to_string(hs.env.config_path()).unwrap();
    let run = hs.run(&[
        "connect",
        "hubspot",
        "--name",
        "hs",
        "--token-env",
        "HS_PAT",
    ]);
    run.ok();
    assert!(
        run.stderr
            .contains("runs read it from `HS_PAT` (now the connection's `token_env` in `"),
        "{}",
        run.stderr
    );
    let after = std::fs::read_to_string(hs.env.config_path()).unwrap();
    assert_eq!(
        after.replace("token_env = \"HS_PAT\"\n", ""),
        before,
        "only the key is added"
    );
    // Runs now find the token through it, with no keychain and no CRMSYNC_TOKEN_HS.
    hs.run(&["mappings", "setup", "-c", "hs"]).ok();
    // A new one, as the README's quick start makes it, keeps the variable's name.
    hs.env.write_config("");
    let base = hs.sandbox.base_url();
    let run = hs.run(&[
        "connect",
        "hubspot",
        "--name",
        "hs",
        "--base-url",
        &base,
        "--token-env",
        "HS_PAT",
    ]);
    run.ok();
    assert!(
        run.stdout.contains("connected `hs` to HubSpot"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("so the token was not stored: runs read it from `HS_PAT` (kept as `token_env` in the config)"),
        "{}",
        run.stderr
    );
    // And that is how a headless run works: the variable named at connect time, kept in
    // the config, with nothing else to set.
    let config = std::fs::read_to_string(hs.env.config_path()).unwrap();
    assert!(config.contains("token_env = \"HS_PAT\""), "{config}");
    hs.run(&["mappings", "setup", "-c", "hs"]).ok();
    hs.run(&["sync", "-c", "hs"]).ok();
    // `CRMSYNC_TOKEN_<NAME>` still comes first.
    hs.env.set_env("CRMSYNC_TOKEN_HS", &hs.sandbox.token());
    hs.env.set_env("HS_PAT", "not-the-token");
    hs.run(&["sync", "-c", "hs"]).ok();
    let row = hs.connections();
    assert_eq!(row["token_source"], "environment", "{row}");
    assert_eq!(row["token_state"], "not checked", "{row}");
    assert!(row["last_successful_sync"].is_i64(), "{row}");

    // Disconnecting has no keychain to clear: it says so, and that the variable still gives
    // access, instead of failing for want of a keychain.
    let run = hs.run(&["disconnect", "hs"]);
    run.ok();
    assert!(
        run.stdout.contains("no tokens were stored in the keychain"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("`CRMSYNC_TOKEN_HS` is still set"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("`HS_PAT` is still set"),
        "{}",
        run.stderr
    );
}

#[test]
fn no_secret_reaches_the_output_the_config_or_the_state_file() {
    let mut hs = Hs::new();
    hs.sandbox.seed(2, 1);
    hs.env.set_env("CRMSYNC_LOG", "trace");
    let client_id = hs.sandbox.client_id();
    let mut runs = vec![hs.run(&[
        "-vvv",
        "connect",
        "hubspot",
        "--name",
        "hs",
        "--client-id",
        &client_id,
    ])];
    runs[0].ok();
    let first = hs.stored().unwrap();
    // The sync renews the token, so the refresh is traced too.
    hs.let_the_access_token_expire();
    runs.push(hs.run(&["-vvv", "sync", "-c", "hs"]));
    runs.push(hs.run(&["-vvv", "status"]));
    runs.push(hs.run(&["-vvv", "--json", "connections", "--check"]));
    let second = hs.stored().unwrap();
    assert_ne!(
        first.access_token, second.access_token,
        "the sync refreshed"
    );

    let secrets = [
        first.access_token.expose().to_string(),
        second.access_token.expose().to_string(),
        first.refresh_token.as_ref().unwrap().expose().to_string(),
        hs.sandbox.client_secret(),
    ];
    let mut places: Vec<(String, Vec<u8>)> = vec![
        (
            "config file".into(),
            std::fs::read(hs.env.config_path()).unwrap(),
        ),
        (
            "state file".into(),
            std::fs::read(hs.env.state_path()).unwrap(),
        ),
    ];
    // Every other file crmsync left in the home, data and config directories (leases, the
    // state file's journal), except the test keychain, which is where the secrets belong.
    places.extend(files_outside(
        hs.env.dir.path(),
        &hs.keychain_dir,
        &[hs.env.config_path(), hs.env.state_path()],
    ));
    for (i, run) in runs.iter().enumerate() {
        // `status` may not be in this build yet; its output is searched all the same.
        if !(i == 2 && run.stderr.contains("is not available in this build yet")) {
            run.ok();
        }
        places.push((
            format!("stdout of run {i}"),
            run.stdout.clone().into_bytes(),
        ));
        places.push((
            format!("stderr of run {i}"),
            run.stderr.clone().into_bytes(),
        ));
    }
    // The trace is real: it shows the calls, so an absent secret means a redacted one.
    assert!(
        runs[1].stderr.lines().count() > 20,
        "expected a trace: {}",
        runs[1].stderr
    );
    assert_no_secret_in(&places, &secrets);
}

#[test]
fn connecting_again_revokes_the_grant_it_replaces() {
    let hs = Hs::new();
    let first = hs.connected();
    let run = hs.connect();
    run.ok();
    assert!(
        run.stderr
            .contains("revoked the tokens this sign-in replaced at HubSpot"),
        "{}",
        run.stderr
    );
    let second = hs.stored().unwrap();
    assert_ne!(first.refresh_token, second.refresh_token);
    let (status, body) = runtime().block_on(refresh_at_sandbox(
        &hs.sandbox,
        first.refresh_token.as_ref().unwrap().expose(),
    ));
    assert_eq!(
        status, 400,
        "the replaced refresh token still works: {body}"
    );
    let (status, body) = runtime().block_on(refresh_at_sandbox(
        &hs.sandbox,
        second.refresh_token.as_ref().unwrap().expose(),
    ));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_stale_token_in_the_environment_is_named_and_connect_warns_about_it() {
    let mut hs = Hs::new();
    hs.env.set_env("CRMSYNC_TOKEN_HS", "stale-token");
    let run = hs.connect();
    run.ok();
    assert!(
        run.stderr.contains(
            "`CRMSYNC_TOKEN_HS` is set and wins over the keychain: runs will use the token in it"
        ),
        "{}",
        run.stderr
    );
    let row = hs.connections();
    assert_eq!(row["token_var"], "CRMSYNC_TOKEN_HS", "{row}");
    assert_eq!(row["token_vars"][0], "CRMSYNC_TOKEN_HS", "{row}");

    let run = hs.run(&["sync", "-c", "hs"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("HubSpot rejected the token in `CRMSYNC_TOKEN_HS` for connection `hs`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("unset `CRMSYNC_TOKEN_HS` to use the keychain entry"),
        "{}",
        run.stderr
    );
    // Unset, the keychain's tokens serve.
    hs.env.remove_env("CRMSYNC_TOKEN_HS");
    hs.run(&["sync", "-c", "hs"]).ok();
}

#[test]
fn connection_names_that_share_a_token_variable_are_refused() {
    let hs = Hs::new();
    let base = hs.sandbox.base_url();
    hs.env.write_config(&format!(
        "[connections.acme-eu]\nprovider = \"hubspot\"\nbase_url = \"{base}\"\n\
         [connections.acme_eu]\nprovider = \"hubspot\"\nbase_url = \"http://127.0.0.1:1\"\n"
    ));
    let run = hs.run(&["connections"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(
            "connections `acme-eu` and `acme_eu` would both read their token from `CRMSYNC_TOKEN_ACME_EU`"
        ),
        "{}",
        run.stderr
    );
}

/// One variable read by two connections would send one token to both hosts: two `token_env`
/// naming it, or one naming another connection's `CRMSYNC_TOKEN_<NAME>`, are refused with the
/// line, both connections and the variable. Its own `CRMSYNC_TOKEN_<NAME>` is allowed.
#[test]
fn connections_whose_token_env_is_one_variable_are_refused_at_its_line() {
    let hs = Hs::new();
    let base = hs.sandbox.base_url();
    let head = format!("[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"{base}\"\n");
    let cases = [
        (
            "token_env = \"SHARED\"\n[connections.other]\nprovider = \"hubspot\"\ntoken_env = \"SHARED\"\n",
            "line 7, column 13: connections `hs` and `other` both read their token from `SHARED` (`token_env`): one token would be sent to both connections' hosts",
        ),
        (
            "[connections.other]\nprovider = \"hubspot\"\n\ntoken_env = \"CRMSYNC_TOKEN_HS\"\n",
            "line 7, column 13: `connections.other.token_env` is `CRMSYNC_TOKEN_HS`, the variable connection `hs` reads its token from: one token would be sent to both connections' hosts",
        ),
    ];
    for (tail, want) in cases {
        hs.env.write_config(&format!("{head}{tail}"));
        let run = hs.run(&["connections"]);
        run.expect_code(2);
        assert!(run.stderr.contains(want), "{tail}\n{}", run.stderr);
        assert!(
            run.stderr.contains("config.toml`, line 7"),
            "{}",
            run.stderr
        );
    }
    hs.env.write_config(&format!(
        "{head}token_env = \"CRMSYNC_TOKEN_HS\"\n[connections.other]\nprovider = \"hubspot\"\ntoken_env = \"OTHER\"\n"
    ));
    hs.run(&["connections"]).ok();
}

/// Credentials the keychain records for another account than the one the connection's links
/// were made in are refused at `sync` before anything is sent (exit 2), saying what to do.
#[test]
fn a_sync_with_credentials_of_another_account_than_its_links_sends_nothing() {
    let hs = Hs::new();
    let mut creds = hs.connected();
    hs.run(&["sync", "-c", "hs"]).ok();
    let hub = hs.sandbox.hub_id().to_string();
    assert_eq!(hs.connections()["linked_account"], hub.as_str());
    creds.account_id = Some("999".into());
    runtime()
        .block_on(hs.keychain().save(&hs.scope(), &creds))
        .unwrap();
    hs.sandbox.clear_request_log();
    let run = hs.run(&["sync", "-c", "hs"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(&format!(
            "the keychain holds credentials of connection `hs` for HubSpot account 999, but its links were made in account {hub}; they were not used and nothing was sent"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "run `crmsync disconnect hs`, then `crmsync connect hubspot --name hs` signing in to account {hub}; to move `hs` to account 999, run `crmsync connections forget-links hs`"
        )),
        "{}",
        run.stderr
    );
    let log = hs.sandbox.request_log();
    assert!(log.is_empty(), "{log:?}");
}

/// A second config with a connection of the same name at another host (here: another
/// sandbox) finds no credentials: it sends the first one's tokens nowhere, and its
/// `disconnect` leaves them alone.
#[test]
fn a_same_named_connection_at_another_host_never_gets_the_credentials() {
    let hs = Hs::new();
    let creds = hs.connected();
    let other = Sandbox::start(SandboxOptions::default()).unwrap();
    let mut env = TestEnv::new();
    use_keychain(&mut env, &hs.keychain_dir);
    env.write_config(&format!(
        "[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n",
        other.base_url()
    ));
    let run = env.run(&["sync", "-c", "hs"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("the keychain has no credentials for it"),
        "{}",
        run.stderr
    );
    env.run(&["disconnect", "hs"]).ok();
    let log = other.request_log();
    assert!(
        log.iter()
            .all(|r| !r.path.starts_with("/oauth") && !r.path.starts_with("/crm")),
        "{log:?}"
    );
    assert_eq!(hs.stored().unwrap().refresh_token, creds.refresh_token);
    hs.run(&["sync", "-c", "hs"]).ok();
}

/// The browser is started by the system opener (`xdg-open`, here a script that records its
/// environment and plays the user with curl); crmsync's secrets are not in its environment.
#[cfg(target_os = "linux")]
#[test]
fn the_browser_is_started_without_crmsync_secrets_in_its_environment() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no curl to play the browser");
        return;
    }
    let mut hs = Hs::new();
    hs.env.remove_env("CRMSYNC_TEST_BROWSER");
    let bin = hs.env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let seen = hs.env.path("browser-env");
    let script = bin.join("xdg-open");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nenv > '{}.tmp' && mv '{}.tmp' '{}'\nexec curl -s -L -o /dev/null \"$1\"\n",
            seen.display(),
            seen.display(),
            seen.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    hs.env.set_env("PATH", &path);
    hs.env.set_env("DISPLAY", ":0");
    hs.env
        .set_env("CRMSYNC_TOKEN_SOMEWHERE", "token-for-elsewhere");
    hs.connect().ok();
    let env = std::fs::read_to_string(&seen).unwrap();
    assert!(env.contains("DISPLAY=:0"), "{env}");
    assert!(!env.contains("CRMSYNC_TOKEN_"), "{env}");
    assert!(!env.contains("CRMSYNC_CLIENT_SECRET_"), "{env}");
    assert!(!env.contains(&hs.sandbox.client_secret()), "{env}");
}

fn rotating() -> SandboxOptions {
    SandboxOptions {
        rotate_refresh_tokens: true,
        ..SandboxOptions::default()
    }
}

/// A CRM that rotates refresh tokens: each refresh's new refresh token is saved before the
/// run goes on, so the next refresh (in another process) uses it, and the old one is void.
#[test]
fn a_rotated_refresh_token_is_saved_and_used_by_the_next_refresh() {
    let mut hs = Hs::with(rotating());
    hs.sandbox.seed(2, 1);
    let first = hs.connected();
    hs.let_the_access_token_expire();
    hs.run(&["sync", "-c", "hs"]).ok();
    let second = hs.stored().unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    let (status, body) = runtime().block_on(refresh_at_sandbox(
        &hs.sandbox,
        first.refresh_token.as_ref().unwrap().expose(),
    ));
    assert_eq!(status, 400, "the sandbox rotated it away: {body}");

    hs.sandbox.advance_clock(PAST_EXPIRY);
    hs.env.set_env("CRMSYNC_TEST_NOW", "2026-01-15T13:02:00Z");
    hs.run(&["sync", "-c", "hs"]).ok();
    let third = hs.stored().unwrap();
    assert_ne!(third.refresh_token, second.refresh_token);
    assert_eq!(
        hs.token_calls().iter().filter(|c| c.status == 200).count(),
        3
    );
}

/// Killed between the token endpoint's answer and the save: the new tokens are lost with
/// the process, but were never used (no call went out with them), the stored entry is the old
/// one, whole, and the lease the dead process left is taken over at once by the next run,
/// which says that the (rotated-away) refresh token no longer works and to sign in again.
#[test]
fn a_kill_between_the_refresh_answer_and_the_save_leaves_the_old_entry_and_no_stall() {
    let mut hs = Hs::with(rotating());
    hs.sandbox.seed(2, 1);
    let first = hs.connected();
    hs.let_the_access_token_expire();
    hs.sandbox.clear_request_log();
    hs.env.set_env("CRMSYNC_TEST_KILL_BEFORE_TOKEN_SAVE", "1");
    let run = hs.run(&["sync", "-c", "hs"]);
    assert_eq!(run.code, -1, "killed by a signal\n{}", run.stderr);
    let log = hs.sandbox.request_log();
    let token_at = log
        .iter()
        .position(|r| r.path == "/oauth/v1/token" && r.status == 200)
        .unwrap_or_else(|| panic!("the refresh was answered: {log:?}"));
    assert_eq!(
        token_at,
        log.len() - 1,
        "nothing was called after it: {log:?}"
    );
    let kept = hs.stored().unwrap();
    assert_eq!(kept.refresh_token, first.refresh_token);
    assert_eq!(kept.access_token, first.access_token);

    hs.env.remove_env("CRMSYNC_TEST_KILL_BEFORE_TOKEN_SAVE");
    let run = hs.run(&["-v", "sync", "-c", "hs"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("which is no longer running; taking it over"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(SIGN_IN_AGAIN), "{}", run.stderr);
    // Signing in again mends it.
    hs.connect().ok();
    hs.run(&["sync", "-c", "hs"]).ok();
}
