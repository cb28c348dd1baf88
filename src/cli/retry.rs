//! `crmsync retry`

use serde::Serialize;

use crate::error::Error;
use crate::ops::retry::Requeue;

use super::{Context, Exit, record};

/// Re-queue failed records so the next sync tries them again
#[derive(Debug, clap::Args)]
#[command(
    after_help = "A failed record is tried again by the next syncs on their own (see
`[retry]` in the config) and then parked; a refusal that trying again cannot mend (a validation
error) is parked at once. `crmsync status --failed` shows which. Re-queued records start
their automatic tries afresh.

Examples:
  crmsync retry && crmsync sync
  crmsync retry ann@example.com
  crmsync retry --parked -c hubspot"
)]
pub struct Args {
    /// Only these records: local ids, emails, domains or CONNECTION:REMOTE-IDs [default: every failed record]
    #[arg(value_name = "RECORD", conflicts_with = "parked")]
    pub records: Vec<String>,
    /// Only the parked records (those later syncs no longer try on their own)
    #[arg(long)]
    pub parked: bool,
    /// Only this connection
    #[arg(long, short = 'c', value_name = "NAME")]
    pub connection: Option<String>,
}

/// `crmsync retry --json`
#[derive(Debug, Serialize)]
pub struct Requeued {
    pub connection: Option<String>,
    pub requeued: usize,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    if let Some(name) = &args.connection {
        ctx.config.connection(name).map_err(Error::usage)?;
    }
    let requeued = match record::open_for_reading(ctx)? {
        None if args.records.is_empty() => 0,
        None => {
            return Err(Error::usage(format!(
                "no record `{}`: there is no state file at `{}` yet",
                args.records[0],
                ctx.state_path.display()
            ))
            .into());
        }
        Some(_) => {
            let (mut store, _lock) = record::open_locked(ctx)?;
            let what = if args.parked {
                Requeue::Parked
            } else if args.records.is_empty() {
                Requeue::All
            } else {
                Requeue::Records(
                    args.records
                        .iter()
                        .map(|spec| record::find(&store, spec).map(|r| r.id))
                        .collect::<anyhow::Result<_>>()?,
                )
            };
            crate::ops::retry::requeue(&mut store, &ctx.config, args.connection.as_deref(), &what)?
        }
    };
    if ctx.out.json {
        ctx.out.json(&Requeued {
            connection: args.connection,
            requeued,
        })?;
    } else if requeued == 0 {
        ctx.out.note(if args.parked {
            "no parked records to re-queue"
        } else if !args.records.is_empty() {
            "no failures of these records to re-queue; `crmsync status --failed` lists the failed records"
        } else {
            "no failed records to re-queue"
        });
    } else {
        ctx.out.note(format!(
            "re-queued {requeued} failed records; run `crmsync sync{}` to try them again",
            args.connection
                .as_deref()
                .map_or(String::new(), |c| format!(" --connection {c}"))
        ));
    }
    Ok(Exit::Ok)
}
