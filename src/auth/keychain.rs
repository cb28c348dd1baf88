//! The OS keychain (through `keyring`) and the environment as credential stores.
//!
//! Keychain entries: service [`KEYCHAIN_SERVICE`], user = the [`CredentialScope`]'s key, which
//! names the connection, the provider and the hosts the credentials were issued for
//! (`acme@hubspot:api.hubapi.com`), password = the [`Credentials`] as JSON, which also record
//! those hosts and, once known, the account id. The client secret is the user
//! `<key>#client-secret`. So two configs that both have a connection `acme`, pointing at
//! different hosts, never read (nor overwrite, revoke or delete) each other's entry, and a
//! credential is never sent to a host other than the one it was issued for: an entry whose
//! recorded hosts are not the scope's is refused.
//!
//! An entry saved by an older crmsync (user = the connection name alone, no hosts recorded) is
//! read once and moved to its new key, but only for a connection at the provider's own hosts
//! (no `base_url`), the only hosts such an entry can be known to belong to; elsewhere it is
//! left alone and the connection is asked to sign in again.
//!
//! `keyring` calls block (D-Bus round trips on Linux), so every call runs in
//! `tokio::task::spawn_blocking`.
//!
//! In a build with the `test-seams` feature (the tests' build; never a release),
//! `CRMSYNC_TEST_KEYRING=mock` makes the keychain an in-process map shared by every
//! [`Keychain`] of the process, and `CRMSYNC_TEST_KEYRING=file:<dir>` keeps each entry in a
//! file under `<dir>` (mode 0600, unencrypted), so that a test can sign in with one process and
//! sync with another on a machine without a Secret Service. Writes go through a rename, so a
//! reader in another process sees the old entry or the new one, never half of one.

use std::collections::HashMap;
#[cfg(feature = "test-seams")]
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use super::AuthError;
use super::credentials::{Credentials, SecretString};
use crate::providers::ProviderKind;

/// The keychain service name crmsync's entries are filed under.
pub const KEYCHAIN_SERVICE: &str = "crmsync";

const CLIENT_SECRET_SUFFIX: &str = "#client-secret";

/// What a connection's credentials are issued for, and so where they may be sent: the key of
/// its keychain entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    /// The connection's name (for messages, and the key an older crmsync used).
    pub connection: String,
    pub provider: ProviderKind,
    /// `host[:port]` of the API the access token is sent to.
    pub api_host: String,
    /// `host[:port]` of the token endpoint, where the refresh token and client secret go.
    pub token_host: String,
    /// Whether both hosts are the provider's own (no `base_url` in the config).
    pub default_hosts: bool,
    /// The account id the connection is known to work with (its links' account, from the
    /// state file), when known: credentials recorded for another account are refused.
    pub account_id: Option<String>,
}

impl CredentialScope {
    /// The entry's user name: `NAME@PROVIDER:API-HOST`, and `+TOKEN-HOST` when the token
    /// endpoint is elsewhere.
    pub fn key(&self) -> String {
        let mut key = format!("{}@{}:{}", self.connection, self.provider, self.api_host);
        if self.token_host != self.api_host {
            key.push('+');
            key.push_str(&self.token_host);
        }
        key
    }

    fn client_secret_key(&self) -> String {
        format!("{}{CLIENT_SECRET_SUFFIX}", self.key())
    }

    /// The hosts as a person reads them.
    pub fn hosts(&self) -> String {
        if self.token_host == self.api_host {
            format!("`{}`", self.api_host)
        } else {
            format!("`{}` (tokens at `{}`)", self.api_host, self.token_host)
        }
    }

    /// Refuses credentials recorded as issued for other hosts or another provider.
    fn check(&self, c: &Credentials) -> Result<(), AuthError> {
        let issued_for = |api: &str, token: &str| {
            if api == token {
                format!("`{api}`")
            } else {
                format!("`{api}` (tokens at `{token}`)")
            }
        };
        let hosts_differ = match (&c.api_host, &c.token_host) {
            (Some(api), Some(token)) => {
                (api != &self.api_host || token != &self.token_host).then(|| issued_for(api, token))
            }
            _ => None,
        };
        if let (Some(wanted), Some(issued)) = (&self.account_id, &c.account_id)
            && wanted != issued
        {
            return Err(AuthError::IssuedElsewhere {
                connection: self.connection.clone(),
                issued_for: format!("account {issued}"),
                wanted: format!("account {wanted}, whose records it has synced"),
                provider: self.provider.to_string(),
            });
        }
        if c.provider != self.provider || hosts_differ.is_some() {
            return Err(AuthError::IssuedElsewhere {
                connection: self.connection.clone(),
                issued_for: format!(
                    "{} at {}",
                    c.provider.display_name(),
                    hosts_differ.unwrap_or_else(|| "its own hosts".into())
                ),
                wanted: format!("{} at {}", self.provider.display_name(), self.hosts()),
                provider: self.provider.to_string(),
            });
        }
        Ok(())
    }
}

