//! sObject Collections (REST API Developer Guide, "sObject Collections"): create (`POST
//! composite/sobjects`), update (`PATCH composite/sobjects`), delete (`DELETE
//! composite/sobjects?ids=…&allOrNone=`) and upsert by an external id (`PATCH
//! composite/sobjects/{Object}/{ExternalIdField}`), up to 200 records a call.
//!
//! A well-formed call answers 200 with one SaveResult per record, in input order:
//! `{id, success, errors: [{statusCode, message, fields}]}` (upserts add `created`). With
//! `allOrNone: true` one failure rolls every record back: the failing records keep their
//! error and the others get `ALL_OR_NONE_OPERATION_ROLLED_BACK`. A malformed call answers
//! 400 with the error array. Unconfirmed and chosen here: more than 200 records is
//! `EXCEEDED_ID_LIMIT` (the code commonly reported); a record whose external id matches
//! several records fails with `DUPLICATE_EXTERNAL_ID`; the ten-chunk limit on mixed types
//! is not enforced; a failed create's result has no `id`.

use serde_json::{Map, Value, json};

use super::catalogue::Obj;
use super::errors::{SfError, bad_json};
use super::records::{self, Upserted};
use super::sobjects::body_object;
use super::store::{Org, Record};
use crate::sandbox::http::{HttpRequest, HttpResponse};

const MAX_RECORDS: usize = 200;

/// What one record's write changed, to undo it on a rollback: the record as it was before
/// (`None` when the write created it).
struct Undo {
    obj: Obj,
    id: String,
    before: Option<Record>,
}

/// One record's outcome. `id` is the record's (shown on a failure only when the caller
/// named it: an update or a delete); `created` is an upsert's.
struct Outcome {
    id: Option<String>,
    named: bool,
    created: Option<bool>,
    error: Option<SfError>,
}

impl Outcome {
    fn ok(id: String, named: bool, created: Option<bool>) -> Outcome {
        Outcome {
            id: Some(id),
            named,
            created,
            error: None,
        }
    }

    fn failed(id: Option<String>, e: SfError) -> Outcome {
        Outcome {
            named: id.is_some(),
            id,
            created: None,
            error: Some(e),
        }
    }

    fn json(&self) -> Value {
        let mut v = json!({"success": self.error.is_none(),
                           "errors": self.error.iter().map(SfError::item).collect::<Vec<_>>()});
        if let Some(id) = self
            .id
            .as_ref()
            .filter(|_| self.error.is_none() || self.named)
        {
            v["id"] = json!(id);
        }
        if let (Some(c), None) = (self.created, &self.error) {
            v["created"] = json!(c);
        }
        v
    }
}

fn too_many(n: usize) -> SfError {
    SfError::new(
        400,
        "EXCEEDED_ID_LIMIT",
        format!(
            "record limit reached. cannot submit more than {MAX_RECORDS} records into this call ({n} sent)"
        ),
    )
}

/// `{allOrNone, records}` of a create, update or upsert call.
fn parse_body(req: &HttpRequest) -> Result<(bool, Vec<Map<String, Value>>), SfError> {
    let body = body_object(req)?;
    let all_or_none = body
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let records = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_json("records is required"))?;
    if records.len() > MAX_RECORDS {
        return Err(too_many(records.len()));
    }
    let records = records
        .iter()
        .map(|r| {
            r.as_object()
                .cloned()
                .ok_or_else(|| bad_json("a record must be an object"))
        })
        .collect::<Result<_, _>>()?;
    Ok((all_or_none, records))
}

fn type_of(r: &Map<String, Value>) -> Result<Obj, SfError> {
    let name = r
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        .ok_or_else(|| SfError::new(400, "INVALID_TYPE", "Must send a concrete entity type."))?;
    Obj::parse(name).ok_or_else(|| {
        SfError::new(
            400,
            "INVALID_TYPE",
            format!("sObject type '{name}' is not supported."),
        )
    })
}

fn snapshot(org: &Org, obj: Obj, id: &str) -> Option<Record> {
    super::ids::normalize(id).and_then(|id| org.store(obj).get(&id).cloned())
}

/// Runs `write` on each record, keeping what to undo; rolls all back when `all_or_none`
/// and one failed. A write can change records it does not name (an opportunity's contact
/// roles, `opportunity.rs`): with `all_or_none` those are put back from a copy of the org's
/// records taken first.
fn run<T>(
    org: &mut Org,
    all_or_none: bool,
    items: Vec<T>,
    mut write: impl FnMut(&mut Org, T, &mut Vec<Undo>) -> Outcome,
) -> HttpResponse {
    let related = [Obj::Opportunity, Obj::OpportunityContactRole];
    let before: Option<Vec<_>> = all_or_none.then(|| {
        related
            .iter()
            .map(|o| (*o, org.store(*o).clone()))
            .collect()
    });
    let mut undo = Vec::new();
    let mut outcomes: Vec<Outcome> = items
        .into_iter()
        .map(|i| write(org, i, &mut undo))
        .collect();
    if all_or_none && outcomes.iter().any(|o| o.error.is_some()) {
        for u in undo.into_iter().rev() {
            records::restore(org, u.obj, &u.id, u.before);
        }
        for (obj, records) in before.into_iter().flatten() {
            *org.store_mut(obj) = records;
            records::reindex(org, obj);
        }
        for o in &mut outcomes {
            if o.error.is_none() {
                o.error = Some(SfError::new(
                    400,
                    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "Record rolled back because not all records were valid and the request was using AllOrNone header",
                ));
            }
        }
    }
    HttpResponse::json(
        200,
        &Value::Array(outcomes.iter().map(Outcome::json).collect()),
    )
}

