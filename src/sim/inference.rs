//! Models, endpoint configs and endpoints. Models and endpoint configs are immutable and
//! echo what was given; endpoints go Creating/Updating -> InService and Deleting -> gone.

use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::listing::{self, listed_fields, Listed, Sorts};
use super::state::{key, lookup, Ctx, Next, Pending, RegionState, Settle, Tags};
use super::tags::{self, TagIn};
use super::wire::{parse, required, take, valid_name, OpResult, SimError};

/// Members of CreateModel that DescribeModel shows as given.
const MODEL_MEMBERS: &[&str] = &[
    "PrimaryContainer",
    "Containers",
    "InferenceExecutionConfig",
    "ExecutionRoleArn",
    "VpcConfig",
    "EnableNetworkIsolation",
];

/// Members of CreateEndpointConfig that DescribeEndpointConfig shows as given.
const ENDPOINT_CONFIG_MEMBERS: &[&str] = &[
    "ProductionVariants",
    "DataCaptureConfig",
    "KmsKeyId",
    "AsyncInferenceConfig",
    "ExplainerConfig",
    "ShadowProductionVariants",
    "ExecutionRoleArn",
    "VpcConfig",
    "EnableNetworkIsolation",
    "MetricsConfig",
];

/// A created resource that shows its create request back: name, ARN, the kept members.
#[derive(Debug)]
pub struct Echoed {
    name: String,
    arn: String,
    seq: u64,
    created: f64,
    members: Map<String, Value>,
    tags: Tags,
}

impl Echoed {
    /// Takes the name and tags out of a create request and keeps `kept` members.
    fn create(
        state: &mut RegionState,
        ctx: &Ctx,
        body: &[u8],
        name_member: &str,
        kind: &str,
        kept: &[&str],
    ) -> Result<Echoed, SimError> {
        let mut members: Map<String, Value> = parse(body)?;
        let name: String = required(take(&mut members, name_member)?, name_member)?;
        valid_name(&name, name_member)?;
        let tags = tags::validate(take::<Vec<TagIn>>(&mut members, "Tags")?.unwrap_or_default())?;
        members.retain(|member, value| kept.contains(&member.as_str()) && !value.is_null());
        Ok(Echoed {
            arn: ctx.arn(kind, &key(&name)),
            name,
            seq: state.next_seq(),
            created: ctx.epoch,
            members,
            tags,
        })
    }

    fn describe(&self, name_member: &str, arn_member: &str) -> Value {
        let mut out = self.members.clone();
        out.insert(name_member.into(), json!(self.name));
        out.insert(arn_member.into(), json!(self.arn));
        out.insert("CreationTime".into(), json!(self.created));
        Value::Object(out)
    }
}

/// A model (CreateModel): immutable.
#[derive(Debug)]
pub struct Model(Echoed);

/// An endpoint config (CreateEndpointConfig): immutable.
#[derive(Debug)]
pub struct EndpointConfig(Echoed);

macro_rules! echoed_resource {
    ($type:ty, $name:literal, $arn:literal) => {
        impl Settle for $type {
            fn settle(&mut self, _now: Instant) -> bool {
                true
            }

            fn tags_mut(&mut self) -> &mut Tags {
                &mut self.0.tags
            }
        }

        impl Listed for $type {
            fn name(&self) -> &str {
                &self.0.name
            }

            fn seq(&self) -> u64 {
                self.0.seq
            }

            fn created(&self) -> f64 {
                self.0.created
            }

            fn summary(&self) -> Value {
                json!({ $name: self.0.name, $arn: self.0.arn, "CreationTime": self.0.created })
            }
        }

        impl $type {
            fn describe(&self) -> Value {
                self.0.describe($name, $arn)
            }
        }
    };
}

echoed_resource!(Model, "ModelName", "ModelArn");
echoed_resource!(EndpointConfig, "EndpointConfigName", "EndpointConfigArn");

fn model_not_found(ctx: &Ctx, name: &str) -> SimError {
    SimError::validation(format!(
        "Could not find model \"{}\".",
        ctx.arn("model", &key(name))
    ))
}

fn endpoint_config_not_found(ctx: &Ctx, name: &str) -> SimError {
    SimError::validation(format!(
        "Could not find endpoint configuration \"{}\".",
        ctx.arn("endpoint-config", &key(name))
    ))
}

fn endpoint_not_found(ctx: &Ctx, name: &str) -> SimError {
    SimError::validation(format!(
        "Could not find endpoint \"{}\".",
        ctx.arn("endpoint", &key(name))
    ))
}

