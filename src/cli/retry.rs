//! `crmsync retry`

use serde::Serialize;

use crate::error::Error;

use super::{Context, Exit, record};

/// Re-queue failed records so the next sync tries them again
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  crmsync retry && crmsync sync")]
pub struct Args {
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
    let requeued = if record::open_for_reading(ctx)?.is_none() {
        0
    } else {
        let (mut store, _lock) = record::open_locked(ctx)?;
        store.requeue_failures(args.connection.as_deref())?
    };
    if ctx.out.json {
        ctx.out.json(&Requeued {
            connection: args.connection,
            requeued,
        })?;
    } else if requeued == 0 {
        ctx.out.note("no failed records to re-queue");
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
