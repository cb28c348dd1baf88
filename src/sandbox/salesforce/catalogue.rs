//! The objects the sandbox org has and their fields, as `describe` lists them: Contact,
//! Account and Task with the standard fields a sync reads and writes, Opportunity,
//! OpportunityContactRole and User (their fields in `opportunity.rs`), and the custom fields
//! added through the Tooling API (`tooling.rs`) or the admin API.
//!
//! Field names, types and lengths follow the Object Reference. Chosen where it is silent
//! or the org's setup decides (unconfirmed): `Account.Industry`, `Task.Status`,
//! `Task.Priority` and `Task.TaskSubtype` are restricted picklists (an org can restrict a
//! standard value set; the sandbox org has); `Contact.LeadSource` is an unrestricted one.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// An object of the org.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Obj {
    Contact,
    Account,
    Task,
    Opportunity,
    OpportunityContactRole,
    User,
}

impl Obj {
    pub const ALL: [Obj; 6] = [
        Obj::Contact,
        Obj::Account,
        Obj::Task,
        Obj::Opportunity,
        Obj::OpportunityContactRole,
        Obj::User,
    ];

    /// The object an API name names (`Contact`); object names are case-insensitive.
    pub fn parse(s: &str) -> Option<Obj> {
        Obj::ALL
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(s))
    }

    pub fn name(self) -> &'static str {
        match self {
            Obj::Contact => "Contact",
            Obj::Account => "Account",
            Obj::Task => "Task",
            Obj::Opportunity => "Opportunity",
            Obj::OpportunityContactRole => "OpportunityContactRole",
            Obj::User => "User",
        }
    }

    pub fn label_plural(self) -> &'static str {
        match self {
            Obj::Contact => "Contacts",
            Obj::Account => "Accounts",
            Obj::Task => "Tasks",
            Obj::Opportunity => "Opportunities",
            Obj::OpportunityContactRole => "Opportunity Contact Roles",
            Obj::User => "Users",
        }
    }

    /// The 3-character key prefix of its ids.
    pub fn prefix(self) -> &'static str {
        match self {
            Obj::Contact => "003",
            Obj::Account => "001",
            Obj::Task => "00T",
            Obj::Opportunity => "006",
            Obj::OpportunityContactRole => "00K",
            Obj::User => "005",
        }
    }

    /// Whether the API writes its records (the sandbox's users it does not).
    pub fn writable(self) -> bool {
        self != Obj::User
    }

    /// The object whose ids start with `id`'s prefix.
    pub fn of_id(id: &str) -> Option<Obj> {
        Obj::ALL.into_iter().find(|o| id.starts_with(o.prefix()))
    }

    /// Whether a user can merge records of it (Salesforce merges Accounts, Contacts and
    /// Leads; the sandbox has no Leads).
    pub fn mergeable(self) -> bool {
        matches!(self, Obj::Contact | Obj::Account)
    }
}

/// A field's type, as `describe` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Id,
    Reference,
    String,
    Email,
    Phone,
    Url,
    TextArea,
    Picklist,
    Boolean,
    Date,
    DateTime,
    Currency,
    Percent,
    Double,
}

impl Type {
    pub fn name(self) -> &'static str {
        match self {
            Type::Id => "id",
            Type::Reference => "reference",
            Type::String => "string",
            Type::Email => "email",
            Type::Phone => "phone",
            Type::Url => "url",
            Type::TextArea => "textarea",
            Type::Picklist => "picklist",
            Type::Boolean => "boolean",
            Type::Date => "date",
            Type::DateTime => "datetime",
            Type::Currency => "currency",
            Type::Percent => "percent",
            Type::Double => "double",
        }
    }

    /// The type a Tooling API `Metadata.type` creates.
    pub fn from_metadata(s: &str) -> Option<Type> {
        Some(match s {
            "Text" => Type::String,
            "Email" => Type::Email,
            "Phone" => Type::Phone,
            "Url" => Type::Url,
            "TextArea" | "LongTextArea" => Type::TextArea,
            "Picklist" => Type::Picklist,
            "Checkbox" => Type::Boolean,
            "Date" => Type::Date,
            "DateTime" => Type::DateTime,
            "Currency" => Type::Currency,
            "Percent" => Type::Percent,
            "Number" => Type::Double,
            _ => return None,
        })
    }

    /// Whether values are text (compared without regard to case in SOQL).
    pub fn is_text(self) -> bool {
        matches!(
            self,
            Type::String | Type::Email | Type::Phone | Type::Url | Type::TextArea | Type::Picklist
        )
    }

    /// Whether values are JSON numbers.
    pub fn is_number(self) -> bool {
        matches!(self, Type::Currency | Type::Percent | Type::Double)
    }
}

