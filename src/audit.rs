//! The compliance sweep: list every judged resource in each account and region, take a fresh
//! snapshot of each, evaluate the eight controls, and report. Read-only: it never calls a
//! mutating API.

use std::collections::HashMap;
use std::future::Future;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::SdkConfig;
use futures::stream::{self, StreamExt};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::aws::sagemaker::Listed;
use crate::aws::{
    self, hub_params, AwsError, CallStack, SageMakerApi, SdkSageMaker, StackSettings,
};
use crate::config::{AccountConfig, Config};
use crate::controls::{self, Params};
use crate::model::{
    AppImageConfig, Arn, ControlId, Detail, Evaluation, Image, ResourceRef, ResourceType, Snapshot,
    Status,
};

/// One account and region to sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub account: String,
    pub region: String,
}

/// A part of the sweep that failed: a List, a Describe or a credential step.
#[derive(Debug, Clone)]
pub struct SweepError {
    pub account: String,
    pub region: String,
    pub resource_type: Option<ResourceType>,
    /// The resource the failed call was about, when it was about one.
    pub resource_arn: Option<String>,
    pub error: AwsError,
}

/// What one sweep found.
#[derive(Debug, Default)]
pub struct Sweep {
    pub snapshots: Vec<Snapshot>,
    pub errors: Vec<SweepError>,
    /// ARN to version (see [`Listed::version`]) of the snapshots whose List call gave one.
    pub versions: HashMap<String, String>,
    /// Listed resources not described because `known` held their version unchanged.
    pub unchanged: usize,
    /// Their ARNs.
    pub unchanged_arns: Vec<String>,
}

/// The evaluated result of an audit.
#[derive(Debug, Default)]
pub struct Report {
    pub targets: Vec<Target>,
    pub resources: usize,
    /// Sorted by control, then resource ARN.
    pub evaluations: Vec<Evaluation>,
    pub errors: Vec<SweepError>,
    /// With `controls.from_security_hub`: where Security Hub's parameters differ from the
    /// configured ones (and were used), or could not be read.
    pub parameter_notes: Vec<String>,
    /// With the daemon's sweep cache (`audit --cached`): the resources listed unchanged since
    /// the daemon last found them compliant, not described or judged again.
    pub unchanged_arns: Vec<String>,
}

impl Report {
    /// True when every part of the sweep answered.
    pub fn complete(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn failed(&self) -> impl Iterator<Item = &Evaluation> {
        self.evaluations
            .iter()
            .filter(|e| e.status == Status::Failed)
    }
}

/// Progress on stderr for long sweeps (only when stderr is a terminal, or when forced).
#[derive(Debug, Default)]
pub struct Progress {
    enabled: bool,
    listed: AtomicUsize,
    snapshotted: AtomicUsize,
}

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        Progress {
            enabled,
            ..Progress::default()
        }
    }

    /// Enabled when stderr is a terminal.
    pub fn on_terminal() -> Progress {
        Progress::new(io::stderr().is_terminal())
    }

    fn listed(&self, target: &Target, kind: ResourceType, n: usize) {
        self.listed.fetch_add(n, Ordering::Relaxed);
        if self.enabled {
            eprintln!(
                "  {} {}: {n} {}",
                target.account,
                target.region,
                kind_plural(kind)
            );
        }
    }

    fn snapshotted(&self) {
        let done = self.snapshotted.fetch_add(1, Ordering::Relaxed) + 1;
        if self.enabled && done.is_multiple_of(100) {
            let total = self.listed.load(Ordering::Relaxed);
            eprintln!("  described {done}/{total} resources");
        }
    }
}

fn kind_plural(kind: ResourceType) -> &'static str {
    match kind {
        ResourceType::NotebookInstance => "notebook instances",
        ResourceType::EndpointConfig => "endpoint configs",
        ResourceType::Model => "models",
        ResourceType::Image => "images",
        ResourceType::AppImageConfig => "app image configs",
    }
}

/// Sweeps one account and region: every resource of the five kinds, with at most
/// `concurrency` Describe/ListTags calls in flight. A failed List or Describe is recorded and
/// the rest goes on.
pub async fn sweep<S: SageMakerApi>(
    api: &S,
    target: &Target,
    concurrency: usize,
    progress: &Progress,
) -> Sweep {
    sweep_with(api, target, concurrency, progress, &HashMap::new()).await
}

