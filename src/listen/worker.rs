//! The applying side of `listen`: queued events in batches, each batch one sync run under the
//! state file's lock that pulls the records by id (with the records linked to them in the other
//! connections), a delta sync on start and on a timer, and
//! the listener's row kept alive for `status`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::{BATCH, ListenReporter};
use crate::engine::accounts::KnownAccounts;
use crate::engine::sync::{ById, Quiet, SyncOptions, SyncReport};
use crate::model::{ObjectKind, RecordId};
use crate::ops::Settings;
use crate::ops::sync::Session;
use crate::store::{Store, StoreError, WebhookEvent};

/// How often the listener's row is touched while idle.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long the worker waits before trying a batch again after a run that could not finish.
const BACKOFF: Duration = Duration::from_secs(5);

/// The worker's state.
pub struct Worker<'a> {
    pub settings: Settings<'a>,
    pub reporter: Arc<dyn ListenReporter>,
    pub poll_every: Duration,
    pub wake: Arc<Notify>,
    pub stop: Arc<AtomicBool>,
    /// The listener's row: its process id, address and start.
    pub pid: u32,
    pub address: String,
    pub started_at: i64,
    /// The accounts this process's runs found their connections to reach: a batch's run asks
    /// again only a connection whose base URL or token changed (or after a while).
    pub accounts: Arc<KnownAccounts>,
}

/// Whether an error is the state file's lock held by another run.
fn is_locked(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<StoreError>(),
        Some(StoreError::Locked { .. })
    )
}

/// Records the run wrote, on every side (local and remote creates, updates, archives).
fn writes(report: &SyncReport) -> u64 {
    report
        .connections
        .iter()
        .flat_map(|c| c.objects.iter())
        .map(|o| {
            let p = &o.planned;
            (p.local_create
                + p.local_update
                + p.local_archive
                + p.remote_create
                + p.remote_update
                + p.remote_archive) as u64
        })
        .sum()
}

