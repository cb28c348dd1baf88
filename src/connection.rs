//! Opening a configured connection for work: its credentials (from `auth`) and its provider.

use std::path::Path;
use std::sync::Arc;

use crate::auth::{self, CredentialScope, FileLock, Keychain};
use crate::clock::Clock;
use crate::config::{Config, ConnectionConfig};
use crate::error::Error;
use crate::providers::{self, OAuthSpec, Provider, ProviderContext, TokenSource};

/// A connection ready to be called.
pub struct Opened {
    pub name: String,
    pub config: ConnectionConfig,
    pub provider: Arc<dyn Provider>,
}

impl Opened {
    /// The connection as a party to a sync run.
    pub fn into_participant(self) -> crate::engine::sync::Participant {
        crate::engine::sync::Participant {
            name: self.name,
            config: self.config,
            provider: self.provider,
        }
    }
}

/// The OAuth description of a configured connection's CRM, with its URL overrides.
pub fn oauth_spec(conn: &ConnectionConfig) -> Option<OAuthSpec> {
    let mut spec =
        providers::oauth_spec(conn.provider, conn.sign_in_base(), conn.auth_url.as_deref())?;
    match &conn.scopes {
        Some(scopes) => spec.scopes = scopes.clone(),
        // The scopes of the objects the connection syncs (HubSpot's deals).
        None => {
            for object in crate::model::ObjectKind::ALL
                .into_iter()
                .filter(|o| conn.syncs(*o))
            {
                for scope in providers::object_scopes(conn.provider, object) {
                    if !spec.scopes.iter().any(|s| s == scope) {
                        spec.scopes.push(scope.to_string());
                    }
                }
            }
        }
    }
    Some(spec)
}

/// What `name`'s credentials are issued for: its provider and the hosts its API and token
/// calls go to (`base_url` or `instance_url`, else the CRM's own). The keychain entry is
/// keyed by it.
pub fn credential_scope(name: &str, conn: &ConnectionConfig) -> CredentialScope {
    let host = |url: &str| match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => url.to_string(),
        },
        Err(_) => url.to_string(),
    };
    let default_api = providers::default_base_url(conn.provider);
    let api = conn.api_base().or(default_api);
    let api_host = api.map_or_else(|| format!("{}-default", conn.provider), host);
    let token_host = oauth_spec(conn).map_or_else(|| api_host.clone(), |s| host(&s.token_url));
    CredentialScope {
        connection: name.to_string(),
        provider: conn.provider,
        api_host,
        token_host,
        default_hosts: default_api.is_some()
            && (conn.api_base().is_none() || conn.api_base() == default_api),
        // Filled in by [`open`] from the account the state file's links are bound to.
        account_id: None,
    }
}

/// The context a provider of connection `name` (configured as `conn` in `config`) is opened
/// with, its tokens from `tokens` and at most `max_requests` requests sent: the one place that
/// reads a connection's provider settings, `[sync] overlap_secs` among them.
pub fn provider_context(
    name: &str,
    conn: &ConnectionConfig,
    config: &Config,
    tokens: Arc<dyn TokenSource>,
    clock: Arc<dyn Clock>,
    max_requests: Option<u64>,
) -> ProviderContext {
    ProviderContext {
        connection: name.to_string(),
        base_url: conn.api_base().map(str::to_string),
        tokens,
        clock,
        max_requests,
        overlap: config.sync.overlap_secs.saturating_mul(1000) as crate::model::Millis,
    }
}

/// The fields that match an unlinked record of `object` to a local one (by their normalised
/// values): the connection's own `match_keys` where it is given and has them, else
/// `[sync] match_keys` (what an import into the local store uses).
pub fn match_keys(
    config: &Config,
    conn: Option<&ConnectionConfig>,
    object: crate::model::ObjectKind,
) -> Vec<String> {
    conn.and_then(|c| c.match_keys.as_ref())
        .unwrap_or(&config.sync.match_keys)
        .for_object(object)
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
    let conn = config.connection(name).map_err(Error::usage)?.clone();
    check_token_env(name, &conn)?;
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
    let scope = bound_scope(name, &conn, state_path);
    let tokens = auth::token_source(
        &scope,
        conn.token_env.as_deref(),
        oauth_spec(&conn),
        Keychain::from_env(),
        Arc::new(FileLock::new(lease_dir)),
        clock.clone(),
    );
    let provider = providers::open_configured(
        conn.provider,
        provider_context(
            name,
            &conn,
            config,
            tokens,
            clock,
            max_requests.or(conn.max_requests_per_run),
        ),
        providers::http::HttpOptions::from_settings(
            config.http.timeout_secs,
            config.http.rate_limit_margin,
        ),
        conn.labels(),
        conn.salesforce_settings(),
    )?;
    Ok(Opened {
        name: name.to_string(),
        config: conn,
        provider: Arc::from(provider),
    })
}

/// What `name`'s credentials are issued for, with the account the state file's links are
/// bound to: credentials recorded as issued for another account are refused before they are
/// sent anywhere.
fn bound_scope(name: &str, conn: &ConnectionConfig, state_path: &Path) -> CredentialScope {
    let mut scope = credential_scope(name, conn);
    scope.account_id = crate::store::Store::open_read_only(state_path)
        .ok()
        .and_then(|store| store.account_binding(name).ok().flatten())
        .map(|binding| binding.account);
    scope
}

