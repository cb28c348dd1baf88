//! Failures that heal themselves: when a failed record is tried again by a later run on its
//! own, and when it is parked for a person instead.
//!
//! A failure counts its tries since a person last re-queued it (`attempts -
//! requeued_attempts`, at least 1). After the `n`th, the record waits `backoff × 2^(n-1)`
//! from the failure (15 min, 30 min, 1 h by default) and the first sync after that re-queues
//! it; after `retry.attempts` tries that all failed it is parked. A refusal that trying again
//! cannot mend (a validation error, see [`crate::providers::RecordError::permanent_reason`])
//! is parked at once. A parked failure stays until `crmsync retry` re-queues it, which starts
//! its automatic tries afresh.

use serde::Serialize;

use crate::config::RetrySettings;
use crate::model::Millis;
use crate::store::{Failure, Store, StoreError};

/// What happens next to a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "retry", rename_all = "kebab-case")]
pub enum Next {
    /// Tried again by the first sync at or after `at`.
    Waiting { at: Millis },
    /// Tried again by the next sync.
    Due,
    /// Waits for `crmsync retry`, for `reason`.
    Parked { reason: String },
}

/// What happens next to failure `f` under `policy` at `now`.
pub fn next(f: &Failure, policy: &RetrySettings, now: Millis) -> Next {
    if let Some(reason) = &f.parked_reason {
        return Next::Parked {
            reason: reason.clone(),
        };
    }
    let tries = (f.attempts - f.requeued_attempts).max(1);
    if tries > i64::from(policy.attempts) {
        return Next::Parked {
            reason: format!(
                "tried {tries} times without success (`retry.attempts` is {}); `crmsync retry RECORD` queues it again",
                policy.attempts
            ),
        };
    }
    let factor = 1i64.checked_shl((tries - 1) as u32).unwrap_or(i64::MAX);
    let at = f
        .last_at
        .saturating_add(policy.backoff.saturating_mul(factor));
    if now >= at {
        Next::Due
    } else {
        Next::Waiting { at }
    }
}

/// Whether failure `f` is parked under `policy`.
pub fn parked(f: &Failure, policy: &RetrySettings) -> bool {
    matches!(next(f, policy, 0), Next::Parked { .. })
}

/// Re-queues the failures of `connections` whose wait is over, for this run's push to try
/// again; returns how many records it re-queued.
pub fn requeue_due(
    store: &mut Store,
    policy: &RetrySettings,
    connections: &[String],
    now: Millis,
) -> Result<usize, StoreError> {
    let due: Vec<Failure> = store
        .list_failures(None)?
        .into_iter()
        .filter(|f| connections.contains(&f.connection) && next(f, policy, now) == Next::Due)
        .collect();
    store.requeue_these(&due, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObjectKind, RecordId};
    use crate::store::WriteOp;

    const MIN: Millis = 60_000;

    fn failure(attempts: i64, requeued_attempts: i64, parked: Option<&str>) -> Failure {
        Failure {
            connection: "hubspot".into(),
            kind: ObjectKind::Contact,
            local_id: RecordId("01J5Z3Q9R8X7W6V5T4S3R2Q1P0".into()),
            remote_id: None,
            op: WriteOp::Update,
            message: "timeout".into(),
            code: None,
            attempts,
            first_at: 0,
            last_at: 1_000 * MIN,
            parked_reason: parked.map(str::to_string),
            requeued_attempts,
        }
    }

    #[test]
    fn a_failure_waits_the_backoff_doubling_with_each_try() {
        let policy = RetrySettings::default();
        let last = 1_000 * MIN;
        for (attempts, wait) in [(1, 15 * MIN), (2, 30 * MIN), (3, 60 * MIN)] {
            let f = failure(attempts, 0, None);
            assert_eq!(
                next(&f, &policy, last + wait - 1),
                Next::Waiting { at: last + wait },
                "after try {attempts}"
            );
            assert_eq!(next(&f, &policy, last + wait), Next::Due);
        }
    }

    #[test]
    fn a_failure_is_parked_after_the_configured_tries_and_counts_afresh_once_requeued() {
        let policy = RetrySettings::default();
        let f = failure(4, 0, None);
        assert!(
            matches!(next(&f, &policy, i64::MAX), Next::Parked { reason } if reason.contains("tried 4 times"))
        );
        assert!(parked(&f, &policy));
        // A person re-queued it at 4 attempts; its 5th failure is its first try since.
        let f = failure(5, 4, None);
        assert_eq!(
            next(&f, &policy, 1_000 * MIN),
            Next::Waiting { at: 1_015 * MIN }
        );
        let none = RetrySettings {
            attempts: 0,
            ..RetrySettings::default()
        };
        assert!(parked(&failure(1, 0, None), &none));
    }

    #[test]
    fn only_a_refusal_trying_again_cannot_mend_is_permanent() {
        use crate::providers::{RecordError, RecordErrorKind};
        let refusal = |code: &str, retryable: bool, kind: RecordErrorKind| RecordError {
            message: "refused".into(),
            code: Some(code.into()),
            retryable,
            kind,
        };
        let plain = RecordErrorKind::Refused;
        for code in ["400", "422", "VALIDATION_ERROR", "too_long", "owner"] {
            let reason = refusal(code, false, plain.clone()).permanent_reason();
            assert!(
                reason.is_some_and(|r| r.contains("validation error")),
                "{code}"
            );
        }
        let gone = refusal("404", false, plain.clone()).permanent_reason();
        assert!(gone.is_some_and(|r| r.contains("no longer has")));
        for (code, retryable) in [("429", true), ("503", true), ("400", true), ("504", false)] {
            assert_eq!(
                refusal(code, retryable, plain.clone()).permanent_reason(),
                None,
                "{code}"
            );
        }
        let duplicate = RecordErrorKind::Duplicate {
            existing_id: "7".into(),
        };
        assert_eq!(refusal("409", false, duplicate).permanent_reason(), None);
        let unknown = refusal("unknown-properties:tier", false, plain);
        assert_eq!(unknown.permanent_reason(), None);
    }

    #[test]
    fn a_permanent_refusal_is_parked_at_once_with_its_reason() {
        let f = failure(1, 0, Some("a validation error"));
        assert_eq!(
            next(&f, &RetrySettings::default(), i64::MAX),
            Next::Parked {
                reason: "a validation error".into()
            }
        );
    }
}
