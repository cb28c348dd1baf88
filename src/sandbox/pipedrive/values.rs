//! What each kind's records hold and how a write's values are checked: the v2 attributes per
//! kind ([`attr`]), custom field values by field type ([`check_custom`]), and the two ways a
//! record is shown: API v2 ([`render_v2`]) and API v1 ([`render_v1`], for `/v1/recents`).
//!
//! API v2 validates strictly (the migration guide: strings are not coerced to numbers); an
//! attribute a kind does not have is refused with 400 rather than ignored (unconfirmed: the
//! spec is silent on unknown body keys).

use serde_json::{Map, Value, json};

use super::errors::{ApiError, bad_request};
use super::store::{Company, Field, Kind, Record};

/// How one v2 attribute is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    Text,
    Int,
    Bool,
    /// A user id of the company.
    User,
    /// A live record's id, or null.
    Ref(Kind),
    /// `[{value, primary, label}]` (emails, phones).
    Contacts,
    /// Option ids of the kind's `label_ids` field.
    Labels,
    /// `{value, country, locality, ...}`, or null.
    Address,
    /// 1, 3, 5 or 7.
    VisibleTo,
    /// `YYYY-MM-DD`, or null.
    Date,
    /// `HH:MM`, or null.
    HhMm,
    /// An activity type's `key_string`.
    ActivityType,
    /// An array of objects, kept as given.
    Objects,
    /// Accepted and not shown (the POST body's `marketing_status`, which no response has).
    Ignored,
}

/// The v2 attribute `name` of `kind`, as a write may set it.
pub fn attr(kind: Kind, name: &str) -> Option<Attr> {
    use Attr::*;
    let common = match name {
        "owner_id" => Some(User),
        "visible_to" => Some(VisibleTo),
        _ => None,
    };
    common.or(match (kind, name) {
        (Kind::Persons, "name") | (Kind::Organizations, "name") => Some(Text),
        (Kind::Persons, "org_id") => Some(Ref(Kind::Organizations)),
        (Kind::Persons, "emails" | "phones") => Some(Contacts),
        (Kind::Persons | Kind::Organizations, "label_ids") => Some(Labels),
        (Kind::Persons, "marketing_status") => Some(Ignored),
        (Kind::Organizations, "address") => Some(Address),
        (Kind::Activities, "subject" | "lead_id" | "public_description" | "note") => Some(Text),
        (Kind::Activities, "type") => Some(ActivityType),
        (Kind::Activities, "deal_id" | "project_id" | "priority") => Some(Int),
        (Kind::Activities, "person_id") => Some(Ref(Kind::Persons)),
        (Kind::Activities, "org_id") => Some(Ref(Kind::Organizations)),
        (Kind::Activities, "due_date") => Some(Date),
        (Kind::Activities, "due_time" | "duration") => Some(HhMm),
        (Kind::Activities, "busy" | "done") => Some(Bool),
        (Kind::Activities, "location") => Some(Address),
        (Kind::Activities, "participants" | "attendees") => Some(Objects),
        _ => None,
    })
}

fn expected(name: &str, what: &str) -> ApiError {
    bad_request(format!("Validation failed: {name}: expected {what}"))
}

fn is_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

fn is_hhmm(s: &str) -> bool {
    chrono::NaiveTime::parse_from_str(s, "%H:%M").is_ok()
        || chrono::NaiveTime::parse_from_str(s, "%H:%M:%S").is_ok()
}

