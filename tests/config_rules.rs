//! `create_when` rules as the README writes them, checked when the config loads: a bad rule
//! stops every command with the file, line and column before anything is sent or written.

mod common;

use common::TestEnv;
use crmsync::model::{Fields, ObjectKind, Record, RecordId};
use crmsync::sandbox::Sandbox;
use crmsync::store::{Store, WriteOrigin};

fn env_for(sandbox: &Sandbox) -> TestEnv {
    let mut env = TestEnv::new();
    env.remove_env("CRMSYNC_TEST_NOW");
    env.set_env("CRMSYNC_TOKEN_ACME", &sandbox.token());
    env
}

/// The README's configuration example as written, pointed at the sandbox, with `rule` in
/// place of its connection-wide `create_when`.
fn readme_config(sandbox: &Sandbox, rule: &str) -> String {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let block = readme
        .split("## Configuration")
        .nth(1)
        .and_then(|s| s.split("```toml\n").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("the README's configuration example");
    assert!(block.contains("create_when = \"warmness >= 4\""), "{block}");
    block
        .replace(
            "provider = \"hubspot\"\n",
            &format!(
                "provider = \"hubspot\"\nbase_url = \"{}\"\n",
                sandbox.base_url()
            ),
        )
        .replace(
            "create_when = \"warmness >= 4\"",
            &format!("create_when = \"{rule}\""),
        )
}

fn contact(email: &str, warmness: &str) -> Record {
    let mut fields = Fields::new();
    fields.insert("email".into(), email.into());
    fields.insert("warmness".into(), warmness.into());
    Record {
        id: RecordId::new(),
        kind: ObjectKind::Contact,
        fields,
        updated_at: 1,
        archived_at: None,
    }
}

fn company(name: &str, domain: &str) -> Record {
    let mut fields = Fields::new();
    fields.insert("name".into(), name.into());
    if !domain.is_empty() {
        fields.insert("domain".into(), domain.into());
    }
    Record {
        id: RecordId::new(),
        kind: ObjectKind::Company,
        fields,
        updated_at: 1,
        archived_at: None,
    }
}

fn remote_emails(sandbox: &Sandbox) -> Vec<String> {
    let dump = sandbox.dump();
    let mut emails: Vec<String> = dump["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["properties"]["email"].as_str().map(str::to_string))
        .collect();
    emails.sort();
    emails
}

#[test]
fn the_readme_rules_create_warm_contacts_and_companies_with_a_domain() {
    let sandbox = common::fast_sandbox();
    let env = env_for(&sandbox);
    env.write_config(&readme_config(&sandbox, "warmness >= 4"));
    env.run(&["mappings", "setup", "-c", "acme"]).ok();
    let mut store = Store::open(&env.state_path()).unwrap();
    store
        .save_records(
            &[
                contact("warm@example.com", "5"),
                contact("cold@example.com", "2"),
                company("Acme Ltd", "acme.example"),
                company("No Domain Ltd", ""),
            ],
            &WriteOrigin::User,
        )
        .unwrap();
    drop(store);
    env.run(&["sync", "--dry-run"]).ok();
    env.run(&["sync"]).ok();
    assert_eq!(
        remote_emails(&sandbox),
        vec!["warm@example.com".to_string()]
    );
    // The connection-wide rule is about contacts; companies follow their own table's rule.
    let companies: Vec<String> = sandbox.dump()["companies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["properties"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(companies, vec!["Acme Ltd".to_string()]);
}

#[test]
fn a_rule_under_its_object_table_applies_to_that_object() {
    let sandbox = common::fast_sandbox();
    let env = env_for(&sandbox);
    env.write_config(&format!(
        "[connections.acme]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n\n[connections.acme.contact]\ncreate_when = \"warmness >= 4\"\n",
        sandbox.base_url()
    ));
    env.run(&["mappings", "setup", "-c", "acme"]).ok();
    let mut store = Store::open(&env.state_path()).unwrap();
    store
        .save_records(
            &[
                contact("warm@example.com", "4"),
                contact("cold@example.com", ""),
            ],
            &WriteOrigin::User,
        )
        .unwrap();
    drop(store);
    env.run(&["sync"]).ok();
    assert_eq!(
        remote_emails(&sandbox),
        vec!["warm@example.com".to_string()]
    );
}

#[test]
fn a_malformed_rule_is_refused_at_load_with_its_place_before_any_request() {
    let sandbox = common::fast_sandbox();
    let env = env_for(&sandbox);
    env.write_config(&readme_config(&sandbox, "warmness >>= 4"));
    sandbox.clear_request_log();
    for args in [&["sync"][..], &["sync", "--dry-run"], &["status"]] {
        let run = env.run(args);
        run.expect_code(2);
        // Line 10 of the file; the rule starts at column 16, and `>=` is its 11th character.
        assert!(
            run.stderr.contains("line 10, column 26"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("config.toml"), "{}", run.stderr);
        assert!(
            run.stderr
                .contains("`connections.acme.create_when` (`warmness >>= 4`): expected a field or a value, found `>=`"),
            "{}",
            run.stderr
        );
    }
    assert!(sandbox.request_log().is_empty());
    assert!(!env.state_path().exists(), "nothing is written");
}

#[test]
fn a_rule_that_fits_no_single_object_says_how_to_rewrite_it() {
    let sandbox = common::fast_sandbox();
    let env = env_for(&sandbox);
    env.write_config(&readme_config(&sandbox, "custom.tier == 'gold'"));
    let run = env.run(&["sync"]);
    run.expect_code(2);
    assert!(run.stderr.contains("line 10, column 16"), "{}", run.stderr);
    assert!(
        run.stderr.contains("`[connections.acme.contact]`"),
        "{}",
        run.stderr
    );
    assert!(!env.state_path().exists());
}
