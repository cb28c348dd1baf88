//! Providers: one module per CRM behind one trait, plus the shared HTTP layer.
//!
//! A provider speaks one CRM's API and nothing else. It deals in **remote property names** and
//! the CRM's own ids; the mapping layer (`crate::mapping`) turns those into canonical fields
//! and local ids before the engine sees them. No CRM-specific name (URL, property, header)
//! appears outside the provider's own folder.
//!
//! Values in [`RemoteRecord::props`] are the CRM's values as text, exactly as the CRM returned
//! them (HubSpot already sends every property as a string; other CRMs' providers render numbers
//! and booleans as text). An empty value is absent. References to other objects are given as
//! pseudo-properties named by the provider (for example HubSpot's `associations.companies`),
//! whose value is the CRM id of the target; the provider's [`DefaultMapping`]s map them to
//! canonical ref fields.
//!
//! # One folder per CRM
//! A CRM's provider is a folder, `providers/<crm>/`, split by concern as `hubspot/` is: its
//! JSON (`wire`), its change feed (`feed`), its batch writes and how their answers are matched
//! (`batch`), its field catalogue and built-in mappings (`catalogue`), its OAuth facts
//! (`auth`), and its limits (`pacing`, a [`http::PacingPolicy`]), with `mod.rs` holding the
//! provider and an `impl Provider` that delegates. The shared layer beside the trait
//! ([`http`]: client, retry, pacing, error text) names no CRM. What is the same for every
//! account of a CRM is known without a connection: [`default_mappings`], [`oauth_spec`],
//! [`default_base_url`].

pub mod http;
pub mod hubspot;
pub mod pipedrive;
pub mod salesforce;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{Direction, Millis, ObjectKind};

/// The CRMs crmsync speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Hubspot,
    Pipedrive,
    Salesforce,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [
        ProviderKind::Hubspot,
        ProviderKind::Pipedrive,
        ProviderKind::Salesforce,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Hubspot => "hubspot",
            ProviderKind::Pipedrive => "pipedrive",
            ProviderKind::Salesforce => "salesforce",
        }
    }

    /// The CRM's name as people write it.
    pub fn display_name(self) -> &'static str {
        match self {
            ProviderKind::Hubspot => "HubSpot",
            ProviderKind::Pipedrive => "Pipedrive",
            ProviderKind::Salesforce => "Salesforce",
        }
    }

    /// Whether crmsync reads this CRM's archived records by id
    /// ([`Provider::read_archived_by_ids`]), so that a record its webhook says was deleted can
    /// be confirmed at once by reading it: HubSpot (its batch read with `archived=true`). The
    /// others' deletions are read through the change feed, which reads them every run; a
    /// record such a CRM does not return live is not taken for archived (or erased) on an
    /// event's word.
    pub fn reads_archived_by_id(self) -> bool {
        match self {
            ProviderKind::Hubspot => true,
            ProviderKind::Pipedrive | ProviderKind::Salesforce => false,
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ProviderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hubspot" => Ok(ProviderKind::Hubspot),
            "pipedrive" => Ok(ProviderKind::Pipedrive),
            "salesforce" => Ok(ProviderKind::Salesforce),
            other => Err(format!(
                "unknown provider `{other}`: expected `hubspot`, `pipedrive` or `salesforce`"
            )),
        }
    }
}

/// One record as a CRM holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RemoteRecord {
    /// The CRM's id for the record.
    pub id: String,
    /// Remote property name → value as text; empty values are absent.
    pub props: BTreeMap<String, String>,
    /// When the CRM last modified the record (its own clock).
    pub updated_at: Millis,
    /// Per-property modification times, where the CRM gives them (else empty: the planner
    /// falls back to `updated_at`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prop_updated_at: BTreeMap<String, Millis>,
    /// Archived (HubSpot) or deleted (Pipedrive, Salesforce) in the CRM.
    pub archived: bool,
    /// The local record id carried in the CRM's external-id field (`crmsync_id`), if set.
    pub external_id: Option<String>,
    /// The properties the CRM's answer named, with a value or empty, where the CRM tells the
    /// two apart (`None`: every property asked for counts as named). A property asked for
    /// and not named no longer exists in the CRM (it was deleted there): its field is taken
    /// as unchanged, never as cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned: Option<BTreeSet<String>>,
}

impl RemoteRecord {
    /// A fingerprint of the record as read: its modification time, whether it is archived, and
    /// every value. A plan keeps it to tell whether the record moved before `apply`: a CRM
    /// whose times are to the second (Pipedrive) keeps `updated_at` through a second edit made
    /// in the same second, so the time alone cannot say.
    pub fn fingerprint(&self) -> i64 {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(self.updated_at.to_le_bytes());
        h.update([u8::from(self.archived)]);
        for (k, v) in &self.props {
            // Lengths first, so no two records' values run together into the same bytes.
            h.update((k.len() as u64).to_le_bytes());
            h.update(k.as_bytes());
            h.update((v.len() as u64).to_le_bytes());
            h.update(v.as_bytes());
        }
        let digest = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        i64::from_le_bytes(first)
    }
}

/// Per-property modification times of some records: remote id → remote property → time.
pub type FieldTimes = BTreeMap<String, BTreeMap<String, Millis>>;

