use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, OpenFlags};

use super::open::{PAGE_SIZE, SQLITE_MAGIC};
use super::*;
use crate::clock::FixedClock;
use crate::model::{Fields, Millis, ObjectKind, Record, RecordId};

const T0: Millis = 1_700_000_000_000;

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    (dir, path)
}

fn open(path: &Path) -> Store {
    let mut s = Store::open(path).unwrap();
    s.set_clock(Arc::new(FixedClock::new(T0)));
    s
}

fn id(n: u32) -> RecordId {
    RecordId(format!("01HZY{n:021}"))
}

fn rec(n: u32, kind: ObjectKind, fields: &[(&str, &str)]) -> Record {
    Record {
        id: id(n),
        kind,
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        updated_at: T0,
        archived_at: None,
    }
}

fn contact(n: u32, email: &str) -> Record {
    rec(
        n,
        ObjectKind::Contact,
        &[("email", email), ("first_name", "Ann")],
    )
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const IMPORT: WriteOrigin = WriteOrigin::Import { run: 1 };

fn audit_count(s: &Store) -> i64 {
    s.conn
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap()
}

fn link(conn: &str, n: u32, remote: &str, base: Fields) -> Link {
    Link {
        connection: conn.into(),
        kind: ObjectKind::Contact,
        local_id: id(n),
        remote_id: remote.into(),
        base,
        remote_updated_at: Some(T0),
        synced_at: T0,
        retired: false,
    }
}

fn journal(conn: &str, n: u32, op: WriteOp, remote: Option<&str>) -> JournalEntry {
    JournalEntry {
        run: 7,
        connection: conn.into(),
        kind: ObjectKind::Contact,
        op,
        local_id: id(n),
        remote_id: remote.map(String::from),
        props: [("email".to_string(), "a@x.io".to_string())].into(),
        set_external_id: false,
        created_at: T0,
    }
}

// ---- opening ---------------------------------------------------------------------------

fn page_size(s: &Store) -> i64 {
    s.conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn open_creates_a_private_wal_file_in_a_new_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/state.db");
    let s = Store::open(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mode: String = s
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = s
        .conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let sync: i64 = s
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 1, "synchronous=NORMAL");
    assert_eq!(s.schema_version().unwrap(), LATEST_VERSION);
    assert_eq!(page_size(&s), PAGE_SIZE);
    drop(s);
    // Reopening an existing file works and keeps the version.
    assert_eq!(
        Store::open(&path).unwrap().schema_version().unwrap(),
        LATEST_VERSION
    );
}

fn assert_refused_untouched(path: &Path, bytes: &[u8]) -> StoreError {
    let err = Store::open(path).unwrap_err();
    assert_eq!(std::fs::read(path).unwrap(), bytes, "file was modified");
    err
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let (_dir, path) = temp();
    let bytes = b"name,email\nAnn,ann@example.com\n".repeat(200);
    std::fs::write(&path, &bytes).unwrap();
    let err = assert_refused_untouched(&path, &bytes);
    assert!(matches!(err, StoreError::NotAStateFile { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("`{}`", path.display())), "{msg}");
    assert!(msg.contains("--state"), "{msg}");
}

#[test]
fn a_damaged_sqlite_file_is_refused_and_left_untouched() {
    let (_dir, path) = temp();
    let mut bytes = SQLITE_MAGIC.to_vec();
    bytes.extend((0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    std::fs::write(&path, &bytes).unwrap();
    let err = assert_refused_untouched(&path, &bytes);
    assert!(matches!(err, StoreError::NotAStateFile { .. }), "{err:?}");
    assert!(!lock::lock_path(&path).exists());
}

#[test]
fn another_programs_sqlite_file_is_refused_and_left_untouched() {
    let (_dir, path) = temp();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES ('keep me');")
            .unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    let err = assert_refused_untouched(&path, &bytes);
    assert!(matches!(err, StoreError::NotAStateFile { .. }), "{err:?}");
}

#[test]
fn a_file_from_a_newer_crmsync_is_refused_and_left_untouched() {
    let (_dir, path) = temp();
    drop(open(&path));
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", LATEST_VERSION + 7)
            .unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    let err = assert_refused_untouched(&path, &bytes);
    let msg = err.to_string();
    assert!(matches!(err, StoreError::TooNew { .. }), "{err:?}");
    assert!(msg.contains(&(LATEST_VERSION + 7).to_string()), "{msg}");
    assert!(msg.contains(&LATEST_VERSION.to_string()), "{msg}");
    assert!(msg.contains("upgrade crmsync"), "{msg}");
    let err = Store::open_read_only(&path).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn read_only_open_needs_an_existing_current_file() {
    let (_dir, path) = temp();
    let err = Store::open_read_only(&path).unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }), "{err:?}");
    assert!(!path.exists(), "a read-only open must not create the file");
    let mut s = open(&path);
    s.save_records(&[contact(1, "a@x.io")], &IMPORT).unwrap();
    drop(s);
    let ro = Store::open_read_only(&path).unwrap();
    assert_eq!(
        ro.get_record(&id(1)).unwrap().unwrap().get("email"),
        Some("a@x.io")
    );
}

// ---- migrations ------------------------------------------------------------------------

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1.db")
}

/// Rebuilds `tests/fixtures/state-v1.db`: a state file at schema version 1 holding three
/// records and two links. Run with
/// `cargo test --lib store::tests::generate_v1_fixture -- --ignored`; commit the result.
#[test]
#[ignore = "writes tests/fixtures/state-v1.db"]
fn generate_v1_fixture() {
    let path = fixture_path();
    let _ = std::fs::remove_file(&path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(&path).unwrap();
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    schema::migrate_to(&mut conn, &path, 1).unwrap();
    let mut s = store_at_version(conn, &path);
    s.upsert_link(&link(
        "acme",
        1,
        "hs-1",
        fields(&[("email", "ann@example.com")]),
    ))
    .unwrap();
    s.upsert_link(&Link {
        kind: ObjectKind::Company,
        local_id: id(3),
        ..link("acme", 3, "hs-c-3", fields(&[("domain", "example.com")]))
    })
    .unwrap();
    assert_eq!(s.schema_version().unwrap(), 1);
    s.conn.execute_batch("VACUUM").unwrap();
}

fn v1_fixture_records() -> Vec<Record> {
    let mut archived = contact(2, "bob@example.com");
    archived.archived_at = Some(T0 + 5);
    vec![
        contact(1, "ann@example.com"),
        archived,
        rec(
            3,
            ObjectKind::Company,
            &[("name", "Example"), ("domain", "example.com")],
        ),
    ]
}

#[test]
fn a_v1_state_file_is_migrated_and_keeps_every_record() {
    let (_dir, path) = temp();
    std::fs::copy(fixture_path(), &path).unwrap();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1, "the fixture must stay at schema version 1");
    }
    let fixture_page_size = {
        let header = std::fs::read(&path).unwrap();
        i64::from(u16::from_be_bytes([header[16], header[17]]))
    };
    let mut s = open(&path);
    assert_eq!(s.schema_version().unwrap(), LATEST_VERSION);
    // A file keeps the page size it was made with (the fixture's is SQLite's default).
    assert_eq!(page_size(&s), fixture_page_size);
    for want in v1_fixture_records() {
        assert_eq!(s.get_record(&want.id).unwrap().as_ref(), Some(&want));
    }
    assert_eq!(s.max_seq().unwrap(), 3);
    let links = s
        .links_by_local_ids("acme", ObjectKind::Contact, &[id(1)])
        .unwrap();
    assert_eq!(links[&id(1)].remote_id, "hs-1");
    assert_eq!(s.count_links("acme", ObjectKind::Company).unwrap(), 1);
    // The tables added by later migrations work.
    assert!(s.try_acquire_lease("token:acme", "p1", T0, 1000).unwrap());
    let found = s
        .find_by_field(ObjectKind::Company, "domain", &["example.com".into()])
        .unwrap();
    assert_eq!(found["example.com"].id, id(3));
    // Conflicts (version 4) keep a decision.
    let cid = s
        .upsert_conflict(&new_conflict(1, "phone", "1", "2", T0))
        .unwrap();
    assert_eq!(
        s.get_conflict(cid).unwrap().unwrap().decision,
        Some(held(T0))
    );
}

/// A store over `conn`, a file migrated only to an older version (so not through
/// [`Store::open`]), holding the v1 fixture's records.
fn store_at_version(conn: rusqlite::Connection, path: &Path) -> Store {
    let mut s = Store {
        conn,
        path: path.to_path_buf(),
        clock: Arc::new(FixedClock::new(T0)),
        checkpointer: None,
        indexes_aside: std::cell::Cell::new(false),
        backups: Default::default(),
    };
    s.save_records(&v1_fixture_records(), &IMPORT).unwrap();
    s
}

