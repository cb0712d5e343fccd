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
//! The types below are the one schema: serde (with `deny_unknown_fields`) reads them, each field's
//! default is on the field (`#[default(..)]`) and its bounds and syntax are garde rules
//! (`#[garde(..)]`, the syntax rules in [`rules`]); checks across keys are in `checks`. Adding a
//! key is adding a field with its doc comment, default and rule.
//!
//! [`Config::load`] merges the layers with figment and deserializes the result; because serde
//! stops at the first error, [`load`] takes the offending value out and tries again until every
//! unknown key and type error is known. Those and the semantic problems ([`Config::validate`])
//! are all collected into one [`ConfigErrors`], each with its key path
//! (`accounts[1].external_id`) and, when known, where the value came from (the file path or
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

mod checks;
mod load;
mod problems;
#[cfg(test)]
mod proptests;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use smart_default::SmartDefault;

use crate::controls::Params;
use crate::model::ControlId;

pub use load::fields;
pub use problems::{ConfigErrors, ConfigProblem};
use problems::{Issue, KeyPath};
use rules::within;

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "SMR_";
/// Separator between the levels of a key path in an environment variable name.
pub const ENV_SEPARATOR: &str = "__";
/// `SMR_*` variables that are not configuration keys.
pub const RESERVED_ENV_VARS: &[&str] = &["SMR_CONFIG"];
/// Security Hub's limit on `requiredKeyTags`.
pub const MAX_REQUIRED_TAG_KEYS: usize = 6;
/// AWS's tag key length limit.
pub const MAX_TAG_KEY_CHARS: usize = 128;
/// AWS's tag value length limit.
pub const MAX_TAG_VALUE_CHARS: usize = 256;
/// The SageMaker.8 platform Security Hub accepts by default.
pub const DEFAULT_PLATFORM: &str = crate::controls::SUPPORTED_PLATFORM;
/// Default tag key that exempts a resource.
pub const DEFAULT_EXEMPTION_TAG_KEY: &str = "sagemaker-remediator:exempt";
/// Default tag key put on flagged resources.
pub const DEFAULT_FLAG_TAG_KEY: &str = "sagemaker-remediator:recreate-required";
const MAX_CONCURRENCY: usize = 256;
const MAX_POLL_INTERVAL_SECS: u64 = 3600;
const MAX_UPDATE_ATTEMPTS: u32 = 100;
/// Longest failure-memory delay and quiet period: 30 days.
const MAX_RETRY_SECS: u64 = 30 * 86_400;
const MAX_ERROR_BACKOFF_SECS: u64 = 86_400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SmartDefault, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `audit` (the default): evaluate, plan and record, call no mutating API. `enforce`: act,
    /// but only in accounts listed with `enforce = true`.
    #[garde(skip)]
    pub mode: Mode,
    /// What to do about each failed control. Always holds all eight controls after loading
    /// (absent keys take their defaults, see [`Action::default_for`]); use [`Config::action`].
    #[default(Action::defaults())]
    #[garde(skip)]
    pub actions: BTreeMap<ControlId, Action>,
    /// Parameters of the Security Hub controls (SageMaker.6/.7 tags, SageMaker.8 platforms).
    #[garde(dive)]
    pub controls: ControlsConfig,
    /// How remediation is carried out: exemption and flag tags, tag values, timeouts.
    #[garde(dive)]
    pub remediation: RemediationConfig,
    /// What to audit and how hard to drive the AWS APIs while doing so.
    #[garde(dive)]
    pub audit: AuditConfig,
    /// The long-running `run` daemon: event intake, sweeps, concurrency, store, HTTP listener.
    #[garde(dive)]
    pub daemon: DaemonConfig,
    /// Notifications of outcomes on an EventBridge bus (off unless a bus is named).
    #[garde(dive)]
    pub notifications: NotificationsConfig,
    /// Security Hub write-back: workflow status and note on the findings (off by default).
    #[garde(dive)]
    pub findings: FindingsConfig,
    /// Approval requests: rules that turn `fix` into `approve`, expiry, re-asking.
    #[garde(dive)]
    pub approvals: ApprovalsConfig,
    /// Resources managed by infrastructure as code (CloudFormation, CDK, Terraform): how they
    /// are recognised and what is done about them.
    #[garde(dive)]
    pub iac: IacConfig,
    /// AWS client behaviour: rate limit and per-call timeout.
    #[garde(dive)]
    pub aws: AwsConfig,
    /// Log output.
    #[garde(dive)]
    pub log: LogConfig,
    /// Accounts to audit. Empty (and no `[organization]`) means the caller's own account with
    /// the default credentials. With `[organization]`, these entries override what is
    /// discovered for the same account.
    #[garde(dive)]
    pub accounts: Vec<AccountConfig>,
    /// Accounts discovered from AWS Organizations (off unless `enabled`).
    #[garde(dive)]
    pub organization: OrganizationConfig,
    /// The accounts discovered from the organisation at run time (not configuration: shared by
    /// every clone of this config, never read from or written to a file).
    #[serde(skip)]
    #[garde(skip)]
    pub discovered: crate::organization::Discovered,
    /// Resources exempt from some or all controls until a date, besides the exemption tag.
    #[garde(dive)]
    pub exemptions: Vec<Exemption>,
    /// Maintenance windows: when disruptive steps (a notebook Stop) may start.
    #[garde(dive)]
    pub windows: Vec<MaintenanceWindow>,
    /// Blast-radius limits on notebook fixes per account.
    #[garde(dive)]
    pub limits: LimitsConfig,
}

