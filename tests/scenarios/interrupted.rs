//! Runs killed at every write, or through failing calls, rerun until clean: each record once
//! on both sides and every edit arrived.

use super::*;

/// What the user expects of a contact after the runs settle.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    last_name: String,
    job_title: Option<String>,
    archived: bool,
}

fn fresh(last_name: &str) -> Expected {
    Expected {
        last_name: last_name.into(),
        job_title: None,
        archived: false,
    }
}

/// Checks that the CRM and the local store agree with `expected` (keyed by email) and hold
/// no duplicate.
fn assert_settled<C: TestCrm>(w: &Synced<C>, expected: &BTreeMap<String, Expected>, context: &str) {
    let remote = w.crm.records(Contact);
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for r in &remote {
        if let Some(id) = r.crmsync_id.as_deref() {
            *by_id.entry(id).or_default() += 1;
        }
    }
    for (id, n) in &by_id {
        assert_eq!(*n, 1, "{context}: `{id}` is in the CRM {n} times");
    }
    let mut live_emails: HashMap<String, usize> = HashMap::new();
    for r in remote.iter().filter(|r| !r.archived) {
        *live_emails
            .entry(r.get("email").unwrap_or_default().to_string())
            .or_default() += 1;
    }
    for (email, n) in &live_emails {
        assert_eq!(*n, 1, "{context}: {email} is live in the CRM {n} times");
    }
    let all_locals = w.local(Contact);
    let locals: HashMap<String, Record> = all_locals
        .iter()
        .map(|r| (r.get("email").unwrap_or_default().to_string(), r.clone()))
        .collect();
    assert_eq!(
        locals.len(),
        all_locals.len(),
        "{context}: duplicate email locally"
    );
    let ids: Vec<RecordId> = all_locals.iter().map(|r| r.id.clone()).collect();
    let links = w.store().links_by_local_ids(CONN, Contact, &ids).unwrap();
    let remote_by_id: HashMap<&str, &CrmRecord> =
        remote.iter().map(|r| (r.id.as_str(), r)).collect();
    for (email, want) in expected {
        let local = locals
            .get(email)
            .unwrap_or_else(|| panic!("{context}: {email} is missing locally"));
        assert_eq!(
            local.get("last_name"),
            Some(want.last_name.as_str()),
            "{context}: {email}"
        );
        assert_eq!(
            local.get("job_title"),
            want.job_title.as_deref(),
            "{context}: {email}"
        );
        assert_eq!(
            local.archived_at.is_some(),
            want.archived,
            "{context}: {email}"
        );
        let link = links
            .get(&local.id)
            .unwrap_or_else(|| panic!("{context}: {email} is not linked"));
        let r = remote_by_id[link.remote_id.as_str()];
        assert_eq!(r.get("email"), Some(email.as_str()), "{context}");
        assert_eq!(r.archived, want.archived, "{context}: {email}");
        if !want.archived {
            assert_eq!(
                r.get("last_name"),
                Some(want.last_name.as_str()),
                "{context}: {email}"
            );
            assert_eq!(
                r.get("job_title"),
                want.job_title.as_deref(),
                "{context}: {email}"
            );
            assert_eq!(live_emails.get(email), Some(&1), "{context}: {email}");
        }
    }
    assert_eq!(
        live_emails.len(),
        expected.values().filter(|e| !e.archived).count(),
        "{context}: live contacts in the CRM"
    );
}

