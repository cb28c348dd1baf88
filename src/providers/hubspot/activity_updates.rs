//! Activity updates and archives (see [`super::activities`]): properties by batch update,
//! a moved contact or company by v4 association archive and associate, archives by batch
//! archive, each per engagement object, 100 a call.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::BATCH;
use super::HubSpot;
use super::activities::Halved;
use super::engagements::{COMPANIES, CONTACTS, ENGAGEMENTS, Engagement, TYPE};
use super::refusal::record_error;
use super::wire::{BatchResponse, to_record};
use crate::providers::http::{Method, Request};
use crate::providers::{ProviderError, RecordError, RemoteRecord, RemoteWrite, WriteResults};

const MODIFIED: &str = "hs_lastmodifieddate";

/// Updates by object path: the object, and each input's place and own id.
type ByObject = BTreeMap<&'static str, (&'static Engagement, Vec<(usize, String)>)>;

/// One update: its place among the inputs, its object's own id and its properties.
struct Update<'a> {
    at: usize,
    id: String,
    w: &'a RemoteWrite,
    properties: serde_json::Map<String, Value>,
}

/// The object and own id of an activity id, or why it is not one.
fn split(w: &RemoteWrite) -> Result<(&'static Engagement, String), RecordError> {
    let id = w.remote_id.as_deref().unwrap_or("");
    let (e, own) = Engagement::split(id)
        .ok_or_else(|| record_error(format!("`{id}` is not a HubSpot activity id"), None))?;
    if let Some(ty) = w.props.get(TYPE).filter(|t| !t.is_empty())
        && Engagement::of(ty).map(|x| x.key) != Some(e.key)
    {
        return Err(record_error(
            format!(
                "this activity is a HubSpot {} and its type is now `{ty}`: HubSpot keeps each kind of activity as an object of its own, so a {} cannot become another kind; archive it and create the activity again",
                e.key, e.key
            ),
            None,
        ));
    }
    Ok((e, own.to_string()))
}

