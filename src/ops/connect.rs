//! The config editing `connect` does: a new connection's table appended, a `token_env` set
//! in an existing one, every write made in one step and checked to read back.

use std::path::Path;

use anyhow::Context as _;

use crate::config::ConnectionConfig;
use crate::providers::ProviderKind;

/// A connection to `provider` as `connect` first configures it: every setting at its default.
pub fn new_connection(provider: ProviderKind) -> ConnectionConfig {
    ConnectionConfig {
        provider,
        base_url: None,
        auth_url: None,
        client_id: None,
        token_env: None,
        scopes: None,
        redirect_port: None,
        objects: None,
        on_delete: Default::default(),
        match_keys: None,
        create_when: None,
        max_requests_per_run: None,
        fields: Vec::new(),
        contact: None,
        company: None,
        activity: None,
        deal: None,
        activity_types: Default::default(),
        owners: Default::default(),
        login_url: None,
        instance_url: None,
        api_version: None,
        reserve_percent: None,
        bulk_threshold: None,
        webhooks_app_id: None,
        developer_key_env: None,
    }
}

/// Sets `token_env = "VAR"` in the `[connections.NAME]` table of the config file at `path`,
/// replacing the key's line where the table has one, else adding it under the table's
/// header; everything else in the file is kept as written. Returns `false`, having written
/// nothing, when the file does not spell the table as such a header (dotted keys, an inline
/// table), or the edited file would not read back with that value.
pub fn set_token_env(path: &Path, name: &str, var: &str) -> anyhow::Result<bool> {
    set_string(path, name, "token_env", var, |c| c.token_env.as_deref())
}

/// Sets `base_url = "URL"` in the `[connections.NAME]` table of the config file at `path`, as
/// [`set_token_env`] sets `token_env` (the API host a sign-in named for the account).
pub fn set_base_url(path: &Path, name: &str, url: &str) -> anyhow::Result<bool> {
    set_string(path, name, "base_url", url, |c| c.base_url.as_deref())
}

/// Sets `instance_url = "URL"` in the `[connections.NAME]` table of the config file at `path`,
/// as [`set_token_env`] sets `token_env` (the org's API host a Salesforce sign-in named).
pub fn set_instance_url(path: &Path, name: &str, url: &str) -> anyhow::Result<bool> {
    set_string(path, name, "instance_url", url, |c| {
        c.instance_url.as_ref().map(|u| u.get_ref().as_str())
    })
}

/// Sets `key = "VALUE"` in the `[connections.NAME]` table, `read` being how the parsed
/// connection gives the key back (see [`set_token_env`]).
fn set_string(
    path: &Path,
    name: &str,
    key: &str,
    value: &str,
    read: fn(&ConnectionConfig) -> Option<&str>,
) -> anyhow::Result<bool> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(false);
    };
    let header_of = |line: &str| -> Option<String> {
        let t = line.trim_start();
        if !t.starts_with('[') || t.starts_with("[[") {
            return None;
        }
        let end = t.find(']')?;
        Some(t[1..end].split_whitespace().collect::<String>())
    };
    let wanted = [
        format!("connections.{name}"),
        format!("connections.\"{name}\""),
    ];
    let mut lines: Vec<&str> = text.lines().collect();
    let Some(at) = lines
        .iter()
        .position(|l| header_of(l).is_some_and(|h| wanted.contains(&h)))
    else {
        return Ok(false);
    };
    let end = lines[at + 1..]
        .iter()
        .position(|l| header_of(l).is_some())
        .map_or(lines.len(), |i| at + 1 + i);
    let line = format!("{key} = {}", toml::Value::String(value.to_string()));
    let existing = (at + 1..end).find(|&i| {
        lines[i]
            .trim_start()
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    });
    match existing {
        Some(i) => lines[i] = &line,
        None => lines.insert(at + 1, &line),
    }
    let mut edited = lines.join("\n");
    if text.ends_with('\n') {
        edited.push('\n');
    }
    let reads_back = crate::config::Config::parse(&edited, path).is_ok_and(|c| {
        c.connections
            .get(name)
            .is_some_and(|c| read(c) == Some(value))
    });
    if !reads_back {
        return Ok(false);
    }
    replace_config(path, &edited)?;
    Ok(true)
}

/// Writes `text` as the config file at `path` in one step (a new file renamed over it), so a
/// crash leaves either the old file or the new one.
fn replace_config(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write `{}`", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write `{}`", path.display()))
}

/// Adds `[connections.NAME]` to the config file (creating it), keeping what is there.
pub fn append_connection(path: &Path, name: &str, conn: &ConnectionConfig) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the config directory `{}`", dir.display()))?;
    }
    let text = appended(path, name, conn)?;
    // The result must still be a valid config before it replaces the old one.
    crate::config::Config::parse(&text, path)?;
    replace_config(path, &text)
}

