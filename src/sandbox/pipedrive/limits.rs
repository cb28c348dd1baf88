//! Pipedrive's rate limits, as its documentation describes them:
//!
//! * a **daily token budget** per company: every operation costs the tokens its spec entry
//!   gives as `x-token-cost` ([`token_cost`]); when the budget is spent, calls answer 429
//!   until the day ends: the budget is whole again at midnight UTC of the sandbox clock
//!   (the documents say "the start of the next day" without a time zone; UTC is the
//!   sandbox's choice), or on an admin reset;
//! * a **burst limit per rolling 2-second window, per API token** (Advanced plan's 40 for an
//!   `api_token` by default; configurable, with the window, so tests run fast); search calls
//!   would have their own 10-per-2-s window, but the sandbox serves no search.
//!
//! Answers carry `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset`
//! (seconds left in the window) for the burst window, and `x-daily-requests-left`: the
//! documentation names it for the older daily request count; under the token budget the
//! sandbox reports the tokens left in it there (unconfirmed: the documents name no
//! token-budget header).

use std::time::{Duration, Instant};

use super::errors;
use crate::sandbox::http::HttpResponse;
use crate::sandbox::rate::RateWindows;
use crate::sandbox::server::Limit;

pub struct RateState {
    /// The burst windows of API tokens.
    pub burst: RateWindows,
    /// The burst windows of OAuth access tokens: four times an API token's, as every plan's
    /// documented pair is (40 and 160 on Advanced).
    pub burst_oauth: RateWindows,
    /// When each token's current window opened, for `x-ratelimit-reset`.
    opened: std::collections::HashMap<String, Instant>,
    pub daily_budget: u64,
    pub spent: u64,
    /// The UTC day (days since the epoch, sandbox clock) `spent` counts in.
    day: i64,
}

impl RateState {
    pub fn new(burst: u32, window_ms: u64, daily_budget: u64) -> Self {
        RateState {
            burst: RateWindows::new(burst, Duration::from_millis(window_ms)),
            burst_oauth: RateWindows::new(burst * 4, Duration::from_millis(window_ms)),
            opened: Default::default(),
            daily_budget,
            spent: 0,
            day: 0,
        }
    }

    /// Changes the limits; counting restarts (the daily budget too).
    pub fn set(&mut self, burst: u32, window_ms: u64, daily_budget: u64) {
        self.burst.reset(burst, Duration::from_millis(window_ms));
        self.burst_oauth
            .reset(burst * 4, Duration::from_millis(window_ms));
        self.opened.clear();
        self.daily_budget = daily_budget;
        self.spent = 0;
    }

    /// Seconds left in `token`'s window, rounded up.
    fn reset_secs(&mut self, token: &str) -> u64 {
        let window = self.burst.window();
        let now = Instant::now();
        let opened = self.opened.entry(token.to_string()).or_insert(now);
        if now.duration_since(*opened) >= window {
            *opened = now;
        }
        let left = window.saturating_sub(now.duration_since(*opened));
        left.as_millis().div_ceil(1000) as u64
    }
}

/// Pipedrive's 429 body. The documents say only that it starts `{"success":false`; the
/// message wording is the sandbox's own.
pub fn rate_limited(limit: Limit) -> HttpResponse {
    let message = match limit {
        Limit::Daily => "Daily token budget exceeded",
        Limit::Burst | Limit::PerSecond => "Request over limit",
    };
    errors::coded(429, message)
}

/// Where a call left the caller's limits, for the answer's headers.
pub struct Quota {
    limit: u32,
    remaining: u32,
    reset: u64,
    daily_left: u64,
}

impl Quota {
    pub fn headers(&self, resp: HttpResponse) -> HttpResponse {
        resp.with_header("x-ratelimit-limit", self.limit.to_string())
            .with_header("x-ratelimit-remaining", self.remaining.to_string())
            .with_header("x-ratelimit-reset", self.reset.to_string())
            .with_header("x-daily-requests-left", self.daily_left.to_string())
    }
}

/// Counts one call of `token` (an OAuth access token when `oauth`) costing `cost` tokens at
/// `now_ms` (sandbox clock): the quota left, or the 429 answer.
pub fn admit(
    rate: &mut RateState,
    token: &str,
    oauth: bool,
    cost: u64,
    now_ms: i64,
) -> Result<Quota, HttpResponse> {
    let day = now_ms.div_euclid(86_400_000);
    if day != rate.day {
        rate.day = day;
        rate.spent = 0;
    }
    let reset = rate.reset_secs(token);
    let windows = if oauth {
        &mut rate.burst_oauth
    } else {
        &mut rate.burst
    };
    let (allowed, remaining) = windows.hit(token);
    let mut quota = Quota {
        limit: windows.max(),
        remaining,
        reset,
        daily_left: rate.daily_budget.saturating_sub(rate.spent),
    };
    if !allowed {
        return Err(quota.headers(
            rate_limited(Limit::Burst).with_header("Retry-After", reset.max(1).to_string()),
        ));
    }
    if rate.spent + cost > rate.daily_budget {
        return Err(quota.headers(rate_limited(Limit::Daily)));
    }
    rate.spent += cost;
    quota.daily_left = rate.daily_budget - rate.spent;
    Ok(quota)
}

/// The tokens a call costs: each operation's `x-token-cost` in the v2 and v1 specs.
/// `version` is `v1` or `v2`, `segs` the path after it. A call no route serves costs 1
/// (unconfirmed; the specs price only their operations).
pub fn token_cost(method: &str, version: &str, segs: &[&str]) -> u64 {
    match (version, method, segs) {
        // API v2 records and fields: list 10, one 1, create/update 5, delete 3.
        ("v2", "GET", [_]) => 10,
        // A search 20.
        ("v2", "GET", [_, "search"]) => 20,
        ("v2", "GET", [_, _]) => 1,
        ("v2", "POST", [_]) | ("v2", "PATCH", [_, _]) => 5,
        ("v2", "DELETE", [_, _]) => 3,
        // API v1: one user or field 2; field lists, users, activity types, recents and
        // changelogs 20; creates and field updates 10.
        ("v1", "GET", [_, _]) => 2,
        ("v1", "GET", [_] | [_, _, "changelog"]) => 20,
        ("v1", "POST", [_]) | ("v1", "PUT", [_, _]) => 10,
        // A merge 40.
        ("v1", "PUT", [_, _, "merge"]) => 40,
        _ => 1,
    }
}
