//! Syncs killed again and again, and syncs through failing calls, against the HubSpot sandbox,
//! with a workload that mixes the hard cases: HubSpot users' edits landing between two
//! requests of a run, a record archived in HubSpot and restored later, partial imports by id,
//! a mapped property deleted part-way, companies matched by domain, emails in another Unicode
//! form, many records at one millisecond and HubSpot's clock behind crmsync's by more than the
//! overlap. Every run is repeated until one exits cleanly; at the end both sides are counted.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Run, TestEnv};
use crmsync::model::{Fields, ObjectKind, Record, RecordId};
use crmsync::sandbox::{EditBefore, FaultOptions, Sandbox};
use crmsync::store::{Store, WriteOrigin};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

const CONN: &str = "hs";
/// HubSpot contacts made at one millisecond, before the first sync.
const HUB: usize = 120;
/// Of those, the first `SHARED` (every other one) share their email with a local contact.
const SHARED: usize = 20;
/// HubSpot contacts whose email is composed (NFC) in HubSpot and decomposed (NFD) locally.
const ACCENTED: usize = 10;
/// Local contacts of their own.
const LOCAL: usize = 100;
const CONTACTS: usize = HUB + ACCENTED + LOCAL;
/// HubSpot companies; the first `MATCHED` of them are also local, with their domain written
/// otherwise, and `LOCAL_COMPANIES` more are local only.
const HUB_COMPANIES: usize = 10;
const MATCHED: usize = 5;
const LOCAL_COMPANIES: usize = 5;
const COMPANIES: usize = HUB_COMPANIES + LOCAL_COMPANIES;
/// HubSpot's clock, behind crmsync's by more than the change feed's overlap (300 s).
const SKEW_MS: i64 = -2 * 3_600_000;

/// How a round of runs is disturbed.
#[derive(Clone, Copy)]
enum Disturb {
    /// Killed after this many remote writes.
    Kill(u32),
    /// A share of HubSpot's answers are errors or dropped connections, and every write after
    /// a run's first two is refused (503) as in an outage.
    Faults,
}

struct Hs {
    sandbox: Sandbox,
    env: TestEnv,
    disturb: Disturb,
    /// Runs that did not exit cleanly: killed, or failed by the faults.
    interrupted: usize,
    runs: usize,
    /// HubSpot answers that were injected faults (errors, dropped connections).
    faults: usize,
    /// Whether `pronouns` was deleted between two runs of one round.
    deleted_part_way: bool,
}

impl Hs {
    fn start(disturb: Disturb) -> Hs {
        let sandbox = common::unlimited_sandbox();
        let mut env = common::connected_env(&sandbox, CONN);
        env.set_env("CRMSYNC_TEST_SEARCH_LIMIT", "40");
        env.run(&["mappings", "setup", "-c", CONN]).ok();
        Hs {
            sandbox,
            env,
            disturb,
            interrupted: 0,
            runs: 0,
            faults: 0,
            deleted_part_way: false,
        }
    }

    fn store(&self) -> Store {
        Store::open(&self.env.state_path()).expect("open the state file")
    }

    fn save_local(&self, records: &[Record]) {
        self.store()
            .save_records(records, &WriteOrigin::User)
            .expect("save local records");
    }

    fn disturb(&mut self, on: bool) {
        match (self.disturb, on) {
            (Disturb::Kill(n), true) => self
                .env
                .set_env("CRMSYNC_TEST_KILL_AFTER_WRITES", &n.to_string()),
            (Disturb::Kill(_), false) => self.env.remove_env("CRMSYNC_TEST_KILL_AFTER_WRITES"),
            (Disturb::Faults, true) => self.sandbox.set_faults(FaultOptions {
                rate_429: 0.1,
                rate_500: 0.15,
                rate_502_503: 0.15,
                drop_rate: 0.1,
                fail_after_writes: Some(2),
                ..FaultOptions::default()
            }),
            (Disturb::Faults, false) => self.sandbox.set_faults(FaultOptions::default()),
        }
    }

