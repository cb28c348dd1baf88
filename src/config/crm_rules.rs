//! The rules of a connection that speak of the CRM's own things, checked at load with the
//! line they are on: the labels put on the records crmsync creates
//! (`[connections.NAME.OBJECT] labels`), the owner aliases (`[connections.NAME.owners]`) and
//! the webhook app (`webhooks_app_id`, `developer_key_env`).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use super::ConnectionConfig;
use crate::model::normalize::normalize;
use crate::model::{FieldType, ObjectKind};
use crate::providers;

/// What is wrong, where: the span in the file and the message.
type Refusal = (Range<usize>, String);

impl ConnectionConfig {
    /// The labels the records crmsync creates carry, per object (trimmed, empty objects left
    /// out).
    pub fn labels(&self) -> HashMap<ObjectKind, Vec<String>> {
        ObjectKind::ALL
            .into_iter()
            .filter_map(|object| {
                let labels: Vec<String> = self
                    .object_settings(object)?
                    .labels
                    .as_ref()?
                    .get_ref()
                    .iter()
                    .map(|l| l.get_ref().trim().to_string())
                    .collect();
                (!labels.is_empty()).then_some((object, labels))
            })
            .collect()
    }

    /// The owner aliases: a local owner's email (normalised) → the email of the CRM user it
    /// is (as written).
    pub fn owner_aliases(&self) -> BTreeMap<String, String> {
        self.owners
            .iter()
            .map(|(local, crm)| {
                (
                    email(local).unwrap_or_default(),
                    crm.get_ref().trim().into(),
                )
            })
            .collect()
    }
}

/// An email normalised as the store keeps one, or `None` when it is not one.
fn email(text: &str) -> Option<String> {
    normalize(FieldType::Email, text).ok().flatten()
}

/// Checks connection `name`'s labels and owner aliases.
pub(super) fn check(name: &str, conn: &ConnectionConfig) -> Result<(), Refusal> {
    for object in ObjectKind::ALL {
        if let Some(labels) = conn.object_settings(object).and_then(|s| s.labels.as_ref()) {
            check_labels(name, conn, object, labels)?;
        }
    }
    check_owners(name, conn)?;
    check_webhook_app(name, conn)
}

/// `webhooks_app_id` and `developer_key_env`: a HubSpot connection's, and both or neither.
fn check_webhook_app(name: &str, conn: &ConnectionConfig) -> Result<(), Refusal> {
    let key = |k: &str| format!("`connections.{name}.{k}`");
    let app = conn
        .webhooks_app_id
        .as_ref()
        .map(|a| ("webhooks_app_id", a.span()));
    let var = conn
        .developer_key_env
        .as_ref()
        .map(|v| ("developer_key_env", v.span()));
    let Some((given, span)) = app.clone().or_else(|| var.clone()) else {
        return Ok(());
    };
    if !providers::webhooks_are_app_settings(conn.provider) {
        return Err((
            span,
            format!(
                "{}: only connections whose CRM keeps its webhooks in an app's settings (HubSpot) have `{given}`, and this one is {}: leave it out",
                key(given),
                conn.provider.display_name()
            ),
        ));
    }
    match (app, var) {
        (Some(_), None) => Err((
            span,
            format!(
                "{}: set `developer_key_env` too, the environment variable holding the app's developer API key, for `listen --subscribe` to read the app's webhook settings",
                key(given)
            ),
        )),
        (None, Some(_)) => Err((
            span,
            format!(
                "{}: set `webhooks_app_id` too, the id of the app whose webhooks `listen` takes",
                key(given)
            ),
        )),
        _ => match &conn.developer_key_env {
            Some(v) if v.get_ref().trim().is_empty() => Err((
                v.span(),
                format!(
                    "{}: name the environment variable",
                    key("developer_key_env")
                ),
            )),
            _ => Ok(()),
        },
    }
}

