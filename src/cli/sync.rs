//! `crmsync sync`

use std::collections::HashSet;
use std::path::PathBuf;

use crate::engine::plan::{Op, Outcome, Plan, PlanCounts};
use crate::engine::sync::{Only, SyncOptions, SyncReport};
use crate::model::{ObjectKind, RecordId};
use crate::ops::{self, plan_file::PlanFile};
use crate::output::table::{or_dash, table};

use super::{Context, Exit};

/// Two-way delta sync: pull from every connection, then push to every connection
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync sync
  crmsync sync --dry-run
  crmsync sync --connection acme --object contact
  crmsync sync --record ann@example.com --record hubspot:5123
  crmsync sync --limit 5
  crmsync sync --plan plan.json && crmsync apply plan.json

`--record` reads the named records from each CRM by id (not through the change feed) and
pushes them, and moves no cursor: the next plain sync still reads everything else. A CRM id
linked to no local record is read as a contact, or as the objects `--object` names.
`--limit N` creates at most N records on each side of each connection, for trying a
configuration on a few records; it moves no cursor, so the next sync without it does the
rest.")]
pub struct Args {
    /// Print the plan and stop; nothing is written
    #[arg(long)]
    pub dry_run: bool,
    /// Only these connections [default: all]
    #[arg(long = "connection", short = 'c', value_name = "NAME")]
    pub connections: Vec<String>,
    /// Only these objects [default: all]
    #[arg(long = "object", value_name = "OBJECT")]
    pub objects: Vec<ObjectKind>,
    /// Read everything from the CRMs instead of only what changed
    #[arg(long)]
    pub full: bool,
    /// Save the plan to FILE and stop; `crmsync apply FILE` carries it out
    #[arg(long, value_name = "FILE", conflicts_with = "dry_run")]
    pub plan: Option<PathBuf>,
    /// Go past the safety gates (mass archive, empty remote read)
    #[arg(long)]
    pub force: bool,
    /// Send at most this many requests to each connection in this run
    #[arg(long, value_name = "N")]
    pub max_requests: Option<u64>,
    /// Only this record, read by id: a local id, email, domain or CONNECTION:REMOTE-ID (repeatable)
    #[arg(long = "record", value_name = "RECORD")]
    pub records: Vec<String>,
    /// Create at most N records on each side of each connection; later runs do the rest
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let only = if args.records.is_empty() {
        None
    } else {
        Some(named_records(ctx, &args.records)?)
    };
    let opts = SyncOptions {
        objects: args.objects.clone(),
        full: args.full,
        dry_run: args.dry_run || args.plan.is_some(),
        force: args.force,
        by_id: only.is_some(),
        only,
        create_limit: args.limit,
        ..SyncOptions::default()
    };
    let report = execute(ctx, &args.connections, &opts, args.max_requests).await?;
    if let Some(path) = &args.plan
        && report.gated()
    {
        // A saved plan is carried out as it is: one a safety gate stopped is not saved.
        ctx.out.note(format!(
            "the plan was not saved to `{}`: a safety gate stopped it (see below); pass `--force` with `--plan` to save it anyway",
            path.display()
        ));
    } else if let Some(path) = &args.plan {
        let created_at = crate::clock::format_instant(ctx.clock.now());
        PlanFile::of(&report, &ctx.config, args.full, created_at).save(path)?;
        ctx.out.note(format!(
            "saved the plan to `{}`; carry it out with `crmsync apply {}`",
            path.display(),
            path.display()
        ));
    }
    if let Some(n) = args.limit
        && !report.dry_run
    {
        ctx.out.note(format!(
            "created at most {n} record(s) on each side of each connection; run `crmsync sync` again for the rest"
        ));
    }
    render(ctx, &report)
}

