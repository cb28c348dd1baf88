//! Records a user merged in Salesforce.
//!
//! Salesforce merges Contacts and Accounts (up to three records into one) in its interface,
//! SOAP's `merge()` and Apex; the REST API has none. A merge deletes the merged-away
//! records, setting their `MasterRecordId` to the survivor, moves their children (a contact's
//! tasks, an account's contacts and tasks) to the survivor and updates the survivor, which
//! moves its `SystemModstamp` (Apex Developer Guide, "Triggers and Merge Statements": the
//! losing records are deleted with `MasterRecordId` set, the winning record is updated;
//! SOAP API Developer Guide, `merge()`: "use `queryAll()` to view records that have been
//! deleted during a merge"). DIGEST §3 says nothing of merges: this rests on those guides,
//! and that the survivor's `SystemModstamp` moves with the update is unconfirmed.
//!
//! So a merged-away record is not an archive: like HubSpot's and Pipedrive's, it is gone,
//! and the survivor names it ([`Provider::merged_from`](crate::providers::Provider::merged_from),
//! through the [`MERGED_FROM`] property a read adds), so that the engine moves the
//! merged-away record's link to the survivor. The merges are found with `queryAll`:
//!
//! * when a read of Contacts or Accounts with records linked brings any record, before its
//!   first page is handed on: `SELECT Id, MasterRecordId FROM Contact WHERE IsDeleted = true
//!   AND MasterRecordId != null AND SystemModstamp > <cursor>` (a merge moves the survivor,
//!   so a read that brings nothing has no merge to find, and a no-op run past the overlap
//!   sends no such query);
//! * for the ids `sobjects/X/deleted` lists (`SELECT Id, MasterRecordId FROM Contact WHERE
//!   Id IN (…)`, only when it lists any), and in the `queryAll` read of older deletions,
//!   which selects `MasterRecordId` itself.
//!
//! A survivor the read does not bring otherwise (merged before the window, or deleted since)
//! is read by id, or named by its own deletion, at the end of the read of deletions.
//! An org whose `describe` lists no `MasterRecordId` is read as one that merges nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::catalogue::Catalogue;
use super::wire::{quote, soql_time, text};
use super::{COLLECTION_LIMIT, Salesforce, sobject};
use crate::model::{Millis, ObjectKind};
use crate::providers::{ProviderError, RemoteRecord};

/// The field of a merged-away record naming the record it went into.
pub(super) const MASTER_RECORD_ID: &str = "MasterRecordId";
/// The property a read adds to a merge's survivor: the ids merged into it, `;`-separated.
pub(super) const MERGED_FROM: &str = "crmsync:merged_from";

/// Survivor → the ids merged into it.
pub(super) type Merges = BTreeMap<String, BTreeSet<String>>;

/// Whether records of `object` can be merged in this org: Contacts and Accounts, when
/// `describe` lists `MasterRecordId`.
pub(super) fn follows_merges(object: ObjectKind, catalogue: &Catalogue) -> bool {
    matches!(object, ObjectKind::Contact | ObjectKind::Company) && catalogue.has(MASTER_RECORD_ID)
}

