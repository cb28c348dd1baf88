//! The config file: its shape, its defaults, and how it is found and validated.
//!
//! Precedence, resolved once per process: command-line flag > `CRMSYNC_*` environment variable >
//! config file > built-in default. `config.example.toml` documents every key; a test parses it
//! into [`Config`], and unknown keys are refused everywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::mapping::{ConflictPolicy, Direction, OnDelete};
use crate::model::ObjectKind;
use crate::providers::ProviderKind;

/// The whole config file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The SQLite state file; default: `crmsync/state.db` in the platform data directory.
    pub state: Option<PathBuf>,
    /// Settings of every sync run.
    #[serde(default)]
    pub sync: SyncSettings,
    /// Settings of `import`.
    #[serde(default)]
    pub import: ImportSettings,
    /// Conflict policies per object and canonical field, shared by every connection unless a
    /// connection's field mapping names its own.
    #[serde(default)]
    pub policies: BTreeMap<ObjectKind, BTreeMap<String, ConflictPolicy>>,
    /// The CRM connections, by name.
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionConfig>,
}

/// `[sync]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSettings {
    /// The policy for conflicting fields that name none.
    pub conflict_policy: ConflictPolicy,
    /// A plan that would archive more than this share (percent) of a connection's linked
    /// records stops before writing anything; `--force` goes past.
    pub max_archive_pct: u8,
    /// How far back (seconds) each change-feed read starts before the stored cursor, for
    /// clock skew between crmsync and the CRM and for search indexes that lag behind writes.
    pub overlap_secs: u64,
    /// The canonical fields that match an unlinked record to a local one (normalised), per
    /// object; default: `email` for contacts, `domain` for companies.
    pub match_keys: MatchKeys,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            conflict_policy: ConflictPolicy::NewestWins,
            max_archive_pct: 50,
            overlap_secs: (crate::providers::DEFAULT_OVERLAP_MS / 1000) as u64,
            match_keys: MatchKeys::default(),
        }
    }
}

/// `[import]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportSettings {
    /// The calling code used to write national phone numbers in E.164 (`+44`); without it
    /// only numbers written with `+` or `00` get an E.164 form.
    pub default_calling_code: Option<String>,
    /// What to do with a row whose match key is already in the store or earlier in the file.
    pub on_duplicate: OnDuplicate,
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings {
            default_calling_code: None,
            on_duplicate: OnDuplicate::Merge,
        }
    }
}

/// What import does with a duplicate row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum OnDuplicate {
    /// Fill and overwrite the existing record's fields with the row's non-empty values.
    #[default]
    Merge,
    /// Keep the existing record; the row is counted as skipped.
    Skip,
    /// Reject the row, with its line number.
    Error,
}

/// `[connections.NAME]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// Which CRM.
    pub provider: ProviderKind,
    /// The API base URL, to point at a sandbox or emulator; default: the CRM's own.
    pub base_url: Option<String>,
    /// The OAuth authorize URL, to point sign-in at a sandbox; default: the CRM's own.
    pub auth_url: Option<String>,
    /// The OAuth app's client id (the secret comes from the keychain or the environment).
    pub client_id: Option<String>,
    /// The environment variable that holds this connection's token, for machines without a
    /// keychain (`crmsync connect --token-env VAR` writes it there); `CRMSYNC_TOKEN_<NAME>`
    /// still comes first.
    pub token_env: Option<String>,
    /// OAuth scopes to ask for; default: what crmsync needs for the synced objects.
    pub scopes: Option<Vec<String>>,
    /// A fixed port for the OAuth redirect listener (some CRMs want an exact redirect URL);
    /// default: a random free port.
    pub redirect_port: Option<u16>,
    /// The objects this connection syncs; default: every object the CRM has.
    pub objects: Option<Vec<ObjectKind>>,
    /// What a record archived on the other side does here.
    #[serde(default)]
    pub on_delete: OnDelete,
    /// Match keys for this connection; default: `[sync] match_keys`.
    pub match_keys: Option<MatchKeys>,
    /// Which local records are created in this CRM, e.g. `warmness >= 4`; default: all.
    pub create_when: Option<String>,
    /// The most requests one run may send to this connection (also `--max-requests`).
    pub max_requests_per_run: Option<u64>,
    /// Field mappings on top of the CRM's built-in defaults.
    #[serde(default)]
    pub fields: Vec<FieldMappingConfig>,
}

/// `[[connections.NAME.fields]]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMappingConfig {
    /// The object this mapping is for.
    pub object: ObjectKind,
    /// The canonical field (`pronouns`, `custom.favourite_colour`).
    pub local: String,
    /// The CRM property; default: the built-in mapping's, or for a custom field its own name.
    pub remote: Option<String>,
    #[serde(default)]
    pub direction: Option<Direction>,
    pub policy: Option<ConflictPolicy>,
    /// A transform applied to values coming from the CRM and reversed going to it.
    pub transform: Option<String>,
}

