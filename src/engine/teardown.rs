//! What archiving seeded records in a CRM (`crmsync teardown`) does to the local records linked
//! to them: exactly what an archive seen in that CRM's change feed does. Each linked pair is
//! planned by [`plan::plan`] with the remote side archived and its fields as the base (nothing
//! else is known of it), and the plan carried out by the [`Executor`]: with `on_delete =
//! "archive"` the local record is archived and its link retired (audited like every archive a
//! pull carries in, and archived in the other connections by the next sync); with `on_delete =
//! "ignore"` only the link is retired.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::engine::execute::{Executor, IdCache};
use crate::engine::plan::{self, Op, PlanInput, PlanItem, RemoteSide};
use crate::engine::{Participant, Quiet, StepError, link_state};
use crate::mapping::FieldMap;
use crate::model::{ObjectKind, RecordId};
use crate::store::Store;

/// What the local side did about the remote records archived.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LocalArchives {
    /// Local records archived, with their links.
    pub archived: Vec<RecordId>,
    /// Links retired with their local record kept (`on_delete = "ignore"`).
    pub unlinked: Vec<RecordId>,
}

/// Plans and carries out, as one run's local writes, the archive of the remote records
/// `remote_ids` of `object` in `p`'s CRM. Records linked to none are left alone.
pub async fn archive_linked(
    store: &mut Store,
    config: &Config,
    p: &Participant,
    object: ObjectKind,
    remote_ids: &[String],
    run: i64,
    clock: Arc<dyn Clock>,
) -> Result<LocalArchives, StepError> {
    let links = store.links_by_remote_ids(&p.name, object, remote_ids)?;
    let live: Vec<_> = links.into_values().filter(|l| !l.retired).collect();
    if live.is_empty() {
        return Ok(LocalArchives::default());
    }
    let local_ids: Vec<RecordId> = live.iter().map(|l| l.local_id.clone()).collect();
    let mut locals = store.get_records(&local_ids)?;
    let items: Vec<PlanItem> = live
        .iter()
        .map(|l| PlanItem {
            local: locals.remove(&l.local_id),
            link: Some(link_state(l)),
            remote: Some(RemoteSide {
                id: l.remote_id.clone(),
                fields: l.base.clone(),
                updated_at: l.remote_updated_at.unwrap_or(0),
                archived: true,
                ..RemoteSide::default()
            }),
            ..PlanItem::default()
        })
        .collect();
    let map = FieldMap::resolve(
        config,
        &p.name,
        object,
        &p.provider.default_mappings(object),
    )
    .map_err(|e| StepError::Other(e.to_string()))?;
    let planned = plan::plan(&PlanInput {
        connection: p.name.clone(),
        object,
        rules: map.rules.clone(),
        on_delete: p.config.on_delete,
        items,
    });
    let mut out = LocalArchives::default();
    for op in &planned.ops {
        match op {
            Op::LocalArchive { local_id, .. } => out.archived.push(local_id.clone()),
            Op::Link {
                local_id,
                archived: true,
                ..
            } => out.unlinked.push(local_id.clone()),
            _ => {}
        }
    }
    let mut executor = Executor {
        store,
        provider: p.provider.as_ref(),
        connection: &p.name,
        map: &map,
        on_delete: p.config.on_delete,
        run,
        clock,
        reporter: &Quiet,
        read_versions: Default::default(),
        stamp: None,
        content_checked: false,
    };
    executor.execute(&planned, &mut IdCache::default()).await?;
    Ok(out)
}
