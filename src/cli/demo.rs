//! `crmsync demo`

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::auth::{SecretString, StaticTokenSource};
use crate::config::{Config, ConnectionConfig};
use crate::engine::sync::{self, Participant, SyncOptions};
use crate::mapping::ConflictPolicy;
use crate::model::{ObjectKind, Record, RecordId};
use crate::output::table::table;
use crate::providers::{self, ProviderKind};
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::store::{ConflictFilter, Store, WriteOrigin};

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

const CONNECTION: &str = "hubspot";

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let out = &ctx.out;
    let explicit_state = std::env::var_os(crate::env::STATE).is_some()
        || std::env::args().any(|a| a == "--state" || a.starts_with("--state="));
    // Without `--state` the demo works in a directory of its own, removed at the end.
    let tmp = if explicit_state {
        None
    } else {
        Some(tempfile_dir()?)
    };
    let state_path = match &tmp {
        Some(dir) => dir.join("state.db"),
        None => ctx.state_path.clone(),
    };
    if explicit_state {
        refuse_a_used_state(&state_path)?;
    }

    let step = |n: u32, text: &str| out.note(format!("\n{} {text}", out.bold(&format!("{n}."))));
    step(1, "starting a sandbox HubSpot on 127.0.0.1");
    let sandbox = Sandbox::start(SandboxOptions::default())?;
    out.note(format!("   {}", sandbox.base_url()));

    // The connection, as `crmsync connect` would configure it, with pronouns held for a
    // person to decide.
    let mut config = Config::default();
    config
        .policies
        .entry(ObjectKind::Contact)
        .or_default()
        .insert("pronouns".into(), ConflictPolicy::Manual);
    config.connections.insert(
        CONNECTION.into(),
        ConnectionConfig {
            base_url: Some(sandbox.base_url()),
            ..crate::ops::connect::new_connection(ProviderKind::Hubspot)
        },
    );
    let provider: Arc<dyn providers::Provider> = Arc::from(providers::open(
        ProviderKind::Hubspot,
        crate::connection::provider_context(
            CONNECTION,
            &config.connections[CONNECTION],
            &config,
            Arc::new(StaticTokenSource::new(SecretString::new(sandbox.token()))),
            ctx.clock.clone(),
            None,
        ),
    )?);
    for object in [ObjectKind::Company, ObjectKind::Contact] {
        for spec in provider.required_fields(object) {
            provider.create_field(object, &spec).await?;
        }
    }
    provider
        .create_field(
            ObjectKind::Contact,
            &providers::FieldSpec {
                name: "pronouns".into(),
                label: "Pronouns".into(),
                kind: providers::RemoteFieldKind::Text,
                unique: false,
            },
        )
        .await?;

    step(
        2,
        &format!(
            "{} contacts in HubSpot, {} in the local store",
            args.contacts, args.contacts
        ),
    );
    let (remote_contacts, _) = sandbox.seed(args.contacts, 3);
    let mut store = Store::open(&state_path)?;
    store.set_clock(ctx.clock.clone());
    let _lock = store.lock()?;
    let now = ctx.clock.now();
    let locals: Vec<Record> = (0..args.contacts).map(|i| local_contact(i, now)).collect();
    store.save_records(&locals, &WriteOrigin::User)?;

    let participants = vec![Participant {
        name: CONNECTION.into(),
        config: config.connections[CONNECTION].clone(),
        provider: provider.clone(),
    }];
    let reporter = crate::output::progress::SyncProgress::new(out);

    step(3, "first sync: each side gets the other's contacts");
    let first = demo_sync(&mut store, &config, &participants, ctx, &reporter).await?;
    if !out.json {
        super::sync::render(ctx, &first)?;
    }

    step(4, "edits on both sides");
    let a = &locals[0];
    let b = &locals[1];
    let links = store.links_by_local_ids(
        CONNECTION,
        ObjectKind::Contact,
        &[a.id.clone(), b.id.clone()],
    )?;
    let (Some(link_a), Some(link_b)) = (links.get(&a.id), links.get(&b.id)) else {
        anyhow::bail!("the first sync did not link the demo contacts; see the report above");
    };
    // A different field on each side of contact A: both edits survive.
    edit_local(&mut store, &a.id, &[("phone", "+44 20 7946 0000")], ctx)?;
    sandbox.update_record(
        "contacts",
        &link_a.remote_id,
        &[("jobtitle", "VP Engineering")],
    )?;
    out.note(format!(
        "   {}: phone changed here, job title changed in HubSpot",
        a.get("email").unwrap_or_default()
    ));
    // The same field on both sides of contact B: newest-wins (HubSpot's edit is later).
    edit_local(&mut store, &b.id, &[("last_name", "Local-Edit")], ctx)?;
    sandbox.update_record(
        "contacts",
        &link_b.remote_id,
        &[("lastname", "Hubspot-Edit")],
    )?;
    out.note(format!(
        "   {}: last name changed on both sides (newest wins)",
        b.get("email").unwrap_or_default()
    ));
    // Pronouns on both sides of contact B: the `manual` policy holds it for a person.
    edit_local(&mut store, &b.id, &[("pronouns", "they/them")], ctx)?;
    sandbox.update_record("contacts", &link_b.remote_id, &[("pronouns", "she/her")])?;
    out.note(format!(
        "   {}: pronouns changed on both sides (held for you)",
        b.get("email").unwrap_or_default()
    ));
    // A contact edited only in HubSpot.
    if let Some(id) = remote_contacts.first() {
        sandbox.update_record("contacts", id, &[("lifecyclestage", "customer")])?;
        out.note(format!(
            "   HubSpot contact {id}: lifecycle stage changed in HubSpot"
        ));
    }

    step(5, "second sync: one run carries every change across");
    let second = demo_sync(&mut store, &config, &participants, ctx, &reporter).await?;
    if !out.json {
        super::sync::render(ctx, &second)?;
    }

    step(6, "a third sync has nothing to do");
    let third = demo_sync(&mut store, &config, &participants, ctx, &reporter).await?;
    let writes: u64 = third
        .connections
        .iter()
        .flat_map(|c| &c.objects)
        .map(|o| {
            let p = &o.planned;
            (p.remote_create + p.remote_update + p.remote_archive) as u64
        })
        .sum();
    out.note(format!("   {writes} writes planned"));

    step(7, "status");
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
    for s in store.status_all(CONNECTION)? {
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
        out.json(&serde_json::json!({
            "syncs": [first, second, third],
            "status": json_status,
            "open_conflicts": open,
            "state_file": tmp.is_none().then_some(&state_path),
        }))?;
    } else {
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
    }
    match &tmp {
        None => out.note(format!(
            "\nthe state is in `{path}`: try `crmsync --state {path} conflicts list`, `log` and `explain` on it (the sandbox is gone, so a sync of it has no HubSpot to reach)",
            path = state_path.display()
        )),
        Some(_) => out.note(
            "\nthe demo's state was in a temporary directory, now removed; to keep it, run `crmsync demo --state demo.db`, then try `crmsync --state demo.db conflicts list`, `log` and `explain`",
        ),
    }
    sandbox.stop();
    if let Some(dir) = tmp {
        drop(_lock);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(Exit::Ok)
}

