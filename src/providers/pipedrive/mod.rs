//! Pipedrive: persons, organizations and activities through the v2 API, their field
//! catalogues, activity types, the account and the change log of deletions through v1.
//!
//! # Ids and the external id
//! Pipedrive ids are integers, read as text. The local id travels in a custom field named
//! `crmsync_id` (created by `mappings setup` with `POST /api/v1/personFields`), found by name
//! in the field catalogue, never by a hash written down. Pipedrive has no upsert and no
//! batch writes: each record is one call, a few at a time; a create whose answer was lost
//! (or that failed with a 5xx) is looked up by its `crmsync_id` before it is sent again.
//!
//! # Where things are
//! - [`activities`]: activities' JSON, types, and creates matched by content.
//! - [`feed`]: the change feed (v2 lists by `update_time`, v1 `recents` for deletions and
//!   merges).
//! - [`writes`]: creates, updates and deletes one record a call, and reads by id.
//! - [`catalogue`]: the field catalogue, custom fields and the built-in mappings.
//! - [`owners`]: users as the owner's options (email ⇄ `owner_id`).
//! - [`labels`]: the labels put on the records crmsync creates, added when missing.
//! - [`refusal`]: what Pipedrive's error answers say.
//! - [`pacing`]: Pipedrive's rate limits.
//! - [`auth`]: OAuth endpoints, how a token is sent, and the account.
//! - [`wire`]: Pipedrive's JSON.

mod activities;
mod auth;
mod catalogue;
mod feed;
mod labels;
mod owners;
mod pacing;
mod refusal;
mod tags;
mod webhooks;
mod wire;
mod writes;

pub use activities::DEFAULT_ACTIVITY_TYPES;
pub use auth::{OAUTH_BASE_URL, api_base, is_api_token, oauth_spec};
pub use catalogue::default_mappings;
pub use pacing::{DAILY_RESERVE, SEARCHES_PER_SECOND};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::model::{Millis, ObjectKind};
use crate::providers::http::{AuthScheme, CrmHooks, HttpClient, HttpOptions, Response};
use crate::providers::{
    AccountInfo, ChangePage, ChangeQuery, DefaultMapping, FieldSpec, Provider, ProviderContext,
    ProviderError, ProviderKind, RemoteField, RemoteRecord, RemoteWrite, WriteResults,
};

/// Pipedrive's API host (v2 under `/api/v2`, v1 under `/api/v1`).
pub const DEFAULT_BASE_URL: &str = "https://api.pipedrive.com";
/// The custom field holding the local id.
pub const EXTERNAL_ID: &str = "crmsync_id";
/// The property holding a person's organization id.
pub const ORG_REF: &str = "org_id";
/// The property holding a person's primary email.
const EMAIL: &str = "email";
/// The property holding a person's primary phone.
const PHONE: &str = "phone";
/// The most records a v2 list answers with, and the most ids one `ids=` read takes.
const LIST_LIMIT: usize = 500;
const IDS_PER_READ: usize = 100;
/// Writes in flight at once (each record is its own call). The burst window, not this, is
/// what bounds the rate: at a round trip of 200–300 ms, an Advanced plan's 20 calls a second
/// need 4–6 in flight and a Professional plan's 40 up to 12, so 16 leave the window the
/// limit however far the server (with 4, a 300 ms round trip would hold writes to 13 a
/// second).
const WRITE_CONCURRENCY: usize = 16;
/// Creates the engine hands over in one call (see [`Provider::write_chunk`]); updates and
/// archives go in whole batches, [`WRITE_CONCURRENCY`] in flight.
const CREATE_CHUNK: usize = 4;

/// Tuning knobs, mostly for tests: the real values are the defaults.
#[derive(Debug, Clone)]
pub struct PipedriveOptions {
    pub http: HttpOptions,
    /// Records a change-feed page asks for.
    pub list_limit: usize,
    /// Writes in flight at once.
    pub write_concurrency: usize,
    /// The labels put on the records crmsync creates, per object (the connection's
    /// `[connections.NAME.OBJECT] labels`).
    pub labels: HashMap<ObjectKind, Vec<String>>,
}