/// A state file at version 3 as the previous build wrote it, with an open and a resolved
/// conflict (the columns of version 1, written with that build's SQL).
fn write_v3_file(path: &Path) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    schema::migrate_to(&mut conn, path, 3).unwrap();
    let s = store_at_version(conn, path);
    s.conn
        .execute_batch(&format!(
            "INSERT INTO conflicts(connection, kind, local_id, field, base, local, remote,
                                   detected_at)
             VALUES ('acme', 'contact', '{a}', 'phone', '1', '2', '3', {T0});
             INSERT INTO conflicts(connection, kind, local_id, field, base, local, remote,
                                   detected_at, resolved_at, resolution, resolved_by)
             VALUES ('acme', 'contact', '{a}', 'job_title', 'Dev', 'Lead', 'CTO', {T0},
                     {T1}, 'CTO', 'newest-wins');",
            a = id(1),
            T1 = T0 + 1
        ))
        .unwrap();
    assert_eq!(s.schema_version().unwrap(), 3);
}

#[test]
fn a_v3_state_file_is_migrated_with_its_conflicts_not_recorded() {
    let (_dir, path) = temp();
    write_v3_file(&path);
    let mut s = open(&path);
    assert_eq!(s.schema_version().unwrap(), LATEST_VERSION);
    let all = s
        .list_conflicts(&ConflictFilter {
            local_id: Some(id(1)),
            ..ConflictFilter::default()
        })
        .unwrap();
    let kept: Vec<_> = all
        .iter()
        .map(|c| {
            (
                c.field.as_str(),
                c.local.as_deref(),
                c.remote.as_deref(),
                c.resolved_by.as_deref(),
                c.decision.clone(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        vec![
            ("phone", Some("2"), Some("3"), None, None),
            (
                "job_title",
                Some("Lead"),
                Some("CTO"),
                Some("newest-wins"),
                None
            ),
        ]
    );
    // The open one is still the field's one open conflict: a sync meeting it again updates
    // it, with its decision.
    let open = s.list_open_conflicts(&ConflictFilter::default()).unwrap();
    assert_eq!(open.len(), 1);
    let again = s
        .upsert_conflict(&NewConflict {
            base: Some("1".into()),
            ..new_conflict(1, "phone", "2", "4", T0 + 5)
        })
        .unwrap();
    assert_eq!(again, open[0].id);
    let c = s.get_conflict(again).unwrap().unwrap();
    assert_eq!(c.remote.as_deref(), Some("4"));
    assert_eq!(c.decision, Some(held(T0 + 5)));
}

/// The activities and deals of a state file at version 12, the version before activities
/// were found by contact (`V13_ACTIVITIES_BY_CONTACT`): two activities of contact 1, one of
/// contact 10, and a deal of contact 1 and company 3, linked to HubSpot.
fn v12_activities_and_deals() -> Vec<Record> {
    vec![
        contact(10, "zed@example.com"),
        rec(
            20,
            ObjectKind::Activity,
            &[
                ("type", "call"),
                ("subject", "Intro"),
                ("contact_id", &id(1).0),
            ],
        ),
        rec(
            21,
            ObjectKind::Activity,
            &[
                ("type", "note"),
                ("subject", "Zed's note"),
                ("contact_id", &id(10).0),
            ],
        ),
        rec(
            22,
            ObjectKind::Activity,
            &[
                ("type", "task"),
                ("subject", "Quote"),
                ("contact_id", &id(1).0),
            ],
        ),
        rec(
            30,
            ObjectKind::Deal,
            &[
                ("name", "Renewal"),
                ("stage", "Contract Sent"),
                ("pipeline", "default"),
                ("amount", "1200.5"),
                ("contact_id", &id(1).0),
                ("company_id", &id(3).0),
            ],
        ),
    ]
}

#[test]
fn a_v12_state_file_with_activities_and_deals_is_migrated_and_finds_a_contacts_activities() {
    let (_dir, path) = temp();
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        schema::migrate_to(&mut conn, &path, 12).unwrap();
        let mut s = store_at_version(conn, &path);
        s.save_records(&v12_activities_and_deals(), &IMPORT)
            .unwrap();
        s.upsert_link(&Link {
            kind: ObjectKind::Deal,
            local_id: id(30),
            ..link("acme", 30, "9001", fields(&[("name", "Renewal")]))
        })
        .unwrap();
        assert_eq!(s.schema_version().unwrap(), 12);
    }
    let s = open(&path);
    assert_eq!(s.schema_version().unwrap(), LATEST_VERSION);
    // Every record as it was, the fixture's and the activities and deals.
    for want in v1_fixture_records()
        .into_iter()
        .chain(v12_activities_and_deals())
    {
        assert_eq!(s.get_record(&want.id).unwrap().as_ref(), Some(&want));
    }
    assert_eq!(s.count_records(ObjectKind::Deal, false).unwrap(), 1);
    assert_eq!(s.count_records(ObjectKind::Activity, false).unwrap(), 3);
    let links = s
        .links_by_local_ids("acme", ObjectKind::Deal, &[id(30)])
        .unwrap();
    assert_eq!(links[&id(30)].remote_id, "9001");
    // A contact's activities, oldest first, through the index the migration made.
    let of_ann: Vec<RecordId> = s
        .records_with_field(ObjectKind::Activity, "contact_id", &id(1).0)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(of_ann, [id(20), id(22)]);
    let plan: Vec<String> = {
        let mut stmt = s
            .conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT id FROM records WHERE kind = 'activity'
                 AND json_extract(fields, '$.contact_id') = ?1",
            )
            .unwrap();
        stmt.query_map([id(1).0], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(
        plan.iter().any(|p| p.contains("records_activity_contact")),
        "{plan:?}"
    );
    // A deal is found by its company like any record by a field.
    let by_company = s
        .records_with_field(ObjectKind::Deal, "company_id", &id(3).0)
        .unwrap();
    assert_eq!(by_company.len(), 1);
    assert_eq!(by_company[0].get("stage"), Some("Contract Sent"));
}

// ---- run lock --------------------------------------------------------------------------

#[test]
fn a_held_run_lock_is_refused_with_the_holders_pid() {
    let (_dir, path) = temp();
    let first = RunLock::acquire(&path).unwrap();
    assert_eq!(first.took_over_from, None);
    let text = std::fs::read_to_string(first.path()).unwrap();
    assert_eq!(text.trim(), std::process::id().to_string());
    let err = RunLock::acquire(&path).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    assert!(msg.contains(&format!("`{}`", path.display())), "{msg}");
    assert!(msg.contains("wait"), "{msg}");
    drop(first);
    // A clean release leaves nothing to take over.
    let again = RunLock::acquire(&path).unwrap();
    assert_eq!(again.took_over_from, None);
}

#[test]
fn a_run_lock_held_by_the_listener_is_waited_for_and_the_listener_sees_the_waiter() {
    let (_dir, path) = temp();
    // The listener (here this process, as its listen lock file names it) holds the run lock
    // for a batch.
    let batch = RunLock::acquire(&path).unwrap();
    std::fs::write(
        lock::listen_lock_path(&path),
        format!("{} 127.0.0.1:8787\n", std::process::id()),
    )
    .unwrap();
    assert!(
        !crate::store::others_waiting(&path).unwrap(),
        "nobody waits yet"
    );
    let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let waiter = {
        let (path, told) = (path.clone(), told.clone());
        std::thread::spawn(move || {
            RunLock::acquire_noting(&path, &|pid| told.lock().unwrap().push(pid)).map(drop)
        })
    };
    // The command waits, in the queue the listener looks at before its next batch.
    while !crate::store::others_waiting(&path).unwrap() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!waiter.is_finished());
    drop(batch);
    waiter
        .join()
        .unwrap()
        .expect("the lock, once the batch let it go");
    assert_eq!(*told.lock().unwrap(), vec![std::process::id()], "told once");
    assert!(
        !crate::store::others_waiting(&path).unwrap(),
        "its place is given up"
    );
}

#[test]
fn a_run_lock_being_let_go_its_pid_already_emptied_is_waited_for_a_moment() {
    let (_dir, path) = temp();
    // A holder letting the lock go empties its file just before it unlocks.
    let held = RunLock::acquire(&path).unwrap();
    std::fs::write(lock::lock_path(&path), "").unwrap();
    let waiter = {
        let path = path.clone();
        std::thread::spawn(move || RunLock::acquire(&path).map(drop))
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    drop(held);
    waiter
        .join()
        .unwrap()
        .expect("the lock, once let go, not `pid unknown`");
}

#[test]
fn a_lock_left_by_a_dead_process_is_taken_over() {
    let (_dir, path) = temp();
    std::fs::write(lock::lock_path(&path), "4194999\n").unwrap();
    let lock = RunLock::acquire(&path).unwrap();
    assert_eq!(lock.took_over_from, Some(4_194_999));
    let text = std::fs::read_to_string(lock.path()).unwrap();
    assert_eq!(text.trim(), std::process::id().to_string());
}

// ---- records ---------------------------------------------------------------------------

#[test]
fn saving_unchanged_records_bumps_nothing() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    let recs = vec![
        contact(1, "a@x.io"),
        contact(2, "b@x.io"),
        contact(3, "c@x.io"),
    ];
    assert_eq!(s.save_records_counted(&recs, &IMPORT).unwrap(), 3);
    assert_eq!(s.max_seq().unwrap(), 3);
    assert_eq!(audit_count(&s), 0, "creations are kept on the record rows");
    assert_eq!(s.save_records_counted(&recs, &IMPORT).unwrap(), 0);
    assert_eq!(s.max_seq().unwrap(), 3);
    assert_eq!(audit_count(&s), 0);
    assert!(
        s.records_changed_since(ObjectKind::Contact, 3, 10)
            .unwrap()
            .is_empty()
    );

    let mut changed = recs[1].clone();
    changed.fields.insert("first_name".into(), "Bea".into());
    changed.fields.insert("job_title".into(), "CTO".into());
    let pull = WriteOrigin::Pull {
        run: 2,
        connection: "acme".into(),
    };
    s.save_records(&[changed.clone()], &pull).unwrap();
    assert_eq!(s.max_seq().unwrap(), 4);
    let trail = s.audit_for_record(&id(2), None, 10).unwrap();
    assert_eq!(trail.len(), 3, "two changes and the creation: {trail:?}");
    assert_eq!(trail[2].field, CREATED_FIELD);
    assert_eq!(trail[2].run, Some(1));
    let first_name = s.last_writer(&id(2), "first_name").unwrap().unwrap();
    assert_eq!(first_name.old.as_deref(), Some("Ann"));
    assert_eq!(first_name.new.as_deref(), Some("Bea"));
    assert_eq!(first_name.cause, AuditCause::Pull);
    assert_eq!(first_name.connection.as_deref(), Some("acme"));
    assert_eq!(first_name.side, LOCAL_SIDE);
    assert_eq!(first_name.at, T0);
    let title = s.audit_for_record(&id(2), Some("job_title"), 10).unwrap();
    assert_eq!(
        (title[0].old.as_deref(), title[0].new.as_deref()),
        (None, Some("CTO"))
    );
    // A field never changed since creation was last written by the import.
    let email = s.last_writer(&id(2), "email").unwrap().unwrap();
    assert_eq!(
        (email.field.as_str(), email.cause),
        (CREATED_FIELD, AuditCause::Import)
    );

    let mut archived = changed;
    archived.archived_at = Some(T0 + 1);
    s.save_records(&[archived], &WriteOrigin::User).unwrap();
    assert_eq!(s.max_seq().unwrap(), 5);
    let arch = s.last_writer(&id(2), "archived_at").unwrap().unwrap();
    assert_eq!(arch.new, Some((T0 + 1).to_string()));
}

#[test]
fn saving_a_record_as_another_kind_is_refused() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    s.save_records(&[contact(1, "a@x.io")], &IMPORT).unwrap();
    let err = s
        .save_records(&[rec(1, ObjectKind::Company, &[("name", "X")])], &IMPORT)
        .unwrap_err();
    assert!(err.to_string().contains("contact"), "{err}");
    assert_eq!(
        s.get_record(&id(1)).unwrap().unwrap().kind,
        ObjectKind::Contact
    );
}

#[test]
fn a_large_batch_with_stored_and_repeated_ids_keeps_change_numbers_dense_and_in_order() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    // Record 5 is stored before; the batch of 70 (more than one multi-row insert) changes it,
    // brings record 40 twice with a change the second time, and repeats record 3 unchanged.
    s.save_records(&[contact(5, "old@x.io")], &IMPORT).unwrap();
    let mut batch: Vec<Record> = (1..=66).map(|n| contact(n, &format!("{n}@x.io"))).collect();
    batch.insert(40, contact(40, "40-again@x.io"));
    batch.push(contact(3, "3@x.io"));
    batch.push(contact(67, "67@x.io"));
    batch.push(contact(68, "68@x.io"));
    assert_eq!(batch.len(), 70);
    let changed = s.save_records_counted(&batch, &IMPORT).unwrap();
    assert_eq!(
        changed, 69,
        "66 (record 5 changed), 40 again, 67 and 68; 3 is unchanged"
    );
    assert_eq!(s.max_seq().unwrap(), 1 + 69);
    let order: Vec<(i64, RecordId)> = s
        .records_changed_since(ObjectKind::Contact, 0, 100)
        .unwrap()
        .into_iter()
        .map(|(q, r)| (q, r.id))
        .collect();
    // Change numbers follow the batch's order with none skipped: record 40 took 41, then
    // 42 with its second save, which is where it is now.
    let want: Vec<(i64, RecordId)> = (2..=40).chain(42..=70).zip((1..=68).map(id)).collect();
    assert_eq!(order, want);
    let get = |n| s.get_record(&id(n)).unwrap().unwrap();
    assert_eq!(get(5).get("email"), Some("5@x.io"));
    assert_eq!(get(40).get("email"), Some("40-again@x.io"));
    // The stored record's change is audited; the new ones' creation is kept on their rows.
    assert_eq!(
        audit_count(&s),
        2,
        "record 5's email, and record 40's second email"
    );
    assert_eq!(
        s.find_by_field(ObjectKind::Contact, "email", &["old@x.io".into()])
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn changes_come_back_in_change_order_per_kind() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    s.save_records(&[contact(3, "c@x.io"), contact(1, "a@x.io")], &IMPORT)
        .unwrap();
    s.save_records(&[rec(9, ObjectKind::Company, &[("name", "X")])], &IMPORT)
        .unwrap();
    s.save_records(&[contact(2, "b@x.io"), contact(3, "c2@x.io")], &IMPORT)
        .unwrap();
    let all = s
        .records_changed_since(ObjectKind::Contact, 0, 100)
        .unwrap();
    let order: Vec<(i64, RecordId)> = all.into_iter().map(|(q, r)| (q, r.id)).collect();
    assert_eq!(order, vec![(2, id(1)), (4, id(2)), (5, id(3))]);
    let page = s.records_changed_since(ObjectKind::Contact, 2, 1).unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].1.id, id(2));
    let companies = s
        .records_changed_since(ObjectKind::Company, 0, 100)
        .unwrap();
    assert_eq!(companies.len(), 1);
    assert_eq!(companies[0].0, 3);
}

