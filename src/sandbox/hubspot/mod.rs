//! The HubSpot sandbox: CRM v3 objects (contacts, companies), search, v4 associations,
//! properties, owners, private-app and OAuth 2.0 authentication, rate limits and seeded
//! faults, as `https://api.hubapi.com` answers them.
//!
//! One [`HubSpotSandbox`] is one HubSpot account (portal) on its own loopback port. All state
//! is in memory behind one mutex; every request takes it once. Request handling is:
//! admin prefix → admin API (no auth, no faults, not logged); otherwise seeded fault →
//! authentication (`/crm/...`) → OAuth scope check → rate limits → the endpoint, and the
//! call is logged.
//!
//! Authentication: the private-app token (given or generated) has every scope and carries the
//! daily-limit headers; OAuth access tokens carry the scopes granted at `/oauth/authorize`
//! and get 403 `MISSING_SCOPES` without the one a call needs (`crm.objects.{type}.read|write`,
//! `crm.schemas.{type}.read|write`, `crm.objects.owners.read`).
//!
//! Behaviours chosen where HubSpot's documents are silent (each is a default kept in one
//! place here):
//! * Refresh tokens do not rotate: the refresh grant returns the same refresh token, as
//!   HubSpot does today. Revoking one also invalidates the access tokens minted from it.
//! * An update that changes no value does not bump `updatedAt` / last-modified.
//! * `propertiesWithHistory` covers writable properties, newest first, with `sourceType`
//!   `INTEGRATION` (API writes), `CRM_UI` (admin edits, as a user in HubSpot) or `IMPORT`
//!   (seeded data).
//! * Contact emails are stored lower-cased and matched case-insensitively.
//! * `date` properties are stored and returned as midnight-UTC epoch ms; `datetime` ones as
//!   ISO 8601 with milliseconds (input may be either form).
//! * `batch/create` with a duplicate unique value rejects the whole batch with 409;
//!   `batch/read` and `batch/update` answer 207 with `errors[]` for missing ids.
//! * List cursors are the next record id; search cursors are offsets.

mod admin;
mod api;
mod oauth;
mod search;
mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use serde_json::{Value, json};

use crate::sandbox::http::{HttpRequest, HttpResponse, HttpServer, Outcome};
use crate::sandbox::{
    ADMIN_PREFIX, Fault, FaultInjector, FaultOptions, RollingWindow, SandboxClock, http_date,
    iso_ms, uuid,
};
use store::{Associations, ObjType, ObjectStore, Owner, PropDef};

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

/// One API call as the sandbox saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedRequest {
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    /// 0 when the connection was dropped without an answer.
    pub status: u16,
    /// Sandbox-clock time, ISO 8601.
    pub time: String,
    /// The body of a CRM API call (`/crm/...`), as sent; `None` for other calls (OAuth bodies
    /// carry secrets) and empty bodies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

pub(crate) struct RateState {
    max: u32,
    window_ms: u64,
    search_per_second: u32,
    daily_limit: u64,
    /// The ten-secondly windows, per app ([`Caller::app`]).
    windows: HashMap<String, RollingWindow>,
    /// The search windows, per token.
    search_windows: HashMap<String, RollingWindow>,
    daily: HashMap<String, u64>,
}

/// The whole account.
pub(crate) struct Hub {
    pub base_url: String,
    pub contacts: ObjectStore,
    pub companies: ObjectStore,
    pub props: HashMap<ObjType, Vec<PropDef>>,
    pub owners: Vec<Owner>,
    pub assoc: Associations,
    pub next_id: u64,
    pub oauth: oauth::OAuthState,
    pub log: Vec<LoggedRequest>,
    pub rate: RateState,
    pub faults: FaultInjector,
    pub data_rng: StdRng,
    /// Users' edits waiting for an API call to land before (see [`EditBefore`]).
    pub edits_before: Vec<EditBefore>,
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

impl Hub {
    pub fn store(&self, t: ObjType) -> &ObjectStore {
        match t {
            ObjType::Contacts => &self.contacts,
            ObjType::Companies => &self.companies,
        }
    }

    pub fn store_mut(&mut self, t: ObjType) -> &mut ObjectStore {
        match t {
            ObjType::Contacts => &mut self.contacts,
            ObjType::Companies => &mut self.companies,
        }
    }

    pub fn prop(&self, t: ObjType, name: &str) -> Option<&PropDef> {
        self.props.get(&t)?.iter().find(|p| p.name == name)
    }

