//! Configuration: built-in defaults < TOML file (`--config FILE`) < `SMR_*` environment variables,
//! checked against the schema and validated, with every problem reported at once.
//!
//! The defaults are safe: with no configuration the tool audits the caller's own account in the
//! default region of the credential chain and changes nothing. Changing anything takes two
//! opt-ins: `mode = "enforce"` and `enforce = true` on the account ([`Config::enforces`]); what
//! is done about each failed control is `actions` ([`Config::action`]).
//!
//! [`Config::warnings`] lists settings that are legal but probably not meant (enforce mode with
//! no account opted in, ...); `validate-config` prints them without failing.
//!
//! # Loading
//!
//! [`Config::load`] merges the layers with figment, then (because serde stops at the first error)
//! walks the merged tree against the known schema itself: unknown keys, type errors and semantic
//! problems ([`Config::validate`]) are all collected into one [`ConfigErrors`], each with its key
//! path (`accounts[1].external_id`) and, when known, where the value came from (the file path or
//! `environment variable SMR_X`).
//!
//! # Environment
//!
//! `SMR_` followed by the key path in upper case with `__` between the levels, e.g.
//! `SMR_AUDIT__CONCURRENCY=8`, `SMR_LOG__FORMAT=json`, `SMR_MODE=enforce`,
//! `SMR_DAEMON__QUEUE_URL=https://sqs.us-east-1.amazonaws.com/111122223333/smr-events`,
//! `SMR_CONTROLS__REQUIRED_TAG_KEYS='["owner","team"]'`,
//! `SMR_ACTIONS='{"SageMaker.8"="fix"}'` (control ids contain a dot: quote them in a table),
//! `SMR_REMEDIATION__TAG_VALUES='{owner="platform-team"}'` or
//! `SMR_ACCOUNTS='[{id="111122223333", role_arn="arn:aws:iam::111122223333:role/Audit",
//! enforce=true}]'`.
//! Values are parsed like figment's `Env` provider (numbers, booleans, `[..]` arrays, `{..}`
//! tables, otherwise strings). Tables (`actions`, `tag_values`) are merged key by key with the
//! lower layers; arrays (`accounts`, ...) replace them. Any other `SMR_*` variable is an unknown
//! key, except those listed in [`RESERVED_ENV_VARS`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::{Deserialize, Serialize};

use crate::controls::Params;
use crate::model::ControlId;

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "SMR_";

/// Separator between nested keys in environment variable names (`SMR_AUDIT__CONCURRENCY`).
pub const ENV_SEPARATOR: &str = "__";

/// `SMR_*` variables that are not configuration keys (they are read by the CLI itself, e.g. the
/// path of the config file) and are therefore not reported as unknown keys.
pub const RESERVED_ENV_VARS: &[&str] = &["SMR_CONFIG"];

/// Security Hub allows at most this many `requiredKeyTags` for SageMaker.6/.7.
pub const MAX_REQUIRED_TAG_KEYS: usize = 6;

/// The longest tag key AWS accepts, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 128;

/// The largest accepted `audit.concurrency`.
pub const MAX_CONCURRENCY: usize = 256;

/// The notebook platform identifier Security Hub's SageMaker.8 accepts by default.
pub const DEFAULT_PLATFORM: &str = "notebook-al2-v3";

/// The longest tag value AWS accepts, in characters.
pub const MAX_TAG_VALUE_CHARS: usize = 256;

/// The largest accepted `daemon.receive_concurrency` (concurrent SQS long-poll loops).
pub const MAX_RECEIVE_CONCURRENCY: usize = 10;

/// The largest accepted `daemon.reconcile_concurrency`.
pub const MAX_RECONCILE_CONCURRENCY: usize = 256;

/// The largest accepted `daemon.sweep_jitter` (a fraction of the sweep interval).
pub const MAX_SWEEP_JITTER: f64 = 0.5;

/// The largest accepted `daemon.shutdown_grace_secs`.
pub const MAX_SHUTDOWN_GRACE_SECS: u64 = 3600;

/// The accepted range of `aws.requests_per_second`.
pub const REQUESTS_PER_SECOND_RANGE: (f64, f64) = (0.1, 1000.0);

/// The largest accepted `aws.call_timeout_secs`.
pub const MAX_CALL_TIMEOUT_SECS: u64 = 900;

/// The largest accepted `remediation.step_timeout_secs` (one day).
pub const MAX_STEP_TIMEOUT_SECS: u64 = 86_400;

/// The largest accepted `remediation.poll_interval_secs` and `max_poll_interval_secs`.
pub const MAX_POLL_INTERVAL_SECS: u64 = 3600;

/// The largest accepted `remediation.max_update_attempts`.
pub const MAX_UPDATE_ATTEMPTS: u32 = 100;

/// The longest accepted retry delay after a failed remediation and quiet period, in seconds
/// (30 days).
pub const MAX_RETRY_SECS: u64 = 30 * 86_400;

/// The largest accepted `daemon.error_backoff_secs` and `max_error_backoff_secs` (one day).
pub const MAX_ERROR_BACKOFF_SECS: u64 = 86_400;

/// SageMaker accepts at most this many `SecurityGroupIds` on a notebook instance.
pub const MAX_SECURITY_GROUPS: usize = 5;

/// Default `remediation.exemption_tag_key`.
pub const DEFAULT_EXEMPTION_TAG_KEY: &str = "sagemaker-remediator:exempt";

/// Default `remediation.flag_tag_key`.
pub const DEFAULT_FLAG_TAG_KEY: &str = "sagemaker-remediator:recreate-required";

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `audit` (the default): evaluate, plan and record, call no mutating API. `enforce`: act,
    /// but only in accounts listed with `enforce = true`.
    pub mode: Mode,
    /// What to do about each failed control. Always holds all eight controls after loading
    /// (absent keys take their defaults, see [`Action::default_for`]); use [`Config::action`].
    pub actions: BTreeMap<ControlId, Action>,
    /// Parameters of the Security Hub controls (SageMaker.6/.7 tags, SageMaker.8 platforms).
    pub controls: ControlsConfig,
    /// How remediation is carried out: exemption and flag tags, tag values, timeouts.
    pub remediation: RemediationConfig,
    /// What to audit and how hard to drive the AWS APIs while doing so.
    pub audit: AuditConfig,
    /// The long-running `run` daemon: event intake, sweeps, concurrency, store, HTTP listener.
    pub daemon: DaemonConfig,
    /// AWS client behaviour: rate limit and per-call timeout.
    pub aws: AwsConfig,
    /// Log output.
    pub log: LogConfig,
    /// Accounts to audit. Empty means the caller's own account with the default credentials.
    pub accounts: Vec<AccountConfig>,
}

/// Whether the remediator may change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Evaluate, plan and record; call no mutating API anywhere.
    #[default]
    Audit,
    /// Carry out the plans in accounts that opted in (`accounts[].enforce = true`); elsewhere as
    /// `Audit`.
    Enforce,
}

impl Mode {
    /// `audit` or `enforce`, as in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Audit => "audit",
            Mode::Enforce => "enforce",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do about a failed control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Fix in place (only SageMaker.3, .6, .7 and .8 can be).
    Fix,
    /// Leave the resource as it is, tag it with `remediation.flag_tag_key` and report it.
    Flag,
    /// Do nothing beyond recording the evaluation.
    Ignore,
}

impl Action {
    /// `fix`, `flag` or `ignore`, as in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Fix => "fix",
            Action::Flag => "flag",
            Action::Ignore => "ignore",
        }
    }

    /// The built-in action for `control`: `fix` for SageMaker.3, .6 and .7; `flag` for the
    /// others, including SageMaker.8 (a platform change swaps the OS and JupyterLab, so it is
    /// opt-in) and those that cannot be fixed in place (.1, .2, .4, .5).
    pub fn default_for(control: ControlId) -> Action {
        control.default_action()
    }

    /// All eight controls with their built-in actions.
    pub fn defaults() -> BTreeMap<ControlId, Action> {
        ControlId::ALL
            .into_iter()
            .map(|control| (control, Action::default_for(control)))
            .collect()
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `action = "fix"` is possible for `control`; if not, why (for messages).
pub fn fix_unsupported(control: ControlId) -> Option<&'static str> {
    control.fix_unsupported()
}

/// Parameters of the Security Hub controls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlsConfig {
    /// SageMaker.6/.7 `requiredKeyTags`: 0-6 case-sensitive tag keys that every resource must
    /// carry. Empty means "at least one tag whose key does not start with `aws:`".
    pub required_tag_keys: Vec<String>,
    /// SageMaker.8: the notebook platform identifiers that pass (Security Hub's value is
    /// `notebook-al2-v3`). Must not be empty.
    pub supported_platforms: Vec<String>,
    /// SageMaker.8 remediation target platform; must be one of `supported_platforms`.
    pub platform_target: String,
}

/// What to audit and with how much parallelism.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Regions to audit (e.g. `us-east-1`). Empty means the default region of the credential
    /// chain. An account's own `regions` take precedence.
    pub regions: Vec<String>,
    /// Concurrent Describe/ListTags calls per account and region, 1 to 256.
    pub concurrency: usize,
}

/// How remediation is carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemediationConfig {
    /// Resources carrying a tag with this key (any value) are skipped and reported as exempt.
    /// A valid tag key, not starting with `aws:`.
    pub exemption_tag_key: String,
    /// Tag put on flagged resources; its value lists the failing controls, e.g.
    /// `SageMaker.1 SageMaker.2`. A valid tag key, not starting with `aws:`, different from
    /// `exemption_tag_key`.
    pub flag_tag_key: String,
    /// Tag key -> value added by the SageMaker.6/.7 fix. A required key
    /// (`controls.required_tag_keys`) without a value here cannot be fixed: the resource is
    /// flagged instead. With no required keys, an untagged resource gets all of these (or is
    /// flagged when this is empty). Existing tag values are never overwritten.
    pub tag_values: BTreeMap<String, String>,
    /// Subnet (`subnet-...`) written into recreation plans of notebook instances failing
    /// SageMaker.1/.2. Empty means a placeholder in the plan.
    pub recreate_subnet_id: String,
    /// Security groups (`sg-...`, at most 5) for recreation plans; needs `recreate_subnet_id`.
    pub recreate_security_group_ids: Vec<String>,
    /// Longest wait of one workflow step (e.g. for a notebook to reach Stopped or InService),
    /// in seconds, 1 to 86400. Real AWS transitions take minutes.
    pub step_timeout_secs: u64,
    /// First poll delay while waiting for a transition, in seconds (1-3600); it doubles up to
    /// `max_poll_interval_secs`.
    pub poll_interval_secs: u64,
    /// Longest poll delay while waiting, in seconds; at least `poll_interval_secs`, at most 3600.
    pub max_poll_interval_secs: u64,
    /// How often an `UpdateNotebookInstance` (or `AddTags`) is tried before the remediation is
    /// given up as failed, 1 to 100.
    pub max_update_attempts: u32,
    /// After a remediation failed, how long until the same plan is tried again on an unchanged
    /// resource, in seconds (60 to 30 days); it doubles per consecutive failure up to
    /// `max_retry_failed_after_secs`. A change of the resource's settings or of the plan makes
    /// it due at once.
    pub retry_failed_after_secs: u64,
    /// The longest of those retry delays, in seconds; at least `retry_failed_after_secs`, at
    /// most 30 days.
    pub max_retry_failed_after_secs: u64,
    /// Consecutive failed attempts of one plan after which the resource "needs a person" and is
    /// left alone until it or the plan changes, 1 to 100. Permanent errors (access denied,
    /// invalid request) need a person at once.
    pub max_failed_fixes: u32,
    /// After someone started a notebook that our fix held stopped, how long no disruptive fix
    /// touches that notebook, in seconds (0 to 30 days).
    pub quiet_period_secs: u64,
}

/// The long-running `run` daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// URL of the SQS queue receiving the EventBridge events (`https://sqs.<region>.amazonaws.com/
    /// <account>/<name>`). Empty means no event intake: periodic sweeps only.
    pub queue_url: String,
    /// Concurrent SQS long-poll loops, 1 to 10.
    pub receive_concurrency: usize,
    /// Resources reconciled at once, 1 to 256.
    pub reconcile_concurrency: usize,
    /// Period of the full sweep over every resource, in seconds. A sweep always runs at
    /// start-up; 0 means only then (events alone drive the rest, and lost events stay lost).
    pub sweep_interval_secs: u64,
    /// Random spread of each sweep's start, as a fraction of `sweep_interval_secs`, 0.0 to 0.5.
    pub sweep_jitter: f64,
    /// The SQLite journal file (created when missing).
    pub store_path: PathBuf,
    /// Socket address of the HTTP listener for `/healthz`, `/readyz` and `/metrics`, e.g.
    /// `127.0.0.1:9464` (`0.0.0.0:9464` in a container).
    pub listen: String,
    /// On SIGTERM, how long the step in flight may take to finish, in seconds, 1 to 3600. Keep it
    /// below the orchestrator's stop timeout (ECS: 30 s).
    pub shutdown_grace_secs: u64,
    /// First retry delay after a failed reconcile, in seconds (1-86400); it doubles per failure up
    /// to `max_error_backoff_secs`.
    pub error_backoff_secs: u64,
    /// Longest retry delay after failed reconciles, in seconds; at least `error_backoff_secs`, at
    /// most 86400.
    pub max_error_backoff_secs: u64,
    /// Lifetime of the per-resource claim that keeps two reconciles of one resource apart, in
    /// seconds; must exceed `remediation.step_timeout_secs`.
    pub claim_ttl_secs: u64,
}

/// AWS client behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsConfig {
    /// Request rate limit per account and service, applied before the SDK (whose own retries
    /// handle throttling), 0.1 to 1000.
    pub requests_per_second: f64,
    /// Time budget of one AWS call, the SDK's own retries included, in seconds, 1 to 900.
    pub call_timeout_secs: u64,
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Output format: `text` for people, `json` for log pipelines.
    pub format: LogFormat,
    /// A `tracing` filter directive, e.g. `info` or `sagemaker_remediator=debug,info`.
    pub level: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// One AWS account to audit, reached directly or through `sts:AssumeRole`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The 12-digit account id (required).
    pub id: String,
    /// IAM role to assume in the account, `arn:aws:iam::<id>:role/<name>`. Without it the default
    /// credentials are used as they are (they must belong to this account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// `ExternalId` sent with `sts:AssumeRole` (2-1224 characters of `[\w+=,.@:/-]`); the member
    /// role's trust policy requires it. Only valid together with `role_arn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Regions to audit in this account. Empty means `audit.regions`.
    #[serde(default)]
    pub regions: Vec<String>,
    /// `RoleSessionName` for `sts:AssumeRole` (2-64 characters of `[\w+=,.@-]`); defaults to a
    /// name chosen by the AWS client code. Only valid together with `role_arn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_name: Option<String>,
    /// Opt this account in to `mode = "enforce"`: only then are remediations carried out in it.
    #[serde(default)]
    pub enforce: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Audit,
            actions: Action::defaults(),
            controls: ControlsConfig::default(),
            remediation: RemediationConfig::default(),
            audit: AuditConfig::default(),
            daemon: DaemonConfig::default(),
            aws: AwsConfig::default(),
            log: LogConfig::default(),
            accounts: Vec::new(),
        }
    }
}

