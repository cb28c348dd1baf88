//! The REST sObject calls: describe, record get, create, update, delete, upsert by external
//! id, and the replication calls (REST API Developer Guide, "sObject Basic Information",
//! "sObject Describe", "sObject Rows", "sObject Rows by External ID", "sObject Get Updated",
//! "sObject Get Deleted").
//!
//! Status codes as the guide's table gives them: create 201 `{id, success, errors}`,
//! update and delete 204, upsert 201 `{id, success, errors, created: true}` on create and
//! 200 `{…, created: false}` on update (API 46.0 and later answer the update with a body),
//! 300 with the URLs of the matching records when the external id matches several.

use serde_json::{Map, Value, json};

use super::catalogue::{Obj, describe};
use super::errors::{SfError, bad_json, not_found};
use super::query;
use super::records::{self, Upserted};
use super::store::Org;
use crate::sandbox::http::{HttpRequest, HttpResponse};

/// The JSON object of a request body.
pub fn body_object(req: &HttpRequest) -> Result<Map<String, Value>, SfError> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(bad_json(format!("expected an object, got {other}"))),
        Err(e) => Err(bad_json(e)),
    }
}

fn object(name: &str) -> Result<Obj, SfError> {
    Obj::parse(name).ok_or_else(not_found)
}

fn created(id: &str, upsert: bool) -> Value {
    let mut v = json!({"id": id, "success": true, "errors": []});
    if upsert {
        v["created"] = json!(true);
    }
    v
}

/// Serves `sobjects/...` (the segments after it); `None` when no route matches.
pub fn route(
    org: &mut Org,
    now: i64,
    req: &HttpRequest,
    version: &str,
    rest: &[&str],
) -> Option<Result<HttpResponse, SfError>> {
    let method = req.method.as_str();
    Some(match rest {
        [] if method == "GET" => Ok(describe_global(version)),
        [obj, "describe"] if method == "GET" => {
            object(obj).map(|o| HttpResponse::json(200, &describe(o, org.fields(o), version)))
        }
        [obj] if method == "POST" => object(obj).and_then(|o| {
            let body = body_object(req)?;
            let owner = org.user_id.clone();
            let id = records::create(org, o, now, &owner, &body)?;
            Ok(HttpResponse::json(201, &created(&id, false)))
        }),
        [obj] if method == "GET" => object(obj).map(|o| {
            HttpResponse::json(
                200,
                &json!({"objectDescribe": {"name": o.name(), "keyPrefix": o.prefix(),
                                            "label": o.name(), "labelPlural": o.label_plural()},
                        "recentItems": []}),
            )
        }),
        [obj, which @ ("updated" | "deleted")] if method == "GET" => object(obj).and_then(|o| {
            let (start, end) = (req.query_param("start"), req.query_param("end"));
            let v = if *which == "updated" {
                query::updated(org, o, start, end, now)?
            } else {
                query::deleted(org, o, start, end, now)?
            };
            Ok(HttpResponse::json(200, &v))
        }),
        [obj, id] => object(obj).and_then(|o| record(org, now, req, version, o, id)),
        [obj, field, value] => {
            object(obj).and_then(|o| by_external_id(org, now, req, version, o, field, value))
        }
        _ => return None,
    })
}

fn describe_global(version: &str) -> HttpResponse {
    let objects: Vec<Value> = Obj::ALL
        .into_iter()
        .map(|o| {
            let base = format!("/services/data/v{version}/sobjects/{}", o.name());
            json!({"name": o.name(), "label": o.name(), "labelPlural": o.label_plural(),
                   "keyPrefix": o.prefix(), "custom": false, "queryable": true,
                   "createable": o.writable(), "updateable": o.writable(),
                   "deletable": o.writable(),
                   "urls": {"sobject": base, "describe": format!("{base}/describe"),
                            "rowTemplate": format!("{base}/{{ID}}")}})
        })
        .collect();
    HttpResponse::json(
        200,
        &json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects}),
    )
}

/// `sobjects/X/{id}`: get, update, delete.
fn record(
    org: &mut Org,
    now: i64,
    req: &HttpRequest,
    version: &str,
    obj: Obj,
    id: &str,
) -> Result<HttpResponse, SfError> {
    match req.method.as_str() {
        "GET" => {
            let r = records::live(org, obj, id).map_err(|e| {
                if e.code == "ENTITY_IS_DELETED" {
                    not_found()
                } else {
                    e
                }
            })?;
            let only: Option<Vec<String>> = req.query_param("fields").map(|f| {
                f.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            });
            if let Some(names) = &only
                && let Some(bad) = names.iter().find(|n| org.field(obj, n).is_none())
            {
                return Err(SfError::new(
                    400,
                    "INVALID_FIELD",
                    format!("No such column '{bad}' on entity '{}'", obj.name()),
                ));
            }
            Ok(HttpResponse::json(
                200,
                &org.render(&r, version, only.as_deref()),
            ))
        }
        "PATCH" => {
            let body = body_object(req)?;
            records::update(org, obj, now, id, &body)?;
            Ok(HttpResponse::empty(204))
        }
        "DELETE" => {
            records::delete(org, obj, now, id)?;
            Ok(HttpResponse::empty(204))
        }
        _ => Err(SfError::new(
            405,
            "METHOD_NOT_ALLOWED",
            format!(
                "HTTP Method '{}' not allowed. Allowed are GET,PATCH,DELETE",
                req.method
            ),
        )),
    }
}

/// `sobjects/X/{field}/{value}`: get or upsert by an external id.
fn by_external_id(
    org: &mut Org,
    now: i64,
    req: &HttpRequest,
    version: &str,
    obj: Obj,
    field: &str,
    value: &str,
) -> Result<HttpResponse, SfError> {
    let several = |ids: Vec<String>| {
        let urls: Vec<String> = ids
            .iter()
            .map(|id| format!("/services/data/v{version}/sobjects/{}/{id}", obj.name()))
            .collect();
        // The shape of the 300 body (a JSON array of the matching records' URLs) is the
        // commonly reported one; the guide names the status, not the body (unconfirmed).
        HttpResponse::json(300, &json!(urls))
    };
    match req.method.as_str() {
        "GET" => {
            let f = org
                .field(obj, field)
                .filter(|f| f.external_id)
                .ok_or_else(not_found)?;
            let ids = org.keys.find(obj, &f.name.clone(), value).to_vec();
            match ids.as_slice() {
                [] => Err(not_found()),
                [one] => {
                    let r = records::live(org, obj, one)?;
                    Ok(HttpResponse::json(200, &org.render(&r, version, None)))
                }
                _ => Ok(several(ids)),
            }
        }
        "PATCH" => {
            let body = body_object(req)?;
            let owner = org.user_id.clone();
            match records::upsert(org, obj, now, &owner, field, value, &body)? {
                Upserted::Created(id) => Ok(HttpResponse::json(201, &created(&id, true))
                    .with_header(
                        "Location",
                        format!("/services/data/v{version}/sobjects/{}/{id}", obj.name()),
                    )),
                Upserted::Updated(id) => Ok(HttpResponse::json(
                    200,
                    &json!({"id": id, "success": true, "errors": [], "created": false}),
                )),
                Upserted::Several(ids) => Ok(several(ids)),
            }
        }
        _ => Err(SfError::new(
            405,
            "METHOD_NOT_ALLOWED",
            format!(
                "HTTP Method '{}' not allowed. Allowed are GET,PATCH",
                req.method
            ),
        )),
    }
}
