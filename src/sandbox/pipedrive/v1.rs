//! The API v1 calls the sandbox serves: fields (list, one, create a custom field, update one
//! in `field_update.rs`), users,
//! activity types, `/recents` and the record changelogs.
//!
//! Paging follows each operation's schema in the v1 spec: field lists put `start`, `limit`
//! and `more_items_in_collection` directly in `additional_data` (the DIGEST says
//! `additional_data.pagination`; the spec wins), `/recents` under
//! `additional_data.pagination`, changelogs a `next_cursor`.

use serde_json::{Value, json};
use sha2::Digest as _;

use super::envelope::{self, next_cursor, offset_page};
use super::errors::{ApiError, bad_request, not_found};
use super::store::{Company, Field, FieldOption, Kind, User};
use super::values::{render_v1, v1_time};
use crate::sandbox::http::{HttpRequest, HttpResponse};

/// The field types `POST /v1/{kind}Fields` accepts (the spec's create enum).
const CREATABLE: [&str; 17] = [
    "address",
    "date",
    "daterange",
    "double",
    "enum",
    "monetary",
    "org",
    "people",
    "phone",
    "set",
    "text",
    "time",
    "timerange",
    "user",
    "varchar",
    "varchar_auto",
    "visible_to",
];

fn ok(data: Value) -> HttpResponse {
    HttpResponse::json(200, &json!({"success": true, "data": data}))
}

/// Serves `/v1/...` (or `/api/v1/...`); `segs` are the segments after `v1`.
pub fn route(
    co: &mut Company,
    now: i64,
    me: i64,
    req: &HttpRequest,
    segs: &[&str],
) -> Option<HttpResponse> {
    let answer = match (req.method.as_str(), segs) {
        ("GET", [f]) if f.ends_with("Fields") => {
            let kind = Kind::parse(f)?;
            list_fields(co, kind, req)
        }
        ("GET", [f, id]) if f.ends_with("Fields") => {
            let kind = Kind::parse(f)?;
            co.fields(kind)
                .iter()
                .find(|x| id.parse() == Ok(x.id))
                .map(|x| ok(field_json(x)))
                .ok_or_else(|| not_found("Field"))
        }
        ("POST", [f]) if f.ends_with("Fields") => {
            let kind = Kind::parse(f)?;
            serde_json::from_slice::<Value>(&req.body)
                .map_err(|_| bad_request("The body must be a JSON object"))
                .and_then(|b| add_field(co, kind, now, me, &b))
                .map(|x| ok(field_json(&x)))
        }
        ("PUT", [f, id]) if f.ends_with("Fields") => {
            let kind = Kind::parse(f)?;
            serde_json::from_slice::<Value>(&req.body)
                .map_err(|_| bad_request("The body must be a JSON object"))
                .and_then(|b| super::field_update::update_field(co, kind, id, now, &b))
                .map(|x| ok(field_json(&x)))
        }
        ("GET", ["users"]) => Ok(ok(Value::Array(
            co.users.iter().map(|u| user_json(u, me)).collect(),
        ))),
        ("GET", ["users", "me"]) => {
            let mut u = user_json(co.user(me)?, me);
            u["company_id"] = json!(1);
            u["company_name"] = json!("Sandbox Company");
            u["company_domain"] = json!("sandbox");
            u["company_country"] = json!("DE");
            u["company_industry"] = json!("software");
            u["language"] = json!({"language_code": "en", "country_code": "US"});
            Ok(ok(u))
        }
        ("GET", ["users", id]) => id
            .parse::<i64>()
            .ok()
            .and_then(|id| co.user(id))
            .map(|u| ok(user_json(u, me)))
            .ok_or_else(|| not_found("User")),
        ("GET", ["activityTypes"]) => Ok(ok(activity_types(co))),
        ("GET", ["recents"]) => recents(co, req),
        ("PUT", [k @ ("persons" | "organizations"), id, "merge"]) => {
            return Some(super::merge::route(co, now, me, req, Kind::parse(k)?, id));
        }
        ("GET", [k @ ("persons" | "organizations"), id, "changelog"]) => {
            changelog(co, Kind::parse(k)?, id, req)
        }
        _ => return None,
    };
    Some(answer.unwrap_or_else(|e| e.response()))
}

