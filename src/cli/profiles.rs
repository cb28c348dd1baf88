//! Profiles: `--profile NAME` (or `CRMSYNC_PROFILE`) picks a config and state pair of its own
//! under the platform dirs, so that one person keeps two clients apart; `crmsync profiles`
//! lists them.
//!
//! A profile's config is `profiles/NAME/config.toml` in the platform config dir, its state
//! `profiles/NAME/state.db` in the platform data dir. `--config`/`--state` (and their
//! variables) still win, and a `state` key in the profile's config works as in any config.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::Error;
use crate::output::Output;
use crate::output::table::table;

use super::{Exit, GlobalArgs};

/// List the profiles (config and state pairs chosen with `--profile`)
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crmsync profiles
  crmsync --profile client-a connect hubspot --name hubspot
  CRMSYNC_PROFILE=client-b crmsync sync")]
pub struct Args {}

fn dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "crmsync")
}

/// Refuses a profile name that is not a plain name (it becomes a directory name).
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "`{name}` is not a profile name: use letters, digits, `-` and `_` (at most 64)"
        ))
        .into())
    }
}

/// The default config file of `profile` (the platform default without one).
pub fn config_path(profile: Option<&str>) -> anyhow::Result<Option<PathBuf>> {
    match profile {
        None => Ok(crate::config::default_config_path()),
        Some(name) => {
            check_name(name)?;
            Ok(dirs().map(|d| {
                d.config_dir()
                    .join("profiles")
                    .join(name)
                    .join("config.toml")
            }))
        }
    }
}

/// The default state file of `profile` (the platform default without one).
pub fn state_path(profile: Option<&str>) -> anyhow::Result<Option<PathBuf>> {
    match profile {
        None => Ok(crate::config::default_state_path()),
        Some(name) => {
            check_name(name)?;
            Ok(dirs().map(|d| d.data_dir().join("profiles").join(name).join("state.db")))
        }
    }
}

/// One profile (`--json` shape).
#[derive(Debug, Serialize)]
pub struct Profile {
    pub name: String,
    /// Chosen by `--profile` or `CRMSYNC_PROFILE` for this command.
    pub active: bool,
    pub config: PathBuf,
    pub config_exists: bool,
    pub state: PathBuf,
    /// The state file's size in bytes; `null` when there is none yet.
    pub state_bytes: Option<u64>,
}

/// The profiles that have a config or a state directory, by name.
pub fn list(active: Option<&str>) -> anyhow::Result<Vec<Profile>> {
    let Some(d) = dirs() else {
        return Ok(Vec::new());
    };
    let mut names = std::collections::BTreeSet::new();
    for base in [d.config_dir(), d.data_dir()] {
        if let Ok(entries) = std::fs::read_dir(base.join("profiles")) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir() && check_name(&name).is_ok() {
                    names.insert(name);
                }
            }
        }
    }
    if let Some(a) = active {
        names.insert(a.to_string());
    }
    let mut out = Vec::new();
    for name in names {
        let config = config_path(Some(&name))?.unwrap_or_default();
        let state = state_path(Some(&name))?.unwrap_or_default();
        out.push(Profile {
            active: active == Some(name.as_str()),
            config_exists: config.is_file(),
            state_bytes: std::fs::metadata(&state).ok().map(|m| m.len()),
            name,
            config,
            state,
        });
    }
    Ok(out)
}

pub fn run(global: &GlobalArgs, _args: &Args) -> anyhow::Result<Exit> {
    let out = Output::new(global.json, 0, global.color);
    if let Some(name) = &global.profile {
        check_name(name)?;
    }
    let profiles = list(global.profile.as_deref())?;
    if out.json {
        out.json(&profiles)?;
        return Ok(Exit::Ok);
    }
    if profiles.is_empty() {
        out.note("no profiles yet: `crmsync --profile NAME connect …` makes one");
        return Ok(Exit::Ok);
    }
    let mut t = table(&out, &["profile", "config", "state"]);
    for p in &profiles {
        t.add_row(vec![
            format!("{}{}", p.name, if p.active { " (active)" } else { "" }),
            if p.config_exists {
                p.config.display().to_string()
            } else {
                format!("{} (none yet)", p.config.display())
            },
            match p.state_bytes {
                Some(bytes) => format!("{} ({bytes} bytes)", p.state.display()),
                None => format!("{} (none yet)", p.state.display()),
            },
        ]);
    }
    out.data(t)?;
    Ok(Exit::Ok)
}
