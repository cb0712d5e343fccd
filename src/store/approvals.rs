//! Approval requests: a planned fix that waits for a person, bound to its plan by a
//! fingerprint. The reconciler asks ([`super::Store::request_approval`]), people decide (the
//! CLI, the HTTP API), and the reconciler uses an approval once, for the plan it was given for.

use serde::{Deserialize, Serialize};

use super::{Millis, RemediationKind, StoreError};
use crate::model::{ControlId, ResourceRef};

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(strum::Display, strum::EnumString, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "lowercase")]
pub enum ApprovalState {
    /// Waiting for a decision until `expires_at`.
    Pending,
    /// Approved: the fix may run once, for this plan (`remediation_id` once it ran).
    Approved,
    /// Rejected: the plan is not asked again before the re-ask interval passes.
    Rejected,
    /// Nobody decided before `expires_at`; the next trigger asks again.
    Expired,
    /// The plan changed before the request was used; a new request replaced it.
    Superseded,
}

/// What [`super::Store::request_approval`] records.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApproval {
    pub resource: ResourceRef,
    pub controls: Vec<ControlId>,
    pub kind: RemediationKind,
    /// The exact change, as the fix would make it.
    pub plan: serde_json::Value,
    /// The plan's canonical form (kind and plan): an approval applies to this and nothing else.
    pub fingerprint: String,
    pub requested_at: Millis,
    pub expires_at: Millis,
}

/// An approval request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: i64,
    #[serde(flatten)]
    pub resource: ResourceRef,
    pub controls: Vec<ControlId>,
    pub kind: RemediationKind,
    pub plan: serde_json::Value,
    pub fingerprint: String,
    pub state: ApprovalState,
    pub requested_at: Millis,
    pub expires_at: Millis,
    pub decided_by: Option<String>,
    pub decided_at: Option<Millis>,
    pub reason: Option<String>,
    /// The remediation the approval was used for.
    pub remediation_id: Option<i64>,
}

/// A person's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Reject,
}

/// What the store writes for a change of a request, and what the call answers: the rules
/// both backends apply, each inside its own transaction or conditional write.
pub(in crate::store) type Change<R> = (Option<Approval>, Result<R, StoreError>);

/// A decision on `a` at `at`: the decided request to write, or the conflict (a request that
/// expired meanwhile is written as `Expired`).
pub(in crate::store) fn decide(
    mut a: Approval,
    verdict: Verdict,
    by: &str,
    reason: &str,
    at: Millis,
) -> Change<Approval> {
    let conflict = |id, message| StoreError::Conflict {
        what: format!("approval request {id}"),
        message,
    };
    if a.state != ApprovalState::Pending {
        let message = format!("it is {}, not pending", a.state);
        return (None, Err(conflict(a.id, message)));
    }
    if a.expires_at <= at {
        a.state = ApprovalState::Expired;
        let message = "it expired before the decision".to_string();
        return (Some(a.clone()), Err(conflict(a.id, message)));
    }
    a.state = match verdict {
        Verdict::Approve => ApprovalState::Approved,
        Verdict::Reject => ApprovalState::Rejected,
    };
    a.decided_by = Some(by.to_string());
    a.decided_at = Some(at);
    a.reason = Some(reason.to_string());
    (Some(a.clone()), Ok(a))
}

/// A pending request whose time ran out, as `Expired`; nothing for any other.
pub(in crate::store) fn expire(mut a: Approval) -> Change<()> {
    if a.state != ApprovalState::Pending {
        return (None, Ok(()));
    }
    a.state = ApprovalState::Expired;
    (Some(a), Ok(()))
}

/// An approved, unused request bound to the remediation it allowed; a conflict otherwise.
pub(in crate::store) fn bind(mut a: Approval, remediation_id: i64) -> Change<()> {
    if a.state != ApprovalState::Approved || a.remediation_id.is_some() {
        let conflict = StoreError::Conflict {
            what: format!("approval request {}", a.id),
            message: format!("it is {}, or used already", a.state),
        };
        return (None, Err(conflict));
    }
    a.remediation_id = Some(remediation_id);
    (Some(a), Ok(()))
}
