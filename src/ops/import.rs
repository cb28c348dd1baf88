//! Loading a CSV or JSONL file into the local store as one recorded run: the request checked
//! before the state file is touched, the run's bookkeeping, and which records it changed (to
//! push them with `import --to`).

use std::collections::HashSet;
use std::path::Path;

use crate::config::OnDuplicate;
use crate::error::Error;
use crate::model::{ObjectKind, RecordId};
use crate::store::{RunOutcome, Store};
use crate::transfer::{
    Blank, Format, ImportError, ImportOptions, ImportProgress, ImportReport, parse_map_spec,
};

use super::Settings;

/// What to import, as the command line asked.
pub struct Request<'a> {
    pub file: &'a Path,
    pub object: ObjectKind,
    pub format: Option<Format>,
    /// `column=field` specs.
    pub maps: &'a [String],
    /// `None`: `import.on_duplicate`.
    pub on_duplicate: Option<OnDuplicate>,
    pub blank: Blank,
    pub raw: bool,
    /// The connection the imported records are pushed to afterwards.
    pub to: Option<&'a str>,
}

/// The import's options, or the usage error (exit 2) that refuses it before the state file
/// is touched: an unknown `--to` connection, a file that cannot be opened, a bad `--map`.
pub fn options(settings: &Settings<'_>, req: &Request<'_>) -> anyhow::Result<ImportOptions> {
    if let Some(connection) = req.to {
        settings
            .config
            .connection(connection)
            .map_err(Error::usage)?;
    }
    match std::fs::metadata(req.file) {
        Ok(m) if m.is_dir() => {
            return Err(Error::usage(format!(
                "`{}` is a directory, not a CSV or JSONL file; nothing was imported",
                req.file.display()
            ))
            .into());
        }
        Ok(_) => {}
        Err(e) => {
            return Err(Error::usage(format!(
                "cannot read `{}`: {e}; nothing was imported",
                req.file.display()
            ))
            .into());
        }
    }
    let config = settings.config;
    let mut opts = ImportOptions::new(req.object, settings.clock.now(), 0);
    opts.format = req.format;
    for spec in req.maps {
        let (column, target) = parse_map_spec(req.object, spec)
            .map_err(|why| Error::usage(format!("bad `--map {spec}`: {why}")))?;
        opts.map.push((column, target));
    }
    opts.on_duplicate = req.on_duplicate.unwrap_or(config.import.on_duplicate);
    opts.default_calling_code = config.import.default_calling_code.clone();
    opts.match_keys = crate::connection::match_keys(config, None, req.object);
    opts.blank = req.blank;
    opts.raw = req.raw;
    Ok(opts)
}

/// What an import did.
pub struct Imported {
    pub report: ImportReport,
    /// The records of the file's object this import created or changed.
    pub changed: HashSet<RecordId>,
    /// The records rows matched without changing them that are not linked in the connection
    /// the import goes to: a tagged import run again pushes them, so that the records an
    /// earlier run failed to create still get their tag (an untagged `sync` would not).
    pub unlinked: HashSet<RecordId>,
}

/// Imports `file` into `store` (open under the run lock) as an `import` run, recorded with
/// its counts or its error. `to` is the connection the records go to next, for the run's
/// record.
pub fn load(
    store: &mut Store,
    settings: &Settings<'_>,
    file: &Path,
    mut opts: ImportOptions,
    to: Option<&str>,
    progress: &dyn ImportProgress,
) -> anyhow::Result<Imported> {
    let connections: Vec<String> = to.iter().map(|c| c.to_string()).collect();
    opts.run = store.begin_run("import", &connections, opts.now)?;
    let seq_before = store.max_seq()?;
    let result = crate::transfer::import_file(store, file, &opts, progress);
    progress.finish();
    let report = match result {
        Ok(report) => report,
        Err(err) => {
            let _ = store.finish_run(
                opts.run,
                RunOutcome::Failed,
                &serde_json::json!({}),
                Some(&err.to_string()),
                settings.clock.now(),
            );
            return Err(refusal(err));
        }
    };
    let outcome = if report.rejected > 0 {
        RunOutcome::Partial
    } else {
        RunOutcome::Ok
    };
    store.finish_run(
        opts.run,
        outcome,
        &serde_json::json!({
            "rows": report.rows,
            "loaded": report.loaded,
            "merged": report.merged,
            "unchanged": report.unchanged,
            "skipped": report.skipped,
            "rejected": report.rejected,
        }),
        None,
        settings.clock.now(),
    )?;
    // Only what this import created or changed is pushed; rows that changed nothing locally
    // are left to `crmsync sync`.
    let (changed, unlinked) = match to {
        Some(connection) => {
            let linked = store.links_by_local_ids(connection, opts.kind, &report.unchanged_ids)?;
            let unlinked = report
                .unchanged_ids
                .iter()
                .filter(|id| linked.get(*id).is_none_or(|l| l.retired))
                .cloned()
                .collect();
            (
                store.record_ids_changed_since(opts.kind, seq_before)?,
                unlinked,
            )
        }
        None => (HashSet::new(), HashSet::new()),
    };
    Ok(Imported {
        report,
        changed,
        unlinked,
    })
}

/// A file refused before anything was written is the user's to fix (exit 2); a failure while
/// reading or saving is an error (exit 1).
fn refusal(err: ImportError) -> anyhow::Error {
    match err {
        ImportError::NotTabular { .. }
        | ImportError::UnknownColumns { .. }
        | ImportError::NoFields { .. }
        | ImportError::Options(_) => Error::usage(format!("{err}; nothing was imported")).into(),
        other => other.into(),
    }
}
