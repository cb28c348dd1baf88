//! The in-memory HubSpot account ([`Hub`]): records kept per object type, the property
//! catalogue, owners and contact ↔ company associations.
//!
//! Records live in a map by id plus a `(last-modified ms, id)` ordered index, so the
//! incremental-sync search (`lastmodifieddate >= T`, sorted ascending) walks only the tail it
//! needs even with 100,000 contacts. Unique properties (contact `email` and any property
//! created with `hasUniqueValue`) have a value → id index over live (unarchived) records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use rand::rngs::StdRng;

use super::EditBefore;
use super::catalogue::PropDef;
use super::limits::RateState;
use super::oauth::OAuthState;
use crate::sandbox::iso_ms;

/// The object types this sandbox serves. What differs between them is one row of
/// [`TypeInfo`]; the store, the catalogue and the endpoints take the type as a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjType {
    Contacts,
    Companies,
    Calls,
    Emails,
    Meetings,
    Notes,
    Tasks,
    Deals,
}

/// The names and built-in property names of one object type.
struct TypeInfo {
    plural: &'static str,
    singular: &'static str,
    /// HubSpot's object type id (`0-1`), accepted wherever a type name is.
    type_id: &'static str,
    /// As an error message names a record (`Contact already exists`).
    noun: &'static str,
    /// As a batch error message names the type (`CONTACT`).
    upper: &'static str,
    modified_prop: &'static str,
    /// Properties returned when a call names none.
    default_props: &'static [&'static str],
    /// An engagement's default association type ids with contacts and with companies:
    /// `(engagement → it, it → engagement)`.
    engagement: Option<((i64, i64), (i64, i64))>,
}

const CONTACTS: TypeInfo = TypeInfo {
    plural: "contacts",
    singular: "contact",
    type_id: "0-1",
    noun: "Contact",
    upper: "CONTACT",
    modified_prop: "lastmodifieddate",
    default_props: &["email", "firstname", "lastname"],
    engagement: None,
};

const COMPANIES: TypeInfo = TypeInfo {
    plural: "companies",
    singular: "company",
    type_id: "0-2",
    noun: "Company",
    upper: "COMPANY",
    modified_prop: "hs_lastmodifieddate",
    default_props: &["name", "domain"],
    engagement: None,
};

const DEALS: TypeInfo = TypeInfo {
    plural: "deals",
    singular: "deal",
    type_id: "0-3",
    noun: "Deal",
    upper: "DEAL",
    modified_prop: "hs_lastmodifieddate",
    default_props: &["dealname", "amount", "dealstage", "pipeline", "closedate"],
    engagement: None,
};

/// A deal's default association type ids with contacts and with companies (HubSpot's
/// HUBSPOT_DEFINED unlabelled types): `(deal → it, it → deal)`.
const DEAL_CONTACT: (i64, i64) = (3, 4);
const DEAL_COMPANY: (i64, i64) = (341, 342);

/// An engagement object's row: its names (plural, singular, type id, noun, upper case) and its default association type ids with
/// contacts and companies (HubSpot's HUBSPOT_DEFINED unlabelled types).
const fn engagement(
    [plural, singular, type_id, noun, upper]: [&'static str; 5],
    default_props: &'static [&'static str],
    contact: (i64, i64),
    company: (i64, i64),
) -> TypeInfo {
    TypeInfo {
        plural,
        singular,
        type_id,
        noun,
        upper,
        modified_prop: "hs_lastmodifieddate",
        default_props,
        engagement: Some((contact, company)),
    }
}

const CALLS: TypeInfo = engagement(
    ["calls", "call", "0-48", "Call", "CALL"],
    &["hs_call_title", "hs_timestamp"],
    (194, 193),
    (182, 181),
);
const EMAILS: TypeInfo = engagement(
    ["emails", "email", "0-49", "Email", "EMAIL"],
    &["hs_email_subject", "hs_timestamp"],
    (198, 197),
    (186, 185),
);
const MEETINGS: TypeInfo = engagement(
    ["meetings", "meeting", "0-47", "Meeting", "MEETING"],
    &["hs_meeting_title", "hs_timestamp"],
    (200, 199),
    (188, 187),
);
const NOTES: TypeInfo = engagement(
    ["notes", "note", "0-46", "Note", "NOTE"],
    &["hs_note_body", "hs_timestamp"],
    (202, 201),
    (190, 189),
);
const TASKS: TypeInfo = engagement(
    ["tasks", "task", "0-27", "Task", "TASK"],
    &["hs_task_subject", "hs_timestamp"],
    (204, 203),
    (192, 191),
);

impl ObjType {
    pub const ALL: [ObjType; 8] = [
        ObjType::Contacts,
        ObjType::Companies,
        ObjType::Calls,
        ObjType::Emails,
        ObjType::Meetings,
        ObjType::Notes,
        ObjType::Tasks,
        ObjType::Deals,
    ];

    fn info(self) -> &'static TypeInfo {
        match self {
            ObjType::Contacts => &CONTACTS,
            ObjType::Companies => &COMPANIES,
            ObjType::Calls => &CALLS,
            ObjType::Emails => &EMAILS,
            ObjType::Meetings => &MEETINGS,
            ObjType::Notes => &NOTES,
            ObjType::Tasks => &TASKS,
            ObjType::Deals => &DEALS,
        }
    }

    /// Whether this is an engagement (activity) object.
    pub fn is_engagement(self) -> bool {
        self.info().engagement.is_some()
    }

    /// A type by its plural, singular or type id, in any case.
    pub fn parse(s: &str) -> Option<ObjType> {
        let s = s.to_ascii_lowercase();
        ObjType::ALL.into_iter().find(|t| {
            let i = t.info();
            [i.plural, i.singular, i.type_id].contains(&s.as_str())
        })
    }

    pub fn plural(self) -> &'static str {
        self.info().plural
    }

    pub fn singular(self) -> &'static str {
        self.info().singular
    }

    /// The name an error message gives one record (`Contact`, `Company`).
    pub fn noun(self) -> &'static str {
        self.info().noun
    }

    /// The name HubSpot uses in batch error messages (`CONTACT`, `COMPANY`).
    pub fn upper(self) -> &'static str {
        self.info().upper
    }

    pub fn modified_prop(self) -> &'static str {
        self.info().modified_prop
    }

    /// Properties returned when a call names none.
    pub fn default_props(self) -> &'static [&'static str] {
        self.info().default_props
    }

    /// Properties HubSpot adds to every answer whatever was asked for.
    pub fn always_props(self) -> [&'static str; 3] {
        ["createdate", "hs_object_id", self.modified_prop()]
    }
}

