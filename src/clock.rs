//! The one source of "now". Tests fix it with `CRMSYNC_TEST_NOW` (epoch milliseconds or
//! RFC 3339); nothing else in crmsync reads the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::model::Millis;

/// Where "now" comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Millis;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that stands still unless advanced; for tests and the sandbox.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    pub fn new(at: Millis) -> FixedClock {
        FixedClock(AtomicI64::new(at))
    }
    pub fn set(&self, at: Millis) {
        self.0.store(at, Ordering::SeqCst);
    }
    pub fn advance(&self, by: Millis) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// Parses epoch milliseconds or an RFC 3339 timestamp.
pub fn parse_instant(s: &str) -> Option<Millis> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Formats epoch milliseconds as RFC 3339 UTC with milliseconds (`2026-01-02T03:04:05.678Z`).
pub fn format_instant(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// The clock for this process: the system clock (in a build with the `test-seams` feature,
/// fixed by `CRMSYNC_TEST_NOW` when set).
pub fn from_env() -> Arc<dyn Clock> {
    #[cfg(not(feature = "test-seams"))]
    return Arc::new(SystemClock);
    #[cfg(feature = "test-seams")]
    match std::env::var(crate::env::TEST_NOW)
        .ok()
        .and_then(|v| parse_instant(&v))
    {
        Some(at) => Arc::new(FixedClock::new(at)),
        None => Arc::new(SystemClock),
    }
}
