//! The Pipedrive sandbox as the sync scenarios meet it (`TestCrm`).
//!
//! The sandbox company has contact sync off, so a person has no `job_title` of its own and an
//! organization has no domain (DIGEST §2.3); the company here keeps them, and a lifecycle
//! stage, in custom fields of those names, which an admin adds when the sandbox starts and
//! the connection maps.

use std::collections::BTreeMap;
use std::time::Duration;

use crmsync::model::ObjectKind;
use crmsync::sandbox::pipedrive::{EditBefore, PipedriveOptions, PipedriveSandbox};
use serde_json::{Map, Value, json};

use super::crm::{
    Call, ChoiceField, CrmRecord, TestCrm, calls, failing_calls, refusing_writes_after, token_var,
};

/// The custom fields an admin adds to the company: kind, crmsync's field (and the custom
/// field's name).
const CUSTOM: &[(ObjectKind, &str)] = &[
    (ObjectKind::Contact, "job_title"),
    (ObjectKind::Contact, "lifecycle_stage"),
    (ObjectKind::Company, "domain"),
];

/// The Pipedrive sandbox.
pub struct PipedriveCrm {
    pub sandbox: PipedriveSandbox,
}

fn plural(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Contact => "persons",
        ObjectKind::Company => "organizations",
        other => panic!("the Pipedrive scenarios hold no {other}"),
    }
}

fn number(id: &str) -> i64 {
    id.parse()
        .unwrap_or_else(|_| panic!("Pipedrive id `{id}` is not a number"))
}

/// The text of a v2 id (a bare integer, or null).
fn id_text(v: &Value) -> Option<String> {
    v.as_i64().map(|n| n.to_string())
}

/// The value of the primary entry of a v2 `emails` / `phones` list.
fn primary(list: &Value) -> Option<String> {
    let items = list.as_array()?;
    items
        .iter()
        .find(|e| e["primary"] == true)
        .or_else(|| items.first())
        .and_then(|e| e["value"].as_str())
        .map(str::to_string)
}

impl PipedriveCrm {
    fn keys(&self, kind: ObjectKind) -> BTreeMap<String, String> {
        self.sandbox.custom_field_keys(plural(kind))
    }

    /// The record `id` of `kind` in its v2 shape.
    fn raw(&self, kind: ObjectKind, id: &str) -> Value {
        self.sandbox.dump()[plural(kind)]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| id_text(&r["id"]).as_deref() == Some(id))
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} `{id}` in Pipedrive"))
    }

    /// The v2 body writing `fields` (crmsync's names) over `current`, as a user's edit in
    /// Pipedrive: a person's name is made of its parts, the email and phone replace the
    /// primary entries.
    fn body(&self, kind: ObjectKind, current: Option<&Value>, fields: &[(&str, &str)]) -> Value {
        let keys = self.keys(kind);
        let mut body = Map::new();
        let mut custom = Map::new();
        let part = |name: &str| -> String {
            fields
                .iter()
                .find(|(f, _)| *f == name)
                .map(|(_, v)| v.to_string())
                .or_else(|| current.and_then(|c| c[name].as_str().map(str::to_string)))
                .unwrap_or_default()
        };
        for (field, value) in fields {
            let v = if value.is_empty() {
                Value::Null
            } else {
                json!(value)
            };
            match (kind, *field) {
                (ObjectKind::Contact, "first_name" | "last_name") => {
                    let parts = [part("first_name"), part("last_name")];
                    let name: Vec<&str> = parts
                        .iter()
                        .map(String::as_str)
                        .filter(|p| !p.is_empty())
                        .collect();
                    body.insert("name".into(), json!(name.join(" ")));
                }
                (ObjectKind::Contact, "email") => {
                    body.insert("emails".into(), entry(value, "work"));
                }
                (ObjectKind::Contact, "phone") => {
                    body.insert("phones".into(), entry(value, "mobile"));
                }
                (_, "name") => {
                    body.insert("name".into(), v);
                }
                (_, other) => {
                    let key = keys
                        .get(other)
                        .unwrap_or_else(|| panic!("no Pipedrive field for {kind} `{other}`"));
                    custom.insert(key.clone(), v);
                }
            }
        }
        if !custom.is_empty() {
            body.insert("custom_fields".into(), Value::Object(custom));
        }
        Value::Object(body)
    }
}

/// A v2 `emails` / `phones` list of one primary entry (none for an empty value).
fn entry(value: &str, label: &str) -> Value {
    if value.is_empty() {
        json!([])
    } else {
        json!([{"value": value, "primary": true, "label": label}])
    }
}

impl TestCrm for PipedriveCrm {
    /// Pipedrive's `update_time` is to the second.
    fn clock_step(&self) -> Duration {
        Duration::from_millis(1_100)
    }

    fn contact_needs_a_name(&self) -> bool {
        true
    }

