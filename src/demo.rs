//! The self-contained demonstration: a built-in SageMaker simulator on a loopback port, a small
//! realistic fleet seeded through the real SDK, and the audit run against it. The fleet and the
//! verdicts it should get are also what the integration tests and the benchmark seed.

use std::io::Write;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_sagemaker::types::{
    ContainerDefinition, DirectInternetAccess, InstanceType, KernelGatewayImageConfig, KernelSpec,
    ProductionVariant, ProductionVariantInstanceType, ProductionVariantServerlessConfig,
    RootAccess, Tag,
};
use aws_sdk_sagemaker::Client;

use std::sync::Arc;

use serde_json::json;

use crate::audit::{self, Progress, Report};
use crate::aws::AwsError;
use crate::config::{AccountConfig, Action, Config, Mode};
use crate::intake::{self, Disposition};
use crate::model::{ControlId, Evaluation, ResourceRef, ResourceType, Status};
use crate::reconcile::StepObserver;
use crate::sim::{SimConfig, Simulator};
use crate::store::{Channel, SqliteStore, StepRecord, Store};
use crate::{daemon, journal, shutdown};

/// The region the demo and the tests use.
pub const REGION: &str = "us-east-1";
/// The role every seeded resource names (nothing assumes it).
const ROLE: &str = "arn:aws:iam::123456789012:role/SageMakerExecution";

/// A notebook instance to create.
#[derive(Debug, Clone)]
pub struct SeedNotebook {
    pub name: &'static str,
    pub direct_internet_access: bool,
    pub in_vpc: bool,
    pub root_access: bool,
    /// `None`: let the service choose its default.
    pub platform: Option<&'static str>,
}

/// A production variant: `Some(count)` instance-based, `None` serverless.
pub type SeedVariant = Option<i32>;

