//! HubSpot's OAuth facts and the account a token belongs to.
//!
//! [`Provider::account`] calls `GET /account-info/v3/details` (scope `oauth`), which works for
//! OAuth and private-app tokens alike and, unlike `/oauth/v1/access-tokens/{token}`, keeps the
//! token out of the URL. Its `portalId` is the account's id, which a connection's links are
//! bound to; every sync asks once, before anything else.

use serde_json::Value;

use super::wire::json_id;
use super::{DEFAULT_BASE_URL, HubSpot};
use crate::providers::http::{Method, Request};
use crate::providers::{AccountInfo, OAuthSpec, ProviderError, ProviderKind};

/// Where the browser signs in.
pub const DEFAULT_AUTHORIZE_URL: &str = "https://app.hubspot.com/oauth/authorize";

/// HubSpot's OAuth endpoints and the scopes crmsync needs. HubSpot signs people in on its web
/// app (`app.hubspot.com`), not on its API host: `base_url` moves the token and revoke URLs
/// to another API host and, as a host that is not HubSpot's (an emulator) serves the sign-in
/// page beside its API, the authorize URL to `<base_url>/oauth/authorize` too; `auth_url`
/// replaces the authorize URL (an EU account's `app-eu1.hubspot.com`).
pub fn oauth_spec(base_url: Option<&str>, auth_url: Option<&str>) -> OAuthSpec {
    let api = base_url.unwrap_or(DEFAULT_BASE_URL).trim_end_matches('/');
    let elsewhere = base_url.filter(|b| b.trim_end_matches('/') != DEFAULT_BASE_URL);
    let authorize_url = match (auth_url, elsewhere) {
        (Some(url), _) => url.to_string(),
        (None, Some(_)) => format!("{api}/oauth/authorize"),
        (None, None) => DEFAULT_AUTHORIZE_URL.to_string(),
    };
    OAuthSpec {
        provider: ProviderKind::Hubspot,
        authorize_url,
        token_url: format!("{api}/oauth/v1/token"),
        revoke_url: Some(format!("{api}/oauth/v3/token/revoke")),
        pkce: true,
        client_secret_in_body: true,
        scopes: [
            "crm.objects.contacts.read",
            "crm.objects.contacts.write",
            "crm.objects.companies.read",
            "crm.objects.companies.write",
            "crm.schemas.contacts.read",
            "crm.schemas.contacts.write",
            "crm.schemas.companies.read",
            "crm.schemas.companies.write",
            "crm.objects.owners.read",
            "oauth",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        scope_separator: " ",
    }
}

impl HubSpot {
    pub(super) async fn account_info(&self) -> Result<AccountInfo, ProviderError> {
        let resp = self
            .http
            .send_ok(Request::new(Method::Get, "/account-info/v3/details"))
            .await?;
        let v: Value = self.parse(&resp, "the account details")?;
        let portal = json_id(&v["portalId"]).ok_or_else(|| {
            ProviderError::Other("HubSpot account details carry no `portalId`".into())
        })?;
        let mut account = format!("portal {portal}");
        if let Some(domain) = v["uiDomain"].as_str() {
            account.push_str(&format!(" on {domain}"));
        }
        if let Some(kind) = v["accountType"].as_str()
            && kind != "STANDARD"
        {
            account.push_str(&format!(" ({})", kind.to_ascii_lowercase()));
        }
        Ok(AccountInfo {
            id: portal,
            account,
            scopes: Vec::new(),
        })
    }
}
