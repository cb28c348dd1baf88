//! The OS keychain (through `keyring`) and the environment as credential stores.
//!
//! Keychain entries: service [`KEYCHAIN_SERVICE`], user = the connection name, password = the
//! [`Credentials`] as JSON; the client secret of a connection is the user `<name>#client-secret`.
//! `keyring` calls block (D-Bus round trips on Linux), so every call runs in
//! `tokio::task::spawn_blocking`.
//!
//! With `CRMSYNC_TEST_KEYRING=mock` the keychain is an in-process map shared by every
//! [`Keychain`] of the process. (`keyring`'s own mock store keeps each `Entry` separate, so a
//! token saved by one entry could not be read back by another, which is the whole point here.)
//! With `CRMSYNC_TEST_KEYRING=file:<dir>` (tests only: the files are plain text) each entry is
//! a file under `<dir>`, so that a test can sign in with one process and sync with another on a
//! machine without a Secret Service. Writes go through a rename, so a reader in another process
//! sees the old entry or the new one, never half of one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use super::AuthError;
use super::credentials::{Credentials, SecretString};

/// The keychain service name crmsync's entries are filed under.
pub const KEYCHAIN_SERVICE: &str = "crmsync";

const CLIENT_SECRET_SUFFIX: &str = "#client-secret";

#[derive(Clone)]
enum Backend {
    Os,
    Memory(Arc<Mutex<HashMap<String, String>>>),
    Files(PathBuf),
}

/// Where a connection's credentials are kept.
#[derive(Clone)]
pub struct Keychain {
    service: String,
    backend: Backend,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.backend {
            Backend::Os => "os",
            Backend::Memory(_) => "memory",
            Backend::Files(_) => "files",
        };
        write!(f, "Keychain({}, {backend})", self.service)
    }
}

fn process_memory() -> Arc<Mutex<HashMap<String, String>>> {
    static MEMORY: OnceLock<Arc<Mutex<HashMap<String, String>>>> = OnceLock::new();
    MEMORY.get_or_init(Default::default).clone()
}

impl Keychain {
    /// The keychain for this process: the OS keychain, or the in-process map when
    /// `CRMSYNC_TEST_KEYRING=mock`, or plain files under `<dir>` when
    /// `CRMSYNC_TEST_KEYRING=file:<dir>`.
    pub fn from_env() -> Keychain {
        match std::env::var(crate::env::TEST_KEYRING).as_deref() {
            Ok("mock") => Keychain::in_memory(),
            Ok(v) if v.starts_with("file:") => Keychain::in_dir(&v["file:".len()..]),
            _ => Keychain::os(),
        }
    }

