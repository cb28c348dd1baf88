//! `/crm/v3/objects/{objectType}[/{id}]`: list, read, create, update and archive one record,
//! and the GDPR delete of a contact.

use serde_json::{Value, json};

use super::associations::associate;
use super::records::{API_SOURCE, PropSel, add_history, archive, create, lookup, render, update};
use super::wire::{archived_flag, assoc_list, id_of, parse_body};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::hubspot::errors::{ApiError, bad_request, not_found};
use crate::sandbox::hubspot::store::{Hub, ObjType, assoc_type_id};

const MAX_LIST_LIMIT: usize = 100;

/// `GET /crm/v3/objects/{objectType}`, paged by id.
pub fn list(hub: &Hub, t: ObjType, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
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

/// `GET /crm/v3/objects/{objectType}/{id}`, by id or by a unique `idProperty`.
pub fn get_one(
    hub: &Hub,
    t: ObjType,
    req: &HttpRequest,
    key: &str,
) -> Result<HttpResponse, ApiError> {
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

/// `POST /crm/v3/objects/{objectType}`.
pub fn create_one(
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
pub fn apply_create_associations(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    id: u64,
    assoc: Option<&Value>,
) {
    for a in assoc.and_then(Value::as_array).into_iter().flatten() {
        let Some(other) = target_type(t, a) else {
            continue;
        };
        if let Some(to) = a["to"]["id"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .or_else(|| a["to"]["id"].as_u64())
            && hub.store(other).live(to).is_some()
        {
            associate(hub, (t, other), now, API_SOURCE, id, to);
        }
    }
}

/// The type a create's association goes to: the one its HUBSPOT_DEFINED type id names from
/// `t` (a contact's or company's other side when it names none).
fn target_type(t: ObjType, a: &Value) -> Option<ObjType> {
    let named: Vec<i64> = a["types"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ty| ty["associationTypeId"].as_i64())
        .collect();
    let by_id = ObjType::ALL
        .into_iter()
        .find(|o| assoc_type_id(t, *o).is_some_and(|id| named.contains(&id)));
    by_id.or(match t {
        ObjType::Contacts => Some(ObjType::Companies),
        ObjType::Companies => Some(ObjType::Contacts),
        _ => None,
    })
}

/// `PATCH /crm/v3/objects/{objectType}/{id}`.
pub fn patch_one(
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

/// `POST /crm/v3/objects/contacts/gdpr-delete`: removes the contact for good (not even in
/// the archived list), with a `contact.privacyDeletion` event. An unknown contact still
/// answers 204, as HubSpot does.
pub fn gdpr_delete(hub: &mut Hub, now: i64, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let t = ObjType::Contacts;
    let body = parse_body(req)?;
    let key = id_of(&body["objectId"]);
    let id_property = body.get("idProperty").and_then(Value::as_str);
    let found =
        lookup(hub, t, &key, id_property, false)?.or(lookup(hub, t, &key, id_property, true)?);
    if let Some(id) = found {
        erase_contact(hub, now, id);
    }
    Ok(HttpResponse::empty(204))
}

/// Removes contact `id` for good, live or archived, with its associations; `false` when
/// there is none.
pub fn erase_contact(hub: &mut Hub, now: i64, id: u64) -> bool {
    let t = ObjType::Contacts;
    let unique = hub.unique_props(t);
    if hub.store_mut(t).take(id, &unique).is_none() {
        return false;
    }
    for company in hub.assoc.of(t, id) {
        hub.assoc.remove(t, id, company);
    }
    hub.webhooks
        .record(t, id, "privacyDeletion", now, "GDPR", None);
    true
}

/// `DELETE /crm/v3/objects/{objectType}/{id}`: archives the record; 204 whether or not there
/// was one, as HubSpot answers.
pub fn archive_one(hub: &mut Hub, t: ObjType, now: i64, id: &str) -> HttpResponse {
    if let Ok(id) = id.parse::<u64>() {
        archive(hub, t, now, id);
    }
    HttpResponse::empty(204)
}