/// `POST composite/sobjects`.
pub fn create(org: &mut Org, now: i64, req: &HttpRequest) -> Result<HttpResponse, SfError> {
    let (all_or_none, items) = parse_body(req)?;
    let owner = org.user_id.clone();
    Ok(run(org, all_or_none, items, |org, r, undo| {
        let result = type_of(&r).and_then(|obj| {
            if r.keys().any(|k| k.eq_ignore_ascii_case("Id")) {
                return Err(
                    SfError::new(400, "INVALID_FIELD", "Id not allowed in a create call").on("Id"),
                );
            }
            records::create(org, obj, now, &owner, &r).map(|id| (obj, id))
        });
        match result {
            Ok((obj, id)) => {
                undo.push(Undo {
                    obj,
                    id: id.clone(),
                    before: None,
                });
                Outcome::ok(id, false, None)
            }
            Err(e) => Outcome::failed(None, e),
        }
    }))
}

/// `PATCH composite/sobjects`.
pub fn update(org: &mut Org, now: i64, req: &HttpRequest) -> Result<HttpResponse, SfError> {
    let (all_or_none, items) = parse_body(req)?;
    Ok(run(org, all_or_none, items, |org, r, undo| {
        let id = r
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Id"))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string);
        let result = type_of(&r).and_then(|obj| {
            let id = id.clone().ok_or_else(|| {
                SfError::new(
                    400,
                    "MISSING_ARGUMENT",
                    "Id not specified in an update call",
                )
            })?;
            let before = snapshot(org, obj, &id);
            let id = records::update(org, obj, now, &id, &r)?;
            undo.push(Undo {
                obj,
                id: id.clone(),
                before,
            });
            Ok(id)
        });
        match result {
            Ok(id) => Outcome::ok(id, true, None),
            Err(e) => Outcome::failed(id, e),
        }
    }))
}

/// `DELETE composite/sobjects?ids=…&allOrNone=`.
pub fn delete(org: &mut Org, now: i64, req: &HttpRequest) -> Result<HttpResponse, SfError> {
    let ids = req.query_list("ids");
    if ids.len() > MAX_RECORDS {
        return Err(too_many(ids.len()));
    }
    if ids.is_empty() {
        return Err(SfError::new(400, "MISSING_ARGUMENT", "ids is required"));
    }
    let all_or_none = req
        .query_param("allOrNone")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Ok(run(org, all_or_none, ids, |org, id, undo| {
        let result = Obj::of_id(&id)
            .ok_or_else(|| SfError::new(400, "MALFORMED_ID", format!("malformed id {id}")))
            .and_then(|obj| {
                let before = snapshot(org, obj, &id);
                let done = records::delete(org, obj, now, &id)?;
                undo.push(Undo {
                    obj,
                    id: done.clone(),
                    before,
                });
                Ok(done)
            });
        match result {
            Ok(done) => Outcome::ok(done, true, None),
            Err(e) => Outcome::failed(Some(id), e),
        }
    }))
}

/// `PATCH composite/sobjects/{Object}/{ExternalIdField}`.
pub fn upsert(
    org: &mut Org,
    now: i64,
    req: &HttpRequest,
    object: &str,
    field: &str,
) -> Result<HttpResponse, SfError> {
    let obj = Obj::parse(object).ok_or_else(super::errors::not_found)?;
    let f = org
        .field(obj, field)
        .filter(|f| f.external_id || f.name == "Id")
        .ok_or_else(|| {
            SfError::new(
                400,
                "INVALID_FIELD",
                format!(
                    "Field name provided, {field} is not an External ID or indexed field for {}",
                    obj.name()
                ),
            )
        })?
        .name
        .clone();
    let (all_or_none, items) = parse_body(req)?;
    let owner = org.user_id.clone();
    Ok(run(org, all_or_none, items, |org, r, undo| {
        let value = r
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&f))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string);
        let result = type_of(&r).and_then(|t| {
            if t != obj {
                return Err(SfError::new(
                    400,
                    "INVALID_TYPE",
                    format!("Record type {} does not match {}", t.name(), obj.name()),
                ));
            }
            let value = value.clone().ok_or_else(|| {
                SfError::new(400, "MISSING_ARGUMENT", format!("{f} not specified")).on(&f)
            })?;
            let matched = org.keys.find(obj, &f, &value).to_vec();
            let before = matched.first().and_then(|id| snapshot(org, obj, id));
            match records::upsert(org, obj, now, &owner, &f, &value, &r)? {
                Upserted::Created(id) => {
                    undo.push(Undo {
                        obj,
                        id: id.clone(),
                        before: None,
                    });
                    Ok((id, true))
                }
                Upserted::Updated(id) => {
                    undo.push(Undo {
                        obj,
                        id: id.clone(),
                        before,
                    });
                    Ok((id, false))
                }
                Upserted::Several(ids) => Err(SfError::new(
                    300,
                    "DUPLICATE_EXTERNAL_ID",
                    format!(
                        "{f}: more than one record found for external id field: [{}]",
                        ids.join(", ")
                    ),
                )
                .on(&f)),
            }
        });
        match result {
            Ok((id, created)) => Outcome::ok(id, false, Some(created)),
            Err(e) => Outcome::failed(None, e),
        }
    }))
}
