//! The keychain the sign-in tests use: files under the test's directory
//! (`CRMSYNC_TEST_KEYRING=file:<dir>`), or the real Secret Service when
//! `CRMSYNC_TEST_SECRET_SERVICE=1` (`bash .ci/secret-service.sh cargo test --test NAME`), which
//! is one per user, so that tests using it take turns. And a browser that opens a forged
//! sign-in URL before the real one.

use std::sync::{Arc, Mutex, MutexGuard};

use super::TestEnv;

pub fn real_keychain() -> bool {
    std::env::var("CRMSYNC_TEST_SECRET_SERVICE").as_deref() == Ok("1")
}

/// The real keychain holds one entry per connection and user: tests using it run one at a
/// time.
pub fn keychain_turn() -> Option<MutexGuard<'static, ()>> {
    static TURN: Mutex<()> = Mutex::new(());
    real_keychain().then(|| TURN.lock().unwrap_or_else(|e| e.into_inner()))
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Points `env`'s runs at the keychain of the tests: the real one when there is one, else
/// files under `dir`.
pub fn use_keychain(env: &mut TestEnv, dir: &std::path::Path) {
    if real_keychain() {
        env.remove_env("CRMSYNC_TEST_KEYRING");
        for var in ["DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"] {
            if let Ok(v) = std::env::var(var) {
                env.set_env(var, &v);
            }
        }
    } else {
        env.set_env("CRMSYNC_TEST_KEYRING", &format!("file:{}", dir.display()));
    }
}

/// A browser that first opens a sign-in URL whose `state` is not the one crmsync made (a
/// forged link, or a tab from another sign-in; the sandbox echoes it back), then the real one.
/// `forged_answer` gets the listener's status for the forged redirect.
pub fn forging_browser(
    forged_answer: Arc<Mutex<Option<u16>>>,
) -> Box<dyn Fn(&url::Url) -> bool + Send + Sync> {
    Box::new(move |url: &url::Url| {
        let mut forged = url.clone();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "state" {
                    format!("forged-{v}")
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        forged.query_pairs_mut().clear().extend_pairs(pairs);
        let (real, seen) = (url.clone(), forged_answer.clone());
        std::thread::spawn(move || {
            runtime().block_on(async move {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let http = reqwest::Client::new();
                let status = http.get(forged).send().await.unwrap().status().as_u16();
                *seen.lock().unwrap() = Some(status);
                http.get(real).send().await.unwrap();
            })
        });
        true
    })
}

/// Every file under `root` except those under `keychain_dir` (where the secrets belong) and
/// those in `except`, each named by its path and with its bytes.
pub fn files_outside(
    root: &std::path::Path,
    keychain_dir: &std::path::Path,
    except: &[std::path::PathBuf],
) -> Vec<(String, Vec<u8>)> {
    let mut places = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.starts_with(keychain_dir) {
                continue;
            } else if path.is_dir() {
                dirs.push(path);
            } else if !except.contains(&path) {
                places.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    places
}

/// Fails naming the place when any of `secrets` is in any of `places`.
pub fn assert_no_secret_in(places: &[(String, Vec<u8>)], secrets: &[String]) {
    for (what, bytes) in places {
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret ({}…) is in the {what}",
                &secret[..4]
            );
        }
    }
}

/// The keychain the binary uses, as this process reaches it: the real one, or the files under
/// `dir`.
pub fn keychain_at(dir: &std::path::Path) -> crmsync::auth::Keychain {
    if real_keychain() {
        crmsync::auth::Keychain::os()
    } else {
        crmsync::auth::Keychain::in_dir(dir)
    }
}

/// What connection `name`'s credentials are issued for when it is configured at the sandbox
/// at `base_url`: the sandbox's host, for the API and the tokens alike.
pub fn sandbox_scope(
    name: &str,
    provider: crmsync::providers::ProviderKind,
    base_url: &str,
) -> crmsync::auth::CredentialScope {
    let host = base_url.trim_start_matches("http://").to_string();
    crmsync::auth::CredentialScope {
        connection: name.into(),
        provider,
        api_host: host.clone(),
        token_host: host,
        default_hosts: false,
        account_id: None,
    }
}
