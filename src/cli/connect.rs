//! `crmsync connect PROVIDER`

use std::path::PathBuf;

use crate::providers::ProviderKind;

use super::{Context, Exit};

/// Sign in to a CRM and store its tokens in the OS keychain
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync connect hubspot --name acme
  crmsync connect hubspot --name ci --token-env HUBSPOT_TOKEN
  printf %s \"$TOKEN\" | crmsync connect pipedrive --name pd --token-stdin")]
pub struct Args {
    /// The CRM: hubspot, pipedrive or salesforce
    pub provider: ProviderKind,
    /// The connection's name [default: the provider's name]
    #[arg(long)]
    pub name: Option<String>,
    /// Take a private-app or API token from this environment variable instead of signing in
    #[arg(long, value_name = "VAR", conflicts_with = "token_stdin")]
    pub token_env: Option<String>,
    /// Read a private-app or API token from standard input instead of signing in
    #[arg(long)]
    pub token_stdin: bool,
    /// Print the sign-in URL instead of opening a browser
    #[arg(long)]
    pub no_browser: bool,
    /// Give up waiting for the browser after this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
    /// The OAuth app's client id [default: `client_id` in the connection's config]
    #[arg(long)]
    pub client_id: Option<String>,
    /// The API base URL, to connect to a sandbox or emulator
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Write the new connection into this config file [default: the config in use]
    #[arg(long, value_name = "FILE", hide = true)]
    pub write_config: Option<PathBuf>,
}

pub async fn run(_ctx: &Context, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`crmsync connect` is not available in this build yet")
}
