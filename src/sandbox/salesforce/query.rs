//! SOQL `query` and `queryAll`, their `nextRecordsUrl` pages, and the replication calls
//! `sobjects/X/updated` and `sobjects/X/deleted`.
//!
//! A query's rows are taken when it runs and kept under a locator (`01g…`); later pages
//! serve those rows as they were then (REST API Developer Guide, "Query": the locator
//! pages through the result set of the query that made it). Without `ORDER BY` rows come in
//! id order, which is creation order here (Salesforce promises no order).
//!
//! Comparisons follow SOQL: text compares without regard to case, ids exactly; `!=` and
//! `NOT IN` match a null field (SOQL treats null as a value; unconfirmed for `NOT IN`),
//! `<`, `>` never do; nulls sort first ascending and last descending. A value of the wrong
//! type for its field is `INVALID_FIELD` (Salesforce's code for it), a path the sandbox
//! does not read `MALFORMED_QUERY`.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::catalogue::{Field, Obj, Type};
use super::errors::{SfError, malformed_query};
use super::ids;
use super::soql::{Cond, Literal, Op, Path, Query};
use super::store::{Locator, Org, Record, attributes, sf_time};

/// How long a deleted record stays in the Recycle Bin (and in `queryAll` and `deleted`).
pub const RECYCLE_MS: i64 = 15 * 86_400_000;
/// How far back `updated` reaches.
pub const UPDATED_WINDOW_MS: i64 = 30 * 86_400_000;
/// The locators kept open; the oldest is closed past it (unconfirmed: Salesforce documents
/// a per-user cursor limit, not this number).
const OPEN_LOCATORS: usize = 50;

/// A selected column.
enum Column {
    Field(String),
    /// Relationship name, reference field, the related field.
    Related(String, String, String),
}

/// What a query answered: a count, or its rows.
pub enum Rows {
    Count(usize),
    Records(Vec<Value>),
}

fn field<'a>(org: &'a Org, obj: Obj, name: &str) -> Result<&'a Field, SfError> {
    org.field(obj, name).ok_or_else(|| {
        SfError::new(
            400,
            "INVALID_FIELD",
            format!("No such column '{name}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.", obj.name()),
        )
    })
}

/// A path of the select list or the filter, checked against the catalogue.
fn column(org: &Org, obj: Obj, path: &Path, in_filter: bool) -> Result<Column, SfError> {
    match path.as_slice() {
        [name] => Ok(Column::Field(field(org, obj, name)?.name.clone())),
        [rel, name] if !in_filter => {
            let reference = org
                .fields(obj)
                .iter()
                .find(|f| f.relationship.is_some_and(|r| r.eq_ignore_ascii_case(rel)))
                .ok_or_else(|| {
                    SfError::new(
                        400,
                        "INVALID_FIELD",
                        format!("Didn't understand relationship '{rel}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name."),
                    )
                })?;
            let target = reference.reference_to[0];
            let related = field(org, target, name)?.name.clone();
            Ok(Column::Related(
                reference.relationship.unwrap_or_default().to_string(),
                reference.name.clone(),
                related,
            ))
        }
        _ => Err(malformed_query(format!(
            "the sandbox does not filter on relationship paths: {}",
            path.join(".")
        ))),
    }
}

/// A value as it compares and sorts.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Key {
    Null,
    Bool(bool),
    Int(i64),
    Num(f64),
    Text(String),
}

fn key(org: &Org, r: &Record, f: &Field) -> Key {
    match f.name.as_str() {
        "CreatedDate" => return Key::Int(r.created_ms),
        "LastModifiedDate" => return Key::Int(r.modified_ms),
        "SystemModstamp" => return Key::Int(r.modstamp_ms),
        _ => {}
    }
    match org.value(r, &f.name) {
        Value::Null => Key::Null,
        Value::Bool(b) => Key::Bool(b),
        Value::Number(n) => Key::Num(n.as_f64().unwrap_or_default()),
        Value::String(s) => match f.ty {
            Type::DateTime => chrono::DateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f%z")
                .map(|t| Key::Int(t.timestamp_millis()))
                .unwrap_or(Key::Text(s)),
            t if t.is_text() => Key::Text(s.to_lowercase()),
            _ => Key::Text(s),
        },
        other => Key::Text(other.to_string()),
    }
}

