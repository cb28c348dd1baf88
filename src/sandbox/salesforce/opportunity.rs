//! Opportunities, their contact roles and the org's users, as the Object Reference describes
//! them (`Opportunity`, `OpportunityContactRole`, `OpportunityStage`, `User`).
//!
//! # Opportunity
//! `Name` (120), `StageName` and `CloseDate` are required; `Amount` is a currency (18, 2),
//! `Probability` a percent (3, 0); `AccountId` names the Account. What the stage decides is
//! derived from it, as the org's `OpportunityStage` records set it: `IsClosed`, `IsWon` and
//! `ForecastCategoryName` (read-only here; Salesforce lets a user override the forecast
//! category, the sandbox does not), and `Probability` when a create leaves it out or an
//! update moves the stage without naming it. The stages are a new org's standard value set
//! ([`STAGES`]: Prospecting … Closed Won, Closed Lost, with their default probabilities and
//! forecast categories, the well-known defaults; unconfirmed in the DIGEST). `StageName` is a
//! restricted picklist: a stage the org does not have is refused with
//! `INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST` (commonly reported for `Stage`; an opportunity's
//! stage must be one of the org's `OpportunityStage` values, since the closed, won and
//! forecast values come from it). An admin may relabel a stage (the admin API's
//! `PUT /_sandbox/picklist`): its API name, the value, stays.
//!
//! `CurrencyIsoCode` is there only when the sandbox runs with `multi_currency` on: a restricted
//! picklist of the org's currencies ([`CURRENCIES`], the corporate one first and the default).
//! (A real multi-currency org has it on every object; the sandbox adds it where crmsync may map
//! it, Opportunity and its contact roles.)
//!
//! # Contact roles
//! A contact's part in an opportunity is an `OpportunityContactRole`: `OpportunityId`
//! (required, not updateable), `ContactId` (required), `Role` (a picklist) and `IsPrimary`
//! (false by default). An opportunity has at most one primary role: making one primary makes
//! the others not. `Opportunity.ContactId` is the primary role's contact, derived from the
//! roles, and can be set only on create, which makes that contact's role, primary (Object
//! Reference: "Create, Filter, Group, Nillable, Sort"; an update naming it is refused as any
//! field not updateable is). A change of roles changes `Opportunity.ContactId` without moving
//! the opportunity's `SystemModstamp` (unconfirmed: the reference says the field is derived,
//! not whether deriving it stamps the opportunity; a client must not count on it).
//!
//! A role deleted directly is gone at once (the reference: `IsDeleted` is "usable only when the
//! parent record is deleted to the recycle bin"); the roles of an opportunity or contact sent
//! to the Recycle Bin go with it, and come back when it is undeleted.
//!
//! # Users
//! Two, made with the org: the API's user (`admin@sandbox.example`, who signs in) and the user
//! whose edits the admin API plays (`sam.seller@sandbox.example`). `User` can be described and
//! queried; the sandbox writes no users (a write is refused with
//! `INSUFFICIENT_ACCESS_OR_READONLY`).
//!
//! # Not served
//! Products and price books (an opportunity's `Amount` is never a roll-up of line items),
//! record types and sales processes (every stage is open to every opportunity), `OpportunityStage`
//! itself as a queryable object, `OpportunityHistory`, fiscal periods, forecast overrides,
//! campaigns, and the opportunity's other standard fields.

use std::collections::BTreeMap;

use rand::Rng;
use serde_json::{Map, Value, json};

use super::catalogue::{Field, Obj, Type, system_fields};
use super::errors::SfError;
use super::ids;
use super::records;
use super::store::{Org, Record};

/// One stage of the org's sales process, as `OpportunityStage` holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// The API name (`StageName`'s value).
    pub value: &'static str,
    /// `DefaultProbability`.
    pub probability: u32,
    /// `ForecastCategoryName`.
    pub forecast: &'static str,
    pub closed: bool,
    pub won: bool,
}

