//! `crmsync connections`

use serde::Serialize;

use crate::auth::{self, CredentialKind, Keychain};
use crate::engine::accounts::{self, KeptCheck, RenameError};
use crate::error::Error;
use crate::model::Millis;
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
  crmsync connections --history --since 30d
  crmsync connections rename hs hubspot
  crmsync connections forget-links hs"
)]
pub struct Args {
    /// Call each CRM to check the token, and keep what it says in the state file (else what
    /// was kept at sign-in and by the last check is shown)
    #[arg(long)]
    pub check: bool,
    /// Per connection over a window: sync runs, failures, uptime, requests used
    #[arg(long, conflicts_with = "check")]
    pub history: bool,
    /// The window of `--history`, as `30m`, `12h`, `7d` or `2w`
    #[arg(long, value_name = "SPAN", default_value = "7d", requires = "history")]
    pub since: String,
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
    /// The API host: `base_url`, or a Salesforce org's `instance_url`.
    pub base_url: Option<String>,
    /// Where the token comes from: `environment`, `keychain` or `none`.
    pub token_source: String,
    /// The environment variables the connection's token is read from, in the order tried
    /// (`CRMSYNC_TOKEN_<NAME>`, then its `token_env`); the first one set wins over the keychain.
    pub token_vars: Vec<String>,
    /// The variable the token comes from, when `token_source` is `environment`.
    pub token_var: Option<String>,
    /// `valid`, `expiring` (refreshed on next use), `needs sign-in`, `not checked` (a token
    /// from the environment that no `--check` has tried yet), or, for a token from the
    /// environment, `valid` or `check failed` as the last `--check` found it (`checked_at`).
    pub token_state: String,
    /// The account the credentials belong to, as kept at sign-in or learned by a check.
    pub account: Option<String>,
    /// The id of the account the last check reached (a HubSpot portal id).
    pub account_id: Option<String>,
    /// The id of the CRM account the connection's links are bound to in the state file (a
    /// HubSpot portal id), once a sync has bound them.
    pub linked_account: Option<String>,
    /// The scopes the token carries; `null` where the CRM does not report them (`scopes_note`
    /// says why).
    pub scopes: Option<Vec<String>>,
    pub scopes_note: Option<String>,
    /// The end of the last sync run that finished without error, epoch ms (as in `status`).
    pub last_successful_sync: Option<Millis>,
    /// What the CRM said (`ok`, or the error): now with `--check`, else at the last check.
    pub check: Option<String>,
    /// When that check was made, epoch ms (`null`: never, or not of the connection as it is
    /// configured now).
    pub checked_at: Option<Millis>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    match args.action {
        Some(Action::Rename { old, new }) => return rename(ctx, &old, &new),
        Some(Action::ForgetLinks { name }) => return forget_links(ctx, &name),
        None => {}
    }
    if args.history {
        return super::health::history(ctx, &args.since, None);
    }
    let keychain = Keychain::from_env();
    let last_syncs = crate::cli::status::last_successful_syncs(ctx)?;
    let store = record::open_for_reading(ctx)?;
    let mut rows = Vec::new();
    let mut learned: Vec<(String, KeptCheck)> = Vec::new();
    let mut failed = false;
    for (name, conn) in &ctx.config.connections {
        let linked_account = match &store {
            Some(store) => store.account_binding(name)?.map(|b| b.account),
            None => None,
        };
        let mut info = ConnectionInfo {
            name: name.clone(),
            provider: conn.provider,
            base_url: conn.api_base().map(str::to_string),
            token_source: "none".into(),
            token_vars: auth::token_vars(name, conn.token_env.as_deref()),
            token_var: None,
            token_state: "needs sign-in".into(),
            account: None,
            account_id: None,
            linked_account,
            scopes: None,
            scopes_note: None,
            last_successful_sync: last_syncs.get(name).copied(),
            check: None,
            checked_at: None,
        };
        let (kind, mut scopes) =
            read_token(&keychain, name, conn, ctx.clock.now(), &mut info).await;
        let check = if args.check {
            let check = check_now(ctx, name, &info).await;
            failed |= !check.ok();
            learned.push((name.clone(), check.clone()));
            Some(check)
        } else {
            match &store {
                Some(store) => accounts::kept_check(store, name)?.filter(|k| {
                    k.applies_to(
                        conn.provider,
                        conn.api_base(),
                        &info.token_source,
                        info.token_var.as_deref(),
                    )
                }),
                None => None,
            }
        };
        if let Some(check) = check {
            apply_check(&mut info, check, args.check, &mut scopes);
        }
        if !scopes.is_empty() {
            info.scopes = Some(scopes);
        } else if let Some(kind) = kind {
            info.scopes_note = Some(scopes_note(kind, conn.provider.display_name()));
        }
        rows.push(info);
    }
    keep_checks(ctx, &learned);
    render(ctx, &rows, args.check)?;
    Ok(if failed { Exit::Error } else { Exit::Ok })
}

