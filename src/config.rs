//! The config file: its shape, its defaults, and how it is found and validated.
//!
//! Precedence, resolved once per process: command-line flag > `CRMSYNC_*` environment variable >
//! config file > built-in default. `config.example.toml` documents every key; a test parses it
//! into [`Config`], and unknown keys are refused everywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::mapping::{ConflictPolicy, Direction, OnDelete, Rule, RuleError};
use crate::model::ObjectKind;
use crate::providers::ProviderKind;

mod activity_types;
pub use activity_types::ActivityTypes;
mod crm_rules;
pub mod retry;
pub use retry::RetrySettings;
mod salesforce_keys;
mod token_vars;
mod upkeep;
pub use upkeep::{BackupSettings, LogSettings};

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
    /// Settings of every request to a CRM.
    #[serde(default)]
    pub http: HttpSettings,
    /// Copies of the state file before large runs.
    #[serde(default)]
    pub backup: BackupSettings,
    /// How long the run log and the audit trail are kept.
    #[serde(default)]
    pub log: LogSettings,
    /// How failed records are tried again.
    #[serde(default)]
    pub retry: RetrySettings,
    /// Settings of `listen`.
    #[serde(default)]
    pub listen: ListenSettings,
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
    /// A run that would archive (on both sides together) more than this share (percent) of a
    /// connection's live links stops before writing any archive; `--force` goes past.
    #[serde(deserialize_with = "percent")]
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

/// `[http]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// How long one request to a CRM may take, answer included, before it is given up (and
    /// retried, as a failure that may pass).
    pub timeout_secs: u64,
    /// Requests of a CRM's rate-limit window left unused, for other processes of the same
    /// app; crmsync sends at once while the window has more room than this.
    pub rate_limit_margin: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout_secs: crate::providers::http::DEFAULT_TIMEOUT_SECS,
            rate_limit_margin: crate::providers::http::DEFAULT_RATE_MARGIN,
        }
    }
}

/// `[listen]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenSettings {
    /// How often `listen` runs a delta sync besides the webhooks (`90s`, `15m`, `1h`), so
    /// that an event lost, refused or sent while the listener was down is caught up.
    pub poll_every: String,
    /// Per connection, the source crmsync's own writes carry in the CRM's events (HubSpot's
    /// `sourceId`, Pipedrive's `meta.user_id` with `change_source = "api"`): such events are
    /// dropped unread. Without it they cost one read and no write.
    pub own_sources: BTreeMap<String, String>,
}

impl Default for ListenSettings {
    fn default() -> Self {
        ListenSettings {
            poll_every: "15m".to_string(),
            own_sources: BTreeMap::new(),
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
    /// Which local records are created in this CRM, e.g. `warmness >= 4`; default: all. The
    /// connection-wide form applies to the one object whose fields it names;
    /// `[connections.NAME.OBJECT] create_when` names the object outright.
    pub create_when: Option<Spanned<String>>,
    /// The most requests one run may send to this connection (also `--max-requests`).
    pub max_requests_per_run: Option<u64>,
    /// Field mappings on top of the CRM's built-in defaults.
    #[serde(default)]
    pub fields: Vec<FieldMappingConfig>,
    /// `[connections.NAME.contact]`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ObjectSettings>,
    /// `[connections.NAME.company]`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<ObjectSettings>,
    /// `[connections.NAME.activity]`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<ObjectSettings>,
    /// `[connections.NAME.deal]`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal: Option<ObjectSettings>,
    /// `[connections.NAME.activity_types]`: local activity type → the CRM's type key.
    #[serde(default, skip_serializing_if = "ActivityTypes::is_empty")]
    pub activity_types: ActivityTypes,
    /// `[connections.NAME.owners]`: local owner emails → the email of the CRM user they are
    /// (for owners whose local email is not the one the CRM knows them by).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub owners: BTreeMap<String, Spanned<String>>,
    /// Salesforce: the host sign-in and token refresh go to; default
    /// `https://login.salesforce.com` (`https://test.salesforce.com` for a sandbox org, or the
    /// org's My Domain URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_url: Option<Spanned<String>>,
    /// Salesforce: the org's API host, as the token answer names it (`connect` writes it);
    /// required with `token_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_url: Option<Spanned<String>>,
    /// Salesforce: the REST API version, `vNN.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<Spanned<String>>,
    /// Salesforce: the share of the org's daily API allocation left to its other
    /// integrations, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_percent: Option<Spanned<i64>>,
    /// Salesforce: a first import of more records than this goes through Bulk API 2.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_threshold: Option<Spanned<i64>>,
    /// HubSpot: the id of the app whose webhooks `listen` takes. With `developer_key_env`,
    /// `listen --subscribe` reads the app's webhook settings and says what differs from the
    /// listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks_app_id: Option<Spanned<u64>>,
    /// HubSpot: the environment variable holding that app's developer API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer_key_env: Option<Spanned<String>>,
}

/// `[connections.NAME.OBJECT]`: one object's settings on one connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSettings {
    /// Which local records of this object are created in this CRM; default: all.
    pub create_when: Option<Spanned<String>>,
    /// Labels put on the records of this object crmsync creates in this CRM (added to the
    /// CRM's labels when missing); default: none. Only for CRMs with labels (Pipedrive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Spanned<Vec<Spanned<String>>>>,
}

impl ConnectionConfig {
    /// The settings table of `object`, if the config has one.
    pub fn object_settings(&self, object: ObjectKind) -> Option<&ObjectSettings> {
        match object {
            ObjectKind::Contact => self.contact.as_ref(),
            ObjectKind::Company => self.company.as_ref(),
            ObjectKind::Activity => self.activity.as_ref(),
            ObjectKind::Deal => self.deal.as_ref(),
        }
    }