/// One field of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub label: String,
    pub ty: Type,
    /// Characters; 0 where the type has none.
    pub length: u32,
    pub nillable: bool,
    pub createable: bool,
    pub updateable: bool,
    pub external_id: bool,
    pub unique: bool,
    pub custom: bool,
    /// Picklist values, active ones.
    pub picklist: Vec<String>,
    /// The labels of the picklist values whose label is not the value itself (an admin
    /// relabelled them; the API name stays).
    pub picklist_labels: BTreeMap<String, String>,
    pub restricted: bool,
    /// A number's digits in all and after the point (`describe`'s `precision` and `scale`).
    pub precision: u32,
    pub scale: u32,
    /// For a reference: the objects it may point to, and the relationship name.
    pub reference_to: Vec<Obj>,
    pub relationship: Option<&'static str>,
    /// The custom field's id (`00N…`).
    pub id: Option<String>,
}

impl Field {
    pub(super) fn std(name: &str, label: &str, ty: Type, length: u32) -> Field {
        Field {
            name: name.into(),
            label: label.into(),
            ty,
            length,
            nillable: true,
            createable: true,
            updateable: true,
            external_id: false,
            unique: false,
            custom: false,
            picklist: Vec::new(),
            picklist_labels: BTreeMap::new(),
            restricted: false,
            precision: 0,
            scale: 0,
            reference_to: Vec::new(),
            relationship: None,
            id: None,
        }
    }

    /// A field the system sets.
    pub(super) fn system(name: &str, label: &str, ty: Type, length: u32) -> Field {
        Field {
            nillable: false,
            createable: false,
            updateable: false,
            ..Field::std(name, label, ty, length)
        }
    }

    pub(super) fn required(mut self) -> Field {
        self.nillable = false;
        self
    }

    pub(super) fn reference(mut self, to: &[Obj], relationship: &'static str) -> Field {
        self.reference_to = to.to_vec();
        self.relationship = Some(relationship);
        self
    }

    pub(super) fn picklist(mut self, values: &[&str], restricted: bool) -> Field {
        self.picklist = values.iter().map(|v| v.to_string()).collect();
        self.restricted = restricted;
        self
    }

    /// The field as `describe` lists it.
    pub fn describe(&self) -> Value {
        let picklist: Vec<Value> = self
            .picklist
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let label = self.picklist_labels.get(v).unwrap_or(v);
                json!({"active": true, "defaultValue": i == 0 && self.name == "Status",
                       "label": label, "validFor": null, "value": v})
            })
            .collect();
        let reference_to: Vec<&str> = self.reference_to.iter().map(|o| o.name()).collect();
        json!({
            "name": self.name, "label": self.label, "type": self.ty.name(),
            "length": self.length, "precision": self.precision, "scale": self.scale,
            "nillable": self.nillable, "createable": self.createable,
            "updateable": self.updateable, "externalId": self.external_id,
            "unique": self.unique, "custom": self.custom,
            "idLookup": self.ty == Type::Id || self.external_id || self.ty == Type::Email,
            "filterable": true, "sortable": self.ty != Type::TextArea,
            "calculated": false, "defaultedOnCreate": !self.createable && !self.nillable,
            "caseSensitive": false, "soapType": soap_type(self.ty),
            "picklistValues": picklist, "restrictedPicklist": self.restricted,
            "referenceTo": reference_to, "relationshipName": self.relationship,
        })
    }
}

