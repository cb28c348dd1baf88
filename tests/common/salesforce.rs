//! The Salesforce sandbox as the sync scenarios meet it (`TestCrm`), through its admin side
//! only. The connection points `base_url` at the sandbox, which serves the login host and the
//! instance alike (`sign_in_base` and `api_base` fall back to it); the token is a session the
//! sandbox mints, given in `CRMSYNC_TOKEN_<NAME>`; pages are `batchSize` from
//! `CRMSYNC_TEST_SEARCH_LIMIT`, which the sandbox's page cap makes binding.
//!
//! An admin adds `crmsync_id__c` (an external id, unique) and `Lifecycle_Stage__c` when the
//! sandbox starts. crmsync's fields are Contact's `FirstName`, `LastName`, `Email`, `Phone`,
//! `Title` and Account's `Name` and `Website`. A user must give a contact a last name in
//! Salesforce; a create without one gets `Unknown`, as a user typing something would. A
//! merge is a user's in the merge wizard (the sandbox's admin merge): the survivor keeps its
//! own values.

use std::collections::BTreeMap;
use std::time::Duration;

use crmsync::model::ObjectKind;
use crmsync::sandbox::salesforce::{EditBefore, SalesforceOptions, SalesforceSandbox};
use serde_json::{Map, Value, json};

use super::crm::{
    Call, ChoiceField, CrmRecord, TestCrm, calls, failing_calls, refusing_writes_after, token_var,
};

/// crmsync's field names and Salesforce's.
const FIELDS: &[(ObjectKind, &str, &str)] = &[
    (ObjectKind::Contact, "first_name", "FirstName"),
    (ObjectKind::Contact, "last_name", "LastName"),
    (ObjectKind::Contact, "email", "Email"),
    (ObjectKind::Contact, "phone", "Phone"),
    (ObjectKind::Contact, "job_title", "Title"),
    (ObjectKind::Contact, "lifecycle_stage", "Lifecycle_Stage__c"),
    (ObjectKind::Company, "name", "Name"),
    (ObjectKind::Company, "domain", "Website"),
];

/// The last name a contact made in Salesforce without one gets: a user must type one.
const UNNAMED: &str = "Unknown";

/// The Salesforce sandbox.
pub struct SalesforceCrm {
    pub sandbox: SalesforceSandbox,
}

fn object(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Contact => "Contact",
        ObjectKind::Company => "Account",
        ObjectKind::Activity => "Task",
        ObjectKind::Deal => "Opportunity",
    }
}

fn field(kind: ObjectKind, local: &str) -> &'static str {
    FIELDS
        .iter()
        .find(|(k, f, _)| *k == kind && *f == local)
        .map(|(_, _, sf)| *sf)
        .unwrap_or_else(|| panic!("no Salesforce field for {kind} `{local}`"))
}

/// A REST body writing `fields` (crmsync's names); an empty value clears the field.
fn body(kind: ObjectKind, fields: &[(&str, &str)]) -> Value {
    let mut out = Map::new();
    for (local, value) in fields {
        let v = if value.is_empty() {
            Value::Null
        } else {
            json!(value)
        };
        out.insert(field(kind, local).to_string(), v);
    }
    Value::Object(out)
}

impl SalesforceCrm {
    fn raw(&self, kind: ObjectKind, id: &str) -> Value {
        self.sandbox.dump()[object(kind)]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["Id"] == json!(id))
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} `{id}` in Salesforce"))
    }
}

impl TestCrm for SalesforceCrm {
    fn start() -> Self {
        let sandbox = SalesforceSandbox::start(SalesforceOptions {
            daily_api_requests: 1_000_000_000,
            ..SalesforceOptions::default()
        })
        .expect("start the Salesforce sandbox");
        for (name, extra) in [
            ("crmsync_id__c", json!({"externalId": true, "unique": true})),
            ("Lifecycle_Stage__c", json!({})),
        ] {
            let mut meta = json!({"type": "Text", "label": name, "length": 64});
            meta.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            sandbox
                .add_field(&json!({"FullName": format!("Contact.{name}"), "Metadata": meta}))
                .expect("add a custom field");
        }
        sandbox
            .add_field(&json!({"FullName": "Account.crmsync_id__c",
                               "Metadata": {"type": "Text", "label": "crmsync id", "length": 64,
                                            "externalId": true, "unique": true}}))
            .expect("add a custom field");
        SalesforceCrm { sandbox }
    }

