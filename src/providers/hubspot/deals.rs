//! HubSpot deals, kept as local deals.
//!
//! A deal's properties are read and written like a company's, through the v3 objects API. Its
//! stage and pipeline are dropdowns whose options come from the deal pipelines
//! (`GET /crm/v3/pipelines/deals`): a stage given by label is sent as its stage id, and an id
//! read back reads as it is sent, as any dropdown's value does.
//!
//! A stage belongs to one pipeline, and HubSpot refuses a deal whose stage is not one of its
//! pipeline's. No single dropdown says so, so [`HubSpot::deal_refusals`] does: a deal whose
//! stage its pipeline does not have is refused before it is sent (the engine fails it with
//! these words) and named by `mappings check`, with the pipeline's stages.

use std::collections::BTreeMap;

use serde_json::Value;

use super::HubSpot;
use super::catalogue::OWNER_PROPERTY;
use super::engagements::{COMPANIES, CONTACTS};
use crate::providers::http::{Method, Request};
use crate::providers::{
    FieldOption, ProviderError, RemoteField, RemoteFieldKind, RemoteRecord, RemoteWrite,
    ValueRefusal, WriteResults,
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

/// The deal's associations, as the pseudo-properties the mappings name them by. They are set
/// through `POST /crm/v4/associations/deals/{contacts,companies}/batch/associate/default`,
/// which makes HubSpot's default (unlabelled) association without crmsync naming a type id
/// (the ids, deal → contact 3 and deal → company 341, are not in the spec collection or the
/// API digest, so none is sent), and read back whatever their type.
const LINKS: [(&str, &str, &str); 2] = [
    ("contacts", CONTACTS, "Associated contact"),
    ("companies", COMPANIES, "Associated company"),
];

/// The deal pipelines as options: the pipelines, every stage of every pipeline, and each
/// pipeline's own stages.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Pipelines {
    pub pipelines: Vec<FieldOption>,
    pub stages: Vec<FieldOption>,
    /// Each pipeline with its stages, in HubSpot's order.
    pub stages_of: Vec<(FieldOption, Vec<FieldOption>)>,
}

impl Pipelines {
    /// Why HubSpot would refuse a deal whose properties are `props`: a pipeline it does not
    /// have, or a stage its pipeline does not have. A deal without a stage or a pipeline is
    /// left to HubSpot (which puts a deal without a pipeline in the default one).
    fn refusal(&self, props: &BTreeMap<String, String>) -> Option<ValueRefusal> {
        let given = |k: &str| props.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let (stage, pipeline) = (given(STAGE)?, given(PIPELINE)?);
        let named = |o: &FieldOption| format!("`{}` ({})", o.value, o.label);
        let Some((p, stages)) = self.stages_of.iter().find(|(p, _)| p.value == pipeline) else {
            let all: Vec<String> = self.pipelines.iter().map(named).collect();
            return Some(ValueRefusal {
                property: PIPELINE.into(),
                message: format!(
                    "pipeline `{pipeline}` is not one of HubSpot's deal pipelines ({}): set the \
                     deal's pipeline to one of them (by label or id)",
                    all.join(", ")
                ),
            });
        };
        if stages.iter().any(|s| s.value == stage) {
            return None;
        }
        let stage_named = match self.stages.iter().find(|s| s.value == stage) {
            Some(s) => named(s),
            None => format!("`{stage}`"),
        };
        let valid: Vec<String> = stages.iter().map(named).collect();
        Some(ValueRefusal {
            property: STAGE.into(),
            message: format!(
                "stage {stage_named} is not a stage of pipeline {}, whose stages are {}: set the \
                 deal's stage to one of them (by label or id), or its pipeline to the one the \
                 stage belongs to",
                named(p),
                valid.join(", ")
            ),
        })
    }
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

