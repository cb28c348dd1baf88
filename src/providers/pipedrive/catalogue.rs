//! Pipedrive's field catalogue (v1 `personFields` / `organizationFields`), the custom fields
//! crmsync creates, and the built-in mappings, which are known without an account.
//!
//! Custom fields are keyed by a 40-character hash in `custom_fields`; crmsync names them by
//! their NAME as the catalogue gives it (`crmsync_id`, `pronouns`), never by a hash written
//! down anywhere: the catalogue is read once per provider (and again after `mappings setup`
//! creates a field) and the hashes are looked up in it.
//!
//! The catalogue is cached as HubSpot's is: the engine keeps what was read in the state file
//! and hands it back while it is fresh (a day, or until a mapped field goes missing), so a
//! no-op run reads no catalogue. A kept catalogue is read again when a record of a read shows
//! a custom field it does not name (a field added, or one whose hashed key changed), and
//! before the run's first write, so a write never goes out with a key that is gone.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use super::{EXTERNAL_ID, ORG_REF, Pipedrive, fields_path};
use crate::model::ObjectKind;
use crate::providers::http::{Method, Request};
use crate::providers::{
    DefaultMapping, FieldOption, FieldSpec, ProviderError, RemoteField, RemoteFieldKind,
};

/// The built-in mappings of contacts (persons): canonical field, Pipedrive property.
const CONTACT_MAPPINGS: &[(&str, &str)] = &[
    ("email", "email"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("phone", "phone"),
    ("pronouns", "pronouns"),
    ("company_id", ORG_REF),
];

/// The built-in mappings of companies (organizations). Pipedrive organizations have no
/// website or domain field of their own (v2 `Organization` has `name`, `owner_id`,
/// `address`, `label_ids` and custom fields), so `domain` is left to a custom field mapping.
const COMPANY_MAPPINGS: &[(&str, &str)] = &[("name", "name")];

/// The built-in field mappings for `object`, every one both ways.
pub fn default_mappings(object: ObjectKind) -> Vec<DefaultMapping> {
    let pairs = match object {
        ObjectKind::Contact => CONTACT_MAPPINGS,
        ObjectKind::Company => COMPANY_MAPPINGS,
        ObjectKind::Activity => super::activities::MAPPINGS,
        ObjectKind::Deal => &[],
    };
    DefaultMapping::both_ways(pairs)
}

/// The custom fields crmsync needs: `crmsync_id` everywhere, and `pronouns` on persons
/// (a built-in mapping with no Pipedrive field of its own).
pub(super) fn required_fields(object: ObjectKind) -> Vec<FieldSpec> {
    let mut out = vec![FieldSpec {
        name: EXTERNAL_ID.to_string(),
        label: "crmsync id".to_string(),
        kind: RemoteFieldKind::Text,
        unique: true,
    }];
    if object == ObjectKind::Contact {
        out.push(FieldSpec {
            name: "pronouns".to_string(),
            label: "Pronouns".to_string(),
            kind: RemoteFieldKind::Text,
            unique: false,
        });
    }
    out
}

/// One field of the catalogue.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct FieldDef {
    /// The v1 id, which a field update is sent to.
    pub(super) id: Option<i64>,
    /// The key: a standard field's name (`email`), a custom field's hash.
    pub(super) key: String,
    pub(super) name: String,
    pub(super) field_type: String,
    /// A custom field (its value is under `custom_fields`).
    pub(super) custom: bool,
    pub(super) options: Vec<FieldOption>,
}

/// The catalogue of one object, by the names crmsync uses.
#[derive(Debug, Clone, Default)]
pub(super) struct Catalogue {
    pub(super) fields: Vec<FieldDef>,
    /// Custom field name → its definition (the first of a name, should two share it).
    by_name: BTreeMap<String, usize>,
    /// Custom field hash → its name.
    by_key: BTreeMap<String, String>,
}