/// Checks one attribute's value; returns it as stored.
pub fn check_attr(
    co: &Company,
    kind: Kind,
    name: &str,
    a: Attr,
    v: &Value,
) -> Result<Value, ApiError> {
    use Attr::*;
    let nullable = matches!(a, Ref(_) | Address | Date | HhMm | Int | Objects)
        || (kind == Kind::Activities && a == Text);
    if v.is_null() {
        return if nullable || a == Ignored {
            Ok(Value::Null)
        } else {
            Err(expected(name, "a value, not null"))
        };
    }
    match a {
        Text => v
            .as_str()
            .map(|_| v.clone())
            .ok_or_else(|| expected(name, "a string")),
        Int => v
            .as_i64()
            .map(|_| v.clone())
            .ok_or_else(|| expected(name, "an integer")),
        Bool => v
            .as_bool()
            .map(|_| v.clone())
            .ok_or_else(|| expected(name, "a boolean")),
        User => {
            let id = v.as_i64().ok_or_else(|| expected(name, "an integer"))?;
            co.user(id)
                .map(|_| v.clone())
                .ok_or_else(|| bad_request(format!("User with ID {id} not found")))
        }
        Ref(to) => {
            let id = v.as_i64().ok_or_else(|| expected(name, "an integer"))?;
            co.live(to, id)
                .map(|_| v.clone())
                .ok_or_else(|| bad_request(format!("{} with ID {id} not found", to.title())))
        }
        Contacts => check_contacts(name, v),
        Labels => {
            let ids = v.as_array().ok_or_else(|| expected(name, "an array"))?;
            let options = co
                .field(kind, "label_ids")
                .and_then(|f| f.options.clone())
                .unwrap_or_default();
            for id in ids {
                let id = id.as_i64().ok_or_else(|| expected(name, "integers"))?;
                if !options.iter().any(|o| o.id == id) {
                    return Err(bad_request(format!("Label with ID {id} not found")));
                }
            }
            Ok(v.clone())
        }
        Address => {
            let m = v.as_object().ok_or_else(|| expected(name, "an object"))?;
            if m.values().any(|x| !x.is_string() && !x.is_null()) {
                return Err(expected(name, "string parts"));
            }
            Ok(v.clone())
        }
        VisibleTo => match v.as_i64() {
            Some(1 | 3 | 5 | 7) => Ok(v.clone()),
            _ => Err(expected(name, "one of 1, 3, 5, 7")),
        },
        Date => match v.as_str() {
            Some(s) if is_date(s) => Ok(v.clone()),
            _ => Err(expected(name, "a date YYYY-MM-DD")),
        },
        HhMm => match v.as_str() {
            Some(s) if is_hhmm(s) => Ok(json!(s[..5].to_string())),
            _ => Err(expected(name, "a time HH:MM")),
        },
        ActivityType => {
            let s = v.as_str().ok_or_else(|| expected(name, "a string"))?;
            co.activity_types
                .iter()
                .any(|t| t.key_string == s)
                .then(|| v.clone())
                .ok_or_else(|| bad_request(format!("Activity type `{s}` not found")))
        }
        Objects => match v.as_array() {
            Some(a) if a.iter().all(Value::is_object) => Ok(v.clone()),
            _ => Err(expected(name, "an array of objects")),
        },
        Ignored => Ok(v.clone()),
    }
}

/// Emails or phones: `[{value, primary, label}]`; `primary` defaults to the first entry,
/// `label` to `work` (the spec's examples; unconfirmed as a default).
fn check_contacts(name: &str, v: &Value) -> Result<Value, ApiError> {
    let items = v.as_array().ok_or_else(|| expected(name, "an array"))?;
    let any_primary = items
        .iter()
        .any(|i| i.get("primary").and_then(Value::as_bool) == Some(true));
    let mut out = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let value = item
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| expected(&format!("{name}[{n}].value"), "a string"))?;
        let primary = match item.get("primary") {
            None | Some(Value::Null) => !any_primary && n == 0,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(expected(&format!("{name}[{n}].primary"), "a boolean")),
        };
        let label = match item.get("label") {
            None | Some(Value::Null) => "work",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(expected(&format!("{name}[{n}].label"), "a string")),
        };
        out.push(json!({"value": value, "primary": primary, "label": label}));
    }
    Ok(Value::Array(out))
}