    /// Runs `args` disturbed until a run exits cleanly; `between` is called after the first
    /// interrupted run (a HubSpot user acting while the sync is half done).
    fn until_clean(&mut self, args: &[&str], mut between: impl FnMut(&Hs)) {
        self.sandbox.clear_request_log();
        let mut codes = Vec::new();
        loop {
            // Anew for each run: the outage starts after its own first writes.
            self.disturb(true);
            let run: Run = self.env.run(args);
            self.runs += 1;
            codes.push(run.code);
            // HubSpot's clock is off by more than the overlap, so a run that finished with
            // nothing waiting exits 3 saying only that.
            let only_skewed = run.code == 3
                && run.stderr.contains("the CRM's clock is")
                && !run.stderr.contains("record(s) failed")
                && !run.stderr.contains("conflict(s) wait");
            if run.code == 0 || only_skewed {
                break;
            }
            match self.disturb {
                Disturb::Kill(_) => assert_eq!(run.code, -1, "{codes:?}: {}", run.stderr),
                Disturb::Faults => {
                    assert!([1, 3].contains(&run.code), "{codes:?}: {}", run.stderr)
                }
            }
            self.interrupted += 1;
            if codes.len() == 1 {
                between(self);
            }
            assert!(codes.len() < 100, "no clean run: {codes:?}");
        }
        self.faults += self
            .sandbox
            .request_log()
            .iter()
            .filter(|r| matches!(r.status, 0 | 429 | 500 | 502 | 503))
            .count();
        self.disturb(false);
    }

    fn local(&self, kind: ObjectKind) -> Vec<Record> {
        let mut out = Vec::new();
        self.store()
            .for_each_record(kind, true, &mut |r| {
                out.push(r);
                Ok(())
            })
            .unwrap();
        out
    }

    fn local_by_email(&self, email: &str) -> Record {
        let key = key(email);
        let mut found: Vec<Record> = self
            .local(ObjectKind::Contact)
            .into_iter()
            .filter(|r| key_of(r, "email") == key)
            .collect();
        assert_eq!(found.len(), 1, "local contacts with email {email}");
        found.pop().unwrap()
    }

    fn remote(&self, plural: &str) -> Vec<Value> {
        self.sandbox.dump()[plural].as_array().unwrap().clone()
    }

    fn remote_by_id(&self, plural: &str, id: &str) -> Value {
        self.remote(plural)
            .into_iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no HubSpot {plural} {id}"))
    }
}

/// A match key as crmsync compares them: NFC, lower case, no `www.` (for domains).
fn key(value: &str) -> String {
    let k: String = value.trim().nfc().collect::<String>().to_lowercase();
    k.strip_prefix("www.").map(str::to_string).unwrap_or(k)
}

fn key_of(r: &Record, field: &str) -> String {
    key(r.get(field).unwrap_or_default())
}

/// The HubSpot id of local contact `id`.
fn remote_id(hs: &Hs, id: &RecordId) -> String {
    hs.store()
        .links_by_local_ids(CONN, ObjectKind::Contact, std::slice::from_ref(id))
        .unwrap()
        .remove(id)
        .unwrap_or_else(|| panic!("local contact {id} is not linked"))
        .remote_id
}

fn prop<'a>(r: &'a Value, name: &str) -> Option<&'a str> {
    r["properties"][name].as_str()
}

fn record(kind: ObjectKind, pairs: &[(&str, String)]) -> Record {
    let fields: Fields = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Record {
        id: RecordId::new(),
        kind,
        fields,
        updated_at: chrono::Utc::now().timestamp_millis(),
        archived_at: None,
    }
}

fn hub_email(i: usize) -> String {
    format!("hub{i}@example.org")
}

/// `josé{i}@…`, composed.
fn accented_email(i: usize) -> String {
    format!("jos\u{e9}{i}@example.org")
}

fn local_email(i: usize) -> String {
    format!("loc{i}@example.org")
}

/// The user edits expected to arrive here, by email: first names.
type Expected = BTreeMap<String, String>;

