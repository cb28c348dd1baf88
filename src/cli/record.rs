//! Shared by the commands that look at one record or write the store: finding a record the way
//! users name it, and opening the state file for reading or under the run lock.

use crate::error::{Error, hinted};
use crate::model::{ObjectKind, Record, RecordId};
use crate::store::{ConflictDecision, RunLock, Store, StoreError};

use super::Context;

/// Finds the record `spec` names: a local id (ULID), `CONNECTION:REMOTE-ID`, a contact's
/// email, or a company's domain. Archived records are found by id and remote id only.
pub fn find(store: &Store, spec: &str) -> anyhow::Result<Record> {
    let spec = spec.trim();
    if let Some(id) = RecordId::parse(spec)
        && let Some(record) = store.get_record(&id)?
    {
        return Ok(record);
    }
    if let Some((connection, remote_id)) = spec.split_once(':')
        && !connection.contains('@')
        && crate::config::check_connection_name(connection).is_ok()
    {
        for kind in ObjectKind::ALL {
            let links = store.links_by_remote_ids(connection, kind, &[remote_id.to_string()])?;
            if let Some(link) = links.get(remote_id)
                && let Some(record) = store.get_record(&link.local_id)?
            {
                return Ok(record);
            }
        }
        return Err(hinted(
            format!("no local record is linked to `{remote_id}` in connection `{connection}`"),
            "run `crmsync sync` to pull it first, or name the record by its email or local id",
        ));
    }
    // By email or domain, archived records included: one archived by a sync is still there
    // to be explained.
    let value = spec.to_lowercase();
    for kind in [ObjectKind::Contact, ObjectKind::Company] {
        if let Some(record) = store.find_by_match_key(kind, &value)? {
            return Ok(record);
        }
    }
    Err(hinted(
        format!("no record `{spec}` in the local store"),
        "name a record by its local id, a contact's email, a company's domain, or CONNECTION:REMOTE-ID; `crmsync export` lists them",
    ))
}

/// The usage error for a field name that is not a field of `kind`, listing the fields.
pub fn unknown_field(kind: ObjectKind, field: &str) -> anyhow::Error {
    let known: Vec<String> = kind
        .standard_fields()
        .iter()
        .map(|d| format!("`{}`", d.name))
        .collect();
    Error::usage(format!(
        "`{field}` is not a {kind} field; the fields are {}, and custom fields are named `custom.NAME`",
        known.join(", ")
    ))
    .into()
}

/// Opens the state file for a command that only looks. `None` when there is no state file
/// yet, which is not an error for such commands.
pub fn open_for_reading(ctx: &Context) -> anyhow::Result<Option<Store>> {
    match Store::open_read_only(&ctx.state_path) {
        Ok(store) => Ok(Some(store)),
        Err(StoreError::Missing { .. }) => Ok(None),
        // An older file is upgraded by any writing command; opening it read-write here would
        // write from a command that promises not to, so say what to do instead.
        Err(e) => Err(e.into()),
    }
}

/// Opens the state file for reading, saying there is nothing yet when it does not exist.
pub fn open_existing(ctx: &Context) -> anyhow::Result<Store> {
    open_for_reading(ctx)?.ok_or_else(|| {
        hinted(
            format!("no state file at `{}` yet", ctx.state_path.display()),
            "run `crmsync import FILE` or `crmsync sync` first",
        )
    })
}

/// Opens (creating and migrating as needed) the state file and takes the run lock, reporting on
/// stderr a lock taken over from a process that died.
pub fn open_locked(ctx: &Context) -> anyhow::Result<(Store, RunLock)> {
    // Lock first: opening migrates an older file, which must not happen under another run.
    let lock = RunLock::acquire_noting(&ctx.state_path, &|pid| ctx.note_waiting_for_listener(pid))?;
    if let Some(pid) = lock.took_over_from {
        ctx.out.warn(format!(
            "took over the run lock of `{}` from process {pid}, which is no longer running",
            ctx.state_path.display()
        ));
    }
    let mut store = Store::open(&ctx.state_path)?;
    store.set_clock(ctx.clock.clone());
    Ok((store, lock))
}

/// A time in milliseconds since the epoch as `2026-01-15 12:00:00Z`.
pub fn when(ms: crate::model::Millis) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        None => ms.to_string(),
    }
}

/// A time compared by `newest-wins`, with where it came from: `2026-01-15 12:00:00Z (field)`.
pub fn compared_time(at: crate::model::Millis, source: &str) -> String {
    format!("{} ({source})", when(at))
}

/// How a sync decided a conflict, on one line:
/// `newest-wins: local 2026-01-15 12:00:00Z (field) vs remote 2026-01-15 12:05:00Z (record) → remote`;
/// `not recorded` for a conflict kept by a build that did not record decisions.
pub fn decision(d: Option<&ConflictDecision>) -> String {
    match d {
        Some(d) => format!(
            "{}: local {} vs remote {} → {}",
            d.policy,
            compared_time(d.local_updated_at, &d.local_time_source),
            compared_time(d.remote_updated_at, &d.remote_time_source),
            d.outcome
        ),
        None => NOT_RECORDED.to_string(),
    }
}

/// Shown for a conflict's decision kept before the state file recorded decisions.
pub const NOT_RECORDED: &str = "not recorded";
