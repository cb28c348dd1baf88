//! Activities and deals through runs killed at every write and through a fifth of HubSpot's
//! calls failing: the crmsync binary against the HubSpot sandbox, rerun until clean. Each
//! round adds a company and a contact with an activity and a deal of their own, an activity
//! of an older contact, edits a deal and an activity locally and a deal in HubSpot. After
//! every round both sides are counted: each activity and deal once in HubSpot and once
//! locally, linked once, with its contact and company associated and every edit arrived.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::crm::{HubSpotCrm, Synced, TestCrm, contact, failing_calls, record, tick};
use crmsync::model::{ObjectKind, Record, RecordId};
use crmsync::sandbox::FaultOptions;
use serde_json::Value;

use ObjectKind::{Activity, Company, Contact, Deal};

type World = Synced<HubSpotCrm>;

const OBJECTS: &str = "objects = [\"company\", \"contact\", \"activity\", \"deal\"]\n";

/// The engagement objects the workload's activities go to, with the property of their subject.
const SUBJECTS: [(&str, &str, &str); 2] = [
    ("call", "calls", "hs_call_title"),
    ("task", "tasks", "hs_task_subject"),
];

/// What the user expects of an activity or a deal once the runs settle.
#[derive(Debug, Clone)]
struct Want {
    /// An activity's type, or `deal`.
    kind: &'static str,
    /// The activity's subject or the deal's name.
    title: String,
    /// The deal's stage as HubSpot holds it (its id) and its amount.
    stage: Option<&'static str>,
    amount: Option<String>,
    contact: RecordId,
    company: RecordId,
}

#[derive(Default)]
struct Expected {
    records: BTreeMap<RecordId, Want>,
}

fn world() -> World {
    let w = World::start();
    w.config("", OBJECTS);
    w.run(&["mappings", "setup", "-c", "crm"]).ok();
    w
}

/// Round `round`'s company and contact, with a call of the contact, a task of an older
/// contact (`older`, with its company) and a deal of the contact and its company.
fn new_records(
    w: &World,
    round: usize,
    older: Option<(RecordId, RecordId)>,
    expected: &mut Expected,
) {
    let co = record(
        Company,
        &[
            ("name", &format!("Round {round} Ltd")),
            ("domain", &format!("round{round}.example")),
        ],
    );
    let mut c = contact(round);
    c.fields.insert("company_id".into(), co.id.0.clone());
    let time = |m: usize| format!("2026-03-{:02}T{:02}:{m:02}:00Z", 1 + round / 24, round % 24);
    let mut made = Vec::new();
    let mut activity = |kind: &'static str, title: String, at: String, of: (RecordId, RecordId)| {
        let a = record(
            Activity,
            &[
                ("type", kind),
                ("subject", &title),
                ("time", &at),
                ("contact_id", of.0.as_str()),
                ("company_id", of.1.as_str()),
            ],
        );
        expected.records.insert(
            a.id.clone(),
            Want {
                kind,
                title,
                stage: None,
                amount: None,
                contact: of.0,
                company: of.1,
            },
        );
        made.push(a);
    };
    activity(
        "call",
        format!("Call {round}"),
        time(1),
        (c.id.clone(), co.id.clone()),
    );
    if let Some(of) = older {
        activity("task", format!("Task {round}"), time(2), of);
    }
    let amount = (100 * round + 50).to_string();
    // Stages by label and by id in turn.
    let (stage, sent_as) = [
        ("Contract Sent", "contractsent"),
        ("qualifiedtobuy", "qualifiedtobuy"),
    ][round % 2];
    let d = record(
        Deal,
        &[
            ("name", &format!("Deal {round}")),
            ("stage", stage),
            ("pipeline", "default"),
            ("amount", &amount),
            ("contact_id", c.id.as_str()),
            ("company_id", co.id.as_str()),
        ],
    );
    expected.records.insert(
        d.id.clone(),
        Want {
            kind: "deal",
            title: format!("Deal {round}"),
            stage: Some(sent_as),
            amount: Some(amount.clone()),
            contact: c.id.clone(),
            company: co.id.clone(),
        },
    );
    w.save_local(std::slice::from_ref(&co));
    w.save_local(std::slice::from_ref(&c));
    w.save_local(&made);
    w.save_local(std::slice::from_ref(&d));
}

