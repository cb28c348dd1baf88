//! Pipedrive's JSON as crmsync reads and writes it: v2 persons and organizations, and how one
//! becomes a [`RemoteRecord`] (and a [`RemoteWrite`](crate::providers::RemoteWrite) a body).
//!
//! Properties are named as crmsync names them: the v2 field names (`name`, `first_name`,
//! `last_name`, `org_id`, `owner_id`), `email` and `phone` for the primary entry of the
//! `emails` / `phones` arrays, and a custom field by its catalogue name. A person's
//! `first_name` and `last_name` are read only: v2 writes take the whole `name` (the
//! `POST` and `PATCH /api/v2/persons` bodies have no name parts), which is made of them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::catalogue::Catalogue;
use super::{EMAIL, EXTERNAL_ID, PHONE};
use crate::model::Millis;
use crate::providers::{RecordError, RemoteRecord, UNKNOWN_PROPERTIES_CODE_PREFIX};

/// Top-level properties read and written as they are.
const PLAIN: &[&str] = &["name", "org_id", "owner_id"];
/// A person's name parts, read as they are and written as the `name` they make.
pub(super) const NAME_PARTS: &[&str] = &["first_name", "last_name"];
/// Properties written as integers (Pipedrive's v2 does not coerce strings to numbers).
const INTEGER: &[&str] = &["org_id", "owner_id"];

/// A JSON value as text: strings as they are, numbers and booleans rendered, an option set
/// joined with commas, a monetary or reference object by its `value`; empty is `None`.
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(text).collect();
            (!parts.is_empty()).then(|| parts.join(","))
        }
        Value::Object(o) => o.get("value").and_then(text),
        _ => None,
    }
}

/// A v2 time (RFC 3339) or a v1 one (`YYYY-MM-DD HH:MM:SS`, UTC), in ms.
pub(super) fn parse_time(v: &Value) -> Option<Millis> {
    let s = v.as_str()?.trim();
    crate::clock::parse_instant(s).or_else(|| {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|t| t.and_utc().timestamp_millis())
    })
}

/// `ms` as v2 takes it in `updated_since`: RFC 3339 to the second, rounded down.
pub(super) fn rfc3339_seconds(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms.div_euclid(1000) * 1000)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// `ms` as v1 `recents` takes it: `YYYY-MM-DD HH:MM:SS`, UTC, rounded down.
pub(super) fn v1_time(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms.div_euclid(1000) * 1000)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The primary entry's value of an `emails` / `phones` array (else the first).
fn primary(list: &Value) -> Option<String> {
    let items = list.as_array()?;
    items
        .iter()
        .find(|e| e["primary"].as_bool() == Some(true))
        .or_else(|| items.first())
        .and_then(|e| text(&e["value"]))
}

