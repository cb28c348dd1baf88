//! An in-memory CRM for the engine's tests (it exists only under `cfg(test)`).
//!
//! It keeps records by id, stamps every write with a logical clock, serves a change feed by
//! modification time, honours the external id on creates (a retried create finds the first
//! record), and can "die" after N writes: the Nth write is applied and then the call fails as
//! if the process had been killed before the answer was committed. With
//! [`MemoryCrm::unique`] a property's values are unique among live records, and a create
//! that would repeat one is refused as a duplicate naming the existing record, as HubSpot
//! refuses a second contact with an email.
//!
//! Like HubSpot, it keeps when each property was last written, but its change feed and reads
//! by id carry record times only: per-property times are served by
//! [`Provider::field_times`], which [`MemoryCrm::fail_field_times`] can make fail.
//!
//! # Simulation
//! [`MemoryCrm::simulate`] makes it misbehave as real CRMs do, for the engine's simulation
//! properties (`crate::engine::sim_tests`); one seed reproduces one run exactly:
//! * its change feed is a search served a page at a time in one of three styles
//!   ([`Paging`]): offsets over a sorted result that is evaluated again for every page (HubSpot
//!   search), an opaque cursor that continues after the last record served (Pipedrive v2), or a
//!   query locator over a result fixed when the query began (Salesforce); one query reaches at
//!   most [`Sim::cap`] results (HubSpot's 10,000, scaled down), and a read that cannot window
//!   past it (more records than the cap at one modification time) fails;
//! * the provider reads that search with the key strategy of the HubSpot provider (each page a
//!   new query on modification time, then id; [`Strategy::Keyset`]), with that of the
//!   Pipedrive provider over times kept to the second (each page a new list from the newest
//!   second read; [`Strategy::Seconds`]), or, to show what they prevent, with the offset
//!   strategy the HubSpot provider replaced ([`Strategy::Offset`]);
//! * time passes with every call, and the CRM's clock is [`Sim::skew`] off this machine's;
//! * a write reaches the search [`Sim::index_lag`] later, while reads by id see it at once;
//! * before any call, scheduled [`Event`]s land: a user's edit, create, archive or merge (the
//!   merged-away id still reads and updates as the survivor), or a call fails ([`Fault`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::*;
use crate::clock::{Clock, FixedClock};
use crate::model::{Direction, ObjectKind};

#[derive(Debug, Default)]
struct State {
    /// (object, id) → record
    records: BTreeMap<(ObjectKind, String), RemoteRecord>,
    next_id: u64,
    clock: i64,
    writes: u64,
    /// After this many writes, every write call fails (after applying its first input).
    die_after: Option<u64>,
    /// A property whose values creates may not repeat (compared without case).
    unique: Option<String>,
    /// Archive the existing record right after refusing a create as its duplicate.
    archive_refused: bool,
    /// Every `field_times` call fails.
    fail_field_times: bool,
    /// How many ticks before the cursor each change-feed read starts (an overlap).
    overlap: i64,
    /// The simulation, when on.
    sim: Option<SimState>,
    /// The CRM it says it is ([`Provider::kind`]); HubSpot unless set.
    kind: Option<ProviderKind>,
}

/// How the CRM's search pages through one query's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `after` offsets over a result sorted and filtered again for every page (HubSpot).
    Offset,
    /// An opaque cursor continuing after the last record served (Pipedrive v2).
    Cursor,
    /// A query locator over the result as it was when the query began (Salesforce).
    Locator,
}

/// How the provider reads the change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Each page a new query from the newest modification time read (ids read at that time
    /// dropped), a page at one time paged by id, as the HubSpot provider reads; continuations
    /// that do not shift (cursor, locator) are followed.
    Keyset,
    /// The offsets of one query followed until the cap, then a new query from the newest time
    /// read: how the HubSpot provider read before, which loses records that move while it
    /// reads.
    Offset,
    /// As the Pipedrive provider reads, over a CRM that keeps times to the second: each page a
    /// new list sorted by modification time from the newest second read (inclusive, the ids
    /// read at that second dropped), whatever the paging; a page that is all one second is
    /// followed by that second paged by id, then the read goes on from the next second. The
    /// clock's skew is measured from a `Date` header, to the second.
    Seconds,
}

/// The misbehaviours of one simulated CRM.
#[derive(Debug, Clone)]
pub struct Sim {
    pub paging: Paging,
    pub strategy: Strategy,
    /// Records per page.
    pub page: usize,
    /// The most results one query reaches through its pages.
    pub cap: usize,
    /// How long after a write the search shows it (ms of the CRM's clock).
    pub index_lag: i64,
    /// How far the CRM's clock is ahead of this machine's (ms; negative: behind).
    pub skew: i64,
    /// How far each call moves the clocks (ms).
    pub tick: i64,
    /// The change feed's overlap (ms), built into its checkpoints as the HubSpot provider does.
    pub overlap: i64,
    /// This machine's clock, kept at the CRM's less the skew.
    pub local_clock: Arc<FixedClock>,
}

/// Something that happens in the CRM just before one of crmsync's calls.
#[derive(Debug, Clone)]
pub enum Event {
    /// A user sets a property of the `pick`th live record (in id order).
    Edit {
        pick: usize,
        prop: String,
        value: String,
    },
    /// A user (or another integration) creates a record; left out when a unique value is taken.
    Create { props: Vec<(String, String)> },
    /// A user archives the `pick`th live record.
    Archive { pick: usize },
    /// A user creates a record with `props` and merges the `pick`th live record into it: the
    /// new record keeps its own values and takes the rest (and the external id) from the old,
    /// whose id now reads and updates as the new one.
    Merge {
        pick: usize,
        props: Vec<(String, String)>,
    },
    /// The call fails.
    Fault(Fault),
}

