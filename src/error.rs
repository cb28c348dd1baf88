//! crmsync's own error: what failed, the kind of failure (which decides the exit code) and,
//! where there is something to do about it, a hint. Every what-to-do text lives here, found
//! by walking an error's chain ([`hint_for`]); `output::errors` only draws it.

use std::fmt;

use crate::providers::ProviderError;

/// What kind of failure an error is; `main` turns it into the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A bad command line, config or input the user can fix (exit code 2).
    Usage,
    /// Something failed while doing the work (exit code 1).
    Failure,
}

/// An error raised by crmsync itself, with its kind and maybe a hint.
#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
}

impl Error {
    /// A bad command line, config or input (exit code 2), without a hint.
    pub fn usage(message: String) -> Error {
        Error {
            kind: ErrorKind::Usage,
            message,
            hint: None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// A failure (exit code 1) with a hint.
pub fn hinted(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Error {
        kind: ErrorKind::Failure,
        message: message.into(),
        hint: Some(hint.into()),
    })
}

/// A usage or config error (exit code 2) with a hint.
pub fn usage_hinted(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Error {
        kind: ErrorKind::Usage,
        message: message.into(),
        hint: Some(hint.into()),
    })
}

/// The kind of an error that stopped a command: a usage error anywhere in its chain (an
/// [`Error`] of that kind, or a config that does not load) makes it one.
pub fn kind_of(err: &anyhow::Error) -> ErrorKind {
    let usage = err.chain().any(|cause| {
        cause.downcast_ref::<crate::config::ConfigError>().is_some()
            || cause
                .downcast_ref::<Error>()
                .is_some_and(|e| e.kind == ErrorKind::Usage)
    });
    if usage {
        ErrorKind::Usage
    } else {
        ErrorKind::Failure
    }
}

/// The hint for the first error in the chain that has one.
pub fn hint_for(err: &anyhow::Error) -> Option<String> {
    for cause in err.chain() {
        if let Some(hint) = cause.downcast_ref::<Error>().and_then(|e| e.hint.clone()) {
            return Some(hint);
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
        ProviderError::DailyLimit { crm: "Salesforce", .. } => Some(
            "nothing half-done is left behind: Salesforce counts the org's allocation over the last 24 hours, so room comes back as the requests of a day ago age out; run again in a few hours (or tomorrow at this time for all of it), or lower the connection's `reserve_percent`"
                .into(),
        ),
        ProviderError::DailyLimit { crm, .. } => Some(format!(
            "nothing half-done is left behind: run again {}: the next run after the day's budget is renewed continues where this one stopped (raise the CRM plan's allowance for more a day)",
            when_renewed(crm)
        )),
        ProviderError::Network { .. } => Some(
            "check the connection's `base_url` and the network, then run the command again; nothing half-done is left behind"
                .into(),
        ),
        _ => None,
    }
}

/// When `crm` renews its daily allowance.
fn when_renewed(crm: &str) -> &'static str {
    match crm {
        // DIGEST §2.10: the token budget resets at the start of the next day; the
        // `x-daily-requests-left` header counts the UTC day.
        "Pipedrive" => "after midnight UTC, when Pipedrive renews the day's token budget",
        _ => "tomorrow, once the CRM renews the day's allowance",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_error_anywhere_in_the_chain_decides_the_kind() {
        let err = anyhow::Error::new(Error::usage("bad flag".into())).context("while starting");
        assert_eq!(kind_of(&err), ErrorKind::Usage);
        assert_eq!(kind_of(&hinted("failed", "try again")), ErrorKind::Failure);
        assert_eq!(kind_of(&anyhow::anyhow!("plain")), ErrorKind::Failure);
    }

    #[test]
    fn the_first_hint_in_the_chain_is_the_one_shown() {
        let err = usage_hinted("no connections", "add one").context("cannot sync");
        assert_eq!(hint_for(&err).as_deref(), Some("add one"));
        assert_eq!(
            hint_for(&anyhow::Error::new(Error::usage("x".into()))),
            None
        );
    }
}
