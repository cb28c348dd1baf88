//! The conflict policies, resolving a held conflict, and a policy, mapping or connection
//! changed under one.

use super::*;

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
        w.crm.tick();
        edit_remote();
    } else {
        edit_remote();
        w.crm.tick();
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

pub fn local_wins_keeps_the_local_value_on_both_sides<C: TestCrm>() {
    let w = Synced::<C>::with("[sync]\nconflict_policy = \"local-wins\"\n");
    let (id, rid) = both_sides_edited(&w, true);
    w.sync().ok();
    let (l, r) = after_conflict(&w, &id, &rid);
    assert_eq!(l.as_deref(), Some("FromLocal"));
    assert_eq!(r.as_deref(), Some("FromLocal"));
}

pub fn remote_wins_takes_the_crms_value_on_both_sides<C: TestCrm>() {
    let w = Synced::<C>::with("[sync]\nconflict_policy = \"remote-wins\"\n");
    let (id, rid) = both_sides_edited(&w, false);
    w.sync().ok();
    let (l, r) = after_conflict(&w, &id, &rid);
    assert_eq!(l.as_deref(), Some("FromCrm"));
    assert_eq!(r.as_deref(), Some("FromCrm"));
}

pub fn newest_wins_takes_the_later_edit_whichever_side_it_was<C: TestCrm>() {
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

/// A CRM edit made 20 ms after a local one: a CRM whose clock orders them (HubSpot's, to the
/// millisecond) wins; one whose clock cannot (Pipedrive's, to the second) stamps it with the
/// start of the second both edits fall in, and the tie keeps the local value.
pub fn newest_wins_takes_an_order_the_clocks_cannot_tell_as_a_tie<C: TestCrm>() {
    let w = Synced::<C>::start();
    let c = contact(8);
    w.save_local(std::slice::from_ref(&c));
    w.sync().ok();
    let rid = w.remote_id(Contact, &c.id);
    // Both edits well inside one second of this machine's clock (the sandbox's, unskewed).
    while !(100..700).contains(&now_ms().rem_euclid(1_000)) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    w.edit_local(&c.id, &[("last_name", "FromLocal")]);
    tick();
    w.crm.edit(
        Contact,
        &rid,
        &[("last_name", "FromCrm"), ("job_title", "Remote Title")],
    );
    w.sync().ok();
    let expected = if w.crm.clock_step() > std::time::Duration::from_secs(1) {
        "FromLocal"
    } else {
        "FromCrm"
    };
    let (l, r) = after_conflict(&w, &c.id, &rid);
    assert_eq!(l.as_deref(), Some(expected));
    assert_eq!(r.as_deref(), Some(expected));
    w.assert_sync_writes_nothing();
}

pub fn manual_holds_the_field_until_one_side_takes_the_others_value<C: TestCrm>() {
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

const MANUAL_LAST_NAME: &str = "[policies.contact]\nlast_name = \"manual\"\n";

/// No overlap: the change feed does not read a record again (as when a policy is changed
/// more than the overlap after a conflict was found).
const NO_OVERLAP: &str = "[sync]\noverlap_secs = 0\n";

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

pub fn a_conflict_resolved_with_the_local_value_stays_resolved_when_the_crm_sends_the_record_again<
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

pub fn taking_the_remote_value_never_pushes_one_the_crm_changed_since<C: TestCrm>() {
    for now in ["Newest", "", "Original"] {
        let w = Synced::<C>::with(MANUAL_LAST_NAME);
        if now.is_empty() && !w.crm.can_clear(Contact, "last_name") {
            // A CRM that requires a contact's last name (Salesforce) has no user clear it.
            continue;
        }
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

pub fn a_held_conflict_is_decided_by_the_policy_that_replaced_manual<C: TestCrm>() {
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

pub fn a_held_conflict_on_a_field_made_one_way_is_decided_by_its_direction<C: TestCrm>() {
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

pub fn a_held_conflict_on_a_field_no_longer_synced_is_closed_with_the_reason<C: TestCrm>() {
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

pub fn a_held_conflict_of_a_removed_connection_is_closed_with_the_reason<C: TestCrm>() {
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
