//! Pacing: keeping a client's requests within the limits its CRM sets.
//!
//! A provider describes its CRM's limits as a [`PacingPolicy`]; the shared [`Pacer`] enforces
//! it around every request. The policy has three parts, each optional:
//!
//! - **A window** ([`WindowPolicy`]), read from the rate-limit headers of each answer as a
//!   [`RateInfo`] (`max`, `remaining`, `window`). From the last reading and the client's own
//!   requests since (each leaves the window a window after its answer) the pacer works out the
//!   room the window has now, and sends at once while that is more than the margin
//!   (`http.rate_limit_margin`); it waits only when the window is full, until its oldest request
//!   leaves it. A short job is done in one burst; a long one fills each window and waits out
//!   the rest, never spacing requests evenly while there is room. This serves a rolling window
//!   and a short burst window alike (a fixed window is a rolling one counted a little
//!   cautiously).
//! - **Fixed-rate lanes** ([`FixedRate`]): requests sent on [`Lane::Fixed`] keep a fixed
//!   number a second, 5% under the CRM's rate, whatever the headers say, and do not count
//!   against the window.
//! - **A daily allowance** ([`DailyBudget`]): the requests (or tokens) the CRM still allows
//!   today, read from the headers as a [`DailyInfo`], less the client's own requests since the
//!   reading. Once that is down to the [`Reserve`], a request fails at once with
//!   [`ProviderError::DailyLimit`](crate::providers::ProviderError::DailyLimit) instead of
//!   waiting for a new day.
//!
//! So a rolling ten-second window with a search lane, a two-second burst window with a daily
//! token budget, and a daily allocation with a reserve and no window are each one policy.
//!
//! Waits are measured against the client's [`Clock`]. In no-sleep mode they are computed and
//! logged but not slept, and the pacer keeps a virtual offset so that it still sees time move
//! as if it had slept.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::clock::Clock;
use crate::model::Millis;

/// What a CRM's rate-limit headers say about the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    /// Requests allowed per window.
    pub max: u64,
    /// Requests left in the current window.
    pub remaining: u64,
    /// The window's length.
    pub window: Duration,
}

/// What a CRM's headers say about its daily allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyInfo {
    /// Requests (or tokens) allowed a day.
    pub max: u64,
    /// Requests (or tokens) left today.
    pub remaining: u64,
}

/// A CRM's limits, as a provider describes them to the shared client.
#[derive(Debug, Clone, Default)]
pub struct PacingPolicy {
    /// The window the CRM's headers tell of, which [`Lane::General`] is paced by; `None`: the
    /// CRM has none (requests go out as fast as they are sent).
    pub window: Option<WindowPolicy>,
    /// Lanes held to a fixed rate, named by [`Lane::Fixed`].
    pub fixed: Vec<FixedRate>,
    /// The allowance of a day, which every request counts against.
    pub daily: Option<DailyBudget>,
}

/// A rate-limit window told in each answer's headers.
#[derive(Debug, Clone, Copy)]
pub struct WindowPolicy {
    /// Reads the window from an answer's headers.
    pub read: fn(&HeaderMap) -> Option<RateInfo>,
}

/// A lane held to a fixed rate whatever the headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedRate {
    /// The lane's name, as [`Lane::Fixed`] gives it.
    pub lane: &'static str,
    /// The CRM's rate; the pacer keeps 5% under it.
    pub per_second: u32,
}

/// A daily allowance told in each answer's headers.
#[derive(Debug, Clone, Copy)]
pub struct DailyBudget {
    /// Reads the allowance from an answer's headers.
    pub read: fn(&HeaderMap) -> Option<DailyInfo>,
    /// How much of it crmsync leaves for the account's other uses.
    pub reserve: Reserve,
    /// What one request (method, path) costs of it: 1 where the CRM counts requests, the
    /// operation's token cost where it counts tokens.
    pub cost: fn(&str, &str) -> u64,
}

/// The part of a daily allowance left unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// A number of requests (or tokens).
    Requests(u64),
    /// A share of the day's allowance, in percent.
    Percent(u8),
}

impl Reserve {
    /// The requests kept back of an allowance of `max` a day.
    pub fn of(self, max: u64) -> u64 {
        match self {
            Reserve::Requests(n) => n,
            Reserve::Percent(p) => max.saturating_mul(u64::from(p.min(100))).div_ceil(100),
        }
    }
}

/// Which pacing lane a request goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Paced by the CRM's window ([`PacingPolicy::window`]).
    General,
    /// The fixed-rate lane of this name ([`PacingPolicy::fixed`]); a name the policy does not
    /// list is paced as [`Lane::General`].
    Fixed(&'static str),
}

/// Why the client waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// The window was full.
    Pacing,
    /// A fixed-rate lane's interval.
    FixedRate,
    /// Backing off before a retry.
    Retry,
}

#[derive(Debug, Default)]
struct LaneState {
    /// When the previous request on this lane started (clock ms, virtual offset included).
    last_start: Option<Millis>,
    /// The interval the next request must keep after `last_start`.
    interval: Millis,
}

/// A request sent on the general lane, as the pacer keeps it until it has left the window.
#[derive(Debug, Clone, Copy)]
struct Sent {
    seq: u64,
    /// When it was sent (clock ms): the CRM counted it no earlier.
    sent: Millis,
    /// When its answer (or its failure) came back: the CRM counted it no later.
    answered: Option<Millis>,
}

