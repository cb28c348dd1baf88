//! The HubSpot admin API under [`ADMIN_PREFIX`](crate::sandbox::ADMIN_PREFIX): what a test
//! or the demo does to the account from outside the API (a person editing in the HubSpot UI,
//! an operator changing the limits). No auth, no faults, not logged. The calls every sandbox
//! serves (request log, clock, faults) are in [`crate::sandbox::admin`].
//!
//! | method & path | body | answer |
//! |---|---|---|
//! | `GET /_sandbox/info` | | `{base_url, token, client_id, client_secret, hub_id}` |
//! | `POST /_sandbox/seed` | `{contacts, companies}` | `{contacts:[ids], companies:[ids]}` |
//! | `POST /_sandbox/objects/{type}` | `{properties}` | 201 record |
//! | `PATCH /_sandbox/objects/{type}/{id}` | `{properties}` | 200 record |
//! | `DELETE /_sandbox/objects/{type}/{id}` | | 204 (archives) |
//! | `POST /_sandbox/objects/{type}/{id}/restore` | | 204 (from the recycle bin) |
//! | `POST /_sandbox/objects/{type}/merge` | `{primaryObjectId, objectIdToMerge}` | 200 the primary |
//! | `PUT`/`DELETE /_sandbox/associations/{contactId}/{companyId}` | | 204 |
//! | `GET /_sandbox/dump` | | every record (archived too) and association |
//! | `POST /_sandbox/edit-before` | `{method, path_contains, nth, object_type, id, properties}`: a user's edit landing just before the nth such API call | 204 |
//! | `PUT /_sandbox/rate-limit` | `{max, window_ms, search_per_second}` | 204 |
//! | `POST /_sandbox/oauth/deny-next` | | 204 |
//! | `POST /_sandbox/oauth/revoke` | `{refresh_token}` | 204, or 404 if unknown |

use anyhow::{anyhow, bail};
use rand::Rng;
use serde_json::{Value, json};

use super::api::{self, PropSel};
use super::store::{Hub, ObjType};
use super::{EditBefore, Shared};
use crate::sandbox::admin::{admin_error, body_json};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::iso_ms;
use crate::sandbox::names::{FIRST, LAST, SUFFIX, WORD};

pub fn seed(
    hub: &mut Hub,
    now: i64,
    contacts: usize,
    companies: usize,
) -> (Vec<String>, Vec<String>) {
    // Seeded records look as if created one second apart up to `now`, as records made over
    // time are: a real account rarely has many records with one timestamp.
    let total = (companies + contacts) as i64;
    let mut made = 0i64;
    let mut stamp = || {
        made += 1;
        now - (total - made) * 1000
    };
    let mut company_ids = Vec::new();
    for _ in 0..companies {
        let n = hub.next_id;
        let w = WORD[hub.data_rng.random_range(0..WORD.len())];
        let s = SUFFIX[hub.data_rng.random_range(0..SUFFIX.len())];
        let vals = vec![
            ("name".to_string(), Some(format!("{w} {s} {n}"))),
            (
                "domain".to_string(),
                Some(format!(
                    "{}-{}-{n}.example.com",
                    w.to_lowercase(),
                    s.to_lowercase()
                )),
            ),
            (
                "city".to_string(),
                Some(["Berlin", "Lisbon", "Austin", "Osaka"][n as usize % 4].to_string()),
            ),
        ];
        if let Ok(id) = api::create_validated(hub, ObjType::Companies, stamp(), "IMPORT", vals) {
            company_ids.push(id);
        }
    }
    let mut contact_ids = Vec::new();
    for i in 0..contacts {
        let n = hub.next_id;
        let f = FIRST[hub.data_rng.random_range(0..FIRST.len())];
        let l = LAST[hub.data_rng.random_range(0..LAST.len())];
        let phone = format!("+1555{:07}", hub.data_rng.random_range(0..10_000_000u32));
        let mut vals = vec![
            ("firstname".to_string(), Some(f.to_string())),
            ("lastname".to_string(), Some(l.to_string())),
            (
                "email".to_string(),
                Some(format!(
                    "{}.{}.{n}@example.com",
                    f.to_lowercase(),
                    l.to_lowercase()
                )),
            ),
            ("phone".to_string(), Some(phone)),
            (
                "lifecyclestage".to_string(),
                Some(["lead", "customer", "subscriber"][i % 3].to_string()),
            ),
        ];
        if !company_ids.is_empty() {
            // The primary company, set as an import sets it: the association comes with it.
            let company = company_ids[i % company_ids.len()];
            vals.push((api::PRIMARY_COMPANY.to_string(), Some(company.to_string())));
        }
        if let Ok(id) = api::create_validated(hub, ObjType::Contacts, stamp(), "IMPORT", vals) {
            contact_ids.push(id);
        }
    }
    (
        contact_ids.iter().map(u64::to_string).collect(),
        company_ids.iter().map(u64::to_string).collect(),
    )
}