impl Catalogue {
    pub(super) fn new(fields: Vec<FieldDef>) -> Catalogue {
        let mut by_name = BTreeMap::new();
        let mut by_key = BTreeMap::new();
        for (i, f) in fields.iter().enumerate().filter(|(_, f)| f.custom) {
            by_name.entry(f.name.clone()).or_insert(i);
            by_key.insert(f.key.clone(), f.name.clone());
        }
        Catalogue {
            fields,
            by_name,
            by_key,
        }
    }

    /// The custom field named `name`.
    pub(super) fn custom(&self, name: &str) -> Option<&FieldDef> {
        self.by_name.get(name).map(|&i| &self.fields[i])
    }

    /// The name of the custom field with hash `key`.
    pub(super) fn name_of(&self, key: &str) -> Option<&str> {
        self.by_key.get(key).map(String::as_str)
    }

    /// Whether a v2 record disagrees with this catalogue: it shows a custom field the
    /// catalogue does not name (one added, or one whose key changed), or lacks one of
    /// `properties` the catalogue has (one deleted). Pipedrive's v2 records list every custom
    /// field, unset ones as null, as the sandbox does (the spec does not say; were unset ones
    /// left out, a kept catalogue would only be read again, as before it was kept).
    pub(super) fn disagrees_with(&self, record: &Value, properties: &[String]) -> bool {
        let Some(custom) = record["custom_fields"].as_object() else {
            return false;
        };
        custom.keys().any(|k| self.name_of(k).is_none())
            || properties
                .iter()
                .filter_map(|p| self.custom(p))
                .any(|f| !custom.contains_key(&f.key))
    }
}

fn field_kind(field_type: &str) -> RemoteFieldKind {
    match field_type {
        "varchar" | "varchar_auto" | "text" | "address" => RemoteFieldKind::Text,
        "double" | "monetary" | "int" => RemoteFieldKind::Number,
        "date" => RemoteFieldKind::Date,
        "enum" | "set" | "visible_to" | "status" => RemoteFieldKind::Enumeration,
        "phone" => RemoteFieldKind::Phone,
        "org" | "people" | "user" => RemoteFieldKind::Reference,
        _ => RemoteFieldKind::Other,
    }
}

/// The v1 field type a [`FieldSpec`] is created as.
fn field_type_of(kind: RemoteFieldKind) -> &'static str {
    match kind {
        RemoteFieldKind::Number => "double",
        RemoteFieldKind::Date | RemoteFieldKind::DateTime => "date",
        RemoteFieldKind::Phone => "phone",
        _ => "varchar",
    }
}

/// The name a v1 field goes by in crmsync: a standard field by the property crmsync gives it
/// (its key, with `email`/`phone` as they are), a custom field by its name.
fn remote_name(f: &FieldDef) -> String {
    if f.custom {
        f.name.clone()
    } else {
        f.key.clone()
    }
}

/// How long a catalogue this process read stays good for writing in a later run of the same
/// process. `listen` runs one sync a batch, and a batch may be a single edit: reading the
/// catalogue before each one's write would cost it four times the tokens of the write. A
/// field deleted within this time may still be written by its old key, which Pipedrive
/// refuses; the batch then stays queued until the catalogue is read again.
const READ_FOR_LATER_RUNS: std::time::Duration = std::time::Duration::from_secs(60);

/// The catalogues this process read, by host, connection and object: when, and what they
/// said (as [`Pipedrive::catalogue_text`] gives it).
type Reads = std::sync::Mutex<HashMap<(String, ObjectKind), (std::time::Instant, String)>>;

fn reads() -> &'static Reads {
    static READS: std::sync::OnceLock<Reads> = std::sync::OnceLock::new();
    READS.get_or_init(Reads::default)
}

impl Pipedrive {
    fn reads_key(&self, object: ObjectKind) -> (String, ObjectKind) {
        let key = format!("{} {}", self.http.base_url(), self.http.connection());
        (key, object)
    }

