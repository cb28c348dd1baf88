//! The change feed.
//!
//! Changes are read with the search API filtered on the last-modified property
//! (`lastmodifieddate` for contacts, `hs_lastmodifieddate` for companies), sorted ascending,
//! 200 a page, and paged by key, never by offset: each page is a new query `GTE` the newest
//! modification time read so far, and the ids already read at exactly that time are dropped
//! when it returns them again. The records keep changing while crmsync pages through them
//! (users edit, and crmsync's own writes of earlier pages move records to the end of the
//! feed); with `after` offsets each such move would shift an unread record back past the
//! offset, out of sight for good. By key, a moved record is met again at its new place and
//! nothing shifts. When a whole page shares one modification time (a bulk change can stamp
//! thousands of records with one millisecond), that time is paged by id instead
//! (`EQ time AND hs_object_id GT last id`, sorted by id), and the read then goes on `GT` the
//! time. No query pages at all, so HubSpot's 10,000-result cap on one query is never met.
//!
//! The stored cursor is JSON: `{"v":1,"since":<ms>,"archive_scan":<ms>}`. `since` is the
//! newest modification seen minus the overlap (`sync.overlap_secs`, five minutes unless
//! set), so records changed while the previous read was running (or not yet in the search
//! index) are read again; reading one twice is harmless. After a complete read `since` is at
//! least the read's start minus the overlap, so it keeps moving when nothing changes and a
//! record is re-read only while it is younger than the overlap. Both are HubSpot's times: the
//! read's start is the `Date` header of its first search's answer, never this machine's
//! clock. That header also gives [`Provider::clock_skew`](crate::providers::Provider::clock_skew). The continuation token between pages of one read is another JSON document.
//!
//! Archived records never appear in search. They are listed with
//! `GET /crm/v3/objects/{type}?archived=true`, which has no filter by date and so costs one
//! request per 100 archived records ever. That list is read on every full read and otherwise
//! only when the cursor's last archive scan is older than [`ARCHIVE_SCAN_INTERVAL_MS`](super::ARCHIVE_SCAN_INTERVAL_MS) (a day):
//! an archive in HubSpot reaches the local store within a day, while a frequent no-op sync
//! stays at one search request per object.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::associations::{wants_company, with_primary_company};
use super::pacing::SEARCH;
use super::wire::{ObjectList, to_record};
use super::{
    EXTERNAL_ID, HubSpot, ID_PROPERTY, MERGED_IDS, PRIMARY_COMPANY, modified_property, object_path,
};
use crate::model::{Millis, ObjectKind};
use crate::providers::http::{Method, Request, Response};
use crate::providers::{ChangePage, ChangeQuery, ProviderError, RemoteRecord};

/// The stored cursor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Cursor {
    v: u32,
    since: Millis,
    archive_scan: Millis,
}

/// Where a read is between pages.
///
/// Each search is a fresh query bounded by key, never a continuation by offset (`after`): a
/// record that moves while the read pages (a user's edit, or crmsync's own write of an earlier
/// page moving it to the end of the feed) is met again at its new place instead of shifting
/// the records after it out of sight, and no query pages far enough to meet the 10,000-result
/// cap.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PageToken {
    /// The lower bound of the next search (`None`: everything).
    from: Option<Millis>,
    /// Whether the bound is `GT` (all records at `from` are read) rather than `GTE`.
    #[serde(default)]
    past: bool,
    /// Set while the records sharing one modification time are paged by id: the time and the
    /// last id read (`EQ time AND hs_object_id GT id`, sorted by id).
    #[serde(default)]
    tie: Option<(Millis, u64)>,
    /// Newest modification seen in this read.
    newest: Option<Millis>,
    /// Ids already returned at exactly `newest`, dropped when a search meets them again.
    at_newest: Vec<String>,
    /// The cursor's `since` before this read (`None` on full reads).
    old_since: Option<Millis>,
    old_archive_scan: Millis,
    /// HubSpot's time (its `Date` header) when the read's first search was answered.
    #[serde(default)]
    crm_started_at: Option<Millis>,
    /// Whether archived records are listed after the search.
    scan_archived: bool,
    /// Nothing of the object is linked: the archived list is not read, and the cursor says
    /// it was (see [`ChangeQuery::has_links`]).
    #[serde(default)]
    archive_needless: bool,
    /// Set once the search is done and the archived list is being read.
    in_archived: bool,
    /// The archived list's paging cursor.
    archived_after: Option<String>,
    started_at: Millis,
}

