//! HubSpot: companies and contacts through the CRM v3 objects API and v4 associations.
//!
//! # Ids and the external id
//! HubSpot ids are numeric strings. The local id travels in a custom property `crmsync_id`
//! (created unique by `mappings setup`), which serves as the `idProperty` of batch upserts and
//! batch reads: a create that is retried after a crash finds the record the first attempt
//! made instead of making a second one.
//!
//! # The company of a contact
//! A contact's company is an association, not a property. This module shows it as the
//! pseudo-property `associations.companies`, whose value is the HubSpot id of one associated
//! company (the primary one, else the first). The primary company comes with the contact, as
//! its `associatedcompanyid` property, in the change feed's pages (which show it as the
//! pseudo-property at once, so the engine can compare it) and in reads by id; the v4
//! batch association read is made only for contacts without one: [`Provider::complete`]
//! reads it for such contacts of a page that the engine plans (those it has not seen at the
//! same version), and a read by id for the contacts read. It is written after the
//! property write: associations to any other company are removed, then the default
//! association to the new company is made, so that a contact left without a primary company
//! takes the new one as its primary; an empty value removes them all.
//!
//! A change of a contact's primary company in HubSpot changes its `associatedcompanyid`
//! property, and so its last-modified time: the change feed brings the contact, and its
//! company is read again. The property's history dates the change, for `newest-wins`. A change
//! among its other companies alone moves nothing and is seen with the contact's next change.
//!
//! # The change feed
//! Changes are read with the search API filtered on the last-modified property
//! (`lastmodifieddate` for contacts, `hs_lastmodifieddate` for companies), sorted ascending,
//! 200 a page, and paged by key, never by offset: each page is a new query `GTE` the newest
//! modification time read so far, and the ids already read at exactly that time are dropped
//! when it returns them again. The records keep changing while crmsync pages through them
//! (users edit, and crmsync's own writes of earlier pages move records to the end of the
//! feed); with `after` offsets each such move would shift an unread record back past the
//! offset, out of sight for good. By key, a moved record is met again at its new place and
//! nothing shifts. When a whole page shares one modification time (a bulk change can stamp
//! thousands of records with one millisecond), that time is paged by id instead
//! (`EQ time AND hs_object_id GT last id`, sorted by id), and the read then goes on `GT` the
//! time. No query pages at all, so HubSpot's 10,000-result cap on one query is never met.
//!
//! The stored cursor is JSON: `{"v":1,"since":<ms>,"archive_scan":<ms>}`. `since` is the
//! newest modification seen minus the overlap (`sync.overlap_secs`, five minutes unless
//! set), so records changed while the previous read was running (or not yet in the search
//! index) are read again; reading one twice is harmless. After a complete read `since` is at
//! least the read's start minus the overlap, so it keeps moving when nothing changes and a
//! record is re-read only while it is younger than the overlap. Both are HubSpot's times: the
//! read's start is the `Date` header of its first search's answer, never this machine's
//! clock. That header also gives [`Provider::clock_skew`]. The continuation token between pages of one read is another JSON document.
//!
//! Archived records never appear in search. They are listed with
//! `GET /crm/v3/objects/{type}?archived=true`, which has no filter by date and so costs one
//! request per 100 archived records ever. That list is read on every full read and otherwise
//! only when the cursor's last archive scan is older than [`ARCHIVE_SCAN_INTERVAL_MS`] (a day):
//! an archive in HubSpot reaches the local store within a day, while a frequent no-op sync
//! stays at one search request per object.
//!
//! # Batch results
//! Batch calls (100 inputs) may answer 207 with `results` and `errors`. Results are matched to
//! inputs by `crmsync_id` (creates) or by id (updates). Errors are matched by their `context`
//! values (HubSpot lists the failing ids or values there); an input that is still unmatched
//! takes a remaining error by elimination when exactly one is left, and otherwise gets an error
//! saying HubSpot did not report on it (retryable: the next run looks it up). A batch that
//! HubSpot refuses as a whole with 400 or 409 is split in halves until the refused inputs are
//! isolated, so one bad record does not fail the other 99.
//!
//! A duplicate (409 `Contact already exists. Existing ID: 123`) becomes a [`RecordError`] of
//! kind [`RecordErrorKind::Duplicate`] with `existing_id` 123. The engine then reads
//! contact 123 with [`Provider::read_by_ids`] (`POST /crm/v3/objects/contacts/batch/read` by
//! id, with its company as the change feed reads it) and, unless 123 is linked to another
//! local contact already, links the local contact to it and merges the two in the same run,
//! as it does a contact matched by email. This is how a new local contact meets a HubSpot
//! contact with its email that is older than the change feed's cursor, which the pull never
//! saw.
//!
//! # Merged records
//! A record merged into another in HubSpot is gone as a record of its own (not archived: it
//! leaves the search and the archived list alike), but its id still reads and updates as the
//! record it went into: HubSpot answers with the survivor, under the survivor's id, and the
//! survivor lists the ids merged into it in `hs_merged_object_ids`. (The OpenAPI description
//! says nothing of merged ids; the redirect is how the API digest describes HubSpot, marked
//! unconfirmed there.) [`Provider::update`] answers such an input with the survivor, and the
//! engine moves the link to it. Batch update results are matched to inputs by id, so a result
//! whose id no input has is paired with an input left without one: by elimination when there
//! is one of each, else through one batch read of those inputs' ids that asks for
//! `hs_merged_object_ids`. The change feed asks for `hs_merged_object_ids` too: a merge
//! modifies the survivor, so the next pull meets it, and [`Provider::merged_from`] names the
//! ids it absorbed; the engine moves a link of one of them to it before planning.
//!
//! # The external id of a linked record
//! An update whose [`RemoteWrite::set_external_id`] is set also writes the local id into
//! `crmsync_id`: the engine asks for it on the first write to a record it linked without
//! having created it (matched by email, or refused as a duplicate), so that every linked
//! record carries its local id as the ones crmsync created do.
//!
//! # Field times for `newest-wins`
//! The search API that feeds the change feed carries no property history, so the records it
//! returns have record times only (`updatedAt`). When the engine's plan of a page holds
//! `newest-wins` conflicts, it asks [`Provider::field_times`] for just those records and just
//! the conflicting mapped properties, and this module reads them with
//! `POST /crm/v3/objects/{type}/batch/read` by id: `"properties": []`,
//! `"propertiesWithHistory": [the conflicting properties]`, one call per 100 conflicting
//! records. A property's time is the newest `timestamp` of its history entries (HubSpot stamps
//! each entry with the time of the write). Associations have no history and are not asked for
//! (their conflicts compare record times). A page without a `newest-wins` conflict, and so a
//! no-op sync, makes no such call.
//!
//! # Account
//! [`Provider::account`] calls `GET /account-info/v3/details` (scope `oauth`), which works for
//! OAuth and private-app tokens alike and, unlike `/oauth/v1/access-tokens/{token}`, keeps the
//! token out of the URL. Its `portalId` is the account's id, which a connection's links are
//! bound to; every sync asks once, before anything else.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::{Direction, Millis, ObjectKind};
use crate::providers::http::{
    CrmHooks, HttpClient, HttpOptions, Lane, Method, RateInfo, Request, Response,
};
use crate::providers::{
    AccountInfo, ChangePage, ChangeQuery, DefaultMapping, FieldOption, FieldSpec, FieldTimes,
    OAuthSpec, Provider, ProviderContext, ProviderError, ProviderKind, RecordError,
    RecordErrorKind, RemoteField, RemoteFieldKind, RemoteRecord, RemoteWrite,
    UNKNOWN_PROPERTIES_CODE_PREFIX, WriteResults,
};

/// The property that points a record to its owner (an owner's `id`).
const OWNER_PROPERTY: &str = "hubspot_owner_id";

/// HubSpot's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";
/// Where the browser signs in.
pub const DEFAULT_AUTHORIZE_URL: &str = "https://app.hubspot.com/oauth/authorize";
/// The custom property holding the local id.
pub const EXTERNAL_ID: &str = "crmsync_id";
/// The pseudo-property holding a contact's company id.
pub const COMPANY_ASSOCIATION: &str = "associations.companies";

