//! `hubspot_deals`: pulling 10,000 deals made in HubSpot into an empty store, the sandbox
//! enforcing HubSpot's 100 requests per 10 s and 4 searches a second: requests and time.
//! Then the no-op resyncs with deals configured: right after, and once both clocks are past the
//! change feed's overlap, where the target is one read per configured object.

use std::time::{Duration, Instant};

use crmsync::model::ObjectKind;
use crmsync::sandbox::{LoggedRequest, Sandbox, SandboxOptions};
use crmsync::store::Store;

use super::sync::{clock, hubspot_config, hubspot_participant, resync, run_sync, runtime};

const DEALS: usize = 10_000;
const STAGES: [&str; 4] = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "contractsent",
    "closedwon",
];

pub fn run() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::start(SandboxOptions::default()).expect("sandbox");
    for i in 0..DEALS {
        let amount = (i * 10).to_string();
        sandbox
            .create_record(
                "deals",
                &[
                    ("dealname", &format!("Deal {i}")),
                    ("dealstage", STAGES[i % STAGES.len()]),
                    ("pipeline", "default"),
                    ("amount", &amount),
                ],
            )
            .expect("seed a deal");
    }
    let mut config = hubspot_config(&sandbox.base_url());
    let objects = vec![ObjectKind::Company, ObjectKind::Contact, ObjectKind::Deal];
    for c in config.connections.values_mut() {
        c.objects = Some(objects.clone());
    }
    let clock = clock();
    let p = hubspot_participant(&config, &sandbox, clock.clone());
    let mut store = Store::open(&dir.path().join("state.db")).expect("store");
    sandbox.clear_request_log();
    let started = Instant::now();
    run_sync(&rt, &mut store, &config, &p, clock.clone());
    let secs = started.elapsed().as_secs_f64();
    let log = sandbox.request_log();
    let on_deals = |r: &&LoggedRequest| r.path.contains("deals");
    let pulled = store.count_records(ObjectKind::Deal, false).expect("count");
    println!(
        "pull {DEALS} deals into an empty store: {pulled} local in {secs:.2} s; {} requests, {} on deals \
         ({} searches, {} association reads), {} answered 429",
        log.len(),
        log.iter().filter(on_deals).count(),
        log.iter()
            .filter(on_deals)
            .filter(|r| r.path.ends_with("/search"))
            .count(),
        log.iter()
            .filter(|r| r.path.starts_with("/crm/v4/associations/deals"))
            .count(),
        log.iter().filter(|r| r.status == 429).count(),
    );

    // The resyncs: right after (inside the change feed's overlap, so the pulled deals are read
    // again and left out of the plan as unchanged), then once both clocks are past it.
    println!("no-op resyncs with {} objects configured:", objects.len());
    let mut again = |what: &str| resync(&rt, &mut store, &config, &p, &sandbox, &clock, what);
    again("right after the pull");
    let overlap = crmsync::config::SyncSettings::default().overlap_secs;
    let later = (overlap as i64 + 1) * 1000;
    sandbox.advance_clock(Duration::from_millis(later as u64));
    clock.advance(later);
    again(&format!(
        "the first {}s later, once the pull is older than the overlap",
        overlap + 1
    ));
    again("the one after that (target: 0 writes, one read per configured object)");
    sandbox.stop();
}
