//! HubSpot's property catalogue, the custom properties crmsync creates, and the built-in
//! mappings, which are known without an account (`crmsync explain` reads them offline).

use serde_json::{Value, json};

use super::wire::json_id;
use super::{COMPANY_ASSOCIATION, EXTERNAL_ID, HubSpot, object_path};
use crate::model::ObjectKind;
use crate::providers::http::{Method, Request};
use crate::providers::{
    DefaultMapping, FieldOption, FieldSpec, ProviderError, RemoteField, RemoteFieldKind,
};

/// The property that points a record to its owner (an owner's `id`).
pub(super) const OWNER_PROPERTY: &str = "hubspot_owner_id";

/// The built-in mappings of contacts: canonical field, HubSpot property.
const CONTACT_MAPPINGS: &[(&str, &str)] = &[
    ("email", "email"),
    ("first_name", "firstname"),
    ("last_name", "lastname"),
    ("phone", "phone"),
    ("company", "company"),
    ("job_title", "jobtitle"),
    ("lifecycle_stage", "lifecyclestage"),
    ("owner", OWNER_PROPERTY),
    ("pronouns", "pronouns"),
    ("company_id", COMPANY_ASSOCIATION),
];

/// The built-in mappings of companies: canonical field, HubSpot property.
const COMPANY_MAPPINGS: &[(&str, &str)] = &[
    ("name", "name"),
    ("domain", "domain"),
    ("industry", "industry"),
    ("country", "country"),
];

/// The built-in field mappings for `object`, every one both ways. They are the same for every
/// HubSpot account.
pub fn default_mappings(object: ObjectKind) -> Vec<DefaultMapping> {
    let pairs = match object {
        ObjectKind::Contact => CONTACT_MAPPINGS,
        ObjectKind::Company => COMPANY_MAPPINGS,
        ObjectKind::Activity => super::engagements::MAPPINGS,
        ObjectKind::Deal => super::deals::MAPPINGS,
    };
    DefaultMapping::both_ways(pairs)
}

/// The custom properties HubSpot must have before crmsync syncs an object: `crmsync_id`,
/// unique, which makes creates idempotent.
pub(super) fn required_fields() -> Vec<FieldSpec> {
    vec![FieldSpec {
        name: EXTERNAL_ID.to_string(),
        label: "crmsync id".to_string(),
        kind: RemoteFieldKind::Text,
        unique: true,
    }]
}

