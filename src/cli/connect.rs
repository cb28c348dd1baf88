//! `crmsync connect PROVIDER`

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use crate::auth::{self, Credentials, Keychain, SecretString, SignInEvent, SignInOptions};
use crate::config::{ConnectionConfig, check_connection_name};
use crate::error::{Error, hinted};
use crate::ops;
use crate::providers::{self, ProviderKind};

use super::{Context, Exit};

/// Sign in to a CRM and store its tokens in the OS keychain
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync connect hubspot --name acme
  crmsync connect hubspot --name ci --token-env HUBSPOT_TOKEN
  printf %s \"$TOKEN\" | crmsync connect hubspot --name ci --token-stdin
  crmsync connect salesforce --sandbox --client-id KEY
  crmsync connect salesforce --token-env SF_TOKEN --instance-url https://acme.my.salesforce.com")]
pub struct Args {
    /// The CRM: hubspot, pipedrive or salesforce
    pub provider: ProviderKind,
    /// The connection's name [default: the provider's name]
    #[arg(long)]
    pub name: Option<String>,
    /// Take a private-app or API token from this environment variable instead of signing in
    #[arg(long, value_name = "VAR", conflicts_with = "token_stdin")]
    pub token_env: Option<String>,
    /// Read a private-app or API token from standard input instead of signing in
    #[arg(long)]
    pub token_stdin: bool,
    /// Print the sign-in URL instead of opening a browser
    #[arg(long)]
    pub no_browser: bool,
    /// Give up waiting for the browser after this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
    /// The OAuth app's client id [default: `client_id` in the connection's config]
    #[arg(long)]
    pub client_id: Option<String>,
    /// The API base URL, to connect to a sandbox or emulator (written to the config)
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Salesforce: sign in to a sandbox org (at test.salesforce.com)
    #[arg(long, conflicts_with = "login_url")]
    pub sandbox: bool,
    /// Salesforce: sign in at this login host, such as the org's My Domain URL
    #[arg(long, value_name = "URL")]
    pub login_url: Option<String>,
    /// Salesforce: the org's API host, for a token from `--token-env` (a sign-in names it)
    #[arg(long, value_name = "URL", requires = "token_env")]
    pub instance_url: Option<String>,
}

/// What `connect` reports (`--json`).
#[derive(Debug, Serialize)]
pub struct Connected {
    pub connection: String,
    pub provider: ProviderKind,
    pub account: String,
    pub scopes: Vec<String>,
    /// Scopes crmsync needs that the token does not carry.
    pub missing_scopes: Vec<String>,
    /// Where the token is kept: `keychain`, or `environment` when no keychain was reachable.
    pub stored_in: String,
    /// The config file the connection was added to, when it was new.
    pub config_written: Option<PathBuf>,
    /// What became of the credentials this replaced: `revoked`, `not revocable` (a static
    /// token, or a CRM without revocation), `not revoked: REASON`; `null` when it replaced none.
    pub replaced_grant: Option<String>,
    /// The environment variable that wins over what was stored, when one is set.
    pub overridden_by: Option<String>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let (name, mut conn, is_new) = target(ctx, &args)?;
    refuse_what_the_config_would(ctx, &args, &name, &conn, is_new)?;
    let keychain = Keychain::from_env();
    let mut scope = crate::connection::credential_scope(&name, &conn);
    let token_given = args.token_env.is_some() || args.token_stdin;
    let mut replaced = entry_replaced(&keychain, &scope, token_given).await?;
    let mut creds = credentials(ctx, &args, &scope, &conn, &keychain).await?;
    // A CRM that names the account's own API host with the tokens (Pipedrive's `api_domain`):
    // that host becomes the connection's API base, and the credentials belong to it.
    let base_moved = moved_api_base(&conn, &creds);
    if let Some(base) = &base_moved {
        conn.set_api_base(base);
        scope = crate::connection::credential_scope(&name, &conn);
        replaced = entry_replaced(&keychain, &scope, token_given).await?;
    }
    let info = account_of(ctx, &name, &conn, &creds).await?;
    refuse_an_account_synced_already(ctx, &name, args.provider, &info.id)?;
    creds.account = Some(info.account.clone());
    creds.account_id = Some(info.id.clone());
    // The entry is this connection's at these hosts; a sign-in to another account must not
    // silently replace it (another config with a connection of the same name may use it).
    if let Some(old) = &replaced
        && let (Some(stored), Some(new)) = (&old.account_id, &creds.account_id)
        && stored != new
    {
        return Err(auth::AuthError::OtherAccount {
            connection: name.clone(),
            hosts: scope.hosts(),
            stored: stored.clone(),
            new: new.clone(),
        }
        .into());
    }
    if creds.scopes.is_empty() {
        creds.scopes = info.scopes.clone();
    }
    let missing_scopes = missing_scopes(&conn, &creds);

