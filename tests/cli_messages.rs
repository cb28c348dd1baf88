//! What a person or a cron log reads: exit codes, colour, and messages that say what is wrong
//! and what to do, run as users run the binary.

mod common;

use common::TestEnv;
use crmsync::sandbox::Sandbox;

/// A configured connection `hs` to the sandbox, its token in `CRMSYNC_TOKEN_HS`.
fn connected(sandbox: &Sandbox) -> TestEnv {
    common::connected_env(sandbox, "hs")
}

#[test]
fn logs_are_not_coloured_with_color_never_or_when_stderr_is_not_a_terminal() {
    let sandbox = common::fast_sandbox();
    let mut env = connected(&sandbox);
    env.remove_env("NO_COLOR");
    env.run(&["mappings", "setup", "-c", "hs"]).ok();
    for args in [
        &["sync", "-vv", "--color", "never"][..],
        &["sync", "-vv"],
        &["sync", "-vvv", "--color", "auto"],
    ] {
        let run = env.run(args);
        run.ok();
        assert!(
            run.stderr.contains("DEBUG") || run.stderr.contains("TRACE"),
            "{args:?} logs something: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains('\u{1b}'),
            "{args:?}: colour codes in a file: {:?}",
            run.stderr
        );
    }
}

#[test]
fn sync_without_connections_is_a_config_error() {
    let env = TestEnv::new();
    for args in [&["sync"][..], &["sync", "--dry-run"], &["mappings", "list"]] {
        let run = env.run(args);
        run.expect_code(2);
        assert!(run.stderr.contains("crmsync connect"), "{}", run.stderr);
    }
}

#[test]
fn connecting_salesforce_without_what_it_needs_is_refused_up_front() {
    let mut env = TestEnv::new();
    env.set_env("SF_TOKEN", "secret");
    // A token without the org's API host, and the Salesforce flags for another CRM: refused
    // before anything is signed in to, sent or stored.
    for (args, says) in [
        (
            &[
                "connect",
                "salesforce",
                "--name",
                "x",
                "--token-env",
                "SF_TOKEN",
            ][..],
            "needs the org's API host",
        ),
        (
            &[
                "connect",
                "hubspot",
                "--name",
                "x",
                "--sandbox",
                "--token-env",
                "SF_TOKEN",
            ],
            "`--sandbox` is for Salesforce connections",
        ),
        (
            &[
                "connect",
                "salesforce",
                "--name",
                "x",
                "--token-env",
                "SF_TOKEN",
                "--instance-url",
                "http://acme.example",
            ],
            "plain http",
        ),
    ] {
        let run = env.run(args);
        run.expect_code(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("keychain"), "{}", run.stderr);
    }
    assert_eq!(std::fs::read_to_string(env.config_path()).unwrap(), "");
    let help = env.run(&["connect", "--help"]);
    help.ok();
    for line in help.stdout.lines().filter(|l| {
        l.trim_start().starts_with("crmsync connect ") || l.contains("| crmsync connect ")
    }) {
        assert!(
            line.contains("connect hubspot") || line.contains("connect salesforce"),
            "an example that cannot work: {line}"
        );
    }
}

