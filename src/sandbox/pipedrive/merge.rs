//! Merges: `PUT /v1/persons/{id}/merge` and `PUT /v1/organizations/{id}/merge` with
//! `{merge_with_id}` (40 tokens each).
//!
//! What the v1 spec says: `merge_with_id` names "the person that will not be overwritten. This
//! person's data will be prioritized in case of conflict with the other person"; the answer's
//! `data` is a person with `merge_what_id`, "the ID of the person with what the main person
//! was merged"; the organization merge answers `{id}` only, "the ID of the merged
//! organization". Chosen where the spec is silent (each unconfirmed):
//! * the record `merge_with_id` names survives, and the record `{id}` is deleted (the DIGEST
//!   §2.7's reading; the webhook docs' merge is a delete of one record and a change of the
//!   other), so the answer's `data` is the survivor, its `merge_what_id` the merged-away id;
//! * the survivor keeps every value it has and takes the merged-away record's where it has
//!   none (a custom field, `org_id`, `owner_id`...); emails and phones are put together, the
//!   survivor's first (its primary stays the primary), then the other's not already there;
//!   labels are put together;
//! * the merged-away record's activities (and, for an organization, its persons) move to the
//!   survivor, each as an update of theirs;
//! * the merged-away record is deleted as `DELETE` deletes one, and remembers the record it
//!   went into: `/v1/recents` shows a deleted person with `merge_what_id` naming it (the
//!   recents' person item is the spec's `mergePersonItem`, which has the field). The recents'
//!   organization item (`BaseOrganizationItem`) has no such field, so a merged-away
//!   organization shows as deleted only: a client polling Pipedrive cannot tell its merge
//!   from a delete.

use serde_json::{Map, Value, json};

use super::errors::{ApiError, bad_request, not_found};
use super::records::{self, Writer};
use super::store::{Company, Kind};
use super::values::render_v1;
use crate::sandbox::http::{HttpRequest, HttpResponse};

/// Serves `PUT /v1/{persons|organizations}/{id}/merge`.
pub fn route(
    co: &mut Company,
    now: i64,
    me: i64,
    req: &HttpRequest,
    kind: Kind,
    id: &str,
) -> HttpResponse {
    let writer = Writer {
        source: "api",
        user_id: me,
    };
    let answer = (|| {
        let from: i64 = id
            .parse()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| bad_request("id must be a positive integer"))?;
        let body: Value = serde_json::from_slice(&req.body)
            .map_err(|_| bad_request("The body must be a JSON object"))?;
        let into = body["merge_with_id"]
            .as_i64()
            .ok_or_else(|| bad_request("merge_with_id is required and must be an integer"))?;
        merge(co, kind, now, writer, into, from)?;
        let data = match kind {
            Kind::Persons => {
                let mut d = render_v1(co, kind, &co.store(kind).records[&into]);
                d["merge_what_id"] = json!(from);
                d
            }
            _ => json!({"id": into}),
        };
        Ok::<_, ApiError>(HttpResponse::json(
            200,
            &json!({"success": true, "data": data}),
        ))
    })();
    answer.unwrap_or_else(|e| e.response())
}

/// Merges live record `from` into live record `into` of `kind` (persons or organizations).
pub fn merge(
    co: &mut Company,
    kind: Kind,
    now: i64,
    writer: Writer,
    into: i64,
    from: i64,
) -> Result<(), ApiError> {
    if kind == Kind::Activities {
        return Err(bad_request("Activities cannot be merged"));
    }
    if into == from {
        return Err(bad_request("A record cannot be merged with itself"));
    }
    let survivor = co.live(kind, into).ok_or_else(|| not_found(kind.title()))?;
    let gone = co.live(kind, from).ok_or_else(|| not_found(kind.title()))?;
    let mut body = Map::new();
    for (k, v) in &gone.data {
        let mine = survivor.data.get(k).unwrap_or(&Value::Null);
        let value = match k.as_str() {
            "emails" | "phones" | "label_ids" => joined(mine, v),
            _ if is_empty(mine) => v.clone(),
            _ => continue,
        };
        if &value != mine && !is_empty(&value) && is_writable(kind, k) {
            body.insert(k.clone(), value);
        }
    }
    let custom: Map<String, Value> = gone
        .custom
        .iter()
        .filter(|(k, _)| survivor.custom.get(*k).is_none_or(is_empty))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !custom.is_empty() {
        body.insert("custom_fields".into(), Value::Object(custom));
    }
    records::update(co, kind, now, writer, into, &body)?;
    // What pointed at the merged-away record points at the survivor.
    let refs: &[(Kind, &str)] = match kind {
        Kind::Persons => &[(Kind::Activities, "person_id")],
        _ => &[(Kind::Activities, "org_id"), (Kind::Persons, "org_id")],
    };
    for (other, key) in refs {
        let ids: Vec<i64> = co
            .store(*other)
            .records
            .values()
            .filter(|r| !r.deleted && r.data.get(*key) == Some(&json!(from)))
            .map(|r| r.id)
            .collect();
        for id in ids {
            let mut b = Map::new();
            b.insert((*key).to_string(), json!(into));
            records::update(co, *other, now, writer, id, &b)?;
        }
    }
    records::delete(co, kind, now, writer, from)?;
    let r = co
        .store_mut(kind)
        .records
        .get_mut(&from)
        .expect("deleted just now");
    r.merged_into = Some(into);
    // The survivor changed with the merge even when it took no value.
    let s = co.store_mut(kind).records.get_mut(&into).expect("live");
    s.update_ms = now - now.rem_euclid(1000);
    Ok(())
}

/// The attributes a v2 write sets (the rest, such as `creator_user_id`, stay the survivor's).
fn is_writable(kind: Kind, key: &str) -> bool {
    super::values::attr(kind, key).is_some()
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A list of the survivor's entries, then the other's not already there (not primary).
fn joined(mine: &Value, theirs: &Value) -> Value {
    let mut out: Vec<Value> = mine.as_array().cloned().unwrap_or_default();
    let has_primary = out.iter().any(|e| e["primary"] == json!(true));
    for e in theirs.as_array().into_iter().flatten() {
        let same = |o: &Value| match (o.get("value"), e.get("value")) {
            (Some(a), Some(b)) => a == b,
            _ => o == e,
        };
        if out.iter().any(same) {
            continue;
        }
        let mut e = e.clone();
        if has_primary && e.get("primary").is_some() {
            e["primary"] = json!(false);
        }
        out.push(e);
    }
    Value::Array(out)
}
