//! The Pipedrive sandbox: API v2 persons, organizations, activities and fields, the API v1
//! fields, users, activity types, recents and changelogs, API-token and OAuth 2.0
//! authentication, the token-cost
//! and burst rate limits and seeded faults, as `https://api.pipedrive.com` answers them
//! (the official OpenAPI files in `shared/api-specs/pipedrive/`, API v2 of 2026-04 and API
//! v1 of 2026-04).
//!
//! One [`PipedriveSandbox`] is one Pipedrive company on its own loopback port, a
//! [`SandboxServer`] over [`Pipedrive`], this CRM's [`CrmApi`]. The company's state
//! (`store::Company`) is in memory behind one mutex. The shared core runs each request:
//! admin prefix → admin API; otherwise seeded fault → `route.rs` (authentication, rate
//! limits, the endpoint) → the request log.
//!
//! # Routes
//!
//! | method | path | serves | token cost | file |
//! |---|---|---|---|---|
//! | GET | `/api/v2/{kind}` | a page of live records (`limit` ≤ 500, `cursor`, `ids`, `owner_id`, `org_id`, `person_id`, `deal_id`, `done`, `updated_since`, `updated_until`, `sort_by`, `sort_direction`, `custom_fields`) | 10 | `records.rs` |
//! | POST | `/api/v2/{kind}` | create one record; 200 with it | 5 | `records.rs` |
//! | GET | `/api/v2/{persons\|organizations}/search` | live records matching `term` (`fields`, `exact_match`, `limit`, `cursor`) | 20 | `search.rs` |
//! | GET | `/api/v2/{kind}/{id}` | one record | 1 | `records.rs` |
//! | PATCH | `/api/v2/{kind}/{id}` | update one record; 200 with it | 5 | `records.rs` |
//! | DELETE | `/api/v2/{kind}/{id}` | mark it deleted; 200 `{id}` | 3 | `records.rs` |
//! | GET | `/api/v2/{personFields\|organizationFields\|activityFields}` | the field catalogue, v2 names (`limit`, `cursor`) | 10 | `fields_v2.rs` |
//! | GET | `/api/v2/{…Fields}/{field_code}` | one field | 1 | `fields_v2.rs` |
//! | POST | `/api/v2/{personFields\|organizationFields}` | add a custom field (`field_name`, `field_type`, `options`); gets a 40-hex-char `field_code` | 5 | `fields_v2.rs` |
//! | GET | `/v1/{personFields\|organizationFields\|activityFields}` | the field catalogue (`start`, `limit`) | 20 | `v1.rs` |
//! | GET | `/v1/{…Fields}/{id}` | one field | 2 | `v1.rs` |
//! | POST | `/v1/{…Fields}` | add a custom field (`name`, `field_type`, `options`); gets a 40-hex-char `key` | 10 | `v1.rs` |
//! | PUT | `/v1/{…Fields}/{id}` | rename a custom field, replace an `enum`/`set` field's options (the labels too) | 10 | `field_update.rs` |
//! | GET | `/v1/users`, `/v1/users/me`, `/v1/users/{id}` | the company's users | 20, 2, 2 | `v1.rs` |
//! | GET | `/v1/activityTypes` | activity types | 20 | `v1.rs` |
//! | GET | `/v1/recents` | records changed since `since_timestamp` (deleted ones with `active_flag: false`), v1 shapes | 20 | `v1.rs` |
//! | GET | `/v1/{persons\|organizations}/{id}/changelog` | the record's field changes, newest first | 20 | `v1.rs` |
//! | PUT | `/v1/{persons\|organizations}/{id}/merge` | merge `{id}` into `merge_with_id` (which survives) | 40 | `merge.rs` |
//! | GET | `/oauth/authorize` | the browser step: 302 back to `redirect_uri` with a code (no faults) | — | `oauth.rs` |
//! | POST | `/oauth/token`, `/oauth/token/` | authorization-code and refresh grants (client credentials in Basic auth) | — | `oauth.rs` |
//! | POST | `/oauth/revoke` | revoke a refresh token with its grant, or an access token (RFC 7009; client credentials in Basic auth) | — | `oauth.rs` |
//! | * | `/_sandbox/...` | the admin API (`sandbox/admin.rs`, then this one) | — | `admin.rs` |
//!
//! `{kind}` is `persons`, `organizations` or `activities`. Every v1 path is also served under
//! `/api/v1/...`. Any other call answers 404 in Pipedrive's error body (`errors::no_route`).
//! Person labels are the options of the `label_ids` field in `personFields` (organization
//! labels likewise), which is where v1 keeps them; the specs have no label endpoint for
//! persons or organizations, so a label is added by `PUT /v1/personFields/{id}` with the
//! field's options and the new one.
//!
//! # Not served yet
//!
//! OAuth's refresh-token idle expiry and PKCE; v2 field
//! update and delete and the option endpoints; the search of other kinds and the item search;
//! followers; deal merges; deals, leads and
//! the other kinds; webhooks; `POST /v1/activityTypes`; v1 field delete; the list
//! parameters `filter_id`, `include_fields` and a person's `deal_id` (accepted, ignored);
//! contact-sync attributes (`postal_address`, `notes`, `im`, `birthday`, `job_title`: the
//! sandbox company has contact sync off, so the spec leaves them out).
//!
//! # Behaviours chosen where the specs are silent
//!
//! Each is a default kept in one place, named there: record paging and deletion
//! (`records.rs`), value checks (`values.rs`), defaults of a new company (`catalogue.rs`),
//! rate-limit headers and bodies (`limits.rs`), error wording (`errors.rs`).

