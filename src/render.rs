//! Plans as people apply them in code: the newest plan for a resource (a recreation plan, a
//! notebook fix or a tag fix) rendered as AWS CLI commands, a Terraform block or a
//! CloudFormation template (JSON), filled from what the journal holds about the resource, with
//! the compliant values in place. Plans hold no secrets (names, ARNs, ids and settings only).
//!
//! A notebook fix or a tag fix renders as the change to make to the existing resource: the
//! arguments that change, the rest of the resource's code as it is.

use hcl::{Block, Body, Expression};
use serde_json::{json, Map, Value};

use crate::model::{ResourceRef, ResourceType};
use crate::store::{Flag, Remediation, RemediationKind};

/// The languages a plan renders in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::Display)]
#[strum(serialize_all = "lowercase")]
pub enum Language {
    Cli,
    Terraform,
    Cloudformation,
}

/// One argument: the plan's (CreateX request) member, Terraform's argument, the CLI option.
/// CloudFormation's property is the request member itself.
struct Arg(&'static str, &'static str, &'static str);

const NOTEBOOK: &[Arg] = &[
    Arg("NotebookInstanceName", "name", "--notebook-instance-name"),
    Arg("InstanceType", "instance_type", "--instance-type"),
    Arg("RoleArn", "role_arn", "--role-arn"),
    Arg("SubnetId", "subnet_id", "--subnet-id"),
    Arg(
        "SecurityGroupIds",
        "security_groups",
        "--security-group-ids",
    ),
    Arg(
        "DirectInternetAccess",
        "direct_internet_access",
        "--direct-internet-access",
    ),
    Arg("RootAccess", "root_access", "--root-access"),
    Arg(
        "PlatformIdentifier",
        "platform_identifier",
        "--platform-identifier",
    ),
    Arg("VolumeSizeInGB", "volume_size", "--volume-size-in-gb"),
    Arg("KmsKeyId", "kms_key_id", "--kms-key-id"),
];

const MODEL: &[Arg] = &[
    Arg("ModelName", "name", "--model-name"),
    Arg(
        "EnableNetworkIsolation",
        "enable_network_isolation",
        "--enable-network-isolation",
    ),
];

const VARIANT: &[Arg] = &[
    Arg("VariantName", "variant_name", "VariantName"),
    Arg("ModelName", "model_name", "ModelName"),
    Arg("InstanceType", "instance_type", "InstanceType"),
    Arg(
        "InitialInstanceCount",
        "initial_instance_count",
        "InitialInstanceCount",
    ),
];

/// The newest plan about a resource: its flag, or its latest remediation when that is newer.
/// `None` when neither has a form in `language` (images and app image configs are only
/// flagged with steps).
pub fn newest(
    flag: Option<&Flag>,
    latest: Option<&Remediation>,
    language: Language,
) -> Option<String> {
    let remediation = latest.filter(|r| flag.is_none_or(|f| r.updated_at >= f.at));
    match (remediation, flag) {
        (Some(r), _) => fix_in(&r.resource, r.kind, &r.state, language),
        (None, Some(f)) => recreation(&f.resource, &f.plan, language),
        (None, None) => None,
    }
}

/// A recreation plan in every language, as `{ "cli", "terraform", "cloudformation" }`; `None`
/// when it has no code form.
pub fn all(resource: &ResourceRef, plan: &Value) -> Option<Value> {
    let mut out = Map::new();
    for language in [Language::Cli, Language::Terraform, Language::Cloudformation] {
        out.insert(
            language.to_string(),
            json!(recreation(resource, plan, language)?),
        );
    }
    Some(Value::Object(out))
}

/// A fix (a remediation's journal state) in every language, as `{ "cli", "terraform",
/// "cloudformation" }`; `None` when it has no code form.
pub fn fix(resource: &ResourceRef, kind: RemediationKind, state: &Value) -> Option<Value> {
    let mut out = Map::new();
    for language in [Language::Cli, Language::Terraform, Language::Cloudformation] {
        out.insert(
            language.to_string(),
            json!(fix_in(resource, kind, state, language)?),
        );
    }
    Some(Value::Object(out))
}

/// A recreation plan (a flag's): the Create request with the compliant values.
pub fn recreation(resource: &ResourceRef, plan: &Value, language: Language) -> Option<String> {
    let request = plan.get("request")?.as_object()?;
    let (tf_type, cfn_type, args) = match resource.resource_type {
        ResourceType::NotebookInstance => (
            "aws_sagemaker_notebook_instance",
            "AWS::SageMaker::NotebookInstance",
            NOTEBOOK,
        ),
        ResourceType::Model => ("aws_sagemaker_model", "AWS::SageMaker::Model", MODEL),
        ResourceType::EndpointConfig => return Some(endpoint_config(resource, request, language)),
        ResourceType::Image | ResourceType::AppImageConfig => return None,
    };
    Some(match language {
        Language::Terraform => {
            let mut block = Block::builder("resource")
                .add_label(tf_type)
                .add_label(identifier(&resource.name));
            for Arg(member, argument, _) in args {
                if let Some(v) = request.get(*member).filter(|v| !v.is_null()) {
                    block = block.add_attribute((*argument, expression(v)));
                }
            }
            let mut text = heading(resource, "#");
            if resource.resource_type == ResourceType::Model {
                text.push_str(&format!(
                    "# Keep {}'s execution_role_arn and primary_container (or container) blocks.\n",
                    resource.name
                ));
            }
            text + &terraform(block.build())
        }
        Language::Cloudformation => {
            let properties: Map<String, Value> = args
                .iter()
                .filter_map(|Arg(member, ..)| {
                    let v = request.get(*member).filter(|v| !v.is_null())?;
                    Some((member.to_string(), v.clone()))
                })
                .collect();
            template(resource, cfn_type, Value::Object(properties))
        }
        Language::Cli => {
            let create = match resource.resource_type {
                ResourceType::NotebookInstance => "create-notebook-instance",
                _ => "create-model",
            };
            let mut words = vec![
                "aws".to_string(),
                "sagemaker".to_string(),
                create.to_string(),
            ];
            words.extend(region(resource));
            for Arg(member, _, option) in args {
                if let Some(v) = request.get(*member).filter(|v| !v.is_null()) {
                    words.extend(cli_option(option, v));
                }
            }
            let mut text = heading(resource, "#");
            for step in plan["steps"].as_array().into_iter().flatten() {
                text.push_str(&format!("# {}\n", step.as_str().unwrap_or_default()));
            }
            text + &shell(&words) + "\n"
        }
    })
}

/// An endpoint config's recreation: every instance-based variant with two or more instances.
fn endpoint_config(
    resource: &ResourceRef,
    request: &Map<String, Value>,
    language: Language,
) -> String {
    let name = request
        .get("EndpointConfigName")
        .and_then(Value::as_str)
        .unwrap_or(&resource.name);
    let variants: Vec<&Map<String, Value>> = request
        .get("ProductionVariants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter(|v| v.get("Serverless") != Some(&json!(true)))
        .collect();
    let variant = |v: &Map<String, Value>| -> Map<String, Value> {
        VARIANT
            .iter()
            .filter_map(|Arg(member, ..)| {
                let value = v.get(*member).filter(|x| !x.is_null())?;
                Some((member.to_string(), value.clone()))
            })
            .collect()
    };
    let serverless_note = format!(
        "# Serverless variants of {} keep their serverless_config as they are.\n",
        resource.name
    );
    match language {
        Language::Terraform => {
            let mut block = Block::builder("resource")
                .add_label("aws_sagemaker_endpoint_configuration")
                .add_label(identifier(name))
                .add_attribute(("name", name));
            for v in &variants {
                let mut inner = Block::builder("production_variants");
                for Arg(member, argument, _) in VARIANT {
                    if let Some(x) = v.get(*member).filter(|x| !x.is_null()) {
                        inner = inner.add_attribute((*argument, expression(x)));
                    }
                }
                block = block.add_block(inner.build());
            }
            heading(resource, "#") + &serverless_note + &terraform(block.build())
        }
        Language::Cloudformation => {
            let variants: Vec<Value> = variants.iter().map(|v| Value::Object(variant(v))).collect();
            template(
                resource,
                "AWS::SageMaker::EndpointConfig",
                json!({ "EndpointConfigName": name, "ProductionVariants": variants }),
            )
        }
        Language::Cli => {
            let mut words: Vec<String> = ["aws", "sagemaker", "create-endpoint-config"]
                .map(str::to_string)
                .to_vec();
            words.extend(region(resource));
            words.extend(["--endpoint-config-name".to_string(), name.to_string()]);
            let variants: Vec<Value> = variants.iter().map(|v| Value::Object(variant(v))).collect();
            words.extend([
                "--production-variants".to_string(),
                Value::Array(variants).to_string(),
            ]);
            format!(
                "{}{serverless_note}{}\n# then, for every endpoint that uses {}:\n{}\n",
                heading(resource, "#"),
                shell(&words),
                resource.name,
                shell(
                    &[
                        "aws",
                        "sagemaker",
                        "update-endpoint",
                        "--endpoint-name",
                        "ENDPOINT",
                        "--endpoint-config-name",
                        name
                    ]
                    .map(str::to_string)
                )
            )
        }
    }
}

/// A notebook fix, a tag fix or an endpoint config replacement (`state`, its journal state):
/// the change to the existing resource.
fn fix_in(
    resource: &ResourceRef,
    kind: RemediationKind,
    state: &Value,
    language: Language,
) -> Option<String> {
    match kind {
        RemediationKind::NotebookFix => {
            let plan = state.get("plan").unwrap_or(state);
            let mut changes: Vec<(&Arg, Value)> = Vec::new();
            if plan["disable_root_access"] == true {
                changes.push((&NOTEBOOK[6], json!("Disabled")));
            }
            if let Some(p) = plan["platform"].as_str() {
                changes.push((&NOTEBOOK[7], json!(p)));
            }
            Some(notebook_change(resource, &changes, language))
        }
        RemediationKind::Tags => {
            let tags = state["add_tags"].as_array()?;
            Some(tag_change(resource, tags, language))
        }
        RemediationKind::EndpointReplace => {
            let plan: crate::reconcile::endpoint_fix::ReplacePlan =
                serde_json::from_value(state.get("plan")?.clone()).ok()?;
            Some(replacement(resource, &plan, language))
        }
    }
}

/// The SageMaker.4 replacement: a new endpoint config with the raised counts, every endpoint
/// moved to it blue/green.
fn replacement(
    resource: &ResourceRef,
    plan: &crate::reconcile::endpoint_fix::ReplacePlan,
    language: Language,
) -> String {
    let counts = || {
        plan.variants
            .iter()
            .map(|v| json!({ "VariantName": v.variant, "InitialInstanceCount": v.to }))
    };
    match language {
        Language::Terraform => {
            let mut block = Block::builder("resource")
                .add_label("aws_sagemaker_endpoint_configuration")
                .add_label(identifier(&plan.config))
                .add_attribute(("name", plan.replacement.as_str()));
            for v in &plan.variants {
                block = block.add_block(
                    Block::builder("production_variants")
                        .add_attribute(("variant_name", v.variant.as_str()))
                        .add_attribute(("initial_instance_count", i64::from(v.to)))
                        .build(),
                );
            }
            block = block.add_block(
                Block::builder("lifecycle")
                    .add_attribute(("create_before_destroy", true))
                    .build(),
            );
            format!(
                "{}# Endpoint configurations are immutable: the new name and create_before_destroy let\n\
                 # Terraform create the replacement and move the endpoints ({}) before the old one goes.\n\
                 # Change these arguments; keep the variants' other arguments as they are.\n{}",
                heading(resource, "#"),
                plan.endpoints.join(", "),
                terraform(block.build())
            )
        }
        Language::Cloudformation => template(
            resource,
            "AWS::SageMaker::EndpointConfig",
            json!({
                "EndpointConfigName": plan.replacement,
                "ProductionVariants": counts().collect::<Vec<_>>(),
            }),
        ),
        Language::Cli => {
            let deployment = json!({ "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": { "Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0 }
            }});
            let mut text = format!(
                "{}# Create {} as a copy of {} (describe-endpoint-config) with: {}\n",
                heading(resource, "#"),
                plan.replacement,
                plan.config,
                crate::reconcile::endpoint_fix::changes_in_words(&plan.variants)
            );
            for endpoint in &plan.endpoints {
                let mut words: Vec<String> = ["aws", "sagemaker", "update-endpoint"]
                    .map(str::to_string)
                    .to_vec();
                words.extend(region(resource));
                words.extend([
                    "--endpoint-name".to_string(),
                    endpoint.clone(),
                    "--endpoint-config-name".to_string(),
                    plan.replacement.clone(),
                    "--deployment-config".to_string(),
                    deployment.to_string(),
                ]);
                text.push_str(&shell(&words));
                text.push('\n');
            }
            text
        }
    }
}

/// The arguments a notebook fix changes, on the existing notebook.
fn notebook_change(
    resource: &ResourceRef,
    changes: &[(&Arg, Value)],
    language: Language,
) -> String {
    match language {
        Language::Terraform => {
            let mut block = Block::builder("resource")
                .add_label("aws_sagemaker_notebook_instance")
                .add_label(identifier(&resource.name))
                .add_attribute(("name", resource.name.as_str()));
            for (Arg(_, argument, _), v) in changes {
                block = block.add_attribute((*argument, expression(v)));
            }
            format!(
                "{}# Change these arguments of the existing resource; keep the others as they are.\n{}",
                heading(resource, "#"),
                terraform(block.build())
            )
        }
        Language::Cloudformation => {
            let mut properties = Map::new();
            properties.insert("NotebookInstanceName".into(), json!(resource.name));
            for (Arg(member, ..), v) in changes {
                properties.insert(member.to_string(), v.clone());
            }
            template(
                resource,
                "AWS::SageMaker::NotebookInstance",
                Value::Object(properties),
            )
        }
        Language::Cli => {
            let name = resource.name.as_str();
            let mut update: Vec<String> = ["aws", "sagemaker", "update-notebook-instance"]
                .map(str::to_string)
                .to_vec();
            update.extend(region(resource));
            update.extend(["--notebook-instance-name".to_string(), name.to_string()]);
            for (Arg(_, _, option), v) in changes {
                update.extend(cli_option(option, v));
            }
            let command = |verb: &[&str]| {
                let mut words: Vec<String> = ["aws", "sagemaker"]
                    .iter()
                    .chain(verb)
                    .map(|w| w.to_string())
                    .collect();
                words.extend(region(resource));
                words.extend(["--notebook-instance-name".to_string(), name.to_string()]);
                shell(&words)
            };
            let wait = command(&["wait", "notebook-instance-stopped"]);
            format!(
                "{}{}\n{wait}\n{}\n{wait}\n# start it again only if it was running:\n{}\n",
                heading(resource, "#"),
                command(&["stop-notebook-instance"]),
                shell(&update),
                command(&["start-notebook-instance"]),
            )
        }
    }
}

/// The tags a tag fix adds, on the existing image or app image config.
fn tag_change(resource: &ResourceRef, tags: &[Value], language: Language) -> String {
    let pair = |t: &Value| {
        (
            t["key"].as_str().unwrap_or_default().to_string(),
            t["value"].as_str().unwrap_or_default().to_string(),
        )
    };
    let (tf_type, cfn_type, name_member) = match resource.resource_type {
        ResourceType::Image => ("aws_sagemaker_image", "AWS::SageMaker::Image", "ImageName"),
        _ => (
            "aws_sagemaker_app_image_config",
            "AWS::SageMaker::AppImageConfig",
            "AppImageConfigName",
        ),
    };
    match language {
        Language::Terraform => {
            let object: hcl::Object<hcl::ObjectKey, Expression> = tags
                .iter()
                .map(pair)
                .map(|(k, v)| (hcl::ObjectKey::from(k), Expression::from(v)))
                .collect();
            let name_argument = match resource.resource_type {
                ResourceType::Image => "image_name",
                _ => "app_image_config_name",
            };
            let block = Block::builder("resource")
                .add_label(tf_type)
                .add_label(identifier(&resource.name))
                .add_attribute((name_argument, resource.name.as_str()))
                .add_attribute(("tags", Expression::Object(object)))
                .build();
            format!(
                "{}# Add these tags to the existing resource's tags.\n{}",
                heading(resource, "#"),
                terraform(block)
            )
        }
        Language::Cloudformation => {
            let tags: Vec<Value> = tags
                .iter()
                .map(pair)
                .map(|(k, v)| json!({ "Key": k, "Value": v }))
                .collect();
            template(
                resource,
                cfn_type,
                json!({ name_member: resource.name, "Tags": tags }),
            )
        }
        Language::Cli => {
            let mut words: Vec<String> = ["aws", "sagemaker", "add-tags"]
                .map(str::to_string)
                .to_vec();
            words.extend(region(resource));
            words.extend([
                "--resource-arn".to_string(),
                resource.arn.to_string(),
                "--tags".to_string(),
            ]);
            words.extend(
                tags.iter()
                    .map(pair)
                    .map(|(k, v)| format!("Key={k},Value={v}")),
            );
            heading(resource, "#") + &shell(&words) + "\n"
        }
    }
}

fn heading(resource: &ResourceRef, comment: &str) -> String {
    format!(
        "{comment} sagemaker-remediator plan for {} ({} {})\n",
        resource.arn, resource.account, resource.region
    )
}

fn region(resource: &ResourceRef) -> [String; 2] {
    ["--region".to_string(), resource.region.clone()]
}

/// A one-resource CloudFormation template (JSON), the logical id from the resource's name.
fn template(resource: &ResourceRef, cfn_type: &str, properties: Value) -> String {
    let template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("sagemaker-remediator plan for {}", resource.arn),
        "Resources": { logical_id(&resource.name): { "Type": cfn_type, "Properties": properties } },
    });
    serde_json::to_string_pretty(&template).unwrap_or_default() + "\n"
}