/// The contact property holding the id of its primary company ("Primary Associated Company
/// ID"); HubSpot keeps it in step with the primary association.
const PRIMARY_COMPANY: &str = "associatedcompanyid";
/// The read-only property listing the ids HubSpot merged into a record, `;`-separated.
const MERGED_IDS: &str = "hs_merged_object_ids";
/// How old the last archive scan may be before an incremental read lists archived records.
pub const ARCHIVE_SCAN_INTERVAL_MS: Millis = 24 * 60 * 60 * 1000;
/// The id every object has as a searchable property.
const ID_PROPERTY: &str = "hs_object_id";
const BATCH: usize = 100;
const SEARCH_LIMIT: usize = 200;
const LIST_LIMIT: usize = 100;
/// Contact → company, the unlabelled default association.
const PRIMARY_COMPANY_TYPE: i64 = 1;

/// Tuning knobs, mostly for tests: the real values are the defaults.
#[derive(Debug, Clone)]
pub struct HubSpotOptions {
    pub http: HttpOptions,
    pub search_limit: usize,
    pub list_limit: usize,
    pub archive_scan_interval: Millis,
}

/// The search page size a test asks for (`CRMSYNC_TEST_SEARCH_LIMIT`); never in a release build.
#[cfg(feature = "test-seams")]
fn test_search_limit() -> Option<usize> {
    std::env::var(crate::env::TEST_SEARCH_LIMIT)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=SEARCH_LIMIT).contains(n))
}

#[cfg(not(feature = "test-seams"))]
fn test_search_limit() -> Option<usize> {
    None
}

impl Default for HubSpotOptions {
    fn default() -> Self {
        HubSpotOptions {
            http: HttpOptions::from_env(),
            search_limit: test_search_limit().unwrap_or(SEARCH_LIMIT),
            list_limit: LIST_LIMIT,
            archive_scan_interval: ARCHIVE_SCAN_INTERVAL_MS,
        }
    }
}

/// A HubSpot account.
pub struct HubSpot {
    http: HttpClient,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    options: HubSpotOptions,
    /// [`ProviderContext::overlap`].
    overlap: Millis,
    /// [`Provider::clock_skew`], from the `Date` header of the last search answered.
    skew: std::sync::Mutex<Option<Millis>>,
}

/// HubSpot's OAuth endpoints and the scopes crmsync needs. HubSpot signs people in on its web
/// app (`app.hubspot.com`), not on its API host: `base_url` moves the token and revoke URLs
/// to another API host and, as a host that is not HubSpot's (an emulator) serves the sign-in
/// page beside its API, the authorize URL to `<base_url>/oauth/authorize` too; `auth_url`
/// replaces the authorize URL (an EU account's `app-eu1.hubspot.com`).
pub fn oauth_spec(base_url: Option<&str>, auth_url: Option<&str>) -> OAuthSpec {
    let api = base_url.unwrap_or(DEFAULT_BASE_URL).trim_end_matches('/');
    let elsewhere = base_url.filter(|b| b.trim_end_matches('/') != DEFAULT_BASE_URL);
    let authorize_url = match (auth_url, elsewhere) {
        (Some(url), _) => url.to_string(),
        (None, Some(_)) => format!("{api}/oauth/authorize"),
        (None, None) => DEFAULT_AUTHORIZE_URL.to_string(),
    };
    OAuthSpec {
        provider: ProviderKind::Hubspot,
        authorize_url,
        token_url: format!("{api}/oauth/v1/token"),
        revoke_url: Some(format!("{api}/oauth/v3/token/revoke")),
        pkce: true,
        client_secret_in_body: true,
        scopes: [
            "crm.objects.contacts.read",
            "crm.objects.contacts.write",
            "crm.objects.companies.read",
            "crm.objects.companies.write",
            "crm.schemas.contacts.read",
            "crm.schemas.contacts.write",
            "crm.schemas.companies.read",
            "crm.schemas.companies.write",
            "crm.objects.owners.read",
            "oauth",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        scope_separator: " ",
    }
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn rate_info(h: &HeaderMap) -> Option<RateInfo> {
    Some(RateInfo {
        max: header_u64(h, "x-hubspot-ratelimit-max")?,
        remaining: header_u64(h, "x-hubspot-ratelimit-remaining")?,
        window: std::time::Duration::from_millis(
            header_u64(h, "x-hubspot-ratelimit-interval-milliseconds").unwrap_or(10_000),
        ),
    })
}

fn error_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let msg = v.get("message")?.as_str()?.to_string();
    Some(match v.get("category").and_then(Value::as_str) {
        Some(cat) => format!("{msg} ({cat})"),
        None => msg,
    })
}

fn throttle_hint(body: &str) -> Option<std::time::Duration> {
    let v: Value = serde_json::from_str(body).ok()?;
    let policy = v.get("policyName").and_then(Value::as_str).unwrap_or("");
    let msg = v.get("message").and_then(Value::as_str).unwrap_or("");
    if policy == "SECONDLY" || msg.contains("secondly limit") {
        Some(std::time::Duration::from_secs(1))
    } else if policy == "TEN_SECONDLY_ROLLING" {
        Some(std::time::Duration::from_secs(10))
    } else {
        None
    }
}

const HOOKS: CrmHooks = CrmHooks {
    name: "HubSpot",
    rate_info,
    error_message,
    throttle_hint,
};

fn object_path(object: ObjectKind) -> Result<&'static str, ProviderError> {
    match object {
        ObjectKind::Contact => Ok("contacts"),
        ObjectKind::Company => Ok("companies"),
        ObjectKind::Activity => Err(ProviderError::Other(
            "HubSpot activities are not synced yet: sync `contact` and `company` only".into(),
        )),
    }
}

fn modified_property(object: ObjectKind) -> &'static str {
    match object {
        ObjectKind::Contact => "lastmodifieddate",
        _ => "hs_lastmodifieddate",
    }
}

/// The duplicate's id in HubSpot's "already exists" messages.
fn existing_id(message: &str) -> Option<String> {
    let at = message.find("Existing ID:")?;
    let digits: String = message[at + "Existing ID:".len()..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then_some(digits)
}

/// The most characters HubSpot takes in one property value; a write with a longer one is
/// refused with a validation error.
const MAX_VALUE_CHARS: usize = 65_536;

/// The inputs with a property value longer than HubSpot takes, each with the error it gets
/// instead of being sent (the whole batch would otherwise be refused and split).
fn too_long(inputs: &[RemoteWrite]) -> Vec<(usize, RecordError)> {
    let mut out = Vec::new();
    for (i, w) in inputs.iter().enumerate() {
        // Bytes bound characters from above: only a value with more bytes is counted.
        let long = w
            .props
            .iter()
            .find(|(_, v)| v.len() > MAX_VALUE_CHARS && v.chars().count() > MAX_VALUE_CHARS);
        if let Some((name, v)) = long {
            out.push((
                i,
                RecordError {
                    message: format!(
                        "HubSpot property `{name}` takes at most {MAX_VALUE_CHARS} characters and this value has {}; shorten it (not sent)",
                        v.chars().count()
                    ),
                    code: Some("too_long".into()),
                    retryable: false,
                    kind: RecordErrorKind::Refused,
                },
            ));
        }
    }
    out
}

/// The results of `n` inputs: `refused` where they were not sent, the `answered` results of
/// the others in order.
fn with_refused<T>(
    n: usize,
    refused: Vec<(usize, RecordError)>,
    answered: WriteResults<T>,
) -> WriteResults<T> {
    let mut refused = refused.into_iter().peekable();
    let mut answered = answered.into_iter();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        match refused.next_if(|(j, _)| *j == i) {
            Some((_, e)) => out.push(Err(e)),
            None => out.extend(answered.next()),
        }
    }
    out
}

/// Where some inputs have a value longer than HubSpot takes: their errors, and what `send`
/// answers for the others (sent without them), in input order. `None` when every input fits.
async fn refusing_too_long<F, Fut>(
    inputs: &[RemoteWrite],
    send: F,
) -> Option<Result<WriteResults<RemoteRecord>, ProviderError>>
where
    F: FnOnce(Vec<RemoteWrite>) -> Fut,
    Fut: std::future::Future<Output = Result<WriteResults<RemoteRecord>, ProviderError>>,
{
    let refused = too_long(inputs);
    if refused.is_empty() {
        return None;
    }
    let sent: Vec<RemoteWrite> = inputs
        .iter()
        .enumerate()
        .filter(|(i, _)| !refused.iter().any(|(j, _)| j == i))
        .map(|(_, w)| w.clone())
        .collect();
    let answered = if sent.is_empty() {
        Vec::new()
    } else {
        match send(sent).await {
            Ok(answered) => answered,
            Err(e) => return Some(Err(e)),
        }
    };
    Some(Ok(with_refused(inputs.len(), refused, answered)))
}