/// One page of a change feed.
#[derive(Debug, Clone, Default)]
pub struct ChangePage {
    /// Records changed (or archived) since the cursor, in the CRM's order.
    pub records: Vec<RemoteRecord>,
    /// Where to continue within this read; `None` on the last page.
    pub next: Option<String>,
    /// A cursor that may be stored once this page and every page before it are committed.
    /// The provider builds the overlap for clock skew into it.
    pub checkpoint: Option<String>,
    /// How many records the read gives in all, where the CRM said (a Salesforce Bulk API
    /// job's count), for the read's progress; `None` when unknown.
    pub total: Option<u64>,
}

/// What to read.
#[derive(Debug, Clone)]
pub struct ChangeQuery {
    pub object: ObjectKind,
    /// The stored cursor; `None` means read everything (first sync or `--full`).
    pub since: Option<String>,
    /// Continuation token from the previous page of the same read.
    pub page: Option<String>,
    /// Whether the connection has any record of this object linked (live or retired). With
    /// none, a record archived in the CRM concerns nothing here, so a provider may skip
    /// reading its archives or deletions (HubSpot's archived list, Pipedrive's change log)
    /// and count them as read up to now.
    pub has_links: bool,
}

/// One record to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteWrite {
    /// The local record id; creates carry it into the CRM's external-id field.
    pub local_id: String,
    /// The CRM id; `None` for a create.
    pub remote_id: Option<String>,
    /// Remote properties to set; an empty string clears the property.
    pub props: BTreeMap<String, String>,
    /// An update that also writes `local_id` into the external-id field: the engine linked
    /// the record to a local one it did not create (matched by key, or refused as a
    /// duplicate). Creates always write it.
    #[serde(default)]
    pub set_external_id: bool,
    /// For a create: the CRM ids of records that local records archived here with
    /// `on_delete = "ignore"` left live (their links retired), which share this record's
    /// match key (email, domain). A CRM that refuses a duplicate (HubSpot) says so when the
    /// create is sent; a provider for one that does not (Pipedrive) reads these first and
    /// answers [`RecordErrorKind::Duplicate`] for one still live with the same value, so the
    /// new local record takes it over instead of making a second one.
    ///
    /// For an activity (which has no match key): the CRM ids of the records linked to other
    /// live local activities with its content key (type, subject, time or due date, and its
    /// contact, else company), such as a row imported twice. A provider that looks for an
    /// activity before creating it (HubSpot) reads these and answers
    /// [`RecordErrorKind::Duplicate`] for one still live there with that content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub takes_over: Vec<String>,
    /// For a create of a record the CRM cannot find by its local id (HubSpot activities carry
    /// none): the engine has matched it against the CRM's records already, so the provider
    /// need not look for it there before sending the create. Set when the run read the
    /// object's change feed before its writes: every record the CRM made or changed since the
    /// last read (one a run stopped between a create and its link left behind, one logged in
    /// the CRM too) was offered to the unlinked local records by content and paired, and the
    /// older ones are linked, those with the create's content named in
    /// [`RemoteWrite::takes_over`]. Unset in runs that read the CRM by id (`sync --record`,
    /// `listen`'s event runs), for a connection with `on_delete = "ignore"` (a local activity
    /// archived there leaves its CRM record live behind a retired link, which the engine's
    /// check does not cover), and for every other write.
    #[serde(default)]
    pub content_checked: bool,
}

impl RemoteWrite {
    /// The record among `found` (the CRM's answer for [`RemoteWrite::takes_over`]) that this
    /// create would duplicate: the first of `takes_over` still live there with the create's
    /// value of `email` (case aside; any, when the create has none). For CRMs that let two
    /// records share an email, so that a create is never refused as a duplicate.
    pub fn left_live<'a>(
        &self,
        found: &'a [RemoteRecord],
        email: &str,
    ) -> Option<&'a RemoteRecord> {
        let mine = self.props.get(email).filter(|e| !e.is_empty());
        self.takes_over.iter().find_map(|id| {
            found.iter().find(|r| {
                &r.id == id
                    && !r.archived
                    && mine.is_none_or(|e| {
                        r.props
                            .get(email)
                            .is_some_and(|x| x.eq_ignore_ascii_case(e))
                    })
            })
        })
    }
}

/// Why the CRM refused one record of a call that otherwise went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct RecordError {
    /// The CRM's own message, as it sent it.
    pub message: String,
    /// HTTP status or the CRM's error code, when there is one.
    pub code: Option<String>,
    /// Worth trying again as it is (a timeout, a lock), as opposed to bad data.
    pub retryable: bool,
    /// What the refusal means to the engine, where it acts on it.
    #[serde(default)]
    pub kind: RecordErrorKind,
}

/// What a [`RecordError`] means to the engine.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordErrorKind {
    /// A refusal the engine keeps as the record's failure (bad data, a timeout, a lock).
    #[default]
    Refused,
    /// The CRM refused the write because the record exists already: `existing_id` is the CRM
    /// id of that record. The engine reads it with [`Provider::read_by_ids`] and, unless it is
    /// linked to another local record already, links the local record to it and merges the
    /// two in the same run (see `crate::engine::execute`).
    Duplicate { existing_id: String },
}

