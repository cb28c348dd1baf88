//! `crmsync export`

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::error::Error;
use crate::model::ObjectKind;
use crate::transfer::{ExportSummary, Format};

use super::{Context, Exit, record};

/// Write the local store's records as CSV or JSONL
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  crmsync export > contacts.csv\n  crmsync export --object company --format jsonl --output companies.jsonl"
)]
pub struct Args {
    /// Which records
    #[arg(long, default_value = "contact")]
    pub object: ObjectKind,
    /// The format [default: from the output file's extension, else csv]
    #[arg(long, value_parser = ["csv", "jsonl"])]
    pub format: Option<String>,
    /// Write to this file instead of standard output
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Include archived records
    #[arg(long)]
    pub include_archived: bool,
    /// Write CSV values as they are, for programs; by default a value beginning with `=`, `+`,
    /// `-`, `@`, a tab or a carriage return gets a `'` before it, so that a spreadsheet shows it
    /// instead of running it (import takes the `'` off again)
    #[arg(long)]
    pub raw: bool,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let format = match (args.format.as_deref(), &args.output) {
        (Some("jsonl"), _) => Format::Jsonl,
        (Some(_), _) => Format::Csv,
        (None, Some(path)) => Format::from_path(path).ok_or_else(|| {
            Error::usage(format!(
                "cannot tell the format of `{}` from its extension: pass `--format csv` or `--format jsonl`",
                path.display()
            ))
        })?,
        (None, None) => Format::Csv,
    };
    let options = crate::transfer::ExportOptions {
        include_archived: args.include_archived,
        raw: args.raw,
    };
    let Some(store) = record::open_for_reading(ctx)? else {
        ctx.out.note(format!(
            "no state file at `{}` yet: nothing to export",
            ctx.state_path.display()
        ));
        return Ok(Exit::Ok);
    };
    let summary = match &args.output {
        Some(path) => write_atomically(path, |out| {
            Ok(crate::transfer::export(
                &store,
                args.object,
                format,
                options,
                out,
            )?)
        })?,
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let summary = crate::transfer::export(&store, args.object, format, options, &mut out)?;
            out.flush()
                .context("writing the export to standard output failed")?;
            summary
        }
    };
    report(ctx, &summary, args.output.as_deref())?;
    Ok(Exit::Ok)
}

/// Says what was written: on stderr, since stdout may be the data itself. With `--json` and
/// an output file, the summary is the data and goes to stdout.
fn report(ctx: &Context, summary: &ExportSummary, output: Option<&Path>) -> anyhow::Result<()> {
    match (ctx.out.json, output) {
        (true, Some(_)) => ctx.out.json(summary),
        (true, None) => {
            eprintln!("{}", serde_json::to_string(summary)?);
            Ok(())
        }
        (false, _) => {
            let to = output.map_or("standard output".to_string(), |p| {
                format!("`{}`", p.display())
            });
            ctx.out.note(format!(
                "exported {} {} records ({}) to {to}",
                summary.records, summary.kind, summary.format
            ));
            Ok(())
        }
    }
}

/// Writes `path` through a temporary file in the same directory, renamed over it only once
/// complete: a failed export never leaves a half-written file where the old one was.
fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let name = path
        .file_name()
        .with_context(|| format!("`{}` is not a file name", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("cannot create `{}`", tmp.display()))?;
        let mut out = std::io::BufWriter::new(file);
        let value = write(&mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all().map(|_| f))
            .with_context(|| format!("cannot write `{}`", tmp.display()))?;
        drop(file);
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move `{}` to `{}`", tmp.display(), path.display()))?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