    let stored_in = store(ctx, &args, is_new, &mut conn, &keychain, &scope, &creds).await?;
    // The grant replaced is revoked once the new one is stored (it would otherwise go on
    // minting access tokens after a later `disconnect`).
    let replaced_grant = match replaced {
        Some(old) if stored_in == "keychain" => {
            revoke_replaced(&keychain, &scope, &conn, &old, &creds).await
        }
        _ => None,
    };
    // A token in the environment wins over the keychain at every run.
    let overridden_by = match auth::env_token(&name, conn.token_env.as_deref()) {
        Some((var, token)) if stored_in == "keychain" && token != creds.access_token => Some(var),
        _ => None,
    };

    let config_written = if is_new {
        let path = ctx.writable_config_path()?;
        ops::connect::append_connection(&path, &name, &conn)?;
        Some(path)
    } else {
        if let Some(base) = &base_moved {
            record_api_base(ctx, &name, &conn, base)?;
        }
        None
    };

    let report = Connected {
        connection: name.clone(),
        provider: args.provider,
        account: info.account,
        scopes: creds.scopes.clone(),
        missing_scopes,
        stored_in,
        config_written,
        replaced_grant: replaced_grant.as_ref().map(|r| r.json()),
        overridden_by: overridden_by.clone(),
    };
    render(ctx, &report, replaced_grant.as_ref(), &conn)?;
    Ok(Exit::Ok)
}

/// The entry this sign-in replaces, to revoke once the new credentials are stored. An entry
/// left by an older crmsync that cannot be vouched for here, or issued elsewhere, is not ours
/// to revoke or keep: it is left as it is. Without a keychain a token can still be used from
/// the environment.
async fn entry_replaced(
    keychain: &Keychain,
    scope: &auth::CredentialScope,
    token_given: bool,
) -> anyhow::Result<Option<Credentials>> {
    match keychain.load(scope).await {
        Ok(c) => Ok(c),
        Err(auth::AuthError::UnverifiedEntry { .. } | auth::AuthError::IssuedElsewhere { .. }) => {
            Ok(None)
        }
        Err(auth::AuthError::NoKeychain { .. }) if token_given => Ok(None),
        // The tokens of a browser sign-in can only be kept in the keychain: find out that
        // there is none before sending the user through the browser, not after.
        Err(e) => Err(e.into()),
    }
}

/// The API base a sign-in's tokens name for the account, when it is not the connection's
/// already.
fn moved_api_base(conn: &ConnectionConfig, creds: &Credentials) -> Option<String> {
    let spec = crate::connection::oauth_spec(conn)?;
    let base = providers::token_api_base(&spec, &creds.extra)?;
    let current = conn
        .api_base()
        .or(providers::default_base_url(conn.provider));
    (current.map(|c| c.trim_end_matches('/')) != Some(base.as_str())).then_some(base)
}

/// Writes the API base a sign-in named into an existing connection's config, where runs read
/// it; says what to write when the file cannot be edited.
fn record_api_base(
    ctx: &Context,
    name: &str,
    conn: &ConnectionConfig,
    base: &str,
) -> anyhow::Result<()> {
    let path = ctx.writable_config_path()?;
    let key = conn.api_base_key();
    let written = match key {
        "instance_url" => ops::connect::set_instance_url(&path, name, base)?,
        _ => ops::connect::set_base_url(&path, name, base)?,
    };
    if written {
        ctx.out.note(format!(
            "set `{key} = \"{base}\"` in `[connections.{name}]` of `{}`, the account's API host",
            path.display()
        ));
    } else {
        ctx.out.warn(format!(
            "set `{key} = \"{base}\"` in `[connections.{name}]`: the tokens are for the account's API host"
        ));
    }
    Ok(())
}

