//! The Pipedrive sandbox's webhooks: the v1 webhooks API (`POST`/`GET /v1/webhooks`,
//! `DELETE /v1/webhooks/{id}`) and the delivery of v2 payloads (`{meta, data, previous}`)
//! with the HTTP Basic credentials given at subscription. A failed delivery is tried again
//! after 3, 30 and 150 s (`meta.attempt` 1 to 4); ten failed first attempts ban the webhook
//! for 30 minutes, its events in that time lost, and the count starts again. `time_scale`
//! (admin side) compresses these times for tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::envelope::ok;
use super::errors::{ApiError, bad_request, not_found};
use super::store::{Company, Kind};
use super::{Pipedrive, Shared};
use crate::sandbox::base::unpoisoned as unpoisoned_lock;
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::uuid;
use crate::sandbox::webhooks::{Deliveries, Outgoing, scaled};

/// One webhook, as `/v1/webhooks` shows it (the password is kept, never shown).
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub action: String,
    pub object: String,
    pub name: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub version: String,
    pub owner_id: i64,
    pub add_ms: i64,
}

/// First-attempt failures and bans, per webhook id (shared with the delivery thread).
#[derive(Debug, Default)]
pub struct Bans {
    failures: BTreeMap<i64, u32>,
    until: BTreeMap<i64, Instant>,
}

/// The company's webhooks and the events waiting for delivery.
#[derive(Debug)]
pub struct PdWebhooks {
    pub hooks: Vec<Webhook>,
    next_id: i64,
    pub outbox: Vec<(Webhook, Value)>,
    pub bans: Arc<Mutex<Bans>>,
    pub time_scale: f64,
}

impl Default for PdWebhooks {
    fn default() -> Self {
        PdWebhooks {
            hooks: Vec::new(),
            next_id: 1,
            outbox: Vec::new(),
            bans: Arc::default(),
            time_scale: 1.0,
        }
    }
}

fn rfc3339_ms(ms: i64) -> String {
    crate::sandbox::iso_ms(ms)
}

/// Notes the event of a write for every webhook it matches. `data` is the record after the
/// write (`None` for a delete), `previous` what it was (changed fields only for a change).
#[allow(clippy::too_many_arguments)]
pub fn record(
    co: &mut Company,
    kind: Kind,
    id: i64,
    action: &str,
    source: &str,
    user_id: i64,
    now: i64,
    data: Value,
    previous: Value,
) {
    let entity = kind.item();
    let matching: Vec<Webhook> = co
        .webhooks
        .hooks
        .iter()
        .filter(|h| h.version == "2.0")
        .filter(|h| h.object == "*" || h.object == entity)
        .filter(|h| h.action == "*" || h.action == action)
        .cloned()
        .collect();
    for h in matching {
        let host = co.base_url.trim_start_matches("http://").to_string();
        let event = json!({
            "meta": {
                "action": action,
                "entity": entity,
                "entity_id": id.to_string(),
                "id": uuid(),
                "company_id": "1",
                "user_id": user_id.to_string(),
                "correlation_id": uuid(),
                "is_bulk_edit": false,
                "timestamp": rfc3339_ms(now),
                "type": "general",
                "version": "2.0",
                "webhook_id": h.id.to_string(),
                "webhook_owner_id": h.owner_id.to_string(),
                "change_source": source,
                "attempt": 1,
                "host": host,
                "permitted_user_ids": [user_id.to_string()],
            },
            "data": data,
            "previous": previous,
        });
        co.webhooks.outbox.push((h, event));
    }
}

impl Deliveries for Pipedrive {
    fn take_deliveries(core: &Shared) -> Vec<Outgoing> {
        let (events, bans, scale) = {
            let mut co = core.api.lock();
            let w = &mut co.webhooks;
            (std::mem::take(&mut w.outbox), w.bans.clone(), w.time_scale)
        };
        let now = Instant::now();
        let mut out = Vec::new();
        for (hook, event) in events {
            {
                let mut b = unpoisoned_lock(&bans);
                match b.until.get(&hook.id) {
                    Some(until) if *until > now => continue, // banned: the event is lost
                    Some(_) => {
                        b.until.remove(&hook.id);
                    }
                    None => {}
                }
            }
            let auth = hook.user.as_ref().map(|u| {
                let pair = format!("{u}:{}", hook.password.clone().unwrap_or_default());
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            });
            let hook_id = hook.id;
            let watched = bans.clone();
            let given_up: Box<dyn Fn() -> bool + Send> = Box::new(move || {
                unpoisoned_lock(&watched)
                    .until
                    .get(&hook_id)
                    .is_some_and(|until| *until > Instant::now())
            });
            let bans = bans.clone();
            out.push(Outgoing {
                url: hook.url.clone(),
                build: Box::new(move |attempt, _now| {
                    let mut e = event.clone();
                    e["meta"]["attempt"] = json!(attempt);
                    let headers = auth
                        .iter()
                        .map(|a| ("Authorization".to_string(), a.clone()))
                        .collect();
                    (headers, serde_json::to_vec(&e).unwrap_or_default())
                }),
                retries: [3.0, 30.0, 150.0]
                    .into_iter()
                    .map(|s| scaled(s, scale))
                    .collect(),
                on_result: Box::new(move |attempt, status| {
                    let ok = status.is_some_and(|s| (200..300).contains(&s));
                    if attempt != 1 || ok {
                        return;
                    }
                    let mut b = unpoisoned_lock(&bans);
                    let n = b.failures.entry(hook_id).or_default();
                    *n += 1;
                    if *n >= 10 {
                        b.failures.remove(&hook_id);
                        b.until
                            .insert(hook_id, Instant::now() + scaled(1800.0, scale));
                    }
                }),
                // A banned webhook's retries are not sent either: everything it would have
                // carried is lost until the ban ends.
                given_up: Some(given_up),
            });
        }
        out
    }
}