impl HubSpot {
    pub(super) async fn read_changes(
        &self,
        query: &ChangeQuery,
        properties: &[String],
    ) -> Result<ChangePage, ProviderError> {
        let object = query.object;
        if object == ObjectKind::Activity {
            return self.read_activity_changes(query, properties).await;
        }
        let path = object_path(object)?;
        let props = self.search_properties(object, properties);
        let company = wants_company(object, properties);
        self.read_object_changes(path, modified_property(object), query, &props, company)
            .await
    }

    /// One page of the change feed of the object at `path`, reading `props` (and, with
    /// `company`, each contact's primary company).
    pub(super) async fn read_object_changes(
        &self,
        path: &str,
        modified: &str,
        query: &ChangeQuery,
        props: &[String],
        company: bool,
    ) -> Result<ChangePage, ProviderError> {
        let mut t = self.page_token(query)?;
        if t.in_archived {
            return self.archived_page(path, modified, props, t).await;
        }
        let resp = self
            .http
            .send_ok(
                Request::new(Method::Post, format!("/crm/v3/objects/{path}/search"))
                    .lane(SEARCH)
                    .json(search_body(&t, modified, props, self.options.search_limit)),
            )
            .await?;
        self.note_crm_clock(&resp, &mut t);
        let list: ObjectList = self.parse(&resp, "a search")?;
        let full = list.results.len() >= self.options.search_limit;
        let page = take_page(&mut t, list, modified, company);
        let more = advance(&mut t, full, &page, path)?;
        if more {
            return Ok(self.go_on(page.records, &t));
        }
        if t.scan_archived {
            t.in_archived = true;
            t.archived_after = None;
            return Ok(self.go_on(page.records, &t));
        }
        Ok(ChangePage {
            records: page.records,
            checkpoint: Some(self.checkpoint(&t, t.archive_needless, true)),
            next: None,
            total: None,
        })
    }

    /// Where the read stands: the continuation of `query.page`, or a new read from the stored
    /// cursor (everything when there is none).
    fn page_token(&self, query: &ChangeQuery) -> Result<PageToken, ProviderError> {
        if let Some(p) = &query.page {
            return serde_json::from_str(p).map_err(|e| {
                ProviderError::Other(format!("invalid HubSpot page token `{p}`: {e}"))
            });
        }
        let now = self.clock.now();
        let cursor = match &query.since {
            Some(s) => Some(serde_json::from_str::<Cursor>(s).map_err(|e| {
                ProviderError::Other(format!(
                    "the stored HubSpot cursor `{s}` cannot be read ({e}); run \
                     `crmsync sync --full` to read everything again"
                ))
            })?),
            None => None,
        };
        Ok(PageToken {
            from: cursor.as_ref().map(|c| c.since),
            past: false,
            tie: None,
            newest: None,
            at_newest: Vec::new(),
            old_since: cursor.as_ref().map(|c| c.since),
            old_archive_scan: cursor.as_ref().map_or(0, |c| c.archive_scan),
            crm_started_at: None,
            // With nothing linked, an archived record concerns nothing here: the scan is
            // skipped and counted as done.
            scan_archived: query.has_links
                && cursor
                    .as_ref()
                    .is_none_or(|c| now - c.archive_scan >= self.options.archive_scan_interval),
            archive_needless: !query.has_links,
            in_archived: false,
            archived_after: None,
            started_at: now,
        })
    }