/// The account the credentials reach: one call to show what was connected, so a refused
/// token is not stored.
async fn account_of(
    ctx: &Context,
    name: &str,
    conn: &ConnectionConfig,
    creds: &Credentials,
) -> anyhow::Result<providers::AccountInfo> {
    let provider = providers::open_configured(
        conn.provider,
        crate::connection::provider_context(
            name,
            conn,
            &ctx.config,
            Arc::new(auth::StaticTokenSource::new(creds.access_token.clone())),
            ctx.clock.clone(),
            None,
        ),
        providers::http::HttpOptions::from_settings(
            ctx.config.http.timeout_secs,
            ctx.config.http.rate_limit_margin,
        ),
        Default::default(),
        conn.salesforce_settings(),
    )?;
    Ok(provider.account().await?)
}

/// The scopes crmsync needs that the credentials lack (none listed when the CRM does not say
/// which scopes a token has).
fn missing_scopes(conn: &ConnectionConfig, creds: &Credentials) -> Vec<String> {
    if creds.scopes.is_empty() {
        return Vec::new();
    }
    crate::connection::oauth_spec(conn)
        .map(|s| s.scopes)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| !creds.scopes.contains(s))
        .collect()
}

/// The connection to sign in to: its name and config (from the config file, else new, with
/// `--base-url` and `--client-id`), and whether it is new.
fn target(ctx: &Context, args: &Args) -> anyhow::Result<(String, ConnectionConfig, bool)> {
    if !providers::AVAILABLE.contains(&args.provider) {
        let built: Vec<String> = providers::AVAILABLE
            .iter()
            .map(|p| format!("`{}`", p.as_str()))
            .collect();
        return Err(Error::usage(format!(
            "{} connections are not built into this version of crmsync; it can connect to: {}",
            args.provider.display_name(),
            built.join(", ")
        ))
        .into());
    }
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| args.provider.as_str().to_string());
    check_connection_name(&name).map_err(Error::usage)?;
    let (mut conn, is_new) = match ctx.config.connections.get(&name) {
        Some(existing) if existing.provider != args.provider => {
            return Err(Error::usage(format!(
                "connection `{name}` is configured for {}, not {}: pick another `--name`",
                existing.provider.display_name(),
                args.provider.display_name()
            ))
            .into());
        }
        Some(existing) => (existing.clone(), false),
        None => (ops::connect::new_connection(args.provider), true),
    };
    if let Some(url) = &args.base_url {
        crate::providers::http::check_base_url(url)
            .map_err(|m| Error::usage(format!("`--base-url`: {m}")))?;
        if !is_new && conn.base_url.as_deref() != Some(url.as_str()) {
            return Err(Error::usage(format!(
                "connection `{name}` already has a `base_url` in the config; edit it there instead of passing `--base-url`"
            ))
            .into());
        }
        conn.base_url = Some(url.clone());
    }
    if let Some(id) = &args.client_id {
        conn.client_id = Some(id.clone());
    }
    login_hosts(args, &name, &mut conn, is_new)?;
    Ok((name, conn, is_new))
}

