//! `crmsync import FILE`

use std::path::PathBuf;

use crate::config::OnDuplicate;
use crate::model::ObjectKind;

use super::{Context, Exit};

/// Load a CSV or JSONL file into the local store, or straight into a CRM
///
/// Rows are matched to existing records by the match keys (email by default); every
/// rejected row is reported with its line number and the reason. One bad row never stops the
/// others; a file that is not CSV or JSONL is refused before anything is written.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync import contacts.csv
  crmsync import companies.jsonl --object company
  crmsync import leads.csv --map 'E-mail Address=email' --map 'Notes=-' --on-duplicate skip
  crmsync import fixtures/contacts.csv --to hubspot     # seed a test CRM, idempotently")]
pub struct Args {
    /// The file: .csv (with a header row) or .jsonl (one JSON object per line)
    pub file: PathBuf,
    /// What the rows are
    #[arg(long, default_value = "contact")]
    pub object: ObjectKind,
    /// The file's format [default: from the extension]
    #[arg(long, value_parser = ["csv", "jsonl"])]
    pub format: Option<String>,
    /// Map a column to a field (`column=field`, `column=custom.name`, or `column=-` to drop it)
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    pub maps: Vec<String>,
    /// What to do with a row that matches an existing record [default: `import.on_duplicate`, else merge]
    #[arg(long, value_enum)]
    pub on_duplicate: Option<OnDuplicate>,
    /// After loading, sync these records to this connection (creates nothing twice)
    #[arg(long, value_name = "CONNECTION")]
    pub to: Option<String>,
}

pub async fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync import` is not available in this build yet")
}
