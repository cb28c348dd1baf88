//! HubSpot's engagement objects, which crmsync keeps as local activities: what differs
//! between calls, emails, meetings, notes and tasks is one row of [`ENGAGEMENTS`].
//!
//! A local activity's `type` is sent as one of the keys `call`, `email`, `meeting`, `note`
//! and `task`, each naming the engagement object it is kept in (`call` → `/crm/v3/objects/calls`).
//! Other local types go to one of them by [`DEFAULT_ACTIVITY_TYPES`], entry by entry
//! overridden by `[connections.NAME.activity_types]`.
//!
//! # An activity's properties
//! The provider speaks of an activity in one vocabulary whatever its object ([`TYPE`],
//! [`SUBJECT`], [`BODY`], [`TIME`], [`DUE_DATE`], [`DURATION`], [`STATUS`], [`DIRECTION`],
//! [`DONE`], the owner and the contact and company associations), and this module turns it
//! into each object's own properties and back:
//! * the time is `hs_timestamp` (a meeting's start time too), written from `due_date` (at
//!   midnight UTC) when the activity has no time, and read back as both;
//! * the duration, in minutes, is a call's `hs_call_duration` (milliseconds) and the span of
//!   a meeting's start and end times;
//! * the direction, `inbound` or `outbound`, is a call's `INBOUND`/`OUTBOUND` and an email's
//!   `INCOMING_EMAIL`/`EMAIL` (a forwarded email reads as outbound);
//! * `done` is a task's status being `COMPLETED` (written as `COMPLETED` or `NOT_STARTED`
//!   when the status itself is not written).
//!
//! A property an object does not have (a note's subject) is left out of what is read, as
//! not named ([`crate::providers::RemoteRecord::returned`]), so the local value stays as it
//! is, and is not sent.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::catalogue::OWNER_PROPERTY;
use crate::providers::{RecordError, RemoteRecord};

pub(super) const TYPE: &str = "type";
pub(super) const SUBJECT: &str = "subject";
pub(super) const BODY: &str = "body";
pub(super) const TIME: &str = "hs_timestamp";
pub(super) const DUE_DATE: &str = "due_date";
pub(super) const DURATION: &str = "duration";
pub(super) const STATUS: &str = "status";
pub(super) const DIRECTION: &str = "direction";
pub(super) const DONE: &str = "done";
pub(super) const CONTACTS: &str = "associations.contacts";
pub(super) const COMPANIES: &str = "associations.companies";

/// The built-in mappings of activities: canonical field, activity property.
pub(super) const MAPPINGS: &[(&str, &str)] = &[
    ("type", TYPE),
    ("subject", SUBJECT),
    ("note", BODY),
    ("time", TIME),
    ("due_date", DUE_DATE),
    ("duration", DURATION),
    ("status", STATUS),
    ("direction", DIRECTION),
    ("done", DONE),
    ("owner", OWNER_PROPERTY),
    ("contact_id", CONTACTS),
    ("company_id", COMPANIES),
];

/// A task's status when done, and when written undone.
const COMPLETED: &str = "COMPLETED";
const NOT_STARTED: &str = "NOT_STARTED";

/// Which engagement object each local activity type is kept in, unless the connection's
/// `[connections.NAME.activity_types]` says otherwise.
pub const DEFAULT_ACTIVITY_TYPES: &[(&str, &str)] = &[
    ("call", "call"),
    ("email", "email"),
    ("meeting", "meeting"),
    ("note", "note"),
    ("task", "task"),
    ("linkedin", "task"),
    ("referral", "task"),
    ("conference", "meeting"),
];

