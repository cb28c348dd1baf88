//! The sync as a user meets it, written once and run against each CRM's sandbox: a first
//! import, edits on both sides, the conflict policies, archives, merges, runs with nothing to
//! do, runs killed and re-run, calls failing, records moving while a read pages through them
//! and a CRM clock off crmsync's. Each test starts its own sandbox and hermetic environment
//! (`common::crm::Synced`); what is checked is what a user would see in the CRM, in the local
//! store or on the terminal, and at the end both sides are counted.
//!
//! crmsync's clock is the real one here (the fixed test clock is removed) so that it and the
//! sandbox's clock agree on which edit is newer; retries are not slept. Local records are
//! written straight into the state file with the store API, as an import or an edit would
//! leave them.
//!
//! A CRM is added with one `TestCrm` impl in `tests/common/crm.rs` and one `scenarios_for!`
//! line at the end of this file.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::crm::{
    CONN, CrmRecord, HubSpotCrm, Synced, TestCrm, archived, contact, now_ms, record, tick,
};
use crmsync::model::{Fields, ObjectKind, Record, RecordId};
use serde_json::Value;

use ObjectKind::{Company, Contact};

// ---- first import and creates ------------------------------------------------------------

fn a_first_sync_imports_the_crms_contacts_and_companies_with_their_association<C: TestCrm>() {
    let w = Synced::<C>::start();
    let (contact_ids, company_ids) = w.crm.seed(12, 3);
    w.crm.clear_request_log();
    w.sync().ok();
    // Reading the CRM into an empty store writes nothing back to it.
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());
    assert_eq!(w.local(Company).len(), 3);
    assert_eq!(w.local(Contact).len(), 12);
    for id in &company_ids {
        let remote = w.crm.record(Company, id);
        let local = w.local_for(Company, id);
        assert_eq!(local.get("name"), remote.get("name"));
        assert_eq!(local.get("domain"), remote.get("domain"));
    }
    for id in &contact_ids {
        let remote = w.crm.record(Contact, id);
        let local = w.local_for(Contact, id);
        for field in ["email", "first_name", "last_name", "lifecycle_stage"] {
            assert_eq!(local.get(field), remote.get(field), "{field} of {id}");
        }
        // The association arrives as a reference to the right local company.
        let crm_company = w.crm.company_of(id);
        assert_eq!(crm_company.len(), 1, "{id}");
        let local_company = w.local_for(Company, &crm_company[0]);
        assert_eq!(
            local.get("company_id"),
            Some(local_company.id.as_str()),
            "contact {id}"
        );
    }
    w.assert_counts(Contact, 12);
    w.assert_counts(Company, 3);
}

fn local_records_are_created_in_the_crm_with_their_company<C: TestCrm>() {
    let w = Synced::<C>::start();
    let company = record(
        Company,
        &[
            ("name", "Northwind Traders"),
            ("domain", "northwind.example"),
        ],
    );
    let mut people: Vec<Record> = (0..3).map(contact).collect();
    for p in &mut people {
        p.fields.insert("company_id".into(), company.id.to_string());
    }
    // The contacts are saved before their company: what the CRM gets must not depend on it.
    w.save_local(&people);
    w.save_local(std::slice::from_ref(&company));
    w.sync().ok();

    let companies = w.crm.live(Company);
    assert_eq!(companies.len(), 1);
    assert_eq!(
        companies[0].crmsync_id.as_deref(),
        Some(company.id.as_str())
    );
    assert_eq!(companies[0].get("name"), Some("Northwind Traders"));
    let contacts = w.crm.live(Contact);
    assert_eq!(contacts.len(), 3);
    for p in &people {
        let found: Vec<&CrmRecord> = contacts
            .iter()
            .filter(|r| r.crmsync_id.as_deref() == Some(p.id.as_str()))
            .collect();
        assert_eq!(found.len(), 1, "contact {}", p.id);
        let r = found[0];
        assert_eq!(r.get("email"), p.get("email"));
        assert_eq!(r.get("first_name"), p.get("first_name"));
        assert_eq!(r.get("lifecycle_stage"), Some("lead"));
        assert_eq!(w.crm.company_of(&r.id), vec![companies[0].id.clone()]);
        assert_eq!(w.remote_id(Contact, &p.id), r.id);
    }
    w.assert_sync_writes_nothing();
    w.assert_counts(Contact, 3);
    w.assert_counts(Company, 1);
}

// ---- edits both ways ---------------------------------------------------------------------

fn an_edit_on_either_side_reaches_the_other<C: TestCrm>() {
    let w = Synced::<C>::start();
    let (contact_ids, _) = w.crm.seed(4, 1);
    let mine = contact(1);
    w.save_local(std::slice::from_ref(&mine));
    w.sync().ok();

    // In the CRM: a seeded contact's job title and phone.
    let theirs = &contact_ids[0];
    w.crm.edit(
        Contact,
        theirs,
        &[("job_title", "Head of Ops"), ("phone", "+1 555 0100")],
    );
    // Locally: the contact created from here, and a contact that came from the CRM.
    w.edit_local(&mine.id, &[("last_name", "Renamed"), ("job_title", "CTO")]);
    let imported = w.local_for(Contact, &contact_ids[1]);
    w.edit_local(
        &imported.id,
        &[("first_name", "Zed"), ("lifecycle_stage", "customer")],
    );
    w.sync().ok();

    let local = w.local_for(Contact, theirs);
    assert_eq!(local.get("job_title"), Some("Head of Ops"));
    assert_eq!(local.get("phone"), Some("+1 555 0100"));

    let remote_mine = w.remote_of(Contact, &mine.id);
    assert_eq!(remote_mine.get("last_name"), Some("Renamed"));
    assert_eq!(remote_mine.get("job_title"), Some("CTO"));
    let remote_imported = w.crm.record(Contact, &contact_ids[1]);
    assert_eq!(remote_imported.get("first_name"), Some("Zed"));
    assert_eq!(remote_imported.get("lifecycle_stage"), Some("customer"));

    // Clearing a field locally clears it in the CRM.
    w.edit_local(&mine.id, &[("job_title", "")]);
    w.sync().ok();
    assert_eq!(w.remote_of(Contact, &mine.id).get("job_title"), None);
    // And a sync after that has nothing to carry either way.
    let before = w.local_record(&mine.id);
    w.assert_sync_writes_nothing();
    assert_eq!(w.local_record(&mine.id), before);
    w.assert_counts(Contact, 5);
}

fn a_contact_moved_to_another_company_in_the_crm_is_moved_locally<C: TestCrm>() {
    let w = Synced::<C>::start();
    let (contact_ids, company_ids) = w.crm.seed(1, 2);
    w.sync().ok();
    let contact = w.local_for(Contact, &contact_ids[0]);
    let old = w.crm.company_of(&contact_ids[0]);
    let other = company_ids.iter().find(|c| **c != old[0]).unwrap().clone();
    let other_local = w.local_for(Company, &other);

    // Only the association changes, as when a user picks another company in the CRM.
    w.crm.dissociate(&contact_ids[0], &old[0]);
    w.crm.associate(&contact_ids[0], &other);
    w.sync().ok();
    let local = w.local_record(&contact.id);
    assert_eq!(local.get("company_id"), Some(other_local.id.as_str()));
    assert_eq!(w.crm.company_of(&contact_ids[0]), vec![other]);
    w.assert_sync_writes_nothing();
}

// ---- conflict policies -------------------------------------------------------------------