/// The last rate-limit headers read, and which request they answered.
#[derive(Debug, Clone, Copy)]
struct Observed {
    seq: u64,
    /// When the answer carrying them came back.
    at: Millis,
    info: RateInfo,
}

/// The general lane: what the CRM last said about its window, and this client's own
/// requests since, from which the room left in the window now is worked out.
#[derive(Debug, Default)]
struct WindowState {
    next_seq: u64,
    observed: Option<Observed>,
    /// Requests not yet known to have left the window, oldest first.
    sent: VecDeque<Sent>,
}

/// How long a request sent and never settled holds its place. A [`Ticket`] settles when it
/// is dropped, so this is only a backstop: a window state outlives its client's run (see
/// [`Pacer::shared`]), and no request is in flight for this long.
const ABANDONED_MS: Millis = 10 * 60 * 1000;

/// Slack added to a request's answer time before it counts as out of the CRM's window: the
/// clock reads whole milliseconds, and the CRM timed the request a little before its answer.
const WINDOW_SLACK_MS: Millis = 2;

impl WindowState {
    /// Whether `s` has left the window by `now` (counted by the CRM at its answer at the
    /// latest).
    fn left(s: &Sent, window: Millis, now: Millis) -> bool {
        s.answered
            .is_some_and(|a| a + window + WINDOW_SLACK_MS <= now)
    }

    /// Whether `s` is in the count of reading `o`: it is the request the reading answered,
    /// or one sent before it and answered before the reading came back. One sent before it
    /// and still out then may have reached the CRM after it, with several requests in flight
    /// at once, so it is counted again until it leaves.
    fn counted(s: &Sent, o: &Observed) -> bool {
        s.seq == o.seq || (s.seq < o.seq && s.answered.is_some_and(|a| a <= o.at))
    }

    /// Requests the window still has room for at `now`, as far as this client can tell: what
    /// the CRM last said, less this client's requests sent since, plus its requests the CRM
    /// had counted then that have left the window since. Requests of others (other processes
    /// of the same app) are seen only through the headers; once a whole window has passed
    /// since they were read, everything they counted has left it. And never more than this
    /// client's own requests in the window leave: with several in flight, the CRM may have
    /// counted them in another order than they were sent. `None` when the CRM has said
    /// nothing about its window.
    fn room(&self, now: Millis) -> Option<i64> {
        let o = self.observed?;
        let window = (o.info.window.as_millis() as Millis).max(1);
        let max = o.info.max as i64;
        let stale = now >= o.at + window + WINDOW_SLACK_MS;
        let mut room = if stale { max } else { o.info.remaining as i64 };
        // This client's own requests still in the window, however the CRM's count was
        // ordered among them: the room is never more than they leave.
        let mut own = 0;
        for s in &self.sent {
            let left = Self::left(s, window, now);
            if !left {
                own += 1;
            }
            if stale || !Self::counted(s, &o) {
                // Not in the count the CRM sent (or that count is stale): in the window until
                // it leaves.
                if !left {
                    room -= 1;
                }
            } else if left && s.sent + window > o.at {
                // Counted by the CRM then (it was sent less than a window before), gone now.
                room += 1;
            }
        }
        Some(room.min(max - own))
    }

    /// When the room in the window next grows: the first of this client's requests to leave
    /// it, or the moment the last reading becomes a window old.
    fn next_room(&self, now: Millis) -> Option<Millis> {
        let o = self.observed?;
        let window = (o.info.window.as_millis() as Millis).max(1);
        let own = self
            .sent
            .iter()
            .filter(|s| !Self::left(s, window, now))
            .filter_map(|s| s.answered)
            .map(|a| a + window + WINDOW_SLACK_MS)
            .min();
        let stale = o.at + window + WINDOW_SLACK_MS;
        let stale = (stale > now).then_some(stale);
        match (own, stale) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Forgets requests that have left the window and no longer matter to the last reading
    /// (or every one but the newest thousand, while the CRM sends no headers).
    fn prune(&mut self, now: Millis) {
        let Some(o) = self.observed else {
            while self.sent.len() > 1000 {
                self.sent.pop_front();
            }
            return;
        };
        let window = (o.info.window.as_millis() as Millis).max(1);
        let fresh = now < o.at + window + WINDOW_SLACK_MS;
        self.sent.retain(|s| {
            let abandoned = s.answered.is_none() && s.sent + ABANDONED_MS <= now;
            !abandoned
                && (!Self::left(s, window, now)
                    || (fresh && Self::counted(s, &o) && s.sent + window > o.at))
        });
    }

    /// Takes a place for a request at `now` when the window has more room than `margin`;
    /// else says how long to wait before asking again.
    fn take(&mut self, now: Millis, margin: u64) -> Result<u64, Millis> {
        self.prune(now);
        if self.room(now).is_none_or(|r| r > margin as i64) {
            self.next_seq += 1;
            self.sent.push_back(Sent {
                seq: self.next_seq,
                sent: now,
                answered: None,
            });
            return Ok(self.next_seq);
        }
        // Nothing of this client's will leave the window before its answer: look again a
        // little later.
        let poll = self
            .observed
            .map_or(100, |o| {
                o.info.window.as_millis() as Millis / o.info.max.max(1) as Millis
            })
            .max(1);
        let until = self.next_room(now).unwrap_or(now + poll);
        Err((until - now).max(1))
    }

    /// Request `seq` was answered (or failed) at `now`, with `info` in its headers.
    fn settle(&mut self, seq: u64, now: Millis, info: Option<RateInfo>) {
        if let Some(s) = self.sent.iter_mut().find(|s| s.seq == seq) {
            s.answered = Some(now);
        }
        if let Some(info) = info
            && self.observed.is_none_or(|o| o.seq <= seq)
        {
            self.observed = Some(Observed { seq, at: now, info });
        }
    }
}

/// The daily allowance as last read, and this client's requests it may not count.
///
/// With several requests in flight the CRM may count them in another order than they were
/// sent, so no one answer tells for certain what the others left. What is certain: within a
/// day the allowance only goes down, so of answers to requests out together the lowest is the
/// newest; and a request sent after an answer came back was counted after it. The estimate
/// is the reading less every request still out and every one that failed unread, which may
/// count a request twice but never leaves one out. When that is down to the reserve while
/// requests are still out, the pacer waits for their answers before it refuses, so that what
/// it says is left is what their answers told, not a guess.
#[derive(Debug, Default)]
struct DailyState {
    reading: Option<DailyInfo>,
    /// The place of the last request taken when `reading` came back: one taken after it was
    /// sent after, and its answer is newer whatever it says (a higher one means a new day).
    read_at: u64,
    /// The place of the last request taken.
    taken: u64,
    /// The requests sent and not settled yet: their place and cost.
    out: std::collections::BTreeMap<u64, u64>,
    /// Requests settled without a reading (failed, or no header): the place of the last
    /// request taken when each settled, and its cost. The CRM may have counted it, and the
    /// answer of a request taken after it settled tells.
    unread: Vec<(u64, u64)>,
}

/// Why the daily allowance does not let a request go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DailyRefusal {
    /// It is down to the reserve.
    Spent(DailySpent),
    /// It may be, by a count that takes requests still out as not yet counted: ask again once
    /// one of them is answered.
    Wait,
}