/// Salesforce's `--sandbox`, `--login-url` and `--instance-url`, refused for other CRMs and
/// for a connection whose config names other hosts already.
fn login_hosts(
    args: &Args,
    name: &str,
    conn: &mut ConnectionConfig,
    is_new: bool,
) -> anyhow::Result<()> {
    let login = match (&args.login_url, args.sandbox) {
        (Some(url), _) => Some(("--login-url", url.clone())),
        (None, true) => Some((
            "--sandbox",
            providers::salesforce::SANDBOX_LOGIN_URL.to_string(),
        )),
        (None, false) => None,
    };
    let instance = args
        .instance_url
        .clone()
        .map(|u| ("--instance-url", u.trim_end_matches('/').to_string()));
    if conn.provider != ProviderKind::Salesforce {
        if let Some((flag, _)) = login.or(instance) {
            return Err(Error::usage(format!(
                "`{flag}` is for Salesforce connections; {} has none",
                conn.provider.display_name()
            ))
            .into());
        }
        return Ok(());
    }
    for (key, given, current) in [
        ("login_url", login, conn.login_url.clone()),
        ("instance_url", instance, conn.instance_url.clone()),
    ] {
        let Some((flag, url)) = given else { continue };
        crate::providers::http::check_base_url(&url)
            .map_err(|m| Error::usage(format!("`{flag}`: {m}")))?;
        if !is_new && current.as_ref().is_some_and(|c| c.get_ref() != &url) {
            return Err(Error::usage(format!(
                "connection `{name}` already has a `{key}` in the config; edit it there instead of passing `{flag}`"
            ))
            .into());
        }
        let value = Some(toml::Spanned::new(0..0, url));
        match key {
            "login_url" => conn.login_url = value,
            _ => conn.instance_url = value,
        }
    }
    Ok(())
}

/// Refuses, before anything is signed in to, sent or stored, what the config would not take
/// once the sign-in is over: a new connection it could not add (a name whose
/// `CRMSYNC_TOKEN_<NAME>` another connection reads, …), or a `--token-env` variable another
/// connection reads its token from.
fn refuse_what_the_config_would(
    ctx: &Context,
    args: &Args,
    name: &str,
    conn: &ConnectionConfig,
    is_new: bool,
) -> anyhow::Result<()> {
    let mut planned = conn.clone();
    if let Some(var) = &args.token_env {
        planned.token_env = Some(var.clone());
    }
    let refusal = if is_new {
        ops::connect::append_refusal(&ctx.writable_config_path()?, name, &planned)?
    } else {
        let mut config = ctx.config.clone();
        config.connections.insert(name.to_string(), planned);
        config.token_env_clash().map(|(_, why)| why)
    };
    match refusal {
        Some(why) => Err(Error::usage(format!(
            "connection `{name}` cannot be {}: {why}; nothing was signed in to or stored",
            if is_new {
                "added to the config"
            } else {
                "given that token variable"
            }
        ))
        .into()),
        None => Ok(()),
    }
}

/// The credentials the command line gives (`--token-env`, `--token-stdin`), else those of a
/// browser sign-in.
async fn credentials(
    ctx: &Context,
    args: &Args,
    scope: &auth::CredentialScope,
    conn: &ConnectionConfig,
    keychain: &Keychain,
) -> anyhow::Result<Credentials> {
    Ok(if let Some(var) = &args.token_env {
        let token = std::env::var(var)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                Error::usage(format!(
                    "`--token-env {var}`: the variable `{var}` is not set or empty"
                ))
            })?;
        Credentials::static_token(args.provider, SecretString::new(token.trim()))
    } else if args.token_stdin {
        let mut token = String::new();
        std::io::stdin()
            .read_to_string(&mut token)
            .context("cannot read the token from standard input")?;
        if token.trim().is_empty() {
            return Err(Error::usage("`--token-stdin`: standard input was empty".into()).into());
        }
        Credentials::static_token(args.provider, SecretString::new(token.trim()))
    } else {
        sign_in(ctx, scope, conn, args, keychain).await?
    })
}

/// One account, one connection: a second one would copy records back and forth. (A state
/// file this crmsync cannot read yet is checked by the first sync instead.)
fn refuse_an_account_synced_already(
    ctx: &Context,
    name: &str,
    provider: ProviderKind,
    account_id: &str,
) -> anyhow::Result<()> {
    if let Some(store) = super::record::open_for_reading(ctx).ok().flatten()
        && let Some(other) = crate::engine::accounts::synced_by_other(
            &store,
            &ctx.config,
            name,
            provider,
            account_id,
        )?
    {
        return Err(Error::usage(format!(
            "{} account {} is synced by connection `{other}` already, and two connections to one account copy records back and forth: use `{other}`, or rename it with `crmsync connections rename {other} {name}` (and its table in the config)",
            provider.display_name(),
            account_id
        ))
        .into());
    }
    Ok(())
}

