//! Sweep benchmark: a simulator process seeded with 1,000 notebook instances (override with
//! BENCH_NOTEBOOKS), swept through the real SDK at several concurrencies and simulated
//! per-call latencies. Prints wall time, API calls (from the simulator's counters) and the
//! sweep's peak RSS. Run with `cargo bench --bench audit_sweep`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Instant;

use futures::stream::{self, StreamExt};
use sagemaker_remediator::audit::{self, Progress, Target};
use sagemaker_remediator::aws::{CallStack, SdkSageMaker};
use sagemaker_remediator::demo::{self, SeedNotebook};
use support::{admin, calls, peak_rss_mib, reset_peak_rss, start_simulator};

/// Stop, update with root access disabled, start (the simulator runs with no transition delay).
async fn fix_root_access(client: &aws_sdk_sagemaker::Client, name: &str) {
    let status = || async {
        client
            .describe_notebook_instance()
            .notebook_instance_name(name)
            .send()
            .await
            .unwrap()
            .notebook_instance_status()
            .map(|s| s.as_str().to_string())
    };
    client
        .stop_notebook_instance()
        .notebook_instance_name(name)
        .send()
        .await
        .unwrap();
    let stopped = || async {
        while status().await.as_deref() != Some("Stopped") {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    stopped().await;
    client
        .update_notebook_instance()
        .notebook_instance_name(name)
        .root_access(aws_sdk_sagemaker::types::RootAccess::Disabled)
        .send()
        .await
        .unwrap();
    stopped().await;
    client
        .start_notebook_instance()
        .notebook_instance_name(name)
        .send()
        .await
        .unwrap();
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_NOTEBOOKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let (mut sim, endpoint) = start_simulator(&["--delay-ms", "0"]);
    let sdk = demo::emulator_sdk_config(&endpoint).await;
    let client = aws_sdk_sagemaker::Client::new(&sdk);

    let names: Vec<String> = (0..n).map(|i| format!("bench-notebook-{i:05}")).collect();
    let seeding = Instant::now();
    stream::iter(names.iter())
        .map(|name| {
            let client = client.clone();
            async move {
                let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
                demo::seed_notebook(
                    &client,
                    &SeedNotebook {
                        name: leaked,
                        direct_internet_access: false,
                        in_vpc: true,
                        root_access: leaked.ends_with('7'),
                        platform: Some("notebook-al2-v3"),
                    },
                )
                .await
                .unwrap()
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    println!(
        "seeded {n} notebook instances in {:.2} s",
        seeding.elapsed().as_secs_f64()
    );
    println!();
    println!(
        "{:>10} {:>11} {:>9} {:>9} {:>12} {:>14} {:>12}",
        "latency", "concurrency", "wall (s)", "calls", "calls/nb", "notebooks/s", "peak RSS MiB"
    );

    let api = SdkSageMaker::new(&sdk, CallStack::new(audit::stack_settings()));
    let target = Target {
        account: "123456789012".into(),
        region: demo::REGION.into(),
    };
    for (latency_ms, concurrency) in [(0, 1), (0, 16), (0, 64), (20, 16), (20, 64), (20, 128)] {
        admin(
            &endpoint,
            "POST",
            "/_sim/faults",
            &format!("{{\"latency_ms\": {latency_ms}}}"),
        );
        admin(&endpoint, "POST", "/_sim/calls/reset", "");
        reset_peak_rss();
        let start = Instant::now();
        let sweep = audit::sweep(&api, &target, concurrency, &Progress::new(false)).await;
        let wall = start.elapsed().as_secs_f64();
        let rss = peak_rss_mib();
        assert!(sweep.errors.is_empty(), "{:?}", sweep.errors);
        assert_eq!(sweep.snapshots.len(), n);
        let c = calls(&endpoint);
        println!(
            "{:>8}ms {:>11} {:>9.2} {:>9} {:>12.3} {:>14.0} {:>12.1}",
            latency_ms,
            concurrency,
            wall,
            c.total_received(),
            c.total_received() as f64 / n as f64,
            n as f64 / wall,
            rss
        );
    }

    // Steady state, as the daemon sweeps between full reads: what a sweep found compliant is
    // not described again while its List version stays. Judged with AL2 platforms accepted,
    // so that the fleet's root access is what fails.
    admin(&endpoint, "POST", "/_sim/faults", "{\"latency_ms\": 0}");
    let params = sagemaker_remediator::controls::Params {
        required_tag_keys: Vec::new(),
        supported_platforms: vec!["notebook-al2-v3".into(), "notebook-al2023-v1".into()],
    };
    let mut known = std::collections::HashMap::new();
    let remember = |known: &mut std::collections::HashMap<String, String>, sweep: &audit::Sweep| {
        for s in &sweep.snapshots {
            let passed = sagemaker_remediator::controls::evaluate(s, &params)
                .iter()
                .all(|e| e.status != sagemaker_remediator::model::Status::Failed);
            let arn = s.resource.arn.to_string();
            match (passed, sweep.versions.get(&arn)) {
                (true, Some(v)) => {
                    known.insert(arn, v.clone());
                }
                _ => {
                    known.remove(&arn);
                }
            }
        }
    };
    let steady = |label: &str, sweep: &audit::Sweep, endpoint: &str| {
        let c = calls(endpoint);
        println!(
            "{label}: {} calls for {n} notebooks, {:.3} calls/notebook ({} unchanged, {} described)",
            c.total_received(),
            c.total_received() as f64 / n as f64,
            sweep.unchanged,
            sweep.snapshots.len()
        );
    };
    println!();
    let first = audit::sweep(&api, &target, 16, &Progress::new(false)).await;
    remember(&mut known, &first);
    admin(&endpoint, "POST", "/_sim/calls/reset", "");
    let second = audit::sweep_with(&api, &target, 16, &Progress::new(false), &known).await;
    steady(
        "steady sweep, 10% failing (root access)",
        &second,
        &endpoint,
    );
    remember(&mut known, &second);
    // The failing notebooks fixed (stop, update, start), then two more sweeps.
    for name in names.iter().filter(|n| n.ends_with('7')) {
        fix_root_access(&client, name).await;
    }
    let third = audit::sweep_with(&api, &target, 16, &Progress::new(false), &known).await;
    remember(&mut known, &third);
    admin(&endpoint, "POST", "/_sim/calls/reset", "");
    let fourth = audit::sweep_with(&api, &target, 16, &Progress::new(false), &known).await;
    steady("steady sweep, all compliant", &fourth, &endpoint);
    let _ = sim.kill();
    let _ = sim.wait();
}
