//! One connection's part of a run: what it carries from the pull to the push, and the steps both
//! share (the journal's recovery, warnings, the executor).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::engine::execute::Executor;
use crate::engine::gates::GateStop;
use crate::engine::link_state;
use crate::engine::plan::LinkState;
use crate::engine::{Participant, StepError, SyncReporter};
use crate::mapping::FieldMap;
use crate::model::{Millis, ObjectKind, RecordId};
use crate::store::{Link, Store};

use super::options::SyncOptions;
use super::report::ClockSkew;

/// One connection's part of a run.
pub(super) struct Session<'a> {
    pub(super) store: &'a mut Store,
    pub(super) config: &'a Config,
    pub(super) p: &'a Participant,
    pub(super) opts: &'a SyncOptions,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) reporter: &'a dyn SyncReporter,
    pub(super) run: i64,
    pub(super) warnings: Vec<String>,
    pub(super) versions: BTreeMap<ObjectKind, BTreeMap<String, i64>>,
    /// Fields of records held by a `manual` conflict in this run's pull.
    pub(super) held: HashSet<(RecordId, String)>,
    /// A failed history read of this connection was warned of in this run (pull or push):
    /// one warning per connection, however many pages and objects fail.
    pub(super) history_warned: bool,
    /// In a dry run, the local records its pull planned. The run itself would have settled
    /// them before its push (their links and bases stored), so the dry run's push leaves
    /// them out instead of planning their local changes a second time.
    pub(super) dry_pulled: HashSet<RecordId>,
    /// In a dry run, the fields of each object whose bases the run would forget (see
    /// [`Session::forget_remapped`]).
    pub(super) forgotten: HashSet<(ObjectKind, String)>,
    /// In the current pull, how many records had been read when the cursor was last
    /// stored (`None`: not stored yet).
    pub(super) saved_read: Option<u64>,
    /// The safety gate an object's pull stopped at. The pull still returns its report (and a
    /// dry run its plan, which shows what the gate held back); the connection then stops.
    pub(super) gated: Option<GateStop>,
    /// Per object, what the archive gate measures across the run's pull and push.
    pub(super) archives: ArchiveTally,
    /// Objects whose field catalogue a read or a write showed stale (a mapped property the
    /// CRM no longer has): the next [`Session::field_map`] asks the CRM again, whatever the
    /// cached copy's age.
    pub(super) stale_catalogue: HashSet<ObjectKind>,
    /// The CRM's clock, off by more than the overlap in this run (see [`Session::warn_skew`]).
    pub(super) clock_skew: Option<ClockSkew>,
    /// How many more records this phase may create (`sync --limit`; `None`: no limit).
    pub(super) creates_left: Option<usize>,
    /// Records this connection's CRM erased for privacy and has no trace of (see
    /// [`super::SyncOptions::erase`]), read as archived by this run: their values are erased
    /// once the run is over.
    pub(super) erased: Vec<(ObjectKind, String)>,
}

/// Per object: the live links before the run, and the archives its pull planned (carried
/// out, or in a dry run shown), so that the push's gate counts them with its own.
pub(super) type ArchiveTally = HashMap<ObjectKind, (usize, usize)>;

impl<'a> Session<'a> {
    pub(super) fn new(
        store: &'a mut Store,
        config: &'a Config,
        p: &'a Participant,
        opts: &'a SyncOptions,
        clock: Arc<dyn Clock>,
        reporter: &'a dyn SyncReporter,
        run: i64,
    ) -> Self {
        Session {
            store,
            config,
            p,
            opts,
            clock,
            reporter,
            run,
            warnings: Vec::new(),
            versions: BTreeMap::new(),
            held: HashSet::new(),
            history_warned: false,
            dry_pulled: HashSet::new(),
            forgotten: HashSet::new(),
            saved_read: None,
            gated: None,
            archives: ArchiveTally::new(),
            stale_catalogue: HashSet::new(),
            clock_skew: None,
            creates_left: opts.create_limit,
            erased: Vec::new(),
        }
    }

