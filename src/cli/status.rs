//! `crmsync status`

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Error;
use crate::model::{Fields, Millis, ObjectKind, RecordId};
use crate::output::table::{or_dash, table};
use crate::store::{ConflictFilter, Failure, KindStatus, RunOutcome, Store};

use super::record::{self, when};
use super::{Context, Exit};

/// Health per connection, last successful sync, and counts by record state
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  crmsync status\n  crmsync status --failed\n  crmsync status ann@example.com"
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
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    if let Some(name) = &args.connection {
        ctx.config.connection(name).map_err(Error::usage)?;
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

/// How a connection is doing, from its last sync and what waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// The last sync finished without error and nothing failed or waits for a decision.
    Healthy,
    /// Records failed, conflicts wait, or the last sync finished only partly.
    Degraded,
    /// The last sync failed or was stopped.
    Failed,
    /// No sync has run for this connection yet.
    NeverSynced,
}

impl Health {
    fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Failed => "failed",
            Health::NeverSynced => "never synced",
        }
    }
}

/// `crmsync status --json`
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub state_file: std::path::PathBuf,
    pub connections: Vec<ConnectionStatus>,
    /// Local records per object (archived ones not counted).
    pub local: BTreeMap<ObjectKind, LocalCount>,
}

#[derive(Debug, Serialize)]
pub struct LocalCount {
    pub active: u64,
    pub archived: u64,
}

#[derive(Debug, Serialize)]
pub struct ConnectionStatus {
    pub name: String,
    pub provider: crate::providers::ProviderKind,
    pub health: Health,
    /// The outcome of the last sync that included this connection (`null`: none, or it has
    /// not finished).
    pub last_run: Option<RunOutcome>,
    pub last_successful_sync: Option<Millis>,
    pub objects: Vec<KindStatus>,
}

fn overview(ctx: &Context, store: &Store, only: Option<&str>) -> anyhow::Result<Exit> {
    let mut connections = Vec::new();
    for (name, conn) in &ctx.config.connections {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let objects = store.status_all(name)?;
        let last = store.last_run_outcome("sync", name)?;
        let waiting = objects.iter().any(|k| k.error > 0 || k.conflict > 0);
        let health = match last {
            None => Health::NeverSynced,
            Some(Some(RunOutcome::Failed | RunOutcome::Stopped)) => Health::Failed,
            // A sync that never finished died mid-run; the next one recovers.
            Some(None) => Health::Failed,
            Some(Some(RunOutcome::Partial)) => Health::Degraded,
            Some(Some(RunOutcome::Ok)) if waiting => Health::Degraded,
            Some(Some(RunOutcome::Ok)) => Health::Healthy,
        };
        let health = if health == Health::NeverSynced && waiting {
            Health::Degraded
        } else {
            health
        };
        connections.push(ConnectionStatus {
            name: name.clone(),
            provider: conn.provider,
            health,
            last_run: last.flatten(),
            last_successful_sync: store.last_successful_sync(name)?,
            objects,
        });
    }
    let mut local = BTreeMap::new();
    for kind in ObjectKind::ALL {
        let active = store.count_records(kind, false)?;
        let all = store.count_records(kind, true)?;
        local.insert(
            kind,
            LocalCount {
                active,
                archived: all - active,
            },
        );
    }
    let report = StatusReport {
        state_file: ctx.state_path.clone(),
        connections,
        local,
    };
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
    Ok(Exit::Ok)
}

fn failed(ctx: &Context, store: &Store, only: Option<&str>) -> anyhow::Result<Exit> {
    let failures = store.list_failures(only)?;
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
            "error",
        ],
    );
    for f in &failures {
        t.add_row(vec![
            f.connection.clone(),
            f.kind.to_string(),
            f.local_id.to_string(),
            f.op.as_str().to_string(),
            f.attempts.to_string(),
            when(f.last_at),
            match &f.code {
                Some(code) => format!("{} ({code})", f.message),
                None => f.message.clone(),
            },
        ]);
    }
    ctx.out.data(t)?;
    ctx.out
        .note("fix the data or the mapping, then `crmsync retry` and `crmsync sync`");
    Ok(Exit::Ok)
}

/// `crmsync status RECORD --json`
#[derive(Debug, Serialize)]
pub struct RecordStatus {
    pub id: RecordId,
    pub kind: ObjectKind,
    pub fields: Fields,
    pub updated_at: Millis,
    pub archived_at: Option<Millis>,
    pub connections: Vec<RecordLink>,
}

/// One connection's view of a record.
#[derive(Debug, Serialize)]
pub struct RecordLink {
    pub connection: String,
    /// The CRM's id (`null`: not linked).
    pub remote_id: Option<String>,
    /// `synced`, `local-only`, `pending`, `error`, `conflict` or `retired`.
    pub state: &'static str,
    pub synced_at: Option<Millis>,
    pub failure: Option<Failure>,
    pub conflicts: Vec<crate::store::Conflict>,
}

fn one_record(
    ctx: &Context,
    store: &Store,
    spec: &str,
    only: Option<&str>,
) -> anyhow::Result<Exit> {
    let record = record::find(store, spec)?;
    let links = store.links_of_record(&record.id)?;
    let failures = store.failures_of_record(&record.id)?;
    let mut names: Vec<String> = ctx.config.connections.keys().cloned().collect();
    for l in &links {
        if !names.contains(&l.connection) {
            names.push(l.connection.clone());
        }
    }
    let mut connections = Vec::new();
    for name in names {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let link = links.iter().find(|l| l.connection == name);
        let failure = failures.iter().find(|f| f.connection == name).cloned();
        let conflicts = store.list_open_conflicts(&ConflictFilter {
            connection: Some(name.clone()),
            local_id: Some(record.id.clone()),
            ..ConflictFilter::default()
        })?;
        let pending =
            store.record_seq(&record.id)?.unwrap_or(0) > store.local_cursor(&name, record.kind)?;
        let state = if !conflicts.is_empty() {
            "conflict"
        } else if failure.is_some() {
            "error"
        } else if link.is_some_and(|l| l.retired) {
            "retired"
        } else if pending {
            // Linked or not, its change waits for the next push (as `status` counts it).
            "pending"
        } else if link.is_some() {
            "synced"
        } else {
            "local-only"
        };
        connections.push(RecordLink {
            connection: name,
            remote_id: link.map(|l| l.remote_id.clone()),
            state,
            synced_at: link.map(|l| l.synced_at),
            failure,
            conflicts,
        });
    }
    let report = RecordStatus {
        id: record.id.clone(),
        kind: record.kind,
        fields: record.fields.clone(),
        updated_at: record.updated_at,
        archived_at: record.archived_at,
        connections,
    };
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
            c.state.to_string(),
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
