//! Record writes and their checks, shared by the REST record calls, sObject Collections,
//! upserts and the admin API's user edits: field names and access, types, lengths,
//! restricted picklists, references, required fields and unique values, with the error
//! codes and messages of the REST API. Every write moves `SystemModstamp`; a write of
//! data moves `LastModifiedDate` too.
//!
//! Field names in a body are matched without regard to case, as Salesforce does; an empty
//! string is stored as null, as Salesforce stores it. The unique and external-id values of
//! live records are kept in an index so that an upsert finds its match without a scan.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::catalogue::{Field, MASTER_RECORD_ID, Obj, Type, defaults};
use super::errors::SfError;
use super::ids;
use super::store::{Org, Record};

/// Live records by (object, lower-cased field, lower-cased value), for the fields that are
/// external ids or unique.
#[derive(Debug, Default)]
pub struct KeyIndex {
    map: HashMap<(Obj, String, String), Vec<String>>,
}

impl KeyIndex {
    pub fn find(&self, obj: Obj, field: &str, value: &str) -> &[String] {
        self.map
            .get(&(obj, field.to_ascii_lowercase(), value.to_lowercase()))
            .map_or(&[], Vec::as_slice)
    }

    fn keys(org: &Org, r: &Record) -> Vec<(Obj, String, String)> {
        org.fields(r.obj)
            .iter()
            .filter(|f| f.external_id || f.unique)
            .filter_map(|f| {
                let v = r.values.get(&f.name)?.as_str()?;
                Some((r.obj, f.name.to_ascii_lowercase(), v.to_lowercase()))
            })
            .collect()
    }
}

/// Adds a live record's keys to the index (or takes them out).
fn index(org: &mut Org, r: &Record, add: bool) {
    for key in KeyIndex::keys(org, r) {
        let ids = org.keys.map.entry(key).or_default();
        ids.retain(|i| *i != r.id);
        if add {
            ids.push(r.id.clone());
        }
    }
}

/// Rebuilds the index of `obj` (after a field becomes an external id or unique).
pub fn reindex(org: &mut Org, obj: Obj) {
    org.keys.map.retain(|(o, _, _), _| *o != obj);
    let live: Vec<Record> = org
        .store(obj)
        .values()
        .filter(|r| r.deleted_ms.is_none())
        .cloned()
        .collect();
    for r in &live {
        index(org, r, true);
    }
}

fn invalid_field(obj: Obj, name: &str) -> SfError {
    SfError::new(
        400,
        "INVALID_FIELD",
        format!("No such column '{name}' on sobject of type {}", obj.name()),
    )
}

fn not_writable(name: &str) -> SfError {
    SfError::new(
        400,
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        format!("Unable to create/update fields: {name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set."),
    )
    .on(name)
}

fn bad_type(f: &Field, v: &Value) -> SfError {
    SfError::new(
        400,
        "JSON_PARSER_ERROR",
        format!(
            "Cannot deserialize instance of {} from {v} value for field {}",
            f.ty.name(),
            f.name
        ),
    )
}

