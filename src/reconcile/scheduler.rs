//! The scheduler: runs due triggers, at most `daemon.reconcile_concurrency` at once and never
//! two for one resource; claims and leases; the backoff after failed reconciles; shutdown.

use std::collections::HashSet;

use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::claims::{self, ClaimGuard};
use crate::events::Family;
use crate::store::Pending;
use crate::telemetry::{InternalEvent, PendingTriggers, ReconcileEnded};

use super::*;

/// The longest the scheduler sleeps without looking at the store: triggers written by another
/// process (the `approvals` CLI after a decision) are found within this. One indexed SQLite
/// query each time.
pub const STORE_POLL: Duration = Duration::from_secs(2);

/// The scheduler: runs due triggers, at most `daemon.reconcile_concurrency` at once and never
/// two for one resource, until shutdown; then waits for the reconciles in flight (they stop
/// at their next step boundary) up to the grace period.
pub async fn run_scheduler<S: Store + 'static, C: ClientFactory>(
    ctx: Arc<Context<S, C>>,
) -> Result<(), StoreError> {
    let slots = Arc::new(Semaphore::new(
        ctx.config.daemon.reconcile_concurrency.max(1),
    ));
    let in_flight: Arc<std::sync::Mutex<HashSet<String>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    let lease_ms = ctx.config.daemon.claim_ttl().as_millis() as i64;
    // Remediations left running by a previous process are resumed first.
    let unfinished = ctx.store.unfinished()?;
    let resume: Vec<Trigger> = unfinished
        .iter()
        .map(|r| Trigger {
            account: r.resource.account.clone(),
            region: r.resource.region.clone(),
            resource_type: r.resource.resource_type,
            arn: r.resource.arn.to_string(),
            name: Some(r.resource.name.clone()),
            family: Family::Sweep,
            event_id: format!("resume-{}", r.id),
            controls: r.controls.clone(),
        })
        .collect();
    if !resume.is_empty() {
        tracing::info!(event = "resuming", count = resume.len());
        ctx.store.enqueue(&resume, ctx.now())?;
    }
    // Consecutive scheduling rounds the store failed with a transient error (throttled,
    // unreachable): the scheduler waits longer each time instead of stopping the daemon.
    let mut troubled = 0u32;
    loop {
        if ctx.shutdown.is_requested() {
            break;
        }
        let sleep = match schedule(&ctx, &slots, &in_flight, &mut tasks, lease_ms) {
            Ok(sleep) => {
                if troubled > 0 {
                    tracing::info!(event = "store_recovered", after_rounds = troubled);
                }
                troubled = 0;
                sleep
            }
            Err(e) if e.is_transient() => {
                troubled = troubled.saturating_add(1);
                let wait = STORE_TROUBLE_FIRST
                    .saturating_mul(1 << troubled.min(6))
                    .min(STORE_TROUBLE_MAX);
                tracing::warn!(
                    event = "store_unavailable",
                    error = %e,
                    retry_in_ms = wait.as_millis() as u64,
                    "the store did not answer; scheduling again after a pause"
                );
                wait
            }
            Err(e) => return Err(e),
        };
        tokio::select! {
            _ = ctx.wake.notified() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = tokio::time::sleep(sleep) => {}
            _ = ctx.shutdown.requested() => {}
        }
    }
    let grace = ctx.config.daemon.shutdown_grace();
    if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        let cancelled = in_flight_len(&in_flight);
        tasks.abort_all();
        // Cancelled reconciles drop their claim guards as they end: wait for that, so the next
        // start (or another replica) can take the resources at once.
        while tasks.join_next().await.is_some() {}
        tracing::warn!(
            event = "shutdown_grace_exceeded",
            cancelled,
            "reconciles still running were cancelled and their claims released; the journal \
             resumes them at the next start"
        );
    }
    Ok(())
}

