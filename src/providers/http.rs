//! The shared HTTP layer every CRM provider sends its requests through.
//!
//! [`HttpClient`] wraps one `reqwest::Client` (rustls with ring, redirects off, timeouts) and
//! adds, in this order around every request:
//!
//! 1. **Budget.** Each attempt counts against [`ProviderContext::max_requests`]; once spent the
//!    call fails with [`ProviderError::Budget`] before anything is sent.
//! 2. **Pacing.** Requests go through a [`Lane`]. The general lane is fed by the CRM's own
//!    rate-limit headers: the provider turns them into a [`RateInfo`] (`max`, `remaining`,
//!    `window`). Rolling windows are best served by even spacing, so once the window is in
//!    use requests go out 5% under `max / window`; with fewer than 3 requests left (other
//!    integrations share the budget) what is left is spread over the window. A long run
//!    settles just under the limit instead of bouncing off 429s. The search lane has
//!    a fixed rate, 5% under the CRM's (HubSpot allows 4 searches a second per token), and
//!    ignores the headers.
//! 3. **Retries** on 429, 5xx, timeouts and connection errors, with exponential backoff and
//!    jitter, honouring `Retry-After` (seconds) and a CRM-specific hint, up to
//!    [`HttpOptions::max_attempts`] attempts.
//! 4. **Auth.** A 401 triggers one [`TokenSource::refresh`](super::TokenSource::refresh) and one retry with the new token.
//!
//! Waits are measured against the context's [`Clock`](crate::clock::Clock). With
//! `CRMSYNC_TEST_NO_SLEEP` set, waits are computed and logged but not slept; the client then
//! keeps a virtual offset so that pacing still sees time move as if it had slept.
//!
//! Tokens are never logged: debug logs carry the method, the path, the status and the timing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::de::DeserializeOwned;

use crate::model::Millis;
use crate::providers::{ProviderContext, ProviderError};

/// What a CRM's rate-limit headers say about the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    /// Requests allowed per window.
    pub max: u64,
    /// Requests left in the current window.
    pub remaining: u64,
    /// The window's length.
    pub window: Duration,
}

/// Which pacing lane a request goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Paced by the CRM's rate-limit headers.
    General,
    /// A fixed number of requests per second, independent of the headers (HubSpot search).
    Search,
}

/// Why the client waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// Spreading the remaining rate-limit budget.
    Pacing,
    /// The search lane's fixed rate.
    SearchRate,
    /// Backing off before a retry.
    Retry,
}

/// The CRM-specific parts the client needs to know.
#[derive(Debug, Clone, Copy)]
pub struct CrmHooks {
    /// The CRM's name as people write it (`HubSpot`).
    pub name: &'static str,
    /// Reads the rate-limit headers of a response.
    pub rate_info: fn(&HeaderMap) -> Option<RateInfo>,
    /// Extracts the CRM's own message from an error body (falls back to the body text).
    pub error_message: fn(&str) -> Option<String>,
    /// How long to wait before retrying a 429 without `Retry-After`, from its body.
    pub throttle_hint: fn(&str) -> Option<Duration>,
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
    /// Whole-request timeout.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Requests per second on the search lane.
    pub search_per_second: u32,
    /// Compute and log waits without sleeping (`CRMSYNC_TEST_NO_SLEEP`).
    pub no_sleep: bool,
}

impl HttpOptions {
    pub fn from_env() -> HttpOptions {
        HttpOptions {
            no_sleep: std::env::var_os(crate::env::TEST_NO_SLEEP).is_some(),
            ..HttpOptions::default()
        }
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            search_per_second: 4,
            no_sleep: false,
        }
    }
}

/// HTTP methods the providers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn as_reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

/// One request, relative to the client's base URL.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Path starting with `/`, without the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    pub lane: Lane,
    /// The record the request is about, for error messages.
    pub record: Option<String>,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Request {
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            lane: Lane::General,
            record: None,
        }
    }
    pub fn query(mut self, key: &str, value: impl Into<String>) -> Request {
        self.query.push((key.to_string(), value.into()));
        self
    }
    pub fn json(mut self, body: serde_json::Value) -> Request {
        self.body = Some(body);
        self
    }
    pub fn lane(mut self, lane: Lane) -> Request {
        self.lane = lane;
        self
    }
    pub fn record(mut self, record: impl Into<String>) -> Request {
        self.record = Some(record.into());
        self
    }
}

