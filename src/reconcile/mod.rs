//! The reconciler: for one resource at a time, a fresh Describe, the eight controls, the
//! policy's decision, then the remediation, journaled step by step.
//!
//! - this module: the [`reconcile`] contract (a trigger in, a [`Next`] out), the
//!   [`Context`] every reconcile works in, the decision's execution and the dry run;
//! - [`notebook_fix`]: the executor of the stop/update/start notebook fix;
//! - [`tag_fix`]: the executor of the SageMaker.6/.7 tag fix;
//! - [`endpoint_fix`]: the SageMaker.4 blue/green endpoint config replacement;
//! - [`flag`]: flags and recreation plans;
//! - [`scheduler`]: due triggers, the in-flight set, claims and leases, backoff, shutdown;
//! - [`sweep`]: the periodic full sweep that turns failing resources into triggers.
//!
//! The context is generic over the store and over a [`ClientFactory`], so unit tests drive the
//! reconciler and the scheduler with a fake SageMaker and a paused clock.
//!
//! # Guarantees
//! - Decisions come from a fresh Describe, never from an event: `reconcile` is idempotent, and
//!   a trigger says only which resource to look at.
//! - Every mutating call is journaled before (`intent`) and after (`done` or `error`), and the
//!   workflow's state is saved before the call, so a crash anywhere resumes from the journal
//!   with a fresh Describe and never repeats a call that took effect.
//! - In dry-run (audit mode, or an account not opted in) no mutating API is called.
//! - Shutdown is honoured between steps: a reconcile stops at its next wait, leaving its
//!   remediation `running` in the journal for the next start to resume.

mod approval;
pub mod endpoint_fix;
mod flag;
pub mod hub;
pub mod limits;
mod notebook_fix;
pub mod scheduler;
mod suppress;
pub mod sweep;
mod tag_fix;
#[cfg(test)]
mod tests;
pub mod waits;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;

use crate::aws::{AwsError, ClientFactory, Clients, ErrorClass, SageMakerApi};
use crate::clock::Clock;
use crate::config::Config;
use crate::controls;
use crate::events::Trigger;
use crate::metrics::Metrics;
use crate::model::{
    ControlId, Detail, NotebookPlan, ResourceRef, ResourceType, Snapshot, Status, Tag,
};
use crate::notify::{DetailType, Outbox, Outcome};
use crate::policy::retry::{self, Held, Setback};
use crate::policy::{self, Decision};
use crate::shutdown::Shutdown;
use crate::store::{
    Failure, Millis, NewRemediation, Notice, RemediationKind, RemediationStatus, Step, StepPhase,
    StepRecord, Store, StoreError,
};
use crate::telemetry::{Evaluated, InternalEvent, RemediationEnded, RemediationHeld};
use crate::workflow::{Limits, NotebookState};

pub use crate::clock::now_ms;
pub use flag::recreation_plan;
pub use scheduler::run_scheduler;
pub use sweep::{sweep_once, sweep_triggers, SweepOutcome};

/// What the scheduler does with a resource after a reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nothing more to do until the next trigger.
    Done,
    /// Look again after this long (a suspended remediation, shutdown mid-way).
    RequeueAfter(Duration),
}

/// Why a reconcile failed; the scheduler backs off and retries the resource.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("{arn}: {source}")]
    Aws {
        arn: String,
        #[source]
        source: AwsError,
    },
    #[error("{arn}: {source}")]
    Store {
        arn: String,
        #[source]
        source: StoreError,
    },
    #[error("{arn}: account {account} is not configured (add it to [[accounts]])")]
    AccountNotConfigured { arn: String, account: String },
    #[error("{arn}: corrupt journal state: {message}")]
    Journal { arn: String, message: String },
}

impl ReconcileError {
    /// Errors that retrying cannot cure get a long backoff instead of a short one.
    pub fn permanent(&self) -> bool {
        match self {
            ReconcileError::Aws { source, .. } => source.class.is_permanent(),
            ReconcileError::AccountNotConfigured { .. } | ReconcileError::Journal { .. } => true,
            ReconcileError::Store { .. } => false,
        }
    }
}

