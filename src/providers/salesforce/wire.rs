//! Salesforce's JSON, times and SOQL literals.
//!
//! A record is an object of field values with `attributes` and `Id` (DIGEST §3.3); times are
//! `2024-05-01T20:49:32.000+0000`; SOQL datetime literals are unquoted ISO values and text
//! literals are in single quotes with `\` escapes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::catalogue::Catalogue;
use super::{EXTERNAL_ID, sobject};
use crate::model::{Millis, ObjectKind};
use crate::providers::{RemoteRecord, RemoteWrite};

/// The field every change feed orders and filters by (DIGEST §3.5: it moves on system-driven
/// changes too, where `LastModifiedDate` does not).
pub(super) const MODSTAMP: &str = "SystemModstamp";
/// A Task's `WhatId`: the company when it is an Account.
pub(super) const WHAT_ID: &str = "WhatId";
/// A Task's done-ness as crmsync maps it: read from `IsClosed`, written as `Status`.
pub(super) const IS_CLOSED: &str = "IsClosed";
const STATUS: &str = "Status";
/// The Task statuses crmsync writes for done and not done: the values of a new org's Task
/// `Status` picklist (unconfirmed in DIGEST §3.3; an org may rename them).
const COMPLETED: &str = "Completed";
const NOT_STARTED: &str = "Not Started";

/// A Salesforce time (`…T..:..:..SSS+0000`, or RFC 3339) as epoch ms.
pub(super) fn parse_time(v: &Value) -> Option<Millis> {
    let s = v.as_str()?.trim();
    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.timestamp_millis())
}

/// `ms` as a SOQL datetime literal (and a `start`/`end` parameter), to the second, rounded
/// down: a bound a little early reads a little more, never less.
pub(super) fn soql_time(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms.div_euclid(1000) * 1000)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `s` as a SOQL text literal.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A JSON value as text; empty and `null` are none.
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The fields a SOQL read of `object` selects: `Id`, [`MODSTAMP`], and those of `properties`
/// the org has (a property the org does not have any more is left out, and so reads as
/// unchanged, never as cleared).
pub(super) fn select_list(catalogue: &Catalogue, properties: &[String]) -> Vec<String> {
    let mut out = vec!["Id".to_string(), MODSTAMP.to_string()];
    for p in properties {
        if catalogue.has(p) && !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

/// A record of a query answer as a [`RemoteRecord`].
pub(super) fn record_of(
    object: ObjectKind,
    v: &Value,
    catalogue: &Catalogue,
    properties: &[String],
) -> Option<RemoteRecord> {
    let id = text(&v["Id"])?;
    let returned: BTreeSet<String> = properties
        .iter()
        .filter(|p| catalogue.has(p))
        .cloned()
        .collect();
    let mut props = BTreeMap::new();
    for name in &returned {
        let Some(value) = text(&v[name.as_str()]) else {
            continue;
        };
        // A Task's `WhatId` names the company only when it is an Account (it may be an
        // Opportunity or another object); anything else is not crmsync's to map.
        if object == ObjectKind::Activity && name == WHAT_ID && !catalogue.is_account_id(&value) {
            continue;
        }
        props.insert(name.clone(), value);
    }
    let external_id = props.get(EXTERNAL_ID).cloned();
    Some(RemoteRecord {
        id,
        props,
        updated_at: parse_time(&v[MODSTAMP]).unwrap_or(0),
        prop_updated_at: BTreeMap::new(),
        archived: v["IsDeleted"].as_bool().unwrap_or(false),
        external_id,
        returned: Some(returned),
    })
}

/// The record of a collection write of `w` to `object`: its fields, an empty value cleared
/// (`null`), a number as a JSON number where `catalogue` says the field holds one, a Task's
/// done-ness as its `Status`, and the local id in [`EXTERNAL_ID`] on a create or where the
/// engine asks for it. `id` is set for an update. An opportunity's primary contact is not
/// sent: it is set through its contact roles (`deals.rs`).
pub(super) fn write_record(
    object: ObjectKind,
    w: &RemoteWrite,
    create: bool,
    catalogue: &Catalogue,
) -> Value {
    let mut m = Map::new();
    m.insert("attributes".into(), json!({ "type": sobject(object) }));
    if let (false, Some(id)) = (create, &w.remote_id) {
        m.insert("id".into(), json!(id));
    }
    for (name, value) in &w.props {
        if object == ObjectKind::Activity && name == IS_CLOSED {
            let status = match value.as_str() {
                "true" => COMPLETED,
                "false" => NOT_STARTED,
                _ => continue,
            };
            m.insert(STATUS.into(), json!(status));
            continue;
        }
        if object == ObjectKind::Deal && name == super::deals::CONTACT_ID {
            continue;
        }
        let v = if value.is_empty() {
            Value::Null
        } else {
            catalogue
                .number(name, value)
                .unwrap_or_else(|| json!(value))
        };
        m.insert(name.clone(), v);
    }
    if create || w.set_external_id {
        m.insert(EXTERNAL_ID.into(), json!(w.local_id));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_salesforce_writes_them_and_bounds_round_down() {
        let t = parse_time(&json!("2027-01-15T08:00:00.250+0000")).unwrap();
        assert_eq!(t, 1_800_000_000_250);
        assert_eq!(
            parse_time(&json!("2027-01-15T08:00:00Z")),
            Some(1_800_000_000_000)
        );
        assert_eq!(soql_time(t), "2027-01-15T08:00:00Z");
        assert_eq!(parse_time(&json!("yesterday")), None);
    }

    #[test]
    fn text_literals_are_escaped() {
        assert_eq!(quote("O'Brien\\x"), "'O\\'Brien\\\\x'");
    }

    #[test]
    fn a_task_is_written_with_its_status_and_the_local_id() {
        let w = RemoteWrite {
            local_id: "L1".into(),
            remote_id: Some("00T1".into()),
            props: BTreeMap::from([
                ("IsClosed".into(), "true".into()),
                ("Subject".into(), "Call".into()),
                ("Description".into(), String::new()),
            ]),
            set_external_id: false,
            takes_over: Vec::new(),
            content_checked: false,
        };
        assert_eq!(
            write_record(ObjectKind::Activity, &w, false, &Catalogue::default()),
            json!({
                "attributes": { "type": "Task" }, "id": "00T1",
                "Status": "Completed", "Subject": "Call", "Description": null
            })
        );
        assert_eq!(
            write_record(ObjectKind::Activity, &w, true, &Catalogue::default())["crmsync_id__c"],
            json!("L1")
        );
    }
}
