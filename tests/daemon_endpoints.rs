//! SageMaker.4 end to end: the daemon as a process replaces a single-instance endpoint config
//! behind the endpoints that use it (a copy of every field with two instances, a blue/green
//! UpdateEndpoint of each endpoint), after an approval by default, across a crash at each step
//! boundary, and records an update that rolls back. The simulator counts every call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use aws_sdk_sagemaker::types::{
    CaptureMode, CaptureOption, ContainerDefinition, DataCaptureConfig, ProductionVariant,
    ProductionVariantInstanceType, Tag,
};
use common::daemon::{World, ACCOUNT, NOTIFICATION_BUS, REGION};
use sagemaker_remediator::reconcile::CRASH_POINT_VAR;
use sagemaker_remediator::sim::Faults;
use sagemaker_remediator::store::{Remediation, RemediationStatus};
use serde_json::{json, Value};

const CREATE: &str = "CreateEndpointConfig";
const UPDATE: &str = "UpdateEndpoint";
/// SageMaker.4 without an approval (the default asks for one).
const FIX: &str = "\n[actions]\n\"SageMaker.4\" = \"fix\"\n";
const SCHEMA: &str = include_str!("../deploy/schemas/notification-detail.v1.json");
const KMS: &str = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-aaaa-bbbb-cccc-112233445566";

/// The model every config serves (created once per world).
async fn model(world: &World) {
    let created = world
        .sagemaker
        .create_model()
        .model_name("churn-model")
        .execution_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/SageMakerExecution"))
        .primary_container(
            ContainerDefinition::builder()
                .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1")
                .build(),
        )
        .send()
        .await;
    if let Err(e) = created {
        assert!(format!("{e:?}").contains("already existing"), "{e:?}");
    }
}

/// An endpoint config with one variant of `count` instances, a KMS key, data capture and a
/// team tag, and `endpoints` serving it.
async fn config_with_endpoints(world: &World, config: &str, count: i32, endpoints: &[&str]) {
    model(world).await;
    world
        .sagemaker
        .create_endpoint_config()
        .endpoint_config_name(config)
        .production_variants(
            ProductionVariant::builder()
                .variant_name("AllTraffic")
                .model_name("churn-model")
                .instance_type(ProductionVariantInstanceType::MlM5Large)
                .initial_instance_count(count)
                .initial_variant_weight(1.0)
                .build(),
        )
        .kms_key_id(KMS)
        .data_capture_config(
            DataCaptureConfig::builder()
                .enable_capture(true)
                .initial_sampling_percentage(20)
                .destination_s3_uri("s3://churn-capture/prod")
                .capture_options(
                    CaptureOption::builder()
                        .capture_mode(CaptureMode::Input)
                        .build(),
                )
                .build(),
        )
        .tags(Tag::builder().key("team").value("churn").build())
        .send()
        .await
        .unwrap();
    for e in endpoints {
        world
            .sagemaker
            .create_endpoint()
            .endpoint_name(*e)
            .endpoint_config_name(config)
            .send()
            .await
            .unwrap();
    }
}

/// The CloudTrail event of the config's creation, the trigger the daemon acts on.
fn created(config: &str) -> (String, String, Value) {
    (
        "aws.sagemaker".into(),
        "AWS API Call via CloudTrail".into(),
        json!({
            "eventVersion": "1.08",
            "userIdentity": { "type": "AssumedRole", "accountId": ACCOUNT },
            "eventTime": "2026-12-06T12:00:00Z",
            "eventSource": "sagemaker.amazonaws.com",
            "eventName": "CreateEndpointConfig",
            "awsRegion": REGION,
            "requestParameters": { "endpointConfigName": config },
            "responseElements": {
                "endpointConfigArn": format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/{config}")
            },
            "recipientAccountId": ACCOUNT
        }),
    )
}

