//! Faithful local CRM servers for `crmsync sandbox serve`, `crmsync demo` and the tests.
//!
//! # Model
//!
//! Each CRM gets its own sandbox on its own loopback port, because the CRMs' path families
//! overlap (`/oauth/...`) and a real client only ever talks to one host per CRM: the HubSpot
//! sandbox ([`hubspot`]), the Pipedrive sandbox ([`pipedrive`]) and the Salesforce sandbox
//! ([`salesforce`], whose port is its login host and its instance at once). Each is a
//! [`CrmApi`] over the shared core:
//!
//! | module | what it holds |
//! |---|---|
//! | [`server`] | start/stop and base URL, the request pipeline (admin → fault → route → log), the request log, the [`CrmApi`] trait |
//! | [`admin`] | the admin calls every sandbox serves (request log, clock, faults) |
//! | [`fault`] | seeded fault injection ([`FaultOptions`]) |
//! | [`rate`] | rolling rate windows and call counts, per key |
//! | [`http`] | the HTTP/1.1 server that can drop a connection unanswered |
//! | [`names`] | the words seeded records are made of |
//! | this module | the sandbox clock ([`SandboxClock`]) and time and id formats |
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

pub mod admin;
pub mod base;
pub mod fault;
pub mod http;
pub mod hubspot;
pub mod names;
pub mod pipedrive;
pub mod rate;
pub mod salesforce;
pub mod server;
pub mod webhooks;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use fault::FaultOptions;
pub use hubspot::{EditBefore, HubSpotSandbox as Sandbox, SandboxOptions};
pub use server::{CrmApi, LoggedRequest, SandboxServer};

/// Path prefix of the admin API. No real CRM serves anything under it.
pub const ADMIN_PREFIX: &str = "/_sandbox";

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
