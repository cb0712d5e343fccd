//! Waiting fixes benchmark, printing figures (no harness). Run with `cargo bench --bench waits`.
//!
//! 1,000 notebooks (BENCH_FIXES) with root access on, in a simulator process whose every
//! transition takes 30 s (BENCH_TRANSITION_SECS), fixed by `daemon::serve` in enforce mode
//! from its start-up sweep, with the default `daemon.reconcile_concurrency` (8). A fix waits
//! for three transitions (Stopping, Updating, Pending), so the floor is three transitions
//! (90 s): the fixes must wait together, not eight at a time. Reports the wall time against
//! that floor, this process's peak RSS (the daemon; the simulator is another process), and
//! the SageMaker calls per fix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use sagemaker_remediator::config::Config;
use sagemaker_remediator::demo::{self, SeedNotebook};
use sagemaker_remediator::store::{RemediationStatus, SqliteStore, Store};
use sagemaker_remediator::{daemon, shutdown};
use support::{peak_rss_mib, start_simulator};

const ACCOUNT: &str = "123456789012";
const REGION: &str = demo::REGION;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::sink)
        .init();
    let k = env_or("BENCH_FIXES", 1000) as usize;
    let transition = env_or("BENCH_TRANSITION_SECS", 30);
    let delay_ms = (transition * 1000).to_string();
    let (mut sim, endpoint) = start_simulator(&["--delay-ms", &delay_ms, "--account", ACCOUNT]);
    let sdk = demo::emulator_sdk_config(&endpoint).await;
    let client = aws_sdk_sagemaker::Client::new(&sdk);
    let names: Vec<String> = (0..k).map(|i| format!("wait-nb-{i:04}")).collect();
    stream::iter(names.iter())
        .map(|name| {
            let client = client.clone();
            async move {
                let seed = SeedNotebook {
                    name: Box::leak(name.clone().into_boxed_str()),
                    direct_internet_access: false,
                    in_vpc: true,
                    root_access: true,
                    platform: Some("notebook-al2023-v1"),
                };
                demo::seed_notebook(&client, &seed).await.unwrap();
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    // Created Pending: in service one transition later.
    tokio::time::sleep(Duration::from_secs(transition + 1)).await;

    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"mode = "enforce"
accounts = [{{id = "{ACCOUNT}", enforce = true, regions = ["{REGION}"]}}]
remediation = {{poll_interval_secs = 1, max_poll_interval_secs = 5}}
aws = {{requests_per_second = 500.0}}
limits = {{notebook_fixes_per_hour = 10000, notebook_fixes_at_once = 1000}}
[daemon]
sweep_interval_secs = 0
listen = "127.0.0.1:0"
store_path = "{}"
"#,
        dir.path().join("journal.db").display()
    );
    let config = Config::load_from(Some(&toml), &[]).unwrap();
    println!(
        "== {k} notebook fixes, transitions of {transition} s, reconcile_concurrency {}, polls 1-5 s, {} requests/s ==",
        config.daemon.reconcile_concurrency, config.aws.requests_per_second
    );
    let store = Arc::new(SqliteStore::open(&config.daemon.store_path).unwrap());
    let (trigger, shutdown) = shutdown::channel();
    let start = Instant::now();
    let task = tokio::spawn(daemon::serve(config, store.clone(), sdk, shutdown, None));
    let mut all_stopped_at = None;
    let journal = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let journal = store.remediations(None, 10 * k).unwrap();
        if all_stopped_at.is_none()
            && journal.len() >= k
            && journal.iter().all(|r| {
                r.steps
                    .iter()
                    .any(|s| s.step == "StopNotebookInstance" && s.phase == "done")
            })
        {
            all_stopped_at = Some(start.elapsed().as_secs_f64());
        }
        let done = journal
            .iter()
            .filter(|r| r.status == RemediationStatus::Succeeded)
            .count();
        if done >= k {
            break journal;
        }
        assert!(start.elapsed().as_secs() < 3600, "{done}/{k} fixed");
    };
    let wall = start.elapsed().as_secs_f64();
    let rss = peak_rss_mib();
    trigger.fire();
    task.await.unwrap().unwrap();
    let _ = sim.kill();
    let _ = sim.wait();
    assert_eq!(journal.len(), k, "one remediation per notebook");
    let floor = 3.0 * transition as f64;
    println!(
        "every notebook stopped by {:.1} s",
        all_stopped_at.unwrap_or(f64::NAN)
    );
    println!(
        "all {k} fixed in {wall:.1} s; floor {floor:.0} s (three transitions): {:.2}x",
        wall / floor
    );
    println!("peak RSS of the daemon's process: {rss:.1} MiB");
    let steps: usize = journal.iter().map(|r| r.steps.len()).sum();
    println!("journal steps per fix: {:.1}", steps as f64 / k as f64);
}
