//! The Pipedrive admin API under [`ADMIN_PREFIX`](crate::sandbox::ADMIN_PREFIX): what a test
//! or the demo does to the company from outside the API (a user working in Pipedrive, an
//! operator changing the limits). No auth, no faults, not logged, no rate limit (a real
//! user's UI actions count toward the burst limit; the sandbox keeps them apart so a test
//! controls the API budget alone). The request log, clock and faults are in
//! [`crate::sandbox::admin`].
//!
//! | method & path | body | answer |
//! |---|---|---|
//! | `GET /_sandbox/info` | | `{base_url, api_token, client_id, client_secret, company_id, user_id}` |
//! | `POST /_sandbox/seed` | `{persons, organizations}` | `{persons:[ids], organizations:[ids]}` |
//! | `POST /_sandbox/records/{kind}` | a v2 create body | 200 the record (v2 shape) |
//! | `PATCH /_sandbox/records/{kind}/{id}` | a v2 update body | 200 the record |
//! | `DELETE /_sandbox/records/{kind}/{id}` | | 204 |
//! | `POST /_sandbox/merge/{kind}` | `{into, from}`: `from` merged into `into` (`merge.rs`) | 204 |
//! | `POST /_sandbox/users` | `{name, email}` | 200 the user (v1 shape) |
//! | `POST /_sandbox/fields/{kind}` | a v1 field body `{name, field_type, options}` | 200 the field (v1 shape) |
//! | `GET /_sandbox/dump` | | every record (deleted too) in its v2 shape, by kind |
//! | `POST /_sandbox/edit-before` | [`EditBefore`]: a user's edit landing just before the nth such API call | 204 |
//! | `PUT /_sandbox/rate-limit` | `{burst, window_ms, daily_budget}` | 204 |
//!
//! `{kind}` is `persons`, `organizations` or `activities`. A user's writes are made as user
//! [`APP_USER`] with change source `app`.

use anyhow::anyhow;
use rand::Rng;
use serde_json::{Map, Value, json};

use super::records::{self, Writer};
use super::store::{Company, Field, Kind, User};
use super::values::render_v2;
use super::{EditBefore, Shared, v1};
use crate::sandbox::admin::{admin_error, body_json};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::names::{FIRST, LAST, SUFFIX, WORD};

/// The user whose edits in Pipedrive the admin API plays (not the token's user, so a client
/// can tell its own writes from a person's).
pub const APP_USER: i64 = 2;

const APP: Writer = Writer {
    source: "app",
    user_id: APP_USER,
};

pub fn handle(shared: &Shared, req: &HttpRequest, segs: &[&str]) -> Option<HttpResponse> {
    let answer = match (req.method.as_str(), segs) {
        ("GET", ["info"]) => Ok(HttpResponse::json(
            200,
            &json!({"base_url": shared.api.lock().base_url.clone(), "api_token": shared.api.token,
                    "client_id": shared.api.opts.client_id,
                    "client_secret": shared.api.opts.client_secret,
                    "company_id": 1, "user_id": 1}),
        )),
        ("POST", ["seed"]) => body_json(req).map(|b| {
            let n = |k: &str| b[k].as_u64().unwrap_or(0) as usize;
            let now = shared.clock.now_ms();
            let (p, o) = seed(
                &mut shared.api.lock(),
                now,
                n("persons"),
                n("organizations"),
            );
            HttpResponse::json(200, &json!({"persons": p, "organizations": o}))
        }),
        ("POST", ["records", kind]) => body_json(req).map(|b| {
            answer(user_write(shared, kind, None, &b).map(|v| HttpResponse::json(200, &v)))
        }),
        ("PATCH", ["records", kind, id]) => body_json(req).map(|b| {
            answer(user_write(shared, kind, Some(id), &b).map(|v| HttpResponse::json(200, &v)))
        }),
        ("DELETE", ["records", kind, id]) => Ok(answer(
            user_delete(shared, kind, id).map(|_| HttpResponse::empty(204)),
        )),
        ("POST", ["merge", kind]) => body_json(req).map(|b| {
            let id = |k: &str| b[k].as_i64().unwrap_or_default();
            answer(
                user_merge(shared, kind, id("into"), id("from")).map(|_| HttpResponse::empty(204)),
            )
        }),
        ("POST", ["users"]) => body_json(req).map(|b| {
            let now = shared.clock.now_ms();
            let mut co = shared.api.lock();
            let added = add_user(
                &mut co,
                now,
                b["name"].as_str().unwrap_or_default(),
                b["email"].as_str().unwrap_or_default(),
            );
            answer(added.map(|id| {
                let user = co.user(id).expect("the user just added");
                HttpResponse::json(200, &v1::user_json(user, 1))
            }))
        }),
        ("POST", ["fields", kind]) => body_json(req).map(|b| {
            answer(
                user_add_field(shared, kind, &b)
                    .map(|f| HttpResponse::json(200, &v1::field_json(&f))),
            )
        }),
        ("GET", ["dump"]) => Ok(HttpResponse::json(200, &dump(&shared.api.lock()))),
        ("POST", ["edit-before"]) => body_json(req).and_then(|b| {
            let edit: EditBefore = serde_json::from_value(b)
                .map_err(|e| admin_error(400, &format!("invalid edit: {e}")))?;
            shared.api.lock().edits_before.push(edit);
            Ok(HttpResponse::empty(204))
        }),
        ("PUT", ["rate-limit"]) => body_json(req).map(|b| {
            let mut co = shared.api.lock();
            let burst = b["burst"].as_u64().unwrap_or(co.rate.burst.max() as u64) as u32;
            let window = b["window_ms"]
                .as_u64()
                .unwrap_or(co.rate.burst.window().as_millis() as u64);
            let daily = b["daily_budget"].as_u64().unwrap_or(co.rate.daily_budget);
            co.rate.set(burst, window, daily);
            HttpResponse::empty(204)
        }),
        _ => return None,
    };
    Some(answer.unwrap_or_else(|refused| refused))
}