const fn stage(value: &'static str, probability: u32, forecast: &'static str) -> Stage {
    Stage {
        value,
        probability,
        forecast,
        closed: false,
        won: false,
    }
}

/// A new org's stages, in their sort order.
pub const STAGES: [Stage; 10] = [
    stage("Prospecting", 10, "Pipeline"),
    stage("Qualification", 10, "Pipeline"),
    stage("Needs Analysis", 20, "Pipeline"),
    stage("Value Proposition", 50, "Pipeline"),
    stage("Id. Decision Makers", 60, "Pipeline"),
    stage("Perception Analysis", 70, "Pipeline"),
    stage("Proposal/Price Quote", 75, "Pipeline"),
    stage("Negotiation/Review", 90, "Pipeline"),
    Stage {
        closed: true,
        won: true,
        ..stage("Closed Won", 100, "Closed")
    },
    Stage {
        closed: true,
        ..stage("Closed Lost", 0, "Omitted")
    },
];

/// The roles a contact plays on an opportunity (a new org's `Role` values).
pub const ROLES: [&str; 9] = [
    "Business User",
    "Decision Maker",
    "Economic Buyer",
    "Economic Decision Maker",
    "Evaluator",
    "Executive Sponsor",
    "Influencer",
    "Technical Buyer",
    "Other",
];

/// The currencies of a multi-currency org, the corporate currency first.
pub const CURRENCIES: [&str; 4] = ["USD", "EUR", "GBP", "JPY"];

/// The users the org is made with: id counter, username/email, first and last name.
const USERS: [(u64, &str, &str, &str); 2] = [
    (1, "admin@sandbox.example", "Sandbox", "Admin"),
    (2, "sam.seller@sandbox.example", "Sam", "Seller"),
];

const STAGE_NAME: &str = "StageName";
const PROBABILITY: &str = "Probability";
const OPPORTUNITY_ID: &str = "OpportunityId";
const CONTACT_ID: &str = "ContactId";
const IS_PRIMARY: &str = "IsPrimary";
const CURRENCY: &str = "CurrencyIsoCode";

/// The stage named `value` (by API name, exactly).
pub fn stage_of(value: &str) -> Option<&'static Stage> {
    STAGES.iter().find(|s| s.value == value)
}

fn number(name: &str, label: &str, ty: Type, precision: u32, scale: u32) -> Field {
    Field {
        precision,
        scale,
        ..Field::std(name, label, ty, 0)
    }
}

