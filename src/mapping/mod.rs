//! Field maps: which canonical field goes to which remote property, in which direction, with
//! which conflict policy and transform; and the rules that decide which records a connection
//! creates.

use serde::{Deserialize, Serialize};

/// Which way a field flows; it lives with the canonical model, which providers and mappings
/// both build on.
pub use crate::model::Direction;

/// How a conflict (both sides changed a field to different values) is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    LocalWins,
    RemoteWins,
    /// The side changed last wins (field-level times where the CRM has them, else record-level).
    #[default]
    NewestWins,
    /// The field is held; a conflict row waits for `crmsync conflicts resolve`.
    Manual,
}

/// What a connection does when a record is archived on the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDelete {
    #[default]
    Archive,
    Ignore,
}

pub mod fieldmap;
pub mod rule;
pub mod transform;

pub use fieldmap::{
    FieldMap, FieldRule, FieldWarning, IdLookup, Inbound, MappingError, NoLinks, Outbound,
};
pub use rule::{Rule, RuleError};
pub use transform::Transform;