    /// Properties whose values must be unique: `email` for contacts plus `hasUniqueValue` ones.
    pub fn unique_props(&self, t: ObjType) -> Vec<String> {
        let mut v: Vec<String> = self.props[&t]
            .iter()
            .filter(|p| p.has_unique_value)
            .map(|p| p.name.clone())
            .collect();
        if t == ObjType::Contacts {
            v.push("email".into());
        }
        v
    }
}

pub(crate) struct Shared {
    pub hub: Mutex<Hub>,
    pub clock: SandboxClock,
    pub token: String,
    pub opts: SandboxOptions,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running HubSpot sandbox.
pub struct HubSpotSandbox {
    shared: Arc<Shared>,
    server: HttpServer,
}

impl HubSpotSandbox {
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
        for t in [ObjType::Contacts, ObjType::Companies] {
            props.insert(t, store::builtin_properties(t, &owner_ids, now));
        }
        let hub = Hub {
            base_url: String::new(),
            contacts: ObjectStore::default(),
            companies: ObjectStore::default(),
            props,
            owners,
            assoc: Associations::default(),
            next_id: 1001,
            oauth: oauth::OAuthState::default(),
            log: Vec::new(),
            rate: RateState {
                max: opts.rate_limit.0,
                window_ms: opts.rate_limit.1,
                search_per_second: opts.search_per_second,
                daily_limit: opts.daily_limit,
                windows: HashMap::new(),
                search_windows: HashMap::new(),
                daily: HashMap::new(),
            },
            faults: FaultInjector::new(opts.faults.clone(), opts.seed),
            data_rng: StdRng::seed_from_u64(opts.seed),
            edits_before: Vec::new(),
        };
        let shared = Arc::new(Shared {
            hub: Mutex::new(hub),
            clock,
            token,
            opts: opts.clone(),
        });
        let handler_shared = Arc::clone(&shared);
        let server = HttpServer::start(
            opts.port,
            Arc::new(move |req| handle(&handler_shared, req)),
        )
        .with_context(|| {
            format!(
                "could not start the HubSpot sandbox on 127.0.0.1:{}; pick another port or use 0",
                opts.port
            )
        })?;
        shared.lock().base_url = format!("http://{}", server.addr());
        Ok(HubSpotSandbox { shared, server })
    }

    /// `http://127.0.0.1:<port>`; use it where a client would use `https://api.hubapi.com`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Where the admin HTTP API is served (`{base_url}/_sandbox`).
    pub fn admin_url(&self) -> String {
        format!("{}{ADMIN_PREFIX}", self.base_url())
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// The private-app token the sandbox accepts.
    pub fn token(&self) -> String {
        self.shared.token.clone()
    }

    pub fn client_id(&self) -> String {
        self.shared.opts.client_id.clone()
    }

    /// The portal id (Hub ID) of the account the sandbox plays.
    pub fn hub_id(&self) -> u64 {
        self.shared.opts.hub_id()
    }

    pub fn client_secret(&self) -> String {
        self.shared.opts.client_secret.clone()
    }

    /// Stops serving. Also happens on drop.
    pub fn stop(mut self) {
        self.server.stop();
    }

    /// Blocks the calling thread until `stop` returns true, checking every 100 ms; for
    /// `crmsync sandbox serve`, which passes a Ctrl-C flag.
    pub fn run_until(&self, stop: impl Fn() -> bool) {
        while !stop() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // ---- in-process admin, mirroring the admin HTTP API ----

    /// Adds `contacts` synthetic contacts and `companies` companies (seeded names and
    /// emails); returns their ids.
    pub fn seed(&self, contacts: usize, companies: usize) -> (Vec<String>, Vec<String>) {
        let now = self.shared.clock.now_ms();
        admin::seed(&mut self.shared.lock(), now, contacts, companies)
    }

    /// Creates a record as a HubSpot user would (read-only properties still refused).
    /// `object_type` is `contacts` or `companies`. Returns the record as the API shows it.
    pub fn create_record(
        &self,
        object_type: &str,
        properties: &[(&str, &str)],
    ) -> anyhow::Result<Value> {
        let props = json!(properties.iter().cloned().collect::<HashMap<_, _>>());
        admin::user_write(&self.shared, object_type, None, &props)
    }

    /// Edits a record as a HubSpot user would, bumping `updatedAt` and last-modified.
    pub fn update_record(
        &self,
        object_type: &str,
        id: &str,
        properties: &[(&str, &str)],
    ) -> anyhow::Result<Value> {
        let props = json!(properties.iter().cloned().collect::<HashMap<_, _>>());
        admin::user_write(&self.shared, object_type, Some(id), &props)
    }

    /// Deletes a custom property as a HubSpot user would in the settings (the API's
    /// `DELETE /crm/v3/properties/{objectType}/{name}`).
    pub fn delete_property(&self, object_type: &str, name: &str) -> anyhow::Result<()> {
        let t = ObjType::parse(object_type)
            .ok_or_else(|| anyhow::anyhow!("unknown object type `{object_type}`"))?;
        api::delete_property(&mut self.shared.lock(), t, name)
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("the sandbox refused: {}", e.message()))
    }

    /// Restores an archived record as a HubSpot user does from the recycle bin: within 90 days,
    /// unless a live record took one of its unique values since.
    pub fn restore_record(&self, object_type: &str, id: &str) -> anyhow::Result<()> {
        admin::user_restore(&self.shared, object_type, id)
    }

    /// Archives a record as a HubSpot user deleting it would.
    pub fn archive_record(&self, object_type: &str, id: &str) -> anyhow::Result<()> {
        admin::user_archive(&self.shared, object_type, id)
    }

    /// Merges record `merged` into `primary` as a HubSpot user would: `merged` then reads
    /// and updates as `primary`, which lists it in `hs_merged_object_ids`.
    pub fn merge_records(
        &self,
        object_type: &str,
        primary: &str,
        merged: &str,
    ) -> anyhow::Result<Value> {
        admin::user_merge(&self.shared, object_type, primary, merged)
    }

    /// Associates a contact with a company, as a HubSpot user would.
    pub fn associate(&self, contact_id: &str, company_id: &str) -> anyhow::Result<()> {
        admin::user_associate(&self.shared, contact_id, company_id)
    }

    /// Removes a contact's association with a company, as a HubSpot user would.
    pub fn dissociate(&self, contact_id: &str, company_id: &str) -> anyhow::Result<()> {
        admin::user_dissociate(&self.shared, contact_id, company_id)
    }

    /// Every record of both types (archived too) and every association, as JSON.
    pub fn dump(&self) -> Value {
        admin::dump(&self.shared.lock())
    }

    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.shared.lock().log.clone()
    }