/// Edits of earlier rounds' records (made before the round's new ones): a task's subject and a deal's stage and amount here, a
/// deal's amount in HubSpot.
fn edits(w: &World, round: usize, expected: &mut Expected) {
    let of = |kind: &str| -> Vec<RecordId> {
        expected
            .records
            .iter()
            .filter(|(_, want)| want.kind == kind)
            .map(|(id, _)| id.clone())
            .collect()
    };
    let (tasks, deals) = (of("task"), of("deal"));
    if let Some(id) = tasks.get(round * 5 % tasks.len().max(1)) {
        let title = format!("Task edited in round {round}");
        w.edit_local(id, &[("subject", &title)]);
        expected.records.get_mut(id).unwrap().title = title;
    }
    if deals.len() >= 2 {
        let here = &deals[round * 7 % deals.len()];
        let there = &deals[(round * 7 + 1) % deals.len()];
        let amount = format!("{round}01");
        w.edit_local(here, &[("stage", "Closed Won"), ("amount", &amount)]);
        let want = expected.records.get_mut(here).unwrap();
        (want.stage, want.amount) = (Some("closedwon"), Some(amount));
        let amount = format!("{round}02");
        w.crm
            .sandbox
            .update_record("deals", &w.remote_id(Deal, there), &[("amount", &amount)])
            .unwrap();
        expected.records.get_mut(there).unwrap().amount = Some(amount);
    }
}

/// HubSpot's live records of object `path`, by id.
fn live(dump: &Value, path: &str) -> BTreeMap<String, Value> {
    dump[path]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["archived"] != true)
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["properties"].clone(),
            )
        })
        .collect()
}

