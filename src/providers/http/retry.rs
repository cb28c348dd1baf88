//! Retries: which answers are tried again, how long to wait first, and the error once the
//! attempts are spent.
//!
//! 429, 5xx, timeouts and connection errors are retried with exponential backoff and jitter,
//! honouring `Retry-After` (seconds) and, for a 429 without one, the CRM's own hint
//! ([`CrmHooks::throttle_hint`](super::CrmHooks::throttle_hint)), up to
//! [`HttpOptions::max_attempts`](super::HttpOptions::max_attempts) attempts. A 401 is not
//! retried here: the client refreshes the token once and tries again without using up an
//! attempt. A failure no retry can cure (an untrusted certificate) fails at once.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::Response;
use crate::providers::ProviderError;

/// What one attempt of a request came to.
pub(super) enum Attempt {
    Done(Response),
    Retry {
        wait: Option<Duration>,
        why: String,
        status: Option<u16>,
    },
    /// A failure no retry can cure (the server's certificate is not trusted).
    Fail(String),
}

/// Whether an answer with `status` is tried again.
pub(super) fn retried(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// How long a retried answer asks to be waited for: its `Retry-After` in seconds, else for a
/// 429 the CRM's hint from the body.
pub(super) fn asked_wait(
    status: u16,
    headers: &HeaderMap,
    body: &str,
    throttle_hint: fn(&str) -> Option<Duration>,
) -> Option<Duration> {
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64);
    if status == 429 {
        retry_after.or_else(|| throttle_hint(body))
    } else {
        retry_after
    }
}

/// The backoff before attempt `attempt + 1`: `base` doubled per attempt, at most `cap`, with
/// jitter in its upper half.
pub(super) fn backoff(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let base = base.as_millis() as u64;
    let exp = base.saturating_mul(1u64 << (attempt.saturating_sub(1)).min(20));
    let capped = exp.min(cap.as_millis() as u64);
    // Jitter in [capped/2, capped] keeps concurrent clients from retrying in step.
    let half = capped / 2;
    let jitter = if half > 0 {
        rand::random_range(0..=half)
    } else {
        0
    };
    Duration::from_millis(half + jitter)
}

/// The error once `attempts` attempts were spent: an API error when the last one was answered
/// with `status`, else a network error.
pub(super) fn gave_up(
    crm: &'static str,
    connection: &str,
    record: Option<&str>,
    why: String,
    status: Option<u16>,
    attempts: u32,
) -> ProviderError {
    let what = match record {
        Some(r) => format!("record `{r}`: {why}"),
        None => why,
    };
    let message = format!("{what} (gave up after {attempts} attempts)");
    let connection = connection.to_string();
    match status {
        Some(status) => ProviderError::Api {
            crm,
            connection,
            status,
            message,
        },
        None => ProviderError::Network {
            crm,
            connection,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_its_upper_half() {
        let (base, cap) = (Duration::from_millis(500), Duration::from_secs(30));
        for (attempt, full) in [(1, 500), (2, 1000), (3, 2000), (7, 30_000), (40, 30_000)] {
            let d = backoff(base, cap, attempt).as_millis() as u64;
            assert!((full / 2..=full).contains(&d), "attempt {attempt}: {d}");
        }
    }

    #[test]
    fn retry_after_wins_and_a_429_without_it_takes_the_crms_hint() {
        fn hint(body: &str) -> Option<Duration> {
            (body == "slow down").then_some(Duration::from_secs(10))
        }
        let mut headers = HeaderMap::new();
        assert_eq!(
            asked_wait(429, &headers, "slow down", hint),
            Some(Duration::from_secs(10))
        );
        assert_eq!(asked_wait(503, &headers, "slow down", hint), None);
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(
            asked_wait(429, &headers, "slow down", hint),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            asked_wait(503, &headers, "", hint),
            Some(Duration::from_secs(7))
        );
        assert!(retried(429) && retried(502) && !retried(404) && !retried(401));
    }
}
