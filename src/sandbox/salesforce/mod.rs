//! The Salesforce sandbox: one org with Contact, Account, Task, Opportunity (with its contact
//! roles, `OpportunityContactRole`) and its users (`User`, read only), its login host's OAuth
//! 2.0 web-server flow with PKCE, the REST API under `/services/data/vNN.0/`, the Tooling
//! API's `CustomField`, Bulk API 2.0 query jobs, the rolling 24-hour API allocation and
//! seeded faults, as the REST API and Bulk API 2.0 developer guides describe them (and
//! `shared/api-specs/DIGEST.md` §3, whose unconfirmed points are marked where they are
//! relied on). Salesforce publishes no OpenAPI file for these endpoints.
//!
//! One [`SalesforceSandbox`] is one org on its own loopback port, which is also its login
//! host: the token answer's `instance_url` is the sandbox's base URL. A
//! [`SandboxServer`] over [`Salesforce`], this CRM's [`CrmApi`]; the org's state
//! (`store::Org`) is in memory behind one mutex.
//!
//! # Routes
//!
//! | method | path (after `/services/data/vNN.0` unless rooted) | serves | file |
//! |---|---|---|---|
//! | GET | `/services/oauth2/authorize` | the browser step: 302 back with `code` and `state` (no faults) | `oauth.rs` |
//! | POST | `/services/oauth2/token` | authorization-code (PKCE) and refresh grants | `oauth.rs` |
//! | POST, GET | `/services/oauth2/revoke` | revoke a refresh or access token | `oauth.rs` |
//! | GET | `/services/data/` | the versions, 59.0–67.0 (no session, not counted) | `route.rs` |
//! | GET | `/`, `/limits` | resources; `DailyApiRequests {Max, Remaining}` | `route.rs` |
//! | GET | `/sobjects`, `/sobjects/X`, `/sobjects/X/describe` | describe global, basic info, describe | `sobjects.rs` |
//! | POST | `/sobjects/X` | create: 201 `{id, success, errors}` | `sobjects.rs` |
//! | GET, PATCH, DELETE | `/sobjects/X/{id}` | get (`?fields=`), update 204, delete 204 | `sobjects.rs` |
//! | GET, PATCH | `/sobjects/X/{ExtField}/{value}` | get, upsert: 201 / 200 / 300 | `sobjects.rs` |
//! | GET | `/sobjects/X/updated/`, `/sobjects/X/deleted/` | `?start&end`, 30- and 15-day windows | `query.rs` |
//! | GET | `/query`, `/queryAll` | SOQL (`?q=`), `Sforce-Query-Options: batchSize` | `query.rs`, `soql.rs` |
//! | GET | `/query/{locator}-{offset}` | a later page | `query.rs` |
//! | POST, PATCH, DELETE | `/composite/sobjects` | collections: create, update, delete `?ids=` | `composite.rs` |
//! | PATCH | `/composite/sobjects/X/{ExtField}` | collection upsert | `composite.rs` |
//! | POST | `/tooling/sobjects/CustomField` | add a custom field | `tooling.rs` |
//! | POST, GET, DELETE | `/jobs/query`, `/jobs/query/{id}`, `/jobs/query/{id}/results` | Bulk API 2.0 query jobs | `bulk.rs` |
//! | * | `/_sandbox/...` | the admin API (`sandbox/admin.rs`, then `admin.rs` here) | `admin.rs` |
//!
//! `X` is `Contact`, `Account`, `Task`, `Opportunity`, `OpportunityContactRole` or `User`
//! (which is described and queried, not written). What an opportunity's stage decides and how
//! its contact roles make its primary contact is in `opportunity.rs`. Errors are Salesforce's
//! JSON arrays (`errors.rs`). An injected 429 fault answers as Salesforce throttles, which is never with
//! 429: 403 `REQUEST_LIMIT_EXCEEDED` with the concurrent-request message
//! (`ConcurrentPerOrgLongTxn Limit exceeded.`); the spent daily allocation answers 403
//! `REQUEST_LIMIT_EXCEEDED` with `TotalRequests Limit exceeded.` (both messages as commonly
//! reported, unconfirmed). `Sforce-Call-Options: client=…` is kept in the request log.
//!
//! # Not served
//!
//! Events, Leads and the other objects (and of Opportunity, what `opportunity.rs` lists);
//! SOQL beyond `soql.rs`'s grammar (`LIKE`, functions, date literals such as `LAST_N_DAYS`,
//! sub-queries, `OFFSET`, `GROUP BY`); Bulk ingest jobs and the parallel results; the
//! Composite and Batch resources; conditional requests (`If-Modified-Since`, 304);
//! field-level security (every field is visible to the API user); Change Data Capture and
//! Outbound Messages; the identity URL's own endpoint. Records are merged only as a user
//! merges them in Salesforce's interface (the admin API's `merge`): the REST API has no merge
//! (SOAP's `merge()` and Apex's are not served), and a merged-away record is a deleted one
//! whose `MasterRecordId` names the survivor, as `queryAll` shows it.

