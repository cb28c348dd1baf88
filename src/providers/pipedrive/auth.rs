//! Pipedrive's OAuth facts, how a token is sent, and the account a token belongs to.
//!
//! OAuth (DIGEST §2.2, the v1 spec's `/oauth/*`): the browser signs in at
//! `oauth.pipedrive.com/oauth/authorize` (no scopes in the URL: they are set on the app), the
//! code and refresh tokens are exchanged at `oauth.pipedrive.com/oauth/token` with the client
//! credentials in HTTP Basic, and there is no PKCE. The token answer's `api_domain` (the
//! company's own host) is where the access token is sent; `crmsync connect` makes it the
//! connection's `base_url`. A grant is revoked at `oauth.pipedrive.com/oauth/revoke` (see
//! [`oauth_spec`]).
//!
//! An OAuth access token goes in `Authorization: Bearer`, an API token in `x-api-token`
//! ([`is_api_token`] tells them apart).
//!
//! The account: `GET /api/v1/users/me`, whose `company_id` is the account's id (a
//! connection's links are bound to it).

use serde_json::Value;

use super::Pipedrive;
use super::wire::text;
use crate::providers::http::{Method, Request};
use crate::providers::{AccountInfo, OAuthSpec, ProviderError, ProviderKind};

/// Pipedrive's OAuth server.
pub const OAUTH_BASE_URL: &str = "https://oauth.pipedrive.com";

/// Whether `host` is one of Pipedrive's own (`api.pipedrive.com`, a company's
/// `NAME.pipedrive.com`), whose sign-in is at [`OAUTH_BASE_URL`].
fn pipedrive_host(host: &str) -> bool {
    host == "pipedrive.com" || host.ends_with(".pipedrive.com")
}

/// Pipedrive's OAuth endpoints. With a `base_url` at Pipedrive's own hosts (the API host, or
/// the company domain a sign-in gave), sign-in and tokens are at [`OAUTH_BASE_URL`]; at another
/// host (a sandbox or emulator) they are served beside its API. `auth_url` replaces the
/// authorize URL.
pub fn oauth_spec(base_url: Option<&str>, auth_url: Option<&str>) -> OAuthSpec {
    let elsewhere = base_url
        .map(|b| b.trim_end_matches('/'))
        .filter(|b| !url::Url::parse(b).is_ok_and(|u| u.host_str().is_some_and(pipedrive_host)));
    let oauth = elsewhere.unwrap_or(OAUTH_BASE_URL);
    OAuthSpec {
        provider: ProviderKind::Pipedrive,
        authorize_url: auth_url.map_or_else(|| format!("{oauth}/oauth/authorize"), str::to_string),
        token_url: format!("{oauth}/oauth/token"),
        // Pipedrive's developer documentation ("Handling user app uninstallation" → "Token
        // revocation") gives `POST https://oauth.pipedrive.com/oauth/revoke`, conforming to RFC
        // 7009: the client id and secret in HTTP Basic, `token=<refresh token>` and
        // `token_type_hint=refresh_token`; revoking the refresh token ends the grant, its access
        // tokens with it. The v1 OpenAPI file does not list this operation.
        revoke_url: Some(format!("{oauth}/oauth/revoke")),
        pkce: false,
        client_secret_in_body: false,
        // Pipedrive takes no scopes in the authorize URL: the app's registration sets them.
        scopes: Vec::new(),
        scope_separator: " ",
    }
}

/// The API base a sign-in's token answer names (`api_domain`, kept in the credentials'
/// `extra`), where the access token is to be sent. Issued by Pipedrive's own OAuth server
/// (`spec`), it must be an `https` Pipedrive host; a sandbox's may be any base URL.
pub fn api_base(
    spec: &OAuthSpec,
    extra: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    let domain = extra.get("api_domain")?.trim().trim_end_matches('/');
    let url = url::Url::parse(domain).ok()?;
    let ours = spec.token_url.starts_with(OAUTH_BASE_URL);
    let pipedrive = url.scheme() == "https" && url.host_str().is_some_and(pipedrive_host);
    (pipedrive || !ours).then(|| domain.to_string())
}