fn obj(object_type: &str) -> anyhow::Result<ObjType> {
    ObjType::parse(object_type).ok_or_else(|| {
        anyhow!("unknown object type `{object_type}`; use `contacts`, `companies`, `calls`, `emails`, `meetings`, `notes` or `tasks`")
    })
}

pub fn user_write(
    shared: &Shared,
    object_type: &str,
    id: Option<&str>,
    props: &Value,
) -> anyhow::Result<Value> {
    let t = obj(object_type)?;
    let now = shared.clock.now_ms();
    let mut hub = shared.api.lock();
    let id = match id {
        None => api::create(&mut hub, t, now, "CRM_UI", props),
        Some(id) => {
            let id: u64 = id
                .parse()
                .map_err(|_| anyhow!("record id `{id}` is not a number"))?;
            api::update(&mut hub, t, now, "CRM_UI", id, props)
        }
    }
    .map_err(|e| anyhow!("the sandbox refused the write: {}", e.message()))?;
    let names = props
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    Ok(api::render(
        &hub,
        t,
        &hub.store(t).records[&id],
        &PropSel::Named(names),
        &[],
    ))
}

pub fn user_archive(shared: &Shared, object_type: &str, id: &str) -> anyhow::Result<()> {
    let t = obj(object_type)?;
    let now = shared.clock.now_ms();
    let id: u64 = id
        .parse()
        .map_err(|_| anyhow!("record id `{id}` is not a number"))?;
    if !api::archive(&mut shared.api.lock(), t, now, id) {
        bail!("no live {} with id `{id}` to archive", t.singular());
    }
    Ok(())
}

/// Erases a contact for good, as a HubSpot user does for a GDPR request (see
/// [`api::erase_contact`]).
pub fn user_gdpr_delete(shared: &Shared, id: &str) -> anyhow::Result<()> {
    let now = shared.clock.now_ms();
    let id: u64 = id
        .parse()
        .map_err(|_| anyhow!("contact id `{id}` is not a number"))?;
    if !api::erase_contact(&mut shared.api.lock(), now, id) {
        bail!("no contact with id `{id}` to erase");
    }
    Ok(())
}

/// Restores an archived record as a HubSpot user does from the recycle bin (see
/// [`api::restore`]).
pub fn user_restore(shared: &Shared, object_type: &str, id: &str) -> anyhow::Result<()> {
    let t = obj(object_type)?;
    let now = shared.clock.now_ms();
    let id: u64 = id
        .parse()
        .map_err(|_| anyhow!("record id `{id}` is not a number"))?;
    api::restore(&mut shared.api.lock(), t, now, id).map_err(anyhow::Error::msg)
}

/// Merges record `merged` into `primary` as a HubSpot user would (see
/// [`api::merge_records`]); returns the primary as the API shows it.
pub fn user_merge(
    shared: &Shared,
    object_type: &str,
    primary: &str,
    merged: &str,
) -> anyhow::Result<Value> {
    let t = obj(object_type)?;
    let now = shared.clock.now_ms();
    let id = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| anyhow!("record id `{s}` is not a number"))
    };
    let (p, o) = (id(primary)?, id(merged)?);
    let mut hub = shared.api.lock();
    api::merge_records(&mut hub, t, now, "CRM_UI", p, o)
        .map_err(|e| anyhow!("the sandbox refused the merge: {}", e.message()))?;
    Ok(api::render(
        &hub,
        t,
        &hub.store(t).records[&p],
        &PropSel::Default,
        &[],
    ))
}

