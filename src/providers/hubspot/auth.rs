//! HubSpot's OAuth facts and the account a token belongs to.
//!
//! [`Provider::account`] calls `GET /account-info/v3/details` (scope `oauth`), which works for
//! OAuth and private-app tokens alike and, unlike `/oauth/v1/access-tokens/{token}`, keeps the
//! token out of the URL. Its `portalId` is the account's id, which a connection's links are
//! bound to; every sync asks once, before anything else.

use serde_json::Value;

use super::wire::json_id;
use super::{DEFAULT_BASE_URL, HubSpot};
use crate::model::ObjectKind;
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

/// The scopes syncing `object` needs beyond the ones every connection asks for, as HubSpot's
/// v3 specs name them (`CRM/{Deals,Calls,Emails,Meetings,Notes,Tasks}/Rollouts/424/v3`,
/// `CRM/Properties`, `CRM/Pipelines`, `CRM/Associations` v4).
///
/// - Deals: `crm.objects.deals.read|write` for the objects, search and batch endpoints, and
///   `crm.schemas.deals.read|write` for the property catalogue and `mappings setup`'s
///   `crmsync_id`. The deal pipelines (`GET /crm/v3/pipelines/deals`) and the v4
///   associations take `crm.objects.deals.read` among their alternatives.
/// - Activities: none. HubSpot gates the calls, meetings, notes and tasks objects by
///   `crm.objects.contacts.read|write`, which every connection asks for; its emails take
///   those too, or `sales-email-read` instead (either is enough, so it is not asked for).
///   `crm.objects.{calls,emails,meetings,notes,tasks}.read` are named only as alternatives of
///   the catalogue and association endpoints, which the contacts scopes also satisfy.
pub fn object_scopes(object: ObjectKind) -> &'static [&'static str] {
    match object {
        ObjectKind::Deal => &[
            "crm.objects.deals.read",
            "crm.objects.deals.write",
            "crm.schemas.deals.read",
            "crm.schemas.deals.write",
        ],
        ObjectKind::Contact | ObjectKind::Company | ObjectKind::Activity => &[],
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
