//! `POST /crm/v3/objects/{objectType}/search`: filter groups (OR of ANDs), sorts, paging by
//! offset, the 10,000-result cap, archived records excluded.
//!
//! Values compare by the property's type: `number` numerically, `date`/`datetime` as epoch
//! ms (a filter value may be epoch ms or ISO 8601), everything else case-insensitively as
//! text. Only one sort is accepted, as HubSpot does; within equal sort values the order is by
//! id. When the first sort is the last-modified property ascending, the
//! `(last-modified, id)` index supplies the order, so no sort is needed.

use std::cmp::Ordering;

use serde_json::{Value, json};

use super::records::{PropSel, render};
use super::wire::{parse_body, strings};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::hubspot::errors::ApiError;
use crate::sandbox::hubspot::store::{Hub, ObjType, Rec};
use crate::sandbox::parse_time_ms;

const MAX_GROUPS: usize = 5;
const MAX_FILTERS_PER_GROUP: usize = 10;
const MAX_FILTERS: usize = 25;
const MAX_LIMIT: usize = 200;
/// A search sorts by one property.
const MAX_SORTS: usize = 1;
/// No query can page past this many results.
const RESULT_CAP: usize = 10_000;

fn bad(message: &str) -> ApiError {
    ApiError::new(400, "VALIDATION_ERROR", message)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Number,
    Time,
    Text,
}

/// A comparable value: numbers and times as numbers, text lower-cased.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Key {
    Num(f64),
    Text(String),
}

fn key_of(kind: Kind, s: &str) -> Option<Key> {
    match kind {
        Kind::Number => s.trim().parse().ok().map(Key::Num),
        Kind::Time => parse_time_ms(s).map(|ms| Key::Num(ms as f64)),
        Kind::Text => Some(Key::Text(s.to_lowercase())),
    }
}

