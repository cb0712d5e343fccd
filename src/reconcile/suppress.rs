//! Findings of exempt controls set to `SUPPRESSED` (`findings.suppress_exempt`, with
//! `findings.update`): an exemption is a decision a person made, and the finding should say so
//! instead of staying `NEW`. Never in a dry run; once per resource and control while the daemon
//! runs (the write-back only touches findings still `NEW` or `NOTIFIED`, so a repeat after a
//! restart finds nothing left to change).

use crate::notify::findings;

use super::*;

/// Suppresses the findings of `controls` of `resource`, each with the note `why(control)`.
pub(super) fn exempt<S: Store, C: ClientFactory>(
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
