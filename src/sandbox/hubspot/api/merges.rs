//! `POST /crm/v3/objects/{objectType}/merge`, and the merge a HubSpot user makes.

use super::records::{API_SOURCE, PropSel, primary_company, render, set_primary, update_validated};
use super::wire::{id_of, parse_body};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::hubspot::errors::{ApiError, bad_request, not_found};
use crate::sandbox::hubspot::store::{Hub, ObjType};

/// Values a merge never copies: the system keeps them per record.
const SYSTEM_PROPS: [&str; 5] = [
    "hs_object_id",
    "createdate",
    "lastmodifieddate",
    "hs_lastmodifieddate",
    MERGED_IDS,
];

/// The read-only property listing the ids merged into a record, `;`-separated.
pub const MERGED_IDS: &str = "hs_merged_object_ids";

/// `POST /crm/v3/objects/{type}/merge`.
pub fn merge(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let body = parse_body(req)?;
    let primary = id_of(&body["primaryObjectId"]);
    let other = id_of(&body["objectIdToMerge"]);
    let (Ok(p), Ok(o)) = (primary.parse::<u64>(), other.parse::<u64>()) else {
        return Err(bad_request(
            "primaryObjectId and objectIdToMerge must be record ids",
        ));
    };
    merge_records(hub, t, now, API_SOURCE, p, o)?;
    let rec = &hub.store(t).records[&p];
    Ok(HttpResponse::json(
        200,
        &render(hub, t, rec, &PropSel::Default, &[]),
    ))
}

/// Merges record `o` into `p`: the primary keeps its values and takes the merged record's
/// values for properties it has empty; it lists `o` (and whatever had been merged into `o`)
/// in `hs_merged_object_ids`; associations move to the primary; the merged id then reads and
/// updates as the primary and is gone from lists and search.
pub fn merge_records(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    source: &'static str,
    p: u64,
    o: u64,
) -> Result<(), ApiError> {
    if p == o {
        return Err(bad_request(&format!(
            "Cannot merge {} {p} into itself",
            t.singular()
        )));
    }
    if hub.store(t).live(p).is_none() || hub.store(t).live(o).is_none() {
        return Err(not_found());
    }
    let unique = hub.unique_props(t);
    let gone = hub
        .store_mut(t)
        .take(o, &unique)
        .expect("checked live above");
    let primary = &hub.store(t).records[&p];
    let mut fill: Vec<(String, Option<String>)> = gone
        .props
        .iter()
        .filter(|(k, v)| !SYSTEM_PROPS.contains(&k.as_str()) && !v.is_empty())
        .filter(|(k, _)| primary.props.get(*k).is_none_or(String::is_empty))
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    let mut merged: Vec<String> = [primary.props.get(MERGED_IDS), gone.props.get(MERGED_IDS)]
        .into_iter()
        .flatten()
        .flat_map(|ids| ids.split(';'))
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect();
    merged.push(o.to_string());
    merged.sort_by_key(|id| id.parse::<u64>().unwrap_or(u64::MAX));
    merged.dedup();
    fill.push((MERGED_IDS.to_string(), Some(merged.join(";"))));
    update_validated(hub, t, now, source, p, fill)?;
    for other_side in hub.assoc.of(t, o) {
        hub.assoc.remove(t, o, other_side);
        hub.assoc.add(t, p, other_side);
        // A contact whose primary company was merged away has the survivor as its primary.
        // (A merged contact's primary came with its values above.)
        if t == ObjType::Companies && primary_company(hub, other_side) == Some(o) {
            set_primary(hub, now, source, other_side, Some(p));
        }
    }
    // The merged record's engagements go with it to the survivor.
    let engagements = hub.assoc.engagements.remove(&(t, o)).unwrap_or_default();
    for e in engagements {
        hub.assoc.remove_pair((t, o), e);
        hub.assoc.add_pair((t, p), e);
    }
    hub.store_mut(t).merged.insert(o, p);
    Ok(())
}