/// Whether the remediator may change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(strum::IntoStaticStr, strum::Display, strum::VariantNames)]
#[strum(serialize_all = "lowercase")]
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
        self.into()
    }
}

/// What to do about a failed control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(strum::IntoStaticStr, strum::Display, strum::VariantNames)]
#[strum(serialize_all = "lowercase")]
pub enum Action {
    /// Fix: in place for SageMaker.3, .6, .7 and .8, by a blue/green endpoint config
    /// replacement for .4 (.1, .2 and .5 cannot be fixed).
    Fix,
    /// Plan the fix and wait for a person's approval (`approvals`) before carrying it out.
    Approve,
    /// Leave the resource as it is, tag it with `remediation.flag_tag_key` and report it.
    Flag,
    /// Do nothing beyond recording the evaluation.
    Ignore,
}

impl Action {
    /// `fix`, `approve`, `flag` or `ignore`, as in the configuration.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The built-in action for `control` (the control catalogue's): `fix` for SageMaker.3, .6
    /// and .7; `flag` for the others.
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

/// Whether `action = "fix"` is possible for `control`; if not, why (for messages).
pub fn fix_unsupported(control: ControlId) -> Option<&'static str> {
    control.fix_unsupported()
}

/// The values of the enum serde calls `name`, for messages.
fn variants_of(name: &str) -> Option<&'static [&'static str]> {
    use strum::VariantNames;
    match name {
        "Mode" => Some(Mode::VARIANTS),
        "Action" => Some(Action::VARIANTS),
        "LogFormat" => Some(LogFormat::VARIANTS),
        "StoreKind" => Some(StoreKind::VARIANTS),
        _ => None,
    }
}

/// Parameters of the Security Hub controls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SmartDefault, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct ControlsConfig {
    /// SageMaker.6/.7 `requiredKeyTags`: 0-6 case-sensitive tag keys that every resource must
    /// carry. Empty means "at least one tag whose key does not start with `aws:`".
    #[garde(
        custom(rules::at_most(MAX_REQUIRED_TAG_KEYS, "keys (Security Hub requiredKeyTags)")),
        inner(custom(rules::tag_key))
    )]
    pub required_tag_keys: Vec<String>,
    /// SageMaker.8: the notebook platform identifiers that pass (Security Hub's value, as of
    /// its control reference of 2026: `notebook-al2023-v1`). Must not be empty.
    #[default(vec![DEFAULT_PLATFORM.to_string()])]
    #[garde(inner(custom(rules::not_blank)))]
    pub supported_platforms: Vec<String>,
    /// SageMaker.8 remediation target platform; must be one of `supported_platforms`.
    #[default(DEFAULT_PLATFORM.to_string())]
    #[garde(custom(rules::not_blank))]
    pub platform_target: String,
    /// `audit` and `run` read SageMaker.6/.7's `requiredKeyTags` from each account's Security
    /// Hub (`BatchGetSecurityControls`) and judge with them; the audit says where they differ
    /// from `required_tag_keys`. Off by default (it needs Security Hub enabled and
    /// `securityhub:BatchGetSecurityControls`).
    #[garde(skip)]
    pub from_security_hub: bool,
}

/// What to audit and with how much parallelism.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SmartDefault, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Regions to audit (e.g. `us-east-1`). Empty means the default region of the credential
    /// chain. An account's own `regions` take precedence.
    #[garde(inner(custom(rules::region)))]
    pub regions: Vec<String>,
    /// Concurrent Describe/ListTags calls per account and region, 1 to 256.
    #[default(16)]
    #[garde(custom(within(1, MAX_CONCURRENCY)))]
    pub concurrency: usize,
}

