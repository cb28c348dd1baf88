//! The HubSpot sandbox: CRM v3 objects (contacts, companies, and the engagements calls,
//! emails, meetings, notes and tasks), search, v4 associations,
//! properties, owners, private-app and OAuth 2.0 authentication, rate limits and seeded
//! faults, as `https://api.hubapi.com` answers them.
//!
//! One [`HubSpotSandbox`] is one HubSpot account (portal) on its own loopback port, a
//! [`SandboxServer`] over [`HubSpot`], this CRM's [`CrmApi`]. The account's state (`store::Hub`)
//! is in memory behind one mutex. The shared core runs each request: admin prefix → admin
//! API (no auth, no faults, not logged); otherwise seeded fault → `route.rs` (authentication
//! for `/crm/...`, OAuth scope check, rate limits, the endpoint) → the request log.
//!
//! # Routes
//!
//! | method | path | serves | file |
//! |---|---|---|---|
//! | GET | `/crm/v3/objects/{type}` | a page of records, by id (`limit`, `after`, `archived`, `properties`, `propertiesWithHistory`, `associations`) | `api/objects.rs` |
//! | POST | `/crm/v3/objects/{type}` | create one record (with `associations`) | `api/objects.rs` |
//! | GET | `/crm/v3/objects/{type}/{id}` | one record, by id or unique `idProperty` | `api/objects.rs` |
//! | PATCH | `/crm/v3/objects/{type}/{id}` | update one record | `api/objects.rs` |
//! | DELETE | `/crm/v3/objects/{type}/{id}` | archive one record (204 either way) | `api/objects.rs` |
//! | POST | `/crm/v3/objects/contacts/gdpr-delete` | remove a contact for good | `api/objects.rs` |
//! | POST | `/crm/v3/objects/{type}/batch/read` | records by id or `idProperty`; 207 lists the missing | `api/batch.rs` |
//! | POST | `/crm/v3/objects/{type}/batch/create` | up to 100 records; a duplicate unique value refuses all | `api/batch.rs` |
//! | POST | `/crm/v3/objects/{type}/batch/update` | up to 100 updates; 207 lists the missing | `api/batch.rs` |
//! | POST | `/crm/v3/objects/{type}/batch/upsert` | update or create by a unique `idProperty` | `api/batch.rs` |
//! | POST | `/crm/v3/objects/{type}/batch/archive` | archive up to 100 records | `api/batch.rs` |
//! | POST | `/crm/v3/objects/{type}/search` | filter groups, one sort, offset paging, 10,000-result cap | `api/search.rs` |
//! | POST | `/crm/v3/objects/{type}/merge` | merge `objectIdToMerge` into `primaryObjectId` | `api/merges.rs` |
//! | GET | `/crm/v3/properties/{type}` | the property catalogue | `api/properties.rs` |
//! | POST | `/crm/v3/properties/{type}` | create a custom property | `api/properties.rs` |
//! | GET | `/crm/v3/properties/{type}/{name}` | one property | `api/properties.rs` |
//! | DELETE | `/crm/v3/properties/{type}/{name}` | delete a custom property | `api/properties.rs` |
//! | GET | `/crm/v3/owners` | owners, paged, by `email` | `api/properties.rs` |
//! | GET | `/crm/v3/owners/{id}` | one owner (`idProperty=userId` too) | `api/properties.rs` |
//! | PUT | `/crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}` | associate a pair | `api/associations.rs` |
//! | GET | `/crm/v4/objects/{from}/{id}/associations/{to}` | a record's associations | `api/associations.rs` |
//! | DELETE | `/crm/v4/objects/{from}/{id}/associations/{to}/{toId}` | dissociate a pair | `api/associations.rs` |
//! | POST | `/crm/v4/associations/{from}/{to}/batch/read` | associations of many records | `api/associations.rs` |
//! | POST | `/crm/v4/associations/{from}/{to}/batch/associate/default` | associate many pairs | `api/associations.rs` |
//! | POST | `/crm/v4/associations/{from}/{to}/batch/archive` | dissociate many pairs | `api/associations.rs` |
//! | GET | `/account-info/v3/details` | the portal (Hub ID, time zone, currency) | `route.rs` |
//! | GET | `/oauth/authorize` | the browser step: 302 back to `redirect_uri` (no faults) | `oauth.rs` |
//! | POST | `/oauth/v1/token` | authorization-code (PKCE) and refresh grants | `oauth.rs` |
//! | POST | `/oauth/v3/token/revoke` | revoke a refresh token | `oauth.rs` |
//! | GET | `/oauth/v1/access-tokens/{token}`, `/oauth/v1/refresh-tokens/{token}` | token metadata | `oauth.rs` |
//! | DELETE | `/oauth/v1/refresh-tokens/{token}` | revoke a refresh token | `oauth.rs` |
//! | * | `/_sandbox/...` | the admin API (`sandbox/admin.rs`, then this one) | `admin.rs` |
//!
//! `{type}` is `contacts` or `companies` (or `contact`, `company`, `0-1`, `0-2`), or an
//! engagement: `calls`, `emails`, `meetings`, `notes`, `tasks` (singular, or `0-48`, `0-49`,
//! `0-47`, `0-46`, `0-27`). Engagements are associated with contacts and companies by
//! HubSpot's default type ids (call → contact 194, note → contact 202, …: `store.rs`), at
//! creation (`associations` with the type id) or through v4; an engagement create without
//! `hs_timestamp` is refused. Any other call answers 404 `OBJECT_NOT_FOUND`
//! (`errors::no_route`).
//!
//! # Behaviours chosen where HubSpot's documents are silent
//!
//! Each is a default kept in one place here:
//! * Refresh tokens do not rotate: the refresh grant returns the same refresh token, as
//!   HubSpot does today. Revoking one also invalidates the access tokens minted from it.
//! * An update that changes no value does not bump `updatedAt` / last-modified.
//! * `propertiesWithHistory` covers writable properties, newest first, with `sourceType`
//!   `INTEGRATION` (API writes), `CRM_UI` (admin edits, as a user in HubSpot) or `IMPORT`
//!   (seeded data).
//! * Contact emails are stored lower-cased and matched case-insensitively.
//! * `date` properties are stored and returned as midnight-UTC epoch ms; `datetime` ones as
//!   ISO 8601 with milliseconds (input may be either form).
//! * `batch/create` with a duplicate unique value rejects the whole batch with 409; its
//!   results come in an order of their own (shuffled), not the inputs', each with its
//!   input's `objectWriteTraceId`;
//!   `batch/read` and `batch/update` answer 207 with `errors[]` for missing ids.
//! * List cursors are the next record id; search cursors are offsets.

