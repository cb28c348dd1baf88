//! Import and export against the real SQLite state file.

use std::path::{Path, PathBuf};

use super::*;
use crate::model::{Millis, ObjectKind, Record};
use crate::store::{Store, WriteOrigin};

const NOW: Millis = 1_790_000_000_000;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

fn dump(store: &Store, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    let options = ExportOptions {
        include_archived: true,
        raw: false,
    };
    export(store, ObjectKind::Contact, format, options, &mut out).unwrap();
    out
}

#[test]
fn refused_files_leave_the_state_file_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("state.db")).unwrap();
    let opts = ImportOptions::new(ObjectKind::Contact, NOW, 1);
    import_file(&mut store, &sample("contacts.csv"), &opts, &NoProgress).unwrap();
    let before = dump(&store, Format::Csv);
    for (name, body) in [
        ("bin.csv", &b"\x00\x01\x02binary"[..]),
        ("page.html", b"<html><body>hi</body></html>"),
        ("arr.json", b"[{\"email\":\"new@x.com\"}]"),
        ("empty.csv", b""),
        ("unknown.csv", b"email,Pet\nnew@x.com,cat\n"),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let err = import_file(&mut store, &p, &opts, &NoProgress).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
        assert_eq!(before, dump(&store, Format::Csv), "{name}");
    }
}

#[test]
fn export_then_import_is_lossless_through_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Store::open(&dir.path().join("a.db")).unwrap();
    let mut opts = ImportOptions::new(ObjectKind::Contact, NOW, 1);
    opts.default_calling_code = Some("+44".into());
    import_file(&mut a, &sample("contacts.csv"), &opts, &NoProgress).unwrap();
    let extra = dir.path().join("extra.csv");
    std::fs::write(
        &extra,
        "email,custom.nickname,custom.motto,job_title\n\
         zoe@example.com,Zoë 🚀,\"commas, \"\"quotes\"\" and\nnew lines\",Ünïcödé lead\n",
    )
    .unwrap();
    import_file(&mut a, &extra, &opts, &NoProgress).unwrap();

    for (format, name) in [(Format::Csv, "out.csv"), (Format::Jsonl, "out.jsonl")] {
        let first = dump(&a, format);
        let file = dir.path().join(name);
        std::fs::write(&file, &first).unwrap();
        let mut b = Store::open(&dir.path().join(format!("b-{name}.db"))).unwrap();
        let r = import_file(&mut b, &file, &opts, &NoProgress).unwrap();
        assert_eq!((r.loaded, r.rejected), (48, 0), "{format}");
        assert_eq!(first, dump(&b, format), "{format}");
    }
}

#[test]
fn duplicates_are_found_across_batches_in_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("state.db")).unwrap();
    let file = dir.path().join("c.csv");
    let mut body = String::from("email,first_name\n");
    for i in 0..30 {
        body.push_str(&format!("p{i}@x.com,P{i}\n"));
    }
    body.push_str("P3@x.com,Pat\n");
    std::fs::write(&file, body).unwrap();
    let mut opts = ImportOptions::new(ObjectKind::Contact, NOW, 1);
    opts.batch_size = 7;
    opts.on_duplicate = OnDuplicate::Error;
    let r = import_file(&mut store, &file, &opts, &NoProgress).unwrap();
    assert_eq!((r.loaded, r.rejected), (30, 1));
    assert_eq!(r.rejections[0].line, 32);
    assert!(
        r.rejections[0].reason.contains("duplicate of line 5"),
        "{}",
        r.rejections[0].reason
    );

    opts.on_duplicate = OnDuplicate::Merge;
    let r = import_file(&mut store, &file, &opts, &NoProgress).unwrap();
    assert_eq!((r.loaded, r.merged, r.unchanged), (0, 1, 30));
    let found = store
        .find_by_field(ObjectKind::Contact, "email", &["p3@x.com".to_string()])
        .unwrap();
    assert_eq!(found["p3@x.com"].get("first_name"), Some("Pat"));
}

fn contact(email: &str, extra: &[(&str, &str)]) -> Record {
    let mut fields = crate::model::Fields::new();
    fields.insert("email".into(), email.into());
    for (k, v) in extra {
        fields.insert((*k).into(), (*v).into());
    }
    Record {
        id: crate::model::RecordId::new(),
        kind: ObjectKind::Contact,
        fields,
        updated_at: NOW,
        archived_at: None,
    }
}

