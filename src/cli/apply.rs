//! `crmsync apply FILE`

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::engine::sync::SyncReport;
use crate::model::RecordId;
use crate::ops;

use super::{Context, Exit};

/// Carry out a plan saved by `crmsync sync --plan FILE`
///
/// Only the records in the plan are touched. The planner is deterministic, so a record whose
/// local and remote versions have not moved gets exactly the saved ops; a record whose local
/// or remote version moved since is planned again, and is listed as such. A plan made
/// against another state file, or in another CRM account than the one a connection is bound
/// to or reaches now, is refused.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  crmsync sync --plan plan.json && crmsync apply plan.json")]
pub struct Args {
    /// The plan file
    pub file: PathBuf,
    /// Go past the safety gates
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Serialize)]
struct Applied<'a> {
    /// Records whose remote version moved after the plan was made, by connection.
    replanned: &'a HashMap<String, Vec<String>>,
    /// Local records changed after the plan was made.
    replanned_local: &'a [RecordId],
    report: &'a SyncReport,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let file = ops::apply::load(&ctx.settings(), &args.file).await?;
    let Some(scope) = ops::apply::Scope::of(&file, args.force) else {
        if ctx.out.json {
            // The same shape as a plan with something to do: no run was needed.
            ctx.out.json(&Applied {
                replanned: &HashMap::new(),
                replanned_local: &[],
                report: &SyncReport::default(),
            })?;
        } else {
            ctx.out.note("the plan has nothing to do");
        }
        return Ok(Exit::Ok);
    };
    let report = super::sync::execute(ctx, &scope.connections, &scope.opts, None).await?;
    let moved = ops::apply::Replanned::of(&file, &scope, &report);
    if ctx.out.json {
        ctx.out.json(&Applied {
            replanned: &moved.replanned,
            replanned_local: &moved.replanned_local,
            report: &report,
        })?;
        return Ok(super::sync::exit_for(&report));
    }
    if !moved.replanned_local.is_empty() {
        ctx.out.note(format!(
            "{} local record(s) changed after the plan was made and were planned again: {}",
            moved.replanned_local.len(),
            moved
                .replanned_local
                .iter()
                .map(|id| id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for (conn, ids) in &moved.replanned {
        ctx.out.note(format!(
            "{} record(s) of `{conn}` changed in the CRM after the plan was made and were planned again: {}",
            ids.len(),
            ids.join(", ")
        ));
    }
    super::sync::render(ctx, &report)
}
