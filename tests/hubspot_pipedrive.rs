//! HubSpot and Pipedrive synced through the local store: both sandboxes in this process, one
//! crmsync environment with a connection to each (`hubspot` and `pipedrive`), and the binary
//! run as a user runs it. What one CRM's users do reaches the other CRM in one `crmsync sync`
//! (it pulls from every connection before it pushes to any); an edit of one field in both
//! CRMs is one conflict, decided by the field's policy; and a further sync writes nothing in
//! either CRM, counted in both sandboxes' request logs.

mod common;

use std::time::Duration;

use common::crm::{HubSpotCrm, TestCrm, linked_local, linked_remote, tick};
use common::pipedrive::PipedriveCrm;
use common::{Run, TestEnv};
use crmsync::model::{ObjectKind, Record};
use crmsync::store::{ConflictFilter, Store};

use ObjectKind::{Company, Contact};

const HS: &str = "hubspot";
const PD: &str = "pipedrive";

/// The two sandboxes and a crmsync environment connected to both, its mappings set up.
struct Both {
    hs: HubSpotCrm,
    pd: PipedriveCrm,
    env: TestEnv,
}

impl Both {
    /// `extra` goes into the config before the connections (policies, settings).
    fn start(extra: &str) -> Both {
        let both = Both::with(HubSpotCrm::start(), PipedriveCrm::start(), extra);
        for conn in [HS, PD] {
            both.run(&["mappings", "setup", "-c", conn]).ok();
        }
        both
    }

    fn with(hs: HubSpotCrm, pd: PipedriveCrm, extra: &str) -> Both {
        let mut env = TestEnv::new();
        env.remove_env("CRMSYNC_TEST_NOW");
        for (k, v) in hs.credentials(HS).into_iter().chain(pd.credentials(PD)) {
            env.set_env(&k, &v);
        }
        let both = Both { hs, pd, env };
        both.config(extra);
        both
    }

    fn config(&self, extra: &str) {
        self.config_in(extra, "");
    }

    /// As [`Both::config`], with `in_pd` inside the Pipedrive connection's table.
    fn config_in(&self, extra: &str, in_pd: &str) {
        self.env.write_config(&format!(
            "{extra}\n{}\n{}{in_pd}\n{}",
            self.hs.connection_config(HS),
            self.pd.connection_config(PD),
            self.pd.connection_fields(PD),
        ));
    }

    fn run(&self, args: &[&str]) -> Run {
        self.env.run(args)
    }

    fn sync(&self) -> Run {
        self.run(&["sync"])
    }

    fn store(&self) -> Store {
        Store::open(&self.env.state_path()).expect("open the state file")
    }

    fn clear_logs(&self) {
        self.hs.clear_request_log();
        self.pd.clear_request_log();
    }

    /// The write calls each CRM answered since the logs were cleared: (HubSpot, Pipedrive).
    fn writes(&self) -> (Vec<String>, Vec<String>) {
        (self.hs.write_calls(), self.pd.write_calls())
    }

    /// Runs a sync and checks that neither CRM was sent a write.
    fn assert_sync_writes_nothing(&self) {
        self.clear_logs();
        self.sync().ok();
        assert_eq!(
            self.writes(),
            (vec![], vec![]),
            "writes (HubSpot, Pipedrive)"
        );
    }

    /// The local record linked to `remote_id` of connection `conn`.
    fn local_for(&self, conn: &str, kind: ObjectKind, remote_id: &str) -> Record {
        linked_local(&self.store(), conn, kind, remote_id)
    }

    /// The id in connection `conn` of the local record `local`.
    fn remote_id(&self, conn: &str, kind: ObjectKind, local: &Record) -> String {
        linked_remote(&self.store(), conn, kind, local)
    }

    /// The Pipedrive id of HubSpot's record `hs_id`, through the local record both are linked to.
    fn pd_of_hs(&self, kind: ObjectKind, hs_id: &str) -> String {
        let local = self.local_for(HS, kind, hs_id);
        self.remote_id(PD, kind, &local)
    }

    /// The HubSpot id of Pipedrive's record `pd_id`.
    fn hs_of_pd(&self, kind: ObjectKind, pd_id: &str) -> String {
        let local = self.local_for(PD, kind, pd_id);
        self.remote_id(HS, kind, &local)
    }

