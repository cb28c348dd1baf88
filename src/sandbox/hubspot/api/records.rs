//! The record model every endpoint and the admin API write through: validation and
//! normalisation of values, create, update, archive and restore, a contact's primary company,
//! and how a record is shown (`SimplePublicObject`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::sandbox::hubspot::catalogue::PropDef;
use crate::sandbox::hubspot::errors::{
    ApiError, bad_request, invalid, not_found, validation_error,
};
use crate::sandbox::hubspot::store::{Hub, ObjType, Rec, contact_company, is_contact_company};
use crate::sandbox::{iso_ms, parse_time_ms};

/// Validated values to write, by property name; `None` clears a property.
pub type Written = Vec<(String, Option<String>)>;

/// `sourceType` recorded in property history for writes made through the API.
pub const API_SOURCE: &str = "INTEGRATION";

/// The most characters one property value may have.
const VALUE_LIMIT: usize = 65_536;

/// Checks and normalises written values. `None` clears a property.
pub fn validate(hub: &Hub, t: ObjType, props: &Value) -> Result<Written, ApiError> {
    let Some(map) = props.as_object() else {
        return Err(bad_request("properties must be an object"));
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (name, value) in map {
        let raw = match value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => {
                errors.push(invalid(
                    name,
                    "INVALID_TYPE",
                    &format!("{value} is not a valid value for {name}"),
                ));
                continue;
            }
        };
        let Some(def) = hub.prop(t, name) else {
            errors.push(invalid(
                name,
                "PROPERTY_DOESNT_EXIST",
                &format!("Property \"{name}\" does not exist"),
            ));
            continue;
        };
        if def.read_only_value {
            errors.push(invalid(
                name,
                "READ_ONLY_VALUE",
                &format!("\"{name}\" is a read only property; its value cannot be set."),
            ));
            continue;
        }
        let raw = raw.filter(|s| !s.is_empty());
        let Some(raw) = raw else {
            out.push((name.clone(), None));
            continue;
        };
        if raw.len() > VALUE_LIMIT && raw.chars().count() > VALUE_LIMIT {
            // HubSpot documents the limit (65,536 characters, for a note's body) but not the
            // error's code or wording; this follows its other invalid property values.
            errors.push(invalid(
                name,
                "INVALID_STRING_LENGTH",
                &format!(
                    "{name} has {} characters, which is more than the maximum of {VALUE_LIMIT}.",
                    raw.chars().count()
                ),
            ));
            continue;
        }
        match normalise(def, &raw) {
            Ok(v) => out.push((name.clone(), Some(v))),
            Err((code, msg)) => errors.push(invalid(name, code, &msg)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(validation_error(errors))
    }
}

fn normalise(def: &PropDef, raw: &str) -> Result<String, (&'static str, String)> {
    let name = &def.name;
    match def.ptype.as_str() {
        "number" => raw
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|_| raw.trim().to_string())
            .ok_or(("INVALID_DECIMAL", format!("{raw} was not a valid number."))),
        "bool" => match raw.to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(raw.to_ascii_lowercase()),
            _ => Err((
                "INVALID_BOOLEAN",
                format!("{raw} was not a valid boolean value for property {name}."),
            )),
        },
        "date" => {
            let ms = parse_time_ms(raw)
                .ok_or(("INVALID_DATE", format!("{raw} was not a valid long.")))?;
            if ms.rem_euclid(86_400_000) != 0 {
                return Err((
                    "INVALID_DATE",
                    format!("{raw} is at {} which is not midnight UTC", iso_ms(ms)),
                ));
            }
            Ok(ms.to_string())
        }
        "datetime" => parse_time_ms(raw)
            .map(iso_ms)
            .ok_or(("INVALID_DATETIME", format!("{raw} was not a valid long."))),
        "enumeration" => {
            let allowed: Vec<&str> = def.options.iter().map(|(_, v)| v.as_str()).collect();
            for part in raw.split(';') {
                if !allowed.contains(&part) {
                    return Err((
                        "INVALID_OPTION",
                        format!(
                            "{part} was not one of the allowed options: [{}]",
                            allowed.join(", ")
                        ),
                    ));
                }
            }
            Ok(raw.to_string())
        }
        _ if name == "email" => {
            let ok = raw.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
            }) && !raw.contains(char::is_whitespace);
            if ok {
                // HubSpot stores contact emails lower-cased.
                Ok(raw.to_lowercase())
            } else {
                Err(("INVALID_EMAIL", format!("Email address {raw} is invalid")))
            }
        }
        _ => Ok(raw.to_string()),
    }
}

pub fn conflict_on_create(t: ObjType, existing: u64) -> ApiError {
    ApiError::new(
        409,
        "CONFLICT",
        &format!("{} already exists. Existing ID: {existing}", t.noun()),
    )
}

