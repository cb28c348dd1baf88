//! Edits on either side, a contact moved to another company, and merges made in the CRM.

use super::*;

pub fn an_edit_on_either_side_reaches_the_other<C: TestCrm>() {
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

pub fn a_contact_moved_to_another_company_in_the_crm_is_moved_locally<C: TestCrm>() {
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

pub fn a_contact_merged_in_the_crm_is_followed_by_the_next_sync<C: TestCrm>() {
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
    assert_eq!(l.get("last_name"), w.crm.merged_last_name("Person"));
    assert_eq!(w.local(Contact).len(), 1, "a second local record");
    assert!(w.store().list_failures(None).unwrap().is_empty());
    w.assert_sync_writes_nothing();
    w.assert_counts(Contact, 1);
}

pub fn a_merge_of_two_linked_contacts_seen_in_the_feed_is_named_and_changes_neither_link<
    C: TestCrm,
>() {
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

/// A record the CRM refuses (a value its property of options does not take) fails alone: the
/// others go through, the failure is kept with the CRM's reason (exit 3), and once the value
/// is mended `crmsync retry` and a sync carry it over.
pub fn a_record_the_crm_refuses_fails_alone_and_goes_through_once_fixed<C: TestCrm>() {
    let w = Synced::<C>::start();
    let choice = w.crm.choice_field(w.conn);
    w.config("", &choice.mapping);
    let mut people: Vec<Record> = (0..3).map(contact).collect();
    for p in &mut people {
        p.fields.insert(choice.local.into(), choice.good.into());
    }
    people[1]
        .fields
        .insert(choice.local.into(), choice.bad.into());
    w.save_local(&people);
    let run = w.sync();
    run.expect_code(3);
    assert!(run.stderr.contains("1 record(s) failed"), "{}", run.stderr);
    assert_eq!(w.crm.live(Contact).len(), 2);
    let failed = w.run(&["status", "--failed", "--json"]).json();
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["local_id"], people[1].id.0.as_str());
    // A sync with nothing new leaves the failure as it is.
    w.sync().expect_code(3);
    assert_eq!(w.crm.live(Contact).len(), 2);

    w.edit_local(&people[1].id, &[(choice.local, choice.good)]);
    w.run(&["retry"]).ok();
    w.sync().ok();
    assert_eq!(w.crm.live(Contact).len(), 3);
    let rid = w.remote_id(Contact, &people[1].id);
    assert!(w.crm.record(Contact, &rid).get("email").is_some());
    let after = w.run(&["status", "--failed", "--json"]).json();
    assert_eq!(after.as_array().map(Vec::len), Some(0), "{after:#}");
    w.assert_sync_writes_nothing();
}

/// A token the CRM does not take stops the run before anything is written, naming the
/// connection and how to connect again.
pub fn an_invalid_token_stops_the_run_naming_the_connection_and_writes_nothing<C: TestCrm>() {
    let mut w = Synced::<C>::start();
    w.save_local(&[contact(1)]);
    for (var, _) in w.crm.credentials(w.conn) {
        w.env.set_env(&var, "not-a-real-token");
    }
    w.crm.clear_request_log();
    let run = w.sync();
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!("`{}`", w.conn)),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert!(run.stderr.contains("crmsync connect"), "{}", run.stderr);
    assert!(w.crm.live(Contact).is_empty());
    assert_eq!(w.crm.write_calls(), Vec::<String>::new());
}
