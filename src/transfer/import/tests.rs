//! Importing files: refusals, typing and normalising, matching, duplicates, batches.

use crate::model::{Fields, Millis, ObjectKind, Record, RecordId};
use crate::transfer::{Blank, Format, ImportError, ImportOptions, ImportReport, OnDuplicate};

use super::batch::*;
use super::*;
use crate::transfer::NoProgress;
use crate::transfer::columns::parse_map_spec;
use crate::transfer::mem::MemStore;

const NOW: Millis = 1_790_000_000_000;

fn opts() -> ImportOptions {
    ImportOptions::new(ObjectKind::Contact, NOW, 7)
}

fn write(dir: &tempfile::TempDir, name: &str, body: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn run(
    store: &mut MemStore,
    name: &str,
    body: &str,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, name, body.as_bytes());
    import_into(store, &p, opts, &NoProgress)
}

fn by_email<'a>(store: &'a MemStore, email: &str) -> &'a Record {
    store
        .records
        .values()
        .find(|r| r.get("email") == Some(email))
        .unwrap_or_else(|| panic!("no record with email {email}"))
}

fn lines(report: &ImportReport) -> Vec<u64> {
    report.rejections.iter().map(|r| r.line).collect()
}

#[test]
fn pending_records_are_found_by_value_when_hashes_collide_or_go_stale() {
    let pending: Vec<Pending> = ["a@x.io", "b@x.io", "c@x.io"]
        .iter()
        .enumerate()
        .map(|(i, email)| Pending {
            record: Record {
                id: RecordId(format!("01HZY00000000000000000000{i}")),
                kind: ObjectKind::Contact,
                fields: [("email".to_string(), email.to_string())].into(),
                updated_at: 0,
                archived_at: None,
            },
            line: i as u64 + 2,
            encoded: None,
        })
        .collect();
    let mut index = PendingByKey::default();
    // Two values under one hash: both are found, each as itself.
    index.insert(7, "email", "a@x.io", 0, &pending);
    index.insert(7, "email", "b@x.io", 1, &pending);
    assert_eq!(index.get(7, "email", "a@x.io", &pending), Some(0));
    assert_eq!(index.get(7, "email", "b@x.io", &pending), Some(1));
    assert_eq!(index.get(7, "email", "z@x.io", &pending), None);
    // A value filed twice keeps its first record.
    index.insert(7, "email", "b@x.io", 2, &pending);
    assert_eq!(index.get(7, "email", "b@x.io", &pending), Some(1));
    // A record no longer holding the value it was filed under is not found by it.
    let mut moved = pending;
    moved[2]
        .record
        .fields
        .insert("email".into(), "c2@x.io".into());
    let mut index = PendingByKey::default();
    index.insert(9, "email", "c@x.io", 2, &moved);
    assert_eq!(index.get(9, "email", "c@x.io", &moved), None);
}

#[test]
fn a_files_rows_are_estimated_from_its_first_bytes() {
    // 100 lines in the first 4,000 bytes of a 4 MB file: about 100,000 rows.
    assert_eq!(estimated_rows(&(100, 4000), 4_000_000), 100_000);
    // A file read whole already: its rows are counted as they come.
    assert_eq!(estimated_rows(&(3, 120), 120), 0);
    assert_eq!(estimated_rows(&(0, 0), 0), 0);
}

#[test]
fn rows_are_normalised_and_mapped_by_alias() {
    let mut store = MemStore::default();
    let mut o = opts();
    o.default_calling_code = Some("+44".into());
    let r = run(
        &mut store,
        "c.csv",
        "First Name,Last Name,E-mail,Phone Number,Company Name,Title\n  Ann ,Lee, Ann@Example.COM ,020 7946 0958,Acme  Ltd,CTO\n",
        &o,
    )
    .unwrap();
    assert_eq!((r.rows, r.loaded, r.rejected), (1, 1, 0));
    let ann = by_email(&store, "ann@example.com");
    assert_eq!(ann.get("first_name"), Some("Ann"));
    assert_eq!(ann.get("company"), Some("Acme Ltd"));
    assert_eq!(ann.get("job_title"), Some("CTO"));
    assert_eq!(ann.get("phone"), Some("020 7946 0958"));
    assert_eq!(ann.get("phone_e164"), Some("+442079460958"));
    assert_eq!(ann.updated_at, NOW);
    assert_eq!(ann.kind, ObjectKind::Contact);
}

