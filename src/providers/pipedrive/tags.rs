//! The records a seeding import tagged (`crmsync_seed`), for `crmsync teardown`.
//!
//! Pipedrive's v2 lists filter on a custom field's value only through a saved filter
//! (`filter_id`, which crmsync would have to create in the account), so the tagged records are
//! found as a record is found by its `crmsync_id` (DIGEST §2.4 and the v2 spec): the v2 search
//! (`GET /api/v2/{persons|organizations}/search`, v2 spec `searchPersons` /
//! `searchOrganizations`) with `term=<tag>`, `fields=custom_fields` (a `varchar` field is
//! searchable) and `exact_match=true`, paged by `limit` (500 at most) and `cursor` until
//! `additional_data.next_cursor` is null. Such a search matches the tag in *any* searchable
//! custom field and ignores case (the spec says so of `exact_match`), so every record found is
//! read whole (`GET /api/v2/{persons|organizations}?ids=…`) and kept only when its
//! `crmsync_seed` holds the tag exactly. Every page is read before anything is deleted.

use serde_json::Value;

use super::pacing::SEARCH;
use super::writes::search_hits;
use super::{Pipedrive, object_path};
use crate::model::ObjectKind;
use crate::providers::http::{Method, Request};
use crate::providers::{ProviderError, TAG_FIELD};

/// Results a search page holds at most (the spec's maximum `limit`).
const SEARCH_PAGE: usize = 500;

impl Pipedrive {
    pub(super) async fn tagged(
        &self,
        object: ObjectKind,
        tag: &str,
    ) -> Result<Vec<String>, ProviderError> {
        let path = format!("/api/v2/{}/search", object_path(object)?);
        let mut found: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        let limit = crate::providers::test_page_size(SEARCH_PAGE).unwrap_or(SEARCH_PAGE);
        loop {
            let mut req = Request::new(Method::Get, path.clone())
                .query("term", tag.to_string())
                .query("fields", "custom_fields")
                .query("exact_match", "true")
                .query("limit", limit.to_string())
                .lane(SEARCH);
            if let Some(c) = &cursor {
                req = req.query("cursor", c.clone());
            }
            let resp = self.http.send_ok(req).await?;
            let v: Value = self.parse(&resp, "a search for tagged records")?;
            found.extend(search_hits(&v));
            match v["additional_data"]["next_cursor"].as_str() {
                Some(next) if !next.is_empty() && cursor.as_deref() != Some(next) => {
                    cursor = Some(next.to_string());
                }
                _ => break,
            }
        }
        if found.is_empty() {
            return Ok(found);
        }
        found.sort();
        found.dedup();
        let records = self
            .read_ids(object, &found, &[TAG_FIELD.to_string()])
            .await?;
        let mut ids: Vec<String> = records
            .into_iter()
            .filter(|r| !r.archived && r.props.get(TAG_FIELD).map(String::as_str) == Some(tag))
            .map(|r| r.id)
            .collect();
        ids.sort_by_key(|id| id.parse::<u64>().unwrap_or(u64::MAX));
        Ok(ids)
    }
}
