//! `crmsync records list` and `crmsync records show`: the local store, looked at.

use crate::error::Error;
use crate::model::{Millis, ObjectKind};
use crate::ops::records::{ListQuery, Listed};
use crate::ops::status::RecordState;
use crate::ops::{self};
use crate::output::table::{or_dash, table};

use super::super::record::{self, when};
use super::super::{Context, Exit};

/// List local records, filtered
#[derive(Debug, clap::Args)]
#[command(
    after_help = "`--where` takes the language of `create_when` rules: fields, values,
`== != >= <= > <`, `and`, `or`, `not` and parentheses; a field alone means it is not empty.
A record's state is towards each connection (or the one `--connection` names); `--sync-state`
keeps the records in that state towards any of them.

Examples:
  crmsync records list
  crmsync records list --object contact --where \"warmness >= 4 and not phone\"
  crmsync records list --sync-state error --connection hubspot
  crmsync records list --changed-since 2h --json
  crmsync records list --changed-since 2026-01-15T09:00:00Z --limit 20"
)]
pub struct ListArgs {
    /// Only this object [default: all]
    #[arg(long, value_name = "OBJECT", value_parser = object_values())]
    pub object: Option<ObjectKind>,
    /// Only records the expression admits (the `create_when` rule language)
    #[arg(long = "where", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Only records in this sync state towards a connection (`--state` names the state file)
    #[arg(long, value_enum, value_name = "STATE")]
    pub sync_state: Option<StateArg>,
    /// States towards this connection only
    #[arg(long, short = 'c', value_name = "NAME")]
    pub connection: Option<String>,
    /// Only records changed since WHEN: an RFC 3339 time, or a span back from now (`2h`, `3d`)
    #[arg(long, value_name = "WHEN")]
    pub changed_since: Option<String>,
    /// At most N records
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// Show one local record: its fields, links with their sync state, and latest audit
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync records show ann@example.com
  crmsync records show hubspot:5123 --json")]
pub struct ShowArgs {
    /// A local id, email, domain or CONNECTION:REMOTE-ID
    #[arg(value_name = "RECORD")]
    pub record: String,
}

/// A record's state, as `--sync-state` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StateArg {
    Synced,
    Pending,
    Error,
    Conflict,
    LocalOnly,
}

impl From<StateArg> for RecordState {
    fn from(s: StateArg) -> RecordState {
        match s {
            StateArg::Synced => RecordState::Synced,
            StateArg::Pending => RecordState::Pending,
            StateArg::Error => RecordState::Error,
            StateArg::Conflict => RecordState::Conflict,
            StateArg::LocalOnly => RecordState::LocalOnly,
        }
    }
}

/// The objects the model has, as `--object` takes them.
fn object_values() -> impl clap::builder::TypedValueParser<Value = ObjectKind> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(ObjectKind::ALL.map(ObjectKind::as_str))
        .try_map(|s| s.parse::<ObjectKind>())
}

/// `WHEN` as a time: RFC 3339, or a span back from `now`.
fn since(text: &str, now: Millis) -> anyhow::Result<Millis> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.timestamp_millis());
    }
    match crate::config::retry::parse_span(text) {
        Ok(span) => Ok(now - span),
        Err(_) => Err(Error::usage(format!(
            "`--changed-since {text}`: expected an RFC 3339 time (`2026-01-15T09:00:00Z`) or a span back from now (`30m`, `2h`, `3d`)"
        ))
        .into()),
    }
}

pub fn list(ctx: &Context, args: ListArgs) -> anyhow::Result<Exit> {
    let query = ListQuery {
        objects: args.object.into_iter().collect(),
        filter: args.filter,
        state: args.sync_state.map(RecordState::from),
        connection: args.connection,
        changed_since: args
            .changed_since
            .as_deref()
            .map(|t| since(t, ctx.clock.now()))
            .transpose()?,
        limit: args.limit,
    };
    let listed = match record::open_for_reading(ctx)? {
        Some(store) => ops::records::list(&store, &ctx.config, &query)?,
        None => {
            // Nothing stored yet, but a bad filter or connection is still refused.
            ops::records::check_query(&ctx.config, &query)?;
            Vec::new()
        }
    };
    if ctx.out.json {
        ctx.out.json(&listed)?;
        return Ok(Exit::Ok);
    }
    if listed.is_empty() {
        ctx.out.note("no records match");
        return Ok(Exit::Ok);
    }
    let mut t = table(&ctx.out, &["id", "object", "record", "state", "updated"]);
    for r in &listed {
        t.add_row(vec![
            r.id.to_string(),
            r.kind.to_string(),
            label(r),
            states(r),
            when(r.updated_at),
        ]);
    }
    ctx.out.data(t)?;
    if args.limit.is_some_and(|n| listed.len() >= n) {
        ctx.out.note(format!(
            "the first {} records; `--limit` shows more",
            listed.len()
        ));
    }
    Ok(Exit::Ok)
}