mod admin;
mod catalogue;
mod envelope;
mod errors;
mod field_update;
mod fields_v2;
mod limits;
mod merge;
mod oauth;
mod records;
mod route;
mod search;
mod store;
mod v1;
mod values;
mod webhooks;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

use crate::sandbox::fault::{FaultInjector, FaultOptions};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::server::{Core, CrmApi, Limit, SandboxServer};
use crate::sandbox::{SandboxClock, uuid};
use store::{Company, Kind, RecordStore};

/// How to run a Pipedrive sandbox.
#[derive(Debug, Clone)]
pub struct PipedriveOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The API token to accept; generated (40 hex characters, as Pipedrive's are) when `None`.
    pub api_token: Option<String>,
    /// Seeds synthetic data and fault decisions.
    pub seed: u64,
    /// Calls per token per burst window; Pipedrive's Advanced plan allows 40 per 2 s to an
    /// API token.
    pub burst_limit: u32,
    pub burst_window_ms: u64,
    /// The company's daily token budget (30,000 × plan multiplier × seats; 3 seats of
    /// Advanced, multiplier 2, by default). Counts from start.
    pub daily_budget: u64,
    pub faults: FaultOptions,
    /// The OAuth app's credentials.
    pub client_id: String,
    pub client_secret: String,
    /// Access tokens' lifetime (Pipedrive's example: 3599 s).
    pub access_token_ttl_secs: i64,
    /// Each refresh answers with a new refresh token and voids the one it was given.
    pub rotate_refresh_tokens: bool,
}

impl Default for PipedriveOptions {
    fn default() -> Self {
        PipedriveOptions {
            port: 0,
            api_token: None,
            seed: 42,
            burst_limit: 40,
            burst_window_ms: 2_000,
            daily_budget: 180_000,
            faults: FaultOptions::default(),
            client_id: "sandbox-client-id".into(),
            client_secret: "sandbox-client-secret".into(),
            access_token_ttl_secs: 3599,
            rotate_refresh_tokens: false,
        }
    }
}

/// A user's edit that lands just before the `nth` API call (1-based, counted from when it is
/// queued) whose method is `method` and whose path contains `path_contains`: what a person
/// editing in Pipedrive while an integration pages through the records does. `body` is a v2
/// update body.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct EditBefore {
    pub method: String,
    pub path_contains: String,
    pub nth: u32,
    /// `persons`, `organizations` or `activities`.
    pub kind: String,
    pub id: i64,
    pub body: Value,
}

/// The Pipedrive side of a sandbox: the company and the API token it accepts.
pub struct Pipedrive {
    company: Mutex<Company>,
    token: String,
    opts: PipedriveOptions,
}

impl Pipedrive {
    fn lock(&self) -> MutexGuard<'_, Company> {
        crate::sandbox::base::unpoisoned(&self.company)
    }
}

/// A running Pipedrive sandbox's core, as the modules here take it.
type Shared = Core<Pipedrive>;

impl CrmApi for Pipedrive {
    const NAME: &'static str = "Pipedrive";

    fn route(core: &Shared, req: &HttpRequest) -> Option<HttpResponse> {
        route::route(core, req)
    }

