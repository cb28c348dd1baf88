//! `crmsync conflicts list|show|resolve`

use super::{Context, Exit};

/// List, show and resolve conflicts held by the `manual` policy
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync conflicts list
  crmsync conflicts show 12
  crmsync conflicts resolve 12 --take remote
  crmsync conflicts resolve 12 --value 'she/her'
  crmsync conflicts resolve --all --take local")]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// List open conflicts (the default)
    List {
        /// Only this connection
        #[arg(long, short = 'c', value_name = "NAME")]
        connection: Option<String>,
    },
    /// Show one conflict with its base, local and remote values
    Show {
        /// The conflict's number
        id: i64,
    },
    /// Resolve conflicts; the next sync writes the chosen value
    Resolve {
        /// The conflict's number
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Resolve every open conflict (of `--connection`, if given)
        #[arg(long)]
        all: bool,
        /// Only this connection (with `--all`)
        #[arg(long, short = 'c', value_name = "NAME", requires = "all")]
        connection: Option<String>,
        /// Take the local or the remote value
        #[arg(long, value_parser = ["local", "remote"], required_unless_present = "value", conflicts_with = "value")]
        take: Option<String>,
        /// Set this value instead
        #[arg(long)]
        value: Option<String>,
    },
}

pub fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync conflicts` is not available in this build yet")
}