#[test]
fn match_keys_find_active_records_only() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    let mut gone = contact(2, "b@x.io");
    gone.archived_at = Some(T0);
    s.save_records(
        &[
            contact(1, "a@x.io"),
            gone,
            contact(3, "a@x.io"),
            rec(4, ObjectKind::Company, &[("domain", "x.io"), ("name", "X")]),
        ],
        &IMPORT,
    )
    .unwrap();
    let found = s
        .find_by_field(
            ObjectKind::Contact,
            "email",
            &["a@x.io".into(), "b@x.io".into(), "z@x.io".into()],
        )
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found["a@x.io"].id, id(1), "the oldest of duplicates");
    let by_domain = s
        .find_by_field(ObjectKind::Company, "domain", &["x.io".into()])
        .unwrap();
    assert_eq!(by_domain["x.io"].id, id(4));
    let by_name = s
        .find_by_field(ObjectKind::Contact, "first_name", &["Ann".into()])
        .unwrap();
    assert_eq!(by_name["Ann"].id, id(1));
    // A contact email is not a company domain.
    assert!(
        s.find_by_field(ObjectKind::Company, "email", &["a@x.io".into()])
            .unwrap()
            .is_empty()
    );
}

#[test]
fn for_each_record_walks_in_id_order() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    let mut gone = contact(2, "b@x.io");
    gone.archived_at = Some(T0);
    s.save_records(&[contact(3, "c@x.io"), gone, contact(1, "a@x.io")], &IMPORT)
        .unwrap();
    let mut seen = Vec::new();
    s.for_each_record(ObjectKind::Contact, false, &mut |r| {
        seen.push(r.id);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, vec![id(1), id(3)]);
    seen.clear();
    s.for_each_record(ObjectKind::Contact, true, &mut |r| {
        seen.push(r.id);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, vec![id(1), id(2), id(3)]);
    let got = s.get_records(&[id(3), id(8)]).unwrap();
    assert_eq!(got.len(), 1);
}

// ---- links and cursors -----------------------------------------------------------------

#[test]
fn links_are_unique_per_record_and_per_remote_id() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    s.save_records(&[contact(1, "a@x.io"), contact(2, "b@x.io")], &IMPORT)
        .unwrap();
    s.upsert_link(&link("acme", 1, "r1", fields(&[("email", "a@x.io")])))
        .unwrap();
    let err = s
        .upsert_link(&link("acme", 2, "r1", Fields::new()))
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    // The same remote id in another connection is fine.
    s.upsert_link(&link("other", 2, "r1", Fields::new()))
        .unwrap();
    // Re-linking a record replaces its link.
    s.upsert_link(&link("acme", 1, "r1b", Fields::new()))
        .unwrap();
    assert_eq!(s.count_links("acme", ObjectKind::Contact).unwrap(), 1);
    let by_remote = s
        .links_by_remote_ids("acme", ObjectKind::Contact, &["r1".into(), "r1b".into()])
        .unwrap();
    assert_eq!(by_remote.len(), 1);
    assert_eq!(by_remote["r1b"].local_id, id(1));
    assert_eq!(s.links_of_record(&id(2)).unwrap().len(), 1);
    // A link to a record that does not exist is refused by the foreign key.
    assert!(
        s.upsert_link(&link("acme", 99, "r99", Fields::new()))
            .is_err()
    );
    assert!(s.remove_link("acme", ObjectKind::Contact, &id(1)).unwrap());
    assert!(!s.remove_link("acme", ObjectKind::Contact, &id(1)).unwrap());
    assert_eq!(s.count_links("acme", ObjectKind::Contact).unwrap(), 0);
}