/// A call that fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After`, after the HTTP layer's retries: nothing applied.
    RateLimited,
    /// 5xx: nothing applied.
    ServerError,
    /// The connection drops after the CRM applied the call: the answer is lost.
    Drop,
}

/// A value a CRM user (not crmsync) gave a property, in the order of [`MemoryCrm::next_seq`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserWrite {
    pub seq: u64,
    pub id: String,
    /// The record's external id when it was written.
    pub external_id: Option<String>,
    pub prop: String,
    pub value: String,
}

#[derive(Debug)]
struct SimState {
    sim: Sim,
    /// Calls served so far.
    calls: u64,
    /// Call number → what happens just before it.
    events: BTreeMap<u64, Vec<Event>>,
    /// When the search shows each record's last write.
    visible_at: BTreeMap<(ObjectKind, String), i64>,
    /// Merged-away id → the record it went into.
    merged_into: BTreeMap<(ObjectKind, String), String>,
    /// Open reads of the change feed, by page token.
    reads: BTreeMap<u64, FeedRead>,
    next_read: u64,
    seq: u64,
    log: Vec<UserWrite>,
    /// (object, id, property) → the value a CRM user wrote that no answer to crmsync has
    /// shown yet.
    unseen: BTreeMap<(ObjectKind, String, String), String>,
    /// Users' values crmsync overwrote before any answer showed them to it.
    overwritten: Vec<(String, String)>,
    /// Reads refused because more records than the cap share one modification time.
    cap_refusals: u64,
}

/// Where one read of the change feed stands.
#[derive(Debug, Clone)]
struct FeedRead {
    /// The current query: `GTE from` (`GT` when `past`), or `EQ tie.0 AND id GT tie.1`.
    from: Option<i64>,
    past: bool,
    tie: Option<(i64, u64)>,
    /// The query's position: results served so far, and the last one's (time, id).
    served: usize,
    last: Option<(i64, u64)>,
    /// A locator's result, fixed when its query began.
    snapshot: Option<Vec<RemoteRecord>>,
    newest: Option<i64>,
    at_newest: Vec<String>,
    old_since: Option<i64>,
    /// The CRM's clock when the read began.
    started: i64,
}

/// The in-memory CRM.
#[derive(Debug, Default)]
pub struct MemoryCrm {
    state: Mutex<State>,
    requests: AtomicU64,
    id_reads: AtomicU64,
    history_reads: AtomicU64,
    completed: AtomicU64,
}

/// The remote property that holds the external id.
pub const EXTERNAL_ID: &str = "crmsync_id";
/// The property listing the ids merged into a record, `;`-separated.
pub const MERGED_IDS: &str = "merged_ids";

impl MemoryCrm {
    pub fn new() -> MemoryCrm {
        MemoryCrm::default()
    }

    /// Makes it say it is `kind` of CRM, for what the engine decides by the CRM's
    /// capabilities (such as [`ProviderKind::reads_archived_by_id`]).
    pub fn speak_as(&self, kind: ProviderKind) {
        self.state.lock().unwrap().kind = Some(kind);
    }

    /// Makes the write calls fail once `n` more writes have been applied.
    pub fn die_after_writes(&self, n: Option<u64>) {
        let mut s = self.state.lock().unwrap();
        s.die_after = n.map(|n| s.writes + n);
    }

    /// Makes the values of `property` unique: a create repeating the value of a live record
    /// is refused with a duplicate error naming that record.
    pub fn unique(&self, property: &str) {
        self.state.lock().unwrap().unique = Some(property.to_string());
    }

    /// Makes a CRM user archive the existing record right after a create was refused as its
    /// duplicate, before crmsync can read it.
    pub fn archive_when_duplicated(&self, on: bool) {
        self.state.lock().unwrap().archive_refused = on;
    }

    /// Makes every [`Provider::field_times`] call fail (or succeed again).
    pub fn fail_field_times(&self, on: bool) {
        self.state.lock().unwrap().fail_field_times = on;
    }

    /// Edits a record as a CRM user would (absent value = clear).
    pub fn user_edit(&self, object: ObjectKind, id: &str, props: &[(&str, Option<&str>)]) {
        let at = {
            let mut s = self.state.lock().unwrap();
            s.clock += 1;
            s.clock
        };
        self.user_edit_at(object, id, props, at);
    }