    /// Whether this connection syncs `object` (where its CRM has it): named in `objects`,
    /// else when the CRM syncs it unless told otherwise (HubSpot's activities are synced
    /// only by a connection whose `objects` names `activity`).
    pub fn syncs(&self, object: ObjectKind) -> bool {
        match &self.objects {
            Some(named) => named.contains(&object),
            None => crate::providers::synced_by_default(self.provider, object),
        }
    }

    /// The objects this connection names in `objects`, else every object but deals (which a
    /// connection syncs only when it names them).
    fn named_objects(&self) -> Vec<ObjectKind> {
        self.objects.clone().unwrap_or_else(|| {
            ObjectKind::ALL
                .into_iter()
                .filter(|o| *o != ObjectKind::Deal)
                .collect()
        })
    }

    /// Which object the connection-wide `create_when` applies to: the one object, of those the
    /// connection syncs, whose fields it names. `Err` is a message and a 1-based column.
    fn shared_rule_object(&self, name: &str, source: &str) -> Result<ObjectKind, RuleError> {
        Rule::parse(source)?;
        let objects = self.named_objects();
        let fits: Vec<ObjectKind> = objects
            .iter()
            .copied()
            .filter(|o| Rule::parse_for(source, *o).is_ok())
            .collect();
        let tables = |list: &[ObjectKind]| {
            one_of(
                list.iter()
                    .map(|o| format!("`[connections.{name}.{o}]`"))
                    .collect(),
            )
        };
        match fits.as_slice() {
            [one] => Ok(*one),
            [] if objects.len() == 1 => Rule::parse_for(source, objects[0]).map(|_| objects[0]),
            [] => {
                // A field no synced object has is the clearest thing to point at.
                for o in &objects {
                    if let Err(e) = Rule::parse_for(source, *o) {
                        let unknown_everywhere = objects.iter().all(|other| {
                            Rule::parse_for(source, *other)
                                .err()
                                .is_some_and(|x| x.column == e.column)
                        });
                        if unknown_everywhere {
                            return Err(e);
                        }
                    }
                }
                Err(RuleError {
                    column: 1,
                    message: format!(
                        "the rule names fields of more than one object: write one rule per object, each under its own table ({}), as `create_when = \"...\"`",
                        tables(&objects)
                    ),
                })
            }
            several => Err(RuleError {
                column: 1,
                message: format!(
                    "the rule could apply to {} records alike: say which object it is for by moving it under {} as `create_when = \"...\"`",
                    one_of(several.iter().map(ObjectKind::to_string).collect()),
                    tables(several)
                ),
            }),
        }
    }

