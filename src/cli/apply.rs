//! `crmsync apply FILE`

use std::path::PathBuf;

use super::{Context, Exit};

/// Carry out a plan saved by `crmsync sync --plan FILE`
///
/// Records whose remote version moved since the plan was made are planned again.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  crmsync sync --plan plan.json && crmsync apply plan.json")]
pub struct Args {
    /// The plan file
    pub file: PathBuf,
    /// Go past the safety gates
    #[arg(long)]
    pub force: bool,
}

pub async fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync apply` is not available in this build yet")
}
