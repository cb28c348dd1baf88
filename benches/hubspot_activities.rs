//! `hubspot_activities`: pushing 10,000 new activities (ten each, of the five engagement
//! types) for 1,000 contacts linked in HubSpot, the sandbox enforcing HubSpot's 100 requests
//! per 10 s and 4 searches a second. Targets: at most 2 requests per 100 activities (the
//! batch create, and at most one association call besides), under 1% answered 429, within
//! 1.2x of the rolling-window optimum (which leaves out searches: they have a lane of their
//! own). Measured twice: with the contacts linked by an earlier sync (the target's case), and
//! in the run right after the sync that pushed them, whose change feed reads them back first.
//! `CRMSYNC_BENCH_TIMELINE=1` prints each request's time. Run it once: it takes a minute or
//! two.

use std::time::Instant;

use crmsync::clock::{Clock, SystemClock};
use crmsync::model::{Fields, ObjectKind, Record, RecordId};
use crmsync::sandbox::{LoggedRequest, Sandbox, SandboxOptions};
use crmsync::store::{Store, WriteOrigin};

use super::sync::{
    clock, hubspot_config, hubspot_participant, rolling_bound, run_sync, runtime, setup_fields,
};

const CONTACTS: usize = 1_000;
const PER_CONTACT: usize = 10;
const TYPES: [&str; 5] = ["call", "email", "meeting", "note", "task"];
const ENGAGEMENTS: [&str; 5] = ["calls", "emails", "meetings", "notes", "tasks"];

fn contact(i: usize, now: i64) -> Record {
    let mut fields = Fields::new();
    fields.insert("first_name".into(), format!("First{i}"));
    fields.insert("email".into(), format!("act{i}@bench.example"));
    Record {
        id: RecordId::new(),
        kind: ObjectKind::Contact,
        fields,
        updated_at: now,
        archived_at: None,
    }
}

fn activity(contact: &RecordId, i: usize, now: i64) -> Record {
    let mut fields = Fields::new();
    fields.insert("type".into(), TYPES[i % TYPES.len()].into());
    fields.insert("subject".into(), format!("Touch {i}"));
    // To the second, as crmsync reads a time back (`2026-03-01T10:00:00Z`).
    let at = crmsync::clock::format_instant(1_772_000_000_000 + i as i64 * 60_000);
    fields.insert("time".into(), format!("{}Z", &at[..19]));
    fields.insert("contact_id".into(), contact.0.clone());
    Record {
        id: RecordId::new(),
        kind: ObjectKind::Activity,
        fields,
        updated_at: now,
        archived_at: None,
    }
}

fn on_engagement(r: &LoggedRequest) -> bool {
    ENGAGEMENTS.iter().any(|e| {
        r.path.contains(&format!("/objects/{e}/"))
            || r.path.contains(&format!("/associations/{e}/"))
    })
}

pub fn run() {
    // The target's case: contacts linked by an earlier sync whose change feed has moved past
    // them, as for any later run (a cron sync pushing the day's activities).
    push(false);
    // The same push run right after the sync that pushed the contacts: its change feed reads
    // those 1,000 contacts again (crmsync's own writes, inside the feed's overlap) before it
    // can read the engagements and push, on the search lane's 4 a second.
    push(true);
}