#[test]
fn bad_values_are_rejected_with_their_line_and_column() {
    let mut store = MemStore::default();
    let body = "email,warmness,first_name,updated_at,id\n\
                ok@x.com,1,A,,\n\
                not-an-email,2,B,,\n\
                b@x.com,lots,C,,\n\
                c@x.com,3,D,yesterday,\n\
                d@x.com,4,E,,nope\n\
                e@x.com,5\n\
                f@x.com,6,F,,\n";
    let r = run(&mut store, "c.csv", body, &opts()).unwrap();
    assert_eq!((r.rows, r.loaded, r.rejected), (7, 2, 5));
    assert_eq!(lines(&r), vec![3, 4, 5, 6, 7]);
    let reasons: Vec<&str> = r.rejections.iter().map(|r| r.reason.as_str()).collect();
    assert!(reasons[0].contains("column `email`") && reasons[0].contains("`not-an-email`"));
    assert!(reasons[1].contains("column `warmness`") && reasons[1].contains("`lots`"));
    assert!(reasons[2].contains("column `updated_at`") && reasons[2].contains("`yesterday`"));
    assert!(reasons[3].contains("column `id`") && reasons[3].contains("`nope`"));
    assert!(reasons[4].contains("2 values") && reasons[4].contains("5 columns"));
    assert_eq!(r.rejections[0].column.as_deref(), Some("email"));
    assert_eq!(store.records.len(), 2);
    by_email(&store, "f@x.com");
}

#[test]
fn a_contacts_company_name_links_the_one_local_company_of_that_name() {
    let mut store = MemStore::default();
    let companies = "name,domain\nNorthwind Traders,northwind.example\n\
                     Twin Co,twin-a.example\nTwin Co,twin-b.example\n";
    let company_opts = ImportOptions::new(ObjectKind::Company, NOW, 1);
    run(&mut store, "co.csv", companies, &company_opts).unwrap();
    let northwind = store
        .records
        .values()
        .find(|r| r.get("domain") == Some("northwind.example"))
        .unwrap()
        .id
        .clone();
    let given = RecordId::new();
    let body = format!(
        "email,company,company_id\n\
         a@x.com,  northwind   TRADERS ,\n\
         b@x.com,Twin Co,\n\
         c@x.com,Nobody Inc,\n\
         d@x.com,Northwind Traders,{given}\n"
    );
    let report = run(&mut store, "c.csv", &body, &opts()).unwrap();
    assert_eq!(
        by_email(&store, "a@x.com").get("company_id"),
        Some(northwind.as_str())
    );
    // The rows left unlinked are counted, by why.
    assert_eq!(
        report.unlinked_companies,
        Some(super::super::UnlinkedCompanies {
            not_found: 1,
            ambiguous: 1,
            ambiguous_names: vec!["Twin Co".into()],
        })
    );
    // Two companies share the name: neither is guessed.
    assert_eq!(by_email(&store, "b@x.com").get("company_id"), None);
    assert_eq!(by_email(&store, "c@x.com").get("company_id"), None);
    // A company id in the file is kept as it is.
    assert_eq!(
        by_email(&store, "d@x.com").get("company_id"),
        Some(given.as_str())
    );
    // The name itself stays as typed.
    assert_eq!(
        by_email(&store, "a@x.com").get("company"),
        Some("northwind TRADERS")
    );

    // Moved to a company not in the store: the old company's id no longer names it and
    // is dropped; back to Northwind (any spelling), it is found again.
    run(
        &mut store,
        "m.csv",
        "email,company\na@x.com,Nobody Inc\n",
        &opts(),
    )
    .unwrap();
    assert_eq!(by_email(&store, "a@x.com").get("company_id"), None);
    run(
        &mut store,
        "n.csv",
        "email,company\na@x.com,NORTHWIND traders\n",
        &opts(),
    )
    .unwrap();
    assert_eq!(
        by_email(&store, "a@x.com").get("company_id"),
        Some(northwind.as_str())
    );
    // An id that names no local company is not second-guessed.
    run(
        &mut store,
        "o.csv",
        "email,company\nd@x.com,Twin Co\n",
        &opts(),
    )
    .unwrap();
    assert_eq!(
        by_email(&store, "d@x.com").get("company_id"),
        Some(given.as_str())
    );
}