impl HubSpot {
    pub(super) async fn catalogue(
        &self,
        object: ObjectKind,
    ) -> Result<Vec<RemoteField>, ProviderError> {
        if object == ObjectKind::Activity {
            return self.activity_fields().await;
        }
        let path = object_path(object)?;
        let resp = self
            .http
            .send_ok(Request::new(
                Method::Get,
                format!("/crm/v3/properties/{path}"),
            ))
            .await?;
        let body: Value = self.parse(&resp, "the property list")?;
        let mut out: Vec<RemoteField> = body["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let name = p["name"].as_str()?.to_string();
                let ty = p["type"].as_str().unwrap_or("string");
                let field_type = p["fieldType"].as_str().unwrap_or("");
                Some(RemoteField {
                    open_options: false,
                    max_length: None,
                    label: p["label"].as_str().unwrap_or(&name).to_string(),
                    name,
                    remote_type: ty.to_string(),
                    kind: field_kind(ty, field_type),
                    read_only: p["modificationMetadata"]["readOnlyValue"]
                        .as_bool()
                        .unwrap_or(false)
                        || p["calculated"].as_bool().unwrap_or(false),
                    unique: p["hasUniqueValue"].as_bool().unwrap_or(false),
                    options: p["options"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|o| {
                            let value = o["value"].as_str()?.to_string();
                            let label = o["label"].as_str().unwrap_or(&value).to_string();
                            Some(FieldOption { value, label })
                        })
                        .collect(),
                })
            })
            .collect();
        // The owner property's options are the owners, by email: a local owner given as an
        // email is sent as the owner's id, and an id read back reads as the email. Read with
        // the catalogue, so kept as long as it is.
        if let Some(owner) = out.iter_mut().find(|f| f.name == OWNER_PROPERTY) {
            owner.options = self.owners().await?;
        }
        if object == ObjectKind::Deal {
            self.fill_deal_options(&mut out).await?;
        }
        if object == ObjectKind::Contact {
            out.push(RemoteField {
                open_options: false,
                max_length: None,
                name: COMPANY_ASSOCIATION.into(),
                label: "Associated company".into(),
                remote_type: "association".into(),
                kind: RemoteFieldKind::Reference,
                read_only: false,
                unique: false,
                options: Vec::new(),
            });
        }
        Ok(out)
    }

    pub(super) async fn create_property(
        &self,
        object: ObjectKind,
        spec: &FieldSpec,
    ) -> Result<(), ProviderError> {
        let path = object_path(object)?;
        let (ty, field_type) = match spec.kind {
            RemoteFieldKind::Number => ("number", "number"),
            RemoteFieldKind::Bool => ("bool", "booleancheckbox"),
            RemoteFieldKind::Date => ("date", "date"),
            RemoteFieldKind::DateTime => ("datetime", "date"),
            RemoteFieldKind::Phone => ("phone_number", "phonenumber"),
            RemoteFieldKind::Enumeration => {
                return Err(ProviderError::Other(format!(
                    "cannot create HubSpot property `{}` as an enumeration without options; \
                     create it in HubSpot, or as text",
                    spec.name
                )));
            }
            RemoteFieldKind::Text | RemoteFieldKind::Reference | RemoteFieldKind::Other => {
                ("string", "text")
            }
        };
        let group = match object {
            ObjectKind::Company => "companyinformation",
            _ => "contactinformation",
        };
        let mut body = json!({
            "name": spec.name,
            "label": spec.label,
            "type": ty,
            "fieldType": field_type,
            "groupName": group,
            "hasUniqueValue": spec.unique,
        });
        if spec.kind == RemoteFieldKind::Bool {
            body["options"] = json!([
                { "label": "Yes", "value": "true", "hidden": false, "displayOrder": 0 },
                { "label": "No", "value": "false", "hidden": false, "displayOrder": 1 },
            ]);
        }
        let req = Request::new(Method::Post, format!("/crm/v3/properties/{path}"))
            .json(body)
            .record(spec.name.clone());
        let resp = self.http.send(req.clone()).await?;
        match resp.status {
            200..=299 => Ok(()),
            // A retried create (or a second `mappings setup`) finds the property there.
            409 => {
                tracing::debug!(property = %spec.name, "property exists already");
                Ok(())
            }
            _ => Err(self.http.api_error(&req, &resp)),
        }
    }

    /// The portal's active owners that have an email, as options of the owner property (the
    /// email the label, the owner's id the value), read once: contacts and companies both
    /// have an owner property, and one run's owners are the same for both.
    async fn owners(&self) -> Result<Vec<FieldOption>, ProviderError> {
        self.owners
            .get_or_try_init(|| self.read_owners())
            .await
            .cloned()
    }

    /// `GET /crm/v3/owners`, 100 a page.
    async fn read_owners(&self) -> Result<Vec<FieldOption>, ProviderError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = "/crm/v3/owners?limit=100&archived=false".to_string();
            if let Some(a) = &after {
                path.push_str("&after=");
                path.extend(url::form_urlencoded::byte_serialize(a.as_bytes()));
            }
            let resp = self.http.send_ok(Request::new(Method::Get, path)).await?;
            let body: Value = self.parse(&resp, "the owner list")?;
            for o in body["results"].as_array().into_iter().flatten() {
                if let (Some(id), Some(email)) = (json_id(&o["id"]), o["email"].as_str())
                    && !email.is_empty()
                {
                    out.push(FieldOption {
                        value: id,
                        label: email.to_string(),
                    });
                }
            }
            match body.pointer("/paging/next/after").and_then(Value::as_str) {
                Some(a) => after = Some(a.to_string()),
                None => return Ok(out),
            }
        }
    }
}