/// One filter with its values parsed once, not once per record.
struct Filter {
    prop: String,
    kind: Kind,
    op: String,
    value: Option<Key>,
    high: Option<Key>,
    values: Vec<Key>,
    raw: String,
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn kind_of(hub: &Hub, t: ObjType, prop: &str) -> Option<Kind> {
    let def = hub.prop(t, prop)?;
    Some(match def.ptype.as_str() {
        "number" => Kind::Number,
        "date" | "datetime" => Kind::Time,
        _ => Kind::Text,
    })
}

fn cmp_values(kind: Kind, a: &str, b: &str) -> Option<Ordering> {
    match kind {
        Kind::Number => a.parse::<f64>().ok()?.partial_cmp(&b.parse::<f64>().ok()?),
        Kind::Time => Some(parse_time_ms(a)?.cmp(&parse_time_ms(b)?)),
        Kind::Text => Some(
            a.chars()
                .flat_map(char::to_lowercase)
                .cmp(b.chars().flat_map(char::to_lowercase)),
        ),
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

fn tokens(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.' && c != '*')
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
}

impl Filter {
    /// The record's value as a key; timestamps kept on the record skip re-parsing.
    fn actual(&self, rec: &Rec) -> Option<Key> {
        match self.prop.as_str() {
            "hs_object_id" => return Some(Key::Num(rec.id as f64)),
            "createdate" => return Some(Key::Num(rec.created_ms as f64)),
            "lastmodifieddate" | "hs_lastmodifieddate" if rec.props.contains_key(&self.prop) => {
                return Some(Key::Num(rec.updated_ms as f64));
            }
            _ => {}
        }
        let v = rec.props.get(&self.prop).filter(|v| !v.is_empty())?;
        key_of(self.kind, v)
    }

    fn matches(&self, rec: &Rec) -> bool {
        let actual = self.actual(rec);
        let cmp =
            |v: &Option<Key>| -> Option<Ordering> { actual.as_ref()?.partial_cmp(v.as_ref()?) };
        match self.op.as_str() {
            "HAS_PROPERTY" => actual.is_some(),
            "NOT_HAS_PROPERTY" => actual.is_none(),
            "EQ" => cmp(&self.value) == Some(Ordering::Equal),
            "NEQ" => cmp(&self.value) != Some(Ordering::Equal),
            "LT" => cmp(&self.value) == Some(Ordering::Less),
            "LTE" => matches!(cmp(&self.value), Some(Ordering::Less | Ordering::Equal)),
            "GT" => cmp(&self.value) == Some(Ordering::Greater),
            "GTE" => matches!(cmp(&self.value), Some(Ordering::Greater | Ordering::Equal)),
            "BETWEEN" => {
                matches!(cmp(&self.value), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(cmp(&self.high), Some(Ordering::Less | Ordering::Equal))
            }
            "IN" => actual.is_some_and(|a| self.values.contains(&a)),
            "NOT_IN" => !actual.is_some_and(|a| self.values.contains(&a)),
            "CONTAINS_TOKEN" | "NOT_CONTAINS_TOKEN" => {
                let want = self.raw.to_lowercase();
                let found = rec.props.get(&self.prop).is_some_and(|a| {
                    a.to_lowercase() == want || tokens(a).any(|tok| glob(&want, &tok))
                });
                found == (self.op == "CONTAINS_TOKEN")
            }
            _ => false,
        }
    }

    /// The lowest last-modified time this filter admits, if it bounds it from below.
    fn modified_floor(&self, modified: &str) -> Option<i64> {
        if self.prop != modified {
            return None;
        }
        match (self.op.as_str(), &self.value) {
            ("GTE" | "GT" | "EQ" | "BETWEEN", Some(Key::Num(ms))) => Some(*ms as i64),
            _ => None,
        }
    }
}

fn parse_filters(hub: &Hub, t: ObjType, body: &Value) -> Result<Vec<Vec<Filter>>, ApiError> {
    let groups = body
        .get("filterGroups")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if groups.len() > MAX_GROUPS {
        return Err(bad(&format!(
            "Too many filter groups: {} (the limit is {MAX_GROUPS})",
            groups.len()
        )));
    }
    let mut total = 0;
    let mut out = Vec::new();
    for g in &groups {
        let filters = g
            .get("filters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if filters.len() > MAX_FILTERS_PER_GROUP {
            return Err(bad(&format!(
                "Too many filters in a group: {} (the limit is {MAX_FILTERS_PER_GROUP})",
                filters.len()
            )));
        }
        total += filters.len();
        let mut parsed = Vec::new();
        for f in &filters {
            let prop = f
                .get("propertyName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let op = f
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or("EQ")
                .to_string();
            let kind = kind_of(hub, t, &prop).ok_or_else(|| {
                bad(&format!(
                    "There was a problem with the request. Property `{prop}` does not exist"
                ))
            })?;
            const OPS: [&str; 14] = [
                "EQ",
                "NEQ",
                "LT",
                "LTE",
                "GT",
                "GTE",
                "BETWEEN",
                "IN",
                "NOT_IN",
                "HAS_PROPERTY",
                "NOT_HAS_PROPERTY",
                "CONTAINS_TOKEN",
                "NOT_CONTAINS_TOKEN",
                "",
            ];
            if !OPS[..13].contains(&op.as_str()) {
                return Err(bad(&format!("Invalid input JSON: unknown operator `{op}`")));
            }
            let value = f.get("value").and_then(str_of);
            let high = f.get("highValue").and_then(str_of);
            let values: Vec<String> = f
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(str_of).collect())
                .unwrap_or_default();
            let needs_value = !matches!(
                op.as_str(),
                "HAS_PROPERTY" | "NOT_HAS_PROPERTY" | "IN" | "NOT_IN"
            );
            if needs_value && value.is_none() {
                return Err(bad(&format!(
                    "filter on `{prop}` with operator {op} requires a `value`"
                )));
            }
            if op == "BETWEEN" && high.is_none() {
                return Err(bad(&format!(
                    "filter on `{prop}` with operator BETWEEN requires a `highValue`"
                )));
            }
            let parse = |s: &str| {
                key_of(kind, s).ok_or_else(|| {
                    bad(&format!("`{s}` is not a valid value for property `{prop}`"))
                })
            };
            let raw = value.clone().unwrap_or_default();
            let value = if op.ends_with("CONTAINS_TOKEN") {
                None
            } else {
                value.as_deref().map(parse).transpose()?
            };
            let high = high.as_deref().map(parse).transpose()?;
            let values = values
                .iter()
                .map(|v| parse(v))
                .collect::<Result<Vec<_>, _>>()?;
            parsed.push(Filter {
                prop,
                kind,
                op,
                value,
                high,
                values,
                raw,
            });
        }
        out.push(parsed);
    }
    if total > MAX_FILTERS {
        return Err(bad(&format!(
            "Too many filters: {total} (the limit is {MAX_FILTERS} across all groups)"
        )));
    }
    Ok(out)
}

/// `(property, descending)` pairs from either `["-prop"]`/`["prop"]` or `[{propertyName, direction}]`.
fn parse_sorts(body: &Value) -> Vec<(String, bool)> {
    body.get("sorts")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| match s {
                    Value::String(p) => Some(match p.strip_prefix('-') {
                        Some(p) => (p.to_string(), true),
                        None => (p.to_string(), false),
                    }),
                    Value::Object(_) => Some((
                        s.get("propertyName")?.as_str()?.to_string(),
                        s.get("direction")
                            .and_then(Value::as_str)
                            .is_some_and(|d| d.eq_ignore_ascii_case("DESCENDING")),
                    )),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

const QUERY_PROPS: [&str; 7] = [
    "email",
    "firstname",
    "lastname",
    "phone",
    "company",
    "name",
    "domain",
];

/// `POST /crm/v3/objects/{objectType}/search`.
pub fn handle(hub: &Hub, t: ObjType, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let body = parse_body(req)?;
    search(hub, t, &body).map(|v| HttpResponse::json(200, &v))
}

fn search(hub: &Hub, t: ObjType, body: &Value) -> Result<Value, ApiError> {
    let groups = parse_filters(hub, t, body)?;
    let sorts = parse_sorts(body);
    if sorts.len() > MAX_SORTS {
        return Err(bad(&format!(
            "Too many sorts: {} (a search accepts {MAX_SORTS})",
            sorts.len()
        )));
    }
    if let Some((p, _)) = sorts.iter().find(|(p, _)| kind_of(hub, t, p).is_none()) {
        return Err(bad(&format!(
            "There was a problem with the request. Property `{p}` does not exist"
        )));
    }
    let limit = match body.get("limit") {
        None | Some(Value::Null) => 10,
        Some(v) => v.as_u64().ok_or_else(|| bad("limit must be a number"))? as usize,
    };
    if limit > MAX_LIMIT {
        return Err(bad(&format!(
            "limit must be at most {MAX_LIMIT}, got {limit}"
        )));
    }
    let after = match body.get("after") {
        None | Some(Value::Null) => 0,
        Some(v) => str_of(v)
            .and_then(|s| {
                if s.is_empty() {
                    Some(0)
                } else {
                    s.parse::<usize>().ok()
                }
            })
            .ok_or_else(|| bad(&format!("after `{v}` is not a valid cursor")))?,
    };
    if after >= RESULT_CAP {
        return Err(bad(&format!(
            "Search results are limited to {RESULT_CAP}; `after` {after} is beyond that. Narrow the query, for example with a filter on the last-modified date"
        )));
    }
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
        .filter(|q| !q.is_empty());
    let sel = PropSel::from_list(strings(body, "properties"));

    let store = hub.store(t);
    let keep = |r: &Rec| -> bool {
        r.archived_ms.is_none()
            && (groups.is_empty() || groups.iter().any(|g| g.iter().all(|f| f.matches(r))))
            && query.as_ref().is_none_or(|q| {
                QUERY_PROPS.iter().any(|p| {
                    r.props
                        .get(*p)
                        .is_some_and(|v| v.to_lowercase().contains(q.as_str()))
                })
            })
    };
    let modified = t.modified_prop();
    let by_index = sorts
        .first()
        .is_some_and(|(p, desc)| p == modified && !desc)
        && sorts.len() == 1;
    let mut hits: Vec<&Rec> = if by_index {
        // Every group must bound last-modified from below for the index range to be exact.
        let floor = if groups.is_empty() {
            None
        } else {
            groups
                .iter()
                .map(|g| g.iter().filter_map(|f| f.modified_floor(modified)).max())
                .collect::<Option<Vec<i64>>>()
                .and_then(|v| v.into_iter().min())
        };
        store
            .by_modified
            .range((floor.unwrap_or(i64::MIN), 0)..)
            .map(|(_, id)| &store.records[id])
            .filter(|r| keep(r))
            .collect()
    } else {
        let mut v: Vec<&Rec> = store.records.values().filter(|r| keep(r)).collect();
        v.sort_by(|a, b| {
            for (p, desc) in &sorts {
                let kind = kind_of(hub, t, p).unwrap_or(Kind::Text);
                // The id and the timestamps are kept on the record itself.
                let own = |r: &Rec| match p.as_str() {
                    "hs_object_id" => Some(r.id as i64),
                    "createdate" => Some(r.created_ms),
                    _ if p == modified => Some(r.updated_ms),
                    _ => None,
                };
                let ord = match (own(a), own(b)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    _ => match (a.props.get(p), b.props.get(p)) {
                        (Some(x), Some(y)) => cmp_values(kind, x, y).unwrap_or(Ordering::Equal),
                        (Some(_), None) => Ordering::Less,
                        (None, Some(_)) => Ordering::Greater,
                        (None, None) => Ordering::Equal,
                    },
                };
                let ord = if *desc { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            a.id.cmp(&b.id)
        });
        v
    };
    let total = hits.len();
    hits.truncate(RESULT_CAP);
    let end = (after + limit).min(hits.len());
    let page: Vec<Value> = hits
        .get(after..end)
        .unwrap_or_default()
        .iter()
        .map(|r| render(hub, t, r, &sel, &[]))
        .collect();
    let mut out = json!({"total": total, "results": page});
    if end < hits.len() || (end == RESULT_CAP && total > RESULT_CAP) {
        out["paging"] = json!({"next": {"after": end.to_string()}});
    }
    Ok(out)
}