    /// Entries as plain files under `dir`, shared by every process that names the same
    /// directory. For tests only: nothing is encrypted.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Keychain {
        Keychain {
            service: KEYCHAIN_SERVICE.to_string(),
            backend: Backend::Files(dir.into()),
        }
    }

    /// The OS keychain under service `crmsync`.
    pub fn os() -> Keychain {
        Keychain::os_with_service(KEYCHAIN_SERVICE)
    }

    /// The OS keychain under another service name (tests use a unique one each).
    pub fn os_with_service(service: &str) -> Keychain {
        Keychain {
            service: service.to_string(),
            backend: Backend::Os,
        }
    }

    /// The in-process map shared by every in-memory keychain of this process.
    pub fn in_memory() -> Keychain {
        Keychain {
            service: KEYCHAIN_SERVICE.to_string(),
            backend: Backend::Memory(process_memory()),
        }
    }

    /// A private in-memory keychain, not shared with any other (for tests that must not see
    /// each other's entries).
    pub fn isolated_memory() -> Keychain {
        Keychain {
            service: KEYCHAIN_SERVICE.to_string(),
            backend: Backend::Memory(Default::default()),
        }
    }

    /// The stored credentials of `connection`, or `None` when there are none.
    pub async fn load(&self, connection: &str) -> Result<Option<Credentials>, AuthError> {
        let Some(text) = self.get(connection, connection, "read").await? else {
            return Ok(None);
        };
        Credentials::from_json(&text)
            .map(Some)
            .map_err(|e| AuthError::CorruptEntry {
                connection: connection.to_string(),
                // The serde message names the field and position, never the value.
                reason: e.to_string(),
            })
    }

    /// Saves (replacing) the credentials of `connection`.
    pub async fn save(&self, connection: &str, credentials: &Credentials) -> Result<(), AuthError> {
        self.set(connection, connection, credentials.to_json())
            .await
    }

    /// Removes the credentials of `connection`; `false` when there were none.
    pub async fn delete(&self, connection: &str) -> Result<bool, AuthError> {
        self.remove(connection, connection).await
    }

    /// The client secret stored for `connection` (`<name>#client-secret`).
    pub async fn load_client_secret(
        &self,
        connection: &str,
    ) -> Result<Option<SecretString>, AuthError> {
        let user = format!("{connection}{CLIENT_SECRET_SUFFIX}");
        Ok(self
            .get(connection, &user, "read")
            .await?
            .map(SecretString::new))
    }

    /// Stores the client secret of `connection`.
    pub async fn save_client_secret(
        &self,
        connection: &str,
        secret: &SecretString,
    ) -> Result<(), AuthError> {
        let user = format!("{connection}{CLIENT_SECRET_SUFFIX}");
        self.set(connection, &user, secret.expose().to_string())
            .await
    }

    /// Removes the client secret of `connection`; `false` when there was none.
    pub async fn delete_client_secret(&self, connection: &str) -> Result<bool, AuthError> {
        let user = format!("{connection}{CLIENT_SECRET_SUFFIX}");
        self.remove(connection, &user).await
    }

    async fn get(
        &self,
        connection: &str,
        user: &str,
        action: &'static str,
    ) -> Result<Option<String>, AuthError> {
        match &self.backend {
            Backend::Memory(map) => Ok(map
                .lock()
                .expect("keychain map poisoned")
                .get(&memory_key(&self.service, user))
                .cloned()),
            Backend::Files(dir) => {
                match std::fs::read_to_string(dir.join(file_name(&self.service, user))) {
                    Ok(text) => Ok(Some(text)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(file_error(connection, action, dir, e)),
                }
            }
            Backend::Os => {
                let (service, user_owned) = (self.service.clone(), user.to_string());
                let result =
                    blocking(move || keyring::Entry::new(&service, &user_owned)?.get_password())
                        .await?;
                match result {
                    Ok(text) => Ok(Some(text)),
                    Err(keyring::Error::NoEntry) => Ok(None),
                    Err(e) => Err(keyring_error(connection, action, e)),
                }
            }
        }
    }

    async fn set(&self, connection: &str, user: &str, value: String) -> Result<(), AuthError> {
        match &self.backend {
            Backend::Memory(map) => {
                map.lock()
                    .expect("keychain map poisoned")
                    .insert(memory_key(&self.service, user), value);
                Ok(())
            }
            Backend::Files(dir) => {
                let write = || -> std::io::Result<()> {
                    std::fs::create_dir_all(dir)?;
                    let path = dir.join(file_name(&self.service, user));
                    let tmp = dir.join(format!(
                        ".{}.{}-{:08x}.tmp",
                        file_name(&self.service, user),
                        std::process::id(),
                        rand::random::<u32>()
                    ));
                    std::fs::write(&tmp, value.as_bytes())?;
                    std::fs::rename(&tmp, &path)
                };
                write().map_err(|e| file_error(connection, "save", dir, e))
            }
            Backend::Os => {
                let (service, user_owned) = (self.service.clone(), user.to_string());
                blocking(move || keyring::Entry::new(&service, &user_owned)?.set_password(&value))
                    .await?
                    .map_err(|e| keyring_error(connection, "save", e))
            }
        }
    }

    async fn remove(&self, connection: &str, user: &str) -> Result<bool, AuthError> {
        match &self.backend {
            Backend::Memory(map) => Ok(map
                .lock()
                .expect("keychain map poisoned")
                .remove(&memory_key(&self.service, user))
                .is_some()),
            Backend::Files(dir) => {
                match std::fs::remove_file(dir.join(file_name(&self.service, user))) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                    Err(e) => Err(file_error(connection, "delete", dir, e)),
                }
            }
            Backend::Os => {
                let (service, user_owned) = (self.service.clone(), user.to_string());
                match blocking(move || {
                    keyring::Entry::new(&service, &user_owned)?.delete_credential()
                })
                .await?
                {
                    Ok(()) => Ok(true),
                    Err(keyring::Error::NoEntry) => Ok(false),
                    Err(e) => Err(keyring_error(connection, "delete", e)),
                }
            }
        }
    }
}

