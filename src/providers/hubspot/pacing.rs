//! HubSpot's rate limits: a rolling window per app and account (ten seconds unless the
//! headers say otherwise), told in each answer's `X-HubSpot-RateLimit-*` headers, and searches
//! at four a second per token, which the headers do not count.

use reqwest::header::HeaderMap;

use crate::providers::http::{FixedRate, Lane, PacingPolicy, RateInfo, WindowPolicy};

/// The lane searches go through.
pub(super) const SEARCH: Lane = Lane::Fixed("search");
/// Searches HubSpot allows a second per token.
pub const SEARCHES_PER_SECOND: u32 = 4;

/// HubSpot's limits, with searches at `searches_per_second`.
pub(super) fn policy(searches_per_second: u32) -> PacingPolicy {
    PacingPolicy {
        window: Some(WindowPolicy { read: rate_info }),
        fixed: vec![FixedRate {
            lane: "search",
            per_second: searches_per_second,
        }],
        daily: None,
    }
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn rate_info(h: &HeaderMap) -> Option<RateInfo> {
    Some(RateInfo {
        max: header_u64(h, "x-hubspot-ratelimit-max")?,
        remaining: header_u64(h, "x-hubspot-ratelimit-remaining")?,
        window: std::time::Duration::from_millis(
            header_u64(h, "x-hubspot-ratelimit-interval-milliseconds").unwrap_or(10_000),
        ),
    })
}
