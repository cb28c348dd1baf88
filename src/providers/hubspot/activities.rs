//! Activities: HubSpot's five engagement objects (calls, emails, meetings, notes, tasks; see
//! [`super::engagements`]) as one local object.
//!
//! # The change feed
//! Each engagement object is read through the contacts' change feed
//! ([`HubSpot::read_object_changes`]: search paged by key on `hs_lastmodifieddate`, safe
//! against records moving during the read, with the overlap), one object after the other.
//! The stored cursor keeps each object's own cursor (`{"v":1,"objects":{"calls":…}}`), and the
//! page token says which object the read is in and the checkpoints of the objects already
//! read. Each page's records get their contact and company from the v4 associations (one
//! batch read each per page). A connection syncs activities only when its `objects` names
//! `activity`; one that does not makes no engagement call at all.
//!
//! # Writes
//! Creates go in batches of 100 per object, with their contact and company associated
//! inline (`associations` with `to.id` and HubSpot's default association type ids, as the v3
//! batch create input has them), each input carrying its local id as `objectWriteTraceId`,
//! by which its result is found: HubSpot answers the results in an order of its own. So a
//! batch of 100 costs one request.
//!
//! # No activity twice
//! An activity carries no local id in HubSpot, so a create that may have been made before
//! (a run killed after HubSpot answered and before the link was stored, or a call whose
//! answer was lost) cannot be found by it. It is found by its content key instead: type,
//! time, subject and contact. Where that is done depends on the run:
//!
//! * A run that read the change feed first (any `sync`, `apply`, `import --to`) has done it
//!   in the engine, on the records the feed brought, as contacts are paired by email (see
//!   `crate::engine::sync::activities`): every engagement HubSpot made or changed since the
//!   last read, a leftover of a killed run among them, was offered to the unlinked local
//!   activities by content before the push, and each older one is linked to a local
//!   activity. Such a create comes with [`RemoteWrite::content_checked`] set and is not
//!   looked for again here; only the records its [`RemoteWrite::takes_over`] names (linked
//!   to another local activity with its content, as when a CSV is imported twice) are read
//!   (one batch read and one association read, for the batches that name any), and an input
//!   one of them matches is refused as its duplicate, kept as the record's failure. So a
//!   push costs no search: HubSpot allows four a second, and one before each batch made a
//!   push of 10,000 activities wait on them.
//! * A run that reads HubSpot by id (`sync --record`, `listen`'s event runs) read no feed:
//!   before a batch is sent, one search asks for the object's records at the batch's times
//!   (`hs_timestamp IN …`), and an input with the content key of one of them (its contact
//!   read from the associations only when time and subject agree) is refused as its
//!   duplicate, which the engine links.
//!
//! A batch create is never sent again blindly after an answer that leaves unknown whether
//! HubSpot made the records (a 5xx, a lost answer): the call fails, its creates stay
//! journalled, and the next run pairs the records HubSpot made by their content as above.
//! A batch refused as a whole (400, 409) is sent again in halves until the refused inputs
//! are alone.
//!
//! An update moves an activity's contact or company by archiving the old association and
//! creating the new one (v4 batch archive and associate). An activity cannot change its
//! object in HubSpot (a call is not a task): such an update is refused for the record.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::engagements::{
    COMPANIES, CONTACTS, ENGAGEMENTS, Engagement, SUBJECT, TIME, TYPE, time_text,
};
use super::pacing::SEARCH;
use super::refusal::{record_error, refusal_message};
use super::wire::{BatchResponse, HsObject, ObjectList, json_id, to_record};
use super::{BATCH, HubSpot};
use crate::providers::http::{Method, Request};
use crate::providers::{
    ChangePage, ChangeQuery, ProviderError, RecordError, RecordErrorKind, RemoteRecord,
    RemoteWrite, WriteResults,
};

const MODIFIED: &str = "hs_lastmodifieddate";
/// The association read per page and per write: to contacts and to companies.
const ANCHORS: [(&str, &str); 2] = [("contacts", CONTACTS), ("companies", COMPANIES)];

/// The stored cursor: each engagement object's own.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursors {
    v: u32,
    objects: BTreeMap<String, String>,
}

