//! Faithful local CRM servers for `crmsync sandbox serve`, `crmsync demo` and the tests.
//!
//! # Model
//!
//! Each CRM gets its own sandbox on its own loopback port, because the CRMs' path families
//! overlap (`/oauth/...`) and a real client only ever talks to one host per CRM. Today there
//! is the HubSpot sandbox ([`hubspot`]); Pipedrive and Salesforce will sit beside it as
//! `sandbox::pipedrive` and `sandbox::salesforce` with their own `start`, reusing the shared
//! pieces here: the HTTP server ([`http`]), the sandbox clock ([`SandboxClock`]) and seeded
//! fault injection ([`FaultOptions`]).
//!
//! A sandbox answers with the real CRM's paths, JSON shapes, status codes and error bodies.
//! It shares no code, types or constants with `crate::providers`, so that a misreading of the
//! vendor's documentation on either side shows up as a failing test instead of cancelling
//! out. Anything only a test or the demo needs lives under the admin prefix
//! [`ADMIN_PREFIX`], which the real CRMs do not have; faults, rate limits and
//! authentication never apply to it.
//!
//! `sandbox::Sandbox` and `sandbox::SandboxOptions` are the HubSpot ones (re-exported from
//! [`hubspot`]); the other CRMs' sandboxes will be reached by their module paths.
//!
//! Every sandbox keeps its own clock: it starts at real time and can be set or advanced,
//! or frozen, and it is used for record timestamps, token expiry and the `Date` header of
//! every API answer. Rate-limit windows run on real
//! time (so a test can make them short and simply wait).

pub mod http;
pub mod hubspot;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

pub use hubspot::{EditBefore, HubSpotSandbox as Sandbox, LoggedRequest, SandboxOptions};

/// Path prefix of the admin API. No real CRM serves anything under it.
pub const ADMIN_PREFIX: &str = "/_sandbox";

/// Faults injected into API calls (never into the admin API). Rates are probabilities in
/// `0.0..=1.0`, drawn from a generator seeded with the sandbox seed, so a run is repeatable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultOptions {
    /// Share of calls answered 429 as if the ten-secondly limit were hit.
    pub rate_429: f64,
    /// Share of calls answered 500.
    pub rate_500: f64,
    /// Share of calls answered 502 or 503 (half each).
    pub rate_502_503: f64,
    /// Share of calls delayed by `delay_ms` before being served.
    pub slow_rate: f64,
    pub delay_ms: u64,
    /// Share of calls whose connection is closed without an answer.
    pub drop_rate: f64,
    /// When set, every write after the Nth answers 503 and changes nothing.
    pub fail_after_writes: Option<u64>,
}

/// The fault a call gets, decided before it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Drop,
    Status(u16),
}

/// Seeded fault decisions plus the write counter behind `fail_after_writes`.
#[derive(Debug)]
pub struct FaultInjector {
    opts: FaultOptions,
    rng: StdRng,
    writes: u64,
}

impl FaultInjector {
    pub fn new(opts: FaultOptions, seed: u64) -> Self {
        FaultInjector {
            opts,
            rng: StdRng::seed_from_u64(seed ^ 0x5eed_fa17),
            writes: 0,
        }
    }

    pub fn set(&mut self, opts: FaultOptions) {
        self.opts = opts;
        self.writes = 0;
    }

    pub fn options(&self) -> &FaultOptions {
        &self.opts
    }

    /// Decides the fault for one call and the delay to apply first (ms).
    pub fn decide(&mut self, is_write: bool) -> (Fault, u64) {
        let o = &self.opts;
        let delay = if o.slow_rate > 0.0 && self.rng.random_bool(o.slow_rate.clamp(0.0, 1.0)) {
            o.delay_ms
        } else {
            0
        };
        if is_write {
            self.writes += 1;
            if let Some(n) = o.fail_after_writes
                && self.writes > n
            {
                return (Fault::Status(503), delay);
            }
        }
        let roll: f64 = self.rng.random();
        let mut edge = 0.0;
        for (rate, fault) in [
            (o.drop_rate, Fault::Drop),
            (o.rate_429, Fault::Status(429)),
            (o.rate_500, Fault::Status(500)),
        ] {
            edge += rate.max(0.0);
            if roll < edge {
                return (fault, delay);
            }
        }
        edge += o.rate_502_503.max(0.0);
        if roll < edge {
            let status = if self.rng.random_bool(0.5) { 502 } else { 503 };
            return (Fault::Status(status), delay);
        }
        (Fault::None, delay)
    }
}

/// A sandbox's own notion of "now": real time plus an offset that admin calls can move, or a
/// fixed instant while frozen (every write then carries the same modification time, as a
/// bulk change in the CRM can).
#[derive(Debug, Default)]
pub struct SandboxClock {
    offset_ms: AtomicI64,
    frozen: AtomicBool,
    frozen_at: AtomicI64,
}

impl SandboxClock {
    pub fn now_ms(&self) -> i64 {
        if self.frozen.load(Ordering::SeqCst) {
            return self.frozen_at.load(Ordering::SeqCst);
        }
        chrono::Utc::now().timestamp_millis() + self.offset_ms.load(Ordering::SeqCst)
    }

    /// Sets the clock to `ms` since the epoch; it keeps running from there (or stays there
    /// while frozen).
    pub fn set_ms(&self, ms: i64) {
        let real = chrono::Utc::now().timestamp_millis();
        self.offset_ms.store(ms - real, Ordering::SeqCst);
        self.frozen_at.store(ms, Ordering::SeqCst);
    }

    pub fn advance_ms(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
        self.frozen_at.fetch_add(ms, Ordering::SeqCst);
    }

    /// Stops the clock at its current time (`true`) or lets it run on from there (`false`).
    pub fn freeze(&self, frozen: bool) {
        let now = self.now_ms();
        self.frozen.store(frozen, Ordering::SeqCst);
        self.set_ms(now);
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::SeqCst)
    }
}

/// An HTTP `Date` header value (RFC 9110's IMF-fixdate) for epoch ms.
pub fn http_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A rolling window of call times (real time), per credential.
#[derive(Debug, Default)]
pub struct RollingWindow {
    hits: std::collections::VecDeque<std::time::Instant>,
}

impl RollingWindow {
    /// Records a call if there is room; returns `(allowed, remaining after this call)`.
    pub fn hit(&mut self, max: u32, window: std::time::Duration) -> (bool, u32) {
        let now = std::time::Instant::now();
        while self
            .hits
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.hits.pop_front();
        }
        if self.hits.len() as u32 >= max {
            return (false, 0);
        }
        self.hits.push_back(now);
        (true, max - self.hits.len() as u32)
    }

    pub fn remaining(&mut self, max: u32, window: std::time::Duration) -> u32 {
        let now = std::time::Instant::now();
        while self
            .hits
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.hits.pop_front();
        }
        max.saturating_sub(self.hits.len() as u32)
    }
}

/// A random v4-style uuid for correlation ids (not seeded: it identifies, it does not vary
/// behaviour).
pub fn uuid() -> String {
    static RNG: Mutex<Option<StdRng>> = Mutex::new(None);
    let mut guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let rng = guard.get_or_insert_with(StdRng::from_os_rng);
    let b: [u8; 16] = rng.random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]]),
    )
}

/// Formats epoch ms the way the CRMs do: `2024-05-01T10:00:00.000Z`.
pub fn iso_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Parses epoch ms given as digits or as an RFC 3339 / `YYYY-MM-DD` date.
pub fn parse_time_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
}
