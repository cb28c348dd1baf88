//! One CRM as the sync scenarios meet it: a local sandbox server that crmsync connects to,
//! which a test seeds, edits as that CRM's users do, disturbs with faults and reads back in
//! crmsync's own field names. `TestCrm` is what each CRM implements; `Synced` is a crmsync
//! environment connected to one, with the local store at hand.
//!
//! Adding a CRM to the scenarios is one `TestCrm` impl here and one line in
//! `tests/scenarios/main.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crmsync::model::{ObjectKind, Record, RecordId};
use crmsync::sandbox::{EditBefore, FaultOptions, Sandbox};
use crmsync::store::{Store, WriteOrigin};

use super::{Run, TestEnv};

/// The connection the scenarios sync through.
pub const CONN: &str = "crm";

/// A record as the CRM holds it, its fields under crmsync's names.
#[derive(Debug, Clone, PartialEq)]
pub struct CrmRecord {
    pub id: String,
    pub fields: BTreeMap<String, String>,
    /// The local id crmsync stamped on the record, if any.
    pub crmsync_id: Option<String>,
    pub archived: bool,
}

impl CrmRecord {
    /// A field's value; an empty value is no value.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .get(field)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// One call the CRM answered.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    /// The status sent back; 0 when the connection was dropped.
    pub status: u16,
    /// Whether the call changes something in the CRM.
    pub write: bool,
}

/// A CRM sandbox the scenarios run against. Ids are the CRM's own; fields are named as in
/// crmsync's local records (`first_name`, `job_title`, `name`, ...).
/// A contact field the CRM takes only some values of (see [`TestCrm::choice_field`]).
pub struct ChoiceField {
    /// The local field.
    pub local: &'static str,
    /// What the connection's table needs to map it (empty for a built-in mapping).
    pub mapping: String,
    /// A value the CRM takes, and one it refuses.
    pub good: &'static str,
    pub bad: &'static str,
}

pub trait TestCrm {
    /// A sandbox with limits no scenario reaches.
    fn start() -> Self;
    /// The provider kind a connection to it names in the config.
    fn provider(&self) -> &'static str;
    /// The config that points connection `name` at this sandbox.
    fn connection_config(&self, name: &str) -> String;
    /// The field mappings connection `name` needs on top of the built-in ones (tables that
    /// go after everything else of the connection).
    fn connection_fields(&self, _name: &str) -> String {
        String::new()
    }
    /// Environment variables that give crmsync the credentials of connection `name`.
    fn credentials(&self, name: &str) -> Vec<(String, String)>;
    /// The environment variable and value that make crmsync read `size` records a page.
    fn page_size(&self, size: usize) -> (String, String);
    /// A contact field whose CRM property takes only some values (made in the CRM if need
    /// be), for a record the CRM refuses.
    fn choice_field(&self, conn: &str) -> ChoiceField;

    /// Creates `contacts` contacts and `companies` companies, each contact with one of the
    /// companies when there are any; returns their ids.
    fn seed(&self, contacts: usize, companies: usize) -> (Vec<String>, Vec<String>);
    /// Creates a record as a user of the CRM; returns its id.
    fn create(&self, kind: ObjectKind, fields: &[(&str, &str)]) -> String;
    /// Edits a record as a user of the CRM (an empty value clears the field).
    fn edit(&self, kind: ObjectKind, id: &str, fields: &[(&str, &str)]);
    /// Archives (deletes) a record as a user of the CRM.
    fn archive(&self, kind: ObjectKind, id: &str);
    /// Merges record `from` into `into` as a user of the CRM.
    fn merge(&self, kind: ObjectKind, into: &str, from: &str);
    /// Adds company `company` to contact `contact`.
    fn associate(&self, contact: &str, company: &str);
    /// Takes company `company` off contact `contact`.
    fn dissociate(&self, contact: &str, company: &str);
    /// A user's edit of a record that lands just before the `nth` page crmsync reads of
    /// `kind`'s changes.
    fn edit_before_page(&self, nth: u32, kind: ObjectKind, id: &str, fields: &[(&str, &str)]);

