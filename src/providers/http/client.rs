//! The client every provider sends its requests through: one `reqwest::Client` (rustls with
//! ring, redirects off, timeouts), with, around every request, the run's budget, the
//! provider's pacing ([`super::pacing`]), retries ([`super::retry`]) and one token refresh on
//! 401. Requests waiting for their answers are listed by [`waiting`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use super::error::{summarise_body, untrusted_certificate, with_root_cause};
use super::pacing::{Lane, Pacer, PacingPolicy, Ticket, WaitReason};
use super::retry::{self, Attempt};
use super::{HttpOptions, TIMEOUT_SETTING, check_base_url, install_crypto_provider};
use crate::providers::{ProviderContext, ProviderError};

/// The CRM-specific parts the client needs to know.
#[derive(Debug, Clone, Copy)]
pub struct CrmHooks {
    /// The CRM's name as people write it (`Pipedrive`).
    pub name: &'static str,
    /// Extracts the CRM's own message from an error body (falls back to the body text).
    pub error_message: fn(&str) -> Option<String>,
    /// How long to wait before retrying a 429 without `Retry-After`, from its body.
    pub throttle_hint: fn(&str) -> Option<Duration>,
    /// How the token is sent.
    pub auth: AuthScheme,
}

/// How a CRM takes the token.
#[derive(Debug, Clone, Copy)]
pub enum AuthScheme {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// The token as the value of this header.
    Header(&'static str),
    /// The token in `header` when `in_header` says so for it, else as Bearer (Pipedrive: API
    /// tokens in `x-api-token`, OAuth access tokens as Bearer).
    ByToken {
        header: &'static str,
        in_header: fn(&str) -> bool,
    },
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
    /// The method's name, as in a request line.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

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
    /// Headers of the CRM's own sent with this request (an `Accept` here replaces the
    /// default `application/json`).
    pub headers: Vec<(&'static str, String)>,
    pub lane: Lane,
    /// The record the request is about, for error messages.
    pub record: Option<String>,
    /// Whether sending it twice does no harm. A request that is not (a create where the CRM
    /// has no upsert) is retried only when the CRM certainly did not act on it (a 429, a
    /// connection that was never made); after a 5xx or a lost answer the final response or
    /// error is returned, for the provider to find out what became of it before sending again.
    pub repeatable: bool,
    /// The request carries credentials of its own (HubSpot's developer key in `hapikey`):
    /// the connection's token is not sent, and a 401 is its answer, not a token to refresh.
    pub own_credentials: bool,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Request {
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            lane: Lane::General,
            record: None,
            repeatable: true,
            own_credentials: false,
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
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.headers.push((name, value.into()));
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
    /// Marks the request as one that must not be sent twice blindly ([`Request::repeatable`]).
    pub fn not_repeatable(mut self) -> Request {
        self.repeatable = false;
        self
    }
    /// Marks the request as carrying its own credentials ([`Request::own_credentials`]).
    pub fn with_own_credentials(mut self) -> Request {
        self.own_credentials = true;
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

    /// The CRM's clock from the answer's `Date` header, against this machine's `now`:
    /// `(date, skew)`, the header's time and how far the CRM's clock is ahead (negative:
    /// behind). The header has whole seconds, so the CRM's clock was somewhere in the second
    /// after `date`: the skew is taken from the middle of it, and one that second cannot tell
    /// from none counts as none (else every time of a CRM on the same clock would be moved by
    /// up to a second, and `newest-wins` would order edits a moment apart by that error).
    pub fn crm_clock(&self, now: crate::model::Millis) -> Option<(i64, i64)> {
        let date = self
            .headers
            .get(reqwest::header::DATE)?
            .to_str()
            .ok()
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())?
            .timestamp_millis();
        let skew = date + 500 - now;
        Some((date, if skew.abs() < 1000 { 0 } else { skew }))
    }
}

/// How many runtimes' clients are kept (a process runs one; a test binary many).
const POOLED_RUNTIMES: usize = 16;

/// The `reqwest` client of the providers built on this runtime with these timeouts: `listen`
/// builds a run's providers anew for each batch, and its connections to each CRM (their TLS
/// sessions) stay open from one batch to the next instead of being made again for every run.
/// The connections a client pools belong to the runtime that opened them, so each runtime
/// has its own (the [`POOLED_RUNTIMES`] latest).
fn pooled_client(options: &HttpOptions) -> Result<reqwest::Client, ProviderError> {
    type Key = (tokio::runtime::Id, Duration, Duration);
    static POOLED: Mutex<Vec<(Key, reqwest::Client)>> = Mutex::new(Vec::new());
    install_crypto_provider();
    let build = || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("crmsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Other(format!("could not build an HTTP client: {e}")))
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return build();
    };
    let key = (runtime.id(), options.timeout, options.connect_timeout);
    let mut pooled = POOLED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, client)) = pooled.iter().find(|(k, _)| *k == key) {
        return Ok(client.clone());
    }
    let client = build()?;
    if pooled.len() >= POOLED_RUNTIMES {
        pooled.remove(0);
    }
    pooled.push((key, client.clone()));
    Ok(client)
}

/// A CRM client shared by one provider.
pub struct HttpClient {
    client: reqwest::Client,
    base_url: String,
    ctx: ProviderContext,
    hooks: CrmHooks,
    options: HttpOptions,
    sent: AtomicU64,
    pacer: Pacer,
    token: tokio::sync::Mutex<Option<String>>,
}

impl HttpClient {
    pub fn new(
        ctx: ProviderContext,
        default_base_url: &str,
        hooks: CrmHooks,
        pacing: PacingPolicy,
        options: HttpOptions,
    ) -> Result<HttpClient, ProviderError> {
        if let Some(url) = &ctx.base_url {
            check_base_url(url).map_err(|m| {
                ProviderError::Other(format!("connection `{}`: `base_url` {m}", ctx.connection))
            })?;
        }
        let client = pooled_client(&options)?;
        let base_url = ctx
            .base_url
            .clone()
            .unwrap_or_else(|| default_base_url.to_string())
            .trim_end_matches('/')
            .to_string();
        // The CRM's window is per account and token: the connection's clients in this process
        // (one a run, in `listen`) share what they have taken of it.
        let pacer = Pacer::shared(
            pacing,
            options.rate_margin,
            options.no_sleep,
            ctx.clock.clone(),
            &format!("{base_url} {}", ctx.connection),
        );
        Ok(HttpClient {
            client,
            base_url,
            ctx,
            hooks,
            options,
            sent: AtomicU64::new(0),
            pacer,
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
        self.pacer.waits()
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
            let token = if req.own_credentials {
                String::new()
            } else {
                self.current_token().await?
            };
            let cost = self.pacer.daily_cost(req.method.as_str(), &req.path);
            let ticket = self
                .pacer
                .pace_costing(req.lane, cost)
                .await
                .map_err(|spent| ProviderError::DailyLimit {
                    crm: self.hooks.name,
                    connection: self.ctx.connection.clone(),
                    remaining: spent.remaining,
                    reserve: spent.reserve,
                })?;
            match self.attempt(&req, &token, ticket).await {
                Attempt::Done(resp) if resp.status == 401 && !req.own_credentials => {
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
                        return Err(retry::gave_up(
                            self.hooks.name,
                            &self.ctx.connection,
                            req.record.as_deref(),
                            why,
                            status,
                            attempt,
                        ));
                    }
                    let backoff = retry::backoff(
                        self.options.backoff_base,
                        self.options.backoff_cap,
                        attempt,
                    );
                    let wait = wait.map_or(backoff, |w| w.max(Duration::from_millis(1)));
                    tracing::debug!(
                        path = %req.path,
                        attempt,
                        status,
                        wait_ms = wait.as_millis() as u64,
                        "retrying: {why}"
                    );
                    self.pacer.wait(WaitReason::Retry, wait).await;
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

    /// A hash of the base URL and the token sent now (see
    /// [`crate::providers::Provider::credential_key`]); `None` when no token can be had.
    pub async fn credential_key(&self) -> Option<String> {
        use sha2::{Digest, Sha256};
        let token = self.current_token().await.ok()?;
        let digest = Sha256::new()
            .chain_update(self.base_url.as_bytes())
            .chain_update([0])
            .chain_update(token.as_bytes())
            .finalize();
        Some(digest.iter().map(|b| format!("{b:02x}")).collect())
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

    /// One attempt of `req`. `ticket` is its place with the pacer, settled here once the
    /// answer (or the failure) is in.
    async fn attempt(&self, req: &Request, token: &str, ticket: Ticket<'_>) -> Attempt {
        let url = format!("{}{}", self.base_url, req.path);
        let accept = req
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("accept"))
            .map_or("application/json", |(_, v)| v.as_str());
        let mut builder = self
            .client
            .request(req.method.as_reqwest(), &url)
            .header(reqwest::header::ACCEPT, accept);
        for (name, value) in &req.headers {
            if !name.eq_ignore_ascii_case("accept") {
                builder = builder.header(*name, value);
            }
        }
        builder = match self.hooks.auth {
            _ if req.own_credentials => builder,
            AuthScheme::Bearer => builder.bearer_auth(token),
            AuthScheme::Header(name) => builder.header(name, token),
            AuthScheme::ByToken { header, in_header } if in_header(token) => {
                builder.header(header, token)
            }
            AuthScheme::ByToken { .. } => builder.bearer_auth(token),
        };
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
                self.pacer.settle(ticket, Some(&headers));
                let why = self.failure(&call, &e, "reading the answer to");
                if !req.repeatable {
                    return Attempt::Fail(why);
                }
                return Attempt::Retry {
                    wait: None,
                    why,
                    status: None,
                };
            }
            Err(e) => {
                self.pacer.settle(ticket, None);
                if let Some(why) = untrusted_certificate(&e, &self.base_url) {
                    tracing::debug!(call, "{why}");
                    return Attempt::Fail(why);
                }
                let why = self.failure(&call, &e, "");
                tracing::debug!(call, "{why}");
                if !req.repeatable && !e.is_connect() {
                    return Attempt::Fail(why);
                }
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
        self.pacer.settle(ticket, Some(&headers));
        if retry::retried(status) && (req.repeatable || status == 429) {
            return Attempt::Retry {
                wait: retry::asked_wait(status, &headers, &body, self.hooks.throttle_hint),
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
            // reqwest names the URL: without its query, which may carry a key (HubSpot's
            // `hapikey`).
            let mut text = with_root_cause(e);
            if let Some(url) = e.url().filter(|u| u.query().is_some()) {
                let mut bare = url.clone();
                bare.set_query(None);
                text = text.replace(url.as_str(), bare.as_str());
            }
            format!("{call} failed: {text}")
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
}

/// Shared handle.
pub type SharedClient = Arc<HttpClient>;

/// A request waiting for its answer right now, as [`waiting`] lists it.
#[derive(Debug, Clone)]
pub struct Waiting {
    /// The CRM's name as people write it.
    pub crm: &'static str,
    pub connection: String,
    /// The method and path (`POST /v1/persons/search`).
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