/// Adds to each survivor among `records` the ids merged into it, noting it in `named`.
pub(super) fn name_merged(
    records: &mut [RemoteRecord],
    merges: &Merges,
    named: &mut BTreeSet<String>,
) {
    for r in records {
        if let Some(from) = merges.get(&r.id) {
            let ids: Vec<&str> = from.iter().map(String::as_str).collect();
            r.props.insert(MERGED_FROM.to_string(), ids.join(";"));
            named.insert(r.id.clone());
        }
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

/// Adds the merges of a `queryAll` answer's records (`Id`, `MasterRecordId`) to `merges`;
/// the ids of the records that were merged away.
pub(super) fn add_merges(rows: &[Value], merges: &mut Merges) -> BTreeSet<String> {
    let mut away = BTreeSet::new();
    for r in rows {
        let (Some(id), Some(master)) = (text(&r["Id"]), text(&r[MASTER_RECORD_ID])) else {
            continue;
        };
        if id != master {
            merges.entry(master).or_default().insert(id.clone());
            away.insert(id);
        }
    }
    away
}

impl Salesforce {
    /// The merges of `object` whose merged-away records changed after `since` (all of them
    /// in the Recycle Bin when `None`).
    pub(super) async fn merges_since(
        &self,
        object: ObjectKind,
        since: Option<Millis>,
    ) -> Result<Merges, ProviderError> {
        let mut soql = format!(
            "SELECT Id, {MASTER_RECORD_ID} FROM {} WHERE IsDeleted = true AND {MASTER_RECORD_ID} != null",
            sobject(object)
        );
        if let Some(since) = since {
            soql.push_str(&format!(" AND SystemModstamp > {}", soql_time(since)));
        }
        let mut merges = Merges::new();
        add_merges(&self.query_all_rows(&soql).await?, &mut merges);
        Ok(merges)
    }

    /// The merges among the deleted records `ids` of `object`.
    pub(super) async fn merges_of(
        &self,
        object: ObjectKind,
        ids: &[String],
    ) -> Result<Merges, ProviderError> {
        let mut merges = Merges::new();
        for chunk in ids.chunks(COLLECTION_LIMIT) {
            let list: Vec<String> = chunk.iter().map(|id| quote(id)).collect();
            let soql = format!(
                "SELECT Id, {MASTER_RECORD_ID} FROM {} WHERE Id IN ({})",
                sobject(object),
                list.join(", ")
            );
            add_merges(&self.query_all_rows(&soql).await?, &mut merges);
        }
        Ok(merges)
    }

    /// Every row of a `queryAll`, page after page.
    async fn query_all_rows(&self, soql: &str) -> Result<Vec<Value>, ProviderError> {
        let mut rows = Vec::new();
        let mut req = self.soql("queryAll", soql);
        loop {
            let resp = self.send_ok(req).await?;
            let v: Value = self.parse(&resp, "a queryAll")?;
            rows.extend(v["records"].as_array().into_iter().flatten().cloned());
            match v["nextRecordsUrl"].as_str() {
                Some(url) if v["done"].as_bool() == Some(false) => {
                    req = self.query_request(url.to_string());
                }
                _ => return Ok(rows),
            }
        }
    }

    /// The survivors of `merges` not in `named` yet, read by id (those still live), each
    /// naming what was merged into it.
    pub(super) async fn unnamed_survivors(
        &self,
        object: ObjectKind,
        merges: &Merges,
        named: &mut BTreeSet<String>,
        properties: &[String],
    ) -> Result<Vec<RemoteRecord>, ProviderError> {
        let ids: Vec<String> = merges
            .keys()
            .filter(|id| !named.contains(*id))
            .cloned()
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = self.read_where(object, "Id", &ids, properties).await?;
        name_merged(&mut found, merges, named);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merged_away_rows_name_their_survivor_and_the_survivor_names_them() {
        let mut merges = Merges::new();
        let away = add_merges(
            &[
                json!({"Id": "003B", "MasterRecordId": "003A"}),
                json!({"Id": "003C", "MasterRecordId": "003A"}),
                json!({"Id": "003D", "MasterRecordId": null}),
            ],
            &mut merges,
        );
        assert_eq!(away, BTreeSet::from(["003B".into(), "003C".into()]));
        let mut records = vec![
            RemoteRecord {
                id: "003A".into(),
                ..RemoteRecord::default()
            },
            RemoteRecord {
                id: "003E".into(),
                ..RemoteRecord::default()
            },
        ];
        let mut named = BTreeSet::new();
        name_merged(&mut records, &merges, &mut named);
        assert_eq!(merged_from(&records[0]), ["003B", "003C"]);
        assert!(merged_from(&records[1]).is_empty());
        assert_eq!(named, BTreeSet::from(["003A".into()]));
    }
}
