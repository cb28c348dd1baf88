//! An in-memory CRM for the engine's tests (it exists only under `cfg(test)`).
//!
//! It keeps records by id, stamps every write with a logical clock, serves a change feed by
//! modification time, honours the external id on creates (a retried create finds the first
//! record), and can "die" after N writes: the Nth write is applied and then the call fails as
//! if the process had been killed before the answer was committed. With
//! [`MemoryCrm::unique`] a property's values are unique among live records, and a create
//! that would repeat one is refused as a duplicate naming the existing record, as HubSpot
//! refuses a second contact with an email.
//!
//! Like HubSpot, it keeps when each property was last written, but its change feed and reads
//! by id carry record times only: per-property times are served by
//! [`Provider::field_times`], which [`MemoryCrm::fail_field_times`] can make fail.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::*;
use crate::mapping::Direction;
use crate::model::ObjectKind;

#[derive(Debug, Default)]
struct State {
    /// (object, id) → record
    records: BTreeMap<(ObjectKind, String), RemoteRecord>,
    next_id: u64,
    clock: i64,
    writes: u64,
    /// After this many writes, every write call fails (after applying its first input).
    die_after: Option<u64>,
    /// A property whose values creates may not repeat (compared without case).
    unique: Option<String>,
    /// Archive the existing record right after refusing a create as its duplicate.
    archive_refused: bool,
    /// Every `field_times` call fails.
    fail_field_times: bool,
    /// How many ticks before the cursor each change-feed read starts (an overlap).
    overlap: i64,
}

/// The in-memory CRM.
#[derive(Debug, Default)]
pub struct MemoryCrm {
    state: Mutex<State>,
    requests: AtomicU64,
    id_reads: AtomicU64,
    history_reads: AtomicU64,
    completed: AtomicU64,
}

/// The remote property that holds the external id.
pub const EXTERNAL_ID: &str = "crmsync_id";

impl MemoryCrm {
    pub fn new() -> MemoryCrm {
        MemoryCrm::default()
    }

    /// Makes the write calls fail once `n` more writes have been applied.
    pub fn die_after_writes(&self, n: Option<u64>) {
        let mut s = self.state.lock().unwrap();
        s.die_after = n.map(|n| s.writes + n);
    }

    /// Makes the values of `property` unique: a create repeating the value of a live record
    /// is refused with a duplicate error naming that record.
    pub fn unique(&self, property: &str) {
        self.state.lock().unwrap().unique = Some(property.to_string());
    }

    /// Makes a CRM user archive the existing record right after a create was refused as its
    /// duplicate, before crmsync can read it.
    pub fn archive_when_duplicated(&self, on: bool) {
        self.state.lock().unwrap().archive_refused = on;
    }

    /// Makes every [`Provider::field_times`] call fail (or succeed again).
    pub fn fail_field_times(&self, on: bool) {
        self.state.lock().unwrap().fail_field_times = on;
    }

    /// Edits a record as a CRM user would (absent value = clear).
    pub fn user_edit(&self, object: ObjectKind, id: &str, props: &[(&str, Option<&str>)]) {
        let at = {
            let mut s = self.state.lock().unwrap();
            s.clock += 1;
            s.clock
        };
        self.user_edit_at(object, id, props, at);
    }

    /// Edits a record as a CRM user would at time `at` (absent value = clear); later writes
    /// are stamped after it.
    pub fn user_edit_at(
        &self,
        object: ObjectKind,
        id: &str,
        props: &[(&str, Option<&str>)],
        at: i64,
    ) {
        let mut s = self.state.lock().unwrap();
        s.clock = s.clock.max(at);
        let now = at;
        let rec = s
            .records
            .get_mut(&(object, id.to_string()))
            .expect("record exists");
        for (k, v) in props {
            match v {
                Some(v) if !v.is_empty() => {
                    rec.props.insert(k.to_string(), v.to_string());
                }
                _ => {
                    rec.props.remove(*k);
                }
            }
            rec.prop_updated_at.insert(k.to_string(), now);
        }
        rec.updated_at = now;
    }

