//! The change feed.
//!
//! Changes are read from the v2 list (`GET /api/v2/persons`, `organizations`, `activities`) sorted by
//! `update_time` ascending, and paged by key: each page is a new list `updated_since` the
//! newest `update_time` read so far (inclusive, to the second, as Pipedrive keeps it), and
//! the ids already read at exactly that second are dropped when it returns them again. The
//! records keep changing while crmsync pages through them (users edit, and crmsync's own
//! writes of earlier pages move records to the end of the order). Continuing one list by its
//! opaque `next_cursor` would leave it to the cursor whether a record that moved after it
//! was handed out shifts an unread one out of sight (or, should the cursor name the next
//! record and that record move, skips everything between); by key, a moved record is met
//! again at its new place, and everything not yet read is still `>=` the bound. Only when a
//! whole page shares one second (a bulk edit) is that second paged by `next_cursor`, sorted
//! by id (`updated_since` the second, `updated_until` the next), after which the read goes on
//! from the next second; a record that changes meanwhile leaves that second for a later one
//! and is met there.
//!
//! Deleted records are not in the v2 lists (a deleted one that is, with `is_deleted`, reads
//! as archived). They are read from v1 `GET /api/v1/recents?items=person` (`organization`,
//! `activity`),
//! the change log, keeping those whose `active_flag` is false; it is paged by key the same
//! way, on `last_timestamp_on_page`, with `start` only within one second. The change log is
//! read first, before the list, so that the list knows the merges it names.
//!
//! # Merges
//! A person merged into another (`PUT /v1/persons/{id}/merge`) is deleted, and the other,
//! the survivor, changed. The v2 records say nothing of a merge; the change log's entry of
//! the deleted person carries `merge_what_id`, the person it went into (the recents' person
//! item is the v1 spec's `mergePersonItem`; the spec does not say which of the two persons
//! the field is on in the recents, so this is unconfirmed). Such a person is gone, not
//! archived (as HubSpot's merged-away records are): it is not read as a deletion, and the
//! survivor, when the list brings it, names it ([`Provider::merged_from`](crate::providers::Provider::merged_from), by the
//! [`MERGED_FROM`] property the read adds), so that the engine moves the merged-away
//! record's link to it; a survivor deleted since is read as deleted, naming it too. The
//! recents' organization item has no `merge_what_id`: a client polling Pipedrive cannot
//! tell an organization's merge from a delete, so a merged-away organization is archived
//! like a deleted one, and the survivor arrives changed, with the merged-away one's values
//! where it had none (its `crmsync_id` among them).
//!
//! The stored cursor is JSON: `{"v":1,"since":<ms>,"deleted_since":<ms>}`, both Pipedrive's
//! times, both less the overlap (`sync.overlap_secs`). `since` moves with the list: after each
//! page it is the lower bound of the next, less the overlap, so it never passes a record not
//! yet read; after a complete read it is at least the read's start (the `Date` header of its
//! first answer, Pipedrive's clock) less the overlap. `deleted_since` moves only with the
//! change log, read before the list. An incremental read reads it from `deleted_since`; a full
//! read (no cursor) from 30 days before its start, as long as Pipedrive keeps a deleted
//! record, so that a record deleted since the last read is archived by a full read too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::activities::record_of;
use super::wire::{id_of, parse_time, rfc3339_seconds, v1_time};
use super::{Pipedrive, object_path};
use crate::model::{Millis, ObjectKind};
use crate::providers::http::{Method, Request, Response};
use crate::providers::{ChangePage, ChangeQuery, ProviderError, RemoteRecord};

const SECOND: Millis = 1000;
/// How long Pipedrive keeps a deleted record before it is gone for good (30 days, DIGEST
/// §2.7): how far back a full read reads the change log.
const DELETED_KEPT: Millis = 30 * 86_400 * SECOND;
/// The property a read adds to a merge's survivor: the ids merged into it, `;`-separated.
pub(super) const MERGED_FROM: &str = "crmsync:merged_from";

/// The stored cursor.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
struct Cursor {
    v: u32,
    since: Millis,
    deleted_since: Millis,
}

