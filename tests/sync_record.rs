//! One record on demand (`sync --record`), a first run on a few records (`sync --limit`), and
//! failures that heal themselves (automatic retries, parking, `retry RECORD`, `retry
//! --parked`), run against the HubSpot sandbox as users run them.

mod common;

use common::crm::{CONN, HubSpotCrm, Synced, TestCrm, contact, now_ms, tick};
use crmsync::model::ObjectKind::Contact;
use crmsync::model::{Record, RecordId};
use crmsync::store::{WriteFailure, WriteOp};

type W = Synced<HubSpotCrm>;

fn email(r: &Record) -> String {
    r.fields["email"].clone()
}

/// The sandbox's requests that read the change feed (a search).
fn feed_reads(w: &W) -> usize {
    w.crm
        .sandbox
        .request_log()
        .iter()
        .filter(|r| r.path.contains("/search"))
        .count()
}

// ---- sync --record -----------------------------------------------------------------------

#[test]
fn sync_record_carries_just_the_named_records_by_id_and_moves_no_cursor() {
    let w = W::start();
    let people: Vec<Record> = (0..3).map(contact).collect();
    w.save_local(&people);
    w.sync().ok();
    let cursors = |w: &W| {
        let s = w.store();
        (
            s.remote_cursor(CONN, Contact).unwrap(),
            s.local_cursor(CONN, Contact).unwrap(),
        )
    };
    let before = cursors(&w);
    let bea = w.remote_id(Contact, &people[1].id);
    tick();
    w.edit_local(&people[0].id, &[("job_title", "CTO")]);
    w.edit_local(&people[2].id, &[("job_title", "Left alone")]);
    w.crm.edit(Contact, &bea, &[("job_title", "VP")]);
    w.crm.clear_request_log();

    let run = w.run(&[
        "sync",
        "--record",
        &email(&people[0]),
        "--record",
        &email(&people[1]),
    ]);
    run.ok();
    let ann = w.remote_id(Contact, &people[0].id);
    assert_eq!(w.crm.record(Contact, &ann).get("job_title"), Some("CTO"));
    assert_eq!(w.local_record(&people[1].id).fields["job_title"], "VP");
    let cara = w.remote_id(Contact, &people[2].id);
    assert_eq!(w.crm.record(Contact, &cara).get("job_title"), None);
    assert_eq!(feed_reads(&w), 0, "read by id, not through the change feed");
    assert_eq!(cursors(&w), before);

    // The next plain sync still carries what `--record` left out.
    w.sync().ok();
    assert_eq!(
        w.crm.record(Contact, &cara).get("job_title"),
        Some("Left alone")
    );
    w.assert_sync_writes_nothing();
}

#[test]
fn sync_record_pulls_a_crm_record_no_local_record_is_linked_to() {
    let w = W::start();
    w.sync().ok();
    let id = w.crm.create(
        Contact,
        &[("email", "new@example.com"), ("first_name", "New")],
    );
    let other = w.crm.create(Contact, &[("email", "other@example.com")]);
    w.run(&["sync", "--record", &format!("{CONN}:{id}")]).ok();
    let local = w.local_for(Contact, &id);
    assert_eq!(local.fields["first_name"], "New");
    assert_eq!(w.local(Contact).len(), 1, "only the named record");
    w.sync().ok();
    w.local_for(Contact, &other);
}

