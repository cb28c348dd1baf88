//! The change feed.
//!
//! # Live records
//! `GET query?q=SELECT <fields> FROM Contact WHERE SystemModstamp > <since> ORDER BY
//! SystemModstamp, Id` (no `WHERE` on a full read), with `Sforce-Query-Options:
//! batchSize=N`, continued through each answer's `nextRecordsUrl` exactly as given until
//! `done` (DIGEST §3.4, §3.5).
//!
//! Why the query locator and not keyset paging: a query locator serves the result set as it
//! was when the query ran, in its order, so a record that changes while crmsync pages through
//! it (a user's edit, or crmsync's own write of an earlier page) neither shifts an unread
//! record out of sight nor is skipped: it is read at its old place with its old values, and
//! its new version, whose `SystemModstamp` is later than the query's start, is read by the
//! next run, which starts no later than the newest `SystemModstamp` this read saw, less the
//! overlap. (That the locator is such a snapshot is what crmsync's simulation models and is
//! unconfirmed in DIGEST §3.4.) Keyset paging on `(SystemModstamp, Id)` would read the new
//! version in the same run, but needs a compound `OR` bound in each query and one query a
//! page; the locator's pages are one request each all the same, and the overlap re-reads the
//! little the snapshot leaves for the next run. The cursor stored after each page is the
//! newest `SystemModstamp` read so far less the overlap, never past a record not yet read,
//! since the pages come in `SystemModstamp` order.
//!
//! # Deletions
//! Deleted records are not in `query`. Once the live read is done (and only when the
//! connection has records of the object linked), `GET sobjects/Contact/deleted/?start=&end=`
//! gives the ids deleted in the window; its `latestDateCovered` is where the next window
//! starts. It covers the last 15 days only (DIGEST §3.5): a window starting earlier is read
//! with `queryAll` (`SELECT Id, SystemModstamp FROM Contact WHERE IsDeleted = true AND
//! SystemModstamp > <since>`), which sees what the Recycle Bin still holds. A full read
//! (no cursor) reads the deletions of the last 15 days.
//!
//! # Merges
//! A record a user merged into another is deleted, and names the survivor in its
//! `MasterRecordId`: it is not read as a deletion, and the survivor names it instead, by
//! the read's [`super::merges`] (found with `queryAll` when the live read brings anything,
//! and among the ids `deleted` lists).
//!
//! The stored cursor is JSON: `{"v":1,"since":<ms>,"deleted_since":<ms>}`, Salesforce's
//! times less the overlap.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::collections::BTreeSet;

use super::catalogue::Catalogue;
use super::merges::{MASTER_RECORD_ID, Merges, add_merges, follows_merges, name_merged};
use super::wire::{MODSTAMP, parse_time, record_of, select_list, soql_time, text};
use super::{Salesforce, sobject};
use crate::model::{Millis, ObjectKind};
use crate::providers::http::{Method, Response};
use crate::providers::{ChangePage, ChangeQuery, ProviderError, RemoteRecord};

const DAY: Millis = 86_400_000;
/// How far back `deleted` reaches (DIGEST §3.5), less an hour's margin.
const DELETED_WINDOW: Millis = 15 * DAY - 3_600_000;

/// The stored cursor.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct Cursor {
    v: u32,
    since: Millis,
    deleted_since: Millis,
}

/// Which part of the read a page is in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
enum Phase {
    #[default]
    Live,
    Deleted,
    QueryAll,
}

/// Where a read is between pages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct PageToken {
    #[serde(default)]
    phase: Phase,
    /// The `nextRecordsUrl` of the last answer (or, while a Bulk job is read, its locator).
    #[serde(default)]
    pub(super) next: Option<String>,
    /// The Bulk API job being read, when the first read goes through Bulk.
    #[serde(default)]
    pub(super) bulk_job: Option<String>,
    /// Newest `SystemModstamp` read.
    #[serde(default)]
    newest: Option<Millis>,
    /// The stored cursor before this read (`None` on full reads).
    #[serde(default)]
    old: Option<Cursor>,
    /// Salesforce's time (`Date`) when the read's first answer came.
    #[serde(default)]
    started: Option<Millis>,
    /// `since` as the live read left it.
    #[serde(default)]
    since: Option<Millis>,
    /// Records a Bulk job has given so far.
    #[serde(default)]
    pub(super) bulk_read: u64,
    /// The records the Bulk job holds in all, as it said when it completed.
    #[serde(default)]
    pub(super) bulk_total: Option<u64>,
    /// The merges found so far ([`super::merges`]): survivor → the ids merged into it.
    #[serde(default)]
    merges: Merges,
    /// Whether the live read has looked for merges.
    #[serde(default)]
    merges_read: bool,
    /// The survivors handed on so far, each naming what was merged into it.
    #[serde(default)]
    named: BTreeSet<String>,
}

