//! Notifications end to end: the daemon runs as a process with `notifications.event_bus` set,
//! its `PutEvents` go to moto's EventBridge (a rule routes them to an SQS queue the test reads)
//! or to the simulator's bus (which can fail a share of the entries), and every event read
//! back is validated against the published detail schema.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::daemon::{family_event, World, NOTIFICATION_BUS};
use sagemaker_remediator::sim::Faults;
use sagemaker_remediator::store::{Channel, RemediationStatus, SqliteStore, Store};
use serde_json::Value;

const SCHEMA: &str = include_str!("../deploy/schemas/notification-detail.v1.json");

/// The daemon's `[notifications]`: the test bus, quick retries.
fn notifications() -> String {
    format!(
        "\n[notifications]\nevent_bus = \"{NOTIFICATION_BUS}\"\nretry_backoff_secs = 1\n\
         max_retry_backoff_secs = 2\n"
    )
}

/// Takes whatever reaches `queue` in the next `secs` seconds (long polls all along).
async fn drain(world: &World, queue: &str, events: &mut Vec<Value>, secs: u64) {
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    let within = Duration::from_secs(secs + 5);
    world
        .receive_events(queue, events, within, "the drain", |_| {
            std::time::Instant::now() >= until
        })
        .await;
}

/// Whether an EventBridge event (as routed to SQS) of `detail_type` about `name` is there.
fn has(events: &[Value], detail_type: &str, name: &str) -> bool {
    events
        .iter()
        .any(|e| e["detail-type"] == detail_type && e["detail"]["resource"]["name"] == name)
}

/// Checks every event's envelope and detail against the schema; the detail-types by name.
fn checked(events: &[Value]) -> BTreeMap<String, Vec<String>> {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in events {
        let detail = &e["detail"];
        let problems: Vec<String> = validator
            .iter_errors(detail)
            .map(|err| format!("{} at {}", err, err.instance_path()))
            .collect();
        assert!(problems.is_empty(), "{problems:?} in {e:#}");
        assert_eq!(e["source"], "sagemaker-remediator", "{e:#}");
        let detail_type = e["detail-type"].as_str().unwrap();
        let outcome = detail_type
            .to_lowercase()
            .replace("remediation ", "")
            .replace(' ', "-");
        assert_eq!(detail["outcome"], outcome.as_str(), "{e:#}");
        assert_eq!(e["resources"][0], detail["resource"]["arn"], "{e:#}");
        by_name
            .entry(detail["resource"]["name"].as_str().unwrap().to_string())
            .or_default()
            .push(detail_type.to_string());
    }
    for names in by_name.values_mut() {
        names.sort();
    }
    by_name
}