    /// Edits a record as a CRM user would at time `at` (absent value = clear); later writes
    /// are stamped after it.
    pub fn user_edit_at(
        &self,
        object: ObjectKind,
        id: &str,
        props: &[(&str, Option<&str>)],
        at: i64,
    ) {
        let mut s = self.state.lock().unwrap();
        s.clock = s.clock.max(at);
        let now = Self::to_stamp(&s, at);
        let rec = s
            .records
            .get_mut(&(object, id.to_string()))
            .expect("record exists");
        for (k, v) in props {
            match v {
                Some(v) if !v.is_empty() => {
                    rec.props.insert(k.to_string(), v.to_string());
                }
                _ => {
                    rec.props.remove(*k);
                }
            }
            rec.prop_updated_at.insert(k.to_string(), now);
        }
        rec.updated_at = now;
        let props: BTreeMap<String, String> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.unwrap_or("").to_string()))
            .collect();
        Self::user_wrote(&mut s, object, id, &props);
        Self::written(&mut s, object, id);
    }

    /// Creates a record as a CRM user would; returns its id.
    pub fn user_create(&self, object: ObjectKind, props: &[(&str, &str)]) -> String {
        let at = {
            let mut s = self.state.lock().unwrap();
            s.clock += 1;
            s.clock
        };
        self.user_create_at(object, props, at)
    }

    /// Creates a record as a CRM user would have at logical time `at`: one stamped before the
    /// change feed's cursor is never read by an incremental sync.
    pub fn user_create_at(&self, object: ObjectKind, props: &[(&str, &str)], at: i64) -> String {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id.to_string();
        let now = Self::to_stamp(&s, at);
        let rec = RemoteRecord {
            id: id.clone(),
            props: props
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            updated_at: now,
            prop_updated_at: props.iter().map(|(k, _)| (k.to_string(), now)).collect(),
            archived: false,
            external_id: None,
            returned: None,
        };
        s.records.insert((object, id.clone()), rec);
        Self::written(&mut s, object, &id);
        id
    }

    /// Archives a record as a CRM user would.
    pub fn user_archive(&self, object: ObjectKind, id: &str) {
        let mut s = self.state.lock().unwrap();
        let now = Self::stamp(&mut s);
        let rec = s
            .records
            .get_mut(&(object, id.to_string()))
            .expect("record exists");
        rec.archived = true;
        rec.updated_at = now;
        Self::written(&mut s, object, id);
    }

    /// Every record of `object`, archived ones included.
    pub fn all(&self, object: ObjectKind) -> Vec<RemoteRecord> {
        let s = self.state.lock().unwrap();
        s.records
            .iter()
            .filter(|((o, _), _)| *o == object)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Calls of [`Provider::field_times`] that reached the CRM so far (one per batch).
    pub fn history_reads(&self) -> u64 {
        self.history_reads.load(Ordering::Relaxed)
    }

    /// Makes each change-feed read start `ticks` before its cursor, as HubSpot's does by
    /// the overlap, so records are read again at versions already synced.
    pub fn overlap(&self, ticks: i64) {
        self.state.lock().unwrap().overlap = ticks;
    }

    /// Records passed to [`Provider::complete`] so far.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Calls of [`Provider::read_by_ids`] made so far.
    pub fn id_reads(&self) -> u64 {
        self.id_reads.load(Ordering::Relaxed)
    }

    /// Write calls made so far.
    pub fn writes(&self) -> u64 {
        self.state.lock().unwrap().writes
    }

    /// Turns the simulation on (see the module docs).
    pub fn simulate(&self, sim: Sim) {
        let mut s = self.state.lock().unwrap();
        s.clock = s.clock.max(sim.local_clock.now() + sim.skew);
        s.sim = Some(SimState {
            sim,
            calls: 0,
            events: BTreeMap::new(),
            visible_at: BTreeMap::new(),
            merged_into: BTreeMap::new(),
            reads: BTreeMap::new(),
            next_read: 0,
            seq: 0,
            log: Vec::new(),
            unseen: BTreeMap::new(),
            overwritten: Vec::new(),
            cap_refusals: 0,
        });
    }

    /// How many reads of the change feed were refused because more records than
    /// [`Sim::cap`] share one modification time, so no new query could window past them.
    pub fn cap_refusals(&self) -> u64 {
        self.state
            .lock()
            .unwrap()
            .sim
            .as_ref()
            .map_or(0, |sim| sim.cap_refusals)
    }

    /// Sets the most results one query reaches ([`Sim::cap`]).
    pub fn set_cap(&self, cap: usize) {
        if let Some(sim) = self.state.lock().unwrap().sim.as_mut() {
            sim.sim.cap = cap;
        }
    }

    /// Makes `event` happen just before the `after`th call from now (0: the next one).
    pub fn schedule(&self, after: u64, event: Event) {
        let mut s = self.state.lock().unwrap();
        let sim = s.sim.as_mut().expect("simulation on");
        let at = sim.calls + after;
        sim.events.entry(at).or_default().push(event);
    }

    /// Lets `ms` pass on the CRM's clock (and this machine's), with no call.
    pub fn pass_time(&self, ms: i64) {
        let mut s = self.state.lock().unwrap();
        s.clock += ms;
        self.sync_local_clock(&s);
    }

    /// Drops the events not yet due.
    pub fn clear_schedule(&self) {
        if let Some(sim) = self.state.lock().unwrap().sim.as_mut() {
            sim.events.clear();
        }
    }

    /// The next number of a sequence shared with [`UserWrite::seq`], so a test can order its
    /// own edits among the CRM users'.
    pub fn next_seq(&self) -> u64 {
        let mut s = self.state.lock().unwrap();
        let sim = s.sim.as_mut().expect("simulation on");
        sim.seq += 1;
        sim.seq
    }

    /// What CRM users wrote through scheduled events.
    pub fn user_writes(&self) -> Vec<UserWrite> {
        let s = self.state.lock().unwrap();
        s.sim.as_ref().map(|x| x.log.clone()).unwrap_or_default()
    }

    /// The (property, value) pairs CRM users wrote that crmsync then overwrote before any of
    /// the CRM's answers had shown them to it: a search index lagging behind the user's
    /// write, or the write landing between crmsync's read and its own. No client of a CRM
    /// without conditional writes can keep such an edit.
    pub fn overwritten_unseen(&self) -> Vec<(String, String)> {
        let s = self.state.lock().unwrap();
        s.sim
            .as_ref()
            .map(|x| x.overwritten.clone())
            .unwrap_or_default()
    }

    /// Notes that a user wrote `props` on a record, not yet shown to crmsync.
    fn user_wrote(s: &mut State, object: ObjectKind, id: &str, props: &BTreeMap<String, String>) {
        if let Some(sim) = s.sim.as_mut() {
            for (k, v) in props {
                sim.unseen
                    .insert((object, id.to_string(), k.clone()), v.clone());
            }
        }
    }

    /// Notes that an answer showed crmsync these records as they are: the `properties` it
    /// asked for (`None`: all, as a write's answer).
    fn shown<'a>(
        s: &mut State,
        object: ObjectKind,
        ids: impl IntoIterator<Item = &'a String>,
        properties: Option<&[String]>,
    ) {
        if let Some(sim) = s.sim.as_mut() {
            for id in ids {
                sim.unseen.retain(|(o, i, p), _| {
                    !(*o == object && i == id && properties.is_none_or(|ps| ps.contains(p)))
                });
            }
        }
    }

    /// Notes what records an answer showed crmsync, with their values: a user's value is
    /// shown only by a record that carries it (a query locator's page serves the records as
    /// they were when the query ran, not a user's edit made since).
    fn shown_records(
        s: &mut State,
        object: ObjectKind,
        records: &[RemoteRecord],
        properties: &[String],
    ) {
        if let Some(sim) = s.sim.as_mut() {
            for rec in records {
                sim.unseen.retain(|(o, i, p), v| {
                    !(*o == object
                        && *i == rec.id
                        && properties.contains(p)
                        && rec.props.get(p).map_or("", String::as_str) == v.as_str())
                });
            }
        }
    }

    /// Notes that crmsync is writing `props` on a record: users' values it never saw go.
    fn crmsync_writes(
        s: &mut State,
        object: ObjectKind,
        id: &str,
        props: &BTreeMap<String, String>,
    ) {
        if let Some(sim) = s.sim.as_mut() {
            for k in props.keys() {
                if let Some(v) = sim.unseen.remove(&(object, id.to_string(), k.clone())) {
                    sim.overwritten.push((k.clone(), v));
                }
            }
        }
    }

    /// The record a merged-away id now stands for (itself when not merged).
    fn resolve(s: &State, object: ObjectKind, id: &str) -> String {
        let mut id = id.to_string();
        if let Some(sim) = &s.sim {
            while let Some(into) = sim.merged_into.get(&(object, id.clone())) {
                id = into.clone();
            }
        }
        id
    }

    /// The time a write is stamped with: the CRM's clock, moved on a millisecond (so that
    /// writes stay in order), to the second with [`Strategy::Seconds`].
    fn stamp(s: &mut State) -> i64 {
        s.clock += 1;
        Self::to_stamp(s, s.clock)
    }

    /// `at` as the CRM keeps record times: to the second with [`Strategy::Seconds`].
    fn to_stamp(s: &State, at: i64) -> i64 {
        match &s.sim {
            Some(sim) if sim.sim.strategy == Strategy::Seconds => at - at.rem_euclid(1000),
            _ => at,
        }
    }

    /// Notes that a record was written at the CRM's `now`: the search shows it after the lag.
    fn written(s: &mut State, object: ObjectKind, id: &str) {
        let now = s.clock;
        if let Some(sim) = s.sim.as_mut() {
            sim.visible_at
                .insert((object, id.to_string()), now + sim.sim.index_lag);
        }
    }

    /// Starts a call: time passes, due events land; `Err` for a call that fails before the
    /// CRM applies it, `Ok(true)` for one whose answer will be lost after it applies.
    fn begin(&self, s: &mut State) -> Result<bool, ProviderError> {
        let Some(sim) = s.sim.as_mut() else {
            return Ok(false);
        };
        let call = sim.calls;
        sim.calls += 1;
        let events = sim.events.remove(&call).unwrap_or_default();
        s.clock += s.sim.as_ref().unwrap().sim.tick;
        let mut lost = false;
        for e in events {
            match e {
                Event::Fault(Fault::Drop) => lost = true,
                Event::Fault(f) => {
                    self.sync_local_clock(s);
                    let (status, message) = match f {
                        Fault::RateLimited => (429, "rate limited; Retry-After: 10"),
                        _ => (503, "service unavailable"),
                    };
                    return Err(ProviderError::Api {
                        crm: "memory",
                        connection: "memory".into(),
                        status,
                        message: message.into(),
                    });
                }
                e => Self::happen(s, e),
            }
        }
        self.sync_local_clock(s);
        Ok(lost)
    }

    /// [`MemoryCrm::begin`] for a call that writes nothing: a lost answer is a failed call.
    fn begin_read(&self, s: &mut State) -> Result<(), ProviderError> {
        if self.begin(s)? {
            return Err(Self::died());
        }
        Ok(())
    }

    fn sync_local_clock(&self, s: &State) {
        if let Some(sim) = &s.sim {
            let local = &sim.sim.local_clock;
            local.set(local.now().max(s.clock - sim.sim.skew));
        }
    }

    /// A CRM user's event lands (contacts only).
    fn happen(s: &mut State, e: Event) {
        let object = ObjectKind::Contact;
        let now = Self::stamp(s);
        let live: Vec<String> = s
            .records
            .iter()
            .filter(|((o, _), r)| *o == object && !r.archived)
            .map(|((_, id), _)| id.clone())
            .collect();
        let pick = |i: usize| (!live.is_empty()).then(|| live[i % live.len()].clone());
        let mut log: Vec<(String, Option<String>, String, String)> = Vec::new();
        match e {
            Event::Edit {
                pick: i,
                prop,
                value,
            } => {
                let Some(id) = pick(i) else { return };
                let rec = s.records.get_mut(&(object, id.clone())).unwrap();
                if rec.props.get(&prop) == Some(&value) {
                    return;
                }
                if let Some(u) = &s.unique
                    && *u == prop
                {
                    return;
                }
                let props = BTreeMap::from([(prop.clone(), value.clone())]);
                apply_props(rec, &props, now);
                log.push((id.clone(), rec.external_id.clone(), prop, value));
                Self::user_wrote(s, object, &id, &props);
                Self::written(s, object, &id);
            }
            Event::Create { props } => {
                if Self::taken(s, object, &props) {
                    return;
                }
                s.next_id += 1;
                let id = s.next_id.to_string();
                let mut rec = RemoteRecord {
                    id: id.clone(),
                    ..RemoteRecord::default()
                };
                let props: BTreeMap<String, String> = props.into_iter().collect();
                apply_props(&mut rec, &props, now);
                for (k, v) in props {
                    log.push((id.clone(), None, k, v));
                }
                s.records.insert((object, id.clone()), rec);
                Self::written(s, object, &id);
            }
            Event::Archive { pick: i } => {
                let Some(id) = pick(i) else { return };
                let rec = s.records.get_mut(&(object, id.clone())).unwrap();
                rec.archived = true;
                rec.updated_at = now;
                Self::written(s, object, &id);
            }
            Event::Merge { pick: i, props } => {
                let Some(old_id) = pick(i) else { return };
                let old = s.records.remove(&(object, old_id.clone())).unwrap();
                s.next_id += 1;
                let id = s.next_id.to_string();
                let mut rec = RemoteRecord {
                    id: id.clone(),
                    props: old.props.clone(),
                    prop_updated_at: old.prop_updated_at.clone(),
                    external_id: old.external_id.clone(),
                    ..RemoteRecord::default()
                };
                let own: BTreeMap<String, String> =
                    props.into_iter().filter(|(_, v)| !v.is_empty()).collect();
                for (k, v) in &own {
                    if old.props.get(k) != Some(v) {
                        log.push((id.clone(), old.external_id.clone(), k.clone(), v.clone()));
                    }
                }
                apply_props(&mut rec, &own, now);
                // The survivor carries the merged-away record's values, and with them any a
                // user wrote there that crmsync has not been shown yet.
                if let Some(sim) = s.sim.as_mut() {
                    let carried: Vec<((ObjectKind, String, String), String)> = sim
                        .unseen
                        .iter()
                        .filter(|((o, i, _), _)| *o == object && *i == old_id)
                        .map(|((o, _, p), v)| ((*o, id.clone(), p.clone()), v.clone()))
                        .collect();
                    sim.unseen
                        .retain(|(o, i, _), _| !(*o == object && *i == old_id));
                    sim.unseen.extend(carried);
                }
                Self::user_wrote(s, object, &id, &own);
                let mut merged: Vec<String> = old
                    .props
                    .get(MERGED_IDS)
                    .map(|m| m.split(';').map(str::to_string).collect())
                    .unwrap_or_default();
                merged.push(old_id.clone());
                rec.props.insert(MERGED_IDS.into(), merged.join(";"));
                s.records.insert((object, id.clone()), rec);
                let sim = s.sim.as_mut().unwrap();
                sim.merged_into.insert((object, old_id), id.clone());
                Self::written(s, object, &id);
            }
            Event::Fault(_) => {}
        }
        let sim = s.sim.as_mut().unwrap();
        for (id, external_id, prop, value) in log {
            sim.seq += 1;
            let seq = sim.seq;
            sim.log.push(UserWrite {
                seq,
                id,
                external_id,
                prop,
                value,
            });
        }
    }

    /// Whether a create with `props` would repeat a unique value of a live record.
    fn taken(s: &State, object: ObjectKind, props: &[(String, String)]) -> bool {
        let Some(u) = &s.unique else { return false };
        let Some((_, value)) = props.iter().find(|(k, v)| k == u && !v.is_empty()) else {
            return false;
        };
        s.records.iter().any(|((o, _), r)| {
            *o == object
                && !r.archived
                && r.props
                    .get(u)
                    .is_some_and(|v| v.eq_ignore_ascii_case(value))
        })
    }

    /// Counts a write; `Err` when the CRM "dies" on this one (after applying it).
    fn count_write(s: &mut State) -> bool {
        s.writes += 1;
        matches!(s.die_after, Some(n) if s.writes >= n)
    }

    fn died() -> ProviderError {
        ProviderError::Network {
            crm: "memory",
            connection: "memory".into(),
            message: "the run was killed before the answer was committed".into(),
        }
    }
}

