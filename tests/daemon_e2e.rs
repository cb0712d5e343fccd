//! End-to-end tests of `run` through the real SDK: events are put on moto's EventBridge bus,
//! routed by moto's rule to an SQS queue, consumed by the daemon process, which fixes
//! notebooks in the SageMaker simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::daemon::{family_event, Daemon, World};
use sagemaker_remediator::sim::Faults;
use sagemaker_remediator::store::RemediationStatus;

const FAMILIES: [&str; 4] = ["securityhub", "config", "cloudtrail", "sagemaker"];
const NAMES: [&str; 4] = [
    "Sechub-Notebook",
    "config-notebook",
    "trail-notebook",
    "state-notebook",
];

fn fixed(journal: &[sagemaker_remediator::store::Remediation], n: usize) -> bool {
    journal
        .iter()
        .filter(|r| r.kind == "notebook-fix" && r.status == RemediationStatus::Succeeded)
        .count()
        >= n
}

/// A daemon in `mode`, then one running notebook with root access per event family, each
/// named by one event of its family. The notebooks are created after the start-up sweep, so
/// only the events can make the daemon look at them.
async fn one_event_per_family(mode: &str) -> (World, Daemon) {
    let world = World::start(Duration::from_millis(300)).await;
    let mut daemon = world.daemon(mode, "", &[]);
    daemon.wait_ready().await;
    for name in NAMES {
        world.notebook(name, true).await;
    }
    world.sim.simulator.reset_calls();
    let events: Vec<_> = FAMILIES
        .iter()
        .zip(NAMES)
        .map(|(family, name)| family_event(family, name))
        .collect();
    world.put_events(&events).await;
    (world, daemon)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_event_family_gets_a_running_notebook_fixed_with_one_stop_update_start() {
    let (world, mut daemon) = one_event_per_family("enforce").await;

    let journal = world
        .wait_journal(Duration::from_secs(90), "four fixes", |j| fixed(j, 4))
        .await;
    for name in NAMES {
        assert_eq!(
            world.describe(name).await,
            ("InService".to_string(), "Disabled".to_string()),
            "{name}"
        );
        let arn_suffix = format!("notebook-instance/{}", name.to_lowercase());
        let fixes: Vec<_> = journal
            .iter()
            .filter(|r| r.resource.arn.ends_with(&arn_suffix))
            .collect();
        assert_eq!(fixes.len(), 1, "{name}: {fixes:#?}");
        assert_eq!(fixes[0].outcome.as_deref(), Some("fixed"));
        for call in [
            "StopNotebookInstance",
            "UpdateNotebookInstance",
            "StartNotebookInstance",
        ] {
            let done = fixes[0]
                .steps
                .iter()
                .filter(|s| s.step == call && s.phase == "done")
                .count();
            assert_eq!(done, 1, "{name} {call}");
        }
    }
    let calls = world.sim.simulator.calls();
    for op in [
        "StopNotebookInstance",
        "UpdateNotebookInstance",
        "StartNotebookInstance",
    ] {
        assert_eq!(calls.received(op), 4, "{op}: {calls:?}");
        assert_eq!(calls.succeeded(op), 4, "{op}: {calls:?}");
    }
    for family in FAMILIES {
        let series =
            format!("smr_events_received_total{{family=\"{family}\",outcome=\"triggered\"}}");
        assert!(
            daemon.metric(&series) >= 1.0,
            "{series}\n{}",
            daemon.get("/metrics").unwrap().1
        );
    }
    assert_eq!(daemon.get("/healthz").unwrap().0, 200);
    assert!(daemon.terminate().success(), "{}", daemon.log_text());

    // The journal carries each fix as code: `remediations --format json` and the table.
    let out = world.cli(&["remediations", "--format", "json"]);
    let fixes: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v.get("remediation").cloned())
        .collect();
    assert_eq!(fixes.len(), 4, "{fixes:#?}");
    for fix in &fixes {
        let name = fix["name"].as_str().unwrap();
        let cli = fix["code"]["cli"].as_str().unwrap();
        assert!(
            cli.contains(&format!(
                "update-notebook-instance --region us-east-1 --notebook-instance-name {name} --root-access Disabled"
            )),
            "{cli}"
        );
        assert!(fix["code"]["terraform"]
            .as_str()
            .unwrap()
            .contains("root_access = \"Disabled\""));
    }
    let table = String::from_utf8_lossy(&world.cli(&["remediations"]).stdout).to_string();
    assert_eq!(
        table
            .matches("as code: sagemaker-remediator remediations --resource")
            .count(),
        4,
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_mode_records_what_it_would_do_and_makes_no_mutating_call() {
    let (world, mut daemon) = one_event_per_family("audit").await;

    let journal = world
        .wait_journal(Duration::from_secs(60), "four dry runs", |j| {
            j.iter()
                .filter(|r| r.dry_run && r.kind == "notebook-fix")
                .count()
                >= 4
        })
        .await;
    assert!(journal.iter().all(|r| r.dry_run), "{journal:#?}");
    // Give it time to do anything it should not.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = world.sim.simulator.calls();
    assert_eq!(calls.mutating_succeeded(), 0, "{calls:?}");
    for op in [
        "StopNotebookInstance",
        "UpdateNotebookInstance",
        "StartNotebookInstance",
        "AddTags",
    ] {
        assert_eq!(calls.received(op), 0, "{op}");
    }
    for name in NAMES {
        assert_eq!(
            world.describe(name).await,
            ("InService".to_string(), "Enabled".to_string())
        );
    }
    assert!(daemon.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_notebook_is_updated_and_stays_stopped() {
    let world = World::start(Duration::from_millis(300)).await;
    let mut daemon = world.daemon("enforce", "", &[]);
    daemon.wait_ready().await;
    world.notebook("parked-notebook", true).await;
    world
        .sagemaker
        .stop_notebook_instance()
        .notebook_instance_name("parked-notebook")
        .send()
        .await
        .unwrap();
    world
        .wait_status("parked-notebook", "Stopped", Duration::from_secs(10))
        .await;
    world.sim.simulator.reset_calls();
    world
        .put_events(&[family_event("securityhub", "parked-notebook")])
        .await;
    world
        .wait_journal(Duration::from_secs(60), "the fix", |j| fixed(j, 1))
        .await;
    assert_eq!(
        world.describe("parked-notebook").await,
        ("Stopped".to_string(), "Disabled".to_string())
    );
    let calls = world.sim.simulator.calls();
    assert_eq!(calls.received("StopNotebookInstance"), 0);
    assert_eq!(calls.received("StartNotebookInstance"), 0);
    assert_eq!(calls.succeeded("UpdateNotebookInstance"), 1);
    assert!(daemon.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_events_for_twenty_notebooks_make_exactly_twenty_remediations() {
    let world = World::start(Duration::from_millis(300)).await;
    let mut daemon = world.daemon("enforce", "", &[]);
    daemon.wait_ready().await;
    let names: Vec<&'static str> = (0..20)
        .map(|i| &*Box::leak(format!("burst-notebook-{i:02}").into_boxed_str()))
        .collect();
    for name in &names {
        world.notebook(name, true).await;
    }
    world.sim.simulator.reset_calls();
    // 50 events per notebook, every family, duplicated and interleaved in a scrambled order.
    let mut events = Vec::new();
    for round in 0..50 {
        for (i, name) in names.iter().enumerate() {
            events.push(family_event(FAMILIES[(i + round) % 4], name));
        }
    }
    let mut order: Vec<usize> = (0..events.len()).collect();
    let mut seed: u64 = 42;
    for i in (1..order.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        order.swap(i, (seed >> 33) as usize % (i + 1));
    }
    let events: Vec<_> = order.into_iter().map(|i| events[i].clone()).collect();
    assert_eq!(events.len(), 1000);
    world.put_events(&events).await;

    world
        .wait_journal(Duration::from_secs(180), "twenty fixes", |j| fixed(j, 20))
        .await;
    // Let the queue drain completely: later duplicates find the notebooks compliant.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while daemon.metric("smr_events_received_total{family=\"securityhub\",outcome=\"triggered\"}")
        + daemon.metric("smr_events_received_total{family=\"config\",outcome=\"triggered\"}")
        + daemon.metric("smr_events_received_total{family=\"cloudtrail\",outcome=\"triggered\"}")
        + daemon.metric("smr_events_received_total{family=\"sagemaker\",outcome=\"triggered\"}")
        < 1000.0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "not every event was received"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let journal = world.journal();
    let fixes: Vec<_> = journal
        .iter()
        .filter(|r| r.kind == "notebook-fix")
        .collect();
    assert_eq!(fixes.len(), 20, "{fixes:#?}");
    let calls = world.sim.simulator.calls();
    assert_eq!(calls.succeeded("StopNotebookInstance"), 20);
    assert_eq!(calls.succeeded("UpdateNotebookInstance"), 20);
    assert_eq!(calls.succeeded("StartNotebookInstance"), 20);
    for name in &names {
        assert_eq!(
            world.describe(name).await,
            ("InService".to_string(), "Disabled".to_string())
        );
    }
    assert!(daemon.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_unrelated_messages_do_not_stop_the_consumer_nor_lose_good_ones() {
    let world = World::start(Duration::from_millis(300)).await;
    let mut daemon = world.daemon("enforce", "", &[]);
    daemon.wait_ready().await;
    world.notebook("before-junk", true).await;
    world.notebook("after-junk", true).await;

    let good = |name: &str| {
        let (source, detail_type, detail) = family_event("securityhub", name);
        serde_json::json!({
            "version": "0", "id": format!("id-{name}"), "detail-type": detail_type,
            "source": source, "region": "us-east-1", "time": "2026-11-22T12:00:00Z",
            "resources": [], "detail": detail
        })
        .to_string()
    };
    let truncated = good("after-junk");
    let truncated = &truncated[..truncated.len() / 2];
    // Valid JSON, over the 256 KiB an SQS message may hold: only a broken producer sends it.
    let oversized = format!("{{\"padding\": \"{}\"}}", "x".repeat(300 * 1024));
    let unrelated = serde_json::json!({
        "version": "0", "id": "ec2", "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2", "region": "us-east-1", "time": "2026-11-22T12:00:00Z",
        "resources": [], "detail": { "instance-id": "i-0123", "state": "running" }
    })
    .to_string();

    world.send_raw(&good("before-junk")).await;
    world.send_raw("{ this is not json").await;
    world.send_raw(truncated).await;
    world.send_raw(&oversized).await;
    world.send_raw(" ").await;
    world.send_raw(&unrelated).await;
    world.send_raw(&good("after-junk")).await;

    world
        .wait_journal(Duration::from_secs(60), "both fixes", |j| fixed(j, 2))
        .await;
    for name in ["before-junk", "after-junk"] {
        assert_eq!(
            world.describe(name).await,
            ("InService".to_string(), "Disabled".to_string())
        );
    }
    // The four malformed messages end in the dead-letter queue (maxReceiveCount 5); the
    // unrelated one was deleted.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while world.dlq_depth().await < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "dead-letter queue holds {}",
            world.dlq_depth().await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(world.dlq_depth().await, 4);
    assert!(
        daemon.metric("smr_events_received_total{family=\"unknown\",outcome=\"malformed\"}") >= 4.0
    );
    assert_eq!(
        daemon.metric("smr_events_received_total{family=\"other\",outcome=\"irrelevant\"}"),
        1.0
    );
    assert_eq!(daemon.get("/readyz").unwrap().0, 200);
    assert!(daemon.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn remediations_complete_with_throttling_on_thirty_percent_of_calls() {
    let world = World::start(Duration::from_millis(300)).await;
    let mut daemon = world.daemon("enforce", "", &[]);
    daemon.wait_ready().await;
    let names = [
        "throttled-a",
        "throttled-b",
        "throttled-c",
        "throttled-d",
        "throttled-e",
    ];
    for name in names {
        world.notebook(name, true).await;
    }
    world.sim.simulator.set_faults(Faults {
        throttle_share: 0.3,
        ..Faults::default()
    });
    let events: Vec<_> = names
        .iter()
        .map(|name| family_event("securityhub", name))
        .collect();
    world.put_events(&events).await;
    world
        .wait_journal(Duration::from_secs(150), "five fixes", |j| fixed(j, 5))
        .await;
    world.sim.simulator.set_faults(Faults::default());
    for name in names {
        assert_eq!(
            world.describe(name).await,
            ("InService".to_string(), "Disabled".to_string())
        );
    }
    let calls = world.sim.simulator.calls();
    assert!(
        calls.total_received() > calls.total_succeeded(),
        "throttling was injected: {calls:?}"
    );
    assert!(daemon.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn with_security_hubs_parameters_the_tag_fix_adds_the_keys_security_hub_requires() {
    let world = World::start(Duration::from_millis(200)).await;
    // The image has an owner: it passes SageMaker.7 as configured (any tag), not as this
    // account's Security Hub checks it (owner and cost-center).
    world
        .sagemaker
        .create_image()
        .image_name("team-image")
        .role_arn("arn:aws:iam::123456789012:role/SageMakerExecution")
        .tags(
            aws_sdk_sagemaker::types::Tag::builder()
                .key("owner")
                .value("ml")
                .build(),
        )
        .send()
        .await
        .unwrap();
    world.sim.simulator.set_control_parameters(
        "SageMaker.7",
        serde_json::json!({ "requiredKeyTags": {
            "ValueType": "CUSTOM",
            "Value": { "StringList": ["owner", "cost-center"] }
        }}),
    );
    world.sim.simulator.reset_calls();
    // Security Hub is the simulator's (moto has no BatchGetSecurityControls).
    let hub = world.sim.endpoint();
    let mut daemon = world.daemon(
        "enforce",
        "\n[controls]\nfrom_security_hub = true\n",
        &[
            (
                "SMR_REMEDIATION__TAG_VALUES",
                r#"{ owner = "unassigned", "cost-center" = "4711" }"#,
            ),
            ("AWS_ENDPOINT_URL_SECURITYHUB", hub.as_str()),
        ],
    );
    daemon.wait_ready().await;
    let journal = world
        .wait_journal(Duration::from_secs(60), "the tag fix", |j| {
            j.iter().any(|r| {
                r.kind == "tags"
                    && r.resource.arn.ends_with("image/team-image")
                    && r.status == RemediationStatus::Succeeded
            })
        })
        .await;
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
    let fix = journal
        .iter()
        .find(|r| r.kind == "tags" && r.resource.arn.ends_with("image/team-image"))
        .unwrap();
    assert!(!fix.dry_run, "{fix:#?}");
    let tags = world
        .sagemaker
        .list_tags()
        .resource_arn("arn:aws:sagemaker:us-east-1:123456789012:image/team-image")
        .send()
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = tags
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap_or_default()))
        .collect();
    assert!(pairs.contains(&("cost-center", "4711")), "{pairs:?}");
    assert!(
        pairs.contains(&("owner", "ml")),
        "an existing value is kept: {pairs:?}"
    );
    // The sweep and the reconcile share one read of the parameters.
    assert_eq!(
        world
            .sim
            .simulator
            .calls()
            .received("BatchGetSecurityControls"),
        1
    );
}

/// Waits until the store holds a flag of `arn_suffix`; its plan.
async fn wait_flag(world: &World, arn_suffix: &str) -> serde_json::Value {
    use sagemaker_remediator::store::{SqliteStore, Store};
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let flags = SqliteStore::open(&world.store_path())
            .unwrap()
            .flags(None)
            .unwrap();
        if let Some(f) = flags.iter().find(|f| f.resource.arn.ends_with(arn_suffix)) {
            return f.plan.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no flag of {arn_suffix}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_iac_managed_notebook_is_flagged_with_the_code_change_and_fixed_only_when_configured() {
    let world = World::start(Duration::from_millis(300)).await;
    world.notebook("stack-notebook", true).await;
    let arn = "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/stack-notebook";
    let tag = |k: &str, v: &str| {
        aws_sdk_sagemaker::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
    };
    world
        .sagemaker
        .add_tags()
        .resource_arn(arn)
        .tags(tag(
            "aws:cloudformation:stack-id",
            "arn:aws:cloudformation:us-east-1:123456789012:stack/ml-research/5e1f",
        ))
        .tags(tag("aws:cloudformation:stack-name", "ml-research"))
        .tags(tag("aws:cloudformation:logical-id", "ResearchNotebook"))
        .send()
        .await
        .unwrap();
    world.sim.simulator.reset_calls();

    // By default: flagged with the CloudFormation change, and not touched at all.
    let mut daemon = world.daemon("enforce", "", &[]);
    daemon.wait_ready().await;
    let plan = wait_flag(&world, "/stack-notebook").await;
    let notes = plan["notes"].to_string();
    assert!(
        notes.contains("managed by CloudFormation stack ml-research (logical id ResearchNotebook)")
            && notes.contains("RootAccess: Disabled"),
        "{plan:#}"
    );
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
    let calls = world.sim.simulator.calls();
    assert_eq!(
        calls.mutating_succeeded(),
        0,
        "no fix, no flag tag: {calls:?}"
    );
    assert!(world.journal().iter().all(|r| r.kind != "notebook-fix"));

    // The plan as code: Terraform that parses back with the notebook's own network and key,
    // and a CloudFormation template that cfn-lint accepts.
    let render = |language: &str| {
        let out = world.cli(&["remediations", "--resource", arn, "--as", language]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let terraform = render("terraform");
    let body: hcl::Body = hcl::parse(&terraform).unwrap();
    let block = body.blocks().next().unwrap();
    let attribute = |key: &str| {
        block
            .body
            .attributes()
            .find(|a| a.key.as_str() == key)
            .map(|a| a.expr.clone())
    };
    assert_eq!(
        attribute("root_access"),
        Some("Disabled".into()),
        "{terraform}"
    );
    let (subnet, groups, kms) = world.network_of("stack-notebook").await;
    assert_eq!(attribute("subnet_id"), Some(subnet.into()), "{terraform}");
    assert_eq!(
        attribute("security_groups"),
        Some(hcl::Expression::Array(
            groups.into_iter().map(Into::into).collect()
        )),
        "{terraform}"
    );
    assert_eq!(
        attribute("kms_key_id").is_some(),
        kms.is_some(),
        "{terraform}"
    );
    let template = world.dir.path().join("plan.json");
    std::fs::write(&template, render("cloudformation")).unwrap();
    let lint = std::env::var("CFN_LINT")
        .expect("CFN_LINT is not set: run the tests with scripts/test, which installs cfn-lint");
    let linted = std::process::Command::new(lint)
        .arg(&template)
        .output()
        .unwrap();
    assert!(
        linted.status.success(),
        "cfn-lint: {}{}\n{}",
        String::from_utf8_lossy(&linted.stdout),
        String::from_utf8_lossy(&linted.stderr),
        std::fs::read_to_string(&template).unwrap()
    );
    assert!(render("cli").contains("aws sagemaker create-notebook-instance"));
    // The flag in the journal carries the same code.
    assert_eq!(plan["code"]["terraform"], terraform.as_str(), "{plan:#}");

    // With iac.actions."SageMaker.3" = "fix": fixed in place, the drift recorded.
    let mut daemon = world.daemon(
        "enforce",
        "\n[iac.actions]\n\"SageMaker.3\" = \"fix\"\n",
        &[],
    );
    daemon.wait_ready().await;
    let journal = world
        .wait_journal(Duration::from_secs(60), "the fix", |j| fixed(j, 1))
        .await;
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
    let fix = journal.iter().find(|r| r.kind == "notebook-fix").unwrap();
    let outcome = fix.outcome.as_deref().unwrap();
    assert!(
        outcome.starts_with("fixed; drift: fixed in place although managed by CloudFormation stack ml-research (logical id ResearchNotebook)")
            && outcome.contains("SageMaker.3: RootAccess: Disabled"),
        "{outcome}"
    );
    assert!(
        fix.steps
            .iter()
            .any(|s| s.step == "Plan" && s.phase == "observed" && s.detail.contains("drift")),
        "{fix:#?}"
    );
    assert_eq!(
        world.describe("stack-notebook").await,
        ("InService".to_string(), "Disabled".to_string())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_come_from_the_organisation_and_a_moved_account_is_swept_without_a_restart() {
    let world = World::start(Duration::from_millis(100)).await;
    let org = common::Organization::create(&world.moto.endpoint).await;
    let extra = format!(
        "[organization]\nenabled = true\nrole_arn = \"{}\"\nexclude_ous = [\"{}\"]\n\
         regions = [\"us-east-1\"]\nrefresh_secs = 10\n",
        common::ORG_ROLE,
        org.ous["sandbox"]
    );
    // SageMaker from moto here: the simulator has one account, moto keeps one per role.
    let mut daemon = world.daemon(
        "audit",
        &extra,
        &[
            ("AWS_ENDPOINT_URL_SAGEMAKER", world.moto.endpoint.as_str()),
            ("SMR_DAEMON__SWEEP_INTERVAL_SECS", "2"),
        ],
    );
    daemon.wait_ready().await;
    let in_account = |j: &[sagemaker_remediator::store::Remediation], name: &str| {
        let id = &org.accounts[name];
        j.iter()
            .any(|r| r.dry_run && r.kind == "notebook-fix" && r.resource.account == *id)
    };
    let journal = world
        .wait_journal(
            Duration::from_secs(60),
            "the prod and dev accounts' plans",
            |j| in_account(j, "prod") && in_account(j, "dev"),
        )
        .await;
    assert!(!in_account(&journal, "sandbox"), "{journal:#?}");
    assert!(!in_account(&journal, "closed"), "{journal:#?}");

    org.move_account("sandbox", "sandbox", "dev").await;
    world
        .wait_journal(
            Duration::from_secs(60),
            "the moved account's plan after a refresh",
            |j| in_account(j, "sandbox"),
        )
        .await;
    let log = daemon.log_text();
    assert!(
        log.contains("organization_read") && log.contains(&org.accounts["sandbox"]),
        "{log}"
    );
    assert!(daemon.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terraform_state_in_s3_names_the_notebooks_address_in_its_plans() {
    let world = World::start(Duration::from_millis(100)).await;
    world.notebook("tf-notebook", true).await;
    let arn = "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/tf-notebook";
    world
        .sagemaker
        .add_tags()
        .resource_arn(arn)
        .tags(
            aws_sdk_sagemaker::types::Tag::builder()
                .key("managed-by")
                .value("terraform")
                .build(),
        )
        .send()
        .await
        .unwrap();
    // The state, in moto's S3, as Terraform writes it (other resources, outputs, a data source).
    let sdk = sagemaker_remediator::demo::emulator_sdk_config(&world.moto.endpoint).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket("tf-state").send().await.unwrap();
    let state = serde_json::json!({
        "version": 4, "terraform_version": "1.9.5", "serial": 3, "lineage": "ab12",
        "outputs": { "token": { "value": "not-for-plans", "sensitive": true } },
        "resources": [
            { "module": "module.ml", "mode": "managed", "type": "aws_sagemaker_notebook_instance",
              "name": "main", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
              "instances": [{ "schema_version": 0,
                              "attributes": { "arn": arn, "id": "tf-notebook", "root_access": "Enabled" } }] },
            { "mode": "data", "type": "aws_caller_identity", "name": "me",
              "instances": [{ "attributes": { "account_id": "123456789012" } }] }
        ]
    });
    s3.put_object()
        .bucket("tf-state")
        .key("ml/terraform.tfstate")
        .body(state.to_string().into_bytes().into())
        .send()
        .await
        .unwrap();
    world.sim.simulator.reset_calls();

    let extra = "[iac]\ntags = { \"managed-by\" = \"terraform\" }\n\
                 terraform_states = [\"s3://tf-state/ml/terraform.tfstate\", \"s3://tf-state/gone.tfstate\"]\n";
    let mut daemon = world.daemon("enforce", extra, &[]);
    daemon.wait_ready().await;
    let plan = wait_flag(&world, "/tf-notebook").await;
    let terraform = plan["code"]["terraform"].as_str().unwrap().to_string();
    assert!(
        terraform.contains(
            "# Terraform state: this is module.ml.aws_sagemaker_notebook_instance.main; edit it in the code of module.ml."
        ),
        "{terraform}"
    );
    let body: hcl::Body = hcl::parse(&terraform).unwrap();
    let block = body.blocks().next().unwrap();
    let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
    assert_eq!(labels, ["aws_sagemaker_notebook_instance", "main"]);
    assert!(block
        .body
        .attributes()
        .any(|a| a.key.as_str() == "root_access" && a.expr == "Disabled".into()));
    assert!(!plan.to_string().contains("not-for-plans"));
    // The missing state is a warning; the daemon carries on.
    assert!(
        daemon.log_text().contains("terraform_state_unreadable")
            && daemon.log_text().contains("gone.tfstate"),
        "{}",
        daemon.log_text()
    );
    assert_eq!(world.sim.simulator.calls().mutating_succeeded(), 0);
    assert!(daemon.terminate().success(), "{}", daemon.log_text());

    // `remediations --as terraform` reads the states itself and names the same address.
    let out = world.cli(&["remediations", "--resource", arn, "--as", "terraform"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), terraform);
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(
        warning.contains("warning: Terraform state s3://tf-state/gone.tfstate"),
        "{warning}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_steady_sweep_describes_nothing_unchanged_and_still_catches_root_access_turned_on() {
    let world = World::start(Duration::from_millis(100)).await;
    for name in ["quiet-a", "quiet-b", "quiet-c"] {
        world.notebook(name, false).await;
    }
    let mut daemon = world.daemon(
        "enforce",
        "",
        &[
            ("SMR_DAEMON__SWEEP_INTERVAL_SECS", "1"),
            ("SMR_DAEMON__SWEEP_JITTER", "0"),
        ],
    );
    daemon.wait_ready().await;
    // The first sweep reads everything; the next ones only list.
    daemon
        .wait_log("sweep_done", 2, Duration::from_secs(60))
        .await;
    let calls = world.sim.simulator.calls();
    let (describes, lists) = (
        calls.received("DescribeNotebookInstance"),
        calls.received("ListNotebookInstances"),
    );
    assert!(describes >= 3, "{calls:?}");
    daemon
        .wait_log("sweep_done", 5, Duration::from_secs(60))
        .await;
    let calls = world.sim.simulator.calls();
    assert_eq!(
        calls.received("DescribeNotebookInstance"),
        describes,
        "a steady sweep describes nothing unchanged: {calls:?}"
    );
    assert!(
        calls.received("ListNotebookInstances") >= lists + 3,
        "{calls:?}"
    );
    assert!(
        daemon.log_text().contains("unchanged=3"),
        "{}",
        daemon.log_text()
    );

    // Someone turns root access on between sweeps: its LastModifiedTime moves, the next sweep
    // describes it and the daemon fixes it.
    let sm = &world.sagemaker;
    world.stop_notebook("quiet-b").await;
    sm.update_notebook_instance()
        .notebook_instance_name("quiet-b")
        .root_access(aws_sdk_sagemaker::types::RootAccess::Enabled)
        .send()
        .await
        .unwrap();
    world
        .wait_journal(Duration::from_secs(60), "the fix of quiet-b", |j| {
            j.iter().any(|r| {
                r.resource.name == "quiet-b"
                    && r.kind == "notebook-fix"
                    && r.status == RemediationStatus::Succeeded
            })
        })
        .await;
    assert_eq!(world.describe("quiet-b").await.1, "Disabled");
    assert!(world.journal().iter().all(|r| r.resource.name == "quiet-b"));

    // What is remembered lives in the journal; a deleted notebook is forgotten.
    use sagemaker_remediator::store::{SqliteStore, Store};
    let seen = || {
        let mut names: Vec<String> = SqliteStore::open(&world.store_path())
            .unwrap()
            .seen(common::daemon::ACCOUNT, common::daemon::REGION)
            .unwrap()
            .into_keys()
            .map(|arn| arn.rsplit('/').next().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    assert!(seen().contains(&"quiet-a".to_string()), "{:?}", seen());
    assert!(seen().contains(&"quiet-c".to_string()), "{:?}", seen());
    world.stop_notebook("quiet-c").await;
    sm.delete_notebook_instance()
        .notebook_instance_name("quiet-c")
        .send()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while seen().contains(&"quiet-c".to_string()) {
        assert!(std::time::Instant::now() < deadline, "{:?}", seen());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(seen().contains(&"quiet-a".to_string()), "{:?}", seen());
    assert!(daemon.terminate().success(), "{}", daemon.log_text());

    // `audit --cached` uses the same cache: what the daemon found compliant and is unchanged
    // is not described again; plain `audit` reads everything.
    world.sim.simulator.reset_calls();
    let cached = world.cli(&["audit", "--cached", "--format", "json"]);
    assert!(cached.status.success(), "{}", common::stderr(&cached));
    let records = common::json_lines(&cached);
    let unchanged: Vec<&str> = records
        .iter()
        .filter(|r| r.get("cached").is_some())
        .map(|r| r["resource_arn"].as_str().unwrap())
        .collect();
    assert!(
        unchanged.iter().any(|arn| arn.ends_with("/quiet-a")),
        "{records:#?}"
    );
    let judged_a = |records: &[serde_json::Value]| {
        records.iter().any(|r| {
            r.get("control").is_some() && r["resource_arn"].as_str().unwrap().ends_with("/quiet-a")
        })
    };
    assert!(!judged_a(&records), "not judged again: {records:#?}");
    let describes = world
        .sim
        .simulator
        .calls()
        .received("DescribeNotebookInstance");
    let full = world.cli(&["audit", "--format", "json"]);
    assert!(full.status.success(), "{}", common::stderr(&full));
    assert!(judged_a(&common::json_lines(&full)));
    assert!(
        world
            .sim
            .simulator
            .calls()
            .received("DescribeNotebookInstance")
            >= describes + 2,
        "the full audit describes both notebooks, --cached {describes} of them"
    );
}
