//! Records moving while a read pages through them, by crmsync's own writes or a user's edit
//! between two pages, and a CRM clock off crmsync's.

use super::*;

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

pub fn a_first_sync_reads_every_contact_while_its_own_writes_move_them_between_pages<C: TestCrm>() {
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
    let report = w.sync_json();
    assert_eq!(object_report(&report, "contact")["failed"], 0, "{report}");
    w.assert_every_contact_local(500);
}

pub fn a_users_edit_between_two_pages_of_a_first_sync_loses_no_contact<C: TestCrm>() {
    let w = Synced::<C>::paged(40);
    let ids = seed_old(&w, 300);
    // Before the second page, a user edits a contact of the first page.
    w.crm
        .edit_before_page(2, Contact, &ids[3], &[("first_name", "Edited")]);
    w.sync_json();
    w.assert_every_contact_local(300);
    assert_eq!(
        local_first_name(&w, &remote_email(&w, &ids[3])).as_deref(),
        Some("Edited")
    );
}

pub fn a_users_edit_between_two_pages_of_a_delta_sync_loses_no_change<C: TestCrm>() {
    let w = Synced::<C>::paged(40);
    let ids = seed_old(&w, 300);
    w.sync_json();
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
    w.sync_json();
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

/// Sets the CRM's clock `offset_ms` off the real one.
fn skew<C: TestCrm>(w: &Synced<C>, offset_ms: i64) {
    w.crm.set_clock_ms(now_ms() + offset_ms);
}

fn warnings(report: &Value) -> String {
    report["connections"][0]["warnings"].to_string()
}

/// Runs `sync --json` with the CRM's clock off by more than the overlap: the run finishes,
/// says so, and exits 3 with the skew in its report.
fn skewed_sync<C: TestCrm>(w: &Synced<C>) -> Value {
    let run = w.run(&["sync", "--json"]);
    run.expect_code(3);
    let report = run.json();
    let skew = &report["connections"][0]["clock_skew"];
    assert!(
        skew["skew_ms"].as_i64().unwrap().abs() > 300_000,
        "{report}"
    );
    assert_eq!(skew["overlap_secs"], 300, "{report}");
    report
}

pub fn with_the_crms_clock_an_hour_behind_its_edits_after_a_sync_are_read<C: TestCrm>() {
    let w = Synced::<C>::start();
    skew(&w, -3_600_000);
    let ids = seed_old(&w, 5);
    skewed_sync(&w);
    let email = remote_email(&w, &ids[1]);
    w.crm.edit(Contact, &ids[1], &[("first_name", "Later")]);
    let report = skewed_sync(&w);
    assert_eq!(local_first_name(&w, &email).as_deref(), Some("Later"));
    assert!(warnings(&report).contains("behind"), "{report}");
}

pub fn with_the_crms_clock_an_hour_ahead_newest_wins_takes_the_later_local_edit<C: TestCrm>() {
    let w = Synced::<C>::start();
    skew(&w, 3_600_000);
    let ids = seed_old(&w, 5);
    skewed_sync(&w);
    let email = remote_email(&w, &ids[1]);
    // Edited in the CRM first (stamped an hour ahead), then locally, more than the skew's
    // precision (the `Date` header's whole seconds) later.
    w.crm.edit(Contact, &ids[1], &[("first_name", "Remote")]);
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    let local = local_by_email(&w, &email).expect("a local contact with that email");
    w.edit_local(&local.id, &[("first_name", "Local")]);
    let report = skewed_sync(&w);
    assert_eq!(local_first_name(&w, &email).as_deref(), Some("Local"));
    assert!(warnings(&report).contains("ahead of"), "{report}");
    assert_eq!(
        w.crm.record(Contact, &ids[1]).get("first_name"),
        Some("Local")
    );
}