fn answer(r: anyhow::Result<HttpResponse>) -> HttpResponse {
    r.unwrap_or_else(|e| admin_error(400, &format!("{e:#}")))
}

fn kind_of(kind: &str) -> anyhow::Result<Kind> {
    Kind::from_v2(kind).ok_or_else(|| {
        anyhow!("unknown record kind `{kind}`; use `persons`, `organizations` or `activities`")
    })
}

fn id_of(id: &str) -> anyhow::Result<i64> {
    id.parse()
        .map_err(|_| anyhow!("record id `{id}` is not a number"))
}

/// Seeds `persons` persons and `organizations` organizations, as an import would: seeded
/// names, emails and phones, each person in one of the organizations, records one second
/// apart up to `now`.
pub fn seed(
    co: &mut Company,
    now: i64,
    persons: usize,
    organizations: usize,
) -> (Vec<i64>, Vec<i64>) {
    let total = (persons + organizations) as i64;
    let mut made = 0i64;
    let mut stamp = || {
        made += 1;
        now - (total - made) * 1000
    };
    let mut org_ids = Vec::new();
    for _ in 0..organizations {
        let n = co.next_id;
        let w = WORD[co.data_rng.random_range(0..WORD.len())];
        let s = SUFFIX[co.data_rng.random_range(0..SUFFIX.len())];
        let city = ["Berlin", "Lisbon", "Austin", "Osaka"][n as usize % 4];
        let body = json!({"name": format!("{w} {s} {n}"),
                          "address": {"value": format!("{n} Main St, {city}"), "locality": city}});
        if let Ok(id) = records::create(co, Kind::Organizations, stamp(), APP, obj(&body)) {
            org_ids.push(id);
        }
    }
    let mut person_ids = Vec::new();
    for i in 0..persons {
        let n = co.next_id;
        let f = FIRST[co.data_rng.random_range(0..FIRST.len())];
        let l = LAST[co.data_rng.random_range(0..LAST.len())];
        let phone = format!("+1555{:07}", co.data_rng.random_range(0..10_000_000u32));
        let email = format!("{}.{}.{n}@example.com", f.to_lowercase(), l.to_lowercase());
        let mut body = json!({"name": format!("{f} {l}"),
                              "emails": [{"value": email, "primary": true, "label": "work"}],
                              "phones": [{"value": phone, "primary": true, "label": "mobile"}]});
        if !org_ids.is_empty() {
            body["org_id"] = json!(org_ids[i % org_ids.len()]);
        }
        if let Ok(id) = records::create(co, Kind::Persons, stamp(), APP, obj(&body)) {
            person_ids.push(id);
        }
    }
    (person_ids, org_ids)
}

fn obj(v: &Value) -> &Map<String, Value> {
    v.as_object().expect("a JSON object literal")
}