#[test]
fn with_no_local_companies_every_named_company_is_unlinked_and_companies_report_none() {
    let mut store = MemStore::default();
    let body = "email,company\na@x.com,Acme\nb@x.com,Acme\nc@x.com,\n";
    let report = run(&mut store, "c.csv", body, &opts()).unwrap();
    let unlinked = report.unlinked_companies.unwrap();
    assert_eq!((unlinked.not_found, unlinked.ambiguous), (2, 0));
    let company_opts = ImportOptions::new(ObjectKind::Company, NOW, 1);
    let report = run(&mut store, "co.csv", "name\nAcme\n", &company_opts).unwrap();
    assert_eq!(report.unlinked_companies, None);
    let json = serde_json::to_value(&report).unwrap();
    assert!(json.get("unlinked_companies").is_none(), "{json}");
}

#[test]
fn quoted_newlines_move_later_line_numbers() {
    let mut store = MemStore::default();
    let body = "email,first_name,custom.note\n\
                a@x.com,Ann,\"two\nlines, and a comma\"\n\
                bad,Bob,x\n\
                \n\
                c@x.com,Cy,\"three\n\nlines\"\n\
                also-bad,Di,y\n";
    let r = run(&mut store, "c.csv", body, &opts()).unwrap();
    assert_eq!(lines(&r), vec![4, 9]);
    // Text normalisation folds runs of white space, line breaks included.
    assert_eq!(
        by_email(&store, "a@x.com").get("custom.note"),
        Some("two lines, and a comma")
    );
}

#[test]
fn invalid_utf8_rejects_only_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = b"email,first_name\na@x.com,Ann\nb@x.com,Jos".to_vec();
    body.extend_from_slice(b"\xe9\nc@x.com,Cy\n");
    let p = write(&dir, "c.csv", &body);
    let mut store = MemStore::default();
    let r = import_into(&mut store, &p, &opts(), &NoProgress).unwrap();
    assert_eq!((r.loaded, lines(&r)), (2, vec![3]));
    assert!(r.rejections[0].reason.contains("not valid UTF-8"));
    assert_eq!(r.rejections[0].column.as_deref(), Some("first_name"));
}

#[test]
fn unnamed_columns_must_stay_empty() {
    let mut store = MemStore::default();
    let r = run(
        &mut store,
        "c.csv",
        "email,first_name,\na@x.com,Ann,\nb@x.com,Bob,surprise\n",
        &opts(),
    )
    .unwrap();
    assert_eq!((r.loaded, lines(&r)), (1, vec![3]));
    assert!(
        r.rejections[0]
            .reason
            .contains("column 3 has a value, `surprise`"),
        "{}",
        r.rejections[0].reason
    );
}

#[test]
fn maps_rename_and_drop_columns() {
    let mut store = MemStore::default();
    let mut o = opts();
    o.map = vec![
        parse_map_spec(ObjectKind::Contact, "Shoe Size=custom.shoe_size").unwrap(),
        parse_map_spec(ObjectKind::Contact, "Internal=-").unwrap(),
    ];
    let r = run(
        &mut store,
        "c.csv",
        "email,Shoe Size,Internal\na@x.com,42,secret\n",
        &o,
    )
    .unwrap();
    assert_eq!(r.loaded, 1);
    let a = by_email(&store, "a@x.com");
    assert_eq!(a.get("custom.shoe_size"), Some("42"));
    assert_eq!(a.fields.len(), 2, "{:?}", a.fields);
}

