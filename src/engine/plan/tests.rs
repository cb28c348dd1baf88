//! The planner as a function: one named case per rule of DESIGN §3, and a generated
//! property (convergence, idempotence, no lost update) over random edit histories.
//!
//! [`World`] is a small in-memory simulator of both sides and the links: it builds the
//! planner's input the way the engine does (a full read, matching by email or `crmsync_id`)
//! and applies a plan's ops the way the executor does. Every table case also re-plans the
//! state after applying and expects no op.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::mapping::{ConflictPolicy as P, Direction as D, FieldRule, OnDelete};
use crate::model::{FieldType, ObjectKind, RecordId};

// ---------------------------------------------------------------------------------------------
// The simulator

#[derive(Debug, Clone, Default)]
struct SimRemote {
    fields: Fields,
    updated_at: Millis,
    field_updated_at: BTreeMap<String, Millis>,
    archived: bool,
    external_id: Option<RecordId>,
}

#[derive(Debug, Clone)]
struct World {
    rules: Vec<FieldRule>,
    on_delete: OnDelete,
    local: BTreeMap<RecordId, Record>,
    remote: BTreeMap<String, SimRemote>,
    links: BTreeMap<RecordId, LinkState>,
    /// When each local field last changed, as the audit trail keeps it: set by local edits and
    /// pulls, not by creates (a creation is kept on the record row).
    local_field_at: BTreeMap<RecordId, BTreeMap<String, Millis>>,
    /// Local records the connection may create remotely; `None` = all.
    create_only: Option<Vec<RecordId>>,
    now: Millis,
    next_id: u64,
}

impl World {
    fn new(rules: Vec<FieldRule>) -> World {
        World {
            rules,
            on_delete: OnDelete::Archive,
            local: BTreeMap::new(),
            remote: BTreeMap::new(),
            links: BTreeMap::new(),
            local_field_at: BTreeMap::new(),
            create_only: None,
            now: 1,
            next_id: 0,
        }
    }

    fn tick(&mut self) -> Millis {
        self.now += 1;
        self.now
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:06}", self.next_id)
    }

    fn add_local(&mut self, fields: Fields, updated_at: Millis) -> RecordId {
        let id = RecordId(self.fresh("L"));
        self.local.insert(
            id.clone(),
            Record {
                id: id.clone(),
                kind: ObjectKind::Contact,
                fields,
                updated_at,
                archived_at: None,
            },
        );
        id
    }

    fn add_remote(&mut self, fields: Fields, updated_at: Millis) -> String {
        let id = self.fresh("R");
        self.remote.insert(
            id.clone(),
            SimRemote {
                fields,
                updated_at,
                ..SimRemote::default()
            },
        );
        id
    }

    fn link(&mut self, local: &RecordId, remote: &str, base: Fields) {
        let remote_updated_at = self.remote[remote].updated_at;
        self.links.insert(
            local.clone(),
            LinkState {
                remote_id: remote.to_string(),
                base,
                remote_updated_at,
                archived: false,
            },
        );
    }

    fn edit_local(&mut self, id: &RecordId, field: &str, value: Option<&str>) {
        let now = self.tick();
        let rec = self.local.get_mut(id).unwrap();
        set(&mut rec.fields, field, value.map(str::to_string).as_ref());
        rec.updated_at = now;
        self.local_changed(id, field, now);
    }

    fn local_changed(&mut self, id: &RecordId, field: &str, at: Millis) {
        self.local_field_at
            .entry(id.clone())
            .or_default()
            .insert(field.to_string(), at);
    }

    fn local_times(&self, id: &RecordId) -> BTreeMap<String, Millis> {
        self.local_field_at.get(id).cloned().unwrap_or_default()
    }

    fn edit_remote(&mut self, id: &str, field: &str, value: Option<&str>) {
        let now = self.tick();
        let rec = self.remote.get_mut(id).unwrap();
        set(&mut rec.fields, field, value.map(str::to_string).as_ref());
        rec.updated_at = now;
        rec.field_updated_at.insert(field.to_string(), now);
    }

    fn remote_side(&self, id: &str) -> RemoteSide {
        let r = &self.remote[id];
        RemoteSide {
            id: id.to_string(),
            fields: r.fields.clone(),
            updated_at: r.updated_at,
            field_updated_at: r.field_updated_at.clone(),
            archived: r.archived,
            unreadable: Default::default(),
        }
    }

    /// The engine's side of planning: a full read, links, matching.
    fn input(&self) -> PlanInput {
        let mut items = Vec::new();
        let linked_remote: BTreeMap<&str, &RecordId> = self
            .links
            .iter()
            .map(|(l, s)| (s.remote_id.as_str(), l))
            .collect();
        let mut unlinked_local: Vec<&Record> = self
            .local
            .values()
            .filter(|r| !self.links.contains_key(&r.id))
            .collect();
        for (id, link) in &self.links {
            items.push(PlanItem {
                local: self.local.get(id).cloned(),
                link: Some(link.clone()),
                remote: self
                    .remote
                    .contains_key(&link.remote_id)
                    .then(|| self.remote_side(&link.remote_id)),
                matched_by: None,
                may_create_remote: false,
                local_field_updated_at: self.local_times(id),
            });
        }
        for (rid, r) in &self.remote {
            if linked_remote.contains_key(rid.as_str()) {
                continue;
            }
            let by_ext = r
                .external_id
                .as_ref()
                .and_then(|e| unlinked_local.iter().position(|l| &l.id == e))
                .map(|i| (i, MatchedBy::ExternalId));
            let by_email = || {
                let email = r.fields.get("email")?;
                unlinked_local
                    .iter()
                    .position(|l| l.fields.get("email") == Some(email))
                    .map(|i| {
                        (
                            i,
                            MatchedBy::Key {
                                field: "email".into(),
                            },
                        )
                    })
            };
            let found = by_ext.or_else(by_email);
            let (local, matched_by) = match found {
                Some((i, by)) => (Some(unlinked_local.remove(i).clone()), Some(by)),
                None => (None, None),
            };
            let local_field_updated_at = local
                .as_ref()
                .map(|l| self.local_times(&l.id))
                .unwrap_or_default();
            items.push(PlanItem {
                local,
                link: None,
                remote: Some(self.remote_side(rid)),
                matched_by,
                may_create_remote: false,
                local_field_updated_at,
            });
        }
        for l in unlinked_local {
            let allowed = self
                .create_only
                .as_ref()
                .is_none_or(|ids| ids.contains(&l.id));
            items.push(PlanItem {
                local: Some(l.clone()),
                link: None,
                remote: None,
                matched_by: None,
                may_create_remote: allowed,
                ..PlanItem::default()
            });
        }
        PlanInput {
            connection: "crm".into(),
            object: ObjectKind::Contact,
            rules: self.rules.clone(),
            on_delete: self.on_delete,
            items,
        }
    }

    fn plan(&self) -> Plan {
        plan(&self.input())
    }

    /// The executor's side: apply every op as planned (the CRM keeps what it is sent).
    fn apply(&mut self, plan: &Plan) {
        for op in &plan.ops {
            let now = self.tick();
            match op.clone() {
                Op::Link {
                    local_id,
                    remote_id,
                    archived,
                    base,
                    ..
                } => {
                    let remote_updated_at = self.remote[&remote_id].updated_at;
                    self.links.insert(
                        local_id,
                        LinkState {
                            remote_id,
                            base,
                            remote_updated_at,
                            archived,
                        },
                    );
                }
                Op::LocalCreate {
                    remote_id,
                    fields,
                    base,
                } => {
                    let id = self.add_local(fields, now);
                    self.link(&id, &remote_id, base);
                }
                Op::LocalUpdate {
                    local_id,
                    remote_id,
                    changes,
                    base,
                } => {
                    let rec = self.local.get_mut(&local_id).unwrap();
                    for c in &changes {
                        set(&mut rec.fields, &c.field, c.new.as_ref());
                    }
                    rec.updated_at = now;
                    for c in &changes {
                        self.local_changed(&local_id, &c.field, now);
                    }
                    let archived = self.links.get(&local_id).is_some_and(|l| l.archived);
                    self.link(&local_id, &remote_id, base);
                    self.links.get_mut(&local_id).unwrap().archived = archived;
                }
                Op::LocalArchive {
                    local_id,
                    remote_id,
                    changes,
                    base,
                } => {
                    let rec = self.local.get_mut(&local_id).unwrap();
                    for c in &changes {
                        set(&mut rec.fields, &c.field, c.new.as_ref());
                    }
                    rec.updated_at = now;
                    rec.archived_at = Some(now);
                    for c in &changes {
                        self.local_changed(&local_id, &c.field, now);
                    }
                    self.link(&local_id, &remote_id, base);
                    self.links.get_mut(&local_id).unwrap().archived = true;
                }
                Op::RemoteCreate {
                    local_id,
                    fields,
                    base,
                } => {
                    let rid = self.add_remote(fields, now);
                    self.remote.get_mut(&rid).unwrap().external_id = Some(local_id.clone());
                    self.link(&local_id, &rid, base);
                }
                Op::RemoteUpdate {
                    local_id,
                    remote_id,
                    changes,
                    set_external_id,
                    base,
                } => {
                    let rec = self.remote.get_mut(&remote_id).unwrap();
                    for c in &changes {
                        set(&mut rec.fields, &c.field, c.new.as_ref());
                        rec.field_updated_at.insert(c.field.clone(), now);
                    }
                    if set_external_id {
                        rec.external_id = Some(local_id.clone());
                    }
                    rec.updated_at = now;
                    self.link(&local_id, &remote_id, base);
                }
                Op::RemoteArchive {
                    local_id,
                    remote_id,
                    base,
                } => {
                    let rec = self.remote.get_mut(&remote_id).unwrap();
                    rec.archived = true;
                    rec.updated_at = now;
                    self.link(&local_id, &remote_id, base);
                    self.links.get_mut(&local_id).unwrap().archived = true;
                }
            }
        }
    }

    /// Plan, apply, and check that planning the result writes nothing.
    fn run(&mut self) -> Plan {
        let p = self.plan();
        self.apply(&p);
        let again = self.plan();
        assert!(
            again.is_empty(),
            "planning the state after a run must give no op, got {:#?}\nafter {:#?}",
            again.ops,
            p
        );
        p
    }
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn rule(field: &str, direction: D, policy: P) -> FieldRule {
    let ty = ObjectKind::Contact
        .field_type(field)
        .unwrap_or(FieldType::Text);
    let mut r = FieldRule::new(field, field, ty);
    r.direction = direction;
    r.policy = policy;
    r
}

