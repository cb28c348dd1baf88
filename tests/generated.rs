//! Completions and man pages are generated from the clap definition and committed; this test
//! fails when they are stale. `CRMSYNC_BLESS=1 cargo test --test generated` rewrites them.

use std::path::Path;

#[test]
fn committed_completions_and_man_pages_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("CRMSYNC_BLESS").is_some() {
        crmsync::cli::man::write_generated(root).unwrap();
        return;
    }
    let fresh = tempfile::tempdir().unwrap();
    crmsync::cli::man::write_generated(fresh.path()).unwrap();
    let mut stale = Vec::new();
    for dir in ["completions", "man"] {
        for entry in std::fs::read_dir(fresh.path().join(dir)).unwrap() {
            let entry = entry.unwrap();
            let committed = root.join(dir).join(entry.file_name());
            let want = std::fs::read(entry.path()).unwrap();
            if std::fs::read(&committed).ok().as_deref() != Some(&want[..]) {
                stale.push(format!("{dir}/{}", entry.file_name().to_string_lossy()));
            }
        }
        // A page for a command that no longer exists is stale too.
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let name = entry.unwrap().file_name();
            if !fresh.path().join(dir).join(&name).exists() {
                stale.push(format!(
                    "{dir}/{} (no longer generated)",
                    name.to_string_lossy()
                ));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files: {stale:?}\nrun `CRMSYNC_BLESS=1 cargo test --test generated` and commit the result"
    );
}
