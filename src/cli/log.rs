//! `crmsync log`

use serde::Serialize;

use crate::output::table::{or_dash, table};
use crate::store::{AuditEntry, CREATED_FIELD, Conflict, ConflictFilter, ERASED_FIELD, Run};

use super::record::{self, decision, when};
use super::{Context, Exit};

/// Past runs with counts and durations, or the audit trail of a record's field changes
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  crmsync log\n  crmsync log --prune\n  crmsync log --record ann@example.com\n  crmsync log --record ann@example.com --field phone"
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
    /// Remove runs and audit entries older than `log.keep_days` now (a sync run does it at
    /// its end)
    #[arg(long, conflicts_with_all = ["record", "field"])]
    pub prune: bool,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    if args.prune {
        return super::backup::prune(ctx);
    }
    let Some(store) = record::open_for_reading(ctx)? else {
        if ctx.out.json {
            ctx.out.json(&Vec::<Run>::new())?;
        } else {
            ctx.out
                .note("nothing yet: no command has written the state file");
        }
        return Ok(Exit::Ok);
    };
    match &args.record {
        None => runs(ctx, store.list_runs(args.limit)?),
        Some(spec) => {
            let record = record::find(&store, spec)?;
            let entries = store.audit_for_record(&record.id, args.field.as_deref(), args.limit)?;
            if let Some(field) = &args.field
                && entries.is_empty()
                && record.kind.field_type(field).is_none()
            {
                return Err(record::unknown_field(record.kind, field));
            }
            let conflicts = store.list_conflicts(&ConflictFilter {
                local_id: Some(record.id.clone()),
                field: args.field.clone(),
                ..ConflictFilter::default()
            })?;
            let entries: Vec<AuditView> = entries
                .into_iter()
                .map(|entry| AuditView {
                    conflict: decided_by(&entry, &conflicts).cloned(),
                    entry,
                })
                .collect();
            audit(ctx, &entries)
        }
    }
}

fn runs(ctx: &Context, runs: Vec<Run>) -> anyhow::Result<Exit> {
    if ctx.out.json {
        ctx.out.json(&runs)?;
        return Ok(Exit::Ok);
    }
    if runs.is_empty() {
        ctx.out.note("no runs yet");
        return Ok(Exit::Ok);
    }
    let mut t = table(
        &ctx.out,
        &[
            "run",
            "command",
            "connections",
            "started",
            "duration",
            "outcome",
            "counts",
        ],
    );
    for r in &runs {
        t.add_row(vec![
            r.id.to_string(),
            r.command.clone(),
            if r.connections.is_empty() {
                "—".to_string()
            } else {
                r.connections.join(", ")
            },
            when(r.started_at),
            r.finished_at
                .map_or("—".to_string(), |f| duration(f - r.started_at)),
            match (r.outcome, &r.error) {
                (Some(o), Some(e)) => format!("{}: {e}", o.as_str()),
                (Some(o), None) => format!("{}{}", o.as_str(), waiting(&r.counts)),
                (None, _) => "unfinished".to_string(),
            },
            counts(&r.counts),
        ]);
    }
    ctx.out.data(t)?;
    Ok(Exit::Ok)
}

/// What a finished sync left waiting (its exit code 3): `, 8 failed, 1 conflict waiting`,
/// from the `failed_records` and `open_conflicts` of its connections; empty when nothing.
fn waiting(counts: &serde_json::Value) -> String {
    let sum = |key: &str| -> u64 {
        counts
            .as_array()
            .map_or(0, |cs| cs.iter().filter_map(|c| c[key].as_u64()).sum())
    };
    let mut out = String::new();
    match sum("failed_records") {
        0 => {}
        n => out.push_str(&format!(", {n} failed")),
    }
    match sum("open_conflicts") {
        0 => {}
        1 => out.push_str(", 1 conflict waiting"),
        n => out.push_str(&format!(", {n} conflicts waiting")),
    }
    out
}

/// `1.2s`, `3m 4s`, `2h 5m`.
fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    let s = ms / 1000;
    match s {
        0..60 => format!("{:.1}s", ms as f64 / 1000.0),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

/// The non-zero numbers of a run's counts, `loaded 3, rejected 1`; nested objects are
/// flattened as `name.key`, and a list of them (a sync's connections, and their objects) by
/// the name each item carries (`hubspot.contact.failed 2`).
fn counts(v: &serde_json::Value) -> String {
    fn join(prefix: &str, key: &str) -> String {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    }
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    // `planned` holds the plan's counts, and a list's items carry their
                    // own names: `hubspot.contact.remote create 3`.
                    let key = if k == "planned" || v.is_array() {
                        prefix.to_string()
                    } else {
                        join(prefix, k)
                    };
                    walk(&key, v, out);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let name = ["connection", "object"]
                        .iter()
                        .find_map(|k| item.get(*k).and_then(|n| n.as_str()))
                        .map_or_else(|| i.to_string(), str::to_string);
                    walk(&join(prefix, &name), item, out);
                }
            }
            serde_json::Value::Number(n) if n.as_f64() != Some(0.0) => {
                out.push(format!("{} {n}", prefix.replace('_', " ")));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    if out.is_empty() {
        "—".to_string()
    } else {
        out.join(", ")
    }
}

/// `crmsync log --record R --json`: an audit entry, with the conflict whose decision made the
/// change (`null` for a change no conflict decided).
#[derive(Debug, Serialize)]
pub struct AuditView {
    #[serde(flatten)]
    pub entry: AuditEntry,
    pub conflict: Option<Conflict>,
}

/// The conflict a sync decided with the change `e`: the same run, connection, record and
/// field. Conflicts kept without their decision are never matched.
fn decided_by<'c>(e: &AuditEntry, conflicts: &'c [Conflict]) -> Option<&'c Conflict> {
    let run = e.run?;
    conflicts.iter().rev().find(|c| {
        c.local_id == e.record_id
            && c.field == e.field
            && e.connection.as_deref() == Some(c.connection.as_str())
            && c.decision.as_ref().and_then(|d| d.run) == Some(run)
    })
}

fn audit(ctx: &Context, entries: &[AuditView]) -> anyhow::Result<Exit> {
    if ctx.out.json {
        ctx.out.json(&entries)?;
        return Ok(Exit::Ok);
    }
    if entries.is_empty() {
        ctx.out.note("no changes recorded for this record");
        return Ok(Exit::Ok);
    }
    let mut t = table(
        &ctx.out,
        &[
            "time",
            "field",
            "change",
            "side",
            "cause",
            "run",
            "decided by",
        ],
    );
    for view in entries {
        let e = &view.entry;
        let field = if e.field == CREATED_FIELD {
            "(created)".to_string()
        } else {
            e.field.clone()
        };
        let change = if e.field == CREATED_FIELD {
            "—".to_string()
        } else if e.field == ERASED_FIELD {
            "every value erased".to_string()
        } else {
            format!(
                "{} → {}",
                or_dash(e.old.as_deref()),
                or_dash(e.new.as_deref())
            )
        };
        let cause = match &e.connection {
            Some(c) if c != &e.side => format!("{} ({c})", e.cause.as_str()),
            _ => e.cause.as_str().to_string(),
        };
        t.add_row(vec![
            when(e.at),
            field,
            change,
            e.side.clone(),
            cause,
            e.run.map_or("—".to_string(), |r| r.to_string()),
            view.conflict.as_ref().map_or("—".to_string(), |c| {
                format!("conflict {}: {}", c.id, decision(c.decision.as_ref()))
            }),
        ]);
    }
    ctx.out.data(t)?;
    Ok(Exit::Ok)
}
