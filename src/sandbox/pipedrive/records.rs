//! API v2 records (persons, organizations, activities): list with cursor paging, get,
//! create, update (PATCH) and delete, in the `{success, data, additional_data}` envelope.
//!
//! Chosen where the spec is silent (each unconfirmed):
//! * lists leave deleted records out; a deleted record's get, PATCH and DELETE answer 404
//!   (`/v1/recents` shows deletions, with `active_flag: false`);
//! * an update that changes no value leaves `update_time` alone;
//! * the cursor is base64url (no padding) of `{field, fieldValue, sortDirection, id}`, the
//!   shape the spec's example cursor decodes to; it carries the sort it was made with.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::envelope::ok;
use super::errors::{ApiError, bad_request, not_found};
use super::store::{Change, Company, Kind, Record};
use super::values::{self, Attr, attr, check_attr, check_custom, render_v2};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::parse_time_ms;

/// Who makes a write: `api` (an API call) or `app` (a user in Pipedrive), and as which user.
#[derive(Debug, Clone, Copy)]
pub struct Writer {
    pub source: &'static str,
    pub user_id: i64,
}

fn id_of(s: &str, kind: Kind) -> Result<i64, ApiError> {
    s.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        bad_request(format!(
            "Validation failed: id: {} id must be a positive integer",
            kind.title()
        ))
    })
}

/// Serves `/api/v2/{kind}[/{id}]`; `None` when the method is not served there.
pub fn route(
    co: &mut Company,
    now: i64,
    me: i64,
    req: &HttpRequest,
    kind: Kind,
    id: Option<&str>,
) -> Option<HttpResponse> {
    let writer = Writer {
        source: "api",
        user_id: me,
    };
    let only = req
        .query_param("custom_fields")
        .map(|_| req.query_list("custom_fields"));
    let answer = match (req.method.as_str(), id) {
        ("GET", None) => list(co, kind, req, only.as_deref()),
        ("POST", None) => body(req).and_then(|b| {
            let id = create(co, kind, now, writer, &b)?;
            Ok(ok(
                render_v2(co, kind, &co.store(kind).records[&id], None),
                Value::Null,
            ))
        }),
        ("GET", Some(id)) => id_of(id, kind).and_then(|id| {
            let r = co.live(kind, id).ok_or_else(|| not_found(kind.title()))?;
            Ok(ok(render_v2(co, kind, r, only.as_deref()), Value::Null))
        }),
        ("PATCH", Some(id)) => id_of(id, kind).and_then(|id| {
            let b = body(req)?;
            update(co, kind, now, writer, id, &b)?;
            Ok(ok(
                render_v2(co, kind, &co.store(kind).records[&id], None),
                Value::Null,
            ))
        }),
        ("DELETE", Some(id)) => id_of(id, kind).and_then(|id| {
            delete(co, kind, now, writer, id)?;
            Ok(ok(json!({"id": id}), Value::Null))
        }),
        _ => return None,
    };
    Some(answer.unwrap_or_else(|e| e.response()))
}

fn body(req: &HttpRequest) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad_request(
            "Validation failed: the body must be a JSON object",
        )),
    }
}

/// The checked changes a write body asks for: attributes and custom field values.
struct Changes {
    attrs: Vec<(String, Value)>,
    custom: Vec<(String, Option<Value>)>,
}

fn check_body(co: &Company, kind: Kind, b: &Map<String, Value>) -> Result<Changes, ApiError> {
    let mut changes = Changes {
        attrs: Vec::new(),
        custom: Vec::new(),
    };
    for (k, v) in b {
        if k == "custom_fields" {
            let m = v.as_object().ok_or_else(|| {
                bad_request("Validation failed: custom_fields: expected an object")
            })?;
            for (key, val) in m {
                let f = co
                    .field(kind, key)
                    .filter(|f| f.custom)
                    .ok_or_else(|| bad_request(format!("Custom field `{key}` not found")))?;
                changes
                    .custom
                    .push((key.clone(), check_custom(co, f, val)?));
            }
            continue;
        }
        let a = attr(kind, k)
            .ok_or_else(|| bad_request(format!("Validation failed: {k}: unknown field")))?;
        if a == Attr::Ignored {
            continue;
        }
        changes
            .attrs
            .push((k.clone(), check_attr(co, kind, k, a, v)?));
    }
    Ok(changes)
}

