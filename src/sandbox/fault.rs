//! Seeded fault injection: which API call is dropped, delayed or answered with a failure
//! instead of being served. Decided before a call is routed, never for the admin API.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

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