/// Where a read is between pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PageToken {
    /// The lower bound (`updated_since`) of the next list (`None`: everything).
    from: Option<Millis>,
    /// Ids already read with `update_time` exactly `from`.
    #[serde(default)]
    at_from: Vec<String>,
    /// Set while the second `from` is paged by id: the list's `next_cursor`.
    #[serde(default)]
    tie_cursor: Option<String>,
    #[serde(default)]
    in_tie: bool,
    /// Newest `update_time` read.
    newest: Option<Millis>,
    /// The stored cursor before this read (`None` on full reads).
    old: Option<Cursor>,
    /// Pipedrive's time (`Date`) when the read's first answer came.
    crm_started_at: Option<Millis>,
    /// Set once the change log is read (or, with nothing linked, left unread).
    #[serde(default)]
    log_done: bool,
    /// Whether the change log was read.
    #[serde(default)]
    log_read: bool,
    /// The change log's lower bound and the offset within it.
    #[serde(default)]
    log_since: Millis,
    #[serde(default)]
    log_start: u64,
    /// The change log's bound for the next read, once it is read.
    #[serde(default)]
    deleted_until: Millis,
    /// The merges the change log named: survivor → the ids merged into it.
    #[serde(default)]
    merges: BTreeMap<String, Vec<String>>,
    /// `since` as the list left it.
    #[serde(default)]
    list_since: Millis,
}

fn recents_item(object: ObjectKind) -> &'static str {
    match object {
        ObjectKind::Company => "organization",
        ObjectKind::Activity => "activity",
        ObjectKind::Contact => "person",
        ObjectKind::Deal => "deal",
    }
}

