//! `crmsync log`

use super::{Context, Exit};

/// Past runs with counts and durations, or the audit trail of a record's field changes
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  crmsync log\n  crmsync log --record ann@example.com\n  crmsync log --record ann@example.com --field phone"
)]
pub struct Args {
    /// Show at most this many entries
    #[arg(long, short = 'n', default_value_t = 20)]
    pub limit: usize,
    /// The audit trail of one record: a local id, an email, or CONNECTION:REMOTE-ID
    #[arg(long, value_name = "RECORD")]
    pub record: Option<String>,
    /// Only this field (with `--record`)
    #[arg(long, requires = "record")]
    pub field: Option<String>,
}

pub fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync log` is not available in this build yet")
}