fn numeric(id: &str) -> u64 {
    id.parse().unwrap_or(u64::MAX)
}

impl MemoryCrm {
    /// The search: live matches of the read's current query, sorted by time then id (by id
    /// when paging one time).
    fn search(s: &State, object: ObjectKind, r: &FeedRead) -> Vec<RemoteRecord> {
        let sim = s.sim.as_ref().unwrap();
        let mut out: Vec<RemoteRecord> = s
            .records
            .iter()
            .filter(|((o, id), _)| {
                *o == object
                    && sim
                        .visible_at
                        .get(&(object, id.clone()))
                        .is_none_or(|at| *at <= s.clock)
            })
            .map(|(_, rec)| rec)
            .filter(|rec| match (r.tie, r.from) {
                (Some((at, last)), _) => rec.updated_at == at && numeric(&rec.id) > last,
                (None, Some(from)) if r.past => rec.updated_at > from,
                (None, Some(from)) => rec.updated_at >= from,
                (None, None) => true,
            })
            .map(without_times)
            .collect();
        out.sort_by_key(|rec| (rec.updated_at, numeric(&rec.id)));
        out
    }

    /// One page of the simulated change feed (see [`Paging`] and [`Strategy`]).
    fn sim_changes(
        s: &mut State,
        query: &ChangeQuery,
        properties: &[String],
    ) -> Result<ChangePage, ProviderError> {
        let object = query.object;
        let (paging, strategy, page, cap, overlap) = {
            let x = &s.sim.as_ref().unwrap().sim;
            (x.paging, x.strategy, x.page, x.cap, x.overlap)
        };
        let (token, mut r) = match &query.page {
            Some(t) => {
                let token: u64 = t.parse().expect("memory page token");
                let r = s.sim.as_mut().unwrap().reads.remove(&token);
                (token, r.expect("an open read"))
            }
            None => {
                let since: Option<i64> = query.since.as_deref().map(|c| c.parse().expect("cursor"));
                let sim = s.sim.as_mut().unwrap();
                sim.next_read += 1;
                let r = FeedRead {
                    from: since,
                    past: false,
                    tie: None,
                    served: 0,
                    last: None,
                    snapshot: None,
                    newest: None,
                    at_newest: Vec::new(),
                    old_since: since,
                    started: s.clock,
                };
                (sim.next_read, r)
            }
        };
        // This query's page, and whether the query has more after it.
        let (got, more) = match (paging, strategy) {
            (Paging::Offset, Strategy::Keyset) | (_, Strategy::Seconds) => {
                let all = Self::search(s, object, &r);
                let got: Vec<RemoteRecord> = all.into_iter().take(page).collect();
                let more = got.len() == page;
                (got, more)
            }
            (Paging::Offset, Strategy::Offset) => {
                let all = Self::search(s, object, &r);
                let got: Vec<RemoteRecord> =
                    all.iter().skip(r.served).take(page).cloned().collect();
                let more = all.len() > r.served + got.len();
                (got, more)
            }
            (Paging::Cursor, _) => {
                let all = Self::search(s, object, &r);
                let after = r.last;
                let rest: Vec<RemoteRecord> = all
                    .into_iter()
                    .filter(|rec| after.is_none_or(|l| (rec.updated_at, numeric(&rec.id)) > l))
                    .collect();
                let more = rest.len() > page;
                (rest.into_iter().take(page).collect(), more)
            }
            (Paging::Locator, _) => {
                if r.snapshot.is_none() {
                    r.snapshot = Some(Self::search(s, object, &r));
                }
                let snap = r.snapshot.as_ref().unwrap();
                let got: Vec<RemoteRecord> =
                    snap.iter().skip(r.served).take(page).cloned().collect();
                let more = snap.len() > r.served + got.len();
                (got, more)
            }
        };
        r.served += got.len();
        if let Some(l) = got.last() {
            r.last = Some((l.updated_at, numeric(&l.id)));
        }
        let full_page = got.len() == page;
        let (first_at, last_at) = (
            got.first().map(|x| x.updated_at),
            got.last().map(|x| x.updated_at),
        );
        let mut records = Vec::with_capacity(got.len());
        for rec in got {
            let at = rec.updated_at;
            if Some(at) == r.newest && r.at_newest.contains(&rec.id) {
                continue;
            }
            match r.newest {
                Some(n) if at < n => {}
                Some(n) if at == n => r.at_newest.push(rec.id.clone()),
                _ => {
                    r.newest = Some(at);
                    r.at_newest = vec![rec.id.clone()];
                }
            }
            records.push(rec);
        }
        // What comes next: the same query, a new one, or the end.
        let go_on = if paging == Paging::Offset && strategy == Strategy::Keyset
            || strategy == Strategy::Seconds
        {
            match r.tie {
                Some((at, _)) if full_page => {
                    r.tie = Some((at, r.last.unwrap().1));
                    true
                }
                Some((at, _)) => {
                    r.tie = None;
                    r.from = Some(at);
                    r.past = true;
                    r.at_newest.clear();
                    true
                }
                None if full_page => {
                    if first_at == last_at {
                        r.tie = Some((first_at.unwrap(), 0));
                    } else {
                        r.from = last_at;
                        r.past = false;
                    }
                    true
                }
                None => false,
            }
        } else if more && r.served + page <= cap {
            true
        } else if more {
            // The next page would pass the cap: a new query from the newest time read.
            let from = r.newest;
            if from.is_none() || from == r.from {
                s.sim.as_mut().unwrap().cap_refusals += 1;
                return Err(ProviderError::Other(format!(
                    "more than {cap} records share one modification time; the search cannot page past them"
                )));
            }
            r.from = from;
            r.past = false;
            r.served = 0;
            r.last = None;
            r.snapshot = None;
            true
        } else {
            false
        };
        // The checkpoint, on the CRM's clock, as the HubSpot provider builds it.
        let mut since = match (r.newest, r.old_since) {
            (Some(n), Some(old)) => (n - overlap).max(old),
            (Some(n), None) => n - overlap,
            (None, Some(old)) => old,
            (None, None) => r.started - overlap,
        };
        if !go_on {
            since = since.max(r.started - overlap);
        }
        Self::shown_records(s, object, &records, properties);
        let next = go_on.then(|| {
            s.sim.as_mut().unwrap().reads.insert(token, r);
            token.to_string()
        });
        Ok(ChangePage {
            records,
            next,
            checkpoint: Some(since.to_string()),
            total: None,
        })
    }
}

