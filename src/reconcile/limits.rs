//! Blast-radius limits on notebook fixes per account: at most `limits.notebook_fixes_at_once`
//! running, and at most `limits.notebook_fixes_per_hour` started in one clock hour (UTC). When
//! the hourly limit is reached, enforcement in the account pauses until the next hour: said in
//! the log, the `smr_enforcement_paused` metric, `remediations`, and an `Enforcement Paused`
//! notification. `enforcement resume ACCOUNT` ends a pause early. The fixes held back wait.

use crate::store::Pause;

use super::*;

const HOUR: Millis = 3_600_000;
const PAUSED: &str = "enforcement-paused";

/// When a new notebook fix in `resource`'s account may start, if not now, and why not
/// (`enforcement-paused` or `fixes-at-once`).
pub(super) fn wait<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    resource: &ResourceRef,
) -> Result<Option<(Millis, &'static str)>, ReconcileError> {
    let account = &resource.account;
    let arn = &resource.arn;
    let now = ctx.now();
    let pause = ctx.store.pause(account).map_err(ctx.store_err(arn))?;
    if let Some(p) = pause
        .as_ref()
        .filter(|p| p.until > now && p.resumed_at.is_none())
    {
        return Ok(Some((p.until, PAUSED)));
    }
    let hour = now - now.rem_euclid(HOUR);
    let since = pause
        .as_ref()
        .and_then(|p| p.resumed_at)
        .map_or(hour, |r| r.max(hour));
    let (started, running) = ctx
        .store
        .notebook_fixes(account, since)
        .map_err(ctx.store_err(arn))?;
    let limits = &ctx.config.limits;
    if started >= limits.notebook_fixes_per_hour {
        let until = hour + HOUR;
        let reason = format!(
            "{started} notebook fixes started this hour in account {account} (limits.notebook_fixes_per_hour = {}): enforcement paused until {}",
            limits.notebook_fixes_per_hour,
            crate::journal::time(until)
        );
        let notices = ctx.outbox.notices(&Outcome {
            detail_type: DetailType::EnforcementPaused,
            resource,
            controls: &[],
            dry_run: false,
            kind: Some(RemediationKind::NotebookFix),
            plan: None,
            reason: Some(&reason),
            scheduled_for: Some(until),
            at: now,
        });
        let record = Pause {
            account: account.clone(),
            until,
            reason: reason.clone(),
            at: now,
            resumed_at: None,
        };
        ctx.store
            .save_pause(&record, &notices)
            .map_err(ctx.store_err(arn))?;
        ctx.outbox.written();
        tracing::warn!(event = "enforcement_paused", account = %account, until = %crate::journal::time(until), "{reason}");
        ctx.metrics
            .set("smr_enforcement_paused", &[("account", account)], 1.0);
        return Ok(Some((until, PAUSED)));
    }
    ctx.metrics
        .set("smr_enforcement_paused", &[("account", account)], 0.0);
    if running >= limits.notebook_fixes_at_once {
        return Ok(Some((now + 10_000, "fixes-at-once")));
    }
    Ok(None)
}

/// Ends `account`'s pause now (`enforcement resume`): fixes started before no longer count
/// against this hour's limit, and the account's waiting triggers are due at once. `false` when
/// it was not paused.
///
/// # Errors
///
/// When the store fails.
pub fn resume<S: Store + ?Sized>(
    store: &S,
    account: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let Some(mut pause) = store.pause(account)? else {
        return Ok(false);
    };
    if pause.until <= now || pause.resumed_at.is_some() {
        return Ok(false);
    }
    pause.resumed_at = Some(now);
    store.save_pause(&pause, &[])?;
    // The fixes held back by the pause are due now, not at the end of the hour.
    for p in store.due(i64::MAX, usize::MAX)? {
        if p.trigger.account == account && p.not_before > now {
            store.defer(&p.trigger.arn, now, p.attempts)?;
        }
    }
    tracing::info!(
        event = "enforcement_resumed",
        account,
        "resumed by an operator"
    );
    Ok(true)
}
