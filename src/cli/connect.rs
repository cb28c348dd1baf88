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
use crate::providers::{self, ProviderKind};

use super::{Context, Exit};

/// Sign in to a CRM and store its tokens in the OS keychain
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync connect hubspot --name acme
  crmsync connect hubspot --name ci --token-env HUBSPOT_TOKEN
  printf %s \"$TOKEN\" | crmsync connect hubspot --name ci --token-stdin")]
pub struct Args {
    /// The CRM: hubspot (Pipedrive and Salesforce are not built yet)
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
        None => (new_connection(args.provider), true),
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

    let keychain = Keychain::from_env();
    let scope = crate::connection::credential_scope(&name, &conn);
    let token_given = args.token_env.is_some() || args.token_stdin;
    // What this sign-in replaces, to revoke once the new credentials are stored. An entry left
    // by an older crmsync that cannot be vouched for here, or issued elsewhere, is not ours to
    // revoke or keep: it is left as it is. Without a keychain a token can still be used from
    // the environment.
    let replaced = match keychain.load(&scope).await {
        Ok(c) => c,
        Err(auth::AuthError::UnverifiedEntry { .. } | auth::AuthError::IssuedElsewhere { .. }) => {
            None
        }
        Err(auth::AuthError::NoKeychain { .. }) if token_given => None,
        // The tokens of a browser sign-in can only be kept in the keychain: find out that
        // there is none before sending the user through the browser, not after.
        Err(e) => return Err(e.into()),
    };
    let mut creds = if let Some(var) = &args.token_env {
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
        sign_in(ctx, &scope, &conn, &args, &keychain).await?
    };

    // One call to show what was connected; a refused token is not stored.
    let provider = providers::open_with(
        args.provider,
        crate::connection::provider_context(
            &name,
            &conn,
            &ctx.config,
            Arc::new(auth::StaticTokenSource::new(creds.access_token.clone())),
            ctx.clock.clone(),
            None,
        ),
        providers::http::HttpOptions::from_settings(&ctx.config.http),
    )?;
    let info = provider.account().await?;
    // One account, one connection: a second one would copy records back and forth. (A state
    // file this crmsync cannot read yet is checked by the first sync instead.)
    if let Some(store) = super::record::open_for_reading(ctx).ok().flatten()
        && let Some(other) = crate::engine::accounts::synced_by_other(
            &store,
            &ctx.config,
            &name,
            args.provider,
            &info.id,
        )?
    {
        return Err(Error::usage(format!(
            "{} account {} is synced by connection `{other}` already, and two connections to one account copy records back and forth: use `{other}`, or rename it with `crmsync connections rename {other} {name}` (and its table in the config)",
            args.provider.display_name(),
            info.id
        ))
        .into());
    }
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
    let needed = crate::connection::oauth_spec(&conn)
        .map(|s| s.scopes)
        .unwrap_or_default();
    let missing_scopes: Vec<String> = if creds.scopes.is_empty() {
        Vec::new() // the CRM does not say which scopes a token has
    } else {
        needed
            .into_iter()
            .filter(|s| !creds.scopes.contains(s))
            .collect()
    };

