//! The keys only a Salesforce connection has (`login_url`, `instance_url`, `api_version`,
//! `reserve_percent`, `bulk_threshold`), checked at load with the line they are on, and the
//! settings they resolve to.

use toml::Spanned;

use super::ConnectionConfig;
use crate::providers::{ProviderKind, salesforce};

/// What is wrong, where: the offset in the file and the message.
type Refusal = (usize, String);

impl ConnectionConfig {
    /// Where sign-in and token refresh go for a CRM that signs in on a host of its own
    /// (`login_url`), else `base_url` (a sandbox serving both).
    pub fn sign_in_base(&self) -> Option<&str> {
        self.login_url
            .as_ref()
            .map(|u| u.get_ref().as_str())
            .or(self.base_url.as_deref())
    }

    /// The API host the connection's calls go to: the account's own host a sign-in named
    /// (`instance_url`), else `base_url`.
    pub fn api_base(&self) -> Option<&str> {
        self.instance_url
            .as_ref()
            .map(|u| u.get_ref().as_str())
            .or(self.base_url.as_deref())
    }

    /// The key that holds the API host a sign-in names for the account: `instance_url` for
    /// a CRM that signs in on a login host of its own, else `base_url`.
    pub fn api_base_key(&self) -> &'static str {
        match self.provider {
            ProviderKind::Salesforce => "instance_url",
            _ => "base_url",
        }
    }

    /// Sets the API host a sign-in named for the account ([`ConnectionConfig::api_base_key`]).
    pub fn set_api_base(&mut self, base: &str) {
        match self.provider {
            ProviderKind::Salesforce => {
                self.instance_url = Some(Spanned::new(0..0, base.to_string()));
            }
            _ => self.base_url = Some(base.to_string()),
        }
    }

    /// The Salesforce settings of the connection, defaults filled in.
    pub fn salesforce_settings(&self) -> salesforce::Settings {
        let d = salesforce::Settings::default();
        salesforce::Settings {
            api_version: self
                .api_version
                .as_ref()
                .map_or(d.api_version, |v| v.get_ref().trim().to_string()),
            reserve_percent: self
                .reserve_percent
                .as_ref()
                .map_or(d.reserve_percent, |p| (*p.get_ref()).clamp(0, 100) as u8),
            bulk_threshold: self
                .bulk_threshold
                .as_ref()
                .map_or(d.bulk_threshold, |t| (*t.get_ref()).max(0) as u64),
        }
    }
}

/// Checks connection `name`'s Salesforce keys; `text` is the config file, to find the
/// connection's table for a refusal that concerns a missing key.
pub(super) fn check(name: &str, conn: &ConnectionConfig, text: &str) -> Result<(), Refusal> {
    let key = |k: &str| format!("`connections.{name}.{k}`");
    if conn.provider != ProviderKind::Salesforce {
        let crm = conn.provider.display_name();
        let given = [
            ("login_url", conn.login_url.as_ref().map(Spanned::span)),
            (
                "instance_url",
                conn.instance_url.as_ref().map(Spanned::span),
            ),
            ("api_version", conn.api_version.as_ref().map(Spanned::span)),
            (
                "reserve_percent",
                conn.reserve_percent.as_ref().map(Spanned::span),
            ),
            (
                "bulk_threshold",
                conn.bulk_threshold.as_ref().map(Spanned::span),
            ),
        ];
        if let Some((k, Some(span))) = given.into_iter().find(|(_, s)| s.is_some()) {
            return Err((
                span.start,
                format!(
                    "{}: only Salesforce connections have `{k}`, and this one is {crm}: leave it out",
                    key(k)
                ),
            ));
        }
        return Ok(());
    }
    for (k, url) in [
        ("login_url", &conn.login_url),
        ("instance_url", &conn.instance_url),
    ] {
        if let Some(url) = url {
            crate::providers::http::check_base_url(url.get_ref())
                .map_err(|m| (url.span().start, format!("{}: {m}", key(k))))?;
        }
    }
    if let Some(v) = &conn.api_version
        && !salesforce::is_api_version(v.get_ref())
    {
        return Err((
            v.span().start,
            format!(
                "{}: `{}` is not an API version: expected `vNN.0`, for example `{}`",
                key("api_version"),
                v.get_ref(),
                salesforce::DEFAULT_API_VERSION
            ),
        ));
    }
    if let Some(p) = &conn.reserve_percent
        && !(0..100).contains(p.get_ref())
    {
        return Err((
            p.span().start,
            format!(
                "{}: {} is out of range: expected a whole number from 0 to 99 (a percentage of the org's daily API allocation)",
                key("reserve_percent"),
                p.get_ref()
            ),
        ));
    }
    if let Some(t) = &conn.bulk_threshold
        && *t.get_ref() < 0
    {
        return Err((
            t.span().start,
            format!(
                "{}: {} is out of range: expected a number of records, 0 or more",
                key("bulk_threshold"),
                t.get_ref()
            ),
        ));
    }
    if conn.token_env.is_some() && conn.instance_url.is_none() && conn.base_url.is_none() {
        return Err((
            table_offset(text, name),
            format!(
                "{}: a Salesforce token from `token_env` needs the org's API host: add `instance_url = \"https://MYDOMAIN.my.salesforce.com\"` (the `instance_url` of the token answer)",
                key("token_env")
            ),
        ));
    }
    Ok(())
}