#[test]
fn cursors_are_kept_per_connection_and_kind() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    assert_eq!(s.remote_cursor("acme", ObjectKind::Contact).unwrap(), None);
    assert_eq!(s.local_cursor("acme", ObjectKind::Contact).unwrap(), 0);
    s.set_remote_cursor("acme", ObjectKind::Contact, Some("c-1"))
        .unwrap();
    s.set_local_cursor("acme", ObjectKind::Contact, 42).unwrap();
    s.set_local_cursor("acme", ObjectKind::Company, 7).unwrap();
    assert_eq!(
        s.remote_cursor("acme", ObjectKind::Contact)
            .unwrap()
            .as_deref(),
        Some("c-1")
    );
    assert_eq!(s.local_cursor("acme", ObjectKind::Contact).unwrap(), 42);
    assert_eq!(s.remote_cursor("acme", ObjectKind::Company).unwrap(), None);
    assert_eq!(s.local_cursor("other", ObjectKind::Contact).unwrap(), 0);
    s.reset_cursors("acme").unwrap();
    assert_eq!(s.local_cursor("acme", ObjectKind::Contact).unwrap(), 0);
}

// ---- journal, failures -----------------------------------------------------------------

#[test]
fn a_committed_write_updates_link_failure_record_and_audit_together() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    s.save_records(&[contact(1, "a@x.io")], &IMPORT).unwrap();
    s.record_failure(
        "acme",
        ObjectKind::Contact,
        &id(1),
        None,
        WriteOp::Create,
        &WriteFailure {
            message: "timeout".into(),
            code: None,
            at: T0,
            permanent: None,
        },
    )
    .unwrap();
    let ids = s
        .journal_add(&[journal("acme", 1, WriteOp::Create, None)])
        .unwrap();
    let pending = s.journal_pending("acme").unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, ids[0]);
    assert_eq!(pending[0].entry, journal("acme", 1, WriteOp::Create, None));
    assert!(s.journal_pending("other").unwrap().is_empty());

    // An update that also stamps the external id keeps that flag across a restart.
    let mut stamp = journal("acme", 2, WriteOp::Update, Some("hs-2"));
    stamp.set_external_id = true;
    let stamp_id = s.journal_add(std::slice::from_ref(&stamp)).unwrap()[0];
    let again = s.journal_pending("acme").unwrap();
    assert_eq!(again.len(), 2);
    assert_eq!((again[1].id, &again[1].entry), (stamp_id, &stamp));
    s.journal_discard(stamp_id).unwrap();

    let mut archived = contact(1, "a@x.io");
    archived.archived_at = Some(T0 + 9);
    let before = s.max_seq().unwrap();
    s.commit_write(
        ids[0],
        &WriteOutcome {
            remote_id: "hs-1".into(),
            base: fields(&[("email", "a@x.io"), ("first_name", "Ann")]),
            remote_updated_at: Some(T0 + 8),
            at: T0 + 9,
            record: Some(archived),
            retired: false,
        },
    )
    .unwrap();
    assert!(s.journal_pending("acme").unwrap().is_empty());
    let l = &s
        .links_by_local_ids("acme", ObjectKind::Contact, &[id(1)])
        .unwrap()[&id(1)];
    assert_eq!(l.remote_id, "hs-1");
    assert_eq!(l.base.get("first_name").map(String::as_str), Some("Ann"));
    assert_eq!(l.remote_updated_at, Some(T0 + 8));
    assert!(s.list_failures(None).unwrap().is_empty());
    assert_eq!(
        s.get_record(&id(1)).unwrap().unwrap().archived_at,
        Some(T0 + 9)
    );
    assert_eq!(s.max_seq().unwrap(), before + 1);
    let pushed = s.last_writer(&id(1), "first_name").unwrap().unwrap();
    assert_eq!(
        (pushed.side.as_str(), pushed.cause),
        ("acme", AuditCause::Push)
    );
    assert_eq!(pushed.run, Some(7));
    // Committing the same entry twice is refused.
    assert!(
        s.commit_write(
            ids[0],
            &WriteOutcome {
                remote_id: "hs-1".into(),
                base: Fields::new(),
                remote_updated_at: None,
                at: T0,
                record: None,
                retired: false,
            }
        )
        .is_err()
    );
}

#[test]
fn a_commit_that_cannot_complete_leaves_the_journal_entry() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    s.save_records(&[contact(1, "a@x.io"), contact(2, "b@x.io")], &IMPORT)
        .unwrap();
    s.upsert_link(&link("acme", 2, "hs-taken", Fields::new()))
        .unwrap();
    let ids = s
        .journal_add(&[journal("acme", 1, WriteOp::Create, None)])
        .unwrap();
    let audit_before = audit_count(&s);
    let err = s
        .commit_write(
            ids[0],
            &WriteOutcome {
                remote_id: "hs-taken".into(),
                base: fields(&[("email", "a@x.io")]),
                remote_updated_at: None,
                at: T0,
                record: None,
                retired: false,
            },
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    assert_eq!(s.journal_pending("acme").unwrap().len(), 1, "rolled back");
    assert_eq!(audit_count(&s), audit_before);
}

#[test]
fn failed_writes_are_counted_and_requeued() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    s.save_records(&[contact(1, "a@x.io"), contact(2, "b@x.io")], &IMPORT)
        .unwrap();
    let fail = |at| WriteFailure {
        message: "property `email` is invalid".into(),
        code: Some("VALIDATION_ERROR".into()),
        at,
        permanent: None,
    };
    for at in [T0, T0 + 1] {
        let ids = s
            .journal_add(&[journal("acme", 1, WriteOp::Update, Some("r1"))])
            .unwrap();
        s.fail_write(ids[0], &fail(at)).unwrap();
    }
    let ids = s
        .journal_add(&[journal("other", 2, WriteOp::Create, None)])
        .unwrap();
    s.fail_write(ids[0], &fail(T0)).unwrap();
    assert!(s.journal_pending("acme").unwrap().is_empty());
    let f = s.list_failures(Some("acme")).unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].attempts, f[0].first_at, f[0].last_at),
        (2, T0, T0 + 1)
    );
    assert_eq!(f[0].remote_id.as_deref(), Some("r1"));
    assert_eq!(f[0].code.as_deref(), Some("VALIDATION_ERROR"));
    assert_eq!(s.list_failures(None).unwrap().len(), 2);
    assert_eq!(s.failures_of_record(&id(2)).unwrap()[0].connection, "other");

    let seq = s.max_seq().unwrap();
    assert_eq!(s.requeue_failures(Some("acme")).unwrap(), 1);
    assert_eq!(s.max_seq().unwrap(), seq + 1);
    let again = s
        .records_changed_since(ObjectKind::Contact, seq, 10)
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1.id, id(1));
    assert!(s.list_failures(Some("acme")).unwrap().is_empty());
    assert_eq!(
        s.list_failures(None).unwrap().len(),
        1,
        "other connection kept"
    );
    // A re-queued record that fails again counts on: its third attempt, first failed at T0.
    assert_eq!(
        s.requeue_failures(Some("acme")).unwrap(),
        0,
        "nothing left to re-queue"
    );
    let ids = s
        .journal_add(&[journal("acme", 1, WriteOp::Update, Some("r1"))])
        .unwrap();
    s.fail_write(ids[0], &fail(T0 + 5)).unwrap();
    let f = s.list_failures(Some("acme")).unwrap();
    assert_eq!(
        (f[0].attempts, f[0].first_at, f[0].last_at),
        (3, T0, T0 + 5)
    );
}

// ---- conflicts, runs -------------------------------------------------------------------

/// A conflict of contact `n` for `acme`, from local `local` and remote `remote`, with no base.
fn new_conflict(n: u32, field: &str, local: &str, remote: &str, at: Millis) -> NewConflict {
    NewConflict {
        connection: "acme".into(),
        kind: ObjectKind::Contact,
        local_id: id(n),
        field: field.into(),
        base: None,
        local: Some(local.into()),
        remote: Some(remote.into()),
        detected_at: at,
        decision: held(at),
    }
}