const CONTACT_COMPANY: (ObjType, ObjType) = (ObjType::Contacts, ObjType::Companies);

/// Associates (or, with `on` false, dissociates) an engagement and a contact or company, as
/// a HubSpot user does on the record's timeline.
pub fn user_link_engagement(
    shared: &Shared,
    (engagement, id): (&str, &str),
    (to_type, to): (&str, &str),
    on: bool,
) -> anyhow::Result<()> {
    let now = shared.clock.now_ms();
    let mut hub = shared.api.lock();
    let (e, t) = (obj(engagement)?, obj(to_type)?);
    let timeline = e.is_engagement() || e == ObjType::Deals;
    if !timeline || !matches!(t, ObjType::Contacts | ObjType::Companies) {
        bail!(
            "`{engagement}` must be an engagement or deal type and `{to_type}` a contact or company type"
        );
    }
    let live = |t: ObjType, id: &str| {
        id.parse::<u64>()
            .ok()
            .filter(|i| hub.store(t).live(*i).is_some())
            .ok_or_else(|| anyhow!("no live {} `{id}`", t.singular()))
    };
    let (a, b) = (live(e, id)?, live(t, to)?);
    if on {
        api::associate(&mut hub, (e, t), now, "CRM_UI", a, b);
    } else {
        api::dissociate(&mut hub, (e, t), now, "CRM_UI", a, b);
    }
    Ok(())
}

pub fn user_associate(shared: &Shared, contact: &str, company: &str) -> anyhow::Result<()> {
    let now = shared.clock.now_ms();
    let mut hub = shared.api.lock();
    let c: u64 = contact
        .parse()
        .ok()
        .filter(|i| hub.store(ObjType::Contacts).live(*i).is_some())
        .ok_or_else(|| anyhow!("no live contact `{contact}`"))?;
    let co: u64 = company
        .parse()
        .ok()
        .filter(|i| hub.store(ObjType::Companies).live(*i).is_some())
        .ok_or_else(|| anyhow!("no live company `{company}`"))?;
    api::associate(&mut hub, CONTACT_COMPANY, now, "CRM_UI", c, co);
    Ok(())
}

/// Removes a contact's association with a company, as a HubSpot user would.
pub fn user_dissociate(shared: &Shared, contact: &str, company: &str) -> anyhow::Result<()> {
    let now = shared.clock.now_ms();
    let mut hub = shared.api.lock();
    let ids = (contact.parse::<u64>(), company.parse::<u64>());
    let (Ok(c), Ok(co)) = ids else {
        bail!("`{contact}` and `{company}` must be record ids");
    };
    if !hub.assoc.of(ObjType::Contacts, c).contains(&co) {
        bail!("contact `{contact}` is not associated with company `{company}`");
    }
    api::dissociate(&mut hub, CONTACT_COMPANY, now, "CRM_UI", c, co);
    Ok(())
}

pub fn dump(hub: &Hub) -> Value {
    let mut out = json!({});
    for t in ObjType::ALL {
        let mut recs: Vec<_> = hub.store(t).records.values().collect();
        recs.sort_by_key(|r| r.id);
        out[t.plural()] = Value::Array(
            recs.iter()
                .map(|r| {
                    json!({"id": r.id.to_string(), "properties": r.props,
                           "createdAt": iso_ms(r.created_ms), "updatedAt": iso_ms(r.updated_ms),
                           "archived": r.archived_ms.is_some(),
                           "archivedAt": r.archived_ms.map(iso_ms)})
                })
                .collect(),
        );
    }
    out["associations"] = Value::Array(
        hub.assoc
            .pairs()
            .into_iter()
            .map(|(c, co)| json!({"contactId": c.to_string(), "companyId": co.to_string()}))
            .collect(),
    );
    out
}

/// Serves a HubSpot admin call (`segs` after the admin prefix); `None` when none matches.
pub fn handle(shared: &Shared, req: &HttpRequest, segs: &[&str]) -> Option<HttpResponse> {
    match handle_inner(shared, req, segs) {
        Ok(answer) => answer,
        Err(refused) => Some(refused),
    }
}

