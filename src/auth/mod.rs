//! Auth: how crmsync gets, keeps and renews the credentials of each connection.
//!
//! # The model
//!
//! A **connection** (a name such as `acme`) has one set of [`Credentials`]: an access token,
//! and for OAuth sign-ins a refresh token, its expiry and the client id it was issued to.
//!
//! * **Where credentials live.** The OS keychain ([`Keychain`]: service `crmsync`, user = the
//!   [`CredentialScope`]'s key, which names the connection, the provider and the hosts the
//!   credentials were issued for, the credentials as JSON) holds what `crmsync connect`
//!   obtained; credentials are never sent to other hosts than those. The
//!   environment variable `CRMSYNC_TOKEN_<NAME>` ([`crate::env::token_var`]) holds a token minted
//!   elsewhere (a private-app or API token, or an access token) and **wins over the keychain**
//!   when set; it is never refreshed. When no keychain is reachable (a headless Linux box
//!   without a Secret Service), crmsync does not fall back to anything silently: the error
//!   names the reason and the headless way.
//! * **Client secrets** come from `CRMSYNC_CLIENT_SECRET_<NAME>` or the keychain entry
//!   `<key>#client-secret`, never from argv or the config file.
//! * **Sign-in** ([`sign_in`]) is the OAuth authorization-code flow through the system browser
//!   and a one-shot listener on `127.0.0.1`, with PKCE (S256) where the CRM takes it and a
//!   `state` that is checked before anything else is looked at.
//! * **Renewal** ([`OAuthTokenSource`]) refreshes the access token when less than
//!   [`REFRESH_MARGIN_MS`] of its life is left, and once more when the CRM answers 401. Only
//!   one process refreshes a connection at a time: the refresher holds a lease
//!   ([`RefreshLock`]; `crate::connection` keeps it in files in the user's crmsync data directory,
//!   [`FileLock`]); another process that finds the lease taken
//!   waits and re-reads the keychain for the token the refresher saved; a lease left by a
//!   process that died is taken over at once. A rotated refresh
//!   token is saved before the lease is released, so no process ever uses a stale one.
//! * **The CRM is unknown here.** Endpoints come from the provider's
//!   [`OAuthSpec`](crate::providers::OAuthSpec); nothing in this module names a CRM's URL.
//!
//! Secrets are carried in [`SecretString`], whose `Debug` and `Display` print `[redacted]`, so
//! no token reaches a log line or an error message by accident.

mod credentials;
mod error;
mod flow;
mod http;
mod keychain;
mod refresh;

pub use credentials::{CredentialKind, Credentials, SecretString};
pub use error::AuthError;
#[cfg(feature = "test-seams")]
pub use flow::follow_redirects_in_background;
pub use flow::{
    DisconnectOutcome, SignInEvent, SignInOptions, default_open_browser, disconnect, revoke,
    sign_in,
};
pub use keychain::{
    CredentialScope, KEYCHAIN_SERVICE, Keychain, client_secret, client_secret_var, env_token,
    token_vars,
};
pub use refresh::{
    FileLock, LEASE_TTL_MS, MemoryLock, OAuthTokenSource, REFRESH_MARGIN_MS, RefreshLock,
    StaticTokenSource, token_source,
};
