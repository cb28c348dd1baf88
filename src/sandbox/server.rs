//! The core every sandbox runs on, whatever CRM it imitates: start and stop on a loopback
//! port, the request pipeline, the request log, the clock and the fault injector.
//!
//! A CRM plugs in through [`CrmApi`]: its routes, which of its calls are writes, how it
//! answers a fault, a rate limit or an unknown route, and its own admin calls. The core owns
//! the order every request goes through:
//!
//! 1. admin prefix ([`ADMIN_PREFIX`]) → the admin API
//!    ([`crate::sandbox::admin`]): no auth, no faults, not logged;
//! 2. [`CrmApi::fault_free`] calls (a browser step) → routed and logged, nothing else;
//! 3. [`CrmApi::before_call`] (users' edits queued for this call), then the seeded fault:
//!    dropped connection, delay, or an injected 429/5xx in the CRM's own shape;
//! 4. otherwise [`CrmApi::route`] (authentication and the CRM's rate limits are part of its
//!    routing), and [`CrmApi::not_found`] when no route matches;
//! 5. the call is logged, and the answer carries the sandbox clock's `Date`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use crate::sandbox::fault::{Fault, FaultInjector, FaultOptions};
use crate::sandbox::http::{HttpRequest, HttpResponse, HttpServer, Outcome};
use crate::sandbox::{ADMIN_PREFIX, SandboxClock, admin, http_date, iso_ms};

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
}

/// What one running sandbox holds: the CRM's state and the shared parts.
pub struct Core<A> {
    pub api: A,
    pub clock: SandboxClock,
    log: Mutex<Vec<LoggedRequest>>,
    faults: Mutex<FaultInjector>,
}

fn unpoisoned<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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

    fn log(&self, req: &HttpRequest, status: u16) {
        let time = iso_ms(self.clock.now_ms());
        let body = (A::logs_body(req) && !req.body.is_empty())
            .then(|| String::from_utf8_lossy(&req.body).into_owned());
        unpoisoned(&self.log).push(LoggedRequest {
            method: req.method.clone(),
            path: req.target.clone(),
            status,
            time,
            body,
        });
    }

    fn route(&self, req: &HttpRequest) -> HttpResponse {
        A::route(self, req).unwrap_or_else(|| A::not_found(req))
    }

    /// The request pipeline (see the module docs).
    fn handle(&self, req: HttpRequest) -> Outcome {
        if req.path == ADMIN_PREFIX || req.path.starts_with(&format!("{ADMIN_PREFIX}/")) {
            return Outcome::Respond(admin::handle(self, &req));
        }
        if A::fault_free(&req) {
            let resp = self.route(&req);
            self.log(&req, resp.status);
            return Outcome::Respond(resp);
        }
        A::before_call(self, &req);
        let (fault, delay) = unpoisoned(&self.faults).decide(A::is_write(&req));
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let resp = match fault {
            Fault::Drop => {
                self.log(&req, 0);
                return Outcome::Drop;
            }
            Fault::Status(429) => A::rate_limited(Limit::Burst).with_header("Retry-After", "1"),
            Fault::Status(status) => A::server_error(status),
            Fault::None => self.route(&req),
        };
        self.log(&req, resp.status);
        Outcome::Respond(resp.with_header("Date", http_date(self.clock.now_ms())))
    }
}

/// A running sandbox of one CRM on 127.0.0.1; stops on [`SandboxServer::stop`] or drop.
pub struct SandboxServer<A: CrmApi> {
    core: Arc<Core<A>>,
    http: HttpServer,
}

impl<A: CrmApi> SandboxServer<A> {
    /// Serves `core` on `127.0.0.1:port` (0 picks a free port) in background threads.
    pub fn serve(core: Core<A>, port: u16) -> anyhow::Result<Self> {
        let core = Arc::new(core);
        let handler_core = Arc::clone(&core);
        let http = HttpServer::start(port, Arc::new(move |req| handler_core.handle(req)))
            .with_context(|| {
                format!(
                    "could not start the {} sandbox on 127.0.0.1:{port}; pick another port or use 0",
                    A::NAME
                )
            })?;
        Ok(SandboxServer { core, http })
    }

    pub(crate) fn core(&self) -> &Core<A> {
        &self.core
    }