fn soap_type(ty: Type) -> &'static str {
    match ty {
        Type::Id | Type::Reference => "tns:ID",
        Type::Boolean => "xsd:boolean",
        Type::Date => "xsd:date",
        Type::DateTime => "xsd:dateTime",
        Type::Currency | Type::Percent | Type::Double => "xsd:double",
        _ => "xsd:string",
    }
}

/// Fields every object has (`OwnerId` aside, which Opportunity's contact roles and Users lack).
pub(super) fn system_fields() -> Vec<Field> {
    vec![
        Field::system("Id", "Record ID", Type::Id, 18),
        Field::system("IsDeleted", "Deleted", Type::Boolean, 0),
        Field::system("CreatedDate", "Created Date", Type::DateTime, 0),
        Field::system("LastModifiedDate", "Last Modified Date", Type::DateTime, 0),
        Field::system("SystemModstamp", "System Modstamp", Type::DateTime, 0),
        Field {
            createable: true,
            updateable: true,
            ..Field::system("OwnerId", "Owner ID", Type::Reference, 18)
        },
    ]
}

/// `MasterRecordId`: on a record deleted by a merge, the record it was merged into; null on
/// every other record (Apex Developer Guide, "Triggers and Merge Statements"). That
/// `describe` lists it as a nillable, read-only reference of Account and Contact is
/// unconfirmed.
pub const MASTER_RECORD_ID: &str = "MasterRecordId";

/// The standard fields of `obj`.
pub fn standard_fields(obj: Obj) -> Vec<Field> {
    if let Some(fields) = super::opportunity::standard_fields(obj) {
        return fields;
    }
    let mut fields = system_fields();
    if obj.mergeable() {
        fields.push(
            Field {
                nillable: true,
                ..Field::system(MASTER_RECORD_ID, "Master Record ID", Type::Reference, 18)
            }
            .reference(&[obj], "MasterRecord"),
        );
    }
    let more = match obj {
        Obj::Contact => vec![
            Field::std("FirstName", "First Name", Type::String, 40),
            Field::std("LastName", "Last Name", Type::String, 80).required(),
            Field::system("Name", "Full Name", Type::String, 121),
            Field::std("Email", "Email", Type::Email, 80),
            Field::std("Phone", "Business Phone", Type::Phone, 40),
            Field::std("MobilePhone", "Mobile Phone", Type::Phone, 40),
            Field::std("Title", "Title", Type::String, 128),
            Field::std("AccountId", "Account ID", Type::Reference, 18)
                .reference(&[Obj::Account], "Account"),
            Field::std("LeadSource", "Lead Source", Type::Picklist, 255).picklist(
                &[
                    "Web",
                    "Phone Inquiry",
                    "Partner Referral",
                    "Purchased List",
                    "Other",
                ],
                false,
            ),
        ],
        Obj::Account => vec![
            Field::std("Name", "Account Name", Type::String, 255).required(),
            Field::std("Website", "Website", Type::Url, 255),
            Field::std("Phone", "Account Phone", Type::Phone, 40),
            // Part of the compound `BillingAddress`; writable on its own.
            Field::std("BillingCountry", "Billing Country", Type::String, 80),
            Field::std("Industry", "Industry", Type::Picklist, 255).picklist(
                &[
                    "Agriculture",
                    "Banking",
                    "Consulting",
                    "Education",
                    "Finance",
                    "Healthcare",
                    "Manufacturing",
                    "Media",
                    "Retail",
                    "Technology",
                    "Other",
                ],
                true,
            ),
            Field::std("Description", "Account Description", Type::TextArea, 32000),
        ],
        Obj::Task => vec![
            Field::std("WhoId", "Name ID", Type::Reference, 18).reference(&[Obj::Contact], "Who"),
            Field::std("WhatId", "Related To ID", Type::Reference, 18)
                .reference(&[Obj::Account], "What"),
            Field::std("Subject", "Subject", Type::String, 255),
            Field::std("Status", "Status", Type::Picklist, 255)
                .picklist(
                    &[
                        "Not Started",
                        "In Progress",
                        "Completed",
                        "Waiting on someone else",
                        "Deferred",
                    ],
                    true,
                )
                .required(),
            Field::std("Priority", "Priority", Type::Picklist, 40)
                .picklist(&["High", "Normal", "Low"], true)
                .required(),
            Field::std("ActivityDate", "Due Date Only", Type::Date, 0),
            Field::std("Description", "Description", Type::TextArea, 32000),
            Field::std("TaskSubtype", "Task Subtype", Type::Picklist, 40).picklist(
                &["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"],
                true,
            ),
            // Derived from `Status` (a closed status); never written.
            Field::system("IsClosed", "Closed", Type::Boolean, 0),
        ],
        _ => unreachable!("opportunity.rs lists the other objects' fields"),
    };
    fields.extend(more);
    fields
}

