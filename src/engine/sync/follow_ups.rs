//! Follow-ups of a pull: local records linked to a remote record the CRM merged away follow the
//! merge, and archived local records whose remote record is live again are restored.

use std::collections::HashMap;

use crate::engine::StepError;
use crate::mapping::OnDelete;
use crate::model::{ObjectKind, Record, RecordId};
use crate::providers::RemoteRecord;
use crate::store::{Link, WriteOrigin};

use super::session::Session;

impl<'a> Session<'a> {
    /// Moves to a record the CRM merged others into ([`Provider::merged_from`]) the link of
    /// a merged-away one, so the survivor is planned against that link (its local record
    /// takes what the merge kept) instead of arriving as a new record. Only when the survivor
    /// is linked to no local record (a retired link counts, as it still holds the id): when
    /// it is, the merged-away records' local records are one CRM record now, which a warning
    /// says, naming what to do. When several merged-away records are linked, the first local
    /// record by id follows and the warning names the rest. Returns the moved links; a dry
    /// run stores none of them, and plans the page with them in place.
    pub(super) fn follow_merges(
        &mut self,
        object: ObjectKind,
        records: &[RemoteRecord],
    ) -> Result<Vec<Link>, StepError> {
        // An archived survivor too: the local record follows it, and its archive then archives
        // the local record (or retires the link, by `on_delete`), where the merged-away id
        // alone would never be read again and its local record would stay live for good.
        let merges: Vec<(&RemoteRecord, Vec<String>)> = records
            .iter()
            .map(|r| (r, self.p.provider.merged_from(r)))
            .filter(|(_, from)| !from.is_empty())
            .collect();
        if merges.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<String> = merges.iter().map(|(r, _)| r.id.clone()).collect();
        ids.extend(merges.iter().flat_map(|(_, from)| from.iter().cloned()));
        let links = self.store.links_by_remote_ids(&self.p.name, object, &ids)?;
        let crm = self.p.provider.kind().display_name();
        let name = self.p.name.clone();
        let mut moved: Vec<Link> = Vec::new();
        let mut warnings = Vec::new();
        for (survivor, from) in merges {
            let mut linked: Vec<&Link> = from
                .iter()
                .filter_map(|id| links.get(id))
                .filter(|l| !l.retired)
                .collect();
            if linked.is_empty() {
                continue;
            }
            linked.sort_by(|a, b| a.local_id.cmp(&b.local_id));
            // A retired link still holds the survivor's id, so it too keeps the link in place.
            let (holder, rest) = match links.get(&survivor.id) {
                Some(l) => (l.local_id.clone(), linked.as_slice()),
                None => {
                    let first = linked[0];
                    let follows = if self.opts.dry_run {
                        "would follow"
                    } else {
                        "follows"
                    };
                    warnings.push(format!(
                        "{name} {object} `{}`: {crm} merged {object} `{}` into `{}`, so the local \
                         record {follows} `{}` now",
                        first.local_id, first.remote_id, survivor.id, survivor.id
                    ));
                    moved.push(Link {
                        remote_id: survivor.id.clone(),
                        remote_updated_at: None,
                        ..first.clone()
                    });
                    (first.local_id.clone(), &linked[1..])
                }
            };
            for l in rest {
                warnings.push(format!(
                    "{name} {object} `{}`: {crm} merged {object} `{}` into `{}`, which local \
                     {object} `{holder}` follows; the two local records are one {crm} {object} \
                     now: merge them locally (archive `{}`)",
                    l.local_id, l.remote_id, survivor.id, l.local_id
                ));
            }
        }
        if !self.opts.dry_run && !moved.is_empty() {
            self.store.save_pulled(
                &[],
                &moved,
                &WriteOrigin::Pull {
                    run: self.run,
                    connection: self.p.name.clone(),
                },
            )?;
        }
        for w in warnings {
            self.warn(w);
        }
        Ok(moved)
    }

    /// Revives the retired links of records the read returns live: records restored in the CRM
    /// after an archive (HubSpot keeps them restorable for 90 days; its change feed never
    /// returns an archived record). The local record that archive archived is restored too;
    /// with `on_delete = ignore` only a live local record's link is revived (an archived one
    /// was archived here, and its CRM record never was). The record's failures for the
    /// connection go with the archive: it is planned afresh. A dry run stores nothing and
    /// does not plan the restore.
    pub(super) fn revive_restored(
        &mut self,
        object: ObjectKind,
        records: &[RemoteRecord],
        links: &mut HashMap<String, Link>,
    ) -> Result<(), StepError> {
        let retired: Vec<Link> = records
            .iter()
            .filter(|r| !r.archived)
            .filter_map(|r| links.get(&r.id))
            .filter(|l| l.retired)
            .cloned()
            .collect();
        if retired.is_empty() {
            return Ok(());
        }
        let ids: Vec<RecordId> = retired.iter().map(|l| l.local_id.clone()).collect();
        let locals = self.store.get_records(&ids)?;
        let crm = self.p.provider.kind().display_name();
        let now = self.clock.now();
        let mut restored = Vec::new();
        let mut revived = Vec::new();
        for l in retired {
            let Some(local) = locals.get(&l.local_id) else {
                continue;
            };
            if local.archived_at.is_some() {
                if self.p.config.on_delete != OnDelete::Archive {
                    continue;
                }
                restored.push(Record {
                    archived_at: None,
                    updated_at: now,
                    ..local.clone()
                });
                self.warn(format!(
                    "{} {object} `{}`: restored in {crm} ({object} `{}`), so restored here too",
                    self.p.name, l.local_id, l.remote_id
                ));
            }
            revived.push(Link {
                retired: false,
                ..l
            });
        }
        self.store.save_pulled(
            &restored,
            &revived,
            &WriteOrigin::Pull {
                run: self.run,
                connection: self.p.name.clone(),
            },
        )?;
        for l in revived {
            self.store
                .clear_failure(&self.p.name, object, &l.local_id)?;
            links.insert(l.remote_id.clone(), l);
        }
        Ok(())
    }
}