/// Renews the claim on `arn` and the lease on its trigger every third of `daemon.claim_ttl`,
/// forever (the caller drops it when the reconcile ends).
async fn renew_lease<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    arn: &str,
    attempts: u32,
) -> std::convert::Infallible {
    let ttl = ctx.config.daemon.claim_ttl();
    let ttl_ms = ttl.as_millis() as i64;
    loop {
        tokio::time::sleep(ttl / 3).await;
        let now = ctx.now();
        match ctx.store.claim(arn, &ctx.owner, now, ttl_ms) {
            Ok(true) => {}
            Ok(false) => tracing::warn!(event = "claim_lost", resource_arn = %arn),
            Err(e) => tracing::error!(event = "store_error", error = %e),
        }
        if let Err(e) = ctx.store.defer(arn, now + ttl_ms, attempts) {
            tracing::error!(event = "store_error", error = %e);
        }
    }
}

/// The first pause after a transient store error in the scheduler; doubling up to the max.
const STORE_TROUBLE_FIRST: Duration = Duration::from_millis(250);
const STORE_TROUBLE_MAX: Duration = Duration::from_secs(30);

/// One round of the scheduler: starts the due triggers there are free slots for, and says how
/// long to sleep before the next round.
fn schedule<S: Store + 'static, C: ClientFactory>(
    ctx: &Arc<Context<S, C>>,
    slots: &Arc<Semaphore>,
    in_flight: &Arc<std::sync::Mutex<HashSet<String>>>,
    tasks: &mut tokio::task::JoinSet<()>,
    lease_ms: i64,
) -> Result<Duration, StoreError> {
    let free = slots.available_permits();
    let now = ctx.now();
    if free > 0 {
        let due = ctx.store.due(now, free + in_flight_len(in_flight))?;
        for pending in due {
            let arn = pending.trigger.arn.clone();
            {
                let mut busy = in_flight.lock().unwrap_or_else(|e| e.into_inner());
                if busy.contains(&arn) {
                    continue;
                }
                busy.insert(arn.clone());
            }
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                in_flight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&arn);
                break;
            };
            // Lease: the row stays pending (durable) but is not due while we work on it.
            if let Err(e) = ctx.store.defer(&arn, now + lease_ms, pending.attempts) {
                in_flight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&arn);
                return Err(e);
            }
            let ctx = ctx.clone();
            let in_flight = in_flight.clone();
            tasks.spawn(async move {
                run_one(&ctx, pending).await;
                in_flight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&arn);
                drop(permit);
            });
        }
    }
    if let Ok(n) = ctx.store.pending_count() {
        PendingTriggers(n).emit(&ctx.metrics);
    }
    Ok(match ctx.store.next_due()? {
        Some(at) if at > now => Duration::from_millis((at - now) as u64),
        Some(_) => Duration::from_millis(200),
        None => STORE_POLL,
    }
    .min(STORE_POLL))
}

fn in_flight_len(in_flight: &std::sync::Mutex<HashSet<String>>) -> usize {
    in_flight.lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// Runs one pending trigger: claim, reconcile, then finish, requeue or back off.
async fn run_one<S: Store, C: ClientFactory>(ctx: &Context<S, C>, pending: Pending) {
    let trigger = &pending.trigger;
    let controls: Vec<&str> = trigger.controls.iter().map(|c| c.as_str()).collect();
    let span = tracing::info_span!(
        "reconcile",
        account = %trigger.account,
        resource_arn = %trigger.arn,
        controls = %controls.join(" "),
        trigger = %trigger.family.as_str(),
    );
    run_one_in_span(ctx, &pending).instrument(span).await;
}

/// Takes the claim on `arn`: free, expired, ours, or held by a dead process of this host.
/// `Ok(false)`: someone else holds it (said in the log, with the holder and its expiry) and the
/// trigger is put off until the claim expires.
fn take_claim<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    arn: &str,
    attempts: u32,
) -> Result<bool, StoreError> {
    let now = ctx.now();
    let ttl_ms = ctx.config.daemon.claim_ttl().as_millis() as i64;
    if ctx.store.claim(arn, &ctx.owner, now, ttl_ms)? {
        return Ok(true);
    }
    let Some((holder, expires_at)) = ctx.store.claim_holder(arn)? else {
        // Released meanwhile: try once more.
        return ctx.store.claim(arn, &ctx.owner, now, ttl_ms);
    };
    if claims::holder_is_dead(&holder, &ctx.owner)
        && ctx.store.take_over(arn, &holder, &ctx.owner, now, ttl_ms)?
    {
        tracing::info!(
            event = "claim_taken_over",
            resource_arn = %arn,
            previous_holder = %holder,
            "the holder was an earlier process of this host that no longer runs"
        );
        return Ok(true);
    }
    tracing::info!(
        event = "claim_held_elsewhere",
        resource_arn = %arn,
        holder = %holder,
        expires_at = %crate::journal::time(expires_at),
        "another process works on this resource; looking again when its claim expires"
    );
    ctx.store
        .defer(arn, expires_at.max(now).saturating_add(100), attempts)?;
    Ok(false)
}

