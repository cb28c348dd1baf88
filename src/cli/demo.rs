//! `crmsync demo`

use super::{Context, Exit};

/// Run the main job on the built-in sandbox: sample data, two-way sync, conflicts, status
///
/// Starts the sandbox CRMs in-process, works in a temporary directory unless `--state` is
/// given, and touches nothing outside it.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  crmsync demo")]
pub struct Args {
    /// How many contacts to generate on each side
    #[arg(long, default_value_t = 25)]
    pub contacts: usize,
}

pub async fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync demo` is not available in this build yet")
}
