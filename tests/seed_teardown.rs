//! CI seeding that cleans up after itself, against both sandboxes: `import --to C --tag T`
//! tags in `crmsync_seed` exactly the records it creates in the CRM, and `teardown --tag T
//! --to C` archives exactly the records that carry the tag, with the local records linked to
//! them.

mod common;

use common::crm::{CONN, HubSpotCrm, Synced, TestCrm};
use common::pipedrive::PipedriveCrm;
use crmsync::model::ObjectKind::{Company, Contact};
use serde_json::{Value, json};

/// The seed tag as each CRM keeps it, read and written as a user of the CRM would.
trait Tags: TestCrm {
    /// The `crmsync_seed` of contact `id`.
    fn tag_of(&self, id: &str) -> Option<String>;
    /// A contact made in the CRM with `email` and `tag` in its `crmsync_seed`.
    fn create_tagged(&self, email: &str, tag: &str) -> String;
}

impl Tags for HubSpotCrm {
    fn tag_of(&self, id: &str) -> Option<String> {
        let dump = self.sandbox.dump();
        dump["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .and_then(|r| r["properties"]["crmsync_seed"].as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    fn create_tagged(&self, email: &str, tag: &str) -> String {
        let made = self
            .sandbox
            .create_record("contacts", &[("email", email), ("crmsync_seed", tag)])
            .unwrap();
        made["id"].as_str().unwrap().to_string()
    }
}

impl Tags for PipedriveCrm {
    fn tag_of(&self, id: &str) -> Option<String> {
        let key = self.sandbox.custom_field_keys("persons")["crmsync_seed"].clone();
        let dump = self.sandbox.dump();
        dump["persons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"].as_i64().map(|n| n.to_string()).as_deref() == Some(id))
            .and_then(|r| r["custom_fields"][&key].as_str())
            .map(str::to_string)
    }

    fn create_tagged(&self, email: &str, tag: &str) -> String {
        let key = self.sandbox.custom_field_keys("persons")["crmsync_seed"].clone();
        let made = self
            .sandbox
            .create_record(
                "persons",
                &json!({ "name": email, "emails": [{ "value": email, "primary": true }], "custom_fields": { key: tag } }),
            )
            .unwrap();
        made["id"].as_i64().map(|n| n.to_string()).unwrap()
    }
}

const ROWS: &str = "email,first_name\nann@seed.test,Ann\nbob@seed.test,Bob\nmia@seed.test,Mia\n";

/// The live contact of the CRM with `email`.
fn live_id<C: TestCrm>(w: &Synced<C>, email: &str) -> Option<String> {
    w.crm
        .live(Contact)
        .into_iter()
        .find(|r| r.get("email") == Some(email))
        .map(|r| r.id)
}

/// A CRM with Mia already in it, seeded from [`ROWS`] with the tag `ci-1`; crmsync reads
/// `page` records a page (its searches for the tag too).
fn seeded<C: Tags>(page: usize) -> (Synced<C>, String) {
    let w = Synced::<C>::paged(page);
    let mia = w.crm.create(
        Contact,
        &[("email", "mia@seed.test"), ("first_name", "Mia")],
    );
    w.env.write("seed.csv", ROWS);
    w.run(&["import", "seed.csv", "--to", CONN, "--tag", "ci-1"])
        .ok();
    (w, mia)
}

fn seeding_twice_creates_once_and_tags_only_what_it_created<C: Tags>() {
    let (w, mia) = seeded::<C>(100);
    let live = w.crm.live(Contact);
    assert_eq!(live.len(), 3, "{live:#?}");
    for email in ["ann@seed.test", "bob@seed.test"] {
        let id = live_id(&w, email).unwrap();
        assert_eq!(w.crm.tag_of(&id).as_deref(), Some("ci-1"), "{email}");
    }
    // Mia was matched by email, not created: she carries no tag.
    assert_eq!(live_id(&w, "mia@seed.test").as_deref(), Some(mia.as_str()));
    assert_eq!(w.crm.tag_of(&mia), None);
    // Again: nothing is created twice.
    w.run(&["import", "seed.csv", "--to", CONN, "--tag", "ci-1"])
        .ok();
    assert_eq!(w.crm.live(Contact).len(), 3);
}

/// A tagged import whose push failed part-way, run again once the CRM takes writes, creates
/// the rest with the tag (the rows changed nothing locally the second time).
fn a_tagged_import_run_again_after_a_failed_push_tags_what_it_creates_then<C: Tags>() {
    let w = Synced::<C>::paged(100);
    w.env.write("seed.csv", ROWS);
    w.crm.refuse_writes_after(Some(0));
    w.run(&["import", "seed.csv", "--to", CONN, "--tag", "ci-1"]);
    assert!(w.crm.live(Contact).is_empty());
    w.crm.refuse_writes_after(None);
    w.run(&["import", "seed.csv", "--to", CONN, "--tag", "ci-1"])
        .ok();
    let live = w.crm.live(Contact);
    assert_eq!(live.len(), 3, "{live:#?}");
    for r in &live {
        assert_eq!(w.crm.tag_of(&r.id).as_deref(), Some("ci-1"), "{r:?}");
    }
    // Once all are linked, a third run pushes nothing.
    let out = w.run(&["import", "seed.csv", "--to", CONN, "--tag", "ci-1"]);
    out.ok();
    assert!(
        out.stderr.contains("nothing new or changed to push"),
        "{}",
        out.stderr
    );
}

