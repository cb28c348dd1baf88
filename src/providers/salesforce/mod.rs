//! Salesforce: Contacts, Accounts, Tasks and Opportunities through the REST API
//! (`/services/data/vNN.0/`), their `describe` catalogues, SOQL for the change feed and reads,
//! sObject Collections for writes, the Tooling API for custom fields, and Bulk API 2.0 query
//! jobs for a large first import. DIGEST §3 is the reference; what it marks unconfirmed is said
//! where it is relied on.
//!
//! # Objects and the external id
//! Contact ⇄ contact, Account ⇄ company (a contact's `AccountId`), Task ⇄ activity (`WhoId`
//! the contact, `WhatId` the company when it is an Account), Opportunity ⇄ deal (`AccountId`
//! the company, the primary contact role the contact: [`deals`]). Ids are Salesforce's
//! 18-character ids as it sends them. The local id travels in the custom field
//! `crmsync_id__c` (an External ID, unique; `mappings setup` creates it), so a create is an
//! upsert by it and a retried create finds the first one instead of making another.
//!
//! # Where things are
//! - [`feed`]: the change feed (SOQL on `SystemModstamp`, `deleted`, `queryAll`).
//! - [`bulk`]: Bulk API 2.0 query jobs for the first read of a large object.
//! - [`merges`]: records a user merged, found with `queryAll` (`MasterRecordId`).
//! - [`writes`]: composite sObject collections (upsert, update, delete) and reads by id.
//! - [`catalogue`]: `describe`, the built-in mappings, custom fields through the Tooling API.
//! - [`deals`]: what Opportunities need beyond that: stages, contact roles, owners.
//! - [`wire`]: Salesforce's JSON, times and SOQL literals.
//! - [`refusal`]: Salesforce's error arrays.
//! - [`pacing`]: the org's daily allocation (`Sforce-Limit-Info`) and its reserve.
//! - [`auth`]: OAuth endpoints on the login host, the instance URL, the account.

mod auth;
mod bulk;
mod catalogue;
mod deals;
mod feed;
mod merges;
mod pacing;
mod refusal;
mod wire;
mod writes;

pub use auth::{PRODUCTION_LOGIN_URL, SANDBOX_LOGIN_URL, instance_url, is_api_version, oauth_spec};
pub use catalogue::{DEFAULT_ACTIVITY_TYPES, default_mappings};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::model::{Millis, ObjectKind};
use crate::providers::http::{AuthScheme, CrmHooks, HttpClient, HttpOptions, Request, Response};
use crate::providers::{
    AccountInfo, ChangePage, ChangeQuery, DefaultMapping, FieldSpec, Provider, ProviderContext,
    ProviderError, ProviderKind, RemoteField, RemoteRecord, RemoteWrite, WriteResults,
};

/// The custom field holding the local id.
pub const EXTERNAL_ID: &str = "crmsync_id__c";
/// The REST API version crmsync speaks unless `api_version` says otherwise.
pub const DEFAULT_API_VERSION: &str = "v61.0";
/// The share of the org's daily API allocation left to its other integrations.
pub const DEFAULT_RESERVE_PERCENT: u8 = 20;
/// Records above which a first read goes through Bulk API 2.0.
pub const DEFAULT_BULK_THRESHOLD: u64 = 10_000;
/// The most records one sObject Collections call takes (DIGEST §3.6).
const COLLECTION_LIMIT: usize = 200;
/// The largest query page Salesforce serves (`Sforce-Query-Options: batchSize`, DIGEST §3.4).
const QUERY_BATCH: usize = 2000;
/// The waits before a request refused for the org's long-running requests at once is sent
/// again.
const CONCURRENT_WAITS: [std::time::Duration; 3] = [
    std::time::Duration::from_secs(2),
    std::time::Duration::from_secs(5),
    std::time::Duration::from_secs(10),
];
/// Sent with every request, so that crmsync's own changes can be told apart
/// (`changeOrigin` carries `client=crmsync`, DIGEST §3.11).
const CALL_OPTIONS: (&str, &str) = ("Sforce-Call-Options", "client=crmsync");

/// A Salesforce connection's settings from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `api_version`: `vNN.0`.
    pub api_version: String,
    /// `reserve_percent`.
    pub reserve_percent: u8,
    /// `bulk_threshold`.
    pub bulk_threshold: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_version: DEFAULT_API_VERSION.to_string(),
            reserve_percent: DEFAULT_RESERVE_PERCENT,
            bulk_threshold: DEFAULT_BULK_THRESHOLD,
        }
    }
}

