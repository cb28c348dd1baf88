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
/// the engine's report and printed once at the end.
pub struct SyncProgress {
    bar: ProgressBar,
}

impl SyncProgress {
    pub fn new(out: &Output) -> SyncProgress {
        SyncProgress {
            bar: spinner(out, "syncing"),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
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