    /// `http://127.0.0.1:<port>`; use it where a client would use the CRM's API host.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.http.addr())
    }

    /// Where the admin HTTP API is served (`{base_url}/_sandbox`).
    pub fn admin_url(&self) -> String {
        format!("{}{ADMIN_PREFIX}", self.base_url())
    }

    pub fn port(&self) -> u16 {
        self.http.addr().port()
    }

    /// Stops serving. Also happens on drop.
    pub fn stop(mut self) {
        self.http.stop();
    }

    /// Blocks the calling thread until `stop` returns true, checking every 100 ms; for
    /// `crmsync sandbox serve`, which passes a Ctrl-C flag.
    pub fn run_until(&self, stop: impl Fn() -> bool) {
        while !stop() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.core.request_log()
    }

    pub fn clear_request_log(&self) {
        self.core.clear_request_log();
    }

    /// The sandbox clock, epoch ms.
    pub fn now_ms(&self) -> i64 {
        self.core.clock.now_ms()
    }

    pub fn set_clock_ms(&self, ms: i64) {
        self.core.clock.set_ms(ms);
    }

    pub fn advance_clock(&self, by: Duration) {
        self.core.clock.advance_ms(by.as_millis() as i64);
    }

    /// Stops the clock where it is (`true`), or lets it run on from there (`false`).
    pub fn freeze_clock(&self, frozen: bool) {
        self.core.clock.freeze(frozen);
    }

    /// Replaces the fault settings and restarts the write counter.
    pub fn set_faults(&self, faults: FaultOptions) {
        self.core.set_faults(faults);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;

    /// A CRM of one route, `GET /ping`, whose writes are every POST.
    struct Ping;

    impl CrmApi for Ping {
        const NAME: &'static str = "Ping";

        fn route(_core: &Core<Self>, req: &HttpRequest) -> Option<HttpResponse> {
            (req.method == "GET" && req.path == "/ping").then(|| HttpResponse::empty(204))
        }

        fn is_write(req: &HttpRequest) -> bool {
            req.method == "POST"
        }

        fn logs_body(_req: &HttpRequest) -> bool {
            true
        }

        fn rate_limited(_limit: Limit) -> HttpResponse {
            HttpResponse::empty(429)
        }

        fn server_error(status: u16) -> HttpResponse {
            HttpResponse::empty(status)
        }

        fn not_found(_req: &HttpRequest) -> HttpResponse {
            HttpResponse::empty(418)
        }

        fn admin(_core: &Core<Self>, req: &HttpRequest, segs: &[&str]) -> Option<HttpResponse> {
            (req.method == "GET" && segs == ["hello"]).then(|| HttpResponse::empty(200))
        }
    }

    fn status(sandbox: &SandboxServer<Ping>, method: &str, path: &str) -> u16 {
        let mut s = TcpStream::connect(("127.0.0.1", sandbox.port())).unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{{}}"
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = String::new();
        let _ = s.read_to_string(&mut raw);
        raw.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    #[test]
    fn the_core_serves_any_crm_through_its_api_admin_faults_and_log() {
        let faults = FaultOptions {
            fail_after_writes: Some(1),
            ..FaultOptions::default()
        };
        let core = Core::new(Ping, SandboxClock::default(), FaultInjector::new(faults, 7));
        let sandbox = SandboxServer::serve(core, 0).unwrap();
        assert_eq!(status(&sandbox, "GET", "/ping"), 204);
        assert_eq!(
            status(&sandbox, "GET", "/nowhere"),
            418,
            "the CRM's own 404"
        );
        assert_eq!(status(&sandbox, "POST", "/nowhere"), 418, "the first write");
        assert_eq!(
            status(&sandbox, "POST", "/nowhere"),
            503,
            "writes after the first fail"
        );
        assert_eq!(
            status(&sandbox, "GET", "/_sandbox/hello"),
            200,
            "the CRM's admin"
        );
        assert_eq!(
            status(&sandbox, "GET", "/_sandbox/clock"),
            200,
            "the shared admin"
        );
        assert_eq!(status(&sandbox, "GET", "/_sandbox/nothing"), 404);
        let log = sandbox.request_log();
        let seen: Vec<(&str, &str, u16)> = log
            .iter()
            .map(|r| (r.method.as_str(), r.path.as_str(), r.status))
            .collect();
        assert_eq!(
            seen,
            [
                ("GET", "/ping", 204),
                ("GET", "/nowhere", 418),
                ("POST", "/nowhere", 418),
                ("POST", "/nowhere", 503),
            ],
            "API calls are logged, admin calls are not"
        );
        assert_eq!(log[2].body.as_deref(), Some("{}"));
    }
}