impl RecordError {
    /// The refusal of a write naming properties `crm` does not have (`HubSpot activities`),
    /// with the code that lists them ([`UNKNOWN_PROPERTIES_CODE_PREFIX`]).
    pub fn unknown(crm: &str, unknown: &[String]) -> RecordError {
        let names: Vec<String> = unknown.iter().map(|n| format!("`{n}`")).collect();
        RecordError {
            message: format!("{crm} have no property named {}", names.join(", ")),
            code: Some(format!(
                "{UNKNOWN_PROPERTIES_CODE_PREFIX}{}",
                unknown.join(",")
            )),
            retryable: false,
            kind: RecordErrorKind::Refused,
        }
    }
}

/// How a duplicate's [`RecordError::failure_code`] starts: `duplicate:<remote id>`, the code
/// a failure keeps in the store and `crmsync status` shows.
pub const DUPLICATE_CODE_PREFIX: &str = "duplicate:";

/// The prefix of [`RecordError::code`] when the CRM refused a write because it names
/// properties the CRM does not have (deleted there since its catalogue was read):
/// `unknown-properties:<name>,<name>`. The engine asks for the catalogue again and writes the
/// record once more without them, in the same run.
pub const UNKNOWN_PROPERTIES_CODE_PREFIX: &str = "unknown-properties:";

impl RecordError {
    /// The remote properties the CRM refused the write for because it does not have them.
    pub fn unknown_properties(&self) -> Vec<String> {
        self.code
            .as_deref()
            .and_then(|c| c.strip_prefix(UNKNOWN_PROPERTIES_CODE_PREFIX))
            .map(|names| {
                names
                    .split(',')
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The CRM id of the existing record, when the CRM refused a write as a duplicate.
    pub fn duplicate_of(&self) -> Option<&str> {
        match &self.kind {
            RecordErrorKind::Duplicate { existing_id } if !existing_id.is_empty() => {
                Some(existing_id)
            }
            _ => None,
        }
    }

    /// Why writing this record again as it is cannot succeed, in words, when the refusal is
    /// of that kind: the CRM refused the data itself (a validation error, a value too long,
    /// an owner it does not have) or no longer has the record. Such a failure is parked for a
    /// person at once instead of being tried again by later runs. `None` for a refusal that
    /// may pass on a later try (a timeout, a lock, a rate limit, a server error, anything
    /// unclassified), for a duplicate and for unknown properties, which the engine settles in
    /// the run itself. The codes are those the providers' refusal modules give.
    pub fn permanent_reason(&self) -> Option<String> {
        if self.retryable || self.duplicate_of().is_some() || !self.unknown_properties().is_empty()
        {
            return None;
        }
        match self.code.as_deref()? {
            "400" | "422" | "VALIDATION_ERROR" | "INVALID_OPTION" | "too_long" | "owner" => Some(
                "a validation error: the CRM does not take this record's values as they are, so trying again cannot help; mend the value, then `crmsync retry RECORD`"
                    .into(),
            ),
            "404" | "410" | "OBJECT_NOT_FOUND" => Some(
                "the CRM no longer has this record, so trying again cannot help; restore it there or archive the local record, then `crmsync retry RECORD`"
                    .into(),
            ),
            _ => None,
        }
    }

    /// The code a failure keeps in the store: [`RecordError::code`], or for a duplicate
    /// `duplicate:<remote id>` ([`DUPLICATE_CODE_PREFIX`]).
    pub fn failure_code(&self) -> Option<String> {
        match self.duplicate_of() {
            Some(id) => Some(format!("{DUPLICATE_CODE_PREFIX}{id}")),
            None => self.code.clone(),
        }
    }
}

/// The outcome for each input of a batch write, in input order.
pub type WriteResults<T> = Vec<Result<T, RecordError>>;

/// A call that failed as a whole: nothing in it is known to have been written or read.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The CRM refused the credentials, even after a refresh.
    #[error("{crm} rejected the credentials for connection `{connection}`: {message}")]
    Auth {
        crm: &'static str,
        connection: String,
        message: String,
    },
    /// The CRM refused a token read from an environment variable, which wins over the keychain.
    #[error(
        "{crm} rejected the token in `{var}` for connection `{connection}`{}",
        if *keychain_has_entry { "; the keychain entry crmsync would use otherwise is not tried while it is set" } else { "" }
    )]
    EnvTokenRejected {
        crm: &'static str,
        connection: String,
        var: String,
        keychain_has_entry: bool,
    },
    /// No credentials are available for the connection.
    #[error("no token for connection `{connection}`: {message}")]
    NoToken { connection: String, message: String },
    /// The per-run request budget (`max_requests_per_run`, `--max-requests`) is spent.
    #[error("connection `{connection}` used its budget of {budget} requests for this run")]
    Budget { connection: String, budget: u64 },
    /// The CRM's allowance of requests for the day is down to the reserve crmsync leaves for
    /// the account's other uses.
    #[error(
        "{crm} allows connection `{connection}` {remaining} more requests today, which crmsync leaves to the account's other uses ({reserve} are kept in reserve)"
    )]
    DailyLimit {
        crm: &'static str,
        connection: String,
        remaining: u64,
        reserve: u64,
    },
    /// The CRM answered with an error that retries did not cure.
    #[error("{crm} answered {status} for connection `{connection}`: {message}")]
    Api {
        crm: &'static str,
        connection: String,
        status: u16,
        message: String,
    },
    /// The CRM could not be reached, or stopped answering.
    #[error("could not reach {crm} for connection `{connection}`: {message}")]
    Network {
        crm: &'static str,
        connection: String,
        message: String,
    },
    /// Anything else (a response that does not parse, a missing field).
    #[error("{0}")]
    Other(String),
}

