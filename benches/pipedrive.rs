//! Pipedrive benchmarks against the Pipedrive sandbox over real HTTP, under Pipedrive's
//! default limits (an API token's burst window of 40 calls per rolling 2 s, the daily token
//! budget, each call costing its `x-token-cost`).
//!
//! * (a) push 2,000 new persons with their 200 organizations: throughput against the
//!   limit-bound optimum (the earliest the run's last call can go out, every call sent as soon
//!   as the burst window has room: nothing else bounds it, since the day's budget is far from
//!   spent), the share of calls answered 429 (target < 1%) and the tokens spent per person.
//! * (b) the no-op resyncs after it: zero writes; list reads per object type once the push is
//!   older than the change feed's overlap (target: one per object type).
//! * (c) HubSpot → Pipedrive: one contact changed in the HubSpot sandbox reaches Pipedrive
//!   with one run of the `crmsync` binary (`crmsync sync`); its wall time (target < 5 s).
//! * (d) `sync --record`: a local edit (`records set`) reaches HubSpot with one
//!   `crmsync sync --record` of the binary, which reads that record by id instead of the
//!   change feeds; its wall time (target < 5 s). `-- record` runs (c) and (d) alone.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crmsync::auth::{SecretString, StaticTokenSource};
use crmsync::clock::{Clock, SystemClock};
use crmsync::config::Config;
use crmsync::engine::sync::Participant;
use crmsync::model::{Fields, ObjectKind, Record, RecordId};
use crmsync::providers::{self, ProviderContext, ProviderKind};
use crmsync::sandbox::LoggedRequest;
use crmsync::sandbox::pipedrive::{PipedriveOptions, PipedriveSandbox};
use crmsync::store::{Store, WriteOrigin};

use crate::sync::{
    LaterClock, clock as later_clock, rolling_bound, run_sync, runtime, setup_fields,
};

const CONN: &str = "pd";
const PERSONS: usize = 2_000;
const ORGANIZATIONS: usize = 200;

/// The burst window of the sandbox's defaults, which is Pipedrive's for an API token.
fn burst() -> (usize, i64) {
    let d = PipedriveOptions::default();
    (d.burst_limit as usize, d.burst_window_ms as i64)
}

fn config(base_url: &str) -> Config {
    let mut c = Config::default();
    c.connections.insert(
        CONN.into(),
        crmsync::config::ConnectionConfig {
            base_url: Some(base_url.into()),
            ..crmsync::ops::connect::new_connection(ProviderKind::Pipedrive)
        },
    );
    c
}

fn participant(config: &Config, sandbox: &PipedriveSandbox, clock: Arc<LaterClock>) -> Participant {
    let provider = providers::open(
        ProviderKind::Pipedrive,
        ProviderContext {
            connection: CONN.into(),
            base_url: Some(sandbox.base_url()),
            tokens: Arc::new(StaticTokenSource::new(SecretString::new(
                sandbox.api_token(),
            ))),
            clock,
            max_requests: None,
            overlap: providers::DEFAULT_OVERLAP_MS,
        },
    )
    .expect("provider");
    Participant {
        name: CONN.into(),
        config: config.connections[CONN].clone(),
        provider: Arc::from(provider),
    }
}

/// The day's tokens left, as the sandbox tells it in `x-daily-requests-left`, read with the
/// cheapest call there is (`GET /v1/users/me`, 2 tokens, counted in).
fn tokens_left(rt: &tokio::runtime::Runtime, sandbox: &PipedriveSandbox) -> u64 {
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .get(format!("{}/api/v1/users/me", sandbox.base_url()))
            .header("x-api-token", sandbox.api_token())
            .send()
            .await
            .expect("users/me");
        resp.headers()
            .get("x-daily-requests-left")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("x-daily-requests-left")
    })
}

fn is_write(r: &LoggedRequest) -> bool {
    r.method != "GET"
}