/// Called with each journaled step as it happens (the demo prints them).
pub type StepObserver = Arc<dyn Fn(&ResourceRef, &StepRecord) + Send + Sync>;

/// Everything a reconcile needs.
pub struct Context<S: Store, C: ClientFactory = Clients> {
    pub store: Arc<S>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub clients: C,
    /// Where "now" comes from (the system clock; tokio's in tests with paused time).
    pub clock: Clock,
    /// This replica's name in resource claims.
    pub owner: String,
    pub shutdown: Shutdown,
    pub observer: Option<StepObserver>,
    /// Woken when new triggers are in the store.
    pub wake: Arc<Notify>,
    /// The outbox channels that are on (the event bus, Security Hub write-back), with the
    /// handles that wake their senders after a notice was committed.
    pub outbox: Outbox,
    /// Security Hub's control parameters per account and region (`controls.from_security_hub`).
    pub hub: hub::HubCache,
    /// The Terraform addresses of `iac.terraform_states`, for the plans' Terraform forms.
    pub terraform: crate::terraform::Addresses,
    /// When the last full sweep started (`daemon.full_sweep_interval_secs`); `None` before it.
    pub full_sweep: std::sync::Mutex<Option<Millis>>,
    /// Held from a notebook fix's start check (windows, limits, notice) until its journal entry
    /// exists, so two fixes starting at once cannot both pass the blast-radius limits.
    pub starts: tokio::sync::Mutex<()>,
}

