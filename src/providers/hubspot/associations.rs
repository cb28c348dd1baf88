//! A contact's company.
//!
//! A contact's company is an association, not a property. This module shows it as the
//! pseudo-property `associations.companies`, whose value is the HubSpot id of one associated
//! company (the primary one, else the first). The primary company comes with the contact, as
//! its `associatedcompanyid` property, in the change feed's pages (which show it as the
//! pseudo-property at once, so the engine can compare it) and in reads by id; the v4
//! batch association read is made only for contacts without one: [`Provider::complete`](crate::providers::Provider::complete)
//! reads it for such contacts of a page that the engine plans (those it has not seen at the
//! same version), and a read by id for the contacts read. It is written after the
//! property write: associations to any other company are removed, then the default
//! association to the new company is made, so that a contact left without a primary company
//! takes the new one as its primary; an empty value removes them all.
//!
//! A change of a contact's primary company in HubSpot changes its `associatedcompanyid`
//! property, and so its last-modified time: the change feed brings the contact, and its
//! company is read again. The property's history dates the change, for `newest-wins`. A change
//! among its other companies alone moves nothing and is seen with the contact's next change.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::refusal::record_error;
use super::wire::{BatchResponse, json_id};
use super::{BATCH, COMPANY_ASSOCIATION, HubSpot, PRIMARY_COMPANY};
use crate::model::ObjectKind;
use crate::providers::http::{Method, Request};
use crate::providers::{ProviderError, RecordError, RemoteRecord, RemoteWrite, WriteResults};

/// Contact → company, the unlabelled default association.
const PRIMARY_COMPANY_TYPE: i64 = 1;

impl HubSpot {
    pub(super) async fn complete_companies(
        &self,
        object: ObjectKind,
        records: &mut [RemoteRecord],
        properties: &[String],
    ) -> Result<(), ProviderError> {
        if wants_company(object, properties) && !records.is_empty() {
            self.fill_companies(records).await?;
        }
        Ok(())
    }