fn assert_refused(name: &str, body: &[u8], o: &ImportOptions, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, name, body);
    let mut store = MemStore::default();
    let seeded = Record {
        id: RecordId::new(),
        kind: ObjectKind::Contact,
        fields: [("email".to_string(), "old@x.com".to_string())].into(),
        updated_at: 1,
        archived_at: None,
    };
    store.records.insert(seeded.id.clone(), seeded);
    let before = store.clone();
    let err = import_into(&mut store, &p, o, &NoProgress).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(needle), "{name}: {msg}");
    assert!(msg.contains(name), "the message names the file: {msg}");
    assert_eq!(store, before, "{name}: nothing may be written");
}

#[test]
fn files_that_are_not_csv_or_jsonl_are_refused_before_writing() {
    let o = opts();
    assert_refused("empty.csv", b"", &o, "is empty");
    assert_refused("blank.csv", b"\n  \n", &o, "is empty");
    assert_refused("bin.csv", b"email\x00\x01\x02", &o, "binary");
    assert_refused("book.csv", b"PK\x03\x04rest", &o, "ZIP");
    assert_refused("page.csv", b"<!doctype html><html>", &o, "HTML");
    assert_refused("arr.json", b"[{\"email\":\"a@x.com\"}]", &o, "JSON array");
    assert_refused(
        "arr.csv",
        b"[{\"email\":\"a@x.com\"}]",
        &o,
        "--format jsonl",
    );
    assert_refused(
        "noheader.csv",
        b"ann@example.com,Ann\nbob@example.com,Bob\n",
        &o,
        "no column",
    );
    assert_refused(
        "unknown.csv",
        b"email,Shoe Size,Pet\na@x.com,42,cat\n",
        &o,
        "`Shoe Size`, `Pet`",
    );
    assert_refused(
        "twice.csv",
        b"email,E-mail\na@x.com,b@x.com\n",
        &o,
        "both fill",
    );
    assert_refused("bad.jsonl", b"email,name\n{\"email\":1}\n", &o, "line 1");
    assert_refused(
        "keys.jsonl",
        b"{\"email\":\"a@x.com\",\"pet\":\"cat\"}\n",
        &o,
        "`pet`",
    );
    let mut bad_map = opts();
    bad_map.map = vec![parse_map_spec(ObjectKind::Contact, "Nope=-").unwrap()];
    assert_refused("map.csv", b"email\na@x.com\n", &bad_map, "`Nope`");
}