impl DailyState {
    /// What is left as far as this client can be sure: the reading less what may not be
    /// counted in it.
    fn left(&self, reading: DailyInfo) -> u64 {
        let uncounted: u64 =
            self.out.values().sum::<u64>() + self.unread.iter().map(|(_, c)| c).sum::<u64>();
        reading.remaining.saturating_sub(uncounted)
    }

    /// Takes a request costing `cost` of the allowance, or says why not.
    fn take(&mut self, reserve: Reserve, cost: u64) -> Result<u64, DailyRefusal> {
        let cost = cost.max(1);
        if let Some(spent) = self.spent(reserve)
            && spent.remaining < spent.reserve.saturating_add(cost)
        {
            if !self.out.is_empty() {
                return Err(DailyRefusal::Wait);
            }
            return Err(DailyRefusal::Spent(spent));
        }
        self.taken += 1;
        self.out.insert(self.taken, cost);
        Ok(self.taken)
    }

    /// What is left and kept back now, as a refusal would tell it.
    fn spent(&self, reserve: Reserve) -> Option<DailySpent> {
        let r = self.reading?;
        Some(DailySpent {
            remaining: self.left(r),
            reserve: reserve.of(r.max),
        })
    }

    /// Request `place` is settled (answered or failed), its answer telling `info`.
    fn settle(&mut self, place: u64, info: Option<DailyInfo>) {
        let cost = self.out.remove(&place);
        let Some(info) = info else {
            if let Some(cost) = cost {
                self.unread.push((self.taken, cost));
            }
            return;
        };
        let newer = self
            .reading
            .is_none_or(|r| place > self.read_at || info.remaining <= r.remaining);
        if newer {
            self.reading = Some(info);
            self.read_at = self.taken;
            // Those that failed before this request was sent are in its count.
            self.unread.retain(|&(at, _)| place <= at);
        }
    }
}

/// The daily allowance is down to its reserve: `remaining` left, `reserve` kept back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailySpent {
    pub remaining: u64,
    pub reserve: u64,
}

/// What a client's requests have taken of the CRM's window and fixed-rate lanes. Shared by
/// every client of this process that sends with the same credentials to the same host
/// ([`Pacer::shared`]), so that the next run of a long-lived process (`listen` runs one a batch)
/// starts from what the last left in the window instead of sending blind into it.
#[derive(Debug, Default)]
struct Taken {
    general: WindowState,
    fixed: HashMap<&'static str, LaneState>,
}

/// The window states of [`Pacer::shared`], by key.
type Registry = Mutex<HashMap<String, Arc<Mutex<Taken>>>>;

fn registry() -> &'static Registry {
    static SHARED: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    SHARED.get_or_init(Registry::default)
}

#[derive(Debug, Default)]
struct PacerState {
    /// The daily allowance is the client's own: a reading at the reserve would otherwise
    /// outlive the day it was read in, in a process that sends nothing more to read it again.
    daily: DailyState,
    /// Time that was computed as waited but not slept (no-sleep mode).
    skipped: Millis,
    waits: Vec<(WaitReason, Duration)>,
}

/// A request's place with the pacer, handed back with its answer ([`Pacer::settle`]). One
/// dropped unsettled (its request's future dropped, as when a run is cut short) settles as a
/// request that failed, so that it holds no place and is waited for by no one.
#[derive(Debug)]
pub struct Ticket<'a> {
    pacer: &'a Pacer,
    /// Its place in the window, for a request on [`Lane::General`].
    window: Option<u64>,
    /// Its place among the requests counted against the daily allowance.
    place: u64,
    settled: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.pacer.settle_place(self.window, self.place, None);
        }
    }
}