    /// Every record of `kind`, archived ones too.
    fn records(&self, kind: ObjectKind) -> Vec<CrmRecord>;
    /// The companies of a contact.
    fn company_of(&self, contact: &str) -> Vec<String>;

    /// The calls the CRM answered since the log was last cleared.
    fn request_log(&self) -> Vec<Call>;
    fn clear_request_log(&self);

    /// Fails each kind of transient fault (throttling, server errors, dropped connections)
    /// on this share of calls; 0 turns them off.
    fn fail_calls(&self, rate: f64);
    /// Refuses every write after the first `writes`, as an outage in the middle of a run;
    /// `None` lifts it.
    fn refuse_writes_after(&self, writes: Option<u64>);

    /// The least time between two edits that the CRM's record times keep in order (HubSpot's
    /// are to the millisecond, Pipedrive's to the second), with room to spare.
    fn clock_step(&self) -> Duration {
        Duration::from_millis(20)
    }
    /// Waits [`clock_step`](Self::clock_step), so an edit made next is later on the CRM's
    /// clock too.
    fn tick(&self) {
        std::thread::sleep(self.clock_step());
    }

    /// Whether a contact made in the CRM needs a name (Pipedrive's persons do: `name` is
    /// required by `POST /api/v2/persons`); HubSpot's contact may have an email alone.
    fn contact_needs_a_name(&self) -> bool {
        false
    }

    /// Whether a contact made in the CRM needs a last name (Salesforce's `LastName` is
    /// required); a user making one types the person's own.
    fn contact_needs_a_last_name(&self) -> bool {
        false
    }

    /// Whether a user of the CRM can clear `field` of a record of `kind` (Salesforce's
    /// users cannot clear a contact's required `LastName`).
    fn can_clear(&self, kind: ObjectKind, field: &str) -> bool {
        let _ = (kind, field);
        true
    }

    /// The last name a contact with a first name alone keeps when a contact whose last name
    /// is `merged_away` is merged into it: HubSpot's takes the other's (it had none of its
    /// own); Pipedrive's keeps its own `name`, which has no last part (a person's first and
    /// last names are parts of the one `name`).
    fn merged_last_name<'a>(&self, merged_away: &'a str) -> Option<&'a str> {
        Some(merged_away)
    }

    /// The CRM's clock, in epoch ms.
    fn now_ms(&self) -> i64;
    fn set_clock_ms(&self, ms: i64);
    fn advance_clock(&self, by: Duration);

    /// The calls of the log that change something, as `METHOD path`.
    fn write_calls(&self) -> Vec<String> {
        self.request_log()
            .into_iter()
            .filter(|c| c.write)
            .map(|c| format!("{} {}", c.method, c.path))
            .collect()
    }

    /// One record by id.
    fn record(&self, kind: ObjectKind, id: &str) -> CrmRecord {
        self.records(kind)
            .into_iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no {kind} `{id}` in the CRM"))
    }

    /// The records of `kind` not archived.
    fn live(&self, kind: ObjectKind) -> Vec<CrmRecord> {
        self.records(kind)
            .into_iter()
            .filter(|r| !r.archived)
            .collect()
    }
}

// ---- HubSpot ------------------------------------------------------------------------------

/// The HubSpot sandbox.
pub struct HubSpotCrm {
    pub sandbox: Sandbox,
}

/// crmsync's field names and HubSpot's properties for them.
const HUBSPOT_FIELDS: &[(ObjectKind, &str, &str)] = &[
    (ObjectKind::Contact, "first_name", "firstname"),
    (ObjectKind::Contact, "last_name", "lastname"),
    (ObjectKind::Contact, "email", "email"),
    (ObjectKind::Contact, "phone", "phone"),
    (ObjectKind::Contact, "job_title", "jobtitle"),
    (ObjectKind::Contact, "lifecycle_stage", "lifecyclestage"),
    (ObjectKind::Company, "name", "name"),
    (ObjectKind::Company, "domain", "domain"),
];

fn hubspot_plural(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Contact => "contacts",
        ObjectKind::Company => "companies",
        ObjectKind::Deal => "deals",
        other => panic!("the HubSpot sandbox holds no {other}"),
    }
}

