//! What `status` shows of the listener: running or not, the queue, events per minute, the
//! last event per connection, the deliveries refused.

use serde::Serialize;

use crate::model::Millis;
use crate::store::{LastWebhookEvent, Store};

/// The listener as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ListenerStatus {
    /// Its process is alive and has not said it stopped.
    pub running: bool,
    pub pid: u32,
    pub address: String,
    pub started_at: Millis,
    pub heartbeat_at: Millis,
    /// Events waiting to be applied.
    pub queued: u64,
    /// Events received in the last minute.
    pub events_per_minute: u64,
    pub applied: u64,
    /// Events dropped on arrival: crmsync's own writes coming back, or events of another
    /// account than the connection syncs.
    pub dropped: u64,
    /// Deliveries refused (bad signature, stale timestamp, wrong credentials, unreadable).
    pub refused: u64,
    pub last_events: Vec<LastWebhookEvent>,
}

fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // Signal 0 checks the process exists without touching it.
        unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// The listener last noted on the file; `None` when none ever ran on it (or the file
/// predates the queue).
pub fn listener_status(store: &Store, now: Millis) -> Option<ListenerStatus> {
    let row = store.listener().ok().flatten()?;
    let stats = store.webhook_stats(now).ok()?;
    Some(ListenerStatus {
        running: row.stopped_at.is_none() && alive(row.pid),
        pid: row.pid,
        address: row.address,
        started_at: row.started_at,
        heartbeat_at: row.heartbeat_at,
        queued: stats.queued,
        events_per_minute: stats.last_minute,
        applied: stats.applied,
        dropped: stats.dropped,
        refused: stats.refused,
        last_events: stats.last_per_connection,
    })
}