    /// The objects this connection syncs in this run, in dependency order.
    pub(super) fn objects(&self) -> Vec<ObjectKind> {
        ObjectKind::ALL
            .into_iter()
            .filter(|o| self.p.provider.objects().contains(o))
            .filter(|o| self.p.config.syncs(*o))
            .filter(|o| self.opts.objects.is_empty() || self.opts.objects.contains(o))
            .collect()
    }

    /// A link as the planner sees it; in a dry run, without the bases
    /// [`Session::forget_remapped`] would forget.
    pub(super) fn planned_link(&self, object: ObjectKind, link: &Link) -> LinkState {
        let mut state = link_state(link);
        for (o, field) in &self.forgotten {
            if *o == object {
                state.base.remove(field);
            }
        }
        state
    }

    pub(super) fn warn(&mut self, message: String) {
        self.reporter.warn(message.clone());
        self.warnings.push(message);
    }

    pub(super) fn executor<'b>(&'b mut self, map: &'b FieldMap) -> Executor<'b> {
        Executor {
            store: self.store,
            provider: self.p.provider.as_ref(),
            connection: &self.p.name,
            map,
            on_delete: self.p.config.on_delete,
            run: self.run,
            clock: self.clock.clone(),
            reporter: self.reporter,
            read_versions: HashMap::new(),
            stamp: self.opts.stamp.get(&map.object),
            content_checked: !self.opts.reads_by_id(),
        }
    }

    /// Settles the writes an interrupted run journalled but never recorded.
    pub(super) async fn recover(&mut self) -> Result<u64, StepError> {
        let pending = self.store.journal_pending(&self.p.name)?;
        if pending.is_empty() {
            return Ok(0);
        }
        let n = pending.len() as u64;
        let mut by_object: BTreeMap<ObjectKind, Vec<_>> = BTreeMap::new();
        for w in pending {
            by_object.entry(w.entry.kind).or_default().push(w);
        }
        for (object, writes) in by_object {
            let map = self.resolve_map(object)?;
            self.executor(&map).recover(object, writes).await?;
        }
        Ok(n)
    }

    /// Says how far a pull stopped part-way got: what it read and carried out up to its last
    /// stored cursor is kept, and the next run reads on from there.
    pub(super) fn warn_progress(&mut self, object: ObjectKind) {
        if let Some(read) = self.saved_read.filter(|n| *n > 0) {
            self.warn(format!(
                "{} {object}: stopped part-way through the change feed; the {read} record(s) read up to the last complete page are saved, and the next run reads on from there",
                self.p.name
            ));
        }
    }

    /// Warns, once per connection and run, when the CRM's clock is further off this
    /// machine's than the change feed's overlap: the feed itself keeps to the CRM's times,
    /// and `newest-wins` corrects for the skew, but a local time compared with the CRM's
    /// anywhere else would be off by that much, so the run cannot be sure it read everything:
    /// it keeps the skew for its report, which makes it exit 3.
    pub(super) fn warn_skew(&mut self) {
        let Some(skew) = self.p.provider.clock_skew() else {
            return;
        };
        let overlap_secs = self.config.sync.overlap_secs;
        let overlap = overlap_secs as Millis * 1000;
        if skew.abs() <= overlap || self.clock_skew.is_some() {
            return;
        }
        self.clock_skew = Some(ClockSkew {
            skew_ms: skew,
            overlap_secs,
        });
        let side = if skew > 0 { "ahead of" } else { "behind" };
        self.warn(format!(
            "{}: the CRM's clock is {}s {side} this machine's, more than the change feed's \
             overlap ({}s); crmsync reads by the CRM's times and corrects newest-wins \
             comparisons for it, but cannot be sure the run read everything, so it exits 3: \
             check this machine's clock (NTP)",
            self.p.name,
            skew.abs() / 1000,
            overlap / 1000
        ));
    }

    /// Gives a failed history read's warning, once per connection and run.
    pub(super) fn warn_history(&mut self, warning: Option<String>) {
        if let Some(w) = warning
            && !self.history_warned
        {
            self.history_warned = true;
            self.warn(w);
        }
    }
}