/// The records `sync --record` names: local records as `crmsync status RECORD` finds them,
/// and `CONNECTION:REMOTE-ID`s of CRM records no local record is linked to yet.
fn named_records(ctx: &Context, specs: &[String]) -> anyhow::Result<Only> {
    let store = super::record::open_for_reading(ctx)?;
    let mut only = Only::default();
    for spec in specs {
        let found = match &store {
            Some(store) => super::record::find(store, spec).map(Some),
            None => Ok(None),
        };
        let unlinked = spec
            .split_once(':')
            .filter(|(c, id)| ctx.config.connections.contains_key(*c) && !id.trim().is_empty());
        match (found, unlinked) {
            (Ok(Some(r)), _) => {
                only.local.insert(r.id);
            }
            (Ok(None) | Err(_), Some((connection, id))) => {
                only.remote
                    .entry(connection.to_string())
                    .or_default()
                    .insert(id.trim().to_string());
            }
            (Err(e), None) => return Err(e),
            (Ok(None), None) => {
                return Err(crate::error::usage_hinted(
                    format!(
                        "no record `{spec}`: there is no state file at `{}` yet",
                        ctx.state_path.display()
                    ),
                    "name a CRM record as CONNECTION:REMOTE-ID, or run `crmsync sync` first",
                ));
            }
        }
    }
    Ok(only)
}

/// Runs a sync (see [`ops::sync::Session`]) with its progress drawn.
pub async fn execute(
    ctx: &Context,
    connections: &[String],
    opts: &SyncOptions,
    max_requests: Option<u64>,
) -> anyhow::Result<SyncReport> {
    let session = ops::sync::Session::open_noting(ctx.settings(), opts.dry_run, &|pid| {
        ctx.note_waiting_for_listener(pid)
    })?;
    if let Some(pid) = session.took_over_from() {
        ctx.out.warn(format!(
            "took over the lock of `{}` left by process {pid}, which is no longer running",
            ctx.state_path.display()
        ));
    }
    let reporter = crate::output::progress::SyncProgress::new(&ctx.out);
    let report = session
        .run(connections, opts, max_requests, &reporter)
        .await?;
    reporter.finish();
    Ok(report)
}

/// Pushes these local records to `connection` (for `import --to`): a sync of that connection
/// whose push covers only them.
pub async fn push_records(
    ctx: &Context,
    connection: &str,
    ids: HashSet<RecordId>,
    stamp: crate::engine::sync::Stamp,
) -> anyhow::Result<Exit> {
    let mut opts = ops::sync::only_records(ids);
    opts.stamp = stamp;
    let report = execute(ctx, &[connection.to_string()], &opts, None).await?;
    render(ctx, &report)
}

