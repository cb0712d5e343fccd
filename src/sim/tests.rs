//! Tests of the simulator through the real `aws-sdk-sagemaker` over HTTP, plus the admin API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_sagemaker::config::retry::RetryConfig;
use aws_sdk_sagemaker::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sagemaker::error::ProvideErrorMetadata;
use aws_sdk_sagemaker::types::{
    ContainerDefinition, DirectInternetAccess, InstanceType, KernelGatewayImageConfig, KernelSpec,
    ProductionVariant, ProductionVariantInstanceType, ProductionVariantServerlessConfig,
    RootAccess, Tag,
};
use aws_sdk_sagemaker::Client;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Faults, RateLimit, SimConfig, SimHandle, Simulator};

const ROLE: &str = "arn:aws:iam::123456789012:role/notebooks";
const ARN_PREFIX: &str = "arn:aws:sagemaker:us-east-1:123456789012";

async fn sim(delay_ms: u64) -> SimHandle {
    Simulator::start(SimConfig {
        transition_delay: Duration::from_millis(delay_ms),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn client_with(handle: &SimHandle, region: &str, retry: RetryConfig) -> Client {
    let config = aws_sdk_sagemaker::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(handle.endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "sim"))
        .retry_config(retry)
        .build();
    Client::from_conf(config)
}

fn client(handle: &SimHandle) -> Client {
    client_with(handle, "us-east-1", RetryConfig::disabled())
}

async fn create_notebook(client: &Client, name: &str) {
    client
        .create_notebook_instance()
        .notebook_instance_name(name)
        .instance_type(InstanceType::MlT3Medium)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
}

async fn status(client: &Client, name: &str) -> String {
    let out = client
        .describe_notebook_instance()
        .notebook_instance_name(name)
        .send()
        .await
        .unwrap();
    out.notebook_instance_status().unwrap().as_str().to_string()
}

/// The (code, message) of a failed call.
fn error<T, E: ProvideErrorMetadata>(result: Result<T, E>) -> (String, String) {
    let Err(e) = result else {
        panic!("the call succeeded")
    };
    (
        e.code().unwrap_or_default().to_string(),
        e.message().unwrap_or_default().to_string(),
    )
}

/// The transition delay of tests that watch intermediate states: long enough that two
/// consecutive calls land within it even on a loaded machine.
const DELAY_MS: u64 = 300;

/// Polls `status` every 20 ms until it answers `want` (None: gone), for at most 5 s.
async fn wait_for<F, Fut>(want: Option<&str>, mut status: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let mut last = None;
    for _ in 0..250 {
        last = status().await;
        if last.as_deref() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("still {last:?}, wanted {want:?}");
}

async fn wait_notebook(client: &Client, name: &str, want: &str) {
    wait_for(Some(want), || async { Some(status(client, name).await) }).await;
}

async fn endpoint_status(client: &Client, name: &str) -> Option<String> {
    let out = client.describe_endpoint().endpoint_name(name).send().await;
    out.ok()
        .and_then(|o| o.endpoint_status().map(|s| s.as_str().to_string()))
}

async fn image_status(client: &Client, name: &str) -> Option<String> {
    let out = client.describe_image().image_name(name).send().await;
    out.ok()
        .and_then(|o| o.image_status().map(|s| s.as_str().to_string()))
}

/// A raw HTTP/1.1 request; answers (status, body).
async fn http(
    handle: &SimHandle,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(handle.addr()).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn create_goes_pending_then_in_service_with_aws_defaults() {
    let handle = sim(DELAY_MS).await;
    let client = client(&handle);
    let created = client
        .create_notebook_instance()
        .notebook_instance_name("nb")
        .instance_type(InstanceType::MlT3Medium)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let arn = format!("{ARN_PREFIX}:notebook-instance/nb");
    assert_eq!(created.notebook_instance_arn(), Some(arn.as_str()));
    assert_eq!(status(&client, "nb").await, "Pending");
    wait_notebook(&client, "nb", "InService").await;
    let nb = client
        .describe_notebook_instance()
        .notebook_instance_name("nb")
        .send()
        .await
        .unwrap();
    assert_eq!(nb.notebook_instance_status().unwrap().as_str(), "InService");
    assert_eq!(nb.root_access().unwrap().as_str(), "Enabled");
    assert_eq!(nb.direct_internet_access().unwrap().as_str(), "Enabled");
    assert_eq!(nb.platform_identifier(), Some("notebook-al2023-v1"));
    assert_eq!(nb.volume_size_in_gb(), Some(5));
    assert_eq!(nb.role_arn(), Some(ROLE));
    assert_eq!(nb.subnet_id(), None);
    assert!(nb.creation_time().is_some() && nb.last_modified_time().is_some());
    let imds = nb.instance_metadata_service_configuration().unwrap();
    assert_eq!(imds.minimum_instance_metadata_service_version(), Some("1"));
    handle.shutdown().await;
}

#[tokio::test]
async fn create_validates_members() {
    let handle = sim(0).await;
    let client = client(&handle);
    let base = || {
        client
            .create_notebook_instance()
            .notebook_instance_name("nb")
            .instance_type(InstanceType::MlT3Medium)
            .role_arn(ROLE)
    };
    let (code, message) = error(
        base()
            .direct_internet_access(DirectInternetAccess::Disabled)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(message.contains("SubnetId"), "{message}");
    let (code, _) = error(base().root_access("Sometimes".into()).send().await);
    assert_eq!(code, "ValidationException");
    let (code, _) = error(base().volume_size_in_gb(4).send().await);
    assert_eq!(code, "ValidationException");
    let (code, _) = error(base().notebook_instance_name("bad_name").send().await);
    assert_eq!(code, "ValidationException");
    let vpc = base()
        .direct_internet_access(DirectInternetAccess::Disabled)
        .subnet_id("subnet-1")
        .security_group_ids("sg-1")
        .platform_identifier("notebook-al2-v3")
        .send()
        .await;
    assert!(vpc.is_ok());
    let nb = client
        .describe_notebook_instance()
        .notebook_instance_name("nb")
        .send()
        .await
        .unwrap();
    assert_eq!(nb.subnet_id(), Some("subnet-1"));
    assert_eq!(nb.security_groups(), ["sg-1".to_string()]);
    assert_eq!(nb.direct_internet_access().unwrap().as_str(), "Disabled");
    assert_eq!(nb.platform_identifier(), Some("notebook-al2-v3"));
    assert!(nb.network_interface_id().is_some());
}

#[tokio::test]
async fn stop_from_pending_is_the_aws_validation_error() {
    let handle = sim(DELAY_MS).await;
    let client = client(&handle);
    create_notebook(&client, "nb").await;
    let (code, message) = error(
        client
            .stop_notebook_instance()
            .notebook_instance_name("nb")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        format!("Status (Pending) not in ([InService]). Unable to transition to (Stopping) for Notebook Instance ({ARN_PREFIX}:notebook-instance/nb)")
    );
}

#[tokio::test]
async fn stop_update_start_cycle_changes_root_access() {
    let handle = sim(DELAY_MS).await;
    let client = client(&handle);
    create_notebook(&client, "nb").await;
    wait_notebook(&client, "nb", "InService").await;
    client
        .stop_notebook_instance()
        .notebook_instance_name("nb")
        .send()
        .await
        .unwrap();
    assert_eq!(status(&client, "nb").await, "Stopping");
    let update = || {
        client
            .update_notebook_instance()
            .notebook_instance_name("nb")
            .root_access(RootAccess::Disabled)
            .platform_identifier("notebook-al2-v3")
    };
    let (code, message) = error(update().send().await);
    assert_eq!(code, "ValidationException");
    assert!(
        message.starts_with(
            "Status (Stopping) not in ([Stopped, Failed]). Unable to transition to (Updating)"
        ),
        "{message}"
    );
    wait_notebook(&client, "nb", "Stopped").await;
    update().send().await.unwrap();
    assert_eq!(status(&client, "nb").await, "Updating");
    wait_notebook(&client, "nb", "Stopped").await;
    client
        .start_notebook_instance()
        .notebook_instance_name("nb")
        .send()
        .await
        .unwrap();
    assert_eq!(status(&client, "nb").await, "Pending");
    wait_notebook(&client, "nb", "InService").await;
    let nb = client
        .describe_notebook_instance()
        .notebook_instance_name("nb")
        .send()
        .await
        .unwrap();
    assert_eq!(nb.notebook_instance_status().unwrap().as_str(), "InService");
    assert_eq!(nb.root_access().unwrap().as_str(), "Disabled");
    assert_eq!(nb.platform_identifier(), Some("notebook-al2-v3"));
    let (_, message) = error(
        client
            .start_notebook_instance()
            .notebook_instance_name("nb")
            .send()
            .await,
    );
    assert!(
        message.contains("Unable to transition to (Pending)"),
        "{message}"
    );
}

#[tokio::test]
async fn delete_goes_deleting_then_gone() {
    let handle = sim(0).await;
    let client = client(&handle);
    create_notebook(&client, "nb").await;
    let (_, message) = error(
        client
            .delete_notebook_instance()
            .notebook_instance_name("nb")
            .send()
            .await,
    );
    assert!(
        message.contains("Unable to transition to (Deleting)"),
        "{message}"
    );
    client
        .stop_notebook_instance()
        .notebook_instance_name("nb")
        .send()
        .await
        .unwrap();
    client
        .delete_notebook_instance()
        .notebook_instance_name("nb")
        .send()
        .await
        .unwrap();
    let (code, message) = error(
        client
            .describe_notebook_instance()
            .notebook_instance_name("nb")
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ValidationException", "RecordNotFound")
    );
}

#[tokio::test]
async fn mixed_case_names_get_lowercased_arns_and_collide() {
    let handle = sim(0).await;
    let client = client(&handle);
    create_notebook(&client, "DS-Team-Notebook").await;
    let nb = client
        .describe_notebook_instance()
        .notebook_instance_name("ds-team-notebook")
        .send()
        .await
        .unwrap();
    assert_eq!(nb.notebook_instance_name(), Some("DS-Team-Notebook"));
    let arn = format!("{ARN_PREFIX}:notebook-instance/ds-team-notebook");
    assert_eq!(nb.notebook_instance_arn(), Some(arn.as_str()));
    let (code, message) = error(
        client
            .create_notebook_instance()
            .notebook_instance_name("ds-team-NOTEBOOK")
            .instance_type(InstanceType::MlT3Medium)
            .role_arn(ROLE)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        format!("Cannot create a duplicate Notebook Instance ({arn})")
    );
}

#[tokio::test]
async fn list_pages_over_250_notebooks_return_each_once() {
    let handle = sim(0).await;
    let client = client(&handle);
    for i in 0..250 {
        create_notebook(&client, &format!("nb-{i:03}")).await;
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_notebook_instances()
            .max_results(7)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.notebook_instances().len() <= 7);
        for nb in page.notebook_instances() {
            assert_eq!(nb.notebook_instance_status().unwrap().as_str(), "InService");
            assert!(nb.notebook_instance_arn().is_some() && nb.url().is_some());
            seen.push(nb.notebook_instance_name().unwrap().to_string());
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let expected: Vec<String> = (0..250).map(|i| format!("nb-{i:03}")).collect();
    assert_eq!(seen, expected, "creation order, each exactly once");

    let items: Vec<_> = client
        .list_notebook_instances()
        .sort_by("Name".into())
        .sort_order("Descending".into())
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(items.len(), 250);
    assert_eq!(items[0].notebook_instance_name(), Some("nb-249"));

    let filtered = client
        .list_notebook_instances()
        .name_contains("NB-00")
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.notebook_instances().len(), 10);
    assert_eq!(filtered.next_token(), None);
}

#[tokio::test]
async fn max_results_out_of_range_is_rejected() {
    let handle = sim(0).await;
    let client = client(&handle);
    for max in [0, 101] {
        let (code, message) = error(
            client
                .list_notebook_instances()
                .max_results(max)
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");
        assert!(message.contains("maxResults"), "{message}");
    }
    create_notebook(&client, "nb").await;
    let arn = format!("{ARN_PREFIX}:notebook-instance/nb");
    for max in [49, 101] {
        let (code, _) = error(
            client
                .list_tags()
                .resource_arn(&arn)
                .max_results(max)
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");
    }
    let (code, _) = error(client.list_images().max_results(0).send().await);
    assert_eq!(code, "ValidationException");
}

#[tokio::test]
async fn add_tags_overwrites_and_list_tags_pages() {
    let handle = sim(0).await;
    let client = client(&handle);
    client
        .create_notebook_instance()
        .notebook_instance_name("nb")
        .instance_type(InstanceType::MlT3Medium)
        .role_arn(ROLE)
        .tags(Tag::builder().key("team").value("a").build())
        .send()
        .await
        .unwrap();
    let arn = format!("{ARN_PREFIX}:notebook-instance/nb");
    for value in ["b", "c"] {
        client
            .add_tags()
            .resource_arn(&arn)
            .tags(Tag::builder().key("team").value(value).build())
            .tags(Tag::builder().key("owner").value("me").build())
            .send()
            .await
            .unwrap();
    }
    let tags = client.list_tags().resource_arn(&arn).send().await.unwrap();
    let pairs: Vec<(&str, &str)> = tags
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(pairs, [("team", "c"), ("owner", "me")]);

    for batch in 0..3 {
        let mut add = client.add_tags().resource_arn(&arn);
        for i in 0..40 {
            add = add.tags(
                Tag::builder()
                    .key(format!("k{batch}-{i}"))
                    .value("v")
                    .build(),
            );
        }
        add.send().await.unwrap();
    }
    let mut keys = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = client
            .list_tags()
            .resource_arn(&arn)
            .max_results(50)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        keys.extend(page.tags().iter().map(|t| t.key().unwrap().to_string()));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(keys.len(), 122);
    assert_eq!(keys.iter().collect::<BTreeSet<_>>().len(), 122);

    client
        .delete_tags()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags()
        .resource_arn(&arn)
        .max_results(100)
        .send()
        .await
        .unwrap();
    assert!(tags.tags().iter().all(|t| t.key() != Some("team")));

    let missing = format!("{ARN_PREFIX}:notebook-instance/missing");
    let (code, _) = error(client.list_tags().resource_arn(missing).send().await);
    assert_eq!(code, "ValidationException");
}

#[tokio::test]
async fn a_rate_limit_throttles_past_its_bucket_and_refills_with_time() {
    let handle = sim(0).await;
    let client = client(&handle);
    create_notebook(&client, "nb").await;
    handle.simulator.set_faults(Faults {
        rate_limit: Some(RateLimit {
            per_second: 2.0,
            burst: 3.0,
        }),
        ..Faults::default()
    });
    handle.simulator.reset_calls();
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(match client.list_notebook_instances().send().await {
            Ok(_) => "ok".to_string(),
            Err(e) => error::<(), _>(Err(e)).0,
        });
    }
    assert_eq!(
        codes,
        [
            "ok",
            "ok",
            "ok",
            "ThrottlingException",
            "ThrottlingException"
        ],
        "a bucket of 3"
    );
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    let again: Vec<bool> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(client.list_notebook_instances().send().await.is_ok());
        }
        v
    };
    assert_eq!(again, [true, true, false], "2 tokens a second");
    let calls = handle.simulator.calls();
    assert_eq!(calls.received("ListNotebookInstances"), 8);
    assert_eq!(calls.succeeded("ListNotebookInstances"), 5);
}

#[tokio::test]
async fn throttling_and_server_errors_are_injected_and_counted() {
    let handle = sim(0).await;
    let client = client(&handle);
    create_notebook(&client, "nb").await;
    handle.simulator.reset_calls();
    handle.simulator.set_faults(Faults {
        throttle_share: 1.0,
        ..Faults::default()
    });
    let (code, _) = error(client.list_notebook_instances().send().await);
    assert_eq!(code, "ThrottlingException");
    let calls = handle.simulator.calls();
    assert_eq!(calls.received("ListNotebookInstances"), 1);
    assert_eq!(calls.succeeded("ListNotebookInstances"), 0);

    let retrying = client_with(
        &handle,
        "us-east-1",
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1)),
    );
    let (code, _) = error(retrying.list_notebook_instances().send().await);
    assert_eq!(code, "ThrottlingException");
    assert_eq!(
        handle.simulator.calls().received("ListNotebookInstances"),
        4
    );

    handle.simulator.set_faults(Faults {
        server_error_share: 1.0,
        ..Faults::default()
    });
    let (code, _) = error(client.list_notebook_instances().send().await);
    assert_eq!(code, "InternalFailure");

    handle.simulator.set_faults(Faults::default());
    client
        .stop_notebook_instance()
        .notebook_instance_name("nb")
        .send()
        .await
        .unwrap();
    status(&client, "nb").await;
    let calls = handle.simulator.calls();
    assert_eq!(calls.total_received(), 7);
    assert_eq!(calls.succeeded("StopNotebookInstance"), 1);
    assert_eq!(calls.mutating_succeeded(), 1);
}

#[tokio::test]
async fn unsupported_and_denied_operations_fail() {
    let handle = sim(0).await;
    let client = client(&handle);
    let (code, message) = error(client.list_domains().send().await);
    assert_eq!(code, "UnknownOperationException");
    assert!(message.contains("ListDomains"), "{message}");
    assert_eq!(handle.simulator.calls().received("ListDomains"), 1);

    handle.simulator.set_faults(Faults {
        unsupported: ["ListImages".to_string()].into(),
        access_denied: ["ListModels".to_string()].into(),
        ..Faults::default()
    });
    let (code, _) = error(client.list_images().send().await);
    assert_eq!(code, "UnknownOperationException");
    let (code, _) = error(client.list_models().send().await);
    assert_eq!(code, "AccessDeniedException");
    assert!(client.list_endpoints().send().await.is_ok());
}

#[tokio::test]
async fn latency_delays_answers() {
    let handle = sim(0).await;
    let client = client(&handle);
    handle.simulator.set_faults(Faults {
        latency: Duration::from_millis(100),
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    client.list_notebook_instances().send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn regions_come_from_the_signature_and_are_separate() {
    let handle = sim(0).await;
    let east = client(&handle);
    let west = client_with(&handle, "eu-west-1", RetryConfig::disabled());
    let created = west
        .create_notebook_instance()
        .notebook_instance_name("nb")
        .instance_type(InstanceType::MlT3Medium)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.notebook_instance_arn(),
        Some("arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/nb")
    );
    let listed = east.list_notebook_instances().send().await.unwrap();
    assert!(listed.notebook_instances().is_empty());
}

#[tokio::test]
async fn models_endpoint_configs_and_endpoints() {
    let handle = sim(DELAY_MS).await;
    let client = client(&handle);
    let (code, message) = error(client.describe_model().model_name("m").send().await);
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        format!("Could not find model \"{ARN_PREFIX}:model/m\".")
    );

    let container = ContainerDefinition::builder()
        .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1")
        .build();
    client
        .create_model()
        .model_name("Model-A")
        .primary_container(container.clone())
        .execution_role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let (code, _) = error(
        client
            .create_model()
            .model_name("model-a")
            .primary_container(container)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    let model = client
        .describe_model()
        .model_name("model-a")
        .send()
        .await
        .unwrap();
    assert_eq!(model.model_name(), Some("Model-A"));
    assert_eq!(
        model.model_arn(),
        Some(format!("{ARN_PREFIX}:model/model-a").as_str())
    );
    assert_eq!(model.enable_network_isolation(), Some(false));
    assert_eq!(model.execution_role_arn(), Some(ROLE));
    assert!(model.primary_container().and_then(|c| c.image()).is_some());

    let variant = |count: i32| {
        ProductionVariant::builder()
            .variant_name("main")
            .model_name("Model-A")
            .instance_type(ProductionVariantInstanceType::MlM5Large)
            .initial_instance_count(count)
            .initial_variant_weight(1.0)
            .build()
    };
    let (code, message) = error(
        client
            .create_endpoint_config()
            .endpoint_config_name("bad")
            .production_variants(
                ProductionVariant::builder()
                    .variant_name("main")
                    .model_name("nope")
                    .instance_type(ProductionVariantInstanceType::MlM5Large)
                    .initial_instance_count(1)
                    .build(),
            )
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(message.starts_with("Could not find model"), "{message}");
    for (name, count) in [("ec-1", 1), ("ec-2", 2)] {
        client
            .create_endpoint_config()
            .endpoint_config_name(name)
            .production_variants(variant(count))
            .send()
            .await
            .unwrap();
    }
    client
        .create_endpoint_config()
        .endpoint_config_name("ec-serverless")
        .production_variants(
            ProductionVariant::builder()
                .variant_name("sls")
                .model_name("Model-A")
                .serverless_config(
                    ProductionVariantServerlessConfig::builder()
                        .memory_size_in_mb(2048)
                        .max_concurrency(5)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ec = client
        .describe_endpoint_config()
        .endpoint_config_name("ec-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ec.endpoint_config_arn(),
        Some(format!("{ARN_PREFIX}:endpoint-config/ec-1").as_str())
    );
    let v = &ec.production_variants()[0];
    assert_eq!(v.variant_name(), Some("main"));
    assert_eq!(v.model_name(), Some("Model-A"));
    assert_eq!(v.initial_instance_count(), Some(1));
    assert_eq!(v.instance_type().map(|t| t.as_str()), Some("ml.m5.large"));
    let sls = client
        .describe_endpoint_config()
        .endpoint_config_name("ec-serverless")
        .send()
        .await
        .unwrap();
    let config = sls.production_variants()[0].serverless_config().unwrap();
    assert_eq!(
        (config.memory_size_in_mb(), config.max_concurrency()),
        (Some(2048), Some(5))
    );
    let (code, message) = error(
        client
            .describe_endpoint_config()
            .endpoint_config_name("nope")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        format!("Could not find endpoint configuration \"{ARN_PREFIX}:endpoint-config/nope\".")
    );
    let configs = client.list_endpoint_configs().send().await.unwrap();
    let names: Vec<_> = configs
        .endpoint_configs()
        .iter()
        .map(|c| c.endpoint_config_name())
        .collect();
    assert_eq!(names, [Some("ec-1"), Some("ec-2"), Some("ec-serverless")]);
    assert_eq!(client.list_models().send().await.unwrap().models().len(), 1);

    client
        .create_endpoint()
        .endpoint_name("ep")
        .endpoint_config_name("ec-1")
        .send()
        .await
        .unwrap();
    let update = || {
        client
            .update_endpoint()
            .endpoint_name("ep")
            .endpoint_config_name("ec-2")
            .send()
    };
    let (code, message) = error(update().await);
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        format!("Cannot update in-progress endpoint \"{ARN_PREFIX}:endpoint/ep\".")
    );
    wait_for(Some("InService"), || endpoint_status(&client, "ep")).await;
    let ep = client
        .describe_endpoint()
        .endpoint_name("ep")
        .send()
        .await
        .unwrap();
    assert_eq!(ep.endpoint_status().unwrap().as_str(), "InService");
    assert_eq!(
        ep.production_variants()[0].current_instance_count(),
        Some(1)
    );
    update().await.unwrap();
    let ep = client
        .describe_endpoint()
        .endpoint_name("ep")
        .send()
        .await
        .unwrap();
    assert_eq!(ep.endpoint_status().unwrap().as_str(), "Updating");
    assert_eq!(ep.endpoint_config_name(), Some("ec-1"));
    wait_for(Some("InService"), || endpoint_status(&client, "ep")).await;
    let ep = client
        .describe_endpoint()
        .endpoint_name("ep")
        .send()
        .await
        .unwrap();
    assert_eq!(ep.endpoint_status().unwrap().as_str(), "InService");
    assert_eq!(ep.endpoint_config_name(), Some("ec-2"));
    assert_eq!(
        ep.production_variants()[0].current_instance_count(),
        Some(2)
    );
    let endpoints = client.list_endpoints().send().await.unwrap();
    assert_eq!(endpoints.endpoints().len(), 1);

    client
        .delete_endpoint()
        .endpoint_name("ep")
        .send()
        .await
        .unwrap();
    assert_eq!(
        endpoint_status(&client, "ep").await.as_deref(),
        Some("Deleting")
    );
    wait_for(None, || endpoint_status(&client, "ep")).await;
    let (code, _) = error(client.describe_endpoint().endpoint_name("ep").send().await);
    assert_eq!(code, "ValidationException");
    client
        .delete_endpoint_config()
        .endpoint_config_name("ec-1")
        .send()
        .await
        .unwrap();
    client
        .delete_model()
        .model_name("model-a")
        .send()
        .await
        .unwrap();
    assert!(client
        .list_models()
        .send()
        .await
        .unwrap()
        .models()
        .is_empty());
}

#[tokio::test]
async fn images_and_app_image_configs() {
    let handle = sim(DELAY_MS).await;
    let client = client(&handle);
    let (code, _) = error(client.describe_image().image_name("img").send().await);
    assert_eq!(code, "ResourceNotFound");
    let created = client
        .create_image()
        .image_name("img")
        .role_arn(ROLE)
        .display_name("Image")
        .tags(Tag::builder().key("team").value("ml").build())
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.image_arn(),
        Some(format!("{ARN_PREFIX}:image/img").as_str())
    );
    let (code, _) = error(
        client
            .create_image()
            .image_name("img")
            .role_arn(ROLE)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUse");
    let image = client
        .describe_image()
        .image_name("img")
        .send()
        .await
        .unwrap();
    assert_eq!(image.image_status().unwrap().as_str(), "CREATING");
    wait_for(Some("CREATED"), || image_status(&client, "img")).await;
    let image = client
        .describe_image()
        .image_name("img")
        .send()
        .await
        .unwrap();
    assert_eq!(image.image_status().unwrap().as_str(), "CREATED");
    assert_eq!(image.role_arn(), Some(ROLE));
    assert_eq!(image.display_name(), Some("Image"));
    let images = client.list_images().send().await.unwrap();
    assert_eq!(images.images().len(), 1);
    assert_eq!(
        images.images()[0].image_status().unwrap().as_str(),
        "CREATED"
    );
    let tags = client
        .list_tags()
        .resource_arn(created.image_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    client
        .update_image()
        .image_name("img")
        .display_name("New")
        .send()
        .await
        .unwrap();
    let image = client
        .describe_image()
        .image_name("img")
        .send()
        .await
        .unwrap();
    assert_eq!(image.image_status().unwrap().as_str(), "UPDATING");
    assert_eq!(image.display_name(), Some("New"));
    wait_for(Some("CREATED"), || image_status(&client, "img")).await;
    client
        .delete_image()
        .image_name("img")
        .send()
        .await
        .unwrap();
    assert_eq!(
        image_status(&client, "img").await.as_deref(),
        Some("DELETING")
    );
    wait_for(None, || image_status(&client, "img")).await;

    let kernel = KernelGatewayImageConfig::builder()
        .kernel_specs(
            KernelSpec::builder()
                .name("python3")
                .display_name("Python 3")
                .build(),
        )
        .build();
    let created = client
        .create_app_image_config()
        .app_image_config_name("aic")
        .kernel_gateway_image_config(kernel)
        .send()
        .await
        .unwrap();
    let arn = format!("{ARN_PREFIX}:app-image-config/aic");
    assert_eq!(created.app_image_config_arn(), Some(arn.as_str()));
    let (code, _) = error(
        client
            .create_app_image_config()
            .app_image_config_name("aic")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUse");
    let aic = client
        .describe_app_image_config()
        .app_image_config_name("aic")
        .send()
        .await
        .unwrap();
    let spec = &aic.kernel_gateway_image_config().unwrap().kernel_specs()[0];
    assert_eq!(spec.name(), Some("python3"));
    assert!(aic.creation_time().is_some());
    let listed = client.list_app_image_configs().send().await.unwrap();
    assert_eq!(listed.app_image_configs().len(), 1);
    client
        .add_tags()
        .resource_arn(&arn)
        .tags(Tag::builder().key("owner").value("x").build())
        .send()
        .await
        .unwrap();
    assert_eq!(
        client
            .list_tags()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap()
            .tags()
            .len(),
        1
    );
    client
        .delete_app_image_config()
        .app_image_config_name("aic")
        .send()
        .await
        .unwrap();
    let (code, _) = error(
        client
            .describe_app_image_config()
            .app_image_config_name("aic")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFound");
}

#[tokio::test]
async fn admin_api_drives_faults_counters_and_statuses() {
    let handle = sim(0).await;
    let client = client(&handle);
    create_notebook(&client, "Nb").await;

    let (code, body) = http(
        &handle,
        "POST",
        "/_sim/notebooks/nb/status",
        &[],
        r#"{"status":"Failed"}"#,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&client, "Nb").await, "Failed");
    client
        .start_notebook_instance()
        .notebook_instance_name("Nb")
        .send()
        .await
        .unwrap();
    assert_eq!(status(&client, "Nb").await, "InService");
    let (code, _) = http(
        &handle,
        "POST",
        "/_sim/notebooks/other/status",
        &[],
        r#"{"status":"Failed"}"#,
    )
    .await;
    assert_eq!(code, 404);
    assert!(handle.simulator.set_notebook_status("nb", "Stopping"));

    let (code, _) = http(
        &handle,
        "POST",
        "/_sim/faults",
        &[],
        r#"{"unsupported":["ListNotebookInstances"],"latency_ms":1}"#,
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = error(client.list_notebook_instances().send().await);
    assert_eq!(code, "UnknownOperationException");
    let (code, _) = http(&handle, "POST", "/_sim/faults", &[], "{}").await;
    assert_eq!(code, 200);
    assert_eq!(handle.simulator.faults(), Faults::default());

    let (code, body) = http(&handle, "GET", "/_sim/calls", &[], "").await;
    assert_eq!(code, 200);
    let calls: super::CallCounts = serde_json::from_str(&body).unwrap();
    assert_eq!(calls, handle.simulator.calls());
    assert_eq!(calls.received("ListNotebookInstances"), 1);
    assert_eq!(calls.succeeded("CreateNotebookInstance"), 1);
    let (code, _) = http(&handle, "POST", "/_sim/calls/reset", &[], "").await;
    assert_eq!(code, 200);
    assert_eq!(handle.simulator.calls().total_received(), 0);
}

#[tokio::test]
async fn raw_wire_errors() {
    let handle = sim(0).await;
    let target = [("x-amz-target", "SageMaker.ListNotebookInstances")];
    let (code, body) = http(&handle, "POST", "/", &target, "{").await;
    assert_eq!(code, 400);
    assert!(body.contains("SerializationException"), "{body}");
    let (code, body) = http(&handle, "POST", "/", &target, "").await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = http(
        &handle,
        "POST",
        "/",
        &[("x-amz-target", "SageMaker.Nope")],
        "{}",
    )
    .await;
    assert_eq!(code, 400);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["__type"], "UnknownOperationException");
    let (code, _) = http(&handle, "POST", "/", &[], "{}").await;
    assert_eq!(code, 404);
    assert_eq!(handle.simulator.calls().total_received(), 3);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let handle = sim(0).await;
    let addr = handle.addr();
    drop(handle);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_thousand_notebooks_concurrently() {
    let handle = sim(0).await;
    let client = client(&handle);
    let started = std::time::Instant::now();
    let creates = (0..1000).map(|i| {
        let client = client.clone();
        async move { create_notebook(&client, &format!("nb-{i}")).await }
    });
    futures::stream::iter(creates)
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    let listed: Vec<String> = client
        .list_notebook_instances()
        .max_results(100)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .iter()
        .map(|n| n.notebook_instance_name().unwrap().to_string())
        .collect();
    assert_eq!(listed.iter().collect::<BTreeSet<_>>().len(), 1000);
    let describes = listed.iter().map(|name| {
        let client = client.clone();
        async move { status(&client, name).await }
    });
    let statuses: Vec<String> = futures::stream::iter(describes)
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| s == "InService"));
    assert_eq!(handle.simulator.calls().total_succeeded(), 2010);
    eprintln!("1,000 notebooks: {:?}", started.elapsed());
}

#[test]
fn fault_shares_are_spread_evenly_not_drawn_at_random() {
    let hits = |share: f64| -> Vec<bool> {
        let counter = std::sync::atomic::AtomicU64::new(0);
        (0..10)
            .map(|_| super::spread_hit(&counter, share))
            .collect()
    };
    let fifth = hits(0.2);
    assert_eq!(fifth.iter().filter(|h| **h).count(), 2);
    assert!(fifth[4] && fifth[9], "{fifth:?}");
    assert_eq!(hits(0.6).iter().filter(|h| **h).count(), 6);
    assert!(hits(1.0).iter().all(|h| *h));
    assert!(hits(0.0).iter().all(|h| !*h));
}

#[tokio::test]
async fn setting_faults_starts_the_spread_again() {
    let handle = sim(0).await;
    let client = client(&handle);
    let faults = Faults {
        throttle_share: 0.5,
        ..Faults::default()
    };
    for _ in 0..2 {
        // Each time the faults are set, call 0 passes and call 1 is throttled.
        handle.simulator.set_faults(faults.clone());
        client.list_notebook_instances().send().await.unwrap();
        let (code, _) = error(client.list_notebook_instances().send().await);
        assert_eq!(code, "ThrottlingException");
    }
}

#[tokio::test]
async fn put_events_keeps_accepted_entries_and_fails_the_configured_share_in_the_response() {
    use aws_sdk_eventbridge::types::PutEventsRequestEntry;
    let handle = sim(0).await;
    let config = aws_sdk_eventbridge::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
        .endpoint_url(handle.endpoint())
        .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
            "test", "test", None, None, "sim",
        ))
        .build();
    let bus = aws_sdk_eventbridge::Client::from_conf(config);
    let entry = |i: usize| {
        PutEventsRequestEntry::builder()
            .source("sagemaker-remediator")
            .detail_type("Remediation Succeeded")
            .detail(format!("{{\"n\": {i}}}"))
            .event_bus_name("smr-notifications")
            .build()
    };
    handle.simulator.set_faults(Faults {
        failed_entry_share: 0.5,
        ..Faults::default()
    });
    let out = bus
        .put_events()
        .set_entries(Some((0..4).map(entry).collect()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_entry_count(), 2);
    let failed: Vec<bool> = out
        .entries()
        .iter()
        .map(|e| e.error_code().is_some())
        .collect();
    assert_eq!(failed, [false, true, false, true]);
    assert_eq!(out.entries()[1].error_code(), Some("InternalFailure"));

    // An entry whose detail is not a JSON object is refused by itself.
    handle.simulator.set_faults(Faults::default());
    let bad = PutEventsRequestEntry::builder()
        .source("sagemaker-remediator")
        .detail_type("Remediation Failed")
        .detail("[1]")
        .build();
    let out = bus
        .put_events()
        .entries(bad)
        .entries(entry(9))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_entry_count(), 1);
    assert_eq!(out.entries()[0].error_code(), Some("InvalidArgument"));

    let kept: Vec<String> = handle
        .simulator
        .bus_events()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["EventBusName"].as_str().unwrap(),
                e["Detail"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kept,
        [
            "smr-notifications {\"n\": 0}",
            "smr-notifications {\"n\": 2}",
            "smr-notifications {\"n\": 9}"
        ]
    );
    assert_eq!(handle.simulator.calls().succeeded("PutEvents"), 2);
}
