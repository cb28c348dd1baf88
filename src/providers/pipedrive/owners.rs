//! Owners: a local owner is a user's email; Pipedrive's `owner_id` is the user's id. The
//! `owner` field syncs with `owner_id` where the connection maps it
//! (`[[connections.NAME.fields]] object = "contact", local = "owner", remote = "owner_id"`):
//! not by default, because Pipedrive gives every record created without an owner to the
//! token's user, and that owner would come back into each local record crmsync creates. The
//! company's users (`GET /v1/users`, which lists them all in one answer) are the options of
//! the `owner_id` field, the email the label and the id the value, as HubSpot's owners are
//! of its owner property: an email is sent as the user's id, and an id read back reads as
//! the email. The engine keeps the options with the catalogue, and maps a connection's
//! `owners` aliases onto them.
//!
//! An owner no user has reaches the provider still an email; it is refused here, as the
//! record's failure, before anything is sent.

use serde_json::Value;

use super::Pipedrive;
use super::wire::text;
use crate::providers::http::{Method, Request};
use crate::providers::{FieldOption, ProviderError, RecordError};

/// The property holding a record's owner, a user's id.
pub(super) const OWNER_ID: &str = "owner_id";

impl Pipedrive {
    /// The company's users that have an email, as options of `owner_id`.
    pub(super) async fn users(&self) -> Result<Vec<FieldOption>, ProviderError> {
        let resp = self
            .http
            .send_ok(Request::new(Method::Get, "/api/v1/users"))
            .await?;
        let body: Value = self.parse(&resp, "the user list")?;
        Ok(body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| {
                let value = text(&u["id"])?;
                let email = u["email"].as_str().filter(|e| !e.is_empty())?;
                Some(FieldOption {
                    value,
                    label: email.to_string(),
                })
            })
            .collect())
    }
}

/// Refuses a write whose `owner_id` is not a user's id: a local owner that no Pipedrive
/// user's email (nor an alias of one) matched.
pub(super) fn check_owner(
    props: &std::collections::BTreeMap<String, String>,
) -> Result<(), RecordError> {
    let Some(owner) = props.get(OWNER_ID).filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    if owner.parse::<i64>().is_ok() {
        return Ok(());
    }
    Err(RecordError {
        message: format!(
            "owner `{owner}` is no Pipedrive user: an owner is the email of one of the \
             company's Pipedrive users (or the user's id), or an email the connection's \
             `owners` table maps to one"
        ),
        code: Some("owner".into()),
        retryable: false,
        kind: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_that_is_still_an_email_is_refused_naming_it() {
        let props = |v: &str| {
            [(OWNER_ID.to_string(), v.to_string())]
                .into_iter()
                .collect()
        };
        assert!(check_owner(&props("7")).is_ok());
        assert!(check_owner(&props("")).is_ok());
        assert!(check_owner(&Default::default()).is_ok());
        let refused = check_owner(&props("nobody@local.example")).unwrap_err();
        assert!(
            refused
                .message
                .contains("`nobody@local.example` is no Pipedrive user"),
            "{}",
            refused.message
        );
        assert!(refused.message.contains("`owners`"), "{}", refused.message);
    }
}
