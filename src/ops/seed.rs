//! Seeding a test CRM that cleans up after itself: the tag an `import --to C --tag T` stamps on
//! every record it creates in the CRM, and `teardown`, which archives in the CRM exactly the
//! records carrying a tag, and locally what an archive seen in the CRM would.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::connection::Opened;
use crate::engine::sync::Stamp;
use crate::engine::teardown::{self, LocalArchives};
use crate::error::Error;
use crate::model::{ObjectKind, RecordId};
use crate::providers::{Provider, TAG_FIELD};
use crate::store::{RunOutcome, Store};

use super::Settings;

/// The tag, checked: not empty, no surrounding spaces.
fn checked_tag(tag: &str) -> anyhow::Result<&str> {
    if tag.trim().is_empty() {
        return Err(Error::usage(
            "`--tag` needs a value, such as the CI job's id; nothing was done".into(),
        )
        .into());
    }
    if tag.trim() != tag {
        return Err(Error::usage(format!(
            "the tag `{tag}` starts or ends with a space; nothing was done"
        ))
        .into());
    }
    Ok(tag)
}

/// Opens `connection` (an unknown one is a usage error).
fn open(settings: &Settings<'_>, connection: &str) -> anyhow::Result<Opened> {
    crate::connection::open(
        connection,
        settings.config,
        settings.state_path,
        settings.clock.clone(),
        None,
    )
}

/// The objects of `provider` that carry the tag, in the order their records are archived
/// (contacts before the companies they belong to).
fn tagged_objects(provider: &dyn Provider) -> Vec<ObjectKind> {
    [ObjectKind::Contact, ObjectKind::Company]
        .into_iter()
        .chain(ObjectKind::ALL)
        .filter(|o| provider.objects().contains(o) && provider.tag_field(*o).is_some())
        .fold(Vec::new(), |mut v, o| {
            if !v.contains(&o) {
                v.push(o);
            }
            v
        })
}

/// The stamp a tagged import's creates carry: the tag in `crmsync_seed` on every object of
/// `connection` that has the field (the contacts of the file and the companies they bring
/// along). Refused, before anything is loaded, for an empty tag, an object the CRM keeps no
/// tag on, or a CRM whose field is not set up yet.
pub async fn stamp(
    settings: &Settings<'_>,
    connection: &str,
    object: ObjectKind,
    tag: &str,
) -> anyhow::Result<Stamp> {
    let tag = checked_tag(tag)?;
    let opened = open(settings, connection)?;
    let provider = opened.provider.as_ref();
    if provider.tag_field(object).is_none() {
        return Err(Error::usage(format!(
            "`--tag` marks contacts and companies only: {} keeps no `{TAG_FIELD}` on {object} records; nothing was imported",
            provider.kind().display_name()
        ))
        .into());
    }
    let mut out = Stamp::new();
    for o in tagged_objects(provider) {
        let Some(spec) = provider.tag_field(o) else {
            continue;
        };
        if !provider
            .fields(o)
            .await?
            .iter()
            .any(|f| f.name == spec.name)
        {
            return Err(crate::error::usage_hinted(
                format!(
                    "`{connection}` has no `{}` field on {o} records to tag them with; nothing was imported",
                    spec.name
                ),
                format!("create it with `crmsync mappings setup -c {connection}`"),
            ));
        }
        out.insert(o, BTreeMap::from([(spec.name, tag.to_string())]));
    }
    Ok(out)
}

/// One record found carrying the tag.
#[derive(Debug, Clone, Serialize)]
pub struct Tagged {
    pub object: ObjectKind,
    pub remote_id: String,
    /// The local record linked to it, if any.
    pub local_id: Option<RecordId>,
    /// Set once archived in the CRM.
    pub archived: bool,
    /// Why the CRM refused to archive it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a teardown found and did (`--json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TeardownReport {
    pub connection: String,
    pub tag: String,
    pub dry_run: bool,
    /// Every record that carried the tag.
    pub records: Vec<Tagged>,
    /// Objects whose CRM field for the tag does not exist (so none of their records carry it).
    pub no_field: Vec<ObjectKind>,
    /// The local records archived (or only unlinked) as an archive seen in the CRM would.
    pub local: LocalArchives,
}

