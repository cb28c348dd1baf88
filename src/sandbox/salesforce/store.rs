//! The org's state: records by object, the field catalogue, sessions, the API allocation,
//! query locators and Bulk jobs, behind the one mutex in `Salesforce`.

use std::collections::{BTreeMap, HashMap, VecDeque};

use rand::rngs::StdRng;
use serde_json::{Map, Value, json};

use super::EditBefore;
use super::bulk::Job;
use super::catalogue::{Field, Obj, standard_fields};
use super::ids;
use super::oauth::OAuthState;
use super::records::KeyIndex;

/// One record. `values` holds the writable fields by API name (the system fields are kept
/// apart); a field not in it is null.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: String,
    pub obj: Obj,
    pub values: BTreeMap<String, Value>,
    pub owner: String,
    pub created_ms: i64,
    /// `LastModifiedDate`: moved by a user's or an API write.
    pub modified_ms: i64,
    /// `SystemModstamp`: moved by every change, deletes and undeletes too.
    pub modstamp_ms: i64,
    /// When it went to the Recycle Bin, while it is there.
    pub deleted_ms: Option<i64>,
}

/// The rows of one query, as they were when it ran, served page by page.
#[derive(Debug)]
pub struct Locator {
    pub rows: Vec<Value>,
    pub version: String,
}

/// The rolling 24-hour API allocation, counted on the sandbox clock.
#[derive(Debug)]
pub struct Allocation {
    pub max: u64,
    pub calls: VecDeque<i64>,
}

impl Allocation {
    const DAY_MS: i64 = 86_400_000;

    pub fn used(&mut self, now: i64) -> u64 {
        while self.calls.front().is_some_and(|t| now - t >= Self::DAY_MS) {
            self.calls.pop_front();
        }
        self.calls.len() as u64
    }

    /// Counts a call if the allocation has room; the usage after it.
    pub fn admit(&mut self, now: i64) -> Result<u64, u64> {
        let used = self.used(now);
        if used >= self.max {
            return Err(used);
        }
        self.calls.push_back(now);
        Ok(used + 1)
    }
}

pub struct Org {
    pub base_url: String,
    pub org_id: String,
    pub user_id: String,
    /// The user whose edits the admin API plays.
    pub app_user_id: String,
    pub records: BTreeMap<Obj, BTreeMap<String, Record>>,
    pub fields: BTreeMap<Obj, Vec<Field>>,
    pub next_id: u64,
    /// Live records by their external-id and unique values.
    pub keys: KeyIndex,
    pub oauth: OAuthState,
    pub allocation: Allocation,
    pub locators: HashMap<String, Locator>,
    pub jobs: BTreeMap<String, Job>,
    pub edits_before: Vec<EditBefore>,
    pub data_rng: StdRng,
    /// When set, query pages hold at most this many records: Salesforce does not promise
    /// the batch size asked for, so a smaller page is within the contract.
    pub page_cap: Option<usize>,
}

impl Org {
    pub fn new(max_calls: u64, data_rng: StdRng) -> Org {
        let mut fields = BTreeMap::new();
        let mut records = BTreeMap::new();
        for obj in Obj::ALL {
            fields.insert(obj, standard_fields(obj));
            records.insert(obj, BTreeMap::new());
        }
        let mut org = Org {
            base_url: String::new(),
            org_id: ids::make("00D", 1),
            user_id: ids::make("005", 1),
            app_user_id: ids::make("005", 2),
            records,
            fields,
            next_id: 1,
            keys: KeyIndex::default(),
            oauth: OAuthState::default(),
            allocation: Allocation {
                max: max_calls,
                calls: VecDeque::new(),
            },
            locators: HashMap::new(),
            jobs: BTreeMap::new(),
            edits_before: Vec::new(),
            data_rng,
            page_cap: None,
        };
        super::opportunity::seed_users(&mut org);
        org
    }

    pub fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        ids::make(prefix, self.next_id)
    }

    pub fn fields(&self, obj: Obj) -> &[Field] {
        self.fields.get(&obj).map_or(&[], Vec::as_slice)
    }

    /// A field by API name (case-insensitive, as Salesforce takes them).
    pub fn field(&self, obj: Obj, name: &str) -> Option<&Field> {
        self.fields(obj)
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    pub fn store(&self, obj: Obj) -> &BTreeMap<String, Record> {
        &self.records[&obj]
    }

    pub fn store_mut(&mut self, obj: Obj) -> &mut BTreeMap<String, Record> {
        self.records.entry(obj).or_default()
    }

    /// Any record (deleted too) by id of any object.
    pub fn find(&self, id: &str) -> Option<&Record> {
        Obj::of_id(id).and_then(|o| self.store(o).get(id))
    }

    /// A field's value on `r`, system fields included; `Null` when unset.
    pub fn value(&self, r: &Record, field: &str) -> Value {
        if let Some(v) = super::opportunity::derived(r, field) {
            return v;
        }
        match field {
            "Id" => json!(r.id),
            "IsDeleted" => json!(r.deleted_ms.is_some()),
            "CreatedDate" => json!(sf_time(r.created_ms)),
            "LastModifiedDate" => json!(sf_time(r.modified_ms)),
            "SystemModstamp" => json!(sf_time(r.modstamp_ms)),
            "OwnerId" => json!(r.owner),
            // Task's closed statuses: `Completed` alone in the standard value set.
            "IsClosed" if r.obj == Obj::Task => {
                json!(r.values.get("Status").and_then(Value::as_str) == Some("Completed"))
            }
            "Name" if r.obj == Obj::Contact => {
                let first = r.values.get("FirstName").and_then(Value::as_str);
                let last = r.values.get("LastName").and_then(Value::as_str);
                json!(
                    [first, last]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }
            _ => r.values.get(field).cloned().unwrap_or(Value::Null),
        }
    }

    /// A record as the REST API renders it: `attributes`, then every field of the object
    /// (or only `only`, in that order).
    pub fn render(&self, r: &Record, version: &str, only: Option<&[String]>) -> Value {
        let mut out = Map::new();
        out.insert("attributes".into(), attributes(r.obj, &r.id, version));
        match only {
            Some(names) => {
                for n in names {
                    let name = self.field(r.obj, n).map_or(n.clone(), |f| f.name.clone());
                    out.insert(name.clone(), self.value(r, &name));
                }
            }
            None => {
                for f in self.fields(r.obj) {
                    out.insert(f.name.clone(), self.value(r, &f.name));
                }
            }
        }
        Value::Object(out)
    }
}

/// `{type, url}` of a record.
pub fn attributes(obj: Obj, id: &str, version: &str) -> Value {
    json!({"type": obj.name(),
           "url": format!("/services/data/v{version}/sobjects/{}/{id}", obj.name())})
}

/// Salesforce's REST time format: `2024-05-01T10:00:00.000+0000`.
pub fn sf_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}
