//! The field catalogue (`GET sobjects/X/describe`, read once per provider and again after
//! `mappings setup` creates a field), the built-in mappings, which are known without an org,
//! and custom fields through the Tooling API (`POST tooling/sobjects/CustomField`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::wire::{IS_CLOSED, WHAT_ID, text};
use super::{EXTERNAL_ID, Salesforce, sobject};
use crate::model::ObjectKind;
use crate::providers::http::Method;
use crate::providers::{
    DefaultMapping, FieldOption, FieldSpec, ProviderError, RemoteField, RemoteFieldKind,
};

/// The custom field holding pronouns on Contacts.
pub const PRONOUNS: &str = "Pronouns__c";

const CONTACT_MAPPINGS: &[(&str, &str)] = &[
    ("email", "Email"),
    ("first_name", "FirstName"),
    ("last_name", "LastName"),
    ("phone", "Phone"),
    ("job_title", "Title"),
    ("pronouns", PRONOUNS),
    ("company_id", "AccountId"),
];

/// Accounts have `Website` (a URL, not a domain), so `domain` is left to a mapping of its own.
const COMPANY_MAPPINGS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("industry", "Industry"),
    ("country", "BillingCountry"),
];

const ACTIVITY_MAPPINGS: &[(&str, &str)] = &[
    ("type", "TaskSubtype"),
    ("subject", "Subject"),
    ("note", "Description"),
    ("due_date", "ActivityDate"),
    ("done", IS_CLOSED),
    ("contact_id", "WhoId"),
    ("company_id", WHAT_ID),
];

/// Which `TaskSubtype` each local activity type is kept as (the picklist's values in a new
/// org: `Task`, `Email`, `ListEmail`, `Cadence`, `Call`, `LinkedIn`; unconfirmed in DIGEST
/// §3.3), unless `[connections.NAME.activity_types]` says otherwise.
pub const DEFAULT_ACTIVITY_TYPES: &[(&str, &str)] = &[
    ("call", "Call"),
    ("email", "Email"),
    ("linkedin", "LinkedIn"),
    ("meeting", "Task"),
    ("referral", "Task"),
    ("conference", "Task"),
    ("note", "Task"),
];

/// The built-in field mappings for `object`, every one both ways.
pub fn default_mappings(object: ObjectKind) -> Vec<DefaultMapping> {
    DefaultMapping::both_ways(match object {
        ObjectKind::Contact => CONTACT_MAPPINGS,
        ObjectKind::Company => COMPANY_MAPPINGS,
        ObjectKind::Activity => ACTIVITY_MAPPINGS,
        ObjectKind::Deal => super::deals::MAPPINGS,
    })
}

/// The custom fields crmsync needs: `crmsync_id__c` everywhere, `Pronouns__c` on Contacts.
pub(super) fn required_fields(object: ObjectKind) -> Vec<FieldSpec> {
    let mut out = vec![FieldSpec {
        name: EXTERNAL_ID.to_string(),
        label: "crmsync id".to_string(),
        kind: RemoteFieldKind::Text,
        unique: true,
    }];
    if object == ObjectKind::Contact {
        out.push(FieldSpec {
            name: PRONOUNS.to_string(),
            label: "Pronouns".to_string(),
            kind: RemoteFieldKind::Text,
            unique: false,
        });
    }
    out
}

/// One field of `describe`.
#[derive(Debug, Clone)]
pub(super) struct FieldDef {
    pub(super) label: String,
    pub(super) field_type: String,
    pub(super) length: Option<u64>,
    pub(super) updateable: bool,
    pub(super) unique: bool,
    pub(super) restricted: bool,
    pub(super) options: Vec<FieldOption>,
}

/// The catalogue of one object.
#[derive(Debug, Clone, Default)]
pub(super) struct Catalogue {
    pub(super) fields: BTreeMap<String, FieldDef>,
    /// The Account id prefix (`keyPrefix` of Account's describe), to tell a Task's `WhatId`
    /// that is an Account; read for Tasks only.
    pub(super) account_prefix: Option<String>,
}

