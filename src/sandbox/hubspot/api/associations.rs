//! v4 associations between contacts and companies, and between an engagement (call, email,
//! meeting, note, task) and a contact or a company: `/crm/v4/objects/.../associations/...`
//! and `/crm/v4/associations/{from}/{to}/batch/...`, and the association writes the admin API
//! shares. Two engagements are not associated (400).

use serde_json::{Value, json};

use super::records::{API_SOURCE, is_primary_pair, primary_company, set_primary};
use super::wire::{batch_response, id_of, inputs, obj_type, parse_body};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::hubspot::errors::{ApiError, bad_request, not_found};
use crate::sandbox::hubspot::store::{
    Hub, ObjType, assoc_type_id, contact_company, is_contact_company,
};

/// The association type ids of a contact's primary company, both ways.
const PRIMARY_TYPES: (i64, i64) = (1, 2);

/// Associates a contact and a company, `from` being of type `t`. A contact without a primary
/// company takes this one as its primary; the change shows in its [`PRIMARY_COMPANY`] and,
/// like any change of a property, moves its last-modified time, so a company change made in
/// HubSpot reaches a reader of the change feed.
/// An engagement pair (`to` being of type `to_type`) is kept as it is.
pub fn associate(
    hub: &mut Hub,
    (t, to_type): (ObjType, ObjType),
    now: i64,
    source: &'static str,
    from: u64,
    to: u64,
) {
    if !is_contact_company(t, to_type) {
        hub.assoc.add_pair((t, from), (to_type, to));
        return;
    }
    hub.assoc.add(t, from, to);
    let (contact, company) = contact_company(t, from, to);
    if primary_company(hub, contact).is_none() {
        set_primary(hub, now, source, contact, Some(company));
    }
}

/// Removes an association, `from` being of type `t`. Removing a contact's primary company
/// leaves the contact without one (its other companies stay as they are).
pub fn dissociate(
    hub: &mut Hub,
    (t, to_type): (ObjType, ObjType),
    now: i64,
    source: &'static str,
    from: u64,
    to: u64,
) {
    if !is_contact_company(t, to_type) {
        hub.assoc.remove_pair((t, from), (to_type, to));
        return;
    }
    hub.assoc.remove(t, from, to);
    let (contact, company) = contact_company(t, from, to);
    if primary_company(hub, contact) == Some(company) {
        set_primary(hub, now, source, contact, None);
    }
}

fn assoc_spec(from: ObjType, to: ObjType) -> Value {
    json!({"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": assoc_type_id(from, to)})
}

/// The types of the pair `from`–`to`, `from` being of type `f`: the unlabelled one, and first
/// the primary one when the pair is a contact and its primary company.
fn assoc_types(hub: &Hub, (f, t): (ObjType, ObjType), from: u64, to: u64) -> Value {
    let mut types = vec![json!({"category": "HUBSPOT_DEFINED", "typeId": assoc_type_id(f, t)})];
    if is_contact_company(f, t) && is_primary_pair(hub, f, from, to) {
        let id = match f {
            ObjType::Contacts => PRIMARY_TYPES.0,
            _ => PRIMARY_TYPES.1,
        };
        types.insert(
            0,
            json!({"category": "HUBSPOT_DEFINED", "typeId": id, "label": "Primary"}),
        );
    }
    Value::Array(types)
}

fn pair_types(from: &str, to: &str) -> Result<(ObjType, ObjType), ApiError> {
    let (f, t) = (obj_type(from)?, obj_type(to)?);
    if assoc_type_id(f, t).is_none() {
        return Err(bad_request(&format!(
            "{} to {} associations are not supported by this account",
            f.singular(),
            t.singular()
        )));
    }
    Ok((f, t))
}

/// Associates pairs with the default type. A single PUT with a bad id answers 400 with the
/// error; a batch answers 207 with it in `errors[]`.
fn assoc_default(
    hub: &mut Hub,
    from: &str,
    to: &str,
    pairs: &[(String, String)],
    now: i64,
    single: bool,
) -> Result<HttpResponse, ApiError> {
    let (f, t) = pair_types(from, to)?;
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for (a, b) in pairs {
        let (Some(ai), Some(bi)) = (
            a.parse::<u64>()
                .ok()
                .filter(|i| hub.store(f).live(*i).is_some()),
            b.parse::<u64>()
                .ok()
                .filter(|i| hub.store(t).live(*i).is_some()),
        ) else {
            errors.push(json!({"status": "error", "category": "VALIDATION_ERROR",
                "message": format!("One or more of {} {a} or {} {b} is invalid", f.upper(), t.upper()),
                "context": {"fromObjectId": [a], "toObjectId": [b]}, "errors": [], "links": {}}));
            continue;
        };
        associate(hub, (f, t), now, API_SOURCE, ai, bi);
        results
            .push(json!({"from": {"id": a}, "to": {"id": b}, "associationSpec": assoc_spec(f, t)}));
        results
            .push(json!({"from": {"id": b}, "to": {"id": a}, "associationSpec": assoc_spec(t, f)}));
    }
    if results.is_empty() && !errors.is_empty() && single {
        return Err(ApiError {
            status: 400,
            body: {
                let mut e = errors[0].clone();
                e["correlationId"] = json!(crate::sandbox::uuid());
                e
            },
        });
    }
    Ok(batch_response(200, results, errors, now, now))
}

