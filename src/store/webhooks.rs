//! `crmsync listen`'s durable queue: webhook events as the CRMs delivered them, queued before
//! the delivery is answered, taken by the worker in batches and marked applied or dropped; the
//! deliveries refused; the listener running on the file.
//!
//! An event is unique on (connection, the CRM's event id): a redelivery or a replay within the
//! signature window is answered and not queued twice. Rows are kept after they are done, so a
//! late redelivery still finds its first copy, until [`Store::prune_webhook_events`].

use rusqlite::{OptionalExtension, params};

use super::open::Store;
use super::sql::{begin, commit, parse_kind, sql_error};
use super::types::StoreError;
use crate::model::{Millis, ObjectKind};

/// One delivery's events as the listener takes them.
#[derive(Debug, Clone, Default)]
pub struct DeliveryEvents {
    /// The events to apply.
    pub queue: Vec<NewWebhookEvent>,
    /// The events dropped on arrival, each group with why (crmsync's own writes, another
    /// account's).
    pub dropped: Vec<(Vec<NewWebhookEvent>, String)>,
}

/// Inserts `events` in `tx`, queued, or dropped with `dropped` as the note; an event whose
/// (connection, event id) is known already is left out. Returns how many were new.
fn insert_webhook_events(
    tx: &rusqlite::Transaction<'_>,
    path: &std::path::Path,
    events: &[NewWebhookEvent],
    received_at: Millis,
    dropped: Option<&str>,
) -> Result<usize, StoreError> {
    if events.is_empty() {
        return Ok(0);
    }
    let mut stmt = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO webhook_events(connection, event_id, kind, remote_id,
                 action, occurred_at, received_at, summary, state, note, done_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
                     CASE WHEN ?9 IS NULL THEN 'queued' ELSE 'dropped' END, ?9,
                     CASE WHEN ?9 IS NULL THEN NULL ELSE ?7 END)",
        )
        .map_err(|e| sql_error(path, "prepare a webhook event", e))?;
    let mut new = 0;
    for e in events {
        new += stmt
            .execute(params![
                e.connection,
                e.event_id,
                e.kind.as_str(),
                e.remote_id,
                e.action,
                e.occurred_at,
                received_at,
                e.summary,
                dropped,
            ])
            .map_err(|err| sql_error(path, "queue a webhook event", err))?;
    }
    Ok(new)
}

/// An event as the listener queues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookEvent {
    pub connection: String,
    /// The CRM's own id of the event (HubSpot `eventId`, Pipedrive `meta.id`).
    pub event_id: String,
    pub kind: ObjectKind,
    /// The CRM id of the record the event is about.
    pub remote_id: String,
    /// `create`, `change`, `delete`, `erase` (gone for good: HubSpot's `privacyDeletion`),
    /// `merge`, `restore`, … as the CRM named it.
    pub action: String,
    /// When the change happened, by the CRM's clock.
    pub occurred_at: Millis,
    /// A short account of the event (never a secret), for `status` and the log.
    pub summary: String,
}

/// A queued (or done) event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    pub id: i64,
    pub event: NewWebhookEvent,
    pub received_at: Millis,
    pub state: String,
}

/// The last event one connection delivered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LastWebhookEvent {
    pub connection: String,
    pub received_at: Millis,
    pub summary: String,
    pub state: String,
}

/// The listener's row: which process runs `listen` on the file, and its last sign of life.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListenerRow {
    pub pid: u32,
    pub address: String,
    pub started_at: Millis,
    pub heartbeat_at: Millis,
    pub stopped_at: Option<Millis>,
}

/// What `status` shows of the queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WebhookStats {
    /// Events queued and not yet applied.
    pub queued: u64,
    /// Events received in the minute before `now`.
    pub last_minute: u64,
    /// Events applied or dropped as echoes, in all.
    pub applied: u64,
    pub dropped: u64,
    /// Deliveries refused (bad signature, stale timestamp, wrong credentials), in all.
    pub refused: u64,
    pub last_per_connection: Vec<LastWebhookEvent>,
}

