//! Sync benchmarks against the sandbox HubSpot over real HTTP.
//!
//! * `noop`: a no-op `sync` over 10,000, 100,000 and 1,000,000 linked contacts. Target: under
//!   0.5 s, and not growing with the record count (the run reads changes; it does not scan).
//! * `push`: pushing 1,000, 10,000 and 30,000 new contacts with the sandbox enforcing
//!   HubSpot's 100 requests per 10 s. Targets: within 1.2x of the rolling-window optimum (the
//!   earliest the run's last rate-limited request can be sent, every request sent as soon as
//!   the window has room), under 1% of requests answered 429, at most one write request per
//!   100 records; then, after the 10,000, the no-op resync: zero writes, at most one read per
//!   object, under 1 s.
//! * `e2e100k`: 100,000 contacts end to end — the sandbox (its own process) holds them, the
//!   `crmsync` binary (another process) imports them into an empty store, then runs a no-op
//!   sync. Target: peak memory of the crmsync process under 200 MB (max RSS from
//!   `wait4` of each sync process, read by a small relay process; see [`crmsync`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use crmsync::auth::{SecretString, StaticTokenSource};
use crmsync::clock::{Clock, SystemClock};
use crmsync::config::{Config, ConnectionConfig};
use crmsync::engine::sync::{self, Participant, Quiet, SyncOptions, SyncReport};
use crmsync::model::{Fields, ObjectKind, Record, RecordId};
use crmsync::providers::{self, FieldSpec, ProviderContext, ProviderKind};
use crmsync::sandbox::{Sandbox, SandboxOptions};
use crmsync::store::{Link, Store, WriteOrigin};

const CONN: &str = "hs";

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

pub(crate) fn hubspot_config(base_url: &str) -> Config {
    let mut c = Config::default();
    c.connections.insert(
        CONN.into(),
        ConnectionConfig {
            provider: ProviderKind::Hubspot,
            base_url: Some(base_url.into()),
            auth_url: None,
            client_id: None,
            token_env: None,
            scopes: None,
            redirect_port: None,
            objects: None,
            on_delete: Default::default(),
            match_keys: None,
            create_when: None,
            max_requests_per_run: None,
            fields: Vec::new(),
            contact: None,
            company: None,
            activity: None,
            deal: None,
            activity_types: Default::default(),
            owners: Default::default(),
            login_url: None,
            instance_url: None,
            api_version: None,
            reserve_percent: None,
            bulk_threshold: None,
            webhooks_app_id: None,
            developer_key_env: None,
        },
    );
    c
}

/// The system clock moved on by a settable amount, so a run can happen "later" without the
/// benchmark waiting for it (the sandbox's clock is moved on by as much).
#[derive(Debug, Default)]
pub(crate) struct LaterClock(AtomicI64);

impl LaterClock {
    pub(crate) fn advance(&self, by: i64) {
        self.0.fetch_add(by, Ordering::Relaxed);
    }
}

impl Clock for LaterClock {
    fn now(&self) -> i64 {
        SystemClock.now() + self.0.load(Ordering::Relaxed)
    }
}

pub(crate) fn clock() -> Arc<LaterClock> {
    Arc::new(LaterClock::default())
}

pub(crate) fn hubspot_participant(
    config: &Config,
    sandbox: &Sandbox,
    clock: Arc<LaterClock>,
) -> Participant {
    let provider = providers::open(
        ProviderKind::Hubspot,
        ProviderContext {
            connection: CONN.into(),
            base_url: Some(sandbox.base_url()),
            tokens: Arc::new(StaticTokenSource::new(SecretString::new(sandbox.token()))),
            clock,
            max_requests: None,
            overlap: crmsync::providers::DEFAULT_OVERLAP_MS,
        },
    )
    .expect("provider");
    Participant {
        name: CONN.into(),
        config: config.connections[CONN].clone(),
        provider: Arc::from(provider),
    }
}