fn memory_key(service: &str, user: &str) -> String {
    format!("{service}\u{0}{user}")
}

/// The file of an entry: service and user with every byte outside `[A-Za-z0-9_-]`
/// percent-encoded, so that no user name can reach outside the directory.
fn file_name(service: &str, user: &str) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    format!("{}.{}", encode(service), encode(user))
}

fn file_error(
    connection: &str,
    action: &'static str,
    dir: &std::path::Path,
    e: std::io::Error,
) -> AuthError {
    AuthError::Keychain {
        connection: connection.to_string(),
        action,
        reason: format!("the test keychain directory `{}`: {e}", dir.display()),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> keyring::Result<T> + Send + 'static,
) -> Result<keyring::Result<T>, AuthError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AuthError::Other(format!("the keychain call did not finish: {e}")))
}

/// Turns a keyring error into ours. Platform failures and refused storage access both mean
/// "there is no keychain to use here" (no session bus, no Secret Service, a locked collection),
/// which gets the headless hint.
fn keyring_error(connection: &str, action: &'static str, e: keyring::Error) -> AuthError {
    match e {
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            AuthError::NoKeychain {
                connection: connection.to_string(),
                action,
                reason: super::http::error_chain(inner.as_ref()),
                token_var: crate::env::token_var(connection),
            }
        }
        // Display of the remaining variants names attributes and lengths, never the secret
        // (BadEncoding's bytes are only in its Debug form).
        keyring::Error::BadEncoding(_) => AuthError::CorruptEntry {
            connection: connection.to_string(),
            reason: "the stored value is not UTF-8".to_string(),
        },
        other => AuthError::Keychain {
            connection: connection.to_string(),
            action,
            reason: other.to_string(),
        },
    }
}

/// The token for `connection` from the environment, when set and not empty:
/// `CRMSYNC_TOKEN_<NAME>`, else the variable the connection's `token_env` names.
pub fn env_token(connection: &str, token_env: Option<&str>) -> Option<SecretString> {
    read_var(&crate::env::token_var(connection)).or_else(|| token_env.and_then(read_var))
}

/// The environment variable that holds the OAuth client secret of `connection`:
/// `CRMSYNC_CLIENT_SECRET_<NAME>`.
pub fn client_secret_var(connection: &str) -> String {
    let token_var = crate::env::token_var(connection);
    format!(
        "{}{}",
        crate::env::CLIENT_SECRET_PREFIX,
        &token_var[crate::env::TOKEN_PREFIX.len()..]
    )
}

/// The OAuth client secret of `connection`: `CRMSYNC_CLIENT_SECRET_<NAME>` first, else the
/// keychain entry `<name>#client-secret`; `None` for a public client.
pub async fn client_secret(
    keychain: &Keychain,
    connection: &str,
) -> Result<Option<SecretString>, AuthError> {
    if let Some(secret) = read_var(&client_secret_var(connection)) {
        return Ok(Some(secret));
    }
    keychain.load_client_secret(connection).await
}