mod admin;
mod api;
mod catalogue;
mod errors;
mod limits;
mod oauth;
mod route;
mod store;
mod webhooks;
pub use webhooks::{APP_ID, DEVELOPER_KEY};

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use crate::sandbox::fault::{FaultInjector, FaultOptions};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::server::{Core, CrmApi, Limit, SandboxServer};
use crate::sandbox::{SandboxClock, uuid};
use store::{Associations, Hub, ObjType, ObjectStore};

/// How to run a HubSpot sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The private-app token to accept; generated when `None`.
    pub token: Option<String>,
    /// Seeds synthetic data and fault decisions.
    pub seed: u64,
    /// `(max requests, window ms)` per token; HubSpot's default is 100 per 10 s.
    pub rate_limit: (u32, u64),
    /// Search calls allowed per second per token; 0 turns the limit off.
    pub search_per_second: u32,
    /// Daily call budget for private-app tokens (reported in headers, enforced with a 429
    /// `DAILY`); it counts from start and does not reset.
    pub daily_limit: u64,
    pub faults: FaultOptions,
    pub client_id: String,
    pub client_secret: String,
    pub access_token_ttl: Duration,
    /// The portal id (Hub ID) the account details and token metadata report; `None` derives
    /// one from `seed` ([`SandboxOptions::hub_id`]), so sandboxes with different seeds are
    /// different portals.
    pub hub_id: Option<u64>,
    /// Each refresh answers with a new refresh token and voids the one it was given, as some
    /// CRMs do (HubSpot keeps its refresh tokens, so this is off by default).
    pub rotate_refresh_tokens: bool,
}

impl SandboxOptions {
    /// The portal id: `hub_id` when set, else 10,000,000 plus the seed (modulo 90,000,000).
    pub fn hub_id(&self) -> u64 {
        self.hub_id.unwrap_or(10_000_000 + self.seed % 90_000_000)
    }
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            port: 0,
            token: None,
            seed: 42,
            rate_limit: (100, 10_000),
            search_per_second: 4,
            daily_limit: 250_000,
            faults: FaultOptions::default(),
            client_id: "sandbox-client-id".into(),
            client_secret: "sandbox-client-secret".into(),
            access_token_ttl: Duration::from_secs(30 * 60),
            hub_id: None,
            rotate_refresh_tokens: false,
        }
    }
}