/// [`sweep`], without describing the resources whose List version is the one in `known`
/// (ARN to version; the daemon's resources found compliant before).
pub async fn sweep_with<S: SageMakerApi>(
    api: &S,
    target: &Target,
    concurrency: usize,
    progress: &Progress,
    known: &HashMap<String, String>,
) -> Sweep {
    let permits = Semaphore::new(concurrency.max(1));
    let permits = &permits;
    let (notebooks, endpoint_configs, models, images, app_image_configs) = tokio::join!(
        sweep_kind(
            target,
            ResourceType::NotebookInstance,
            api.list_notebooks(),
            |l: Listed| async move {
                let _p = permits.acquire().await;
                api.describe_notebook(&l.name).await.map(Detail::Notebook)
            },
            concurrency,
            progress,
            known,
        ),
        sweep_kind(
            target,
            ResourceType::EndpointConfig,
            api.list_endpoint_configs(),
            |l: Listed| async move {
                let _p = permits.acquire().await;
                api.describe_endpoint_config(&l.name)
                    .await
                    .map(Detail::EndpointConfig)
            },
            concurrency,
            progress,
            known,
        ),
        sweep_kind(
            target,
            ResourceType::Model,
            api.list_models(),
            |l: Listed| async move {
                let _p = permits.acquire().await;
                api.describe_model(&l.name).await.map(Detail::Model)
            },
            concurrency,
            progress,
            known,
        ),
        // ListImages reports each image's status; only the tags need a call.
        sweep_kind(
            target,
            ResourceType::Image,
            api.list_images(),
            |(l, image): (Listed, Image)| async move {
                let _p = permits.acquire().await;
                let tags = api.list_tags(&l.arn).await?;
                Ok(Detail::Image(Image { tags, ..image }))
            },
            concurrency,
            progress,
            known,
        ),
        sweep_kind(
            target,
            ResourceType::AppImageConfig,
            api.list_app_image_configs(),
            |l: Listed| async move {
                let _p = permits.acquire().await;
                api.list_tags(&l.arn)
                    .await
                    .map(|tags| Detail::AppImageConfig(AppImageConfig { tags }))
            },
            concurrency,
            progress,
            known,
        ),
    );
    let mut sweep = Sweep::default();
    for part in [
        notebooks,
        endpoint_configs,
        models,
        images,
        app_image_configs,
    ] {
        sweep.snapshots.extend(part.snapshots);
        sweep.errors.extend(part.errors);
        sweep.versions.extend(part.versions);
        sweep.unchanged += part.unchanged;
        sweep.unchanged_arns.extend(part.unchanged_arns);
    }
    sweep
}

/// A listed item: a [`Listed`] alone, or with what the List call already told about it.
trait Item: Clone {
    fn listed(&self) -> &Listed;
}

impl Item for Listed {
    fn listed(&self) -> &Listed {
        self
    }
}

impl Item for (Listed, Image) {
    fn listed(&self) -> &Listed {
        &self.0
    }
}

