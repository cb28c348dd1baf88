//! A CRM's records and answers in the planner's terms: a remote record as a plan's remote side,
//! and the base a write's answer leaves.

use crate::engine::plan::{Op, RemoteSide};
use crate::mapping::FieldMap;
use crate::model::{FieldType, Fields, ObjectKind};
use crate::providers::RemoteRecord;

use super::ids::IdCache;

/// A record read from `connection` in canonical terms; each value that does not convert is
/// a warning in `warnings`, naming the record and the field. Its time is put on this
/// machine's clock: the CRM's, less `skew` ([`Provider::clock_skew`]), so that
/// `newest-wins` compares like with like.
pub(crate) fn remote_side(
    connection: &str,
    object: ObjectKind,
    map: &FieldMap,
    rec: &RemoteRecord,
    ids: &IdCache,
    skew: crate::model::Millis,
    warnings: &mut Vec<String>,
) -> RemoteSide {
    let inbound = map.from_remote(rec, ids);
    for w in &inbound.warnings {
        warnings.push(format!(
            "{connection} {object} `{}`: field `{}` (`{}` = `{}`): {}",
            rec.id, w.field, w.remote, w.value, w.message
        ));
    }
    let mut side = RemoteSide::from_inbound(&rec.id, inbound, rec.updated_at - skew, rec.archived);
    for at in side.field_updated_at.values_mut() {
        *at -= skew;
    }
    side
}

/// Whether a create left `field` empty.
pub(super) fn fields_sent_empty(op: &Op, field: &str) -> bool {
    matches!(op, Op::RemoteCreate { fields, .. } if !fields.contains_key(field))
}

/// The base after a successful create or update: the planned base, with every field this op
/// wrote replaced by the value the CRM answered.
pub(super) fn answered_base(
    map: &FieldMap,
    op: &Op,
    answer: &RemoteRecord,
    ids: &IdCache,
) -> Fields {
    let mut base = op.base().clone();
    let inbound = map.from_remote(answer, ids);
    let written: Vec<&str> = match op {
        Op::RemoteCreate { fields, .. } => {
            // Every pushed field, set or not (an absent one is absent in the CRM too).
            map.rules
                .iter()
                .filter(|r| r.direction.pushes())
                .map(|r| r.field.as_str())
                .filter(|f| fields.contains_key(*f) || base.contains_key(*f))
                .collect()
        }
        Op::RemoteUpdate { changes, .. } => changes.iter().map(|c| c.field.as_str()).collect(),
        _ => Vec::new(),
    };
    for field in written {
        let Some(rule) = map.rule(field) else {
            continue;
        };
        // A property the answer does not mention keeps the planned value (what was sent):
        // CRMs answer a write with a subset of the record's properties.
        if !answer.props.contains_key(&rule.remote)
            && (matches!(op, Op::RemoteUpdate { .. }) || !fields_sent_empty(op, field))
        {
            continue;
        }
        if inbound.unreadable.contains(field) {
            continue;
        }
        match inbound.fields.get(field) {
            Some(v) => {
                base.insert(field.to_string(), v.clone());
            }
            // An answered reference we cannot translate keeps the planned value.
            None if matches!(rule.ty, FieldType::Ref(_))
                && answer.props.contains_key(&rule.remote) => {}
            None => {
                base.remove(field);
            }
        }
    }
    base
}
