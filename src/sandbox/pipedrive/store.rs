//! The Pipedrive company's state: records keyed by kind, the field catalogue per kind, users,
//! activity types, each record's field changes (for `/changelog`) and the rate counters.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use serde_json::{Map, Value};

use super::EditBefore;
use super::limits::RateState;
use super::oauth::OAuthState;

/// The record kinds the sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Persons,
    Organizations,
    Activities,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Persons, Kind::Organizations, Kind::Activities];

    /// The kind a v2 path segment (`persons`) or a v1 fields segment (`personFields`) names.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "persons" | "person" | "personFields" => Some(Kind::Persons),
            "organizations" | "organization" | "organizationFields" => Some(Kind::Organizations),
            "activities" | "activity" | "activityFields" => Some(Kind::Activities),
            _ => None,
        }
    }

    /// The kind a v2 records path segment (`persons`) names.
    pub fn from_v2(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.plural() == s)
    }

    /// The v2 path segment.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Persons => "persons",
            Kind::Organizations => "organizations",
            Kind::Activities => "activities",
        }
    }

    /// The `item` name `/v1/recents` uses.
    pub fn item(self) -> &'static str {
        match self {
            Kind::Persons => "person",
            Kind::Organizations => "organization",
            Kind::Activities => "activity",
        }
    }

    /// How error messages name one record (`Person not found`).
    pub fn title(self) -> &'static str {
        match self {
            Kind::Persons => "Person",
            Kind::Organizations => "Organization",
            Kind::Activities => "Activity",
        }
    }
}

/// One record. `data` holds the v2 attributes other than `id`, the times, `is_deleted` and
/// `custom_fields`; `custom` holds custom field values by field key.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: i64,
    pub data: Map<String, Value>,
    pub custom: BTreeMap<String, Value>,
    /// Epoch ms, whole seconds (Pipedrive's times have no fraction).
    pub add_ms: i64,
    pub update_ms: i64,
    pub deleted: bool,
    /// For a record merged into another (and deleted so): that record's id.
    pub merged_into: Option<i64>,
}

/// One option of an `enum` or `set` field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldOption {
    pub id: i64,
    pub label: String,
    /// Label colour, for the person and organization label options.
    pub color: Option<String>,
}

/// One field of a kind, built-in or custom.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub id: i64,
    /// The v2 attribute name for a built-in field, the 40-hex-char hash for a custom one.
    pub key: String,
    pub name: String,
    pub field_type: String,
    pub options: Option<Vec<FieldOption>>,
    pub custom: bool,
    pub mandatory: bool,
    pub add_ms: i64,
    pub update_ms: i64,
}

/// A user of the company.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub admin: bool,
    pub created_ms: i64,
}

/// An activity type (`call`, `meeting`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityType {
    pub id: i64,
    pub name: String,
    pub key_string: String,
    pub icon_key: String,
    pub custom: bool,
    pub add_ms: i64,
}

/// One field change, as `/v1/persons/{id}/changelog` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub field_key: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub actor_user_id: i64,
    pub time_ms: i64,
    /// `api` for API calls, `app` for a user's edit in Pipedrive.
    pub source: &'static str,
}

/// Records of one kind, by id, and their change logs.
#[derive(Debug, Default)]
pub struct RecordStore {
    pub records: BTreeMap<i64, Record>,
    pub changes: BTreeMap<i64, Vec<Change>>,
}

/// The whole company.
pub struct Company {
    pub base_url: String,
    pub records: BTreeMap<Kind, RecordStore>,
    pub fields: BTreeMap<Kind, Vec<Field>>,
    pub users: Vec<User>,
    pub activity_types: Vec<ActivityType>,
    /// The next record id (shared by every kind, as ids in one sandbox never need to collide).
    pub next_id: i64,
    pub next_field_id: i64,
    pub rate: RateState,
    pub data_rng: StdRng,
    pub edits_before: Vec<EditBefore>,
    pub oauth: OAuthState,
    /// The webhooks and the events waiting for delivery.
    pub webhooks: super::webhooks::PdWebhooks,
}

impl Company {
    pub fn store(&self, kind: Kind) -> &RecordStore {
        &self.records[&kind]
    }

    pub fn store_mut(&mut self, kind: Kind) -> &mut RecordStore {
        self.records.entry(kind).or_default()
    }

    pub fn fields(&self, kind: Kind) -> &[Field] {
        self.fields.get(&kind).map_or(&[], Vec::as_slice)
    }

    pub fn field(&self, kind: Kind, key: &str) -> Option<&Field> {
        self.fields(kind).iter().find(|f| f.key == key)
    }

    /// A live (not deleted) record.
    pub fn live(&self, kind: Kind, id: i64) -> Option<&Record> {
        self.store(kind).records.get(&id).filter(|r| !r.deleted)
    }

    pub fn user(&self, id: i64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }
}
