//! Deciding approval requests, for the `approvals` command and the HTTP API: list them, approve
//! or reject one. A decision is written to the store (the same one the daemon uses, also while
//! it runs) with a trigger for the resource, so the daemon looks at it again within seconds: an
//! approved fix then runs on a fresh Describe, and only if the plan is still the one approved.

use std::io::Write;

use serde_json::json;

use crate::events::{Family, Trigger};
use crate::journal::time;
use crate::store::{Approval, ApprovalState, Millis, Store, StoreError, Verdict};

/// Which requests to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    State(ApprovalState),
    All,
}

impl Filter {
    /// `pending`, `approved`, `rejected`, `expired`, `superseded` or `all`.
    pub fn parse(s: &str) -> Option<Filter> {
        match s {
            "all" => Some(Filter::All),
            other => other.parse().ok().map(Filter::State),
        }
    }
}

/// The state a request is in at `now`: a pending one past its expiry is expired, whether or not
/// the daemon has marked it yet.
pub fn state_at(a: &Approval, now: Millis) -> ApprovalState {
    match a.state {
        ApprovalState::Pending if a.expires_at <= now => ApprovalState::Expired,
        state => state,
    }
}

/// Requests matching `filter` at `now`, newest first, at most `limit`.
///
/// # Errors
///
/// When the store cannot be read.
pub fn list<S: Store + ?Sized>(
    store: &S,
    filter: Filter,
    now: Millis,
    limit: usize,
) -> Result<Vec<Approval>, StoreError> {
    // Only pending requests can be in another state at `now` than stored (expired): the other
    // filters are the store's own.
    let mut found = match filter {
        Filter::All => return store.approvals(None, limit),
        Filter::State(ApprovalState::Pending) => {
            store.approvals(Some(ApprovalState::Pending), usize::MAX)?
        }
        Filter::State(ApprovalState::Expired) => {
            let mut both = store.approvals(Some(ApprovalState::Expired), usize::MAX)?;
            both.extend(store.approvals(Some(ApprovalState::Pending), usize::MAX)?);
            both.sort_by_key(|a| std::cmp::Reverse(a.id));
            both
        }
        Filter::State(state) => return store.approvals(Some(state), limit),
    };
    found.retain(|a| matches!(filter, Filter::State(s) if state_at(a, now) == s));
    found.truncate(limit);
    Ok(found)
}

/// One request as a JSON object (the `--format json` line and the HTTP API's item).
pub fn to_json(a: &Approval, now: Millis) -> serde_json::Value {
    json!({
        "id": a.id,
        "resource_arn": a.resource.arn,
        "resource_name": a.resource.name,
        "resource_type": a.resource.resource_type.config_type(),
        "account": a.resource.account,
        "region": a.resource.region,
        "controls": a.controls,
        "kind": a.kind,
        "state": state_at(a, now),
        "plan": a.plan,
        "plan_in_words": plan_in_words(&a.plan),
        "requested_at": time(a.requested_at),
        "expires_at": time(a.expires_at),
        "decided_by": a.decided_by,
        "decided_at": a.decided_at.map(time),
        "reason": a.reason,
        "remediation_id": a.remediation_id,
    })
}

/// What the plan would change, for people.
pub fn plan_in_words(plan: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    if plan["disable_root_access"] == true {
        parts.push("stop the notebook, disable root access".to_string());
    }
    if let Some(p) = plan["platform"].as_str() {
        parts.push(format!("move the notebook to platform {p}"));
    }
    if !parts.is_empty() {
        parts.push("start it again if it was running".to_string());
    }
    if let Some(tags) = plan["add_tags"].as_array() {
        let tags: Vec<String> = tags
            .iter()
            .map(|t| {
                format!(
                    "{}={}",
                    t["key"].as_str().unwrap_or_default(),
                    t["value"].as_str().unwrap_or_default()
                )
            })
            .collect();
        parts.push(format!("add the tags {}", tags.join(", ")));
    }
    if let Ok(p) =
        serde_json::from_value::<crate::reconcile::endpoint_fix::ReplacePlan>(plan.clone())
    {
        parts.push(format!(
            "create endpoint config {} (a copy of {} with {}) and move {} to it (blue/green, \
             rolled back on failure; about twice the instance cost)",
            p.replacement,
            p.config,
            crate::reconcile::endpoint_fix::changes_in_words(&p.variants),
            match p.endpoints.len() {
                1 => format!("endpoint {}", p.endpoints[0]),
                _ => format!("endpoints {}", p.endpoints.join(", ")),
            }
        ));
    }
    match parts.is_empty() {
        true => plan.to_string(),
        false => parts.join(", "),
    }
}