/// The seeded fleet: every control has compliant and violating resources.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub notebooks: Vec<SeedNotebook>,
    pub endpoint_configs: Vec<(&'static str, Vec<SeedVariant>)>,
    /// (endpoint name, endpoint config): seeded with [`Kinds::All`] only.
    pub endpoints: Vec<(&'static str, &'static str)>,
    /// (name, network isolation)
    pub models: Vec<(&'static str, bool)>,
    /// (name, tags)
    pub images: Vec<(&'static str, Vec<(&'static str, &'static str)>)>,
    pub app_image_configs: Vec<(&'static str, Vec<(&'static str, &'static str)>)>,
}

/// The fleet the demo and the tests seed.
pub fn fleet() -> Fleet {
    Fleet {
        notebooks: vec![
            SeedNotebook {
                name: "DS-Team-Notebook",
                direct_internet_access: false,
                in_vpc: true,
                root_access: false,
                platform: None,
            },
            SeedNotebook {
                name: "fraud-model-dev",
                direct_internet_access: false,
                in_vpc: true,
                root_access: true,
                platform: Some("notebook-al2-v3"),
            },
            SeedNotebook {
                name: "quick-experiment",
                direct_internet_access: true,
                in_vpc: false,
                root_access: true,
                platform: None,
            },
            SeedNotebook {
                name: "legacy-analysis",
                direct_internet_access: false,
                in_vpc: true,
                root_access: false,
                platform: Some("notebook-al2-v2"),
            },
        ],
        endpoint_configs: vec![
            ("churn-prod-config", vec![Some(2)]),
            ("churn-staging-config", vec![Some(1)]),
            ("recs-mixed-config", vec![Some(3), Some(1)]),
            ("search-serverless-config", vec![None]),
        ],
        // churn-staging-config serves an endpoint (replaced after an approval in the demo);
        // recs-mixed-config serves none (flagged: nothing to move).
        endpoints: vec![
            ("churn-prod", "churn-prod-config"),
            ("churn-staging", "churn-staging-config"),
        ],
        models: vec![("churn-model-isolated", true), ("churn-model-open", false)],
        images: vec![
            (
                "team-base-image",
                vec![("owner", "ml-platform"), ("team", "data-science")],
            ),
            ("scratch-image", vec![]),
        ],
        app_image_configs: vec![
            ("team-kernel-config", vec![("owner", "ml-platform")]),
            ("untagged-kernel-config", vec![]),
        ],
    }
}

/// What the audit must report for the fleet, with the default control parameters
/// (supported platform `notebook-al2023-v1`, any tag). Written by hand, not computed by the
/// controls, so that tests comparing against it can fail.
pub fn expected_verdicts() -> Vec<(ControlId, &'static str, Status)> {
    use ControlId::*;
    use Status::*;
    vec![
        (SageMaker1, "DS-Team-Notebook", Passed),
        (SageMaker2, "DS-Team-Notebook", Passed),
        (SageMaker3, "DS-Team-Notebook", Passed),
        (SageMaker8, "DS-Team-Notebook", Passed),
        (SageMaker1, "fraud-model-dev", Passed),
        (SageMaker2, "fraud-model-dev", Passed),
        (SageMaker3, "fraud-model-dev", Failed),
        (SageMaker8, "fraud-model-dev", Failed),
        (SageMaker1, "quick-experiment", Failed),
        (SageMaker2, "quick-experiment", Failed),
        (SageMaker3, "quick-experiment", Failed),
        (SageMaker8, "quick-experiment", Passed),
        (SageMaker1, "legacy-analysis", Passed),
        (SageMaker2, "legacy-analysis", Passed),
        (SageMaker3, "legacy-analysis", Passed),
        (SageMaker8, "legacy-analysis", Failed),
        (SageMaker4, "churn-prod-config", Passed),
        (SageMaker4, "churn-staging-config", Failed),
        (SageMaker4, "recs-mixed-config", Failed),
        (SageMaker4, "search-serverless-config", NotApplicable),
        (SageMaker5, "churn-model-isolated", Passed),
        (SageMaker5, "churn-model-open", Failed),
        (SageMaker7, "team-base-image", Passed),
        (SageMaker7, "scratch-image", Failed),
        (SageMaker6, "team-kernel-config", Passed),
        (SageMaker6, "untagged-kernel-config", Failed),
    ]
}

/// Which kinds to seed: moto offers notebooks, endpoint configs and models, not the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kinds {
    All,
    NotebooksEndpointConfigsModels,
}

/// Creates the fleet through the SageMaker API.
pub async fn seed(client: &Client, fleet: &Fleet, kinds: Kinds) -> Result<(), AwsError> {
    for n in &fleet.notebooks {
        seed_notebook(client, n).await?;
    }
    // Endpoint configs name a model: create the models first.
    for (name, isolated) in &fleet.models {
        client
            .create_model()
            .model_name(*name)
            .execution_role_arn(ROLE)
            .enable_network_isolation(*isolated)
            .primary_container(
                ContainerDefinition::builder()
                    .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:latest")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateModel", Some(name), e))?;
    }
    for (name, variants) in &fleet.endpoint_configs {
        let mut request = client.create_endpoint_config().endpoint_config_name(*name);
        for (i, count) in variants.iter().enumerate() {
            let builder = ProductionVariant::builder()
                .variant_name(format!("variant-{}", i + 1))
                .model_name("churn-model-isolated");
            let variant = match count {
                Some(count) => builder
                    .instance_type(ProductionVariantInstanceType::MlM5Large)
                    .initial_instance_count(*count),
                None => builder.serverless_config(
                    ProductionVariantServerlessConfig::builder()
                        .memory_size_in_mb(2048)
                        .max_concurrency(5)
                        .build(),
                ),
            };
            request = request.production_variants(variant.build());
        }
        request
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateEndpointConfig", Some(name), e))?;
    }
    if kinds == Kinds::NotebooksEndpointConfigsModels {
        return Ok(());
    }
    for (name, config) in &fleet.endpoints {
        client
            .create_endpoint()
            .endpoint_name(*name)
            .endpoint_config_name(*config)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateEndpoint", Some(name), e))?;
    }
    for (name, tags) in &fleet.images {
        let mut request = client.create_image().image_name(*name).role_arn(ROLE);
        for (k, v) in tags {
            request = request.tags(tag(k, v));
        }
        request
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateImage", Some(name), e))?;
    }
    for (name, tags) in &fleet.app_image_configs {
        let mut request = client
            .create_app_image_config()
            .app_image_config_name(*name)
            .kernel_gateway_image_config(
                KernelGatewayImageConfig::builder()
                    .kernel_specs(KernelSpec::builder().name("python3").build())
                    .build(),
            );
        for (k, v) in tags {
            request = request.tags(tag(k, v));
        }
        request
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateAppImageConfig", Some(name), e))?;
    }
    Ok(())
}

/// Creates one notebook instance as described.
pub async fn seed_notebook(client: &Client, n: &SeedNotebook) -> Result<(), AwsError> {
    let mut request = client
        .create_notebook_instance()
        .notebook_instance_name(n.name)
        .instance_type(InstanceType::MlT3Medium)
        .role_arn(ROLE)
        .direct_internet_access(if n.direct_internet_access {
            DirectInternetAccess::Enabled
        } else {
            DirectInternetAccess::Disabled
        })
        .root_access(if n.root_access {
            RootAccess::Enabled
        } else {
            RootAccess::Disabled
        });
    if n.in_vpc {
        request = request
            .subnet_id("subnet-0a1b2c3d4e5f67890")
            .security_group_ids("sg-0123456789abcdef0");
    }
    if let Some(platform) = n.platform {
        request = request.platform_identifier(platform);
    }
    request
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateNotebookInstance", Some(n.name), e))?;
    Ok(())
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

/// SDK configuration for talking to an emulator at `endpoint` with dummy credentials (the
/// rest, such as the time source and HTTP client, from the SDK's defaults).
pub async fn emulator_sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "demo", "demo", None, None, "demo",
        )))
        .load()
        .await
}

