//! Batch writes and how their answers are matched to the inputs.
//!
//! Batch calls (100 inputs) may answer 207 with `results` and `errors`. Results are matched to
//! inputs by `crmsync_id` (creates) or by id (updates). Errors are matched by their `context`
//! values (HubSpot lists the failing ids or values there); an input that is still unmatched
//! takes a remaining error by elimination when exactly one is left, and otherwise gets an error
//! saying HubSpot did not report on it (retryable: the next run looks it up). A batch that
//! HubSpot refuses as a whole with 400 or 409 is split in halves until the refused inputs are
//! isolated, so one bad record does not fail the other 99.
//!
//! A duplicate (409 `Contact already exists. Existing ID: 123`) becomes a [`RecordError`](crate::providers::RecordError) of
//! kind [`RecordErrorKind::Duplicate`](crate::providers::RecordErrorKind::Duplicate) with `existing_id` 123. The engine then reads
//! contact 123 with [`Provider::read_by_ids`](crate::providers::Provider::read_by_ids) (`POST /crm/v3/objects/contacts/batch/read` by
//! id, with its company as the change feed reads it) and, unless 123 is linked to another
//! local contact already, links the local contact to it and merges the two in the same run,
//! as it does a contact matched by email. This is how a new local contact meets a HubSpot
//! contact with its email that is older than the change feed's cursor, which the pull never
//! saw.
//!
//! ## Merged records
//! A record merged into another in HubSpot is gone as a record of its own (not archived: it
//! leaves the search and the archived list alike), but its id still reads and updates as the
//! record it went into: HubSpot answers with the survivor, under the survivor's id, and the
//! survivor lists the ids merged into it in `hs_merged_object_ids`. (The OpenAPI description
//! says nothing of merged ids; the redirect is how the API digest describes HubSpot, marked
//! unconfirmed there.) [`Provider::update`](crate::providers::Provider::update) answers such an input with the survivor, and the
//! engine moves the link to it. Batch update results are matched to inputs by id, so a result
//! whose id no input has is paired with an input left without one: by elimination when there
//! is one of each, else through one batch read of those inputs' ids that asks for
//! `hs_merged_object_ids`. The change feed asks for `hs_merged_object_ids` too: a merge
//! modifies the survivor, so the next pull meets it, and [`Provider::merged_from`](crate::providers::Provider::merged_from) names the
//! ids it absorbed; the engine moves a link of one of them to it before planning.
//!
//! ## The external id of a linked record
//! An update whose [`RemoteWrite::set_external_id`](crate::providers::RemoteWrite::set_external_id) is set also writes the local id into
//! `crmsync_id`: the engine asks for it on the first write to a record it linked without
//! having created it (matched by email, or refused as a duplicate), so that every linked
//! record carries its local id as the ones crmsync created do.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::refusal::{record_error, refusal_message, refusing_too_long, unknown_properties};
use super::wire::{BatchResponse, StandardError, props_body, to_record};
use super::{
    BATCH, COMPANY_ASSOCIATION, EXTERNAL_ID, HubSpot, MERGED_IDS, modified_property, object_path,
};
use crate::model::ObjectKind;
use crate::providers::http::{Method, Request};
use crate::providers::{
    Provider, ProviderError, RecordError, RecordErrorKind, RemoteRecord, RemoteWrite,
    UNKNOWN_PROPERTIES_CODE_PREFIX, WriteResults,
};