/// How remediation is carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SmartDefault, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct RemediationConfig {
    /// Resources carrying a tag with this key (any value) are skipped and reported as exempt.
    /// A valid tag key, not starting with `aws:`.
    #[default(DEFAULT_EXEMPTION_TAG_KEY.to_string())]
    #[garde(custom(rules::tag_key))]
    pub exemption_tag_key: String,
    /// Tag put on flagged resources; its value lists the failing controls, e.g.
    /// `SageMaker.1 SageMaker.2`. A valid tag key, not starting with `aws:`, different from
    /// `exemption_tag_key`.
    #[default(DEFAULT_FLAG_TAG_KEY.to_string())]
    #[garde(custom(rules::tag_key))]
    pub flag_tag_key: String,
    /// Tag key -> value added by the SageMaker.6/.7 fix. A required key
    /// (`controls.required_tag_keys`) without a value here cannot be fixed: the resource is
    /// flagged instead. With no required keys, an untagged resource gets all of these (or is
    /// flagged when this is empty). Existing tag values are never overwritten.
    #[garde(skip)]
    pub tag_values: BTreeMap<String, String>,
    /// Subnet (`subnet-...`) written into recreation plans of notebook instances failing
    /// SageMaker.1/.2. Empty means a placeholder in the plan.
    #[garde(custom(rules::vpc_id("subnet-")))]
    pub recreate_subnet_id: String,
    /// Security groups (`sg-...`, at most 5) for recreation plans; needs `recreate_subnet_id`.
    #[garde(
        custom(rules::at_most(5, "security groups")),
        inner(custom(rules::vpc_id("sg-")))
    )]
    pub recreate_security_group_ids: Vec<String>,
    /// CloudWatch alarm names (at most 10) that roll a SageMaker.4 replacement back while they
    /// fire during its 5-minute baking period. Empty: no baking; the blue/green update still
    /// rolls back by itself when the new fleet does not become healthy.
    #[garde(custom(rules::at_most(10, "alarms")), inner(custom(rules::not_blank)))]
    pub endpoint_rollback_alarms: Vec<String>,
    /// Longest wait of one workflow step (e.g. for a notebook to reach Stopped or InService),
    /// in seconds, 1 to 86400. Real AWS transitions take minutes.
    #[default(1800)]
    #[garde(custom(within(1, 86_400)))]
    pub step_timeout_secs: u64,
    /// First poll delay while waiting for a transition, in seconds (1-3600); it doubles up to
    /// `max_poll_interval_secs`.
    #[default(15)]
    #[garde(custom(within(1, MAX_POLL_INTERVAL_SECS)))]
    pub poll_interval_secs: u64,
    /// Longest poll delay while waiting, in seconds; at least `poll_interval_secs`, at most 3600.
    #[default(60)]
    #[garde(custom(within(1, MAX_POLL_INTERVAL_SECS)))]
    pub max_poll_interval_secs: u64,
    /// How often an `UpdateNotebookInstance` (or `AddTags`) is tried before the remediation is
    /// given up as failed, 1 to 100.
    #[default(3)]
    #[garde(custom(within(1, MAX_UPDATE_ATTEMPTS)))]
    pub max_update_attempts: u32,
    /// After a remediation failed, how long until the same plan is tried again on an unchanged
    /// resource, in seconds (60 to 30 days); it doubles per consecutive failure up to
    /// `max_retry_failed_after_secs`. A change of the resource's settings or of the plan makes
    /// it due at once.
    #[default(3600)]
    #[garde(custom(within(60, MAX_RETRY_SECS)))]
    pub retry_failed_after_secs: u64,
    /// The longest of those retry delays, in seconds; at least `retry_failed_after_secs`, at
    /// most 30 days.
    #[default(86_400)]
    #[garde(custom(within(60, MAX_RETRY_SECS)))]
    pub max_retry_failed_after_secs: u64,
    /// Consecutive failed attempts of one plan after which the resource "needs a person" and is
    /// left alone until it or the plan changes, 1 to 100. Permanent errors (access denied,
    /// invalid request) need a person at once.
    #[default(3)]
    #[garde(custom(within(1, MAX_UPDATE_ATTEMPTS)))]
    pub max_failed_fixes: u32,
    /// After someone opened a notebook (CloudTrail `CreatePresignedNotebookInstanceUrl`), how
    /// long a fix that would stop it waits, in seconds (0 to 30 days; 0: it does not wait).
    #[default(3600)]
    #[garde(custom(within(0, MAX_RETRY_SECS)))]
    pub quiet_after_use_secs: u64,
    /// Notice before a fix stops a running notebook, in seconds (0 to 30 days; 0: none). The
    /// daemon tags the notebook `sagemaker-remediator:scheduled-at` with the planned stop time
    /// (and sends `Remediation Scheduled`), then waits this long before it stops it.
    #[default(0)]
    #[garde(custom(within(0, MAX_RETRY_SECS)))]
    pub stop_notice_secs: u64,
    /// After someone started a notebook that our fix held stopped, how long no disruptive fix
    /// touches that notebook, in seconds (0 to 30 days).
    #[default(86_400)]
    #[garde(custom(within(0, MAX_RETRY_SECS)))]
    pub quiet_period_secs: u64,
}

