//! `crmsync listen`: (a) deliveries accepted (verified and queued in the state file) per second
//! over HTTP, one event a delivery and HubSpot's 100 a delivery; (b) the latency from an edit
//! in HubSpot to the write in Pipedrive through the binary's listener, for single edits; (c) a
//! burst of edits in HubSpot (10,000, or `CRMSYNC_BENCH_BURST`) carried to Pipedrive through
//! the listener, against the limit-bound time of the Pipedrive writes it needs (Pipedrive has
//! no batch update: one PATCH a person, under its burst window) and of all the Pipedrive calls
//! it made (the writes, the reads by ids a hundred a call, each run's account check and
//! catalogue).

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crmsync::listen::ListenReporter;
use crmsync::listen::server::{Check, Hook, Receiver, serve, stop};
use crmsync::listen::verify::hubspot_v3_signature;
use crmsync::sandbox::pipedrive::{PipedriveOptions, PipedriveSandbox};
use crmsync::sandbox::webhooks::post;
use crmsync::store::Store;

struct Silent;
impl ListenReporter for Silent {
    fn listening(&self, _: &str, _: &[(String, String)]) {}
    fn refused(&self, _: &str, _: &str) {}
    fn applied(&self, _: usize, _: u64, _: u128) {}
    fn trouble(&self, _: &str) {}
}

pub fn run() {
    accept(1, 4_000);
    accept(100, 200);
    latency(200);
    burst(
        std::env::var("CRMSYNC_BENCH_BURST")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000),
    );
}

/// The binary run: `CRMSYNC_BENCH_BIN` when set (a copy, so that builds during a long run
/// leave it alone), else the one cargo built.
fn binary() -> String {
    std::env::var("CRMSYNC_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_crmsync").to_string())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// (a): `deliveries` signed HubSpot deliveries of `per` events each, from 4 client threads.
