//! `crmsync sync`

use std::path::PathBuf;

use crate::model::ObjectKind;

use super::{Context, Exit};

/// Two-way delta sync: pull from every connection, then push to every connection
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync sync
  crmsync sync --dry-run
  crmsync sync --connection acme --object contact
  crmsync sync --plan plan.json && crmsync apply plan.json")]
pub struct Args {
    /// Print the plan and stop; nothing is written
    #[arg(long)]
    pub dry_run: bool,
    /// Only these connections [default: all]
    #[arg(long = "connection", short = 'c', value_name = "NAME")]
    pub connections: Vec<String>,
    /// Only these objects [default: all]
    #[arg(long = "object", value_name = "OBJECT")]
    pub objects: Vec<ObjectKind>,
    /// Read everything from the CRMs instead of only what changed
    #[arg(long)]
    pub full: bool,
    /// Save the plan to FILE and stop; `crmsync apply FILE` carries it out
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Go past the safety gates (mass archive, empty remote read)
    #[arg(long)]
    pub force: bool,
    /// Send at most this many requests to each connection in this run
    #[arg(long, value_name = "N")]
    pub max_requests: Option<u64>,
}

pub async fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync sync` is not available in this build yet")
}
