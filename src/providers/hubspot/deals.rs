//! HubSpot deals, kept as local deals.
//!
//! A deal's properties are read and written like a company's, through the v3 objects API. Its
//! stage and pipeline are dropdowns whose options come from the deal pipelines
//! (`GET /crm/v3/pipelines/deals`): a stage given by label is sent as its stage id, and an id
//! read back reads as it is sent, as any dropdown's value does.

use serde_json::Value;

use super::HubSpot;
use super::catalogue::OWNER_PROPERTY;
use super::engagements::{COMPANIES, CONTACTS};
use crate::providers::http::{Method, Request};
use crate::providers::{
    FieldOption, ProviderError, RemoteField, RemoteFieldKind, RemoteRecord, RemoteWrite,
    WriteResults,
};

pub(super) const STAGE: &str = "dealstage";
pub(super) const PIPELINE: &str = "pipeline";

/// The built-in mappings of deals: canonical field, deal property.
pub(super) const MAPPINGS: &[(&str, &str)] = &[
    ("name", "dealname"),
    ("stage", STAGE),
    ("pipeline", PIPELINE),
    ("amount", "amount"),
    ("currency", "deal_currency_code"),
    ("close_date", "closedate"),
    ("owner", OWNER_PROPERTY),
    ("contact_id", CONTACTS),
    ("company_id", COMPANIES),
];

/// The deal's associations, as the pseudo-properties the mappings name them by.
const LINKS: [(&str, &str, &str); 2] = [
    ("contacts", CONTACTS, "Associated contact"),
    ("companies", COMPANIES, "Associated company"),
];

/// The deal pipelines as options: the pipelines, and every stage of every pipeline.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Pipelines {
    pub pipelines: Vec<FieldOption>,
    pub stages: Vec<FieldOption>,
}

impl HubSpot {
    /// Reads the deal pipelines and their stages.
    pub(super) async fn deal_pipelines(&self) -> Result<Pipelines, ProviderError> {
        let resp = self
            .http
            .send_ok(Request::new(Method::Get, "/crm/v3/pipelines/deals"))
            .await?;
        let body: Value = self.parse(&resp, "the deal pipelines")?;
        Ok(pipelines_of(&body))
    }

    /// Gives the deal catalogue's `dealstage` and `pipeline` their options from the
    /// pipelines, and adds the contact and company associations.
    pub(super) async fn fill_deal_options(
        &self,
        fields: &mut Vec<RemoteField>,
    ) -> Result<(), ProviderError> {
        let p = self.deal_pipelines().await?;
        for f in fields.iter_mut() {
            match f.name.as_str() {
                STAGE => f.options = p.stages.clone(),
                PIPELINE => f.options = p.pipelines.clone(),
                _ => {}
            }
        }
        for (_, prop, label) in LINKS {
            fields.push(RemoteField {
                open_options: false,
                max_length: None,
                name: prop.into(),
                label: label.into(),
                remote_type: "association".into(),
                kind: RemoteFieldKind::Reference,
                read_only: false,
                unique: false,
                options: Vec::new(),
            });
        }
        Ok(())
    }

    /// Sets the deals' contact and company (the first associated, by id), where `properties`
    /// asks for them, from the v4 association reads (one a kind per 100 deals).
    pub(super) async fn fill_deal_links(
        &self,
        records: &mut [RemoteRecord],
        properties: &[String],
    ) -> Result<(), ProviderError> {
        let wanted: Vec<(&str, &str)> = LINKS
            .iter()
            .filter(|(_, prop, _)| properties.iter().any(|p| p == prop))
            .map(|&(to, prop, _)| (to, prop))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        self.fill_links("deals", records, &wanted).await
    }

    /// Makes the deals written associated with the contact and company their writes name.
    pub(super) async fn apply_deal_links(
        &self,
        inputs: &[RemoteWrite],
        results: &mut WriteResults<RemoteRecord>,
    ) -> Result<(), ProviderError> {
        let moves: Vec<(String, &RemoteWrite)> = inputs
            .iter()
            .zip(results.iter())
            .filter_map(|(w, r)| Some((r.as_ref().ok()?.id.clone(), w)))
            .collect();
        self.set_links("deals", &moves).await?;
        for (w, r) in inputs.iter().zip(results.iter_mut()) {
            let Ok(rec) = r else { continue };
            for (_, prop, _) in LINKS {
                match w.props.get(prop).filter(|v| !v.is_empty()) {
                    Some(v) => rec.props.insert(prop.to_string(), v.clone()),
                    None if w.props.contains_key(prop) => rec.props.remove(prop),
                    None => None,
                };
            }
        }
        Ok(())
    }
}

/// The options a pipelines answer lists (stages archived or of archived pipelines left out).
fn pipelines_of(body: &Value) -> Pipelines {
    let mut out = Pipelines::default();
    let live = |v: &Value| !v["archived"].as_bool().unwrap_or(false);
    let option = |v: &Value| {
        let value = v["id"].as_str()?.to_string();
        let label = v["label"].as_str().unwrap_or(&value).to_string();
        Some(FieldOption { value, label })
    };
    for p in body["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| live(p))
    {
        out.pipelines.extend(option(p));
        for s in p["stages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| live(s))
        {
            if let Some(o) = option(s)
                && !out.stages.iter().any(|x| x.value == o.value)
            {
                out.stages.push(o);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pipelines_list_their_live_stages_by_id_and_label() {
        let body = json!({ "results": [
            { "id": "default", "label": "Sales Pipeline", "archived": false, "stages": [
                { "id": "appointmentscheduled", "label": "Appointment scheduled", "archived": false },
                { "id": "old", "label": "Old", "archived": true },
            ]},
            { "id": "gone", "label": "Gone", "archived": true, "stages": [
                { "id": "x", "label": "X" },
            ]},
        ]});
        let p = pipelines_of(&body);
        assert_eq!(
            p.pipelines,
            vec![FieldOption {
                value: "default".into(),
                label: "Sales Pipeline".into()
            }]
        );
        assert_eq!(
            p.stages,
            vec![FieldOption {
                value: "appointmentscheduled".into(),
                label: "Appointment scheduled".into()
            }]
        );
    }
}