fn literal_key(f: &Field, lit: &Literal) -> Result<Key, SfError> {
    let wrong = || {
        SfError::new(
            400,
            "INVALID_FIELD",
            format!(
                "value of filter criterion for field '{}' must be of type {} and should{} be enclosed in quotes",
                f.name,
                f.ty.name(),
                if f.ty.is_text() || matches!(f.ty, Type::Id | Type::Reference) {
                    ""
                } else {
                    " not"
                }
            ),
        )
    };
    Ok(match (f.ty, lit) {
        (_, Literal::Null) => Key::Null,
        (Type::DateTime, Literal::DateTime(ms)) => Key::Int(*ms),
        (Type::Date, Literal::Date(d)) => Key::Text(d.clone()),
        (Type::Boolean, Literal::Bool(b)) => Key::Bool(*b),
        (t, Literal::Number(n)) if t.is_number() => Key::Num(*n),
        (Type::Id | Type::Reference, Literal::Str(s)) => {
            Key::Text(ids::normalize(s).unwrap_or_else(|| s.clone()))
        }
        (t, Literal::Str(s)) if t.is_text() => Key::Text(s.to_lowercase()),
        _ => return Err(wrong()),
    })
}

/// A filter with its fields resolved.
enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Cmp(Field, Op, Key),
    In(Field, bool, Vec<Key>),
}