/// `start`/`limit` of a v1 list: `limit` 1..=500, default 100.
fn start_limit(req: &HttpRequest) -> Result<(usize, usize), ApiError> {
    let num = |name: &str, default: usize| -> Result<usize, ApiError> {
        req.query_param(name)
            .map_or(Ok(default), |s| s.parse::<usize>())
            .map_err(|_| bad_request(format!("{name} must be a non-negative integer")))
    };
    let (start, limit) = (num("start", 0)?, num("limit", 100)?);
    if !(1..=500).contains(&limit) {
        return Err(bad_request("limit must be between 1 and 500"));
    }
    Ok((start, limit))
}

fn list_fields(co: &Company, kind: Kind, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let (start, limit) = start_limit(req)?;
    let all = co.fields(kind);
    let page: Vec<Value> = all.iter().skip(start).take(limit).map(field_json).collect();
    let more = start + limit < all.len();
    Ok(envelope::ok(
        Value::Array(page),
        json!({"start": start, "limit": limit, "more_items_in_collection": more}),
    ))
}

/// A field as v1 shows it. `options` only on fields that have options. Built-in fields carry
/// types of the spec's full `field_type` list (`int`, `boolean`, `deal`), which its `GetField`
/// schema also intersects with the creatable types: an erratum (`spec_check::ERRATA`).
pub fn field_json(f: &Field) -> Value {
    let mut v = json!({
        "id": f.id, "key": f.key, "name": f.name, "order_nr": f.id,
        "field_type": f.field_type, "add_time": v1_time(f.add_ms),
        "update_time": v1_time(f.update_ms), "last_updated_by_user_id": null,
        "created_by_user_id": if f.custom { json!(1) } else { Value::Null },
        "active_flag": true, "edit_flag": f.custom, "index_visible_flag": true,
        "details_visible_flag": true, "add_visible_flag": true, "important_flag": false,
        "bulk_edit_allowed": f.key != "id", "searchable_flag": false,
        "filtering_allowed": true, "sortable_flag": true, "mandatory_flag": f.mandatory,
    });
    if let Some(options) = &f.options {
        v["options"] = Value::Array(
            options
                .iter()
                .map(|o| {
                    let mut j = json!({"id": o.id, "label": o.label});
                    if let Some(c) = &o.color {
                        j["color"] = json!(c);
                    }
                    j
                })
                .collect(),
        );
    }
    v
}

/// A custom field's key: 40 hex characters, as Pipedrive's hashed keys are (derived from
/// the kind, the field id and its name, so a seeded sandbox repeats them).
fn field_key(kind: Kind, id: i64, name: &str) -> String {
    let digest = sha2::Sha256::digest(format!("{}:{id}:{name}", kind.plural()).as_bytes());
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..40]
        .to_string()
}

/// `POST /v1/{kind}Fields`: `{name*, field_type*, options: [{label}] (enum and set)}`.
pub fn add_field(
    co: &mut Company,
    kind: Kind,
    now: i64,
    _me: i64,
    b: &Value,
) -> Result<Field, ApiError> {
    let name = b["name"]
        .as_str()
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.chars().count() <= 255)
        .ok_or_else(|| bad_request("Field name is required (1 to 255 characters)"))?;
    let field_type = b["field_type"]
        .as_str()
        .filter(|t| CREATABLE.contains(t))
        .ok_or_else(|| {
            bad_request("Field type is required and must be one of the creatable types")
        })?;
    let mut options = None;
    if matches!(field_type, "enum" | "set") {
        let labels: Vec<&str> = b["options"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["label"].as_str().or(o.as_str()))
            .collect();
        if labels.is_empty() {
            return Err(bad_request("Options are required for enum and set fields"));
        }
        let mut opts = Vec::new();
        for label in labels {
            opts.push(FieldOption {
                id: co.next_field_id,
                label: label.to_string(),
                color: None,
            });
            co.next_field_id += 1;
        }
        options = Some(opts);
    }
    let id = co.next_field_id;
    co.next_field_id += 1;
    let now = now - now.rem_euclid(1000);
    let field = Field {
        id,
        key: field_key(kind, id, name),
        name: name.to_string(),
        field_type: field_type.to_string(),
        options,
        custom: true,
        mandatory: false,
        add_ms: now,
        update_ms: now,
    };
    co.fields.entry(kind).or_default().push(field.clone());
    Ok(field)
}

pub fn user_json(u: &User, me: i64) -> Value {
    json!({
        "id": u.id, "name": u.name, "default_currency": "USD", "locale": "en_US", "lang": 1,
        "email": u.email, "phone": null, "activated": true,
        "last_login": v1_time(u.created_ms), "created": v1_time(u.created_ms),
        "modified": v1_time(u.created_ms), "has_created_company": u.id == 1,
        "access": [{"app": "sales", "admin": u.admin,
                    "permission_set_id": format!("00000000-0000-4000-8000-{:012}", u.id)}],
        "active_flag": true, "timezone_name": "UTC", "timezone_offset": "+00:00",
        "role_id": 1, "icon_url": null, "is_you": u.id == me, "is_deleted": false,
    })
}

