//! `crmsync conflicts list|show|resolve`

use serde::Serialize;

use crate::error::{Error, hinted};
use crate::ops::{self, conflicts::Choice};
use crate::output::table::{or_dash, table};
use crate::store::{Conflict, ConflictFilter, Store};

use super::record::{self, NOT_RECORDED, compared_time, decision, when};
use super::{Context, Exit};

/// List, show and resolve conflicts held by the `manual` policy
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync conflicts list
  crmsync conflicts show 12
  crmsync conflicts resolve 12 --take remote
  crmsync conflicts resolve 12 --value 'she/her'
  crmsync conflicts resolve --all --take local")]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// List open conflicts (the default)
    List {
        /// Only this connection
        #[arg(long, short = 'c', value_name = "NAME")]
        connection: Option<String>,
    },
    /// Show one conflict with its base, local and remote values
    Show {
        /// The conflict's number
        id: i64,
    },
    /// Resolve conflicts; the next sync writes the chosen value
    #[command(group(clap::ArgGroup::new("choice").args(["take", "value"]).required(true)))]
    Resolve {
        /// The conflict's number
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Resolve every open conflict (of `--connection`, if given)
        #[arg(long)]
        all: bool,
        /// Only this connection (with `--all`)
        #[arg(long, short = 'c', value_name = "NAME", requires = "all")]
        connection: Option<String>,
        /// Take the local or the remote value
        #[arg(long, value_parser = ["local", "remote"])]
        take: Option<String>,
        /// Set this value instead
        #[arg(long)]
        value: Option<String>,
    },
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    match args.action.unwrap_or(Action::List { connection: None }) {
        Action::List { connection } => list(ctx, connection),
        Action::Show { id } => show(ctx, id),
        Action::Resolve {
            id,
            all,
            connection,
            take,
            value,
        } => {
            let choice = match (take.as_deref(), value) {
                (Some("local"), _) => Choice::Local,
                (Some(_), _) => Choice::Remote,
                (None, Some(v)) => Choice::Value(v),
                (None, None) => {
                    return Err(Error::usage(
                        "pass `--take local`, `--take remote` or `--value V`".into(),
                    )
                    .into());
                }
            };
            if all && matches!(choice, Choice::Value(_)) {
                return Err(Error::usage(
                    "`--value` sets one field of one conflict: name the conflict instead of `--all`".into(),
                )
                .into());
            }
            resolve(ctx, id, connection, choice)
        }
    }
}

fn list(ctx: &Context, connection: Option<String>) -> anyhow::Result<Exit> {
    let Some(store) = record::open_for_reading(ctx)? else {
        if ctx.out.json {
            ctx.out.json(&Vec::<Conflict>::new())?;
        } else {
            ctx.out.note("no conflicts: nothing has been synced yet");
        }
        return Ok(Exit::Ok);
    };
    let conflicts = store.list_open_conflicts(&ConflictFilter {
        connection,
        ..ConflictFilter::default()
    })?;
    if ctx.out.json {
        ctx.out.json(&conflicts)?;
        return Ok(Exit::Ok);
    }
    if conflicts.is_empty() {
        ctx.out.note("no open conflicts");
        return Ok(Exit::Ok);
    }
    let mut t = table(
        &ctx.out,
        &[
            "id",
            "connection",
            "record",
            "field",
            "base",
            "local",
            "remote",
            "detected",
            "decision",
        ],
    );
    for c in &conflicts {
        t.add_row(vec![
            c.id.to_string(),
            c.connection.clone(),
            describe(&store, c)?,
            c.field.clone(),
            or_dash(c.base.as_deref()),
            or_dash(c.local.as_deref()),
            or_dash(c.remote.as_deref()),
            when(c.detected_at),
            decision(c.decision.as_ref()),
        ]);
    }
    ctx.out.data(t)?;
    ctx.out.note(
        "resolve with `crmsync conflicts resolve ID --take local|remote` or `--value V`; the next sync writes the choice",
    );
    Ok(Exit::Ok)
}