pub fn unique_clash(
    hub: &Hub,
    t: ObjType,
    id: Option<u64>,
    vals: &[(String, Option<String>)],
) -> Option<(String, String, u64)> {
    let unique = hub.unique_props(t);
    vals.iter().find_map(|(k, v)| {
        let v = v.as_ref()?;
        if !unique.contains(k) {
            return None;
        }
        let other = hub.store(t).find_unique(k, v)?;
        (Some(other) != id).then(|| (k.clone(), v.clone(), other))
    })
}

/// A deal's stage must be one of its pipeline's (400 otherwise): the pipeline written, else
/// the deal's own (`id`), else the default pipeline.
pub fn check_stage(hub: &Hub, t: ObjType, id: Option<u64>, vals: &Written) -> Result<(), ApiError> {
    if t != ObjType::Deals {
        return Ok(());
    }
    let written = |name: &str| {
        vals.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone().unwrap_or_default())
    };
    let own = |name: &str| {
        id.and_then(|i| hub.store(t).live(i))
            .and_then(|r| r.props.get(name).cloned())
    };
    let stage = written("dealstage").or_else(|| own("dealstage"));
    let pipeline = written("pipeline")
        .or_else(|| own("pipeline"))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "default".to_string());
    match stage.filter(|s| !s.is_empty()) {
        Some(s) if !super::pipelines::pipeline_has_stage(&pipeline, &s) => {
            Err(bad_request(&format!(
                "Property values were not valid: {s} is not a valid deal stage of pipeline {pipeline}"
            )))
        }
        _ => Ok(()),
    }
}

/// Creates a record from validated values.
/// An engagement is created only with its `hs_timestamp` (400 otherwise).
pub fn check_timestamp(t: ObjType, vals: &Written) -> Result<(), ApiError> {
    if t.is_engagement()
        && !vals
            .iter()
            .any(|(k, v)| k == "hs_timestamp" && v.as_ref().is_some_and(|v| !v.is_empty()))
    {
        return Err(bad_request(&format!(
            "Property values were not valid: hs_timestamp is required to create a {}",
            t.singular()
        )));
    }
    Ok(())
}

pub fn create_validated(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    source: &'static str,
    vals: Written,
) -> Result<u64, ApiError> {
    if let Some((_, _, other)) = unique_clash(hub, t, None, &vals) {
        return Err(conflict_on_create(t, other));
    }
    check_timestamp(t, &vals)?;
    check_stage(hub, t, None, &vals)?;
    let id = hub.next_id;
    hub.next_id += 1;
    let mut props: BTreeMap<String, String> = vals
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    let history = props
        .iter()
        .map(|(k, v)| (k.clone(), vec![(v.clone(), now, source)]))
        .collect();
    props.insert("hs_object_id".into(), id.to_string());
    props.insert("createdate".into(), iso_ms(now));
    props.insert(t.modified_prop().into(), iso_ms(now));
    let rec = Rec {
        id,
        props,
        created_ms: now,
        updated_ms: now,
        archived_ms: None,
        history,
    };
    let unique = hub.unique_props(t);
    hub.store_mut(t).insert(rec, &unique);
    associate_primary(hub, t, id);
    hub.webhooks.record(t, id, "creation", now, source, None);
    Ok(id)
}

pub fn create(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    source: &'static str,
    props: &Value,
) -> Result<u64, ApiError> {
    let vals = validate(hub, t, props)?;
    create_validated(hub, t, now, source, vals)
}

/// Applies validated values to a live record; bumps timestamps only if something changed.
pub fn update_validated(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    source: &'static str,
    id: u64,
    vals: Written,
) -> Result<u64, ApiError> {
    if hub.store(t).live(id).is_none() {
        return Err(not_found());
    }
    check_stage(hub, t, Some(id), &vals)?;
    if let Some((prop, value, other)) = unique_clash(hub, t, Some(id), &vals) {
        let msg = format!(
            "A {} with {prop} {value} already exists. Existing ID: {other}",
            t.singular()
        );
        return Err(validation_error(vec![invalid(
            &prop,
            "CONFLICTING_UNIQUE_VALUE",
            &msg,
        )]));
    }
    let unique = hub.unique_props(t);
    let store = hub.store_mut(t);
    let mut rec = store.take(id, &unique).expect("checked live above");
    let mut changed = false;
    let mut events = Vec::new();
    // Keep last-modified strictly increasing per record even within one millisecond.
    let ts = now.max(rec.updated_ms + 1);
    for (k, v) in vals {
        let old = rec.props.get(&k).cloned();
        if old != v {
            changed = true;
            events.push((k.clone(), v.clone().unwrap_or_default()));
            let entry = (v.clone().unwrap_or_default(), ts, source);
            rec.history.entry(k.clone()).or_default().insert(0, entry);
            match v {
                Some(v) => rec.props.insert(k, v),
                None => rec.props.remove(&k),
            };
        }
    }
    if changed {
        rec.updated_ms = ts;
        rec.props.insert(t.modified_prop().into(), iso_ms(ts));
    }
    store.insert(rec, &unique);
    associate_primary(hub, t, id);
    for (k, v) in events {
        hub.webhooks
            .record(t, id, "propertyChange", ts, source, Some((&k, &v)));
    }
    Ok(id)
}