/// Whether `token` is an API token rather than an OAuth access token: Pipedrive's access
/// tokens are `:`-separated parts (`v1u:…`, the spec's example), its API tokens hex digits.
pub fn is_api_token(token: &str) -> bool {
    !token.contains(':')
}

impl Pipedrive {
    pub(super) async fn account_info(&self) -> Result<AccountInfo, ProviderError> {
        let resp = self
            .http
            .send_ok(Request::new(Method::Get, "/api/v1/users/me"))
            .await?;
        let v: Value = self.parse(&resp, "the user details")?;
        let me = &v["data"];
        let company = text(&me["company_id"]).ok_or_else(|| {
            ProviderError::Other("Pipedrive user details carry no `company_id`".into())
        })?;
        let mut account = format!("company {company}");
        if let Some(name) = me["company_name"].as_str() {
            account = format!("{name} ({account})");
        }
        if let Some(domain) = me["company_domain"].as_str() {
            account.push_str(&format!(" on {domain}.pipedrive.com"));
        }
        if let Some(email) = me["email"].as_str() {
            account.push_str(&format!(", user {email}"));
        }
        Ok(AccountInfo {
            id: company,
            account,
            scopes: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_is_at_pipedrives_oauth_host_unless_the_api_is_elsewhere() {
        for base in [
            None,
            Some("https://api.pipedrive.com"),
            Some("https://acme.pipedrive.com/"),
        ] {
            let spec = oauth_spec(base, None);
            assert_eq!(
                spec.authorize_url,
                "https://oauth.pipedrive.com/oauth/authorize"
            );
            assert_eq!(spec.token_url, "https://oauth.pipedrive.com/oauth/token");
            assert_eq!(
                spec.revoke_url.as_deref(),
                Some("https://oauth.pipedrive.com/oauth/revoke")
            );
            assert!(!spec.pkce && !spec.client_secret_in_body);
        }
        let sandbox = oauth_spec(Some("http://127.0.0.1:9/"), None);
        assert_eq!(sandbox.token_url, "http://127.0.0.1:9/oauth/token");
        assert_eq!(
            sandbox.revoke_url.as_deref(),
            Some("http://127.0.0.1:9/oauth/revoke")
        );
        assert_eq!(sandbox.authorize_url, "http://127.0.0.1:9/oauth/authorize");
        let eu = oauth_spec(None, Some("https://sign.in/here"));
        assert_eq!(eu.authorize_url, "https://sign.in/here");
    }

    #[test]
    fn the_api_domain_is_taken_only_from_where_it_can_be_trusted() {
        let extra = |d: &str| std::collections::BTreeMap::from([("api_domain".into(), d.into())]);
        let real = oauth_spec(None, None);
        assert_eq!(
            api_base(&real, &extra("https://acme.pipedrive.com/")).as_deref(),
            Some("https://acme.pipedrive.com")
        );
        assert_eq!(api_base(&real, &extra("http://acme.pipedrive.com")), None);
        assert_eq!(api_base(&real, &extra("https://evil.example")), None);
        assert_eq!(api_base(&real, &Default::default()), None);
        let sandbox = oauth_spec(Some("http://127.0.0.1:9"), None);
        assert_eq!(
            api_base(&sandbox, &extra("http://127.0.0.1:9")).as_deref(),
            Some("http://127.0.0.1:9")
        );
    }

    #[test]
    fn api_tokens_go_in_the_header_and_oauth_tokens_as_bearer() {
        assert!(is_api_token("0123456789abcdef0123456789ABCDEF01234567"));
        assert!(!is_api_token(
            "v1u:AQIBAHj+LzTNK1yuuuaLqifzhWb9crUNKTpk4FlQ9rjnXqp"
        ));
        assert!(!is_api_token("v1u:0123456789abcdef"));
    }
}
