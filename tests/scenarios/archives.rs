//! Archives on either side, with `on_delete` as configured and as `ignore`.

use super::*;

pub fn archiving_locally_archives_in_the_crm<C: TestCrm>() {
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

pub fn archiving_in_the_crm_archives_locally_on_a_full_read<C: TestCrm>() {
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

const IGNORE: &str = "on_delete = \"ignore\"\n";

/// With `on_delete = "ignore"`: person 1, synced, then archived here and synced again (the
/// CRM's contact left live); with its CRM id.
fn archived_here_with_ignore<C: TestCrm>() -> (Synced<C>, Record, String) {
    let w = Synced::<C>::start();
    w.config("", IGNORE);
    let p = person(1);
    w.save_local(std::slice::from_ref(&p));
    w.sync().ok();
    let rid = w.remote_id(Contact, &p.id);
    w.archive_local(&p.id);
    w.sync().ok();
    (w, p, rid)
}

pub fn with_ignore_a_new_local_contact_takes_over_the_crm_contact_its_archived_one_left<
    C: TestCrm,
>() {
    let (w, old, rid) = archived_here_with_ignore::<C>();
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

pub fn with_ignore_a_contact_recreated_in_the_crm_is_paired_with_the_local_one_it_left<
    C: TestCrm,
>() {
    let w = Synced::<C>::start();
    w.config("", IGNORE);
    let p = person(1);
    w.save_local(std::slice::from_ref(&p));
    w.sync().ok();
    let rid = w.remote_id(Contact, &p.id);
    w.crm.archive(Contact, &rid);
    w.run(&["sync", "--full"]).ok();
    assert!(w.local_record(&p.id).archived_at.is_none(), "ignored");

    // Someone creates the person again in the CRM, with the same email (and, where the CRM
    // needs a name, the first name alone: the last name is still the local record's to give;
    // where it needs a last name, the person's own, which the local record keeps).
    tick();
    let mut fields = vec![("email", "person1@example.org"), ("job_title", "Rejoined")];
    if w.crm.contact_needs_a_name() {
        fields.push(("first_name", "Person1"));
    }
    if w.crm.contact_needs_a_last_name() {
        fields.push(("last_name", "Original"));
    }
    let again = w.crm.create(Contact, &fields);
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

pub fn a_contact_restored_here_after_its_archive_reached_the_crm_is_created_there_again<
    C: TestCrm,
>() {
    let w = Synced::<C>::start();
    let people: Vec<Record> = (1..=3).map(person).collect();
    w.save_local(&people);
    w.sync().ok();
    let gone = &people[0];
    let old = w.remote_id(Contact, &gone.id);
    w.archive_local(&gone.id);
    w.sync().ok();
    assert!(w.crm.record(Contact, &old).archived);

    // Restored by its email: an archived record is still found by it.
    let run = w.run(&["records", "restore", "person1@example.org", "--json"]);
    run.ok();
    let restored = run.json();
    assert_eq!(restored["restored"][0]["id"], gone.id.as_str());
    assert_eq!(restored["restored"][0]["kind"], "contact");
    assert!(w.local_record(&gone.id).archived_at.is_none());
    let trail = w
        .store()
        .audit_for_record(&gone.id, Some("archived_at"), 1)
        .unwrap();
    assert_eq!(trail[0].new, None, "{trail:?}");
    assert_eq!(trail[0].cause.as_str(), "user", "{trail:?}");

    w.sync().ok();
    let new = w.remote_id(Contact, &gone.id);
    assert_ne!(
        new, old,
        "the CRM's archived record is not the restored one"
    );
    let remote = w.crm.record(Contact, &new);
    assert!(!remote.archived);
    assert_eq!(remote.get("email"), Some("person1@example.org"));
    assert_eq!(w.crm.live(Contact).len(), 3);
    // Linked: an edit on either side reaches the other.
    w.edit_local(&gone.id, &[("job_title", "Back")]);
    w.sync().ok();
    assert_eq!(w.crm.record(Contact, &new).get("job_title"), Some("Back"));
    w.assert_sync_writes_nothing();
    w.assert_counts(Contact, 3);
}

pub fn restoring_a_live_contact_says_it_is_not_archived_and_changes_nothing<C: TestCrm>() {
    let w = Synced::<C>::start();
    let people: Vec<Record> = (1..=2).map(person).collect();
    w.save_local(&people);
    w.sync().ok();
    w.archive_local(&people[0].id);
    let before = w.store().max_seq().unwrap();
    // One record of two is live: neither is restored.
    let run = w.run(&[
        "records",
        "restore",
        people[0].id.as_str(),
        "person2@example.org",
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("is not archived"), "{}", run.stderr);
    assert!(w.local_record(&people[0].id).archived_at.is_some());
    assert_eq!(w.store().max_seq().unwrap(), before);
    let run = w.run(&["records", "restore", "nobody@example.org"]);
    run.expect_code(1);
    assert!(run.stderr.contains("no record"), "{}", run.stderr);
    // A live contact took the archived one's email since: restoring it would make two.
    let mut again = person(1);
    again.fields.insert("last_name".into(), "Returned".into());
    w.save_local(std::slice::from_ref(&again));
    let run = w.run(&["records", "restore", people[0].id.as_str()]);
    run.expect_code(2);
    assert!(run.stderr.contains("cannot be restored"), "{}", run.stderr);
    assert!(w.local_record(&people[0].id).archived_at.is_some());
}

pub fn with_ignore_a_contact_restored_here_is_synced_with_the_crm_contact_it_left<C: TestCrm>() {
    let (w, p, rid) = archived_here_with_ignore::<C>();
    assert!(!w.crm.record(Contact, &rid).archived, "ignored");

    w.run(&["records", "restore", p.id.as_str()]).ok();
    w.edit_local(&p.id, &[("job_title", "Back")]);
    w.sync().ok();
    assert_eq!(w.crm.live(Contact).len(), 1, "not created twice");
    assert_eq!(w.remote_id(Contact, &p.id), rid);
    assert_eq!(w.crm.record(Contact, &rid).get("job_title"), Some("Back"));
    w.crm.edit(Contact, &rid, &[("last_name", "Edited")]);
    w.sync().ok();
    assert_eq!(w.local_record(&p.id).get("last_name"), Some("Edited"));
    w.assert_sync_writes_nothing();
}