pub fn update(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    source: &'static str,
    id: u64,
    props: &Value,
) -> Result<u64, ApiError> {
    let vals = validate(hub, t, props)?;
    update_validated(hub, t, now, source, id, vals)
}

/// The contact property naming its primary company ("Primary Associated Company ID").
pub const PRIMARY_COMPANY: &str = "associatedcompanyid";

/// The primary company of `contact`, from its [`PRIMARY_COMPANY`] property.
pub fn primary_company(hub: &Hub, contact: u64) -> Option<u64> {
    hub.store(ObjType::Contacts)
        .records
        .get(&contact)?
        .props
        .get(PRIMARY_COMPANY)?
        .parse()
        .ok()
}

/// A contact whose [`PRIMARY_COMPANY`] names a live company is associated with it: writing
/// the property is one way to set a contact's company.
fn associate_primary(hub: &mut Hub, t: ObjType, id: u64) {
    if t == ObjType::Contacts
        && let Some(company) = primary_company(hub, id)
        && hub.store(ObjType::Companies).live(company).is_some()
    {
        hub.assoc.add(ObjType::Contacts, id, company);
    }
}

/// Whether the pair `from`–`to` (`from` of type `t`) is a contact and its primary company.
pub fn is_primary_pair(hub: &Hub, t: ObjType, from: u64, to: u64) -> bool {
    let (contact, company) = contact_company(t, from, to);
    primary_company(hub, contact) == Some(company)
}

pub fn set_primary(
    hub: &mut Hub,
    now: i64,
    source: &'static str,
    contact: u64,
    company: Option<u64>,
) {
    let value = company.map(|c| c.to_string());
    // The contact is live: callers only pair live records.
    let _ = update_validated(
        hub,
        ObjType::Contacts,
        now,
        source,
        contact,
        vec![(PRIMARY_COMPANY.to_string(), value)],
    );
}

/// How long HubSpot keeps an archived record restorable.
const RESTORABLE_MS: i64 = 90 * 24 * 60 * 60 * 1000;

/// Restores an archived record as a HubSpot user does from the recycle bin (HubSpot's API has
/// no restore call): within 90 days of the archive, and only while no live record holds one
/// of its unique values (a contact re-created with the same email since). The record comes
/// back with its id and values and a new modification time, so the change feed reads it.
pub fn restore(hub: &mut Hub, t: ObjType, now: i64, id: u64) -> Result<(), String> {
    let Some(archived_at) = hub.store(t).records.get(&id).and_then(|r| r.archived_ms) else {
        return Err(format!("no archived {} with id `{id}`", t.singular()));
    };
    if now - archived_at > RESTORABLE_MS {
        return Err(format!(
            "{} `{id}` was archived more than 90 days ago and cannot be restored",
            t.singular()
        ));
    }
    let unique = hub.unique_props(t);
    let rec = &hub.store(t).records[&id];
    for p in &unique {
        if let Some(v) = rec.props.get(p).filter(|v| !v.is_empty())
            && let Some(other) = hub.store(t).find_unique(p, v)
        {
            return Err(format!(
                "{} `{other}` now holds {p} `{v}`, so `{id}` cannot be restored",
                t.singular()
            ));
        }
    }
    let store = hub.store_mut(t);
    let mut rec = store.take(id, &unique).expect("checked above");
    rec.archived_ms = None;
    rec.updated_ms = now.max(rec.updated_ms + 1);
    rec.props
        .insert(t.modified_prop().into(), iso_ms(rec.updated_ms));
    store.insert(rec, &unique);
    hub.webhooks.record(t, id, "restore", now, "CRM_UI", None);
    Ok(())
}

