//! Organisation-scale sweep benchmark, printing figures (no harness). Run with
//! `cargo bench --bench org_scale` (release) or `--profile dev` (counts only).
//!
//! 20 accounts (BENCH_ACCOUNTS) x 2 regions, one simulator process per account and region,
//! each throttling like AWS: a token bucket of BENCH_RATE calls per second (default 40, with a
//! burst of one second's calls); a call that finds it empty is answered `ThrottlingException`.
//! Seeded with 10,000 notebooks (BENCH_NOTEBOOKS) plus 10% as many endpoint configs and models
//! and 2% as many images, 1% of the notebooks failing SageMaker.3. Swept through the real SDK
//! over HTTP, `daemon.sweep_targets_at_once` (64) accounts and regions at once, each with the
//! daemon's call stack paced at the allowed rate (`aws.requests_per_second`). Reports:
//!
//! 1. the first (full) sweep's wall time against the floor: the busiest account and region's
//!    successful calls, less the burst, divided by the allowed rate;
//! 2. a steady sweep (the daemon's, with what the first found compliant): calls per resource;
//! 3. peak RSS of this process, holding every snapshot and the cache;
//! 4. faults in 3 of the accounts (AccessDenied on listing notebooks, 30% HTTP 500, 50%
//!    throttling) while the others carry on;
//! 5. the daemon itself (`run`, a process) with 10,000 notebooks in one account and region:
//!    its peak RSS after a full sweep and three steady ones.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use aws_config::Region;
use futures::stream::{self, StreamExt};
use sagemaker_remediator::audit::{self, Progress, Sweep, Target};
use sagemaker_remediator::aws::{CallStack, SdkSageMaker, StackSettings};
use sagemaker_remediator::controls::{self, Params};
use sagemaker_remediator::demo::{self, SeedNotebook};
use sagemaker_remediator::model::Status;
use sagemaker_remediator::sim::CallCounts;
use support::{admin, calls, peak_rss_mib, start_simulator, status_kib};

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const ROLE: &str = "arn:aws:iam::123456789012:role/bench";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One account and region: its simulator process and endpoint.
struct Account {
    id: String,
    region: &'static str,
    endpoint: String,
    process: Child,
}

