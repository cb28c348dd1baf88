//! `crmsync listen`

use std::sync::Arc;

use crate::listen::ListenReporter;
use crate::listen::start::{self, ListenOptions};
use crate::output::Output;

use super::{Context, Exit};

/// Real time: take HubSpot and Pipedrive webhooks and carry each change within seconds
///
/// A long-running process (see the README's systemd unit): each change reaches the local store
/// and every other CRM.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each connection's webhooks arrive at /hooks/NAME. A delta sync runs on start and every `listen.poll_every`.\n\nExamples:\n  crmsync listen --port 8787\n  crmsync listen --public-url https://crm.example.com --subscribe"
)]
pub struct Args {
    /// The port to listen on
    #[arg(long, default_value_t = 8787, value_name = "N")]
    pub port: u16,
    /// The address to listen on (behind a reverse proxy or tunnel: 127.0.0.1)
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: String,
    /// The URL the CRMs call, as they see it (https://…); `/hooks/NAME` is added
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Create the Pipedrive webhooks for the public URL (and print HubSpot's app settings),
    /// then exit
    #[arg(long, requires = "public_url", conflicts_with = "unsubscribe")]
    pub subscribe: bool,
    /// Remove the Pipedrive webhooks `--subscribe` created for the public URL, then exit
    #[arg(long, requires = "public_url")]
    pub unsubscribe: bool,
}

/// Draws the listener's progress.
struct Lines(Output);

impl ListenReporter for Lines {
    fn listening(&self, address: &str, paths: &[(String, String)]) {
        self.0.note(format!("listening on {address}"));
        for (name, url) in paths {
            self.0.note(format!("  {name}: {url}"));
        }
    }

    fn refused(&self, connection: &str, reason: &str) {
        self.0
            .warn(format!("refused a delivery to `{connection}`: {reason}"));
    }

    fn applied(&self, events: usize, records_written: u64, millis: u128) {
        if events == 0 {
            self.0.note(format!(
                "catch-up sync: {records_written} records written ({millis} ms)"
            ));
        } else {
            self.0.note(format!(
                "{events} events applied: {records_written} records written ({millis} ms)"
            ));
        }
    }

    fn trouble(&self, message: &str) {
        self.0.warn(message);
    }
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    if args.subscribe || args.unsubscribe {
        let lines = crate::listen::subscribe::run(
            ctx.settings(),
            args.public_url.as_deref(),
            args.unsubscribe,
        )
        .await?;
        for line in lines {
            ctx.out.data(line)?;
        }
        return Ok(Exit::Ok);
    }
    let opts = ListenOptions {
        bind: args.bind,
        port: args.port,
        public_url: args.public_url,
    };
    let reporter = Arc::new(Lines(ctx.out));
    start::run(ctx.settings(), &opts, reporter).await?;
    Ok(Exit::Ok)
}