/// One field's value checked and made canonical.
fn check_value(org: &Org, f: &Field, v: &Value) -> Result<Value, SfError> {
    if v.is_null() || v.as_str() == Some("") && f.ty != Type::Boolean {
        return Ok(Value::Null);
    }
    let text = || v.as_str().ok_or_else(|| bad_type(f, v));
    match f.ty {
        Type::Boolean => v.as_bool().map(Value::Bool).ok_or_else(|| bad_type(f, v)),
        // A number is a JSON number (unconfirmed whether Salesforce also takes a numeric
        // string; crmsync sends numbers), kept to the field's scale.
        Type::Currency | Type::Percent | Type::Double => {
            let n = v.as_f64().ok_or_else(|| bad_type(f, v))?;
            let unit = 10f64.powi(f.scale as i32);
            let n = (n * unit).round() / unit;
            let whole = f.precision.saturating_sub(f.scale);
            if f.precision > 0 && n.abs() >= 10f64.powi(whole as i32) {
                return Err(SfError::new(
                    400,
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    format!(
                        "{}: value outside of valid range on numeric field: {n}",
                        f.label
                    ),
                )
                .on(&f.name));
            }
            Ok(serde_json::Number::from_f64(n)
                .map(Value::Number)
                .unwrap_or(Value::Null))
        }
        Type::Date => {
            let s = text()?;
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|_| Value::String(s.to_string()))
                .map_err(|_| bad_type(f, v))
        }
        Type::DateTime => {
            let s = text()?;
            let ms = crate::sandbox::parse_time_ms(s)
                .or_else(|| {
                    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
                        .ok()
                        .map(|t| t.timestamp_millis())
                })
                .ok_or_else(|| bad_type(f, v))?;
            Ok(Value::String(super::store::sf_time(ms)))
        }
        Type::Id | Type::Reference => {
            let s = text()?;
            let malformed = || {
                SfError::new(
                    400,
                    "MALFORMED_ID",
                    format!("{}: id value of incorrect type: {s}", f.label),
                )
                .on(&f.name)
            };
            let id = ids::normalize(s).ok_or_else(malformed)?;
            if f.name == "OwnerId" {
                return if id == org.user_id || id == org.app_user_id {
                    Ok(Value::String(id))
                } else {
                    Err(malformed())
                };
            }
            if !f.reference_to.iter().any(|o| id.starts_with(o.prefix())) {
                return Err(malformed());
            }
            match org.find(&id) {
                Some(r) if r.deleted_ms.is_none() => Ok(Value::String(id)),
                _ => Err(SfError::new(
                    400,
                    "INVALID_CROSS_REFERENCE_KEY",
                    format!("{}: id value of incorrect type: {s}", f.label),
                )
                .on(&f.name)),
            }
        }
        _ => {
            let s = text()?;
            if f.length > 0 && s.chars().count() > f.length as usize {
                return Err(SfError::new(
                    400,
                    "STRING_TOO_LONG",
                    format!(
                        "{}: data value too large: {s} (max length={})",
                        f.label, f.length
                    ),
                )
                .on(&f.name));
            }
            if f.ty == Type::Email && !valid_email(s) {
                return Err(SfError::new(
                    400,
                    "INVALID_EMAIL_ADDRESS",
                    format!("{}: invalid email address: {s}", f.label),
                )
                .on(&f.name));
            }
            if f.ty == Type::Picklist && f.restricted && !f.picklist.iter().any(|p| p == s) {
                return Err(SfError::new(
                    400,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    format!("{}: bad value for restricted picklist field: {s}", f.label),
                )
                .on(&f.name));
            }
            Ok(Value::String(s.to_string()))
        }
    }
}

fn valid_email(s: &str) -> bool {
    s.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !s.contains(' ')
    })
}

/// The body's fields checked against `obj`'s catalogue, by canonical name. `Id` and
/// `attributes` are left for the caller.
pub fn check_body(
    org: &Org,
    obj: Obj,
    body: &Map<String, Value>,
    creating: bool,
) -> Result<BTreeMap<String, Value>, SfError> {
    let mut out = BTreeMap::new();
    for (k, v) in body {
        if k == "attributes" || k.eq_ignore_ascii_case("Id") {
            continue;
        }
        let f = org.field(obj, k).ok_or_else(|| invalid_field(obj, k))?;
        let writable = if creating { f.createable } else { f.updateable };
        if !writable {
            return Err(not_writable(&f.name));
        }
        let value = check_value(org, f, v)?;
        if value.is_null() && !f.nillable {
            return Err(required_missing(&f.name));
        }
        out.insert(f.name.clone(), value);
    }
    Ok(out)
}

fn required_missing(name: &str) -> SfError {
    SfError::new(
        400,
        "REQUIRED_FIELD_MISSING",
        format!("Required fields are missing: [{name}]"),
    )
    .on(name)
}

/// The record's unique values against the other live records'.
fn check_unique(org: &Org, r: &Record) -> Result<(), SfError> {
    for f in org.fields(r.obj).iter().filter(|f| f.unique) {
        let Some(v) = r.values.get(&f.name).and_then(Value::as_str) else {
            continue;
        };
        if let Some(other) = org
            .keys
            .find(r.obj, &f.name, v)
            .iter()
            .find(|i| **i != r.id)
        {
            return Err(SfError::new(
                400,
                "DUPLICATE_VALUE",
                format!(
                    "duplicate value found: {} duplicates value on record with id: {other}",
                    f.name
                ),
            ));
        }
    }
    Ok(())
}

fn store(org: &mut Org, r: Record) {
    if let Some(old) = org.store(r.obj).get(&r.id).cloned() {
        index(org, &old, false);
    }
    if r.deleted_ms.is_none() {
        index(org, &r, true);
    }
    org.store_mut(r.obj).insert(r.id.clone(), r);
}

