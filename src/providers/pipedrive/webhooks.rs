//! Webhooks (`listen --subscribe`): v1 `/webhooks`, one per object crmsync syncs, every action,
//! payload version 2.0, with the HTTP Basic credentials the listener checks.

use serde_json::{Value, json};

use super::Pipedrive;
use super::wire::text;
use crate::providers::ProviderError;
use crate::providers::http::{Method, Request};

/// The name crmsync's webhooks carry.
const NAME: &str = "crmsync";

/// Pipedrive's names of the objects crmsync syncs.
const OBJECTS: [&str; 3] = ["person", "organization", "activity"];

impl Pipedrive {
    /// The ids of the webhooks whose URL is `url`.
    async fn webhooks_to(&self, url: &str) -> Result<Vec<String>, ProviderError> {
        let resp = self
            .http
            .send_ok(Request::new(Method::Get, "/api/v1/webhooks"))
            .await?;
        let body: Value = self.parse(&resp, "the webhook list")?;
        Ok(body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|w| w["subscription_url"].as_str() == Some(url))
            .filter_map(|w| text(&w["id"]))
            .collect())
    }

    /// Creates the webhooks to `url` not there yet; returns how many it created.
    pub(super) async fn subscribe(
        &self,
        url: &str,
        user: &str,
        password: &str,
    ) -> Result<usize, ProviderError> {
        // Ones to this URL already are replaced: their credentials are not the new ones.
        self.unsubscribe(url).await?;
        for object in OBJECTS {
            let body = json!({
                "subscription_url": url,
                "event_action": "*",
                "event_object": object,
                "name": NAME,
                "http_auth_user": user,
                "http_auth_password": password,
                "version": "2.0",
            });
            self.http
                .send_ok(Request::new(Method::Post, "/api/v1/webhooks").json(body))
                .await?;
        }
        Ok(OBJECTS.len())
    }

    /// Removes the webhooks to `url`; returns how many.
    pub(super) async fn unsubscribe(&self, url: &str) -> Result<usize, ProviderError> {
        let ids = self.webhooks_to(url).await?;
        for id in &ids {
            self.http
                .send_ok(Request::new(
                    Method::Delete,
                    format!("/api/v1/webhooks/{id}"),
                ))
                .await?;
        }
        Ok(ids.len())
    }
}