/// A call as `METHOD path` without its query, `?ids=` reads told apart from list reads.
fn endpoint(r: &LoggedRequest) -> String {
    let (path, query) = r.path.split_once('?').unwrap_or((&r.path, ""));
    let ids = if query.split('&').any(|q| q.starts_with("ids=")) {
        " (by id)"
    } else {
        ""
    };
    format!("{} {path}{ids}", r.method)
}

fn by_endpoint<'a>(log: impl Iterator<Item = &'a LoggedRequest>) -> BTreeMap<String, usize> {
    tally(log, endpoint)
}

/// The calls of `log` counted by `key`.
pub(crate) fn tally<'a>(
    log: impl Iterator<Item = &'a LoggedRequest>,
    key: impl Fn(&LoggedRequest) -> String,
) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in log {
        *out.entry(key(r)).or_default() += 1;
    }
    out
}

fn organization(i: usize, now: i64) -> Record {
    let mut fields = Fields::new();
    fields.insert("name".into(), format!("Organization {i}"));
    Record {
        id: RecordId::new(),
        kind: ObjectKind::Company,
        fields,
        updated_at: now,
        archived_at: None,
    }
}

fn person(i: usize, org: &RecordId, now: i64) -> Record {
    let mut fields = Fields::new();
    fields.insert("first_name".into(), format!("First{i}"));
    fields.insert("last_name".into(), format!("Last{i}"));
    fields.insert("email".into(), format!("person{i}@bench.example"));
    fields.insert("phone".into(), format!("+4420794{:05}", i % 100_000));
    fields.insert("company_id".into(), org.to_string());
    Record {
        id: RecordId::new(),
        kind: ObjectKind::Contact,
        fields,
        updated_at: now,
        archived_at: None,
    }
}

pub fn run() {
    let (limit, window) = burst();
    println!(
        "(the sandbox enforces Pipedrive's defaults: {limit} calls per rolling {} s per API token, \
         a daily budget of {} tokens, crmsync keeping {} of it in reserve)",
        window / 1000,
        PipedriveOptions::default().daily_budget,
        providers::pipedrive::DAILY_RESERVE,
    );
    push_and_resync();
    hubspot_to_pipedrive();
}

/// (a) and (b).
fn push_and_resync() {
    let (limit, window) = burst();
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = PipedriveSandbox::start(PipedriveOptions::default()).expect("sandbox");
    let config = config(&sandbox.base_url());
    let clock = later_clock();
    let p = participant(&config, &sandbox, clock.clone());
    setup_fields(&rt, &p);
    let mut store = Store::open(&dir.path().join("state.db")).expect("store");
    let now = SystemClock.now();
    let orgs: Vec<Record> = (0..ORGANIZATIONS).map(|i| organization(i, now)).collect();
    let persons: Vec<Record> = (0..PERSONS)
        .map(|i| person(i, &orgs[i % ORGANIZATIONS].id, now))
        .collect();
    store.save_records(&orgs, &WriteOrigin::User).expect("seed");
    store
        .save_records(&persons, &WriteOrigin::User)
        .expect("seed");
    let before_tokens = tokens_left(&rt, &sandbox);
    // The setup's calls still in the burst window when the push starts.
    let setup: Vec<i64> = sandbox
        .request_log()
        .iter()
        .filter_map(|r| crmsync::clock::parse_instant(&r.time))
        .collect();
    sandbox.clear_request_log();
    let start_ms = SystemClock.now();
    let started = Instant::now();
    let report = run_sync(&rt, &mut store, &config, &p, clock.clone());
    let secs = started.elapsed().as_secs_f64();
    let log = sandbox.request_log();
    let spent = before_tokens - tokens_left(&rt, &sandbox) - 2;
    let throttled = log.iter().filter(|r| r.status == 429).count();
    let counted = log.iter().filter(|r| r.status != 429).count();
    let bound = rolling_bound(start_ms, &setup, counted, (limit, window)) as f64 / 1000.0;
    let created: usize = report
        .connections
        .iter()
        .flat_map(|c| &c.objects)
        .map(|o| o.planned.remote_create - o.failed_writes.create as usize)
        .sum();
    let errors: Vec<&String> = report
        .connections
        .iter()
        .filter_map(|c| c.error.as_ref())
        .collect();
    println!(
        "(a) push {PERSONS} persons with {ORGANIZATIONS} organizations: {created} created in {secs:.1} s \
         ({:.1} persons/s){}",
        PERSONS as f64 / secs,
        if errors.is_empty() {
            String::new()
        } else {
            format!("; stopped: {errors:?}")
        }
    );
    println!(
        "    limit-bound optimum: {counted} calls under {limit} per {} s, the last at {bound:.1} s \
         ({} of the setup's calls still in the window) → {:.2}x the optimum ({:.1} persons/s at best)",
        window / 1000,
        setup.iter().filter(|t| **t + window > start_ms).count(),
        secs / bound.max(0.001),
        PERSONS as f64 / bound.max(0.001),
    );
    println!(
        "    {} calls, {throttled} answered 429 ({:.2}%; target < 1%); {spent} tokens, {:.2} a person \
         (organizations' included); by endpoint: {:?}",
        log.len(),
        100.0 * throttled as f64 / log.len().max(1) as f64,
        spent as f64 / PERSONS as f64,
        by_endpoint(log.iter()),
    );
    resyncs(&rt, &mut store, &config, &p, &sandbox, &clock);
    sandbox.stop();
}