pub(crate) fn setup_fields(rt: &tokio::runtime::Runtime, p: &Participant) {
    rt.block_on(async {
        for object in [ObjectKind::Company, ObjectKind::Contact] {
            for spec in p.provider.required_fields(object) {
                p.provider
                    .create_field(object, &spec)
                    .await
                    .expect("create crmsync_id");
            }
        }
        let pronouns = FieldSpec {
            name: "pronouns".into(),
            label: "Pronouns".into(),
            kind: providers::RemoteFieldKind::Text,
            unique: false,
        };
        p.provider
            .create_field(ObjectKind::Contact, &pronouns)
            .await
            .expect("create pronouns");
    });
}

pub(crate) fn run_sync(
    rt: &tokio::runtime::Runtime,
    store: &mut Store,
    config: &Config,
    p: &Participant,
    clock: Arc<LaterClock>,
) -> SyncReport {
    rt.block_on(sync::run(
        store,
        config,
        std::slice::from_ref(p),
        &SyncOptions::default(),
        clock,
        &Quiet,
    ))
    .expect("sync")
}

pub(crate) fn contact(i: usize, now: i64) -> Record {
    let mut fields = Fields::new();
    fields.insert("first_name".into(), format!("First{i}"));
    fields.insert("last_name".into(), format!("Last{i}"));
    fields.insert("email".into(), format!("person{i}@bench.example"));
    fields.insert("phone".into(), format!("+4420794{:05}", i % 100_000));
    Record {
        id: RecordId::new(),
        kind: ObjectKind::Contact,
        fields,
        updated_at: now,
        archived_at: None,
    }
}

pub fn noop() {
    let rt = runtime();
    for n in [10_000usize, 100_000, 1_000_000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state.db");
        let sandbox = Sandbox::start(SandboxOptions::default()).expect("sandbox");
        let config = hubspot_config(&sandbox.base_url());
        let clock = clock();
        let p = hubspot_participant(&config, &sandbox, clock.clone());
        setup_fields(&rt, &p);
        let mut store = Store::open(&state).expect("store");
        // A first (empty) sync stores real cursors; then n records and their links appear as
        // if synced long ago.
        run_sync(&rt, &mut store, &config, &p, clock.clone());
        let now = SystemClock.now();
        for chunk_start in (0..n).step_by(50_000) {
            let recs: Vec<Record> = (chunk_start..(chunk_start + 50_000).min(n))
                .map(|i| contact(i, now))
                .collect();
            let links: Vec<Link> = recs
                .iter()
                .enumerate()
                .map(|(j, r)| Link {
                    connection: CONN.into(),
                    kind: ObjectKind::Contact,
                    local_id: r.id.clone(),
                    remote_id: (chunk_start + j + 1).to_string(),
                    base: r.fields.clone(),
                    remote_updated_at: Some(now),
                    synced_at: now,
                    retired: false,
                })
                .collect();
            store
                .save_pulled(&recs, &links, &WriteOrigin::User)
                .expect("seed");
        }
        let top = store.max_seq().expect("seq");
        for object in ObjectKind::ALL {
            store.set_local_cursor(CONN, object, top).expect("cursor");
        }
        sandbox.clear_request_log();
        let started = Instant::now();
        let report = run_sync(&rt, &mut store, &config, &p, clock.clone());
        let secs = started.elapsed().as_secs_f64();
        let writes = sandbox
            .request_log()
            .iter()
            .filter(|r| r.method != "GET" && !r.path.ends_with("/search"))
            .count();
        let reads = sandbox.request_log().len() - writes;
        println!(
            "noop sync over {n:>9} linked contacts: {:>7.3} s, {reads} reads, {writes} writes, {} planned  (target < 0.5 s, flat)",
            secs,
            report
                .connections
                .iter()
                .flat_map(|c| &c.objects)
                .map(|o| o.planned.remote_update + o.planned.remote_create + o.planned.local_update)
                .sum::<usize>()
        );
        sandbox.stop();
    }
}

