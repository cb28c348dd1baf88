//! Links belong to a CRM account, not to a connection name: a connection pointed at another
//! HubSpot portal is stopped before it writes there, two connections to one portal are
//! refused, and a renamed connection keeps its links. Run as a user runs them, against
//! sandboxes that play different portals.

mod common;

use common::TestEnv;
use crmsync::model::{Fields, ObjectKind, Record, RecordId};
use crmsync::sandbox::{Sandbox, SandboxOptions};
use crmsync::store::{Store, WriteOrigin};
use serde_json::Value;

/// A sandbox HubSpot playing portal `hub_id`, with limits no test reaches.
fn portal(hub_id: u64) -> Sandbox {
    Sandbox::start(SandboxOptions {
        rate_limit: (1_000_000, 10_000),
        search_per_second: 0,
        daily_limit: 100_000_000,
        hub_id: Some(hub_id),
        ..SandboxOptions::default()
    })
    .expect("start the sandbox")
}

/// A crmsync environment whose config has these connections, each pointed at its sandbox
/// with its token in `CRMSYNC_TOKEN_<NAME>`.
fn env_with(connections: &[(&str, &Sandbox)]) -> TestEnv {
    let mut env = TestEnv::new();
    env.remove_env("CRMSYNC_TEST_NOW");
    configure(&mut env, connections);
    env
}

/// Writes the config anew with these connections (and their tokens).
fn configure(env: &mut TestEnv, connections: &[(&str, &Sandbox)]) {
    let mut config = String::new();
    for (name, sandbox) in connections {
        config.push_str(&format!(
            "[connections.{name}]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n\n",
            sandbox.base_url()
        ));
        env.set_env(
            &format!("CRMSYNC_TOKEN_{}", name.to_ascii_uppercase()),
            &sandbox.token(),
        );
    }
    env.write_config(&config);
}

fn record(kind: ObjectKind, pairs: &[(&str, &str)]) -> Record {
    Record {
        id: RecordId::new(),
        kind,
        fields: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Fields>(),
        updated_at: chrono::Utc::now().timestamp_millis(),
        archived_at: None,
    }
}

fn save(env: &TestEnv, records: &[Record]) {
    let mut store = Store::open(&env.state_path()).unwrap();
    store.save_records(records, &WriteOrigin::User).unwrap();
}

fn local(env: &TestEnv, kind: ObjectKind) -> Vec<Record> {
    let store = Store::open(&env.state_path()).unwrap();
    let mut out = Vec::new();
    store
        .for_each_record(kind, false, &mut |r| {
            out.push(r);
            Ok(())
        })
        .unwrap();
    out
}

