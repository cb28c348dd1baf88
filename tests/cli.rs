//! The binary's frame: help, version, usage errors, exit codes, completions, man pages.

mod common;

use common::TestEnv;

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let env = TestEnv::new();
    let run = env.run(&["--help"]);
    run.ok();
    for cmd in [
        "connect",
        "disconnect",
        "connections",
        "import",
        "export",
        "sync",
        "status",
        "mappings",
        "conflicts",
        "retry",
        "log",
        "apply",
        "explain",
        "sandbox",
        "demo",
        "completions",
        "man",
    ] {
        assert!(
            run.stdout.contains(&format!("  {cmd}")),
            "`{cmd}` missing from help:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout.contains("4  stopped by a safety gate"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_usage_error_exits_2_with_a_message() {
    let env = TestEnv::new();
    let run = env.run(&["sync", "--no-such-flag"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--no-such-flag"), "{}", run.stderr);
    // `deal` is an object now; `lead` is not.
    let run = env.run(&["import", "x.csv", "--object", "lead"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("unknown object `lead`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_config_exits_2_naming_file_and_line() {
    let env = TestEnv::new();
    env.write_config("[sync]\nmax_archive_pct = 50\nbogus = 1\n");
    let run = env.run(&["status"]);
    run.expect_code(2);
    assert!(run.stderr.contains("config.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("line 3"), "{}", run.stderr);
    assert!(run.stderr.contains("bogus"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}

#[test]
fn a_missing_config_named_explicitly_is_an_error() {
    let env = TestEnv::new();
    let run = env.run(&["--config", "nope.toml", "status"]);
    run.expect_code(2);
    assert!(run.stderr.contains("nope.toml"), "{}", run.stderr);
}

#[test]
fn completions_for_every_shell() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = env.run(&["completions", shell]);
        run.ok();
        assert!(run.stdout.contains("crmsync"), "{shell}");
        assert!(run.stdout.contains("sync"), "{shell}");
    }
}

#[test]
fn man_page_goes_to_stdout() {
    let env = TestEnv::new();
    let run = env.run(&["man"]);
    run.ok();
    assert!(
        run.stdout.starts_with(".ie") || run.stdout.contains(".TH crmsync"),
        "{}",
        &run.stdout[..200.min(run.stdout.len())]
    );
}