/// Creates a record from a v2 body; returns its id. Persons and organizations need a `name`
/// (the spec's `required: ["title"]` names no property of the body; `name` is the one the
/// API needs).
pub fn create(
    co: &mut Company,
    kind: Kind,
    now: i64,
    writer: Writer,
    b: &Map<String, Value>,
) -> Result<i64, ApiError> {
    let changes = check_body(co, kind, b)?;
    let mut data = Map::new();
    data.insert("owner_id".into(), json!(writer.user_id));
    data.insert("visible_to".into(), json!(3));
    if kind == Kind::Activities {
        data.insert("creator_user_id".into(), json!(writer.user_id));
        data.insert("type".into(), json!("task"));
        data.insert("done".into(), json!(false));
        data.insert("busy".into(), json!(false));
    }
    for (k, v) in changes.attrs {
        if kind == Kind::Activities {
            values::set_participants(&mut data, &k, &v);
        }
        data.insert(k, v);
    }
    if kind != Kind::Activities
        && data
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(|n| n.trim().is_empty())
    {
        return Err(bad_request("Validation failed: name: Required"));
    }
    if kind == Kind::Activities {
        // An activity without a subject is named after its type (Pipedrive's UI does so;
        // unconfirmed for the API).
        if data.get("subject").is_none_or(Value::is_null) {
            let t = data["type"].as_str().unwrap_or_default();
            let name = co
                .activity_types
                .iter()
                .find(|a| a.key_string == t)
                .map(|a| a.name.clone())
                .unwrap_or_default();
            data.insert("subject".into(), json!(name));
        }
        if data["done"] == json!(true) {
            data.insert("marked_as_done_time".into(), json!(values::rfc3339(now)));
        }
    }
    let now = now - now.rem_euclid(1000);
    let id = co.next_id;
    co.next_id += 1;
    let custom = changes
        .custom
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    co.store_mut(kind).records.insert(
        id,
        Record {
            id,
            data,
            custom,
            add_ms: now,
            update_ms: now,
            deleted: false,
            merged_into: None,
        },
    );
    if !co.webhooks.hooks.is_empty() {
        let data = render_v2(co, kind, &co.store(kind).records[&id], None);
        let (source, user) = (writer.source, writer.user_id);
        super::webhooks::record(co, kind, id, "create", source, user, now, data, Value::Null);
    }
    Ok(id)
}

