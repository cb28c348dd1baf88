//! The in-memory HubSpot account: records, the property catalogue, owners and
//! contact ↔ company associations.
//!
//! Records live in a map by id plus a `(last-modified ms, id)` ordered index, so the
//! incremental-sync search (`lastmodifieddate >= T`, sorted ascending) walks only the tail it
//! needs even with 100,000 contacts. Unique properties (contact `email` and any property
//! created with `hasUniqueValue`) have a value → id index over live (unarchived) records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::sandbox::iso_ms;

/// The two object types this sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjType {
    Contacts,
    Companies,
}

impl ObjType {
    pub fn parse(s: &str) -> Option<ObjType> {
        match s.to_ascii_lowercase().as_str() {
            "contacts" | "contact" | "0-1" => Some(ObjType::Contacts),
            "companies" | "company" | "0-2" => Some(ObjType::Companies),
            _ => None,
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            ObjType::Contacts => "contacts",
            ObjType::Companies => "companies",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            ObjType::Contacts => "contact",
            ObjType::Companies => "company",
        }
    }

    /// The name HubSpot uses in batch error messages (`CONTACT`, `COMPANY`).
    pub fn upper(self) -> &'static str {
        match self {
            ObjType::Contacts => "CONTACT",
            ObjType::Companies => "COMPANY",
        }
    }

    pub fn modified_prop(self) -> &'static str {
        match self {
            ObjType::Contacts => "lastmodifieddate",
            ObjType::Companies => "hs_lastmodifieddate",
        }
    }

    /// Properties returned when a call names none.
    pub fn default_props(self) -> &'static [&'static str] {
        match self {
            ObjType::Contacts => &["email", "firstname", "lastname"],
            ObjType::Companies => &["name", "domain"],
        }
    }

    /// Properties HubSpot adds to every answer whatever was asked for.
    pub fn always_props(self) -> [&'static str; 3] {
        ["createdate", "hs_object_id", self.modified_prop()]
    }
}

/// One stored record. Property values are the strings HubSpot would return.
#[derive(Debug, Clone)]
pub struct Rec {
    pub id: u64,
    pub props: BTreeMap<String, String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub archived_ms: Option<i64>,
    /// Writable properties' past values, newest first: `(value, ms, sourceType)`. A cleared
    /// value is recorded as `""`.
    pub history: BTreeMap<String, Vec<(String, i64, &'static str)>>,
}

#[derive(Debug, Default)]
pub struct ObjectStore {
    /// Ordered by id, so list paging is a range scan.
    pub records: BTreeMap<u64, Rec>,
    pub by_modified: BTreeSet<(i64, u64)>,
    /// property → lower-cased value → id, for live records only.
    pub unique: HashMap<String, HashMap<String, u64>>,
    /// Merged-away id → the id it was merged into; reads of the old id follow it.
    pub merged: HashMap<u64, u64>,
}

impl ObjectStore {
    pub fn live(&self, id: u64) -> Option<&Rec> {
        self.records.get(&id).filter(|r| r.archived_ms.is_none())
    }

    /// Follows merges from `id` to the record that absorbed it.
    pub fn resolve_merged(&self, mut id: u64) -> u64 {
        while let Some(next) = self.merged.get(&id) {
            id = *next;
        }
        id
    }

    pub fn find_unique(&self, prop: &str, value: &str) -> Option<u64> {
        self.unique
            .get(prop)
            .and_then(|m| m.get(&value.to_lowercase()))
            .copied()
    }

    fn index_unique(&mut self, rec: &Rec, unique_props: &[String], add: bool) {
        for p in unique_props {
            if let Some(v) = rec.props.get(p).filter(|v| !v.is_empty()) {
                let m = self.unique.entry(p.clone()).or_default();
                if add {
                    m.insert(v.to_lowercase(), rec.id);
                } else if m.get(&v.to_lowercase()) == Some(&rec.id) {
                    m.remove(&v.to_lowercase());
                }
            }
        }
    }

    pub fn insert(&mut self, rec: Rec, unique_props: &[String]) {
        self.by_modified.insert((rec.updated_ms, rec.id));
        if rec.archived_ms.is_none() {
            self.index_unique(&rec, unique_props, true);
        }
        self.records.insert(rec.id, rec);
    }

