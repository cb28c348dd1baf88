//! `crmsync import FILE`

use std::path::PathBuf;

use anyhow::Context as _;

use crate::config::OnDuplicate;
use crate::model::ObjectKind;
use crate::ops;
use crate::output::progress::ImportBar;
use crate::output::table::table;
use crate::transfer::{Blank, Format, ImportReport, MAX_LISTED_NAMES, UnlinkedCompanies};

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
  crmsync import fixtures/contacts.csv --to hubspot     # seed a test CRM, idempotently
  crmsync import fixtures/contacts.csv --to hubspot --tag ci-42   # … tagged; `crmsync teardown --tag ci-42 --to hubspot` archives it")]
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
    /// Mark every record this import creates in the `--to` CRM with TAG (in its
    /// `crmsync_seed` field, made by `mappings setup`), for `crmsync teardown --tag TAG`
    #[arg(long, value_name = "TAG", requires = "to")]
    pub tag: Option<String>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let settings = ctx.settings();
    let opts = ops::import::options(
        &settings,
        &ops::import::Request {
            file: &args.file,
            object: args.object,
            format: args.format.as_deref().map(|f| match f {
                "jsonl" => Format::Jsonl,
                _ => Format::Csv,
            }),
            maps: &args.maps,
            on_duplicate: args.on_duplicate,
            blank: args.blank,
            raw: args.raw,
            to: args.to.as_deref(),
        },
    )?;
    let stamp = match (&args.tag, &args.to) {
        (Some(tag), Some(connection)) => {
            ops::seed::stamp(&settings, connection, args.object, tag).await?
        }
        _ => Default::default(),
    };
    let (mut store, lock) = record::open_locked(ctx)?;
    let bar = ImportBar::new(&ctx.out, &format!("importing {}", args.file.display()));
    let imported = ops::import::load(
        &mut store,
        &settings,
        &args.file,
        opts,
        args.to.as_deref(),
        &bar,
    )?;
    drop(store);
    drop(lock);
    let report = &imported.report;
    render(ctx, report)?;
    let loaded = if report.rejected > 0 {
        Exit::Incomplete
    } else {
        Exit::Ok
    };
    let Some(connection) = &args.to else {
        return Ok(loaded);
    };
    let mut ids = imported.changed;
    if args.tag.is_some() {
        ids.extend(imported.unlinked);
    }
    if ids.is_empty() {
        ctx.out.note(format!(
            "nothing new or changed to push to `{connection}`; `crmsync sync -c {connection}` sends everything that waits"
        ));
        return Ok(loaded);
    }
    ctx.out
        .note(format!("pushing {} records to `{connection}`", ids.len()));
    let count = ids.len();
    // A tagged import's records get their tag only from an import with the tag: a plain sync
    // would create them untagged, out of `teardown`'s reach.
    let again = match &args.tag {
        Some(tag) => format!(
            "running this import again (`--to {connection} --tag {tag}`) pushes them with their tag"
        ),
        None => format!("`crmsync sync -c {connection}` pushes them"),
    };
    let pushed = super::sync::push_records(ctx, connection, ids, stamp)
        .await
        .with_context(|| {
            format!(
                "the {count} records stay imported in the local store, but pushing them to `{connection}` failed; once fixed, {again}"
            )
        })?;
    if matches!(pushed, Exit::Error | Exit::Gate) {
        ctx.out.note(format!(
            "the {count} records stay imported in the local store; once fixed, {again}"
        ));
    }
    // The push's outcome (failed records, a safety gate) says more than the load's.
    Ok(if pushed == Exit::Ok { loaded } else { pushed })
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
        // Rows imported already merge on a second import only by a match key or their `id`.
        let keys = crate::connection::match_keys(&ctx.config, None, report.kind);
        let again = if keys.is_empty() {
            format!(
                "import those rows alone (a {kind} row without an `id` has no match key, so a \
                 row imported twice is two {kind}s; `[sync.match_keys]` can name one)",
                kind = report.kind
            )
        } else {
            format!(
                "import `{}` again (rows already imported are merged, not duplicated)",
                report.file.display()
            )
        };
        ctx.out.note(format!(
            "{} of {} rows were rejected; fix them and {again}",
            report.rejected, report.rows,
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
