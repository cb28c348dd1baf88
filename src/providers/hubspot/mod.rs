//! HubSpot: companies and contacts through the CRM v3 objects API and v4 associations, and
//! activities through the engagement objects.
//!
//! # Ids and the external id
//! HubSpot ids are numeric strings. The local id travels in a custom property `crmsync_id`
//! (created unique by `mappings setup`), which serves as the `idProperty` of batch upserts and
//! batch reads: a create that is retried after a crash finds the record the first attempt
//! made instead of making a second one.
//!
//! # Where things are
//! - [`feed`]: the change feed (search paged by key, the archived list, the cursor).
//! - [`engagements`], [`activities`], [`activity_updates`]: activities, kept in HubSpot's
//!   engagement objects (calls, emails, meetings, notes, tasks).
//! - [`batch`]: batch creates, updates and archives, and matching their answers to inputs.
//! - [`associations`]: a contact's company.
//! - [`reads`]: reads by id or external id, and property history.
//! - [`catalogue`]: the property catalogue, custom properties and the built-in mappings.
//! - [`webhooks`]: the app's webhook subscriptions and settings (`listen --subscribe`).
//! - [`refusal`]: what HubSpot's error answers say.
//! - [`pacing`]: HubSpot's rate limits.
//! - [`auth`]: OAuth endpoints and scopes, and the account.
//! - [`wire`]: HubSpot's JSON.

mod activities;
mod activity_updates;
mod associations;
mod auth;
mod batch;
mod catalogue;
mod deals;
mod engagements;
mod feed;
mod pacing;
mod reads;
mod refusal;
mod tags;
mod webhooks;
mod wire;

pub use auth::{DEFAULT_AUTHORIZE_URL, oauth_spec, object_scopes};
pub use catalogue::default_mappings;
pub use engagements::DEFAULT_ACTIVITY_TYPES;
pub use pacing::SEARCHES_PER_SECOND;
pub use webhooks::webhook_subscriptions;

use async_trait::async_trait;

use crate::model::{Millis, ObjectKind};
use crate::providers::http::{AuthScheme, CrmHooks, HttpClient, HttpOptions, Response};
use crate::providers::{
    AccountInfo, ChangePage, ChangeQuery, DefaultMapping, FieldSpec, FieldTimes, Provider,
    ProviderContext, ProviderError, ProviderKind, RemoteField, RemoteRecord, RemoteWrite,
    ValueRefusal, WebhookSettings, WriteResults,
};

/// HubSpot's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";
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

/// Tuning knobs, mostly for tests: the real values are the defaults.
#[derive(Debug, Clone)]
pub struct HubSpotOptions {
    pub http: HttpOptions,
    pub search_limit: usize,
    pub list_limit: usize,
    pub archive_scan_interval: Millis,
    /// Searches sent a second at most (HubSpot allows [`SEARCHES_PER_SECOND`]).
    pub search_per_second: u32,
}

