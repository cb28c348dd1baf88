//! The credentials kept per connection, and a string type that never prints its content.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Millis;
use crate::providers::ProviderKind;

/// A secret (token, client secret). `Debug` and `Display` print `[redacted]`; the value is only
/// reachable through [`SecretString::expose`], which makes every use visible in review.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> SecretString {
        SecretString(value.into())
    }

    /// The secret itself, to be sent where it belongs and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        SecretString(value)
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How the credentials were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialKind {
    /// An OAuth sign-in: the access token expires and is renewed with the refresh token.
    Oauth,
    /// A private-app or API token given with `--token`/`--token-env`: used as it is.
    StaticToken,
}

/// What the keychain holds for one connection (as JSON). `Debug` redacts the tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub kind: CredentialKind,
    pub provider: ProviderKind,
    pub access_token: SecretString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<SecretString>,
    /// When the access token expires (epoch ms); `None` when the CRM did not say or it does
    /// not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Millis>,
    /// `Bearer` for every CRM crmsync speaks; kept because the token endpoint says it.
    #[serde(default = "bearer")]
    pub token_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The OAuth client the tokens were issued to (needed to refresh them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A one-line description of the account (portal, company, org and user), for
    /// `crmsync connections`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The account id (HubSpot's portal id) the credentials were issued for, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// `host[:port]` of the API the credentials were issued for (recorded by
    /// [`super::Keychain::save`]; absent from entries saved by an older crmsync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_host: Option<String>,
    /// `host[:port]` of the token endpoint they were issued by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_host: Option<String>,
    /// Other fields of the token response, as text (for instance the API host or account id
    /// some CRMs return with the token, which their provider needs). Secrets such as an
    /// `id_token` are not kept. `Debug` shows the keys only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

fn bearer() -> String {
    "Bearer".to_string()
}

impl Credentials {
    /// Credentials for a private-app or API token (`connect --token-env VAR`).
    pub fn static_token(provider: ProviderKind, token: SecretString) -> Credentials {
        Credentials {
            kind: CredentialKind::StaticToken,
            provider,
            access_token: token,
            refresh_token: None,
            expires_at: None,
            token_type: bearer(),
            scopes: Vec::new(),
            client_id: None,
            account: None,
            account_id: None,
            api_host: None,
            token_host: None,
            extra: BTreeMap::new(),
        }
    }

    /// Whether the access token is still good for at least `margin_ms` at `now`.
    pub fn is_fresh(&self, now: Millis, margin_ms: Millis) -> bool {
        match self.expires_at {
            Some(at) => at - now > margin_ms,
            None => true,
        }
    }

    /// Whether these credentials can be renewed without the user.
    pub fn can_refresh(&self) -> bool {
        self.kind == CredentialKind::Oauth && self.refresh_token.is_some()
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("credentials serialize to JSON")
    }

    pub(crate) fn from_json(text: &str) -> Result<Credentials, serde_json::Error> {
        serde_json::from_str(text)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("kind", &self.kind)
            .field("provider", &self.provider)
            .field("access_token", &self.access_token)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .field("token_type", &self.token_type)
            .field("scopes", &self.scopes)
            .field("client_id", &self.client_id)
            .field("account", &self.account)
            .field("account_id", &self.account_id)
            .field("api_host", &self.api_host)
            .field("token_host", &self.token_host)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Credentials {
        Credentials {
            kind: CredentialKind::Oauth,
            provider: ProviderKind::Hubspot,
            access_token: SecretString::new("at-very-secret"),
            refresh_token: Some(SecretString::new("rt-very-secret")),
            expires_at: Some(1_000),
            token_type: "Bearer".into(),
            scopes: vec!["crm.objects.contacts.read".into()],
            client_id: Some("client-1".into()),
            account: Some("portal 42".into()),
            account_id: Some("42".into()),
            api_host: Some("x.example".into()),
            token_host: Some("x.example".into()),
            extra: BTreeMap::from([("api_host".to_string(), "https://x.example".to_string())]),
        }
    }

    #[test]
    fn debug_output_never_contains_tokens() {
        let text = format!("{:?} {:#?}", sample(), sample());
        assert!(!text.contains("very-secret"), "{text}");
        assert!(text.contains("[redacted]"));
        assert!(text.contains("client-1"));
    }

    #[test]
    fn json_round_trip_keeps_every_field() {
        let json = sample().to_json();
        assert!(json.contains(r#""kind":"oauth""#), "{json}");
        assert_eq!(Credentials::from_json(&json).unwrap(), sample());
        let token = Credentials::static_token(ProviderKind::Pipedrive, SecretString::new("x"));
        assert!(token.to_json().contains(r#""kind":"static-token""#));
    }

    #[test]
    fn freshness_uses_the_margin() {
        let c = sample();
        assert!(c.is_fresh(800, 100));
        assert!(!c.is_fresh(900, 100));
        assert!(!c.is_fresh(2_000, 0));
    }
}