/// One round of work on both sides: new local contacts (with a new company), local edits,
/// a local archive, a CRM edit and a CRM create. Runs with these writes: company create,
/// contact create (+ associations), contact update, contact archive.
fn round_of_edits<C: TestCrm>(
    w: &Synced<C>,
    round: usize,
    expected: &mut BTreeMap<String, Expected>,
) {
    let company = record(
        Company,
        &[
            ("name", &format!("Round {round} Ltd")),
            ("domain", &format!("round{round}.example")),
        ],
    );
    let mut new = Vec::new();
    for i in 0..3 {
        let mut c = contact(round * 10 + i);
        c.fields
            .insert("email".into(), format!("r{round}-{i}@example.org"));
        c.fields.insert("company_id".into(), company.id.to_string());
        expected.insert(c.get("email").unwrap().to_string(), fresh("Person"));
        new.push(c);
    }
    w.save_local(std::slice::from_ref(&company));
    w.save_local(&new);
    let live: Vec<Record> = w
        .local(Contact)
        .into_iter()
        .filter(|r| {
            r.archived_at.is_none() && !r.get("email").unwrap().starts_with(&format!("r{round}-"))
        })
        .collect();
    // Edit three older contacts locally, archive one, edit one in the CRM.
    for (k, rec) in live.iter().rev().take(3).enumerate() {
        let name = format!("Edited{round}x{k}");
        w.edit_local(&rec.id, &[("last_name", &name)]);
        expected
            .get_mut(rec.get("email").unwrap())
            .unwrap()
            .last_name = name;
    }
    if let Some(rec) = live
        .get(round % live.len().max(1))
        .filter(|_| live.len() > 6)
    {
        let mut rec = w.local_record(&rec.id);
        rec.archived_at = Some(now_ms());
        expected
            .get_mut(rec.get("email").unwrap())
            .unwrap()
            .archived = true;
        w.save_local(&[rec]);
    }
    if let Some(rec) = live.first() {
        let rec = w.local_record(&rec.id);
        if rec.archived_at.is_none() {
            let title = format!("Title {round}");
            let rid = w.remote_id(Contact, &rec.id);
            w.crm.edit(Contact, &rid, &[("job_title", &title)]);
            expected
                .get_mut(rec.get("email").unwrap())
                .unwrap()
                .job_title = Some(title);
        }
    }
    let email = format!("hub{round}@example.net");
    w.crm.create(
        Contact,
        &[
            ("email", &email),
            ("first_name", "Hub"),
            ("last_name", "Made"),
        ],
    );
    expected.insert(email, fresh("Made"));
}

pub fn runs_killed_at_every_write_resume_without_duplicates_or_lost_edits<C: TestCrm>() {
    let mut w = Synced::<C>::start();
    let mut expected = BTreeMap::new();
    let seeded: Vec<Record> = (0..8).map(contact).collect();
    for c in &seeded {
        expected.insert(c.get("email").unwrap().to_string(), fresh("Person"));
    }
    w.save_local(&seeded);
    w.sync().ok();
    assert_settled(&w, &expected, "first sync");

    // Each round stops at a different write of a different state. Rounds come in blocks of
    // four that stop after write 1, 2, 3 and 4 (a round writes: company create, contact
    // create with associations, contact update, contact archive); in every fourth block
    // the CRM refuses writes instead of the process dying (an outage mid-run) and the run
    // stops with an error. 52 rounds: every write position 13 times.
    let mut kill_points = 0;
    for round in 1..=52 {
        round_of_edits(&w, round, &mut expected);
        let n = (round - 1) % 4 + 1;
        let outage = (round - 1) / 4 % 4 == 3;
        if outage {
            w.crm.refuse_writes_after(Some(n as u64 - 1));
            let run = w.sync();
            assert_eq!(run.code, 1, "round {round}: {}\n{}", run.stdout, run.stderr);
            w.crm.refuse_writes_after(None);
        } else {
            w.env
                .set_env("CRMSYNC_TEST_KILL_AFTER_WRITES", &n.to_string());
            let run = w.sync();
            assert_eq!(
                run.code, -1,
                "round {round}: the run was not killed after write {n}\n{}",
                run.stderr
            );
            w.env.remove_env("CRMSYNC_TEST_KILL_AFTER_WRITES");
        }
        kill_points += 1;
        let rerun = w.sync();
        rerun.ok();
        assert_settled(
            &w,
            &expected,
            &format!("round {round}, stopped after write {n}"),
        );
    }
    assert!(kill_points >= 50);
    // Settled means settled: one more run writes nothing.
    w.assert_sync_writes_nothing();
}

