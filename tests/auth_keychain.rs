//! The keychain when no Secret Service is reachable. A file of its own with one test: it changes
//! the process's environment (the session bus points nowhere), which no other test may see.

use crmsync::auth::{
    AuthError, CredentialKind, CredentialScope, Credentials, Keychain, SecretString, token_source,
};
use crmsync::providers::ProviderKind;

#[tokio::test]
async fn without_a_secret_service_the_error_names_the_reason_and_the_headless_way() {
    if !cfg!(target_os = "linux") {
        return;
    }
    // SAFETY: the only test in this binary, set before any thread reads the environment.
    unsafe {
        std::env::set_var(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/crmsync-test-bus",
        );
    }
    let keychain = Keychain::os_with_service("crmsync-test-unreachable");
    let scope = CredentialScope {
        connection: "acme-eu".into(),
        provider: ProviderKind::Pipedrive,
        api_host: "api.pipedrive.example".into(),
        token_host: "api.pipedrive.example".into(),
        default_hosts: true,
        account_id: None,
    };
    let err = keychain.load(&scope).await.unwrap_err();
    assert!(matches!(err, AuthError::NoKeychain { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "no keychain is reachable to read the credentials of connection `acme-eu`: "
        ),
        "{text}"
    );
    // The underlying reason (the bus could not be reached) is kept.
    assert!(text.contains("/nonexistent/crmsync-test-bus"), "{text}");
    assert!(text.contains("`CRMSYNC_TOKEN_ACME_EU`"), "{text}");
    assert!(text.contains("--token-env VAR"), "{text}");

    let creds = Credentials::static_token(ProviderKind::Pipedrive, SecretString::new("tok"));
    assert_eq!(creds.kind, CredentialKind::StaticToken);
    let err = keychain.save(&scope, &creds).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("no keychain is reachable to save the credentials"),
        "{err}"
    );

    // The token in the environment wins, so a headless run never touches the keychain.
    // SAFETY: as above.
    unsafe {
        std::env::set_var("CRMSYNC_TOKEN_ACME_EU", "env-token");
    }
    let tokens = token_source(
        &scope,
        None,
        None,
        keychain,
        std::sync::Arc::new(crmsync::auth::MemoryLock::default()),
        std::sync::Arc::new(crmsync::clock::FixedClock::new(0)),
    );
    assert_eq!(tokens.access_token().await.unwrap(), "env-token");
    // Refused, it is named as the token at fault.
    let err = tokens.refresh("env-token").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Pipedrive rejected the token in `CRMSYNC_TOKEN_ACME_EU` for connection `acme-eu`"
    );

    // The test knob swaps the OS keychain for process memory, so tests of other modules run
    // without a Secret Service.
    // SAFETY: as above.
    unsafe {
        std::env::set_var("CRMSYNC_TEST_KEYRING", "mock");
    }
    let mock = Keychain::from_env();
    mock.save(&scope, &creds).await.unwrap();
    assert_eq!(
        Keychain::from_env()
            .load(&scope)
            .await
            .unwrap()
            .map(|c| c.access_token),
        Some(creds.access_token),
        "every keychain of the process sees the same entries"
    );
}
