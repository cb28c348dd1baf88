//! What the main commands print, and how they exit, as snapshots (`tests/snapshots/`): the
//! help, `connect`, `status`, `mappings`, `sync`, `conflicts` and `explain` against the HubSpot
//! sandbox, and a few mistakes a user makes. crmsync runs on the fixed test clock and the
//! sandbox's clock is frozen at the same time, so times are the same in every run; temporary
//! paths, the sandbox's port and record ids are redacted (`common::snapshot`).
//!
//! A changed output fails its test with the difference; `INSTA_UPDATE=always cargo test --test
//! cli_snapshots` writes the new snapshots to review and commit.

mod common;

use common::snapshot::Redactions;
use common::{Run, TestEnv};
use crmsync::model::{ObjectKind, RecordId};
use crmsync::sandbox::{Sandbox, SandboxOptions};
use crmsync::store::Store;

/// The fixed test clock of `TestEnv`, in epoch ms.
const NOW_MS: i64 = 1_768_478_400_000;

/// crmsync on the fixed clock with connection `hs` configured at a sandbox frozen at the
/// same time; its tokens are kept as files in the environment.
struct Cli {
    sandbox: Sandbox,
    env: TestEnv,
    redactions: Redactions,
}

impl Cli {
    fn new() -> Cli {
        let sandbox = Sandbox::start(SandboxOptions {
            rate_limit: (1_000_000, 10_000),
            search_per_second: 0,
            daily_limit: 100_000_000,
            hub_id: Some(12_345_678),
            ..SandboxOptions::default()
        })
        .expect("start the sandbox");
        sandbox.set_clock_ms(NOW_MS);
        sandbox.freeze_clock(true);
        let mut env = TestEnv::new();
        let keychain = env.path("keychain");
        env.set_env(
            "CRMSYNC_TEST_KEYRING",
            &format!("file:{}", keychain.display()),
        );
        env.write_config(&format!(
            "[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n",
            sandbox.base_url()
        ));
        let mut redactions = Redactions::new();
        redactions
            .add(env.dir.path().to_string_lossy(), "TEMP")
            .add(sandbox.base_url(), "CRM")
            .add(sandbox.token(), "TOKEN");
        Cli {
            sandbox,
            env,
            redactions,
        }
    }

    /// Connected with the sandbox's token and its mappings set up.
    fn connected() -> Cli {
        let cli = Cli::new();
        cli.connect().ok();
        cli.run(&["mappings", "setup", "-c", "hs"]).ok();
        cli
    }

    fn connect(&self) -> Run {
        self.env.run_stdin(
            &["connect", "hubspot", "--name", "hs", "--token-stdin"],
            &format!("{}\n", self.sandbox.token()),
        )
    }

    fn run(&self, args: &[&str]) -> Run {
        self.env.run(args)
    }

    /// A run of `args` as its snapshot text.
    fn snap(&self, args: &[&str]) -> String {
        self.redactions.render(&self.run(args))
    }

    fn store(&self) -> Store {
        Store::open(&self.env.state_path()).expect("open the state file")
    }

    /// Imports contacts from CSV text with a header row, as a user edits the local store:
    /// matched by email, on crmsync's fixed clock.
    fn import(&self, csv: &str) {
        self.env.write("contacts.csv", csv);
        self.run(&["import", "contacts.csv"]).ok();
    }

    /// The local id of the contact with `email`.
    fn local_id(&self, email: &str) -> RecordId {
        let mut out = None;
        self.store()
            .for_each_record(ObjectKind::Contact, false, &mut |r| {
                if r.get("email") == Some(email) {
                    out = Some(r.id);
                }
                Ok(())
            })
            .unwrap();
        out.expect("a local contact with that email")
    }

    /// The HubSpot id linked to the local contact with `email`.
    fn remote_id(&self, email: &str) -> String {
        let local = self.local_id(email);
        self.store()
            .links_by_local_ids("hs", ObjectKind::Contact, std::slice::from_ref(&local))
            .unwrap()
            .remove(&local)
            .expect("linked")
            .remote_id
    }
}

const ADA: &str = "first_name,last_name,email\nAda,Lovelace,ada@example.org\n";

// ---- help ----------------------------------------------------------------------------------

/// The help of `args`, with no config or state file named in the environment (the help shows
/// those variables' values, which would otherwise be temporary paths of varying length).
fn help(args: &[&str]) -> String {
    let mut cli = Cli::new();
    cli.env.remove_env("CRMSYNC_CONFIG");
    cli.env.remove_env("CRMSYNC_STATE");
    cli.snap(args)
}

#[test]
fn main_help() {
    insta::assert_snapshot!(help(&["--help"]));
}

#[test]
fn sync_help() {
    insta::assert_snapshot!(help(&["sync", "--help"]));
}

#[test]
fn conflicts_help() {
    insta::assert_snapshot!(help(&["conflicts", "--help"]));
}

#[test]
fn a_subcommand_without_its_command_prints_its_help() {
    insta::assert_snapshot!(help(&["mappings"]));
}

// ---- against the sandbox -------------------------------------------------------------------

