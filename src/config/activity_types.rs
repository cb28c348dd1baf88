//! `[connections.NAME.activity_types]`: which activity type of the CRM each local activity
//! type is kept as (`linkedin = "task"`), on top of the CRM's built-in map (Pipedrive's:
//! `crate::providers::pipedrive::DEFAULT_ACTIVITY_TYPES`; HubSpot's, whose types are its
//! engagement objects: `crate::providers::hubspot::DEFAULT_ACTIVITY_TYPES`), entry by entry.
//!
//! Checked when the file is read: only a connection that syncs activities takes the table,
//! and each side is a type name (letters, digits, `_` and `-`). Whether the CRM has the type
//! is only known from the CRM: `sync` checks it against the account's types and names the
//! entry's line, kept here for that.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::ConnectionConfig;
use crate::model::ObjectKind;
use crate::providers::ProviderKind;

/// The table: local type → the CRM's type key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActivityTypes {
    entries: BTreeMap<String, Spanned<String>>,
    /// The line of each entry in the config file (set by the loader).
    #[serde(skip)]
    lines: BTreeMap<String, usize>,
}

impl ActivityTypes {
    /// Local type → the CRM's type key.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|(l, c)| (l.as_str(), c.get_ref().as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where the entry of `local` is written: `line N` of the config file, when known.
    pub fn line_of(&self, local: &str) -> Option<usize> {
        self.lines.get(local).copied()
    }
}

fn is_type_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks the table of connection `name` and notes each entry's line; `Err` is the key, the
/// byte offset in `text` to point at and the message.
pub(super) fn check(
    name: &str,
    conn: &mut ConnectionConfig,
    line_of: impl Fn(usize) -> usize,
) -> Result<(), (String, usize, String)> {
    let syncs = matches!(
        conn.provider,
        ProviderKind::Pipedrive | ProviderKind::Hubspot
    ) && conn.syncs(ObjectKind::Activity);
    let types = &mut conn.activity_types;
    let mut lines = BTreeMap::new();
    for (local, crm) in &types.entries {
        let key = format!("connections.{name}.activity_types.{local}");
        let at = crm.span().start;
        if !syncs {
            return Err((
                key,
                at,
                format!(
                    "connection `{name}` syncs no activities (Pipedrive connections that sync `activity` do, and HubSpot connections whose `objects` names `activity`), so it has no activity types to map"
                ),
            ));
        }
        if !is_type_name(local) {
            return Err((
                key,
                at,
                format!("`{local}` is not an activity type name: use letters, digits, `_` and `-`"),
            ));
        }
        if !is_type_name(crm.get_ref()) {
            return Err((
                key,
                at,
                format!(
                    "`{}` is not an activity type key: use the CRM's key of the type (`call`, `task`, …), letters, digits, `_` and `-`",
                    crm.get_ref()
                ),
            ));
        }
        lines.insert(local.clone(), line_of(at));
    }
    types.lines = lines;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, ConfigError};

    fn parse(table: &str) -> Result<Config, ConfigError> {
        Config::parse(
            &format!("[connections.pd]\nprovider = \"pipedrive\"\n\n{table}"),
            Path::new("c.toml"),
        )
    }

    #[test]
    fn entries_keep_their_line_and_bad_names_are_refused_with_it() {
        let config =
            parse("[connections.pd.activity_types]\nlinkedin = \"task\"\ndemo = \"lunch\"\n")
                .unwrap();
        let types = &config.connections["pd"].activity_types;
        assert_eq!(types.line_of("demo"), Some(6));
        assert_eq!(
            types.entries().collect::<Vec<_>>(),
            [("demo", "lunch"), ("linkedin", "task")]
        );
        let err = parse("[connections.pd.activity_types]\nlinkedin = \"a task\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 5") && err.contains("`connections.pd.activity_types.linkedin`"),
            "{err}"
        );
        let err = parse("[connections.pd.activity_types]\n\"linked in\" = \"task\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an activity type name"), "{err}");
    }

    #[test]
    fn a_hubspot_connection_takes_activity_types_only_when_it_names_activity() {
        let err = Config::parse(
            "[connections.hs]\nprovider = \"hubspot\"\n[connections.hs.activity_types]\ncall = \"call\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 4") && err.contains("syncs no activities"),
            "{err}"
        );
        let config = Config::parse(
            "[connections.hs]\nprovider = \"hubspot\"\nobjects = [\"contact\", \"activity\"]\n[connections.hs.activity_types]\ndemo = \"meeting\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(
            config.connections["hs"]
                .activity_types
                .entries()
                .collect::<Vec<_>>(),
            [("demo", "meeting")]
        );
    }
}
