//! The reconciler: for one resource at a time, a fresh Describe, the eight controls, the
//! policy's decision, then the remediation, journaled step by step; plus the scheduler that
//! takes due triggers from the store, never runs two reconciles of one resource at once, backs
//! off per resource on errors, and sweeps periodically.
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

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::json;
use tokio::sync::{Notify, Semaphore};
use tracing::Instrument;

use crate::audit::{self, Progress, Target};
use crate::aws::{
    self, AwsError, CallStack, ErrorClass, SageMakerApi, SdkSageMaker, StackSettings,
};
use crate::claims::{self, ClaimGuard};
use crate::config::Config;
use crate::controls;
use crate::events::{self, Family, Trigger};
use crate::metrics::Metrics;
use crate::model::{
    ControlId, Detail, Evaluation, NotebookPlan, ResourceRef, ResourceType, Snapshot, Status, Tag,
};
use crate::policy::retry::{self, Held, Setback};
use crate::policy::{self, Decision};
use crate::shutdown::Shutdown;
use crate::store::{
    Failure, Flag, Millis, NewRemediation, Pending, RemediationStatus, StepRecord, Store,
    StoreError,
};
use crate::workflow::{self, Command, Limits, NotebookState, Observation, Outcome};

/// What the scheduler does with a resource after a reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
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

/// SageMaker clients per (account, region), each behind its own call stack.
pub struct Clients {
    base: SdkConfig,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    cache: tokio::sync::Mutex<HashMap<(String, String), SdkSageMaker>>,
}

