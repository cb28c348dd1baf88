//! Opportunities, kept as local deals.
//!
//! An Opportunity is read and written like the other objects (the change feed, collections,
//! creates as upserts by `crmsync_id__c`): `Name`, `StageName`, `Amount`, `CloseDate`,
//! `AccountId` (the company) and `ContactId` (the primary contact). What Salesforce does not
//! take as a plain field is here:
//!
//! - **The stage.** `StageName` is a picklist whose values are the org's stages
//!   (`OpportunityStage`); a local stage may name one by its label or its API name, as any
//!   dropdown's value (the engine sends a label as its value). Salesforce refuses a stage the
//!   org does not have whatever `describe` says of the picklist (the stage decides `IsClosed`,
//!   `IsWon` and the forecast category), so the catalogue lists `StageName` as closed to other
//!   values and `mappings check` names local stages it would refuse, before any sync.
//! - **The primary contact.** A contact's part in an opportunity is an
//!   `OpportunityContactRole`; `Opportunity.ContactId` is the primary role's contact, read
//!   with the opportunity, and settable only on create (Object Reference), which an upsert
//!   that updates cannot count on. So `ContactId` is never sent with the opportunity: once the
//!   opportunities are written and read back, those whose `ContactId` is not the one wanted
//!   get their roles set (one query for their roles, then one collection call each for the
//!   roles made and the roles changed): the wanted contact's role made primary, or made (a
//!   role of its own, primary) when it has none; a cleared contact makes the primary role
//!   not primary, and keeps the role. A role that Salesforce refuses fails that opportunity's
//!   write, with its message, and the next run sets it again.
//! - **The owner.** `OwnerId` is a User id; its options are the org's active users by email
//!   (`SELECT Id, Email FROM User WHERE IsActive = true`, with the catalogue), so a local owner
//!   given as a user's email is sent as the user's id and an id read back reads as the email,
//!   as HubSpot's and Pipedrive's owners do. Not mapped by default: Salesforce gives an
//!   opportunity created without an owner to crmsync's user, and that owner would then come
//!   into the local record and go on to the other CRMs.
//!
//! A change of an opportunity's contact roles alone does not move its `SystemModstamp` as far
//! as the documentation says (the sandbox leaves it), so it comes in with the opportunity's next
//! change, as a HubSpot deal's associations do.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::refusal::record_error;
use super::wire::{quote, text};
use super::{COLLECTION_LIMIT, Salesforce};
use crate::providers::http::Method;
use crate::providers::{
    FieldOption, ProviderError, RecordError, RemoteField, RemoteFieldKind, RemoteRecord,
    RemoteWrite, WriteResults,
};

/// An opportunity's primary contact.
pub(super) const CONTACT_ID: &str = "ContactId";
const STAGE: &str = "StageName";
const OWNER: &str = "OwnerId";
const ROLE: &str = "OpportunityContactRole";

/// The built-in mappings of deals: canonical field, Opportunity field.
pub(super) const MAPPINGS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("stage", STAGE),
    ("amount", "Amount"),
    ("close_date", "CloseDate"),
    ("company_id", "AccountId"),
    ("contact_id", CONTACT_ID),
];

/// One contact role, as read.
#[derive(Debug, Clone)]
struct Role {
    id: String,
    opportunity: String,
    contact: String,
    primary: bool,
}

