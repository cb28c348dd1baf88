//! The pull of a run over CRM records named by id (`crmsync listen`, from webhook events):
//! the records are read with [`Provider::read_by_ids`] (batched by the provider) in place of
//! the change feed, then go the same way as a feed page: those already synced at this version
//! are left out (the echo of crmsync's own write costs no write), the rest are planned against
//! the local records, gated and carried out. No remote cursor moves: the feed still holds
//! whatever else changed, for the next delta read.
//!
//! [`Provider::read_by_ids`]: crate::providers::Provider::read_by_ids

use crate::engine::StepError;
use crate::engine::gates::{self, GateInput};
use crate::engine::plan::Plan;
use crate::model::ObjectKind;

use super::pull::newest_per_id;
use super::report::{ObjectReport, add_plan_counts};
use super::session::Session;

impl<'a> Session<'a> {
    /// Reads `ids` of `object` by id, plans and executes them (see the module).
    pub(super) async fn pull_by_id(
        &mut self,
        object: ObjectKind,
        ids: &[String],
        rep: &mut ObjectReport,
    ) -> Result<Option<Plan>, StepError> {
        if ids.is_empty() {
            return Ok(None);
        }
        let map = self.field_map(object).await?;
        let props = self
            .p
            .provider
            .read_properties(object, &map.remote_properties());
        self.reporter.step(&self.p.name, object, "reading", None);
        let read = self.p.provider.read_by_ids(object, ids, &props).await?;
        self.reporter.advance(read.len() as u64);
        rep.read += read.len() as u64;
        let mut records = newest_per_id(read);
        let links = self.page_links(object, &records)?;
        rep.unchanged += self.leave_out_unchanged(object, &map, &mut records, &links)?;
        if records.is_empty() {
            return Ok(None);
        }
        self.p
            .provider
            .complete(object, &mut records, &props)
            .await?;
        let planned = self.plan_page(object, &map, &records, &links).await?;
        if self.opts.dry_run {
            add_plan_counts(&mut rep.planned, &planned.plan.counts());
            return Ok(Some(planned.plan));
        }
        let linked = self.store.count_live_links(&self.p.name, object)? as usize;
        let also_archiving = self.push_archives_besides(object, &planned.plan)?;
        self.archives
            .insert(object, (linked, planned.plan.archives()));
        let gate = gates::check(
            &GateInput {
                connection: self.p.name.clone(),
                object,
                full_read: false,
                remote_records: rep.read as usize,
                linked,
                also_archiving,
                max_archive_pct: self.config.sync.max_archive_pct,
            },
            &planned.plan,
            self.opts.force,
        );
        if let Err(stop) = gate {
            self.gated = Some(stop);
            rep.not_written = Some(planned.plan.counts());
            return Ok(None);
        }
        add_plan_counts(&mut rep.planned, &planned.plan.counts());
        if !planned.plan.ops.is_empty() || !planned.plan.conflicts.is_empty() {
            self.execute_pulled(&map, planned, rep).await?;
        }
        Ok(None)
    }
}