    /// Removes a record from the indexes and the map, for an update to re-insert it.
    pub fn take(&mut self, id: u64, unique_props: &[String]) -> Option<Rec> {
        let rec = self.records.remove(&id)?;
        self.by_modified.remove(&(rec.updated_ms, rec.id));
        self.index_unique(&rec, unique_props, false);
        Some(rec)
    }
}

/// One property definition, as `GET /crm/v3/properties/{objectType}` shows it.
#[derive(Debug, Clone)]
pub struct PropDef {
    pub name: String,
    pub label: String,
    pub ptype: String,
    pub field_type: String,
    pub group: String,
    pub description: String,
    pub options: Vec<(String, String)>,
    pub read_only_value: bool,
    pub read_only_definition: bool,
    pub has_unique_value: bool,
    pub hubspot_defined: bool,
    pub display_order: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl PropDef {
    pub fn to_json(&self) -> Value {
        let options: Vec<Value> = self
            .options
            .iter()
            .enumerate()
            .map(|(i, (label, value))| {
                json!({"label": label, "value": value, "displayOrder": i, "hidden": false,
                       "description": ""})
            })
            .collect();
        let mut v = json!({
            "name": self.name,
            "label": self.label,
            "type": self.ptype,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group,
            "options": options,
            "displayOrder": self.display_order,
            "calculated": false,
            "externalOptions": false,
            "hasUniqueValue": self.has_unique_value,
            "hidden": false,
            "formField": !self.read_only_value,
            "dataSensitivity": "non_sensitive",
            "modificationMetadata": {
                "archivable": !self.hubspot_defined,
                "readOnlyOptions": self.read_only_definition,
                "readOnlyDefinition": self.read_only_definition,
                "readOnlyValue": self.read_only_value,
            },
            "createdAt": iso_ms(self.created_ms),
            "updatedAt": iso_ms(self.updated_ms),
            "archived": false,
        });
        if self.hubspot_defined {
            v["hubspotDefined"] = json!(true);
        }
        v
    }
}

fn def(
    name: &str,
    label: &str,
    ptype: &str,
    field_type: &str,
    group: &str,
    read_only: bool,
    order: i64,
) -> PropDef {
    PropDef {
        name: name.into(),
        label: label.into(),
        ptype: ptype.into(),
        field_type: field_type.into(),
        group: group.into(),
        description: String::new(),
        options: Vec::new(),
        read_only_value: read_only,
        read_only_definition: true,
        has_unique_value: false,
        hubspot_defined: true,
        display_order: order,
        created_ms: 0,
        updated_ms: 0,
    }
}

fn lifecycle_options() -> Vec<(String, String)> {
    [
        ("Subscriber", "subscriber"),
        ("Lead", "lead"),
        ("Marketing Qualified Lead", "marketingqualifiedlead"),
        ("Sales Qualified Lead", "salesqualifiedlead"),
        ("Opportunity", "opportunity"),
        ("Customer", "customer"),
        ("Evangelist", "evangelist"),
        ("Other", "other"),
    ]
    .iter()
    .map(|(l, v)| (l.to_string(), v.to_string()))
    .collect()
}

/// The built-in catalogue: a realistic subset of HubSpot's default properties. `crmsync_id`
/// and `pronouns` are deliberately absent so that creating them is exercised.
pub fn builtin_properties(t: ObjType, owner_ids: &[String], now: i64) -> Vec<PropDef> {
    let owner_opts: Vec<(String, String)> = owner_ids
        .iter()
        .map(|id| (format!("Owner {id}"), id.clone()))
        .collect();
    let mut v = match t {
        ObjType::Contacts => {
            let g = "contactinformation";
            let mut email = def("email", "Email", "string", "text", g, false, 1);
            email.has_unique_value = false; // HubSpot reports false; uniqueness is built in.
            vec![
                email,
                def("firstname", "First Name", "string", "text", g, false, 2),
                def("lastname", "Last Name", "string", "text", g, false, 3),
                def(
                    "phone",
                    "Phone Number",
                    "string",
                    "phonenumber",
                    g,
                    false,
                    4,
                ),
                def(
                    "mobilephone",
                    "Mobile Phone Number",
                    "phone_number",
                    "phonenumber",
                    g,
                    false,
                    5,
                ),
                def("company", "Company Name", "string", "text", g, false, 6),
                def("jobtitle", "Job Title", "string", "text", g, false, 7),
                def("website", "Website URL", "string", "text", g, false, 8),
                def("address", "Street Address", "string", "text", g, false, 9),
                def("city", "City", "string", "text", g, false, 10),
                def("state", "State/Region", "string", "text", g, false, 11),
                def("zip", "Postal Code", "string", "text", g, false, 12),
                def("country", "Country/Region", "string", "text", g, false, 13),
                def(
                    "date_of_birth",
                    "Date of birth",
                    "date",
                    "date",
                    g,
                    false,
                    14,
                ),
                def(
                    "annualrevenue",
                    "Annual Revenue",
                    "number",
                    "number",
                    g,
                    false,
                    15,
                ),
                def(
                    "hs_email_optout",
                    "Unsubscribed from all email",
                    "bool",
                    "booleancheckbox",
                    g,
                    false,
                    16,
                ),
                PropDef {
                    options: lifecycle_options(),
                    ..def(
                        "lifecyclestage",
                        "Lifecycle Stage",
                        "enumeration",
                        "radio",
                        g,
                        false,
                        17,
                    )
                },
                PropDef {
                    options: owner_opts,
                    ..def(
                        "hubspot_owner_id",
                        "Contact owner",
                        "enumeration",
                        "select",
                        "sales_properties",
                        false,
                        18,
                    )
                },
                def(
                    "associatedcompanyid",
                    "Primary Associated Company ID",
                    "number",
                    "number",
                    g,
                    false,
                    19,
                ),
                def("createdate", "Create Date", "datetime", "date", g, true, -1),
                def(
                    "lastmodifieddate",
                    "Last Modified Date",
                    "datetime",
                    "date",
                    g,
                    true,
                    -1,
                ),
                def("hs_object_id", "Record ID", "number", "number", g, true, -1),
                def(
                    "hs_merged_object_ids",
                    "Merged Contact IDs",
                    "enumeration",
                    "checkbox",
                    g,
                    true,
                    -1,
                ),
            ]
        }
        ObjType::Companies => {
            let g = "companyinformation";
            vec![
                def("name", "Company name", "string", "text", g, false, 1),
                def(
                    "domain",
                    "Company Domain Name",
                    "string",
                    "text",
                    g,
                    false,
                    2,
                ),
                def("website", "Website URL", "string", "text", g, false, 3),
                def(
                    "phone",
                    "Phone Number",
                    "string",
                    "phonenumber",
                    g,
                    false,
                    4,
                ),
                def("address", "Street Address", "string", "text", g, false, 5),
                def("city", "City", "string", "text", g, false, 6),
                def("state", "State/Region", "string", "text", g, false, 7),
                def("zip", "Postal Code", "string", "text", g, false, 8),
                def("country", "Country/Region", "string", "text", g, false, 9),
                def(
                    "description",
                    "Description",
                    "string",
                    "textarea",
                    g,
                    false,
                    10,
                ),
                def(
                    "numberofemployees",
                    "Number of Employees",
                    "number",
                    "number",
                    g,
                    false,
                    11,
                ),
                def(
                    "annualrevenue",
                    "Annual Revenue",
                    "number",
                    "number",
                    g,
                    false,
                    12,
                ),
                def(
                    "founded_year",
                    "Year Founded",
                    "string",
                    "text",
                    g,
                    false,
                    13,
                ),
                def(
                    "is_public",
                    "Is Public",
                    "bool",
                    "booleancheckbox",
                    g,
                    false,
                    14,
                ),
                PropDef {
                    options: [
                        ("Computer Software", "COMPUTER_SOFTWARE"),
                        ("Design", "DESIGN"),
                        ("Education Management", "EDUCATION_MANAGEMENT"),
                        ("Financial Services", "FINANCIAL_SERVICES"),
                        ("Food & Beverages", "FOOD_BEVERAGES"),
                        ("Hospital & Health Care", "HOSPITAL_HEALTH_CARE"),
                        ("Hospitality", "HOSPITALITY"),
                        ("Industrial Automation", "INDUSTRIAL_AUTOMATION"),
                        ("Legal Services", "LEGAL_SERVICES"),
                        ("Logistics and Supply Chain", "LOGISTICS_AND_SUPPLY_CHAIN"),
                        ("Renewables & Environment", "RENEWABLES_ENVIRONMENT"),
                        ("Retail", "RETAIL"),
                        ("Wholesale", "WHOLESALE"),
                    ]
                    .iter()
                    .map(|(l, v)| (l.to_string(), v.to_string()))
                    .collect(),
                    ..def(
                        "industry",
                        "Industry",
                        "enumeration",
                        "select",
                        g,
                        false,
                        15,
                    )
                },
                PropDef {
                    options: lifecycle_options(),
                    ..def(
                        "lifecyclestage",
                        "Lifecycle Stage",
                        "enumeration",
                        "radio",
                        g,
                        false,
                        16,
                    )
                },
                PropDef {
                    options: owner_opts,
                    ..def(
                        "hubspot_owner_id",
                        "Company owner",
                        "enumeration",
                        "select",
                        g,
                        false,
                        17,
                    )
                },
                def("createdate", "Create Date", "datetime", "date", g, true, -1),
                def(
                    "hs_lastmodifieddate",
                    "Last Modified Date",
                    "datetime",
                    "date",
                    g,
                    true,
                    -1,
                ),
                def("hs_object_id", "Record ID", "number", "number", g, true, -1),
                def(
                    "hs_merged_object_ids",
                    "Merged Company IDs",
                    "enumeration",
                    "checkbox",
                    g,
                    true,
                    -1,
                ),
            ]
        }
    };
    for p in &mut v {
        p.created_ms = now;
        p.updated_ms = now;
    }
    v
}

/// One owner, as `GET /crm/v3/owners` shows it.
#[derive(Debug, Clone)]
pub struct Owner {
    pub id: String,
    pub email: String,
    pub first: String,
    pub last: String,
    pub user_id: i64,
    pub created_ms: i64,
}

impl Owner {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "email": self.email,
            "type": "PERSON",
            "firstName": self.first,
            "lastName": self.last,
            "userId": self.user_id,
            "userIdIncludingInactive": self.user_id,
            "createdAt": iso_ms(self.created_ms),
            "updatedAt": iso_ms(self.created_ms),
            "archived": false,
            "teams": [{"id": "1001", "name": "Sales", "primary": true}],
        })
    }
}