fn remote(sandbox: &Sandbox, plural: &str) -> Vec<Value> {
    sandbox.dump()[plural]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Calls that change something in the CRM (anything but reads and searches).
fn writes(sandbox: &Sandbox) -> Vec<String> {
    common::write_calls(sandbox)
}

/// Three local contacts synced to portal 111 through `hs`; portal 222 holds three unrelated
/// people, made in the same order, so they have the same HubSpot ids as the synced ones.
fn synced_then_repointed(edit_pending: bool) -> (Sandbox, Sandbox, TestEnv, Vec<Record>) {
    let first = portal(111);
    let second = portal(222);
    let mut env = env_with(&[("hs", &first)]);
    env.run(&["mappings", "setup", "-c", "hs"]).ok();
    let people: Vec<Record> = (0..3)
        .map(|i| {
            record(
                ObjectKind::Contact,
                &[
                    ("first_name", &format!("Ours{i}")),
                    ("email", &format!("ours{i}@example.org")),
                ],
            )
        })
        .collect();
    save(&env, &people);
    env.run(&["sync"]).ok();
    for i in 0..3 {
        second
            .create_record(
                "contacts",
                &[
                    ("firstname", &format!("Stranger{i}")),
                    ("email", &format!("stranger{i}@elsewhere.example")),
                ],
            )
            .unwrap();
    }
    let ids = |s: &Sandbox| -> Vec<Value> {
        remote(s, "contacts")
            .iter()
            .map(|c| c["id"].clone())
            .collect()
    };
    assert_eq!(
        ids(&first),
        ids(&second),
        "the two portals use the same ids"
    );
    if edit_pending {
        let mut edited = people[0].clone();
        edited.fields.insert("first_name".into(), "Edited".into());
        edited.updated_at += 1;
        save(&env, &[edited]);
    }
    second.clear_request_log();
    configure(&mut env, &[("hs", &second)]);
    (first, second, env, people)
}

fn assert_strangers_untouched(second: &Sandbox) {
    assert_eq!(writes(second), Vec::<String>::new());
    for (i, c) in remote(second, "contacts").iter().enumerate() {
        assert_eq!(c["properties"]["firstname"], format!("Stranger{i}"), "{c}");
        assert!(
            c["properties"]["crmsync_id"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "{c}"
        );
    }
}

#[test]
fn a_connection_pointed_at_another_portal_is_stopped_before_writing_there() {
    for edit_pending in [false, true] {
        let (_first, second, env, _) = synced_then_repointed(edit_pending);
        for args in [&["sync"][..], &["sync", "--full"], &["sync", "--dry-run"]] {
            let run = env.run(args);
            run.expect_code(2);
            assert!(
                run.stderr.contains(
                    "`hs` now reaches HubSpot account 222, but its 3 links were made in account 111"
                ),
                "{}",
                run.stderr
            );
            assert!(
                run.stderr.contains("crmsync connections forget-links hs"),
                "{}",
                run.stderr
            );
            // Nothing was read: no table, not even an empty one.
            assert!(!run.stdout.contains("CONNECTION"), "{}", run.stdout);
        }
        let listed = env.run(&["--json", "connections"]).json();
        assert_eq!(listed[0]["linked_account"], "111", "{listed}");
        let run = env.run(&["--json", "sync"]);
        run.expect_code(2);
        let stop = &run.json()["connections"][0]["account_stop"];
        assert_eq!(stop["reason"], "account_changed", "{stop}");
        assert_eq!(stop["linked_account"], "111", "{stop}");
        assert_eq!(stop["account"], "222", "{stop}");
        assert_strangers_untouched(&second);
    }
}

#[test]
fn pointed_back_at_its_portal_a_connection_carries_the_held_edit_there() {
    let (first, second, mut env, people) = synced_then_repointed(true);
    env.run(&["sync"]).expect_code(2);
    configure(&mut env, &[("hs", &first)]);
    env.run(&["sync"]).ok();
    let edited: Vec<Value> = remote(&first, "contacts")
        .into_iter()
        .filter(|c| c["properties"]["crmsync_id"] == people[0].id.as_str())
        .collect();
    assert_eq!(edited[0]["properties"]["firstname"], "Edited");
    assert_strangers_untouched(&second);
}

#[test]
fn forget_links_moves_a_connection_to_the_other_portal_by_match_keys() {
    let (first, second, env, people) = synced_then_repointed(true);
    env.run(&["sync"]).expect_code(2);
    let before_first = remote(&first, "contacts");
    // One of ours is in the second portal too: it is linked by email, not created again.
    second
        .create_record(
            "contacts",
            &[("firstname", "Ours1 there"), ("email", "ours1@example.org")],
        )
        .unwrap();

    let run = env.run(&["--json", "connections", "forget-links", "hs"]);
    run.ok();
    assert_eq!(run.json()["links"], 3, "{}", run.stdout);
    env.run(&["mappings", "setup", "-c", "hs"]).ok();
    env.run(&["sync"]).ok();

    let there = remote(&second, "contacts");
    // Three strangers, our contact that was there, and our other two created.
    assert_eq!(there.len(), 6, "{there:#?}");
    let ours1: Vec<&Value> = there
        .iter()
        .filter(|c| c["properties"]["email"] == "ours1@example.org")
        .collect();
    assert_eq!(ours1.len(), 1, "{there:#?}");
    assert_eq!(ours1[0]["properties"]["crmsync_id"], people[1].id.as_str());
    for (i, c) in there.iter().take(3).enumerate() {
        assert_eq!(c["properties"]["firstname"], format!("Stranger{i}"), "{c}");
    }
    // The strangers came here as new local contacts; ours stayed ours.
    assert_eq!(local(&env, ObjectKind::Contact).len(), 6);
    // The first portal saw nothing of it, and the connection is bound to the second now.
    assert_eq!(remote(&first, "contacts"), before_first);
    env.run(&["sync"]).ok();
}

#[test]
fn a_second_connection_to_a_synced_portal_is_refused_and_nothing_is_copied_twice() {
    let hub = portal(333);
    let env = env_with(&[("a", &hub), ("b", &hub)]);
    env.run(&["mappings", "setup", "-c", "a"]).ok();
    // Records without a match key: only their links keep them apart.
    let company = record(ObjectKind::Company, &[("name", "No Domain Ltd")]);
    let mut person = record(ObjectKind::Contact, &[("first_name", "Nomail")]);
    person
        .fields
        .insert("company_id".into(), company.id.to_string());
    save(&env, &[company, person]);
    let theirs = hub
        .create_record("companies", &[("name", "No Domain Either")])
        .unwrap();
    let someone = hub
        .create_record("contacts", &[("firstname", "Nomail There")])
        .unwrap();
    hub.associate(
        someone["id"].as_str().unwrap(),
        theirs["id"].as_str().unwrap(),
    )
    .unwrap();
    for _ in 0..3 {
        let run = env.run(&["sync"]);
        run.expect_code(2);
        assert!(
            run.stderr.contains(
                "connection `b` reaches HubSpot account 333, which connection `a` already syncs"
            ),
            "{}",
            run.stderr
        );
    }
    assert_eq!(remote(&hub, "contacts").len(), 2);
    assert_eq!(remote(&hub, "companies").len(), 2);
    assert_eq!(local(&env, ObjectKind::Contact).len(), 2);
    assert_eq!(local(&env, ObjectKind::Company).len(), 2);
    // `b` alone is refused too, and so is a dry run of both.
    env.run(&["sync", "-c", "b"]).expect_code(2);
    env.run(&["sync", "--dry-run"]).expect_code(2);
}

#[test]
fn connect_refuses_a_second_connection_to_a_synced_portal() {
    let hub = portal(335);
    let mut env = env_with(&[("a", &hub)]);
    env.run(&["mappings", "setup", "-c", "a"]).ok();
    env.run(&["sync"]).ok();
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    env.set_env("HUB_TOKEN", &hub.token());
    let base_url = hub.base_url();
    let run = env.run(&[
        "connect",
        "hubspot",
        "--name",
        "b",
        "--base-url",
        &base_url,
        "--token-env",
        "HUB_TOKEN",
    ]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("HubSpot account 335 is synced by connection `a` already"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(env.config_path()).unwrap(), config);
    // Signing `a` in again is no second connection.
    env.run(&[
        "connect",
        "hubspot",
        "--name",
        "a",
        "--token-env",
        "HUB_TOKEN",
    ])
    .ok();
}

#[test]
fn two_new_connections_to_one_portal_are_refused_in_a_dry_run_too() {
    let hub = portal(334);
    let env = env_with(&[("a", &hub), ("b", &hub)]);
    let run = env.run(&["sync", "--dry-run"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("which connection `a` already syncs"),
        "{}",
        run.stderr
    );
}

/// Through `hs`: a company and two of its contacts made here, and a company and two of its
/// contacts made in HubSpot (which carry no `crmsync_id` there), synced.
fn synced_company(env: &TestEnv, hub: &Sandbox) {
    env.run(&["mappings", "setup", "-c", "hs"]).ok();
    let company = record(
        ObjectKind::Company,
        &[("name", "Northwind"), ("domain", "northwind.example")],
    );
    let people: Vec<Record> = (0..2)
        .map(|i| {
            let mut p = record(
                ObjectKind::Contact,
                &[("email", &format!("p{i}@northwind.example"))],
            );
            p.fields.insert("company_id".into(), company.id.to_string());
            p
        })
        .collect();
    save(env, &people);
    save(env, &[company]);
    let theirs = hub
        .create_record(
            "companies",
            &[("name", "Contoso"), ("domain", "contoso.example")],
        )
        .unwrap();
    for i in 0..2 {
        let person = hub
            .create_record("contacts", &[("email", &format!("q{i}@contoso.example"))])
            .unwrap();
        hub.associate(
            person["id"].as_str().unwrap(),
            theirs["id"].as_str().unwrap(),
        )
        .unwrap();
    }
    env.run(&["sync"]).ok();
    assert_eq!(local(env, ObjectKind::Company).len(), 2);
}

fn assert_nothing_recreated(hub: &Sandbox, env: &TestEnv) {
    assert_eq!(writes(hub), Vec::<String>::new());
    assert_eq!(remote(hub, "companies").len(), 2);
    assert_eq!(remote(hub, "contacts").len(), 4);
    assert_eq!(local(env, ObjectKind::Company).len(), 2);
    assert_eq!(local(env, ObjectKind::Contact).len(), 4);
}

#[test]
fn a_connection_renamed_in_the_config_keeps_its_links() {
    let hub = portal(444);
    let mut env = env_with(&[("hs", &hub)]);
    synced_company(&env, &hub);
    hub.clear_request_log();
    configure(&mut env, &[("acme", &hub)]);
    // A dry run changes nothing, so it cannot plan before the links are taken over.
    let run = env.run(&["sync", "--dry-run"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("run `crmsync connections rename hs acme` first"),
        "{}",
        run.stderr
    );
    let run = env.run(&["sync"]);
    run.ok();
    assert!(
        run.stderr
            .contains("`acme` took over its 6 links (a renamed connection keeps its links)"),
        "{}",
        run.stderr
    );
    assert_nothing_recreated(&hub, &env);
    let status = env.run(&["--json", "status"]).json();
    let names: Vec<&str> = status["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme"]);
}

#[test]
fn connections_rename_moves_the_links_to_the_new_name() {
    let hub = portal(445);
    let mut env = env_with(&[("hs", &hub)]);
    synced_company(&env, &hub);
    hub.clear_request_log();
    let run = env.run(&["connections", "rename", "hs", "acme"]);
    run.ok();
    assert!(
        run.stderr
            .contains("rename `[connections.hs]` to `[connections.acme]`"),
        "{}",
        run.stderr
    );
    // A name already in use is refused.
    env.run(&["connections", "rename", "hs", "acme"])
        .expect_code(2);
    configure(&mut env, &[("acme", &hub)]);
    let run = env.run(&["sync"]);
    run.ok();
    assert!(!run.stderr.contains("took over"), "{}", run.stderr);
    assert_nothing_recreated(&hub, &env);
}

/// Links made before crmsync kept accounts: the account is learned at the next run, and the
/// connection is then held to it.
#[test]
fn links_without_an_account_are_bound_at_the_next_run() {
    let first = portal(555);
    let second = portal(556);
    let mut env = env_with(&[("hs", &first)]);
    synced_company(&env, &first);
    forget_accounts(&env);
    let run = env.run(&["sync"]);
    run.ok();
    assert!(
        run.stderr.contains("now bound to HubSpot account 555"),
        "{}",
        run.stderr
    );
    second.clear_request_log();
    configure(&mut env, &[("hs", &second)]);
    env.run(&["sync"]).expect_code(2);
    assert_eq!(writes(&second), Vec::<String>::new());
}

/// A renamed connection whose old links have no account is stopped until it says which
/// links are its own.
#[test]
fn a_new_name_beside_links_without_an_account_is_stopped_until_renamed() {
    let hub = portal(557);
    let mut env = env_with(&[("hs", &hub)]);
    synced_company(&env, &hub);
    forget_accounts(&env);
    hub.clear_request_log();
    configure(&mut env, &[("acme", &hub)]);
    let run = env.run(&["sync"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("crmsync connections rename OLD acme"),
        "{}",
        run.stderr
    );
    assert_eq!(writes(&hub), Vec::<String>::new());
    env.run(&["connections", "rename", "hs", "acme"]).ok();
    env.run(&["sync"]).ok();
    assert_nothing_recreated(&hub, &env);
}

/// Makes the state file look as an older crmsync left it: links, no accounts.
fn forget_accounts(env: &TestEnv) {
    let db = rusqlite::Connection::open(env.state_path()).unwrap();
    db.execute("DELETE FROM connection_accounts", []).unwrap();
}