    pub fn clear_request_log(&self) {
        self.shared.lock().log.clear();
    }

    /// The sandbox clock, epoch ms.
    pub fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    pub fn set_clock_ms(&self, ms: i64) {
        self.shared.clock.set_ms(ms);
    }

    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance_ms(by.as_millis() as i64);
    }

    /// Stops the clock where it is (`true`), or lets it run on from there (`false`).
    pub fn freeze_clock(&self, frozen: bool) {
        self.shared.clock.freeze(frozen);
    }

    /// Queues a user's edit to land just before a later API call (see [`EditBefore`]).
    pub fn edit_before(&self, edit: EditBefore) {
        self.shared.lock().edits_before.push(edit);
    }

    /// Replaces the fault settings and restarts the write counter.
    pub fn set_faults(&self, faults: FaultOptions) {
        self.shared.lock().faults.set(faults);
    }

    /// Changes the rate limits; counting restarts.
    pub fn set_rate_limit(&self, max: u32, window_ms: u64, search_per_second: u32) {
        let mut hub = self.shared.lock();
        hub.rate.max = max;
        hub.rate.window_ms = window_ms;
        hub.rate.search_per_second = search_per_second;
        hub.rate.windows.clear();
        hub.rate.search_windows.clear();
    }

    /// Makes the next `/oauth/authorize` redirect back with `error=access_denied`.
    pub fn deny_next_authorize(&self) {
        self.shared.lock().oauth.deny_next = true;
    }

    /// Revokes a refresh token (and the access tokens minted from it) as an admin
    /// uninstalling the app would. Returns false if the token was unknown.
    pub fn revoke_refresh_token(&self, token: &str) -> bool {
        self.shared.lock().oauth.revoke(token)
    }
}

/// A HubSpot error body: `{status, message, correlationId, category}`.
pub(crate) fn error(status: u16, category: &str, message: &str) -> HttpResponse {
    HttpResponse::json(status, &error_body(category, message))
}

pub(crate) fn error_body(category: &str, message: &str) -> Value {
    json!({"status": "error", "message": message, "correlationId": uuid(), "category": category})
}

fn rate_limit_body(message: &str, policy: &str) -> HttpResponse {
    HttpResponse::json(
        429,
        &json!({"status": "error", "message": message, "errorType": "RATE_LIMIT",
                "correlationId": uuid(), "policyName": policy, "requestId": uuid()}),
    )
}

const AUTH_MISSING: &str = "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview";

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

