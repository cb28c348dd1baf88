//! What the planner reads for one connection and object: the local records, the links with their
//! bases, and the remote records read, paired.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::mapping::{FieldRule, Inbound, OnDelete};
use crate::model::{Fields, Millis, ObjectKind, Record};

/// Everything the planner looks at, for one connection and one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanInput {
    pub connection: String,
    pub object: ObjectKind,
    /// The resolved field rules ([`crate::mapping::FieldMap::rules`]).
    pub rules: Vec<FieldRule>,
    pub on_delete: OnDelete,
    /// One entry per record to consider; order does not matter.
    pub items: Vec<PlanItem>,
}

/// One record as the two sides and the link see it.
///
/// | local | link | remote | meaning |
/// | --- | --- | --- | --- |
/// | some | some | any | a linked pair; a missing remote is taken to equal the base |
/// | none | some | any | left alone: the engine passes the local record of every link it plans |
/// | some | none | none | a local record never synced here: remote create if allowed |
/// | none | none | some | a new remote record: local create |
/// | some | none | some | a new remote record the engine matched to a local one: link |
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanItem {
    pub local: Option<Record>,
    pub link: Option<LinkState>,
    pub remote: Option<RemoteSide>,
    /// For an unlinked pair: how the engine matched them (reported on the link op).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_by: Option<MatchedBy>,
    /// Whether the connection may create the local record remotely (its `create_when` rule,
    /// evaluated by the engine with [`crate::mapping::Rule::eval`]; `true` when it has none).
    #[serde(default)]
    pub may_create_remote: bool,
    /// Per canonical field, when it last changed in the local store, where the engine looked
    /// it up (the audit trail); `newest-wins` falls back to the local record's `updated_at`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub local_field_updated_at: BTreeMap<String, Millis>,
}

/// The stored link of a local record to a remote one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    pub remote_id: String,
    /// The values both sides agreed on at the last sync (canonical, normalised).
    pub base: Fields,
    /// The remote record's `updated_at` when the base was taken.
    pub remote_updated_at: Millis,
    /// The link was retired by an archive on either side; it is not planned again.
    #[serde(default)]
    pub archived: bool,
}

/// A remote record in canonical terms (see [`crate::mapping::FieldMap::from_remote`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSide {
    pub id: String,
    pub fields: Fields,
    pub updated_at: Millis,
    /// Per canonical field, when the CRM last changed it, where the CRM says.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub field_updated_at: BTreeMap<String, Millis>,
    pub archived: bool,
    /// Fields whose remote value could not be converted: treated as unchanged.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unreadable: BTreeSet<String>,
}

impl RemoteSide {
    /// The remote side of a converted remote record.
    pub fn from_inbound(id: &str, inbound: Inbound, updated_at: Millis, archived: bool) -> Self {
        RemoteSide {
            id: id.to_string(),
            fields: inbound.fields,
            updated_at,
            field_updated_at: inbound.field_updated_at,
            archived,
            unreadable: inbound.unreadable,
        }
    }
}

/// How an unlinked remote record was paired with a local one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum MatchedBy {
    /// Equal normalised values of this match key (`email`).
    Key { field: String },
    /// The remote record carries the local id in its `crmsync_id` field.
    ExternalId,
    /// The CRM refused to create the local record because this remote record already holds
    /// one of its unique values (HubSpot: a contact's email); the executor pairs them.
    Duplicate,
}