/// Lists one kind, then snapshots each listed item with `describe`, `concurrency` at a time.
async fn sweep_kind<T, L, D, DF>(
    target: &Target,
    kind: ResourceType,
    list: L,
    describe: D,
    concurrency: usize,
    progress: &Progress,
    known: &HashMap<String, String>,
) -> Sweep
where
    T: Item,
    L: Future<Output = Result<Vec<T>, AwsError>>,
    D: Fn(T) -> DF,
    DF: Future<Output = Result<Detail, AwsError>>,
{
    let items = match list.await {
        Ok(items) => items,
        Err(error) => {
            return Sweep {
                errors: vec![SweepError {
                    account: target.account.clone(),
                    region: target.region.clone(),
                    resource_type: Some(kind),
                    resource_arn: None,
                    error,
                }],
                ..Sweep::default()
            }
        }
    };
    progress.listed(target, kind, items.len());
    let (items, skipped): (Vec<T>, Vec<T>) = items.into_iter().partition(|item| {
        let l = item.listed();
        l.version.is_none() || known.get(&*l.arn) != l.version.as_ref()
    });
    let unchanged = skipped.len();
    let unchanged_arns: Vec<String> = skipped.iter().map(|i| i.listed().arn.to_string()).collect();
    let results: Vec<(Listed, Result<Detail, AwsError>)> = stream::iter(items)
        .map(|item| {
            let listed = item.listed().clone();
            let fut = describe(item);
            async move {
                let result = fut.await;
                progress.snapshotted();
                (listed, result)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut sweep = Sweep {
        unchanged,
        unchanged_arns,
        ..Sweep::default()
    };
    for (l, result) in results {
        match result {
            Ok(detail) => {
                if let Some(version) = &l.version {
                    sweep.versions.insert(l.arn.to_string(), version.clone());
                }
                sweep.snapshots.push(Snapshot {
                    resource: resource_ref(target, kind, &l),
                    detail,
                })
            }
            Err(error) => sweep.errors.push(SweepError {
                account: resource_account(target, &l.arn),
                region: target.region.clone(),
                resource_type: Some(kind),
                resource_arn: Some(l.arn.into()),
                error,
            }),
        }
    }
    sweep
}

/// The account that owns a resource: from its ARN, else the target's.
fn resource_account(target: &Target, arn: &Arn) -> String {
    arn.account().unwrap_or(&target.account).to_string()
}

fn resource_ref(target: &Target, kind: ResourceType, l: &Listed) -> ResourceRef {
    ResourceRef {
        account: resource_account(target, &l.arn),
        region: target.region.clone(),
        resource_type: kind,
        name: l.name.clone(),
        arn: l.arn.clone(),
    }
}

/// Evaluates every snapshot; the result is sorted by control, then resource ARN.
pub fn evaluate_all(snapshots: &[Snapshot], params: &Params) -> Vec<Evaluation> {
    let mut evaluations: Vec<Evaluation> = snapshots
        .iter()
        .flat_map(|s| controls::evaluate(s, params))
        .collect();
    sort_evaluations(&mut evaluations);
    evaluations
}

/// The parameters `snapshot` is judged with: the configured ones, with Security Hub's
/// `requiredKeyTags` for the control of its kind where Security Hub reported them.
pub fn params_for(
    resource_type: ResourceType,
    configured: &Params,
    hub: &hub_params::HubParameters,
) -> Params {
    let control = match resource_type {
        ResourceType::AppImageConfig => ControlId::SageMaker6,
        ResourceType::Image => ControlId::SageMaker7,
        _ => return configured.clone(),
    };
    match hub.tag_keys(control) {
        Some(keys) => Params {
            required_tag_keys: keys.to_vec(),
            ..configured.clone()
        },
        None => configured.clone(),
    }
}

/// Evaluates `snapshot` with [`params_for`] its kind.
pub fn evaluate_with(
    snapshot: &Snapshot,
    configured: &Params,
    hub: &hub_params::HubParameters,
) -> Vec<Evaluation> {
    let params = params_for(snapshot.resource.resource_type, configured, hub);
    controls::evaluate(snapshot, &params)
}

/// By control, then resource ARN.
fn sort_evaluations(evaluations: &mut [Evaluation]) {
    evaluations.sort_by(|a, b| (a.control, &a.resource.arn).cmp(&(b.control, &b.resource.arn)));
}

/// The accounts and regions to sweep, with the SDK configuration for each (credentials
/// assumed per account where configured). Failures to resolve are sweep errors.
pub async fn targets(
    config: &Config,
    base: &SdkConfig,
) -> (Vec<(Target, SdkConfig)>, Vec<SweepError>) {
    let default_region = base.region().map(|r| r.to_string());
    let mut out = Vec::new();
    let mut errors = Vec::new();
    if let Err(error) = crate::organization::refresh_if_due(config, base).await {
        errors.push(SweepError {
            account: "organization".to_string(),
            region: String::new(),
            resource_type: None,
            resource_arn: None,
            error,
        });
    }
    let accounts: Vec<AccountConfig> = if config.own_account_only() {
        let id = match aws::caller_account(base).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(error = %e, "could not learn the caller's account; records take the account from each ARN");
                "caller".to_string()
            }
        };
        vec![AccountConfig {
            id,
            ..AccountConfig::default()
        }]
    } else {
        config.account_list()
    };
    for account in &accounts {
        let mut regions: Vec<String> = config.regions_for(account).to_vec();
        if regions.is_empty() {
            match &default_region {
                Some(r) => regions.push(r.clone()),
                None => {
                    errors.push(SweepError {
                        account: account.id.clone(),
                        region: String::new(),
                        resource_type: None,
                        resource_arn: None,
                        error: AwsError {
                            operation: "ResolveRegion",
                            resource: None,
                            class: aws::ErrorClass::Invalid,
                            code: None,
                            message:
                                "no region: set AWS_REGION, a profile region, or audit.regions"
                                    .to_string(),
                        },
                    });
                    continue;
                }
            }
        }
        for region in regions {
            let sdk = aws::account_config(base, account, &region).await;
            out.push((
                Target {
                    account: account.id.clone(),
                    region,
                },
                sdk,
            ));
        }
    }
    (out, errors)
}

/// The call stack settings of the audit (one stack per account and region).
pub fn stack_settings() -> StackSettings {
    StackSettings {
        // The audit's pace is bounded by `audit.concurrency` alone (and the SDK's retries
        // absorb throttling), so the stack only adds its timeout.
        requests_per_second: None,
        ..StackSettings::default()
    }
}

/// Runs the whole audit: every configured account and region, concurrently.
pub async fn run(config: &Config, base: &SdkConfig, progress: &Progress) -> Report {
    run_cached(config, base, progress, None).await
}

/// [`run`], describing only what the daemon's sweeps have not found compliant since it last
/// changed (`cache`: the daemon's store, see [`crate::store::Store::seen`]).
pub async fn run_cached(
    config: &Config,
    base: &SdkConfig,
    progress: &Progress,
    cache: Option<&dyn crate::store::Store>,
) -> Report {
    let (targets, mut errors) = targets(config, base).await;
    let concurrency = config.audit.concurrency;
    let from_hub = config.controls.from_security_hub;
    let sweeps = futures::future::join_all(targets.iter().map(|(target, sdk)| async move {
        let api = SdkSageMaker::new(sdk, CallStack::new(stack_settings()));
        let hub = async {
            match from_hub {
                true => Some(hub_params::read(sdk).await),
                false => None,
            }
        };
        let known = match cache {
            Some(store) => store
                .seen(&target.account, &target.region)
                .unwrap_or_else(|e| {
                    tracing::warn!(event = "sweep_cache_unreadable", error = %e, "describing everything");
                    HashMap::new()
                }),
            None => HashMap::new(),
        };
        let (swept, hub) = futures::join!(
            sweep_with(&api, target, concurrency, progress, &known),
            hub
        );
        (swept, hub)
    }))
    .await;
    let configured = config.control_params();
    let mut evaluations = Vec::new();
    let mut resources = 0;
    let mut parameter_notes = Vec::new();
    let mut unchanged_arns = Vec::new();
    for ((target, _), (s, hub)) in targets.iter().zip(sweeps) {
        errors.extend(s.errors);
        unchanged_arns.extend(s.unchanged_arns);
        resources += s.snapshots.len();
        let hub = match hub {
            Some(Ok(found)) => Some(found),
            Some(Err(e)) => {
                parameter_notes.push(format!(
                    "{} {}: Security Hub's control parameters could not be read ({e}); the \
                     configured ones apply",
                    target.account, target.region
                ));
                None
            }
            None => None,
        };
        let hub = hub.unwrap_or_default();
        for control in [ControlId::SageMaker6, ControlId::SageMaker7] {
            if let Some(keys) = hub
                .tag_keys(control)
                .filter(|k| **k != configured.required_tag_keys)
            {
                parameter_notes.push(format!(
                    "{} {}: Security Hub's {control} requiredKeyTags is {keys:?}, configured {:?}: \
                     the audit judges with Security Hub's",
                    target.account, target.region, configured.required_tag_keys
                ));
            }
        }
        for snapshot in &s.snapshots {
            evaluations.extend(evaluate_with(snapshot, &configured, &hub));
        }
    }
    sort_evaluations(&mut evaluations);
    Report {
        targets: targets.into_iter().map(|(t, _)| t).collect(),
        resources,
        evaluations,
        errors,
        parameter_notes,
        unchanged_arns,
    }
}

/// One JSON Lines record for an evaluation.
pub fn evaluation_json(e: &Evaluation) -> serde_json::Value {
    json!({
        "control": e.control,
        "resource_arn": e.resource.arn,
        "resource_name": e.resource.name,
        "resource_type": e.resource.resource_type.config_type(),
        "account": e.resource.account,
        "region": e.resource.region,
        "status": e.status.as_str(),
        "remediation": e.remediation.as_str(),
        "reason": e.reason,
    })
}

/// One JSON Lines record for a failed part of the sweep.
pub fn error_json(e: &SweepError) -> serde_json::Value {
    json!({
        "error": e.error.to_string(),
        "error_class": e.error.class.as_str(),
        "error_code": e.error.code,
        "operation": e.error.operation,
        "account": e.account,
        "region": e.region,
        "resource_type": e.resource_type.map(|t| t.config_type()),
        "resource_arn": e.resource_arn,
    })
}

/// Writes the report as JSON Lines: evaluations, then errors.
pub fn write_json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for e in &report.evaluations {
        writeln!(out, "{}", evaluation_json(e))?;
    }
    for e in &report.errors {
        writeln!(out, "{}", error_json(e))?;
    }
    for arn in &report.unchanged_arns {
        let record = serde_json::json!({
            "resource_arn": arn,
            "cached": "compliant when the daemon last described it, unchanged since (not judged again)",
        });
        writeln!(out, "{record}")?;
    }
    Ok(())
}

