//! `/crm/v3/objects/{objectType}/batch/{read|create|update|upsert|archive}`.
//!
//! Every input is validated before any is written: a bad value, a duplicate unique value
//! (`create`) or two inputs naming one record (`update`, `upsert`) refuses the whole batch.
//! Ids that match no record are listed in `errors[]` of a 207 answer (`read`, `update`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::objects::apply_create_associations;
use super::records::{
    API_SOURCE, PropSel, Written, add_history, archive, check_stage, check_timestamp,
    conflict_on_create, create_validated, lookup, render, unique_clash, update_validated, validate,
};
use super::wire::{archived_flag, batch_response, id_of, inputs, parse_body, strings};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::hubspot::errors::{ApiError, bad_request};
use crate::sandbox::hubspot::store::{Hub, ObjType};

/// HubSpot refuses a whole batch in which two inputs resolve to the same record (the same
/// id, an id merged into another input's, or the same `idProperty` value), naming the ids.
/// `resolved` pairs each input's id as sent with the record (or, for an upsert that creates,
/// the normalised value) it resolves to.
fn refuse_repeats(resolved: &[(String, String)]) -> Result<(), ApiError> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let mut repeated: Vec<String> = Vec::new();
    for (sent, to) in resolved {
        if let Some(first) = seen.insert(to.as_str(), sent.as_str()) {
            for id in [first, sent.as_str()] {
                if !repeated.iter().any(|r| r == id) {
                    repeated.push(id.to_string());
                }
            }
        }
    }
    if repeated.is_empty() {
        return Ok(());
    }
    let mut e = bad_request(&format!(
        "Duplicate IDs found in batch input: [{}]. IDs must be unique",
        repeated.join(", ")
    ));
    e.body["context"] = json!({ "ids": repeated });
    Err(e)
}

/// A batch answer: 200, or 207 with one error listing the `missing` ids that `verb` found no
/// record for.
fn with_missing(
    t: ObjType,
    verb: &str,
    results: Vec<Value>,
    missing: Vec<String>,
    now: i64,
) -> HttpResponse {
    let mut errors = Vec::new();
    if !missing.is_empty() {
        errors.push(json!({"status": "error", "category": "OBJECT_NOT_FOUND",
            "message": format!("Could not {verb} some {} objects, they may be deleted or not exist. Check that ids are valid.", t.upper()),
            "context": {"ids": missing}, "errors": [], "links": {}}));
    }
    batch_response(200, results, errors, now, now)
}

/// Serves `batch/{op}`; `Ok(None)` for an unknown operation (once the body has been read, as
/// HubSpot checks it first).
pub fn handle(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    req: &HttpRequest,
    op: &str,
) -> Result<Option<HttpResponse>, ApiError> {
    let body = parse_body(req)?;
    let inputs = inputs(&body)?;
    let answer = match op {
        "read" => read(hub, t, now, req, &body, &inputs)?,
        "create" => create(hub, t, now, &inputs)?,
        "update" => update(hub, t, now, &inputs)?,
        "upsert" => upsert(hub, t, now, &inputs)?,
        "archive" => {
            for i in &inputs {
                if let Ok(id) = id_of(&i["id"]).parse::<u64>() {
                    archive(hub, t, now, id);
                }
            }
            HttpResponse::empty(204)
        }
        _ => return Ok(None),
    };
    Ok(Some(answer))
}

/// The validated values of every input's `properties`, in input order.
fn validate_all(hub: &Hub, t: ObjType, inputs: &[Value]) -> Result<Vec<Written>, ApiError> {
    inputs
        .iter()
        .map(|i| validate(hub, t, i.get("properties").unwrap_or(&json!({}))))
        .collect()
}

/// A record as a batch write answers it: the properties the input wrote.
fn written(hub: &Hub, t: ObjType, id: u64, names: Vec<String>) -> Value {
    render(
        hub,
        t,
        &hub.store(t).records[&id],
        &PropSel::Named(names),
        &[],
    )
}

fn names_of(vals: &Written) -> Vec<String> {
    vals.iter().map(|(k, _)| k.clone()).collect()
}

fn read(
    hub: &Hub,
    t: ObjType,
    now: i64,
    req: &HttpRequest,
    body: &Value,
    inputs: &[Value],
) -> Result<HttpResponse, ApiError> {
    let archived = archived_flag(req);
    let id_prop = body.get("idProperty").and_then(Value::as_str);
    let with_history = strings(body, "propertiesWithHistory");
    let sel = PropSel::from_list(strings(body, "properties"));
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for i in inputs {
        let key = id_of(&i["id"]);
        match lookup(hub, t, &key, id_prop, archived)? {
            Some(id) => {
                let rec = &hub.store(t).records[&id];
                let mut v = render(hub, t, rec, &sel, &[]);
                add_history(hub, t, &mut v, rec, &with_history);
                results.push(v);
            }
            None => missing.push(key),
        }
    }
    Ok(with_missing(t, "get", results, missing, now))
}

