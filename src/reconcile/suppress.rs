//! Findings of exempt controls set to `SUPPRESSED` (`findings.suppress_exempt`, with
//! `findings.update`): an exemption is a decision a person made, and the finding should say so
//! instead of staying `NEW`. Never in a dry run; once per resource and control while the daemon
//! runs (the write-back only touches findings still `NEW` or `NOTIFIED`, so a repeat after a
//! restart finds nothing left to change).

use crate::notify::findings;

use super::*;

/// Suppresses the findings of `controls`, exempt by configured exemptions in force at `now`.
pub(super) fn configured<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    resource: &ResourceRef,
    controls: &[ControlId],
    dry_run: bool,
    now: Millis,
) -> Result<(), ReconcileError> {
    exempt(
        ctx,
        resource,
        controls,
        dry_run,
        |c| match policy::exemptions::entry_for(&ctx.config, &resource.arn, c, now) {
            Some(e) => format!(
                "Exempt from {c} in sagemaker-remediator's configuration until {} (`{}`): {}.",
                e.expires, e.arn, e.reason
            ),
            None => format!("Exempt from {c} in sagemaker-remediator's configuration."),
        },
    )
}

/// Suppresses the findings of `controls` of a resource that carries the exemption tag.
pub(super) fn tagged<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    resource: &ResourceRef,
    controls: &[ControlId],
    dry_run: bool,
    tags: &[Tag],
) -> Result<(), ReconcileError> {
    let key = &ctx.config.remediation.exemption_tag_key;
    let value = tags
        .iter()
        .find(|t| &t.key == key)
        .map(|t| t.value.as_str())
        .filter(|v| !v.is_empty());
    let note = match value {
        Some(v) => format!("Exempt: the resource carries the tag `{key}` = `{v}`."),
        None => format!("Exempt: the resource carries the tag `{key}`."),
    };
    exempt(ctx, resource, controls, dry_run, |_| note.clone())
}

/// Suppresses the findings of `controls` of `resource`, each with the note `why(control)`.
fn exempt<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    resource: &ResourceRef,
    controls: &[ControlId],
    dry_run: bool,
    why: impl Fn(ControlId) -> String,
) -> Result<(), ReconcileError> {
    if dry_run || !ctx.config.findings.suppress_exempt {
        return Ok(());
    }
    let fresh: Vec<ControlId> = controls
        .iter()
        .copied()
        .filter(|c| ctx.outbox.first_suppression(&resource.arn, *c))
        .collect();
    if fresh.is_empty() {
        return Ok(());
    }
    let now = ctx.now();
    let notices: Vec<_> = fresh
        .iter()
        .map(|c| findings::suppression(resource, *c, why(*c), now))
        .collect();
    if let Err(e) = ctx.store.save_notices(&notices) {
        for c in &fresh {
            ctx.outbox.forget_suppression(&resource.arn, *c);
        }
        return Err(ctx.store_err(&resource.arn)(e));
    }
    tracing::info!(event = "findings_suppressed", resource_arn = %resource.arn, controls = %ControlId::spaced(&fresh), "exempt: the findings are to be suppressed");
    ctx.outbox.written();
    Ok(())
}
