//! Everything drawn for people: tables, JSON, progress bars, messages and errors.
//!
//! stdout is data (tables, `--json`), stderr is talk (progress, warnings, errors). Progress
//! bars appear only when stderr is a terminal; colour follows `--color`, and `NO_COLOR` always
//! wins. Colour is never the only signal.

pub mod errors;
pub mod progress;
pub mod table;

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use serde::Serialize;

/// `--color`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour text for a stream: never with `never` or `NO_COLOR`; with `auto`, only
    /// when the stream is a terminal (`terminal`).
    pub fn on(self, terminal: bool) -> bool {
        let no_color = std::env::var_os(crate::env::NO_COLOR).is_some_and(|v| !v.is_empty());
        !no_color
            && match self {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => terminal,
            }
    }
}

/// How a command draws: resolved once from the global flags and the environment.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    /// -2 `-qq`, -1 `-q`, 0 normal, 1.. verbose.
    pub verbosity: i8,
    pub color: bool,
    /// stderr is a terminal (progress bars are drawn).
    pub interactive: bool,
}

impl Output {
    pub fn new(json: bool, verbosity: i8, color: ColorChoice) -> Output {
        let stderr_tty = std::io::stderr().is_terminal();
        let color = color.on(stderr_tty && std::io::stdout().is_terminal());
        Output {
            json,
            verbosity,
            color,
            interactive: stderr_tty && verbosity >= 0,
        }
    }

    /// Prints a serde value as pretty JSON on stdout.
    pub fn json<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        // As an `io::Error`, so that a closed pipe (`| head`) is seen as one and ends quietly.
        serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
        writeln!(out)?;
        Ok(())
    }

    /// Prints data for people on stdout.
    pub fn data(&self, text: impl std::fmt::Display) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        Ok(())
    }

    /// A message for people on stderr (not shown with `-q`).
    pub fn note(&self, text: impl std::fmt::Display) {
        if self.verbosity >= 0 {
            eprintln!("{text}");
        }
    }

    /// Whether a run's summary (the counts table of `sync`, `import` and `apply`) is shown:
    /// not with `-q`.
    pub fn summary(&self) -> bool {
        self.verbosity >= 0
    }

    /// Whether problems short of an error (warnings, an import's rejected rows) are shown:
    /// with `-q`, not with `-qq`, which leaves only errors and the exit code.
    pub fn problems(&self) -> bool {
        self.verbosity >= -1
    }

    /// A warning on stderr (shown with `-q`, not with `-qq`).
    pub fn warn(&self, text: impl std::fmt::Display) {
        if self.problems() {
            self.warn_always(text);
        }
    }

    /// A warning shown even with `-qq`: a run stopped short of an error (a safety gate).
    pub fn warn_always(&self, text: impl std::fmt::Display) {
        if self.color {
            eprintln!("\x1b[33mwarning:\x1b[0m {text}");
        } else {
            eprintln!("warning: {text}");
        }
    }

    /// Bold text where colour is on.
    pub fn bold(&self, text: &str) -> String {
        if self.color {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}
