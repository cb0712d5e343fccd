//! Several daemons on one SQS queue and one DynamoDB table (both in moto), with the simulator
//! as SageMaker: they share the work and never act twice, and a replica killed mid-fix is
//! taken over by another, which resumes the fix from the journal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::daemon::{family_event, World};
use sagemaker_remediator::demo;
use sagemaker_remediator::store::{Remediation, RemediationStatus};

const MUTATING: [&str; 3] = [
    "StopNotebookInstance",
    "UpdateNotebookInstance",
    "StartNotebookInstance",
];

/// Creates `count` running notebooks with root access on (SageMaker.3 fails), all at once.
async fn notebooks(world: &World, prefix: &str, count: usize) -> Vec<&'static str> {
    let names: Vec<&'static str> = (0..count)
        .map(|i| &*Box::leak(format!("{prefix}-{i:02}").into_boxed_str()))
        .collect();
    for name in &names {
        demo::seed_notebook(
            &world.sagemaker,
            &demo::SeedNotebook {
                name,
                direct_internet_access: false,
                in_vpc: true,
                root_access: true,
                platform: None,
            },
        )
        .await
        .unwrap();
    }
    for name in &names {
        world
            .wait_status(name, "InService", Duration::from_secs(60))
            .await;
    }
    names
}

fn fixes_of<'a>(journal: &'a [Remediation], name: &str) -> Vec<&'a Remediation> {
    let suffix = format!("notebook-instance/{name}");
    journal
        .iter()
        .filter(|r| r.resource.arn.ends_with(&suffix))
        .collect()
}

fn all_fixed(journal: &[Remediation], names: &[&str]) -> bool {
    names.iter().all(|name| {
        fixes_of(journal, name)
            .iter()
            .any(|r| r.status == RemediationStatus::Succeeded)
    })
}