/// Refuses (a usage error: exit 2) a connection whose keychain credentials are recorded as
/// issued for another account than the one the state file's links are bound to, before
/// anything is sent, saying what to do; a run would otherwise stop on its first call for
/// want of a token it may use. A token from the environment wins over the keychain and is
/// checked by the run.
async fn refuse_another_accounts_credentials(
    name: &str,
    conn: &ConnectionConfig,
    state_path: &Path,
) -> anyhow::Result<()> {
    let mut scope = bound_scope(name, conn, state_path);
    let Some(bound) = scope.account_id.take() else {
        return Ok(());
    };
    if auth::env_token(name, conn.token_env.as_deref()).is_some() {
        return Ok(());
    }
    // Any other trouble with the entry is the token source's to report.
    let Ok(Some(stored)) = Keychain::from_env().load(&scope).await else {
        return Ok(());
    };
    let Some(issued) = stored.account_id.filter(|id| *id != bound) else {
        return Ok(());
    };
    let crm = conn.provider.display_name();
    Err(crate::error::usage_hinted(
        format!(
            "the keychain holds credentials of connection `{name}` for {crm} account {issued}, but its links were made in account {bound}; they were not used and nothing was sent"
        ),
        format!(
            "to go on syncing account {bound}, run `crmsync disconnect {name}`, then `crmsync connect {} --name {name}` signing in to account {bound}; to move `{name}` to account {issued}, run `crmsync connections forget-links {name}`",
            conn.provider
        ),
    ))
}

/// A connection whose config names the variable holding its token (`token_env`) takes it
/// from there: with the variable unset (and no `CRMSYNC_TOKEN_<NAME>`), say so, rather than
/// falling through to a keychain the config did not ask for.
fn check_token_env(name: &str, conn: &ConnectionConfig) -> anyhow::Result<()> {
    let Some(var) = conn.token_env.as_deref() else {
        return Ok(());
    };
    if auth::env_token(name, Some(var)).is_some() {
        return Ok(());
    }
    Err(crate::error::usage_hinted(
        format!(
            "connection `{name}` takes its token from the environment variable `{var}` (`token_env` in `[connections.{name}]`), and `{var}` is not set (or is empty)"
        ),
        format!(
            "set `{var}` (or `{}`) to the connection's private-app or API token in the environment crmsync runs in; to use the keychain instead, remove `token_env` and run `crmsync connect {} --name {name}`",
            crate::env::token_var(name),
            conn.provider.as_str()
        ),
    ))
}

/// Opens the named connections, or every configured one when `names` is empty, for a run;
/// refuses one whose stored credentials are for another account than its links.
pub async fn open_many(
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
    let opened = names
        .iter()
        .map(|n| open(n, config, state_path, clock.clone(), max_requests))
        .collect::<anyhow::Result<Vec<Opened>>>()?;
    for o in &opened {
        refuse_another_accounts_credentials(&o.name, &o.config, state_path).await?;
    }
    Ok(opened)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every provider crmsync opens (for a sync, `connect`, `explain` or the demo) reads the
    /// change feed back as far as `[sync] overlap_secs` says, not the built-in default.
    #[test]
    fn a_provider_context_honours_sync_overlap_secs() {
        let text = "[sync]\noverlap_secs = 42\n\n[connections.acme]\nprovider = \"hubspot\"\n";
        let config = Config::parse(text, Path::new("config.toml")).unwrap();
        let conn = config.connections["acme"].clone();
        let tokens: Arc<dyn TokenSource> =
            Arc::new(auth::StaticTokenSource::new(auth::SecretString::new("t")));
        let ctx = provider_context(
            "acme",
            &conn,
            &config,
            tokens,
            Arc::new(crate::clock::FixedClock::new(0)),
            None,
        );
        assert_eq!(ctx.overlap, 42_000);
        assert_ne!(ctx.overlap, providers::DEFAULT_OVERLAP_MS);
        assert_eq!(ctx.connection, "acme");
    }

    fn scopes_of(connection: &str) -> Vec<String> {
        let text = format!("[connections.acme]\nprovider = \"hubspot\"\n{connection}");
        let config = Config::parse(&text, Path::new("config.toml")).unwrap();
        oauth_spec(&config.connections["acme"]).unwrap().scopes
    }

    /// A HubSpot connection that syncs deals asks for the deal scopes at sign-in; one that
    /// does not, or that names its scopes itself, does not. Activities go by the contacts
    /// scopes every connection asks for.
    #[test]
    fn the_deal_scopes_are_asked_for_when_deals_are_synced() {
        let deals = [
            "crm.objects.deals.read",
            "crm.objects.deals.write",
            "crm.schemas.deals.read",
            "crm.schemas.deals.write",
        ];
        let plain = scopes_of("");
        assert!(
            deals.iter().all(|d| !plain.iter().any(|s| s == d)),
            "{plain:?}"
        );
        let with = scopes_of("objects = [\"contact\", \"company\", \"activity\", \"deal\"]\n");
        assert_eq!(with[..plain.len()], plain[..]);
        assert_eq!(with[plain.len()..], deals.map(String::from));
        let activities = scopes_of("objects = [\"contact\", \"activity\"]\n");
        assert_eq!(activities, plain);
        for needed in ["crm.objects.contacts.read", "crm.objects.contacts.write"] {
            assert!(activities.iter().any(|s| s == needed), "{activities:?}");
        }
        let own = scopes_of("objects = [\"deal\"]\nscopes = [\"oauth\"]\n");
        assert_eq!(own, ["oauth"]);
    }
}
