//! `PUT /v1/{personFields|organizationFields|activityFields}/{id}`: a field renamed, or its
//! options (an `enum` or `set` field's, the person and organization labels among them)
//! replaced.
//!
//! The v1 spec (`updateFieldRequest`): `name`, `options`, `add_visible_flag`, none required.
//! "All active items must be supplied and already existing items must have their ID
//! supplied. New items only require a label." So the options given are the field's options
//! afterwards: one with an `id` keeps that id (and takes the label given, if any), one
//! without gets a new id, and one left out is removed.
//!
//! Where the spec is silent, the sandbox chooses (unconfirmed): a built-in field cannot be
//! renamed (400), an `id` that is not one of the field's options is refused (400), options
//! on a field of another type are refused (400), and a removed option is taken off the
//! records that carried it (a `set` value loses it, an `enum` value is cleared), without a
//! change in their changelogs.

use serde_json::Value;

use super::errors::{ApiError, bad_request, not_found};
use super::store::{Company, Field, FieldOption, Kind};

/// Updates field `id` of `kind` from a v1 update body; returns the field as it is now.
pub fn update_field(
    co: &mut Company,
    kind: Kind,
    id: &str,
    now: i64,
    b: &Value,
) -> Result<Field, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| bad_request("id must be an integer"))?;
    let at = co
        .fields(kind)
        .iter()
        .position(|f| f.id == id)
        .ok_or_else(|| not_found("Field"))?;
    let field = co.fields(kind)[at].clone();
    let b = b
        .as_object()
        .ok_or_else(|| bad_request("The body must be a JSON object"))?;
    let mut updated = field.clone();
    if let Some(name) = b.get("name") {
        let name = name
            .as_str()
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.chars().count() <= 255)
            .ok_or_else(|| bad_request("Field name must be 1 to 255 characters"))?;
        if name != field.name && !field.custom {
            return Err(bad_request("Only custom fields can be renamed"));
        }
        updated.name = name.to_string();
    }
    let mut removed = Vec::new();
    if let Some(given) = b.get("options") {
        let (options, gone) = replace_options(co, &field, given)?;
        updated.options = Some(options);
        removed = gone;
    }
    updated.update_ms = now - now.rem_euclid(1000);
    if let Some(f) = co.fields.get_mut(&kind).and_then(|fs| fs.get_mut(at)) {
        *f = updated.clone();
    }
    if !removed.is_empty() {
        drop_values(co, kind, &updated, &removed);
    }
    Ok(updated)
}

/// The options `given` makes of `field`'s, and the ids of those it removes.
fn replace_options(
    co: &mut Company,
    field: &Field,
    given: &Value,
) -> Result<(Vec<FieldOption>, Vec<i64>), ApiError> {
    if !matches!(field.field_type.as_str(), "enum" | "set") {
        return Err(bad_request(
            "Options can only be given to enum and set fields",
        ));
    }
    let items = given
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad_request("Options are required for enum and set fields"))?;
    let current = field.options.clone().unwrap_or_default();
    let mut out: Vec<FieldOption> = Vec::with_capacity(items.len());
    for item in items {
        let label = match item.get("label") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(_) => return Err(bad_request("An option's label must be a non-empty string")),
        };
        match item.get("id").filter(|v| !v.is_null()) {
            Some(v) => {
                let id = v
                    .as_i64()
                    .ok_or_else(|| bad_request("An option's id must be an integer"))?;
                let mut kept = current
                    .iter()
                    .find(|o| o.id == id)
                    .cloned()
                    .ok_or_else(|| bad_request(format!("Option with ID {id} not found")))?;
                if out.iter().any(|o| o.id == id) {
                    return Err(bad_request(format!("Option with ID {id} is given twice")));
                }
                if let Some(label) = label {
                    kept.label = label;
                }
                out.push(kept);
            }
            None => {
                let label = label.ok_or_else(|| bad_request("A new option requires a label"))?;
                out.push(FieldOption {
                    id: co.next_field_id,
                    label,
                    color: None,
                });
                co.next_field_id += 1;
            }
        }
    }
    let removed = current
        .iter()
        .filter(|o| !out.iter().any(|k| k.id == o.id))
        .map(|o| o.id)
        .collect();
    Ok((out, removed))
}

/// Takes the removed options off the records of `kind` whose `field` names them.
fn drop_values(co: &mut Company, kind: Kind, field: &Field, removed: &[i64]) {
    let gone = |v: &Value| v.as_i64().is_some_and(|id| removed.contains(&id));
    for r in co.store_mut(kind).records.values_mut() {
        let value = if field.custom {
            r.custom.get_mut(&field.key)
        } else {
            r.data.get_mut(&field.key)
        };
        match value {
            Some(Value::Array(ids)) => ids.retain(|v| !gone(v)),
            Some(v) if gone(v) => *v = Value::Null,
            _ => {}
        }
    }
}