fn text(v: Option<&Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// The v1 key a v2 attribute is logged under in `/changelog`.
fn log_key(k: &str) -> &str {
    match k {
        "emails" => "email",
        "phones" => "phone",
        other => other,
    }
}

/// Applies a v2 body to a live record; bumps `update_time` and logs the changes only if a
/// value changed.
pub fn update(
    co: &mut Company,
    kind: Kind,
    now: i64,
    writer: Writer,
    id: i64,
    b: &Map<String, Value>,
) -> Result<(), ApiError> {
    co.live(kind, id).ok_or_else(|| not_found(kind.title()))?;
    let changes = check_body(co, kind, b)?;
    let now = now - now.rem_euclid(1000);
    let store = co.store_mut(kind);
    let r = store.records.get_mut(&id).expect("checked live");
    let mut log = Vec::new();
    let mut change = |key: &str, old: Option<&Value>, new: Option<&Value>| {
        log.push(Change {
            field_key: log_key(key).to_string(),
            old_value: text(old),
            new_value: text(new),
            actor_user_id: writer.user_id,
            time_ms: now,
            source: writer.source,
        });
    };
    for (k, v) in changes.attrs {
        if r.data.get(&k).unwrap_or(&Value::Null) != &v {
            change(&k, r.data.get(&k), Some(&v));
            if kind == Kind::Activities && k == "done" {
                let at = (v == json!(true)).then(|| json!(values::rfc3339(now)));
                r.data
                    .insert("marked_as_done_time".into(), at.unwrap_or(Value::Null));
            }
            if kind == Kind::Activities {
                values::set_participants(&mut r.data, &k, &v);
            }
            r.data.insert(k, v);
        }
    }
    for (k, v) in changes.custom {
        if r.custom.get(&k) != v.as_ref() {
            change(&k, r.custom.get(&k), v.as_ref());
            match v {
                Some(v) => r.custom.insert(k, v),
                None => r.custom.remove(&k),
            };
        }
    }
    if !log.is_empty() {
        r.update_ms = now;
        let previous: Map<String, Value> = log
            .iter()
            .map(|c| (c.field_key.clone(), json!(c.old_value)))
            .collect();
        store.changes.entry(id).or_default().extend(log);
        if !co.webhooks.hooks.is_empty() {
            let data = render_v2(co, kind, &co.store(kind).records[&id], None);
            let (source, user) = (writer.source, writer.user_id);
            let previous = Value::Object(previous);
            super::webhooks::record(co, kind, id, "change", source, user, now, data, previous);
        }
    }
    Ok(())
}

/// Marks a live record deleted (Pipedrive removes it for good after 30 days; the sandbox
/// keeps it marked).
pub fn delete(
    co: &mut Company,
    kind: Kind,
    now: i64,
    writer: Writer,
    id: i64,
) -> Result<(), ApiError> {
    co.live(kind, id).ok_or_else(|| not_found(kind.title()))?;
    let last = (!co.webhooks.hooks.is_empty())
        .then(|| render_v2(co, kind, &co.store(kind).records[&id], None));
    let r = co
        .store_mut(kind)
        .records
        .get_mut(&id)
        .expect("checked live");
    r.deleted = true;
    r.update_ms = now - now.rem_euclid(1000);
    if let Some(last) = last {
        let (source, user) = (writer.source, writer.user_id);
        super::webhooks::record(co, kind, id, "delete", source, user, now, Value::Null, last);
    }
    Ok(())
}

/// What a list is ordered by.
#[derive(Debug, Clone, PartialEq)]
struct Sort {
    field: String,
    desc: bool,
}

/// A record's place in the order: the sort value, then the id.
fn key(r: &Record, field: &str) -> (i64, String, i64) {
    match field {
        "update_time" => (r.update_ms, String::new(), r.id),
        "add_time" => (r.add_ms, String::new(), r.id),
        "due_date" => (
            0,
            r.data
                .get("due_date")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            r.id,
        ),
        _ => (r.id, String::new(), r.id),
    }
}

fn cursor_for(r: &Record, sort: &Sort) -> String {
    let value = match sort.field.as_str() {
        "update_time" => json!(values::rfc3339(r.update_ms)),
        "add_time" => json!(values::rfc3339(r.add_ms)),
        "due_date" => r.data.get("due_date").cloned().unwrap_or(Value::Null),
        _ => json!(r.id),
    };
    let dir = if sort.desc { "desc" } else { "asc" };
    let c = json!({"field": sort.field, "fieldValue": value, "sortDirection": dir, "id": r.id});
    URL_SAFE_NO_PAD.encode(c.to_string())
}

/// The sort a cursor was made with and the place after which the next page starts.
fn read_cursor(s: &str) -> Option<(Sort, (i64, String, i64))> {
    let raw = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
    let c: Value = serde_json::from_slice(&raw).ok()?;
    let field = c["field"].as_str()?.to_string();
    let desc = c["sortDirection"].as_str()? == "desc";
    let id = c["id"].as_i64()?;
    let v = &c["fieldValue"];
    let place = match field.as_str() {
        "update_time" | "add_time" => (parse_time_ms(v.as_str()?)?, String::new(), id),
        "due_date" => (0, v.as_str().unwrap_or_default().to_string(), id),
        "id" => (id, String::new(), id),
        _ => return None,
    };
    Some((Sort { field, desc }, place))
}

fn query_time(req: &HttpRequest, name: &str) -> Result<Option<i64>, ApiError> {
    match req.query_param(name) {
        None => Ok(None),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.timestamp_millis()))
            .map_err(|_| {
                bad_request(format!(
                    "Validation failed: {name}: expected an RFC 3339 date-time"
                ))
            }),
    }
}

