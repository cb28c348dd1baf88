//! `crmsync mappings list|check|setup`

use super::{Context, Exit};

/// Field mappings: list them, check them against the CRM's fields, create missing fields
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  crmsync mappings list -c acme\n  crmsync mappings check -c acme\n  crmsync mappings setup -c acme"
)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// List the resolved mappings of a connection
    List(Target),
    /// Check mappings against the CRM's field catalogue (missing fields, type mismatches)
    Check(Target),
    /// Create the custom fields crmsync needs (`crmsync_id`) and mapped ones that are missing
    Setup(Target),
}

#[derive(Debug, clap::Args)]
pub struct Target {
    /// The connection [default: the only one configured]
    #[arg(long, short = 'c', value_name = "NAME")]
    pub connection: Option<String>,
}

pub async fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync mappings` is not available in this build yet")
}