    /// One page of the archived list, after the search is done.
    async fn archived_page(
        &self,
        path: &str,
        modified: &str,
        props: &[String],
        mut t: PageToken,
    ) -> Result<ChangePage, ProviderError> {
        let after = t.archived_after.clone();
        let mut req = Request::new(Method::Get, format!("/crm/v3/objects/{path}"))
            .query("archived", "true")
            .query("limit", self.options.list_limit.to_string())
            .query("properties", props.join(","));
        if let Some(a) = after {
            req = req.query("after", a);
        }
        let resp = self.http.send_ok(req).await?;
        let list: ObjectList = self.parse(&resp, "an archived list")?;
        let records = list
            .results
            .into_iter()
            .map(|o| {
                let mut r = to_record(o, modified);
                r.archived = true;
                r
            })
            .collect();
        let next = list.paging.and_then(|p| p.next).map(|n| n.after);
        Ok(match next {
            Some(a) => {
                t.archived_after = Some(a);
                self.go_on(records, &t)
            }
            None => ChangePage {
                records,
                checkpoint: Some(self.checkpoint(&t, true, true)),
                next: None,
                total: None,
            },
        })
    }

    /// Reads HubSpot's clock from a search answer's `Date` header: the skew
    /// ([`Provider::clock_skew`](crate::providers::Provider::clock_skew)), and the read's start
    /// when this is its first search.
    fn note_crm_clock(&self, resp: &Response, t: &mut PageToken) {
        if let Some((at, skew)) = resp.crm_clock(self.clock.now()) {
            *self.skew.lock().unwrap_or_else(|e| e.into_inner()) = Some(skew);
            t.crm_started_at.get_or_insert(at);
        }
    }

    /// A page with more to come: its records, a checkpoint, and the token of the next page.
    fn go_on(&self, records: Vec<RemoteRecord>, t: &PageToken) -> ChangePage {
        ChangePage {
            records,
            checkpoint: Some(self.checkpoint(t, false, false)),
            next: Some(serde_json::to_string(t).expect("token serialises")),
            total: None,
        }
    }

    fn checkpoint(&self, t: &PageToken, archive_done: bool, complete: bool) -> String {
        // Every time here is HubSpot's own: the modification times read, and its clock when
        // the read began. This machine's clock may be minutes or hours off; compared with
        // HubSpot's timestamps it would skip edits (a HubSpot clock behind) for good.
        let mut since = match (t.newest, t.old_since) {
            (Some(n), Some(old)) => (n - self.overlap).max(old),
            (Some(n), None) => n - self.overlap,
            (None, Some(old)) => old,
            (None, None) => t.crm_started_at.map_or(0, |at| at - self.overlap),
        };
        if complete && let Some(at) = t.crm_started_at {
            // A complete read has seen everything modified before it started, less the
            // overlap for search indexes that lag: the cursor moves on even when nothing
            // changed, so records read once (such as the echoes of crmsync's own writes) stop
            // being read again once they are older than the overlap.
            since = since.max(at - self.overlap);
        }
        let archive_scan = if archive_done {
            t.started_at
        } else {
            t.old_archive_scan
        };
        serde_json::to_string(&Cursor {
            v: 1,
            since,
            archive_scan,
        })
        .expect("cursor serialises")
    }

    pub(super) fn search_properties(
        &self,
        object: ObjectKind,
        properties: &[String],
    ) -> Vec<String> {
        let mut props: Vec<String> = properties
            .iter()
            .filter(|p| !p.starts_with("associations."))
            .cloned()
            .collect();
        let company = wants_company(object, properties).then_some(PRIMARY_COMPANY);
        for extra in [EXTERNAL_ID, modified_property(object), MERGED_IDS]
            .into_iter()
            .chain(company)
        {
            if !props.iter().any(|p| p == extra) {
                props.push(extra.to_string());
            }
        }
        props
    }
}

