//! How errors are shown: what failed, why (the chain), and what to do (one hint), found in one
//! place by walking the error chain.

use std::fmt;

use crate::providers::ProviderError;

/// An error that carries its own hint (what the user can do about it).
#[derive(Debug)]
pub struct Hinted {
    pub message: String,
    pub hint: String,
    /// A bad command line or config (exit code 2) rather than a failure (1).
    pub usage: bool,
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// A bad command line or config: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Creates an error with a hint.
pub fn hinted(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted {
        message: message.into(),
        hint: hint.into(),
        usage: false,
    })
}

/// Creates a usage or config error (exit code 2) with a hint.
pub fn usage_hinted(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted {
        message: message.into(),
        hint: hint.into(),
        usage: true,
    })
}

/// The hint for the first error in the chain that has one.
pub fn hint_for(err: &anyhow::Error) -> Option<String> {
    for cause in err.chain() {
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            return Some(h.hint.clone());
        }
        if let Some(hint) = cause
            .downcast_ref::<ProviderError>()
            .and_then(provider_hint)
        {
            return Some(hint);
        }
        if cause.downcast_ref::<crate::config::ConfigError>().is_some() {
            return Some(
                "see `config.example.toml` for every key, its type and its default".into(),
            );
        }
    }
    None
}

/// What to do about a provider error, where there is something to do.
pub fn provider_hint(p: &ProviderError) -> Option<String> {
    match p {
        ProviderError::Auth { crm, connection, .. } => Some(format!(
            "run `crmsync connect {} --name {connection}` to sign in again (or, for a token, `--token-env VAR`), or set `{}`",
            crm.to_lowercase(),
            crate::env::token_var(connection)
        )),
        ProviderError::EnvTokenRejected {
            var,
            keychain_has_entry: true,
            ..
        } => Some(format!("unset `{var}` to use the keychain entry, or put a valid token in it")),
        ProviderError::EnvTokenRejected { crm, var, connection, .. } => Some(format!(
            "put a valid token in `{var}`, or unset it and sign in with `crmsync connect {} --name {connection}`",
            crm.to_lowercase()
        )),
        ProviderError::NoToken { connection, .. } => Some(format!(
            "sign in with `crmsync connect PROVIDER --name {connection}`, or for headless runs set `{}` to a private-app or API token (or name the variable that holds it with `token_env` in `[connections.{connection}]`)",
            crate::env::token_var(connection)
        )),
        ProviderError::Budget { .. } => Some(
            "raise `max_requests_per_run` or `--max-requests`; the next run continues where this one stopped"
                .into(),
        ),
        ProviderError::Network { .. } => Some(
            "check the connection's `base_url` and the network, then run the command again; nothing half-done is left behind"
                .into(),
        ),
        _ => None,
    }
}

/// Renders an error for stderr:
///
/// ```text
/// error: HubSpot rejected the credentials for connection `acme`
///   caused by: 401 Unauthorized
///
/// hint: run `crmsync connect hubspot --name acme` to sign in again
/// ```
pub fn render(err: &anyhow::Error, color: bool) -> String {
    let mut s = String::new();
    let label = if color {
        "\x1b[1;31merror:\x1b[0m"
    } else {
        "error:"
    };
    s.push_str(&format!("{label} {err}\n"));
    let mut last = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        // Errors that repeat their source in their own message add nothing.
        if !last.contains(&text) {
            s.push_str(&format!("  caused by: {text}\n"));
        }
        last = text;
    }
    if let Some(hint) = hint_for(err) {
        let label = if color {
            "\x1b[1;36mhint:\x1b[0m"
        } else {
            "hint:"
        };
        s.push_str(&format!("\n{label} {hint}\n"));
    }
    s
}