/// HubSpot's records, made at one millisecond on a clock two hours behind, and the local
/// records, some matching them by email (in another Unicode form) or domain (written
/// otherwise). A user edits a contact between two searches of the first sync.
fn first_sync(hs: &mut Hs, expected: &mut Expected) -> Vec<String> {
    hs.sandbox
        .set_clock_ms(chrono::Utc::now().timestamp_millis() + SKEW_MS);
    hs.sandbox.freeze_clock(true);
    let mut hub_ids = Vec::new();
    for i in 0..HUB {
        let r = hs
            .sandbox
            .create_record(
                "contacts",
                &[
                    ("email", &hub_email(i)),
                    ("firstname", &format!("Hub{i}")),
                    ("lastname", "Remote"),
                ],
            )
            .unwrap();
        hub_ids.push(r["id"].as_str().unwrap().to_string());
    }
    for i in 0..ACCENTED {
        hs.sandbox
            .create_record(
                "contacts",
                &[("email", &accented_email(i)), ("firstname", "José")],
            )
            .unwrap();
    }
    for i in 0..HUB_COMPANIES {
        hs.sandbox
            .create_record(
                "companies",
                &[
                    ("name", &format!("Co{i}")),
                    ("domain", &format!("co{i}.example")),
                ],
            )
            .unwrap();
    }
    hs.sandbox.freeze_clock(false);

    let mut companies: Vec<Record> = (0..MATCHED)
        .map(|i| {
            record(
                ObjectKind::Company,
                &[
                    ("name", format!("Co{i}")),
                    ("domain", format!("WWW.Co{i}.example")),
                ],
            )
        })
        .collect();
    companies.extend((0..LOCAL_COMPANIES).map(|i| {
        record(
            ObjectKind::Company,
            &[
                ("name", format!("Local Co{i}")),
                ("domain", format!("local-co{i}.example")),
            ],
        )
    }));
    let mut contacts: Vec<Record> = (0..LOCAL)
        .map(|i| {
            let mut pairs = vec![
                ("first_name", format!("Loc{i}")),
                ("last_name", "Local".to_string()),
                ("email", local_email(i)),
                ("pronouns", "they/them".to_string()),
            ];
            if i < 10 {
                pairs.push(("company_id", companies[i % companies.len()].id.0.clone()));
            }
            record(ObjectKind::Contact, &pairs)
        })
        .collect();
    contacts.extend((0..SHARED).map(|i| {
        record(
            ObjectKind::Contact,
            &[
                ("email", hub_email(2 * i)),
                ("job_title", format!("Title{i}")),
            ],
        )
    }));
    contacts.extend((0..ACCENTED).map(|i| {
        record(
            ObjectKind::Contact,
            &[
                ("email", accented_email(i).nfd().collect::<String>()),
                ("job_title", "Dev".to_string()),
            ],
        )
    }));
    hs.save_local(&companies);
    hs.save_local(&contacts);

    // A user's edit between the first sync's second and third search of contacts.
    hs.sandbox.edit_before(EditBefore {
        method: "POST".into(),
        path_contains: "/contacts/search".into(),
        nth: 3,
        object_type: "contacts".into(),
        id: hub_ids[7].clone(),
        properties: serde_json::json!({ "firstname": "EditedWhileRead" }),
    });
    expected.insert(hub_email(7), "EditedWhileRead".into());
    hs.until_clean(&["sync"], |_| {});
    hub_ids
}

/// Edits fields of the local contact with `email`, as a user would.
fn edit_local(hs: &Hs, email: &str, pairs: &[(&str, &str)]) {
    let mut r = hs.local_by_email(email);
    for (k, v) in pairs {
        r.fields.insert(k.to_string(), v.to_string());
    }
    r.updated_at = chrono::Utc::now().timestamp_millis();
    hs.save_local(&[r]);
}

/// A contact archived in HubSpot and another edited there, read by a full sync.
fn archive_round(hs: &mut Hs, hub_ids: &[String], expected: &mut Expected) {
    hs.sandbox
        .archive_record("contacts", &hub_ids[100])
        .unwrap();
    hs.sandbox
        .update_record("contacts", &hub_ids[110], &[("firstname", "BeforeFull")])
        .unwrap();
    expected.insert(hub_email(110), "BeforeFull".into());
    hs.until_clean(&["sync", "--full"], |_| {});
    let archived = hs.local_by_email(&hub_email(100));
    assert!(archived.archived_at.is_some(), "the archive arrived");
}