/// Both sides counted against `expected`: each activity and deal live once locally and once
/// in HubSpot, linked once, with its values and its contact and company.
fn assert_settled(w: &World, expected: &Expected, context: &str) {
    let dump = w.crm.sandbox.dump();
    let store = w.store();
    let locals: BTreeMap<RecordId, Record> = [Activity, Deal]
        .into_iter()
        .flat_map(|k| w.local(k))
        .filter(|r| r.archived_at.is_none())
        .map(|r| (r.id.clone(), r))
        .collect();
    let wanted: BTreeSet<&RecordId> = expected.records.keys().collect();
    let held: BTreeSet<&RecordId> = locals.keys().collect();
    assert_eq!(held, wanted, "{context}: local activities and deals");

    let deals = live(&dump, "deals");
    let engagements: BTreeMap<&str, BTreeMap<String, Value>> = SUBJECTS
        .iter()
        .map(|(_, path, _)| (*path, live(&dump, path)))
        .collect();
    let mut linked = BTreeSet::new();
    for (id, want) in &expected.records {
        let local = &locals[id];
        assert_eq!(
            local.get("contact_id"),
            Some(want.contact.as_str()),
            "{context}"
        );
        let (path, own, title_prop) = if want.kind == "deal" {
            ("deals", w.remote_id(Deal, id), "dealname")
        } else {
            let rid = w.remote_id(Activity, id);
            let (key, own) = rid.split_once(':').expect("an activity id");
            let (_, path, prop) = SUBJECTS.iter().find(|(k, _, _)| *k == key).unwrap();
            assert_eq!(key, want.kind, "{context}: {id} went as {rid}");
            (*path, own.to_string(), *prop)
        };
        assert!(
            linked.insert((path, own.clone())),
            "{context}: {path} `{own}` linked twice"
        );
        let props = match path {
            "deals" => deals.get(&own),
            _ => engagements[path].get(&own),
        }
        .unwrap_or_else(|| panic!("{context}: {id} is not live in HubSpot as {path} `{own}`"));
        let title = if want.kind == "deal" {
            "name"
        } else {
            "subject"
        };
        assert_eq!(
            local.get(title),
            Some(want.title.as_str()),
            "{context}: {id}"
        );
        assert_eq!(props[title_prop], want.title.as_str(), "{context}: {id}");
        if want.kind == "deal" {
            assert_eq!(props["dealstage"], want.stage.unwrap(), "{context}: {id}");
            let amount = want.amount.as_deref().unwrap();
            assert_eq!(props["amount"], amount, "{context}: {id}");
            assert_eq!(local.get("amount"), Some(amount), "{context}: {id}");
            assert_eq!(props["crmsync_id"], id.as_str(), "{context}: {id}");
        }
        let contact = w.remote_id(Contact, &want.contact);
        let company = w.remote_id(Company, &want.company);
        assert_eq!(
            w.crm.sandbox.associated(path, &own, "contacts"),
            [contact],
            "{context}: {id}"
        );
        assert_eq!(
            w.crm.sandbox.associated(path, &own, "companies"),
            [company],
            "{context}: {id}"
        );
    }
    // Nothing in HubSpot beyond them.
    let in_hubspot = deals.len() + engagements.values().map(BTreeMap::len).sum::<usize>();
    assert_eq!(
        in_hubspot,
        expected.records.len(),
        "{context}: live in HubSpot"
    );
    let deal_ids: Vec<&RecordId> = expected
        .records
        .iter()
        .filter(|(_, want)| want.kind == "deal")
        .map(|(id, _)| id)
        .collect();
    let deal_links = store
        .links_by_local_ids(
            "crm",
            Deal,
            &deal_ids.into_iter().cloned().collect::<Vec<_>>(),
        )
        .unwrap();
    assert_eq!(deal_links.len(), deals.len(), "{context}: deals linked");
}

/// The contact of round 0 and its company, the older contact each round's task is for.
fn seeded(w: &World, expected: &mut Expected) -> (RecordId, RecordId) {
    new_records(w, 0, None, expected);
    w.sync().ok();
    let deal = expected
        .records
        .values()
        .find(|want| want.kind == "deal")
        .unwrap();
    (deal.contact.clone(), deal.company.clone())
}

#[test]
fn runs_killed_at_every_write_leave_each_activity_and_deal_once_on_both_sides() {
    let mut w = world();
    let mut expected = Expected::default();
    let older = seeded(&w, &mut expected);
    assert_settled(&w, &expected, "first sync");
    // From the second round on, a round writes: company create, contact create, activity
    // create, activity update, deal create, deal update (each with the association calls it
    // makes). Round r is killed after write (r - 1) % 6 + 1: 54 rounds, every write position
    // nine times.
    let mut killed = 0;
    for round in 1..=54 {
        tick();
        edits(&w, round, &mut expected);
        new_records(&w, round, Some(older.clone()), &mut expected);
        let n = (round - 1) % 6 + 1;
        w.env
            .set_env("CRMSYNC_TEST_KILL_AFTER_WRITES", &n.to_string());
        w.crm.clear_request_log();
        let run = w.sync();
        w.env.remove_env("CRMSYNC_TEST_KILL_AFTER_WRITES");
        assert_eq!(
            run.code, -1,
            "round {round}: the run was not killed after write {n}\n{}",
            run.stderr
        );
        killed += 1;
        w.sync().ok();
        assert_settled(
            &w,
            &expected,
            &format!("round {round}, killed after write {n}"),
        );
    }
    assert!(killed >= 50);
    w.assert_sync_writes_nothing();
}

