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