/// Refuses a state file given with `--state` that holds records already: the demo's sandbox
/// is new on every run, so its links would clash with the ones a file keeps from before.
fn refuse_a_used_state(path: &std::path::Path) -> anyhow::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let store = Store::open(path)?;
    let mut held = 0;
    for kind in [
        ObjectKind::Contact,
        ObjectKind::Company,
        ObjectKind::Activity,
    ] {
        held += store.count_records(kind, true)?;
    }
    if held > 0 {
        return Err(crate::error::Error::usage(format!(
            "the demo needs a new state file, and `{}` holds {held} record(s) already; pass `--state` a path that does not exist yet",
            path.display()
        ))
        .into());
    }
    Ok(())
}

/// One sync run of the demo, with its progress cleared afterwards.
async fn demo_sync(
    store: &mut Store,
    config: &Config,
    participants: &[Participant],
    ctx: &Context,
    reporter: &crate::output::progress::SyncProgress,
) -> anyhow::Result<sync::SyncReport> {
    let report = sync::run(
        store,
        config,
        participants,
        &SyncOptions::default(),
        ctx.clock.clone(),
        reporter,
    )
    .await?;
    reporter.finish();
    Ok(report)
}

/// A fresh directory under the system temp dir.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("crmsync-demo-{}", RecordId::new()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn edit_local(
    store: &mut Store,
    id: &RecordId,
    changes: &[(&str, &str)],
    ctx: &Context,
) -> anyhow::Result<()> {
    let mut rec = store
        .get_record(id)?
        .ok_or_else(|| anyhow::anyhow!("demo record `{id}` is gone"))?;
    for (k, v) in changes {
        crate::model::set_field(&mut rec.fields, k, *v);
    }
    rec.updated_at = ctx.clock.now();
    store.save_records(&[rec], &WriteOrigin::User)?;
    Ok(())
}

const FIRST: [&str; 10] = [
    "Amelia", "Noah", "Priya", "Mateo", "Zoe", "Kwame", "Lena", "Hiro", "Sofia", "Omar",
];
const LAST: [&str; 10] = [
    "Hart", "Okafor", "Nguyen", "Silva", "Berg", "Mensah", "Rossi", "Tanaka", "Lopez", "Haddad",
];

fn local_contact(i: usize, now: i64) -> Record {
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / FIRST.len() + i) % LAST.len()];
    let mut fields = crate::model::Fields::new();
    fields.insert("first_name".into(), first.into());
    fields.insert("last_name".into(), last.into());
    fields.insert(
        "email".into(),
        format!(
            "{}.{}.{i}@demo.example",
            first.to_lowercase(),
            last.to_lowercase()
        ),
    );
    fields.insert("job_title".into(), "Engineer".into());
    fields.insert("lifecycle_stage".into(), "lead".into());
    Record {
        id: RecordId::new(),
        kind: ObjectKind::Contact,
        fields,
        updated_at: now,
        archived_at: None,
    }
}