/// A `manual` conflict's decision met by run 1, both times known only per record.
pub(super) fn held(at: Millis) -> ConflictDecision {
    ConflictDecision {
        run: Some(1),
        policy: "manual".into(),
        outcome: "held".into(),
        local_updated_at: at,
        local_time_source: "record".into(),
        remote_updated_at: at,
        remote_time_source: "record".into(),
    }
}

#[test]
fn a_conflicts_decision_is_saved_replaced_while_open_and_kept_once_resolved() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    s.save_records(&[contact(1, "a@x.io")], &IMPORT).unwrap();
    let decided = ConflictDecision {
        run: Some(7),
        policy: "newest-wins".into(),
        outcome: "remote".into(),
        local_updated_at: T0 + 200,
        local_time_source: "field".into(),
        remote_updated_at: T0 + 300,
        remote_time_source: "record".into(),
    };
    let new = |decision: ConflictDecision| NewConflict {
        connection: "acme".into(),
        kind: ObjectKind::Contact,
        local_id: id(1),
        field: "last_name".into(),
        base: Some("Lee".into()),
        local: Some("Local".into()),
        remote: Some("Remote".into()),
        detected_at: T0,
        decision,
    };
    // Met as `manual` first, then seen again by a later run under `newest-wins`: the open
    // row takes the latest decision.
    let id1 = s.upsert_conflict(&new(held(T0))).unwrap();
    // Held again with the same values (the run's push after its pull, whose record times are
    // those of crmsync's own writes): the first decision, with its times, is kept.
    let mut later = held(T0 + 50);
    later.run = Some(2);
    assert_eq!(s.upsert_conflict(&new(later)).unwrap(), id1);
    let open = s.list_open_conflicts(&ConflictFilter::default()).unwrap();
    assert_eq!(open[0].decision, Some(held(T0)));
    let again = s.upsert_conflict(&new(decided.clone())).unwrap();
    assert_eq!(id1, again);
    let open = s.list_open_conflicts(&ConflictFilter::default()).unwrap();
    assert_eq!(open[0].decision.as_ref(), Some(&decided));

    let done = s
        .resolve_conflict(id1, Some("Remote"), "newest-wins", T0 + 9)
        .unwrap();
    assert_eq!(done.decision.as_ref(), Some(&decided), "kept once resolved");
    // A new conflict of the same field is a new row; the history keeps both, oldest first.
    let id2 = s.upsert_conflict(&new(held(T0 + 20))).unwrap();
    assert_ne!(id1, id2);
    let history = s
        .list_conflicts(&ConflictFilter {
            local_id: Some(id(1)),
            field: Some("last_name".into()),
            ..ConflictFilter::default()
        })
        .unwrap();
    let ids: Vec<i64> = history.iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![id1, id2]);
    assert_eq!(history[0].decision.as_ref(), Some(&decided));
    assert_eq!(history[1].decision, Some(held(T0 + 20)));
    assert_eq!(
        s.get_conflict(id1).unwrap().unwrap().decision,
        Some(decided)
    );
    // Only the open one is listed as open.
    let open: Vec<i64> = s
        .list_open_conflicts(&ConflictFilter::default())
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(open, vec![id2]);
}

#[test]
fn one_open_conflict_per_field_and_resolution_closes_it() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    s.save_records(&[contact(1, "a@x.io")], &IMPORT).unwrap();
    let c = |local: &str, at| NewConflict {
        connection: "acme".into(),
        kind: ObjectKind::Contact,
        local_id: id(1),
        field: "job_title".into(),
        base: Some("Dev".into()),
        local: Some(local.into()),
        remote: Some("CTO".into()),
        detected_at: at,
        decision: held(at),
    };
    let first = s.upsert_conflict(&c("Lead", T0)).unwrap();
    let again = s.upsert_conflict(&c("Head", T0 + 5)).unwrap();
    assert_eq!(first, again);
    let other_field = s
        .upsert_conflict(&NewConflict {
            field: "phone".into(),
            ..c("1", T0)
        })
        .unwrap();
    assert_ne!(other_field, first);
    let open = s
        .list_open_conflicts(&ConflictFilter {
            field: Some("job_title".into()),
            ..ConflictFilter::default()
        })
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].local.as_deref(), Some("Head"));
    assert_eq!(open[0].detected_at, T0);

    let done = s
        .resolve_conflict(first, Some("CTO"), "remote", T0 + 9)
        .unwrap();
    assert_eq!(done.resolved_at, Some(T0 + 9));
    assert_eq!(done.resolution.as_deref(), Some("CTO"));
    assert_eq!(done.resolved_by.as_deref(), Some("remote"));
    let err = s.resolve_conflict(first, None, "local", T0).unwrap_err();
    assert!(err.to_string().contains("already resolved"), "{err}");
    assert!(s.resolve_conflict(12345, None, "local", T0).is_err());
    assert_eq!(
        s.list_open_conflicts(&ConflictFilter::default())
            .unwrap()
            .len(),
        1
    );
    // Detected again after resolution: a new conflict.
    assert_ne!(s.upsert_conflict(&c("Boss", T0 + 20)).unwrap(), first);
    assert_eq!(
        s.get_conflict(first)
            .unwrap()
            .unwrap()
            .resolution
            .as_deref(),
        Some("CTO")
    );
}

#[test]
fn runs_are_listed_newest_first_with_the_last_good_sync() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    let both = vec!["acme".to_string(), "pd".to_string()];
    let r1 = s.begin_run("sync", &both, T0).unwrap();
    s.finish_run(
        r1,
        RunOutcome::Ok,
        &serde_json::json!({"pushed": 3}),
        None,
        T0 + 10,
    )
    .unwrap();
    let r2 = s.begin_run("sync", &["acme".to_string()], T0 + 20).unwrap();
    s.finish_run(
        r2,
        RunOutcome::Failed,
        &serde_json::json!({}),
        Some("boom"),
        T0 + 30,
    )
    .unwrap();
    let r3 = s.begin_run("import", &[], T0 + 40).unwrap();
    let runs = s.list_runs(10).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![r3, r2, r1]
    );
    assert_eq!(runs[0].outcome, None);
    assert_eq!(runs[1].error.as_deref(), Some("boom"));
    assert_eq!(runs[2].counts["pushed"], 3);
    assert_eq!(runs[2].connections, both);
    assert_eq!(s.last_successful_sync("acme").unwrap(), Some(T0 + 10));
    assert_eq!(s.last_successful_sync("pd").unwrap(), Some(T0 + 10));
    assert_eq!(s.last_successful_sync("sf").unwrap(), None);
    assert_eq!(s.list_runs(1).unwrap().len(), 1);
    assert!(
        s.finish_run(999, RunOutcome::Ok, &serde_json::json!({}), None, T0)
            .is_err()
    );
}

// ---- status, leases --------------------------------------------------------------------

#[test]
fn status_counts_each_record_once() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    let mut archived_unlinked = contact(7, "g@x.io");
    archived_unlinked.archived_at = Some(T0);
    // 1 synced, 2 pending edit, 3 local only, 4 error, 5 conflict, 6 new (pending),
    // 7 archived and never linked (not counted), 8 linked + journalled (pending),
    // 9 in conflict and failed (conflict wins).
    s.save_records(
        &[
            contact(1, "a@x.io"),
            contact(2, "b@x.io"),
            contact(3, "c@x.io"),
            contact(4, "d@x.io"),
            contact(5, "e@x.io"),
            archived_unlinked,
            contact(8, "h@x.io"),
            contact(9, "i@x.io"),
        ],
        &IMPORT,
    )
    .unwrap();
    for (n, remote) in [
        (1, "r1"),
        (2, "r2"),
        (4, "r4"),
        (5, "r5"),
        (8, "r8"),
        (9, "r9"),
    ] {
        s.upsert_link(&link("acme", n, remote, Fields::new()))
            .unwrap();
    }
    let cursor = s.max_seq().unwrap();
    s.set_local_cursor("acme", ObjectKind::Contact, cursor)
        .unwrap();
    s.save_records(&[contact(2, "b2@x.io"), contact(6, "f@x.io")], &IMPORT)
        .unwrap();
    let fail = WriteFailure {
        message: "rejected".into(),
        code: None,
        at: T0,
        permanent: None,
    };
    for n in [4, 9] {
        s.record_failure(
            "acme",
            ObjectKind::Contact,
            &id(n),
            None,
            WriteOp::Update,
            &fail,
        )
        .unwrap();
    }
    for n in [5, 9] {
        s.upsert_conflict(&new_conflict(n, "first_name", "A", "B", T0))
            .unwrap();
    }
    s.journal_add(&[journal("acme", 8, WriteOp::Update, Some("r8"))])
        .unwrap();
    let st = s.status("acme", ObjectKind::Contact).unwrap();
    assert_eq!(
        (st.synced, st.local_only, st.pending, st.error, st.conflict),
        (1, 1, 3, 1, 2),
        "{st:?}"
    );
    assert_eq!(
        st.queue_depth, 3,
        "two changed records and one journalled write"
    );
    // A connection that never synced: everything active is pending.
    let fresh = s.status("pd", ObjectKind::Contact).unwrap();
    assert_eq!(
        (fresh.pending, fresh.synced, fresh.local_only),
        (8, 0, 0),
        "{fresh:?}"
    );
}