    /// The live records of `kind` in HubSpot, in Pipedrive and locally, and the links of
    /// each connection, are as many as `expected`; each local record is linked in both.
    fn assert_counts(&self, kind: ObjectKind, expected: usize) {
        let local: Vec<Record> = {
            let mut out = Vec::new();
            self.store()
                .for_each_record(kind, false, &mut |r| {
                    out.push(r);
                    Ok(())
                })
                .unwrap();
            out
        };
        assert_eq!(
            (
                self.hs.live(kind).len(),
                self.pd.live(kind).len(),
                local.len()
            ),
            (expected, expected, expected),
            "live {kind}s (HubSpot, Pipedrive, local)"
        );
        for r in &local {
            self.remote_id(HS, kind, r);
            self.remote_id(PD, kind, r);
        }
    }

    /// The live local records of `kind`.
    fn local_count(&self, kind: ObjectKind) -> usize {
        self.store().count_records(kind, false).unwrap() as usize
    }

    /// A contact's pronouns in HubSpot.
    fn hs_pronouns(&self, id: &str) -> Option<String> {
        self.hs.sandbox.dump()["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .and_then(|r| r["properties"]["pronouns"].as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// A person's pronouns in Pipedrive.
    fn pd_pronouns(&self, id: &str) -> Option<String> {
        self.pd
            .record(Contact, id)
            .get("pronouns")
            .map(str::to_string)
    }

    fn set_hs_pronouns(&self, id: &str, value: &str) {
        self.hs
            .sandbox
            .update_record("contacts", id, &[("pronouns", value)])
            .expect("edit HubSpot pronouns");
    }

    fn set_pd_pronouns(&self, id: &str, value: &str) {
        self.pd.edit(Contact, id, &[("pronouns", value)]);
    }
}

/// Both CRMs after a first sync of `contacts` HubSpot contacts (with 2 companies) and one
/// Pipedrive person (with its organization): every record is in all three places.
fn synced(extra: &str, contacts: usize) -> (Both, Vec<String>) {
    let w = Both::start(extra);
    let (ids, _) = w.hs.seed(contacts, 2);
    w.pd.seed(1, 1);
    w.sync().ok();
    w.assert_counts(Contact, contacts + 1);
    w.assert_counts(Company, 3);
    (w, ids)
}

#[test]
fn a_phone_changed_in_hubspot_reaches_pipedrive_in_the_same_sync() {
    let (w, ids) = synced("", 3);
    w.assert_sync_writes_nothing();
    let pd_id = w.pd_of_hs(Contact, &ids[0]);
    w.hs.edit(Contact, &ids[0], &[("phone", "+1 555 0100")]);
    w.clear_logs();
    w.sync().ok();
    assert_eq!(
        w.pd.record(Contact, &pd_id).get("phone"),
        Some("+1 555 0100")
    );
    let (hs_writes, pd_writes) = w.writes();
    assert_eq!(
        hs_writes,
        Vec::<String>::new(),
        "nothing goes back to HubSpot"
    );
    assert_eq!(
        pd_writes,
        vec![format!("PATCH /api/v2/persons/{pd_id}")],
        "one update of the one person"
    );
    w.assert_sync_writes_nothing();
}

#[test]
fn a_person_created_in_pipedrive_reaches_hubspot_with_its_organization() {
    let (w, _) = synced("", 2);
    let org = w.pd.create(Company, &[("name", "Fjord Analytics")]);
    let person = w.pd.create(
        Contact,
        &[
            ("first_name", "Ingrid"),
            ("last_name", "Dahl"),
            ("email", "ingrid@fjord.example"),
            ("phone", "+47 2100 0000"),
        ],
    );
    w.pd.associate(&person, &org);
    w.sync().ok();
    let hs_id = w.hs_of_pd(Contact, &person);
    let hs = w.hs.record(Contact, &hs_id);
    assert_eq!(hs.get("email"), Some("ingrid@fjord.example"));
    assert_eq!(hs.get("first_name"), Some("Ingrid"));
    assert_eq!(hs.get("last_name"), Some("Dahl"));
    assert_eq!(hs.get("phone"), Some("+47 2100 0000"));
    assert_eq!(
        w.hs.company_of(&hs_id),
        vec![w.hs_of_pd(Company, &org)],
        "its organization is its company in HubSpot"
    );
    w.assert_counts(Contact, 4);
    w.assert_counts(Company, 4);
    w.assert_sync_writes_nothing();
}

#[test]
fn pronouns_set_in_either_crm_reach_the_other() {
    let (w, ids) = synced("", 2);
    let pd_id = w.pd_of_hs(Contact, &ids[0]);
    w.set_hs_pronouns(&ids[0], "she/her");
    w.sync().ok();
    assert_eq!(w.pd_pronouns(&pd_id).as_deref(), Some("she/her"));
    // And back: a Pipedrive user changes them.
    tick();
    w.set_pd_pronouns(&pd_id, "they/them");
    w.sync().ok();
    assert_eq!(w.hs_pronouns(&ids[0]).as_deref(), Some("they/them"));
    assert_eq!(
        w.local_for(HS, Contact, &ids[0]).get("pronouns"),
        Some("they/them")
    );
    w.assert_sync_writes_nothing();
}

/// A contact whose job title was changed in HubSpot, then (`pipedrive_later`) or before in
/// Pipedrive, to another value; returns its Pipedrive id. The edits are 1.5 s apart
/// (Pipedrive keeps its times to the second, and its `Date` header too), and the sync that
/// follows comes as long after them, as a sync from a timer does: the time that run pulls the
/// first CRM's value is later than either edit, so it must not count as that value's time.
fn edited_in_both(w: &Both, hs_id: &str, pipedrive_later: bool) -> String {
    let pd_id = w.pd_of_hs(Contact, hs_id);
    let hubspot = || w.hs.edit(Contact, hs_id, &[("job_title", "From HubSpot")]);
    let pipedrive = || {
        w.pd.edit(Contact, &pd_id, &[("job_title", "From Pipedrive")])
    };
    let gap = || std::thread::sleep(Duration::from_millis(1_500));
    if pipedrive_later {
        hubspot();
        gap();
        pipedrive();
    } else {
        pipedrive();
        gap();
        hubspot();
    }
    gap();
    pd_id
}

/// The job title of the contact in HubSpot, in Pipedrive and locally.
fn titles(w: &Both, hs_id: &str, pd_id: &str) -> [Option<String>; 3] {
    let get = |r: Option<&str>| r.map(str::to_string);
    [
        get(w.hs.record(Contact, hs_id).get("job_title")),
        get(w.pd.record(Contact, pd_id).get("job_title")),
        get(w.local_for(HS, Contact, hs_id).get("job_title")),
    ]
}

/// Every conflict recorded, open or decided.
fn conflicts(w: &Both) -> Vec<crmsync::store::Conflict> {
    w.store()
        .list_conflicts(&ConflictFilter::default())
        .unwrap()
}

#[test]
fn an_edit_of_one_field_in_both_crms_is_one_conflict_newest_wins() {
    for pipedrive_later in [true, false] {
        let (w, ids) = synced("", 2);
        let pd_id = edited_in_both(&w, &ids[0], pipedrive_later);
        w.sync().ok();
        let winner = if pipedrive_later {
            "From Pipedrive"
        } else {
            "From HubSpot"
        };
        assert_eq!(
            titles(&w, &ids[0], &pd_id),
            [
                Some(winner.into()),
                Some(winner.into()),
                Some(winner.into())
            ],
            "Pipedrive later: {pipedrive_later}"
        );
        let all = conflicts(&w);
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].field, "job_title");
        assert!(all[0].resolved_at.is_some(), "decided: {all:?}");
        w.assert_sync_writes_nothing();
    }
}