/// The long-running `run` daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SmartDefault, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// URL of the SQS queue receiving the EventBridge events (`https://sqs.<region>.amazonaws.com/
    /// <account>/<name>`). Empty means no event intake: periodic sweeps only.
    #[garde(custom(rules::queue_url))]
    pub queue_url: String,
    /// Concurrent SQS long-poll loops, 1 to 10.
    #[default(1)]
    #[garde(custom(within(1, 10)))]
    pub receive_concurrency: usize,
    /// Resources reconciled at once, 1 to 256.
    #[default(8)]
    #[garde(custom(within(1, 256)))]
    pub reconcile_concurrency: usize,
    /// Period of the full sweep over every resource, in seconds. A sweep always runs at
    /// start-up; 0 means only then (events alone drive the rest, and lost events stay lost).
    #[default(3600)]
    #[garde(skip)]
    pub sweep_interval_secs: u64,
    /// Random spread of each sweep's start, as a fraction of `sweep_interval_secs`, 0.0 to 0.5.
    #[default(0.1)]
    #[garde(custom(within(0.0, 0.5)))]
    pub sweep_jitter: f64,
    /// How many accounts and regions a sweep reads at once, 1 to 256 (each is paced by its own
    /// `aws.requests_per_second`; more at once is faster across an organisation, and holds
    /// more of what is read in memory at a time).
    #[default(64)]
    #[garde(custom(within(1, 256)))]
    pub sweep_targets_at_once: usize,
    /// How often a sweep reads everything again, in seconds (0: every sweep). In between, a
    /// sweep describes only what its List calls show new or changed since it was last found
    /// compliant (a notebook's last modification and status; endpoint configs and models
    /// never change); the first sweep after a start is always a full read.
    #[default(86_400)]
    #[garde(skip)]
    pub full_sweep_interval_secs: u64,
    /// Where the journal and the queue of triggers live: `sqlite` (one file, `store_path`, one
    /// daemon) or `dynamodb` (one table, `dynamodb_table`, any number of replicas).
    #[garde(skip)]
    pub store: StoreKind,
    /// The SQLite journal file (created when missing).
    #[default(PathBuf::from("sagemaker-remediator.db"))]
    #[garde(custom(rules::file_path))]
    pub store_path: PathBuf,
    /// The DynamoDB table of `store = "dynamodb"` (`sagemaker-remediator store init` creates
    /// it), in the default region of the credential chain.
    #[default("sagemaker-remediator".to_string())]
    #[garde(custom(rules::table_name))]
    pub dynamodb_table: String,
    /// How long DynamoDB keeps finished remediations, approvals and triggers, in days (1-3650;
    /// its TTL deletes them after that).
    #[default(90)]
    #[garde(custom(within(1, 3650)))]
    pub dynamodb_retention_days: u64,
    /// Socket address of the HTTP listener for `/healthz`, `/readyz` and `/metrics`, e.g.
    /// `127.0.0.1:9464` (`0.0.0.0:9464` in a container).
    #[default("127.0.0.1:9464".to_string())]
    #[garde(custom(rules::socket_addr))]
    pub listen: String,
    /// On SIGTERM, how long the step in flight may take to finish, in seconds, 1 to 3600. Keep it
    /// below the orchestrator's stop timeout (ECS: 30 s).
    #[default(25)]
    #[garde(custom(within(1, 3600)))]
    pub shutdown_grace_secs: u64,
    /// First retry delay after a failed reconcile, in seconds (1-86400); it doubles per failure up
    /// to `max_error_backoff_secs`.
    #[default(5)]
    #[garde(custom(within(1, MAX_ERROR_BACKOFF_SECS)))]
    pub error_backoff_secs: u64,
    /// Longest retry delay after failed reconciles, in seconds; at least `error_backoff_secs`, at
    /// most 86400.
    #[default(900)]
    #[garde(custom(within(1, MAX_ERROR_BACKOFF_SECS)))]
    pub max_error_backoff_secs: u64,
    /// Lifetime of the per-resource claim that keeps two reconciles of one resource apart, in
    /// seconds, 5 to 3600; renewed every third of it while a reconcile runs.
    #[default(60)]
    #[garde(custom(within(5, 3600)))]
    pub claim_ttl_secs: u64,
}

/// Notifications of outcomes on an EventBridge bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SmartDefault, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// The bus `PutEvents` sends to: a name (`smr-notifications`) or its ARN. Empty (the
    /// default) means no notifications, and none are kept.
    #[garde(custom(rules::event_bus))]
    pub event_bus: String,
    /// Region of the bus. Empty: the region in `event_bus` when it is an ARN, else the default
    /// region of the credential chain.
    #[garde(custom(rules::optional_region))]
    pub region: String,
    /// First delay before a notice the bus did not take is sent again, in seconds (1-3600); it
    /// doubles per failed attempt up to `max_retry_backoff_secs`. Notices are never dropped.
    #[default(1)]
    #[garde(custom(within(1, MAX_POLL_INTERVAL_SECS)))]
    pub retry_backoff_secs: u64,
    /// Longest of those delays, in seconds; at least `retry_backoff_secs`, at most 86400.
    #[default(300)]
    #[garde(custom(within(1, MAX_ERROR_BACKOFF_SECS)))]
    pub max_retry_backoff_secs: u64,
}

impl NotificationsConfig {
    /// The bus, when notifications are on.
    pub fn bus(&self) -> Option<&str> {
        (!self.event_bus.is_empty()).then_some(self.event_bus.as_str())
    }

    /// The region to reach the bus in, when one is known from the configuration.
    pub fn bus_region(&self) -> Option<&str> {
        if !self.region.is_empty() {
            return Some(&self.region);
        }
        let region = self.event_bus.strip_prefix("arn:")?.split(':').nth(2)?;
        (!region.is_empty()).then_some(region)
    }

    /// The retry delays of the sender.
    pub fn backoff(&self) -> crate::notify::sender::Backoff {
        crate::notify::sender::Backoff {
            first: Duration::from_secs(self.retry_backoff_secs),
            max: Duration::from_secs(self.max_retry_backoff_secs),
        }
    }
}

/// Resources managed by infrastructure as code. A resource carrying CloudFormation's own
/// `aws:cloudformation:stack-id` tag (CloudFormation, CDK), or one of `tags`, is IaC-managed:
/// an in-place fix would be reverted by the next deploy, so its failed controls are flagged
/// with the change to make in the code, unless `actions` says otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct IacConfig {
    /// Tags (key = exact value) that mark a resource as IaC-managed, e.g.
    /// `{ "managed-by" = "terraform" }`.
    #[garde(skip)]
    pub tags: BTreeMap<String, String>,
    /// Per control, what is done on an IaC-managed resource: `flag` (the default for every
    /// control), `fix` or `approve` (in place, with the drift stated in the journal, the
    /// notifications and the Security Hub note) or `ignore`. A control whose `actions` entry
    /// is `ignore` stays ignored.
    #[garde(skip)]
    pub actions: BTreeMap<ControlId, Action>,
    /// Terraform states to read (never write): `s3://BUCKET/KEY` objects or local files. A
    /// plan in Terraform for a resource they manage names its address
    /// (`module.ml.aws_sagemaker_notebook_instance.main`). Unreadable states are warnings.
    #[garde(inner(custom(rules::state_location)))]
    pub terraform_states: Vec<String>,
    /// Region of the S3 buckets holding `terraform_states`; empty: the default region.
    #[garde(custom(rules::optional_region))]
    pub terraform_state_region: String,
}

