//! The explanation of one record: per linked connection, each field's base, local and last
//! seen remote value, its direction and policy with where each comes from, and what the next
//! sync does with it. Read from the local store only: the CRM is not called.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::Config;
use crate::mapping::{ConflictPolicy, Direction, FieldMap, FieldRule};
use crate::model::{Millis, ObjectKind, Record, RecordId};
use crate::providers::DefaultMapping;
use crate::store::{AuditEntry, Conflict, ConflictFilter, Link, Store};

use super::status::RecordState;

/// `crmsync explain --json`
#[derive(Debug, Serialize)]
pub struct Explanation {
    pub id: RecordId,
    pub kind: ObjectKind,
    pub archived_at: Option<Millis>,
    /// One entry per connection the record is linked to.
    pub connections: Vec<ConnectionView>,
}

#[derive(Debug, Serialize)]
pub struct ConnectionView {
    pub connection: String,
    pub remote_id: String,
    /// The link was retired by an archive; it is no longer synced.
    pub retired: bool,
    pub synced_at: Millis,
    /// The record changed locally since this connection last looked at it.
    pub pending: bool,
    pub fields: Vec<FieldView>,
}

#[derive(Debug, Serialize)]
pub struct FieldView {
    pub field: String,
    /// The value both sides agreed on at the last sync.
    pub base: Option<String>,
    pub local: Option<String>,
    /// The CRM's value as last seen: a held conflict's remote value, else the base of the
    /// last sync (crmsync does not ask the CRM here).
    pub remote: Option<String>,
    pub direction: Direction,
    /// Where the direction comes from: the connection's field entry, the provider's built-in
    /// mapping, the default, or `not mapped` (direction `none`).
    pub direction_source: String,
    pub policy: ConflictPolicy,
    /// Where the policy comes from: the connection's field entry, `[policies.OBJECT]`, or
    /// `[sync] conflict_policy`.
    pub policy_source: String,
    /// What the next sync does with this field, in words.
    pub next: String,
    pub last_writer: Option<AuditEntry>,
    /// The field's latest conflict with this connection (open, resolved or decided by the
    /// policy), with how the sync decided it (`decision`: the policy, the two compared times
    /// and the outcome; `null` when not recorded).
    pub last_conflict: Option<Conflict>,
}

/// Explains `record` (only `field`, where given) from `store`.
pub fn explain(
    store: &Store,
    config: &Config,
    record: &Record,
    field: Option<&str>,
) -> anyhow::Result<Explanation> {
    let mut connections = Vec::new();
    for link in store.links_of_record(&record.id)? {
        let defaults = built_in_mappings(config, &link.connection, record.kind);
        let in_step = in_step(store, config, &link.connection, record.kind)?;
        // Oldest first: the open one of a field, if any, is its latest.
        let conflicts = store.list_conflicts(&ConflictFilter {
            connection: Some(link.connection.clone()),
            local_id: Some(record.id.clone()),
            field: field.map(str::to_string),
            ..ConflictFilter::default()
        })?;
        let mut names: BTreeSet<String> = record
            .kind
            .standard_fields()
            .iter()
            .map(|d| d.name.to_string())
            .collect();
        names.extend(record.fields.keys().cloned());
        names.extend(link.base.keys().cloned());
        let mut ordered: Vec<String> = record
            .kind
            .standard_fields()
            .iter()
            .map(|d| d.name.to_string())
            .collect();
        ordered.extend(
            names
                .into_iter()
                .filter(|n| record.kind.standard_fields().iter().all(|d| d.name != n)),
        );
        // Changed since the connection's last push, with something the next sync sends: a
        // run limited to some records (`apply`) leaves the cursor behind the values it pulled.
        let unsent = (record.archived_at.is_some() && !link.retired)
            || ordered.iter().any(|name| {
                let (direction, ..) = rule_of(config, &link, name, defaults.as_ref());
                direction.pushes()
                    && !in_step(
                        name,
                        record.get(name),
                        link.base.get(name).map(String::as_str),
                    )
            });
        // Pending as `status` defines it (a retired link waits for nothing), narrowed to a
        // change with something to send.
        let changed = super::status::changed_since_push(store, record, &link.connection)?;
        let pending =
            RecordState::of(false, false, Some(&link), changed && unsent) == RecordState::Pending;
        let mut fields = Vec::new();
        for name in ordered {
            if field.is_some_and(|f| f != name) {
                continue;
            }
            let (direction, direction_source, policy, policy_source) =
                rule_of(config, &link, &name, defaults.as_ref());
            let base = link.base.get(&name).cloned();
            let local = record.get(&name).map(str::to_string);
            let last_conflict = conflicts.iter().rev().find(|c| c.field == name).cloned();
            let open = last_conflict.as_ref().filter(|c| c.resolved_at.is_none());
            let next = match open {
                Some(c) => format!(
                    "held: conflict {} waits for `crmsync conflicts resolve`",
                    c.id
                ),
                None if link.retired => "nothing: the link is retired".to_string(),
                None if direction == Direction::None => "nothing: not synced".to_string(),
                None if in_step(&name, local.as_deref(), base.as_deref()) => {
                    "nothing: in step".to_string()
                }
                None if direction.pushes() => "push the local value".to_string(),
                None => format!(
                    "nothing: changed locally, but direction is {}",
                    direction.as_str()
                ),
            };
            // The CRM's value as last seen: the held conflict's, else the base both agreed on.
            let remote = match open {
                Some(c) => c.remote.clone(),
                None => base.clone(),
            };
            fields.push(FieldView {
                last_writer: store.last_writer(&record.id, &name)?,
                remote,
                base,
                local,
                field: name,
                direction,
                direction_source,
                policy,
                policy_source,
                next,
                last_conflict,
            });
        }
        connections.push(ConnectionView {
            connection: link.connection.clone(),
            remote_id: link.remote_id.clone(),
            retired: link.retired,
            synced_at: link.synced_at,
            pending,
            fields,
        });
    }
    Ok(Explanation {
        id: record.id.clone(),
        kind: record.kind,
        archived_at: record.archived_at,
        connections,
    })
}