impl Default for PipedriveOptions {
    fn default() -> Self {
        PipedriveOptions {
            http: HttpOptions::from_env(),
            list_limit: super::test_page_size(LIST_LIMIT).unwrap_or(LIST_LIMIT),
            write_concurrency: WRITE_CONCURRENCY,
            labels: HashMap::new(),
        }
    }
}

/// A Pipedrive company account.
pub struct Pipedrive {
    http: HttpClient,
    clock: Arc<dyn crate::clock::Clock>,
    options: PipedriveOptions,
    /// [`ProviderContext::overlap`].
    overlap: Millis,
    /// [`Provider::clock_skew`], from the `Date` header of the last feed page.
    skew: Mutex<Option<Millis>>,
    /// The field catalogues read so far (or kept from an earlier run).
    catalogues: Mutex<HashMap<ObjectKind, Arc<catalogue::Catalogue>>>,
    /// The catalogues kept from an earlier run and not read again since
    /// ([`Provider::restore_catalogue`]).
    restored: Mutex<std::collections::HashSet<ObjectKind>>,
    /// The persons this run read by id, as Pipedrive answered them, each kept until an update
    /// of it takes it (see [`writes`]): the read that planned the update serves its write.
    read_persons: Mutex<HashMap<String, serde_json::Value>>,
}

/// Pipedrive's name, how to read its error answers and how it takes a token: an API token
/// in `x-api-token`, an OAuth access token as Bearer.
const HOOKS: CrmHooks = CrmHooks {
    name: "Pipedrive",
    error_message: refusal::error_message,
    throttle_hint: refusal::throttle_hint,
    auth: AuthScheme::ByToken {
        header: "x-api-token",
        in_header: is_api_token,
    },
};

/// The v2 collection of `object`.
fn object_path(object: ObjectKind) -> Result<&'static str, ProviderError> {
    match object {
        ObjectKind::Contact => Ok("persons"),
        ObjectKind::Company => Ok("organizations"),
        ObjectKind::Activity => Ok("activities"),
        ObjectKind::Deal => Err(ProviderError::Other(
            "crmsync does not sync Pipedrive deals yet".into(),
        )),
    }
}

/// The v1 field catalogue of `object`.
fn fields_path(object: ObjectKind) -> Result<&'static str, ProviderError> {
    match object {
        ObjectKind::Contact => Ok("personFields"),
        ObjectKind::Company => Ok("organizationFields"),
        ObjectKind::Activity => Err(ProviderError::Other(
            "crmsync keeps no custom fields on Pipedrive activities".into(),
        )),
        ObjectKind::Deal => Err(ProviderError::Other(
            "crmsync does not sync Pipedrive deals yet".into(),
        )),
    }
}

impl Pipedrive {
    pub fn new(ctx: ProviderContext) -> Result<Pipedrive, ProviderError> {
        Pipedrive::with_options(ctx, PipedriveOptions::default())
    }