fn accept(per: usize, deliveries: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hooks = HashMap::new();
    hooks.insert(
        "hs".to_string(),
        Hook {
            connection: "hs".into(),
            check: Check::HubSpot {
                secret: "bench-secret".into(),
            },
            own: None,
        },
    );
    // Bound to its portal, as after a first sync: each event's `portalId` is checked.
    let mut store = Store::open(&dir.path().join("state.db")).expect("state file");
    store
        .bind_account("hs", "hubspot", "62515")
        .expect("bind the account");
    let receiver = Receiver {
        hooks,
        store,
        clock: crmsync::clock::from_env(),
        public_url: None,
        wake: Arc::new(tokio::sync::Notify::new()),
        reporter: Arc::new(Silent),
    };
    let server = Arc::new(crmsync::listen::server::bind("127.0.0.1", 0).expect("listen"));
    let addr = server.server_addr().to_ip().expect("an ip address");
    let serving = {
        let server = server.clone();
        std::thread::spawn(move || serve(&server, receiver))
    };
    let url = format!("http://{addr}/hooks/hs");
    let started = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut refused = 0;
                for d in (t..deliveries).step_by(4) {
                    let events: Vec<String> = (0..per)
                        .map(|e| {
                            format!(
                                r#"{{"eventId":{},"portalId":62515,"occurredAt":{},"subscriptionType":"contact.propertyChange","objectId":{},"propertyName":"phone","propertyValue":"1","changeSource":"CRM_UI","attemptNumber":0}}"#,
                                d * per + e,
                                now_ms(),
                                1000 + e
                            )
                        })
                        .collect();
                    let body = format!("[{}]", events.join(","));
                    let ts = now_ms().to_string();
                    let sig = hubspot_v3_signature("bench-secret", "POST", &url, body.as_bytes(), &ts);
                    let headers = vec![
                        ("X-HubSpot-Signature-v3".to_string(), sig),
                        ("X-HubSpot-Request-Timestamp".to_string(), ts),
                    ];
                    if post(&url, &headers, body.as_bytes(), Duration::from_secs(10)) != Ok(200) {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    let refused: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let secs = started.elapsed().as_secs_f64();
    stop(&server);
    let _ = serving.join();
    let queued = Store::open(&dir.path().join("state.db"))
        .and_then(|s| s.webhook_stats(now_ms()))
        .map(|s| s.queued)
        .unwrap_or(0);
    println!(
        "(a) accepted: {deliveries} deliveries of {per} events ({queued} events queued, {refused} not answered 200) in {secs:.2} s: {:.0} deliveries/s, {:.0} events/s (target ≥ 1,000 events/s)",
        deliveries as f64 / secs,
        (deliveries * per) as f64 / secs
    );
}

/// Runs the binary in `dir`; returns its exit code.
fn crmsync(dir: &std::path::Path, args: &[&str], env: &[(String, String)]) -> i32 {
    Command::new(binary())
        .args(args)
        .env("CRMSYNC_CONFIG", dir.join("config.toml"))
        .env("CRMSYNC_STATE", dir.join("state.db"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("CRMSYNC_LOG")
        .output()
        .expect("run crmsync")
        .status
        .code()
        .unwrap_or(-1)
}

/// Both sandboxes, and a crmsync config and environment that connect to them (HubSpot's
/// webhooks signed with its app's secret, the catch-up poll an hour away), fields set up.
struct World {
    dir: tempfile::TempDir,
    hubspot: crmsync::sandbox::Sandbox,
    pipedrive: PipedriveSandbox,
    env: Vec<(String, String)>,
}

impl World {
    fn start() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let hubspot = crmsync::sandbox::Sandbox::start(crmsync::sandbox::SandboxOptions::default())
            .expect("HubSpot sandbox");
        let pipedrive = PipedriveSandbox::start(PipedriveOptions::default()).expect("sandbox");
        std::fs::write(
            dir.path().join("config.toml"),
            format!(
                "[listen]\npoll_every = \"1h\"\n\n[connections.hubspot]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n\n\
                 [connections.pipedrive]\nprovider = \"pipedrive\"\nbase_url = \"{}\"\n",
                hubspot.base_url(),
                pipedrive.base_url()
            ),
        )
        .expect("config");
        let env = vec![
            ("CRMSYNC_TOKEN_HUBSPOT".to_string(), hubspot.token()),
            ("CRMSYNC_TOKEN_PIPEDRIVE".to_string(), pipedrive.api_token()),
            (
                "CRMSYNC_CLIENT_SECRET_HUBSPOT".to_string(),
                hubspot.client_secret(),
            ),
        ];
        for conn in ["hubspot", "pipedrive"] {
            crmsync(dir.path(), &["mappings", "setup", "-c", conn], &env);
        }
        World {
            dir,
            hubspot,
            pipedrive,
            env,
        }
    }
}

/// Starts the binary's listener on a free port, with HubSpot's contact property changes
/// delivered to it, and gives it 5 s to start.
fn listen(
    dir: &std::path::Path,
    hubspot: &crmsync::sandbox::Sandbox,
    env: &[(String, String)],
) -> std::process::Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    hubspot.set_webhooks(
        Some(&format!("http://127.0.0.1:{port}/hooks/hubspot")),
        &["contact.propertyChange"],
        1.0,
    );
    let child = Command::new(binary())
        .args(["listen", "-q", "--port", &port.to_string()])
        .env("CRMSYNC_CONFIG", dir.join("config.toml"))
        .env("CRMSYNC_STATE", dir.join("state.db"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("listen");
    std::thread::sleep(Duration::from_secs(5));
    child
}

/// (b): `n` single edits in HubSpot, each timed until Pipedrive holds it.
fn latency(n: usize) {
    let World {
        dir,
        hubspot,
        pipedrive,
        env,
    } = World::start();
    let (ids, _) = hubspot.seed(100, 10);
    crmsync(dir.path(), &["sync", "-q"], &env);
    let mut child = listen(dir.path(), &hubspot, &env);
    let has = |phone: &str| {
        pipedrive.dump()["persons"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| {
                p["phones"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|e| e["value"] == phone)
            })
    };
    pipedrive.clear_request_log();
    let mut times = Vec::new();
    for i in 0..n {
        let phone = format!("+1 555 01{i:02}");
        let id = &ids[i % ids.len()];
        let started = Instant::now();
        hubspot
            .update_record("contacts", id, &[("phone", phone.as_str())])
            .expect("edit in HubSpot");
        while !has(&phone) && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(2));
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        // Single edits, not a burst: the next one once Pipedrive's burst window has room for
        // the calls of this one, so the figure is the listener's latency rather than the
        // window's wait (the burst is (c)).
        std::thread::sleep(Duration::from_millis(300));
    }
    let calls = pipedrive.request_log().len();
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let code = child.wait().map(|s| s.code()).ok().flatten();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "(b) HubSpot edit → Pipedrive write through `listen`, {n} single edits: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (target p99 < 2,000 ms); listener exit on SIGTERM {code:?}; {calls} Pipedrive calls in all",
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

/// (c): `n` contacts linked in HubSpot and Pipedrive, then each one's phone edited in HubSpot
/// at once; timed until Pipedrive holds every new phone, against the earliest the Pipedrive
/// calls could have gone out under its burst window. Twice: with the default
/// `http.rate_limit_margin` (the listener leaves that many calls of each window to other
/// programs using the token), then with none, the whole window the listener's.
fn burst(n: usize) {
    let World {
        dir,
        hubspot,
        pipedrive,
        env,
    } = World::start();
    // The same people in both CRMs (made through the admin side, as an import in each would),
    // so the first sync links them by email instead of creating them one call at a time.
    let (ids, _) = hubspot.seed(n, 0);
    let contacts = hubspot.dump()["contacts"].clone();
    for c in contacts.as_array().into_iter().flatten() {
        let p = &c["properties"];
        let (first, last) = (p["firstname"].as_str(), p["lastname"].as_str());
        pipedrive
            .create_record(
                "persons",
                &serde_json::json!({
                    "name": format!("{} {}", first.unwrap_or(""), last.unwrap_or("")).trim(),
                    "emails": [{"value": p["email"], "primary": true, "label": "work"}],
                    "phones": [{"value": p["phone"], "primary": true, "label": "work"}],
                }),
            )
            .expect("a Pipedrive person");
    }
    // The first sync (which writes each person's crmsync id) is not measured: it runs under
    // a window ten times Pipedrive's, and each burst then starts with Pipedrive's own limits
    // and a fresh window.
    let d = PipedriveOptions::default();
    let setup = Instant::now();
    pipedrive.set_rate_limit(d.burst_limit * 10, d.burst_window_ms, u64::MAX / 2);
    crmsync(dir.path(), &["sync", "-q"], &env);
    let setup_secs = setup.elapsed().as_secs_f64();
    let config = dir.path().join("config.toml");
    let base = std::fs::read_to_string(&config).expect("config");
    for (round, margin) in [(0, crmsync::providers::http::DEFAULT_RATE_MARGIN), (1, 0)] {
        std::fs::write(
            &config,
            format!("[http]\nrate_limit_margin = {margin}\n\n{base}"),
        )
        .expect("config");
        caught_up(dir.path(), &pipedrive, &env);
        let child = listen(dir.path(), &hubspot, &env);
        pipedrive.clear_request_log();
        carry(&hubspot, &pipedrive, &ids, round, margin, child);
    }
    // Then as far from Pipedrive as a server across an ocean: every call answered 300 ms
    // late, so that calls in flight, not the window, would bound a listener that sent too few
    // at once. A smaller burst, with the default margin.
    std::fs::write(&config, &base).expect("config");
    caught_up(dir.path(), &pipedrive, &env);
    let child = listen(dir.path(), &hubspot, &env);
    pipedrive.set_faults(crmsync::sandbox::FaultOptions {
        slow_rate: 1.0,
        delay_ms: LATENCY_MS,
        ..Default::default()
    });
    pipedrive.clear_request_log();
    let far = &ids[..ids.len().min(2_000)];
    carry(
        &hubspot,
        &pipedrive,
        far,
        2,
        crmsync::providers::http::DEFAULT_RATE_MARGIN,
        child,
    );
    println!("(c) setup: {n} contacts linked in both CRMs in {setup_secs:.0} s");
}

/// Brings the delta cursors past the last burst's edits (which the listener carried by id,
/// leaving them to its next catch-up), under a wider window, then gives Pipedrive back its own
/// limits and a fresh window: each burst measures carrying its edits, not the listener's
/// catch-up on start of the burst before it.
fn caught_up(dir: &std::path::Path, pipedrive: &PipedriveSandbox, env: &[(String, String)]) {
    let d = PipedriveOptions::default();
    pipedrive.set_rate_limit(d.burst_limit * 10, d.burst_window_ms, u64::MAX / 2);
    crmsync(dir, &["sync", "-q"], env);
    pipedrive.set_rate_limit(d.burst_limit, d.burst_window_ms, d.daily_budget);
}

/// The round trip of every Pipedrive call in the last burst of (c).
const LATENCY_MS: u64 = 300;

/// One burst of (c): every contact's phone edited in HubSpot, carried by the listener
/// `child`, which is stopped after.
fn carry(
    hubspot: &crmsync::sandbox::Sandbox,
    pipedrive: &PipedriveSandbox,
    ids: &[String],
    round: usize,
    margin: u64,
    mut child: std::process::Child,
) {
    let n = ids.len();
    let phone = |i: usize| format!("+1 555 {}{i:06}", 9 - round);
    hubspot.clear_request_log();
    let start_ms = now_ms();
    let started = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        hubspot
            .update_record("contacts", id, &[("phone", phone(i).as_str())])
            .expect("edit in HubSpot");
    }
    let edits_secs = started.elapsed().as_secs_f64();
    let expected: std::collections::HashSet<String> = (0..n).map(phone).collect();
    let arrived = || {
        pipedrive.dump()["persons"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| p["phones"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e["value"].as_str().map(str::to_string))
            .filter(|v| expected.contains(v))
            .count()
    };
    let limit = Duration::from_secs(60 + 2 * n as u64 / 10);
    let mut got = 0;
    while started.elapsed() < limit {
        got = arrived();
        if got == n {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let found_secs = started.elapsed().as_secs_f64();
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = child.wait();
    let log = pipedrive.request_log();
    // Timed to Pipedrive's answer of the last update (its log), not to the check, which looks
    // every half second.
    let last_write = log
        .iter()
        .filter(|r| r.status != 429 && r.method == "PATCH")
        .filter_map(|r| crmsync::sandbox::parse_time_ms(&r.time))
        .max();
    let secs = match last_write {
        Some(at) if got == n => (at - start_ms) as f64 / 1000.0,
        _ => found_secs,
    };
    let counted = log.iter().filter(|r| r.status != 429).count();
    let throttled = log.len() - counted;
    let writes = log
        .iter()
        .filter(|r| r.status != 429 && r.method == "PATCH")
        .count();
    let reads = log
        .iter()
        .filter(|r| r.status != 429 && r.method == "GET" && r.path.contains("ids="))
        .count();
    let d = PipedriveOptions::default();
    let (limit, window) = (d.burst_limit as usize, d.burst_window_ms as i64);
    // The earliest `calls` calls could all be out, `per` of them in any window.
    let bound = |calls: usize, per: usize| {
        crate::sync::rolling_bound(start_ms, &[], calls, (per, window)) as f64 / 1000.0
    };
    let share = limit - margin as usize;
    let (writes_full, writes_share) = (bound(n, limit), bound(n, share));
    let (all_full, all_share) = (bound(counted, limit), bound(counted, share));
    let x = |bound: f64| secs / bound.max(0.001);
    println!(
        "(c) a burst of {n} edits in HubSpot (made in {edits_secs:.1} s) carried to Pipedrive \
         through `listen`, http.rate_limit_margin = {margin}{} (the listener's share of Pipedrive's \
         {limit} calls per {} s: {share}): {got} of {n} in Pipedrive, the last written after \
         {secs:.1} s (found by the check after {found_secs:.1} s); {counted} \
         Pipedrive calls ({writes} updates, {reads} reads by ids, {} others), {throttled} answered \
         429.\n    Against the {n} writes it needs: {writes_full:.1} s at best at {limit} a window \
         → {:.3}x, {writes_share:.1} s at {share} → {:.3}x. Against all {counted} calls: \
         {all_full:.1} s at {limit} → {:.3}x, {all_share:.1} s at {share} → {:.3}x.",
        if round == 2 {
            format!(", each Pipedrive call answered {LATENCY_MS} ms late")
        } else {
            String::new()
        },
        window / 1000,
        counted - writes - reads,
        x(writes_full),
        x(writes_share),
        x(all_full),
        x(all_share),
    );
    let calls: Vec<(i64, bool)> = log
        .iter()
        .filter(|r| r.status != 429)
        .filter_map(|r| {
            Some((
                crmsync::sandbox::parse_time_ms(&r.time)?,
                r.method == "PATCH",
            ))
        })
        .collect();
    if std::env::var_os("CRMSYNC_BENCH_TIMELINE").is_some() {
        batch_starts(start_ms, &log, &hubspot.request_log());
    }
    let lost = idle(start_ms, calls, share, window);
    let (head, between) = (lost.head as f64 / 1000.0, lost.between as f64 / 1000.0);
    println!(
        "    Of the {:.1} s over the bound of its calls at {share}: {head:.1} s before the first \
         call, {between:.1} s at the {} starts of a batch's calls (its run's calls before the \
         updates), {:.1} s in the rest (each place in the window is taken back a window after \
         the answer of the call that held it, a little after Pipedrive frees it).",
        secs - all_share,
        lost.batches,
        secs - all_share - head - between,
    );
}

/// With `CRMSYNC_BENCH_TIMELINE` set: each batch start, from the last update before it to its
/// first, with the HubSpot and Pipedrive calls between (ms from the first edit).
fn batch_starts(
    start: i64,
    pipedrive: &[crmsync::sandbox::LoggedRequest],
    hubspot: &[crmsync::sandbox::LoggedRequest],
) {
    let at = |r: &crmsync::sandbox::LoggedRequest| {
        crmsync::sandbox::parse_time_ms(&r.time).map_or(-1, |t| t - start)
    };
    let mut all: Vec<(i64, &str, &crmsync::sandbox::LoggedRequest)> = pipedrive
        .iter()
        .map(|r| (at(r), "pipedrive", r))
        .chain(hubspot.iter().map(|r| (at(r), "hubspot", r)))
        .collect();
    all.sort_by_key(|(t, _, _)| *t);
    let mut last_patch: Option<i64> = None;
    let mut between: Vec<String> = Vec::new();
    for (t, crm, r) in all {
        let patch = crm == "pipedrive" && r.method == "PATCH";
        if patch {
            if !between.is_empty() || last_patch.is_none() {
                println!(
                    "    batch start: last update at {} ms, first update at {t} ms ({} ms): {}",
                    last_patch.map_or("-".into(), |p| p.to_string()),
                    t - last_patch.unwrap_or(0),
                    between.join(", ")
                );
                between.clear();
            }
            last_patch = Some(t);
        } else {
            let path = r.path.split('?').next().unwrap_or("");
            between.push(format!("{crm} {} {path} at {t}", r.method));
        }
    }
}

/// Where a burst's calls fell behind the best a rolling window of `per` calls allows.
#[derive(Debug, Default)]
struct Idle {
    /// From the first edit to the first call.
    head: i64,
    /// Before a batch's calls other than its updates, and before its first update.
    between: i64,
    /// How many such starts.
    batches: usize,
}

/// Splits the time each call (its time, and whether it is an update) went out after it could
/// have, given the calls before it and `per` a `window`.
fn idle(start: i64, mut sorted: Vec<(i64, bool)>, per: usize, window: i64) -> Idle {
    let mut lost = Idle::default();
    sorted.sort_by_key(|(t, _)| *t);
    for i in 0..sorted.len() {
        let (t, is_patch) = sorted[i];
        if i == 0 {
            lost.head = t - start;
            continue;
        }
        let mut earliest = sorted[i - 1].0;
        if i >= per {
            earliest = earliest.max(sorted[i - per].0 + window);
        }
        let late = (t - earliest).max(0);
        let prev_patch = sorted[i - 1].1;
        if prev_patch != is_patch && prev_patch {
            lost.batches += 1;
        }
        if prev_patch != is_patch || !is_patch {
            lost.between += late;
        }
    }
    lost
}