fn terraform(block: Block) -> String {
    hcl::to_string(&Body::builder().add_block(block).build()).unwrap_or_default()
}

/// A JSON value as an HCL expression.
fn expression(v: &Value) -> Expression {
    match v {
        Value::Null => Expression::Null,
        Value::Bool(b) => Expression::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Expression::from(i),
            None => Expression::from(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => Expression::from(s.as_str()),
        Value::Array(a) => Expression::Array(a.iter().map(expression).collect()),
        Value::Object(o) => Expression::Object(
            o.iter()
                .map(|(k, v)| (hcl::ObjectKey::from(k.as_str()), expression(v)))
                .collect(),
        ),
    }
}

/// `--option value` (a list as several values, a boolean as `--option` / `--no-option`).
fn cli_option(option: &str, v: &Value) -> Vec<String> {
    match v {
        Value::Bool(true) => vec![option.to_string()],
        Value::Bool(false) => vec![option.replacen("--", "--no-", 1)],
        Value::Array(items) => std::iter::once(option.to_string())
            .chain(items.iter().map(plain))
            .collect(),
        other => vec![option.to_string(), plain(other)],
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Words joined for a POSIX shell, each quoted where needed.
fn shell(words: &[String]) -> String {
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}

/// A Terraform resource name: lowercase letters, digits and underscores, not starting with a
/// digit.
fn identifier(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c.to_ascii_lowercase(),
            false => '_',
        })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        id.insert(0, '_');
    }
    id
}

