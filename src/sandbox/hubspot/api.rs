//! The `/crm/...` endpoints: objects, batches, properties, owners and v4 associations.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::store::{ObjType, PropDef, Rec, assoc_type_id, contact_company};
use super::{Hub, error_body, search};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::{iso_ms, parse_time_ms};

/// `sourceType` recorded in property history for writes made through the API.
pub const API_SOURCE: &str = "INTEGRATION";

/// HubSpot's batch size limit.
pub const MAX_BATCH: usize = 100;
const MAX_LIST_LIMIT: usize = 100;

/// An error with its HTTP status and HubSpot body, usable whole or inside `errors[]`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub body: Value,
}

impl ApiError {
    pub fn new(status: u16, category: &str, message: &str) -> Self {
        ApiError {
            status,
            body: error_body(category, message),
        }
    }

    pub fn response(&self) -> HttpResponse {
        HttpResponse::json(self.status, &self.body)
    }

    pub fn message(&self) -> String {
        self.body["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// The most characters one property value may have.
const VALUE_LIMIT: usize = 65_536;

fn bad_request(message: &str) -> ApiError {
    ApiError::new(400, "VALIDATION_ERROR", message)
}

/// One invalid property value, in the shape HubSpot embeds in a VALIDATION_ERROR message.
fn invalid(name: &str, code: &str, message: &str) -> Value {
    json!({"isValid": false, "message": message, "error": code, "name": name,
           "localizedErrorMessage": message})
}

fn validation_error(items: Vec<Value>) -> ApiError {
    let message = format!(
        "Property values were not valid: {}",
        serde_json::to_string(&items).unwrap_or_default()
    );
    let mut e = bad_request(&message);
    e.body["errors"] = Value::Array(
        items
            .iter()
            .map(|i| {
                json!({"message": i["message"], "code": i["error"],
                       "context": {"propertyName": [i["name"]]}})
            })
            .collect(),
    );
    e
}

fn not_found() -> ApiError {
    ApiError::new(404, "OBJECT_NOT_FOUND", "resource not found")
}

fn parse_body(req: &HttpRequest) -> Result<Value, ApiError> {
    serde_json::from_slice(&req.body).map_err(|e| {
        bad_request(&format!(
            "Invalid input JSON on line {}, column {}: {}",
            e.line(),
            e.column(),
            e
        ))
    })
}

fn obj_type(s: &str) -> Result<ObjType, ApiError> {
    ObjType::parse(s).ok_or_else(|| {
        ApiError::new(
            400,
            "VALIDATION_ERROR",
            &format!("Unable to infer object type from: {s}"),
        )
    })
}

/// Checks and normalises written values. `None` clears a property.
pub fn validate(
    hub: &Hub,
    t: ObjType,
    props: &Value,
) -> Result<Vec<(String, Option<String>)>, ApiError> {
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

fn conflict_on_create(t: ObjType, existing: u64) -> ApiError {
    let noun = match t {
        ObjType::Contacts => "Contact",
        ObjType::Companies => "Company",
    };
    ApiError::new(
        409,
        "CONFLICT",
        &format!("{noun} already exists. Existing ID: {existing}"),
    )
}

fn unique_clash(
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

/// Creates a record from validated values.
pub fn create_validated(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    source: &'static str,
    vals: Vec<(String, Option<String>)>,
) -> Result<u64, ApiError> {
    if let Some((_, _, other)) = unique_clash(hub, t, None, &vals) {
        return Err(conflict_on_create(t, other));
    }
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
    vals: Vec<(String, Option<String>)>,
) -> Result<u64, ApiError> {
    if hub.store(t).live(id).is_none() {
        return Err(not_found());
    }
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
    // Keep last-modified strictly increasing per record even within one millisecond.
    let ts = now.max(rec.updated_ms + 1);
    for (k, v) in vals {
        let old = rec.props.get(&k).cloned();
        if old != v {
            changed = true;
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
    Ok(id)
}

/// The contact property naming its primary company ("Primary Associated Company ID").
pub const PRIMARY_COMPANY: &str = "associatedcompanyid";

/// The association type ids of a contact's primary company, both ways.
const PRIMARY_TYPES: (i64, i64) = (1, 2);

/// The primary company of `contact`, from its [`PRIMARY_COMPANY`] property.
pub fn primary_company(hub: &Hub, contact: u64) -> Option<u64> {
    hub.contacts
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
        && hub.companies.live(company).is_some()
    {
        hub.assoc.add(ObjType::Contacts, id, company);
    }
}

/// Whether the pair `from`–`to` (`from` of type `t`) is a contact and its primary company.
fn is_primary_pair(hub: &Hub, t: ObjType, from: u64, to: u64) -> bool {
    let (contact, company) = contact_company(t, from, to);
    primary_company(hub, contact) == Some(company)
}

/// Associates a contact and a company, `from` being of type `t`. A contact without a primary
/// company takes this one as its primary; the change shows in its [`PRIMARY_COMPANY`] and,
/// like any change of a property, moves its last-modified time, so a company change made in
/// HubSpot reaches a reader of the change feed.
pub fn associate(hub: &mut Hub, t: ObjType, now: i64, source: &'static str, from: u64, to: u64) {
    hub.assoc.add(t, from, to);
    let (contact, company) = contact_company(t, from, to);
    if primary_company(hub, contact).is_none() {
        set_primary(hub, now, source, contact, Some(company));
    }
}

/// Removes an association, `from` being of type `t`. Removing a contact's primary company
/// leaves the contact without one (its other companies stay as they are).
pub fn dissociate(hub: &mut Hub, t: ObjType, now: i64, source: &'static str, from: u64, to: u64) {
    hub.assoc.remove(t, from, to);
    let (contact, company) = contact_company(t, from, to);
    if primary_company(hub, contact) == Some(company) {
        set_primary(hub, now, source, contact, None);
    }
}

fn set_primary(hub: &mut Hub, now: i64, source: &'static str, contact: u64, company: Option<u64>) {
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

/// Archives a live record; false if there is none.
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
    Ok(())
}

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
            .of(t, rec.id)
            .into_iter()
            .filter(|o| hub.store(*to).live(*o).is_some())
            .flat_map(|o| {
                let name = format!("{}_to_{}", t.singular(), to.singular());
                let mut types =
                    vec![json!({"id": o.to_string(), "type": format!("{name}_unlabeled")})];
                if is_primary_pair(hub, t, rec.id, o) {
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

fn assoc_list(req: &HttpRequest) -> Vec<ObjType> {
    req.query_list("associations")
        .iter()
        .filter_map(|s| ObjType::parse(s))
        .collect()
}

fn archived_flag(req: &HttpRequest) -> bool {
    req.query_param("archived")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Finds a record by id or by a unique `idProperty`.
fn lookup(
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

pub fn handle(hub: &mut Hub, now: i64, req: &HttpRequest, segs: &[&str]) -> HttpResponse {
    let result = match (req.method.as_str(), segs) {
        ("GET", ["v3", "objects", t]) => obj_type(t).and_then(|t| list(hub, t, req)),
        ("POST", ["v3", "objects", t]) => obj_type(t).and_then(|t| create_one(hub, t, now, req)),
        ("POST", ["v3", "objects", t, "search"]) => obj_type(t).and_then(|t| {
            let body = parse_body(req)?;
            search::search(hub, t, &body).map(|v| HttpResponse::json(200, &v))
        }),
        ("POST", ["v3", "objects", t, "merge"]) => {
            obj_type(t).and_then(|t| merge(hub, t, now, req))
        }
        ("POST", ["v3", "objects", "contacts", "gdpr-delete"]) => gdpr_delete(hub, req),
        ("POST", ["v3", "objects", t, "batch", op]) => {
            obj_type(t).and_then(|t| batch(hub, t, now, req, op))
        }
        ("GET", ["v3", "objects", t, id]) => obj_type(t).and_then(|t| get_one(hub, t, req, id)),
        ("PATCH", ["v3", "objects", t, id]) => {
            obj_type(t).and_then(|t| patch_one(hub, t, now, req, id))
        }
        ("DELETE", ["v3", "objects", t, id]) => obj_type(t).map(|t| {
            if let Ok(id) = id.parse::<u64>() {
                archive(hub, t, now, id);
            }
            HttpResponse::empty(204)
        }),
        ("GET", ["v3", "properties", t]) => obj_type(t).map(|t| {
            let results: Vec<Value> = hub.props[&t].iter().map(PropDef::to_json).collect();
            HttpResponse::json(200, &json!({"results": results}))
        }),
        ("POST", ["v3", "properties", t]) => {
            obj_type(t).and_then(|t| create_property(hub, t, now, req))
        }
        ("GET", ["v3", "properties", t, name]) => obj_type(t).and_then(|t| {
            hub.prop(t, name)
                .map(|p| HttpResponse::json(200, &p.to_json()))
                .ok_or_else(|| {
                    ApiError::new(
                        404,
                        "OBJECT_NOT_FOUND",
                        &format!(
                            "Unable to find property {name} for object type {}",
                            t.singular()
                        ),
                    )
                })
        }),
        ("DELETE", ["v3", "properties", t, name]) => {
            obj_type(t).and_then(|t| delete_property(hub, t, name))
        }
        ("GET", ["v3", "owners"]) => owners(hub, req),
        ("GET", ["v3", "owners", id]) => {
            let by_user = req.query_param("idProperty") == Some("userId");
            hub.owners
                .iter()
                .find(|o| {
                    if by_user {
                        o.user_id.to_string() == *id
                    } else {
                        o.id == *id
                    }
                })
                .map(|o| HttpResponse::json(200, &o.to_json()))
                .ok_or_else(not_found)
        }
        (
            "PUT",
            [
                "v4",
                "objects",
                from,
                id,
                "associations",
                "default",
                to,
                to_id,
            ],
        ) => assoc_default(
            hub,
            from,
            to,
            &[(id.to_string(), to_id.to_string())],
            now,
            true,
        ),
        ("GET", ["v4", "objects", from, id, "associations", to]) => assoc_get(hub, from, id, to),
        ("DELETE", ["v4", "objects", from, id, "associations", to, to_id]) => obj_type(from)
            .and_then(|f| obj_type(to).map(|_| f))
            .map(|f| {
                if let (Ok(a), Ok(b)) = (id.parse(), to_id.parse()) {
                    dissociate(hub, f, now, API_SOURCE, a, b);
                }
                HttpResponse::empty(204)
            }),
        ("POST", ["v4", "associations", from, to, "batch", rest @ ..]) => {
            assoc_batch(hub, from, to, rest, req, now)
        }
        _ => Err(ApiError::new(
            404,
            "OBJECT_NOT_FOUND",
            &format!("no route for {} {}", req.method, req.path),
        )),
    };
    result.unwrap_or_else(|e| e.response())
}

fn list(hub: &Hub, t: ObjType, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let limit = match req.query_param("limit") {
        None => 10,
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| bad_request(&format!("limit `{l}` is not a number")))?,
    };
    if limit == 0 || limit > MAX_LIST_LIMIT {
        return Err(bad_request(&format!(
            "limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}"
        )));
    }
    let after = match req.query_param("after") {
        None | Some("") => 0,
        Some(a) => a
            .parse::<u64>()
            .map_err(|_| bad_request(&format!("after `{a}` is not a valid cursor")))?,
    };
    let archived = archived_flag(req);
    let sel = PropSel::from_list(req.query_list("properties"));
    let assoc = assoc_list(req);
    // One more than a page tells whether there is a next page.
    let ids: Vec<u64> = hub
        .store(t)
        .records
        .range(after..)
        .filter(|(_, r)| r.archived_ms.is_some() == archived)
        .map(|(id, _)| *id)
        .take(limit + 1)
        .collect();
    let with_history = req.query_list("propertiesWithHistory");
    let page: Vec<Value> = ids
        .iter()
        .take(limit)
        .map(|id| {
            let rec = &hub.store(t).records[id];
            let mut v = render(hub, t, rec, &sel, &assoc);
            add_history(hub, t, &mut v, rec, &with_history);
            v
        })
        .collect();
    let mut body = json!({"results": page});
    if ids.len() > limit {
        let next = (ids[limit - 1] + 1).to_string();
        let link = format!(
            "{}/crm/v3/objects/{}?limit={limit}&after={next}",
            hub.base_url,
            t.plural()
        );
        body["paging"] = json!({"next": {"after": next, "link": link}});
    }
    Ok(HttpResponse::json(200, &body))
}

fn get_one(hub: &Hub, t: ObjType, req: &HttpRequest, key: &str) -> Result<HttpResponse, ApiError> {
    let archived = archived_flag(req);
    let id = lookup(hub, t, key, req.query_param("idProperty"), archived)?.ok_or_else(not_found)?;
    let sel = PropSel::from_list(req.query_list("properties"));
    let rec = &hub.store(t).records[&id];
    let mut v = render(hub, t, rec, &sel, &assoc_list(req));
    add_history(
        hub,
        t,
        &mut v,
        rec,
        &req.query_list("propertiesWithHistory"),
    );
    Ok(HttpResponse::json(200, &v))
}

fn create_one(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let body = parse_body(req)?;
    let id = create(
        hub,
        t,
        now,
        API_SOURCE,
        body.get("properties").unwrap_or(&json!({})),
    )?;
    apply_create_associations(hub, t, now, id, body.get("associations"));
    let rec = &hub.store(t).records[&id];
    let sel = PropSel::Named(
        body["properties"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
    );
    Ok(HttpResponse::json(201, &render(hub, t, rec, &sel, &[])))
}

/// `associations: [{to:{id}, types:[...]}]` on create: links to the other object type whose
/// id exists (the type is inferred from the association type id).
fn apply_create_associations(hub: &mut Hub, t: ObjType, now: i64, id: u64, assoc: Option<&Value>) {
    let other = match t {
        ObjType::Contacts => ObjType::Companies,
        ObjType::Companies => ObjType::Contacts,
    };
    for a in assoc.and_then(Value::as_array).into_iter().flatten() {
        if let Some(to) = a["to"]["id"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .or_else(|| a["to"]["id"].as_u64())
            && hub.store(other).live(to).is_some()
        {
            associate(hub, t, now, API_SOURCE, id, to);
        }
    }
}

fn patch_one(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    req: &HttpRequest,
    key: &str,
) -> Result<HttpResponse, ApiError> {
    let body = parse_body(req)?;
    let id = lookup(hub, t, key, req.query_param("idProperty"), false)?.ok_or_else(not_found)?;
    update(
        hub,
        t,
        now,
        API_SOURCE,
        id,
        body.get("properties").unwrap_or(&json!({})),
    )?;
    let sel = PropSel::Named(
        body["properties"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
    );
    Ok(HttpResponse::json(
        200,
        &render(hub, t, &hub.store(t).records[&id], &sel, &[]),
    ))
}

fn inputs(body: &Value) -> Result<Vec<Value>, ApiError> {
    let inputs = body
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_request("Invalid input JSON: `inputs` is required"))?;
    if inputs.len() > MAX_BATCH {
        return Err(bad_request(&format!(
            "Batch input size {} is more than the allowed maximum of {MAX_BATCH}",
            inputs.len()
        )));
    }
    Ok(inputs.clone())
}

fn id_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn batch_response(
    status: u16,
    results: Vec<Value>,
    errors: Vec<Value>,
    started: i64,
    now: i64,
) -> HttpResponse {
    let mut body = json!({"status": "COMPLETE", "results": results,
                          "startedAt": iso_ms(started), "completedAt": iso_ms(now)});
    if errors.is_empty() {
        HttpResponse::json(status, &body)
    } else {
        body["numErrors"] = json!(errors.len());
        body["errors"] = Value::Array(errors);
        HttpResponse::json(207, &body)
    }
}

/// HubSpot refuses a whole batch in which two inputs resolve to the same record (the same
/// id, an id merged into another input's, or the same `idProperty` value), naming the ids.
/// `resolved` pairs each input's id as sent with the record (or, for an upsert that creates,
/// the normalised value) it resolves to.
fn refuse_repeats(resolved: &[(String, String)]) -> Result<(), ApiError> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let mut repeated: Vec<String> = Vec::new();
    for (sent, to) in resolved {
        if let Some(first) = seen.insert(to.as_str(), sent.as_str()) {
            for id in [first, sent.as_str()] {
                if !repeated.iter().any(|r| r == id) {
                    repeated.push(id.to_string());
                }
            }
        }
    }
    if repeated.is_empty() {
        return Ok(());
    }
    let mut e = bad_request(&format!(
        "Duplicate IDs found in batch input: [{}]. IDs must be unique",
        repeated.join(", ")
    ));
    e.body["context"] = json!({ "ids": repeated });
    Err(e)
}

fn missing_ids_error(t: ObjType, verb: &str, ids: Vec<String>) -> Vec<Value> {
    if ids.is_empty() {
        return Vec::new();
    }
    vec![json!({"status": "error", "category": "OBJECT_NOT_FOUND",
                "message": format!("Could not {verb} some {} objects, they may be deleted or not exist. Check that ids are valid.", t.upper()),
                "context": {"ids": ids}, "errors": [], "links": {}})]
}

fn batch(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    req: &HttpRequest,
    op: &str,
) -> Result<HttpResponse, ApiError> {
    let body = parse_body(req)?;
    let inputs = inputs(&body)?;
    match op {
        "read" => {
            let archived = archived_flag(req);
            let id_prop = body.get("idProperty").and_then(Value::as_str);
            let with_history: Vec<String> = body
                .get("propertiesWithHistory")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let sel = PropSel::from_list(
                body.get("properties")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
            );
            let mut results = Vec::new();
            let mut missing = Vec::new();
            for i in &inputs {
                let key = id_of(&i["id"]);
                match lookup(hub, t, &key, id_prop, archived)? {
                    Some(id) => {
                        let rec = &hub.store(t).records[&id];
                        let mut v = render(hub, t, rec, &sel, &[]);
                        add_history(hub, t, &mut v, rec, &with_history);
                        results.push(v);
                    }
                    None => missing.push(key),
                }
            }
            Ok(batch_response(
                200,
                results,
                missing_ids_error(t, "get", missing),
                now,
                now,
            ))
        }
        "create" => {
            let mut all = Vec::new();
            for i in &inputs {
                all.push(validate(hub, t, i.get("properties").unwrap_or(&json!({})))?);
            }
            // A duplicate unique value, against the store or inside the batch, rejects the batch.
            let unique = hub.unique_props(t);
            let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
            for (n, vals) in all.iter().enumerate() {
                if let Some((_, _, other)) = unique_clash(hub, t, None, vals) {
                    return Err(conflict_on_create(t, other));
                }
                for (k, v) in vals {
                    if let Some(v) = v
                        && unique.contains(k)
                        && seen.insert((k.clone(), v.to_lowercase()), n).is_some()
                    {
                        return Err(bad_request(&format!("Duplicate {k} `{v}` in batch inputs")));
                    }
                }
            }
            let mut results = Vec::new();
            for (i, vals) in inputs.iter().zip(all) {
                let names: Vec<String> = vals.iter().map(|(k, _)| k.clone()).collect();
                let id = create_validated(hub, t, now, API_SOURCE, vals)?;
                apply_create_associations(hub, t, now, id, i.get("associations"));
                results.push(render(
                    hub,
                    t,
                    &hub.store(t).records[&id],
                    &PropSel::Named(names),
                    &[],
                ));
            }
            Ok(batch_response(201, results, Vec::new(), now, now))
        }
        "update" => {
            let mut checked = Vec::new();
            for i in &inputs {
                checked.push(validate(hub, t, i.get("properties").unwrap_or(&json!({})))?);
            }
            let mut resolved = Vec::new();
            for i in &inputs {
                let key = id_of(&i["id"]);
                let id_prop = i.get("idProperty").and_then(Value::as_str);
                let to = lookup(hub, t, &key, id_prop, false)?
                    .map_or_else(|| format!("missing {key}"), |id| id.to_string());
                resolved.push((key, to));
            }
            refuse_repeats(&resolved)?;
            let mut results = Vec::new();
            let mut missing = Vec::new();
            for (i, vals) in inputs.iter().zip(checked) {
                let key = id_of(&i["id"]);
                let names: Vec<String> = vals.iter().map(|(k, _)| k.clone()).collect();
                match lookup(
                    hub,
                    t,
                    &key,
                    i.get("idProperty").and_then(Value::as_str),
                    false,
                )? {
                    Some(id) => {
                        update_validated(hub, t, now, API_SOURCE, id, vals)?;
                        results.push(render(
                            hub,
                            t,
                            &hub.store(t).records[&id],
                            &PropSel::Named(names),
                            &[],
                        ));
                    }
                    None => missing.push(key),
                }
            }
            Ok(batch_response(
                200,
                results,
                missing_ids_error(t, "update", missing),
                now,
                now,
            ))
        }
        "upsert" => {
            let mut checked = Vec::new();
            for i in &inputs {
                let Some(id_prop) = i.get("idProperty").and_then(Value::as_str) else {
                    return Err(bad_request("idProperty is required for upsert inputs"));
                };
                if !hub.unique_props(t).iter().any(|u| u == id_prop) {
                    return Err(bad_request(&format!(
                        "{id_prop} is not a unique property and cannot be used as idProperty"
                    )));
                }
                checked.push((
                    id_prop.to_string(),
                    validate(hub, t, i.get("properties").unwrap_or(&json!({})))?,
                ));
            }
            let resolved: Vec<(String, String)> = inputs
                .iter()
                .zip(&checked)
                .map(|(i, (id_prop, _))| {
                    let key = id_of(&i["id"]);
                    let to = match hub.store(t).find_unique(id_prop, &key) {
                        Some(id) => id.to_string(),
                        None => format!("new {id_prop} {}", key.to_lowercase()),
                    };
                    (key, to)
                })
                .collect();
            refuse_repeats(&resolved)?;
            let mut results = Vec::new();
            for (i, (id_prop, mut vals)) in inputs.iter().zip(checked) {
                let key = id_of(&i["id"]);
                let names: Vec<String> = vals.iter().map(|(k, _)| k.clone()).collect();
                let (id, new) = match hub.store(t).find_unique(&id_prop, &key) {
                    Some(id) => (update_validated(hub, t, now, API_SOURCE, id, vals)?, false),
                    None => {
                        if !vals.iter().any(|(k, _)| *k == id_prop) {
                            vals.push((id_prop.clone(), Some(key.clone())));
                        }
                        (create_validated(hub, t, now, API_SOURCE, vals)?, true)
                    }
                };
                let mut r = render(
                    hub,
                    t,
                    &hub.store(t).records[&id],
                    &PropSel::Named(names),
                    &[],
                );
                r["new"] = json!(new);
                results.push(r);
            }
            Ok(batch_response(200, results, Vec::new(), now, now))
        }
        "archive" => {
            for i in &inputs {
                if let Ok(id) = id_of(&i["id"]).parse::<u64>() {
                    archive(hub, t, now, id);
                }
            }
            Ok(HttpResponse::empty(204))
        }
        _ => Err(ApiError::new(
            404,
            "OBJECT_NOT_FOUND",
            &format!("no route for POST {}", req.path),
        )),
    }
}

/// `DELETE /crm/v3/properties/{objectType}/{propertyName}`: the property leaves the catalogue;
/// reads no longer return it and a write naming it is refused as an unknown property. A
/// HubSpot-defined property cannot be deleted.
pub fn delete_property(hub: &mut Hub, t: ObjType, name: &str) -> Result<HttpResponse, ApiError> {
    let Some(def) = hub.prop(t, name) else {
        return Err(ApiError::new(
            404,
            "OBJECT_NOT_FOUND",
            &format!(
                "Unable to find property {name} for object type {}",
                t.singular()
            ),
        ));
    };
    if def.hubspot_defined || def.read_only_definition {
        return Err(bad_request(&format!(
            "{name} is a HubSpot defined property and cannot be deleted"
        )));
    }
    if let Some(props) = hub.props.get_mut(&t) {
        props.retain(|p| p.name != name);
    }
    Ok(HttpResponse::empty(204))
}

fn create_property(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let body = parse_body(req)?;
    let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let mut missing = Vec::new();
    for k in ["name", "label", "type", "fieldType", "groupName"] {
        if field(k).is_none() {
            missing.push(k);
        }
    }
    if !missing.is_empty() {
        return Err(bad_request(&format!(
            "Invalid input JSON: missing required fields {}",
            missing.join(", ")
        )));
    }
    let name = field("name").unwrap_or_default();
    let ptype = field("type").unwrap_or_default();
    if ![
        "string",
        "number",
        "date",
        "datetime",
        "enumeration",
        "bool",
        "phone_number",
    ]
    .contains(&ptype.as_str())
    {
        return Err(bad_request(&format!("Invalid property type `{ptype}`")));
    }
    if hub.prop(t, &name).is_some() {
        return Err(ApiError::new(
            409,
            "OBJECT_ALREADY_EXISTS",
            &format!("Property named '{name}' already exists."),
        ));
    }
    let options: Vec<(String, String)> = body
        .get("options")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|o| {
                    (
                        o["label"].as_str().unwrap_or_default().to_string(),
                        o["value"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if ptype == "enumeration" && options.is_empty() {
        return Err(bad_request("Enumeration properties must have options"));
    }
    let def = PropDef {
        name,
        label: field("label").unwrap_or_default(),
        ptype,
        field_type: field("fieldType").unwrap_or_default(),
        group: field("groupName").unwrap_or_default(),
        description: field("description").unwrap_or_default(),
        options,
        read_only_value: false,
        read_only_definition: false,
        has_unique_value: body
            .get("hasUniqueValue")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        hubspot_defined: false,
        display_order: body
            .get("displayOrder")
            .and_then(Value::as_i64)
            .unwrap_or(-1),
        created_ms: now,
        updated_ms: now,
    };
    let v = def.to_json();
    hub.props
        .get_mut(&t)
        .expect("both types have catalogues")
        .push(def);
    Ok(HttpResponse::json(201, &v))
}

fn owners(hub: &Hub, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let limit = req
        .query_param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 500);
    let after = req
        .query_param("after")
        .and_then(|a| a.parse::<usize>().ok())
        .unwrap_or(0);
    if archived_flag(req) {
        return Ok(HttpResponse::json(200, &json!({"results": []})));
    }
    let filtered: Vec<_> = hub
        .owners
        .iter()
        .filter(|o| {
            req.query_param("email")
                .is_none_or(|e| o.email.eq_ignore_ascii_case(e))
        })
        .collect();
    let page: Vec<Value> = filtered
        .iter()
        .skip(after)
        .take(limit)
        .map(|o| o.to_json())
        .collect();
    let mut body = json!({"results": page});
    if filtered.len() > after + limit {
        let next = (after + limit).to_string();
        body["paging"] = json!({"next": {"after": next, "link": format!("{}/crm/v3/owners?limit={limit}&after={next}", hub.base_url)}});
    }
    Ok(HttpResponse::json(200, &body))
}

fn assoc_spec(from: ObjType) -> Value {
    json!({"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": assoc_type_id(from)})
}

/// The types of the pair `from`–`to`, `from` being of type `f`: the unlabelled one, and first
/// the primary one when the pair is a contact and its primary company.
fn assoc_types(hub: &Hub, f: ObjType, from: u64, to: u64) -> Value {
    let mut types = vec![json!({"category": "HUBSPOT_DEFINED", "typeId": assoc_type_id(f)})];
    if is_primary_pair(hub, f, from, to) {
        let id = match f {
            ObjType::Contacts => PRIMARY_TYPES.0,
            ObjType::Companies => PRIMARY_TYPES.1,
        };
        types.insert(
            0,
            json!({"category": "HUBSPOT_DEFINED", "typeId": id, "label": "Primary"}),
        );
    }
    Value::Array(types)
}

fn pair_types(from: &str, to: &str) -> Result<(ObjType, ObjType), ApiError> {
    let (f, t) = (obj_type(from)?, obj_type(to)?);
    if f == t {
        return Err(bad_request(&format!(
            "{} to {} associations are not supported by this account",
            f.singular(),
            t.singular()
        )));
    }
    Ok((f, t))
}

/// Associates pairs with the default type. A single PUT with a bad id answers 400 with the
/// error; a batch answers 207 with it in `errors[]`.
fn assoc_default(
    hub: &mut Hub,
    from: &str,
    to: &str,
    pairs: &[(String, String)],
    now: i64,
    single: bool,
) -> Result<HttpResponse, ApiError> {
    let (f, t) = pair_types(from, to)?;
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for (a, b) in pairs {
        let (Some(ai), Some(bi)) = (
            a.parse::<u64>()
                .ok()
                .filter(|i| hub.store(f).live(*i).is_some()),
            b.parse::<u64>()
                .ok()
                .filter(|i| hub.store(t).live(*i).is_some()),
        ) else {
            errors.push(json!({"status": "error", "category": "VALIDATION_ERROR",
                "message": format!("One or more of {} {a} or {} {b} is invalid", f.upper(), t.upper()),
                "context": {"fromObjectId": [a], "toObjectId": [b]}, "errors": [], "links": {}}));
            continue;
        };
        associate(hub, f, now, API_SOURCE, ai, bi);
        results.push(json!({"from": {"id": a}, "to": {"id": b}, "associationSpec": assoc_spec(f)}));
        results.push(json!({"from": {"id": b}, "to": {"id": a}, "associationSpec": assoc_spec(t)}));
    }
    if results.is_empty() && !errors.is_empty() && single {
        return Err(ApiError {
            status: 400,
            body: {
                let mut e = errors[0].clone();
                e["correlationId"] = json!(crate::sandbox::uuid());
                e
            },
        });
    }
    Ok(batch_response(200, results, errors, now, now))
}

fn assoc_get(hub: &Hub, from: &str, id: &str, to: &str) -> Result<HttpResponse, ApiError> {
    let (f, t) = pair_types(from, to)?;
    let id: u64 = id.parse().map_err(|_| not_found())?;
    let results: Vec<Value> = hub
        .assoc
        .of(f, id)
        .into_iter()
        .filter(|o| hub.store(t).live(*o).is_some())
        .map(|o| json!({"toObjectId": o.to_string(), "associationTypes": assoc_types(hub, f, id, o)}))
        .collect();
    Ok(HttpResponse::json(200, &json!({"results": results})))
}

fn assoc_batch(
    hub: &mut Hub,
    from: &str,
    to: &str,
    rest: &[&str],
    req: &HttpRequest,
    now: i64,
) -> Result<HttpResponse, ApiError> {
    let (f, t) = pair_types(from, to)?;
    let body = parse_body(req)?;
    let inputs = inputs(&body)?;
    match rest {
        ["read"] => {
            let mut results = Vec::new();
            let mut errors = Vec::new();
            for i in &inputs {
                let key = id_of(&i["id"]);
                let to_ids: Vec<u64> = key
                    .parse::<u64>()
                    .map(|id| {
                        hub.assoc
                            .of(f, id)
                            .into_iter()
                            .filter(|o| hub.store(t).live(*o).is_some())
                            .collect()
                    })
                    .unwrap_or_default();
                if to_ids.is_empty() {
                    errors.push(json!({"status": "error", "category": "OBJECT_NOT_FOUND",
                        "message": format!("No {} is associated with {} {key}.", t.singular(), f.singular()),
                        "context": {"fromObjectId": [key]}, "errors": [], "links": {}}));
                    continue;
                }
                // Not empty, so the key is an id.
                let from: u64 = key.parse().unwrap_or_default();
                let to: Vec<Value> = to_ids
                    .iter()
                    .map(|o| json!({"toObjectId": o.to_string(), "associationTypes": assoc_types(hub, f, from, *o)}))
                    .collect();
                results.push(json!({"from": {"id": key}, "to": to}));
            }
            Ok(batch_response(200, results, errors, now, now))
        }
        ["associate", "default"] => {
            let pairs: Vec<(String, String)> = inputs
                .iter()
                .map(|i| (id_of(&i["from"]["id"]), id_of(&i["to"]["id"])))
                .collect();
            assoc_default(hub, from, to, &pairs, now, false)
        }
        ["archive"] => {
            for i in &inputs {
                let Ok(a) = id_of(&i["from"]["id"]).parse::<u64>() else {
                    continue;
                };
                for b in i["to"].as_array().into_iter().flatten() {
                    if let Ok(b) = id_of(&b["id"]).parse::<u64>() {
                        dissociate(hub, f, now, API_SOURCE, a, b);
                    }
                }
            }
            Ok(HttpResponse::empty(204))
        }
        _ => Err(ApiError::new(
            404,
            "OBJECT_NOT_FOUND",
            &format!("no route for POST {}", req.path),
        )),
    }
}

/// Values a merge never copies: the system keeps them per record.
const SYSTEM_PROPS: [&str; 5] = [
    "hs_object_id",
    "createdate",
    "lastmodifieddate",
    "hs_lastmodifieddate",
    MERGED_IDS,
];

/// The read-only property listing the ids merged into a record, `;`-separated.
pub const MERGED_IDS: &str = "hs_merged_object_ids";

/// `POST /crm/v3/objects/{type}/merge`.
fn merge(hub: &mut Hub, t: ObjType, now: i64, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let body = parse_body(req)?;
    let primary = id_of(&body["primaryObjectId"]);
    let other = id_of(&body["objectIdToMerge"]);
    let (Ok(p), Ok(o)) = (primary.parse::<u64>(), other.parse::<u64>()) else {
        return Err(bad_request(
            "primaryObjectId and objectIdToMerge must be record ids",
        ));
    };
    merge_records(hub, t, now, API_SOURCE, p, o)?;
    let rec = &hub.store(t).records[&p];
    Ok(HttpResponse::json(
        200,
        &render(hub, t, rec, &PropSel::Default, &[]),
    ))
}

/// Merges record `o` into `p`: the primary keeps its values and takes the merged record's
/// values for properties it has empty; it lists `o` (and whatever had been merged into `o`)
/// in `hs_merged_object_ids`; associations move to the primary; the merged id then reads and
/// updates as the primary and is gone from lists and search.
pub fn merge_records(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    source: &'static str,
    p: u64,
    o: u64,
) -> Result<(), ApiError> {
    if p == o {
        return Err(bad_request(&format!(
            "Cannot merge {} {p} into itself",
            t.singular()
        )));
    }
    if hub.store(t).live(p).is_none() || hub.store(t).live(o).is_none() {
        return Err(not_found());
    }
    let unique = hub.unique_props(t);
    let gone = hub
        .store_mut(t)
        .take(o, &unique)
        .expect("checked live above");
    let primary = &hub.store(t).records[&p];
    let mut fill: Vec<(String, Option<String>)> = gone
        .props
        .iter()
        .filter(|(k, v)| !SYSTEM_PROPS.contains(&k.as_str()) && !v.is_empty())
        .filter(|(k, _)| primary.props.get(*k).is_none_or(String::is_empty))
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    let mut merged: Vec<String> = [primary.props.get(MERGED_IDS), gone.props.get(MERGED_IDS)]
        .into_iter()
        .flatten()
        .flat_map(|ids| ids.split(';'))
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect();
    merged.push(o.to_string());
    merged.sort_by_key(|id| id.parse::<u64>().unwrap_or(u64::MAX));
    merged.dedup();
    fill.push((MERGED_IDS.to_string(), Some(merged.join(";"))));
    update_validated(hub, t, now, source, p, fill)?;
    for other_side in hub.assoc.of(t, o) {
        hub.assoc.remove(t, o, other_side);
        hub.assoc.add(t, p, other_side);
        // A contact whose primary company was merged away has the survivor as its primary.
        // (A merged contact's primary came with its values above.)
        if t == ObjType::Companies && primary_company(hub, other_side) == Some(o) {
            set_primary(hub, now, source, other_side, Some(p));
        }
    }
    hub.store_mut(t).merged.insert(o, p);
    Ok(())
}

/// `POST /crm/v3/objects/contacts/gdpr-delete`: removes the contact for good (not even in
/// the archived list). An unknown contact still answers 204, as HubSpot does.
fn gdpr_delete(hub: &mut Hub, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let t = ObjType::Contacts;
    let body = parse_body(req)?;
    let key = id_of(&body["objectId"]);
    let id_property = body.get("idProperty").and_then(Value::as_str);
    let found =
        lookup(hub, t, &key, id_property, false)?.or(lookup(hub, t, &key, id_property, true)?);
    if let Some(id) = found {
        let unique = hub.unique_props(t);
        hub.store_mut(t).take(id, &unique);
        for company in hub.assoc.of(t, id) {
            hub.assoc.remove(t, id, company);
        }
    }
    Ok(HttpResponse::empty(204))
}
