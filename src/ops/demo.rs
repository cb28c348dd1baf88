//! The demo: a sandbox HubSpot in this process, a connection to it, sample contacts on both
//! sides, edits on both sides and the syncs between them. `cli/demo.rs` tells the story.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::auth::{SecretString, StaticTokenSource};
use crate::clock::Clock;
use crate::config::{Config, ConnectionConfig};
use crate::engine::sync::{self, Participant, SyncOptions, SyncReport, SyncReporter};
use crate::error::Error;
use crate::mapping::ConflictPolicy;
use crate::model::{ObjectKind, Record, RecordId};
use crate::providers::{self, ProviderKind};
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::store::{Store, WriteOrigin};

/// The demo's one connection.
pub const CONNECTION: &str = "hubspot";

/// The sandbox and the connection to it.
pub struct Demo {
    pub sandbox: Sandbox,
    config: Config,
    participants: Vec<Participant>,
}

impl Demo {
    /// Starts a sandbox HubSpot on 127.0.0.1 and connects to it as `crmsync connect` would
    /// configure it, with pronouns held for a person to decide and the fields crmsync needs
    /// made in the CRM.
    pub async fn start(clock: Arc<dyn Clock>) -> anyhow::Result<Demo> {
        let sandbox = Sandbox::start(SandboxOptions::default())?;
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
                ..super::connect::new_connection(ProviderKind::Hubspot)
            },
        );
        let provider: Arc<dyn providers::Provider> = Arc::from(providers::open(
            ProviderKind::Hubspot,
            crate::connection::provider_context(
                CONNECTION,
                &config.connections[CONNECTION],
                &config,
                Arc::new(StaticTokenSource::new(SecretString::new(sandbox.token()))),
                clock,
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
        let participants = vec![Participant {
            name: CONNECTION.into(),
            config: config.connections[CONNECTION].clone(),
            provider,
        }];
        Ok(Demo {
            sandbox,
            config,
            participants,
        })
    }

    /// `contacts` contacts (and 3 companies) in HubSpot, and `contacts` others saved in
    /// `store`; returns HubSpot's contact ids and the local contacts.
    pub fn seed(
        &self,
        store: &mut Store,
        contacts: usize,
        now: crate::model::Millis,
    ) -> anyhow::Result<(Vec<String>, Vec<Record>)> {
        let (remote_contacts, _) = self.sandbox.seed(contacts, 3);
        let locals: Vec<Record> = (0..contacts).map(|i| local_contact(i, now)).collect();
        store.save_records(&locals, &WriteOrigin::User)?;
        Ok((remote_contacts, locals))
    }

    /// One sync run between the store and the sandbox.
    pub async fn sync(
        &self,
        store: &mut Store,
        clock: Arc<dyn Clock>,
        reporter: &dyn SyncReporter,
    ) -> anyhow::Result<SyncReport> {
        Ok(sync::run(
            store,
            &self.config,
            &self.participants,
            &SyncOptions::default(),
            clock,
            reporter,
        )
        .await?)
    }

    /// Edits on both sides of the first two local contacts (linked by a first sync) and of
    /// the first HubSpot one; returns each edit in words.
    pub fn edit_both_sides(
        &self,
        store: &mut Store,
        locals: &[Record],
        remote_contacts: &[String],
        clock: &dyn Clock,
    ) -> anyhow::Result<Vec<String>> {
        let (a, b) = (&locals[0], &locals[1]);
        let links = store.links_by_local_ids(
            CONNECTION,
            ObjectKind::Contact,
            &[a.id.clone(), b.id.clone()],
        )?;
        let (Some(link_a), Some(link_b)) = (links.get(&a.id), links.get(&b.id)) else {
            anyhow::bail!("the first sync did not link the demo contacts; see the report above");
        };
        let sandbox = &self.sandbox;
        let mut done = Vec::new();
        // A different field on each side of contact A: both edits survive.
        edit_local(store, &a.id, &[("phone", "+44 20 7946 0000")], clock.now())?;
        sandbox.update_record(
            "contacts",
            &link_a.remote_id,
            &[("jobtitle", "VP Engineering")],
        )?;
        done.push(format!(
            "{}: phone changed here, job title changed in HubSpot",
            a.get("email").unwrap_or_default()
        ));
        // The same field on both sides of contact B: newest-wins (HubSpot's edit is later).
        edit_local(store, &b.id, &[("last_name", "Local-Edit")], clock.now())?;
        sandbox.update_record(
            "contacts",
            &link_b.remote_id,
            &[("lastname", "Hubspot-Edit")],
        )?;
        done.push(format!(
            "{}: last name changed on both sides (newest wins)",
            b.get("email").unwrap_or_default()
        ));
        // Pronouns on both sides of contact B: the `manual` policy holds it for a person.
        edit_local(store, &b.id, &[("pronouns", "they/them")], clock.now())?;
        sandbox.update_record("contacts", &link_b.remote_id, &[("pronouns", "she/her")])?;
        done.push(format!(
            "{}: pronouns changed on both sides (held for you)",
            b.get("email").unwrap_or_default()
        ));
        // A contact edited only in HubSpot.
        if let Some(id) = remote_contacts.first() {
            sandbox.update_record("contacts", id, &[("lifecyclestage", "customer")])?;
            done.push(format!(
                "HubSpot contact {id}: lifecycle stage changed in HubSpot"
            ));
        }
        Ok(done)
    }
}

/// The writes a run planned to the CRM.
pub fn remote_writes(report: &SyncReport) -> u64 {
    report
        .connections
        .iter()
        .flat_map(|c| &c.objects)
        .map(|o| {
            let p = &o.planned;
            (p.remote_create + p.remote_update + p.remote_archive) as u64
        })
        .sum()
}

/// Refuses a state file given with `--state` that holds records already: the demo's sandbox
/// is new on every run, so its links would clash with the ones a file keeps from before.
pub fn refuse_a_used_state(path: &Path) -> anyhow::Result<()> {
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
        return Err(Error::usage(format!(
            "the demo needs a new state file, and `{}` holds {held} record(s) already; pass `--state` a path that does not exist yet",
            path.display()
        ))
        .into());
    }
    Ok(())
}

/// A fresh directory under the system temp dir.
pub fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("crmsync-demo-{}", RecordId::new()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn edit_local(
    store: &mut Store,
    id: &RecordId,
    changes: &[(&str, &str)],
    now: crate::model::Millis,
) -> anyhow::Result<()> {
    let mut rec = store
        .get_record(id)?
        .ok_or_else(|| anyhow::anyhow!("demo record `{id}` is gone"))?;
    for (k, v) in changes {
        crate::model::set_field(&mut rec.fields, k, *v);
    }
    rec.updated_at = now;
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
