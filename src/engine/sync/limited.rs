//! Runs limited on demand: `sync --record` (and `listen`, for the records its webhook events
//! name) reads its records from each CRM by id instead of through the change feed, and `sync --limit N` creates at most N records on each side of
//! each connection. Neither moves a cursor ([`super::SyncOptions::moves_cursors`]): the
//! records they leave out are still to be read and pushed by later runs.

use crate::engine::StepError;
use crate::engine::plan::{Op, Plan};
use crate::model::{ObjectKind, RecordId};
use crate::providers::{ChangePage, ChangeQuery};

use super::session::Session;

impl<'a> Session<'a> {
    /// The next page of `query.object`'s changes; for `sync --record`, the one page of the
    /// named records as the CRM has them now: those linked to the named local records, and
    /// the CRM ids named that are linked to none (read as contacts, or as the objects
    /// `--object` names). A record archived in the CRM is not in the answer, so it is not
    /// seen as archived until the change feed brings it.
    pub(super) async fn read_page(
        &mut self,
        query: &ChangeQuery,
        props: &[String],
    ) -> Result<ChangePage, StepError> {
        let mut page = self.read_page_of(query, props).await?;
        if query.page.is_none() {
            self.add_gone(query.object, props, &mut page).await?;
        }
        Ok(page)
    }

    /// Adds to the first page of a read, as archived in the CRM, the linked records it said
    /// were deleted or erased ([`super::SyncOptions::gone`]) that a read by id does not find
    /// live: as the CRM's archived read gives them, else (erased) with no value changed.
    async fn add_gone(
        &mut self,
        object: ObjectKind,
        props: &[String],
        page: &mut ChangePage,
    ) -> Result<(), StepError> {
        let ids = self.opts.gone.ids(&self.p.name, object);
        // A CRM whose archives are not read by id cannot confirm a record gone: one it does
        // not return live is left to the change feed, never taken for archived on an event's
        // word.
        if ids.is_empty() || !self.p.provider.kind().reads_archived_by_id() {
            return Ok(());
        }
        let links = self.store.links_by_remote_ids(&self.p.name, object, &ids)?;
        let ids: Vec<String> = ids
            .into_iter()
            .filter(|id| links.get(id).is_some_and(|l| !l.retired))
            .collect();
        // A run reading by id has read them live with the page; a run reading the change
        // feed reads them now.
        let read_by_id = self.opts.pull_ids.as_ref().is_some_and(|by_id| {
            let named = by_id.ids(&self.p.name, object);
            ids.iter().all(|id| named.contains(id))
        });
        let mut found: std::collections::HashSet<String> =
            page.records.iter().map(|r| r.id.clone()).collect();
        if !read_by_id && !ids.is_empty() {
            let live = self.p.provider.read_by_ids(object, &ids, props).await?;
            found.extend(live.into_iter().map(|r| r.id));
        }
        let missing: Vec<String> = ids.into_iter().filter(|id| !found.contains(id)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let archived = self
            .p
            .provider
            .read_archived_by_ids(object, &missing, props)
            .await?;
        let now = self.clock.now();
        let erase = self.opts.erase.ids(&self.p.name, object);
        for id in missing {
            if let Some(r) = archived.iter().find(|r| r.id == id) {
                page.records.push(r.clone());
                continue;
            }
            tracing::debug!(connection = %self.p.name, %object, id, "erased in the CRM: archived");
            if erase.contains(&id) {
                self.erased.push((object, id.clone()));
            }
            page.records.push(crate::providers::RemoteRecord {
                id,
                props: Default::default(),
                updated_at: now,
                prop_updated_at: Default::default(),
                archived: true,
                external_id: None,
                // No property named: every field as it was, none cleared.
                returned: Some(Default::default()),
            });
        }
        Ok(())
    }

    /// [`Session::read_page`] before the records gone are added.
    async fn read_page_of(
        &mut self,
        query: &ChangeQuery,
        props: &[String],
    ) -> Result<ChangePage, StepError> {
        if let Some(by_id) = &self.opts.pull_ids {
            let ids = by_id.ids(&self.p.name, query.object);
            return self.page_by_ids(query.object, &ids, props).await;
        }
        let Some(only) = self.opts.only.as_ref().filter(|_| self.opts.by_id) else {
            return Ok(self.p.provider.changes(query, props).await?);
        };
        let object = query.object;
        let local: Vec<RecordId> = only.local.iter().cloned().collect();
        let links = self
            .store
            .links_by_local_ids(&self.p.name, object, &local)?;
        let mut ids: Vec<String> = links
            .values()
            .filter(|l| !l.retired)
            .map(|l| l.remote_id.clone())
            .collect();
        let named_object = if self.opts.objects.is_empty() {
            object == ObjectKind::Contact
        } else {
            self.opts.objects.contains(&object)
        };
        if named_object {
            ids.extend(only.remote_ids(&self.p.name).cloned());
        }
        ids.sort();
        ids.dedup();
        self.page_by_ids(object, &ids, props).await
    }

    /// One page of `ids` as the CRM has them now (read in batches by the provider), with no
    /// checkpoint: a read by id moves no cursor.
    async fn page_by_ids(
        &mut self,
        object: ObjectKind,
        ids: &[String],
        props: &[String],
    ) -> Result<ChangePage, StepError> {
        let records = if ids.is_empty() {
            Vec::new()
        } else {
            self.p.provider.read_by_ids(object, ids, props).await?
        };
        Ok(ChangePage {
            records,
            next: None,
            checkpoint: None,
            total: None,
        })
    }

    /// Leaves out of `plan` the creates beyond what this phase may still make
    /// (`sync --limit`), in plan order.
    pub(super) fn limit_creates(&mut self, plan: &mut Plan) {
        let Some(left) = self.creates_left.as_mut() else {
            return;
        };
        plan.ops.retain(|op| {
            if !matches!(op, Op::LocalCreate { .. } | Op::RemoteCreate { .. }) {
                return true;
            }
            if *left == 0 {
                return false;
            }
            *left -= 1;
            true
        });
    }
}
