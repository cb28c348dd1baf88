//! The command line: one file per command. Each parses its arguments, makes one call into the
//! core and renders the result. No SQL, HTTP or merge logic lives here.

pub mod apply;
pub mod backup;
pub mod completions;
pub mod conflicts;
pub mod connect;
pub mod connections;
pub mod demo;
pub mod disconnect;
pub mod explain;
pub mod export;
pub mod health;
pub mod import;
pub mod listen;
pub mod log;
pub mod man;
pub mod mappings;
pub mod profiles;
pub mod record;
pub mod records;
pub mod retry;
pub mod sandbox;
pub mod status;
pub mod sync;
pub mod teardown;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::clock::Clock;
use crate::config::Config;
use crate::error::Error;
use crate::output::{ColorChoice, Output};

/// How a run ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: everything done.
    Ok = 0,
    /// 1: an error stopped the command.
    Error = 1,
    /// 2: a bad command line or config.
    Usage = 2,
    /// 3: finished, but some records failed or conflicts wait for `crmsync conflicts`.
    Incomplete = 3,
    /// 4: stopped by a safety gate before writing anything.
    Gate = 4,
    /// 5: `status --check`: no successful sync within `--max-age`.
    Stale = 5,
    /// 6: `status --check`: more failed records than `--max-failed`.
    TooManyFailed = 6,
    /// 7: `status --check`: the last sync failed.
    LastRunFailed = 7,
}

const AFTER_HELP: &str = "\
Exit codes:
  0  ok
  1  error
  2  usage or config error
  3  finished, but with failed records or pending conflicts
  4  stopped by a safety gate (nothing was written; `--force` goes past)
  5  status --check: no successful sync within --max-age
  6  status --check: more failed records than --max-failed
  7  status --check: the last sync failed

Environment:
  CRMSYNC_CONFIG        config file (after --config)
  CRMSYNC_STATE         state file (after --state)
  CRMSYNC_PROFILE       profile (after --profile)
  CRMSYNC_TOKEN_<NAME>  token for connection NAME (headless runs)
  CRMSYNC_LOG           log filter, e.g. `crmsync=debug`
  NO_COLOR              disables colour";

/// Keep contacts and companies the same in a local store and in HubSpot or Pipedrive
/// (activities sync with Pipedrive only; Salesforce is not built yet)
#[derive(Debug, Parser)]
#[command(name = "crmsync", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Config file [default: the platform config dir's crmsync/config.toml]
    #[arg(long, global = true, value_name = "FILE", env = crate::env::CONFIG)]
    pub config: Option<PathBuf>,
    /// SQLite state file [default: `state` in the config, else the platform data dir's crmsync/state.db]
    #[arg(long, global = true, value_name = "FILE", env = crate::env::STATE)]
    pub state: Option<PathBuf>,
    /// A config and state pair of its own under the platform dirs (`crmsync profiles` lists
    /// them); `--config` and `--state` still win
    #[arg(long, global = true, value_name = "NAME", env = crate::env::PROFILE)]
    pub profile: Option<String>,
    /// Print machine-readable JSON on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Print less (repeat for even less)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Print more (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to use colour
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Connect(connect::Args),
    Disconnect(disconnect::Args),
    Connections(connections::Args),
    Import(import::Args),
    Export(export::Args),
    Sync(sync::Args),
    Listen(listen::Args),
    Status(status::Args),
    Mappings(mappings::Args),
    Conflicts(conflicts::Args),
    Retry(retry::Args),
    Records(records::Args),
    Log(log::Args),
    Profiles(profiles::Args),
    Backup(backup::BackupArgs),
    Restore(backup::RestoreArgs),
    Apply(apply::Args),
    Explain(explain::Args),
    Teardown(teardown::Args),
    Sandbox(sandbox::Args),
    Demo(demo::Args),
    Completions(completions::Args),
    Man(man::Args),
}

/// Settings resolved once: flag > `CRMSYNC_*` environment > config file > built-in default.
pub struct Context {
    pub out: Output,
    pub config: Config,
    /// Where the config came from (`None`: no file, built-in defaults).
    pub config_path: Option<PathBuf>,
    pub state_path: PathBuf,
    pub clock: Arc<dyn Clock>,
    /// The profile chosen with `--profile` or `CRMSYNC_PROFILE`.
    pub profile: Option<String>,
}