/// Whether webhook `id` is banned now.
pub fn banned(co: &Company, id: i64) -> bool {
    unpoisoned_lock(&co.webhooks.bans)
        .until
        .get(&id)
        .is_some_and(|u| *u > Instant::now())
}

fn hook_json(h: &Webhook, co: &Company) -> Value {
    json!({
        "id": h.id,
        "company_id": 1,
        "owner_id": h.owner_id,
        "user_id": h.owner_id,
        "event_action": h.action,
        "event_object": h.object,
        "subscription_url": h.url,
        "is_active": if banned(co, h.id) { 0 } else { 1 },
        "add_time": super::values::v1_time(h.add_ms),
        "remove_time": null,
        "type": "general",
        "http_auth_user": h.user,
        "http_auth_password": h.password.as_ref().map(|_| "***"),
        "additional_data": [],
        "remove_reason": null,
        "last_delivery_time": null,
        "last_http_status": null,
        "admin_id": h.owner_id,
        "name": h.name,
        "version": h.version,
    })
}

/// Serves `/v1/webhooks[/{id}]`.
pub fn route(
    co: &mut Company,
    now: i64,
    me: i64,
    req: &HttpRequest,
    segs: &[&str],
) -> Option<HttpResponse> {
    let answer: Result<HttpResponse, ApiError> = match (req.method.as_str(), segs) {
        ("GET", []) => {
            let list: Vec<Value> = co.webhooks.hooks.iter().map(|h| hook_json(h, co)).collect();
            Ok(ok(json!(list), Value::Null))
        }
        ("POST", []) => create(co, now, me, req).map(|h| {
            let mut resp = ok(hook_json(&h, co), Value::Null);
            resp.status = 201;
            resp
        }),
        ("DELETE", [id]) => {
            let id: i64 = id.parse().unwrap_or(0);
            let before = co.webhooks.hooks.len();
            co.webhooks.hooks.retain(|h| h.id != id);
            if co.webhooks.hooks.len() == before {
                Err(not_found("Webhook"))
            } else {
                Ok(HttpResponse::json(
                    200,
                    &json!({"success": true, "status": "ok"}),
                ))
            }
        }
        _ => return None,
    };
    Some(answer.unwrap_or_else(|e| e.response()))
}

fn create(co: &mut Company, now: i64, me: i64, req: &HttpRequest) -> Result<Webhook, ApiError> {
    let b: Map<String, Value> = serde_json::from_slice(&req.body)
        .map_err(|_| bad_request("The body must be a JSON object"))?;
    let s = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
    let url = s("subscription_url")
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .ok_or_else(|| bad_request("Validation failed: subscription_url: Required"))?;
    let action = s("event_action")
        .filter(|a| ["create", "change", "delete", "*"].contains(&a.as_str()))
        .ok_or_else(|| bad_request("Validation failed: event_action: Required"))?;
    let object = s("event_object")
        .filter(|o| {
            [
                "activity",
                "deal",
                "lead",
                "note",
                "organization",
                "person",
                "pipeline",
                "product",
                "stage",
                "user",
                "*",
            ]
            .contains(&o.as_str())
        })
        .ok_or_else(|| bad_request("Validation failed: event_object: Required"))?;
    let name = s("name").ok_or_else(|| bad_request("Validation failed: name: Required"))?;
    let version = s("version").unwrap_or_else(|| "2.0".to_string());
    if version != "1.0" && version != "2.0" {
        return Err(bad_request(
            "Validation failed: version: must be 1.0 or 2.0",
        ));
    }
    if co.webhooks.hooks.len() >= 40 {
        return Err(bad_request("Webhooks limit reached (40 per user)"));
    }
    let h = Webhook {
        id: co.webhooks.next_id,
        url,
        action,
        object,
        name,
        user: s("http_auth_user"),
        password: s("http_auth_password"),
        version,
        owner_id: me,
        add_ms: now,
    };
    co.webhooks.next_id += 1;
    co.webhooks.hooks.push(h.clone());
    Ok(h)
}

/// `PUT /_sandbox/webhooks` `{time_scale}`.
pub fn set_time_scale(co: &mut Company, scale: f64) {
    co.webhooks.time_scale = scale;
}

/// Lifts every ban (an operator's reset).
pub fn lift_bans(co: &Company) {
    unpoisoned_lock(&co.webhooks.bans).until.clear();
}