/// A user's edit that lands just before the `nth` API call (1-based, counted from when it is
/// queued) whose method is `method` and whose path contains `path_contains`: what a person
/// editing in HubSpot while an integration pages through the records does.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct EditBefore {
    pub method: String,
    pub path_contains: String,
    pub nth: u32,
    /// `contacts` or `companies`.
    pub object_type: String,
    pub id: String,
    pub properties: Value,
}

/// The HubSpot side of a sandbox: the account and the credentials it accepts.
pub struct HubSpot {
    hub: Mutex<Hub>,
    /// The private-app token.
    token: String,
    opts: SandboxOptions,
}

impl HubSpot {
    fn lock(&self) -> MutexGuard<'_, Hub> {
        crate::sandbox::base::unpoisoned(&self.hub)
    }
}

/// A running HubSpot sandbox's core, as the modules here take it.
type Shared = Core<HubSpot>;

impl CrmApi for HubSpot {
    const NAME: &'static str = "HubSpot";

    fn route(core: &Shared, req: &HttpRequest) -> Option<HttpResponse> {
        route::route(core, req)
    }

    /// Calls that change state, for `fail_after_writes`. Search and batch reads are POSTs that
    /// change nothing.
    fn is_write(req: &HttpRequest) -> bool {
        if !req.path.starts_with("/crm/") {
            return false;
        }
        match req.method.as_str() {
            "POST" => !(req.path.ends_with("/search") || req.path.ends_with("/batch/read")),
            "PATCH" | "PUT" | "DELETE" => true,
            _ => false,
        }
    }

    /// The authorize page is the browser's step, not an API call: no faults there.
    fn fault_free(req: &HttpRequest) -> bool {
        req.path == "/oauth/authorize"
    }

    /// The body of a CRM API call (`/crm/...`); other calls' bodies (OAuth) carry secrets.
    fn logs_body(req: &HttpRequest) -> bool {
        req.path.starts_with("/crm/")
    }

    fn before_call(core: &Shared, req: &HttpRequest) {
        land_edits_before(core, req);
    }

    fn rate_limited(limit: Limit) -> HttpResponse {
        limits::rate_limited(limit)
    }

    /// 500 in HubSpot's error body; 502 and 503 as the HTML page its edge answers with.
    fn server_error(status: u16) -> HttpResponse {
        if status == 500 {
            return errors::error(500, "INTERNAL_ERROR", "internal error");
        }
        HttpResponse {
            status,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: format!(
                "<html><body><h1>{status}</h1>The server is temporarily unavailable.</body></html>"
            )
            .into_bytes(),
        }
    }

    fn not_found(req: &HttpRequest) -> HttpResponse {
        errors::no_route(req)
    }

    fn admin(core: &Shared, req: &HttpRequest, segs: &[&str]) -> Option<HttpResponse> {
        admin::handle(core, req, segs)
    }
}

/// Carries out the queued users' edits whose call this is.
fn land_edits_before(shared: &Shared, req: &HttpRequest) {
    let due: Vec<EditBefore> = {
        let mut hub = shared.api.lock();
        if hub.edits_before.is_empty() {
            return;
        }
        let mut due = Vec::new();
        hub.edits_before.retain_mut(|e| {
            if e.method.eq_ignore_ascii_case(&req.method) && req.path.contains(&e.path_contains) {
                e.nth = e.nth.saturating_sub(1);
                if e.nth == 0 {
                    due.push(e.clone());
                    return false;
                }
            }
            true
        });
        due
    };
    for e in due {
        if let Err(err) = admin::user_write(shared, &e.object_type, Some(&e.id), &e.properties) {
            tracing::warn!(
                "the sandbox could not land a queued edit of {}: {err:#}",
                e.id
            );
        }
    }
}

/// A running HubSpot sandbox.
pub type HubSpotSandbox = SandboxServer<HubSpot>;