fn same_id(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl Salesforce {
    /// The deal catalogue as crmsync uses it: `StageName` closed to values the org does not
    /// have, `ContactId` written (through the contact roles), `OwnerId` with the org's users.
    pub(super) async fn fill_deal_fields(
        &self,
        fields: &mut [RemoteField],
    ) -> Result<(), ProviderError> {
        for f in fields.iter_mut() {
            match f.name.as_str() {
                STAGE => f.open_options = false,
                CONTACT_ID => {
                    f.read_only = false;
                    f.label = "Contact ID (the primary contact role)".into();
                }
                OWNER => {
                    f.kind = RemoteFieldKind::Enumeration;
                    f.options = self.users().await?;
                    f.open_options = false;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The org's active users with an email, as options: the id the value, the email the label.
    async fn users(&self) -> Result<Vec<FieldOption>, ProviderError> {
        let rows = self
            .query_rows("SELECT Id, Email FROM User WHERE IsActive = true ORDER BY Id")
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(FieldOption {
                    value: text(&r["Id"])?,
                    label: text(&r["Email"])?,
                })
            })
            .collect())
    }

    /// Every row a query answers, page after page.
    async fn query_rows(&self, soql: &str) -> Result<Vec<Value>, ProviderError> {
        let mut req = self.soql("query", soql);
        let mut out = Vec::new();
        loop {
            let resp = self.send_ok(req).await?;
            let v: Value = self.parse(&resp, "a query")?;
            out.extend(v["records"].as_array().into_iter().flatten().cloned());
            match v["nextRecordsUrl"].as_str() {
                Some(url) if v["done"].as_bool() == Some(false) => {
                    req = self.query_request(url.to_string());
                }
                _ => return Ok(out),
            }
        }
    }

    /// The live contact roles of `opportunities`.
    async fn roles_of(&self, opportunities: &[String]) -> Result<Vec<Role>, ProviderError> {
        let mut out = Vec::new();
        for chunk in opportunities.chunks(COLLECTION_LIMIT) {
            let list: Vec<String> = chunk.iter().map(|id| quote(id)).collect();
            let soql = format!(
                "SELECT Id, OpportunityId, ContactId, IsPrimary FROM {ROLE} WHERE OpportunityId IN ({})",
                list.join(", ")
            );
            out.extend(self.query_rows(&soql).await?.iter().filter_map(|r| {
                Some(Role {
                    id: text(&r["Id"])?,
                    opportunity: text(&r["OpportunityId"])?,
                    contact: text(&r[CONTACT_ID])?,
                    primary: r["IsPrimary"].as_bool().unwrap_or(false),
                })
            }));
        }
        Ok(out)
    }

    /// Sets the primary contact of the opportunities written (`results`, read back, in the
    /// order of `inputs`) whose write names one other than they have (see the module docs).
    pub(super) async fn set_contact_roles(
        &self,
        inputs: &[RemoteWrite],
        results: &mut WriteResults<RemoteRecord>,
    ) -> Result<(), ProviderError> {
        // (input index, opportunity, the contact wanted)
        let changes: Vec<(usize, String, Option<String>)> = inputs
            .iter()
            .zip(results.iter())
            .enumerate()
            .filter_map(|(i, (w, r))| {
                let rec = r.as_ref().ok()?;
                let wanted = w.props.get(CONTACT_ID)?;
                let wanted = (!wanted.is_empty()).then(|| wanted.clone());
                let now = rec.props.get(CONTACT_ID);
                let same = match (&wanted, now) {
                    (Some(a), Some(b)) => same_id(a, b),
                    (None, None) => true,
                    _ => false,
                };
                (!same).then(|| (i, rec.id.clone(), wanted))
            })
            .collect();
        if changes.is_empty() {
            return Ok(());
        }
        let opportunities: Vec<String> = changes.iter().map(|(_, o, _)| o.clone()).collect();
        let roles = self.roles_of(&opportunities).await?;
        let attributes = json!({ "type": ROLE });
        let mut made: Vec<(usize, Value)> = Vec::new();
        let mut changed: Vec<(usize, Value)> = Vec::new();
        for (i, opportunity, wanted) in &changes {
            let of_it = roles
                .iter()
                .filter(|r| same_id(&r.opportunity, opportunity));
            match wanted {
                Some(contact) => match of_it.clone().find(|r| same_id(&r.contact, contact)) {
                    Some(role) => changed.push((
                        *i,
                        json!({ "attributes": attributes, "id": role.id, "IsPrimary": true }),
                    )),
                    None => made.push((
                        *i,
                        json!({ "attributes": attributes, "OpportunityId": opportunity,
                                "ContactId": contact, "IsPrimary": true }),
                    )),
                },
                None => changed.extend(of_it.filter(|r| r.primary).map(|role| {
                    (
                        *i,
                        json!({ "attributes": attributes, "id": role.id, "IsPrimary": false }),
                    )
                })),
            }
        }
        let mut refused = self.write_roles(Method::Post, made).await?;
        refused.extend(self.write_roles(Method::Patch, changed).await?);
        for (i, _, wanted) in changes {
            if let Some(e) = refused.remove(&i) {
                results[i] = Err(RecordError {
                    message: format!(
                        "Salesforce saved the opportunity but not its primary contact: {}",
                        e.message
                    ),
                    ..e
                });
                continue;
            }
            if let Ok(rec) = &mut results[i] {
                match wanted {
                    Some(c) => rec.props.insert(CONTACT_ID.into(), c),
                    None => rec.props.remove(CONTACT_ID),
                };
            }
        }
        Ok(())
    }

    /// Writes contact roles through collections (`Post` creates, `Patch` updates); the
    /// refusals, by the input index each role is for.
    async fn write_roles(
        &self,
        method: Method,
        roles: Vec<(usize, Value)>,
    ) -> Result<HashMap<usize, RecordError>, ProviderError> {
        let mut refused = HashMap::new();
        for chunk in roles.chunks(COLLECTION_LIMIT) {
            let records: Vec<&Value> = chunk.iter().map(|(_, r)| r).collect();
            let req = self
                .request(method, self.data_path("composite/sobjects"))
                .json(json!({ "allOrNone": false, "records": records }));
            let resp = self.send_ok(req).await?;
            let results: Vec<Value> = self.parse(&resp, "a contact role write")?;
            if results.len() != chunk.len() {
                return Err(ProviderError::Other(format!(
                    "Salesforce answered {} results to a write of {} contact roles",
                    results.len(),
                    chunk.len()
                )));
            }
            for ((i, _), r) in chunk.iter().zip(&results) {
                if r["success"].as_bool() != Some(true) {
                    refused
                        .entry(*i)
                        .or_insert_with(|| record_error(&r["errors"]));
                }
            }
        }
        Ok(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deals_map_the_opportunitys_fields_and_its_primary_contact() {
        let remote: Vec<&str> = MAPPINGS.iter().map(|(_, r)| *r).collect();
        assert_eq!(
            remote,
            [
                "Name",
                "StageName",
                "Amount",
                "CloseDate",
                "AccountId",
                "ContactId"
            ]
        );
        assert!(same_id("006Dn000000001AAAA", "006dn000000001aaaa"));
    }
}