#[test]
fn an_edit_of_one_field_in_both_crms_is_one_conflict_remote_wins() {
    let (w, ids) = synced("[policies.contact]\njob_title = \"remote-wins\"\n", 2);
    let pd_id = edited_in_both(&w, &ids[0], false);
    w.sync().ok();
    // The run pulls from `hubspot` first (connections in name order): the local record takes
    // HubSpot's title, and then meets Pipedrive's, the remote side of that conflict, which wins
    // even though HubSpot's edit is the later one.
    let pipedrive = Some("From Pipedrive".to_string());
    assert_eq!(
        titles(&w, &ids[0], &pd_id),
        [pipedrive.clone(), pipedrive.clone(), pipedrive]
    );
    let all = conflicts(&w);
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(all[0].resolved_at.is_some(), "decided: {all:?}");
    w.assert_sync_writes_nothing();
}

#[test]
fn an_edit_of_one_field_in_both_crms_held_by_manual_is_one_open_conflict() {
    let (w, ids) = synced("[policies.contact]\njob_title = \"manual\"\n", 2);
    let pd_id = edited_in_both(&w, &ids[0], true);
    let run = w.sync();
    run.expect_code(3);
    let open = w
        .store()
        .list_open_conflicts(&ConflictFilter::default())
        .unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].field, "job_title");
    // Held: each CRM keeps its own user's value.
    let [hs, pd, _] = titles(&w, &ids[0], &pd_id);
    assert_eq!(hs.as_deref(), Some("From HubSpot"));
    assert_eq!(pd.as_deref(), Some("From Pipedrive"));
    // A held conflict writes nothing while it waits.
    w.clear_logs();
    w.sync().expect_code(3);
    assert_eq!(w.writes(), (vec![], vec![]));
    // Resolved: the chosen value reaches both CRMs, and then nothing more is written.
    w.run(&[
        "conflicts",
        "resolve",
        &open[0].id.to_string(),
        "--value",
        "Agreed Title",
    ])
    .ok();
    w.sync().ok();
    assert_eq!(
        titles(&w, &ids[0], &pd_id),
        [
            Some("Agreed Title".into()),
            Some("Agreed Title".into()),
            Some("Agreed Title".into())
        ]
    );
    assert_eq!(
        w.store()
            .list_open_conflicts(&ConflictFilter::default())
            .unwrap()
            .len(),
        0
    );
    w.assert_sync_writes_nothing();
}

