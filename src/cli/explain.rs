//! `crmsync explain RECORD [FIELD]`

use crate::ops::{self, explain::Explanation};
use crate::output::table::{or_dash, table};

use super::record::{self, decision, when};
use super::{Context, Exit};

/// Show a record's fields: base, local and remote values, direction, policy, last writer
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  crmsync explain ann@example.com\n  crmsync explain hubspot:5123 phone"
)]
pub struct Args {
    /// A local id, an email, or CONNECTION:REMOTE-ID
    pub record: String,
    /// Only this field
    pub field: Option<String>,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let store = record::open_existing(ctx)?;
    let record = record::find(&store, &args.record)?;
    if let Some(f) = &args.field
        && record.kind.field_type(f).is_none()
    {
        return Err(record::unknown_field(record.kind, f));
    }
    let report = ops::explain::explain(&store, &ctx.config, &record, args.field.as_deref())?;
    if ctx.out.json {
        ctx.out.json(&report)?;
        return Ok(Exit::Ok);
    }
    let failures = store.failures_of_record(&record.id)?;
    render(ctx, &record, &report, &failures)
}

fn render(
    ctx: &Context,
    record: &crate::model::Record,
    report: &Explanation,
    failures: &[crate::store::Failure],
) -> anyhow::Result<Exit> {
    ctx.out.data(format!("{} {}", report.kind, report.id))?;
    if report.connections.is_empty() {
        let mut t = table(&ctx.out, &["field", "local", "last writer"]);
        for (k, v) in &record.fields {
            t.add_row(vec![k.clone(), v.clone(), "—".to_string()]);
        }
        ctx.out.data(t)?;
        if failures.is_empty() {
            ctx.out.note(
                "not linked to any connection yet: the next `crmsync sync` creates or matches it",
            );
        }
        for f in failures {
            ctx.out.note(format!(
                "not linked to `{}`: the last try failed ({}); fix the cause, then `crmsync retry` and `crmsync sync`",
                f.connection, f.message
            ));
        }
        return Ok(Exit::Ok);
    }
    for c in &report.connections {
        ctx.out.data("")?;
        ctx.out.data(format!(
            "{} → remote id {}, last synced {}{}",
            ctx.out.bold(&c.connection),
            c.remote_id,
            when(c.synced_at),
            if c.retired {
                " (retired)"
            } else if c.pending {
                " (local changes wait for the next sync)"
            } else {
                ""
            }
        ))?;
        let mut t = table(
            &ctx.out,
            &[
                "field",
                "base",
                "local",
                "remote (as of last sync)",
                "direction",
                "policy",
                "next sync",
                "last writer",
                "last conflict",
            ],
        );
        for f in &c.fields {
            t.add_row(vec![
                f.field.clone(),
                or_dash(f.base.as_deref()),
                or_dash(f.local.as_deref()),
                or_dash(f.remote.as_deref()),
                format!("{} ({})", f.direction.as_str(), f.direction_source),
                format!("{} ({})", f.policy.as_str(), f.policy_source),
                f.next.clone(),
                f.last_writer.as_ref().map_or("—".to_string(), |w| {
                    format!(
                        "{} {} {}{}",
                        w.side,
                        w.cause.as_str(),
                        when(w.at),
                        w.run.map_or(String::new(), |r| format!(", run {r}"))
                    )
                }),
                f.last_conflict.as_ref().map_or("—".to_string(), |c| {
                    format!("{}: {}", c.id, decision(c.decision.as_ref()))
                }),
            ]);
        }
        ctx.out.data(t)?;
    }
    ctx.out.note(
        "the remote column is the CRM's value at the last sync; `crmsync sync --dry-run` compares with the CRM now",
    );
    Ok(Exit::Ok)
}
