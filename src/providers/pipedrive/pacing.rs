//! Pipedrive's limits: a burst window of two seconds per token, told in each answer's
//! `x-ratelimit-limit` / `x-ratelimit-remaining` headers; searches at ten per two seconds,
//! which those headers do not count; and the company's daily allowance, told (for API tokens)
//! in `x-daily-requests-left`, of which [`DAILY_RESERVE`] is left to the account's other uses.

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::providers::http::{
    DailyBudget, DailyInfo, FixedRate, Lane, PacingPolicy, RateInfo, Reserve, WindowPolicy,
};

/// The lane searches go through.
pub(super) const SEARCH: Lane = Lane::Fixed("search");
/// Searches Pipedrive allows a second (ten per two seconds).
pub const SEARCHES_PER_SECOND: u32 = 5;
/// The burst window when the headers do not say.
const BURST_WINDOW: Duration = Duration::from_secs(2);
/// Requests of the day's allowance crmsync never uses.
pub const DAILY_RESERVE: u64 = 200;

/// Pipedrive's limits.
pub(super) fn policy() -> PacingPolicy {
    PacingPolicy {
        window: Some(WindowPolicy { read: rate_info }),
        fixed: vec![FixedRate {
            lane: "search",
            per_second: SEARCHES_PER_SECOND,
        }],
        daily: Some(DailyBudget {
            read: daily_info,
            reserve: Reserve::Requests(DAILY_RESERVE),
        }),
    }
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn rate_info(h: &HeaderMap) -> Option<RateInfo> {
    Some(RateInfo {
        max: header_u64(h, "x-ratelimit-limit")?,
        remaining: header_u64(h, "x-ratelimit-remaining")?,
        window: BURST_WINDOW,
    })
}

fn daily_info(h: &HeaderMap) -> Option<DailyInfo> {
    let remaining = header_u64(h, "x-daily-requests-left")?;
    Some(DailyInfo {
        max: header_u64(h, "x-daily-token-limit").unwrap_or(remaining),
        remaining,
    })
}
