//! The Tooling API's `CustomField` create (`POST tooling/sobjects/CustomField`), which adds a
//! field to an object's `describe`:
//!
//! ```json
//! {"FullName": "Contact.Pronouns__c",
//!  "Metadata": {"type": "Text", "label": "Pronouns", "length": 40,
//!               "externalId": false, "unique": false}}
//! ```
//!
//! The Tooling API guide documents `CustomField` with `FullName` and `Metadata` (a
//! `CustomFieldMetadata`); the exact request body is unconfirmed (DIGEST §3.8). The answer
//! is 201 `{id, success, errors, warnings, infos}` with the field's `00N…` id (the
//! `warnings`/`infos` keys unconfirmed). The field is visible through the API at once: the
//! sandbox's user has every permission, so no field-level security step stands between.

use serde_json::{Value, json};

use super::catalogue::{Obj, custom_field};
use super::errors::SfError;
use super::records;
use super::sobjects::body_object;
use super::store::Org;
use crate::sandbox::http::HttpRequest;

/// Adds the field a `CustomField` body describes; its id.
pub fn add_field(org: &mut Org, body: &Value) -> Result<String, SfError> {
    let full = body["FullName"].as_str().unwrap_or_default();
    let Some((object, name)) = full.split_once('.') else {
        return Err(SfError::new(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            format!("FullName must be Object.Field__c: {full}"),
        ));
    };
    // Task's (and Event's) custom fields are defined on `Activity` in Setup and the Metadata
    // API; the sandbox holds no Events, so an Activity field is Task's. (Whether the Tooling
    // API also takes `Task.X__c` is unconfirmed; the sandbox takes both.)
    let on = if object == "Activity" { "Task" } else { object };
    let obj = Obj::parse(on).ok_or_else(|| {
        SfError::new(
            400,
            "INVALID_TYPE",
            format!("sObject type '{object}' is not supported."),
        )
    })?;
    let stem = name.strip_suffix("__c").unwrap_or_default();
    let valid = stem.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !stem.contains("__")
        && !stem.ends_with('_')
        && stem.len() <= 40;
    if !valid {
        return Err(SfError::new(
            400,
            "INVALID_FIELD",
            format!(
                "The field name {name} is not valid: a custom field's API name ends in __c, starts with a letter and has no double underscores"
            ),
        ));
    }
    if org.field(obj, name).is_some() {
        return Err(SfError::new(
            400,
            "DUPLICATE_DEVELOPER_NAME",
            format!("There's already a field named {stem} on {}.", obj.name()),
        ));
    }
    let id = org.new_id("00N");
    let field = custom_field(name, &body["Metadata"], id.clone())
        .map_err(|m| SfError::new(400, "FIELD_INTEGRITY_EXCEPTION", m))?;
    org.fields.entry(obj).or_default().push(field);
    records::reindex(org, obj);
    Ok(id)
}

/// `POST tooling/sobjects/CustomField`.
pub fn create(org: &mut Org, req: &HttpRequest) -> Result<Value, SfError> {
    let body = Value::Object(body_object(req)?);
    let id = add_field(org, &body)?;
    Ok(json!({"id": id, "success": true, "errors": [], "warnings": [], "infos": []}))
}

/// An administrator's change to a custom field in Setup: `unique` and `externalId` (keys of a
/// `CustomFieldMetadata`) as `changes` gives them. A field that is no longer unique lets
/// records share a value, and an upsert by it then matches them all (DIGEST §3.3's 300).
/// Making a field unique is refused while two live records share a value of it (as Setup
/// refuses it; the wording is the sandbox's, unconfirmed).
pub fn update_field(
    org: &mut Org,
    object: &str,
    name: &str,
    changes: &Value,
) -> Result<(), SfError> {
    let obj = Obj::parse(object).ok_or_else(|| {
        SfError::new(
            400,
            "INVALID_TYPE",
            format!("sObject type '{object}' is not supported."),
        )
    })?;
    let field = org
        .field(obj, name)
        .filter(|f| f.custom)
        .ok_or_else(|| {
            SfError::new(
                404,
                "NOT_FOUND",
                format!("No custom field {name} on {}", obj.name()),
            )
        })?
        .clone();
    let unique = changes["unique"].as_bool().unwrap_or(field.unique);
    let external_id = changes["externalId"].as_bool().unwrap_or(field.external_id);
    if unique && !field.unique {
        let mut seen = std::collections::HashMap::new();
        for r in org.store(obj).values().filter(|r| r.deleted_ms.is_none()) {
            let Some(v) = r.values.get(&field.name).and_then(Value::as_str) else {
                continue;
            };
            if let Some(other) = seen.insert(v.to_lowercase(), r.id.clone()) {
                return Err(SfError::new(
                    400,
                    "DUPLICATE_VALUE",
                    format!(
                        "{} cannot be made unique: records {other} and {} share the value {v}",
                        field.name, r.id
                    ),
                ));
            }
        }
    }
    if let Some(f) = org
        .fields
        .get_mut(&obj)
        .and_then(|fs| fs.iter_mut().find(|f| f.name == field.name))
    {
        f.unique = unique;
        f.external_id = external_id;
    }
    records::reindex(org, obj);
    Ok(())
}
