//! `crmsync connections`

use serde::Serialize;

use crate::auth::{self, CredentialKind, Keychain};
use crate::model::Millis;
use crate::output::table::{or_dash, table};
use crate::providers::ProviderKind;

use super::{Context, Exit};

/// List connections with their provider, account, token state and health
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  crmsync connections --json")]
pub struct Args {
    /// Call each CRM to check the token (else only what is stored is shown)
    #[arg(long)]
    pub check: bool,
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
    /// token from the environment, which only `--check` tries).
    pub token_state: String,
    pub account: Option<String>,
    pub scopes: Vec<String>,
    /// The end of the last sync run that finished without error, epoch ms (as in `status`).
    pub last_successful_sync: Option<Millis>,
    /// With `--check`: what the CRM said.
    pub check: Option<String>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let keychain = Keychain::from_env();
    let now = ctx.clock.now();
    let last_syncs = crate::cli::status::last_successful_syncs(ctx)?;
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
                            info.account = Some(acc.account);
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