/// HubSpot users' edits on the skewed clock, one landing between crmsync's requests; locally
/// a partial import by id and pronoun edits; `pronouns` deleted in HubSpot after the first
/// interrupted run. Incremental reads only, from here on: a change hidden from the change feed
/// would not come back.
fn second_round(hs: &mut Hs, hub_ids: &[String], expected: &mut Expected) {
    for (i, id) in hub_ids.iter().enumerate().take(90).skip(60) {
        hs.sandbox
            .update_record("contacts", id, &[("firstname", &format!("User{i}"))])
            .unwrap();
        expected.insert(hub_email(i), format!("User{i}"));
    }

    let mut csv = String::from("id,phone\n");
    for i in 0..20 {
        let r = hs.local_by_email(&local_email(i));
        csv.push_str(&format!("{},+1 555 01{i:02}\n", r.id.0));
    }
    let file = hs.env.write("partial.csv", &csv);
    hs.env.run(&["import", file.to_str().unwrap()]).ok();
    for i in 20..30 {
        edit_local(hs, &local_email(i), &[("pronouns", "she/her")]);
    }
    // A user edits loc0 just before crmsync's first update of contacts is answered.
    let loc0 = hs.local_by_email(&local_email(0));
    let rid = remote_id(hs, &loc0.id);
    hs.sandbox.edit_before(EditBefore {
        method: "POST".into(),
        path_contains: "/contacts/batch/update".into(),
        nth: 1,
        object_type: "contacts".into(),
        id: rid,
        properties: serde_json::json!({ "firstname": "EditedWhileWritten" }),
    });
    expected.insert(local_email(0), "EditedWhileWritten".into());
    let runs_before = hs.runs;

    hs.until_clean(&["sync"], |hs| {
        hs.sandbox.delete_property("contacts", "pronouns").unwrap();
    });
    hs.deleted_part_way = hs.runs > runs_before + 1;
    if !hs.deleted_part_way {
        // The round's first run was clean: the property is deleted now, with local edits of
        // it (and of another field) pending, which HubSpot then refuses by its name.
        for i in 30..35 {
            edit_local(
                hs,
                &local_email(i),
                &[("pronouns", "xe/xem"), ("job_title", "Later")],
            );
        }
        hs.sandbox.delete_property("contacts", "pronouns").unwrap();
        hs.until_clean(&["sync"], |_| {});
    }
}

/// The archived contact is restored in HubSpot and edited there.
fn third_round(hs: &mut Hs, hub_ids: &[String], expected: &mut Expected) {
    hs.sandbox
        .restore_record("contacts", &hub_ids[100])
        .unwrap();
    hs.sandbox
        .update_record("contacts", &hub_ids[100], &[("firstname", "Restored")])
        .unwrap();
    expected.insert(hub_email(100), "Restored".into());
    hs.until_clean(&["sync"], |_| {});
}

