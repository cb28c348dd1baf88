//! `/crm/v3/properties/{objectType}[/{name}]` (the property catalogue) and
//! `/crm/v3/owners[/{id}]`.

use serde_json::{Value, json};

use super::wire::{archived_flag, parse_body};
use crate::sandbox::http::{HttpRequest, HttpResponse};
use crate::sandbox::hubspot::catalogue::PropDef;
use crate::sandbox::hubspot::errors::{ApiError, bad_request, not_found};
use crate::sandbox::hubspot::store::{Hub, ObjType};

/// `GET /crm/v3/properties/{objectType}`: the catalogue.
pub fn list(hub: &Hub, t: ObjType) -> HttpResponse {
    let results: Vec<Value> = hub.props[&t].iter().map(PropDef::to_json).collect();
    HttpResponse::json(200, &json!({"results": results}))
}

/// `GET /crm/v3/properties/{objectType}/{propertyName}`.
pub fn get(hub: &Hub, t: ObjType, name: &str) -> Result<HttpResponse, ApiError> {
    hub.prop(t, name)
        .map(|p| HttpResponse::json(200, &p.to_json()))
        .ok_or_else(|| unknown_property(t, name))
}

fn unknown_property(t: ObjType, name: &str) -> ApiError {
    ApiError::new(
        404,
        "OBJECT_NOT_FOUND",
        &format!(
            "Unable to find property {name} for object type {}",
            t.singular()
        ),
    )
}

/// `DELETE /crm/v3/properties/{objectType}/{propertyName}`: the property leaves the catalogue;
/// reads no longer return it and a write naming it is refused as an unknown property. A
/// HubSpot-defined property cannot be deleted.
pub fn delete_property(hub: &mut Hub, t: ObjType, name: &str) -> Result<HttpResponse, ApiError> {
    let Some(def) = hub.prop(t, name) else {
        return Err(unknown_property(t, name));
    };
    if def.hubspot_defined || def.read_only_definition {
        return Err(bad_request(&format!(
            "{name} is a HubSpot defined property and cannot be deleted"
        )));
    }
    if let Some(props) = hub.props.get_mut(&t) {
        props.retain(|p| p.name != name);
    }
    Ok(HttpResponse::empty(204))
}

/// `POST /crm/v3/properties/{objectType}`: a custom property.
pub fn create_property(
    hub: &mut Hub,
    t: ObjType,
    now: i64,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let body = parse_body(req)?;
    let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let mut missing = Vec::new();
    for k in ["name", "label", "type", "fieldType", "groupName"] {
        if field(k).is_none() {
            missing.push(k);
        }
    }
    if !missing.is_empty() {
        return Err(bad_request(&format!(
            "Invalid input JSON: missing required fields {}",
            missing.join(", ")
        )));
    }
    let name = field("name").unwrap_or_default();
    let ptype = field("type").unwrap_or_default();
    if ![
        "string",
        "number",
        "date",
        "datetime",
        "enumeration",
        "bool",
        "phone_number",
    ]
    .contains(&ptype.as_str())
    {
        return Err(bad_request(&format!("Invalid property type `{ptype}`")));
    }
    if hub.prop(t, &name).is_some() {
        return Err(ApiError::new(
            409,
            "OBJECT_ALREADY_EXISTS",
            &format!("Property named '{name}' already exists."),
        ));
    }
    let options: Vec<(String, String)> = body
        .get("options")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|o| {
                    (
                        o["label"].as_str().unwrap_or_default().to_string(),
                        o["value"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if ptype == "enumeration" && options.is_empty() {
        return Err(bad_request("Enumeration properties must have options"));
    }
    let def = PropDef {
        name,
        label: field("label").unwrap_or_default(),
        ptype,
        field_type: field("fieldType").unwrap_or_default(),
        group: field("groupName").unwrap_or_default(),
        description: field("description").unwrap_or_default(),
        options,
        read_only_value: false,
        read_only_definition: false,
        has_unique_value: body
            .get("hasUniqueValue")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        hubspot_defined: false,
        display_order: body
            .get("displayOrder")
            .and_then(Value::as_i64)
            .unwrap_or(-1),
        created_ms: now,
        updated_ms: now,
    };
    let v = def.to_json();
    hub.props
        .get_mut(&t)
        .expect("both types have catalogues")
        .push(def);
    Ok(HttpResponse::json(201, &v))
}

/// `GET /crm/v3/owners`, paged by offset, optionally by `email`.
pub fn owners(hub: &Hub, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let limit = req
        .query_param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 500);
    let after = req
        .query_param("after")
        .and_then(|a| a.parse::<usize>().ok())
        .unwrap_or(0);
    if archived_flag(req) {
        return Ok(HttpResponse::json(200, &json!({"results": []})));
    }
    let filtered: Vec<_> = hub
        .owners
        .iter()
        .filter(|o| {
            req.query_param("email")
                .is_none_or(|e| o.email.eq_ignore_ascii_case(e))
        })
        .collect();
    let page: Vec<Value> = filtered
        .iter()
        .skip(after)
        .take(limit)
        .map(|o| o.to_json())
        .collect();
    let mut body = json!({"results": page});
    if filtered.len() > after + limit {
        let next = (after + limit).to_string();
        body["paging"] = json!({"next": {"after": next, "link": format!("{}/crm/v3/owners?limit={limit}&after={next}", hub.base_url)}});
    }
    Ok(HttpResponse::json(200, &body))
}

/// `GET /crm/v3/owners/{ownerId}`, or by user id with `idProperty=userId`.
pub fn owner(hub: &Hub, req: &HttpRequest, id: &str) -> Result<HttpResponse, ApiError> {
    let by_user = req.query_param("idProperty") == Some("userId");
    hub.owners
        .iter()
        .find(|o| {
            if by_user {
                o.user_id.to_string() == id
            } else {
                o.id == id
            }
        })
        .map(|o| HttpResponse::json(200, &o.to_json()))
        .ok_or_else(not_found)
}
