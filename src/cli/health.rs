//! `status --history`, `connections --history` and `status --check`: health over time.

use crate::ops::health::{self, ConnectionHistory, Limits, Problem};

use super::record::{self, when};
use super::{Context, Exit};

/// Prints each connection's runs, failures, uptime and requests since `since` (a span).
pub fn history(ctx: &Context, since: &str, only: Option<&str>) -> anyhow::Result<Exit> {
    let span = health::parse_span(since).map_err(crate::error::Error::usage)?;
    let store = record::open_for_reading(ctx)?;
    let rows = health::history(store.as_ref(), &ctx.config, ctx.clock.now() - span, only)?;
    if ctx.out.json {
        ctx.out.json(&rows)?;
        return Ok(Exit::Ok);
    }
    if rows.is_empty() {
        ctx.out.note("no connections configured");
        return Ok(Exit::Ok);
    }
    ctx.out.data(format!("sync runs in the last {since}"))?;
    let mut t = crate::output::table::table(
        &ctx.out,
        &[
            "connection",
            "runs",
            "failures",
            "uptime",
            "requests",
            "last run",
            "last success",
        ],
    );
    for h in &rows {
        t.add_row(row(h));
    }
    ctx.out.data(t)?;
    Ok(Exit::Ok)
}

fn row(h: &ConnectionHistory) -> Vec<String> {
    vec![
        h.connection.clone(),
        h.runs.to_string(),
        h.failures.to_string(),
        h.uptime
            .map_or("—".to_string(), |u| format!("{:.1}%", u * 100.0)),
        h.requests.to_string(),
        h.last_run_at.map_or("—".to_string(), when),
        h.last_success_at.map_or("—".to_string(), when),
    ]
}

/// `status --check`: one line, and the exit code of the most serious problem.
pub fn check(
    ctx: &Context,
    max_age: &str,
    max_failed: Option<u64>,
    only: Option<&str>,
) -> anyhow::Result<Exit> {
    let max_age_ms = health::parse_span(max_age).map_err(crate::error::Error::usage)?;
    let store = record::open_for_reading(ctx)?;
    let verdict = health::check(
        store.as_ref(),
        &ctx.config,
        ctx.clock.now(),
        Limits {
            max_age_ms,
            max_failed,
        },
        only,
    )?;
    if ctx.out.json {
        ctx.out.json(&verdict)?;
    } else {
        ctx.out.data(&verdict.message)?;
    }
    Ok(match verdict.problem {
        None => Exit::Ok,
        Some(Problem::Stale) => Exit::Stale,
        Some(Problem::TooManyFailed) => Exit::TooManyFailed,
        Some(Problem::LastRunFailed) => Exit::LastRunFailed,
    })
}