    /// Calls that change the company's data (a token exchange changes none).
    fn is_write(req: &HttpRequest) -> bool {
        !req.path.starts_with("/oauth/")
            && matches!(req.method.as_str(), "POST" | "PATCH" | "PUT" | "DELETE")
    }

    /// The authorize page is the browser's step, not an API call: no faults there.
    fn fault_free(req: &HttpRequest) -> bool {
        req.path == "/oauth/authorize"
    }

    /// The body of an API call; OAuth bodies carry codes and refresh tokens.
    fn logs_body(req: &HttpRequest) -> bool {
        !req.path.starts_with("/oauth/")
    }

    fn before_call(core: &Shared, req: &HttpRequest) {
        land_edits_before(core, req);
    }

    fn rate_limited(limit: Limit) -> HttpResponse {
        limits::rate_limited(limit)
    }

    /// 500 in Pipedrive's error body; 502 and 503 as the HTML page an edge proxy answers with.
    fn server_error(status: u16) -> HttpResponse {
        if status == 500 {
            return errors::ApiError::new(500, "Internal server error").response();
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
        let mut co = shared.api.lock();
        let mut due = Vec::new();
        co.edits_before.retain_mut(|e| {
            if e.method.eq_ignore_ascii_case(&req.method) && req.target.contains(&e.path_contains) {
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
        if let Err(err) = admin::user_write(shared, &e.kind, Some(&e.id.to_string()), &e.body) {
            tracing::warn!(
                "the sandbox could not land a queued edit of {}: {err:#}",
                e.id
            );
        }
    }
}

/// A running Pipedrive sandbox.
pub type PipedriveSandbox = SandboxServer<Pipedrive>;

impl SandboxServer<Pipedrive> {
    /// Starts serving on 127.0.0.1 in background threads.
    pub fn start(opts: PipedriveOptions) -> anyhow::Result<PipedriveSandbox> {
        let token = opts
            .api_token
            .clone()
            .unwrap_or_else(|| format!("{}{}", uuid(), uuid()).replace('-', "")[..40].to_string());
        let clock = SandboxClock::default();
        let now = clock.now_ms();
        let now = now - now.rem_euclid(1000);
        let mut fields = BTreeMap::new();
        let mut records = BTreeMap::new();
        for (n, kind) in Kind::ALL.into_iter().enumerate() {
            let n = n as i64;
            fields.insert(
                kind,
                catalogue::builtin_fields(kind, 9001 + 100 * n, 1 + 4 * n, now),
            );
            records.insert(kind, RecordStore::default());
        }
        let company = Company {
            base_url: String::new(),
            records,
            fields,
            users: catalogue::builtin_users(now),
            activity_types: catalogue::builtin_activity_types(now),
            next_id: 1,
            next_field_id: 9501,
            rate: limits::RateState::new(opts.burst_limit, opts.burst_window_ms, opts.daily_budget),
            data_rng: StdRng::seed_from_u64(opts.seed),
            edits_before: Vec::new(),
            oauth: oauth::OAuthState::default(),
            webhooks: webhooks::PdWebhooks::default(),
        };
        let faults = FaultInjector::new(opts.faults.clone(), opts.seed);
        let port = opts.port;
        let api = Pipedrive {
            company: Mutex::new(company),
            token,
            opts,
        };
        let sandbox = SandboxServer::serve(Core::new(api, clock, faults), port)?;
        sandbox.shared().api.lock().base_url = sandbox.base_url();
        crate::sandbox::webhooks::spawn(sandbox.weak_core());
        Ok(sandbox)
    }

    /// Compresses the webhooks' retry and ban times (1.0: Pipedrive's 3/30/150 s and 30 min).
    pub fn set_webhook_time_scale(&self, scale: f64) {
        webhooks::set_time_scale(&mut self.shared().api.lock(), scale);
    }

    /// Lifts every webhook ban.
    pub fn lift_webhook_bans(&self) {
        webhooks::lift_bans(&self.shared().api.lock());
    }

    fn shared(&self) -> &Shared {
        self.core()
    }

    /// The API token the sandbox accepts.
    pub fn api_token(&self) -> String {
        self.shared().api.token.clone()
    }

    /// The OAuth app's client id and secret.
    pub fn client_credentials(&self) -> (String, String) {
        let opts = &self.shared().api.opts;
        (opts.client_id.clone(), opts.client_secret.clone())
    }

    /// Adds `persons` synthetic persons and `organizations` organizations; returns their ids.
    pub fn seed(&self, persons: usize, organizations: usize) -> (Vec<i64>, Vec<i64>) {
        let now = self.shared().clock.now_ms();
        admin::seed(&mut self.shared().api.lock(), now, persons, organizations)
    }

    /// Creates a record as a Pipedrive user would, from a v2 create body; returns it in its
    /// v2 shape. `kind` is `persons`, `organizations` or `activities`.
    pub fn create_record(&self, kind: &str, body: &Value) -> anyhow::Result<Value> {
        admin::user_write(self.shared(), kind, None, body)
    }

    /// Edits a record as a Pipedrive user would, from a v2 update body.
    pub fn update_record(&self, kind: &str, id: i64, body: &Value) -> anyhow::Result<Value> {
        admin::user_write(self.shared(), kind, Some(&id.to_string()), body)
    }

    /// Merges record `from` into record `into` as a Pipedrive user would (`merge.rs`):
    /// `into` survives with the other's values where it has none, `from` is deleted.
    /// `kind` is `persons` or `organizations`.
    pub fn merge_records(&self, kind: &str, into: i64, from: i64) -> anyhow::Result<()> {
        admin::user_merge(self.shared(), kind, into, from)
    }

    /// Deletes a record as a Pipedrive user would.
    pub fn delete_record(&self, kind: &str, id: i64) -> anyhow::Result<()> {
        admin::user_delete(self.shared(), kind, &id.to_string())
    }

    /// Adds a user to the company, as an admin inviting one would; returns the user's id.
    /// Emails are unique in a company (case aside).
    pub fn add_user(&self, name: &str, email: &str) -> anyhow::Result<i64> {
        let now = self.shared().clock.now_ms();
        admin::add_user(&mut self.shared().api.lock(), now, name, email)
    }

    /// Adds a custom field as an admin would in the settings; returns its 40-character key.
    pub fn add_field(&self, kind: &str, body: &Value) -> anyhow::Result<String> {
        admin::user_add_field(self.shared(), kind, body).map(|f| f.key)
    }

    /// Deletes custom field `key` of `kind` (`persons`, ...) as an admin would in the
    /// settings: the field leaves the catalogue, and its values leave the records.
    pub fn delete_field(&self, kind: &str, key: &str) -> anyhow::Result<()> {
        admin::user_delete_field(&mut self.shared().api.lock(), kind, key)
    }

    /// The custom fields of `kind` (`persons`, ...) as an admin sees them in the settings:
    /// name → 40-character key.
    pub fn custom_field_keys(&self, kind: &str) -> BTreeMap<String, String> {
        let Some(kind) = Kind::from_v2(kind) else {
            return BTreeMap::new();
        };
        self.shared().api.lock().fields[&kind]
            .iter()
            .filter(|f| f.custom)
            .map(|f| (f.name.clone(), f.key.clone()))
            .collect()
    }

    /// The options of field `key` of `kind` (`persons`, ...; `label_ids` for the labels) as
    /// an admin sees them in the settings: label and id, in order.
    pub fn field_options(&self, kind: &str, key: &str) -> Vec<(String, i64)> {
        let Some(kind) = Kind::from_v2(kind) else {
            return Vec::new();
        };
        let co = self.shared().api.lock();
        co.field(kind, key)
            .and_then(|f| f.options.as_ref())
            .map(|o| o.iter().map(|o| (o.label.clone(), o.id)).collect())
            .unwrap_or_default()
    }

    /// Every record (deleted too), by kind, in its v2 shape.
    pub fn dump(&self) -> Value {
        admin::dump(&self.shared().api.lock())
    }

    /// Queues a user's edit to land just before a later API call (see [`EditBefore`]).
    pub fn edit_before(&self, edit: EditBefore) {
        self.shared().api.lock().edits_before.push(edit);
    }

    /// Changes the rate limits; counting restarts, the daily budget's too.
    pub fn set_rate_limit(&self, burst: u32, window_ms: u64, daily_budget: u64) {
        self.shared()
            .api
            .lock()
            .rate
            .set(burst, window_ms, daily_budget);
    }
}

#[cfg(test)]
mod activity_tests;
#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod spec_check;
#[cfg(test)]
mod tests;
