//! The engine end to end over the in-memory CRM: random edits on both sides, random runs of
//! sync, some killed after a random number of remote writes, then a clean sync. Checks: both
//! sides equal on every synced field, a further sync writes nothing, and every edit survives
//! unless a conflict (kept in the conflicts table) decided against it.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use crate::clock::{Clock, FixedClock};
use crate::config::{Config, ConnectionConfig};
use crate::engine::plan::Outcome;
use crate::engine::sync::{self, Participant, Quiet, SyncOptions};
use crate::mapping::{ConflictPolicy, OnDelete};
use crate::model::{ObjectKind, Record, RecordId};
use crate::providers::memory::MemoryCrm;
use crate::providers::{Provider, ProviderKind};
use crate::store::{ConflictFilter, Store, WriteOrigin};

const FIELDS: [(&str, &str); 3] = [
    ("first_name", "firstname"),
    ("last_name", "lastname"),
    ("phone", "phone"),
];
const VALUES: [&str; 4] = ["ann", "bob", "cy", ""];

#[derive(Debug, Clone)]
enum Step {
    LocalCreate(u8),
    RemoteCreate(u8),
    LocalEdit { record: u8, field: u8, value: u8 },
    RemoteEdit { record: u8, field: u8, value: u8 },
    Sync { kill_after: Option<u8> },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => any::<u8>().prop_map(Step::LocalCreate),
        1 => any::<u8>().prop_map(Step::RemoteCreate),
        3 => (any::<u8>(), 0..3u8, 0..4u8).prop_map(|(record, field, value)| Step::LocalEdit { record, field, value }),
        3 => (any::<u8>(), 0..3u8, 0..4u8).prop_map(|(record, field, value)| Step::RemoteEdit { record, field, value }),
        2 => proptest::option::of(0..4u8).prop_map(|kill_after| Step::Sync { kill_after }),
    ]
}

/// The connection `mem`: contacts, archives followed, matched by `match_keys`.
pub(super) fn mem_connection(match_keys: Vec<String>) -> ConnectionConfig {
    ConnectionConfig {
        provider: ProviderKind::Hubspot,
        base_url: None,
        auth_url: None,
        client_id: None,
        token_env: None,
        scopes: None,
        redirect_port: None,
        objects: Some(vec![ObjectKind::Contact]),
        on_delete: OnDelete::Archive,
        match_keys: Some(match_keys.into()),
        create_when: None,
        max_requests_per_run: None,
        fields: vec![],
        contact: None,
        company: None,
        activity: None,
        deal: None,
        activity_types: Default::default(),
        owners: Default::default(),
        login_url: None,
        instance_url: None,
        api_version: None,
        reserve_percent: None,
        bulk_threshold: None,
        webhooks_app_id: None,
        developer_key_env: None,
    }
}

struct World {
    store: Store,
    crm: Arc<MemoryCrm>,
    config: Config,
    clock: Arc<FixedClock>,
    _dir: tempfile::TempDir,
    /// (entity key, field) → (step, value) of the last user edit; entity keys are local ids,
    /// or `r:<remote id>` for records created in the CRM.
    edits: BTreeMap<(String, String), (usize, String)>,
}

impl World {
    fn new(policy: ConflictPolicy) -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let clock = Arc::new(FixedClock::new(1_000));
        store.set_clock(clock.clone());
        let mut config = Config::default();
        config.sync.conflict_policy = policy;
        config
            .connections
            .insert("mem".into(), mem_connection(vec![]));
        World {
            store,
            crm: Arc::new(MemoryCrm::new()),
            config,
            clock,
            _dir: dir,
            edits: BTreeMap::new(),
        }
    }

    fn participants(&self) -> Vec<Participant> {
        vec![Participant {
            name: "mem".into(),
            config: self.config.connections["mem"].clone(),
            provider: self.crm.clone() as Arc<dyn Provider>,
        }]
    }

    fn sync(&mut self) -> sync::SyncReport {
        self.sync_with(SyncOptions::default())
    }

    fn sync_with(&mut self, opts: SyncOptions) -> sync::SyncReport {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let participants = self.participants();
        self.clock.advance(10);
        rt.block_on(sync::run(
            &mut self.store,
            &self.config,
            &participants,
            &opts,
            self.clock.clone(),
            &Quiet,
        ))
        .unwrap()
    }

    fn locals(&self) -> Vec<Record> {
        let mut out = Vec::new();
        self.store
            .for_each_record(ObjectKind::Contact, false, &mut |r| {
                out.push(r);
                Ok(())
            })
            .unwrap();
        out
    }

    fn apply(&mut self, i: usize, s: &Step) {
        self.clock.advance(1);
        match *s {
            Step::LocalCreate(v) => {
                let mut rec = Record {
                    id: RecordId::new(),
                    kind: ObjectKind::Contact,
                    fields: Default::default(),
                    updated_at: self.clock.now(),
                    archived_at: None,
                };
                let value = VALUES[v as usize % 3];
                rec.fields.insert("first_name".into(), value.into());
                self.edits
                    .insert((rec.id.to_string(), "first_name".into()), (i, value.into()));
                self.store.save_records(&[rec], &WriteOrigin::User).unwrap();
            }
            Step::RemoteCreate(v) => {
                let value = VALUES[v as usize % 3];
                let id = self
                    .crm
                    .user_create(ObjectKind::Contact, &[("firstname", value)]);
                self.edits
                    .insert((format!("r:{id}"), "first_name".into()), (i, value.into()));
            }
            Step::LocalEdit {
                record,
                field,
                value,
            } => {
                let locals = self.locals();
                if locals.is_empty() {
                    return;
                }
                let mut rec = locals[record as usize % locals.len()].clone();
                let (f, _) = FIELDS[field as usize];
                // Unique values: an edit can never bring a field back to its base by accident
                // (which a three-way merge rightly sees as no change at all).
                let v = &format!("{}{i}", VALUES[value as usize % 3]);
                if rec.get(f).unwrap_or("") == v {
                    return; // not an edit
                }
                crate::model::set_field(&mut rec.fields, f, v);
                rec.updated_at = self.clock.now();
                self.edits
                    .insert((rec.id.to_string(), f.into()), (i, v.clone()));
                self.store.save_records(&[rec], &WriteOrigin::User).unwrap();
            }
            Step::RemoteEdit {
                record,
                field,
                value,
            } => {
                let remotes: Vec<_> = self
                    .crm
                    .all(ObjectKind::Contact)
                    .into_iter()
                    .filter(|r| !r.archived)
                    .collect();
                if remotes.is_empty() {
                    return;
                }
                let r = &remotes[record as usize % remotes.len()];
                let (f, prop) = FIELDS[field as usize];
                let v = &format!("{}{i}", VALUES[value as usize % 3]);
                if r.props.get(prop).map_or("", String::as_str) == v {
                    return; // not an edit
                }
                self.crm
                    .user_edit(ObjectKind::Contact, &r.id, &[(prop, Some(v.as_str()))]);
                let key = match &r.external_id {
                    Some(local) => local.clone(),
                    None => format!("r:{}", r.id),
                };
                self.edits.insert((key, f.into()), (i, v.clone()));
            }
            Step::Sync { kill_after } => {
                self.crm.die_after_writes(kill_after.map(u64::from));
                self.sync();
                self.crm.die_after_writes(None);
            }
        }
    }
}