/// The direction and policy of `field` for the link's connection, with where each comes
/// from: the connection's `[[connections.NAME.fields]]` entry, the provider's built-in
/// mapping, `[policies.OBJECT]`, or `[sync] conflict_policy` (the same layers, in the same
/// order, as the sync's field map).
fn rule_of(
    config: &Config,
    link: &Link,
    field: &str,
    defaults: Option<&(String, Vec<DefaultMapping>)>,
) -> (Direction, String, ConflictPolicy, String) {
    let entry = config.connections.get(&link.connection).and_then(|c| {
        c.fields
            .iter()
            .find(|f| f.object == link.kind && f.local == field)
    });
    let entry_source = format!("[[connections.{}.fields]]", link.connection);
    let built_in = defaults.and_then(|(provider, d)| {
        d.iter()
            .find(|m| m.local == field)
            .map(|m| (m.direction, provider))
    });
    let (direction, direction_source) = match (entry.and_then(|e| e.direction), built_in) {
        (Some(d), _) => (d, entry_source.clone()),
        (None, Some((d, provider))) => (d, format!("{provider}'s built-in mapping")),
        // Mapped by the config without a direction: the default.
        (None, None) if entry.is_some() => (Direction::Both, "default".to_string()),
        // Neither the provider nor the config maps it: the sync leaves it alone.
        (None, None) if defaults.is_some() => (Direction::None, "not mapped".to_string()),
        (None, None) => (
            Direction::Both,
            "default (the provider's built-in mappings are not available)".to_string(),
        ),
    };
    let (policy, policy_source) = match (
        entry.and_then(|e| e.policy),
        config.policies.get(&link.kind).and_then(|p| p.get(field)),
    ) {
        (Some(p), _) => (p, entry_source),
        (None, Some(p)) => (*p, format!("[policies.{}]", link.kind)),
        (None, None) => (
            config.sync.conflict_policy,
            "[sync] conflict_policy".to_string(),
        ),
    };
    (direction, direction_source, policy, policy_source)
}

/// Whether a field's local value and base are in step: equal; for an activity's `type`,
/// kept as the same activity type of the connection's CRM (`crate::mapping::values`); for a
/// field kept in a CRM dropdown, the same option, by label or value (a deal's stage written
/// `Contract Sent` locally is the `contractsent` the CRM holds), as the sync's field map
/// compares them with the options its last catalogue read kept.
fn in_step(
    store: &Store,
    config: &Config,
    connection: &str,
    kind: ObjectKind,
) -> anyhow::Result<impl Fn(&str, Option<&str>, Option<&str>) -> bool> {
    let conn = config.connections.get(connection);
    let types = conn
        .filter(|_| kind == ObjectKind::Activity)
        .map(|c| crate::mapping::values::activity_types(c.provider, &c.activity_types))
        .unwrap_or_default();
    let options: BTreeMap<String, Vec<crate::providers::FieldOption>> = store
        .meta_get(&crate::engine::sync::meta::options_key(connection, kind))?
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default();
    let dropdowns: Vec<FieldRule> = conn
        .and_then(|c| crate::providers::default_mappings(c.provider, kind))
        .and_then(|defaults| FieldMap::resolve(config, connection, kind, &defaults).ok())
        .map(|map| {
            map.rules
                .into_iter()
                .filter_map(|mut r| {
                    r.options = options.get(&r.remote)?.clone();
                    (!r.options.is_empty()).then_some(r)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(move |name: &str, local: Option<&str>, base: Option<&str>| {
        local == base
            || name == "type"
                && local.zip(base).is_some_and(|(l, b)| {
                    let sent = |v: &str| crate::mapping::values::sent_as(&types, v.to_string());
                    sent(l) == sent(b)
                })
            || dropdowns
                .iter()
                .any(|r| r.field == name && r.same(local, base))
    })
}

/// The provider's built-in mappings for `kind` (and the provider's name), known without any
/// network call; `None` when the connection is not configured or its provider has none.
fn built_in_mappings(
    config: &Config,
    connection: &str,
    kind: ObjectKind,
) -> Option<(String, Vec<DefaultMapping>)> {
    let conn = config.connections.get(connection)?;
    let mappings = crate::providers::default_mappings(conn.provider, kind)?;
    Some((conn.provider.display_name().to_string(), mappings))
}