/// Where a read is between pages.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Token {
    /// The index in [`ENGAGEMENTS`] of the object being read.
    at: usize,
    /// That object's own page token.
    inner: Option<String>,
    /// The checkpoints of the objects read so far in this read.
    done: BTreeMap<String, String>,
}

fn bad_token(what: &str, text: &str, e: serde_json::Error) -> ProviderError {
    ProviderError::Other(format!(
        "the HubSpot activity {what} `{text}` cannot be read ({e}); run `crmsync sync --full`"
    ))
}

fn refused(message: String) -> RecordError {
    record_error(message, None)
}

impl HubSpot {
    pub(super) async fn read_activity_changes(
        &self,
        query: &ChangeQuery,
        _properties: &[String],
    ) -> Result<ChangePage, ProviderError> {
        let cursors: Cursors = match &query.since {
            Some(s) => serde_json::from_str(s).map_err(|e| bad_token("cursor", s, e))?,
            None => Cursors::default(),
        };
        let mut token: Token = match &query.page {
            Some(p) => serde_json::from_str(p).map_err(|e| bad_token("page token", p, e))?,
            None => Token::default(),
        };
        let e = ENGAGEMENTS
            .get(token.at)
            .ok_or_else(|| ProviderError::Other(format!("no engagement object at {}", token.at)))?;
        let inner = ChangeQuery {
            object: query.object,
            since: cursors.objects.get(e.path).cloned(),
            page: token.inner.take(),
            has_links: query.has_links,
        };
        let props = self.engagement_properties(e);
        let page = self
            .read_object_changes(e.path, MODIFIED, &inner, &props, false)
            .await?;
        let mut records: Vec<RemoteRecord> = page.records;
        self.fill_anchors(e, &mut records).await?;
        let records = records.into_iter().map(|r| e.activity_of(r)).collect();
        let mut objects = cursors.objects;
        objects.extend(token.done.clone());
        if let Some(c) = &page.checkpoint {
            objects.insert(e.path.to_string(), c.clone());
        }
        let checkpoint =
            serde_json::to_string(&Cursors { v: 1, objects }).expect("the cursor serialises");
        match page.next {
            Some(next) => token.inner = Some(next),
            None => {
                if let Some(c) = page.checkpoint {
                    token.done.insert(e.path.to_string(), c);
                }
                token.at += 1;
            }
        }
        let next = (token.at < ENGAGEMENTS.len())
            .then(|| serde_json::to_string(&token).expect("the token serialises"));
        Ok(ChangePage {
            records,
            next,
            checkpoint: Some(checkpoint),
            total: None,
        })
    }

    /// The properties read for the records of `e`.
    fn engagement_properties(&self, e: &Engagement) -> Vec<String> {
        let mut props = e.read_properties();
        props.push(MODIFIED.to_string());
        props
    }

    /// Sets each record's (raw, of object `e`) contact and company, from the v4 associations.
    async fn fill_anchors(
        &self,
        e: &Engagement,
        records: &mut [RemoteRecord],
    ) -> Result<(), ProviderError> {
        self.fill_links(e.path, records, &ANCHORS).await
    }

    /// Sets each record's (of object path `from`) pseudo-property of each
    /// `(to, property)` of `links` to the first record of type `to` associated with it (by
    /// id), from the v4 association reads.
    pub(super) async fn fill_links(
        &self,
        from: &str,
        records: &mut [RemoteRecord],
        links: &[(&str, &str)],
    ) -> Result<(), ProviderError> {
        let ids: Vec<String> = records
            .iter()
            .filter(|r| !r.archived)
            .map(|r| r.id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        for &(to, prop) in links {
            let links = self.read_links(from, to, &ids).await?;
            for r in records.iter_mut() {
                r.props.remove(prop);
                if let Some(first) = links.get(&r.id).and_then(|l| {
                    l.iter()
                        .min_by_key(|i| i.parse::<u64>().unwrap_or(u64::MAX))
                }) {
                    r.props.insert(prop.to_string(), first.clone());
                }
            }
        }
        Ok(())
    }

    /// `from` id → the ids of type `to` associated with it (v4 batch read, 100 a call).
    pub(super) async fn read_links(
        &self,
        from: &str,
        to: &str,
        ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>, ProviderError> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        let path = format!("/crm/v4/associations/{from}/{to}/batch/read");
        for chunk in ids.chunks(BATCH) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            let req = Request::new(Method::Post, path.clone()).json(json!({ "inputs": inputs }));
            let resp = self.http.send(req.clone()).await?;
            // 207 lists the records without associations as errors; only results matter.
            if !resp.is_success() {
                return Err(self.http.api_error(&req, &resp));
            }
            let body: Value = self.parse(&resp, "an association read")?;
            for result in body["results"].as_array().into_iter().flatten() {
                let Some(from) = json_id(&result["from"]["id"]) else {
                    continue;
                };
                let entry = out.entry(from).or_default();
                for t in result["to"].as_array().into_iter().flatten() {
                    entry.extend(json_id(&t["toObjectId"]));
                }
            }
        }
        Ok(out)
    }