fn record_error(message: String, status: Option<String>) -> RecordError {
    let kind = match existing_id(&message) {
        Some(existing_id) => RecordErrorKind::Duplicate { existing_id },
        None => RecordErrorKind::Refused,
    };
    let retryable = matches!(status.as_deref(), Some(s) if s == "429" || s.starts_with('5'));
    RecordError {
        message,
        code: status,
        retryable,
        kind,
    }
}

#[derive(Debug, Deserialize)]
struct HsObject {
    id: String,
    #[serde(default)]
    properties: BTreeMap<String, Option<String>>,
    #[serde(default, rename = "updatedAt")]
    updated_at: Option<String>,
    #[serde(default)]
    archived: bool,
    /// Only when asked for (`propertiesWithHistory`): property → its past values.
    #[serde(default, rename = "propertiesWithHistory")]
    history: BTreeMap<String, Vec<HistoryEntry>>,
}

/// One past value of a property (`ValueWithTimestamp`); only its time is read.
#[derive(Debug, Deserialize)]
struct HistoryEntry {
    #[serde(default)]
    timestamp: Option<Value>,
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
fn history_times(o: &HsObject) -> BTreeMap<String, Millis> {
    o.history
        .iter()
        .filter_map(|(prop, entries)| {
            let newest = entries.iter().filter_map(HistoryEntry::millis).max()?;
            Some((prop.clone(), newest))
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct Next {
    after: String,
}

#[derive(Debug, Deserialize, Default)]
struct Paging {
    next: Option<Next>,
}

#[derive(Debug, Deserialize)]
struct ObjectList {
    #[serde(default)]
    results: Vec<HsObject>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
struct StandardError {
    #[serde(default)]
    status: Option<Value>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    context: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    id: Option<String>,
}

impl StandardError {
    fn status_text(&self) -> Option<String> {
        match &self.status {
            Some(Value::String(s)) if s != "error" => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => self.category.clone(),
        }
    }
    fn mentions(&self, key: &str) -> bool {
        self.id.as_deref() == Some(key) || self.context.values().flatten().any(|v| v == key)
    }
}

#[derive(Debug, Deserialize)]
struct BatchResponse {
    #[serde(default)]
    results: Vec<HsObject>,
    #[serde(default)]
    errors: Vec<StandardError>,
}

fn to_record(o: HsObject, modified: &str) -> RemoteRecord {
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

/// The stored cursor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Cursor {
    v: u32,
    since: Millis,
    archive_scan: Millis,
}

/// Where a read is between pages.
///
/// Each search is a fresh query bounded by key, never a continuation by offset (`after`): a
/// record that moves while the read pages (a user's edit, or crmsync's own write of an earlier
/// page moving it to the end of the feed) is met again at its new place instead of shifting
/// the records after it out of sight, and no query pages far enough to meet the 10,000-result
/// cap.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PageToken {
    /// The lower bound of the next search (`None`: everything).
    from: Option<Millis>,
    /// Whether the bound is `GT` (all records at `from` are read) rather than `GTE`.
    #[serde(default)]
    past: bool,
    /// Set while the records sharing one modification time are paged by id: the time and the
    /// last id read (`EQ time AND hs_object_id GT id`, sorted by id).
    #[serde(default)]
    tie: Option<(Millis, u64)>,
    /// Newest modification seen in this read.
    newest: Option<Millis>,
    /// Ids already returned at exactly `newest`, dropped when a search meets them again.
    at_newest: Vec<String>,
    /// The cursor's `since` before this read (`None` on full reads).
    old_since: Option<Millis>,
    old_archive_scan: Millis,
    /// HubSpot's time (its `Date` header) when the read's first search was answered.
    #[serde(default)]
    crm_started_at: Option<Millis>,
    /// Whether archived records are listed after the search.
    scan_archived: bool,
    /// Set once the search is done and the archived list is being read.
    in_archived: bool,
    /// The archived list's paging cursor.
    archived_after: Option<String>,
    started_at: Millis,
}

impl HubSpot {
    pub fn new(ctx: ProviderContext) -> Result<HubSpot, ProviderError> {
        HubSpot::with_options(ctx, HubSpotOptions::default())
    }

    pub fn with_options(
        ctx: ProviderContext,
        options: HubSpotOptions,
    ) -> Result<HubSpot, ProviderError> {
        let clock = ctx.clock.clone();
        let overlap = ctx.overlap;
        let http = HttpClient::new(ctx, DEFAULT_BASE_URL, HOOKS, options.http.clone())?;
        Ok(HubSpot {
            http,
            clock,
            options,
            overlap,
            skew: std::sync::Mutex::new(None),
        })
    }

    /// The HTTP client (for its request count and recorded waits).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        resp: &Response,
        what: &str,
    ) -> Result<T, ProviderError> {
        resp.json(self.http.crm(), what)
    }

    fn checkpoint(&self, t: &PageToken, archive_done: bool, complete: bool) -> String {
        // Every time here is HubSpot's own: the modification times read, and its clock when
        // the read began. This machine's clock may be minutes or hours off; compared with
        // HubSpot's timestamps it would skip edits (a HubSpot clock behind) for good.
        let mut since = match (t.newest, t.old_since) {
            (Some(n), Some(old)) => (n - self.overlap).max(old),
            (Some(n), None) => n - self.overlap,
            (None, Some(old)) => old,
            (None, None) => t.crm_started_at.map_or(0, |at| at - self.overlap),
        };
        if complete && let Some(at) = t.crm_started_at {
            // A complete read has seen everything modified before it started, less the
            // overlap for search indexes that lag: the cursor moves on even when nothing
            // changed, so records read once (such as the echoes of crmsync's own writes) stop
            // being read again once they are older than the overlap.
            since = since.max(at - self.overlap);
        }
        let archive_scan = if archive_done {
            t.started_at
        } else {
            t.old_archive_scan
        };
        serde_json::to_string(&Cursor {
            v: 1,
            since,
            archive_scan,
        })
        .expect("cursor serialises")
    }

    fn search_properties(&self, object: ObjectKind, properties: &[String]) -> Vec<String> {
        let mut props: Vec<String> = properties
            .iter()
            .filter(|p| !p.starts_with("associations."))
            .cloned()
            .collect();
        let company = wants_company(object, properties).then_some(PRIMARY_COMPANY);
        for extra in [EXTERNAL_ID, modified_property(object), MERGED_IDS]
            .into_iter()
            .chain(company)
        {
            if !props.iter().any(|p| p == extra) {
                props.push(extra.to_string());
            }
        }
        props
    }

    /// Sets `associations.companies` on the given contacts, read with [`PRIMARY_COMPANY`]: a
    /// contact's primary company comes with it, and only the companies of contacts without
    /// one are read from the associations.
    async fn fill_companies(&self, records: &mut [RemoteRecord]) -> Result<(), ProviderError> {
        let mut ids = Vec::new();
        for r in records.iter_mut() {
            if !with_primary_company(r) {
                ids.push(r.id.clone());
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let map = self.read_company_links(&ids).await?;
        for r in records.iter_mut().filter(|r| !has_primary(r)) {
            r.props.remove(COMPANY_ASSOCIATION);
            if let Some(links) = map.get(&r.id)
                && let Some(company) = pick_company(links)
            {
                r.props.insert(COMPANY_ASSOCIATION.into(), company);
            }
        }
        Ok(())
    }

    /// contact id → [(company id, is primary)] via the v4 batch association read.
    async fn read_company_links(
        &self,
        contact_ids: &[String],
    ) -> Result<HashMap<String, Vec<(String, bool)>>, ProviderError> {
        let mut out: HashMap<String, Vec<(String, bool)>> = HashMap::new();
        for chunk in contact_ids.chunks(BATCH) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            let resp = self
                .http
                .send(
                    Request::new(
                        Method::Post,
                        "/crm/v4/associations/contacts/companies/batch/read",
                    )
                    .json(json!({ "inputs": inputs })),
                )
                .await?;
            // 207 lists contacts without associations as errors; only results matter here.
            if !resp.is_success() {
                return Err(self.http.api_error(
                    &Request::new(Method::Post, "/crm/v4/associations/contacts/companies"),
                    &resp,
                ));
            }
            let body: Value = self.parse(&resp, "an association read")?;
            for result in body["results"].as_array().into_iter().flatten() {
                let Some(from) = json_id(&result["from"]["id"]) else {
                    continue;
                };
                let entry = out.entry(from).or_default();
                for to in result["to"].as_array().into_iter().flatten() {
                    let Some(to_id) = json_id(&to["toObjectId"]) else {
                        continue;
                    };
                    let primary = to["associationTypes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|t| t["typeId"].as_i64() == Some(PRIMARY_COMPANY_TYPE));
                    entry.push((to_id, primary));
                }
            }
        }
        Ok(out)
    }

    /// Makes each contact associated with exactly the given company (or none). Returns per
    /// input an error message when HubSpot refused the change.
    async fn set_companies(
        &self,
        wanted: &[(String, Option<String>)],
    ) -> Result<Vec<Option<RecordError>>, ProviderError> {
        let mut errors = vec![None; wanted.len()];
        if wanted.is_empty() {
            return Ok(errors);
        }
        let ids: Vec<String> = wanted.iter().map(|(c, _)| c.clone()).collect();
        let current = self.read_company_links(&ids).await?;
        let mut archive: Vec<(usize, Value)> = Vec::new();
        let mut associate: Vec<(usize, Value)> = Vec::new();
        for (i, (contact, company)) in wanted.iter().enumerate() {
            let links = current.get(contact).cloned().unwrap_or_default();
            let stale: Vec<Value> = links
                .iter()
                .filter(|(id, _)| Some(id) != company.as_ref())
                .map(|(id, _)| json!({ "id": id }))
                .collect();
            if !stale.is_empty() {
                archive.push((i, json!({ "from": { "id": contact }, "to": stale })));
            }
            if let Some(company) = company
                && !links.iter().any(|(id, _)| id == company)
            {
                associate.push((
                    i,
                    json!({ "from": { "id": contact }, "to": { "id": company } }),
                ));
            }
        }
        // The stale companies go first: a contact left without a primary company takes the
        // next one associated as its primary, which is what a HubSpot user then sees.
        for (path, items) in [
            (
                "/crm/v4/associations/contacts/companies/batch/archive",
                &archive,
            ),
            (
                "/crm/v4/associations/contacts/companies/batch/associate/default",
                &associate,
            ),
        ] {
            for chunk in items.chunks(BATCH) {
                let inputs: Vec<Value> = chunk.iter().map(|(_, v)| v.clone()).collect();
                let resp = self
                    .http
                    .send(Request::new(Method::Post, path).json(json!({ "inputs": inputs })))
                    .await?;
                if resp.is_success() && resp.status != 207 {
                    continue;
                }
                let message = self.http.error_text(&resp.body);
                let parsed: Option<BatchResponse> = serde_json::from_str(&resp.body).ok();
                for (i, _) in chunk {
                    let contact = &wanted[*i].0;
                    let own = parsed.as_ref().and_then(|b| {
                        b.errors
                            .iter()
                            .find(|e| e.mentions(contact))
                            .map(|e| e.message.clone())
                    });
                    // On 207 only the inputs HubSpot names failed; otherwise all of them did.
                    if resp.status == 207 && own.is_none() {
                        continue;
                    }
                    errors[*i] = Some(record_error(
                        format!(
                            "the company association was not changed: {}",
                            own.unwrap_or_else(|| message.clone())
                        ),
                        Some(resp.status.to_string()),
                    ));
                }
            }
        }
        Ok(errors)
    }

    /// Sends a batch write, splitting it when HubSpot refuses the whole call with 400 or 409
    /// so that the refused inputs are isolated. `body` builds the request for a slice of inputs.
    async fn batch_write<'a>(
        &self,
        path: &str,
        inputs: &'a [RemoteWrite],
        key: &(dyn Fn(&RemoteWrite) -> String + Sync),
        body: &(dyn Fn(&[RemoteWrite]) -> Value + Sync),
        modified: &str,
    ) -> Result<Matched, ProviderError> {
        let mut out = Matched::default();
        let mut stack: Vec<&'a [RemoteWrite]> = distinct_chunks(inputs, BATCH, key)
            .into_iter()
            .rev()
            .collect();
        while let Some(chunk) = stack.pop() {
            let mut req = Request::new(Method::Post, path).json(body(chunk));
            if let [only] = chunk {
                req = req.record(only.local_id.clone());
            }
            let resp = self.http.send(req.clone()).await?;
            if matches!(resp.status, 400 | 409) {
                if chunk.len() > 1 {
                    let (a, b) = chunk.split_at(chunk.len() / 2);
                    tracing::debug!(
                        status = resp.status,
                        size = chunk.len(),
                        "batch refused as a whole; splitting"
                    );
                    stack.push(b);
                    stack.push(a);
                    continue;
                }
                let raw =
                    refusal_message(&resp.body).unwrap_or_else(|| self.http.error_text(&resp.body));
                let mut refused = record_error(raw, Some(resp.status.to_string()));
                let unknown = unknown_properties(&resp.body);
                if !unknown.is_empty() {
                    refused.code = Some(format!(
                        "{UNKNOWN_PROPERTIES_CODE_PREFIX}{}",
                        unknown.join(",")
                    ));
                }
                out.results.push(Some(Err(refused)));
                continue;
            }
            if !resp.is_success() {
                return Err(self.http.api_error(&req, &resp));
            }
            let batch: BatchResponse = self.parse(&resp, "a batch write")?;
            let (results, unclaimed) = match_results(chunk, batch, key, modified);
            out.results.extend(results);
            out.unclaimed.extend(unclaimed);
        }
        Ok(out)
    }

    /// Pairs the updates HubSpot did not report on by id with the results that answered no
    /// input: a record merged away is updated as the record it was merged into, which
    /// answers with its own id. One batch read of those inputs' ids (which HubSpot also
    /// answers with the records they went into, listing them in `hs_merged_object_ids`)
    /// tells which result answers which input.
    async fn claim_merged(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
        out: &mut Matched,
    ) -> Result<(), ProviderError> {
        let unreported: Vec<usize> = (0..inputs.len())
            .filter(|i| out.results[*i].is_none())
            .collect();
        if unreported.is_empty() || out.unclaimed.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = unreported
            .iter()
            .filter_map(|i| inputs[*i].remote_id.clone())
            .collect();
        let survivors = self
            .batch_read(object, None, &ids, &[MERGED_IDS.to_string()])
            .await?;
        for i in unreported {
            let Some(id) = inputs[i].remote_id.as_deref() else {
                continue;
            };
            let Some(survivor) = survivors.iter().find(|r| answers_for(r, id)) else {
                continue;
            };
            if let Some(at) = out.unclaimed.iter().position(|r| r.id == survivor.id) {
                out.results[i] = Some(Ok(out.unclaimed.swap_remove(at)));
            }
        }
        Ok(())
    }
}

/// A batch write's outcome per input, `None` where HubSpot did not report on the input, and
/// the results that answered no input (see [`match_results`]).
#[derive(Default)]
struct Matched {
    results: Vec<Option<Result<RemoteRecord, RecordError>>>,
    unclaimed: Vec<RemoteRecord>,
}

impl Matched {
    /// Each input's outcome; an input HubSpot did not report on gets an error saying so.
    fn finish(self) -> WriteResults<RemoteRecord> {
        self.results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(RecordError {
                        message: "HubSpot did not report on this record; it is looked up by \
                                  `crmsync_id` on the next run"
                            .into(),
                        code: None,
                        retryable: true,
                        kind: RecordErrorKind::Refused,
                    })
                })
            })
            .collect()
    }
}

