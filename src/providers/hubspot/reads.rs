//! Reads by id (or by `crmsync_id`), and property history for `newest-wins`.
//!
//! The search API that feeds the change feed carries no property history, so the records it
//! returns have record times only (`updatedAt`). When the engine's plan of a page holds
//! `newest-wins` conflicts, it asks [`Provider::field_times`](crate::providers::Provider::field_times) for just those records and just
//! the conflicting mapped properties, and this module reads them with
//! `POST /crm/v3/objects/{type}/batch/read` by id: `"properties": []`,
//! `"propertiesWithHistory": [the conflicting properties]`, one call per 100 conflicting
//! records. A property's time is the newest `timestamp` of its history entries (HubSpot stamps
//! each entry with the time of the write). Associations have no history and are not asked for
//! (their conflicts compare record times). A page without a `newest-wins` conflict, and so a
//! no-op sync, makes no such call.

use serde_json::{Value, json};

use super::associations::wants_company;
use super::wire::{BatchResponse, HsObject, history_times, to_record};
use super::{BATCH, COMPANY_ASSOCIATION, HubSpot, PRIMARY_COMPANY, modified_property, object_path};
use crate::model::ObjectKind;
use crate::providers::http::{Method, Request};
use crate::providers::{FieldTimes, ProviderError, RemoteRecord};

impl HubSpot {
    pub(super) async fn property_times(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<FieldTimes, ProviderError> {
        // Associations are not properties and have no history; a contact's company changes
        // with its primary company, whose property has one.
        let mut history: Vec<String> = properties
            .iter()
            .filter(|p| !p.starts_with("associations."))
            .cloned()
            .collect();
        let company = wants_company(object, properties);
        if company && !history.iter().any(|p| p == PRIMARY_COMPANY) {
            history.push(PRIMARY_COMPANY.to_string());
        }
        if ids.is_empty() || history.is_empty() {
            return Ok(FieldTimes::new());
        }
        Ok(self
            .batch_read_objects(object, None, ids, &[], &history, false)
            .await?
            .iter()
            .map(|o| {
                let mut times = history_times(o);
                if company && let Some(at) = times.get(PRIMARY_COMPANY).copied() {
                    times.insert(COMPANY_ASSOCIATION.to_string(), at);
                }
                times.retain(|p, _| properties.contains(p));
                (o.id.clone(), times)
            })
            .filter(|(_, times)| !times.is_empty())
            .collect())
    }

    /// Batch read by id or by `id_property` (`POST …/batch/read`, 100 inputs a call), archived
    /// records excluded; ids HubSpot does not know (named in a 207's errors) are left out. A
    /// contact's company is read with the v4 association read, as the change feed does, when
    /// `properties` asks for `associations.companies`.
    pub(super) async fn batch_read(
        &self,
        object: ObjectKind,
        id_property: Option<&str>,
        ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        let mut out = self
            .batch_records(object, id_property, ids, properties, false)
            .await?;
        let want_company = wants_company(object, properties);
        if want_company && !out.is_empty() {
            self.fill_companies(&mut out).await?;
        }
        Ok(out)
    }

    /// `POST …/batch/read?archived=true` of `ids`: the archived records among them, with
    /// `properties` (a contact's company left out: it is archived).
    pub(super) async fn batch_read_archived(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        self.batch_records(object, None, ids, properties, true)
            .await
    }

    /// [`HubSpot::batch_read_objects`] of `ids` with `properties`, as records: the live ones,
    /// or the archived ones (each marked so) when `archived`.
    async fn batch_records(
        &self,
        object: ObjectKind,
        id_property: Option<&str>,
        ids: &[String],
        properties: &[String],
        archived: bool,
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        let modified = modified_property(object);
        let props = self.search_properties(object, properties);
        Ok(self
            .batch_read_objects(object, id_property, ids, &props, &[], archived)
            .await?
            .into_iter()
            .map(|o| {
                let mut r = to_record(o, modified);
                r.archived |= archived;
                r
            })
            .collect())
    }

    /// `POST …/batch/read` of `ids` (by HubSpot id, or by `id_property`), 100 inputs a call,
    /// the archived records only when `archived` (else the live ones only), with `properties`
    /// and `propertiesWithHistory: history`. Ids HubSpot does not know (named in a 207's
    /// errors) are simply absent from the answer.
    pub(super) async fn batch_read_objects(
        &self,
        object: ObjectKind,
        id_property: Option<&str>,
        ids: &[String],
        properties: &[String],
        history: &[String],
        archived: bool,
    ) -> Result<Vec<HsObject>, ProviderError> {
        let path = object_path(object)?;
        let mut out = Vec::new();
        for chunk in ids.chunks(BATCH) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            let mut body = json!({
                "inputs": inputs,
                "properties": properties,
                "propertiesWithHistory": history,
            });
            if let Some(p) = id_property {
                body["idProperty"] = Value::String(p.to_string());
            }
            let resp = self
                .http
                .send_ok(
                    Request::new(Method::Post, format!("/crm/v3/objects/{path}/batch/read"))
                        .query("archived", if archived { "true" } else { "false" })
                        .json(body),
                )
                .await?;
            let batch: BatchResponse = self.parse(&resp, "a batch read")?;
            out.extend(batch.results);
        }
        Ok(out)
    }
}