impl Context {
    /// Resolves the settings. A config file named by flag or environment must exist; the
    /// default one may be missing (defaults apply).
    pub fn resolve(global: &GlobalArgs, creates_config: bool) -> anyhow::Result<Context> {
        let verbosity = if global.quiet > 0 {
            -(global.quiet.min(2) as i8)
        } else {
            global.verbose.min(3) as i8
        };
        let out = Output::new(global.json, verbosity, global.color);
        let profile = global.profile.as_deref();
        let (config, config_path) = match &global.config {
            // `connect` creates the file it is pointed at.
            Some(path) if creates_config && !path.exists() => {
                (Config::default(), Some(path.clone()))
            }
            Some(path) => (Config::load(path)?, Some(path.clone())),
            None => match profiles::config_path(profile)? {
                Some(path) if path.exists() => (Config::load(&path)?, Some(path)),
                _ => (Config::default(), None),
            },
        };
        let state_path = match (&global.state, &config.state) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => relative_to_config(p, config_path.as_deref()),
            (None, None) => profiles::state_path(profile)?.ok_or_else(|| {
                Error::usage(
                    "cannot find a data directory for the state file: pass `--state FILE` or set `CRMSYNC_STATE`"
                        .into(),
                )
            })?,
        };
        Ok(Context {
            out,
            config,
            config_path,
            state_path,
            clock: crate::clock::from_env(),
            profile: global.profile.clone(),
        })
    }

    /// Says, on stderr, that the command waits for the listener (`crmsync listen`, pid `pid`)
    /// to let the state file's run lock go.
    pub fn note_waiting_for_listener(&self, pid: u32) {
        self.out.note(format!(
            "waiting for `crmsync listen` (pid {pid}) to finish the batch it is applying to `{}`",
            self.state_path.display()
        ));
    }

    /// The settings the core's operations work with.
    pub fn settings(&self) -> crate::ops::Settings<'_> {
        crate::ops::Settings {
            config: &self.config,
            state_path: &self.state_path,
            clock: self.clock.clone(),
        }
    }

    /// The config file to write to (`connect` adds connections): the one in use, else the
    /// default path.
    pub fn writable_config_path(&self) -> anyhow::Result<PathBuf> {
        match &self.config_path {
            Some(path) => Ok(path.clone()),
            None => profiles::config_path(self.profile.as_deref())?
                .context("cannot find a config directory: pass `--config FILE`"),
        }
    }
}

/// A relative `state` path in a config file is relative to that file.
fn relative_to_config(p: &std::path::Path, config: Option<&std::path::Path>) -> PathBuf {
    match config.and_then(|c| c.parent()) {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.to_path_buf(),
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    // Commands that need no settings.
    match &cli.command {
        Command::Completions(args) => return completions::run(args),
        Command::Man(args) => return man::run(args),
        Command::Profiles(args) => return profiles::run(&cli.global, args),
        _ => {}
    }
    let ctx = Context::resolve(
        &cli.global,
        matches!(
            cli.command,
            Command::Connect(_) | Command::Sandbox(_) | Command::Demo(_)
        ),
    )?;
    match cli.command {
        Command::Connect(args) => connect::run(&ctx, args).await,
        Command::Disconnect(args) => disconnect::run(&ctx, args).await,
        Command::Connections(args) => connections::run(&ctx, args).await,
        Command::Import(args) => import::run(&ctx, args).await,
        Command::Export(args) => export::run(&ctx, args),
        Command::Sync(args) => sync::run(&ctx, args).await,
        Command::Listen(args) => listen::run(&ctx, args).await,
        Command::Status(args) => status::run(&ctx, args),
        Command::Mappings(args) => mappings::run(&ctx, args).await,
        Command::Conflicts(args) => conflicts::run(&ctx, args),
        Command::Retry(args) => retry::run(&ctx, args),
        Command::Records(args) => records::run(&ctx, args),
        Command::Log(args) => log::run(&ctx, args),
        Command::Backup(args) => backup::backup(&ctx, args),
        Command::Restore(args) => backup::restore(&ctx, args),
        Command::Apply(args) => apply::run(&ctx, args).await,
        Command::Explain(args) => explain::run(&ctx, args),
        Command::Teardown(args) => teardown::run(&ctx, args).await,
        Command::Sandbox(args) => sandbox::run(&ctx, args).await,
        Command::Demo(args) => demo::run(&ctx, args).await,
        Command::Completions(_) | Command::Man(_) | Command::Profiles(_) => {
            unreachable!("handled above")
        }
    }
}

/// The exit code for an error that stopped a command: its kind decides.
pub fn exit_for_error(err: &anyhow::Error) -> Exit {
    match crate::error::kind_of(err) {
        crate::error::ErrorKind::Usage => Exit::Usage,
        crate::error::ErrorKind::Failure => Exit::Error,
    }
}

/// The `clap::Command` for completions and man pages.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