/// The change-feed page size a test asks for (`CRMSYNC_TEST_SEARCH_LIMIT`, from 1 to `max`),
/// so that a few records span several pages; never in a release build.
#[cfg(feature = "test-seams")]
pub(crate) fn test_page_size(max: usize) -> Option<usize> {
    std::env::var(crate::env::TEST_SEARCH_LIMIT)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=max).contains(n))
}

#[cfg(not(feature = "test-seams"))]
pub(crate) fn test_page_size(_max: usize) -> Option<usize> {
    None
}

/// A property in the CRM's field catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteField {
    pub name: String,
    pub label: String,
    /// The CRM's own type name (`string`, `enumeration`, `number`, …).
    pub remote_type: String,
    /// The canonical type it holds best.
    pub kind: RemoteFieldKind,
    pub read_only: bool,
    pub unique: bool,
    /// For enumerations: the allowed values, each with the label the CRM shows for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<FieldOption>,
    /// For enumerations: whether the CRM also takes values beyond `options` (a Salesforce
    /// picklist that is not restricted); `false` refuses them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open_options: bool,
    /// The longest text the field takes, where the CRM says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
}

/// Why the CRM would refuse a record's values taken together ([`Provider::refusals`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueRefusal {
    /// The remote property whose value is refused (a deal's `dealstage`).
    pub property: String,
    /// What is wrong and what to do, without the record's id (the reports name it).
    pub message: String,
}

/// One allowed value of an enumeration (a dropdown), and the label people see for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldOption {
    pub value: String,
    pub label: String,
}

/// Canonical categories of remote field types, for `mappings check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteFieldKind {
    Text,
    Number,
    Bool,
    Date,
    DateTime,
    Enumeration,
    Phone,
    Reference,
    Other,
}

/// A custom field crmsync asks the CRM to create (`mappings setup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: String,
    pub label: String,
    pub kind: RemoteFieldKind,
    /// Unique values (so it can serve as an upsert key, as `crmsync_id` does).
    pub unique: bool,
}

/// The name of the custom field that carries a seeding import's tag (see
/// [`Provider::tag_field`]).
pub const TAG_FIELD: &str = "crmsync_seed";

/// The tag field of a CRM that keeps it on contacts and companies (HubSpot's contact and
/// company property, Pipedrive's person and organization custom field), the same for each.
pub fn contact_and_company_tag_field(object: ObjectKind) -> Option<FieldSpec> {
    matches!(object, ObjectKind::Contact | ObjectKind::Company).then(|| FieldSpec {
        name: TAG_FIELD.to_string(),
        label: "crmsync seed".to_string(),
        kind: RemoteFieldKind::Text,
        unique: false,
    })
}

/// A built-in mapping between a canonical field and a remote property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultMapping {
    pub local: &'static str,
    pub remote: &'static str,
    pub direction: Direction,
}

impl DefaultMapping {
    /// Mappings both ways from pairs of canonical field and remote property.
    pub fn both_ways(pairs: &[(&'static str, &'static str)]) -> Vec<DefaultMapping> {
        pairs
            .iter()
            .map(|&(local, remote)| DefaultMapping {
                local,
                remote,
                direction: Direction::Both,
            })
            .collect()
    }
}

/// What a provider says about the account it is connected to (`connect`, `connections`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// The account's own id in its CRM, stable for the account's life: HubSpot's portal id
    /// (Pipedrive's company id, Salesforce's org id). A connection's links are bound to it.
    pub id: String,
    /// A one-line description: portal id and hub domain, company and user, org and user.
    pub account: String,
    /// Scopes the credentials carry, where the CRM says.
    pub scopes: Vec<String>,
}

/// Where a provider gets its access token. Implemented by `crate::auth` (keychain, environment,
/// OAuth refresh); providers never see refresh tokens or client secrets.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// The access token to send now (refreshed ahead of expiry where the source can).
    async fn access_token(&self) -> Result<String, ProviderError>;

    /// Called once after the CRM answered 401 to `rejected`: returns a new token when the
    /// source could refresh, or `None` when it cannot (a static private-app token).
    async fn refresh(&self, rejected: &str) -> Result<Option<String>, ProviderError>;
}