/// Stores the credentials in the keychain; without one, a token given on the command line is
/// read from the environment by later runs (a new connection, or one whose config can be
/// edited, remembers the variable as `token_env`). Returns where they are: `keychain` or
/// `environment`.
async fn store(
    ctx: &Context,
    args: &Args,
    is_new: bool,
    conn: &mut ConnectionConfig,
    keychain: &Keychain,
    scope: &auth::CredentialScope,
    creds: &Credentials,
) -> anyhow::Result<String> {
    let name = scope.connection.as_str();
    Ok(match keychain.save(scope, creds).await {
        Ok(()) => "keychain".to_string(),
        Err(auth::AuthError::NoKeychain { reason, .. })
            if args.token_env.is_some() || args.token_stdin =>
        {
            let fixed = crate::env::token_var(name);
            let where_from = match (&args.token_env, is_new) {
                // A new connection remembers the variable: later runs read the token there.
                (Some(var), true) => {
                    conn.token_env = Some(var.clone());
                    format!(
                        "runs read it from `{var}` (kept as `token_env` in the config), or from `{fixed}`"
                    )
                }
                (Some(var), false) if conn.token_env.as_deref() != Some(var.as_str()) => {
                    let path = ctx.writable_config_path()?;
                    if ops::connect::set_token_env(&path, name, var)? {
                        format!(
                            "runs read it from `{var}` (now the connection's `token_env` in `{}`), or from `{fixed}`",
                            path.display()
                        )
                    } else {
                        format!(
                            "set `token_env = \"{var}\"` in `[connections.{name}]`, or `{fixed}`, for runs to read it"
                        )
                    }
                }
                (Some(var), false) => {
                    format!("runs read it from `{var}` (the connection's `token_env`)")
                }
                (None, _) => format!("runs read it from `{fixed}`"),
            };
            ctx.out.warn(format!(
                "no keychain is reachable ({reason}), so the token was not stored: {where_from}"
            ));
            "environment".to_string()
        }
        Err(e) => return Err(e.into()),
    })
}

fn render(
    ctx: &Context,
    report: &Connected,
    replaced_grant: Option<&Replaced>,
    conn: &ConnectionConfig,
) -> anyhow::Result<()> {
    if ctx.out.json {
        ctx.out.json(report)?;
    } else {
        ctx.out.data(format!(
            "connected `{}` to {} ({})",
            report.connection,
            report.provider.display_name(),
            report.account
        ))?;
        if let Some(path) = &report.config_written {
            ctx.out.note(format!(
                "added `[connections.{}]` to `{}`",
                report.connection,
                path.display()
            ));
        }
        match replaced_grant {
            Some(Replaced::Revoked) => ctx.out.note(format!(
                "revoked the tokens this sign-in replaced at {}",
                conn.provider.display_name()
            )),
            Some(Replaced::NotRevocable) => ctx.out.note(format!(
                "{} cannot revoke the token this replaced; revoke it in the CRM's settings if it should stop working",
                conn.provider.display_name()
            )),
            Some(Replaced::Failed(e)) => ctx.out.warn(format!(
                "the tokens this sign-in replaced were NOT revoked at {crm} ({e}) and still give access; the new ones are stored. To end the old grant, remove crmsync's access in {crm}'s settings, which ends the new one too, then run `crmsync connect {provider} --name {name}` again",
                crm = conn.provider.display_name(),
                provider = conn.provider,
                name = report.connection
            )),
            None => {}
        }
        if !report.missing_scopes.is_empty() {
            ctx.out.warn(format!(
                "the token lacks scopes crmsync needs: {}; sign in again granting them",
                report.missing_scopes.join(", ")
            ));
        }
    }
    // Said with `--json` too: it decides which token every run uses.
    if let Some(var) = &report.overridden_by {
        ctx.out.warn(format!(
            "`{var}` is set and wins over the keychain: runs will use the token in it, not the one just stored; unset it to use the keychain entry"
        ));
    }
    Ok(())
}

