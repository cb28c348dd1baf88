//! The login host: the web-server flow with PKCE, refresh, revoke, session expiry; the
//! versions list; the allocation and its header; faults.

use std::time::Duration;

use base64::Engine as _;
use crmsync::sandbox::FaultOptions;
use crmsync::sandbox::salesforce::SalesforceOptions;
use serde_json::json;
use sha2::Digest as _;

use super::{Org, Resp, exchange};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn authorize(org: &Org, challenge: Option<&str>) -> String {
    let (client_id, _) = org.sb.client_credentials();
    let mut target = format!(
        "/services/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&state=xyz&scope=api%20refresh_token",
        urlenc(REDIRECT)
    );
    if let Some(c) = challenge {
        target.push_str(&format!("&code_challenge={c}&code_challenge_method=S256"));
    }
    let r = exchange(&org.sb, "GET", &target, |rb| rb);
    assert_eq!(r.status, 302);
    let location = url::Url::parse(r.header("location").unwrap()).unwrap();
    assert!(location.as_str().starts_with(REDIRECT));
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "xyz", "the state comes back");
    q["code"].clone()
}

fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn token(org: &Org, form: &[(&str, &str)]) -> Resp {
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    exchange(&org.sb, "POST", "/services/oauth2/token", move |rb| {
        rb.form(&form)
    })
}

#[test]
fn the_web_server_flow_with_pkce_gives_a_session_refresh_and_revoke() {
    let org = Org::start();
    let (client_id, secret) = org.sb.client_credentials();
    let verifier = "a-verifier-of-enough-length-0123456789-abcdefghijkl";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));

    let code = authorize(&org, Some(&challenge));
    let wrong = token(
        &org,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "not-it"),
        ],
    );
    assert_eq!(
        (wrong.status, wrong.body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let code = authorize(&org, Some(&challenge));
    let none = token(
        &org,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
        ],
    );
    assert_eq!(
        (none.status, none.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let code = authorize(&org, Some(&challenge));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", &client_id),
        ("client_secret", &secret),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    let t = token(&org, &form);
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.body["instance_url"], json!(org.sb.base_url()));
    assert!(t.body.get("expires_in").is_none());
    assert!(t.body["id"].as_str().unwrap().starts_with(&format!(
        "{}/id/{}/",
        org.sb.base_url(),
        org.sb.org_id()
    )));
    let access = t.body["access_token"].as_str().unwrap().to_string();
    let refresh = t.body["refresh_token"].as_str().unwrap().to_string();
    let again = token(&org, &form);
    assert_eq!(
        again.body["error"],
        json!("invalid_grant"),
        "a code serves once"
    );

    let session = Org {
        sb: org.sb,
        token: access,
    };
    assert_eq!(session.get(&Org::api("limits")).status, 200);

    let r = token(
        &session,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client_id),
        ],
    );
    assert_eq!(r.status, 200);
    assert!(
        r.body.get("refresh_token").is_none(),
        "a refresh answers no new refresh token"
    );
    let bad_secret = token(
        &session,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client_id),
            ("client_secret", "nope"),
        ],
    );
    assert_eq!(bad_secret.body["error"], json!("invalid_client"));

    let revoked = exchange(&session.sb, "POST", "/services/oauth2/revoke", |rb| {
        rb.form(&[("token", refresh.as_str())])
    });
    assert_eq!(revoked.status, 200);
    let after = session.get(&Org::api("limits"));
    assert_eq!(
        (after.status, after.code()),
        (401, "INVALID_SESSION_ID"),
        "revoking the refresh token ends its sessions"
    );
    let r = token(
        &session,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client_id),
        ],
    );
    assert_eq!(r.body["error"], json!("invalid_grant"));
}

#[test]
fn a_scope_without_refresh_token_gets_none_and_unknown_clients_are_refused() {
    let org = Org::start();
    let (client_id, _) = org.sb.client_credentials();
    let target = format!(
        "/services/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=api",
        urlenc(REDIRECT)
    );
    let r = exchange(&org.sb, "GET", &target, |rb| rb);
    let location = url::Url::parse(r.header("location").unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let t = token(
        &org,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
        ],
    );
    assert_eq!(t.status, 200);
    assert!(t.body.get("refresh_token").is_none());
    assert_eq!(t.body["scope"], json!("api"));
    let unknown = token(
        &org,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", "other"),
        ],
    );
    assert_eq!(unknown.body["error"], json!("invalid_client_id"));
    let grant = token(
        &org,
        &[("grant_type", "password"), ("client_id", &client_id)],
    );
    assert_eq!(grant.body["error"], json!("unsupported_grant_type"));
}

