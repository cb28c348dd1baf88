//! Access tokens for providers: static tokens, and OAuth tokens renewed ahead of expiry and on
//! 401, with one refresher per connection across processes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::AuthError;
use super::credentials::{Credentials, SecretString};
use super::keychain::{CredentialScope, Keychain, client_secret, env_token};
use crate::clock::Clock;
use crate::model::Millis;
use crate::providers::{OAuthSpec, ProviderError, ProviderKind, TokenSource};

/// Token-endpoint error codes that mean the refresh token is no good any more: RFC 6749's, and
/// HubSpot's (`{"status": "BAD_REFRESH_TOKEN"}`).
const REFRESH_TOKEN_REFUSED: [&str; 3] = ["invalid_grant", "invalid_token", "BAD_REFRESH_TOKEN"];
/// Token-endpoint error codes that mean the OAuth client itself was refused.
const CLIENT_REFUSED: [&str; 4] = [
    "invalid_client",
    "unauthorized_client",
    "BAD_CLIENT_ID",
    "BAD_CLIENT_SECRET",
];

/// Refresh when less than this is left of the access token's life.
pub const REFRESH_MARGIN_MS: Millis = 2 * 60 * 1000;
/// How long a refresh lease is held at most; a refresher that dies frees it after this.
pub const LEASE_TTL_MS: Millis = 60 * 1000;

/// Who may refresh a connection's tokens right now. Between processes the lease is kept in
/// files ([`FileLock`], which `crate::connection` puts in the user's crmsync data directory); [`MemoryLock`]
/// serves one process.
pub trait RefreshLock: Send + Sync {
    /// Takes the lease on `connection` for `holder` until `now + ttl_ms`, unless another
    /// holder has an unexpired one. `true` when taken.
    fn try_acquire(
        &self,
        connection: &str,
        holder: &str,
        now: Millis,
        ttl_ms: Millis,
    ) -> Result<bool, String>;

    /// Gives the lease back if `holder` has it.
    fn release(&self, connection: &str, holder: &str) -> Result<(), String>;
}

/// A lease table in memory: enough when one process runs (and for tests of several "processes"
/// sharing one table).
#[derive(Debug, Default)]
pub struct MemoryLock {
    leases: Mutex<HashMap<String, (String, Millis)>>,
}

impl RefreshLock for MemoryLock {
    fn try_acquire(
        &self,
        connection: &str,
        holder: &str,
        now: Millis,
        ttl_ms: Millis,
    ) -> Result<bool, String> {
        let mut leases = self.leases.lock().expect("lease table poisoned");
        match leases.get(connection) {
            Some((other, until)) if other != holder && *until > now => Ok(false),
            _ => {
                leases.insert(connection.to_string(), (holder.to_string(), now + ttl_ms));
                Ok(true)
            }
        }
    }

    fn release(&self, connection: &str, holder: &str) -> Result<(), String> {
        let mut leases = self.leases.lock().expect("lease table poisoned");
        if leases.get(connection).is_some_and(|(h, _)| h == holder) {
            leases.remove(connection);
        }
        Ok(())
    }
}

/// A lease table in files, one per connection, under a directory: for several processes on
/// one machine until the state file holds the leases, and for tests. Each decision is made
/// under an exclusive OS file lock (`<dir>/<stem>.lock`), so two processes never both take an
/// expired lease.
///
/// A holder also keeps an OS lock on a file of its own (`<dir>/<stem>.<holder>.held`) for as
/// long as it holds the lease, as the state file's run lock does: the OS drops it when the
/// holder dies, however it dies. A lease whose holder's file is not locked was left by a
/// process that died (killed mid-refresh), and is taken over at once rather than after its TTL.
#[derive(Debug, Clone)]
pub struct FileLock {
    dir: std::path::PathBuf,
    /// The holder files this instance keeps locked, by lease file.
    held: Arc<Mutex<HashMap<std::path::PathBuf, std::fs::File>>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct LeaseFile {
    holder: String,
    until: Millis,
}

impl FileLock {
    pub fn new(dir: impl Into<std::path::PathBuf>) -> FileLock {
        FileLock {
            dir: dir.into(),
            held: Default::default(),
        }
    }

