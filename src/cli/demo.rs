//! `crmsync demo`

use std::collections::BTreeMap;

use crate::ops::demo::{self, Demo};
use crate::output::table::table;
use crate::store::{ConflictFilter, Store};

use super::{Context, Exit};

/// Run the main job on the built-in sandboxes: sample data, two-way sync, conflicts, status
///
/// Starts a sandbox HubSpot, a sandbox Pipedrive and a sandbox Salesforce in-process, syncs
/// each with the local store, works in a temporary directory unless `--state` is given, and
/// touches nothing outside it.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  crmsync demo")]
pub struct Args {
    /// How many contacts to generate in HubSpot and in the local store (Pipedrive and
    /// Salesforce get a fifth as many each)
    #[arg(long, default_value_t = 25)]
    pub contacts: usize,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let out = &ctx.out;
    let explicit_state = std::env::var_os(crate::env::STATE).is_some()
        || std::env::args().any(|a| a == "--state" || a.starts_with("--state="));
    // Without `--state` the demo works in a directory of its own, removed at the end.
    let tmp = if explicit_state {
        None
    } else {
        Some(demo::tempfile_dir()?)
    };
    let state_path = match &tmp {
        Some(dir) => dir.join("state.db"),
        None => ctx.state_path.clone(),
    };
    if explicit_state {
        demo::refuse_a_used_state(&state_path)?;
    }

    let step = |n: u32, text: &str| out.note(format!("\n{} {text}", out.bold(&format!("{n}."))));
    step(
        1,
        "starting a sandbox HubSpot, a sandbox Pipedrive and a sandbox Salesforce on 127.0.0.1",
    );
    let demo = Demo::start(ctx.clock.clone()).await?;
    out.note(format!(
        "   HubSpot {}, Pipedrive {}, Salesforce {}",
        demo.sandbox.base_url(),
        demo.pipedrive.base_url(),
        demo.salesforce.base_url()
    ));

    let mut store = Store::open(&state_path)?;
    store.set_clock(ctx.clock.clone());
    let lock = store.lock()?;
    let seeded = demo.seed(&mut store, args.contacts, ctx.clock.now())?;
    step(
        2,
        &format!(
            "{} contacts in HubSpot, {} persons in Pipedrive, {} contacts in Salesforce, {} in the local store",
            seeded.hubspot.len(),
            seeded.pipedrive.len(),
            seeded.salesforce.len(),
            seeded.locals.len()
        ),
    );
    let reporter = crate::output::progress::SyncProgress::new(out);

    step(3, "first sync: each side gets the others' contacts");
    let first = sync(ctx, &demo, &mut store, &reporter).await?;

    step(4, "edits here, in HubSpot, in Pipedrive and in Salesforce");
    let (edits, crm_edits) = demo.edit_both_sides(&mut store, &seeded, &*ctx.clock)?;
    for edit in edits {
        out.note(format!("   {edit}"));
    }

    step(
        5,
        "second sync: one run carries every change across, CRM to CRM too",
    );
    let second = sync(ctx, &demo, &mut store, &reporter).await?;
    let arrivals = demo.arrivals(&store, &crm_edits)?;
    for a in &arrivals {
        let verdict = if a.arrived {
            "is now on"
        } else {
            "did NOT reach"
        };
        out.note(format!("   {} {verdict} {}", a.edit, a.target));
    }

    step(6, "a third sync has nothing to do");
    let third = demo.sync(&mut store, ctx.clock.clone(), &reporter).await?;
    reporter.finish();
    out.note(format!("   {} writes planned", demo::remote_writes(&third)));

    step(7, "status");
    render_status(
        ctx,
        &store,
        [first, second, third],
        &arrivals,
        tmp.is_none().then_some(&state_path),
    )?;
    match &tmp {
        None => out.note(format!(
            "\nthe state is in `{path}`: try `crmsync --state {path} conflicts list`, `log` and `explain` on it (the sandboxes are gone, so a sync of it has no CRM to reach)",
            path = state_path.display()
        )),
        Some(_) => out.note(
            "\nthe demo's state was in a temporary directory, now removed; to keep it, run `crmsync demo --state demo.db`, then try `crmsync --state demo.db conflicts list`, `log` and `explain`",
        ),
    }
    demo.stop();
    if let Some(dir) = tmp {
        drop(lock);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(Exit::Ok)
}

/// A sync run of the demo, its progress cleared and its report drawn.
async fn sync(
    ctx: &Context,
    demo: &Demo,
    store: &mut Store,
    reporter: &crate::output::progress::SyncProgress,
) -> anyhow::Result<crate::engine::sync::SyncReport> {
    let report = demo.sync(store, ctx.clock.clone(), reporter).await?;
    reporter.finish();
    if !ctx.out.json {
        super::sync::render(ctx, &report)?;
    }
    Ok(report)
}

/// The status the three runs leave: counts by connection and state and the conflicts held;
/// with `--json`, one document with the runs' reports too (`status` is HubSpot's,
/// `pipedrive_status` Pipedrive's, `salesforce_status` Salesforce's).
fn render_status(
    ctx: &Context,
    store: &Store,
    syncs: [crate::engine::sync::SyncReport; 3],
    arrivals: &[demo::Arrival],
    state_file: Option<&std::path::PathBuf>,
) -> anyhow::Result<()> {
    let out = &ctx.out;
    let mut t = table(
        out,
        &[
            "connection",
            "object",
            "synced",
            "local only",
            "pending",
            "error",
            "conflict",
        ],
    );
    let mut json_status = BTreeMap::new();
    for connection in [demo::CONNECTION, demo::PIPEDRIVE, demo::SALESFORCE] {
        let mut by_kind = BTreeMap::new();
        for s in store.status_all(connection)? {
            if s.kind == crate::model::ObjectKind::Activity {
                // The demo makes no activities.
                continue;
            }
            t.add_row(vec![
                connection.to_string(),
                s.kind.to_string(),
                s.synced.to_string(),
                s.local_only.to_string(),
                s.pending.to_string(),
                s.error.to_string(),
                s.conflict.to_string(),
            ]);
            by_kind.insert(s.kind, s);
        }
        json_status.insert(connection, by_kind);
    }
    let open = store.list_open_conflicts(&ConflictFilter::default())?;
    if out.json {
        // One document: the three runs' reports, then the status they leave.
        return out.json(&serde_json::json!({
            "syncs": syncs,
            "status": json_status[demo::CONNECTION],
            "pipedrive_status": json_status[demo::PIPEDRIVE],
            "salesforce_status": json_status[demo::SALESFORCE],
            "arrivals": arrivals,
            "open_conflicts": open,
            "state_file": state_file,
        }));
    }
    out.data(t)?;
    for c in &open {
        let crm = match c.connection.as_str() {
            demo::PIPEDRIVE => "Pipedrive",
            demo::SALESFORCE => "Salesforce",
            _ => "HubSpot",
        };
        out.data(format!(
            "conflict {}: {} `{}` is `{}` here and `{}` in {crm}; held for a person to decide",
            c.id,
            c.local_id,
            c.field,
            c.local.as_deref().unwrap_or(""),
            c.remote.as_deref().unwrap_or(""),
        ))?;
    }
    Ok(())
}