impl SandboxServer<HubSpot> {
    /// Starts serving on 127.0.0.1 in background threads.
    pub fn start(opts: SandboxOptions) -> anyhow::Result<HubSpotSandbox> {
        let token = opts
            .token
            .clone()
            .unwrap_or_else(|| format!("pat-na1-{}", uuid()));
        let clock = SandboxClock::default();
        let now = clock.now_ms();
        let owners = store::builtin_owners(now);
        let owner_ids: Vec<String> = owners.iter().map(|o| o.id.clone()).collect();
        let mut props = HashMap::new();
        let mut objects = BTreeMap::new();
        for t in ObjType::ALL {
            props.insert(t, catalogue::builtin_properties(t, &owner_ids, now));
            objects.insert(t, ObjectStore::default());
        }
        let hub = Hub {
            base_url: String::new(),
            objects,
            props,
            owners,
            assoc: Associations::default(),
            next_id: 1001,
            oauth: oauth::OAuthState::default(),
            rate: limits::RateState::new(&opts),
            data_rng: StdRng::seed_from_u64(opts.seed),
            edits_before: Vec::new(),
            webhooks: webhooks::HubWebhooks::default(),
        };
        let faults = FaultInjector::new(opts.faults.clone(), opts.seed);
        let port = opts.port;
        let api = HubSpot {
            hub: Mutex::new(hub),
            token,
            opts,
        };
        let sandbox = SandboxServer::serve(Core::new(api, clock, faults), port)?;
        sandbox.shared().api.lock().base_url = sandbox.base_url();
        crate::sandbox::webhooks::spawn(sandbox.weak_core());
        Ok(sandbox)
    }

    fn shared(&self) -> &Shared {
        self.core()
    }

    /// Sets the app's webhooks as a developer does in its settings: the target URL and the
    /// subscribed event types (`contact.propertyChange`, …); `time_scale` compresses the
    /// retry schedule (1.0: HubSpot's). `None` turns delivery off.
    pub fn set_webhooks(&self, target: Option<&str>, subscriptions: &[&str], time_scale: f64) {
        webhooks::set(
            self.shared(),
            &serde_json::json!({"targetUrl": target, "subscriptions": subscriptions, "time_scale": time_scale}),
        );
    }

    /// Sets the app's webhooks with subscriptions as `PUT /_sandbox/webhooks` takes them
    /// (`{eventType, propertyName?, active?}`, or an event type alone).
    pub fn set_webhook_subscriptions(
        &self,
        target: Option<&str>,
        subscriptions: &[serde_json::Value],
        time_scale: f64,
    ) {
        webhooks::set(
            self.shared(),
            &serde_json::json!({"targetUrl": target, "subscriptions": subscriptions, "time_scale": time_scale}),
        );
    }

    /// The id of the app whose webhooks the sandbox delivers.
    pub fn app_id(&self) -> u64 {
        webhooks::APP_ID
    }

    /// The app's developer API key, for its webhook settings (`hapikey`).
    pub fn developer_key(&self) -> String {
        webhooks::DEVELOPER_KEY.to_string()
    }

    /// The private-app token the sandbox accepts.
    pub fn token(&self) -> String {
        self.shared().api.token.clone()
    }

    pub fn client_id(&self) -> String {
        self.shared().api.opts.client_id.clone()
    }

    /// The portal id (Hub ID) of the account the sandbox plays.
    pub fn hub_id(&self) -> u64 {
        self.shared().api.opts.hub_id()
    }

    pub fn client_secret(&self) -> String {
        self.shared().api.opts.client_secret.clone()
    }

    /// Adds `contacts` synthetic contacts and `companies` companies (seeded names and
    /// emails); returns their ids.
    pub fn seed(&self, contacts: usize, companies: usize) -> (Vec<String>, Vec<String>) {
        let now = self.shared().clock.now_ms();
        admin::seed(&mut self.shared().api.lock(), now, contacts, companies)
    }

    /// Creates a record as a HubSpot user would (read-only properties still refused).
    /// `object_type` is `contacts` or `companies`. Returns the record as the API shows it.
    pub fn create_record(
        &self,
        object_type: &str,
        properties: &[(&str, &str)],
    ) -> anyhow::Result<Value> {
        let props = json!(properties.iter().cloned().collect::<HashMap<_, _>>());
        admin::user_write(self.shared(), object_type, None, &props)
    }

    /// Edits a record as a HubSpot user would, bumping `updatedAt` and last-modified.
    pub fn update_record(
        &self,
        object_type: &str,
        id: &str,
        properties: &[(&str, &str)],
    ) -> anyhow::Result<Value> {
        let props = json!(properties.iter().cloned().collect::<HashMap<_, _>>());
        admin::user_write(self.shared(), object_type, Some(id), &props)
    }

