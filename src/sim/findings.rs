//! Security Hub, as far as the daemon's write-back uses it (rest-json): `GetFindings`
//! (`POST /findings`) with string filters, and `BatchUpdateFindings`
//! (`PATCH /findings/batchupdate`) setting the workflow status and the note. Findings are ASFF
//! objects added by tests or the demo ([`super::Simulator::add_finding`]); a share of the
//! identifiers in an update can be left unprocessed (`Faults::failed_entry_share`), as the
//! service reports a partial failure.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use super::wire::{epoch_now, OpResult, SimError};
use super::{dispatch, Simulator};

pub(super) async fn get_route(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    dispatch(&sim, "GetFindings", &headers, &body).await
}

pub(super) async fn batch_update_route(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    dispatch(&sim, "BatchUpdateFindings", &headers, &body).await
}

/// An active, failed control finding in workflow status `NEW`.
pub(super) fn new_finding(
    account: &str,
    region: &str,
    resource_arn: &str,
    control: &str,
    n: usize,
) -> Value {
    let product = format!("arn:aws:securityhub:{region}::product/aws/securityhub");
    let id = format!(
        "arn:aws:securityhub:{region}:{account}:security-control/{control}/finding/sim-{n:06}"
    );
    let now = iso(epoch_now());
    json!({
        "SchemaVersion": "2018-10-08",
        "Id": id,
        "ProductArn": product,
        "GeneratorId": format!("security-control/{control}"),
        "AwsAccountId": account,
        "Region": region,
        "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
        "CreatedAt": now,
        "UpdatedAt": now,
        "Severity": { "Label": "HIGH" },
        "Title": format!("{control} failed"),
        "Description": format!("{control} failed for {resource_arn}"),
        "Resources": [{ "Type": "AwsSageMakerNotebookInstance", "Id": resource_arn, "Region": region }],
        "Compliance": { "Status": "FAILED", "SecurityControlId": control },
        "RecordState": "ACTIVE",
        "Workflow": { "Status": "NEW" },
    })
}

/// `2026-12-04T10:00:00.000Z` from epoch seconds.
fn iso(epoch: f64) -> String {
    aws_smithy_types::DateTime::from_secs_f64(epoch)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// The value a filter key reads from a finding.
fn field<'a>(finding: &'a Value, key: &str) -> Vec<&'a str> {
    let one = |v: &'a Value| v.as_str().into_iter().collect::<Vec<_>>();
    match key {
        "Id" => one(&finding["Id"]),
        "ProductArn" => one(&finding["ProductArn"]),
        "AwsAccountId" => one(&finding["AwsAccountId"]),
        "Region" => one(&finding["Region"]),
        "ResourceId" => finding["Resources"]
            .as_array()
            .map(|rs| rs.iter().filter_map(|r| r["Id"].as_str()).collect())
            .unwrap_or_default(),
        "ComplianceSecurityControlId" => one(&finding["Compliance"]["SecurityControlId"]),
        "ComplianceStatus" => one(&finding["Compliance"]["Status"]),
        "RecordState" => one(&finding["RecordState"]),
        "WorkflowStatus" => one(&finding["Workflow"]["Status"]),
        _ => Vec::new(),
    }
}

