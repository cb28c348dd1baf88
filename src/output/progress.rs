//! Progress bars (indicatif), drawn on stderr only when it is a terminal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::Output;

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

/// Import progress drawn as a byte bar on stderr (hidden when not interactive), with the rate
/// in rows per second.
pub struct ImportBar {
    bar: ProgressBar,
    rows: Arc<AtomicU64>,
}

impl ImportBar {
    pub fn new(out: &Output, what: &str) -> ImportBar {
        let rows = Arc::new(AtomicU64::new(0));
        if !out.interactive || out.json {
            return ImportBar {
                bar: ProgressBar::hidden(),
                rows,
            };
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let counted = Arc::clone(&rows);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({rows_per_sec}, {eta} left)",
            )
            .expect("static template")
            .with_key(
                "rows_per_sec",
                move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let rows = counted.load(Ordering::Relaxed);
                    let _ = w.write_str(&rows_per_sec(rows, state.elapsed().as_secs_f64()));
                },
            )
            .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        ImportBar { bar, rows }
    }
}

/// A rate for people: `12,345 rows/s` (whole rows from 10 up, one decimal below).
pub fn rows_per_sec(rows: u64, secs: f64) -> String {
    if secs <= 0.0 || !secs.is_finite() {
        return "- rows/s".to_string();
    }
    let rate = rows as f64 / secs;
    if rate < 10.0 {
        format!("{rate:.1} rows/s")
    } else {
        format!("{} rows/s", thousands(rate.round() as u64))
    }
}

/// `30087643` as `30,087,643`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl crate::transfer::ImportProgress for ImportBar {
    fn set_total(&self, bytes: u64) {
        self.bar.set_length(bytes);
    }

    fn advance(&self, bytes: u64, rows: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
        self.bar.inc(bytes);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
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
        bar.set_style(spinner_style());
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

/// A sync step of unknown size: a spinner and the count so far.
fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} {pos}{prefix}").expect("static template")
}

/// A sync step of known size: a bar as wide as the terminal leaves room for, the count of
/// the total and the time left.
fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg} [{wide_bar}] {human_pos}/{human_len} ({eta} left){prefix}")
        .expect("static template")
        .progress_chars("=> ")
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
        if !self.bar.is_hidden() {
            // A step of known size (a write, a Salesforce Bulk API read) is a bar; one of
            // unknown size a spinner counting what it has done.
            self.bar.set_style(match total {
                Some(n) if n > 0 => bar_style(),
                _ => spinner_style(),
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_rates_are_rows_per_second_with_sensible_precision() {
        assert_eq!(rows_per_sec(30_087_643, 1.0), "30,087,643 rows/s");
        assert_eq!(rows_per_sec(45_000, 0.37), "121,622 rows/s");
        assert_eq!(rows_per_sec(1_000, 2.0), "500 rows/s");
        assert_eq!(rows_per_sec(12, 1.0), "12 rows/s");
        assert_eq!(rows_per_sec(3, 2.0), "1.5 rows/s");
        assert_eq!(rows_per_sec(0, 0.0), "- rows/s");
    }
}
