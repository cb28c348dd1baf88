//! HubSpot's rate limits, as its API documents them: a rolling window per app (100 calls per
//! 10 s by default; every token of one app shares it), a per-second limit on search calls per
//! token (search is exempt from the rolling window, which it only reports), and a daily
//! budget for private-app tokens that counts from start. Answers carry the
//! `X-HubSpot-RateLimit-*` headers; a refused call gets HubSpot's 429 body.

use std::time::Duration;

use serde_json::json;

use super::SandboxOptions;
use super::route::Caller;
use crate::sandbox::http::HttpResponse;
use crate::sandbox::rate::{CallCounter, RateWindows};
use crate::sandbox::server::Limit;
use crate::sandbox::uuid;

pub struct RateState {
    /// The ten-secondly windows, per app ([`Caller::app`]).
    pub burst: RateWindows,
    /// The search windows (one second), per token; a max of 0 turns the limit off.
    pub search: RateWindows,
    daily_limit: u64,
    /// Calls per token, for the daily budget.
    daily: CallCounter,
}

impl RateState {
    pub fn new(opts: &SandboxOptions) -> Self {
        RateState {
            burst: RateWindows::new(opts.rate_limit.0, Duration::from_millis(opts.rate_limit.1)),
            search: RateWindows::new(opts.search_per_second, Duration::from_secs(1)),
            daily_limit: opts.daily_limit,
            daily: CallCounter::default(),
        }
    }

    /// Changes the limits; the windows' counting restarts (the daily count goes on).
    pub fn set(&mut self, max: u32, window_ms: u64, search_per_second: u32) {
        self.burst.reset(max, Duration::from_millis(window_ms));
        self.search.reset(search_per_second, Duration::from_secs(1));
    }
}

/// HubSpot's 429 body for the limit a call ran into.
pub fn rate_limited(limit: Limit) -> HttpResponse {
    let (message, policy) = match limit {
        Limit::Burst => (
            "You have reached your ten_secondly_rolling limit.",
            "TEN_SECONDLY_ROLLING",
        ),
        Limit::PerSecond => ("You have reached your secondly limit.", "SECONDLY"),
        Limit::Daily => ("You have reached your daily limit.", "DAILY"),
    };
    HttpResponse::json(
        429,
        &json!({"status": "error", "message": message, "errorType": "RATE_LIMIT",
                "correlationId": uuid(), "policyName": policy, "requestId": uuid()}),
    )
}

/// Where a call left the caller's limits, for the answer's headers.
pub struct Quota {
    max: u32,
    remaining: u32,
    window: Duration,
    /// `(limit, used)` of the daily budget, for private-app tokens.
    daily: Option<(u64, u64)>,
}

impl Quota {
    /// Adds the `X-HubSpot-RateLimit-*` headers.
    pub fn headers(&self, resp: HttpResponse) -> HttpResponse {
        let mut resp = resp
            .with_header("X-HubSpot-RateLimit-Max", self.max.to_string())
            .with_header("X-HubSpot-RateLimit-Remaining", self.remaining.to_string())
            .with_header(
                "X-HubSpot-RateLimit-Interval-Milliseconds",
                self.window.as_millis().to_string(),
            );
        if let Some((limit, used)) = self.daily {
            resp = resp
                .with_header("X-HubSpot-RateLimit-Daily", limit.to_string())
                .with_header(
                    "X-HubSpot-RateLimit-Daily-Remaining",
                    limit.saturating_sub(used).to_string(),
                );
        }
        resp
    }
}

/// Counts one call of `caller` against the limits: the quota left, or the 429 answer.
pub fn admit(
    rate: &mut RateState,
    caller: &Caller,
    is_search: bool,
) -> Result<Quota, HttpResponse> {
    let daily_used = rate.daily.count(&caller.token);
    if caller.private_app && daily_used > rate.daily_limit {
        return Err(rate_limited(Limit::Daily));
    }
    let mut quota = Quota {
        max: rate.burst.max(),
        remaining: 0,
        window: rate.burst.window(),
        daily: caller.private_app.then_some((rate.daily_limit, daily_used)),
    };
    if is_search {
        quota.remaining = rate.burst.remaining(&caller.app);
        if rate.search.max() > 0 && !rate.search.hit(&caller.token).0 {
            return Err(rate_limited(Limit::PerSecond).with_header("Retry-After", "1"));
        }
    } else {
        let (allowed, remaining) = rate.burst.hit(&caller.app);
        if !allowed {
            return Err(quota.headers(rate_limited(Limit::Burst)));
        }
        quota.remaining = remaining;
    }
    Ok(quota)
}