impl Catalogue {
    pub(super) fn from_describe(v: &Value) -> Catalogue {
        let fields = v["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                let name = f["name"].as_str()?.to_string();
                let options = f["picklistValues"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|o| o["active"].as_bool() != Some(false))
                    .filter_map(|o| {
                        let value = text(&o["value"])?;
                        let label = text(&o["label"]).unwrap_or_else(|| value.clone());
                        Some(FieldOption { value, label })
                    })
                    .collect();
                let def = FieldDef {
                    label: text(&f["label"]).unwrap_or_else(|| name.clone()),
                    field_type: text(&f["type"]).unwrap_or_default(),
                    length: f["length"].as_u64().filter(|l| *l > 0),
                    updateable: f["updateable"].as_bool().unwrap_or(false),
                    unique: f["unique"].as_bool().unwrap_or(false),
                    restricted: f["restrictedPicklist"].as_bool().unwrap_or(false),
                    options,
                };
                Some((name, def))
            })
            .collect();
        Catalogue {
            fields,
            account_prefix: None,
        }
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    /// `value` as the JSON number a write sends, when field `name` holds numbers
    /// (`currency`, `double`, `percent`, `int`) and `value` is one.
    pub(super) fn number(&self, name: &str, value: &str) -> Option<Value> {
        let f = self.fields.get(name)?;
        if kind_of(&f.field_type) != RemoteFieldKind::Number {
            return None;
        }
        let n: f64 = value.trim().parse().ok()?;
        if n.fract() == 0.0 && n.abs() < 9e15 {
            return Some(json!(n as i64));
        }
        serde_json::Number::from_f64(n).map(Value::Number)
    }

    /// Whether `id` is an Account's (by the org's Account key prefix; `001` when it was not
    /// read, the prefix DIGEST §3.3 gives, unconfirmed).
    pub(super) fn is_account_id(&self, id: &str) -> bool {
        id.starts_with(self.account_prefix.as_deref().unwrap_or("001"))
    }

    pub(super) fn remote_fields(&self) -> Vec<RemoteField> {
        self.fields
            .iter()
            .map(|(name, f)| RemoteField {
                name: name.clone(),
                label: describe_label(f),
                remote_type: f.field_type.clone(),
                kind: kind_of(&f.field_type),
                // A Task's `IsClosed` is read-only, and written through `Status`.
                read_only: !f.updateable && name != IS_CLOSED,
                unique: f.unique,
                options: f.options.clone(),
                // A picklist that is not restricted takes values beyond its list.
                open_options: !f.restricted,
                max_length: f
                    .length
                    .filter(|_| is_text(&f.field_type))
                    .map(|l| l as usize),
            })
            .collect()
    }
}

/// A field's label with what `RemoteField` has no place for: its length limit, and that a
/// restricted picklist refuses any value not in its list.
fn describe_label(f: &FieldDef) -> String {
    let mut label = f.label.clone();
    let text = is_text(&f.field_type);
    if let (true, Some(len)) = (text, f.length) {
        label.push_str(&format!(" (at most {len} characters)"));
    }
    if f.restricted {
        label.push_str(" (restricted picklist: only its values are taken)");
    }
    label
}

/// Whether a `describe` type holds text of a limited length.
fn is_text(t: &str) -> bool {
    matches!(t, "string" | "textarea" | "email" | "phone" | "url")
}

