//! The operations behind the commands, one file per operation: what `sync`, `apply`,
//! `import`, `status`, `connect` … do, apart from their arguments and how their results are
//! drawn. A command file in `cli/` parses, makes one call here, and renders what comes back;
//! nothing here prints or exits.

pub mod apply;
pub mod conflicts;
pub mod connect;
pub mod demo;
pub mod explain;
pub mod health;
pub mod import;
pub mod plan_file;
pub mod records;
pub mod restore;
pub mod retry;
pub mod seed;
pub mod status;
pub mod sync;
pub mod upkeep;

use std::path::Path;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;

/// The settings an operation works with, resolved once by the command line.
#[derive(Clone)]
pub struct Settings<'a> {
    pub config: &'a Config,
    pub state_path: &'a Path,
    pub clock: Arc<dyn Clock>,
}