impl<S: Store, C: ClientFactory> Context<S, C> {
    /// Now, from the context's clock.
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    fn store_err(&self, arn: &str) -> impl Fn(StoreError) -> ReconcileError + '_ {
        let arn = arn.to_string();
        move |source| ReconcileError::Store {
            arn: arn.clone(),
            source,
        }
    }

    /// Whether the failure memory holds back a remediation of `kind` with `plan` (its
    /// fingerprint) on `resource`, whose settings are now `version`.
    fn held(
        &self,
        resource: &ResourceRef,
        kind: RemediationKind,
        plan: &str,
        version: &str,
    ) -> Result<Option<Held>, ReconcileError> {
        let Some(failure) = self
            .store
            .failure(&resource.arn, kind)
            .map_err(self.store_err(&resource.arn))?
        else {
            return Ok(None);
        };
        let held = retry::held(&failure, plan, version, self.now());
        if let Some(h) = &held {
            let until = h
                .until
                .map(crate::journal::time)
                .unwrap_or_else(|| "a change".into());
            RemediationHeld {
                resource_arn: &resource.arn,
                kind: kind.as_str(),
                reason: h.reason,
                failures: failure.failures,
                until: &until,
                last_failure: &failure.reason,
            }
            .emit(&self.metrics);
        }
        Ok(held)
    }

    /// Records how a remediation ended in the failure memory: a success forgets, a setback is
    /// remembered with what it holds back.
    #[allow(clippy::too_many_arguments)]
    fn remember(
        &self,
        resource: &ResourceRef,
        kind: RemediationKind,
        controls: &[ControlId],
        plan: &str,
        version: &str,
        id: i64,
        setback: Option<(Setback, &str)>,
    ) -> Result<(), ReconcileError> {
        let arn = &resource.arn;
        let Some((setback, reason)) = setback else {
            return self
                .store
                .clear_failure(arn, kind)
                .map_err(self.store_err(arn));
        };
        let previous = self.store.failure(arn, kind).map_err(self.store_err(arn))?;
        let now = self.now();
        let (failures, hold) = retry::after(
            previous.as_ref(),
            plan,
            setback,
            now,
            &self.config.remediation.retry_policy(),
        );
        let failure = Failure {
            resource: resource.clone(),
            kind,
            controls: controls.to_vec(),
            plan: plan.to_string(),
            version: version.to_string(),
            failures,
            hold,
            reason: reason.to_string(),
            remediation_id: id,
            at: now,
        };
        self.store
            .save_failure(&failure)
            .map_err(self.store_err(arn))?;
        tracing::warn!(
            event = "remediation_setback",
            resource_arn = %arn,
            kind = kind.as_str(),
            failures,
            hold = %crate::journal::describe_hold(&hold),
            reason,
        );
        Ok(())
    }

    /// Counts (and logs at debug) how a remediation of one control ended.
    fn ended(&self, resource: &ResourceRef, control: ControlId, outcome: &str) {
        RemediationEnded {
            resource_arn: &resource.arn,
            control,
            outcome,
        }
        .emit(&self.metrics);
    }

    fn limits(&self) -> Limits {
        Limits {
            step_timeout_ms: self.config.remediation.step_timeout().as_millis() as i64,
            max_update_attempts: self.config.remediation.max_update_attempts,
            max_start_attempts: 3,
            max_stop_attempts: 3,
        }
    }

    /// Starts a journal entry for `resource`; an enforced one is announced as planned (a dry
    /// run is announced when its record is complete, see [`Context::ending_notices`]).
    fn begin(
        &self,
        resource: &ResourceRef,
        controls: &[ControlId],
        kind: RemediationKind,
        dry_run: bool,
        state: &serde_json::Value,
    ) -> Result<i64, ReconcileError> {
        let notices = match dry_run {
            true => Vec::new(),
            false => self.outbox.notices(&Outcome {
                detail_type: DetailType::Planned,
                resource,
                controls,
                dry_run,
                kind: Some(kind),
                plan: Some(&plan_with_code(resource, kind, state, &self.terraform)),
                reason: None,
                scheduled_for: None,
                at: self.now(),
            }),
        };
        let id = self
            .store
            .begin(&NewRemediation {
                resource: resource.clone(),
                controls: controls.to_vec(),
                kind,
                dry_run,
                state: state.clone(),
                at: self.now(),
                notices,
            })
            .map_err(self.store_err(&resource.arn))?;
        self.outbox.written();
        Ok(id)
    }

    /// The notices of a remediation ending with `status`: a dry run's record is what would be
    /// done (`Remediation Planned`), an enforced one `Succeeded` or `Failed`; nothing for a
    /// running or abandoned one.
    #[allow(clippy::too_many_arguments)]
    fn ending_notices(
        &self,
        resource: &ResourceRef,
        controls: &[ControlId],
        kind: RemediationKind,
        dry_run: bool,
        plan: &serde_json::Value,
        status: RemediationStatus,
        outcome: Option<&str>,
    ) -> Vec<Notice> {
        let detail_type = match status {
            RemediationStatus::Succeeded if dry_run => DetailType::Planned,
            RemediationStatus::Succeeded => DetailType::Succeeded,
            RemediationStatus::Failed => DetailType::Failed,
            RemediationStatus::Running | RemediationStatus::Abandoned => return Vec::new(),
        };
        self.outbox.notices(&Outcome {
            detail_type,
            resource,
            controls,
            dry_run,
            kind: Some(kind),
            plan: Some(&plan_with_code(resource, kind, plan, &self.terraform)),
            reason: outcome,
            scheduled_for: None,
            at: self.now(),
        })
    }

    /// On shutdown, journals the pause of remediation `id` and says to requeue at once (the
    /// next start resumes it); `None` while the daemon runs on.
    fn paused(&self, id: i64, resource: &ResourceRef) -> Result<Option<Next>, ReconcileError> {
        if !self.shutdown.is_requested() {
            return Ok(None);
        }
        self.step(
            id,
            resource,
            Step::Pause,
            StepPhase::Wait,
            "shutdown requested; the next start resumes here".into(),
        )?;
        Ok(Some(Next::RequeueAfter(Duration::ZERO)))
    }

    /// Journals that a Describe inside remediation `id` failed in a way the remediation cannot
    /// wait out; the error to return (the remediation stays running, to be resumed).
    fn describe_failed(&self, id: i64, resource: &ResourceRef, e: AwsError) -> ReconcileError {
        match self.step(
            id,
            resource,
            Step::Describe,
            StepPhase::Error,
            e.to_string(),
        ) {
            Ok(()) => aws_err(&resource.arn)(e),
            Err(journal) => journal,
        }
    }

    fn step(
        &self,
        id: i64,
        resource: &ResourceRef,
        step: Step,
        phase: StepPhase,
        detail: String,
    ) -> Result<(), ReconcileError> {
        let record = StepRecord {
            at: self.now(),
            step,
            phase,
            detail,
        };
        tracing::info!(
            event = "remediation_step",
            account = %resource.account,
            resource_arn = %resource.arn,
            step = %record.step,
            phase = %record.phase,
            detail = %record.detail,
        );
        if let Some(observer) = &self.observer {
            observer(resource, &record);
        }
        // The intent before a mutating call is written only while no other replica holds the
        // resource: one whose claim lapsed cannot make the call.
        match record.phase {
            StepPhase::Intent => {
                self.store
                    .append_intent(id, &record, resource.arn.as_str(), &self.owner, record.at)
            }
            _ => self.store.append_step(id, &record),
        }
        .map_err(self.store_err(&resource.arn))?;
        crash_point(record.step.as_str(), record.phase.as_str());
        Ok(())
    }
}

