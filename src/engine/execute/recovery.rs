//! Recovery of a connection's journal at the start of a run: the writes an interrupted run left
//! without an outcome are settled or planned again.

use std::collections::{BTreeMap, HashMap};

use crate::engine::StepError;
use crate::model::ObjectKind;
use crate::providers::{RemoteRecord, RemoteWrite};
use crate::store::{PendingWrite, WriteOp, WriteOutcome};

use super::Executor;
use super::ids::IdCache;

impl Executor<'_> {
    /// Settles journal entries left by an interrupted run: a create that reached the CRM is
    /// found by its external id and linked; anything else is dropped and planned again.
    pub async fn recover(
        &mut self,
        object: ObjectKind,
        writes: Vec<PendingWrite>,
    ) -> Result<(), StepError> {
        // Only the records' ids and versions are used (the base is what was sent), so no
        // mapped property is asked for: a reference such as a contact's company would cost
        // another read.
        let props = self.provider.read_properties(object, &[]);
        let creates: Vec<&PendingWrite> = writes
            .iter()
            .filter(|w| w.entry.op == WriteOp::Create)
            .collect();
        let mut found: HashMap<String, RemoteRecord> = HashMap::new();
        for chunk in creates.chunks(self.provider.batch_size().max(1)) {
            let local_ids: Vec<String> =
                chunk.iter().map(|w| w.entry.local_id.to_string()).collect();
            for rec in self
                .provider
                .find_by_external_id(object, &local_ids, &props)
                .await?
            {
                if let Some(ext) = rec.external_id.clone() {
                    found.insert(ext, rec);
                }
            }
        }
        let mut ids = IdCache::default();
        let records: Vec<RemoteRecord> = found.values().cloned().collect();
        ids.load_for_remote(self.store, self.connection, self.map, &records)?;
        let at = self.clock.now();
        for w in &writes {
            match found.get(w.entry.local_id.as_str()) {
                Some(rec) if w.entry.op == WriteOp::Create => {
                    // The base is what was sent (the journal keeps it), not what the CRM
                    // holds now: an edit made in the CRM since then is a remote change to
                    // pull, and a local edit made since is a local change to push. The link
                    // keeps the version found: a record read again at it is left out of the
                    // plan only when its values also equal the base (see
                    // `crate::engine::sync`), so such an edit is still pulled, while the
                    // record read back unchanged costs nothing more.
                    let sent = RemoteRecord {
                        id: rec.id.clone(),
                        props: w.entry.props.clone(),
                        ..RemoteRecord::default()
                    };
                    let inbound = self.map.from_remote(&sent, &ids);
                    self.store.commit_write(
                        w.id,
                        &WriteOutcome {
                            remote_id: rec.id.clone(),
                            base: inbound.fields,
                            remote_updated_at: Some(rec.updated_at),
                            at,
                            record: None,
                            retired: false,
                        },
                    )?;
                }
                // An update that also wrote the local id into the external-id field: its
                // fields are planned again, but the link it stamps was committed before it
                // was sent, so nothing would plan the stamp again. It is sent now.
                _ if w.entry.op == WriteOp::Update && w.entry.set_external_id => {}
                _ => self.store.journal_discard(w.id)?,
            }
        }
        self.stamp_external_ids(object, &writes).await
    }

    /// Writes the local id into the external-id field of the records whose journalled update
    /// was to do so (see [`Executor::recover`]); each entry is dropped once the CRM answered.
    /// A refusal is a warning: the link stands, and the fields are planned again as usual.
    pub(super) async fn stamp_external_ids(
        &mut self,
        object: ObjectKind,
        writes: &[PendingWrite],
    ) -> Result<(), StepError> {
        let owed: Vec<&PendingWrite> = writes
            .iter()
            .filter(|w| w.entry.op == WriteOp::Update && w.entry.set_external_id)
            .collect();
        for chunk in owed.chunks(self.provider.batch_size().max(1)) {
            let inputs: Vec<RemoteWrite> = chunk
                .iter()
                .map(|w| RemoteWrite {
                    local_id: w.entry.local_id.to_string(),
                    remote_id: w.entry.remote_id.clone(),
                    props: BTreeMap::new(),
                    set_external_id: true,
                    takes_over: Vec::new(),
                    content_checked: false,
                })
                .collect();
            let results = self.provider.update(object, &inputs).await?;
            for (w, result) in chunk.iter().zip(results) {
                if let Err(e) = result {
                    self.reporter.warn(format!(
                        "{}: could not write local id {} into the external-id field (crmsync_id) of {} {}: {}; the link stands",
                        self.connection,
                        w.entry.local_id,
                        object,
                        w.entry.remote_id.as_deref().unwrap_or("?"),
                        e.message
                    ));
                }
                self.store.journal_discard(w.id)?;
            }
        }
        Ok(())
    }
}
