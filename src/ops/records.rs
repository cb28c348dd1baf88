//! The local store at hand: `crmsync records list`, `show`, `set` and `archive`. An edit here
//! is a user's edit, like one an import makes: one write with a new local change number and an
//! audit row per field (cause `user`), so the next sync carries it to the CRMs.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::{Error, usage_hinted};
use crate::mapping::{FieldMap, Rule, RuleError};
use crate::model::normalize::normalize;
use crate::model::{FieldType, Fields, Millis, ObjectKind, Record, RecordId, set_field};
use crate::store::{AuditEntry, ConflictFilter, Store, WriteOrigin};

use super::status::{RecordState, RecordStatus};

/// What `records list` lists.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// These objects (empty: every one).
    pub objects: Vec<ObjectKind>,
    /// A filter in the rules' expression language.
    pub filter: Option<String>,
    /// Only records in this state towards a connection in scope.
    pub state: Option<RecordState>,
    /// The connection whose state counts (default: every configured or linked one).
    pub connection: Option<String>,
    /// Only records changed at or after this time.
    pub changed_since: Option<Millis>,
    /// At most this many records.
    pub limit: Option<usize>,
}

/// One record of `records list`.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub id: RecordId,
    pub kind: ObjectKind,
    pub fields: Fields,
    pub updated_at: Millis,
    pub archived_at: Option<Millis>,
    /// Its state towards each connection in scope.
    pub connections: Vec<ListedState>,
}

/// A listed record's state towards one connection.
#[derive(Debug, Clone, Serialize)]
pub struct ListedState {
    pub connection: String,
    pub state: RecordState,
    pub remote_id: Option<String>,
}

/// The filter parsed for each object it can apply to. An expression naming a field that no
/// listed object has is refused with the column of that field.
fn filters(
    query: &ListQuery,
    objects: &[ObjectKind],
) -> Result<HashMap<ObjectKind, Rule>, RuleError> {
    let Some(source) = &query.filter else {
        return Ok(HashMap::new());
    };
    Rule::parse(source)?;
    let mut rules = HashMap::new();
    let mut furthest = None;
    for &kind in objects {
        match Rule::parse_for(source, kind) {
            Ok(rule) => {
                rules.insert(kind, rule);
            }
            // Of the objects it does not fit, the one it fits furthest into says why.
            Err(e)
                if furthest
                    .as_ref()
                    .is_none_or(|f: &RuleError| e.column > f.column) =>
            {
                furthest = Some(e);
            }
            Err(_) => {}
        }
    }
    match furthest {
        Some(e) if rules.is_empty() => Err(e),
        _ => Ok(rules),
    }
}

/// The objects a query lists, each with its filter, after checking the query: a connection it
/// names must be configured, and its filter must parse (for at least one of the objects).
pub fn check_query(
    config: &Config,
    query: &ListQuery,
) -> anyhow::Result<Vec<(ObjectKind, Option<Rule>)>> {
    if let Some(name) = &query.connection {
        config.connection(name).map_err(Error::usage)?;
    }
    let objects: Vec<ObjectKind> = if query.objects.is_empty() {
        ObjectKind::ALL.to_vec()
    } else {
        query.objects.clone()
    };
    let mut rules = filters(query, &objects).map_err(|e| {
        let source = query.filter.as_deref().unwrap_or_default();
        usage_hinted(
            format!("`--where` (`{source}`): {e}"),
            "the filter is written as a `create_when` rule: `warmness >= 4 and email`, `company == 'Acme'`",
        )
    })?;
    let filtered = query.filter.is_some();
    Ok(objects
        .into_iter()
        .filter_map(|k| match rules.remove(&k) {
            Some(rule) => Some((k, Some(rule))),
            None => (!filtered).then_some((k, None)),
        })
        .collect())
}

/// Lists the records the query selects (archived ones too, with `archived_at`), in object
/// order and by id.
pub fn list(store: &Store, config: &Config, query: &ListQuery) -> anyhow::Result<Vec<Listed>> {
    let objects = check_query(config, query)?;
    let scope = States::load(store, config, query.connection.as_deref())?;
    let limit = query.limit.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for (kind, rule) in objects {
        let mut candidates = Vec::new();
        store.for_each_record(kind, true, &mut |r| {
            let changed = query.changed_since.is_none_or(|t| r.updated_at >= t);
            let admitted = rule.as_ref().is_none_or(|rule| rule.eval(&r.fields));
            if changed && admitted {
                candidates.push(r);
            }
            Ok(())
        })?;
        for r in candidates {
            if out.len() >= limit {
                return Ok(out);
            }
            let connections = scope.of(store, &r)?;
            if let Some(wanted) = query.state
                && !connections.iter().any(|c| c.state == wanted)
            {
                continue;
            }
            out.push(Listed {
                id: r.id,
                kind: r.kind,
                fields: r.fields,
                updated_at: r.updated_at,
                archived_at: r.archived_at,
                connections,
            });
        }
    }
    Ok(out)
}