fn check_labels(
    name: &str,
    conn: &ConnectionConfig,
    object: ObjectKind,
    labels: &toml::Spanned<Vec<toml::Spanned<String>>>,
) -> Result<(), Refusal> {
    let key = format!("`connections.{name}.{object}.labels`");
    let crm = conn.provider.display_name();
    if !providers::has_labels(conn.provider, object) {
        return Err((
            labels.span(),
            format!(
                "{key}: {crm} has no labels on {object} records: leave `labels` out of this table"
            ),
        ));
    }
    if conn.objects.as_ref().is_some_and(|o| !o.contains(&object)) {
        return Err((
            labels.span(),
            format!(
                "{key}: this connection does not sync {object} records (`objects` in `[connections.{name}]`)"
            ),
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    for label in labels.get_ref() {
        let text = label.get_ref().trim();
        if text.is_empty() {
            return Err((
                label.span(),
                format!("{key}: a label is empty: name each label as {crm} shows it"),
            ));
        }
        let folded = text.to_lowercase();
        if seen.contains(&folded) {
            return Err((
                label.span(),
                format!("{key}: \"{text}\" is named twice (labels are matched case aside)"),
            ));
        }
        seen.push(folded);
    }
    Ok(())
}

fn check_owners(name: &str, conn: &ConnectionConfig) -> Result<(), Refusal> {
    let key = format!("`connections.{name}.owners`");
    let mut by_crm: BTreeMap<String, &str> = BTreeMap::new();
    for (local, crm) in &conn.owners {
        let at = crm.span();
        if email(local).is_none() {
            return Err((
                at,
                format!(
                    "{key}: `{local}` is not an email: each key is a local owner's email, each value the email of the {} user it is",
                    conn.provider.display_name()
                ),
            ));
        }
        let Some(target) = email(crm.get_ref()) else {
            return Err((
                at,
                format!(
                    "{key}: `{}` (for `{local}`) is not an email: name the {} user by the email the CRM has for them",
                    crm.get_ref(),
                    conn.provider.display_name()
                ),
            ));
        };
        if let Some(other) = by_crm.insert(target.clone(), local) {
            return Err((
                at,
                format!(
                    "{key}: `{other}` and `{local}` both name `{target}`: an owner read back from the CRM must read as one local owner, so keep one of them"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;
    use crate::config::refusal_with_line as refusal;

    #[test]
    fn the_webhook_app_is_a_hubspot_connections_and_takes_both_keys() {
        let hs = "[connections.hs]\nprovider = \"hubspot\"\n";
        let both = "webhooks_app_id = 3141592\ndeveloper_key_env = \"HS_DEV_KEY\"\n";
        let c = Config::parse(&format!("{hs}{both}"), Path::new("c.toml")).unwrap();
        let conn = &c.connections["hs"];
        assert_eq!(
            conn.webhooks_app_id.as_ref().map(|a| *a.get_ref()),
            Some(3_141_592)
        );
        for (extra, line, says) in [
            (
                "webhooks_app_id = 3141592\n",
                3,
                "set `developer_key_env` too",
            ),
            (
                "developer_key_env = \"HS_DEV_KEY\"\n",
                3,
                "set `webhooks_app_id` too",
            ),
            (
                "webhooks_app_id = 1\ndeveloper_key_env = \" \"\n",
                4,
                "name the environment variable",
            ),
        ] {
            let (at, message) = refusal(&format!("{hs}{extra}"));
            assert_eq!(at, line, "{extra}: {message}");
            assert!(message.contains(says), "{extra}: {message}");
        }
        let (at, message) = refusal(&format!(
            "[connections.pd]\nprovider = \"pipedrive\"\n{both}"
        ));
        assert_eq!(at, 3);
        assert!(
            message.contains("`connections.pd.webhooks_app_id`: only connections whose CRM keeps its webhooks in an app's settings (HubSpot)"),
            "{message}"
        );
    }
}
