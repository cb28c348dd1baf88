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

impl ConflictPolicy {
    /// The name as written in the config (`newest-wins`).
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictPolicy::LocalWins => "local-wins",
            ConflictPolicy::RemoteWins => "remote-wins",
            ConflictPolicy::NewestWins => "newest-wins",
            ConflictPolicy::Manual => "manual",
        }
    }
}

/// What a connection does when a record is archived on the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDelete {
    #[default]
    Archive,
    Ignore,
}

#[cfg(test)]
mod names {
    use super::*;

    /// A name is the one serde reads and writes, so config, JSON and tables agree.
    #[test]
    fn directions_and_policies_are_named_as_the_config_spells_them() {
        for d in [
            Direction::Both,
            Direction::ToCrm,
            Direction::FromCrm,
            Direction::None,
        ] {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
        for p in [
            ConflictPolicy::LocalWins,
            ConflictPolicy::RemoteWins,
            ConflictPolicy::NewestWins,
            ConflictPolicy::Manual,
        ] {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
    }
}

pub mod fieldmap;
pub mod owners;
pub mod rule;
pub mod transform;
pub mod values;

pub use fieldmap::{
    FieldMap, FieldRule, FieldWarning, IdLookup, Inbound, MappingError, NoLinks, Outbound,
};
pub use owners::alias_owners;
pub use rule::{Rule, RuleError};
pub use transform::Transform;
