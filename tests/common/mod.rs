//! Shared helpers for the integration tests: the simulator in-process, moto_server as a child
//! process, and the CLI run as a real process against them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;
pub mod daemon;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_sagemaker-remediator");

/// A command for the CLI with a clean AWS/SMR environment pointed at `endpoint`.
pub fn cli(endpoint: &str) -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("SMR_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null());
    cmd
}

/// Parses JSON Lines.
pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// An SDK client for an emulator.
pub async fn sagemaker_client(endpoint: &str) -> aws_sdk_sagemaker::Client {
    aws_sdk_sagemaker::Client::new(&sagemaker_remediator::demo::emulator_sdk_config(endpoint).await)
}

/// A moto_server child process on a free port, killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto_server from `MOTO_SERVER` (set by scripts/test) or `.venv/bin/moto_server`.
    pub fn start() -> Moto {
        let bin = std::env::var("MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server")
            });
        assert!(
            bin.exists(),
            "moto_server not found at {}: run the tests with scripts/test, which installs it, or set MOTO_SERVER",
            bin.display()
        );
        let port = free_port();
        let child = Command::new(&bin)
            .args(["-p", &port.to_string(), "-H", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, endpoint }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The (control, resource name, status) triples of the evaluation records.
pub fn verdicts(records: &[Value]) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = records
        .iter()
        .filter(|r| r.get("error").is_none())
        .map(|r| {
            (
                r["control"].as_str().unwrap().to_string(),
                r["resource_name"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The expected triples from the demo fleet, optionally restricted to some controls.
pub fn expected(filter: impl Fn(&str) -> bool) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = sagemaker_remediator::demo::expected_verdicts()
        .into_iter()
        .filter(|(c, _, _)| filter(c.as_str()))
        .map(|(c, n, s)| {
            (
                c.as_str().to_string(),
                n.to_string(),
                s.as_str().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The member role moto's CreateAccount makes in each new account, as an `[organization]`
/// role template.
pub const ORG_ROLE: &str = "arn:aws:iam::{account}:role/OrganizationAccountAccessRole";

/// An organisation in moto, made by moto's default account (its management account, at the
/// root): units `prod`, `dev` and `sandbox` under the root, and accounts `prod`, `dev` and
/// `sandbox` in the unit of their name, plus `closed` in `dev`, suspended. Every account,
/// the management account too, holds one notebook with root access (`fraud-model-dev`), made
/// through the member role.
pub struct Organization {
    pub client: aws_sdk_organizations::Client,
    pub root: String,
    pub ous: std::collections::BTreeMap<&'static str, String>,
    pub accounts: std::collections::BTreeMap<&'static str, String>,
}

impl Organization {
    pub async fn create(endpoint: &str) -> Organization {
        use sagemaker_remediator::config::AccountConfig;
        let base = sagemaker_remediator::demo::emulator_sdk_config(endpoint).await;
        let client = aws_sdk_organizations::Client::new(&base);
        client.create_organization().send().await.unwrap();
        let root = client.list_roots().send().await.unwrap().roots.unwrap()[0]
            .id
            .clone()
            .unwrap();
        let mut ous = std::collections::BTreeMap::new();
        for name in ["prod", "dev", "sandbox"] {
            let ou = client
                .create_organizational_unit()
                .parent_id(&root)
                .name(name)
                .send()
                .await
                .unwrap();
            ous.insert(name, ou.organizational_unit.unwrap().id.unwrap());
        }
        let mut accounts = std::collections::BTreeMap::new();
        for (name, ou) in [
            ("prod", "prod"),
            ("dev", "dev"),
            ("sandbox", "sandbox"),
            ("closed", "dev"),
        ] {
            let status = client
                .create_account()
                .account_name(name)
                .email(format!("{name}@example.com"))
                .send()
                .await
                .unwrap();
            let id = status.create_account_status.unwrap().account_id.unwrap();
            client
                .move_account()
                .account_id(&id)
                .source_parent_id(&root)
                .destination_parent_id(&ous[ou])
                .send()
                .await
                .unwrap();
            accounts.insert(name, id);
        }
        client
            .close_account()
            .account_id(&accounts["closed"])
            .send()
            .await
            .unwrap();
        let notebook = &sagemaker_remediator::demo::fleet().notebooks[1];
        sagemaker_remediator::demo::seed_notebook(&aws_sdk_sagemaker::Client::new(&base), notebook)
            .await
            .unwrap();
        for id in accounts.values() {
            let member = AccountConfig {
                id: id.clone(),
                role_arn: Some(ORG_ROLE.replace("{account}", id)),
                ..AccountConfig::default()
            };
            let sdk = sagemaker_remediator::aws::account_config(&base, &member, "us-east-1").await;
            sagemaker_remediator::demo::seed_notebook(
                &aws_sdk_sagemaker::Client::new(&sdk),
                notebook,
            )
            .await
            .unwrap();
        }
        Organization {
            client,
            root,
            ous,
            accounts,
        }
    }

    /// Moves account `name` from its unit to unit `to`.
    pub async fn move_account(&self, name: &str, from: &str, to: &str) {
        self.client
            .move_account()
            .account_id(&self.accounts[name])
            .source_parent_id(&self.ous[from])
            .destination_parent_id(&self.ous[to])
            .send()
            .await
            .unwrap();
    }
}
