//! The demo: a sandbox HubSpot, a sandbox Pipedrive and a sandbox Salesforce in this
//! process, a connection to each, sample contacts on every side, edits on each side and the
//! syncs between them. `cli/demo.rs` tells the story.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::auth::{SecretString, StaticTokenSource};
use crate::clock::Clock;
use crate::config::{Config, ConnectionConfig};
use crate::engine::sync::{self, Participant, SyncOptions, SyncReport, SyncReporter};
use crate::error::Error;
use crate::mapping::ConflictPolicy;
use crate::model::{ObjectKind, Record, RecordId};
use crate::providers::{self, ProviderKind};
use crate::sandbox::pipedrive::{PipedriveOptions, PipedriveSandbox};
use crate::sandbox::salesforce::{SalesforceOptions, SalesforceSandbox};
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::store::{Store, WriteOrigin};

/// The demo's HubSpot connection.
pub const CONNECTION: &str = "hubspot";
/// The demo's Pipedrive connection.
pub const PIPEDRIVE: &str = "pipedrive";
/// The demo's Salesforce connection.
pub const SALESFORCE: &str = "salesforce";

/// The phone a HubSpot user gives a contact between the first two syncs.
const HUBSPOT_PHONE: &str = "+1 555 0100";
/// The last name a Pipedrive user gives a person between the first two syncs.
const PIPEDRIVE_LAST_NAME: &str = "Moreno-Diaz";
/// The title a Salesforce user gives a contact between the first two syncs.
const SALESFORCE_TITLE: &str = "Head of Customer Success";

/// The sandboxes and the connections to them.
pub struct Demo {
    pub sandbox: Sandbox,
    pub pipedrive: PipedriveSandbox,
    pub salesforce: SalesforceSandbox,
    config: Config,
    participants: Vec<Participant>,
}

/// What the demo put in each place: HubSpot's contact ids, Pipedrive's person ids,
/// Salesforce's contact ids and the local contacts.
pub struct Seeded {
    pub hubspot: Vec<String>,
    pub pipedrive: Vec<i64>,
    pub salesforce: Vec<String>,
    pub locals: Vec<Record>,
}

/// The two edits made in one CRM for the other: which record, and whether the other CRM has
/// the value after the second sync (read back from that CRM).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Arrival {
    /// What was edited, in words.
    pub edit: String,
    /// Where it should be now, in words.
    pub target: String,
    pub arrived: bool,
}

/// The edits [`Demo::edit_both_sides`] made in the CRMs, to look for after the next sync.
pub struct CrmEdits {
    /// HubSpot's contact whose phone a HubSpot user changed.
    hubspot_contact: Option<String>,
    /// Pipedrive's person whose name a Pipedrive user changed.
    pipedrive_person: Option<i64>,
    /// Salesforce's contact whose title a Salesforce user changed.
    salesforce_contact: Option<String>,
}

impl Demo {
    /// Starts a sandbox HubSpot, a sandbox Pipedrive and a sandbox Salesforce (each with its
    /// CRM's default limits) on 127.0.0.1 and connects to each as `crmsync connect` would
    /// configure them, with pronouns held for a person to decide and the fields crmsync
    /// needs made in each CRM.
    pub async fn start(clock: Arc<dyn Clock>) -> anyhow::Result<Demo> {
        let sandbox = Sandbox::start(SandboxOptions::default())?;
        let pipedrive = PipedriveSandbox::start(PipedriveOptions::default())?;
        let salesforce = SalesforceSandbox::start(SalesforceOptions::default())?;
        let mut config = Config::default();
        config
            .policies
            .entry(ObjectKind::Contact)
            .or_default()
            .insert("pronouns".into(), ConflictPolicy::Manual);
        let crms = [
            (
                CONNECTION,
                ProviderKind::Hubspot,
                sandbox.base_url(),
                sandbox.token(),
            ),
            (
                PIPEDRIVE,
                ProviderKind::Pipedrive,
                pipedrive.base_url(),
                pipedrive.api_token(),
            ),
            // A session the sandbox org opens, as a sign-in would give; its base URL is the
            // org's instance (and login host).
            (
                SALESFORCE,
                ProviderKind::Salesforce,
                salesforce.base_url(),
                salesforce.mint_token().0,
            ),
        ];
        for (name, kind, base_url, _) in &crms {
            config.connections.insert(
                name.to_string(),
                ConnectionConfig {
                    base_url: Some(base_url.clone()),
                    ..super::connect::new_connection(*kind)
                },
            );
        }
        let mut participants = Vec::new();
        for (name, kind, _, token) in crms {
            let provider: Arc<dyn providers::Provider> = Arc::from(providers::open(
                kind,
                crate::connection::provider_context(
                    name,
                    &config.connections[name],
                    &config,
                    Arc::new(StaticTokenSource::new(SecretString::new(token))),
                    clock.clone(),
                    None,
                ),
            )?);
            set_up_fields(&*provider, &config.connections[name]).await?;
            participants.push(Participant {
                name: name.into(),
                config: config.connections[name].clone(),
                provider,
            });
        }
        Ok(Demo {
            sandbox,
            pipedrive,
            salesforce,
            config,
            participants,
        })
    }