/// The environment variable naming a journal point (`STEP:PHASE`, e.g.
/// `StopNotebookInstance:intent`) at which the process aborts, as a crash would: the crash
/// tests use it to stop the daemon exactly at each step boundary. Only in builds with the
/// `failpoints` feature.
#[cfg(feature = "failpoints")]
pub const CRASH_POINT_VAR: &str = "SAGEMAKER_REMEDIATOR_CRASH_POINT";

/// Without the `failpoints` feature there are no crash points.
#[cfg(not(feature = "failpoints"))]
pub(crate) fn crash_point(_step: &str, _phase: &str) {}

#[cfg(feature = "failpoints")]
pub(crate) fn crash_point(step: &str, phase: &str) {
    static POINT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let point = POINT.get_or_init(|| std::env::var(CRASH_POINT_VAR).ok());
    if let Some(point) = point {
        if point.split_once(':') == Some((step, phase)) {
            eprintln!("crash point {point} reached: aborting");
            std::process::abort();
        }
    }
}

/// Reads a journaled record back, refusing one written by a newer release (`version` of it
/// above `reads_up_to`); an error names what is wrong.
fn read_record<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
    version: impl Fn(&T) -> u32,
    reads_up_to: u32,
) -> Result<T, String> {
    let record: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    let written = version(&record);
    if written > reads_up_to {
        return Err(format!(
            "written by a newer release (state version {written}, this one reads up to {reads_up_to})"
        ));
    }
    Ok(record)
}

/// The error of an AWS call on `arn`.
/// The plan a notification carries for a remediation with journal `state`: the plan (a dry
/// run's or a notebook fix's record holds it under `plan`), with the change as code under
/// `code` (`{ "cli", "terraform", "cloudformation" }`) where it has a code form, the Terraform
/// naming the resource's address when a state names it.
fn plan_with_code(
    resource: &ResourceRef,
    kind: RemediationKind,
    state: &serde_json::Value,
    addresses: &crate::terraform::Addresses,
) -> serde_json::Value {
    let mut plan = state.get("plan").unwrap_or(state).clone();
    if let (Some(mut code), Some(object)) = (
        crate::render::fix(resource, kind, state),
        plan.as_object_mut(),
    ) {
        addresses.apply(&resource.arn, &mut code);
        object.insert("code".to_string(), code);
    }
    plan
}

fn aws_err(arn: &str) -> impl Fn(AwsError) -> ReconcileError + Copy + '_ {
    move |source| ReconcileError::Aws {
        arn: arn.to_string(),
        source,
    }
}

