//! Salesforce's limits: no per-second window (DIGEST §3.10), and the org's daily API
//! allocation, a rolling 24 hours, told in every answer's `Sforce-Limit-Info:
//! api-usage=N/M` (used of allowed). crmsync leaves `reserve_percent` of it to the org's other
//! integrations: once the allocation left is down to that share, a request fails at once
//! with the daily limit instead of being sent, and the run stops cleanly.

use reqwest::header::HeaderMap;

use crate::providers::http::{DailyBudget, DailyInfo, PacingPolicy, Reserve};

/// Salesforce's limits, `reserve_percent` of the allocation kept back.
pub(super) fn policy(reserve_percent: u8) -> PacingPolicy {
    PacingPolicy {
        window: None,
        fixed: Vec::new(),
        daily: Some(DailyBudget {
            read: daily_info,
            reserve: Reserve::Percent(reserve_percent),
            cost: |_, _| 1,
        }),
    }
}

/// `(used, allowed)` from `Sforce-Limit-Info`: `api-usage=10018/100000`, perhaps followed by
/// `; api-bursts=…` or `per-app-api-usage=…` parts, which are not the org's allocation.
pub(super) fn usage(h: &HeaderMap) -> Option<(u64, u64)> {
    let value = h.get("sforce-limit-info")?.to_str().ok()?;
    value.split([';', ',']).find_map(|part| {
        let (key, counts) = part.trim().split_once('=')?;
        if key.trim() != "api-usage" {
            return None;
        }
        let (used, max) = counts.trim().split_once('/')?;
        Some((used.trim().parse().ok()?, max.trim().parse().ok()?))
    })
}

fn daily_info(h: &HeaderMap) -> Option<DailyInfo> {
    let (used, max) = usage(h)?;
    Some(DailyInfo {
        max,
        remaining: max.saturating_sub(used),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("Sforce-Limit-Info", v.parse().unwrap());
        h
    }

    #[test]
    fn the_allocation_is_read_from_api_usage() {
        assert_eq!(
            usage(&headers("api-usage=10018/100000")),
            Some((10018, 100000))
        );
        assert_eq!(
            usage(&headers("api-usage=25/15000; api-bursts=1/750")),
            Some((25, 15000))
        );
        assert_eq!(
            usage(&headers(
                "per-app-api-usage=17/250(appName=x); api-usage=3/9"
            )),
            Some((3, 9))
        );
        assert_eq!(usage(&headers("api-bursts=1/750")), None);
        assert_eq!(usage(&HeaderMap::new()), None);
        assert_eq!(
            daily_info(&headers("api-usage=90/100")),
            Some(DailyInfo {
                max: 100,
                remaining: 10
            })
        );
    }
}