/// Errors of the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("could not start the simulator: {0}")]
    Simulator(#[source] std::io::Error),
    #[error("could not seed the fleet: {0}")]
    Seed(#[source] AwsError),
    #[error("could not write the report: {0}")]
    Output(#[source] std::io::Error),
    #[error("the daemon failed: {0}")]
    Daemon(String),
}

/// A Security Hub "Findings - Imported" event (ASFF, consolidated control findings) for one
/// failed evaluation, as EventBridge delivers it.
pub fn security_hub_event(e: &Evaluation, event_id: &str) -> String {
    let r = &e.resource;
    let mut resource = json!({
        "Type": r.resource_type.asff_type(),
        "Id": r.arn,
        "Partition": "aws",
        "Region": r.region,
    });
    if r.resource_type == ResourceType::NotebookInstance {
        resource["Details"] = json!({
            "AwsSageMakerNotebookInstance": { "NotebookInstanceName": r.name }
        });
    }
    json!({
        "version": "0",
        "id": event_id,
        "detail-type": "Security Hub Findings - Imported",
        "source": "aws.securityhub",
        "account": r.account,
        "time": "2026-11-22T12:00:00Z",
        "region": r.region,
        "resources": [format!("arn:aws:securityhub:{}:{}:security-control/{}/finding/{event_id}", r.region, r.account, e.control)],
        "detail": { "findings": [{
            "SchemaVersion": "2018-10-08",
            "Id": format!("arn:aws:securityhub:{}:{}:security-control/{}/finding/{event_id}", r.region, r.account, e.control),
            "ProductArn": format!("arn:aws:securityhub:{}::product/aws/securityhub", r.region),
            "GeneratorId": format!("security-control/{}", e.control),
            "AwsAccountId": r.account,
            "Region": r.region,
            "Title": e.control.title(),
            "Compliance": { "Status": "FAILED", "SecurityControlId": e.control.as_str() },
            "RecordState": "ACTIVE",
            "Workflow": { "Status": "NEW" },
            "Resources": [resource],
        }]}
    })
    .to_string()
}

/// Prints the steps as they happen until every trigger is handled and nothing is left running
/// or unsent (at most a minute).
async fn settle(
    store: &SqliteStore,
    lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    out: &mut dyn Write,
) -> Result<(), DemoError> {
    let since = std::time::Instant::now();
    let deadline = since + Duration::from_secs(60);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        while let Ok(line) = lines.try_recv() {
            writeln!(out, "{line}").map_err(DemoError::Output)?;
        }
        let idle = store.next_due().ok().flatten().is_none()
            && store.unfinished().map(|u| u.is_empty()).unwrap_or(false)
            && store.outbox_len(Channel::Events).is_ok_and(|n| n == 0)
            && store.outbox_len(Channel::Findings).is_ok_and(|n| n == 0)
            && since.elapsed() > Duration::from_secs(2);
        if idle || std::time::Instant::now() > deadline {
            return Ok(());
        }
    }
}

/// Runs the demo: simulator, fleet, audit, then the daemon in enforce mode fed with a
/// Security Hub event per violation, showing each remediation step, and the audit again.
pub async fn run(config: &Config, out: &mut dyn Write) -> Result<Report, DemoError> {
    let sim_config = SimConfig {
        transition_delay: Duration::from_millis(400),
        ..SimConfig::default()
    };
    let account = sim_config.account.clone();
    let handle = Simulator::start(sim_config)
        .await
        .map_err(DemoError::Simulator)?;
    let sdk = emulator_sdk_config(&handle.endpoint()).await;
    let fleet = fleet();
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(DemoError::Output);
    w(
        out,
        format!(
            "sagemaker-remediator demo: a SageMaker simulator is listening on {} (no AWS account involved).",
            handle.endpoint()
        ),
    )?;
    w(
        out,
        format!(
            "Seeding {} notebook instances, {} endpoint configs, {} models, {} images and {} app image configs...\n",
            fleet.notebooks.len(),
            fleet.endpoint_configs.len(),
            fleet.models.len(),
            fleet.images.len(),
            fleet.app_image_configs.len()
        ),
    )?;
    seed(&Client::new(&sdk), &fleet, Kinds::All)
        .await
        .map_err(DemoError::Seed)?;
    // Let the notebooks reach InService, as real ones would be.
    tokio::time::sleep(Duration::from_millis(600)).await;
    handle.simulator.reset_calls();

    let mut config = config.clone();
    config.audit.regions = vec![REGION.to_string()];
    config.accounts = vec![AccountConfig {
        id: account.clone(),
        enforce: true,
        ..AccountConfig::default()
    }];
    w(out, "== 1. Audit (read-only) ==\n".to_string())?;
    let before = audit::run(&config, &sdk, &Progress::new(false)).await;
    audit::write_table(&before, out).map_err(DemoError::Output)?;
    let calls = handle.simulator.calls();
    w(
        out,
        format!(
            "\nThe audit made {} SageMaker calls, {} of them mutating (counted by the simulator).\n",
            calls.total_received(),
            calls.mutating_succeeded()
        ),
    )?;

    // The daemon, in enforce mode for the simulator's account.
    config.mode = Mode::Enforce;
    config.actions.insert(ControlId::SageMaker8, Action::Fix);
    config
        .remediation
        .tag_values
        .insert("owner".to_string(), "unassigned".to_string());
    config.remediation.poll_interval_secs = 1;
    config.remediation.max_poll_interval_secs = 1;
    config.daemon.queue_url = String::new();
    config.daemon.sweep_interval_secs = 0;
    config.daemon.listen = "127.0.0.1:0".to_string();
    config.daemon.error_backoff_secs = 1;
    // All three notebook fixes at once, so the demo takes seconds.
    config.limits.notebook_fixes_at_once = 8;
    // Outcomes go to an EventBridge bus: the simulator answers PutEvents too.
    config.notifications.event_bus = DEMO_BUS.to_string();
    // And onto the Security Hub findings.
    config.findings.update = true;
    let dir = tempfile_dir().map_err(DemoError::Output)?;
    let store = Arc::new(
        SqliteStore::open(&dir.join("journal.db")).map_err(|e| DemoError::Daemon(e.to_string()))?,
    );
    w(
        out,
        "== 2. The daemon in enforce mode ==\n\nConfiguration for this run: mode = \"enforce\", the account opted in, SageMaker.8 set to \"fix\" (default: \"flag\"),\nremediation.tag_values = { owner = \"unassigned\" }, notifications.event_bus = \"smr-demo-notifications\",\nfindings.update = true; SageMaker.4 keeps its default \"approve\" (a replacement costs money). One Security Hub finding event per violation goes\nthrough the event parser into the journal, as the SQS intake would record it:\n".to_string(),
    )?;
    let mut events = 0;
    for (i, e) in before.failed().enumerate() {
        // The finding the event reports, in the simulator's Security Hub (for the write-back).
        handle
            .simulator
            .add_finding(&e.resource.region, &e.resource.arn, e.control.as_str());
        let body = security_hub_event(e, &format!("demo-{i}"));
        if let Disposition::Recorded { .. } = intake::handle(&*store, &body) {
            events += 1;
        }
    }
    w(
        out,
        format!(
            "{events} events recorded as triggers for {} resources. Remediation steps as they happen:\n",
            store.pending_count().map_err(|e| DemoError::Daemon(e.to_string()))?
        ),
    )?;
    handle.simulator.reset_calls();

    let (lines_tx, mut lines_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let start = std::time::Instant::now();
    let observer: StepObserver = Arc::new(move |r: &ResourceRef, s: &StepRecord| {
        let _ = lines_tx.send(format!(
            "  {:>5.1}s  {:<24} {:<22} {:<7} {}",
            start.elapsed().as_secs_f64(),
            r.name,
            s.step.as_str(),
            s.phase.as_str(),
            s.detail
        ));
    });
    let (trigger, shutdown) = shutdown::channel();
    let daemon = tokio::spawn(daemon::serve(
        config.clone(),
        store.clone(),
        sdk.clone(),
        shutdown,
        Some(observer),
    ));
    settle(&store, &mut lines_rx, out).await?;
    // The SageMaker.4 replacement asked for approval (its default): a person approves it, as
    // `sagemaker-remediator approvals approve ID --by NAME --reason TEXT` would.
    let pending = store
        .approvals(Some(crate::store::ApprovalState::Pending), 10)
        .map_err(|e| DemoError::Daemon(e.to_string()))?;
    for a in &pending {
        w(
            out,
            format!(
                "\n  Approval request #{} for {}: {}.\n  Approved by demo-approver (\"CHG-1234: two instances for churn-staging\"); the daemon picks it up:\n",
                a.id,
                a.resource.name,
                crate::approvals::plan_in_words(&a.plan)
            ),
        )?;
        crate::approvals::decide(
            &*store,
            a.id,
            crate::store::Verdict::Approve,
            "demo-approver",
            "CHG-1234: two instances for churn-staging",
            crate::clock::now_ms(),
        )
        .map_err(|e| DemoError::Daemon(e.to_string()))?;
    }
    if !pending.is_empty() {
        settle(&store, &mut lines_rx, out).await?;
    }
    trigger.fire();
    let _ = daemon.await;
    while let Ok(line) = lines_rx.try_recv() {
        w(out, line)?;
    }
    let calls = handle.simulator.calls();
    w(
        out,
        format!(
            "\nDone in {:.1} s. Mutating calls made: {} StopNotebookInstance, {} UpdateNotebookInstance, {} StartNotebookInstance, {} AddTags (tag fixes, flag tags, the replaced config's tag), {} CreateEndpointConfig, {} UpdateEndpoint.\n",
            start.elapsed().as_secs_f64(),
            calls.succeeded("StopNotebookInstance"),
            calls.succeeded("UpdateNotebookInstance"),
            calls.succeeded("StartNotebookInstance"),
            calls.succeeded("AddTags"),
            calls.succeeded("CreateEndpointConfig"),
            calls.succeeded("UpdateEndpoint"),
        ),
    )?;
    w(
        out,
        format!("== 3. The events on the bus ({DEMO_BUS}) ==\n"),
    )?;
    for e in handle.simulator.bus_events() {
        let detail: serde_json::Value =
            serde_json::from_str(e["Detail"].as_str().unwrap_or("{}")).unwrap_or_default();
        w(
            out,
            format!(
                "  {:<22} {:<24} {:<26} {}",
                e["DetailType"].as_str().unwrap_or_default(),
                detail["resource"]["name"].as_str().unwrap_or_default(),
                detail["controls"]
                    .as_array()
                    .map(|c| c
                        .iter()
                        .filter_map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(" "))
                    .unwrap_or_default(),
                detail["reason"].as_str().unwrap_or_default(),
            ),
        )?;
    }
    w(
        out,
        "\n== 4. The Security Hub findings (workflow status: NEW before the run) ==\n".to_string(),
    )?;
    for f in handle.simulator.findings() {
        let arn = f["Resources"][0]["Id"].as_str().unwrap_or_default();
        w(
            out,
            format!(
                "  {:<12} {:<24} NEW -> {:<9} {}",
                f["Compliance"]["SecurityControlId"]
                    .as_str()
                    .unwrap_or_default(),
                arn.rsplit('/').next().unwrap_or_default(),
                f["Workflow"]["Status"].as_str().unwrap_or_default(),
                shorten(f["Note"]["Text"].as_str().unwrap_or_default(), 70),
            ),
        )?;
    }
    w(
        out,
        "\n== 5. The journal (sagemaker-remediator remediations) ==\n".to_string(),
    )?;
    journal::print(&*store, None, 50, false, out).map_err(|e| DemoError::Daemon(e.to_string()))?;

    w(out, "\n== 6. Audit again ==\n".to_string())?;
    let after = audit::run(&config, &sdk, &Progress::new(false)).await;
    audit::write_table(&after, out).map_err(DemoError::Output)?;
    w(
        out,
        "\nWhat is left needs a person: direct internet access, VPC and network isolation are create-only\n(the journal above holds a recreation plan for each). churn-staging now serves churn-staging-config-ha\n(two instances) after the approval; the old config stays FAILED until someone deletes it (nothing is\ndeleted by the daemon), and recs-mixed-config serves no endpoint, so it is flagged. The Amazon Linux 2\nnotebooks moved forward to notebook-al2023-v1; the notebooks already on it kept their platform.".to_string(),
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    handle.shutdown().await;
    Ok(after)
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.chars().count() > max {
        true => format!("{}…", text.chars().take(max - 1).collect::<String>()),
        false => text.to_string(),
    }
}

/// The bus the demo's daemon sends its notifications to (the simulator's).
const DEMO_BUS: &str = "smr-demo-notifications";

/// A fresh private directory for the demo's journal.
fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "sagemaker-remediator-demo-{}-{}",
        std::process::id(),
        crate::reconcile::now_ms()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