fn field_kind(ty: &str, field_type: &str) -> RemoteFieldKind {
    match (ty, field_type) {
        (_, "booleancheckbox") | ("bool", _) => RemoteFieldKind::Bool,
        (_, "phonenumber") | ("phone_number", _) => RemoteFieldKind::Phone,
        ("string", _) => RemoteFieldKind::Text,
        ("number", _) => RemoteFieldKind::Number,
        ("date", _) => RemoteFieldKind::Date,
        ("datetime", _) => RemoteFieldKind::DateTime,
        ("enumeration", _) => RemoteFieldKind::Enumeration,
        _ => RemoteFieldKind::Other,
    }
}

impl HubSpot {
    /// The activity properties crmsync syncs (see `super::engagements`): `type` with the
    /// engagement objects as its options, the owner with the portal's owners.
    async fn activity_fields(&self) -> Result<Vec<RemoteField>, ProviderError> {
        use super::engagements::{
            BODY, COMPANIES, CONTACTS, DIRECTION, DONE, DUE_DATE, DURATION, ENGAGEMENTS, STATUS,
            SUBJECT, TIME, TYPE,
        };
        let field = |name: &str, label: &str, kind: RemoteFieldKind| RemoteField {
            open_options: false,
            max_length: None,
            name: name.to_string(),
            label: label.to_string(),
            remote_type: "activity".to_string(),
            kind,
            read_only: false,
            unique: false,
            options: Vec::new(),
        };
        let types = ENGAGEMENTS
            .iter()
            .map(|e| FieldOption {
                value: e.key.to_string(),
                label: e.path.to_string(),
            })
            .collect();
        Ok(vec![
            RemoteField {
                open_options: false,
                max_length: None,
                options: types,
                ..field(TYPE, "Engagement object", RemoteFieldKind::Enumeration)
            },
            field(SUBJECT, "Title or subject", RemoteFieldKind::Text),
            field(BODY, "Body", RemoteFieldKind::Text),
            field(TIME, "Activity date", RemoteFieldKind::Text),
            field(DUE_DATE, "Activity day", RemoteFieldKind::Date),
            field(DURATION, "Duration (minutes)", RemoteFieldKind::Number),
            field(STATUS, "Status", RemoteFieldKind::Text),
            field(DIRECTION, "Direction", RemoteFieldKind::Text),
            field(DONE, "Done (tasks)", RemoteFieldKind::Bool),
            RemoteField {
                open_options: false,
                max_length: None,
                options: self.owners().await?,
                ..field(
                    OWNER_PROPERTY,
                    "Activity assigned to",
                    RemoteFieldKind::Enumeration,
                )
            },
            field(CONTACTS, "Associated contact", RemoteFieldKind::Reference),
            field(COMPANIES, "Associated company", RemoteFieldKind::Reference),
        ])
    }
}

#[cfg(test)]
mod tests {
    use crate::model::ObjectKind;
    use crate::providers::{self, ProviderKind};

    #[test]
    fn built_in_mappings_are_known_by_provider_kind_without_a_connection() {
        let contact = providers::default_mappings(ProviderKind::Hubspot, ObjectKind::Contact)
            .expect("HubSpot is available");
        assert!(
            contact
                .iter()
                .any(|m| m.local == "company_id" && m.remote == "associations.companies")
        );
        assert!(
            contact
                .iter()
                .any(|m| m.local == "owner" && m.remote == "hubspot_owner_id")
        );
        let company = providers::default_mappings(ProviderKind::Hubspot, ObjectKind::Company)
            .expect("HubSpot is available");
        assert_eq!(company.len(), 4);
        // Every CRM's are known without a connection, Salesforce's with them.
        let salesforce = providers::default_mappings(ProviderKind::Salesforce, ObjectKind::Contact)
            .expect("Salesforce is available");
        assert!(
            salesforce
                .iter()
                .any(|m| m.local == "company_id" && m.remote == "AccountId")
        );
    }
}
