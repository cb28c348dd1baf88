//! `crmsync connect pipedrive` end to end: the crmsync binary signing in to the Pipedrive
//! sandbox's OAuth endpoints (authorization code with `state`, no PKCE, the client secret in
//! HTTP Basic at the token endpoint), the browser played by `CRMSYNC_TEST_BROWSER=follow`.
//!
//! The keychain is the one `connect_e2e` uses: files under the test's directory
//! (`CRMSYNC_TEST_KEYRING=file:<dir>`), or the real Secret Service when
//! `CRMSYNC_TEST_SECRET_SERVICE=1` (`bash .ci/secret-service.sh cargo test --test
//! connect_pipedrive`), when the tests take turns.

mod common;

use std::path::PathBuf;
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
use crmsync::sandbox::LoggedRequest;
use crmsync::sandbox::pipedrive::{PipedriveOptions, PipedriveSandbox};

/// 61 minutes after the `CRMSYNC_TEST_NOW` of [`TestEnv`]: past the sandbox's 3599 s tokens.
const LATER: &str = "2026-01-15T13:01:00Z";
const PAST_EXPIRY: Duration = Duration::from_secs(61 * 60);

/// A user's machine whose config names connection `pd` at the Pipedrive sandbox, and the
/// sandbox.
struct Pd {
    env: TestEnv,
    sandbox: PipedriveSandbox,
    keychain_dir: PathBuf,
    _turn: Option<MutexGuard<'static, ()>>,
}

impl Pd {
    fn new() -> Pd {
        Pd::with(PipedriveOptions::default())
    }

    fn with(options: PipedriveOptions) -> Pd {
        let turn = keychain_turn();
        let sandbox = PipedriveSandbox::start(PipedriveOptions {
            client_secret: format!("client-secret-{:016x}", rand::random::<u64>()),
            burst_limit: 10_000,
            ..options
        })
        .unwrap();
        let mut env = TestEnv::new();
        let keychain_dir = env.path("keychain");
        use_keychain(&mut env, &keychain_dir);
        env.set_env("CRMSYNC_CLIENT_SECRET_PD", &sandbox.client_credentials().1);
        env.set_env("CRMSYNC_TEST_BROWSER", "follow");
        let base = sandbox.base_url();
        env.write_config(&format!(
            "[connections.pd]\nprovider = \"pipedrive\"\nbase_url = \"{base}\"\n"
        ));
        let pd = Pd {
            env,
            sandbox,
            keychain_dir,
            _turn: turn,
        };
        pd.forget();
        pd
    }

    fn keychain(&self) -> Keychain {
        keychain_at(&self.keychain_dir)
    }

    /// What connection `pd`'s credentials are issued for: the sandbox's host.
    fn scope(&self) -> CredentialScope {
        sandbox_scope("pd", ProviderKind::Pipedrive, &self.sandbox.base_url())
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
        self.connect_with(&[])
    }

    /// `connect pipedrive --name pd --client-id ID`, after the global options `before`.
    fn connect_with(&self, before: &[&str]) -> Run {
        let client_id = self.sandbox.client_credentials().0;
        let mut args = before.to_vec();
        args.extend(["connect", "pipedrive", "--name", "pd", "--client-id"]);
        args.push(&client_id);
        self.run(&args)
    }

    fn connected(&self) -> Credentials {
        self.connect().ok();
        self.stored().expect("connect stored credentials")
    }

    fn let_the_access_token_expire(&mut self) {
        self.sandbox.advance_clock(PAST_EXPIRY);
        self.env.set_env("CRMSYNC_TEST_NOW", LATER);
    }

    fn token_calls(&self) -> Vec<LoggedRequest> {
        self.sandbox
            .request_log()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.starts_with("/oauth/token"))
            .collect()
    }

    fn check(&self) -> serde_json::Value {
        let run = self.run(&["--json", "connections", "--check"]);
        run.ok();
        run.json()
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pd")
            .cloned()
            .unwrap_or_else(|| panic!("no `pd` in {}", run.stdout))
    }
}

impl Drop for Pd {
    fn drop(&mut self) {
        if real_keychain() {
            let _ = runtime().block_on(self.keychain().delete(&self.scope()));
        }
    }
}