/// How to sign in to a CRM with OAuth 2.0 (authorization-code flow). Each provider module
/// describes its CRM's endpoints; `crate::auth` runs the flow without knowing which CRM it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSpec {
    pub provider: ProviderKind,
    /// Where the browser is sent to sign in.
    pub authorize_url: String,
    /// Where codes and refresh tokens are exchanged.
    pub token_url: String,
    /// Where tokens are revoked at `disconnect`, if the CRM has such an endpoint.
    pub revoke_url: Option<String>,
    /// Whether the CRM takes PKCE (S256).
    pub pkce: bool,
    /// Client credentials go in the form body (else HTTP Basic).
    pub client_secret_in_body: bool,
    /// The scopes crmsync asks for by default (what syncing the CRM's objects needs).
    pub scopes: Vec<String>,
    /// How scopes are joined in the authorize URL.
    pub scope_separator: &'static str,
}

/// Everything a provider is built from.
#[derive(Clone)]
pub struct ProviderContext {
    /// The connection name, for messages.
    pub connection: String,
    /// The API base URL override (sandbox, emulator); `None` means the CRM's own.
    pub base_url: Option<String>,
    /// Where access tokens come from.
    pub tokens: std::sync::Arc<dyn TokenSource>,
    /// "Now", for cursors and rate-limit windows.
    pub clock: std::sync::Arc<dyn crate::clock::Clock>,
    /// The most requests this run may send (`max_requests_per_run`, `--max-requests`).
    pub max_requests: Option<u64>,
    /// How far before the newest change seen each change-feed read starts again
    /// (`sync.overlap_secs`), for clock skew and for CRM search indexes that lag behind writes.
    pub overlap: crate::model::Millis,
}

/// The default of `sync.overlap_secs`, in milliseconds.
pub const DEFAULT_OVERLAP_MS: crate::model::Millis = 5 * 60 * 1000;

