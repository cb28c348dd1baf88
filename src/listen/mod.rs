//! `crmsync listen`: the real-time path (DESIGN §10).
//!
//! ```text
//!  CRM ──POST /hooks/NAME──▶ server (tiny_http thread): verify → parse → queue in the state
//!                            file → 200 (401 refused, 400 unreadable; nothing queued)
//!                                 │ wakes
//!                                 ▼
//!                            worker: queued events in batches → one sync run under the
//!                            state file's lock, pulling by id (batched) the records named and
//!                            those linked to them in every other CRM (webhook → local → every
//!                            other CRM) → events marked applied → lock released
//!                            + a delta sync on start and every `listen.poll_every`
//! ```
//!
//! The server answers as soon as an event is in the queue, whatever the CRMs are doing, so a
//! delivery is answered within Pipedrive's 10 s. A redelivery or a replay of an event already
//! queued is answered and not queued again; events out of order are harmless, as the worker
//! reads each record as it is now; crmsync's own writes coming back are dropped on arrival
//! where the connection's source is configured (`listen.own_sources`), else after one read as
//! a version already synced. Reading the linked records of the other CRMs too is what keeps a
//! record changed in one of them since the last sync (its event not in yet) from being written
//! over: the run meets the two changes as a `sync` does, as a conflict for the policy.
//! SIGTERM (or Ctrl-C) lets the batch in hand finish; a kill loses nothing, as the queue is in
//! the state file. One listener runs on a state file (`<state>.listen.lock`).

pub mod parse;
pub mod report;
pub mod server;
pub mod start;
pub mod subscribe;
pub mod verify;
pub mod worker;

use std::time::Duration;

/// How many queued events one batch takes.
pub const BATCH: usize = 500;

/// The path of a connection's webhooks.
pub fn hook_path(connection: &str) -> String {
    format!("/hooks/{connection}")
}

/// Reads a duration such as `90s`, `15m`, `1h` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// What the listener tells as it goes; the command line draws it.
pub trait ListenReporter: Send + Sync {
    /// The server is up.
    fn listening(&self, address: &str, paths: &[(String, String)]);
    /// A delivery was refused.
    fn refused(&self, connection: &str, reason: &str);
    /// A batch of events (or a catch-up sync, with `events` 0) was applied.
    fn applied(&self, events: usize, records_written: u64, millis: u128);
    /// Something went wrong that the listener rides out (a CRM down, a sync failing).
    fn trouble(&self, message: &str);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_seconds_minutes_and_hours() {
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("5 days"), None);
        assert_eq!(parse_duration("m"), None);
    }
}
