//! `crmsync connections`

use super::{Context, Exit};

/// List connections with their provider, account, token state and health
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  crmsync connections --json")]
pub struct Args {
    /// Call each CRM to check the token (else only what is stored is shown)
    #[arg(long)]
    pub check: bool,
}

pub async fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync connections` is not available in this build yet")
}