impl Worker<'_> {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn store(&self) -> Result<Store, StoreError> {
        let mut store = Store::open(self.settings.state_path)?;
        store.set_clock(self.settings.clock.clone());
        Ok(store)
    }

    fn heartbeat(&self) {
        let now = self.settings.clock.now();
        if let Err(e) = self
            .store()
            .and_then(|mut s| s.set_listener(self.pid, &self.address, self.started_at, now))
        {
            tracing::warn!("the listener's row could not be kept: {e}");
        }
    }

    /// One sync run under the lock, waiting for the lock while another run holds it, and
    /// letting a command that waits for it (`sync`, `conflicts resolve`…) go first.
    async fn sync(&self, opts: &SyncOptions) -> anyhow::Result<Option<SyncReport>> {
        let session = loop {
            if crate::store::others_waiting(self.settings.state_path)? {
                if self.stopping() {
                    return Ok(None);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            match Session::open(self.settings.clone(), false) {
                Ok(s) => break s,
                Err(e) if is_locked(&e) => {
                    if self.stopping() {
                        return Ok(None);
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e),
            }
        };
        Ok(Some(session.run(&[], opts, None, &Quiet).await?))
    }

    /// A delta sync of everything (on start and on the timer).
    async fn catch_up(&self) {
        let started = Instant::now();
        let opts = SyncOptions {
            known_accounts: Some(self.accounts.clone()),
            ..SyncOptions::default()
        };
        match self.sync(&opts).await {
            Ok(Some(report)) => {
                if report.errored() {
                    self.reporter
                        .trouble("the catch-up sync could not reach every connection");
                }
                self.reporter
                    .applied(0, writes(&report), started.elapsed().as_millis());
            }
            Ok(None) => {}
            Err(e) => self.reporter.trouble(&format!("catch-up sync: {e:#}")),
        }
    }

    /// Adds to `by_id` the records of every other connection linked to the same local
    /// records, so the run reads them too (batched, like the events' own): a change carried
    /// to a CRM is planned against that CRM's record as it is now, as a `sync` plans it after
    /// reading every feed, so a record changed there since the last sync (its event not in
    /// yet) is not written over but met as a conflict of the two changes. The updates use
    /// the same reads for what they keep (Pipedrive's other emails and phones).
    fn add_linked(&self, by_id: &mut ById) -> anyhow::Result<()> {
        let store = self.store()?;
        let connections: Vec<&String> = self.settings.config.connections.keys().collect();
        let named: Vec<(String, ObjectKind, Vec<String>)> = by_id
            .0
            .iter()
            .flat_map(|(conn, objects)| {
                objects
                    .iter()
                    .map(|(kind, ids)| (conn.clone(), *kind, ids.iter().cloned().collect()))
            })
            .collect();
        for (conn, kind, ids) in named {
            let locals: Vec<RecordId> = store
                .links_by_remote_ids(&conn, kind, &ids)?
                .into_values()
                .filter(|l| !l.retired)
                .map(|l| l.local_id)
                .collect();
            if locals.is_empty() {
                continue;
            }
            for other in connections.iter().filter(|c| ***c != conn) {
                for link in store
                    .links_by_local_ids(other, kind, &locals)?
                    .into_values()
                {
                    if !link.retired {
                        by_id.add(other, kind, &link.remote_id);
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies one batch; returns whether it was done (else it stays queued).
    async fn apply(&self, events: &[WebhookEvent]) -> anyhow::Result<bool> {
        let started = Instant::now();
        let mut by_id = ById::default();
        // A record deleted or erased in a CRM whose archived records are read by id
        // (HubSpot): read by id, live and archived (HubSpot's change feed reads its archives
        // once a day, and an erased record not at all).
        let mut gone = ById::default();
        // Of those, the ones erased for privacy: their values go from the state file too.
        let mut erase = ById::default();
        // Another record deleted, merged or restored is not served by a read by id: the
        // change feed (which reads those CRMs' deletions every run) carries those.
        let mut feed = false;
        let reads_archived_by_id = |connection: &str| {
            self.settings
                .config
                .connections
                .get(connection)
                .is_some_and(|c| c.provider.reads_archived_by_id())
        };
        for e in events {
            let (conn, action) = (&e.event.connection, e.event.action.as_str());
            by_id.add(conn, e.event.kind, &e.event.remote_id);
            if matches!(action, "erase" | "delete") && reads_archived_by_id(conn) {
                gone.add(conn, e.event.kind, &e.event.remote_id);
                if action == "erase" {
                    erase.add(conn, e.event.kind, &e.event.remote_id);
                }
            } else if matches!(action, "delete" | "erase" | "merge" | "restore") {
                feed = true;
            }
        }
        if !feed {
            self.add_linked(&mut by_id)?;
        }
        let opts = SyncOptions {
            pull_ids: (!feed).then_some(by_id),
            gone,
            erase,
            known_accounts: Some(self.accounts.clone()),
            ..SyncOptions::default()
        };
        let Some(report) = self.sync(&opts).await? else {
            return Ok(false);
        };
        if report.errored() {
            let why: Vec<String> = report
                .connections
                .iter()
                .filter_map(|c| c.error.clone())
                .collect();
            self.reporter.trouble(&format!(
                "{} events stay queued: {}",
                events.len(),
                why.join("; ")
            ));
            return Ok(false);
        }
        if !report.erased.is_empty() {
            tracing::info!(
                records = report.erased.len(),
                "erased from the state file the values of records their CRM erased for privacy"
            );
        }
        let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        let now = self.settings.clock.now();
        self.store()?
            .finish_webhook_events(&ids, "applied", None, now)?;
        self.reporter
            .applied(events.len(), writes(&report), started.elapsed().as_millis());
        Ok(true)
    }

    /// Runs until [`Worker::stop`] is set: the batch in hand is finished first.
    pub async fn run(&self) -> anyhow::Result<()> {
        self.heartbeat();
        self.catch_up().await;
        let mut next_poll = Instant::now() + self.poll_every;
        let mut last_beat = Instant::now();
        while !self.stopping() {
            if last_beat.elapsed() >= HEARTBEAT {
                self.heartbeat();
                last_beat = Instant::now();
            }
            let queued = self.store()?.queued_webhook_events(BATCH)?;
            if !queued.is_empty() {
                match self.apply(&queued).await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => self.reporter.trouble(&format!("applying events: {e:#}")),
                }
                tokio::select! {
                    _ = tokio::time::sleep(BACKOFF) => {}
                    _ = self.wake.notified() => {}
                }
                continue;
            }
            if Instant::now() >= next_poll {
                self.catch_up().await;
                next_poll = Instant::now() + self.poll_every;
                continue;
            }
            let until = next_poll.min(Instant::now() + HEARTBEAT);
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = self.wake.notified() => {}
            }
        }
        Ok(())
    }
}
