//! Pipedrive's limits: a burst window of two seconds per token, told in each answer's
//! `x-ratelimit-limit` / `x-ratelimit-remaining` headers; searches at ten per two seconds,
//! which those headers do not count; and the company's daily allowance, told (for API tokens)
//! in `x-daily-requests-left`, of which [`DAILY_RESERVE`] is left to the account's other uses.
//! The allowance is a budget of tokens, each call costing its operation's `x-token-cost`
//! ([`token_cost`]), so the reserve is kept in tokens.

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
/// Tokens of the day's budget crmsync never uses.
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
            cost: token_cost,
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

/// The tokens a call (`method`, `path` under the API host) costs of the daily budget: each
/// operation's `x-token-cost` in Pipedrive's API descriptions. API v2: a list 10, one record
/// 1, a search 20, a create or an update 5, a delete 3. API v1: a list (fields, users,
/// recents, a record's changelog) 20, one item (`users/me`, a field) 2, a create 10. Any
/// other call is counted as 1.
fn token_cost(method: &str, path: &str) -> u64 {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (version, rest) = match segs.as_slice() {
        ["api", version, rest @ ..] | [version @ ("v1" | "v2"), rest @ ..] => (*version, rest),
        _ => return 1,
    };
    match (version, method, rest) {
        ("v2", "GET", [_, "search"]) => 20,
        ("v2", "GET", [_]) => 10,
        ("v2", "GET", [_, _]) => 1,
        ("v2", "POST", [_]) | ("v2", "PATCH", [_, _]) => 5,
        ("v2", "DELETE", [_, _]) => 3,
        ("v1", "GET", [_] | [_, _, "changelog"]) => 20,
        ("v1", "GET", [_, _]) => 2,
        ("v1", "POST", [_]) => 10,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::token_cost;

    #[test]
    fn each_call_costs_its_operations_tokens() {
        for (method, path, cost) in [
            ("GET", "/api/v2/persons", 10),
            ("GET", "/api/v2/persons/search", 20),
            ("GET", "/api/v2/persons/42", 1),
            ("POST", "/api/v2/organizations", 5),
            ("PATCH", "/api/v2/persons/42", 5),
            ("DELETE", "/api/v2/persons/42", 3),
            ("GET", "/api/v1/personFields", 20),
            ("GET", "/api/v1/recents", 20),
            ("GET", "/api/v1/persons/42/changelog", 20),
            ("GET", "/api/v1/users/me", 2),
            ("POST", "/api/v1/personFields", 10),
            ("POST", "/oauth/token", 1),
        ] {
            assert_eq!(token_cost(method, path), cost, "{method} {path}");
        }
    }
}