/// The one name member of a Describe*/Delete* request.
fn name_of(body: &[u8], member: &str) -> Result<String, SimError> {
    let mut members: Map<String, Value> = parse(body)?;
    required(take(&mut members, member)?, member)
}

/// CreateModel: EnableNetworkIsolation defaults to false.
pub fn create_model(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let mut model = Echoed::create(state, ctx, body, "ModelName", "model", MODEL_MEMBERS)?;
    if !model.members.contains_key("PrimaryContainer") && !model.members.contains_key("Containers")
    {
        return Err(SimError::validation(
            "Either PrimaryContainer or Containers must be provided",
        ));
    }
    model
        .members
        .entry("EnableNetworkIsolation")
        .or_insert(json!(false));
    if lookup(&mut state.models, &model.name, ctx.now).is_some() {
        return Err(SimError::validation(format!(
            "Cannot create already existing model \"{}\".",
            model.arn
        )));
    }
    let arn = model.arn.clone();
    state.models.insert(key(&model.name), Model(model));
    Ok(json!({ "ModelArn": arn }))
}

/// DescribeModel.
pub fn describe_model(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let name = name_of(body, "ModelName")?;
    let model =
        lookup(&mut state.models, &name, ctx.now).ok_or_else(|| model_not_found(ctx, &name))?;
    Ok(model.describe())
}

/// ListModels.
pub fn list_models(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let sorts = Sorts(&["Name", "CreationTime"]);
    listing::list(&mut state.models, ctx, body, "Models", &sorts)
}

/// DeleteModel: immediate; endpoint configs that name it are not checked (like AWS).
pub fn delete_model(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let name = name_of(body, "ModelName")?;
    lookup(&mut state.models, &name, ctx.now).ok_or_else(|| model_not_found(ctx, &name))?;
    state.models.remove(&key(&name));
    Ok(json!({}))
}

/// Checks the production variants of a new endpoint config; every model must exist.
fn check_variants(state: &mut RegionState, ctx: &Ctx, config: &Echoed) -> Result<(), SimError> {
    let variants = config
        .members
        .get("ProductionVariants")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            SimError::validation(
                "1 validation error detected: Value null at 'productionVariants' failed to satisfy constraint: Member must not be null",
            )
        })?;
    for variant in variants {
        let member = |m: &str| variant.get(m).and_then(Value::as_str);
        required(member("VariantName"), "VariantName")?;
        let model = required(member("ModelName"), "ModelName")?;
        if lookup(&mut state.models, model, ctx.now).is_none() {
            return Err(model_not_found(ctx, model));
        }
        let serverless = variant.get("ServerlessConfig").is_some();
        if !serverless {
            let count = variant.get("InitialInstanceCount").and_then(Value::as_i64);
            if variant.get("InstanceType").is_none() || count.is_none_or(|c| c < 1) {
                return Err(SimError::validation(
                    "Instance-based production variants need an InstanceType and an InitialInstanceCount of at least 1",
                ));
            }
        }
    }
    Ok(())
}

/// CreateEndpointConfig: the variants' models must exist.
pub fn create_endpoint_config(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let config = Echoed::create(
        state,
        ctx,
        body,
        "EndpointConfigName",
        "endpoint-config",
        ENDPOINT_CONFIG_MEMBERS,
    )?;
    check_variants(state, ctx, &config)?;
    if lookup(&mut state.endpoint_configs, &config.name, ctx.now).is_some() {
        return Err(SimError::validation(format!(
            "Cannot create already existing endpoint configuration \"{}\".",
            config.arn
        )));
    }
    let arn = config.arn.clone();
    state
        .endpoint_configs
        .insert(key(&config.name), EndpointConfig(config));
    Ok(json!({ "EndpointConfigArn": arn }))
}

/// DescribeEndpointConfig.
pub fn describe_endpoint_config(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let name = name_of(body, "EndpointConfigName")?;
    let config = lookup(&mut state.endpoint_configs, &name, ctx.now)
        .ok_or_else(|| endpoint_config_not_found(ctx, &name))?;
    Ok(config.describe())
}

/// ListEndpointConfigs.
pub fn list_endpoint_configs(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let sorts = Sorts(&["Name", "CreationTime"]);
    listing::list(
        &mut state.endpoint_configs,
        ctx,
        body,
        "EndpointConfigs",
        &sorts,
    )
}