/// `items` cut, in order, into chunks of at most `size` in which no key repeats: HubSpot
/// refuses a whole batch in which two inputs name the same record, so a record written twice
/// in one call (two local records linked to one HubSpot id, an id repeated after a merge)
/// goes in the next call instead.
fn distinct_chunks<'a, T>(
    items: &'a [T],
    size: usize,
    key: &(dyn Fn(&T) -> String + Sync),
) -> Vec<&'a [T]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen: HashSet<String> = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let k = key(item);
        if i - start == size || seen.contains(&k) {
            out.push(&items[start..i]);
            start = i;
            seen.clear();
        }
        seen.insert(k);
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

/// Marks the answer to `w` as carrying its local id in `crmsync_id`, which was written.
fn carries_local_id(rec: &mut RemoteRecord, w: &RemoteWrite) {
    rec.external_id = Some(w.local_id.clone());
    rec.props
        .entry(EXTERNAL_ID.to_string())
        .or_insert_with(|| w.local_id.clone());
}

/// Whether `rec` is HubSpot's answer for id `id`: the record itself, or the record `id` was
/// merged into (which lists it in `hs_merged_object_ids`, when that was asked for).
fn answers_for(rec: &RemoteRecord, id: &str) -> bool {
    rec.id == id
        || rec
            .props
            .get(MERGED_IDS)
            .is_some_and(|ids| ids.split(';').any(|m| m.trim() == id))
}

