//! The secrets each connection's deliveries are checked with, and the subscriptions:
//! HubSpot's client secret (`CRMSYNC_CLIENT_SECRET_<NAME>` or the keychain, as for OAuth) and
//! the settings to enter in the app; Pipedrive's basic-auth credentials
//! (`CRMSYNC_WEBHOOK_SECRET_<NAME>` as `user:password`, else the keychain entry
//! `--subscribe` keeps).

use crate::auth::{Keychain, SecretString};
use crate::config::ConnectionConfig;
use crate::ops::Settings;
use crate::providers::ProviderKind;

use super::server::Check;

/// The user name crmsync registers for Pipedrive's basic auth.
pub const WEBHOOK_USER: &str = "crmsync";

/// `CRMSYNC_WEBHOOK_SECRET_<NAME>`.
pub fn webhook_secret_var(connection: &str) -> String {
    let token_var = crate::env::token_var(connection);
    format!(
        "{}{}",
        crate::env::WEBHOOK_SECRET_PREFIX,
        &token_var[crate::env::TOKEN_PREFIX.len()..]
    )
}

/// Splits `user:password`.
fn user_password(text: &str) -> Option<(String, String)> {
    let (u, p) = text.split_once(':')?;
    (!u.is_empty() && !p.is_empty()).then(|| (u.to_string(), p.to_string()))
}

/// How `connection`'s deliveries are checked; `None` for a CRM without webhooks.
pub async fn check_for(
    keychain: &Keychain,
    name: &str,
    conn: &ConnectionConfig,
) -> anyhow::Result<Option<Check>> {
    let scope = crate::connection::credential_scope(name, conn);
    match conn.provider {
        // A keychain that cannot be read leaves the connection without a secret: its
        // deliveries are refused (and said so on start), the other connections still listen.
        ProviderKind::Hubspot => Ok(Some(
            match crate::auth::client_secret(keychain, &scope).await {
                Ok(Some(secret)) => Check::HubSpot {
                    secret: secret.expose().to_string(),
                },
                Ok(None) => Check::Missing,
                Err(e) => {
                    tracing::warn!("`{name}`: the client secret cannot be read: {e}");
                    Check::Missing
                }
            },
        )),
        ProviderKind::Pipedrive => {
            let text = match std::env::var(webhook_secret_var(name)) {
                Ok(v) => Some(v),
                Err(_) => match keychain.load_webhook_secret(&scope).await {
                    Ok(secret) => secret.map(|s| s.expose().to_string()),
                    Err(e) => {
                        tracing::warn!("`{name}`: the webhook credentials cannot be read: {e}");
                        None
                    }
                },
            };
            Ok(Some(match text.as_deref().and_then(user_password) {
                Some((user, password)) => Check::Pipedrive { user, password },
                None => Check::Missing,
            }))
        }
        _ => Ok(None),
    }
}

/// New basic-auth credentials for a Pipedrive subscription: 32 random alphanumerics.
pub fn new_password() -> SecretString {
    use rand::Rng as _;
    let mut rng = rand::rng();
    let password: String = (0..32)
        .map(|_| {
            let i = rng.random_range(0..62u8);
            char::from(match i {
                0..=9 => b'0' + i,
                10..=35 => b'a' + i - 10,
                _ => b'A' + i - 36,
            })
        })
        .collect();
    SecretString::new(password)
}

/// The settings to enter in a HubSpot app for `connection`'s webhooks.
pub fn hubspot_settings(connection: &str, target_url: &str) -> Vec<String> {
    vec![
        format!("In the HubSpot app of connection `{connection}`, under Webhooks:"),
        format!("  Target URL: {target_url}"),
        "  Subscriptions: contact.creation, contact.deletion, contact.merge, contact.restore,"
            .to_string(),
        "    contact.propertyChange (each mapped property), and the same for company.*".to_string(),
        format!(
            "  Keep the app's client secret in `{}` (or the keychain, as `connect` does) for the v3 signature.",
            crate::auth::client_secret_var(connection)
        ),
    ]
}

/// `listen --subscribe` / `--unsubscribe` for every configured connection: what was done, a
/// line each (and HubSpot's app settings to enter).
pub async fn run(
    settings: Settings<'_>,
    public_url: Option<&str>,
    unsubscribe: bool,
) -> anyhow::Result<Vec<String>> {
    let public_url = public_url.ok_or_else(|| {
        crate::error::Error::usage("`--public-url URL` names the URL the CRMs call".into())
    })?;
    let keychain = Keychain::from_env();
    let mut lines = Vec::new();
    for (name, conn) in &settings.config.connections {
        let url = format!(
            "{}{}",
            public_url.trim_end_matches('/'),
            super::hook_path(name)
        );
        match conn.provider {
            ProviderKind::Hubspot if unsubscribe => lines.push(format!(
                "`{name}`: remove the target URL {url} in the HubSpot app's webhook settings"
            )),
            ProviderKind::Hubspot => lines.extend(hubspot_settings(name, &url)),
            ProviderKind::Pipedrive => {
                let opened = crate::connection::open_many(
                    std::slice::from_ref(name),
                    settings.config,
                    settings.state_path,
                    settings.clock.clone(),
                    None,
                )
                .await?;
                let scope = crate::connection::credential_scope(name, conn);
                for o in opened {
                    let p = o.into_participant();
                    if unsubscribe {
                        let n = p.provider.unsubscribe_webhooks(&url).await?;
                        keychain.delete_webhook_secret(&scope).await?;
                        lines.push(format!("`{name}`: {n} webhooks to {url} removed"));
                    } else {
                        let password = new_password();
                        let n = p
                            .provider
                            .subscribe_webhooks(&url, WEBHOOK_USER, password.expose())
                            .await?;
                        let both =
                            SecretString::new(format!("{WEBHOOK_USER}:{}", password.expose()));
                        keychain.save_webhook_secret(&scope, &both).await?;
                        lines.push(format!(
                            "`{name}`: {n} webhooks (version 2.0) to {url}; their credentials are in the keychain"
                        ));
                    }
                }
            }
            _ => lines.push(format!("`{name}`: no webhooks; it stays on the delta sync")),
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_and_plain() {
        let p = new_password();
        assert_eq!(p.expose().len(), 32);
        assert!(p.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(p.expose(), new_password().expose());
        assert_eq!(webhook_secret_var("pd-eu"), "CRMSYNC_WEBHOOK_SECRET_PD_EU");
        assert_eq!(user_password("u:p:q"), Some(("u".into(), "p:q".into())));
        assert_eq!(user_password("u:"), None);
    }
}