impl HubSpot {
    pub(super) async fn create_records(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let send =
            |sent: Vec<RemoteWrite>| async move { Provider::create(self, object, &sent).await };
        if let Some(out) = refusing_too_long(inputs, send).await {
            return out;
        }
        let path = object_path(object)?;
        let modified = modified_property(object);
        let url = format!("/crm/v3/objects/{path}/batch/upsert");
        let key = |w: &RemoteWrite| w.local_id.clone();
        let body = |chunk: &[RemoteWrite]| {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|w| {
                    // The id property is also sent as a property so that HubSpot echoes it in
                    // the result, which is how results are matched to inputs.
                    let mut props = props_body(&w.props, true);
                    props[EXTERNAL_ID] = Value::String(w.local_id.clone());
                    json!({
                        "id": w.local_id,
                        "idProperty": EXTERNAL_ID,
                        "properties": props,
                    })
                })
                .collect();
            json!({ "inputs": inputs })
        };
        let mut results = self
            .batch_write(&url, inputs, &key, &body, modified)
            .await?
            .finish();
        for (r, w) in results.iter_mut().zip(inputs) {
            if let Ok(rec) = r {
                carries_local_id(rec, w);
            }
        }
        if object == ObjectKind::Contact {
            self.apply_companies(inputs, &mut results, true).await?;
        }
        if object == ObjectKind::Deal {
            self.apply_deal_links(inputs, &mut results).await?;
        }
        Ok(results)
    }

    pub(super) async fn update_records(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let send =
            |sent: Vec<RemoteWrite>| async move { Provider::update(self, object, &sent).await };
        if let Some(out) = refusing_too_long(inputs, send).await {
            return out;
        }
        let path = object_path(object)?;
        if let Some(w) = inputs.iter().find(|w| w.remote_id.is_none()) {
            return Err(ProviderError::Other(format!(
                "cannot update record `{}` in HubSpot without its HubSpot id",
                w.local_id
            )));
        }
        let has_props = |w: &RemoteWrite| {
            w.set_external_id || w.props.keys().any(|k| !k.starts_with("associations."))
        };
        let (writes, reads): (Vec<usize>, Vec<usize>) =
            (0..inputs.len()).partition(|i| has_props(&inputs[*i]));
        let mut results: Vec<Option<Result<RemoteRecord, RecordError>>> = vec![None; inputs.len()];
        if !writes.is_empty() {
            let write_inputs: Vec<RemoteWrite> =
                writes.iter().map(|i| inputs[*i].clone()).collect();
            let written = self.update_properties(object, path, &write_inputs).await?;
            for (i, r) in writes.iter().zip(written) {
                results[*i] = Some(r);
            }
        }
        if !reads.is_empty() {
            self.read_back(object, inputs, reads, &mut results).await?;
        }
        let mut results: WriteResults<RemoteRecord> = results
            .into_iter()
            .map(|r| r.expect("every input has a result"))
            .collect();
        for (r, w) in results.iter_mut().zip(inputs) {
            if let Ok(rec) = r
                && w.set_external_id
            {
                carries_local_id(rec, w);
            }
        }
        if object == ObjectKind::Contact {
            self.apply_companies(inputs, &mut results, false).await?;
        }
        if object == ObjectKind::Deal {
            self.apply_deal_links(inputs, &mut results).await?;
        }
        Ok(results)
    }

    /// `POST …/batch/update` of inputs that set properties, each answered as HubSpot now holds
    /// the record (a record merged away by the record it went into).
    async fn update_properties(
        &self,
        object: ObjectKind,
        path: &str,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let url = format!("/crm/v3/objects/{path}/batch/update");
        let body = |chunk: &[RemoteWrite]| {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|w| {
                    let mut props = props_body(&w.props, false);
                    if w.set_external_id {
                        props[EXTERNAL_ID] = Value::String(w.local_id.clone());
                    }
                    json!({ "id": w.remote_id, "properties": props })
                })
                .collect();
            json!({ "inputs": inputs })
        };
        let modified = modified_property(object);
        let mut out = self
            .batch_write(&url, inputs, &remote_key, &body, modified)
            .await?;
        self.claim_merged(object, inputs, &mut out).await?;
        Ok(out.finish())
    }

    /// Answers the inputs `reads`, which change only the company: HubSpot's current version is
    /// read back instead (a record merged away reads as the one it went into, which lists it).
    async fn read_back(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
        reads: Vec<usize>,
        results: &mut [Option<Result<RemoteRecord, RecordError>>],
    ) -> Result<(), ProviderError> {
        let ids: Vec<String> = reads.iter().map(|i| remote_key(&inputs[*i])).collect();
        let mut found = self
            .batch_read(
                object,
                None,
                &ids,
                &[COMPANY_ASSOCIATION.to_string(), MERGED_IDS.to_string()],
            )
            .await?;
        for i in reads {
            let id = remote_key(&inputs[i]);
            let at = found
                .iter()
                .position(|r| r.id == id)
                .or_else(|| found.iter().position(|r| answers_for(r, &id)));
            results[i] = Some(match at {
                Some(at) => Ok(found.swap_remove(at)),
                None => Err(RecordError {
                    message: format!(
                        "HubSpot has no live {object} `{id}` (archived or deleted there): \
                         restore it in HubSpot, or archive the local record, then run \
                         `crmsync retry`"
                    ),
                    code: Some("404".into()),
                    retryable: false,
                    kind: RecordErrorKind::Refused,
                }),
            });
        }
        Ok(())
    }

    pub(super) async fn archive_records(
        &self,
        object: ObjectKind,
        remote_ids: &[String],
    ) -> Result<WriteResults<()>, ProviderError> {
        let path = object_path(object)?;
        let mut out = Vec::with_capacity(remote_ids.len());
        for chunk in distinct_chunks(remote_ids, BATCH, &|id: &String| id.clone()) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            self.http
                .send_ok(
                    Request::new(
                        Method::Post,
                        format!("/crm/v3/objects/{path}/batch/archive"),
                    )
                    .json(json!({ "inputs": inputs })),
                )
                .await?;
            out.extend(chunk.iter().map(|_| Ok(())));
        }
        Ok(out)
    }

    /// Sends a batch write, splitting it when HubSpot refuses the whole call with 400 or 409
    /// so that the refused inputs are isolated. `body` builds the request for a slice of inputs.
    async fn batch_write<'a>(
        &self,
        path: &str,
        inputs: &'a [RemoteWrite],
        key: &(dyn Fn(&RemoteWrite) -> String + Sync),
        body: &(dyn Fn(&[RemoteWrite]) -> Value + Sync),
        modified: &str,
    ) -> Result<Matched, ProviderError> {
        let mut out = Matched::default();
        let mut stack: Vec<&'a [RemoteWrite]> = distinct_chunks(inputs, BATCH, key)
            .into_iter()
            .rev()
            .collect();
        while let Some(chunk) = stack.pop() {
            let mut req = Request::new(Method::Post, path).json(body(chunk));
            if let [only] = chunk {
                req = req.record(only.local_id.clone());
            }
            let resp = self.http.send(req.clone()).await?;
            if matches!(resp.status, 400 | 409) {
                if chunk.len() > 1 {
                    let (a, b) = chunk.split_at(chunk.len() / 2);
                    tracing::debug!(
                        status = resp.status,
                        size = chunk.len(),
                        "batch refused as a whole; splitting"
                    );
                    stack.push(b);
                    stack.push(a);
                    continue;
                }
                let raw =
                    refusal_message(&resp.body).unwrap_or_else(|| self.http.error_text(&resp.body));
                let mut refused = record_error(raw, Some(resp.status.to_string()));
                let unknown = unknown_properties(&resp.body);
                if !unknown.is_empty() {
                    refused.code = Some(format!(
                        "{UNKNOWN_PROPERTIES_CODE_PREFIX}{}",
                        unknown.join(",")
                    ));
                }
                out.results.push(Some(Err(refused)));
                continue;
            }
            if !resp.is_success() {
                return Err(self.http.api_error(&req, &resp));
            }
            let batch: BatchResponse = self.parse(&resp, "a batch write")?;
            let (results, unclaimed) = match_results(chunk, batch, key, modified);
            out.results.extend(results);
            out.unclaimed.extend(unclaimed);
        }
        Ok(out)
    }

    /// Pairs the updates HubSpot did not report on by id with the results that answered no
    /// input: a record merged away is updated as the record it was merged into, which
    /// answers with its own id. One batch read of those inputs' ids (which HubSpot also
    /// answers with the records they went into, listing them in `hs_merged_object_ids`)
    /// tells which result answers which input.
    async fn claim_merged(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
        out: &mut Matched,
    ) -> Result<(), ProviderError> {
        let unreported: Vec<usize> = (0..inputs.len())
            .filter(|i| out.results[*i].is_none())
            .collect();
        if unreported.is_empty() || out.unclaimed.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = unreported
            .iter()
            .filter_map(|i| inputs[*i].remote_id.clone())
            .collect();
        let survivors = self
            .batch_read(object, None, &ids, &[MERGED_IDS.to_string()])
            .await?;
        for i in unreported {
            let Some(id) = inputs[i].remote_id.as_deref() else {
                continue;
            };
            let Some(survivor) = survivors.iter().find(|r| answers_for(r, id)) else {
                continue;
            };
            if let Some(at) = out.unclaimed.iter().position(|r| r.id == survivor.id) {
                out.results[i] = Some(Ok(out.unclaimed.swap_remove(at)));
            }
        }
        Ok(())
    }
}