    /// The file a holder keeps locked while it holds the lease at `lease`.
    fn holder_file(lease: &std::path::Path, holder: &str) -> std::path::PathBuf {
        lease.with_extension(format!("{}.held", short_hash(holder)))
    }

    /// Whether a process holds `holder`'s file locked: `false` when the file is gone or
    /// nobody holds it (its holder died or gave the lease back).
    fn holder_alive(lease: &std::path::Path, holder: &str) -> std::io::Result<bool> {
        let file = match std::fs::File::open(Self::holder_file(lease, holder)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                Ok(false)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(true),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Locks `holder`'s file for this instance (kept until [`RefreshLock::release`]).
    fn hold(&self, lease: &std::path::Path, holder: &str) -> std::io::Result<()> {
        let mut held = self.held.lock().expect("held table poisoned");
        if held.contains_key(lease) {
            return Ok(());
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(Self::holder_file(lease, holder))?;
        file.lock()?;
        held.insert(lease.to_path_buf(), file);
        Ok(())
    }

    /// Unlocks and removes this instance's holder file for `lease`, if it has one.
    fn let_go(&self, lease: &std::path::Path, holder: &str) {
        if let Some(file) = self.held.lock().expect("held table poisoned").remove(lease) {
            let _ = std::fs::remove_file(Self::holder_file(lease, holder));
            let _ = file.unlock();
        }
    }

    fn locked<T>(
        &self,
        connection: &str,
        f: impl FnOnce(&std::path::Path) -> std::io::Result<T>,
    ) -> Result<T, String> {
        let describe = |e: std::io::Error| format!("lease files in `{}`: {e}", self.dir.display());
        std::fs::create_dir_all(&self.dir).map_err(describe)?;
        // The key becomes a file name: keep it to characters every file system takes, with a
        // hash of the whole key so that keys that differ only elsewhere stay apart.
        let readable: String = connection
            .chars()
            .take(48)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let stem = format!("{readable}-{}", short_hash(connection));
        let guard = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(format!("{stem}.lock")))
            .map_err(describe)?;
        guard.lock().map_err(describe)?;
        let result = f(&self.dir.join(format!("{stem}.lease"))).map_err(describe);
        let _ = guard.unlock();
        result
    }

    fn read(path: &std::path::Path) -> std::io::Result<Option<LeaseFile>> {
        match std::fs::read_to_string(path) {
            // A torn or foreign file is treated as no lease: the worst case is one extra refresh.
            Ok(text) => Ok(serde_json::from_str(&text).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn short_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl RefreshLock for FileLock {
    fn try_acquire(
        &self,
        connection: &str,
        holder: &str,
        now: Millis,
        ttl_ms: Millis,
    ) -> Result<bool, String> {
        self.locked(connection, |path| {
            if let Some(lease) = Self::read(path)?
                && lease.holder != holder
                && lease.until > now
            {
                if Self::holder_alive(path, &lease.holder)? {
                    tracing::debug!(
                        "the refresh lease of `{connection}` is held by {} (running); waiting",
                        lease.holder
                    );
                    return Ok(false);
                }
                tracing::info!(
                    "the refresh lease of `{connection}` was left by {}, which is no longer \
                     running; taking it over",
                    lease.holder
                );
                let _ = std::fs::remove_file(Self::holder_file(path, &lease.holder));
            }
            self.hold(path, holder)?;
            let lease = LeaseFile {
                holder: holder.to_string(),
                until: now + ttl_ms,
            };
            std::fs::write(
                path,
                serde_json::to_string(&lease).expect("lease serializes"),
            )?;
            Ok(true)
        })
    }

    fn release(&self, connection: &str, holder: &str) -> Result<(), String> {
        self.locked(connection, |path| {
            if Self::read(path)?.is_some_and(|l| l.holder == holder) {
                std::fs::remove_file(path)?;
            }
            self.let_go(path, holder);
            Ok(())
        })
    }
}

/// A token that is used as it is (`CRMSYNC_TOKEN_<NAME>`, or a private-app/API token saved by
/// `connect --token-env`). A 401 cannot be cured here.
pub struct StaticTokenSource {
    token: SecretString,
    /// Where the token came from when it is an environment variable, so that a rejection
    /// names it and what to do (with the scope, to say whether the keychain has an entry).
    from_env: Option<(String, CredentialScope, Keychain)>,
}

impl StaticTokenSource {
    pub fn new(token: SecretString) -> StaticTokenSource {
        StaticTokenSource {
            token,
            from_env: None,
        }
    }

    /// A token read from the environment variable `var` for `scope`'s connection.
    pub fn from_env(
        token: SecretString,
        var: String,
        scope: CredentialScope,
        keychain: Keychain,
    ) -> StaticTokenSource {
        StaticTokenSource {
            token,
            from_env: Some((var, scope, keychain)),
        }
    }
}

#[async_trait]
impl TokenSource for StaticTokenSource {
    async fn access_token(&self) -> Result<String, ProviderError> {
        Ok(self.token.expose().to_string())
    }

    async fn refresh(&self, _rejected: &str) -> Result<Option<String>, ProviderError> {
        let Some((var, scope, keychain)) = &self.from_env else {
            return Ok(None);
        };
        // The variable wins over the keychain: say so, since the keychain entry may be fine.
        let keychain_has_entry = matches!(keychain.load(scope).await, Ok(Some(_)));
        Err(ProviderError::EnvTokenRejected {
            crm: scope.provider.display_name(),
            connection: scope.connection.clone(),
            var: var.clone(),
            keychain_has_entry,
        })
    }
}

/// The token source for a connection: `CRMSYNC_TOKEN_<NAME>` when set (it wins), else the
/// variable its `token_env` names when that is set, else the keychain's credentials, renewed
/// through `spec` when they are OAuth ones.
pub fn token_source(
    scope: &CredentialScope,
    token_env: Option<&str>,
    spec: Option<OAuthSpec>,
    keychain: Keychain,
    lock: Arc<dyn RefreshLock>,
    clock: Arc<dyn Clock>,
) -> Arc<dyn TokenSource> {
    if let Some((var, token)) = env_token(&scope.connection, token_env) {
        return Arc::new(StaticTokenSource::from_env(
            token,
            var,
            scope.clone(),
            keychain,
        ));
    }
    Arc::new(OAuthTokenSource::new(scope, spec, keychain, lock, clock))
}

/// Keychain-backed credentials, refreshed through the CRM's token endpoint.
pub struct OAuthTokenSource {
    /// What the credentials are issued for: the keychain entry and the refresh lease.
    scope: CredentialScope,
    connection: String,
    provider: ProviderKind,
    spec: Option<OAuthSpec>,
    keychain: Keychain,
    lock: Arc<dyn RefreshLock>,
    clock: Arc<dyn Clock>,
    /// This source's name in the lease table; unique per process and source.
    holder: String,
    /// The credentials last read or written; refreshes within the process go one at a time.
    current: tokio::sync::Mutex<Option<Credentials>>,
    /// How often a waiting process re-reads the keychain.
    poll: Duration,
    /// How many polls a waiting process makes before giving up.
    max_polls: u32,
}

impl OAuthTokenSource {
    pub fn new(
        scope: &CredentialScope,
        spec: Option<OAuthSpec>,
        keychain: Keychain,
        lock: Arc<dyn RefreshLock>,
        clock: Arc<dyn Clock>,
    ) -> OAuthTokenSource {
        let poll = Duration::from_millis(250);
        OAuthTokenSource {
            scope: scope.clone(),
            connection: scope.connection.clone(),
            provider: scope.provider,
            spec,
            keychain,
            lock,
            clock,
            holder: format!(
                "pid {} source {:08x}",
                std::process::id(),
                rand::random::<u32>()
            ),
            current: tokio::sync::Mutex::new(None),
            poll,
            // Wait out a whole lease: a refresher that died frees it after its TTL.
            max_polls: (LEASE_TTL_MS as u128 / poll.as_millis()) as u32 + 4,
        }
    }

    /// Changes how often a waiting source re-reads the keychain (tests use a short one).
    pub fn with_poll_interval(mut self, poll: Duration) -> OAuthTokenSource {
        self.max_polls = (LEASE_TTL_MS as u128 / poll.as_millis().max(1)) as u32 + 4;
        self.poll = poll;
        self
    }

    fn crm(&self) -> &'static str {
        self.provider.display_name()
    }

    fn sign_in_again(&self) -> String {
        format!(
            "sign in again with `crmsync connect {} --name {}`",
            self.provider, self.connection
        )
    }

    fn auth_error(&self, message: String) -> ProviderError {
        ProviderError::Auth {
            crm: self.crm(),
            connection: self.connection.clone(),
            message,
        }
    }

    async fn read_keychain(&self) -> Result<Credentials, ProviderError> {
        match self.keychain.load(&self.scope).await {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(ProviderError::NoToken {
                connection: self.connection.clone(),
                message: format!(
                    "the keychain has no credentials for it and `{}` is not set; run `crmsync \
                     connect {} --name {}`",
                    crate::env::token_var(&self.connection),
                    self.provider,
                    self.connection
                ),
            }),
            Err(e) => Err(ProviderError::NoToken {
                connection: self.connection.clone(),
                message: e.to_string(),
            }),
        }
    }

    /// Whether `c` can be used now instead of refreshing: fresh, and not the token the CRM
    /// just rejected.
    fn usable(&self, c: &Credentials, rejected: Option<&str>) -> bool {
        rejected != Some(c.access_token.expose()) && c.is_fresh(self.clock.now(), REFRESH_MARGIN_MS)
    }

    /// Returns usable credentials, refreshing them if needed. Holds `current` throughout, so
    /// callers in this process wait for one refresh instead of starting their own.
    async fn ensure(&self, rejected: Option<&str>) -> Result<Option<Credentials>, ProviderError> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref()
            && self.usable(c, rejected)
        {
            return Ok(Some(c.clone()));
        }
        // Another process may have refreshed since we last looked.
        let stored = self.read_keychain().await?;
        if self.usable(&stored, rejected) {
            *current = Some(stored.clone());
            return Ok(Some(stored));
        }
        if !stored.can_refresh() {
            *current = Some(stored.clone());
            return match rejected {
                // A static token (or one minted elsewhere) that the CRM refused: nothing to do here.
                Some(_) => Ok(None),
                // Expired and not renewable: still try it; the CRM decides.
                None => Ok(Some(stored)),
            };
        }
        let fresh = self.refresh_across_processes(rejected).await?;
        *current = Some(fresh.clone());
        Ok(Some(fresh))
    }

    async fn refresh_across_processes(
        &self,
        rejected: Option<&str>,
    ) -> Result<Credentials, ProviderError> {
        for _ in 0..=self.max_polls {
            let taken = self
                .lock
                .try_acquire(
                    &self.scope.key(),
                    &self.holder,
                    self.clock.now(),
                    LEASE_TTL_MS,
                )
                .map_err(|e| {
                    ProviderError::Other(format!(
                        "could not take the refresh lease of connection `{}`: {e}",
                        self.connection
                    ))
                })?;
            if taken {
                let result = async {
                    // The previous holder may have finished between our read and the lease.
                    let latest = self.read_keychain().await?;
                    if self.usable(&latest, rejected) {
                        return Ok(latest);
                    }
                    let renewed = self.refresh_with_endpoint(&latest).await?;
                    #[cfg(feature = "test-seams")]
                    die_before_token_save();
                    // Saved before the lease goes, and before the new access token is used: the
                    // old refresh token may already be void.
                    self.keychain
                        .save(&self.scope, &renewed)
                        .await
                        .map_err(|e| {
                            ProviderError::Other(format!(
                                "the tokens of connection `{}` were renewed but could not be \
                                 saved: {e}",
                                self.connection
                            ))
                        })?;
                    Ok(renewed)
                }
                .await;
                let released = self.lock.release(&self.scope.key(), &self.holder);
                let renewed = result?;
                released.map_err(|e| {
                    ProviderError::Other(format!(
                        "could not release the refresh lease of connection `{}`: {e}",
                        self.connection
                    ))
                })?;
                return Ok(renewed);
            }
            tokio::time::sleep(self.poll).await;
            // The refresher saves before it releases, so a usable token shows up here first.
            let stored = self.read_keychain().await?;
            if self.usable(&stored, rejected) {
                return Ok(stored);
            }
        }
        Err(ProviderError::Other(format!(
            "another crmsync process has been refreshing the tokens of connection `{}` for over \
             {} s and no new token appeared in the keychain; try again (a lease left by a process \
             that died expires on its own)",
            self.connection,
            LEASE_TTL_MS / 1000,
        )))
    }

    async fn refresh_with_endpoint(&self, c: &Credentials) -> Result<Credentials, ProviderError> {
        let Some(spec) = self.spec.as_ref() else {
            return Err(self.auth_error(format!(
                "the access token expired and {} connections cannot be renewed; {}",
                self.crm(),
                self.sign_in_again()
            )));
        };
        let (Some(refresh_token), Some(client_id)) = (&c.refresh_token, &c.client_id) else {
            return Err(self.auth_error(format!(
                "the stored credentials cannot be renewed; {}",
                self.sign_in_again()
            )));
        };
        let secret = client_secret(&self.keychain, &self.scope)
            .await
            .map_err(|e| ProviderError::NoToken {
                connection: self.connection.clone(),
                message: e.to_string(),
            })?;
        let form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh_token.expose().to_string()),
        ];
        let now = self.clock.now();
        super::http::token_request(
            spec,
            "refresh token",
            form,
            client_id,
            secret.as_ref(),
            now,
            Some(c),
        )
        .await
        .map_err(|e| match e {
            AuthError::TokenEndpoint {
                error, description, ..
            } if REFRESH_TOKEN_REFUSED.contains(&error.as_str()) => self.auth_error(format!(
                "the refresh token was revoked or has expired ({error}{}); {}",
                description.map(|d| format!(": {d}")).unwrap_or_default(),
                self.sign_in_again()
            )),
            AuthError::TokenEndpoint {
                error, description, ..
            } if CLIENT_REFUSED.contains(&error.as_str()) => self.auth_error(format!(
                "the OAuth client was not accepted ({error}{}); check the client secret in \
                     `{}` or the keychain entry `{}#client-secret`",
                description.map(|d| format!(": {d}")).unwrap_or_default(),
                super::keychain::client_secret_var(&self.connection),
                self.scope.key()
            )),
            AuthError::TokenEndpoint {
                status,
                error,
                description,
                ..
            } => ProviderError::Api {
                crm: self.crm(),
                connection: self.connection.clone(),
                status,
                message: format!(
                    "token refresh failed: {error}{}",
                    description.map(|d| format!(": {d}")).unwrap_or_default()
                ),
            },
            AuthError::Http { reason, what, .. } => ProviderError::Network {
                crm: self.crm(),
                connection: self.connection.clone(),
                message: format!("token refresh: {what}: {reason}"),
            },
            other => ProviderError::Other(other.to_string()),
        })
    }
}

/// Test knob (`CRMSYNC_TEST_KILL_BEFORE_TOKEN_SAVE=1`): dies as a kill between the token
/// endpoint's answer and the save would.
#[cfg(feature = "test-seams")]
fn die_before_token_save() {
    if std::env::var(crate::env::TEST_KILL_BEFORE_TOKEN_SAVE).as_deref() == Ok("1") {
        crate::env::die_at_once();
    }
}

#[async_trait]
impl TokenSource for OAuthTokenSource {
    async fn access_token(&self) -> Result<String, ProviderError> {
        let c = self.ensure(None).await?.expect("no rejected token given");
        Ok(c.access_token.expose().to_string())
    }

    async fn refresh(&self, rejected: &str) -> Result<Option<String>, ProviderError> {
        Ok(self
            .ensure(Some(rejected))
            .await?
            .map(|c| c.access_token.expose().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `p1` and `p2` share one lease table (one instance twice, or two "processes").
    fn admits_one_holder_until_release_or_expiry(p1: &dyn RefreshLock, p2: &dyn RefreshLock) {
        assert!(p1.try_acquire("a", "p1", 0, 100).unwrap());
        assert!(!p2.try_acquire("a", "p2", 50, 100).unwrap());
        assert!(
            p1.try_acquire("a", "p1", 50, 100).unwrap(),
            "the holder renews"
        );
        assert!(
            p2.try_acquire("b", "p2", 50, 100).unwrap(),
            "leases are per connection"
        );
        p2.release("a", "p2").unwrap();
        assert!(
            !p2.try_acquire("a", "p2", 60, 100).unwrap(),
            "only the holder releases"
        );
        p1.release("a", "p1").unwrap();
        assert!(p2.try_acquire("a", "p2", 60, 100).unwrap());
        assert!(
            p1.try_acquire("a", "p1", 161, 100).unwrap(),
            "an expired lease is taken over"
        );
        assert!(!p2.try_acquire("a", "p2", 162, 100).unwrap());
    }

    #[test]
    fn memory_lock_admits_one_holder_until_release_or_expiry() {
        let lock = MemoryLock::default();
        admits_one_holder_until_release_or_expiry(&lock, &lock);
    }

    #[test]
    fn file_lock_admits_one_holder_until_release_or_expiry() {
        let dir = tempfile::tempdir().unwrap();
        admits_one_holder_until_release_or_expiry(
            &FileLock::new(dir.path()),
            &FileLock::new(dir.path()),
        );
    }

    #[test]
    fn file_lock_gives_the_lease_to_one_of_many_threads() {
        let dir = tempfile::tempdir().unwrap();
        // Each lock stands for a live process: it outlives the race.
        let locks: Vec<FileLock> = (0..8).map(|_| FileLock::new(dir.path())).collect();
        let winners: usize = std::thread::scope(|s| {
            let handles: Vec<_> = locks
                .iter()
                .enumerate()
                .map(|(i, lock)| {
                    s.spawn(move || lock.try_acquire("acme", &format!("p{i}"), 0, 1000).unwrap())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap() as usize)
                .sum()
        });
        assert_eq!(winners, 1);
    }

    /// A process killed mid-refresh leaves its lease; the OS has dropped its lock on its
    /// holder file, so the next process takes the lease over at once, not after the TTL.
    #[test]
    fn a_lease_left_by_a_dead_holder_is_taken_over_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let dead = FileLock::new(dir.path());
        assert!(
            dead.try_acquire("acme", "pid 1 source a", 0, 60_000)
                .unwrap()
        );
        // A live holder keeps it.
        let next = FileLock::new(dir.path());
        assert!(
            !next
                .try_acquire("acme", "pid 2 source b", 1, 60_000)
                .unwrap()
        );
        // Dropping the lock table is what dying does to the holder's OS lock; the lease file
        // stays, unexpired.
        drop(dead);
        assert!(
            next.try_acquire("acme", "pid 2 source b", 2, 60_000)
                .unwrap()
        );
        let third = FileLock::new(dir.path());
        assert!(
            !third
                .try_acquire("acme", "pid 3 source c", 3, 60_000)
                .unwrap(),
            "the new holder is alive"
        );
    }
}