/// How long a request that would reach into the reserve by a count of requests still out
/// waits for their answers before it is refused on that count.
const SETTLE_WAIT: Duration = Duration::from_secs(120);

/// Enforces one client's [`PacingPolicy`].
pub struct Pacer {
    policy: PacingPolicy,
    /// Requests of the window left unused.
    margin: u64,
    no_sleep: bool,
    clock: Arc<dyn Clock>,
    taken: Arc<Mutex<Taken>>,
    state: Mutex<PacerState>,
    /// Told each time a request is settled.
    settled: tokio::sync::Notify,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

impl Pacer {
    pub fn new(policy: PacingPolicy, margin: u64, no_sleep: bool, clock: Arc<dyn Clock>) -> Pacer {
        Pacer {
            policy,
            margin,
            no_sleep,
            clock,
            taken: Arc::default(),
            state: Mutex::new(PacerState::default()),
            settled: tokio::sync::Notify::new(),
        }
    }

    /// A pacer that shares what is taken of the window with every other pacer of this
    /// process made with the same `key` (the host and the credentials' connection). A pacer
    /// in no-sleep mode keeps its own: its time is virtual.
    pub fn shared(
        policy: PacingPolicy,
        margin: u64,
        no_sleep: bool,
        clock: Arc<dyn Clock>,
        key: &str,
    ) -> Pacer {
        let mut pacer = Pacer::new(policy, margin, no_sleep, clock);
        if !no_sleep {
            let mut all = registry().lock().expect("pacer registry");
            pacer.taken = all.entry(key.to_string()).or_default().clone();
        }
        pacer
    }

    fn taken(&self) -> std::sync::MutexGuard<'_, Taken> {
        self.taken.lock().expect("pacer window lock")
    }

    /// Every wait computed so far, slept or not, in order.
    pub fn waits(&self) -> Vec<(WaitReason, Duration)> {
        self.lock().waits.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PacerState> {
        self.state.lock().expect("pacer lock")
    }

    fn now(&self, state: &PacerState) -> Millis {
        self.clock.now() + state.skipped
    }

    /// Waits until a request on `lane` may be sent, and returns its ticket; fails at once when
    /// the daily allowance is down to its reserve.
    ///
    /// The general lane sends at once while the CRM's window has more room than the margin (a
    /// rolling window serves a burst as well as an even rate, so a short job is done at once
    /// and a long one fills each window), and waits only when it has not, until the room grows
    /// (see [`WindowState::room`]). A fixed-rate lane keeps its rate.
    pub async fn pace(&self, lane: Lane) -> Result<Ticket<'_>, DailySpent> {
        self.pace_costing(lane, 1).await
    }

    /// What a request (`method`, `path`) costs of the daily allowance ([`DailyBudget::cost`];
    /// 1 without one).
    pub fn daily_cost(&self, method: &str, path: &str) -> u64 {
        self.policy.daily.map_or(1, |d| (d.cost)(method, path))
    }