/// Creates (`id` None) or updates a record as a Pipedrive user would; returns the record in
/// its v2 shape.
pub fn user_write(
    shared: &Shared,
    kind: &str,
    id: Option<&str>,
    body: &Value,
) -> anyhow::Result<Value> {
    let kind = kind_of(kind)?;
    let body = body
        .as_object()
        .ok_or_else(|| anyhow!("the body must be a JSON object"))?;
    let now = shared.clock.now_ms();
    let mut co = shared.api.lock();
    let id = match id {
        None => records::create(&mut co, kind, now, APP, body),
        Some(id) => {
            let id = id_of(id)?;
            records::update(&mut co, kind, now, APP, id, body).map(|_| id)
        }
    }
    .map_err(|e| anyhow!("the sandbox refused the write: {}", e.error))?;
    Ok(render_v2(&co, kind, &co.store(kind).records[&id], None))
}

/// Deletes a record as a Pipedrive user would.
pub fn user_delete(shared: &Shared, kind: &str, id: &str) -> anyhow::Result<()> {
    let kind = kind_of(kind)?;
    let id = id_of(id)?;
    let now = shared.clock.now_ms();
    records::delete(&mut shared.api.lock(), kind, now, APP, id)
        .map_err(|e| anyhow!("the sandbox refused the delete: {}", e.error))
}

/// Merges `from` into `into` as a Pipedrive user would.
pub fn user_merge(shared: &Shared, kind: &str, into: i64, from: i64) -> anyhow::Result<()> {
    let kind = kind_of(kind)?;
    let now = shared.clock.now_ms();
    super::merge::merge(&mut shared.api.lock(), kind, now, APP, into, from)
        .map_err(|e| anyhow!("the sandbox refused the merge: {}", e.error))
}

/// Adds a custom field as an admin would in Pipedrive's settings.
pub fn user_add_field(shared: &Shared, kind: &str, body: &Value) -> anyhow::Result<Field> {
    let kind = kind_of(kind)?;
    let now = shared.clock.now_ms();
    v1::add_field(&mut shared.api.lock(), kind, now, APP_USER, body)
        .map_err(|e| anyhow!("the sandbox refused the field: {}", e.error))
}

/// Deletes custom field `key` of `kind` as an admin would in Pipedrive's settings (the v1
/// spec's `DELETE /v1/personFields/{id}`, which the API does not serve here): the field and
/// its values are gone; the records' `update_time` stays (unconfirmed: the spec is silent).
pub fn user_delete_field(co: &mut Company, kind: &str, key: &str) -> anyhow::Result<()> {
    let kind = kind_of(kind)?;
    let fields = co.fields.entry(kind).or_default();
    let before = fields.len();
    fields.retain(|f| !(f.custom && f.key == key));
    if fields.len() == before {
        return Err(anyhow!("no custom field `{key}` of {}", kind.plural()));
    }
    for r in co.store_mut(kind).records.values_mut() {
        r.custom.remove(key);
    }
    Ok(())
}

/// Adds a user (not an admin) named `name` with `email`; returns its id. The name defaults
/// to the email's local part.
pub fn add_user(co: &mut Company, now: i64, name: &str, email: &str) -> anyhow::Result<i64> {
    let email = email.trim();
    let valid = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if !valid {
        return Err(anyhow!("`{email}` is not an email address"));
    }
    if co.users.iter().any(|u| u.email.eq_ignore_ascii_case(email)) {
        return Err(anyhow!(
            "the company has a user with email `{email}` already"
        ));
    }
    let id = co.users.iter().map(|u| u.id).max().unwrap_or(0) + 1;
    let name = match name.trim() {
        "" => email.split('@').next().unwrap_or(email).to_string(),
        n => n.to_string(),
    };
    co.users.push(User {
        id,
        name,
        email: email.to_string(),
        admin: false,
        created_ms: now - now.rem_euclid(1000),
    });
    Ok(id)
}

/// Every record, deleted ones too, by kind.
pub fn dump(co: &Company) -> Value {
    let mut out = Map::new();
    for kind in Kind::ALL {
        let records: Vec<Value> = co
            .store(kind)
            .records
            .values()
            .map(|r| render_v2(co, kind, r, None))
            .collect();
        out.insert(kind.plural().to_string(), Value::Array(records));
    }
    Value::Object(out)
}