/// One CRM account, ready to be called.
///
/// Writes take at most [`Provider::batch_size`] inputs per call; the engine splits larger sets.
/// Every write returns one result per input, in input order; a call that fails as a whole
/// returns `Err` and the engine treats each of its inputs as not written (and unknown, for
/// creates: they are looked up by external id on the next run).
#[async_trait]
pub trait Provider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    /// The connection name, for messages.
    fn connection(&self) -> &str;

    /// The object kinds this CRM syncs.
    fn objects(&self) -> &[ObjectKind];

    /// The largest number of inputs one write call takes.
    fn batch_size(&self) -> usize;

    /// How many creates the engine hands over in one call, each call's outcomes committed
    /// before the next is made: the batch size where the CRM creates a batch in one request.
    /// A CRM written one record a request takes a few at a time, so that a call failing as a
    /// whole part-way (the day's allowance spent, the CRM down) loses few answers of creates
    /// it made: a create whose answer was lost costs a lookup by its external id in the next
    /// run. (Updates and archives go in whole batches.)
    fn write_chunk(&self) -> usize {
        self.batch_size()
    }

    /// The built-in field mappings for `object`.
    fn default_mappings(&self, object: ObjectKind) -> Vec<DefaultMapping>;

    /// Custom fields the CRM must have before crmsync can sync `object` (the external-id
    /// field that makes creates idempotent); `mappings setup` creates the missing ones.
    fn required_fields(&self, object: ObjectKind) -> Vec<FieldSpec> {
        let _ = object;
        Vec::new()
    }

    /// The custom field that carries the tag of a seeding import (`import --to C --tag T`,
    /// `teardown`), `crmsync_seed`, where this CRM keeps one for `object` (`None`: records of
    /// `object` are never tagged). `mappings setup` creates it; a sync does not need it.
    fn tag_field(&self, object: ObjectKind) -> Option<FieldSpec> {
        let _ = object;
        None
    }

    /// The ids of the live records of `object` whose [`Provider::tag_field`] holds exactly
    /// `tag`, found by a query on that field and read whole before anything is written (so
    /// archiving them cannot move a page). A CRM without the field for `object` has none.
    async fn find_tagged(
        &self,
        object: ObjectKind,
        tag: &str,
    ) -> Result<Vec<String>, ProviderError> {
        let _ = (object, tag);
        Ok(Vec::new())
    }

    /// The remote properties to ask for when reading `object`, given the mapped ones.
    /// (Providers add their own bookkeeping properties such as the external id.)
    fn read_properties(&self, object: ObjectKind, mapped: &[String]) -> Vec<String> {
        let _ = object;
        mapped.to_vec()
    }

    /// One page of records of `query.object` changed since `query.since`. A page may leave
    /// out properties the CRM serves through another call; [`Provider::complete`] fills them
    /// in.
    async fn changes(
        &self,
        query: &ChangeQuery,
        properties: &[String],
    ) -> Result<ChangePage, ProviderError>;

    /// The ids of records the CRM merged into `record`, as the change feed showed it (a
    /// merge changes the record that absorbs the others, so the feed brings it). The engine
    /// moves a link of a merged-away record to it. The default, for CRMs that do not say,
    /// knows none.
    fn merged_from(&self, record: &RemoteRecord) -> Vec<String> {
        let _ = record;
        Vec::new()
    }

    /// What the provider keeps of `object`'s field catalogue for its own calls, as text for
    /// the state file, once it has read the catalogue (Pipedrive: each custom field's name and
    /// hashed key); `None` when it keeps nothing (HubSpot names properties as they are). The
    /// engine keeps it with the catalogue's date and hands it back while the catalogue is
    /// fresh ([`Provider::restore_catalogue`]), so that such a run makes no catalogue call.
    fn kept_catalogue(&self, object: ObjectKind) -> Option<String> {
        let _ = object;
        None
    }

    /// Takes back, unless it has read one this run, a catalogue [`Provider::kept_catalogue`]
    /// gave in an earlier run; the provider reads the catalogue again when a record shows a
    /// field the kept one does not name, and before its first write.
    fn restore_catalogue(&self, object: ObjectKind, kept: &str) {
        let _ = (object, kept);
    }

    /// Fills in what [`Provider::changes`] left out of some records of a page: `properties`
    /// that the CRM serves through another call (HubSpot's contact → company association).
    /// The engine calls it only for the records it plans, after leaving out those it has
    /// already seen at the same version, so re-reading unchanged records (the change feed's
    /// overlap, the echoes of crmsync's own writes) costs no such calls. The default, for
    /// CRMs whose change feed carries everything, sends nothing.
    async fn complete(
        &self,
        object: ObjectKind,
        records: &mut [RemoteRecord],
        properties: &[String],
    ) -> Result<(), ProviderError> {
        let _ = (object, records, properties);
        Ok(())
    }

    /// Creates records. Each input's `local_id` goes into the external-id field, and the
    /// provider makes a retried create find the first one instead of duplicating it.
    async fn create(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError>;

    /// Updates records by CRM id, returning each as the CRM now holds it. A record the CRM
    /// merged into another is answered as that other record: its `id` is not the input's.
    async fn update(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError>;

    /// Archives (or deletes, where the CRM has no archive) records by CRM id.
    async fn archive(
        &self,
        object: ObjectKind,
        remote_ids: &[String],
    ) -> Result<WriteResults<()>, ProviderError>;

    /// Reads records by CRM id, with `properties` (as for [`Provider::changes`], references
    /// included). Ids the CRM does not know, and archived records, are left out of the answer;
    /// the rest come back in no particular order. Takes any number of ids (the provider
    /// splits them into calls of at most [`Provider::batch_size`]).
    async fn read_by_ids(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError>;

    /// Reads archived records by CRM id, as [`Provider::read_by_ids`] reads live ones, each
    /// marked [`RemoteRecord::archived`]. Empty where the CRM has no such read (or crmsync
    /// does not use it): the change feed brings those CRMs' archives. A provider that
    /// implements it says so in [`ProviderKind::reads_archived_by_id`].
    async fn read_archived_by_ids(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        let _ = (object, ids, properties);
        Ok(Vec::new())
    }

    /// When `properties` last changed on the records `ids`, where the CRM keeps per-property
    /// history: remote id → property → time (the CRM's clock). Records and properties the CRM
    /// has no time for are left out. The engine asks only for the records whose plan holds a
    /// `newest-wins` conflict, and only for the conflicting properties; it falls back to record
    /// times for whatever is missing, and for every record of a call that fails. Takes any
    /// number of ids. The default, for CRMs without history, knows no times and sends nothing.
    async fn field_times(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<FieldTimes, ProviderError> {
        let _ = (object, ids, properties);
        Ok(FieldTimes::new())
    }

    /// Finds records by the local ids held in their external-id field (journal recovery).
    async fn find_by_external_id(
        &self,
        object: ObjectKind,
        local_ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError>;

    /// The CRM's field catalogue for `object`.
    async fn fields(&self, object: ObjectKind) -> Result<Vec<RemoteField>, ProviderError>;

    /// Creates a custom field.
    async fn create_field(&self, object: ObjectKind, spec: &FieldSpec)
    -> Result<(), ProviderError>;

    /// What the CRM would refuse of each of `records` before anything is sent: values that
    /// are valid only together, which no single field's options say (a HubSpot deal's stage
    /// and its pipeline). A record is given as its remote properties will stand once the write
    /// is done (a create's, an update's with the fields it leaves as they are). One answer a
    /// record, `None` where nothing is refused. The engine fails a refused record with the
    /// refusal's words instead of sending it, and `mappings check` reports the local records
    /// it would refuse in the same words. The default, for CRMs with no such rule, refuses
    /// nothing and sends nothing.
    ///
    /// Asked only for the objects [`Provider::refuses_together`] names.
    async fn refusals(
        &self,
        object: ObjectKind,
        records: &[BTreeMap<String, String>],
    ) -> Result<Vec<Option<ValueRefusal>>, ProviderError> {
        let _ = object;
        Ok(vec![None; records.len()])
    }

    /// Whether [`Provider::refusals`] may refuse records of `object`: the engine and
    /// `mappings check` ask about no other object's records (so they map none for it).
    fn refuses_together(&self, object: ObjectKind) -> bool {
        let _ = object;
        false
    }

    /// What `mappings setup` says once it created fields, where the CRM needs a person to do
    /// more before crmsync can use them (Salesforce's field-level security).
    fn setup_note(&self) -> Option<String> {
        None
    }

    /// Adds to the CRM the labels configured for the records of `object` crmsync creates
    /// that it does not have yet (`mappings setup`; a create adds them too); returns those
    /// added. A CRM without labels has none to add.
    async fn setup_labels(&self, _object: ObjectKind) -> Result<Vec<String>, ProviderError> {
        Ok(Vec::new())
    }

    /// Points the CRM's webhooks for this connection at `url`, with HTTP Basic credentials
    /// (`listen --subscribe`); returns how many it created. The default, for CRMs whose
    /// webhooks are not made through the API (HubSpot sets them in the app's settings), makes
    /// none.
    async fn subscribe_webhooks(
        &self,
        url: &str,
        user: &str,
        password: &str,
    ) -> Result<usize, ProviderError> {
        let _ = (url, user, password);
        Ok(0)
    }

    /// Removes the webhooks to `url` ([`Provider::subscribe_webhooks`]); returns how many.
    async fn unsubscribe_webhooks(&self, url: &str) -> Result<usize, ProviderError> {
        let _ = url;
        Ok(0)
    }

    /// The webhook settings of the CRM's app `app_id`, read with its developer key, for a CRM
    /// whose webhooks are an app's settings that its API shows (HubSpot); `None` for the
    /// others.
    async fn app_webhooks(
        &self,
        app_id: u64,
        developer_key: &str,
    ) -> Result<Option<WebhookSettings>, ProviderError> {
        let _ = (app_id, developer_key);
        Ok(None)
    }

    /// The account the credentials belong to.
    async fn account(&self) -> Result<AccountInfo, ProviderError>;

    /// A fingerprint of where and with what this provider calls (a hash of its base URL and
    /// the token it sends now): two equal keys reach the same account. `None` when there is
    /// no such key, and the account is then asked each time.
    async fn credential_key(&self) -> Option<String> {
        None
    }

    /// Requests sent so far by this provider (for run reports and budgets).
    fn requests_sent(&self) -> u64;

    /// How far the CRM's clock is ahead of this machine's (negative: behind), in ms, as
    /// measured from the CRM's answers so far (`None`: not measured). The CRM's record and
    /// field times are on its clock; `newest-wins` subtracts this before comparing them with
    /// local times.
    fn clock_skew(&self) -> Option<Millis> {
        None
    }
}

#[cfg(test)]
pub mod memory;

/// The CRMs this build of crmsync can connect to.
pub const AVAILABLE: &[ProviderKind] = &[
    ProviderKind::Hubspot,
    ProviderKind::Pipedrive,
    ProviderKind::Salesforce,
];

/// Opens a provider for a connection, with the HTTP layer's defaults.
pub fn open(kind: ProviderKind, ctx: ProviderContext) -> Result<Box<dyn Provider>, ProviderError> {
    open_with(kind, ctx, http::HttpOptions::from_env())
}

/// Opens a provider for a connection, its HTTP layer tuned by `http` (the config's `[http]`
/// settings: [`http::HttpOptions::from_settings`]).
pub fn open_with(
    kind: ProviderKind,
    ctx: ProviderContext,
    http: http::HttpOptions,
) -> Result<Box<dyn Provider>, ProviderError> {
    open_labelled(kind, ctx, http, HashMap::new())
}

/// [`open_with`], the records crmsync creates given `labels` (per object; the config has
/// checked that the CRM has labels for each, see [`has_labels`]).
pub fn open_labelled(
    kind: ProviderKind,
    ctx: ProviderContext,
    http: http::HttpOptions,
    labels: HashMap<ObjectKind, Vec<String>>,
) -> Result<Box<dyn Provider>, ProviderError> {
    open_configured(kind, ctx, http, labels, salesforce::Settings::default())
}

/// [`open_labelled`], a Salesforce connection with its config's `salesforce` settings.
pub fn open_configured(
    kind: ProviderKind,
    ctx: ProviderContext,
    http: http::HttpOptions,
    labels: HashMap<ObjectKind, Vec<String>>,
    salesforce: salesforce::Settings,
) -> Result<Box<dyn Provider>, ProviderError> {
    match kind {
        ProviderKind::Hubspot => Ok(Box::new(hubspot::HubSpot::with_options(
            ctx,
            hubspot::HubSpotOptions {
                http,
                ..hubspot::HubSpotOptions::default()
            },
        )?)),
        ProviderKind::Pipedrive => Ok(Box::new(pipedrive::Pipedrive::with_options(
            ctx,
            pipedrive::PipedriveOptions {
                http,
                labels,
                ..pipedrive::PipedriveOptions::default()
            },
        )?)),
        ProviderKind::Salesforce => Ok(Box::new(salesforce::Salesforce::with_options(
            ctx,
            salesforce::SalesforceOptions {
                http,
                settings: salesforce,
                ..salesforce::SalesforceOptions::default()
            },
        )?)),
    }
}

/// A webhook subscription of a CRM app: an event type (HubSpot's `contact.propertyChange`)
/// and, for a property change, the property.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WebhookSubscription {
    pub event_type: String,
    pub property: Option<String>,
}

impl std::fmt::Display for WebhookSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.property {
            Some(p) => write!(f, "{} ({p})", self.event_type),
            None => f.write_str(&self.event_type),
        }
    }
}

/// A CRM app's webhook settings as the CRM keeps them ([`Provider::app_webhooks`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Where the CRM delivers; `None` when none is set.
    pub target_url: Option<String>,
    pub active: Vec<WebhookSubscription>,
    pub paused: Vec<WebhookSubscription>,
}