/// One engagement object: its type key, path, and the properties the activity's fields are
/// kept in (`None`: the object has no such property).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Engagement {
    /// The activity type key (`call`).
    pub key: &'static str,
    /// The object's name in paths (`calls`).
    pub path: &'static str,
    pub subject: Option<&'static str>,
    pub body: &'static str,
    pub status: Option<&'static str>,
    pub direction: Option<&'static str>,
    /// A duration in milliseconds (calls).
    pub duration: Option<&'static str>,
    /// The start and end times (meetings): the start is the activity's time, the duration
    /// the difference.
    pub span: Option<(&'static str, &'static str)>,
    /// HubSpot's default (unlabelled) association type ids from this object to a contact
    /// and to a company, sent with a create (`associationCategory` `HUBSPOT_DEFINED`).
    ///
    /// Unconfirmed by the spec collection: its v3 and v4 files type `associationTypeId` as an
    /// integer and list no values. The API digest (§1.3) has note → contact 202 from a third
    /// party and note → company 190, task → contact 204, call → contact 194, meeting →
    /// contact 200 and email → contact 198 as unconfirmed; the company ids (call 182, email
    /// 186, meeting 188, task 192) are HubSpot's published defaults as recalled, in the same
    /// unconfirmed standing. Moving an activity to another contact or company
    /// (`activity_updates`) and every deal association go through `associate/default`, which
    /// names no id. A wrong id here shows as HubSpot refusing the create of that activity.
    pub to_contact: u32,
    pub to_company: u32,
}

pub(super) const ENGAGEMENTS: [Engagement; 5] = [
    Engagement {
        key: "call",
        path: "calls",
        subject: Some("hs_call_title"),
        body: "hs_call_body",
        status: Some("hs_call_status"),
        direction: Some("hs_call_direction"),
        duration: Some("hs_call_duration"),
        span: None,
        to_contact: 194,
        to_company: 182,
    },
    Engagement {
        key: "email",
        path: "emails",
        subject: Some("hs_email_subject"),
        body: "hs_email_text",
        status: Some("hs_email_status"),
        direction: Some("hs_email_direction"),
        duration: None,
        span: None,
        to_contact: 198,
        to_company: 186,
    },
    Engagement {
        key: "meeting",
        path: "meetings",
        subject: Some("hs_meeting_title"),
        body: "hs_meeting_body",
        status: Some("hs_meeting_outcome"),
        direction: None,
        duration: None,
        span: Some(("hs_meeting_start_time", "hs_meeting_end_time")),
        to_contact: 200,
        to_company: 188,
    },
    Engagement {
        key: "note",
        path: "notes",
        subject: None,
        body: "hs_note_body",
        status: None,
        direction: None,
        duration: None,
        span: None,
        to_contact: 202,
        to_company: 190,
    },
    Engagement {
        key: "task",
        path: "tasks",
        subject: Some("hs_task_subject"),
        body: "hs_task_body",
        status: Some("hs_task_status"),
        direction: None,
        duration: None,
        span: None,
        to_contact: 204,
        to_company: 192,
    },
];

impl Engagement {
    /// The engagement of a type key (`call`) or path (`calls`).
    pub fn of(name: &str) -> Option<&'static Engagement> {
        ENGAGEMENTS.iter().find(|e| e.key == name || e.path == name)
    }
}

fn refused(message: String) -> RecordError {
    RecordError {
        message,
        code: None,
        retryable: false,
        kind: Default::default(),
    }
}

/// An instant as an activity's time: ISO 8601 in UTC, to the second unless it has
/// milliseconds (the form of a local `time`, `FieldType::Instant`).
pub(super) fn time_text(ms: i64) -> String {
    let s = crate::clock::format_instant(ms);
    if ms % 1000 == 0 {
        format!("{}Z", &s[..19])
    } else {
        s
    }
}