/// HubSpot's default ten-secondly limit, which the sandbox enforces in `push`.
const LIMIT: usize = 100;
const WINDOW_MS: i64 = 10_000;

/// The earliest moment (ms after `start`) at which the last of `n` requests can be sent under
/// a rolling window of [`LIMIT`] per [`WINDOW_MS`] (see [`rolling_bound`]).
fn window_bound(start: i64, before: &[i64], n: usize) -> i64 {
    rolling_bound(start, before, n, (LIMIT, WINDOW_MS))
}

/// The earliest moment (ms after `start`) at which the last of `n` requests can be sent under
/// a rolling window of `limit` requests per `window` ms, sending each as soon as the window
/// has room, with `before` (epoch ms) the requests already in it: the rolling-window optimum
/// for the time the requests themselves take nothing.
pub(crate) fn rolling_bound(
    start: i64,
    before: &[i64],
    n: usize,
    (limit, window): (usize, i64),
) -> i64 {
    let mut hits: std::collections::VecDeque<i64> = before.iter().copied().collect();
    let mut t = start;
    for _ in 0..n {
        while hits.len() >= limit {
            let oldest = hits.pop_front().expect("a hit");
            t = t.max(oldest + window);
        }
        while hits.front().is_some_and(|h| h + window <= t) {
            hits.pop_front();
        }
        hits.push_back(t);
    }
    t - start
}

fn is_search(r: &crmsync::sandbox::LoggedRequest) -> bool {
    r.path.ends_with("/search")
}

/// A batch write (create, update, upsert, archive).
fn is_write(r: &crmsync::sandbox::LoggedRequest) -> bool {
    r.path.contains("/batch/") && !r.path.ends_with("/read")
}

pub fn push() {
    println!(
        "(the sandbox enforces HubSpot's {LIMIT} requests per {} s per app and 4 searches a second; \
         goal: within 1.2x of the rolling-window optimum, < 1% answered 429, <= 1 write per 100 records)",
        WINDOW_MS / 1000
    );
    for n in [1_000usize, 10_000, 30_000] {
        push_n(n);
    }
}

fn push_n(n: usize) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::start(SandboxOptions::default()).expect("sandbox");
    let config = hubspot_config(&sandbox.base_url());
    let clock = clock();
    let p = hubspot_participant(&config, &sandbox, clock.clone());
    setup_fields(&rt, &p);
    let mut store = Store::open(&dir.path().join("state.db")).expect("store");
    let now = SystemClock.now();
    let recs: Vec<Record> = (0..n).map(|i| contact(i, now)).collect();
    store.save_records(&recs, &WriteOrigin::User).expect("seed");
    // The setup's requests are still in the window when the push starts.
    let setup: Vec<i64> = sandbox
        .request_log()
        .iter()
        .filter(|r| !is_search(r))
        .filter_map(|r| crmsync::clock::parse_instant(&r.time))
        .collect();
    sandbox.clear_request_log();
    let start_ms = SystemClock.now();
    let started = Instant::now();
    let report = run_sync(&rt, &mut store, &config, &p, clock.clone());
    let secs = started.elapsed().as_secs_f64();
    let log = sandbox.request_log();
    let by_kind =
        |f: &dyn Fn(&crmsync::sandbox::LoggedRequest) -> bool| log.iter().filter(|r| f(r)).count();
    let writes = by_kind(&is_write);
    let throttled = by_kind(&|r| r.status == 429);
    // Search has its own limit; a request answered 429 was not counted by the window.
    let counted = by_kind(&|r| !is_search(r) && r.status != 429);
    let bound = window_bound(start_ms, &setup, counted) as f64 / 1000.0;
    let created = report
        .connections
        .iter()
        .flat_map(|c| &c.objects)
        .map(|o| o.planned.remote_create)
        .sum::<usize>();
    let in_window = setup.iter().filter(|t| **t + WINDOW_MS > start_ms).count();
    println!(
        "push {n:>6} contacts: {created} created in {secs:.2} s; {} requests ({counted} counted by the window, \
         {} searches), {throttled} answered 429 ({:.2}%), {writes} write requests ({:.2} per 100 records)",
        log.len(),
        by_kind(&|r| is_search(r)),
        100.0 * throttled as f64 / log.len().max(1) as f64,
        100.0 * writes as f64 / n as f64,
    );
    let ratio = if bound >= 1.0 {
        format!("{:.2}x the optimum", secs / bound)
    } else {
        "the window never fills".to_string()
    };
    let mut reads: BTreeMap<String, usize> = BTreeMap::new();
    for r in log
        .iter()
        .filter(|r| !is_search(r) && r.status != 429 && !is_write(r))
    {
        let path = r.path.split('?').next().unwrap_or_default();
        *reads.entry(format!("{} {path}", r.method)).or_default() += 1;
    }
    println!(
        "  rolling-window optimum: the last of {counted} counted requests sent at {bound:.2} s \
         ({in_window} of the setup's requests still in the window) → {ratio}; counted besides \
         the writes: {reads:?}"
    );
    if n == 10_000 {
        resyncs(&rt, &mut store, &config, &p, &sandbox, &clock);
    }
    sandbox.stop();
}

