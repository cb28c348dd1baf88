//! `crmsync records list|show|set|archive`, run as users run them, with bad input refused
//! and the store left as it was.

mod common;

use common::TestEnv;
use common::crm::{HubSpotCrm, Synced, TestCrm, contact};
use crmsync::model::ObjectKind::Contact;
use serde_json::Value;

const CONTACTS: &str = "\
email,first_name,last_name,phone,warmness
ann@example.com,Ann,Lee,+44 20 7946 0000,5
bob@example.com,Bob,Stone,,2
";

const COMPANIES: &str = "\
name,domain
Acme,acme.example
";

/// Two contacts and a company imported; no connection configured.
fn seeded() -> TestEnv {
    let env = TestEnv::new();
    env.write("contacts.csv", CONTACTS);
    env.write("companies.csv", COMPANIES);
    env.run(&["import", "contacts.csv"]).ok();
    env.run(&["import", "companies.csv", "--object", "company"])
        .ok();
    env
}

fn emails(listed: &Value) -> Vec<String> {
    let mut out: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["fields"]["email"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

// ---- list --------------------------------------------------------------------------------

#[test]
fn list_shows_every_record_as_a_table_and_as_json() {
    let env = seeded();
    let run = env.run(&["records", "list"]);
    run.ok();
    for text in [
        "Ann Lee <ann@example.com>",
        "Bob Stone",
        "Acme",
        "local-only",
    ] {
        assert!(run.stdout.contains(text), "{text}: {}", run.stdout);
    }
    let listed = env.run(&["records", "list", "--json"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed:#}");
    assert_eq!(listed[0]["kind"], "company");
    assert_eq!(listed[1]["connections"][0]["state"], "local-only");
}

#[test]
fn list_filters_by_object_expression_time_and_limit() {
    let env = seeded();
    let json = |args: &[&str]| {
        let mut all = vec!["records", "list", "--json"];
        all.extend_from_slice(args);
        env.run(&all).json()
    };
    let contacts = json(&["--object", "contact"]);
    assert_eq!(emails(&contacts), ["ann@example.com", "bob@example.com"]);
    assert_eq!(contacts.as_array().unwrap().len(), 2);
    let warm = json(&["--where", "warmness >= 4"]);
    assert_eq!(emails(&warm), ["ann@example.com"]);
    assert_eq!(warm.as_array().unwrap().len(), 1, "{warm:#}");
    let no_phone = json(&[
        "--object",
        "contact",
        "--where",
        "not phone and last_name == 'Stone'",
    ]);
    assert_eq!(emails(&no_phone), ["bob@example.com"]);
    // The clock of the tests stands at 2026-01-15 12:00Z, when the records were imported.
    assert_eq!(
        json(&["--changed-since", "2h"]).as_array().unwrap().len(),
        3
    );
    assert_eq!(
        json(&["--changed-since", "2026-01-15T11:59:00Z"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        json(&["--changed-since", "2026-01-16T00:00:00+01:00"]),
        serde_json::json!([])
    );
    assert_eq!(json(&["--limit", "1"]).as_array().unwrap().len(), 1);
    let run = env.run(&["records", "list", "--limit", "2"]);
    run.ok();
    assert!(run.stderr.contains("--limit"), "{}", run.stderr);
}

#[test]
fn list_by_state_reads_each_connections_state() {
    let env = seeded();
    env.write_config("[connections.acme]\nprovider = \"hubspot\"\n");
    let pending = env
        .run(&[
            "records",
            "list",
            "--sync-state",
            "pending",
            "-c",
            "acme",
            "--json",
        ])
        .json();
    assert_eq!(pending.as_array().unwrap().len(), 3, "{pending:#}");
    assert_eq!(pending[0]["connections"][0]["connection"], "acme");
    let synced = env
        .run(&["records", "list", "--sync-state", "synced", "--json"])
        .json();
    assert_eq!(synced, serde_json::json!([]));
    let run = env.run(&["records", "list", "--sync-state", "pending"]);
    run.ok();
    assert!(run.stdout.contains("acme: pending"), "{}", run.stdout);
}

#[test]
fn a_bad_filter_is_refused_with_its_column() {
    let env = seeded();
    let run = env.run(&["records", "list", "--where", "warmness >= "]);
    run.expect_code(2);
    assert!(run.stderr.contains("column 13"), "{}", run.stderr);
    assert!(run.stderr.contains("--where"), "{}", run.stderr);
    let run = env.run(&["records", "list", "--where", "email and colour == 'red'"]);
    run.expect_code(2);
    assert!(run.stderr.contains("column 11"), "{}", run.stderr);
    assert!(run.stderr.contains("`colour`"), "{}", run.stderr);
    // With no state file yet, the filter is still checked.
    let empty = TestEnv::new();
    empty
        .run(&["records", "list", "--where", "(email"])
        .expect_code(2);
    empty.run(&["records", "list", "--where", "email"]).ok();
}

#[test]
fn list_refuses_an_unknown_object_state_connection_or_time() {
    let env = seeded();
    let run = env.run(&["records", "list", "--object", "lead"]);
    run.expect_code(2);
    assert!(run.stderr.contains("contact"), "{}", run.stderr);
    env.run(&["records", "list", "--sync-state", "lost"])
        .expect_code(2);
    let run = env.run(&["records", "list", "-c", "nowhere"]);
    run.expect_code(2);
    assert!(run.stderr.contains("`nowhere`"), "{}", run.stderr);
    let run = env.run(&["records", "list", "--changed-since", "yesterday"]);
    run.expect_code(2);
    assert!(run.stderr.contains("RFC 3339"), "{}", run.stderr);
}

// ---- show --------------------------------------------------------------------------------

#[test]
fn show_gives_fields_links_and_the_latest_audit() {
    let env = seeded();
    env.write_config("[connections.acme]\nprovider = \"hubspot\"\n");
    env.run(&["records", "set", "ann@example.com", "job_title=CTO"])
        .ok();
    let run = env.run(&["records", "show", "ann@example.com"]);
    run.ok();
    for text in [
        "contact",
        "first_name",
        "Ann",
        "acme",
        "pending",
        "job_title",
        "CTO",
        "user",
    ] {
        assert!(run.stdout.contains(text), "{text}: {}", run.stdout);
    }
    let shown = env
        .run(&["records", "show", "ann@example.com", "--json"])
        .json();
    assert_eq!(shown["fields"]["job_title"], "CTO");
    assert_eq!(shown["connections"][0]["state"], "pending");
    assert_eq!(shown["audit"][0]["field"], "job_title");
    assert_eq!(shown["audit"][0]["cause"], "user");
}

#[test]
fn show_of_an_unknown_record_says_how_records_are_named() {
    let env = seeded();
    let run = env.run(&["records", "show", "nobody@example.com"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("no record `nobody@example.com`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    let run = TestEnv::new().run(&["records", "show", "ann@example.com"]);
    run.expect_code(1);
    assert!(run.stderr.contains("no state file"), "{}", run.stderr);
}

// ---- set and archive ---------------------------------------------------------------------

#[test]
fn set_edits_fields_as_a_user_and_clears_an_empty_one() {
    let env = seeded();
    let run = env.run(&[
        "records",
        "set",
        "ann@example.com",
        "job_title=CTO",
        "phone=",
        "email=Ann@Example.com",
    ]);
    run.ok();
    assert!(run.stdout.contains("CTO"), "{}", run.stdout);
    assert!(run.stderr.contains("crmsync sync"), "{}", run.stderr);
    let shown = env
        .run(&["records", "show", "ann@example.com", "--json"])
        .json();
    assert_eq!(shown["fields"]["job_title"], "CTO");
    assert!(shown["fields"].get("phone").is_none(), "{shown:#}");
    // The email is normalised, so it does not change.
    assert_eq!(shown["fields"]["email"], "ann@example.com");
    let again = env.run(&[
        "records",
        "set",
        "ann@example.com",
        "job_title=CTO",
        "--json",
    ]);
    again.ok();
    assert_eq!(again.json()["changed"], serde_json::json!({}));
    let run = env.run(&["records", "set", "ann@example.com", "job_title=CTO"]);
    assert!(run.stderr.contains("nothing changed"), "{}", run.stderr);
}

#[test]
fn set_refuses_an_unknown_field_a_bad_value_or_a_bad_pair_and_writes_nothing() {
    let env = seeded();
    let before = env
        .run(&["records", "show", "ann@example.com", "--json"])
        .json();
    let run = env.run(&["records", "set", "ann@example.com", "colour=red"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("`colour` is not a contact field"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("custom.NAME"), "{}", run.stderr);
    let run = env.run(&["records", "set", "ann@example.com", "email=not an email"]);
    run.expect_code(2);
    assert!(run.stderr.contains("`email`"), "{}", run.stderr);
    let run = env.run(&["records", "set", "ann@example.com", "job_title"]);
    run.expect_code(2);
    assert!(run.stderr.contains("FIELD=VALUE"), "{}", run.stderr);
    let run = env.run(&[
        "records",
        "set",
        "ann@example.com",
        "company_id=01J5Z3Q9R8X7W6V5T4S3R2Q1P0",
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("no live company"), "{}", run.stderr);
    env.run(&["records", "set", "nobody@example.com", "job_title=x"])
        .expect_code(1);
    let after = env
        .run(&["records", "show", "ann@example.com", "--json"])
        .json();
    assert_eq!(before, after);
}

#[test]
fn archive_archives_once_and_an_archived_record_is_not_edited() {
    let env = seeded();
    let run = env.run(&["records", "archive", "bob@example.com", "--json"]);
    run.ok();
    assert_eq!(run.json()["kind"], "contact");
    let run = env.run(&["records", "archive", "bob@example.com"]);
    run.expect_code(2);
    assert!(run.stderr.contains("is archived"), "{}", run.stderr);
    assert!(run.stderr.contains("records restore"), "{}", run.stderr);
    let run = env.run(&["records", "set", "bob@example.com", "job_title=x"]);
    run.expect_code(2);
    assert!(run.stderr.contains("is archived"), "{}", run.stderr);
    let listed = env.run(&["records", "list", "--object", "contact"]);
    assert!(listed.stdout.contains("(archived)"), "{}", listed.stdout);
    env.run(&["records", "restore", "bob@example.com"]).ok();
    env.run(&["records", "set", "bob@example.com", "job_title=x"])
        .ok();
}

// ---- against a CRM -----------------------------------------------------------------------

#[test]
fn set_refuses_a_value_the_crms_dropdown_does_not_take_and_sync_carries_an_edit() {
    let w = Synced::<HubSpotCrm>::start();
    let choice = w.crm.choice_field(w.conn);
    let ann = contact(1);
    w.save_local(std::slice::from_ref(&ann));
    w.sync().ok();
    let email = ann.fields["email"].clone();
    let run = w.run(&[
        "records",
        "set",
        &email,
        &format!("{}={}", choice.local, choice.bad),
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains(choice.bad), "{}", run.stderr);
    assert!(run.stderr.contains("Customer"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("`{}`", w.conn)),
        "{}",
        run.stderr
    );

    w.run(&[
        "records",
        "set",
        &email,
        &format!("{}={}", choice.local, choice.good),
        "job_title=CTO",
    ])
    .ok();
    let listed = w
        .run(&["records", "list", "--sync-state", "pending", "--json"])
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed:#}");
    w.sync().ok();
    let rid = w.remote_id(Contact, &ann.id);
    assert_eq!(w.crm.record(Contact, &rid).get("job_title"), Some("CTO"));
    let synced = w
        .run(&["records", "list", "--sync-state", "synced", "--json"])
        .json();
    assert_eq!(synced.as_array().unwrap().len(), 1, "{synced:#}");

    w.run(&["records", "archive", &email]).ok();
    // The only linked contact: the archive gate asks for `--force`.
    w.run(&["sync", "--force"]).ok();
    assert!(w.crm.live(Contact).is_empty());
}