/// Prints a run's report or plan and picks the exit code.
pub fn render(ctx: &Context, report: &SyncReport) -> anyhow::Result<Exit> {
    if ctx.out.json {
        ctx.out.json(report)?;
    } else if report.dry_run {
        // "Both sides agree" only when every connection was read to the end.
        let complete = report
            .connections
            .iter()
            .all(|c| c.stopped_by.is_none() && c.error.is_none());
        render_plans(ctx, &report.plans, complete)?;
    } else if ctx.out.summary() && report.connections.iter().any(|c| !c.objects.is_empty()) {
        // A table without rows (every connection stopped before reading) says nothing.
        let mut t = table(
            &ctx.out,
            &[
                "connection",
                "object",
                "read",
                "local",
                "created",
                "updated",
                "archived",
                "conflicts",
                "failed",
            ],
        );
        for c in &report.connections {
            for o in &c.objects {
                let p = &o.planned;
                t.add_row(vec![
                    c.connection.clone(),
                    o.object.map(|k| k.to_string()).unwrap_or_default(),
                    match o.unchanged {
                        0 => o.read.to_string(),
                        n => format!("{} ({n} unchanged)", o.read),
                    },
                    o.local_changes.to_string(),
                    // What was done: the planned writes to the CRM less those it refused
                    // (counted under `failed`).
                    format!(
                        "{} here, {} there",
                        p.local_create,
                        done(p.remote_create, o.failed_writes.create)
                    ),
                    format!(
                        "{} here, {} there",
                        p.local_update,
                        done(p.remote_update, o.failed_writes.update)
                    ),
                    format!(
                        "{} here, {} there",
                        p.local_archive,
                        done(p.remote_archive, o.failed_writes.archive)
                    ),
                    format!(
                        "{} ({} held)",
                        o.decided_conflicts + o.held_conflicts,
                        o.held_conflicts
                    ),
                    o.failed.to_string(),
                ]);
            }
        }
        ctx.out.data(t)?;
    }
    if !ctx.out.json {
        for w in &report.warnings {
            ctx.out.warn(w);
        }
    }
    for c in &report.connections {
        if !ctx.out.json {
            for w in &c.warnings {
                ctx.out.warn(w);
            }
        }
        if let Some(gate) = &c.stopped_by {
            ctx.out.warn_always(format!("{gate}"));
            if !ctx.out.json {
                for o in &c.objects {
                    if let (Some(kind), Some(held)) = (o.object, &o.not_written) {
                        ctx.out.note(format!(
                            "{} {kind}: planned {}; none of it was written",
                            c.connection,
                            describe_counts(held)
                        ));
                    }
                }
            }
        }
        if let Some(e) = &c.error {
            // Most stops name their connection already (`connection `acme` used its budget …`).
            let message = if e.starts_with(&format!("connection `{}` ", c.connection)) {
                e.clone()
            } else {
                format!("connection `{}` stopped: {e}", c.connection)
            };
            let err = match c
                .provider_error
                .as_deref()
                .and_then(crate::error::provider_hint)
            {
                Some(hint) => crate::error::hinted(message, hint),
                None => anyhow::anyhow!(message),
            };
            eprint!("{}", crate::output::errors::render(&err, ctx.out.color));
        }
    }
    let (held, failed) = report.waiting();
    if !report.dry_run && !ctx.out.json {
        if failed > 0 {
            ctx.out.note(format!(
                "{failed} record(s) failed: see `crmsync status --failed`, fix the cause, then `crmsync retry`"
            ));
        }
        if held > 0 {
            ctx.out.note(format!(
                "{held} conflict(s) wait for you: see `crmsync conflicts`"
            ));
        }
    }
    Ok(exit_for(report))
}

/// What a plan's counts would write, in words (`3 archives here, 12 there, 1 update here`).
fn describe_counts(p: &PlanCounts) -> String {
    let parts: Vec<String> = [
        ("link", "links", p.link, ""),
        ("create", "creates", p.local_create, " here"),
        ("create", "creates", p.remote_create, " there"),
        ("update", "updates", p.local_update, " here"),
        ("update", "updates", p.remote_update, " there"),
        ("archive", "archives", p.local_archive, " here"),
        ("archive", "archives", p.remote_archive, " there"),
    ]
    .into_iter()
    .filter(|(.., n, _)| *n > 0)
    .map(|(one, many, n, side)| format!("{n} {}{side}", if n == 1 { one } else { many }))
    .collect();
    if parts.is_empty() {
        "no write".to_string()
    } else {
        parts.join(", ")
    }
}

/// Planned writes less refused ones.
fn done(planned: usize, failed: u64) -> u64 {
    (planned as u64).saturating_sub(failed)
}

/// The exit code of a run: 2 when a connection reaches another CRM account than the state
/// file's links were made in (or one another connection syncs), 1 when a connection stopped
/// on an error, 4 when a safety gate stopped one, 3 when failed records or conflicts wait
/// (from this run or an earlier one), a CRM's clock was off by more than the change feed's
/// overlap (the run cannot be sure it read everything) or a CRM's allowance for the day ran
/// down to crmsync's reserve (the rest goes on the next day), else 0.
pub fn exit_for(report: &SyncReport) -> Exit {
    if report.account_stopped() {
        Exit::Usage
    } else if report.errored_before_the_day_ended() {
        Exit::Error
    } else if report.gated() {
        Exit::Gate
    } else if report.stopped_for_the_day()
        || (!report.dry_run && (report.waiting() != (0, 0) || report.clock_skewed()))
    {
        Exit::Incomplete
    } else {
        Exit::Ok
    }
}