/// Approval requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SmartDefault, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsConfig {
    /// Rules that turn a control's `fix` into `approve` for the resources they match, e.g.
    /// `{ tags = { env = "prod" } }`: fixes in prod wait for approval, elsewhere they run.
    #[garde(dive)]
    pub rules: Vec<ApprovalRule>,
    /// How long a request waits for a decision before it expires, in hours (1-8760); the next
    /// trigger asks again.
    #[default(72)]
    #[garde(custom(within(1, 8760)))]
    pub expiry_hours: u64,
    /// After a rejection, how long the same plan is not asked again, in hours (1-8760). A
    /// changed plan is asked at once.
    #[default(168)]
    #[garde(custom(within(1, 8760)))]
    pub reask_after_hours: u64,
    /// Who may decide through the HTTP API (`/v1/approvals`, `/approvals`) on
    /// `daemon.listen`: a name and the SHA-256 of the person's bearer token (the token itself
    /// is never in the configuration). None: the API and the page answer 404.
    #[garde(dive)]
    pub approvers: Vec<Approver>,
}

/// A person who may decide approval requests over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct Approver {
    /// Recorded as who decided (required).
    #[garde(custom(rules::not_blank))]
    pub name: String,
    /// The SHA-256 of the bearer token, 64 hex digits, e.g. from
    /// `printf %s "$TOKEN" | sha256sum`.
    #[garde(custom(rules::sha256_hex))]
    pub token_sha256: String,
}

/// Which resources' fixes need approval. Every given selector must match; an empty one
/// matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalRule {
    /// Account ids (12 digits); empty: every account.
    #[garde(inner(custom(rules::account_id)))]
    pub accounts: Vec<String>,
    /// Controls, e.g. `["SageMaker.3"]`; empty: every control whose action is `fix`.
    #[garde(skip)]
    pub controls: Vec<ControlId>,
    /// Tags the resource must carry with exactly these values, e.g. `{ env = "prod" }`.
    #[garde(skip)]
    pub tags: BTreeMap<String, String>,
}

impl ApprovalRule {
    /// Whether the rule covers `control` on a resource of `account` carrying `tags`.
    pub fn matches(&self, account: &str, control: ControlId, tags: &[crate::model::Tag]) -> bool {
        (self.accounts.is_empty() || self.accounts.iter().any(|a| a == account))
            && (self.controls.is_empty() || self.controls.contains(&control))
            && self
                .tags
                .iter()
                .all(|(k, v)| tags.iter().any(|t| &t.key == k && &t.value == v))
    }
}

/// Blast-radius limits: how many notebook fixes (each stops a running notebook) the daemon
/// starts per account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SmartDefault, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Notebook fixes started per account in one clock hour (UTC), 1 to 10000. When reached,
    /// enforcement in that account pauses until the next hour (or `enforcement resume`).
    #[default(5)]
    #[garde(custom(within(1, 10_000)))]
    pub notebook_fixes_per_hour: u64,
    /// Notebook fixes running at once per account, 1 to 1000; more wait their turn.
    #[default(2)]
    #[garde(custom(within(1, 1000)))]
    pub notebook_fixes_at_once: u64,
}

/// A maintenance window for the resources it selects (every given selector must match; an
/// empty one matches everything). Resources no window selects are not restricted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, SmartDefault, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct MaintenanceWindow {
    /// Weekly, `Sat 22:00-Sun 04:00`, or daily, `22:00-04:00`, in `time_zone` (required).
    #[garde(custom(rules::window))]
    pub when: String,
    /// An IANA time zone, e.g. `Europe/Berlin`; daylight saving time is followed.
    #[default("UTC".to_string())]
    #[garde(custom(rules::time_zone))]
    pub time_zone: String,
    /// Account ids; empty: every account.
    #[garde(inner(custom(rules::account_id)))]
    pub accounts: Vec<String>,
    /// Tags the resource must carry with these values, e.g. `{ env = "prod" }`.
    #[garde(skip)]
    pub tags: BTreeMap<String, String>,
}

impl Config {
    /// The windows that apply to a resource of `account` carrying `tags`, parsed.
    pub fn windows_for(
        &self,
        account: &str,
        tags: &[crate::model::Tag],
    ) -> Vec<(crate::policy::windows::Spec, jiff::tz::TimeZone)> {
        self.windows
            .iter()
            .filter(|w| w.accounts.is_empty() || w.accounts.iter().any(|a| a == account))
            .filter(|w| {
                w.tags
                    .iter()
                    .all(|(k, v)| tags.iter().any(|t| &t.key == k && &t.value == v))
            })
            .filter_map(|w| {
                let spec = crate::policy::windows::parse(&w.when).ok()?;
                let tz = jiff::tz::TimeZone::get(&w.time_zone).ok()?;
                Some((spec, tz))
            })
            .collect()
    }
}

