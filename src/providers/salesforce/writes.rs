//! Writes through sObject Collections (at most 200 records a call, DIGEST §3.6), and reads by
//! id or external id through SOQL.
//!
//! - Creates: `PATCH composite/sobjects/Contact/crmsync_id__c`, an upsert by the external id
//!   (`allOrNone: false`): a create sent again after a lost answer updates the record the
//!   first one made instead of making another. An external id that matches several records
//!   is refused for that record, with the matches, and never resolved by picking one.
//! - Updates: `PATCH composite/sobjects`, each record with its `id`.
//! - Deletes: `DELETE composite/sobjects?ids=…&allOrNone=false`; a record deleted already is
//!   done.
//!
//! Each answer is an array of save results in input order (`{id, success, errors,
//! created}`); a refused record becomes a failure with Salesforce's message and code. The
//! records written are then read back with one query, so that each is returned as
//! Salesforce now holds it (its `SystemModstamp` above all).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::refusal::record_error;
use super::wire::{quote, record_of, select_list, text, write_record};
use super::{COLLECTION_LIMIT, EXTERNAL_ID, Salesforce, sobject};
use crate::model::ObjectKind;
use crate::providers::http::Method;
use crate::providers::{ProviderError, RecordError, RemoteRecord, RemoteWrite, WriteResults};

/// The save-result code of an upsert whose external id matches several records (the 300 of
/// a single-record upsert, DIGEST §3.3); the code within a collection is unconfirmed there.
const SEVERAL_MATCH: &[&str] = &["DUPLICATE_EXTERNAL_ID", "MULTIPLE_CHOICES"];
/// The Contact field the take-over of [`Salesforce::left_live`] compares.
const EMAIL: &str = "Email";
/// Save-result codes of a delete whose record is gone already.
const GONE: &[&str] = &["ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"];

impl Salesforce {
    pub(super) async fn upsert_records(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let path = self.data_path(&format!(
            "composite/sobjects/{}/{EXTERNAL_ID}",
            sobject(object)
        ));
        let taken = self.left_live(object, inputs).await?;
        if taken.iter().all(Option::is_none) {
            return self.write(object, inputs, Method::Patch, path, true).await;
        }
        // The creates a live record already holds are answered as its duplicates; the rest
        // are sent, their answers put back in input order.
        let rest: Vec<RemoteWrite> = inputs
            .iter()
            .zip(&taken)
            .filter(|(_, t)| t.is_none())
            .map(|(w, _)| w.clone())
            .collect();
        let mut sent = self
            .write(object, &rest, Method::Patch, path, true)
            .await?
            .into_iter();
        Ok(taken
            .into_iter()
            .map(|t| match t {
                Some(duplicate) => Err(duplicate),
                None => sent.next().unwrap_or_else(|| {
                    Err(RecordError {
                        message: "Salesforce did not answer for this record".into(),
                        code: None,
                        retryable: true,
                        kind: Default::default(),
                    })
                }),
            })
            .collect())
    }