/// `GET /crm/v4/objects/{from}/{id}/associations/{to}`.
pub fn assoc_get(hub: &Hub, from: &str, id: &str, to: &str) -> Result<HttpResponse, ApiError> {
    let (f, t) = pair_types(from, to)?;
    let id: u64 = id.parse().map_err(|_| not_found())?;
    let results: Vec<Value> = hub
        .assoc
        .of_to(f, id, t)
        .into_iter()
        .filter(|o| hub.store(t).live(*o).is_some())
        .map(|o| json!({"toObjectId": o.to_string(), "associationTypes": assoc_types(hub, (f, t), id, o)}))
        .collect();
    Ok(HttpResponse::json(200, &json!({"results": results})))
}

/// `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`.
pub fn put_default(
    hub: &mut Hub,
    from: &str,
    id: &str,
    to: &str,
    to_id: &str,
    now: i64,
) -> Result<HttpResponse, ApiError> {
    assoc_default(
        hub,
        from,
        to,
        &[(id.to_string(), to_id.to_string())],
        now,
        true,
    )
}

/// `DELETE /crm/v4/objects/{from}/{id}/associations/{to}/{toId}`: 204 whether or not the pair
/// was associated.
pub fn delete(
    hub: &mut Hub,
    from: &str,
    id: &str,
    to: &str,
    to_id: &str,
    now: i64,
) -> Result<HttpResponse, ApiError> {
    let (f, t) = (obj_type(from)?, obj_type(to)?);
    if let (Ok(a), Ok(b)) = (id.parse(), to_id.parse()) {
        dissociate(hub, (f, t), now, API_SOURCE, a, b);
    }
    Ok(HttpResponse::empty(204))
}

/// `POST /crm/v4/associations/{from}/{to}/batch/{read|associate/default|archive}`; `Ok(None)`
/// for another operation (once the body has been read, as HubSpot checks it first).
pub fn assoc_batch(
    hub: &mut Hub,
    from: &str,
    to: &str,
    rest: &[&str],
    req: &HttpRequest,
    now: i64,
) -> Result<Option<HttpResponse>, ApiError> {
    let (f, t) = pair_types(from, to)?;
    let body = parse_body(req)?;
    let inputs = inputs(&body)?;
    let answer = match rest {
        ["read"] => batch_read(hub, f, t, &inputs, now),
        ["associate", "default"] => {
            let pairs: Vec<(String, String)> = inputs
                .iter()
                .map(|i| (id_of(&i["from"]["id"]), id_of(&i["to"]["id"])))
                .collect();
            assoc_default(hub, from, to, &pairs, now, false)?
        }
        ["archive"] => batch_archive(hub, (f, t), &inputs, now),
        _ => return Ok(None),
    };
    Ok(Some(answer))
}

/// `batch/read`: each input's live associations, or an error naming the ones with none.
fn batch_read(hub: &Hub, f: ObjType, t: ObjType, inputs: &[Value], now: i64) -> HttpResponse {
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for i in inputs {
        let key = id_of(&i["id"]);
        let to_ids: Vec<u64> = key
            .parse::<u64>()
            .map(|id| {
                hub.assoc
                    .of_to(f, id, t)
                    .into_iter()
                    .filter(|o| hub.store(t).live(*o).is_some())
                    .collect()
            })
            .unwrap_or_default();
        if to_ids.is_empty() {
            errors.push(json!({"status": "error", "category": "OBJECT_NOT_FOUND",
                "message": format!("No {} is associated with {} {key}.", t.singular(), f.singular()),
                "context": {"fromObjectId": [key]}, "errors": [], "links": {}}));
            continue;
        }
        // Not empty, so the key is an id.
        let from: u64 = key.parse().unwrap_or_default();
        let to: Vec<Value> = to_ids
            .iter()
            .map(|o| json!({"toObjectId": o.to_string(), "associationTypes": assoc_types(hub, (f, t), from, *o)}))
            .collect();
        results.push(json!({"from": {"id": key}, "to": to}));
    }
    batch_response(200, results, errors, now, now)
}

/// `batch/archive`: removes every listed pair; ids that are not numbers are skipped.
fn batch_archive(
    hub: &mut Hub,
    pair: (ObjType, ObjType),
    inputs: &[Value],
    now: i64,
) -> HttpResponse {
    for i in inputs {
        let Ok(a) = id_of(&i["from"]["id"]).parse::<u64>() else {
            continue;
        };
        for b in i["to"].as_array().into_iter().flatten() {
            if let Ok(b) = id_of(&b["id"]).parse::<u64>() {
                dissociate(hub, pair, now, API_SOURCE, a, b);
            }
        }
    }
    HttpResponse::empty(204)
}
