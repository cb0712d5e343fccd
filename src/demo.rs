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

use crate::audit::{self, Progress, Report};
use crate::aws::AwsError;
use crate::config::{AccountConfig, Config};
use crate::model::{ControlId, Status};
use crate::sim::{SimConfig, Simulator};

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
                platform: Some("notebook-al2-v3"),
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
/// (supported platform `notebook-al2-v3`, any tag). Written by hand, not computed by the
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
        (SageMaker8, "fraud-model-dev", Passed),
        (SageMaker1, "quick-experiment", Failed),
        (SageMaker2, "quick-experiment", Failed),
        (SageMaker3, "quick-experiment", Failed),
        (SageMaker8, "quick-experiment", Failed),
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
}

/// Runs the demo: simulator, fleet, audit, report. `config` supplies the control parameters;
/// its accounts and regions are replaced by the simulator's.
pub async fn run(config: &Config, out: &mut dyn Write) -> Result<Report, DemoError> {
    let sim_config = SimConfig {
        transition_delay: Duration::from_millis(200),
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
    handle.simulator.reset_calls();

    let mut config = config.clone();
    config.audit.regions = vec![REGION.to_string()];
    config.accounts = vec![AccountConfig {
        id: account,
        ..AccountConfig::default()
    }];
    let report = audit::run(&config, &sdk, &Progress::new(false)).await;
    audit::write_table(&report, out).map_err(DemoError::Output)?;
    for e in &report.errors {
        w(out, audit::describe_error(e))?;
    }
    let calls = handle.simulator.calls();
    w(
        out,
        format!(
            "\nThe audit made {} SageMaker calls, {} of them mutating (counted by the simulator).",
            calls.total_received(),
            calls.mutating_succeeded()
        ),
    )?;
    w(
        out,
        "Run `sagemaker-remediator audit --format json` against a real account (or any endpoint set in AWS_ENDPOINT_URL) to get the same report as JSON Lines.".to_string(),
    )?;
    handle.shutdown().await;
    Ok(report)
}
