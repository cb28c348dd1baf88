//! Writes, one record a call (Pipedrive has no batch writes), at most
//! [`PipedriveOptions::write_concurrency`](super::PipedriveOptions::write_concurrency) in flight;
//! reads by id (`GET /api/v2/persons?ids=…`, a hundred a call) and by external id (the v2
//! search on custom fields, exact match).
//!
//! An update that writes an email, a phone or a name part needs the record as Pipedrive holds
//! it (the arrays are written whole, their other entries kept). A run that read the person by
//! id (`sync --record`, `listen`: the read its plan was made from, which is also what tells
//! the engine whether the person changed in Pipedrive since the last sync) writes over that
//! answer; the others of a batch of updates are read by ids, one call a hundred, right before
//! the batch is sent, never one `GET` each.
//!
//! A create is `POST /api/v2/persons` (`organizations`) with the local id in `crmsync_id`.
//! Sending it twice would make two records, so the shared client does not repeat it blindly:
//! after a 5xx or a lost answer the record is looked up by its `crmsync_id` and sent again
//! only when Pipedrive does not have it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use serde_json::Value;

use super::activities::record_of;
use super::pacing::SEARCH;
use super::wire::{NAME_PARTS, id_of, to_record, write_body};
use super::{EMAIL, EXTERNAL_ID, IDS_PER_READ, PHONE, Pipedrive, object_path};
use crate::model::ObjectKind;
use crate::providers::http::{Method, Request, Response};
use crate::providers::{
    ProviderError, RecordError, RecordErrorKind, RemoteRecord, RemoteWrite, WriteResults,
};

/// How many times a create is sent at most when its answers are lost.
const CREATE_ATTEMPTS: usize = 3;

/// Runs `futs` together and returns their outputs in order.
async fn join_all<F: Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futs.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Whether an answer is Pipedrive failing (a rate limit or a server error that retries did
/// not cure) rather than Pipedrive refusing the record.
fn failing(status: u16) -> bool {
    status == 429 || status >= 500
}

/// A record's refusal from a final answer. Pipedrive failing is not a refusal: it fails the
/// whole write, as a HubSpot batch call that fails does, so the run stops with the write
/// journalled and the next run resumes it (a create is looked up by its `crmsync_id` first),
/// instead of a record failure that waits for `crmsync retry`.
pub(super) fn refusal(p: &Pipedrive, resp: &Response) -> Result<RecordError, ProviderError> {
    let message = p.http.error_text(&resp.body);
    if failing(resp.status) {
        return Err(ProviderError::Api {
            crm: "Pipedrive",
            connection: p.http.connection().to_string(),
            status: resp.status,
            message,
        });
    }
    Ok(RecordError {
        message,
        code: Some(resp.status.to_string()),
        retryable: false,
        kind: Default::default(),
    })
}

/// A refusal from an error of the whole call that concerns this record only (a refusal
/// retries did not change); Pipedrive or the network failing, and anything else (budget,
/// credentials), fails the whole write (see [`refusal`]).
pub(super) fn record_failure(e: ProviderError) -> Result<RecordError, ProviderError> {
    match e {
        ProviderError::Api {
            status, message, ..
        } if !failing(status) => Ok(RecordError {
            message,
            code: Some(status.to_string()),
            retryable: false,
            kind: Default::default(),
        }),
        other => Err(other),
    }
}

/// Whether an update needs the record as Pipedrive holds it: the entries of `emails` /
/// `phones` that are not primary are kept, and the arrays are written whole; so is the name
/// part not written when the other one is.
fn needs_current(w: &RemoteWrite) -> bool {
    [EMAIL, PHONE]
        .iter()
        .chain(NAME_PARTS)
        .any(|p| w.props.contains_key(*p))
}

/// The ids of the records a v2 search answer found.
pub(super) fn search_hits(v: &Value) -> impl Iterator<Item = String> + '_ {
    v["data"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| id_of(&i["item"]))
}

/// What sending a create once came to.
pub(super) enum Sent {
    /// Pipedrive created the record.
    Answered(Response),
    /// Pipedrive refused the record.
    Refused(RecordError),
    /// Pipedrive or the network failed: the record is looked up, then sent again.
    Failed(ProviderError),
}

/// Collects per-record outcomes, failing the whole call on the first whole-call error.
pub(super) fn collect<T>(
    outcomes: Vec<Result<Result<T, RecordError>, ProviderError>>,
) -> Result<WriteResults<T>, ProviderError> {
    outcomes.into_iter().collect()
}

