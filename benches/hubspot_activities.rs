//! `hubspot_activities`: pushing 10,000 new activities (ten each, of the five engagement
//! types) for 1,000 contacts linked in HubSpot, the sandbox enforcing HubSpot's 100 requests
//! per 10 s and 4 searches a second. Targets: at most 2 requests per 100 activities (the
//! batch create, and the one search or association call besides), under 1% answered 429,
//! within 1.2x of the rolling-window optimum. Run it once: it takes a few minutes.

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
    let activities: Vec<Record> = (0..CONTACTS * PER_CONTACT)
        .map(|i| activity(&contacts[i % CONTACTS].id, i, now))
        .collect();
    store
        .save_records(&activities, &WriteOrigin::User)
        .expect("seed activities");
    let before: Vec<i64> = sandbox
        .request_log()
        .iter()
        .filter(|r| !r.path.ends_with("/search"))
        .filter_map(|r| crmsync::clock::parse_instant(&r.time))
        .collect();
    sandbox.clear_request_log();
    let start_ms = SystemClock.now();
    let started = Instant::now();
    run_sync(&rt, &mut store, &config, &p, clock.clone());
    let secs = started.elapsed().as_secs_f64();
    let log = sandbox.request_log();
    let count = |f: &dyn Fn(&LoggedRequest) -> bool| log.iter().filter(|r| f(r)).count();
    let n = activities.len();
    // Every call on an engagement object: the feed's reads, the content checks, the creates.
    let pushed = count(&on_engagement);
    let creates = count(&|r| on_engagement(r) && r.path.ends_with("/batch/create"));
    let throttled = count(&|r| r.status == 429);
    let counted = count(&|r| !r.path.ends_with("/search") && r.status != 429);
    let bound = rolling_bound(start_ms, &before, counted, (100, 10_000)) as f64 / 1000.0;
    let linked = store
        .links_by_local_ids(
            "hs",
            ObjectKind::Activity,
            &activities.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        )
        .expect("links")
        .len();
    println!(
        "push {n} activities for {CONTACTS} contacts: {linked} linked in {secs:.2} s; {} requests, \
         {pushed} on the engagement objects ({:.2} per 100 activities; {creates} batch creates), \
         {throttled} answered 429 ({:.2}%); rolling-window optimum for the {counted} counted requests \
         {bound:.2} s → {:.2}x (searches at 4 a second come on top)",
        log.len(),
        100.0 * pushed as f64 / n as f64,
        100.0 * throttled as f64 / log.len().max(1) as f64,
        secs / bound.max(0.001),
    );
    sandbox.stop();
}
