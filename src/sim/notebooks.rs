//! Notebook instances: Create, Describe, List, Stop, Start, Update and Delete, with the
//! lifecycle table of the AWS reference (which call is allowed from which status) and
//! lazy transitions (Pending -> InService, Stopping -> Stopped, Updating -> Stopped, Deleting -> gone).

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::listing::{self, listed_fields, Listed, Sorts};
use super::state::{key, lookup, settle_status, Ctx, Next, Pending, RegionState, Settle, Tags};
use super::tags::{self, TagIn};
use super::wire::{in_range, one_of, parse, required, valid_name, OpResult, SimError};

const ENABLED_DISABLED: &[&str] = &["Enabled", "Disabled"];
const DEFAULT_PLATFORM: &str = "notebook-al2023-v1";

/// One notebook instance, as DescribeNotebookInstance shows it.
#[derive(Debug)]
pub struct Notebook {
    name: String,
    arn: String,
    seq: u64,
    status: String,
    failure_reason: Option<String>,
    url: String,
    instance_type: String,
    ip_address_type: String,
    subnet_id: Option<String>,
    security_groups: Vec<String>,
    role_arn: String,
    kms_key_id: Option<String>,
    network_interface_id: Option<String>,
    created: f64,
    last_modified: f64,
    lifecycle_config_name: Option<String>,
    direct_internet_access: String,
    volume_size_in_gb: i64,
    accelerator_types: Vec<String>,
    default_code_repository: Option<String>,
    additional_code_repositories: Vec<String>,
    root_access: String,
    platform_identifier: String,
    imds_version: String,
    tags: Tags,
    pending: Option<Pending<Next>>,
}

impl Settle for Notebook {
    fn settle(&mut self, now: Instant) -> bool {
        settle_status(
            &mut self.pending,
            now,
            &mut self.status,
            &mut self.last_modified,
        )
    }

    fn tags_mut(&mut self) -> &mut Tags {
        &mut self.tags
    }
}

impl Notebook {
    /// Forces a status (tests: stuck, Failed, ...), cancelling any transition under way.
    pub fn force_status(&mut self, status: &str, epoch: f64) {
        self.status = status.to_string();
        self.pending = None;
        self.last_modified = epoch;
        self.failure_reason = (status == "Failed").then(|| "Forced by the simulator".to_string());
    }

    /// Starts the transition `via` -> `then` if the status is one of `allowed`.
    fn transition(
        &mut self,
        ctx: &Ctx,
        allowed: &[&str],
        via: &'static str,
        then: Next,
    ) -> Result<(), SimError> {
        if !allowed.contains(&self.status.as_str()) {
            return Err(SimError::validation(format!(
                "Status ({}) not in ([{}]). Unable to transition to ({via}) for Notebook Instance ({})",
                self.status,
                allowed.join(", "),
                self.arn
            )));
        }
        self.status = via.to_string();
        self.failure_reason = None;
        self.last_modified = ctx.epoch;
        self.pending = ctx.pending(then);
        Ok(())
    }

    fn describe(&self) -> Value {
        json!({
            "NotebookInstanceArn": self.arn,
            "NotebookInstanceName": self.name,
            "NotebookInstanceStatus": self.status,
            "FailureReason": self.failure_reason,
            "Url": self.url,
            "InstanceType": self.instance_type,
            "IpAddressType": self.ip_address_type,
            "SubnetId": self.subnet_id,
            "SecurityGroups": self.security_groups,
            "RoleArn": self.role_arn,
            "KmsKeyId": self.kms_key_id,
            "NetworkInterfaceId": self.network_interface_id,
            "LastModifiedTime": self.last_modified,
            "CreationTime": self.created,
            "NotebookInstanceLifecycleConfigName": self.lifecycle_config_name,
            "DirectInternetAccess": self.direct_internet_access,
            "VolumeSizeInGB": self.volume_size_in_gb,
            "AcceleratorTypes": non_empty(&self.accelerator_types),
            "DefaultCodeRepository": self.default_code_repository,
            "AdditionalCodeRepositories": non_empty(&self.additional_code_repositories),
            "RootAccess": self.root_access,
            "PlatformIdentifier": self.platform_identifier,
            "InstanceMetadataServiceConfiguration": {
                "MinimumInstanceMetadataServiceVersion": self.imds_version,
            },
        })
    }
}