/// An exemption: resources whose ARN matches `arn` are left alone for `controls` until the end
/// of `expires` (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct Exemption {
    /// An ARN or a glob of ARNs (`*`, `?`, `[...]`), e.g.
    /// `arn:aws:sagemaker:*:111122223333:notebook-instance/research-*`.
    #[garde(custom(rules::arn_glob))]
    pub arn: String,
    /// The controls exempted; empty: all eight.
    #[garde(skip)]
    pub controls: Vec<ControlId>,
    /// Why (required; shown in the journal's notes and by `remediations`).
    #[garde(custom(rules::not_blank))]
    pub reason: String,
    /// The last day it applies, `YYYY-MM-DD` (UTC; required). Expired entries stop applying and
    /// are reported by `validate-config` and the `smr_exemptions{state="expired"}` metric.
    #[garde(custom(rules::date))]
    pub expires: String,
}

impl Exemption {
    /// The first millisecond it no longer applies (the start of the day after `expires`).
    pub fn ends_at(&self) -> Option<crate::model::Millis> {
        let day: jiff::civil::Date = self.expires.parse().ok()?;
        let next = day.tomorrow().ok()?;
        let ts = next
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp();
        Some(ts.as_millisecond())
    }

    /// Whether it is in force at `now`.
    pub fn active(&self, now: crate::model::Millis) -> bool {
        self.ends_at().is_some_and(|end| now < end)
    }

    /// Whether it covers `control` on the resource `arn` (ignoring its expiry).
    pub fn covers(&self, arn: &str, control: ControlId) -> bool {
        (self.controls.is_empty() || self.controls.contains(&control))
            && glob::Pattern::new(&self.arn).is_ok_and(|p| p.matches(arn))
    }
}

/// Security Hub write-back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SmartDefault, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct FindingsConfig {
    /// Update the active findings of the controls the daemon acts on (`BatchUpdateFindings`):
    /// `RESOLVED` with a note when a fix is done and verified, `NOTIFIED` with a note when a
    /// resource is flagged or a fix failed. Never in a dry run.
    #[garde(skip)]
    pub update: bool,
    /// Where the findings are updated: empty (the default) means in the resource's own account
    /// (with its `accounts[].role_arn`); a 12-digit id means in that delegated Security Hub
    /// administrator account (with its `accounts[]` entry when listed, else the daemon's own
    /// credentials).
    #[garde(custom(rules::optional_account_id))]
    pub administrator_account: String,
    /// With `update`, also set the active findings of exempt controls (the exemption tag, or an
    /// `[[exemptions]]` entry in force) to `SUPPRESSED`, with a note giving the reason and the
    /// entry's last day. Once per resource and control while the daemon runs.
    #[garde(skip)]
    pub suppress_exempt: bool,
}

/// AWS client behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SmartDefault, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct AwsConfig {
    /// Request rate limit per account and service, applied before the SDK (whose own retries
    /// handle throttling), 0.1 to 1000.
    #[default(10.0)]
    #[garde(custom(within(0.1, 1000.0)))]
    pub requests_per_second: f64,
    /// Time budget of one AWS call, the SDK's own retries included, in seconds, 1 to 900.
    #[default(60)]
    #[garde(custom(within(1, 900)))]
    pub call_timeout_secs: u64,
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SmartDefault, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Output format: `text` for people, `json` for log pipelines.
    #[garde(skip)]
    pub format: LogFormat,
    /// A `tracing` filter directive, e.g. `info` or `sagemaker_remediator=debug,info`.
    #[default("info".to_string())]
    #[garde(custom(rules::log_filter))]
    pub level: String,
}

/// The backend of the store.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, strum::VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum StoreKind {
    /// One SQLite file: one daemon (the embedded default).
    #[default]
    Sqlite,
    /// One DynamoDB table: several replicas.
    Dynamodb,
}

/// Log output format.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, strum::VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// One AWS account to audit, reached directly or through `sts:AssumeRole`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct AccountConfig {
    /// The 12-digit account id (required).
    #[garde(custom(rules::account_id))]
    pub id: String,
    /// IAM role to assume in the account, `arn:aws:iam::<id>:role/<name>`. Without it the default
    /// credentials are used as they are (they must belong to this account).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[garde(custom(rules::role_arn))]
    pub role_arn: Option<String>,
    /// `ExternalId` sent with `sts:AssumeRole` (2-1224 characters of `[\w+=,.@:/-]`); the member
    /// role's trust policy requires it. Only valid together with `role_arn`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[garde(custom(rules::sts_name(true)))]
    pub external_id: Option<String>,
    /// Regions to audit in this account. Empty means `audit.regions`.
    #[garde(inner(custom(rules::region)))]
    pub regions: Vec<String>,
    /// `RoleSessionName` for `sts:AssumeRole` (2-64 characters of `[\w+=,.@-]`); defaults to a
    /// name chosen by the AWS client code. Only valid together with `role_arn`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[garde(custom(rules::sts_name(false)))]
    pub session_name: Option<String>,
    /// Opt this account in to `mode = "enforce"`: only then are remediations carried out in it.
    #[garde(skip)]
    pub enforce: bool,
}

