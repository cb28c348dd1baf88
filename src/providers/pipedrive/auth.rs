//! The account an API token belongs to: `GET /api/v1/users/me`, whose `company_id` is the
//! account's id (a connection's links are bound to it).

use serde_json::Value;

use super::Pipedrive;
use super::wire::text;
use crate::providers::http::{Method, Request};
use crate::providers::{AccountInfo, ProviderError};

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