/// Creates a record of `obj` owned by `owner` at `now`; its id.
pub fn create(
    org: &mut Org,
    obj: Obj,
    now: i64,
    owner: &str,
    body: &Map<String, Value>,
) -> Result<String, SfError> {
    super::opportunity::writable(obj)?;
    let mut values = check_body(org, obj, body, true)?;
    for (k, v) in defaults(obj) {
        values
            .entry(k.to_string())
            .or_insert_with(|| Value::String(v.to_string()));
    }
    super::opportunity::fill_created(org, obj, &mut values);
    if let Some(f) = org.fields(obj).iter().find(|f| {
        f.createable
            && !f.nillable
            && f.ty != Type::Boolean
            && !values.contains_key(&f.name)
            && f.name != "OwnerId"
    }) {
        return Err(required_missing(&f.name));
    }
    let owner = match values.remove("OwnerId") {
        Some(Value::String(o)) => o,
        _ => owner.to_string(),
    };
    let r = Record {
        id: org.new_id(obj.prefix()),
        obj,
        values,
        owner,
        created_ms: now,
        modified_ms: now,
        modstamp_ms: now,
        deleted_ms: None,
    };
    check_unique(org, &r)?;
    let id = r.id.clone();
    store(org, r);
    super::opportunity::after_write(org, obj, &id, now, true);
    Ok(id)
}

/// A live record of `obj` by id, or the error a write to it gets.
pub fn live(org: &Org, obj: Obj, id: &str) -> Result<Record, SfError> {
    let id = ids::normalize(id)
        .filter(|i| i.starts_with(obj.prefix()))
        .ok_or_else(|| {
            SfError::new(
                404,
                "NOT_FOUND",
                format!("Provided external ID field does not exist or is not accessible: {id}"),
            )
        })?;
    match org.store(obj).get(&id) {
        Some(r) if r.deleted_ms.is_none() => Ok(r.clone()),
        // Unconfirmed: the status of a write to a record in the Recycle Bin (the code is
        // documented; 404 is what it is commonly reported with).
        Some(_) => Err(SfError::new(404, "ENTITY_IS_DELETED", "entity is deleted")),
        None => Err(super::errors::not_found()),
    }
}

/// Updates a live record at `now`.
pub fn update(
    org: &mut Org,
    obj: Obj,
    now: i64,
    id: &str,
    body: &Map<String, Value>,
) -> Result<String, SfError> {
    super::opportunity::writable(obj)?;
    let mut r = live(org, obj, id)?;
    let values = check_body(org, obj, body, false)?;
    let written = values.clone();
    for (k, v) in values {
        if k == "OwnerId" {
            r.owner = v.as_str().unwrap_or_default().to_string();
        } else if v.is_null() {
            r.values.remove(&k);
        } else {
            r.values.insert(k, v);
        }
    }
    super::opportunity::fill_updated(&mut r, &written);
    check_unique(org, &r)?;
    r.modified_ms = now;
    r.modstamp_ms = now;
    let id = r.id.clone();
    store(org, r);
    super::opportunity::after_write(org, obj, &id, now, false);
    Ok(id)
}

/// Sends a live record to the Recycle Bin at `now`.
pub fn delete(org: &mut Org, obj: Obj, now: i64, id: &str) -> Result<String, SfError> {
    super::opportunity::writable(obj)?;
    let mut r = live(org, obj, id)?;
    r.deleted_ms = Some(now);
    r.modstamp_ms = now;
    let id = r.id.clone();
    store(org, r);
    super::opportunity::after_delete(org, obj, &id, now);
    Ok(id)
}

/// Brings a record back from the Recycle Bin at `now`.
pub fn undelete(org: &mut Org, now: i64, id: &str) -> Result<String, SfError> {
    let id = ids::normalize(id).ok_or_else(super::errors::not_found)?;
    let mut r = org
        .find(&id)
        .filter(|r| r.deleted_ms.is_some())
        .cloned()
        .ok_or_else(super::errors::not_found)?;
    let deleted_at = r.deleted_ms.take().unwrap_or(now);
    r.modstamp_ms = now;
    // Back from the Recycle Bin, a merged-away record is a record of its own again, its
    // children left with the survivor (unconfirmed: the guides do not say whether
    // `MasterRecordId` is cleared on undelete).
    r.values.remove(MASTER_RECORD_ID);
    store(org, r);
    super::opportunity::after_undelete(org, &id, deleted_at, now);
    Ok(id)
}