/// Whether HubSpot named the contact's primary company with the record.
fn has_primary(r: &RemoteRecord) -> bool {
    r.props.get(PRIMARY_COMPANY).is_some_and(|c| !c.is_empty())
}

/// Whether a read of `object` with `properties` asks for the contact's company.
/// Sets a contact's `associations.companies` to its primary company when it has one; says
/// whether it had.
fn with_primary_company(r: &mut RemoteRecord) -> bool {
    match r.props.get(PRIMARY_COMPANY).filter(|c| !c.is_empty()) {
        Some(primary) => {
            let primary = primary.clone();
            r.props.insert(COMPANY_ASSOCIATION.into(), primary);
            true
        }
        None => false,
    }
}

fn wants_company(object: ObjectKind, properties: &[String]) -> bool {
    object == ObjectKind::Contact && properties.iter().any(|p| p == COMPANY_ASSOCIATION)
}

/// What a write of one record was refused for. A validation error lists each bad property in
/// `errors` (its message embeds the same list as JSON); they are given one by one, by name,
/// and a value that is not one of a dropdown's options gets a hint, since HubSpot takes an
/// option's internal value (`marketingqualifiedlead`), not its label.
fn refusal_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let raw = v.get("message").and_then(Value::as_str).map(str::to_string);
    // A message naming the record that holds a unique value is kept whole: it is parsed.
    if raw.as_deref().and_then(existing_id).is_some() {
        return raw;
    }
    let properties: Vec<(String, &str)> = v
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let message = e.get("message")?.as_str()?;
            let text = match e.pointer("/context/propertyName/0").and_then(Value::as_str) {
                Some(name) => format!("`{name}`: {message}"),
                None => message.to_string(),
            };
            Some((text, e.get("code").and_then(Value::as_str).unwrap_or("")))
        })
        .collect();
    if properties.is_empty() {
        return raw;
    }
    let mut text = properties
        .iter()
        .map(|(t, _)| t.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let invalid = |owner: bool| {
        properties.iter().any(|(t, code)| {
            *code == "INVALID_OPTION" && t.starts_with(&format!("`{OWNER_PROPERTY}`")) == owner
        })
    };
    if invalid(false) {
        text.push_str(
            " (a dropdown takes one of the values listed, which may differ from the labels HubSpot shows)",
        );
    }
    if invalid(true) {
        text.push_str(
            " (an owner is the email of one of the account's HubSpot users, or its owner id; no owner has this one)",
        );
    }
    Some(text)
}