#[test]
fn lookups_by_many_values_find_each_live_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("state.db")).unwrap();
    // More values than one lookup statement takes, so chunks and the padded last chunk count.
    let records: Vec<Record> = (0..1203)
        .map(|i| {
            contact(
                &format!("p{i}@x.com"),
                &[("job_title", &format!("t{}", i % 600))],
            )
        })
        .collect();
    let origin = WriteOrigin::Import { run: 1 };
    store.save_records(&records, &origin).unwrap();
    let mut archived = contact("gone@x.com", &[("job_title", "t1")]);
    archived.archived_at = Some(NOW);
    store.save_records(&[archived], &origin).unwrap();

    let mut wanted: Vec<String> = (0..1203).rev().map(|i| format!("p{i}@x.com")).collect();
    wanted.push("absent@x.com".into());
    wanted.push("gone@x.com".into());
    wanted.push("p7@x.com".into());
    let found = store
        .find_by_field(ObjectKind::Contact, "email", &wanted)
        .unwrap();
    assert_eq!(found.len(), 1203);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(found[&format!("p{i}@x.com")].id, r.id);
    }

    // A field without its own column: the oldest live record holding the value wins.
    let titles: Vec<String> = (0..700).map(|i| format!("t{i}")).collect();
    let found = store
        .find_by_field(ObjectKind::Contact, "job_title", &titles)
        .unwrap();
    assert_eq!(found.len(), 600);
    assert_eq!(found["t1"].id, records[1].id);
    assert_eq!(found["t599"].id, records[599].id);
}

#[test]
fn duplicates_of_stored_records_are_found_when_the_store_had_some() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("state.db")).unwrap();
    let old = contact("kept@x.com", &[("first_name", "Kim")]);
    store
        .save_records(std::slice::from_ref(&old), &WriteOrigin::Import { run: 1 })
        .unwrap();
    let file = dir.path().join("c.csv");
    std::fs::write(&file, "email,first_name\nnew@x.com,Ned\nKEPT@x.com,Kit\n").unwrap();
    let mut opts = ImportOptions::new(ObjectKind::Contact, NOW, 2);
    opts.on_duplicate = OnDuplicate::Error;
    let r = import_file(&mut store, &file, &opts, &NoProgress).unwrap();
    assert_eq!((r.loaded, r.rejected), (1, 1));
    assert_eq!(r.rejections[0].line, 3);
    assert!(
        r.rejections[0]
            .reason
            .contains(&format!("record `{}` already in the store", old.id)),
        "{}",
        r.rejections[0].reason
    );
}

#[test]
fn a_large_import_into_an_empty_store_still_merges_duplicates_across_batches() {
    // Large enough for the store to set its match-key indexes aside; the last rows repeat
    // the first ones' emails, batches later, so they are looked up while the indexes are
    // aside (which builds them first).
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("big.csv");
    let rows = crate::store::BULK_INDEX_ROWS * 6 / 5;
    let mut body = String::from("email,first_name\n");
    for i in 0..rows {
        body.push_str(&format!("p{i}@example.com,Ann\n"));
    }
    body.push_str("p0@example.com,Bea\np1@example.com,Cy\n");
    std::fs::write(&csv, body).unwrap();
    let mut store = Store::open(&dir.path().join("state.db")).unwrap();
    let mut opts = ImportOptions::new(ObjectKind::Contact, NOW, 1);
    opts.batch_size = 10_000;
    let report = import_file(&mut store, &csv, &opts, &NoProgress).unwrap();
    assert_eq!((report.loaded, report.merged), (rows, 2));
    let found = store
        .find_by_field(
            ObjectKind::Contact,
            "email",
            &["p0@example.com".into(), "p1@example.com".into()],
        )
        .unwrap();
    assert_eq!(found["p0@example.com"].get("first_name"), Some("Bea"));
    assert_eq!(found["p1@example.com"].get("first_name"), Some("Cy"));
    assert_eq!(
        store.count_records(ObjectKind::Contact, false).unwrap(),
        rows
    );
}
