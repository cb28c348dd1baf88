//! `crmsync sandbox serve`

use super::{Context, Exit};

/// Serve the built-in CRM sandboxes on 127.0.0.1
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Serve a local HubSpot until stopped; prints its base URL and a token it accepts
    #[command(after_help = "Example:\n  crmsync sandbox serve --port 8080 --seed 42")]
    Serve {
        /// The port [default: a free one]
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// The private-app token to accept [default: a generated one]
        #[arg(long)]
        token: Option<String>,
        /// Seed for generated data and injected faults
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Generate this many contacts at start
        #[arg(long, default_value_t = 0)]
        contacts: usize,
    },
}

pub async fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync sandbox` is not available in this build yet")
}
