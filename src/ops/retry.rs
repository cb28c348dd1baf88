//! Failed records: what `status --failed` shows of each (its tries, its next automatic try or
//! why it is parked, the CRM's error) and what `crmsync retry` re-queues.

use serde::Serialize;

use crate::config::Config;
use crate::engine::retry::{self, Next};
use crate::model::{Millis, RecordId};
use crate::store::{Failure, Store};

/// One row of `crmsync status --failed --json`: the failure, and what happens to it next.
#[derive(Debug, Clone, Serialize)]
pub struct FailedRecord {
    #[serde(flatten)]
    pub failure: Failure,
    /// `waiting`, `due` (the next sync tries it) or `parked` (waits for `crmsync retry`).
    pub retry: &'static str,
    /// When a sync tries it again on its own (waiting and due ones).
    pub next_try: Option<Millis>,
    /// Why it waits for a person (parked ones).
    pub parked_because: Option<String>,
}

/// The failed records (of `connection` if given), oldest last attempt first.
pub fn failed(
    store: &Store,
    config: &Config,
    connection: Option<&str>,
    now: Millis,
) -> anyhow::Result<Vec<FailedRecord>> {
    Ok(store
        .list_failures(connection)?
        .into_iter()
        .map(|failure| {
            let (retry, next_try, parked_because) = match retry::next(&failure, &config.retry, now)
            {
                Next::Waiting { at } => ("waiting", Some(at), None),
                Next::Due => ("due", Some(now), None),
                Next::Parked { reason } => ("parked", None, Some(reason)),
            };
            FailedRecord {
                failure,
                retry,
                next_try,
                parked_because,
            }
        })
        .collect())
}

/// Which failures `crmsync retry` re-queues.
#[derive(Debug, Clone)]
pub enum Requeue {
    /// Every failure.
    All,
    /// The parked ones only.
    Parked,
    /// Those of these records.
    Records(Vec<RecordId>),
}

/// Re-queues the failures `what` names (of `connection` if given) for the next sync, their
/// automatic tries starting afresh; returns how many records were re-queued.
pub fn requeue(
    store: &mut Store,
    config: &Config,
    connection: Option<&str>,
    what: &Requeue,
) -> anyhow::Result<usize> {
    if matches!(what, Requeue::All) {
        return Ok(store.requeue_failures(connection)?);
    }
    let chosen: Vec<Failure> = store
        .list_failures(connection)?
        .into_iter()
        .filter(|f| match what {
            Requeue::All => true,
            Requeue::Parked => retry::parked(f, &config.retry),
            Requeue::Records(ids) => ids.contains(&f.local_id),
        })
        .collect();
    Ok(store.requeue_these(&chosen, true)?)
}