/// Accounts from AWS Organizations: the organisation's tree is read (ListRoots, ListChildren,
/// ListAccountsForParent) at start-up and again every `refresh_secs`, and every active account
/// it selects is swept through `role_arn`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SmartDefault, garde::Validate)]
#[serde(deny_unknown_fields, default)]
pub struct OrganizationConfig {
    /// Discover the accounts to sweep from the organisation.
    #[garde(skip)]
    pub enabled: bool,
    /// The role assumed in each discovered account; `{account}` stands for the account id.
    #[default(String::from("arn:aws:iam::{account}:role/SageMakerRemediator"))]
    #[garde(custom(rules::role_template))]
    pub role_arn: String,
    /// `ExternalId` sent with every `sts:AssumeRole` into a discovered account (and into
    /// `reader_role_arn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[garde(custom(rules::sts_name(true)))]
    pub external_id: Option<String>,
    /// `RoleSessionName` for those `sts:AssumeRole` calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[garde(custom(rules::sts_name(false)))]
    pub session_name: Option<String>,
    /// The role that reads the organisation (in the management account or a delegated
    /// administrator). None: the default credentials read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[garde(custom(rules::role_arn))]
    pub reader_role_arn: Option<String>,
    /// Organizational units (`ou-...`) or the root (`r-...`) whose accounts, at any depth, are
    /// swept. Empty: the whole organisation.
    #[garde(inner(custom(rules::ou_id)))]
    pub include_ous: Vec<String>,
    /// Accounts swept even outside `include_ous`.
    #[garde(inner(custom(rules::account_id)))]
    pub include_accounts: Vec<String>,
    /// Organizational units whose accounts, at any depth, are never swept.
    #[garde(inner(custom(rules::ou_id)))]
    pub exclude_ous: Vec<String>,
    /// Accounts never swept.
    #[garde(inner(custom(rules::account_id)))]
    pub exclude_accounts: Vec<String>,
    /// Opt discovered accounts in these organizational units (at any depth) in to
    /// `mode = "enforce"`. Every other discovered account is only audited.
    #[garde(inner(custom(rules::ou_id)))]
    pub enforce_ous: Vec<String>,
    /// Opt these discovered accounts in to `mode = "enforce"`.
    #[garde(inner(custom(rules::account_id)))]
    pub enforce_accounts: Vec<String>,
    /// Regions swept in discovered accounts. Empty means `audit.regions`.
    #[garde(inner(custom(rules::region)))]
    pub regions: Vec<String>,
    /// How often the organisation is read again, in seconds (10-604800). After a failed read
    /// the last list stays in use and the read is retried within 5 minutes.
    #[default(3600)]
    #[garde(custom(within(10, 604_800)))]
    pub refresh_secs: u64,
}

/// For each `NAME => FIELD`, `fn NAME(&self) -> Duration`: the configured seconds as a duration.
macro_rules! durations {
    ($section:ty { $($name:ident => $field:ident),* $(,)? }) => {
        impl $section {
            $(
                #[doc = concat!("`", stringify!($field), "` as a duration.")]
                pub fn $name(&self) -> Duration {
                    Duration::from_secs(self.$field)
                }
            )*
        }
    };
}

durations!(RemediationConfig {
    step_timeout => step_timeout_secs,
    poll_interval => poll_interval_secs,
    max_poll_interval => max_poll_interval_secs,
});
durations!(DaemonConfig {
    shutdown_grace => shutdown_grace_secs,
    error_backoff => error_backoff_secs,
    max_error_backoff => max_error_backoff_secs,
    claim_ttl => claim_ttl_secs,
});
durations!(AwsConfig { call_timeout => call_timeout_secs });

impl RemediationConfig {
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
}

impl Config {
    /// Loads the configuration: built-in defaults < `file` (TOML) < `SMR_*` environment, then
    /// validates it. Returns every problem at once. A `file` that does not exist is a problem,
    /// not a silent default.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigErrors> {
        let mut problems = Vec::new();
        let content = file.and_then(|path| match load::read_config_file(path) {
            Ok(content) => Some((path.display().to_string(), content)),
            Err(problem) => {
                problems.push(problem);
                None
            }
        });
        let env = load::process_env(&mut problems);
        if !problems.is_empty() {
            return Err(ConfigErrors { problems });
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Config::from_layers(
            content.as_ref().map(|(o, t)| (o.as_str(), t.as_str())),
            &env,
        )
    }

    /// Like [`Config::load`] but from explicit sources, for tests: the file content as a TOML
    /// string (reported as source `config file`) and the environment as `(name, value)` pairs
    /// (only `SMR_*` names are considered).
    pub fn load_from(toml: Option<&str>, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        Config::from_layers(toml.map(|text| ("config file", text)), env)
    }

    fn from_layers(
        file: Option<(&str, &str)>,
        env: &[(&str, &str)],
    ) -> Result<Config, ConfigErrors> {
        let loaded = load::load_layers(file, env)?;
        let mut typed: Vec<(KeyPath, ConfigProblem)> = loaded.problems;
        let mut semantic = Vec::new();
        for issue in loaded.config.issues() {
            let source = load::source_of(&loaded.figment, issue.path.lookup(&loaded.root));
            // an integer outside its type, checked as 0 or u32::MAX: say what was given
            if let Some((path, given)) = loaded.out_of_range.iter().find(|(p, _)| *p == issue.path)
            {
                let message = match issue.message.rsplit_once(", found ") {
                    Some((range, _)) => format!("{range}, found {given}"),
                    None => issue.message,
                };
                let problem = ConfigProblem {
                    key: path.to_string(),
                    message,
                    source,
                };
                typed.push((path.clone(), problem));
                continue;
            }
            let hidden = loaded
                .failed
                .iter()
                .any(|f| issue.path.within(f) || issue.depends_on.iter().any(|d| d.within(f)));
            if !hidden {
                let key = issue.path.to_string();
                semantic.push(ConfigProblem {
                    key,
                    message: issue.message,
                    source,
                });
            }
        }
        for (path, given) in &loaded.out_of_range {
            if !typed.iter().any(|(p, _)| p == path) {
                let problem = ConfigProblem {
                    key: path.to_string(),
                    message: format!("is out of range, found {given}"),
                    source: load::source_of(&loaded.figment, path.lookup(&loaded.root)),
                };
                typed.push((path.clone(), problem));
            }
        }
        typed.sort_by(|a, b| a.0.cmp(&b.0));
        let problems: Vec<ConfigProblem> =
            typed.into_iter().map(|(_, p)| p).chain(semantic).collect();
        match problems.is_empty() {
            true => Ok(loaded.config),
            false => Err(ConfigErrors { problems }),
        }
    }

