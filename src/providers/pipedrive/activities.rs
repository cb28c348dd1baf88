//! Activities: v2 `/api/v2/activities` (the change feed, reads, creates, updates and deletes
//! go through the same code as persons, with the JSON here) and v1 `/api/v1/activityTypes`.
//!
//! # Properties
//! `subject`, `type` (an activity type's `key_string`), `note`, `due_date` (`YYYY-MM-DD`),
//! `done` (`true` / `false`), `person_id` and `org_id`. The person read is the primary
//! participant, the one the v2 list's `person_id` filter means (else the activity's
//! `person_id`); the person written is `person_id`, which makes it the primary participant.
//!
//! # Types
//! Local activity types are kept as Pipedrive's by [`DEFAULT_ACTIVITY_TYPES`], entry by entry
//! overridden by `[connections.NAME.activity_types]`; the engine translates them (see
//! `crate::mapping::values`). The catalogue lists `type` as a dropdown whose options are the
//! account's active types (`GET /v1/activityTypes`), so that a mapped key the account does not
//! have is found before anything is sent.
//!
//! # No activity twice
//! Pipedrive activities have no custom fields in API v2, so no `crmsync_id`: a create is
//! instead matched by its content key (type, subject, due date, and the person, else the
//! organization) against the person's activities (`GET /api/v2/activities?person_id=`). An
//! activity found before the first attempt is refused as a duplicate of that activity, which
//! the engine links to the local one (unless another local activity holds it); found before
//! a later attempt, it is this create's own lost answer, and is answered as created. A run
//! stopped after a create was sent finds nothing by external id, plans the create again and
//! meets the same check.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::catalogue::Catalogue;
use super::wire::{id_of, parse_time, text, to_record};
use super::writes::{Sent, collect, record_failure, refusal};
use super::{ORG_REF, Pipedrive};
use crate::model::ObjectKind;
use crate::providers::http::{Method, Request};
use crate::providers::{
    FieldOption, ProviderError, RecordError, RecordErrorKind, RemoteField, RemoteFieldKind,
    RemoteRecord, RemoteWrite, UNKNOWN_PROPERTIES_CODE_PREFIX, WriteResults,
};

const SUBJECT: &str = "subject";
const TYPE: &str = "type";
const NOTE: &str = "note";
const DUE_DATE: &str = "due_date";
const DONE: &str = "done";
const PERSON: &str = "person_id";

/// The activity properties crmsync reads and writes.
const PROPS: &[&str] = &[SUBJECT, TYPE, NOTE, DUE_DATE, DONE, PERSON, ORG_REF];

/// The built-in mappings of activities: canonical field, Pipedrive property.
pub(super) const MAPPINGS: &[(&str, &str)] = &[
    ("type", TYPE),
    ("subject", SUBJECT),
    ("note", NOTE),
    ("due_date", DUE_DATE),
    ("done", DONE),
    ("contact_id", PERSON),
    ("company_id", ORG_REF),
];

/// Which Pipedrive activity type each local type is kept as, unless the connection's
/// `[connections.NAME.activity_types]` says otherwise; a type not listed is sent as it is.
pub const DEFAULT_ACTIVITY_TYPES: &[(&str, &str)] = &[
    ("call", "call"),
    ("email", "email"),
    ("meeting", "meeting"),
    ("linkedin", "task"),
    ("referral", "task"),
    ("conference", "meeting"),
    ("note", "task"),
];

/// How many times a create is sent at most when its answers are lost.
const CREATE_ATTEMPTS: usize = 3;

