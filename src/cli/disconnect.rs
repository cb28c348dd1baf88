//! `crmsync disconnect NAME`

use super::{Context, Exit};

/// Revoke a connection's tokens where the CRM allows and remove them from the keychain
///
/// Local records and links are kept, so connecting to the same account again resumes.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  crmsync disconnect acme")]
pub struct Args {
    /// The connection's name
    pub name: String,
}

pub async fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync disconnect` is not available in this build yet")
}