/// What a record's state towards each connection is read from, loaded once for a listing.
struct States {
    connections: Vec<String>,
    /// Whether a connection was named: then only its state counts.
    named: bool,
    failed: HashSet<(String, RecordId)>,
    conflicted: HashSet<(String, RecordId)>,
    cursors: HashMap<(String, ObjectKind), i64>,
}

impl States {
    fn load(store: &Store, config: &Config, only: Option<&str>) -> anyhow::Result<States> {
        let mut connections: Vec<String> = match only {
            Some(name) => vec![name.to_string()],
            None => config.connections.keys().cloned().collect(),
        };
        let failures = store.list_failures(only)?;
        let conflicts = store.list_open_conflicts(&ConflictFilter {
            connection: only.map(str::to_string),
            ..ConflictFilter::default()
        })?;
        if only.is_none() {
            for name in failures.iter().map(|f| &f.connection) {
                if !connections.contains(name) {
                    connections.push(name.clone());
                }
            }
        }
        let mut cursors = HashMap::new();
        for name in &connections {
            for kind in ObjectKind::ALL {
                cursors.insert((name.clone(), kind), store.local_cursor(name, kind)?);
            }
        }
        Ok(States {
            connections,
            named: only.is_some(),
            failed: failures
                .into_iter()
                .map(|f| (f.connection, f.local_id))
                .collect(),
            conflicted: conflicts
                .into_iter()
                .map(|c| (c.connection, c.local_id))
                .collect(),
            cursors,
        })
    }

    /// `r`'s state towards each connection in scope (and each other one it is linked to when
    /// no connection is named); `local-only` alone when there is none.
    fn of(&self, store: &Store, r: &Record) -> anyhow::Result<Vec<ListedState>> {
        let links = store.links_of_record(&r.id)?;
        let seq = store.record_seq(&r.id)?.unwrap_or(0);
        let mut names = self.connections.clone();
        if !self.named {
            for l in &links {
                if !names.contains(&l.connection) {
                    names.push(l.connection.clone());
                }
            }
        }
        let mut out = Vec::new();
        for name in names {
            let link = links.iter().find(|l| l.connection == name);
            let key = (name.clone(), r.id.clone());
            let cursor = match self.cursors.get(&(name.clone(), r.kind)) {
                Some(c) => *c,
                None => store.local_cursor(&name, r.kind)?,
            };
            let state = RecordState::of(
                self.conflicted.contains(&key),
                self.failed.contains(&key),
                link,
                seq > cursor,
            );
            out.push(ListedState {
                connection: name,
                state,
                remote_id: link.map(|l| l.remote_id.clone()),
            });
        }
        if out.is_empty() {
            out.push(ListedState {
                connection: String::new(),
                state: RecordState::LocalOnly,
                remote_id: None,
            });
        }
        Ok(out)
    }
}

/// `crmsync records show RECORD --json`
#[derive(Debug, Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub record: RecordStatus,
    /// The latest audit entries, newest first.
    pub audit: Vec<AuditEntry>,
}

/// How many audit entries `records show` gives.
pub const SHOWN_AUDIT: usize = 20;

/// Everything about one record: its fields, its links with their states, its latest audit.
pub fn show(store: &Store, config: &Config, record: &Record) -> anyhow::Result<Shown> {
    Ok(Shown {
        record: super::status::record(store, config, record, None)?,
        audit: store.audit_for_record(&record.id, None, SHOWN_AUDIT)?,
    })
}

/// What `records set` changed.
#[derive(Debug, Clone, Serialize)]
pub struct Edited {
    pub id: RecordId,
    pub kind: ObjectKind,
    /// Field → (old, new); only the fields whose value changed.
    pub changed: BTreeMap<String, (Option<String>, Option<String>)>,
}