/// The event ids in the details, each with how often it was received.
fn id_counts(events: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for e in events {
        let id = e["detail"]["event_id"].as_str().unwrap().to_string();
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn every_outcome_reaches_the_bus_once_and_matches_the_schema() {
    let world = World::start(Duration::from_millis(300)).await;
    let queue = world.notification_queue().await;
    let mut daemon = world.daemon("enforce", &notifications(), &[]);
    daemon.wait_ready().await;
    world.notebook("notify-fixed", true).await;
    world.flagged_notebook("notify-flagged").await;
    world
        .put_events(&[
            family_event("securityhub", "notify-fixed"),
            family_event("securityhub", "notify-flagged"),
        ])
        .await;
    let mut events = Vec::new();
    world
        .receive_events(
            &queue,
            &mut events,
            Duration::from_secs(60),
            "fixed and flagged",
            |e| {
                has(e, "Remediation Succeeded", "notify-fixed")
                    && has(e, "Recreation Required", "notify-flagged")
            },
        )
        .await;

    // A fix that fails: UpdateNotebookInstance denied.
    world.sim.simulator.set_faults(Faults {
        access_denied: ["UpdateNotebookInstance".to_string()].into(),
        ..Faults::default()
    });
    world.notebook("notify-denied", true).await;
    world
        .put_events(&[family_event("securityhub", "notify-denied")])
        .await;
    world
        .receive_events(
            &queue,
            &mut events,
            Duration::from_secs(60),
            "the failure",
            |e| has(e, "Remediation Failed", "notify-denied"),
        )
        .await;
    world.sim.simulator.set_faults(Faults::default());
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
    // Whatever else was still on its way.
    drain(&world, &queue, &mut events, 5).await;

    let by_name = checked(&events);
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        by_name["notify-fixed"],
        names(&["Remediation Planned", "Remediation Succeeded"]),
        "{events:#?}"
    );
    assert_eq!(by_name["notify-flagged"], names(&["Recreation Required"]));
    assert_eq!(
        by_name["notify-denied"],
        names(&["Remediation Failed", "Remediation Planned"])
    );
    assert!(id_counts(&events).values().all(|n| *n == 1), "{events:#?}");

    // The link back to the journal names the entry that the outcome is about.
    let journal = world.journal();
    for e in &events {
        let detail = &e["detail"];
        let Some(id) = detail["journal"]["remediation_id"].as_i64() else {
            assert_eq!(e["detail-type"], "Recreation Required", "{e:#}");
            continue;
        };
        let entry = journal.iter().find(|r| r.id == id).unwrap();
        assert_eq!(
            entry.resource.arn,
            detail["resource"]["arn"].as_str().unwrap()
        );
        if e["detail-type"] == "Remediation Failed" {
            assert_eq!(entry.status, RemediationStatus::Failed);
            assert!(
                detail["reason"]
                    .as_str()
                    .unwrap()
                    .contains("UpdateNotebookInstance"),
                "{e:#}"
            );
        }
    }
    let flagged = events
        .iter()
        .find(|e| e["detail-type"] == "Recreation Required")
        .unwrap();
    let controls = &flagged["detail"]["controls"];
    assert_eq!(
        controls,
        &serde_json::json!(["SageMaker.1", "SageMaker.2"]),
        "{flagged:#}"
    );
    assert!(
        flagged["detail"]["plan"]["request"].is_object(),
        "{flagged:#}"
    );
    // A fix carries its change as code too, from the plan to the outcome.
    for e in events.iter().filter(|e| {
        e["detail"]["resource"]["name"] == "notify-fixed"
            || e["detail"]["resource"]["name"] == "notify-denied"
    }) {
        let code = &e["detail"]["plan"]["code"];
        let terraform = code["terraform"]
            .as_str()
            .unwrap_or_else(|| panic!("{e:#}"));
        assert!(
            terraform.contains("root_access = \"Disabled\""),
            "{terraform}"
        );
        let body: hcl::Body = hcl::from_str(terraform).unwrap();
        assert_eq!(body.blocks().count(), 1, "{terraform}");
        assert!(
            code["cli"]
                .as_str()
                .unwrap()
                .contains("update-notebook-instance"),
            "{e:#}"
        );
        assert!(code["cloudformation"]
            .as_str()
            .unwrap()
            .contains("\"RootAccess\": \"Disabled\""));
    }
}

#[cfg(feature = "failpoints")]
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_before_the_send_delivers_each_notice_once_after_the_restart() {
    use sagemaker_remediator::reconcile::CRASH_POINT_VAR;

    let world = World::start(Duration::from_millis(300)).await;
    let queue = world.notification_queue().await;
    let mut first = world.daemon(
        "enforce",
        &notifications(),
        &[(CRASH_POINT_VAR, "PutEvents:before")],
    );
    first.wait_ready().await;
    world.notebook("notify-crash", true).await;
    world
        .put_events(&[family_event("securityhub", "notify-crash")])
        .await;
    first.wait_crashed("PutEvents:before");

    // The notice was committed with the journal step and never sent.
    let waiting: std::collections::BTreeSet<String> =
        SqliteStore::open_existing(&world.store_path())
            .unwrap()
            .outbox_due(Channel::Events, i64::MAX, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.notice.event_id)
            .collect();
    assert!(!waiting.is_empty());
    let mut events = Vec::new();
    drain(&world, &queue, &mut events, 2).await;
    assert!(events.is_empty(), "{events:#?}");

    let mut second = world.daemon("enforce", &notifications(), &[]);
    second.wait_ready().await;
    world
        .receive_events(
            &queue,
            &mut events,
            Duration::from_secs(60),
            "the fix's notices",
            |e| {
                let ids = id_counts(e);
                has(e, "Remediation Succeeded", "notify-crash")
                    && waiting.iter().all(|id| ids.contains_key(id))
            },
        )
        .await;
    assert!(second.terminate().success(), "{}", second.log_text());
    drain(&world, &queue, &mut events, 3).await;
    let ids = id_counts(&events);
    for id in &waiting {
        assert_eq!(ids[id], 1, "{id} delivered once: {events:#?}");
    }
    assert!(ids.values().all(|n| *n == 1), "{events:#?}");
    assert_eq!(
        checked(&events)["notify-crash"],
        ["Remediation Planned", "Remediation Succeeded"]
    );
    let store = SqliteStore::open_existing(&world.store_path()).unwrap();
    assert_eq!(store.outbox_len(Channel::Events).unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bus_failing_half_the_entries_and_throttling_still_gets_every_notice() {
    let world = World::start(Duration::from_millis(300)).await;
    let names = ["half-a", "half-b", "half-c", "half-d"];
    for name in names {
        world.notebook(name, true).await;
    }
    world.sim.simulator.set_faults(Faults {
        failed_entry_share: 0.5,
        throttle_share: 0.2,
        ..Faults::default()
    });
    let endpoint = world.sim.endpoint();
    let mut daemon = world.daemon(
        "enforce",
        &notifications(),
        &[("AWS_ENDPOINT_URL_EVENTBRIDGE", endpoint.as_str())],
    );
    daemon.wait_ready().await;
    let events: Vec<_> = names
        .iter()
        .map(|n| family_event("securityhub", n))
        .collect();
    world.put_events(&events).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let delivered = loop {
        let bus = world.sim.simulator.bus_events();
        let succeeded = bus
            .iter()
            .filter(|e| e["DetailType"] == "Remediation Succeeded")
            .count();
        if succeeded == names.len()
            && daemon.metric("smr_outbox_notices{channel=\"events\"}") == 0.0
        {
            break bus;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not every notice arrived: {bus:#?}\n{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    world.sim.simulator.set_faults(Faults::default());
    let retried = daemon.metric("smr_notifications_total{result=\"retried\"}");
    assert!(daemon.terminate().success(), "{}", daemon.log_text());

    let mut received: Vec<Value> = Vec::new();
    for e in &delivered {
        assert_eq!(e["EventBusName"], NOTIFICATION_BUS);
        assert_eq!(e["Source"], "sagemaker-remediator");
        received.push(serde_json::json!({
            "source": e["Source"],
            "detail-type": e["DetailType"],
            "resources": e["Resources"],
            "detail": serde_json::from_str::<Value>(e["Detail"].as_str().unwrap()).unwrap(),
        }));
    }
    let by_name = checked(&received);
    for name in names {
        assert_eq!(
            by_name[name],
            ["Remediation Planned", "Remediation Succeeded"],
            "{name}"
        );
    }
    assert!(id_counts(&received).values().all(|n| *n == 1));
    assert!(
        retried >= 1.0,
        "half the entries failed, so some were retried"
    );
    let store = SqliteStore::open_existing(&world.store_path()).unwrap();
    assert_eq!(store.outbox_len(Channel::Events).unwrap(), 0);
}

/// The findings of `resource` (name) in the simulator: (control, workflow status, note).
fn findings_of(world: &World, name: &str) -> Vec<(String, String, String)> {
    let suffix = format!("notebook-instance/{name}");
    let mut found: Vec<_> = world
        .sim
        .simulator
        .findings()
        .into_iter()
        .filter(|f| f["Resources"][0]["Id"].as_str().unwrap().ends_with(&suffix))
        .map(|f| {
            (
                f["Compliance"]["SecurityControlId"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                f["Workflow"]["Status"].as_str().unwrap().to_string(),
                f["Note"]["Text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn findings_of_a_fixed_notebook_end_resolved_and_of_a_flagged_one_notified() {
    let world = World::start(Duration::from_millis(300)).await;
    let arn =
        |name: &str| format!("arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/{name}");
    world.notebook("wb-fixed", true).await;
    world.flagged_notebook("wb-flagged").await;
    let sim = &world.sim.simulator;
    sim.add_finding("us-east-1", &arn("wb-fixed"), "SageMaker.3");
    sim.add_finding("us-east-1", &arn("wb-flagged"), "SageMaker.1");
    sim.add_finding("us-east-1", &arn("wb-flagged"), "SageMaker.2");
    // A finding of another control of the fixed notebook is not touched.
    sim.add_finding("us-east-1", &arn("wb-fixed"), "SageMaker.1");
    // Half of the identifiers in each update come back unprocessed at first.
    sim.set_faults(Faults {
        failed_entry_share: 0.5,
        ..Faults::default()
    });
    sim.reset_calls();
    let endpoint = world.sim.endpoint();
    let mut daemon = world.daemon(
        "enforce",
        "\n[findings]\nupdate = true\n\n[notifications]\nretry_backoff_secs = 1\nmax_retry_backoff_secs = 1\n",
        &[("AWS_ENDPOINT_URL_SECURITYHUB", endpoint.as_str())],
    );
    daemon.wait_ready().await;
    world
        .put_events(&[
            family_event("securityhub", "wb-fixed"),
            family_event("securityhub", "wb-flagged"),
        ])
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let fixed = findings_of(&world, "wb-fixed");
        let flagged = findings_of(&world, "wb-flagged");
        let done = fixed
            .iter()
            .any(|f| f.0 == "SageMaker.3" && f.1 == "RESOLVED")
            && flagged.iter().all(|f| f.1 == "NOTIFIED");
        if done && daemon.metric("smr_outbox_notices{channel=\"findings\"}") == 0.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{fixed:?} {flagged:?}\n{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sim.set_faults(Faults::default());
    assert!(daemon.terminate().success(), "{}", daemon.log_text());

    let fixed = findings_of(&world, "wb-fixed");
    assert_eq!(fixed[0].0, "SageMaker.1");
    assert_eq!(fixed[0].1, "NEW", "another control's finding is left alone");
    assert_eq!(fixed[1].1, "RESOLVED");
    let id = world
        .journal()
        .into_iter()
        .find(|r| r.resource.arn.ends_with("/wb-fixed"))
        .unwrap()
        .id;
    assert!(
        fixed[1]
            .2
            .starts_with("Fixed by sagemaker-remediator (notebook-fix)"),
        "{fixed:?}"
    );
    assert!(
        fixed[1].2.contains(&format!("remediation #{id}")),
        "{fixed:?}"
    );
    for f in findings_of(&world, "wb-flagged") {
        assert_eq!(f.1, "NOTIFIED");
        assert!(
            f.2.contains("a recreation plan is in the journal."),
            "{f:?}"
        );
    }
    let calls = world.sim.simulator.calls();
    // One update per resource, plus one per attempt that left an identifier unprocessed: with
    // every second identifier failing, one or two more (the order of the two decides).
    let updates = calls.succeeded("BatchUpdateFindings");
    assert!((3..=4).contains(&updates), "{calls:?}");
    assert!(calls.succeeded("GetFindings") >= 2, "{calls:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn findings_of_exempt_controls_end_suppressed_once_with_the_reason() {
    let world = World::start(Duration::from_millis(300)).await;
    let arn =
        |name: &str| format!("arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/{name}");
    world.notebook("wb-tag-exempt", true).await;
    world.notebook("wb-conf-exempt", true).await;
    world
        .sagemaker
        .add_tags()
        .resource_arn(arn("wb-tag-exempt"))
        .tags(
            aws_sdk_sagemaker::types::Tag::builder()
                .key("sagemaker-remediator:exempt")
                .value("TICKET-9")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let sim = &world.sim.simulator;
    sim.add_finding("us-east-1", &arn("wb-tag-exempt"), "SageMaker.3");
    sim.add_finding("us-east-1", &arn("wb-conf-exempt"), "SageMaker.3");
    sim.reset_calls();
    let endpoint = world.sim.endpoint();
    let extra = format!(
        "\n[findings]\nupdate = true\nsuppress_exempt = true\n\n[notifications]\n\
         retry_backoff_secs = 1\n\n[[exemptions]]\narn = \"{}\"\ncontrols = [\"SageMaker.3\"]\n\
         reason = \"the pilot needs root (TICKET-10)\"\nexpires = \"2999-12-31\"\n",
        arn("wb-conf-exempt")
    );
    let mut daemon = world.daemon(
        "enforce",
        &extra,
        &[("AWS_ENDPOINT_URL_SECURITYHUB", endpoint.as_str())],
    );
    daemon.wait_ready().await;
    let events = [
        family_event("securityhub", "wb-tag-exempt"),
        family_event("securityhub", "wb-conf-exempt"),
    ];
    world.put_events(&events).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let suppressed = |name: &str| {
        findings_of(&world, name)
            .into_iter()
            .find(|f| f.1 == "SUPPRESSED")
    };
    let (by_tag, by_config) = loop {
        if let (Some(a), Some(b)) = (suppressed("wb-tag-exempt"), suppressed("wb-conf-exempt")) {
            break (a, b);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{:?} {:?}\n{}",
            findings_of(&world, "wb-tag-exempt"),
            findings_of(&world, "wb-conf-exempt"),
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        by_tag.2.starts_with(
            "Exempt: the resource carries the tag `sagemaker-remediator:exempt` = `TICKET-9`."
        ),
        "{by_tag:?}"
    );
    assert!(
        by_config.2.starts_with(
            "Exempt from SageMaker.3 in sagemaker-remediator's configuration until 2999-12-31"
        ) && by_config.2.contains("the pilot needs root (TICKET-10)"),
        "{by_config:?}"
    );
    // More triggers ask nothing more of Security Hub, and nothing is changed in SageMaker.
    world.put_events(&events).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls = sim.calls();
    assert_eq!(calls.succeeded("BatchUpdateFindings"), 2, "{calls:?}");
    assert_eq!(calls.succeeded("GetFindings"), 2, "{calls:?}");
    for op in ["StopNotebookInstance", "UpdateNotebookInstance", "AddTags"] {
        assert_eq!(calls.received(op), 0, "{op}: {calls:?}");
    }
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}
