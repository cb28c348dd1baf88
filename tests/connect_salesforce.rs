//! `crmsync connect salesforce` end to end against a scripted login host and instance on
//! 127.0.0.1: the browser sign-in with PKCE (S256) and `state` at
//! `/services/oauth2/authorize`, the code exchanged at `/services/oauth2/token` with the client
//! secret and the verifier in the form, the token answer's `instance_url` written to the
//! config, the account read from `/services/oauth2/userinfo`, and `disconnect` revoking the
//! grant at `/services/oauth2/revoke`. The browser is played by `CRMSYNC_TEST_BROWSER=follow`,
//! the keychain by files under the test's directory.

mod common;

use std::sync::{Arc, Mutex};

use serde_json::json;

use common::TestEnv;
use common::fake_http::{Answer, Fake, Seen, answer};
use common::keychain::{keychain_at, keychain_turn, runtime, use_keychain};
use crmsync::auth::{CredentialKind, CredentialScope};
use crmsync::providers::ProviderKind;

/// The scripted login host and instance (one server), answering as Salesforce's OAuth guide
/// and REST API describe.
fn salesforce() -> Fake {
    let base = Arc::new(Mutex::new(String::new()));
    let b = base.clone();
    let fake = Fake::start(move |req: &Seen, _| {
        let base = b.lock().unwrap().clone();
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/services/oauth2/authorize") => {
                let to = format!(
                    "{}?code=the-code&state={}",
                    req.query["redirect_uri"], req.query["state"]
                );
                Answer {
                    status: 302,
                    headers: vec![("Location".into(), to)],
                    body: String::new(),
                }
            }
            ("POST", "/services/oauth2/token") => answer(
                200,
                json!({
                    "access_token": "00DORG!access", "refresh_token": "5Aep-refresh",
                    "instance_url": base, "id": format!("{base}/id/00DORG/005USR"),
                    "issued_at": "1768478400000", "signature": "c2lnbmF0dXJl",
                    "scope": "api refresh_token", "token_type": "Bearer"
                }),
            ),
            ("GET", "/services/oauth2/userinfo") => answer(
                200,
                json!({ "sub": format!("{base}/id/00DORG/005USR"), "organization_id": "00DORG",
                        "user_id": "005USR", "preferred_username": "ann@acme.test" }),
            ),
            ("POST", "/services/oauth2/revoke") => answer(200, serde_json::Value::Null),
            other => panic!("unexpected {other:?}"),
        }
    });
    *base.lock().unwrap() = fake.url.clone();
    fake
}

fn form(req: &Seen) -> std::collections::BTreeMap<String, String> {
    url::form_urlencoded::parse(req.text.as_bytes())
        .into_owned()
        .collect()
}

#[test]
fn connect_signs_in_with_pkce_on_the_login_host_and_disconnect_revokes() {
    let _turn = keychain_turn();
    let sf = salesforce();
    let mut env = TestEnv::new();
    let keychain_dir = env.path("keychain");
    use_keychain(&mut env, &keychain_dir);
    env.set_env("CRMSYNC_CLIENT_SECRET_SF", "the-secret");
    env.set_env("CRMSYNC_TEST_BROWSER", "follow");
    env.write_config(&format!(
        "[connections.sf]\nprovider = \"salesforce\"\nlogin_url = \"{}\"\n",
        sf.url
    ));
    let run = env.run(&[
        "connect",
        "salesforce",
        "--name",
        "sf",
        "--client-id",
        "KEY",
    ]);
    run.ok();
    assert!(
        run.stdout
            .contains("connected `sf` to Salesforce (org 00DORG, user ann@acme.test (005USR))"),
        "{}",
        run.stdout
    );
    // The org's API host the token answer named is the connection's `instance_url` now.
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(
        config.contains(&format!("instance_url = \"{}\"", sf.url)),
        "{config}"
    );
    let seen = sf.seen();
    let authorize = seen
        .iter()
        .find(|r| r.path == "/services/oauth2/authorize")
        .unwrap();
    assert_eq!(authorize.query["response_type"], "code");
    assert_eq!(authorize.query["client_id"], "KEY");
    assert_eq!(authorize.query["code_challenge_method"], "S256");
    assert_eq!(authorize.query["scope"], "api refresh_token");
    assert!(!authorize.query["state"].is_empty());
    let token = form(
        seen.iter()
            .find(|r| r.path == "/services/oauth2/token")
            .unwrap(),
    );
    assert_eq!(token["grant_type"], "authorization_code");
    assert_eq!(token["code"], "the-code");
    assert_eq!(token["client_secret"], "the-secret");
    assert!(token["code_verifier"].len() >= 43, "{token:?}");
    let info = seen
        .iter()
        .find(|r| r.path == "/services/oauth2/userinfo")
        .unwrap();
    assert_eq!(info.auth.as_deref(), Some("Bearer 00DORG!access"));
    // Kept under the hosts they were issued for, with the org they belong to.
    let host = sf.url.trim_start_matches("http://").to_string();
    let scope = CredentialScope {
        connection: "sf".into(),
        provider: ProviderKind::Salesforce,
        api_host: host.clone(),
        token_host: host,
        default_hosts: false,
        account_id: None,
    };
    let creds = runtime()
        .block_on(keychain_at(&keychain_dir).load(&scope))
        .unwrap()
        .expect("the tokens are in the keychain");
    assert_eq!(creds.kind, CredentialKind::Oauth);
    assert_eq!(creds.account_id.as_deref(), Some("00DORG"));
    assert_eq!(creds.expires_at, None, "Salesforce sends no `expires_in`");
    assert!(!creds.extra.contains_key("signature"));

    // Later runs reach the org at its instance with the stored token.
    let run = env.run(&["--json", "connections", "--check"]);
    run.ok();
    let row = run.json()[0].clone();
    assert_eq!(row["check"], "ok", "{row}");
    assert_eq!(row["token_source"], "keychain", "{row}");
    assert_eq!(row["base_url"], json!(sf.url), "{row}");

    let run = env.run(&["disconnect", "sf"]);
    run.ok();
    let revoke = sf
        .seen()
        .into_iter()
        .find(|r| r.path == "/services/oauth2/revoke")
        .expect("the grant is revoked");
    let revoke = form(&revoke);
    assert_eq!(revoke["token"], "5Aep-refresh");
    assert!(
        runtime()
            .block_on(keychain_at(&keychain_dir).load(&scope))
            .unwrap()
            .is_none()
    );
}