    pub fn with_options(
        ctx: ProviderContext,
        options: PipedriveOptions,
    ) -> Result<Pipedrive, ProviderError> {
        let clock = ctx.clock.clone();
        let overlap = ctx.overlap;
        let http = HttpClient::new(
            ctx,
            DEFAULT_BASE_URL,
            HOOKS,
            pacing::policy(),
            options.http.clone(),
        )?;
        Ok(Pipedrive {
            http,
            clock,
            options,
            overlap,
            skew: Mutex::new(None),
            catalogues: Mutex::new(HashMap::new()),
            restored: Mutex::new(std::collections::HashSet::new()),
            read_persons: Mutex::new(HashMap::new()),
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

    fn lock_catalogues(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ObjectKind, Arc<catalogue::Catalogue>>> {
        self.catalogues.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_read_persons(&self) -> std::sync::MutexGuard<'_, HashMap<String, serde_json::Value>> {
        self.read_persons.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_restored(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<ObjectKind>> {
        self.restored.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Provider for Pipedrive {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Pipedrive
    }

    async fn subscribe_webhooks(
        &self,
        url: &str,
        user: &str,
        password: &str,
    ) -> Result<usize, ProviderError> {
        self.subscribe(url, user, password).await
    }

    async fn unsubscribe_webhooks(&self, url: &str) -> Result<usize, ProviderError> {
        self.unsubscribe(url).await
    }

    fn connection(&self) -> &str {
        self.http.connection()
    }

    fn objects(&self) -> &[ObjectKind] {
        &[
            ObjectKind::Company,
            ObjectKind::Contact,
            ObjectKind::Activity,
        ]
    }

    fn required_fields(&self, object: ObjectKind) -> Vec<FieldSpec> {
        match object {
            ObjectKind::Activity => Vec::new(),
            _ => catalogue::required_fields(object),
        }
    }

    fn batch_size(&self) -> usize {
        IDS_PER_READ
    }

    fn tag_field(&self, object: ObjectKind) -> Option<FieldSpec> {
        crate::providers::contact_and_company_tag_field(object)
    }

    async fn find_tagged(
        &self,
        object: ObjectKind,
        tag: &str,
    ) -> Result<Vec<String>, ProviderError> {
        self.tagged(object, tag).await
    }

    /// Creates handed over at once: a call stopped by the day's budget loses the answers of
    /// a few creates at most, each a 20-token search in the next run.
    fn write_chunk(&self) -> usize {
        CREATE_CHUNK.min(self.options.write_concurrency)
    }

    fn default_mappings(&self, object: ObjectKind) -> Vec<DefaultMapping> {
        default_mappings(object)
    }

    fn read_properties(&self, object: ObjectKind, mapped: &[String]) -> Vec<String> {
        let mut props = mapped.to_vec();
        if object != ObjectKind::Activity && !props.iter().any(|p| p == EXTERNAL_ID) {
            props.push(EXTERNAL_ID.to_string());
        }
        props
    }

    async fn changes(
        &self,
        query: &ChangeQuery,
        properties: &[String],
    ) -> Result<ChangePage, ProviderError> {
        self.read_changes(query, properties).await
    }

    /// The persons the change log named merged into `record` (see [`feed`]).
    fn merged_from(&self, record: &RemoteRecord) -> Vec<String> {
        feed::merged_from(record)
    }

    fn kept_catalogue(&self, object: ObjectKind) -> Option<String> {
        self.catalogue_text(object)
    }

    fn restore_catalogue(&self, object: ObjectKind, kept: &str) {
        self.restore_catalogue_text(object, kept);
    }

    fn clock_skew(&self) -> Option<Millis> {
        *self.skew.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn create(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        match object {
            ObjectKind::Activity => self.create_activities(inputs).await,
            _ => self.create_records(object, inputs).await,
        }
    }

    async fn update(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        match object {
            ObjectKind::Activity => self.update_activities(inputs).await,
            _ => self.update_records(object, inputs).await,
        }
    }

    async fn archive(
        &self,
        object: ObjectKind,
        remote_ids: &[String],
    ) -> Result<WriteResults<()>, ProviderError> {
        self.delete_records(object, remote_ids).await
    }

    async fn read_by_ids(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        self.read_ids(object, ids, properties).await
    }

    async fn find_by_external_id(
        &self,
        object: ObjectKind,
        local_ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        match object {
            // No external id: a create is found by its content before it is sent again
            // (see `activities`).
            ObjectKind::Activity => Ok(Vec::new()),
            _ => self.find_external(object, local_ids, properties).await,
        }
    }

    async fn fields(&self, object: ObjectKind) -> Result<Vec<RemoteField>, ProviderError> {
        match object {
            ObjectKind::Activity => self.activity_fields().await,
            _ => self.remote_fields(object).await,
        }
    }

    async fn create_field(
        &self,
        object: ObjectKind,
        spec: &FieldSpec,
    ) -> Result<(), ProviderError> {
        self.create_custom_field(object, spec).await
    }

    async fn setup_labels(&self, object: ObjectKind) -> Result<Vec<String>, ProviderError> {
        self.add_missing_labels(object).await
    }

    async fn account(&self) -> Result<AccountInfo, ProviderError> {
        self.account_info().await
    }

    async fn credential_key(&self) -> Option<String> {
        self.http.credential_key().await
    }

    fn requests_sent(&self) -> u64 {
        self.http.requests_sent()
    }
}
