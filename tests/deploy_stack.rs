//! `deploy/cloudformation/service.yaml` created as a stack in moto's CloudFormation: what it
//! makes, every event fixture routed (or not) by the rules it made exactly as the parsers
//! judge it, and the daemon, run on the stack's queue, fixing a notebook in the simulator from
//! an event put on the bus.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use common::daemon::{family_event, World};
use sagemaker_remediator::events::{self, Parsed};
use sagemaker_remediator::store::RemediationStatus;
use serde_json::Value;

const SERVICE: &str = include_str!("../deploy/cloudformation/service.yaml");
const MEMBER: &str = include_str!("../deploy/cloudformation/member-account.yaml");

/// A VPC with two subnets for the service stack's parameters (moto checks that they exist).
const NETWORK: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: { CidrBlock: 10.20.0.0/16 }
  SubnetA:
    Type: AWS::EC2::Subnet
    Properties: { VpcId: { Ref: Vpc }, CidrBlock: 10.20.1.0/24, AvailabilityZone: us-east-1a }
  SubnetB:
    Type: AWS::EC2::Subnet
    Properties: { VpcId: { Ref: Vpc }, CidrBlock: 10.20.2.0/24, AvailabilityZone: us-east-1b }
Outputs:
  VpcId: { Value: { Ref: Vpc } }
  Subnets: { Value: { "Fn::Join": [",", [{ Ref: SubnetA }, { Ref: SubnetB }]] } }
"#;

/// The resource types of service.yaml that moto's CloudFormation does not implement: it skips
/// them with a warning. Each is checked by cfn-lint and checkov instead.
const NOT_IN_MOTO: &[&str] = &[
    "AWS::CloudWatch::Alarm",
    "AWS::Events::EventBusPolicy",
    "AWS::Logs::MetricFilter",
    "AWS::SQS::QueuePolicy",
];

fn parameter(key: &str, value: &str) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

