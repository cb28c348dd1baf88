//! `crmsync teardown --tag TAG --to CONNECTION`

use crate::ops::{self, seed::TeardownReport};
use crate::output::table::{or_dash, table};

use super::{Context, Exit};

/// Archive in a CRM exactly the records a tagged `import --to` created there
///
/// Finds the records whose `crmsync_seed` field holds TAG with a query in the CRM, and
/// archives them (HubSpot archives, Pipedrive deletes) and nothing else. Local records linked
/// to them are archived with their links, as an archive seen in the CRM would be (with
/// `on_delete = "ignore"` only the links are retired). Running it again archives nothing.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync import fixtures/contacts.csv --to hubspot-test --tag ci-$CI_JOB_ID
  crmsync teardown --tag ci-$CI_JOB_ID --to hubspot-test --dry-run
  crmsync teardown --tag ci-$CI_JOB_ID --to hubspot-test")]
pub struct Args {
    /// The tag the records were imported with (`import --to C --tag TAG`)
    #[arg(long, value_name = "TAG")]
    pub tag: String,
    /// The connection whose CRM holds them
    #[arg(long, value_name = "CONNECTION")]
    pub to: String,
    /// List the records that carry the tag; archive nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let report = ops::seed::teardown(&ctx.settings(), &args.to, &args.tag, args.dry_run).await?;
    render(ctx, &report)?;
    Ok(if report.failed() > 0 {
        Exit::Incomplete
    } else {
        Exit::Ok
    })
}

fn render(ctx: &Context, r: &TeardownReport) -> anyhow::Result<()> {
    if ctx.out.json {
        return ctx.out.json(r);
    }
    for object in &r.no_field {
        ctx.out.note(format!(
            "`{}` has no `crmsync_seed` field on {object} records, so none carries a tag",
            r.connection
        ));
    }
    if r.records.is_empty() {
        ctx.out.data(format!(
            "no record in `{}` carries the tag `{}`; nothing was archived",
            r.connection, r.tag
        ))?;
        return Ok(());
    }
    if ctx.out.summary() {
        let mut t = table(&ctx.out, &["object", "crm id", "local id", "outcome"]);
        for rec in &r.records {
            t.add_row(vec![
                rec.object.to_string(),
                rec.remote_id.clone(),
                or_dash(rec.local_id.as_ref().map(|id| id.as_str())),
                match (&rec.error, rec.archived) {
                    (Some(e), _) => format!("failed: {e}"),
                    (None, true) => "archived".to_string(),
                    (None, false) => "would be archived".to_string(),
                },
            ]);
        }
        ctx.out.data(t)?;
    }
    let n = r.records.len();
    if r.dry_run {
        ctx.out.note(format!(
            "{n} records in `{}` carry the tag `{}`; nothing was archived (leave out `--dry-run` to archive them)",
            r.connection, r.tag
        ));
        return Ok(());
    }
    ctx.out.note(format!(
        "archived {} of the {n} records in `{}` that carried the tag `{}`",
        r.archived(),
        r.connection,
        r.tag
    ));
    if !r.local.archived.is_empty() {
        ctx.out.note(format!(
            "archived the {} local records linked to them, with their links, as an archive seen in the CRM would; the next `crmsync sync` archives them in the other connections too",
            r.local.archived.len()
        ));
    }
    if !r.local.unlinked.is_empty() {
        ctx.out.note(format!(
            "kept {} local records linked to them and retired their links (`on_delete = \"ignore\"`)",
            r.local.unlinked.len()
        ));
    }
    if r.failed() > 0 {
        ctx.out.warn(format!(
            "{} records could not be archived (see above); run `crmsync teardown` again once fixed",
            r.failed()
        ));
    }
    Ok(())
}
