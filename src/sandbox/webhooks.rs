//! Webhook delivery, shared by the sandboxes: a background thread per sandbox takes the
//! deliveries its CRM module made of the writes since it last looked, POSTs them, and tries a
//! failed one again on the CRM's schedule. Which events, their bodies, headers and schedule
//! are each CRM's own (`hubspot/webhooks.rs`, `pipedrive/webhooks.rs`); this layer only sends.
//!
//! A delivery fails on a non-2xx answer, a refused connection or no answer within the timeout
//! (Pipedrive's 10 s).

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Weak;
use std::time::{Duration, Instant};

use crate::sandbox::server::{Core, CrmApi};

/// How long a delivery may take before it counts as failed.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How often the thread looks for new deliveries.
const TICK: Duration = Duration::from_millis(10);

/// Builds attempt `n` (1-based) at sandbox time `now_ms`: headers and body.
pub type Build = Box<dyn Fn(u32, i64) -> (Vec<(String, String)>, Vec<u8>) + Send>;
/// Told each attempt's number and answer (`None`: no answer).
pub type OnResult = Box<dyn Fn(u32, Option<u16>) + Send>;

/// One delivery to make.
pub struct Outgoing {
    pub url: String,
    pub build: Build,
    /// The waits before the retries: one entry per retry.
    pub retries: Vec<Duration>,
    pub on_result: OnResult,
    /// Whether the delivery is given up before its next attempt (a webhook banned since its
    /// first attempt sends nothing more); `None`: never.
    pub given_up: Option<Box<dyn Fn() -> bool + Send>>,
}

/// A CRM whose sandbox delivers webhooks.
pub trait Deliveries: CrmApi {
    /// The deliveries of the writes since the last call.
    fn take_deliveries(core: &Core<Self>) -> Vec<Outgoing>;
}

struct Pending {
    due: Instant,
    attempt: u32,
    out: Outgoing,
}

/// Starts the delivery thread of a sandbox; it ends when the sandbox is dropped.
pub fn spawn<A: Deliveries>(core: Weak<Core<A>>) {
    std::thread::Builder::new()
        .name(format!("{} webhooks", A::NAME))
        .spawn(move || {
            let mut pending: Vec<Pending> = Vec::new();
            loop {
                std::thread::sleep(TICK);
                let Some(core) = core.upgrade() else { return };
                let now = Instant::now();
                pending.extend(A::take_deliveries(&core).into_iter().map(|out| Pending {
                    due: now,
                    attempt: 1,
                    out,
                }));
                let (due, later): (Vec<Pending>, Vec<Pending>) =
                    pending.drain(..).partition(|p| p.due <= now);
                pending = later;
                for p in due {
                    if p.out.given_up.as_ref().is_some_and(|f| f()) {
                        continue;
                    }
                    let (headers, body) = (p.out.build)(p.attempt, core.clock.now_ms());
                    let status = post(&p.out.url, &headers, &body, TIMEOUT).ok();
                    (p.out.on_result)(p.attempt, status);
                    let ok = status.is_some_and(|s| (200..300).contains(&s));
                    if !ok && let Some(wait) = p.out.retries.get(p.attempt as usize - 1) {
                        pending.push(Pending {
                            due: Instant::now() + *wait,
                            attempt: p.attempt + 1,
                            out: p.out,
                        });
                    }
                }
            }
        })
        .expect("the webhook thread starts");
}

/// POSTs `body` to an `http://` URL; returns the answer's status.
pub fn post(
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<u16, String> {
    let u = url::Url::parse(url).map_err(|e| e.to_string())?;
    if u.scheme() != "http" {
        return Err(format!("the sandbox delivers to http:// only, not `{url}`"));
    }
    let host = u.host_str().ok_or("no host")?;
    let port = u.port_or_known_default().unwrap_or(80);
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let target = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    let mut head = format!(
        "POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())
        .and_then(|_| s.write_all(body))
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    // The status line is enough; the rest is read (to the close) so the server is not reset.
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if answer.is_empty() => return Err(e.to_string()),
            Err(_) => break,
        }
        if answer.len() > 64 * 1024 {
            break;
        }
    }
    let line = String::from_utf8_lossy(&answer);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "no status line".to_string())
}

/// Scales a duration (the sandboxes' compressible schedules).
pub fn scaled(secs: f64, scale: f64) -> Duration {
    Duration::from_secs_f64((secs * scale).max(0.0))
}
