//! Daemon benchmark, printing figures (no harness). Run with `cargo bench --bench daemon`.
//!
//! 1. Event handling with no AWS: 20,000 EventBridge bodies (BENCH_EVENTS) of the four families
//!    for 200 notebooks, with duplicates, ~5% irrelevant and ~5% malformed, shuffled; through
//!    `events::parse` alone, then through `intake::handle` into a real `SqliteStore`.
//! 2. Per-remediation overhead of `daemon::serve` in enforce mode: 50 notebooks
//!    (BENCH_REMEDIATIONS) with RootAccess=Enabled in the in-process simulator, fixed by the
//!    start-up sweep. Wall time says little (whole-second polls, instant simulated transitions),
//!    so it reports CPU time (the simulator runs on its own threads, told apart in /proc),
//!    SageMaker calls and journal steps per remediation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sagemaker_remediator::config::Config;
use sagemaker_remediator::demo::{self, SeedNotebook};
use sagemaker_remediator::events::{self, Parsed};
use sagemaker_remediator::intake::{self, Disposition};
use sagemaker_remediator::model::{ControlId, Evaluation, Remedy, ResourceRef};
use sagemaker_remediator::model::{ResourceType, Status};
use sagemaker_remediator::sim::{SimConfig, Simulator};
use std::process::Child;

use sagemaker_remediator::store::{DynamoStore, RemediationStatus, SqliteStore, Store};
use sagemaker_remediator::{daemon, shutdown};
use serde_json::{json, Value};

const ACCOUNT: &str = "123456789012";
const REGION: &str = demo::REGION;
const NOTEBOOKS: usize = 200;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------- event bodies ----------

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/events/");

/// A fixture of tests/fixtures/events moved to our notebook, account and region, with a fresh
/// envelope id and `edit` applied, as compact JSON (as SQS delivers it).
fn from_fixture(file: &str, name: &str, id: String, edit: impl FnOnce(&mut Value)) -> String {
    let text = std::fs::read_to_string(format!("{FIXTURES}{file}")).unwrap();
    let text = text
        .replace("DS-Team-Notebook", name)
        .replace("ds-team-notebook", &name.to_lowercase())
        .replace("444455556666", ACCOUNT)
        .replace("eu-central-1", REGION);
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["id"] = json!(id);
    edit(&mut v);
    v.to_string()
}

fn security_hub(name: &str, id: String) -> String {
    let resource = ResourceRef {
        account: ACCOUNT.into(),
        region: REGION.into(),
        resource_type: ResourceType::NotebookInstance,
        name: name.into(),
        arn: events::arn(ResourceType::NotebookInstance, REGION, ACCOUNT, name).into(),
    };
    let evaluation = Evaluation {
        control: ControlId::SageMaker3,
        resource,
        status: Status::Failed,
        remediation: Remedy::Fix,
        reason: "RootAccess is Enabled".into(),
    };
    demo::security_hub_event(&evaluation, &id)
}

/// How many bodies of each kind.
#[derive(Debug, Default, PartialEq)]
struct Mix {
    valid: usize,
    irrelevant: usize,
    malformed: usize,
}

/// `n` shuffled bodies: 5% malformed, 5% irrelevant, 90% valid. One valid body in ten is an
/// exact redelivery of an earlier one; the rest go round-robin over the 200 notebooks, cycling
/// through the four families (Security Hub from `demo`, the others from the fixtures).
fn event_bodies(n: usize, rng: &mut impl Rng) -> (Vec<String>, Mix) {
    let mut bodies: Vec<String> = Vec::with_capacity(n);
    let mut mix = Mix::default();
    let mut unique: Vec<usize> = Vec::new(); // indices of the valid, non-duplicate bodies
    for i in 0..n {
        let c = unique.len();
        let name = &format!("Team-Notebook-{:03}", c % NOTEBOOKS);
        let id = format!("{:08x}-bench-{i}", rng.random::<u32>());
        let none = |_: &mut Value| {};
        let body = match (i % 20, (i / 20) % 4) {
            (0, 0) => from_fixture("config-noncompliant-name.json", name, id, none)[..600].into(),
            (0, 1) => "not json at all".into(),
            (0, 2) => from_fixture("config-noncompliant-name.json", name, id, |v| {
                v["detail"].as_object_mut().unwrap().remove("resourceId");
            }),
            (0, _) => from_fixture("sagemaker-notebook-state-change.json", name, id, |v| {
                v["detail"]["NotebookInstanceArn"] = json!("arn:aws:s3:::not-a-notebook");
            }),
            (1, 0) => from_fixture("config-compliant.json", name, id, none),
            (1, 1) => from_fixture("cloudtrail-error.json", name, id, none),
            (1, _) => json!({"version": "0", "id": id, "source": "aws.ec2",
                "detail-type": "EC2 Instance State-change Notification", "account": ACCOUNT,
                "region": REGION, "detail": {"instance-id": "i-0abc1234", "state": "running"}})
            .to_string(),
            (9 | 19, _) if c > 0 => bodies[unique[rng.random_range(0..c)]].clone(),
            _ => {
                unique.push(i);
                match (c / NOTEBOOKS) % 4 {
                    0 => security_hub(name, id),
                    1 => from_fixture("config-noncompliant-name.json", name, id, none),
                    2 => from_fixture("cloudtrail-create-notebook.json", name, id, |v| {
                        if c % 2 == 1 {
                            v["detail"]["eventName"] = json!("UpdateNotebookInstance");
                        }
                    }),
                    _ => from_fixture("sagemaker-notebook-state-change.json", name, id, none),
                }
            }
        };
        match i % 20 {
            0 => mix.malformed += 1,
            1 => mix.irrelevant += 1,
            _ => mix.valid += 1,
        }
        bodies.push(body);
    }
    bodies.shuffle(rng);
    (bodies, mix)
}

