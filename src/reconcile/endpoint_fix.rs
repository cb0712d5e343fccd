//! The SageMaker.4 replacement: endpoint configs are immutable, so a config whose
//! instance-based variants run one instance is replaced. A copy of every field of the old
//! config, each instance-based variant with at least two instances, is created under a
//! deterministic name ([`replacement_name`]); every endpoint that uses the old config gets a
//! blue/green `UpdateEndpoint` to it (traffic moves once the new fleet is healthy, and the
//! update rolls back by itself when it is not); each endpoint is verified InService on the new
//! config; then the old config is tagged with its replacement. Nothing is deleted.
//!
//! # Guarantees
//! - Journaled and resumable like the notebook fix: the record (plan, whether the copy exists,
//!   each endpoint's progress) is saved before every call, and a resumed replacement starts
//!   from a fresh Describe. The copy is found again by its name and its
//!   `sagemaker-remediator:replaces` tag, so it is created once; an endpoint whose
//!   `LastModifiedTime` has not moved since the intent was never updated, so each endpoint gets
//!   one `UpdateEndpoint`.
//! - An endpoint back on the old config after our update (a rollback) ends the replacement as
//!   failed, with the endpoint's `FailureReason`; the endpoints not yet updated are left alone.
//! - A config of the replacement's name that the remediator did not make is never touched.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::Endpoint;

use super::*;

/// Tag on the new config: the name of the config it replaces.
pub const REPLACES: &str = "sagemaker-remediator:replaces";
/// Tag on the old config once every endpoint moved: the name of its replacement.
pub const REPLACED_BY: &str = "sagemaker-remediator:replaced-by";
/// Instances of every instance-based variant after the replacement (SageMaker.4: more than 1).
pub const MIN_INSTANCES: i32 = 2;
/// The journal kind.
const ENDPOINT_REPLACE: RemediationKind = RemediationKind::EndpointReplace;
/// The only control this fixes.
const CONTROLS: [ControlId; 1] = [ControlId::SageMaker4];
/// SageMaker's limit on an endpoint config name.
const MAX_NAME: usize = 63;

/// One variant's instance count before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantChange {
    pub variant: String,
    pub from: Option<i32>,
    pub to: i32,
}

/// What a replacement does: the approval binds to exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplacePlan {
    /// The endpoint config replaced.
    pub config: String,
    /// The new config's name.
    pub replacement: String,
    /// The endpoints that use `config`, by name, sorted.
    pub endpoints: Vec<String>,
    /// The variants whose instance count rises.
    pub variants: Vec<VariantChange>,
}

/// Where one endpoint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Phase {
    /// Not updated yet.
    Waiting,
    /// `UpdateEndpoint` journaled (maybe sent); `before_ms` is the LastModifiedTime seen before.
    Sent,
    /// On the new config and InService, gone, or moved elsewhere by someone else.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Progress {
    endpoint: String,
    phase: Phase,
    #[serde(default)]
    before_ms: Option<i64>,
    #[serde(default)]
    note: Option<String>,
}

/// The journaled state of a replacement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ReplaceRecord {
    version: u32,
    plan: ReplacePlan,
    /// The new config exists (made by this replacement or found from an earlier attempt).
    created: bool,
    endpoints: Vec<Progress>,
}

impl ReplaceRecord {
    const VERSION: u32 = 1;