#[test]
fn a_token_env_variable_that_is_not_set_is_named() {
    let sandbox = common::fast_sandbox();
    let mut env = connected(&sandbox);
    env.remove_env("CRMSYNC_TOKEN_HS");
    env.write_config(&format!(
        "[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"{}\"\ntoken_env = \"BTOK\"\n",
        sandbox.base_url()
    ));
    for args in [&["sync"][..], &["mappings", "list", "-c", "hs"]] {
        let run = env.run(args);
        run.expect_code(2);
        assert!(
            run.stderr.contains("`BTOK` is not set"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("name the variable that holds it"),
            "advice to set what is set: {}",
            run.stderr
        );
    }
    env.set_env("BTOK", &sandbox.token());
    env.run(&["mappings", "list", "-c", "hs"]).ok();
}

#[test]
fn connections_check_shows_what_the_check_learned() {
    let sandbox = common::fast_sandbox();
    let mut env = connected(&sandbox);
    env.remove_env("CRMSYNC_TOKEN_HS");
    env.set_env("HS_TOKEN", &sandbox.token());
    env.write_config(&format!(
        "[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"{}\"\ntoken_env = \"HS_TOKEN\"\n",
        sandbox.base_url()
    ));
    let before = env.run(&["connections", "--json"]);
    before.ok();
    assert_eq!(before.json()[0]["token_state"], "not checked");
    let checked = env.run(&["connections", "--check", "--json"]);
    checked.ok();
    let c = &checked.json()[0];
    assert_eq!(c["check"], "ok", "{c}");
    assert_eq!(c["token_state"], "valid", "{c}");
    assert!(
        c["account"]
            .as_str()
            .is_some_and(|a| a.starts_with("portal ")),
        "{c}"
    );
    let portal = sandbox.hub_id().to_string();
    assert_eq!(c["account_id"], portal.as_str(), "{c}");
    // HubSpot does not say which scopes a private app's token has: that is said, rather than
    // an empty list.
    assert!(c["scopes"].is_null(), "{c}");
    assert!(
        c["scopes_note"]
            .as_str()
            .is_some_and(|n| n.contains("does not report the scopes")),
        "{c}"
    );

    // A later plain `connections` shows what the check learned, with when it was learned.
    let later = env.run(&["connections", "--json"]);
    later.ok();
    let l = &later.json()[0];
    assert_eq!(l["token_state"], "valid", "{l}");
    assert_eq!(l["account"], c["account"], "{l}");
    assert_eq!(l["account_id"], portal.as_str(), "{l}");
    assert_eq!(l["check"], "ok", "{l}");
    assert_eq!(l["checked_at"], c["checked_at"], "{l}");
    assert!(l["checked_at"].is_i64(), "{l}");
    let table = env.run(&["connections"]);
    table.ok();
    assert!(
        table.stdout.contains(&portal) && table.stdout.contains("valid, checked"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("not reported"), "{}", table.stdout);

    // A check of another token source says nothing of this one.
    env.remove_env("HS_TOKEN");
    env.set_env("CRMSYNC_TOKEN_HS", &sandbox.token());
    let other = env.run(&["connections", "--json"]);
    other.ok();
    let o = &other.json()[0];
    assert_eq!(o["token_state"], "not checked", "{o}");
    assert!(o["checked_at"].is_null() && o["account"].is_null(), "{o}");

    // A failed check is kept too: the token state says so, and `check` says why.
    env.set_env("CRMSYNC_TOKEN_HS", "not-the-token");
    env.run(&["connections", "--check"]).expect_code(1);
    let failed = env.run(&["connections", "--json"]);
    failed.ok();
    let f = &failed.json()[0];
    assert_eq!(f["token_state"], "check failed", "{f}");
    assert!(f["check"].as_str().is_some_and(|c| c != "ok"), "{f}");
    assert!(f["account_id"].is_null(), "{f}");
}

#[test]
fn a_missing_field_is_warned_about_once_per_run() {
    let sandbox = common::fast_sandbox();
    let env = connected(&sandbox);
    env.run(&["mappings", "setup", "-c", "hs"]).ok();
    env.write_config(&format!(
        "[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n\n[[connections.hs.fields]]\nobject = \"contact\"\nlocal = \"custom.favourite_colour\"\n",
        sandbox.base_url()
    ));
    for args in [&["sync"][..], &["sync", "--dry-run"]] {
        let run = env.run(args);
        run.ok();
        let warned = run
            .stderr
            .matches("the CRM has no field `favourite_colour`")
            .count();
        assert_eq!(warned, 1, "{args:?}: {}", run.stderr);
    }
    let run = env.run(&["sync", "--json"]);
    let warnings = run.json()["connections"][0]["warnings"].clone();
    assert_eq!(warnings.as_array().map(Vec::len), Some(1), "{warnings}");
}

#[test]
fn quiet_hides_the_run_tables_and_very_quiet_leaves_only_errors() {
    let sandbox = common::fast_sandbox();
    let env = connected(&sandbox);
    env.run(&["mappings", "setup", "-c", "hs"]).ok();
    env.write(
        "people.csv",
        "email,first_name,warmness\nann@example.com,Ann,4\nnot-an-email,Bo,2\n",
    );
    let normal = env.run(&["import", "people.csv"]);
    normal.expect_code(3);
    assert!(normal.stdout.contains("LOADED"), "{}", normal.stdout);
    // -q: no counts table; the rejected row is still listed.
    env.write("more.csv", "email\ncy@example.com\nstill-not-an-email\n");
    let quiet = env.run(&["import", "more.csv", "-q"]);
    quiet.expect_code(3);
    assert!(!quiet.stdout.contains("LOADED"), "{}", quiet.stdout);
    assert!(
        quiet.stdout.contains("still-not-an-email") || quiet.stdout.contains("REASON"),
        "{}",
        quiet.stdout
    );
    // -qq: nothing but the exit code.
    env.write("last.csv", "email\ndee@example.com\nnope\n");
    let very = env.run(&["import", "last.csv", "-qq"]);
    very.expect_code(3);
    assert_eq!((very.stdout.as_str(), very.stderr.as_str()), ("", ""));

    // A field the CRM lacks gives a warning: shown with -q, not with -qq.
    env.write_config(&format!(
        "[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n\n[[connections.hs.fields]]\nobject = \"contact\"\nlocal = \"custom.favourite_colour\"\n",
        sandbox.base_url()
    ));
    let quiet = env.run(&["sync", "-q"]);
    quiet.ok();
    assert_eq!(quiet.stdout, "", "no run table with -q");
    assert!(quiet.stderr.contains("warning:"), "{}", quiet.stderr);
    let very = env.run(&["sync", "-qq"]);
    very.ok();
    assert_eq!((very.stdout.as_str(), very.stderr.as_str()), ("", ""));
    // --json is data asked for: -q does not hide it.
    let json = env.run(&["sync", "-qq", "--json"]);
    json.ok();
    assert!(json.json()["connections"].is_array());
}