/// Sets fields of `record` (found under the run lock) as a user's edit: each value is
/// normalised for its field's type, and one that a mapped CRM dropdown does not take (as the
/// CRM's catalogue last listed its options) is refused with the options. Nothing is written
/// when a value is refused, or when no value changes. `edits` hold known field names.
pub fn set(
    store: &mut Store,
    config: &Config,
    clock: &dyn Clock,
    record: Record,
    edits: &[(String, String)],
) -> anyhow::Result<Edited> {
    refuse_archived(&record, "edited")?;
    let mut fields = record.fields.clone();
    for (field, value) in edits {
        let ty = record
            .kind
            .field_type(field)
            .ok_or_else(|| Error::usage(format!("`{field}` is not a {} field", record.kind)))?;
        let value = normal_value(store, record.kind, field, ty, value)?;
        if let Some(v) = &value {
            check_options(store, config, record.kind, field, v)?;
        }
        set_field(&mut fields, field, value.unwrap_or_default());
    }
    let mut changed = BTreeMap::new();
    for (field, _) in edits {
        let (old, new) = (record.fields.get(field), fields.get(field));
        if old != new {
            changed.insert(field.clone(), (old.cloned(), new.cloned()));
        }
    }
    let edited = Edited {
        id: record.id.clone(),
        kind: record.kind,
        changed,
    };
    if !edited.changed.is_empty() {
        let saved = Record {
            fields,
            updated_at: clock.now(),
            ..record
        };
        store.save_records(&[saved], &WriteOrigin::User)?;
    }
    Ok(edited)
}

/// Archives `record` (found under the run lock) as a user's archive; the next sync carries it
/// to the CRMs it is linked in (as each connection's `on_delete` says).
pub fn archive(store: &mut Store, clock: &dyn Clock, record: Record) -> anyhow::Result<Archived> {
    refuse_archived(&record, "archived again")?;
    let now = clock.now();
    let archived = Archived {
        id: record.id.clone(),
        kind: record.kind,
        archived_at: now,
    };
    let saved = Record {
        archived_at: Some(now),
        updated_at: now,
        ..record
    };
    store.save_records(&[saved], &WriteOrigin::User)?;
    Ok(archived)
}

/// `crmsync records archive --json`
#[derive(Debug, Clone, Serialize)]
pub struct Archived {
    pub id: RecordId,
    pub kind: ObjectKind,
    pub archived_at: Millis,
}

fn refuse_archived(record: &Record, what: &str) -> anyhow::Result<()> {
    if record.archived_at.is_some() {
        return Err(usage_hinted(
            format!(
                "{} `{}` is archived, so it is not {what}",
                record.kind, record.id
            ),
            format!(
                "`crmsync records restore {}` brings it back first",
                record.id
            ),
        ));
    }
    Ok(())
}

/// `value` normalised for a field of type `ty` (`None`: cleared); a reference must name a
/// live local record of its kind by id.
fn normal_value(
    store: &Store,
    kind: ObjectKind,
    field: &str,
    ty: FieldType,
    value: &str,
) -> anyhow::Result<Option<String>> {
    let v = normalize(ty, value)
        .map_err(|e| Error::usage(format!("{kind} field `{field}`: {}", e.0)))?;
    if let (FieldType::Ref(target), Some(id)) = (ty, &v) {
        let found = RecordId::parse(id)
            .map(|id| store.get_record(&id))
            .transpose()?
            .flatten()
            .filter(|r| r.kind == target && r.archived_at.is_none());
        if found.is_none() {
            return Err(usage_hinted(
                format!("{kind} field `{field}`: no live {target} has the local id `{id}`"),
                format!("`crmsync records list --object {target}` lists them with their ids"),
            ));
        }
    }
    Ok(v)
}

/// Refuses `value` for `field` when a connection maps the field, pushing, to a CRM dropdown
/// whose options (as its catalogue was last read by a sync, kept in the state file) do not
/// include it by value or label.
fn check_options(
    store: &Store,
    config: &Config,
    kind: ObjectKind,
    field: &str,
    value: &str,
) -> anyhow::Result<()> {
    for (name, conn) in &config.connections {
        let Some(defaults) = crate::providers::default_mappings(conn.provider, kind) else {
            continue;
        };
        let Ok(map) = FieldMap::resolve(config, name, kind, &defaults) else {
            continue;
        };
        let Some(rule) = map.rule(field).filter(|r| r.direction.pushes()) else {
            continue;
        };
        let options: BTreeMap<String, Vec<crate::providers::FieldOption>> = store
            .meta_get(&crate::engine::sync::meta::options_key(name, kind))?
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default();
        let Some(options) = options.get(&rule.remote).filter(|o| !o.is_empty()) else {
            continue;
        };
        let folded = value.trim().to_lowercase();
        let fits = options
            .iter()
            .any(|o| o.value == value || o.label.trim().to_lowercase() == folded);
        if !fits {
            let labels: Vec<String> = options.iter().map(|o| format!("`{}`", o.label)).collect();
            return Err(usage_hinted(
                format!(
                    "{kind} field `{field}` cannot be `{value}`: connection `{name}` keeps it in `{}`, which takes only {}",
                    rule.remote,
                    labels.join(", ")
                ),
                format!(
                    "use one of those; `crmsync mappings check -c {name}` lists the options as the CRM has them now"
                ),
            ));
        }
    }
    Ok(())
}
