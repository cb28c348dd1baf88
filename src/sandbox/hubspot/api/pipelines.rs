//! `GET /crm/v3/pipelines/deals`: the deal pipelines and their stages, by id and label. The
//! pipelines are fixed: HubSpot's default sales pipeline and a renewals pipeline, whose stages
//! are the options of the `dealstage` property (`properties.toml`).

use serde_json::{Value, json};

use crate::sandbox::http::HttpResponse;
use crate::sandbox::hubspot::errors::{ApiError, bad_request};

/// A stage: id, label, and the probability of winning the deal there.
type Stage = (&'static str, &'static str, &'static str);

/// Each pipeline: id, label, and its stages.
const PIPELINES: &[(&str, &str, &[Stage])] = &[
    (
        "default",
        "Sales Pipeline",
        &[
            ("appointmentscheduled", "Appointment Scheduled", "0.2"),
            ("qualifiedtobuy", "Qualified To Buy", "0.4"),
            ("presentationscheduled", "Presentation Scheduled", "0.6"),
            ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
            ("contractsent", "Contract Sent", "0.9"),
            ("closedwon", "Closed Won", "1.0"),
            ("closedlost", "Closed Lost", "0.0"),
        ],
    ),
    (
        "renewals",
        "Renewals",
        &[
            ("renewal_new", "New", "0.5"),
            ("renewal_won", "Renewed", "1.0"),
        ],
    ),
];

/// Whether `pipeline` (an id) has the stage `stage` (an id).
pub fn pipeline_has_stage(pipeline: &str, stage: &str) -> bool {
    PIPELINES
        .iter()
        .any(|(id, _, stages)| *id == pipeline && stages.iter().any(|s| s.0 == stage))
}

/// The pipelines of object type `t` (only `deals` has any here).
pub fn list(t: &str) -> Result<HttpResponse, ApiError> {
    if !matches!(t, "deals" | "deal" | "0-3") {
        return Err(bad_request(&format!(
            "Unable to find pipelines for object type {t}"
        )));
    }
    let results: Vec<Value> = PIPELINES
        .iter()
        .enumerate()
        .map(|(i, (id, label, stages))| {
            let stages: Vec<Value> = stages
                .iter()
                .enumerate()
                .map(|(j, (sid, slabel, probability))| {
                    json!({"id": sid, "label": slabel, "displayOrder": j, "archived": false,
                           "metadata": {"probability": probability},
                           "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"})
                })
                .collect();
            json!({"id": id, "label": label, "displayOrder": i, "archived": false,
                   "stages": stages,
                   "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"})
        })
        .collect();
    Ok(HttpResponse::json(200, &json!({ "results": results })))
}