/// The search for the next page: `GTE` (or `GT`) the bound sorted by modification time, or,
/// while one time is paged by id, `EQ` that time and `GT` the last id, sorted by id.
fn search_body(t: &PageToken, modified: &str, props: &[String], limit: usize) -> Value {
    let filter = |op: &str, prop: &str, value: String| json!({ "propertyName": prop, "operator": op, "value": value });
    let (filters, sort) = match t.tie {
        Some((at, last)) => (
            vec![
                filter("EQ", modified, at.to_string()),
                filter("GT", ID_PROPERTY, last.to_string()),
            ],
            ID_PROPERTY,
        ),
        None => (
            t.from
                .map(|from| {
                    filter(
                        if t.past { "GT" } else { "GTE" },
                        modified,
                        from.to_string(),
                    )
                })
                .into_iter()
                .collect(),
            modified,
        ),
    };
    json!({
        "filterGroups": if filters.is_empty() { json!([]) } else { json!([{ "filters": filters }]) },
        "sorts": [{ "propertyName": sort, "direction": "ASCENDING" }],
        "properties": props,
        "limit": limit,
    })
}

/// A search page as read: the records not read before, and the modification time of each
/// result and the highest id, which say where the next search starts.
struct SearchPage {
    records: Vec<RemoteRecord>,
    stamps: Vec<Millis>,
    last_id: Option<u64>,
}

/// Takes the records of a search answer, dropping those already read at the newest time and
/// keeping that time and its ids in `t`.
fn take_page(t: &mut PageToken, list: ObjectList, modified: &str, company: bool) -> SearchPage {
    let seen_at_newest: BTreeSet<String> = t.at_newest.iter().cloned().collect();
    let mut page = SearchPage {
        records: Vec::with_capacity(list.results.len()),
        stamps: Vec::with_capacity(list.results.len()),
        last_id: None,
    };
    for o in list.results {
        let mut r = to_record(o, modified);
        if company {
            with_primary_company(&mut r);
        }
        let stamp = r
            .props
            .get(modified)
            .and_then(|v| crate::clock::parse_instant(v))
            .unwrap_or(r.updated_at);
        page.stamps.push(stamp);
        page.last_id = page.last_id.max(r.id.parse().ok());
        if Some(stamp) == t.newest && seen_at_newest.contains(&r.id) {
            continue;
        }
        match t.newest {
            Some(n) if stamp < n => {}
            Some(n) if stamp == n => t.at_newest.push(r.id.clone()),
            _ => {
                t.newest = Some(stamp);
                t.at_newest = vec![r.id.clone()];
            }
        }
        page.records.push(r);
    }
    page
}

/// Moves `t` past a search page; says whether another search follows. A `full` page goes on
/// from its last time, or is paged by id when all of it shares one time; a page of a time paged
/// by id goes on by id while full, then past that time.
fn advance(
    t: &mut PageToken,
    full: bool,
    page: &SearchPage,
    path: &str,
) -> Result<bool, ProviderError> {
    Ok(match t.tie {
        Some((at, _)) if full => {
            let last = page.last_id.ok_or_else(|| {
                ProviderError::Other(format!("HubSpot sent {path} without a numeric id"))
            })?;
            t.tie = Some((at, last));
            true
        }
        Some((at, _)) => {
            // Every record at `at` is read: go on past it.
            t.tie = None;
            t.from = Some(at);
            t.past = true;
            t.at_newest.clear();
            true
        }
        None if full => {
            let (first, last) = (page.stamps[0], page.stamps[page.stamps.len() - 1]);
            if first == last {
                // A page's worth of records share one time: page them by id.
                tracing::debug!(at = first, "a search page at one time; paging it by id");
                t.tie = Some((first, 0));
            } else {
                t.from = Some(last);
                t.past = false;
            }
            true
        }
        None => false,
    })
}

/// The ids HubSpot merged into `record`, as its `hs_merged_object_ids` lists them.
pub(super) fn merged_from(record: &RemoteRecord) -> Vec<String> {
    record
        .props
        .get(MERGED_IDS)
        .map(|ids| {
            ids.split(';')
                .map(str::trim)
                .filter(|id| !id.is_empty() && *id != record.id)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