    /// Per create, a record of [`RemoteWrite::takes_over`] still live with the create's email,
    /// as the duplicate the create would make. Salesforce lets two contacts share an email
    /// (unless the org has a duplicate rule), so a create is not refused as HubSpot refuses
    /// one: the records an archive here left live are read by id instead, only for such
    /// creates (one query for the batch).
    async fn left_live(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<Vec<Option<RecordError>>, ProviderError> {
        let ids: Vec<String> = inputs
            .iter()
            .flat_map(|w| w.takes_over.iter().cloned())
            .collect();
        if ids.is_empty() || object != ObjectKind::Contact {
            return Ok(vec![None; inputs.len()]);
        }
        let found = self
            .read_where(object, "Id", &ids, &[EMAIL.to_string()])
            .await?;
        Ok(inputs
            .iter()
            .map(|w| {
                w.left_live(&found, EMAIL).map(|r| RecordError {
                    message: format!(
                        "Salesforce {object} `{}` holds this record already: a local record \
                             archived here left it live",
                        r.id
                    ),
                    code: None,
                    retryable: false,
                    kind: crate::providers::RecordErrorKind::Duplicate {
                        existing_id: r.id.clone(),
                    },
                })
            })
            .collect())
    }

    pub(super) async fn update_records(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let path = self.data_path("composite/sobjects");
        self.write(object, inputs, Method::Patch, path, false).await
    }

    async fn write(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
        method: Method,
        path: String,
        create: bool,
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let mut out: WriteResults<String> = Vec::with_capacity(inputs.len());
        let catalogue = self.catalogue(object).await?;
        for chunk in inputs.chunks(COLLECTION_LIMIT) {
            let records: Vec<Value> = chunk
                .iter()
                .map(|w| write_record(object, w, create, &catalogue))
                .collect();
            let req = self
                .request(method, path.clone())
                .json(json!({ "allOrNone": false, "records": records }));
            let resp = self.send(req.clone()).await?;
            if resp.status == 300 {
                return Err(ProviderError::Api {
                    crm: "Salesforce",
                    connection: self.http.connection().into(),
                    status: 300,
                    message: format!(
                        "an external id matches several records ({}); crmsync does not pick one: merge or clear the duplicates' `{EXTERNAL_ID}` in Salesforce",
                        resp.body.trim()
                    ),
                });
            }
            if !resp.is_success() {
                return Err(self.http.api_error(&req, &resp));
            }
            let results: Vec<Value> = self.parse(&resp, "a collection write")?;
            if results.len() != chunk.len() {
                return Err(ProviderError::Other(format!(
                    "Salesforce answered {} results to a write of {} records",
                    results.len(),
                    chunk.len()
                )));
            }
            out.extend(chunk.iter().zip(&results).map(|(w, r)| saved(w, r)));
        }
        self.read_back(object, inputs, out).await
    }

    /// The records written, as Salesforce now holds them.
    async fn read_back(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
        saved: WriteResults<String>,
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let ids: Vec<String> = saved
            .iter()
            .filter_map(|r| r.as_ref().ok().cloned())
            .collect();
        let mut props: Vec<String> = inputs
            .iter()
            .flat_map(|w| w.props.keys().cloned())
            .collect();
        props.sort();
        props.dedup();
        props.push(EXTERNAL_ID.to_string());
        let mut read: HashMap<String, RemoteRecord> = self
            .read_where(object, "Id", &ids, &props)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let now = self.clock.now();
        Ok(saved
            .into_iter()
            .zip(inputs)
            .map(|(r, w)| {
                r.map(|id| {
                    read.remove(&id).unwrap_or_else(|| RemoteRecord {
                        id,
                        props: w.props.clone(),
                        updated_at: now,
                        external_id: Some(w.local_id.clone()),
                        ..RemoteRecord::default()
                    })
                })
            })
            .collect())
    }

    pub(super) async fn delete_records(
        &self,
        object: ObjectKind,
        ids: &[String],
    ) -> Result<WriteResults<()>, ProviderError> {
        let _ = object;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(COLLECTION_LIMIT) {
            let req = self
                .request(Method::Delete, self.data_path("composite/sobjects"))
                .query("ids", chunk.join(","))
                .query("allOrNone", "false");
            let resp = self.send_ok(req).await?;
            let results: Vec<Value> = self.parse(&resp, "a collection delete")?;
            if results.len() != chunk.len() {
                return Err(ProviderError::Other(format!(
                    "Salesforce answered {} results to a delete of {} records",
                    results.len(),
                    chunk.len()
                )));
            }
            out.extend(results.iter().map(|r| {
                if r["success"].as_bool() == Some(true) {
                    return Ok(());
                }
                let e = record_error(&r["errors"]);
                if e.code.as_deref().is_some_and(|c| GONE.contains(&c)) {
                    Ok(())
                } else {
                    Err(e)
                }
            }));
        }
        Ok(out)
    }

    /// The live records of `object` whose `field` is one of `values`, with `properties`:
    /// `SELECT … WHERE field IN (…)`, 200 values a query.
    pub(super) async fn read_where(
        &self,
        object: ObjectKind,
        field: &str,
        values: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let catalogue = self.catalogue(object).await?;
        let select = select_list(&catalogue, properties).join(", ");
        let mut out = Vec::new();
        for chunk in values.chunks(COLLECTION_LIMIT) {
            let list: Vec<String> = chunk.iter().map(|v| quote(v)).collect();
            let soql = format!(
                "SELECT {select} FROM {} WHERE {field} IN ({})",
                sobject(object),
                list.join(", ")
            );
            let mut req = self.soql("query", &soql);
            loop {
                let resp = self.send_ok(req).await?;
                let v: Value = self.parse(&resp, "a query")?;
                out.extend(
                    v["records"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| record_of(object, r, &catalogue, properties))
                        .filter(|r| !r.archived),
                );
                match v["nextRecordsUrl"].as_str() {
                    Some(url) if v["done"].as_bool() == Some(false) => {
                        req = self.query_request(url.to_string());
                    }
                    _ => break,
                }
            }
        }
        Ok(out)
    }
}

/// One save result: the record's id, or why it was refused.
fn saved(w: &RemoteWrite, r: &Value) -> Result<String, RecordError> {
    if r["success"].as_bool() == Some(true) {
        return text(&r["id"])
            .or_else(|| w.remote_id.clone())
            .ok_or_else(|| RecordError {
                message: "Salesforce saved the record without naming its id".into(),
                code: None,
                retryable: true,
                kind: Default::default(),
            });
    }
    let mut e = record_error(&r["errors"]);
    if e.code
        .as_deref()
        .is_some_and(|c| SEVERAL_MATCH.contains(&c))
    {
        e.message = format!(
            "`{EXTERNAL_ID}` `{}` matches several Salesforce records, and crmsync does not pick one: {}",
            w.local_id, e.message
        );
        e.retryable = false;
    }
    Err(e)
}
