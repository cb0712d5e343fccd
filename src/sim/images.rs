//! SageMaker images (CREATING -> CREATED, UPDATING -> CREATED, DELETING -> gone) and app
//! image configs (immediate). Missing ones are `ResourceNotFound`, duplicates `ResourceInUse`.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::listing::{self, listed_fields, Listed, Sorts};
use super::state::{key, lookup, settle_status, Ctx, Next, Pending, RegionState, Settle, Tags};
use super::tags::{self, TagIn};
use super::wire::{parse, required, take, OpResult, SimError};

/// A SageMaker image.
#[derive(Debug)]
pub struct Image {
    name: String,
    arn: String,
    seq: u64,
    created: f64,
    last_modified: f64,
    status: String,
    display_name: Option<String>,
    description: Option<String>,
    role_arn: String,
    tags: Tags,
    pending: Option<Pending<Next>>,
}

impl Settle for Image {
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

impl Listed for Image {
    listed_fields!(status);

    /// The `Image` shape of ListImages (no RoleArn).
    fn summary(&self) -> Value {
        json!({
            "CreationTime": self.created,
            "Description": self.description,
            "DisplayName": self.display_name,
            "ImageArn": self.arn,
            "ImageName": self.name,
            "ImageStatus": self.status,
            "LastModifiedTime": self.last_modified,
        })
    }
}

fn image_not_found(ctx: &Ctx, name: &str) -> SimError {
    SimError::not_found(format!(
        "Image \"{}\" does not exist.",
        ctx.arn("image", name)
    ))
}

/// Requires an image name (`^[a-zA-Z0-9]([-.]?[a-zA-Z0-9]){0,62}$`).
fn valid_image_name(name: &str) -> Result<(), SimError> {
    let bytes = name.as_bytes();
    let separator = |b: &u8| *b == b'-' || *b == b'.';
    let ok = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || separator(b))
        && !bytes
            .windows(2)
            .any(|w| separator(&w[0]) && separator(&w[1]))
        && bytes.iter().filter(|b| b.is_ascii_alphanumeric()).count() <= 63;
    if ok {
        return Ok(());
    }
    Err(SimError::validation(format!(
        "1 validation error detected: Value '{name}' at 'imageName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9]([-.]?[a-zA-Z0-9]){{0,62}}$"
    )))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateImageInput {
    image_name: Option<String>,
    role_arn: Option<String>,
    display_name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<TagIn>,
}

/// CreateImage: CREATING -> CREATED.
pub fn create_image(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let input: CreateImageInput = parse(body)?;
    let name = required(input.image_name, "ImageName")?;
    valid_image_name(&name)?;
    let role_arn = required(input.role_arn, "RoleArn")?;
    let tags = tags::validate(input.tags)?;
    let arn = ctx.arn("image", &name);
    if lookup(&mut state.images, &name, ctx.now).is_some() {
        return Err(SimError::in_use(format!("Image \"{arn}\" already exists.")));
    }
    let image = Image {
        name: name.clone(),
        arn: arn.clone(),
        seq: state.next_seq(),
        created: ctx.epoch,
        last_modified: ctx.epoch,
        status: "CREATING".into(),
        display_name: input.display_name,
        description: input.description,
        role_arn,
        tags,
        pending: ctx.pending(Next::Status("CREATED")),
    };
    state.images.insert(key(&name), image);
    Ok(json!({ "ImageArn": arn }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImageNameInput {
    image_name: Option<String>,
}

fn named_image<'s>(
    state: &'s mut RegionState,
    ctx: &Ctx,
    body: &[u8],
) -> Result<&'s mut Image, SimError> {
    let input: ImageNameInput = parse(body)?;
    let name = required(input.image_name, "ImageName")?;
    lookup(&mut state.images, &name, ctx.now).ok_or_else(|| image_not_found(ctx, &name))
}

/// DescribeImage.
pub fn describe_image(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let image = named_image(state, ctx, body)?;
    let mut out = image.summary();
    if let Value::Object(members) = &mut out {
        members.insert("RoleArn".into(), json!(image.role_arn));
    }
    Ok(out)
}

/// ListImages.
pub fn list_images(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let sorts = Sorts(&["CREATION_TIME", "LAST_MODIFIED_TIME", "IMAGE_NAME"]);
    listing::list(&mut state.images, ctx, body, "Images", &sorts)
}

/// DeleteImage: DELETING -> gone.
pub fn delete_image(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let image = named_image(state, ctx, body)?;
    if image.status != "DELETING" {
        image.status = "DELETING".into();
        image.last_modified = ctx.epoch;
        image.pending = ctx.pending(Next::Gone);
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateImageInput {
    image_name: Option<String>,
    #[serde(default)]
    delete_properties: Vec<String>,
    description: Option<String>,
    display_name: Option<String>,
    role_arn: Option<String>,
}

/// UpdateImage: from CREATED or UPDATE_FAILED; UPDATING -> CREATED.
pub fn update_image(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let input: UpdateImageInput = parse(body)?;
    let name = required(input.image_name, "ImageName")?;
    let image =
        lookup(&mut state.images, &name, ctx.now).ok_or_else(|| image_not_found(ctx, &name))?;
    if image.status != "CREATED" && image.status != "UPDATE_FAILED" {
        return Err(SimError::in_use(format!(
            "Image \"{}\" is in status {} and cannot be updated.",
            image.arn, image.status
        )));
    }
    for property in &input.delete_properties {
        match property.as_str() {
            "Description" => image.description = None,
            "DisplayName" => image.display_name = None,
            other => {
                return Err(SimError::validation(format!(
                    "Property {other} cannot be deleted"
                )))
            }
        }
    }
    if input.description.is_some() {
        image.description = input.description;
    }
    if input.display_name.is_some() {
        image.display_name = input.display_name;
    }
    if let Some(role_arn) = input.role_arn {
        image.role_arn = role_arn;
    }
    image.status = "UPDATING".into();
    image.last_modified = ctx.epoch;
    image.pending = ctx.pending(Next::Status("CREATED"));
    Ok(json!({ "ImageArn": image.arn }))
}

/// Members of CreateAppImageConfig that DescribeAppImageConfig shows as given.
const APP_IMAGE_CONFIG_MEMBERS: &[&str] = &[
    "KernelGatewayImageConfig",
    "JupyterLabAppImageConfig",
    "CodeEditorAppImageConfig",
];

/// An app image config; created at once, no status.
#[derive(Debug)]
pub struct AppImageConfig {
    name: String,
    arn: String,
    seq: u64,
    created: f64,
    last_modified: f64,
    members: Map<String, Value>,
    tags: Tags,
}

impl Settle for AppImageConfig {
    fn settle(&mut self, _now: Instant) -> bool {
        true
    }

    fn tags_mut(&mut self) -> &mut Tags {
        &mut self.tags
    }
}

impl Listed for AppImageConfig {
    listed_fields!();

    /// AppImageConfigDetails, the same as DescribeAppImageConfig.
    fn summary(&self) -> Value {
        let mut out = self.members.clone();
        out.insert("AppImageConfigArn".into(), json!(self.arn));
        out.insert("AppImageConfigName".into(), json!(self.name));
        out.insert("CreationTime".into(), json!(self.created));
        out.insert("LastModifiedTime".into(), json!(self.last_modified));
        Value::Object(out)
    }
}

fn app_image_config_not_found(ctx: &Ctx, name: &str) -> SimError {
    SimError::not_found(format!(
        "AppImageConfig \"{}\" does not exist.",
        ctx.arn("app-image-config", name)
    ))
}

/// CreateAppImageConfig.
pub fn create_app_image_config(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let mut members: Map<String, Value> = parse(body)?;
    let name: String = required(
        take(&mut members, "AppImageConfigName")?,
        "AppImageConfigName",
    )?;
    super::wire::valid_name(&name, "AppImageConfigName")?;
    let tags = tags::validate(take::<Vec<TagIn>>(&mut members, "Tags")?.unwrap_or_default())?;
    members.retain(|m, v| APP_IMAGE_CONFIG_MEMBERS.contains(&m.as_str()) && !v.is_null());
    let arn = ctx.arn("app-image-config", &name);
    if lookup(&mut state.app_image_configs, &name, ctx.now).is_some() {
        return Err(SimError::in_use(format!(
            "AppImageConfig \"{arn}\" already exists."
        )));
    }
    let config = AppImageConfig {
        name: name.clone(),
        arn: arn.clone(),
        seq: state.next_seq(),
        created: ctx.epoch,
        last_modified: ctx.epoch,
        members,
        tags,
    };
    state.app_image_configs.insert(key(&name), config);
    Ok(json!({ "AppImageConfigArn": arn }))
}

fn app_image_config_name(body: &[u8]) -> Result<String, SimError> {
    let mut members: Map<String, Value> = parse(body)?;
    required(
        take(&mut members, "AppImageConfigName")?,
        "AppImageConfigName",
    )
}

/// DescribeAppImageConfig.
pub fn describe_app_image_config(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let name = app_image_config_name(body)?;
    lookup(&mut state.app_image_configs, &name, ctx.now)
        .map(|config| config.summary())
        .ok_or_else(|| app_image_config_not_found(ctx, &name))
}

/// ListAppImageConfigs.
pub fn list_app_image_configs(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let sorts = Sorts(&["CreationTime", "LastModifiedTime", "Name"]);
    listing::list(
        &mut state.app_image_configs,
        ctx,
        body,
        "AppImageConfigs",
        &sorts,
    )
}

/// DeleteAppImageConfig: immediate.
pub fn delete_app_image_config(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let name = app_image_config_name(body)?;
    lookup(&mut state.app_image_configs, &name, ctx.now)
        .ok_or_else(|| app_image_config_not_found(ctx, &name))?;
    state.app_image_configs.remove(&key(&name));
    Ok(json!({}))
}
