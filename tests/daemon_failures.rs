//! End-to-end tests of how the daemon behaves when a fix fails, when a person gets in its way,
//! when it is stopped mid-call, when AWS throttles it, and when its ops port is flooded: the
//! real process, the real SDK, moto's EventBridge and SQS, the SageMaker simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::daemon::{family_event, World};
use sagemaker_remediator::sim::Faults;
use sagemaker_remediator::store::{Remediation, RemediationStatus};
use serde_json::{json, Value};

const STOP: &str = "StopNotebookInstance";
const UPDATE: &str = "UpdateNotebookInstance";
const START: &str = "StartNotebookInstance";

/// Publishes a `SageMaker Notebook Instance State Change` event for every status change of the
/// watched notebooks, as SageMaker does, so the daemon's own Stop and Start come back to it
/// through EventBridge and SQS. Stops when dropped.
struct StateEvents {
    running: Arc<AtomicBool>,
}

impl StateEvents {
    fn start(world: &World, names: &[&'static str]) -> StateEvents {
        let running = Arc::new(AtomicBool::new(true));
        let flag = running.clone();
        let sagemaker = world.sagemaker.clone();
        let events = world.events.clone();
        let names: Vec<&'static str> = names.to_vec();
        tokio::spawn(async move {
            let mut last: HashMap<&str, String> = HashMap::new();
            while flag.load(Ordering::Relaxed) {
                for name in &names {
                    let Ok(out) = sagemaker
                        .describe_notebook_instance()
                        .notebook_instance_name(*name)
                        .send()
                        .await
                    else {
                        continue;
                    };
                    let status = out
                        .notebook_instance_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default();
                    if last.get(name) == Some(&status) {
                        continue;
                    }
                    last.insert(name, status.clone());
                    let (source, detail_type, mut detail) = family_event("sagemaker", name);
                    detail["NotebookInstanceStatus"] = json!(status);
                    detail["RootAccess"] = json!(out.root_access().map(|r| r.as_str()));
                    let _ = events
                        .put_events()
                        .entries(
                            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                                .source(source)
                                .detail_type(detail_type)
                                .detail(detail.to_string())
                                .build(),
                        )
                        .send()
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        });
        StateEvents { running }
    }
}

impl Drop for StateEvents {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
    }
}

fn for_notebook<'j>(journal: &'j [Remediation], name: &str) -> Vec<&'j Remediation> {
    let suffix = format!("notebook-instance/{}", name.to_lowercase());
    journal
        .iter()
        .filter(|r| r.kind == "notebook-fix" && r.resource.arn.ends_with(&suffix))
        .collect()
}

