//! Salesforce benchmarks: the `crmsync` binary against the Salesforce sandbox over real HTTP,
//! the figures read from the sandbox's request log.
//!
//! * (a) push 10,000 new local contacts: write requests (target ≤ 51: composite collections
//!   of 200) and wall time.
//! * (b) import 100,000 contacts into an empty store, through Bulk API 2.0 query jobs (above
//!   `bulk_threshold`) and through SOQL paging (the threshold raised above the count), side by
//!   side: requests and wall time of each (Bulk must use fewer requests).
//! * (c) the no-op resyncs after the push: zero writes; queries per object once the cursor is
//!   past the overlap (target one per object).
//!
//! `CRMSYNC_BENCH_SF_CONTACTS` sets the import's count (default 100,000); the push is a tenth
//! of it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crmsync::clock::{Clock, SystemClock, format_instant};
use crmsync::model::{ObjectKind, Record};
use crmsync::providers;
use crmsync::sandbox::LoggedRequest;
use crmsync::sandbox::salesforce::{SalesforceOptions, SalesforceSandbox};
use crmsync::store::{Store, WriteOrigin};

const CONN: &str = "sf";
const TOKEN_VAR: &str = "CRMSYNC_TOKEN_SF";
const DEFAULT_CONTACTS: usize = 100_000;
/// Records in a composite sObject collection.
const COLLECTION: usize = 200;

fn contacts() -> usize {
    std::env::var("CRMSYNC_BENCH_SF_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CONTACTS)
}

fn sandbox() -> SalesforceSandbox {
    SalesforceSandbox::start(SalesforceOptions {
        daily_api_requests: 1_000_000_000,
        ..SalesforceOptions::default()
    })
    .expect("start the Salesforce sandbox")
}

/// A working directory with a config for the sandbox (`extra` lines added to the connection)
/// and crmsync's fields created by `mappings setup`.
fn workdir(sandbox: &SalesforceSandbox, extra: &str) -> (tempfile::TempDir, Vec<(String, String)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[connections.{CONN}]\nprovider = \"salesforce\"\nbase_url = \"{}\"\n{extra}",
            sandbox.base_url()
        ),
    )
    .expect("config");
    let env = vec![(TOKEN_VAR.to_string(), sandbox.mint_token().0)];
    let (code, _) = crmsync(dir.path(), &["mappings", "setup", "-c", CONN], &env);
    assert_eq!(code, 0, "mappings setup");
    (dir, env)
}

/// Runs the `crmsync` binary in `dir`; its exit code and wall time in seconds.
fn crmsync(dir: &Path, args: &[&str], env: &[(String, String)]) -> (i32, f64) {
    let started = Instant::now();
    let code = crate::pipedrive::crmsync(dir, args, env);
    (code, started.elapsed().as_secs_f64())
}

/// A call that changes records: anything but a read, a Bulk API query job's creation aside.
fn is_write(r: &LoggedRequest) -> bool {
    r.method != "GET" && !r.path.contains("/jobs/query")
}

/// A call as `METHOD path`, without its query, ids and version: a SOQL read named by its
/// object (`GET query FROM Contact`), a later page as `GET query (next page)`.
fn endpoint(r: &LoggedRequest) -> String {
    let url = reqwest::Url::parse(&format!("http://sandbox{}", r.path)).expect("logged path");
    let path = url.path();
    let tail = path
        .split_once("/services/data/")
        .map_or(path, |(_, rest)| {
            rest.split_once('/').map_or(rest, |(_, t)| t)
        });
    if tail == "query" || tail == "queryAll" {
        let soql = url
            .query_pairs()
            .find(|(k, _)| k == "q")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let object = soql
            .split_whitespace()
            .skip_while(|w| !w.eq_ignore_ascii_case("FROM"))
            .nth(1)
            .unwrap_or("?")
            .to_string();
        let count = if soql.contains("COUNT()") {
            " COUNT()"
        } else {
            ""
        };
        return format!("{} {tail}{count} FROM {object}", r.method);
    }
    if tail.starts_with("query/") {
        return format!("{} query (next page)", r.method);
    }
    // Bulk API 2.0 job ids and their results.
    let tail: Vec<&str> = tail
        .split('/')
        .map(|s| if s.starts_with("750") { "{job}" } else { s })
        .collect();
    format!("{} {}", r.method, tail.join("/"))
}

fn by_endpoint(log: &[LoggedRequest]) -> BTreeMap<String, usize> {
    crate::pipedrive::tally(log.iter(), endpoint)
}

fn in_salesforce(sandbox: &SalesforceSandbox, object: &str) -> usize {
    sandbox.dump()[object].as_array().map_or(0, |records| {
        records.iter().filter(|r| r["IsDeleted"] != true).count()
    })
}

