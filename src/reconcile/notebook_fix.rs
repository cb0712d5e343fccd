//! The executor of the in-place notebook fix: Describe, [`workflow::next`], journal, act;
//! until the workflow finishes, suspends, or shutdown is requested. The decisions are the pure
//! step machine's (`workflow::notebook`); this file does the I/O around them.

use serde::{Deserialize, Serialize};

use crate::telemetry::{InternalEvent, WorkflowRetry};
use crate::workflow::{self, Command, Observation, Outcome};

use super::*;

/// The journaled state of a notebook fix: the plan and where the step machine stands.
///
/// # Versions
///
/// `version` 1 is the only one so far; rows written before the field existed have none and
/// read as version 1. A later change of shape adds a version and reads the older ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct FixRecord {
    #[serde(default = "FixRecord::first_version")]
    pub version: u32,
    pub plan: NotebookPlan,
    pub state: NotebookState,
    /// On an IaC-managed notebook: the drift the fix leaves, stated in its outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,
}

impl FixRecord {
    const VERSION: u32 = 1;

    fn first_version() -> u32 {
        1
    }

    /// The journal value of `plan` at `state`.
    pub(super) fn json(
        plan: &NotebookPlan,
        state: &NotebookState,
        drift: Option<&str>,
    ) -> serde_json::Value {
        serde_json::to_value(FixRecord {
            version: Self::VERSION,
            plan: plan.clone(),
            state: state.clone(),
            drift: drift.map(str::to_string),
        })
        .unwrap_or_default()
    }

    /// Reads a journal value back; an error names what is wrong.
    pub(super) fn read(value: &serde_json::Value) -> Result<FixRecord, String> {
        read_record(value, |r: &FixRecord| r.version, Self::VERSION)
    }
}

/// Resumes a journaled notebook fix.
pub(super) async fn resume<S: Store, C: ClientFactory, A: SageMakerApi>(
    ctx: &Context<S, C>,
    api: &A,
    running: crate::store::Remediation,
) -> Result<Next, ReconcileError> {
    let FixRecord {
        plan, state, drift, ..
    } = FixRecord::read(&running.state).map_err(|message| ReconcileError::Journal {
        arn: running.resource.arn.to_string(),
        message,
    })?;
    let resource = running.resource.clone();
    ctx.step(
        running.id,
        &resource,
        Step::Resume,
        StepPhase::Observed,
        format!("resuming in phase {:?}", state.phase),
    )?;
    run(
        ctx,
        api,
        running.id,
        &resource,
        &plan,
        state,
        drift.as_deref(),
    )
    .await
}

