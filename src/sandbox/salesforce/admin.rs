//! The Salesforce admin API under [`ADMIN_PREFIX`](crate::sandbox::ADMIN_PREFIX): what a
//! test or the demo does to the org from outside the API (a user working in Salesforce, an
//! administrator changing the setup). No session, no faults, not logged, not counted
//! against the allocation. The request log, clock and faults are in
//! [`crate::sandbox::admin`].
//!
//! | method & path | body | answer |
//! |---|---|---|
//! | `GET /_sandbox/info` | | `{instance_url, login_url, client_id, client_secret, org_id, user_id}` |
//! | `POST /_sandbox/token` | | a new session: `{access_token, refresh_token, instance_url}` |
//! | `POST /_sandbox/expire-sessions` | | 204; every session ends, as after the timeout |
//! | `POST /_sandbox/seed` | `{contacts, accounts, tasks, opportunities}` | `{contacts:[ids], accounts:[ids], tasks:[ids], opportunities:[ids]}` |
//! | `POST /_sandbox/records/{Object}` | a REST create body | 200 the record |
//! | `PATCH /_sandbox/records/{Object}/{id}` | a REST update body | 200 the record |
//! | `DELETE /_sandbox/records/{Object}/{id}` | | 204; to the Recycle Bin |
//! | `POST /_sandbox/records/{Object}/{id}/undelete` | | 200 the record |
//! | `POST /_sandbox/records/{Object}/{id}/touch` | | 200 the record; a system change moves `SystemModstamp` alone |
//! | `POST /_sandbox/fields` | a Tooling API `CustomField` body | 200 `{id}` |
//! | `PATCH /_sandbox/fields/{Object}/{Field}` | `{unique?, externalId?}` | 204; an admin's change of a custom field in Setup |
//! | `POST /_sandbox/merge/{Object}` | `{master, merged: [ids]}` | 200 the master; a user's merge (Contact, Account) |
//! | `GET /_sandbox/dump` | | every record (deleted too, with `IsDeleted`), by object |
//! | `POST /_sandbox/edit-before` | [`EditBefore`] | 204 |
//! | `PUT /_sandbox/limits` | `{daily_api_requests?, used?}` | `{max, used}` |
//! | `PUT /_sandbox/page-cap` | `{max: n\|null}` | 204; query pages hold at most `n` |
//! | `PUT /_sandbox/picklist` | `{object, field, value, label}` | 204; the value's label, as an admin renames it (the value stays) |
//!
//! A user's writes go through the same checks as the API's, are owned by the org's second
//! user, and move `LastModifiedDate` and `SystemModstamp`.

use anyhow::anyhow;
use rand::Rng;
use serde_json::{Map, Value, json};

use super::catalogue::Obj;
use super::store::Org;
use super::{EditBefore, Shared, records, tooling};
use crate::sandbox::admin::{admin_error, body_json};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::names::{FIRST, LAST, SUFFIX, WORD};

/// The ids a seed made.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Seeded {
    pub contacts: Vec<String>,
    pub accounts: Vec<String>,
    pub tasks: Vec<String>,
    pub opportunities: Vec<String>,
}