/// Tuning knobs, mostly for tests: the real values are the defaults.
#[derive(Debug, Clone)]
pub struct SalesforceOptions {
    pub http: HttpOptions,
    pub settings: Settings,
    /// Records a query page asks for (`batchSize`).
    pub batch_size: usize,
    /// How long to wait between polls of a Bulk API job.
    pub bulk_poll: std::time::Duration,
    /// Records one answer of a Bulk API job's results asks for (`maxRecords`).
    pub bulk_page: usize,
}

impl Default for SalesforceOptions {
    fn default() -> Self {
        SalesforceOptions {
            http: HttpOptions::from_env(),
            settings: Settings::default(),
            batch_size: super::test_page_size(QUERY_BATCH).unwrap_or(QUERY_BATCH),
            bulk_poll: std::time::Duration::from_secs(2),
            bulk_page: bulk::RESULTS_PER_CALL,
        }
    }
}

/// A Salesforce org, reached at its instance URL.
pub struct Salesforce {
    http: HttpClient,
    clock: Arc<dyn crate::clock::Clock>,
    options: SalesforceOptions,
    /// [`ProviderContext::overlap`].
    overlap: Millis,
    /// [`Provider::clock_skew`], from the `Date` header of the last feed page.
    skew: Mutex<Option<Millis>>,
    /// The `describe` catalogues read so far.
    catalogues: Mutex<HashMap<ObjectKind, Arc<catalogue::Catalogue>>>,
}

/// Salesforce's name, how to read its error arrays; the access token goes as Bearer.
const HOOKS: CrmHooks = CrmHooks {
    name: "Salesforce",
    error_message: refusal::error_message,
    throttle_hint: refusal::throttle_hint,
    auth: AuthScheme::Bearer,
};

/// The sObject of `object`.
fn sobject(object: ObjectKind) -> &'static str {
    match object {
        ObjectKind::Contact => "Contact",
        ObjectKind::Company => "Account",
        ObjectKind::Activity => "Task",
        ObjectKind::Deal => "Opportunity",
    }
}

impl Salesforce {
    pub fn new(ctx: ProviderContext) -> Result<Salesforce, ProviderError> {
        Salesforce::with_options(ctx, SalesforceOptions::default())
    }

    pub fn with_options(
        ctx: ProviderContext,
        options: SalesforceOptions,
    ) -> Result<Salesforce, ProviderError> {
        if ctx.base_url.is_none() {
            return Err(ProviderError::Other(format!(
                "connection `{}` has no `instance_url`: sign in with `crmsync connect salesforce --name {}`, or set `instance_url` to the org's API host",
                ctx.connection, ctx.connection
            )));
        }
        let clock = ctx.clock.clone();
        let overlap = ctx.overlap;
        let http = HttpClient::new(
            ctx,
            "",
            HOOKS,
            pacing::policy(options.settings.reserve_percent),
            options.http.clone(),
        )?;
        Ok(Salesforce {
            http,
            clock,
            options,
            overlap,
            skew: Mutex::new(None),
            catalogues: Mutex::new(HashMap::new()),
        })
    }

    /// The HTTP client (for its request count and recorded waits).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The REST path of `rest` under the API version (`/services/data/v61.0/{rest}`).
    fn data_path(&self, rest: &str) -> String {
        format!(
            "/services/data/{}/{}",
            self.options.settings.api_version,
            rest.trim_start_matches('/')
        )
    }

    /// A request to `path` carrying the call options.
    fn request(&self, method: crate::providers::http::Method, path: String) -> Request {
        Request::new(method, path).header(CALL_OPTIONS.0, CALL_OPTIONS.1)
    }

    /// A SOQL query on `endpoint` (`query`, or `queryAll`, which also returns deleted
    /// records), pages of the configured size.
    fn soql(&self, endpoint: &str, soql: &str) -> Request {
        self.query_request(self.data_path(endpoint))
            .query("q", soql)
    }

    /// A request of query results at `path` (a query, or a `nextRecordsUrl` as given).
    fn query_request(&self, path: String) -> Request {
        self.request(crate::providers::http::Method::Get, path)
            .header(
                "Sforce-Query-Options",
                format!("batchSize={}", self.options.batch_size),
            )
    }

    /// Sends `req`; a `403 REQUEST_LIMIT_EXCEEDED` (the org's allocation spent, DIGEST §3.9)
    /// is the daily limit, as the reserve reached is. The same refusal for too many
    /// long-running requests at once ([`refusal::concurrent_limit`]) is sent again after a
    /// wait, a few times: Salesforce did nothing with the refused request.
    async fn send(&self, req: Request) -> Result<Response, ProviderError> {
        let mut waits = CONCURRENT_WAITS.iter();
        loop {
            let resp = self.http.send(req.clone()).await?;
            if resp.status != 403
                || !refusal::codes(&resp.body)
                    .iter()
                    .any(|c| c == "REQUEST_LIMIT_EXCEEDED")
            {
                return Ok(resp);
            }
            if !refusal::concurrent_limit(&resp.body, pacing::usage(&resp.headers)) {
                return Err(self.daily_limit(&resp));
            }
            let Some(wait) = waits.next() else {
                return Err(self.http.api_error(&req, &resp));
            };
            tracing::info!(
                "Salesforce refused a request of connection `{}` for the requests it is running at once: trying again in {} s",
                self.http.connection(),
                wait.as_secs()
            );
            if !self.options.http.no_sleep {
                tokio::time::sleep(*wait).await;
            }
        }
    }