mod admin;
mod bulk;
mod catalogue;
mod composite;
mod errors;
mod ids;
mod oauth;
mod opportunity;
mod query;
mod records;
mod route;
mod sobjects;
mod soql;
mod store;
mod tooling;

use std::sync::{Mutex, MutexGuard};

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

use crate::sandbox::SandboxClock;
use crate::sandbox::base::{QueuedEdit, due_before};
use crate::sandbox::fault::{FaultInjector, FaultOptions};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::server::{Core, CrmApi, Limit, SandboxServer};
pub use admin::Seeded;
use errors::SfError;
use store::Org;

/// How to run a Salesforce sandbox.
#[derive(Debug, Clone)]
pub struct SalesforceOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Seeds synthetic data and fault decisions.
    pub seed: u64,
    pub faults: FaultOptions,
    /// The connected app's consumer key and secret.
    pub client_id: String,
    pub client_secret: String,
    /// Whether the token endpoint demands the secret ("Require Secret for Web Server Flow"
    /// and "for Refresh Token Flow"); a secret that is sent is checked either way.
    pub require_secret: bool,
    /// The org's session timeout: a session ends after this long without a call (2 hours
    /// by default, unconfirmed).
    pub session_timeout_secs: i64,
    /// The org's rolling 24-hour API allocation (an Enterprise org's 100,000 base).
    pub daily_api_requests: u64,
    /// Polls of a Bulk query job until it is `JobComplete`.
    pub bulk_polls: u32,
    /// Whether the org has multiple currencies on: Opportunity gets `CurrencyIsoCode`.
    pub multi_currency: bool,
}

impl Default for SalesforceOptions {
    fn default() -> Self {
        SalesforceOptions {
            port: 0,
            seed: 42,
            faults: FaultOptions::default(),
            client_id: "3MVG9sandbox.consumer.key".into(),
            client_secret: "sandbox-consumer-secret".into(),
            require_secret: false,
            session_timeout_secs: 7200,
            daily_api_requests: 100_000,
            bulk_polls: 2,
            multi_currency: false,
        }
    }
}

/// A user's edit that lands just before the `nth` API call (1-based, counted from when it
/// is queued) whose method is `method` and whose path and query contain `path_contains`:
/// a person editing in Salesforce while an integration pages through the records. `body`
/// is a REST update body of record `id` of `object` (`Contact`, ...).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct EditBefore {
    pub method: String,
    pub path_contains: String,
    pub nth: u32,
    pub object: String,
    pub id: String,
    pub body: Value,
}

/// The Salesforce side of a sandbox: the org.
pub struct Salesforce {
    org: Mutex<Org>,
    opts: SalesforceOptions,
}

impl Salesforce {
    fn lock(&self) -> MutexGuard<'_, Org> {
        crate::sandbox::base::unpoisoned(&self.org)
    }
}

/// A running Salesforce sandbox's core, as the modules here take it.
type Shared = Core<Salesforce>;

impl CrmApi for Salesforce {
    const NAME: &'static str = "Salesforce";

    fn route(core: &Shared, req: &HttpRequest) -> Option<HttpResponse> {
        route::route(core, req)
    }