/// `refresh_token` at the sandbox, as Pipedrive documents it: the client in HTTP Basic.
async fn refresh_at_sandbox(sandbox: &PipedriveSandbox, refresh_token: &str) -> u16 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (id, secret) = sandbox.client_credentials();
    reqwest::Client::new()
        .post(format!("{}/oauth/token/", sandbox.base_url()))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn connect_signs_in_through_the_browser_and_stores_the_tokens() {
    let pd = Pd::new();
    let run = pd.connect();
    run.ok();
    assert!(
        run.stdout
            .contains("connected `pd` to Pipedrive (Sandbox Company (company 1)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("signed in; fetching tokens"),
        "{}",
        run.stderr
    );
    let creds = pd.stored().expect("the tokens are in the keychain");
    assert_eq!(creds.kind, CredentialKind::Oauth);
    assert!(creds.refresh_token.is_some());
    assert_eq!(creds.account_id.as_deref(), Some("1"));
    assert_eq!(
        creds.extra.get("api_domain"),
        Some(&pd.sandbox.base_url()),
        "the API host the token answer named"
    );
    assert!(creds.scopes.contains(&"contacts:full".to_string()));

    let log = pd.sandbox.request_log();
    // No scopes and no PKCE in the authorize URL: Pipedrive takes neither.
    let authorize = log
        .iter()
        .find(|r| r.path.starts_with("/oauth/authorize"))
        .unwrap_or_else(|| panic!("{log:?}"));
    assert!(authorize.path.contains("state="), "{}", authorize.path);
    assert!(
        !authorize.path.contains("code_challenge"),
        "{}",
        authorize.path
    );
    assert!(!authorize.path.contains("scope="), "{}", authorize.path);
    // One exchange, accepted: the sandbox takes the client only in HTTP Basic.
    let calls = pd.token_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].status, 200);
    // The account call went out with the OAuth token as Bearer and was answered.
    assert!(
        log.iter()
            .any(|r| r.path.starts_with("/api/v1/users/me") && r.status == 200),
        "{log:?}"
    );

    let row = pd.check();
    assert_eq!(row["token_source"], "keychain", "{row}");
    assert_eq!(row["check"], "ok", "{row}");
}

#[tokio::test]
async fn a_redirect_with_another_state_is_refused_and_the_real_one_still_signs_in() {
    let sandbox = PipedriveSandbox::start(PipedriveOptions::default()).unwrap();
    let base = sandbox.base_url();
    let spec = providers::oauth_spec(ProviderKind::Pipedrive, Some(&base), None).unwrap();
    assert!(!spec.pkce);
    let forged_answer = std::sync::Arc::new(Mutex::new(None));
    let opts = SignInOptions {
        timeout: Duration::from_secs(600),
        // A sign-in URL whose `state` is not crmsync's first, then the real one.
        open_browser: forging_browser(forged_answer.clone()),
        ..SignInOptions::default()
    };
    let (id, secret) = sandbox.client_credentials();
    let creds = sign_in(&spec, &id, Some(secret.into()), opts, &|_| {})
        .await
        .expect("the real redirect signs in after the forged one was refused");
    assert_eq!(creds.provider, ProviderKind::Pipedrive);
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
        log.iter().filter(|r| r.path == "/oauth/token").count(),
        1,
        "only the real redirect's code is exchanged: {log:?}"
    );
}

#[test]
fn a_wrong_client_secret_is_refused_at_the_token_endpoint_and_nothing_is_stored() {
    let mut pd = Pd::new();
    pd.env.set_env("CRMSYNC_CLIENT_SECRET_PD", "not-the-secret");
    let run = pd.connect();
    run.expect_code(1);
    assert!(
        run.stderr.contains(
            "Pipedrive's token endpoint refused the authorization code: 401 invalid_client"
        ),
        "{}",
        run.stderr
    );
    assert!(pd.stored().is_none());
}

fn rotating() -> PipedriveOptions {
    PipedriveOptions {
        rotate_refresh_tokens: true,
        ..PipedriveOptions::default()
    }
}