impl Default for RemediationConfig {
    fn default() -> Self {
        RemediationConfig {
            exemption_tag_key: DEFAULT_EXEMPTION_TAG_KEY.to_string(),
            flag_tag_key: DEFAULT_FLAG_TAG_KEY.to_string(),
            tag_values: BTreeMap::new(),
            recreate_subnet_id: String::new(),
            recreate_security_group_ids: Vec::new(),
            step_timeout_secs: 1800,
            poll_interval_secs: 15,
            max_poll_interval_secs: 60,
            max_update_attempts: 3,
            retry_failed_after_secs: 3600,
            max_retry_failed_after_secs: 86_400,
            max_failed_fixes: 3,
            quiet_period_secs: 86_400,
        }
    }
}

impl RemediationConfig {
    /// `step_timeout_secs` as a duration.
    pub fn step_timeout(&self) -> Duration {
        Duration::from_secs(self.step_timeout_secs)
    }

    /// `poll_interval_secs` as a duration.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_secs)
    }

    /// `max_poll_interval_secs` as a duration.
    pub fn max_poll_interval(&self) -> Duration {
        Duration::from_secs(self.max_poll_interval_secs)
    }

    /// The failure memory's settings.
    pub fn retry_policy(&self) -> crate::policy::retry::RetryPolicy {
        crate::policy::retry::RetryPolicy {
            first: Duration::from_secs(self.retry_failed_after_secs),
            max: Duration::from_secs(self.max_retry_failed_after_secs),
            max_failures: self.max_failed_fixes,
            quiet: Duration::from_secs(self.quiet_period_secs),
        }
    }

    /// `recreate_subnet_id`, or `None` when empty (the plan shows a placeholder).
    pub fn recreate_subnet(&self) -> Option<&str> {
        Some(self.recreate_subnet_id.as_str()).filter(|s| !s.is_empty())
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            queue_url: String::new(),
            receive_concurrency: 1,
            reconcile_concurrency: 8,
            sweep_interval_secs: 3600,
            sweep_jitter: 0.1,
            store_path: PathBuf::from("sagemaker-remediator.db"),
            listen: "127.0.0.1:9464".to_string(),
            shutdown_grace_secs: 25,
            error_backoff_secs: 5,
            max_error_backoff_secs: 900,
            claim_ttl_secs: 60,
        }
    }
}

impl DaemonConfig {
    /// `queue_url`, or `None` when empty (no event intake).
    pub fn intake_queue_url(&self) -> Option<&str> {
        Some(self.queue_url.as_str()).filter(|s| !s.is_empty())
    }

    /// The sweep period, or `None` for `sweep_interval_secs = 0` (only the start-up sweep).
    pub fn sweep_interval(&self) -> Option<Duration> {
        (self.sweep_interval_secs > 0).then(|| Duration::from_secs(self.sweep_interval_secs))
    }

    /// `listen` parsed ([`Config::validate`] rejects values for which this fails).
    pub fn listen_addr(&self) -> Result<SocketAddr, std::net::AddrParseError> {
        self.listen.parse()
    }

    /// `shutdown_grace_secs` as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// `error_backoff_secs` as a duration.
    pub fn error_backoff(&self) -> Duration {
        Duration::from_secs(self.error_backoff_secs)
    }

    /// `max_error_backoff_secs` as a duration.
    pub fn max_error_backoff(&self) -> Duration {
        Duration::from_secs(self.max_error_backoff_secs)
    }

    /// `claim_ttl_secs` as a duration.
    pub fn claim_ttl(&self) -> Duration {
        Duration::from_secs(self.claim_ttl_secs)
    }
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            requests_per_second: 10.0,
            call_timeout_secs: 60,
        }
    }
}

impl AwsConfig {
    /// `call_timeout_secs` as a duration.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_secs(self.call_timeout_secs)
    }
}

impl Default for ControlsConfig {
    fn default() -> Self {
        ControlsConfig {
            required_tag_keys: Vec::new(),
            supported_platforms: vec![DEFAULT_PLATFORM.to_string()],
            platform_target: DEFAULT_PLATFORM.to_string(),
        }
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            regions: Vec::new(),
            concurrency: 16,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".to_string(),
        }
    }
}

/// One problem found while loading or validating the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    /// Key path of the offending value, e.g. `audit.concurrency`, `accounts[1].external_id` or
    /// `controls.required_tag_keys[2]`. Empty for problems with a whole source (a missing file,
    /// invalid TOML).
    pub key: String,
    /// What is wrong, e.g. `unknown key; did you mean `concurrency`?`.
    pub message: String,
    /// Where the value came from when known: the config file path (or `config file` for
    /// [`Config::load_from`]) or `environment variable SMR_X`. `None` for built-in defaults, for
    /// an unreadable file (the message names it) and for [`Config::validate`] on a hand-built
    /// value.
    pub source: Option<String>,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)?;
        } else {
            write!(f, "{}: {}", self.key, self.message)?;
        }
        match &self.source {
            Some(source) => write!(f, " (from {source})"),
            None => Ok(()),
        }
    }
}

/// Every problem found in the configuration; `Display` prints one per line.
#[derive(Debug, thiserror::Error)]
#[error("{}", render_problems(.problems))]
pub struct ConfigErrors {
    /// The problems, in the order found: source problems, then schema and type problems in key
    /// order, then semantic problems.
    pub problems: Vec<ConfigProblem>,
}