fn kinds(p: &Plan) -> Vec<OpKind> {
    p.ops.iter().map(Op::kind).collect()
}

// ---------------------------------------------------------------------------------------------
// One linked pair, one field under test (`job_title`), one bystander (`last_name`).

struct Case {
    name: &'static str,
    direction: D,
    policy: P,
    base: Option<&'static str>,
    local: Option<&'static str>,
    remote: Option<&'static str>,
    local_at: Millis,
    remote_at: Millis,
    /// A per-field remote time for `job_title`, where the CRM has one.
    remote_field_at: Option<Millis>,
    /// A per-field local time for `job_title`, where the audit trail has one.
    local_field_at: Option<Millis>,
    ops: &'static [OpKind],
    conflict: Option<Outcome>,
    after_local: Option<&'static str>,
    after_remote: Option<&'static str>,
    after_base: Option<&'static str>,
}

const C: Case = Case {
    name: "",
    direction: D::Both,
    policy: P::NewestWins,
    base: Some("a"),
    local: Some("a"),
    remote: Some("a"),
    local_at: 10,
    remote_at: 10,
    remote_field_at: None,
    local_field_at: None,
    ops: &[],
    conflict: None,
    after_local: Some("a"),
    after_remote: Some("a"),
    after_base: Some("a"),
};

use OpKind::*;