impl Clients {
    pub fn new(base: SdkConfig, config: Arc<Config>, metrics: Arc<Metrics>) -> Clients {
        Clients {
            base,
            config,
            metrics,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The client for `account` in `region`: the account's role when configured, the base
    /// credentials when no accounts are configured at all (the caller's own account).
    pub async fn sagemaker(
        &self,
        arn: &str,
        account: &str,
        region: &str,
    ) -> Result<SdkSageMaker, ReconcileError> {
        let key = (account.to_string(), region.to_string());
        let mut cache = self.cache.lock().await;
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let account_config = match self.config.accounts.iter().find(|a| a.id == account) {
            Some(a) => a.clone(),
            None if self.config.accounts.is_empty() => crate::config::AccountConfig {
                id: account.to_string(),
                ..Default::default()
            },
            None => {
                return Err(ReconcileError::AccountNotConfigured {
                    arn: arn.to_string(),
                    account: account.to_string(),
                })
            }
        };
        let sdk = aws::account_config(&self.base, &account_config, region).await;
        let stack = CallStack::new(stack_settings(&self.config)).with_metrics(self.metrics.clone());
        let client = SdkSageMaker::new(&sdk, stack);
        cache.insert(key, client.clone());
        Ok(client)
    }
}

/// The daemon's call stack settings from `[aws]`.
pub fn stack_settings(config: &Config) -> StackSettings {
    StackSettings {
        requests_per_second: Some(config.aws.requests_per_second),
        call_timeout: config.aws.call_timeout(),
        faults: None,
    }
}

/// Everything a reconcile needs.
pub struct Context<S: Store> {
    pub store: Arc<S>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub clients: Clients,
    /// This replica's name in resource claims.
    pub owner: String,
    pub shutdown: Shutdown,
    pub observer: Option<StepObserver>,
    /// Woken when new triggers are in the store.
    pub wake: Arc<Notify>,
}

pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl<S: Store> Context<S> {
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
        kind: &str,
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
        let held = retry::held(&failure, plan, version, now_ms());
        if let Some(h) = &held {
            self.metrics
                .inc("smr_remediations_held_total", &[("reason", h.reason)]);
            tracing::debug!(
                event = "remediation_held",
                resource_arn = %resource.arn,
                kind,
                reason = h.reason,
                failures = failure.failures,
                until = h.until.map(crate::journal::time).unwrap_or_else(|| "a change".into()),
                last_failure = %failure.reason,
            );
        }
        Ok(held)
    }

    /// Records how a remediation ended in the failure memory: a success forgets, a setback is
    /// remembered with what it holds back.
    #[allow(clippy::too_many_arguments)]
    fn remember(
        &self,
        resource: &ResourceRef,
        kind: &str,
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
        let now = now_ms();
        let (failures, hold) = retry::after(
            previous.as_ref(),
            plan,
            setback,
            now,
            &self.config.remediation.retry_policy(),
        );
        let failure = Failure {
            arn: arn.clone(),
            account: resource.account.clone(),
            region: resource.region.clone(),
            resource_type: resource.resource_type,
            name: resource.name.clone(),
            kind: kind.to_string(),
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
            kind,
            failures,
            hold = %crate::journal::describe_hold(&hold),
            reason,
        );
        Ok(())
    }

    fn limits(&self) -> Limits {
        Limits {
            step_timeout_ms: self.config.remediation.step_timeout().as_millis() as i64,
            max_update_attempts: self.config.remediation.max_update_attempts,
            max_start_attempts: 3,
            max_stop_attempts: 3,
        }
    }

    /// Starts a journal entry for `resource`.
    fn begin(
        &self,
        resource: &ResourceRef,
        controls: &[ControlId],
        kind: &str,
        dry_run: bool,
        state: &serde_json::Value,
    ) -> Result<i64, ReconcileError> {
        self.store
            .begin(&NewRemediation {
                arn: resource.arn.clone(),
                account: resource.account.clone(),
                region: resource.region.clone(),
                resource_type: resource.resource_type,
                name: resource.name.clone(),
                controls: controls.to_vec(),
                kind: kind.to_string(),
                dry_run,
                state: state.clone(),
                at: now_ms(),
            })
            .map_err(self.store_err(&resource.arn))
    }

    fn step(
        &self,
        id: i64,
        resource: &ResourceRef,
        step: &str,
        phase: &str,
        detail: String,
    ) -> Result<(), ReconcileError> {
        let record = StepRecord {
            at: now_ms(),
            step: step.to_string(),
            phase: phase.to_string(),
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
        self.store
            .append_step(id, &record)
            .map_err(self.store_err(&resource.arn))?;
        crash_point(&record.step, &record.phase);
        Ok(())
    }
}

/// The environment variable naming a journal point (`STEP:PHASE`, e.g.
/// `StopNotebookInstance:intent`) at which the process aborts, as a crash would: the crash
/// tests use it to stop the daemon exactly at each step boundary.
pub const CRASH_POINT_VAR: &str = "SAGEMAKER_REMEDIATOR_CRASH_POINT";

fn crash_point(step: &str, phase: &str) {
    static POINT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let point = POINT.get_or_init(|| std::env::var(CRASH_POINT_VAR).ok());
    if let Some(point) = point {
        if point.split_once(':') == Some((step, phase)) {
            eprintln!("crash point {point} reached: aborting");
            std::process::abort();
        }
    }
}

/// Reconciles one resource named by `trigger`.
pub async fn reconcile<S: Store, A: SageMakerApi>(
    ctx: &Context<S>,
    api: &A,
    trigger: &Trigger,
) -> Result<Action, ReconcileError> {
    let arn = trigger.arn.as_str();
    let aws_err = |source: AwsError| ReconcileError::Aws {
        arn: arn.to_string(),
        source,
    };
    // A remediation left running (crash, redeploy, suspension) is finished first.
    if let Some(running) = ctx.store.unfinished_for(arn).map_err(ctx.store_err(arn))? {
        if running.kind == NOTEBOOK_FIX {
            return resume_notebook_fix(ctx, api, running).await;
        }
        // Other kinds are single calls: their result is re-checked from scratch below.
        ctx.store
            .save_state(
                running.id,
                &running.state,
                RemediationStatus::Abandoned,
                Some("superseded by a fresh evaluation after a restart"),
                now_ms(),
            )
            .map_err(ctx.store_err(arn))?;
    }

    let Some(name) = resolve_name(api, trigger).await.map_err(aws_err)? else {
        tracing::info!(event = "resource_gone", resource_arn = %arn, "nothing to reconcile");
        return Ok(Action::Done);
    };
    let resource = ResourceRef {
        account: trigger.account.clone(),
        region: trigger.region.clone(),
        resource_type: trigger.resource_type,
        name,
        arn: arn.to_string(),
    };
    let Some(snapshot) = snapshot(api, &resource).await.map_err(aws_err)? else {
        return Ok(Action::Done);
    };
    let params = ctx.config.control_params();
    let evaluations = controls::evaluate(&snapshot, &params);
    for e in &evaluations {
        ctx.metrics.inc(
            "smr_evaluations_total",
            &[
                ("control", e.control.as_str()),
                ("status", e.status.as_str()),
            ],
        );
    }
    if !evaluations.iter().any(|e| e.status == Status::Failed) {
        return Ok(Action::Done);
    }
    let tags = match &snapshot.detail {
        Detail::Image(i) => i.tags.clone(),
        Detail::AppImageConfig(c) => c.tags.clone(),
        _ => api.list_tags(arn).await.map_err(aws_err)?,
    };
    let decision = policy::decide(&resource, &evaluations, &tags, &ctx.config);
    act(ctx, api, &snapshot, &evaluations, &tags, decision).await
}

/// Carries out a decision.
async fn act<S: Store, A: SageMakerApi>(
    ctx: &Context<S>,
    api: &A,
    snapshot: &Snapshot,
    evaluations: &[Evaluation],
    tags: &[Tag],
    decision: Decision,
) -> Result<Action, ReconcileError> {
    let resource = &snapshot.resource;
    let failed: Vec<ControlId> = evaluations
        .iter()
        .filter(|e| e.status == Status::Failed)
        .map(|e| e.control)
        .collect();
    if decision.exempt {
        tracing::info!(event = "resource_exempt", resource_arn = %resource.arn, "exemption tag present");
        for c in &failed {
            ctx.metrics.inc(
                "smr_remediations_total",
                &[("control", c.as_str()), ("outcome", "exempt")],
            );
        }
        return Ok(Action::Done);
    }
    for c in &decision.ignored {
        ctx.metrics.inc(
            "smr_remediations_total",
            &[("control", c.as_str()), ("outcome", "ignored")],
        );
    }
    if !decision.flag.is_empty() {
        flag(ctx, api, snapshot, tags, &decision).await?;
    }
    if !decision.add_tags.is_empty() {
        add_tags(ctx, api, resource, &decision).await?;
    }
    if let Some(plan) = &decision.fix {
        let controls = fix_controls(plan);
        if decision.dry_run {
            record_dry_run(
                ctx,
                resource,
                NOTEBOOK_FIX,
                &controls,
                json!({ "plan": plan }),
            )?;
        } else {
            let fingerprint = plan_fingerprint(plan);
            let version = retry::settings_version(&snapshot.detail);
            if let Some(held) = ctx.held(resource, NOTEBOOK_FIX, &fingerprint, &version)? {
                return Ok(held_action(&held));
            }
            let state = NotebookState::new(now_ms());
            let state_json = fix_state_json(plan, &state);
            let id = ctx.begin(resource, &controls, NOTEBOOK_FIX, false, &state_json)?;
            return run_notebook_fix(ctx, api, id, resource, plan, state).await;
        }
    }
    Ok(Action::Done)
}

/// The journal kind of the in-place notebook fix.
const NOTEBOOK_FIX: &str = "notebook-fix";
/// The journal kind of the tag fix.
const TAG_FIX: &str = "tags";

/// A plan's fingerprint in the failure memory: its canonical JSON.
fn plan_fingerprint(plan: &impl serde::Serialize) -> String {
    serde_json::to_string(plan).unwrap_or_default()
}

/// What the scheduler does with a held remediation: look again when it is due, or wait for a
/// change (a trigger or a sweep brings the resource back).
fn held_action(held: &Held) -> Action {
    match held.until {
        Some(until) => Action::RequeueAfter(Duration::from_millis(
            u64::try_from(until.saturating_sub(now_ms())).unwrap_or(0),
        )),
        None => Action::Done,
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

fn fix_state_json(plan: &NotebookPlan, state: &NotebookState) -> serde_json::Value {
    json!({ "plan": plan, "state": state })
}

/// Records what enforce mode would do, once per distinct plan (not on every sweep).
fn record_dry_run<S: Store>(
    ctx: &Context<S>,
    resource: &ResourceRef,
    kind: &str,
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
        "Plan",
        "dry-run",
        format!("would {kind}: {plan}"),
    )?;
    ctx.store
        .save_state(
            id,
            &plan,
            RemediationStatus::Succeeded,
            Some("dry-run"),
            now_ms(),
        )
        .map_err(ctx.store_err(&resource.arn))?;
    for c in controls {
        ctx.metrics.inc(
            "smr_remediations_total",
            &[("control", c.as_str()), ("outcome", "dry-run")],
        );
    }
    Ok(())
}

/// SageMaker.6/.7: AddTags with the missing keys (never overwriting a value), then verify.
async fn add_tags<S: Store, A: SageMakerApi>(
    ctx: &Context<S>,
    api: &A,
    resource: &ResourceRef,
    decision: &Decision,
) -> Result<(), ReconcileError> {
    let control = match resource.resource_type {
        ResourceType::Image => ControlId::SageMaker7,
        _ => ControlId::SageMaker6,
    };
    let plan = json!({ "add_tags": decision.add_tags });
    if decision.dry_run {
        return record_dry_run(ctx, resource, TAG_FIX, &[control], plan);
    }
    let arn = &resource.arn;
    let fingerprint = plan.to_string();
    if ctx.held(resource, TAG_FIX, &fingerprint, "")?.is_some() {
        return Ok(());
    }
    let id = ctx.begin(resource, &[control], TAG_FIX, false, &plan)?;
    let keys: Vec<&str> = decision.add_tags.iter().map(|t| t.key.as_str()).collect();
    ctx.step(id, resource, "AddTags", "intent", keys.join(", "))?;
    let (status, outcome, permanent) = match api.add_tags(arn, &decision.add_tags).await {
        Ok(()) => {
            ctx.step(id, resource, "AddTags", "done", keys.join(", "))?;
            (RemediationStatus::Succeeded, "fixed".to_string(), false)
        }
        Err(e) => {
            ctx.step(id, resource, "AddTags", "error", e.to_string())?;
            let permanent = e.class.is_permanent();
            (RemediationStatus::Failed, format!("failed: {e}"), permanent)
        }
    };
    ctx.store
        .save_state(id, &plan, status, Some(&outcome), now_ms())
        .map_err(ctx.store_err(arn))?;
    let setback = (status == RemediationStatus::Failed)
        .then_some((Setback::Failed { permanent }, outcome.as_str()));
    ctx.remember(resource, TAG_FIX, &[control], &fingerprint, "", id, setback)?;
    ctx.metrics.inc(
        "smr_remediations_total",
        &[
            ("control", control.as_str()),
            (
                "outcome",
                if status == RemediationStatus::Succeeded {
                    "fixed"
                } else {
                    "failed"
                },
            ),
        ],
    );
    Ok(())
}

/// Flags a resource that cannot (or may not) be fixed in place: a journal record with a
/// recreation plan, and in enforce mode a tag on the resource.
async fn flag<S: Store, A: SageMakerApi>(
    ctx: &Context<S>,
    api: &A,
    snapshot: &Snapshot,
    tags: &[Tag],
    decision: &Decision,
) -> Result<(), ReconcileError> {
    let resource = &snapshot.resource;
    let controls: Vec<&str> = decision.flag.iter().map(|c| c.as_str()).collect();
    let value = controls.join(" ");
    let plan = recreation_plan(snapshot, &decision.flag, &ctx.config, &decision.notes);
    ctx.store
        .save_flag(&Flag {
            arn: resource.arn.clone(),
            account: resource.account.clone(),
            region: resource.region.clone(),
            resource_type: resource.resource_type,
            name: resource.name.clone(),
            controls: decision.flag.clone(),
            plan,
            dry_run: decision.dry_run,
            at: now_ms(),
        })
        .map_err(ctx.store_err(&resource.arn))?;
    let key = &ctx.config.remediation.flag_tag_key;
    let tagged = tags.iter().any(|t| &t.key == key && t.value == value);
    // Any tag satisfies SageMaker.6/.7 when no keys are required: a flag tag on an image or
    // app image config would pass the control it flags, so those are flagged in the journal only.
    let taggable = !matches!(
        resource.resource_type,
        ResourceType::Image | ResourceType::AppImageConfig
    );
    if !decision.dry_run && !tagged && taggable {
        api.add_tags(&resource.arn, &[Tag::new(key.clone(), value.clone())])
            .await
            .map_err(|source| ReconcileError::Aws {
                arn: resource.arn.clone(),
                source,
            })?;
    }
    for c in &decision.flag {
        ctx.metrics.inc(
            "smr_remediations_total",
            &[
                ("control", c.as_str()),
                (
                    "outcome",
                    if decision.dry_run {
                        "flagged-dry-run"
                    } else {
                        "flagged"
                    },
                ),
            ],
        );
    }
    tracing::info!(event = "resource_flagged", resource_arn = %resource.arn, controls = %value, dry_run = decision.dry_run);
    Ok(())
}

/// The Create request (and the steps around it) that would make the resource compliant.
pub fn recreation_plan(
    snapshot: &Snapshot,
    controls: &[ControlId],
    config: &Config,
    notes: &[String],
) -> serde_json::Value {
    let r = &config.remediation;
    let name = &snapshot.resource.name;
    let controls: Vec<&str> = controls.iter().map(|c| c.as_str()).collect();
    match &snapshot.detail {
        Detail::Notebook(n) => {
            let subnet = if r.recreate_subnet_id.is_empty() {
                n.subnet_id
                    .clone()
                    .unwrap_or_else(|| "<subnet-id in your VPC>".to_string())
            } else {
                r.recreate_subnet_id.clone()
            };
            let groups = if r.recreate_security_group_ids.is_empty() {
                if n.security_group_ids.is_empty() {
                    vec!["<security-group-id>".to_string()]
                } else {
                    n.security_group_ids.clone()
                }
            } else {
                r.recreate_security_group_ids.clone()
            };
            json!({
                "controls": controls,
                "notes": notes,
                "steps": [
                    "copy the notebook's data (EBS volume /home/ec2-user/SageMaker) to S3 or a code repository",
                    format!("StopNotebookInstance {name}, then DeleteNotebookInstance {name}"),
                    "CreateNotebookInstance with the request below, then restore the data",
                ],
                "request": {
                    "NotebookInstanceName": name,
                    "InstanceType": n.instance_type,
                    "RoleArn": n.role_arn,
                    "SubnetId": subnet,
                    "SecurityGroupIds": groups,
                    "DirectInternetAccess": "Disabled",
                    "RootAccess": "Disabled",
                    "PlatformIdentifier": config.controls.platform_target,
                    "VolumeSizeInGB": n.volume_size_gb,
                    "KmsKeyId": n.kms_key_id,
                },
            })
        }
        Detail::EndpointConfig(c) => json!({
            "controls": controls,
            "notes": notes,
            "steps": [
                format!("CreateEndpointConfig {name}-ha with the request below"),
                format!("UpdateEndpoint for every endpoint using {name} (blue/green, no downtime; costs more)"),
            ],
            "request": {
                "EndpointConfigName": format!("{name}-ha"),
                "ProductionVariants": c.variants.iter().map(|v| json!({
                    "VariantName": v.name,
                    "InstanceType": v.instance_type,
                    "InitialInstanceCount": if v.serverless { None } else { Some(v.initial_instance_count.unwrap_or(1).max(2)) },
                    "Serverless": v.serverless,
                })).collect::<Vec<_>>(),
            },
        }),
        Detail::Model(_) => json!({
            "controls": controls,
            "notes": notes,
            "steps": [
                format!("CreateModel {name}-isolated copying {name}'s containers and role, with the request below"),
                "create an endpoint config naming the new model and UpdateEndpoint each endpoint using the old one",
                "check first that the container needs no network access: isolation blocks all of it",
            ],
            "request": { "ModelName": format!("{name}-isolated"), "EnableNetworkIsolation": true },
        }),
        Detail::Image(_) | Detail::AppImageConfig(_) => json!({
            "controls": controls,
            "notes": notes,
            "steps": ["AddTags with the required keys (configure remediation.tag_values to let the daemon do it)"],
        }),
    }
}

/// Resumes a journaled notebook fix.
async fn resume_notebook_fix<S: Store, A: SageMakerApi>(
    ctx: &Context<S>,
    api: &A,
    running: crate::store::Remediation,
) -> Result<Action, ReconcileError> {
    let plan: NotebookPlan =
        serde_json::from_value(running.state["plan"].clone()).map_err(|e| {
            ReconcileError::Journal {
                arn: running.arn.clone(),
                message: e.to_string(),
            }
        })?;
    let state: NotebookState =
        serde_json::from_value(running.state["state"].clone()).map_err(|e| {
            ReconcileError::Journal {
                arn: running.arn.clone(),
                message: e.to_string(),
            }
        })?;
    let resource = ResourceRef {
        account: running.account.clone(),
        region: running.region.clone(),
        resource_type: running.resource_type,
        name: running.name.clone(),
        arn: running.arn.clone(),
    };
    ctx.step(
        running.id,
        &resource,
        "Resume",
        "observed",
        format!("resuming in phase {:?}", state.phase),
    )?;
    run_notebook_fix(ctx, api, running.id, &resource, &plan, state).await
}

/// The notebook fix executor: Describe, `workflow::next`, journal, act; until the workflow
/// finishes, suspends, or shutdown is requested.
async fn run_notebook_fix<S: Store, A: SageMakerApi>(
    ctx: &Context<S>,
    api: &A,
    id: i64,
    resource: &ResourceRef,
    plan: &NotebookPlan,
    mut state: NotebookState,
) -> Result<Action, ReconcileError> {
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
    let save = |state: &NotebookState, status: RemediationStatus, outcome: Option<&str>| {
        ctx.store
            .save_state(id, &fix_state_json(plan, state), status, outcome, now_ms())
            .map_err(ctx.store_err(arn))
    };
    loop {
        if ctx.shutdown.is_requested() {
            ctx.step(
                id,
                resource,
                "Pause",
                "wait",
                "shutdown requested; the next start resumes here".into(),
            )?;
            return Ok(Action::RequeueAfter(Duration::ZERO));
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
                    && now_ms() - *describe_failing_since.get_or_insert_with(now_ms)
                        <= limits.step_timeout_ms =>
            {
                ctx.metrics.inc(
                    "smr_workflow_retries_total",
                    &[("operation", e.operation), ("class", e.class.as_str())],
                );
                tracing::debug!(event = "describe_retry", resource_arn = %arn, error = %e);
                // On shutdown the sleep ends early; the top of the loop journals the pause.
                ctx.shutdown.sleep(remediation.poll_interval()).await;
                continue;
            }
            Err(e) => {
                ctx.step(id, resource, "Describe", "error", e.to_string())?;
                return Err(ReconcileError::Aws {
                    arn: arn.clone(),
                    source: e,
                });
            }
        };
        let (next_state, mut command) =
            workflow::next(plan, &state, observed.as_ref(), now_ms(), &limits);
        state = next_state;
        save(&state, RemediationStatus::Running, None)?;
        if let Some(call) = mutating(&command) {
            ctx.step(id, resource, call, "intent", describe_command(&command))?;
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
                    ctx.step(id, resource, call, "done", describe_command(&command))?;
                    poll = remediation.poll_interval();
                    last_wait.clear();
                    continue;
                }
                Err(e) => {
                    ctx.step(id, resource, call, "error", e.to_string())?;
                    let (after, then) =
                        workflow::on_error(plan, &state, &command, e.class, &e.message, now_ms());
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
                    ctx.step(id, resource, "Wait", "wait", reason.clone())?;
                    last_wait = reason;
                }
                if !ctx.shutdown.sleep(poll).await {
                    continue; // shutdown: journaled at the top of the loop
                }
                poll = (poll * 2).min(remediation.max_poll_interval());
            }
            Command::Suspend { reason } => {
                ctx.step(id, resource, "Suspend", "wait", reason)?;
                return Ok(Action::RequeueAfter(remediation.max_poll_interval()));
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
                    Outcome::Fixed => (RemediationStatus::Succeeded, "fixed", "fixed".to_string()),
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
                ctx.step(id, resource, "Finish", "done", text.clone())?;
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
                    ctx.metrics.inc(
                        "smr_remediations_total",
                        &[("control", c.as_str()), ("outcome", label)],
                    );
                }
                return Ok(Action::Done);
            }
            Command::Stop | Command::Start | Command::Update { .. } => {}
        }
    }
}