fn render_problems(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigErrors {
    /// The key paths of all problems, in order (handy in tests and for counting).
    pub fn keys(&self) -> Vec<&str> {
        self.problems.iter().map(|p| p.key.as_str()).collect()
    }

    /// The first problem at exactly `key`, if any.
    pub fn find(&self, key: &str) -> Option<&ConfigProblem> {
        self.problems.iter().find(|p| p.key == key)
    }
}

impl Config {
    /// Loads the configuration: built-in defaults < `file` (TOML) < `SMR_*` environment, then
    /// validates it. Returns every problem at once. A `file` that does not exist is a problem,
    /// not a silent default.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigErrors> {
        let mut problems = Vec::new();
        let content = match file {
            None => None,
            Some(path) => match read_config_file(path) {
                Ok(content) => Some((path.display().to_string(), content)),
                Err(problem) => {
                    problems.push(problem);
                    None
                }
            },
        };
        let env = process_env(&mut problems);
        if !problems.is_empty() {
            return Err(ConfigErrors { problems });
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let file = content
            .as_ref()
            .map(|(origin, text)| (origin.as_str(), text.as_str()));
        load_layers(file, &env)
    }

    /// Like [`Config::load`] but from explicit sources, for tests: the file content as a TOML
    /// string (reported as source `config file`) and the environment as `(name, value)` pairs
    /// (only `SMR_*` names are considered).
    pub fn load_from(toml: Option<&str>, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        load_layers(toml.map(|text| ("config file", text)), env)
    }

    /// Semantic checks (account ids, ARNs, external ids, regions, tag keys and values, platforms,
    /// actions, ranges, URLs and addresses, log level). Returns every problem at once; sources
    /// are not known here. Warnings are separate: [`Config::warnings`].
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut issues = Vec::new();
        self.check(&mut issues);
        if issues.is_empty() {
            return Ok(());
        }
        let problems = issues
            .into_iter()
            .map(|issue| ConfigProblem {
                key: issue.path.to_string(),
                message: issue.message,
                source: None,
            })
            .collect();
        Err(ConfigErrors { problems })
    }

    /// The control parameters for [`crate::controls`].
    pub fn control_params(&self) -> Params {
        Params {
            required_tag_keys: self.controls.required_tag_keys.clone(),
            supported_platforms: self.controls.supported_platforms.clone(),
        }
    }

    /// The regions to audit in `account`: its own `regions`, or `audit.regions` when it has none.
    /// Empty means the default region of the credential chain.
    pub fn regions_for<'a>(&'a self, account: &'a AccountConfig) -> &'a [String] {
        if account.regions.is_empty() {
            &self.audit.regions
        } else {
            &account.regions
        }
    }

    /// What to do about a failed `control`: its entry in `actions`, or the built-in default
    /// ([`Action::default_for`]) for a hand-built config that lacks it.
    pub fn action(&self, control: ControlId) -> Action {
        self.actions
            .get(&control)
            .copied()
            .unwrap_or_else(|| Action::default_for(control))
    }

    /// Whether remediations are carried out in `account_id`: `mode` is `enforce` and the account
    /// is listed with `enforce = true`. Everywhere else the remediator plans and records only.
    pub fn enforces(&self, account_id: &str) -> bool {
        self.mode == Mode::Enforce
            && self
                .accounts
                .iter()
                .any(|account| account.enforce && account.id == account_id)
    }

    /// Legal but probably unintended settings, for `validate-config` to print (they do not stop
    /// the tool): enforce mode with no account opted in, accounts opted in while in audit mode,
    /// SageMaker.6/.7 set to `fix` without a `tag_values` entry for every required tag key (or,
    /// with no required keys, with no `tag_values` at all while some account is enforced).
    /// Sources are not known here; the built-in defaults give no warnings.
    pub fn warnings(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let warn = |out: &mut Vec<ConfigProblem>, path: &KeyPath, message: String| {
            out.push(ConfigProblem {
                key: path.to_string(),
                message,
                source: None,
            });
        };
        let root = KeyPath::root();
        let opted_in = self.accounts.iter().any(|a| a.enforce);
        match self.mode {
            Mode::Enforce if !opted_in => warn(
                &mut out,
                &root.key("mode"),
                "is \"enforce\" but no account sets enforce = true: nothing will be changed \
                 anywhere"
                    .to_string(),
            ),
            Mode::Audit => {
                for (i, account) in self.accounts.iter().enumerate() {
                    if account.enforce {
                        warn(
                            &mut out,
                            &root.key("accounts").index(i).key("enforce"),
                            format!(
                                "has no effect while mode = \"audit\": account {} is only \
                                 audited",
                                account.id
                            ),
                        );
                    }
                }
            }
            Mode::Enforce => {}
        }

        let fixing: Vec<&str> = [ControlId::SageMaker6, ControlId::SageMaker7]
            .into_iter()
            .filter(|&c| self.action(c) == Action::Fix)
            .map(ControlId::as_str)
            .collect();
        if !fixing.is_empty() {
            let controls = fixing.join("/");
            let tag_values = root.key("remediation").key("tag_values");
            let required = &self.controls.required_tag_keys;
            if required.is_empty() {
                // only where it matters: by default (audit only) this would always show
                let enforcing = self.mode == Mode::Enforce && opted_in;
                if enforcing && self.remediation.tag_values.is_empty() {
                    warn(
                        &mut out,
                        &tag_values,
                        format!(
                            "is empty while {controls} is set to fix: untagged resources will be \
                             flagged instead (add e.g. owner = \"platform-team\")"
                        ),
                    );
                }
            } else {
                let missing: Vec<&String> = required
                    .iter()
                    .filter(|key| !self.remediation.tag_values.contains_key(*key))
                    .collect();
                if !missing.is_empty() {
                    warn(
                        &mut out,
                        &tag_values,
                        format!(
                            "has no value for the required tag key(s) {} while {controls} is set \
                             to fix: resources missing them will be flagged instead",
                            missing
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            }
        }
        out
    }

    fn check(&self, out: &mut Vec<Issue>) {
        let controls = KeyPath::root().key("controls");
        let tags = controls.key("required_tag_keys");
        let keys = &self.controls.required_tag_keys;
        if keys.len() > MAX_REQUIRED_TAG_KEYS {
            out.push(Issue::new(
                &tags,
                format!(
                    "at most {MAX_REQUIRED_TAG_KEYS} keys are allowed (Security Hub \
                     requiredKeyTags), found {}",
                    keys.len()
                ),
            ));
        }
        for (i, key) in keys.iter().enumerate() {
            let path = tags.index(i);
            if let Some(message) = tag_key_problem(key) {
                out.push(Issue::new(&path, message));
            }
            if let Some(first) = keys[..i].iter().position(|k| k == key) {
                out.push(Issue::new(
                    &path,
                    format!("duplicate of {}", tags.index(first)),
                ));
            }
        }

        let platforms = controls.key("supported_platforms");
        let supported = &self.controls.supported_platforms;
        if supported.is_empty() {
            out.push(Issue::new(
                &platforms,
                format!(
                    "must list at least one platform identifier, e.g. [\"{DEFAULT_PLATFORM}\"]"
                ),
            ));
        }
        for (i, platform) in supported.iter().enumerate() {
            if platform.trim().is_empty() {
                out.push(Issue::new(&platforms.index(i), "must not be empty"));
            }
        }
        let target = controls.key("platform_target");
        let wanted = &self.controls.platform_target;
        if wanted.trim().is_empty() {
            out.push(Issue::new(&target, "must not be empty"));
        } else if !supported.is_empty() && !supported.contains(wanted) {
            out.push(
                Issue::new(
                    &target,
                    format!(
                        "`{wanted}` is not one of controls.supported_platforms ({})",
                        quoted_list(supported)
                    ),
                )
                .depends_on(&platforms),
            );
        }

        let audit = KeyPath::root().key("audit");
        check_regions(&audit.key("regions"), &self.audit.regions, out);
        let concurrency = self.audit.concurrency;
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            out.push(Issue::new(
                &audit.key("concurrency"),
                format!("must be from 1 to {MAX_CONCURRENCY}, found {concurrency}"),
            ));
        }

        let level_path = KeyPath::root().key("log").key("level");
        let level = &self.log.level;
        if level.trim().is_empty() {
            out.push(Issue::new(
                &level_path,
                "must not be empty (e.g. \"info\" or \"sagemaker_remediator=debug\")",
            ));
        } else if let Err(err) = tracing_subscriber::EnvFilter::builder().parse(level) {
            out.push(Issue::new(
                &level_path,
                format!("not a valid tracing filter directive: {err}"),
            ));
        }

        let accounts = KeyPath::root().key("accounts");
        for (i, account) in self.accounts.iter().enumerate() {
            let path = accounts.index(i);
            check_account(&path, account, out);
            if let Some(first) = self.accounts[..i].iter().position(|a| a.id == account.id) {
                out.push(
                    Issue::new(
                        &path.key("id"),
                        format!(
                            "duplicate account id `{}`, already configured at {}",
                            account.id,
                            accounts.index(first)
                        ),
                    )
                    .depends_on(&accounts.index(first).key("id")),
                );
            }
        }

        self.check_actions(out);
        self.check_remediation(out);
        self.check_daemon(out);
        self.check_aws(out);
    }

    fn check_actions(&self, out: &mut Vec<Issue>) {
        let actions = KeyPath::root().key("actions");
        for (&control, &action) in &self.actions {
            if action != Action::Fix {
                continue;
            }
            if let Some(why) = fix_unsupported(control) {
                out.push(Issue::new(
                    &actions.key(control.as_str()),
                    format!(
                        "{control} cannot be fixed in place ({why}); use \"flag\" or \"ignore\""
                    ),
                ));
            }
        }
    }

    fn check_remediation(&self, out: &mut Vec<Issue>) {
        let section = KeyPath::root().key("remediation");
        let r = &self.remediation;

        let exemption = section.key("exemption_tag_key");
        if let Some(message) = tag_key_problem(&r.exemption_tag_key) {
            out.push(Issue::new(&exemption, message));
        }
        let flag = section.key("flag_tag_key");
        if let Some(message) = tag_key_problem(&r.flag_tag_key) {
            out.push(Issue::new(&flag, message));
        } else if r.flag_tag_key == r.exemption_tag_key {
            out.push(
                Issue::new(
                    &flag,
                    format!(
                        "must differ from {exemption}: flagged resources would exempt themselves"
                    ),
                )
                .depends_on(&exemption),
            );
        }

        let tag_values = section.key("tag_values");
        for (key, value) in &r.tag_values {
            let path = tag_values.key(key);
            if let Some(message) = tag_key_problem(key) {
                out.push(Issue::new(&path, message));
            } else if *key == r.exemption_tag_key {
                out.push(
                    Issue::new(
                        &path,
                        format!("is {exemption}: every resource fixed with it would become exempt"),
                    )
                    .depends_on(&exemption),
                );
            } else if *key == r.flag_tag_key {
                out.push(
                    Issue::new(
                        &path,
                        format!("is {flag}, which the remediator manages itself"),
                    )
                    .depends_on(&flag),
                );
            }
            if let Some(message) = tag_value_problem(value) {
                out.push(Issue::new(&path, message));
            }
        }

        let subnet = section.key("recreate_subnet_id");
        if !r.recreate_subnet_id.is_empty() && !is_vpc_id(&r.recreate_subnet_id, "subnet-") {
            out.push(Issue::new(
                &subnet,
                format!(
                    "must be empty or a subnet id like `subnet-0123456789abcdef0`, found `{}`",
                    r.recreate_subnet_id
                ),
            ));
        }
        let groups_path = section.key("recreate_security_group_ids");
        let groups = &r.recreate_security_group_ids;
        if !groups.is_empty() && r.recreate_subnet_id.is_empty() {
            out.push(
                Issue::new(
                    &groups_path,
                    "needs recreate_subnet_id: security groups belong to the subnet's VPC",
                )
                .depends_on(&subnet),
            );
        }
        if groups.len() > MAX_SECURITY_GROUPS {
            out.push(Issue::new(
                &groups_path,
                format!(
                    "at most {MAX_SECURITY_GROUPS} security groups are allowed, found {}",
                    groups.len()
                ),
            ));
        }
        for (i, group) in groups.iter().enumerate() {
            let item = groups_path.index(i);
            if !is_vpc_id(group, "sg-") {
                out.push(Issue::new(
                    &item,
                    format!(
                        "must be a security group id like `sg-0123456789abcdef0`, found `{group}`"
                    ),
                ));
            }
            if let Some(first) = groups[..i].iter().position(|g| g == group) {
                out.push(Issue::new(
                    &item,
                    format!("duplicate of {}", groups_path.index(first)),
                ));
            }
        }

        let step = section.key("step_timeout_secs");
        check_range(out, &step, r.step_timeout_secs, 1, MAX_STEP_TIMEOUT_SECS);
        let poll = section.key("poll_interval_secs");
        let poll_ok = check_range(out, &poll, r.poll_interval_secs, 1, MAX_POLL_INTERVAL_SECS);
        let max_poll = section.key("max_poll_interval_secs");
        if check_range(
            out,
            &max_poll,
            r.max_poll_interval_secs,
            1,
            MAX_POLL_INTERVAL_SECS,
        ) && poll_ok
            && r.max_poll_interval_secs < r.poll_interval_secs
        {
            out.push(
                Issue::new(
                    &max_poll,
                    format!(
                        "must be at least {poll} ({}), found {}",
                        r.poll_interval_secs, r.max_poll_interval_secs
                    ),
                )
                .depends_on(&poll),
            );
        }
        check_range(
            out,
            &section.key("max_update_attempts"),
            r.max_update_attempts,
            1,
            MAX_UPDATE_ATTEMPTS,
        );
        let retry = section.key("retry_failed_after_secs");
        let retry_ok = check_range(out, &retry, r.retry_failed_after_secs, 60, MAX_RETRY_SECS);
        let max_retry = section.key("max_retry_failed_after_secs");
        if check_range(
            out,
            &max_retry,
            r.max_retry_failed_after_secs,
            60,
            MAX_RETRY_SECS,
        ) && retry_ok
            && r.max_retry_failed_after_secs < r.retry_failed_after_secs
        {
            out.push(
                Issue::new(
                    &max_retry,
                    format!(
                        "must be at least {retry} ({}), found {}",
                        r.retry_failed_after_secs, r.max_retry_failed_after_secs
                    ),
                )
                .depends_on(&retry),
            );
        }
        check_range(
            out,
            &section.key("max_failed_fixes"),
            r.max_failed_fixes,
            1,
            MAX_UPDATE_ATTEMPTS,
        );
        check_range(
            out,
            &section.key("quiet_period_secs"),
            r.quiet_period_secs,
            0,
            MAX_RETRY_SECS,
        );
    }

    fn check_daemon(&self, out: &mut Vec<Issue>) {
        let section = KeyPath::root().key("daemon");
        let d = &self.daemon;

        let url = &d.queue_url;
        if !url.is_empty() {
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            let ok = rest.is_some_and(|rest| {
                !rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace)
            });
            if !ok {
                out.push(Issue::new(
                    &section.key("queue_url"),
                    format!(
                        "must be empty (no event intake) or an SQS queue URL like \
                         `https://sqs.us-east-1.amazonaws.com/111122223333/smr-events`, found \
                         `{url}`"
                    ),
                ));
            }
        }

        check_range(
            out,
            &section.key("receive_concurrency"),
            d.receive_concurrency,
            1,
            MAX_RECEIVE_CONCURRENCY,
        );
        check_range(
            out,
            &section.key("reconcile_concurrency"),
            d.reconcile_concurrency,
            1,
            MAX_RECONCILE_CONCURRENCY,
        );

        let jitter = d.sweep_jitter;
        if !(0.0..=MAX_SWEEP_JITTER).contains(&jitter) {
            out.push(Issue::new(
                &section.key("sweep_jitter"),
                format!("must be from 0.0 to {MAX_SWEEP_JITTER:.1}, found {jitter}"),
            ));
        }

        if d.store_path.as_os_str().is_empty() {
            out.push(Issue::new(
                &section.key("store_path"),
                "must not be empty (e.g. \"sagemaker-remediator.db\")",
            ));
        }

        if let Err(err) = d.listen_addr() {
            out.push(Issue::new(
                &section.key("listen"),
                format!(
                    "must be a socket address like `127.0.0.1:9464` or `[::]:9464`, found `{}` \
                     ({err})",
                    d.listen
                ),
            ));
        }

        check_range(
            out,
            &section.key("shutdown_grace_secs"),
            d.shutdown_grace_secs,
            1,
            MAX_SHUTDOWN_GRACE_SECS,
        );

        let backoff = section.key("error_backoff_secs");
        let backoff_ok = check_range(
            out,
            &backoff,
            d.error_backoff_secs,
            1,
            MAX_ERROR_BACKOFF_SECS,
        );
        let max_backoff = section.key("max_error_backoff_secs");
        if check_range(
            out,
            &max_backoff,
            d.max_error_backoff_secs,
            1,
            MAX_ERROR_BACKOFF_SECS,
        ) && backoff_ok
            && d.max_error_backoff_secs < d.error_backoff_secs
        {
            out.push(
                Issue::new(
                    &max_backoff,
                    format!(
                        "must be at least {backoff} ({}), found {}",
                        d.error_backoff_secs, d.max_error_backoff_secs
                    ),
                )
                .depends_on(&backoff),
            );
        }

        check_range(
            out,
            &section.key("claim_ttl_secs"),
            d.claim_ttl_secs,
            5,
            3600,
        );
    }

    fn check_aws(&self, out: &mut Vec<Issue>) {
        let section = KeyPath::root().key("aws");
        let rate = self.aws.requests_per_second;
        let (low, high) = REQUESTS_PER_SECOND_RANGE;
        if !(low..=high).contains(&rate) {
            out.push(Issue::new(
                &section.key("requests_per_second"),
                format!("must be from {low} to {high}, found {rate}"),
            ));
        }
        check_range(
            out,
            &section.key("call_timeout_secs"),
            self.aws.call_timeout_secs,
            1,
            MAX_CALL_TIMEOUT_SECS,
        );
    }
}

/// Reports `value` at `path` unless it lies in `low..=high`; returns whether it does.
fn check_range<T>(out: &mut Vec<Issue>, path: &KeyPath, value: T, low: T, high: T) -> bool
where
    T: PartialOrd + fmt::Display,
{
    let ok = low <= value && value <= high;
    if !ok {
        out.push(Issue::new(
            path,
            format!("must be from {low} to {high}, found {value}"),
        ));
    }
    ok
}

/// `prefix` followed by 8 or 17 lowercase hex digits (`subnet-0123abcd`, `sg-0123456789abcdef0`).
fn is_vpc_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn check_account(path: &KeyPath, account: &AccountConfig, out: &mut Vec<Issue>) {
    let id_path = path.key("id");
    let id_ok = is_account_id(&account.id);
    if !id_ok {
        out.push(Issue::new(
            &id_path,
            format!("must be a 12-digit AWS account id, found `{}`", account.id),
        ));
    }

    let role_path = path.key("role_arn");
    if let Some(arn) = &account.role_arn {
        match parse_role_arn(arn) {
            Ok(role_account) => {
                if id_ok && role_account != account.id {
                    out.push(
                        Issue::new(
                            &role_path,
                            format!(
                                "role belongs to account {role_account}, not to this account \
                                 ({id_path} = {})",
                                account.id
                            ),
                        )
                        .depends_on(&id_path),
                    );
                }
            }
            Err(why) => out.push(Issue::new(
                &role_path,
                format!(
                    "must be an IAM role ARN like \
                     `arn:aws:iam::{}:role/SageMakerRemediatorAudit` ({why}), found `{arn}`",
                    if id_ok {
                        account.id.as_str()
                    } else {
                        "111122223333"
                    }
                ),
            )),
        }
    }

    let external_path = path.key("external_id");
    if let Some(external_id) = &account.external_id {
        if account.role_arn.is_none() {
            out.push(
                Issue::new(
                    &external_path,
                    "needs role_arn: the external id is only sent with sts:AssumeRole",
                )
                .depends_on(&role_path),
            );
        }
        let len = external_id.chars().count();
        if !(2..=1224).contains(&len) {
            out.push(Issue::new(
                &external_path,
                format!("must be 2 to 1224 characters long, found {len}"),
            ));
        }
        if let Some(c) = external_id.chars().find(|&c| !is_sts_char(c, true)) {
            out.push(Issue::new(
                &external_path,
                format!("contains {c:?}; only letters, digits and _+=,.@:/- are allowed"),
            ));
        }
    }

    let session_path = path.key("session_name");
    if let Some(session) = &account.session_name {
        if account.role_arn.is_none() {
            out.push(
                Issue::new(
                    &session_path,
                    "needs role_arn: the session name is only used with sts:AssumeRole",
                )
                .depends_on(&role_path),
            );
        }
        let len = session.chars().count();
        if !(2..=64).contains(&len) {
            out.push(Issue::new(
                &session_path,
                format!("must be 2 to 64 characters long, found {len}"),
            ));
        }
        if let Some(c) = session.chars().find(|&c| !is_sts_char(c, false)) {
            out.push(Issue::new(
                &session_path,
                format!("contains {c:?}; only letters, digits and _+=,.@- are allowed"),
            ));
        }
    }

    check_regions(&path.key("regions"), &account.regions, out);
}

fn check_regions(path: &KeyPath, regions: &[String], out: &mut Vec<Issue>) {
    for (i, region) in regions.iter().enumerate() {
        let item = path.index(i);
        if !is_region(region) {
            out.push(Issue::new(
                &item,
                format!("`{region}` does not look like an AWS region (e.g. `us-east-1`)"),
            ));
        }
        if let Some(first) = regions[..i].iter().position(|r| r == region) {
            out.push(Issue::new(
                &item,
                format!("duplicate of {}", path.index(first)),
            ));
        }
    }
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Exactly 12 ASCII digits.
fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// `[\w+=,.@-]` (and `:` and `/` for external ids), as STS documents for `RoleSessionName` and
/// `ExternalId`.
fn is_sts_char(c: char, external_id: bool) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
        || (external_id && matches!(c, ':' | '/'))
}

/// `xx-xxxx-N`: two lowercase letters, one or more lowercase words, a number
/// (`us-east-1`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`).
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    !middle.is_empty()
        && first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && middle
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// Checks `arn:aws[a-z-]*:iam::<12 digits>:role/<path/name>` and returns the account id.
fn parse_role_arn(arn: &str) -> Result<&str, &'static str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err("expected arn:PARTITION:iam::ACCOUNT:role/NAME");
    };
    let partition_ok = partition
        .strip_prefix("aws")
        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
    if !partition_ok {
        return Err("the partition must be aws, aws-cn, aws-us-gov, ...");
    }
    if service != "iam" {
        return Err("the service must be iam");
    }
    if !region.is_empty() {
        return Err("IAM ARNs have no region");
    }
    if !is_account_id(account) {
        return Err("the account must be 12 digits");
    }
    let Some(role) = resource.strip_prefix("role/") else {
        return Err("the resource must be role/NAME");
    };
    let mut segments: Vec<&str> = role.split('/').collect();
    let name = segments.pop().unwrap_or_default();
    let name_ok = (1..=64).contains(&name.len()) && name.chars().all(|c| is_sts_char(c, false));
    if !name_ok {
        return Err("the role name must be 1-64 characters of letters, digits and _+=,.@-");
    }
    let path_ok = segments
        .iter()
        .all(|s| !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    if !path_ok {
        return Err("the role path must be /-separated printable ASCII segments");
    }
    Ok(account)
}

/// Why `key` is not an acceptable required tag key, if it is not.
fn tag_key_problem(key: &str) -> Option<String> {
    let len = key.chars().count();
    if !(1..=MAX_TAG_KEY_CHARS).contains(&len) {
        return Some(format!(
            "tag keys must be 1 to {MAX_TAG_KEY_CHARS} characters long, found {len}"
        ));
    }
    if key
        .get(..4)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("aws:"))
    {
        return Some(format!(
            "`{key}`: tag keys starting with `aws:` are reserved by AWS"
        ));
    }
    let bad = key.chars().find(|&c| !is_tag_char(c));
    bad.map(|c| format!("contains {c:?}; tag keys allow letters, digits, spaces and _.:/=+-@"))
}

/// Why `value` is not an acceptable tag value, if it is not.
fn tag_value_problem(value: &str) -> Option<String> {
    let len = value.chars().count();
    if len > MAX_TAG_VALUE_CHARS {
        return Some(format!(
            "tag values must be at most {MAX_TAG_VALUE_CHARS} characters long, found {len}"
        ));
    }
    let bad = value.chars().find(|&c| !is_tag_char(c));
    bad.map(|c| {
        format!("value contains {c:?}; tag values allow letters, digits, spaces and _.:/=+-@")
    })
}

/// AWS tag keys and values: Unicode letters, digits, spaces and _.:/=+-@
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric()
        || c == ' '
        || (c.is_whitespace() && !c.is_control())
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