fn check(hs: &Hs, hub_ids: &[String], expected: &Expected) {
    // Contacts: once on each side by email, linked once, each local id on one HubSpot contact.
    for (kind, plural, field, remote_field, count) in [
        (ObjectKind::Contact, "contacts", "email", "email", CONTACTS),
        (
            ObjectKind::Company,
            "companies",
            "domain",
            "domain",
            COMPANIES,
        ),
    ] {
        let local: Vec<Record> = hs
            .local(kind)
            .into_iter()
            .filter(|r| r.archived_at.is_none())
            .collect();
        let remote: Vec<Value> = hs
            .remote(plural)
            .into_iter()
            .filter(|r| r["archived"] == false)
            .collect();
        let local_keys: BTreeSet<String> = local.iter().map(|r| key_of(r, field)).collect();
        let remote_keys: BTreeSet<String> = remote
            .iter()
            .map(|r| key(prop(r, remote_field).unwrap_or_default()))
            .collect();
        assert_eq!(local.len(), count, "local {plural}");
        assert_eq!(local_keys.len(), count, "local {plural}' {field}s");
        assert_eq!(remote.len(), count, "HubSpot {plural}");
        assert_eq!(remote_keys.len(), count, "HubSpot {plural}' {field}s");
        assert_eq!(local_keys, remote_keys, "{plural} on one side only");
        assert_eq!(
            hs.store().count_links(CONN, kind).unwrap() as usize,
            count,
            "{plural} links"
        );
        let ids: Vec<RecordId> = local.iter().map(|r| r.id.clone()).collect();
        let links = hs.store().links_by_local_ids(CONN, kind, &ids).unwrap();
        let remote_by_id: BTreeMap<&str, &Value> = remote
            .iter()
            .map(|r| (r["id"].as_str().unwrap(), r))
            .collect();
        for r in &local {
            let link = links
                .get(&r.id)
                .unwrap_or_else(|| panic!("{plural} {} not linked", key_of(r, field)));
            let other = remote_by_id
                .get(link.remote_id.as_str())
                .unwrap_or_else(|| panic!("{} linked to a dead record", key_of(r, field)));
            assert_eq!(key(prop(other, remote_field).unwrap()), key_of(r, field));
        }
        let stamps: Vec<&str> = remote
            .iter()
            .filter_map(|r| prop(r, "crmsync_id"))
            .collect();
        let distinct: BTreeSet<&str> = stamps.iter().copied().collect();
        assert_eq!(distinct.len(), stamps.len(), "a local id on two {plural}");
        let local_ids: BTreeSet<&str> = local.iter().map(|r| r.id.0.as_str()).collect();
        assert!(
            distinct.is_subset(&local_ids),
            "{plural} stamped with a local id that is not live here"
        );
    }

    // Every user edit arrived (none of them met a local edit of the same field).
    for (email, first_name) in expected {
        assert_eq!(
            hs.local_by_email(email).get("first_name"),
            Some(first_name.as_str()),
            "{email}"
        );
    }
    // The restored contact is live on both sides.
    assert!(hs.local_by_email(&hub_email(100)).archived_at.is_none());
    assert_eq!(
        hs.remote_by_id("contacts", &hub_ids[100])["archived"],
        false
    );
    // The partial import changed the phone only, and HubSpot has it.
    for i in 0..20 {
        let r = hs.local_by_email(&local_email(i));
        let phone = format!("+1 555 01{i:02}");
        assert_eq!(r.get("phone"), Some(phone.as_str()), "{}", local_email(i));
        assert_eq!(r.get("last_name"), Some("Local"));
        let remote = hs.remote_by_id("contacts", &remote_id(hs, &r.id));
        assert_eq!(prop(&remote, "phone"), Some(phone.as_str()));
        assert_eq!(prop(&remote, "lastname"), Some("Local"));
    }
    // The deleted property's local values are as they were.
    for i in 0..LOCAL {
        let want = match i {
            20..30 => "she/her",
            30..35 if !hs.deleted_part_way => "xe/xem",
            _ => "they/them",
        };
        assert_eq!(
            hs.local_by_email(&local_email(i)).get("pronouns"),
            Some(want),
            "{}",
            local_email(i)
        );
        if (30..35).contains(&i) && !hs.deleted_part_way {
            let r = hs.local_by_email(&local_email(i));
            let remote = hs.remote_by_id("contacts", &remote_id(hs, &r.id));
            assert_eq!(
                prop(&remote, "jobtitle"),
                Some("Later"),
                "{}",
                local_email(i)
            );
        }
    }
}

fn run_workload(disturb: Disturb) -> Hs {
    let mut hs = Hs::start(disturb);
    let mut expected = Expected::new();
    let hub_ids = first_sync(&mut hs, &mut expected);
    archive_round(&mut hs, &hub_ids, &mut expected);
    second_round(&mut hs, &hub_ids, &mut expected);
    third_round(&mut hs, &hub_ids, &mut expected);
    check(&hs, &hub_ids, &expected);
    hs.sandbox.clear_request_log();
    let run = hs.env.run(&["sync"]);
    // HubSpot's clock, two hours behind, is the one thing the run has to say.
    run.expect_code(3);
    assert!(run.stderr.contains("the CRM's clock is"), "{}", run.stderr);
    assert_eq!(
        common::write_calls(&hs.sandbox),
        Vec::<String>::new(),
        "a further sync wrote"
    );
    eprintln!(
        "{} runs, {} interrupted, {} faults answered, property deleted part-way: {}; \
         {CONTACTS} contacts and {COMPANIES} companies on each side",
        hs.runs, hs.interrupted, hs.faults, hs.deleted_part_way
    );
    hs
}

#[test]
fn the_hard_cases_killed_after_every_write_end_with_each_record_once_and_every_edit_arrived() {
    let hs = run_workload(Disturb::Kill(1));
    assert!(hs.interrupted >= 3, "too few runs were killed");
    assert!(hs.deleted_part_way);
}

#[test]
fn the_hard_cases_through_failing_calls_end_with_each_record_once_and_every_edit_arrived() {
    let hs = run_workload(Disturb::Faults);
    assert!(hs.faults >= 10, "too few faults: {}", hs.faults);
}