    /// The rule that decides which local records of `object` this connection creates in its
    /// CRM (`None`: all of them): `[connections.NAME.OBJECT] create_when`, else the
    /// connection-wide `create_when` when it is for `object`. The loader has already checked
    /// both, so `Err` only comes from a config built without it.
    pub fn create_rule(&self, name: &str, object: ObjectKind) -> Result<Option<Rule>, RuleError> {
        if let Some(src) = self
            .object_settings(object)
            .and_then(|s| s.create_when.as_ref())
        {
            return Rule::parse_for(src.get_ref(), object).map(Some);
        }
        match &self.create_when {
            Some(src) if self.shared_rule_object(name, src.get_ref())? == object => {
                Rule::parse_for(src.get_ref(), object).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Checks every `create_when` rule against the object it applies to. `Err` carries the
    /// key, the rule's span in the file and the error.
    fn check_rules(
        &self,
        name: &str,
    ) -> Result<(), (String, std::ops::Range<usize>, String, RuleError)> {
        let fail = |key: String, src: &Spanned<String>, e: RuleError| {
            (key, src.span(), src.get_ref().clone(), e)
        };
        let mut per_object = Vec::new();
        for object in ObjectKind::ALL {
            let Some(src) = self
                .object_settings(object)
                .and_then(|s| s.create_when.as_ref())
            else {
                continue;
            };
            let key = format!("connections.{name}.{object}.create_when");
            if !self.named_objects().contains(&object) {
                return Err(fail(
                    key,
                    src,
                    RuleError {
                        column: 1,
                        message: format!(
                            "this connection does not sync {object} records (`objects` in `[connections.{name}]`)"
                        ),
                    },
                ));
            }
            Rule::parse_for(src.get_ref(), object).map_err(|e| fail(key, src, e))?;
            per_object.push(object);
        }
        if let Some(src) = &self.create_when {
            let key = format!("connections.{name}.create_when");
            let object = self
                .shared_rule_object(name, src.get_ref())
                .map_err(|e| fail(key.clone(), src, e))?;
            if per_object.contains(&object) {
                return Err(fail(
                    key,
                    src,
                    RuleError {
                        column: 1,
                        message: format!(
                            "`[connections.{name}.{object}]` has its own `create_when`: keep one of the two"
                        ),
                    },
                ));
            }
        }
        Ok(())
    }
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
    /// Local values the CRM keeps under another value of its own (a HubSpot stage id that is a
    /// Salesforce stage by another name): local value → the CRM's (see
    /// [`crate::mapping::values`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
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
        let at = |offset: usize, message: String| {
            let (line, column) = line_col(text, offset);
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |span| span.start);
            let message = plain_expected(e.message().trim());
            let message = match e.span().and_then(|span| key_before(text, span.start)) {
                Some(key) => format!("`{key}`: {message}"),
                None => message,
            };
            at(offset, message)
        })?;
        config.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        for (name, conn) in &mut config.connections {
            activity_types::check(name, conn, |offset| line_col(text, offset).0)
                .map_err(|(key, offset, message)| at(offset, format!("`{key}`: {message}")))?;
        }
        for (name, conn) in &config.connections {
            conn.check_rules(name).map_err(|(key, span, source, e)| {
                at(
                    rule_offset(text, span, &source, e.column),
                    format!("`{key}` (`{}`): {}", quote(&source), e.message),
                )
            })?;
            crm_rules::check(name, conn).map_err(|(span, message)| at(span.start, message))?;
            salesforce_keys::check(name, conn, text)
                .map_err(|(offset, message)| at(offset, message))?;
        }
        token_vars::check(&config, text, path)?;
        Ok(config)
    }

