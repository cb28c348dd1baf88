//! `crmsync export`

use std::path::PathBuf;

use crate::model::ObjectKind;

use super::{Context, Exit};

/// Write the local store's records as CSV or JSONL
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  crmsync export > contacts.csv\n  crmsync export --object company --format jsonl --output companies.jsonl"
)]
pub struct Args {
    /// Which records
    #[arg(long, default_value = "contact")]
    pub object: ObjectKind,
    /// The format [default: from the output file's extension, else csv]
    #[arg(long, value_parser = ["csv", "jsonl"])]
    pub format: Option<String>,
    /// Write to this file instead of standard output
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Include archived records
    #[arg(long)]
    pub include_archived: bool,
}

pub fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync export` is not available in this build yet")
}
