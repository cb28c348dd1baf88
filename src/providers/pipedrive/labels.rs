//! Labels on the records crmsync creates (`[connections.NAME.contact] labels = [...]`).
//!
//! Pipedrive's person and organization labels are the options of the built-in label field
//! of the v1 catalogue (`personFields` / `organizationFields`; the field is `label_ids` in
//! v2 terms, `label` in older v1 ones), and a v2 record carries the ids it has in
//! `label_ids`. A label is named in the config, never by an id: the options are looked up by
//! label (case and surrounding spaces aside), and one missing is added the first time a
//! create needs it, with `PUT /v1/personFields/{id}` carrying the field's options and the
//! new one (the spec's `updateFieldRequest`: "all active items must be supplied and already
//! existing items must have their ID supplied; new items only require a label").

use serde_json::{Value, json};

use super::catalogue::FieldDef;
use super::{Pipedrive, fields_path};
use crate::model::ObjectKind;
use crate::providers::http::{Method, Request};
use crate::providers::{FieldOption, ProviderError};

/// The keys the label field goes by in the v1 catalogue.
const LABEL_KEYS: &[&str] = &["label_ids", "label"];

/// The id of the option of `options` labelled `label` (case and surrounding spaces aside).
fn option_id(options: &[FieldOption], label: &str) -> Option<i64> {
    let wanted = label.trim().to_lowercase();
    options
        .iter()
        .find(|o| o.label.trim().to_lowercase() == wanted)
        .and_then(|o| o.value.parse().ok())
}

/// The ids of `labels` among `options`, or the labels none has.
fn resolve(options: &[FieldOption], labels: &[String]) -> Result<Vec<i64>, Vec<String>> {
    let mut ids = Vec::new();
    let mut missing = Vec::new();
    for label in labels {
        match option_id(options, label) {
            Some(id) if !ids.contains(&id) => ids.push(id),
            Some(_) => {}
            None => missing.push(label.trim().to_string()),
        }
    }
    if missing.is_empty() {
        Ok(ids)
    } else {
        Err(missing)
    }
}

impl Pipedrive {
    /// The `label_ids` a create of `object` carries: the ids of the labels configured for it
    /// (`None` when there are none), the missing ones added to Pipedrive first.
    pub(super) async fn label_ids_for_create(
        &self,
        object: ObjectKind,
    ) -> Result<Option<Value>, ProviderError> {
        Ok(self
            .configured_labels(object)
            .await?
            .map(|(ids, _)| json!(ids)))
    }

    /// Adds the labels configured for `object` that Pipedrive does not have (`mappings
    /// setup`); returns them.
    pub(super) async fn add_missing_labels(
        &self,
        object: ObjectKind,
    ) -> Result<Vec<String>, ProviderError> {
        Ok(self
            .configured_labels(object)
            .await?
            .map(|(_, added)| added)
            .unwrap_or_default())
    }

    /// The ids of the labels configured for `object` and those of them just added to
    /// Pipedrive; `None` when none are configured.
    async fn configured_labels(
        &self,
        object: ObjectKind,
    ) -> Result<Option<(Vec<i64>, Vec<String>)>, ProviderError> {
        let Some(labels) = self.options.labels.get(&object).filter(|l| !l.is_empty()) else {
            return Ok(None);
        };
        let catalogue = self.write_catalogue(object).await?;
        let field = label_field(&catalogue.fields, object)?;
        let missing = match resolve(&field.options, labels) {
            Ok(ids) => return Ok(Some((ids, Vec::new()))),
            Err(missing) => missing,
        };
        let options = self.add_options(object, field, &missing).await?;
        match resolve(&options, labels) {
            Ok(ids) => Ok(Some((ids, missing))),
            Err(still) => Err(ProviderError::Other(format!(
                "Pipedrive did not add the {object} label(s) {} crmsync asked for",
                names(&still)
            ))),
        }
    }

    /// Adds options labelled `missing` to the label field; returns its options after.
    async fn add_options(
        &self,
        object: ObjectKind,
        field: &FieldDef,
        missing: &[String],
    ) -> Result<Vec<FieldOption>, ProviderError> {
        let id = field.id.ok_or_else(|| {
            ProviderError::Other(format!(
                "Pipedrive's {object} label field has no id to update it by"
            ))
        })?;
        let mut options: Vec<Value> = field
            .options
            .iter()
            .map(|o| match o.value.parse::<i64>() {
                Ok(n) => json!({"id": n, "label": o.label}),
                Err(_) => json!({"id": o.value, "label": o.label}),
            })
            .collect();
        options.extend(missing.iter().map(|l| json!({"label": l})));
        let path = format!("/api/v1/{}/{id}", fields_path(object)?);
        tracing::info!(labels = %names(missing), "adding {object} labels to Pipedrive");
        let resp = self
            .http
            .send_ok(Request::new(Method::Put, path).json(json!({ "options": options })))
            .await
            .map_err(|e| {
                ProviderError::Other(format!(
                    "could not add the {object} label(s) {} to Pipedrive (the connection's \
                     `labels`; adding a label needs an admin's token): {e}",
                    names(missing)
                ))
            })?;
        // The catalogue kept has the old options: the next use reads it again.
        self.lock_catalogues().remove(&object);
        let body: Value = self.parse(&resp, "a field update")?;
        Ok(body["data"]["options"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| {
                Some(FieldOption {
                    value: super::wire::text(&o["id"])?,
                    label: o["label"].as_str()?.to_string(),
                })
            })
            .collect())
    }
}

/// The built-in label field of `object`'s catalogue.
fn label_field(fields: &[FieldDef], object: ObjectKind) -> Result<&FieldDef, ProviderError> {
    fields
        .iter()
        .find(|f| !f.custom && LABEL_KEYS.contains(&f.key.as_str()))
        .ok_or_else(|| {
            ProviderError::Other(format!(
                "Pipedrive's {object} catalogue has no label field (`label_ids`), so the \
                 connection's `labels` cannot be put on the records crmsync creates"
            ))
        })
}

/// `"a", "b"` as a message names labels.
fn names(labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| format!("\"{l}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> Vec<FieldOption> {
        pairs
            .iter()
            .map(|(v, l)| FieldOption {
                value: v.to_string(),
                label: l.to_string(),
            })
            .collect()
    }

    #[test]
    fn labels_are_found_by_name_case_aside_and_the_missing_ones_named() {
        let have = options(&[("1", "Customer"), ("3", "Warm lead")]);
        let want = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(resolve(&have, &want(&[" warm LEAD "])), Ok(vec![3]));
        assert_eq!(
            resolve(&have, &want(&["Customer", "customer", "Warm lead"])),
            Ok(vec![1, 3])
        );
        assert_eq!(
            resolve(&have, &want(&["Customer", "VIP", "Hot"])),
            Err(vec!["VIP".to_string(), "Hot".to_string()])
        );
    }
}
