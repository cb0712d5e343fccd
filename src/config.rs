//! Configuration: built-in defaults < TOML file (`--config FILE`) < `SMR_*` environment variables,
//! checked against the schema and validated, with every problem reported at once.
//!
//! The defaults are safe: with no configuration the tool audits the caller's own account in the
//! default region of the credential chain and changes nothing.
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
//! `SMR_AUDIT__CONCURRENCY=8`, `SMR_LOG__FORMAT=json`,
//! `SMR_CONTROLS__REQUIRED_TAG_KEYS='["owner","team"]'` or
//! `SMR_ACCOUNTS='[{id="111122223333", role_arn="arn:aws:iam::111122223333:role/Audit"}]'`.
//! Values are parsed like figment's `Env` provider (numbers, booleans, `[..]` arrays, `{..}`
//! tables, otherwise strings). Any other `SMR_*` variable is an unknown key, except those listed in
//! [`RESERVED_ENV_VARS`].

use std::fmt;
use std::path::Path;

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::{Deserialize, Serialize};

use crate::controls::Params;

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

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Parameters of the Security Hub controls (SageMaker.6/.7 tags, SageMaker.8 platforms).
    pub controls: ControlsConfig,
    /// What to audit and how hard to drive the AWS APIs while doing so.
    pub audit: AuditConfig,
    /// Log output.
    pub log: LogConfig,
    /// Accounts to audit. Empty means the caller's own account with the default credentials.
    pub accounts: Vec<AccountConfig>,
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

    /// Semantic checks (account ids, ARNs, external ids, regions, tag keys, platforms,
    /// concurrency, log level). Returns every problem at once; sources are not known here.
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
    }
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
    // AWS tag keys: Unicode letters, digits, spaces and _.:/=+-@
    let bad = key.chars().find(|&c| {
        !(c.is_alphanumeric()
            || c == ' '
            || (c.is_whitespace() && !c.is_control())
            || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@'))
    });
    bad.map(|c| format!("contains {c:?}; tag keys allow letters, digits, spaces and _.:/=+-@"))
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
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
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

const ROOT_KEYS: &[&str] = &["controls", "audit", "log", "accounts"];
const CONTROLS_KEYS: &[&str] = &[
    "required_tag_keys",
    "supported_platforms",
    "platform_target",
];
const AUDIT_KEYS: &[&str] = &["regions", "concurrency"];
const LOG_KEYS: &[&str] = &["format", "level"];
const ACCOUNT_KEYS: &[&str] = &["id", "role_arn", "external_id", "regions", "session_name"];

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

    /// A positive integer; only used for `audit.concurrency`, hence the range in the message.
    fn count(&mut self, path: &KeyPath, value: &Value) -> Option<usize> {
        let Value::Num(_, n) = value else {
            self.expected(path, value, "an integer");
            return None;
        };
        let n = *n;
        if let Some(u) = n.to_u128_lossy() {
            if let Ok(u) = usize::try_from(u) {
                return Some(u);
            }
        }
        if n.to_f64().is_some() {
            self.expected(path, value, "an integer");
        } else {
            let found = describe(value);
            self.report(
                path,
                Some(value),
                format!("must be from 1 to {MAX_CONCURRENCY}, found {found}"),
            );
        }
        None
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
                "controls" => self.controls(&at, value, &mut config.controls),
                "audit" => self.audit(&at, value, &mut config.audit),
                "log" => self.log(&at, value, &mut config.log),
                "accounts" => self.accounts(&at, value, &mut config.accounts),
                _ => self.unknown(&at, value, ROOT_KEYS),
            }
        }
        config
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
                    if let Some(v) = self.count(&at, value) {
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
        let uncommented = ["role_arn", "external_id", "regions", "session_name"]
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
}