/// A first sync's workload that pulls and pushes at once: 300 CRM contacts, 300 local ones
/// of which 50 share an email with a CRM contact spread over the feed. Returns how many
/// distinct contacts there are.
fn pull_and_push_at_once<C: TestCrm>(w: &Synced<C>) -> usize {
    let ids = seed_old(w, 300);
    let mut local: Vec<Record> = ids
        .iter()
        .step_by(6)
        .enumerate()
        .map(|(i, id)| local_contact(i, &remote_email(w, id)))
        .collect();
    assert_eq!(local.len(), 50);
    local.extend((0..250).map(|i| local_contact(i, &format!("here{i}@example.org"))));
    w.save_local(&local);
    550
}

/// Every contact once on each side, linked once, none created twice in the CRM, and the 300
/// local contacts' ids each on one CRM contact.
fn assert_once_on_both_sides<C: TestCrm>(w: &Synced<C>, expected: usize) {
    w.assert_every_contact_local(expected);
    let contacts = w.crm.records(Contact);
    let stamps: Vec<&str> = contacts
        .iter()
        .filter_map(|r| r.crmsync_id.as_deref())
        .collect();
    let distinct: BTreeSet<&str> = stamps.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        stamps.len(),
        "a local id on two CRM contacts"
    );
    assert_eq!(
        stamps.len(),
        300,
        "the local contacts, created or matched, carry their ids"
    );
    assert_eq!(contacts.len(), expected, "no CRM contact made twice");
}

pub fn a_first_sync_that_pulls_and_pushes_at_once_killed_every_five_writes_ends_with_each_contact_once<
    C: TestCrm,
>() {
    let mut w = Synced::<C>::paged(40);
    let expected = pull_and_push_at_once(&w);
    w.env.set_env("CRMSYNC_TEST_KILL_AFTER_WRITES", "5");
    let mut kills = 0;
    loop {
        let run = w.sync();
        if run.code == 0 {
            break;
        }
        assert_eq!(run.code, -1, "{}", run.stderr);
        kills += 1;
        assert!(kills < 100, "no run finished");
    }
    assert!(kills >= 1, "no run was killed");
    w.env.remove_env("CRMSYNC_TEST_KILL_AFTER_WRITES");
    w.sync_json();
    assert_once_on_both_sides(&w, expected);
}

/// Syncs until a run exits cleanly, each failed run exiting 1 or 3; gives up after `cap`.
fn sync_until_clean<C: TestCrm>(w: &Synced<C>, cap: usize) {
    let mut codes = Vec::new();
    loop {
        let run = w.sync();
        codes.push(run.code);
        if run.code == 0 {
            break;
        }
        assert!(
            [1, 3].contains(&run.code),
            "exit code {}: {}",
            run.code,
            run.stderr
        );
        assert!(
            codes.len() < cap,
            "no clean run in {cap} attempts: {codes:?}\n{}",
            run.stderr
        );
    }
}

pub fn a_first_sync_that_pulls_and_pushes_at_once_through_faults_ends_with_each_contact_once<
    C: TestCrm,
>() {
    let w = Synced::<C>::paged(40);
    let expected = pull_and_push_at_once(&w);
    w.crm.fail_calls(0.05);
    sync_until_clean(&w, 60);
    w.crm.fail_calls(0.0);
    w.sync_json();
    assert_once_on_both_sides(&w, expected);
}