impl Pipedrive {
    /// Runs `one` for each input with at most the configured number in flight.
    pub(super) async fn each<'a, I, T, F, Fut>(&self, inputs: &'a [I], one: F) -> Vec<T>
    where
        F: Fn(&'a I) -> Fut,
        Fut: Future<Output = T>,
    {
        let gate = tokio::sync::Semaphore::new(self.options.write_concurrency.max(1));
        let gate = &gate;
        let one = &one;
        join_all(
            inputs
                .iter()
                .map(|input| async move {
                    let _permit = gate.acquire().await;
                    one(input).await
                })
                .collect(),
        )
        .await
    }

    fn record_from(
        &self,
        resp: &Response,
        catalogue: &super::catalogue::Catalogue,
        properties: &[String],
        what: &str,
    ) -> Result<RemoteRecord, ProviderError> {
        let v: Value = self.parse(resp, what)?;
        to_record(&v["data"], catalogue, properties).ok_or_else(|| {
            ProviderError::Other(format!("Pipedrive answered {what} without a record id"))
        })
    }

    pub(super) async fn create_records(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let path = format!("/api/v2/{}", object_path(object)?);
        let labels = self.label_ids_for_create(object).await?;
        let catalogue = self.write_catalogue(object).await?;
        let outcomes = self
            .each(inputs, |w| {
                let (path, catalogue, labels) = (&path, &catalogue, &labels);
                async move {
                    let mut props = w.props.clone();
                    // Pipedrive needs a name: a person's is made of its parts when not mapped.
                    if props.get("name").is_none_or(String::is_empty) {
                        let parts: Vec<&str> = ["first_name", "last_name"]
                            .iter()
                            .filter_map(|k| props.get(*k).map(String::as_str))
                            .filter(|s| !s.is_empty())
                            .collect();
                        if !parts.is_empty() {
                            props.insert("name".into(), parts.join(" "));
                        }
                    }
                    let mut body = match write_body(&props, Some(&w.local_id), catalogue, None) {
                        Ok(b) => b,
                        Err(refused) => return Ok(Err(refused)),
                    };
                    if let Some(ids) = labels {
                        body["label_ids"] = ids.clone();
                    }
                    let wanted: Vec<String> = w.props.keys().cloned().collect();
                    self.create_one(object, path, body, w, catalogue, &wanted)
                        .await
                }
            })
            .await;
        collect(outcomes)
    }

    /// Sends one create, looking the record up by its external id before sending it again.
    async fn create_one(
        &self,
        object: ObjectKind,
        path: &str,
        body: Value,
        w: &RemoteWrite,
        catalogue: &super::catalogue::Catalogue,
        wanted: &[String],
    ) -> Result<Result<RemoteRecord, RecordError>, ProviderError> {
        if let Some(existing) = self.left_live(object, w, wanted).await? {
            return Ok(Err(existing));
        }
        let mut last: Option<ProviderError> = None;
        for attempt in 0..CREATE_ATTEMPTS {
            if attempt > 0 {
                let found = self
                    .find_external(object, std::slice::from_ref(&w.local_id), wanted)
                    .await?;
                if let Some(r) = found.into_iter().next() {
                    return Ok(Ok(r));
                }
            }
            match self.send_create(path, &body, w).await? {
                Sent::Answered(resp) => {
                    return self
                        .record_from(&resp, catalogue, wanted, "a create")
                        .map(Ok);
                }
                Sent::Refused(refused) => return Ok(Err(refused)),
                Sent::Failed(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ProviderError::Other("the create was not answered".into())))
    }

    /// A record of [`RemoteWrite::takes_over`] still live with the create's email, as the
    /// duplicate the create would make. Pipedrive lets two persons share an email, so a
    /// create is never refused as HubSpot refuses one; the record an archive here left live
    /// is read instead (by id, 10 tokens for up to 100, where a search by email costs 20 and
    /// would also find other persons sharing the address), and only for such creates.
    async fn left_live(
        &self,
        object: ObjectKind,
        w: &RemoteWrite,
        wanted: &[String],
    ) -> Result<Option<RecordError>, ProviderError> {
        if w.takes_over.is_empty() {
            return Ok(None);
        }
        let found = self.read_ids(object, &w.takes_over, wanted).await?;
        Ok(w.left_live(&found, EMAIL).map(|r| RecordError {
            message: format!(
                "Pipedrive {} `{}` holds this record already: a local record archived here \
                     left it live",
                object, r.id
            ),
            code: None,
            retryable: false,
            kind: RecordErrorKind::Duplicate {
                existing_id: r.id.clone(),
            },
        }))
    }

    /// Sends a create once.
    pub(super) async fn send_create(
        &self,
        path: &str,
        body: &Value,
        w: &RemoteWrite,
    ) -> Result<Sent, ProviderError> {
        let req = Request::new(Method::Post, path)
            .json(body.clone())
            .record(w.local_id.clone())
            .not_repeatable();
        Ok(match self.http.send(req).await {
            Ok(resp) if resp.is_success() => Sent::Answered(resp),
            Ok(resp) => match refusal(self, &resp) {
                Ok(refused) => Sent::Refused(refused),
                Err(e) => Sent::Failed(e),
            },
            Err(e) => match record_failure(e) {
                Ok(refused) => Sent::Refused(refused),
                Err(e @ (ProviderError::Network { .. } | ProviderError::Api { .. })) => {
                    Sent::Failed(e)
                }
                Err(e) => return Err(e),
            },
        })
    }

    pub(super) async fn update_records(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let base = format!("/api/v2/{}", object_path(object)?);
        let catalogue = self.write_catalogue(object).await?;
        let current = self.current_of(object, inputs).await?;
        let outcomes = self
            .each(inputs, |w| {
                let (base, catalogue, current) = (&base, &catalogue, &current);
                async move {
                    let Some(id) = w.remote_id.as_deref() else {
                        return Ok(Err(RecordError {
                            message: "an update without a Pipedrive id".into(),
                            code: None,
                            retryable: false,
                            kind: Default::default(),
                        }));
                    };
                    let path = format!("{base}/{id}");
                    // A record the read by ids did not answer (deleted, not visible, or the
                    // only one to read) is read alone, as before: its refusal is its own.
                    let now = match current.get(id) {
                        Some(v) => Some(v.clone()),
                        None if needs_current(w) => {
                            let resp = match self
                                .http
                                .send(Request::new(Method::Get, path.clone()).record(id))
                                .await
                            {
                                Ok(r) => r,
                                Err(e) => return Ok(Err(record_failure(e)?)),
                            };
                            if !resp.is_success() {
                                return Ok(Err(refusal(self, &resp)?));
                            }
                            let v: Value = self.parse(&resp, "a read")?;
                            Some(v["data"].clone())
                        }
                        None => None,
                    };
                    let external = w.set_external_id.then_some(w.local_id.as_str());
                    let body = match write_body(&w.props, external, catalogue, now.as_ref()) {
                        Ok(b) => b,
                        Err(refused) => return Ok(Err(refused)),
                    };
                    let wanted: Vec<String> = w.props.keys().cloned().collect();
                    let req = Request::new(Method::Patch, path).json(body).record(id);
                    match self.http.send(req).await {
                        Ok(resp) if resp.is_success() => self
                            .record_from(&resp, catalogue, &wanted, "an update")
                            .map(Ok),
                        Ok(resp) => Ok(Err(refusal(self, &resp)?)),
                        Err(e) => Ok(Err(record_failure(e)?)),
                    }
                }
            })
            .await;
        collect(outcomes)
    }

    /// The records `inputs` update as Pipedrive holds them, for the writes that need them
    /// ([`needs_current`]), by id: those this run read by id already (the pull that planned
    /// the update read them, a moment ago), then the rest read by ids, a hundred a call (10
    /// tokens), instead of one `GET` (1 token) a record. A single record left is left to that
    /// `GET`: one call either way, and a tenth of the tokens.
    async fn current_of(
        &self,
        object: ObjectKind,
        inputs: &[RemoteWrite],
    ) -> Result<HashMap<String, Value>, ProviderError> {
        let mut out = HashMap::new();
        let mut left = Vec::new();
        {
            let mut read = self.lock_read_persons();
            for id in inputs
                .iter()
                .filter(|w| needs_current(w))
                .filter_map(|w| w.remote_id.as_ref())
            {
                let kept = match object {
                    ObjectKind::Contact => read.remove(id),
                    _ => None,
                };
                match kept {
                    Some(v) => {
                        out.insert(id.clone(), v);
                    }
                    None => left.push(id.clone()),
                }
            }
        }
        if left.len() < 2 {
            return Ok(out);
        }
        for values in self.list_all_ids(object, &left).await {
            for v in values? {
                if let Some(id) = id_of(&v) {
                    out.insert(id, v);
                }
            }
        }
        Ok(out)
    }

    /// Deletes records (`DELETE /api/v2/persons/{id}`): Pipedrive marks them deleted and
    /// removes them for good after 30 days. One already gone (404, 410) counts as deleted.
    pub(super) async fn delete_records(
        &self,
        object: ObjectKind,
        remote_ids: &[String],
    ) -> Result<WriteResults<()>, ProviderError> {
        let base = format!("/api/v2/{}", object_path(object)?);
        let outcomes = self
            .each(remote_ids, |id| {
                let base = &base;
                async move {
                    let req = Request::new(Method::Delete, format!("{base}/{id}")).record(id);
                    match self.http.send(req).await {
                        Ok(resp) if resp.is_success() || matches!(resp.status, 404 | 410) => {
                            Ok(Ok(()))
                        }
                        Ok(resp) => Ok(Err(refusal(self, &resp)?)),
                        Err(e) => Ok(Err(record_failure(e)?)),
                    }
                }
            })
            .await;
        collect(outcomes)
    }

    /// [`Pipedrive::list_ids`] of all `ids`, a hundred a call, the answers in the order of
    /// the ids. The calls go out together (as many in flight as writes), not one after
    /// another: the burst window bounds them, not the round trip.
    async fn list_all_ids(
        &self,
        object: ObjectKind,
        ids: &[String],
    ) -> Vec<Result<Vec<Value>, ProviderError>> {
        let chunks: Vec<&[String]> = ids.chunks(IDS_PER_READ).collect();
        self.each(&chunks, |chunk| self.list_ids(object, chunk))
            .await
    }

    /// One call of `GET /api/v2/persons?ids=…` (`organizations`): the records of `ids` (at
    /// most [`IDS_PER_READ`]) as raw v2 JSON; ones Pipedrive does not have, or does not show,
    /// are left out of its answer. A single id is read by `GET /api/v2/persons/{id}` instead
    /// (1 token where the list costs 10), one deleted or unknown left out likewise.
    async fn list_ids(
        &self,
        object: ObjectKind,
        ids: &[String],
    ) -> Result<Vec<Value>, ProviderError> {
        let path = format!("/api/v2/{}", object_path(object)?);
        if let [id] = ids {
            let req = Request::new(Method::Get, format!("{path}/{id}")).record(id);
            let resp = self.http.send(req.clone()).await?;
            if matches!(resp.status, 404 | 410) {
                return Ok(Vec::new());
            }
            if !resp.is_success() {
                return Err(self.http.api_error(&req, &resp));
            }
            let mut v: Value = self.parse(&resp, "a read by id")?;
            return Ok(match v["data"].take() {
                Value::Object(o) if o.get("is_deleted") != Some(&Value::Bool(true)) => {
                    vec![Value::Object(o)]
                }
                _ => Vec::new(),
            });
        }
        let resp = self
            .http
            .send_ok(
                Request::new(Method::Get, path)
                    .query("ids", ids.join(","))
                    .query("limit", IDS_PER_READ.to_string()),
            )
            .await?;
        let mut v: Value = self.parse(&resp, "a read by id")?;
        Ok(match v["data"].take() {
            Value::Array(items) => items,
            _ => Vec::new(),
        })
    }

    /// Reads records by id, a hundred a call (`ids=`); deleted ones are left out.
    pub(super) async fn read_ids(
        &self,
        object: ObjectKind,
        ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        let mut catalogue = self.record_catalogue(object).await?;
        let mut out = Vec::new();
        for values in self.list_all_ids(object, ids).await {
            let values = values?;
            if object == ObjectKind::Contact {
                let mut read = self.lock_read_persons();
                for v in &values {
                    if let Some(id) = id_of(v) {
                        read.insert(id, v.clone());
                    }
                }
            }
            let raw: Vec<&Value> = values.iter().collect();
            catalogue = self
                .catalogue_for(object, catalogue, &raw, properties)
                .await?;
            out.extend(
                raw.into_iter()
                    .filter_map(|r| record_of(object, r, &catalogue, properties))
                    .filter(|r| !r.archived),
            );
        }
        Ok(out)
    }

    /// Finds records by the local id in `crmsync_id`: one exact search on custom fields per
    /// id, then the records found read whole; a record is kept only when its `crmsync_id` is
    /// the id exactly.
    pub(super) async fn find_external(
        &self,
        object: ObjectKind,
        local_ids: &[String],
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        let path = format!("/api/v2/{}/search", object_path(object)?);
        let mut found = Vec::new();
        for local in local_ids {
            let resp = self
                .http
                .send_ok(
                    Request::new(Method::Get, path.clone())
                        .query("term", local.clone())
                        .query("fields", "custom_fields")
                        .query("exact_match", "true")
                        .lane(SEARCH),
                )
                .await?;
            let v: Value = self.parse(&resp, "a search")?;
            found.extend(search_hits(&v));
        }
        if found.is_empty() {
            return Ok(Vec::new());
        }
        found.sort();
        found.dedup();
        let mut props = properties.to_vec();
        if !props.iter().any(|p| p == EXTERNAL_ID) {
            props.push(EXTERNAL_ID.to_string());
        }
        let records = self.read_ids(object, &found, &props).await?;
        Ok(records
            .into_iter()
            .filter(|r| {
                r.external_id
                    .as_ref()
                    .is_some_and(|e| local_ids.contains(e))
            })
            .collect())
    }
}