/// A record's id.
pub(super) fn id_of(v: &Value) -> Option<String> {
    match &v["id"] {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A v2 person or organization as a [`RemoteRecord`]. Custom fields are named from
/// `catalogue`; a property asked for that the catalogue does not know (a custom field
/// deleted in Pipedrive) is not among the properties the answer named.
pub(super) fn to_record(
    v: &Value,
    catalogue: &Catalogue,
    properties: &[String],
) -> Option<RemoteRecord> {
    let id = id_of(v)?;
    let mut props = BTreeMap::new();
    for &name in PLAIN.iter().chain(NAME_PARTS) {
        if let Some(t) = text(&v[name]) {
            props.insert(name.to_string(), t);
        }
    }
    for (name, list) in [(EMAIL, "emails"), (PHONE, "phones")] {
        if let Some(t) = primary(&v[list]) {
            props.insert(name.to_string(), t);
        }
    }
    if let Some(custom) = v["custom_fields"].as_object() {
        for (key, value) in custom {
            if let (Some(name), Some(t)) = (catalogue.name_of(key), text(value)) {
                props.insert(name.to_string(), t);
            }
        }
    }
    let returned: BTreeSet<String> = properties
        .iter()
        .filter(|p| is_standard(p) || catalogue.custom(p).is_some())
        .cloned()
        .collect();
    Some(RemoteRecord {
        id,
        external_id: props.get(EXTERNAL_ID).cloned(),
        updated_at: parse_time(&v["update_time"]).unwrap_or(0),
        archived: v["is_deleted"].as_bool().unwrap_or(false),
        props,
        prop_updated_at: BTreeMap::new(),
        returned: Some(returned),
    })
}

fn is_standard(name: &str) -> bool {
    PLAIN.contains(&name) || NAME_PARTS.contains(&name) || name == EMAIL || name == PHONE
}

/// `value` with its primary entry set to `new` (removed when `new` is empty), the others
/// kept as they are.
fn with_primary(current: &Value, new: &str) -> Value {
    let mut items: Vec<Value> = current.as_array().cloned().unwrap_or_default();
    let at = items
        .iter()
        .position(|e| e["primary"].as_bool() == Some(true))
        .or(if items.is_empty() { None } else { Some(0) });
    match (at, new.is_empty()) {
        (Some(i), true) => {
            items.remove(i);
            if let Some(first) = items.first_mut() {
                first["primary"] = json!(true);
            }
        }
        (Some(i), false) => {
            items[i]["value"] = json!(new);
            items[i]["primary"] = json!(true);
        }
        (None, true) => {}
        (None, false) => items.push(json!({ "value": new, "primary": true, "label": "work" })),
    }
    Value::Array(items)
}

/// A custom field's value as Pipedrive's v2 takes it for its type.
fn custom_value(field_type: &str, value: &str) -> Value {
    if value.is_empty() {
        return Value::Null;
    }
    let number = || value.parse::<f64>().ok().map(|n| json!(n));
    match field_type {
        "double" | "monetary" => number().unwrap_or_else(|| json!(value)),
        "enum" | "user" | "org" | "people" => value
            .parse::<i64>()
            .map(|n| json!(n))
            .unwrap_or_else(|_| json!(value)),
        "set" => Value::Array(
            value
                .split(',')
                .map(str::trim)
                .map(|p| p.parse::<i64>().map(|n| json!(n)).unwrap_or(json!(p)))
                .collect(),
        ),
        _ => json!(value),
    }
}

/// The name a person's parts in `props` make, each part not in `props` as `current` has it;
/// `None` when `props` has no part.
fn name_of_parts(props: &BTreeMap<String, String>, current: Option<&Value>) -> Option<String> {
    if !NAME_PARTS.iter().any(|p| props.contains_key(*p)) {
        return None;
    }
    let parts: Vec<String> = NAME_PARTS
        .iter()
        .filter_map(|p| {
            props
                .get(*p)
                .cloned()
                .or_else(|| current.and_then(|c| c[*p].as_str()).map(str::to_string))
        })
        .filter(|s| !s.is_empty())
        .collect();
    Some(parts.join(" "))
}

/// The body of a v2 create or update writing `props` (and `external_id` into `crmsync_id`).
/// `current` is the record as Pipedrive holds it, for the `emails` / `phones` entries that
/// are not primary to be kept and the name part not written. A custom field the catalogue does not know refuses the write
/// with an `unknown-properties:` code.
pub(super) fn write_body(
    props: &BTreeMap<String, String>,
    external_id: Option<&str>,
    catalogue: &Catalogue,
    current: Option<&Value>,
) -> Result<Value, RecordError> {
    super::owners::check_owner(props)?;
    let mut body = Map::new();
    let mut custom = Map::new();
    let mut unknown = Vec::new();
    if !props.contains_key("name")
        && let Some(name) = name_of_parts(props, current).filter(|n| !n.is_empty())
    {
        body.insert("name".into(), json!(name));
    }
    for (name, value) in props {
        if NAME_PARTS.contains(&name.as_str()) {
            continue;
        } else if PLAIN.contains(&name.as_str()) {
            let v = if value.is_empty() {
                Value::Null
            } else if INTEGER.contains(&name.as_str()) {
                value
                    .parse::<i64>()
                    .map(|n| json!(n))
                    .unwrap_or_else(|_| json!(value))
            } else {
                json!(value)
            };
            body.insert(name.clone(), v);
        } else if name == EMAIL || name == PHONE {
            let list = if name == EMAIL { "emails" } else { "phones" };
            let now = current.map(|c| c[list].clone()).unwrap_or(Value::Null);
            body.insert(list.to_string(), with_primary(&now, value));
        } else if let Some(f) = catalogue.custom(name) {
            custom.insert(f.key.clone(), custom_value(&f.field_type, value));
        } else {
            unknown.push(name.clone());
        }
    }
    if !unknown.is_empty() {
        return Err(RecordError {
            message: format!(
                "Pipedrive has no field named {}",
                unknown
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            code: Some(format!(
                "{UNKNOWN_PROPERTIES_CODE_PREFIX}{}",
                unknown.join(",")
            )),
            retryable: false,
            kind: Default::default(),
        });
    }
    if let Some(local) = external_id {
        let f = catalogue.custom(EXTERNAL_ID).ok_or_else(|| RecordError {
            message: format!(
                "Pipedrive has no custom field `{EXTERNAL_ID}`: run `crmsync mappings setup` first"
            ),
            code: None,
            retryable: false,
            kind: Default::default(),
        })?;
        custom.insert(f.key.clone(), json!(local));
    }
    if !custom.is_empty() {
        body.insert("custom_fields".into(), Value::Object(custom));
    }
    Ok(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_primary_entry_is_replaced_and_the_others_kept() {
        let now = json!([
            { "value": "old@x.test", "primary": true, "label": "work" },
            { "value": "home@x.test", "primary": false, "label": "home" },
        ]);
        assert_eq!(
            with_primary(&now, "new@x.test"),
            json!([
                { "value": "new@x.test", "primary": true, "label": "work" },
                { "value": "home@x.test", "primary": false, "label": "home" },
            ])
        );
        assert_eq!(
            with_primary(&now, ""),
            json!([{ "value": "home@x.test", "primary": true, "label": "home" }])
        );
        assert_eq!(
            with_primary(&Value::Null, "a@x.test"),
            json!([{ "value": "a@x.test", "primary": true, "label": "work" }])
        );
    }

    #[test]
    fn values_render_as_text_and_times_parse_in_both_versions() {
        assert_eq!(text(&json!([11, 12])).as_deref(), Some("11,12"));
        assert_eq!(
            text(&json!({"value": 5, "currency": "EUR"})).as_deref(),
            Some("5")
        );
        assert_eq!(text(&json!("")), None);
        let v2 = parse_time(&json!("2025-01-02T10:20:00Z")).unwrap();
        assert_eq!(parse_time(&json!("2025-01-02 10:20:00")), Some(v2));
        assert_eq!(rfc3339_seconds(v2 + 999), "2025-01-02T10:20:00Z");
        assert_eq!(v1_time(v2), "2025-01-02 10:20:00");
    }
}