impl PageToken {
    /// Keeps when the read started, on Salesforce's clock (`date`, its `Date` header) where
    /// it said, else this machine's.
    pub(super) fn note_start(&mut self, date: Option<Millis>, now: Millis) {
        if self.started.is_none() {
            self.started = Some(date.unwrap_or(now));
        }
    }
}

impl Salesforce {
    pub(super) async fn read_changes(
        &self,
        query: &ChangeQuery,
        properties: &[String],
    ) -> Result<ChangePage, ProviderError> {
        let object = query.object;
        let mut t = self.page_token(query)?;
        match t.phase {
            Phase::Deleted => return self.deleted_page(object, t, properties).await,
            Phase::QueryAll => return self.query_all_page(object, t, properties).await,
            Phase::Live => {}
        }
        let catalogue = self.catalogue(object).await?;
        let bulk = if t.bulk_job.is_some() {
            Some(self.bulk_page(&mut t).await?)
        } else if t.next.is_none() && t.old.is_none() && self.use_bulk(object).await? {
            self.start_bulk(object, &mut t, &catalogue, properties)
                .await?
        } else {
            None
        };
        let (raw, done, next) = match bulk {
            Some(page) => page,
            None => {
                self.query_page(object, &mut t, &catalogue, properties)
                    .await?
            }
        };
        let mut records: Vec<RemoteRecord> = raw
            .iter()
            .filter_map(|r| record_of(object, r, &catalogue, properties))
            .collect();
        // A merge moves its survivor, so a read that brings anything looks for the merges
        // since the cursor before its first page is handed on (only where a link can follow
        // one).
        if query.has_links
            && !t.merges_read
            && !records.is_empty()
            && follows_merges(object, &catalogue)
        {
            t.merges_read = true;
            let found = self.merges_since(object, t.old.map(|c| c.since)).await?;
            for (survivor, from) in found {
                t.merges.entry(survivor).or_default().extend(from);
            }
        }
        name_merged(&mut records, &t.merges, &mut t.named);
        // A Bulk job says how many records it holds: the read's size, for its progress.
        let total = t.bulk_job.as_ref().and(t.bulk_total);
        if let Some(newest) = records.iter().map(|r| r.updated_at).max() {
            t.newest = Some(t.newest.map_or(newest, |n| n.max(newest)));
        }
        let old_since = t.old.map(|c| c.since);
        let deleted_since = self.deleted_start(&t);
        if !done && next.is_some() {
            // Mid-read: everything up to the newest stamp read is read, the pages coming in
            // `SystemModstamp` order; a Bulk job's do not, and store nothing part-way.
            let since = t
                .newest
                .map(|n| n - self.overlap)
                .or(old_since)
                .unwrap_or(0);
            let checkpoint = t.bulk_job.is_none().then(|| cursor(since, deleted_since));
            t.next = next;
            return Ok(ChangePage {
                records,
                checkpoint,
                next: Some(token(&t)),
                total,
            });
        }
        // The live read is done: the next one starts at this one's start at least.
        t.bulk_job = None;
        let newest = t.newest.max(t.started).or(old_since);
        let since = newest.map_or(0, |n| n - self.overlap);
        t.since = Some(since);
        t.next = None;
        if !query.has_links {
            // Nothing of this object is linked: no deletion concerns this connection.
            let now = t.started.unwrap_or_else(|| self.crm_now());
            return Ok(ChangePage {
                records,
                checkpoint: Some(cursor(since, now - self.overlap)),
                next: None,
                total,
            });
        }
        t.phase = if self.crm_now() - deleted_since > DELETED_WINDOW {
            Phase::QueryAll
        } else {
            Phase::Deleted
        };
        Ok(ChangePage {
            records,
            checkpoint: Some(cursor(since, deleted_since)),
            next: Some(token(&t)),
            total,
        })
    }