    /// Creates a record as a CRM user would; returns its id.
    pub fn user_create(&self, object: ObjectKind, props: &[(&str, &str)]) -> String {
        let at = {
            let mut s = self.state.lock().unwrap();
            s.clock += 1;
            s.clock
        };
        self.user_create_at(object, props, at)
    }

    /// Creates a record as a CRM user would have at logical time `at`: one stamped before the
    /// change feed's cursor is never read by an incremental sync.
    pub fn user_create_at(&self, object: ObjectKind, props: &[(&str, &str)], at: i64) -> String {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id.to_string();
        let now = at;
        let rec = RemoteRecord {
            id: id.clone(),
            props: props
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            updated_at: now,
            prop_updated_at: props.iter().map(|(k, _)| (k.to_string(), now)).collect(),
            archived: false,
            external_id: None,
        };
        s.records.insert((object, id.clone()), rec);
        id
    }

    /// Archives a record as a CRM user would.
    pub fn user_archive(&self, object: ObjectKind, id: &str) {
        let mut s = self.state.lock().unwrap();
        s.clock += 1;
        let now = s.clock;
        let rec = s
            .records
            .get_mut(&(object, id.to_string()))
            .expect("record exists");
        rec.archived = true;
        rec.updated_at = now;
    }

    /// Every record of `object`, archived ones included.
    pub fn all(&self, object: ObjectKind) -> Vec<RemoteRecord> {
        let s = self.state.lock().unwrap();
        s.records
            .iter()
            .filter(|((o, _), _)| *o == object)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Calls of [`Provider::field_times`] that reached the CRM so far (one per batch).
    pub fn history_reads(&self) -> u64 {
        self.history_reads.load(Ordering::Relaxed)
    }

    /// Makes each change-feed read start `ticks` before its cursor, as HubSpot's does by
    /// the overlap, so records are read again at versions already synced.
    pub fn overlap(&self, ticks: i64) {
        self.state.lock().unwrap().overlap = ticks;
    }

    /// Records passed to [`Provider::complete`] so far.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Calls of [`Provider::read_by_ids`] made so far.
    pub fn id_reads(&self) -> u64 {
        self.id_reads.load(Ordering::Relaxed)
    }

    /// Write calls made so far.
    pub fn writes(&self) -> u64 {
        self.state.lock().unwrap().writes
    }

    /// Counts a write; `Err` when the CRM "dies" on this one (after applying it).
    fn count_write(s: &mut State) -> bool {
        s.writes += 1;
        matches!(s.die_after, Some(n) if s.writes >= n)
    }

    fn died() -> ProviderError {
        ProviderError::Network {
            crm: "memory",
            connection: "memory".into(),
            message: "the run was killed before the answer was committed".into(),
        }
    }
}

/// A record as the change feed and reads by id show it: without per-property times.
fn without_times(rec: &RemoteRecord) -> RemoteRecord {
    RemoteRecord {
        prop_updated_at: BTreeMap::new(),
        ..rec.clone()
    }
}

fn apply_props(rec: &mut RemoteRecord, props: &BTreeMap<String, String>, now: i64) {
    for (k, v) in props {
        if v.is_empty() {
            rec.props.remove(k);
        } else {
            rec.props.insert(k.clone(), v.clone());
        }
        rec.prop_updated_at.insert(k.clone(), now);
    }
    rec.updated_at = now;
}

#[async_trait]
impl Provider for MemoryCrm {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Hubspot
    }

    fn connection(&self) -> &str {
        "memory"
    }

    fn objects(&self) -> &[ObjectKind] {
        &[ObjectKind::Company, ObjectKind::Contact]
    }

    fn batch_size(&self) -> usize {
        10
    }