    /// `contacts` contacts (and 3 companies) in HubSpot, a fifth as many persons (at least
    /// two, with 2 organizations) in Pipedrive and contacts (with 2 accounts) in Salesforce,
    /// and `contacts` others saved in `store`.
    pub fn seed(
        &self,
        store: &mut Store,
        contacts: usize,
        now: crate::model::Millis,
    ) -> anyhow::Result<Seeded> {
        let (hubspot, _) = self.sandbox.seed(contacts, 3);
        let (pipedrive, _) = self.pipedrive.seed((contacts / 5).max(2), 2);
        let sf = self.salesforce.seed((contacts / 5).max(2), 2, 0);
        // Salesforce's industries are not HubSpot's options (`Technology` is none of them):
        // the demo's accounts name none, rather than show a refusal a value map would mend.
        for id in &sf.accounts {
            self.salesforce
                .update_record("Account", id, &json!({ "Industry": null }))?;
        }
        let salesforce = sf.contacts;
        let locals: Vec<Record> = (0..contacts).map(|i| local_contact(i, now)).collect();
        store.save_records(&locals, &WriteOrigin::User)?;
        Ok(Seeded {
            hubspot,
            pipedrive,
            salesforce,
            locals,
        })
    }

    /// One sync run between the store and the sandboxes.
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

    /// Edits on both sides of the first two local contacts (linked by a first sync), of the
    /// first HubSpot contact (by a HubSpot user), of the first Pipedrive person (by a
    /// Pipedrive user) and of the first Salesforce contact (by a Salesforce user); returns
    /// each edit in words, and the CRM edits to look for.
    pub fn edit_both_sides(
        &self,
        store: &mut Store,
        seeded: &Seeded,
        clock: &dyn Clock,
    ) -> anyhow::Result<(Vec<String>, CrmEdits)> {
        let (a, b) = (&seeded.locals[0], &seeded.locals[1]);
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
            "{}: last name changed here and in HubSpot (newest wins)",
            b.get("email").unwrap_or_default()
        ));
        // Pronouns on both sides of contact B: the `manual` policy holds it for a person.
        edit_local(store, &b.id, &[("pronouns", "they/them")], clock.now())?;
        sandbox.update_record("contacts", &link_b.remote_id, &[("pronouns", "she/her")])?;
        done.push(format!(
            "{}: pronouns changed here and in HubSpot (held for you)",
            b.get("email").unwrap_or_default()
        ));
        // A contact edited only in HubSpot, and a person edited only in Pipedrive.
        let hubspot_contact = seeded.hubspot.first().cloned();
        if let Some(id) = &hubspot_contact {
            sandbox.update_record(
                "contacts",
                id,
                &[("phone", HUBSPOT_PHONE), ("lifecyclestage", "customer")],
            )?;
            done.push(format!(
                "HubSpot contact {id}: phone and lifecycle stage changed in HubSpot"
            ));
        }
        let pipedrive_person = seeded.pipedrive.first().copied();
        if let Some(id) = pipedrive_person {
            let person = self.pipedrive.update_record(
                "persons",
                id,
                &json!({"name": format!("{} {PIPEDRIVE_LAST_NAME}", pipedrive_first_name(&self.pipedrive, id))}),
            )?;
            done.push(format!(
                "Pipedrive person {id}: renamed `{}` in Pipedrive",
                person["name"].as_str().unwrap_or_default()
            ));
        }
        let salesforce_contact = seeded.salesforce.first().cloned();
        if let Some(id) = &salesforce_contact {
            self.salesforce
                .update_record("Contact", id, &json!({ "Title": SALESFORCE_TITLE }))?;
            done.push(format!(
                "Salesforce contact {id}: title changed in Salesforce"
            ));
        }
        Ok((
            done,
            CrmEdits {
                hubspot_contact,
                pipedrive_person,
                salesforce_contact,
            },
        ))
    }

    /// Whether each CRM edit is in the other CRM now, read back from that CRM's sandbox.
    pub fn arrivals(&self, store: &Store, edits: &CrmEdits) -> anyhow::Result<Vec<Arrival>> {
        let mut out = Vec::new();
        if let Some(hs_id) = &edits.hubspot_contact {
            let pd_id = other_id(store, CONNECTION, hs_id, PIPEDRIVE)?;
            let phone = pd_id
                .as_deref()
                .and_then(|id| pipedrive_phone(&self.pipedrive, id));
            out.push(Arrival {
                edit: format!("HubSpot contact {hs_id}'s phone {HUBSPOT_PHONE}"),
                target: format!("Pipedrive person {}", pd_id.as_deref().unwrap_or("(none)")),
                arrived: phone.as_deref() == Some(HUBSPOT_PHONE),
            });
        }
        if let Some(hs_id) = &edits.hubspot_contact {
            let sf_id = other_id(store, CONNECTION, hs_id, SALESFORCE)?;
            let phone = sf_id
                .as_deref()
                .and_then(|id| salesforce_field(&self.salesforce, id, "Phone"));
            out.push(Arrival {
                edit: format!("HubSpot contact {hs_id}'s phone {HUBSPOT_PHONE}"),
                target: format!(
                    "Salesforce contact {}",
                    sf_id.as_deref().unwrap_or("(none)")
                ),
                arrived: phone.as_deref() == Some(HUBSPOT_PHONE),
            });
        }
        if let Some(pd_id) = edits.pipedrive_person {
            let hs_id = other_id(store, PIPEDRIVE, &pd_id.to_string(), CONNECTION)?;
            let last = hs_id
                .as_deref()
                .and_then(|id| hubspot_property(&self.sandbox, id, "lastname"));
            out.push(Arrival {
                edit: format!("Pipedrive person {pd_id}'s last name {PIPEDRIVE_LAST_NAME}"),
                target: format!("HubSpot contact {}", hs_id.as_deref().unwrap_or("(none)")),
                arrived: last.as_deref() == Some(PIPEDRIVE_LAST_NAME),
            });
        }
        if let Some(sf_id) = &edits.salesforce_contact {
            let hs_id = other_id(store, SALESFORCE, sf_id, CONNECTION)?;
            let title = hs_id
                .as_deref()
                .and_then(|id| hubspot_property(&self.sandbox, id, "jobtitle"));
            out.push(Arrival {
                edit: format!("Salesforce contact {sf_id}'s title {SALESFORCE_TITLE}"),
                target: format!("HubSpot contact {}", hs_id.as_deref().unwrap_or("(none)")),
                arrived: title.as_deref() == Some(SALESFORCE_TITLE),
            });
        }
        Ok(out)
    }

    /// Stops the sandboxes.
    pub fn stop(self) {
        self.sandbox.stop();
        self.pipedrive.stop();
        self.salesforce.stop();
    }
}