impl HubSpot {
    pub(super) async fn update_activities(
        &self,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let mut out: Vec<Option<Result<RemoteRecord, RecordError>>> = vec![None; inputs.len()];
        let mut by_object: ByObject = BTreeMap::new();
        for (at, w) in inputs.iter().enumerate() {
            match split(w) {
                Ok((e, id)) => by_object
                    .entry(e.path)
                    .or_insert((e, Vec::new()))
                    .1
                    .push((at, id)),
                Err(refused) => out[at] = Some(Err(refused)),
            }
        }
        for (e, items) in by_object.into_values() {
            for chunk in items.chunks(BATCH) {
                for (at, r) in self.update_chunk(e, inputs, chunk).await? {
                    out[at] = Some(r);
                }
            }
        }
        Ok(out
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(record_error(
                        "HubSpot did not report on this activity".into(),
                        None,
                    ))
                })
            })
            .collect())
    }

    async fn update_chunk(
        &self,
        e: &'static Engagement,
        inputs: &[RemoteWrite],
        chunk: &[(usize, String)],
    ) -> Result<Vec<(usize, Result<RemoteRecord, RecordError>)>, ProviderError> {
        let mut out = Vec::new();
        // A meeting's new duration is its end time: its start is read first when not written.
        let need_start: Vec<String> = chunk
            .iter()
            .filter(|(at, _)| e.needs_start(&inputs[*at].props))
            .map(|(_, id)| id.clone())
            .collect();
        let starts: HashMap<String, i64> = if need_start.is_empty() {
            HashMap::new()
        } else {
            self.read_engagements(e, &need_start)
                .await?
                .into_iter()
                .filter_map(|r| {
                    let start = r
                        .props
                        .get(e.span.map_or("hs_timestamp", |(s, _)| s))
                        .or_else(|| r.props.get("hs_timestamp"))
                        .and_then(|v| crate::clock::parse_instant(v))?;
                    Some((r.id, start))
                })
                .collect()
        };
        let mut updates = Vec::new();
        for (at, id) in chunk {
            let w = &inputs[*at];
            match e.properties_of(&w.props, starts.get(id).copied()) {
                Ok(properties) => updates.push(Update {
                    at: *at,
                    id: id.clone(),
                    w,
                    properties,
                }),
                Err(refused) => out.push((*at, Err(refused))),
            }
        }
        self.move_anchors(e, &updates).await?;
        let (with_props, bare): (Vec<&Update>, Vec<&Update>) =
            updates.iter().partition(|u| !u.properties.is_empty());
        let mut answers: HashMap<String, RemoteRecord> = HashMap::new();
        let mut refused: HashMap<String, RecordError> = HashMap::new();
        self.send_updates(e, &with_props, &mut answers, &mut refused)
            .await?;
        let bare_ids: Vec<String> = bare.iter().map(|u| u.id.clone()).collect();
        for r in self.read_engagements(e, &bare_ids).await? {
            answers.insert(r.id.clone(), r);
        }
        for u in &updates {
            let outcome = match (answers.get(&u.id), refused.remove(&u.id)) {
                (_, Some(refusal)) => Err(refusal),
                (Some(rec), None) => {
                    let mut rec = rec.clone();
                    for prop in [CONTACTS, COMPANIES] {
                        if let Some(v) = u.w.props.get(prop) {
                            rec.props.insert(prop.to_string(), v.clone());
                        }
                    }
                    Ok(e.activity_of(rec))
                }
                (None, None) => Err(record_error(
                    format!(
                        "HubSpot has no {} `{}`: it was archived or deleted there",
                        e.key, u.id
                    ),
                    None,
                )),
            };
            out.push((u.at, outcome));
        }
        Ok(out)
    }

    /// Batch updates of `updates`, halved when HubSpot refuses one as a whole.
    async fn send_updates(
        &self,
        e: &Engagement,
        updates: &[&Update<'_>],
        answers: &mut HashMap<String, RemoteRecord>,
        refused: &mut HashMap<String, RecordError>,
    ) -> Result<(), ProviderError> {
        let path = format!("/crm/v3/objects/{}/batch/update", e.path);
        let body = |chunk: &[&Update<'_>]| {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|u| json!({ "id": u.id, "properties": u.properties }))
                .collect();
            json!({ "inputs": inputs })
        };
        for sent in self.post_halving(&path, updates, true, body).await? {
            let resp = match sent {
                Halved::Refused(u, refusal) => {
                    refused.insert(u.id.clone(), refusal);
                    continue;
                }
                Halved::Answered(_, resp) => resp,
            };
            let batch: BatchResponse = self.parse(&resp, "a batch update")?;
            for o in batch.results {
                let r = to_record(o, MODIFIED);
                answers.insert(r.id.clone(), r);
            }
        }
        Ok(())
    }

    /// Moves the contact and company of the updates that write them.
    async fn move_anchors(
        &self,
        e: &Engagement,
        updates: &[Update<'_>],
    ) -> Result<(), ProviderError> {
        let moves: Vec<(String, &RemoteWrite)> =
            updates.iter().map(|u| (u.id.clone(), u.w)).collect();
        self.set_links(e.path, &moves).await
    }

    /// Makes each record of `from` (by HubSpot id) associated with the contact and company
    /// its write names, where it names them: the old associations archived, the new ones made
    /// with the default type (one read, one archive and one associate call per kind at most).
    pub(super) async fn set_links(
        &self,
        from: &str,
        writes: &[(String, &RemoteWrite)],
    ) -> Result<(), ProviderError> {
        for (to, prop) in [("contacts", CONTACTS), ("companies", COMPANIES)] {
            let moving: Vec<&(String, &RemoteWrite)> = writes
                .iter()
                .filter(|(_, w)| w.props.contains_key(prop))
                .collect();
            if moving.is_empty() {
                continue;
            }
            let ids: Vec<String> = moving.iter().map(|(id, _)| id.clone()).collect();
            let old = self.read_links(from, to, &ids).await?;
            let mut archive = Vec::new();
            let mut associate = Vec::new();
            for (id, w) in &moving {
                let new = w.props.get(prop).filter(|v| !v.is_empty());
                let had = old.get(id).cloned().unwrap_or_default();
                let gone: Vec<Value> = had
                    .iter()
                    .filter(|h| Some(*h) != new)
                    .map(|h| json!({ "id": h }))
                    .collect();
                if !gone.is_empty() {
                    archive.push(json!({ "from": { "id": id }, "to": gone }));
                }
                if let Some(n) = new
                    && !had.contains(n)
                {
                    associate.push(json!({ "from": { "id": id }, "to": { "id": n } }));
                }
            }
            for (op, inputs) in [("archive", archive), ("associate/default", associate)] {
                if inputs.is_empty() {
                    continue;
                }
                let req = Request::new(
                    Method::Post,
                    format!("/crm/v4/associations/{from}/{to}/batch/{op}"),
                )
                .json(json!({ "inputs": inputs }));
                let resp = self.http.send(req.clone()).await?;
                if !resp.is_success() {
                    return Err(self.http.api_error(&req, &resp));
                }
            }
        }
        Ok(())
    }

    pub(super) async fn archive_activities(
        &self,
        ids: &[String],
    ) -> Result<WriteResults<()>, ProviderError> {
        let mut out: Vec<Result<(), RecordError>> = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(match Engagement::split(id) {
                Some(_) => Ok(()),
                None => Err(record_error(
                    format!("`{id}` is not a HubSpot activity id"),
                    None,
                )),
            });
        }
        for e in &ENGAGEMENTS {
            let own: Vec<&str> = ids
                .iter()
                .filter_map(|id| Engagement::split(id))
                .filter(|(x, _)| x.key == e.key)
                .map(|(_, id)| id)
                .collect();
            for chunk in own.chunks(BATCH) {
                let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
                let req = Request::new(
                    Method::Post,
                    format!("/crm/v3/objects/{}/batch/archive", e.path),
                )
                .json(json!({ "inputs": inputs }));
                let resp = self.http.send(req.clone()).await?;
                if !resp.is_success() {
                    return Err(self.http.api_error(&req, &resp));
                }
            }
        }
        Ok(out)
    }
}
