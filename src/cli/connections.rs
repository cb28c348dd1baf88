//! `crmsync connections`

use serde::Serialize;

use crate::auth::{self, CredentialKind, Keychain};
use crate::engine::accounts::{self, RenameError};
use crate::model::Millis;
use crate::output::errors::UsageError;
use crate::output::table::{or_dash, table};
use crate::providers::ProviderKind;
use crate::store::Forgotten;

use super::{Context, Exit, record};

/// List connections with their provider, account, token state and health; rename one, or
/// forget its links
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:
  crmsync connections --json
  crmsync connections rename hs hubspot
  crmsync connections forget-links hs"
)]
pub struct Args {
    /// Call each CRM to check the token (else only what is stored is shown)
    #[arg(long)]
    pub check: bool,
    #[command(subcommand)]
    pub action: Option<Action>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Rename a connection in the state file, keeping its links, cursors, failures and
    /// conflicts (then rename its table in the config, and give it its token under the new name)
    #[command(after_help = "Example:\n  crmsync connections rename hs hubspot")]
    Rename {
        /// The name its links are kept under now
        old: String,
        /// The name to keep them under
        new: String,
    },
    /// Forget a connection's links, cursors, failures and the CRM account they belong to;
    /// local records stay, and the connection's next sync links them again by match keys, as
    /// a first sync does (for a connection pointed at another account)
    #[command(
        name = "forget-links",
        after_help = "Example:\n  crmsync connections forget-links hs && crmsync sync -c hs"
    )]
    ForgetLinks {
        /// The connection
        name: String,
    },
}

/// `crmsync connections rename --json`
#[derive(Debug, Serialize)]
pub struct Renamed {
    pub from: String,
    pub to: String,
    pub links: u64,
}

/// `crmsync connections forget-links --json`
#[derive(Debug, Serialize)]
pub struct ForgotLinks {
    pub connection: String,
    #[serde(flatten)]
    pub forgotten: Forgotten,
}

/// One connection (`--json` shape).
#[derive(Debug, Serialize)]
pub struct ConnectionInfo {
    pub name: String,
    pub provider: ProviderKind,
    pub base_url: Option<String>,
    /// Where the token comes from: `environment`, `keychain` or `none`.
    pub token_source: String,
    /// The environment variables the connection's token is read from, in the order tried
    /// (`CRMSYNC_TOKEN_<NAME>`, then its `token_env`); the first one set wins over the keychain.
    pub token_vars: Vec<String>,
    /// The variable the token comes from, when `token_source` is `environment`.
    pub token_var: Option<String>,
    /// `valid`, `expiring` (refreshed on next use), `needs sign-in`, or `not checked` (a
    /// token from the environment, which only `--check` tries; `valid` once it answered).
    pub token_state: String,
    pub account: Option<String>,
    /// The id of the CRM account the connection's links are bound to in the state file (a
    /// HubSpot portal id), once a sync has bound them.
    pub linked_account: Option<String>,
    pub scopes: Vec<String>,
    /// The end of the last sync run that finished without error, epoch ms (as in `status`).
    pub last_successful_sync: Option<Millis>,
    /// With `--check`: what the CRM said.
    pub check: Option<String>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    match args.action {
        Some(Action::Rename { old, new }) => return rename(ctx, &old, &new),
        Some(Action::ForgetLinks { name }) => return forget_links(ctx, &name),
        None => {}
    }
    let keychain = Keychain::from_env();
    let now = ctx.clock.now();
    let last_syncs = crate::cli::status::last_successful_syncs(ctx)?;
    let store = record::open_for_reading(ctx)?;
    let mut rows = Vec::new();
    let mut failed = false;
    for (name, conn) in &ctx.config.connections {
        let mut info = ConnectionInfo {
            name: name.clone(),
            provider: conn.provider,
            base_url: conn.base_url.clone(),
            token_source: "none".into(),
            token_vars: auth::token_vars(name, conn.token_env.as_deref()),
            token_var: None,
            token_state: "needs sign-in".into(),
            account: None,
            linked_account: match &store {
                Some(store) => store.account_binding(name)?.map(|b| b.account),
                None => None,
            },
            scopes: Vec::new(),
            last_successful_sync: last_syncs.get(name).copied(),
            check: None,
        };
        if let Some((var, _)) = auth::env_token(name, conn.token_env.as_deref()) {
            info.token_source = "environment".into();
            info.token_var = Some(var);
            info.token_state = "not checked".into();
        } else {
            let scope = crate::connection::credential_scope(name, conn);
            match keychain.load(&scope).await {
                Ok(Some(creds)) => {
                    info.token_source = "keychain".into();
                    info.token_state =
                        token_state(creds.kind, creds.expires_at, creds.can_refresh(), now);
                    info.account = creds.account.clone();
                    info.scopes = creds.scopes.clone();
                }
                Ok(None) => {}
                Err(e @ auth::AuthError::NoKeychain { .. }) => {
                    info.token_state = format!("keychain unreachable: {e}")
                }
                Err(e) => info.token_state = format!("keychain entry refused: {e}"),
            }
        }
        if args.check {
            info.check = Some(
                match crate::connection::open(
                    name,
                    &ctx.config,
                    &ctx.state_path,
                    ctx.clock.clone(),
                    Some(5),
                ) {
                    Ok(opened) => match opened.provider.account().await {
                        Ok(acc) => {
                            // What the check learned replaces what was only stored.
                            info.token_state = "valid".into();
                            info.account = Some(acc.account);
                            if !acc.scopes.is_empty() {
                                info.scopes = acc.scopes;
                            }
                            "ok".to_string()
                        }
                        Err(e) => {
                            failed = true;
                            e.to_string()
                        }
                    },
                    Err(e) => {
                        failed = true;
                        e.to_string()
                    }
                },
            );
        }
        rows.push(info);
    }
    if ctx.out.json {
        ctx.out.json(&rows)?;
    } else if rows.is_empty() {
        ctx.out
            .note("no connections yet: add one with `crmsync connect hubspot --name NAME`");
    } else {
        let mut header = vec![
            "connection",
            "provider",
            "account",
            "token",
            "read from",
            "scopes",
            "last sync",
        ];
        if args.check {
            header.push("check");
        }
        let mut t = table(&ctx.out, &header);
        for r in &rows {
            let mut row = vec![
                r.name.clone(),
                r.provider.to_string(),
                or_dash(r.account.as_deref()),
                format!("{} ({})", r.token_state, r.token_source),
                match &r.token_var {
                    Some(var) => var.clone(),
                    None => format!("keychain, unless {} is set", r.token_vars.join(" or ")),
                },
                if r.scopes.is_empty() {
                    "—".to_string()
                } else {
                    r.scopes.join(" ")
                },
                r.last_successful_sync
                    .map_or("—".to_string(), crate::clock::format_instant),
            ];
            if args.check {
                row.push(or_dash(r.check.as_deref()));
            }
            t.add_row(row);
        }
        ctx.out.data(t)?;
    }
    Ok(if failed { Exit::Error } else { Exit::Ok })
}