/// Security Hub's string filter semantics: within one key, `EQUALS`/`PREFIX` values are OR'ed
/// and `NOT_EQUALS` values AND'ed; keys are AND'ed.
fn matches(finding: &Value, filters: &serde_json::Map<String, Value>) -> Result<bool, SimError> {
    for (key, conditions) in filters {
        let conditions = conditions
            .as_array()
            .ok_or_else(|| SimError::validation(format!("filter {key} must be a list")))?;
        let values = field(finding, key);
        let mut positive = None;
        for c in conditions {
            let wanted = c["Value"].as_str().unwrap_or_default();
            let hit = match c["Comparison"].as_str() {
                Some("EQUALS") => values.contains(&wanted),
                Some("PREFIX") => values.iter().any(|v| v.starts_with(wanted)),
                Some("NOT_EQUALS") => {
                    if values.contains(&wanted) {
                        return Ok(false);
                    }
                    continue;
                }
                other => {
                    return Err(SimError::validation(format!(
                        "unsupported comparison {other:?} on {key}"
                    )))
                }
            };
            positive = Some(positive.unwrap_or(false) || hit);
        }
        if positive == Some(false) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `GetFindings`: the matching findings, in pages of `MaxResults` (default 100).
pub(super) fn get(body: &[u8], findings: &[Value]) -> OpResult {
    let input: Value = serde_json::from_slice(if body.is_empty() { b"{}" } else { body })
        .map_err(|e| SimError::validation(format!("request body is not JSON: {e}")))?;
    let empty = serde_json::Map::new();
    let filters = input["Filters"].as_object().unwrap_or(&empty);
    let max = input["MaxResults"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
    let start: usize = match input["NextToken"].as_str() {
        Some(t) => t
            .parse()
            .map_err(|_| SimError::validation("invalid NextToken"))?,
        None => 0,
    };
    let mut matching = Vec::new();
    for f in findings {
        if matches(f, filters)? {
            matching.push(f.clone());
        }
    }
    let page: Vec<Value> = matching.iter().skip(start).take(max).cloned().collect();
    let mut out = json!({ "Findings": page });
    if start + max < matching.len() {
        out["NextToken"] = json!((start + max).to_string());
    }
    Ok(out)
}

/// `BatchUpdateFindings`: the workflow status and the note of each identified finding.
pub(super) fn batch_update(
    body: &[u8],
    mut fail: impl FnMut() -> bool,
    findings: &mut [Value],
) -> OpResult {
    let input: Value = serde_json::from_slice(body)
        .map_err(|e| SimError::validation(format!("request body is not JSON: {e}")))?;
    let ids = input["FindingIdentifiers"]
        .as_array()
        .ok_or_else(|| SimError::validation("FindingIdentifiers is required"))?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(SimError::validation(format!(
            "FindingIdentifiers must hold 1 to 100 identifiers, found {}",
            ids.len()
        )));
    }
    if let Some(note) = input.get("Note") {
        let text = note["Text"].as_str().unwrap_or_default();
        if text.is_empty() || text.chars().count() > 512 || note["UpdatedBy"].as_str().is_none() {
            return Err(SimError::validation(
                "Note needs Text (1-512 characters) and UpdatedBy",
            ));
        }
    }
    let status = input["Workflow"]["Status"].as_str();
    if let Some(s) = status {
        if !["NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"].contains(&s) {
            return Err(SimError::validation(format!("unknown workflow status {s}")));
        }
    }
    let (mut processed, mut unprocessed) = (Vec::new(), Vec::new());
    for id in ids {
        let found = findings
            .iter_mut()
            .find(|f| f["Id"] == id["Id"] && f["ProductArn"] == id["ProductArn"]);
        let Some(finding) = found else {
            unprocessed.push(json!({
                "FindingIdentifier": id,
                "ErrorCode": "FindingNotFound",
                "ErrorMessage": "no such finding",
            }));
            continue;
        };
        if fail() {
            unprocessed.push(json!({
                "FindingIdentifier": id,
                "ErrorCode": "InternalFailure",
                "ErrorMessage": "injected failure",
            }));
            continue;
        }
        if let Some(s) = status {
            finding["Workflow"]["Status"] = json!(s);
        }
        if let Some(note) = input.get("Note") {
            finding["Note"] = json!({
                "Text": note["Text"],
                "UpdatedBy": note["UpdatedBy"],
                "UpdatedAt": iso(epoch_now()),
            });
        }
        finding["UpdatedAt"] = json!(iso(epoch_now()));
        processed.push(id.clone());
    }
    Ok(json!({ "ProcessedFindings": processed, "UnprocessedFindings": unprocessed }))
}