#[test]
fn status_does_not_count_archived_records_or_retired_links_as_synced() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    // 1, 2 synced; 3 archived on both sides (retired link); 4 archived here, archive not
    // pushed yet (live link, pending); 5 live here, its remote archived (retired link).
    let mut three = contact(3, "c@x.io");
    three.archived_at = Some(T0);
    s.save_records(
        &[
            contact(1, "a@x.io"),
            contact(2, "b@x.io"),
            three,
            contact(4, "d@x.io"),
            contact(5, "e@x.io"),
        ],
        &IMPORT,
    )
    .unwrap();
    for (n, retired) in [(1, false), (2, false), (3, true), (4, false), (5, true)] {
        let mut l = link("acme", n, &format!("r{n}"), Fields::new());
        l.retired = retired;
        s.upsert_link(&l).unwrap();
    }
    let cursor = s.max_seq().unwrap();
    s.set_local_cursor("acme", ObjectKind::Contact, cursor)
        .unwrap();
    let mut four = contact(4, "d@x.io");
    four.archived_at = Some(T0 + 1);
    s.save_records(&[four], &IMPORT).unwrap();
    let st = s.status("acme", ObjectKind::Contact).unwrap();
    assert_eq!(
        (st.synced, st.local_only, st.pending, st.error, st.conflict),
        (2, 1, 1, 0, 0),
        "{st:?}"
    );
    assert_eq!(s.count_live_links("acme", ObjectKind::Contact).unwrap(), 3);
    assert_eq!(
        s.archived_with_live_links("acme", ObjectKind::Contact, cursor, i64::MAX)
            .unwrap(),
        vec![id(4)]
    );
}

#[test]
fn leases_are_exclusive_until_released_or_expired() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    assert!(s.try_acquire_lease("token:acme", "p1", T0, 1_000).unwrap());
    assert!(
        !s.try_acquire_lease("token:acme", "p2", T0 + 10, 1_000)
            .unwrap()
    );
    assert!(s.try_acquire_lease("token:other", "p2", T0, 1_000).unwrap());
    assert!(
        s.try_acquire_lease("token:acme", "p1", T0 + 500, 1_000)
            .unwrap(),
        "renew"
    );
    assert!(
        !s.try_acquire_lease("token:acme", "p2", T0 + 1_200, 1_000)
            .unwrap()
    );
    assert!(
        s.try_acquire_lease("token:acme", "p2", T0 + 1_500, 1_000)
            .unwrap(),
        "expired"
    );
    assert!(!s.release_lease("token:acme", "p1").unwrap());
    assert!(s.release_lease("token:acme", "p2").unwrap());
    assert!(
        s.try_acquire_lease("token:acme", "p3", T0 + 1_600, 1_000)
            .unwrap()
    );
}

#[test]
fn meta_values_round_trip() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    assert_eq!(s.meta_get("x").unwrap(), None);
    s.meta_set("x", "1").unwrap();
    s.meta_set("x", "2").unwrap();
    assert_eq!(s.meta_get("x").unwrap().as_deref(), Some("2"));
}

// ---- timing ----------------------------------------------------------------------------

/// Import speed and no-op cost at scale. Run with
/// `cargo test --lib store::tests::timing_import_1m -- --ignored --nocapture`
/// (add `--release` for release figures).
#[test]
#[ignore = "timing check; prints figures"]
fn timing_import_1m() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    let total = 1_000_000u32;
    let batch = 10_000u32;
    let mut saving = std::time::Duration::ZERO;
    for b in 0..total / batch {
        let recs: Vec<Record> = (b * batch..(b + 1) * batch)
            .map(|n| {
                let mut r = rec(
                    n,
                    ObjectKind::Contact,
                    &[
                        ("first_name", "Ann"),
                        ("last_name", "Lee"),
                        ("phone", "+4420"),
                    ],
                );
                r.fields
                    .insert("email".into(), format!("user{n}@example.com"));
                r
            })
            .collect();
        // Only the store's work is timed, not building the records.
        let started = std::time::Instant::now();
        s.save_records(&recs, &IMPORT).unwrap();
        saving += started.elapsed();
        drop(recs);
    }
    let secs = saving.as_secs_f64();
    eprintln!(
        "save_records: {total} new contacts in {secs:.1} s = {:.0} rows/s",
        total as f64 / secs
    );
    let started = std::time::Instant::now();
    let cursor = s.max_seq().unwrap();
    let none = s
        .records_changed_since(ObjectKind::Contact, cursor, 1000)
        .unwrap();
    assert!(none.is_empty());
    eprintln!("no-op change check: {:?}", started.elapsed());
    let started = std::time::Instant::now();
    let emails: Vec<String> = (0..10_000)
        .map(|n| format!("user{}@example.com", n * 97))
        .collect();
    let found = s
        .find_by_field(ObjectKind::Contact, "email", &emails)
        .unwrap();
    assert_eq!(found.len(), 10_000);
    eprintln!("10,000 email lookups: {:?}", started.elapsed());
}

#[test]
fn two_handles_on_one_file_see_each_others_writes() {
    let (_dir, path) = temp();
    let mut a = open(&path);
    let mut b = open(&path);
    a.save_records(&[contact(1, "a@x.io")], &IMPORT).unwrap();
    b.save_records(&[contact(2, "b@x.io")], &IMPORT).unwrap();
    a.save_records(&[contact(3, "c@x.io")], &IMPORT).unwrap();
    let seqs: Vec<i64> = b
        .records_changed_since(ObjectKind::Contact, 0, 10)
        .unwrap()
        .into_iter()
        .map(|(q, _)| q)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3], "one counter across handles");
    let all = a.status_all("acme").unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].kind, ObjectKind::Contact);
    assert_eq!(all[1].pending, 3);
}

/// A store on a fixed clock at `T0` holding contacts 1 and 2, imported.
fn two_imported_contacts() -> (tempfile::TempDir, Store, Arc<FixedClock>) {
    let (dir, path) = temp();
    let mut s = Store::open(&path).unwrap();
    let clock = Arc::new(FixedClock::new(T0));
    s.set_clock(clock.clone());
    s.save_records(&[contact(1, "a@x.io"), contact(2, "b@x.io")], &IMPORT)
        .unwrap();
    (dir, s, clock)
}

#[test]
fn local_field_times_are_the_latest_audited_change_of_each_field() {
    let (_dir, mut s, clock) = two_imported_contacts();
    let mut one = contact(1, "a@x.io");
    for (at, field, value, origin) in [
        (T0 + 10, "first_name", "Bea", WriteOrigin::User),
        (T0 + 20, "email", "a2@x.io", WriteOrigin::User),
        (
            T0 + 30,
            "first_name",
            "Cy",
            WriteOrigin::Pull {
                run: 2,
                connection: "acme".into(),
            },
        ),
    ] {
        clock.set(at);
        crate::model::set_field(&mut one.fields, field, value);
        s.save_records(std::slice::from_ref(&one), &origin).unwrap();
    }
    let times = s.local_field_times(&[id(1), id(2), id(3)]).unwrap();
    let expected: BTreeMap<String, Millis> = [
        ("email".to_string(), T0 + 20),
        ("first_name".to_string(), T0 + 30),
    ]
    .into_iter()
    .collect();
    assert_eq!(times.get(&id(1)), Some(&expected));
    // Unchanged since its import (kept on the row), and unknown: no entry.
    assert_eq!(times.len(), 1, "{times:?}");
    assert!(s.local_field_times(&[]).unwrap().is_empty());
}

#[test]
fn a_pulled_change_made_earlier_in_the_crm_keeps_that_time_as_its_fields_time() {
    let (_dir, mut s, clock) = two_imported_contacts();
    clock.set(T0 + 1_000);
    let pull = WriteOrigin::Pull {
        run: 2,
        connection: "acme".into(),
    };
    let mut one = contact(1, "a@x.io");
    crate::model::set_field(&mut one.fields, "first_name", "Bea");
    let mut two = contact(2, "b@x.io");
    crate::model::set_field(&mut two.fields, "first_name", "Cy");
    // Record 1 changed in the CRM at T0 + 400; record 2's time is not known (now), and a
    // time after now (a CRM clock ahead) is taken as now.
    let changed_at: HashMap<RecordId, Millis> = [(id(1), T0 + 400)].into_iter().collect();
    s.save_pulled_settling(&[one, two.clone()], &[], &[], &pull, &changed_at)
        .unwrap();
    crate::model::set_field(&mut two.fields, "first_name", "Di");
    let ahead: HashMap<RecordId, Millis> = [(id(2), T0 + 9_000)].into_iter().collect();
    s.save_pulled_settling(&[two], &[], &[], &pull, &ahead)
        .unwrap();
    let times = s.local_field_times(&[id(1), id(2)]).unwrap();
    assert_eq!(times[&id(1)]["first_name"], T0 + 400);
    assert_eq!(times[&id(2)]["first_name"], T0 + 1_000);
}

