//! The plan file: what `sync --plan FILE` saves and `apply FILE` carries out, its JSON shape,
//! and the checks that a plan still fits the state file and the config it is applied with.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::config::{Config, ConnectionConfig};
use crate::engine::plan::Plan;
use crate::engine::sync::SyncReport;
use crate::error::Error;
use crate::model::{ObjectKind, RecordId};

pub const PLAN_FORMAT: &str = "crmsync-plan";
/// The version of the plan files this build writes and applies.
/// 4: a remote version is the record's fingerprint (time and values), no longer its time.
pub const PLAN_VERSION: u32 = 4;

/// A plan saved by `sync --plan FILE` (its JSON shape).
#[derive(Debug, Serialize, Deserialize)]
pub struct PlanFile {
    /// Always `crmsync-plan`.
    pub format: String,
    pub version: u32,
    pub created_at: String,
    pub full: bool,
    pub plans: Vec<Plan>,
    /// Connection → object → remote id → the remote version the plan was made against: a
    /// fingerprint of the record's modification time and values
    /// ([`RemoteRecord::fingerprint`](crate::providers::RemoteRecord::fingerprint)).
    pub remote_versions: BTreeMap<String, BTreeMap<ObjectKind, BTreeMap<String, i64>>>,
    /// The state file the plan was made against (its `state_id`).
    pub state_id: String,
    /// Each connection of the plan as it was configured (which CRM, at which address) and
    /// the CRM account it reached.
    pub connections: BTreeMap<String, PlanConnection>,
    /// Local id → the local change number the plan was made against.
    pub local_versions: BTreeMap<RecordId, i64>,
}

/// A connection as a plan was made against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanConnection {
    pub provider: String,
    /// The configured API address (`null`: the CRM's own).
    pub base_url: Option<String>,
    /// The id of the CRM account the connection reached (a HubSpot portal id): the account
    /// the plan's remote ids belong to.
    pub account: String,
}

impl PlanConnection {
    pub fn of(config: &ConnectionConfig, account: &str) -> PlanConnection {
        PlanConnection {
            provider: config.provider.to_string(),
            base_url: config.base_url.clone(),
            account: account.to_string(),
        }
    }

    /// Whether `config` still points where the plan was made: the same CRM at the same address.
    pub fn configured_as(&self, config: &ConnectionConfig) -> bool {
        self.provider == config.provider.to_string() && self.base_url == config.base_url
    }
}

impl PlanFile {
    /// The plan of a dry run, as it is saved.
    pub fn of(report: &SyncReport, config: &Config, full: bool, created_at: String) -> PlanFile {
        PlanFile {
            format: PLAN_FORMAT.into(),
            version: PLAN_VERSION,
            created_at,
            full,
            plans: report.plans.clone(),
            remote_versions: report.remote_versions.clone(),
            state_id: report.state_id.clone().unwrap_or_default(),
            connections: report
                .connections
                .iter()
                .filter_map(|c| {
                    let config = config.connections.get(&c.connection)?;
                    let account = c.account.as_deref()?;
                    Some((c.connection.clone(), PlanConnection::of(config, account)))
                })
                .collect(),
            local_versions: report.local_versions.clone(),
        }
    }

    /// Writes the plan to `path`.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text)
            .with_context(|| format!("cannot write the plan to `{}`", path.display()))
    }

    /// Reads a plan file this build can apply.
    pub fn read(path: &Path) -> anyhow::Result<PlanFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the plan file `{}`", path.display()))?;
        let file: PlanFile = serde_json::from_str(&text).map_err(|e| {
            Error::usage(format!(
                "`{}` is not a plan saved by `crmsync sync --plan` (line {}, column {}: {e})",
                path.display(),
                e.line(),
                e.column()
            ))
        })?;
        if file.format != PLAN_FORMAT || file.version != PLAN_VERSION {
            return Err(Error::usage(format!(
                "`{}` is a `{}` version {} file; this crmsync applies `{PLAN_FORMAT}` version {PLAN_VERSION}: make the plan again with `crmsync sync --plan`",
                path.display(),
                file.format,
                file.version
            ))
            .into());
        }
        Ok(file)
    }

    /// Refuses a plan (read from `path`) made against another state file than `state_path`,
    /// or for a connection `config` has since pointed elsewhere.
    pub fn check_made_here(
        &self,
        path: &Path,
        config: &Config,
        state_path: &Path,
    ) -> anyhow::Result<()> {
        let here = match crate::store::Store::open_read_only(state_path) {
            Ok(store) => store.state_id()?,
            Err(_) => None,
        };
        if here.as_deref() != Some(self.state_id.as_str()) {
            return Err(Error::usage(format!(
                "`{}` was made against another state file than `{}`; apply it with the `--state` it was made with, or make a new plan with `crmsync sync --plan`",
                path.display(),
                state_path.display()
            ))
            .into());
        }
        for (name, then) in &self.connections {
            let configured = config.connections.get(name);
            if !configured.is_some_and(|c| then.configured_as(c)) {
                return Err(Error::usage(format!(
                    "`{}` was made for connection `{name}` as it was configured then ({} at {}), which the config no longer has; make a new plan with `crmsync sync --plan`",
                    path.display(),
                    then.provider,
                    then.base_url.as_deref().unwrap_or("its default address")
                ))
                .into());
            }
        }
        for plan in &self.plans {
            if !self.connections.contains_key(&plan.connection) {
                return Err(Error::usage(format!(
                    "`{}` holds writes for connection `{}` but does not say which CRM account they were planned in; make a new plan with `crmsync sync --plan`",
                    path.display(),
                    plan.connection
                ))
                .into());
            }
        }
        Ok(())
    }
}
