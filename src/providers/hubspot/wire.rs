//! HubSpot's JSON as crmsync reads it: objects, lists, batch answers and errors, and how an
//! object becomes a [`RemoteRecord`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use super::EXTERNAL_ID;
use crate::model::Millis;
use crate::providers::RemoteRecord;

#[derive(Debug, Deserialize)]
pub(super) struct HsObject {
    pub(super) id: String,
    #[serde(default)]
    pub(super) properties: BTreeMap<String, Option<String>>,
    #[serde(default, rename = "updatedAt")]
    pub(super) updated_at: Option<String>,
    #[serde(default)]
    pub(super) archived: bool,
    /// Only when asked for (`propertiesWithHistory`): property → its past values.
    #[serde(default, rename = "propertiesWithHistory")]
    pub(super) history: BTreeMap<String, Vec<HistoryEntry>>,
}

/// One past value of a property (`ValueWithTimestamp`); only its time is read.
#[derive(Debug, Deserialize)]
pub(super) struct HistoryEntry {
    #[serde(default)]
    pub(super) timestamp: Option<Value>,
}

impl HistoryEntry {
    /// The entry's time: ISO 8601 as HubSpot sends it, or epoch ms.
    fn millis(&self) -> Option<Millis> {
        match self.timestamp.as_ref()? {
            Value::String(s) => crate::clock::parse_instant(s),
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }
}

/// When each property of `o`'s history last changed (the newest entry of each).
pub(super) fn history_times(o: &HsObject) -> BTreeMap<String, Millis> {
    o.history
        .iter()
        .filter_map(|(prop, entries)| {
            let newest = entries.iter().filter_map(HistoryEntry::millis).max()?;
            Some((prop.clone(), newest))
        })
        .collect()
}

#[derive(Debug, Deserialize)]
pub(super) struct Next {
    pub(super) after: String,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Paging {
    pub(super) next: Option<Next>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ObjectList {
    #[serde(default)]
    pub(super) results: Vec<HsObject>,
    #[serde(default)]
    pub(super) paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
pub(super) struct StandardError {
    #[serde(default)]
    pub(super) status: Option<Value>,
    #[serde(default)]
    pub(super) category: Option<String>,
    #[serde(default)]
    pub(super) message: String,
    #[serde(default)]
    pub(super) context: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(super) id: Option<String>,
}

impl StandardError {
    pub(super) fn status_text(&self) -> Option<String> {
        match &self.status {
            Some(Value::String(s)) if s != "error" => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => self.category.clone(),
        }
    }
    pub(super) fn mentions(&self, key: &str) -> bool {
        self.id.as_deref() == Some(key) || self.context.values().flatten().any(|v| v == key)
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct BatchResponse {
    #[serde(default)]
    pub(super) results: Vec<HsObject>,
    #[serde(default)]
    pub(super) errors: Vec<StandardError>,
}

pub(super) fn to_record(o: HsObject, modified: &str) -> RemoteRecord {
    // HubSpot names every property asked for that exists (`null` when empty) and leaves out
    // those it does not have.
    let returned: BTreeSet<String> = o.properties.keys().cloned().collect();
    let props: BTreeMap<String, String> = o
        .properties
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
    let updated_at = o
        .updated_at
        .as_deref()
        .and_then(crate::clock::parse_instant)
        .or_else(|| {
            props
                .get(modified)
                .and_then(|v| crate::clock::parse_instant(v))
        })
        .unwrap_or_default();
    RemoteRecord {
        id: o.id,
        external_id: props.get(EXTERNAL_ID).cloned(),
        props,
        updated_at,
        prop_updated_at: BTreeMap::new(),
        archived: o.archived,
        returned: Some(returned),
    }
}

pub(super) fn json_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn props_body(props: &BTreeMap<String, String>, drop_empty: bool) -> Value {
    let map: serde_json::Map<String, Value> = props
        .iter()
        .filter(|(k, v)| !(k.starts_with("associations.") || drop_empty && v.is_empty()))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Value::Object(map)
}
