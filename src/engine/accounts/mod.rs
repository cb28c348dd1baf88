//! Links belong to a CRM account, not to a connection name.
//!
//! A connection's links (record ⇄ remote id, with their bases), cursors, journal and failures
//! are only true of the account they were made in: HubSpot's portal (Pipedrive's company,
//! Salesforce's org). Ids of one account name unrelated records in another, so a connection
//! whose `base_url` or token now reaches another account must not follow its links there.
//!
//! At the start of every run, before its journal is recovered or anything is read or
//! written, each connection asks its CRM which account it reaches (one call, made once per
//! run) and [`check`] compares it with the account its links are bound to:
//!
//! * bound to that account → go on;
//! * bound to another account → stop ([`AccountStop::AccountChanged`]); the way out is the
//!   old `base_url` and token, a new connection name, or `crmsync connections forget-links`;
//! * not bound yet → bind it, unless another connection has it: one that is still configured
//!   ([`AccountStop::AccountShared`]: two connections to one account copy records without a
//!   match key back and forth), or one that left the config, whose state the connection takes
//!   over (a renamed connection keeps its links, see [`rename`]);
//! * links made before accounts were kept are bound at their connection's next run, unless
//!   another connection already has the account.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::engine::{Participant, StepError};
use crate::model::Millis;
use crate::providers::{AccountInfo, Provider, ProviderError, ProviderKind};
use crate::store::{Forgotten, Store, StoreError};

pub(in crate::engine) mod stop;

pub use stop::AccountStop;

/// The accounts connections of one run reach: a dry run binds nothing, yet two of its
/// connections must not share an account either.
#[derive(Debug, Default)]
pub struct Claims(HashMap<(ProviderKind, String), String>);

/// Checks the account `p` reaches against the state file, and binds it when the connection
/// has none yet (not in a dry run). Returns the account's id, and a note for the run's
/// warnings when it bound links made before accounts were kept, or took over a renamed
/// connection's state.
pub async fn check(
    store: &mut Store,
    config: &Config,
    p: &Participant,
    dry_run: bool,
    claims: &mut Claims,
) -> Result<(String, Option<String>), StepError> {
    Asked(vec![None])
        .check(0, store, config, p, dry_run, claims)
        .await
}

/// The accounts a run's connections reach, asked of every CRM at once when the run starts
/// (one call each, in the background), and taken by [`Asked::check`] in each connection's
/// turn: a connection's check then waits for no other connection's reading and planning.
/// Only the question goes out early; each connection is still checked before its journal is
/// recovered or anything of it is read or written. Questions not taken are cut short.
pub struct Asked(Vec<Option<tokio::task::JoinHandle<Result<AccountInfo, ProviderError>>>>);

impl Asked {
    /// Asks each of `participants` (in order) which account it reaches, or takes it from
    /// `known` (the accounts earlier runs of this process found).
    pub fn of(participants: &[Participant], known: Option<&Arc<KnownAccounts>>) -> Asked {
        Asked(
            participants
                .iter()
                .map(|p| {
                    let provider = p.provider.clone();
                    let known = known.cloned();
                    Some(tokio::spawn(async move {
                        match known {
                            Some(known) => known.account(provider.as_ref()).await,
                            None => provider.account().await,
                        }
                    }))
                })
                .collect(),
        )
    }

    /// [`check`] of the `i`th participant, `p`, with the answer asked for it (asked now when
    /// none was).
    pub async fn check(
        &mut self,
        i: usize,
        store: &mut Store,
        config: &Config,
        p: &Participant,
        dry_run: bool,
        claims: &mut Claims,
    ) -> Result<(String, Option<String>), StepError> {
        let asked = self.0.get_mut(i).and_then(Option::take);
        let account = match asked {
            Some(handle) => handle.await.map_err(|e| {
                StepError::Other(format!(
                    "asking connection `{}` which account it reaches failed: {e}",
                    p.name
                ))
            })??,
            None => p.provider.account().await?,
        }
        .id;
        let note = check_account(store, config, p, &account, dry_run, claims)?;
        Ok((account, note))
    }
}