    fn provider(&self) -> &'static str {
        "salesforce"
    }

    fn connection_config(&self, name: &str) -> String {
        format!(
            "[connections.{name}]\nprovider = \"salesforce\"\nbase_url = \"{}\"\n",
            self.sandbox.base_url()
        )
    }

    /// The custom lifecycle stage, and `domain` kept in Account's `Website` (the provider
    /// maps no domain: `Website` is a URL).
    fn connection_fields(&self, name: &str) -> String {
        format!(
            "[[connections.{name}.fields]]\nobject = \"contact\"\nlocal = \"lifecycle_stage\"\nremote = \"Lifecycle_Stage__c\"\n\
             [[connections.{name}.fields]]\nobject = \"company\"\nlocal = \"domain\"\nremote = \"Website\"\n"
        )
    }

    fn credentials(&self, name: &str) -> Vec<(String, String)> {
        vec![(token_var(name), self.sandbox.mint_token().0)]
    }

    /// Salesforce pages hold at least 200 records whatever a client asks; the sandbox's page
    /// cap makes them this small (Salesforce does not promise the size asked for).
    fn page_size(&self, size: usize) -> (String, String) {
        self.sandbox.set_page_cap(Some(size));
        ("CRMSYNC_TEST_SEARCH_LIMIT".into(), size.to_string())
    }

    /// A restricted picklist an admin adds to Contact, mapped to `custom.tier`.
    fn choice_field(&self, conn: &str) -> ChoiceField {
        self.sandbox
            .add_field(&json!({"FullName": "Contact.Tier__c", "Metadata": {
                "type": "Picklist", "label": "Tier",
                "valueSet": {"restricted": true, "valueSetDefinition": {"value": [
                    {"fullName": "Gold"}, {"fullName": "Silver"}]}}}}))
            .expect("the sandbox adds a field");
        ChoiceField {
            local: "custom.tier",
            mapping: format!(
                "[[connections.{conn}.fields]]\nobject = \"contact\"\nlocal = \"custom.tier\"\nremote = \"Tier__c\"\n"
            ),
            good: "Silver",
            bad: "Platinum",
        }
    }

    fn seed(&self, contacts: usize, companies: usize) -> (Vec<String>, Vec<String>) {
        let s = self.sandbox.seed(contacts, companies, 0);
        (s.contacts, s.accounts)
    }

    fn create(&self, kind: ObjectKind, fields: &[(&str, &str)]) -> String {
        let mut b = body(kind, fields);
        if kind == ObjectKind::Contact && b.get("LastName").is_none_or(Value::is_null) {
            b["LastName"] = json!(UNNAMED);
        }
        let made = self
            .sandbox
            .create_record(object(kind), &b)
            .expect("create a Salesforce record");
        made["Id"].as_str().unwrap().to_string()
    }

    fn edit(&self, kind: ObjectKind, id: &str, fields: &[(&str, &str)]) {
        self.sandbox
            .update_record(object(kind), id, &body(kind, fields))
            .expect("edit a Salesforce record");
    }

    fn archive(&self, kind: ObjectKind, id: &str) {
        self.sandbox
            .delete_record(object(kind), id)
            .expect("delete a Salesforce record");
    }

    /// A user's merge in Salesforce's merge wizard, the survivor's values kept.
    fn merge(&self, kind: ObjectKind, into: &str, from: &str) {
        self.sandbox
            .merge(object(kind), into, &[from])
            .expect("merge Salesforce records");
    }

    fn contact_needs_a_last_name(&self) -> bool {
        true
    }

    fn can_clear(&self, kind: ObjectKind, field: &str) -> bool {
        !(kind == ObjectKind::Contact && field == "last_name")
    }

    /// The survivor keeps its own last name: the one its user had to type (see `create`).
    fn merged_last_name<'a>(&self, _merged_away: &'a str) -> Option<&'a str> {
        Some(UNNAMED)
    }

    fn associate(&self, contact: &str, company: &str) {
        self.sandbox
            .update_record("Contact", contact, &json!({"AccountId": company}))
            .expect("set a contact's account");
    }

    /// A contact has one account: taking off one it is not in changes nothing.
    fn dissociate(&self, contact: &str, company: &str) {
        if self.company_of(contact) == [company] {
            self.sandbox
                .update_record("Contact", contact, &json!({"AccountId": null}))
                .expect("clear a contact's account");
        }
    }

    /// Lands before the `nth` query page of any object: a `nextRecordsUrl` names no object.
    fn edit_before_page(&self, nth: u32, kind: ObjectKind, id: &str, fields: &[(&str, &str)]) {
        self.sandbox.edit_before(EditBefore {
            method: "GET".into(),
            path_contains: "/query".into(),
            nth,
            object: object(kind).into(),
            id: id.into(),
            body: body(kind, fields),
        });
    }

    fn records(&self, kind: ObjectKind) -> Vec<CrmRecord> {
        self.sandbox.dump()[object(kind)]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let fields: BTreeMap<String, String> = FIELDS
                    .iter()
                    .filter(|(k, _, _)| *k == kind)
                    .filter_map(|(_, local, sf)| {
                        Some((local.to_string(), r[*sf].as_str()?.to_string()))
                    })
                    .collect();
                CrmRecord {
                    id: r["Id"].as_str().unwrap().to_string(),
                    fields,
                    crmsync_id: r["crmsync_id__c"].as_str().map(str::to_string),
                    archived: r["IsDeleted"] == json!(true),
                }
            })
            .collect()
    }

    fn company_of(&self, contact: &str) -> Vec<String> {
        self.raw(ObjectKind::Contact, contact)["AccountId"]
            .as_str()
            .map(str::to_string)
            .into_iter()
            .collect()
    }

    fn request_log(&self) -> Vec<Call> {
        calls(self.sandbox.request_log(), |method, path| {
            path.starts_with("/services/data/")
                && !path.contains("/jobs/query")
                && matches!(method, "POST" | "PATCH" | "PUT" | "DELETE")
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
