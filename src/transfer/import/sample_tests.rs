//! Importing the sample files shipped in `samples/`.

use std::path::Path;

use crate::model::ObjectKind;
use crate::transfer::ImportOptions;

use super::*;
use crate::transfer::NoProgress;
use crate::transfer::mem::MemStore;

fn sample(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

/// `samples/README.md` describes exactly this outcome.
#[test]
fn sample_contacts_import_as_documented() {
    let mut store = MemStore::default();
    let o = ImportOptions::new(ObjectKind::Contact, 1_790_000_000_000, 1);
    let r = import_into(&mut store, &sample("contacts.csv"), &o, &NoProgress).unwrap();
    assert_eq!((r.rows, r.loaded, r.merged, r.rejected), (51, 47, 1, 3));
    let lines: Vec<u64> = r.rejections.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![8, 15, 42]);
    assert!(r.rejections[0].reason.contains("`freya.halvorsen@`"));
    assert!(r.rejections[1].reason.contains("`very warm`"));
    assert!(r.rejections[2].reason.contains("4 values"));
    let grace = store
        .records
        .values()
        .find(|r| r.get("email") == Some("grace.mensah@quillon.example"))
        .unwrap();
    assert_eq!(grace.get("company"), Some("Quillon Legal"));
    let rosa = store
        .records
        .values()
        .find(|r| r.get("first_name") == Some("Rosa"))
        .unwrap();
    assert_eq!(rosa.get("job_title"), Some("Head of Clinical Partnerships"));
}

#[test]
fn sample_companies_all_load() {
    let mut store = MemStore::default();
    let o = ImportOptions::new(ObjectKind::Company, 1_790_000_000_000, 1);
    let r = import_into(&mut store, &sample("companies.csv"), &o, &NoProgress).unwrap();
    assert_eq!((r.rows, r.loaded, r.rejected), (12, 12, 0));
}
