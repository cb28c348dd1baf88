//! The `/crm/...` endpoints, one file per resource, behind one route table ([`route`]).
//!
//! The files depend one way only: [`wire`] (reading a call) and [`records`] (the record
//! model) serve every endpoint file; the endpoint files serve this table.

mod associations;
mod batch;
mod merges;
mod objects;
mod pipelines;
mod properties;
mod records;
mod search;
mod wire;

use super::errors::ApiError;
use super::store::Hub;
use crate::sandbox::http::{HttpRequest, HttpResponse};

pub use associations::{associate, dissociate};
pub use merges::merge_records;
pub use objects::erase_contact;
pub use properties::delete_property;
pub use records::{
    PRIMARY_COMPANY, PropSel, archive, create, create_validated, render, restore, update,
};
use wire::obj_type;

/// Serves a `/crm/...` call; `segs` are its path segments after `crm`. `None` when no route
/// matches it.
pub fn route(hub: &mut Hub, now: i64, req: &HttpRequest, segs: &[&str]) -> Option<HttpResponse> {
    let answer: Result<HttpResponse, ApiError> = match (req.method.as_str(), segs) {
        ("GET", ["v3", "objects", t]) => obj_type(t).and_then(|t| objects::list(hub, t, req)),
        ("POST", ["v3", "objects", t]) => {
            obj_type(t).and_then(|t| objects::create_one(hub, t, now, req))
        }
        ("POST", ["v3", "objects", t, "search"]) => {
            obj_type(t).and_then(|t| search::handle(hub, t, req))
        }
        ("POST", ["v3", "objects", t, "merge"]) => {
            obj_type(t).and_then(|t| merges::merge(hub, t, now, req))
        }
        ("POST", ["v3", "objects", "contacts", "gdpr-delete"]) => {
            objects::gdpr_delete(hub, now, req)
        }
        ("POST", ["v3", "objects", t, "batch", op]) => {
            match obj_type(t).and_then(|t| batch::handle(hub, t, now, req, op)) {
                Ok(answer) => Ok(answer?),
                Err(e) => Err(e),
            }
        }
        ("GET", ["v3", "objects", t, id]) => {
            obj_type(t).and_then(|t| objects::get_one(hub, t, req, id))
        }
        ("PATCH", ["v3", "objects", t, id]) => {
            obj_type(t).and_then(|t| objects::patch_one(hub, t, now, req, id))
        }
        ("DELETE", ["v3", "objects", t, id]) => {
            obj_type(t).map(|t| objects::archive_one(hub, t, now, id))
        }
        ("GET", ["v3", "properties", t]) => obj_type(t).map(|t| properties::list(hub, t)),
        ("POST", ["v3", "properties", t]) => {
            obj_type(t).and_then(|t| properties::create_property(hub, t, now, req))
        }
        ("GET", ["v3", "properties", t, name]) => {
            obj_type(t).and_then(|t| properties::get(hub, t, name))
        }
        ("DELETE", ["v3", "properties", t, name]) => {
            obj_type(t).and_then(|t| delete_property(hub, t, name))
        }
        ("GET", ["v3", "owners"]) => properties::owners(hub, req),
        ("GET", ["v3", "pipelines", t]) => pipelines::list(t),
        ("GET", ["v3", "owners", id]) => properties::owner(hub, req, id),
        (
            "PUT",
            [
                "v4",
                "objects",
                from,
                id,
                "associations",
                "default",
                to,
                to_id,
            ],
        ) => associations::put_default(hub, from, id, to, to_id, now),
        ("GET", ["v4", "objects", from, id, "associations", to]) => {
            associations::assoc_get(hub, from, id, to)
        }
        ("DELETE", ["v4", "objects", from, id, "associations", to, to_id]) => {
            associations::delete(hub, from, id, to, to_id, now)
        }
        ("POST", ["v4", "associations", from, to, "batch", rest @ ..]) => {
            match associations::assoc_batch(hub, from, to, rest, req, now) {
                Ok(answer) => Ok(answer?),
                Err(e) => Err(e),
            }
        }
        _ => return None,
    };
    Some(answer.unwrap_or_else(|e| e.response()))
}