impl Engagement {
    /// Every property of the activity vocabulary this object keeps.
    pub fn properties(&self) -> BTreeSet<&'static str> {
        let mut out: BTreeSet<&'static str> = [
            TYPE,
            BODY,
            TIME,
            DUE_DATE,
            OWNER_PROPERTY,
            CONTACTS,
            COMPANIES,
        ]
        .into();
        let optional = [
            (SUBJECT, self.subject.is_some()),
            (STATUS, self.status.is_some()),
            (DIRECTION, self.direction.is_some()),
            (DURATION, self.duration.is_some() || self.span.is_some()),
            (DONE, self.key == "task"),
        ];
        out.extend(optional.into_iter().filter(|(_, has)| *has).map(|(p, _)| p));
        out
    }

    /// The object's own properties read for an activity.
    pub fn read_properties(&self) -> Vec<String> {
        let mut out = vec![TIME, self.body, OWNER_PROPERTY];
        out.extend(self.subject);
        out.extend(self.status);
        out.extend(self.direction);
        out.extend(self.duration);
        if let Some((start, end)) = self.span {
            out.extend([start, end]);
        }
        out.into_iter().map(str::to_string).collect()
    }

    /// The activity id of this object's record `id` (`call:1042`): the object goes with
    /// the id, since each object numbers its own records.
    pub fn activity_id(&self, id: &str) -> String {
        format!("{}:{id}", self.key)
    }

    /// An activity id's object and the object's own id.
    pub fn split(activity_id: &str) -> Option<(&'static Engagement, &str)> {
        let (key, id) = activity_id.split_once(':')?;
        Some((Engagement::of(key)?, id))
    }

    /// This object's record (as read, with its own property names) as an activity.
    pub fn activity_of(&self, mut rec: RemoteRecord) -> RemoteRecord {
        let raw = std::mem::take(&mut rec.props);
        let get = |name: &str| raw.get(name).filter(|v| !v.is_empty()).cloned();
        let mut props = BTreeMap::new();
        props.insert(TYPE.to_string(), self.key.to_string());
        let mut put = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                props.insert(name.to_string(), v);
            }
        };
        put(SUBJECT, self.subject.and_then(get));
        put(BODY, get(self.body));
        let time = get(TIME).and_then(|t| crate::clock::parse_instant(&t));
        put(TIME, time.map(time_text));
        put(DUE_DATE, time.map(|t| time_text(t)[..10].to_string()));
        put(OWNER_PROPERTY, get(OWNER_PROPERTY));
        let status = self.status.and_then(get);
        if self.key == "task" {
            put(
                DONE,
                Some((status.as_deref() == Some(COMPLETED)).to_string()),
            );
        }
        put(STATUS, status);
        put(
            DIRECTION,
            self.direction.and_then(get).map(|d| read_direction(&d)),
        );
        let minutes = |ms: f64| {
            let text = (ms / 60_000.0).to_string();
            crate::model::normalize::normalize(crate::model::FieldType::Number, &text)
                .ok()
                .flatten()
                .unwrap_or(text)
        };
        let duration = match (self.duration, self.span) {
            (Some(p), _) => get(p).and_then(|v| v.parse::<f64>().ok()).map(minutes),
            (None, Some((start, end))) => {
                let at = |p: &str| get(p).and_then(|v| crate::clock::parse_instant(&v));
                at(start).zip(at(end)).map(|(s, e)| minutes((e - s) as f64))
            }
            _ => None,
        };
        put(DURATION, duration);
        for assoc in [CONTACTS, COMPANIES] {
            put(assoc, get(assoc));
        }
        rec.id = self.activity_id(&rec.id);
        rec.props = props;
        rec.external_id = None;
        rec.returned = Some(self.properties().into_iter().map(str::to_string).collect());
        rec
    }

    /// The object's own properties for an activity write of `props` (the activity
    /// vocabulary; an empty value clears); `start` is the meeting's start time when the
    /// write changes its duration without its time. Associations are left out.
    pub fn properties_of(
        &self,
        props: &BTreeMap<String, String>,
        start: Option<i64>,
    ) -> Result<Map<String, Value>, RecordError> {
        let mut out = Map::new();
        let mut unknown = Vec::new();
        let has = self.properties();
        let time = match props.get(TIME).filter(|v| !v.is_empty()) {
            Some(t) => Some(parse_time(t)?),
            None => match props.get(DUE_DATE).filter(|v| !v.is_empty()) {
                Some(d) => Some(parse_time(d)?),
                None => None,
            },
        };
        if let Some(t) = time {
            out.insert(TIME.into(), json!(crate::clock::format_instant(t)));
            if let Some((start, _)) = self.span {
                out.insert(start.into(), json!(crate::clock::format_instant(t)));
            }
        }
        for (name, value) in props {
            let name = name.as_str();
            if !has.contains(name) {
                if !ENGAGEMENTS.iter().any(|e| e.properties().contains(name)) {
                    unknown.push(name.to_string());
                }
                continue;
            }
            match name {
                SUBJECT => set(&mut out, self.subject, value),
                BODY => set(&mut out, Some(self.body), value),
                STATUS => set(&mut out, self.status, value),
                OWNER_PROPERTY => set(&mut out, Some(OWNER_PROPERTY), value),
                DIRECTION if value.is_empty() => set(&mut out, self.direction, value),
                DIRECTION => {
                    let sent = self.write_direction(value)?;
                    set(&mut out, self.direction, sent);
                }
                DONE if !props.contains_key(STATUS) => {
                    let status = if value == "true" {
                        COMPLETED
                    } else {
                        NOT_STARTED
                    };
                    set(&mut out, self.status, status);
                }
                DURATION => self.write_duration(&mut out, value, time.or(start))?,
                _ => {}
            }
        }
        if !unknown.is_empty() {
            return Err(RecordError::unknown("HubSpot activities", &unknown));
        }
        Ok(out)
    }

    /// Whether writing `props` to a meeting needs its start time read first: the duration
    /// changes and the time is not written with it.
    pub fn needs_start(&self, props: &BTreeMap<String, String>) -> bool {
        self.span.is_some()
            && props.get(DURATION).is_some_and(|d| !d.is_empty())
            && !props.contains_key(TIME)
            && !props.contains_key(DUE_DATE)
    }

    fn write_direction(&self, value: &str) -> Result<&'static str, RecordError> {
        let inbound = match value.trim().to_ascii_lowercase().as_str() {
            "inbound" => true,
            "outbound" => false,
            other => {
                return Err(refused(format!(
                    "`direction` is `{other}`: HubSpot takes `inbound` or `outbound`"
                )));
            }
        };
        Ok(match (self.key, inbound) {
            ("email", true) => "INCOMING_EMAIL",
            ("email", false) => "EMAIL",
            (_, true) => "INBOUND",
            (_, false) => "OUTBOUND",
        })
    }

    fn write_duration(
        &self,
        out: &mut Map<String, Value>,
        value: &str,
        start: Option<i64>,
    ) -> Result<(), RecordError> {
        let ms = if value.is_empty() {
            None
        } else {
            let minutes: f64 = value.trim().parse().map_err(|_| {
                refused(format!("`duration` is `{value}`, not a number of minutes"))
            })?;
            Some((minutes * 60_000.0).round() as i64)
        };
        match (self.duration, self.span) {
            (Some(p), _) => {
                out.insert(p.into(), ms.map_or(json!(""), |ms| json!(ms.to_string())));
            }
            (None, Some((_, end))) => match (ms, start) {
                (Some(ms), Some(s)) => {
                    out.insert(end.into(), json!(crate::clock::format_instant(s + ms)));
                }
                (None, _) => {
                    out.insert(end.into(), json!(""));
                }
                (Some(_), None) => {
                    return Err(refused(
                        "a meeting's duration needs its time: set `time` or `due_date`".into(),
                    ));
                }
            },
            _ => {}
        }
        Ok(())
    }
}

