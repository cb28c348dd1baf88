//! `crmsync explain RECORD [FIELD]`

use super::{Context, Exit};

/// Show a record's fields: base, local and remote values, direction, policy, last writer
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  crmsync explain ann@example.com\n  crmsync explain hubspot:5123 phone"
)]
pub struct Args {
    /// A local id, an email, or CONNECTION:REMOTE-ID
    pub record: String,
    /// Only this field
    pub field: Option<String>,
}

pub fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync explain` is not available in this build yet")
}