/// Writes the readable summary: one line per control, then the failing resources.
pub fn write_table(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let regions: std::collections::BTreeSet<&str> =
        report.targets.iter().map(|t| t.region.as_str()).collect();
    let accounts: std::collections::BTreeSet<&str> =
        report.targets.iter().map(|t| t.account.as_str()).collect();
    writeln!(
        out,
        "SageMaker compliance audit: {} account(s), {} region(s), {} resources, {} evaluations",
        accounts.len(),
        regions.len(),
        report.resources,
        report.evaluations.len()
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<12} {:>6} {:>6} {:>4}  title",
        "control", "passed", "failed", "n/a"
    )?;
    for control in ControlId::ALL {
        let count = |status| {
            report
                .evaluations
                .iter()
                .filter(|e| e.control == control && e.status == status)
                .count()
        };
        writeln!(
            out,
            "{:<12} {:>6} {:>6} {:>4}  {}",
            control.as_str(),
            count(Status::Passed),
            count(Status::Failed),
            count(Status::NotApplicable),
            control.title()
        )?;
    }
    let failed: Vec<&Evaluation> = report.failed().collect();
    writeln!(out)?;
    if failed.is_empty() {
        writeln!(out, "No failing resources.")?;
    } else {
        writeln!(out, "Failing resources ({}):", failed.len())?;
        for e in failed {
            writeln!(
                out,
                "  {:<12} {:<9} {}  {}",
                e.control.as_str(),
                e.remediation.as_str(),
                e.resource.arn,
                e.reason
            )?;
        }
    }
    if !report.unchanged_arns.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Not judged again ({}): compliant when the daemon last described them, unchanged \
             since (--cached).",
            report.unchanged_arns.len()
        )?;
    }
    if !report.parameter_notes.is_empty() {
        writeln!(out)?;
        writeln!(out, "Control parameters from Security Hub:")?;
        for note in &report.parameter_notes {
            writeln!(out, "  {note}")?;
        }
    }
    if !report.errors.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Incomplete: {} part(s) of the sweep failed (see stderr).",
            report.errors.len()
        )?;
    }
    Ok(())
}

