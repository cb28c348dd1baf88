//! The crmsync binary: parse, dispatch, exit code — nothing else.

use std::process::ExitCode;

use clap::Parser;

use crmsync::cli::{self, Cli, Exit};
use crmsync::output::errors;

/// mimalloc instead of the platform allocator: a bulk import allocates and frees a few dozen
/// strings per row on two threads, and mimalloc does that in a fraction of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
            // Help and version go to stdout; a closed pipe is not an error.
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    let color = cli.global.color;
    init_logging(cli.global.verbose, cli.global.quiet, color);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Error as u8);
        }
    };
    let result = runtime.block_on(cli::run(cli));
    // Background tasks (sandboxes, listeners) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) if is_broken_pipe(&err) => ExitCode::from(Exit::Ok as u8),
        Err(err) => {
            let out = crmsync::output::Output::new(false, 0, color);
            eprint!("{}", errors::render(&err, out.color));
            ExitCode::from(cli::exit_for_error(&err) as u8)
        }
    }
}

/// Logs go to stderr, coloured only where `--color` and stderr allow; `-v` raises the level,
/// `CRMSYNC_LOG` sets the filter outright.
fn init_logging(verbose: u8, quiet: u8, color: crmsync::output::ColorChoice) {
    use std::io::IsTerminal;
    let default = match (quiet, verbose) {
        (q, _) if q > 0 => "error",
        (_, 0) => "warn",
        (_, 1) => "crmsync=info",
        (_, 2) => "crmsync=debug",
        _ => "crmsync=trace",
    };
    let filter = std::env::var(crmsync::env::LOG).unwrap_or_else(|_| default.to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(color.on(std::io::stderr().is_terminal()))
        .without_time()
        .with_target(false)
        .try_init();
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
