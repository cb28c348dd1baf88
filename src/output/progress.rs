//! Progress bars (indicatif), drawn on stderr only when it is a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Output;

/// A byte-counting progress bar, or a hidden one when output is not interactive.
pub fn bytes_bar(out: &Output, total: u64, what: &str) -> ProgressBar {
    if !out.interactive || out.json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({per_sec}, {eta} left)",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A spinner with a message, or a hidden one when output is not interactive.
pub fn spinner(out: &Output, what: &str) -> ProgressBar {
    if !out.interactive || out.json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} {pos}").expect("static template"));
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// Import progress drawn as a byte bar on stderr (hidden when not interactive).
pub struct ImportBar(ProgressBar);

impl ImportBar {
    pub fn new(out: &Output, what: &str) -> ImportBar {
        ImportBar(bytes_bar(out, 0, what))
    }
}

impl crate::transfer::ImportProgress for ImportBar {
    fn set_total(&self, bytes: u64) {
        self.0.set_length(bytes);
    }

    fn advance(&self, bytes: u64, _rows: u64) {
        self.0.inc(bytes);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Sync progress: a spinner per step on a terminal, nothing otherwise. Warnings are kept by
/// the engine's report and printed once at the end. While a request to a CRM has been waiting
/// for its answer a few seconds, the spinner says which and for how long.
pub struct SyncProgress {
    bar: ProgressBar,
    /// Stops the thread that watches for slow requests.
    stop: Option<std::sync::mpsc::Sender<()>>,
}

/// How long a request waits before the spinner names it.
const SLOW_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

impl SyncProgress {
    pub fn new(out: &Output) -> SyncProgress {
        let bar = spinner(out, "syncing");
        if bar.is_hidden() {
            return SyncProgress { bar, stop: None };
        }
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {pos}{prefix}").expect("static template"),
        );
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let watched = bar.clone();
        std::thread::spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(std::time::Duration::from_millis(500))
            {
                watched.set_prefix(slow_request_note(SLOW_AFTER));
            }
        });
        SyncProgress {
            bar,
            stop: Some(stop),
        }
    }

    pub fn finish(&self) {
        if let Some(stop) = &self.stop {
            let _ = stop.send(());
        }
        self.bar.finish_and_clear();
    }
}

/// ` · waiting for HubSpot: POST /crm/v3/… (12 s, gives up at 60 s)` when the longest-waiting
/// request has waited `after` or more; else nothing.
pub fn slow_request_note(after: std::time::Duration) -> String {
    match crate::providers::http::waiting().first() {
        Some(w) if w.since.elapsed() >= after => format!(
            " · waiting for {} (`{}`): {} ({} s, gives up at {} s)",
            w.crm,
            w.connection,
            w.call,
            w.since.elapsed().as_secs(),
            w.timeout.as_secs()
        ),
        _ => String::new(),
    }
}

impl crate::engine::sync::SyncReporter for SyncProgress {
    fn step(
        &self,
        connection: &str,
        object: crate::model::ObjectKind,
        what: &str,
        total: Option<u64>,
    ) {
        self.bar.set_position(0);
        self.bar.set_length(total.unwrap_or(0));
        self.bar
            .set_message(format!("{connection} · {object}: {what}"));
    }
    fn advance(&self, n: u64) {
        self.bar.inc(n);
    }
    fn warn(&self, _message: String) {}
}