/// What a person knows a record by: its email, name, domain or subject.
fn label(r: &Listed) -> String {
    let f = |k: &str| r.fields.get(k).map(String::as_str);
    let name = match (f("first_name"), f("last_name")) {
        (Some(a), Some(b)) => Some(format!("{a} {b}")),
        (a, b) => a.or(b).map(str::to_string),
    };
    let text = match r.kind {
        ObjectKind::Contact => match (name, f("email")) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (n, e) => n.or(e.map(str::to_string)).unwrap_or_default(),
        },
        ObjectKind::Company => f("name").or(f("domain")).unwrap_or_default().to_string(),
        ObjectKind::Activity => f("subject").or(f("type")).unwrap_or_default().to_string(),
        ObjectKind::Deal => f("name").or(f("stage")).unwrap_or_default().to_string(),
    };
    let text = or_dash(Some(&text));
    match r.archived_at {
        Some(_) => format!("{text} (archived)"),
        None => text,
    }
}

/// `hubspot: synced, pipedrive: pending`; the state alone without a connection.
fn states(r: &Listed) -> String {
    r.connections
        .iter()
        .map(|c| {
            if c.connection.is_empty() {
                c.state.as_str().to_string()
            } else {
                format!("{}: {}", c.connection, c.state.as_str())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn show(ctx: &Context, args: ShowArgs) -> anyhow::Result<Exit> {
    let store = record::open_existing(ctx)?;
    let found = record::find(&store, &args.record)?;
    let shown = ops::records::show(&store, &ctx.config, &found)?;
    if ctx.out.json {
        ctx.out.json(&shown)?;
        return Ok(Exit::Ok);
    }
    let r = &shown.record;
    ctx.out.data(format!(
        "{} {} (updated {}{})",
        r.kind,
        r.id,
        when(r.updated_at),
        r.archived_at
            .map_or(String::new(), |a| format!(", archived {}", when(a)))
    ))?;
    let mut t = table(&ctx.out, &["field", "value"]);
    for (k, v) in &r.fields {
        t.add_row(vec![k.clone(), v.clone()]);
    }
    ctx.out.data(t)?;
    if !r.connections.is_empty() {
        ctx.out.data("")?;
        let mut t = table(
            &ctx.out,
            &["connection", "remote id", "state", "last sync", "problem"],
        );
        for c in &r.connections {
            let problem = c
                .failure
                .as_ref()
                .map(|f| format!("{} failed: {}", f.op.as_str(), f.message))
                .or_else(|| {
                    (!c.conflicts.is_empty())
                        .then(|| format!("{} open conflict(s)", c.conflicts.len()))
                });
            t.add_row(vec![
                c.connection.clone(),
                or_dash(c.remote_id.as_deref()),
                c.state.as_str().to_string(),
                c.synced_at.map_or("—".to_string(), when),
                or_dash(problem.as_deref()),
            ]);
        }
        ctx.out.data(t)?;
    }
    if !shown.audit.is_empty() {
        ctx.out.data("")?;
        let mut t = table(&ctx.out, &["when", "field", "was", "now", "by"]);
        for a in &shown.audit {
            let by = match &a.connection {
                Some(c) => format!("{} ({c})", a.cause.as_str()),
                None => a.cause.as_str().to_string(),
            };
            t.add_row(vec![
                when(a.at),
                a.field.clone(),
                or_dash(a.old.as_deref()),
                or_dash(a.new.as_deref()),
                by,
            ]);
        }
        ctx.out.data(t)?;
    }
    Ok(Exit::Ok)
}