    /// Calls that change the org's data: record and collection writes and custom fields
    /// (neither a token exchange nor a Bulk query job changes any).
    fn is_write(req: &HttpRequest) -> bool {
        req.path.starts_with("/services/data/")
            && !req.path.contains("/jobs/query")
            && matches!(req.method.as_str(), "POST" | "PATCH" | "PUT" | "DELETE")
    }

    /// The authorize page is the browser's step, not an API call: no faults there.
    fn fault_free(req: &HttpRequest) -> bool {
        req.path == "/services/oauth2/authorize"
    }

    /// The body of an API call; OAuth bodies carry codes, verifiers and refresh tokens.
    fn logs_body(req: &HttpRequest) -> bool {
        !req.path.starts_with("/services/oauth2/")
    }

    /// `client` of `Sforce-Call-Options: client=crmsync[, defaultNamespace=…]`.
    fn call_client(req: &HttpRequest) -> Option<String> {
        req.header("sforce-call-options")?
            .split(',')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim() == "client")
            .map(|(_, v)| v.trim().to_string())
    }

    fn before_call(core: &Shared, req: &HttpRequest) {
        land_edits_before(core, req);
    }

    fn rate_limited(limit: Limit) -> HttpResponse {
        match limit {
            Limit::Daily => errors::limit_exceeded().response(),
            Limit::Burst | Limit::PerSecond => SfError::new(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "ConcurrentPerOrgLongTxn Limit exceeded.",
            )
            .response(),
        }
    }

    fn server_error(status: u16) -> HttpResponse {
        errors::server_error(status)
    }

    fn not_found(req: &HttpRequest) -> HttpResponse {
        errors::no_route(req)
    }

    fn admin(core: &Shared, req: &HttpRequest, segs: &[&str]) -> Option<HttpResponse> {
        admin::handle(core, req, segs)
    }
}

impl QueuedEdit for EditBefore {
    fn trigger(&mut self) -> (&str, &str, &mut u32) {
        (&self.method, &self.path_contains, &mut self.nth)
    }
}

/// Carries out the queued users' edits whose call this is.
fn land_edits_before(shared: &Shared, req: &HttpRequest) {
    let due = due_before(&mut shared.api.lock().edits_before, req);
    for e in due {
        if let Err(err) = admin::user_write(shared, &e.object, Some(&e.id), &e.body) {
            tracing::warn!(
                "the sandbox could not land a queued edit of {}: {err:#}",
                e.id
            );
        }
    }
}

/// A running Salesforce sandbox.
pub type SalesforceSandbox = SandboxServer<Salesforce>;

impl SandboxServer<Salesforce> {
    /// Starts serving on 127.0.0.1 in background threads.
    pub fn start(opts: SalesforceOptions) -> anyhow::Result<SalesforceSandbox> {
        let mut org = Org::new(opts.daily_api_requests, StdRng::seed_from_u64(opts.seed));
        if opts.multi_currency {
            opportunity::enable_multi_currency(&mut org);
        }
        let faults = FaultInjector::new(opts.faults.clone(), opts.seed);
        let port = opts.port;
        let api = Salesforce {
            org: Mutex::new(org),
            opts,
        };
        let sandbox = SandboxServer::serve(Core::new(api, SandboxClock::default(), faults), port)?;
        sandbox.shared().api.lock().base_url = sandbox.base_url();
        Ok(sandbox)
    }

    fn shared(&self) -> &Shared {
        self.core()
    }

    /// The connected app's consumer key and secret.
    pub fn client_credentials(&self) -> (String, String) {
        let opts = &self.shared().api.opts;
        (opts.client_id.clone(), opts.client_secret.clone())
    }

    /// A new session and its refresh token, as a completed sign-in would give.
    pub fn mint_token(&self) -> (String, String) {
        let now = self.shared().clock.now_ms();
        self.shared().api.lock().oauth.mint(now)
    }

    /// Ends every session, as the org's timeout would; refresh tokens stay good.
    pub fn expire_sessions(&self) {
        self.shared().api.lock().oauth.expire_sessions();
    }