/// How long an account found by a run is taken as known by the later runs of the process.
const KNOWN_FOR: Duration = Duration::from_secs(10 * 60);

/// The accounts the runs of one long-lived process (`listen`, a run a batch) found their
/// connections to reach, by the credentials that reached them: a run whose connection calls
/// the same base URL with the same token ([`Provider::credential_key`]) reaches the same
/// account, so it is not asked again for [`KNOWN_FOR`]. A token changed (a new `connect`, a
/// refresh) or another `base_url` is asked at once, so a connection moved to another account
/// is still stopped before anything of it is read or written.
#[derive(Debug, Default)]
pub struct KnownAccounts(Mutex<HashMap<String, (Instant, AccountInfo)>>);

impl KnownAccounts {
    /// The account `provider` reaches: known, or asked (and then known).
    pub async fn account(&self, provider: &dyn Provider) -> Result<AccountInfo, ProviderError> {
        if let Some(key) = provider.credential_key().await {
            let known = self.0.lock().expect("known accounts").get(&key).cloned();
            if let Some((_, info)) = known.filter(|(at, _)| at.elapsed() < KNOWN_FOR) {
                return Ok(info);
            }
        }
        let info = provider.account().await?;
        // The credentials the answer came with (a token refreshed on the way is the new one).
        if let Some(key) = provider.credential_key().await {
            let mut known = self.0.lock().expect("known accounts");
            // Tokens replaced (an access token refreshed every hour) are forgotten.
            known.retain(|_, (at, _)| at.elapsed() < KNOWN_FOR);
            known.insert(key, (Instant::now(), info.clone()));
        }
        Ok(info)
    }
}

impl Drop for Asked {
    fn drop(&mut self) {
        for handle in self.0.iter().flatten() {
            handle.abort();
        }
    }
}

fn check_account(
    store: &mut Store,
    config: &Config,
    p: &Participant,
    account: &str,
    dry_run: bool,
    claims: &mut Claims,
) -> Result<Option<String>, StepError> {
    let account = account.to_string();
    let provider = p.provider.kind();
    let crm = provider.display_name();
    let c = p.name.as_str();
    if account.trim().is_empty() {
        return Err(StepError::Other(format!(
            "{crm} did not say which account connection `{c}` reaches, so it was stopped before writing anything"
        )));
    }
    let key = (provider, account.clone());
    if let Some(bound) = store.account_binding(c)? {
        if bound.provider == provider.as_str() && bound.account == account {
            claims.0.insert(key, c.to_string());
            return Ok(None);
        }
        return Err(AccountStop::AccountChanged {
            connection: c.to_string(),
            provider,
            linked_account: bound.account,
            account,
            links: store.connection_links(c)?,
        }
        .into());
    }
    let holder = match store.account_holder(provider.as_str(), &account)? {
        Some(other) => Some(other),
        None => claims.0.get(&key).cloned(),
    };
    let own_links = store.connection_links(c)?;
    if let Some(other) = holder.filter(|o| o != c) {
        let other_configured = config.connections.contains_key(&other);
        if other_configured || own_links > 0 {
            return Err(AccountStop::AccountShared {
                connection: c.to_string(),
                provider,
                account,
                other,
                other_configured,
            }
            .into());
        }
        if dry_run {
            return Err(AccountStop::Renamed {
                connection: c.to_string(),
                provider,
                account,
                other,
            }
            .into());
        }
        let links = store.connection_links(&other)?;
        rename_state(store, &other, c)?;
        claims.0.insert(key, c.to_string());
        return Ok(Some(format!(
            "connection `{c}` reaches {crm} account {account}, which connection `{other}` synced and which is no longer in the config: `{c}` took over its {links} links (a renamed connection keeps its links)"
        )));
    }
    if own_links == 0 {
        let unbound: Vec<String> = store
            .unbound_linked_connections()?
            .into_iter()
            .filter(|n| n != c && !config.connections.contains_key(n))
            .collect();
        if !unbound.is_empty() {
            return Err(AccountStop::UnknownLinks {
                connection: c.to_string(),
                provider,
                account,
                unbound,
            }
            .into());
        }
    }
    claims.0.insert(key, c.to_string());
    if !dry_run {
        store.bind_account(c, provider.as_str(), &account)?;
    }
    Ok((own_links > 0).then(|| {
        format!(
            "connection `{c}`'s {own_links} links were made before crmsync kept the account each connection reaches; they are now bound to {crm} account {account}, the one `{c}` reaches"
        )
    }))
}