    fn merged_last_name<'a>(&self, _merged_away: &'a str) -> Option<&'a str> {
        None
    }

    fn start() -> Self {
        let sandbox = PipedriveSandbox::start(PipedriveOptions {
            burst_limit: 1_000_000,
            daily_budget: 1_000_000_000,
            ..PipedriveOptions::default()
        })
        .expect("start the Pipedrive sandbox");
        for (kind, name) in CUSTOM {
            sandbox
                .add_field(
                    plural(*kind),
                    &json!({"name": name, "field_type": "varchar"}),
                )
                .expect("add a custom field");
        }
        PipedriveCrm { sandbox }
    }

    fn provider(&self) -> &'static str {
        "pipedrive"
    }

    fn connection_config(&self, name: &str) -> String {
        format!(
            "[connections.{name}]\nprovider = \"pipedrive\"\nbase_url = \"{}\"\n",
            self.sandbox.base_url()
        )
    }

    fn connection_fields(&self, name: &str) -> String {
        CUSTOM
            .iter()
            .map(|(kind, field)| {
                format!(
                    "[[connections.{name}.fields]]\nobject = \"{kind}\"\nlocal = \"{field}\"\nremote = \"{field}\"\n"
                )
            })
            .collect()
    }

    fn credentials(&self, name: &str) -> Vec<(String, String)> {
        vec![(token_var(name), self.sandbox.api_token())]
    }

    fn page_size(&self, size: usize) -> (String, String) {
        ("CRMSYNC_TEST_SEARCH_LIMIT".into(), size.to_string())
    }

    /// A person field of options (`enum`) an admin adds, mapped to `custom.tier`.
    fn choice_field(&self, conn: &str) -> ChoiceField {
        self.sandbox
            .add_field(
                "persons",
                &json!({ "name": "Tier", "field_type": "enum", "options": [{ "label": "Gold" }, { "label": "Silver" }] }),
            )
            .expect("the sandbox adds a field");
        ChoiceField {
            local: "custom.tier",
            mapping: format!(
                "[[connections.{conn}.fields]]\nobject = \"contact\"\nlocal = \"custom.tier\"\nremote = \"Tier\"\n"
            ),
            good: "Silver",
            bad: "Platinum",
        }
    }

    fn seed(&self, contacts: usize, companies: usize) -> (Vec<String>, Vec<String>) {
        let (p, o) = self.sandbox.seed(contacts, companies);
        let text = |ids: Vec<i64>| ids.into_iter().map(|i| i.to_string()).collect();
        (text(p), text(o))
    }

    fn create(&self, kind: ObjectKind, fields: &[(&str, &str)]) -> String {
        let made = self
            .sandbox
            .create_record(plural(kind), &self.body(kind, None, fields))
            .expect("create a Pipedrive record");
        id_text(&made["id"]).unwrap()
    }

    fn edit(&self, kind: ObjectKind, id: &str, fields: &[(&str, &str)]) {
        let current = self.raw(kind, id);
        self.sandbox
            .update_record(
                plural(kind),
                number(id),
                &self.body(kind, Some(&current), fields),
            )
            .expect("edit a Pipedrive record");
    }

    fn archive(&self, kind: ObjectKind, id: &str) {
        self.sandbox
            .delete_record(plural(kind), number(id))
            .expect("delete a Pipedrive record");
    }

    fn merge(&self, kind: ObjectKind, into: &str, from: &str) {
        self.sandbox
            .merge_records(plural(kind), number(into), number(from))
            .expect("merge Pipedrive records");
    }

    fn associate(&self, contact: &str, company: &str) {
        self.sandbox
            .update_record(
                "persons",
                number(contact),
                &json!({"org_id": number(company)}),
            )
            .expect("set a person's organization");
    }

    /// A person has one organization: taking off one it is not in (any more) changes nothing.
    fn dissociate(&self, contact: &str, company: &str) {
        if self.company_of(contact) == [company] {
            self.sandbox
                .update_record("persons", number(contact), &json!({"org_id": null}))
                .expect("clear a person's organization");
        }
    }

    fn edit_before_page(&self, nth: u32, kind: ObjectKind, id: &str, fields: &[(&str, &str)]) {
        let current = self.raw(kind, id);
        self.sandbox.edit_before(EditBefore {
            method: "GET".into(),
            path_contains: format!("/api/v2/{}?", plural(kind)),
            nth,
            kind: plural(kind).into(),
            id: number(id),
            body: self.body(kind, Some(&current), fields),
        });
    }

    fn records(&self, kind: ObjectKind) -> Vec<CrmRecord> {
        let names: BTreeMap<String, String> = self
            .keys(kind)
            .into_iter()
            .map(|(name, key)| (key, name))
            .collect();
        self.sandbox.dump()[plural(kind)]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut fields = BTreeMap::new();
                let mut crmsync_id = None;
                let mut put = |f: &str, v: Option<String>| {
                    if let Some(v) = v {
                        fields.insert(f.to_string(), v);
                    }
                };
                let text = |k: &str| r[k].as_str().map(str::to_string);
                if kind == ObjectKind::Company {
                    put("name", text("name"));
                } else {
                    put("first_name", text("first_name"));
                    put("last_name", text("last_name"));
                    put("email", primary(&r["emails"]));
                    put("phone", primary(&r["phones"]));
                }
                if let Some(custom) = r["custom_fields"].as_object() {
                    for (key, v) in custom {
                        let (Some(name), Some(v)) = (names.get(key), v.as_str()) else {
                            continue;
                        };
                        if name == "crmsync_id" {
                            crmsync_id = Some(v.to_string()).filter(|s| !s.is_empty());
                        } else {
                            put(name, Some(v.to_string()));
                        }
                    }
                }
                CrmRecord {
                    id: id_text(&r["id"]).unwrap(),
                    fields,
                    crmsync_id,
                    archived: r["is_deleted"] == true,
                }
            })
            .collect()
    }

    fn company_of(&self, contact: &str) -> Vec<String> {
        id_text(&self.raw(ObjectKind::Contact, contact)["org_id"])
            .into_iter()
            .collect()
    }

    fn request_log(&self) -> Vec<Call> {
        calls(self.sandbox.request_log(), |method, _| {
            matches!(method, "POST" | "PATCH" | "PUT" | "DELETE")
        })
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
