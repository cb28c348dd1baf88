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