/// The canonical kind of a `describe` type.
fn kind_of(t: &str) -> RemoteFieldKind {
    match t {
        "string" | "textarea" | "email" | "url" | "encryptedstring" => RemoteFieldKind::Text,
        "phone" => RemoteFieldKind::Phone,
        "picklist" | "multipicklist" | "combobox" => RemoteFieldKind::Enumeration,
        "boolean" => RemoteFieldKind::Bool,
        "date" => RemoteFieldKind::Date,
        "datetime" => RemoteFieldKind::DateTime,
        "double" | "int" | "long" | "currency" | "percent" => RemoteFieldKind::Number,
        "reference" | "id" => RemoteFieldKind::Reference,
        _ => RemoteFieldKind::Other,
    }
}

impl Salesforce {
    /// The catalogue of `object`, read once.
    pub(super) async fn catalogue(
        &self,
        object: ObjectKind,
    ) -> Result<Arc<Catalogue>, ProviderError> {
        if let Some(c) = self.lock_catalogues().get(&object) {
            return Ok(c.clone());
        }
        let mut c = Catalogue::from_describe(&self.describe(sobject(object)).await?);
        if object == ObjectKind::Activity {
            let account = self.describe("Account").await?;
            c.account_prefix = account["keyPrefix"].as_str().map(str::to_string);
        }
        let c = Arc::new(c);
        self.lock_catalogues().insert(object, c.clone());
        Ok(c)
    }

    async fn describe(&self, sobject: &str) -> Result<Value, ProviderError> {
        let path = self.data_path(&format!("sobjects/{sobject}/describe"));
        let resp = self.send_ok(self.request(Method::Get, path)).await?;
        self.parse(&resp, "a describe")
    }

    /// Creates a custom field through the Tooling API (DIGEST §3.8; the exact body is
    /// unconfirmed there): Text, 255 characters (`crmsync_id__c` an External ID, unique). A
    /// Task's custom fields live on `Activity`. The field cannot be read or written until
    /// field-level security grants it to crmsync's user, which `mappings setup` says
    /// (`Provider::setup_note`).
    pub(super) async fn create_custom_field(
        &self,
        object: ObjectKind,
        spec: &FieldSpec,
    ) -> Result<(), ProviderError> {
        let owner = match object {
            ObjectKind::Activity => "Activity",
            other => sobject(other),
        };
        let mut metadata = json!({
            "label": spec.label,
            "type": "Text",
            "length": 255,
        });
        if spec.unique {
            metadata["externalId"] = json!(true);
            metadata["unique"] = json!(true);
        }
        let body = json!({ "FullName": format!("{owner}.{}", spec.name), "Metadata": metadata });
        let path = self.data_path("tooling/sobjects/CustomField");
        self.send_ok(self.request(Method::Post, path).json(body))
            .await?;
        self.lock_catalogues().remove(&object);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_gives_kinds_options_limits_and_restrictions() {
        let c = Catalogue::from_describe(&json!({ "fields": [
            { "name": "LastName", "label": "Last Name", "type": "string", "length": 80, "updateable": true },
            { "name": "LeadSource", "label": "Lead Source", "type": "picklist", "length": 255,
              "updateable": true, "restrictedPicklist": true,
              "picklistValues": [
                { "value": "Web", "label": "Web", "active": true },
                { "value": "Old", "label": "Old", "active": false } ] },
            { "name": "SystemModstamp", "type": "datetime", "updateable": false },
            { "name": "crmsync_id__c", "label": "crmsync id", "type": "string", "length": 255,
              "updateable": true, "unique": true, "externalId": true }
        ] }));
        let fields = c.remote_fields();
        let get = |n: &str| fields.iter().find(|f| f.name == n).unwrap().clone();
        assert_eq!(get("LastName").label, "Last Name (at most 80 characters)");
        let source = get("LeadSource");
        assert_eq!(source.kind, RemoteFieldKind::Enumeration);
        assert_eq!(source.options.len(), 1);
        assert!(source.label.contains("restricted picklist"));
        assert!(get("SystemModstamp").read_only);
        assert!(get("crmsync_id__c").unique);
        assert!(c.is_account_id("001xx") && !c.is_account_id("006xx"));
    }
}
