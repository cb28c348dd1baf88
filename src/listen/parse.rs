//! The webhook bodies of each CRM, read into queue rows: HubSpot's batched event arrays and
//! Pipedrive's v2 payloads. Pure functions; a body that is not what the CRM sends is an
//! error, an event about an object crmsync does not sync is left out.

use serde_json::Value;

use crate::model::{Millis, ObjectKind};
use crate::store::NewWebhookEvent;

/// A body that cannot be read (answered 400, nothing queued).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadBody(pub String);

/// Who made a change, as the event tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// HubSpot `changeSource` (`CRM_UI`, `INTEGRATION`, `API`, …); Pipedrive
    /// `meta.change_source` (`app`, `api`).
    pub change_source: Option<String>,
    /// HubSpot `sourceId`; Pipedrive `meta.user_id`.
    pub actor: Option<String>,
}

impl Source {
    /// Whether the change is one of crmsync's own writes: made through the API by `own` (the
    /// HubSpot source id or Pipedrive user id crmsync's writes carry, where configured).
    pub fn is_own(&self, own: Option<&str>) -> bool {
        let Some(own) = own else { return false };
        let api = self.change_source.as_deref().is_some_and(|s| {
            s.eq_ignore_ascii_case("api") || s.eq_ignore_ascii_case("integration")
        });
        api && self.actor.as_deref() == Some(own)
    }
}

/// One event read from a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub event: NewWebhookEvent,
    pub source: Source,
    /// The CRM's delivery attempt (HubSpot counts from 0, Pipedrive from 1).
    pub attempt: u32,
    /// The account the event is of, where the event says: HubSpot's `portalId` (a public
    /// app installed in several portals sends every portal's events to the same URL),
    /// Pipedrive's `meta.company_id`.
    pub account: Option<String>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A delivery attempt number, `default` when absent.
fn attempt(v: Option<&Value>, default: u64) -> u32 {
    v.and_then(Value::as_u64)
        .unwrap_or(default)
        .min(u64::from(u32::MAX)) as u32
}

fn kind_of(name: &str) -> Option<ObjectKind> {
    match name {
        "contact" | "person" => Some(ObjectKind::Contact),
        "company" | "organization" => Some(ObjectKind::Company),
        "activity" => Some(ObjectKind::Activity),
        _ => None,
    }
}

/// HubSpot's event array (at most 100 events a delivery): `subscriptionType`, `objectId`,
/// `propertyName`, `propertyValue`, `changeSource`, `sourceId`, `occurredAt` (epoch ms),
/// `eventId`, `attemptNumber`.
pub fn hubspot_events(connection: &str, body: &[u8]) -> Result<Vec<Parsed>, BadBody> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| BadBody(format!("not JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(BadBody("not an array of events".into()));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| item.get(name).and_then(text);
        let Some(subscription) = field("subscriptionType") else {
            return Err(BadBody(format!("event {i} has no subscriptionType")));
        };
        let (object, what) = subscription.split_once('.').unwrap_or((&subscription, ""));
        let Some(kind) = kind_of(object) else {
            continue;
        };
        let (Some(event_id), Some(remote_id)) = (field("eventId"), field("objectId")) else {
            return Err(BadBody(format!("event {i} has no eventId or objectId")));
        };
        let occurred_at = item
            .get("occurredAt")
            .and_then(Value::as_i64)
            .ok_or_else(|| BadBody(format!("event {i} has no occurredAt")))?;
        let action = match what {
            "creation" => "create",
            "deletion" => "delete",
            // Erased for good (GDPR): in neither the live nor the archived records.
            "privacyDeletion" => "erase",
            "merge" => "merge",
            "restore" => "restore",
            _ => "change",
        };
        let summary = match field("propertyName") {
            Some(p) => format!("{kind} {remote_id} {what} {p}"),
            None => format!("{kind} {remote_id} {what}"),
        };
        out.push(Parsed {
            event: NewWebhookEvent {
                connection: connection.to_string(),
                event_id,
                kind,
                remote_id,
                action: action.to_string(),
                occurred_at,
                summary,
            },
            source: Source {
                change_source: field("changeSource"),
                actor: field("sourceId"),
            },
            attempt: attempt(item.get("attemptNumber"), 0),
            account: field("portalId"),
        });
    }
    Ok(out)
}