fn handle_inner(
    shared: &Shared,
    req: &HttpRequest,
    segs: &[&str],
) -> Result<Option<HttpResponse>, HttpResponse> {
    let ok = |v: Value| HttpResponse::json(200, &v);
    let refused = |e: anyhow::Error| admin_error(400, &format!("{e:#}"));
    Ok(Some(match (req.method.as_str(), segs) {
        ("GET", ["info"]) => ok(
            json!({"base_url": shared.api.lock().base_url, "token": shared.api.token,
            "client_id": shared.api.opts.client_id, "client_secret": shared.api.opts.client_secret,
            "hub_id": shared.api.opts.hub_id()}),
        ),
        ("PUT", ["webhooks"]) => {
            super::webhooks::set(shared, &body_json(req)?);
            HttpResponse::empty(204)
        }
        ("POST", ["seed"]) => {
            let b = body_json(req)?;
            let n = |k: &str| b.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
            let now = shared.clock.now_ms();
            let (c, co) = seed(&mut shared.api.lock(), now, n("contacts"), n("companies"));
            ok(json!({"contacts": c, "companies": co}))
        }
        ("POST", ["objects", t]) => {
            let b = body_json(req)?;
            let v = user_write(shared, t, None, b.get("properties").unwrap_or(&json!({})))
                .map_err(refused)?;
            HttpResponse::json(201, &v)
        }
        ("PATCH", ["objects", t, id]) => {
            let b = body_json(req)?;
            ok(user_write(
                shared,
                t,
                Some(id),
                b.get("properties").unwrap_or(&json!({})),
            )
            .map_err(refused)?)
        }
        ("POST", ["objects", t, "merge"]) => {
            let b = body_json(req)?;
            let key = |k: &str| match &b[k] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            ok(
                user_merge(shared, t, &key("primaryObjectId"), &key("objectIdToMerge"))
                    .map_err(refused)?,
            )
        }
        ("DELETE", ["objects", t, id]) => {
            user_archive(shared, t, id).map_err(|e| admin_error(404, &format!("{e:#}")))?;
            HttpResponse::empty(204)
        }
        ("POST", ["objects", t, id, "restore"]) => {
            user_restore(shared, t, id).map_err(refused)?;
            HttpResponse::empty(204)
        }
        ("PUT", ["associations", c, co]) => {
            user_associate(shared, c, co).map_err(|e| admin_error(404, &format!("{e:#}")))?;
            HttpResponse::empty(204)
        }
        ("DELETE", ["associations", c, co]) => {
            user_dissociate(shared, c, co).map_err(|e| admin_error(404, &format!("{e:#}")))?;
            HttpResponse::empty(204)
        }
        ("GET", ["dump"]) => ok(dump(&shared.api.lock())),
        ("POST", ["edit-before"]) => {
            let e: EditBefore = serde_json::from_value(body_json(req)?)
                .map_err(|e| admin_error(400, &format!("invalid queued edit: {e}")))?;
            obj(&e.object_type).map_err(|e| admin_error(400, &e.to_string()))?;
            shared.api.lock().edits_before.push(e);
            HttpResponse::empty(204)
        }
        ("PUT", ["rate-limit"]) => {
            let b = body_json(req)?;
            let mut hub = shared.api.lock();
            let rate = &mut hub.rate;
            let max = b.get("max").and_then(Value::as_u64);
            let window_ms = b.get("window_ms").and_then(Value::as_u64);
            let per_second = b.get("search_per_second").and_then(Value::as_u64);
            rate.set(
                max.map_or(rate.burst.max(), |m| m as u32),
                window_ms.unwrap_or(rate.burst.window().as_millis() as u64),
                per_second.map_or(rate.search.max(), |s| s as u32),
            );
            HttpResponse::empty(204)
        }
        ("POST", ["oauth", "deny-next"]) => {
            shared.api.lock().oauth.deny_next = true;
            HttpResponse::empty(204)
        }
        ("POST", ["oauth", "revoke"]) => {
            let b = body_json(req)?;
            let tok = b
                .get("refresh_token")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if shared.api.lock().oauth.revoke(tok) {
                HttpResponse::empty(204)
            } else {
                admin_error(404, "unknown refresh token")
            }
        }
        _ => return Ok(None),
    }))
}