#[test]
fn with_a_fifth_of_calls_failing_reruns_reach_the_fault_free_end_state() {
    let faulty = world();
    let clean = world();
    let mut expected = Expected::default();
    let mut clean_expected = Expected::default();
    let older = seeded(&faulty, &mut expected);
    let clean_older = seeded(&clean, &mut clean_expected);
    // Runs that failed, and calls answered with a fault (most are retried within the run).
    let (mut failed_runs, mut faults) = (0, 0);
    for round in 1..=12 {
        tick();
        for (w, expected, older) in [
            (&faulty, &mut expected, &older),
            (&clean, &mut clean_expected, &clean_older),
        ] {
            edits(w, round, expected);
            new_records(w, round, Some(older.clone()), expected);
        }
        // The fault-free run.
        clean.sync().ok();

        // A fifth of the calls fail: 5% each of 429, 500, 502/503 and dropped connections
        // (each retried within the run), and the first two runs of a round meet an outage
        // after their first two writes (503 to every write after), so that the round takes
        // reruns.
        faulty.crm.clear_request_log();
        let mut runs = 0;
        loop {
            faulty.crm.sandbox.set_faults(FaultOptions {
                fail_after_writes: (runs < 2).then_some(2),
                ..failing_calls(0.05)
            });
            let run = faulty.sync();
            if run.code == 0 {
                break;
            }
            assert!([1, 3].contains(&run.code), "{}", run.stderr);
            failed_runs += 1;
            runs += 1;
            assert!(runs < 40, "round {round}: no clean run\n{}", run.stderr);
            // A record failed for good by a fault is tried again, as exit code 3 asks.
            faulty.run(&["retry"]);
        }
        faulty.crm.fail_calls(0.0);
        faults += faulty
            .crm
            .request_log()
            .iter()
            .filter(|c| [0, 429, 500, 502, 503].contains(&c.status))
            .count();
        faulty.sync().ok();
        assert_settled(&faulty, &expected, &format!("round {round}, faults"));
        assert_settled(
            &clean,
            &clean_expected,
            &format!("round {round}, no faults"),
        );
        // A full read on both sides brings back what HubSpot derived from the writes (a
        // task's due date and status), which a run reads back only when a record changes
        // again, so that how many runs it took does not show.
        faulty.run(&["sync", "--full"]).ok();
        clean.run(&["sync", "--full"]).ok();
        assert_eq!(
            visible(&faulty),
            visible(&clean),
            "round {round}: the end state differs from the fault-free one"
        );
    }
    assert!(faults >= 20, "too few faults: {faults}");
    assert!(failed_runs >= 12, "too few runs failed: {failed_runs}");
    eprintln!("{faults} calls answered with a fault, {failed_runs} runs failed");
    faulty.assert_sync_writes_nothing();
}

/// What a user sees of both sides, without ids: each activity's and deal's values locally
/// and in HubSpot, with the names of its contact and company.
fn visible(w: &World) -> BTreeSet<String> {
    let name = |id: Option<&str>| -> String {
        let Some(id) = id else { return String::new() };
        let r = w.local_record(&RecordId(id.to_string()));
        r.get("email")
            .or_else(|| r.get("name"))
            .unwrap_or_default()
            .to_string()
    };
    let dump = w.crm.sandbox.dump();
    let mut out = BTreeSet::new();
    for kind in [Activity, Deal] {
        for r in w
            .local(kind)
            .into_iter()
            .filter(|r| r.archived_at.is_none())
        {
            let mut fields = r.fields.clone();
            let contact = name(fields.remove("contact_id").as_deref());
            let company = name(fields.remove("company_id").as_deref());
            out.insert(format!("local {kind} {fields:?} of {contact} at {company}"));
        }
    }
    for path in ["deals", "calls", "tasks"] {
        for (_, mut props) in live(&dump, path) {
            let props = props.as_object_mut().unwrap();
            props.retain(|k, _| {
                matches!(
                    k.as_str(),
                    "dealname"
                        | "dealstage"
                        | "pipeline"
                        | "amount"
                        | "hs_call_title"
                        | "hs_task_subject"
                )
            });
            out.insert(format!("{path} {props:?}"));
        }
    }
    out
}