    /// What HubSpot would refuse of each deal of `records` ([`crate::providers::Provider::refusals`]):
    /// a stage its pipeline does not have. The pipelines are read once a run, on the first
    /// deal asked about, so a run that writes no deal makes no such call.
    pub(super) async fn deal_refusals(
        &self,
        records: &[BTreeMap<String, String>],
    ) -> Result<Vec<Option<ValueRefusal>>, ProviderError> {
        let asks = |r: &BTreeMap<String, String>| r.contains_key(STAGE) && r.contains_key(PIPELINE);
        if !records.iter().any(asks) {
            return Ok(vec![None; records.len()]);
        }
        let p = self
            .pipelines
            .get_or_try_init(|| self.deal_pipelines())
            .await?;
        Ok(records.iter().map(|r| p.refusal(r)).collect())
    }

    /// Gives the deal catalogue's `dealstage` and `pipeline` their options from the
    /// pipelines, and adds the contact and company associations.
    pub(super) async fn fill_deal_options(
        &self,
        fields: &mut Vec<RemoteField>,
    ) -> Result<(), ProviderError> {
        let p = self
            .pipelines
            .get_or_try_init(|| self.deal_pipelines())
            .await?;
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
        let Some(pipeline) = option(p) else { continue };
        let stages: Vec<FieldOption> = p["stages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| live(s))
            .filter_map(option)
            .collect();
        for o in &stages {
            if !out.stages.iter().any(|x| x.value == o.value) {
                out.stages.push(o.clone());
            }
        }
        out.pipelines.push(pipeline.clone());
        out.stages_of.push((pipeline, stages));
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
        assert_eq!(p.stages_of.len(), 1);
        assert_eq!(p.stages_of[0].1, p.stages);
    }

    fn two_pipelines() -> Pipelines {
        pipelines_of(&json!({ "results": [
            { "id": "default", "label": "Sales Pipeline", "stages": [
                { "id": "contractsent", "label": "Contract Sent" },
                { "id": "closedwon", "label": "Closed Won" },
            ]},
            { "id": "renewals", "label": "Renewals", "stages": [
                { "id": "renewal_won", "label": "Renewed" },
            ]},
        ]}))
    }

    fn deal(stage: &str, pipeline: &str) -> BTreeMap<String, String> {
        [(STAGE, stage), (PIPELINE, pipeline)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_stage_of_another_pipeline_is_refused_naming_the_pipeline_and_its_stages() {
        let p = two_pipelines();
        assert_eq!(p.refusal(&deal("closedwon", "default")), None);
        assert_eq!(p.refusal(&deal("renewal_won", "renewals")), None);
        let refused = p.refusal(&deal("renewal_won", "default")).unwrap();
        assert_eq!(refused.property, STAGE);
        assert_eq!(
            refused.message,
            "stage `renewal_won` (Renewed) is not a stage of pipeline `default` (Sales Pipeline), \
             whose stages are `contractsent` (Contract Sent), `closedwon` (Closed Won): set the \
             deal's stage to one of them (by label or id), or its pipeline to the one the stage \
             belongs to"
        );
        // A stage no pipeline has is named as it was given.
        let refused = p.refusal(&deal("nope", "renewals")).unwrap();
        assert!(
            refused
                .message
                .starts_with("stage `nope` is not a stage of pipeline `renewals` (Renewals)"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn an_unknown_pipeline_is_refused_and_a_deal_without_stage_or_pipeline_is_left_to_hubspot() {
        let p = two_pipelines();
        let refused = p.refusal(&deal("closedwon", "enterprise")).unwrap();
        assert_eq!(refused.property, PIPELINE);
        assert!(
            refused.message.contains(
                "pipeline `enterprise` is not one of HubSpot's deal pipelines (`default` (Sales Pipeline), `renewals` (Renewals))"
            ),
            "{}",
            refused.message
        );
        assert_eq!(p.refusal(&deal("", "default")), None);
        let mut only_stage = deal("renewal_won", "default");
        only_stage.remove(PIPELINE);
        assert_eq!(p.refusal(&only_stage), None);
    }
}
