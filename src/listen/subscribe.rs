//! The secrets each connection's deliveries are checked with, and the subscriptions:
//! HubSpot's client secret (`CRMSYNC_CLIENT_SECRET_<NAME>` or the keychain, as for OAuth) and
//! the app's settings (a target URL and a subscription per event and mapped property), read
//! and compared with the listener's where the connection names the app and its developer key
//! (`webhooks_app_id`, `developer_key_env`), printed to enter otherwise; Pipedrive's
//! basic-auth credentials (`CRMSYNC_WEBHOOK_SECRET_<NAME>` as `user:password`, else the
//! keychain entry `--subscribe` keeps).

use std::collections::BTreeMap;

use crate::auth::{Keychain, SecretString};
use crate::config::{Config, ConnectionConfig};
use crate::mapping::FieldMap;
use crate::model::ObjectKind;
use crate::ops::Settings;
use crate::providers::{self, ProviderKind, WebhookSettings, WebhookSubscription};

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

/// The subscriptions the listener needs of connection `name` (a CRM whose webhooks are an
/// app's settings): per object it syncs, those that bring the changes of the properties its
/// fields are read from.
pub fn needed_subscriptions(
    config: &Config,
    name: &str,
    conn: &ConnectionConfig,
) -> anyhow::Result<Vec<WebhookSubscription>> {
    let objects = conn
        .objects
        .clone()
        .unwrap_or_else(|| ObjectKind::ALL.to_vec());
    let mut out = Vec::new();
    for object in objects {
        let Some(defaults) = providers::default_mappings(conn.provider, object) else {
            continue;
        };
        let map = FieldMap::resolve(config, name, object, &defaults)?;
        let properties: Vec<String> = map
            .rules
            .iter()
            .filter(|r| r.direction.pulls())
            .map(|r| r.remote.clone())
            .collect();
        out.extend(providers::webhook_subscriptions(
            conn.provider,
            object,
            &properties,
        ));
    }
    Ok(out)
}

/// `subs` a line each event type, the properties of a property change together.
fn subscription_lines(subs: &[WebhookSubscription]) -> Vec<String> {
    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in subs {
        let props = by_type.entry(s.event_type.as_str()).or_default();
        if let Some(p) = &s.property {
            props.push(p);
        }
    }
    by_type
        .into_iter()
        .map(|(event_type, props)| {
            if props.is_empty() {
                event_type.to_string()
            } else {
                format!("{event_type}: {}", props.join(", "))
            }
        })
        .collect()
}

/// The settings to enter in a HubSpot app for `connection`'s webhooks: the target URL and
/// `needed`.
pub fn hubspot_settings(
    connection: &str,
    target_url: &str,
    needed: &[WebhookSubscription],
) -> Vec<String> {
    let mut lines = vec![
        format!("In the HubSpot app of connection `{connection}`, under Webhooks:"),
        format!("  Target URL: {target_url}"),
        format!("  Subscriptions ({}):", needed.len()),
    ];
    lines.extend(
        subscription_lines(needed)
            .into_iter()
            .map(|l| format!("    {l}")),
    );
    lines.push(format!(
        "  Keep the app's client secret in `{}` (or the keychain, as `connect` does) for the v3 signature.",
        crate::auth::client_secret_var(connection)
    ));
    lines
}

/// What differs between app `app_id`'s webhook settings and what the listener of `connection`
/// needs: the target URL `target_url` and the subscriptions `needed`, active. Empty when
/// nothing does.
pub fn differences(
    settings: &WebhookSettings,
    target_url: &str,
    needed: &[WebhookSubscription],
) -> Vec<String> {
    let mut out = Vec::new();
    match settings.target_url.as_deref() {
        Some(t) if t == target_url => {}
        Some(t) => out.push(format!(
            "target URL: the app's is {t}, the listener's {target_url}: change it in the app's settings"
        )),
        None => out.push(format!(
            "target URL: none set: enter {target_url} in the app's settings"
        )),
    }
    let list = |subs: Vec<&WebhookSubscription>| {
        subs.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let missing: Vec<&WebhookSubscription> = needed
        .iter()
        .filter(|n| !settings.active.contains(n) && !settings.paused.contains(n))
        .collect();
    if !missing.is_empty() {
        out.push(format!(
            "missing subscriptions ({}): {}",
            missing.len(),
            list(missing)
        ));
    }
    let paused: Vec<&WebhookSubscription> = needed
        .iter()
        .filter(|n| settings.paused.contains(n) && !settings.active.contains(n))
        .collect();
    if !paused.is_empty() {
        out.push(format!(
            "paused subscriptions ({}), to turn on: {}",
            paused.len(),
            list(paused)
        ));
    }
    out
}

/// `listen --subscribe` for a HubSpot connection: with `webhooks_app_id` and
/// `developer_key_env` set, the app's settings read and compared with the listener's; else
/// (or when they cannot be read, said why) the settings to enter.
async fn check_hubspot(
    settings: &Settings<'_>,
    name: &str,
    conn: &ConnectionConfig,
    url: &str,
) -> anyhow::Result<Vec<String>> {
    let needed = needed_subscriptions(settings.config, name, conn)?;
    let (Some(app_id), Some(var)) = (&conn.webhooks_app_id, &conn.developer_key_env) else {
        let mut lines = hubspot_settings(name, url, &needed);
        lines.push(format!(
            "  (set `webhooks_app_id` and `developer_key_env` in `[connections.{name}]` for `listen --subscribe` to check them)"
        ));
        return Ok(lines);
    };
    let (app_id, var) = (*app_id.get_ref(), var.get_ref().trim());
    let unread = |why: String| {
        let mut lines = vec![format!(
            "`{name}`: the webhook settings of HubSpot app {app_id} cannot be read: {why}"
        )];
        lines.extend(hubspot_settings(name, url, &needed));
        lines
    };
    let key = match std::env::var(var) {
        Ok(k) if !k.trim().is_empty() => SecretString::new(k.trim().to_string()),
        _ => {
            return Ok(unread(format!(
                "`{var}` (`developer_key_env`) holds no developer API key"
            )));
        }
    };
    let opened = crate::connection::open_many(
        &[name.to_string()],
        settings.config,
        settings.state_path,
        settings.clock.clone(),
        None,
    )
    .await?;
    let mut lines = Vec::new();
    for o in opened {
        let p = o.into_participant();
        let found = match p.provider.app_webhooks(app_id, key.expose()).await {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err(e) => {
                lines.extend(unread(format!(
                    "{e}; check `webhooks_app_id` and the developer API key in `{var}`"
                )));
                continue;
            }
        };
        let diff = differences(&found, url, &needed);
        if diff.is_empty() {
            lines.push(format!(
                "`{name}`: HubSpot app {app_id}'s webhooks are as the listener needs: target URL {url}, the {} subscriptions active",
                needed.len()
            ));
        } else {
            lines.push(format!(
                "`{name}`: HubSpot app {app_id}'s webhooks differ from what the listener needs:"
            ));
            lines.extend(diff.into_iter().map(|d| format!("  {d}")));
        }
    }
    Ok(lines)
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
            ProviderKind::Hubspot => {
                lines.extend(check_hubspot(&settings, name, conn, &url).await?);
            }
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