    /// Seeds accounts, contacts and tasks as a user's import; their ids.
    pub fn seed(&self, contacts: usize, accounts: usize, tasks: usize) -> Seeded {
        let now = self.shared().clock.now_ms();
        admin::seed(
            &mut self.shared().api.lock(),
            now,
            contacts,
            accounts,
            tasks,
        )
    }

    /// Seeds `n` opportunities as a user's import, each with one of the accounts and a
    /// contact of it as its primary contact (see `opportunity.rs`); their ids.
    pub fn seed_opportunities(&self, n: usize) -> Vec<String> {
        let now = self.shared().clock.now_ms();
        opportunity::seed(&mut self.shared().api.lock(), now, n)
    }

    /// Gives picklist value `value` of `object.field` the label `label`, as an admin renaming
    /// it in Setup does (its API name, the value, stays).
    pub fn relabel_picklist_value(
        &self,
        object: &str,
        field: &str,
        value: &str,
        label: &str,
    ) -> anyhow::Result<()> {
        admin::relabel(self.shared(), object, field, value, label)
    }

    /// Creates a record of `object` as a Salesforce user would, from a REST create body;
    /// the record after (without `attributes`).
    pub fn create_record(&self, object: &str, body: &Value) -> anyhow::Result<Value> {
        admin::user_write(self.shared(), object, None, body)
    }

    /// Edits a record as a Salesforce user would, from a REST update body.
    pub fn update_record(&self, object: &str, id: &str, body: &Value) -> anyhow::Result<Value> {
        admin::user_write(self.shared(), object, Some(id), body)
    }

    /// Deletes a record as a Salesforce user would (to the Recycle Bin).
    pub fn delete_record(&self, object: &str, id: &str) -> anyhow::Result<()> {
        admin::user_delete(self.shared(), object, id)
    }

    /// Merges records `merged` of `object` into `master` as a Salesforce user does in the
    /// merge wizard: the master keeps its values, the others are deleted with
    /// `MasterRecordId` naming it, and their children move to it. The master after.
    pub fn merge(&self, object: &str, master: &str, merged: &[&str]) -> anyhow::Result<Value> {
        let merged: Vec<String> = merged.iter().map(|s| s.to_string()).collect();
        admin::user_merge(self.shared(), object, master, &merged)
    }

    /// An administrator's change of custom field `field` of `object` in Setup: `changes`
    /// holds `unique` and `externalId` (see `tooling::update_field`).
    pub fn update_field(&self, object: &str, field: &str, changes: &Value) -> anyhow::Result<()> {
        tooling::update_field(&mut self.shared().api.lock(), object, field, changes)
            .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))
    }

    /// Brings a record back from the Recycle Bin.
    pub fn undelete_record(&self, id: &str) -> anyhow::Result<Value> {
        admin::undelete(self.shared(), id)
    }

    /// Adds a custom field from a Tooling API `CustomField` body; its `00N…` id.
    pub fn add_field(&self, body: &Value) -> anyhow::Result<String> {
        tooling::add_field(&mut self.shared().api.lock(), body)
            .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))
    }

    /// Every record (deleted too), by object.
    pub fn dump(&self) -> Value {
        admin::dump(&self.shared().api.lock())
    }

    /// Queues a user's edit to land just before a later API call (see [`EditBefore`]).
    pub fn edit_before(&self, edit: EditBefore) {
        self.shared().api.lock().edits_before.push(edit);
    }

    /// Sets the org's rolling 24-hour allocation.
    pub fn set_daily_api_requests(&self, max: u64) {
        self.shared().api.lock().allocation.max = max;
    }

    /// `(used, max)` of the allocation now.
    pub fn api_usage(&self) -> (u64, u64) {
        let now = self.shared().clock.now_ms();
        let mut org = self.shared().api.lock();
        (org.allocation.used(now), org.allocation.max)
    }

    /// Holds query pages to at most `max` records (`None` lifts it).
    pub fn set_page_cap(&self, max: Option<usize>) {
        self.shared().api.lock().page_cap = max;
    }

    /// The org's id (`00D…`).
    pub fn org_id(&self) -> String {
        self.shared().api.lock().org_id.clone()
    }
}