/// One line on stderr per failed part of the sweep.
pub fn describe_error(e: &SweepError) -> String {
    let what = match (&e.resource_arn, e.resource_type) {
        (Some(arn), _) => arn.clone(),
        (None, Some(kind)) => kind_plural(kind).to_string(),
        (None, None) => "account".to_string(),
    };
    format!("error: {} {}: {}: {}", e.account, e.region, what, e.error)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::aws::ErrorClass;
    use crate::model::{Arn, Endpoint, EndpointConfig, Model, Notebook, NotebookStatus, Tag};

    /// A hand-written fake: a fixed fleet, and notebooks that vanish between List and Describe.
    #[derive(Default)]
    struct Fake {
        notebooks: Vec<Listed>,
        vanished: Vec<String>,
        images_denied: bool,
        in_flight: Mutex<(usize, usize)>,
    }

    fn listed(kind: &str, name: &str) -> Listed {
        Listed {
            name: name.to_string(),
            arn: format!(
                "arn:aws:sagemaker:eu-west-1:111122223333:{kind}/{}",
                name.to_lowercase()
            )
            .into(),
            version: None,
        }
    }

    fn err(operation: &'static str, class: ErrorClass) -> AwsError {
        AwsError {
            operation,
            resource: None,
            class,
            code: None,
            message: String::new(),
        }
    }

    impl SageMakerApi for Fake {
        async fn list_notebooks(&self) -> Result<Vec<Listed>, AwsError> {
            Ok(self.notebooks.clone())
        }
        async fn describe_notebook(&self, name: &str) -> Result<Notebook, AwsError> {
            {
                let mut f = self.in_flight.lock().unwrap();
                f.0 += 1;
                f.1 = f.1.max(f.0);
            }
            tokio::task::yield_now().await;
            self.in_flight.lock().unwrap().0 -= 1;
            if self.vanished.iter().any(|v| v == name) {
                return Err(err("DescribeNotebookInstance", ErrorClass::NotFound));
            }
            Ok(Notebook {
                status: NotebookStatus::InService,
                direct_internet_access: Some("Disabled".into()),
                subnet_id: Some("subnet-1".into()),
                security_group_ids: vec![],
                root_access: Some("Enabled".into()),
                platform_identifier: Some("notebook-al2-v3".into()),
                instance_type: None,
                role_arn: None,
                kms_key_id: None,
                volume_size_gb: None,
            })
        }
        async fn list_endpoint_configs(&self) -> Result<Vec<Listed>, AwsError> {
            Ok(vec![])
        }
        async fn describe_endpoint_config(&self, _: &str) -> Result<EndpointConfig, AwsError> {
            Ok(EndpointConfig { variants: vec![] })
        }
        async fn list_models(&self) -> Result<Vec<Listed>, AwsError> {
            Ok(vec![listed("model", "m")])
        }
        async fn describe_model(&self, _: &str) -> Result<Model, AwsError> {
            Ok(Model {
                enable_network_isolation: Some(true),
            })
        }
        async fn list_images(&self) -> Result<Vec<(Listed, Image)>, AwsError> {
            if self.images_denied {
                return Err(err("ListImages", ErrorClass::AccessDenied));
            }
            Ok(vec![(
                listed("image", "img"),
                Image {
                    status: "CREATED".into(),
                    tags: vec![],
                },
            )])
        }
        async fn list_app_image_configs(&self) -> Result<Vec<Listed>, AwsError> {
            Ok(vec![])
        }
        async fn list_tags(&self, _: &str) -> Result<Vec<Tag>, AwsError> {
            Ok(vec![Tag::new("owner", "me")])
        }
        async fn stop_notebook(&self, _: &str) -> Result<(), AwsError> {
            Err(err("StopNotebookInstance", ErrorClass::Invalid))
        }
        async fn start_notebook(&self, _: &str) -> Result<(), AwsError> {
            Err(err("StartNotebookInstance", ErrorClass::Invalid))
        }
        async fn update_notebook(&self, _: &str, _: bool, _: Option<&str>) -> Result<(), AwsError> {
            Err(err("UpdateNotebookInstance", ErrorClass::Invalid))
        }
        async fn add_tags(&self, _: &str, _: &[Tag]) -> Result<(), AwsError> {
            Err(err("AddTags", ErrorClass::Invalid))
        }
        async fn delete_tags(&self, _: &str, _: &[&str]) -> Result<(), AwsError> {
            Err(err("DeleteTags", ErrorClass::Invalid))
        }
        async fn endpoint_config_arn(&self, _: &str) -> Result<Option<Arn>, AwsError> {
            Ok(None)
        }
        async fn list_endpoints(&self) -> Result<Vec<Listed>, AwsError> {
            Ok(vec![])
        }
        async fn describe_endpoint(&self, _: &str) -> Result<Endpoint, AwsError> {
            Err(err("DescribeEndpoint", ErrorClass::NotFound))
        }
        async fn copy_endpoint_config(
            &self,
            _: &str,
            _: &str,
            _: i32,
            _: &[Tag],
        ) -> Result<Arn, AwsError> {
            Err(err("CreateEndpointConfig", ErrorClass::Invalid))
        }
        async fn update_endpoint(&self, _: &str, _: &str, _: &[String]) -> Result<(), AwsError> {
            Err(err("UpdateEndpoint", ErrorClass::Invalid))
        }
        async fn hub_parameters(&self) -> Result<crate::aws::hub_params::HubParameters, AwsError> {
            Ok(crate::aws::hub_params::HubParameters::default())
        }
    }

    fn target() -> Target {
        Target {
            account: "111122223333".into(),
            region: "eu-west-1".into(),
        }
    }

    #[tokio::test]
    async fn a_resource_deleted_between_list_and_describe_is_an_error_record_and_the_rest_goes_on()
    {
        let fake = Fake {
            notebooks: vec![
                listed("notebook-instance", "A"),
                listed("notebook-instance", "B"),
            ],
            vanished: vec!["B".into()],
            ..Fake::default()
        };
        let sweep = sweep(&fake, &target(), 4, &Progress::new(false)).await;
        assert_eq!(sweep.errors.len(), 1);
        let e = &sweep.errors[0];
        assert_eq!(e.error.class, ErrorClass::NotFound);
        assert_eq!(
            e.resource_arn.as_deref(),
            Some("arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/b")
        );
        // Notebook A, the model and the image were still snapshotted.
        let mut names: Vec<&str> = sweep
            .snapshots
            .iter()
            .map(|s| s.resource.name.as_str())
            .collect();
        names.sort();
        assert_eq!(names, ["A", "img", "m"]);
        let image = sweep
            .snapshots
            .iter()
            .find(|s| s.resource.resource_type == ResourceType::Image)
            .unwrap();
        assert_eq!(
            image.detail,
            Detail::Image(Image {
                status: "CREATED".into(),
                tags: vec![Tag::new("owner", "me")]
            })
        );
    }

    #[tokio::test]
    async fn a_failed_list_is_one_error_for_that_kind() {
        let fake = Fake {
            images_denied: true,
            ..Fake::default()
        };
        let sweep = sweep(&fake, &target(), 4, &Progress::new(false)).await;
        assert_eq!(sweep.errors.len(), 1);
        assert_eq!(sweep.errors[0].resource_type, Some(ResourceType::Image));
        assert_eq!(sweep.errors[0].resource_arn, None);
        assert_eq!(sweep.snapshots.len(), 1); // the model
    }

    #[tokio::test]
    async fn describes_never_exceed_the_concurrency_bound() {
        let fake = Fake {
            notebooks: (0..50)
                .map(|i| listed("notebook-instance", &format!("n{i}")))
                .collect(),
            ..Fake::default()
        };
        let sweep = sweep(&fake, &target(), 3, &Progress::new(false)).await;
        assert_eq!(sweep.snapshots.len(), 52);
        let max = fake.in_flight.lock().unwrap().1;
        assert!((2..=3).contains(&max), "max in flight {max}");
    }

    #[test]
    fn evaluations_are_sorted_by_control_then_arn() {
        let notebook = |name: &str| Snapshot {
            resource: ResourceRef {
                account: "1".into(),
                region: "r".into(),
                resource_type: ResourceType::NotebookInstance,
                name: name.into(),
                arn: format!("arn:{name}").into(),
            },
            detail: Detail::Notebook(Notebook {
                status: NotebookStatus::Stopped,
                direct_internet_access: None,
                subnet_id: None,
                security_group_ids: vec![],
                root_access: None,
                platform_identifier: None,
                instance_type: None,
                role_arn: None,
                kms_key_id: None,
                volume_size_gb: None,
            }),
        };
        let evaluations = evaluate_all(&[notebook("z"), notebook("a")], &Params::default());
        let order: Vec<(String, String)> = evaluations
            .iter()
            .map(|e| (e.control.to_string(), e.resource.name.clone()))
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        assert_eq!(evaluations.len(), 8);
        let counts: BTreeMap<ControlId, usize> =
            evaluations.iter().fold(BTreeMap::new(), |mut m, e| {
                *m.entry(e.control).or_default() += 1;
                m
            });
        assert_eq!(counts.len(), 4);
    }
}