fn step_at(r: &Remediation, step: &str, phase: &str) -> Option<i64> {
    r.steps
        .iter()
        .find(|s| s.step == step && s.phase == phase)
        .map(|s| s.at)
}

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_update_is_tried_once_then_held_until_someone_changes_the_notebook() {
    let world = World::start(Duration::from_millis(300)).await;
    let names = ["denied-a", "denied-b"];
    for name in names {
        world.notebook(name, true).await;
    }
    // An SCP denying sagemaker:RootAccess changes.
    world.sim.simulator.set_faults(Faults {
        access_denied: BTreeSet::from([UPDATE.to_string()]),
        ..Faults::default()
    });
    world.sim.simulator.reset_calls();
    let _events = StateEvents::start(&world, &names);
    let started = Instant::now();
    let mut daemon = world.daemon("enforce", "", &[("SMR_DAEMON__SWEEP_INTERVAL_SECS", "2")]);
    daemon.wait_ready().await;
    world
        .wait_journal(Duration::from_secs(60), "two failed fixes", |j| {
            j.iter()
                .filter(|r| r.kind == "notebook-fix" && r.status == RemediationStatus::Failed)
                .count()
                == 2
        })
        .await;
    // Sweeps every 2 s and the notebooks' own state events keep coming for the rest of a
    // minute: none of them may start the failed fix again.
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(started.elapsed())).await;
    let calls = world.sim.simulator.calls();
    for op in [STOP, UPDATE, START] {
        assert_eq!(calls.received(op), 2, "{op} once per notebook: {calls:?}");
    }
    assert!(
        daemon.metric("smr_events_received_total{family=\"sagemaker\",outcome=\"triggered\"}")
            >= 8.0,
        "the state events reached the daemon: {}",
        daemon.get("/metrics").unwrap().1
    );
    assert!(
        daemon.metric("smr_remediations_held_total{reason=\"needs-person\"}") >= 4.0,
        "{}\n{}",
        daemon.get("/metrics").unwrap().1,
        daemon.log_text()
    );
    let journal = world.journal();
    for name in names {
        assert_eq!(
            world.describe(name).await,
            ("InService".to_string(), "Enabled".to_string()),
            "{name} is running again"
        );
        let fixes = for_notebook(&journal, name);
        assert_eq!(fixes.len(), 1, "{name}: {fixes:#?}");
        assert!(
            fixes[0].outcome.as_deref().unwrap().contains("denied"),
            "{fixes:#?}"
        );
    }

    // The failure, why, and when it is tried again, while the daemon runs.
    let table = world.cli(&["remediations"]);
    assert!(table.status.success(), "{table:?}");
    let text = String::from_utf8_lossy(&table.stdout);
    println!("{text}");
    assert!(text.contains("Held after a failure (2)"), "{text}");
    assert!(text.contains("UpdateNotebookInstance denied"), "{text}");
    assert!(
        text.contains("needs a person: not tried again until the resource or the plan changes"),
        "{text}"
    );
    let held: Vec<Value> = json_lines(&world.cli(&["remediations", "--format", "json"]))
        .into_iter()
        .filter_map(|v| v.get("failure").cloned())
        .collect();
    assert_eq!(held.len(), 2, "{held:#?}");
    for f in &held {
        assert_eq!(f["hold"]["state"], "needs-person", "{f}");
        assert_eq!(f["failures"], 1, "{f}");
        assert!(
            f["next_attempt"].as_str().unwrap().contains("changes"),
            "{f}"
        );
    }

    // Someone lifts the SCP, stops the notebook and changes it: it is judged again, and fixed
    // (it stays stopped, as its owner left it).
    world.sim.simulator.set_faults(Faults::default());
    world
        .sagemaker
        .stop_notebook_instance()
        .notebook_instance_name("denied-a")
        .send()
        .await
        .unwrap();
    world
        .wait_status("denied-a", "Stopped", Duration::from_secs(10))
        .await;
    world
        .sagemaker
        .update_notebook_instance()
        .notebook_instance_name("denied-a")
        .volume_size_in_gb(10)
        .send()
        .await
        .unwrap();
    let before = world.sim.simulator.calls();
    let journal = world
        .wait_journal(Duration::from_secs(30), "the changed notebook fixed", |j| {
            for_notebook(j, "denied-a")
                .iter()
                .any(|r| r.status == RemediationStatus::Succeeded)
        })
        .await;
    assert_eq!(for_notebook(&journal, "denied-a").len(), 2);
    world
        .wait_status("denied-a", "Stopped", Duration::from_secs(10))
        .await;
    assert_eq!(world.describe("denied-a").await.1, "Disabled");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = world.sim.simulator.calls();
    assert_eq!(
        after.received(STOP),
        before.received(STOP),
        "not stopped by us"
    );
    assert_eq!(
        after.received(START),
        before.received(START),
        "left stopped"
    );
    // The unchanged one is still held.
    assert_eq!(for_notebook(&world.journal(), "denied-b").len(), 1);
    let held = world.cli(&["remediations", "--format", "json"]);
    let held: Vec<String> = json_lines(&held)
        .into_iter()
        .filter_map(|v| v["failure"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(held, ["denied-b"], "the fixed one is forgotten");
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_starting_the_notebook_after_our_stop_wins_and_is_not_stopped_again() {
    let world = World::start(Duration::from_millis(300)).await;
    // A slow poll, so that the person's Start comes between two of the daemon's looks.
    let mut daemon = world.daemon(
        "enforce",
        "",
        &[
            ("SMR_REMEDIATION__POLL_INTERVAL_SECS", "3"),
            ("SMR_REMEDIATION__MAX_POLL_INTERVAL_SECS", "3"),
            ("SMR_DAEMON__SWEEP_INTERVAL_SECS", "2"),
        ],
    );
    daemon.wait_ready().await;
    world.notebook("busy-notebook", true).await;
    world.sim.simulator.reset_calls();
    world
        .put_events(&[family_event("securityhub", "busy-notebook")])
        .await;
    // The person notices the notebook going down and starts it again at once.
    world
        .wait_status("busy-notebook", "Stopped", Duration::from_secs(30))
        .await;
    world
        .sagemaker
        .start_notebook_instance()
        .notebook_instance_name("busy-notebook")
        .send()
        .await
        .unwrap();
    let journal = world
        .wait_journal(Duration::from_secs(30), "the fix given up", |j| {
            for_notebook(j, "busy-notebook")
                .iter()
                .any(|r| r.status == RemediationStatus::Abandoned)
        })
        .await;
    let fix = for_notebook(&journal, "busy-notebook")[0];
    assert!(
        fix.outcome
            .as_deref()
            .unwrap()
            .contains("interrupted by a start we did not make"),
        "{fix:#?}"
    );
    // Sweeps every 2 s for a while: the notebook is never stopped again.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let calls = world.sim.simulator.calls();
    assert_eq!(calls.received(STOP), 1, "no second Stop: {calls:?}");
    assert_eq!(calls.received(UPDATE), 0, "{calls:?}");
    assert_eq!(
        calls.received(START),
        1,
        "only the person's Start: {calls:?}"
    );
    assert_eq!(
        world.describe("busy-notebook").await,
        ("InService".to_string(), "Enabled".to_string())
    );
    assert_eq!(for_notebook(&world.journal(), "busy-notebook").len(), 1);
    let table = world.cli(&["remediations"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("quiet until"), "{text}");
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

/// Waits until the fix of `name` journals a `Resume` step; returns how long that took.
async fn time_to_resume(world: &World, name: &str, from: Instant) -> Duration {
    world
        .wait_journal(Duration::from_secs(90), "the resumed fix", |j| {
            for_notebook(j, name)
                .iter()
                .any(|r| step_at(r, "Resume", "observed").is_some())
        })
        .await;
    from.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fix_cut_off_by_shutdown_or_a_kill_resumes_at_once_after_a_restart() {
    let world = World::start(Duration::from_millis(700)).await;
    // A long claim: waiting it out would take a minute.
    let env = [
        ("SMR_DAEMON__CLAIM_TTL_SECS", "60"),
        ("SMR_DAEMON__SHUTDOWN_GRACE_SECS", "1"),
    ];
    for (name, how) in [("cut-by-sigterm", "TERM"), ("cut-by-sigkill", "KILL")] {
        let mut first = world.daemon("enforce", "", &env);
        first.wait_ready().await;
        world.notebook(name, true).await;
        world.sim.simulator.reset_calls();
        world.put_events(&[family_event("securityhub", name)]).await;
        world
            .wait_journal(Duration::from_secs(60), "the Stop", |j| {
                for_notebook(j, name)
                    .iter()
                    .any(|r| step_at(r, STOP, "done").is_some())
            })
            .await;
        // Every call now takes 4 s: the next Describe (after the 1 s poll) is in flight past
        // the 1 s grace.
        world.sim.simulator.set_faults(Faults {
            latency: Duration::from_secs(4),
            ..Faults::default()
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        if how == "TERM" {
            let status = first.terminate();
            assert!(status.success(), "{}", first.log_text());
            assert!(
                first.log_text().contains("shutdown_grace_exceeded"),
                "{}",
                first.log_text()
            );
        } else {
            first.kill();
        }
        drop(first);
        world.sim.simulator.set_faults(Faults::default());

        let restarted = Instant::now();
        let mut second = world.daemon("enforce", "", &env);
        let waited = time_to_resume(&world, name, restarted).await;
        assert!(
            waited <= Duration::from_secs(5),
            "{name}: resumed {waited:?} after the restart\n{}",
            second.log_text()
        );
        second.wait_ready().await;
        let journal = world
            .wait_journal(Duration::from_secs(60), "the fix done", |j| {
                for_notebook(j, name)
                    .iter()
                    .any(|r| r.status == RemediationStatus::Succeeded)
            })
            .await;
        assert_eq!(for_notebook(&journal, name).len(), 1, "{name}: one fix");
        assert_eq!(
            world.describe(name).await,
            ("InService".to_string(), "Disabled".to_string())
        );
        let calls = world.sim.simulator.calls();
        for op in [STOP, UPDATE, START] {
            assert_eq!(
                calls.received(op),
                1,
                "{name}: {op} exactly once: {calls:?}"
            );
        }
        if how == "KILL" {
            assert!(
                second.log_text().contains("claim_taken_over"),
                "{}",
                second.log_text()
            );
        }
        assert!(second.terminate().success(), "{}", second.log_text());
    }
}

/// A second `run` on the journal file of a running daemon (a rolling deploy on one volume, a
/// second `run` by hand) is refused with the holder named; the first daemon keeps fixing.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_daemon_on_the_same_journal_is_refused_and_the_first_keeps_working() {
    let world = World::start(Duration::from_millis(700)).await;
    let mut first = world.daemon("enforce", "", &[]);
    first.wait_ready().await;
    let mut second = world.daemon("enforce", "", &[]);
    let status = second.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{}", second.log_text());
    let said = second.log_text();
    assert!(
        said.contains("another daemon works on the journal"),
        "{said}"
    );
    assert!(
        said.contains(&format!("the daemon with pid {} on host", first.pid())),
        "{said}"
    );
    drop(second);

    world.notebook("still-fixed", true).await;
    world.sim.simulator.reset_calls();
    world
        .put_events(&[family_event("securityhub", "still-fixed")])
        .await;
    world
        .wait_journal(Duration::from_secs(60), "the fix by the first", |j| {
            for_notebook(j, "still-fixed")
                .iter()
                .any(|r| r.status == RemediationStatus::Succeeded)
        })
        .await;
    let calls = world.sim.simulator.calls();
    assert_eq!(calls.received(STOP), 1, "{calls:?}");
    // Reading the journal takes no lock.
    let out = world.cli(&["remediations"]);
    assert!(out.status.success(), "{out:?}");
    assert!(first.terminate().success(), "{}", first.log_text());
    // Once the first is gone, a new daemon takes the journal.
    let mut third = world.daemon("enforce", "", &[]);
    third.wait_ready().await;
    assert!(third.terminate().success(), "{}", third.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_while_a_fix_waits_does_not_keep_the_notebook_stopped() {
    let world = World::start(Duration::from_millis(500)).await;
    // A long error backoff (60 s doubling to 15 min): a throttled wait that counted as a failed
    // reconcile would keep a notebook stopped for at least that long.
    let mut daemon = world.daemon(
        "enforce",
        "",
        &[
            ("SMR_DAEMON__ERROR_BACKOFF_SECS", "60"),
            ("SMR_DAEMON__MAX_ERROR_BACKOFF_SECS", "900"),
        ],
    );
    daemon.wait_ready().await;
    let names = ["throttle-1", "throttle-2", "throttle-3"];
    for name in names {
        world.notebook(name, true).await;
    }
    let events: Vec<_> = names
        .iter()
        .map(|n| family_event("securityhub", n))
        .collect();
    world.put_events(&events).await;
    world
        .wait_journal(Duration::from_secs(60), "three Stops", |j| {
            names.iter().all(|n| {
                for_notebook(j, n)
                    .iter()
                    .any(|r| step_at(r, STOP, "done").is_some())
            })
        })
        .await;
    world.sim.simulator.set_faults(Faults {
        throttle_share: 0.6,
        ..Faults::default()
    });
    let journal = world
        .wait_journal(Duration::from_secs(120), "three fixes", |j| {
            names.iter().all(|n| {
                for_notebook(j, n)
                    .iter()
                    .any(|r| r.status == RemediationStatus::Succeeded)
            })
        })
        .await;
    world.sim.simulator.set_faults(Faults::default());
    let calls = world.sim.simulator.calls();
    assert!(
        calls.total_received() > calls.total_succeeded(),
        "{calls:?}"
    );
    // Stop done -> observed InService again: three transitions of 0.5 s, polls of 1 s, and
    // under 60 % throttling the SDK's own retries (3 attempts with jittered exponential
    // backoff, a few seconds per call at worst). Measured: 4-21 s on a loaded 2-core machine;
    // the error backoff alone would be 60 s.
    let bound = Duration::from_secs(40);
    for name in names {
        let fix = for_notebook(&journal, name)[0];
        let stopped = step_at(fix, STOP, "done").unwrap();
        let finished = step_at(fix, "Finish", "done").unwrap();
        let down = Duration::from_millis((finished - stopped) as u64);
        println!("{name}: down for {down:?}");
        assert!(down <= bound, "{name} was down {down:?}: {fix:#?}");
        assert_eq!(
            world.describe(name).await,
            ("InService".to_string(), "Disabled".to_string())
        );
    }
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

/// GET /healthz on a fresh connection; the status code, or None after `within`.
fn healthz(port: u16, within: Duration) -> Option<u16> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, within).ok()?;
    s.set_read_timeout(Some(within)).ok()?;
    s.set_write_timeout(Some(within)).ok()?;
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_answers_within_a_second_under_two_thousand_idle_connections() {
    let world = World::start(Duration::from_millis(300)).await;
    // The daemon starts with the soft open-file limit most systems give a process.
    let mut daemon = world.daemon_via(
        &["bash", "-c", "ulimit -Sn 1024 && exec \"$0\" \"$@\""],
        "audit",
        "",
        &[],
    );
    daemon.wait_ready().await;
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let mut idle = Vec::new();
    for _ in 0..2000 {
        idle.push(TcpStream::connect(("127.0.0.1", daemon.port)).unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..5 {
        let asked = Instant::now();
        let code = healthz(daemon.port, Duration::from_secs(1));
        assert_eq!(
            code,
            Some(200),
            "after {:?}\n{}",
            asked.elapsed(),
            daemon.log_text()
        );
        assert!(asked.elapsed() < Duration::from_secs(1));
    }
    drop(idle);
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

#[test]
fn the_cli_says_what_is_wrong_with_the_store_once_and_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here.db");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[daemon]\nstore_path = \"{}\"\n", missing.display()),
    )
    .unwrap();
    let cli = |args: &[&str]| {
        common::cli("http://127.0.0.1:9")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap()
    };
    // A journal that does not exist is an error naming it, and is not created.
    let out = cli(&["remediations"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = common::stderr(&out);
    assert!(
        err.contains("nothing-here.db") && err.contains("does not exist"),
        "{err}"
    );
    assert!(!missing.exists());
    // --limit 0 would hide everything: refused.
    let out = cli(&["remediations", "--limit", "0"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(common::stderr(&out).contains("--limit"), "{out:?}");

    // A store directory that does not exist: validate-config and run say so, once.
    let nowhere = dir.path().join("no/such/dir/journal.db");
    std::fs::write(
        &config,
        format!("[daemon]\nstore_path = \"{}\"\n", nowhere.display()),
    )
    .unwrap();
    let out = cli(&["validate-config"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = common::stderr(&out);
    assert!(
        err.contains("daemon.store_path") && err.contains("does not exist"),
        "{err}"
    );
    let out = cli(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = common::stderr(&out);
    assert_eq!(err.matches("no/such/dir").count(), 1, "said once: {err}");

    // A store that cannot be opened (a directory where the file should be): said once.
    std::fs::create_dir_all(dir.path().join("a-directory.db")).unwrap();
    std::fs::write(
        &config,
        format!(
            "[daemon]\nstore_path = \"{}\"\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("a-directory.db").display()
        ),
    )
    .unwrap();
    let out = cli(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = common::stderr(&out);
    assert_eq!(err.matches("a-directory.db").count(), 1, "said once: {err}");
    assert!(
        !err.contains("\u{1b}["),
        "no colour codes off a terminal: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_written_to_a_file_carry_no_colour_codes() {
    let world = World::start(Duration::from_millis(300)).await;
    let mut daemon = world.daemon("audit", "", &[]);
    daemon.wait_ready().await;
    assert!(daemon.terminate().success());
    let log = daemon.log_text();
    assert!(log.contains("listening"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_is_its_own_container_health_check() {
    let world = World::start(Duration::from_millis(200)).await;
    let mut daemon = world.daemon("audit", "", &[]);
    daemon.wait_ready().await;
    for args in [&["healthcheck"][..], &["healthcheck", "--ready"]] {
        let out = world.cli(args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(": 200"));
    }
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
    let out = world.cli(&["healthcheck", "--timeout-secs", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("unhealthy: connecting to 127.0.0.1:"),
        "{err}"
    );
}