    fn new(plan: ReplacePlan) -> ReplaceRecord {
        let endpoints = plan
            .endpoints
            .iter()
            .map(|e| Progress {
                endpoint: e.clone(),
                phase: Phase::Waiting,
                before_ms: None,
                note: None,
            })
            .collect();
        ReplaceRecord {
            version: Self::VERSION,
            plan,
            created: false,
            endpoints,
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn read(value: &serde_json::Value) -> Result<ReplaceRecord, String> {
        read_record(value, |r: &ReplaceRecord| r.version, Self::VERSION)
    }
}

/// The name of the config that replaces `config`: `<config>-ha`, or, when that is longer than
/// SageMaker allows, a shortened name with a digest of the full one (still deterministic, so a
/// retry finds the copy it made).
pub fn replacement_name(config: &str) -> String {
    let simple = format!("{config}-ha");
    if simple.len() <= MAX_NAME {
        return simple;
    }
    let digest = hex::encode(&Sha256::digest(config.as_bytes())[..4]);
    let keep = MAX_NAME - "-ha-".len() - digest.len();
    let prefix: String = config.chars().take(keep).collect();
    format!("{prefix}-ha-{digest}")
}

/// The replacement of `name` (described as `config`): the endpoints that use it now.
async fn plan<A: SageMakerApi>(
    api: &A,
    name: &str,
    config: &crate::model::EndpointConfig,
) -> Result<ReplacePlan, AwsError> {
    let mut endpoints = Vec::new();
    for listed in api.list_endpoints().await? {
        match api.describe_endpoint(&listed.name).await {
            Ok(e) if e.config_name.eq_ignore_ascii_case(name) => endpoints.push(listed.name),
            Ok(_) => {}
            Err(e) if e.class == ErrorClass::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    endpoints.sort();
    let variants = config
        .variants
        .iter()
        .filter(|v| !v.serverless && v.initial_instance_count.unwrap_or(1) < MIN_INSTANCES)
        .map(|v| VariantChange {
            variant: v.name.clone(),
            from: v.initial_instance_count,
            to: MIN_INSTANCES,
        })
        .collect();
    Ok(ReplacePlan {
        config: name.to_string(),
        replacement: replacement_name(name),
        endpoints,
        variants,
    })
}

/// Decides and carries out the replacement of a failing endpoint config: a dry run records the
/// plan; an unused config is flagged (nothing to move), one already replaced is left alone; an
/// enforced replacement passes the failure memory and the approval gate, then runs.
pub(super) async fn replace<S: Store, C: ClientFactory, A: SageMakerApi>(
    ctx: &Context<S, C>,
    api: &A,
    snapshot: &Snapshot,
    tags: &[Tag],
    decision: &Decision,
) -> Result<Next, ReconcileError> {
    let resource = &snapshot.resource;
    let Detail::EndpointConfig(config) = &snapshot.detail else {
        return Ok(Next::Done);
    };
    let plan = plan(api, &resource.name, config)
        .await
        .map_err(aws_err(&resource.arn))?;
    if plan.endpoints.is_empty() {
        if let Some(by) = tags.iter().find(|t| t.key == REPLACED_BY) {
            tracing::info!(
                event = "endpoint_config_replaced",
                resource_arn = %resource.arn,
                replaced_by = %by.value,
                "no endpoint uses it any more; left in place (nothing is deleted)"
            );
            ctx.ended(resource, ControlId::SageMaker4, "replaced");
            return Ok(Next::Done);
        }
        let mut flagged = decision.clone();
        flagged.replace = false;
        flagged.approve.clear();
        flagged.flag.push(ControlId::SageMaker4);
        flagged.notes.push(
            "SageMaker.4 flagged instead of replaced: no endpoint uses this endpoint config, so \
             there is nothing to move; give new endpoints a config with two or more instances \
             per variant"
                .to_string(),
        );
        flag::flag(ctx, api, snapshot, tags, &flagged).await?;
        return Ok(Next::Done);
    }
    let needs_approval = decision.approve.contains(&ControlId::SageMaker4);
    let plan_json = serde_json::to_value(&plan).unwrap_or_default();
    if decision.dry_run {
        let mut record = json!({ "plan": plan_json });
        if needs_approval {
            record["approval"] = json!("would be asked for before the replacement");
        }
        record_dry_run(ctx, resource, ENDPOINT_REPLACE, &CONTROLS, record)?;
        return Ok(Next::Done);
    }
    let fingerprint = plan_fingerprint(&plan);
    if let Some(held) = ctx.held(resource, ENDPOINT_REPLACE, &fingerprint, "")? {
        return Ok(held_action(&held, ctx.now()));
    }
    let approved = match needs_approval {
        false => None,
        true => match approval::gate(ctx, resource, ENDPOINT_REPLACE, &CONTROLS, &plan_json)? {
            approval::Gate::Wait => return Ok(Next::Done),
            approval::Gate::Go(a) => Some(a),
        },
    };
    let record = ReplaceRecord::new(plan);
    let id = ctx.begin(resource, &CONTROLS, ENDPOINT_REPLACE, false, &record.json())?;
    if let Some(a) = &approved {
        approval::bind(ctx, id, resource, a)?;
    }
    if let Some(owner) = &decision.iac {
        let drift = owner.drift(&CONTROLS, &ctx.config);
        ctx.step(id, resource, Step::Plan, StepPhase::Observed, drift)?;
    }
    run(ctx, api, id, resource, record).await
}

/// Resumes a journaled replacement.
pub(super) async fn resume<S: Store, C: ClientFactory, A: SageMakerApi>(
    ctx: &Context<S, C>,
    api: &A,
    running: crate::store::Remediation,
) -> Result<Next, ReconcileError> {
    let record =
        ReplaceRecord::read(&running.state).map_err(|message| ReconcileError::Journal {
            arn: running.resource.arn.to_string(),
            message,
        })?;
    let resource = running.resource.clone();
    let done = record
        .endpoints
        .iter()
        .filter(|p| p.phase == Phase::Done)
        .count();
    ctx.step(
        running.id,
        &resource,
        Step::Resume,
        StepPhase::Observed,
        format!(
            "resuming: replacement {} {}, {done} of {} endpoints done",
            record.plan.replacement,
            if record.created {
                "exists"
            } else {
                "not yet created"
            },
            record.endpoints.len()
        ),
    )?;
    run(ctx, api, running.id, &resource, record).await
}

/// What to do next about one endpoint.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Nothing more: the note says why.
    Done(String),
    /// Send `UpdateEndpoint` (it was never sent, or never took effect).
    Send,
    /// Look again later.
    Wait(String),
    /// The replacement failed here.
    Failed(String),
}

/// The pure judgement of one endpoint's Describe (`None`: it is gone) in the light of its
/// progress.
fn judge(plan: &ReplacePlan, progress: &Progress, seen: Option<&Endpoint>) -> Verdict {
    let name = &progress.endpoint;
    let Some(e) = seen else {
        return Verdict::Done(format!("{name} was deleted meanwhile: nothing to update"));
    };
    let on = |config: &str| e.config_name.eq_ignore_ascii_case(config);
    match e.status.as_str() {
        "InService" if on(&plan.replacement) => Verdict::Done(format!(
            "{name} serves {} and is InService (verified)",
            plan.replacement
        )),
        "InService" if on(&plan.config) => match progress.phase {
            Phase::Sent if progress.before_ms != e.last_modified_ms => Verdict::Failed(format!(
                "the update of {name} ended with it back on {}: {}",
                plan.config,
                e.failure_reason
                    .as_deref()
                    .unwrap_or("no reason given (rolled back)")
            )),
            _ => Verdict::Send,
        },
        "InService" => Verdict::Done(format!(
            "{name} was moved to {} by someone else meanwhile: left alone",
            e.config_name
        )),
        "Creating" | "Updating" | "SystemUpdating" | "RollingBack" => {
            Verdict::Wait(format!("{name} is {}", e.status))
        }
        other => Verdict::Failed(format!(
            "{name} is {other}{}: not updated",
            e.failure_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )),
    }
}

/// The replacement executor: create the copy, move every endpoint, verify, tag the old
/// config; until done, failed, suspended (a wait over the step timeout) or shutdown.
async fn run<S: Store, C: ClientFactory, A: SageMakerApi>(
    ctx: &Context<S, C>,
    api: &A,
    id: i64,
    resource: &ResourceRef,
    mut record: ReplaceRecord,
) -> Result<Next, ReconcileError> {
    let arn = resource.arn.as_str();
    let aws_err = aws_err(arn);
    let remediation = &ctx.config.remediation;
    let save = |record: &ReplaceRecord| {
        ctx.store
            .save_state(
                id,
                &record.json(),
                RemediationStatus::Running,
                None,
                ctx.now(),
                &[],
            )
            .map_err(ctx.store_err(arn))
    };
    let (old, new) = (record.plan.config.clone(), record.plan.replacement.clone());

    if !record.created {
        match api.endpoint_config_arn(&new).await.map_err(aws_err)? {
            Some(found) => {
                let tags = api.list_tags(found.as_str()).await.map_err(aws_err)?;
                if !tags.iter().any(|t| t.key == REPLACES && t.value == old) {
                    let why = format!(
                        "an endpoint config named {new} exists and was not made by \
                         sagemaker-remediator to replace {old}; nothing was changed"
                    );
                    return finish(ctx, id, resource, &record, Err((why, true)));
                }
                ctx.step(
                    id,
                    resource,
                    Step::CreateEndpointConfig,
                    StepPhase::Observed,
                    format!("{new} exists from an earlier attempt"),
                )?;
            }
            None => {
                let r = &ctx.config.remediation;
                let ours = [REPLACES, REPLACED_BY, r.flag_tag_key.as_str()];
                let mut tags: Vec<Tag> = api
                    .list_tags(arn)
                    .await
                    .map_err(aws_err)?
                    .into_iter()
                    .filter(|t| !t.key.starts_with("aws:") && !ours.contains(&t.key.as_str()))
                    .collect();
                tags.push(Tag::new(REPLACES, old.clone()));
                let what = format!(
                    "{new}: a copy of {old} with {}",
                    changes_in_words(&record.plan.variants)
                );
                ctx.step(
                    id,
                    resource,
                    Step::CreateEndpointConfig,
                    StepPhase::Intent,
                    what.clone(),
                )?;
                match api
                    .copy_endpoint_config(&old, &new, MIN_INSTANCES, &tags)
                    .await
                {
                    Ok(created) => ctx.step(
                        id,
                        resource,
                        Step::CreateEndpointConfig,
                        StepPhase::Done,
                        format!("{what} ({created})"),
                    )?,
                    Err(e) => {
                        ctx.step(
                            id,
                            resource,
                            Step::CreateEndpointConfig,
                            StepPhase::Error,
                            e.to_string(),
                        )?;
                        let permanent = e.class.is_permanent();
                        return finish(ctx, id, resource, &record, Err((e.to_string(), permanent)));
                    }
                }
            }
        }
        record.created = true;
        save(&record)?;
    }

    let mut poll = remediation.poll_interval();
    let mut last_wait = String::new();
    let mut waiting_since: Option<Millis> = None;
    let timeout = remediation.step_timeout().as_millis() as i64;
    loop {
        if let Some(next) = ctx.paused(id, resource)? {
            return Ok(next);
        }
        let Some(i) = record.endpoints.iter().position(|p| p.phase != Phase::Done) else {
            break;
        };
        let name = record.endpoints[i].endpoint.clone();
        let seen = match api.describe_endpoint(&name).await {
            Ok(e) => Some(e),
            Err(e) if e.class == ErrorClass::NotFound => None,
            Err(e) if e.class.is_retryable() => {
                ctx.shutdown.sleep(poll).await;
                continue;
            }
            Err(e) => return Err(ctx.describe_failed(id, resource, e)),
        };
        match judge(&record.plan, &record.endpoints[i], seen.as_ref()) {
            Verdict::Done(note) => {
                ctx.step(
                    id,
                    resource,
                    Step::UpdateEndpoint,
                    StepPhase::Observed,
                    note.clone(),
                )?;
                record.endpoints[i].phase = Phase::Done;
                record.endpoints[i].note = Some(note);
                save(&record)?;
                (waiting_since, poll) = (None, remediation.poll_interval());
            }
            Verdict::Send => {
                record.endpoints[i].phase = Phase::Sent;
                record.endpoints[i].before_ms = seen.as_ref().and_then(|e| e.last_modified_ms);
                save(&record)?;
                let what = format!("{name} -> {new} (blue/green, rolls back on failure)");
                ctx.step(
                    id,
                    resource,
                    Step::UpdateEndpoint,
                    StepPhase::Intent,
                    what.clone(),
                )?;
                let alarms = &remediation.endpoint_rollback_alarms;
                if let Err(e) = api.update_endpoint(&name, &new, alarms).await {
                    ctx.step(
                        id,
                        resource,
                        Step::UpdateEndpoint,
                        StepPhase::Error,
                        e.to_string(),
                    )?;
                    let why = format!("UpdateEndpoint {name}: {e}");
                    return finish(
                        ctx,
                        id,
                        resource,
                        &record,
                        Err((why, e.class.is_permanent())),
                    );
                }
                ctx.step(id, resource, Step::UpdateEndpoint, StepPhase::Done, what)?;
                (waiting_since, poll) = (None, remediation.poll_interval());
            }
            Verdict::Wait(reason) => {
                let since = *waiting_since.get_or_insert(ctx.now());
                if ctx.now() - since > timeout {
                    ctx.step(
                        id,
                        resource,
                        Step::Suspend,
                        StepPhase::Wait,
                        format!("{reason} for longer than the step timeout; looked at later"),
                    )?;
                    return Ok(Next::RequeueAfter(remediation.max_poll_interval()));
                }
                if reason != last_wait {
                    ctx.step(id, resource, Step::Wait, StepPhase::Wait, reason.clone())?;
                    last_wait = reason;
                }
                if ctx.shutdown.sleep(poll).await {
                    poll = (poll * 2).min(remediation.max_poll_interval());
                }
            }
            Verdict::Failed(why) => return finish(ctx, id, resource, &record, Err((why, true))),
        }
    }

    let what = format!("{REPLACED_BY}={new}");
    ctx.step(id, resource, Step::AddTags, StepPhase::Intent, what.clone())?;
    if let Err(e) = api
        .add_tags(arn, &[Tag::new(REPLACED_BY, new.clone())])
        .await
    {
        // The endpoints moved: the replacement stands; the tag is a courtesy.
        ctx.step(id, resource, Step::AddTags, StepPhase::Error, e.to_string())?;
    } else {
        ctx.step(id, resource, Step::AddTags, StepPhase::Done, what)?;
    }
    let endpoints = record.plan.endpoints.join(", ");
    let text = format!("every endpoint that used {old} ({endpoints}) now serves {new}");
    finish(ctx, id, resource, &record, Ok(text))
}

/// Ends a replacement: journal, notices, failure memory, metrics.
fn finish<S: Store, C: ClientFactory>(
    ctx: &Context<S, C>,
    id: i64,
    resource: &ResourceRef,
    record: &ReplaceRecord,
    outcome: Result<String, (String, bool)>,
) -> Result<Next, ReconcileError> {
    let (status, text, label) = match &outcome {
        Ok(text) => (RemediationStatus::Succeeded, text.clone(), "replaced"),
        Err((why, _)) => (
            RemediationStatus::Failed,
            format!("failed: {why}"),
            "failed",
        ),
    };
    ctx.step(id, resource, Step::Finish, StepPhase::Done, text.clone())?;
    let plan_json = serde_json::to_value(&record.plan).unwrap_or_default();
    let notices = ctx.ending_notices(
        resource,
        &CONTROLS,
        ENDPOINT_REPLACE,
        false,
        &plan_json,
        status,
        Some(&text),
    );
    ctx.store
        .save_state(id, &record.json(), status, Some(&text), ctx.now(), &notices)
        .map_err(ctx.store_err(&resource.arn))?;
    ctx.outbox.written();
    let setback = outcome.as_ref().err().map(|(why, permanent)| {
        (
            Setback::Failed {
                permanent: *permanent,
            },
            why.as_str(),
        )
    });
    ctx.remember(
        resource,
        ENDPOINT_REPLACE,
        &CONTROLS,
        &plan_fingerprint(&record.plan),
        "",
        id,
        setback,
    )?;
    ctx.ended(resource, ControlId::SageMaker4, label);
    Ok(Next::Done)
}

/// `variant AllTraffic 1 -> 2 instances, ...`.
pub fn changes_in_words(variants: &[VariantChange]) -> String {
    if variants.is_empty() {
        return "the same variants".to_string();
    }
    variants
        .iter()
        .map(|v| {
            let from = v.from.map(|n| n.to_string()).unwrap_or_else(|| "?".into());
            format!("variant {} {from} -> {} instances", v.variant, v.to)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn plan() -> ReplacePlan {
        ReplacePlan {
            config: "churn-config".into(),
            replacement: "churn-config-ha".into(),
            endpoints: vec!["churn".into()],
            variants: vec![VariantChange {
                variant: "AllTraffic".into(),
                from: Some(1),
                to: 2,
            }],
        }
    }

    fn progress(phase: Phase, before_ms: Option<i64>) -> Progress {
        Progress {
            endpoint: "churn".into(),
            phase,
            before_ms,
            note: None,
        }
    }

    fn endpoint(status: &str, config: &str, modified: i64) -> Endpoint {
        Endpoint {
            status: status.into(),
            config_name: config.into(),
            failure_reason: None,
            last_modified_ms: Some(modified),
        }
    }

    #[test]
    fn names_are_deterministic_and_within_sagemakers_limit() {
        assert_eq!(replacement_name("churn-config"), "churn-config-ha");
        assert_eq!(
            replacement_name(&"c".repeat(60)).len(),
            63,
            "fits: no digest"
        );
        let long = "a".repeat(61);
        let name = replacement_name(&long);
        assert_eq!(name.len(), MAX_NAME);
        assert_eq!(name, replacement_name(&long));
        assert!(
            name.starts_with(&"a".repeat(51)) && name.contains("-ha-"),
            "{name}"
        );
        assert_ne!(name, replacement_name(&format!("{}b", "a".repeat(61))));
        assert_eq!(replacement_name(&"b".repeat(63)).len(), 63);
    }

    #[test]
    fn an_endpoint_is_updated_once_and_a_rollback_is_a_failure() {
        let p = plan();
        let waiting = progress(Phase::Waiting, None);
        assert_eq!(
            judge(
                &p,
                &waiting,
                Some(&endpoint("InService", "churn-config", 5))
            ),
            Verdict::Send
        );
        // Journaled, but LastModifiedTime never moved: the call did not take effect.
        let sent = progress(Phase::Sent, Some(5));
        assert_eq!(
            judge(&p, &sent, Some(&endpoint("InService", "churn-config", 5))),
            Verdict::Send
        );
        assert_eq!(
            judge(&p, &sent, Some(&endpoint("Updating", "churn-config", 6))),
            Verdict::Wait("churn is Updating".into())
        );
        let mut rolled_back = endpoint("InService", "churn-config", 9);
        rolled_back.failure_reason = Some("health checks failed".into());
        let Verdict::Failed(why) = judge(&p, &sent, Some(&rolled_back)) else {
            panic!("a rollback must fail the replacement");
        };
        assert!(
            why.contains("back on churn-config: health checks failed"),
            "{why}"
        );
        assert!(matches!(
            judge(&p, &sent, Some(&endpoint("InService", "churn-config-ha", 9))),
            Verdict::Done(n) if n.contains("verified")
        ));
        assert!(matches!(
            judge(&p, &waiting, Some(&endpoint("InService", "someone-elses", 9))),
            Verdict::Done(n) if n.contains("left alone")
        ));
        assert!(matches!(judge(&p, &waiting, None), Verdict::Done(n) if n.contains("deleted")));
        assert!(matches!(
            judge(
                &p,
                &waiting,
                Some(&endpoint("OutOfService", "churn-config", 1))
            ),
            Verdict::Failed(_)
        ));
    }

    #[test]
    fn records_read_back_and_refuse_newer_versions() {
        let record = ReplaceRecord::new(plan());
        assert_eq!(ReplaceRecord::read(&record.json()).unwrap(), record);
        let mut newer = record.json();
        newer["version"] = json!(2);
        assert!(ReplaceRecord::read(&newer)
            .unwrap_err()
            .contains("newer release"));
        assert_eq!(
            changes_in_words(&plan().variants),
            "variant AllTraffic 1 -> 2 instances"
        );
    }
}