/// Checks a custom field's value by its field type; returns it as stored (`None`: cleared).
pub fn check_custom(co: &Company, f: &Field, v: &Value) -> Result<Option<Value>, ApiError> {
    let name = format!("custom_fields.{}", f.key);
    if v.is_null() {
        return Ok(None);
    }
    let option = |id: &Value| -> Result<(), ApiError> {
        let id = id.as_i64().ok_or_else(|| expected(&name, "an option id"))?;
        let known = f.options.iter().flatten().any(|o| o.id == id);
        known
            .then_some(())
            .ok_or_else(|| bad_request(format!("Option with ID {id} not found in {}", f.key)))
    };
    match f.field_type.as_str() {
        "varchar" | "varchar_auto" | "text" | "phone" | "address" => {
            v.as_str().ok_or_else(|| expected(&name, "a string"))?;
        }
        "double" => {
            v.as_f64().ok_or_else(|| expected(&name, "a number"))?;
        }
        // v2 keeps a monetary value as `{value, currency}`.
        "monetary" => {
            let ok = v.get("value").is_some_and(Value::is_number)
                && v.get("currency").is_none_or(Value::is_string);
            if !ok {
                return Err(expected(&name, "{value, currency}"));
            }
        }
        "enum" => option(v)?,
        // An empty array is refused: `null` clears a set field (spec text).
        "set" => {
            let ids = v.as_array().ok_or_else(|| expected(&name, "an array"))?;
            if ids.is_empty() {
                return Err(bad_request(format!(
                    "Validation failed: {name}: an empty array is not allowed, send null to clear"
                )));
            }
            ids.iter().try_for_each(option)?;
        }
        "date" => match v.as_str() {
            Some(s) if is_date(s) => {}
            _ => return Err(expected(&name, "a date YYYY-MM-DD")),
        },
        "time" => match v.as_str() {
            Some(s) if is_hhmm(s) => {}
            _ => return Err(expected(&name, "a time HH:MM")),
        },
        "user" => {
            let id = v.as_i64().ok_or_else(|| expected(&name, "a user id"))?;
            co.user(id)
                .ok_or_else(|| bad_request(format!("User with ID {id} not found")))?;
        }
        "org" | "people" => {
            let to = if f.field_type == "org" {
                Kind::Organizations
            } else {
                Kind::Persons
            };
            let id = v.as_i64().ok_or_else(|| expected(&name, "a record id"))?;
            co.live(to, id)
                .ok_or_else(|| bad_request(format!("{} with ID {id} not found", to.title())))?;
        }
        _ => {}
    }
    Ok(Some(v.clone()))
}

/// RFC 3339 with whole seconds, as API v2 shows times: `2025-01-01T10:20:00Z`.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, as API v1 shows times.
pub fn v1_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The record's custom field values, every custom field of the kind present (`null` when
/// unset), or only those named in the `custom_fields` query parameter.
fn custom_json(co: &Company, kind: Kind, r: &Record, only: Option<&[String]>) -> Value {
    let mut m = Map::new();
    for f in co.fields(kind).iter().filter(|f| f.custom) {
        if only.is_some_and(|keys| !keys.contains(&f.key)) {
            continue;
        }
        m.insert(
            f.key.clone(),
            r.custom.get(&f.key).cloned().unwrap_or(Value::Null),
        );
    }
    Value::Object(m)
}

fn get<'a>(r: &'a Record, k: &str) -> &'a Value {
    r.data.get(k).unwrap_or(&Value::Null)
}

fn or_empty(v: &Value) -> Value {
    if v.is_null() { json!([]) } else { v.clone() }
}

/// A person's first and last name: the name split at its first space (Pipedrive derives
/// them so; unconfirmed for names of one word, where the last name is empty here).
pub fn split_name(name: &str) -> (String, String) {
    match name.trim().split_once(' ') {
        Some((f, l)) => (f.to_string(), l.trim().to_string()),
        None => (name.trim().to_string(), String::new()),
    }
}

