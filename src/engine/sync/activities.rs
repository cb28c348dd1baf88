//! What is particular to activities: the activity-type map of a connection, which local
//! activities a CRM is given, and how an unlinked CRM activity finds its local one.
//!
//! * **Types.** The `type` field is written by the CRM's built-in map
//!   ([`crate::providers::default_activity_types`]) overridden entry by entry by
//!   `[connections.NAME.activity_types]` (see [`crate::mapping::values`]). The CRM's catalogue
//!   lists its types as the options of `type`: a configured entry naming a type the account
//!   does not have stops the connection's activities with an error naming the entry and its
//!   line in the config; a built-in entry naming one is left out, with one warning, and that
//!   local type is sent as it is.
//! * **Anchors.** A local activity is created in a CRM only when its contact (or its company)
//!   is linked there: an activity belongs to the people it concerns, and a CRM that does not
//!   have them gets none of their activities. (Contacts and companies are pushed before
//!   activities, so those created in the same run count.) An activity left out that way goes
//!   by a later run once its contact or company is linked, with no change of its own
//!   ([`Store::unlinked_anchored_activities`](crate::store::Store::unlinked_anchored_activities)):
//!   a warm lead's calls follow the lead into the CRM.
//! * **Content key.** Activities have no match key of their own (no email); an unlinked CRM
//!   activity is paired with a live, unlinked local activity of the same contact (else
//!   company) with the same type, subject and time (where the CRM keeps times and both have
//!   one), else due date, types compared as the CRM keeps them
//!   (a local `linkedin` is the CRM's `task`). A CRM activity whose contact is not linked
//!   locally comes in with the references that resolve (its company, say) and the others
//!   left out with a warning, as any reference is.
//! * **No activity twice.** The pull's pairing is also what finds an activity a run killed
//!   between its create and its link left in the CRM (the next run's feed brings it), and
//!   one logged in the CRM as well. Before the push creates a local activity, the CRM
//!   records linked to other local activities with its content key go with the create
//!   ([`linked_twins`]), so the same row imported twice is not made again. A provider that
//!   would otherwise search the CRM before each create (HubSpot, whose searches are limited
//!   to a few a second) need not in a run that read the feed
//!   ([`crate::providers::RemoteWrite::content_checked`]).

use std::collections::{HashMap, HashSet};

use crate::engine::StepError;
use crate::engine::plan::{MatchedBy, RemoteSide};
use crate::mapping::{FieldMap, FieldRule, values};
use crate::model::{Fields, ObjectKind, Record, RecordId};
use crate::store::Store;

use super::session::Session;

/// The canonical fields of an activity's content key, besides the contact or company: the
/// type, the subject, and the time where both sides have one (a CRM that keeps it: HubSpot),
/// else the due date.
const CONTENT: &[&str] = &["type", "subject", "due_date", "time"];
/// The references an activity is anchored by, in the order they are tried.
const ANCHORS: &[(&str, ObjectKind)] = &[
    ("contact_id", ObjectKind::Contact),
    ("company_id", ObjectKind::Company),
];

