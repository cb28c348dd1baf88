//! Value transforms named in a field mapping (`transform = "lowercase"`).
//!
//! A transform is applied to a value coming **from** the CRM, before normalisation. Transforms
//! are *idempotent* and not invertible (`lowercase` forgets the original case), so they are not
//! reversed on the way to the CRM: the value sent is the canonical value with the same
//! transform applied, and the planner compares values after the transform. That way a local
//! value that differs only by the transform (`Ann` vs `ann` under `lowercase`) is not an edit,
//! and what the CRM echoes back equals what was sent, so nothing goes back and forth.

use serde::{Deserialize, Serialize};

/// One named transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    /// Lower-case every character.
    Lowercase,
    /// Upper-case every character.
    Uppercase,
    /// Remove leading and trailing white space.
    Trim,
}

impl Transform {
    /// Every transform, in the order they are listed in messages.
    pub const ALL: [Transform; 3] = [Transform::Lowercase, Transform::Uppercase, Transform::Trim];

    pub fn name(self) -> &'static str {
        match self {
            Transform::Lowercase => "lowercase",
            Transform::Uppercase => "uppercase",
            Transform::Trim => "trim",
        }
    }

    /// The transform called `name` (case-insensitive), or an error listing the known ones.
    pub fn parse(name: &str) -> Result<Transform, String> {
        let wanted = name.trim().to_ascii_lowercase();
        Transform::ALL
            .into_iter()
            .find(|t| t.name() == wanted)
            .ok_or_else(|| {
                let known: Vec<_> = Transform::ALL
                    .iter()
                    .map(|t| format!("`{}`", t.name()))
                    .collect();
                format!(
                    "unknown transform `{name}`: expected one of {}",
                    known.join(", ")
                )
            })
    }

    /// Applies the transform. `apply(apply(v)) == apply(v)` for every transform.
    pub fn apply(self, value: &str) -> String {
        match self {
            Transform::Lowercase => value.to_lowercase(),
            Transform::Uppercase => value.to_uppercase(),
            Transform::Trim => value.trim().to_string(),
        }
    }
}

impl std::fmt::Display for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_case_insensitively() {
        assert_eq!(Transform::parse("LowerCase"), Ok(Transform::Lowercase));
        assert_eq!(Transform::parse(" uppercase "), Ok(Transform::Uppercase));
        assert_eq!(Transform::parse("trim"), Ok(Transform::Trim));
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = Transform::parse("titlecase").unwrap_err();
        assert!(err.contains("`titlecase`"), "{err}");
        assert!(err.contains("`lowercase`, `uppercase`, `trim`"), "{err}");
    }

    #[test]
    fn transforms_are_idempotent() {
        for t in Transform::ALL {
            for v in ["  Ann Ö ", "x", "", "ß straße"] {
                let once = t.apply(v);
                assert_eq!(t.apply(&once), once, "{t} on {v:?}");
            }
        }
        assert_eq!(Transform::Lowercase.apply("Ann@EX.com"), "ann@ex.com");
        assert_eq!(Transform::Uppercase.apply("gb"), "GB");
        assert_eq!(Transform::Trim.apply("  a b "), "a b");
    }
}
