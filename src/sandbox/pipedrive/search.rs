//! `GET /api/v2/{persons|organizations}/search` (v2 spec `searchPersons`,
//! `searchOrganizations`): live records whose name, emails, phones or text custom values
//! match `term`, in the search's own item shape.
//!
//! `fields` narrows where to look (`name`, `email`, `phone`, `custom_fields`, `notes`, for an
//! organization `address` too; all by default); `exact_match` wants a whole value equal to
//! the term, ignoring case, else a value containing it does (a term of 2 characters at least,
//! 1 with `exact_match`). Paged by `limit` (≤ 500) and an opaque `cursor`. Chosen where the
//! spec is silent: a record's `result_score` is 1 for an exact match and 0.5 otherwise, and
//! records come in id order; `custom_fields` in an item lists the custom values that matched.

use serde_json::{Value, json};

use super::envelope::{next_cursor, offset_page, ok};
use super::errors::{ApiError, bad_request};
use super::store::{Company, Kind, Record};
use crate::sandbox::http::{HttpRequest, HttpResponse};

/// Serves a search of `kind`; `None` for kinds the specs do not search here.
pub fn route(co: &Company, kind: Kind, req: &HttpRequest) -> Option<HttpResponse> {
    if req.method != "GET" || kind == Kind::Activities {
        return None;
    }
    Some(search(co, kind, req).unwrap_or_else(|e| e.response()))
}

fn search(co: &Company, kind: Kind, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let exact = match req.query_param("exact_match") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(bad_request(
                "Validation failed: exact_match: must be a boolean",
            ));
        }
    };
    let term = req.query_param("term").unwrap_or_default().to_lowercase();
    if term.chars().count() < if exact { 1 } else { 2 } {
        return Err(bad_request(
            "Validation failed: term: must be at least 2 characters long (1 with exact_match)",
        ));
    }
    let fields: Vec<String> = req.query_list("fields");
    let looks_in = |f: &str| fields.is_empty() || fields.iter().any(|x| x == f);
    let (start, limit) = offset_page(req)?;
    let matches = |v: &str| {
        let v = v.to_lowercase();
        if exact { v == term } else { v.contains(&term) }
    };
    let found: Vec<(&Record, Vec<String>)> = co
        .store(kind)
        .records
        .values()
        .filter(|r| !r.deleted)
        .filter_map(|r| {
            let custom: Vec<String> = if looks_in("custom_fields") {
                r.custom
                    .values()
                    .filter_map(Value::as_str)
                    .filter(|v| matches(v))
                    .map(str::to_string)
                    .collect()
            } else {
                Vec::new()
            };
            let hit = !custom.is_empty()
                || (looks_in("name") && text(r, "name").is_some_and(|n| matches(&n)))
                || (looks_in("email") && entries(r, "emails").iter().any(|e| matches(e)))
                || (looks_in("phone") && entries(r, "phones").iter().any(|p| matches(p)))
                || (kind == Kind::Organizations
                    && looks_in("address")
                    && r.data
                        .get("address")
                        .and_then(|a| a["value"].as_str())
                        .is_some_and(matches));
            hit.then_some((r, custom))
        })
        .collect();
    let score = if exact { 1.0 } else { 0.5 };
    let items: Vec<Value> = found
        .iter()
        .skip(start)
        .take(limit)
        .map(|(r, custom)| json!({"result_score": score, "item": item(co, kind, r, custom)}))
        .collect();
    Ok(ok(
        json!({ "items": items }),
        json!({ "next_cursor": next_cursor(start, limit, found.len()) }),
    ))
}

fn text(r: &Record, k: &str) -> Option<String> {
    r.data.get(k).and_then(Value::as_str).map(str::to_string)
}

/// The values of a person's `emails` / `phones` entries.
fn entries(r: &Record, k: &str) -> Vec<String> {
    r.data
        .get(k)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e["value"].as_str().map(str::to_string))
        .collect()
}

/// One found record as the search shows it.
fn item(co: &Company, kind: Kind, r: &Record, custom: &[String]) -> Value {
    let owner = json!({"id": r.data.get("owner_id").cloned().unwrap_or(Value::Null)});
    let visible = r.data.get("visible_to").cloned().unwrap_or(Value::Null);
    match kind {
        Kind::Persons => {
            let org = r.data.get("org_id").and_then(Value::as_i64).map(|id| {
                let name = co
                    .live(Kind::Organizations, id)
                    .and_then(|o| text(o, "name"));
                json!({"id": id, "name": name, "address": null})
            });
            let mut v = json!({"id": r.id, "type": "person", "name": text(r, "name"),
                   "phones": entries(r, "phones"), "emails": entries(r, "emails"),
                   "visible_to": visible, "owner": owner,
                   "custom_fields": custom, "notes": []});
            // The spec's `organization` is an object: a person without one has none.
            if let Some(org) = org {
                v["organization"] = org;
            }
            v
        }
        _ => json!({"id": r.id, "type": "organization", "name": text(r, "name"),
                    "address": r.data.get("address").and_then(|a| a["value"].as_str()),
                    "visible_to": visible, "owner": owner,
                    "custom_fields": custom, "notes": []}),
    }
}