impl TeardownReport {
    pub fn archived(&self) -> usize {
        self.records.iter().filter(|r| r.archived).count()
    }

    pub fn failed(&self) -> usize {
        self.records.iter().filter(|r| r.error.is_some()).count()
    }
}

/// Archives in `connection`'s CRM every record whose `crmsync_seed` is `tag`, and locally
/// what an archive seen there would (see [`teardown::archive_linked`]); recorded as a
/// `teardown` run. A dry run only finds and lists them.
pub async fn teardown(
    settings: &Settings<'_>,
    connection: &str,
    tag: &str,
    dry_run: bool,
) -> anyhow::Result<TeardownReport> {
    let tag = checked_tag(tag)?;
    let opened = open(settings, connection)?;
    let mut report = TeardownReport {
        connection: connection.to_string(),
        tag: tag.to_string(),
        dry_run,
        ..TeardownReport::default()
    };
    let p = opened.into_participant();
    let provider = p.provider.clone();
    // The state file: read only for a dry run (and none is made), under the run lock else.
    let mut held = if dry_run {
        None
    } else {
        let mut store = Store::open(settings.state_path)?;
        store.set_clock(settings.clock.clone());
        let lock = store.lock()?;
        let mut claims = Default::default();
        crate::engine::accounts::check(&mut store, settings.config, &p, false, &mut claims).await?;
        Some((store, lock))
    };
    let reader = match &held {
        Some(_) => None,
        None if settings.state_path.exists() => Some(Store::open_read_only(settings.state_path)?),
        None => None,
    };
    let mut run = None;
    for object in tagged_objects(provider.as_ref()) {
        let Some(spec) = provider.tag_field(object) else {
            continue;
        };
        if !provider
            .fields(object)
            .await?
            .iter()
            .any(|f| f.name == spec.name)
        {
            report.no_field.push(object);
            continue;
        }
        let ids = provider.find_tagged(object, tag).await?;
        if ids.is_empty() {
            continue;
        }
        let store_ref = held.as_ref().map(|(s, _)| s).or(reader.as_ref());
        let links = match store_ref {
            Some(s) => s.links_by_remote_ids(&p.name, object, &ids)?,
            None => Default::default(),
        };
        let start = report.records.len();
        report.records.extend(ids.iter().map(|id| {
            Tagged {
                object,
                remote_id: id.clone(),
                local_id: links
                    .get(id)
                    .filter(|l| !l.retired)
                    .map(|l| l.local_id.clone()),
                archived: false,
                error: None,
            }
        }));
        let Some((store, _)) = held.as_mut() else {
            continue;
        };
        let run_id = match run {
            Some(r) => r,
            None => {
                let r = store.begin_run(
                    "teardown",
                    std::slice::from_ref(&p.name),
                    settings.clock.now(),
                )?;
                run = Some(r);
                r
            }
        };
        let mut done = Vec::new();
        for (chunk_at, chunk) in ids.chunks(provider.batch_size().max(1)).enumerate() {
            let results = provider.archive(object, chunk).await?;
            for (i, result) in results.into_iter().enumerate() {
                let entry =
                    &mut report.records[start + chunk_at * provider.batch_size().max(1) + i];
                match result {
                    Ok(()) => {
                        entry.archived = true;
                        done.push(entry.remote_id.clone());
                    }
                    Err(e) => entry.error = Some(e.message),
                }
            }
        }
        let local = teardown::archive_linked(
            store,
            settings.config,
            &p,
            object,
            &done,
            run_id,
            settings.clock.clone(),
        )
        .await?;
        report.local.archived.extend(local.archived);
        report.local.unlinked.extend(local.unlinked);
    }
    if let (Some((store, _)), Some(run)) = (held.as_mut(), run) {
        let outcome = if report.failed() > 0 {
            RunOutcome::Partial
        } else {
            RunOutcome::Ok
        };
        store.finish_run(
            run,
            outcome,
            &serde_json::json!({
                "tagged": report.records.len(),
                "archived": report.archived(),
                "failed": report.failed(),
                "local_archived": report.local.archived.len(),
                "local_unlinked": report.local.unlinked.len(),
            }),
            None,
            settings.clock.now(),
        )?;
    }
    Ok(report)
}
