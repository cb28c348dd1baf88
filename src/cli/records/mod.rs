//! `crmsync records …`: the local store at hand: `list`, `show`, `set`, `archive`, `restore`.

mod edit;
mod list;

use serde::Serialize;

use crate::ops::{self, restore::Restored};

use super::record::{self, when};
use super::{Context, Exit};

/// Local records at hand: list, show, edit, archive and restore them
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync records list --object contact --where \"warmness >= 4\"
  crmsync records show ann@example.com
  crmsync records set ann@example.com job_title=CTO && crmsync sync
  crmsync records restore ann@example.com && crmsync sync")]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    List(list::ListArgs),
    Show(list::ShowArgs),
    Set(edit::SetArgs),
    Archive(edit::ArchiveArgs),
    /// Restore archived local records; the next sync carries the restore to the CRMs
    Restore(RestoreArgs),
}

/// Restore archived local records; the next sync carries the restore to the CRMs
#[derive(Debug, clap::Args)]
#[command(
    after_help = "A record whose archive was carried to a CRM is created there again by the
next sync (a CRM's API cannot restore a deleted record).

Examples:
  crmsync records restore ann@example.com && crmsync sync
  crmsync records restore hubspot:5123 01J5Z3Q9R8X7W6V5T4S3R2Q1P0"
)]
pub struct RestoreArgs {
    /// Local ids, emails, domains or CONNECTION:REMOTE-IDs
    #[arg(required = true, value_name = "RECORD")]
    pub records: Vec<String>,
}

/// `crmsync records restore --json`
#[derive(Debug, Serialize)]
pub struct RestoredRecords {
    pub restored: Vec<Restored>,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    match args.action {
        Action::List(args) => list::list(ctx, args),
        Action::Show(args) => list::show(ctx, args),
        Action::Set(args) => edit::set(ctx, args),
        Action::Archive(args) => edit::archive(ctx, args),
        Action::Restore(args) => restore(ctx, args),
    }
}

fn restore(ctx: &Context, args: RestoreArgs) -> anyhow::Result<Exit> {
    record::open_existing(ctx)?;
    let (mut store, _lock) = record::open_locked(ctx)?;
    let found = args
        .records
        .iter()
        .map(|spec| record::find(&store, spec))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let restored = ops::restore::restore(&mut store, &ctx.config, &*ctx.clock, found)?;
    if ctx.out.json {
        ctx.out.json(&RestoredRecords { restored })?;
        return Ok(Exit::Ok);
    }
    for r in &restored {
        ctx.out.note(format!(
            "restored {} {} (archived {})",
            r.kind,
            r.id,
            when(r.archived_at)
        ));
    }
    ctx.out
        .note("run `crmsync sync` to carry the restore to the CRMs");
    Ok(Exit::Ok)
}