fn compile(org: &Org, obj: Obj, c: &Cond) -> Result<Filter, SfError> {
    let resolve = |path: &Path| -> Result<Field, SfError> {
        match column(org, obj, path, true)? {
            Column::Field(name) => Ok(field(org, obj, &name)?.clone()),
            Column::Related(..) => unreachable!("relationship paths are refused in filters"),
        }
    };
    Ok(match c {
        Cond::And(parts) => Filter::And(
            parts
                .iter()
                .map(|p| compile(org, obj, p))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Or(parts) => Filter::Or(
            parts
                .iter()
                .map(|p| compile(org, obj, p))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Cmp(path, op, lit) => {
            let f = resolve(path)?;
            let k = literal_key(&f, lit)?;
            Filter::Cmp(f, *op, k)
        }
        Cond::In(path, not, lits) => {
            let f = resolve(path)?;
            let keys = lits
                .iter()
                .map(|l| literal_key(&f, l))
                .collect::<Result<_, _>>()?;
            Filter::In(f, *not, keys)
        }
    })
}

fn matches(org: &Org, r: &Record, f: &Filter) -> bool {
    match f {
        Filter::And(parts) => parts.iter().all(|p| matches(org, r, p)),
        Filter::Or(parts) => parts.iter().any(|p| matches(org, r, p)),
        Filter::Cmp(field, op, lit) => {
            let k = key(org, r, field);
            match op {
                Op::Eq => k == *lit,
                Op::Ne => k != *lit,
                _ if k == Key::Null => false,
                Op::Lt => k < *lit,
                Op::Gt => k > *lit,
                Op::Le => k <= *lit,
                Op::Ge => k >= *lit,
            }
        }
        Filter::In(field, not, keys) => {
            let k = key(org, r, field);
            keys.contains(&k) != *not
        }
    }
}

/// Whether `r` is served: live, or (for `queryAll`) still in the Recycle Bin.
pub fn visible(r: &Record, all: bool, now: i64) -> bool {
    match r.deleted_ms {
        None => true,
        Some(at) => all && now - at < RECYCLE_MS,
    }
}

/// Runs a parsed query; `all` for `queryAll`.
pub fn run(org: &Org, q: &Query, version: &str, all: bool, now: i64) -> Result<Rows, SfError> {
    let obj = Obj::parse(&q.object).ok_or_else(|| {
        SfError::new(
            400,
            "INVALID_TYPE",
            format!("sObject type '{}' is not supported.", q.object),
        )
    })?;
    let columns: Vec<Column> = q
        .fields
        .iter()
        .map(|p| column(org, obj, p, false))
        .collect::<Result<_, _>>()?;
    let filter = q
        .filter
        .as_ref()
        .map(|c| compile(org, obj, c))
        .transpose()?;
    let order: Vec<(Field, bool)> = q
        .order
        .iter()
        .map(|(p, desc)| match column(org, obj, p, true)? {
            Column::Field(name) => Ok((field(org, obj, &name)?.clone(), *desc)),
            Column::Related(..) => unreachable!("relationship paths are refused in ORDER BY"),
        })
        .collect::<Result<_, SfError>>()?;
    let mut hits: Vec<&Record> = org
        .store(obj)
        .values()
        .filter(|r| visible(r, all, now))
        .filter(|r| filter.as_ref().is_none_or(|f| matches(org, r, f)))
        .collect();
    if !order.is_empty() {
        hits.sort_by(|a, b| {
            for (f, desc) in &order {
                let (ka, kb) = (key(org, a, f), key(org, b, f));
                let o = ka.partial_cmp(&kb).unwrap_or(Ordering::Equal);
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }
    if let Some(n) = q.limit {
        hits.truncate(n);
    }
    if q.count {
        return Ok(Rows::Count(hits.len()));
    }
    Ok(Rows::Records(
        hits.into_iter()
            .map(|r| row(org, r, &columns, version))
            .collect(),
    ))
}

fn row(org: &Org, r: &Record, columns: &[Column], version: &str) -> Value {
    let mut out = Map::new();
    out.insert("attributes".into(), attributes(r.obj, &r.id, version));
    for c in columns {
        match c {
            Column::Field(name) => {
                out.insert(name.clone(), org.value(r, name));
            }
            Column::Related(rel, reference, name) => {
                let related = r
                    .values
                    .get(reference)
                    .and_then(Value::as_str)
                    .and_then(|id| org.find(id));
                let Some(target) = related else {
                    out.insert(rel.clone(), Value::Null);
                    continue;
                };
                let entry = out.entry(rel.clone()).or_insert_with(
                    || json!({"attributes": attributes(target.obj, &target.id, version)}),
                );
                entry[name.as_str()] = org.value(target, name);
            }
        }
    }
    Value::Object(out)
}

/// The page size a call asks for: `Sforce-Query-Options: batchSize=N`, held to 200–2,000
/// (the documented range; a value outside it is held to the nearest bound, unconfirmed),
/// then to the sandbox's page cap.
pub fn batch_size(org: &Org, header: Option<&str>) -> usize {
    let asked = header
        .into_iter()
        .flat_map(|h| h.split(','))
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("batchSize"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(2000)
        .clamp(200, 2000);
    org.page_cap.map_or(asked, |cap| asked.min(cap.max(1)))
}

/// The answer to a query: the first page, and a locator for the rest.
pub fn first_page(org: &mut Org, rows: Rows, version: &str, batch: usize) -> Value {
    let rows = match rows {
        Rows::Count(n) => return json!({"totalSize": n, "done": true, "records": []}),
        Rows::Records(rows) => rows,
    };
    if rows.len() <= batch {
        return json!({"totalSize": rows.len(), "done": true, "records": rows});
    }
    let id = org.new_id("01g");
    let total = rows.len();
    let page: Vec<Value> = rows[..batch].to_vec();
    org.locators.insert(
        id.clone(),
        Locator {
            rows,
            version: version.to_string(),
        },
    );
    while org.locators.len() > OPEN_LOCATORS {
        let oldest = org.locators.keys().min().cloned().unwrap_or_default();
        org.locators.remove(&oldest);
    }
    json!({"totalSize": total, "done": false,
           "nextRecordsUrl": format!("/services/data/v{version}/query/{id}-{batch}"),
           "records": page})
}

/// A later page: `locator` is the `{id}-{offset}` of a `nextRecordsUrl`.
pub fn next_page(org: &Org, locator: &str, batch: usize) -> Result<Value, SfError> {
    let invalid = || SfError::new(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    let (id, offset) = locator.rsplit_once('-').ok_or_else(invalid)?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    let loc = org.locators.get(id).ok_or_else(invalid)?;
    if offset >= loc.rows.len() {
        return Err(invalid());
    }
    let end = (offset + batch).min(loc.rows.len());
    let mut out = json!({"totalSize": loc.rows.len(), "done": end == loc.rows.len(),
                         "records": loc.rows[offset..end].to_vec()});
    if end < loc.rows.len() {
        out["nextRecordsUrl"] = json!(format!("/services/data/v{}/query/{id}-{end}", loc.version));
    }
    Ok(out)
}

fn replication_error(message: &str) -> SfError {
    SfError::new(400, "INVALID_REPLICATION_DATE", message)
}

/// `start` and `end` of a replication call, down to the minute (Salesforce drops the
/// seconds); `end` is held to now.
fn window(start: Option<&str>, end: Option<&str>, now: i64) -> Result<(i64, i64), SfError> {
    let parse = |s: Option<&str>| {
        // A `+` left unescaped in a query string arrives as a space.
        s.map(|s| s.trim().replace(' ', "+"))
            .and_then(|s| crate::sandbox::parse_time_ms(&s))
            .map(|ms| ms - ms.rem_euclid(60_000))
    };
    let (Some(start), Some(end)) = (parse(start), parse(end)) else {
        return Err(SfError::new(
            400,
            "MISSING_ARGUMENT",
            "start and end are required, as ISO 8601 date-times",
        ));
    };
    let end = end.min(now - now.rem_euclid(60_000));
    if end < start {
        return Err(replication_error("EndDate must be after StartDate"));
    }
    Ok((start, end))
}

/// `GET sobjects/X/updated/?start&end`: the ids of live records whose `SystemModstamp` is
/// in the window, and the last time covered.
pub fn updated(
    org: &Org,
    obj: Obj,
    start: Option<&str>,
    end: Option<&str>,
    now: i64,
) -> Result<Value, SfError> {
    let (start, end) = window(start, end, now)?;
    if start < now - UPDATED_WINDOW_MS {
        return Err(replication_error(
            "startDate cannot be more than 30 days ago",
        ));
    }
    let ids: Vec<&str> = org
        .store(obj)
        .values()
        .filter(|r| r.deleted_ms.is_none() && r.modstamp_ms >= start && r.modstamp_ms < end)
        .map(|r| r.id.as_str())
        .collect();
    Ok(json!({"ids": ids, "latestDateCovered": sf_time(end)}))
}

/// `GET sobjects/X/deleted/?start&end`: the records sent to the Recycle Bin in the window,
/// which reaches back 15 days.
pub fn deleted(
    org: &Org,
    obj: Obj,
    start: Option<&str>,
    end: Option<&str>,
    now: i64,
) -> Result<Value, SfError> {
    let (start, end) = window(start, end, now)?;
    let earliest = now - RECYCLE_MS;
    let earliest = earliest - earliest.rem_euclid(60_000) + 60_000;
    if start < earliest - 60_000 {
        return Err(replication_error(
            "startDate is before the earliest date available",
        ));
    }
    let records: Vec<Value> = org
        .store(obj)
        .values()
        .filter_map(|r| Some((r, r.deleted_ms?)))
        .filter(|(_, at)| *at >= start && *at < end && now - at < RECYCLE_MS)
        .map(|(r, at)| json!({"id": r.id, "deletedDate": sf_time(at)}))
        .collect();
    Ok(
        json!({"deletedRecords": records, "earliestDateAvailable": sf_time(earliest),
              "latestDateCovered": sf_time(end)}),
    )
}