    /// Notes that this process read `object`'s catalogue just now.
    fn note_read(&self, object: ObjectKind) {
        if let Some(text) = self.catalogue_text(object) {
            let mut reads = reads().lock().unwrap_or_else(|e| e.into_inner());
            reads.insert(self.reads_key(object), (std::time::Instant::now(), text));
        }
    }

    /// Whether the kept catalogue of `object` in use is the one this process read less than
    /// [`READ_FOR_LATER_RUNS`] ago.
    fn read_lately(&self, object: ObjectKind) -> bool {
        let Some(text) = self.catalogue_text(object) else {
            return false;
        };
        let reads = reads().lock().unwrap_or_else(|e| e.into_inner());
        reads
            .get(&self.reads_key(object))
            .is_some_and(|(at, read)| at.elapsed() < READ_FOR_LATER_RUNS && *read == text)
    }

    /// The catalogue of `object`, read once and kept.
    pub(super) async fn catalogue_of(
        &self,
        object: ObjectKind,
    ) -> Result<Arc<Catalogue>, ProviderError> {
        if let Some(c) = self.lock_catalogues().get(&object) {
            return Ok(c.clone());
        }
        let c = Arc::new(Catalogue::new(self.read_catalogue(object).await?));
        self.lock_catalogues().insert(object, c.clone());
        self.note_read(object);
        Ok(c)
    }

    /// The catalogue of `object` to read `raw` records with: a kept one that disagrees with
    /// them is read again first.
    pub(super) async fn catalogue_for(
        &self,
        object: ObjectKind,
        catalogue: Arc<Catalogue>,
        raw: &[&Value],
        properties: &[String],
    ) -> Result<Arc<Catalogue>, ProviderError> {
        if object == ObjectKind::Activity
            || !self.catalogue_restored(object)
            || !raw.iter().any(|r| catalogue.disagrees_with(r, properties))
        {
            return Ok(catalogue);
        }
        self.forget_catalogue(object);
        self.catalogue_of(object).await
    }

    /// The catalogue of `object` for a write: a kept one is read again first (once a run),
    /// unless this process read it lately ([`READ_FOR_LATER_RUNS`]).
    pub(super) async fn write_catalogue(
        &self,
        object: ObjectKind,
    ) -> Result<Arc<Catalogue>, ProviderError> {
        if self.lock_restored().contains(&object) {
            if self.read_lately(object) {
                self.lock_restored().remove(&object);
            } else {
                self.forget_catalogue(object);
            }
        }
        self.catalogue_of(object).await
    }

    /// Drops the catalogue of `object`, so that its next use reads it (in this run and, as
    /// far as this process's later runs go, in theirs).
    pub(super) fn forget_catalogue(&self, object: ObjectKind) {
        self.lock_catalogues().remove(&object);
        self.lock_restored().remove(&object);
        let mut reads = reads().lock().unwrap_or_else(|e| e.into_inner());
        reads.remove(&self.reads_key(object));
    }

    /// Whether the catalogue of `object` in use was kept from an earlier run.
    pub(super) fn catalogue_restored(&self, object: ObjectKind) -> bool {
        self.lock_restored().contains(&object)
    }

    /// The catalogue of `object` as text ([`Provider::kept_catalogue`](crate::providers::Provider::kept_catalogue)).
    pub(super) fn catalogue_text(&self, object: ObjectKind) -> Option<String> {
        let c = self.lock_catalogues().get(&object)?.clone();
        serde_json::to_string(&c.fields).ok()
    }

    /// Takes a kept catalogue back ([`Provider::restore_catalogue`](crate::providers::Provider::restore_catalogue)), unless one is in use.
    pub(super) fn restore_catalogue_text(&self, object: ObjectKind, kept: &str) {
        let Ok(fields) = serde_json::from_str::<Vec<FieldDef>>(kept) else {
            return;
        };
        let mut catalogues = self.lock_catalogues();
        if catalogues.contains_key(&object) {
            return;
        }
        catalogues.insert(object, Arc::new(Catalogue::new(fields)));
        self.lock_restored().insert(object);
    }

