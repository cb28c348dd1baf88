//! Starting and stopping `listen`: the hooks and their secrets, the server thread, the
//! signals, the worker.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use super::server::{Check, Hook, Receiver};
use super::worker::Worker;
use super::{ListenReporter, hook_path};
use crate::auth::Keychain;
use crate::ops::Settings;
use crate::store::{ListenLock, Listener, Store};

/// Where to listen.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    pub bind: String,
    pub port: u16,
    /// The URL the CRMs call (for HubSpot's signature and the subscriptions).
    pub public_url: Option<String>,
}

/// The hooks of every connection that takes webhooks, with their checks.
pub async fn hooks(settings: &Settings<'_>) -> anyhow::Result<HashMap<String, Hook>> {
    let keychain = Keychain::from_env();
    let mut hooks = HashMap::new();
    for (name, conn) in &settings.config.connections {
        if let Some(check) = super::subscribe::check_for(&keychain, name, conn).await? {
            hooks.insert(
                name.clone(),
                Hook {
                    connection: name.clone(),
                    check,
                    own: settings.config.listen.own_sources.get(name).cloned(),
                },
            );
        }
    }
    Ok(hooks)
}

/// Runs the listener until SIGTERM or Ctrl-C.
pub async fn run(
    settings: Settings<'_>,
    opts: &ListenOptions,
    reporter: Arc<dyn ListenReporter>,
) -> anyhow::Result<()> {
    let poll_every =
        super::parse_duration(&settings.config.listen.poll_every).ok_or_else(|| {
            crate::error::Error::usage(format!(
                "`listen.poll_every = \"{}\"` is not a duration such as `90s`, `15m` or `1h`",
                settings.config.listen.poll_every
            ))
        })?;
    // Before the port: a second listener on the file is refused for what it is, not for
    // the port the first one holds.
    let mut lock = ListenLock::acquire(settings.state_path)?
        .map_err(|holder| already_listening(settings.state_path, &holder))?;
    let hooks = hooks(&settings).await?;
    if hooks.is_empty() {
        return Err(crate::error::usage_hinted(
            "no configured connection takes webhooks (HubSpot and Pipedrive do)",
            "add one with `crmsync connect hubspot --name NAME`",
        ));
    }
    let server = super::server::bind(&opts.bind, opts.port)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", opts.bind, opts.port))?;
    let address = server
        .server_addr()
        .to_ip()
        .map(|a| a.to_string())
        .unwrap_or_else(|| format!("{}:{}", opts.bind, opts.port));
    lock.note_address(&address)?;
    let base = opts
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let mut paths: Vec<(String, String)> = hooks
        .values()
        .map(|h| {
            let note = match h.check {
                Check::Missing => " (no secret: every delivery is refused)",
                _ => "",
            };
            (
                h.connection.clone(),
                format!(
                    "{}{}{note}",
                    base.trim_end_matches('/'),
                    hook_path(&h.connection)
                ),
            )
        })
        .collect();
    paths.sort();
    let mut store = Store::open(settings.state_path)?;
    store.set_clock(settings.clock.clone());
    let wake = Arc::new(Notify::new());
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = Receiver {
        hooks,
        store,
        clock: settings.clock.clone(),
        public_url: opts.public_url.clone(),
        wake: wake.clone(),
        reporter: reporter.clone(),
    };
    let server = Arc::new(server);
    let serving = {
        let server = server.clone();
        std::thread::spawn(move || super::server::serve(&server, receiver))
    };
    reporter.listening(&address, &paths);
    let signals = {
        let (stop, wake) = (stop.clone(), wake.clone());
        tokio::spawn(async move {
            wait_for_signal().await;
            stop.store(true, Ordering::SeqCst);
            wake.notify_one();
        })
    };
    let worker = Worker {
        settings: settings.clone(),
        reporter,
        poll_every,
        wake,
        stop,
        pid: std::process::id(),
        address,
        started_at: settings.clock.now(),
        accounts: Default::default(),
    };
    let result = worker.run().await;
    signals.abort();
    super::server::stop(&server);
    let _ = serving.join();
    let mut store = Store::open(settings.state_path)?;
    store.stop_listener(worker.pid, settings.clock.now())?;
    drop(lock);
    result
}

/// The error of a second listener on `state_path`, naming the one that runs.
fn already_listening(state_path: &Path, holder: &Listener) -> anyhow::Error {
    let who = match (holder.pid, &holder.address) {
        (Some(pid), Some(address)) => format!("pid {pid}, listening on {address}"),
        (Some(pid), None) => format!("pid {pid}"),
        _ => "pid unknown".to_string(),
    };
    let stop = match holder.pid {
        Some(pid) => format!("stop it first (`kill {pid}`: it finishes the batch in hand)"),
        None => format!(
            "stop it first (its lock file is `{}`)",
            holder.lock_path.display()
        ),
    };
    crate::error::hinted(
        format!(
            "another `crmsync listen` ({who}) is using state file `{}`: one listener a state file",
            state_path.display()
        ),
        format!("{stop}, or give this one another state file with `--state FILE`"),
    )
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