/// DeleteEndpointConfig: immediate; endpoints that use it keep running (like AWS).
pub fn delete_endpoint_config(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let name = name_of(body, "EndpointConfigName")?;
    lookup(&mut state.endpoint_configs, &name, ctx.now)
        .ok_or_else(|| endpoint_config_not_found(ctx, &name))?;
    state.endpoint_configs.remove(&key(&name));
    Ok(json!({}))
}

/// An endpoint serving one endpoint config.
#[derive(Debug)]
pub struct Endpoint {
    name: String,
    arn: String,
    seq: u64,
    created: f64,
    last_modified: f64,
    status: String,
    config_name: String,
    /// ProductionVariantSummary list, once InService.
    variants: Option<Value>,
    /// The config (name, variants) an update switches to when it completes.
    switch_to: Option<(String, Value)>,
    /// Why the last update failed (it rolled back), once the rollback completed.
    failure_reason: Option<String>,
    /// The failure an update in progress ends with (a fault: see `failed_endpoint_updates`).
    failing_with: Option<String>,
    /// The DeploymentConfig of the last update, shown as LastDeploymentConfig.
    last_deployment: Option<Value>,
    tags: Tags,
    pending: Option<Pending<Next>>,
}

impl Settle for Endpoint {
    fn settle(&mut self, now: Instant) -> bool {
        match Pending::take_due(&mut self.pending, now) {
            None => true,
            Some(Pending {
                then: Next::Gone, ..
            }) => false,
            Some(Pending {
                then: Next::Status(status),
                epoch,
                ..
            }) => {
                self.status = status.to_string();
                self.last_modified = epoch;
                if let Some((config_name, variants)) = self.switch_to.take() {
                    self.config_name = config_name;
                    self.variants = Some(variants);
                }
                if let Some(reason) = self.failing_with.take() {
                    self.failure_reason = Some(reason);
                }
                true
            }
        }
    }

    fn tags_mut(&mut self) -> &mut Tags {
        &mut self.tags
    }
}

impl Listed for Endpoint {
    listed_fields!(status);

    fn summary(&self) -> Value {
        json!({
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "CreationTime": self.created,
            "LastModifiedTime": self.last_modified,
            "EndpointStatus": self.status,
        })
    }
}

impl Endpoint {
    fn describe(&self) -> Value {
        json!({
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "EndpointConfigName": self.config_name,
            "ProductionVariants": self.variants,
            "EndpointStatus": self.status,
            "FailureReason": self.failure_reason,
            "LastDeploymentConfig": self.last_deployment,
            "CreationTime": self.created,
            "LastModifiedTime": self.last_modified,
        })
    }
}

/// The ProductionVariantSummary list an endpoint shows for a config.
fn variant_summaries(config: &EndpointConfig) -> Value {
    let variants = config
        .0
        .members
        .get("ProductionVariants")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    variants
        .iter()
        .map(|v| {
            let weight = v.get("InitialVariantWeight").cloned().unwrap_or(json!(1.0));
            let count = v.get("InitialInstanceCount").cloned();
            let serverless = v.get("ServerlessConfig").cloned();
            json!({
                "VariantName": v.get("VariantName"),
                "CurrentWeight": weight,
                "DesiredWeight": weight,
                "CurrentInstanceCount": count,
                "DesiredInstanceCount": count,
                "CurrentServerlessConfig": serverless,
                "DesiredServerlessConfig": serverless,
            })
        })
        .collect()
}

/// The variants of an existing endpoint config, or the AWS not-found error.
fn config_variants(state: &mut RegionState, ctx: &Ctx, name: &str) -> Result<Value, SimError> {
    lookup(&mut state.endpoint_configs, name, ctx.now)
        .map(|config| variant_summaries(config))
        .ok_or_else(|| endpoint_config_not_found(ctx, name))
}

/// CreateEndpoint: Creating -> InService.
pub fn create_endpoint(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let mut members: Map<String, Value> = parse(body)?;
    let name: String = required(take(&mut members, "EndpointName")?, "EndpointName")?;
    valid_name(&name, "EndpointName")?;
    let config_name: String = required(
        take(&mut members, "EndpointConfigName")?,
        "EndpointConfigName",
    )?;
    let tags = tags::validate(take::<Vec<TagIn>>(&mut members, "Tags")?.unwrap_or_default())?;
    let variants = config_variants(state, ctx, &config_name)?;
    let arn = ctx.arn("endpoint", &key(&name));
    if lookup(&mut state.endpoints, &name, ctx.now).is_some() {
        return Err(SimError::validation(format!(
            "Cannot create already existing endpoint \"{arn}\"."
        )));
    }
    let endpoint = Endpoint {
        name: name.clone(),
        arn: arn.clone(),
        seq: state.next_seq(),
        created: ctx.epoch,
        last_modified: ctx.epoch,
        status: "Creating".into(),
        config_name: config_name.clone(),
        variants: None,
        switch_to: Some((config_name, variants)),
        failure_reason: None,
        failing_with: None,
        last_deployment: None,
        tags,
        pending: ctx.pending(Next::Status("InService")),
    };
    state.endpoints.insert(key(&name), endpoint);
    Ok(json!({ "EndpointArn": arn }))
}

