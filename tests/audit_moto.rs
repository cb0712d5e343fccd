//! `audit` through the real SDK against moto_server, an emulator we did not write, for what it
//! supports: notebook instances, endpoint configs, models, and STS AssumeRole across accounts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use sagemaker_remediator::demo::{self, Kinds};

#[tokio::test(flavor = "multi_thread")]
async fn moto_agrees_on_notebooks_endpoint_configs_and_models() {
    let moto = Moto::start();
    demo::seed(
        &sagemaker_client(&moto.endpoint).await,
        &demo::fleet(),
        Kinds::NotebooksEndpointConfigsModels,
    )
    .await
    .unwrap();

    let mut cmd = cli(&moto.endpoint);
    cmd.args(["audit", "--format", "json"]);
    let out = tokio::process::Command::from(cmd).output().await.unwrap();
    let records = json_lines(&out);

    // Two gaps of moto's, not ours: it does not report PlatformIdentifier, so every notebook
    // fails SageMaker.8 there ("not reported"), and its CreateModel ignores
    // EnableNetworkIsolation (always false), so every model fails SageMaker.5. Every other
    // verdict must match the simulator's expectations.
    let mut want = expected(|c| {
        !matches!(
            c,
            "SageMaker.5" | "SageMaker.6" | "SageMaker.7" | "SageMaker.8"
        )
    });
    let fleet = demo::fleet();
    for n in &fleet.notebooks {
        want.push(("SageMaker.8".into(), n.name.into(), "FAILED".into()));
    }
    for (name, _) in &fleet.models {
        want.push(("SageMaker.5".into(), name.to_string(), "FAILED".into()));
    }
    want.sort();
    assert_eq!(verdicts(&records), want, "stderr: {}", stderr(&out));
    // The account comes from the resources' ARNs (moto's default account).
    assert!(records
        .iter()
        .filter(|r| r.get("error").is_none())
        .all(|r| r["account"] == "123456789012"));

    // moto has no images or app image configs: those parts fail, the rest stands, exit 2.
    let errors: Vec<_> = records
        .iter()
        .filter(|r| r.get("error").is_some())
        .collect();
    let mut failed_kinds: Vec<&str> = errors
        .iter()
        .map(|e| e["resource_type"].as_str().unwrap())
        .collect();
    failed_kinds.sort();
    assert_eq!(
        failed_kinds,
        ["AWS::SageMaker::AppImageConfig", "AWS::SageMaker::Image"],
        "{errors:?}"
    );
    // moto answers operations it lacks with an HTML page and HTTP 500, which can only be
    // classified as a (transient) server error.
    let mut operations: Vec<&str> = errors
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    operations.sort();
    assert_eq!(operations, ["ListAppImageConfigs", "ListImages"]);
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_account_is_audited_through_an_assumed_role() {
    let moto = Moto::start();
    let member = "111122223333";
    let role_arn = format!("arn:aws:iam::{member}:role/SageMakerRemediatorAudit");

    // Seed a notebook in the member account with the member role's credentials.
    let base = demo::emulator_sdk_config(&moto.endpoint).await;
    let account = sagemaker_remediator::config::AccountConfig {
        id: member.to_string(),
        role_arn: Some(role_arn.clone()),
        external_id: Some("smr-test-external-id".to_string()),
        ..Default::default()
    };
    let member_sdk = sagemaker_remediator::aws::account_config(&base, &account, "us-east-1").await;
    let fleet = demo::fleet();
    let notebook = &fleet.notebooks[1]; // fraud-model-dev: root access enabled
    demo::seed_notebook(&aws_sdk_sagemaker::Client::new(&member_sdk), notebook)
        .await
        .unwrap();
    // And one in the caller's own account, which the member's audit must not see.
    demo::seed_notebook(&sagemaker_client(&moto.endpoint).await, &fleet.notebooks[0])
        .await
        .unwrap();

    let (out, records) = audit_json(
        &moto.endpoint,
        &format!(
            "[[accounts]]\nid = \"{member}\"\nrole_arn = \"{role_arn}\"\nexternal_id = \"smr-test-external-id\"\nregions = [\"us-east-1\"]\n"
        ),
    )
    .await;
    let root = records
        .iter()
        .find(|r| r["control"] == "SageMaker.3")
        .unwrap_or_else(|| panic!("no SageMaker.3 record: {records:?} {}", stderr(&out)));
    assert_eq!(root["account"], member);
    assert_eq!(root["status"], "FAILED");
    assert!(root["resource_arn"]
        .as_str()
        .unwrap()
        .contains(&format!(":{member}:notebook-instance/")));
    // Only the member's notebook is in the report (four notebook controls), not the caller's.
    let notebook_records: Vec<_> = records
        .iter()
        .filter(|r| r["resource_type"] == "AWS::SageMaker::NotebookInstance")
        .collect();
    assert_eq!(notebook_records.len(), 4, "{notebook_records:?}");
    assert!(notebook_records
        .iter()
        .all(|r| r["resource_name"] == notebook.name));
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_discovered_from_the_organisation_are_audited_through_their_roles() {
    let moto = Moto::start();
    let org = Organization::create(&moto.endpoint).await;
    let (out, records) = audit_json(
        &moto.endpoint,
        &format!(
            "[organization]\nenabled = true\nrole_arn = \"{ORG_ROLE}\"\nexclude_ous = [\"{}\"]\n\
             exclude_accounts = [\"123456789012\"]\nregions = [\"us-east-1\"]\n",
            org.ous["sandbox"]
        ),
    )
    .await;
    let mut audited: Vec<String> = records
        .iter()
        .filter(|r| r["control"] == "SageMaker.3")
        .map(|r| {
            // the notebook's own ARN says which account's credentials listed it
            let arn = r["resource_arn"].as_str().unwrap();
            assert!(arn.contains(&format!(":{}:", r["account"].as_str().unwrap())));
            assert_eq!(r["status"], "FAILED");
            r["account"].as_str().unwrap().to_string()
        })
        .collect();
    audited.sort();
    let mut want = vec![org.accounts["prod"].clone(), org.accounts["dev"].clone()];
    want.sort();
    // not the sandbox unit, not the suspended account, not the excluded management account
    assert_eq!(audited, want, "stderr: {}", stderr(&out));
}

/// `audit --format json` against `endpoint` with the configuration `toml`: the output and its
/// records.
async fn audit_json(endpoint: &str, toml: &str) -> (std::process::Output, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, toml).unwrap();
    let mut cmd = cli(endpoint);
    cmd.args([
        "--config",
        config.to_str().unwrap(),
        "audit",
        "--format",
        "json",
    ]);
    let out = tokio::process::Command::from(cmd).output().await.unwrap();
    let records = json_lines(&out);
    (out, records)
}