#[test]
fn a_session_idle_past_the_timeout_answers_invalid_session_id() {
    let org = Org::with(SalesforceOptions {
        session_timeout_secs: 60,
        ..SalesforceOptions::default()
    });
    assert_eq!(org.get(&Org::api("limits")).status, 200);
    org.sb.advance_clock(Duration::from_secs(50));
    assert_eq!(
        org.get(&Org::api("limits")).status,
        200,
        "a call keeps the session alive"
    );
    org.sb.advance_clock(Duration::from_secs(61));
    let r = org.get(&Org::api("limits"));
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
    let none = exchange(&org.sb, "GET", &Org::api("limits"), |rb| rb);
    assert_eq!(none.status, 401);
}

#[test]
fn the_versions_need_no_session_and_other_versions_are_not_found() {
    let org = Org::start();
    let r = exchange(&org.sb, "GET", "/services/data/", |rb| rb);
    assert_eq!(r.status, 200);
    let versions: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    for v in ["59.0", "60.0", "61.0", "62.0"] {
        assert!(versions.contains(&v));
        assert_eq!(org.get(&format!("/services/data/v{v}/")).status, 200);
    }
    assert_eq!(org.get("/services/data/v58.0/limits").code(), "NOT_FOUND");
    assert_eq!(org.get(&Org::api("nothing/here")).code(), "NOT_FOUND");
    assert_eq!(
        org.sb.api_usage().0,
        5,
        "the versions list and an unserved version do not count, the others do"
    );
}

#[test]
fn the_allocation_is_counted_in_every_answer_and_refused_with_403_when_spent() {
    let org = Org::start();
    org.sb.set_daily_api_requests(3);
    for n in 1..=3 {
        let r = org.get(&Org::api("limits"));
        assert_eq!(
            r.header("sforce-limit-info"),
            Some(format!("api-usage={n}/3").as_str())
        );
        assert_eq!(
            r.body["DailyApiRequests"],
            json!({"Max": 3, "Remaining": 3 - n})
        );
    }
    let r = org.get(&Org::api("sobjects/Contact/describe"));
    assert_eq!((r.status, r.code()), (403, "REQUEST_LIMIT_EXCEEDED"));
    assert_eq!(r.header("sforce-limit-info"), Some("api-usage=3/3"));
    org.sb.advance_clock(Duration::from_secs(24 * 3600));
    let (token, _) = org.sb.mint_token();
    let org = Org { token, ..org };
    assert_eq!(
        org.get(&Org::api("limits")).status,
        200,
        "the rolling window frees the calls of a day ago"
    );
}

#[test]
fn faults_answer_as_salesforce_does_and_the_log_keeps_the_calling_client() {
    let org = Org::start();
    org.sb.set_faults(FaultOptions {
        rate_429: 1.0,
        ..FaultOptions::default()
    });
    let r = org.get(&Org::api("limits"));
    assert_eq!(
        (r.status, r.code()),
        (403, "REQUEST_LIMIT_EXCEEDED"),
        "Salesforce never answers 429"
    );
    assert!(
        r.body[0]["message"]
            .as_str()
            .unwrap()
            .contains("Concurrent")
    );
    org.sb.set_faults(FaultOptions {
        rate_500: 1.0,
        ..FaultOptions::default()
    });
    assert_eq!(org.get(&Org::api("limits")).code(), "UNKNOWN_EXCEPTION");
    org.sb.set_faults(FaultOptions::default());
    org.sb.clear_request_log();
    let r = org.send(
        "GET",
        &Org::api("limits"),
        None,
        &[("Sforce-Call-Options", "client=crmsync, defaultNamespace=x")],
    );
    assert_eq!(r.status, 200);
    org.get(&Org::api("limits"));
    let log = org.sb.request_log();
    assert_eq!(log[0].client.as_deref(), Some("crmsync"));
    assert_eq!(log[1].client, None);
}