impl Default for HubSpotOptions {
    fn default() -> Self {
        HubSpotOptions {
            http: HttpOptions::from_env(),
            search_limit: super::test_page_size(SEARCH_LIMIT).unwrap_or(SEARCH_LIMIT),
            list_limit: LIST_LIMIT,
            archive_scan_interval: ARCHIVE_SCAN_INTERVAL_MS,
            search_per_second: SEARCHES_PER_SECOND,
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
    /// The portal's owners, read once per run however many objects' catalogues ask for them.
    owners: tokio::sync::OnceCell<Vec<crate::providers::FieldOption>>,
    /// The deal pipelines, read once per run by the deal catalogue or the first deal checked.
    pipelines: tokio::sync::OnceCell<deals::Pipelines>,
}

/// HubSpot's name and how to read its error answers, for the shared client.
const HOOKS: CrmHooks = CrmHooks {
    name: "HubSpot",
    error_message: refusal::error_message,
    throttle_hint: refusal::throttle_hint,
    auth: AuthScheme::Bearer,
};

fn object_path(object: ObjectKind) -> Result<&'static str, ProviderError> {
    match object {
        ObjectKind::Contact => Ok("contacts"),
        ObjectKind::Company => Ok("companies"),
        ObjectKind::Deal => Ok("deals"),
        ObjectKind::Activity => Err(ProviderError::Other(
            "HubSpot keeps activities in five objects of their own (calls, emails, meetings, notes, tasks)".into(),
        )),
    }
}

fn modified_property(object: ObjectKind) -> &'static str {
    match object {
        ObjectKind::Contact => "lastmodifieddate",
        _ => "hs_lastmodifieddate",
    }
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
        let http = HttpClient::new(
            ctx,
            DEFAULT_BASE_URL,
            HOOKS,
            pacing::policy(options.search_per_second),
            options.http.clone(),
        )?;
        Ok(HubSpot {
            http,
            clock,
            options,
            overlap,
            skew: std::sync::Mutex::new(None),
            owners: tokio::sync::OnceCell::new(),
            pipelines: tokio::sync::OnceCell::new(),
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
        &[
            ObjectKind::Company,
            ObjectKind::Contact,
            ObjectKind::Activity,
            ObjectKind::Deal,
        ]
    }

    fn required_fields(&self, object: ObjectKind) -> Vec<FieldSpec> {
        match object {
            // Activities have no `crmsync_id`: a create is matched by its content instead.
            ObjectKind::Activity => Vec::new(),
            _ => catalogue::required_fields(),
        }
    }

    fn batch_size(&self) -> usize {
        BATCH
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

    fn default_mappings(&self, object: ObjectKind) -> Vec<DefaultMapping> {
        default_mappings(object)
    }

    fn read_properties(&self, object: ObjectKind, mapped: &[String]) -> Vec<String> {
        let mut props = mapped.to_vec();
        if object == ObjectKind::Activity {
            return props;
        }
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
        self.read_changes(query, properties).await
    }

    fn clock_skew(&self) -> Option<Millis> {
        *self.skew.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn merged_from(&self, record: &RemoteRecord) -> Vec<String> {
        feed::merged_from(record)
    }

    async fn complete(
        &self,
        object: ObjectKind,
        records: &mut [RemoteRecord],
        properties: &[String],
    ) -> Result<(), ProviderError> {
        if object == ObjectKind::Activity {
            // The feed and the reads fill an activity's contact and company.
            return Ok(());
        }
        if object == ObjectKind::Deal {
            return self.fill_deal_links(records, properties).await;
        }
        self.complete_companies(object, records, properties).await
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
        match object {
            ObjectKind::Activity => self.archive_activities(remote_ids).await,
            _ => self.archive_records(object, remote_ids).await,
        }
    }

    async fn read_by_ids(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        match object {
            ObjectKind::Activity => self.read_activities(ids).await,
            ObjectKind::Deal => {
                let mut out = self.batch_read(object, None, ids, properties).await?;
                self.fill_deal_links(&mut out, properties).await?;
                Ok(out)
            }
            _ => self.batch_read(object, None, ids, properties).await,
        }
    }

    async fn read_archived_by_ids(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        match object {
            ObjectKind::Contact | ObjectKind::Company => {
                self.batch_read_archived(object, ids, properties).await
            }
            _ => Ok(Vec::new()),
        }
    }

    async fn find_by_external_id(
        &self,
        object: ObjectKind,
        local_ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        if object == ObjectKind::Activity {
            // Activities carry no local id: a lost create is paired by its content.
            return Ok(Vec::new());
        }
        self.batch_read(object, Some(EXTERNAL_ID), local_ids, properties)
            .await
    }

    async fn field_times(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<FieldTimes, ProviderError> {
        if object == ObjectKind::Activity {
            // An activity's fields are compared by its record's time.
            return Ok(FieldTimes::new());
        }
        self.property_times(object, ids, properties).await
    }

    async fn fields(&self, object: ObjectKind) -> Result<Vec<RemoteField>, ProviderError> {
        self.catalogue(object).await
    }

    async fn create_field(
        &self,
        object: ObjectKind,
        spec: &FieldSpec,
    ) -> Result<(), ProviderError> {
        self.create_property(object, spec).await
    }

    fn refuses_together(&self, object: ObjectKind) -> bool {
        object == ObjectKind::Deal
    }

    async fn refusals(
        &self,
        object: ObjectKind,
        records: &[std::collections::BTreeMap<String, String>],
    ) -> Result<Vec<Option<ValueRefusal>>, ProviderError> {
        match object {
            ObjectKind::Deal => self.deal_refusals(records).await,
            _ => Ok(vec![None; records.len()]),
        }
    }

    async fn account(&self) -> Result<AccountInfo, ProviderError> {
        self.account_info().await
    }

    async fn credential_key(&self) -> Option<String> {
        self.http.credential_key().await
    }

    async fn app_webhooks(
        &self,
        app_id: u64,
        developer_key: &str,
    ) -> Result<Option<WebhookSettings>, ProviderError> {
        self.app_webhooks(app_id, developer_key).await.map(Some)
    }

    fn requests_sent(&self) -> u64 {
        self.http.requests_sent()
    }
}