/// The record as API v2 shows it. Unset references and optional attributes are `null`
/// (a person's `org_id` and `picture_id`, an organization's `address`, an activity's
/// `deal_id`, `due_date`, `note`, ...), where the v2 spec types them as non-nullable: an
/// erratum of the spec, mended in the tests' list (`spec_check::ERRATA`).
pub fn render_v2(co: &Company, kind: Kind, r: &Record, only: Option<&[String]>) -> Value {
    let times = (rfc3339(r.add_ms), rfc3339(r.update_ms));
    let custom = custom_json(co, kind, r, only);
    match kind {
        Kind::Persons => {
            let name = get(r, "name").as_str().unwrap_or_default();
            let (first, last) = split_name(name);
            json!({"id": r.id, "name": name, "first_name": first, "last_name": last,
                   "owner_id": get(r, "owner_id"), "org_id": get(r, "org_id"),
                   "add_time": times.0, "update_time": times.1,
                   "emails": or_empty(get(r, "emails")), "phones": or_empty(get(r, "phones")),
                   "is_deleted": r.deleted, "visible_to": get(r, "visible_to"),
                   "label_ids": or_empty(get(r, "label_ids")), "picture_id": null,
                   "custom_fields": custom})
        }
        Kind::Organizations => json!({
            "id": r.id, "name": get(r, "name"), "owner_id": get(r, "owner_id"),
            "add_time": times.0, "update_time": times.1, "is_deleted": r.deleted,
            "visible_to": get(r, "visible_to"), "address": get(r, "address"),
            "label_ids": or_empty(get(r, "label_ids")), "custom_fields": custom}),
        Kind::Activities => {
            let mut v = json!({
                "id": r.id, "subject": get(r, "subject"), "type": get(r, "type"),
                "owner_id": get(r, "owner_id"), "creator_user_id": get(r, "creator_user_id"),
                "is_deleted": r.deleted, "add_time": times.0, "update_time": times.1});
            for k in [
                "deal_id",
                "lead_id",
                "person_id",
                "org_id",
                "project_id",
                "due_date",
                "due_time",
                "duration",
                "busy",
                "done",
                "marked_as_done_time",
                "location",
                "participants",
                "public_description",
                "priority",
                "note",
            ] {
                v[k] = get(r, k).clone();
            }
            v["participants"] = or_empty(&v["participants"]);
            for k in [
                "conference_meeting_client",
                "conference_meeting_url",
                "conference_meeting_id",
            ] {
                v[k] = Value::Null;
            }
            v["custom_fields"] = custom;
            v
        }
    }
}

/// A custom value as API v1 shows it at the record's root: a set as `"11,12"`, a monetary
/// value as its amount (its currency under `<key>_currency`).
fn v1_custom(f: &Field, v: &Value, out: &mut Map<String, Value>) {
    match f.field_type.as_str() {
        "set" => {
            let ids: Vec<String> = v
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| i.to_string())
                .collect();
            out.insert(f.key.clone(), json!(ids.join(",")));
        }
        "monetary" => {
            out.insert(f.key.clone(), v["value"].clone());
            out.insert(format!("{}_currency", f.key), v["currency"].clone());
        }
        _ => {
            out.insert(f.key.clone(), v.clone());
        }
    }
}

