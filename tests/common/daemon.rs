//! Harness for the end-to-end tests of `run`: moto provides EventBridge (a bus and a rule)
//! and SQS (the queue and its dead-letter queue), the simulator provides SageMaker, and the
//! daemon runs as a real process, stopped by real signals.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::{PutEventsRequestEntry, Target};
use aws_sdk_sqs::types::QueueAttributeName;
use sagemaker_remediator::demo;
use sagemaker_remediator::sim::{SimConfig, SimHandle, Simulator};
use sagemaker_remediator::store::{DynamoStore, Remediation, SqliteStore, Store};
use serde_json::{json, Value};

use super::{free_port, Moto, BIN};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// moto (EventBridge + SQS), the simulator, a queue wired to a rule, and a work directory.
pub struct World {
    pub moto: Moto,
    pub sim: SimHandle,
    pub queue_url: String,
    pub dlq_url: String,
    pub dir: tempfile::TempDir,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub sagemaker: aws_sdk_sagemaker::Client,
    /// The DynamoDB table in moto the daemons share, once [`World::with_table`] made it.
    pub table: Option<String>,
    dynamo: std::sync::OnceLock<DynamoStore>,
}

impl World {
    /// Starts everything; `delay` is the simulator's transition time.
    pub async fn start(delay: Duration) -> World {
        let moto = Moto::start();
        let sim = Simulator::start(SimConfig {
            transition_delay: delay,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let moto_sdk = demo::emulator_sdk_config(&moto.endpoint).await;
        let sqs = aws_sdk_sqs::Client::new(&moto_sdk);
        let events = aws_sdk_eventbridge::Client::new(&moto_sdk);
        let sagemaker =
            aws_sdk_sagemaker::Client::new(&demo::emulator_sdk_config(&sim.endpoint()).await);

        let dlq_url = create_queue(&sqs, "smr-events-dlq", []).await;
        let dlq_arn = queue_arn(&sqs, &dlq_url).await;
        // maxReceiveCount 5, as in deploy/: a daemon that is killed or stopped leaves its long
        // poll open at the queue, which may still take a message (it comes back after the 1 s
        // visibility timeout), so a message can be received more than once on its way.
        let redrive = json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5" });
        let queue_url = create_queue(
            &sqs,
            "smr-events",
            [
                (QueueAttributeName::VisibilityTimeout, "1".to_string()),
                (QueueAttributeName::RedrivePolicy, redrive.to_string()),
            ],
        )
        .await;
        let queue_arn = queue_arn(&sqs, &queue_url).await;
        events
            .put_rule()
            .name("smr-sagemaker")
            .event_pattern(
                json!({ "source": ["aws.securityhub", "aws.config", "aws.sagemaker"] }).to_string(),
            )
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule("smr-sagemaker")
            .targets(
                Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        World {
            moto,
            sim,
            queue_url,
            dlq_url,
            dir: tempfile::tempdir().unwrap(),
            sqs,
            events,
            sagemaker,
            table: None,
            dynamo: std::sync::OnceLock::new(),
        }
    }

    /// Makes the daemons share a DynamoDB table in moto (`daemon.store = "dynamodb"`), created
    /// by `store init`.
    pub fn with_table(mut self) -> World {
        self.table = Some("smr-journal".to_string());
        std::fs::write(self.config_path(), self.config("audit", free_port(), "")).unwrap();
        let out = self.cli(&["store", "init"]);
        assert!(
            out.status.success(),
            "store init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self
    }

    /// The store the daemons write, as a second reader sees it.
    pub fn store(&self) -> &dyn Store {
        let Some(table) = &self.table else {
            panic!("World::store is for the DynamoDB store; the SQLite file is read per call");
        };
        self.dynamo.get_or_init(|| {
            let endpoint = self.moto.endpoint.clone();
            let base = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(demo::emulator_sdk_config(&endpoint))
            })
            .join()
            .unwrap();
            DynamoStore::open(
                sagemaker_remediator::store::dynamodb_client(&base),
                table,
                90,
            )
            .unwrap()
        })
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("journal.db")
    }

    /// The daemon's configuration: enforce mode for the simulator's account unless `mode`
    /// says otherwise, fast polls, start-up sweep only.
    pub fn config(&self, mode: &str, port: u16, extra: &str) -> String {
        format!(
            r#"mode = "{mode}"

[remediation]
poll_interval_secs = 1
max_poll_interval_secs = 1
tag_values = {{ owner = "unassigned" }}

[limits]
# The tests fix many notebooks at once; the blast-radius limits have their own tests.
notebook_fixes_per_hour = 10000
notebook_fixes_at_once = 1000

[daemon]
queue_url = "{queue}"
store_path = "{store}"
{table}
listen = "127.0.0.1:{port}"
sweep_interval_secs = 0
error_backoff_secs = 1
max_error_backoff_secs = 2
shutdown_grace_secs = 10
claim_ttl_secs = 5

[[accounts]]
id = "{ACCOUNT}"
enforce = true
regions = ["{REGION}"]
{extra}"#,
            queue = self.queue_url,
            store = self.store_path().display(),
            table = match &self.table {
                Some(t) => format!("store = \"dynamodb\"\ndynamodb_table = \"{t}\""),
                None => String::new(),
            },
        )
    }

    /// Starts the daemon process.
    pub fn daemon(&self, mode: &str, extra: &str, env: &[(&str, &str)]) -> Daemon {
        self.daemon_via(&[], mode, extra, env)
    }

    /// The configuration file the last daemon was started with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// Runs a CLI subcommand with the daemon's configuration and environment.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let config = self.config_path();
        let mut cmd = Command::new(BIN);
        self.environment(&mut cmd);
        cmd.arg("--config")
            .arg(&config)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn environment(&self, cmd: &mut Command) {
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") || k.starts_with("SMR_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("AWS_ENDPOINT_URL", &self.moto.endpoint)
            .env("AWS_ENDPOINT_URL_SAGEMAKER", self.sim.endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("RUST_BACKTRACE", "0");
    }

    /// Starts the daemon process through `wrapper` (a program and its arguments that end by
    /// executing the daemon's command line, e.g. a shell that sets a limit first).
    pub fn daemon_via(
        &self,
        wrapper: &[&str],
        mode: &str,
        extra: &str,
        env: &[(&str, &str)],
    ) -> Daemon {
        self.daemon_logged("daemon.log", wrapper, mode, extra, env)
    }

    /// One of several daemons on the same queue and store, logging to `daemon-N.log`.
    pub fn replica(&self, n: usize, extra: &str, env: &[(&str, &str)]) -> Daemon {
        self.daemon_logged(&format!("daemon-{n}.log"), &[], "enforce", extra, env)
    }

    fn daemon_logged(
        &self,
        log: &str,
        wrapper: &[&str],
        mode: &str,
        extra: &str,
        env: &[(&str, &str)],
    ) -> Daemon {
        let port = free_port();
        // Replicas start at once: each reads a file of its own.
        let config = match log {
            "daemon.log" => self.config_path(),
            _ => self.dir.path().join(format!("{log}.toml")),
        };
        std::fs::write(&config, self.config(mode, port, extra)).unwrap();
        let log = self.dir.path().join(log);
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(BIN);
                cmd
            }
            None => Command::new(BIN),
        };
        self.environment(&mut cmd);
        cmd.args(["--config", config.to_str().unwrap(), "run"])
            .env("SMR_LOG__LEVEL", "info,aws=warn")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Daemon {
            child: cmd.spawn().unwrap(),
            port,
            log,
        }
    }

    /// Publishes events on the default bus (batches of 10); the rule routes them to the queue.
    pub async fn put_events(&self, events: &[(String, String, Value)]) {
        for chunk in events.chunks(10) {
            let mut request = self.events.put_events();
            for (source, detail_type, detail) in chunk {
                request = request.entries(
                    PutEventsRequestEntry::builder()
                        .source(source)
                        .detail_type(detail_type)
                        .detail(detail.to_string())
                        .build(),
                );
            }
            let out = request.send().await.unwrap();
            assert_eq!(out.failed_entry_count(), 0, "{out:?}");
        }
    }

    /// Sends a raw message body straight to the queue.
    pub async fn send_raw(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// How many messages the dead-letter queue holds.
    pub async fn dlq_depth(&self) -> usize {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.dlq_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap();
        attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Stops a notebook, as a person would, and waits until it is Stopped.
    pub async fn stop_notebook(&self, name: &str) {
        self.sagemaker
            .stop_notebook_instance()
            .notebook_instance_name(name)
            .send()
            .await
            .unwrap();
        self.wait_status(name, "Stopped", Duration::from_secs(30))
            .await;
    }

    /// Creates a notebook and waits until it is InService.
    pub async fn notebook(&self, name: &'static str, root_access: bool) {
        demo::seed_notebook(
            &self.sagemaker,
            &demo::SeedNotebook {
                name,
                direct_internet_access: false,
                in_vpc: true,
                root_access,
                platform: None,
            },
        )
        .await
        .unwrap();
        self.wait_status(name, "InService", Duration::from_secs(30))
            .await;
    }

    /// Creates a notebook with direct internet access outside a VPC (it fails SageMaker.1 and
    /// .2, which cannot be fixed in place: it is flagged) and waits until it is InService.
    pub async fn flagged_notebook(&self, name: &'static str) {
        demo::seed_notebook(
            &self.sagemaker,
            &demo::SeedNotebook {
                name,
                direct_internet_access: true,
                in_vpc: false,
                root_access: false,
                platform: None,
            },
        )
        .await
        .unwrap();
        self.wait_status(name, "InService", Duration::from_secs(30))
            .await;
    }

    /// DescribeNotebookInstance of a notebook.
    async fn describe_output(
        &self,
        name: &str,
    ) -> aws_sdk_sagemaker::operation::describe_notebook_instance::DescribeNotebookInstanceOutput
    {
        self.sagemaker
            .describe_notebook_instance()
            .notebook_instance_name(name)
            .send()
            .await
            .unwrap()
    }

    /// (status, RootAccess) of a notebook.
    pub async fn describe(&self, name: &str) -> (String, String) {
        let out = self.describe_output(name).await;
        (
            out.notebook_instance_status().unwrap().as_str().to_string(),
            out.root_access().unwrap().as_str().to_string(),
        )
    }

    pub async fn wait_status(&self, name: &str, status: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if self.describe(name).await.0 == status {
                return;
            }
            assert!(Instant::now() < deadline, "{name} never became {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// (SubnetId, SecurityGroups, KmsKeyId) of a notebook, from DescribeNotebookInstance.
    pub async fn network_of(&self, name: &str) -> (String, Vec<String>, Option<String>) {
        let nb = self.describe_output(name).await;
        (
            nb.subnet_id().unwrap_or_default().to_string(),
            nb.security_groups().to_vec(),
            nb.kms_key_id().map(str::to_string),
        )
    }

    /// The journal, read by a second connection while the daemon writes (WAL).
    pub fn journal(&self) -> Vec<Remediation> {
        if self.table.is_some() {
            return self.store().remediations(None, 10_000).unwrap();
        }
        SqliteStore::open(&self.store_path())
            .unwrap()
            .remediations(None, 10_000)
            .unwrap()
    }

    /// Waits until `done` holds for the journal.
    pub async fn wait_journal(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(&[Remediation]) -> bool,
    ) -> Vec<Remediation> {
        let deadline = Instant::now() + within;
        loop {
            let journal = self.journal();
            if done(&journal) {
                return journal;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; journal: {journal:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The bus the daemon's notifications go to in these tests.
pub const NOTIFICATION_BUS: &str = "smr-notifications";

impl World {
    /// The bus [`NOTIFICATION_BUS`] with a rule routing the daemon's events (source
    /// `sagemaker-remediator`) to a new queue; the queue's URL.
    pub async fn notification_queue(&self) -> String {
        self.events
            .create_event_bus()
            .name(NOTIFICATION_BUS)
            .send()
            .await
            .unwrap();
        let url = create_queue(&self.sqs, "smr-notices", []).await;
        let arn = queue_arn(&self.sqs, &url).await;
        self.events
            .put_rule()
            .name("smr-notices")
            .event_bus_name(NOTIFICATION_BUS)
            .event_pattern(json!({ "source": ["sagemaker-remediator"] }).to_string())
            .send()
            .await
            .unwrap();
        self.events
            .put_targets()
            .rule("smr-notices")
            .event_bus_name(NOTIFICATION_BUS)
            .targets(Target::builder().id("notices").arn(arn).build().unwrap())
            .send()
            .await
            .unwrap();
        url
    }

    /// Takes messages off `queue` (long polls, each deleted once read) and adds their bodies,
    /// parsed, to `events` until `done` holds; panics after `within`.
    pub async fn receive_events(
        &self,
        queue: &str,
        events: &mut Vec<Value>,
        within: Duration,
        what: &str,
        done: impl Fn(&[Value]) -> bool,
    ) {
        let deadline = Instant::now() + within;
        while !done(events) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; received: {events:#?}"
            );
            let out = self
                .sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            for m in out.messages() {
                events.push(serde_json::from_str(m.body().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(queue)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// A queue with these attributes; its URL.
async fn create_queue<const N: usize>(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: [(QueueAttributeName, String); N],
) -> String {
    let mut request = sqs.create_queue().queue_name(name);
    for (key, value) in attributes {
        request = request.attributes(key, value);
    }
    let out = request.send().await.unwrap();
    out.queue_url.expect("CreateQueue returns the queue URL")
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()
        .get(&QueueAttributeName::QueueArn)
        .unwrap()
        .clone()
}

/// A running daemon process.
pub struct Daemon {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Daemon {
    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// GET a path of the ops endpoint: (status code, body).
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut response = String::new();
        s.read_to_string(&mut response).ok()?;
        let code = response.split_whitespace().nth(1)?.parse().ok()?;
        let body = response.split_once("\r\n\r\n")?.1.to_string();
        Some((code, body))
    }

    /// Waits for /readyz to answer 200.
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((200, _)) = self.get("/readyz") {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("daemon exited with {status}: {}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "daemon not ready: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (at most 60 s) for the daemon to abort at the crash point `point` (`STEP:PHASE`).
    pub fn wait_crashed(&mut self, point: &str) {
        let status = self.wait(Duration::from_secs(60));
        let log = self.log_text();
        assert!(
            !status.success(),
            "{point}: the daemon should have aborted: {log}"
        );
        assert!(
            log.contains(&format!("crash point {point}")),
            "{point}: {log}"
        );
    }

    /// Waits (at most `within`) until the log holds `needle` at least `n` times.
    pub async fn wait_log(&self, needle: &str, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.log_text().matches(needle).count() < n {
            assert!(
                Instant::now() < deadline,
                "fewer than {n} {needle}: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A counter's value from /metrics (0 when absent).
    pub fn metric(&self, series: &str) -> f64 {
        let Some((_, body)) = self.get("/metrics") else {
            return 0.0;
        };
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Sends a signal with kill(1).
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM, then wait (at most 40 s) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("-TERM");
        self.wait(Duration::from_secs(40))
    }

    /// SIGKILL: no cleanup at all, like a crash or an OOM kill.
    pub fn kill(&mut self) {
        self.signal("-KILL");
        let _ = self.wait(Duration::from_secs(10));
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not exit: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The four event families, each naming one notebook: (source, detail-type, detail).
pub fn family_event(family: &str, name: &str) -> (String, String, Value) {
    let arn = format!(
        "arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/{}",
        name.to_lowercase()
    );
    match family {
        "securityhub" => (
            "aws.securityhub".into(),
            "Security Hub Findings - Imported".into(),
            json!({ "findings": [{
                "SchemaVersion": "2018-10-08",
                "Id": format!("arn:aws:securityhub:{REGION}:{ACCOUNT}:security-control/SageMaker.3/finding/{name}"),
                "ProductArn": format!("arn:aws:securityhub:{REGION}::product/aws/securityhub"),
                "GeneratorId": "security-control/SageMaker.3",
                "AwsAccountId": ACCOUNT,
                "Region": REGION,
                "Compliance": { "Status": "FAILED", "SecurityControlId": "SageMaker.3" },
                "RecordState": "ACTIVE",
                "Workflow": { "Status": "NEW" },
                "Resources": [{
                    "Type": "AwsSageMakerNotebookInstance",
                    "Id": arn,
                    "Region": REGION,
                    "Details": { "AwsSageMakerNotebookInstance": { "NotebookInstanceName": name } }
                }]
            }]}),
        ),
        "config" => (
            "aws.config".into(),
            "Config Rules Compliance Change".into(),
            json!({
                "resourceId": name,
                "awsRegion": REGION,
                "awsAccountId": ACCOUNT,
                "configRuleName": "securityhub-sagemaker-notebook-instance-root-access-check-a1b2c3",
                "recordVersion": "1.0",
                "configRuleARN": format!("arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-abc123"),
                "messageType": "ComplianceChangeNotification",
                "newEvaluationResult": {
                    "evaluationResultIdentifier": { "evaluationResultQualifier": {
                        "configRuleName": "securityhub-sagemaker-notebook-instance-root-access-check-a1b2c3",
                        "resourceType": "AWS::SageMaker::NotebookInstance",
                        "resourceId": name
                    }},
                    "complianceType": "NON_COMPLIANT"
                },
                "resourceType": "AWS::SageMaker::NotebookInstance"
            }),
        ),
        "cloudtrail" => (
            "aws.sagemaker".into(),
            "AWS API Call via CloudTrail".into(),
            json!({
                "eventVersion": "1.08",
                "userIdentity": { "type": "AssumedRole", "accountId": ACCOUNT },
                "eventTime": "2026-11-22T12:00:00Z",
                "eventSource": "sagemaker.amazonaws.com",
                "eventName": "CreateNotebookInstance",
                "awsRegion": REGION,
                "requestParameters": {
                    "notebookInstanceName": name,
                    "instanceType": "ml.t3.medium",
                    "rootAccess": "Enabled"
                },
                "responseElements": { "notebookInstanceArn": arn },
                "recipientAccountId": ACCOUNT
            }),
        ),
        "sagemaker" => (
            "aws.sagemaker".into(),
            "SageMaker Notebook Instance State Change".into(),
            json!({
                "NotebookInstanceArn": arn,
                "NotebookInstanceName": name,
                "NotebookInstanceStatus": "InService",
                "InstanceType": "ml.t3.medium",
                "RootAccess": "Enabled",
                "CreationTime": 1795000000000_i64,
                "LastModifiedTime": 1795000000000_i64,
                "Tags": {}
            }),
        ),
        other => panic!("unknown family {other}"),
    }
}