async fn run_one_in_span<S: Store, C: ClientFactory>(ctx: &Context<S, C>, pending: &Pending) {
    let trigger = &pending.trigger;
    let arn = trigger.arn.as_str();
    let started = ctx.now();
    match take_claim(ctx, arn, pending.attempts) {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::error!(event = "store_error", error = %e);
            let _ = ctx.store.defer(arn, started + 5_000, pending.attempts);
            return;
        }
    }
    // Released when this function returns, and when shutdown cancels it.
    let _claim = ClaimGuard {
        store: &*ctx.store,
        arn,
        owner: &ctx.owner,
    };
    let work = async {
        match ctx
            .clients
            .sagemaker(&trigger.account, &trigger.region)
            .await
        {
            Ok(api) => reconcile(ctx, &api, trigger).await,
            Err(e) => Err(ReconcileError::AccountNotConfigured {
                arn: arn.to_string(),
                account: e.account,
            }),
        }
    };
    // The claim and the trigger's lease are renewed while the reconcile runs (it may wait
    // minutes for a status), so they can be short: a crashed process's claims lapse quickly.
    let result = tokio::select! {
        result = work => result,
        never = renew_lease(ctx, arn, pending.attempts) => match never {},
    };
    let now = ctx.now();
    let outcome = match &result {
        Ok(Next::Done) => {
            ReconcileEnded { failure: None }.emit(&ctx.metrics);
            match ctx.store.finish(arn, pending.generation) {
                Ok(true) => Ok(()),
                // A newer trigger arrived meanwhile: run again now.
                Ok(false) => ctx.store.defer(arn, now, 0),
                Err(e) => Err(e),
            }
        }
        Ok(Next::RequeueAfter(d)) => {
            ReconcileEnded { failure: None }.emit(&ctx.metrics);
            ctx.store.defer(arn, now + d.as_millis() as i64, 0)
        }
        Err(e) => {
            let (attempts, delay) = error_delay(ctx, arn, pending.attempts, started, e);
            ReconcileEnded {
                failure: Some((e, attempts, delay)),
            }
            .emit(&ctx.metrics);
            ctx.store
                .defer(arn, now + delay.as_millis() as i64, attempts)
        }
    };
    if let Err(e) = outcome {
        tracing::error!(event = "store_error", error = %e);
    }
    ctx.wake.notify_one();
}

/// The retry after a failed reconcile: (failed attempts to record, delay).
///
/// - Permanent errors wait the maximum backoff.
/// - A remediation in flight (e.g. a notebook our fix holds stopped) is looked at again after
///   one poll interval, and its failures do not grow the backoff: it is always next in line.
/// - Otherwise the backoff grows per consecutive failure, and any progress journaled during
///   this reconcile (a step done) starts the count again.
fn error_delay<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    arn: &str,
    attempts: u32,
    started: Millis,
    e: &ReconcileError,
) -> (u32, Duration) {
    if e.permanent() {
        let attempts = attempts + 1;
        return (attempts, backoff(&ctx.config, attempts, true));
    }
    if let Ok(Some(running)) = ctx.store.unfinished_for(arn) {
        let delay = ctx.config.remediation.poll_interval();
        let progressed = running
            .steps
            .iter()
            .any(|s| s.at >= started && s.phase == "done");
        return (if progressed { 0 } else { attempts }, delay);
    }
    let progressed = ctx.store.remediations(Some(arn), 1).is_ok_and(|latest| {
        latest
            .first()
            .is_some_and(|r| r.steps.iter().any(|s| s.at >= started && s.phase == "done"))
    });
    let attempts = if progressed { 1 } else { attempts + 1 };
    (attempts, backoff(&ctx.config, attempts, false))
}