fn set(out: &mut Map<String, Value>, prop: Option<&str>, value: &str) {
    if let Some(p) = prop {
        out.insert(p.to_string(), json!(value));
    }
}

/// An activity's time or due date as epoch ms (a date is midnight UTC).
fn parse_time(value: &str) -> Result<i64, RecordError> {
    let v = value.trim();
    crate::clock::parse_instant(v)
        .or_else(|| crate::clock::parse_instant(&format!("{v}T00:00:00Z")))
        .ok_or_else(|| {
            refused(format!(
                "`{v}` is not a time: give ISO 8601 in UTC (2025-03-01T14:30:00Z) or a date"
            ))
        })
}

/// A direction as HubSpot keeps it, read as `inbound` or `outbound`.
fn read_direction(value: &str) -> String {
    match value {
        "INBOUND" | "INCOMING_EMAIL" => "inbound",
        "OUTBOUND" | "EMAIL" | "FORWARDED_EMAIL" => "outbound",
        other => return other.to_ascii_lowercase(),
    }
    .to_string()
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
    fn each_object_keeps_the_activity_in_its_own_properties() {
        let call = Engagement::of("calls").unwrap();
        let body = call
            .properties_of(
                &props(&[
                    ("subject", "Intro"),
                    ("body", "hello"),
                    ("hs_timestamp", "2025-03-01T14:30:00Z"),
                    ("duration", "1.5"),
                    ("direction", "Inbound"),
                    ("done", "true"),
                ]),
                None,
            )
            .unwrap();
        assert_eq!(body["hs_call_title"], "Intro");
        assert_eq!(body["hs_call_body"], "hello");
        assert_eq!(body["hs_call_duration"], "90000");
        assert_eq!(body["hs_call_direction"], "INBOUND");
        assert_eq!(body["hs_timestamp"], "2025-03-01T14:30:00.000Z");
        assert!(!body.contains_key("done"), "a call has no done");
        let task = Engagement::of("task").unwrap();
        let body = task
            .properties_of(
                &props(&[("due_date", "2025-03-01"), ("done", "true")]),
                None,
            )
            .unwrap();
        assert_eq!(body["hs_task_status"], "COMPLETED");
        assert_eq!(body["hs_timestamp"], "2025-03-01T00:00:00.000Z");
        let err = task
            .properties_of(&props(&[("location", "x")]), None)
            .unwrap_err();
        assert_eq!(err.unknown_properties(), ["location".to_string()]);
        let meeting = Engagement::of("meeting").unwrap();
        assert!(meeting.needs_start(&props(&[("duration", "30")])));
        let body = meeting
            .properties_of(&props(&[("duration", "30")]), Some(60_000))
            .unwrap();
        assert_eq!(
            body["hs_meeting_end_time"],
            crate::clock::format_instant(1_860_000)
        );
    }

    #[test]
    fn an_object_read_back_is_the_activity_written() {
        let meeting = Engagement::of("meeting").unwrap();
        let rec = RemoteRecord {
            id: "77".into(),
            props: [
                ("hs_meeting_title", "Demo"),
                ("hs_timestamp", "2025-03-01T14:30:00.000Z"),
                ("hs_meeting_start_time", "2025-03-01T14:30:00.000Z"),
                ("hs_meeting_end_time", "2025-03-01T15:15:00.000Z"),
                ("hs_meeting_outcome", "COMPLETED"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..Default::default()
        };
        let a = meeting.activity_of(rec);
        assert_eq!(a.id, "meeting:77");
        assert_eq!(a.props["type"], "meeting");
        assert_eq!(a.props["subject"], "Demo");
        assert_eq!(a.props["hs_timestamp"], "2025-03-01T14:30:00Z");
        assert_eq!(a.props["due_date"], "2025-03-01");
        assert_eq!(a.props["duration"], "45");
        assert_eq!(a.props["status"], "COMPLETED");
        assert!(!a.returned.unwrap().contains("direction"));
        assert_eq!(
            Engagement::split("meeting:77").map(|(e, id)| (e.path, id)),
            Some(("meetings", "77"))
        );
        let email = Engagement::of("email").unwrap();
        assert_eq!(read_direction("INCOMING_EMAIL"), "inbound");
        assert_eq!(email.write_direction("outbound").unwrap(), "EMAIL");
    }
}