    /// Sets `associations.companies` on the given contacts, read with [`PRIMARY_COMPANY`]: a
    /// contact's primary company comes with it, and only the companies of contacts without
    /// one are read from the associations.
    pub(super) async fn fill_companies(
        &self,
        records: &mut [RemoteRecord],
    ) -> Result<(), ProviderError> {
        let mut ids = Vec::new();
        for r in records.iter_mut() {
            if !with_primary_company(r) {
                ids.push(r.id.clone());
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let map = self.read_company_links(&ids).await?;
        for r in records.iter_mut().filter(|r| !has_primary(r)) {
            r.props.remove(COMPANY_ASSOCIATION);
            if let Some(links) = map.get(&r.id)
                && let Some(company) = pick_company(links)
            {
                r.props.insert(COMPANY_ASSOCIATION.into(), company);
            }
        }
        Ok(())
    }

    /// contact id → [(company id, is primary)] via the v4 batch association read.
    pub(super) async fn read_company_links(
        &self,
        contact_ids: &[String],
    ) -> Result<HashMap<String, Vec<(String, bool)>>, ProviderError> {
        let mut out: HashMap<String, Vec<(String, bool)>> = HashMap::new();
        for chunk in contact_ids.chunks(BATCH) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            let resp = self
                .http
                .send(
                    Request::new(
                        Method::Post,
                        "/crm/v4/associations/contacts/companies/batch/read",
                    )
                    .json(json!({ "inputs": inputs })),
                )
                .await?;
            // 207 lists contacts without associations as errors; only results matter here.
            if !resp.is_success() {
                return Err(self.http.api_error(
                    &Request::new(Method::Post, "/crm/v4/associations/contacts/companies"),
                    &resp,
                ));
            }
            let body: Value = self.parse(&resp, "an association read")?;
            for result in body["results"].as_array().into_iter().flatten() {
                let Some(from) = json_id(&result["from"]["id"]) else {
                    continue;
                };
                let entry = out.entry(from).or_default();
                for to in result["to"].as_array().into_iter().flatten() {
                    let Some(to_id) = json_id(&to["toObjectId"]) else {
                        continue;
                    };
                    let primary = to["associationTypes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|t| t["typeId"].as_i64() == Some(PRIMARY_COMPANY_TYPE));
                    entry.push((to_id, primary));
                }
            }
        }
        Ok(out)
    }

    /// Makes each contact associated with exactly the given company (or none). Returns per
    /// input an error message when HubSpot refused the change.
    pub(super) async fn set_companies(
        &self,
        wanted: &[(String, Option<String>)],
    ) -> Result<Vec<Option<RecordError>>, ProviderError> {
        let mut errors = vec![None; wanted.len()];
        if wanted.is_empty() {
            return Ok(errors);
        }
        let ids: Vec<String> = wanted.iter().map(|(c, _)| c.clone()).collect();
        let current = self.read_company_links(&ids).await?;
        let mut archive: Vec<(usize, Value)> = Vec::new();
        let mut associate: Vec<(usize, Value)> = Vec::new();
        for (i, (contact, company)) in wanted.iter().enumerate() {
            let links = current.get(contact).cloned().unwrap_or_default();
            let stale: Vec<Value> = links
                .iter()
                .filter(|(id, _)| Some(id) != company.as_ref())
                .map(|(id, _)| json!({ "id": id }))
                .collect();
            if !stale.is_empty() {
                archive.push((i, json!({ "from": { "id": contact }, "to": stale })));
            }
            if let Some(company) = company
                && !links.iter().any(|(id, _)| id == company)
            {
                associate.push((
                    i,
                    json!({ "from": { "id": contact }, "to": { "id": company } }),
                ));
            }
        }
        // The stale companies go first: a contact left without a primary company takes the
        // next one associated as its primary, which is what a HubSpot user then sees.
        for (path, items) in [
            (
                "/crm/v4/associations/contacts/companies/batch/archive",
                &archive,
            ),
            (
                "/crm/v4/associations/contacts/companies/batch/associate/default",
                &associate,
            ),
        ] {
            for chunk in items.chunks(BATCH) {
                let inputs: Vec<Value> = chunk.iter().map(|(_, v)| v.clone()).collect();
                let resp = self
                    .http
                    .send(Request::new(Method::Post, path).json(json!({ "inputs": inputs })))
                    .await?;
                if resp.is_success() && resp.status != 207 {
                    continue;
                }
                let message = self.http.error_text(&resp.body);
                let parsed: Option<BatchResponse> = serde_json::from_str(&resp.body).ok();
                for (i, _) in chunk {
                    let contact = &wanted[*i].0;
                    let own = parsed.as_ref().and_then(|b| {
                        b.errors
                            .iter()
                            .find(|e| e.mentions(contact))
                            .map(|e| e.message.clone())
                    });
                    // On 207 only the inputs HubSpot names failed; otherwise all of them did.
                    if resp.status == 207 && own.is_none() {
                        continue;
                    }
                    errors[*i] = Some(record_error(
                        format!(
                            "the company association was not changed: {}",
                            own.unwrap_or_else(|| message.clone())
                        ),
                        Some(resp.status.to_string()),
                    ));
                }
            }
        }
        Ok(errors)
    }

    /// Applies `associations.companies` of the inputs that carry it to the contacts written.
    pub(super) async fn apply_companies(
        &self,
        inputs: &[RemoteWrite],
        results: &mut WriteResults<RemoteRecord>,
        creating: bool,
    ) -> Result<(), ProviderError> {
        let mut idx = Vec::new();
        let mut wanted = Vec::new();
        for (i, (w, r)) in inputs.iter().zip(results.iter()).enumerate() {
            let Ok(rec) = r else { continue };
            let Some(company) = w.props.get(COMPANY_ASSOCIATION) else {
                continue;
            };
            // A new contact has no association to remove; an empty value needs no call.
            if creating && company.is_empty() {
                continue;
            }
            idx.push(i);
            wanted.push((
                rec.id.clone(),
                (!company.is_empty()).then(|| company.clone()),
            ));
        }
        let errors = self.set_companies(&wanted).await?;
        for ((i, (_, company)), err) in idx.into_iter().zip(wanted).zip(errors) {
            match err {
                Some(e) => results[i] = Err(e),
                None => {
                    if let Ok(rec) = &mut results[i] {
                        match company {
                            Some(c) => rec.props.insert(COMPANY_ASSOCIATION.into(), c),
                            None => rec.props.remove(COMPANY_ASSOCIATION),
                        };
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether HubSpot named the contact's primary company with the record.
pub(super) fn has_primary(r: &RemoteRecord) -> bool {
    r.props.get(PRIMARY_COMPANY).is_some_and(|c| !c.is_empty())
}

/// Whether a read of `object` with `properties` asks for the contact's company.
/// Sets a contact's `associations.companies` to its primary company when it has one; says
/// whether it had.
pub(super) fn with_primary_company(r: &mut RemoteRecord) -> bool {
    match r.props.get(PRIMARY_COMPANY).filter(|c| !c.is_empty()) {
        Some(primary) => {
            let primary = primary.clone();
            r.props.insert(COMPANY_ASSOCIATION.into(), primary);
            true
        }
        None => false,
    }
}

pub(super) fn wants_company(object: ObjectKind, properties: &[String]) -> bool {
    object == ObjectKind::Contact && properties.iter().any(|p| p == COMPANY_ASSOCIATION)
}

pub(super) fn pick_company(links: &[(String, bool)]) -> Option<String> {
    links
        .iter()
        .find(|(_, primary)| *primary)
        .or_else(|| links.first())
        .map(|(id, _)| id.clone())
}