/// The fields of Opportunity, OpportunityContactRole and User; `None` for another object.
pub fn standard_fields(obj: Obj) -> Option<Vec<Field>> {
    let stages: Vec<&str> = STAGES.iter().map(|s| s.value).collect();
    let without_owner = || -> Vec<Field> {
        system_fields()
            .into_iter()
            .filter(|f| f.name != "OwnerId")
            .collect()
    };
    Some(match obj {
        Obj::Opportunity => {
            let mut fields = system_fields();
            fields.extend([
                Field::std("Name", "Name", Type::String, 120).required(),
                Field::std("AccountId", "Account ID", Type::Reference, 18)
                    .reference(&[Obj::Account], "Account"),
                Field {
                    updateable: false,
                    ..Field::std(CONTACT_ID, "Contact ID", Type::Reference, 18)
                        .reference(&[Obj::Contact], "Contact")
                },
                Field::std(STAGE_NAME, "Stage", Type::Picklist, 255)
                    .picklist(&stages, true)
                    .required(),
                number("Amount", "Amount", Type::Currency, 18, 2),
                number(PROBABILITY, "Probability (%)", Type::Percent, 3, 0),
                Field::std("CloseDate", "Close Date", Type::Date, 0).required(),
                Field::std("Type", "Opportunity Type", Type::Picklist, 255).picklist(
                    &[
                        "Existing Customer - Upgrade",
                        "Existing Customer - Replacement",
                        "Existing Customer - Downgrade",
                        "New Customer",
                    ],
                    false,
                ),
                Field::std("NextStep", "Next Step", Type::String, 255),
                Field::std("Description", "Description", Type::TextArea, 32000),
                // Derived from the stage; never written here.
                Field::system(
                    "ForecastCategoryName",
                    "Forecast Category",
                    Type::Picklist,
                    255,
                )
                .picklist(
                    &["Omitted", "Pipeline", "Best Case", "Commit", "Closed"],
                    true,
                ),
                Field::system("IsClosed", "Closed", Type::Boolean, 0),
                Field::system("IsWon", "Won", Type::Boolean, 0),
            ]);
            fields
        }
        Obj::OpportunityContactRole => {
            let mut fields = without_owner();
            fields.extend([
                Field {
                    updateable: false,
                    ..Field::std(OPPORTUNITY_ID, "Opportunity ID", Type::Reference, 18)
                        .reference(&[Obj::Opportunity], "Opportunity")
                        .required()
                },
                Field::std(CONTACT_ID, "Contact ID", Type::Reference, 18)
                    .reference(&[Obj::Contact], "Contact")
                    .required(),
                Field::std("Role", "Role", Type::Picklist, 255).picklist(&ROLES, false),
                Field::std(IS_PRIMARY, "Primary", Type::Boolean, 0).required(),
            ]);
            fields
        }
        Obj::User => {
            let mut fields = without_owner();
            fields.extend([
                Field::system("Username", "Username", Type::String, 80),
                Field::system("Email", "Email", Type::Email, 128),
                Field::system("FirstName", "First Name", Type::String, 40),
                Field::system("LastName", "Last Name", Type::String, 80),
                Field::system("Name", "Full Name", Type::String, 121),
                Field::system("IsActive", "Active", Type::Boolean, 0),
            ]);
            fields
        }
        _ => return None,
    })
}

/// A field whose value is derived from others of `r`, where it is one: what an opportunity's
/// stage decides, a user's full name.
pub fn derived(r: &Record, field: &str) -> Option<Value> {
    match (r.obj, field) {
        (Obj::Opportunity, "IsClosed" | "IsWon" | "ForecastCategoryName") => {
            let s = r
                .values
                .get(STAGE_NAME)
                .and_then(Value::as_str)
                .and_then(stage_of);
            Some(match (field, s) {
                (_, None) => Value::Null,
                ("IsClosed", Some(s)) => json!(s.closed),
                ("IsWon", Some(s)) => json!(s.won),
                (_, Some(s)) => json!(s.forecast),
            })
        }
        (Obj::User, "Name") => {
            let part = |k: &str| r.values.get(k).and_then(Value::as_str).unwrap_or_default();
            Some(json!(
                format!("{} {}", part("FirstName"), part("LastName"))
                    .trim()
                    .to_string()
            ))
        }
        _ => None,
    }
}

/// Refuses a write to an object the API does not write here.
pub fn writable(obj: Obj) -> Result<(), SfError> {
    if !obj.writable() {
        return Err(SfError::new(
            400,
            "INSUFFICIENT_ACCESS_OR_READONLY",
            "insufficient access rights on object id: the sandbox org's users are made with it, not written through the API",
        ));
    }
    Ok(())
}

/// The values a create of `obj` gets for fields its body leaves out, beyond the static
/// defaults: an opportunity's probability from its stage and the corporate currency, a role's
/// `IsPrimary` false.
pub fn fill_created(org: &Org, obj: Obj, values: &mut BTreeMap<String, Value>) {
    match obj {
        Obj::Opportunity => {
            if !values.contains_key(PROBABILITY)
                && let Some(s) = values
                    .get(STAGE_NAME)
                    .and_then(Value::as_str)
                    .and_then(stage_of)
            {
                values.insert(PROBABILITY.into(), json!(s.probability as f64));
            }
            if org.field(obj, CURRENCY).is_some() {
                values
                    .entry(CURRENCY.into())
                    .or_insert_with(|| json!(CURRENCIES[0]));
            }
        }
        Obj::OpportunityContactRole => {
            values
                .entry(IS_PRIMARY.into())
                .or_insert(Value::Bool(false));
        }
        _ => {}
    }
}

