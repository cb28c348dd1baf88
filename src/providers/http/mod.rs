//! The shared HTTP layer every CRM provider sends its requests through. It names no CRM: a
//! provider gives its name and error hooks ([`CrmHooks`]) and its limits ([`PacingPolicy`]).
//!
//! [`HttpClient`] ([`client`]) adds, in this order around every request:
//!
//! 1. **Budget.** Each attempt counts against
//!    [`ProviderContext::max_requests`](crate::providers::ProviderContext::max_requests); once
//!    spent the call fails with [`ProviderError::Budget`](crate::providers::ProviderError::Budget)
//!    before anything is sent.
//! 2. **Pacing** ([`pacing`]): the provider's window, fixed-rate lanes and daily allowance,
//!    with [`HttpOptions::rate_margin`] of the window left unused.
//! 3. **Retries** ([`retry`]) on 429, 5xx, timeouts and connection errors, with exponential
//!    backoff and jitter, honouring `Retry-After` and the CRM's own hint, up to
//!    [`HttpOptions::max_attempts`] attempts.
//! 4. **Auth.** A 401 triggers one [`TokenSource::refresh`](super::TokenSource::refresh) and one
//!    retry with the new token.
//!
//! Error text ([`error`]) says what a failed request met in words: a proxy's HTML page by its
//! title, an untrusted certificate by what is wrong with it, a refused connection by its root
//! cause.
//!
//! Waits are measured against the context's [`Clock`](crate::clock::Clock). With
//! `CRMSYNC_TEST_NO_SLEEP` set, waits are computed and logged but not slept; the pacer then
//! keeps a virtual offset so that it still sees time move as if it had slept.
//!
//! Tokens are never logged: debug logs carry the method, the path, the status and the timing.

mod client;
mod error;
pub mod pacing;
mod retry;

use std::sync::Once;
use std::time::Duration;

pub use client::{
    AuthScheme, CrmHooks, HttpClient, Method, Request, Response, SharedClient, Waiting, waiting,
};
pub use error::summarise_body;
pub use pacing::{
    DailyBudget, DailyInfo, FixedRate, Lane, PacingPolicy, RateInfo, Reserve, WaitReason,
    WindowPolicy,
};

/// The default of [`HttpOptions::rate_margin`].
pub const DEFAULT_RATE_MARGIN: u64 = 3;
/// The default of [`HttpOptions::timeout`], in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
/// The config key of the per-request timeout, for messages.
pub const TIMEOUT_SETTING: &str = "http.timeout_secs";

/// How often a request waiting `timeout` at most is logged as still waiting: a quarter of
/// the timeout, from a quarter of a second to ten seconds.
pub fn slow_notice(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_millis(250), Duration::from_secs(10))
}

/// Tuning of the client; [`HttpOptions::from_env`] gives the defaults.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff; doubled per attempt, with jitter.
    pub backoff_base: Duration,
    /// Longest single backoff (a longer `Retry-After` is still honoured).
    pub backoff_cap: Duration,
    /// Whole-request timeout (`http.timeout_secs`).
    pub timeout: Duration,
    /// How often a request still waiting for its answer is logged (at info level, `-v`).
    pub slow_notice: Duration,
    pub connect_timeout: Duration,
    /// Requests of the CRM's rate-limit window left unused (`http.rate_limit_margin`): the
    /// general lane waits once the window has no more room than this.
    pub rate_margin: u64,
    /// Compute and log waits without sleeping (`CRMSYNC_TEST_NO_SLEEP`).
    pub no_sleep: bool,
}

impl HttpOptions {
    pub fn from_env() -> HttpOptions {
        HttpOptions {
            #[cfg(feature = "test-seams")]
            no_sleep: std::env::var_os(crate::env::TEST_NO_SLEEP).is_some(),
            ..HttpOptions::default()
        }
    }

    /// The defaults with the config's `[http]` settings (`timeout_secs`, `rate_limit_margin`).
    pub fn from_settings(timeout_secs: u64, rate_limit_margin: u64) -> HttpOptions {
        let timeout = Duration::from_secs(timeout_secs.max(1));
        HttpOptions {
            timeout,
            slow_notice: slow_notice(timeout),
            rate_margin: rate_limit_margin,
            ..HttpOptions::from_env()
        }
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            slow_notice: slow_notice(Duration::from_secs(DEFAULT_TIMEOUT_SECS)),
            connect_timeout: Duration::from_secs(10),
            rate_margin: DEFAULT_RATE_MARGIN,
            no_sleep: false,
        }
    }
}

static INSTALL_PROVIDER: Once = Once::new();

/// Installs the ring crypto provider for rustls once per process (reqwest panics without one).
pub fn install_crypto_provider() {
    INSTALL_PROVIDER.call_once(|| {
        // Another part of the process may have installed one already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Checks a configured API base URL: `https://`, or plain `http://` to a loopback address
/// only (a sandbox or emulator on this machine), since over `http://` the token would cross
/// the network unencrypted.
pub fn check_base_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        "http" => Err(format!(
            "`{url}` is plain http to {}, which would send the token unencrypted: use an \
             https:// URL (plain http:// is for a sandbox on this machine only: localhost, \
             127.0.0.1, ::1)",
            parsed.host_str().unwrap_or("no host")
        )),
        other => Err(format!(
            "`{url}` is a `{other}:` URL: expected an https:// URL"
        )),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_twice_is_harmless() {
        install_crypto_provider();
        install_crypto_provider();
    }
}
