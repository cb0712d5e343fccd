//! EventBridge `PutEvents` (awsJson1.1, target `AWSEvents.PutEvents`), as far as the daemon's
//! notifications use it: every entry is checked like the service does (source, detail-type and
//! a JSON object detail required, at most 10 entries), accepted entries are kept for tests to
//! read ([`super::Simulator::bus_events`]), and a share of entries can be failed the way the
//! service fails them (in the response, with `FailedEntryCount`, not as an HTTP error).

use serde_json::{json, Value};

use super::wire::{OpResult, SimError};

/// One accepted entry, as the caller sent it plus the id the bus gave it.
pub(super) fn put_events(
    body: &[u8],
    mut fail_entry: impl FnMut() -> bool,
    accepted: &mut Vec<Value>,
) -> OpResult {
    let input: Value = serde_json::from_slice(body)
        .map_err(|e| SimError::validation(format!("request body is not JSON: {e}")))?;
    let entries = input["Entries"]
        .as_array()
        .ok_or_else(|| SimError::validation("Entries is required"))?;
    if entries.is_empty() || entries.len() > 10 {
        return Err(SimError::validation(format!(
            "Entries must hold 1 to 10 entries, found {}",
            entries.len()
        )));
    }
    let mut results = Vec::new();
    let mut failed = 0;
    for entry in entries {
        let problem = entry_problem(entry);
        if let Some(message) = problem {
            failed += 1;
            results.push(json!({ "ErrorCode": "InvalidArgument", "ErrorMessage": message }));
            continue;
        }
        if fail_entry() {
            failed += 1;
            results.push(json!({
                "ErrorCode": "InternalFailure",
                "ErrorMessage": "injected entry failure",
            }));
            continue;
        }
        let id = format!("sim-event-{:08}", accepted.len() + 1);
        let mut kept = entry.clone();
        kept["EventId"] = json!(id);
        accepted.push(kept);
        results.push(json!({ "EventId": id }));
    }
    Ok(json!({ "FailedEntryCount": failed, "Entries": results }))
}

/// What the service would refuse in one entry.
fn entry_problem(entry: &Value) -> Option<String> {
    for key in ["Source", "DetailType", "Detail"] {
        if entry[key].as_str().is_none_or(str::is_empty) {
            return Some(format!("{key} is required"));
        }
    }
    let detail = entry["Detail"].as_str()?;
    match serde_json::from_str::<Value>(detail) {
        Ok(Value::Object(_)) => None,
        _ => Some("Detail must be a JSON object".to_string()),
    }
}