/// An update of an opportunity that moves its stage and names no probability takes the new
/// stage's probability.
pub fn fill_updated(r: &mut Record, written: &BTreeMap<String, Value>) {
    if r.obj != Obj::Opportunity
        || !written.contains_key(STAGE_NAME)
        || written.contains_key(PROBABILITY)
    {
        return;
    }
    if let Some(s) = r
        .values
        .get(STAGE_NAME)
        .and_then(Value::as_str)
        .and_then(stage_of)
    {
        r.values
            .insert(PROBABILITY.into(), json!(s.probability as f64));
    }
}

fn text<'a>(r: &'a Record, field: &str) -> Option<&'a str> {
    r.values.get(field).and_then(Value::as_str)
}

/// The live roles of opportunity `opp`.
fn roles_of(org: &Org, opp: &str) -> Vec<Record> {
    org.store(Obj::OpportunityContactRole)
        .values()
        .filter(|r| r.deleted_ms.is_none() && text(r, OPPORTUNITY_ID) == Some(opp))
        .cloned()
        .collect()
}

/// Sets `Opportunity.ContactId` of `opp` from its primary role (its stamps do not move).
fn derive_contact(org: &mut Org, opp: &str) {
    let primary = roles_of(org, opp)
        .into_iter()
        .find(|r| r.values.get(IS_PRIMARY) == Some(&Value::Bool(true)))
        .and_then(|r| text(&r, CONTACT_ID).map(str::to_string));
    let Some(mut o) = org.store(Obj::Opportunity).get(opp).cloned() else {
        return;
    };
    match primary {
        Some(c) => o.values.insert(CONTACT_ID.into(), json!(c)),
        None => o.values.remove(CONTACT_ID),
    };
    records::restore(org, Obj::Opportunity, opp, Some(o));
}

/// What a write of record `id` of `obj` sets off: an opportunity created with a contact gets
/// that contact's role, primary; a role made primary makes its opportunity's others not, and
/// the opportunity's `ContactId` follows its roles.
pub fn after_write(org: &mut Org, obj: Obj, id: &str, now: i64, created: bool) {
    let Some(r) = org.store(obj).get(id).cloned() else {
        return;
    };
    match obj {
        Obj::Opportunity if created => {
            let Some(contact) = text(&r, CONTACT_ID) else {
                return;
            };
            let mut body = Map::new();
            body.insert(OPPORTUNITY_ID.into(), json!(id));
            body.insert(CONTACT_ID.into(), json!(contact));
            body.insert(IS_PRIMARY.into(), json!(true));
            if let Err(e) = records::create(org, Obj::OpportunityContactRole, now, &r.owner, &body)
            {
                tracing::warn!(
                    "the sandbox could not make {id}'s contact role: {}",
                    e.message
                );
            }
        }
        Obj::OpportunityContactRole => {
            let Some(opp) = text(&r, OPPORTUNITY_ID).map(str::to_string) else {
                return;
            };
            if r.values.get(IS_PRIMARY) == Some(&Value::Bool(true)) {
                for mut other in roles_of(org, &opp) {
                    if other.id != r.id && other.values.get(IS_PRIMARY) == Some(&Value::Bool(true))
                    {
                        other.values.insert(IS_PRIMARY.into(), Value::Bool(false));
                        other.modstamp_ms = now;
                        let oid = other.id.clone();
                        records::restore(org, obj, &oid, Some(other));
                    }
                }
            }
            derive_contact(org, &opp);
        }
        _ => {}
    }
}