fn hubspot_property(kind: ObjectKind, field: &str) -> &'static str {
    HUBSPOT_FIELDS
        .iter()
        .find(|(k, f, _)| *k == kind && *f == field)
        .map(|(_, _, p)| *p)
        .unwrap_or_else(|| panic!("no HubSpot property for {kind} field `{field}`"))
}

fn hubspot_properties<'a>(
    kind: ObjectKind,
    fields: &[(&str, &'a str)],
) -> Vec<(&'static str, &'a str)> {
    fields
        .iter()
        .map(|(f, v)| (hubspot_property(kind, f), *v))
        .collect()
}

/// The config table of connection `name` pointed at a HubSpot sandbox.
pub fn hubspot_connection(sandbox: &Sandbox, name: &str) -> String {
    format!(
        "[connections.{name}]\nprovider = \"hubspot\"\nbase_url = \"{}\"\n",
        sandbox.base_url()
    )
}

/// The variable that gives connection `name` its token: `CRMSYNC_TOKEN_<NAME>`.
pub fn token_var(name: &str) -> String {
    format!(
        "CRMSYNC_TOKEN_{}",
        name.to_ascii_uppercase().replace('-', "_")
    )
}

/// Whether a HubSpot call changes something (anything but reads and searches).
pub fn hubspot_write(method: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    match method {
        "GET" => false,
        "POST" => !(path.ends_with("/search") || path.ends_with("/batch/read")),
        _ => true,
    }
}

impl TestCrm for HubSpotCrm {
    fn start() -> Self {
        HubSpotCrm {
            sandbox: super::unlimited_sandbox(),
        }
    }

    fn provider(&self) -> &'static str {
        "hubspot"
    }

    fn connection_config(&self, name: &str) -> String {
        hubspot_connection(&self.sandbox, name)
    }

    fn credentials(&self, name: &str) -> Vec<(String, String)> {
        vec![(token_var(name), self.sandbox.token())]
    }

    fn page_size(&self, size: usize) -> (String, String) {
        ("CRMSYNC_TEST_SEARCH_LIMIT".into(), size.to_string())
    }

    /// The lifecycle stage, a HubSpot dropdown.
    fn choice_field(&self, _conn: &str) -> ChoiceField {
        ChoiceField {
            local: "lifecycle_stage",
            mapping: String::new(),
            good: "customer",
            bad: "best-friend",
        }
    }

    fn seed(&self, contacts: usize, companies: usize) -> (Vec<String>, Vec<String>) {
        self.sandbox.seed(contacts, companies)
    }

    fn create(&self, kind: ObjectKind, fields: &[(&str, &str)]) -> String {
        let made = self
            .sandbox
            .create_record(hubspot_plural(kind), &hubspot_properties(kind, fields))
            .expect("create a HubSpot record");
        made["id"].as_str().unwrap().to_string()
    }

    fn edit(&self, kind: ObjectKind, id: &str, fields: &[(&str, &str)]) {
        self.sandbox
            .update_record(hubspot_plural(kind), id, &hubspot_properties(kind, fields))
            .expect("edit a HubSpot record");
    }

    fn archive(&self, kind: ObjectKind, id: &str) {
        self.sandbox
            .archive_record(hubspot_plural(kind), id)
            .expect("archive a HubSpot record");
    }

    fn merge(&self, kind: ObjectKind, into: &str, from: &str) {
        self.sandbox
            .merge_records(hubspot_plural(kind), into, from)
            .expect("merge HubSpot records");
    }

    fn associate(&self, contact: &str, company: &str) {
        self.sandbox.associate(contact, company).unwrap();
    }

    fn dissociate(&self, contact: &str, company: &str) {
        self.sandbox.dissociate(contact, company).unwrap();
    }

    fn edit_before_page(&self, nth: u32, kind: ObjectKind, id: &str, fields: &[(&str, &str)]) {
        let properties: serde_json::Map<String, serde_json::Value> =
            hubspot_properties(kind, fields)
                .into_iter()
                .map(|(p, v)| (p.to_string(), v.into()))
                .collect();
        self.sandbox.edit_before(EditBefore {
            method: "POST".into(),
            path_contains: format!("/{}/search", hubspot_plural(kind)),
            nth,
            object_type: hubspot_plural(kind).into(),
            id: id.into(),
            properties: properties.into(),
        });
    }

    fn records(&self, kind: ObjectKind) -> Vec<CrmRecord> {
        let dump = self.sandbox.dump();
        dump[hubspot_plural(kind)]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let props = &r["properties"];
                let text = |p: &str| props[p].as_str().map(str::to_string);
                CrmRecord {
                    id: r["id"].as_str().unwrap().to_string(),
                    fields: HUBSPOT_FIELDS
                        .iter()
                        .filter(|(k, _, _)| *k == kind)
                        .filter_map(|(_, f, p)| Some((f.to_string(), text(p)?)))
                        .collect(),
                    crmsync_id: text("crmsync_id").filter(|s| !s.is_empty()),
                    archived: r["archived"] == true,
                }
            })
            .collect()
    }

    fn company_of(&self, contact: &str) -> Vec<String> {
        self.sandbox.dump()["associations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["contactId"] == contact)
            .map(|a| a["companyId"].as_str().unwrap().to_string())
            .collect()
    }

    fn request_log(&self) -> Vec<Call> {
        calls(self.sandbox.request_log(), hubspot_write)
    }

    fn clear_request_log(&self) {
        self.sandbox.clear_request_log();
    }

    fn fail_calls(&self, rate: f64) {
        self.sandbox.set_faults(failing_calls(rate));
    }

    fn refuse_writes_after(&self, writes: Option<u64>) {
        self.sandbox.set_faults(refusing_writes_after(writes));
    }

    fn now_ms(&self) -> i64 {
        self.sandbox.now_ms()
    }

    fn set_clock_ms(&self, ms: i64) {
        self.sandbox.set_clock_ms(ms);
    }

    fn advance_clock(&self, by: Duration) {
        self.sandbox.advance_clock(by);
    }
}