/// The plan as tables: one per connection and object, every write with its fields.
fn render_plans(ctx: &Context, plans: &[Plan], complete: bool) -> anyhow::Result<()> {
    let mut any = false;
    for plan in plans {
        if plan.ops.is_empty() && plan.conflicts.is_empty() {
            continue;
        }
        any = true;
        ctx.out.data(
            ctx.out
                .bold(&format!("{} · {}", plan.connection, plan.object)),
        )?;
        let mut t = table(&ctx.out, &["op", "record", "field", "old", "new"]);
        for op in &plan.ops {
            let record = op
                .local_id()
                .map(|i| i.to_string())
                .or_else(|| op.remote_id().map(|r| format!("{}:{r}", plan.connection)))
                .unwrap_or_default();
            let name = op_name(op);
            match op {
                Op::LocalCreate { fields, .. } | Op::RemoteCreate { fields, .. } => {
                    for (k, v) in fields {
                        t.add_row(vec![
                            name.into(),
                            record.clone(),
                            k.clone(),
                            "—".into(),
                            v.clone(),
                        ]);
                    }
                    if fields.is_empty() {
                        t.add_row(vec![
                            name.into(),
                            record,
                            "—".into(),
                            "—".into(),
                            "—".into(),
                        ]);
                    }
                }
                Op::LocalUpdate { changes, .. }
                | Op::RemoteUpdate { changes, .. }
                | Op::LocalArchive { changes, .. } => {
                    for c in changes {
                        t.add_row(vec![
                            name.into(),
                            record.clone(),
                            c.field.clone(),
                            or_dash(c.old.as_deref()),
                            or_dash(c.new.as_deref()),
                        ]);
                    }
                    let stamp = matches!(
                        op,
                        Op::RemoteUpdate {
                            set_external_id: true,
                            ..
                        }
                    );
                    if stamp {
                        // The record's local id goes into the CRM's external-id field.
                        t.add_row(vec![
                            name.into(),
                            record.clone(),
                            "(external id)".into(),
                            "—".into(),
                            record.clone(),
                        ]);
                    }
                    if changes.is_empty() && !stamp {
                        t.add_row(vec![
                            name.into(),
                            record,
                            "—".into(),
                            "—".into(),
                            "—".into(),
                        ]);
                    }
                }
                Op::RemoteArchive { .. } | Op::Link { .. } => {
                    t.add_row(vec![
                        name.into(),
                        record,
                        "—".into(),
                        "—".into(),
                        "—".into(),
                    ]);
                }
            }
        }
        for c in &plan.conflicts {
            let what = match c.outcome {
                Outcome::Held => "held".to_string(),
                Outcome::Local => "local wins".into(),
                Outcome::Remote => "remote wins".into(),
            };
            t.add_row(vec![
                format!("conflict ({what})"),
                c.local_id.to_string(),
                c.field.clone(),
                format!("local {}", or_dash(c.local.as_deref())),
                format!("remote {}", or_dash(c.remote.as_deref())),
            ]);
        }
        ctx.out.data(t)?;
    }
    if !any && complete {
        ctx.out.data("nothing to do: both sides agree")?;
    }
    Ok(())
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Link { .. } => "link",
        Op::LocalCreate { .. } => "create here",
        Op::LocalUpdate { .. } => "update here",
        Op::LocalArchive { .. } => "archive here",
        Op::RemoteCreate { .. } => "create there",
        Op::RemoteUpdate { .. } => "update there",
        Op::RemoteArchive { .. } => "archive there",
    }
}