/// What sending record `id` of `obj` to the Recycle Bin at `now` sets off: its roles go with
/// an opportunity or a contact; a role deleted directly is gone at once.
pub fn after_delete(org: &mut Org, obj: Obj, id: &str, now: i64) {
    match obj {
        Obj::OpportunityContactRole => {
            let opp = org
                .store(obj)
                .get(id)
                .and_then(|r| text(r, OPPORTUNITY_ID).map(str::to_string));
            records::restore(org, obj, id, None);
            if let Some(opp) = opp {
                derive_contact(org, &opp);
            }
        }
        Obj::Opportunity | Obj::Contact => {
            let field = if obj == Obj::Opportunity {
                OPPORTUNITY_ID
            } else {
                CONTACT_ID
            };
            let going: Vec<Record> = org
                .store(Obj::OpportunityContactRole)
                .values()
                .filter(|r| r.deleted_ms.is_none() && text(r, field) == Some(id))
                .cloned()
                .collect();
            for mut role in going {
                let opp = text(&role, OPPORTUNITY_ID).map(str::to_string);
                role.deleted_ms = Some(now);
                role.modstamp_ms = now;
                let rid = role.id.clone();
                records::restore(org, Obj::OpportunityContactRole, &rid, Some(role));
                if let (Some(opp), Obj::Contact) = (opp, obj) {
                    derive_contact(org, &opp);
                }
            }
        }
        _ => {}
    }
}

/// What bringing record `id` back from the Recycle Bin sets off: the roles that went with it
/// (at `deleted_at`) come back.
pub fn after_undelete(org: &mut Org, id: &str, deleted_at: i64, now: i64) {
    let Some(obj) = Obj::of_id(id).filter(|o| matches!(o, Obj::Opportunity | Obj::Contact)) else {
        return;
    };
    let field = if obj == Obj::Opportunity {
        OPPORTUNITY_ID
    } else {
        CONTACT_ID
    };
    let back: Vec<Record> = org
        .store(Obj::OpportunityContactRole)
        .values()
        .filter(|r| r.deleted_ms == Some(deleted_at) && text(r, field) == Some(id))
        .cloned()
        .collect();
    for mut role in back {
        let opp = text(&role, OPPORTUNITY_ID).map(str::to_string);
        role.deleted_ms = None;
        role.modstamp_ms = now;
        let rid = role.id.clone();
        records::restore(org, Obj::OpportunityContactRole, &rid, Some(role));
        if let Some(opp) = opp {
            derive_contact(org, &opp);
        }
    }
}

