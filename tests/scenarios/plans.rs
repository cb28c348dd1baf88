//! Dry runs, saved plans carried out later, the archive gate, and the exit code of a held
//! conflict.

use super::*;

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

/// Meanwhile in the CRM: C is edited and N created; ten minutes later D is edited (so that
/// C and N are older than the change feed's overlap behind the newest change). Returns N's
/// CRM id. The CRM's clock is then ten minutes ahead of crmsync's, more than the overlap, so
/// the runs after it finish with exit code 3 saying so.
fn crm_changes_meanwhile<C: TestCrm>(w: &Synced<C>, c_rid: &str, d_rid: &str) -> String {
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
    n_rid
}

/// The next sync brings what [`crm_changes_meanwhile`] did in the CRM.
fn next_sync_brings_the_crm_changes<C: TestCrm>(
    w: &Synced<C>,
    c: &RecordId,
    d: &RecordId,
    n_rid: &str,
) {
    w.sync().expect_code(3);
    assert_eq!(
        w.local_record(c).get("job_title"),
        Some("Edited In The CRM")
    );
    assert_eq!(w.local_record(d).get("job_title"), Some("Later Edit"));
    let n = w.local_for(Contact, n_rid);
    assert_eq!(n.get("first_name"), Some("Newcomer"));
}

pub fn apply_leaves_crm_changes_outside_the_plan_to_the_next_sync<C: TestCrm>() {
    let w = Synced::<C>::start();
    let (people, plan) = planned_edit(&w);
    let l_rid = &people[0].1;
    let (c, c_rid) = &people[1];
    let (d, d_rid) = &people[2];
    let n_rid = crm_changes_meanwhile(&w, c_rid, d_rid);

    let applied = w.run(&["apply", &plan, "--json"]);
    applied.expect_code(3);
    let applied = applied.json();
    // Only the planned record was carried out, and none of the records the CRM changed is
    // said to be planned again: apply did not touch them.
    assert_eq!(applied["replanned"], serde_json::json!({}), "{applied:#}");
    assert_eq!(crm_last_name(&w, l_rid).as_deref(), Some("Planned"));
    assert_eq!(w.local_record(c).get("job_title"), None);
    next_sync_brings_the_crm_changes(&w, c, d, &n_rid);
}

pub fn import_to_a_connection_leaves_crm_changes_outside_its_records_to_the_next_sync<
    C: TestCrm,
>() {
    let w = Synced::<C>::start();
    let people: Vec<Record> = (0..3).map(person).collect();
    w.save_local(&people);
    w.sync().ok();
    let (c, d) = (&people[1].id, &people[2].id);
    let n_rid = crm_changes_meanwhile(&w, &w.remote_id(Contact, c), &w.remote_id(Contact, d));

    // An import pushing one changed and one new contact straight on.
    w.env.write(
        "people.csv",
        "email,first_name,last_name\nperson0@example.org,Person0,Imported\nfresh@example.org,Fresh,Imported\n",
    );
    let run = w.run(&["import", "people.csv", "--to", w.conn]);
    run.expect_code(3);
    assert!(run.stderr.contains("clock is"), "{}", run.stderr);
    let l_rid = w.remote_id(Contact, &people[0].id);
    assert_eq!(crm_last_name(&w, &l_rid).as_deref(), Some("Imported"));
    let fresh = w.crm.live(Contact);
    assert!(
        fresh
            .iter()
            .any(|r| r.get("email") == Some("fresh@example.org")),
        "the new contact was pushed"
    );
    // Only the file's records: the CRM's changes to others wait for `sync`.
    assert_eq!(w.local_record(c).get("job_title"), None);
    assert_eq!(w.local_record(d).get("job_title"), None);
    next_sync_brings_the_crm_changes(&w, c, d, &n_rid);
}

pub fn apply_plans_again_and_lists_a_record_changed_locally_after_the_plan<C: TestCrm>() {
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

pub fn apply_lists_a_planned_record_the_crm_changed_after_the_plan<C: TestCrm>() {
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

/// A local contact with only an email, a first name and a last name (which a Salesforce
/// Contact must have), last changed long ago.
fn plain_contact(email: &str, first: &str) -> Record {
    let mut c = record(
        Contact,
        &[
            ("email", email),
            ("first_name", first),
            ("last_name", "Plain"),
        ],
    );
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

pub fn dry_run_prints_the_plan_field_by_field_and_writes_nothing<C: TestCrm>() {
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

pub fn a_dry_run_plans_a_record_changed_on_both_sides_once<C: TestCrm>() {
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

pub fn a_run_reports_the_counts_its_dry_run_reported<C: TestCrm>() {
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

pub fn a_dry_run_without_a_state_file_plans_and_leaves_no_file<C: TestCrm>() {
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

pub fn a_saved_plan_is_applied_and_a_record_that_moved_is_planned_again<C: TestCrm>() {
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
pub fn an_applied_plan_leaves_no_local_change_waiting<C: TestCrm>() {
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

pub fn archiving_most_linked_records_stops_at_the_gate_with_exit_4_until_forced<C: TestCrm>() {
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

pub fn archives_in_several_rounds_are_measured_against_the_links_still_live<C: TestCrm>() {
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

pub fn a_dry_run_stopped_at_the_gate_shows_what_it_held_back_and_not_nothing_to_do<C: TestCrm>() {
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

pub fn a_held_conflict_keeps_the_exit_code_at_3_until_it_is_resolved<C: TestCrm>() {
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