/// The key an update is matched by: its HubSpot id.
fn remote_key(w: &RemoteWrite) -> String {
    w.remote_id.clone().unwrap_or_default()
}

/// A batch write's outcome per input, `None` where HubSpot did not report on the input, and
/// the results that answered no input (see [`match_results`]).
#[derive(Default)]
struct Matched {
    results: Vec<Option<Result<RemoteRecord, RecordError>>>,
    unclaimed: Vec<RemoteRecord>,
}

impl Matched {
    /// Each input's outcome; an input HubSpot did not report on gets an error saying so.
    fn finish(self) -> WriteResults<RemoteRecord> {
        self.results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(RecordError {
                        message: "HubSpot did not report on this record; it is looked up by \
                                  `crmsync_id` on the next run"
                            .into(),
                        code: None,
                        retryable: true,
                        kind: RecordErrorKind::Refused,
                    })
                })
            })
            .collect()
    }
}

/// `items` cut, in order, into chunks of at most `size` in which no key repeats: HubSpot
/// refuses a whole batch in which two inputs name the same record, so a record written twice
/// in one call (two local records linked to one HubSpot id, an id repeated after a merge)
/// goes in the next call instead.
fn distinct_chunks<'a, T>(
    items: &'a [T],
    size: usize,
    key: &(dyn Fn(&T) -> String + Sync),
) -> Vec<&'a [T]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen: HashSet<String> = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let k = key(item);
        if i - start == size || seen.contains(&k) {
            out.push(&items[start..i]);
            start = i;
            seen.clear();
        }
        seen.insert(k);
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