impl Drop for Account {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn start_account(i: usize, region: &'static str) -> Account {
    let id = format!("{:012}", 100_000_000_000u64 + i as u64);
    let (process, endpoint) = start_simulator(&["--delay-ms", "0", "--account", &id]);
    Account {
        id,
        region,
        endpoint,
        process,
    }
}

async fn client(endpoint: &str, region: &str) -> aws_sdk_sagemaker::Client {
    let sdk = demo::emulator_sdk_config(endpoint).await;
    let sdk = sdk
        .to_builder()
        .region(Region::new(region.to_string()))
        .build();
    aws_sdk_sagemaker::Client::new(&sdk)
}

/// Seeds one account and region: `notebooks` notebooks (1% failing SageMaker.3), a tenth as
/// many models and endpoint configs, a fiftieth as many images.
async fn seed(client: &aws_sdk_sagemaker::Client, prefix: &str, notebooks: usize) {
    use aws_sdk_sagemaker::types::*;
    stream::iter(0..notebooks)
        .map(|i| {
            let client = client.clone();
            let name: &'static str = Box::leak(format!("{prefix}-nb-{i:05}").into_boxed_str());
            async move {
                demo::seed_notebook(
                    &client,
                    &SeedNotebook {
                        name,
                        direct_internet_access: false,
                        in_vpc: true,
                        root_access: i % 100 == 7,
                        platform: Some("notebook-al2023-v1"),
                    },
                )
                .await
                .unwrap();
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    let others = (notebooks / 10).max(1);
    stream::iter(0..others)
        .map(|i| {
            let client = client.clone();
            async move {
                let model = format!("{prefix}-model-{i:04}");
                client
                    .create_model()
                    .model_name(&model)
                    .execution_role_arn(ROLE)
                    .enable_network_isolation(true)
                    .primary_container(
                        ContainerDefinition::builder()
                            .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/m:latest")
                            .build(),
                    )
                    .tags(Tag::builder().key("owner").value("ml").build())
                    .send()
                    .await
                    .unwrap();
                client
                    .create_endpoint_config()
                    .endpoint_config_name(format!("{prefix}-config-{i:04}"))
                    .production_variants(
                        ProductionVariant::builder()
                            .variant_name("v1")
                            .model_name(&model)
                            .instance_type(ProductionVariantInstanceType::MlM5Large)
                            .initial_instance_count(2)
                            .build(),
                    )
                    .tags(Tag::builder().key("owner").value("ml").build())
                    .send()
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    for i in 0..(notebooks / 50).max(1) {
        client
            .create_image()
            .image_name(format!("{prefix}-image-{i:03}"))
            .role_arn(ROLE)
            .tags(Tag::builder().key("owner").value("ml").build())
            .send()
            .await
            .unwrap();
    }
}

/// Sweeps every target, the targets of an account sharing its call stack; the sweeps by
/// (account, region) and the wall time.
async fn sweep_all(
    apis: &[(Target, SdkSageMaker)],
    known: &HashMap<String, String>,
) -> (Vec<(Target, Sweep)>, f64) {
    let at_once = sagemaker_remediator::config::Config::default()
        .daemon
        .sweep_targets_at_once;
    let started = Instant::now();
    let sweeps = stream::iter(apis.iter())
        .map(|(target, api)| async move {
            let sweep = audit::sweep_with(api, target, 16, &Progress::new(false), known).await;
            (target.clone(), sweep)
        })
        .buffer_unordered(at_once)
        .collect::<Vec<_>>()
        .await;
    (sweeps, started.elapsed().as_secs_f64())
}

fn resources(sweeps: &[(Target, Sweep)]) -> usize {
    sweeps
        .iter()
        .map(|(_, s)| s.snapshots.len() + s.unchanged)
        .sum()
}

/// The resources each sweep found compliant, with their List versions (the daemon's cache).
fn compliant(sweeps: &[(Target, Sweep)], params: &Params) -> HashMap<String, String> {
    let mut known = HashMap::new();
    for (_, sweep) in sweeps {
        for s in &sweep.snapshots {
            let passed = controls::evaluate(s, params)
                .iter()
                .all(|e| e.status != Status::Failed);
            let arn = s.resource.arn.to_string();
            if let (true, Some(v)) = (passed, sweep.versions.get(&arn)) {
                known.insert(arn, v.clone());
            }
        }
    }
    known
}

fn reset(accounts: &[Account]) {
    for a in accounts {
        admin(&a.endpoint, "POST", "/_sim/calls/reset", "");
    }
}

#[tokio::main]
async fn main() {
    let n_accounts = env_or("BENCH_ACCOUNTS", 20);
    assert!(
        n_accounts >= 4,
        "BENCH_ACCOUNTS must be at least 4: three of them take faults in section 4"
    );
    let n_notebooks = env_or("BENCH_NOTEBOOKS", 10_000);
    let rate = env_or("BENCH_RATE", 40) as f64;
    let per_target = n_notebooks / (n_accounts * REGIONS.len());
    let accounts: Vec<Account> = (0..n_accounts)
        .flat_map(|i| REGIONS.iter().map(move |r| start_account(i, r)))
        .collect();

    let seeding = Instant::now();
    stream::iter(accounts.iter())
        .map(|a| async move {
            let c = client(&a.endpoint, a.region).await;
            seed(&c, &format!("a{}-{}", &a.id[8..], a.region), per_target).await;
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    println!(
        "seeded {n_accounts} accounts x {} regions, {} notebooks each, in {:.1} s",
        REGIONS.len(),
        per_target,
        seeding.elapsed().as_secs_f64()
    );

    // The daemon's stack per account, paced at the account's allowed rate.
    let settings = StackSettings {
        requests_per_second: Some(rate),
        ..StackSettings::default()
    };
    let mut apis = Vec::new();
    for a in &accounts {
        let sdk = demo::emulator_sdk_config(&a.endpoint).await;
        let sdk = sdk.to_builder().region(Region::new(a.region)).build();
        apis.push((
            Target {
                account: a.id.clone(),
                region: a.region.to_string(),
            },
            SdkSageMaker::new(&sdk, CallStack::new(settings)),
        ));
    }
    for a in &accounts {
        admin(
            &a.endpoint,
            "POST",
            "/_sim/faults",
            &format!("{{\"rate_limit_per_sec\": {rate}}}"),
        );
    }
    reset(&accounts);

    println!("\n== 1. first sweep, full read, {rate} calls/s allowed per account and region ==");
    let (first, wall) = sweep_all(&apis, &HashMap::new()).await;
    let errors: usize = first.iter().map(|(_, s)| s.errors.len()).sum();
    let counts: Vec<CallCounts> = accounts.iter().map(|a| calls(&a.endpoint)).collect();
    let succeeded: Vec<u64> = counts.iter().map(|c| c.total_succeeded()).collect();
    let throttled: u64 = counts
        .iter()
        .map(|c| c.total_received() - c.total_succeeded())
        .sum();
    let busiest = *succeeded.iter().max().unwrap() as f64;
    // The bucket starts full: its burst (one second's calls) is free of the rate.
    let floor = (busiest - rate).max(1.0) / rate;
    let total: u64 = succeeded.iter().sum();
    let found = resources(&first);
    println!("resources swept: {found}; sweep errors: {errors}");
    println!("calls: {total} answered, {throttled} throttled; busiest account and region {busiest:.0} calls");
    println!(
        "wall {wall:.1} s, floor {floor:.1} s ((busiest's calls - burst {rate}) / {rate}/s): {:.3}x",
        wall / floor
    );

    println!("\n== 2. steady sweep (the daemon's cache: what the first found compliant) ==");
    let params = Params {
        required_tag_keys: Vec::new(),
        supported_platforms: vec!["notebook-al2023-v1".into()],
    };
    let known = compliant(&first, &params);
    reset(&accounts);
    let (second, wall2) = sweep_all(&apis, &known).await;
    let steady_calls: u64 = accounts
        .iter()
        .map(|a| calls(&a.endpoint).total_received())
        .sum();
    let unchanged: usize = second.iter().map(|(_, s)| s.unchanged).sum();
    let described: usize = second.iter().map(|(_, s)| s.snapshots.len()).sum();
    println!(
        "{steady_calls} calls for {found} resources: {:.4} calls/resource ({unchanged} unchanged, {described} described), {wall2:.1} s",
        steady_calls as f64 / found as f64
    );

    println!("\n== 3. memory ==");
    println!(
        "peak RSS of this process with {found} resources tracked (snapshots and cache): {:.1} MiB",
        peak_rss_mib()
    );
    drop(first);
    drop(second);

    println!("\n== 4. faults in 3 of {n_accounts} accounts, the others carry on ==");
    let storms = [
        (
            0,
            "{\"access_denied\": [\"ListNotebookInstances\"]}".to_string(),
            "AccessDenied on ListNotebookInstances",
        ),
        (
            1,
            format!("{{\"server_error_share\": 0.3, \"rate_limit_per_sec\": {rate}}}"),
            "30% HTTP 500",
        ),
        (
            2,
            format!("{{\"throttle_share\": 0.5, \"rate_limit_per_sec\": {rate}}}"),
            "50% ThrottlingException",
        ),
    ];
    for (i, body, _) in &storms {
        let id = &accounts[*i * REGIONS.len()].id;
        for a in accounts.iter().filter(|a| &a.id == id) {
            admin(&a.endpoint, "POST", "/_sim/faults", body);
        }
    }
    reset(&accounts);
    let (faulted, wall3) = sweep_all(&apis, &known).await;
    for (i, _, what) in &storms {
        let id = &accounts[*i * REGIONS.len()].id;
        let errs: Vec<String> = faulted
            .iter()
            .filter(|(t, _)| &t.account == id)
            .flat_map(|(_, s)| s.errors.iter().map(audit::describe_error))
            .collect();
        println!(
            "account {id} ({what}): {} sweep error(s){}",
            errs.len(),
            errs.first()
                .map(|e| format!(", e.g. {e}"))
                .unwrap_or_default()
        );
    }
    let faulty: Vec<&String> = storms
        .iter()
        .map(|(i, _, _)| &accounts[*i * REGIONS.len()].id)
        .collect();
    let others_clean = faulted
        .iter()
        .filter(|(t, _)| !faulty.contains(&&t.account))
        .all(|(_, s)| s.errors.is_empty());
    println!(
        "the other {} accounts: {} ({wall3:.1} s)",
        n_accounts - storms.len(),
        if others_clean {
            "complete, no errors"
        } else {
            "ERRORS"
        }
    );
    drop(accounts);
    daemon_rss(n_notebooks).await;
}

/// The daemon process with `n` compliant notebooks in one account and region: its peak RSS
/// after one full sweep and three steady ones (sweeps every 5 s, audit mode, SQLite store).
async fn daemon_rss(n: usize) {
    println!(
        "\n== 5. the daemon (`run`, a process) with {n} notebooks in one account and region =="
    );
    let account = start_account(0, "us-east-1");
    let c = client(&account.endpoint, "us-east-1").await;
    seed(&c, "daemon", n).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"mode = "audit"
accounts = [{{ id = "{}", regions = ["us-east-1"] }}]
aws = {{ requests_per_second = 1000.0 }}
[daemon]
store_path = "{}"
listen = "127.0.0.1:0"
sweep_interval_secs = 5
sweep_jitter = 0.0
"#,
            account.id,
            dir.path().join("journal.db").display()
        ),
    )
    .unwrap();
    let log_path = dir.path().join("daemon.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sagemaker-remediator"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("SMR_") {
            command.env_remove(k);
        }
    }
    let mut daemon = command
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("AWS_ENDPOINT_URL_SAGEMAKER", &account.endpoint)
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("SMR_LOG__LEVEL", "info,aws=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = daemon.id();
    let started = Instant::now();
    let mut full = None;
    loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let sweeps = text.matches("sweep_done").count();
        if sweeps >= 1 && full.is_none() {
            full = Some((
                started.elapsed().as_secs_f64(),
                status_kib(&pid.to_string(), "VmHWM:"),
            ));
        }
        if sweeps >= 4 {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 600,
            "the daemon did not sweep 4 times: {text}"
        );
        if let Ok(Some(status)) = daemon.try_wait() {
            panic!("the daemon exited with {status}: {text}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (full_s, full_hwm) = full.unwrap();
    let hwm = status_kib(&pid.to_string(), "VmHWM:");
    let rss = status_kib(&pid.to_string(), "VmRSS:");
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = daemon.wait();
    println!(
        "first (full) sweep done at {full_s:.1} s, peak RSS then {:.1} MiB",
        full_hwm / 1024.0
    );
    println!(
        "after 3 steady sweeps: peak RSS {:.1} MiB, RSS now {:.1} MiB",
        hwm / 1024.0,
        rss / 1024.0
    );
}