    /// One page of the REST query: the first from the cursor, the rest through
    /// `nextRecordsUrl`.
    async fn query_page(
        &self,
        object: ObjectKind,
        t: &mut PageToken,
        catalogue: &Catalogue,
        properties: &[String],
    ) -> Result<(Vec<Value>, bool, Option<String>), ProviderError> {
        let resp = match &t.next {
            Some(url) => self.send_ok(self.query_request(url.clone())).await?,
            None => {
                let mut soql = format!(
                    "SELECT {} FROM {}",
                    select_list(catalogue, properties).join(", "),
                    sobject(object)
                );
                if let Some(old) = &t.old {
                    soql.push_str(&format!(" WHERE {MODSTAMP} > {}", soql_time(old.since)));
                }
                soql.push_str(&format!(" ORDER BY {MODSTAMP}, Id"));
                self.send_ok(self.soql("query", &soql)).await?
            }
        };
        self.note_crm_clock(&resp, t);
        let v: Value = self.parse(&resp, "a query")?;
        let raw: Vec<Value> = v["records"].as_array().cloned().unwrap_or_default();
        let done = v["done"].as_bool().unwrap_or(true);
        let next = v["nextRecordsUrl"].as_str().map(str::to_string);
        Ok((raw, done, next))
    }

    /// Salesforce's time now, as this machine's clock and the skew measured say.
    fn crm_now(&self) -> Millis {
        self.clock.now() + self.clock_skew_ms()
    }

    fn clock_skew_ms(&self) -> Millis {
        self.skew
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(0)
    }

    /// Where the read of deletions starts: the stored cursor's, else (a full read) as far
    /// back as `deleted` reaches.
    fn deleted_start(&self, t: &PageToken) -> Millis {
        match &t.old {
            Some(old) => old.deleted_since,
            None => t.started.unwrap_or_else(|| self.crm_now()) - DELETED_WINDOW,
        }
    }

    /// One call of `deleted`, the window from the cursor to the read's start. The deleted
    /// records that were merged into another are not archives: their survivor names them.
    async fn deleted_page(
        &self,
        object: ObjectKind,
        mut t: PageToken,
        properties: &[String],
    ) -> Result<ChangePage, ProviderError> {
        let start = self.deleted_start(&t);
        let end = t.started.unwrap_or_else(|| self.crm_now());
        let since = t.since.unwrap_or(0);
        if end <= start {
            let records = self.survivors_left(object, &mut t, properties).await?;
            return Ok(ChangePage {
                records,
                checkpoint: Some(cursor(since, start)),
                next: None,
                total: None,
            });
        }
        let path = self.data_path(&format!("sobjects/{}/deleted/", sobject(object)));
        let req = self
            .request(Method::Get, path)
            .query("start", soql_time(start))
            .query("end", soql_time(end));
        let resp = self.send_ok(req).await?;
        let v: Value = self.parse(&resp, "the deleted records")?;
        // `deletedRecords[].{id, deletedDate}` and `latestDateCovered`: the shape DIGEST §3.5
        // calls standard but unconfirmed.
        let gone: Vec<(String, Millis)> = v["deletedRecords"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| {
                Some((
                    text(&d["id"])?,
                    parse_time(&d["deletedDate"]).unwrap_or(end),
                ))
            })
            .collect();
        let catalogue = self.catalogue(object).await?;
        let mut away = BTreeSet::new();
        if !gone.is_empty() && follows_merges(object, &catalogue) {
            let ids: Vec<String> = gone.iter().map(|(id, _)| id.clone()).collect();
            for (survivor, from) in self.merges_of(object, &ids).await? {
                away.extend(from.iter().cloned());
                t.merges.entry(survivor).or_default().extend(from);
            }
        }
        let mut records: Vec<RemoteRecord> = gone
            .into_iter()
            .filter(|(id, _)| !away.contains(id))
            .map(|(id, at)| deleted(id, at))
            .collect();
        name_merged(&mut records, &t.merges, &mut t.named);
        records.extend(self.survivors_left(object, &mut t, properties).await?);
        let covered = parse_time(&v["latestDateCovered"]).unwrap_or(end);
        Ok(ChangePage {
            records,
            checkpoint: Some(cursor(since, covered.min(end) - self.overlap)),
            next: None,
            total: None,
        })
    }

