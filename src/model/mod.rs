//! The canonical objects crmsync keeps in its local store.
//!
//! A **record** is one local object (contact, company, activity) with a stable local id (a
//! ULID), its canonical **fields**, `updated_at` and `archived_at`. Fields are a sorted map of
//! canonical field name → normalised text value. A field that is empty is *absent* from the map:
//! `""` and "missing" are the same thing everywhere (import, planner, providers), which is what
//! makes three-way comparison exact. Custom fields are named `custom.<name>`.
//!
//! References between objects (a contact's company, an activity's contact) are fields of type
//! [`FieldType::Ref`] whose value is the *local* id of the target record. Providers translate
//! them to and from their own ids through links.

pub mod normalize;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC. The only time representation in the core.
pub type Millis = i64;

/// Canonical field name → normalised value. Absent means empty.
pub type Fields = BTreeMap<String, String>;

/// Which way a field flows between the local store and a CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Both ways (the default).
    #[default]
    Both,
    /// Local → CRM only; CRM edits are overwritten on the next change.
    ToCrm,
    /// CRM → local only.
    FromCrm,
    /// Not synced.
    None,
}

impl Direction {
    /// The name as written in the config (`to-crm`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Both => "both",
            Direction::ToCrm => "to-crm",
            Direction::FromCrm => "from-crm",
            Direction::None => "none",
        }
    }
    pub fn pushes(self) -> bool {
        matches!(self, Direction::Both | Direction::ToCrm)
    }
    pub fn pulls(self) -> bool {
        matches!(self, Direction::Both | Direction::FromCrm)
    }
}

/// The canonical kinds of object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Contact,
    Company,
    Activity,
    Deal,
}

impl ObjectKind {
    /// Every kind, in dependency order: a record is synced after the records it refers to.
    pub const ALL: [ObjectKind; 4] = [
        ObjectKind::Company,
        ObjectKind::Contact,
        ObjectKind::Activity,
        ObjectKind::Deal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Contact => "contact",
            ObjectKind::Company => "company",
            ObjectKind::Activity => "activity",
            ObjectKind::Deal => "deal",
        }
    }

    /// The canonical fields this kind has built in (custom fields come on top).
    pub fn standard_fields(self) -> &'static [FieldDef] {
        match self {
            ObjectKind::Contact => CONTACT_FIELDS,
            ObjectKind::Company => COMPANY_FIELDS,
            ObjectKind::Activity => ACTIVITY_FIELDS,
            ObjectKind::Deal => DEAL_FIELDS,
        }
    }

    /// The type of a canonical field of this kind, or `None` when the name is not a field.
    /// Every `custom.<name>` field is text.
    pub fn field_type(self, name: &str) -> Option<FieldType> {
        if let Some(custom) = name.strip_prefix(CUSTOM_PREFIX) {
            return is_custom_name(custom).then_some(FieldType::Text);
        }
        self.standard_fields()
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.ty)
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ObjectKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "contact" | "contacts" => Ok(ObjectKind::Contact),
            "company" | "companies" => Ok(ObjectKind::Company),
            "activity" | "activities" => Ok(ObjectKind::Activity),
            "deal" | "deals" => Ok(ObjectKind::Deal),
            other => Err(format!(
                "unknown object `{other}`: expected `contact`, `company`, `activity` or `deal`"
            )),
        }
    }
}

/// The prefix of custom field names: `custom.favourite_colour`.
pub const CUSTOM_PREFIX: &str = "custom.";

/// A custom field's own name: letters, digits and `_`, starting with a letter, at most 100 chars.
pub fn is_custom_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && s.len() <= 100
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// How a field's value is normalised and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Free text, trimmed.
    Text,
    /// One email address, trimmed and lower-cased.
    Email,
    /// Several email addresses, each normalised, joined by `;`.
    EmailList,
    /// A phone number as typed (trimmed).
    Phone,
    /// A decimal number in its shortest form (`4`, `4.5`).
    Number,
    /// `true` or `false`.
    Bool,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An instant in UTC, `YYYY-MM-DDTHH:MM:SSZ` (with `.mmm` when it has milliseconds).
    Instant,
    /// The local id of another record.
    Ref(ObjectKind),
}

/// One built-in canonical field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub name: &'static str,
    pub ty: FieldType,
    pub about: &'static str,
}

const fn def(name: &'static str, ty: FieldType, about: &'static str) -> FieldDef {
    FieldDef { name, ty, about }
}

pub const CONTACT_FIELDS: &[FieldDef] = &[
    def("first_name", FieldType::Text, "given name"),
    def("last_name", FieldType::Text, "family name"),
    def(
        "email",
        FieldType::Email,
        "primary email address; the default match key",
    ),
    def(
        "emails",
        FieldType::EmailList,
        "further email addresses, `;`-separated",
    ),
    def("phone", FieldType::Phone, "phone number as typed"),
    def(
        "phone_e164",
        FieldType::Phone,
        "the phone number in E.164 form, where it parses",
    ),
    def("company", FieldType::Text, "company name as text"),
    def(
        "company_id",
        FieldType::Ref(ObjectKind::Company),
        "the company record this contact belongs to",
    ),
    def("job_title", FieldType::Text, "job title"),
    def("pronouns", FieldType::Text, "pronouns"),
    def(
        "owner",
        FieldType::Text,
        "owner (a user's email or the CRM's owner id)",
    ),
    def(
        "lifecycle_stage",
        FieldType::Text,
        "lifecycle stage (lead, customer, …)",
    ),
    def("warmness", FieldType::Number, "warmness score"),
];

