//! `crmsync records set` and `crmsync records archive`: a user's edits of one local record.

use crate::ops;
use crate::output::table::{or_dash, table};

use super::super::record::{self, when};
use super::super::{Context, Exit};

/// Set fields of a local record; the next sync carries the edit to the CRMs
#[derive(Debug, clap::Args)]
#[command(
    after_help = "A value is normalised as an import's would be; an empty value clears the
field. A value that a mapped CRM dropdown does not take is refused with its options (as the
last sync read them), and so is any edit of an archived record.

Examples:
  crmsync records set ann@example.com job_title=CTO pronouns=she/her
  crmsync records set hubspot:5123 phone=
  crmsync records set ann@example.com custom.tier=gold && crmsync sync"
)]
pub struct SetArgs {
    /// A local id, email, domain or CONNECTION:REMOTE-ID
    #[arg(value_name = "RECORD")]
    pub record: String,
    /// FIELD=VALUE pairs (canonical field names; custom fields as `custom.NAME`)
    #[arg(required = true, value_name = "FIELD=VALUE", value_parser = field_value)]
    pub edits: Vec<(String, String)>,
}

/// Archive a local record; the next sync carries the archive to the CRMs
#[derive(Debug, clap::Args)]
#[command(after_help = "Each connection carries it over as its `on_delete` says;
`crmsync records restore RECORD` brings it back.

Example:
  crmsync records archive ann@example.com && crmsync sync")]
pub struct ArchiveArgs {
    /// A local id, email, domain or CONNECTION:REMOTE-ID
    #[arg(value_name = "RECORD")]
    pub record: String,
}

fn field_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((field, value)) if !field.trim().is_empty() => {
            Ok((field.trim().to_string(), value.to_string()))
        }
        _ => Err(format!(
            "`{s}` is not FIELD=VALUE (`job_title=CTO`; `phone=` clears a field)"
        )),
    }
}

pub fn set(ctx: &Context, args: SetArgs) -> anyhow::Result<Exit> {
    record::open_existing(ctx)?;
    let (mut store, _lock) = record::open_locked(ctx)?;
    let found = record::find(&store, &args.record)?;
    for (field, _) in &args.edits {
        if found.kind.field_type(field).is_none() {
            return Err(record::unknown_field(found.kind, field));
        }
    }
    let edited = ops::records::set(&mut store, &ctx.config, &*ctx.clock, found, &args.edits)?;
    if ctx.out.json {
        ctx.out.json(&edited)?;
        return Ok(Exit::Ok);
    }
    if edited.changed.is_empty() {
        ctx.out.note(format!(
            "{} {} already has these values: nothing changed",
            edited.kind, edited.id
        ));
        return Ok(Exit::Ok);
    }
    let mut t = table(&ctx.out, &["field", "was", "now"]);
    for (field, (old, new)) in &edited.changed {
        t.add_row(vec![
            field.clone(),
            or_dash(old.as_deref()),
            or_dash(new.as_deref()),
        ]);
    }
    ctx.out.data(t)?;
    ctx.out.note(format!(
        "updated {} {}; run `crmsync sync` to carry the edit to the CRMs",
        edited.kind, edited.id
    ));
    Ok(Exit::Ok)
}

pub fn archive(ctx: &Context, args: ArchiveArgs) -> anyhow::Result<Exit> {
    record::open_existing(ctx)?;
    let (mut store, _lock) = record::open_locked(ctx)?;
    let found = record::find(&store, &args.record)?;
    let archived = ops::records::archive(&mut store, &*ctx.clock, found)?;
    if ctx.out.json {
        ctx.out.json(&archived)?;
        return Ok(Exit::Ok);
    }
    ctx.out.note(format!(
        "archived {} {} at {}; run `crmsync sync` to carry the archive to the CRMs (`crmsync records restore {}` undoes it)",
        archived.kind,
        archived.id,
        when(archived.archived_at),
        archived.id
    ));
    Ok(Exit::Ok)
}