pub fn run() {
    let n = contacts();
    push_and_resync(n / 10);
    import(n);
}

/// (a) and (c).
fn push_and_resync(n: usize) {
    let sandbox = sandbox();
    let (dir, env) = workdir(&sandbox, "");
    let now = SystemClock.now();
    let mut store = Store::open(&dir.path().join("state.db")).expect("store");
    let records: Vec<Record> = (0..n).map(|i| crate::sync::contact(i, now)).collect();
    store
        .save_records(&records, &WriteOrigin::User)
        .expect("seed the store");
    drop(store);
    sandbox.clear_request_log();
    let (code, secs) = crmsync(dir.path(), &["sync", "-q"], &env);
    let log = sandbox.request_log();
    let writes = log.iter().filter(|r| is_write(r)).count();
    println!(
        "(a) push {n} new contacts: {} in Salesforce after one `crmsync sync` (exit {code}), \
         {secs:.2} s wall time; {writes} write requests (target ≤ {}: collections of {COLLECTION}); \
         {} requests in all: {:?}",
        in_salesforce(&sandbox, "Contact"),
        n.div_ceil(COLLECTION) + 1,
        log.len(),
        by_endpoint(&log),
    );
    // (c) The resyncs: right after, then once the cursor is past the push's overlap (both
    // clocks moved on: the sandbox's and, through `CRMSYNC_TEST_NOW`, crmsync's).
    let resync = |what: &str, env: &[(String, String)]| {
        sandbox.clear_request_log();
        let (code, secs) = crmsync(dir.path(), &["sync", "-q"], env);
        let log = sandbox.request_log();
        let writes = log.iter().filter(|r| is_write(r)).count();
        let queries = |object: &str| {
            log.iter()
                .filter(|r| {
                    let e = endpoint(r);
                    e.starts_with("GET query") && !e.contains("COUNT()") && e.ends_with(object)
                })
                .count()
        };
        println!(
            "(c) {what} (exit {code}): {secs:.2} s, {writes} writes (target 0); SOQL reads: \
             Contact {}, Account {}, Task {} (target 1 each once past the overlap); every call: {:?}",
            queries("FROM Contact"),
            queries("FROM Account"),
            queries("FROM Task"),
            by_endpoint(&log),
        );
    };
    resync("no-op resync right after", &env);
    let later = providers::DEFAULT_OVERLAP_MS + 1_000;
    sandbox.advance_clock(Duration::from_millis(later as u64));
    let mut env_later = env.clone();
    env_later.push((
        "CRMSYNC_TEST_NOW".into(),
        format_instant(SystemClock.now() + later),
    ));
    resync(
        &format!(
            "the first resync {} s later (from the last read's start less the overlap)",
            later / 1000
        ),
        &env_later,
    );
    resync(
        "the no-op resync after that (the cursor past the push's overlap)",
        &env_later,
    );
    sandbox.stop();
}

/// (b): the same org imported into an empty store twice, through Bulk API 2.0 and through
/// SOQL paging.
fn import(n: usize) {
    let sandbox = sandbox();
    sandbox.seed(n, 0, 0);
    let bulk_threshold =
        providers::salesforce::DEFAULT_BULK_THRESHOLD.min(n.saturating_sub(1) as u64);
    let mut figures = Vec::new();
    for (how, threshold) in [
        ("Bulk API 2.0", bulk_threshold),
        ("SOQL paging", (n as u64).max(1) * 10),
    ] {
        let (dir, env) = workdir(&sandbox, &format!("bulk_threshold = {threshold}\n"));
        sandbox.clear_request_log();
        let (code, secs) = crmsync(dir.path(), &["sync", "-q"], &env);
        let log = sandbox.request_log();
        let store = Store::open(&dir.path().join("state.db")).expect("store");
        let local = store
            .count_records(ObjectKind::Contact, false)
            .expect("count");
        println!(
            "(b) import {n} contacts through {how} (bulk_threshold = {threshold}): {local} in the \
             store (exit {code}), {secs:.2} s wall time, {} requests ({} writes): {:?}",
            log.len(),
            log.iter().filter(|r| is_write(r)).count(),
            by_endpoint(&log),
        );
        figures.push((how, log.len(), secs));
    }
    let (bulk, soql) = (figures[0], figures[1]);
    println!(
        "(b) side by side: Bulk API 2.0 {} requests in {:.2} s, SOQL paging {} requests in {:.2} s \
         (target: Bulk fewer requests: {})",
        bulk.1,
        bulk.2,
        soql.1,
        soql.2,
        if bulk.1 < soql.1 { "yes" } else { "NO" },
    );
    sandbox.stop();
}