/// DescribeEndpoint.
pub fn describe_endpoint(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let name = name_of(body, "EndpointName")?;
    let endpoint = lookup(&mut state.endpoints, &name, ctx.now)
        .ok_or_else(|| endpoint_not_found(ctx, &name))?;
    Ok(endpoint.describe())
}

/// ListEndpoints.
pub fn list_endpoints(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let sorts = Sorts(&["Name", "CreationTime", "Status"]);
    listing::list(&mut state.endpoints, ctx, body, "Endpoints", &sorts)
}

/// Checks an UpdateEndpoint DeploymentConfig the way the service does for the parts a
/// blue/green update needs: a traffic routing type, and 1 to 10 rollback alarms when given.
fn check_deployment(deployment: &Value) -> Result<(), SimError> {
    if let Some(policy) = deployment.get("BlueGreenUpdatePolicy") {
        let routing = policy["TrafficRoutingConfiguration"]["Type"].as_str();
        if !matches!(routing, Some("ALL_AT_ONCE" | "CANARY" | "LINEAR")) {
            return Err(SimError::validation(
                "BlueGreenUpdatePolicy.TrafficRoutingConfiguration.Type must be ALL_AT_ONCE, CANARY or LINEAR",
            ));
        }
    }
    if let Some(alarms) = deployment
        .get("AutoRollbackConfiguration")
        .map(|a| &a["Alarms"])
    {
        let n = alarms.as_array().map(Vec::len).unwrap_or(0);
        if !(1..=10).contains(&n) {
            return Err(SimError::validation(
                "AutoRollbackConfiguration.Alarms must have between 1 and 10 alarms",
            ));
        }
    }
    Ok(())
}

/// UpdateEndpoint: only from InService; Updating -> InService on the new config, or, for an
/// endpoint in `failed_endpoint_updates`, Updating -> InService on the old config with a
/// FailureReason (the rollback of a blue/green update).
pub fn update_endpoint(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let mut members: Map<String, Value> = parse(body)?;
    let name: String = required(take(&mut members, "EndpointName")?, "EndpointName")?;
    let config_name: String = required(
        take(&mut members, "EndpointConfigName")?,
        "EndpointConfigName",
    )?;
    let deployment: Option<Value> = take(&mut members, "DeploymentConfig")?;
    if let Some(d) = &deployment {
        check_deployment(d)?;
    }
    let variants = config_variants(state, ctx, &config_name)?;
    let endpoint = lookup(&mut state.endpoints, &name, ctx.now)
        .ok_or_else(|| endpoint_not_found(ctx, &name))?;
    if endpoint.status != "InService" {
        return Err(SimError::validation(format!(
            "Cannot update in-progress endpoint \"{}\".",
            endpoint.arn
        )));
    }
    endpoint.status = "Updating".into();
    endpoint.last_modified = ctx.epoch;
    endpoint.last_deployment = deployment;
    if ctx.failed_endpoint_updates.contains(&endpoint.name) {
        endpoint.switch_to = None;
        endpoint.failing_with = Some(format!(
            "The new production variants of endpoint config {config_name} did not pass health \
             checks; the endpoint was rolled back to endpoint config {}.",
            endpoint.config_name
        ));
    } else {
        endpoint.switch_to = Some((config_name, variants));
        endpoint.failure_reason = None;
    }
    endpoint.pending = ctx.pending(Next::Status("InService"));
    Ok(json!({ "EndpointArn": endpoint.arn }))
}

/// DeleteEndpoint: Deleting -> gone.
pub fn delete_endpoint(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let name = name_of(body, "EndpointName")?;
    let endpoint = lookup(&mut state.endpoints, &name, ctx.now)
        .ok_or_else(|| endpoint_not_found(ctx, &name))?;
    if endpoint.status != "Deleting" {
        endpoint.status = "Deleting".into();
        endpoint.last_modified = ctx.epoch;
        endpoint.switch_to = None;
        endpoint.pending = ctx.pending(Next::Gone);
    }
    Ok(json!({}))
}