const CASES: &[Case] = &[
    Case {
        name: "nothing changed: nothing to do",
        ..C
    },
    Case {
        name: "local change is pushed",
        local: Some("L"),
        ops: &[RemoteUpdate],
        after_local: Some("L"),
        after_remote: Some("L"),
        after_base: Some("L"),
        ..C
    },
    Case {
        name: "remote change is pulled",
        remote: Some("R"),
        ops: &[LocalUpdate],
        after_local: Some("R"),
        after_remote: Some("R"),
        after_base: Some("R"),
        ..C
    },
    Case {
        name: "local clear is pushed as a clear",
        local: None,
        ops: &[RemoteUpdate],
        after_local: None,
        after_remote: None,
        after_base: None,
        ..C
    },
    Case {
        name: "remote clear is pulled as a clear",
        remote: None,
        ops: &[LocalUpdate],
        after_local: None,
        after_remote: None,
        after_base: None,
        ..C
    },
    Case {
        name: "value set on an empty base is pushed",
        base: None,
        local: Some("L"),
        remote: None,
        ops: &[RemoteUpdate],
        after_local: Some("L"),
        after_remote: Some("L"),
        after_base: Some("L"),
        ..C
    },
    Case {
        name: "same change on both sides moves the base only",
        local: Some("X"),
        remote: Some("X"),
        ops: &[Link],
        after_local: Some("X"),
        after_remote: Some("X"),
        after_base: Some("X"),
        ..C
    },
    Case {
        name: "same change after normalisation moves the base only",
        local: Some("X  y"),
        remote: Some("X y"),
        ops: &[Link],
        after_local: Some("X  y"),
        after_remote: Some("X y"),
        after_base: Some("X y"),
        ..C
    },
    Case {
        name: "conflict, local-wins",
        policy: P::LocalWins,
        local: Some("L"),
        remote: Some("R"),
        local_at: 1,
        remote_at: 99,
        ops: &[RemoteUpdate],
        conflict: Some(Outcome::Local),
        after_local: Some("L"),
        after_remote: Some("L"),
        after_base: Some("L"),
        ..C
    },
    Case {
        name: "conflict, remote-wins",
        policy: P::RemoteWins,
        local: Some("L"),
        remote: Some("R"),
        local_at: 99,
        remote_at: 1,
        ops: &[LocalUpdate],
        conflict: Some(Outcome::Remote),
        after_local: Some("R"),
        after_remote: Some("R"),
        after_base: Some("R"),
        ..C
    },
    Case {
        name: "conflict, newest-wins, remote newer",
        local: Some("L"),
        remote: Some("R"),
        local_at: 10,
        remote_at: 20,
        ops: &[LocalUpdate],
        conflict: Some(Outcome::Remote),
        after_local: Some("R"),
        after_remote: Some("R"),
        after_base: Some("R"),
        ..C
    },
    Case {
        name: "conflict, newest-wins, local newer",
        local: Some("L"),
        remote: Some("R"),
        local_at: 20,
        remote_at: 10,
        ops: &[RemoteUpdate],
        conflict: Some(Outcome::Local),
        after_local: Some("L"),
        after_remote: Some("L"),
        after_base: Some("L"),
        ..C
    },
    Case {
        name: "conflict, newest-wins, tie keeps local",
        local: Some("L"),
        remote: Some("R"),
        local_at: 15,
        remote_at: 15,
        ops: &[RemoteUpdate],
        conflict: Some(Outcome::Local),
        after_local: Some("L"),
        after_remote: Some("L"),
        after_base: Some("L"),
        ..C
    },
    Case {
        name: "conflict, newest-wins, field time beats record time",
        local: Some("L"),
        remote: Some("R"),
        local_at: 15,
        remote_at: 30,
        remote_field_at: Some(5),
        ops: &[RemoteUpdate],
        conflict: Some(Outcome::Local),
        after_local: Some("L"),
        after_remote: Some("L"),
        after_base: Some("L"),
        ..C
    },
    Case {
        name: "conflict, newest-wins, remote field time newer than the local record",
        local: Some("L"),
        remote: Some("R"),
        local_at: 15,
        remote_at: 30,
        remote_field_at: Some(20),
        ops: &[LocalUpdate],
        conflict: Some(Outcome::Remote),
        after_local: Some("R"),
        after_remote: Some("R"),
        after_base: Some("R"),
        ..C
    },
    Case {
        name: "conflict, newest-wins, an old local field edit on a recently touched record loses",
        local: Some("L"),
        remote: Some("R"),
        local_at: 30,
        local_field_at: Some(5),
        remote_at: 20,
        ops: &[LocalUpdate],
        conflict: Some(Outcome::Remote),
        after_local: Some("R"),
        after_remote: Some("R"),
        after_base: Some("R"),
        ..C
    },
    Case {
        name: "conflict, newest-wins, field times on both sides beat both record times",
        local: Some("L"),
        remote: Some("R"),
        local_at: 40,
        local_field_at: Some(25),
        remote_at: 50,
        remote_field_at: Some(20),
        ops: &[RemoteUpdate],
        conflict: Some(Outcome::Local),
        after_local: Some("L"),
        after_remote: Some("L"),
        after_base: Some("L"),
        ..C
    },
    Case {
        name: "conflict, newest-wins, equal field times keep local",
        local: Some("L"),
        remote: Some("R"),
        local_at: 10,
        local_field_at: Some(12),
        remote_at: 50,
        remote_field_at: Some(12),
        ops: &[RemoteUpdate],
        conflict: Some(Outcome::Local),
        after_local: Some("L"),
        after_remote: Some("L"),
        after_base: Some("L"),
        ..C
    },
    Case {
        name: "conflict, newest-wins, clear against edit",
        local: None,
        remote: Some("R"),
        local_at: 20,
        remote_at: 10,
        ops: &[RemoteUpdate],
        conflict: Some(Outcome::Local),
        after_local: None,
        after_remote: None,
        after_base: None,
        ..C
    },
    Case {
        name: "conflict, manual holds the field",
        policy: P::Manual,
        local: Some("L"),
        remote: Some("R"),
        ops: &[],
        conflict: Some(Outcome::Held),
        after_local: Some("L"),
        after_remote: Some("R"),
        after_base: Some("a"),
        ..C
    },
    Case {
        name: "to-crm: local change is pushed",
        direction: D::ToCrm,
        local: Some("L"),
        ops: &[RemoteUpdate],
        after_local: Some("L"),
        after_remote: Some("L"),
        after_base: Some("L"),
        ..C
    },
    Case {
        name: "to-crm: remote change is ignored",
        direction: D::ToCrm,
        remote: Some("R"),
        ops: &[],
        after_local: Some("a"),
        after_remote: Some("R"),
        after_base: Some("a"),
        ..C
    },
    Case {
        name: "to-crm: both changed, local pushed without a conflict",
        direction: D::ToCrm,
        local: Some("L"),
        remote: Some("R"),
        local_at: 1,
        remote_at: 99,
        ops: &[RemoteUpdate],
        after_local: Some("L"),
        after_remote: Some("L"),
        after_base: Some("L"),
        ..C
    },
    Case {
        name: "from-crm: remote change is pulled",
        direction: D::FromCrm,
        remote: Some("R"),
        ops: &[LocalUpdate],
        after_local: Some("R"),
        after_remote: Some("R"),
        after_base: Some("R"),
        ..C
    },
    Case {
        name: "from-crm: local change is not pushed",
        direction: D::FromCrm,
        local: Some("L"),
        ops: &[],
        after_local: Some("L"),
        after_remote: Some("a"),
        after_base: Some("a"),
        ..C
    },
    Case {
        name: "from-crm: both changed, remote pulled without a conflict",
        direction: D::FromCrm,
        local: Some("L"),
        remote: Some("R"),
        local_at: 99,
        remote_at: 1,
        ops: &[LocalUpdate],
        after_local: Some("R"),
        after_remote: Some("R"),
        after_base: Some("R"),
        ..C
    },
    Case {
        name: "none: changes on both sides are ignored",
        direction: D::None,
        local: Some("L"),
        remote: Some("R"),
        ops: &[],
        after_local: Some("L"),
        after_remote: Some("R"),
        after_base: Some("a"),
        ..C
    },
];