fn handle(shared: &Shared, req: HttpRequest) -> Outcome {
    if req.path == ADMIN_PREFIX || req.path.starts_with(&format!("{ADMIN_PREFIX}/")) {
        return Outcome::Respond(admin::handle(shared, &req));
    }
    // The authorize page is the browser's step, not an API call: no faults there.
    if req.path == "/oauth/authorize" {
        let resp = route(shared, &req);
        log(shared, &req, resp.status);
        return Outcome::Respond(resp);
    }
    land_edits_before(shared, &req);
    let (fault, delay) = shared.lock().faults.decide(is_write(&req));
    if delay > 0 {
        std::thread::sleep(Duration::from_millis(delay));
    }
    let resp = match fault {
        Fault::Drop => {
            log(shared, &req, 0);
            return Outcome::Drop;
        }
        Fault::Status(429) => rate_limit_body(
            "You have reached your ten_secondly_rolling limit.",
            "TEN_SECONDLY_ROLLING",
        )
        .with_header("Retry-After", "1"),
        Fault::Status(500) => error(500, "INTERNAL_ERROR", "internal error"),
        Fault::Status(s) => HttpResponse {
            status: s,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: format!(
                "<html><body><h1>{s}</h1>The server is temporarily unavailable.</body></html>"
            )
            .into_bytes(),
        },
        Fault::None => route(shared, &req),
    };
    log(shared, &req, resp.status);
    Outcome::Respond(resp.with_header("Date", http_date(shared.clock.now_ms())))
}

