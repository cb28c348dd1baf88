//! Local and remote ids of the records a plan's reference fields name, loaded once per plan.

use std::collections::HashMap;

use crate::engine::StepError;
use crate::mapping::{FieldMap, IdLookup};
use crate::model::{FieldType, ObjectKind, RecordId};
use crate::providers::RemoteRecord;
use crate::store::Store;

impl IdLookup for IdCache {
    fn local_id(&self, kind: ObjectKind, remote_id: &str) -> Option<RecordId> {
        self.to_local.get(&(kind, remote_id.to_string())).cloned()
    }
    fn remote_id(&self, kind: ObjectKind, local_id: &RecordId) -> Option<String> {
        self.to_remote.get(&(kind, local_id.clone())).cloned()
    }
}

/// Reference translation (local id ⇄ CRM id) backed by links loaded ahead of time, since
/// [`IdLookup`] is called from pure mapping code.
#[derive(Debug, Default)]
pub struct IdCache {
    pub(super) to_local: HashMap<(ObjectKind, String), RecordId>,
    pub(super) to_remote: HashMap<(ObjectKind, RecordId), String>,
}

impl IdCache {
    pub(super) fn add(&mut self, kind: ObjectKind, local: &RecordId, remote: &str) {
        self.to_local
            .insert((kind, remote.to_string()), local.clone());
        self.to_remote
            .insert((kind, local.clone()), remote.to_string());
    }

    pub(super) fn ref_rules(map: &FieldMap) -> Vec<(String, String, ObjectKind)> {
        map.rules
            .iter()
            .filter_map(|r| match r.ty {
                FieldType::Ref(kind) => Some((r.field.clone(), r.remote.clone(), kind)),
                _ => None,
            })
            .collect()
    }

    /// Loads the links that the reference properties of `records` point at.
    pub fn load_for_remote(
        &mut self,
        store: &Store,
        connection: &str,
        map: &FieldMap,
        records: &[RemoteRecord],
    ) -> Result<(), StepError> {
        for (_, remote, kind) in Self::ref_rules(map) {
            let ids: Vec<String> = records
                .iter()
                .filter_map(|r| r.props.get(&remote).cloned())
                .collect();
            if ids.is_empty() {
                continue;
            }
            for (rid, link) in store.links_by_remote_ids(connection, kind, &ids)? {
                self.add(kind, &link.local_id, &rid);
            }
        }
        Ok(())
    }

    /// Loads the links that the reference fields of `fields` point at.
    pub(super) fn load_for_local<'f>(
        &mut self,
        store: &Store,
        connection: &str,
        map: &FieldMap,
        fields: impl Iterator<Item = (&'f str, &'f str)> + Clone,
    ) -> Result<(), StepError> {
        for (field, _, kind) in Self::ref_rules(map) {
            let ids: Vec<RecordId> = fields
                .clone()
                .filter(|(f, _)| *f == field)
                .filter_map(|(_, v)| RecordId::parse(v))
                .collect();
            if ids.is_empty() {
                continue;
            }
            for (lid, link) in store.links_by_local_ids(connection, kind, &ids)? {
                self.add(kind, &lid, &link.remote_id);
            }
        }
        Ok(())
    }
}