pub fn builtin_owners(now: i64) -> Vec<Owner> {
    [("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing")]
        .iter()
        .enumerate()
        .map(|(i, (f, l))| Owner {
            id: format!("{}", 71_000_001 + i as u64),
            email: format!("{}.{}@example.com", f.to_lowercase(), l.to_lowercase()),
            first: f.to_string(),
            last: l.to_string(),
            user_id: 9_100_001 + i as i64,
            created_ms: now,
        })
        .collect()
}

/// `(contact, company)` of a pair given from the side of type `from_type`.
pub fn contact_company(from_type: ObjType, from: u64, to: u64) -> (u64, u64) {
    match from_type {
        ObjType::Contacts => (from, to),
        ObjType::Companies => (to, from),
    }
}

/// Contact ↔ company pairs, indexed both ways.
#[derive(Debug, Default)]
pub struct Associations {
    pub contact_to_company: BTreeMap<u64, BTreeSet<u64>>,
    pub company_to_contact: BTreeMap<u64, BTreeSet<u64>>,
}

impl Associations {
    /// Adds a pair, `from` being of type `from_type`. Returns false if it already existed.
    pub fn add(&mut self, from_type: ObjType, from: u64, to: u64) -> bool {
        let (contact, company) = contact_company(from_type, from, to);
        self.company_to_contact
            .entry(company)
            .or_default()
            .insert(contact);
        self.contact_to_company
            .entry(contact)
            .or_default()
            .insert(company)
    }

    pub fn remove(&mut self, from_type: ObjType, from: u64, to: u64) {
        let (contact, company) = contact_company(from_type, from, to);
        if let Some(s) = self.contact_to_company.get_mut(&contact) {
            s.remove(&company);
        }
        if let Some(s) = self.company_to_contact.get_mut(&company) {
            s.remove(&contact);
        }
    }

    pub fn of(&self, from_type: ObjType, id: u64) -> Vec<u64> {
        let m = match from_type {
            ObjType::Contacts => &self.contact_to_company,
            ObjType::Companies => &self.company_to_contact,
        };
        m.get(&id)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// All pairs as `(contact, company)`.
    pub fn pairs(&self) -> Vec<(u64, u64)> {
        self.contact_to_company
            .iter()
            .flat_map(|(c, s)| s.iter().map(move |co| (*c, *co)))
            .collect()
    }
}

/// Association type ids HubSpot defines for the unlabelled contact ↔ company link.
pub fn assoc_type_id(from: ObjType) -> i64 {
    match from {
        ObjType::Contacts => 279,
        ObjType::Companies => 280,
    }
}