/// The primary participant of a v2 activity, else its `person_id`.
fn person_of(v: &Value) -> Option<String> {
    v["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["primary"].as_bool() == Some(true))
        .and_then(|p| text(&p["person_id"]))
        .or_else(|| text(&v[PERSON]))
}

/// A v2 activity as a [`RemoteRecord`] (no external id: activities have no custom fields).
pub(super) fn activity_record(v: &Value, properties: &[String]) -> Option<RemoteRecord> {
    let id = id_of(v)?;
    let mut props = BTreeMap::new();
    for name in [SUBJECT, TYPE, NOTE, DUE_DATE, ORG_REF] {
        if let Some(t) = text(&v[name]) {
            props.insert(name.to_string(), t);
        }
    }
    if let Some(done) = v[DONE].as_bool() {
        props.insert(DONE.to_string(), done.to_string());
    }
    if let Some(p) = person_of(v) {
        props.insert(PERSON.to_string(), p);
    }
    let returned: BTreeSet<String> = properties
        .iter()
        .filter(|p| PROPS.contains(&p.as_str()))
        .cloned()
        .collect();
    Some(RemoteRecord {
        id,
        props,
        updated_at: parse_time(&v["update_time"]).unwrap_or(0),
        prop_updated_at: BTreeMap::new(),
        archived: v["is_deleted"].as_bool().unwrap_or(false),
        external_id: None,
        returned: Some(returned),
    })
}

/// A v2 record of `object` as a [`RemoteRecord`].
pub(super) fn record_of(
    object: ObjectKind,
    v: &Value,
    catalogue: &Catalogue,
    properties: &[String],
) -> Option<RemoteRecord> {
    match object {
        ObjectKind::Activity => activity_record(v, properties),
        _ => to_record(v, catalogue, properties),
    }
}

fn refused(message: String, code: Option<String>) -> RecordError {
    RecordError {
        message,
        code,
        retryable: false,
        kind: Default::default(),
    }
}

/// The body of a v2 activity create or update writing `props`; an empty value clears the
/// property (an empty type is not sent: every activity has one).
pub(super) fn activity_body(props: &BTreeMap<String, String>) -> Result<Value, RecordError> {
    let mut body = Map::new();
    let mut unknown = Vec::new();
    for (name, value) in props {
        let v = match name.as_str() {
            TYPE if value.is_empty() => continue,
            SUBJECT | TYPE | NOTE | DUE_DATE if value.is_empty() => Value::Null,
            SUBJECT | TYPE | NOTE | DUE_DATE => json!(value),
            DONE => match value.as_str() {
                "true" => json!(true),
                "false" | "" => json!(false),
                other => {
                    return Err(refused(
                        format!("`done` is `{other}`: Pipedrive takes `true` or `false`"),
                        None,
                    ));
                }
            },
            PERSON | ORG_REF if value.is_empty() => Value::Null,
            PERSON | ORG_REF => match value.parse::<i64>() {
                Ok(n) => json!(n),
                Err(_) => {
                    return Err(refused(
                        format!("`{name}` is `{value}`, not a Pipedrive id"),
                        None,
                    ));
                }
            },
            _ => {
                unknown.push(name.clone());
                continue;
            }
        };
        body.insert(name.clone(), v);
    }
    if !unknown.is_empty() {
        return Err(refused(
            format!(
                "Pipedrive activities have no field named {}",
                unknown
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(format!(
                "{UNKNOWN_PROPERTIES_CODE_PREFIX}{}",
                unknown.join(",")
            )),
        ));
    }
    Ok(Value::Object(body))
}

/// Whether `found` (a v2 activity) has the content key of `body` (a create's body): each of
/// type, subject, due date and person (else organization) that the body sets is equal.
fn same_content(body: &Value, found: &Value) -> bool {
    let trimmed = |v: &Value| v.as_str().map(str::trim).map(str::to_string);
    let person = |v: &Value| text(&v[PERSON]);
    [TYPE, SUBJECT, DUE_DATE]
        .iter()
        .all(|k| body[*k].is_null() || trimmed(&body[*k]) == trimmed(&found[*k]))
        && match person(body) {
            Some(p) => person_of(found).as_deref() == Some(p.as_str()),
            None => body[ORG_REF].is_null() || text(&body[ORG_REF]) == text(&found[ORG_REF]),
        }
}

impl Pipedrive {
    /// The catalogue the records of `object` are read with: activities have none.
    pub(super) async fn record_catalogue(
        &self,
        object: ObjectKind,
    ) -> Result<Arc<Catalogue>, ProviderError> {
        match object {
            ObjectKind::Activity => Ok(Arc::new(Catalogue::default())),
            _ => self.catalogue_of(object).await,
        }
    }

    /// The account's active activity types (`GET /v1/activityTypes`): key and name.
    async fn activity_types(&self) -> Result<Vec<FieldOption>, ProviderError> {
        let resp = self
            .http
            .send_ok(Request::new(Method::Get, "/api/v1/activityTypes"))
            .await?;
        let v: Value = self.parse(&resp, "the activity types")?;
        Ok(v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["active_flag"].as_bool() != Some(false))
            .filter_map(|t| {
                let value = t["key_string"].as_str()?.to_string();
                let label = t["name"].as_str().unwrap_or(&value).to_string();
                Some(FieldOption { value, label })
            })
            .collect())
    }

    /// The activity properties crmsync syncs, `type` with the account's types as options.
    pub(super) async fn activity_fields(&self) -> Result<Vec<RemoteField>, ProviderError> {
        let types = self.activity_types().await?;
        let field =
            |name: &str, label: &str, remote_type: &str, kind: RemoteFieldKind| RemoteField {
                open_options: false,
                max_length: None,
                name: name.to_string(),
                label: label.to_string(),
                remote_type: remote_type.to_string(),
                kind,
                read_only: false,
                unique: false,
                options: Vec::new(),
            };
        Ok(vec![
            field(SUBJECT, "Subject", "varchar", RemoteFieldKind::Text),
            RemoteField {
                open_options: false,
                max_length: None,
                options: types,
                ..field(TYPE, "Type", "enum", RemoteFieldKind::Enumeration)
            },
            field(NOTE, "Note", "text", RemoteFieldKind::Text),
            field(DUE_DATE, "Due date", "date", RemoteFieldKind::Date),
            field(DONE, "Done", "boolean", RemoteFieldKind::Bool),
            field(PERSON, "Person", "people", RemoteFieldKind::Reference),
            field(ORG_REF, "Organization", "org", RemoteFieldKind::Reference),
        ])
    }

    /// An activity of the person (else organization) `body` names with its content key,
    /// read from that person's activities (all of them, page by page).
    async fn find_same_activity(&self, body: &Value) -> Result<Option<Value>, ProviderError> {
        let (filter, id) = match (body[PERSON].as_i64(), body[ORG_REF].as_i64()) {
            (Some(p), _) => (PERSON, p),
            (None, Some(o)) => (ORG_REF, o),
            (None, None) => return Ok(None),
        };
        let mut cursor: Option<String> = None;
        loop {
            let mut req = Request::new(Method::Get, "/api/v2/activities")
                .query(filter, id.to_string())
                .query("limit", "500");
            if let Some(c) = &cursor {
                req = req.query("cursor", c.clone());
            }
            let resp = self.http.send_ok(req).await?;
            let v: Value = self.parse(&resp, "a list of activities")?;
            if let Some(found) = v["data"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["is_deleted"].as_bool() != Some(true) && same_content(body, a))
            {
                return Ok(Some(found.clone()));
            }
            match v["additional_data"]["next_cursor"].as_str() {
                Some(c) if !c.is_empty() => cursor = Some(c.to_string()),
                _ => return Ok(None),
            }
        }
    }

    pub(super) async fn create_activities(
        &self,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let outcomes = self
            .each(inputs, |w| async move {
                let body = match activity_body(&w.props) {
                    Ok(b) => b,
                    Err(refused) => return Ok(Err(refused)),
                };
                let wanted: Vec<String> = w.props.keys().cloned().collect();
                self.create_activity(body, w, &wanted).await
            })
            .await;
        collect(outcomes)
    }

    /// Sends one create, first looking for the activity in Pipedrive by its content key.
    async fn create_activity(
        &self,
        body: Value,
        w: &RemoteWrite,
        wanted: &[String],
    ) -> Result<Result<RemoteRecord, RecordError>, ProviderError> {
        let mut last: Option<ProviderError> = None;
        for attempt in 0..CREATE_ATTEMPTS {
            if let Some(found) = self.find_same_activity(&body).await? {
                let id = id_of(&found).unwrap_or_default();
                if attempt > 0 {
                    return Ok(activity_record(&found, wanted).ok_or_else(|| {
                        refused(format!("Pipedrive's activity `{id}` has no id"), None)
                    }));
                }
                return Ok(Err(RecordError {
                    message: format!(
                        "Pipedrive has activity `{id}` already, with the same type, subject, due date and person"
                    ),
                    code: None,
                    retryable: false,
                    kind: RecordErrorKind::Duplicate { existing_id: id },
                }));
            }
            match self.send_create("/api/v2/activities", &body, w).await? {
                Sent::Answered(resp) => {
                    return self.activity_from(&resp, wanted, "a create").map(Ok);
                }
                Sent::Refused(refused) => return Ok(Err(refused)),
                Sent::Failed(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ProviderError::Other("the create was not answered".into())))
    }

    fn activity_from(
        &self,
        resp: &crate::providers::http::Response,
        wanted: &[String],
        what: &str,
    ) -> Result<RemoteRecord, ProviderError> {
        let v: Value = self.parse(resp, what)?;
        activity_record(&v["data"], wanted).ok_or_else(|| {
            ProviderError::Other(format!("Pipedrive answered {what} without an activity id"))
        })
    }

    /// Updates activities (`PATCH /api/v2/activities/{id}`); one with nothing to write (the
    /// engine stamping an external id, which activities do not have) is read instead.
    pub(super) async fn update_activities(
        &self,
        inputs: &[RemoteWrite],
    ) -> Result<WriteResults<RemoteRecord>, ProviderError> {
        let outcomes = self
            .each(inputs, |w| async move {
                let Some(id) = w.remote_id.as_deref() else {
                    return Ok(Err(refused(
                        "an update without a Pipedrive id".into(),
                        None,
                    )));
                };
                let body = match activity_body(&w.props) {
                    Ok(b) => b,
                    Err(refused) => return Ok(Err(refused)),
                };
                let path = format!("/api/v2/activities/{id}");
                let req = if body.as_object().is_some_and(Map::is_empty) {
                    Request::new(Method::Get, path)
                } else {
                    Request::new(Method::Patch, path).json(body)
                };
                let wanted: Vec<String> = w.props.keys().cloned().collect();
                match self.http.send(req.record(id)).await {
                    Ok(resp) if resp.is_success() => {
                        self.activity_from(&resp, &wanted, "an update").map(Ok)
                    }
                    Ok(resp) => Ok(Err(refusal(self, &resp)?)),
                    Err(e) => Ok(Err(record_failure(e)?)),
                }
            })
            .await;
        collect(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_body_takes_pipedrive_types_and_clears_with_null() {
        let body = activity_body(&props(&[
            ("type", "task"),
            ("subject", "Intro"),
            ("note", ""),
            ("done", "true"),
            ("person_id", "12"),
            ("org_id", ""),
        ]))
        .unwrap();
        assert_eq!(
            body,
            json!({"type": "task", "subject": "Intro", "note": null, "done": true,
                   "person_id": 12, "org_id": null})
        );
        let err = activity_body(&props(&[("location", "x")])).unwrap_err();
        assert_eq!(err.unknown_properties(), vec!["location".to_string()]);
    }

    #[test]
    fn the_person_read_is_the_primary_participant() {
        let v = json!({"id": 5, "type": "call", "done": false, "person_id": 3,
                       "participants": [{"person_id": 3, "primary": false},
                                        {"person_id": 4, "primary": true}],
                       "update_time": "2025-01-02T10:20:00Z"});
        let r = activity_record(&v, &["person_id".into(), "done".into()]).unwrap();
        assert_eq!(r.props["person_id"], "4");
        assert_eq!(r.props["done"], "false");
        assert_eq!(r.external_id, None);
        let only_id = json!({"id": 6, "person_id": 9, "participants": []});
        assert_eq!(
            activity_record(&only_id, &[]).unwrap().props["person_id"],
            "9"
        );
    }

    #[test]
    fn the_content_key_is_type_subject_due_date_and_person() {
        let body = json!({"type": "task", "subject": "Intro", "due_date": "2025-03-01",
                          "person_id": 4, "note": "a"});
        let found = json!({"id": 1, "type": "task", "subject": " Intro ",
                           "due_date": "2025-03-01", "person_id": 4, "note": "b",
                           "participants": [{"person_id": 4, "primary": true}]});
        assert!(same_content(&body, &found));
        let mut other = found.clone();
        other["due_date"] = json!("2025-03-02");
        assert!(!same_content(&body, &other));
        let mut other = found.clone();
        other["participants"] = json!([{"person_id": 5, "primary": true}]);
        assert!(!same_content(&body, &other));
    }
}