/// A linked contact whose last name and job title are then changed on both sides, the CRM
/// after the local store when `remote_later`. Returns (local id, CRM id).
fn both_sides_edited<C: TestCrm>(w: &Synced<C>, remote_later: bool) -> (RecordId, String) {
    let c = contact(7);
    w.save_local(std::slice::from_ref(&c));
    w.sync().ok();
    let rid = w.remote_id(Contact, &c.id);
    let edit_remote = || {
        w.crm.edit(
            Contact,
            &rid,
            &[("last_name", "FromCrm"), ("job_title", "Remote Title")],
        );
    };
    if remote_later {
        w.edit_local(&c.id, &[("last_name", "FromLocal")]);
        tick();
        edit_remote();
    } else {
        edit_remote();
        tick();
        w.edit_local(&c.id, &[("last_name", "FromLocal")]);
    }
    (c.id, rid)
}

/// Both sides' last name after the conflict run; the non-conflicting remote edit (job title)
/// always arrives.
fn after_conflict<C: TestCrm>(
    w: &Synced<C>,
    id: &RecordId,
    rid: &str,
) -> (Option<String>, Option<String>) {
    let local = w.local_record(id);
    assert_eq!(local.get("job_title"), Some("Remote Title"));
    let remote = w.crm.record(Contact, rid);
    (
        local.get("last_name").map(str::to_string),
        remote.get("last_name").map(str::to_string),
    )
}

fn local_wins_keeps_the_local_value_on_both_sides<C: TestCrm>() {
    let w = Synced::<C>::with("[sync]\nconflict_policy = \"local-wins\"\n");
    let (id, rid) = both_sides_edited(&w, true);
    w.sync().ok();
    let (l, r) = after_conflict(&w, &id, &rid);
    assert_eq!(l.as_deref(), Some("FromLocal"));
    assert_eq!(r.as_deref(), Some("FromLocal"));
}

fn remote_wins_takes_the_crms_value_on_both_sides<C: TestCrm>() {
    let w = Synced::<C>::with("[sync]\nconflict_policy = \"remote-wins\"\n");
    let (id, rid) = both_sides_edited(&w, false);
    w.sync().ok();
    let (l, r) = after_conflict(&w, &id, &rid);
    assert_eq!(l.as_deref(), Some("FromCrm"));
    assert_eq!(r.as_deref(), Some("FromCrm"));
}

fn newest_wins_takes_the_later_edit_whichever_side_it_was<C: TestCrm>() {
    for remote_later in [true, false] {
        let w = Synced::<C>::start();
        let (id, rid) = both_sides_edited(&w, remote_later);
        w.sync().ok();
        let (l, r) = after_conflict(&w, &id, &rid);
        let expected = if remote_later { "FromCrm" } else { "FromLocal" };
        assert_eq!(l.as_deref(), Some(expected), "remote later: {remote_later}");
        assert_eq!(r.as_deref(), Some(expected), "remote later: {remote_later}");
    }
}

fn manual_holds_the_field_until_one_side_takes_the_others_value<C: TestCrm>() {
    let w = Synced::<C>::with("[policies.contact]\nlast_name = \"manual\"\n");
    let (id, rid) = both_sides_edited(&w, true);
    let run = w.sync();
    run.expect_code(3);
    assert!(run.stderr.contains("1 conflict(s) wait"), "{}", run.stderr);
    // Held: neither side's last name moved; the other field went through.
    let (l, r) = after_conflict(&w, &id, &rid);
    assert_eq!(l.as_deref(), Some("FromLocal"));
    assert_eq!(r.as_deref(), Some("FromCrm"));
    let open = w
        .store()
        .list_open_conflicts(&crmsync::store::ConflictFilter::default())
        .unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].field, "last_name");
    // The user takes the CRM's value locally; the next sync settles the conflict.
    w.edit_local(&id, &[("last_name", "FromCrm")]);
    w.sync().ok();
    let (l, r) = after_conflict(&w, &id, &rid);
    assert_eq!(l.as_deref(), Some("FromCrm"));
    assert_eq!(r.as_deref(), Some("FromCrm"));
    let conflict = w.store().get_conflict(open[0].id).unwrap().unwrap();
    assert!(conflict.resolved_at.is_some(), "{conflict:?}");
    w.assert_sync_writes_nothing();
}

// ---- archives ----------------------------------------------------------------------------

fn archiving_locally_archives_in_the_crm<C: TestCrm>() {
    let w = Synced::<C>::start();
    let people: Vec<Record> = (0..4).map(contact).collect();
    w.save_local(&people);
    w.sync().ok();
    let gone = &people[0];
    let rid = w.remote_id(Contact, &gone.id);
    w.archive_local(&gone.id);
    w.sync().ok();
    assert!(w.crm.record(Contact, &rid).archived);
    assert_eq!(w.crm.live(Contact).len(), 3);
    // Nothing comes back on later runs, full or not.
    w.sync().ok();
    w.run(&["sync", "--full"]).ok();
    assert!(w.local_record(&gone.id).archived_at.is_some());
    assert_eq!(w.crm.live(Contact).len(), 3);
    assert_eq!(
        w.local(Contact)
            .iter()
            .filter(|r| r.archived_at.is_none())
            .count(),
        3
    );
    w.assert_counts(Contact, 3);
}

fn archiving_in_the_crm_archives_locally_on_a_full_read<C: TestCrm>() {
    let w = Synced::<C>::start();
    let (ids, _) = w.crm.seed(6, 0);
    w.sync().ok();
    w.crm.archive(Contact, &ids[0]);
    w.run(&["sync", "--full"]).ok();
    let first = w.local_for(Contact, &ids[0]);
    assert!(first.archived_at.is_some(), "{first:?}");
    w.assert_sync_writes_nothing();
    w.assert_counts(Contact, 5);
}

// ---- merges in the CRM -------------------------------------------------------------------

/// Syncs and checks that the link of local contact `local` moved from CRM contact `from` to
/// `into`, the one the CRM merged it into, with a warning saying so.
fn sync_follows_merge<C: TestCrm>(w: &Synced<C>, local: &RecordId, from: &str, into: &str) {
    let run = w.sync();
    run.ok();
    assert_eq!(w.remote_id(Contact, local), into);
    assert!(
        run.stderr
            .contains(&format!("merged contact `{from}` into `{into}`")),
        "{}",
        run.stderr
    );
}

fn a_contact_merged_in_the_crm_is_followed_by_the_next_sync<C: TestCrm>() {
    let w = Synced::<C>::start();
    let ann = contact(1);
    w.save_local(std::slice::from_ref(&ann));
    w.sync().ok();
    let a = w.remote_id(Contact, &ann.id);
    // A CRM user merges Ann's contact into another one, which keeps its own values and takes
    // Ann's where it had none.
    let b = w.crm.create(
        Contact,
        &[
            ("email", "bea@example.org"),
            ("first_name", "Bea"),
            ("job_title", "Boss"),
        ],
    );
    w.crm.merge(Contact, &b, &a);
    // A dry run plans what the run will do: Ann's record takes the survivor's values; it
    // creates no local record for the survivor.
    let dry = w.run(&["sync", "--dry-run", "--json"]);
    dry.ok();
    let plan: Value = serde_json::from_str(&dry.stdout).unwrap();
    let planned = &object_report(&plan, "contact")["planned"];
    assert_eq!(
        (&planned["local_create"], &planned["local_update"]),
        (&serde_json::json!(0), &serde_json::json!(1)),
        "{}",
        dry.stdout
    );
    assert_eq!(w.remote_id(Contact, &ann.id), a, "a dry run moves no link");
    sync_follows_merge(&w, &ann.id, &a, &b);
    // Ann's local record takes what the merge kept; no second local contact appears.
    let l = w.local_record(&ann.id);
    assert_eq!(l.get("email"), Some("bea@example.org"));
    assert_eq!(l.get("first_name"), Some("Bea"));
    assert_eq!(l.get("job_title"), Some("Boss"));
    assert_eq!(l.get("last_name"), Some("Person"));
    assert_eq!(w.local(Contact).len(), 1, "a second local record");
    assert!(w.store().list_failures(None).unwrap().is_empty());
    w.assert_sync_writes_nothing();
    w.assert_counts(Contact, 1);
}

