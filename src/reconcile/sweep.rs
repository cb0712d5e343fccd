//! The periodic sweep: every configured account and region, every failing resource becomes a
//! trigger, so lost or never-configured events are caught up. Between full reads
//! (`daemon.full_sweep_interval_secs`) a resource found compliant is not described again while
//! its List version (see `Listed::version`) stays the same.

use std::collections::{HashMap, HashSet};

use aws_config::SdkConfig;

use crate::audit::{self, Progress, Target};
use crate::events::{self, Family};

use super::*;

/// Turns every failing resource of a sweep into a trigger.
pub fn sweep_triggers(snapshots: &[Snapshot], params: &controls::Params) -> Vec<Trigger> {
    sweep_triggers_with(snapshots, params, &Default::default())
}

/// As [`sweep_triggers`], judging with Security Hub's parameters where reported.
fn sweep_triggers_with(
    snapshots: &[Snapshot],
    params: &controls::Params,
    hub: &crate::aws::hub_params::HubParameters,
) -> Vec<Trigger> {
    let mut out = Vec::new();
    for s in snapshots {
        let failed: Vec<ControlId> = crate::audit::evaluate_with(s, params, hub)
            .into_iter()
            .filter(|e| e.status == Status::Failed)
            .map(|e| e.control)
            .collect();
        if failed.is_empty() {
            continue;
        }
        let r = &s.resource;
        out.push(Trigger {
            account: r.account.clone(),
            region: r.region.clone(),
            resource_type: r.resource_type,
            arn: canonical(&r.arn),
            name: Some(r.name.clone()),
            family: Family::Sweep,
            event_id: format!("sweep-{}", now_ms()),
            controls: failed,
        });
    }
    out
}

/// One full sweep of every configured account and region: failing resources become triggers.
/// Up to `daemon.sweep_targets_at_once` accounts and regions are swept at once (each paced by
/// its own call stack, as AWS limits each account and region on its own).
pub async fn sweep_once<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    base: &SdkConfig,
) -> Result<SweepOutcome, StoreError> {
    use futures::stream::{self, StreamExt, TryStreamExt};

    let (targets, errors) = audit::targets(&ctx.config, base).await;
    for e in &errors {
        tracing::warn!(event = "sweep_error", error = %audit::describe_error(e));
    }
    let full = full_sweep_due(ctx);
    let swept: Vec<Option<TargetOutcome>> = stream::iter(targets)
        .map(|(target, _)| sweep_target(ctx, target, full))
        .buffer_unordered(ctx.config.daemon.sweep_targets_at_once.max(1))
        .try_collect()
        .await?;
    let mut outcome = SweepOutcome {
        failing_resources: 0,
        aws_answered: false,
        unchanged: 0,
        full,
    };
    for t in swept.into_iter().flatten() {
        outcome.failing_resources += t.failing;
        outcome.aws_answered |= t.answered;
        outcome.unchanged += t.unchanged;
    }
    ctx.wake.notify_one();
    Ok(outcome)
}

/// What the sweep of one account and region found.
struct TargetOutcome {
    failing: usize,
    answered: bool,
    unchanged: usize,
}

/// Sweeps one account and region: its failing resources become triggers, its compliant ones
/// the sweep cache. `None` when no client could be made for it (logged).
async fn sweep_target<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    target: Target,
    full: bool,
) -> Result<Option<TargetOutcome>, StoreError> {
    let Target { account, region } = &target;
    let api = match ctx.clients.sagemaker(account, region).await {
        Ok(api) => api,
        Err(e) => {
            tracing::warn!(event = "sweep_error", error = %e);
            return Ok(None);
        }
    };
    let known = match full {
        true => HashMap::new(),
        false => ctx.store.seen(account, region)?,
    };
    let sweep = audit::sweep_with(
        &api,
        &target,
        ctx.config.audit.concurrency,
        &Progress::new(false),
        &known,
    )
    .await;
    for e in &sweep.errors {
        tracing::warn!(event = "sweep_error", error = %audit::describe_error(e));
    }
    // Some List call answered unless every one of the five kinds failed to list.
    let failed_lists = sweep
        .errors
        .iter()
        .filter(|e| e.resource_arn.is_none())
        .count();
    let answered = failed_lists < ResourceType::ALL.len();
    let hub = hub::parameters(ctx, &api, account, region).await;
    let triggers = sweep_triggers_with(&sweep.snapshots, &ctx.config.control_params(), &hub);
    ctx.store.enqueue(&triggers, ctx.now())?;
    // What passed is not described again while its version stays; what failed always is.
    let failing: HashSet<&str> = triggers.iter().map(|t| t.arn.as_str()).collect();
    let (compliant, mut not_compliant): (Vec<_>, Vec<_>) = sweep
        .snapshots
        .iter()
        .map(|s| s.resource.arn.to_string())
        .partition(|arn| !failing.contains(canonical(arn).as_str()));
    // Remembered but neither listed unchanged nor described: deleted (or its List call
    // failed this time); forgotten, so it is described whenever it is listed again.
    let listed: HashSet<&str> = sweep
        .snapshots
        .iter()
        .map(|s| &*s.resource.arn)
        .chain(sweep.unchanged_arns.iter().map(String::as_str))
        .collect();
    not_compliant.extend(
        known
            .keys()
            .filter(|arn| !listed.contains(arn.as_str()))
            .cloned(),
    );
    let compliant: Vec<(String, String)> = compliant
        .into_iter()
        .filter_map(|arn| sweep.versions.get(&arn).map(|v| (arn.clone(), v.clone())))
        .collect();
    ctx.store
        .save_seen(account, region, &compliant, &not_compliant, ctx.now())?;
    Ok(Some(TargetOutcome {
        failing: triggers.len(),
        answered,
        unchanged: sweep.unchanged,
    }))
}

/// The ARN as triggers carry it.
fn canonical(arn: &str) -> String {
    events::parse_arn(arn).map_or_else(|| arn.to_string(), |(_, _, _, a)| a)
}

/// Whether this sweep reads everything (and, if so, notes when it started).
fn full_sweep_due<S: Store, C: ClientFactory>(ctx: &Context<S, C>) -> bool {
    let interval = ctx
        .config
        .daemon
        .full_sweep_interval_secs
        .saturating_mul(1000) as Millis;
    let now = ctx.now();
    let mut last = ctx
        .full_sweep
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let due = interval == 0 || last.is_none_or(|at| now - at >= interval);
    if due {
        *last = Some(now);
    }
    due
}

/// What one sweep found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepOutcome {
    pub failing_resources: usize,
    /// At least one List call of one account and region answered.
    pub aws_answered: bool,
    /// Resources not described: unchanged since they were found compliant.
    pub unchanged: usize,
    /// Whether it read everything.
    pub full: bool,
}
