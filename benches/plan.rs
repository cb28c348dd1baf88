//! The planner on 100,000 changed records: linked pairs changed on one side or both (with
//! conflicts under every policy), new records on either side and matched pairs. The target is
//! under one second in a release build.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use crmsync::engine::plan::{LinkState, MatchedBy, PlanInput, PlanItem, RemoteSide, plan};
use crmsync::mapping::{ConflictPolicy, Direction, FieldRule, OnDelete};
use crmsync::model::{Fields, ObjectKind, Record, RecordId};

/// Records in the benchmark.
pub const RECORDS: usize = 100_000;

fn rules() -> Vec<FieldRule> {
    let mut out = Vec::new();
    for (field, direction, policy) in [
        ("email", Direction::Both, ConflictPolicy::NewestWins),
        ("first_name", Direction::Both, ConflictPolicy::NewestWins),
        ("last_name", Direction::Both, ConflictPolicy::LocalWins),
        ("job_title", Direction::Both, ConflictPolicy::RemoteWins),
        ("company", Direction::Both, ConflictPolicy::Manual),
        ("phone", Direction::Both, ConflictPolicy::NewestWins),
        ("pronouns", Direction::ToCrm, ConflictPolicy::NewestWins),
        ("owner", Direction::FromCrm, ConflictPolicy::NewestWins),
        (
            "lifecycle_stage",
            Direction::Both,
            ConflictPolicy::NewestWins,
        ),
        ("warmness", Direction::Both, ConflictPolicy::NewestWins),
    ] {
        let ty = ObjectKind::Contact
            .field_type(field)
            .expect("standard field");
        let mut r = FieldRule::new(field, field, ty);
        r.direction = direction;
        r.policy = policy;
        out.push(r);
    }
    out
}

fn record_fields(i: usize) -> Fields {
    let mut f = Fields::new();
    f.insert("email".into(), format!("person{i}@example.com"));
    f.insert("first_name".into(), format!("First{i}"));
    f.insert("last_name".into(), format!("Last{i}"));
    f.insert("job_title".into(), "engineer".into());
    f.insert("company".into(), format!("Company {}", i % 997));
    f.insert("phone".into(), format!("+44 20 7946 {:04}", i % 10_000));
    f.insert("pronouns".into(), "they/them".into());
    f.insert("owner".into(), format!("{}", i % 17));
    f.insert("lifecycle_stage".into(), "lead".into());
    f.insert("warmness".into(), format!("{}", i % 5));
    f
}

fn local(i: usize, fields: Fields) -> Record {
    Record {
        id: RecordId(format!("01J{i:023}")),
        kind: ObjectKind::Contact,
        fields,
        updated_at: 1_000 + (i as i64 % 7),
        archived_at: None,
    }
}

fn remote(i: usize, fields: Fields) -> RemoteSide {
    RemoteSide {
        id: format!("{}", 9_000_000 + i),
        fields,
        updated_at: 1_000 + (i as i64 % 5),
        field_updated_at: BTreeMap::new(),
        archived: false,
        unreadable: Default::default(),
    }
}

/// The benchmark input: every record has something to do.
pub fn input() -> PlanInput {
    let mut items = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let base = record_fields(i);
        let mut l = base.clone();
        let mut r = base.clone();
        let item = match i % 8 {
            0 | 1 => {
                l.insert("first_name".into(), format!("Changed{i}"));
                linked(i, base, l, r)
            }
            2 | 3 => {
                r.insert("job_title".into(), "manager".into());
                r.remove("phone");
                linked(i, base, l, r)
            }
            4 => {
                for f in ["first_name", "last_name", "job_title", "company"] {
                    l.insert(f.into(), format!("local {i}"));
                    r.insert(f.into(), format!("remote {i}"));
                }
                linked(i, base, l, r)
            }
            5 => PlanItem {
                local: None,
                link: None,
                remote: Some(remote(i, r)),
                matched_by: None,
                may_create_remote: false,
                ..PlanItem::default()
            },
            6 => PlanItem {
                local: Some(local(i, l)),
                link: None,
                remote: None,
                matched_by: None,
                may_create_remote: true,
                ..PlanItem::default()
            },
            _ => {
                r.insert("lifecycle_stage".into(), "customer".into());
                PlanItem {
                    local: Some(local(i, l)),
                    link: None,
                    remote: Some(remote(i, r)),
                    matched_by: Some(MatchedBy::Key {
                        field: "email".into(),
                    }),
                    may_create_remote: true,
                    ..PlanItem::default()
                }
            }
        };
        items.push(item);
    }
    PlanInput {
        connection: "bench".into(),
        object: ObjectKind::Contact,
        rules: rules(),
        on_delete: OnDelete::Archive,
        items,
    }
}

fn linked(i: usize, base: Fields, l: Fields, r: Fields) -> PlanItem {
    let remote = remote(i, r);
    PlanItem {
        local: Some(local(i, l)),
        link: Some(LinkState {
            remote_id: remote.id.clone(),
            base,
            remote_updated_at: 900,
            archived: false,
        }),
        remote: Some(remote),
        matched_by: None,
        may_create_remote: false,
        ..PlanItem::default()
    }
}

/// CPU time of the calling thread, where the platform tells (Linux); on a shared machine it
/// says more than wall time.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Times `plan()` on [`RECORDS`] changed records; returns the figures as text.
pub fn run() -> String {
    let input = input();
    let mut best_wall = Duration::MAX;
    let mut best_cpu: Option<Duration> = None;
    let mut ops = 0;
    let mut conflicts = 0;
    for _ in 0..3 {
        let cpu = thread_cpu();
        let start = Instant::now();
        let p = plan(black_box(&input));
        best_wall = best_wall.min(start.elapsed());
        if let (Some(before), Some(after)) = (cpu, thread_cpu()) {
            let used = after.saturating_sub(before);
            best_cpu = Some(best_cpu.map_or(used, |b| b.min(used)));
        }
        ops = p.ops.len();
        conflicts = p.conflicts.len();
        black_box(p);
    }
    let cpu = best_cpu.map_or_else(String::new, |c| format!(", {:.1} ms cpu", ms(c)));
    format!(
        "plan: {RECORDS} changed records -> {ops} ops, {conflicts} conflicts in {:.1} ms wall{cpu} (best of 3; target < 1000 ms)",
        ms(best_wall)
    )
}
