//! `crmsync listen` against both sandboxes, the binary run as a service: HubSpot's signed
//! event arrays and Pipedrive's v2 payloads delivered by the sandboxes' own webhook threads,
//! and deliveries made by hand (bad signature, stale timestamp, replays, wrong password,
//! duplicates, events out of order). What reaches the other CRM is read from the sandboxes,
//! what was written from their request logs.

mod common;

use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::TestEnv;
use common::crm::{HubSpotCrm, TestCrm};
use common::pipedrive::PipedriveCrm;
use crmsync::listen::verify::{basic_auth_header, hubspot_v3_signature};
use crmsync::model::ObjectKind::Contact;
use crmsync::model::RecordId;
use crmsync::sandbox::webhooks::post;
use crmsync::store::{Store, WebhookStats, WriteOrigin};

const HS: &str = "hubspot";
const PD: &str = "pipedrive";
const HS_EVENTS: &[&str] = &[
    "contact.creation",
    "contact.propertyChange",
    "contact.deletion",
    "contact.privacyDeletion",
    "company.creation",
    "company.propertyChange",
    "company.deletion",
];

struct World {
    hs: HubSpotCrm,
    pd: PipedriveCrm,
    env: TestEnv,
    port: u16,
    listener: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits up to `secs` for `ok`.
fn wait_for(secs: u64, what: &str, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

impl World {
    /// Both sandboxes, a first sync of `contacts` HubSpot contacts, and the `[listen]` table
    /// `listen` (besides the connections).
    fn start(contacts: usize, listen: &str) -> (World, Vec<String>) {
        World::start_with(contacts, listen, "")
    }

    /// [`World::start`] with `hs_extra` added to the HubSpot connection's table.
    fn start_with(contacts: usize, listen: &str, hs_extra: &str) -> (World, Vec<String>) {
        let hs = HubSpotCrm::start();
        let pd = PipedriveCrm::start();
        let mut env = TestEnv::new();
        env.remove_env("CRMSYNC_TEST_NOW");
        let keys = env.path("keys");
        env.set_env(
            "CRMSYNC_TEST_KEYRING",
            &format!("file:{}", keys.to_string_lossy()),
        );
        for (k, v) in hs.credentials(HS).into_iter().chain(pd.credentials(PD)) {
            env.set_env(&k, &v);
        }
        env.set_env("CRMSYNC_CLIENT_SECRET_HUBSPOT", &hs.sandbox.client_secret());
        env.write_config(&format!(
            "[listen]\n{listen}\n{}{hs_extra}\n{}\n{}",
            hs.connection_config(HS),
            pd.connection_config(PD),
            pd.connection_fields(PD),
        ));
        let w = World {
            hs,
            pd,
            env,
            port: free_port(),
            listener: None,
        };
        for conn in [HS, PD] {
            w.env.run(&["mappings", "setup", "-c", conn]).ok();
        }
        let (ids, _) = w.hs.seed(contacts, 1);
        w.env.run(&["sync"]).ok();
        (w, ids)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Points both CRMs' webhooks at the listener: HubSpot's app settings, Pipedrive's
    /// webhooks through `listen --subscribe`.
    fn subscribe(&self) {
        self.hs.sandbox.set_webhooks(
            Some(&format!("{}/hooks/{HS}", self.url())),
            HS_EVENTS,
            0.001,
        );
        self.pd.sandbox.set_webhook_time_scale(0.001);
        let out = self
            .env
            .run(&["listen", "--subscribe", "--public-url", &self.url()]);
        out.ok();
    }

    fn listen(&mut self) {
        let port = self.port.to_string();
        let child = self
            .env
            .command(&["listen", "--port", &port])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start listen");
        self.listener = Some(child);
        wait_for(30, "the listener", || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
    }

    /// Sends a signal to the listener and waits for it to end; returns its exit code.
    fn signal(&mut self, sig: i32) -> Option<i32> {
        let mut child = self.listener.take().expect("a listener");
        unsafe {
            libc::kill(child.id() as i32, sig);
        }
        child.wait().unwrap().code()
    }

    fn stats(&self) -> WebhookStats {
        Store::open(&self.env.state_path())
            .unwrap()
            .webhook_stats(i64::MAX / 2)
            .unwrap()
    }

    /// The state file, and the local record linked to HubSpot contact `hs_id`.
    fn local_of_hs(&self, hs_id: &str) -> (Store, RecordId) {
        let store = Store::open(&self.env.state_path()).unwrap();
        let link = store
            .links_by_remote_ids(HS, Contact, &[hs_id.to_string()])
            .unwrap()
            .remove(hs_id)
            .expect("linked in HubSpot");
        (store, link.local_id)
    }

    fn pd_of_hs(&self, hs_id: &str) -> String {
        let (store, local) = self.local_of_hs(hs_id);
        store
            .links_by_local_ids(PD, Contact, std::slice::from_ref(&local))
            .unwrap()
            .remove(&local)
            .expect("linked in Pipedrive")
            .remote_id
    }

    fn local_phone(&self, hs_id: &str) -> Option<String> {
        let store = Store::open(&self.env.state_path()).unwrap();
        let link = store
            .links_by_remote_ids(HS, Contact, &[hs_id.to_string()])
            .unwrap()
            .remove(hs_id)?;
        store
            .get_record(&link.local_id)
            .unwrap()?
            .fields
            .get("phone")
            .cloned()
    }

    fn pd_phone(&self, pd_id: &str) -> Option<String> {
        self.pd
            .record(Contact, pd_id)
            .get("phone")
            .map(str::to_string)
    }

    /// A HubSpot delivery made by hand, signed with `secret` at `ts`; returns the status.
    /// Delivers, signed, HubSpot's event `event_id`: a phone change of contact `hs_id`.
    fn deliver_hs_event(&self, event_id: u64, hs_id: &str) -> u16 {
        let body = hs_event(self.hs.sandbox.hub_id(), event_id, hs_id);
        self.deliver_hs(&body, &self.hs.sandbox.client_secret(), now_ms())
    }

    fn deliver_hs(&self, body: &str, secret: &str, ts: i64) -> u16 {
        let url = format!("{}/hooks/{HS}", self.url());
        let ts = ts.to_string();
        let sig = hubspot_v3_signature(secret, "POST", &url, body.as_bytes(), &ts);
        let headers = vec![
            ("X-HubSpot-Signature-v3".to_string(), sig),
            ("X-HubSpot-Request-Timestamp".to_string(), ts),
        ];
        post(&url, &headers, body.as_bytes(), Duration::from_secs(10)).unwrap()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(mut c) = self.listener.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn hs_event(portal: u64, event_id: u64, object_id: &str) -> String {
    hs_events(portal, event_id, &[object_id.to_string()])
}

/// One HubSpot delivery, of portal `portal`, of a phone change of each of `object_ids`, event
/// ids from `first`.
fn hs_events(portal: u64, first: u64, object_ids: &[String]) -> String {
    let events: Vec<String> = object_ids
        .iter()
        .zip(first..)
        .map(|(object_id, event_id)| {
            format!(
                r#"{{"eventId":{event_id},"subscriptionId":1,"portalId":{portal},"appId":1,"occurredAt":{},"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":{object_id},"propertyName":"phone","propertyValue":"x","changeSource":"CRM_UI","sourceId":"userId:1"}}"#,
                now_ms()
            )
        })
        .collect();
    format!("[{}]", events.join(","))
}

/// The calls of a sandbox's log as `METHOD path?query`.
fn calls(log: Vec<crmsync::sandbox::LoggedRequest>) -> Vec<String> {
    log.into_iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// How many of `calls` start with `prefix`.
fn count(calls: &[String], prefix: &str) -> usize {
    calls.iter().filter(|c| c.starts_with(prefix)).count()
}

/// That `n` contacts cost HubSpot one batch read a hundred, and Pipedrive one read by ids a
/// hundred, none one by one, and an update a person.
fn assert_read_in_batches(hs: &[String], pd: &[String], n: usize) {
    assert_eq!(
        count(hs, "POST /crm/v3/objects/contacts/batch/read"),
        n.div_ceil(100),
        "{hs:#?}"
    );
    assert_eq!(count(hs, "GET /crm/v3/objects/contacts/"), 0, "{hs:#?}");
    assert_eq!(
        count(pd, "GET /api/v2/persons?ids="),
        n.div_ceil(100),
        "{pd:#?}"
    );
    assert_eq!(count(pd, "GET /api/v2/persons/"), 0, "{pd:#?}");
    assert_eq!(count(pd, "PATCH /api/v2/persons/"), n, "{pd:#?}");
}

#[test]
fn an_edit_in_hubspot_reaches_the_local_store_and_pipedrive_through_listen_alone() {
    let (mut w, ids) = World::start(3, "poll_every = \"1h\"");
    w.subscribe();
    w.listen();
    let pd_id = w.pd_of_hs(&ids[0]);
    // Let the catch-up sync on start end before counting writes.
    std::thread::sleep(Duration::from_secs(2));
    w.hs.clear_request_log();
    w.pd.clear_request_log();
    w.hs.edit(Contact, &ids[0], &[("phone", "+1 555 0199")]);
    wait_for(30, "the phone in Pipedrive", || {
        w.pd_phone(&pd_id).as_deref() == Some("+1 555 0199")
    });
    assert_eq!(w.local_phone(&ids[0]).as_deref(), Some("+1 555 0199"));
    // Pipedrive's event of crmsync's own write comes back and writes nothing.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(w.hs.write_calls(), Vec::<String>::new());
    assert_eq!(
        w.pd.write_calls(),
        vec![format!("PATCH /api/v2/persons/{pd_id}")]
    );
    assert_eq!(w.signal(libc::SIGTERM), Some(0), "SIGTERM ends it with 0");
    let st = w.stats();
    assert_eq!(st.queued, 0);
    assert!(st.applied >= 1, "{st:?}");
}

#[test]
fn a_local_edit_settles_with_one_write_per_crm_own_events_dropped_or_read_once() {
    for listen in [
        "poll_every = \"2s\"\nown_sources = { hubspot = \"3141592\", pipedrive = \"1\" }",
        "poll_every = \"2s\"",
    ] {
        let (mut w, ids) = World::start(2, listen);
        w.subscribe();
        w.listen();
        std::thread::sleep(Duration::from_secs(3));
        let pd_id = w.pd_of_hs(&ids[1]);
        w.hs.clear_request_log();
        w.pd.clear_request_log();
        let local = {
            let store = Store::open(&w.env.state_path()).unwrap();
            store
                .links_by_remote_ids(HS, Contact, std::slice::from_ref(&ids[1]))
                .unwrap()
                .remove(&ids[1])
                .unwrap()
                .local_id
        };
        {
            let mut store = Store::open(&w.env.state_path()).unwrap();
            let mut rec = store.get_record(&local).unwrap().unwrap();
            crmsync::model::set_field(&mut rec.fields, "phone", "+44 20 7946 0001");
            rec.updated_at = now_ms();
            store.save_records(&[rec], &WriteOrigin::User).unwrap();
        }
        wait_for(30, "the phone in Pipedrive", || {
            w.pd_phone(&pd_id).as_deref() == Some("+44 20 7946 0001")
        });
        // Two more polls and the deliveries of both CRMs' events.
        std::thread::sleep(Duration::from_secs(6));
        assert_eq!(
            w.hs.write_calls().len(),
            1,
            "{listen}: {:?}",
            w.hs.write_calls()
        );
        assert_eq!(
            w.pd.write_calls().len(),
            1,
            "{listen}: {:?}",
            w.pd.write_calls()
        );
        assert!(w.stats().applied + w.stats().dropped >= 2, "{listen}");
    }
}

#[test]
fn bad_signatures_stale_timestamps_replays_and_wrong_passwords_are_refused() {
    let (mut w, ids) = World::start(1, "poll_every = \"1h\"");
    w.listen();
    let secret = w.hs.sandbox.client_secret();
    let body = hs_event(w.hs.sandbox.hub_id(), 77, &ids[0]);
    assert_eq!(w.deliver_hs(&body, "not-the-secret", now_ms()), 401);
    assert_eq!(
        w.deliver_hs(&body, &secret, now_ms() - 6 * 60 * 1000),
        401,
        "a delivery signed six minutes ago (a replay of an old one)"
    );
    let pd_url = format!("{}/hooks/{PD}", w.url());
    let pd_body = r#"{"meta":{"action":"change","entity":"person","entity_id":"1","id":"e-1","timestamp":"2026-01-01T00:00:00Z","version":"2.0","change_source":"app","user_id":"2"},"data":{"id":1},"previous":{}}"#;
    let wrong = vec![(
        "Authorization".to_string(),
        basic_auth_header("crmsync", "guess"),
    )];
    assert_eq!(
        post(&pd_url, &wrong, pd_body.as_bytes(), Duration::from_secs(5)).unwrap(),
        401
    );
    let st = w.stats();
    assert_eq!((st.queued, st.applied, st.refused), (0, 0, 3), "{st:?}");
    let status = w.env.run(&["status", "--json"]).json();
    assert_eq!(status["listener"]["running"], true, "{status}");
    assert_eq!(status["listener"]["refused"], 3, "{status}");
    // A valid delivery replayed within the window is answered and applied once.
    for _ in 0..3 {
        assert_eq!(w.deliver_hs(&body, &secret, now_ms()), 200);
    }
    wait_for(20, "the event applied", || w.stats().applied == 1);
    std::thread::sleep(Duration::from_millis(500));
    let st = w.stats();
    assert_eq!((st.queued, st.applied), (0, 1), "{st:?}");
}

#[test]
fn events_out_of_order_end_in_the_newest_state() {
    let (mut w, ids) = World::start(1, "poll_every = \"1h\"");
    w.listen();
    let pd_id = w.pd_of_hs(&ids[0]);
    w.hs.edit(Contact, &ids[0], &[("phone", "+1 555 0001")]);
    w.hs.tick();
    w.hs.edit(Contact, &ids[0], &[("phone", "+1 555 0002")]);
    // The second edit's event arrives first, the first edit's after it.
    assert_eq!(w.deliver_hs_event(2, &ids[0]), 200);
    wait_for(20, "the newest phone", || {
        w.pd_phone(&pd_id).as_deref() == Some("+1 555 0002")
    });
    assert_eq!(w.deliver_hs_event(1, &ids[0]), 200);
    wait_for(20, "both events applied", || w.stats().applied == 2);
    assert_eq!(w.pd_phone(&pd_id).as_deref(), Some("+1 555 0002"));
    assert_eq!(w.local_phone(&ids[0]).as_deref(), Some("+1 555 0002"));
}

#[test]
fn an_event_of_another_hubspot_portal_is_dropped_and_changes_nothing() {
    let (mut w, ids) = World::start(1, "poll_every = \"1h\"");
    w.listen();
    let pd_id = w.pd_of_hs(&ids[0]);
    std::thread::sleep(Duration::from_secs(2));
    let before = w.stats();
    w.hs.edit(Contact, &ids[0], &[("phone", "+1 555 0404")]);
    w.pd.clear_request_log();
    // Signed with the app's secret, as HubSpot signs every portal's events of a public app,
    // but of a portal this connection does not sync (whose contact may have the same id).
    let other = hs_event(w.hs.sandbox.hub_id() + 1, 40, &ids[0]);
    let secret = w.hs.sandbox.client_secret();
    assert_eq!(w.deliver_hs(&other, &secret, now_ms()), 200);
    wait_for(10, "the event dropped", || {
        w.stats().dropped == before.dropped + 1
    });
    std::thread::sleep(Duration::from_secs(1));
    let st = w.stats();
    assert_eq!((st.queued, st.applied), (0, before.applied));
    assert!(calls(w.pd.sandbox.request_log()).is_empty());
    assert_ne!(w.pd_phone(&pd_id).as_deref(), Some("+1 555 0404"));
    let status = w.env.run(&["status"]);
    let dropped = format!(
        "{} dropped (own writes coming back, or of another account)",
        before.dropped + 1
    );
    assert!(status.stdout.contains(&dropped), "{}", status.stdout);
    // The same contact's event of this portal is carried.
    assert_eq!(w.deliver_hs_event(41, &ids[0]), 200);
    wait_for(20, "the edit carried", || {
        w.pd_phone(&pd_id).as_deref() == Some("+1 555 0404")
    });
}

#[test]
fn a_listener_killed_with_events_queued_loses_none_after_restart() {
    let (mut w, ids) = World::start(1, "poll_every = \"1h\"");
    w.subscribe();
    let pd_id = w.pd_of_hs(&ids[0]);
    // Pipedrive refuses everything: the batch cannot finish, its events stay queued.
    w.pd.fail_calls(1.0);
    w.listen();
    w.hs.edit(Contact, &ids[0], &[("phone", "+1 555 0303")]);
    wait_for(20, "the event queued", || w.stats().queued >= 1);
    w.signal(libc::SIGKILL);
    assert!(w.stats().queued >= 1);
    w.pd.fail_calls(0.0);
    w.listen();
    wait_for(40, "the queue applied", || w.stats().queued == 0);
    assert_eq!(w.pd_phone(&pd_id).as_deref(), Some("+1 555 0303"));
    assert!(w.stats().applied >= 1);
}

/// The values the state file keeps of the local record linked to HubSpot contact `hs_id`: its
/// fields, the bases of its links, and the values of its history.
fn kept_values(w: &World, hs_id: &str) -> Vec<String> {
    let (store, local) = w.local_of_hs(hs_id);
    let record = store.get_record(&local).unwrap().expect("the record");
    let mut kept: Vec<String> = record.fields.into_values().collect();
    for conn in [HS, PD] {
        let links = store
            .links_by_local_ids(conn, Contact, std::slice::from_ref(&local))
            .unwrap();
        kept.extend(links.into_values().flat_map(|l| l.base.into_values()));
    }
    for a in store.audit_for_record(&local, None, 1_000).unwrap() {
        kept.extend(a.old.into_iter().chain(a.new));
    }
    kept
}

/// The local record linked to HubSpot contact `hs_id`, and whether it is archived.
fn local_archived(w: &World, hs_id: &str) -> bool {
    let (store, local) = w.local_of_hs(hs_id);
    store
        .get_record(&local)
        .unwrap()
        .expect("the local record")
        .archived_at
        .is_some()
}

#[test]
fn a_contact_erased_in_hubspot_for_privacy_is_archived_locally_and_deleted_in_pipedrive() {
    let (mut w, ids) = World::start(3, "poll_every = \"1h\"");
    w.subscribe();
    w.listen();
    let pd_ids: Vec<String> = ids.iter().map(|id| w.pd_of_hs(id)).collect();
    std::thread::sleep(Duration::from_secs(2));
    // Erased for good: HubSpot's API has no trace of it, only the event tells.
    w.hs.sandbox.gdpr_delete_contact(&ids[0]).unwrap();
    let in_pipedrive = |pd_id: &str| w.pd.live(Contact).iter().any(|p| p.id == pd_id);
    wait_for(30, "the person deleted in Pipedrive", || {
        !in_pipedrive(&pd_ids[0])
    });
    assert!(local_archived(&w, &ids[0]), "the local record is archived");
    // HubSpot erased its values for good; the state file keeps none of them either (the
    // record's row and links stay, ids only).
    wait_for(10, "the local values erased", || {
        kept_values(&w, &ids[0]).is_empty()
    });
    // The others are as they were.
    for (hs_id, pd_id) in ids.iter().zip(&pd_ids).skip(1) {
        assert!(!local_archived(&w, hs_id));
        assert!(in_pipedrive(pd_id));
        assert!(!kept_values(&w, hs_id).is_empty());
    }
    // Its history says when it was erased, and holds no value.
    let log = w.env.run(&["log", "--record", &format!("{HS}:{}", ids[0])]);
    log.ok();
    assert!(log.stdout.contains("every value erased"), "{}", log.stdout);
    assert!(!log.stdout.contains('@'), "no email left: {}", log.stdout);
    // A sync after finds nothing more to do.
    assert_eq!(w.signal(libc::SIGTERM), Some(0));
    w.hs.clear_request_log();
    w.pd.clear_request_log();
    w.env.run(&["sync"]).ok();
    assert_eq!(w.hs.write_calls(), Vec::<String>::new());
    assert_eq!(w.pd.write_calls(), Vec::<String>::new());
}

#[test]
fn a_hubspot_deletion_and_an_erasure_are_carried_at_once_not_at_the_daily_archive_scan() {
    let (mut w, ids) = World::start(6, "poll_every = \"1h\"");
    w.listen();
    let pd_ids: Vec<String> = ids.iter().map(|id| w.pd_of_hs(id)).collect();
    std::thread::sleep(Duration::from_secs(2));
    // One contact archived, one erased, their events in one delivery. The change feed reads
    // HubSpot's archives once a day (and an erased contact never): both are read by id, the
    // archived one as archived with its values.
    // The archived one was edited just before (that edit's event never came): its last
    // values are pulled before it is archived.
    w.hs.edit(Contact, &ids[1], &[("phone", "+1 555 0142")]);
    w.hs.archive(Contact, &ids[1]);
    w.hs.sandbox.gdpr_delete_contact(&ids[0]).unwrap();
    let portal = w.hs.sandbox.hub_id();
    let event = |n: u64, kind: &str, id: &str| {
        format!(
            r#"{{"eventId":{n},"subscriptionId":1,"portalId":{portal},"appId":1,"occurredAt":{},"subscriptionType":"{kind}","attemptNumber":0,"objectId":{id},"changeSource":"CRM_UI","sourceId":"userId:1"}}"#,
            now_ms()
        )
    };
    let body = format!(
        "[{},{}]",
        event(901, "contact.deletion", &ids[1]),
        event(902, "contact.privacyDeletion", &ids[0])
    );
    let secret = w.hs.sandbox.client_secret();
    assert_eq!(w.deliver_hs(&body, &secret, now_ms()), 200);
    wait_for(30, "both events applied", || w.stats().applied == 2);
    let live: Vec<String> = w.pd.live(Contact).into_iter().map(|p| p.id).collect();
    for i in 0..2 {
        assert!(local_archived(&w, &ids[i]), "local record of contact {i}");
        assert!(!live.contains(&pd_ids[i]), "person of contact {i}");
    }
    for i in 2..6 {
        assert!(!local_archived(&w, &ids[i]));
        assert!(live.contains(&pd_ids[i]));
    }
    assert_eq!(w.local_phone(&ids[1]).as_deref(), Some("+1 555 0142"));
    // Deleted, not erased: HubSpot keeps its archived contact (restorable), and so do we.
    // Erased: no value kept.
    assert!(kept_values(&w, &ids[0]).is_empty());
}

#[test]
fn an_erasure_event_for_a_contact_hubspot_still_has_archives_nothing() {
    let (mut w, ids) = World::start(3, "poll_every = \"1h\"");
    w.listen();
    let pd_id = w.pd_of_hs(&ids[0]);
    std::thread::sleep(Duration::from_secs(2));
    w.pd.clear_request_log();
    // Signed, but HubSpot still has the contact (a mistaken or replayed-looking event): the
    // read by id finds it, and it is left as it is.
    let portal = w.hs.sandbox.hub_id();
    let body = format!(
        r#"[{{"eventId":777,"subscriptionId":1,"portalId":{portal},"appId":1,"occurredAt":{},"subscriptionType":"contact.privacyDeletion","attemptNumber":0,"objectId":{},"changeSource":"GDPR","sourceId":"userId:1"}}]"#,
        now_ms(),
        ids[0]
    );
    let secret = w.hs.sandbox.client_secret();
    assert_eq!(w.deliver_hs(&body, &secret, now_ms()), 200);
    wait_for(30, "the event applied", || w.stats().applied == 1);
    assert!(!local_archived(&w, &ids[0]));
    assert!(w.local_phone(&ids[0]).is_some(), "its values kept");
    assert!(w.pd.live(Contact).iter().any(|p| p.id == pd_id));
    assert_eq!(w.pd.write_calls(), Vec::<String>::new());
}

#[test]
fn a_banned_webhook_loses_events_and_the_catch_up_poll_brings_the_changes() {
    let (mut w, ids) = World::start(1, "poll_every = \"3s\"");
    w.subscribe();
    // Only Pipedrive's webhook here; its ban lasts 18 s at this scale.
    w.hs.sandbox.set_webhooks(None, &[], 1.0);
    w.pd.sandbox.set_webhook_time_scale(0.01);
    let pd_id = w.pd_of_hs(&ids[0]);
    // Nothing listens yet: ten failed first attempts ban the Pipedrive webhook.
    for i in 0..10 {
        w.pd.edit(Contact, &pd_id, &[("phone", &format!("+49 30 000000{i}"))]);
    }
    std::thread::sleep(Duration::from_millis(500));
    w.listen();
    w.pd.edit(Contact, &pd_id, &[("phone", "+49 30 1234567")]);
    let hs_phone = || {
        w.hs.record(Contact, &ids[0])
            .get("phone")
            .map(str::to_string)
    };
    wait_for(40, "the phone in HubSpot", || {
        hs_phone().as_deref() == Some("+49 30 1234567")
    });
    assert_eq!(
        w.stats().applied,
        0,
        "no Pipedrive event was delivered: the poll carried it"
    );
}

#[test]
fn a_batch_of_edits_costs_one_read_a_hundred_per_crm_plus_the_writes() {
    const N: usize = 150;
    let (mut w, ids) = World::start(N, "poll_every = \"1h\"");
    w.listen();
    // Let the catch-up sync on start end before counting.
    std::thread::sleep(Duration::from_secs(3));
    let pd_ids: Vec<String> = ids.iter().map(|id| w.pd_of_hs(id)).collect();
    let phone = |i: usize| format!("+1 555 7{i:03}");
    for (i, id) in ids.iter().enumerate() {
        w.hs.edit(Contact, id, &[("phone", &phone(i))]);
    }
    w.hs.clear_request_log();
    w.pd.clear_request_log();
    // HubSpot's deliveries: at most 100 events each.
    let secret = w.hs.sandbox.client_secret();
    for (n, chunk) in ids.chunks(100).enumerate() {
        let body = hs_events(w.hs.sandbox.hub_id(), 1_000 * (n as u64 + 1), chunk);
        assert_eq!(w.deliver_hs(&body, &secret, now_ms()), 200);
    }
    wait_for(60, "every event applied", || {
        let st = w.stats();
        st.queued == 0 && st.applied == N as u64
    });
    for (i, pd_id) in pd_ids.iter().enumerate() {
        assert_eq!(w.pd_phone(pd_id), Some(phone(i)), "person {pd_id}");
    }
    let hs = calls(w.hs.sandbox.request_log());
    let pd = calls(w.pd.sandbox.request_log());
    // HubSpot: the contacts read by batch, nothing written. Pipedrive: the persons read by
    // ids (the read that checks they did not change since, and that keeps their other
    // phones), then one update a person.
    assert_read_in_batches(&hs, &pd, N);
    assert_eq!(w.hs.write_calls(), Vec::<String>::new());
    let other: Vec<&String> = pd
        .iter()
        .filter(|c| {
            !c.starts_with("GET /api/v2/persons?ids=") && !c.starts_with("PATCH /api/v2/persons/")
        })
        .collect();
    assert!(
        other
            .iter()
            .all(|c| c.starts_with("GET /api/v1/users/me")
                || c.starts_with("GET /api/v1/personFields")),
        "besides, only each run's account check and field catalogue: {other:#?}"
    );
    assert!(
        hs.iter().all(
            |c| c.starts_with("POST /crm/v3/objects/contacts/batch/read")
                || c.starts_with("GET /account-info/v3/details")
        ),
        "{hs:#?}"
    );
}

#[test]
fn single_edits_one_batch_each_ask_no_account_again_and_read_the_field_catalogue_once_a_minute() {
    const N: usize = 4;
    let (mut w, ids) = World::start(N, "poll_every = \"1h\"");
    w.listen();
    std::thread::sleep(Duration::from_secs(3));
    let pd_ids: Vec<String> = ids.iter().map(|id| w.pd_of_hs(id)).collect();
    let phone = |i: usize| format!("+1 555 6{i:03}");
    w.pd.clear_request_log();
    w.hs.clear_request_log();
    let secret = w.hs.sandbox.client_secret();
    // One edit at a time, each applied (its own batch, its own run) before the next.
    for (i, id) in ids.iter().enumerate() {
        w.hs.edit(Contact, id, &[("phone", &phone(i))]);
        let body = hs_events(
            w.hs.sandbox.hub_id(),
            5_000 + i as u64,
            std::slice::from_ref(id),
        );
        assert_eq!(w.deliver_hs(&body, &secret, now_ms()), 200);
        wait_for(30, "the edit applied", || w.stats().applied == i as u64 + 1);
        assert_eq!(
            w.pd_phone(&pd_ids[i]),
            Some(phone(i)),
            "person {}",
            pd_ids[i]
        );
    }
    let pd = calls(w.pd.sandbox.request_log());
    assert_eq!(count(&pd, "PATCH /api/v2/persons/"), N, "{pd:#?}");
    // The first batch's write reads the catalogue (unless the catch-up on start just did);
    // the later ones, under a minute after, write with the one this process read.
    assert!(count(&pd, "GET /api/v1/personFields") <= 1, "{pd:#?}");
    // Nor is the account each run's connection reaches asked again: the same base URL and
    // token reach the same company.
    assert_eq!(count(&pd, "GET /api/v1/users/me"), 0, "{pd:#?}");
    let hs = calls(w.hs.sandbox.request_log());
    assert_eq!(count(&hs, "GET /account-info/v3/details"), 0, "{hs:#?}");
}

#[test]
fn a_person_changed_in_pipedrive_since_is_not_written_over_by_a_batch() {
    let (mut w, ids) = World::start(3, "poll_every = \"1h\"");
    w.listen();
    std::thread::sleep(Duration::from_secs(3));
    let pd_ids: Vec<String> = ids.iter().map(|id| w.pd_of_hs(id)).collect();
    // Three phones edited in HubSpot; then, later, the first person's phone edited in
    // Pipedrive, a home phone added beside it and the name changed, with no event delivered
    // (no webhook to Pipedrive): a change made there since the last sync.
    for (i, id) in ids.iter().enumerate() {
        w.hs.edit(Contact, id, &[("phone", &format!("+1 555 010{i}"))]);
    }
    std::thread::sleep(Duration::from_millis(1_100));
    w.pd.sandbox
        .update_record(
            "persons",
            pd_ids[0].parse().unwrap(),
            &serde_json::json!({
                "name": "Renamed Person",
                "phones": [
                    {"value": "+49 30 000111", "primary": true, "label": "work"},
                    {"value": "+49 30 000222", "primary": false, "label": "home"},
                ],
            }),
        )
        .unwrap();
    w.hs.clear_request_log();
    w.pd.clear_request_log();
    let secret = w.hs.sandbox.client_secret();
    assert_eq!(
        w.deliver_hs(
            &hs_events(w.hs.sandbox.hub_id(), 500, &ids),
            &secret,
            now_ms()
        ),
        200
    );
    wait_for(30, "the events applied", || w.stats().applied == 3);
    // The others get HubSpot's phones.
    assert_eq!(w.pd_phone(&pd_ids[1]).as_deref(), Some("+1 555 0101"));
    assert_eq!(w.pd_phone(&pd_ids[2]).as_deref(), Some("+1 555 0102"));
    // The first keeps its newer phone, its home phone and its name: the two phone edits are
    // a conflict, decided for the newer (Pipedrive's), which goes to HubSpot and the store.
    let raw = w.pd.sandbox.dump()["persons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == pd_ids[0].parse::<i64>().unwrap())
        .cloned()
        .unwrap();
    let phones: Vec<&str> = raw["phones"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["value"].as_str())
        .collect();
    assert_eq!(phones, ["+49 30 000111", "+49 30 000222"], "{raw}");
    assert_eq!(raw["name"], "Renamed Person");
    assert_eq!(w.local_phone(&ids[0]).as_deref(), Some("+49 30 000111"));
    let hs_contact = w.hs.record(Contact, &ids[0]);
    assert_eq!(hs_contact.get("phone"), Some("+49 30 000111"));
    assert_eq!(hs_contact.get("first_name"), Some("Renamed"));
    let store = Store::open(&w.env.state_path()).unwrap();
    let conflicts = store
        .list_conflicts(&crmsync::store::ConflictFilter::default())
        .unwrap();
    assert!(
        conflicts.iter().any(|c| c.field == "phone"),
        "the two phone edits are on record: {conflicts:?}"
    );
    // Pipedrive: one read of the three (by ids), two updates.
    let pd = calls(w.pd.sandbox.request_log());
    assert_eq!(count(&pd, "GET /api/v2/persons?ids="), 1, "{pd:#?}");
    assert_eq!(count(&pd, "GET /api/v2/persons/"), 0, "{pd:#?}");
    assert_eq!(count(&pd, "PATCH /api/v2/persons/"), 2, "{pd:#?}");
}

#[test]
fn sync_record_of_many_records_reads_each_crm_once_a_hundred() {
    const N: usize = 120;
    let (w, ids) = World::start(N, "poll_every = \"1h\"");
    let store = Store::open(&w.env.state_path()).unwrap();
    let links = store.links_by_remote_ids(HS, Contact, &ids).unwrap();
    let mut records = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let mut rec = store.get_record(&links[id].local_id).unwrap().unwrap();
        crmsync::model::set_field(&mut rec.fields, "phone", format!("+44 20 7946 {i:04}"));
        rec.updated_at = now_ms();
        records.push(rec);
    }
    drop(store);
    Store::open(&w.env.state_path())
        .unwrap()
        .save_records(&records, &WriteOrigin::User)
        .unwrap();
    w.hs.clear_request_log();
    w.pd.clear_request_log();
    let mut args = vec!["sync".to_string()];
    for r in &records {
        args.push("--record".into());
        args.push(r.id.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    w.env.run(&args).ok();
    let hs = calls(w.hs.sandbox.request_log());
    let pd = calls(w.pd.sandbox.request_log());
    assert_read_in_batches(&hs, &pd, N);
    assert_eq!(
        count(&hs, "POST /crm/v3/objects/contacts/batch/update"),
        N.div_ceil(100),
        "{hs:#?}"
    );
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            w.pd_phone(&w.pd_of_hs(id)),
            Some(format!("+44 20 7946 {i:04}"))
        );
    }
}

#[test]
fn a_second_listener_on_the_state_file_is_refused_and_a_killed_one_blocks_no_restart() {
    let (mut w, ids) = World::start(1, "poll_every = \"1h\"");
    w.listen();
    let first = w.listener.as_ref().unwrap().id();
    // Another port, the same state file: refused, naming the file and the one that runs.
    let second = w.env.run(&["listen", "--port", &free_port().to_string()]);
    assert_eq!(second.code, 1, "{}", second.stderr);
    let state = w.env.state_path();
    for part in [
        format!("`{}`", state.display()),
        format!("pid {first}, listening on 127.0.0.1:{}", w.port),
        format!("kill {first}"),
    ] {
        assert!(
            second.stderr.contains(&part),
            "{part} in: {}",
            second.stderr
        );
    }
    // The first one is untouched: it still takes and applies events.
    assert_eq!(w.deliver_hs_event(1, &ids[0]), 200);
    wait_for(20, "the event applied", || w.stats().applied == 1);
    // Killed with SIGKILL, it leaves its lock file naming it; the next start is not blocked.
    w.signal(libc::SIGKILL);
    let lock = std::fs::read_to_string(format!("{}.listen.lock", state.display())).unwrap();
    assert!(lock.starts_with(&first.to_string()), "{lock}");
    w.listen();
    let status = w.env.run(&["status", "--json"]).json();
    assert_eq!(status["listener"]["running"], true, "{status}");
    assert_ne!(status["listener"]["pid"], first, "{status}");
    assert_eq!(w.deliver_hs_event(2, &ids[0]), 200);
    wait_for(20, "the event applied", || w.stats().applied == 2);
    // Stopped cleanly, it leaves the lock file empty.
    assert_eq!(w.signal(libc::SIGTERM), Some(0));
    let lock = std::fs::read_to_string(format!("{}.listen.lock", state.display())).unwrap();
    assert_eq!(lock, "");
}

#[test]
fn subscribe_checks_the_hubspot_apps_webhook_settings_where_the_config_names_the_app() {
    let app = format!(
        "webhooks_app_id = {}\ndeveloper_key_env = \"HS_DEVELOPER_KEY\"\n",
        crmsync::sandbox::hubspot::APP_ID
    );
    let (mut w, _) = World::start_with(1, "poll_every = \"1h\"", &app);
    w.env
        .set_env("HS_DEVELOPER_KEY", &w.hs.sandbox.developer_key());
    let target = format!("{}/hooks/{HS}", w.url());
    let config = crmsync::config::Config::load(&w.env.config_path()).unwrap();
    let needed =
        crmsync::listen::subscribe::needed_subscriptions(&config, HS, &config.connections[HS])
            .unwrap();
    let sub = |s: &crmsync::providers::WebhookSubscription, active: bool| serde_json::json!({"eventType": s.event_type, "propertyName": s.property, "active": active});
    let subscribe = || {
        let out = w
            .env
            .run(&["listen", "--subscribe", "--public-url", &w.url()]);
        out.ok();
        out.stdout.clone()
    };
    // Another target URL, a subscription missing, one paused, one the listener does not need.
    let phone = needed
        .iter()
        .position(|s| s.property.as_deref() == Some("phone"))
        .expect("the phone is read from HubSpot");
    let email = needed
        .iter()
        .position(|s| s.property.as_deref() == Some("email"))
        .unwrap();
    let mut set: Vec<serde_json::Value> = needed
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != phone)
        .map(|(i, s)| sub(s, i != email))
        .collect();
    set.push(serde_json::json!({"eventType": "deal.creation"}));
    w.hs.sandbox.set_webhook_subscriptions(
        Some("https://old.example.com/hooks/hubspot"),
        &set,
        1.0,
    );
    let out = subscribe();
    for part in [
        "HubSpot app 3141592's webhooks differ from what the listener needs:".to_string(),
        format!(
            "target URL: the app's is https://old.example.com/hooks/hubspot, the listener's {target}"
        ),
        "missing subscriptions (1): contact.propertyChange (phone)".to_string(),
        "paused subscriptions (1), to turn on: contact.propertyChange (email)".to_string(),
    ] {
        assert!(out.contains(&part), "{part} in:\n{out}");
    }
    // Set as the listener needs them: said so.
    let set: Vec<serde_json::Value> = needed.iter().map(|s| sub(s, true)).collect();
    w.hs.sandbox
        .set_webhook_subscriptions(Some(&target), &set, 1.0);
    let out = subscribe();
    assert!(
        out.contains(&format!(
            "`{HS}`: HubSpot app 3141592's webhooks are as the listener needs: target URL {target}, the {} subscriptions active",
            needed.len()
        )),
        "{out}"
    );
    // No target URL at all.
    w.hs.sandbox.set_webhook_subscriptions(None, &set, 1.0);
    let out = subscribe();
    assert!(
        out.contains(&format!("target URL: none set: enter {target}")),
        "{out}"
    );
    // A wrong key: said, never shown, and the settings to enter printed instead.
    w.env.set_env("HS_DEVELOPER_KEY", "not-the-key-5150");
    let run = w
        .env
        .run(&["listen", "--subscribe", "--public-url", &w.url()]);
    run.ok();
    assert!(
        run.stdout
            .contains("`hubspot`: the webhook settings of HubSpot app 3141592 cannot be read:"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("401"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("  Target URL: {target}")));
    assert!(!run.stdout.contains("not-the-key-5150") && !run.stderr.contains("not-the-key-5150"));
    // The key read with the developer key, not the connection's token.
    let log = calls(w.hs.sandbox.request_log());
    assert!(
        count(&log, "GET /webhooks/v3/3141592/settings?hapikey=") >= 4,
        "{log:#?}"
    );
}

#[test]
fn subscribe_prints_the_hubspot_settings_to_enter_without_the_app() {
    let (w, _) = World::start(1, "poll_every = \"1h\"");
    let out = w
        .env
        .run(&["listen", "--subscribe", "--public-url", &w.url()]);
    out.ok();
    let target = format!("{}/hooks/{HS}", w.url());
    for part in [
        format!("  Target URL: {target}"),
        "    contact.creation".to_string(),
        "    contact.propertyChange: ".to_string(),
        "    company.propertyChange: ".to_string(),
        "set `webhooks_app_id` and `developer_key_env` in `[connections.hubspot]`".to_string(),
    ] {
        assert!(out.stdout.contains(&part), "{part} in:\n{}", out.stdout);
    }
    let props = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("contact.propertyChange: "))
        .unwrap();
    for p in ["email", "firstname", "lastname", "phone"] {
        assert!(props.contains(p), "{props}");
    }
    assert_eq!(
        count(&calls(w.hs.sandbox.request_log()), "GET /webhooks/"),
        0,
        "nothing read without the app"
    );
}

#[test]
fn a_sync_while_the_listener_applies_a_batch_waits_its_turn_and_goes_before_the_next_batch() {
    let (mut w, ids) = World::start(10, "poll_every = \"1h\"");
    w.listen();
    // Let the catch-up sync on start end.
    std::thread::sleep(Duration::from_secs(2));
    // Every Pipedrive call answered a second late: a batch holds the run lock for seconds.
    w.pd.sandbox.set_faults(crmsync::sandbox::FaultOptions {
        slow_rate: 1.0,
        delay_ms: 1_000,
        ..Default::default()
    });
    let (first, second) = ids.split_at(5);
    let edit_and_deliver = |ids: &[String], event_id: u64| {
        for (i, id) in ids.iter().enumerate() {
            w.hs.edit(
                Contact,
                id,
                &[("phone", &format!("+1 555 07{event_id:02}{i}"))],
            );
        }
        let body = hs_events(w.hs.sandbox.hub_id(), event_id, ids);
        assert_eq!(
            w.deliver_hs(&body, &w.hs.sandbox.client_secret(), now_ms()),
            200
        );
    };
    edit_and_deliver(first, 10);
    let state = w.env.state_path();
    let lock = format!("{}.lock", state.display());
    let listener = w.listener.as_ref().unwrap().id().to_string();
    wait_for(30, "the listener's batch", || {
        std::fs::read_to_string(&lock).is_ok_and(|note| note.trim() == listener)
    });
    // A `sync` started now waits for the batch instead of failing, and says so.
    let sync = w
        .env
        .command(&["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(30, "the sync to wait its turn", || {
        crmsync::store::others_waiting(&state).unwrap()
    });
    // More events queue up meanwhile: the listener lets the waiting sync go before it takes
    // them.
    edit_and_deliver(second, 20);
    let out = sync.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "waiting for `crmsync listen` (pid {listener}) to finish the batch it is applying"
        )),
        "{stderr}"
    );
    let st = w.stats();
    assert_eq!(
        (st.applied, st.queued),
        (5, 5),
        "the first batch applied before the sync, the second not yet"
    );
    // Every edit arrives (the sync carried the second five itself; their events then find
    // nothing to write) and the queue drains.
    w.pd.sandbox
        .set_faults(crmsync::sandbox::FaultOptions::default());
    wait_for(60, "the queue to drain", || w.stats().queued == 0);
    for (i, id) in first.iter().enumerate() {
        assert_eq!(w.pd_phone(&w.pd_of_hs(id)), Some(format!("+1 555 0710{i}")));
    }
    for (i, id) in second.iter().enumerate() {
        assert_eq!(w.pd_phone(&w.pd_of_hs(id)), Some(format!("+1 555 0720{i}")));
    }
    assert_eq!(w.signal(libc::SIGTERM), Some(0));
}
