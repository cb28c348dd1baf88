//! Health over time, from the run log: each connection's runs, failures, uptime and
//! requests over a window (`status --history`, `connections --history`), and the verdict of
//! `status --check` for a monitoring timer or a CI gate.

use serde::Serialize;

use crate::config::Config;
use crate::error::Error;
use crate::model::Millis;
use crate::store::{Run, RunOutcome, Store};

/// One connection's sync runs over the window (`--history --json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConnectionHistory {
    pub connection: String,
    /// Sync runs that included the connection (a run still going is left out).
    pub runs: u64,
    /// Of those, the ones that did not finish well for it: an error, a safety gate, or a
    /// process that died before the end.
    pub failures: u64,
    /// The share of runs that succeeded (0 to 1); `null` without runs.
    pub uptime: Option<f64>,
    /// Requests sent to the CRM.
    pub requests: u64,
    pub last_run_at: Option<Millis>,
    pub last_success_at: Option<Millis>,
}

/// Whether `run` succeeded for `connection`: it finished, and stopped nothing of the
/// connection's (no error, no safety gate). Some failed records do not make it fail
/// (`--max-failed` watches them). A run whose counts name no connections (it stopped before
/// its connections started) succeeded when it finished `ok` or `partial`.
pub fn succeeded(run: &Run, connection: &str) -> bool {
    match (run.outcome, part_of(run, connection)) {
        (None, _) => false,
        (Some(_), Some(c)) => c["error"].is_null() && c["stopped_by"].is_null(),
        (Some(o), None) => matches!(o, RunOutcome::Ok | RunOutcome::Partial),
    }
}

/// The connection's entry in a sync run's counts.
fn part_of<'r>(run: &'r Run, connection: &str) -> Option<&'r serde_json::Value> {
    run.counts
        .as_array()?
        .iter()
        .find(|c| c["connection"].as_str() == Some(connection))
}

/// The connections to look at: `only`, else every configured one.
fn names(config: &Config, only: Option<&str>) -> anyhow::Result<Vec<String>> {
    match only {
        Some(name) => {
            config.connection(name).map_err(Error::usage)?;
            Ok(vec![name.to_string()])
        }
        None => Ok(config.connections.keys().cloned().collect()),
    }
}

/// Each connection's sync runs that started at or after `since`.
pub fn history(
    store: Option<&Store>,
    config: &Config,
    since: Millis,
    only: Option<&str>,
) -> anyhow::Result<Vec<ConnectionHistory>> {
    let mut out: Vec<ConnectionHistory> = names(config, only)?
        .into_iter()
        .map(|connection| ConnectionHistory {
            connection,
            ..ConnectionHistory::default()
        })
        .collect();
    let Some(store) = store else {
        return Ok(out);
    };
    let mut newest = true;
    store.visit_sync_runs(Some(since), |run| {
        // The newest run, unfinished, may be the one going now.
        let going = newest && run.outcome.is_none();
        newest = false;
        if going {
            return true;
        }
        for h in out.iter_mut() {
            if !run.connections.contains(&h.connection) {
                continue;
            }
            h.runs += 1;
            h.last_run_at.get_or_insert(run.started_at);
            if succeeded(&run, &h.connection) {
                h.last_success_at
                    .get_or_insert(run.finished_at.unwrap_or(run.started_at));
            } else {
                h.failures += 1;
            }
            h.requests += part_of(&run, &h.connection)
                .and_then(|c| c["requests"].as_u64())
                .unwrap_or(0);
        }
        true
    })?;
    for h in &mut out {
        h.uptime = (h.runs > 0).then(|| (h.runs - h.failures) as f64 / h.runs as f64);
    }
    Ok(out)
}

/// Why `status --check` is not content, most serious first; each has its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    /// The last finished sync of a connection failed.
    LastRunFailed,
    /// No successful sync of a connection for longer than `--max-age`.
    Stale,
    /// More failed records than `--max-failed`.
    TooManyFailed,
}

/// What `status --check` found (`--json` shape).
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub healthy: bool,
    /// The most serious problem found, which decides the exit code.
    pub problem: Option<Problem>,
    /// One line: what is wrong, or that all is well.
    pub message: String,
}