/// Why the config file would refuse `[connections.NAME]` as [`append_connection`] adds it,
/// checked without writing anything; `None` when it would take it.
pub fn append_refusal(
    path: &Path,
    name: &str,
    conn: &ConnectionConfig,
) -> anyhow::Result<Option<String>> {
    use crate::config::{Config, ConfigError};
    Ok(match Config::parse(&appended(path, name, conn)?, path) {
        Ok(_) => None,
        Err(ConfigError::Parse { message, .. } | ConfigError::Invalid { message, .. }) => {
            Some(message)
        }
        Err(e) => Some(e.to_string()),
    })
}

/// The config file's text with `[connections.NAME]` added.
fn appended(path: &Path, name: &str, conn: &ConnectionConfig) -> anyhow::Result<String> {
    let mut text = std::fs::read_to_string(path).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let mut table = toml::Table::new();
    table.insert(
        "provider".into(),
        toml::Value::String(conn.provider.as_str().into()),
    );
    if let Some(url) = &conn.base_url {
        table.insert("base_url".into(), toml::Value::String(url.clone()));
    }
    for (key, url) in [
        ("login_url", &conn.login_url),
        ("instance_url", &conn.instance_url),
    ] {
        if let Some(url) = url {
            table.insert(key.into(), toml::Value::String(url.get_ref().clone()));
        }
    }
    if let Some(id) = &conn.client_id {
        table.insert("client_id".into(), toml::Value::String(id.clone()));
    }
    if let Some(var) = &conn.token_env {
        table.insert("token_env".into(), toml::Value::String(var.clone()));
    }
    text.push_str(&format!(
        "\n[connections.{name}]\n{}",
        toml::to_string(&table)?
    ));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::{set_base_url, set_token_env};

    fn edit(before: &str, name: &str) -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, before).unwrap();
        let written = set_token_env(&path, name, "HS_PAT").unwrap();
        (written, std::fs::read_to_string(&path).unwrap())
    }

    #[test]
    fn token_env_is_added_under_the_connections_header_and_nothing_else_moves() {
        let before = "# mine\n[sync]\nconflict_policy = \"manual\"\n\n\
                      [connections.hs]   # the main portal\nprovider = \"hubspot\"\n\n\
                      [connections.other]\nprovider = \"hubspot\"\n";
        let (written, after) = edit(before, "hs");
        assert!(written);
        assert_eq!(
            after,
            "# mine\n[sync]\nconflict_policy = \"manual\"\n\n\
             [connections.hs]   # the main portal\ntoken_env = \"HS_PAT\"\nprovider = \"hubspot\"\n\n\
             [connections.other]\nprovider = \"hubspot\"\n"
        );
    }

    #[test]
    fn a_token_env_already_there_is_replaced_in_place() {
        let before = "[connections.\"hs\"]\nprovider = \"hubspot\"\ntoken_env  =  \"OLD\"\n[connections.x]\nprovider = \"hubspot\"\ntoken_env = \"KEEP\"\n";
        let (written, after) = edit(before, "hs");
        assert!(written);
        assert_eq!(
            after,
            "[connections.\"hs\"]\nprovider = \"hubspot\"\ntoken_env = \"HS_PAT\"\n[connections.x]\nprovider = \"hubspot\"\ntoken_env = \"KEEP\"\n"
        );
    }

    #[test]
    fn a_connection_not_written_as_a_table_header_is_left_alone() {
        for before in [
            "connections.hs.provider = \"hubspot\"\n",
            "connections = { hs = { provider = \"hubspot\" } }\n",
            "[connections.other]\nprovider = \"hubspot\"\n",
        ] {
            let (written, after) = edit(before, "hs");
            assert!(!written, "{before}");
            assert_eq!(after, before);
        }
    }

    #[test]
    fn a_base_url_is_set_in_place_or_added_under_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let before = "[connections.pd]\nprovider = \"pipedrive\"\n";
        std::fs::write(&path, before).unwrap();
        assert!(set_base_url(&path, "pd", "https://acme.pipedrive.com").unwrap());
        let after = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            after,
            "[connections.pd]\nbase_url = \"https://acme.pipedrive.com\"\nprovider = \"pipedrive\"\n"
        );
        assert!(set_base_url(&path, "pd", "https://other.pipedrive.com").unwrap());
        let again = std::fs::read_to_string(&path).unwrap();
        assert!(
            again.contains("base_url = \"https://other.pipedrive.com\"\n"),
            "{again}"
        );
        assert!(!again.contains("acme"), "{again}");
    }
}