/// Prints requests as a table or as JSON Lines.
///
/// # Errors
///
/// When writing fails.
pub fn print(
    approvals: &[Approval],
    now: Millis,
    json: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if json {
        for a in approvals {
            writeln!(out, "{}", to_json(a, now))?;
        }
        return Ok(());
    }
    if approvals.is_empty() {
        return writeln!(out, "No approval requests.");
    }
    for a in approvals {
        writeln!(
            out,
            "#{} {} {} {}",
            a.id,
            state_at(a, now),
            crate::model::ControlId::spaced(&a.controls),
            a.resource.arn
        )?;
        writeln!(out, "    plan: {}", plan_in_words(&a.plan))?;
        writeln!(
            out,
            "    requested {}, expires {}",
            time(a.requested_at),
            time(a.expires_at)
        )?;
        if let (Some(by), Some(at)) = (&a.decided_by, a.decided_at) {
            writeln!(
                out,
                "    decided by {by} at {}: {}",
                time(at),
                a.reason.as_deref().unwrap_or("")
            )?;
        }
        if let Some(id) = a.remediation_id {
            writeln!(out, "    used by remediation #{id}")?;
        }
    }
    Ok(())
}

/// Records `verdict` on request `id` by `by` with `reason`, and queues the resource so the
/// daemon acts on it.
///
/// # Errors
///
/// [`StoreError::NotFound`] for an unknown id, [`StoreError::Conflict`] when the request is no
/// longer pending (decided, superseded by a changed plan, or expired).
pub fn decide<S: Store + ?Sized>(
    store: &S,
    id: i64,
    verdict: Verdict,
    by: &str,
    reason: &str,
    now: Millis,
) -> Result<Approval, StoreError> {
    let decided = store.decide_approval(id, verdict, by, reason, now)?;
    let r = &decided.resource;
    let trigger = Trigger {
        account: r.account.clone(),
        region: r.region.clone(),
        resource_type: r.resource_type,
        arn: crate::events::arn(r.resource_type, &r.region, &r.account, &r.name),
        name: Some(r.name.clone()),
        family: Family::Approval,
        event_id: format!("approval-{id}"),
        controls: decided.controls.clone(),
    };
    store.enqueue(&[trigger], now)?;
    tracing::info!(
        event = "approval_decided",
        request = id,
        state = %decided.state,
        by,
        reason,
        resource_arn = %r.arn
    );
    Ok(decided)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::model::{ResourceRef, ResourceType};
    use crate::store::{NewApproval, RemediationKind, SqliteStore};

    #[test]
    fn listing_by_state_counts_pending_requests_past_their_expiry_as_expired() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let request = |name: &str, expires_at: Millis| NewApproval {
            resource: ResourceRef {
                account: "111122223333".into(),
                region: "us-east-1".into(),
                resource_type: ResourceType::NotebookInstance,
                name: name.into(),
                arn: format!("arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/{name}")
                    .into(),
            },
            controls: vec![crate::model::ControlId::SageMaker3],
            kind: RemediationKind::NotebookFix,
            plan: json!({"disable_root_access": true}),
            fingerprint: "fp".into(),
            requested_at: 0,
            expires_at,
        };
        let stale = store.request_approval(&request("a", 100), &[]).unwrap();
        let fresh = store.request_approval(&request("b", 10_000), &[]).unwrap();
        let marked = store.request_approval(&request("c", 50), &[]).unwrap();
        store.expire_approval(marked.id).unwrap();
        let ids = |filter| -> Vec<i64> {
            list(&store, filter, 1_000, 10)
                .unwrap()
                .iter()
                .map(|a| a.id)
                .collect()
        };
        assert_eq!(ids(Filter::State(ApprovalState::Pending)), [fresh.id]);
        assert_eq!(
            ids(Filter::State(ApprovalState::Expired)),
            [marked.id, stale.id]
        );
        assert_eq!(ids(Filter::All), [marked.id, fresh.id, stale.id]);
        assert!(ids(Filter::State(ApprovalState::Approved)).is_empty());
        assert_eq!(list(&store, Filter::All, 1_000, 1).unwrap().len(), 1);
    }
}
