//! Import throughput: a generated 1,000,000-row contacts CSV into a fresh state file, against
//! `sqlite3 .import` of the same file.
//!
//! The import runs in a child process (this bench binary again, with
//! `CRMSYNC_BENCH_IMPORT_CHILD` set), so its peak memory — `VmHWM` from `/proc/self/status`,
//! the resident high-water mark — is the import's alone, not the generator's or another
//! bench's. Targets: at least 150,000 rows/s, under 300 MB peak, within 3× of `sqlite3`.
//!
//! The two imports take turns, [`ROUNDS`] times each, every one into a fresh file and after a
//! `sync`, so that neither is timed while the other's files (or the generated CSV) are still
//! being written back to disk; the medians are compared.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crmsync::model::ObjectKind;
use crmsync::store::Store;
use crmsync::transfer::{ImportOptions, NoProgress, import_file};

/// Set in the child process: `CSV_PATH` and `STATE_PATH`, separated by a newline.
const CHILD: &str = "CRMSYNC_BENCH_IMPORT_CHILD";
const ROWS: u64 = 1_000_000;

/// In the child process, runs the import, prints its figures and returns `true`; `main` then
/// returns at once. Elsewhere returns `false`.
pub fn child_main_if_requested() -> bool {
    let Ok(spec) = std::env::var(CHILD) else {
        return false;
    };
    let (csv, state) = spec.split_once('\n').expect("CSV and state paths");
    let mut store = Store::open(Path::new(state)).expect("open the state file");
    let opts = ImportOptions::new(ObjectKind::Contact, 1_790_000_000_000, 1);
    let started = Instant::now();
    let report = import_file(&mut store, Path::new(csv), &opts, &NoProgress).expect("import");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "rows={} loaded={} rejected={} secs={secs} vmhwm_kb={}",
        report.rows,
        report.loaded,
        report.rejected,
        vmhwm_kb().unwrap_or(0)
    );
    true
}

fn vmhwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn generate(path: &Path) -> std::io::Result<()> {
    const FIRST: [&str; 8] = [
        "Amelia", "Oliver", "Sofía", "Liam", "Chloé", "Noah", "Freya", "Mateo",
    ];
    const LAST: [&str; 8] = [
        "Whitfield",
        "Okafor",
        "García",
        "Brennan",
        "Dubois",
        "Schneider",
        "Halvorsen",
        "Rossi",
    ];
    const COMPANY: [&str; 4] = [
        "Northwind Traders",
        "\"Maple, Oak & Co\"",
        "Kestrel Robotics",
        "Café Lumière",
    ];
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(
        w,
        "First Name,Last Name,Email,Phone Number,Company,Title,Warmness"
    )?;
    for i in 0..ROWS {
        let f = FIRST[(i % 8) as usize];
        let l = LAST[(i / 8 % 8) as usize];
        writeln!(
            w,
            "{f},{l},person{i}@example{}.com,+44 20 7946 {:04},{},Engineer,{}",
            i % 97,
            i % 10_000,
            COMPANY[(i % 4) as usize],
            i % 10
        )?;
    }
    w.flush()
}

/// Rounds of the comparison; each figure printed is the median of its rounds.
const ROUNDS: usize = 3;

pub fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("contacts.csv");
    generate(&csv).expect("generate the CSV");
    let size_mb = std::fs::metadata(&csv).map_or(0, |m| m.len()) / 1_000_000;
    println!("import: {ROWS} contacts, {size_mb} MB of CSV; {ROUNDS} rounds, medians shown");

    let (mut ours, mut theirs, mut peak_kb) = (Vec::new(), Vec::new(), 0.0_f64);
    let mut counts = String::new();
    for round in 0..ROUNDS {
        // Each import starts with nothing of the step before it still being written back,
        // so neither side is timed against the other's (or the generator's) disk writes.
        settle();
        let state = dir.path().join(format!("state-{round}.db"));
        let child = match import_child(&csv, &state) {
            Ok(figures) => figures,
            Err(why) => {
                println!("import: the child failed: {why}");
                return;
            }
        };
        ours.push(child.secs);
        peak_kb = peak_kb.max(child.vmhwm_kb);
        counts = format!("{} loaded, {} rejected", child.loaded, child.rejected);
        settle();
        match sqlite_import(&dir.path().join(format!("plain-{round}.db")), &csv) {
            Ok(secs) => theirs.push(secs),
            Err(why) => println!("import: no sqlite3 comparison: {why}"),
        }
    }
    let secs = median(&ours);
    println!(
        "import: {ROWS} rows ({counts}) in {secs:.2} s = {:.0} rows/s (target ≥ 150000); peak RSS {:.0} MB (target < 300)",
        ROWS as f64 / secs,
        peak_kb / 1024.0
    );
    if !theirs.is_empty() {
        let sqlite_secs = median(&theirs);
        println!(
            "import: sqlite3 .import took {sqlite_secs:.2} s; crmsync is {:.2}× that (target ≤ 3); rounds: crmsync {}, sqlite3 {}",
            secs / sqlite_secs,
            list(&ours),
            list(&theirs)
        );
    }
}

/// What the import child printed.
struct ChildFigures {
    secs: f64,
    loaded: f64,
    rejected: f64,
    vmhwm_kb: f64,
}

fn import_child(csv: &Path, state: &Path) -> Result<ChildFigures, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .env(CHILD, format!("{}\n{}", csv.display(), state.display()))
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let figure = |name: &str| -> f64 {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    Ok(ChildFigures {
        secs: figure("secs"),
        loaded: figure("loaded"),
        rejected: figure("rejected"),
        vmhwm_kb: figure("vmhwm_kb"),
    })
}

/// Writes every dirty page of the system out (`sync`), and waits for it.
fn settle() {
    let _ = Command::new("sync").status();
}

fn median(v: &[f64]) -> f64 {
    let mut sorted = v.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|s| format!("{s:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn sqlite_import(db: &Path, csv: &Path) -> Result<f64, String> {
    let started = Instant::now();
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(format!(".import --csv {} contacts", csv.display()))
        .output()
        .map_err(|e| {
            format!("cannot run `sqlite3` ({e}); install it with `apt-get install sqlite3`")
        })?;
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "`sqlite3` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(secs)
}