fn wal_autocheckpoint(s: &Store) -> i64 {
    s.conn
        .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
        .unwrap()
}

/// The database file's size in 4 KiB units.
fn db_pages(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len()) / 4096
}

#[test]
fn a_bulk_load_checkpoints_on_its_own_thread_and_gives_checkpoints_back() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    assert_eq!(wal_autocheckpoint(&s), 1000);
    s.begin_bulk_load(0).unwrap();
    s.begin_bulk_load(0).unwrap(); // a second begin changes nothing
    assert_eq!(
        wal_autocheckpoint(&s),
        checkpoint::wal_ceiling_pages(&s.conn).unwrap()
    );
    let before = db_pages(&path);
    // One batch that logs about 4 MiB; the writer no longer copies it itself.
    let padding = "x".repeat(4000);
    let records: Vec<Record> = (0..1000)
        .map(|n| {
            let email = format!("p{n}@example.com");
            rec(
                n,
                ObjectKind::Contact,
                &[("email", &email), ("note", &padding)],
            )
        })
        .collect();
    let encoded: Vec<String> = records.iter().map(|r| encode_fields(&r.fields)).collect();
    assert_eq!(
        s.save_records_encoded(&records, &encoded, &IMPORT).unwrap(),
        1000
    );
    // The checkpoint thread copies them into the database file while the writer is idle.
    // (The wait is bounded only so that a broken thread fails the test instead of hanging it.)
    let waited = std::time::Instant::now();
    while db_pages(&path) < before + 900 {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(120),
            "no checkpoint: the database file stayed at {} pages",
            db_pages(&path)
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    s.end_bulk_load().unwrap();
    s.end_bulk_load().unwrap(); // and so does a second end
    assert_eq!(wal_autocheckpoint(&s), 1000);
    drop(s);
    let s = open(&path);
    assert_eq!(s.count_records(ObjectKind::Contact, false).unwrap(), 1000);
    let found = s
        .find_by_field(
            ObjectKind::Contact,
            "email",
            &["p999@example.com".to_string()],
        )
        .unwrap();
    assert_eq!(found.len(), 1);
}

#[test]
fn records_saved_with_their_encoding_are_read_back_as_saved() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    let records = vec![contact(1, "ann@example.com"), contact(2, "bo@example.com")];
    let encoded: Vec<String> = records.iter().map(|r| encode_fields(&r.fields)).collect();
    assert_eq!(
        s.save_records_encoded(&records, &encoded, &IMPORT).unwrap(),
        2
    );
    // Saving the same again changes nothing.
    assert_eq!(
        s.save_records_encoded(&records, &encoded, &IMPORT).unwrap(),
        0
    );
    for r in &records {
        assert_eq!(s.get_record(&r.id).unwrap().as_ref(), Some(r));
    }
}

/// The `CREATE INDEX` text of each index on `records`, by name.
fn record_indexes(path: &Path) -> BTreeMap<String, String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'records' AND sql IS NOT NULL")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn the_deferrable_indexes_are_the_ones_the_migrations_make() {
    let (_dir, path) = temp();
    drop(open(&path));
    let made = record_indexes(&path);
    for (name, create) in schema::DEFERRABLE_RECORD_INDEXES {
        assert_eq!(made.get(*name).map(String::as_str), Some(*create), "{name}");
    }
}

/// A new state file's path, its record indexes as the migrations made them, and a store on
/// it in a bulk load of [`BULK_INDEX_ROWS`] rows (which sets those indexes aside).
fn bulk_load_begun() -> (tempfile::TempDir, PathBuf, BTreeMap<String, String>, Store) {
    let (dir, path) = temp();
    drop(open(&path));
    let fresh = record_indexes(&path);
    let mut s = open(&path);
    s.begin_bulk_load(BULK_INDEX_ROWS).unwrap();
    (dir, path, fresh, s)
}

fn bulk_contacts(from: u32, to: u32) -> (Vec<Record>, Vec<String>) {
    let records: Vec<Record> = (from..to)
        .map(|n| contact(n, &format!("p{n}@example.com")))
        .collect();
    let encoded = records.iter().map(|r| encode_fields(&r.fields)).collect();
    (records, encoded)
}

#[test]
fn a_large_bulk_load_builds_the_match_key_indexes_once_at_its_end() {
    let (_dir, path, fresh, mut s) = bulk_load_begun();
    let aside = record_indexes(&path);
    assert!(!aside.contains_key("records_email") && !aside.contains_key("records_domain"));
    let (records, encoded) = bulk_contacts(1, 101);
    s.save_records_encoded(&records, &encoded, &IMPORT).unwrap();
    s.end_bulk_load().unwrap();
    assert_eq!(
        record_indexes(&path),
        fresh,
        "built again as the migrations made them"
    );
    let found = s
        .find_by_field(ObjectKind::Contact, "email", &["p42@example.com".into()])
        .unwrap();
    assert_eq!(found["p42@example.com"].id, id(42));
}

#[test]
fn a_lookup_during_a_bulk_load_builds_the_indexes_first() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    s.begin_bulk_load(BULK_INDEX_ROWS * 4).unwrap();
    let (records, encoded) = bulk_contacts(1, 101);
    s.save_records_encoded(&records, &encoded, &IMPORT).unwrap();
    let found = s
        .find_by_field(ObjectKind::Contact, "email", &["p7@example.com".into()])
        .unwrap();
    assert_eq!(found["p7@example.com"].id, id(7));
    assert!(record_indexes(&path).contains_key("records_email"));
    // The load goes on with the indexes kept up to date, and ends as usual.
    let (more, encoded) = bulk_contacts(101, 201);
    s.save_records_encoded(&more, &encoded, &IMPORT).unwrap();
    s.end_bulk_load().unwrap();
    assert_eq!(s.count_records(ObjectKind::Contact, false).unwrap(), 200);
}

#[test]
fn a_bulk_load_keeps_the_indexes_when_it_is_small_or_the_store_is_larger() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    for (expected, why) in [(BULK_INDEX_ROWS - 1, "a small load"), (0, "size not known")] {
        s.begin_bulk_load(expected).unwrap();
        assert!(record_indexes(&path).contains_key("records_email"), "{why}");
        s.end_bulk_load().unwrap();
    }
    // A store holding more records than the load brings: rebuilding would cost more than
    // keeping the indexes up to date saves.
    s.conn
        .execute_batch(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i <= {BULK_INDEX_ROWS})
             INSERT INTO records(id, kind, fields, updated_at, seq, email, created_at, created_cause)
             SELECT printf('01HZY%021d', i), 'contact', '{{}}', 0, i, 'p' || i || '@x.io', 0, 'import'
             FROM n"
        ))
        .unwrap();
    assert_eq!(
        s.count_records(ObjectKind::Contact, true).unwrap(),
        BULK_INDEX_ROWS + 1
    );
    s.begin_bulk_load(BULK_INDEX_ROWS).unwrap();
    assert!(
        record_indexes(&path).contains_key("records_email"),
        "a larger store"
    );
    s.end_bulk_load().unwrap();
}

#[test]
fn a_bulk_load_killed_before_its_end_leaves_a_file_whose_next_open_builds_the_indexes() {
    let (_dir, path, fresh, mut s) = bulk_load_begun();
    let (records, encoded) = bulk_contacts(1, 101);
    s.save_records_encoded(&records, &encoded, &IMPORT).unwrap();
    // The process dies here: no end_bulk_load.
    drop(s);
    assert!(!record_indexes(&path).contains_key("records_email"));
    // A reader still finds what was saved, only without the index.
    let r = Store::open_read_only(&path).unwrap();
    let found = r
        .find_by_match_key(ObjectKind::Contact, "p9@example.com")
        .unwrap();
    assert_eq!(found.map(|r| r.id), Some(id(9)));
    drop(r);
    let s = open(&path);
    assert_eq!(record_indexes(&path), fresh);
    assert_eq!(s.count_records(ObjectKind::Contact, false).unwrap(), 100);
}