    let stored_in = match keychain.save(&scope, &creds).await {
        Ok(()) => "keychain".to_string(),
        Err(auth::AuthError::NoKeychain { reason, .. })
            if args.token_env.is_some() || args.token_stdin =>
        {
            let fixed = crate::env::token_var(&name);
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
                    if set_token_env(&path, &name, var)? {
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
    };
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
        append_connection(&path, &name, &conn)?;
        Some(path)
    } else {
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
    if ctx.out.json {
        ctx.out.json(&report)?;
    } else {
        ctx.out.data(format!(
            "connected `{}` to {} ({})",
            report.connection,
            report.provider.display_name(),
            report.account
        ))?;
        if let Some(path) = &report.config_written {
            ctx.out.note(format!(
                "added `[connections.{name}]` to `{}`",
                path.display()
            ));
        }
        match &replaced_grant {
            Some(Replaced::Revoked) => ctx.out.note(format!(
                "revoked the tokens this sign-in replaced at {}",
                conn.provider.display_name()
            )),
            Some(Replaced::NotRevocable) => ctx.out.note(format!(
                "{} cannot revoke the token this replaced; revoke it in the CRM's settings if it should stop working",
                conn.provider.display_name()
            )),
            Some(Replaced::Failed(e)) => ctx.out.warn(format!(
                "the tokens this sign-in replaced were not revoked: {e}; revoke the app's access in the CRM's settings"
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
    if let Some(var) = &overridden_by {
        ctx.out.warn(format!(
            "`{var}` is set and wins over the keychain: runs will use the token in it, not the one just stored; unset it to use the keychain entry"
        ));
    }
    Ok(Exit::Ok)
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

fn new_connection(provider: ProviderKind) -> ConnectionConfig {
    ConnectionConfig {
        provider,
        base_url: None,
        auth_url: None,
        client_id: None,
        token_env: None,
        scopes: None,
        redirect_port: None,
        objects: None,
        on_delete: Default::default(),
        match_keys: None,
        create_when: None,
        max_requests_per_run: None,
        fields: Vec::new(),
        contact: None,
        company: None,
        activity: None,
    }
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

/// Sets `token_env = "VAR"` in the `[connections.NAME]` table of the config file at `path`,
/// replacing the key's line where the table has one, else adding it under the table's
/// header; everything else in the file is kept as written. Returns `false`, having written
/// nothing, when the file does not spell the table as such a header (dotted keys, an inline
/// table), or the edited file would not read back with that value.
fn set_token_env(path: &std::path::Path, name: &str, var: &str) -> anyhow::Result<bool> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(false);
    };
    let header_of = |line: &str| -> Option<String> {
        let t = line.trim_start();
        if !t.starts_with('[') || t.starts_with("[[") {
            return None;
        }
        let end = t.find(']')?;
        Some(t[1..end].split_whitespace().collect::<String>())
    };
    let wanted = [
        format!("connections.{name}"),
        format!("connections.\"{name}\""),
    ];
    let mut lines: Vec<&str> = text.lines().collect();
    let Some(at) = lines
        .iter()
        .position(|l| header_of(l).is_some_and(|h| wanted.contains(&h)))
    else {
        return Ok(false);
    };
    let end = lines[at + 1..]
        .iter()
        .position(|l| header_of(l).is_some())
        .map_or(lines.len(), |i| at + 1 + i);
    let line = format!("token_env = {}", toml::Value::String(var.to_string()));
    let existing = (at + 1..end).find(|&i| {
        lines[i]
            .trim_start()
            .strip_prefix("token_env")
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    });
    match existing {
        Some(i) => lines[i] = &line,
        None => lines.insert(at + 1, &line),
    }
    let mut edited = lines.join("\n");
    if text.ends_with('\n') {
        edited.push('\n');
    }
    let reads_back = crate::config::Config::parse(&edited, path).is_ok_and(|c| {
        c.connections
            .get(name)
            .is_some_and(|c| c.token_env.as_deref() == Some(var))
    });
    if !reads_back {
        return Ok(false);
    }
    replace_config(path, &edited)?;
    Ok(true)
}

/// Writes `text` as the config file at `path` in one step (a new file renamed over it), so a
/// crash leaves either the old file or the new one.
fn replace_config(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write `{}`", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write `{}`", path.display()))
}

/// Adds `[connections.NAME]` to the config file (creating it), keeping what is there.
fn append_connection(
    path: &std::path::Path,
    name: &str,
    conn: &ConnectionConfig,
) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the config directory `{}`", dir.display()))?;
    }
    let mut text = std::fs::read_to_string(path).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let mut table = toml::Table::new();
    table.insert(
        "provider".into(),
        toml::Value::String(conn.provider.as_str().into()),
    );
    if let Some(url) = &conn.base_url {
        table.insert("base_url".into(), toml::Value::String(url.clone()));
    }
    if let Some(id) = &conn.client_id {
        table.insert("client_id".into(), toml::Value::String(id.clone()));
    }
    if let Some(var) = &conn.token_env {
        table.insert("token_env".into(), toml::Value::String(var.clone()));
    }
    text.push_str(&format!(
        "\n[connections.{name}]\n{}",
        toml::to_string(&table)?
    ));
    // The result must still be a valid config before it replaces the old one.
    crate::config::Config::parse(&text, path)?;
    replace_config(path, &text)
}

#[cfg(test)]
mod tests {
    use super::set_token_env;

    fn edit(before: &str, name: &str) -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, before).unwrap();
        let written = set_token_env(&path, name, "HS_PAT").unwrap();
        (written, std::fs::read_to_string(&path).unwrap())
    }

    #[test]
    fn token_env_is_added_under_the_connections_header_and_nothing_else_moves() {
        let before = "# mine\n[sync]\nconflict_policy = \"manual\"\n\n\
                      [connections.hs]   # the main portal\nprovider = \"hubspot\"\n\n\
                      [connections.other]\nprovider = \"hubspot\"\n";
        let (written, after) = edit(before, "hs");
        assert!(written);
        assert_eq!(
            after,
            "# mine\n[sync]\nconflict_policy = \"manual\"\n\n\
             [connections.hs]   # the main portal\ntoken_env = \"HS_PAT\"\nprovider = \"hubspot\"\n\n\
             [connections.other]\nprovider = \"hubspot\"\n"
        );
    }

    #[test]
    fn a_token_env_already_there_is_replaced_in_place() {
        let before = "[connections.\"hs\"]\nprovider = \"hubspot\"\ntoken_env  =  \"OLD\"\n[connections.x]\nprovider = \"hubspot\"\ntoken_env = \"KEEP\"\n";
        let (written, after) = edit(before, "hs");
        assert!(written);
        assert_eq!(
            after,
            "[connections.\"hs\"]\nprovider = \"hubspot\"\ntoken_env = \"HS_PAT\"\n[connections.x]\nprovider = \"hubspot\"\ntoken_env = \"KEEP\"\n"
        );
    }

    #[test]
    fn a_connection_not_written_as_a_table_header_is_left_alone() {
        for before in [
            "connections.hs.provider = \"hubspot\"\n",
            "connections = { hs = { provider = \"hubspot\" } }\n",
            "[connections.other]\nprovider = \"hubspot\"\n",
        ] {
            let (written, after) = edit(before, "hs");
            assert!(!written, "{before}");
            assert_eq!(after, before);
        }
    }
}