impl Pipedrive {
    pub(super) async fn read_changes(
        &self,
        query: &ChangeQuery,
        properties: &[String],
    ) -> Result<ChangePage, ProviderError> {
        let object = query.object;
        let path = format!("/api/v2/{}", object_path(object)?);
        let mut t = self.page_token(query)?;
        if !t.log_done {
            if query.has_links {
                return self.deleted_page(object, t).await;
            }
            // Nothing of the object is linked: a deleted record concerns nothing here, so the
            // change log is not read, and the cursor counts it as read up to the list's start.
            t.log_done = true;
        }
        let catalogue = self.record_catalogue(object).await?;
        let limit = self.options.list_limit.max(1);
        let mut req = Request::new(Method::Get, path)
            .query("limit", limit.to_string())
            .query("sort_direction", "asc");
        if t.in_tie {
            let from = t.from.unwrap_or(0);
            req = req
                .query("sort_by", "id")
                .query("updated_since", rfc3339_seconds(from))
                .query("updated_until", rfc3339_seconds(from + SECOND));
            if let Some(c) = &t.tie_cursor {
                req = req.query("cursor", c.clone());
            }
        } else {
            req = req.query("sort_by", "update_time");
            if let Some(from) = t.from {
                req = req.query("updated_since", rfc3339_seconds(from));
            }
        }
        let resp = self.http.send_ok(req).await?;
        self.note_crm_clock(&resp, &mut t);
        let v: Value = self.parse(&resp, "a list")?;
        let raw: Vec<&Value> = v["data"].as_array().into_iter().flatten().collect();
        // A catalogue kept from an earlier run that disagrees with the page is read again.
        let catalogue = self
            .catalogue_for(object, catalogue, &raw, properties)
            .await?;
        let full = raw.len() >= limit;
        let next_cursor = v["additional_data"]["next_cursor"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        let mut records: Vec<RemoteRecord> = raw
            .iter()
            .filter_map(|r| record_of(object, r, &catalogue, properties))
            .collect();
        for r in &mut records {
            name_merged(r, &t.merges);
        }
        let from = t.from;
        records.retain(|r| !(Some(r.updated_at) == from && t.at_from.contains(&r.id)));
        let page_newest = records.iter().map(|r| r.updated_at).max();
        t.newest = t.newest.max(page_newest);
        let more = if t.in_tie {
            match next_cursor {
                Some(c) => {
                    t.tie_cursor = Some(c);
                    true
                }
                None => {
                    // The second is read: on from the next one.
                    t.in_tie = false;
                    t.tie_cursor = None;
                    t.from = Some(from.unwrap_or(0) + SECOND);
                    t.at_from.clear();
                    true
                }
            }
        } else if !full {
            false
        } else {
            let top = raw
                .iter()
                .filter_map(|r| parse_time(&r["update_time"]))
                .max();
            match (top, from) {
                (Some(top), Some(f)) if top <= f => {
                    // A whole page in one second: page that second by id.
                    t.in_tie = true;
                    t.tie_cursor = None;
                }
                (Some(top), _) => {
                    t.at_from = raw
                        .iter()
                        .filter(|r| parse_time(&r["update_time"]) == Some(top))
                        .filter_map(|r| id_of(r))
                        .collect();
                    t.from = Some(top);
                }
                (None, _) => {
                    return Err(ProviderError::Other(
                        "Pipedrive sent a full page of records without `update_time`".into(),
                    ));
                }
            }
            true
        };
        if more {
            let checkpoint = self.list_checkpoint(&t);
            return Ok(ChangePage {
                records,
                next: Some(token_text(&t)),
                checkpoint: Some(checkpoint),
                total: None,
            });
        }
        // The list is read.
        let started = self.started(&t);
        t.list_since = t
            .old
            .map_or(Millis::MIN, |c| c.since)
            .max(started - self.overlap)
            .max(t.newest.map_or(Millis::MIN, |n| n - self.overlap));
        let deleted_since = if t.log_read {
            t.deleted_until
        } else {
            started - self.overlap
        };
        Ok(read_ended(records, &t, deleted_since))
    }

    /// One page of the change log, read before the list: the records deleted since
    /// `log_since`, and the merges it names.
    async fn deleted_page(
        &self,
        object: ObjectKind,
        mut t: PageToken,
    ) -> Result<ChangePage, ProviderError> {
        let limit = self.options.list_limit.max(1);
        let item = recents_item(object);
        let resp = self
            .http
            .send_ok(
                Request::new(Method::Get, "/api/v1/recents")
                    .query("since_timestamp", v1_time(t.log_since))
                    .query("items", item)
                    .query("start", t.log_start.to_string())
                    .query("limit", limit.to_string()),
            )
            .await?;
        self.note_crm_clock(&resp, &mut t);
        let v: Value = self.parse(&resp, "the change log")?;
        let items: Vec<&Value> = v["data"].as_array().into_iter().flatten().collect();
        let deleted: Vec<(String, &Value)> = items
            .iter()
            .filter(|i| i["item"].as_str() == Some(item))
            .filter(|i| {
                let d = &i["data"];
                d["active_flag"].as_bool() == Some(false) || d["is_deleted"].as_bool() == Some(true)
            })
            .filter_map(|i| Some((id_of(i).or_else(|| id_of(&i["data"]))?, &i["data"])))
            .collect();
        // A record merged into another is gone, not deleted: its survivor names it.
        for (id, d) in &deleted {
            if let Some(into) = id_of_value(&d["merge_what_id"]).filter(|into| into != id) {
                let from = t.merges.entry(into).or_default();
                if !from.contains(id) {
                    from.push(id.clone());
                }
            }
        }
        let records: Vec<RemoteRecord> = deleted
            .iter()
            .filter(|(_, d)| id_of_value(&d["merge_what_id"]).is_none())
            .map(|(id, d)| {
                // The change log's entry names no property: the deletion clears none.
                let mut r = RemoteRecord {
                    id: id.clone(),
                    updated_at: parse_time(&d["update_time"]).unwrap_or(0),
                    archived: true,
                    returned: Some(Default::default()),
                    ..RemoteRecord::default()
                };
                name_merged(&mut r, &t.merges);
                r
            })
            .collect();
        t.log_read = true;
        let extra = &v["additional_data"];
        let more = extra["pagination"]["more_items_in_collection"]
            .as_bool()
            .unwrap_or(false)
            && !items.is_empty();
        let old_deleted = t.old.map_or(0, |c| c.deleted_since);
        if !more {
            // On to the list.
            t.log_done = true;
            t.deleted_until = old_deleted.max(self.started(&t) - self.overlap);
            let checkpoint = t.old.map(|old| {
                cursor_text(Cursor {
                    v: 1,
                    since: old.since,
                    deleted_since: t.deleted_until,
                })
            });
            return Ok(ChangePage {
                records,
                next: Some(token_text(&t)),
                checkpoint,
                total: None,
            });
        }
        // By key: on from the last second of the page (a second back, should Pipedrive's bound
        // be exclusive), or, when that does not move the bound, by offset within it.
        let last = parse_time(&extra["last_timestamp_on_page"]).map(|l| l - SECOND);
        match last {
            Some(l) if l > t.log_since => {
                t.log_since = l;
                t.log_start = 0;
            }
            _ => t.log_start += items.len() as u64,
        }
        // A full read stores no cursor before its list has begun.
        let checkpoint = t.old.map(|old| {
            cursor_text(Cursor {
                v: 1,
                since: old.since,
                deleted_since: old_deleted.max(t.log_since - self.overlap),
            })
        });
        Ok(ChangePage {
            records,
            next: Some(token_text(&t)),
            checkpoint,
            total: None,
        })
    }

    /// The cursor to store once the pages so far are committed, within the list: the next
    /// page's lower bound less the overlap (every record before it has been read).
    fn list_checkpoint(&self, t: &PageToken) -> String {
        let since = match (t.from, t.old) {
            (Some(from), Some(old)) => old.since.max(from - self.overlap),
            (Some(from), None) => from - self.overlap,
            (None, Some(old)) => old.since,
            (None, None) => Millis::MIN,
        };
        let deleted_since = if t.log_read {
            t.deleted_until
        } else {
            t.old
                .map(|c| c.deleted_since)
                .unwrap_or_else(|| self.started(t) - self.overlap)
        };
        cursor_text(Cursor {
            v: 1,
            since: since.max(0),
            deleted_since,
        })
    }

    /// When the read started, on Pipedrive's clock where its answers said (else this
    /// machine's).
    fn started(&self, t: &PageToken) -> Millis {
        t.crm_started_at.unwrap_or_else(|| self.clock.now())
    }

    /// Notes Pipedrive's clock from an answer's `Date` header: the read's start (first answer)
    /// and the skew.
    fn note_crm_clock(&self, resp: &Response, t: &mut PageToken) {
        let Some((date, skew)) = resp.crm_clock(self.clock.now()) else {
            return;
        };
        if t.crm_started_at.is_none() {
            t.crm_started_at = Some(date);
        }
        *self.skew.lock().unwrap_or_else(|e| e.into_inner()) = Some(skew);
    }

    /// Where the read stands: the continuation of `query.page`, or a new read from the stored
    /// cursor (everything when there is none).
    fn page_token(&self, query: &ChangeQuery) -> Result<PageToken, ProviderError> {
        if let Some(p) = &query.page {
            return serde_json::from_str(p).map_err(|e| {
                ProviderError::Other(format!("invalid Pipedrive page token `{p}`: {e}"))
            });
        }
        let old = match &query.since {
            Some(s) => Some(serde_json::from_str::<Cursor>(s).map_err(|e| {
                ProviderError::Other(format!(
                    "the stored Pipedrive cursor `{s}` cannot be read ({e}): sync with `--full` to start again"
                ))
            })?),
            None => None,
        };
        // The change log from the stored cursor's bound; on a full read, as far back as
        // Pipedrive keeps deleted records, so that one deleted since the last read is seen.
        let log_since =
            old.map_or_else(|| self.clock.now() - DELETED_KEPT, |old| old.deleted_since);
        Ok(PageToken {
            from: old.map(|c| c.since),
            at_from: Vec::new(),
            tie_cursor: None,
            in_tie: false,
            newest: None,
            old,
            crm_started_at: None,
            log_done: false,
            log_read: false,
            log_since,
            log_start: 0,
            deleted_until: 0,
            merges: BTreeMap::new(),
            list_since: 0,
        })
    }
}

/// The last page of a read: the list's bound for the next read, and the change log's read up
/// to `deleted_since`.
fn read_ended(records: Vec<RemoteRecord>, t: &PageToken, deleted_since: Millis) -> ChangePage {
    ChangePage {
        records,
        next: None,
        checkpoint: Some(cursor_text(Cursor {
            v: 1,
            since: t.list_since,
            deleted_since,
        })),
        total: None,
    }
}

/// Adds to a merge's survivor the ids merged into it ([`MERGED_FROM`]).
fn name_merged(r: &mut RemoteRecord, merges: &BTreeMap<String, Vec<String>>) {
    if let Some(from) = merges.get(&r.id) {
        r.props.insert(MERGED_FROM.to_string(), from.join(";"));
    }
}

/// The ids a record's [`MERGED_FROM`] names.
pub(super) fn merged_from(record: &RemoteRecord) -> Vec<String> {
    record
        .props
        .get(MERGED_FROM)
        .map(|ids| {
            ids.split(';')
                .filter(|id| !id.is_empty() && *id != record.id)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// An id given as a JSON number or text.
fn id_of_value(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn token_text(t: &PageToken) -> String {
    serde_json::to_string(t).unwrap_or_default()
}

fn cursor_text(c: Cursor) -> String {
    serde_json::to_string(&c).unwrap_or_default()
}
