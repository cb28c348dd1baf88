//! The HubSpot sandbox's webhooks, as an app's: a target URL and subscriptions set on the
//! admin side (a developer does it in the app's settings), events made by every write while a
//! target is set, POSTed in arrays of at most 100 with the v3 signature (HMAC-SHA256 of
//! `POST` + the target URL + the body + the timestamp, keyed with the app's client secret,
//! base64) and `X-HubSpot-Request-Timestamp` in epoch ms, and retried on HubSpot's schedule:
//! up to 10 times over about a day, the waits doubling from one minute (`time_scale`
//! compresses it for tests).
//!
//! Events: `{eventId, subscriptionId, portalId, appId, occurredAt, subscriptionType,
//! attemptNumber, objectId, changeSource, sourceId, propertyName, propertyValue}`; a write
//! through the API has `changeSource: "INTEGRATION"` and the app's id as `sourceId`, a user's
//! edit `CRM_UI` and `userId:<id>`. A `propertyChange` subscription names its property (one
//! set on the admin side without one, a sandbox shorthand, takes every property); a paused
//! one delivers nothing.
//!
//! The app's settings are read as HubSpot's webhooks v3 API serves them, with the app's
//! developer API key in `hapikey` (not the private-app token): `GET /webhooks/v3/{appId}/settings`
//! → `{targetUrl, throttling: {maxConcurrentRequests, period}, createdAt, updatedAt}` (404 when
//! no target URL is set), `GET /webhooks/v3/{appId}/subscriptions` → `{results: [{id,
//! eventType, propertyName?, active, createdAt, updatedAt}]}`. A wrong key is a 401, another
//! app's id a 404 (both statuses unconfirmed on the live API).

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::errors::error;
use super::store::ObjType;
use super::{HubSpot, Shared};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::webhooks::{Deliveries, Outgoing, scaled};

/// The id of the app whose token the sandbox accepts.
pub const APP_ID: u64 = 3_141_592;
/// The app's developer API key (`hapikey`), for its webhook settings.
pub const DEVELOPER_KEY: &str = "sandbox-developer-key";
/// The user a `CRM_UI` edit is made by.
const UI_USER: &str = "userId:7001";

/// One of the app's event subscriptions.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: u64,
    /// `contact.propertyChange`, `company.creation`, …
    pub event_type: String,
    /// The property a `propertyChange` subscription is for; `None`: every property.
    pub property: Option<String>,
    pub active: bool,
}

/// The app's webhook settings and the events not yet handed to the delivery thread.
#[derive(Debug, Default)]
pub struct HubWebhooks {
    pub target: Option<String>,
    pub subscriptions: Vec<Subscription>,
    /// When the settings were set (sandbox clock, ms).
    pub set_at: i64,
    pub time_scale: f64,
    pub outbox: Vec<Value>,
    next_event_id: u64,
}

