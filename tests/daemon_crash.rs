//! Crash tests: the daemon is killed at each step boundary of a notebook fix (an abort at the
//! exact journal point, as SIGKILL would leave it) and while it waits (a real SIGKILL), then
//! restarted. Every fix must complete, restore the prior status, and make each mutating call
//! exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::daemon::{family_event, World};
use sagemaker_remediator::reconcile::CRASH_POINT_VAR;
use sagemaker_remediator::store::RemediationStatus;

const MUTATING: [&str; 3] = [
    "StopNotebookInstance",
    "UpdateNotebookInstance",
    "StartNotebookInstance",
];

/// How to interrupt the first daemon.
enum Crash {
    /// Abort right after this journal point (`STEP:PHASE`).
    At(&'static str),
    /// SIGKILL once this step is journaled as done, while the daemon waits for the status.
    KillAfter(&'static str),
}

async fn crash_and_recover(world: &World, name: &'static str, crash: Crash) {
    let arn_suffix = format!("notebook-instance/{name}");
    let env: Vec<(&str, &str)> = match &crash {
        Crash::At(point) => vec![(CRASH_POINT_VAR, *point)],
        Crash::KillAfter(_) => vec![],
    };
    let mut first = world.daemon("enforce", "", &env);
    first.wait_ready().await;
    // Created after the start-up sweep, so the event is what starts the fix.
    world.notebook(name, true).await;
    world.sim.simulator.reset_calls();
    world.put_events(&[family_event("securityhub", name)]).await;
    match crash {
        Crash::At(point) => first.wait_crashed(point),
        Crash::KillAfter(step) => {
            world
                .wait_journal(Duration::from_secs(60), step, |j| {
                    j.iter().any(|r| {
                        r.resource.arn.ends_with(&arn_suffix)
                            && r.steps.iter().any(|s| s.step == step && s.phase == "done")
                    })
                })
                .await;
            first.kill();
        }
    }
    drop(first);

    let mut second = world.daemon("enforce", "", &[]);
    second.wait_ready().await;
    let journal = world
        .wait_journal(Duration::from_secs(90), "the resumed fix", |j| {
            j.iter().any(|r| {
                r.resource.arn.ends_with(&arn_suffix) && r.status == RemediationStatus::Succeeded
            })
        })
        .await;
    assert!(second.terminate().success(), "{}", second.log_text());

    let fixes: Vec<_> = journal
        .iter()
        .filter(|r| r.resource.arn.ends_with(&arn_suffix))
        .collect();
    assert_eq!(fixes.len(), 1, "one remediation, resumed: {fixes:#?}");
    assert_eq!(fixes[0].outcome.as_deref(), Some("fixed"), "{fixes:#?}");
    assert_eq!(
        world.describe(name).await,
        ("InService".to_string(), "Disabled".to_string()),
        "the prior status is restored"
    );
    let calls = world.sim.simulator.calls();
    for op in MUTATING {
        assert_eq!(
            calls.received(op),
            1,
            "{name}: {op} exactly once: {calls:?}"
        );
        assert_eq!(calls.succeeded(op), 1, "{name}: {op}: {calls:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fix_completes_after_a_crash_at_each_step_boundary() {
    let world = World::start(Duration::from_millis(700)).await;
    let cases: [(&'static str, &'static str); 6] = [
        ("crash-stop-intent", "StopNotebookInstance:intent"),
        ("crash-stop-done", "StopNotebookInstance:done"),
        ("crash-update-intent", "UpdateNotebookInstance:intent"),
        ("crash-update-done", "UpdateNotebookInstance:done"),
        ("crash-start-intent", "StartNotebookInstance:intent"),
        ("crash-start-done", "StartNotebookInstance:done"),
    ];
    for (name, point) in cases {
        crash_and_recover(&world, name, Crash::At(point)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fix_completes_after_a_sigkill_mid_wait() {
    let world = World::start(Duration::from_millis(1500)).await;
    for (name, step) in [
        ("kill-while-stopping", "StopNotebookInstance"),
        ("kill-while-updating", "UpdateNotebookInstance"),
        ("kill-while-starting", "StartNotebookInstance"),
    ] {
        crash_and_recover(&world, name, Crash::KillAfter(step)).await;
    }
}
