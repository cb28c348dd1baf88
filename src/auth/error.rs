//! Errors of the auth layer. Messages say what failed, why and what to do; they never contain
//! a secret.

/// Why getting, keeping or renewing credentials failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No OS keychain answered (on Linux: no Secret Service on the session bus, or it is locked).
    #[error(
        "no keychain is reachable to {action} the credentials of connection `{connection}`: {reason}\n  \
         hint: without a keychain, put the token in `{token_var}` (an access, private-app or API \
         token), or run `crmsync connect <provider> --name {connection} --token-env VAR`"
    )]
    NoKeychain {
        connection: String,
        action: &'static str,
        reason: String,
        token_var: String,
    },
    /// The keychain answered but refused the operation.
    #[error(
        "the keychain could not {action} the credentials of connection `{connection}`: {reason}"
    )]
    Keychain {
        connection: String,
        action: &'static str,
        reason: String,
    },
    /// The keychain entry is not crmsync credentials.
    #[error(
        "the keychain entry of connection `{connection}` is not valid crmsync credentials: {reason}\n  \
         hint: run `crmsync connect <provider> --name {connection}` to replace it"
    )]
    CorruptEntry { connection: String, reason: String },
    /// The entry holds credentials issued for other hosts (or another CRM) than the
    /// connection's: they are not sent there.
    #[error(
        "the keychain entry of connection `{connection}` holds credentials issued for \
         {issued_for}, but the connection points at {wanted}; they are not sent there\n  \
         hint: sign in for this connection with `crmsync connect {provider} --name {connection}`"
    )]
    IssuedElsewhere {
        connection: String,
        issued_for: String,
        wanted: String,
        provider: String,
    },
    /// An entry an older crmsync kept under the connection's name alone, which does not say
    /// which host its credentials were issued for, found for a connection not at the
    /// provider's own hosts.
    #[error(
        "the keychain entry `{connection}` was saved by an older crmsync, which did not record \
         the host its credentials were issued for, and connection `{connection}` points at \
         {hosts}, not the CRM's own hosts; it is not used\n  \
         hint: sign in again with `crmsync connect {provider} --name {connection}`"
    )]
    UnverifiedEntry {
        connection: String,
        provider: String,
        hosts: String,
    },
    /// A sign-in (or token) for one account would replace the credentials of another one.
    #[error(
        "connection `{connection}` already holds credentials for account {stored} at {hosts}, \
         and these are for account {new}; nothing was stored\n  \
         hint: run `crmsync disconnect {connection}` first to replace them, or connect this \
         account under another `--name`"
    )]
    OtherAccount {
        connection: String,
        hosts: String,
        stored: String,
        new: String,
    },
    /// The loopback listener could not be opened.
    #[error("could not listen for the sign-in redirect on `{addr}`: {reason}")]
    Listen { addr: String, reason: String },
    /// The sign-in was declined in the browser (or the CRM refused the request).
    #[error("sign-in to {crm} was refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        crm: &'static str,
        error: String,
        description: Option<String>,
    },
    /// The browser did not come back in time.
    #[error(
        "sign-in to {crm} gave up: no redirect reached `{redirect_uri}` within {seconds} s\n  \
         hint: run `crmsync connect` again; with `--no-browser`, open the printed URL yourself"
    )]
    Timeout {
        crm: &'static str,
        redirect_uri: String,
        seconds: u64,
    },
    /// The token endpoint answered with an error.
    #[error("{crm}'s token endpoint refused the {grant}: {status} {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    TokenEndpoint {
        crm: &'static str,
        grant: &'static str,
        status: u16,
        error: String,
        description: Option<String>,
    },
    /// The token endpoint could not be reached, or answered something that is not a token.
    #[error("{crm}'s {what}: {reason}")]
    Http {
        crm: &'static str,
        what: &'static str,
        reason: String,
    },
    /// Anything that does not fit the cases above (a bad endpoint URL in a spec).
    #[error("{0}")]
    Other(String),
}