/// Whether `kind`'s webhooks are the settings of an app, which its API shows with the app's
/// developer key (HubSpot), rather than made through the API (Pipedrive).
pub fn webhooks_are_app_settings(kind: ProviderKind) -> bool {
    kind == ProviderKind::Hubspot
}

/// The subscriptions a CRM whose webhooks are an app's settings (HubSpot) needs for `listen`
/// to hear of the changes of `object` in `properties` (the CRM's property names), known
/// without a connection; empty for the others, and for objects its webhooks do not carry.
pub fn webhook_subscriptions(
    kind: ProviderKind,
    object: ObjectKind,
    properties: &[String],
) -> Vec<WebhookSubscription> {
    match kind {
        ProviderKind::Hubspot => hubspot::webhook_subscriptions(object, properties),
        ProviderKind::Pipedrive | ProviderKind::Salesforce => Vec::new(),
    }
}

/// The built-in field mappings of `kind` for `object`, the same for every account of the CRM,
/// so known without opening a connection; `None` for a CRM this build cannot connect to.
pub fn default_mappings(kind: ProviderKind, object: ObjectKind) -> Option<Vec<DefaultMapping>> {
    match kind {
        ProviderKind::Hubspot => Some(hubspot::default_mappings(object)),
        ProviderKind::Pipedrive => Some(pipedrive::default_mappings(object)),
        ProviderKind::Salesforce => Some(salesforce::default_mappings(object)),
    }
}

