//! The environment variables connections read their tokens from: no two connections may read
//! one, or one token would be sent to both connections' hosts. (Two names that make the same
//! `CRMSYNC_TOKEN_<NAME>` are refused by [`Config::validate`](super::Config); here, the
//! variables `token_env` names.)

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::{Config, ConfigError, line_col};

impl Config {
    /// The first connection whose `token_env` is a variable another connection reads its token
    /// from too (that one's `token_env`, or its `CRMSYNC_TOKEN_<NAME>`), with why it is
    /// refused; `None` when every connection reads its own.
    pub fn token_env_clash(&self) -> Option<(&str, String)> {
        let own: BTreeMap<String, &str> = self
            .connections
            .keys()
            .map(|name| (crate::env::token_var(name), name.as_str()))
            .collect();
        let mut named: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, conn) in &self.connections {
            let Some(var) = conn.token_env.as_deref() else {
                continue;
            };
            if let Some(other) = own.get(var).filter(|other| **other != name) {
                return Some((
                    name,
                    format!(
                        "`connections.{name}.token_env` is `{var}`, the variable connection `{other}` reads its token from: one token would be sent to both connections' hosts; give `{name}` a variable of its own"
                    ),
                ));
            }
            if let Some(other) = named.insert(var, name) {
                return Some((
                    name,
                    format!(
                        "connections `{other}` and `{name}` both read their token from `{var}` (`token_env`): one token would be sent to both connections' hosts; give each a variable of its own"
                    ),
                ));
            }
        }
        None
    }
}

/// Refuses a config (`text`, read from `path`) in which two connections read one token
/// variable, at the line of the `token_env` that clashes.
pub(super) fn check(config: &Config, text: &str, path: &Path) -> Result<(), ConfigError> {
    let Some((name, message)) = config.token_env_clash() else {
        return Ok(());
    };
    let (line, column) = token_env_at(text, name).unwrap_or((1, 1));
    Err(ConfigError::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message,
    })
}

/// The line and column of connection `name`'s `token_env` value in `text`.
fn token_env_at(text: &str, name: &str) -> Option<(usize, usize)> {
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        connections: BTreeMap<String, Connection>,
    }
    #[derive(Deserialize)]
    struct Connection {
        token_env: Option<Spanned<String>>,
    }
    let file: File = toml::from_str(text).ok()?;
    let span = file.connections.get(name)?.token_env.as_ref()?.span();
    Some(line_col(text, span.start))
}
