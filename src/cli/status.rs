//! `crmsync status`

use std::collections::BTreeMap;

use crate::error::Error;
use crate::model::Millis;
use crate::ops;
use crate::output::table::{or_dash, table};
use crate::store::Store;

use super::record::{self, when};
use super::{Context, Exit};

/// Health per connection, last successful sync, and counts by record state
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  crmsync status\n  crmsync status --failed\n  crmsync status ann@example.com\n  crmsync status --history --since 30d\n  crmsync status --check --max-age 30m --max-failed 10"
)]
pub struct Args {
    /// One record: a local id, an email, or CONNECTION:REMOTE-ID
    pub record: Option<String>,
    /// List failed records with the CRM's error
    #[arg(long)]
    pub failed: bool,
    /// Only this connection
    #[arg(long, short = 'c', value_name = "NAME")]
    pub connection: Option<String>,
    /// Per connection over a window: sync runs, failures, uptime, requests used
    #[arg(long, conflicts_with_all = ["record", "failed", "check"])]
    pub history: bool,
    /// The window of `--history`, as `30m`, `12h`, `7d` or `2w`
    #[arg(long, value_name = "SPAN", default_value = "7d", requires = "history")]
    pub since: String,
    /// Exit 0 when healthy, else 5 (no successful sync within `--max-age`), 6 (more failed
    /// records than `--max-failed`) or 7 (the last sync failed), with one line saying why
    #[arg(long, conflicts_with_all = ["record", "failed"])]
    pub check: bool,
    /// With `--check`: the longest time since a connection's last successful sync
    #[arg(long, value_name = "SPAN", default_value = "30m", requires = "check")]
    pub max_age: String,
    /// With `--check`: the most failed records a connection may have (default: not checked)
    #[arg(long, value_name = "N", requires = "check")]
    pub max_failed: Option<u64>,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    if let Some(name) = &args.connection {
        ctx.config.connection(name).map_err(Error::usage)?;
    }
    let only = args.connection.as_deref();
    if args.history {
        return super::health::history(ctx, &args.since, only);
    }
    if args.check {
        return super::health::check(ctx, &args.max_age, args.max_failed, only);
    }
    let Some(store) = record::open_for_reading(ctx)? else {
        if let Some(spec) = &args.record {
            return Err(Error::usage(format!(
                "no record `{spec}`: there is no state file at `{}` yet",
                ctx.state_path.display()
            ))
            .into());
        }
        if args.failed && ctx.out.json {
            // The shape of `status --failed --json`, with nothing in it.
            ctx.out.json(&serde_json::json!([]))?;
        } else if ctx.out.json {
            ctx.out.json(&serde_json::json!({ "state_file": null }))?;
        } else {
            ctx.out.note(format!(
                "nothing yet: there is no state file at `{}`; run `crmsync import FILE` or `crmsync sync` to start",
                ctx.state_path.display()
            ));
        }
        return Ok(Exit::Ok);
    };
    if let Some(spec) = &args.record {
        return one_record(ctx, &store, spec, args.connection.as_deref());
    }
    if args.failed {
        return failed(ctx, &store, args.connection.as_deref());
    }
    overview(ctx, &store, args.connection.as_deref())
}

/// When each connection last finished a sync without error.
pub fn last_successful_syncs(ctx: &Context) -> anyhow::Result<BTreeMap<String, Millis>> {
    let mut out = BTreeMap::new();
    let Some(store) = record::open_for_reading(ctx)? else {
        return Ok(out);
    };
    for name in ctx.config.connections.keys() {
        if let Some(at) = store.last_successful_sync(name)? {
            out.insert(name.clone(), at);
        }
    }
    Ok(out)
}