/// Pipedrive's v2 payload: `meta` (`action`, `entity`, `entity_id`, `id`, `timestamp`,
/// `change_source`, `user_id`, `attempt`, …), `data`, `previous`. `None` for an entity
/// crmsync does not sync.
pub fn pipedrive_event(connection: &str, body: &[u8]) -> Result<Option<Parsed>, BadBody> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| BadBody(format!("not JSON: {e}")))?;
    let meta = value
        .get("meta")
        .filter(|m| m.is_object())
        .ok_or_else(|| BadBody("no meta object".into()))?;
    let field = |name: &str| meta.get(name).and_then(text);
    if field("version").is_some_and(|v| !v.starts_with('2')) {
        return Err(BadBody("not a version 2.0 payload".into()));
    }
    let entity = field("entity").ok_or_else(|| BadBody("no meta.entity".into()))?;
    let action = field("action").ok_or_else(|| BadBody("no meta.action".into()))?;
    let Some(kind) = kind_of(&entity) else {
        return Ok(None);
    };
    let remote_id = field("entity_id")
        .or_else(|| value.get("data").and_then(|d| d.get("id")).and_then(text))
        .or_else(|| {
            value
                .get("previous")
                .and_then(|d| d.get("id"))
                .and_then(text)
        })
        .ok_or_else(|| BadBody("no meta.entity_id".into()))?;
    let event_id = field("id").ok_or_else(|| BadBody("no meta.id".into()))?;
    let occurred_at: Millis = field("timestamp")
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| BadBody("no RFC 3339 meta.timestamp".into()))?;
    let changed: Vec<String> = match value.get("previous") {
        Some(Value::Object(p)) if action == "change" => p.keys().take(5).cloned().collect(),
        _ => Vec::new(),
    };
    let summary = if changed.is_empty() {
        format!("{entity} {remote_id} {action}")
    } else {
        format!("{entity} {remote_id} {action} {}", changed.join(","))
    };
    Ok(Some(Parsed {
        event: NewWebhookEvent {
            connection: connection.to_string(),
            event_id,
            kind,
            remote_id,
            action,
            occurred_at,
            summary,
        },
        source: Source {
            change_source: field("change_source"),
            actor: field("user_id"),
        },
        attempt: attempt(meta.get("attempt"), 1),
        account: field("company_id"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hubspot_arrays_become_one_row_per_synced_event() {
        let body = br#"[
          {"eventId":11,"subscriptionId":1,"portalId":62515,"appId":54321,"occurredAt":1700000000000,
           "subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":123,
           "propertyName":"email","propertyValue":"a@b.c","changeSource":"CRM_UI","sourceId":"userId:7"},
          {"eventId":12,"occurredAt":1700000000001,"subscriptionType":"deal.creation","objectId":9},
          {"eventId":13,"occurredAt":1700000000002,"subscriptionType":"company.deletion",
           "objectId":"44","changeSource":"INTEGRATION","sourceId":"54321","attemptNumber":2},
          {"eventId":14,"occurredAt":1700000000003,"subscriptionType":"contact.privacyDeletion",
           "objectId":77,"changeSource":"GDPR","attemptNumber":0}
        ]"#;
        let got = hubspot_events("hs", body).unwrap();
        assert_eq!(got.len(), 3);
        // Erased for good: not a deletion a read could confirm.
        assert_eq!(got[2].event.action, "erase");
        assert_eq!(got[2].event.remote_id, "77");
        assert_eq!(got[0].event.event_id, "11");
        assert_eq!(got[0].event.kind, ObjectKind::Contact);
        assert_eq!(got[0].event.remote_id, "123");
        assert_eq!(got[0].event.action, "change");
        assert_eq!(got[0].event.occurred_at, 1_700_000_000_000);
        assert_eq!(got[0].event.summary, "contact 123 propertyChange email");
        assert!(!got[0].source.is_own(Some("54321")));
        assert_eq!(got[1].event.kind, ObjectKind::Company);
        assert_eq!(got[1].event.action, "delete");
        assert_eq!(got[1].attempt, 2);
        assert!(got[1].source.is_own(Some("54321")));
        assert!(!got[1].source.is_own(None));
    }

    #[test]
    fn hubspot_bodies_that_are_not_event_arrays_are_refused() {
        assert!(hubspot_events("hs", b"{}").is_err());
        assert!(hubspot_events("hs", b"[{\"eventId\":1}]").is_err());
        assert!(hubspot_events("hs", b"not json").is_err());
        assert_eq!(hubspot_events("hs", b"[]").unwrap(), vec![]);
    }

    #[test]
    fn pipedrive_v2_payloads_carry_meta_data_and_previous() {
        let body = br#"{"meta":{"action":"change","entity":"person","entity_id":"123",
            "id":"8c5b-uuid","company_id":"1","user_id":"77","timestamp":"2026-01-02T03:04:05.678Z",
            "type":"general","version":"2.0","change_source":"api","attempt":2},
            "data":{"id":123,"name":"Ann"},"previous":{"name":"Anne"}}"#;
        let got = pipedrive_event("pd", body).unwrap().unwrap();
        assert_eq!(got.event.kind, ObjectKind::Contact);
        assert_eq!(got.event.remote_id, "123");
        assert_eq!(got.event.event_id, "8c5b-uuid");
        assert_eq!(got.event.summary, "person 123 change name");
        assert_eq!(got.attempt, 2);
        assert_eq!(
            got.event.occurred_at,
            chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
                .unwrap()
                .timestamp_millis()
        );
        assert!(got.source.is_own(Some("77")));
        assert!(!got.source.is_own(Some("78")));
        let delete =
            br#"{"meta":{"action":"delete","entity":"organization","entity_id":"5","id":"e2",
            "timestamp":"2026-01-02T03:04:05Z","change_source":"app","user_id":"77"},
            "data":null,"previous":{"id":5,"name":"Acme"}}"#;
        let got = pipedrive_event("pd", delete).unwrap().unwrap();
        assert_eq!(got.event.kind, ObjectKind::Company);
        assert_eq!(got.event.action, "delete");
        assert!(!got.source.is_own(Some("77")));
        let deal = br#"{"meta":{"action":"create","entity":"deal","entity_id":"5","id":"e3",
            "timestamp":"2026-01-02T03:04:05Z"},"data":{"id":5}}"#;
        assert_eq!(pipedrive_event("pd", deal).unwrap(), None);
        assert!(pipedrive_event("pd", br#"{"meta":{"entity":"person"}}"#).is_err());
        assert!(pipedrive_event("pd", br#"{"v":1,"event":"updated.person","meta":{"version":"1.0","entity":"person","action":"change","entity_id":"1","id":"x","timestamp":"2026-01-02T03:04:05Z"}}"#).is_err());
        assert!(pipedrive_event("pd", b"[]").is_err());
    }
}