pub fn handle(shared: &Shared, req: &HttpRequest, segs: &[&str]) -> Option<HttpResponse> {
    let ok = |v: Value| HttpResponse::json(200, &v);
    let answer = match (req.method.as_str(), segs) {
        ("GET", ["info"]) => {
            let org = shared.api.lock();
            Ok(ok(
                json!({"instance_url": org.base_url, "login_url": org.base_url,
                         "client_id": shared.api.opts.client_id,
                         "client_secret": shared.api.opts.client_secret,
                         "org_id": org.org_id, "user_id": org.user_id}),
            ))
        }
        ("POST", ["token"]) => {
            let now = shared.clock.now_ms();
            let mut org = shared.api.lock();
            let (access, refresh) = org.oauth.mint(now);
            Ok(ok(json!({"access_token": access, "refresh_token": refresh,
                         "instance_url": org.base_url})))
        }
        ("POST", ["expire-sessions"]) => {
            shared.api.lock().oauth.expire_sessions();
            Ok(HttpResponse::empty(204))
        }
        ("POST", ["seed"]) => body_json(req).map(|b| {
            let n = |k: &str| b[k].as_u64().unwrap_or(0) as usize;
            let now = shared.clock.now_ms();
            let mut org = shared.api.lock();
            let mut seeded = seed(&mut org, now, n("contacts"), n("accounts"), n("tasks"));
            seeded.opportunities = super::opportunity::seed(&mut org, now, n("opportunities"));
            ok(serde_json::to_value(seeded).unwrap_or_default())
        }),
        ("POST", ["records", obj]) => {
            body_json(req).map(|b| answer(user_write(shared, obj, None, &b)))
        }
        ("PATCH", ["records", obj, id]) => {
            body_json(req).map(|b| answer(user_write(shared, obj, Some(id), &b)))
        }
        ("DELETE", ["records", obj, id]) => Ok(match user_delete(shared, obj, id) {
            Ok(()) => HttpResponse::empty(204),
            Err(e) => admin_error(400, &format!("{e:#}")),
        }),
        ("POST", ["records", _, id, "undelete"]) => Ok(answer(undelete(shared, id))),
        ("POST", ["records", _, id, "touch"]) => Ok(answer(touch(shared, id))),
        ("POST", ["fields"]) => {
            body_json(req).map(|b| match tooling::add_field(&mut shared.api.lock(), &b) {
                Ok(id) => ok(json!({"id": id})),
                Err(e) => admin_error(400, &e.message),
            })
        }
        ("PATCH", ["fields", obj, field]) => body_json(req).map(|b| {
            match tooling::update_field(&mut shared.api.lock(), obj, field, &b) {
                Ok(()) => HttpResponse::empty(204),
                Err(e) => admin_error(400, &e.message),
            }
        }),
        ("POST", ["merge", obj]) => body_json(req).map(|b| {
            let merged: Vec<String> = b["merged"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            answer(user_merge(
                shared,
                obj,
                b["master"].as_str().unwrap_or_default(),
                &merged,
            ))
        }),
        ("GET", ["dump"]) => Ok(ok(dump(&shared.api.lock()))),
        ("POST", ["edit-before"]) => body_json(req).and_then(|b| {
            let edit: EditBefore = serde_json::from_value(b)
                .map_err(|e| admin_error(400, &format!("invalid edit: {e}")))?;
            shared.api.lock().edits_before.push(edit);
            Ok(HttpResponse::empty(204))
        }),
        ("PUT", ["limits"]) => body_json(req).map(|b| {
            let now = shared.clock.now_ms();
            let mut org = shared.api.lock();
            if let Some(max) = b["daily_api_requests"].as_u64() {
                org.allocation.max = max;
            }
            if let Some(used) = b["used"].as_u64() {
                org.allocation.calls = std::iter::repeat_n(now, used as usize).collect();
            }
            let used = org.allocation.used(now);
            ok(json!({"max": org.allocation.max, "used": used}))
        }),
        ("PUT", ["picklist"]) => body_json(req).map(|b| {
            let text = |k: &str| b[k].as_str().unwrap_or_default();
            match relabel(
                shared,
                text("object"),
                text("field"),
                text("value"),
                text("label"),
            ) {
                Ok(()) => HttpResponse::empty(204),
                Err(e) => admin_error(400, &format!("{e:#}")),
            }
        }),
        ("PUT", ["page-cap"]) => body_json(req).map(|b| {
            shared.api.lock().page_cap = b["max"].as_u64().map(|n| n as usize);
            HttpResponse::empty(204)
        }),
        _ => return None,
    };
    Some(answer.unwrap_or_else(|refused| refused))
}

fn answer(r: anyhow::Result<Value>) -> HttpResponse {
    match r {
        Ok(v) => HttpResponse::json(200, &v),
        Err(e) => admin_error(400, &format!("{e:#}")),
    }
}

fn obj_of(name: &str) -> anyhow::Result<Obj> {
    Obj::parse(name).ok_or_else(|| {
        anyhow!(
            "unknown object `{name}`; use Contact, Account, Task, Opportunity or OpportunityContactRole"
        )
    })
}

fn latest(org: &Org, id: &str) -> Value {
    let r = org.find(id).expect("the record just written");
    let mut v = org.render(r, "62.0", None);
    if let Some(o) = v.as_object_mut() {
        o.remove("attributes");
    }
    v
}

/// Creates (`id` None) or edits a record as a Salesforce user would; the record after.
pub fn user_write(
    shared: &Shared,
    obj: &str,
    id: Option<&str>,
    body: &Value,
) -> anyhow::Result<Value> {
    let obj = obj_of(obj)?;
    let body = body
        .as_object()
        .ok_or_else(|| anyhow!("the body must be a JSON object"))?;
    let now = shared.clock.now_ms();
    let mut org = shared.api.lock();
    let owner = org.app_user_id.clone();
    let id = match id {
        None => records::create(&mut org, obj, now, &owner, body),
        Some(id) => records::update(&mut org, obj, now, id, body),
    }
    .map_err(|e| anyhow!("the sandbox refused the write: {} {}", e.code, e.message))?;
    Ok(latest(&org, &id))
}

/// Gives a picklist value a label of its own, as an admin renaming it in Setup does.
pub fn relabel(
    shared: &Shared,
    obj: &str,
    field: &str,
    value: &str,
    label: &str,
) -> anyhow::Result<()> {
    let obj = obj_of(obj)?;
    if label.trim().is_empty() {
        return Err(anyhow!("a picklist value's label cannot be empty"));
    }
    super::opportunity::relabel(&mut shared.api.lock(), obj, field, value, label)
        .map_err(|e| anyhow!("the sandbox cannot relabel it: {e}"))
}

/// Deletes a record as a Salesforce user would.
pub fn user_delete(shared: &Shared, obj: &str, id: &str) -> anyhow::Result<()> {
    let obj = obj_of(obj)?;
    let now = shared.clock.now_ms();
    records::delete(&mut shared.api.lock(), obj, now, id)
        .map(|_| ())
        .map_err(|e| anyhow!("the sandbox refused the delete: {} {}", e.code, e.message))
}

/// Merges records `merged` into `master` as a Salesforce user does in the merge wizard
/// (see [`records::merge`]); the master after.
pub fn user_merge(
    shared: &Shared,
    obj: &str,
    master: &str,
    merged: &[String],
) -> anyhow::Result<Value> {
    let obj = obj_of(obj)?;
    let now = shared.clock.now_ms();
    let mut org = shared.api.lock();
    let master = super::ids::normalize(master).unwrap_or_else(|| master.to_string());
    records::merge(&mut org, obj, now, &master, merged)
        .map_err(|e| anyhow!("the sandbox refused the merge: {} {}", e.code, e.message))?;
    Ok(latest(&org, &master))
}

/// Brings a record back from the Recycle Bin.
pub fn undelete(shared: &Shared, id: &str) -> anyhow::Result<Value> {
    let now = shared.clock.now_ms();
    let mut org = shared.api.lock();
    let id = records::undelete(&mut org, now, id)
        .map_err(|e| anyhow!("the sandbox cannot undelete `{id}`: {}", e.message))?;
    Ok(latest(&org, &id))
}

/// A system change to a live record: `SystemModstamp` moves, `LastModifiedDate` does not.
pub fn touch(shared: &Shared, id: &str) -> anyhow::Result<Value> {
    let now = shared.clock.now_ms();
    let mut org = shared.api.lock();
    let obj = Obj::of_id(id).ok_or_else(|| anyhow!("`{id}` is no record id"))?;
    let mut r = records::live(&org, obj, id).map_err(|e| anyhow!("{}", e.message))?;
    r.modstamp_ms = now;
    let id = r.id.clone();
    records::restore(&mut org, obj, &id, Some(r));
    Ok(latest(&org, &id))
}

fn obj_body(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

const TITLES: [&str; 4] = ["Engineer", "Buyer", "CFO", "Designer"];
const STATUSES: [&str; 3] = ["Not Started", "In Progress", "Completed"];
const SUBTYPES: [&str; 3] = ["Call", "Email", "Task"];

/// Seeds accounts, contacts (each with one of the accounts, when there are any) and tasks
/// (each on one of the contacts and its account), as an import by a user: records one
/// second apart, the last at `now`.
pub fn seed(org: &mut Org, now: i64, contacts: usize, accounts: usize, tasks: usize) -> Seeded {
    let total = (contacts + accounts + tasks) as i64;
    let mut made = 0i64;
    let mut stamp = || {
        made += 1;
        now - (total - made) * 1000
    };
    let owner = org.app_user_id.clone();
    let industries = [
        "Technology",
        "Retail",
        "Finance",
        "Healthcare",
        "Manufacturing",
    ];
    let mut out = Seeded::default();
    for i in 0..accounts {
        let w = WORD[org.data_rng.random_range(0..WORD.len())];
        let s = SUFFIX[org.data_rng.random_range(0..SUFFIX.len())];
        let body = json!({"Name": format!("{w} {s} {}", i + 1),
                          "Website": format!("https://{}{}.example.com", w.to_lowercase(), i + 1),
                          "Phone": format!("+1555{:07}", org.data_rng.random_range(0..10_000_000u32)),
                          "Industry": industries[i % industries.len()]});
        if let Ok(id) = records::create(org, Obj::Account, stamp(), &owner, &obj_body(body)) {
            out.accounts.push(id);
        }
    }
    for i in 0..contacts {
        let f = FIRST[org.data_rng.random_range(0..FIRST.len())];
        let l = LAST[org.data_rng.random_range(0..LAST.len())];
        let mut body = json!({"FirstName": f, "LastName": l,
                              "Email": format!("{}.{}.{}@example.com", f.to_lowercase(), l.to_lowercase(), i + 1),
                              "Phone": format!("+1555{:07}", org.data_rng.random_range(0..10_000_000u32)),
                              "Title": TITLES[i % TITLES.len()]});
        if !out.accounts.is_empty() {
            body["AccountId"] = json!(out.accounts[i % out.accounts.len()]);
        }
        if let Ok(id) = records::create(org, Obj::Contact, stamp(), &owner, &obj_body(body)) {
            out.contacts.push(id);
        }
    }
    for i in 0..tasks {
        let mut body = json!({"Subject": format!("Follow up {}", i + 1),
                              "Status": STATUSES[i % 3], "TaskSubtype": SUBTYPES[i % 3],
                              "ActivityDate": "2024-05-01"});
        if !out.contacts.is_empty() {
            body["WhoId"] = json!(out.contacts[i % out.contacts.len()]);
        }
        if !out.accounts.is_empty() {
            body["WhatId"] = json!(out.accounts[i % out.accounts.len()]);
        }
        if let Ok(id) = records::create(org, Obj::Task, stamp(), &owner, &obj_body(body)) {
            out.tasks.push(id);
        }
    }
    out
}

/// Every record, deleted ones too, by object.
pub fn dump(org: &Org) -> Value {
    let mut out = Map::new();
    for obj in Obj::ALL {
        let rows: Vec<Value> = org
            .store(obj)
            .values()
            .map(|r| org.render(r, "62.0", None))
            .collect();
        out.insert(obj.name().to_string(), Value::Array(rows));
    }
    Value::Object(out)
}