fn create(hub: &mut Hub, t: ObjType, now: i64, inputs: &[Value]) -> Result<HttpResponse, ApiError> {
    let all = validate_all(hub, t, inputs)?;
    refuse_unique_repeats(hub, t, &all)?;
    for vals in &all {
        check_timestamp(t, vals)?;
        check_stage(hub, t, None, vals)?;
    }
    let mut results = Vec::new();
    let mut first_id = None;
    for (i, vals) in inputs.iter().zip(all) {
        let names = names_of(&vals);
        let id = create_validated(hub, t, now, API_SOURCE, vals)?;
        first_id.get_or_insert(id);
        apply_create_associations(hub, t, now, id, i.get("associations"));
        let mut result = written(hub, t, id, names);
        // The input's trace id comes back with its result.
        if let Some(trace) = i.get("objectWriteTraceId") {
            result["objectWriteTraceId"] = trace.clone();
        }
        results.push(result);
    }
    // HubSpot does not answer a batch create's results in the order of its inputs: a client
    // finds each input's result by its `objectWriteTraceId`. The order here is a shuffle
    // seeded by the first new id, so a run is repeatable and no client can lean on it.
    if let Some(seed) = first_id {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        results.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    }
    Ok(batch_response(201, results, Vec::new(), now, now))
}

/// A unique value that another record holds, or that two inputs share, refuses the batch.
fn refuse_unique_repeats(hub: &Hub, t: ObjType, all: &[Written]) -> Result<(), ApiError> {
    let unique = hub.unique_props(t);
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (n, vals) in all.iter().enumerate() {
        if let Some((_, _, other)) = unique_clash(hub, t, None, vals) {
            return Err(conflict_on_create(t, other));
        }
        for (k, v) in vals {
            if let Some(v) = v
                && unique.contains(k)
                && seen.insert((k.clone(), v.to_lowercase()), n).is_some()
            {
                return Err(bad_request(&format!("Duplicate {k} `{v}` in batch inputs")));
            }
        }
    }
    Ok(())
}

fn update(hub: &mut Hub, t: ObjType, now: i64, inputs: &[Value]) -> Result<HttpResponse, ApiError> {
    let checked = validate_all(hub, t, inputs)?;
    let mut resolved = Vec::new();
    for i in inputs {
        let key = id_of(&i["id"]);
        let id_prop = i.get("idProperty").and_then(Value::as_str);
        let to = lookup(hub, t, &key, id_prop, false)?
            .map_or_else(|| format!("missing {key}"), |id| id.to_string());
        resolved.push((key, to));
    }
    refuse_repeats(&resolved)?;
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for (i, vals) in inputs.iter().zip(checked) {
        let key = id_of(&i["id"]);
        let names = names_of(&vals);
        let id_prop = i.get("idProperty").and_then(Value::as_str);
        match lookup(hub, t, &key, id_prop, false)? {
            Some(id) => {
                update_validated(hub, t, now, API_SOURCE, id, vals)?;
                results.push(written(hub, t, id, names));
            }
            None => missing.push(key),
        }
    }
    Ok(with_missing(t, "update", results, missing, now))
}

/// Updates the record whose unique `idProperty` holds the input's id, or creates one with it.
fn upsert(hub: &mut Hub, t: ObjType, now: i64, inputs: &[Value]) -> Result<HttpResponse, ApiError> {
    let mut checked = Vec::new();
    for i in inputs {
        let Some(id_prop) = i.get("idProperty").and_then(Value::as_str) else {
            return Err(bad_request("idProperty is required for upsert inputs"));
        };
        if !hub.unique_props(t).iter().any(|u| u == id_prop) {
            return Err(bad_request(&format!(
                "{id_prop} is not a unique property and cannot be used as idProperty"
            )));
        }
        checked.push((
            id_prop.to_string(),
            validate(hub, t, i.get("properties").unwrap_or(&json!({})))?,
        ));
    }
    let resolved: Vec<(String, String)> = inputs
        .iter()
        .zip(&checked)
        .map(|(i, (id_prop, _))| {
            let key = id_of(&i["id"]);
            let to = match hub.store(t).find_unique(id_prop, &key) {
                Some(id) => id.to_string(),
                None => format!("new {id_prop} {}", key.to_lowercase()),
            };
            (key, to)
        })
        .collect();
    refuse_repeats(&resolved)?;
    let mut results = Vec::new();
    for (i, (id_prop, mut vals)) in inputs.iter().zip(checked) {
        let key = id_of(&i["id"]);
        let names = names_of(&vals);
        let (id, new) = match hub.store(t).find_unique(&id_prop, &key) {
            Some(id) => (update_validated(hub, t, now, API_SOURCE, id, vals)?, false),
            None => {
                if !vals.iter().any(|(k, _)| *k == id_prop) {
                    vals.push((id_prop.clone(), Some(key.clone())));
                }
                (create_validated(hub, t, now, API_SOURCE, vals)?, true)
            }
        };
        let mut r = written(hub, t, id, names);
        r["new"] = json!(new);
        results.push(r);
    }
    Ok(batch_response(200, results, Vec::new(), now, now))
}