async fn create(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    body: &str,
    parameters: Vec<Parameter>,
) -> Vec<(String, String)> {
    cfn.create_stack()
        .stack_name(name)
        .template_body(body)
        .set_parameters(Some(parameters))
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stack = cfn
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .unwrap()
            .stacks
            .unwrap()
            .remove(0);
        match stack.stack_status() {
            Some(StackStatus::CreateComplete) => {
                return stack
                    .outputs()
                    .iter()
                    .map(|o| {
                        (
                            o.output_key().unwrap().to_string(),
                            o.output_value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            }
            Some(StackStatus::CreateInProgress) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            other => {
                let events = cfn.describe_stack_events().stack_name(name).send().await;
                panic!("stack {name}: {other:?}: {events:#?}");
            }
        }
    }
}

fn output<'a>(outputs: &'a [(String, String)], key: &str) -> &'a str {
    &outputs.iter().find(|(k, _)| k == key).unwrap().1
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_stack_deploys_in_an_emulator_and_its_rules_bring_events_to_the_daemon() {
    let mut world = World::start(Duration::from_millis(100)).await;
    let sdk = sagemaker_remediator::demo::emulator_sdk_config(&world.moto.endpoint).await;
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let network = create(&cfn, "network", NETWORK, Vec::new()).await;
    let outputs = create(
        &cfn,
        "sagemaker-remediator",
        SERVICE,
        vec![
            parameter("Image", "registry.example/sagemaker-remediator@sha256:0000"),
            parameter("VpcId", output(&network, "VpcId")),
            parameter("SubnetIds", output(&network, "Subnets")),
            parameter("OrganizationId", "o-exampleorg1"),
            parameter("ExternalId", "smr-test-external-id"),
            parameter("EnforceOus", "ou-ab12-prod0001"),
        ],
    )
    .await;

    // What moto made, and what it skipped (exactly the types it lacks).
    let resources = cfn
        .list_stack_resources()
        .stack_name("sagemaker-remediator")
        .send()
        .await
        .unwrap();
    let made: BTreeSet<String> = resources
        .stack_resource_summaries()
        .iter()
        .map(|r| r.resource_type().unwrap().to_string())
        .collect();
    let template: serde_yaml::Value = serde_yaml::from_str(SERVICE).unwrap();
    let declared: BTreeSet<String> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .map(|r| r["Type"].as_str().unwrap().to_string())
        .collect();
    let skipped: Vec<&String> = declared.difference(&made).collect();
    assert_eq!(skipped, NOT_IN_MOTO, "made: {made:?}");
    for kind in [
        "AWS::SQS::Queue",
        "AWS::Events::Rule",
        "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
        "AWS::ECS::Cluster",
        "AWS::ECS::TaskDefinition",
        "AWS::ECS::Service",
        "AWS::DynamoDB::Table",
        "AWS::SSM::Parameter",
    ] {
        assert!(made.contains(kind), "{kind} not made: {made:?}");
    }

    // The member account's stack too (its role and forwarding rules), as a StackSet would
    // make it in an account other than the tooling account.
    create(
        &cfn,
        "sagemaker-remediator-member",
        MEMBER,
        vec![
            parameter("ToolingAccountId", "444455556666"),
            parameter("ExternalId", "smr-test-external-id"),
            parameter("OrganizationId", "o-exampleorg1"),
        ],
    )
    .await;
    let member = cfn
        .list_stack_resources()
        .stack_name("sagemaker-remediator-member")
        .send()
        .await
        .unwrap();
    let mut member_made: Vec<&str> = member
        .stack_resource_summaries()
        .iter()
        .map(|r| r.logical_resource_id().unwrap())
        .collect();
    member_made.sort_unstable();
    assert_eq!(
        member_made,
        [
            "ForwardCloudTrail",
            "ForwardConfig",
            "ForwardSageMaker",
            "ForwardSecurityHub",
            "ForwardingRole",
            "MemberRole"
        ]
    );

    // The queue the stack made, with its dead-letter queue.
    let queue_url = output(&outputs, "QueueUrl").to_string();
    let attributes = world
        .sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let redrive = attributes
        .attributes()
        .unwrap()
        .get(&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .unwrap()
        .clone();
    assert!(
        redrive.contains("sagemaker-remediator-events-dlq"),
        "{redrive}"
    );

    // Every fixture through the rules the stack made: what the parsers act on arrives, what
    // they call irrelevant does not. Exceptions, said in deploy/README.md: legacy
    // per-standard findings need the legacy pattern, and OCSF findings have no rule. moto's
    // matcher does not look into arrays of objects (`detail.findings[].Compliance`), so the
    // Security Hub fixtures are judged by `matches` below instead, against the same pattern.
    let security_hub_pattern = serde_json::to_value(
        &template["Resources"]["SecurityHubRule"]["Properties"]["EventPattern"],
    )
    .unwrap();
    let mut want = BTreeSet::new();
    let mut fixtures = Vec::new();
    for entry in std::fs::read_dir("tests/fixtures/events").unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.contains("legacy") || name.contains("ocsf") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let event: Value = serde_json::from_str(&text).unwrap();
        let acted_on = matches!(
            events::parse(&text),
            Ok(Parsed::Triggers(_) | Parsed::Activity(_))
        );
        if event["source"] == "aws.securityhub" {
            assert_eq!(
                matches(&security_hub_pattern, &event),
                acted_on,
                "{name}: the Security Hub rule and the parser disagree"
            );
            continue;
        }
        if acted_on {
            want.insert(name.clone());
        }
        fixtures.push((name, event));
    }
    assert!(want.len() >= 7, "{want:?}");
    for (name, event) in &fixtures {
        let mut detail = event["detail"].clone();
        // Which fixture a delivered event is: a marker the parsers ignore.
        detail["smrFixture"] = Value::String(name.clone());
        world
            .put_events(&[(
                event["source"].as_str().unwrap().to_string(),
                event["detail-type"].as_str().unwrap().to_string(),
                detail,
            )])
            .await;
    }
    let mut got = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let received = world
            .sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in received.messages() {
            let body: Value = serde_json::from_str(m.body().unwrap()).unwrap();
            got.insert(body["detail"]["smrFixture"].as_str().unwrap().to_string());
            world
                .sqs
                .delete_message()
                .queue_url(&queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        if got.len() >= want.len() && received.messages().is_empty() {
            break;
        }
    }
    assert_eq!(
        got, want,
        "routed by the stack's rules vs acted on by the parsers"
    );

    // The daemon on the stack's queue: an event on the bus, through the stack's rule, gets a
    // notebook fixed in the simulator.
    world.queue_url = queue_url;
    // ... with its journal in the stack's table (the store checks the table's keys and index).
    world.table = Some(output(&outputs, "JournalTableName").to_string());
    let mut daemon = world.daemon("enforce", "", &[]);
    daemon.wait_ready().await;
    // After the start-up sweep, so that only the event can bring the notebook to the daemon.
    daemon
        .wait_log("sweep_done", 1, Duration::from_secs(30))
        .await;
    world.notebook("stack-routed", true).await;
    world
        .put_events(&[family_event("sagemaker", "stack-routed")])
        .await;
    world
        .wait_journal(Duration::from_secs(60), "the fix", |j| {
            j.iter().any(|r| {
                r.resource.name == "stack-routed"
                    && r.kind == "notebook-fix"
                    && r.status == RemediationStatus::Succeeded
            })
        })
        .await;
    assert_eq!(world.describe("stack-routed").await.1, "Disabled");
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

/// EventBridge's matching of `pattern` against `event`, for the operators the rules use: the
/// event is flattened into paths (through nested objects and arrays, so a path may have several
/// values), and every path of the pattern must have a value its list accepts (a string, a
/// `{ prefix }`), or, with `{ exists: false }`, none.
fn matches(pattern: &Value, event: &Value) -> bool {
    let mut values = std::collections::BTreeMap::<String, Vec<Value>>::new();
    flatten(event, String::new(), &mut values);
    let mut conditions = Vec::new();
    conditions_of(pattern, String::new(), &mut conditions);
    conditions.iter().all(|(path, accepted)| {
        let got = values.get(path).map(Vec::as_slice).unwrap_or_default();
        accepted.iter().any(|a| match a {
            Value::Object(op) if op.contains_key("exists") => op["exists"] == !got.is_empty(),
            Value::Object(op) if op.contains_key("prefix") => got.iter().any(|v| {
                v.as_str()
                    .is_some_and(|s| s.starts_with(op["prefix"].as_str().unwrap_or_default()))
            }),
            literal => got.contains(literal),
        })
    })
}

fn flatten(value: &Value, path: String, out: &mut std::collections::BTreeMap<String, Vec<Value>>) {
    match value {
        Value::Object(fields) => {
            for (k, v) in fields {
                let below = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(v, below, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                flatten(item, path.clone(), out);
            }
        }
        leaf => out.entry(path).or_default().push(leaf.clone()),
    }
}

fn conditions_of(pattern: &Value, path: String, out: &mut Vec<(String, Vec<Value>)>) {
    if let Value::Object(fields) = pattern {
        for (k, v) in fields {
            let below = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            match v {
                Value::Array(accepted) => out.push((below, accepted.clone())),
                nested => conditions_of(nested, below, out),
            }
        }
    }
}

#[test]
fn the_pattern_matcher_follows_eventbridge_on_arrays_prefixes_and_absence() {
    let pattern = serde_json::json!({
        "source": ["aws.securityhub"],
        "detail": { "findings": { "Compliance": { "SecurityControlId": [{ "prefix": "SageMaker." }] },
                                   "RecordState": ["ACTIVE"] },
                    "errorCode": [{ "exists": false }] }
    });
    let event = |id: &str, state: &str| {
        serde_json::json!({ "source": "aws.securityhub", "detail": { "findings": [
            { "Compliance": { "SecurityControlId": "S3.1" }, "RecordState": "ARCHIVED" },
            { "Compliance": { "SecurityControlId": id }, "RecordState": state }
        ]}})
    };
    assert!(matches(&pattern, &event("SageMaker.3", "ACTIVE")));
    assert!(!matches(&pattern, &event("EC2.1", "ACTIVE")));
    assert!(!matches(&pattern, &event("SageMaker.3", "ARCHIVED")));
    let mut with_error = event("SageMaker.3", "ACTIVE");
    with_error["detail"]["errorCode"] = "AccessDenied".into();
    assert!(!matches(&pattern, &with_error));
    let mut other_source = event("SageMaker.3", "ACTIVE");
    other_source["source"] = "aws.config".into();
    assert!(!matches(&pattern, &other_source));
}