    /// Checks what serde cannot: names, ranges, field names.
    fn validate(&self) -> Result<(), String> {
        if self.http.timeout_secs == 0 {
            return Err(format!(
                "`{}` is 0: expected a number of seconds, 1 or more",
                crate::providers::http::TIMEOUT_SETTING
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
                crate::providers::http::check_base_url(url)
                    .map_err(|m| format!("`connections.{name}.base_url`: {m}"))?;
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
                if let Some((local, crm)) = f
                    .values
                    .iter()
                    .find(|(l, c)| l.trim().is_empty() || c.trim().is_empty())
                {
                    return Err(format!(
                        "`connections.{name}.fields[{i}].values`: `{local}` = `{crm}` leaves a side empty: name a local value and the CRM's"
                    ));
                }
            }
        }
        // `acme-eu` and `acme_eu` (or `Acme`) would read one `CRMSYNC_TOKEN_ACME_EU`, and so
        // send one connection's token to the other's host.
        let mut by_var: BTreeMap<String, &str> = BTreeMap::new();
        for name in self.connections.keys() {
            let var = crate::env::token_var(name);
            if let Some(other) = by_var.insert(var.clone(), name) {
                return Err(format!(
                    "connections `{other}` and `{name}` would both read their token from `{var}` \
                     (and their client secret from `{}`): rename one of them",
                    crate::auth::client_secret_var(name)
                ));
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

/// `a`, `a or b`, `a, b or c`.
fn one_of(mut items: Vec<String>) -> String {
    match items.pop() {
        Some(last) if !items.is_empty() => format!("{} or {last}", items.join(", ")),
        Some(last) => last,
        None => String::new(),
    }
}

/// A percentage: a whole number from 0 to 100.
fn percent<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    use serde::de::{Error, Unexpected};
    const EXPECTED: &str = "a whole number from 0 to 100 (a percentage)";
    match i64::deserialize(d) {
        Ok(n) if (0..=100).contains(&n) => Ok(n as u8),
        Ok(n) => Err(D::Error::invalid_value(Unexpected::Signed(n), &EXPECTED)),
        Err(e) => Err(D::Error::custom(plain_expected(
            &e.to_string()
                .replace("expected i64", &format!("expected {EXPECTED}")),
        ))),
    }
}

/// A deserializer's message with Rust's type names (`expected u8`) said as people say them.
fn plain_expected(message: &str) -> String {
    const PLAIN: &[(&str, &str)] = &[
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected `true` or `false`"),
        ("expected a sequence", "expected a list (`[\"a\", \"b\"]`)"),
        ("expected a string", "expected text in quotes"),
    ];
    let mut out = message.to_string();
    for (rust, plain) in PLAIN {
        if let Some(at) = out.find(rust) {
            let end = at + rust.len();
            // `expected u8` but not `expected u80`-like words.
            if !out[end..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
                out.replace_range(at..end, plain);
            }
        }
    }
    out
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
        ObjectKind::Activity | ObjectKind::Deal => Vec::new(),
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

/// The key of a `key = value` line whose value starts at byte `offset`.
fn key_before(text: &str, offset: usize) -> Option<&str> {
    let before = text.get(..offset)?;
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let key = line.trim_end().strip_suffix('=')?.trim();
    let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    (!key.is_empty() && key.chars().all(bare)).then_some(key)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The byte offset in the file of a rule's 1-based `column`: exact when the TOML string is
/// written without escapes on one line (as rules are), else the start of the string.
fn rule_offset(text: &str, span: std::ops::Range<usize>, source: &str, column: usize) -> usize {
    let written = text.get(span.clone()).unwrap_or("");
    let quoted = ["\"", "'"].iter().any(|q| {
        written.len() == source.len() + 2 && written.starts_with(q) && written.ends_with(q)
    });
    if quoted && &written[1..written.len() - 1] == source {
        let inner: usize = source
            .chars()
            .take(column.saturating_sub(1))
            .map(char::len_utf8)
            .sum();
        span.start + 1 + inner
    } else {
        span.start
    }
}

/// Config text quoted in a message, cut to a readable length.
fn quote(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// The default config file: `crmsync/config.toml` in the platform config directory.
pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "crmsync").map(|d| d.config_dir().join("config.toml"))
}

/// The default state file: `crmsync/state.db` in the platform data directory.
pub fn default_state_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "crmsync").map(|d| d.data_dir().join("state.db"))
}

/// The line and message a config `text` is refused with at load (for the tests of the
/// checks that name the line).
#[cfg(test)]
pub(crate) fn refusal_with_line(text: &str) -> (usize, String) {
    match Config::parse(text, Path::new("c.toml")) {
        Err(ConfigError::Parse { line, message, .. }) => (line, message),
        other => panic!("expected a refusal with a line, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("crmsync.toml"))
    }

    fn refusal(text: &str) -> String {
        parse(text).expect_err(text).to_string()
    }

    #[test]
    fn a_value_out_of_range_says_what_is_expected_in_words() {
        let cases: &[(&str, &str)] = &[
            (
                "[sync]\nmax_archive_pct = 300\n",
                "line 2, column 19: `max_archive_pct`: invalid value: integer `300`, expected a whole number from 0 to 100 (a percentage)",
            ),
            (
                "[sync]\nmax_archive_pct = -1\n",
                "expected a whole number from 0 to 100",
            ),
            (
                "[sync]\nmax_archive_pct = \"half\"\n",
                "expected a whole number from 0 to 100",
            ),
            (
                "[sync]\noverlap_secs = -4\n",
                "line 2, column 16: `overlap_secs`: invalid value: integer `-4`, expected a whole number, 0 or more",
            ),
            (
                "[connections.a]\nprovider = \"hubspot\"\nredirect_port = 70000\n",
                "expected a whole number from 0 to 65535",
            ),
            (
                "[connections.a]\nprovider = \"hubspot\"\nmax_requests_per_run = 1.5\n",
                "expected a whole number, 0 or more",
            ),
            (
                "[connections.a]\nprovider = \"hubspot\"\nobjects = \"contact\"\n",
                "expected a list",
            ),
        ];
        for (text, want) in cases {
            let got = refusal(text);
            assert!(got.contains(want), "{text}: {got}");
            assert!(!got.contains("expected u"), "{text}: {got}");
        }
        assert_eq!(
            parse("[sync]\nmax_archive_pct = 100\n")
                .unwrap()
                .sync
                .max_archive_pct,
            100
        );
    }

    #[test]
    fn a_rule_is_checked_at_load_with_its_line_and_column() {
        let err = refusal(
            "[connections.acme]\nprovider = \"hubspot\"\ncreate_when = \"warmness >>= 4\"\n",
        );
        assert!(
            err.contains("line 3, column 26: `connections.acme.create_when` (`warmness >>= 4`): expected a field or a value, found `>=`"),
            "{err}"
        );
        let err = refusal(
            "[connections.acme]\nprovider = \"hubspot\"\n[connections.acme.contact]\ncreate_when = 'warmness >= \"hot\"'\n",
        );
        assert!(
            err.contains("line 4, column 28: `connections.acme.contact.create_when`"),
            "{err}"
        );
        assert!(
            err.contains("`warmness` is a number: expected a number, found `hot`"),
            "{err}"
        );
    }

    #[test]
    fn the_connection_wide_rule_applies_to_the_one_object_whose_fields_it_names() {
        let config =
            parse("[connections.acme]\nprovider = \"hubspot\"\ncreate_when = \"warmness >= 4\"\n")
                .unwrap();
        let conn = &config.connections["acme"];
        let rule = conn.create_rule("acme", ObjectKind::Contact).unwrap();
        assert_eq!(rule.unwrap().source(), "warmness >= 4");
        assert!(
            conn.create_rule("acme", ObjectKind::Company)
                .unwrap()
                .is_none()
        );
        // Limited by `objects`, a custom field's rule is unambiguous too.
        let config = parse(
            "[connections.acme]\nprovider = \"hubspot\"\nobjects = [\"contact\"]\ncreate_when = \"custom.tier == 'gold'\"\n",
        )
        .unwrap();
        assert!(
            config.connections["acme"]
                .create_rule("acme", ObjectKind::Contact)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn rules_that_cannot_be_placed_are_refused_with_how_to_rewrite_them() {
        let cases: &[(&str, &str)] = &[
            (
                "[connections.acme]\nprovider = \"hubspot\"\ncreate_when = \"custom.tier == 'gold'\"\n",
                "could apply to company, contact or activity records alike: say which object it is for by moving it under `[connections.acme.company]`",
            ),
            (
                "[connections.acme]\nprovider = \"hubspot\"\ncreate_when = \"warmness >= 4 and domain == 'x.com'\"\n",
                "names fields of more than one object",
            ),
            (
                "[connections.acme]\nprovider = \"hubspot\"\ncreate_when = \"colour == 'red'\"\n",
                "line 3, column 16: `connections.acme.create_when` (`colour == 'red'`): `colour` is not a",
            ),
            (
                "[connections.acme]\nprovider = \"hubspot\"\ncreate_when = \"warmness >= 4\"\n[connections.acme.contact]\ncreate_when = \"warmness >= 5\"\n",
                "has its own `create_when`: keep one of the two",
            ),
            (
                "[connections.acme]\nprovider = \"hubspot\"\nobjects = [\"contact\"]\n[connections.acme.company]\ncreate_when = \"name\"\n",
                "this connection does not sync company records",
            ),
            (
                "[connections.acme]\nprovider = \"hubspot\"\n[connections.acme.contact]\ncreate_when = \"name\"\n",
                "line 4, column 16: `connections.acme.contact.create_when` (`name`): `name` is not a contact field",
            ),
        ];
        for (text, want) in cases {
            let got = refusal(text);
            assert!(got.contains(want), "{text}\n{got}");
        }
    }

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