fn event_handling() {
    let n = env_or("BENCH_EVENTS", 20_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (bodies, mix) = event_bodies(n, &mut rng);
    let bytes: usize = bodies.iter().map(String::len).sum();
    println!("== 1. Event handling, no AWS ==");
    println!(
        "{n} bodies for {NOTEBOOKS} notebooks: {} valid (4 families, ~10% exact redeliveries), {} irrelevant, {} malformed; mean {} B\n",
        mix.valid, mix.irrelevant, mix.malformed, bytes / n.max(1)
    );
    println!(
        "{:<44} {:>12} {:>10} {:>9}",
        "", "events/s", "µs/event", "wall (s)"
    );

    let mut best = Duration::MAX;
    let mut seen = Mix::default();
    for _ in 0..3 {
        seen = Mix::default();
        let start = Instant::now();
        for body in &bodies {
            match std::hint::black_box(events::parse(body)) {
                Ok(Parsed::Triggers(_) | Parsed::Activity(_)) => seen.valid += 1,
                Ok(Parsed::Irrelevant { .. }) => seen.irrelevant += 1,
                Err(_) => seen.malformed += 1,
            }
        }
        best = best.min(start.elapsed());
    }
    assert_eq!(seen, mix, "parse outcomes differ from the generated mix");
    row("(a) events::parse (best of 3)", n, best);

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("journal.db")).unwrap();
    let mut seen = Mix::default();
    let start = Instant::now();
    for body in &bodies {
        match intake::handle(&store, body) {
            Disposition::Recorded { .. } => seen.valid += 1,
            Disposition::Irrelevant { .. } => seen.irrelevant += 1,
            Disposition::Malformed { .. } => seen.malformed += 1,
            Disposition::StoreFailed { reason } => panic!("store failed: {reason}"),
        }
    }
    let handled = start.elapsed();
    assert_eq!(
        seen, mix,
        "intake dispositions differ from the generated mix"
    );
    row("(b) intake::handle -> SqliteStore", n, handled);
    let per_commit = handled.saturating_sub(best).as_secs_f64() * 1e6 / mix.valid.max(1) as f64;
    let pending = store.pending_count().unwrap();
    assert_eq!(
        pending, NOTEBOOKS as u64,
        "pending rows != distinct notebooks"
    );
    println!(
        "\n(b) commits one transaction per recorded message (WAL, synchronous=FULL: an fsync each)\n    in {}: {per_commit:.0} µs per recorded message over parsing; pending rows after: {pending} (= distinct notebooks)\n",
        dir.path().display()
    );

    // As the intake does: one durable write per received batch of 10.
    let batches: Vec<Vec<&str>> = bodies
        .chunks(10)
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let batched = |store: &dyn Store| {
        let start = Instant::now();
        let mut recorded = 0usize;
        for batch in &batches {
            for d in intake::handle_batch(store, batch) {
                match d {
                    Disposition::Recorded { .. } => recorded += 1,
                    Disposition::StoreFailed { reason } => panic!("store failed: {reason}"),
                    _ => {}
                }
            }
        }
        assert_eq!(recorded, mix.valid);
        start.elapsed()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("journal.db")).unwrap();
    let d = batched(&store);
    row("(c) intake::handle_batch of 10 -> SqliteStore", n, d);
    assert_eq!(store.pending_count().unwrap(), NOTEBOOKS as u64);

    match moto() {
        Some(mut moto) => {
            let store = dynamo(&moto.1);
            let d = batched(&store);
            row("(d) intake::handle_batch of 10 -> DynamoDB (moto)", n, d);
            assert_eq!(store.pending_count().unwrap(), NOTEBOOKS as u64);
            // Eight intake loops at once (daemon.receive_concurrency = 8).
            let start = Instant::now();
            std::thread::scope(|scope| {
                for part in batches.chunks(batches.len().div_ceil(8)) {
                    let store = &store;
                    scope.spawn(move || {
                        for batch in part {
                            for d in intake::handle_batch(store, batch) {
                                if let Disposition::StoreFailed { reason } = d {
                                    panic!("store failed: {reason}");
                                }
                            }
                        }
                    });
                }
            });
            row("(e) as (d), 8 intake loops at once", n, start.elapsed());
            let start = Instant::now();
            for _ in 0..200 {
                store.ping().unwrap();
            }
            println!(
                "\n    moto answers one GetItem in {:.1} ms (200 in a row): (d) and (e) are bound by it",
                start.elapsed().as_secs_f64() * 1e3 / 200.0
            );
            println!(
                "\n(c), (d) write each received batch of 10 in one transaction (SQLite: one fsync;\n    DynamoDB: one BatchGetItem, then one conditional PutItem per resource, sent together)\n"
            );
            drop(store);
            let _ = moto.0.kill();
            let _ = moto.0.wait();
        }
        None => println!(
            "\n(d) skipped: no moto_server (set MOTO_SERVER, or run through scripts/bench)\n"
        ),
    }
}