/// Unlinked local activities that an unlinked CRM activity may be paired with by content.
pub(super) struct ContentMatch {
    /// (anchor field, local id it refers to) → live local activities holding it, oldest first.
    by_anchor: HashMap<(&'static str, String), Vec<Record>>,
    /// Local activities linked to this connection already.
    linked: HashSet<RecordId>,
    rules: Vec<FieldRule>,
}

impl ContentMatch {
    /// The first unclaimed local activity with the content key of `side`.
    pub(super) fn find(
        &self,
        side: &RemoteSide,
        claimed: &HashSet<RecordId>,
    ) -> Option<(Record, MatchedBy)> {
        let (field, anchor) = anchor_of(&side.fields)?;
        let candidates = self.by_anchor.get(&(field, anchor.to_string()))?;
        candidates
            .iter()
            .filter(|r| !self.linked.contains(&r.id) && !claimed.contains(&r.id))
            .find(|r| same_content(&self.rules, &r.fields, &side.fields))
            .map(|r| {
                let field = format!("type, subject, time or due date, and {field}");
                (r.clone(), MatchedBy::Key { field })
            })
    }
}

/// The first anchor field `fields` has, and its value.
fn anchor_of(fields: &Fields) -> Option<(&'static str, &str)> {
    ANCHORS
        .iter()
        .find_map(|(f, _)| fields.get(*f).map(|v| (*f, v.as_str())))
}

/// Whether two activities (canonical fields) have the same content key, their anchor aside:
/// the type, the subject, and the time where the CRM keeps times (`rules` map `time`) and
/// both have one, else the due date, each compared as the CRM keeps it (`rules`).
fn same_content(rules: &[FieldRule], a: &Fields, b: &Fields) -> bool {
    let timed = rules.iter().any(|rule| rule.field == "time")
        && a.contains_key("time")
        && b.contains_key("time");
    CONTENT
        .iter()
        .filter(|f| match **f {
            "time" => timed,
            "due_date" => !timed,
            _ => true,
        })
        .all(|f| {
            let (x, y) = (a.get(*f).map(String::as_str), b.get(*f).map(String::as_str));
            match rules.iter().find(|rule| rule.field == *f) {
                Some(rule) => rule.same(x, y),
                None => x == y,
            }
        })
}

/// For each local activity about to be created in `connection`'s CRM (its id and the fields
/// its create sends), the CRM ids of the records linked there to other live local activities
/// with its content key and anchor: the CRM has that activity already (the same row imported
/// twice, a call logged on both sides and paired once). They go with the create as its
/// [`RemoteWrite::takes_over`](crate::providers::RemoteWrite::takes_over); the provider checks
/// that they are still there with that content and answers a duplicate, which the executor
/// keeps as the record's failure (the CRM's record is linked to the other local activity).
///
/// This and the pull's pairing by content ([`ContentMatch`]) are what keep an activity from
/// being made twice in a run that read the change feed, so such a create needs no search in
/// the CRM first ([`RemoteWrite::content_checked`](crate::providers::RemoteWrite::content_checked)):
/// every CRM activity newer than the feed's cursor (one a run killed between its create and
/// its link left behind, one logged in the CRM as well) was offered to the unlinked local
/// activities by content before the push, and every older one is linked to a local activity,
/// which this finds. A local activity's own fields and its link's base (the CRM's content as
/// last synced) are both compared.
pub(crate) fn linked_twins(
    store: &Store,
    connection: &str,
    rules: &[FieldRule],
    creates: &[(&RecordId, &Fields)],
) -> Result<HashMap<RecordId, Vec<String>>, StepError> {
    let mut by_anchor: HashMap<(&'static str, String), Vec<Record>> = HashMap::new();
    for (_, fields) in creates {
        let Some((field, anchor)) = anchor_of(fields) else {
            continue;
        };
        if let std::collections::hash_map::Entry::Vacant(v) =
            by_anchor.entry((field, anchor.to_string()))
        {
            v.insert(store.records_with_field(ObjectKind::Activity, field, anchor)?);
        }
    }
    let ids: Vec<RecordId> = by_anchor.values().flatten().map(|r| r.id.clone()).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let links = store.links_by_local_ids(connection, ObjectKind::Activity, &ids)?;
    let rules: Vec<FieldRule> = rules
        .iter()
        .filter(|r| CONTENT.contains(&r.field.as_str()))
        .cloned()
        .collect();
    let mut out = HashMap::new();
    for (id, fields) in creates {
        let Some((field, anchor)) = anchor_of(fields) else {
            continue;
        };
        let Some(others) = by_anchor.get(&(field, anchor.to_string())) else {
            continue;
        };
        let twins: Vec<String> = others
            .iter()
            .filter(|r| r.id != **id)
            .filter_map(|r| {
                let link = links.get(&r.id).filter(|l| !l.retired)?;
                (same_content(&rules, &r.fields, fields)
                    || same_content(&rules, &link.base, fields))
                .then(|| link.remote_id.clone())
            })
            .collect();
        if !twins.is_empty() {
            out.insert((*id).clone(), twins);
        }
    }
    Ok(out)
}

impl Session<'_> {
    /// Sets the activity-type map of `map`'s `type` rule (see the module docs); its options,
    /// the CRM's types, must be in place.
    pub(super) fn map_activity_types(
        &mut self,
        object: ObjectKind,
        map: &mut FieldMap,
    ) -> Result<(), StepError> {
        if object != ObjectKind::Activity {
            return Ok(());
        }
        let name = self.p.name.clone();
        let configured = &self.p.config.activity_types;
        let Some(rule) = map.rules.iter_mut().find(|r| r.field == "type") else {
            return Ok(());
        };
        let known: Vec<&str> = rule.options.iter().map(|o| o.value.as_str()).collect();
        let has = |key: &str| known.is_empty() || known.contains(&key);
        let kind = self.p.provider.kind();
        let crm = kind.display_name();
        let mut values = values::activity_types(kind, configured);
        let mut left_out = Vec::new();
        for (local, key) in &values {
            if has(key) {
                continue;
            }
            if configured.entries().all(|(l, _)| l != local) {
                left_out.push(format!("`{local}` → `{key}`"));
                continue;
            }
            let line = configured
                .line_of(local)
                .map(|l| format!(" (line {l} of the config file)"))
                .unwrap_or_default();
            return Err(StepError::Other(format!(
                "`connections.{name}.activity_types.{local}`{line} keeps local activity type `{local}` as `{key}`, which is no activity type of this {crm} account (it has {}): map `{local}` to one of them, or add the type in {crm}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        values.retain(|_, key| has(key));
        rule.values = values;
        if !left_out.is_empty() {
            let message = format!(
                "{name} activity: this {crm} account has no activity type for the built-in {}, so those local types are sent as they are; map them in `[connections.{name}.activity_types]`",
                left_out.join(", ")
            );
            if !self.warnings.contains(&message) {
                self.warn(message);
            }
        }
        Ok(())
    }

    /// The local activities of `records` whose contact and company are both not linked to
    /// this connection, and the local deals of `records` whose contact or company is not:
    /// they are not created in its CRM (yet).
    pub(super) fn unanchored(
        &self,
        object: ObjectKind,
        records: &[Record],
    ) -> Result<HashSet<RecordId>, StepError> {
        if !matches!(object, ObjectKind::Activity | ObjectKind::Deal) {
            return Ok(HashSet::new());
        }
        let mut linked: HashSet<(ObjectKind, RecordId)> = HashSet::new();
        for &(field, kind) in ANCHORS {
            let ids: Vec<RecordId> = records
                .iter()
                .filter_map(|r| r.get(field))
                .map(|v| RecordId(v.to_string()))
                .collect();
            let links = self.store.links_by_local_ids(&self.p.name, kind, &ids)?;
            linked.extend(
                links
                    .into_iter()
                    .filter(|(_, l)| !l.retired)
                    .map(|(id, _)| (kind, id)),
            );
        }
        let is_linked = |r: &Record, field: &str, kind: ObjectKind| {
            r.get(field)
                .map(|v| linked.contains(&(kind, RecordId(v.to_string()))))
        };
        Ok(records
            .iter()
            .filter(|r| match object {
                // A deal waits for every record it names.
                ObjectKind::Deal => ANCHORS
                    .iter()
                    .any(|&(field, kind)| is_linked(r, field, kind) == Some(false)),
                _ => !ANCHORS
                    .iter()
                    .any(|&(field, kind)| is_linked(r, field, kind) == Some(true)),
            })
            .map(|r| r.id.clone())
            .collect())
    }

    /// The local activities the unlinked ones of `sides` may be paired with by content.
    pub(super) fn content_match<'s>(
        &self,
        object: ObjectKind,
        map: &FieldMap,
        unlinked: impl Iterator<Item = &'s RemoteSide>,
    ) -> Result<Option<ContentMatch>, StepError> {
        if object != ObjectKind::Activity {
            return Ok(None);
        }
        let mut by_anchor: HashMap<(&'static str, String), Vec<Record>> = HashMap::new();
        for side in unlinked {
            let Some((field, anchor)) = anchor_of(&side.fields) else {
                continue;
            };
            let key = (field, anchor.to_string());
            if by_anchor.contains_key(&key) {
                continue;
            }
            let found = self.store.records_with_field(object, field, anchor)?;
            by_anchor.insert(key, found);
        }
        let ids: Vec<RecordId> = by_anchor.values().flatten().map(|r| r.id.clone()).collect();
        let linked = self
            .store
            .links_by_local_ids(&self.p.name, object, &ids)?
            .into_keys()
            .collect();
        let rules = map
            .rules
            .iter()
            .filter(|r| CONTENT.contains(&r.field.as_str()))
            .cloned()
            .collect();
        Ok(Some(ContentMatch {
            by_anchor,
            linked,
            rules,
        }))
    }
}