#[test]
fn unknown_columns_message_has_the_hint() {
    let mut store = MemStore::default();
    let err = run(&mut store, "c.csv", "email,Pet\na@x.com,cat\n", &opts()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`--map \"COLUMN=custom.NAME\"`"), "{msg}");
    assert!(msg.contains("`--map \"COLUMN=-\"`"), "{msg}");
}

#[test]
fn bad_match_keys_are_refused() {
    let mut o = opts();
    o.match_keys = vec!["shoe".into()];
    let err = run(&mut MemStore::default(), "c.csv", "email\n", &o).unwrap_err();
    assert!(err.to_string().contains("match key `shoe`"));
}

const DUPS: &str = "email,first_name,last_name\n\
                    a@x.com,Ann,\n\
                    b@x.com,Bob,Ray\n\
                    A@X.com,,Lee\n\
                    a@x.com,Ann,Lee\n";

#[test]
fn in_file_duplicates_merge() {
    for batch in [1, 2, 100] {
        let mut store = MemStore::default();
        let mut o = opts();
        o.batch_size = batch;
        let r = run(&mut store, "c.csv", DUPS, &o).unwrap();
        assert_eq!(
            (r.loaded, r.merged, r.unchanged, r.skipped, r.rejected),
            (2, 1, 1, 0, 0),
            "batch {batch}"
        );
        assert_eq!(store.records.len(), 2);
        let a = by_email(&store, "a@x.com");
        assert_eq!(
            (a.get("first_name"), a.get("last_name")),
            (Some("Ann"), Some("Lee"))
        );
    }
}

#[test]
fn rows_with_one_address_in_other_forms_are_one_record() {
    // NFC and NFD `josé`, a Unicode domain and its punycode, a zero-width space: one
    // record each, found in the batch, across batches and in the store; `İ` stays apart.
    let body = "email,first_name\n\
                jos\u{e9}@example.com,José\n\
                zo\u{eb}@b\u{fc}cher.example,Zoë\n\
                jose\u{301}@example.com,Jo\n\
                zo\u{eb}@xn--bcher-kva.example,Zo\n\
                jo\u{200b}s\u{e9}@example.com,J\n\
                \u{130}nci@example.com,I\n\
                inci@example.com,i\n";
    for batch in [1, 2, 100] {
        let mut store = MemStore::default();
        let mut o = opts();
        o.batch_size = batch;
        let r = run(&mut store, "c.csv", body, &o).unwrap();
        assert_eq!((r.loaded, r.merged), (4, 3), "batch {batch}");
        let zoe = by_email(&store, "zo\u{eb}@b\u{fc}cher.example");
        assert_eq!(zoe.get("first_name"), Some("Zo"), "batch {batch}");
    }
}

/// A store holding one full contact and one full company, and their ids.
fn full_records() -> (MemStore, RecordId, RecordId) {
    let mut store = MemStore::default();
    let fields = |pairs: &[(&str, &str)]| -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let contact = Record {
        id: RecordId::new(),
        kind: ObjectKind::Contact,
        fields: fields(&[
            ("email", "ann@x.com"),
            ("first_name", "Ann"),
            ("last_name", "Lee"),
            ("job_title", "CTO"),
            ("phone", "+44 1"),
        ]),
        updated_at: 5,
        archived_at: None,
    };
    let company = Record {
        id: RecordId::new(),
        kind: ObjectKind::Company,
        fields: fields(&[
            ("domain", "acme.com"),
            ("name", "Acme"),
            ("industry", "Tools"),
        ]),
        updated_at: 5,
        archived_at: None,
    };
    let ids = (contact.id.clone(), company.id.clone());
    store.records.insert(contact.id.clone(), contact);
    store.records.insert(company.id.clone(), company);
    (store, ids.0, ids.1)
}

#[test]
fn a_partial_file_updates_only_its_fields_by_id_email_or_domain() {
    for (kind, body) in [
        (ObjectKind::Contact, "id,phone,job_title\n{c},+44 2,\n"),
        (
            ObjectKind::Contact,
            "email,phone,job_title\nANN@x.com,+44 2,\n",
        ),
        (ObjectKind::Company, "id,industry,name\n{o},+44 2,\n"),
        (
            ObjectKind::Company,
            "domain,industry,name\nhttps://www.acme.com/,+44 2,\n",
        ),
    ] {
        for blank in [Blank::Keep, Blank::Clear] {
            let (mut store, c, o) = full_records();
            let body = body.replace("{c}", &c.0).replace("{o}", &o.0);
            let mut opts = ImportOptions::new(kind, NOW, 7);
            opts.blank = blank;
            let r = run(&mut store, "p.csv", &body, &opts).unwrap();
            let what = format!("{kind} {body:?} {blank:?}");
            assert_eq!((r.loaded, r.merged, r.rejected), (0, 1, 0), "{what}");
            assert_eq!(store.records.len(), 2, "{what}");
            let id = if kind == ObjectKind::Contact { &c } else { &o };
            let rec = &store.records[id];
            let changed = if kind == ObjectKind::Contact {
                "phone"
            } else {
                "industry"
            };
            assert_eq!(rec.get(changed), Some("+44 2"), "{what}");
            let (kept, emptied) = if kind == ObjectKind::Contact {
                (["email", "first_name", "last_name"], "job_title")
            } else {
                (["domain", "domain", "domain"], "name")
            };
            for f in kept {
                assert!(rec.get(f).is_some(), "{what}: {f} kept");
            }
            assert_eq!(
                rec.get(emptied).is_none(),
                blank == Blank::Clear,
                "{what}: {emptied}"
            );
        }
    }
}

#[test]
fn a_row_archiving_a_stored_contact_by_email_archives_it() {
    let (mut store, c, _) = full_records();
    let r = run(
        &mut store,
        "a.csv",
        "email,archived_at\nann@x.com,2026-03-01T00:00:00Z\n",
        &opts(),
    )
    .unwrap();
    assert_eq!((r.loaded, r.merged), (0, 1));
    let contacts: Vec<&Record> = store
        .records
        .values()
        .filter(|r| r.kind == ObjectKind::Contact)
        .collect();
    assert_eq!(contacts.len(), 1, "no second record");
    assert_eq!(contacts[0].id, c);
    assert!(contacts[0].archived_at.is_some());
    assert_eq!(contacts[0].get("first_name"), Some("Ann"));
}

fn refusal(name: &str, body: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, name, body);
    import_into(&mut MemStore::default(), &p, &opts(), &NoProgress)
        .unwrap_err()
        .to_string()
}