/// moto_server from MOTO_SERVER, started on a free port: (process, endpoint).
fn moto() -> Option<(Child, String)> {
    let bin = std::env::var("MOTO_SERVER").ok()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = std::process::Command::new(bin)
        .args(["-p", &port.to_string(), "-H", "127.0.0.1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((child, format!("http://127.0.0.1:{port}")))
}

/// A DynamoDB store on a new table in moto.
fn dynamo(endpoint: &str) -> DynamoStore {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(async {
        let base = demo::emulator_sdk_config(endpoint).await;
        let client = sagemaker_remediator::store::dynamodb_client(&base);
        DynamoStore::init(&client, "bench").await.unwrap();
        client
    });
    DynamoStore::open(client, "bench", 90).unwrap()
}

fn row(label: &str, n: usize, d: Duration) {
    let s = d.as_secs_f64();
    println!(
        "{label:<44} {:>12.0} {:>10.1} {s:>9.2}",
        n as f64 / s,
        s * 1e6 / n as f64
    );
}

// ---------- daemon overhead ----------

/// utime+stime in clock ticks (USER_HZ = 100 on Linux) from a /proc stat line.
fn ticks(stat: &str) -> u64 {
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, r)| r)
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// CPU ms of the whole process (live and exited threads), of threads named `smr-sim`, and of
/// the main thread (the bench's own polling).
fn cpu_ms() -> (f64, f64, f64) {
    let pid = std::process::id();
    let process = ticks(&std::fs::read_to_string("/proc/self/stat").unwrap());
    let (mut sim, mut main) = (0, 0);
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let t = std::fs::read_to_string(path.join("stat")).map_or(0, |s| ticks(&s));
        if comm.trim() == "smr-sim" {
            sim += t;
        } else if task.file_name().to_str() == Some(&pid.to_string()) {
            main += t;
        }
    }
    (process as f64 * 10.0, sim as f64 * 10.0, main as f64 * 10.0)
}

/// One row of the per-remediation table.
fn line(label: &str, total: f64, k: usize) {
    println!("{label:<40} {total:>10.0} {:>16.2}", total / k as f64);
}