// ---- Pipedrive's daily token budget -----------------------------------------------------

/// The Pipedrive tokens (of the daily budget) a run may spend before crmsync's reserve
/// (`DAILY_RESERVE`) is reached: enough for the reads and some of the creates a first sync of
/// the contacts below makes, not for all of them.
const TOKENS_FOR_PART_OF_A_RUN: u64 = 300;

#[test]
fn the_daily_budget_running_out_mid_run_stops_it_and_the_next_day_it_resumes_to_both_sides_equal() {
    // Pipedrive's day ends at midnight UTC on its clock (here the real one): a first run that
    // straddled midnight would find its budget renewed part-way. Start clear of it.
    while common::crm::now_ms().rem_euclid(86_400_000) > 86_400_000 - 60_000 {
        std::thread::sleep(Duration::from_millis(500));
    }
    let w = Both::start("");
    // Contacts and companies only: the budget below is sized for their reads.
    w.config_in("", "objects = [\"company\", \"contact\"]\n");
    let (contacts, companies) = (50, 3);
    w.hs.seed(contacts, companies);
    // The day's budget: what is left after the mappings setup is the reserve and a little.
    let budget = crmsync::providers::pipedrive::DAILY_RESERVE + TOKENS_FOR_PART_OF_A_RUN;
    w.pd.sandbox.set_rate_limit(1_000_000, 2_000, budget);
    let first = w.sync();
    // Stopped cleanly with exit code 3 (finished, something waits: the rest goes on the next
    // day; README "Exit codes"), no record failed, and the message says when to run again.
    first.expect_code(3);
    assert!(
        first.stderr.contains("run again after midnight UTC"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("more requests today"),
        "{}",
        first.stderr
    );
    assert!(
        first
            .stderr
            .contains("the next run after the day's budget is renewed"),
        "{}",
        first.stderr
    );
    // It stopped before reaching into the reserve: the tokens it says are left (each call
    // counted at its token cost) are at least the reserve.
    let left: u64 = first
        .stderr
        .split("allows connection `pipedrive` ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no tokens left in: {}", first.stderr));
    assert!(
        left >= crmsync::providers::pipedrive::DAILY_RESERVE,
        "{left} tokens left"
    );
    let made = w.pd.live(Contact).len();
    assert!(
        0 < made && made < contacts,
        "the budget ran out part-way: {made} of {contacts} persons made"
    );
    // Nothing was lost: HubSpot's contacts are all local, none failed, none made twice.
    assert_eq!(w.local_count(Contact), contacts);
    assert_eq!(
        w.store().list_failures(None).unwrap().len(),
        0,
        "no failed record"
    );
    // A run the same day stops at once, writing nothing.
    w.clear_logs();
    w.sync().expect_code(3);
    assert_eq!(w.writes(), (vec![], vec![]));
    // After midnight UTC on Pipedrive's clock the budget is whole again, and the next run
    // makes the rest. The clock is moved to the second midnight from now, so that it is at
    // least a day ahead whatever the time of day the test runs at (the next midnight may be
    // only minutes away).
    let day = 86_400_000;
    let now = w.pd.now_ms();
    w.pd.set_clock_ms(now - now.rem_euclid(day) + 2 * day + 1_000);
    w.pd.clear_request_log();
    // Pipedrive's clock is now more than a day ahead of this machine's, beyond the overlap:
    // each run from here on says so and exits 3 (it cannot be sure it read everything), and
    // is otherwise a clean run.
    let next_day = |run: Run| {
        run.expect_code(3);
        assert!(run.stderr.contains("clock is"), "{}", run.stderr);
    };
    next_day(w.sync());
    // It looked up by `crmsync_id` only the creates in flight when the budget ran out (a
    // 20-token search each), not every create of the first run.
    let searches =
        w.pd.sandbox
            .request_log()
            .iter()
            .filter(|r| r.path.contains("/search?"))
            .count();
    assert!(searches <= 4, "{searches} searches");
    w.assert_counts(Contact, contacts);
    w.assert_counts(Company, companies);
    let emails = |live: Vec<common::crm::CrmRecord>| -> std::collections::BTreeSet<String> {
        live.iter()
            .map(|r| r.get("email").unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(emails(w.hs.live(Contact)), emails(w.pd.live(Contact)));
    // With the day's budget raised, a further sync writes nothing anywhere.
    w.pd.sandbox.set_rate_limit(1_000_000, 2_000, 1_000_000);
    w.clear_logs();
    next_day(w.sync());
    assert_eq!(w.writes(), (vec![], vec![]), "writes (HubSpot, Pipedrive)");
}

// ---- the demo -------------------------------------------------------------------------------

#[test]
fn the_demo_carries_an_edit_in_each_crm_to_the_others_salesforce_too_and_says_so() {
    let mut env = TestEnv::new();
    env.remove_env("CRMSYNC_STATE");
    // The demo's Pipedrive keeps Pipedrive's burst window in real time: crmsync runs on the
    // real clock, and its waits for the window are slept.
    env.remove_env("CRMSYNC_TEST_NOW");
    env.remove_env("CRMSYNC_TEST_NO_SLEEP");
    let run = env.run(&["demo", "--contacts", "6"]);
    run.ok();
    assert!(
        run.stderr
            .contains("a sandbox HubSpot, a sandbox Pipedrive and a sandbox Salesforce"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("title changed in Salesforce"),
        "{}",
        run.stderr
    );
    let arrived: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains(" is now on "))
        .collect();
    assert_eq!(arrived.len(), 4, "{}", run.stderr);
    assert!(arrived[0].contains("phone") && arrived[0].contains("Pipedrive person"));
    assert!(arrived[1].contains("phone") && arrived[1].contains("Salesforce contact"));
    assert!(arrived[2].contains("last name") && arrived[2].contains("HubSpot contact"));
    assert!(
        arrived[3].starts_with("   Salesforce contact")
            && arrived[3].contains("title")
            && arrived[3].contains("HubSpot contact")
    );
    assert!(!run.stderr.contains("did NOT reach"), "{}", run.stderr);
    // Nothing is refused on the way (Salesforce's accounts included), and the third sync has
    // nothing to do.
    assert!(!run.stderr.contains("failed"), "{}", run.stderr);
    assert!(run.stderr.contains("   0 writes planned"), "{}", run.stderr);
    // The status counts every connection.
    for connection in ["hubspot", "pipedrive", "salesforce"] {
        assert!(run.stdout.contains(connection), "{}", run.stdout);
    }
    let json = env.run(&["demo", "--contacts", "4", "--json"]);
    json.ok();
    let doc = json.json();
    assert_eq!(
        doc["arrivals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["arrived"] == true)
            .count(),
        4,
        "{doc:#}"
    );
    for status in ["status", "pipedrive_status", "salesforce_status"] {
        let contacts = &doc[status]["contact"];
        assert!(
            contacts["synced"].as_u64().unwrap() > 0,
            "{status}: {doc:#}"
        );
        // Every contact of every side is in each CRM: none waits, none failed.
        assert_eq!(
            (
                &contacts["local_only"],
                &contacts["pending"],
                &contacts["error"]
            ),
            (
                &serde_json::json!(0),
                &serde_json::json!(0),
                &serde_json::json!(0)
            ),
            "{status}: {doc:#}"
        );
    }
}