/// Reconciles one resource named by `trigger`.
pub async fn reconcile<S: Store, C: ClientFactory, A: SageMakerApi>(
    ctx: &Context<S, C>,
    api: &A,
    trigger: &Trigger,
) -> Result<Next, ReconcileError> {
    let arn = trigger.arn.as_str();
    let aws_err = aws_err(arn);
    // A remediation left running (crash, redeploy, suspension) is finished first.
    if let Some(running) = ctx.store.unfinished_for(arn).map_err(ctx.store_err(arn))? {
        if running.kind == NOTEBOOK_FIX {
            return notebook_fix::resume(ctx, api, running).await;
        }
        if running.kind == RemediationKind::EndpointReplace {
            return endpoint_fix::resume(ctx, api, running).await;
        }
        // Other kinds are single calls: their result is re-checked from scratch below.
        ctx.store
            .save_state(
                running.id,
                &running.state,
                RemediationStatus::Abandoned,
                Some("superseded by a fresh evaluation after a restart"),
                ctx.now(),
                &[],
            )
            .map_err(ctx.store_err(arn))?;
    }

    let Some(name) = resolve_name(api, trigger).await.map_err(aws_err)? else {
        tracing::info!(event = "resource_gone", resource_arn = %arn, "nothing to reconcile");
        return Ok(Next::Done);
    };
    let resource = ResourceRef {
        account: trigger.account.clone(),
        region: trigger.region.clone(),
        resource_type: trigger.resource_type,
        name,
        arn: arn.into(),
    };
    let Some(snapshot) = snapshot(api, &resource).await.map_err(aws_err)? else {
        return Ok(Next::Done);
    };
    // Security Hub's parameters judge images and app image configs only (SageMaker.6/.7).
    let hub_params = match resource.resource_type {
        ResourceType::Image | ResourceType::AppImageConfig => {
            hub::parameters(ctx, api, &resource.account, &resource.region).await
        }
        _ => Default::default(),
    };
    let evaluations =
        crate::audit::evaluate_with(&snapshot, &ctx.config.control_params(), &hub_params);
    for e in &evaluations {
        Evaluated {
            control: e.control,
            status: e.status,
        }
        .emit(&ctx.metrics);
    }
    let failed: Vec<ControlId> = evaluations
        .iter()
        .filter(|e| e.status == Status::Failed)
        .map(|e| e.control)
        .collect();
    if failed.is_empty() {
        waits::settled(ctx, &resource)?;
        return Ok(Next::Done);
    }
    let tags = match &snapshot.detail {
        Detail::Image(i) => i.tags.clone(),
        Detail::AppImageConfig(c) => c.tags.clone(),
        _ => api.list_tags(arn).await.map_err(aws_err)?,
    };
    let judged_with = hub::config_for(&ctx.config, resource.resource_type, &hub_params);
    let mut decision = policy::decide(&resource, &evaluations, &tags, &judged_with);
    if let Detail::Notebook(n) = &snapshot.detail {
        policy::platform::guard(&mut decision, n.platform_identifier.as_deref());
    }
    let now = ctx.now();
    let exempted = policy::exemptions::apply(&mut decision, &failed, &ctx.config, now);
    for c in &exempted {
        ctx.ended(&resource, *c, "exempt");
    }
    suppress::configured(ctx, &resource, &exempted, decision.dry_run, now)?;
    act(ctx, api, &snapshot, &failed, &tags, decision).await
}