fn daemon_overhead() {
    let k = env_or("BENCH_REMEDIATIONS", 50);
    // The simulator gets its own runtime and threads, so its CPU can be told apart.
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("smr-sim")
        .enable_all()
        .build()
        .unwrap();
    let handle = sim_rt
        .block_on(Simulator::start(SimConfig {
            transition_delay: Duration::ZERO,
            ..SimConfig::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"mode = "enforce"
accounts = [{{id = "{ACCOUNT}", enforce = true, regions = ["{REGION}"]}}]
remediation = {{poll_interval_secs = 1, max_poll_interval_secs = 1}}
aws = {{requests_per_second = 1000.0}}
limits = {{notebook_fixes_per_hour = 10000, notebook_fixes_at_once = 1000}}
[daemon]
sweep_interval_secs = 0
listen = "127.0.0.1:0"
store_path = "{}"
"#,
        dir.path().join("journal.db").display()
    );
    let config = Config::load_from(Some(&toml), &[]).unwrap();
    println!("== 2. daemon::serve, enforce mode, {k} notebooks with RootAccess=Enabled ==");
    println!(
        "in-process simulator (transition delay 0), poll interval 1 s, reconcile_concurrency {}, {} requests/s, logs at info (JSON) to a sink\n",
        config.daemon.reconcile_concurrency, config.aws.requests_per_second
    );
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("smr-daemon")
        .enable_all()
        .build()
        .unwrap()
        .block_on(drain(k, config, &handle.simulator, &handle.endpoint()));
    sim_rt.block_on(handle.shutdown());
}

/// Seeds `k` violating notebooks, runs the daemon until its start-up sweep has fixed them all,
/// checks the result and prints the figures.
async fn drain(k: usize, config: Config, sim: &Simulator, endpoint: &str) {
    let sdk = demo::emulator_sdk_config(endpoint).await;
    let client = aws_sdk_sagemaker::Client::new(&sdk);
    let names: Vec<String> = (0..k).map(|i| format!("bench-nb-{i:03}")).collect();
    for name in &names {
        let seed = SeedNotebook {
            name: Box::leak(name.clone().into_boxed_str()),
            direct_internet_access: false,
            in_vpc: true,
            root_access: true,
            platform: Some("notebook-al2-v3"),
        };
        demo::seed_notebook(&client, &seed).await.unwrap();
    }
    for name in &names {
        // One read moves it on to InService (transitions are lazy).
        let d = client
            .describe_notebook_instance()
            .notebook_instance_name(name);
        d.send().await.unwrap();
    }
    sim.reset_calls();
    let store = Arc::new(SqliteStore::open(&config.daemon.store_path).unwrap());
    let (trigger, shutdown) = shutdown::channel();
    let (cpu0, sim0, main0) = cpu_ms();
    let start = Instant::now();
    let task = tokio::spawn(daemon::serve(config, store.clone(), sdk, shutdown, None));
    let journal = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let journal = store.remediations(None, 10 * k).unwrap();
        let finished = journal.iter().filter(|r| r.status.is_terminal()).count();
        let idle = store.pending_count().unwrap() == 0 && store.unfinished().unwrap().is_empty();
        if finished >= k && idle {
            break journal;
        }
        assert!(start.elapsed().as_secs() < 300, "{finished}/{k} finished");
    };
    let wall = start.elapsed().as_secs_f64();
    let (cpu1, sim1, main1) = cpu_ms();
    // Idle baseline: the drained daemon for one second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (cpu2, sim2, main2) = cpu_ms();
    let idle_per_s = (cpu2 - cpu1) - (sim2 - sim1) - (main2 - main1);
    let calls = sim.calls();
    trigger.fire();
    task.await.unwrap().unwrap();

    assert_eq!(journal.len(), k, "one remediation per notebook");
    assert!(journal
        .iter()
        .all(|r| r.status == RemediationStatus::Succeeded));
    for name in &names {
        let d = client
            .describe_notebook_instance()
            .notebook_instance_name(name);
        let d = d.send().await.unwrap();
        let status = d.notebook_instance_status().map(|s| s.as_str());
        assert_eq!(status, Some("InService"), "{name}");
        assert_eq!(
            d.root_access().map(|r| r.as_str()),
            Some("Disabled"),
            "{name}"
        );
    }

    let (sim_ms, main_ms) = (sim1 - sim0, main1 - main0);
    let daemon_ms = (cpu1 - cpu0) - sim_ms - main_ms;
    let net_ms = daemon_ms - idle_per_s * wall;
    println!("wall time to drain (start-up sweep + {k} remediations): {wall:.2} s");
    println!("CPU while draining (utime+stime from /proc/self/stat and task/*/stat, 10 ms ticks):");
    println!(
        "  process {:.0} ms = simulator threads {sim_ms:.0} + bench polling (main thread) {main_ms:.0} + daemon {daemon_ms:.0}",
        cpu1 - cpu0
    );
    println!("  daemon idle baseline {idle_per_s:.0} ms/s, so daemon net of idle {net_ms:.0} ms\n");
    println!(
        "{:<40} {:>10} {:>16}",
        "start-up sweep included", "total", "per remediation"
    );
    line("daemon CPU ms (net of idle)", net_ms, k);
    line("simulator CPU ms (for reference)", sim_ms, k);
    let mut phases: BTreeMap<&str, usize> = BTreeMap::new();
    for step in journal.iter().flat_map(|r| &r.steps) {
        *phases.entry(step.phase.as_str()).or_default() += 1;
    }
    line("journal steps", phases.values().sum::<usize>() as f64, k);
    for (phase, n) in &phases {
        line(&format!("  {phase}"), *n as f64, k);
    }
    line("SageMaker calls", calls.total_received() as f64, k);
    for (op, n) in &calls.received {
        line(&format!("  {op}"), *n as f64, k);
    }
    println!("\nall {k} notebooks ended InService with RootAccess=Disabled");
}

fn main() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::sink)
        .init();
    event_handling();
    daemon_overhead();
}