/// The whole account. Everything a request reads or writes is here, behind one mutex.
pub struct Hub {
    pub base_url: String,
    /// Records per object type; every type in [`ObjType::ALL`] has a store.
    pub objects: BTreeMap<ObjType, ObjectStore>,
    /// The property catalogue per object type.
    pub props: HashMap<ObjType, Vec<PropDef>>,
    pub owners: Vec<Owner>,
    pub assoc: Associations,
    pub next_id: u64,
    pub oauth: OAuthState,
    pub rate: RateState,
    pub data_rng: StdRng,
    /// Users' edits waiting for an API call to land before (see [`EditBefore`]).
    pub edits_before: Vec<EditBefore>,
    /// The app's webhook settings and events waiting for delivery.
    pub webhooks: super::webhooks::HubWebhooks,
}

impl Hub {
    pub fn store(&self, t: ObjType) -> &ObjectStore {
        &self.objects[&t]
    }

    pub fn store_mut(&mut self, t: ObjType) -> &mut ObjectStore {
        self.objects.entry(t).or_default()
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

/// `(contact, company)` of a contact–company pair given from the side of type `from_type`.
pub fn contact_company(from_type: ObjType, from: u64, to: u64) -> (u64, u64) {
    match from_type {
        ObjType::Contacts => (from, to),
        _ => (to, from),
    }
}

/// Whether `a`–`b` is a contact and a company, either way round.
pub fn is_contact_company(a: ObjType, b: ObjType) -> bool {
    matches!(
        (a, b),
        (ObjType::Contacts, ObjType::Companies) | (ObjType::Companies, ObjType::Contacts)
    )
}

/// Contact ↔ company pairs, indexed both ways, and the pairs of an engagement with a contact
/// or a company, each kept from both sides.
#[derive(Debug, Default)]
pub struct Associations {
    pub contact_to_company: BTreeMap<u64, BTreeSet<u64>>,
    pub company_to_contact: BTreeMap<u64, BTreeSet<u64>>,
    pub engagements: BTreeMap<(ObjType, u64), BTreeSet<(ObjType, u64)>>,
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

    /// The contact's companies, or the company's contacts.
    pub fn of(&self, from_type: ObjType, id: u64) -> Vec<u64> {
        let m = match from_type {
            ObjType::Contacts => &self.contact_to_company,
            ObjType::Companies => &self.company_to_contact,
            _ => return Vec::new(),
        };
        m.get(&id)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The records of type `to` associated with `id` of type `from`.
    pub fn of_to(&self, from: ObjType, id: u64, to: ObjType) -> Vec<u64> {
        if is_contact_company(from, to) {
            return self.of(from, id);
        }
        self.engagements
            .get(&(from, id))
            .into_iter()
            .flatten()
            .filter(|(t, _)| *t == to)
            .map(|(_, i)| *i)
            .collect()
    }

    /// Adds an engagement pair (kept from both sides); false if it existed.
    pub fn add_pair(&mut self, a: (ObjType, u64), b: (ObjType, u64)) -> bool {
        self.engagements.entry(b).or_default().insert(a);
        self.engagements.entry(a).or_default().insert(b)
    }

    pub fn remove_pair(&mut self, a: (ObjType, u64), b: (ObjType, u64)) {
        for (x, y) in [(a, b), (b, a)] {
            if let Some(s) = self.engagements.get_mut(&x) {
                s.remove(&y);
            }
        }
    }

    /// All pairs as `(contact, company)`.
    pub fn pairs(&self) -> Vec<(u64, u64)> {
        self.contact_to_company
            .iter()
            .flat_map(|(c, s)| s.iter().map(move |co| (*c, *co)))
            .collect()
    }
}

/// The association type id HubSpot defines for the unlabelled `from` → `to` link; `None`
/// for a pair it does not associate (two engagements, an engagement and a deal, a type with
/// itself).
pub fn assoc_type_id(from: ObjType, to: ObjType) -> Option<i64> {
    let side = |e: ObjType, other: ObjType| {
        let (contact, company) = e.info().engagement?;
        match other {
            ObjType::Contacts => Some(contact),
            ObjType::Companies => Some(company),
            _ => None,
        }
    };
    match (from, to) {
        (ObjType::Contacts, ObjType::Companies) => Some(279),
        (ObjType::Companies, ObjType::Contacts) => Some(280),
        (ObjType::Deals, ObjType::Contacts) => Some(DEAL_CONTACT.0),
        (ObjType::Contacts, ObjType::Deals) => Some(DEAL_CONTACT.1),
        (ObjType::Deals, ObjType::Companies) => Some(DEAL_COMPANY.0),
        (ObjType::Companies, ObjType::Deals) => Some(DEAL_COMPANY.1),
        _ if from.is_engagement() => side(from, to).map(|(there, _)| there),
        _ if to.is_engagement() => side(to, from).map(|(_, back)| back),
        _ => None,
    }
}