#[test]
fn three_way_rules_case_table() {
    for case in CASES {
        let mut w = World::new(vec![
            rule("job_title", case.direction, case.policy),
            rule("last_name", D::Both, P::NewestWins),
        ]);
        let with = |v: Option<&str>| {
            let mut f = fields(&[("last_name", "Lee")]);
            set(&mut f, "job_title", v.map(str::to_string).as_ref());
            f
        };
        let l = w.add_local(with(case.local), case.local_at);
        let r = w.add_remote(with(case.remote), case.remote_at);
        if let Some(at) = case.remote_field_at {
            w.remote
                .get_mut(&r)
                .unwrap()
                .field_updated_at
                .insert("job_title".into(), at);
        }
        if let Some(at) = case.local_field_at {
            w.local_changed(&l, "job_title", at);
        }
        w.link(&l, &r, with(case.base));
        let p = w.run();
        assert_eq!(kinds(&p), case.ops, "{}: ops", case.name);
        let outcome: Vec<_> = p.conflicts.iter().map(|c| c.outcome).collect();
        assert_eq!(
            outcome,
            case.conflict.into_iter().collect::<Vec<_>>(),
            "{}: conflicts",
            case.name
        );
        // The conflict row keeps the times that were compared, and where each came from.
        let source = |field_at: Option<i64>| match field_at {
            Some(_) => TimeSource::Field,
            None => TimeSource::Record,
        };
        for c in &p.conflicts {
            assert_eq!(
                (c.local_updated_at, c.remote_updated_at),
                (
                    case.local_field_at.unwrap_or(case.local_at),
                    case.remote_field_at.unwrap_or(case.remote_at)
                ),
                "{}: compared times",
                case.name
            );
            assert_eq!(
                (c.local_time_source, c.remote_time_source),
                (source(case.local_field_at), source(case.remote_field_at)),
                "{}: where the compared times came from",
                case.name
            );
        }
        let link = &w.links[&l];
        assert_eq!(
            get(&w.local[&l].fields, "job_title"),
            case.after_local,
            "{}: local",
            case.name
        );
        assert_eq!(
            get(&w.remote[&r].fields, "job_title"),
            case.after_remote,
            "{}: remote",
            case.name
        );
        assert_eq!(
            get(&link.base, "job_title"),
            case.after_base,
            "{}: base",
            case.name
        );
        assert_eq!(
            get(&link.base, "last_name"),
            Some("Lee"),
            "{}: bystander",
            case.name
        );
    }
}

fn contact_rules() -> Vec<FieldRule> {
    vec![
        rule("email", D::Both, P::NewestWins),
        rule("first_name", D::Both, P::NewestWins),
        rule("last_name", D::Both, P::NewestWins),
        rule("job_title", D::Both, P::Manual),
        rule("pronouns", D::ToCrm, P::NewestWins),
        rule("owner", D::FromCrm, P::NewestWins),
    ]
}

#[test]
fn manual_conflict_is_held_while_other_fields_proceed() {
    let mut w = World::new(contact_rules());
    let base = fields(&[
        ("first_name", "Ann"),
        ("job_title", "dev"),
        ("last_name", "Lee"),
    ]);
    let l = w.add_local(base.clone(), 1);
    let r = w.add_remote(base.clone(), 1);
    w.link(&l, &r, base);
    w.edit_local(&l, "job_title", Some("lead"));
    w.edit_remote(&r, "job_title", Some("cto"));
    w.edit_local(&l, "first_name", Some("Anna"));
    w.edit_remote(&r, "last_name", Some("Li"));
    let p = w.run();
    assert_eq!(kinds(&p), [LocalUpdate, RemoteUpdate]);
    assert_eq!(p.conflicts.len(), 1);
    let c = &p.conflicts[0];
    assert_eq!(
        (c.field.as_str(), c.outcome, c.value.as_deref()),
        ("job_title", Outcome::Held, None)
    );
    assert_eq!(
        (c.base.as_deref(), c.local.as_deref(), c.remote.as_deref()),
        (Some("dev"), Some("lead"), Some("cto"))
    );
    assert_eq!(w.remote[&r].fields["first_name"], "Anna");
    assert_eq!(w.local[&l].fields["last_name"], "Li");
    assert_eq!(
        w.links[&l].base["job_title"], "dev",
        "held field keeps its base"
    );
    // The conflict stays visible (and nothing is written) until it is resolved.
    let again = w.plan();
    assert!(again.is_empty());
    assert_eq!(again.conflicts.len(), 1);
    // Resolving it by taking the local value locally means pushing it.
    w.links
        .get_mut(&l)
        .unwrap()
        .base
        .insert("job_title".into(), "cto".into());
    let p = w.run();
    assert_eq!(kinds(&p), [RemoteUpdate]);
    assert_eq!(w.remote[&r].fields["job_title"], "lead");
}

#[test]
fn op_bases_are_staged_local_then_remote() {
    let mut w = World::new(contact_rules());
    let base = fields(&[
        ("first_name", "Ann"),
        ("last_name", "Lee"),
        ("email", "a@x.co"),
    ]);
    let l = w.add_local(base.clone(), 1);
    let r = w.add_remote(base.clone(), 1);
    w.link(&l, &r, base);
    w.edit_local(&l, "first_name", Some("Anna"));
    w.edit_remote(&r, "last_name", Some("Li"));
    w.edit_local(&l, "email", Some("b@x.co"));
    w.edit_remote(&r, "email", Some("b@x.co"));
    let p = w.plan();
    assert_eq!(kinds(&p), [LocalUpdate, RemoteUpdate]);
    let local_base = p.ops[0].base();
    assert_eq!(
        local_base["last_name"], "Li",
        "pull settled by the local write"
    );
    assert_eq!(local_base["first_name"], "Ann", "push not settled yet");
    assert_eq!(
        local_base["email"], "b@x.co",
        "same change moves with the first op"
    );
    let full = p.ops[1].base();
    assert_eq!(full["first_name"], "Anna");
    assert_eq!(full["last_name"], "Li");
}

