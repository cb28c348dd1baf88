//! HubSpot's rate limits: a rolling window per app and account, told in each answer's
//! headers, and searches at four a second per token.

use reqwest::header::HeaderMap;

use crate::providers::http::RateInfo;

pub(super) fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

pub(super) fn rate_info(h: &HeaderMap) -> Option<RateInfo> {
    Some(RateInfo {
        max: header_u64(h, "x-hubspot-ratelimit-max")?,
        remaining: header_u64(h, "x-hubspot-ratelimit-remaining")?,
        window: std::time::Duration::from_millis(
            header_u64(h, "x-hubspot-ratelimit-interval-milliseconds").unwrap_or(10_000),
        ),
    })
}