    /// [`Salesforce::send`], failing on any status but 2xx.
    async fn send_ok(&self, req: Request) -> Result<Response, ProviderError> {
        let resp = self.send(req.clone()).await?;
        if resp.is_success() {
            Ok(resp)
        } else {
            Err(self.http.api_error(&req, &resp))
        }
    }

    fn daily_limit(&self, resp: &Response) -> ProviderError {
        let max = pacing::usage(&resp.headers).map_or(0, |(_, max)| max);
        ProviderError::DailyLimit {
            crm: HOOKS.name,
            connection: self.http.connection().to_string(),
            remaining: 0,
            reserve: crate::providers::http::Reserve::Percent(
                self.options.settings.reserve_percent,
            )
            .of(max),
        }
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
}

#[async_trait]
impl Provider for Salesforce {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Salesforce
    }

    fn connection(&self) -> &str {
        self.http.connection()
    }

    fn objects(&self) -> &[ObjectKind] {
        &[
            ObjectKind::Company,
            ObjectKind::Contact,
            ObjectKind::Activity,
            ObjectKind::Deal,
        ]
    }

    fn batch_size(&self) -> usize {
        COLLECTION_LIMIT
    }

    fn default_mappings(&self, object: ObjectKind) -> Vec<DefaultMapping> {
        default_mappings(object)
    }

    fn required_fields(&self, object: ObjectKind) -> Vec<FieldSpec> {
        catalogue::required_fields(object)
    }

    fn read_properties(&self, _object: ObjectKind, mapped: &[String]) -> Vec<String> {
        let mut props = mapped.to_vec();
        if !props.iter().any(|p| p == EXTERNAL_ID) {
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

    fn clock_skew(&self) -> Option<Millis> {
        *self.skew.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn merged_from(&self, record: &RemoteRecord) -> Vec<String> {
        merges::merged_from(record)
    }

    async fn create(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let mut out = self.upsert_records(object, inputs).await?;
        if object == ObjectKind::Deal {
            self.set_contact_roles(inputs, &mut out).await?;
        }
        Ok(out)
    }

    async fn update(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let mut out = self.update_records(object, inputs).await?;
        if object == ObjectKind::Deal {
            self.set_contact_roles(inputs, &mut out).await?;
        }
        Ok(out)
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
        self.read_where(object, "Id", ids, properties).await
    }

    async fn find_by_external_id(
        &self,
        object: ObjectKind,
        local_ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        let found = self
            .read_where(object, EXTERNAL_ID, local_ids, properties)
            .await?;
        // An external id several records hold (the field made non-unique in Setup) names
        // none of them: which one a create made is not to be guessed. Its create is sent
        // again, and the upsert's refusal names them all.
        let mut holders: HashMap<String, usize> = HashMap::new();
        for r in &found {
            if let Some(ext) = &r.external_id {
                *holders.entry(ext.to_lowercase()).or_default() += 1;
            }
        }
        Ok(found
            .into_iter()
            .filter(|r| {
                let several = r
                    .external_id
                    .as_ref()
                    .is_some_and(|e| holders[&e.to_lowercase()] > 1);
                if several {
                    tracing::warn!(
                        "Salesforce {object} `{}` shares `{EXTERNAL_ID}` `{}` with another record: neither is taken as the record crmsync made",
                        r.id,
                        r.external_id.as_deref().unwrap_or_default()
                    );
                }
                !several
            })
            .collect())
    }

    async fn fields(&self, object: ObjectKind) -> Result<Vec<RemoteField>, ProviderError> {
        let mut fields = self.catalogue(object).await?.remote_fields();
        if object == ObjectKind::Deal {
            self.fill_deal_fields(&mut fields).await?;
        }
        Ok(fields)
    }

    async fn create_field(
        &self,
        object: ObjectKind,
        spec: &FieldSpec,
    ) -> Result<(), ProviderError> {
        self.create_custom_field(object, spec).await
    }

    fn setup_note(&self) -> Option<String> {
        Some(
            "Salesforce shows a new custom field to crmsync only once field-level security grants it: give crmsync's user (its profile or a permission set) read and edit access to the fields created, then run `crmsync mappings check`"
                .into(),
        )
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
