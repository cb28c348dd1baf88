//! `crmsync demo`

use std::collections::BTreeMap;

use crate::ops::demo::{self, Demo};
use crate::output::table::table;
use crate::store::{ConflictFilter, Store};

use super::{Context, Exit};

/// Run the main job on the built-in sandbox: sample data, two-way sync, conflicts, status
///
/// Starts a sandbox HubSpot in-process, works in a temporary directory unless `--state` is
/// given, and touches nothing outside it.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  crmsync demo")]
pub struct Args {
    /// How many contacts to generate on each side
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
    step(1, "starting a sandbox HubSpot on 127.0.0.1");
    let demo = Demo::start(ctx.clock.clone()).await?;
    out.note(format!("   {}", demo.sandbox.base_url()));

    step(
        2,
        &format!(
            "{} contacts in HubSpot, {} in the local store",
            args.contacts, args.contacts
        ),
    );
    let mut store = Store::open(&state_path)?;
    store.set_clock(ctx.clock.clone());
    let lock = store.lock()?;
    let (remote_contacts, locals) = demo.seed(&mut store, args.contacts, ctx.clock.now())?;
    let reporter = crate::output::progress::SyncProgress::new(out);

    step(3, "first sync: each side gets the other's contacts");
    let first = sync(ctx, &demo, &mut store, &reporter).await?;

    step(4, "edits on both sides");
    for edit in demo.edit_both_sides(&mut store, &locals, &remote_contacts, &*ctx.clock)? {
        out.note(format!("   {edit}"));
    }

    step(5, "second sync: one run carries every change across");
    let second = sync(ctx, &demo, &mut store, &reporter).await?;

    step(6, "a third sync has nothing to do");
    let third = demo.sync(&mut store, ctx.clock.clone(), &reporter).await?;
    reporter.finish();
    out.note(format!("   {} writes planned", demo::remote_writes(&third)));

    step(7, "status");
    render_status(
        ctx,
        &store,
        [first, second, third],
        tmp.is_none().then_some(&state_path),
    )?;
    match &tmp {
        None => out.note(format!(
            "\nthe state is in `{path}`: try `crmsync --state {path} conflicts list`, `log` and `explain` on it (the sandbox is gone, so a sync of it has no HubSpot to reach)",
            path = state_path.display()
        )),
        Some(_) => out.note(
            "\nthe demo's state was in a temporary directory, now removed; to keep it, run `crmsync demo --state demo.db`, then try `crmsync --state demo.db conflicts list`, `log` and `explain`",
        ),
    }
    demo.sandbox.stop();
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

/// The status the three runs leave: counts by state and the conflicts held; with `--json`,
/// one document with the runs' reports too.
fn render_status(
    ctx: &Context,
    store: &Store,
    syncs: [crate::engine::sync::SyncReport; 3],
    state_file: Option<&std::path::PathBuf>,
) -> anyhow::Result<()> {
    let out = &ctx.out;
    let mut t = table(
        out,
        &[
            "object",
            "synced",
            "local only",
            "pending",
            "error",
            "conflict",
        ],
    );
    let mut json_status = BTreeMap::new();
    for s in store.status_all(demo::CONNECTION)? {
        t.add_row(vec![
            s.kind.to_string(),
            s.synced.to_string(),
            s.local_only.to_string(),
            s.pending.to_string(),
            s.error.to_string(),
            s.conflict.to_string(),
        ]);
        json_status.insert(s.kind, s);
    }
    let open = store.list_open_conflicts(&ConflictFilter::default())?;
    if out.json {
        // One document: the three runs' reports, then the status they leave.
        return out.json(&serde_json::json!({
            "syncs": syncs,
            "status": json_status,
            "open_conflicts": open,
            "state_file": state_file,
        }));
    }
    out.data(t)?;
    for c in &open {
        out.data(format!(
            "conflict {}: {} `{}` is `{}` here and `{}` in HubSpot; held for a person to decide",
            c.id,
            c.local_id,
            c.field,
            c.local.as_deref().unwrap_or(""),
            c.remote.as_deref().unwrap_or(""),
        ))?;
    }
    Ok(())
}