/// A workload on both sides: CRM data, local contacts with a company, then edits on both
/// sides and an archive on each. Syncs with `sync` (which may be retried).
fn faulty_workload<C: TestCrm>(w: &Synced<C>, sync: &dyn Fn(&Synced<C>)) {
    let (remote_contacts, remote_companies) = w.crm.seed(15, 3);
    let company = record(
        Company,
        &[("name", "Local Co"), ("domain", "local-co.example")],
    );
    let mut people: Vec<Record> = (0..12).map(contact).collect();
    for p in people.iter_mut().take(6) {
        p.fields.insert("company_id".into(), company.id.to_string());
    }
    w.save_local(std::slice::from_ref(&company));
    w.save_local(&people);
    sync(w);
    for p in people.iter().take(4) {
        w.edit_local(&p.id, &[("job_title", "Edited here")]);
    }
    w.archive_local(&people[11].id);
    for id in remote_contacts.iter().take(4) {
        w.crm.edit(Contact, id, &[("last_name", "Edited there")]);
    }
    w.crm.archive(Contact, &remote_contacts[14]);
    // Two contacts move to another company here, one there.
    let seeded_company = w.local_for(Company, &remote_companies[0]);
    for p in people.iter().skip(4).take(2) {
        w.edit_local(&p.id, &[("company_id", seeded_company.id.as_str())]);
    }
    let was = w.crm.company_of(&remote_contacts[5]);
    let to = remote_companies.iter().find(|c| !was.contains(c)).unwrap();
    w.crm.associate(&remote_contacts[5], to);
    for c in &was {
        w.crm.dissociate(&remote_contacts[5], c);
    }
    sync(w);
    // The archive in the CRM arrives with a full read.
    w.run(&["sync", "--full"]);
    sync(w);
    // The moves went through, each to the other side.
    for p in people.iter().skip(4).take(2) {
        let rid = w.remote_id(Contact, &p.id);
        assert_eq!(w.crm.company_of(&rid), vec![remote_companies[0].clone()]);
    }
    let moved = w.local_for(Contact, &remote_contacts[5]);
    let to_local = w.local_for(Company, to);
    assert_eq!(moved.get("company_id"), Some(to_local.id.as_str()));
}

type VisibleState = (BTreeMap<String, (Fields, bool)>, BTreeMap<String, String>);

/// Both sides as a user sees them, by email: (local fields without ids, archived), and the
/// CRM's mapped fields with the company's name instead of its id.
fn visible_state<C: TestCrm>(w: &Synced<C>) -> VisibleState {
    let companies: HashMap<RecordId, String> = w
        .local(Company)
        .into_iter()
        .map(|c| (c.id.clone(), c.get("name").unwrap_or_default().to_string()))
        .collect();
    let local = w
        .local(Contact)
        .into_iter()
        .map(|mut r| {
            if let Some(c) = r.fields.remove("company_id") {
                r.fields
                    .insert("company".into(), companies[&RecordId(c)].clone());
            }
            (
                r.get("email").unwrap().to_string(),
                (r.fields.clone(), r.archived_at.is_some()),
            )
        })
        .collect();
    let company_names: HashMap<String, String> = w
        .crm
        .records(Company)
        .into_iter()
        .map(|c| (c.id.clone(), c.get("name").unwrap_or_default().to_string()))
        .collect();
    let remote = w
        .crm
        .records(Contact)
        .into_iter()
        .map(|r| {
            let company: Vec<&str> = w
                .crm
                .company_of(&r.id)
                .iter()
                .map(|c| company_names[c].as_str())
                .collect();
            let fields: Vec<String> = [
                "first_name",
                "last_name",
                "job_title",
                "lifecycle_stage",
                "phone",
            ]
            .iter()
            .map(|f| format!("{f}={}", r.get(f).unwrap_or_default()))
            .collect();
            (
                r.get("email").unwrap().to_string(),
                format!(
                    "{} company={company:?} archived={}",
                    fields.join(" "),
                    r.archived
                ),
            )
        })
        .collect();
    (local, remote)
}

pub fn with_a_fifth_of_calls_failing_reruns_reach_the_fault_free_result<C: TestCrm>() {
    let clean = Synced::<C>::start();
    faulty_workload(&clean, &|w| {
        w.sync().ok();
    });
    let expected = visible_state(&clean);

    let faulty = Synced::<C>::start();
    faulty.crm.fail_calls(0.05);
    faulty_workload(&faulty, &|w| sync_until_clean(w, 40));
    let log = faulty.crm.request_log();
    let faults = log
        .iter()
        .filter(|r| [0, 429, 500, 502, 503].contains(&r.status))
        .count();
    assert!(faults >= 4, "only {faults} faults in {} calls", log.len());
    let got = visible_state(&faulty);
    assert_eq!(got.0, expected.0, "local store");
    assert_eq!(got.1, expected.1, "the CRM");
}
