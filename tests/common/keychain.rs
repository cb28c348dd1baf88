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