#[derive(Clone)]
enum Backend {
    Os,
    Memory(Arc<Mutex<HashMap<String, String>>>),
    #[cfg(feature = "test-seams")]
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
            #[cfg(feature = "test-seams")]
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
    /// The keychain for this process: the OS keychain. (With the `test-seams` feature: the
    /// in-process map when `CRMSYNC_TEST_KEYRING=mock`, or files under `<dir>` when
    /// `CRMSYNC_TEST_KEYRING=file:<dir>`.)
    pub fn from_env() -> Keychain {
        #[cfg(feature = "test-seams")]
        match std::env::var(crate::env::TEST_KEYRING).as_deref() {
            Ok("mock") => return Keychain::in_memory(),
            Ok(v) if v.starts_with("file:") => return Keychain::in_dir(&v["file:".len()..]),
            _ => {}
        }
        Keychain::os()
    }

    /// Entries as files (mode 0600) under `dir`, shared by every process that names the same
    /// directory. For tests only: nothing is encrypted.
    #[cfg(feature = "test-seams")]
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

    /// The stored credentials of `scope`, or `None` when there are none. Credentials recorded
    /// as issued for other hosts are refused; an entry an older crmsync kept under the
    /// connection's name is moved here first where it can be (see the module's notes).
    pub async fn load(&self, scope: &CredentialScope) -> Result<Option<Credentials>, AuthError> {
        let c = match self.get(&scope.connection, &scope.key(), "read").await? {
            Some(text) => parse(&scope.connection, &text)?,
            None => match self.migrate(scope).await? {
                Some(c) => c,
                None => return Ok(None),
            },
        };
        scope.check(&c)?;
        Ok(Some(c))
    }

    /// Reads the entry an older crmsync kept under the connection's name alone, once: moves it
    /// (and its client secret) to `scope`'s key when `scope` is at the provider's own hosts
    /// and the entry is for that provider; else refuses it, leaving it where it is.
    async fn migrate(&self, scope: &CredentialScope) -> Result<Option<Credentials>, AuthError> {
        let old = scope.connection.as_str();
        let Some(text) = self.get(old, old, "read").await? else {
            return Ok(None);
        };
        let c = parse(old, &text)?;
        if c.provider != scope.provider || !scope.default_hosts {
            return Err(AuthError::UnverifiedEntry {
                connection: old.to_string(),
                provider: scope.provider.to_string(),
                hosts: scope.hosts(),
            });
        }
        tracing::info!(
            connection = old,
            "moving the keychain entry kept under the connection's name to `{}`",
            scope.key()
        );
        self.save(scope, &c).await?;
        let old_secret = format!("{old}{CLIENT_SECRET_SUFFIX}");
        if let Some(secret) = self.get(old, &old_secret, "read").await? {
            self.set(old, &scope.client_secret_key(), secret).await?;
            self.remove(old, &old_secret).await?;
        }
        self.remove(old, old).await?;
        Ok(Some(c))
    }

    /// Saves (replacing) the credentials of `scope`, recording its hosts in them.
    pub async fn save(
        &self,
        scope: &CredentialScope,
        credentials: &Credentials,
    ) -> Result<(), AuthError> {
        let mut credentials = credentials.clone();
        credentials.api_host = Some(scope.api_host.clone());
        credentials.token_host = Some(scope.token_host.clone());
        self.set(&scope.connection, &scope.key(), credentials.to_json())
            .await
    }

    /// Removes the credentials of `scope`; `false` when there were none.
    pub async fn delete(&self, scope: &CredentialScope) -> Result<bool, AuthError> {
        self.remove(&scope.connection, &scope.key()).await
    }