#[test]
fn a_write_to_a_read_only_state_file_says_so_and_what_to_do() {
    let (_dir, path) = temp();
    drop(open(&path));
    // As SQLite opens a write-protected file (root ignores file modes, so the test asks for
    // a read-only connection outright).
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut store = Store {
        conn,
        path: path.clone(),
        clock: Arc::new(FixedClock::new(T0)),
        checkpointer: None,
        indexes_aside: std::cell::Cell::new(false),
        backups: Default::default(),
    };
    let err = store
        .save_records(&[contact(1, "ann@example.com")], &WriteOrigin::User)
        .unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("is read-only"), "{message}");
    assert!(message.contains("chmod u+w"), "{message}");
    assert!(!message.contains("Error code 8"), "{message}");
}

// ---- match keys in other forms -------------------------------------------------------------

#[test]
fn match_keys_find_the_same_address_in_another_form() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    s.save_records(
        &[
            contact(1, "jose\u{301}@example.com"),
            contact(2, "zo\u{eb}@b\u{fc}cher.example"),
            contact(3, "\u{130}nci@example.com"),
            rec(
                4,
                ObjectKind::Company,
                &[("domain", "https://www.acme.com/about"), ("name", "Acme")],
            ),
        ],
        &IMPORT,
    )
    .unwrap();
    let wanted = [
        "jos\u{e9}@example.com".to_string(),
        "zo\u{eb}@xn--bcher-kva.example".to_string(),
        "inci@example.com".to_string(),
    ];
    let found = s
        .find_by_field(ObjectKind::Contact, "email", &wanted)
        .unwrap();
    assert_eq!(found[&wanted[0]].id, id(1), "NFC finds NFD");
    assert_eq!(found[&wanted[1]].id, id(2), "punycode finds Unicode");
    assert!(!found.contains_key(&wanted[2]), "İ is not i");
    // The record keeps the address as written.
    assert_eq!(
        found[&wanted[1]].get("email"),
        Some("zo\u{eb}@b\u{fc}cher.example")
    );
    let by_domain = s
        .find_by_field(ObjectKind::Company, "domain", &["acme.com".into()])
        .unwrap();
    assert_eq!(by_domain["acme.com"].id, id(4));
    assert_eq!(
        s.find_by_match_key(ObjectKind::Contact, "ZO\u{cb}@xn--bcher-kva.example")
            .unwrap()
            .map(|r| r.id),
        Some(id(2))
    );
}

#[test]
fn a_file_from_before_match_key_forms_gets_its_keys_rewritten() {
    let (_dir, path) = temp();
    let before = schema::MIGRATIONS
        .iter()
        .position(|s| *s == schema::V9_MATCH_KEY_FORMS)
        .unwrap() as i64;
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    schema::migrate_to(&mut conn, &path, before).unwrap();
    let s = store_at_version(conn, &path);
    s.conn
        .execute_batch(&format!(
            "INSERT INTO records(id, kind, fields, updated_at, seq, email, created_at, created_cause)
             VALUES ('{a}', 'contact', '{{\"email\":\"zoë@bücher.example\"}}', {T0}, 90,
                     'zoë@bücher.example', {T0}, 'import');
             INSERT INTO records(id, kind, fields, updated_at, seq, domain, created_at, created_cause)
             VALUES ('{b}', 'company', '{{\"domain\":\"www.acme.com\"}}', {T0}, 91,
                     'www.acme.com', {T0}, 'import');",
            a = id(50),
            b = id(51),
        ))
        .unwrap();
    drop(s);
    let s = open(&path);
    let found = s
        .find_by_field(
            ObjectKind::Contact,
            "email",
            &["zo\u{eb}@xn--bcher-kva.example".into()],
        )
        .unwrap();
    assert_eq!(found.values().next().map(|r| r.id.clone()), Some(id(50)));
    let found = s
        .find_by_field(ObjectKind::Company, "domain", &["acme.com".into()])
        .unwrap();
    assert_eq!(found.values().next().map(|r| r.id.clone()), Some(id(51)));
}

#[test]
fn a_file_from_before_the_activity_index_finds_activities_by_contact_through_it() {
    let (_dir, path) = temp();
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    schema::migrate_to(&mut conn, &path, schema::LATEST_VERSION - 1).unwrap();
    let s = store_at_version(conn, &path);
    s.conn
        .execute_batch(&format!(
            "INSERT INTO records(id, kind, fields, updated_at, seq, created_at, created_cause)
             VALUES ('{a}', 'activity', '{{\"contact_id\":\"{c}\",\"type\":\"call\"}}', {T0}, 90,
                     {T0}, 'import');",
            a = id(60),
            c = id(1),
        ))
        .unwrap();
    drop(s);
    let s = open(&path);
    let found = s
        .records_with_field(ObjectKind::Activity, "contact_id", &id(1).0)
        .unwrap();
    assert_eq!(
        found.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        [id(60)]
    );
    let plan: Vec<String> = s
        .conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT id FROM records
             WHERE kind = 'activity' AND archived_at IS NULL
               AND json_extract(fields, '$.contact_id') = 'x'",
        )
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter().any(|p| p.contains("records_activity_contact")),
        "{plan:?}"
    );
}

#[test]
fn erasing_an_archived_record_keeps_its_ids_and_times_and_no_value_of_it() {
    let (_dir, path) = temp();
    let mut s = open(&path);
    s.save_records(&[contact(1, "ann@x.io"), contact(2, "bo@x.io")], &IMPORT)
        .unwrap();
    let pull = WriteOrigin::Pull {
        run: 2,
        connection: "hs".into(),
    };
    for n in [1, 2] {
        let mut changed = s.get_record(&id(n)).unwrap().unwrap();
        changed.fields.insert("phone".into(), "+1 555 0100".into());
        s.save_records(&[changed], &pull).unwrap();
        s.upsert_link(&Link {
            connection: "pd".into(),
            kind: ObjectKind::Contact,
            local_id: id(n),
            remote_id: format!("{n}"),
            base: fields(&[("email", "ann@x.io"), ("phone", "+1 555 0100")]),
            remote_updated_at: Some(T0),
            synced_at: T0,
            retired: false,
        })
        .unwrap();
        s.upsert_conflict(&NewConflict {
            connection: "pd".into(),
            kind: ObjectKind::Contact,
            local_id: id(n),
            field: "job_title".into(),
            base: Some("Dev".into()),
            local: Some("Lead".into()),
            remote: Some("CTO".into()),
            detected_at: T0,
            decision: held(T0),
        })
        .unwrap();
    }
    // Not archived: nothing is erased.
    assert!(!s.erase_values(&id(1), "hs", Some(3), T0 + 5).unwrap());
    assert_eq!(
        s.get_record(&id(1)).unwrap().unwrap().fields.get("email"),
        Some(&"ann@x.io".to_string())
    );
    let mut archived = s.get_record(&id(1)).unwrap().unwrap();
    archived.archived_at = Some(T0 + 1);
    s.save_records(&[archived], &pull).unwrap();
    assert!(s.erase_values(&id(1), "hs", Some(3), T0 + 5).unwrap());

    let erased = s.get_record(&id(1)).unwrap().unwrap();
    assert!(erased.fields.is_empty(), "{:?}", erased.fields);
    assert!(erased.archived_at.is_some());
    let email: Option<String> = s
        .conn
        .query_row(
            "SELECT email FROM records WHERE id = ?1",
            [id(1).as_str()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(email, None, "the match key copied out of the fields");
    let link = s
        .links_by_local_ids("pd", ObjectKind::Contact, &[id(1)])
        .unwrap();
    let link = link.values().next().expect("the link stays");
    assert_eq!(link.remote_id, "1");
    assert!(link.base.is_empty());
    let trail = s.audit_for_record(&id(1), None, 50).unwrap();
    assert!(
        trail.iter().any(|a| a.field == "phone"),
        "when a field changed stays"
    );
    let erasure = trail
        .iter()
        .find(|a| a.cause == AuditCause::Erased)
        .expect("the erasure in the trail");
    assert_eq!(
        (
            erasure.field.as_str(),
            erasure.connection.as_deref(),
            erasure.run
        ),
        (ERASED_FIELD, Some("hs"), Some(3))
    );
    for a in trail.iter().filter(|a| a.field != CREATED_FIELD) {
        assert_eq!((a.old.as_deref(), a.new.as_deref()), (None, None), "{a:?}");
    }
    type Values = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let raw: Vec<Values> = s
        .conn
        .prepare("SELECT base, local, remote, resolved_by FROM conflicts WHERE local_id = ?1")
        .unwrap()
        .query_map([id(1).as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        raw,
        [(None, None, None, Some(ERASED_RESOLUTION.to_string()))],
        "the conflict closed, its values gone"
    );
    // The other record keeps everything.
    let other = s.get_record(&id(2)).unwrap().unwrap();
    assert_eq!(other.fields.get("phone"), Some(&"+1 555 0100".to_string()));
    assert_eq!(
        s.list_open_conflicts(&ConflictFilter::default())
            .unwrap()
            .len(),
        1
    );
    let other_link = s
        .links_by_local_ids("pd", ObjectKind::Contact, &[id(2)])
        .unwrap();
    assert!(!other_link.values().next().unwrap().base.is_empty());
}
