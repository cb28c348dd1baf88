//! The shared HTTP layer every CRM provider sends its requests through.
//!
//! [`HttpClient`] wraps one `reqwest::Client` (rustls with ring, redirects off, timeouts) and
//! adds, in this order around every request:
//!
//! 1. **Budget.** Each attempt counts against [`ProviderContext::max_requests`]; once spent the
//!    call fails with [`ProviderError::Budget`] before anything is sent.
//! 2. **Pacing.** Requests go through a [`Lane`]. The general lane is fed by the CRM's own
//!    rate-limit headers: the provider turns them into a [`RateInfo`] (`max`, `remaining`,
//!    `window`). From the last reading and the client's own requests since (each leaves a
//!    rolling window a window after its answer) the client works out the room the window
//!    has now, and sends at once while that is more than [`HttpOptions::rate_margin`]; it
//!    waits only when the window is full, until its oldest request leaves it. A short job is
//!    done in one burst; a long one fills each window and waits out the rest, never
//!    spacing requests evenly while there is room. The search lane has a fixed rate, 5%
//!    under the CRM's (HubSpot allows 4 searches a second per token), and ignores the
//!    headers.
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

use std::collections::VecDeque;
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
    /// Requests per second on the search lane.
    pub search_per_second: u32,
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

    /// The defaults with the config's `[http]` settings.
    pub fn from_settings(settings: &crate::config::HttpSettings) -> HttpOptions {
        let timeout = Duration::from_secs(settings.timeout_secs.max(1));
        HttpOptions {
            timeout,
            slow_notice: slow_notice(timeout),
            rate_margin: settings.rate_limit_margin,
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
            search_per_second: 4,
            rate_margin: DEFAULT_RATE_MARGIN,
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

/// A request sent on the general lane, as the pacer keeps it until it has left the window.
#[derive(Debug, Clone, Copy)]
struct Sent {
    seq: u64,
    /// When it was sent (clock ms): the CRM counted it no earlier.
    sent: Millis,
    /// When its answer (or its failure) came back: the CRM counted it no later.
    answered: Option<Millis>,
}

/// The last rate-limit headers read, and which request they answered.
#[derive(Debug, Clone, Copy)]
struct Observed {
    seq: u64,
    /// When the answer carrying them came back.
    at: Millis,
    info: RateInfo,
}

/// The general lane: what the CRM last said about its window, and this client's own
/// requests since, from which the room left in the window now is worked out.
#[derive(Debug, Default)]
struct WindowState {
    next_seq: u64,
    observed: Option<Observed>,
    /// Requests not yet known to have left the window, oldest first.
    sent: VecDeque<Sent>,
}

/// Slack added to a request's answer time before it counts as out of the CRM's window: the
/// clock reads whole milliseconds, and the CRM timed the request a little before its answer.
const WINDOW_SLACK_MS: Millis = 2;

impl WindowState {
    /// Whether `s` has left the window by `now` (counted by the CRM at its answer at the
    /// latest).
    fn left(s: &Sent, window: Millis, now: Millis) -> bool {
        s.answered
            .is_some_and(|a| a + window + WINDOW_SLACK_MS <= now)
    }

    /// Requests the window still has room for at `now`, as far as this client can tell: what
    /// the CRM last said, less this client's requests sent since, plus its requests the CRM
    /// had counted then that have left the window since. Requests of others (other processes
    /// of the same app) are seen only through the headers; once a whole window has passed
    /// since they were read, everything they counted has left it. `None` when the CRM has
    /// said nothing about its window.
    fn room(&self, now: Millis) -> Option<i64> {
        let o = self.observed?;
        let window = (o.info.window.as_millis() as Millis).max(1);
        let max = o.info.max as i64;
        let stale = now >= o.at + window + WINDOW_SLACK_MS;
        let mut room = if stale { max } else { o.info.remaining as i64 };
        for s in &self.sent {
            let left = Self::left(s, window, now);
            if stale || s.seq > o.seq {
                // Not in the count the CRM sent (or that count is stale): in the window until
                // it leaves.
                if !left {
                    room -= 1;
                }
            } else if left && s.sent + window > o.at {
                // Counted by the CRM then (it was sent less than a window before), gone now.
                room += 1;
            }
        }
        Some(room.min(max))
    }

    /// When the room in the window next grows: the first of this client's requests to leave
    /// it, or the moment the last reading becomes a window old.
    fn next_room(&self, now: Millis) -> Option<Millis> {
        let o = self.observed?;
        let window = (o.info.window.as_millis() as Millis).max(1);
        let own = self
            .sent
            .iter()
            .filter(|s| !Self::left(s, window, now))
            .filter_map(|s| s.answered)
            .map(|a| a + window + WINDOW_SLACK_MS)
            .min();
        let stale = o.at + window + WINDOW_SLACK_MS;
        let stale = (stale > now).then_some(stale);
        match (own, stale) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Forgets requests that have left the window and no longer matter to the last reading
    /// (or every one but the newest thousand, while the CRM sends no headers).
    fn prune(&mut self, now: Millis) {
        let Some(o) = self.observed else {
            while self.sent.len() > 1000 {
                self.sent.pop_front();
            }
            return;
        };
        let window = (o.info.window.as_millis() as Millis).max(1);
        let fresh = now < o.at + window + WINDOW_SLACK_MS;
        self.sent.retain(|s| {
            !Self::left(s, window, now) || (fresh && s.seq <= o.seq && s.sent + window > o.at)
        });
    }

    /// Takes a place for a request at `now` when the window has more room than `margin`;
    /// else says how long to wait before asking again.
    fn take(&mut self, now: Millis, margin: u64) -> Result<u64, Millis> {
        self.prune(now);
        if self.room(now).is_none_or(|r| r > margin as i64) {
            self.next_seq += 1;
            self.sent.push_back(Sent {
                seq: self.next_seq,
                sent: now,
                answered: None,
            });
            return Ok(self.next_seq);
        }
        // Nothing of this client's will leave the window before its answer: look again a
        // little later.
        let poll = self
            .observed
            .map_or(100, |o| {
                o.info.window.as_millis() as Millis / o.info.max.max(1) as Millis
            })
            .max(1);
        let until = self.next_room(now).unwrap_or(now + poll);
        Err((until - now).max(1))
    }

    /// Request `seq` was answered (or failed) at `now`, with `info` in its headers.
    fn settle(&mut self, seq: u64, now: Millis, info: Option<RateInfo>) {
        if let Some(s) = self.sent.iter_mut().find(|s| s.seq == seq) {
            s.answered = Some(now);
        }
        if let Some(info) = info
            && self.observed.is_none_or(|o| o.seq <= seq)
        {
            self.observed = Some(Observed { seq, at: now, info });
        }
    }
}

#[derive(Debug, Default)]
struct PacerState {
    general: WindowState,
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
    /// A failure no retry can cure (the server's certificate is not trusted).
    Fail(String),
}

impl HttpClient {
    pub fn new(
        ctx: ProviderContext,
        default_base_url: &str,
        hooks: CrmHooks,
        options: HttpOptions,
    ) -> Result<HttpClient, ProviderError> {
        if let Some(url) = &ctx.base_url {
            check_base_url(url).map_err(|m| {
                ProviderError::Other(format!("connection `{}`: `base_url` {m}", ctx.connection))
            })?;
        }
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

    /// The CRM's message from an error body, else a summary of the body (its first line of
    /// text, shortened; the text of an HTML page, never its markup).
    pub fn error_text(&self, body: &str) -> String {
        (self.hooks.error_message)(body)
            .or_else(|| summarise_body(body))
            .unwrap_or_else(|| "no message".to_string())
    }

    /// What an error answer says: the CRM's message, or, for a body that is not the CRM's
    /// error JSON (a proxy's HTML page), the status's reason and a summary of the body. The
    /// status itself is said once, by the error that carries it.
    fn describe(&self, status: u16, body: &str) -> String {
        if let Some(message) = (self.hooks.error_message)(body) {
            return message;
        }
        let reason = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no reason given");
        match summarise_body(body) {
            Some(summary) => format!("{reason}, {summary}"),
            None => format!("{reason}, with an empty body"),
        }
    }

    /// The error for a final non-success response.
    pub fn api_error(&self, req: &Request, resp: &Response) -> ProviderError {
        let mut message = self.describe(resp.status, &resp.body);
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
            let token = self.current_token().await?;
            let ticket = self.pace(req.lane).await;
            match self.attempt(&req, &token, ticket).await {
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
                Attempt::Fail(why) => {
                    return Err(ProviderError::Network {
                        crm: self.hooks.name,
                        connection: self.ctx.connection.clone(),
                        message: why,
                    });
                }
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
                        status,
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
            message: format!(
                "{}: {}",
                resp.status,
                self.describe(resp.status, &resp.body)
            ),
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

    /// One attempt of `req`. `ticket` is its place on the general lane, settled here once the
    /// answer (or the failure) is in.
    async fn attempt(&self, req: &Request, token: &str, ticket: Option<u64>) -> Attempt {
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
        let call = format!("{} {}", req.method.as_reqwest(), req.path);
        let started = std::time::Instant::now();
        let exchange = async {
            let resp = builder.send().await?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.text().await;
            Ok::<_, reqwest::Error>((status, headers, body))
        };
        let result = self.watch(&call, exchange).await;
        let (status, headers, body) = match result {
            Ok((status, headers, Ok(body))) => (status, headers, body),
            Ok((_, headers, Err(e))) => {
                self.settle(ticket, (self.hooks.rate_info)(&headers));
                let why = self.failure(&call, &e, "reading the answer to");
                return Attempt::Retry {
                    wait: None,
                    why,
                    status: None,
                };
            }
            Err(e) => {
                self.settle(ticket, None);
                if let Some(why) = untrusted_certificate(&e, &self.base_url) {
                    tracing::debug!(call, "{why}");
                    return Attempt::Fail(why);
                }
                let why = self.failure(&call, &e, "");
                tracing::debug!(call, "{why}");
                return Attempt::Retry {
                    wait: None,
                    why,
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
        self.settle(ticket, (self.hooks.rate_info)(&headers));
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
                why: self.describe(status, &body),
                status: Some(status),
            };
        }
        Attempt::Done(Response {
            status,
            headers,
            body,
        })
    }

    /// Why a request failed without an answer (or with one that could not be read), naming
    /// the timeout setting when it timed out.
    fn failure(&self, call: &str, e: &reqwest::Error, reading: &str) -> String {
        let call = if reading.is_empty() {
            call.to_string()
        } else {
            format!("{reading} {call}")
        };
        if e.is_timeout() {
            format!(
                "{call} got no answer within {} s, the time one request may take (`{TIMEOUT_SETTING}` in the config)",
                self.options.timeout.as_secs_f64()
            )
        } else {
            format!("{call} failed: {}", with_root_cause(e))
        }
    }

    /// Runs `exchange` (one request and its answer), keeping it in [`waiting`] meanwhile and
    /// logging at info level, every [`HttpOptions::slow_notice`], which call is still
    /// waiting.
    async fn watch<T>(&self, call: &str, exchange: impl Future<Output = T>) -> T {
        let _entry = WaitingEntry::new(Waiting {
            crm: self.hooks.name,
            connection: self.ctx.connection.clone(),
            call: call.to_string(),
            since: std::time::Instant::now(),
            timeout: self.options.timeout,
        });
        let notice = self.options.slow_notice.max(Duration::from_millis(1));
        let mut waited = Duration::ZERO;
        tokio::pin!(exchange);
        loop {
            tokio::select! {
                out = &mut exchange => return out,
                () = tokio::time::sleep(notice) => {
                    waited += notice;
                    tracing::info!(
                        "{} (connection `{}`): still waiting for an answer to {call} after {:.1} s; it times out after {} s (`{TIMEOUT_SETTING}`)",
                        self.hooks.name,
                        self.ctx.connection,
                        waited.as_secs_f64(),
                        self.options.timeout.as_secs_f64(),
                    );
                }
            }
        }
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

    /// Settles a general-lane request once its answer is in (or it failed): from now on it
    /// leaves the CRM's window a window later, and the rate-limit headers of its answer, when
    /// they are the newest, are what the pacer goes by.
    fn settle(&self, ticket: Option<u64>, info: Option<RateInfo>) {
        let Some(seq) = ticket else { return };
        let mut state = self.pacer.lock().expect("pacer lock");
        let now = self.now(&state);
        state.general.settle(seq, now, info);
    }

    /// Waits until `lane` may send and returns the request's place on the general lane.
    ///
    /// The general lane sends at once while the CRM's window has more room than
    /// [`HttpOptions::rate_margin`] (a rolling window serves a burst as well as an even
    /// rate, so a short job is done at once and a long one fills each window), and waits only
    /// when it has not, until the room grows (see [`WindowState::room`]). The search lane keeps
    /// its fixed rate.
    async fn pace(&self, lane: Lane) -> Option<u64> {
        if lane == Lane::Search {
            self.pace_search().await;
            return None;
        }
        loop {
            let wait = {
                let mut state = self.pacer.lock().expect("pacer lock");
                let now = self.now(&state);
                match state.general.take(now, self.options.rate_margin) {
                    Ok(seq) => return Some(seq),
                    Err(wait) => wait,
                }
            };
            tracing::debug!(
                wait_ms = wait,
                margin = self.options.rate_margin,
                "the rate-limit window is full"
            );
            self.wait(WaitReason::Pacing, Duration::from_millis(wait as u64))
                .await;
        }
    }

    async fn pace_search(&self) {
        let wait = {
            let mut state = self.pacer.lock().expect("pacer lock");
            let now = self.now(&state);
            // 5% under the CRM's rate: at exactly the limit, a little jitter puts one search
            // too many in some second, and its 429 costs a second's wait.
            let interval = 1000 * 105 / (100 * Millis::from(self.options.search_per_second.max(1)));
            let lane = &mut state.search;
            lane.interval = interval;
            let wait = match lane.last_start {
                Some(last) => (last + lane.interval - now).max(0),
                None => 0,
            };
            lane.last_start = Some(now + wait);
            wait
        };
        if wait > 0 {
            self.wait(WaitReason::SearchRate, Duration::from_millis(wait as u64))
                .await;
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

/// A request waiting for its answer right now, as [`waiting`] lists it.
#[derive(Debug, Clone)]
pub struct Waiting {
    /// The CRM's name as people write it.
    pub crm: &'static str,
    pub connection: String,
    /// The method and path (`POST /crm/v3/objects/contacts/search`).
    pub call: String,
    pub since: std::time::Instant,
    /// When it gives up.
    pub timeout: Duration,
}

static WAITING: Mutex<Vec<(u64, Waiting)>> = Mutex::new(Vec::new());
static WAITING_IDS: AtomicU64 = AtomicU64::new(0);

/// The requests of this process waiting for their answers, longest-waiting first (for a
/// progress display to say what a run is waiting for).
pub fn waiting() -> Vec<Waiting> {
    let list = WAITING.lock().unwrap_or_else(|e| e.into_inner());
    let mut out: Vec<Waiting> = list.iter().map(|(_, w)| w.clone()).collect();
    out.sort_by_key(|w| w.since);
    out
}

/// An entry of [`waiting`], removed when dropped.
struct WaitingEntry(u64);

impl WaitingEntry {
    fn new(w: Waiting) -> WaitingEntry {
        let id = WAITING_IDS.fetch_add(1, Ordering::Relaxed);
        WAITING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, w));
        WaitingEntry(id)
    }
}

impl Drop for WaitingEntry {
    fn drop(&mut self) {
        WAITING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(id, _)| *id != self.0);
    }
}

/// The longest part of a body quoted in a message.
const QUOTE_CHARS: usize = 160;

/// A short description of a body that is not the CRM's error JSON: an HTML page's title (or
/// else the start of its text), or the first line of other text, cut to a readable length;
/// `None` for an empty body.
pub fn summarise_body(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let html = body.starts_with('<')
        && body[..body.len().min(512)]
            .to_ascii_lowercase()
            .contains("<html")
        || body[..body.len().min(64)]
            .to_ascii_lowercase()
            .starts_with("<!doctype html");
    if html {
        let text = html_text(body);
        return Some(if text.is_empty() {
            "an HTML page with no text".to_string()
        } else {
            format!("an HTML page saying \u{201c}{}\u{201d}", cut(&text))
        });
    }
    let line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let more = if body.lines().filter(|l| !l.trim().is_empty()).count() > 1 {
        " (first line)"
    } else {
        ""
    };
    Some(format!("\u{201c}{}\u{201d}{more}", cut(line)))
}

/// `text` cut to [`QUOTE_CHARS`] characters, with `…` when cut.
fn cut(text: &str) -> String {
    let mut out: String = text.chars().take(QUOTE_CHARS).collect();
    if text.chars().count() > QUOTE_CHARS {
        out.push('\u{2026}');
    }
    out
}

/// The title of an HTML page, or else its visible text, white space collapsed.
fn html_text(page: &str) -> String {
    let lower = page.to_ascii_lowercase();
    if let Some(start) = lower.find("<title")
        && let Some(open_end) = lower[start..].find('>')
        && let Some(close) = lower[start..].find("</title")
    {
        let title = collapse(&strip_tags(&page[start + open_end + 1..start + close]));
        if !title.is_empty() {
            return title;
        }
    }
    let body = match lower.find("<body") {
        Some(i) => &page[i..],
        None => page,
    };
    collapse(&strip_tags(body))
}

/// `html` without its tags, scripts and styles, the common entities decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        rest = &rest[lt..];
        let lower = rest[..rest.len().min(8)].to_ascii_lowercase();
        let skip_to = if lower.starts_with("<script") {
            Some("</script")
        } else if lower.starts_with("<style") {
            Some("</style")
        } else {
            None
        };
        if let Some(end_tag) = skip_to
            && let Some(end) = rest.to_ascii_lowercase().find(end_tag)
        {
            rest = &rest[end..];
        }
        match rest.find('>') {
            Some(gt) => rest = &rest[gt + 1..],
            None => rest = "",
        }
        out.push(' ');
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// When `e` failed because the server's TLS certificate did not verify: a message saying so
/// in words, naming the host. Such a failure is permanent: no retry makes the certificate
/// trusted, and nothing (no token) was sent.
fn untrusted_certificate(e: &(dyn std::error::Error + 'static), base_url: &str) -> Option<String> {
    let mut next = Some(e);
    let mut found = None;
    while let Some(err) = next {
        if let Some(tls) = tls_error(err) {
            found = Some(tls.clone());
            break;
        }
        next = err.source();
    }
    let why = match found? {
        rustls::Error::InvalidCertificate(c) => certificate_problem(&c),
        rustls::Error::InvalidCertRevocationList(_) => {
            "its revocation list could not be checked".to_string()
        }
        _ => return None,
    };
    let host = url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| base_url.to_string());
    Some(format!(
        "the server's certificate for {host} is not trusted ({why}), so nothing was sent to \
         it (not retried: a retry cannot make it trusted); check `base_url`, or, behind a \
         proxy that inspects TLS, add the proxy's certificate authority to the system's \
         trusted certificates"
    ))
}

/// The TLS error `e` is, or wraps as an I/O error: an I/O error shows the error it wraps but
/// does not list it as its source, and the TLS stack wraps its errors in I/O errors twice.
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    tls_error(inner)
}

/// What is wrong with a certificate, in words.
fn certificate_problem(c: &rustls::CertificateError) -> String {
    use rustls::CertificateError as E;
    match c {
        E::UnknownIssuer => {
            "it is not signed by an authority this computer trusts; a self-signed certificate is not".into()
        }
        E::Expired | E::ExpiredContext { .. } => "it has expired".into(),
        E::NotValidYet | E::NotValidYetContext { .. } => "it is not valid yet".into(),
        E::NotValidForName | E::NotValidForNameContext { .. } => {
            "it was issued for another host name".into()
        }
        E::Revoked => "it has been revoked".into(),
        E::BadSignature | E::BadEncoding => "it is malformed or its signature is wrong".into(),
        E::InvalidPurpose | E::InvalidPurposeContext { .. } => {
            "it is not meant for a web server".into()
        }
        E::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            "it is a certificate authority's own certificate, used by the server as its \
             certificate, as self-signed certificates often are"
                .into()
        }
        other => format!("{other}"),
    }
}

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

    /// A rolling window as HubSpot keeps one: at most `max` requests in any `window` ms; a
    /// request over it is refused (429) and not counted.
    struct RollingCrm {
        max: u64,
        window: Millis,
        hits: VecDeque<Millis>,
    }

    impl RollingCrm {
        fn new(max: u64, window: Millis) -> RollingCrm {
            RollingCrm {
                max,
                window,
                hits: VecDeque::new(),
            }
        }

        /// Counts a request at `at`: the room left after it, or `None` for a 429.
        fn hit(&mut self, at: Millis) -> Option<u64> {
            while self.hits.front().is_some_and(|h| h + self.window <= at) {
                self.hits.pop_front();
            }
            if self.hits.len() as u64 >= self.max {
                return None;
            }
            self.hits.push_back(at);
            Some(self.max - self.hits.len() as u64)
        }
    }

    /// Sends `n` requests one after the other through the pacer against `crm`, each taking
    /// `latency` ms (counted by the CRM half-way); returns when the last was answered and how
    /// many were refused.
    fn drive(crm: &mut RollingCrm, n: usize, margin: u64, latency: Millis) -> (Millis, usize) {
        let mut lane = WindowState::default();
        let (mut now, mut refused) = (0, 0);
        for _ in 0..n {
            let seq = loop {
                match lane.take(now, margin) {
                    Ok(seq) => break seq,
                    Err(wait) => now += wait,
                }
            };
            let remaining = crm.hit(now + latency / 2);
            now += latency;
            refused += usize::from(remaining.is_none());
            let info = RateInfo {
                max: crm.max,
                remaining: remaining.unwrap_or(0),
                window: Duration::from_millis(crm.window as u64),
            };
            lane.settle(seq, now, Some(info));
        }
        (now, refused)
    }

    #[test]
    fn a_job_within_the_window_goes_out_back_to_back() {
        let mut crm = RollingCrm::new(100, 10_000);
        assert_eq!(drive(&mut crm, 97, 3, 10), (970, 0));
    }

    #[test]
    fn a_long_job_fills_each_window_and_waits_only_for_the_oldest_to_leave() {
        // 250 requests of 10 ms at 100 per 10 s: 100 at once, then a window's wait for each
        // further 100, which is the best a rolling window allows; none refused.
        let mut crm = RollingCrm::new(100, 10_000);
        let (end, refused) = drive(&mut crm, 250, 0, 10);
        assert_eq!(refused, 0);
        assert!((20_000..=20_000 + 60 * 10 + 10).contains(&end), "{end}");
        // With 3 kept free, each window takes 97.
        let mut crm = RollingCrm::new(100, 10_000);
        let (end, refused) = drive(&mut crm, 250, 3, 10);
        assert_eq!(refused, 0);
        assert!((20_000..=20_000 + 60 * 10 + 10).contains(&end), "{end}");
        let mut crm = RollingCrm::new(100, 10_000);
        let (end, refused) = drive(&mut crm, 300, 3, 10);
        assert_eq!(refused, 0);
        assert!((30_000..=30_000 + 200).contains(&end), "{end}");
    }

    #[test]
    fn requests_of_others_in_the_window_are_left_room_for() {
        // Another process of the same app sent 40 just before: the window's headers say so,
        // and the pacer waits for them to leave rather than running into 429s.
        let mut crm = RollingCrm::new(100, 10_000);
        for _ in 0..40 {
            crm.hit(0);
        }
        let (end, refused) = drive(&mut crm, 120, 0, 10);
        assert_eq!(refused, 0);
        assert!(end >= 10_000, "{end}");
    }

    #[test]
    fn install_twice_is_harmless() {
        install_crypto_provider();
        install_crypto_provider();
    }
}