/// Carries out a decision.
async fn act<S: Store, C: ClientFactory, A: SageMakerApi>(
    ctx: &Context<S, C>,
    api: &A,
    snapshot: &Snapshot,
    failed: &[ControlId],
    tags: &[Tag],
    decision: Decision,
) -> Result<Next, ReconcileError> {
    let resource = &snapshot.resource;
    if decision.exempt {
        tracing::info!(event = "resource_exempt", resource_arn = %resource.arn, "exemption tag present");
        for c in failed {
            ctx.ended(resource, *c, "exempt");
        }
        suppress::tagged(ctx, resource, failed, decision.dry_run, tags)?;
        return Ok(Next::Done);
    }
    for c in &decision.ignored {
        ctx.ended(resource, *c, "ignored");
    }
    if !decision.flag.is_empty() {
        flag::flag(ctx, api, snapshot, tags, &decision).await?;
    }
    if !decision.add_tags.is_empty() {
        tag_fix::add_tags(ctx, api, resource, &decision).await?;
    }
    if decision.replace {
        return endpoint_fix::replace(ctx, api, snapshot, tags, &decision).await;
    }
    if decision.fix.is_none() {
        waits::settled(ctx, resource)?;
    }
    if let Some(plan) = &decision.fix {
        let controls = fix_controls(plan);
        let needs_approval = controls.iter().any(|c| decision.approve.contains(c));
        if decision.dry_run {
            let mut record = json!({ "plan": plan });
            if needs_approval {
                record["approval"] = json!("would be asked for before the fix");
            }
            record_dry_run(ctx, resource, NOTEBOOK_FIX, &controls, record)?;
        } else {
            let fingerprint = plan_fingerprint(plan);
            let version = retry::settings_version(&snapshot.detail);
            if let Some(held) = ctx.held(resource, NOTEBOOK_FIX, &fingerprint, &version)? {
                return Ok(held_action(&held, ctx.now()));
            }
            let plan_json = serde_json::to_value(plan).unwrap_or_default();
            let approved = match needs_approval {
                false => None,
                true => match approval::gate(ctx, resource, NOTEBOOK_FIX, &controls, &plan_json)? {
                    approval::Gate::Wait => return Ok(Next::Done),
                    approval::Gate::Go(a) => Some(a),
                },
            };
            let starting = ctx.starts.lock().await;
            if let Some(start) =
                waits::before_start(ctx, api, snapshot, tags, &controls, &plan_json).await?
            {
                return Ok(Next::RequeueAfter(Duration::from_millis(
                    u64::try_from(start.saturating_sub(ctx.now())).unwrap_or(0),
                )));
            }
            let state = NotebookState::new(ctx.now());
            let drift = decision
                .iac
                .as_ref()
                .map(|owner| owner.drift(&controls, &ctx.config));
            let state_json = notebook_fix::FixRecord::json(plan, &state, drift.as_deref());
            let id = ctx.begin(resource, &controls, NOTEBOOK_FIX, false, &state_json)?;
            drop(starting);
            if let Some(a) = &approved {
                approval::bind(ctx, id, resource, a)?;
            }
            if let Some(drift) = &drift {
                ctx.step(id, resource, Step::Plan, StepPhase::Observed, drift.clone())?;
            }
            let fix = notebook_fix::Fix {
                id,
                resource,
                plan,
                drift: drift.as_deref(),
            };
            return notebook_fix::run(ctx, api, &fix, state, None).await;
        }
    }
    Ok(Next::Done)
}

/// The journal kind of the in-place notebook fix.
const NOTEBOOK_FIX: RemediationKind = RemediationKind::NotebookFix;
/// The journal kind of the tag fix.
const TAG_FIX: RemediationKind = RemediationKind::Tags;

/// A plan's fingerprint in the failure memory: its canonical JSON.
fn plan_fingerprint(plan: &impl serde::Serialize) -> String {
    serde_json::to_string(plan).unwrap_or_default()
}

/// What the scheduler does with a held remediation: look again when it is due, or wait for a
/// change (a trigger or a sweep brings the resource back).
fn held_action(held: &Held, now: Millis) -> Next {
    match held.until {
        Some(until) => Next::RequeueAfter(Duration::from_millis(
            u64::try_from(until.saturating_sub(now)).unwrap_or(0),
        )),
        None => Next::Done,
    }
}

fn fix_controls(plan: &NotebookPlan) -> Vec<ControlId> {
    let mut controls = Vec::new();
    if plan.disable_root_access {
        controls.push(ControlId::SageMaker3);
    }
    if plan.platform.is_some() {
        controls.push(ControlId::SageMaker8);
    }
    controls
}