/// A record as the change feed and reads by id show it: without per-property times.
fn without_times(rec: &RemoteRecord) -> RemoteRecord {
    RemoteRecord {
        prop_updated_at: BTreeMap::new(),
        ..rec.clone()
    }
}

fn apply_props(rec: &mut RemoteRecord, props: &BTreeMap<String, String>, now: i64) {
    for (k, v) in props {
        if v.is_empty() {
            rec.props.remove(k);
        } else {
            rec.props.insert(k.clone(), v.clone());
        }
        rec.prop_updated_at.insert(k.clone(), now);
    }
    rec.updated_at = now;
}

#[async_trait]
impl Provider for MemoryCrm {
    fn kind(&self) -> ProviderKind {
        self.state
            .lock()
            .unwrap()
            .kind
            .unwrap_or(ProviderKind::Hubspot)
    }

    fn connection(&self) -> &str {
        "memory"
    }

    fn objects(&self) -> &[ObjectKind] {
        &[ObjectKind::Company, ObjectKind::Contact]
    }

    fn batch_size(&self) -> usize {
        10
    }

    fn default_mappings(&self, object: ObjectKind) -> Vec<DefaultMapping> {
        let both = |local, remote| DefaultMapping {
            local,
            remote,
            direction: Direction::Both,
        };
        match object {
            ObjectKind::Contact => vec![
                both("email", "email"),
                both("first_name", "firstname"),
                both("last_name", "lastname"),
                both("phone", "phone"),
                both("pronouns", "pronouns"),
                both("company_id", "associations.companies"),
            ],
            ObjectKind::Company => vec![both("name", "name"), both("domain", "domain")],
            ObjectKind::Activity => vec![],
            ObjectKind::Deal => vec![both("name", "dealname"), both("stage", "dealstage")],
        }
    }