/// (b): the resyncs after the push, right after and once both clocks are past the overlap.
fn resyncs(
    rt: &tokio::runtime::Runtime,
    store: &mut Store,
    config: &Config,
    p: &Participant,
    sandbox: &PipedriveSandbox,
    clock: &Arc<LaterClock>,
) {
    let resync = |store: &mut Store, what: &str| {
        sandbox.clear_request_log();
        let started = Instant::now();
        let report = run_sync(rt, store, config, p, clock.clone());
        let secs = started.elapsed().as_secs_f64();
        let log = sandbox.request_log();
        let writes = log.iter().filter(|r| is_write(r)).count();
        let lists = |kind: &str| {
            log.iter()
                .filter(|r| endpoint(r) == format!("GET /api/v2/{kind}"))
                .count()
        };
        let (read, unchanged) = report
            .connections
            .iter()
            .flat_map(|c| &c.objects)
            .fold((0, 0), |(a, b), o| (a + o.read, b + o.unchanged));
        println!(
            "(b) {what}: {secs:.2} s, {writes} writes (target 0), list reads: persons {}, \
             organizations {} (target 1 each once past the overlap); {read} records read, \
             {unchanged} unchanged; every call: {:?}",
            lists("persons"),
            lists("organizations"),
            by_endpoint(log.iter()),
        );
    };
    resync(store, "no-op resync right after");
    let overlap = providers::DEFAULT_OVERLAP_MS;
    let later = overlap + 1_000;
    sandbox.advance_clock(Duration::from_millis(later as u64));
    clock.advance(later);
    resync(
        store,
        &format!(
            "the first resync {} s later (it reads from the last read's start less the overlap, inside the push)",
            later / 1000
        ),
    );
    resync(
        store,
        "the no-op resync after that (the cursor past the push's overlap)",
    );
}

/// Runs the `crmsync` binary in `dir` with both connections' tokens; returns its exit code.
pub(crate) fn crmsync(dir: &Path, args: &[&str], tokens: &[(String, String)]) -> i32 {
    let out = Command::new(env!("CARGO_BIN_EXE_crmsync"))
        .args(args)
        .env("CRMSYNC_CONFIG", dir.join("config.toml"))
        .env("CRMSYNC_STATE", dir.join("state.db"))
        .envs(tokens.iter().map(|(k, v)| (k, v)))
        .env_remove("CRMSYNC_LOG")
        .output()
        .expect("run crmsync");
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    out.status.code().unwrap_or(-1)
}

