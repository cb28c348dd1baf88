//! What every sandbox holds, whatever CRM it imitates: the CRM's API as the core sees it
//! ([`CrmApi`]), the request log, the clock and the fault injector ([`Core`]). The pipeline
//! that runs each request through them is in [`crate::sandbox::server`].

use std::sync::{Mutex, MutexGuard};

use serde::Serialize;

use crate::sandbox::SandboxClock;
use crate::sandbox::fault::{FaultInjector, FaultOptions};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::iso_ms;

/// Which of a CRM's rate limits a call ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The short rolling window every call counts against (HubSpot's ten-secondly one); an
    /// injected 429 fault answers as this one.
    Burst,
    /// A per-second limit on one kind of call (HubSpot's search).
    PerSecond,
    /// A budget counted from start.
    Daily,
}

/// What one CRM's sandbox brings to the shared core. `Core<Self>` is passed in where state is
/// needed: the CRM's own state is `core.api`.
pub trait CrmApi: Send + Sync + Sized + 'static {
    /// The CRM's name, as messages show it (`HubSpot`).
    const NAME: &'static str;

    /// Serves an API call that drew no fault; `None` when no route matches it.
    fn route(core: &Core<Self>, req: &HttpRequest) -> Option<HttpResponse>;

    /// Whether a call changes state, for `fail_after_writes`.
    fn is_write(req: &HttpRequest) -> bool;

    /// Calls served without faults: steps a browser takes rather than API calls.
    fn fault_free(_req: &HttpRequest) -> bool {
        false
    }

    /// Whether the request log keeps this call's body (never for bodies carrying secrets).
    fn logs_body(req: &HttpRequest) -> bool;

    /// The name the calling client gives itself on this call, for the request log (Salesforce's
    /// `Sforce-Call-Options: client=…`); `None` where the CRM has no such header.
    fn call_client(_req: &HttpRequest) -> Option<String> {
        None
    }

    /// Runs before a call's fault is drawn.
    fn before_call(_core: &Core<Self>, _req: &HttpRequest) {}

    /// The answer to a call over one of the CRM's rate limits.
    fn rate_limited(limit: Limit) -> HttpResponse;

    /// The answer to an injected server failure (500, 502 or 503).
    fn server_error(status: u16) -> HttpResponse;

    /// The answer to a call no route serves.
    fn not_found(req: &HttpRequest) -> HttpResponse;

    /// The CRM's own admin calls (`segs` are the path segments after the admin prefix);
    /// `None` when none matches.
    fn admin(core: &Core<Self>, req: &HttpRequest, segs: &[&str]) -> Option<HttpResponse>;
}

/// A user's edit queued to land just before the `nth` API call (counted from when it is
/// queued) whose method is `method` and whose path and query contain `path_contains`.
pub trait QueuedEdit: Clone {
    /// `(method, path_contains, nth)`.
    fn trigger(&mut self) -> (&str, &str, &mut u32);
}

/// Counts `req` against the queued edits it matches, and takes out the ones now due.
pub fn due_before<E: QueuedEdit>(queue: &mut Vec<E>, req: &HttpRequest) -> Vec<E> {
    let mut due = Vec::new();
    queue.retain_mut(|e| {
        let (method, path, nth) = e.trigger();
        if !method.eq_ignore_ascii_case(&req.method) || !req.target.contains(path) {
            return true;
        }
        *nth = nth.saturating_sub(1);
        if *nth > 0 {
            return true;
        }
        due.push(e.clone());
        false
    });
    due
}

/// One API call as the sandbox saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedRequest {
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    /// 0 when the connection was dropped without an answer.
    pub status: u16,
    /// Sandbox-clock time, ISO 8601.
    pub time: String,
    /// The body, as sent, of a call whose CRM keeps it ([`CrmApi::logs_body`]); `None` for
    /// other calls and empty bodies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The client the call named itself as ([`CrmApi::call_client`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// What one running sandbox holds: the CRM's state and the shared parts.
pub struct Core<A> {
    pub api: A,
    pub clock: SandboxClock,
    log: Mutex<Vec<LoggedRequest>>,
    pub(crate) faults: Mutex<FaultInjector>,
}

pub(crate) fn unpoisoned<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<A: CrmApi> Core<A> {
    pub fn new(api: A, clock: SandboxClock, faults: FaultInjector) -> Self {
        Core {
            api,
            clock,
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(faults),
        }
    }

    pub fn request_log(&self) -> Vec<LoggedRequest> {
        unpoisoned(&self.log).clone()
    }

    pub fn clear_request_log(&self) {
        unpoisoned(&self.log).clear();
    }

    /// Replaces the fault settings and restarts the write counter.
    pub fn set_faults(&self, faults: FaultOptions) {
        unpoisoned(&self.faults).set(faults);
    }

    pub fn fault_options(&self) -> FaultOptions {
        unpoisoned(&self.faults).options().clone()
    }

    pub(crate) fn log(&self, req: &HttpRequest, status: u16) {
        let time = iso_ms(self.clock.now_ms());
        let body = (A::logs_body(req) && !req.body.is_empty())
            .then(|| String::from_utf8_lossy(&req.body).into_owned());
        unpoisoned(&self.log).push(LoggedRequest {
            method: req.method.clone(),
            path: req.target.clone(),
            status,
            time,
            body,
            client: A::call_client(req),
        });
    }
}