/// Carries out the queued users' edits whose call this is.
fn land_edits_before(shared: &Shared, req: &HttpRequest) {
    let due: Vec<EditBefore> = {
        let mut hub = shared.lock();
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

fn log(shared: &Shared, req: &HttpRequest, status: u16) {
    let time = iso_ms(shared.clock.now_ms());
    shared.lock().log.push(LoggedRequest {
        method: req.method.clone(),
        path: req.target.clone(),
        status,
        time,
        body: (req.path.starts_with("/crm/") && !req.body.is_empty())
            .then(|| String::from_utf8_lossy(&req.body).into_owned()),
    });
}

/// The authenticated caller of an API call.
pub(crate) struct Caller {
    pub token: String,
    /// The app the token belongs to: HubSpot's ten-secondly limit is per app (a private
    /// app, or an OAuth app in this account), so every token of one app shares its window.
    pub app: String,
    pub private_app: bool,
    /// Granted OAuth scopes; `None` for the private-app token, which has them all.
    pub scopes: Option<Vec<String>>,
}

fn route(shared: &Shared, req: &HttpRequest) -> HttpResponse {
    let segs = req.segments();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    if segs.first() == Some(&"oauth") {
        return oauth::handle(shared, req, &segs);
    }
    if segs == ["account-info", "v3", "details"] && req.method == "GET" {
        // Account Information API (`GET /account-info/v3/details`): the portal the token
        // belongs to. Counted against the rate limit like any other call.
        if let Err(resp) = authenticate(shared, req) {
            return resp;
        }
        return HttpResponse::json(
            200,
            &serde_json::json!({
                "portalId": shared.opts.hub_id(),
                "accountType": "STANDARD",
                "timeZone": "US/Eastern",
                "companyCurrency": "USD",
                "additionalCurrencies": [],
                "utcOffset": "-05:00",
                "utcOffsetMilliseconds": -18_000_000,
                "uiDomain": "app.hubspot.com",
                "dataHostingLocation": "na1"
            }),
        );
    }
    if segs.first() != Some(&"crm") {
        return error(
            404,
            "OBJECT_NOT_FOUND",
            &format!("no route for {} {}", req.method, req.path),
        );
    }
    let caller = match authenticate(shared, req) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    if let Some(granted) = &caller.scopes
        && let Some(needed) = required_scope(req, &segs)
        && !granted.contains(&needed)
    {
        return missing_scope(&needed);
    }
    let is_search = req.method == "POST" && segs.last() == Some(&"search");
    let mut hub = shared.lock();
    let window = Duration::from_millis(hub.rate.window_ms);
    let max = hub.rate.max;
    let daily_used = {
        let d = hub.rate.daily.entry(caller.token.clone()).or_default();
        *d += 1;
        *d
    };
    let daily_limit = hub.rate.daily_limit;
    if caller.private_app && daily_used > daily_limit {
        return rate_limit_body("You have reached your daily limit.", "DAILY");
    }
    let remaining;
    if is_search {
        // Search is exempt from the ten-secondly count and has its own per-second limit.
        remaining = hub
            .rate
            .windows
            .entry(caller.app.clone())
            .or_default()
            .remaining(max, window);
        let per_second = hub.rate.search_per_second;
        if per_second > 0 {
            let (ok, _) = hub
                .rate
                .search_windows
                .entry(caller.token.clone())
                .or_default()
                .hit(per_second, Duration::from_secs(1));
            if !ok {
                return rate_limit_body("You have reached your secondly limit.", "SECONDLY")
                    .with_header("Retry-After", "1");
            }
        }
    } else {
        let (ok, rem) = hub
            .rate
            .windows
            .entry(caller.app.clone())
            .or_default()
            .hit(max, window);
        if !ok {
            return with_rate_headers(
                rate_limit_body(
                    "You have reached your ten_secondly_rolling limit.",
                    "TEN_SECONDLY_ROLLING",
                ),
                max,
                0,
                window,
                caller.private_app.then_some((daily_limit, daily_used)),
            );
        }
        remaining = rem;
    }
    let now = shared.clock.now_ms();
    let resp = api::handle(&mut hub, now, req, &segs[1..]);
    with_rate_headers(
        resp,
        max,
        remaining,
        window,
        caller.private_app.then_some((daily_limit, daily_used)),
    )
}

/// The OAuth scope a `/crm/...` call needs. Read and write scopes are distinct: a token
/// granted only `…write` cannot read.
fn required_scope(req: &HttpRequest, segs: &[&str]) -> Option<String> {
    let reads = req.method == "GET"
        || (req.method == "POST" && matches!(segs.last(), Some(&"search") | Some(&"read")));
    let access = if reads { "read" } else { "write" };
    let plural = |t: &str| ObjType::parse(t).map_or(t.to_string(), |o| o.plural().to_string());
    match segs {
        ["crm", "v3", "owners", ..] => Some("crm.objects.owners.read".into()),
        ["crm", "v3", "properties", t, ..] => Some(format!("crm.schemas.{}.{access}", plural(t))),
        ["crm", "v3", "objects", t, ..]
        | ["crm", "v4", "objects", t, ..]
        | ["crm", "v4", "associations", t, ..] => {
            Some(format!("crm.objects.{}.{access}", plural(t)))
        }
        _ => None,
    }
}

fn missing_scope(needed: &str) -> HttpResponse {
    HttpResponse::json(
        403,
        &json!({
            "status": "error",
            "message": "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
            "correlationId": uuid(),
            "errors": [{"message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": [needed]}}],
            "links": {"scopes": "https://developers.hubspot.com/scopes"},
            "category": "MISSING_SCOPES",
        }),
    )
}

fn with_rate_headers(
    resp: HttpResponse,
    max: u32,
    remaining: u32,
    window: Duration,
    daily: Option<(u64, u64)>,
) -> HttpResponse {
    let mut resp = resp
        .with_header("X-HubSpot-RateLimit-Max", max.to_string())
        .with_header("X-HubSpot-RateLimit-Remaining", remaining.to_string())
        .with_header(
            "X-HubSpot-RateLimit-Interval-Milliseconds",
            window.as_millis().to_string(),
        );
    if let Some((limit, used)) = daily {
        resp = resp
            .with_header("X-HubSpot-RateLimit-Daily", limit.to_string())
            .with_header(
                "X-HubSpot-RateLimit-Daily-Remaining",
                limit.saturating_sub(used).to_string(),
            );
    }
    resp
}

fn authenticate(shared: &Shared, req: &HttpRequest) -> Result<Caller, HttpResponse> {
    let Some(token) = req
        .header("authorization")
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
    else {
        return Err(error(401, "INVALID_AUTHENTICATION", AUTH_MISSING));
    };
    if token == shared.token {
        return Ok(Caller {
            token: token.to_string(),
            app: "private-app".to_string(),
            private_app: true,
            scopes: None,
        });
    }
    let now = shared.clock.now_ms();
    let access = shared.lock().oauth.access(token);
    match access {
        Some((expires, scopes)) if expires > now => Ok(Caller {
            token: token.to_string(),
            app: format!("oauth-app {}", shared.opts.client_id),
            private_app: false,
            scopes: Some(scopes),
        }),
        Some((expires, _)) => {
            let minutes = (now - expires) / 60_000;
            Err(error(
                401,
                "EXPIRED_AUTHENTICATION",
                &format!("The OAuth token used to make this call expired {minutes} minute(s) ago."),
            ))
        }
        None => Err(error(401, "INVALID_AUTHENTICATION", AUTH_MISSING)),
    }
}

#[cfg(test)]
mod tests;
