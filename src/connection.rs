//! Opening a configured connection for work: its credentials (from `auth`) and its provider.

use std::path::Path;
use std::sync::Arc;

use crate::auth::{self, FileLock, Keychain};
use crate::clock::Clock;
use crate::config::{Config, ConnectionConfig};
use crate::output::errors::UsageError;
use crate::providers::{self, OAuthSpec, Provider, ProviderContext};

/// A connection ready to be called.
pub struct Opened {
    pub name: String,
    pub config: ConnectionConfig,
    pub provider: Arc<dyn Provider>,
}

/// The OAuth description of a configured connection's CRM, with its URL overrides.
pub fn oauth_spec(conn: &ConnectionConfig) -> Option<OAuthSpec> {
    let mut spec = providers::oauth_spec(
        conn.provider,
        conn.base_url.as_deref(),
        conn.auth_url.as_deref(),
    )?;
    if let Some(scopes) = &conn.scopes {
        spec.scopes = scopes.clone();
    }
    Some(spec)
}

/// Opens connection `name` of `config`. Refresh leases live in the user's crmsync data
/// directory, so no two processes of one user refresh a connection's token at once.
pub fn open(
    name: &str,
    config: &Config,
    state_path: &Path,
    clock: Arc<dyn Clock>,
    max_requests: Option<u64>,
) -> anyhow::Result<Opened> {
    let conn = config
        .connection(name)
        .map_err(|m| anyhow::Error::new(UsageError(m)))?
        .clone();
    // Leases guard the keychain entry, which is per user: keep them per user too, so runs
    // with state files in different folders still never refresh one token twice at once.
    let lease_dir = directories::ProjectDirs::from("", "", "crmsync")
        .map(|d| d.data_dir().join("leases"))
        .unwrap_or_else(|| {
            state_path
                .parent()
                .unwrap_or(Path::new("."))
                .join(".crmsync-leases")
        });
    let tokens = auth::token_source(
        name,
        conn.token_env.as_deref(),
        conn.provider,
        oauth_spec(&conn),
        Keychain::from_env(),
        Arc::new(FileLock::new(lease_dir)),
        clock.clone(),
    );
    let provider = providers::open_with(
        conn.provider,
        ProviderContext {
            connection: name.to_string(),
            base_url: conn.base_url.clone(),
            tokens,
            clock,
            max_requests: max_requests.or(conn.max_requests_per_run),
            overlap: config.sync.overlap_secs.saturating_mul(1000) as crate::model::Millis,
        },
        providers::http::HttpOptions::from_settings(&config.http),
    )?;
    Ok(Opened {
        name: name.to_string(),
        config: conn,
        provider: Arc::from(provider),
    })
}

/// Opens the named connections, or every configured one when `names` is empty.
pub fn open_many(
    names: &[String],
    config: &Config,
    state_path: &Path,
    clock: Arc<dyn Clock>,
    max_requests: Option<u64>,
) -> anyhow::Result<Vec<Opened>> {
    let names: Vec<String> = if names.is_empty() {
        config.connections.keys().cloned().collect()
    } else {
        names.to_vec()
    };
    names
        .iter()
        .map(|n| open(n, config, state_path, clock.clone(), max_requests))
        .collect()
}