    /// Reads the v1 field list, paged by `start`.
    async fn read_catalogue(&self, object: ObjectKind) -> Result<Vec<FieldDef>, ProviderError> {
        let path = format!("/api/v1/{}", fields_path(object)?);
        let mut out = Vec::new();
        let mut start: u64 = 0;
        loop {
            let resp = self
                .http
                .send_ok(
                    Request::new(Method::Get, path.clone())
                        .query("start", start.to_string())
                        .query("limit", "500"),
                )
                .await?;
            let body: Value = self.parse(&resp, "the field list")?;
            for f in body["data"].as_array().into_iter().flatten() {
                let Some(key) = f["key"].as_str() else {
                    continue;
                };
                let name = f["name"].as_str().unwrap_or(key).to_string();
                out.push(FieldDef {
                    id: f["id"].as_i64(),
                    key: key.to_string(),
                    name,
                    field_type: f["field_type"].as_str().unwrap_or("varchar").to_string(),
                    custom: f["edit_flag"].as_bool().unwrap_or(false),
                    options: f["options"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|o| {
                            let value = super::wire::text(&o["id"])?;
                            let label = o["label"].as_str().unwrap_or(&value).to_string();
                            Some(FieldOption { value, label })
                        })
                        .collect(),
                });
            }
            let pagination = &body["additional_data"]["pagination"];
            if !pagination["more_items_in_collection"]
                .as_bool()
                .unwrap_or(false)
            {
                return Ok(out);
            }
            match pagination["next_start"].as_u64() {
                Some(next) if next > start => start = next,
                _ => return Ok(out),
            }
        }
    }

    pub(super) async fn remote_fields(
        &self,
        object: ObjectKind,
    ) -> Result<Vec<RemoteField>, ProviderError> {
        // Asked for afresh: `mappings check` wants the catalogue as it is now.
        self.forget_catalogue(object);
        let c = self.catalogue_of(object).await?;
        let mut out: Vec<RemoteField> = c
            .fields
            .iter()
            .map(|f| RemoteField {
                open_options: false,
                max_length: None,
                name: remote_name(f),
                label: f.name.clone(),
                remote_type: f.field_type.clone(),
                kind: if !f.custom && f.key == ORG_REF {
                    RemoteFieldKind::Reference
                } else {
                    field_kind(&f.field_type)
                },
                read_only: !f.custom
                    && !matches!(
                        f.key.as_str(),
                        "name"
                            | "first_name"
                            | "last_name"
                            | "email"
                            | "phone"
                            | "org_id"
                            | "owner_id"
                    ),
                unique: f.custom && f.name == EXTERNAL_ID,
                options: f.options.clone(),
            })
            .collect();
        // The owner's options are the users, by email (`owners.rs`).
        if let Some(owner) = out.iter_mut().find(|f| f.name == super::owners::OWNER_ID) {
            owner.options = self.users().await?;
        }
        Ok(out)
    }

    /// Creates a custom field with v1 `POST /v1/personFields` (`organizationFields`), named
    /// as crmsync names it, and forgets the catalogue so that the next use reads its hash.
    pub(super) async fn create_custom_field(
        &self,
        object: ObjectKind,
        spec: &FieldSpec,
    ) -> Result<(), ProviderError> {
        let path = format!("/api/v1/{}", fields_path(object)?);
        self.http
            .send_ok(Request::new(Method::Post, path).json(json!({
                "name": spec.name,
                "field_type": field_type_of(spec.kind),
                "add_visible_flag": true,
            })))
            .await?;
        self.forget_catalogue(object);
        Ok(())
    }
}
