//! The app's webhooks, which a developer sets in the app's settings (`listen --subscribe`
//! prints them and checks them): the subscriptions `listen` needs for an object, and the
//! settings as HubSpot's webhooks v3 API shows them, `GET /webhooks/v3/{appId}/settings`
//! (`{targetUrl, throttling, createdAt, updatedAt}`) and `GET /webhooks/v3/{appId}/subscriptions`
//! (`{results: [{id, eventType, propertyName?, active, …}]}`), read with the app's developer
//! API key in `hapikey` instead of the connection's token.

use serde_json::Value;

use super::{COMPANY_ASSOCIATION, HubSpot};
use crate::model::ObjectKind;
use crate::providers::http::{Method, Request};
use crate::providers::{ProviderError, WebhookSettings, WebhookSubscription};

/// The subscriptions that bring `listen` the changes of `object` in `properties` (HubSpot
/// property names): its creations, deletions, merges and restores, a change of each property
/// (`associations.companies`, a contact's company, as an association change). HubSpot's
/// webhooks carry contacts and companies; other objects come by the delta sync.
pub fn webhook_subscriptions(
    object: ObjectKind,
    properties: &[String],
) -> Vec<WebhookSubscription> {
    let name = match object {
        ObjectKind::Contact => "contact",
        ObjectKind::Company => "company",
        _ => return Vec::new(),
    };
    let of = |what: &str, property: Option<&str>| WebhookSubscription {
        event_type: format!("{name}.{what}"),
        property: property.map(str::to_string),
    };
    let mut out: Vec<WebhookSubscription> = ["creation", "deletion", "merge", "restore"]
        .iter()
        .map(|what| of(what, None))
        .collect();
    // A contact erased for privacy leaves no trace a sync could read: only its event tells.
    if object == ObjectKind::Contact {
        out.push(of("privacyDeletion", None));
    }
    for p in properties {
        if p == COMPANY_ASSOCIATION {
            out.push(of("associationChange", None));
        } else if !p.starts_with("associations.") {
            out.push(of("propertyChange", Some(p)));
        }
    }
    out.sort();
    out.dedup();
    out
}

impl HubSpot {
    /// Reads app `app_id`'s webhook settings with its developer key; a target URL HubSpot
    /// has none of (404 on the settings) is `None`.
    pub(super) async fn app_webhooks(
        &self,
        app_id: u64,
        developer_key: &str,
    ) -> Result<WebhookSettings, ProviderError> {
        let get = |what: &str| {
            Request::new(Method::Get, format!("/webhooks/v3/{app_id}/{what}"))
                .query("hapikey", developer_key)
                .with_own_credentials()
        };
        let resp = self.http.send(get("settings")).await?;
        let target_url = match resp.status {
            404 => None,
            _ if resp.is_success() => {
                let v: Value = self.parse(&resp, "the app's webhook settings")?;
                v["targetUrl"]
                    .as_str()
                    .filter(|u| !u.is_empty())
                    .map(str::to_string)
            }
            _ => return Err(self.http.api_error(&get("settings"), &resp)),
        };
        let resp = self.http.send_ok(get("subscriptions")).await?;
        let v: Value = self.parse(&resp, "the app's webhook subscriptions")?;
        let mut settings = WebhookSettings {
            target_url,
            ..WebhookSettings::default()
        };
        for s in v["results"].as_array().into_iter().flatten() {
            let Some(event_type) = s["eventType"].as_str() else {
                continue;
            };
            let sub = WebhookSubscription {
                event_type: event_type.to_string(),
                property: s["propertyName"].as_str().map(str::to_string),
            };
            if s["active"].as_bool().unwrap_or(false) {
                settings.active.push(sub);
            } else {
                settings.paused.push(sub);
            }
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pulled_property_is_a_property_change_and_the_company_an_association_change() {
        let subs = webhook_subscriptions(
            ObjectKind::Contact,
            &["phone".into(), "email".into(), COMPANY_ASSOCIATION.into()],
        );
        let names: Vec<String> = subs
            .iter()
            .map(|s| match &s.property {
                Some(p) => format!("{}:{p}", s.event_type),
                None => s.event_type.clone(),
            })
            .collect();
        assert_eq!(
            names,
            [
                "contact.associationChange",
                "contact.creation",
                "contact.deletion",
                "contact.merge",
                "contact.privacyDeletion",
                "contact.propertyChange:email",
                "contact.propertyChange:phone",
                "contact.restore",
            ]
        );
        // A company is not erased for privacy.
        let companies = webhook_subscriptions(ObjectKind::Company, &[]);
        assert!(
            companies
                .iter()
                .all(|s| s.event_type != "company.privacyDeletion")
        );
        assert!(webhook_subscriptions(ObjectKind::Deal, &["amount".into()]).is_empty());
    }
}