/// The record as API v1 shows it (in `/v1/recents`): `email[]`/`phone[]`, `active_flag`,
/// `YYYY-MM-DD HH:MM:SS` times, `visible_to` as a string and custom fields at the root.
/// `owner_id` and `org_id` are plain integers, as the v1 spec's recents person schema gives
/// them (the DIGEST has them as objects on v1 reads; the spec wins) — except an
/// organization's `owner_id`, which that schema gives as the owner object.
pub fn render_v1(co: &Company, kind: Kind, r: &Record) -> Value {
    let owner_id = get(r, "owner_id").as_i64().unwrap_or_default();
    let owner_name = co
        .user(owner_id)
        .map(|u| u.name.clone())
        .unwrap_or_default();
    let visible = get(r, "visible_to").as_i64().unwrap_or(3).to_string();
    let name = get(r, "name").as_str().unwrap_or_default();
    let first_char = name.chars().next().map(|c| c.to_lowercase().to_string());
    let mut v = match kind {
        Kind::Persons => {
            let (first, last) = split_name(name);
            let org_id = get(r, "org_id").as_i64();
            let org_name = org_id
                .and_then(|id| co.store(Kind::Organizations).records.get(&id))
                .map(|o| get(o, "name").clone())
                .unwrap_or(Value::Null);
            json!({"id": r.id, "company_id": 1, "owner_id": owner_id, "org_id": org_id,
                   "name": name, "first_name": first, "last_name": last,
                   "email": or_empty(get(r, "emails")), "phone": or_empty(get(r, "phones")),
                   "first_char": first_char, "visible_to": visible, "picture_id": null,
                   "label_ids": or_empty(get(r, "label_ids")), "org_name": org_name,
                   "owner_name": owner_name, "cc_email": null})
        }
        Kind::Organizations => {
            let owner = co.user(owner_id);
            json!({"id": r.id, "company_id": 1,
                   "owner_id": {"id": owner_id, "name": owner_name,
                                "email": owner.map(|u| u.email.clone()), "has_pic": 0,
                                "pic_hash": null, "active_flag": true, "value": owner_id},
                   "name": name, "first_char": first_char, "visible_to": visible,
                   "label_ids": or_empty(get(r, "label_ids")), "owner_name": owner_name,
                   "address": get(r, "address").get("value").cloned().unwrap_or(Value::Null)})
        }
        Kind::Activities => {
            let mut v = json!({"id": r.id, "company_id": 1, "user_id": owner_id,
                               "subject": get(r, "subject"), "type": get(r, "type"),
                               "done": get(r, "done"), "busy_flag": get(r, "busy"),
                               "created_by_user_id": get(r, "creator_user_id")});
            for k in [
                "due_date",
                "due_time",
                "duration",
                "deal_id",
                "lead_id",
                "person_id",
                "org_id",
                "project_id",
                "note",
                "public_description",
            ] {
                v[k] = get(r, k).clone();
            }
            v
        }
    };
    v["active_flag"] = json!(!r.deleted);
    v["add_time"] = json!(v1_time(r.add_ms));
    v["update_time"] = json!(v1_time(r.update_ms));
    if let Value::Object(m) = &mut v {
        for f in co.fields(kind).iter().filter(|f| f.custom) {
            match r.custom.get(&f.key) {
                Some(val) => v1_custom(f, val, m),
                None => {
                    m.insert(f.key.clone(), Value::Null);
                }
            }
        }
    }
    v
}

/// Keeps an activity's `person_id` and its primary participant one person, as API v2 has
/// them (the list's `person_id` filter means the primary participant): writing `person_id`
/// makes that person the primary participant (the others stay, not primary); writing
/// `participants` makes `person_id` the primary one's.
pub fn set_participants(data: &mut Map<String, Value>, key: &str, value: &Value) {
    match key {
        "person_id" => {
            let mut list: Vec<Value> = data
                .get("participants")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            list.retain(|p| p["person_id"] != *value);
            for p in &mut list {
                p["primary"] = json!(false);
            }
            if !value.is_null() {
                list.insert(0, json!({"person_id": value, "primary": true}));
            }
            data.insert("participants".into(), Value::Array(list));
        }
        "participants" => {
            let primary = value
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["primary"] == json!(true))
                .map(|p| p["person_id"].clone())
                .unwrap_or(Value::Null);
            data.insert("person_id".into(), primary);
        }
        _ => {}
    }
}
