//! The executor of the in-place notebook fix: Describe, [`workflow::next`], journal, act;
//! until the workflow finishes, waits (the fix is requeued), suspends, or shutdown is
//! requested. The decisions are the pure step machine's (`workflow::notebook`); this file
//! does the I/O around them.

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
    /// Set while the fix waits between two reconciles (for a status, mostly): a waiting fix
    /// holds no reconcile slot and no claim, and the next reconcile, on this replica or
    /// another, continues from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
}

/// Where a fix that waits between reconciles stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Waiting {
    /// What it waits for (journaled once, as a `Wait` step).
    pub reason: String,
    /// The poll interval after the next look, in milliseconds (it doubles per look up to
    /// `remediation.max_poll_interval_secs`).
    pub next_poll_ms: u64,
    /// The replica that journaled the wait: another one that continues says so (`Resume`).
    pub owner: String,
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
        Self::json_waiting(plan, state, drift, None)
    }

    /// The journal value of `plan` at `state`, waiting as `waiting` says.
    fn json_waiting(
        plan: &NotebookPlan,
        state: &NotebookState,
        drift: Option<&str>,
        waiting: Option<Waiting>,
    ) -> serde_json::Value {
        serde_json::to_value(FixRecord {
            version: Self::VERSION,
            plan: plan.clone(),
            state: state.clone(),
            drift: drift.map(str::to_string),
            waiting,
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
        plan,
        state,
        drift,
        waiting,
        ..
    } = FixRecord::read(&running.state).map_err(|message| ReconcileError::Journal {
        arn: running.resource.arn.to_string(),
        message,
    })?;
    let resource = running.resource.clone();
    // A wait this replica left is simply continued; anything else is a resumption (after a
    // crash, a restart, or from another replica) and journaled as one.
    let resumed = match &waiting {
        Some(w) if w.owner == ctx.owner => None,
        Some(w) => Some(format!(
            "resuming in phase {:?}, taken over from {} while waiting for {}",
            state.phase, w.owner, w.reason
        )),
        None => Some(format!("resuming in phase {:?}", state.phase)),
    };
    if let Some(detail) = resumed {
        ctx.step(
            running.id,
            &resource,
            Step::Resume,
            StepPhase::Observed,
            detail,
        )?;
    }
    let fix = Fix {
        id: running.id,
        resource: &resource,
        plan: &plan,
        drift: drift.as_deref(),
    };
    run(ctx, api, &fix, state, waiting).await
}

/// One notebook fix in the journal.
pub(super) struct Fix<'a> {
    pub id: i64,
    pub resource: &'a ResourceRef,
    pub plan: &'a NotebookPlan,
    pub drift: Option<&'a str>,
}

/// The notebook fix executor: Describe, `workflow::next`, journal, act; until the workflow
/// finishes, waits (a requeue, `waiting` then says where it stands), suspends, or shutdown is
/// requested. `waiting` is the wait a previous reconcile left.
pub(super) async fn run<S: Store, C: ClientFactory, A: SageMakerApi>(
    ctx: &Context<S, C>,
    api: &A,
    fix: &Fix<'_>,
    mut state: NotebookState,
    waiting: Option<Waiting>,
) -> Result<Next, ReconcileError> {
    let Fix {
        id,
        resource,
        plan,
        drift,
    } = *fix;
    let arn = &resource.arn;
    let name = &resource.name;
    let limits = ctx.limits();
    let remediation = &ctx.config.remediation;
    let (mut poll, mut last_wait) = match waiting {
        Some(w) => (Duration::from_millis(w.next_poll_ms), w.reason),
        None => (remediation.poll_interval(), String::new()),
    };
    let controls = fix_controls(plan);
    let fingerprint = plan_fingerprint(plan);
    // The notebook's settings at the last Describe, for the failure memory.
    let mut version = String::new();
    // Since when Describe keeps failing with throttling or transient errors.
    let mut describe_failing_since: Option<Millis> = None;
    let plan_json = serde_json::to_value(plan).unwrap_or_default();
    let save_waiting = |state: &NotebookState,
                        status: RemediationStatus,
                        outcome: Option<&str>,
                        waiting: Option<Waiting>| {
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
                &FixRecord::json_waiting(plan, state, drift, waiting),
                status,
                outcome,
                ctx.now(),
                &notices,
            )
            .map_err(ctx.store_err(arn))?;
        ctx.outbox.written();
        Ok::<(), ReconcileError>(())
    };
    let save = |state: &NotebookState, status: RemediationStatus, outcome: Option<&str>| {
        save_waiting(state, status, outcome, None)
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
                }
                // The wait is a requeue: the journal says where the fix stands, and this
                // reconcile gives its slot and its claim back until the next look (or until an
                // event about the notebook, which brings the look forward).
                let waiting = Waiting {
                    reason,
                    next_poll_ms: (poll * 2).min(remediation.max_poll_interval()).as_millis()
                        as u64,
                    owner: ctx.owner.clone(),
                };
                save_waiting(&state, RemediationStatus::Running, None, Some(waiting))?;
                return Ok(Next::RequeueAfter(poll));
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
