//! The records a seeding import tagged (`crmsync_seed`), for `crmsync teardown`.
//!
//! Found with the search API (DIGEST §1.6): `crmsync_seed EQ <tag>`, sorted by
//! `hs_object_id` ascending and paged by key (`hs_object_id GT <last id seen>`), never by
//! offset, so no page is skipped and the 10,000-result cap of one query is never reached.
//! HubSpot compares text case-insensitively, so each result's value is checked to be the tag
//! exactly. Every page is read before anything is archived.

use serde_json::json;

use super::pacing::SEARCH;
use super::wire::ObjectList;
use super::{HubSpot, ID_PROPERTY, object_path};
use crate::model::ObjectKind;
use crate::providers::http::{Method, Request};
use crate::providers::{ProviderError, TAG_FIELD};

impl HubSpot {
    pub(super) async fn tagged(
        &self,
        object: ObjectKind,
        tag: &str,
    ) -> Result<Vec<String>, ProviderError> {
        let path = object_path(object)?;
        let mut found = Vec::new();
        let mut after: Option<u64> = None;
        loop {
            let mut filters =
                vec![json!({ "propertyName": TAG_FIELD, "operator": "EQ", "value": tag })];
            if let Some(last) = after {
                filters.push(json!({ "propertyName": ID_PROPERTY, "operator": "GT", "value": last.to_string() }));
            }
            let body = json!({
                "filterGroups": [{ "filters": filters }],
                "sorts": [{ "propertyName": ID_PROPERTY, "direction": "ASCENDING" }],
                "properties": [TAG_FIELD],
                "limit": self.options.search_limit,
            });
            let resp = self
                .http
                .send_ok(
                    Request::new(Method::Post, format!("/crm/v3/objects/{path}/search"))
                        .lane(SEARCH)
                        .json(body),
                )
                .await?;
            let list: ObjectList = self.parse(&resp, "a search for tagged records")?;
            let full = list.results.len() >= self.options.search_limit;
            let last = list
                .results
                .iter()
                .filter_map(|o| o.id.parse::<u64>().ok())
                .max();
            for o in list.results {
                if o.properties.get(TAG_FIELD).and_then(Option::as_deref) == Some(tag) {
                    found.push(o.id);
                }
            }
            match last {
                Some(last) if full && after.is_none_or(|a| last > a) => after = Some(last),
                _ => break,
            }
        }
        Ok(found)
    }
}