/// The resyncs after a push: right after, inside the change feed's overlap, and once both
/// clocks are past it.
fn resyncs(
    rt: &tokio::runtime::Runtime,
    store: &mut Store,
    config: &Config,
    p: &Participant,
    sandbox: &Sandbox,
    clock: &Arc<LaterClock>,
) {
    let overlap = crmsync::config::SyncSettings::default().overlap_secs;
    let again = |store: &mut Store, what: &str| {
        resync(rt, store, config, p, sandbox, clock, what);
    };
    again(
        store,
        "no-op resync right after (targets: 0 writes, ≤ 1 read per object, < 1 s)",
    );
    println!(
        "  (a resync within the change feed's {overlap} s overlap of the push reads the pushed contacts again; they are left out of the plan as unchanged)"
    );
    again(store, "and again, still inside the overlap");
    // Both clocks move on past the overlap, as for a cron run some minutes later.
    let later = (overlap as i64 + 1) * 1000;
    sandbox.advance_clock(Duration::from_millis(later as u64));
    clock.advance(later);
    again(
        store,
        &format!(
            "the first resync {}s later, once the push is older than the overlap",
            overlap + 1
        ),
    );
    again(
        store,
        "the no-op resync after that (targets: 0 writes, ≤ 1 read per object, < 1 s)",
    );
}

/// Runs one resync and prints its time, writes, reads by path and unchanged records.
pub(crate) fn resync(
    rt: &tokio::runtime::Runtime,
    store: &mut Store,
    config: &Config,
    p: &Participant,
    sandbox: &Sandbox,
    clock: &Arc<LaterClock>,
    what: &str,
) {
    sandbox.clear_request_log();
    let started = Instant::now();
    let report = run_sync(rt, store, config, p, clock.clone());
    let secs = started.elapsed().as_secs_f64();
    let log = sandbox.request_log();
    let writes = log
        .iter()
        .filter(|r| r.path.contains("/batch/") && !r.path.ends_with("/read"))
        .count();
    let mut reads: BTreeMap<String, usize> = BTreeMap::new();
    for r in log
        .iter()
        .filter(|r| r.path.ends_with("/search") || r.method == "GET" || r.path.ends_with("/read"))
    {
        *reads.entry(r.path.clone()).or_default() += 1;
    }
    let (read, unchanged) = report
        .connections
        .iter()
        .flat_map(|c| &c.objects)
        .fold((0, 0), |(a, b), o| (a + o.read, b + o.unchanged));
    println!(
        "  {what}: {secs:.2} s, {writes} writes, reads {reads:?}; {read} records read, {unchanged} unchanged"
    );
}

/// Set in a relay process (this bench binary again): the crmsync arguments, one a line.
const RELAY: &str = "CRMSYNC_BENCH_RSS_RELAY";