    /// The survivors of the read's merges it has not handed on yet, read by id.
    async fn survivors_left(
        &self,
        object: ObjectKind,
        t: &mut PageToken,
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        if t.merges.is_empty() {
            return Ok(Vec::new());
        }
        let merges = t.merges.clone();
        self.unnamed_survivors(object, &merges, &mut t.named, properties)
            .await
    }

    /// One page of `queryAll` for the records deleted since the cursor, when that is further
    /// back than `deleted` reaches. Where the org merges records, it selects `MasterRecordId`
    /// too: a record merged into another is not an archive, its survivor names it.
    async fn query_all_page(
        &self,
        object: ObjectKind,
        mut t: PageToken,
        properties: &[String],
    ) -> Result<ChangePage, ProviderError> {
        let since = t.since.unwrap_or(0);
        let start = self.deleted_start(&t);
        let catalogue = self.catalogue(object).await?;
        let merging = follows_merges(object, &catalogue);
        let resp = match &t.next {
            Some(url) => self.send_ok(self.query_request(url.clone())).await?,
            None => {
                let master = if merging {
                    format!(", {MASTER_RECORD_ID}")
                } else {
                    String::new()
                };
                let soql = format!(
                    "SELECT Id, {MODSTAMP}{master} FROM {} WHERE IsDeleted = true AND {MODSTAMP} > {} ORDER BY {MODSTAMP}, Id",
                    sobject(object),
                    soql_time(start)
                );
                self.send_ok(self.soql("queryAll", &soql)).await?
            }
        };
        let v: Value = self.parse(&resp, "a queryAll")?;
        let rows: Vec<Value> = v["records"].as_array().cloned().unwrap_or_default();
        let away = add_merges(&rows, &mut t.merges);
        let mut records: Vec<RemoteRecord> = rows
            .iter()
            .filter_map(|r| {
                let id = text(&r["Id"])?;
                (!away.contains(&id)).then(|| deleted(id, parse_time(&r[MODSTAMP]).unwrap_or(0)))
            })
            .collect();
        name_merged(&mut records, &t.merges, &mut t.named);
        let end = t.started.unwrap_or_else(|| self.crm_now());
        match v["nextRecordsUrl"].as_str() {
            Some(url) if v["done"].as_bool() == Some(false) => {
                t.next = Some(url.to_string());
                Ok(ChangePage {
                    records,
                    checkpoint: None,
                    next: Some(token(&t)),
                    total: None,
                })
            }
            _ => {
                records.extend(self.survivors_left(object, &mut t, properties).await?);
                Ok(ChangePage {
                    records,
                    checkpoint: Some(cursor(since, end - self.overlap)),
                    next: None,
                    total: None,
                })
            }
        }
    }

    fn note_crm_clock(&self, resp: &Response, t: &mut PageToken) {
        let clock = resp.crm_clock(self.clock.now());
        t.note_start(clock.map(|(date, _)| date), self.clock.now());
        if let Some((_, skew)) = clock {
            *self.skew.lock().unwrap_or_else(|e| e.into_inner()) = Some(skew);
        }
    }

    /// Where the read stands: the continuation of `query.page`, or a new read from the stored
    /// cursor (everything when there is none).
    fn page_token(&self, query: &ChangeQuery) -> Result<PageToken, ProviderError> {
        if let Some(p) = &query.page {
            return serde_json::from_str(p).map_err(|e| {
                ProviderError::Other(format!("invalid Salesforce page token `{p}`: {e}"))
            });
        }
        let old = match &query.since {
            Some(s) => Some(serde_json::from_str::<Cursor>(s).map_err(|e| {
                ProviderError::Other(format!(
                    "the stored Salesforce cursor `{s}` cannot be read ({e}): run `crmsync sync --full` to read everything again"
                ))
            })?),
            None => None,
        };
        Ok(PageToken {
            old,
            ..PageToken::default()
        })
    }
}

/// A record deleted in Salesforce: it names no field, so the deletion clears none.
fn deleted(id: String, at: Millis) -> RemoteRecord {
    RemoteRecord {
        id,
        updated_at: at,
        archived: true,
        returned: Some(Default::default()),
        ..RemoteRecord::default()
    }
}

fn cursor(since: Millis, deleted_since: Millis) -> String {
    serde_json::to_string(&Cursor {
        v: 1,
        since,
        deleted_since,
    })
    .expect("a cursor serializes")
}

fn token(t: &PageToken) -> String {
    serde_json::to_string(t).expect("a page token serializes")
}