/// A CloudFormation logical id: the name's letters and digits in CamelCase.
fn logical_id(name: &str) -> String {
    let mut id = String::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        id.insert(0, 'R');
    }
    id
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::store::RemediationStatus;

    fn notebook() -> ResourceRef {
        ResourceRef {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            resource_type: ResourceType::NotebookInstance,
            name: "Research-1".into(),
            arn: "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/research-1".into(),
        }
    }

    /// A notebook's recreation plan as `flag::recreation_plan` writes it.
    fn recreation_plan() -> Value {
        json!({
            "controls": ["SageMaker.3"],
            "steps": ["copy the notebook's data", "StopNotebookInstance Research-1, then DeleteNotebookInstance Research-1", "CreateNotebookInstance with the request below"],
            "request": {
                "NotebookInstanceName": "Research-1",
                "InstanceType": "ml.t3.medium",
                "RoleArn": "arn:aws:iam::123456789012:role/nb",
                "SubnetId": "subnet-0abc",
                "SecurityGroupIds": ["sg-1", "sg-2"],
                "DirectInternetAccess": "Disabled",
                "RootAccess": "Disabled",
                "PlatformIdentifier": "notebook-al2023-v1",
                "VolumeSizeInGB": 5,
                "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k-1",
            },
        })
    }

    fn attribute<'a>(block: &'a hcl::Block, key: &str) -> Option<&'a Expression> {
        block
            .body
            .attributes()
            .find(|a| a.key.as_str() == key)
            .map(|a| &a.expr)
    }

    #[test]
    fn a_recreation_plan_renders_as_terraform_that_parses_back_with_the_notebooks_own_values() {
        let text = recreation(&notebook(), &recreation_plan(), Language::Terraform).unwrap();
        let body: hcl::Body = hcl::parse(&text).unwrap();
        let block = body.blocks().next().unwrap();
        assert_eq!(block.identifier.as_str(), "resource");
        let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
        assert_eq!(labels, ["aws_sagemaker_notebook_instance", "research_1"]);
        assert_eq!(
            attribute(block, "root_access"),
            Some(&Expression::from("Disabled"))
        );
        assert_eq!(
            attribute(block, "subnet_id"),
            Some(&Expression::from("subnet-0abc"))
        );
        assert_eq!(
            attribute(block, "security_groups"),
            Some(&Expression::Array(vec!["sg-1".into(), "sg-2".into()]))
        );
        assert_eq!(
            attribute(block, "kms_key_id"),
            Some(&Expression::from(
                "arn:aws:kms:us-east-1:123456789012:key/k-1"
            ))
        );
        assert_eq!(attribute(block, "volume_size"), Some(&Expression::from(5)));
    }

    #[test]
    fn a_recreation_plan_renders_as_cloudformation_and_cli() {
        let text = recreation(&notebook(), &recreation_plan(), Language::Cloudformation).unwrap();
        let template: Value = serde_json::from_str(&text).unwrap();
        let r = &template["Resources"]["Research1"];
        assert_eq!(r["Type"], "AWS::SageMaker::NotebookInstance");
        assert_eq!(r["Properties"]["RootAccess"], "Disabled");
        assert_eq!(r["Properties"]["SecurityGroupIds"], json!(["sg-1", "sg-2"]));

        let cli = recreation(&notebook(), &recreation_plan(), Language::Cli).unwrap();
        let command = cli.lines().rfind(|l| !l.starts_with('#')).unwrap();
        let words = shlex::split(command).unwrap();
        assert_eq!(words[..3], ["aws", "sagemaker", "create-notebook-instance"]);
        let after = |option: &str| {
            let i = words.iter().position(|w| w == option).unwrap();
            words[i + 1].clone()
        };
        assert_eq!(after("--root-access"), "Disabled");
        assert_eq!(after("--region"), "us-east-1");
        let groups = words
            .iter()
            .position(|w| w == "--security-group-ids")
            .unwrap();
        assert_eq!(words[groups + 1..groups + 3], ["sg-1", "sg-2"]);
        assert!(cli.contains("# StopNotebookInstance Research-1"), "{cli}");
    }

    #[test]
    fn a_notebook_fix_renders_as_the_change_and_the_newest_plan_wins() {
        let resource = notebook();
        let fix = Remediation {
            id: 3,
            resource: resource.clone(),
            controls: vec![crate::model::ControlId::SageMaker3],
            kind: RemediationKind::NotebookFix,
            dry_run: true,
            state: json!({ "plan": { "disable_root_access": true, "platform": "notebook-al2023-v1" } }),
            status: RemediationStatus::Succeeded,
            outcome: Some("dry-run".into()),
            created_at: 10,
            updated_at: 20,
            steps: Vec::new(),
        };
        let flag = Flag {
            resource: resource.clone(),
            controls: vec![crate::model::ControlId::SageMaker1],
            plan: recreation_plan(),
            dry_run: true,
            at: 30,
        };
        let tf = newest(None, Some(&fix), Language::Terraform).unwrap();
        let body: hcl::Body = hcl::parse(&tf).unwrap();
        let block = body.blocks().next().unwrap();
        assert_eq!(
            attribute(block, "root_access"),
            Some(&Expression::from("Disabled"))
        );
        assert_eq!(
            attribute(block, "platform_identifier"),
            Some(&Expression::from("notebook-al2023-v1"))
        );
        assert_eq!(attribute(block, "subnet_id"), None, "only what changes");
        let cli = newest(None, Some(&fix), Language::Cli).unwrap();
        assert!(cli.contains("aws sagemaker wait notebook-instance-stopped --region us-east-1 --notebook-instance-name Research-1"), "{cli}");
        assert!(
            cli.contains("--root-access Disabled --platform-identifier notebook-al2023-v1"),
            "{cli}"
        );
        // The flag is newer than the fix: its recreation plan is the newest plan.
        let newer = newest(Some(&flag), Some(&fix), Language::Terraform).unwrap();
        assert!(newer.contains("kms_key_id"), "{newer}");
    }

    #[test]
    fn images_have_no_code_form_but_tag_fixes_and_endpoint_replacements_do() {
        let image = ResourceRef {
            resource_type: ResourceType::Image,
            name: "base".into(),
            arn: "arn:aws:sagemaker:us-east-1:123456789012:image/base".into(),
            ..notebook()
        };
        assert_eq!(
            recreation(&image, &json!({ "steps": ["AddTags"] }), Language::Cli),
            None
        );
        let tags = Remediation {
            id: 1,
            resource: image.clone(),
            controls: vec![crate::model::ControlId::SageMaker7],
            kind: RemediationKind::Tags,
            dry_run: false,
            state: json!({ "add_tags": [{ "key": "owner", "value": "ml platform" }] }),
            status: RemediationStatus::Succeeded,
            outcome: Some("fixed".into()),
            created_at: 1,
            updated_at: 2,
            steps: Vec::new(),
        };
        let tf = newest(None, Some(&tags), Language::Terraform).unwrap();
        let body: hcl::Body = hcl::parse(&tf).unwrap();
        assert!(tf.contains("aws_sagemaker_image"), "{tf}");
        assert_eq!(body.blocks().count(), 1);
        let cli = newest(None, Some(&tags), Language::Cli).unwrap();
        assert!(
            cli.contains("--tags 'Key=owner,Value=ml platform'"),
            "{cli}"
        );
        let replace = Remediation {
            kind: RemediationKind::EndpointReplace,
            resource: ResourceRef {
                resource_type: ResourceType::EndpointConfig,
                name: "churn".into(),
                arn: "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/churn".into(),
                ..notebook()
            },
            state: json!({ "plan": {
                "config": "churn", "replacement": "churn-ha", "endpoints": ["a", "b"],
                "variants": [{ "variant": "AllTraffic", "from": 1, "to": 2 }],
            }}),
            ..tags
        };
        let tf = newest(None, Some(&replace), Language::Terraform).unwrap();
        let body: hcl::Body = hcl::parse(&tf).unwrap();
        let block = body.blocks().next().unwrap();
        assert_eq!(
            attribute(block, "name"),
            Some(&Expression::from("churn-ha"))
        );
        let variant = block.body.blocks().next().unwrap();
        assert_eq!(variant.identifier.as_str(), "production_variants");
        assert_eq!(
            attribute(variant, "initial_instance_count"),
            Some(&Expression::from(2))
        );
        let cli = newest(None, Some(&replace), Language::Cli).unwrap();
        assert_eq!(
            cli.matches("aws sagemaker update-endpoint").count(),
            2,
            "{cli}"
        );
    }
}
