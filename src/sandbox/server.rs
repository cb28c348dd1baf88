//! The core every sandbox runs on, whatever CRM it imitates: start and stop on a loopback
//! port, the request pipeline, the request log, the clock and the fault injector.
//!
//! A CRM plugs in through [`CrmApi`]: its routes, which of its calls are writes, how it
//! answers a fault, a rate limit or an unknown route, and its own admin calls. The core owns
//! the order every request goes through:
//!
//! 1. admin prefix ([`ADMIN_PREFIX`]) → the admin API
//!    ([`crate::sandbox::admin`]): no auth, no faults, not logged;
//! 2. [`CrmApi::fault_free`] calls (a browser step) → routed and logged, and dated as in 5;
//! 3. [`CrmApi::before_call`] (users' edits queued for this call), then the seeded fault:
//!    dropped connection, delay, or an injected 429/5xx in the CRM's own shape;
//! 4. otherwise [`CrmApi::route`] (authentication and the CRM's rate limits are part of its
//!    routing), and [`CrmApi::not_found`] when no route matches;
//! 5. the call is logged, and the answer carries the sandbox clock's `Date`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::sandbox::base::unpoisoned;
pub use crate::sandbox::base::{Core, CrmApi, Limit, LoggedRequest};
use crate::sandbox::fault::{Fault, FaultOptions};
use crate::sandbox::http::{HttpRequest, HttpResponse, HttpServer, Outcome};
use crate::sandbox::{ADMIN_PREFIX, admin, http_date};

fn route<A: CrmApi>(core: &Core<A>, req: &HttpRequest) -> HttpResponse {
    A::route(core, req).unwrap_or_else(|| A::not_found(req))
}

/// The request pipeline (see the module docs).
fn handle<A: CrmApi>(core: &Core<A>, req: HttpRequest) -> Outcome {
    if req.path == ADMIN_PREFIX || req.path.starts_with(&format!("{ADMIN_PREFIX}/")) {
        return Outcome::Respond(admin::handle(core, &req));
    }
    if A::fault_free(&req) {
        let resp = route(core, &req);
        core.log(&req, resp.status);
        return Outcome::Respond(resp.with_header("Date", http_date(core.clock.now_ms())));
    }
    A::before_call(core, &req);
    let (fault, delay) = unpoisoned(&core.faults).decide(A::is_write(&req));
    if delay > 0 {
        std::thread::sleep(Duration::from_millis(delay));
    }
    let resp = match fault {
        Fault::Drop => {
            core.log(&req, 0);
            return Outcome::Drop;
        }
        Fault::Status(429) => A::rate_limited(Limit::Burst).with_header("Retry-After", "1"),
        Fault::Status(status) => A::server_error(status),
        Fault::None => route(core, &req),
    };
    core.log(&req, resp.status);
    Outcome::Respond(resp.with_header("Date", http_date(core.clock.now_ms())))
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
        let http = HttpServer::start(port, Arc::new(move |req| handle(&handler_core, req)))
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

    /// The core, for a background thread that must end with the sandbox (webhook delivery).
    pub(crate) fn weak_core(&self) -> std::sync::Weak<Core<A>> {
        Arc::downgrade(&self.core)
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
    use crate::sandbox::SandboxClock;
    use crate::sandbox::fault::FaultInjector;
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