/// What became of the grant a new sign-in replaced.
enum Replaced {
    Revoked,
    /// A static token, or a CRM without a revocation endpoint.
    NotRevocable,
    Failed(auth::AuthError),
}

impl Replaced {
    fn json(&self) -> String {
        match self {
            Replaced::Revoked => "revoked".into(),
            Replaced::NotRevocable => "not revocable".into(),
            Replaced::Failed(e) => format!("not revoked: {e}"),
        }
    }
}

/// Revokes the grant `old` that `new` replaced at `scope`, where the CRM allows; `None` when
/// there was nothing to revoke (the same refresh token came back).
async fn revoke_replaced(
    keychain: &Keychain,
    scope: &auth::CredentialScope,
    conn: &ConnectionConfig,
    old: &Credentials,
    new: &Credentials,
) -> Option<Replaced> {
    let same = match (&old.refresh_token, &new.refresh_token) {
        (Some(a), Some(b)) => a == b,
        _ => old.access_token == new.access_token,
    };
    if same {
        return None;
    }
    let spec = crate::connection::oauth_spec(conn);
    let (Some(spec), auth::CredentialKind::Oauth) = (spec, old.kind) else {
        return Some(Replaced::NotRevocable);
    };
    let secret = match auth::client_secret(keychain, scope).await {
        Ok(s) => s,
        Err(e) => return Some(Replaced::Failed(e)),
    };
    Some(match auth::revoke(&spec, old, secret.as_ref()).await {
        Ok(true) => Replaced::Revoked,
        Ok(false) => Replaced::NotRevocable,
        Err(e) => Replaced::Failed(e),
    })
}

async fn sign_in(
    ctx: &Context,
    scope: &auth::CredentialScope,
    conn: &ConnectionConfig,
    args: &Args,
    keychain: &Keychain,
) -> anyhow::Result<Credentials> {
    let name = scope.connection.as_str();
    let spec = crate::connection::oauth_spec(conn).ok_or_else(|| {
        hinted(
            format!(
                "{} has no browser sign-in in crmsync yet",
                conn.provider.display_name()
            ),
            format!(
                "use a token: `crmsync connect {} --name {name} --token-env VAR`",
                conn.provider
            ),
        )
    })?;
    let client_id = conn.client_id.clone().ok_or_else(|| {
        hinted(
            format!("no OAuth client id for connection `{name}`"),
            format!(
                "register an OAuth app with {} (redirect URL `http://127.0.0.1/callback`, see the README), then pass `--client-id ID` or set `client_id` in `[connections.{name}]`; or use a token with `--token-env VAR`",
                conn.provider.display_name()
            ),
        )
    })?;
    let secret = auth::client_secret(keychain, scope).await?;
    let out = ctx.out;
    let notify = move |event: SignInEvent| match event {
        SignInEvent::Listening { redirect_uri } => {
            tracing::info!("waiting for the sign-in redirect on {redirect_uri}")
        }
        SignInEvent::BrowserOpened { url } => out.note(format!(
            "opened your browser to sign in; if it did not open, go to:\n  {url}"
        )),
        SignInEvent::OpenUrlManually { url } => {
            out.note(format!("open this URL in a browser to sign in:\n  {url}"))
        }
        SignInEvent::ExchangingCode => out.note("signed in; fetching tokens"),
    };
    #[cfg_attr(not(feature = "test-seams"), allow(unused_mut))]
    let mut opts = SignInOptions {
        no_browser: args.no_browser,
        timeout: Duration::from_secs(args.timeout),
        redirect_port: conn.redirect_port,
        scopes: conn.scopes.clone(),
        clock: ctx.clock.clone(),
        ..SignInOptions::default()
    };
    #[cfg(feature = "test-seams")]
    if std::env::var(crate::env::TEST_BROWSER).as_deref() == Ok("follow") {
        opts.open_browser = Box::new(auth::follow_redirects_in_background);
        opts.no_browser = false;
    }
    Ok(auth::sign_in(&spec, &client_id, secret, opts, &notify).await?)
}