/// Every notebook was fixed by one remediation, with one successful Stop, Update and Start
/// (as the simulator counted them), and ends as it was: running, root access off.
async fn assert_fixed_once(world: &World, journal: &[Remediation], names: &[&str]) {
    let calls = world.sim.simulator.calls();
    for name in names {
        let fixes = fixes_of(journal, name);
        assert_eq!(fixes.len(), 1, "{name}: one remediation: {fixes:#?}");
        assert_eq!(fixes[0].outcome.as_deref(), Some("fixed"), "{fixes:#?}");
        for op in MUTATING {
            assert_eq!(
                calls.succeeded_on(op, name),
                1,
                "{name}: {op} once: {calls:#?}"
            );
        }
        assert_eq!(
            world.describe(name).await,
            ("InService".to_string(), "Disabled".to_string()),
            "{name}"
        );
    }
    for op in MUTATING {
        assert_eq!(calls.succeeded(op), names.len() as u64, "{op}: {calls:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_a_thousand_events_and_act_once_per_notebook() {
    let world = World::start(Duration::from_millis(300)).await.with_table();
    let mut replicas: Vec<_> = (0..3).map(|n| world.replica(n, "", &[])).collect();
    for r in &mut replicas {
        r.wait_ready().await;
    }
    let names = notebooks(&world, "shared", 50).await;
    world.sim.simulator.reset_calls();

    // 20 events per notebook, of all four families, interleaved.
    let families = ["securityhub", "config", "cloudtrail", "sagemaker"];
    let events: Vec<_> = (0..20)
        .flat_map(|round| {
            names
                .iter()
                .map(move |name| family_event(families[round % families.len()], name))
        })
        .collect();
    assert_eq!(events.len(), 1_000);
    let started = Instant::now();
    world.put_events(&events).await;
    let journal = world
        .wait_journal(Duration::from_secs(240), "50 fixes", |j| {
            all_fixed(j, &names)
        })
        .await;
    eprintln!(
        "50 notebooks fixed by 3 replicas in {:?}",
        started.elapsed()
    );

    // Let the rest of the events be read: they must not start anything again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let journal_after = world.journal();
    assert_eq!(
        journal_after.len(),
        journal.len(),
        "no remediation after the fixes"
    );
    assert_fixed_once(&world, &journal_after, &names).await;

    let mut working = 0;
    for r in &mut replicas {
        let log = r.log_text();
        assert!(!log.contains("panicked"), "{log}");
        let (_, metrics) = r.get("/metrics").unwrap();
        let fixed: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("smr_remediations_total{") && l.contains("fixed"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if fixed > 0.0 {
            working += 1;
        }
        assert!(r.terminate().success(), "{}", r.log_text());
    }
    assert!(
        working >= 2,
        "the work was shared: {working} replica(s) fixed notebooks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_fix_is_taken_over_by_another_without_repeating_a_call() {
    // Transitions of 3 s: a fix waits for Stopped, then for InService, long enough to kill it.
    let world = World::start(Duration::from_secs(3)).await.with_table();
    let mut first = world.replica(0, "", &[]);
    first.wait_ready().await;
    let names = notebooks(&world, "orphan", 6).await;
    world.sim.simulator.reset_calls();
    let events: Vec<_> = names
        .iter()
        .map(|n| family_event("securityhub", n))
        .collect();
    world.put_events(&events).await;

    // Every notebook was stopped, and the fixes wait for them to stop.
    world
        .wait_journal(Duration::from_secs(60), "every stop journaled", |j| {
            names.iter().all(|name| {
                fixes_of(j, name).iter().any(|r| {
                    r.status == RemediationStatus::Running
                        && r.steps
                            .iter()
                            .any(|s| s.step == "StopNotebookInstance" && s.phase == "done")
                })
            })
        })
        .await;
    let pid = first.pid().to_string();
    // A waiting fix holds no claim: the journal names the replica that left it waiting.
    let held: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| {
            let arn = format!("arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/{name}");
            let running = world.store().unfinished_for(&arn).unwrap();
            running.is_some_and(|r| {
                let owner = r.state["waiting"]["owner"].as_str().unwrap_or("");
                owner.split(':').nth(1) == Some(pid.as_str())
            })
        })
        .collect();
    assert_eq!(
        held, names,
        "the first replica, alone so far, left every fix waiting"
    );
    // A second replica joins, and the first dies mid-fix. (Had the second run from the start,
    // which fixes the first left waiting would be chance: any replica takes the next look.)
    let mut second = world.replica(1, "", &[]);
    second.wait_ready().await;
    first.kill();

    // The second replica takes the first one's fixes over from the table.
    let journal = world
        .wait_journal(Duration::from_secs(120), "the fixes resumed", |j| {
            all_fixed(j, &names)
        })
        .await;
    assert_fixed_once(&world, &journal, &names).await;
    for name in &held {
        let fix = fixes_of(&journal, name)[0];
        assert!(
            fix.steps
                .iter()
                .any(|s| s.step == "Resume" && s.detail.contains("taken over from")),
            "{name}: continued by the other replica from the journal: {:#?}",
            fix.steps
        );
    }
    assert!(second.terminate().success(), "{}", second.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_or_the_queue_gone_mid_run_stops_nothing_and_the_daemon_recovers() {
    let world = World::start(Duration::from_millis(200)).await.with_table();
    let mut daemon = world.replica(0, "", &[]);
    daemon.wait_ready().await;
    let dynamodb =
        aws_sdk_dynamodb::Client::new(&demo::emulator_sdk_config(&world.moto.endpoint).await);
    dynamodb
        .delete_table()
        .table_name(world.table.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    daemon
        .wait_log("store_unavailable", 1, Duration::from_secs(30))
        .await;
    assert_eq!(daemon.get("/healthz").map(|(code, _)| code), Some(200));

    // The table back (as after a restore): the daemon carries on, and an event gets a fix.
    let out = world.cli(&["store", "init"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    world.notebook("after-restore", true).await;
    world
        .put_events(&[family_event("securityhub", "after-restore")])
        .await;
    world
        .wait_journal(Duration::from_secs(90), "the fix after the restore", |j| {
            all_fixed(j, &["after-restore"])
        })
        .await;
    assert!(
        daemon.log_text().contains("store_recovered"),
        "{}",
        daemon.log_text()
    );

    // The queue deleted: the intake backs off and says so; the daemon stays up.
    world
        .sqs
        .delete_queue()
        .queue_url(&world.queue_url)
        .send()
        .await
        .unwrap();
    daemon
        .wait_log("sqs_receive_failed", 1, Duration::from_secs(60))
        .await;
    assert_eq!(daemon.get("/healthz").map(|(code, _)| code), Some(200));
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}
