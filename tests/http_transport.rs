//! The transport under the HTTP layer, as a user meets it: plain `http://` base URLs, servers
//! whose certificate is not trusted, and CRMs too slow to answer.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use common::TestEnv;
use crmsync::clock::FixedClock;
use crmsync::model::ObjectKind;
use crmsync::providers::http::HttpOptions;
use crmsync::providers::hubspot::{HubSpot, HubSpotOptions};
use crmsync::providers::{Provider, ProviderContext, ProviderError, TokenSource};

struct Token;

#[async_trait]
impl TokenSource for Token {
    async fn access_token(&self) -> Result<String, ProviderError> {
        Ok("secret-token".into())
    }
    async fn refresh(&self, _rejected: &str) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }
}

fn hubspot(base_url: &str) -> Result<HubSpot, ProviderError> {
    let ctx = ProviderContext {
        connection: "hs".into(),
        base_url: Some(base_url.into()),
        tokens: Arc::new(Token),
        clock: Arc::new(FixedClock::new(1_800_000_000_000)),
        max_requests: None,
        overlap: crmsync::providers::DEFAULT_OVERLAP_MS,
    };
    let options = HubSpotOptions {
        http: HttpOptions {
            no_sleep: true,
            ..HttpOptions::default()
        },
        ..HubSpotOptions::default()
    };
    HubSpot::with_options(ctx, options)
}

/// A TLS server on 127.0.0.1 with a self-signed certificate; counts the connections it gets.
fn untrusted_tls_server() -> (u16, Arc<AtomicUsize>) {
    crmsync::providers::http::install_crypto_provider();
    let cert = rustls::pki_types::CertificateDer::from(
        include_bytes!("fixtures/tls/self-signed-cert.der").to_vec(),
    );
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
        include_bytes!("fixtures/tls/self-signed-key.der")
            .to_vec()
            .into(),
    );
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("server certificate"),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            seen.fetch_add(1, Ordering::SeqCst);
            let conn = rustls::ServerConnection::new(config.clone()).expect("tls");
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut buf = [0u8; 1024];
            // The client gives up during the handshake.
            let _ = tls.read(&mut buf);
        }
    });
    (port, connections)
}

#[tokio::test]
async fn a_certificate_that_does_not_verify_fails_at_once_saying_so_in_words() {
    let (port, connections) = untrusted_tls_server();
    let hs = hubspot(&format!("https://127.0.0.1:{port}")).unwrap();
    let err = hs.fields(ObjectKind::Contact).await.unwrap_err();
    assert!(matches!(err, ProviderError::Network { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("the server's certificate for 127.0.0.1 is not trusted ("),
        "{text}"
    );
    assert!(!text.contains("gave up after"), "{text}");
    assert!(!text.contains("OtherError"), "{text}");
    // One attempt, no backoff: a retry cannot make the certificate trusted.
    assert_eq!(hs.requests_sent(), 1);
    assert_eq!(hs.http().waits(), []);
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[test]
fn plain_http_is_refused_for_any_host_but_this_machine() {
    let env = TestEnv::new();
    env.write_config(
        "[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"http://crm.example.com\"\n",
    );
    let run = env.run(&["connections"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("`connections.hs.base_url`")
            && run.stderr.contains("plain http to crm.example.com")
            && run.stderr.contains("unencrypted"),
        "{}",
        run.stderr
    );
    for url in [
        "http://127.0.0.1:9",
        "http://localhost:9",
        "http://[::1]:9",
        "https://crm.example.com",
    ] {
        env.write_config(&format!(
            "[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"{url}\"\n"
        ));
        env.run(&["connections"]).ok();
    }
    // `connect` refuses it before anything is sent or written.
    let mut env = TestEnv::new();
    env.set_env("HS_TOKEN", "secret-token");
    let run = env.run(&[
        "connect",
        "hubspot",
        "--name",
        "hs",
        "--base-url",
        "http://10.1.2.3:8080",
        "--token-env",
        "HS_TOKEN",
    ]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("plain http to 10.1.2.3"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(env.config_path()).unwrap(),
        "",
        "nothing written"
    );
    // The provider refuses it too, whatever built its context.
    let err = hubspot("http://crm.example.com").err().expect("refused");
    assert!(err.to_string().contains("plain http"), "{err}");
}

#[test]
fn a_sync_whose_calls_never_answer_says_which_waits_and_names_the_timeout_setting() {
    // A server that takes connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let mut env = TestEnv::new();
    env.set_env("CRMSYNC_TOKEN_HS", "secret-token");
    env.write_config(&format!(
        "[http]\ntimeout_secs = 1\n\n[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"http://127.0.0.1:{port}\"\n"
    ));
    let run = env.run(&["-v", "sync"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("HubSpot (connection `hs`): still waiting for an answer to "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("it times out after 1 s (`http.timeout_secs`)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "got no answer within 1 s, the time one request may take (`http.timeout_secs` in the config) (gave up after 5 attempts)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(connections.load(Ordering::SeqCst), 5);
}