fn mutating(command: &Command) -> Option<&'static str> {
    match command {
        Command::Stop => Some("StopNotebookInstance"),
        Command::Start => Some("StartNotebookInstance"),
        Command::Update { .. } => Some("UpdateNotebookInstance"),
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

/// Turns every failing resource of a sweep into a trigger.
pub fn sweep_triggers(snapshots: &[Snapshot], params: &controls::Params) -> Vec<Trigger> {
    let mut out = Vec::new();
    for s in snapshots {
        let failed: Vec<ControlId> = controls::evaluate(s, params)
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
            arn: events::parse_arn(&r.arn)
                .map(|(_, _, _, a)| a)
                .unwrap_or_else(|| r.arn.clone()),
            name: Some(r.name.clone()),
            family: Family::Sweep,
            event_id: format!("sweep-{}", now_ms()),
            controls: failed,
        });
    }
    out
}

/// One full sweep of every configured account and region: failing resources become triggers.
pub async fn sweep_once<S: Store>(
    ctx: &Context<S>,
    base: &SdkConfig,
) -> Result<SweepOutcome, StoreError> {
    let (targets, errors) = audit::targets(&ctx.config, base).await;
    for e in &errors {
        tracing::warn!(event = "sweep_error", error = %audit::describe_error(e));
    }
    let mut total = 0;
    let mut answered = false;
    for (target, _) in targets {
        let Target { account, region } = &target;
        let api = match ctx.clients.sagemaker("", account, region).await {
            Ok(api) => api,
            Err(e) => {
                tracing::warn!(event = "sweep_error", error = %e);
                continue;
            }
        };
        let sweep = audit::sweep(
            &api,
            &target,
            ctx.config.audit.concurrency,
            &Progress::new(false),
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
        answered |= failed_lists < ResourceType::ALL.len();
        let triggers = sweep_triggers(&sweep.snapshots, &ctx.config.control_params());
        total += triggers.len();
        ctx.store.enqueue(&triggers, now_ms())?;
    }
    ctx.wake.notify_one();
    Ok(SweepOutcome {
        failing_resources: total,
        aws_answered: answered,
    })
}

/// What one sweep found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepOutcome {
    pub failing_resources: usize,
    /// At least one List call of one account and region answered.
    pub aws_answered: bool,
}