/// An expired access token is renewed before the call; the rotated refresh token is saved and
/// used by the next refresh (in another process), the old one being void.
#[test]
fn an_expired_token_is_refreshed_and_the_rotated_refresh_token_saved() {
    let mut pd = Pd::with(rotating());
    let first = pd.connected();
    pd.let_the_access_token_expire();
    pd.sandbox.clear_request_log();
    assert_eq!(pd.check()["check"], "ok");
    let calls = pd.token_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].status, 200);
    let refused: Vec<_> = pd
        .sandbox
        .request_log()
        .into_iter()
        .filter(|r| r.status == 401)
        .collect();
    assert!(
        refused.is_empty(),
        "no call went out with the expired token: {refused:?}"
    );
    let second = pd.stored().unwrap();
    assert_ne!(second.access_token, first.access_token);
    assert_ne!(second.refresh_token, first.refresh_token);
    assert!(second.expires_at > first.expires_at);
    assert_eq!(
        second.extra.get("api_domain"),
        first.extra.get("api_domain")
    );
    let old = first.refresh_token.as_ref().unwrap().expose().to_string();
    assert_eq!(
        runtime().block_on(refresh_at_sandbox(&pd.sandbox, &old)),
        400,
        "the sandbox rotated it away"
    );

    pd.sandbox.advance_clock(PAST_EXPIRY);
    pd.env.set_env("CRMSYNC_TEST_NOW", "2026-01-15T14:02:00Z");
    assert_eq!(pd.check()["check"], "ok");
    let third = pd.stored().unwrap();
    assert_ne!(third.refresh_token, second.refresh_token);
    assert_eq!(
        pd.token_calls().iter().filter(|c| c.status == 200).count(),
        2
    );
}

