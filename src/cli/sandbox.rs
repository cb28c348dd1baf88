//! `crmsync sandbox serve`

use serde::Serialize;

use crate::sandbox::pipedrive::{PipedriveOptions, PipedriveSandbox};
use crate::sandbox::salesforce::{SalesforceOptions, SalesforceSandbox};
use crate::sandbox::{Sandbox, SandboxOptions};

use super::{Context, Exit};

/// Serve the built-in CRM sandboxes on 127.0.0.1
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Serve a local HubSpot, a local Pipedrive and a local Salesforce until stopped; prints
    /// their base URLs and the tokens they accept
    #[command(after_help = "Example:
  crmsync sandbox serve --port 8080 --seed 42 --contacts 100
  # then, in another shell:
  export SANDBOX_TOKEN=<the printed token>
  crmsync connect hubspot --name hubspot --base-url http://127.0.0.1:8080 --token-env SANDBOX_TOKEN
  # stop it with Ctrl-C in its shell (or `kill` its PID)")]
    Serve {
        /// The port [default: a free one]
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// The private-app token to accept [default: a generated one]
        #[arg(long)]
        token: Option<String>,
        /// Seed for generated data and injected faults
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The portal id (Hub ID) the sandbox's account reports [default: 10000000 + the seed,
        /// so sandboxes with different seeds are different accounts]
        #[arg(long, value_name = "N")]
        hub_id: Option<u64>,
        /// Generate this many contacts at start
        #[arg(long, default_value_t = 0)]
        contacts: usize,
        /// Generate this many companies at start
        #[arg(long, default_value_t = 0)]
        companies: usize,
        /// Requests allowed per rate-limit window (HubSpot's is 100 per 10 s)
        #[arg(long, default_value_t = 100)]
        rate_limit: u32,
        /// The rate-limit window in milliseconds
        #[arg(long, default_value_t = 10_000)]
        rate_window_ms: u64,
        /// The Pipedrive sandbox's port [default: a free one]; it gets as many persons and
        /// organizations as HubSpot gets contacts and companies
        #[arg(long, default_value_t = 0)]
        pipedrive_port: u16,
        /// The Salesforce sandbox's port [default: a free one], its login host and instance
        /// at once; it gets as many contacts and accounts as HubSpot gets contacts and
        /// companies
        #[arg(long, default_value_t = 0)]
        salesforce_port: u16,
    },
}

/// The commands that connect crmsync to a sandbox, as the README's quick start writes them.
fn connect_lines(base_url: &str, token: &str) -> [String; 2] {
    [
        format!("export SANDBOX_TOKEN={token}"),
        format!(
            "crmsync connect hubspot --name hubspot --base-url {base_url} --token-env SANDBOX_TOKEN"
        ),
    ]
}

/// What `sandbox serve` prints first (`--json`: one line, then it serves).
#[derive(Debug, Serialize)]
struct Serving {
    crm: &'static str,
    base_url: String,
    token: String,
    client_id: String,
    client_secret: String,
    admin_url: String,
    hub_id: u64,
    pipedrive: PipedriveServing,
    salesforce: SalesforceServing,
}

/// The Salesforce sandbox served beside HubSpot: its login host and instance URL, the
/// connected app's consumer key and secret, and a session for `--token-env`.
#[derive(Debug, Serialize)]
struct SalesforceServing {
    instance_url: String,
    access_token: String,
    client_id: String,
    client_secret: String,
    admin_url: String,
}

/// The Pipedrive sandbox served beside HubSpot.
#[derive(Debug, Serialize)]
struct PipedriveServing {
    base_url: String,
    api_token: String,
    admin_url: String,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let Action::Serve {
        port,
        token,
        seed,
        hub_id,
        contacts,
        companies,
        rate_limit,
        rate_window_ms,
        pipedrive_port,
        salesforce_port,
    } = args.action;
    let sandbox = Sandbox::start(SandboxOptions {
        port,
        token,
        seed,
        hub_id,
        rate_limit: (rate_limit, rate_window_ms),
        ..SandboxOptions::default()
    })?;
    let pipedrive = PipedriveSandbox::start(PipedriveOptions {
        port: pipedrive_port,
        seed,
        ..PipedriveOptions::default()
    })?;
    let salesforce = SalesforceSandbox::start(SalesforceOptions {
        port: salesforce_port,
        seed,
        ..SalesforceOptions::default()
    })?;
    if contacts > 0 || companies > 0 {
        sandbox.seed(contacts, companies);
        pipedrive.seed(contacts, companies);
        salesforce.seed(contacts, companies, 0);
    }
    let (client_id, client_secret) = salesforce.client_credentials();
    let info = Serving {
        crm: "hubspot",
        base_url: sandbox.base_url(),
        token: sandbox.token(),
        client_id: sandbox.client_id(),
        client_secret: sandbox.client_secret(),
        admin_url: sandbox.admin_url(),
        hub_id: sandbox.hub_id(),
        pipedrive: PipedriveServing {
            base_url: pipedrive.base_url(),
            api_token: pipedrive.api_token(),
            admin_url: pipedrive.admin_url(),
        },
        salesforce: SalesforceServing {
            instance_url: salesforce.base_url(),
            access_token: salesforce.mint_token().0,
            client_id,
            client_secret,
            admin_url: salesforce.admin_url(),
        },
    };
    if ctx.out.json {
        println!("{}", serde_json::to_string(&info)?);
    } else {
        let connect: String = connect_lines(&info.base_url, &info.token)
            .iter()
            .map(|l| format!("  {l}\n"))
            .collect();
        ctx.out.data(format!(
            "HubSpot sandbox (portal {}) on {}\n  token:         {}\n  client id:     {}\n  client secret: {}\n  admin API:     {}\n\nconnect with (in another shell):\n{connect}\nPipedrive sandbox on {}\n  API token:     {}\n  admin API:     {}\n\nSalesforce sandbox on {} (login host and instance)\n  access token:  {}\n  client id:     {}\n  client secret: {}\n  admin API:     {}\n\nserving until stopped: Ctrl-C here, or `kill {}`",
            info.hub_id,
            info.base_url,
            info.token,
            info.client_id,
            info.client_secret,
            info.admin_url,
            info.pipedrive.base_url,
            info.pipedrive.api_token,
            info.pipedrive.admin_url,
            info.salesforce.instance_url,
            info.salesforce.access_token,
            info.salesforce.client_id,
            info.salesforce.client_secret,
            info.salesforce.admin_url,
            std::process::id()
        ))?;
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tokio::signal::ctrl_c().await?;
    sandbox.stop();
    pipedrive.stop();
    salesforce.stop();
    ctx.out.note("sandboxes stopped");
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_suggests_the_readme_quick_start_connect_command() {
        let readme = include_str!("../../README.md");
        let lines = connect_lines("http://127.0.0.1:8080", "sandbox-token");
        let quick_start = readme
            .lines()
            .skip_while(|l| *l != "## Quick start")
            .take_while(|l| !l.starts_with("## Commands"))
            .map(|l| l.split("  #").next().unwrap_or(l).trim_end())
            .collect::<Vec<_>>();
        let at = quick_start
            .iter()
            .position(|l| *l == lines[0])
            .unwrap_or_else(|| panic!("the quick start has no `{}`", lines[0]));
        assert_eq!(quick_start[at + 1], lines[1]);
    }
}