#[test]
fn connect_with_a_token_on_stdin() {
    let cli = Cli::new();
    insta::assert_snapshot!(cli.redactions.render(&cli.connect()));
}

#[test]
fn status_before_the_first_sync() {
    let cli = Cli::connected();
    insta::assert_snapshot!(cli.snap(&["status"]));
}

#[test]
fn mappings_list() {
    let cli = Cli::connected();
    insta::assert_snapshot!(cli.snap(&["mappings", "list", "-c", "hs"]));
}

#[test]
fn mappings_check() {
    let cli = Cli::connected();
    insta::assert_snapshot!(cli.snap(&["mappings", "check", "-c", "hs"]));
}

#[test]
fn first_sync_second_sync_and_status() {
    let cli = Cli::connected();
    cli.sandbox.seed(6, 2);
    cli.import(
        "first_name,last_name,email\nAda,Lovelace,ada@example.org\nAlan,Turing,alan@example.org\n",
    );
    insta::assert_snapshot!("first_sync", cli.snap(&["sync"]));
    insta::assert_snapshot!("second_sync", cli.snap(&["sync"]));
    insta::assert_snapshot!("status_after_sync", cli.snap(&["status"]));
}

#[test]
fn a_dry_run_after_an_edit() {
    let cli = Cli::connected();
    cli.import(ADA);
    cli.run(&["sync"]).ok();
    cli.import("email,job_title\nada@example.org,Analyst\n");
    insta::assert_snapshot!(cli.snap(&["sync", "--dry-run"]));
}

/// A contact whose last name is held by the `manual` policy after edits on both sides, the
/// HubSpot one a minute later; returns its local id.
fn held_conflict(cli: &Cli) -> RecordId {
    cli.env.write_config(&format!(
        "[policies.contact]\nlast_name = \"manual\"\n\n[connections.hs]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n",
        cli.sandbox.base_url()
    ));
    cli.import(ADA);
    cli.run(&["sync"]).ok();
    cli.import("email,last_name\nada@example.org,Byron\n");
    cli.sandbox.set_clock_ms(NOW_MS + 60_000);
    cli.sandbox
        .update_record(
            "contacts",
            &cli.remote_id("ada@example.org"),
            &[("lastname", "King")],
        )
        .unwrap();
    cli.local_id("ada@example.org")
}

#[test]
fn a_sync_that_holds_a_conflict_and_the_conflicts_commands() {
    let cli = Cli::connected();
    held_conflict(&cli);
    insta::assert_snapshot!("sync_with_a_held_conflict", cli.snap(&["sync"]));
    insta::assert_snapshot!("conflicts_list", cli.snap(&["conflicts"]));
    insta::assert_snapshot!("conflicts_show", cli.snap(&["conflicts", "show", "1"]));
}

#[test]
fn explain_a_field() {
    let cli = Cli::connected();
    let id = held_conflict(&cli);
    cli.run(&["sync"]);
    insta::assert_snapshot!(cli.snap(&["explain", id.as_str(), "last_name"]));
}

// ---- mistakes ------------------------------------------------------------------------------

#[test]
fn an_unknown_command() {
    let cli = Cli::new();
    insta::assert_snapshot!(cli.snap(&["frobnicate"]));
}

#[test]
fn sync_without_a_token() {
    let cli = Cli::new();
    insta::assert_snapshot!(cli.snap(&["sync"]));
}

#[test]
fn sync_of_an_unknown_connection() {
    let cli = Cli::connected();
    insta::assert_snapshot!(cli.snap(&["sync", "-c", "nope"]));
}

#[test]
fn explain_an_unknown_record() {
    let cli = Cli::connected();
    cli.run(&["sync"]).ok();
    insta::assert_snapshot!(cli.snap(&["explain", "01ARZ3NDEKTSV4RRFFQ69G5FAV"]));
}

#[test]
fn conflicts_show_of_an_unknown_conflict() {
    let cli = Cli::connected();
    cli.run(&["sync"]).ok();
    insta::assert_snapshot!(cli.snap(&["conflicts", "show", "42"]));
}

#[test]
fn a_config_that_does_not_parse() {
    let cli = Cli::new();
    cli.env
        .write_config("[connections.hs\nprovider = hubspot\n");
    insta::assert_snapshot!(cli.snap(&["status"]));
}

#[test]
fn the_redactions_replace_ids_ports_and_durations() {
    let run = Run {
        stdout: "id 01JH5ZK3Q4R8T0V6W2X9Y7A1BC at http://127.0.0.1:41234/x in 0.42s\n`01JH5ZK3Q4R8T0V6W2X9Y7A1BC`\n"
            .into(),
        stderr: String::new(),
        code: 0,
    };
    // An id followed by a space keeps its width, so that the columns of a table stay aligned.
    assert_eq!(
        Redactions::new().render(&run),
        format!(
            "exit code: 0\n----- stdout -----\nid {:<26} at http://127.0.0.1:[PORT]/x in [DURATION]\n`[ID]`\n----- stderr -----\n",
            "[ID]"
        )
    );
}
