//! What a new company has before anyone adds to it: the built-in fields of each kind (with
//! the person and organization label options), the users and the activity types.
//!
//! Pipedrive's defaults the documents do not list are the sandbox's choice (unconfirmed):
//! three users (the token's user is 1, an admin), the label options `Customer`, `Hot lead`,
//! `Warm lead` and `Cold lead` on both kinds' `label_ids` field (a `set` field: v2 records
//! carry several labels), and the six activity types every company starts with.

use super::store::{ActivityType, Field, FieldOption, Kind, User};

/// The built-in fields of `kind`, ids from `first_id` on. Keys are the v2 attribute names,
/// except the v1 names `email` and `phone` for a person's emails and phones.
pub fn builtin_fields(kind: Kind, first_id: i64, label_first_id: i64, now: i64) -> Vec<Field> {
    let specs: &[(&str, &str, &str)] = match kind {
        Kind::Persons => &[
            ("id", "ID", "int"),
            ("name", "Name", "varchar"),
            ("first_name", "First name", "varchar"),
            ("last_name", "Last name", "varchar"),
            ("org_id", "Organization", "org"),
            ("owner_id", "Owner", "user"),
            ("email", "Email", "varchar"),
            ("phone", "Phone", "phone"),
            ("label_ids", "Labels", "set"),
            ("visible_to", "Visible to", "visible_to"),
            ("add_time", "Person created", "date"),
            ("update_time", "Update time", "date"),
        ],
        Kind::Organizations => &[
            ("id", "ID", "int"),
            ("name", "Name", "varchar"),
            ("owner_id", "Owner", "user"),
            ("address", "Address", "address"),
            ("label_ids", "Labels", "set"),
            ("visible_to", "Visible to", "visible_to"),
            ("add_time", "Organization created", "date"),
            ("update_time", "Update time", "date"),
        ],
        Kind::Activities => &[
            ("id", "ID", "int"),
            ("subject", "Subject", "varchar"),
            ("type", "Type", "varchar"),
            ("due_date", "Due date", "date"),
            ("due_time", "Due time", "time"),
            ("duration", "Duration", "time"),
            ("person_id", "Contact person", "people"),
            ("org_id", "Organization", "org"),
            ("deal_id", "Deal", "deal"),
            ("owner_id", "Assigned to user", "user"),
            ("note", "Note", "text"),
            ("done", "Done", "boolean"),
            ("busy", "Free/busy", "boolean"),
            ("add_time", "Add time", "date"),
            ("update_time", "Update time", "date"),
        ],
    };
    specs
        .iter()
        .enumerate()
        .map(|(n, (key, name, field_type))| Field {
            id: first_id + n as i64,
            key: key.to_string(),
            name: name.to_string(),
            field_type: field_type.to_string(),
            options: (*key == "label_ids").then(|| labels(label_first_id)),
            custom: false,
            mandatory: *key == "name",
            add_ms: now,
            update_ms: now,
        })
        .collect()
}

fn labels(first_id: i64) -> Vec<FieldOption> {
    [
        ("Customer", "green"),
        ("Hot lead", "red"),
        ("Warm lead", "yellow"),
        ("Cold lead", "blue"),
    ]
    .iter()
    .enumerate()
    .map(|(n, (label, color))| FieldOption {
        id: first_id + n as i64,
        label: label.to_string(),
        color: Some(color.to_string()),
    })
    .collect()
}

pub fn builtin_users(now: i64) -> Vec<User> {
    [
        (1, "Sandbox Admin", "admin@sandbox.example", true),
        (2, "Sam Seller", "sam@sandbox.example", false),
        (3, "Alex Agent", "alex@sandbox.example", false),
    ]
    .iter()
    .map(|(id, name, email, admin)| User {
        id: *id,
        name: name.to_string(),
        email: email.to_string(),
        admin: *admin,
        created_ms: now,
    })
    .collect()
}

pub fn builtin_activity_types(now: i64) -> Vec<ActivityType> {
    [
        ("Call", "call"),
        ("Meeting", "meeting"),
        ("Task", "task"),
        ("Deadline", "deadline"),
        ("Email", "email"),
        ("Lunch", "lunch"),
    ]
    .iter()
    .enumerate()
    .map(|(n, (name, key))| ActivityType {
        id: n as i64 + 1,
        name: name.to_string(),
        key_string: key.to_string(),
        icon_key: key.to_string(),
        custom: false,
        add_ms: now,
    })
    .collect()
}