#[test]
fn missing_remote_in_a_delta_read_is_unchanged_not_deleted() {
    let mut w = World::new(contact_rules());
    let base = fields(&[("first_name", "Ann")]);
    let l = w.add_local(base.clone(), 1);
    let r = w.add_remote(base.clone(), 1);
    w.link(&l, &r, base);
    let mut input = w.input();
    input.items[0].remote = None;
    assert!(plan(&input).is_empty());
    w.edit_local(&l, "first_name", Some("Anna"));
    let mut input = w.input();
    input.items[0].remote = None;
    let p = plan(&input);
    assert_eq!(kinds(&p), [RemoteUpdate]);
    match &p.ops[0] {
        Op::RemoteUpdate { changes, .. } => assert_eq!(changes[0].old.as_deref(), Some("Ann")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unreadable_remote_value_never_clears_the_local_one() {
    let mut w = World::new(contact_rules());
    let base = fields(&[("first_name", "Ann")]);
    let l = w.add_local(base.clone(), 1);
    let r = w.add_remote(Fields::new(), 5);
    w.link(&l, &r, base);
    let mut input = w.input();
    input.items[0]
        .remote
        .as_mut()
        .unwrap()
        .unreadable
        .insert("first_name".into());
    assert!(plan(&input).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Archives

fn archive_world(on_delete: OnDelete) -> (World, RecordId, String) {
    let mut w = World::new(contact_rules());
    w.on_delete = on_delete;
    let base = fields(&[("first_name", "Ann"), ("last_name", "Lee")]);
    let l = w.add_local(base.clone(), 1);
    let r = w.add_remote(base.clone(), 1);
    w.link(&l, &r, base);
    (w, l, r)
}

#[test]
fn remote_archive_wins_over_a_local_edit_and_keeps_it() {
    let (mut w, l, r) = archive_world(OnDelete::Archive);
    w.edit_local(&l, "first_name", Some("Anna"));
    w.remote.get_mut(&r).unwrap().archived = true;
    let p = w.run();
    assert_eq!(kinds(&p), [LocalArchive]);
    assert!(w.local[&l].archived_at.is_some());
    assert_eq!(
        w.local[&l].fields["first_name"], "Anna",
        "local edit kept locally"
    );
    assert_eq!(
        w.remote[&r].fields["first_name"], "Ann",
        "nothing pushed to an archived record"
    );
    assert!(w.links[&l].archived);
}

#[test]
fn local_archive_wins_over_a_remote_edit_which_is_kept_locally() {
    let (mut w, l, r) = archive_world(OnDelete::Archive);
    w.edit_remote(&r, "last_name", Some("Li"));
    w.local.get_mut(&l).unwrap().archived_at = Some(w.now);
    let p = w.run();
    assert_eq!(kinds(&p), [LocalUpdate, RemoteArchive]);
    assert!(w.remote[&r].archived);
    assert_eq!(
        w.local[&l].fields["last_name"], "Li",
        "remote edit kept in the local record"
    );
}

#[test]
fn remote_archive_carries_remote_edits_into_the_archived_local_record() {
    let (mut w, l, r) = archive_world(OnDelete::Archive);
    w.edit_remote(&r, "last_name", Some("Li"));
    w.remote.get_mut(&r).unwrap().archived = true;
    let p = w.run();
    assert_eq!(kinds(&p), [LocalArchive]);
    assert_eq!(w.local[&l].fields["last_name"], "Li");
}

#[test]
fn on_delete_ignore_retires_the_link_without_archiving() {
    for local_side in [true, false] {
        let (mut w, l, r) = archive_world(OnDelete::Ignore);
        if local_side {
            w.local.get_mut(&l).unwrap().archived_at = Some(5);
        } else {
            w.remote.get_mut(&r).unwrap().archived = true;
        }
        let p = w.run();
        assert_eq!(kinds(&p), [Link], "archived locally: {local_side}");
        assert!(matches!(p.ops[0], Op::Link { archived: true, .. }));
        assert_eq!(w.local[&l].archived_at.is_some(), local_side);
        assert_eq!(w.remote[&r].archived, !local_side);
        // Later edits are not synced over a retired link.
        w.edit_local(&l, "first_name", Some("Zed"));
        assert!(w.plan().is_empty());
    }
}

#[test]
fn archived_on_both_sides_just_retires_the_link() {
    let (mut w, l, r) = archive_world(OnDelete::Archive);
    w.local.get_mut(&l).unwrap().archived_at = Some(5);
    w.remote.get_mut(&r).unwrap().archived = true;
    let p = w.run();
    assert_eq!(kinds(&p), [Link]);
    assert!(w.links[&l].archived);
}

// ---------------------------------------------------------------------------------------------
// New records and matching

#[test]
fn new_remote_record_is_created_locally_with_pulling_fields_only() {
    let mut w = World::new(contact_rules());
    let r = w.add_remote(
        fields(&[("email", "a@x.co"), ("owner", "7"), ("pronouns", "she")]),
        3,
    );
    let p = w.run();
    assert_eq!(kinds(&p), [LocalCreate]);
    let (id, link) = w.links.iter().next().unwrap();
    assert_eq!(link.remote_id, r);
    assert_eq!(
        w.local[id].fields,
        fields(&[("email", "a@x.co"), ("owner", "7")])
    );
}

#[test]
fn new_local_record_is_created_remotely_with_pushing_fields_only() {
    let mut w = World::new(contact_rules());
    let l = w.add_local(
        fields(&[("email", "a@x.co"), ("owner", "7"), ("pronouns", "she")]),
        3,
    );
    let p = w.run();
    assert_eq!(kinds(&p), [RemoteCreate]);
    let rid = &w.links[&l].remote_id;
    assert_eq!(
        w.remote[rid].fields,
        fields(&[("email", "a@x.co"), ("pronouns", "she")])
    );
    assert_eq!(w.remote[rid].external_id.as_ref(), Some(&l));
}

#[test]
fn local_record_is_not_created_when_the_rule_refuses_or_it_is_archived() {
    let mut w = World::new(contact_rules());
    let refused = w.add_local(fields(&[("email", "a@x.co")]), 3);
    let archived = w.add_local(fields(&[("email", "b@x.co")]), 3);
    w.local.get_mut(&archived).unwrap().archived_at = Some(4);
    let allowed = w.add_local(fields(&[("email", "c@x.co")]), 3);
    w.create_only = Some(vec![archived.clone(), allowed.clone()]);
    let p = w.run();
    assert_eq!(kinds(&p), [RemoteCreate]);
    assert_eq!(p.ops[0].local_id(), Some(&allowed));
    assert!(!w.links.contains_key(&refused));
}

#[test]
fn archived_remote_record_is_never_created_locally() {
    let mut w = World::new(contact_rules());
    let r = w.add_remote(fields(&[("email", "a@x.co")]), 3);
    w.remote.get_mut(&r).unwrap().archived = true;
    assert!(w.plan().is_empty());
}

#[test]
fn match_by_email_links_and_fills_each_side() {
    let mut w = World::new(contact_rules());
    let l = w.add_local(fields(&[("email", "a@x.co"), ("first_name", "Ann")]), 3);
    let r = w.add_remote(fields(&[("email", "a@x.co"), ("last_name", "Lee")]), 3);
    let p = w.run();
    assert_eq!(kinds(&p), [Link, LocalUpdate, RemoteUpdate]);
    match &p.ops[0] {
        Op::Link {
            matched_by, base, ..
        } => {
            assert_eq!(
                matched_by,
                &Some(MatchedBy::Key {
                    field: "email".into()
                })
            );
            assert_eq!(base, &fields(&[("email", "a@x.co")]));
        }
        other => panic!("{other:?}"),
    }
    let want = fields(&[
        ("email", "a@x.co"),
        ("first_name", "Ann"),
        ("last_name", "Lee"),
    ]);
    assert_eq!(w.local[&l].fields, want);
    assert_eq!(w.remote[&r].fields, want);
    assert_eq!(w.links[&l].base, want);
}

#[test]
fn a_pair_matched_by_email_gets_the_local_id_as_its_external_id() {
    let mut w = World::new(contact_rules());
    // Both sides already agree: the only remote write is the external id.
    let l = w.add_local(fields(&[("email", "a@x.co"), ("first_name", "Ann")]), 3);
    let r = w.add_remote(fields(&[("email", "a@x.co"), ("first_name", "Ann")]), 3);
    let p = w.run();
    assert_eq!(kinds(&p), [Link, RemoteUpdate]);
    match &p.ops[1] {
        Op::RemoteUpdate {
            changes,
            set_external_id,
            base,
            ..
        } => {
            assert!(changes.is_empty(), "{changes:?}");
            assert!(set_external_id);
            assert_eq!(base, &w.local[&l].fields);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.remote[&r].external_id.as_ref(), Some(&l));

    // Fields to push go in the same update.
    let mut w = World::new(contact_rules());
    let l = w.add_local(fields(&[("email", "b@x.co"), ("first_name", "Bo")]), 3);
    let r = w.add_remote(fields(&[("email", "b@x.co")]), 3);
    let p = w.run();
    assert_eq!(kinds(&p), [Link, RemoteUpdate]);
    assert!(matches!(
        &p.ops[1],
        Op::RemoteUpdate { changes, set_external_id: true, .. } if changes.len() == 1
    ));
    assert_eq!(w.remote[&r].external_id.as_ref(), Some(&l));
}

#[test]
fn a_pair_refused_as_a_duplicate_gets_its_external_id_and_a_linked_one_does_not() {
    let mut w = World::new(contact_rules());
    let l = w.add_local(fields(&[("email", "a@x.co")]), 3);
    let r = w.add_remote(fields(&[("email", "a@x.co")]), 3);
    let mut input = w.input();
    for item in &mut input.items {
        item.matched_by = Some(MatchedBy::Duplicate);
    }
    let p = plan(&input);
    assert_eq!(kinds(&p), [Link, RemoteUpdate]);
    assert!(matches!(
        &p.ops[1],
        Op::RemoteUpdate { remote_id, set_external_id: true, .. } if *remote_id == r
    ));
    w.apply(&p);
    assert_eq!(w.remote[&r].external_id.as_ref(), Some(&l));
    // Once linked, the pair is followed by its id and never stamped again.
    w.remote.get_mut(&r).unwrap().external_id = None;
    assert!(w.plan().is_empty());
}

#[test]
fn match_with_different_values_is_decided_by_policy_with_no_base() {
    let mut w = World::new(contact_rules());
    let l = w.add_local(
        fields(&[
            ("email", "a@x.co"),
            ("first_name", "Ann"),
            ("job_title", "dev"),
        ]),
        30,
    );
    let r = w.add_remote(
        fields(&[
            ("email", "a@x.co"),
            ("first_name", "Anne"),
            ("job_title", "cto"),
        ]),
        3,
    );
    let p = w.run();
    assert_eq!(p.conflicts.len(), 2);
    let first = p
        .conflicts
        .iter()
        .find(|c| c.field == "first_name")
        .unwrap();
    assert_eq!(
        (first.base.as_deref(), first.outcome),
        (None, Outcome::Local)
    );
    let job = p.conflicts.iter().find(|c| c.field == "job_title").unwrap();
    assert_eq!(job.outcome, Outcome::Held);
    assert_eq!(w.remote[&r].fields["first_name"], "Ann");
    assert!(
        !w.links[&l].base.contains_key("job_title"),
        "held field has no base yet"
    );
}

#[test]
fn match_by_crmsync_external_id() {
    let mut w = World::new(contact_rules());
    let l = w.add_local(fields(&[("email", "new@x.co"), ("first_name", "Ann")]), 3);
    // A create whose answer was lost: the CRM has the record, carrying our id.
    let r = w.add_remote(fields(&[("email", "old@x.co"), ("first_name", "Ann")]), 2);
    w.remote.get_mut(&r).unwrap().external_id = Some(l.clone());
    let p = w.run();
    assert!(matches!(
        &p.ops[0],
        Op::Link {
            matched_by: Some(MatchedBy::ExternalId),
            ..
        }
    ));
    assert!(
        !p.ops.iter().any(|o| o.kind() == RemoteCreate),
        "no duplicate create"
    );
    assert_eq!(w.remote[&r].fields["email"], "new@x.co", "local is newer");
    assert!(
        !p.ops.iter().any(|o| matches!(
            o,
            Op::RemoteUpdate {
                set_external_id: true,
                ..
            }
        )),
        "it carries the local id already"
    );
}

#[test]
fn archived_record_is_not_linked_to_a_live_one() {
    let mut w = World::new(contact_rules());
    let l = w.add_local(fields(&[("email", "a@x.co")]), 3);
    w.local.get_mut(&l).unwrap().archived_at = Some(4);
    let r = w.add_remote(fields(&[("email", "a@x.co")]), 3);
    let p = w.run();
    assert!(p.is_empty());
    assert_eq!(
        p.skipped,
        [Skipped {
            local_id: l,
            remote_id: r,
            reason: SkipReason::LocalArchived
        }]
    );
}

#[test]
fn a_changed_email_on_a_linked_record_is_an_edit() {
    let mut w = World::new(contact_rules());
    let base = fields(&[("email", "a@x.co")]);
    let l = w.add_local(base.clone(), 1);
    let r = w.add_remote(base.clone(), 1);
    w.link(&l, &r, base);
    w.edit_remote(&r, "email", Some("b@x.co"));
    let p = w.run();
    assert_eq!(kinds(&p), [LocalUpdate]);
    assert_eq!(w.local.len(), 1);
    assert_eq!(w.local[&l].fields["email"], "b@x.co");
}

#[test]
fn order_is_deterministic_and_independent_of_input_order() {
    let mut w = World::new(contact_rules());
    for i in 0..5 {
        w.add_local(fields(&[("email", &format!("l{i}@x.co"))]), 1);
        w.add_remote(fields(&[("email", &format!("r{i}@x.co"))]), 1);
    }
    let mut input = w.input();
    let a = plan(&input);
    input.items.reverse();
    let b = plan(&input);
    assert_eq!(a, b);
    let ks = kinds(&a);
    assert!(ks.windows(2).all(|p| p[0] <= p[1]), "{ks:?}");
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains(r#""op":"local_create""#), "{json}");
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
}

// ---------------------------------------------------------------------------------------------
// The property: random edits on both sides between random runs.

const FIELDS: [&str; 6] = [
    "email",
    "first_name",
    "last_name",
    "job_title",
    "pronouns",
    "owner",
];

fn prop_rules() -> Vec<FieldRule> {
    vec![
        rule("email", D::Both, P::NewestWins),
        rule("first_name", D::Both, P::NewestWins),
        rule("last_name", D::Both, P::LocalWins),
        rule("job_title", D::Both, P::RemoteWins),
        rule("company", D::Both, P::Manual),
        rule("pronouns", D::ToCrm, P::NewestWins),
        rule("owner", D::FromCrm, P::NewestWins),
        rule("phone", D::None, P::NewestWins),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    EditLocal(usize, usize, Option<u8>),
    EditRemote(usize, usize, Option<u8>),
    NewLocal(Vec<(usize, u8)>),
    NewRemote(Vec<(usize, u8)>),
    ArchiveLocal(usize),
    ArchiveRemote(usize),
    Run,
}

fn value(field: usize, v: u8) -> String {
    let field = if field < FIELDS.len() {
        FIELDS[field]
    } else {
        "company"
    };
    if field == "email" {
        format!("p{}@x.co", v % 3)
    } else {
        format!("v{}", v % 3)
    }
}

fn field_name(i: usize) -> &'static str {
    const ALL: [&str; 8] = [
        "email",
        "first_name",
        "last_name",
        "job_title",
        "company",
        "pronouns",
        "owner",
        "phone",
    ];
    ALL[i % ALL.len()]
}

fn step() -> impl Strategy<Value = Step> {
    let val = proptest::option::weighted(0.8, 0u8..3);
    prop_oneof![
        6 => (any::<usize>(), 0usize..8, val.clone()).prop_map(|(r, f, v)| Step::EditLocal(r, f, v)),
        6 => (any::<usize>(), 0usize..8, val).prop_map(|(r, f, v)| Step::EditRemote(r, f, v)),
        2 => proptest::collection::vec((0usize..8, 0u8..3), 0..4).prop_map(Step::NewLocal),
        2 => proptest::collection::vec((0usize..8, 0u8..3), 0..4).prop_map(Step::NewRemote),
        1 => any::<usize>().prop_map(Step::ArchiveLocal),
        1 => any::<usize>().prop_map(Step::ArchiveRemote),
        3 => Just(Step::Run),
    ]
}

fn nth<K: Clone, V>(m: &BTreeMap<K, V>, i: usize) -> Option<K> {
    if m.is_empty() {
        None
    } else {
        m.keys().nth(i % m.len()).cloned()
    }
}

/// Runs once and checks that no change was lost: on every live linked pair, each field that
/// one side changed since the base either reached the other side or was decided by a conflict.
fn checked_run(w: &mut World) {
    let before = w.clone();
    let p = w.run();
    let rules = prop_rules();
    for (lid, link) in &before.links {
        if link.archived {
            continue;
        }
        let (l0, r0) = (&before.local[lid], &before.remote[&link.remote_id]);
        let (l1, r1) = (&w.local[lid], &w.remote[&link.remote_id]);
        if l0.archived_at.is_some() || r0.archived {
            assert!(l1.archived_at.is_some() || w.on_delete == OnDelete::Ignore);
            assert!(w.links[lid].archived, "an archive retires the link");
            continue;
        }
        for rule in rules.iter().filter(|r| r.direction == D::Both) {
            let f = rule.field.as_str();
            let (b, l, r) = (get(&link.base, f), get(&l0.fields, f), get(&r0.fields, f));
            let (l_after, r_after) = (get(&l1.fields, f), get(&r1.fields, f));
            let conflict = p
                .conflicts
                .iter()
                .find(|c| &c.local_id == lid && c.field == f);
            match conflict {
                Some(c) => match c.outcome {
                    Outcome::Local => assert!(
                        rule.same(l_after, l) && rule.same(r_after, l),
                        "{f}: local won"
                    ),
                    Outcome::Remote => assert!(
                        rule.same(l_after, r) && rule.same(r_after, r),
                        "{f}: remote won"
                    ),
                    Outcome::Held => {
                        assert!(rule.same(l_after, l) && rule.same(r_after, r), "{f}: held")
                    }
                },
                None => {
                    if !rule.same(l, b) {
                        assert!(rule.same(r_after, l), "{f}: local change `{l:?}` lost");
                    }
                    if !rule.same(r, b) {
                        assert!(rule.same(l_after, r), "{f}: remote change `{r:?}` lost");
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_histories_converge_without_lost_updates(
        steps in proptest::collection::vec(step(), 1..40),
        ignore_deletes in proptest::bool::weighted(0.2),
    ) {
        let mut w = World::new(prop_rules());
        if ignore_deletes {
            w.on_delete = OnDelete::Ignore;
        }
        for s in steps {
            match s {
                Step::EditLocal(i, f, v) => {
                    if let Some(id) = nth(&w.local, i) {
                        let v = v.map(|v| value(f, v));
                        w.edit_local(&id, field_name(f), v.as_deref());
                    }
                }
                Step::EditRemote(i, f, v) => {
                    if let Some(id) = nth(&w.remote, i) {
                        let v = v.map(|v| value(f, v));
                        w.edit_remote(&id, field_name(f), v.as_deref());
                    }
                }
                Step::NewLocal(fs) => {
                    let now = w.tick();
                    let f = fs.iter().map(|(f, v)| (field_name(*f).to_string(), value(*f, *v))).collect();
                    w.add_local(f, now);
                }
                Step::NewRemote(fs) => {
                    let now = w.tick();
                    let f = fs.iter().map(|(f, v)| (field_name(*f).to_string(), value(*f, *v))).collect();
                    w.add_remote(f, now);
                }
                Step::ArchiveLocal(i) => {
                    if let Some(id) = nth(&w.local, i) {
                        let now = w.tick();
                        let rec = w.local.get_mut(&id).unwrap();
                        rec.archived_at.get_or_insert(now);
                    }
                }
                Step::ArchiveRemote(i) => {
                    if let Some(id) = nth(&w.remote, i) {
                        w.remote.get_mut(&id).unwrap().archived = true;
                    }
                }
                Step::Run => checked_run(&mut w),
            }
        }
        checked_run(&mut w);

        // Converged: nothing left to write, and every two-way field agrees on live links.
        let last = w.plan();
        prop_assert!(last.is_empty());
        for (lid, link) in &w.links {
            let (l, r) = (&w.local[lid], &w.remote[&link.remote_id]);
            if link.archived {
                prop_assert!(l.archived_at.is_some() || r.archived);
                continue;
            }
            prop_assert!(l.archived_at.is_none() && !r.archived);
            for rule in prop_rules().iter().filter(|r| r.direction == D::Both) {
                let f = rule.field.as_str();
                let (b, lv, rv) = (get(&link.base, f), get(&l.fields, f), get(&r.fields, f));
                if rule.policy == P::Manual && !rule.same(lv, rv) {
                    prop_assert!(last.conflicts.iter().any(|c| &c.local_id == lid && c.field == f && c.outcome == Outcome::Held));
                } else {
                    prop_assert!(rule.same(lv, rv) && rule.same(lv, b), "{f}: {lv:?} / {rv:?} / base {b:?}");
                }
            }
        }
        // Every live record on either side is linked, or reported as skipped.
        for l in w.local.values().filter(|l| l.archived_at.is_none()) {
            prop_assert!(w.links.contains_key(&l.id) || last.skipped.iter().any(|s| s.local_id == l.id), "local {} left unlinked", l.id);
        }
        let linked: Vec<&str> = w.links.values().map(|l| l.remote_id.as_str()).collect();
        for rid in w.remote.iter().filter(|(_, r)| !r.archived).map(|(id, _)| id) {
            prop_assert!(linked.contains(&rid.as_str()) || last.skipped.iter().any(|s| &s.remote_id == rid), "remote {rid} left unlinked");
        }
    }
}

#[test]
fn a_difference_removed_by_the_transform_is_not_a_change() {
    let mut title = rule("job_title", D::Both, P::NewestWins);
    title.transform = Some(crate::mapping::Transform::Lowercase);
    let mut w = World::new(vec![title]);
    let base = fields(&[("job_title", "cto")]);
    let l = w.add_local(fields(&[("job_title", "CTO")]), 1);
    let r = w.add_remote(base.clone(), 1);
    w.link(&l, &r, base);
    assert!(w.plan().is_empty());
    w.edit_local(&l, "job_title", Some("Lead"));
    let p = w.run();
    assert_eq!(kinds(&p), [RemoteUpdate]);
}

#[test]
fn a_linked_item_without_its_local_record_is_left_alone() {
    let mut w = World::new(contact_rules());
    let base = fields(&[("first_name", "Ann")]);
    let l = w.add_local(base.clone(), 1);
    let r = w.add_remote(base.clone(), 1);
    w.link(&l, &r, base);
    w.edit_remote(&r, "first_name", Some("Anna"));
    w.remote.get_mut(&r).unwrap().archived = true;
    let mut input = w.input();
    input.items[0].local = None;
    assert!(plan(&input).is_empty());
}

#[test]
fn a_manual_conflict_on_an_archived_pair_keeps_the_local_value() {
    let (mut w, l, r) = archive_world(OnDelete::Archive);
    w.edit_local(&l, "job_title", Some("lead"));
    w.edit_remote(&r, "job_title", Some("cto"));
    w.remote.get_mut(&r).unwrap().archived = true;
    let p = w.run();
    assert_eq!(kinds(&p), [LocalArchive]);
    assert_eq!(p.conflicts.len(), 1);
    assert_eq!(p.conflicts[0].outcome, Outcome::Local);
    assert_eq!(w.local[&l].fields["job_title"], "lead");
    assert_eq!(w.remote[&r].fields["job_title"], "cto");
}

#[test]
fn a_conflict_saved_before_time_sources_were_kept_reads_as_record_times() {
    // The shape `sync --plan FILE` wrote before the sources were recorded.
    let old = serde_json::json!({
        "local_id": "01HZY000000000000000000001", "remote_id": "7", "field": "last_name",
        "base": "A", "local": "B", "remote": "C", "policy": "newest-wins",
        "local_updated_at": 5, "remote_updated_at": 9, "outcome": "remote", "value": "C"
    });
    let c: Conflict = serde_json::from_value(old).unwrap();
    assert_eq!(c.local_time_source, TimeSource::Record);
    assert_eq!(c.remote_time_source, TimeSource::Record);
    assert_eq!((c.local_updated_at, c.remote_updated_at), (5, 9));
    assert_eq!(c.outcome, Outcome::Remote);
}