/// Where `[connections.NAME]` (or its `token_env` line) is in `text`; the start of the file
/// when it cannot be found.
fn table_offset(text: &str, name: &str) -> usize {
    let headers = [
        format!("[connections.{name}]"),
        format!("[connections.\"{name}\"]"),
    ];
    let mut offset = 0;
    let mut in_table = None;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with('[') {
            in_table = headers
                .iter()
                .any(|h| t.starts_with(h.as_str()))
                .then_some(offset);
        } else if in_table.is_some() && t.starts_with("token_env") {
            return offset;
        }
        offset += line.len();
    }
    0
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;
    use crate::config::refusal_with_line as refusal;

    #[test]
    fn salesforce_keys_resolve_to_their_defaults() {
        let c = Config::parse(
            "[connections.sf]\nprovider = \"salesforce\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let s = c.connections["sf"].salesforce_settings();
        assert_eq!(s.api_version, "v61.0");
        assert_eq!((s.reserve_percent, s.bulk_threshold), (20, 10_000));
        let c = Config::parse(
            "[connections.sf]\nprovider = \"salesforce\"\nlogin_url = \"https://test.salesforce.com\"\ninstance_url = \"https://acme.my.salesforce.com\"\napi_version = \"v62.0\"\nreserve_percent = 35\nbulk_threshold = 500\ntoken_env = \"SF\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let conn = &c.connections["sf"];
        let s = conn.salesforce_settings();
        assert_eq!(
            (s.api_version.as_str(), s.reserve_percent, s.bulk_threshold),
            ("v62.0", 35, 500)
        );
        assert_eq!(conn.sign_in_base(), Some("https://test.salesforce.com"));
        assert_eq!(conn.api_base(), Some("https://acme.my.salesforce.com"));
    }

    #[test]
    fn bad_salesforce_keys_are_refused_with_their_line() {
        let base = "[connections.sf]\nprovider = \"salesforce\"\n";
        for (extra, line, says) in [
            ("api_version = \"61\"\n", 3, "expected `vNN.0`"),
            ("reserve_percent = 100\n", 3, "from 0 to 99"),
            ("bulk_threshold = -1\n", 3, "0 or more"),
            ("login_url = \"http://login.example\"\n", 3, "plain http"),
            ("instance_url = \"ftp://x\"\n", 3, "`ftp:` URL"),
            (
                "client_id = \"x\"\ntoken_env = \"SF_TOKEN\"\n",
                4,
                "needs the org's API host",
            ),
        ] {
            let (at, message) = refusal(&format!("{base}{extra}"));
            assert_eq!(at, line, "{extra}: {message}");
            assert!(message.contains(says), "{extra}: {message}");
        }
        let (at, message) =
            refusal("[connections.hs]\nprovider = \"hubspot\"\n\nbulk_threshold = 5\n");
        assert_eq!(at, 4);
        assert!(
            message.contains("only Salesforce connections have `bulk_threshold`"),
            "{message}"
        );
    }
}