fn utf16le(text: &str, bom: bool) -> Vec<u8> {
    let mut out = if bom { vec![0xff, 0xfe] } else { Vec::new() };
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

#[test]
fn utf16_files_are_named_with_the_way_to_utf8() {
    let text = "email,first_name\nann@x.com,Ann\n";
    let be: Vec<u8> = [0xfe, 0xff]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    for (body, says) in [
        (
            utf16le(text, true),
            "UTF-16 (little-endian, with a byte-order mark)",
        ),
        (
            utf16le(text, false),
            "UTF-16 (little-endian, without a byte-order mark)",
        ),
        (be, "UTF-16 (big-endian, with a byte-order mark)"),
    ] {
        for name in ["c.csv", "c.jsonl"] {
            let err = refusal(name, &body);
            assert!(err.contains(says), "{err}");
            assert!(
                err.contains("save it as UTF-8") && err.contains("iconv"),
                "{err}"
            );
            assert!(!err.contains("NUL"), "{err}");
        }
    }
}

#[test]
fn a_utf8_byte_order_mark_is_read_past() {
    let mut store = MemStore::default();
    let r = run(
        &mut store,
        "c.csv",
        "\u{feff}email,first_name\nann@x.com,Ann\n",
        &opts(),
    )
    .unwrap();
    assert_eq!((r.loaded, r.rejected), (1, 0));
    let r = run(
        &mut store,
        "c.jsonl",
        "\u{feff}{\"email\":\"bo@x.com\"}\n",
        &opts(),
    )
    .unwrap();
    assert_eq!((r.loaded, r.rejected), (1, 0));
}

#[test]
fn a_nul_byte_is_reported_with_its_line() {
    let mut body = String::from("email,first_name\n");
    for i in 0..48 {
        body.push_str(&format!("p{i}@x.com,P\n"));
    }
    body.push_str("bad@x.com,B\0d\n");
    let err = refusal("c.csv", body.as_bytes());
    assert!(err.contains("line 50, byte 12"), "{err}");
    // Past the first bytes looked at, the row is rejected with its line.
    let mut body = String::from("email,first_name\n");
    for i in 0..1000 {
        body.push_str(&format!("p{i}@x.com,P\n"));
    }
    body.push_str("bad@x.com,B\0d\n");
    let mut store = MemStore::default();
    let r = run(&mut store, "c.csv", &body, &opts()).unwrap();
    assert_eq!((r.loaded, r.rejected), (1000, 1));
    assert_eq!(lines(&r), vec![1002]);
    assert!(r.rejections[0].reason.contains("NUL"), "{:?}", r.rejections);
}

#[test]
fn errors_quote_a_huge_line_cut() {
    let huge = "y".repeat(2_000_000);
    let err = refusal("c.csv", format!("{huge}\nmore\n").as_bytes());
    assert!(err.len() < 1_000, "{} bytes", err.len());
    assert!(
        err.contains("(2000000 characters)"),
        "{}",
        &err[..200.min(err.len())]
    );
    let mut store = MemStore::default();
    let r = run(
        &mut store,
        "c.csv",
        &format!("email,first_name\n{huge},Ann\n"),
        &opts(),
    )
    .unwrap();
    assert!(
        r.rejections[0].reason.len() < 300,
        "{}",
        r.rejections[0].reason.len()
    );
}

#[test]
fn a_broken_jsonl_line_is_named_by_its_line_in_the_file() {
    let mut store = MemStore::default();
    let body = "{\"email\":\"a@x.com\"}\n{\"email\":\"b@x.com\"}\n{\"email\": oops}\n";
    let r = run(&mut store, "c.jsonl", body, &opts()).unwrap();
    assert_eq!(lines(&r), vec![3]);
    let reason = &r.rejections[0].reason;
    assert!(!reason.contains("line 1"), "{reason}");
    assert!(reason.contains("column 11"), "{reason}");
}

#[test]
fn in_file_duplicates_skip() {
    for batch in [1, 100] {
        let mut store = MemStore::default();
        let mut o = opts();
        o.batch_size = batch;
        o.on_duplicate = OnDuplicate::Skip;
        let r = run(&mut store, "c.csv", DUPS, &o).unwrap();
        assert_eq!((r.loaded, r.merged, r.skipped), (2, 0, 2), "batch {batch}");
        assert_eq!(by_email(&store, "a@x.com").get("last_name"), None);
    }
}

#[test]
fn in_file_duplicates_error_name_the_first_line() {
    for batch in [1, 3, 100] {
        let mut store = MemStore::default();
        let mut o = opts();
        o.batch_size = batch;
        o.on_duplicate = OnDuplicate::Error;
        let r = run(&mut store, "c.csv", DUPS, &o).unwrap();
        assert_eq!((r.loaded, r.rejected), (2, 2), "batch {batch}");
        assert_eq!(lines(&r), vec![4, 5]);
        for rej in &r.rejections {
            assert!(
                rej.reason.contains("duplicate of line 2")
                    && rej.reason.contains("`email` `a@x.com`"),
                "batch {batch}: {}",
                rej.reason
            );
        }
    }
}

#[test]
fn duplicates_of_stored_records() {
    let existing = Record {
        id: RecordId::new(),
        kind: ObjectKind::Contact,
        fields: [
            ("email".to_string(), "a@x.com".to_string()),
            ("first_name".to_string(), "Ann".to_string()),
            ("job_title".to_string(), "CTO".to_string()),
        ]
        .into(),
        updated_at: 5,
        archived_at: None,
    };
    let seeded = || {
        let mut s = MemStore::default();
        s.records.insert(existing.id.clone(), existing.clone());
        s
    };
    let body = "email,last_name,job_title\nA@x.com,Lee,\n";

    let mut store = seeded();
    let r = run(&mut store, "c.csv", body, &opts()).unwrap();
    assert_eq!((r.loaded, r.merged), (0, 1));
    let a = &store.records[&existing.id];
    assert_eq!(a.get("last_name"), Some("Lee"));
    assert_eq!(a.get("job_title"), Some("CTO"), "empty values do not erase");
    assert_eq!(a.updated_at, NOW);

    let mut o = opts();
    o.on_duplicate = OnDuplicate::Skip;
    let mut store = seeded();
    let r = run(&mut store, "c.csv", body, &o).unwrap();
    assert_eq!((r.loaded, r.skipped), (0, 1));
    assert_eq!(store.records[&existing.id], existing);

    o.on_duplicate = OnDuplicate::Error;
    let mut store = seeded();
    let r = run(&mut store, "c.csv", body, &o).unwrap();
    assert_eq!(lines(&r), vec![2]);
    assert!(
        r.rejections[0]
            .reason
            .contains(&format!("record `{}` already in the store", existing.id)),
        "{}",
        r.rejections[0].reason
    );
    assert_eq!(store.records[&existing.id], existing);

    let mut store = seeded();
    let r = run(
        &mut store,
        "c.csv",
        "email,first_name\na@x.com,Ann\n",
        &opts(),
    )
    .unwrap();
    assert_eq!((r.merged, r.unchanged), (0, 1));
    assert_eq!(store.records[&existing.id].updated_at, 5);
}

#[test]
fn batches_call_the_store_once_each() {
    let mut body = String::from("email\n");
    for i in 0..25 {
        body.push_str(&format!("p{i}@x.com\n"));
    }
    let mut store = MemStore::default();
    let mut o = opts();
    o.batch_size = 10;
    let r = run(&mut store, "c.csv", &body, &o).unwrap();
    assert_eq!((r.loaded, store.saves, store.records.len()), (25, 3, 25));
}

#[test]
fn jsonl_rows_and_their_errors() {
    let mut store = MemStore::default();
    let body = "{\"email\":\"a@x.com\",\"First Name\":\"Ann\",\"warmness\":3.50,\"custom.vip\":true}\n\
                \n\
                {\"email\":\"b@x.com\",\n\
                {\"email\":\"c@x.com\",\"pet\":\"cat\"}\n\
                {\"email\":[\"d@x.com\"]}\n\
                [1,2]\n\
                {\"email\":\"e@x.com\",\"first_name\":null}\n";
    let r = run(&mut store, "c.jsonl", body, &opts()).unwrap();
    assert_eq!((r.rows, r.loaded), (6, 2));
    assert_eq!(lines(&r), vec![3, 4, 5, 6]);
    assert!(r.rejections[0].reason.contains("not a JSON object"));
    assert!(
        r.rejections[1]
            .reason
            .contains("`pet` is not a contact field")
    );
    assert!(r.rejections[2].reason.contains("array or object"));
    let a = by_email(&store, "a@x.com");
    assert_eq!(a.get("warmness"), Some("3.5"));
    assert_eq!(a.get("custom.vip"), Some("true"));
    assert_eq!(a.get("first_name"), Some("Ann"));
    assert_eq!(by_email(&store, "e@x.com").get("first_name"), None);
}

#[test]
fn format_is_sniffed_when_the_name_says_nothing() {
    let mut store = MemStore::default();
    let r = run(
        &mut store,
        "contacts.dat",
        "{\"email\":\"a@x.com\"}\n",
        &opts(),
    )
    .unwrap();
    assert_eq!((r.format, r.loaded), (Format::Jsonl, 1));
    let r = run(&mut store, "more.dat", "email\nb@x.com\n", &opts()).unwrap();
    assert_eq!((r.format, r.loaded), (Format::Csv, 1));
}

#[test]
fn companies_match_on_lower_cased_domain() {
    let mut store = MemStore::default();
    let o = ImportOptions::new(ObjectKind::Company, NOW, 1);
    let r = run(
        &mut store,
        "co.csv",
        "Company Name,Website,Industry\nAcme,ACME.com,Tools\nAcme Inc,acme.com,\n",
        &o,
    )
    .unwrap();
    assert_eq!((r.loaded, r.merged), (1, 1));
    let acme = store.records.values().next().unwrap();
    assert_eq!(acme.get("name"), Some("Acme Inc"));
    assert_eq!(acme.get("domain"), Some("acme.com"));
    assert_eq!(acme.get("industry"), Some("Tools"));
}

#[test]
fn refs_must_be_record_ids() {
    let mut store = MemStore::default();
    let o = ImportOptions::new(ObjectKind::Activity, NOW, 1);
    let id = RecordId::new();
    let body = format!(
        "subject,contact,due date,done\nCall,{id},2026-03-01,yes\nEmail,Ann,2026-03-02,no\nMeet,,31/02/2026,no\n"
    );
    let r = run(&mut store, "a.csv", &body, &o).unwrap();
    assert_eq!((r.loaded, lines(&r)), (1, vec![3, 4]));
    assert!(r.rejections[0].reason.contains("not a contact record id"));
    assert!(r.rejections[1].reason.contains("column `due date`"));
    let call = store.records.values().next().unwrap();
    assert_eq!(call.get("contact_id"), Some(id.as_str()));
    assert_eq!(call.get("done"), Some("true"));
}