    fn default_mappings(&self, object: ObjectKind) -> Vec<DefaultMapping> {
        let both = |local, remote| DefaultMapping {
            local,
            remote,
            direction: Direction::Both,
        };
        match object {
            ObjectKind::Contact => vec![
                both("email", "email"),
                both("first_name", "firstname"),
                both("last_name", "lastname"),
                both("phone", "phone"),
                both("pronouns", "pronouns"),
                both("company_id", "associations.companies"),
            ],
            ObjectKind::Company => vec![both("name", "name"), both("domain", "domain")],
            ObjectKind::Activity => vec![],
        }
    }

    async fn changes(
        &self,
        query: &ChangeQuery,
        _properties: &[String],
    ) -> Result<ChangePage, ProviderError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let s = self.state.lock().unwrap();
        let cursor: Option<i64> = query
            .since
            .as_deref()
            .map(|c| c.parse().expect("memory cursor"));
        let since = cursor.map_or(i64::MIN, |c| c - s.overlap);
        let mut records: Vec<RemoteRecord> = s
            .records
            .iter()
            .filter(|((o, _), r)| *o == query.object && r.updated_at > since)
            .map(|(_, r)| without_times(r))
            .collect();
        records.sort_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id)));
        let checkpoint = records
            .last()
            .map(|r| r.updated_at)
            .unwrap_or(0)
            .max(cursor.unwrap_or(0));
        Ok(ChangePage {
            records,
            next: None,
            checkpoint: Some(checkpoint.to_string()),
        })
    }

    async fn complete(
        &self,
        _object: ObjectKind,
        records: &mut [RemoteRecord],
        _properties: &[String],
    ) -> Result<(), ProviderError> {
        if !records.is_empty() {
            self.requests.fetch_add(1, Ordering::Relaxed);
            self.completed
                .fetch_add(records.len() as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn create(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap();
        let die = Self::count_write(&mut s);
        s.clock += 1;
        let now = s.clock;
        let mut out = Vec::new();
        for input in inputs {
            // Upsert by external id: a retried create finds the first record.
            let existing = s
                .records
                .iter()
                .find(|((o, _), r)| {
                    *o == object && r.external_id.as_deref() == Some(&input.local_id)
                })
                .map(|((_, id), _)| id.clone());
            let taken = s.unique.as_ref().and_then(|prop| {
                let value = input.props.get(prop).filter(|v| !v.is_empty())?;
                s.records
                    .iter()
                    .find(|((o, _), r)| {
                        *o == object
                            && !r.archived
                            && r.props
                                .get(prop)
                                .is_some_and(|v| v.eq_ignore_ascii_case(value))
                    })
                    .map(|((_, id), _)| id.clone())
            });
            let id = match (existing, taken) {
                (Some(id), _) => id,
                (None, Some(other)) => {
                    if s.archive_refused
                        && let Some(rec) = s.records.get_mut(&(object, other.clone()))
                    {
                        rec.archived = true;
                        rec.updated_at = now;
                    }
                    out.push(Err(RecordError {
                        message: format!("Record already exists. Existing ID: {other}"),
                        code: Some(format!("{DUPLICATE_CODE_PREFIX}{other}")),
                        retryable: false,
                    }));
                    if die {
                        return Err(Self::died());
                    }
                    continue;
                }
                (None, None) => {
                    s.next_id += 1;
                    let id = s.next_id.to_string();
                    s.records.insert(
                        (object, id.clone()),
                        RemoteRecord {
                            id: id.clone(),
                            external_id: Some(input.local_id.clone()),
                            ..RemoteRecord::default()
                        },
                    );
                    id
                }
            };
            let rec = s.records.get_mut(&(object, id)).unwrap();
            apply_props(rec, &input.props, now);
            out.push(Ok(rec.clone()));
            if die {
                return Err(Self::died());
            }
        }
        Ok(out)
    }

    async fn update(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap();
        let die = Self::count_write(&mut s);
        s.clock += 1;
        let now = s.clock;
        let mut out = Vec::new();
        for input in inputs {
            let id = input.remote_id.clone().unwrap_or_default();
            match s.records.get_mut(&(object, id.clone())) {
                Some(rec) if !rec.archived => {
                    apply_props(rec, &input.props, now);
                    if input.set_external_id {
                        rec.external_id = Some(input.local_id.clone());
                    }
                    out.push(Ok(rec.clone()));
                }
                _ => out.push(Err(RecordError {
                    message: format!("record {id} not found"),
                    code: Some("404".into()),
                    retryable: false,
                })),
            }
            if die {
                return Err(Self::died());
            }
        }
        Ok(out)
    }

    async fn archive(
        &self,
        object: ObjectKind,
        remote_ids: &[String],
    ) -> Result<WriteResults<()>, ProviderError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut s = self.state.lock().unwrap();
        let die = Self::count_write(&mut s);
        s.clock += 1;
        let now = s.clock;
        let mut out = Vec::new();
        for id in remote_ids {
            if let Some(rec) = s.records.get_mut(&(object, id.clone())) {
                rec.archived = true;
                rec.updated_at = now;
            }
            out.push(Ok(()));
            if die {
                return Err(Self::died());
            }
        }
        Ok(out)
    }

    async fn read_by_ids(
        &self,
        object: ObjectKind,
        ids: &[String],
        _properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        let batch = self.batch_size();
        let calls = ids.len().div_ceil(batch) as u64;
        self.requests.fetch_add(calls, Ordering::Relaxed);
        self.id_reads.fetch_add(calls, Ordering::Relaxed);
        let s = self.state.lock().unwrap();
        Ok(ids
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter_map(|id| s.records.get(&(object, id.clone())))
            .filter(|r| !r.archived)
            .map(without_times)
            .collect())
    }

    async fn field_times(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<FieldTimes, ProviderError> {
        let calls = ids.len().div_ceil(self.batch_size()) as u64;
        self.requests.fetch_add(calls, Ordering::Relaxed);
        let s = self.state.lock().unwrap();
        if s.fail_field_times {
            return Err(ProviderError::Api {
                crm: "memory",
                connection: "memory".into(),
                status: 502,
                message: "the history read failed".into(),
            });
        }
        self.history_reads.fetch_add(calls, Ordering::Relaxed);
        Ok(ids
            .iter()
            .filter_map(|id| s.records.get(&(object, id.clone())))
            .filter(|r| !r.archived)
            .map(|r| {
                let times = r
                    .prop_updated_at
                    .iter()
                    .filter(|(p, _)| properties.contains(p))
                    .map(|(p, at)| (p.clone(), *at))
                    .collect();
                (r.id.clone(), times)
            })
            .collect())
    }

    async fn find_by_external_id(
        &self,
        object: ObjectKind,
        local_ids: &[String],
        _properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let s = self.state.lock().unwrap();
        Ok(s.records
            .iter()
            .filter(|((o, _), r)| {
                *o == object
                    && r.external_id
                        .as_ref()
                        .is_some_and(|e| local_ids.contains(e))
            })
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn fields(&self, object: ObjectKind) -> Result<Vec<RemoteField>, ProviderError> {
        Ok(self
            .default_mappings(object)
            .into_iter()
            .map(|m| RemoteField {
                name: m.remote.to_string(),
                label: m.remote.to_string(),
                remote_type: "string".into(),
                kind: RemoteFieldKind::Text,
                read_only: false,
                unique: false,
                options: Vec::new(),
            })
            .collect())
    }

    async fn create_field(
        &self,
        _object: ObjectKind,
        _spec: &FieldSpec,
    ) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn account(&self) -> Result<AccountInfo, ProviderError> {
        Ok(AccountInfo {
            account: "memory".into(),
            id: None,
            scopes: vec![],
        })
    }

    fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}