fn overview(ctx: &Context, store: &Store, only: Option<&str>) -> anyhow::Result<Exit> {
    let report = ops::status::overview(store, &ctx.config, ctx.state_path.clone(), only)?;
    if ctx.out.json {
        ctx.out.json(&report)?;
        return Ok(Exit::Ok);
    }
    let mut t = table(&ctx.out, &["object", "records", "archived"]);
    for (kind, c) in &report.local {
        t.add_row(vec![
            kind.to_string(),
            c.active.to_string(),
            c.archived.to_string(),
        ]);
    }
    ctx.out
        .data(format!("local store `{}`", ctx.state_path.display()))?;
    ctx.out.data(t)?;
    if report.connections.is_empty() {
        ctx.out.data("")?;
        ctx.out.data(
            "no connections configured; add one with `crmsync connect PROVIDER --name NAME`",
        )?;
    }
    for c in &report.connections {
        ctx.out.data("")?;
        ctx.out.data(format!(
            "{} ({}): {}, last successful sync {}",
            ctx.out.bold(&c.name),
            c.provider.display_name(),
            c.health.as_str(),
            c.last_successful_sync.map_or("never".to_string(), when)
        ))?;
        let mut t = table(
            &ctx.out,
            &[
                "object",
                "synced",
                "local only",
                "pending",
                "error",
                "conflict",
                "queue",
            ],
        );
        for k in &c.objects {
            t.add_row(vec![
                k.kind.to_string(),
                k.synced.to_string(),
                k.local_only.to_string(),
                k.pending.to_string(),
                k.error.to_string(),
                k.conflict.to_string(),
                k.queue_depth.to_string(),
            ]);
        }
        ctx.out.data(t)?;
        let errors: u64 = c.objects.iter().map(|k| k.error).sum();
        let conflicts: u64 = c.objects.iter().map(|k| k.conflict).sum();
        if errors > 0 {
            ctx.out.note(format!(
                "{errors} records failed: `crmsync status --failed -c {}` shows why, `crmsync retry -c {}` tries them again",
                c.name, c.name
            ));
        }
        if conflicts > 0 {
            ctx.out.note(format!(
                "{conflicts} records wait for a decision: see `crmsync conflicts list -c {}`",
                c.name
            ));
        }
    }
    if let Some(l) = &report.listener {
        ctx.out.data("")?;
        let state = if l.running {
            format!("running on {} (pid {})", l.address, l.pid)
        } else {
            "not running".to_string()
        };
        ctx.out.data(format!(
            "listener: {state}; {} queued, {} events in the last minute, {} applied, {} dropped (own writes coming back, or of another account), {} refused",
            l.queued, l.events_per_minute, l.applied, l.dropped, l.refused
        ))?;
        for e in &l.last_events {
            ctx.out.data(format!(
                "  last event of {}: {} ({}, {})",
                e.connection,
                e.summary,
                e.state,
                when(e.received_at)
            ))?;
        }
    }
    Ok(Exit::Ok)
}

fn failed(ctx: &Context, store: &Store, only: Option<&str>) -> anyhow::Result<Exit> {
    let failures = ops::retry::failed(store, &ctx.config, only, ctx.clock.now())?;
    if ctx.out.json {
        ctx.out.json(&failures)?;
        return Ok(Exit::Ok);
    }
    if failures.is_empty() {
        ctx.out.note("no failed records");
        return Ok(Exit::Ok);
    }
    let mut t = table(
        &ctx.out,
        &[
            "connection",
            "object",
            "record",
            "op",
            "attempts",
            "last try",
            "next try",
            "error",
        ],
    );
    for r in &failures {
        let f = &r.failure;
        t.add_row(vec![
            f.connection.clone(),
            f.kind.to_string(),
            f.local_id.to_string(),
            f.op.as_str().to_string(),
            f.attempts.to_string(),
            when(f.last_at),
            match (&r.parked_because, r.next_try) {
                (Some(reason), _) => format!("parked: {reason}"),
                (None, Some(at)) if r.retry == "due" || at <= ctx.clock.now() => {
                    "next sync".to_string()
                }
                (None, Some(at)) => when(at),
                (None, None) => "—".to_string(),
            },
            match &f.code {
                Some(code) => format!("{} ({code})", f.message),
                None => f.message.clone(),
            },
        ]);
    }
    ctx.out.data(t)?;
    ctx.out.note(
        "later syncs try waiting records again on their own; for a parked one, fix the data or the mapping, then `crmsync retry RECORD` (or `crmsync retry --parked`) and `crmsync sync`",
    );
    Ok(Exit::Ok)
}

fn one_record(
    ctx: &Context,
    store: &Store,
    spec: &str,
    only: Option<&str>,
) -> anyhow::Result<Exit> {
    let record = record::find(store, spec)?;
    let report = ops::status::record(store, &ctx.config, &record, only)?;
    if ctx.out.json {
        ctx.out.json(&report)?;
        return Ok(Exit::Ok);
    }
    ctx.out.data(format!(
        "{} {} (updated {}{})",
        report.kind,
        report.id,
        when(report.updated_at),
        report
            .archived_at
            .map_or(String::new(), |a| format!(", archived {}", when(a)))
    ))?;
    let mut t = table(&ctx.out, &["field", "value"]);
    for (k, v) in &report.fields {
        t.add_row(vec![k.clone(), v.clone()]);
    }
    ctx.out.data(t)?;
    if report.connections.is_empty() {
        return Ok(Exit::Ok);
    }
    ctx.out.data("")?;
    let mut t = table(
        &ctx.out,
        &["connection", "remote id", "state", "last sync", "problem"],
    );
    for c in &report.connections {
        let mut problems: Vec<String> = c
            .failure
            .iter()
            .map(|f| format!("{} failed: {}", f.op.as_str(), f.message))
            .collect();
        for conflict in &c.conflicts {
            problems.push(format!(
                "conflict {} on `{}`: local {} vs remote {}",
                conflict.id,
                conflict.field,
                or_dash(conflict.local.as_deref()),
                or_dash(conflict.remote.as_deref())
            ));
        }
        t.add_row(vec![
            c.connection.clone(),
            or_dash(c.remote_id.as_deref()),
            c.state.as_str().to_string(),
            c.synced_at.map_or("—".to_string(), when),
            if problems.is_empty() {
                "—".to_string()
            } else {
                problems.join("\n")
            },
        ]);
    }
    ctx.out.data(t)?;
    Ok(Exit::Ok)
}