fn token_state(
    kind: CredentialKind,
    expires_at: Option<Millis>,
    can_refresh: bool,
    now: Millis,
) -> String {
    match (kind, expires_at) {
        (CredentialKind::StaticToken, _) | (_, None) => "valid".into(),
        (_, Some(at)) if at > now + crate::auth::REFRESH_MARGIN_MS => "valid".into(),
        (_, Some(_)) if can_refresh => "expiring".into(),
        _ => "needs sign-in".into(),
    }
}

fn rename(ctx: &Context, old: &str, new: &str) -> anyhow::Result<Exit> {
    let (mut store, _lock) = record::open_locked(ctx)?;
    let links = store.connection_links(old)?;
    match accounts::rename(&mut store, old, new) {
        Ok(()) => {}
        Err(RenameError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(UsageError(e.to_string()).into()),
    }
    if ctx.out.json {
        ctx.out.json(&Renamed {
            from: old.to_string(),
            to: new.to_string(),
            links,
        })?;
    } else {
        ctx.out.note(format!(
            "connection `{old}` is now `{new}` in `{}`: its {links} links, cursors, failures and conflicts went with it",
            ctx.state_path.display()
        ));
    }
    let config = ctx
        .config_path
        .as_deref()
        .map_or("the config".to_string(), |p| format!("`{}`", p.display()));
    match (
        ctx.config.connections.contains_key(old),
        ctx.config.connections.contains_key(new),
    ) {
        (_, false) => ctx.out.note(format!(
            "next: rename `[connections.{old}]` to `[connections.{new}]` in {config}, and give `{new}` its token (`{}`, or `crmsync connect PROVIDER --name {new}`)",
            crate::env::token_var(new)
        )),
        (true, true) => ctx.out.warn(format!(
            "`[connections.{old}]` is still in {config}: remove it, or its next run is stopped as a second connection to `{new}`'s account"
        )),
        (false, true) => {}
    }
    Ok(Exit::Ok)
}

fn forget_links(ctx: &Context, name: &str) -> anyhow::Result<Exit> {
    let (mut store, _lock) = record::open_locked(ctx)?;
    let forgotten = accounts::forget_links(&mut store, name)?;
    if ctx.out.json {
        ctx.out.json(&ForgotLinks {
            connection: name.to_string(),
            forgotten,
        })?;
    } else if forgotten == Forgotten::default() {
        ctx.out.note(format!(
            "connection `{name}` had no links in `{}`",
            ctx.state_path.display()
        ));
    } else {
        ctx.out.note(format!(
            "forgot connection `{name}`'s {} links, {} failed records and {} unsent writes, and closed its {} open conflicts; local records are as they were. Its next sync reads its CRM account in full and links records again by match keys",
            forgotten.links, forgotten.failures, forgotten.pending_writes, forgotten.conflicts
        ));
    }
    Ok(Exit::Ok)
}