#[test]
fn sync_record_refuses_a_record_it_cannot_find() {
    let w = W::start();
    w.save_local(&[contact(1)]);
    let run = w.run(&["sync", "--record", "nobody@example.com"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("no record `nobody@example.com`"),
        "{}",
        run.stderr
    );
    let run = w.run(&["sync", "--record", "elsewhere:42"]);
    run.expect_code(1);
    assert!(run.stderr.contains("`elsewhere`"), "{}", run.stderr);
    assert!(w.crm.live(Contact).is_empty());
    // Without a state file, a local record cannot be named.
    let fresh = W::start();
    let run = fresh.run(&["sync", "--record", "ann@example.com"]);
    assert_ne!(run.code, 0, "{}", run.stderr);
}

// ---- sync --limit ------------------------------------------------------------------------

#[test]
fn sync_limit_creates_at_most_n_on_each_side_and_the_next_run_does_the_rest() {
    let w = W::start();
    w.crm.seed(5, 0);
    let people: Vec<Record> = (0..4).map(contact).collect();
    w.save_local(&people);
    let run = w.run(&["sync", "--limit", "2"]);
    run.ok();
    assert!(run.stderr.contains("at most 2"), "{}", run.stderr);
    assert_eq!(w.local(Contact).len(), 4 + 2);
    assert_eq!(w.crm.live(Contact).len(), 5 + 2);
    let plan = w
        .run(&["sync", "--limit", "1", "--dry-run", "--json"])
        .json();
    let creates: usize = plan["plans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["ops"].as_array().unwrap())
        .filter(|op| op["op"].as_str().is_some_and(|o| o.ends_with("create")))
        .count();
    assert_eq!(creates, 2, "one on each side: {plan:#}");
    w.sync().ok();
    assert_eq!(w.local(Contact).len(), 9);
    assert_eq!(w.crm.live(Contact).len(), 9);
    w.assert_sync_writes_nothing();
}

// ---- failures that heal themselves -------------------------------------------------------

#[test]
fn a_parked_record_is_not_retried_until_requeued() {
    let w = W::start();
    let choice = w.crm.choice_field(w.conn);
    w.config("", &choice.mapping);
    let mut bad = contact(1);
    bad.fields.insert(choice.local.into(), choice.bad.into());
    w.save_local(std::slice::from_ref(&bad));
    w.sync().expect_code(3);
    let failed = w.run(&["status", "--failed", "--json"]).json();
    assert_eq!(failed[0]["retry"], "parked", "{failed:#}");
    assert!(
        failed[0]["parked_because"]
            .as_str()
            .is_some_and(|r| r.contains("validation error")),
        "{failed:#}"
    );
    let table = w.run(&["status", "--failed"]);
    assert!(
        table.stdout.contains("parked: a validation error"),
        "{}",
        table.stdout
    );

    // Parked: later syncs leave it alone, however long it has waited.
    w.crm.clear_request_log();
    w.sync().expect_code(3);
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());

    // Re-queued by a person, the next sync tries it once more (and it is parked again).
    let run = w.run(&["retry", &email(&bad), "--json"]);
    run.ok();
    assert_eq!(run.json()["requeued"], 1);
    w.sync().expect_code(3);
    assert!(!w.crm.write_calls().is_empty());
    w.crm.clear_request_log();
    w.sync().expect_code(3);
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());

    // Mended and re-queued with the other parked ones, it goes through.
    w.edit_local(&bad.id, &[(choice.local, choice.good)]);
    let run = w.run(&["retry", "--parked"]);
    run.ok();
    assert!(run.stderr.contains("re-queued 1"), "{}", run.stderr);
    w.sync().ok();
    assert_eq!(w.crm.live(Contact).len(), 1);
    assert_eq!(
        w.run(&["status", "--failed", "--json"]).json(),
        serde_json::json!([])
    );
}

/// Stores a failed update of `id` at `at` (a timeout: worth trying again), with the local
/// cursor past the record's change, as a push that failed leaves it.
fn fail_update(w: &W, id: &RecordId, at: i64) {
    let mut store = w.store();
    let seq = store.max_seq().unwrap();
    store.set_local_cursor(CONN, Contact, seq).unwrap();
    store
        .record_failure(
            CONN,
            Contact,
            id,
            None,
            WriteOp::Update,
            &WriteFailure {
                message: "timed out".into(),
                code: Some("504".into()),
                at,
                permanent: None,
            },
        )
        .unwrap();
}

#[test]
fn a_failed_record_is_tried_again_on_its_own_once_its_wait_is_over() {
    let w = W::start();
    let people: Vec<Record> = (0..2).map(contact).collect();
    w.save_local(&people);
    w.sync().ok();
    tick();
    w.edit_local(&people[0].id, &[("job_title", "Waited")]);
    w.edit_local(&people[1].id, &[("job_title", "Just failed")]);
    fail_update(&w, &people[0].id, now_ms() - 20 * 60_000);
    fail_update(&w, &people[1].id, now_ms());

    let failed = w.run(&["status", "--failed", "--json"]).json();
    let by_id = |id: &RecordId| {
        failed
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["local_id"] == id.0.as_str())
            .cloned()
            .unwrap()
    };
    assert_eq!(by_id(&people[0].id)["retry"], "due", "{failed:#}");
    let waiting = by_id(&people[1].id);
    assert_eq!(waiting["retry"], "waiting", "{failed:#}");
    assert!(waiting["next_try"].as_i64().unwrap() > now_ms() + 14 * 60_000);
    let table = w.run(&["status", "--failed"]);
    assert!(table.stdout.contains("next sync"), "{}", table.stdout);

    // The one whose 15 minutes are over goes; the other waits (exit 3: it is still failed).
    w.sync().expect_code(3);
    let first = w.remote_id(Contact, &people[0].id);
    let second = w.remote_id(Contact, &people[1].id);
    assert_eq!(
        w.crm.record(Contact, &first).get("job_title"),
        Some("Waited")
    );
    assert_eq!(w.crm.record(Contact, &second).get("job_title"), None);
    let failed = w.run(&["status", "--failed", "--json"]).json();
    assert_eq!(failed.as_array().unwrap().len(), 1, "{failed:#}");

    // `retry RECORD` does not wait.
    w.run(&["retry", &email(&people[1])]).ok();
    w.sync().ok();
    assert_eq!(
        w.crm.record(Contact, &second).get("job_title"),
        Some("Just failed")
    );
}

#[test]
fn retry_refuses_an_unknown_record_or_connection() {
    let w = W::start();
    w.save_local(&[contact(1)]);
    let run = w.run(&["retry", "nobody@example.com"]);
    run.expect_code(1);
    assert!(run.stderr.contains("no record"), "{}", run.stderr);
    w.run(&["retry", "-c", "nowhere"]).expect_code(2);
    w.run(&["retry", "--parked", "local1@example.org"])
        .expect_code(2);
    let run = w.run(&["retry", "local1@example.org"]);
    run.ok();
    assert!(
        run.stderr.contains("no failures of these records"),
        "{}",
        run.stderr
    );
}