/// Where connection `name`'s token comes from and what state it is in, into `info`; the kind
/// of credential found and the scopes stored with it.
async fn read_token(
    keychain: &Keychain,
    name: &str,
    conn: &crate::config::ConnectionConfig,
    now: crate::model::Millis,
    info: &mut ConnectionInfo,
) -> (Option<CredentialKind>, Vec<String>) {
    if let Some((var, _)) = auth::env_token(name, conn.token_env.as_deref()) {
        info.token_source = "environment".into();
        info.token_var = Some(var);
        info.token_state = "not checked".into();
        return (Some(CredentialKind::StaticToken), Vec::new());
    }
    let scope = crate::connection::credential_scope(name, conn);
    match keychain.load(&scope).await {
        Ok(Some(creds)) => {
            info.token_source = "keychain".into();
            info.token_state = token_state(creds.kind, creds.expires_at, creds.can_refresh(), now);
            info.account = creds.account.clone();
            (Some(creds.kind), creds.scopes.clone())
        }
        Ok(None) => (None, Vec::new()),
        Err(e @ auth::AuthError::NoKeychain { .. }) => {
            info.token_state = format!("keychain unreachable: {e}");
            (None, Vec::new())
        }
        Err(e) => {
            info.token_state = format!("keychain entry refused: {e}");
            (None, Vec::new())
        }
    }
}

/// What an account check learned goes with what was stored at sign-in.
fn apply_check(
    info: &mut ConnectionInfo,
    check: KeptCheck,
    checked_now: bool,
    scopes: &mut Vec<String>,
) {
    info.check = Some(check.result.clone());
    info.checked_at = Some(check.checked_at);
    if check.ok() {
        info.account_id = check.account_id;
        info.account = info.account.take().or(check.account);
        if !check.scopes.is_empty() {
            *scopes = check.scopes;
        }
    }
    if checked_now || info.token_source == "environment" {
        info.token_state = if check.result == "ok" {
            "valid".into()
        } else {
            "check failed".into()
        };
    }
}

/// Why a connection shows no scopes.
fn scopes_note(kind: CredentialKind, crm: &str) -> String {
    match kind {
        CredentialKind::StaticToken => format!(
            "{crm} does not report the scopes of a private app or API token; see them in the app's settings in {crm}"
        ),
        CredentialKind::Oauth => {
            format!("{crm} did not report the scopes when this connection signed in")
        }
    }
}

/// The connections as a table, or as JSON.
fn render(ctx: &Context, rows: &[ConnectionInfo], check: bool) -> anyhow::Result<()> {
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
        if check {
            header.push("check");
        }
        let mut t = table(&ctx.out, &header);
        for r in rows {
            let state = match r.checked_at {
                Some(at) if !check => format!(
                    "{}, checked {}",
                    r.token_state,
                    crate::clock::format_instant(at)
                ),
                _ => r.token_state.clone(),
            };
            let mut row = vec![
                r.name.clone(),
                r.provider.to_string(),
                or_dash(r.account.as_deref()),
                format!("{state} ({})", r.token_source),
                match &r.token_var {
                    Some(var) => var.clone(),
                    None => format!("keychain, unless {} is set", r.token_vars.join(" or ")),
                },
                match (&r.scopes, &r.scopes_note) {
                    (Some(scopes), _) => scopes.join(" "),
                    (None, Some(_)) => "not reported".to_string(),
                    (None, None) => "—".to_string(),
                },
                r.last_successful_sync
                    .map_or("—".to_string(), crate::clock::format_instant),
            ];
            if check {
                row.push(or_dash(r.check.as_deref()));
            }
            t.add_row(row);
        }
        ctx.out.data(t)?;
    }
    Ok(())
}

/// Asks the CRM which account connection `name` reaches, with its token as `info` found it.
async fn check_now(ctx: &Context, name: &str, info: &ConnectionInfo) -> KeptCheck {
    let mut check = KeptCheck {
        checked_at: ctx.clock.now(),
        provider: info.provider.as_str().to_string(),
        base_url: info.base_url.clone(),
        token_source: info.token_source.clone(),
        token_var: info.token_var.clone(),
        result: "ok".into(),
        account_id: None,
        account: None,
        scopes: Vec::new(),
    };
    let answer = match crate::connection::open(
        name,
        &ctx.config,
        &ctx.state_path,
        ctx.clock.clone(),
        Some(5),
    ) {
        Ok(opened) => opened.provider.account().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match answer {
        Ok(acc) => {
            check.account_id = Some(acc.id);
            check.account = Some(acc.account);
            check.scopes = acc.scopes;
        }
        Err(e) => check.result = e,
    }
    check
}

/// Keeps what `--check` learned in the state file, for a later `crmsync connections`. Not
/// being able to is said, and does not fail the check.
fn keep_checks(ctx: &Context, learned: &[(String, KeptCheck)]) {
    if learned.is_empty() {
        return;
    }
    let kept = record::open_locked(ctx).and_then(|(mut store, _lock)| {
        for (name, check) in learned {
            accounts::keep_check(&mut store, name, check)?;
        }
        Ok(())
    });
    if let Err(e) = kept {
        ctx.out.warn(format!(
            "what the check learned was not kept in `{}`, so a later `crmsync connections` does not show it: {e:#}",
            ctx.state_path.display()
        ));
    }
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
        Err(e) => return Err(Error::usage(e.to_string()).into()),
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