// ---- crmsync connected to a CRM -------------------------------------------------------------

/// A CRM sandbox and a crmsync environment on the real clock with a connection (`crm` unless
/// named otherwise) pointed at it and its mappings set up.
pub struct Synced<C: TestCrm> {
    pub crm: C,
    pub env: TestEnv,
    /// The connection's name.
    pub conn: &'static str,
}

impl<C: TestCrm> Synced<C> {
    pub fn start() -> Self {
        Self::with("")
    }

    /// `extra` goes into the config file before the connection (policies, more settings).
    pub fn with(extra: &str) -> Self {
        Self::build(CONN, extra, None)
    }

    /// With the connection named `conn`; `extra` as for [`Synced::with`].
    pub fn named(conn: &'static str, extra: &str) -> Self {
        Self::build(conn, extra, None)
    }

    /// crmsync reads `page` records a page.
    pub fn paged(page: usize) -> Self {
        Self::build(CONN, "", Some(page))
    }

    fn build(conn: &'static str, extra: &str, page: Option<usize>) -> Self {
        let crm = C::start();
        let mut env = TestEnv::new();
        env.remove_env("CRMSYNC_TEST_NOW");
        for (k, v) in crm.credentials(conn) {
            env.set_env(&k, &v);
        }
        if let Some(page) = page {
            let (k, v) = crm.page_size(page);
            env.set_env(&k, &v);
        }
        let synced = Synced { crm, env, conn };
        synced.config(extra, "");
        synced.run(&["mappings", "setup", "-c", conn]).ok();
        synced
    }

    /// Rewrites the config: `extra` before the connection's table, `in_connection` inside it
    /// (`[[connections.crm.fields]]` and the like go after it).
    pub fn config(&self, extra: &str, in_connection: &str) {
        self.env.write_config(&format!(
            "{extra}\n{}{in_connection}\n{}",
            self.crm.connection_config(self.conn),
            self.crm.connection_fields(self.conn)
        ));
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.env.run(args)
    }