/// A config file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file `{path}`, line {line}, column {column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid config file `{path}`: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates config text; `path` is for messages only.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_col(text, span.start))
                .unwrap_or((1, 1));
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        config.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(config)
    }

    /// Checks what serde cannot: names, ranges, field names.
    fn validate(&self) -> Result<(), String> {
        if self.sync.max_archive_pct > 100 {
            return Err(format!(
                "`sync.max_archive_pct` is {}: expected a percentage from 0 to 100",
                self.sync.max_archive_pct
            ));
        }
        self.sync
            .match_keys
            .check()
            .map_err(|m| format!("`sync.match_keys`: {m}"))?;
        for (object, fields) in &self.policies {
            for field in fields.keys() {
                if object.field_type(field).is_none() {
                    return Err(format!(
                        "`policies.{object}.{field}`: `{field}` is not a {object} field"
                    ));
                }
            }
        }
        for (name, conn) in &self.connections {
            check_connection_name(name).map_err(|m| format!("`connections.{name}`: {m}"))?;
            if let Some(url) = &conn.base_url {
                url::Url::parse(url).map_err(|e| {
                    format!("`connections.{name}.base_url` is not a URL (`{url}`): {e}")
                })?;
            }
            if let Some(keys) = &conn.match_keys {
                keys.check()
                    .map_err(|m| format!("`connections.{name}.match_keys`: {m}"))?;
            }
            for (i, f) in conn.fields.iter().enumerate() {
                if f.object.field_type(&f.local).is_none() {
                    return Err(format!(
                        "`connections.{name}.fields[{i}]`: `{}` is not a {} field (custom fields are named `custom.<name>`)",
                        f.local, f.object
                    ));
                }
            }
        }
        Ok(())
    }

    /// The connection named `name`, or an error listing the configured ones.
    pub fn connection(&self, name: &str) -> Result<&ConnectionConfig, String> {
        self.connections.get(name).ok_or_else(|| {
            if self.connections.is_empty() {
                format!("no connection named `{name}` is configured (there are none yet)")
            } else {
                let names: Vec<_> = self.connections.keys().map(|n| format!("`{n}`")).collect();
                format!(
                    "no connection named `{name}` is configured (configured: {})",
                    names.join(", ")
                )
            }
        })
    }
}

/// Match keys: one list for every object (`["email"]`), or a list per object
/// (`{ contact = ["email"], company = ["domain"] }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MatchKeys {
    /// Each object takes the fields of it that the list names; an object none of whose
    /// fields it names keeps its default. An empty list matches nothing.
    All(Vec<String>),
    /// The keys of each object named; an object not named keeps its default.
    PerObject(BTreeMap<ObjectKind, Vec<String>>),
}

impl Default for MatchKeys {
    fn default() -> Self {
        MatchKeys::PerObject(BTreeMap::new())
    }
}

impl From<Vec<String>> for MatchKeys {
    fn from(keys: Vec<String>) -> Self {
        MatchKeys::All(keys)
    }
}

impl MatchKeys {
    /// The match keys of `kind`.
    pub fn for_object(&self, kind: ObjectKind) -> Vec<String> {
        match self {
            MatchKeys::All(keys) if keys.is_empty() => Vec::new(),
            MatchKeys::All(keys) => {
                let own: Vec<String> = keys
                    .iter()
                    .filter(|k| kind.field_type(k).is_some())
                    .cloned()
                    .collect();
                if own.is_empty() {
                    default_match_keys(kind)
                } else {
                    own
                }
            }
            MatchKeys::PerObject(map) => map
                .get(&kind)
                .cloned()
                .unwrap_or_else(|| default_match_keys(kind)),
        }
    }

    /// Every key names a field (of its object, where one is named).
    fn check(&self) -> Result<(), String> {
        match self {
            MatchKeys::All(keys) => {
                for key in keys {
                    if ObjectKind::Contact.field_type(key).is_none()
                        && ObjectKind::Company.field_type(key).is_none()
                    {
                        return Err(format!("`{key}` is not a contact or company field"));
                    }
                }
            }
            MatchKeys::PerObject(map) => {
                for (kind, keys) in map {
                    for key in keys {
                        if kind.field_type(key).is_none() {
                            return Err(format!("`{key}` is not a {kind} field"));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The match keys of `kind` when none are configured: the field that names one real-world
/// object (`email` for contacts, `domain` for companies; none for activities).
pub fn default_match_keys(kind: ObjectKind) -> Vec<String> {
    match kind {
        ObjectKind::Contact => vec!["email".to_string()],
        ObjectKind::Company => vec!["domain".to_string()],
        ObjectKind::Activity => Vec::new(),
    }
}

/// A connection name: letters, digits, `-` and `_`, 1 to 64 characters.
pub fn check_connection_name(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid connection name: use letters, digits, `-` and `_`"
        ))
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

/// The default config file: `crmsync/config.toml` in the platform config directory.
pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "crmsync").map(|d| d.config_dir().join("config.toml"))
}

/// The default state file: `crmsync/state.db` in the platform data directory.
pub fn default_state_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "crmsync").map(|d| d.data_dir().join("state.db"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Result<MatchKeys, String> {
        Config::parse(text, Path::new("c.toml"))
            .map(|c| c.sync.match_keys)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn match_keys_are_per_object_with_defaults() {
        let default = keys("").unwrap();
        assert_eq!(default.for_object(ObjectKind::Contact), ["email"]);
        assert_eq!(default.for_object(ObjectKind::Company), ["domain"]);
        assert!(default.for_object(ObjectKind::Activity).is_empty());

        let list = keys("[sync]\nmatch_keys = [\"email\"]\n").unwrap();
        assert_eq!(list.for_object(ObjectKind::Contact), ["email"]);
        assert_eq!(
            list.for_object(ObjectKind::Company),
            ["domain"],
            "its default"
        );
        let none = keys("[sync]\nmatch_keys = []\n").unwrap();
        assert!(none.for_object(ObjectKind::Company).is_empty());

        let table = keys("[sync.match_keys]\ncompany = [\"name\"]\n").unwrap();
        assert_eq!(table.for_object(ObjectKind::Company), ["name"]);
        assert_eq!(table.for_object(ObjectKind::Contact), ["email"]);

        let err = keys("[sync.match_keys]\ncompany = [\"email\"]\n").unwrap_err();
        assert!(err.contains("`email` is not a company field"), "{err}");
    }
}