fn replacements_of<'j>(journal: &'j [Remediation], config: &str) -> Vec<&'j Remediation> {
    journal
        .iter()
        .filter(|r| r.kind == "endpoint-replace" && r.resource.arn.ends_with(&format!("/{config}")))
        .collect()
}

async fn wait_replaced(world: &World, config: &str, status: RemediationStatus) -> Vec<Remediation> {
    world
        .wait_journal(Duration::from_secs(90), config, |j| {
            replacements_of(j, config)
                .iter()
                .any(|r| r.status == status)
        })
        .await
}

/// (EndpointStatus, EndpointConfigName) of an endpoint.
async fn endpoint(world: &World, name: &str) -> (String, String) {
    let e = world
        .sagemaker
        .describe_endpoint()
        .endpoint_name(name)
        .send()
        .await
        .unwrap();
    (
        e.endpoint_status().unwrap().as_str().to_string(),
        e.endpoint_config_name().unwrap().to_string(),
    )
}

/// Waits until `name` is InService on some config (a rollback or an update completing).
async fn wait_in_service(world: &World, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, config) = endpoint(world, name).await;
        if status == "InService" {
            return config;
        }
        assert!(Instant::now() < deadline, "{name} is {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn tags_of(world: &World, config: &str) -> Vec<(String, String)> {
    let arn = world
        .sagemaker
        .describe_endpoint_config()
        .endpoint_config_name(config)
        .send()
        .await
        .unwrap()
        .endpoint_config_arn()
        .unwrap()
        .to_string();
    let tags = world
        .sagemaker
        .list_tags()
        .resource_arn(arn)
        .send()
        .await
        .unwrap();
    tags.tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// `approvals list --state pending --format json`, until one is there.
async fn wait_pending(world: &World) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = world.cli(&[
            "approvals",
            "list",
            "--state",
            "pending",
            "--format",
            "json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let found: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if !found.is_empty() {
            return found;
        }
        assert!(Instant::now() < deadline, "no pending request");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approved_replacement_moves_every_endpoint_to_a_full_copy_with_two_instances() {
    let world = World::start(Duration::from_millis(500)).await;
    // Two endpoints share the failing config; a third serves a compliant one.
    config_with_endpoints(&world, "churn-config", 1, &["churn-a", "churn-b"]).await;
    config_with_endpoints(&world, "search-config", 2, &["search"]).await;
    world.sim.simulator.reset_calls();
    let notices = world.notification_queue().await;
    let bus = format!("\n[notifications]\nevent_bus = \"{NOTIFICATION_BUS}\"\n");
    let mut daemon = world.daemon("enforce", &bus, &[]);
    daemon.wait_ready().await;
    world.put_events(&[created("churn-config")]).await;

    // The default for SageMaker.4 is approve: a request, and no change.
    let pending = wait_pending(&world).await;
    assert_eq!(pending.len(), 1, "{pending:#?}");
    let words = pending[0]["plan_in_words"].as_str().unwrap();
    assert!(
        words.contains("create endpoint config churn-config-ha (a copy of churn-config with variant AllTraffic 1 -> 2 instances) and move endpoints churn-a, churn-b to it"),
        "{words}"
    );
    let calls = world.sim.simulator.calls();
    assert_eq!(
        (calls.received(CREATE), calls.received(UPDATE)),
        (0, 0),
        "{calls:?}"
    );

    let id = pending[0]["id"].as_i64().unwrap();
    let out = world.cli(&[
        "approvals",
        "approve",
        &id.to_string(),
        "--by",
        "alice",
        "--reason",
        "CHG-4 HA for churn",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let journal = wait_replaced(&world, "churn-config", RemediationStatus::Succeeded).await;
    let runs = replacements_of(&journal, "churn-config");
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let steps: Vec<String> = runs[0]
        .steps
        .iter()
        .map(|s| format!("{} {}", s.step.as_str(), s.phase.as_str()))
        .collect();
    assert!(steps.contains(&"Approve done".to_string()), "{steps:?}");
    assert_eq!(
        runs[0].outcome.as_deref(),
        Some("every endpoint that used churn-config (churn-a, churn-b) now serves churn-config-ha")
    );

    let calls = world.sim.simulator.calls();
    assert_eq!(calls.received(CREATE), 1, "one copy: {calls:?}");
    assert_eq!(calls.received(UPDATE), 2, "one per endpoint: {calls:?}");
    for e in ["churn-a", "churn-b"] {
        assert_eq!(
            endpoint(&world, e).await,
            ("InService".into(), "churn-config-ha".into())
        );
        let d = world
            .sagemaker
            .describe_endpoint()
            .endpoint_name(e)
            .send()
            .await
            .unwrap();
        let policy = d
            .last_deployment_config()
            .and_then(|c| c.blue_green_update_policy())
            .expect("a blue/green deployment");
        assert_eq!(
            policy
                .traffic_routing_configuration()
                .and_then(|r| r.r#type())
                .map(|t| t.as_str()),
            Some("ALL_AT_ONCE")
        );
    }
    assert_eq!(
        endpoint(&world, "search").await,
        ("InService".into(), "search-config".into()),
        "an endpoint on another config is not touched"
    );

    // Every field copied, the instance count raised.
    let old = world
        .sagemaker
        .describe_endpoint_config()
        .endpoint_config_name("churn-config")
        .send()
        .await
        .unwrap();
    let new = world
        .sagemaker
        .describe_endpoint_config()
        .endpoint_config_name("churn-config-ha")
        .send()
        .await
        .unwrap();
    assert_eq!(new.kms_key_id(), Some(KMS));
    assert_eq!(new.data_capture_config(), old.data_capture_config());
    assert!(new.data_capture_config().is_some());
    let (o, n) = (&old.production_variants()[0], &new.production_variants()[0]);
    assert_eq!(n.initial_instance_count, Some(2));
    assert_eq!(
        (
            n.variant_name(),
            n.model_name(),
            n.instance_type(),
            n.initial_variant_weight
        ),
        (
            o.variant_name(),
            o.model_name(),
            o.instance_type(),
            o.initial_variant_weight
        )
    );
    let new_tags = tags_of(&world, "churn-config-ha").await;
    assert!(
        new_tags.contains(&("team".into(), "churn".into())),
        "{new_tags:?}"
    );
    assert!(
        new_tags.contains(&(
            "sagemaker-remediator:replaces".into(),
            "churn-config".into()
        )),
        "{new_tags:?}"
    );
    let old_tags = tags_of(&world, "churn-config").await;
    assert!(
        old_tags.contains(&(
            "sagemaker-remediator:replaced-by".into(),
            "churn-config-ha".into()
        )),
        "the old config is tagged, not deleted: {old_tags:?}"
    );

    // The outcomes on the bus, valid against the published schema.
    let mut events = Vec::new();
    let types = [
        "Remediation Pending Approval",
        "Remediation Planned",
        "Remediation Succeeded",
    ];
    world
        .receive_events(
            &notices,
            &mut events,
            Duration::from_secs(30),
            "the outcomes",
            |e| {
                types
                    .iter()
                    .all(|t| e.iter().any(|e| e["detail-type"] == *t))
            },
        )
        .await;
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for e in &events {
        let problems: Vec<String> = validator
            .iter_errors(&e["detail"])
            .map(|x| x.to_string())
            .collect();
        assert!(problems.is_empty(), "{problems:?} in {e:#}");
        if e["detail"]["resource"]["name"] != "churn-config" {
            continue; // the model without network isolation is flagged too
        }
        assert_eq!(e["detail"]["kind"], "endpoint-replace", "{e:#}");
        assert_eq!(e["detail"]["controls"], json!(["SageMaker.4"]), "{e:#}");
    }
    let succeeded = events
        .iter()
        .find(|e| {
            e["detail-type"] == "Remediation Succeeded"
                && e["detail"]["resource"]["name"] == "churn-config"
        })
        .unwrap();
    assert_eq!(
        succeeded["detail"]["plan"]["replacement"],
        "churn-config-ha"
    );
    assert_eq!(
        succeeded["detail"]["plan"]["endpoints"],
        json!(["churn-a", "churn-b"])
    );

    // Looked at again, the replaced config leads to nothing: no request, no call, no flag.
    world.sim.simulator.reset_calls();
    world.put_events(&[created("churn-config")]).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let replaced = "smr_remediations_total{control=\"SageMaker.4\",outcome=\"replaced\"}";
    while daemon.metric(replaced) < 2.0 {
        assert!(Instant::now() < deadline, "{}", daemon.log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let calls = world.sim.simulator.calls();
    assert_eq!(calls.mutating_succeeded(), 0, "{calls:?}");
    let journal = world.journal();
    assert_eq!(replacements_of(&journal, "churn-config").len(), 1);
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replacement_completes_after_a_crash_at_each_step_boundary_with_each_call_once() {
    let world = World::start(Duration::from_millis(500)).await;
    let cases = [
        ("crash-create-intent", "CreateEndpointConfig:intent"),
        ("crash-create-done", "CreateEndpointConfig:done"),
        ("crash-update-intent", "UpdateEndpoint:intent"),
        ("crash-update-done", "UpdateEndpoint:done"),
    ];
    for (name, point) in cases {
        let config = format!("{name}-config");
        let endpoints = [format!("{name}-a"), format!("{name}-b")];
        let mut first = world.daemon("enforce", FIX, &[(CRASH_POINT_VAR, point)]);
        first.wait_ready().await;
        let names: Vec<&str> = endpoints.iter().map(String::as_str).collect();
        config_with_endpoints(&world, &config, 1, &names).await;
        world.sim.simulator.reset_calls();
        world.put_events(&[created(&config)]).await;
        first.wait_crashed(point);
        drop(first);

        let mut second = world.daemon("enforce", FIX, &[]);
        second.wait_ready().await;
        let journal = wait_replaced(&world, &config, RemediationStatus::Succeeded).await;
        assert!(second.terminate().success(), "{}", second.log_text());
        let runs = replacements_of(&journal, &config);
        assert_eq!(
            runs.len(),
            1,
            "{point}: one remediation, resumed: {runs:#?}"
        );
        let calls = world.sim.simulator.calls();
        assert_eq!(calls.received(CREATE), 1, "{point}: {calls:?}");
        assert_eq!(
            calls.received(UPDATE),
            2,
            "{point}: one per endpoint: {calls:?}"
        );
        for e in &endpoints {
            assert_eq!(
                wait_in_service(&world, e).await,
                format!("{config}-ha"),
                "{point}: {e}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_that_rolls_back_is_recorded_and_leaves_the_endpoint_on_its_old_config() {
    let world = World::start(Duration::from_millis(400)).await;
    world.sim.simulator.set_faults(Faults {
        failed_endpoint_updates: ["fragile".to_string()].into(),
        ..Faults::default()
    });
    config_with_endpoints(&world, "fragile-config", 1, &["fragile"]).await;
    let mut daemon = world.daemon("enforce", FIX, &[]);
    daemon.wait_ready().await;
    world.put_events(&[created("fragile-config")]).await;
    let journal = wait_replaced(&world, "fragile-config", RemediationStatus::Failed).await;
    let run = replacements_of(&journal, "fragile-config")[0];
    let outcome = run.outcome.as_deref().unwrap();
    assert!(
        outcome.contains("the update of fragile ended with it back on fragile-config")
            && outcome.contains("did not pass health checks"),
        "{outcome}"
    );
    assert_eq!(wait_in_service(&world, "fragile").await, "fragile-config");
    let calls = world.sim.simulator.calls();
    assert_eq!(
        (calls.received(CREATE), calls.received(UPDATE)),
        (2, 1),
        "{calls:?}"
    );
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}
