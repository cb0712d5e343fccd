//! The narrow SageMaker interface the remediator calls, and its implementation over the SDK.
//! Everything returned is plain model data; SDK types stay in this file.

use std::future::Future;

use aws_sdk_sagemaker::types::RootAccess;
use aws_sdk_sagemaker::Client;

use super::stack::CallStack;
use super::AwsError;
use crate::model::{
    Arn, Endpoint, EndpointConfig, Image, Model, Notebook, NotebookStatus, Tag, Variant,
};

/// Page size for every List call: the API maximum, so a sweep makes as few calls as it can.
const PAGE_SIZE: i32 = 100;

/// A resource as a List call names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub arn: Arn,
    /// What the List call says that changes whenever the judged fields can change: a
    /// notebook's last modification and status, an (immutable) endpoint config's or model's
    /// creation time. `None`: unknown, always described.
    pub version: Option<String>,
}

/// The SageMaker calls the remediator makes. One value per account and region.
pub trait SageMakerApi: Send + Sync {
    /// Every notebook instance (all pages).
    fn list_notebooks(&self) -> impl Future<Output = Result<Vec<Listed>, AwsError>> + Send;
    fn describe_notebook(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Notebook, AwsError>> + Send;
    fn list_endpoint_configs(&self) -> impl Future<Output = Result<Vec<Listed>, AwsError>> + Send;
    fn describe_endpoint_config(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<EndpointConfig, AwsError>> + Send;
    fn list_models(&self) -> impl Future<Output = Result<Vec<Listed>, AwsError>> + Send;
    fn describe_model(&self, name: &str) -> impl Future<Output = Result<Model, AwsError>> + Send;
    /// Every image with its status (ListImages reports the status; tags come from `list_tags`).
    fn list_images(&self) -> impl Future<Output = Result<Vec<(Listed, Image)>, AwsError>> + Send;
    fn list_app_image_configs(&self) -> impl Future<Output = Result<Vec<Listed>, AwsError>> + Send;
    /// Every tag of a resource (all pages).
    fn list_tags(&self, arn: &str) -> impl Future<Output = Result<Vec<Tag>, AwsError>> + Send;
    fn stop_notebook(&self, name: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
    fn start_notebook(&self, name: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// UpdateNotebookInstance with only the fields to change.
    fn update_notebook(
        &self,
        name: &str,
        disable_root_access: bool,
        platform: Option<&str>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// AddTags: adds, or overwrites the value of, each tag.
    fn add_tags(
        &self,
        arn: &str,
        tags: &[Tag],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// DeleteTags: removes the keys (absent ones are no error).
    fn delete_tags(
        &self,
        arn: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// The ARN of the endpoint config named `name`, `None` when there is none.
    fn endpoint_config_arn(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Arn>, AwsError>> + Send;
    /// Every endpoint (all pages).
    fn list_endpoints(&self) -> impl Future<Output = Result<Vec<Listed>, AwsError>> + Send;
    fn describe_endpoint(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Endpoint, AwsError>> + Send;
    /// CreateEndpointConfig `target` as a copy of every field of `source` (a fresh Describe),
    /// each instance-based production variant with at least `min_instances` instances, and
    /// `tags`. Returns the new config's ARN.
    fn copy_endpoint_config(
        &self,
        source: &str,
        target: &str,
        min_instances: i32,
        tags: &[Tag],
    ) -> impl Future<Output = Result<Arn, AwsError>> + Send;
    /// UpdateEndpoint `name` to `config` as a blue/green deployment (all traffic at once, the
    /// old fleet kept until the new one is healthy, rolled back on failure and on any of
    /// `rollback_alarms`).
    fn update_endpoint(
        &self,
        name: &str,
        config: &str,
        rollback_alarms: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// SageMaker.6/.7's parameters in this account's and region's Security Hub
    /// (`BatchGetSecurityControls`, see [`super::hub_params`]).
    fn hub_parameters(
        &self,
    ) -> impl Future<Output = Result<super::hub_params::HubParameters, AwsError>> + Send;
}

/// [`SageMakerApi`] over the official SDK client, every call through the account's
/// [`CallStack`] (rate limit, timeout).
#[derive(Debug, Clone)]
pub struct SdkSageMaker {
    client: Client,
    stack: CallStack,
    /// For the Security Hub parameters of the same account and region.
    sdk: aws_config::SdkConfig,
}

impl SdkSageMaker {
    pub fn new(config: &aws_config::SdkConfig, stack: CallStack) -> SdkSageMaker {
        SdkSageMaker {
            client: Client::new(config),
            stack,
            sdk: config.clone(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs one call (a whole paginated listing counts as one) through the stack.
    async fn run<T, F, Fut>(&self, operation: &'static str, call: F) -> Result<T, AwsError>
    where
        T: Send + 'static,
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, AwsError>> + Send + 'static,
    {
        self.stack.call(operation, call(self.client.clone())).await
    }
}

/// One request sent, its SDK error made an [`AwsError`].
macro_rules! sent {
    ($request:expr, $operation:expr, $subject:expr) => {
        $request
            .send()
            .await
            .map_err(|e| AwsError::from_sdk($operation, $subject, e))
    };
}

/// Every page of a List request as one `Vec` of its items, or the first page's error.
macro_rules! all_pages {
    ($request:expr, $operation:expr, $subject:expr) => {
        $request
            .max_results(PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk($operation, $subject, e))
    };
}

fn sdk_tags(tags: &[Tag]) -> Vec<aws_sdk_sagemaker::types::Tag> {
    tags.iter()
        .map(|t| {
            aws_sdk_sagemaker::types::Tag::builder()
                .key(&t.key)
                .value(&t.value)
                .build()
        })
        .collect()
}

/// The blue/green DeploymentConfig of an endpoint config replacement.
fn blue_green(rollback_alarms: &[String]) -> aws_sdk_sagemaker::types::DeploymentConfig {
    use aws_sdk_sagemaker::types::{
        Alarm, AutoRollbackConfig, BlueGreenUpdatePolicy, DeploymentConfig, TrafficRoutingConfig,
        TrafficRoutingConfigType,
    };
    let routing = TrafficRoutingConfig::builder()
        .r#type(TrafficRoutingConfigType::AllAtOnce)
        .wait_interval_in_seconds(0)
        .build();
    // With alarms, the old fleet stays for a baking period in which an alarm rolls back.
    let baking = if rollback_alarms.is_empty() { 0 } else { 300 };
    let policy = BlueGreenUpdatePolicy::builder()
        .traffic_routing_configuration(routing)
        .termination_wait_in_seconds(baking)
        .build();
    let mut config = DeploymentConfig::builder().blue_green_update_policy(policy);
    if !rollback_alarms.is_empty() {
        let alarms = rollback_alarms
            .iter()
            .map(|a| Alarm::builder().alarm_name(a).build())
            .collect();
        config = config.auto_rollback_configuration(
            AutoRollbackConfig::builder()
                .set_alarms(Some(alarms))
                .build(),
        );
    }
    config.build()
}

fn listed(name: Option<&str>, arn: Option<&str>) -> Option<Listed> {
    Some(Listed {
        name: name?.to_string(),
        arn: arn?.into(),
        version: None,
    })
}

/// A List call's time as a version part (milliseconds since the epoch).
fn version_time(t: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    t.and_then(|t| t.to_millis().ok()).map(|ms| ms.to_string())
}

impl SageMakerApi for SdkSageMaker {
    async fn list_notebooks(&self) -> Result<Vec<Listed>, AwsError> {
        const OP: &str = "ListNotebookInstances";
        self.run(OP, |c| async move {
            let items = all_pages!(c.list_notebook_instances(), OP, None)?;
            Ok(items
                .iter()
                .filter_map(|n| {
                    let mut l = listed(n.notebook_instance_name(), n.notebook_instance_arn())?;
                    l.version = version_time(n.last_modified_time()).map(|t| {
                        let status = n.notebook_instance_status().map(|s| s.as_str());
                        format!("modified {t} {}", status.unwrap_or("?"))
                    });
                    Some(l)
                })
                .collect())
        })
        .await
    }

    async fn describe_notebook(&self, name: &str) -> Result<Notebook, AwsError> {
        const OP: &str = "DescribeNotebookInstance";
        let name = name.to_string();
        self.run(OP, |c| async move {
            let out = sent!(
                c.describe_notebook_instance().notebook_instance_name(&name),
                OP,
                Some(&name)
            )?;
            Ok(Notebook {
                status: NotebookStatus::parse(
                    out.notebook_instance_status()
                        .map(|s| s.as_str())
                        .unwrap_or(""),
                ),
                direct_internet_access: out
                    .direct_internet_access()
                    .map(|d| d.as_str().to_string()),
                subnet_id: out.subnet_id().map(str::to_string),
                security_group_ids: out.security_groups().to_vec(),
                root_access: out.root_access().map(|r| r.as_str().to_string()),
                platform_identifier: out.platform_identifier().map(str::to_string),
                instance_type: out.instance_type().map(|t| t.as_str().to_string()),
                role_arn: out.role_arn().map(str::to_string),
                kms_key_id: out.kms_key_id().map(str::to_string),
                volume_size_gb: out.volume_size_in_gb(),
            })
        })
        .await
    }

    async fn list_endpoint_configs(&self) -> Result<Vec<Listed>, AwsError> {
        const OP: &str = "ListEndpointConfigs";
        self.run(OP, |c| async move {
            let items = all_pages!(c.list_endpoint_configs(), OP, None)?;
            Ok(items
                .iter()
                .filter_map(|c| {
                    let mut l = listed(c.endpoint_config_name(), c.endpoint_config_arn())?;
                    l.version = version_time(c.creation_time()).map(|t| format!("created {t}"));
                    Some(l)
                })
                .collect())
        })
        .await
    }

    async fn describe_endpoint_config(&self, name: &str) -> Result<EndpointConfig, AwsError> {
        const OP: &str = "DescribeEndpointConfig";
        let name = name.to_string();
        self.run(OP, |c| async move {
            let out = sent!(
                c.describe_endpoint_config().endpoint_config_name(&name),
                OP,
                Some(&name)
            )?;
            Ok(EndpointConfig {
                variants: out
                    .production_variants()
                    .iter()
                    .map(|v| Variant {
                        name: v.variant_name().unwrap_or_default().to_string(),
                        model_name: v.model_name().map(str::to_string),
                        instance_type: v.instance_type().map(|t| t.as_str().to_string()),
                        initial_instance_count: v.initial_instance_count(),
                        serverless: v.serverless_config().is_some(),
                    })
                    .collect(),
            })
        })
        .await
    }

    async fn list_models(&self) -> Result<Vec<Listed>, AwsError> {
        const OP: &str = "ListModels";
        self.run(OP, |c| async move {
            let items = all_pages!(c.list_models(), OP, None)?;
            Ok(items
                .iter()
                .filter_map(|m| {
                    let mut l = listed(m.model_name(), m.model_arn())?;
                    l.version = version_time(m.creation_time()).map(|t| format!("created {t}"));
                    Some(l)
                })
                .collect())
        })
        .await
    }

    async fn describe_model(&self, name: &str) -> Result<Model, AwsError> {
        const OP: &str = "DescribeModel";
        let name = name.to_string();
        self.run(OP, |c| async move {
            let out = sent!(c.describe_model().model_name(&name), OP, Some(&name))?;
            Ok(Model {
                enable_network_isolation: out.enable_network_isolation(),
            })
        })
        .await
    }

    async fn list_images(&self) -> Result<Vec<(Listed, Image)>, AwsError> {
        const OP: &str = "ListImages";
        self.run(OP, |c| async move {
            let items = all_pages!(c.list_images(), OP, None)?;
            Ok(items
                .iter()
                .filter_map(|i| {
                    let l = listed(i.image_name(), i.image_arn())?;
                    let status = i
                        .image_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default();
                    Some((
                        l,
                        Image {
                            status,
                            tags: Vec::new(),
                        },
                    ))
                })
                .collect())
        })
        .await
    }

    async fn list_app_image_configs(&self) -> Result<Vec<Listed>, AwsError> {
        const OP: &str = "ListAppImageConfigs";
        self.run(OP, |c| async move {
            let items = all_pages!(c.list_app_image_configs(), OP, None)?;
            Ok(items
                .iter()
                .filter_map(|c| listed(c.app_image_config_name(), c.app_image_config_arn()))
                .collect())
        })
        .await
    }

    async fn list_tags(&self, arn: &str) -> Result<Vec<Tag>, AwsError> {
        const OP: &str = "ListTags";
        let arn = arn.to_string();
        self.run(OP, |c| async move {
            let items = all_pages!(c.list_tags().resource_arn(&arn), OP, Some(&arn))?;
            Ok(items
                .iter()
                .filter_map(|t| Some(Tag::new(t.key()?, t.value().unwrap_or_default())))
                .collect())
        })
        .await
    }

    async fn stop_notebook(&self, name: &str) -> Result<(), AwsError> {
        const OP: &str = "StopNotebookInstance";
        let name = name.to_string();
        self.run(OP, |c| async move {
            sent!(
                c.stop_notebook_instance().notebook_instance_name(&name),
                OP,
                Some(&name)
            )
            .map(|_| ())
        })
        .await
    }

    async fn start_notebook(&self, name: &str) -> Result<(), AwsError> {
        const OP: &str = "StartNotebookInstance";
        let name = name.to_string();
        self.run(OP, |c| async move {
            sent!(
                c.start_notebook_instance().notebook_instance_name(&name),
                OP,
                Some(&name)
            )
            .map(|_| ())
        })
        .await
    }

    async fn update_notebook(
        &self,
        name: &str,
        disable_root_access: bool,
        platform: Option<&str>,
    ) -> Result<(), AwsError> {
        const OP: &str = "UpdateNotebookInstance";
        let name = name.to_string();
        let platform = platform.map(str::to_string);
        self.run(OP, |c| async move {
            let mut request = c.update_notebook_instance().notebook_instance_name(&name);
            if disable_root_access {
                request = request.root_access(RootAccess::Disabled);
            }
            if let Some(platform) = platform {
                request = request.platform_identifier(platform);
            }
            sent!(request, OP, Some(&name)).map(|_| ())
        })
        .await
    }

    async fn add_tags(&self, arn: &str, tags: &[Tag]) -> Result<(), AwsError> {
        const OP: &str = "AddTags";
        let arn = arn.to_string();
        let tags = sdk_tags(tags);
        self.run(OP, |c| async move {
            sent!(
                c.add_tags().resource_arn(&arn).set_tags(Some(tags)),
                OP,
                Some(&arn)
            )
            .map(|_| ())
        })
        .await
    }

    async fn delete_tags(&self, arn: &str, keys: &[&str]) -> Result<(), AwsError> {
        const OP: &str = "DeleteTags";
        let arn = arn.to_string();
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_string()).collect();
        self.run(OP, |c| async move {
            sent!(
                c.delete_tags().resource_arn(&arn).set_tag_keys(Some(keys)),
                OP,
                Some(&arn)
            )
            .map(|_| ())
        })
        .await
    }
    async fn endpoint_config_arn(&self, name: &str) -> Result<Option<Arn>, AwsError> {
        const OP: &str = "DescribeEndpointConfig";
        let name = name.to_string();
        let found = self
            .run(OP, |c| async move {
                let out = sent!(
                    c.describe_endpoint_config().endpoint_config_name(&name),
                    OP,
                    Some(&name)
                )?;
                Ok(out.endpoint_config_arn().map(Arn::from))
            })
            .await;
        match found {
            Err(e) if e.class == super::ErrorClass::NotFound => Ok(None),
            other => other,
        }
    }

    async fn list_endpoints(&self) -> Result<Vec<Listed>, AwsError> {
        const OP: &str = "ListEndpoints";
        self.run(OP, |c| async move {
            let items = all_pages!(c.list_endpoints(), OP, None)?;
            Ok(items
                .iter()
                .filter_map(|e| listed(e.endpoint_name(), e.endpoint_arn()))
                .collect())
        })
        .await
    }

    async fn describe_endpoint(&self, name: &str) -> Result<Endpoint, AwsError> {
        const OP: &str = "DescribeEndpoint";
        let name = name.to_string();
        self.run(OP, |c| async move {
            let out = sent!(c.describe_endpoint().endpoint_name(&name), OP, Some(&name))?;
            Ok(Endpoint {
                status: out
                    .endpoint_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                config_name: out.endpoint_config_name().unwrap_or_default().to_string(),
                failure_reason: out.failure_reason().map(str::to_string),
                last_modified_ms: out.last_modified_time().and_then(|t| t.to_millis().ok()),
            })
        })
        .await
    }

    async fn copy_endpoint_config(
        &self,
        source: &str,
        target: &str,
        min_instances: i32,
        tags: &[Tag],
    ) -> Result<Arn, AwsError> {
        const DESCRIBE: &str = "DescribeEndpointConfig";
        const OP: &str = "CreateEndpointConfig";
        let source = source.to_string();
        let old = self
            .run(DESCRIBE, |c| async move {
                sent!(
                    c.describe_endpoint_config().endpoint_config_name(&source),
                    DESCRIBE,
                    Some(&source)
                )
            })
            .await?;
        let variants = old
            .production_variants()
            .iter()
            .cloned()
            .map(|mut v| {
                if v.serverless_config.is_none() {
                    v.initial_instance_count =
                        Some(v.initial_instance_count.unwrap_or(1).max(min_instances));
                }
                v
            })
            .collect();
        let shadows = old.shadow_production_variants().to_vec();
        let target = target.to_string();
        let tags = sdk_tags(tags);
        self.run(OP, |c| async move {
            let request = c
                .create_endpoint_config()
                .endpoint_config_name(&target)
                .set_production_variants(Some(variants))
                .set_data_capture_config(old.data_capture_config().cloned())
                .set_kms_key_id(old.kms_key_id().map(str::to_string))
                .set_async_inference_config(old.async_inference_config().cloned())
                .set_explainer_config(old.explainer_config().cloned())
                .set_shadow_production_variants((!shadows.is_empty()).then_some(shadows))
                .set_execution_role_arn(old.execution_role_arn().map(str::to_string))
                .set_vpc_config(old.vpc_config().cloned())
                .set_enable_network_isolation(old.enable_network_isolation())
                .set_metrics_config(old.metrics_config().cloned())
                .set_tags((!tags.is_empty()).then_some(tags));
            let out = sent!(request, OP, Some(&target))?;
            Ok(Arn::from(out.endpoint_config_arn().unwrap_or_default()))
        })
        .await
    }

    async fn update_endpoint(
        &self,
        name: &str,
        config: &str,
        rollback_alarms: &[String],
    ) -> Result<(), AwsError> {
        const OP: &str = "UpdateEndpoint";
        let name = name.to_string();
        let config = config.to_string();
        let deployment = blue_green(rollback_alarms);
        self.run(OP, |c| async move {
            sent!(
                c.update_endpoint()
                    .endpoint_name(&name)
                    .endpoint_config_name(&config)
                    .deployment_config(deployment),
                OP,
                Some(&name)
            )
            .map(|_| ())
        })
        .await
    }

    async fn hub_parameters(&self) -> Result<super::hub_params::HubParameters, AwsError> {
        let sdk = self.sdk.clone();
        self.stack
            .call("BatchGetSecurityControls", async move {
                super::hub_params::read(&sdk).await
            })
            .await
    }
}
