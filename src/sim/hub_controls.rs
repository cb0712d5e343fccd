//! Security Hub's `BatchGetSecurityControls` (`POST /securityControls/batchGet`, rest-json) for
//! the eight SageMaker controls, with the parameters a test set
//! ([`super::Simulator::set_control_parameters`]); SageMaker.6/.7 report `requiredKeyTags` as
//! `DEFAULT` (no value) until then. Other ids come back in `UnprocessedIds`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::wire::{parse, required, take, OpResult, SimError};
use super::{dispatch, Simulator};

/// The controls the simulator knows.
const KNOWN: [&str; 8] = [
    "SageMaker.1",
    "SageMaker.2",
    "SageMaker.3",
    "SageMaker.4",
    "SageMaker.5",
    "SageMaker.6",
    "SageMaker.7",
    "SageMaker.8",
];

pub(super) async fn batch_get_route(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    dispatch(&sim, "BatchGetSecurityControls", &headers, &body).await
}

/// The parameters a control reports when no test set them.
fn default_parameters(control: &str) -> Value {
    match control {
        "SageMaker.6" | "SageMaker.7" => json!({ "requiredKeyTags": { "ValueType": "DEFAULT" } }),
        _ => json!({}),
    }
}

/// BatchGetSecurityControls: 1 to 100 ids.
pub(super) fn batch_get(
    body: &[u8],
    account: &str,
    region: &str,
    set: &BTreeMap<String, Value>,
) -> OpResult {
    let mut members: Map<String, Value> = parse(body)?;
    let ids: Vec<String> = required(
        take(&mut members, "SecurityControlIds")?,
        "SecurityControlIds",
    )?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(SimError::validation(
            "SecurityControlIds must have between 1 and 100 items",
        ));
    }
    let mut controls = Vec::new();
    let mut unprocessed = Vec::new();
    for id in ids {
        if !KNOWN.contains(&id.as_str()) {
            unprocessed.push(json!({
                "SecurityControlId": id,
                "ErrorCode": "NOT_FOUND",
                "ErrorReason": "The security control does not exist.",
            }));
            continue;
        }
        let parameters = set
            .get(&id)
            .cloned()
            .unwrap_or_else(|| default_parameters(&id));
        controls.push(json!({
            "SecurityControlId": id,
            "SecurityControlArn": format!("arn:aws:securityhub:{region}:{account}:security-control/{id}"),
            "Title": format!("{id} (simulated)"),
            "Description": format!("{id} as the simulator reports it"),
            "RemediationUrl": format!("https://docs.aws.amazon.com/console/securityhub/{id}/remediation"),
            "SeverityRating": "MEDIUM",
            "SecurityControlStatus": "ENABLED",
            "UpdateStatus": "READY",
            "Parameters": parameters,
        }));
    }
    Ok(json!({ "SecurityControls": controls, "UnprocessedIds": unprocessed }))
}