/// Records what enforce mode would do, once per distinct plan (not on every sweep).
fn record_dry_run<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    resource: &ResourceRef,
    kind: RemediationKind,
    controls: &[ControlId],
    plan: serde_json::Value,
) -> Result<(), ReconcileError> {
    let latest = ctx
        .store
        .remediations(Some(&resource.arn), 1)
        .map_err(ctx.store_err(&resource.arn))?;
    if latest
        .first()
        .is_some_and(|r| r.dry_run && r.kind == kind && r.state == plan)
    {
        return Ok(());
    }
    let id = ctx.begin(resource, controls, kind, true, &plan)?;
    ctx.step(
        id,
        resource,
        Step::Plan,
        StepPhase::DryRun,
        format!("would {kind}: {plan}"),
    )?;
    let status = RemediationStatus::Succeeded;
    let notices = ctx.ending_notices(
        resource,
        controls,
        kind,
        true,
        &plan,
        status,
        Some("dry-run"),
    );
    ctx.store
        .save_state(id, &plan, status, Some("dry-run"), ctx.now(), &notices)
        .map_err(ctx.store_err(&resource.arn))?;
    ctx.outbox.written();
    for c in controls {
        ctx.ended(resource, *c, "dry-run");
    }
    Ok(())
}

/// The resource's name as the API spells it. Notebook, model and endpoint config ARNs
/// lowercase the name, so without a name from the event the ARN is matched in a List.
/// `None`: the resource does not exist (any more).
async fn resolve_name<A: SageMakerApi>(
    api: &A,
    trigger: &Trigger,
) -> Result<Option<String>, AwsError> {
    if let Some(name) = &trigger.name {
        return Ok(Some(name.clone()));
    }
    let after_slash = || trigger.arn.rsplit_once('/').map(|(_, n)| n.to_string());
    let listed = match trigger.resource_type {
        ResourceType::Image | ResourceType::AppImageConfig => return Ok(after_slash()),
        ResourceType::NotebookInstance => api.list_notebooks().await?,
        ResourceType::Model => api.list_models().await?,
        ResourceType::EndpointConfig => api.list_endpoint_configs().await?,
    };
    Ok(listed
        .into_iter()
        .find(|l| l.arn.eq_ignore_ascii_case(&trigger.arn))
        .map(|l| l.name))
}

/// A fresh snapshot of one resource; `None` when it does not exist.
pub async fn snapshot<A: SageMakerApi>(
    api: &A,
    resource: &ResourceRef,
) -> Result<Option<Snapshot>, AwsError> {
    let name = resource.name.as_str();
    let detail = match resource.resource_type {
        ResourceType::NotebookInstance => api.describe_notebook(name).await.map(Detail::Notebook),
        ResourceType::EndpointConfig => api
            .describe_endpoint_config(name)
            .await
            .map(Detail::EndpointConfig),
        ResourceType::Model => api.describe_model(name).await.map(Detail::Model),
        ResourceType::Image => match api.list_images().await {
            Ok(images) => match images.into_iter().find(|(l, _)| l.arn == resource.arn) {
                Some((_, mut image)) => api.list_tags(&resource.arn).await.map(|tags| {
                    image.tags = tags;
                    Detail::Image(image)
                }),
                None => return Ok(None),
            },
            Err(e) => Err(e),
        },
        ResourceType::AppImageConfig => api
            .list_tags(&resource.arn)
            .await
            .map(|tags| Detail::AppImageConfig(crate::model::AppImageConfig { tags })),
    };
    match detail {
        Ok(detail) => Ok(Some(Snapshot {
            resource: resource.clone(),
            detail,
        })),
        Err(e) if e.class == ErrorClass::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Backoff after `attempts` consecutive failures of one resource.
pub fn backoff(config: &Config, attempts: u32, permanent: bool) -> Duration {
    let max = config.daemon.max_error_backoff();
    if permanent {
        return max;
    }
    let base = config.daemon.error_backoff();
    base.saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(16)))
        .min(max)
}
