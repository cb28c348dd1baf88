//! Salesforce's OAuth facts, the org's API host, and the account a token belongs to.
//!
//! OAuth (DIGEST §3.2, the web-server flow): the browser signs in at the login host's
//! `/services/oauth2/authorize` with PKCE (S256) and `state`; codes and refresh tokens are
//! exchanged at `/services/oauth2/token` with the client id and secret in the form body; a
//! grant is revoked at `/services/oauth2/revoke`. The login host is
//! `https://login.salesforce.com` for production orgs, `https://test.salesforce.com` for
//! sandbox orgs, or the org's My Domain (`login_url`).
//!
//! The token answer carries `instance_url` (the org's API host, where every API call goes:
//! `crmsync connect` makes it the connection's `instance_url`), `id` (the identity URL,
//! `…/id/<org id>/<user id>`), `issued_at` and `signature`, and no `expires_in`
//! (unconfirmed in DIGEST §3.2, but widely relied on): the token's end is learned from a
//! `401 INVALID_SESSION_ID`, on which the shared client refreshes once and tries once more.
//!
//! The account: `GET /services/oauth2/userinfo` on the instance, whose `organization_id` is
//! the account's id (a connection's links are bound to the org: two users of one org are one
//! account, which two connections would copy records back and forth in).

use serde_json::Value;

use super::Salesforce;
use crate::providers::http::Method;
use crate::providers::{AccountInfo, OAuthSpec, ProviderError, ProviderKind};

/// The login host of production orgs.
pub const PRODUCTION_LOGIN_URL: &str = "https://login.salesforce.com";
/// The login host of sandbox orgs (`crmsync connect salesforce --sandbox`).
pub const SANDBOX_LOGIN_URL: &str = "https://test.salesforce.com";

/// Whether `host` is one of Salesforce's own (`login.salesforce.com`, a My Domain
/// `NAME.my.salesforce.com`, an instance `NAME.force.com`).
fn salesforce_host(host: &str) -> bool {
    ["salesforce.com", "force.com"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

/// Salesforce's OAuth endpoints on `login` (the connection's `login_url`, else `base_url`,
/// else [`PRODUCTION_LOGIN_URL`]); `auth_url` replaces the authorize URL.
pub fn oauth_spec(login: Option<&str>, auth_url: Option<&str>) -> OAuthSpec {
    let login = login
        .map(|l| l.trim().trim_end_matches('/'))
        .filter(|l| !l.is_empty())
        .unwrap_or(PRODUCTION_LOGIN_URL);
    OAuthSpec {
        provider: ProviderKind::Salesforce,
        authorize_url: auth_url.map_or_else(
            || format!("{login}/services/oauth2/authorize"),
            str::to_string,
        ),
        token_url: format!("{login}/services/oauth2/token"),
        // The revoke endpoint takes `token` (a refresh or an access token) as a form POST;
        // revoking the refresh token ends the grant and its access tokens.
        revoke_url: Some(format!("{login}/services/oauth2/revoke")),
        pkce: true,
        client_secret_in_body: true,
        // `api` for the REST API, `refresh_token` for a refresh token (DIGEST §3.2).
        scopes: vec!["api".into(), "refresh_token".into()],
        scope_separator: " ",
    }
}

/// The org's API host a sign-in's token answer names (`instance_url`, kept in the
/// credentials' `extra`). Issued by Salesforce's own login host (`spec`), it must be an
/// `https` Salesforce host; a sandbox's may be any base URL on this machine.
pub fn instance_url(
    spec: &OAuthSpec,
    extra: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    let instance = extra.get("instance_url")?.trim().trim_end_matches('/');
    let url = url::Url::parse(instance).ok()?;
    let ours = url::Url::parse(&spec.token_url)
        .ok()
        .and_then(|u| u.host_str().map(salesforce_host))
        .unwrap_or(false);
    let salesforce = url.scheme() == "https" && url.host_str().is_some_and(salesforce_host);
    let trusted = salesforce || (!ours && crate::providers::http::check_base_url(instance).is_ok());
    trusted.then(|| instance.to_string())
}

/// Whether `v` is a REST API version as Salesforce writes one (`v61.0`).
pub fn is_api_version(v: &str) -> bool {
    let Some(rest) = v.trim().strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.split('.');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(major), Some(minor), None)
            if !major.is_empty() && !minor.is_empty()
                && major.chars().all(|c| c.is_ascii_digit())
                && minor.chars().all(|c| c.is_ascii_digit())
    )
}