impl Listed for Notebook {
    listed_fields!(status);

    /// The NotebookInstanceSummary of ListNotebookInstances (no RootAccess, network or platform).
    fn summary(&self) -> Value {
        json!({
            "NotebookInstanceName": self.name,
            "NotebookInstanceArn": self.arn,
            "NotebookInstanceStatus": self.status,
            "Url": self.url,
            "InstanceType": self.instance_type,
            "CreationTime": self.created,
            "LastModifiedTime": self.last_modified,
            "NotebookInstanceLifecycleConfigName": self.lifecycle_config_name,
            "DefaultCodeRepository": self.default_code_repository,
            "AdditionalCodeRepositories": non_empty(&self.additional_code_repositories),
        })
    }
}

fn non_empty(items: &[String]) -> Option<&[String]> {
    (!items.is_empty()).then_some(items)
}

fn not_found() -> SimError {
    SimError::validation("RecordNotFound")
}

fn validate_platform(platform: &str) -> Result<(), SimError> {
    let valid = platform.len() <= 32
        && platform.strip_prefix("notebook-").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if valid {
        return Ok(());
    }
    Err(SimError::validation(format!(
        "1 validation error detected: Value '{platform}' at 'platformIdentifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ^notebook-[a-z0-9-]+$"
    )))
}