/// Runs the crmsync binary; returns its exit code and its peak memory (max RSS, KiB).
///
/// Linux carries a process's memory high-water mark across `exec`, so a child spawned from
/// this (by now large) process would report this process's peak as its own. It is therefore
/// spawned by a relay, a fresh and small copy of this binary, which reads the child's figure
/// from `wait4` and prints it.
fn crmsync(dir: &Path, args: &[&str], token: &str) -> (i32, i64) {
    let out = Command::new(std::env::current_exe().expect("this binary"))
        .env(RELAY, args.join("\n"))
        .env("CRMSYNC_CONFIG", dir.join("config.toml"))
        .env("CRMSYNC_STATE", dir.join("state.db"))
        .env("CRMSYNC_TOKEN_HS", token)
        .env("CRMSYNC_TEST_KEYRING", "mock")
        .stderr(Stdio::inherit())
        .output()
        .expect("run the relay");
    let text = String::from_utf8_lossy(&out.stdout);
    let figure = |name: &str| -> i64 {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1)
    };
    (figure("code") as i32, figure("maxrss_kb"))
}

/// In a relay process, runs crmsync as [`crmsync`] asked, prints its exit code and peak
/// memory, and returns `true`; `main` then returns at once. Elsewhere returns `false`.
pub fn relay_main_if_requested() -> bool {
    let Ok(args) = std::env::var(RELAY) else {
        return false;
    };
    #[allow(clippy::zombie_processes)] // reaped by the wait4 below, which also reads its usage
    let child = Command::new(env!("CARGO_BIN_EXE_crmsync"))
        .args(args.split('\n'))
        .env_remove(RELAY)
        .stdout(Stdio::null())
        .spawn()
        .expect("run crmsync");
    let mut status = 0;
    // SAFETY: wait4 fills the status and the struct it is given, for a child of ours.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let pid = libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage);
        assert_eq!(pid, child.id() as libc::pid_t, "wait for crmsync");
        usage
    };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    println!("code={code} maxrss_kb={}", usage.ru_maxrss);
    true
}

pub fn e2e100k() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Command::new(env!("CARGO_BIN_EXE_crmsync"))
        .args([
            "sandbox",
            "serve",
            "--json",
            "--contacts",
            "100000",
            "--companies",
            "100",
        ])
        .env("CRMSYNC_CONFIG", dir.path().join("none.toml"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the sandbox");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("sandbox banner");
    let info: serde_json::Value = serde_json::from_str(&line).expect("sandbox JSON banner");
    let base = info["base_url"].as_str().expect("base_url");
    let token = info["token"].as_str().expect("token");
    std::fs::write(
        dir.path().join("config.toml"),
        format!("[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"{base}\"\n"),
    )
    .expect("config");
    assert_eq!(
        crmsync(dir.path(), &["mappings", "setup", "-c", CONN], token).0,
        0,
        "mappings setup"
    );
    let started = Instant::now();
    let (code, rss_import) = crmsync(dir.path(), &["sync", "-q"], token);
    let import_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (code2, rss_noop) = crmsync(dir.path(), &["sync", "-q"], token);
    let noop_secs = started.elapsed().as_secs_f64();
    let rss = rss_import.max(rss_noop);
    let _ = server.kill();
    let _ = server.wait();
    let store = Store::open(&dir.path().join("state.db")).expect("state");
    let count = store
        .count_records(ObjectKind::Contact, false)
        .expect("count");
    println!(
        "100,000 contacts from HubSpot: {count} imported in {import_secs:.1} s (exit {code}); no-op sync {noop_secs:.2} s (exit {code2})"
    );
    println!(
        "  peak memory of the crmsync process: {:.0} MB (target < 200 MB; import run {:.0} MB, no-op run {:.0} MB)",
        rss as f64 / 1024.0,
        rss_import as f64 / 1024.0,
        rss_noop as f64 / 1024.0
    );
}