pub const COMPANY_FIELDS: &[FieldDef] = &[
    def("name", FieldType::Text, "company name"),
    def("domain", FieldType::Text, "web domain, lower-cased"),
    def("industry", FieldType::Text, "industry or sector"),
    def("country", FieldType::Text, "country"),
];

pub const ACTIVITY_FIELDS: &[FieldDef] = &[
    def(
        "type",
        FieldType::Text,
        "activity type (call, meeting, task, note, email)",
    ),
    def("subject", FieldType::Text, "subject line"),
    def("note", FieldType::Text, "body text"),
    def("due_date", FieldType::Date, "due date, YYYY-MM-DD"),
    def("done", FieldType::Bool, "whether it is done"),
    def(
        "time",
        FieldType::Instant,
        "when it happened or is due, ISO 8601 in UTC (2025-03-01T14:30:00Z)",
    ),
    def(
        "duration",
        FieldType::Number,
        "how long it took, in minutes",
    ),
    def(
        "status",
        FieldType::Text,
        "the CRM's status of it (a task's NOT_STARTED, a call's COMPLETED, …)",
    ),
    def(
        "direction",
        FieldType::Text,
        "inbound or outbound (calls and emails)",
    ),
    def(
        "owner",
        FieldType::Text,
        "owner (a user's email or the CRM's owner id)",
    ),
    def(
        "contact_id",
        FieldType::Ref(ObjectKind::Contact),
        "the contact it concerns",
    ),
    def(
        "company_id",
        FieldType::Ref(ObjectKind::Company),
        "the company it concerns",
    ),
];

pub const DEAL_FIELDS: &[FieldDef] = &[
    def("name", FieldType::Text, "deal name"),
    def(
        "stage",
        FieldType::Text,
        "deal stage, by label or the CRM's stage id",
    ),
    def(
        "pipeline",
        FieldType::Text,
        "pipeline, by label or the CRM's pipeline id",
    ),
    def("amount", FieldType::Number, "amount"),
    def("currency", FieldType::Text, "currency code (EUR, USD, …)"),
    def(
        "close_date",
        FieldType::Date,
        "expected close date, YYYY-MM-DD",
    ),
    def(
        "owner",
        FieldType::Text,
        "owner (a user's email or the CRM's owner id)",
    ),
    def(
        "contact_id",
        FieldType::Ref(ObjectKind::Contact),
        "the deal's primary contact",
    ),
    def(
        "company_id",
        FieldType::Ref(ObjectKind::Company),
        "the company the deal is with",
    ),
];

/// A stable local record id: a ULID, 26 Crockford base-32 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(pub String);

impl RecordId {
    /// A new id. Ids sort by creation order, also within one millisecond (a monotonic
    /// generator), so "newest record" and id order agree.
    pub fn new() -> RecordId {
        static GENERATOR: std::sync::Mutex<Option<ulid::Generator>> = std::sync::Mutex::new(None);
        let mut slot = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
        let generator = slot.get_or_insert_with(ulid::Generator::new);
        let id = generator.generate().unwrap_or_else(|_| ulid::Ulid::new());
        RecordId(id.to_string())
    }

    /// Parses a ULID given by a user or a file, refusing anything else.
    pub fn parse(s: &str) -> Option<RecordId> {
        ulid::Ulid::from_string(s.trim())
            .ok()
            .map(|u| RecordId(u.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RecordId {
    fn default() -> Self {
        RecordId::new()
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One local object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: RecordId,
    pub kind: ObjectKind,
    pub fields: Fields,
    /// When a local write last changed the record.
    pub updated_at: Millis,
    /// Set when the record was archived (locally or by a CRM); records are never hard-deleted.
    pub archived_at: Option<Millis>,
}

impl Record {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
}

/// Makes a contact's `phone_e164` follow its `phone`, after `phone` came from a CRM: the E.164
/// form where the number has its country code (`+44 20 …`), else none. (An import can also
/// read national numbers, with `[import] default_calling_code`.)
pub fn derive_phone_e164(fields: &mut Fields) {
    match fields
        .get("phone")
        .and_then(|p| normalize::phone_e164(p, None))
    {
        Some(e164) => {
            fields.insert("phone_e164".into(), e164);
        }
        None => {
            fields.remove("phone_e164");
        }
    }
}

/// Sets `field` to `value` in `fields`, treating an empty value as "absent".
pub fn set_field(fields: &mut Fields, field: &str, value: impl Into<String>) {
    let value = value.into();
    if value.is_empty() {
        fields.remove(field);
    } else {
        fields.insert(field.to_string(), value);
    }
}