impl HubWebhooks {
    /// Notes an event of a write, if an app is subscribed to it.
    pub fn record(
        &mut self,
        t: ObjType,
        id: u64,
        what: &str,
        now: i64,
        source: &str,
        property: Option<(&str, &str)>,
    ) {
        let object = t.singular();
        let kind = format!("{object}.{what}");
        let changed = property.map(|(name, _)| name);
        let Some(subscription) = self.subscriptions.iter().find(|s| {
            s.active
                && s.event_type == kind
                && s.property.as_deref().is_none_or(|p| Some(p) == changed)
        }) else {
            return;
        };
        if self.target.is_none() {
            return;
        }
        let subscription_id = subscription.id;
        self.next_event_id += 1;
        let source_id = if source == "INTEGRATION" {
            APP_ID.to_string()
        } else {
            UI_USER.to_string()
        };
        let mut event = json!({
            "eventId": 100_000 + self.next_event_id,
            "subscriptionId": subscription_id,
            "appId": APP_ID,
            "occurredAt": now,
            "subscriptionType": kind,
            "attemptNumber": 0,
            "objectId": id,
            "changeSource": source,
            "sourceId": source_id,
        });
        if let Some((name, value)) = property {
            event["propertyName"] = json!(name);
            event["propertyValue"] = json!(value);
        }
        self.outbox.push(event);
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let inner = Sha256::new()
        .chain_update(k.map(|b| b ^ 0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(k.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

impl Deliveries for HubSpot {
    fn take_deliveries(core: &Shared) -> Vec<Outgoing> {
        let (target, events, scale, portal) = {
            let mut hub = core.api.lock();
            let Some(target) = hub.webhooks.target.clone() else {
                hub.webhooks.outbox.clear();
                return Vec::new();
            };
            let events = std::mem::take(&mut hub.webhooks.outbox);
            (
                target,
                events,
                hub.webhooks.time_scale,
                core.api.opts.hub_id(),
            )
        };
        let secret = core.api.opts.client_secret.clone();
        events
            .chunks(100)
            .map(|chunk| {
                let mut chunk: Vec<Value> = chunk.to_vec();
                for e in &mut chunk {
                    e["portalId"] = json!(portal);
                }
                let (url, secret) = (target.clone(), secret.clone());
                Outgoing {
                    url: target.clone(),
                    build: Box::new(move |attempt, now| {
                        let mut events = chunk.clone();
                        for e in &mut events {
                            e["attemptNumber"] = json!(attempt - 1);
                        }
                        let body = serde_json::to_vec(&events).unwrap_or_default();
                        let ts = now.to_string();
                        let mut source = b"POST".to_vec();
                        source.extend_from_slice(url.as_bytes());
                        source.extend_from_slice(&body);
                        source.extend_from_slice(ts.as_bytes());
                        let sig = base64::engine::general_purpose::STANDARD
                            .encode(hmac_sha256(secret.as_bytes(), &source));
                        let headers = vec![
                            ("X-HubSpot-Signature-v3".to_string(), sig),
                            ("X-HubSpot-Request-Timestamp".to_string(), ts),
                            ("X-HubSpot-Signature-Version".to_string(), "v3".to_string()),
                        ];
                        (headers, body)
                    }),
                    retries: (0..10)
                        .map(|n| scaled(60.0 * f64::from(1u32 << n), scale))
                        .collect(),
                    on_result: Box::new(|_, _| {}),
                    given_up: None,
                }
            })
            .collect()
    }
}

/// `PUT /_sandbox/webhooks` `{targetUrl, subscriptions, time_scale}`: the app's settings
/// (`targetUrl: null` turns delivery off). A subscription is an event type
/// (`"contact.creation"`; a `propertyChange` one so written takes every property) or
/// `{eventType, propertyName?, active?}`.
pub fn set(shared: &Shared, body: &Value) {
    let now = shared.clock.now_ms();
    let mut hub = shared.api.lock();
    let w = &mut hub.webhooks;
    w.target = body["targetUrl"].as_str().map(str::to_string);
    w.subscriptions = body["subscriptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| match s {
            Value::String(t) => Some((t.clone(), None, true)),
            Value::Object(_) => Some((
                s["eventType"].as_str()?.to_string(),
                s["propertyName"].as_str().map(str::to_string),
                s["active"].as_bool().unwrap_or(true),
            )),
            _ => None,
        })
        .zip(500..)
        .map(|((event_type, property, active), id)| Subscription {
            id,
            event_type,
            property,
            active,
        })
        .collect();
    w.set_at = now;
    w.time_scale = body["time_scale"].as_f64().unwrap_or(1.0);
    w.outbox.clear();
}

/// `GET /webhooks/v3/{appId}/settings` and `/subscriptions`, with the developer key in
/// `hapikey`; `None` for another path.
pub fn api(shared: &Shared, req: &HttpRequest, segs: &[&str]) -> Option<HttpResponse> {
    let ["webhooks", "v3", app, what] = segs else {
        return None;
    };
    if req.method != "GET" || !matches!(*what, "settings" | "subscriptions") {
        return None;
    }
    if req.query_param("hapikey") != Some(DEVELOPER_KEY) {
        return Some(error(
            401,
            "INVALID_AUTHENTICATION",
            "The API key provided is invalid. View or manage your API key here: https://app.hubspot.com/l/api-key/",
        ));
    }
    if app.parse::<u64>().ok() != Some(APP_ID) {
        return Some(error(
            404,
            "OBJECT_NOT_FOUND",
            &format!("No app with id {app} for this developer key"),
        ));
    }
    let hub = shared.api.lock();
    let w = &hub.webhooks;
    let at = crate::sandbox::iso_ms(w.set_at);
    Some(match *what {
        "settings" => match &w.target {
            None => error(
                404,
                "OBJECT_NOT_FOUND",
                &format!("No webhook settings for app {APP_ID}"),
            ),
            Some(target) => HttpResponse::json(
                200,
                &json!({
                    "targetUrl": target,
                    "throttling": {"maxConcurrentRequests": 10, "period": "SECONDLY"},
                    "createdAt": at,
                    "updatedAt": at,
                }),
            ),
        },
        _ => {
            let results: Vec<Value> = w
                .subscriptions
                .iter()
                .map(|s| {
                    let mut v = json!({
                        "id": s.id.to_string(),
                        "eventType": s.event_type,
                        "active": s.active,
                        "createdAt": at,
                        "updatedAt": at,
                    });
                    if let Some(p) = &s.property {
                        v["propertyName"] = json!(p);
                    }
                    v
                })
                .collect();
            HttpResponse::json(200, &json!({ "results": results }))
        }
    })
}