    /// Semantic checks (account ids, ARNs, external ids, regions, tag keys and values, platforms,
    /// actions, ranges, URLs and addresses, log level). Returns every problem at once; sources
    /// are not known here. Warnings are separate: [`Config::warnings`].
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let problems: Vec<ConfigProblem> = self
            .issues()
            .into_iter()
            .map(|issue| ConfigProblem {
                key: issue.path.to_string(),
                message: issue.message,
                source: None,
            })
            .collect();
        match problems.is_empty() {
            true => Ok(()),
            false => Err(ConfigErrors { problems }),
        }
    }

    /// The garde rules' problems and the checks across keys, section by section (in the order of
    /// the fields of [`Config`]) and in key order within a section.
    fn issues(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        if let Err(report) = garde::Validate::validate(self) {
            for (path, error) in report.iter() {
                issues.push(Issue::new(&problems::from_garde(path), error.message()));
            }
        }
        self.cross_checks(&mut issues);
        let sections = fields::<Config>();
        let rank = |issue: &Issue| {
            let section = issue.path.section().unwrap_or_default();
            sections.iter().position(|s| *s == section)
        };
        issues.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.path.cmp(&b.path)));
        issues
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

    /// The action for `control` on a resource that is IaC-managed (`iac`) or not: `actions`,
    /// or for an IaC-managed resource `iac.actions` (default `flag`), an ignored control
    /// staying ignored.
    pub fn action_on(&self, control: ControlId, iac: bool) -> Action {
        match self.action(control) {
            Action::Ignore => Action::Ignore,
            action if !iac => action,
            _ => self
                .iac
                .actions
                .get(&control)
                .copied()
                .unwrap_or(Action::Flag),
        }
    }

    /// Whether the fix of `control` on a resource of `account` carrying `tags` waits for a
    /// person: its action is `approve`, or it is `fix` and an approval rule matches.
    pub fn needs_approval(
        &self,
        account: &str,
        control: ControlId,
        tags: &[crate::model::Tag],
    ) -> bool {
        let iac = crate::policy::iac::owner(tags, self).is_some();
        match self.action_on(control, iac) {
            Action::Approve => true,
            Action::Fix => self
                .approvals
                .rules
                .iter()
                .any(|r| r.matches(account, control, tags)),
            Action::Flag | Action::Ignore => false,
        }
    }

    /// How long an approval request waits for a decision.
    pub fn approval_expiry(&self) -> Duration {
        Duration::from_secs(self.approvals.expiry_hours.saturating_mul(3600))
    }

    /// How long a rejected plan is not asked again.
    pub fn approval_reask(&self) -> Duration {
        Duration::from_secs(self.approvals.reask_after_hours.saturating_mul(3600))
    }

    /// Whether remediations are carried out in `account_id`: `mode` is `enforce` and the account
    /// is listed with `enforce = true` (or, discovered, opted in by `organization.enforce_ous`
    /// or `enforce_accounts`). Everywhere else the remediator plans and records only.
    pub fn enforces(&self, account_id: &str) -> bool {
        self.mode == Mode::Enforce && self.account(account_id).is_some_and(|a| a.enforce)
    }

    /// The settings of `account_id`: its `[[accounts]]` entry, the account as discovered from
    /// the organisation, or both merged (the entry wins; a role, external id, session name or
    /// regions it leaves out come from the organisation).
    pub fn account(&self, account_id: &str) -> Option<AccountConfig> {
        let explicit = self.accounts.iter().find(|a| a.id == account_id);
        let discovered = self.discovered.get();
        let found = discovered
            .as_deref()
            .and_then(|d| d.iter().find(|a| a.id == account_id));
        match (explicit, found) {
            (Some(e), Some(d)) => Some(crate::organization::merge(e, d)),
            (Some(a), None) | (None, Some(a)) => Some(a.clone()),
            (None, None) => None,
        }
    }

    /// Every account to sweep: the `[[accounts]]` entries in order (merged with the
    /// organisation's view of them), then the other discovered accounts.
    pub fn account_list(&self) -> Vec<AccountConfig> {
        let discovered = self.discovered.get();
        let discovered: &[AccountConfig] = discovered.as_deref().map_or(&[], |d| d.as_slice());
        let mut out: Vec<AccountConfig> = self
            .accounts
            .iter()
            .map(|e| match discovered.iter().find(|d| d.id == e.id) {
                Some(d) => crate::organization::merge(e, d),
                None => e.clone(),
            })
            .collect();
        out.extend(
            discovered
                .iter()
                .filter(|d| !self.accounts.iter().any(|e| e.id == d.id))
                .cloned(),
        );
        out
    }

    /// Whether the caller's own account is the one swept: no `[[accounts]]` and no organisation.
    pub fn own_account_only(&self) -> bool {
        self.accounts.is_empty() && !self.organization.enabled
    }
}