/// `POST /oauth/revoke` at the sandbox, as Pipedrive documents it (RFC 7009, the client in
/// HTTP Basic): the HTTP status.
async fn revoke_at_sandbox(
    sandbox: &PipedriveSandbox,
    secret: &str,
    token: &str,
    hint: &str,
) -> u16 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (id, _) = sandbox.client_credentials();
    reqwest::Client::new()
        .post(format!("{}/oauth/revoke", sandbox.base_url()))
        .basic_auth(id, Some(secret))
        .form(&[("token", token), ("token_type_hint", hint)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The status of an API call made with OAuth access token `access`.
async fn call_with(sandbox: &PipedriveSandbox, access: &str) -> u16 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .get(format!("{}/api/v1/users/me", sandbox.base_url()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

impl Pd {
    /// Whether `creds`' refresh token still mints access tokens, and their access token still
    /// calls the API, at the sandbox.
    fn grant_works(&self, creds: &Credentials) -> (bool, bool) {
        let refresh = creds.refresh_token.as_ref().unwrap().expose();
        let rt = runtime();
        (
            rt.block_on(refresh_at_sandbox(&self.sandbox, refresh)) == 200,
            rt.block_on(call_with(&self.sandbox, creds.access_token.expose())) == 200,
        )
    }

    fn revoke_calls(&self) -> Vec<LoggedRequest> {
        self.sandbox
            .request_log()
            .into_iter()
            .filter(|r| r.path.starts_with("/oauth/revoke"))
            .collect()
    }

    /// `connect pipedrive --name pd --token-env PD_TOKEN`, the variable holding the sandbox's
    /// API token.
    fn connect_with_the_api_token(&mut self) -> Run {
        self.env.set_env("PD_TOKEN", &self.sandbox.api_token());
        self.run(&[
            "connect",
            "pipedrive",
            "--name",
            "pd",
            "--token-env",
            "PD_TOKEN",
        ])
    }
}

/// `connect` succeeded and revoked the grant its credentials replaced.
fn says_the_replaced_grant_was_revoked(run: &Run) {
    run.ok();
    assert!(
        run.stderr
            .contains("revoked the tokens this sign-in replaced at Pipedrive"),
        "{}",
        run.stderr
    );
}

/// The sandbox's `/oauth/revoke`: the client must authenticate (401 otherwise, changing
/// nothing); an access token is revoked alone; a refresh token with its grant, the access
/// tokens minted from it included; an unknown token is no error (RFC 7009 §2.2).
#[test]
fn the_sandbox_revokes_an_access_token_alone_and_a_refresh_token_with_its_grant() {
    let pd = Pd::new();
    let creds = pd.connected();
    let secret = pd.sandbox.client_credentials().1;
    let refresh = creds.refresh_token.as_ref().unwrap().expose();
    let access = creds.access_token.expose();
    let rt = runtime();
    let revoke = |secret: &str, token: &str, hint: &str| {
        rt.block_on(revoke_at_sandbox(&pd.sandbox, secret, token, hint))
    };
    assert_eq!(revoke("not-the-secret", refresh, "refresh_token"), 401);
    assert_eq!(pd.grant_works(&creds), (true, true), "nothing was revoked");
    assert_eq!(revoke(&secret, "1:unknown", "refresh_token"), 200);
    assert_eq!(revoke(&secret, "", "refresh_token"), 400);

    assert_eq!(revoke(&secret, access, "access_token"), 200);
    assert_eq!(
        pd.grant_works(&creds),
        (true, false),
        "the access token alone"
    );

    let minted = {
        let (id, secret) = pd.sandbox.client_credentials();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let answer: serde_json::Value = rt.block_on(async {
            reqwest::Client::new()
                .post(format!("{}/oauth/token/", pd.sandbox.base_url()))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        answer["access_token"].as_str().unwrap().to_string()
    };
    assert_eq!(rt.block_on(call_with(&pd.sandbox, &minted)), 200);
    assert_eq!(revoke(&secret, refresh, "refresh_token"), 200);
    assert_eq!(pd.grant_works(&creds), (false, false));
    assert_eq!(
        rt.block_on(call_with(&pd.sandbox, &minted)),
        401,
        "an access token minted from the revoked refresh token"
    );
    assert_eq!(revoke(&secret, refresh, "refresh_token"), 200, "again");
}

/// `disconnect` revokes the grant at Pipedrive's revocation endpoint (the refresh token, the
/// client in HTTP Basic), then removes the tokens from the keychain.
#[test]
fn disconnect_revokes_the_grant_and_removes_the_tokens() {
    let pd = Pd::new();
    let creds = pd.connected();
    let run = pd.run(&["disconnect", "pd"]);
    run.ok();
    assert!(
        run.stdout
            .contains("disconnected `pd`: revoked its tokens and removed them from the keychain"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stderr.contains("revoke"), "{}", run.stderr);
    let revokes = pd.revoke_calls();
    assert_eq!(revokes.len(), 1, "{revokes:?}");
    assert_eq!(
        (revokes[0].method.as_str(), revokes[0].status),
        ("POST", 200)
    );
    // Revoked at Pipedrive, not only forgotten here.
    assert_eq!(pd.grant_works(&creds), (false, false));
    assert!(pd.stored().is_none());
    let rows = pd.run(&["--json", "connections"]);
    rows.ok();
    let row = rows.json()[0].clone();
    assert_eq!(row["token_state"], "needs sign-in", "{row}");
}

#[test]
fn connecting_again_revokes_the_grant_it_replaces() {
    let pd = Pd::new();
    let first = pd.connected();
    let run = pd.connect_with(&["--json"]);
    run.ok();
    assert_eq!(run.json()["replaced_grant"], "revoked", "{}", run.stdout);
    let second = pd.stored().unwrap();
    assert_ne!(first.refresh_token, second.refresh_token);
    assert_eq!(pd.grant_works(&first), (false, false), "the replaced grant");
    assert_eq!(pd.grant_works(&second), (true, true));
    let run = pd.connect();
    says_the_replaced_grant_was_revoked(&run);
    assert_eq!(pd.grant_works(&second), (false, false));
}

/// A revocation that fails (Pipedrive's OAuth server answering 503) leaves the new sign-in
/// stored and says that the old grant still gives access and what ends it.
#[test]
fn a_failed_revocation_keeps_the_new_sign_in_and_says_the_old_grant_lives_on() {
    let pd = Pd::new();
    let first = pd.connected();
    pd.sandbox.fail_revocations(Some(503));
    let run = pd.connect();
    run.ok();
    assert!(
        run.stderr.contains(
            "the tokens this sign-in replaced were NOT revoked at Pipedrive (Pipedrive's token endpoint refused the revocation: 503"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "remove crmsync's access in Pipedrive's settings, which ends the new one too, then run `crmsync connect pipedrive --name pd` again"
        ),
        "{}",
        run.stderr
    );
    let second = pd.stored().expect("the new sign-in is stored");
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(pd.grant_works(&first), (true, true), "not revoked");
    assert_eq!(pd.grant_works(&second), (true, true));
    assert_eq!(pd.revoke_calls()[0].status, 503);

    let run = pd.connect_with(&["--json"]);
    run.ok();
    let replaced = run.json()["replaced_grant"].clone();
    assert!(
        replaced.as_str().unwrap().starts_with("not revoked: "),
        "{replaced}"
    );
    assert_eq!(pd.stored().unwrap().kind, CredentialKind::Oauth);
}

/// An API token cannot be revoked through Pipedrive's API: a sign-in that replaces one sends
/// no revocation and says so, and so does `disconnect`; a token that replaces a sign-in
/// revokes the sign-in's grant.
#[test]
fn an_api_token_is_not_revocable_and_connect_and_disconnect_say_so() {
    let mut pd = Pd::new();
    pd.connect_with_the_api_token().ok();
    assert_eq!(pd.stored().unwrap().kind, CredentialKind::StaticToken);
    let run = pd.connect();
    run.ok();
    assert!(
        run.stderr.contains(
            "Pipedrive cannot revoke the token this replaced; revoke it in the CRM's settings"
        ),
        "{}",
        run.stderr
    );
    assert!(pd.revoke_calls().is_empty(), "{:?}", pd.revoke_calls());
    let signed_in = pd.stored().unwrap();
    assert_eq!(signed_in.kind, CredentialKind::Oauth);

    let run = pd.connect_with_the_api_token();
    says_the_replaced_grant_was_revoked(&run);
    assert_eq!(pd.grant_works(&signed_in), (false, false));

    pd.sandbox.clear_request_log();
    let run = pd.run(&["disconnect", "pd"]);
    run.ok();
    assert!(
        run.stdout
            .contains("disconnected `pd`: removed its tokens from the keychain"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(
            "the private-app or API token it held cannot be revoked through Pipedrive's API and still gives access: delete or regenerate it in Pipedrive's settings"
        ),
        "{}",
        run.stderr
    );
    assert!(pd.revoke_calls().is_empty(), "{:?}", pd.revoke_calls());
    assert!(pd.stored().is_none());
    let run = pd.run(&["--json", "disconnect", "pd"]);
    run.ok();
    assert_eq!(run.json()["token_kind"], serde_json::Value::Null);
}

/// `connect --name X` for a connection the config would refuse is refused before the
/// browser, the CRM or the keychain is touched: a name whose token variable is another
/// connection's, a `--token-env` variable another connection reads.
#[test]
fn a_connection_the_config_would_refuse_is_refused_before_signing_in() {
    let mut pd = Pd::new();
    let base = pd.sandbox.base_url();
    let client_id = pd.sandbox.client_credentials().0;
    let config = format!(
        "[connections.pd]\nprovider = \"pipedrive\"\nbase_url = \"{base}\"\n\
         [connections.acme-eu]\nprovider = \"pipedrive\"\nbase_url = \"{base}\"\n\
         [connections.other]\nprovider = \"pipedrive\"\nbase_url = \"{base}\"\ntoken_env = \"SHARED\"\n"
    );
    pd.env.write_config(&config);
    pd.env.set_env(
        "CRMSYNC_CLIENT_SECRET_ACME_EU",
        &pd.sandbox.client_credentials().1,
    );
    pd.env.set_env("SHARED", &pd.sandbox.api_token());
    let attempts: [(&[&str], &str); 4] = [
        (
            &[
                "--name",
                "acme_eu",
                "--base-url",
                &base,
                "--client-id",
                &client_id,
            ],
            "connection `acme_eu` cannot be added to the config: connections `acme-eu` and `acme_eu` would both read their token from `CRMSYNC_TOKEN_ACME_EU`",
        ),
        (
            &[
                "--name",
                "new",
                "--base-url",
                &base,
                "--token-env",
                "SHARED",
            ],
            "connection `new` cannot be added to the config: connections `new` and `other` both read their token from `SHARED`",
        ),
        (
            &[
                "--name",
                "new",
                "--base-url",
                &base,
                "--token-env",
                "CRMSYNC_TOKEN_PD",
            ],
            "`connections.new.token_env` is `CRMSYNC_TOKEN_PD`, the variable connection `pd` reads its token from",
        ),
        (
            &["--name", "pd", "--token-env", "SHARED"],
            "connection `pd` cannot be given that token variable: connections `other` and `pd` both read their token from `SHARED`",
        ),
    ];
    for (args, want) in attempts {
        let mut line = vec!["connect", "pipedrive"];
        line.extend(args);
        let run = pd.run(&line);
        run.expect_code(2);
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("nothing was signed in to or stored"),
            "{}",
            run.stderr
        );
        assert!(
            pd.sandbox.request_log().is_empty(),
            "{args:?}: {:?}",
            pd.sandbox.request_log()
        );
        let keychain = pd.keychain();
        for name in ["acme_eu", "new", "pd"] {
            let scope = sandbox_scope(name, ProviderKind::Pipedrive, &base);
            assert!(
                runtime().block_on(keychain.load(&scope)).unwrap().is_none(),
                "{args:?}: an entry for `{name}`"
            );
        }
        assert_eq!(
            std::fs::read_to_string(pd.env.config_path()).unwrap(),
            config
        );
    }
}

#[test]
fn no_token_reaches_the_output_the_config_or_any_file_but_the_keychain() {
    let mut pd = Pd::new();
    pd.env.set_env("CRMSYNC_LOG", "trace");
    let mut runs = vec![pd.connect_with(&["-vvv"])];
    runs[0].ok();
    let first = pd.stored().unwrap();
    pd.let_the_access_token_expire();
    runs.push(pd.run(&["-vvv", "--json", "connections", "--check"]));
    let second = pd.stored().unwrap();
    assert_ne!(
        first.access_token, second.access_token,
        "the check refreshed"
    );
    let secrets = [
        first.access_token.expose().to_string(),
        second.access_token.expose().to_string(),
        first.refresh_token.as_ref().unwrap().expose().to_string(),
        pd.sandbox.client_credentials().1,
    ];
    let mut places = files_outside(pd.env.dir.path(), &pd.keychain_dir, &[]);
    assert!(
        places.iter().any(|(p, _)| p.ends_with("config.toml")),
        "the config is searched: {:?}",
        places.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    for (i, run) in runs.iter().enumerate() {
        run.ok();
        places.push((
            format!("stdout of run {i}"),
            run.stdout.clone().into_bytes(),
        ));
        places.push((
            format!("stderr of run {i}"),
            run.stderr.clone().into_bytes(),
        ));
    }
    assert!(
        runs[0].stderr.lines().count() > 5,
        "expected a trace: {}",
        runs[0].stderr
    );
    assert_no_secret_in(&places, &secrets);
}

/// The token answer's `api_domain` names the account's own API host: when it is not the
/// connection's `base_url`, it becomes it (in the config), and the credentials are stored as
/// issued for it. (The connection signs in at `localhost`; the sandbox names `127.0.0.1`.)
#[test]
fn the_api_domain_of_the_token_answer_becomes_the_connections_base_url() {
    let pd = Pd::new();
    let base = pd.sandbox.base_url();
    let signed_in_at = base.replace("127.0.0.1", "localhost");
    pd.env.write_config(&format!(
        "# mine\n[connections.pd]\nprovider = \"pipedrive\"\nbase_url = \"{signed_in_at}\"\n"
    ));
    let run = pd.connect();
    run.ok();
    assert!(
        run.stderr.contains(&format!(
            "set `base_url = \"{base}\"` in `[connections.pd]`"
        )),
        "{}",
        run.stderr
    );
    let config = std::fs::read_to_string(pd.env.config_path()).unwrap();
    assert_eq!(
        config,
        format!("# mine\n[connections.pd]\nprovider = \"pipedrive\"\nbase_url = \"{base}\"\n")
    );
    // Stored as issued for the API host the token answer named, which `scope` is.
    let creds = pd.stored().expect("stored for the api_domain's host");
    assert_eq!(
        creds.api_host.as_deref(),
        Some(pd.scope().api_host.as_str())
    );
    assert_eq!(pd.check()["check"], "ok");
}
