//! `crmsync status`

use std::collections::BTreeMap;

use crate::model::Millis;

use super::{Context, Exit};

/// Health per connection, last successful sync, and counts by record state
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  crmsync status\n  crmsync status --failed\n  crmsync status ann@example.com"
)]
pub struct Args {
    /// One record: a local id, an email, or CONNECTION:REMOTE-ID
    pub record: Option<String>,
    /// List failed records with the CRM's error
    #[arg(long)]
    pub failed: bool,
    /// Only this connection
    #[arg(long, short = 'c', value_name = "NAME")]
    pub connection: Option<String>,
}

pub fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync status` is not available in this build yet")
}

/// When each connection last finished a sync without error.
pub fn last_successful_syncs(_ctx: &Context) -> anyhow::Result<BTreeMap<String, Millis>> {
    Ok(BTreeMap::new())
}
