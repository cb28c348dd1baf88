//! `crmsync apply FILE`

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;

use crate::engine::sync::{Only, SyncOptions, SyncReport};
use crate::error::Error;
use crate::model::RecordId;

use crate::engine::accounts;

use super::sync::{PLAN_FORMAT, PLAN_VERSION, PlanFile};
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

/// Refuses a plan made against another state file, or a connection since pointed elsewhere.
fn check_made_here(ctx: &Context, args: &Args, file: &PlanFile) -> anyhow::Result<()> {
    let here = match crate::store::Store::open_read_only(&ctx.state_path) {
        Ok(store) => store.state_id()?,
        Err(_) => None,
    };
    if here.as_deref() != Some(file.state_id.as_str()) {
        return Err(Error::usage(format!(
            "`{}` was made against another state file than `{}`; apply it with the `--state` it was made with, or make a new plan with `crmsync sync --plan`",
            args.file.display(),
            ctx.state_path.display()
        ))
        .into());
    }
    for (name, then) in &file.connections {
        let configured = ctx.config.connections.get(name);
        if !configured.is_some_and(|c| then.configured_as(c)) {
            return Err(Error::usage(format!(
                "`{}` was made for connection `{name}` as it was configured then ({} at {}), which the config no longer has; make a new plan with `crmsync sync --plan`",
                args.file.display(),
                then.provider,
                then.base_url.as_deref().unwrap_or("its default address")
            ))
            .into());
        }
    }
    for plan in &file.plans {
        if !file.connections.contains_key(&plan.connection) {
            return Err(Error::usage(format!(
                "`{}` holds writes for connection `{}` but does not say which CRM account they were planned in; make a new plan with `crmsync sync --plan`",
                args.file.display(),
                plan.connection
            ))
            .into());
        }
    }
    Ok(())
}

/// Refuses a plan made in another CRM account than the one each of its connections is bound
/// to, or reaches, now (the plan's remote ids name other records there).
async fn check_accounts(ctx: &Context, file: &PlanFile) -> anyhow::Result<()> {
    let store = crate::store::Store::open_read_only(&ctx.state_path).ok();
    for (name, then) in &file.connections {
        let opened =
            crate::connection::open(name, &ctx.config, &ctx.state_path, ctx.clock.clone(), None)?;
        let p = crate::engine::sync::Participant {
            name: opened.name,
            config: opened.config,
            provider: opened.provider,
        };
        if let Err(moved) = accounts::check_planned(store.as_ref(), &p, &then.account).await? {
            return Err(Error::usage(moved.to_string()).into());
        }
    }
    Ok(())
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read the plan file `{}`", args.file.display()))?;
    let file: PlanFile = serde_json::from_str(&text).map_err(|e| {
        Error::usage(format!(
            "`{}` is not a plan saved by `crmsync sync --plan` (line {}, column {}: {e})",
            args.file.display(),
            e.line(),
            e.column()
        ))
    })?;
    if file.format != PLAN_FORMAT || file.version != PLAN_VERSION {
        return Err(Error::usage(format!(
            "`{}` is a `{}` version {} file; this crmsync applies `{PLAN_FORMAT}` version {PLAN_VERSION}: make the plan again with `crmsync sync --plan`",
            args.file.display(),
            file.format,
            file.version
        ))
        .into());
    }
    check_made_here(ctx, &args, &file)?;
    check_accounts(ctx, &file).await?;
    let mut only = Only::default();
    let mut connections: Vec<String> = Vec::new();
    for plan in &file.plans {
        if !connections.contains(&plan.connection) {
            connections.push(plan.connection.clone());
        }
        let remote = only
            .remote
            .entry(plan.connection.clone())
            .or_insert_with(HashSet::new);
        for op in &plan.ops {
            if let Some(id) = op.local_id() {
                only.local.insert(id.clone());
            }
            if let Some(id) = op.remote_id() {
                remote.insert(id.to_string());
            }
        }
        for c in &plan.conflicts {
            only.local.insert(c.local_id.clone());
            remote.insert(c.remote_id.clone());
        }
    }
    if only.local.is_empty() && only.remote.values().all(HashSet::is_empty) {
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
    }
    let opts = SyncOptions {
        full: file.full,
        force: args.force,
        only: Some(only),
        ..SyncOptions::default()
    };
    let report = super::sync::execute(ctx, &connections, &opts, None).await?;
    let only = opts.only.as_ref().expect("set above");
    // Which planned records moved on the CRM's side since the plan was made. The plan also
    // holds the versions of records it read and left alone; those are not touched now, so
    // they are not listed either.
    let mut replanned: HashMap<String, Vec<String>> = HashMap::new();
    for (conn, objects) in &file.remote_versions {
        for (object, saved) in objects {
            let now = report.remote_versions.get(conn).and_then(|o| o.get(object));
            for (id, at) in saved {
                if let Some(current) = now.and_then(|n| n.get(id))
                    && current != at
                    && only.remote.get(conn).is_some_and(|ids| ids.contains(id))
                {
                    replanned.entry(conn.clone()).or_default().push(id.clone());
                }
            }
        }
    }
    // Which planned local records changed after the plan was made (their change numbers as
    // the run found them, before it wrote anything).
    let replanned_local: Vec<RecordId> = file
        .local_versions
        .iter()
        .filter(|(id, at)| report.local_versions.get(*id) != Some(*at))
        .map(|(id, _)| id.clone())
        .collect();
    if ctx.out.json {
        ctx.out.json(&Applied {
            replanned: &replanned,
            replanned_local: &replanned_local,
            report: &report,
        })?;
        return Ok(super::sync::exit_for(&report));
    }
    if !replanned_local.is_empty() {
        ctx.out.note(format!(
            "{} local record(s) changed after the plan was made and were planned again: {}",
            replanned_local.len(),
            replanned_local
                .iter()
                .map(|id| id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for (conn, ids) in &replanned {
        ctx.out.note(format!(
            "{} record(s) of `{conn}` changed in the CRM after the plan was made and were planned again: {}",
            ids.len(),
            ids.join(", ")
        ));
    }
    super::sync::render(ctx, &report)
}