fn a_merge_of_two_linked_contacts_seen_in_the_feed_is_named_and_changes_neither_link<C: TestCrm>() {
    let w = Synced::<C>::start();
    let (ann, bea) = (contact(1), contact(2));
    w.save_local(&[ann.clone(), bea.clone()]);
    w.sync().ok();
    let (a, b) = (w.remote_id(Contact, &ann.id), w.remote_id(Contact, &bea.id));
    w.crm.merge(Contact, &b, &a);
    let run = w.sync();
    run.ok();
    assert!(
        run.stderr.contains(&format!(
            "merged contact `{a}` into `{b}`, which local contact `{}` follows",
            bea.id
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("archive `{}`", ann.id)),
        "{}",
        run.stderr
    );
    assert_eq!(w.remote_id(Contact, &ann.id), a);
    assert_eq!(w.remote_id(Contact, &bea.id), b);
    assert_eq!(w.local(Contact).len(), 2);
}

// ---- runs with nothing to do -------------------------------------------------------------

/// The report of one object in a `sync --json` report.
fn object_report(report: &Value, object: &str) -> Value {
    report["connections"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == object)
        .unwrap_or_else(|| panic!("no {object} in {report}"))
        .clone()
}

fn sync_json<C: TestCrm>(w: &Synced<C>) -> Value {
    let run = w.run(&["sync", "--json"]);
    run.ok();
    run.json()
}

fn a_second_sync_writes_nothing_and_finds_every_record_it_reads_unchanged<C: TestCrm>() {
    let w = Synced::<C>::start();
    w.crm.seed(30, 4);
    w.save_local(&(0..10).map(contact).collect::<Vec<_>>());
    w.sync().ok();
    w.crm.clear_request_log();
    let report = sync_json(&w);
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());
    for o in report["connections"][0]["objects"].as_array().unwrap() {
        assert_eq!(o["unchanged"], o["read"], "{o}");
        assert_eq!(o["failed"], 0, "{o}");
    }
    w.assert_sync_writes_nothing();
    w.assert_counts(Contact, 40);
    w.assert_counts(Company, 4);
}

fn echoes_of_creates_are_unchanged_in_the_next_run<C: TestCrm>() {
    let w = Synced::<C>::start();
    w.crm.seed(20, 0);
    let company = record(Company, &[("name", "Acme"), ("domain", "acme.example")]);
    let mut contacts: Vec<Record> = (0..47)
        .map(|i| local_contact(i, &format!("new{i}@example.org")))
        .collect();
    for c in contacts.iter_mut().take(10) {
        c.fields.insert("company_id".into(), company.id.0.clone());
    }
    w.save_local(&[company]);
    w.save_local(&contacts);
    sync_json(&w);
    let report = sync_json(&w);
    let c = object_report(&report, "contact");
    assert_eq!(c["unchanged"], c["read"], "{c}");
    w.assert_counts(Contact, 67);
}

// ---- records moving during a read --------------------------------------------------------

fn local_contact(i: usize, email: &str) -> Record {
    record(
        Contact,
        &[
            ("first_name", &format!("Local{i}")),
            ("last_name", "Person"),
            ("email", email),
        ],
    )
}

/// Seeds `n` CRM contacts a second apart, a day ago; returns their ids in feed order.
fn seed_old<C: TestCrm>(w: &Synced<C>, n: usize) -> Vec<String> {
    let now = w.crm.now_ms();
    w.crm.set_clock_ms(now - 86_400_000);
    let ids = w.crm.seed(n, 0).0;
    w.crm.set_clock_ms(now);
    ids
}

fn remote_email<C: TestCrm>(w: &Synced<C>, id: &str) -> String {
    w.crm.record(Contact, id).get("email").unwrap().to_string()
}

fn local_emails<C: TestCrm>(w: &Synced<C>) -> BTreeSet<String> {
    w.local(Contact)
        .into_iter()
        .filter(|r| r.archived_at.is_none())
        .map(|r| r.get("email").unwrap_or_default().to_string())
        .collect()
}

fn local_by_email<C: TestCrm>(w: &Synced<C>, email: &str) -> Option<Record> {
    w.local(Contact)
        .into_iter()
        .find(|r| r.archived_at.is_none() && r.get("email") == Some(email))
}

fn local_first_name<C: TestCrm>(w: &Synced<C>, email: &str) -> Option<String> {
    local_by_email(w, email)?
        .get("first_name")
        .map(str::to_string)
}

/// Checks that every live CRM contact is local, and nothing else is.
fn assert_every_contact_local<C: TestCrm>(w: &Synced<C>, expected: usize) {
    let remote: BTreeSet<String> = w
        .crm
        .live(Contact)
        .iter()
        .map(|r| r.get("email").unwrap_or_default().to_string())
        .collect();
    let local = local_emails(w);
    assert_eq!(remote.len(), expected, "the CRM's contacts");
    let missing: Vec<&String> = remote.difference(&local).collect();
    let extra: Vec<&String> = local.difference(&remote).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not local: {missing:?}; local only: {extra:?}"
    );
    assert_eq!(
        w.store().count_links(CONN, Contact).unwrap() as usize,
        expected,
        "links"
    );
}

fn a_first_sync_reads_every_contact_while_its_own_writes_move_them_between_pages<C: TestCrm>() {
    let w = Synced::<C>::paged(40);
    let ids = seed_old(&w, 500);
    // 50 local contacts share their emails with CRM contacts of the first pages: crmsync
    // writes to each while it still pages, which moves it to the end of the feed.
    let local: Vec<Record> = ids[..100]
        .iter()
        .step_by(2)
        .enumerate()
        .map(|(i, id)| local_contact(i, &remote_email(&w, id)))
        .collect();
    w.save_local(&local);
    let report = sync_json(&w);
    assert_eq!(object_report(&report, "contact")["failed"], 0, "{report}");
    assert_every_contact_local(&w, 500);
}

fn a_users_edit_between_two_pages_of_a_first_sync_loses_no_contact<C: TestCrm>() {
    let w = Synced::<C>::paged(40);
    let ids = seed_old(&w, 300);
    // Before the second page, a user edits a contact of the first page.
    w.crm
        .edit_before_page(2, Contact, &ids[3], &[("first_name", "Edited")]);
    sync_json(&w);
    assert_every_contact_local(&w, 300);
    assert_eq!(
        local_first_name(&w, &remote_email(&w, &ids[3])).as_deref(),
        Some("Edited")
    );
}