/// Pushes 10,000 new activities for 1,000 linked contacts and prints the figures; with
/// `right_after`, in the run right after the one that pushed the contacts.
fn push(right_after: bool) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::start(SandboxOptions::default()).expect("sandbox");
    let mut config = hubspot_config(&sandbox.base_url());
    for c in config.connections.values_mut() {
        c.objects = Some(vec![
            ObjectKind::Company,
            ObjectKind::Contact,
            ObjectKind::Activity,
        ]);
    }
    let clock = clock();
    let p = hubspot_participant(&config, &sandbox, clock.clone());
    setup_fields(&rt, &p);
    let mut store = Store::open(&dir.path().join("state.db")).expect("store");
    let now = SystemClock.now();
    let contacts: Vec<Record> = (0..CONTACTS).map(|i| contact(i, now)).collect();
    store
        .save_records(&contacts, &WriteOrigin::User)
        .expect("seed contacts");
    run_sync(&rt, &mut store, &config, &p, clock.clone());
    if !right_after {
        // Both clocks move on past the change feed's overlap, and a sync reads the pushed
        // contacts back once: the feed's cursor is past them.
        let later = (crmsync::config::SyncSettings::default().overlap_secs as i64 + 1) * 1000;
        sandbox.advance_clock(std::time::Duration::from_millis(later as u64));
        clock.advance(later);
        run_sync(&rt, &mut store, &config, &p, clock.clone());
    }
    let activities: Vec<Record> = (0..CONTACTS * PER_CONTACT)
        .map(|i| activity(&contacts[i % CONTACTS].id, i, now))
        .collect();
    store
        .save_records(&activities, &WriteOrigin::User)
        .expect("seed activities");
    if !right_after {
        // The push is a later sync (a cron run): the rate window's ten seconds and the search
        // lane's second pass first, in real time, which the sandbox's limits run on.
        std::thread::sleep(std::time::Duration::from_millis(10_500));
    }
    // The setup's requests are still in the window when the push starts (sandbox clock).
    let before: Vec<i64> = sandbox
        .request_log()
        .iter()
        .filter(|r| !r.path.ends_with("/search"))
        .filter_map(|r| crmsync::clock::parse_instant(&r.time))
        .collect();
    sandbox.clear_request_log();
    let start_ms = sandbox.now_ms();
    let started = Instant::now();
    run_sync(&rt, &mut store, &config, &p, clock.clone());
    let secs = started.elapsed().as_secs_f64();
    let log = sandbox.request_log();
    let count = |f: &dyn Fn(&LoggedRequest) -> bool| log.iter().filter(|r| f(r)).count();
    let n = activities.len();
    // Every call on an engagement object: the feed's reads, any content check, the creates.
    let pushed = count(&on_engagement);
    let creates = count(&|r| on_engagement(r) && r.path.ends_with("/batch/create"));
    let searches = count(&|r| r.path.ends_with("/search"));
    let throttled = count(&|r| r.status == 429);
    let counted = count(&|r| !r.path.ends_with("/search") && r.status != 429);
    let bound = rolling_bound(start_ms, &before, counted, (100, 10_000)) as f64 / 1000.0;
    let in_window = before.iter().filter(|t| **t + 10_000 > start_ms).count();
    let at = |r: &LoggedRequest| {
        (crmsync::clock::parse_instant(&r.time).unwrap_or(start_ms) - start_ms) as f64 / 1000.0
    };
    let is_create = |r: &&LoggedRequest| r.path.ends_with("/batch/create");
    let first_create = log.iter().find(is_create).map_or(0.0, at);
    let last_create = log.iter().rev().find(is_create).map_or(0.0, at);
    let linked = store
        .links_by_local_ids(
            "hs",
            ObjectKind::Activity,
            &activities.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        )
        .expect("links")
        .len();
    let case = if right_after {
        "right after the sync that pushed the contacts"
    } else {
        "contacts linked by an earlier sync"
    };
    println!(
        "push {n} activities for {CONTACTS} contacts ({case}): {linked} linked in {secs:.2} s; {} requests, \
         {pushed} on the engagement objects ({:.2} per 100 activities; {creates} batch creates), \
         {searches} searches, {throttled} answered 429 ({:.2}%)",
        log.len(),
        100.0 * pushed as f64 / n as f64,
        100.0 * throttled as f64 / log.len().max(1) as f64,
    );
    println!(
        "  rolling-window optimum: the last of {counted} counted requests sent at {bound:.2} s \
         ({in_window} of the setup's requests still in the window) → {:.2}x; the change feed read \
         before the first create, which went at {first_create:.2} s, the last at {last_create:.2} s \
         (searches at 4 a second come on top of the optimum)",
        secs / bound.max(0.001),
    );
    if std::env::var("CRMSYNC_BENCH_TIMELINE").is_ok() {
        for r in &log {
            println!("{:>8.3} {} {} {}", at(r), r.status, r.method, r.path);
        }
    }
    sandbox.stop();
}