// ---------------------------------------------------------------------------------------------
// Key paths and semantic issues

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A path into the configuration tree, displayed as `accounts[1].external_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct KeyPath(Vec<Seg>);

impl KeyPath {
    fn root() -> Self {
        KeyPath(Vec::new())
    }

    fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_string()));
        KeyPath(segs)
    }

    fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        KeyPath(segs)
    }

    /// `self` equals `other` or lies inside it.
    fn within(&self, other: &KeyPath) -> bool {
        self.0.starts_with(&other.0)
    }

    fn ends_with_key(&self, key: &str) -> bool {
        matches!(self.0.last(), Some(Seg::Key(k)) if k == key)
    }

    /// The value at this path in `root`, if there is one.
    fn lookup<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut value = root;
        for seg in &self.0 {
            value = match (seg, value) {
                (Seg::Key(k), Value::Dict(_, dict)) => dict.get(k)?,
                (Seg::Index(i), Value::Array(_, items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(value)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare_key(k) {
                        f.write_str(k)?;
                    } else {
                        // as TOML quotes it: actions."SageMaker.3"
                        write!(f, "{k:?}")?;
                    }
                }
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A key TOML writes without quotes: ASCII letters, digits, `_` and `-`.
fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A semantic problem, with the other keys it depends on (it is not reported when one of those
/// already has a type problem, since its value is then only the default).
#[derive(Debug)]
struct Issue {
    path: KeyPath,
    message: String,
    depends_on: Vec<KeyPath>,
}

impl Issue {
    fn new(path: &KeyPath, message: impl Into<String>) -> Self {
        Issue {
            path: path.clone(),
            message: message.into(),
            depends_on: Vec::new(),
        }
    }

    fn depends_on(mut self, path: &KeyPath) -> Self {
        self.depends_on.push(path.clone());
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Sources

/// One figment layer: a dictionary with its own metadata (so every value can name its source).
struct Layer {
    metadata: Metadata,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut map = Map::new();
        map.insert(Profile::Default, self.dict.clone());
        Ok(map)
    }
}

fn read_config_file(path: &Path) -> Result<String, ConfigProblem> {
    let origin = path.display().to_string();
    std::fs::read_to_string(path).map_err(|err| {
        let message = match err.kind() {
            std::io::ErrorKind::NotFound => format!("config file not found: {origin}"),
            std::io::ErrorKind::InvalidData => {
                format!("config file is not valid UTF-8: {origin}")
            }
            _ => format!("cannot read config file {origin}: {err}"),
        };
        // the message names the file already
        ConfigProblem {
            key: String::new(),
            message,
            source: None,
        }
    })
}

/// The `SMR_*` variables of this process (names and values must be UTF-8).
fn process_env(problems: &mut Vec<ConfigProblem>) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if !has_env_prefix(name) {
            continue;
        }
        match value.into_string() {
            Ok(value) => vars.push((name.to_string(), value)),
            Err(_) => problems.push(ConfigProblem {
                key: env_key_path(name).join("."),
                message: "value is not valid UTF-8".to_string(),
                source: Some(format!("environment variable {name}")),
            }),
        }
    }
    vars
}

fn has_env_prefix(name: &str) -> bool {
    name.get(..ENV_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(ENV_PREFIX))
}

/// `SMR_AUDIT__CONCURRENCY` -> `["audit", "concurrency"]`.
fn env_key_path(name: &str) -> Vec<String> {
    name.get(ENV_PREFIX.len()..)
        .unwrap_or_default()
        .split(ENV_SEPARATOR)
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Line and column (1-based) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    (line, column)
}

fn load_layers(file: Option<(&str, &str)>, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let mut problems = Vec::new();

    let defaults = match Value::serialize(Config::default()).map(Value::into_dict) {
        Ok(Some(dict)) => dict,
        Ok(None) | Err(_) => {
            problems.push(ConfigProblem {
                key: String::new(),
                message: "internal error: the built-in defaults do not serialize to a table"
                    .to_string(),
                source: None,
            });
            return Err(ConfigErrors { problems });
        }
    };
    let mut figment = Figment::from(Layer {
        metadata: Metadata::named("built-in defaults"),
        dict: defaults,
    });

    if let Some((origin, text)) = file {
        match toml::from_str::<Dict>(text) {
            Ok(dict) => {
                figment = figment.merge(Layer {
                    metadata: Metadata::from("config file", Source::File(origin.into())),
                    dict,
                });
            }
            Err(err) => {
                let at = err
                    .span()
                    .map(|span| {
                        let (line, column) = line_column(text, span.start);
                        format!(" at line {line}, column {column}")
                    })
                    .unwrap_or_default();
                problems.push(ConfigProblem {
                    key: String::new(),
                    message: format!(
                        "invalid TOML{at}: {}",
                        err.message().trim().replace('\n', "; ")
                    ),
                    source: Some(origin.to_string()),
                });
            }
        }
    }

    for &(name, raw) in env {
        if !has_env_prefix(name) || RESERVED_ENV_VARS.contains(&name) {
            continue;
        }
        let source = format!("environment variable {name}");
        let keys = env_key_path(name);
        if keys.iter().any(String::is_empty) {
            problems.push(ConfigProblem {
                key: String::new(),
                message: format!(
                    "environment variable name {name} is not SMR_ followed by key names \
                     separated by {ENV_SEPARATOR} (e.g. SMR_AUDIT__CONCURRENCY)"
                ),
                source: Some(source),
            });
            continue;
        }
        let mut value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.to_string()));
        for key in keys.iter().rev() {
            let mut dict = Dict::new();
            dict.insert(key.clone(), value);
            value = Value::from(dict);
        }
        if let Some(dict) = value.into_dict() {
            figment = figment.merge(Layer {
                metadata: Metadata::named(source.clone()).source(Source::Custom(source)),
                dict,
            });
        }
    }

    if !problems.is_empty() {
        return Err(ConfigErrors { problems });
    }

    let root = match figment.find_value("") {
        Ok(root) => root,
        Err(err) => {
            problems.push(ConfigProblem {
                key: String::new(),
                message: format!("cannot merge the configuration sources: {}", err.kind),
                source: None,
            });
            return Err(ConfigErrors { problems });
        }
    };

    let mut walker = Walker {
        figment: &figment,
        problems,
        failed: Vec::new(),
    };
    let config = walker.config(&root);
    let Walker {
        mut problems,
        failed,
        ..
    } = walker;

    let mut issues = Vec::new();
    config.check(&mut issues);
    for issue in issues {
        let hidden = failed
            .iter()
            .any(|f| issue.path.within(f) || issue.depends_on.iter().any(|d| d.within(f)));
        if hidden {
            continue;
        }
        let source = issue
            .path
            .lookup(&root)
            .and_then(|value| source_of(&figment, value));
        problems.push(ConfigProblem {
            key: issue.path.to_string(),
            message: issue.message,
            source,
        });
    }

    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors { problems })
    }
}

/// The file path or `environment variable SMR_X` a value came from; `None` for defaults.
fn source_of(figment: &Figment, value: &Value) -> Option<String> {
    match figment.get_metadata(value.tag())?.source.as_ref()? {
        Source::File(path) => Some(path.display().to_string()),
        Source::Custom(custom) => Some(custom.clone()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Schema walk: unknown keys and type errors, one key at a time

const ROOT_KEYS: &[&str] = &[
    "mode",
    "actions",
    "controls",
    "remediation",
    "audit",
    "daemon",
    "aws",
    "log",
    "accounts",
];
const CONTROLS_KEYS: &[&str] = &[
    "required_tag_keys",
    "supported_platforms",
    "platform_target",
];
const AUDIT_KEYS: &[&str] = &["regions", "concurrency"];
const LOG_KEYS: &[&str] = &["format", "level"];
const ACCOUNT_KEYS: &[&str] = &[
    "id",
    "role_arn",
    "external_id",
    "regions",
    "session_name",
    "enforce",
];
const REMEDIATION_KEYS: &[&str] = &[
    "exemption_tag_key",
    "flag_tag_key",
    "tag_values",
    "recreate_subnet_id",
    "recreate_security_group_ids",
    "step_timeout_secs",
    "poll_interval_secs",
    "max_poll_interval_secs",
    "max_update_attempts",
    "retry_failed_after_secs",
    "max_retry_failed_after_secs",
    "max_failed_fixes",
    "quiet_period_secs",
];
const DAEMON_KEYS: &[&str] = &[
    "queue_url",
    "receive_concurrency",
    "reconcile_concurrency",
    "sweep_interval_secs",
    "sweep_jitter",
    "store_path",
    "listen",
    "shutdown_grace_secs",
    "error_backoff_secs",
    "max_error_backoff_secs",
    "claim_ttl_secs",
];
const AWS_KEYS: &[&str] = &["requests_per_second", "call_timeout_secs"];

struct Walker<'f> {
    figment: &'f Figment,
    problems: Vec<ConfigProblem>,
    /// Paths with a schema or type problem; their values in the returned config are defaults.
    failed: Vec<KeyPath>,
}

impl Walker<'_> {
    fn report(&mut self, path: &KeyPath, value: Option<&Value>, message: impl Into<String>) {
        self.failed.push(path.clone());
        self.problems.push(ConfigProblem {
            key: path.to_string(),
            message: message.into(),
            source: value.and_then(|v| source_of(self.figment, v)),
        });
    }

    fn expected(&mut self, path: &KeyPath, value: &Value, expected: &str) {
        let found = describe(value);
        self.report(
            path,
            Some(value),
            format!("expected {expected}, found {found}"),
        );
    }

    fn unknown(&mut self, path: &KeyPath, value: &Value, known: &[&str]) {
        let name = match path.0.last() {
            Some(Seg::Key(k)) => k.as_str(),
            _ => "",
        };
        let message = match suggest(name, known) {
            Some(close) => format!("unknown key; did you mean `{close}`?"),
            None => format!(
                "unknown key; expected one of {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.report(path, Some(value), message);
    }

    fn table<'v>(&mut self, path: &KeyPath, value: &'v Value) -> Option<&'v Dict> {
        match value {
            Value::Dict(_, dict) => Some(dict),
            _ => {
                self.expected(path, value, "a table");
                None
            }
        }
    }

    fn string(&mut self, path: &KeyPath, value: &Value) -> Option<String> {
        match value {
            Value::String(_, s) => Some(s.clone()),
            Value::Char(_, c) => Some(c.to_string()),
            Value::Num(_, _) if path.ends_with_key("id") => {
                let found = describe(value);
                self.report(
                    path,
                    Some(value),
                    format!(
                        "expected a string, found {found}; quote account ids \
                         (id = \"111122223333\") so leading zeros survive"
                    ),
                );
                None
            }
            _ => {
                self.expected(path, value, "a string");
                None
            }
        }
    }

    /// A non-negative integer that fits `T`; `range` (e.g. `from 1 to 256`) is named when the
    /// value is negative or too large.
    fn uint<T: TryFrom<u128>>(&mut self, path: &KeyPath, value: &Value, range: &str) -> Option<T> {
        let Value::Num(_, n) = value else {
            self.expected(path, value, "an integer");
            return None;
        };
        let n = *n;
        if let Some(u) = n.to_u128_lossy() {
            if let Ok(u) = T::try_from(u) {
                return Some(u);
            }
        }
        if n.to_f64().is_some() {
            self.expected(path, value, "an integer");
        } else {
            let found = describe(value);
            self.report(path, Some(value), format!("must be {range}, found {found}"));
        }
        None
    }

    /// A number; integers are accepted too (`requests_per_second = 10`).
    fn float(&mut self, path: &KeyPath, value: &Value) -> Option<f64> {
        if let Value::Num(_, n) = value {
            if let Some(f) = n.to_f64() {
                return Some(f);
            }
            // integers: exact enough for rates and fractions
            if let Some(u) = n.to_u128_lossy() {
                return Some(u as f64);
            }
            if let Some(i) = n.to_i128() {
                return Some(i as f64);
            }
        }
        self.expected(path, value, "a number");
        None
    }

    fn boolean(&mut self, path: &KeyPath, value: &Value) -> Option<bool> {
        match value {
            Value::Bool(_, b) => Some(*b),
            _ => {
                self.expected(path, value, "true or false");
                None
            }
        }
    }

    /// A table of strings (`tag_values`).
    fn string_map(&mut self, path: &KeyPath, value: &Value) -> Option<BTreeMap<String, String>> {
        let dict = self.table(path, value)?;
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (key, item) in dict {
            match self.string(&path.key(key), item) {
                Some(s) => {
                    out.insert(key.clone(), s);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn strings(&mut self, path: &KeyPath, value: &Value) -> Option<Vec<String>> {
        let Value::Array(_, items) = value else {
            self.expected(path, value, "an array of strings");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.string(&path.index(i), item) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn config(&mut self, root: &Value) -> Config {
        let mut config = Config::default();
        let path = KeyPath::root();
        let Some(dict) = self.table(&path, root) else {
            return config;
        };
        for (key, value) in dict {
            let at = path.key(key);
            match key.as_str() {
                "mode" => match value {
                    Value::String(_, s) if s == "audit" => config.mode = Mode::Audit,
                    Value::String(_, s) if s == "enforce" => config.mode = Mode::Enforce,
                    _ => self.expected(&at, value, "\"audit\" or \"enforce\""),
                },
                "actions" => self.actions(&at, value, &mut config.actions),
                "controls" => self.controls(&at, value, &mut config.controls),
                "remediation" => self.remediation(&at, value, &mut config.remediation),
                "audit" => self.audit(&at, value, &mut config.audit),
                "daemon" => self.daemon(&at, value, &mut config.daemon),
                "aws" => self.aws(&at, value, &mut config.aws),
                "log" => self.log(&at, value, &mut config.log),
                "accounts" => self.accounts(&at, value, &mut config.accounts),
                _ => self.unknown(&at, value, ROOT_KEYS),
            }
        }
        config
    }

    fn actions(&mut self, path: &KeyPath, value: &Value, out: &mut BTreeMap<ControlId, Action>) {
        let Some(dict) = self.table(path, value) else {
            return;
        };
        for (key, value) in dict {
            let at = path.key(key);
            let Some(control) = ControlId::parse(key) else {
                let close = ControlId::ALL
                    .into_iter()
                    .find(|c| c.as_str().eq_ignore_ascii_case(key.trim()));
                let message = match close {
                    Some(c) => format!("unknown control; did you mean `{c}`?"),
                    None => "unknown control; expected SageMaker.1 to SageMaker.8".to_string(),
                };
                self.report(&at, Some(value), message);
                continue;
            };
            match value {
                Value::String(_, s) if s == "fix" => {
                    out.insert(control, Action::Fix);
                }
                Value::String(_, s) if s == "flag" => {
                    out.insert(control, Action::Flag);
                }
                Value::String(_, s) if s == "ignore" => {
                    out.insert(control, Action::Ignore);
                }
                _ => self.expected(&at, value, "\"fix\", \"flag\" or \"ignore\""),
            }
        }
    }

    fn remediation(&mut self, path: &KeyPath, value: &Value, out: &mut RemediationConfig) {
        let Some(dict) = self.table(path, value) else {
            return;
        };
        let secs = "a number of seconds (0 or more)";
        for (key, value) in dict {
            let at = path.key(key);
            match key.as_str() {
                "exemption_tag_key" => {
                    if let Some(v) = self.string(&at, value) {
                        out.exemption_tag_key = v;
                    }
                }
                "flag_tag_key" => {
                    if let Some(v) = self.string(&at, value) {
                        out.flag_tag_key = v;
                    }
                }
                "tag_values" => {
                    if let Some(v) = self.string_map(&at, value) {
                        out.tag_values = v;
                    }
                }
                "recreate_subnet_id" => {
                    if let Some(v) = self.string(&at, value) {
                        out.recreate_subnet_id = v;
                    }
                }
                "recreate_security_group_ids" => {
                    if let Some(v) = self.strings(&at, value) {
                        out.recreate_security_group_ids = v;
                    }
                }
                "step_timeout_secs" => {
                    if let Some(v) = self.uint(&at, value, secs) {
                        out.step_timeout_secs = v;
                    }
                }
                "poll_interval_secs" => {
                    if let Some(v) = self.uint(&at, value, secs) {
                        out.poll_interval_secs = v;
                    }
                }
                "max_poll_interval_secs" => {
                    if let Some(v) = self.uint(&at, value, secs) {
                        out.max_poll_interval_secs = v;
                    }
                }
                "max_update_attempts" => {
                    let range = format!("from 1 to {MAX_UPDATE_ATTEMPTS}");
                    if let Some(v) = self.uint(&at, value, &range) {
                        out.max_update_attempts = v;
                    }
                }
                "retry_failed_after_secs" => {
                    if let Some(v) = self.uint(&at, value, secs) {
                        out.retry_failed_after_secs = v;
                    }
                }
                "max_retry_failed_after_secs" => {
                    if let Some(v) = self.uint(&at, value, secs) {
                        out.max_retry_failed_after_secs = v;
                    }
                }
                "max_failed_fixes" => {
                    let range = format!("from 1 to {MAX_UPDATE_ATTEMPTS}");
                    if let Some(v) = self.uint(&at, value, &range) {
                        out.max_failed_fixes = v;
                    }
                }
                "quiet_period_secs" => {
                    if let Some(v) = self.uint(&at, value, secs) {
                        out.quiet_period_secs = v;
                    }
                }
                _ => self.unknown(&at, value, REMEDIATION_KEYS),
            }
        }
    }

    fn daemon(&mut self, path: &KeyPath, value: &Value, out: &mut DaemonConfig) {
        let Some(dict) = self.table(path, value) else {
            return;
        };
        let secs = "a number of seconds (0 or more)";
        for (key, value) in dict {
            let at = path.key(key);
            match key.as_str() {
                "queue_url" => {
                    if let Some(v) = self.string(&at, value) {
                        out.queue_url = v;
                    }
                }
                "receive_concurrency" => {
                    let range = format!("from 1 to {MAX_RECEIVE_CONCURRENCY}");
                    if let Some(v) = self.uint(&at, value, &range) {
                        out.receive_concurrency = v;
                    }
                }
                "reconcile_concurrency" => {
                    let range = format!("from 1 to {MAX_RECONCILE_CONCURRENCY}");
                    if let Some(v) = self.uint(&at, value, &range) {
                        out.reconcile_concurrency = v;
                    }
                }
                "sweep_interval_secs" => {
                    if let Some(v) = self.uint(&at, value, secs) {
                        out.sweep_interval_secs = v;
                    }
                }
                "sweep_jitter" => {
                    if let Some(v) = self.float(&at, value) {
                        out.sweep_jitter = v;
                    }
                }
                "store_path" => {
                    if let Some(v) = self.string(&at, value) {
                        out.store_path = PathBuf::from(v);
                    }
                }
                "listen" => {
                    if let Some(v) = self.string(&at, value) {
                        out.listen = v;
                    }
                }
                "shutdown_grace_secs" => {
                    if let Some(v) = self.uint(&at, value, secs) {
                        out.shutdown_grace_secs = v;
                    }
                }
                "error_backoff_secs" => {
                    if let Some(v) = self.uint(&at, value, secs) {
                        out.error_backoff_secs = v;
                    }
                }
                "max_error_backoff_secs" => {
                    if let Some(v) = self.uint(&at, value, secs) {
                        out.max_error_backoff_secs = v;
                    }
                }
                "claim_ttl_secs" => {
                    if let Some(v) = self.uint(&at, value, secs) {
                        out.claim_ttl_secs = v;
                    }
                }
                _ => self.unknown(&at, value, DAEMON_KEYS),
            }
        }
    }

    fn aws(&mut self, path: &KeyPath, value: &Value, out: &mut AwsConfig) {
        let Some(dict) = self.table(path, value) else {
            return;
        };
        for (key, value) in dict {
            let at = path.key(key);
            match key.as_str() {
                "requests_per_second" => {
                    if let Some(v) = self.float(&at, value) {
                        out.requests_per_second = v;
                    }
                }
                "call_timeout_secs" => {
                    let range = format!("from 1 to {MAX_CALL_TIMEOUT_SECS}");
                    if let Some(v) = self.uint(&at, value, &range) {
                        out.call_timeout_secs = v;
                    }
                }
                _ => self.unknown(&at, value, AWS_KEYS),
            }
        }
    }

    fn controls(&mut self, path: &KeyPath, value: &Value, out: &mut ControlsConfig) {
        let Some(dict) = self.table(path, value) else {
            return;
        };
        for (key, value) in dict {
            let at = path.key(key);
            match key.as_str() {
                "required_tag_keys" => {
                    if let Some(v) = self.strings(&at, value) {
                        out.required_tag_keys = v;
                    }
                }
                "supported_platforms" => {
                    if let Some(v) = self.strings(&at, value) {
                        out.supported_platforms = v;
                    }
                }
                "platform_target" => {
                    if let Some(v) = self.string(&at, value) {
                        out.platform_target = v;
                    }
                }
                _ => self.unknown(&at, value, CONTROLS_KEYS),
            }
        }
    }

    fn audit(&mut self, path: &KeyPath, value: &Value, out: &mut AuditConfig) {
        let Some(dict) = self.table(path, value) else {
            return;
        };
        for (key, value) in dict {
            let at = path.key(key);
            match key.as_str() {
                "regions" => {
                    if let Some(v) = self.strings(&at, value) {
                        out.regions = v;
                    }
                }
                "concurrency" => {
                    let range = format!("from 1 to {MAX_CONCURRENCY}");
                    if let Some(v) = self.uint(&at, value, &range) {
                        out.concurrency = v;
                    }
                }
                _ => self.unknown(&at, value, AUDIT_KEYS),
            }
        }
    }

    fn log(&mut self, path: &KeyPath, value: &Value, out: &mut LogConfig) {
        let Some(dict) = self.table(path, value) else {
            return;
        };
        for (key, value) in dict {
            let at = path.key(key);
            match key.as_str() {
                "format" => match value {
                    Value::String(_, s) if s == "text" => out.format = LogFormat::Text,
                    Value::String(_, s) if s == "json" => out.format = LogFormat::Json,
                    _ => self.expected(&at, value, "\"text\" or \"json\""),
                },
                "level" => {
                    if let Some(v) = self.string(&at, value) {
                        out.level = v;
                    }
                }
                _ => self.unknown(&at, value, LOG_KEYS),
            }
        }
    }

    fn accounts(&mut self, path: &KeyPath, value: &Value, out: &mut Vec<AccountConfig>) {
        let Value::Array(_, items) = value else {
            let found = describe(value);
            self.report(
                path,
                Some(value),
                format!(
                    "expected an array of tables ([[accounts]] in TOML, or \
                     SMR_ACCOUNTS='[{{id=\"111122223333\"}}]'), found {found}"
                ),
            );
            return;
        };
        for (i, item) in items.iter().enumerate() {
            // a placeholder keeps the indexes of later accounts right
            let account = self.account(&path.index(i), item).unwrap_or_default();
            out.push(account);
        }
    }

    fn account(&mut self, path: &KeyPath, value: &Value) -> Option<AccountConfig> {
        let dict = self.table(path, value)?;
        let mut account = AccountConfig::default();
        let mut has_id = false;
        for (key, value) in dict {
            let at = path.key(key);
            match key.as_str() {
                "id" => {
                    has_id = true;
                    if let Some(v) = self.string(&at, value) {
                        account.id = v;
                    }
                }
                "role_arn" => account.role_arn = self.string(&at, value),
                "external_id" => account.external_id = self.string(&at, value),
                "session_name" => account.session_name = self.string(&at, value),
                "enforce" => {
                    if let Some(v) = self.boolean(&at, value) {
                        account.enforce = v;
                    }
                }
                "regions" => {
                    if let Some(v) = self.strings(&at, value) {
                        account.regions = v;
                    }
                }
                _ => self.unknown(&at, value, ACCOUNT_KEYS),
            }
        }
        if !has_id {
            self.report(
                &path.key("id"),
                Some(value),
                "missing: every account needs its 12-digit account id",
            );
        }
        Some(account)
    }
}

/// A value's type (and the value, for scalars) for messages.
fn describe(value: &Value) -> String {
    match value {
        Value::String(_, s) => format!("string {s:?}"),
        Value::Char(_, c) => format!("string {:?}", c.to_string()),
        Value::Bool(_, b) => format!("boolean {b}"),
        Value::Num(_, n) => match (n.to_u128(), n.to_i128(), n.to_f64()) {
            (Some(u), _, _) => format!("integer {u}"),
            (None, Some(i), _) => format!("integer {i}"),
            (None, None, Some(f)) => format!("float {f}"),
            (None, None, None) => "a number".to_string(),
        },
        Value::Empty(_, _) => "nothing".to_string(),
        Value::Dict(_, _) => "a table".to_string(),
        Value::Array(_, _) => "an array".to_string(),
    }
}

/// The known key closest to `name`, if it is close enough to be a likely typo.
fn suggest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let normalize = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let wanted = normalize(name);
    known
        .iter()
        .map(|&k| (k, edit_distance(&wanted, &normalize(k))))
        .filter(|&(k, d)| d <= if k.len() <= 4 { 1 } else { 2.max(k.len() / 4) })
        .min_by_key(|&(_, d)| d)
        .map(|(k, _)| k)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == cb {
                previous
            } else {
                1 + previous.min(current).min(row[j])
            };
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const DEFAULT_TOML: &str = include_str!("../config/default.toml");
    const EXAMPLE_TOML: &str = include_str!("../config/example-multi-account.toml");

    fn load(toml: &str) -> Result<Config, ConfigErrors> {
        Config::load_from(Some(toml), &[])
    }

    fn errors(toml: &str, env: &[(&str, &str)]) -> ConfigErrors {
        match Config::load_from(Some(toml), env) {
            Ok(config) => panic!("expected problems, got {config:?}"),
            Err(errors) => errors,
        }
    }

    /// The problems of a validated, hand-built config, as `key: message` lines.
    fn problems_of(config: &Config) -> Vec<String> {
        match config.validate() {
            Ok(()) => Vec::new(),
            Err(errors) => errors
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.key, p.message))
                .collect(),
        }
    }

    fn keys_of(config: &Config) -> Vec<String> {
        match config.validate() {
            Ok(()) => Vec::new(),
            Err(errors) => errors.problems.into_iter().map(|p| p.key).collect(),
        }
    }

    fn with_accounts(accounts: Vec<AccountConfig>) -> Config {
        Config {
            accounts,
            ..Config::default()
        }
    }

    fn account(id: &str) -> AccountConfig {
        AccountConfig {
            id: id.to_string(),
            ..AccountConfig::default()
        }
    }

    fn with_role(id: &str) -> AccountConfig {
        AccountConfig {
            role_arn: Some(format!("arn:aws:iam::{id}:role/Audit")),
            ..account(id)
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_when_nothing_is_given() {
        let config = Config::load_from(None, &[]).expect("defaults load");
        assert_eq!(config, Config::default());
        assert_eq!(config.controls.required_tag_keys, Vec::<String>::new());
        assert_eq!(
            config.controls.supported_platforms,
            strings(&["notebook-al2-v3"])
        );
        assert_eq!(config.controls.platform_target, "notebook-al2-v3");
        assert!(config.audit.regions.is_empty());
        assert_eq!(config.audit.concurrency, 16);
        assert_eq!(config.log.format, LogFormat::Text);
        assert_eq!(config.log.level, "info");
        assert!(config.accounts.is_empty());
        assert!(config.validate().is_ok());
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(load("").expect("empty file"), Config::default());
    }

    #[test]
    fn default_toml_is_exactly_the_defaults() {
        assert_eq!(load(DEFAULT_TOML).expect("default.toml"), Config::default());
    }

    #[test]
    fn default_toml_accounts_block_is_valid_when_uncommented() {
        let uncommented = DEFAULT_TOML
            .replace("# [[accounts]]", "[[accounts]]")
            .replace("\n# id = ", "\nid = ");
        let uncommented = [
            "role_arn",
            "external_id",
            "regions",
            "session_name",
            "enforce",
        ]
        .iter()
        .fold(uncommented, |text, key| {
            text.replace(&format!("\n# {key} = "), &format!("\n{key} = "))
        });
        let config = load(&uncommented).expect("uncommented accounts block");
        assert_eq!(config.accounts.len(), 1);
        assert_eq!(config.accounts[0].id, "111122223333");
        assert_eq!(
            config.accounts[0].session_name.as_deref(),
            Some("sagemaker-remediator")
        );
    }

    #[test]
    fn example_multi_account_loads_and_validates() {
        let config = load(EXAMPLE_TOML).expect("example loads");
        assert!(config.validate().is_ok());
        assert_eq!(config.accounts.len(), 2);
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.audit.concurrency, 8);
        let prod = &config.accounts[0];
        assert_eq!(prod.id, "111122223333");
        assert!(prod.role_arn.is_some() && prod.external_id.is_some());
        assert_eq!(
            config.regions_for(prod),
            strings(&["us-east-1", "eu-west-1"]).as_slice()
        );
        let research = &config.accounts[1];
        assert_eq!(research.id, "444455556666");
        assert_eq!(
            config.regions_for(research),
            strings(&["eu-west-1", "eu-central-1"]).as_slice()
        );
        let params = config.control_params();
        assert_eq!(params.required_tag_keys.len(), 3);
        assert_eq!(params.supported_platforms, strings(&["notebook-al2-v3"]));

        assert_eq!(config.mode, Mode::Enforce);
        assert!(!config.enforces("111122223333"));
        assert!(config.enforces("444455556666"));
        assert_eq!(config.action(ControlId::SageMaker8), Action::Fix);
        assert_eq!(config.action(ControlId::SageMaker4), Action::Ignore);
        assert_eq!(config.action(ControlId::SageMaker1), Action::Flag);
        assert_eq!(config.action(ControlId::SageMaker3), Action::Fix);
        assert_eq!(config.actions.len(), 8);
        assert_eq!(config.remediation.tag_values.len(), 3);
        assert_eq!(config.remediation.step_timeout(), Duration::from_secs(2700));
        assert_eq!(
            config.daemon.intake_queue_url(),
            Some("https://sqs.us-east-1.amazonaws.com/999988887777/sagemaker-remediator-events")
        );
        assert_eq!(config.daemon.listen_addr().map(|a| a.port()), Ok(9464));
        assert!((config.aws.requests_per_second - 5.0).abs() < f64::EPSILON);
        assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    }

    #[test]
    fn file_overrides_defaults_and_keeps_the_rest() {
        let config = load(
            r#"
            [audit]
            concurrency = 4
            regions = ["us-east-1"]
            [log]
            format = "json"
            "#,
        )
        .expect("loads");
        assert_eq!(config.audit.concurrency, 4);
        assert_eq!(config.audit.regions, strings(&["us-east-1"]));
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.log.level, "info");
        assert_eq!(config.controls, ControlsConfig::default());
    }

    #[test]
    fn env_overrides_file() {
        let config = Config::load_from(
            Some(
                r#"
                [audit]
                concurrency = 4
                regions = ["us-east-1"]
                [controls]
                required_tag_keys = ["owner"]
                "#,
            ),
            &[
                ("SMR_AUDIT__CONCURRENCY", "8"),
                ("SMR_CONTROLS__REQUIRED_TAG_KEYS", r#"["owner","team"]"#),
                ("SMR_LOG__FORMAT", "json"),
                ("SMR_LOG__LEVEL", "sagemaker_remediator=debug"),
                ("PATH", "/usr/bin"),
                ("SMR_CONFIG", "/etc/smr.toml"),
            ],
        )
        .expect("loads");
        assert_eq!(config.audit.concurrency, 8);
        assert_eq!(config.audit.regions, strings(&["us-east-1"]));
        assert_eq!(
            config.controls.required_tag_keys,
            strings(&["owner", "team"])
        );
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.log.level, "sagemaker_remediator=debug");
    }

    #[test]
    fn env_can_set_the_accounts_list() {
        let config = Config::load_from(
            Some("[[accounts]]\nid = \"999999999999\"\n"),
            &[(
                "SMR_ACCOUNTS",
                r#"[{id="111122223333", role_arn="arn:aws:iam::111122223333:role/A", external_id="ext-1", regions=["eu-west-1"]}]"#,
            )],
        )
        .expect("loads");
        assert_eq!(config.accounts.len(), 1);
        assert_eq!(config.accounts[0].id, "111122223333");
        assert_eq!(config.accounts[0].external_id.as_deref(), Some("ext-1"));
        assert_eq!(config.accounts[0].regions, strings(&["eu-west-1"]));
    }

    #[test]
    fn unknown_key_in_file_is_reported_with_a_suggestion() {
        let errors = errors("[audit]\nconcurrancy = 4\n", &[]);
        assert_eq!(errors.keys(), ["audit.concurrancy"]);
        let problem = &errors.problems[0];
        assert!(problem.message.starts_with("unknown key"), "{problem}");
        assert!(problem.message.contains("`concurrency`"), "{problem}");
        assert_eq!(problem.source.as_deref(), Some("config file"));
        assert!(errors
            .to_string()
            .starts_with("audit.concurrancy: unknown key"));
    }

    #[test]
    fn unknown_top_level_key_lists_the_known_ones() {
        let errors = errors("[metrics]\nport = 9090\n", &[]);
        assert_eq!(errors.keys(), ["metrics"]);
        assert!(errors.problems[0].message.contains("`controls`"));
    }

    #[test]
    fn unknown_key_in_an_account_is_reported() {
        let errors = errors(
            "[[accounts]]\nid = \"111122223333\"\nrole = \"arn:aws:iam::111122223333:role/A\"\n",
            &[],
        );
        assert_eq!(errors.keys(), ["accounts[0].role"]);
        assert!(errors.problems[0].message.contains("`role_arn`"));
    }

    #[test]
    fn unknown_env_variable_is_reported_with_its_name() {
        let errors = errors("", &[("SMR_AUDT__CONCURRENCY", "8")]);
        assert_eq!(errors.keys(), ["audt"]);
        let problem = &errors.problems[0];
        assert!(problem.message.starts_with("unknown key"));
        assert!(problem.message.contains("`audit`"));
        assert_eq!(
            problem.source.as_deref(),
            Some("environment variable SMR_AUDT__CONCURRENCY")
        );
    }

    #[test]
    fn unknown_nested_env_key_is_reported() {
        let errors = errors("", &[("SMR_LOG__FROMAT", "json")]);
        assert_eq!(errors.keys(), ["log.fromat"]);
        assert!(errors.problems[0].message.contains("`format`"));
    }

    #[test]
    fn malformed_env_name_is_reported() {
        let errors = errors("", &[("SMR_AUDIT__", "8")]);
        assert_eq!(errors.problems.len(), 1);
        assert_eq!(
            errors.problems[0].source.as_deref(),
            Some("environment variable SMR_AUDIT__")
        );
    }

    #[test]
    fn env_type_error_names_the_variable() {
        let errors = errors(
            "[audit]\nconcurrency = 4\n",
            &[("SMR_AUDIT__CONCURRENCY", "many")],
        );
        assert_eq!(errors.keys(), ["audit.concurrency"]);
        assert!(errors.problems[0].message.contains("expected an integer"));
        assert_eq!(
            errors.problems[0].source.as_deref(),
            Some("environment variable SMR_AUDIT__CONCURRENCY")
        );
    }

    #[test]
    fn env_accounts_as_a_table_is_a_clear_problem() {
        let errors = errors("", &[("SMR_ACCOUNTS__0__ID", "111122223333")]);
        assert_eq!(errors.keys(), ["accounts"]);
        assert!(errors.problems[0].message.contains("SMR_ACCOUNTS='["));
    }

    #[test]
    fn several_problems_in_one_file_are_reported_together() {
        let errors = errors(
            r#"
            [controls]
            required_tag_keys = ["owner", 7, "aws:createdBy"]
            platform_target = "notebook-al2-v2"

            [audit]
            concurrency = "many"
            concurrancy = 4
            regions = ["us-east-1", "US-EAST-1"]

            [log]
            format = "xml"

            [[accounts]]
            id = 111122223333
            colour = "blue"

            [[accounts]]
            id = "444455556666"
            external_id = "x"
            "#,
            &[],
        );
        let keys = errors.keys();
        assert_eq!(
            keys,
            [
                // schema and type problems, in key order
                "accounts[0].colour",
                "accounts[0].id",
                "audit.concurrancy",
                "audit.concurrency",
                "controls.required_tag_keys[1]",
                "log.format",
                // semantic problems
                "controls.platform_target",
                "audit.regions[1]",
                "accounts[1].external_id",
                "accounts[1].external_id",
            ],
            "{errors}"
        );
        assert_eq!(errors.problems.len(), 10);
        assert!(errors
            .find("accounts[0].id")
            .is_some_and(|p| p.message.contains("quote")));
        assert!(errors
            .find("audit.concurrency")
            .is_some_and(|p| p.message.contains("string \"many\"")));
        assert!(errors
            .find("log.format")
            .is_some_and(|p| p.message.contains("\"xml\"")));
        assert!(errors
            .problems
            .iter()
            .all(|p| p.source.as_deref() == Some("config file")));
        assert_eq!(errors.to_string().lines().count(), 10);
    }

    #[test]
    fn semantic_problems_from_unreadable_values_are_not_reported_twice() {
        // supported_platforms has a type error: platform_target is not checked against the
        // default list; the account's id has a type error: no spurious id or role problems.
        let errors = errors(
            r#"
            [controls]
            supported_platforms = "notebook-al2-v2"
            platform_target = "notebook-al2-v2"
            [[accounts]]
            id = 1
            role_arn = "arn:aws:iam::111122223333:role/A"
            "#,
            &[],
        );
        assert_eq!(
            errors.keys(),
            ["accounts[0].id", "controls.supported_platforms"],
            "{errors}"
        );
    }

    #[test]
    fn missing_account_id_is_reported() {
        let errors = errors("[[accounts]]\nregions = [\"us-east-1\"]\n", &[]);
        assert_eq!(errors.keys(), ["accounts[0].id"]);
        assert!(errors.problems[0].message.starts_with("missing"));
    }

    #[test]
    fn section_of_the_wrong_type_is_reported() {
        let errors = errors("audit = 5\naccounts = \"all\"\n", &[]);
        assert_eq!(errors.keys(), ["accounts", "audit"]);
    }

    #[test]
    fn invalid_toml_is_reported_with_its_position() {
        let errors = errors("[audit]\nconcurrency = \n", &[]);
        assert_eq!(errors.problems.len(), 1);
        let problem = &errors.problems[0];
        assert_eq!(problem.key, "");
        assert!(problem.message.contains("line 2"), "{problem}");
        assert_eq!(problem.source.as_deref(), Some("config file"));
    }

    #[test]
    fn load_reads_the_file_and_names_it_as_source() {
        // `load` also reads the process environment, which may hold SMR_* variables of whoever
        // runs the tests: only look at the key written here.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("smr.toml");
        std::fs::write(&path, "[audit]\nconcurrency = 0\n").expect("write");
        let errors = Config::load(Some(&path)).expect_err("concurrency 0");
        let problem = errors
            .find("audit.concurrency")
            .expect("concurrency problem");
        let shown = path.display().to_string();
        assert_eq!(problem.source.as_deref(), Some(shown.as_str()));

        std::fs::write(&path, "[audit]\nconcurrency = 3\n").expect("write");
        let clean_env = std::env::vars_os().all(|(k, _)| !has_env_prefix(&k.to_string_lossy()));
        if clean_env {
            let config = Config::load(Some(&path)).expect("loads");
            assert_eq!(config.audit.concurrency, 3);
        }
    }

    #[test]
    fn load_with_a_missing_file_is_a_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nope.toml");
        let errors = Config::load(Some(&path)).expect_err("missing file");
        let expected = format!("config file not found: {}", path.display());
        assert!(
            errors.problems.iter().any(|p| p.message == expected),
            "{errors}"
        );
    }

    #[test]
    fn concurrency_bounds() {
        for (concurrency, ok) in [(0, false), (1, true), (256, true), (257, false)] {
            let mut config = Config::default();
            config.audit.concurrency = concurrency;
            assert_eq!(config.validate().is_ok(), ok, "concurrency {concurrency}");
        }
        let errors = errors("[audit]\nconcurrency = -1\n", &[]);
        assert_eq!(errors.keys(), ["audit.concurrency"]);
        let errors = super::tests::errors("[audit]\nconcurrency = 1.5\n", &[]);
        assert!(errors.problems[0].message.contains("expected an integer"));
    }

    #[test]
    fn required_tag_key_count_bounds() {
        let mut config = Config::default();
        config.controls.required_tag_keys = (1..=6).map(|i| format!("k{i}")).collect();
        assert!(config.validate().is_ok());
        config.controls.required_tag_keys.push("k7".to_string());
        assert_eq!(keys_of(&config), ["controls.required_tag_keys"]);
    }

    #[test]
    fn required_tag_key_rules() {
        let mut config = Config::default();
        config.controls.required_tag_keys = vec![
            "owner".to_string(),
            String::new(),
            "aws:cloudformation:stack-name".to_string(),
            "AWS:thing".to_string(),
            "owner".to_string(),
            "x".repeat(129),
        ];
        assert_eq!(
            keys_of(&config),
            [
                "controls.required_tag_keys[1]",
                "controls.required_tag_keys[2]",
                "controls.required_tag_keys[3]",
                "controls.required_tag_keys[4]",
                "controls.required_tag_keys[5]",
            ]
        );
        config.controls.required_tag_keys = vec!["x".repeat(128), "cost center/é:=+-@_.".into()];
        assert!(config.validate().is_ok(), "{:?}", problems_of(&config));
        config.controls.required_tag_keys = vec!["team#1".to_string()];
        assert_eq!(keys_of(&config), ["controls.required_tag_keys[0]"]);
    }

    #[test]
    fn platform_rules() {
        let mut config = Config::default();
        config.controls.supported_platforms = Vec::new();
        assert_eq!(keys_of(&config), ["controls.supported_platforms"]);

        config.controls.supported_platforms = strings(&["notebook-al2-v3", ""]);
        assert_eq!(keys_of(&config), ["controls.supported_platforms[1]"]);

        config.controls.supported_platforms = strings(&["notebook-al2-v3"]);
        config.controls.platform_target = "notebook-al2-v2".to_string();
        assert_eq!(keys_of(&config), ["controls.platform_target"]);

        config.controls.platform_target = String::new();
        assert_eq!(keys_of(&config), ["controls.platform_target"]);

        config.controls.supported_platforms = strings(&["notebook-al2-v2", "notebook-al2-v3"]);
        config.controls.platform_target = "notebook-al2-v2".to_string();
        assert!(config.validate().is_ok());
    }

    #[test]
    fn log_level_rules() {
        let mut config = Config::default();
        config.log.level = " ".to_string();
        assert_eq!(keys_of(&config), ["log.level"]);
        config.log.level = "sagemaker_remediator=debug,info".to_string();
        assert!(config.validate().is_ok());
    }

    #[test]
    fn region_rules() {
        for good in [
            "us-east-1",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-7",
            "us-isob-east-1",
        ] {
            assert!(is_region(good), "{good}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "useast1",
            "us-east-1a",
            "us--east-1",
            "u-east-1",
            "us-east-",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
        let mut config = Config::default();
        config.audit.regions = strings(&["us-east-1", "eu-west-1", "us-east-1", "mars-1"]);
        assert_eq!(keys_of(&config), ["audit.regions[2]", "audit.regions[3]"]);

        let config = with_accounts(vec![AccountConfig {
            regions: strings(&["eu-west-1", "EU-WEST-1", "eu-west-1"]),
            ..account("111122223333")
        }]);
        assert_eq!(
            keys_of(&config),
            ["accounts[0].regions[1]", "accounts[0].regions[2]"]
        );
    }

    #[test]
    fn account_id_rules() {
        let config = with_accounts(vec![
            account("111122223333"),
            account("11112222333"),
            account("1111222233334"),
            account("11112222333a"),
            account("111122223333"),
        ]);
        assert_eq!(
            keys_of(&config),
            [
                "accounts[1].id",
                "accounts[2].id",
                "accounts[3].id",
                "accounts[4].id",
            ]
        );
        assert!(problems_of(&config)[3].contains("duplicate"));
    }

    #[test]
    fn role_arn_rules() {
        for good in [
            "arn:aws:iam::111122223333:role/Audit",
            "arn:aws:iam::111122223333:role/security/team/Audit-Role_1+=,.@",
            "arn:aws-us-gov:iam::111122223333:role/Audit",
            "arn:aws-cn:iam::111122223333:role/Audit",
        ] {
            assert_eq!(parse_role_arn(good), Ok("111122223333"), "{good}");
        }
        for bad in [
            "",
            "arn:aws:iam::111122223333:user/Audit",
            "arn:aws:sts::111122223333:role/Audit",
            "arn:aws:iam:us-east-1:111122223333:role/Audit",
            "arn:aws:iam::11112222333:role/Audit",
            "arn:azure:iam::111122223333:role/Audit",
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam::111122223333:role//Audit",
            "arn:aws:iam::111122223333:role/Audit#1",
            "arn:aws:iam::111122223333",
        ] {
            assert!(parse_role_arn(bad).is_err(), "{bad}");
        }
        let config = with_accounts(vec![
            AccountConfig {
                role_arn: Some("arn:aws:iam::444455556666:role/Audit".to_string()),
                ..account("111122223333")
            },
            AccountConfig {
                role_arn: Some("not-an-arn".to_string()),
                ..account("444455556666")
            },
        ]);
        assert_eq!(
            keys_of(&config),
            ["accounts[0].role_arn", "accounts[1].role_arn"]
        );
        assert!(problems_of(&config)[0].contains("444455556666"));
    }

    #[test]
    fn external_id_bounds_and_rules() {
        for (len, ok) in [(1, false), (2, true), (1224, true), (1225, false)] {
            let config = with_accounts(vec![AccountConfig {
                external_id: Some("e".repeat(len)),
                ..with_role("111122223333")
            }]);
            assert_eq!(config.validate().is_ok(), ok, "external_id of {len} chars");
        }
        let config = with_accounts(vec![
            AccountConfig {
                external_id: Some("Ab9_+=,.@:/-".to_string()),
                ..with_role("111122223333")
            },
            AccountConfig {
                external_id: Some("has space".to_string()),
                ..with_role("444455556666")
            },
            AccountConfig {
                external_id: Some("no-role".to_string()),
                ..account("777788889999")
            },
        ]);
        assert_eq!(
            keys_of(&config),
            ["accounts[1].external_id", "accounts[2].external_id"]
        );
        assert!(problems_of(&config)[1].contains("role_arn"));
    }

    #[test]
    fn session_name_bounds_and_rules() {
        for (len, ok) in [(1, false), (2, true), (64, true), (65, false)] {
            let config = with_accounts(vec![AccountConfig {
                session_name: Some("s".repeat(len)),
                ..with_role("111122223333")
            }]);
            assert_eq!(config.validate().is_ok(), ok, "session_name of {len} chars");
        }
        let config = with_accounts(vec![
            AccountConfig {
                session_name: Some("smr_+=,.@-1".to_string()),
                ..with_role("111122223333")
            },
            AccountConfig {
                session_name: Some("smr:colon".to_string()),
                ..with_role("444455556666")
            },
            AccountConfig {
                session_name: Some("no-role".to_string()),
                ..account("777788889999")
            },
        ]);
        assert_eq!(
            keys_of(&config),
            ["accounts[1].session_name", "accounts[2].session_name"]
        );
    }

    #[test]
    fn semantic_problems_carry_their_source() {
        let errors = errors(
            "[[accounts]]\nid = \"111122223333\"\n",
            &[("SMR_AUDIT__CONCURRENCY", "0")],
        );
        assert_eq!(errors.keys(), ["audit.concurrency"]);
        assert_eq!(
            errors.problems[0].source.as_deref(),
            Some("environment variable SMR_AUDIT__CONCURRENCY")
        );
    }

    #[test]
    fn regions_for_falls_back_to_audit_regions() {
        let mut config = Config::default();
        config.audit.regions = strings(&["us-east-1"]);
        let plain = account("111122223333");
        let own = AccountConfig {
            regions: strings(&["eu-west-1"]),
            ..account("444455556666")
        };
        assert_eq!(
            config.regions_for(&plain),
            strings(&["us-east-1"]).as_slice()
        );
        assert_eq!(config.regions_for(&own), strings(&["eu-west-1"]).as_slice());
    }

    #[test]
    fn control_params_mirror_the_controls_section() {
        assert_eq!(Config::default().control_params(), Params::default());
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("concurrancy", AUDIT_KEYS), Some("concurrency"));
        assert_eq!(suggest("region", AUDIT_KEYS), Some("regions"));
        assert_eq!(
            suggest("requiredTagKeys", CONTROLS_KEYS),
            Some("required_tag_keys")
        );
        assert_eq!(suggest("account", ROOT_KEYS), Some("accounts"));
        assert_eq!(suggest("metrics", ROOT_KEYS), None);
        assert_eq!(suggest("xy", ACCOUNT_KEYS), None);
        assert_eq!(suggest("ids", ACCOUNT_KEYS), Some("id"));
    }

    #[test]
    fn display_is_one_problem_per_line() {
        let errors = ConfigErrors {
            problems: vec![
                ConfigProblem {
                    key: "audit.concurrency".to_string(),
                    message: "must be from 1 to 256, found 0".to_string(),
                    source: None,
                },
                ConfigProblem {
                    key: "log.level".to_string(),
                    message: "must not be empty".to_string(),
                    source: Some("environment variable SMR_LOG__LEVEL".to_string()),
                },
            ],
        };
        assert_eq!(
            errors.to_string(),
            "audit.concurrency: must be from 1 to 256, found 0\n\
             log.level: must not be empty (from environment variable SMR_LOG__LEVEL)"
        );
    }

    // -----------------------------------------------------------------------------------------
    // mode, actions, remediation, daemon, aws, accounts[].enforce

    #[test]
    fn new_defaults_are_safe() {
        let config = Config::default();
        assert_eq!(config.mode, Mode::Audit);
        assert_eq!(config.actions, Action::defaults());
        let fix: Vec<ControlId> = ControlId::ALL
            .into_iter()
            .filter(|&c| config.action(c) == Action::Fix)
            .collect();
        assert_eq!(
            fix,
            [
                ControlId::SageMaker3,
                ControlId::SageMaker6,
                ControlId::SageMaker7
            ]
        );
        assert_eq!(config.action(ControlId::SageMaker8), Action::Flag);
        assert!(!config.enforces("111122223333"));
        assert_eq!(
            config.remediation.exemption_tag_key,
            "sagemaker-remediator:exempt"
        );
        assert_eq!(
            config.remediation.flag_tag_key,
            "sagemaker-remediator:recreate-required"
        );
        assert_eq!(config.remediation.recreate_subnet(), None);
        assert_eq!(config.remediation.step_timeout(), Duration::from_secs(1800));
        assert_eq!(config.remediation.poll_interval(), Duration::from_secs(15));
        assert_eq!(
            config.remediation.max_poll_interval(),
            Duration::from_secs(60)
        );
        assert_eq!(config.remediation.max_update_attempts, 3);
        assert_eq!(config.daemon.intake_queue_url(), None);
        assert_eq!(config.daemon.receive_concurrency, 1);
        assert_eq!(config.daemon.reconcile_concurrency, 8);
        assert_eq!(
            config.daemon.sweep_interval(),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            config.daemon.listen_addr(),
            Ok(SocketAddr::from(([127, 0, 0, 1], 9464)))
        );
        assert_eq!(config.daemon.shutdown_grace(), Duration::from_secs(25));
        assert_eq!(config.daemon.error_backoff(), Duration::from_secs(5));
        assert_eq!(config.daemon.max_error_backoff(), Duration::from_secs(900));
        assert_eq!(config.daemon.claim_ttl(), Duration::from_secs(60));
        assert_eq!(
            config.daemon.store_path,
            PathBuf::from("sagemaker-remediator.db")
        );
        assert_eq!(config.aws.call_timeout(), Duration::from_secs(60));
        assert!(config.validate().is_ok());
        assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    }

    #[test]
    fn default_toml_documents_every_key() {
        let sections: [(&str, &[&str]); 8] = [
            ("", &["mode"]),
            ("controls", CONTROLS_KEYS),
            ("remediation", REMEDIATION_KEYS),
            ("audit", AUDIT_KEYS),
            ("daemon", DAEMON_KEYS),
            ("aws", AWS_KEYS),
            ("log", LOG_KEYS),
            ("accounts", ACCOUNT_KEYS),
        ];
        for (section, keys) in sections {
            if !section.is_empty() && section != "accounts" {
                assert!(
                    DEFAULT_TOML.contains(&format!("\n[{section}]\n")),
                    "[{section}]"
                );
            }
            for key in keys {
                let set = format!("\n{key} = ");
                let commented = format!("\n# {key} = ");
                assert!(
                    DEFAULT_TOML.contains(&set) || DEFAULT_TOML.contains(&commented),
                    "{section}.{key} is not in default.toml"
                );
            }
        }
        for control in ControlId::ALL {
            assert!(
                DEFAULT_TOML.contains(&format!("\n\"{control}\" = ")),
                "{control}"
            );
        }
    }

    #[test]
    fn config_round_trips_through_serde() {
        let mut config = Config {
            mode: Mode::Enforce,
            accounts: vec![AccountConfig {
                enforce: true,
                ..account("111122223333")
            }],
            ..Config::default()
        };
        config.actions.insert(ControlId::SageMaker8, Action::Fix);
        config
            .remediation
            .tag_values
            .insert("owner".to_string(), "me".to_string());
        let text = toml::to_string(&config).expect("serializes");
        assert!(text.contains("\"SageMaker.8\" = \"fix\""), "{text}");
        assert_eq!(load(&text).expect("loads back"), config);
        let parsed: Config = toml::from_str(&text).expect("serde deserializes");
        assert_eq!(parsed, config);
    }

    #[test]
    fn a_partial_actions_table_keeps_the_other_defaults() {
        let config = load("[actions]\n\"SageMaker.8\" = \"fix\"\n\"SageMaker.3\" = \"ignore\"\n")
            .expect("loads");
        assert_eq!(config.actions.len(), 8);
        assert_eq!(config.action(ControlId::SageMaker8), Action::Fix);
        assert_eq!(config.action(ControlId::SageMaker3), Action::Ignore);
        assert_eq!(config.action(ControlId::SageMaker6), Action::Fix);
        assert_eq!(config.action(ControlId::SageMaker1), Action::Flag);
    }

    #[test]
    fn action_falls_back_to_the_default_on_a_hand_built_config() {
        let config = Config {
            actions: BTreeMap::new(),
            ..Config::default()
        };
        for control in ControlId::ALL {
            assert_eq!(config.action(control), Action::default_for(control));
        }
    }

    #[test]
    fn env_overrides_the_new_sections() {
        let config = Config::load_from(
            Some("[daemon]\nreceive_concurrency = 4\n[actions]\n\"SageMaker.3\" = \"flag\"\n"),
            &[
                ("SMR_MODE", "enforce"),
                (
                    "SMR_DAEMON__QUEUE_URL",
                    "https://sqs.eu-west-1.amazonaws.com/111122223333/smr-events",
                ),
                ("SMR_DAEMON__LISTEN", "0.0.0.0:9464"),
                ("SMR_DAEMON__SWEEP_JITTER", "0"),
                ("SMR_DAEMON__STORE_PATH", "/data/smr.db"),
                ("SMR_ACTIONS", r#"{"SageMaker.8"="fix"}"#),
                (
                    "SMR_REMEDIATION__TAG_VALUES",
                    r#"{owner="platform-team", "cost center"="4711"}"#,
                ),
                (
                    "SMR_REMEDIATION__RECREATE_SUBNET_ID",
                    "subnet-0123456789abcdef0",
                ),
                ("SMR_AWS__REQUESTS_PER_SECOND", "2.5"),
                ("SMR_AWS__CALL_TIMEOUT_SECS", "30"),
                (
                    "SMR_ACCOUNTS",
                    r#"[{id="111122223333", enforce=true}, {id="444455556666"}]"#,
                ),
            ],
        )
        .expect("loads");
        assert_eq!(config.mode, Mode::Enforce);
        assert_eq!(
            config.daemon.queue_url,
            "https://sqs.eu-west-1.amazonaws.com/111122223333/smr-events"
        );
        assert_eq!(config.daemon.receive_concurrency, 4);
        assert_eq!(config.daemon.listen, "0.0.0.0:9464");
        assert_eq!(config.daemon.sweep_jitter, 0.0);
        assert_eq!(config.daemon.store_path, PathBuf::from("/data/smr.db"));
        // tables merge key by key: the file's SageMaker.3 and the env's SageMaker.8 both count
        assert_eq!(config.action(ControlId::SageMaker8), Action::Fix);
        assert_eq!(config.action(ControlId::SageMaker3), Action::Flag);
        assert_eq!(config.action(ControlId::SageMaker6), Action::Fix);
        assert_eq!(
            config
                .remediation
                .tag_values
                .get("cost center")
                .map(String::as_str),
            Some("4711")
        );
        assert_eq!(
            config.remediation.recreate_subnet(),
            Some("subnet-0123456789abcdef0")
        );
        assert!((config.aws.requests_per_second - 2.5).abs() < f64::EPSILON);
        assert_eq!(config.aws.call_timeout(), Duration::from_secs(30));
        assert!(config.enforces("111122223333"));
        assert!(!config.enforces("444455556666"));
    }

    #[test]
    fn env_values_that_look_like_other_types_stay_strings() {
        let config = Config::load_from(
            None,
            &[
                ("SMR_DAEMON__LISTEN", "[::]:9464"),
                (
                    "SMR_DAEMON__QUEUE_URL",
                    "http://localhost:4566/000000000000/q",
                ),
                ("SMR_REMEDIATION__FLAG_TAG_KEY", "compliance:recreate"),
            ],
        )
        .expect("loads");
        assert_eq!(config.daemon.listen, "[::]:9464");
        assert_eq!(
            config.daemon.queue_url,
            "http://localhost:4566/000000000000/q"
        );
        assert_eq!(config.remediation.flag_tag_key, "compliance:recreate");
    }

    #[test]
    fn env_problems_in_the_new_sections_name_the_variable() {
        let errors = errors(
            "",
            &[
                ("SMR_ACTIONS", r#"{"SageMaker.1"="fix"}"#),
                ("SMR_DAEMON__LISTEN", "localhost"),
                ("SMR_MODE", "on"),
            ],
        );
        assert_eq!(
            errors.keys(),
            ["mode", "actions.\"SageMaker.1\"", "daemon.listen"],
            "{errors}"
        );
        for (problem, var) in
            errors
                .problems
                .iter()
                .zip(["SMR_MODE", "SMR_ACTIONS", "SMR_DAEMON__LISTEN"])
        {
            assert_eq!(
                problem.source.as_deref(),
                Some(format!("environment variable {var}").as_str())
            );
        }
    }

    #[test]
    fn unknown_keys_in_the_new_sections_are_reported() {
        let errors = errors(
            r#"
            modes = "audit"
            [actions]
            "SageMaker.9" = "flag"
            "sagemaker.3" = "fix"
            [remediation]
            exemption_tag = "x"
            [daemon]
            queue = "https://example.com/q"
            [aws]
            rps = 5
            [[accounts]]
            id = "111122223333"
            enforced = true
            "#,
            &[],
        );
        assert_eq!(
            errors.keys(),
            [
                "accounts[0].enforced",
                "actions.\"SageMaker.9\"",
                "actions.\"sagemaker.3\"",
                "aws.rps",
                "daemon.queue",
                "modes",
                "remediation.exemption_tag",
            ],
            "{errors}"
        );
        let message = |key: &str| {
            errors
                .find(key)
                .map(|p| p.message.clone())
                .unwrap_or_default()
        };
        assert!(message("accounts[0].enforced").contains("`enforce`"));
        assert!(message("actions.\"SageMaker.9\"").contains("SageMaker.1 to SageMaker.8"));
        assert!(message("actions.\"sagemaker.3\"").contains("`SageMaker.3`"));
        assert!(message("daemon.queue").contains("`queue_url`"));
        assert!(message("modes").contains("`mode`"));
        assert!(message("remediation.exemption_tag").contains("`exemption_tag_key`"));
        assert!(message("aws.rps").contains("`requests_per_second`"));
    }

    #[test]
    fn type_errors_in_the_new_sections_are_reported() {
        let errors = errors(
            r#"
            mode = "fix"
            [actions]
            "SageMaker.3" = "repair"
            "SageMaker.6" = true
            [remediation]
            tag_values = { owner = 1, team = "ml" }
            step_timeout_secs = -1
            poll_interval_secs = 1.5
            recreate_security_group_ids = "sg-01234567"
            [daemon]
            sweep_jitter = "some"
            store_path = 5
            receive_concurrency = -2
            [aws]
            requests_per_second = "fast"
            [[accounts]]
            id = "111122223333"
            enforce = "yes"
            "#,
            &[],
        );
        assert_eq!(
            errors.keys(),
            [
                "accounts[0].enforce",
                "actions.\"SageMaker.3\"",
                "actions.\"SageMaker.6\"",
                "aws.requests_per_second",
                "daemon.receive_concurrency",
                "daemon.store_path",
                "daemon.sweep_jitter",
                "mode",
                "remediation.poll_interval_secs",
                "remediation.recreate_security_group_ids",
                "remediation.step_timeout_secs",
                "remediation.tag_values.owner",
            ],
            "{errors}"
        );
        let message = |key: &str| {
            errors
                .find(key)
                .map(|p| p.message.clone())
                .unwrap_or_default()
        };
        assert!(message("mode").contains("\"audit\" or \"enforce\""));
        assert!(message("actions.\"SageMaker.3\"").contains("\"fix\", \"flag\" or \"ignore\""));
        assert!(message("accounts[0].enforce").contains("true or false"));
        assert!(message("daemon.receive_concurrency").contains("from 1 to 10"));
        assert!(message("remediation.step_timeout_secs").contains("integer -1"));
        assert!(message("remediation.poll_interval_secs").contains("expected an integer"));
    }

    #[test]
    fn fix_is_only_valid_for_in_place_controls() {
        for control in ControlId::ALL {
            let mut config = Config::default();
            config.actions.insert(control, Action::Fix);
            let fixable = matches!(
                control,
                ControlId::SageMaker3
                    | ControlId::SageMaker6
                    | ControlId::SageMaker7
                    | ControlId::SageMaker8
            );
            assert_eq!(config.validate().is_ok(), fixable, "{control}");
            if !fixable {
                let problems = problems_of(&config);
                assert_eq!(problems.len(), 1);
                assert!(
                    problems[0].starts_with(&format!("actions.\"{control}\": {control} cannot")),
                    "{problems:?}"
                );
            }
            for action in [Action::Flag, Action::Ignore] {
                config.actions.insert(control, action);
                assert!(config.validate().is_ok(), "{control} {action}");
            }
        }
        // all at once, with the file as source
        let errors = errors(
            "[actions]\n\"SageMaker.1\" = \"fix\"\n\"SageMaker.4\" = \"fix\"\n",
            &[],
        );
        assert_eq!(
            errors.keys(),
            ["actions.\"SageMaker.1\"", "actions.\"SageMaker.4\""]
        );
        assert_eq!(errors.problems[0].source.as_deref(), Some("config file"));
    }

    /// `validate()` accepts `set(config, value)` exactly for the `ok` values; problems are
    /// reported at `key` only.
    fn check_bounds<T: Copy + fmt::Debug>(
        key: &str,
        set: impl Fn(&mut Config, T),
        cases: &[(T, bool)],
    ) {
        for &(value, ok) in cases {
            let mut config = Config::default();
            set(&mut config, value);
            let keys = keys_of(&config);
            if ok {
                assert!(
                    keys.is_empty(),
                    "{key} = {value:?}: {:?}",
                    problems_of(&config)
                );
            } else {
                assert_eq!(keys, [key], "{key} = {value:?}");
            }
        }
    }

    #[test]
    fn daemon_bounds() {
        check_bounds(
            "daemon.receive_concurrency",
            |c, v| c.daemon.receive_concurrency = v,
            &[(0, false), (1, true), (10, true), (11, false)],
        );
        check_bounds(
            "daemon.reconcile_concurrency",
            |c, v| c.daemon.reconcile_concurrency = v,
            &[(0, false), (1, true), (256, true), (257, false)],
        );
        check_bounds(
            "daemon.sweep_jitter",
            |c, v| c.daemon.sweep_jitter = v,
            &[
                (-0.01, false),
                (0.0, true),
                (0.5, true),
                (0.51, false),
                (f64::NAN, false),
            ],
        );
        check_bounds(
            "daemon.sweep_interval_secs",
            |c, v| c.daemon.sweep_interval_secs = v,
            &[(0, true), (1, true), (u64::MAX, true)],
        );
        check_bounds(
            "daemon.shutdown_grace_secs",
            |c, v| c.daemon.shutdown_grace_secs = v,
            &[(0, false), (1, true), (3600, true), (3601, false)],
        );
        check_bounds(
            "daemon.error_backoff_secs",
            |c, v| {
                c.daemon.error_backoff_secs = v;
                c.daemon.max_error_backoff_secs = 86_400;
            },
            &[(0, false), (1, true), (86_400, true), (86_401, false)],
        );
        check_bounds(
            "daemon.max_error_backoff_secs",
            |c, v| c.daemon.max_error_backoff_secs = v,
            &[
                (0, false),
                (4, false),
                (5, true),
                (86_400, true),
                (86_401, false),
            ],
        );
        check_bounds(
            "daemon.claim_ttl_secs",
            |c, v| c.daemon.claim_ttl_secs = v,
            &[(4, false), (5, true), (3600, true), (3601, false)],
        );
        check_bounds(
            "daemon.store_path",
            |c, v: &str| c.daemon.store_path = PathBuf::from(v),
            &[
                ("", false),
                ("smr.db", true),
                ("/var/lib/smr/journal.db", true),
            ],
        );
        assert_eq!(
            Config {
                daemon: DaemonConfig {
                    sweep_interval_secs: 0,
                    ..DaemonConfig::default()
                },
                ..Config::default()
            }
            .daemon
            .sweep_interval(),
            None
        );
    }

    #[test]
    fn queue_url_rules() {
        check_bounds(
            "daemon.queue_url",
            |c, v: &str| c.daemon.queue_url = v.to_string(),
            &[
                ("", true),
                (
                    "https://sqs.us-east-1.amazonaws.com/111122223333/smr-events",
                    true,
                ),
                ("http://localhost:4566/000000000000/smr-events", true),
                ("sqs.us-east-1.amazonaws.com/111122223333/q", false),
                ("https://", false),
                ("https:///q", false),
                ("ftp://example.com/q", false),
                ("https://sqs.us-east-1.amazonaws.com/1111 22223333/q", false),
                (" ", false),
            ],
        );
    }

    #[test]
    fn listen_rules() {
        check_bounds(
            "daemon.listen",
            |c, v: &str| c.daemon.listen = v.to_string(),
            &[
                ("127.0.0.1:9464", true),
                ("0.0.0.0:9464", true),
                ("[::]:9464", true),
                ("127.0.0.1:0", true),
                ("localhost:9464", false),
                ("9464", false),
                ("127.0.0.1", false),
                ("", false),
            ],
        );
    }

    #[test]
    fn aws_bounds() {
        check_bounds(
            "aws.requests_per_second",
            |c, v| c.aws.requests_per_second = v,
            &[
                (0.0, false),
                (0.09, false),
                (0.1, true),
                (1000.0, true),
                (1000.5, false),
                (f64::INFINITY, false),
            ],
        );
        check_bounds(
            "aws.call_timeout_secs",
            |c, v| c.aws.call_timeout_secs = v,
            &[(0, false), (1, true), (900, true), (901, false)],
        );
        // integers are fine for a float key
        let config = load("[aws]\nrequests_per_second = 1000\n").expect("loads");
        assert!((config.aws.requests_per_second - 1000.0).abs() < f64::EPSILON);
    }

    #[test]
    fn remediation_bounds() {
        check_bounds(
            "remediation.step_timeout_secs",
            |c, v| c.remediation.step_timeout_secs = v,
            &[(0, false), (1, true), (86_400, true), (86_401, false)],
        );
        check_bounds(
            "remediation.poll_interval_secs",
            |c, v| {
                c.remediation.poll_interval_secs = v;
                c.remediation.max_poll_interval_secs = 3600;
            },
            &[(0, false), (1, true), (3600, true), (3601, false)],
        );
        check_bounds(
            "remediation.max_poll_interval_secs",
            |c, v| c.remediation.max_poll_interval_secs = v,
            &[
                (0, false),
                (14, false),
                (15, true),
                (3600, true),
                (3601, false),
            ],
        );
        check_bounds(
            "remediation.max_update_attempts",
            |c, v| c.remediation.max_update_attempts = v,
            &[(0, false), (1, true), (100, true), (101, false)],
        );
    }

    #[test]
    fn exemption_and_flag_tag_key_rules() {
        for key in ["remediation.exemption_tag_key", "remediation.flag_tag_key"] {
            let set = |c: &mut Config, v: &str| {
                if key.ends_with("exemption_tag_key") {
                    c.remediation.exemption_tag_key = v.to_string();
                } else {
                    c.remediation.flag_tag_key = v.to_string();
                }
            };
            let long = "k".repeat(128);
            let too_long = "k".repeat(129);
            check_bounds(
                key,
                set,
                &[
                    ("", false),
                    ("aws:exempt", false),
                    ("AWS:exempt", false),
                    (long.as_str(), true),
                    (too_long.as_str(), false),
                    ("team#exempt", false),
                    ("compliance/exempt", true),
                ],
            );
        }
        let mut config = Config::default();
        config.remediation.flag_tag_key = config.remediation.exemption_tag_key.clone();
        assert_eq!(keys_of(&config), ["remediation.flag_tag_key"]);
        assert!(problems_of(&config)[0].contains("exempt themselves"));
    }

    #[test]
    fn tag_values_rules() {
        let mut config = Config::default();
        config.remediation.tag_values = [
            ("owner", "platform-team".to_string()),
            ("aws:owner", "x".to_string()),
            ("cost#center", "x".to_string()),
            ("long", "v".repeat(256)),
            ("too-long", "v".repeat(257)),
            ("bad-value", "a;b".to_string()),
            ("empty", String::new()),
            ("sagemaker-remediator:exempt", "yes".to_string()),
            ("sagemaker-remediator:recreate-required", "x".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(
            keys_of(&config),
            [
                "remediation.tag_values.\"aws:owner\"",
                "remediation.tag_values.bad-value",
                "remediation.tag_values.\"cost#center\"",
                "remediation.tag_values.\"sagemaker-remediator:exempt\"",
                "remediation.tag_values.\"sagemaker-remediator:recreate-required\"",
                "remediation.tag_values.too-long",
            ],
            "{:?}",
            problems_of(&config)
        );
        config.remediation.tag_values = [("x".repeat(129), "v".to_string())].into();
        assert_eq!(keys_of(&config).len(), 1);
    }

    #[test]
    fn recreate_network_rules() {
        check_bounds(
            "remediation.recreate_subnet_id",
            |c, v: &str| c.remediation.recreate_subnet_id = v.to_string(),
            &[
                ("", true),
                ("subnet-0123abcd", true),
                ("subnet-0123456789abcdef0", true),
                ("subnet-0123ABCD", false),
                ("subnet-0123abc", false),
                ("sg-0123abcd", false),
            ],
        );
        let mut config = Config::default();
        config.remediation.recreate_security_group_ids = strings(&["sg-0123abcd"]);
        assert_eq!(
            keys_of(&config),
            ["remediation.recreate_security_group_ids"]
        );
        config.remediation.recreate_subnet_id = "subnet-0123abcd".to_string();
        assert!(config.validate().is_ok());
        config.remediation.recreate_security_group_ids =
            strings(&["sg-0123abcd", "subnet-0123abcd", "sg-0123abcd"]);
        assert_eq!(
            keys_of(&config),
            [
                "remediation.recreate_security_group_ids[1]",
                "remediation.recreate_security_group_ids[2]",
            ]
        );
        config.remediation.recreate_security_group_ids =
            (0..6).map(|i| format!("sg-0123abc{i}")).collect();
        assert_eq!(
            keys_of(&config),
            ["remediation.recreate_security_group_ids"]
        );
    }

    #[test]
    fn enforces_needs_both_opt_ins() {
        let mut config = with_accounts(vec![
            AccountConfig {
                enforce: true,
                ..account("111122223333")
            },
            account("444455556666"),
        ]);
        assert!(!config.enforces("111122223333"), "audit mode");
        config.mode = Mode::Enforce;
        assert!(config.enforces("111122223333"));
        assert!(!config.enforces("444455556666"), "not opted in");
        assert!(!config.enforces("777788889999"), "not listed");
        assert!(!config.enforces(""));
    }

    #[test]
    fn warnings_for_enforce_mode_without_opted_in_accounts() {
        let mut config = Config {
            mode: Mode::Enforce,
            ..Config::default()
        };
        assert!(config.validate().is_ok(), "legal");
        let warnings = config.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].key, "mode");
        assert!(warnings[0].message.contains("enforce = true"));

        config.accounts = vec![account("111122223333")];
        assert_eq!(config.warnings().len(), 1);

        config.accounts[0].enforce = true;
        config
            .remediation
            .tag_values
            .insert("owner".to_string(), "me".to_string());
        assert!(config.warnings().is_empty(), "{:?}", config.warnings());

        config.mode = Mode::Audit;
        let warnings = config.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].key, "accounts[0].enforce");
    }

    #[test]
    fn warnings_for_required_tag_keys_without_values() {
        let mut config = Config::default();
        config.controls.required_tag_keys = strings(&["owner", "team", "cost center"]);
        config
            .remediation
            .tag_values
            .insert("owner".to_string(), "me".to_string());
        assert!(config.validate().is_ok(), "legal");
        let warnings = config.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].key, "remediation.tag_values");
        assert!(warnings[0].message.contains("`team`, `cost center`"));
        assert!(!warnings[0].message.contains("`owner`"));
        assert!(warnings[0].message.contains("SageMaker.6/SageMaker.7"));

        config.actions.insert(ControlId::SageMaker6, Action::Flag);
        assert!(config.warnings()[0].message.contains("SageMaker.7 is set"));
        config.actions.insert(ControlId::SageMaker7, Action::Ignore);
        assert!(config.warnings().is_empty());
    }

    #[test]
    fn warning_for_no_tag_values_only_when_enforcing() {
        let mut config = with_accounts(vec![AccountConfig {
            enforce: true,
            ..account("111122223333")
        }]);
        config.mode = Mode::Enforce;
        let warnings = config.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].key, "remediation.tag_values");
        assert!(warnings[0].message.contains("flagged instead"));
    }

    #[test]
    fn key_paths_quote_keys_toml_would_quote() {
        let path = KeyPath::root().key("actions").key("SageMaker.3");
        assert_eq!(path.to_string(), "actions.\"SageMaker.3\"");
        let path = KeyPath::root()
            .key("remediation")
            .key("tag_values")
            .key("cost center");
        assert_eq!(path.to_string(), "remediation.tag_values.\"cost center\"");
        let path = KeyPath::root().key("accounts").index(2).key("session_name");
        assert_eq!(path.to_string(), "accounts[2].session_name");
    }

    #[test]
    fn mode_and_action_names() {
        assert_eq!(Mode::Enforce.to_string(), "enforce");
        assert_eq!(Mode::default(), Mode::Audit);
        assert_eq!(Action::Ignore.to_string(), "ignore");
        assert!(fix_unsupported(ControlId::SageMaker3).is_none());
        assert!(fix_unsupported(ControlId::SageMaker2).is_some_and(|w| w.contains("SubnetId")));
    }
}
