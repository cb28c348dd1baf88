//! Per-field times for `newest-wins`, looked up only where a conflict needs them.
//!
//! DESIGN §3: `newest-wins` uses field-level timestamps where the CRM has them, else
//! record-level ones. Record times alone decide wrongly when a record was touched after an old
//! edit of the conflicting field (another field edited since, on either side). Per-field times
//! cost extra reads, HubSpot's change feed has none, and only a conflict uses them, so the
//! engine first plans a page with what it has; then, for the records whose plan holds a
//! `newest-wins` conflict, [`refine`] looks up
//!
//! * the remote times of the conflicting properties, with one [`Provider::field_times`] call
//!   for all of them (the provider batches: HubSpot reads property history 100 records a
//!   call), and
//! * the local times of those fields, with one store query ([`Store::local_field_times`]: the
//!   latest audit row of each field),
//!
//! and plans just those records again with the better inputs. A conflict under another policy
//! is decided without times, but the times are recorded with it (`conflicts list`): its local
//! field time is looked up the same way (the audit trail is at hand), its remote one is not
//! (that would cost a CRM call for nothing it decides), so it stays the record's. The planner stays pure; where a
//! time is missing it falls back to the record's time. A failed history read does not fail the
//! run: those records are decided on the remote record time (and the local field times, which
//! are always at hand), with a warning naming the connection; the engine gives that warning
//! once per connection and run, not once per failed read.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::plan::{self, Plan, PlanInput, PlanItem};
use crate::mapping::ConflictPolicy;
use crate::model::RecordId;
use crate::providers::{FieldTimes, Provider};
use crate::store::{Store, StoreError};

/// A plan made again with per-field times for its `newest-wins` conflicts.
pub struct Refined {
    pub plan: Plan,
    /// Set when the CRM's field times could not be read (the run goes on).
    pub warning: Option<String>,
}

/// Plans again, with per-field times, the records of `input` whose plan `planned` holds a
/// conflict (see the module docs): both sides' times for a `newest-wins` one, the local time
/// for the others. Without a conflict nothing is read and `planned` is returned as it is.
pub async fn refine(
    store: &Store,
    provider: &dyn Provider,
    connection: &str,
    input: PlanInput,
    planned: Plan,
) -> Result<Refined, StoreError> {
    // The fields whose times decide (`newest-wins`): both sides' times are looked up.
    let mut conflicting: BTreeMap<RecordId, BTreeSet<String>> = BTreeMap::new();
    // Every conflicting field: its local time, at hand in the audit trail, is recorded with
    // the conflict whatever the policy (no CRM call is made for these alone).
    let mut local_wanted: BTreeMap<RecordId, BTreeSet<String>> = BTreeMap::new();
    for c in &planned.conflicts {
        if c.policy == ConflictPolicy::NewestWins {
            conflicting
                .entry(c.local_id.clone())
                .or_default()
                .insert(c.field.clone());
        }
        local_wanted
            .entry(c.local_id.clone())
            .or_default()
            .insert(c.field.clone());
    }
    if local_wanted.is_empty() {
        return Ok(Refined {
            plan: planned,
            warning: None,
        });
    }
    let PlanInput {
        connection: input_connection,
        object,
        rules,
        on_delete,
        items,
    } = input;
    let mut items: Vec<PlanItem> = items
        .into_iter()
        .filter(|i| {
            i.remote.is_some()
                && i.local
                    .as_ref()
                    .is_some_and(|l| local_wanted.contains_key(&l.id))
        })
        .collect();
    let fields: BTreeSet<&String> = conflicting.values().flatten().collect();
    let mut properties: Vec<String> = rules
        .iter()
        .filter(|r| fields.contains(&r.field))
        .map(|r| r.remote.clone())
        .collect();
    properties.sort();
    properties.dedup();
    let remote_ids: Vec<String> = items
        .iter()
        .filter(|i| {
            i.local
                .as_ref()
                .is_some_and(|l| conflicting.contains_key(&l.id))
        })
        .filter_map(|i| i.remote.as_ref().map(|r| r.id.clone()))
        .collect();
    let read = if remote_ids.is_empty() {
        Ok(FieldTimes::new())
    } else {
        provider.field_times(object, &remote_ids, &properties).await
    };
    let (remote_times, warning) = match read {
        Ok(times) => (times, None),
        Err(e) => (
            FieldTimes::new(),
            Some(format!(
                "{connection}: could not read the CRM's field history for {} {object} \
                 record(s) with a newest-wins conflict, so their remote record times were \
                 compared instead (later failed history reads of {connection} in this run fall \
                 back the same way without a warning): {e}",
                remote_ids.len()
            )),
        ),
    };
    let local_ids: Vec<RecordId> = local_wanted.keys().cloned().collect();
    let mut local_times = store.local_field_times(&local_ids)?;
    for item in &mut items {
        let Some(local) = &item.local else { continue };
        let wanted = &local_wanted[&local.id];
        if let Some(times) = local_times.remove(&local.id) {
            item.local_field_updated_at = times
                .into_iter()
                .filter(|(f, _)| wanted.contains(f))
                .collect();
        }
        let Some(wanted) = conflicting.get(&local.id) else {
            continue;
        };
        if let Some(remote) = &mut item.remote
            && let Some(times) = remote_times.get(&remote.id)
        {
            for rule in rules.iter().filter(|r| wanted.contains(&r.field)) {
                if let Some(&at) = times.get(&rule.remote) {
                    // On this machine's clock, as the record's time is (see `remote_side`).
                    let at = at - provider.clock_skew().unwrap_or(0);
                    remote.field_updated_at.insert(rule.field.clone(), at);
                }
            }
        }
    }
    let again = plan::plan(&PlanInput {
        connection: input_connection,
        object,
        rules,
        on_delete,
        items,
    });
    let mut plan = planned;
    plan.replace_records(&local_ids.into_iter().collect(), again);
    Ok(Refined { plan, warning })
}