/// The org id and user id of an identity URL (`…/id/<org id>/<user id>`).
fn ids_of_identity(url: &str) -> Option<(String, String)> {
    let mut segs = url.trim_end_matches('/').rsplit('/');
    let user = segs.next()?.to_string();
    let org = segs.next()?.to_string();
    (segs.next() == Some("id")).then_some((org, user))
}

impl Salesforce {
    pub(super) async fn account_info(&self) -> Result<AccountInfo, ProviderError> {
        let resp = self
            .send_ok(self.request(Method::Get, "/services/oauth2/userinfo".into()))
            .await?;
        let v: Value = self.parse(&resp, "the user info")?;
        // `organization_id` and `user_id` are the OpenID Connect userinfo fields Salesforce
        // adds (unconfirmed in DIGEST §3); `sub` is the identity URL, read when they are not
        // there.
        let from_sub = v["sub"].as_str().and_then(ids_of_identity);
        let org = v["organization_id"]
            .as_str()
            .map(str::to_string)
            .or_else(|| from_sub.as_ref().map(|(o, _)| o.clone()))
            .ok_or_else(|| {
                ProviderError::Other("Salesforce user info carries no `organization_id`".into())
            })?;
        let user = v["user_id"]
            .as_str()
            .map(str::to_string)
            .or_else(|| from_sub.map(|(_, u)| u));
        let mut account = format!("org {org}");
        let who = v["preferred_username"]
            .as_str()
            .or(v["email"].as_str())
            .map(str::to_string);
        match (who, user) {
            (Some(w), Some(u)) => account.push_str(&format!(", user {w} ({u})")),
            (Some(w), None) => account.push_str(&format!(", user {w}")),
            (None, Some(u)) => account.push_str(&format!(", user {u}")),
            (None, None) => {}
        }
        Ok(AccountInfo {
            id: org,
            account,
            scopes: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_is_on_the_login_host() {
        let spec = oauth_spec(None, None);
        assert_eq!(
            spec.authorize_url,
            "https://login.salesforce.com/services/oauth2/authorize"
        );
        assert_eq!(
            spec.token_url,
            "https://login.salesforce.com/services/oauth2/token"
        );
        assert_eq!(
            spec.revoke_url.as_deref(),
            Some("https://login.salesforce.com/services/oauth2/revoke")
        );
        assert!(spec.pkce && spec.client_secret_in_body);
        assert_eq!(spec.scopes, ["api", "refresh_token"]);
        let sandbox = oauth_spec(Some("https://test.salesforce.com/"), None);
        assert_eq!(
            sandbox.token_url,
            "https://test.salesforce.com/services/oauth2/token"
        );
        let mine = oauth_spec(Some("https://acme.my.salesforce.com"), Some("https://x/a"));
        assert_eq!(mine.authorize_url, "https://x/a");
        assert_eq!(
            mine.revoke_url.as_deref(),
            Some("https://acme.my.salesforce.com/services/oauth2/revoke")
        );
    }

    #[test]
    fn the_instance_url_is_taken_only_from_where_it_can_be_trusted() {
        let extra = |d: &str| std::collections::BTreeMap::from([("instance_url".into(), d.into())]);
        let real = oauth_spec(None, None);
        assert_eq!(
            instance_url(&real, &extra("https://acme.my.salesforce.com/")).as_deref(),
            Some("https://acme.my.salesforce.com")
        );
        assert_eq!(
            instance_url(&real, &extra("http://acme.my.salesforce.com")),
            None
        );
        assert_eq!(instance_url(&real, &extra("https://evil.example")), None);
        assert_eq!(instance_url(&real, &Default::default()), None);
        let local = oauth_spec(Some("http://127.0.0.1:9"), None);
        assert_eq!(
            instance_url(&local, &extra("http://127.0.0.1:9")).as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(instance_url(&local, &extra("http://10.0.0.1:9")), None);
    }

    #[test]
    fn api_versions_and_identity_urls() {
        assert!(is_api_version("v61.0") && is_api_version("v9.1"));
        for bad in ["61.0", "v61", "v61.0.1", "vx.0", "v.0"] {
            assert!(!is_api_version(bad), "{bad}");
        }
        assert_eq!(
            ids_of_identity("https://login.salesforce.com/id/00Dxx0000001gPL/005xx000001Sv6A"),
            Some(("00Dxx0000001gPL".into(), "005xx000001Sv6A".into()))
        );
        assert_eq!(ids_of_identity("https://x/y/z"), None);
    }
}