    /// Activities by id (`call:1042`), with their contact and company.
    pub(super) async fn read_activities(
        &self,
        ids: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        let mut out = Vec::new();
        for e in &ENGAGEMENTS {
            let own: Vec<String> = ids
                .iter()
                .filter_map(|id| Engagement::split(id))
                .filter(|(x, _)| x.key == e.key)
                .map(|(_, id)| id.to_string())
                .collect();
            let mut records = self.read_engagements(e, &own).await?;
            self.fill_anchors(e, &mut records).await?;
            out.extend(records.into_iter().map(|r| e.activity_of(r)));
        }
        Ok(out)
    }

    /// Records of `e` by its own ids, as read (batch read, 100 a call; missing ones left out).
    pub(super) async fn read_engagements(
        &self,
        e: &Engagement,
        ids: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(BATCH) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            let req = Request::new(
                Method::Post,
                format!("/crm/v3/objects/{}/batch/read", e.path),
            )
            .json(
                json!({ "inputs": inputs, "properties": self.engagement_properties(e),
                              "propertiesWithHistory": [] }),
            );
            let resp = self.http.send(req.clone()).await?;
            if !resp.is_success() {
                return Err(self.http.api_error(&req, &resp));
            }
            let batch: BatchResponse = self.parse(&resp, "a batch read")?;
            out.extend(batch.results.into_iter().map(|o| to_record(o, MODIFIED)));
        }
        Ok(out)
    }
}

/// The input of a create: its object and the object's properties.
struct Planned<'a> {
    w: &'a RemoteWrite,
    e: &'static Engagement,
    properties: serde_json::Map<String, Value>,
}

/// The object `props` names by its `type`.
fn engagement_of(props: &BTreeMap<String, String>) -> Result<&'static Engagement, RecordError> {
    let ty = props.get(TYPE).map(String::as_str).unwrap_or("");
    Engagement::of(ty).ok_or_else(|| {
        refused(format!(
            "activity type `{ty}` is no HubSpot engagement object (call, email, meeting, note, task): map it in `[connections.NAME.activity_types]`"
        ))
    })
}