/// Makes the fields crmsync needs in the CRM for each object the connection syncs:
/// `crmsync_id`, and the field pronouns are kept in for contacts.
async fn set_up_fields(
    provider: &dyn providers::Provider,
    connection: &ConnectionConfig,
) -> anyhow::Result<()> {
    for object in [
        ObjectKind::Company,
        ObjectKind::Contact,
        ObjectKind::Activity,
    ] {
        if !connection.syncs(object) || !provider.objects().contains(&object) {
            continue;
        }
        let mut specs = provider.required_fields(object);
        let pronouns = provider
            .default_mappings(object)
            .into_iter()
            .find(|m| m.local == "pronouns")
            .map(|m| m.remote);
        if let Some(remote) = pronouns.filter(|r| !specs.iter().any(|s| s.name == *r)) {
            specs.push(providers::FieldSpec {
                name: remote.into(),
                label: "Pronouns".into(),
                kind: providers::RemoteFieldKind::Text,
                unique: false,
            });
        }
        for spec in specs {
            provider.create_field(object, &spec).await?;
        }
    }
    Ok(())
}

/// The id in connection `to` of the contact linked to `id` of connection `from`.
fn other_id(store: &Store, from: &str, id: &str, to: &str) -> anyhow::Result<Option<String>> {
    let Some(link) = store
        .links_by_remote_ids(from, ObjectKind::Contact, &[id.to_string()])?
        .remove(id)
    else {
        return Ok(None);
    };
    Ok(store
        .links_by_local_ids(to, ObjectKind::Contact, &[link.local_id])?
        .into_values()
        .next()
        .map(|l| l.remote_id))
}

/// The Pipedrive person `id` as its sandbox holds it.
fn pipedrive_person(pipedrive: &PipedriveSandbox, id: &str) -> Option<Value> {
    pipedrive.dump()["persons"]
        .as_array()?
        .iter()
        .find(|p| p["id"].as_i64().map(|n| n.to_string()).as_deref() == Some(id))
        .cloned()
}

fn pipedrive_first_name(pipedrive: &PipedriveSandbox, id: i64) -> String {
    pipedrive_person(pipedrive, &id.to_string())
        .and_then(|p| p["first_name"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The primary phone of Pipedrive person `id`.
fn pipedrive_phone(pipedrive: &PipedriveSandbox, id: &str) -> Option<String> {
    let person = pipedrive_person(pipedrive, id)?;
    let phones = person["phones"].as_array()?;
    phones
        .iter()
        .find(|p| p["primary"] == true)
        .or_else(|| phones.first())
        .and_then(|p| p["value"].as_str())
        .map(str::to_string)
}

/// A field of Salesforce contact `id` as its sandbox holds it.
fn salesforce_field(salesforce: &SalesforceSandbox, id: &str, field: &str) -> Option<String> {
    salesforce.dump()["Contact"]
        .as_array()?
        .iter()
        .find(|c| c["Id"] == id)
        .and_then(|c| c[field].as_str())
        .map(str::to_string)
}

/// A property of HubSpot contact `id` as its sandbox holds it.
fn hubspot_property(sandbox: &Sandbox, id: &str, property: &str) -> Option<String> {
    sandbox.dump()["contacts"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == id)
        .and_then(|c| c["properties"][property].as_str())
        .map(str::to_string)
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