/// A record as people know it: its email, domain or name, else its id.
fn describe(store: &Store, c: &Conflict) -> anyhow::Result<String> {
    let record = store.get_record(&c.local_id)?;
    let label = record.as_ref().and_then(|r| {
        ["email", "domain", "name", "subject"]
            .iter()
            .find_map(|f| r.get(f).map(str::to_string))
    });
    Ok(match label {
        Some(l) => format!("{} {l}", c.kind),
        None => format!("{} {}", c.kind, c.local_id),
    })
}

fn show(ctx: &Context, id: i64) -> anyhow::Result<Exit> {
    let store = record::open_existing(ctx)?;
    let c = store.get_conflict(id)?.ok_or_else(|| {
        hinted(
            format!("there is no conflict {id}"),
            "run `crmsync conflicts list` to see the open ones",
        )
    })?;
    if ctx.out.json {
        ctx.out.json(&c)?;
        return Ok(Exit::Ok);
    }
    let mut t = table(&ctx.out, &["", ""]);
    t.add_row(vec!["conflict".to_string(), c.id.to_string()]);
    t.add_row(vec!["connection".to_string(), c.connection.clone()]);
    t.add_row(vec!["record".to_string(), describe(&store, &c)?]);
    t.add_row(vec!["local id".to_string(), c.local_id.to_string()]);
    t.add_row(vec!["field".to_string(), c.field.clone()]);
    t.add_row(vec![
        "base (last agreed)".to_string(),
        or_dash(c.base.as_deref()),
    ]);
    t.add_row(vec!["local".to_string(), or_dash(c.local.as_deref())]);
    t.add_row(vec!["remote".to_string(), or_dash(c.remote.as_deref())]);
    t.add_row(vec!["detected".to_string(), when(c.detected_at)]);
    let not_recorded = || NOT_RECORDED.to_string();
    let d = c.decision.as_ref();
    t.add_row(vec![
        "policy".to_string(),
        d.map_or_else(not_recorded, |d| d.policy.clone()),
    ]);
    t.add_row(vec![
        "local time (compared)".to_string(),
        d.map_or_else(not_recorded, |d| {
            compared_time(d.local_updated_at, &d.local_time_source)
        }),
    ]);
    t.add_row(vec![
        "remote time (compared)".to_string(),
        d.map_or_else(not_recorded, |d| {
            compared_time(d.remote_updated_at, &d.remote_time_source)
        }),
    ]);
    t.add_row(vec![
        "outcome".to_string(),
        d.map_or_else(not_recorded, |d| match d.run {
            Some(run) => format!("{} (run {run})", d.outcome),
            None => d.outcome.clone(),
        }),
    ]);
    match c.resolved_at {
        Some(at) => t.add_row(vec![
            "resolved".to_string(),
            format!(
                "{} with {} ({})",
                when(at),
                or_dash(c.resolution.as_deref()),
                c.resolved_by.as_deref().unwrap_or("?")
            ),
        ]),
        None => t.add_row(vec!["resolved".to_string(), "no".to_string()]),
    };
    ctx.out.data(t)?;
    Ok(Exit::Ok)
}

/// `crmsync conflicts resolve --json`: the conflicts as resolved.
#[derive(Debug, Serialize)]
pub struct Resolved {
    pub resolved: Vec<Conflict>,
}

fn resolve(
    ctx: &Context,
    id: Option<i64>,
    connection: Option<String>,
    choice: Choice,
) -> anyhow::Result<Exit> {
    if let Some(name) = &connection {
        ctx.config.connection(name).map_err(Error::usage)?;
    }
    let (mut store, _lock) = record::open_locked(ctx)?;
    let resolved = ops::conflicts::resolve(&mut store, &*ctx.clock, id, connection, &choice)?;
    if ctx.out.json {
        ctx.out.json(&Resolved { resolved })?;
        return Ok(Exit::Ok);
    }
    if resolved.is_empty() {
        ctx.out.note("no open conflicts to resolve");
        return Ok(Exit::Ok);
    }
    for c in &resolved {
        ctx.out.note(format!(
            "resolved conflict {} ({} `{}` of {}): {}",
            c.id,
            c.connection,
            c.field,
            c.local_id,
            or_dash(c.resolution.as_deref())
        ));
    }
    ctx.out
        .note("run `crmsync sync` to write the chosen values to the CRMs");
    Ok(Exit::Ok)
}
