//! Resolving conflicts held by the `manual` policy: the chosen value goes into the local
//! record, and the next sync writes it to the CRM.

use crate::clock::Clock;
use crate::error::{Error, hinted};
use crate::model::normalize::normalize;
use crate::model::{FieldType, set_field};
use crate::store::{Conflict, ConflictFilter, Store, WriteOrigin};

/// Which value a resolution keeps.
pub enum Choice {
    /// The local record's value now.
    Local,
    /// The CRM's value as the conflict saw it.
    Remote,
    /// This value (checked against the field's type).
    Value(String),
}

/// Resolves conflict `id`, or every open one (of `connection`, where given), with `choice`;
/// returns the conflicts as resolved. `store` is open under the run lock.
pub fn resolve(
    store: &mut Store,
    clock: &dyn Clock,
    id: Option<i64>,
    connection: Option<String>,
    choice: &Choice,
) -> anyhow::Result<Vec<Conflict>> {
    let targets = match id {
        Some(id) => vec![open_conflict(store, id)?],
        None => store.list_open_conflicts(&ConflictFilter {
            connection,
            ..ConflictFilter::default()
        })?,
    };
    let mut resolved = Vec::new();
    for c in targets {
        let mut record = store.get_record(&c.local_id)?.ok_or_else(|| {
            anyhow::anyhow!(
                "conflict {} names record `{}`, which is not in the local store",
                c.id,
                c.local_id
            )
        })?;
        let (value, how) = match choice {
            // The record's value now, not the one seen when the conflict was found: a local
            // edit made since then is what "local" means to the user, and must not be undone.
            Choice::Local => (record.get(&c.field).map(str::to_string), "local"),
            Choice::Remote => (c.remote.clone(), "remote"),
            Choice::Value(v) => {
                let ty = c.kind.field_type(&c.field).unwrap_or(FieldType::Text);
                let v = normalize(ty, v).map_err(|e| {
                    Error::usage(format!(
                        "`{v}` is not a valid value for {} field `{}`: {e}",
                        c.kind, c.field
                    ))
                })?;
                (v, "value")
            }
        };
        set_field(
            &mut record.fields,
            &c.field,
            value.clone().unwrap_or_default(),
        );
        record.updated_at = clock.now();
        resolved.push(store.resolve_conflict_with(
            c.id,
            &record,
            value.as_deref(),
            how,
            &WriteOrigin::ConflictResolved { run: None },
        )?);
    }
    Ok(resolved)
}

/// Conflict `id`, which must exist and be open.
fn open_conflict(store: &Store, id: i64) -> anyhow::Result<Conflict> {
    let c = store.get_conflict(id)?.ok_or_else(|| {
        hinted(
            format!("there is no conflict {id}"),
            "run `crmsync conflicts list` to see the open ones",
        )
    })?;
    if c.resolved_at.is_some() {
        return Err(hinted(
            format!(
                "conflict {id} is already resolved (with {} by `{}`)",
                c.resolution
                    .as_deref()
                    .filter(|r| !r.is_empty())
                    .unwrap_or("—"),
                c.resolved_by.as_deref().unwrap_or("?")
            ),
            "run `crmsync conflicts list` to see the open ones",
        ));
    }
    Ok(c)
}