/// `replay`: every change-feed read starts long before its cursor (an overlap wider than the
/// whole test), so each run reads every record again, mostly at versions already synced.
fn check(policy: ConflictPolicy, steps: Vec<Step>, replay: bool) -> Result<(), TestCaseError> {
    let mut w = World::new(policy);
    if replay {
        w.crm.overlap(1 << 40);
    }
    for (i, s) in steps.iter().enumerate() {
        w.apply(i, s);
    }
    // Settle: one clean sync brings both sides together (a second one may be needed to
    // settle the echo of the first one's recoveries); then nothing more may be written.
    w.sync();
    w.sync();
    let writes = w.crm.writes();
    let report = w.sync();
    prop_assert_eq!(
        w.crm.writes(),
        writes,
        "a sync after convergence wrote to the CRM"
    );
    for c in &report.connections {
        prop_assert!(c.error.is_none(), "{:?}", c.error);
        for o in &c.objects {
            let p = &o.planned;
            prop_assert_eq!(
                p.local_create + p.local_update + p.remote_create + p.remote_update,
                0,
                "a sync after convergence planned writes: {:?}",
                p
            );
        }
    }
    // Both sides equal on every synced field, every record linked once.
    let remotes: BTreeMap<String, _> = w
        .crm
        .all(ObjectKind::Contact)
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    let locals = w.locals();
    prop_assert_eq!(locals.len(), remotes.len(), "record counts differ");
    let local_ids: Vec<RecordId> = locals.iter().map(|r| r.id.clone()).collect();
    let links = w
        .store
        .links_by_local_ids("mem", ObjectKind::Contact, &local_ids)
        .unwrap();
    let remote_to_local: BTreeMap<String, String> = links
        .values()
        .map(|l| (l.remote_id.clone(), l.local_id.to_string()))
        .collect();
    for local in &locals {
        let link = links.get(&local.id);
        prop_assert!(link.is_some(), "local record {} is not linked", local.id);
        let remote = &remotes[&link.unwrap().remote_id];
        for (f, prop) in FIELDS {
            prop_assert_eq!(
                local.get(f),
                remote.props.get(prop).map(String::as_str),
                "field {} of {}",
                f,
                local.id
            );
        }
    }
    // No lost update: the last edit of every field is its value, unless a conflict decided.
    let conflicts = w
        .store
        .list_open_conflicts(&ConflictFilter::default())
        .unwrap();
    prop_assert!(conflicts.is_empty(), "open conflicts under {:?}", policy);
    // One entity may have been edited under its CRM id before it had a local one: merge the
    // logs and keep the latest edit of each field.
    let mut last: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    for ((key, field), (step, value)) in &w.edits {
        let local_id = match key.strip_prefix("r:") {
            Some(rid) => match remote_to_local.get(rid) {
                Some(l) => l.clone(),
                None => continue,
            },
            None => key.clone(),
        };
        let slot = last
            .entry((local_id, field.clone()))
            .or_insert((*step, value.clone()));
        if *step > slot.0 {
            *slot = (*step, value.clone());
        }
    }
    edits_kept(
        &w.store,
        &locals,
        last.iter().map(|(k, (_, v))| (k, v)),
        &|_, _| false,
    )
}

