//! The SageMaker.6/.7 tag fix: AddTags with the missing keys, journaled, remembered when it
//! fails.

use super::*;

/// SageMaker.6/.7: AddTags with the missing keys (never overwriting a value), then verify.
pub(super) async fn add_tags<S: Store, C: ClientFactory, A: SageMakerApi>(
    ctx: &Context<S, C>,
    api: &A,
    resource: &ResourceRef,
    decision: &Decision,
) -> Result<(), ReconcileError> {
    let control = match resource.resource_type {
        ResourceType::Image => ControlId::SageMaker7,
        _ => ControlId::SageMaker6,
    };
    let plan = json!({ "add_tags": decision.add_tags });
    let needs_approval = decision.approve.contains(&control);
    if decision.dry_run {
        let mut record = plan.clone();
        if needs_approval {
            record["approval"] = json!("would be asked for before the fix");
        }
        return record_dry_run(ctx, resource, TAG_FIX, &[control], record);
    }
    let arn = &resource.arn;
    let fingerprint = plan.to_string();
    if ctx.held(resource, TAG_FIX, &fingerprint, "")?.is_some() {
        return Ok(());
    }
    let approved = match needs_approval {
        false => None,
        true => match approval::gate(ctx, resource, TAG_FIX, &[control], &plan)? {
            approval::Gate::Wait => return Ok(()),
            approval::Gate::Go(a) => Some(a),
        },
    };
    let id = ctx.begin(resource, &[control], TAG_FIX, false, &plan)?;
    if let Some(a) = &approved {
        approval::bind(ctx, id, resource, a)?;
    }
    let keys: Vec<&str> = decision.add_tags.iter().map(|t| t.key.as_str()).collect();
    ctx.step(
        id,
        resource,
        Step::AddTags,
        StepPhase::Intent,
        keys.join(", "),
    )?;
    let (status, outcome, permanent) = match api.add_tags(arn, &decision.add_tags).await {
        Ok(()) => {
            ctx.step(
                id,
                resource,
                Step::AddTags,
                StepPhase::Done,
                keys.join(", "),
            )?;
            let outcome = match &decision.iac {
                Some(owner) => format!("fixed; {}", owner.drift(&[control], &ctx.config)),
                None => "fixed".to_string(),
            };
            (RemediationStatus::Succeeded, outcome, false)
        }
        Err(e) => {
            ctx.step(id, resource, Step::AddTags, StepPhase::Error, e.to_string())?;
            let permanent = e.class.is_permanent();
            (RemediationStatus::Failed, format!("failed: {e}"), permanent)
        }
    };
    let notices = ctx.ending_notices(
        resource,
        &[control],
        TAG_FIX,
        false,
        &plan,
        status,
        Some(&outcome),
    );
    ctx.store
        .save_state(id, &plan, status, Some(&outcome), ctx.now(), &notices)
        .map_err(ctx.store_err(arn))?;
    ctx.outbox.written();
    let setback = (status == RemediationStatus::Failed)
        .then_some((Setback::Failed { permanent }, outcome.as_str()));
    ctx.remember(resource, TAG_FIX, &[control], &fingerprint, "", id, setback)?;
    let label = if status == RemediationStatus::Succeeded {
        "fixed"
    } else {
        "failed"
    };
    ctx.ended(resource, control, label);
    Ok(())
}
