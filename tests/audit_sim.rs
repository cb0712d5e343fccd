//! `audit` as a process, through the real SDK, against the SageMaker simulator seeded with the
//! demo fleet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Output;
use std::time::Duration;

use common::*;
use sagemaker_remediator::demo::{self, Kinds};
use sagemaker_remediator::sim::{Faults, SimConfig, SimHandle, Simulator};

async fn seeded_simulator() -> SimHandle {
    let handle = Simulator::start(SimConfig {
        transition_delay: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    demo::seed(
        &sagemaker_client(&handle.endpoint()).await,
        &demo::fleet(),
        Kinds::All,
    )
    .await
    .unwrap();
    handle.simulator.reset_calls();
    handle
}

async fn run(cmd: std::process::Command) -> Output {
    tokio::process::Command::from(cmd).output().await.unwrap()
}

fn audit_json(endpoint: &str) -> std::process::Command {
    let mut cmd = cli(endpoint);
    cmd.args(["audit", "--format", "json"]);
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn json_audit_reports_every_seeded_verdict_and_mutates_nothing() {
    let sim = seeded_simulator().await;
    let out = run(audit_json(&sim.endpoint())).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let records = json_lines(&out);
    assert_eq!(verdicts(&records), expected(|_| true));

    for r in &records {
        for key in [
            "control",
            "resource_arn",
            "resource_type",
            "account",
            "region",
            "status",
            "remediation",
            "reason",
        ] {
            assert!(r.get(key).is_some(), "record lacks {key}: {r}");
        }
        assert_eq!(r["account"], "123456789012");
        assert_eq!(r["region"], "us-east-1");
        let control = r["control"].as_str().unwrap();
        let expected_type = match control {
            "SageMaker.1" | "SageMaker.2" | "SageMaker.3" | "SageMaker.8" => {
                "AWS::SageMaker::NotebookInstance"
            }
            "SageMaker.4" => "AWS::SageMaker::EndpointConfig",
            "SageMaker.5" => "AWS::SageMaker::Model",
            "SageMaker.6" => "AWS::SageMaker::AppImageConfig",
            "SageMaker.7" => "AWS::SageMaker::Image",
            other => panic!("unexpected control {other}"),
        };
        assert_eq!(r["resource_type"], expected_type);
        let expected_remediation = if r["status"] == "FAILED" {
            match control {
                "SageMaker.3" | "SageMaker.8" => "fix",
                "SageMaker.6" | "SageMaker.7" => "tag",
                "SageMaker.4" => "replace",
                _ => "recreate",
            }
        } else {
            "none"
        };
        assert_eq!(r["remediation"], expected_remediation, "{r}");
        assert!(!r["reason"].as_str().unwrap().is_empty());
    }

    // The ARN lowercases the notebook name; the record keeps the real name.
    let ds = records
        .iter()
        .find(|r| r["resource_name"] == "DS-Team-Notebook")
        .unwrap();
    assert_eq!(
        ds["resource_arn"],
        "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/ds-team-notebook"
    );

    // Read-only, and the minimum number of calls: one List page per kind, one Describe per
    // notebook, endpoint config and model, one ListTags per image and app image config.
    let calls = sim.simulator.calls();
    assert_eq!(calls.mutating_succeeded(), 0, "{calls:?}");
    let fleet = demo::fleet();
    assert_eq!(calls.received("ListNotebookInstances"), 1);
    assert_eq!(
        calls.received("DescribeNotebookInstance"),
        fleet.notebooks.len() as u64
    );
    assert_eq!(
        calls.received("DescribeEndpointConfig"),
        fleet.endpoint_configs.len() as u64
    );
    assert_eq!(calls.received("DescribeModel"), fleet.models.len() as u64);
    assert_eq!(
        calls.received("ListTags"),
        (fleet.images.len() + fleet.app_image_configs.len()) as u64
    );
    let expected_total = 5
        + fleet.notebooks.len()
        + fleet.endpoint_configs.len()
        + fleet.models.len()
        + fleet.images.len()
        + fleet.app_image_configs.len();
    assert_eq!(calls.total_received(), expected_total as u64, "{calls:?}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn required_tag_keys_from_the_environment_change_the_tag_verdicts() {
    let sim = seeded_simulator().await;
    let mut cmd = audit_json(&sim.endpoint());
    cmd.env("SMR_CONTROLS__REQUIRED_TAG_KEYS", r#"["owner","team"]"#);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v = verdicts(&json_lines(&out));
    let status_of = |control: &str, name: &str| {
        v.iter()
            .find(|(c, n, _)| c == control && n == name)
            .map(|(_, _, s)| s.clone())
            .unwrap()
    };
    // team-base-image has owner and team; team-kernel-config only owner.
    assert_eq!(status_of("SageMaker.7", "team-base-image"), "PASSED");
    assert_eq!(status_of("SageMaker.6", "team-kernel-config"), "FAILED");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_api_leaves_the_rest_of_the_sweep_intact_and_exits_2() {
    let sim = seeded_simulator().await;
    sim.simulator.set_faults(Faults {
        access_denied: ["ListImages".to_string()].into(),
        unsupported: ["ListAppImageConfigs".to_string()].into(),
        ..Faults::default()
    });
    let out = run(audit_json(&sim.endpoint())).await;
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let records = json_lines(&out);
    assert_eq!(
        verdicts(&records),
        expected(|c| c != "SageMaker.6" && c != "SageMaker.7")
    );
    let errors: Vec<_> = records
        .iter()
        .filter(|r| r.get("error").is_some())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    let images = errors
        .iter()
        .find(|e| e["resource_type"] == "AWS::SageMaker::Image")
        .unwrap();
    assert_eq!(images["error_class"], "access-denied");
    assert_eq!(images["operation"], "ListImages");
    let configs = errors
        .iter()
        .find(|e| e["resource_type"] == "AWS::SageMaker::AppImageConfig")
        .unwrap();
    assert_eq!(configs["error_class"], "unsupported");
    let err = stderr(&out);
    assert!(err.contains("ListImages"), "{err}");
    assert!(err.contains("ListAppImageConfigs"), "{err}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_absorbed_by_the_sdk_retries() {
    let sim = seeded_simulator().await;
    sim.simulator.set_faults(Faults {
        throttle_share: 0.2,
        ..Faults::default()
    });
    let out = run(audit_json(&sim.endpoint())).await;
    let calls = sim.simulator.calls();
    // Every fifth call is throttled (the simulator spreads the share evenly), so throttling
    // always happens; with 3 attempts per call a call fails only when concurrent calls make
    // all three of its attempts land on a throttled slot: tolerate that rare case but require
    // the records to be right otherwise.
    let records = json_lines(&out);
    let errors: Vec<_> = records
        .iter()
        .filter(|r| r.get("error").is_some())
        .collect();
    for e in &errors {
        assert_eq!(e["error_class"], "throttled", "{e}");
    }
    if errors.is_empty() {
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        assert_eq!(verdicts(&records), expected(|_| true));
    }
    assert!(calls.total_received() > calls.succeeded.values().sum::<u64>());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn table_format_summarises_per_control_and_lists_failures() {
    let sim = seeded_simulator().await;
    let mut cmd = cli(&sim.endpoint());
    cmd.args(["audit"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("14 resources"), "{text}");
    // SageMaker.3: 2 passed (DS-Team-Notebook, legacy-analysis), 2 failed.
    let line = text
        .lines()
        .find(|l| l.starts_with("SageMaker.3 "))
        .unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(1).take(3).collect();
    assert_eq!(numbers, ["2", "2", "0"], "{line}");
    assert!(
        text.contains("notebook-instance/quick-experiment"),
        "{text}"
    );
    assert!(text.contains("Failing resources (11)"), "{text}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_endpoint_is_reported_per_part_with_exit_2() {
    let port = free_port(); // nothing listens there
    let mut cmd = cli(&format!("http://127.0.0.1:{port}"));
    cmd.args(["audit", "--format", "json"])
        .env("SMR_ACCOUNTS", r#"[{id="123456789012"}]"#);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let records = json_lines(&out);
    assert_eq!(records.len(), 5, "one error per resource kind: {records:?}");
    assert!(records.iter().all(|r| r["error_class"] == "transient"));
}

#[tokio::test(flavor = "multi_thread")]
async fn security_hub_parameters_judge_where_asked_for_and_the_difference_is_said() {
    let sim = seeded_simulator().await;
    sim.simulator.set_control_parameters(
        "SageMaker.7",
        serde_json::json!({ "requiredKeyTags": {
            "ValueType": "CUSTOM",
            "Value": { "StringList": ["owner", "cost-center"] }
        }}),
    );
    let status_of = |out: &Output, control: &str, name: &str| {
        verdicts(&json_lines(out))
            .into_iter()
            .find(|(c, n, _)| c == control && n == name)
            .map(|(_, _, s)| s)
            .unwrap()
    };

    // Off by default: the configured parameters (any tag), and no Security Hub call.
    let out = run(audit_json(&sim.endpoint())).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(status_of(&out, "SageMaker.7", "team-base-image"), "PASSED");
    assert_eq!(
        sim.simulator.calls().received("BatchGetSecurityControls"),
        0
    );

    // On: Security Hub's requiredKeyTags for .7 (team-base-image has owner and team, no
    // cost-center), its default for .6; the difference is said.
    let mut cmd = audit_json(&sim.endpoint());
    cmd.env("SMR_CONTROLS__FROM_SECURITY_HUB", "true");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(status_of(&out, "SageMaker.7", "team-base-image"), "FAILED");
    assert_eq!(
        status_of(&out, "SageMaker.6", "team-kernel-config"),
        "PASSED"
    );
    assert_eq!(
        sim.simulator.calls().received("BatchGetSecurityControls"),
        1
    );
    let err = stderr(&out);
    assert!(
        err.contains(r#"Security Hub's SageMaker.7 requiredKeyTags is ["owner", "cost-center"], configured []"#),
        "{err}"
    );
    assert!(!err.contains("SageMaker.6 requiredKeyTags"), "{err}");

    // The table says it too.
    let mut cmd = cli(&sim.endpoint());
    cmd.args(["audit"])
        .env("SMR_CONTROLS__FROM_SECURITY_HUB", "true");
    let text = String::from_utf8_lossy(&run(cmd).await.stdout).to_string();
    assert!(
        text.contains("Control parameters from Security Hub:"),
        "{text}"
    );

    // Unreadable: the configured parameters apply, and the audit says why.
    sim.simulator.set_faults(Faults {
        access_denied: ["BatchGetSecurityControls".to_string()].into(),
        ..Faults::default()
    });
    let mut cmd = audit_json(&sim.endpoint());
    cmd.env("SMR_CONTROLS__FROM_SECURITY_HUB", "true");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(verdicts(&json_lines(&out)), expected(|_| true));
    let err = stderr(&out);
    assert!(
        err.contains("control parameters could not be read") && err.contains("access-denied"),
        "{err}"
    );
    sim.shutdown().await;
}