    async fn changes(
        &self,
        query: &ChangeQuery,
        properties: &[String],
    ) -> Result<ChangePage, ProviderError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap();
        if s.sim.is_some() {
            self.begin_read(&mut s)?;
            return Self::sim_changes(&mut s, query, properties);
        }
        let cursor: Option<i64> = query
            .since
            .as_deref()
            .map(|c| c.parse().expect("memory cursor"));
        let since = cursor.map_or(i64::MIN, |c| c - s.overlap);
        let mut records: Vec<RemoteRecord> = s
            .records
            .iter()
            .filter(|((o, _), r)| *o == query.object && r.updated_at > since)
            .map(|(_, r)| without_times(r))
            .collect();
        records.sort_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id)));
        let checkpoint = records
            .last()
            .map(|r| r.updated_at)
            .unwrap_or(0)
            .max(cursor.unwrap_or(0));
        Ok(ChangePage {
            records,
            next: None,
            checkpoint: Some(checkpoint.to_string()),
            total: None,
        })
    }

    async fn complete(
        &self,
        _object: ObjectKind,
        records: &mut [RemoteRecord],
        _properties: &[String],
    ) -> Result<(), ProviderError> {
        if !records.is_empty() {
            self.requests.fetch_add(1, Ordering::Relaxed);
            self.completed
                .fetch_add(records.len() as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn create(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap();
        let lost = self.begin(&mut s)?;
        let die = Self::count_write(&mut s) || lost;
        let now = Self::stamp(&mut s);
        let mut out = Vec::new();
        for input in inputs {
            // Upsert by external id: a retried create finds the first record.
            let existing = s
                .records
                .iter()
                .find(|((o, _), r)| {
                    *o == object && r.external_id.as_deref() == Some(&input.local_id)
                })
                .map(|((_, id), _)| id.clone());
            let taken = s.unique.as_ref().and_then(|prop| {
                let value = input.props.get(prop).filter(|v| !v.is_empty())?;
                s.records
                    .iter()
                    .find(|((o, _), r)| {
                        *o == object
                            && !r.archived
                            && r.props
                                .get(prop)
                                .is_some_and(|v| v.eq_ignore_ascii_case(value))
                    })
                    .map(|((_, id), _)| id.clone())
            });
            let id = match (existing, taken) {
                (Some(id), _) => id,
                (None, Some(other)) => {
                    if s.archive_refused
                        && let Some(rec) = s.records.get_mut(&(object, other.clone()))
                    {
                        rec.archived = true;
                        rec.updated_at = now;
                    }
                    out.push(Err(RecordError {
                        message: format!("Record already exists. Existing ID: {other}"),
                        code: None,
                        retryable: false,
                        kind: RecordErrorKind::Duplicate {
                            existing_id: other.clone(),
                        },
                    }));
                    if die {
                        return Err(Self::died());
                    }
                    continue;
                }
                (None, None) => {
                    s.next_id += 1;
                    let id = s.next_id.to_string();
                    s.records.insert(
                        (object, id.clone()),
                        RemoteRecord {
                            id: id.clone(),
                            external_id: Some(input.local_id.clone()),
                            ..RemoteRecord::default()
                        },
                    );
                    id
                }
            };
            Self::crmsync_writes(&mut s, object, &id, &input.props);
            Self::shown(&mut s, object, [&id], None);
            let rec = s.records.get_mut(&(object, id.clone())).unwrap();
            apply_props(rec, &input.props, now);
            out.push(Ok(rec.clone()));
            Self::written(&mut s, object, &id);
            if die {
                return Err(Self::died());
            }
        }
        Ok(out)
    }

    async fn update(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap();
        let lost = self.begin(&mut s)?;
        let die = Self::count_write(&mut s) || lost;
        let now = Self::stamp(&mut s);
        let mut out = Vec::new();
        for input in inputs {
            let asked = input.remote_id.clone().unwrap_or_default();
            // A merged-away id is answered by the record it went into.
            let id = Self::resolve(&s, object, &asked);
            match s.records.get_mut(&(object, id.clone())) {
                Some(rec) if !rec.archived => {
                    Self::crmsync_writes(&mut s, object, &id, &input.props);
                    // The answer shows crmsync the properties it wrote (HubSpot's batch
                    // update answers with those), not a user's edit of another one.
                    let written: Vec<String> = input.props.keys().cloned().collect();
                    Self::shown(&mut s, object, [&id], Some(&written));
                    let rec = s.records.get_mut(&(object, id.clone())).unwrap();
                    apply_props(rec, &input.props, now);
                    if input.set_external_id {
                        rec.external_id = Some(input.local_id.clone());
                    }
                    out.push(Ok(rec.clone()));
                    Self::written(&mut s, object, &id);
                }
                _ => out.push(Err(RecordError {
                    message: format!("record {id} not found"),
                    code: Some("404".into()),
                    retryable: false,
                    kind: RecordErrorKind::Refused,
                })),
            }
            if die {
                return Err(Self::died());
            }
        }
        Ok(out)
    }

    async fn archive(
        &self,
        object: ObjectKind,
        remote_ids: &[String],
    ) -> Result<WriteResults<()>, ProviderError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap();
        let lost = self.begin(&mut s)?;
        let die = Self::count_write(&mut s) || lost;
        let now = Self::stamp(&mut s);
        let mut out = Vec::new();
        for id in remote_ids {
            let id = Self::resolve(&s, object, id);
            if let Some(rec) = s.records.get_mut(&(object, id.clone())) {
                rec.archived = true;
                rec.updated_at = now;
                Self::written(&mut s, object, &id);
            }
            out.push(Ok(()));
            if die {
                return Err(Self::died());
            }
        }
        Ok(out)
    }

    async fn read_by_ids(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        let batch = self.batch_size();
        let calls = ids.len().div_ceil(batch) as u64;
        self.requests.fetch_add(calls, Ordering::Relaxed);
        self.id_reads.fetch_add(calls, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap();
        self.begin_read(&mut s)?;
        let out: Vec<RemoteRecord> = ids
            .iter()
            .map(|id| Self::resolve(&s, object, id))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter_map(|id| s.records.get(&(object, id)))
            .filter(|r| !r.archived)
            .map(without_times)
            .collect();
        Self::shown_records(&mut s, object, &out, properties);
        Ok(out)
    }

    async fn field_times(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<FieldTimes, ProviderError> {
        let calls = ids.len().div_ceil(self.batch_size()) as u64;
        self.requests.fetch_add(calls, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap();
        self.begin_read(&mut s)?;
        if s.fail_field_times {
            return Err(ProviderError::Api {
                crm: "memory",
                connection: "memory".into(),
                status: 502,
                message: "the history read failed".into(),
            });
        }
        self.history_reads.fetch_add(calls, Ordering::Relaxed);
        Ok(ids
            .iter()
            .filter_map(|id| s.records.get(&(object, id.clone())))
            .filter(|r| !r.archived)
            .map(|r| {
                let times = r
                    .prop_updated_at
                    .iter()
                    .filter(|(p, _)| properties.contains(p))
                    .map(|(p, at)| (p.clone(), *at))
                    .collect();
                (r.id.clone(), times)
            })
            .collect())
    }

    async fn find_by_external_id(
        &self,
        object: ObjectKind,
        local_ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap();
        self.begin_read(&mut s)?;
        let out: Vec<RemoteRecord> = s
            .records
            .iter()
            .filter(|((o, _), r)| {
                *o == object
                    && r.external_id
                        .as_ref()
                        .is_some_and(|e| local_ids.contains(e))
            })
            .map(|(_, r)| r.clone())
            .collect();
        Self::shown_records(&mut s, object, &out, properties);
        Ok(out)
    }

    async fn fields(&self, object: ObjectKind) -> Result<Vec<RemoteField>, ProviderError> {
        Ok(self
            .default_mappings(object)
            .into_iter()
            .map(|m| RemoteField {
                open_options: false,
                max_length: None,
                name: m.remote.to_string(),
                label: m.remote.to_string(),
                remote_type: "string".into(),
                kind: RemoteFieldKind::Text,
                read_only: false,
                unique: false,
                options: Vec::new(),
            })
            .collect())
    }

    async fn create_field(
        &self,
        _object: ObjectKind,
        _spec: &FieldSpec,
    ) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn account(&self) -> Result<AccountInfo, ProviderError> {
        Ok(AccountInfo {
            id: "memory".into(),
            account: "memory".into(),
            scopes: vec![],
        })
    }

    fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn merged_from(&self, record: &RemoteRecord) -> Vec<String> {
        record
            .props
            .get(MERGED_IDS)
            .map(|m| m.split(';').map(str::to_string).collect())
            .unwrap_or_default()
    }

    fn clock_skew(&self) -> Option<Millis> {
        let s = self.state.lock().unwrap();
        let sim = &s.sim.as_ref()?.sim;
        if sim.strategy != Strategy::Seconds {
            return Some(sim.skew);
        }
        // A `Date` header's whole second, taken at its middle, against this machine's clock.
        let date = s.clock - s.clock.rem_euclid(1000);
        Some(date + 500 - sim.local_clock.now())
    }
}