    pub fn sync(&self) -> Run {
        self.run(&["sync"])
    }

    /// Runs `sync --json`, checks that it exits cleanly, and returns its report.
    pub fn sync_json(&self) -> serde_json::Value {
        let run = self.run(&["sync", "--json"]);
        run.ok();
        run.json()
    }

    pub fn store(&self) -> Store {
        Store::open(&self.env.state_path()).expect("open the state file")
    }

    /// Saves records into the local store as a user's edit would.
    pub fn save_local(&self, records: &[Record]) {
        self.store()
            .save_records(records, &WriteOrigin::User)
            .expect("save local records");
    }

    /// Every local record of `kind` (archived too).
    pub fn local(&self, kind: ObjectKind) -> Vec<Record> {
        let mut out = Vec::new();
        self.store()
            .for_each_record(kind, true, &mut |r| {
                out.push(r);
                Ok(())
            })
            .unwrap();
        out
    }

    pub fn local_record(&self, id: &RecordId) -> Record {
        self.store().get_record(id).unwrap().expect("local record")
    }

    /// Edits fields of a local record (an empty value clears the field).
    pub fn edit_local(&self, id: &RecordId, changes: &[(&str, &str)]) {
        let mut rec = self.local_record(id);
        for (k, v) in changes {
            crmsync::model::set_field(&mut rec.fields, k, *v);
        }
        rec.updated_at = now_ms();
        self.save_local(&[rec]);
    }

    /// Archives a local record as a user would.
    pub fn archive_local(&self, id: &RecordId) {
        let mut rec = self.local_record(id);
        rec.archived_at = Some(now_ms());
        self.save_local(&[rec]);
    }

    /// The CRM id linked to a local record.
    pub fn remote_id(&self, kind: ObjectKind, id: &RecordId) -> String {
        self.store()
            .links_by_local_ids(self.conn, kind, std::slice::from_ref(id))
            .unwrap()
            .remove(id)
            .unwrap_or_else(|| panic!("local {kind} `{id}` is not linked"))
            .remote_id
    }

    /// The local record linked to a CRM id.
    pub fn local_for(&self, kind: ObjectKind, remote_id: &str) -> Record {
        let link = self
            .store()
            .links_by_remote_ids(self.conn, kind, &[remote_id.to_string()])
            .unwrap()
            .remove(remote_id)
            .unwrap_or_else(|| panic!("CRM {kind} `{remote_id}` is not linked"));
        self.local_record(&link.local_id)
    }

    /// The CRM's record linked to a local one.
    pub fn remote_of(&self, kind: ObjectKind, id: &RecordId) -> CrmRecord {
        self.crm.record(kind, &self.remote_id(kind, id))
    }

    /// The emails of the live local contacts.
    pub fn local_emails(&self) -> BTreeSet<String> {
        self.local(ObjectKind::Contact)
            .into_iter()
            .filter(|r| r.archived_at.is_none())
            .map(|r| r.get("email").unwrap_or_default().to_string())
            .collect()
    }

    /// The emails of the CRM's live contacts.
    pub fn remote_emails(&self) -> BTreeSet<String> {
        self.crm
            .live(ObjectKind::Contact)
            .iter()
            .map(|r| r.get("email").unwrap_or_default().to_string())
            .collect()
    }

