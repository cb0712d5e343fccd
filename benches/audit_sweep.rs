//! Sweep benchmark: a simulator process seeded with 1,000 notebook instances (override with
//! BENCH_NOTEBOOKS), swept through the real SDK at several concurrencies and simulated
//! per-call latencies. Prints wall time, API calls (from the simulator's counters) and the
//! sweep's peak RSS. Run with `cargo bench --bench audit_sweep`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Instant;

use futures::stream::{self, StreamExt};
use sagemaker_remediator::audit::{self, Progress, Target};
use sagemaker_remediator::aws::{CallStack, SdkSageMaker};
use sagemaker_remediator::demo::{self, SeedNotebook};
use sagemaker_remediator::sim::CallCounts;

/// A minimal HTTP/1.1 request to the simulator's admin API.
fn admin(endpoint: &str, method: &str, path: &str, body: &str) -> String {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

fn calls(endpoint: &str) -> CallCounts {
    let body = admin(endpoint, "GET", "/_sim/calls", "");
    // The body may be chunked; take the JSON object inside.
    let start = body.find('{').unwrap();
    let end = body.rfind('}').unwrap();
    serde_json::from_str(&body[start..=end]).unwrap()
}

/// Peak resident set size of this process in KiB (VmHWM), and a reset of it.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_NOTEBOOKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut sim = Command::new(env!("CARGO_BIN_EXE_sagemaker-remediator"))
        .args(["simulator", "--delay-ms", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let endpoint = line.trim().to_string();
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
        let rss = peak_rss_kib();
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
            rss as f64 / 1024.0
        );
    }
    let _ = sim.kill();
    let _ = sim.wait();
}