/// Marks the answer to `w` as carrying its local id in `crmsync_id`, which was written.
fn carries_local_id(rec: &mut RemoteRecord, w: &RemoteWrite) {
    rec.external_id = Some(w.local_id.clone());
    rec.props
        .entry(EXTERNAL_ID.to_string())
        .or_insert_with(|| w.local_id.clone());
}

/// Whether `rec` is HubSpot's answer for id `id`: the record itself, or the record `id` was
/// merged into (which lists it in `hs_merged_object_ids`, when that was asked for).
fn answers_for(rec: &RemoteRecord, id: &str) -> bool {
    rec.id == id
        || rec
            .props
            .get(MERGED_IDS)
            .is_some_and(|ids| ids.split(';').any(|m| m.trim() == id))
}

/// Pairs batch results and errors with the inputs (see the module doc): one outcome per
/// input (`None` where HubSpot did not report on it), and the results that answered none.
fn match_results(
    inputs: &[RemoteWrite],
    batch: BatchResponse,
    key: &(dyn Fn(&RemoteWrite) -> String + Sync),
    modified: &str,
) -> (
    Vec<Option<Result<RemoteRecord, RecordError>>>,
    Vec<RemoteRecord>,
) {
    let mut by_key: HashMap<String, RemoteRecord> = HashMap::new();
    let mut unkeyed: Vec<RemoteRecord> = Vec::new();
    for o in batch.results {
        let r = to_record(o, modified);
        let k = if inputs.iter().any(|i| i.remote_id.is_some()) {
            Some(r.id.clone())
        } else {
            r.external_id.clone()
        };
        match k {
            Some(k) => {
                by_key.insert(k, r);
            }
            None => unkeyed.push(r),
        }
    }
    let mut errors: Vec<Option<StandardError>> = batch.errors.into_iter().map(Some).collect();
    let mut out: Vec<Option<Result<RemoteRecord, RecordError>>> = inputs
        .iter()
        .map(|i| by_key.remove(&key(i)).map(Ok))
        .collect();
    for (slot, input) in out.iter_mut().zip(inputs) {
        if slot.is_some() {
            continue;
        }
        let k = key(input);
        if let Some(e) = errors
            .iter_mut()
            .find(|e| e.as_ref().is_some_and(|e| e.mentions(&k)))
            .and_then(Option::take)
        {
            let status = e.status_text();
            *slot = Some(Err(record_error(e.message, status)));
        }
    }
    // By elimination: one input left and one result (or error) left belong together.
    let left: Vec<usize> = (0..inputs.len()).filter(|i| out[*i].is_none()).collect();
    let mut errors: Vec<StandardError> = errors.into_iter().flatten().collect();
    let mut results: Vec<RemoteRecord> = unkeyed;
    results.extend(by_key.into_values());
    if left.len() == 1 {
        if results.len() == 1 && errors.is_empty() {
            out[left[0]] = results.pop().map(Ok);
        } else if errors.len() == 1 && results.is_empty() {
            let e = errors.pop().expect("one error");
            let status = e.status_text();
            out[left[0]] = Some(Err(record_error(e.message, status)));
        }
    }
    (out, results)
}