/// The scheduler: runs due triggers, at most `daemon.reconcile_concurrency` at once and never
/// two for one resource, until shutdown; then waits for the reconciles in flight (they stop
/// at their next step boundary) up to the grace period.
pub async fn run_scheduler<S: Store + 'static>(ctx: Arc<Context<S>>) -> Result<(), StoreError> {
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
            account: r.account.clone(),
            region: r.region.clone(),
            resource_type: r.resource_type,
            arn: r.arn.clone(),
            name: Some(r.name.clone()),
            family: Family::Sweep,
            event_id: format!("resume-{}", r.id),
            controls: r.controls.clone(),
        })
        .collect();
    if !resume.is_empty() {
        tracing::info!(event = "resuming", count = resume.len());
        ctx.store.enqueue(&resume, now_ms())?;
    }
    loop {
        if ctx.shutdown.is_requested() {
            break;
        }
        let free = slots.available_permits();
        let now = now_ms();
        if free > 0 {
            let due = ctx.store.due(now, free + in_flight_len(&in_flight))?;
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
                ctx.store.defer(&arn, now + lease_ms, pending.attempts)?;
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
            ctx.metrics.set("smr_pending_triggers", &[], n as f64);
        }
        let sleep = match ctx.store.next_due()? {
            Some(at) if at > now => Duration::from_millis((at - now) as u64),
            Some(_) => Duration::from_millis(200),
            None => Duration::from_secs(60),
        }
        .min(Duration::from_secs(60));
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
async fn renew_lease<S: Store>(
    ctx: &Context<S>,
    arn: &str,
    attempts: u32,
) -> std::convert::Infallible {
    let ttl = ctx.config.daemon.claim_ttl();
    let ttl_ms = ttl.as_millis() as i64;
    loop {
        tokio::time::sleep(ttl / 3).await;
        let now = now_ms();
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

fn in_flight_len(in_flight: &std::sync::Mutex<HashSet<String>>) -> usize {
    in_flight.lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// Runs one pending trigger: claim, reconcile, then finish, requeue or back off.
async fn run_one<S: Store>(ctx: &Context<S>, pending: Pending) {
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
fn take_claim<S: Store>(ctx: &Context<S>, arn: &str, attempts: u32) -> Result<bool, StoreError> {
    let now = now_ms();
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

async fn run_one_in_span<S: Store>(ctx: &Context<S>, pending: &Pending) {
    let trigger = &pending.trigger;
    let arn = trigger.arn.as_str();
    let started = now_ms();
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
            .sagemaker(arn, &trigger.account, &trigger.region)
            .await
        {
            Ok(api) => reconcile(ctx, &api, trigger).await,
            Err(e) => Err(e),
        }
    };
    // The claim and the trigger's lease are renewed while the reconcile runs (it may wait
    // minutes for a status), so they can be short: a crashed process's claims lapse quickly.
    let result = tokio::select! {
        result = work => result,
        never = renew_lease(ctx, arn, pending.attempts) => match never {},
    };
    let now = now_ms();
    let outcome = match &result {
        Ok(Action::Done) => match ctx.store.finish(arn, pending.generation) {
            Ok(true) => Ok(()),
            // A newer trigger arrived meanwhile: run again now.
            Ok(false) => ctx.store.defer(arn, now, 0),
            Err(e) => Err(e),
        },
        Ok(Action::RequeueAfter(d)) => ctx.store.defer(arn, now + d.as_millis() as i64, 0),
        Err(e) => {
            let (attempts, delay) = error_delay(ctx, arn, pending.attempts, started, e);
            tracing::warn!(event = "reconcile_failed", error = %e, attempts, retry_in_secs = delay.as_secs());
            ctx.store
                .defer(arn, now + delay.as_millis() as i64, attempts)
        }
    };
    ctx.metrics.inc(
        "smr_reconciles_total",
        &[("result", if result.is_ok() { "ok" } else { "error" })],
    );
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
fn error_delay<S: Store>(
    ctx: &Context<S>,
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