/// The configured connection other than `connection` whose links are bound to `provider`'s
/// account `account` (for `crmsync connect`, which refuses a second connection to it).
pub fn synced_by_other(
    store: &Store,
    config: &Config,
    connection: &str,
    provider: ProviderKind,
    account: &str,
) -> Result<Option<String>, StoreError> {
    Ok(store
        .account_holder(provider.as_str(), account)?
        .filter(|other| other != connection && config.connections.contains_key(other)))
}

/// Why the state of a connection cannot be renamed.
#[derive(Debug, thiserror::Error)]
pub enum RenameError {
    #[error("the state file holds nothing of connection `{0}`: there is nothing to rename")]
    NothingToRename(String),
    #[error(
        "connection `{0}` has links or an account of its own in the state file; forget them first with `crmsync connections forget-links {0}` if they are not wanted"
    )]
    InUse(String),
    #[error("the old and the new name are the same")]
    SameName,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Renames a connection in the state file: links and bases, cursors, journal, failures,
/// conflicts and its account move from `old` to `new`. Refused when `new` holds state of its
/// own. The config and the token are not the state file's: the caller says what to do there.
pub fn rename(store: &mut Store, old: &str, new: &str) -> Result<(), RenameError> {
    if old == new {
        return Err(RenameError::SameName);
    }
    if !store.connection_in_use(old)? {
        return Err(RenameError::NothingToRename(old.to_string()));
    }
    if store.connection_in_use(new)? {
        return Err(RenameError::InUse(new.to_string()));
    }
    rename_state(store, old, new)?;
    Ok(())
}

fn rename_state(store: &mut Store, old: &str, new: &str) -> Result<(), StoreError> {
    let mut stale = crate::engine::sync::meta::cached_meta_keys(old);
    stale.extend(crate::engine::sync::meta::cached_meta_keys(new));
    stale.extend([check_key(old), check_key(new)]);
    store.rename_connection(old, new, &stale)
}

/// Forgets a connection's links and bases, cursors, journal, failures and account, and closes
/// its open conflicts. Local records stay; the connection's next sync is a first one: it reads
/// the account in full, links records by match keys and creates the rest (by its rules).
pub fn forget_links(store: &mut Store, connection: &str) -> Result<Forgotten, StoreError> {
    let mut stale = crate::engine::sync::meta::cached_meta_keys(connection);
    stale.push(check_key(connection));
    store.forget_connection(connection, &stale)
}

/// What `crmsync connections --check` learned of a connection's account and token, kept in
/// the state file so that a later `crmsync connections` shows it, dated. It speaks of the
/// connection as it was checked: where it pointed and where its token came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptCheck {
    pub checked_at: Millis,
    /// The provider as in the config (`hubspot`).
    pub provider: String,
    pub base_url: Option<String>,
    /// `environment`, `keychain` or `none`, and the variable when from the environment.
    pub token_source: String,
    pub token_var: Option<String>,
    /// What the CRM said: `ok`, or the error.
    pub result: String,
    /// The account's id in its CRM (a HubSpot portal id), when it answered.
    pub account_id: Option<String>,
    /// The account's one-line description, when it answered.
    pub account: Option<String>,
    /// The scopes the CRM reported for the token (none where it does not say).
    pub scopes: Vec<String>,
}

impl KeptCheck {
    /// Whether the check answered.
    pub fn ok(&self) -> bool {
        self.account_id.is_some()
    }