/// Makes the org's users.
pub fn seed_users(org: &mut Org) {
    for (n, email, first, last) in USERS {
        let id = ids::make(Obj::User.prefix(), n);
        let values: BTreeMap<String, Value> = [
            ("Username", json!(email)),
            ("Email", json!(email)),
            ("FirstName", json!(first)),
            ("LastName", json!(last)),
            ("IsActive", json!(true)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let r = Record {
            id: id.clone(),
            obj: Obj::User,
            values,
            owner: id.clone(),
            created_ms: 0,
            modified_ms: 0,
            modstamp_ms: 0,
            deleted_ms: None,
        };
        records::restore(org, Obj::User, &id, Some(r));
    }
}

/// Turns multi-currency on: Opportunity and its contact roles get `CurrencyIsoCode`.
pub fn enable_multi_currency(org: &mut Org) {
    for obj in [Obj::Opportunity, Obj::OpportunityContactRole] {
        if org.field(obj, CURRENCY).is_none() {
            let f = Field::std(CURRENCY, "Opportunity Currency", Type::Picklist, 3)
                .picklist(&CURRENCIES, true);
            org.fields.entry(obj).or_default().push(f);
        }
    }
}

/// Gives the picklist value `value` of `obj.field` the label `label`, as an admin renaming it
/// in Setup does (the API name stays).
pub fn relabel(
    org: &mut Org,
    obj: Obj,
    field: &str,
    value: &str,
    label: &str,
) -> Result<(), String> {
    let f = org
        .fields
        .get_mut(&obj)
        .and_then(|fs| fs.iter_mut().find(|f| f.name.eq_ignore_ascii_case(field)))
        .ok_or_else(|| format!("{} has no field `{field}`", obj.name()))?;
    if !f.picklist.iter().any(|v| v == value) {
        return Err(format!("`{}` has no value `{value}`", f.name));
    }
    if label == value {
        f.picklist_labels.remove(value);
    } else {
        f.picklist_labels
            .insert(value.to_string(), label.to_string());
    }
    Ok(())
}

/// Seeds `n` opportunities as a user's import, one second apart and the last at `now`: each
/// with one of the live accounts (when there are any), a contact of that account (or any) as
/// its primary contact, a stage, an amount and a close date. Their ids.
pub fn seed(org: &mut Org, now: i64, n: usize) -> Vec<String> {
    let live = |org: &Org, obj: Obj| -> Vec<Record> {
        org.store(obj)
            .values()
            .filter(|r| r.deleted_ms.is_none())
            .cloned()
            .collect()
    };
    let accounts = live(org, Obj::Account);
    let contacts = live(org, Obj::Contact);
    let owner = org.app_user_id.clone();
    let mut out = Vec::new();
    for i in 0..n {
        let mut body = Map::new();
        let account = (!accounts.is_empty()).then(|| &accounts[i % accounts.len()]);
        let contact = account
            .and_then(|a| {
                contacts
                    .iter()
                    .find(|c| text(c, "AccountId") == Some(a.id.as_str()))
            })
            .or_else(|| (!contacts.is_empty()).then(|| &contacts[i % contacts.len()]));
        let name = match account.and_then(|a| text(a, "Name")) {
            Some(a) => format!("{a} deal {}", i + 1),
            None => format!("Deal {}", i + 1),
        };
        body.insert("Name".into(), json!(name));
        body.insert(STAGE_NAME.into(), json!(STAGES[i % STAGES.len()].value));
        let amount = org.data_rng.random_range(1..500) * 100;
        body.insert("Amount".into(), json!(amount as f64));
        body.insert(
            "CloseDate".into(),
            json!(format!("2026-{:02}-{:02}", i % 12 + 1, i % 28 + 1)),
        );
        if let Some(a) = account {
            body.insert("AccountId".into(), json!(a.id));
        }
        if let Some(c) = contact {
            body.insert(CONTACT_ID.into(), json!(c.id));
        }
        let at = now - (n - 1 - i) as i64 * 1000;
        if let Ok(id) = records::create(org, Obj::Opportunity, at, &owner, &body) {
            out.push(id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn org() -> Org {
        Org::new(1000, rand::rngs::StdRng::seed_from_u64(1))
    }

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn contact(org: &mut Org, last: &str) -> String {
        let owner = org.user_id.clone();
        records::create(
            org,
            Obj::Contact,
            1,
            &owner,
            &body(json!({"LastName": last})),
        )
        .unwrap()
    }

    #[test]
    fn the_stage_decides_closed_won_forecast_and_the_default_probability() {
        let mut org = org();
        let owner = org.user_id.clone();
        let id = records::create(
            &mut org,
            Obj::Opportunity,
            10,
            &owner,
            &body(json!({"Name": "Big", "StageName": "Negotiation/Review", "CloseDate": "2026-06-30"})),
        )
        .unwrap();
        let r = org.store(Obj::Opportunity)[&id].clone();
        assert_eq!(org.value(&r, "Probability"), json!(90.0));
        assert_eq!(org.value(&r, "IsClosed"), json!(false));
        assert_eq!(org.value(&r, "ForecastCategoryName"), json!("Pipeline"));
        records::update(
            &mut org,
            Obj::Opportunity,
            20,
            &id,
            &body(json!({"StageName": "Closed Won"})),
        )
        .unwrap();
        let r = org.store(Obj::Opportunity)[&id].clone();
        assert_eq!(
            [
                org.value(&r, "IsClosed"),
                org.value(&r, "IsWon"),
                org.value(&r, "Probability")
            ],
            [json!(true), json!(true), json!(100.0)]
        );
        let refused = records::create(
            &mut org,
            Obj::Opportunity,
            30,
            &owner,
            &body(json!({"Name": "x", "StageName": "Won", "CloseDate": "2026-06-30"})),
        )
        .unwrap_err();
        assert_eq!(refused.code, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
        let missing = records::create(
            &mut org,
            Obj::Opportunity,
            30,
            &owner,
            &body(json!({"Name": "x", "StageName": "Prospecting"})),
        )
        .unwrap_err();
        assert_eq!(missing.code, "REQUIRED_FIELD_MISSING");
    }

    #[test]
    fn the_primary_role_is_the_opportunitys_contact_and_one_at_a_time() {
        let mut org = org();
        let owner = org.user_id.clone();
        let (ann, bo) = (contact(&mut org, "Ann"), contact(&mut org, "Bo"));
        let opp = records::create(
            &mut org,
            Obj::Opportunity,
            10,
            &owner,
            &body(
                json!({"Name": "Big", "StageName": "Prospecting", "CloseDate": "2026-06-30",
                         "ContactId": ann}),
            ),
        )
        .unwrap();
        let contact_of = |org: &Org| org.value(&org.store(Obj::Opportunity)[&opp], "ContactId");
        assert_eq!(contact_of(&org), json!(ann));
        assert_eq!(roles_of(&org, &opp).len(), 1);
        let modstamp = org.store(Obj::Opportunity)[&opp].modstamp_ms;

        let role = records::create(
            &mut org,
            Obj::OpportunityContactRole,
            20,
            &owner,
            &body(json!({"OpportunityId": opp, "ContactId": bo, "IsPrimary": true})),
        )
        .unwrap();
        assert_eq!(contact_of(&org), json!(bo));
        let primaries = roles_of(&org, &opp)
            .iter()
            .filter(|r| r.values[IS_PRIMARY] == json!(true))
            .count();
        assert_eq!(primaries, 1);
        assert_eq!(org.store(Obj::Opportunity)[&opp].modstamp_ms, modstamp);

        // ContactId is set on create only.
        let refused = records::update(
            &mut org,
            Obj::Opportunity,
            30,
            &opp,
            &body(json!({"ContactId": ann})),
        )
        .unwrap_err();
        assert_eq!(refused.code, "INVALID_FIELD_FOR_INSERT_UPDATE");

        // A role deleted directly is gone; the contact is no longer the opportunity's.
        records::delete(&mut org, Obj::OpportunityContactRole, 40, &role).unwrap();
        assert!(!org.store(Obj::OpportunityContactRole).contains_key(&role));
        assert_eq!(contact_of(&org), Value::Null);

        // The roles of a deleted opportunity go with it and come back with it.
        let first = roles_of(&org, &opp)[0].id.clone();
        records::update(
            &mut org,
            Obj::OpportunityContactRole,
            50,
            &first,
            &body(json!({"IsPrimary": true})),
        )
        .unwrap();
        records::delete(&mut org, Obj::Opportunity, 60, &opp).unwrap();
        assert!(roles_of(&org, &opp).is_empty());
        records::undelete(&mut org, 70, &opp).unwrap();
        assert_eq!(roles_of(&org, &opp).len(), 1);
        assert_eq!(contact_of(&org), json!(ann));
    }

    #[test]
    fn users_are_read_only_and_stages_can_be_relabelled() {
        let mut org = org();
        let owner = org.user_id.clone();
        let user = org.store(Obj::User)[&owner].clone();
        assert_eq!(org.value(&user, "Name"), json!("Sandbox Admin"));
        let refused =
            records::update(&mut org, Obj::User, 1, &owner, &body(json!({}))).unwrap_err();
        assert_eq!(refused.code, "INSUFFICIENT_ACCESS_OR_READONLY");
        relabel(
            &mut org,
            Obj::Opportunity,
            "StageName",
            "Proposal/Price Quote",
            "Proposal",
        )
        .unwrap();
        let f = org.field(Obj::Opportunity, "StageName").unwrap();
        let listed = &f.describe()["picklistValues"][6];
        assert_eq!(
            (listed["value"].clone(), listed["label"].clone()),
            (json!("Proposal/Price Quote"), json!("Proposal"))
        );
        assert!(relabel(&mut org, Obj::Opportunity, "StageName", "Nope", "x").is_err());
    }
}
