//! `crmsync mappings check` against the Pipedrive sandbox: custom fields found by their name
//! (never by the 40-character key), a field missing in Pipedrive, a field of options mapped to
//! free text (named with its options), a field Pipedrive keeps itself mapped to be written.

mod common;

use common::crm::{CONN, Synced, TestCrm, contact};
use common::pipedrive::PipedriveCrm;
use crmsync::model::ObjectKind::Contact;
use serde_json::{Value, json};

/// The check's row for the local field `local`.
fn row<'a>(rows: &'a [Value], local: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["field"] == local)
        .unwrap_or_else(|| panic!("no row for `{local}` in {rows:#?}"))
}

#[test]
fn mappings_check_names_missing_fields_options_and_fields_pipedrive_keeps() {
    let w = Synced::<PipedriveCrm>::start();
    w.crm
        .sandbox
        .add_field(
            "persons",
            &json!({ "name": "Tier", "field_type": "enum", "options": [{ "label": "Gold" }, { "label": "Silver" }] }),
        )
        .unwrap();
    w.crm
        .sandbox
        .add_field(
            "persons",
            &json!({ "name": "Interests", "field_type": "set", "options": [{ "label": "Golf" }, { "label": "Chess" }] }),
        )
        .unwrap();
    w.config(
        "",
        &format!(
            r#"
[[connections.{CONN}.fields]]
object = "contact"
local = "custom.tier"
remote = "Tier"

[[connections.{CONN}.fields]]
object = "contact"
local = "custom.interests"
remote = "Interests"

[[connections.{CONN}.fields]]
object = "contact"
local = "custom.shoe_size"
remote = "Shoe size"

[[connections.{CONN}.fields]]
object = "contact"
local = "custom.added"
remote = "add_time"
"#
        ),
    );
    let run = w.run(&["mappings", "check", "-c", CONN, "--json"]);
    // A missing field and a read-only one mapped to be written are problems.
    run.expect_code(1);
    let v = run.json();
    let rows: Vec<Value> = v["mappings"]
        .as_array()
        .or_else(|| v.as_array())
        .unwrap_or_else(|| panic!("{v:#}"))
        .clone();
    let note = |local: &str| {
        row(&rows, local)["check"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(note("custom.shoe_size").contains("missing"), "{rows:#?}");
    assert!(
        note("custom.tier").contains("Gold, Silver"),
        "options by label: {rows:#?}"
    );
    assert!(
        note("custom.interests").contains("Golf, Chess"),
        "{rows:#?}"
    );
    assert!(note("custom.added").contains("read-only"), "{rows:#?}");
    // The built-in mappings and the fields setup created are in order.
    assert_eq!(note("pronouns"), "ok", "{rows:#?}");
    assert_eq!(note("email"), "ok", "{rows:#?}");
}

/// Maps `custom.shoe_size` to the Pipedrive field named `Shoe size` and saves contact 1 with
/// shoe size 42.
fn with_shoe_size(w: &Synced<PipedriveCrm>) -> crmsync::model::Record {
    w.config(
        "",
        &format!(
            "[[connections.{CONN}.fields]]\nobject = \"contact\"\nlocal = \"custom.shoe_size\"\nremote = \"Shoe size\"\n"
        ),
    );
    let mut c = contact(1);
    c.fields.insert("custom.shoe_size".into(), "42".into());
    w.save_local(std::slice::from_ref(&c));
    c
}

#[test]
fn a_mapped_field_pipedrive_does_not_have_is_skipped_with_one_warning_and_the_rest_syncs() {
    let w = Synced::<PipedriveCrm>::start();
    let c = with_shoe_size(&w);
    let run = w.sync();
    run.ok();
    let warning = "has no field `Shoe size`";
    assert_eq!(run.stderr.matches(warning).count(), 1, "{}", run.stderr);
    // The rest of the contact is in Pipedrive, and the local value is kept.
    let rid = w.remote_id(Contact, &c.id);
    assert_eq!(w.crm.record(Contact, &rid).get("email"), c.get("email"));
    assert_eq!(w.local_record(&c.id).get("custom.shoe_size"), Some("42"));
    // Every run says it again, once, and writes nothing.
    let again = w.sync();
    again.ok();
    assert_eq!(again.stderr.matches(warning).count(), 1, "{}", again.stderr);
    w.assert_sync_writes_nothing();
}

#[test]
fn a_mapped_field_deleted_in_pipedrive_is_skipped_with_one_warning_a_run_and_the_rest_syncs() {
    let w = Synced::<PipedriveCrm>::start();
    let key = w
        .crm
        .sandbox
        .add_field(
            "persons",
            &json!({"name": "Shoe size", "field_type": "varchar"}),
        )
        .unwrap();
    let c = with_shoe_size(&w);
    w.sync().ok();
    let rid = w.remote_id(Contact, &c.id);
    assert_eq!(w.crm.record(Contact, &rid).get("Shoe size"), Some("42"));
    // An admin deletes the field in Pipedrive while it is mapped; then each side edits
    // another field.
    w.crm.sandbox.delete_field("persons", &key).unwrap();
    w.crm.tick();
    w.crm.edit(Contact, &rid, &[("phone", "+15550001111")]);
    w.edit_local(&c.id, &[("job_title", "Cobbler")]);
    let run = w.sync();
    run.ok();
    let warning = "has no field `Shoe size`";
    assert_eq!(run.stderr.matches(warning).count(), 1, "{}", run.stderr);
    // The rest synced both ways, and the local value is kept, not cleared.
    let local = w.local_record(&c.id);
    assert_eq!(local.get("phone"), Some("+15550001111"));
    assert_eq!(local.get("custom.shoe_size"), Some("42"));
    assert_eq!(
        w.crm.record(Contact, &rid).get("job_title"),
        Some("Cobbler")
    );
    // Every run says it again, once, and writes nothing.
    let again = w.sync();
    again.ok();
    assert_eq!(again.stderr.matches(warning).count(), 1, "{}", again.stderr);
    w.assert_sync_writes_nothing();
}

/// What a Pipedrive call costs of the day's token budget (the v1 and v2 specs' `x-token-cost`).
fn token_cost(method: &str, path: &str) -> u64 {
    let path = path.split('?').next().unwrap_or(path);
    match (method, path) {
        ("GET", p) if p.ends_with("/search") => 20,
        ("GET", p) if p.starts_with("/api/v2/") && p.matches('/').count() == 3 => 10,
        ("GET", p) if p.starts_with("/api/v2/") => 1,
        ("GET", p) if p.starts_with("/api/v1/") && p.matches('/').count() == 3 => 20,
        ("GET", _) => 2,
        ("DELETE", _) => 3,
        _ => 5,
    }
}

/// A run with nothing to do reads the lists and the change log, and no field catalogue: the
/// catalogue read within the day is kept in the state file, as HubSpot's is.
#[test]
fn a_no_op_run_reads_no_field_catalogue() {
    let w = Synced::<PipedriveCrm>::start();
    w.save_local(&[contact(1), contact(2)]);
    w.sync().ok();
    w.sync().ok();
    w.crm.clear_request_log();
    w.sync().ok();
    let calls: Vec<(String, String)> = w
        .crm
        .sandbox
        .request_log()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    let tokens: u64 = calls.iter().map(|(m, p)| token_cost(m, p)).sum();
    eprintln!(
        "a no-op run: {} calls, {tokens} tokens: {calls:#?}",
        calls.len()
    );
    assert!(
        !calls.iter().any(|(_, p)| p.contains("Fields")),
        "{calls:#?}"
    );
    assert!(calls.iter().all(|(m, _)| m == "GET"), "{calls:#?}");
}

/// A mapped custom field whose hashed key changes in Pipedrive (an admin deletes it and adds
/// one of the same name) is found by its name again: within the day the catalogue is kept,
/// and a record showing the new key has it read again, so the value in the new field comes in
/// and a local edit goes out to it.
#[test]
fn a_custom_field_is_found_by_name_after_its_hashed_key_changes() {
    let w = Synced::<PipedriveCrm>::start();
    let mut c = contact(1);
    c.fields.insert("job_title".into(), "Baker".into());
    w.save_local(std::slice::from_ref(&c));
    w.sync().ok();
    w.sync().ok();
    let rid = w.remote_id(Contact, &c.id);
    assert_eq!(w.crm.record(Contact, &rid).get("job_title"), Some("Baker"));
    let old = w.crm.sandbox.custom_field_keys("persons")["job_title"].clone();
    w.crm.sandbox.delete_field("persons", &old).unwrap();
    let new = w
        .crm
        .sandbox
        .add_field(
            "persons",
            &json!({"name": "job_title", "field_type": "varchar"}),
        )
        .unwrap();
    assert_ne!(old, new);
    w.crm.tick();
    w.crm.edit(Contact, &rid, &[("job_title", "Brewer")]);
    let run = w.sync();
    run.ok();
    assert!(!run.stderr.contains("has no field"), "{}", run.stderr);
    assert_eq!(w.local_record(&c.id).get("job_title"), Some("Brewer"));
    w.edit_local(&c.id, &[("job_title", "Chef")]);
    w.sync().ok();
    assert_eq!(w.crm.record(Contact, &rid).get("job_title"), Some("Chef"));
    w.assert_sync_writes_nothing();
}