/// The defaults a created record gets for fields left out (Task's `Status` and `Priority`
/// default as the standard value sets mark them).
pub fn defaults(obj: Obj) -> &'static [(&'static str, &'static str)] {
    match obj {
        Obj::Task => &[
            ("Status", "Not Started"),
            ("Priority", "Normal"),
            ("TaskSubtype", "Task"),
        ],
        _ => &[],
    }
}

/// A custom field from a Tooling API `Metadata` body; `Err` with the message of a refused one.
pub fn custom_field(name: &str, meta: &Value, id: String) -> Result<Field, String> {
    let ty_name = meta["type"].as_str().unwrap_or_default();
    let ty = Type::from_metadata(ty_name)
        .ok_or_else(|| format!("Unsupported or missing field type: {ty_name}"))?;
    let label = meta["label"]
        .as_str()
        .filter(|l| !l.trim().is_empty())
        .ok_or("Field label is required")?;
    let length = match ty {
        Type::String => {
            let n = meta["length"]
                .as_u64()
                .ok_or("Length is required for Text")?;
            if !(1..=255).contains(&n) {
                return Err(format!("Length must be between 1 and 255: {n}"));
            }
            n as u32
        }
        Type::Email | Type::Url => 80,
        Type::Phone => 40,
        Type::TextArea => meta["length"].as_u64().unwrap_or(255) as u32,
        Type::Picklist => 255,
        _ => 0,
    };
    // A Tooling API `Number`, `Currency` or `Percent` names its digits (18 and 0 when left out).
    let digits = |k: &str, default: u64| meta[k].as_u64().unwrap_or(default) as u32;
    let (precision, scale) = if ty.is_number() {
        (digits("precision", 18), digits("scale", 0))
    } else {
        (0, 0)
    };
    let picklist: Vec<String> = meta["valueSet"]["valueSetDefinition"]["value"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter_map(|v| v["fullName"].as_str().or(v["label"].as_str()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if ty == Type::Picklist && picklist.is_empty() {
        return Err("A picklist needs values in valueSet.valueSetDefinition.value".into());
    }
    let flag = |k: &str| meta[k].as_bool().unwrap_or(false);
    Ok(Field {
        name: name.to_string(),
        label: label.to_string(),
        ty,
        length,
        nillable: !flag("required") && ty != Type::Boolean,
        createable: true,
        updateable: true,
        external_id: flag("externalId"),
        unique: flag("unique"),
        custom: true,
        restricted: ty == Type::Picklist && meta["valueSet"]["restricted"].as_bool() == Some(true),
        picklist,
        picklist_labels: BTreeMap::new(),
        precision,
        scale,
        reference_to: Vec::new(),
        relationship: None,
        id: Some(id),
    })
}

/// `describe` of an object.
pub fn describe(obj: Obj, fields: &[Field], version: &str) -> Value {
    let base = format!("/services/data/v{version}/sobjects/{}", obj.name());
    let writable = obj.writable();
    json!({
        "name": obj.name(), "label": obj.name(), "labelPlural": obj.label_plural(),
        "keyPrefix": obj.prefix(), "custom": false, "createable": writable,
        "updateable": writable, "deletable": writable, "queryable": true,
        "replicateable": true, "retrieveable": true,
        "searchable": true, "undeletable": true,
        "fields": fields.iter().map(Field::describe).collect::<Vec<_>>(),
        "urls": {"sobject": base, "describe": format!("{base}/describe"),
                 "rowTemplate": format!("{base}/{{ID}}")},
    })
}