fn query_int(req: &HttpRequest, name: &str) -> Result<Option<i64>, ApiError> {
    req.query_param(name)
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| bad_request(format!("Validation failed: {name}: expected an integer")))
        })
        .transpose()
}

/// `GET /api/v2/{kind}`: filters, sort, and a page of at most `limit` (default 100, 1..=500).
fn list(
    co: &Company,
    kind: Kind,
    req: &HttpRequest,
    only: Option<&[String]>,
) -> Result<HttpResponse, ApiError> {
    let limit = query_int(req, "limit")?.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(bad_request(
            "Validation failed: limit: must be between 1 and 500",
        ));
    }
    let since = query_time(req, "updated_since")?;
    let until = query_time(req, "updated_until")?;
    let mut sorts = vec!["id", "update_time", "add_time"];
    if kind == Kind::Activities {
        sorts.push("due_date");
    }
    let field = req.query_param("sort_by").unwrap_or("id");
    if !sorts.contains(&field) {
        return Err(bad_request(format!(
            "Validation failed: sort_by: must be one of {}",
            sorts.join(", ")
        )));
    }
    let desc = match req.query_param("sort_direction").unwrap_or("asc") {
        "asc" => false,
        "desc" => true,
        _ => {
            return Err(bad_request(
                "Validation failed: sort_direction: must be asc or desc",
            ));
        }
    };
    let mut sort = Sort {
        field: field.to_string(),
        desc,
    };
    let mut after = None;
    if let Some(c) = req.query_param("cursor") {
        let (s, place) = read_cursor(c).ok_or_else(|| bad_request("Invalid cursor"))?;
        sort = s;
        after = Some(place);
    }
    // `ids` (spec: "up to 100 entity ids"; ids missing or not visible are left out): each
    // must be an integer here, a 400 otherwise (unconfirmed on the live API), since one
    // dropped silently could leave the filter empty and the answer every record.
    let ids = req.query_list("ids");
    if ids.len() > 100 {
        return Err(bad_request("Validation failed: ids: at most 100 ids"));
    }
    let ids: HashSet<i64> = ids
        .iter()
        .map(|s| s.parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad_request("Validation failed: ids: expected integers"))?;
    let mut filters: Vec<(&str, i64)> = Vec::new();
    let names: &[&str] = match kind {
        Kind::Persons => &["owner_id", "org_id"],
        Kind::Organizations => &["owner_id"],
        Kind::Activities => &["owner_id", "person_id", "org_id", "deal_id"],
    };
    for name in names {
        if let Some(v) = query_int(req, name)? {
            filters.push((name, v));
        }
    }
    let done = match req.query_param("done") {
        None => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(_) => return Err(bad_request("Validation failed: done: expected a boolean")),
    };
    let mut rows: Vec<&Record> = co
        .store(kind)
        .records
        .values()
        .filter(|r| !r.deleted)
        .filter(|r| ids.is_empty() || ids.contains(&r.id))
        .filter(|r| since.is_none_or(|t| r.update_ms >= t))
        .filter(|r| until.is_none_or(|t| r.update_ms < t))
        .filter(|r| {
            filters
                .iter()
                .all(|(k, v)| r.data.get(*k) == Some(&json!(v)))
        })
        .filter(|r| done.is_none_or(|d| r.data.get("done") == Some(&json!(d))))
        .collect();
    rows.sort_by_key(|r| key(r, &sort.field));
    if sort.desc {
        rows.reverse();
    }
    if let Some(place) = after {
        rows.retain(|r| {
            let k = key(r, &sort.field);
            if sort.desc { k < place } else { k > place }
        });
    }
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|r| json!(cursor_for(r, &sort)))
    } else {
        None
    };
    let data: Vec<Value> = rows.iter().map(|r| render_v2(co, kind, r, only)).collect();
    Ok(ok(
        Value::Array(data),
        json!({"next_cursor": next.unwrap_or(Value::Null)}),
    ))
}