    /// The client secret stored for `scope` (`<key>#client-secret`).
    pub async fn load_client_secret(
        &self,
        scope: &CredentialScope,
    ) -> Result<Option<SecretString>, AuthError> {
        Ok(self
            .get(&scope.connection, &scope.client_secret_key(), "read")
            .await?
            .map(SecretString::new))
    }

    /// Stores the client secret of `scope`.
    pub async fn save_client_secret(
        &self,
        scope: &CredentialScope,
        secret: &SecretString,
    ) -> Result<(), AuthError> {
        self.set(
            &scope.connection,
            &scope.client_secret_key(),
            secret.expose().to_string(),
        )
        .await
    }

    /// Removes the client secret of `scope`; `false` when there was none.
    pub async fn delete_client_secret(&self, scope: &CredentialScope) -> Result<bool, AuthError> {
        self.remove(&scope.connection, &scope.client_secret_key())
            .await
    }

    /// The credentials a connection's webhooks carry (`<key>#webhook`), kept by `listen
    /// --subscribe`.
    pub async fn load_webhook_secret(
        &self,
        scope: &CredentialScope,
    ) -> Result<Option<SecretString>, AuthError> {
        let key = format!("{}#webhook", scope.key());
        Ok(self
            .get(&scope.connection, &key, "read")
            .await?
            .map(SecretString::new))
    }

    /// Stores the credentials a connection's webhooks carry.
    pub async fn save_webhook_secret(
        &self,
        scope: &CredentialScope,
        secret: &SecretString,
    ) -> Result<(), AuthError> {
        let key = format!("{}#webhook", scope.key());
        self.set(&scope.connection, &key, secret.expose().to_string())
            .await
    }

