//! Flags: a journal record with a recreation plan for what cannot (or may not) be fixed in
//! place, and in enforce mode a tag on the resource.

use crate::store::Flag;

use super::*;

/// Flags a resource that cannot (or may not) be fixed in place: a journal record with a
/// recreation plan, and in enforce mode a tag on the resource.
pub(super) async fn flag<S: Store, C: ClientFactory, A: SageMakerApi>(
    ctx: &Context<S, C>,
    api: &A,
    snapshot: &Snapshot,
    tags: &[Tag],
    decision: &Decision,
) -> Result<(), ReconcileError> {
    let resource = &snapshot.resource;
    let controls: Vec<&str> = decision.flag.iter().map(|c| c.as_str()).collect();
    let value = controls.join(" ");
    let mut plan = recreation_plan(snapshot, &decision.flag, &ctx.config, &decision.notes);
    // The plan as people apply it in code, carried by the journal and the notifications.
    if let Some(mut code) = crate::render::all(resource, &plan) {
        ctx.terraform.apply(&resource.arn, &mut code);
        plan["code"] = code;
    }
    let reason = match decision.notes.is_empty() {
        true => "flagged for recreation or manual action".to_string(),
        false => decision.notes.join("; "),
    };
    let notices = ctx.outbox.notices(&Outcome {
        detail_type: DetailType::RecreationRequired,
        resource,
        controls: &decision.flag,
        dry_run: decision.dry_run,
        kind: None,
        plan: Some(&plan),
        reason: Some(&reason),
        scheduled_for: None,
        at: ctx.now(),
    });
    let noticed = ctx
        .store
        .save_flag(
            &Flag {
                resource: resource.clone(),
                controls: decision.flag.clone(),
                plan: plan.clone(),
                dry_run: decision.dry_run,
                at: ctx.now(),
            },
            &notices,
        )
        .map_err(ctx.store_err(&resource.arn))?;
    if noticed {
        ctx.outbox.written();
    }
    let key = &ctx.config.remediation.flag_tag_key;
    let tagged = tags.iter().any(|t| &t.key == key && t.value == value);
    // Any tag satisfies SageMaker.6/.7 when no keys are required: a flag tag on an image or
    // app image config would pass the control it flags, so those are flagged in the journal only.
    let taggable = !matches!(
        resource.resource_type,
        ResourceType::Image | ResourceType::AppImageConfig
    );
    // A flag tag on an IaC-managed resource would drift from its code as well.
    if !decision.dry_run && !tagged && taggable && decision.iac.is_none() {
        api.add_tags(&resource.arn, &[Tag::new(key.clone(), value.clone())])
            .await
            .map_err(aws_err(&resource.arn))?;
    }
    let label = if decision.dry_run {
        "flagged-dry-run"
    } else {
        "flagged"
    };
    for c in &decision.flag {
        ctx.ended(resource, *c, label);
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
                    "ModelName": v.model_name,
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