/// Activity types; the colour of the built-in ones is the sandbox's choice (the spec gives
/// `color` as a string and no default).
fn activity_types(co: &Company) -> Value {
    Value::Array(
        co.activity_types
            .iter()
            .enumerate()
            .map(|(n, t)| {
                json!({"id": t.id, "name": t.name, "icon_key": t.icon_key, "color": "4a5cbf",
                       "order_nr": n + 1, "key_string": t.key_string, "active_flag": true,
                       "is_custom_flag": t.custom, "add_time": v1_time(t.add_ms),
                       "update_time": v1_time(t.add_ms)})
            })
            .collect(),
    )
}

/// `GET /v1/recents?since_timestamp=YYYY-MM-DD HH:MM:SS&items=person,organization,...`:
/// every record of the asked kinds changed at or after the time, oldest change first, in its
/// v1 shape; a deleted record shows with `active_flag: false` (the DIGEST marks this
/// unconfirmed; it is how v1 reads show deleted records). Items other than persons,
/// organizations and activities have no records here.
fn recents(co: &Company, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let since_s = req
        .query_param("since_timestamp")
        .ok_or_else(|| bad_request("since_timestamp is required"))?;
    let since = chrono::NaiveDateTime::parse_from_str(since_s, "%Y-%m-%d %H:%M:%S")
        .map_err(|_| bad_request("since_timestamp must be YYYY-MM-DD HH:MM:SS"))?
        .and_utc()
        .timestamp_millis();
    let items = req.query_list("items");
    let (start, limit) = start_limit(req)?;
    let mut rows: Vec<(i64, Kind, i64)> = Vec::new();
    for kind in Kind::ALL {
        if !items.is_empty() && !items.iter().any(|i| i == kind.item()) {
            continue;
        }
        rows.extend(
            co.store(kind)
                .records
                .values()
                .filter(|r| r.update_ms >= since)
                .map(|r| (r.update_ms, kind, r.id)),
        );
    }
    rows.sort();
    let more = start + limit < rows.len();
    let page: Vec<&(i64, Kind, i64)> = rows.iter().skip(start).take(limit).collect();
    let last = page.last().map(|(t, _, _)| v1_time(*t));
    let data: Vec<Value> = page
        .iter()
        .map(|(_, kind, id)| {
            let r = &co.store(*kind).records[id];
            let mut data = render_v1(co, *kind, r);
            // A person merged away names the one it went into (`merge.rs`).
            if let (Kind::Persons, Some(into)) = (kind, r.merged_into) {
                data["merge_what_id"] = json!(into);
            }
            json!({"item": kind.item(), "id": id, "data": data})
        })
        .collect();
    let mut pagination = json!({"start": start, "limit": limit, "more_items_in_collection": more});
    if more {
        pagination["next_start"] = json!(start + limit);
    }
    Ok(envelope::ok(
        Value::Array(data),
        json!({"since_timestamp": since_s, "last_timestamp_on_page": last.unwrap_or_else(|| since_s.to_string()),
               "pagination": pagination}),
    ))
}

/// `GET /v1/{persons|organizations}/{id}/changelog`: the record's field changes, newest
/// first, paged by an opaque cursor (limit default 100, at most 500). The last page has
/// `next_cursor: null`, which the spec types as a non-nullable string (an erratum). Creation
/// and deletion are not field changes and are not listed (unconfirmed; the spec is silent).
fn changelog(
    co: &Company,
    kind: Kind,
    id: &str,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| bad_request("id must be an integer"))?;
    if !co.store(kind).records.contains_key(&id) {
        return Err(not_found(kind.title()));
    }
    let (start, limit) = offset_page(req)?;
    let all: Vec<&super::store::Change> = co
        .store(kind)
        .changes
        .get(&id)
        .into_iter()
        .flatten()
        .rev()
        .collect();
    let data: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|c| {
            json!({"field_key": c.field_key, "old_value": c.old_value, "new_value": c.new_value,
                   "actor_user_id": c.actor_user_id, "time": v1_time(c.time_ms),
                   "change_source": c.source, "change_source_user_agent": null,
                   "is_bulk_update_flag": false})
        })
        .collect();
    let next = next_cursor(start, limit, all.len());
    Ok(envelope::ok(
        Value::Array(data),
        json!({"next_cursor": next}),
    ))
}