/// The properties a validation error refuses because HubSpot does not have them
/// (`PROPERTY_DOESNT_EXIST`, each named in its context).
fn unknown_properties(body: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return Vec::new();
    };
    v.get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("code").and_then(Value::as_str) == Some("PROPERTY_DOESNT_EXIST"))
        .filter_map(|e| e.pointer("/context/propertyName/0").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

fn json_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn pick_company(links: &[(String, bool)]) -> Option<String> {
    links
        .iter()
        .find(|(_, primary)| *primary)
        .or_else(|| links.first())
        .map(|(id, _)| id.clone())
}

/// Pairs batch results and errors with the inputs (see the module doc): one outcome per
/// input (`None` where HubSpot did not report on it), and the results that answered none.
fn match_results(
    inputs: &[RemoteWrite],
    batch: BatchResponse,
    key: &(dyn Fn(&RemoteWrite) -> String + Sync),
    modified: &str,
) -> (
    Vec<Option<Result<RemoteRecord, RecordError>>>,
    Vec<RemoteRecord>,
) {
    let mut by_key: HashMap<String, RemoteRecord> = HashMap::new();
    let mut unkeyed: Vec<RemoteRecord> = Vec::new();
    for o in batch.results {
        let r = to_record(o, modified);
        let k = if inputs.iter().any(|i| i.remote_id.is_some()) {
            Some(r.id.clone())
        } else {
            r.external_id.clone()
        };
        match k {
            Some(k) => {
                by_key.insert(k, r);
            }
            None => unkeyed.push(r),
        }
    }
    let mut errors: Vec<Option<StandardError>> = batch.errors.into_iter().map(Some).collect();
    let mut out: Vec<Option<Result<RemoteRecord, RecordError>>> = inputs
        .iter()
        .map(|i| by_key.remove(&key(i)).map(Ok))
        .collect();
    for (slot, input) in out.iter_mut().zip(inputs) {
        if slot.is_some() {
            continue;
        }
        let k = key(input);
        if let Some(e) = errors
            .iter_mut()
            .find(|e| e.as_ref().is_some_and(|e| e.mentions(&k)))
            .and_then(Option::take)
        {
            let status = e.status_text();
            *slot = Some(Err(record_error(e.message, status)));
        }
    }
    // By elimination: one input left and one result (or error) left belong together.
    let left: Vec<usize> = (0..inputs.len()).filter(|i| out[*i].is_none()).collect();
    let mut errors: Vec<StandardError> = errors.into_iter().flatten().collect();
    let mut results: Vec<RemoteRecord> = unkeyed;
    results.extend(by_key.into_values());
    if left.len() == 1 {
        if results.len() == 1 && errors.is_empty() {
            out[left[0]] = results.pop().map(Ok);
        } else if errors.len() == 1 && results.is_empty() {
            let e = errors.pop().expect("one error");
            let status = e.status_text();
            out[left[0]] = Some(Err(record_error(e.message, status)));
        }
    }
    (out, results)
}

fn props_body(props: &BTreeMap<String, String>, drop_empty: bool) -> Value {
    let map: serde_json::Map<String, Value> = props
        .iter()
        .filter(|(k, v)| !(k.starts_with("associations.") || drop_empty && v.is_empty()))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Value::Object(map)
}

fn field_kind(ty: &str, field_type: &str) -> RemoteFieldKind {
    match (ty, field_type) {
        (_, "booleancheckbox") | ("bool", _) => RemoteFieldKind::Bool,
        (_, "phonenumber") | ("phone_number", _) => RemoteFieldKind::Phone,
        ("string", _) => RemoteFieldKind::Text,
        ("number", _) => RemoteFieldKind::Number,
        ("date", _) => RemoteFieldKind::Date,
        ("datetime", _) => RemoteFieldKind::DateTime,
        ("enumeration", _) => RemoteFieldKind::Enumeration,
        _ => RemoteFieldKind::Other,
    }
}

#[async_trait]
impl Provider for HubSpot {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Hubspot
    }

    fn connection(&self) -> &str {
        self.http.connection()
    }

    fn objects(&self) -> &[ObjectKind] {
        &[ObjectKind::Company, ObjectKind::Contact]
    }

    fn required_fields(&self, _object: ObjectKind) -> Vec<FieldSpec> {
        vec![FieldSpec {
            name: EXTERNAL_ID.to_string(),
            label: "crmsync id".to_string(),
            kind: RemoteFieldKind::Text,
            unique: true,
        }]
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    fn default_mappings(&self, object: ObjectKind) -> Vec<DefaultMapping> {
        let pairs: &[(&'static str, &'static str)] = match object {
            ObjectKind::Contact => &[
                ("email", "email"),
                ("first_name", "firstname"),
                ("last_name", "lastname"),
                ("phone", "phone"),
                ("company", "company"),
                ("job_title", "jobtitle"),
                ("lifecycle_stage", "lifecyclestage"),
                ("owner", OWNER_PROPERTY),
                ("pronouns", "pronouns"),
                ("company_id", COMPANY_ASSOCIATION),
            ],
            ObjectKind::Company => &[
                ("name", "name"),
                ("domain", "domain"),
                ("industry", "industry"),
                ("country", "country"),
            ],
            ObjectKind::Activity => &[],
        };
        pairs
            .iter()
            .map(|(local, remote)| DefaultMapping {
                local,
                remote,
                direction: Direction::Both,
            })
            .collect()
    }

    fn read_properties(&self, object: ObjectKind, mapped: &[String]) -> Vec<String> {
        let mut props = mapped.to_vec();
        for extra in [EXTERNAL_ID, modified_property(object), MERGED_IDS] {
            if !props.iter().any(|p| p == extra) {
                props.push(extra.to_string());
            }
        }
        props
    }

    async fn changes(
        &self,
        query: &ChangeQuery,
        properties: &[String],
    ) -> Result<ChangePage, ProviderError> {
        let object = query.object;
        let path = object_path(object)?;
        let modified = modified_property(object);
        let now = self.clock.now();
        let mut t: PageToken = match &query.page {
            Some(p) => serde_json::from_str(p).map_err(|e| {
                ProviderError::Other(format!("invalid HubSpot page token `{p}`: {e}"))
            })?,
            None => {
                let cursor = match &query.since {
                    Some(s) => Some(serde_json::from_str::<Cursor>(s).map_err(|e| {
                        ProviderError::Other(format!(
                            "the stored HubSpot cursor `{s}` cannot be read ({e}); run \
                             `crmsync sync --full` to read everything again"
                        ))
                    })?),
                    None => None,
                };
                PageToken {
                    from: cursor.as_ref().map(|c| c.since),
                    past: false,
                    tie: None,
                    newest: None,
                    at_newest: Vec::new(),
                    old_since: cursor.as_ref().map(|c| c.since),
                    old_archive_scan: cursor.as_ref().map_or(0, |c| c.archive_scan),
                    crm_started_at: None,
                    scan_archived: cursor
                        .as_ref()
                        .is_none_or(|c| now - c.archive_scan >= self.options.archive_scan_interval),
                    in_archived: false,
                    archived_after: None,
                    started_at: now,
                }
            }
        };
        let props = self.search_properties(object, properties);

        if t.in_archived {
            let after = t.archived_after.clone();
            let mut req = Request::new(Method::Get, format!("/crm/v3/objects/{path}"))
                .query("archived", "true")
                .query("limit", self.options.list_limit.to_string())
                .query("properties", props.join(","));
            if let Some(a) = after {
                req = req.query("after", a);
            }
            let resp = self.http.send_ok(req).await?;
            let list: ObjectList = self.parse(&resp, "an archived list")?;
            let records = list
                .results
                .into_iter()
                .map(|o| {
                    let mut r = to_record(o, modified);
                    r.archived = true;
                    r
                })
                .collect();
            let next = list.paging.and_then(|p| p.next).map(|n| n.after);
            return Ok(match next {
                Some(a) => {
                    t.archived_after = Some(a);
                    ChangePage {
                        records,
                        checkpoint: Some(self.checkpoint(&t, false, false)),
                        next: Some(serde_json::to_string(&t).expect("token serialises")),
                    }
                }
                None => ChangePage {
                    records,
                    checkpoint: Some(self.checkpoint(&t, true, true)),
                    next: None,
                },
            });
        }

        let filter = |op: &str, prop: &str, value: String| json!({ "propertyName": prop, "operator": op, "value": value });
        let (filters, sort) = match t.tie {
            Some((at, last)) => (
                vec![
                    filter("EQ", modified, at.to_string()),
                    filter("GT", ID_PROPERTY, last.to_string()),
                ],
                ID_PROPERTY,
            ),
            None => (
                t.from
                    .map(|from| {
                        filter(
                            if t.past { "GT" } else { "GTE" },
                            modified,
                            from.to_string(),
                        )
                    })
                    .into_iter()
                    .collect(),
                modified,
            ),
        };
        let body = json!({
            "filterGroups": if filters.is_empty() { json!([]) } else { json!([{ "filters": filters }]) },
            "sorts": [{ "propertyName": sort, "direction": "ASCENDING" }],
            "properties": props,
            "limit": self.options.search_limit,
        });
        let resp = self
            .http
            .send_ok(
                Request::new(Method::Post, format!("/crm/v3/objects/{path}/search"))
                    .lane(Lane::Search)
                    .json(body),
            )
            .await?;
        if let Some(at) = resp
            .headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.timestamp_millis())
        {
            // The header has whole seconds: HubSpot's clock was somewhere in the second
            // after `at`. A difference that second cannot tell from none counts as none.
            let skew = at + 500 - self.clock.now();
            let skew = if skew.abs() < 1000 { 0 } else { skew };
            *self.skew.lock().unwrap_or_else(|e| e.into_inner()) = Some(skew);
            t.crm_started_at.get_or_insert(at);
        }
        let list: ObjectList = self.parse(&resp, "a search")?;
        let full = list.results.len() >= self.options.search_limit;
        let seen_at_newest: BTreeSet<String> = t.at_newest.iter().cloned().collect();
        let mut stamps: Vec<Millis> = Vec::with_capacity(list.results.len());
        let mut last_id: Option<u64> = None;
        let mut records: Vec<RemoteRecord> = Vec::with_capacity(list.results.len());
        let company = wants_company(object, properties);
        for o in list.results {
            let mut r = to_record(o, modified);
            if company {
                with_primary_company(&mut r);
            }
            let stamp = r
                .props
                .get(modified)
                .and_then(|v| crate::clock::parse_instant(v))
                .unwrap_or(r.updated_at);
            stamps.push(stamp);
            last_id = last_id.max(r.id.parse().ok());
            if Some(stamp) == t.newest && seen_at_newest.contains(&r.id) {
                continue;
            }
            match t.newest {
                Some(n) if stamp < n => {}
                Some(n) if stamp == n => t.at_newest.push(r.id.clone()),
                _ => {
                    t.newest = Some(stamp);
                    t.at_newest = vec![r.id.clone()];
                }
            }
            records.push(r);
        }
        let more = match t.tie {
            Some((at, _)) if full => {
                let last = last_id.ok_or_else(|| {
                    ProviderError::Other(format!("HubSpot sent {path} without a numeric id"))
                })?;
                t.tie = Some((at, last));
                true
            }
            Some((at, _)) => {
                // Every record at `at` is read: go on past it.
                t.tie = None;
                t.from = Some(at);
                t.past = true;
                t.at_newest.clear();
                true
            }
            None if full => {
                let (first, last) = (stamps[0], stamps[stamps.len() - 1]);
                if first == last {
                    // A page's worth of records share one time: page them by id.
                    tracing::debug!(at = first, "a search page at one time; paging it by id");
                    t.tie = Some((first, 0));
                } else {
                    t.from = Some(last);
                    t.past = false;
                }
                true
            }
            None => false,
        };
        if more {
            return Ok(ChangePage {
                records,
                checkpoint: Some(self.checkpoint(&t, false, false)),
                next: Some(serde_json::to_string(&t).expect("token serialises")),
            });
        }
        if t.scan_archived {
            t.in_archived = true;
            t.archived_after = None;
            return Ok(ChangePage {
                records,
                checkpoint: Some(self.checkpoint(&t, false, false)),
                next: Some(serde_json::to_string(&t).expect("token serialises")),
            });
        }
        Ok(ChangePage {
            records,
            checkpoint: Some(self.checkpoint(&t, false, true)),
            next: None,
        })
    }

    fn clock_skew(&self) -> Option<Millis> {
        *self.skew.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn merged_from(&self, record: &RemoteRecord) -> Vec<String> {
        record
            .props
            .get(MERGED_IDS)
            .map(|ids| {
                ids.split(';')
                    .map(str::trim)
                    .filter(|id| !id.is_empty() && *id != record.id)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn complete(
        &self,
        object: ObjectKind,
        records: &mut [RemoteRecord],
        properties: &[String],
    ) -> Result<(), ProviderError> {
        if wants_company(object, properties) && !records.is_empty() {
            self.fill_companies(records).await?;
        }
        Ok(())
    }

    async fn create(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let send = |sent: Vec<RemoteWrite>| async move { self.create(object, &sent).await };
        if let Some(out) = refusing_too_long(inputs, send).await {
            return out;
        }
        let path = object_path(object)?;
        let modified = modified_property(object);
        let url = format!("/crm/v3/objects/{path}/batch/upsert");
        let key = |w: &RemoteWrite| w.local_id.clone();
        let body = |chunk: &[RemoteWrite]| {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|w| {
                    // The id property is also sent as a property so that HubSpot echoes it in
                    // the result, which is how results are matched to inputs.
                    let mut props = props_body(&w.props, true);
                    props[EXTERNAL_ID] = Value::String(w.local_id.clone());
                    json!({
                        "id": w.local_id,
                        "idProperty": EXTERNAL_ID,
                        "properties": props,
                    })
                })
                .collect();
            json!({ "inputs": inputs })
        };
        let mut results = self
            .batch_write(&url, inputs, &key, &body, modified)
            .await?
            .finish();
        for (r, w) in results.iter_mut().zip(inputs) {
            if let Ok(rec) = r {
                carries_local_id(rec, w);
            }
        }
        if object == ObjectKind::Contact {
            self.apply_companies(inputs, &mut results, true).await?;
        }
        Ok(results)
    }

    async fn update(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let send = |sent: Vec<RemoteWrite>| async move { self.update(object, &sent).await };
        if let Some(out) = refusing_too_long(inputs, send).await {
            return out;
        }
        let path = object_path(object)?;
        let modified = modified_property(object);
        if let Some(w) = inputs.iter().find(|w| w.remote_id.is_none()) {
            return Err(ProviderError::Other(format!(
                "cannot update record `{}` in HubSpot without its HubSpot id",
                w.local_id
            )));
        }
        let key = |w: &RemoteWrite| w.remote_id.clone().unwrap_or_default();
        let has_props = |w: &RemoteWrite| {
            w.set_external_id || w.props.keys().any(|k| !k.starts_with("associations."))
        };
        let (writes, reads): (Vec<usize>, Vec<usize>) =
            (0..inputs.len()).partition(|i| has_props(&inputs[*i]));
        let mut results: Vec<Option<Result<RemoteRecord, RecordError>>> = vec![None; inputs.len()];
        let write_inputs: Vec<RemoteWrite> = writes.iter().map(|i| inputs[*i].clone()).collect();
        if !write_inputs.is_empty() {
            let url = format!("/crm/v3/objects/{path}/batch/update");
            let body = |chunk: &[RemoteWrite]| {
                let inputs: Vec<Value> = chunk
                    .iter()
                    .map(|w| {
                        let mut props = props_body(&w.props, false);
                        if w.set_external_id {
                            props[EXTERNAL_ID] = Value::String(w.local_id.clone());
                        }
                        json!({ "id": w.remote_id, "properties": props })
                    })
                    .collect();
                json!({ "inputs": inputs })
            };
            let mut out = self
                .batch_write(&url, &write_inputs, &key, &body, modified)
                .await?;
            self.claim_merged(object, &write_inputs, &mut out).await?;
            for (i, r) in writes.iter().zip(out.finish()) {
                results[*i] = Some(r);
            }
        }
        if !reads.is_empty() {
            // Only the company changed: HubSpot's current version is read back instead (a
            // record merged away reads as the one it went into, which lists it).
            let ids: Vec<String> = reads.iter().map(|i| key(&inputs[*i])).collect();
            let mut found = self
                .batch_read(
                    object,
                    None,
                    &ids,
                    &[COMPANY_ASSOCIATION.to_string(), MERGED_IDS.to_string()],
                )
                .await?;
            for i in reads {
                let id = key(&inputs[i]);
                let at = found
                    .iter()
                    .position(|r| r.id == id)
                    .or_else(|| found.iter().position(|r| answers_for(r, &id)));
                results[i] = Some(match at {
                    Some(at) => Ok(found.swap_remove(at)),
                    None => Err(RecordError {
                        message: format!(
                            "HubSpot has no live {object} `{id}` (archived or deleted there): \
                             restore it in HubSpot, or archive the local record, then run \
                             `crmsync retry`"
                        ),
                        code: Some("404".into()),
                        retryable: false,
                        kind: RecordErrorKind::Refused,
                    }),
                });
            }
        }
        let mut results: WriteResults<RemoteRecord> = results
            .into_iter()
            .map(|r| r.expect("every input has a result"))
            .collect();
        for (r, w) in results.iter_mut().zip(inputs) {
            if let Ok(rec) = r
                && w.set_external_id
            {
                carries_local_id(rec, w);
            }
        }
        if object == ObjectKind::Contact {
            self.apply_companies(inputs, &mut results, false).await?;
        }
        Ok(results)
    }

    async fn archive(
        &self,
        object: ObjectKind,
        remote_ids: &[String],
    ) -> Result<WriteResults<()>, ProviderError> {
        let path = object_path(object)?;
        let mut out = Vec::with_capacity(remote_ids.len());
        for chunk in distinct_chunks(remote_ids, BATCH, &|id: &String| id.clone()) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            self.http
                .send_ok(
                    Request::new(
                        Method::Post,
                        format!("/crm/v3/objects/{path}/batch/archive"),
                    )
                    .json(json!({ "inputs": inputs })),
                )
                .await?;
            out.extend(chunk.iter().map(|_| Ok(())));
        }
        Ok(out)
    }

    async fn read_by_ids(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        self.batch_read(object, None, ids, properties).await
    }

    async fn find_by_external_id(
        &self,
        object: ObjectKind,
        local_ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        self.batch_read(object, Some(EXTERNAL_ID), local_ids, properties)
            .await
    }

    async fn field_times(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<FieldTimes, ProviderError> {
        // Associations are not properties and have no history; a contact's company changes
        // with its primary company, whose property has one.
        let mut history: Vec<String> = properties
            .iter()
            .filter(|p| !p.starts_with("associations."))
            .cloned()
            .collect();
        let company = wants_company(object, properties);
        if company && !history.iter().any(|p| p == PRIMARY_COMPANY) {
            history.push(PRIMARY_COMPANY.to_string());
        }
        if ids.is_empty() || history.is_empty() {
            return Ok(FieldTimes::new());
        }
        Ok(self
            .batch_read_objects(object, None, ids, &[], &history)
            .await?
            .iter()
            .map(|o| {
                let mut times = history_times(o);
                if company && let Some(at) = times.get(PRIMARY_COMPANY).copied() {
                    times.insert(COMPANY_ASSOCIATION.to_string(), at);
                }
                times.retain(|p, _| properties.contains(p));
                (o.id.clone(), times)
            })
            .filter(|(_, times)| !times.is_empty())
            .collect())
    }

    async fn fields(&self, object: ObjectKind) -> Result<Vec<RemoteField>, ProviderError> {
        let path = object_path(object)?;
        let resp = self
            .http
            .send_ok(Request::new(
                Method::Get,
                format!("/crm/v3/properties/{path}"),
            ))
            .await?;
        let body: Value = self.parse(&resp, "the property list")?;
        let mut out: Vec<RemoteField> = body["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let name = p["name"].as_str()?.to_string();
                let ty = p["type"].as_str().unwrap_or("string");
                let field_type = p["fieldType"].as_str().unwrap_or("");
                Some(RemoteField {
                    label: p["label"].as_str().unwrap_or(&name).to_string(),
                    name,
                    remote_type: ty.to_string(),
                    kind: field_kind(ty, field_type),
                    read_only: p["modificationMetadata"]["readOnlyValue"]
                        .as_bool()
                        .unwrap_or(false)
                        || p["calculated"].as_bool().unwrap_or(false),
                    unique: p["hasUniqueValue"].as_bool().unwrap_or(false),
                    options: p["options"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|o| {
                            let value = o["value"].as_str()?.to_string();
                            let label = o["label"].as_str().unwrap_or(&value).to_string();
                            Some(FieldOption { value, label })
                        })
                        .collect(),
                })
            })
            .collect();
        // The owner property's options are the owners, by email: a local owner given as an
        // email is sent as the owner's id, and an id read back reads as the email. Read with
        // the catalogue, so kept as long as it is.
        if let Some(owner) = out.iter_mut().find(|f| f.name == OWNER_PROPERTY) {
            owner.options = self.owners().await?;
        }
        if object == ObjectKind::Contact {
            out.push(RemoteField {
                name: COMPANY_ASSOCIATION.into(),
                label: "Associated company".into(),
                remote_type: "association".into(),
                kind: RemoteFieldKind::Reference,
                read_only: false,
                unique: false,
                options: Vec::new(),
            });
        }
        Ok(out)
    }

    async fn create_field(
        &self,
        object: ObjectKind,
        spec: &FieldSpec,
    ) -> Result<(), ProviderError> {
        let path = object_path(object)?;
        let (ty, field_type) = match spec.kind {
            RemoteFieldKind::Number => ("number", "number"),
            RemoteFieldKind::Bool => ("bool", "booleancheckbox"),
            RemoteFieldKind::Date => ("date", "date"),
            RemoteFieldKind::DateTime => ("datetime", "date"),
            RemoteFieldKind::Phone => ("phone_number", "phonenumber"),
            RemoteFieldKind::Enumeration => {
                return Err(ProviderError::Other(format!(
                    "cannot create HubSpot property `{}` as an enumeration without options; \
                     create it in HubSpot, or as text",
                    spec.name
                )));
            }
            RemoteFieldKind::Text | RemoteFieldKind::Reference | RemoteFieldKind::Other => {
                ("string", "text")
            }
        };
        let group = match object {
            ObjectKind::Company => "companyinformation",
            _ => "contactinformation",
        };
        let mut body = json!({
            "name": spec.name,
            "label": spec.label,
            "type": ty,
            "fieldType": field_type,
            "groupName": group,
            "hasUniqueValue": spec.unique,
        });
        if spec.kind == RemoteFieldKind::Bool {
            body["options"] = json!([
                { "label": "Yes", "value": "true", "hidden": false, "displayOrder": 0 },
                { "label": "No", "value": "false", "hidden": false, "displayOrder": 1 },
            ]);
        }
        let req = Request::new(Method::Post, format!("/crm/v3/properties/{path}"))
            .json(body)
            .record(spec.name.clone());
        let resp = self.http.send(req.clone()).await?;
        match resp.status {
            200..=299 => Ok(()),
            // A retried create (or a second `mappings setup`) finds the property there.
            409 => {
                tracing::debug!(property = %spec.name, "property exists already");
                Ok(())
            }
            _ => Err(self.http.api_error(&req, &resp)),
        }
    }

    async fn account(&self) -> Result<AccountInfo, ProviderError> {
        let resp = self
            .http
            .send_ok(Request::new(Method::Get, "/account-info/v3/details"))
            .await?;
        let v: Value = self.parse(&resp, "the account details")?;
        let portal = json_id(&v["portalId"]).ok_or_else(|| {
            ProviderError::Other("HubSpot account details carry no `portalId`".into())
        })?;
        let mut account = format!("portal {portal}");
        if let Some(domain) = v["uiDomain"].as_str() {
            account.push_str(&format!(" on {domain}"));
        }
        if let Some(kind) = v["accountType"].as_str()
            && kind != "STANDARD"
        {
            account.push_str(&format!(" ({})", kind.to_ascii_lowercase()));
        }
        Ok(AccountInfo {
            id: portal,
            account,
            scopes: Vec::new(),
        })
    }

    fn requests_sent(&self) -> u64 {
        self.http.requests_sent()
    }
}

impl HubSpot {
    /// The portal's active owners that have an email, as options of the owner property (the
    /// email the label, the owner's id the value): `GET /crm/v3/owners`, 100 a page.
    async fn owners(&self) -> Result<Vec<FieldOption>, ProviderError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = "/crm/v3/owners?limit=100&archived=false".to_string();
            if let Some(a) = &after {
                path.push_str("&after=");
                path.extend(url::form_urlencoded::byte_serialize(a.as_bytes()));
            }
            let resp = self.http.send_ok(Request::new(Method::Get, path)).await?;
            let body: Value = self.parse(&resp, "the owner list")?;
            for o in body["results"].as_array().into_iter().flatten() {
                if let (Some(id), Some(email)) = (json_id(&o["id"]), o["email"].as_str())
                    && !email.is_empty()
                {
                    out.push(FieldOption {
                        value: id,
                        label: email.to_string(),
                    });
                }
            }
            match body.pointer("/paging/next/after").and_then(Value::as_str) {
                Some(a) => after = Some(a.to_string()),
                None => return Ok(out),
            }
        }
    }

    /// Batch read by id or by `id_property` (`POST …/batch/read`, 100 inputs a call), archived
    /// records excluded; ids HubSpot does not know (named in a 207's errors) are left out. A
    /// contact's company is read with the v4 association read, as the change feed does, when
    /// `properties` asks for `associations.companies`.
    async fn batch_read(
        &self,
        object: ObjectKind,
        id_property: Option<&str>,
        ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        let modified = modified_property(object);
        let props = self.search_properties(object, properties);
        let mut out: Vec<RemoteRecord> = self
            .batch_read_objects(object, id_property, ids, &props, &[])
            .await?
            .into_iter()
            .map(|o| to_record(o, modified))
            .collect();
        let want_company = wants_company(object, properties);
        if want_company && !out.is_empty() {
            self.fill_companies(&mut out).await?;
        }
        Ok(out)
    }

    /// `POST …/batch/read` of `ids` (by HubSpot id, or by `id_property`), 100 inputs a call,
    /// archived records excluded, with `properties` and `propertiesWithHistory: history`. Ids
    /// HubSpot does not know (named in a 207's errors) are simply absent from the answer.
    async fn batch_read_objects(
        &self,
        object: ObjectKind,
        id_property: Option<&str>,
        ids: &[String],
        properties: &[String],
        history: &[String],
    ) -> Result<Vec<HsObject>, ProviderError> {
        let path = object_path(object)?;
        let mut out = Vec::new();
        for chunk in ids.chunks(BATCH) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            let mut body = json!({
                "inputs": inputs,
                "properties": properties,
                "propertiesWithHistory": history,
            });
            if let Some(p) = id_property {
                body["idProperty"] = Value::String(p.to_string());
            }
            let resp = self
                .http
                .send_ok(
                    Request::new(Method::Post, format!("/crm/v3/objects/{path}/batch/read"))
                        .query("archived", "false")
                        .json(body),
                )
                .await?;
            let batch: BatchResponse = self.parse(&resp, "a batch read")?;
            out.extend(batch.results);
        }
        Ok(out)
    }

    /// Applies `associations.companies` of the inputs that carry it to the contacts written.
    async fn apply_companies(
        &self,
        inputs: &[RemoteWrite],
        results: &mut WriteResults<RemoteRecord>,
        creating: bool,
    ) -> Result<(), ProviderError> {
        let mut idx = Vec::new();
        let mut wanted = Vec::new();
        for (i, (w, r)) in inputs.iter().zip(results.iter()).enumerate() {
            let Ok(rec) = r else { continue };
            let Some(company) = w.props.get(COMPANY_ASSOCIATION) else {
                continue;
            };
            // A new contact has no association to remove; an empty value needs no call.
            if creating && company.is_empty() {
                continue;
            }
            idx.push(i);
            wanted.push((
                rec.id.clone(),
                (!company.is_empty()).then(|| company.clone()),
            ));
        }
        let errors = self.set_companies(&wanted).await?;
        for ((i, (_, company)), err) in idx.into_iter().zip(wanted).zip(errors) {
            match err {
                Some(e) => results[i] = Err(e),
                None => {
                    if let Ok(rec) = &mut results[i] {
                        match company {
                            Some(c) => rec.props.insert(COMPANY_ASSOCIATION.into(), c),
                            None => rec.props.remove(COMPANY_ASSOCIATION),
                        };
                    }
                }
            }
        }
        Ok(())
    }
}