/// The `CRMSYNC_TEST_NOW` of [`TestEnv`] in epoch ms, where the sandbox org's clock starts
/// too, so that the two clocks agree.
const TEST_NOW_MS: i64 = 1_768_478_400_000;

#[test]
fn an_expired_session_is_refreshed_once_and_the_sync_goes_on_against_the_sandbox() {
    use crmsync::sandbox::salesforce::{SalesforceOptions, SalesforceSandbox};

    let _turn = keychain_turn();
    // An org whose sessions end after 10 minutes without a call.
    let org = SalesforceSandbox::start(SalesforceOptions {
        session_timeout_secs: 600,
        ..SalesforceOptions::default()
    })
    .unwrap();
    org.set_clock_ms(TEST_NOW_MS);
    let (client_id, secret) = org.client_credentials();
    let mut env = TestEnv::new();
    let keychain_dir = env.path("keychain");
    use_keychain(&mut env, &keychain_dir);
    env.set_env("CRMSYNC_CLIENT_SECRET_SF", &secret);
    env.set_env("CRMSYNC_TEST_BROWSER", "follow");
    // The org is its own login host: the sign-in goes there, and its token answer names it
    // as the instance.
    env.write_config(&format!(
        "[connections.sf]\nprovider = \"salesforce\"\nlogin_url = \"{}\"\n",
        org.base_url()
    ));
    env.run(&[
        "connect",
        "salesforce",
        "--name",
        "sf",
        "--client-id",
        &client_id,
    ])
    .ok();
    env.run(&["mappings", "setup", "-c", "sf"]).ok();
    let host = org.base_url().trim_start_matches("http://").to_string();
    let scope = CredentialScope {
        connection: "sf".into(),
        provider: ProviderKind::Salesforce,
        api_host: host.clone(),
        token_host: host,
        default_hosts: false,
        account_id: None,
    };
    let stored = || {
        runtime()
            .block_on(keychain_at(&keychain_dir).load(&scope))
            .unwrap()
            .expect("the tokens are in the keychain")
    };
    let before = stored();
    assert!(before.refresh_token.is_some(), "a refresh token was kept");
    org.seed(3, 1, 0);

    // Eleven minutes on, on both clocks: the session has ended, and crmsync cannot tell
    // (Salesforce sends no `expires_in`) until the org says so.
    org.advance_clock(std::time::Duration::from_secs(11 * 60));
    env.set_env("CRMSYNC_TEST_NOW", "2026-01-15T12:11:00Z");
    org.clear_request_log();
    let run = env.run(&["--json", "sync", "-c", "sf"]);
    run.ok();
    let log = org.request_log();
    let refused: Vec<_> = log.iter().filter(|r| r.status == 401).collect();
    assert_eq!(refused.len(), 1, "one call met the ended session: {log:?}");
    let refreshes: Vec<_> = log
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/services/oauth2/token")
        .collect();
    assert_eq!(refreshes.len(), 1, "{log:?}");
    assert_eq!(refreshes[0].status, 200);
    let first_401 = log.iter().position(|r| r.status == 401).unwrap();
    let refresh = log
        .iter()
        .position(|r| r.path == "/services/oauth2/token")
        .unwrap();
    assert!(first_401 < refresh, "the refresh follows the 401: {log:?}");
    // The new session is kept, the refresh token with it, and it did the run's work.
    let after = stored();
    assert_ne!(after.access_token, before.access_token);
    assert_eq!(after.refresh_token, before.refresh_token);
    let report = run.json();
    let contacts = report["connections"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "contact")
        .cloned()
        .unwrap();
    assert_eq!(contacts["read"], 3, "{report}");
    // And the next run goes on with it: no refresh.
    org.clear_request_log();
    env.run(&["sync", "-c", "sf"]).ok();
    assert!(
        org.request_log()
            .iter()
            .all(|r| r.path != "/services/oauth2/token" && r.status != 401)
    );
}