/// Each `((local id, field), value)`, the last edit of a field, is the local record's value
/// now, or a conflict on record decided against it, or `excused(field, value)`.
pub(super) fn edits_kept<'a>(
    store: &Store,
    locals: &[Record],
    last: impl Iterator<Item = (&'a (String, String), &'a String)>,
    excused: &dyn Fn(&str, &str) -> bool,
) -> Result<(), TestCaseError> {
    for ((local_id, field), value) in last {
        let Some(local) = locals.iter().find(|r| r.id.as_str() == local_id) else {
            continue;
        };
        let got = local.get(field).unwrap_or("");
        if got != value && !excused(field, value) {
            let decided = store.conflict_history(&local.id, field).unwrap();
            prop_assert!(
                decided > 0,
                "edit of {} on {} to {:?} was lost (now {:?}) with no conflict on record",
                field,
                local_id,
                value,
                got
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_edits_and_killed_runs_converge(steps in proptest::collection::vec(step(), 1..25), remote_wins in any::<bool>(), replay in any::<bool>()) {
        let policy = if remote_wins { ConflictPolicy::RemoteWins } else { ConflictPolicy::LocalWins };
        check(policy, steps, replay)?;
    }
}

#[test]
fn a_killed_create_is_found_by_its_external_id_instead_of_duplicated() {
    let mut w = World::new(ConflictPolicy::LocalWins);
    w.apply(0, &Step::LocalCreate(0));
    w.apply(
        1,
        &Step::Sync {
            kill_after: Some(1),
        },
    );
    assert_eq!(
        w.crm.all(ObjectKind::Contact).len(),
        1,
        "the create reached the CRM"
    );
    let report = w.sync();
    assert_eq!(report.connections[0].recovered, 1);
    assert_eq!(
        w.crm.all(ObjectKind::Contact).len(),
        1,
        "no duplicate after the rerun"
    );
    let writes = w.crm.writes();
    w.sync();
    assert_eq!(w.crm.writes(), writes);
}

// ---- creates refused as duplicates -------------------------------------------------------

/// A world whose CRM keeps emails unique, with a first (empty) sync done, so that a record
/// created in the CRM at time 0 is older than the change feed's cursor: no pull will see it.
fn unique_email_world(policy: ConflictPolicy) -> World {
    let mut w = World::new(policy);
    w.crm.unique("email");
    w.sync();
    w
}

/// A contact made in the CRM before the cursor, out of the change feed's sight.
fn unseen_remote(w: &World, props: &[(&str, &str)]) -> String {
    w.crm.user_create_at(ObjectKind::Contact, props, 0)
}

fn new_local(w: &mut World, fields: &[(&str, &str)]) -> Record {
    new_local_of(w, ObjectKind::Contact, fields)
}

fn new_local_of(w: &mut World, kind: ObjectKind, fields: &[(&str, &str)]) -> Record {
    w.clock.advance(1);
    let rec = Record {
        id: RecordId::new(),
        kind,
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        updated_at: w.clock.now(),
        archived_at: None,
    };
    w.store
        .save_records(std::slice::from_ref(&rec), &WriteOrigin::User)
        .unwrap();
    rec
}

fn linked_remote(w: &World, local: &RecordId) -> Option<String> {
    w.store
        .links_by_local_ids("mem", ObjectKind::Contact, std::slice::from_ref(local))
        .unwrap()
        .remove(local)
        .map(|l| l.remote_id)
}

fn remote_prop(w: &World, id: &str, prop: &str) -> Option<String> {
    w.crm
        .all(ObjectKind::Contact)
        .into_iter()
        .find(|r| r.id == id)
        .and_then(|r| r.props.get(prop).cloned())
}

fn planned_writes(report: &sync::SyncReport) -> usize {
    report
        .connections
        .iter()
        .flat_map(|c| &c.objects)
        .map(|o| {
            let p = &o.planned;
            p.link + p.local_create + p.local_update + p.remote_create + p.remote_update
        })
        .sum()
}

#[test]
fn a_create_refused_as_a_duplicate_is_linked_and_merged_in_the_same_run() {
    for (policy, pronouns) in [
        (ConflictPolicy::RemoteWins, "she/her"),
        (ConflictPolicy::LocalWins, "they/them"),
    ] {
        let mut w = unique_email_world(policy);
        let rid = unseen_remote(
            &w,
            &[
                ("email", "ann@x.test"),
                ("firstname", "Ann"),
                ("pronouns", "she/her"),
            ],
        );
        let ann = new_local(
            &mut w,
            &[
                ("email", "ann@x.test"),
                ("last_name", "Lee"),
                ("pronouns", "they/them"),
            ],
        );
        let report = w.sync();
        let c = &report.connections[0];
        assert!(c.error.is_none(), "{:?}", c.error);
        assert_eq!(report.failed(), 0, "{policy:?}");
        assert_eq!(c.failed_records, 0);
        assert!(w.store.list_failures(None).unwrap().is_empty());
        assert_eq!(w.crm.id_reads(), 1, "one read by id");
        let planned = &c.objects[0].planned;
        assert_eq!(planned.link, 1, "{planned:?}");
        assert_eq!(planned.remote_create, 0, "linked, not created: {planned:?}");
        assert_eq!(planned.local_update, 1, "{planned:?}");
        assert_eq!(planned.remote_update, 1, "{planned:?}");
        // Linked to the CRM's record, no second one made.
        assert_eq!(linked_remote(&w, &ann.id).as_deref(), Some(rid.as_str()));
        assert_eq!(w.crm.all(ObjectKind::Contact).len(), 1);
        // Merged three-way with no base: each side's own field copied, the conflict decided
        // by the policy and kept on record.
        let local = w.store.get_record(&ann.id).unwrap().unwrap();
        assert_eq!(local.get("first_name"), Some("Ann"));
        assert_eq!(local.get("last_name"), Some("Lee"));
        assert_eq!(local.get("pronouns"), Some(pronouns), "{policy:?}");
        assert_eq!(remote_prop(&w, &rid, "lastname").as_deref(), Some("Lee"));
        assert_eq!(remote_prop(&w, &rid, "firstname").as_deref(), Some("Ann"));
        assert_eq!(
            remote_prop(&w, &rid, "pronouns").as_deref(),
            Some(pronouns),
            "{policy:?}"
        );
        assert_eq!(w.store.conflict_history(&ann.id, "pronouns").unwrap(), 1);
        // Nothing left to do.
        let writes = w.crm.writes();
        let report = w.sync();
        assert_eq!(planned_writes(&report), 0, "{:?}", report.connections);
        assert_eq!(w.crm.writes(), writes);
        assert_eq!(report.failed(), 0);
    }
}

#[test]
fn more_duplicates_than_a_batch_are_read_one_batch_at_a_time() {
    let mut w = unique_email_world(ConflictPolicy::LocalWins);
    let n = 12; // the memory CRM takes 10 a call
    let mut pairs = Vec::new();
    for i in 0..n {
        let email = format!("p{i}@x.test");
        let rid = unseen_remote(&w, &[("email", &email), ("firstname", "Remote")]);
        let local = new_local(&mut w, &[("email", &email), ("last_name", "Local")]);
        pairs.push((local.id, rid));
    }
    let report = w.sync();
    assert_eq!(report.failed(), 0);
    assert_eq!(w.crm.id_reads(), 2);
    assert_eq!(w.crm.all(ObjectKind::Contact).len(), n);
    for (local, rid) in &pairs {
        assert_eq!(linked_remote(&w, local).as_ref(), Some(rid));
        assert_eq!(remote_prop(&w, rid, "lastname").as_deref(), Some("Local"));
    }
    let writes = w.crm.writes();
    assert_eq!(planned_writes(&w.sync()), 0);
    assert_eq!(w.crm.writes(), writes);
}

#[test]
fn a_duplicate_of_a_record_linked_to_another_local_one_stays_a_failure_saying_what_to_do() {
    let mut w = unique_email_world(ConflictPolicy::LocalWins);
    let first = new_local(&mut w, &[("email", "bo@x.test"), ("first_name", "Bo")]);
    w.sync();
    let rid = linked_remote(&w, &first.id).expect("the first one was created");
    let second = new_local(&mut w, &[("email", "bo@x.test"), ("first_name", "Bob")]);
    let writes = w.crm.writes();
    let report = w.sync();
    assert_eq!(report.failed(), 1);
    assert_eq!(report.connections[0].failed_records, 1);
    assert_eq!(
        w.crm.writes(),
        writes + 1,
        "only the refused create was sent"
    );
    assert_eq!(linked_remote(&w, &second.id), None);
    assert_eq!(linked_remote(&w, &first.id), Some(rid.clone()));
    assert_eq!(remote_prop(&w, &rid, "firstname").as_deref(), Some("Bo"));
    let failures = w.store.list_failures(Some("mem")).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let f = &failures[0];
    assert_eq!(f.local_id, second.id);
    assert_eq!(f.attempts, 1);
    for part in [
        first.id.as_str(),
        second.id.as_str(),
        &format!("`{rid}`"),
        "crmsync retry",
    ] {
        assert!(f.message.contains(part), "`{part}` missing: {}", f.message);
    }
    assert!(f.message.contains("erge"), "{}", f.message);
    // Nothing is sent again until someone acts, and then it goes through as the message says.
    let writes = w.crm.writes();
    w.sync();
    assert_eq!(w.crm.writes(), writes);
    assert_eq!(w.store.list_failures(Some("mem")).unwrap().len(), 1);
    let mut rec = w.store.get_record(&second.id).unwrap().unwrap();
    crate::model::set_field(&mut rec.fields, "email", "bob@x.test");
    rec.updated_at = w.clock.now();
    w.store.save_records(&[rec], &WriteOrigin::User).unwrap();
    assert_eq!(w.store.requeue_failures(Some("mem")).unwrap(), 1);
    let report = w.sync();
    assert_eq!(report.failed(), 0);
    let made = linked_remote(&w, &second.id).expect("created once the email differs");
    assert_ne!(made, rid);
    assert_eq!(w.crm.all(ObjectKind::Contact).len(), 2);
    assert!(w.store.list_failures(None).unwrap().is_empty());
}

#[test]
fn two_new_local_records_with_one_email_link_one_and_keep_the_other_failed() {
    let mut w = unique_email_world(ConflictPolicy::LocalWins);
    let rid = unseen_remote(&w, &[("email", "cy@x.test"), ("firstname", "Cy")]);
    let a = new_local(&mut w, &[("email", "cy@x.test"), ("last_name", "A")]);
    let b = new_local(&mut w, &[("email", "cy@x.test"), ("last_name", "B")]);
    let report = w.sync();
    assert_eq!(report.failed(), 1);
    let (linked, other) = match linked_remote(&w, &a.id) {
        Some(r) => {
            assert_eq!(r, rid);
            (&a, &b)
        }
        None => (&b, &a),
    };
    assert_eq!(linked_remote(&w, &linked.id), Some(rid.clone()));
    assert_eq!(linked_remote(&w, &other.id), None);
    assert_eq!(w.crm.all(ObjectKind::Contact).len(), 1);
    let failures = w.store.list_failures(Some("mem")).unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].local_id, other.id);
    assert!(
        failures[0].message.contains(linked.id.as_str()),
        "{}",
        failures[0].message
    );
}

#[test]
fn a_duplicate_whose_record_is_gone_by_the_read_stays_a_failure() {
    let mut w = unique_email_world(ConflictPolicy::LocalWins);
    let rid = unseen_remote(&w, &[("email", "di@x.test"), ("firstname", "Di")]);
    w.crm.archive_when_duplicated(true);
    let di = new_local(&mut w, &[("email", "di@x.test"), ("last_name", "Ng")]);
    let report = w.sync();
    assert_eq!(report.failed(), 1);
    assert_eq!(w.crm.id_reads(), 1);
    assert_eq!(linked_remote(&w, &di.id), None);
    let failures = w.store.list_failures(Some("mem")).unwrap();
    assert_eq!(failures.len(), 1);
    let f = &failures[0];
    assert_eq!(f.local_id, di.id);
    assert!(f.message.contains(&format!("`{rid}`")), "{}", f.message);
    assert!(f.message.contains("no live"), "{}", f.message);
    assert!(f.message.contains("crmsync retry"), "{}", f.message);
}

#[test]
fn a_run_killed_while_merging_a_duplicate_is_resumed_without_duplicates_or_lost_edits() {
    // Killed on the refused create (write 1), then on the merge's remote update (write 2).
    for kill_after in [1, 2] {
        let mut w = unique_email_world(ConflictPolicy::LocalWins);
        let rid = unseen_remote(&w, &[("email", "ed@x.test"), ("firstname", "Ed")]);
        let ed = new_local(&mut w, &[("email", "ed@x.test"), ("last_name", "Ito")]);
        w.crm.die_after_writes(Some(kill_after));
        let report = w.sync();
        w.crm.die_after_writes(None);
        assert!(
            report.connections[0].error.is_some(),
            "killed at {kill_after}"
        );
        w.sync();
        let report = w.sync();
        assert_eq!(planned_writes(&report), 0, "killed at {kill_after}");
        let writes = w.crm.writes();
        w.sync();
        assert_eq!(w.crm.writes(), writes, "killed at {kill_after}");
        assert_eq!(w.crm.all(ObjectKind::Contact).len(), 1);
        assert_eq!(linked_remote(&w, &ed.id), Some(rid.clone()));
        assert_eq!(remote_prop(&w, &rid, "lastname").as_deref(), Some("Ito"));
        let local = w.store.get_record(&ed.id).unwrap().unwrap();
        assert_eq!(local.get("first_name"), Some("Ed"));
        assert!(w.store.list_failures(None).unwrap().is_empty());
        assert!(w.store.journal_pending("mem").unwrap().is_empty());
    }
}

#[test]
fn a_run_killed_before_the_crm_answered_an_external_id_stamp_sends_it_on_the_next_run() {
    // Two CRM contacts linked by email to local records get the local ids in one update
    // call; the run dies once the CRM applied the first, before crmsync heard of either.
    let mut w = World::new(ConflictPolicy::LocalWins);
    w.config.connections.get_mut("mem").unwrap().match_keys = Some(vec!["email".into()].into());
    w.sync();
    let rids: Vec<String> = ["ann@x.test", "bo@x.test"]
        .iter()
        .map(|e| w.crm.user_create(ObjectKind::Contact, &[("email", e)]))
        .collect();
    let locals: Vec<Record> = ["ann@x.test", "bo@x.test"]
        .iter()
        .map(|e| new_local(&mut w, &[("email", e)]))
        .collect();
    w.crm.die_after_writes(Some(1));
    let report = w.sync();
    w.crm.die_after_writes(None);
    assert!(report.connections[0].error.is_some());
    let stamp = |w: &World, rid: &str| {
        w.crm
            .all(ObjectKind::Contact)
            .into_iter()
            .find(|r| r.id == rid)
            .and_then(|r| r.external_id)
    };
    assert_eq!(
        stamp(&w, &rids[1]),
        None,
        "the second stamp never reached the CRM"
    );

    let report = w.sync();
    assert_eq!(report.connections[0].error, None);
    assert_eq!(
        report.connections[0].recovered, 2,
        "both updates were journalled"
    );
    for (local, rid) in locals.iter().zip(&rids) {
        assert_eq!(linked_remote(&w, &local.id).as_deref(), Some(rid.as_str()));
        assert_eq!(stamp(&w, rid).as_deref(), Some(local.id.as_str()));
    }
    assert!(w.store.journal_pending("mem").unwrap().is_empty());
    assert_eq!(w.crm.all(ObjectKind::Contact).len(), 2);
    let writes = w.crm.writes();
    w.sync();
    assert_eq!(w.crm.writes(), writes, "nothing left to write");
}

// ---- newest-wins with per-field times ------------------------------------------------------

/// A linked contact (`first_name` Ann, `last_name` Lee, `phone` 1) under `newest-wins`, synced;
/// returns the world, the local id and the CRM id.
fn newest_wins_world() -> (World, RecordId, String) {
    let mut w = World::new(ConflictPolicy::NewestWins);
    let rec = new_local(
        &mut w,
        &[("first_name", "Ann"), ("last_name", "Lee"), ("phone", "1")],
    );
    w.sync();
    let rid = linked_remote(&w, &rec.id).expect("linked");
    (w, rec.id, rid)
}

/// A local edit of one field at time `at` (the store's clock and the record's time).
fn edit_local_at(w: &mut World, id: &RecordId, field: &str, value: &str, at: i64) {
    w.clock.set(at);
    let mut rec = w.store.get_record(id).unwrap().expect("local record");
    crate::model::set_field(&mut rec.fields, field, value);
    rec.updated_at = at;
    w.store.save_records(&[rec], &WriteOrigin::User).unwrap();
}

fn local_field(w: &World, id: &RecordId, field: &str) -> Option<String> {
    let rec = w.store.get_record(id).unwrap().expect("local record");
    rec.get(field).map(str::to_string)
}

/// The conflicts a dry run plans: (field, outcome, local time, remote time).
fn dry_run_conflicts(w: &mut World) -> Vec<(String, Outcome, i64, i64)> {
    let report = w.sync_with(SyncOptions {
        dry_run: true,
        ..SyncOptions::default()
    });
    report
        .plans
        .iter()
        .flat_map(|p| &p.conflicts)
        .map(|c| {
            (
                c.field.clone(),
                c.outcome,
                c.local_updated_at,
                c.remote_updated_at,
            )
        })
        .collect()
}

/// In the CRM `lastname` is edited at `t + 100`; locally `last_name` at `t + 200`; then in the
/// CRM `firstname` at `t + 300`, which makes the CRM's record the newer one.
fn old_remote_edit_newer_record(w: &mut World, id: &RecordId, rid: &str) -> i64 {
    let t = w.clock.now();
    let contact = ObjectKind::Contact;
    w.crm
        .user_edit_at(contact, rid, &[("lastname", Some("Remote"))], t + 100);
    edit_local_at(w, id, "last_name", "Local", t + 200);
    w.crm
        .user_edit_at(contact, rid, &[("firstname", Some("Anna"))], t + 300);
    t
}

#[test]
fn newest_wins_keeps_a_later_local_field_edit_over_a_remote_record_touched_since() {
    let (mut w, id, rid) = newest_wins_world();
    let t = old_remote_edit_newer_record(&mut w, &id, &rid);
    // The plan compares the two edits of the field, not the two records.
    let reads = w.crm.history_reads();
    let conflicts = dry_run_conflicts(&mut w);
    assert_eq!(
        conflicts,
        vec![("last_name".to_string(), Outcome::Local, t + 200, t + 100)]
    );
    assert_eq!(w.crm.history_reads(), reads + 1, "one history read");

    let report = w.sync();
    assert!(report.connections[0].warnings.is_empty(), "{report:?}");
    assert_eq!(local_field(&w, &id, "last_name").as_deref(), Some("Local"));
    assert_eq!(remote_prop(&w, &rid, "lastname").as_deref(), Some("Local"));
    assert_eq!(local_field(&w, &id, "first_name").as_deref(), Some("Anna"));
    assert_eq!(w.store.conflict_history(&id, "last_name").unwrap(), 1);

    // Nothing more to do: no history read, no write.
    let (reads, writes) = (w.crm.history_reads(), w.crm.writes());
    w.sync();
    assert_eq!(w.crm.history_reads(), reads);
    assert_eq!(w.crm.writes(), writes);
}

#[test]
fn newest_wins_takes_a_later_remote_field_edit_over_a_local_record_touched_since() {
    let (mut w, id, rid) = newest_wins_world();
    let t = w.clock.now();
    // Locally `last_name` long ago and `phone` recently; in the CRM `lastname` in between.
    edit_local_at(&mut w, &id, "last_name", "Local", t + 100);
    w.crm.user_edit_at(
        ObjectKind::Contact,
        &rid,
        &[("lastname", Some("Remote"))],
        t + 200,
    );
    edit_local_at(&mut w, &id, "phone", "2", t + 300);
    assert_eq!(
        dry_run_conflicts(&mut w),
        vec![("last_name".to_string(), Outcome::Remote, t + 100, t + 200)]
    );
    w.sync();
    assert_eq!(local_field(&w, &id, "last_name").as_deref(), Some("Remote"));
    assert_eq!(remote_prop(&w, &rid, "lastname").as_deref(), Some("Remote"));
    assert_eq!(remote_prop(&w, &rid, "phone").as_deref(), Some("2"));
}

#[test]
fn a_failed_history_read_falls_back_to_record_times_with_one_warning() {
    let (mut w, id, rid) = newest_wins_world();
    let t = old_remote_edit_newer_record(&mut w, &id, &rid);
    w.crm.fail_field_times(true);
    // The remote record time (`t + 300`) is compared with the local field time.
    assert_eq!(
        dry_run_conflicts(&mut w),
        vec![("last_name".to_string(), Outcome::Remote, t + 200, t + 300)]
    );
    let report = w.sync();
    let conn = &report.connections[0];
    assert!(conn.error.is_none(), "{conn:?}");
    assert_eq!(conn.warnings.len(), 1, "{:?}", conn.warnings);
    assert!(
        conn.warnings[0].starts_with("mem:") && conn.warnings[0].contains("history"),
        "{}",
        conn.warnings[0]
    );
    assert_eq!(local_field(&w, &id, "last_name").as_deref(), Some("Remote"));
    assert_eq!(remote_prop(&w, &rid, "lastname").as_deref(), Some("Remote"));
    assert_eq!(local_field(&w, &id, "first_name").as_deref(), Some("Anna"));
    assert_eq!(w.store.conflict_history(&id, "last_name").unwrap(), 1);
}

#[test]
fn failed_history_reads_warn_once_per_connection_and_run() {
    let (mut w, id, rid) = newest_wins_world();
    w.config.connections.get_mut("mem").unwrap().objects =
        Some(vec![ObjectKind::Company, ObjectKind::Contact]);
    let company = new_local_of(
        &mut w,
        ObjectKind::Company,
        &[("name", "Acme"), ("domain", "acme.io")],
    );
    w.sync();
    let crid = w
        .store
        .links_by_local_ids(
            "mem",
            ObjectKind::Company,
            std::slice::from_ref(&company.id),
        )
        .unwrap()
        .remove(&company.id)
        .expect("company linked")
        .remote_id;
    // A newest-wins conflict in each object, so each object's pull reads the history.
    let t = old_remote_edit_newer_record(&mut w, &id, &rid);
    edit_local_at(&mut w, &company.id, "name", "Local Co", t + 400);
    w.crm.user_edit_at(
        ObjectKind::Company,
        &crid,
        &[("name", Some("Remote Co"))],
        t + 500,
    );
    w.crm.fail_field_times(true);

    let report = w.sync();
    let conn = &report.connections[0];
    assert!(conn.error.is_none(), "{conn:?}");
    // Both conflicts were decided (on the remote record times) after a failed read each…
    assert_eq!(w.store.conflict_history(&id, "last_name").unwrap(), 1);
    assert_eq!(w.store.conflict_history(&company.id, "name").unwrap(), 1);
    assert_eq!(local_field(&w, &id, "last_name").as_deref(), Some("Remote"));
    // …and the connection was named in one warning, not one per failed read.
    let history: Vec<&String> = conn
        .warnings
        .iter()
        .filter(|m| m.contains("field history"))
        .collect();
    assert_eq!(history.len(), 1, "{:?}", conn.warnings);
    assert!(history[0].starts_with("mem:"), "{}", history[0]);

    // The next run warns again when it fails again: once per run, not once ever.
    let t = w.clock.now();
    edit_local_at(&mut w, &id, "phone", "3", t + 100);
    w.crm
        .user_edit_at(ObjectKind::Contact, &rid, &[("phone", Some("4"))], t + 200);
    let again = w.sync();
    let warned = again.connections[0]
        .warnings
        .iter()
        .filter(|m| m.contains("field history"))
        .count();
    assert_eq!(warned, 1, "{:?}", again.connections[0].warnings);
}

#[test]
fn records_read_again_at_a_synced_version_are_left_out_of_the_plan_and_not_completed() {
    let mut w = World::new(ConflictPolicy::LocalWins);
    w.crm.overlap(1 << 40);
    let a = new_local(&mut w, &[("first_name", "ann")]);
    new_local(&mut w, &[("first_name", "bob")]);
    let first = w.sync();
    assert_eq!(planned_writes(&first), 2);
    let completed = w.crm.completed();
    // The feed now returns both records again, at the versions the creates answered.
    let again = w.sync();
    let o = &again.connections[0].objects[0];
    assert_eq!((o.read, o.unchanged), (2, 2));
    assert_eq!(planned_writes(&again), 0);
    assert_eq!(
        w.crm.completed(),
        completed,
        "unchanged records were completed"
    );
    // A CRM user edits one: only that one is planned (and completed) and pulled.
    let rid = linked_remote(&w, &a.id).unwrap();
    w.crm
        .user_edit(ObjectKind::Contact, &rid, &[("firstname", Some("anna"))]);
    let edited = w.sync();
    let o = &edited.connections[0].objects[0];
    assert_eq!((o.read, o.unchanged), (2, 1));
    assert_eq!(w.crm.completed(), completed + 1);
    assert_eq!(
        local_field(&w, &a.id, "first_name").as_deref(),
        Some("anna")
    );
    // A full read plans every record again.
    let full = w.sync_with(SyncOptions {
        full: true,
        ..SyncOptions::default()
    });
    let o = &full.connections[0].objects[0];
    assert_eq!((o.read, o.unchanged), (2, 0));
    assert_eq!(w.crm.completed(), completed + 3);
    assert_eq!(planned_writes(&full), 0);
}

#[test]
fn a_push_larger_than_a_chunk_cannot_pass_the_archive_gate_chunk_by_chunk() {
    let mut w = World::new(ConflictPolicy::NewestWins);
    let records: Vec<Record> = (0..10_000)
        .map(|i| Record {
            id: RecordId::new(),
            kind: ObjectKind::Contact,
            fields: [("first_name".to_string(), format!("p{i}"))].into(),
            updated_at: 1,
            archived_at: None,
        })
        .collect();
    w.store.save_records(&records, &WriteOrigin::User).unwrap();
    w.sync();
    let live = |w: &World| {
        w.crm
            .all(ObjectKind::Contact)
            .iter()
            .filter(|r| !r.archived)
            .count()
    };
    assert_eq!(live(&w), 10_000);
    // 5,200 of 10,000 (52%): 5,000 in the first chunk of the push and 200 in the second,
    // each under half of the links.
    let archived: Vec<Record> = records[..5_200]
        .iter()
        .map(|r| Record {
            archived_at: Some(5),
            updated_at: 5,
            ..r.clone()
        })
        .collect();
    w.store.save_records(&archived, &WriteOrigin::User).unwrap();
    let report = w.sync();
    assert!(report.gated(), "{:?}", report.connections[0]);
    assert_eq!(live(&w), 10_000, "archives were written past the gate");
}

// ---- match keys per object -----------------------------------------------------------------

#[test]
fn the_default_match_keys_pair_companies_by_domain() {
    // The same two companies on both sides, their domains written differently: the default
    // configuration (no match keys anywhere) links them, two on each side, not four.
    let mut w = World::new(ConflictPolicy::NewestWins);
    let conn = w.config.connections.get_mut("mem").unwrap();
    conn.match_keys = None;
    conn.objects = Some(vec![ObjectKind::Company, ObjectKind::Contact]);
    for (name, domain) in [
        ("Acme", "acme.com"),
        ("Globex", "https://www.Globex.com/about"),
    ] {
        new_local_of(
            &mut w,
            ObjectKind::Company,
            &[("name", name), ("domain", domain)],
        );
    }
    for (name, domain) in [("Acme", "www.acme.com"), ("Globex", "globex.com")] {
        w.crm
            .user_create(ObjectKind::Company, &[("name", name), ("domain", domain)]);
    }
    let report = w.sync();
    assert!(report.connections[0].error.is_none(), "{report:?}");
    assert_eq!(w.crm.all(ObjectKind::Company).len(), 2);
    assert_eq!(w.store.count_records(ObjectKind::Company, true).unwrap(), 2);
    let writes = w.crm.writes();
    w.sync();
    assert_eq!(w.crm.writes(), writes, "nothing left to write");
}

// ---- partial imports -----------------------------------------------------------------------

#[test]
fn a_partial_import_by_id_syncs_only_the_field_it_changed() {
    let mut w = World::new(ConflictPolicy::NewestWins);
    let rec = new_local(
        &mut w,
        &[
            ("email", "ann@x.test"),
            ("first_name", "Ann"),
            ("last_name", "Lee"),
            ("phone", "1"),
        ],
    );
    w.sync();
    let rid = linked_remote(&w, &rec.id).expect("linked");
    let writes = w.crm.writes();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.csv");
    std::fs::write(&file, format!("id,phone,last_name\n{},2,\n", rec.id)).unwrap();
    let opts = crate::transfer::ImportOptions::new(ObjectKind::Contact, w.clock.now(), 0);
    let report =
        crate::transfer::import_file(&mut w.store, &file, &opts, &crate::transfer::NoProgress)
            .unwrap();
    assert_eq!((report.loaded, report.merged), (0, 1));

    let report = w.sync();
    assert!(report.connections[0].error.is_none(), "{report:?}");
    assert_eq!(w.crm.writes(), writes + 1, "one update");
    for (prop, want) in [
        ("email", "ann@x.test"),
        ("firstname", "Ann"),
        ("lastname", "Lee"),
        ("phone", "2"),
    ] {
        assert_eq!(remote_prop(&w, &rid, prop).as_deref(), Some(want), "{prop}");
    }
    assert_eq!(
        local_field(&w, &rec.id, "last_name").as_deref(),
        Some("Lee")
    );
}

#[test]
fn a_write_refused_because_the_crm_archived_the_record_is_no_failure_once_the_archive_arrives() {
    // The CRM archives a contact, and its change feed does not show that yet (HubSpot lists
    // archives once a day); a local edit's update is refused (404) and kept as a failure,
    // until the archive arrives and archives the local record (or finds it archived by a
    // local user meanwhile): nothing is left to retry.
    for archived_here in [false, true] {
        refused_write_then_archive_arrives(archived_here);
    }
}

fn refused_write_then_archive_arrives(archived_here: bool) {
    let mut w = World::new(ConflictPolicy::LocalWins);
    let ann = new_local(&mut w, &[("first_name", "ann")]);
    w.sync();
    let rid = linked_remote(&w, &ann.id).expect("linked");
    let at = w.crm.all(ObjectKind::Contact)[0].updated_at;
    w.crm.user_archive(ObjectKind::Contact, &rid);
    let mut rec = w.store.get_record(&ann.id).unwrap().unwrap();
    crate::model::set_field(&mut rec.fields, "last_name", "lee");
    w.clock.advance(1);
    w.store.save_records(&[rec], &WriteOrigin::User).unwrap();
    // The feed's cursor is moved past the archive for one run, as an index that lags would.
    let cursor = w.store.remote_cursor("mem", ObjectKind::Contact).unwrap();
    w.store
        .set_remote_cursor("mem", ObjectKind::Contact, Some(&(at + 100).to_string()))
        .unwrap();
    let report = w.sync();
    assert_eq!(report.failed(), 1, "the update was refused");
    assert_eq!(w.store.list_failures(Some("mem")).unwrap().len(), 1);
    w.store
        .set_remote_cursor("mem", ObjectKind::Contact, cursor.as_deref())
        .unwrap();
    if archived_here {
        let mut rec = w.store.get_record(&ann.id).unwrap().unwrap();
        w.clock.advance(1);
        rec.archived_at = Some(w.clock.now());
        w.store.save_records(&[rec], &WriteOrigin::User).unwrap();
    }
    // Its one contact archived is all of them: past the archive gate.
    let report = w.sync_with(SyncOptions {
        force: true,
        ..SyncOptions::default()
    });
    assert!(report.connections[0].error.is_none(), "{report:?}");
    let local = w.store.get_record(&ann.id).unwrap().unwrap();
    assert!(local.archived_at.is_some(), "the archive arrived");
    assert!(
        w.store.list_failures(None).unwrap().is_empty(),
        "archived here: {archived_here}: {:?}",
        w.store.list_failures(None).unwrap()
    );
    assert_eq!(report.connections[0].failed_records, 0);
}

/// Archives `rid` in the CRM and moves the feed's cursor past it, so that no read of the
/// feed shows it (as none shows an erased HubSpot contact).
fn archive_out_of_the_feeds_sight(w: &mut World, rid: &str) {
    let at = w.crm.all(ObjectKind::Contact)[0].updated_at;
    w.crm.user_archive(ObjectKind::Contact, rid);
    w.store
        .set_remote_cursor("mem", ObjectKind::Contact, Some(&(at + 100).to_string()))
        .unwrap();
}

/// A change-feed run told that the CRM contacts `rids` are gone.
fn sync_told_gone(w: &mut World, rids: &[&str]) -> sync::SyncReport {
    let mut gone = sync::ById::default();
    for rid in rids {
        gone.add("mem", ObjectKind::Contact, rid);
    }
    w.sync_with(SyncOptions {
        gone,
        force: true,
        ..SyncOptions::default()
    })
}

#[test]
fn a_record_said_gone_by_a_crm_whose_archives_are_not_read_by_id_is_left_to_the_change_feed() {
    // As above, but the CRM is one whose archived records crmsync does not read by id
    // (Pipedrive): not finding the record live proves nothing, so the event's word alone
    // archives nothing here.
    let mut w = World::new(ConflictPolicy::LocalWins);
    w.crm.speak_as(crate::providers::ProviderKind::Pipedrive);
    let ann = new_local(&mut w, &[("first_name", "ann")]);
    w.sync();
    let ann_rid = linked_remote(&w, &ann.id).expect("linked");
    archive_out_of_the_feeds_sight(&mut w, &ann_rid);
    let report = sync_told_gone(&mut w, &[&ann_rid]);
    assert!(report.connections[0].error.is_none(), "{report:?}");
    let local = w.store.get_record(&ann.id).unwrap().unwrap();
    assert!(
        local.archived_at.is_none(),
        "ann is not archived on the event's word"
    );
}

#[test]
fn a_record_its_crm_said_is_gone_is_archived_when_a_read_by_id_finds_it_nowhere() {
    // The CRM erased the contact (here: archived, and the feed's cursor moved past it, so
    // no read of the feed shows it, as none shows an erased HubSpot contact). A change-feed
    // run told it is gone reads it by id, finds it neither live nor archived, and archives
    // the local record.
    let mut w = World::new(ConflictPolicy::LocalWins);
    let ann = new_local(&mut w, &[("first_name", "ann")]);
    let bob = new_local(&mut w, &[("first_name", "bob")]);
    w.sync();
    let (ann_rid, bob_rid) = (
        linked_remote(&w, &ann.id).expect("linked"),
        linked_remote(&w, &bob.id).expect("linked"),
    );
    archive_out_of_the_feeds_sight(&mut w, &ann_rid);
    // Bob is said to be gone too, but the CRM still has him: he is left as he is.
    let report = sync_told_gone(&mut w, &[&ann_rid, &bob_rid]);
    assert!(report.connections[0].error.is_none(), "{report:?}");
    let archived = |id: &RecordId| w.store.get_record(id).unwrap().unwrap().archived_at;
    assert!(archived(&ann.id).is_some(), "ann is archived");
    assert!(archived(&bob.id).is_none(), "bob is not");
    assert!(
        w.crm
            .all(ObjectKind::Contact)
            .iter()
            .any(|r| r.id == bob_rid && !r.archived),
        "bob lives on in the CRM"
    );
}
