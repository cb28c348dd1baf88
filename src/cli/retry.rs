//! `crmsync retry`

use super::{Context, Exit};

/// Re-queue failed records so the next sync tries them again
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  crmsync retry && crmsync sync")]
pub struct Args {
    /// Only this connection
    #[arg(long, short = 'c', value_name = "NAME")]
    pub connection: Option<String>,
}

pub fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync retry` is not available in this build yet")
}
