//! Whether a notebook fix may start now, and if not, until when it waits. A fix that would stop
//! a running notebook waits while someone used the notebook lately
//! (`remediation.quiet_after_use_secs`) and while no maintenance window that applies is open;
//! every notebook fix waits for the blast-radius limits ([`limits`]); and with
//! `remediation.stop_notice_secs` a running notebook gets notice first: the
//! `sagemaker-remediator:scheduled-at` tag with the planned stop time, a `Remediation
//! Scheduled` notification, and the wait until that time. A person may move the tag's time
//! later to postpone the stop.
//!
//! A wait is recorded in the store (for `remediations`, and so a restart shows it too); the
//! trigger waits in the store's queue. The record is removed when the fix starts or is no
//! longer needed. The notice tag is removed when its fix starts: a later stop (after a failed
//! or interrupted fix) gets a notice of its own.

use crate::notify::Outcome;
use crate::store::{Notice, Wait};

use super::*;

/// The tag that announces a stop, with its planned time (RFC 3339, UTC).
pub const SCHEDULED_AT: &str = "sagemaker-remediator:scheduled-at";

/// A notice whose time has passed is used for this long at least (or the notice period, if
/// longer); an older one (the fix waited for something else meanwhile) is given again.
const NOTICE_VALID_MS: Millis = 3_600_000;

/// Why a fix waits and until when.
struct Until {
    at: Millis,
    reason: &'static str,
    notices: Vec<Notice>,
}

/// When the notebook fix of `plan` may start, if not now; a wait is recorded (and the notice
/// given) before this returns.
pub(super) async fn before_start<S: Store, C: ClientFactory, A: SageMakerApi>(
    ctx: &Context<S, C>,
    api: &A,
    snapshot: &Snapshot,
    tags: &[Tag],
    controls: &[ControlId],
    plan: &serde_json::Value,
) -> Result<Option<Millis>, ReconcileError> {
    let resource = &snapshot.resource;
    let running = is_running(snapshot);
    let mut until = match running {
        true => disruption(ctx, resource, tags)?,
        false => None,
    };
    if until.is_none() {
        until = limits::wait(ctx, resource)?.map(|(at, reason)| Until {
            at,
            reason,
            notices: Vec::new(),
        });
    }
    if until.is_none() && running {
        until = stop_notice(ctx, api, resource, tags, controls, plan).await?;
    }
    let Some(until) = until else {
        settled(ctx, resource)?;
        return Ok(None);
    };
    let wait = Wait {
        resource: resource.clone(),
        kind: NOTEBOOK_FIX,
        controls: controls.to_vec(),
        reason: until.reason.to_string(),
        until: until.at,
        at: ctx.now(),
    };
    ctx.store
        .save_wait(&wait, &until.notices)
        .map_err(ctx.store_err(&resource.arn))?;
    if !until.notices.is_empty() {
        ctx.outbox.written();
    }
    let at = crate::journal::time(until.at);
    tracing::info!(event = "fix_waits", resource_arn = %resource.arn, reason = until.reason, until = %at, "the notebook fix starts later");
    RemediationHeld {
        resource_arn: &resource.arn,
        kind: NOTEBOOK_FIX.as_str(),
        reason: until.reason,
        failures: 0,
        until: &at,
        last_failure: "",
    }
    .emit(&ctx.metrics);
    Ok(Some(until.at))
}

/// The notebook needs no fix (any more): its wait is forgotten.
pub(super) fn settled<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    resource: &ResourceRef,
) -> Result<(), ReconcileError> {
    if resource.resource_type != ResourceType::NotebookInstance {
        return Ok(());
    }
    ctx.store
        .clear_wait(&resource.arn, NOTEBOOK_FIX)
        .map_err(ctx.store_err(&resource.arn))
}

/// A running notebook's fix stops it; a stopped (or failed) one is not disrupted.
fn is_running(snapshot: &Snapshot) -> bool {
    matches!(&snapshot.detail, Detail::Notebook(n) if !matches!(
        n.status,
        crate::model::NotebookStatus::Stopped | crate::model::NotebookStatus::Failed
    ))
}

/// Recent use, then a closed maintenance window.
fn disruption<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    resource: &ResourceRef,
    tags: &[Tag],
) -> Result<Option<Until>, ReconcileError> {
    let now = ctx.now();
    let key = crate::events::arn(
        resource.resource_type,
        &resource.region,
        &resource.account,
        &resource.name,
    );
    let quiet = secs_to_ms(ctx.config.remediation.quiet_after_use_secs);
    let used = ctx
        .store
        .last_activity(&key)
        .map_err(ctx.store_err(&resource.arn))?;
    let (at, reason) = match used.map(|at| at.saturating_add(quiet)).filter(|t| *t > now) {
        Some(quiet_from) => (quiet_from, "in-use"),
        None => {
            let windows = ctx.config.windows_for(&resource.account, tags);
            match policy::windows::wait_until(&windows, now) {
                Some(start) => (start, "maintenance-window"),
                None => return Ok(None),
            }
        }
    };
    Ok(Some(Until {
        at,
        reason,
        notices: Vec::new(),
    }))
}

/// The notice before a stop: `None` when it is off or has been given and its time has come.
async fn stop_notice<S: Store, C: ClientFactory, A: SageMakerApi>(
    ctx: &Context<S, C>,
    api: &A,
    resource: &ResourceRef,
    tags: &[Tag],
    controls: &[ControlId],
    plan: &serde_json::Value,
) -> Result<Option<Until>, ReconcileError> {
    let notice = secs_to_ms(ctx.config.remediation.stop_notice_secs);
    if notice == 0 {
        return Ok(None);
    }
    let now = ctx.now();
    let given = tags
        .iter()
        .find(|t| t.key == SCHEDULED_AT)
        .and_then(|t| t.value.parse::<jiff::Timestamp>().ok())
        .map(jiff::Timestamp::as_millisecond);
    match given {
        Some(at) if at > now => {
            return Ok(Some(Until {
                at,
                reason: "stop-notice",
                notices: Vec::new(),
            }))
        }
        Some(at) => {
            // The notice is used up by this stop (a later stop gets one of its own); an old
            // one (the fix waited for something else since) is given again.
            let fresh = now - at < notice.max(NOTICE_VALID_MS);
            api.delete_tags(&resource.arn, &[SCHEDULED_AT])
                .await
                .map_err(aws_err(&resource.arn))?;
            if fresh {
                tracing::info!(event = "stop_notice_over", resource_arn = %resource.arn, "the notice before the stop is over: the fix starts");
                return Ok(None);
            }
        }
        None => {}
    }
    // Whole seconds, as the tag says it.
    let at = now.saturating_add(notice).saturating_add(999) / 1000 * 1000;
    let tag = Tag {
        key: SCHEDULED_AT.to_string(),
        value: crate::journal::time(at),
    };
    api.add_tags(&resource.arn, std::slice::from_ref(&tag))
        .await
        .map_err(aws_err(&resource.arn))?;
    tracing::info!(event = "stop_scheduled", resource_arn = %resource.arn, at = %tag.value, "notice given: the notebook is stopped for its fix then");
    let notices = ctx.outbox.notices(&Outcome {
        detail_type: DetailType::Scheduled,
        resource,
        controls,
        dry_run: false,
        kind: Some(NOTEBOOK_FIX),
        plan: Some(plan),
        reason: Some("the notebook will be stopped for its fix"),
        scheduled_for: Some(at),
        at: now,
    });
    Ok(Some(Until {
        at,
        reason: "stop-notice",
        notices,
    }))
}

fn secs_to_ms(secs: u64) -> Millis {
    i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000)
}
