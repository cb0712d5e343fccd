//! The approval gate in front of a fix that needs a person: ask once per plan, wait while the
//! request is pending, run once it is approved (binding the approval to the remediation), hold
//! a rejected plan until the re-ask interval passes, and ask again for a changed plan or an
//! expired request.

use crate::store::{Approval, ApprovalState, NewApproval};

use super::*;

/// What the gate lets through.
pub(super) enum Gate {
    /// Approved: run the fix, then [`bind`] the approval to its remediation.
    Go(Box<Approval>),
    /// Asked, pending or rejected: nothing to do until a person decides (or the plan changes).
    Wait,
}

/// The fingerprint an approval is bound to: the kind and the exact change.
pub(super) fn fingerprint(kind: RemediationKind, plan: &serde_json::Value) -> String {
    format!("{kind}:{plan}")
}

/// Whether the fix of `kind` with `plan` on `resource` may run.
pub(super) fn gate<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    resource: &ResourceRef,
    kind: RemediationKind,
    controls: &[ControlId],
    plan: &serde_json::Value,
) -> Result<Gate, ReconcileError> {
    let arn = &resource.arn;
    let fp = fingerprint(kind, plan);
    let now = ctx.now();
    let latest = ctx
        .store
        .latest_approval(arn, kind)
        .map_err(ctx.store_err(arn))?;
    let mut replaces = None;
    if let Some(a) = latest {
        let same = a.fingerprint == fp;
        match a.state {
            ApprovalState::Approved if same && a.remediation_id.is_none() => {
                return Ok(Gate::Go(Box::new(a)));
            }
            ApprovalState::Pending if same && a.expires_at > now => return Ok(Gate::Wait),
            ApprovalState::Pending if same => {
                ctx.store
                    .expire_approval(a.id)
                    .map_err(ctx.store_err(arn))?;
                tracing::info!(event = "approval_expired", resource_arn = %arn, request = a.id, "asking again");
            }
            ApprovalState::Rejected if same => {
                let reask = ctx.config.approval_reask().as_millis() as i64;
                if a.decided_at.unwrap_or(a.requested_at).saturating_add(reask) > now {
                    return Ok(Gate::Wait);
                }
            }
            ApprovalState::Pending | ApprovalState::Approved if a.remediation_id.is_none() => {
                replaces = Some(a.id);
            }
            _ => {}
        }
    }
    let reason = match replaces {
        Some(old) => format!(
            "waits for approval; the plan changed since request #{old}, which no longer applies"
        ),
        None => "waits for approval".to_string(),
    };
    let notices = ctx.outbox.notices(&Outcome {
        detail_type: DetailType::PendingApproval,
        resource,
        controls,
        dry_run: false,
        kind: Some(kind),
        plan: Some(plan),
        reason: Some(&reason),
        scheduled_for: None,
        at: now,
    });
    let expiry = ctx.config.approval_expiry().as_millis() as i64;
    let request = ctx
        .store
        .request_approval(
            &NewApproval {
                resource: resource.clone(),
                controls: controls.to_vec(),
                kind,
                plan: plan.clone(),
                fingerprint: fp,
                requested_at: now,
                expires_at: now.saturating_add(expiry),
            },
            &notices,
        )
        .map_err(ctx.store_err(arn))?;
    ctx.outbox.written();
    tracing::info!(
        event = "approval_requested",
        resource_arn = %arn,
        request = request.id,
        replaces = ?replaces,
        controls = %ControlId::spaced(controls),
        "{reason}"
    );
    for c in controls {
        ctx.ended(resource, *c, "pending-approval");
    }
    Ok(Gate::Wait)
}

/// Binds `approval` to remediation `id` and journals who approved it, when and why.
pub(super) fn bind<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    id: i64,
    resource: &ResourceRef,
    approval: &Approval,
) -> Result<(), ReconcileError> {
    ctx.store
        .use_approval(approval.id, id)
        .map_err(ctx.store_err(&resource.arn))?;
    let at = approval
        .decided_at
        .map(crate::journal::time)
        .unwrap_or_default();
    ctx.step(
        id,
        resource,
        Step::Approve,
        StepPhase::Done,
        format!(
            "request #{} approved by {} at {at}: {}",
            approval.id,
            approval.decided_by.as_deref().unwrap_or("?"),
            approval.reason.as_deref().unwrap_or("")
        ),
    )
}