    /// Checks that every live CRM contact is local, and nothing else is.
    pub fn assert_every_contact_local(&self, expected: usize) {
        let remote = self.remote_emails();
        let local = self.local_emails();
        assert_eq!(remote.len(), expected, "the CRM's contacts");
        let missing: Vec<&String> = remote.difference(&local).collect();
        let extra: Vec<&String> = local.difference(&remote).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "not local: {missing:?}; local only: {extra:?}"
        );
        assert_eq!(
            self.store()
                .count_links(self.conn, ObjectKind::Contact)
                .unwrap() as usize,
            expected,
            "links"
        );
    }

    /// The conflicts still open.
    pub fn open_conflicts(&self) -> Vec<crmsync::store::Conflict> {
        self.store()
            .list_open_conflicts(&crmsync::store::ConflictFilter::default())
            .unwrap()
    }

    /// Runs a sync and checks that it sends the CRM no write.
    pub fn assert_sync_writes_nothing(&self) {
        self.crm.clear_request_log();
        self.sync().ok();
        assert_eq!(self.crm.write_calls(), Vec::<String>::new());
    }

    /// Counts both sides: the live records of `kind` in the CRM and locally are as many as
    /// `expected`, each linked once.
    pub fn assert_counts(&self, kind: ObjectKind, expected: usize) {
        let remote = self.crm.live(kind).len();
        let local = self
            .local(kind)
            .iter()
            .filter(|r| r.archived_at.is_none())
            .count();
        assert_eq!(
            (remote, local),
            (expected, expected),
            "live {kind}s (CRM, local)"
        );
        let live_links = self
            .crm
            .live(kind)
            .iter()
            .filter(|r| {
                self.store()
                    .links_by_remote_ids(self.conn, kind, std::slice::from_ref(&r.id))
                    .unwrap()
                    .contains_key(&r.id)
            })
            .count();
        assert_eq!(live_links, expected, "live {kind}s linked");
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Lets the clocks move on so that "newer" is strictly newer in both.
pub fn tick() {
    std::thread::sleep(Duration::from_millis(20));
}

/// A local record of `kind` with these fields (empty values left out), stamped now.
pub fn record(kind: ObjectKind, pairs: &[(&str, &str)]) -> Record {
    Record {
        id: RecordId::new(),
        kind,
        fields: pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        updated_at: now_ms(),
        archived_at: None,
    }
}

/// These records archived at `at`, as `crmsync records archive` leaves them.
pub fn archived(records: &[Record], at: i64) -> Vec<Record> {
    records
        .iter()
        .map(|r| Record {
            archived_at: Some(at),
            updated_at: at,
            ..r.clone()
        })
        .collect()
}

/// Local contact number `i`.
pub fn contact(i: usize) -> Record {
    record(
        ObjectKind::Contact,
        &[
            ("first_name", &format!("Local{i}")),
            ("last_name", "Person"),
            ("email", &format!("local{i}@example.org")),
            ("lifecycle_stage", "lead"),
        ],
    )
}

/// A sandbox's request log as calls, `is_write(method, path)` telling the writes.
pub fn calls(
    log: Vec<crmsync::sandbox::LoggedRequest>,
    is_write: impl Fn(&str, &str) -> bool,
) -> Vec<Call> {
    log.into_iter()
        .map(|r| Call {
            write: is_write(&r.method, &r.path),
            method: r.method,
            path: r.path,
            status: r.status,
        })
        .collect()
}

/// Faults at `rate` of every kind a sandbox injects: 429, 500, 502/503 and dropped connections.
pub fn failing_calls(rate: f64) -> FaultOptions {
    FaultOptions {
        rate_429: rate,
        rate_500: rate,
        rate_502_503: rate,
        drop_rate: rate,
        ..FaultOptions::default()
    }
}

/// Every write refused after `writes` more (none: writes succeed again).
pub fn refusing_writes_after(writes: Option<u64>) -> FaultOptions {
    FaultOptions {
        fail_after_writes: writes,
        ..FaultOptions::default()
    }
}

/// The local record linked to `remote_id` of connection `conn`.
pub fn linked_local(store: &Store, conn: &str, kind: ObjectKind, remote_id: &str) -> Record {
    let link = store
        .links_by_remote_ids(conn, kind, &[remote_id.to_string()])
        .unwrap()
        .remove(remote_id)
        .unwrap_or_else(|| panic!("{conn} {kind} `{remote_id}` is not linked"));
    store.get_record(&link.local_id).unwrap().expect("local")
}

/// The id in connection `conn` of the local record `local`.
pub fn linked_remote(store: &Store, conn: &str, kind: ObjectKind, local: &Record) -> String {
    store
        .links_by_local_ids(conn, kind, std::slice::from_ref(&local.id))
        .unwrap()
        .remove(&local.id)
        .unwrap_or_else(|| panic!("local {kind} `{}` has no {conn} link", local.id))
        .remote_id
}