impl Store {
    /// Queues `events` in one transaction; an event whose (connection, event id) is known
    /// already is left out. Returns how many were queued.
    pub fn queue_webhook_events(
        &mut self,
        events: &[NewWebhookEvent],
        received_at: Millis,
    ) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let queued = insert_webhook_events(&tx, &path, events, received_at, None)?;
        commit(tx, &path, "queue webhook events")?;
        Ok(queued)
    }

    /// Takes several deliveries' events in one transaction (the listener's group commit):
    /// each delivery's events to apply are queued, the rest kept as dropped with their note.
    /// Returns how many were queued (an event known already is left out).
    pub fn take_webhook_deliveries(
        &mut self,
        deliveries: &[DeliveryEvents],
        received_at: Millis,
    ) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let mut queued = 0;
        for d in deliveries {
            queued += insert_webhook_events(&tx, &path, &d.queue, received_at, None)?;
            for (events, note) in &d.dropped {
                insert_webhook_events(&tx, &path, events, received_at, Some(note))?;
            }
        }
        commit(tx, &path, "queue webhook events")?;
        Ok(queued)
    }

    /// The oldest `limit` queued events, oldest first.
    pub fn queued_webhook_events(&self, limit: usize) -> Result<Vec<WebhookEvent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, connection, event_id, kind, remote_id, action, occurred_at,
                        received_at, summary, state
                 FROM webhook_events WHERE state = 'queued' ORDER BY id LIMIT ?1",
            )
            .map_err(|e| self.sql("read the webhook queue", e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, String>(9)?,
                ))
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| self.sql("read the webhook queue", e))?;
        rows.into_iter()
            .map(
                |(id, connection, event_id, kind, remote_id, action, occ, rec, summary, state)| {
                    Ok(WebhookEvent {
                        id,
                        event: NewWebhookEvent {
                            connection,
                            event_id,
                            kind: parse_kind(&self.path, &kind)?,
                            remote_id,
                            action,
                            occurred_at: occ,
                            summary,
                        },
                        received_at: rec,
                        state,
                    })
                },
            )
            .collect()
    }

    /// Marks events done: `applied` (carried through the engine) or `dropped` (crmsync's own
    /// write coming back, or an object no connection syncs), with an optional note.
    pub fn finish_webhook_events(
        &mut self,
        ids: &[i64],
        state: &str,
        note: Option<&str>,
        now: Millis,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE webhook_events SET state = ?2, note = ?3, done_at = ?4
                     WHERE id = ?1 AND state = 'queued'",
                )
                .map_err(|e| sql_error(&path, "prepare a webhook event update", e))?;
            for id in ids {
                stmt.execute(params![id, state, note, now])
                    .map_err(|e| sql_error(&path, "mark a webhook event done", e))?;
            }
        }
        commit(tx, &path, "mark webhook events done")
    }

    /// Keeps a refused delivery: the connection (or the path asked for) and the reason.
    pub fn record_webhook_refusal(
        &mut self,
        connection: &str,
        reason: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO webhook_refusals(connection, at, reason) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![connection, now, reason]))
            .map(drop)
            .map_err(|e| self.sql("keep a refused webhook delivery", e))
    }

    /// Forgets events done before `before` (queued ones are kept whatever their age) and the
    /// deliveries refused before it; part of the run log's retention ([`Store::prune_log`]).
    pub fn prune_webhook_events(&mut self, before: Millis) -> Result<usize, StoreError> {
        let events = self
            .conn
            .prepare_cached("DELETE FROM webhook_events WHERE state <> 'queued' AND done_at < ?1")
            .and_then(|mut s| s.execute([before]))
            .map_err(|e| self.sql("prune webhook events", e))?;
        let refused = self
            .conn
            .prepare_cached("DELETE FROM webhook_refusals WHERE at < ?1")
            .and_then(|mut s| s.execute([before]))
            .map_err(|e| self.sql("prune refused webhook deliveries", e))?;
        Ok(events + refused)
    }

    /// The queue's figures for `status`.
    pub fn webhook_stats(&self, now: Millis) -> Result<WebhookStats, StoreError> {
        let count = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<u64, StoreError> {
            self.conn
                .query_row(sql, p, |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(|e| self.sql("count webhook events", e))
        };
        let by_state = "SELECT count(*) FROM webhook_events WHERE state = ?1";
        let mut stats = WebhookStats {
            queued: count(by_state, &[&"queued"])?,
            applied: count(by_state, &[&"applied"])?,
            dropped: count(by_state, &[&"dropped"])?,
            last_minute: count(
                "SELECT count(*) FROM webhook_events WHERE received_at > ?1",
                &[&(now - 60_000)],
            )?,
            refused: count("SELECT count(*) FROM webhook_refusals", &[])?,
            last_per_connection: Vec::new(),
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT connection, received_at, summary, state FROM webhook_events w
                 WHERE id = (SELECT max(id) FROM webhook_events v WHERE v.connection = w.connection)
                 ORDER BY connection",
            )
            .map_err(|e| self.sql("read the last webhook events", e))?;
        stats.last_per_connection = stmt
            .query_map([], |r| {
                Ok(LastWebhookEvent {
                    connection: r.get(0)?,
                    received_at: r.get(1)?,
                    summary: r.get(2)?,
                    state: r.get(3)?,
                })
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| self.sql("read the last webhook events", e))?;
        Ok(stats)
    }

    /// Notes that process `pid` listens on `address` (or is still alive, with the same
    /// `started_at`).
    pub fn set_listener(
        &mut self,
        pid: u32,
        address: &str,
        started_at: Millis,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO listener(id, pid, address, started_at, heartbeat_at, stopped_at)
                 VALUES (1, ?1, ?2, ?3, ?4, NULL)
                 ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, address = excluded.address,
                     started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                     stopped_at = NULL",
            )
            .and_then(|mut s| s.execute(params![pid, address, started_at, now]))
            .map(drop)
            .map_err(|e| self.sql("note the listener", e))
    }

    /// Notes that the listener `pid` stopped.
    pub fn stop_listener(&mut self, pid: u32, now: Millis) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE listener SET stopped_at = ?2 WHERE id = 1 AND pid = ?1")
            .and_then(|mut s| s.execute(params![pid, now]))
            .map(drop)
            .map_err(|e| self.sql("note the listener stopped", e))
    }

    /// The listener last noted on the file, if any.
    pub fn listener(&self) -> Result<Option<ListenerRow>, StoreError> {
        self.conn
            .query_row(
                "SELECT pid, address, started_at, heartbeat_at, stopped_at FROM listener WHERE id = 1",
                [],
                |r| {
                    Ok(ListenerRow {
                        pid: r.get(0)?,
                        address: r.get(1)?,
                        started_at: r.get(2)?,
                        heartbeat_at: r.get(3)?,
                        stopped_at: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql("read the listener", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, remote: &str) -> NewWebhookEvent {
        NewWebhookEvent {
            connection: "hs".into(),
            event_id: id.into(),
            kind: ObjectKind::Contact,
            remote_id: remote.into(),
            action: "change".into(),
            occurred_at: 1_000,
            summary: format!("contact {remote} changed"),
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("state.db")).unwrap();
        (dir, s)
    }

    #[test]
    fn an_event_delivered_again_is_queued_once() {
        let (_d, mut s) = store();
        assert_eq!(s.queue_webhook_events(&[event("1", "10")], 5).unwrap(), 1);
        assert_eq!(
            s.queue_webhook_events(&[event("1", "10"), event("2", "10")], 6)
                .unwrap(),
            1
        );
        let q = s.queued_webhook_events(10).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].event, event("1", "10"));
        assert_eq!(q[0].received_at, 5);
        // Done events still count as known.
        s.finish_webhook_events(&[q[0].id], "applied", None, 7)
            .unwrap();
        assert_eq!(s.queue_webhook_events(&[event("1", "10")], 8).unwrap(), 0);
        let q = s.queued_webhook_events(10).unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].event.event_id, "2");
    }

    #[test]
    fn stats_count_states_refusals_and_the_last_minute() {
        let (_d, mut s) = store();
        s.queue_webhook_events(&[event("1", "10"), event("2", "11")], 1_000)
            .unwrap();
        s.queue_webhook_events(&[event("3", "12")], 100_000)
            .unwrap();
        let ids: Vec<i64> = s
            .queued_webhook_events(2)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        s.finish_webhook_events(&ids[..1], "applied", None, 2_000)
            .unwrap();
        s.finish_webhook_events(&ids[1..], "dropped", Some("echo"), 2_000)
            .unwrap();
        s.record_webhook_refusal("hs", "bad signature", 3_000)
            .unwrap();
        let st = s.webhook_stats(120_000).unwrap();
        assert_eq!(
            (
                st.queued,
                st.applied,
                st.dropped,
                st.refused,
                st.last_minute
            ),
            (1, 1, 1, 1, 1)
        );
        assert_eq!(st.last_per_connection.len(), 1);
        assert_eq!(st.last_per_connection[0].summary, "contact 12 changed");
        assert_eq!(s.prune_webhook_events(2_500).unwrap(), 2);
        assert_eq!(s.webhook_stats(120_000).unwrap().queued, 1);
    }

    #[test]
    fn the_listener_row_follows_start_and_stop() {
        let (_d, mut s) = store();
        assert_eq!(s.listener().unwrap(), None);
        s.set_listener(42, "127.0.0.1:8080", 1, 2).unwrap();
        s.set_listener(42, "127.0.0.1:8080", 1, 9).unwrap();
        s.stop_listener(7, 10).unwrap();
        assert_eq!(s.listener().unwrap().unwrap().stopped_at, None);
        s.stop_listener(42, 10).unwrap();
        let l = s.listener().unwrap().unwrap();
        assert_eq!((l.pid, l.heartbeat_at, l.stopped_at), (42, 9, Some(10)));
    }
}