/// The notebook fix executor: Describe, `workflow::next`, journal, act; until the workflow
/// finishes, suspends, or shutdown is requested.
pub(super) async fn run<S: Store, C: ClientFactory, A: SageMakerApi>(
    ctx: &Context<S, C>,
    api: &A,
    id: i64,
    resource: &ResourceRef,
    plan: &NotebookPlan,
    mut state: NotebookState,
    drift: Option<&str>,
) -> Result<Next, ReconcileError> {
    let arn = &resource.arn;
    let name = &resource.name;
    let limits = ctx.limits();
    let remediation = &ctx.config.remediation;
    let mut poll = remediation.poll_interval();
    let mut last_wait = String::new();
    let controls = fix_controls(plan);
    let fingerprint = plan_fingerprint(plan);
    // The notebook's settings at the last Describe, for the failure memory.
    let mut version = String::new();
    // Since when Describe keeps failing with throttling or transient errors.
    let mut describe_failing_since: Option<Millis> = None;
    let plan_json = serde_json::to_value(plan).unwrap_or_default();
    let save = |state: &NotebookState, status: RemediationStatus, outcome: Option<&str>| {
        let notices = ctx.ending_notices(
            resource,
            &controls,
            NOTEBOOK_FIX,
            false,
            &plan_json,
            status,
            outcome,
        );
        ctx.store
            .save_state(
                id,
                &FixRecord::json(plan, state, drift),
                status,
                outcome,
                ctx.now(),
                &notices,
            )
            .map_err(ctx.store_err(arn))?;
        ctx.outbox.written();
        Ok::<(), ReconcileError>(())
    };
    loop {
        if let Some(next) = ctx.paused(id, resource)? {
            return Ok(next);
        }
        let observed = match api.describe_notebook(name).await {
            Ok(n) => {
                describe_failing_since = None;
                version = retry::settings_version(&Detail::Notebook(n.clone()));
                Some(Observation {
                    status: n.status,
                    root_access: n.root_access,
                    platform: n.platform_identifier,
                })
            }
            Err(e) if e.class == ErrorClass::NotFound => None,
            // Throttled or transient while the fix waits: look again after a poll interval,
            // inside this reconcile (the SDK already retried the call), for up to a step timeout.
            Err(e)
                if e.class.is_retryable()
                    && ctx.now() - *describe_failing_since.get_or_insert(ctx.now())
                        <= limits.step_timeout_ms =>
            {
                WorkflowRetry {
                    resource_arn: arn,
                    error: &e,
                }
                .emit(&ctx.metrics);
                // On shutdown the sleep ends early; the top of the loop journals the pause.
                ctx.shutdown.sleep(remediation.poll_interval()).await;
                continue;
            }
            Err(e) => return Err(ctx.describe_failed(id, resource, e)),
        };
        let (next_state, mut command) =
            workflow::next(plan, &state, observed.as_ref(), ctx.now(), &limits);
        state = next_state;
        save(&state, RemediationStatus::Running, None)?;
        if let Some(call) = mutating(&command) {
            ctx.step(
                id,
                resource,
                call,
                StepPhase::Intent,
                describe_command(&command),
            )?;
            let result = match &command {
                Command::Stop => api.stop_notebook(name).await,
                Command::Start => api.start_notebook(name).await,
                Command::Update {
                    disable_root_access,
                    platform,
                } => {
                    api.update_notebook(name, *disable_root_access, platform.as_deref())
                        .await
                }
                _ => Ok(()),
            };
            match result {
                Ok(()) => {
                    ctx.step(
                        id,
                        resource,
                        call,
                        StepPhase::Done,
                        describe_command(&command),
                    )?;
                    if command == Command::Stop {
                        state = workflow::performed(&state, &command);
                        save(&state, RemediationStatus::Running, None)?;
                    }
                    poll = remediation.poll_interval();
                    last_wait.clear();
                    continue;
                }
                Err(e) => {
                    ctx.step(id, resource, call, StepPhase::Error, e.to_string())?;
                    let (after, then) =
                        workflow::on_error(plan, &state, &command, e.class, &e.message, ctx.now());
                    state = after;
                    save(&state, RemediationStatus::Running, None)?;
                    command = then;
                    if mutating(&command).is_some() {
                        // The workflow asks for another call (e.g. restart after a denied
                        // update): the next round re-observes first and issues it.
                        continue;
                    }
                }
            }
        }
        match command {
            Command::Wait { reason } => {
                if reason != last_wait {
                    ctx.step(id, resource, Step::Wait, StepPhase::Wait, reason.clone())?;
                    last_wait = reason;
                }
                if !ctx.shutdown.sleep(poll).await {
                    continue; // shutdown: journaled at the top of the loop
                }
                poll = (poll * 2).min(remediation.max_poll_interval());
            }
            Command::Suspend { reason } => {
                ctx.step(id, resource, Step::Suspend, StepPhase::Wait, reason)?;
                return Ok(Next::RequeueAfter(remediation.max_poll_interval()));
            }
            Command::Finish(outcome) => {
                let setback = match &outcome {
                    Outcome::Failed { reason } => Some((
                        Setback::Failed {
                            permanent: state.permanent,
                        },
                        reason.as_str(),
                    )),
                    Outcome::Interrupted { reason } => {
                        Some((Setback::Interrupted, reason.as_str()))
                    }
                    Outcome::Fixed | Outcome::AlreadyCompliant | Outcome::Gone => None,
                };
                let (status, label, text) = match &outcome {
                    Outcome::Fixed => (
                        RemediationStatus::Succeeded,
                        "fixed",
                        match drift {
                            Some(drift) => format!("fixed; {drift}"),
                            None => "fixed".to_string(),
                        },
                    ),
                    Outcome::AlreadyCompliant => (
                        RemediationStatus::Succeeded,
                        "already-compliant",
                        "already compliant".to_string(),
                    ),
                    Outcome::Gone => (
                        RemediationStatus::Succeeded,
                        "gone",
                        "resource gone".to_string(),
                    ),
                    Outcome::Failed { reason } => (
                        RemediationStatus::Failed,
                        "failed",
                        format!("failed: {reason}"),
                    ),
                    Outcome::Interrupted { reason } => {
                        (RemediationStatus::Abandoned, "interrupted", reason.clone())
                    }
                };
                ctx.step(id, resource, Step::Finish, StepPhase::Done, text.clone())?;
                save(&state, status, Some(&text))?;
                ctx.remember(
                    resource,
                    NOTEBOOK_FIX,
                    &controls,
                    &fingerprint,
                    &version,
                    id,
                    setback,
                )?;
                for c in fix_controls(plan) {
                    ctx.ended(resource, c, label);
                }
                return Ok(Next::Done);
            }
            Command::Stop | Command::Start | Command::Update { .. } => {}
        }
    }
}

fn mutating(command: &Command) -> Option<Step> {
    match command {
        Command::Stop => Some(Step::StopNotebookInstance),
        Command::Start => Some(Step::StartNotebookInstance),
        Command::Update { .. } => Some(Step::UpdateNotebookInstance),
        _ => None,
    }
}

fn describe_command(command: &Command) -> String {
    match command {
        Command::Update {
            disable_root_access,
            platform,
        } => {
            let mut parts = Vec::new();
            if *disable_root_access {
                parts.push("RootAccess=Disabled".to_string());
            }
            if let Some(p) = platform {
                parts.push(format!("PlatformIdentifier={p}"));
            }
            parts.join(" ")
        }
        _ => String::new(),
    }
}
