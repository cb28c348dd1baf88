//! `crmsync backup`, `crmsync restore` and `crmsync log --prune`: keeping the state file.

use std::path::PathBuf;

use crate::ops::upkeep;

use super::{Context, Exit};

/// Copy the state file (SQLite's online backup) to FILE, or into the set beside it
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync backup
  crmsync backup --to ~/crmsync-before-migration.db

Without `--to` the copy goes beside the state file as `<state>.bak.<time>`, and the oldest copies
beyond `backup.keep` (default 5) are removed. Refused while a run holds the state file's lock.")]
pub struct BackupArgs {
    /// Write the copy here (a new file) instead of beside the state file
    #[arg(long, value_name = "FILE")]
    pub to: Option<PathBuf>,
}

/// Put a backup in place of the state file (the state file as it was is copied beside it
/// first)
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  crmsync restore ~/.local/share/crmsync/state.db.bak.20260115T120000.000Z

The file is checked first: one that is not a crmsync state file, or was written by a newer
crmsync, is refused and nothing changes. Refused while a run holds the state file's lock. To
bring back an archived record instead, see `crmsync records restore`.")]
pub struct RestoreArgs {
    /// The backup to restore
    pub file: PathBuf,
}

pub fn backup(ctx: &Context, args: BackupArgs) -> anyhow::Result<Exit> {
    let made = upkeep::backup(&ctx.settings(), args.to.as_deref())?;
    if ctx.out.json {
        ctx.out.json(&made)?;
    } else {
        ctx.out.data(format!(
            "copied `{}` to `{}` ({} bytes)",
            ctx.state_path.display(),
            made.path.display(),
            made.bytes
        ))?;
    }
    Ok(Exit::Ok)
}

pub fn restore(ctx: &Context, args: RestoreArgs) -> anyhow::Result<Exit> {
    let done = upkeep::restore(&ctx.settings(), &args.file)?;
    if ctx.out.json {
        ctx.out.json(&done)?;
        return Ok(Exit::Ok);
    }
    if let Some(previous) = &done.previous {
        ctx.out.note(format!(
            "the state file as it was is kept at `{}`; the next sync reads each CRM again from the backup's point, so what reached a CRM since comes back, and a local change that reached none is only in that copy",
            previous.display()
        ));
    }
    ctx.out.data(format!(
        "restored `{}` from `{}` ({} records, {} runs, schema version {})",
        ctx.state_path.display(),
        done.from.path.display(),
        done.from.records,
        done.from.runs,
        done.schema_version
    ))?;
    Ok(Exit::Ok)
}

/// `crmsync log --prune`.
pub fn prune(ctx: &Context) -> anyhow::Result<Exit> {
    let pruned = upkeep::prune_now(&ctx.settings())?;
    if ctx.out.json {
        ctx.out.json(&pruned)?;
    } else {
        let events = match pruned.webhook_events {
            0 => String::new(),
            n => format!(", {n} webhook events"),
        };
        ctx.out.data(format!(
            "removed {} runs{events} and {} audit entries older than {} days",
            pruned.runs, pruned.audit, ctx.config.log.keep_days
        ))?;
    }
    Ok(Exit::Ok)
}