/// A response whose status was final (not retried).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Response {
    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self, crm: &str, what: &str) -> Result<T, ProviderError> {
        serde_json::from_str(&self.body).map_err(|e| {
            ProviderError::Other(format!(
                "{crm} sent a response to {what} that crmsync cannot read: {e}"
            ))
        })
    }
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
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

#[derive(Debug, Default)]
struct LaneState {
    /// When the previous request on this lane started (clock ms, virtual offset included).
    last_start: Option<Millis>,
    /// The interval the next request must keep after `last_start`.
    interval: Millis,
}

#[derive(Debug, Default)]
struct PacerState {
    general: LaneState,
    search: LaneState,
    /// Time that was computed as waited but not slept (no-sleep mode).
    skipped: Millis,
    waits: Vec<(WaitReason, Duration)>,
}

/// A CRM client shared by one provider.
pub struct HttpClient {
    client: reqwest::Client,
    base_url: String,
    ctx: ProviderContext,
    hooks: CrmHooks,
    options: HttpOptions,
    sent: AtomicU64,
    pacer: Mutex<PacerState>,
    token: tokio::sync::Mutex<Option<String>>,
}

enum Attempt {
    Done(Response),
    Retry {
        wait: Option<Duration>,
        why: String,
        status: Option<u16>,
    },
}

impl HttpClient {
    pub fn new(
        ctx: ProviderContext,
        default_base_url: &str,
        hooks: CrmHooks,
        options: HttpOptions,
    ) -> Result<HttpClient, ProviderError> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("crmsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Other(format!("could not build an HTTP client: {e}")))?;
        let base_url = ctx
            .base_url
            .clone()
            .unwrap_or_else(|| default_base_url.to_string())
            .trim_end_matches('/')
            .to_string();
        Ok(HttpClient {
            client,
            base_url,
            ctx,
            hooks,
            options,
            sent: AtomicU64::new(0),
            pacer: Mutex::new(PacerState::default()),
            token: tokio::sync::Mutex::new(None),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn connection(&self) -> &str {
        &self.ctx.connection
    }

    pub fn crm(&self) -> &'static str {
        self.hooks.name
    }

    /// Requests sent so far (every attempt counts).
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Every wait computed so far, slept or not, in order.
    pub fn waits(&self) -> Vec<(WaitReason, Duration)> {
        self.pacer.lock().expect("pacer lock").waits.clone()
    }

    /// The CRM's message from an error body, else the body itself (shortened).
    pub fn error_text(&self, body: &str) -> String {
        (self.hooks.error_message)(body).unwrap_or_else(|| {
            let body = body.trim();
            if body.is_empty() {
                "no message".to_string()
            } else {
                body.chars().take(300).collect()
            }
        })
    }

    /// The error for a final non-success response.
    pub fn api_error(&self, req: &Request, resp: &Response) -> ProviderError {
        let mut message = self.error_text(&resp.body);
        if let Some(record) = &req.record {
            message = format!("record `{record}`: {message}");
        }
        ProviderError::Api {
            crm: self.hooks.name,
            connection: self.ctx.connection.clone(),
            status: resp.status,
            message,
        }
    }

    /// Sends `req` and fails on any non-2xx final status.
    pub async fn send_ok(&self, req: Request) -> Result<Response, ProviderError> {
        let resp = self.send(req.clone()).await?;
        if resp.is_success() {
            Ok(resp)
        } else {
            Err(self.api_error(&req, &resp))
        }
    }

    /// Sends `req` with pacing, retries and one refresh on 401. Returns the final response,
    /// whatever its status, unless retries ran out or the credentials were refused.
    pub async fn send(&self, req: Request) -> Result<Response, ProviderError> {
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            self.take_budget()?;
            self.pace(req.lane).await;
            let token = self.current_token().await?;
            match self.attempt(&req, &token).await {
                Attempt::Done(resp) if resp.status == 401 => {
                    if refreshed {
                        return Err(self.auth_error(&resp));
                    }
                    refreshed = true;
                    tracing::debug!(path = %req.path, "401: refreshing the token once");
                    match self.ctx.tokens.refresh(&token).await? {
                        Some(new) => *self.token.lock().await = Some(new),
                        None => return Err(self.auth_error(&resp)),
                    }
                    // The refresh retry does not use up a backoff attempt.
                    attempt -= 1;
                }
                Attempt::Done(resp) => return Ok(resp),
                Attempt::Retry { wait, why, status } => {
                    if attempt >= self.options.max_attempts {
                        let what = match &req.record {
                            Some(r) => format!("record `{r}`: {why}"),
                            None => why,
                        };
                        return Err(match status {
                            Some(status) => ProviderError::Api {
                                crm: self.hooks.name,
                                connection: self.ctx.connection.clone(),
                                status,
                                message: format!("{what} (gave up after {attempt} attempts)"),
                            },
                            None => ProviderError::Network {
                                crm: self.hooks.name,
                                connection: self.ctx.connection.clone(),
                                message: format!("{what} (gave up after {attempt} attempts)"),
                            },
                        });
                    }
                    let backoff = self.backoff(attempt);
                    let wait = wait.map_or(backoff, |w| w.max(Duration::from_millis(1)));
                    tracing::debug!(
                        path = %req.path,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying: {why}"
                    );
                    self.wait(WaitReason::Retry, wait).await;
                }
            }
        }
    }

    fn auth_error(&self, resp: &Response) -> ProviderError {
        ProviderError::Auth {
            crm: self.hooks.name,
            connection: self.ctx.connection.clone(),
            message: format!("{}: {}", resp.status, self.error_text(&resp.body)),
        }
    }

    fn take_budget(&self) -> Result<(), ProviderError> {
        let budget = self.ctx.max_requests;
        let prev = self
            .sent
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match budget {
                Some(max) if n >= max => None,
                _ => Some(n + 1),
            });
        match prev {
            Ok(_) => Ok(()),
            Err(_) => Err(ProviderError::Budget {
                connection: self.ctx.connection.clone(),
                budget: budget.unwrap_or_default(),
            }),
        }
    }