    /// Deletes a custom property as a HubSpot user would in the settings (the API's
    /// `DELETE /crm/v3/properties/{objectType}/{name}`).
    pub fn delete_property(&self, object_type: &str, name: &str) -> anyhow::Result<()> {
        let t = ObjType::parse(object_type)
            .ok_or_else(|| anyhow::anyhow!("unknown object type `{object_type}`"))?;
        api::delete_property(&mut self.shared().api.lock(), t, name)
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("the sandbox refused: {}", e.message()))
    }

    /// Restores an archived record as a HubSpot user does from the recycle bin: within 90 days,
    /// unless a live record took one of its unique values since.
    pub fn restore_record(&self, object_type: &str, id: &str) -> anyhow::Result<()> {
        admin::user_restore(self.shared(), object_type, id)
    }

    /// Archives a record as a HubSpot user deleting it would.
    pub fn archive_record(&self, object_type: &str, id: &str) -> anyhow::Result<()> {
        admin::user_archive(self.shared(), object_type, id)
    }

    /// Erases contact `id` for good, as a HubSpot user does for a GDPR request: it is in
    /// neither the live nor the archived records, and a `contact.privacyDeletion` event tells.
    pub fn gdpr_delete_contact(&self, id: &str) -> anyhow::Result<()> {
        admin::user_gdpr_delete(self.shared(), id)
    }

    /// Merges record `merged` into `primary` as a HubSpot user would: `merged` then reads
    /// and updates as `primary`, which lists it in `hs_merged_object_ids`.
    pub fn merge_records(
        &self,
        object_type: &str,
        primary: &str,
        merged: &str,
    ) -> anyhow::Result<Value> {
        admin::user_merge(self.shared(), object_type, primary, merged)
    }

    /// Associates a contact with a company, as a HubSpot user would.
    pub fn associate(&self, contact_id: &str, company_id: &str) -> anyhow::Result<()> {
        admin::user_associate(self.shared(), contact_id, company_id)
    }

    /// Removes a contact's association with a company, as a HubSpot user would.
    pub fn dissociate(&self, contact_id: &str, company_id: &str) -> anyhow::Result<()> {
        admin::user_dissociate(self.shared(), contact_id, company_id)
    }

    /// Associates (`on`) or dissociates an engagement (`("calls", id)`) and a contact or
    /// company (`("contacts", id)`), as a HubSpot user does on a timeline.
    pub fn link_engagement(
        &self,
        engagement: (&str, &str),
        to: (&str, &str),
        on: bool,
    ) -> anyhow::Result<()> {
        admin::user_link_engagement(self.shared(), engagement, to, on)
    }

    /// The ids of type `to` associated with `id` of type `from` (live ones only).
    pub fn associated(&self, from: &str, id: &str, to: &str) -> Vec<String> {
        let hub = self.shared().api.lock();
        let (Some(f), Some(t), Ok(id)) = (ObjType::parse(from), ObjType::parse(to), id.parse())
        else {
            return Vec::new();
        };
        hub.assoc
            .of_to(f, id, t)
            .into_iter()
            .filter(|o| hub.store(t).live(*o).is_some())
            .map(|o| o.to_string())
            .collect()
    }

    /// Every record of every type (archived too) and every association, as JSON.
    pub fn dump(&self) -> Value {
        admin::dump(&self.shared().api.lock())
    }

    /// Queues a user's edit to land just before a later API call (see [`EditBefore`]).
    pub fn edit_before(&self, edit: EditBefore) {
        self.shared().api.lock().edits_before.push(edit);
    }

    /// Changes the rate limits; counting restarts.
    pub fn set_rate_limit(&self, max: u32, window_ms: u64, search_per_second: u32) {
        self.shared()
            .api
            .lock()
            .rate
            .set(max, window_ms, search_per_second);
    }

    /// Makes the next `/oauth/authorize` redirect back with `error=access_denied`.
    pub fn deny_next_authorize(&self) {
        self.shared().api.lock().oauth.deny_next = true;
    }

    /// Revokes a refresh token (and the access tokens minted from it) as an admin
    /// uninstalling the app would. Returns false if the token was unknown.
    pub fn revoke_refresh_token(&self, token: &str) -> bool {
        self.shared().api.lock().oauth.revoke(token)
    }
}

#[cfg(test)]
mod tests;