/// Merges the live records `merged` of `obj` into its live record `master` at `now`, as a
/// user does in Salesforce's merge wizard keeping the master's values (SOAP `merge()`: the
/// master's values prevail unless others are given; that the wizard offers them first is
/// unconfirmed): the master keeps its own values and is changed (both modstamps move); each merged record
/// goes to the Recycle Bin with `MasterRecordId` naming the master; the records that point
/// to a merged one (a contact's `AccountId`, a task's `WhoId` or `WhatId`) are moved to the
/// master, which moves their modstamps too. Salesforce merges up to three records at once
/// (Apex Developer Guide, "Merging Records"; SOAP API `merge()`; the `MasterRecordId` of
/// the deleted ones: "Triggers and Merge Statements"). That re-parented children's
/// `LastModifiedDate` moves as well as their `SystemModstamp` is unconfirmed.
pub fn merge(
    org: &mut Org,
    obj: Obj,
    now: i64,
    master: &str,
    merged: &[String],
) -> Result<(), SfError> {
    if !obj.mergeable() {
        return Err(SfError::new(
            400,
            "INVALID_TYPE",
            format!("{} records cannot be merged", obj.name()),
        ));
    }
    if merged.is_empty() || merged.len() > 2 {
        return Err(SfError::new(
            400,
            "INVALID_ARGUMENT",
            "a merge combines the master with one or two other records",
        ));
    }
    let mut survivor = live(org, obj, master)?;
    let mut losers = Vec::new();
    for id in merged {
        let r = live(org, obj, id)?;
        if r.id == survivor.id || losers.iter().any(|l: &Record| l.id == r.id) {
            return Err(SfError::new(
                400,
                "INVALID_ID_FIELD",
                format!("the record {} is named twice in the merge", r.id),
            ));
        }
        losers.push(r);
    }
    // The children of the merged records, by the reference fields that point to `obj`.
    let references: Vec<(Obj, String)> = Obj::ALL
        .into_iter()
        .flat_map(|o| {
            org.fields(o)
                .iter()
                .filter(|f| f.reference_to.contains(&obj) && f.name != MASTER_RECORD_ID)
                .map(move |f| (o, f.name.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let gone: Vec<&str> = losers.iter().map(|l| l.id.as_str()).collect();
    let mut children = Vec::new();
    for (o, field) in &references {
        for r in org.store(*o).values().filter(|r| r.deleted_ms.is_none()) {
            if r.values
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(|v| gone.contains(&v))
            {
                let mut moved = r.clone();
                moved
                    .values
                    .insert(field.clone(), Value::String(survivor.id.clone()));
                moved.modified_ms = now;
                moved.modstamp_ms = now;
                children.push(moved);
            }
        }
    }
    for child in children {
        store(org, child);
    }
    for mut loser in losers {
        loser.deleted_ms = Some(now);
        loser.modstamp_ms = now;
        loser
            .values
            .insert(MASTER_RECORD_ID.into(), Value::String(survivor.id.clone()));
        store(org, loser);
    }
    survivor.modified_ms = now;
    survivor.modstamp_ms = now;
    store(org, survivor);
    Ok(())
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq)]
pub enum Upserted {
    Created(String),
    Updated(String),
    /// The external id matched these records; nothing was written.
    Several(Vec<String>),
}

/// Upserts by the external-id field `field` (or `Id`) with `value`.
pub fn upsert(
    org: &mut Org,
    obj: Obj,
    now: i64,
    owner: &str,
    field: &str,
    value: &str,
    body: &Map<String, Value>,
) -> Result<Upserted, SfError> {
    if field.eq_ignore_ascii_case("Id") {
        return update(org, obj, now, value, body).map(Upserted::Updated);
    }
    let f = org
        .field(obj, field)
        .filter(|f| f.external_id)
        .ok_or_else(super::errors::not_found)?
        .clone();
    if let Some(v) = body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&f.name))
        .and_then(|(_, v)| v.as_str())
        && !v.eq_ignore_ascii_case(value)
    {
        return Err(SfError::new(
            400,
            "INVALID_FIELD",
            format!(
                "The value of the external ID field {} in the body does not match the value in the URL",
                f.name
            ),
        ));
    }
    let matches = org.keys.find(obj, &f.name, value).to_vec();
    match matches.as_slice() {
        [] => {
            let mut body = body.clone();
            body.insert(f.name.clone(), Value::String(value.to_string()));
            create(org, obj, now, owner, &body).map(Upserted::Created)
        }
        [one] => {
            let mut body = body.clone();
            body.retain(|k, _| !k.eq_ignore_ascii_case(&f.name));
            update(org, obj, now, one, &body).map(Upserted::Updated)
        }
        several => Ok(Upserted::Several(several.to_vec())),
    }
}

/// Puts a record back as it was before a write (`before`), or takes out the record a write
/// created (`None`): an `allOrNone` rollback.
pub fn restore(org: &mut Org, obj: Obj, id: &str, before: Option<Record>) {
    if let Some(now) = org.store(obj).get(id).cloned() {
        index(org, &now, false);
        org.store_mut(obj).remove(id);
    }
    if let Some(r) = before {
        store(org, r);
    }
}