fn read_var(name: &str) -> Option<SecretString> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(SecretString::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::CredentialKind;
    use crate::providers::ProviderKind;

    fn creds(token: &str) -> Credentials {
        Credentials {
            kind: CredentialKind::Oauth,
            provider: ProviderKind::Salesforce,
            access_token: SecretString::new(token),
            refresh_token: Some(SecretString::new("refresh")),
            expires_at: Some(123),
            token_type: "Bearer".into(),
            scopes: vec!["api".into()],
            client_id: Some("cid".into()),
            account: None,
            extra: Default::default(),
        }
    }

    #[tokio::test]
    async fn file_keychain_is_shared_through_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (Keychain::in_dir(dir.path()), Keychain::in_dir(dir.path()));
        assert!(a.load("x/../y").await.unwrap().is_none());
        a.save("x/../y", &creds("t1")).await.unwrap();
        assert_eq!(b.load("x/../y").await.unwrap(), Some(creds("t1")));
        assert!(
            !Keychain::in_dir(dir.path().join("other"))
                .delete("x/../y")
                .await
                .unwrap()
        );
        // Every entry stays inside the directory, whatever the connection name.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            assert!(!entry.unwrap().file_name().to_string_lossy().contains('/'));
        }
        assert!(b.delete("x/../y").await.unwrap());
        assert!(a.load("x/../y").await.unwrap().is_none());
    }

    #[test]
    fn client_secret_var_follows_the_token_var_rules() {
        assert_eq!(
            client_secret_var("acme-eu"),
            "CRMSYNC_CLIENT_SECRET_ACME_EU"
        );
    }

    #[tokio::test]
    async fn memory_keychain_round_trip_and_delete() {
        let k = Keychain::isolated_memory();
        assert!(k.load("a").await.unwrap().is_none());
        k.save("a", &creds("t1")).await.unwrap();
        k.save_client_secret("a", &SecretString::new("s"))
            .await
            .unwrap();
        assert_eq!(k.load("a").await.unwrap(), Some(creds("t1")));
        assert_eq!(
            k.load_client_secret("a").await.unwrap().unwrap().expose(),
            "s"
        );
        assert!(k.delete("a").await.unwrap());
        assert!(!k.delete("a").await.unwrap());
        // The client secret is a separate entry.
        assert!(k.delete_client_secret("a").await.unwrap());
    }

    /// Against the real Secret Service; runs when CI provides one (`.ci/secret-service.sh`).
    #[tokio::test]
    async fn secret_service_round_trip() {
        if std::env::var(crate::env::TEST_SECRET_SERVICE).as_deref() != Ok("1") {
            eprintln!("skipped: `CRMSYNC_TEST_SECRET_SERVICE` is not `1`");
            return;
        }
        let service = format!(
            "crmsync-test-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        );
        let k = Keychain::os_with_service(&service);
        let name = "round-trip";
        assert!(k.load(name).await.unwrap().is_none());
        k.save(name, &creds("first")).await.unwrap();
        k.save(name, &creds("second")).await.unwrap();
        assert_eq!(k.load(name).await.unwrap(), Some(creds("second")));
        k.save_client_secret(name, &SecretString::new("cs"))
            .await
            .unwrap();
        assert_eq!(
            k.load_client_secret(name).await.unwrap().unwrap().expose(),
            "cs"
        );
        assert!(k.delete(name).await.unwrap());
        assert!(k.delete_client_secret(name).await.unwrap());
        assert!(k.load(name).await.unwrap().is_none());
        assert!(!k.delete(name).await.unwrap());
    }

    /// The entry is visible to other Secret Service clients under the documented attributes,
    /// so `secret-tool` can find and remove it.
    #[tokio::test]
    async fn secret_service_entry_is_visible_to_secret_tool() {
        if std::env::var(crate::env::TEST_SECRET_SERVICE).as_deref() != Ok("1") {
            eprintln!("skipped: `CRMSYNC_TEST_SECRET_SERVICE` is not `1`");
            return;
        }
        let service = format!(
            "crmsync-test-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        );
        let k = Keychain::os_with_service(&service);
        k.save("visible", &creds("seen")).await.unwrap();
        let out = std::process::Command::new("secret-tool")
            .args(["lookup", "service", &service, "username", "visible"])
            .output()
            .expect("secret-tool runs");
        k.delete("visible").await.unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(Credentials::from_json(text.trim()).unwrap(), creds("seen"));
    }
}
