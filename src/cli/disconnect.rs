//! `crmsync disconnect NAME`

use serde::Serialize;

use crate::auth::{self, CredentialKind, Keychain};
use crate::error::Error;

use super::{Context, Exit};

/// Revoke a connection's tokens where the CRM allows and remove them from the keychain
///
/// Local records and links are kept, so connecting to the same account again resumes.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  crmsync disconnect acme")]
pub struct Args {
    /// The connection's name
    pub name: String,
}

#[derive(Debug, Serialize)]
struct Disconnected {
    connection: String,
    revoked: bool,
    revoke_error: Option<String>,
    removed_from_keychain: bool,
    /// How the tokens found were obtained: `oauth`, or `static-token` (a private-app or API
    /// token, which no CRM revokes through its API); `null` when none were stored.
    token_kind: Option<CredentialKind>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let conn = ctx.config.connection(&args.name).map_err(Error::usage)?;
    let spec = crate::connection::oauth_spec(conn);
    let scope = crate::connection::credential_scope(&args.name, conn);
    let outcome = match auth::disconnect(&Keychain::from_env(), &scope, spec.as_ref()).await {
        Ok(outcome) => outcome,
        // No keychain here: nothing can have been stored in one. The token variable, if set,
        // is the user's to unset (said below).
        // An entry an older crmsync left that cannot be vouched for at this connection's hosts
        // is not this connection's to revoke or remove.
        Err(auth::AuthError::NoKeychain { .. } | auth::AuthError::UnverifiedEntry { .. }) => {
            auth::DisconnectOutcome {
                revoked: false,
                revoke_error: None,
                removed: false,
                kind: None,
            }
        }
        Err(e) => return Err(e.into()),
    };
    let report = Disconnected {
        connection: args.name.clone(),
        revoked: outcome.revoked,
        revoke_error: outcome.revoke_error.as_ref().map(|e| e.to_string()),
        removed_from_keychain: outcome.removed,
        token_kind: outcome.kind,
    };
    if ctx.out.json {
        ctx.out.json(&report)?;
    } else {
        let crm = conn.provider.display_name();
        if let Some(e) = &report.revoke_error {
            ctx.out.warn(format!(
                "the tokens were not revoked at {crm}: {e}; revoke the app's access in the CRM's settings"
            ));
        }
        let what = match (report.revoked, report.removed_from_keychain) {
            (true, true) => "revoked its tokens and removed them from the keychain",
            (false, true) => "removed its tokens from the keychain",
            (_, false) => "no tokens were stored in the keychain",
        };
        ctx.out
            .data(format!("disconnected `{}`: {what}", args.name))?;
        match report.token_kind {
            _ if !report.removed_from_keychain => {}
            Some(CredentialKind::StaticToken) => ctx.out.note(format!(
                "the private-app or API token it held cannot be revoked through {crm}'s API and still gives access: delete or regenerate it in {crm}'s settings if it should stop working"
            )),
            _ if spec.as_ref().is_some_and(|s| s.revoke_url.is_none()) => ctx.out.note(format!(
                "{crm} has no way to revoke tokens through its API: remove crmsync's access in {crm}'s settings if it should end"
            )),
            _ => {}
        }
        ctx.out.note(format!(
            "local records and links are kept; `crmsync connect {} --name {}` resumes",
            conn.provider, args.name
        ));
        let vars = [
            Some(crate::env::token_var(&args.name)),
            conn.token_env.clone(),
        ];
        for var in vars.into_iter().flatten() {
            if std::env::var_os(&var).is_some() {
                ctx.out
                    .warn(format!("`{var}` is still set and still gives access"));
            }
        }
    }
    Ok(Exit::Ok)
}