/// Archives a live record; false if there is none.
pub fn archive(hub: &mut Hub, t: ObjType, now: i64, id: u64) -> bool {
    if hub.store(t).live(id).is_none() {
        return false;
    }
    let unique = hub.unique_props(t);
    let store = hub.store_mut(t);
    let mut rec = store.take(id, &unique).expect("checked live above");
    rec.archived_ms = Some(now);
    rec.updated_ms = now.max(rec.updated_ms + 1);
    rec.props
        .insert(t.modified_prop().into(), iso_ms(rec.updated_ms));
    store.insert(rec, &unique);
    hub.webhooks.record(t, id, "deletion", now, "CRM", None);
    // The contacts whose primary company this was are left without one.
    if t == ObjType::Companies {
        for contact in hub.assoc.of(t, id) {
            if primary_company(hub, contact) == Some(id) {
                set_primary(hub, now, API_SOURCE, contact, None);
            }
        }
    }
    true
}

/// Which properties to show.
pub enum PropSel {
    Default,
    Named(Vec<String>),
}

impl PropSel {
    pub fn from_list(list: Vec<String>) -> PropSel {
        if list.is_empty() {
            PropSel::Default
        } else {
            PropSel::Named(list)
        }
    }
}

/// A record as HubSpot shows it (`SimplePublicObject`, or with `archivedAt` when archived).
pub fn render(hub: &Hub, t: ObjType, rec: &Rec, sel: &PropSel, assoc: &[ObjType]) -> Value {
    let mut props = serde_json::Map::new();
    let names: Vec<String> = match sel {
        PropSel::Default => t.default_props().iter().map(|s| s.to_string()).collect(),
        PropSel::Named(v) => v.clone(),
    };
    for n in names.iter().map(String::as_str).chain(t.always_props()) {
        if hub.prop(t, n).is_some() {
            props.insert(
                n.to_string(),
                rec.props.get(n).map_or(Value::Null, |v| json!(v)),
            );
        }
    }
    let mut v = json!({
        "id": rec.id.to_string(),
        "properties": props,
        "createdAt": iso_ms(rec.created_ms),
        "updatedAt": iso_ms(rec.updated_ms),
        "archived": rec.archived_ms.is_some(),
    });
    if let Some(a) = rec.archived_ms {
        v["archivedAt"] = json!(iso_ms(a));
    }
    let mut assocs = serde_json::Map::new();
    for to in assoc {
        if *to == t {
            continue;
        }
        let results: Vec<Value> = hub
            .assoc
            .of_to(t, rec.id, *to)
            .into_iter()
            .filter(|o| hub.store(*to).live(*o).is_some())
            .flat_map(|o| {
                let name = format!("{}_to_{}", t.singular(), to.singular());
                let mut types =
                    vec![json!({"id": o.to_string(), "type": format!("{name}_unlabeled")})];
                if is_contact_company(t, *to) && is_primary_pair(hub, t, rec.id, o) {
                    types.insert(0, json!({"id": o.to_string(), "type": name}));
                }
                types
            })
            .collect();
        if !results.is_empty() {
            assocs.insert(to.plural().into(), json!({"results": results}));
        }
    }
    if !assocs.is_empty() {
        v["associations"] = Value::Object(assocs);
    }
    v
}

/// Adds `propertiesWithHistory` for the named properties (only when some were asked for).
pub fn add_history(hub: &Hub, t: ObjType, v: &mut Value, rec: &Rec, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let mut out = serde_json::Map::new();
    for n in names {
        if hub.prop(t, n).is_none() {
            continue;
        }
        let entries: Vec<Value> = rec
            .history
            .get(n)
            .into_iter()
            .flatten()
            .map(|(value, ms, source)| {
                json!({"value": value, "timestamp": iso_ms(*ms), "sourceType": source})
            })
            .collect();
        out.insert(n.clone(), Value::Array(entries));
    }
    v["propertiesWithHistory"] = Value::Object(out);
}

/// Finds a record by id or by a unique `idProperty`.
pub fn lookup(
    hub: &Hub,
    t: ObjType,
    key: &str,
    id_property: Option<&str>,
    archived: bool,
) -> Result<Option<u64>, ApiError> {
    match id_property.filter(|p| *p != "hs_object_id") {
        None => Ok(key
            .parse::<u64>()
            .ok()
            .map(|id| {
                if archived {
                    id
                } else {
                    hub.store(t).resolve_merged(id)
                }
            })
            .filter(|id| {
                hub.store(t)
                    .records
                    .get(id)
                    .is_some_and(|r| r.archived_ms.is_some() == archived)
            })),
        Some(p) => {
            if !hub.unique_props(t).iter().any(|u| u == p) {
                return Err(bad_request(&format!(
                    "{p} is not a unique property and cannot be used as idProperty"
                )));
            }
            if archived {
                return Ok(hub
                    .store(t)
                    .records
                    .values()
                    .find(|r| {
                        r.archived_ms.is_some()
                            && r.props.get(p).is_some_and(|v| v.eq_ignore_ascii_case(key))
                    })
                    .map(|r| r.id));
            }
            Ok(hub.store(t).find_unique(p, key))
        }
    }
}