    /// Whether the check was of the connection as it is now: the same CRM at the same address,
    /// with its token from the same place.
    pub fn applies_to(
        &self,
        provider: ProviderKind,
        base_url: Option<&str>,
        token_source: &str,
        token_var: Option<&str>,
    ) -> bool {
        self.provider == provider.as_str()
            && self.base_url.as_deref() == base_url
            && self.token_source == token_source
            && self.token_var.as_deref() == token_var
    }
}

fn check_key(connection: &str) -> String {
    format!("connection_check:{connection}")
}

/// Keeps the outcome of checking `connection` (replacing the one before).
pub fn keep_check(
    store: &mut Store,
    connection: &str,
    check: &KeptCheck,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(check).expect("a kept check serialises");
    store.meta_set(&check_key(connection), &text)
}

/// The outcome of the last check of `connection`, if one was kept (one this build cannot
/// read counts as none: the next check replaces it).
pub fn kept_check(store: &Store, connection: &str) -> Result<Option<KeptCheck>, StoreError> {
    Ok(store
        .meta_get(&check_key(connection))?
        .and_then(|text| serde_json::from_str(&text).ok()))
}

/// Why a saved plan is not carried out through a connection: it was made in another CRM
/// account than the one the connection's links are bound to, or reaches, now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "connection `{connection}` {} {} account {now}, but the plan was made against account {planned}; its record ids name other records there, so nothing was applied. Make a new plan with `crmsync sync --plan`, or put back the `base_url` and token the plan was made with",
    if *.bound { "has its links bound to" } else { "now reaches" },
    .provider.display_name()
)]
pub struct PlanAccountMoved {
    pub connection: String,
    pub provider: ProviderKind,
    /// The account the plan was made against.
    pub planned: String,
    /// The account the connection's links are bound to (`bound`), or the one it reaches.
    pub now: String,
    pub bound: bool,
}

/// Checks a saved plan's account for connection `p` against the account its links are bound
/// to in `store` (when any) and the account it reaches now (one call to the CRM).
pub async fn check_planned(
    store: Option<&Store>,
    p: &Participant,
    planned: &str,
) -> Result<Result<(), PlanAccountMoved>, StepError> {
    let moved = |now: String, bound: bool| PlanAccountMoved {
        connection: p.name.clone(),
        provider: p.provider.kind(),
        planned: planned.to_string(),
        now,
        bound,
    };
    if let Some(store) = store
        && let Some(binding) = store.account_binding(&p.name)?
        && binding.account != planned
    {
        return Ok(Err(moved(binding.account, true)));
    }
    let reached = p.provider.account().await?.id;
    if reached != planned {
        return Ok(Err(moved(reached, false)));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(account: &str) -> KeptCheck {
        KeptCheck {
            checked_at: 1,
            provider: "hubspot".into(),
            base_url: None,
            token_source: "environment".into(),
            token_var: Some("CRMSYNC_TOKEN_HS".into()),
            result: "ok".into(),
            account_id: Some(account.into()),
            account: Some(format!("portal {account}")),
            scopes: Vec::new(),
        }
    }

    #[test]
    fn a_kept_check_is_read_back_and_goes_when_the_connection_is_renamed_or_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        store.bind_account("hs", "hubspot", "101").unwrap();
        keep_check(&mut store, "hs", &checked("101")).unwrap();
        assert_eq!(kept_check(&store, "hs").unwrap(), Some(checked("101")));
        assert!(checked("101").applies_to(
            ProviderKind::Hubspot,
            None,
            "environment",
            Some("CRMSYNC_TOKEN_HS")
        ));
        assert!(!checked("101").applies_to(
            ProviderKind::Hubspot,
            Some("http://127.0.0.1:1"),
            "environment",
            Some("CRMSYNC_TOKEN_HS")
        ));
        // Under a new name the token comes from elsewhere: the check is not carried over.
        rename(&mut store, "hs", "hub").unwrap();
        assert_eq!(kept_check(&store, "hs").unwrap(), None);
        assert_eq!(kept_check(&store, "hub").unwrap(), None);
        keep_check(&mut store, "hub", &checked("101")).unwrap();
        forget_links(&mut store, "hub").unwrap();
        assert_eq!(kept_check(&store, "hub").unwrap(), None);
    }
}