/// Which activity type of `kind` each local activity type is kept as, where the CRM names its
/// types otherwise (local type, the CRM's type key), known without a connection; a
/// connection's `[connections.NAME.activity_types]` overrides it entry by entry. Empty for a
/// CRM that syncs no activities.
pub fn default_activity_types(kind: ProviderKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        ProviderKind::Pipedrive => pipedrive::DEFAULT_ACTIVITY_TYPES,
        ProviderKind::Salesforce => salesforce::DEFAULT_ACTIVITY_TYPES,
        ProviderKind::Hubspot => hubspot::DEFAULT_ACTIVITY_TYPES,
    }
}

/// Whether a connection to `kind` whose config does not list `objects` syncs `object`:
/// every object the CRM has, but HubSpot's activities, which are five objects of their own
/// there (calls, emails, meetings, notes, tasks) and read only when `objects` names
/// `activity`.
pub fn synced_by_default(kind: ProviderKind, object: ObjectKind) -> bool {
    match object {
        ObjectKind::Deal => false,
        ObjectKind::Activity => kind != ProviderKind::Hubspot,
        ObjectKind::Contact | ObjectKind::Company => true,
    }
}

/// Whether `kind`'s records of `object` carry labels crmsync can put on the records it
/// creates (`[connections.NAME.OBJECT] labels`): Pipedrive's persons and organizations.
pub fn has_labels(kind: ProviderKind, object: ObjectKind) -> bool {
    kind == ProviderKind::Pipedrive && matches!(object, ObjectKind::Contact | ObjectKind::Company)
}

/// The CRM's own API base URL, where crmsync knows it (a Salesforce org's is its own
/// instance, which a sign-in names).
pub fn default_base_url(kind: ProviderKind) -> Option<&'static str> {
    match kind {
        ProviderKind::Hubspot => Some(hubspot::DEFAULT_BASE_URL),
        ProviderKind::Pipedrive => Some(pipedrive::DEFAULT_BASE_URL),
        ProviderKind::Salesforce => None,
    }
}

/// How to sign in to `kind` with OAuth, with the configured URL overrides; `None` for a CRM
/// crmsync cannot sign in to yet. `base_url` is where the CRM signs in: the API base, or for
/// a CRM with a login host of its own (Salesforce's `login_url`), that host.
pub fn oauth_spec(
    kind: ProviderKind,
    base_url: Option<&str>,
    auth_url: Option<&str>,
) -> Option<OAuthSpec> {
    match kind {
        ProviderKind::Hubspot => Some(hubspot::oauth_spec(base_url, auth_url)),
        ProviderKind::Pipedrive => Some(pipedrive::oauth_spec(base_url, auth_url)),
        ProviderKind::Salesforce => Some(salesforce::oauth_spec(base_url, auth_url)),
    }
}

/// The OAuth scopes syncing `object` needs beyond [`OAuthSpec::scopes`] (HubSpot's deals);
/// none for a CRM whose scopes do not go by object.
pub fn object_scopes(kind: ProviderKind, object: ObjectKind) -> &'static [&'static str] {
    match kind {
        ProviderKind::Hubspot => hubspot::object_scopes(object),
        ProviderKind::Pipedrive | ProviderKind::Salesforce => &[],
    }
}

/// The API base a sign-in's token answer (`credentials.extra`) names for the account, where
/// the CRM issues tokens for the account's own host (Pipedrive's `api_domain`); `None` when it
/// names none (or one not to be trusted).
pub fn token_api_base(
    spec: &OAuthSpec,
    extra: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    match spec.provider {
        ProviderKind::Pipedrive => pipedrive::api_base(spec, extra),
        ProviderKind::Salesforce => salesforce::instance_url(spec, extra),
        ProviderKind::Hubspot => None,
    }
}
