//! `crmsync import FILE`

use std::path::PathBuf;

use anyhow::Context as _;

use crate::config::OnDuplicate;
use crate::error::Error;
use crate::model::ObjectKind;
use crate::output::progress::ImportBar;
use crate::output::table::table;
use crate::store::RunOutcome;
use crate::transfer::{
    Blank, Format, ImportError, ImportOptions, ImportReport, MAX_LISTED_NAMES, UnlinkedCompanies,
    parse_map_spec,
};

use super::{Context, Exit, record};

/// Load a CSV or JSONL file into the local store, or straight into a CRM
///
/// Rows are matched to existing records by the match keys (email by default); every
/// rejected row is reported with its line number and the reason. One bad row never stops the
/// others; a file that is not CSV or JSONL is refused before anything is written.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync import contacts.csv
  crmsync import companies.jsonl --object company
  crmsync import leads.csv --map 'E-mail Address=email' --map 'Notes=-' --on-duplicate skip
  crmsync import phones.csv --blank clear               # id,phone: an empty phone is cleared
  crmsync import fixtures/contacts.csv --to hubspot     # seed a test CRM, idempotently")]
pub struct Args {
    /// The file: .csv (with a header row) or .jsonl (one JSON object per line)
    pub file: PathBuf,
    /// What the rows are
    #[arg(long, default_value = "contact")]
    pub object: ObjectKind,
    /// The file's format [default: from the extension]
    #[arg(long, value_parser = ["csv", "jsonl"])]
    pub format: Option<String>,
    /// Map a column to a field (`column=field`, `column=custom.name`, or `column=-` to drop it)
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    pub maps: Vec<String>,
    /// What to do with a row that matches an existing record [default: `import.on_duplicate`, else merge]
    #[arg(long, value_enum)]
    pub on_duplicate: Option<OnDuplicate>,
    /// What an empty cell does to a record the row updates: `keep` its value, or `clear` it
    #[arg(long, value_enum, default_value = "keep")]
    pub blank: Blank,
    /// Read CSV values as they are: keep a `'` that `crmsync export` puts before a value a
    /// spreadsheet would run (`'=SUM(A1)`), instead of taking it off
    #[arg(long)]
    pub raw: bool,
    /// After loading, sync these records to this connection (creates nothing twice)
    #[arg(long, value_name = "CONNECTION")]
    pub to: Option<String>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    if let Some(connection) = &args.to {
        // Checked before anything is written.
        ctx.config.connection(connection).map_err(Error::usage)?;
    }
    // A file that cannot be opened is the user's to fix (exit 2), and is refused before the
    // state file is touched.
    match std::fs::metadata(&args.file) {
        Ok(m) if m.is_dir() => {
            return Err(Error::usage(format!(
                "`{}` is a directory, not a CSV or JSONL file; nothing was imported",
                args.file.display()
            ))
            .into());
        }
        Ok(_) => {}
        Err(e) => {
            return Err(Error::usage(format!(
                "cannot read `{}`: {e}; nothing was imported",
                args.file.display()
            ))
            .into());
        }
    }
    let mut opts = ImportOptions::new(args.object, ctx.clock.now(), 0);
    opts.format = args.format.as_deref().map(|f| match f {
        "jsonl" => Format::Jsonl,
        _ => Format::Csv,
    });
    for spec in &args.maps {
        let (column, target) = parse_map_spec(args.object, spec)
            .map_err(|why| Error::usage(format!("bad `--map {spec}`: {why}")))?;
        opts.map.push((column, target));
    }
    opts.on_duplicate = args.on_duplicate.unwrap_or(ctx.config.import.on_duplicate);
    opts.default_calling_code = ctx.config.import.default_calling_code.clone();
    opts.match_keys = crate::connection::match_keys(&ctx.config, None, args.object);
    opts.blank = args.blank;
    opts.raw = args.raw;