/// (c): one contact changed in HubSpot reaches Pipedrive with one run of the binary; (d): a
/// local edit reaches HubSpot with `sync --record` (also run alone: `-- record`).
pub fn hubspot_to_pipedrive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hubspot = crmsync::sandbox::Sandbox::start(crmsync::sandbox::SandboxOptions::default())
        .expect("HubSpot sandbox");
    let pipedrive = PipedriveSandbox::start(PipedriveOptions::default()).expect("sandbox");
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[connections.hubspot]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n\n\
             [connections.pipedrive]\nprovider = \"pipedrive\"\nbase_url = \"{}\"\n",
            hubspot.base_url(),
            pipedrive.base_url()
        ),
    )
    .expect("config");
    let tokens = vec![
        ("CRMSYNC_TOKEN_HUBSPOT".to_string(), hubspot.token()),
        ("CRMSYNC_TOKEN_PIPEDRIVE".to_string(), pipedrive.api_token()),
    ];
    for conn in ["hubspot", "pipedrive"] {
        assert_eq!(
            crmsync(dir.path(), &["mappings", "setup", "-c", conn], &tokens),
            0,
            "mappings setup"
        );
    }
    let (ids, _) = hubspot.seed(100, 10);
    assert_eq!(
        crmsync(dir.path(), &["sync", "-q"], &tokens),
        0,
        "first sync"
    );
    let phone = "+1 555 0199";
    hubspot
        .update_record("contacts", &ids[0], &[("phone", phone)])
        .expect("edit in HubSpot");
    hubspot.clear_request_log();
    pipedrive.clear_request_log();
    let started = Instant::now();
    let code = crmsync(dir.path(), &["sync", "-q"], &tokens);
    let secs = started.elapsed().as_secs_f64();
    let arrived = pipedrive.dump()["persons"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| {
            p["phones"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["value"] == phone)
        });
    println!(
        "(c) HubSpot → Pipedrive: one contact's phone changed in HubSpot is {} Pipedrive after one \
         `crmsync sync` of the binary (exit {code}): {secs:.2} s wall time (target < 5 s); \
         HubSpot calls {:?}, Pipedrive calls {:?}",
        if arrived { "in" } else { "NOT in" },
        by_endpoint(hubspot.request_log().iter()),
        by_endpoint(pipedrive.request_log().iter()),
    );
    // (d) One record on demand: a local edit reaches HubSpot (and Pipedrive) with
    // `crmsync sync --record`, which reads that record by id instead of the change feeds.
    let contact = |id: &str| {
        hubspot.dump()["contacts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    let email = contact(&ids[0])["properties"]["email"]
        .as_str()
        .expect("the seeded contact's email")
        .to_string();
    let set = crmsync(
        dir.path(),
        &["records", "set", &email, "job_title=Record on demand"],
        &tokens,
    );
    assert_eq!(set, 0, "records set");
    hubspot.clear_request_log();
    pipedrive.clear_request_log();
    let started = Instant::now();
    let code = crmsync(dir.path(), &["sync", "--record", &email, "-q"], &tokens);
    let secs = started.elapsed().as_secs_f64();
    let arrived = contact(&ids[0])["properties"]["jobtitle"] == "Record on demand";
    println!(
        "(d) sync --record: a local edit is {} HubSpot after `crmsync sync --record` of the \
         binary (exit {code}): {secs:.2} s wall time (target < 5 s); HubSpot calls {:?}, \
         Pipedrive calls {:?}",
        if arrived { "in" } else { "NOT in" },
        by_endpoint(hubspot.request_log().iter()),
        by_endpoint(pipedrive.request_log().iter()),
    );
    hubspot.stop();
    pipedrive.stop();
}