    /// [`Pacer::pace`] for a request that costs `cost` of the daily allowance: refused when
    /// it would reach into the reserve.
    pub async fn pace_costing(&self, lane: Lane, cost: u64) -> Result<Ticket<'_>, DailySpent> {
        let place = match self.policy.daily {
            Some(daily) => self.take_daily(daily.reserve, cost).await?,
            None => 0,
        };
        let ticket = |window| Ticket {
            pacer: self,
            window,
            place,
            settled: false,
        };
        let fixed = match lane {
            Lane::Fixed(name) => self.policy.fixed.iter().find(|f| f.lane == name).copied(),
            Lane::General => None,
        };
        if let Some(fixed) = fixed {
            self.pace_fixed(fixed).await;
            return Ok(ticket(None));
        }
        loop {
            let wait = {
                let now = self.now(&self.lock());
                match self.taken().general.take(now, self.margin) {
                    Ok(seq) => return Ok(ticket(Some(seq))),
                    Err(wait) => wait,
                }
            };
            tracing::debug!(
                wait_ms = wait,
                margin = self.margin,
                "the rate-limit window is full"
            );
            self.wait(WaitReason::Pacing, Duration::from_millis(wait as u64))
                .await;
        }
    }

    /// Takes a place among the requests counted against the daily allowance. When the count
    /// of requests still out would reach into the reserve, waits for their answers first
    /// (at most [`SETTLE_WAIT`]), since they tell what is left for certain.
    async fn take_daily(&self, reserve: Reserve, cost: u64) -> Result<u64, DailySpent> {
        let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            match self.lock().daily.take(reserve, cost.max(1)) {
                Ok(place) => return Ok(place),
                Err(DailyRefusal::Spent(spent)) => return Err(spent),
                Err(DailyRefusal::Wait) => {}
            }
            tracing::debug!(
                "the daily allowance may be down to its reserve: waiting for the answers of requests out"
            );
            if tokio::time::timeout_at(deadline, settled).await.is_err() {
                let spent = self.lock().daily.spent(reserve);
                return Err(spent.expect("a reading, since the allowance refused"));
            }
        }
    }

    async fn pace_fixed(&self, fixed: FixedRate) {
        let wait = {
            let now = self.now(&self.lock());
            let mut taken = self.taken();
            // 5% under the CRM's rate: at exactly the limit, a little jitter puts one request
            // too many in some second, and its 429 costs a second's wait.
            let interval = 1000 * 105 / (100 * Millis::from(fixed.per_second.max(1)));
            let lane = taken.fixed.entry(fixed.lane).or_default();
            lane.interval = interval;
            let wait = match lane.last_start {
                Some(last) => (last + lane.interval - now).max(0),
                None => 0,
            };
            lane.last_start = Some(now + wait);
            wait
        };
        if wait > 0 {
            self.wait(WaitReason::FixedRate, Duration::from_millis(wait as u64))
                .await;
        }
    }

    /// Settles a request once its answer is in (or it failed, `headers` then `None`): a
    /// general-lane request leaves the CRM's window a window later, and the window and the
    /// daily allowance its answer tells of, when they are the newest, are what the pacer goes
    /// by.
    pub fn settle(&self, mut ticket: Ticket<'_>, headers: Option<&HeaderMap>) {
        ticket.settled = true;
        self.settle_place(ticket.window, ticket.place, headers);
    }

    fn settle_place(&self, window_seq: Option<u64>, place: u64, headers: Option<&HeaderMap>) {
        let window = self
            .policy
            .window
            .zip(headers)
            .and_then(|(w, h)| (w.read)(h));
        let daily = self
            .policy
            .daily
            .zip(headers)
            .and_then(|(d, h)| (d.read)(h));
        {
            let mut state = self.lock();
            let now = self.now(&state);
            if let Some(seq) = window_seq {
                self.taken().general.settle(seq, now, window);
            }
            if self.policy.daily.is_some() {
                state.daily.settle(place, daily);
            }
        }
        self.settled.notify_waiters();
    }

    /// Waits `d` (or, in no-sleep mode, moves the virtual clock by it), and records the wait.
    pub async fn wait(&self, reason: WaitReason, d: Duration) {
        {
            let mut state = self.lock();
            state.waits.push((reason, d));
            if self.no_sleep {
                state.skipped += d.as_millis() as Millis;
            }
        }
        if self.no_sleep {
            tracing::debug!(?reason, wait_ms = d.as_millis() as u64, "wait (not slept)");
        } else {
            tracing::debug!(?reason, wait_ms = d.as_millis() as u64, "wait");
            tokio::time::sleep(d).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CRM with a rolling window: at most `max` requests in any `window` ms; a
    /// request over it is refused (429) and not counted.
    struct RollingCrm {
        max: u64,
        window: Millis,
        hits: VecDeque<Millis>,
    }

    impl RollingCrm {
        fn new(max: u64, window: Millis) -> RollingCrm {
            RollingCrm {
                max,
                window,
                hits: VecDeque::new(),
            }
        }

        /// Counts a request at `at`: the room left after it, or `None` for a 429.
        fn hit(&mut self, at: Millis) -> Option<u64> {
            while self.hits.front().is_some_and(|h| h + self.window <= at) {
                self.hits.pop_front();
            }
            if self.hits.len() as u64 >= self.max {
                return None;
            }
            self.hits.push_back(at);
            Some(self.max - self.hits.len() as u64)
        }
    }

    /// Sends `n` requests one after the other through the pacer against `crm`, each taking
    /// `latency` ms (counted by the CRM half-way); returns when the last was answered and how
    /// many were refused.
    fn drive(crm: &mut RollingCrm, n: usize, margin: u64, latency: Millis) -> (Millis, usize) {
        let mut lane = WindowState::default();
        let (mut now, mut refused) = (0, 0);
        for _ in 0..n {
            let seq = loop {
                match lane.take(now, margin) {
                    Ok(seq) => break seq,
                    Err(wait) => now += wait,
                }
            };
            let remaining = crm.hit(now + latency / 2);
            now += latency;
            refused += usize::from(remaining.is_none());
            let info = RateInfo {
                max: crm.max,
                remaining: remaining.unwrap_or(0),
                window: Duration::from_millis(crm.window as u64),
            };
            lane.settle(seq, now, Some(info));
        }
        (now, refused)
    }

    #[test]
    fn a_job_within_the_window_goes_out_back_to_back() {
        let mut crm = RollingCrm::new(100, 10_000);
        assert_eq!(drive(&mut crm, 97, 3, 10), (970, 0));
    }

    #[test]
    fn a_long_job_fills_each_window_and_waits_only_for_the_oldest_to_leave() {
        // 250 requests of 10 ms at 100 per 10 s: 100 at once, then a window's wait for each
        // further 100, which is the best a rolling window allows; none refused.
        let mut crm = RollingCrm::new(100, 10_000);
        let (end, refused) = drive(&mut crm, 250, 0, 10);
        assert_eq!(refused, 0);
        assert!((20_000..=20_000 + 60 * 10 + 10).contains(&end), "{end}");
        // With 3 kept free, each window takes 97.
        let mut crm = RollingCrm::new(100, 10_000);
        let (end, refused) = drive(&mut crm, 250, 3, 10);
        assert_eq!(refused, 0);
        assert!((20_000..=20_000 + 60 * 10 + 10).contains(&end), "{end}");
        let mut crm = RollingCrm::new(100, 10_000);
        let (end, refused) = drive(&mut crm, 300, 3, 10);
        assert_eq!(refused, 0);
        assert!((30_000..=30_000 + 200).contains(&end), "{end}");
    }

    #[test]
    fn requests_of_others_in_the_window_are_left_room_for() {
        // Another process of the same app sent 40 just before: the window's headers say so,
        // and the pacer waits for them to leave rather than running into 429s.
        let mut crm = RollingCrm::new(100, 10_000);
        for _ in 0..40 {
            crm.hit(0);
        }
        let (end, refused) = drive(&mut crm, 120, 0, 10);
        assert_eq!(refused, 0);
        assert!(end >= 10_000, "{end}");
    }

    fn pacer(policy: PacingPolicy) -> Pacer {
        let clock = Arc::new(crate::clock::FixedClock::new(1_800_000_000_000));
        Pacer::new(policy, 0, true, clock)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, value.parse().expect("header value"));
        }
        h
    }

    fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
        h.get(name)?.to_str().ok()?.parse().ok()
    }

    /// Sends requests on `lane` until the pacer refuses one; how many went out.
    async fn send_until_spent(p: &Pacer, lane: Lane) -> (usize, DailySpent) {
        for sent in 0..1000 {
            match p.pace(lane).await {
                Ok(ticket) => p.settle(ticket, None),
                Err(spent) => return (sent, spent),
            }
        }
        panic!("the daily allowance never ran out");
    }

    #[tokio::test]
    async fn a_burst_window_with_a_daily_token_budget_stops_at_the_reserve() {
        // A two-second burst window and a daily budget, both told in the headers.
        fn window(h: &HeaderMap) -> Option<RateInfo> {
            Some(RateInfo {
                max: header_u64(h, "x-ratelimit-limit")?,
                remaining: header_u64(h, "x-ratelimit-remaining")?,
                window: Duration::from_secs(2),
            })
        }
        fn daily(h: &HeaderMap) -> Option<DailyInfo> {
            Some(DailyInfo {
                max: 30_000,
                remaining: header_u64(h, "x-daily-requests-left")?,
            })
        }
        let p = pacer(PacingPolicy {
            window: Some(WindowPolicy { read: window }),
            fixed: Vec::new(),
            daily: Some(DailyBudget {
                read: daily,
                reserve: Reserve::Requests(2),
                cost: |_, _| 1,
            }),
        });
        let first = p.pace(Lane::General).await.expect("room");
        let answer = headers(&[
            ("x-ratelimit-limit", "80"),
            ("x-ratelimit-remaining", "79"),
            ("x-daily-requests-left", "6"),
        ]);
        p.settle(first, Some(&answer));
        // 6 left, 2 kept back: four more go out, then the fifth is refused without a wait.
        let (sent, spent) = send_until_spent(&p, Lane::General).await;
        assert_eq!(sent, 4);
        assert_eq!(
            spent,
            DailySpent {
                remaining: 2,
                reserve: 2
            }
        );
        assert_eq!(p.waits(), []);
    }

    /// A daily budget of 30,000 whose tokens left each answer tells.
    fn tokens_left(h: &HeaderMap) -> Option<DailyInfo> {
        Some(DailyInfo {
            max: 30_000,
            remaining: header_u64(h, "x-daily-requests-left")?,
        })
    }

    #[tokio::test]
    async fn a_daily_token_budget_counts_each_requests_cost_and_keeps_the_reserve_whole() {
        // Tokens, not requests: a list costs 10, anything else 5; 200 kept back.
        let p = pacer(PacingPolicy {
            window: None,
            fixed: Vec::new(),
            daily: Some(DailyBudget {
                read: tokens_left,
                reserve: Reserve::Requests(200),
                cost: |method, _| if method == "GET" { 10 } else { 5 },
            }),
        });
        let first = p.pace(Lane::General).await.expect("room");
        p.settle(first, Some(&headers(&[("x-daily-requests-left", "232")])));
        // 232 left: three writes (15) and a list (10) leave 207; a list would leave 197,
        // inside the reserve, and is refused; a write leaves 202, and a second 197: refused.
        for cost in [5, 5, 5, 10] {
            p.settle(
                p.pace_costing(Lane::General, cost).await.expect("room"),
                None,
            );
        }
        let spent = p.pace_costing(Lane::General, 10).await.unwrap_err();
        assert_eq!(
            spent,
            DailySpent {
                remaining: 207,
                reserve: 200
            }
        );
        p.settle(p.pace_costing(Lane::General, 5).await.expect("room"), None);
        assert!(p.pace_costing(Lane::General, 5).await.is_err());
        assert_eq!(p.daily_cost("GET", "/x"), 10);
        assert_eq!(p.daily_cost("POST", "/x"), 5);
    }

    fn five_a_write_200_kept() -> Pacer {
        pacer(PacingPolicy {
            window: None,
            fixed: Vec::new(),
            daily: Some(DailyBudget {
                read: tokens_left,
                reserve: Reserve::Requests(200),
                cost: |_, _| 5,
            }),
        })
    }

    fn left(n: &str) -> HeaderMap {
        headers(&[("x-daily-requests-left", n)])
    }

    #[tokio::test]
    async fn requests_still_out_when_the_allowance_is_read_are_waited_for_before_a_refusal() {
        let p = five_a_write_200_kept();
        // Four writes out at once; the first answer tells 215 left, which may not count the
        // other three (15 more). One more write might reach into the reserve: it waits for
        // their answers, which tell that it would (the CRM counted them in order), and it is
        // refused with what they told.
        let mut out = Vec::new();
        for _ in 0..4 {
            out.push(p.pace_costing(Lane::General, 5).await.expect("room"));
        }
        p.settle(out.remove(0), Some(&left("215")));
        let answers = async {
            tokio::task::yield_now().await;
            for (ticket, n) in out.drain(..).zip(["210", "205", "200"]) {
                p.settle(ticket, Some(&left(n)));
            }
        };
        let (next, ()) = tokio::join!(p.pace_costing(Lane::General, 5), answers);
        assert_eq!(
            next.unwrap_err(),
            DailySpent {
                remaining: 200,
                reserve: 200
            }
        );
    }

    #[tokio::test]
    async fn requests_counted_before_an_answer_are_not_counted_again_in_a_refusal() {
        let p = five_a_write_200_kept();
        p.settle(
            p.pace_costing(Lane::General, 5).await.expect("room"),
            Some(&left("230")),
        );
        // Four out at once; the CRM counted all four before the first's answer (210 left).
        let mut out = Vec::new();
        for _ in 0..4 {
            out.push(p.pace_costing(Lane::General, 5).await.expect("room"));
        }
        p.settle(out.remove(0), Some(&left("210")));
        // By the count of those still out, 195 may be left; their answers tell 210, so two
        // more writes go (the first waiting for the answers), and the third is refused at 200.
        let answers = async {
            tokio::task::yield_now().await;
            for ticket in out.drain(..) {
                p.settle(ticket, Some(&left("210")));
            }
        };
        let (next, ()) = tokio::join!(p.pace_costing(Lane::General, 5), answers);
        p.settle(next.expect("room"), Some(&left("205")));
        p.settle(
            p.pace_costing(Lane::General, 5).await.expect("room"),
            Some(&left("200")),
        );
        assert_eq!(
            p.pace_costing(Lane::General, 5).await.unwrap_err(),
            DailySpent {
                remaining: 200,
                reserve: 200
            }
        );
    }

    #[tokio::test]
    async fn a_ticket_dropped_unanswered_is_waited_for_by_no_one() {
        let p = five_a_write_200_kept();
        p.settle(
            p.pace_costing(Lane::General, 5).await.expect("room"),
            Some(&left("208")),
        );
        // A request's future dropped before its answer: it may have been counted.
        drop(p.pace_costing(Lane::General, 5).await.expect("room"));
        assert!(p.lock().daily.out.is_empty());
        // 203 at most; the next write would reach into the reserve, and is refused at once.
        assert_eq!(
            p.pace_costing(Lane::General, 5).await.unwrap_err(),
            DailySpent {
                remaining: 203,
                reserve: 200
            }
        );
        // A later answer tells whether it was.
        p.settle_place(None, u64::MAX, Some(&left("208")));
        assert!(p.pace_costing(Lane::General, 5).await.is_ok());
    }

    #[tokio::test]
    async fn a_window_ticket_dropped_unanswered_leaves_the_window_a_window_later() {
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::FixedClock::new(1_800_000_000_000));
        let p = Pacer::new(windowed(), 0, true, clock);
        drop(p.pace(Lane::General).await.expect("room"));
        let taken = p.taken();
        assert_eq!(taken.general.sent.len(), 1);
        assert!(taken.general.sent[0].answered.is_some());
    }

    #[tokio::test]
    async fn a_daily_allocation_keeps_its_reserve_share_on_every_lane() {
        // No window, a daily allocation told as `api-usage=used/max`, a tenth kept back.
        fn daily(h: &HeaderMap) -> Option<DailyInfo> {
            let usage = h.get("sforce-limit-info")?.to_str().ok()?;
            let (used, max) = usage.strip_prefix("api-usage=")?.split_once('/')?;
            let (used, max): (u64, u64) = (used.parse().ok()?, max.parse().ok()?);
            Some(DailyInfo {
                max,
                remaining: max.saturating_sub(used),
            })
        }
        let p = pacer(PacingPolicy {
            window: None,
            fixed: vec![FixedRate {
                lane: "bulk",
                per_second: 1000,
            }],
            daily: Some(DailyBudget {
                read: daily,
                reserve: Reserve::Percent(10),
                cost: |_, _| 1,
            }),
        });
        let first = p.pace(Lane::General).await.expect("room");
        p.settle(
            first,
            Some(&headers(&[("sforce-limit-info", "api-usage=895/1000")])),
        );
        // 105 left, 100 kept back.
        let (sent, spent) = send_until_spent(&p, Lane::Fixed("bulk")).await;
        assert_eq!(sent, 5);
        assert_eq!(spent.reserve, 100);
        assert!(p.pace(Lane::General).await.is_err());
        // A new reading (a new day) gives room again.
        let more = headers(&[("sforce-limit-info", "api-usage=0/1000")]);
        // The answer of a request sent after every other.
        p.settle_place(None, u64::MAX, Some(&more));
        assert!(p.pace(Lane::General).await.is_ok());
    }

    #[test]
    fn a_reserve_share_rounds_up() {
        assert_eq!(Reserve::Percent(10).of(1005), 101);
        assert_eq!(Reserve::Percent(0).of(1000), 0);
        assert_eq!(Reserve::Percent(200).of(50), 50);
        assert_eq!(Reserve::Requests(7).of(5), 7);
    }

    #[tokio::test]
    async fn a_fixed_lane_keeps_its_rate_and_an_unknown_one_goes_as_general() {
        let p = pacer(PacingPolicy {
            window: None,
            fixed: vec![FixedRate {
                lane: "slow",
                per_second: 4,
            }],
            daily: None,
        });
        for _ in 0..3 {
            let t = p.pace(Lane::Fixed("slow")).await.expect("no budget");
            assert!(t.window.is_none());
        }
        let t = p.pace(Lane::Fixed("other")).await.expect("no budget");
        assert!(t.window.is_some());
        assert_eq!(
            p.waits(),
            [
                (WaitReason::FixedRate, Duration::from_millis(262)),
                (WaitReason::FixedRate, Duration::from_millis(262))
            ]
        );
    }

    /// Forty a two-second window, told in the headers.
    fn burst_window(h: &HeaderMap) -> Option<RateInfo> {
        Some(RateInfo {
            max: header_u64(h, "x-ratelimit-limit")?,
            remaining: header_u64(h, "x-ratelimit-remaining")?,
            window: Duration::from_secs(2),
        })
    }

    fn windowed() -> PacingPolicy {
        PacingPolicy {
            window: Some(WindowPolicy { read: burst_window }),
            ..PacingPolicy::default()
        }
    }

    #[tokio::test]
    async fn the_next_client_of_the_same_account_starts_from_what_the_last_took() {
        // A run filled the window; the next run's client (same host and connection, same
        // process) knows it before its first request, instead of sending into a 429.
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::FixedClock::new(1_800_000_000_000));
        let key = "https://api.example.test the-next-client-test";
        let first = Pacer::shared(windowed(), 0, false, clock.clone(), key);
        let ticket = first.pace(Lane::General).await.expect("room");
        let full = headers(&[("x-ratelimit-limit", "40"), ("x-ratelimit-remaining", "0")]);
        first.settle(ticket, Some(&full));
        drop(first);
        let now = clock.now();
        let next = Pacer::shared(windowed(), 0, false, clock.clone(), key);
        assert_eq!(next.taken().general.room(now), Some(0));
        // Another connection, and a client on virtual time, start from nothing.
        let other = Pacer::shared(windowed(), 0, false, clock.clone(), "elsewhere");
        assert_eq!(other.taken().general.room(now), None);
        let virtual_time = Pacer::shared(windowed(), 0, true, clock.clone(), key);
        assert_eq!(virtual_time.taken().general.room(now), None);
        // Nor are the waits of one client another's.
        assert_eq!(next.waits(), []);
    }

    #[test]
    fn a_request_never_settled_stops_holding_its_place() {
        // A request whose future was dropped (a run cut short) has no answer to leave the
        // window by; it holds its place for ABANDONED_MS, not for the life of the process.
        let mut lane = WindowState::default();
        let lost = lane.take(0, 0).expect("room");
        let answered = lane.take(0, 0).expect("room");
        assert!(lost < answered);
        let info = RateInfo {
            max: 40,
            remaining: 38,
            window: Duration::from_secs(2),
        };
        lane.settle(answered, 10, Some(info));
        let later = 60_000;
        lane.prune(later);
        assert_eq!(lane.room(later), Some(39));
        let much_later = ABANDONED_MS + 1;
        lane.prune(much_later);
        assert_eq!(lane.room(much_later), Some(40));
    }

    #[test]
    fn an_answer_coming_back_after_a_later_ones_does_not_undo_what_that_one_read() {
        // Two requests out at once; the CRM counts both, and the second's answer (50 left)
        // comes back first. The first's (55 left, told before the second was counted) comes
        // back after it and is not read: the allowance stays at 50.
        let mut daily = DailyState::default();
        let reserve = Reserve::Requests(0);
        let info = |remaining| DailyInfo {
            max: 100,
            remaining,
        };
        daily.settle(0, Some(info(60)));
        let (first, second) = (
            daily.take(reserve, 5).expect("room"),
            daily.take(reserve, 5).expect("room"),
        );
        daily.settle(second, Some(info(50)));
        daily.settle(first, Some(info(55)));
        assert_eq!(daily.reading.map(|r| r.remaining), Some(50));
        // 50 left: ten more of 5 go, the eleventh is refused.
        for _ in 0..10 {
            let place = daily.take(reserve, 5).expect("room");
            daily.settle(place, None);
        }
        assert_eq!(
            daily.take(reserve, 5),
            Err(DailyRefusal::Spent(DailySpent {
                remaining: 0,
                reserve: 0
            }))
        );
    }

    #[test]
    fn requests_counted_out_of_order_never_leave_more_room_than_there_is() {
        // Three of three sent at once. The CRM counts the third first (2 left), then the
        // first (1 left), then the second (0 left); the first's answer comes back, then the
        // third's. Read from the third, the first looks counted and the second not: 2 - 1.
        // But all three are in the window: there is no room.
        let mut lane = WindowState::default();
        let info = |remaining| RateInfo {
            max: 3,
            remaining,
            window: Duration::from_secs(2),
        };
        let first = lane.take(0, 0).expect("room");
        let _second = lane.take(0, 0).expect("room");
        let third = lane.take(0, 0).expect("room");
        lane.settle(first, 5, Some(info(1)));
        lane.settle(third, 6, Some(info(2)));
        assert_eq!(lane.room(7), Some(0));
        assert!(lane.take(7, 0).is_err());
    }
}