    async fn current_token(&self) -> Result<String, ProviderError> {
        // A token obtained by refresh is kept; otherwise ask the source each time so that it
        // can refresh ahead of expiry.
        if let Some(t) = self.token.lock().await.as_ref() {
            return Ok(t.clone());
        }
        let t = self.ctx.tokens.access_token().await?;
        if t.is_empty() {
            return Err(ProviderError::NoToken {
                connection: self.ctx.connection.clone(),
                message: "the token source returned an empty token".into(),
            });
        }
        Ok(t)
    }

    async fn attempt(&self, req: &Request, token: &str) -> Attempt {
        let url = format!("{}{}", self.base_url, req.path);
        let mut builder = self
            .client
            .request(req.method.as_reqwest(), &url)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json");
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        if let Some(body) = &req.body {
            builder = builder.json(body);
        }
        let started = std::time::Instant::now();
        let result = builder.send().await;
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() {
                    format!("{} {} timed out", req.method.as_reqwest(), req.path)
                } else {
                    format!(
                        "{} {} failed: {}",
                        req.method.as_reqwest(),
                        req.path,
                        with_root_cause(&e)
                    )
                };
                tracing::debug!(method = %req.method.as_reqwest(), path = %req.path, "{why}");
                return Attempt::Retry {
                    wait: None,
                    why,
                    status: None,
                };
            }
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = match resp.text().await {
            Ok(b) => b,
            Err(e) => {
                return Attempt::Retry {
                    wait: None,
                    why: format!("reading the answer to {} failed: {e}", req.path),
                    status: None,
                };
            }
        };
        tracing::debug!(
            method = %req.method.as_reqwest(),
            path = %req.path,
            status,
            ms = started.elapsed().as_millis() as u64,
            "http"
        );
        if let Some(info) = (self.hooks.rate_info)(&headers) {
            self.observe(info);
        }
        if status == 429 || (500..600).contains(&status) {
            let retry_after = headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64);
            let hint = if status == 429 {
                retry_after.or_else(|| (self.hooks.throttle_hint)(&body))
            } else {
                retry_after
            };
            return Attempt::Retry {
                wait: hint,
                why: format!("{status}: {}", self.error_text(&body)),
                status: Some(status),
            };
        }
        Attempt::Done(Response {
            status,
            headers,
            body,
        })
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.options.backoff_base.as_millis() as u64;
        let exp = base.saturating_mul(1u64 << (attempt.saturating_sub(1)).min(20));
        let capped = exp.min(self.options.backoff_cap.as_millis() as u64);
        // Jitter in [capped/2, capped] keeps concurrent clients from retrying in step.
        let half = capped / 2;
        let jitter = if half > 0 {
            rand::random_range(0..=half)
        } else {
            0
        };
        Duration::from_millis(half + jitter)
    }

    fn now(&self, state: &PacerState) -> Millis {
        self.ctx.clock.now() + state.skipped
    }

    /// Feeds the general lane from the CRM's rate-limit headers.
    fn observe(&self, info: RateInfo) {
        let mut state = self.pacer.lock().expect("pacer lock");
        let window = info.window.as_millis() as Millis;
        // HubSpot-style limits are rolling windows: the sustainable rate is `max` per
        // `window`, and a burst is paid back later. So once the window is in use, requests
        // are spaced evenly just under that rate (5% under, so the window never fills);
        // when the budget is nearly gone (other integrations share it), what is left is
        // spread over the window.
        state.general.interval = if info.max == 0 || info.remaining >= info.max {
            0
        } else if info.remaining < 3 {
            window / (info.remaining.max(1) as Millis)
        } else {
            window * 105 / (100 * info.max as Millis)
        };
    }

    async fn pace(&self, lane: Lane) {
        let (wait, reason) = {
            let mut state = self.pacer.lock().expect("pacer lock");
            let now = self.now(&state);
            // 5% under the limit, as the general lane: at exactly the limit, a little jitter
            // puts one search too many in some second, and its 429 costs a second's wait.
            let search_interval =
                1000 * 105 / (100 * Millis::from(self.options.search_per_second.max(1)));
            let (lane_state, reason) = match lane {
                Lane::General => (&mut state.general, WaitReason::Pacing),
                Lane::Search => {
                    state.search.interval = search_interval;
                    (&mut state.search, WaitReason::SearchRate)
                }
            };
            let wait = match lane_state.last_start {
                Some(last) => (last + lane_state.interval - now).max(0),
                None => 0,
            };
            lane_state.last_start = Some(now + wait);
            (wait, reason)
        };
        if wait > 0 {
            self.wait(reason, Duration::from_millis(wait as u64)).await;
        }
    }

    async fn wait(&self, reason: WaitReason, d: Duration) {
        {
            let mut state = self.pacer.lock().expect("pacer lock");
            state.waits.push((reason, d));
            if self.options.no_sleep {
                state.skipped += d.as_millis() as Millis;
            }
        }
        if self.options.no_sleep {
            tracing::debug!(?reason, wait_ms = d.as_millis() as u64, "wait (not slept)");
        } else {
            tracing::debug!(?reason, wait_ms = d.as_millis() as u64, "wait");
            tokio::time::sleep(d).await;
        }
    }
}

/// Shared handle.
pub type SharedClient = Arc<HttpClient>;

/// `e`'s message, followed by that of the error at the bottom of its chain where that says
/// something more: reqwest's own message ("error sending request for url …") leaves out
/// whether the connection was refused, reset or not resolved.
fn with_root_cause(e: &dyn std::error::Error) -> String {
    let top = e.to_string();
    let mut root = e.source();
    while let Some(next) = root.and_then(std::error::Error::source) {
        root = Some(next);
    }
    match root.map(ToString::to_string) {
        Some(cause) if !top.contains(&cause) => format!("{top} ({cause})"),
        _ => top,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_failed_request_says_what_lies_at_the_bottom_of_it() {
        #[derive(Debug)]
        struct Wrapped(std::io::Error);
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error sending request")
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        assert_eq!(
            super::with_root_cause(&Wrapped(refused)),
            "error sending request (connection refused)"
        );
        let plain = std::io::Error::other("broken pipe");
        assert_eq!(super::with_root_cause(&plain), "broken pipe");
    }

    use super::*;

    #[test]
    fn install_twice_is_harmless() {
        install_crypto_provider();
        install_crypto_provider();
    }
}