fn teardown_archives_exactly_the_tagged_records<C: Tags>() {
    // One record a page: the searches for the tag go over several pages.
    let (w, mia) = seeded::<C>(1);
    let other = w.crm.create_tagged("zoe@seed.test", "ci-2");
    // Companies imported with the tag carry it too; one made in the CRM does not.
    w.env.write("companies.csv", "name\nSeed Co\n");
    w.run(&[
        "import",
        "companies.csv",
        "--object",
        "company",
        "--to",
        CONN,
        "--tag",
        "ci-1",
    ])
    .ok();
    let kept_co = w.crm.create(Company, &[("name", "Kept Co")]);
    assert_eq!(w.crm.live(Company).len(), 2);
    let ann = live_id(&w, "ann@seed.test").unwrap();
    let bob = live_id(&w, "bob@seed.test").unwrap();
    // A dry run lists them and archives nothing.
    w.crm.clear_request_log();
    let dry = w.run(&[
        "teardown",
        "--tag",
        "ci-1",
        "--to",
        CONN,
        "--dry-run",
        "--json",
    ]);
    dry.ok();
    let listed: Vec<String> = dry.json()["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["remote_id"].as_str().unwrap().to_string())
        .collect();
    let mut want: Vec<String> = vec![ann.clone(), bob.clone()];
    want.extend(
        w.crm
            .live(Company)
            .into_iter()
            .filter(|c| c.get("name") == Some("Seed Co"))
            .map(|c| c.id),
    );
    want.sort();
    let mut got = listed.clone();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());
    assert_eq!(w.crm.live(Contact).len(), 4);
    assert_eq!(w.crm.live(Company).len(), 2);
    // The teardown archives those two and nothing else, and their local records with them.
    let run = w.run(&["teardown", "--tag", "ci-1", "--to", CONN, "--json"]);
    run.ok();
    let v: Value = run.json();
    assert_eq!(v["local"]["archived"].as_array().unwrap().len(), 3, "{v:#}");
    let companies: Vec<String> = w.crm.live(Company).into_iter().map(|r| r.id).collect();
    assert_eq!(companies, vec![kept_co]);
    let mut live: Vec<String> = w.crm.live(Contact).into_iter().map(|r| r.id).collect();
    live.sort();
    let mut survivors = vec![mia.clone(), other.clone()];
    survivors.sort();
    assert_eq!(live, survivors);
    let local_ann = w.local_for(Contact, &ann);
    assert!(local_ann.archived_at.is_some(), "{local_ann:#?}");
    // A second teardown finds nothing and says so.
    w.crm.clear_request_log();
    let again = w.run(&["teardown", "--tag", "ci-1", "--to", CONN]);
    again.ok();
    assert!(
        again.stdout.contains("nothing was archived"),
        "{}",
        again.stdout
    );
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());
    // A sync afterwards brings nothing back.
    w.sync().ok();
    assert_eq!(w.crm.live(Contact).len(), 2);
    assert_eq!(w.crm.live(Company).len(), 1);
}

fn bad_input_is_refused<C: Tags>() {
    let w = Synced::<C>::start();
    w.env.write("seed.csv", ROWS);
    w.run(&["import", "seed.csv", "--to", "nope", "--tag", "t"])
        .expect_code(2);
    w.run(&["import", "seed.csv", "--to", CONN, "--tag", ""])
        .expect_code(2);
    w.run(&["import", "seed.csv", "--tag", "t"]).expect_code(2);
    w.run(&["teardown", "--tag", "t", "--to", "nope"])
        .expect_code(2);
    w.run(&["teardown", "--tag", " ", "--to", CONN])
        .expect_code(2);
    w.run(&["teardown", "--to", CONN]).expect_code(2);
    assert!(w.crm.live(Contact).is_empty());
}

#[test]
fn hubspot_seeding_twice_creates_once_and_tags_only_what_it_created() {
    seeding_twice_creates_once_and_tags_only_what_it_created::<HubSpotCrm>();
}

#[test]
fn pipedrive_seeding_twice_creates_once_and_tags_only_what_it_created() {
    seeding_twice_creates_once_and_tags_only_what_it_created::<PipedriveCrm>();
}

#[test]
fn hubspot_teardown_archives_exactly_the_tagged_records() {
    teardown_archives_exactly_the_tagged_records::<HubSpotCrm>();
}

#[test]
fn pipedrive_teardown_archives_exactly_the_tagged_records() {
    teardown_archives_exactly_the_tagged_records::<PipedriveCrm>();
}

#[test]
fn hubspot_bad_input_is_refused() {
    bad_input_is_refused::<HubSpotCrm>();
}

#[test]
fn pipedrive_bad_input_is_refused() {
    bad_input_is_refused::<PipedriveCrm>();
}

#[test]
fn hubspot_a_tagged_import_run_again_after_a_failed_push_tags_what_it_creates_then() {
    a_tagged_import_run_again_after_a_failed_push_tags_what_it_creates_then::<HubSpotCrm>();
}

#[test]
fn pipedrive_a_tagged_import_run_again_after_a_failed_push_tags_what_it_creates_then() {
    a_tagged_import_run_again_after_a_failed_push_tags_what_it_creates_then::<PipedriveCrm>();
}