fn a_users_edit_between_two_pages_of_a_delta_sync_loses_no_change<C: TestCrm>() {
    let w = Synced::<C>::paged(40);
    let ids = seed_old(&w, 300);
    sync_json(&w);
    // 200 contacts changed in the CRM since, a few a second.
    for (i, id) in ids[..200].iter().enumerate() {
        if i % 20 == 0 {
            w.crm.advance_clock(std::time::Duration::from_secs(1));
        }
        w.crm
            .edit(Contact, id, &[("last_name", &format!("Changed{i}"))]);
    }
    w.crm
        .edit_before_page(2, Contact, &ids[5], &[("first_name", "Edited")]);
    sync_json(&w);
    let local: BTreeMap<String, String> = w
        .local(Contact)
        .into_iter()
        .filter(|r| r.archived_at.is_none())
        .map(|r| {
            (
                r.get("email").unwrap_or_default().to_string(),
                r.get("last_name").unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(local.len(), 300);
    for (i, id) in ids[..200].iter().enumerate() {
        assert_eq!(
            local[&remote_email(&w, id)],
            format!("Changed{i}"),
            "contact {id}"
        );
    }
    assert_eq!(
        local_first_name(&w, &remote_email(&w, &ids[5])).as_deref(),
        Some("Edited")
    );
}

// ---- a CRM clock off crmsync's -----------------------------------------------------------

/// Sets the CRM's clock `offset_ms` off the real one.
fn skew<C: TestCrm>(w: &Synced<C>, offset_ms: i64) {
    w.crm.set_clock_ms(now_ms() + offset_ms);
}

fn warnings(report: &Value) -> String {
    report["connections"][0]["warnings"].to_string()
}

fn with_the_crms_clock_an_hour_behind_its_edits_after_a_sync_are_read<C: TestCrm>() {
    let w = Synced::<C>::start();
    skew(&w, -3_600_000);
    let ids = seed_old(&w, 5);
    sync_json(&w);
    let email = remote_email(&w, &ids[1]);
    w.crm.edit(Contact, &ids[1], &[("first_name", "Later")]);
    let report = sync_json(&w);
    assert_eq!(local_first_name(&w, &email).as_deref(), Some("Later"));
    assert!(warnings(&report).contains("behind"), "{report}");
}

fn with_the_crms_clock_an_hour_ahead_newest_wins_takes_the_later_local_edit<C: TestCrm>() {
    let w = Synced::<C>::start();
    skew(&w, 3_600_000);
    let ids = seed_old(&w, 5);
    sync_json(&w);
    let email = remote_email(&w, &ids[1]);
    // Edited in the CRM first (stamped an hour ahead), then locally, more than the skew's
    // precision (the `Date` header's whole seconds) later.
    w.crm.edit(Contact, &ids[1], &[("first_name", "Remote")]);
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    let local = local_by_email(&w, &email).expect("a local contact with that email");
    w.edit_local(&local.id, &[("first_name", "Local")]);
    let report = sync_json(&w);
    assert_eq!(local_first_name(&w, &email).as_deref(), Some("Local"));
    assert!(warnings(&report).contains("ahead of"), "{report}");
    assert_eq!(
        w.crm.record(Contact, &ids[1]).get("first_name"),
        Some("Local")
    );
}

// ---- killed runs -------------------------------------------------------------------------

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

fn runs_killed_at_every_write_resume_without_duplicates_or_lost_edits<C: TestCrm>() {
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
    assert_every_contact_local(w, expected);
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

fn a_first_sync_that_pulls_and_pushes_at_once_killed_every_five_writes_ends_with_each_contact_once<
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
    sync_json(&w);
    assert_once_on_both_sides(&w, expected);
}

// ---- faults ------------------------------------------------------------------------------

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

fn a_first_sync_that_pulls_and_pushes_at_once_through_faults_ends_with_each_contact_once<
    C: TestCrm,
>() {
    let w = Synced::<C>::paged(40);
    let expected = pull_and_push_at_once(&w);
    w.crm.fail_calls(0.05);
    sync_until_clean(&w, 60);
    w.crm.fail_calls(0.0);
    sync_json(&w);
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

fn with_a_fifth_of_calls_failing_reruns_reach_the_fault_free_result<C: TestCrm>() {
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

// ---- resolving conflicts and changing the configuration ----------------------------------

const MANUAL_LAST_NAME: &str = "[policies.contact]\nlast_name = \"manual\"\n";

/// No overlap: the change feed does not read a record again (as when a policy is changed
/// more than the overlap after a conflict was found).
const NO_OVERLAP: &str = "[sync]\noverlap_secs = 0\n";

/// Local person number `n`, last name `Original`.
fn person(n: usize) -> Record {
    record(
        Contact,
        &[
            ("first_name", &format!("Person{n}")),
            ("last_name", "Original"),
            ("email", &format!("person{n}@example.org")),
        ],
    )
}

/// A synced contact whose last name is then edited on both sides (the CRM last) under the
/// `manual` policy, and the sync that holds it (exit 3). Returns (local id, CRM id, the
/// conflict's id).
fn held_conflict<C: TestCrm>(w: &Synced<C>) -> (RecordId, String, i64) {
    let c = person(1);
    w.save_local(std::slice::from_ref(&c));
    w.sync().ok();
    let rid = w.remote_id(Contact, &c.id);
    w.edit_local(&c.id, &[("last_name", "FromLocal")]);
    tick();
    w.crm.edit(Contact, &rid, &[("last_name", "FromCrm")]);
    w.sync().expect_code(3);
    let open = w.open_conflicts();
    assert_eq!(open.len(), 1, "{open:?}");
    (c.id, rid, open[0].id)
}

/// The CRM's last name of contact `rid`.
fn crm_last_name<C: TestCrm>(w: &Synced<C>, rid: &str) -> Option<String> {
    w.crm
        .record(Contact, rid)
        .get("last_name")
        .map(str::to_string)
}

/// The conflict `id` as stored (open or resolved).
fn conflict<C: TestCrm>(w: &Synced<C>, id: i64) -> crmsync::store::Conflict {
    w.store().get_conflict(id).unwrap().expect("the conflict")
}

fn a_conflict_resolved_with_the_local_value_stays_resolved_when_the_crm_sends_the_record_again<
    C: TestCrm,
>() {
    let w = Synced::<C>::with(MANUAL_LAST_NAME);
    let (id, rid, conflict) = held_conflict(&w);
    w.run(&[
        "conflicts",
        "resolve",
        &conflict.to_string(),
        "--take",
        "local",
    ])
    .ok();
    // Someone edits another field of the record in the CRM: the next sync reads it again,
    // with the last name it had when the conflict was found.
    tick();
    w.crm.edit(Contact, &rid, &[("job_title", "Buyer")]);
    w.sync().ok();
    assert!(w.open_conflicts().is_empty(), "{:?}", w.open_conflicts());
    assert_eq!(crm_last_name(&w, &rid).as_deref(), Some("FromLocal"));
    assert_eq!(w.local_record(&id).get("last_name"), Some("FromLocal"));
    assert_eq!(w.local_record(&id).get("job_title"), Some("Buyer"));
    // And a value set by hand, read again in the change feed's overlap, stands too.
    w.edit_local(&id, &[("last_name", "Mine")]);
    tick();
    w.crm.edit(Contact, &rid, &[("last_name", "Theirs")]);
    w.sync().expect_code(3);
    let c = w.open_conflicts()[0].id;
    w.run(&["conflicts", "resolve", &c.to_string(), "--value", "Agreed"])
        .ok();
    w.sync().ok();
    w.run(&["sync", "--full"]).ok();
    assert_eq!(crm_last_name(&w, &rid).as_deref(), Some("Agreed"));
    assert_eq!(w.local_record(&id).get("last_name"), Some("Agreed"));
}

fn taking_the_remote_value_never_pushes_one_the_crm_changed_since<C: TestCrm>() {
    for now in ["Newest", "", "Original"] {
        let w = Synced::<C>::with(MANUAL_LAST_NAME);
        let (id, rid, conflict) = held_conflict(&w);
        // The CRM's value moves after the conflict was recorded (to a new value, cleared,
        // back to the value both sides had agreed on).
        tick();
        w.crm.edit(Contact, &rid, &[("last_name", now)]);
        w.run(&[
            "conflicts",
            "resolve",
            &conflict.to_string(),
            "--take",
            "remote",
        ])
        .ok();
        w.sync().ok();
        let expected = (!now.is_empty()).then_some(now);
        assert_eq!(
            crm_last_name(&w, &rid).as_deref(),
            expected,
            "the CRM, {now:?}"
        );
        assert_eq!(
            w.local_record(&id).get("last_name"),
            expected,
            "local, {now:?}"
        );
        assert!(w.open_conflicts().is_empty(), "{:?}", w.open_conflicts());
    }
}

fn a_held_conflict_is_decided_by_the_policy_that_replaced_manual<C: TestCrm>() {
    let w = Synced::<C>::with(&format!("{NO_OVERLAP}{MANUAL_LAST_NAME}"));
    let (id, rid, held) = held_conflict(&w);
    w.config(
        &format!("{NO_OVERLAP}[policies.contact]\nlast_name = \"local-wins\"\n"),
        "",
    );
    // The record changed on neither side since: the next sync decides it all the same.
    w.sync().ok();
    assert!(w.open_conflicts().is_empty(), "{:?}", w.open_conflicts());
    assert_eq!(
        conflict(&w, held).resolved_by.as_deref(),
        Some("local-wins")
    );
    assert_eq!(crm_last_name(&w, &rid).as_deref(), Some("FromLocal"));
    assert_eq!(w.local_record(&id).get("last_name"), Some("FromLocal"));
}

/// The connection's mapping of the contact's last name, in direction `direction`.
fn last_name_direction(direction: &str) -> String {
    format!(
        "[[connections.{CONN}.fields]]\nobject = \"contact\"\nlocal = \"last_name\"\ndirection = \"{direction}\"\n"
    )
}

fn a_held_conflict_on_a_field_made_one_way_is_decided_by_its_direction<C: TestCrm>() {
    let w = Synced::<C>::with(&format!("{NO_OVERLAP}{MANUAL_LAST_NAME}"));
    let (id, rid, _) = held_conflict(&w);
    w.config(
        &format!("{NO_OVERLAP}{MANUAL_LAST_NAME}"),
        &last_name_direction("to-crm"),
    );
    w.sync().ok();
    assert!(w.open_conflicts().is_empty(), "{:?}", w.open_conflicts());
    assert_eq!(crm_last_name(&w, &rid).as_deref(), Some("FromLocal"));
    assert_eq!(w.local_record(&id).get("last_name"), Some("FromLocal"));
}

fn a_held_conflict_on_a_field_no_longer_synced_is_closed_with_the_reason<C: TestCrm>() {
    let w = Synced::<C>::with(MANUAL_LAST_NAME);
    let (id, rid, held) = held_conflict(&w);
    w.config(MANUAL_LAST_NAME, &last_name_direction("none"));
    let run = w.sync();
    run.ok();
    assert!(run.stderr.contains("no longer synced"), "{}", run.stderr);
    let c = conflict(&w, held);
    assert_eq!(c.resolved_by.as_deref(), Some("unmapped"), "{c:?}");
    // Nothing is written to either side's value.
    assert_eq!(crm_last_name(&w, &rid).as_deref(), Some("FromCrm"));
    assert_eq!(w.local_record(&id).get("last_name"), Some("FromLocal"));
}

fn a_held_conflict_of_a_removed_connection_is_closed_with_the_reason<C: TestCrm>() {
    let mut w = Synced::<C>::with(MANUAL_LAST_NAME);
    let (_, _, held) = held_conflict(&w);
    // The connection is replaced by another one (another account of the CRM).
    let other = C::start();
    w.env.write_config(&format!(
        "{MANUAL_LAST_NAME}\n{}",
        other.connection_config("other")
    ));
    for (k, v) in other.credentials("other") {
        w.env.set_env(&k, &v);
    }
    w.run(&["mappings", "setup", "-c", "other"]).ok();
    let run = w.sync();
    run.ok();
    assert!(
        run.stderr
            .contains(&format!("connection `{CONN}` is no longer configured")),
        "{}",
        run.stderr
    );
    let c = conflict(&w, held);
    assert_eq!(
        c.resolved_by.as_deref(),
        Some("connection-removed"),
        "{c:?}"
    );
    w.run(&["conflicts", "list"]).ok();
}

// ---- plans -------------------------------------------------------------------------------

/// Three synced contacts, the first then edited locally (last name `Planned`) and a plan
/// saved with `sync --plan`. Returns all three (local id, CRM id) and the plan file.
fn planned_edit<C: TestCrm>(w: &Synced<C>) -> (Vec<(RecordId, String)>, String) {
    let people: Vec<Record> = (0..3).map(person).collect();
    w.save_local(&people);
    w.sync().ok();
    let people: Vec<(RecordId, String)> = people
        .iter()
        .map(|p| (p.id.clone(), w.remote_id(Contact, &p.id)))
        .collect();
    w.edit_local(&people[0].0, &[("last_name", "Planned")]);
    let plan = w.env.path("plan.json").to_str().unwrap().to_string();
    w.run(&["sync", "--plan", &plan]).ok();
    (people, plan)
}

fn apply_leaves_crm_changes_outside_the_plan_to_the_next_sync<C: TestCrm>() {
    let w = Synced::<C>::start();
    let (people, plan) = planned_edit(&w);
    let l_rid = &people[0].1;
    let (c, c_rid) = &people[1];
    let (d, d_rid) = &people[2];
    // Meanwhile in the CRM: C is edited and N created; ten minutes later D is edited (so
    // that C and N are older than the change feed's overlap behind the newest change).
    tick();
    w.crm
        .edit(Contact, c_rid, &[("job_title", "Edited In The CRM")]);
    let n_rid = w.crm.create(
        Contact,
        &[
            ("email", "newcomer@example.org"),
            ("first_name", "Newcomer"),
        ],
    );
    w.crm.advance_clock(std::time::Duration::from_secs(600));
    w.crm.edit(Contact, d_rid, &[("job_title", "Later Edit")]);

    let applied = w.run(&["apply", &plan, "--json"]);
    applied.ok();
    let applied = applied.json();
    // Only the planned record was carried out, and none of the records the CRM changed is
    // said to be planned again: apply did not touch them.
    assert_eq!(applied["replanned"], serde_json::json!({}), "{applied:#}");
    assert_eq!(crm_last_name(&w, l_rid).as_deref(), Some("Planned"));
    assert_eq!(w.local_record(c).get("job_title"), None);

    w.sync().ok();
    assert_eq!(
        w.local_record(c).get("job_title"),
        Some("Edited In The CRM")
    );
    assert_eq!(w.local_record(d).get("job_title"), Some("Later Edit"));
    let n = w.local_for(Contact, &n_rid);
    assert_eq!(n.get("first_name"), Some("Newcomer"));
}

fn apply_plans_again_and_lists_a_record_changed_locally_after_the_plan<C: TestCrm>() {
    let w = Synced::<C>::start();
    let (people, plan) = planned_edit(&w);
    let (l, l_rid) = &people[0];
    w.edit_local(l, &[("last_name", "Changed After")]);
    let applied = w.run(&["apply", &plan, "--json"]);
    applied.ok();
    let applied = applied.json();
    assert_eq!(
        applied["replanned_local"],
        serde_json::json!([l.as_str()]),
        "{applied:#}"
    );
    assert_eq!(crm_last_name(&w, l_rid).as_deref(), Some("Changed After"));
    // Without --json the record is named too.
    w.edit_local(l, &[("last_name", "Planned Again")]);
    w.run(&["sync", "--plan", &plan]).ok();
    w.edit_local(l, &[("last_name", "And Changed")]);
    let run = w.run(&["apply", &plan]);
    run.ok();
    assert!(
        run.stderr.contains("changed after the plan was made") && run.stderr.contains(l.as_str()),
        "{}",
        run.stderr
    );
}

fn apply_lists_a_planned_record_the_crm_changed_after_the_plan<C: TestCrm>() {
    let w = Synced::<C>::start();
    let (people, plan) = planned_edit(&w);
    let l_rid = &people[0].1;
    tick();
    w.crm
        .edit(Contact, l_rid, &[("job_title", "Edited In The CRM")]);
    let applied = w.run(&["apply", &plan, "--json"]);
    applied.ok();
    let applied = applied.json();
    assert_eq!(
        applied["replanned"],
        serde_json::json!({ CONN: [l_rid] }),
        "{applied:#}"
    );
    assert_eq!(crm_last_name(&w, l_rid).as_deref(), Some("Planned"));
    assert_eq!(
        w.crm.record(Contact, l_rid).get("job_title"),
        Some("Edited In The CRM")
    );
}

// ---- on_delete = "ignore" ----------------------------------------------------------------

const IGNORE: &str = "on_delete = \"ignore\"\n";

fn with_ignore_a_new_local_contact_takes_over_the_crm_contact_its_archived_one_left<C: TestCrm>() {
    let w = Synced::<C>::start();
    w.config("", IGNORE);
    let old = person(1);
    w.save_local(std::slice::from_ref(&old));
    w.sync().ok();
    let rid = w.remote_id(Contact, &old.id);
    w.archive_local(&old.id);
    w.sync().ok();
    assert_eq!(
        w.crm.record(Contact, &rid).get("email"),
        Some("person1@example.org")
    );

    // Someone adds the person again locally, with the same email.
    let mut again = person(1);
    again.fields.insert("last_name".into(), "Returned".into());
    w.save_local(std::slice::from_ref(&again));
    let run = w.sync();
    run.ok();
    assert_eq!(w.remote_id(Contact, &again.id), rid);
    assert_eq!(crm_last_name(&w, &rid).as_deref(), Some("Returned"));
    assert!(w.store().list_failures(None).unwrap().is_empty());
    assert!(w.local_record(&old.id).archived_at.is_some());
    // Settled: nothing more to do, and the CRM contact's edits reach the new one.
    w.crm.edit(Contact, &rid, &[("job_title", "Back")]);
    w.sync().ok();
    assert_eq!(w.local_record(&again.id).get("job_title"), Some("Back"));
    assert!(w.local_record(&old.id).get("job_title").is_none());
}

fn with_ignore_a_contact_recreated_in_the_crm_is_paired_with_the_local_one_it_left<C: TestCrm>() {
    let w = Synced::<C>::start();
    w.config("", IGNORE);
    let p = person(1);
    w.save_local(std::slice::from_ref(&p));
    w.sync().ok();
    let rid = w.remote_id(Contact, &p.id);
    w.crm.archive(Contact, &rid);
    w.run(&["sync", "--full"]).ok();
    assert!(w.local_record(&p.id).archived_at.is_none(), "ignored");

    // Someone creates the person again in the CRM, with the same email.
    tick();
    let again = w.crm.create(
        Contact,
        &[("email", "person1@example.org"), ("job_title", "Rejoined")],
    );
    w.sync().ok();
    let live: Vec<Record> = w
        .local(Contact)
        .into_iter()
        .filter(|r| r.archived_at.is_none())
        .collect();
    assert_eq!(live.len(), 1, "one local contact, not two: {live:?}");
    assert_eq!(live[0].id, p.id);
    assert_eq!(w.remote_id(Contact, &p.id), again);
    assert_eq!(w.local_record(&p.id).get("job_title"), Some("Rejoined"));
    assert_eq!(crm_last_name(&w, &again).as_deref(), Some("Original"));
}

// ---- dry runs, saved plans and the safety gates ------------------------------------------

/// A local contact with only an email and a first name, last changed long ago.
fn plain_contact(email: &str, first: &str) -> Record {
    let mut c = record(Contact, &[("email", email), ("first_name", first)]);
    c.updated_at = 1;
    c
}

/// Ann, synced to the CRM, then edited here and there (`local`, `remote`: field, value)
/// before the next run.
fn ann_edited_on_both_sides<C: TestCrm>(w: &Synced<C>, local: (&str, &str), remote: (&str, &str)) {
    let ann = plain_contact("ann@example.com", "Ann");
    w.save_local(std::slice::from_ref(&ann));
    w.sync().ok();
    let remote_id = w.crm.live(Contact)[0].id.clone();
    let mut edited = ann;
    edited.fields.insert(local.0.into(), local.1.into());
    edited.updated_at = 5;
    w.save_local(&[edited]);
    w.crm.edit(Contact, &remote_id, &[remote]);
}

/// `n` contacts named `{prefix}{i}@example.com`, saved locally.
fn saved_contacts<C: TestCrm>(w: &Synced<C>, prefix: &str, n: usize) -> Vec<Record> {
    let records: Vec<Record> = (0..n)
        .map(|i| plain_contact(&format!("{prefix}{i}@example.com"), "P"))
        .collect();
    w.save_local(&records);
    records
}

/// Archives these local records, as `crmsync records archive` does.
fn archive_locally<C: TestCrm>(w: &Synced<C>, records: &[Record]) {
    w.save_local(&archived(records, 3));
}

/// The linked contacts `status` counts as synced.
fn synced_contacts<C: TestCrm>(w: &Synced<C>) -> u64 {
    let status = w.run(&["status", "--json"]);
    status.ok();
    let v = status.json();
    v["connections"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "contact")
        .unwrap()["synced"]
        .as_u64()
        .unwrap()
}

fn dry_run_prints_the_plan_field_by_field_and_writes_nothing<C: TestCrm>() {
    let w = Synced::<C>::start();
    w.save_local(&[plain_contact("ann@example.com", "Ann")]);
    let id = w.crm.create(
        Contact,
        &[("email", "bob@example.com"), ("first_name", "Bob")],
    );
    w.crm.clear_request_log();

    let run = w.run(&["sync", "--dry-run"]);
    run.ok();
    assert!(run.stdout.contains("create there"), "{}", run.stdout);
    assert!(run.stdout.contains("ann@example.com"), "{}", run.stdout);
    assert!(run.stdout.contains("create here"), "{}", run.stdout);
    assert!(run.stdout.contains("Bob"), "{}", run.stdout);
    assert_eq!(w.crm.write_calls().len(), 0, "a dry run wrote to the CRM");
    assert_eq!(w.crm.live(Contact).len(), 1, "{id:?}");

    let json = w.run(&["sync", "--dry-run", "--json"]);
    json.ok();
    let v = json.json();
    assert_eq!(v["dry_run"], true);
    let ops: Vec<String> = v["plans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["ops"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["op"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(ops.contains(&"remote_create".to_string()), "{ops:?}");
    assert!(ops.contains(&"local_create".to_string()), "{ops:?}");

    // Nothing was stored either: the real run still has everything to do.
    w.run(&["sync", "--json"]).ok();
    assert_eq!(w.crm.live(Contact).len(), 2);
}

fn a_dry_run_plans_a_record_changed_on_both_sides_once<C: TestCrm>() {
    let w = Synced::<C>::start();
    ann_edited_on_both_sides(&w, ("job_title", "Planner"), ("last_name", "Archer"));

    let dry = w.run(&["sync", "--dry-run", "--json"]);
    dry.ok();
    let v: Value = serde_json::from_str(&dry.stdout).unwrap();
    let plans: Vec<&Value> = v["plans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["object"] == "contact")
        .collect();
    assert_eq!(plans.len(), 1, "one plan per connection and object: {v:#}");
    let ops: Vec<&str> = plans[0]["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["op"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops.iter().filter(|o| **o == "remote_update").count(),
        1,
        "{ops:?}"
    );
    assert_eq!(
        ops.iter().filter(|o| **o == "local_update").count(),
        1,
        "{ops:?}"
    );
    assert_eq!(
        object_report(&v, "contact")["planned"]["remote_update"],
        1,
        "{v:#}"
    );

    // The run itself makes the one update the dry run showed.
    w.crm.clear_request_log();
    w.sync().ok();
    assert_eq!(w.crm.write_calls().len(), 1);
}

fn a_run_reports_the_counts_its_dry_run_reported<C: TestCrm>() {
    let w = Synced::<C>::start();
    w.save_local(&[plain_contact("ann@example.com", "Ann")]);
    for i in 0..3 {
        let email = format!("hub{i}@example.com");
        w.crm
            .create(Contact, &[("email", &email), ("first_name", "Hub")]);
    }
    let objects = |args: &[&str]| {
        let out = w.run(args);
        out.ok();
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        let mut objects = v["connections"][0]["objects"].clone();
        for o in objects.as_array_mut().unwrap() {
            o.as_object_mut().unwrap().remove("unchanged");
        }
        objects
    };
    let dry = objects(&["sync", "--dry-run", "--json"]);
    let real = objects(&["sync", "--json"]);
    assert_eq!(dry, real);
    let contact = real
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "contact")
        .unwrap();
    assert_eq!(contact["local_changes"], 1, "{real:#}");
    assert_eq!(contact["planned"]["local_create"], 3, "{real:#}");
}

fn a_dry_run_without_a_state_file_plans_and_leaves_no_file<C: TestCrm>() {
    let w = Synced::<C>::start();
    w.crm.create(
        Contact,
        &[("email", "bob@example.com"), ("first_name", "Bob")],
    );
    let state = w.env.state_path();
    assert!(!state.exists(), "the setup made a state file");
    let run = w.run(&["sync", "--dry-run"]);
    run.ok();
    assert!(run.stdout.contains("create here"), "{}", run.stdout);
    let dir = state.parent().unwrap();
    let left: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&*state.file_name().unwrap().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "a dry run left {left:?}");
}

fn a_saved_plan_is_applied_and_a_record_that_moved_is_planned_again<C: TestCrm>() {
    let w = Synced::<C>::start();
    w.save_local(&[plain_contact("ann@example.com", "Ann")]);
    w.sync().ok();
    let ann = w.crm.live(Contact)[0].id.clone();
    let bob_id = w.crm.create(
        Contact,
        &[("email", "bob@example.com"), ("first_name", "Bob")],
    );
    w.crm.edit(Contact, &ann, &[("first_name", "Annie")]);

    let plan = w.env.path("plan.json");
    w.run(&["sync", "--plan", plan.to_str().unwrap()]).ok();
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved["format"], "crmsync-plan");

    // Bob moves in the CRM after the plan was made; a new contact appears that the plan
    // never saw.
    w.crm.edit(Contact, &bob_id, &[("first_name", "Robert")]);
    w.crm.create(
        Contact,
        &[("email", "cy@example.com"), ("first_name", "Cy")],
    );

    let run = w.run(&["apply", plan.to_str().unwrap()]);
    run.ok();
    assert!(
        run.stderr.contains("planned again") && run.stderr.contains(&bob_id),
        "{}",
        run.stderr
    );
    let export = w.run(&["export", "--format", "jsonl"]);
    export.ok();
    assert!(
        export.stdout.contains("Annie"),
        "the planned pull was applied:\n{}",
        export.stdout
    );
    assert!(
        export.stdout.contains("Robert"),
        "the moved record was planned again:\n{}",
        export.stdout
    );
    assert!(
        !export.stdout.contains("cy@example.com"),
        "apply touched a record outside the plan"
    );

    // A plan with nothing to do, as JSON: the same shape, with no run.
    let empty = w.env.path("empty.json");
    w.sync().ok();
    w.run(&["sync", "--plan", empty.to_str().unwrap()]).ok();
    let run = w.run(&["apply", empty.to_str().unwrap(), "--json"]);
    run.ok();
    let applied: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(applied["report"]["run"], Value::Null, "{applied:#}");
    assert!(applied["replanned"].as_object().unwrap().is_empty());

    let bad = w.env.write("bad.json", "{\"not\": \"a plan\"}");
    let run = w.run(&["apply", bad.to_str().unwrap()]);
    run.expect_code(2);
    assert!(run.stderr.contains("not a plan saved by"), "{}", run.stderr);
}

/// A CRM edit carried out by `apply` leaves nothing waiting: `explain` does not say that
/// local changes wait for the next sync when the record is in step.
fn an_applied_plan_leaves_no_local_change_waiting<C: TestCrm>() {
    let w = Synced::<C>::start();
    w.save_local(&[plain_contact("ann@example.com", "Ann")]);
    w.sync().ok();
    let ann = w.crm.live(Contact)[0].id.clone();
    w.crm.edit(Contact, &ann, &[("job_title", "Chief Tester")]);
    let plan = w.env.path("plan.json");
    w.run(&["sync", "--plan", plan.to_str().unwrap()]).ok();
    w.run(&["apply", plan.to_str().unwrap()]).ok();

    let v = w.run(&["explain", "ann@example.com", "--json"]).json();
    let conn = &v["connections"][0];
    assert_eq!(conn["pending"], false, "{v:#}");
    let title = conn["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "job_title")
        .unwrap();
    assert_eq!(title["local"], "Chief Tester");
    let text = w.run(&["explain", "ann@example.com"]);
    assert!(
        !text.stdout.contains("wait for the next sync"),
        "{}",
        text.stdout
    );

    // A local edit after it does wait.
    let mut edited = plain_contact("ann@example.com", "Annie");
    edited.id = RecordId::parse(v["id"].as_str().unwrap()).unwrap();
    w.save_local(&[edited]);
    let v = w.run(&["explain", "ann@example.com", "--json"]).json();
    assert_eq!(v["connections"][0]["pending"], true, "{v:#}");
}

fn archiving_most_linked_records_stops_at_the_gate_with_exit_4_until_forced<C: TestCrm>() {
    let w = Synced::<C>::start();
    let records = saved_contacts(&w, "p", 6);
    w.sync().ok();
    // Archive four of six locally: 67% > the 50% default.
    archive_locally(&w, &records[..4]);

    let run = w.sync();
    run.expect_code(4);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    // What was held back is said: the four archives, not "no write".
    assert!(
        run.stderr.contains(&format!(
            "{CONN} contact: planned 4 archives there; none of it was written"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(
        w.crm.live(Contact).len(),
        6,
        "the gate let archives through"
    );

    w.run(&["sync", "--force"]).ok();
    assert_eq!(w.crm.live(Contact).len(), 2);
}

fn archives_in_several_rounds_are_measured_against_the_links_still_live<C: TestCrm>() {
    let w = Synced::<C>::start();
    let records = saved_contacts(&w, "r", 10);
    w.sync().ok();
    assert_eq!(synced_contacts(&w), 10);
    // Five of ten: at the 50% limit, allowed.
    archive_locally(&w, &records[..5]);
    w.sync().ok();
    assert_eq!(w.crm.live(Contact).len(), 5);
    assert_eq!(synced_contacts(&w), 5, "archived records counted as synced");
    // Three of the five left: 60%, though only 30% of every link ever made.
    archive_locally(&w, &records[5..8]);
    let run = w.sync();
    run.expect_code(4);
    assert!(run.stderr.contains("3 of 5"), "{}", run.stderr);
    assert_eq!(
        w.crm.live(Contact).len(),
        5,
        "the gate let archives through"
    );
}

fn a_dry_run_stopped_at_the_gate_shows_what_it_held_back_and_not_nothing_to_do<C: TestCrm>() {
    let w = Synced::<C>::start();
    saved_contacts(&w, "p", 6);
    w.sync().ok();
    // Four of six deleted in the CRM: a full read would archive 67% here.
    for c in w.crm.live(Contact).iter().take(4) {
        w.crm.archive(Contact, &c.id);
    }

    let dry = w.run(&["sync", "--full", "--dry-run"]);
    dry.expect_code(4);
    assert!(!dry.stdout.contains("nothing to do"), "{}", dry.stdout);
    assert!(dry.stdout.contains("archive here"), "{}", dry.stdout);
    assert!(dry.stderr.contains("--force"), "{}", dry.stderr);
    // A plan the gate stopped is not saved: `apply` would carry it out past the gate.
    let saved = w.run(&["sync", "--full", "--plan", "held.json"]);
    saved.expect_code(4);
    assert!(saved.stderr.contains("not saved"), "{}", saved.stderr);
    assert!(!w.env.path("held.json").exists());

    // The run's report keeps the contact row, with what was read, though the gate stopped it.
    let run = w.run(&["sync", "--full", "--json"]);
    run.expect_code(4);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let contact = v["connections"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "contact")
        .cloned()
        .unwrap_or_default();
    // A full read returns the archived records too.
    assert_eq!(contact["read"], 6, "{v:#}");
    // What the gate held back is reported as planned and not written, not as done.
    assert_eq!(contact["not_written"]["local_archive"], 4, "{v:#}");
    assert_eq!(contact["planned"]["local_archive"], 0, "{v:#}");
    let table = w.run(&["sync", "--full"]);
    table.expect_code(4);
    assert!(
        table.stdout.contains("0 here, 0 there"),
        "the table counts archives that were never written:\n{}",
        table.stdout
    );
    assert!(
        table
            .stderr
            .contains("planned 4 archives here; none of it was written"),
        "{}",
        table.stderr
    );
    assert_eq!(w.store().count_records(Contact, false).unwrap(), 6);
}

fn a_held_conflict_keeps_the_exit_code_at_3_until_it_is_resolved<C: TestCrm>() {
    let w = Synced::<C>::with("[policies.contact]\nfirst_name = \"manual\"\n");
    ann_edited_on_both_sides(&w, ("first_name", "Annabel"), ("first_name", "Anna"));

    let run = w.sync();
    run.expect_code(3);
    assert!(run.stderr.contains("1 conflict(s) wait"), "{}", run.stderr);
    // `log` says what the run left waiting, and its counts by connection and object.
    let log = w.run(&["log", "-n", "1"]);
    log.ok();
    assert!(
        log.stdout.contains("partial, 1 conflict waiting"),
        "{}",
        log.stdout
    );
    assert!(
        log.stdout.contains(&format!("{CONN}.contact.read 1")),
        "{}",
        log.stdout
    );
    // The pull held the conflict; the push meeting it again does not count it twice.
    assert!(
        log.stdout.contains(&format!("{CONN}.contact.held 1,")),
        "{}",
        log.stdout
    );
    // A later run that does not touch the record still reports the waiting conflict.
    let run = w.sync();
    run.expect_code(3);
    assert!(run.stderr.contains("1 conflict(s) wait"), "{}", run.stderr);

    w.run(&["conflicts", "resolve", "--all", "--take", "remote"])
        .ok();
    w.sync().ok();
    let export = w.run(&["export", "--format", "jsonl"]);
    assert!(export.stdout.contains("\"Anna\""), "{}", export.stdout);
}

// ---- one test per scenario and CRM -------------------------------------------------------

/// A `#[test]` that runs each named scenario against `$crm`.
macro_rules! each_scenario {
    ($crm:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                super::$name::<$crm>();
            }
        )*
    };
}

/// Every scenario, as a module of tests for one CRM.
macro_rules! scenarios_for {
    ($module:ident, $crm:ty) => {
        mod $module {
            use super::*;

            each_scenario!($crm;
                a_first_sync_imports_the_crms_contacts_and_companies_with_their_association,
                local_records_are_created_in_the_crm_with_their_company,
                an_edit_on_either_side_reaches_the_other,
                a_contact_moved_to_another_company_in_the_crm_is_moved_locally,
                local_wins_keeps_the_local_value_on_both_sides,
                remote_wins_takes_the_crms_value_on_both_sides,
                newest_wins_takes_the_later_edit_whichever_side_it_was,
                manual_holds_the_field_until_one_side_takes_the_others_value,
                archiving_locally_archives_in_the_crm,
                archiving_in_the_crm_archives_locally_on_a_full_read,
                a_contact_merged_in_the_crm_is_followed_by_the_next_sync,
                a_merge_of_two_linked_contacts_seen_in_the_feed_is_named_and_changes_neither_link,
                a_second_sync_writes_nothing_and_finds_every_record_it_reads_unchanged,
                echoes_of_creates_are_unchanged_in_the_next_run,
                a_first_sync_reads_every_contact_while_its_own_writes_move_them_between_pages,
                a_users_edit_between_two_pages_of_a_first_sync_loses_no_contact,
                a_users_edit_between_two_pages_of_a_delta_sync_loses_no_change,
                with_the_crms_clock_an_hour_behind_its_edits_after_a_sync_are_read,
                with_the_crms_clock_an_hour_ahead_newest_wins_takes_the_later_local_edit,
                runs_killed_at_every_write_resume_without_duplicates_or_lost_edits,
                a_first_sync_that_pulls_and_pushes_at_once_killed_every_five_writes_ends_with_each_contact_once,
                a_first_sync_that_pulls_and_pushes_at_once_through_faults_ends_with_each_contact_once,
                with_a_fifth_of_calls_failing_reruns_reach_the_fault_free_result,
                a_conflict_resolved_with_the_local_value_stays_resolved_when_the_crm_sends_the_record_again,
                taking_the_remote_value_never_pushes_one_the_crm_changed_since,
                a_held_conflict_is_decided_by_the_policy_that_replaced_manual,
                a_held_conflict_on_a_field_made_one_way_is_decided_by_its_direction,
                a_held_conflict_on_a_field_no_longer_synced_is_closed_with_the_reason,
                a_held_conflict_of_a_removed_connection_is_closed_with_the_reason,
                apply_leaves_crm_changes_outside_the_plan_to_the_next_sync,
                apply_plans_again_and_lists_a_record_changed_locally_after_the_plan,
                apply_lists_a_planned_record_the_crm_changed_after_the_plan,
                with_ignore_a_new_local_contact_takes_over_the_crm_contact_its_archived_one_left,
                with_ignore_a_contact_recreated_in_the_crm_is_paired_with_the_local_one_it_left,
                dry_run_prints_the_plan_field_by_field_and_writes_nothing,
                a_dry_run_plans_a_record_changed_on_both_sides_once,
                a_run_reports_the_counts_its_dry_run_reported,
                a_dry_run_without_a_state_file_plans_and_leaves_no_file,
                a_saved_plan_is_applied_and_a_record_that_moved_is_planned_again,
                an_applied_plan_leaves_no_local_change_waiting,
                archiving_most_linked_records_stops_at_the_gate_with_exit_4_until_forced,
                archives_in_several_rounds_are_measured_against_the_links_still_live,
                a_dry_run_stopped_at_the_gate_shows_what_it_held_back_and_not_nothing_to_do,
                a_held_conflict_keeps_the_exit_code_at_3_until_it_is_resolved,
            );
        }
    };
}

scenarios_for!(hubspot, HubSpotCrm);