    let (mut store, lock) = record::open_locked(ctx)?;
    let connections: Vec<String> = args.to.iter().cloned().collect();
    opts.run = store.begin_run("import", &connections, opts.now)?;
    let seq_before = store.max_seq()?;
    let bar = ImportBar::new(&ctx.out, &format!("importing {}", args.file.display()));
    let result = crate::transfer::import_file(&mut store, &args.file, &opts, &bar);
    crate::transfer::ImportProgress::finish(&bar);
    let report = match result {
        Ok(report) => report,
        Err(err) => {
            let _ = store.finish_run(
                opts.run,
                RunOutcome::Failed,
                &serde_json::json!({}),
                Some(&err.to_string()),
                ctx.clock.now(),
            );
            return Err(refusal(err));
        }
    };
    let outcome = if report.rejected > 0 {
        RunOutcome::Partial
    } else {
        RunOutcome::Ok
    };
    store.finish_run(
        opts.run,
        outcome,
        &serde_json::json!({
            "rows": report.rows,
            "loaded": report.loaded,
            "merged": report.merged,
            "unchanged": report.unchanged,
            "skipped": report.skipped,
            "rejected": report.rejected,
        }),
        None,
        ctx.clock.now(),
    )?;
    render(ctx, &report)?;
    let loaded = if report.rejected > 0 {
        Exit::Incomplete
    } else {
        Exit::Ok
    };
    let Some(connection) = &args.to else {
        return Ok(loaded);
    };
    // Only what this import created or changed is pushed; rows that changed nothing locally
    // are left to `crmsync sync` (they were pushed by the run that stored them, or wait for
    // the next sync like any other local change).
    let ids = store.record_ids_changed_since(args.object, seq_before)?;
    drop(store);
    drop(lock);
    if ids.is_empty() {
        ctx.out.note(format!(
            "nothing new or changed to push to `{connection}`; `crmsync sync -c {connection}` sends everything that waits"
        ));
        return Ok(loaded);
    }
    ctx.out
        .note(format!("pushing {} records to `{connection}`", ids.len()));
    let count = ids.len();
    let pushed = super::sync::push_records(ctx, connection, ids)
        .await
        .with_context(|| {
            format!(
                "the {count} records stay imported in the local store, but pushing them to `{connection}` failed; once fixed, `crmsync sync -c {connection}` pushes them"
            )
        })?;
    if matches!(pushed, Exit::Error | Exit::Gate) {
        ctx.out.note(format!(
            "the {count} records stay imported in the local store; once fixed, `crmsync sync -c {connection}` pushes them"
        ));
    }
    // The push's outcome (failed records, a safety gate) says more than the load's.
    Ok(if pushed == Exit::Ok { loaded } else { pushed })
}

/// A file refused before anything was written is the user's to fix (exit 2); a failure while
/// reading or saving is an error (exit 1).
fn refusal(err: ImportError) -> anyhow::Error {
    match err {
        ImportError::NotTabular { .. }
        | ImportError::UnknownColumns { .. }
        | ImportError::NoFields { .. }
        | ImportError::Options(_) => Error::usage(format!("{err}; nothing was imported")).into(),
        other => other.into(),
    }
}

fn render(ctx: &Context, report: &ImportReport) -> anyhow::Result<()> {
    if ctx.out.json {
        return ctx.out.json(report);
    }
    if ctx.out.summary() {
        let mut t = table(
            &ctx.out,
            &["loaded", "merged", "unchanged", "skipped", "rejected"],
        );
        t.add_row(vec![
            report.loaded.to_string(),
            report.merged.to_string(),
            report.unchanged.to_string(),
            report.skipped.to_string(),
            report.rejected.to_string(),
        ]);
        ctx.out.data(t)?;
    }
    if !report.rejections.is_empty() && ctx.out.problems() {
        if ctx.out.summary() {
            ctx.out.data("")?;
        }
        let mut t = table(&ctx.out, &["line", "column", "reason"]);
        for r in &report.rejections {
            t.add_row(vec![
                r.line.to_string(),
                crate::output::table::or_dash(r.column.as_deref()),
                r.reason.clone(),
            ]);
        }
        ctx.out.data(t)?;
        if report.rejected > report.rejections.len() as u64 {
            ctx.out.warn(format!(
                "{} more rejected rows are not listed",
                report.rejected - report.rejections.len() as u64
            ));
        }
        ctx.out.note(format!(
            "{} of {} rows were rejected; fix them and import `{}` again (rows already imported are merged, not duplicated)",
            report.rejected,
            report.rows,
            report.file.display()
        ));
    }
    if let Some(unlinked) = &report.unlinked_companies {
        render_unlinked(ctx, report, unlinked);
    }
    Ok(())
}

/// Says which contact rows' company names gave them no company, and how to link them.
fn render_unlinked(ctx: &Context, report: &ImportReport, unlinked: &UnlinkedCompanies) {
    let rows = |n: u64| {
        if n == 1 {
            "1 row names".to_string()
        } else {
            format!("{n} rows name")
        }
    };
    if unlinked.ambiguous > 0 {
        let names: Vec<String> = unlinked
            .ambiguous_names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect();
        ctx.out.warn(format!(
            "{} a company that several local companies share ({}{}), so they are linked to none; give those rows a `company_id` column with the company's id",
            rows(unlinked.ambiguous),
            names.join(", "),
            if unlinked.ambiguous_names.len() >= MAX_LISTED_NAMES { ", …" } else { "" }
        ));
    }
    if unlinked.not_found > 0 {
        ctx.out.note(format!(
            "{} a company that no local company has, so they are linked to none; to link them, import the companies (`crmsync import FILE --object company`) and then `{}` again",
            rows(unlinked.not_found),
            report.file.display()
        ));
    }
}