fn validate_instance_type(instance_type: &str) -> Result<(), SimError> {
    if instance_type.starts_with("ml.") {
        return Ok(());
    }
    Err(SimError::validation(format!(
        "1 validation error detected: Value '{instance_type}' at 'instanceType' failed to satisfy constraint: Member must satisfy enum value set: [ml.t3.medium, ml.m5.xlarge, ...]"
    )))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Imds {
    minimum_instance_metadata_service_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateInput {
    notebook_instance_name: Option<String>,
    instance_type: Option<String>,
    subnet_id: Option<String>,
    #[serde(default)]
    security_group_ids: Vec<String>,
    ip_address_type: Option<String>,
    role_arn: Option<String>,
    kms_key_id: Option<String>,
    #[serde(default)]
    tags: Vec<TagIn>,
    lifecycle_config_name: Option<String>,
    direct_internet_access: Option<String>,
    #[serde(rename = "VolumeSizeInGB")]
    volume_size_in_gb: Option<i64>,
    #[serde(default)]
    accelerator_types: Vec<String>,
    default_code_repository: Option<String>,
    #[serde(default)]
    additional_code_repositories: Vec<String>,
    root_access: Option<String>,
    platform_identifier: Option<String>,
    instance_metadata_service_configuration: Option<Imds>,
}

/// CreateNotebookInstance: validates, then Pending -> InService after the delay.
pub fn create(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let input: CreateInput = parse(body)?;
    let name = required(input.notebook_instance_name, "NotebookInstanceName")?;
    valid_name(&name, "NotebookInstanceName")?;
    let instance_type = required(input.instance_type, "InstanceType")?;
    validate_instance_type(&instance_type)?;
    let role_arn = required(input.role_arn, "RoleArn")?;
    let direct = input
        .direct_internet_access
        .unwrap_or_else(|| "Enabled".into());
    one_of(&direct, "DirectInternetAccess", ENABLED_DISABLED)?;
    let root = input.root_access.unwrap_or_else(|| "Enabled".into());
    one_of(&root, "RootAccess", ENABLED_DISABLED)?;
    let volume = input.volume_size_in_gb.unwrap_or(5);
    in_range(volume, "VolumeSizeInGB", 5, 16384)?;
    let platform = input
        .platform_identifier
        .unwrap_or_else(|| DEFAULT_PLATFORM.into());
    validate_platform(&platform)?;
    let ip_address_type = input.ip_address_type.unwrap_or_else(|| "ipv4".into());
    one_of(&ip_address_type, "IpAddressType", &["ipv4", "dualstack"])?;
    let imds_version = input
        .instance_metadata_service_configuration
        .and_then(|c| c.minimum_instance_metadata_service_version)
        .unwrap_or_else(|| "1".into());
    one_of(
        &imds_version,
        "MinimumInstanceMetadataServiceVersion",
        &["1", "2"],
    )?;
    if direct == "Disabled" && input.subnet_id.is_none() {
        return Err(SimError::validation(
            "DirectInternetAccess can be set to Disabled only if a SubnetId is specified",
        ));
    }
    let tags = tags::validate(input.tags)?;
    let arn = ctx.arn("notebook-instance", &key(&name));
    if lookup(&mut state.notebooks, &name, ctx.now).is_some() {
        return Err(SimError::validation(format!(
            "Cannot create a duplicate Notebook Instance ({arn})"
        )));
    }
    let seq = state.next_seq();
    let notebook = Notebook {
        url: format!("{}.notebook.{}.sagemaker.aws", key(&name), ctx.region),
        network_interface_id: input.subnet_id.as_ref().map(|_| format!("eni-{seq:017x}")),
        name: name.clone(),
        arn: arn.clone(),
        seq,
        status: "Pending".into(),
        failure_reason: None,
        instance_type,
        ip_address_type,
        subnet_id: input.subnet_id,
        security_groups: input.security_group_ids,
        role_arn,
        kms_key_id: input.kms_key_id,
        created: ctx.epoch,
        last_modified: ctx.epoch,
        lifecycle_config_name: input.lifecycle_config_name,
        direct_internet_access: direct,
        volume_size_in_gb: volume,
        accelerator_types: input.accelerator_types,
        default_code_repository: input.default_code_repository,
        additional_code_repositories: input.additional_code_repositories,
        root_access: root,
        platform_identifier: platform,
        imds_version,
        tags,
        pending: ctx.pending(Next::Status("InService")),
    };
    state.notebooks.insert(key(&name), notebook);
    Ok(json!({ "NotebookInstanceArn": arn }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NameInput {
    notebook_instance_name: Option<String>,
}

fn named<'s>(
    state: &'s mut RegionState,
    ctx: &Ctx,
    body: &[u8],
) -> Result<&'s mut Notebook, SimError> {
    let input: NameInput = parse(body)?;
    let name = required(input.notebook_instance_name, "NotebookInstanceName")?;
    lookup(&mut state.notebooks, &name, ctx.now).ok_or_else(not_found)
}

/// DescribeNotebookInstance: every member; unknown name is `ValidationException: RecordNotFound`.
pub fn describe(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    Ok(named(state, ctx, body)?.describe())
}

/// StopNotebookInstance: InService -> Stopping -> Stopped.
pub fn stop(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let notebook = named(state, ctx, body)?;
    notebook.transition(ctx, &["InService"], "Stopping", Next::Status("Stopped"))?;
    Ok(json!({}))
}

/// StartNotebookInstance: Stopped|Failed -> Pending -> InService.
pub fn start(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let notebook = named(state, ctx, body)?;
    notebook.transition(
        ctx,
        &["Stopped", "Failed"],
        "Pending",
        Next::Status("InService"),
    )?;
    Ok(json!({}))
}

/// DeleteNotebookInstance: Stopped|Failed -> Deleting -> gone.
pub fn delete(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let notebook = named(state, ctx, body)?;
    notebook.transition(ctx, &["Stopped", "Failed"], "Deleting", Next::Gone)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateInput {
    notebook_instance_name: Option<String>,
    instance_type: Option<String>,
    ip_address_type: Option<String>,
    platform_identifier: Option<String>,
    role_arn: Option<String>,
    lifecycle_config_name: Option<String>,
    #[serde(default)]
    disassociate_lifecycle_config: bool,
    #[serde(rename = "VolumeSizeInGB")]
    volume_size_in_gb: Option<i64>,
    default_code_repository: Option<String>,
    additional_code_repositories: Option<Vec<String>>,
    accelerator_types: Option<Vec<String>>,
    #[serde(default)]
    disassociate_accelerator_types: bool,
    #[serde(default)]
    disassociate_default_code_repository: bool,
    #[serde(default)]
    disassociate_additional_code_repositories: bool,
    root_access: Option<String>,
    instance_metadata_service_configuration: Option<Imds>,
}

/// UpdateNotebookInstance: Stopped|Failed -> Updating -> Stopped; the changes apply at once.
pub fn update(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let input: UpdateInput = parse(body)?;
    let name = required(input.notebook_instance_name, "NotebookInstanceName")?;
    if let Some(root) = &input.root_access {
        one_of(root, "RootAccess", ENABLED_DISABLED)?;
    }
    if let Some(volume) = input.volume_size_in_gb {
        in_range(volume, "VolumeSizeInGB", 5, 16384)?;
    }
    if let Some(platform) = &input.platform_identifier {
        validate_platform(platform)?;
    }
    if let Some(instance_type) = &input.instance_type {
        validate_instance_type(instance_type)?;
    }
    if let Some(ip) = &input.ip_address_type {
        one_of(ip, "IpAddressType", &["ipv4", "dualstack"])?;
    }
    let imds = input
        .instance_metadata_service_configuration
        .and_then(|c| c.minimum_instance_metadata_service_version);
    if let Some(version) = &imds {
        one_of(
            version,
            "MinimumInstanceMetadataServiceVersion",
            &["1", "2"],
        )?;
    }
    let nb = lookup(&mut state.notebooks, &name, ctx.now).ok_or_else(not_found)?;
    nb.transition(
        ctx,
        &["Stopped", "Failed"],
        "Updating",
        Next::Status("Stopped"),
    )?;
    let set = |slot: &mut String, value: Option<String>| {
        if let Some(value) = value {
            *slot = value;
        }
    };
    set(&mut nb.instance_type, input.instance_type);
    set(&mut nb.ip_address_type, input.ip_address_type);
    set(&mut nb.platform_identifier, input.platform_identifier);
    set(&mut nb.role_arn, input.role_arn);
    set(&mut nb.root_access, input.root_access);
    set(&mut nb.imds_version, imds);
    if let Some(volume) = input.volume_size_in_gb {
        nb.volume_size_in_gb = volume;
    }
    if input.disassociate_lifecycle_config {
        nb.lifecycle_config_name = None;
    } else if input.lifecycle_config_name.is_some() {
        nb.lifecycle_config_name = input.lifecycle_config_name;
    }
    if input.disassociate_default_code_repository {
        nb.default_code_repository = None;
    } else if input.default_code_repository.is_some() {
        nb.default_code_repository = input.default_code_repository;
    }
    if input.disassociate_additional_code_repositories {
        nb.additional_code_repositories.clear();
    } else if let Some(repositories) = input.additional_code_repositories {
        nb.additional_code_repositories = repositories;
    }
    if input.disassociate_accelerator_types {
        nb.accelerator_types.clear();
    } else if let Some(types) = input.accelerator_types {
        nb.accelerator_types = types;
    }
    Ok(json!({}))
}

/// ListNotebookInstances: summaries, filtered, sorted (CreationTime ascending unless asked), paged.
pub fn list(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let sorts = Sorts(&["Name", "CreationTime", "Status"]);
    listing::list(&mut state.notebooks, ctx, body, "NotebookInstances", &sorts)
}