    /// Removes the credentials a connection's webhooks carry; `false` when there were none.
    pub async fn delete_webhook_secret(&self, scope: &CredentialScope) -> Result<bool, AuthError> {
        let key = format!("{}#webhook", scope.key());
        self.remove(&scope.connection, &key).await
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
            #[cfg(feature = "test-seams")]
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
            #[cfg(feature = "test-seams")]
            Backend::Files(dir) => write_private(dir, &file_name(&self.service, user), &value)
                .map_err(|e| file_error(connection, "save", dir, e)),
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
            #[cfg(feature = "test-seams")]
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

fn parse(connection: &str, text: &str) -> Result<Credentials, AuthError> {
    Credentials::from_json(text).map_err(|e| AuthError::CorruptEntry {
        connection: connection.to_string(),
        // The serde message names the field and position, never the value.
        reason: e.to_string(),
    })
}

/// Writes `value` as `dir/name` through a temporary file created with mode 0600 (on Unix;
/// the directory 0700), renamed over the old one.
#[cfg(feature = "test-seams")]
fn write_private(dir: &std::path::Path, name: &str, value: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut dirs = std::fs::DirBuilder::new();
    dirs.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dirs, 0o700);
    dirs.create(dir)?;
    let tmp = dir.join(format!(
        ".{name}.{}-{:08x}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut file = open.open(&tmp)?;
    file.write_all(value.as_bytes())?;
    drop(file);
    std::fs::rename(&tmp, dir.join(name))
}

fn memory_key(service: &str, user: &str) -> String {
    format!("{service}\u{0}{user}")
}

/// The file of an entry: service and user with every byte outside `[A-Za-z0-9_-]`
/// percent-encoded, so that no user name can reach outside the directory.
#[cfg(feature = "test-seams")]
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

#[cfg(feature = "test-seams")]
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

/// The token for `connection` from the environment, when set and not empty, with the variable
/// it came from: `CRMSYNC_TOKEN_<NAME>`, else the variable the connection's `token_env` names.
pub fn env_token(connection: &str, token_env: Option<&str>) -> Option<(String, SecretString)> {
    token_vars(connection, token_env)
        .into_iter()
        .find_map(|var| read_var(&var).map(|t| (var, t)))
}

/// The variables a connection's token is read from, in the order they are tried.
pub fn token_vars(connection: &str, token_env: Option<&str>) -> Vec<String> {
    let mut vars = vec![crate::env::token_var(connection)];
    if let Some(var) = token_env
        && !vars.iter().any(|v| v == var)
    {
        vars.push(var.to_string());
    }
    vars
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

/// The OAuth client secret of `scope`'s connection: `CRMSYNC_CLIENT_SECRET_<NAME>` first, else
/// the keychain entry `<key>#client-secret`; `None` for a public client.
pub async fn client_secret(
    keychain: &Keychain,
    scope: &CredentialScope,
) -> Result<Option<SecretString>, AuthError> {
    if let Some(secret) = read_var(&client_secret_var(&scope.connection)) {
        return Ok(Some(secret));
    }
    keychain.load_client_secret(scope).await
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
            provider: ProviderKind::Hubspot,
            access_token: SecretString::new(token),
            refresh_token: Some(SecretString::new("refresh")),
            expires_at: Some(123),
            token_type: "Bearer".into(),
            scopes: vec!["api".into()],
            client_id: Some("cid".into()),
            account: None,
            account_id: None,
            api_host: None,
            token_host: None,
            extra: Default::default(),
        }
    }

    fn scope(name: &str, host: &str) -> CredentialScope {
        CredentialScope {
            connection: name.into(),
            provider: ProviderKind::Hubspot,
            api_host: host.into(),
            token_host: host.into(),
            default_hosts: host == "api.hubapi.com",
            account_id: None,
        }
    }

    fn token(c: Option<Credentials>) -> Option<String> {
        c.map(|c| c.access_token.expose().to_string())
    }

    #[tokio::test]
    async fn file_keychain_is_shared_through_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (Keychain::in_dir(dir.path()), Keychain::in_dir(dir.path()));
        let s = scope("x/../y", "h.example");
        assert!(a.load(&s).await.unwrap().is_none());
        a.save(&s, &creds("t1")).await.unwrap();
        assert_eq!(token(b.load(&s).await.unwrap()), Some("t1".into()));
        assert!(
            !Keychain::in_dir(dir.path().join("other"))
                .delete(&s)
                .await
                .unwrap()
        );
        // Every entry stays inside the directory, whatever the connection name.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            assert!(!entry.unwrap().file_name().to_string_lossy().contains('/'));
        }
        assert!(b.delete(&s).await.unwrap());
        assert!(a.load(&s).await.unwrap().is_none());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn file_keychain_entries_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let k = Keychain::in_dir(dir.path().join("keys"));
        let s = scope("acme", "h.example");
        k.save(&s, &creds("t1")).await.unwrap();
        k.save_client_secret(&s, &SecretString::new("cs"))
            .await
            .unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("keys")), 0o700);
        for entry in std::fs::read_dir(dir.path().join("keys")).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
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
        let a = scope("a", "h.example");
        assert!(k.load(&a).await.unwrap().is_none());
        k.save(&a, &creds("t1")).await.unwrap();
        k.save_client_secret(&a, &SecretString::new("s"))
            .await
            .unwrap();
        let loaded = k.load(&a).await.unwrap().unwrap();
        assert_eq!(loaded.access_token.expose(), "t1");
        assert_eq!(loaded.api_host.as_deref(), Some("h.example"));
        assert_eq!(
            k.load_client_secret(&a).await.unwrap().unwrap().expose(),
            "s"
        );
        assert!(k.delete(&a).await.unwrap());
        assert!(!k.delete(&a).await.unwrap());
        // The client secret is a separate entry.
        assert!(k.delete_client_secret(&a).await.unwrap());
    }

    /// Two configs, each with a connection `acme`, at different hosts: neither reads,
    /// overwrites or deletes the other's credentials or client secret.
    #[tokio::test]
    async fn same_named_connections_at_other_hosts_never_share_an_entry() {
        let k = Keychain::isolated_memory();
        let (real, other) = (
            scope("acme", "api.hubapi.com"),
            scope("acme", "evil.example"),
        );
        k.save(&real, &creds("real-token")).await.unwrap();
        k.save_client_secret(&real, &SecretString::new("real-secret"))
            .await
            .unwrap();
        assert!(k.load(&other).await.unwrap().is_none());
        assert!(k.load_client_secret(&other).await.unwrap().is_none());
        assert!(!k.delete(&other).await.unwrap());
        k.save(&other, &creds("other-token")).await.unwrap();
        assert_eq!(
            token(k.load(&real).await.unwrap()),
            Some("real-token".into())
        );
        assert_ne!(real.key(), other.key());
    }

    /// An entry whose recorded hosts are not the scope's (copied by hand, or written by a
    /// tool) is refused rather than sent.
    #[tokio::test]
    async fn credentials_recorded_for_other_hosts_are_refused() {
        let k = Keychain::isolated_memory();
        let s = scope("acme", "api.hubapi.com");
        let mut c = creds("t");
        c.api_host = Some("evil.example".into());
        c.token_host = Some("evil.example".into());
        k.set("acme", &s.key(), c.to_json()).await.unwrap();
        let err = k.load(&s).await.unwrap_err();
        assert!(matches!(err, AuthError::IssuedElsewhere { .. }), "{err}");
        assert!(err.to_string().contains("`evil.example`"), "{err}");
    }

    #[tokio::test]
    async fn an_entry_kept_under_the_name_moves_once_to_a_connection_at_the_crms_own_hosts() {
        let k = Keychain::isolated_memory();
        k.set("acme", "acme", creds("old-entry").to_json())
            .await
            .unwrap();
        k.set("acme", "acme#client-secret", "cs".into())
            .await
            .unwrap();
        // A connection of that name elsewhere cannot vouch for it: refused, left in place.
        let elsewhere = scope("acme", "evil.example");
        let err = k.load(&elsewhere).await.unwrap_err();
        assert!(matches!(err, AuthError::UnverifiedEntry { .. }), "{err}");
        assert!(err.to_string().contains("`evil.example`"), "{err}");
        assert!(k.load_client_secret(&elsewhere).await.unwrap().is_none());
        // At HubSpot's own hosts it is moved, with its client secret, and the old entry goes.
        let real = scope("acme", "api.hubapi.com");
        assert_eq!(
            token(k.load(&real).await.unwrap()),
            Some("old-entry".into())
        );
        assert!(k.get("acme", "acme", "read").await.unwrap().is_none());
        assert!(
            k.get("acme", "acme#client-secret", "read")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            k.load_client_secret(&real).await.unwrap().unwrap().expose(),
            "cs"
        );
        let moved = k.load(&real).await.unwrap().unwrap();
        assert_eq!(moved.api_host.as_deref(), Some("api.hubapi.com"));
        // Moved once: the other scope now finds nothing at all.
        assert!(k.load(&elsewhere).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_old_entry_for_another_crm_is_not_moved() {
        let k = Keychain::isolated_memory();
        let mut c = creds("pd");
        c.provider = ProviderKind::Pipedrive;
        k.set("acme", "acme", c.to_json()).await.unwrap();
        let err = k.load(&scope("acme", "api.hubapi.com")).await.unwrap_err();
        assert!(matches!(err, AuthError::UnverifiedEntry { .. }), "{err}");
        assert!(k.get("acme", "acme", "read").await.unwrap().is_some());
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
        let name = scope("round-trip", "h.example");
        assert!(k.load(&name).await.unwrap().is_none());
        k.save(&name, &creds("first")).await.unwrap();
        k.save(&name, &creds("second")).await.unwrap();
        assert_eq!(token(k.load(&name).await.unwrap()), Some("second".into()));
        k.save_client_secret(&name, &SecretString::new("cs"))
            .await
            .unwrap();
        assert_eq!(
            k.load_client_secret(&name).await.unwrap().unwrap().expose(),
            "cs"
        );
        assert!(k.delete(&name).await.unwrap());
        assert!(k.delete_client_secret(&name).await.unwrap());
        assert!(k.load(&name).await.unwrap().is_none());
        assert!(!k.delete(&name).await.unwrap());
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
        let s = scope("visible", "h.example");
        k.save(&s, &creds("seen")).await.unwrap();
        let out = std::process::Command::new("secret-tool")
            .args(["lookup", "service", &service, "username", &s.key()])
            .output()
            .expect("secret-tool runs");
        k.delete(&s).await.unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let seen = Credentials::from_json(text.trim()).unwrap();
        assert_eq!(seen.access_token.expose(), "seen");
    }

    /// A connection known to work with one account refuses credentials recorded for another.
    #[tokio::test]
    async fn credentials_of_another_account_are_refused() {
        let k = Keychain::isolated_memory();
        let mut s = scope("acme", "api.hubapi.com");
        let mut c = creds("t");
        c.account_id = Some("111".into());
        k.save(&s, &c).await.unwrap();
        s.account_id = Some("111".into());
        assert!(k.load(&s).await.unwrap().is_some());
        s.account_id = Some("222".into());
        let err = k.load(&s).await.unwrap_err();
        assert!(matches!(err, AuthError::IssuedElsewhere { .. }), "{err}");
        assert!(err.to_string().contains("issued for account 111"), "{err}");
    }
}