impl HubSpot {
    pub(super) async fn create_activities(
        &self,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let mut out: Vec<Option<Result<RemoteRecord, RecordError>>> = vec![None; inputs.len()];
        let mut by_object: BTreeMap<&str, Vec<(usize, Planned)>> = BTreeMap::new();
        for (i, w) in inputs.iter().enumerate() {
            let planned = engagement_of(&w.props).and_then(|e| {
                let properties = e.properties_of(&w.props, None)?;
                if !properties.contains_key(TIME) {
                    return Err(refused(
                        "HubSpot needs each activity's time: set `time` or `due_date`".into(),
                    ));
                }
                Ok(Planned { w, e, properties })
            });
            match planned {
                Ok(p) => by_object.entry(p.e.path).or_default().push((i, p)),
                Err(refused) => out[i] = Some(Err(refused)),
            }
        }
        for planned in by_object.into_values() {
            for chunk in planned.chunks(BATCH) {
                let found = self.find_same(chunk).await?;
                let mut send = Vec::new();
                for ((i, p), existing) in chunk.iter().zip(found) {
                    match existing {
                        Some(id) => out[*i] = Some(Err(duplicate(p.e, &id))),
                        None => send.push((*i, p)),
                    }
                }
                for (i, r) in self.send_creates(&send).await? {
                    out[i] = Some(r);
                }
            }
        }
        Ok(out
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(refused("HubSpot did not report on this activity".into())))
            })
            .collect())
    }

    /// For each input of `chunk` (inputs of one object), the id of a record HubSpot has with
    /// its content key (time, subject, and its contact among the record's), if any.
    ///
    /// An input the engine has matched by content already ([`RemoteWrite::content_checked`]:
    /// the run read the change feed first, see the module docs) is looked for only among the
    /// records its [`RemoteWrite::takes_over`] names, those linked to another local activity
    /// with its content: one batch read of them and one of their contacts, and none at all
    /// when no input names one (a plain push). Each input finds such a record whether or not
    /// another input found it too: the record is another local activity's, so neither can
    /// take it, and the duplicate is each one's failure. Any other input (a run reading by
    /// id) is looked for through one search for the chunk's times and a read of the contacts
    /// of the records whose time and subject agree with an input; there, a record is found
    /// for one input at most, as it may be this very create's, made by a run stopped before
    /// it recorded the link.
    async fn find_same(
        &self,
        chunk: &[(usize, Planned<'_>)],
    ) -> Result<Vec<Option<String>>, ProviderError> {
        let Some((_, first)) = chunk.first() else {
            return Ok(Vec::new());
        };
        let e = first.e;
        // The ids of this object each checked input may be the duplicate of.
        let named: Vec<Vec<String>> = chunk
            .iter()
            .map(|(_, p)| {
                p.w.takes_over
                    .iter()
                    .filter_map(|id| Engagement::split(id))
                    .filter(|(x, _)| x.key == e.key)
                    .map(|(_, id)| id.to_string())
                    .collect()
            })
            .collect();
        let unchecked: Vec<&Planned<'_>> = chunk
            .iter()
            .filter(|(_, p)| !p.w.content_checked)
            .map(|(_, p)| p)
            .collect();
        let mut read: Vec<RemoteRecord> = Vec::new();
        if !unchecked.is_empty() {
            read.extend(self.search_at_times(e, &unchecked).await?);
        }
        let mut wanted_ids: Vec<String> = chunk
            .iter()
            .zip(&named)
            .filter(|((_, p), _)| p.w.content_checked)
            .flat_map(|(_, ids)| ids.iter().cloned())
            .collect();
        wanted_ids.sort();
        wanted_ids.dedup();
        if !wanted_ids.is_empty() {
            read.extend(
                self.read_engagements(e, &wanted_ids)
                    .await?
                    .into_iter()
                    .filter(|r| !r.archived),
            );
        }
        if read.is_empty() {
            return Ok(vec![None; chunk.len()]);
        }
        let key = |props: &BTreeMap<String, String>| {
            (
                props.get(TIME).cloned(),
                props.get(SUBJECT).map(|s| s.trim().to_string()),
            )
        };
        let mut candidates: Vec<RemoteRecord> = Vec::new();
        for r in read {
            let mut a = e.activity_of(r);
            a.id =
                a.id.split_once(':')
                    .map_or(a.id.clone(), |(_, id)| id.to_string());
            if !candidates.iter().any(|c| c.id == a.id) {
                candidates.push(a);
            }
        }
        let wanted: Vec<(Option<String>, Option<String>)> = chunk
            .iter()
            .map(|(_, p)| {
                let mut props = p.w.props.clone();
                if let Some(t) = p
                    .properties
                    .get(TIME)
                    .and_then(Value::as_str)
                    .and_then(crate::clock::parse_instant)
                {
                    props.insert(TIME.into(), time_text(t));
                }
                if e.subject.is_none() {
                    props.remove(SUBJECT);
                }
                key(&props)
            })
            .collect();
        let close: Vec<String> = candidates
            .iter()
            .filter(|c| wanted.contains(&key(&c.props)))
            .map(|c| c.id.clone())
            .collect();
        if close.is_empty() {
            return Ok(vec![None; chunk.len()]);
        }
        let contacts = self.read_links(e.path, "contacts", &close).await?;
        let mut taken: Vec<String> = Vec::new();
        Ok(chunk
            .iter()
            .zip(&wanted)
            .zip(&named)
            .map(|(((_, p), k), named)| {
                let checked = p.w.content_checked;
                let contact = p.w.props.get(CONTACTS).filter(|c| !c.is_empty());
                let found = candidates.iter().find(|c| {
                    (if checked {
                        named.contains(&c.id)
                    } else {
                        !taken.contains(&c.id)
                    }) && close.contains(&c.id)
                        && key(&c.props) == *k
                        && match contact {
                            Some(ct) => contacts.get(&c.id).is_some_and(|l| l.contains(ct)),
                            None => true,
                        }
                })?;
                if !checked {
                    taken.push(found.id.clone());
                }
                Some(found.id.clone())
            })
            .collect())
    }

    /// The records of `e` at the times of `inputs` (one search, paged), as read.
    async fn search_at_times(
        &self,
        e: &Engagement,
        inputs: &[&Planned<'_>],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        let mut times: Vec<String> = inputs
            .iter()
            .filter_map(|p| p.properties.get(TIME)?.as_str())
            .filter_map(crate::clock::parse_instant)
            .map(|t| t.to_string())
            .collect();
        times.sort();
        times.dedup();
        let mut out: Vec<RemoteRecord> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut body = json!({
                "filterGroups": [{ "filters": [{ "propertyName": TIME, "operator": "IN", "values": times }] }],
                "sorts": [{ "propertyName": "hs_object_id", "direction": "ASCENDING" }],
                "properties": self.engagement_properties(e),
                "limit": self.options.search_limit,
            });
            if let Some(a) = &after {
                body["after"] = json!(a);
            }
            let resp = self
                .http
                .send_ok(
                    Request::new(Method::Post, format!("/crm/v3/objects/{}/search", e.path))
                        .lane(SEARCH)
                        .json(body),
                )
                .await?;
            let list: ObjectList = self.parse(&resp, "a search")?;
            out.extend(
                list.results
                    .into_iter()
                    .map(|o: HsObject| to_record(o, MODIFIED)),
            );
            match list.paging.and_then(|p| p.next) {
                Some(n) => after = Some(n.after),
                None => break,
            }
        }
        Ok(out)
    }

    /// Sends creates of one object, splitting a batch HubSpot refuses as a whole.
    async fn send_creates(
        &self,
        planned: &[(usize, &Planned<'_>)],
    ) -> Result<Vec<(usize, Result<RemoteRecord, RecordError>)>, ProviderError> {
        let mut out = Vec::new();
        let Some((_, first)) = planned.first() else {
            return Ok(out);
        };
        let path = format!("/crm/v3/objects/{}/batch/create", first.e.path);
        let body = |chunk: &[(usize, &Planned<'_>)]| {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|(_, p)| {
                    json!({
                        "properties": p.properties,
                        "associations": associations(p.e, &p.w.props),
                        "objectWriteTraceId": p.w.local_id,
                    })
                })
                .collect();
            json!({ "inputs": inputs })
        };
        // Not sent again blindly: a batch create HubSpot answered with a 5xx, or whose answer
        // was lost, may have made its records, and sent again it would make them twice. The
        // call fails instead, its creates stay journalled, and the next run's change feed
        // pairs by content the ones HubSpot made (see the module docs).
        for sent in self.post_halving(&path, planned, false, body).await? {
            let (chunk, resp) = match sent {
                Halved::Refused((at, _), refusal) => {
                    out.push((*at, Err(refusal)));
                    continue;
                }
                Halved::Answered(chunk, resp) => (chunk, resp),
            };
            let body: Value = self.parse(&resp, "a batch create")?;
            let mut results: HashMap<String, Value> = HashMap::new();
            let mut untraced: Vec<Value> = Vec::new();
            for r in body["results"].as_array().into_iter().flatten() {
                match r["objectWriteTraceId"].as_str() {
                    Some(t) => {
                        results.insert(t.to_string(), r.clone());
                    }
                    None => untraced.push(r.clone()),
                }
            }
            // HubSpot answers the results in an order of its own, each with its input's trace
            // id. A result without one is taken only by elimination (one result and one input
            // left); otherwise the inputs left are answered as not reported on, and the next
            // run's change feed pairs the records HubSpot made by their content.
            let left = chunk
                .iter()
                .filter(|(_, p)| !results.contains_key(&p.w.local_id))
                .count();
            let mut untraced = if left == 1 && untraced.len() == 1 {
                untraced
            } else {
                Vec::new()
            }
            .into_iter();
            for (i, p) in chunk {
                let answer = results.remove(&p.w.local_id).or_else(|| untraced.next());
                let outcome = match answer.map(serde_json::from_value::<HsObject>) {
                    Some(Ok(o)) => {
                        let mut rec = to_record(o, MODIFIED);
                        for (_, prop) in ANCHORS {
                            if let Some(v) = p.w.props.get(prop).filter(|v| !v.is_empty()) {
                                rec.props.insert(prop.to_string(), v.clone());
                            }
                        }
                        Ok(p.e.activity_of(rec))
                    }
                    _ => Err(RecordError {
                        message: "HubSpot did not report on this activity; the next run pairs it by its content".into(),
                        code: None,
                        retryable: true,
                        kind: RecordErrorKind::Refused,
                    }),
                };
                out.push((*i, outcome));
            }
        }
        Ok(out)
    }
}

fn duplicate(e: &Engagement, id: &str) -> RecordError {
    let existing_id = e.activity_id(id);
    RecordError {
        message: format!(
            "HubSpot has {} `{existing_id}` already, with the same time, subject and contact",
            e.key
        ),
        code: None,
        retryable: false,
        kind: RecordErrorKind::Duplicate { existing_id },
    }
}

/// A create's associations: its contact and its company, with the default type ids.
fn associations(e: &Engagement, props: &BTreeMap<String, String>) -> Value {
    let mut out = Vec::new();
    for (prop, type_id) in [(CONTACTS, e.to_contact), (COMPANIES, e.to_company)] {
        if let Some(id) = props.get(prop).filter(|v| !v.is_empty()) {
            out.push(json!({
                "to": { "id": id },
                "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id }],
            }));
        }
    }
    Value::Array(out)
}

/// What one call of [`HubSpot::post_halving`] came to.
pub(super) enum Halved<'a, T> {
    /// These inputs' call was answered (2xx).
    Answered(&'a [T], crate::providers::http::Response),
    /// HubSpot refused this input alone.
    Refused(&'a T, RecordError),
}

impl HubSpot {
    /// Posts `items` to `path` in one call with the body `body` makes of them; a call HubSpot
    /// refuses as a whole (400, 409) is sent again in halves until each refused input is
    /// alone, so one bad record does not fail the others.
    ///
    /// `repeatable`: whether the call may be sent again after an answer that leaves unknown
    /// whether HubSpot acted on it (a 5xx, a lost answer); see [`Request::repeatable`].
    pub(super) async fn post_halving<'a, T>(
        &self,
        path: &str,
        items: &'a [T],
        repeatable: bool,
        body: impl Fn(&'a [T]) -> Value,
    ) -> Result<Vec<Halved<'a, T>>, ProviderError> {
        let mut out = Vec::new();
        let mut stack = vec![items];
        while let Some(chunk) = stack.pop() {
            if chunk.is_empty() {
                continue;
            }
            let mut req = Request::new(Method::Post, path).json(body(chunk));
            if !repeatable {
                req = req.not_repeatable();
            }
            let resp = self.http.send(req.clone()).await?;
            if matches!(resp.status, 400 | 409) {
                if let [only] = chunk {
                    let raw = refusal_message(&resp.body)
                        .unwrap_or_else(|| self.http.error_text(&resp.body));
                    let refusal = record_error(raw, Some(resp.status.to_string()));
                    out.push(Halved::Refused(only, refusal));
                } else {
                    let (a, b) = chunk.split_at(chunk.len() / 2);
                    stack.push(b);
                    stack.push(a);
                }
                continue;
            }
            if !resp.is_success() {
                return Err(self.http.api_error(&req, &resp));
            }
            out.push(Halved::Answered(chunk, resp));
        }
        Ok(out)
    }
}