/// The limits `status --check` holds the run log to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_age_ms: i64,
    pub max_failed: Option<u64>,
}

/// Checks every connection (or `only`) against `limits` at `now`.
pub fn check(
    store: Option<&Store>,
    config: &Config,
    now: Millis,
    limits: Limits,
    only: Option<&str>,
) -> anyhow::Result<Verdict> {
    let names = names(config, only)?;
    if names.is_empty() {
        return Err(crate::error::usage_hinted(
            "no connections are configured, so there is nothing to check",
            "add one with `crmsync connect hubspot --name NAME`",
        ));
    }
    let mut found: Vec<(Problem, String)> = Vec::new();
    for name in &names {
        let mut last_finished: Option<Run> = None;
        let mut last_success: Option<Millis> = None;
        if let Some(store) = store {
            store.visit_sync_runs(None, |run| {
                if !run.connections.contains(name) || run.outcome.is_none() {
                    return true;
                }
                if succeeded(&run, name) {
                    last_success = Some(run.finished_at.unwrap_or(run.started_at));
                }
                last_finished.get_or_insert(run);
                last_success.is_none()
            })?;
        }
        if let Some(run) = last_finished.filter(|r| !succeeded(r, name)) {
            let why = part_of(&run, name)
                .and_then(|c| c["error"].as_str().map(str::to_string))
                .or(run.error.clone())
                .unwrap_or_else(|| run.outcome.map_or("unfinished", |o| o.as_str()).into());
            found.push((
                Problem::LastRunFailed,
                format!("the last sync of `{name}` (run {}) failed: {why}", run.id),
            ));
        }
        match last_success {
            None => found.push((
                Problem::Stale,
                format!("`{name}` has never synced successfully"),
            )),
            Some(at) if now - at > limits.max_age_ms => found.push((
                Problem::Stale,
                format!(
                    "no successful sync of `{name}` for {} (more than {})",
                    span(now - at),
                    span(limits.max_age_ms)
                ),
            )),
            Some(_) => {}
        }
        if let (Some(max), Some(store)) = (limits.max_failed, store) {
            let failed = store.list_failures(Some(name))?.len() as u64;
            if failed > max {
                found.push((
                    Problem::TooManyFailed,
                    format!(
                        "{failed} failed records of `{name}` (more than {max}); see `crmsync status --failed -c {name}`"
                    ),
                ));
            }
        }
    }
    found.sort_by_key(|(p, _)| *p);
    Ok(match found.first() {
        None => Verdict {
            healthy: true,
            problem: None,
            message: format!("healthy: {}", names.join(", ")),
        },
        Some((problem, _)) => Verdict {
            healthy: false,
            problem: Some(*problem),
            message: found
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        },
    })
}

/// Reads a span of time: a whole number with `s`, `m`, `h`, `d` or `w` (`30m`, `7d`).
pub fn parse_span(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let unit = text.chars().last().unwrap_or(' ');
    let ms: i64 = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        _ => {
            return Err(format!(
                "`{text}` is not a span of time: write it like `30m`, `12h` or `7d` (units s, m, h, d, w)"
            ));
        }
    };
    let n: i64 = text[..text.len() - 1]
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a span of time: write a whole number above 0 before the unit, like `30m` or `7d`"))?;
    n.checked_mul(ms)
        .ok_or_else(|| format!("`{text}` is too long a span of time"))
}

/// `2h 5m`, `3d 4h`, `45s`.
fn span(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_with_their_unit_and_refuse_anything_else() {
        assert_eq!(parse_span("30m"), Ok(1_800_000));
        assert_eq!(parse_span("7d"), Ok(604_800_000));
        assert_eq!(parse_span("2w"), Ok(1_209_600_000));
        assert_eq!(parse_span("45s"), Ok(45_000));
        for bad in [
            "",
            "7",
            "d",
            "0m",
            "-3h",
            "1.5h",
            "3y",
            "99999999999999999w",
        ] {
            assert!(parse_span(bad).is_err(), "{bad}");
        }
        assert_eq!(span(7_500_000), "2h 5m");
        assert_eq!(span(2 * 86_400_000 + 3_600_000), "2d 1h");
    }
}
