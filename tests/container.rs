//! The container image, built and run with podman (no registry: `FROM scratch`, from the
//! release binary built without default features, its shared libraries and the CA bundle, as
//! `deploy/Dockerfile` builds it with ROOTFS=prebuilt): read-only, as the non-root user, healthy
//! by its own health check, working on a volume, and out within the grace on SIGTERM.
//!
//! scripts/test builds the binary, installs podman and runc, and sets
//! `SAGEMAKER_REMEDIATOR_RELEASE_BIN` and `CONTAINERS_CONF`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sagemaker_remediator::sim::{SimConfig, Simulator};
use sagemaker_remediator::store::{SqliteStore, Store};

fn podman(args: &[&str]) -> Output {
    Command::new("podman").args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What the container wrote (the daemon logs to stderr).
fn logs(name: &str) -> String {
    let out = podman(&["logs", name]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Removes the container and the image however the test ends.
struct Cleanup {
    container: String,
    image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", &self.container]);
        let _ = podman(&["rmi", "-f", &self.image]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_runs_read_only_as_a_non_root_user_is_healthy_and_stops_within_the_grace() {
    let bin = std::env::var("SAGEMAKER_REMEDIATOR_RELEASE_BIN").expect(
        "SAGEMAKER_REMEDIATOR_RELEASE_BIN is not set: run the tests with scripts/test, which builds the release \
         binary and installs podman",
    );
    let id = std::process::id();
    let cleanup = Cleanup {
        container: format!("smr-smoke-{id}"),
        image: format!("localhost/sagemaker-remediator:smoke-{id}"),
    };
    let context = tempfile::tempdir().unwrap();
    let rootfs = context.path().join("rootfs");
    let assembled = Command::new("deploy/image/rootfs.sh")
        .arg(&bin)
        .arg(&rootfs)
        .output()
        .unwrap();
    assert!(assembled.status.success(), "{assembled:?}");
    let started = Instant::now();
    ok(&[
        "build",
        "--pull=never",
        "--format",
        "docker",
        "--build-arg",
        "ROOTFS=prebuilt",
        "-f",
        "deploy/Dockerfile",
        "-t",
        &cleanup.image,
        context.path().to_str().unwrap(),
    ]);
    let size: u64 = ok(&["image", "inspect", "--format", "{{.Size}}", &cleanup.image])
        .parse()
        .unwrap();
    println!(
        "image {}: {:.1} MB, built in {:.1} s",
        cleanup.image,
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let files: Vec<String> = walk(&rootfs);
    assert!(
        files
            .iter()
            .all(|f| !f.ends_with("/sh") && !f.contains("curl")),
        "no shell, no curl: {files:?}"
    );

    // A notebook to audit in the simulator, reached over the host network.
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let sagemaker = common::sagemaker_client(&sim.endpoint()).await;
    sagemaker_remediator::demo::seed_notebook(
        &sagemaker,
        &sagemaker_remediator::demo::fleet().notebooks[1],
    )
    .await
    .unwrap();
    // The state volume, owned by the image's user.
    let state = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(state.path(), Some(10001), Some(10001)).unwrap();
    let port = common::free_port();
    let listen = format!("SMR_DAEMON__LISTEN=127.0.0.1:{port}");
    let endpoint = format!("AWS_ENDPOINT_URL={}", sim.endpoint());
    let volume = format!("{}:/var/lib/sagemaker-remediator", state.path().display());
    ok(&[
        "run",
        "-d",
        "--name",
        &cleanup.container,
        "--read-only",
        "--user",
        "10001:10001",
        "--network",
        "host",
        "-v",
        &volume,
        "-e",
        &endpoint,
        "-e",
        "AWS_ACCESS_KEY_ID=testing",
        "-e",
        "AWS_SECRET_ACCESS_KEY=testing",
        "-e",
        "AWS_REGION=us-east-1",
        "-e",
        "AWS_EC2_METADATA_DISABLED=true",
        "-e",
        &listen,
        "-e",
        "SMR_DAEMON__SHUTDOWN_GRACE_SECS=10",
        "-e",
        r#"SMR_ACCOUNTS=[{ id = "123456789012", regions = ["us-east-1"] }]"#,
        &cleanup.image,
    ]);
    let inspected = ok(&[
        "inspect",
        "--format",
        "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}",
        &cleanup.container,
    ]);
    assert_eq!(inspected, "10001:10001 true");

    // Healthy by the image's own health check (the binary's `healthcheck`, no curl).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !podman(&["healthcheck", "run", &cleanup.container])
        .status
        .success()
    {
        assert!(
            Instant::now() < deadline,
            "never healthy: {}",
            logs(&cleanup.container)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // And working: the audit's plan is in the journal on the volume, written as uid 10001.
    let journal = state.path().join("journal.db");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let planned = journal.exists()
            && SqliteStore::open_existing(&journal)
                .and_then(|s| s.remediations(None, 10))
                .is_ok_and(|r| {
                    r.iter()
                        .any(|r| r.dry_run && r.resource.name == "fraud-model-dev")
                });
        if planned {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no plan in the journal: {}",
            logs(&cleanup.container)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // SIGTERM (podman stop), well within the 10 s grace, exit 0.
    let stopping = Instant::now();
    ok(&["stop", "-t", "20", &cleanup.container]);
    let took = stopping.elapsed();
    let exit = ok(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}}",
        &cleanup.container,
    ]);
    let logs = logs(&cleanup.container);
    println!("stopped in {:.2} s, exit {exit}", took.as_secs_f64());
    assert_eq!(exit, "0", "{logs}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {logs}");
    assert!(logs.contains("\"stopped\""), "{logs}");
}

/// Every file under `dir`, as paths relative to it.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out
}
