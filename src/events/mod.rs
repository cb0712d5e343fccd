//! EventBridge intake parsing: one SQS message body (an EventBridge event) in, triggers out.
//!
//! An event is only a hint about which resource to look at: the parsers extract identity
//! (account, region, type, ARN, name) and never state. Decisions come later from a fresh
//! Describe, so a lost, duplicated or reordered event does no harm.
//!
//! Which account owns a resource is taken from the resource itself (its ARN, the finding's
//! `AwsAccountId`, Config's `awsAccountId`, CloudTrail's `recipientAccountId`), never first from
//! the envelope's `account`: with a delegated Security Hub administrator the envelope names the
//! administrator, and moto's routing omits it altogether. The envelope is a last resort only.

mod cloudtrail;
mod config;
mod sagemaker;
mod securityhub;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{ControlId, ResourceType};

/// SQS's message size limit; a larger body cannot be a real event.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Where a trigger came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    SecurityHub,
    Config,
    CloudTrail,
    SageMaker,
    /// The periodic full sweep (never produced by [`parse`]).
    Sweep,
    /// A person decided an approval request (never produced by [`parse`]).
    Approval,
}

impl Family {
    /// A [`ParseError::Missing`] of this family.
    pub(crate) fn missing(self, field: &str) -> ParseError {
        ParseError::Missing {
            family: self.as_str(),
            field: field.to_string(),
        }
    }

    /// A [`Parsed::Irrelevant`] of this family.
    pub(crate) fn irrelevant(self, reason: String) -> Parsed {
        Parsed::Irrelevant {
            family: Some(self),
            reason,
        }
    }

    pub const ALL: [Family; 6] = [
        Family::SecurityHub,
        Family::Config,
        Family::CloudTrail,
        Family::SageMaker,
        Family::Sweep,
        Family::Approval,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::SecurityHub => "securityhub",
            Family::Config => "config",
            Family::CloudTrail => "cloudtrail",
            Family::SageMaker => "sagemaker",
            Family::Sweep => "sweep",
            Family::Approval => "approval",
        }
    }

    pub fn parse(s: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hint that one resource should be looked at again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// The account that owns the resource (not necessarily the one whose bus carried the event).
    pub account: String,
    pub region: String,
    pub resource_type: ResourceType,
    /// Canonical ARN, see [`arn`].
    pub arn: String,
    /// The resource name as the API spells it, when the event carries it (the ARN lowercases
    /// notebook, endpoint config and model names, so the name cannot be derived from it).
    pub name: Option<String>,
    pub family: Family,
    /// The envelope `id`, plus `#n` (n = index in `detail.findings`) when the event carries
    /// several findings.
    pub event_id: String,
    /// Controls the event says failed, when it says so (a hint only; may be empty).
    pub controls: Vec<ControlId>,
}

/// What one message body amounts to.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Never empty: an event that yields nothing is `Irrelevant`.
    Triggers(Vec<Trigger>),
    /// Someone opened notebooks (CloudTrail `CreatePresignedNotebookInstanceUrl`): disruptive
    /// fixes wait until they have been quiet for a while. Never empty.
    Activity(Vec<Activity>),
    /// A well-formed event that concerns nothing this daemon remedies.
    Irrelevant {
        family: Option<Family>,
        reason: String,
    },
}

/// A notebook someone opened, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// Canonical ARN, see [`arn`].
    pub arn: String,
    pub at: crate::model::Millis,
}

/// Malformed input: the consumer leaves such a message for the dead-letter queue.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("event is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("not JSON: {0}")]
    Json(String),
    #[error("not an EventBridge event: {0}")]
    NotAnEvent(String),
    #[error("{family} event lacks {field}")]
    Missing { family: &'static str, field: String },
    #[error("{family} event has an invalid {field}: {message}")]
    Invalid {
        family: &'static str,
        field: String,
        message: String,
    },
}

/// Parses one SQS message body (an EventBridge event, as delivered without an input
/// transformer) into triggers.
///
/// # Errors
/// [`ParseError`] for input that is not a well-formed event of a handled kind; unknown fields
/// are ignored everywhere, and events this daemon does not care about are `Ok(Irrelevant)`.
pub fn parse(body: &str) -> Result<Parsed, ParseError> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(ParseError::TooLarge {
            size: body.len(),
            limit: MAX_EVENT_BYTES,
        });
    }
    let value: Value = serde_json::from_str(body).map_err(|e| ParseError::Json(e.to_string()))?;
    let env = Envelope::from_value(&value)?;
    match (env.source, env.detail_type) {
        // CloudTrail-delivered API calls carry the service's own source (`aws.sagemaker`).
        (_, "AWS API Call via CloudTrail") => cloudtrail::parse(&env),
        ("aws.securityhub", "Security Hub Findings - Imported") => securityhub::parse_asff(&env),
        ("aws.securityhub", "Findings Imported V2") => securityhub::parse_ocsf(&env),
        ("aws.config", "Config Rules Compliance Change") => config::parse(&env),
        ("aws.sagemaker", _) => sagemaker::parse(&env),
        (source, detail_type) => Ok(Parsed::Irrelevant {
            family: match source {
                "aws.securityhub" => Some(Family::SecurityHub),
                "aws.config" => Some(Family::Config),
                _ => None,
            },
            reason: format!("source {source} / detail-type {detail_type} is not handled"),
        }),
    }
}

/// Canonical ARN of a resource: `arn:{partition}:sagemaker:{region}:{account}:{kind}/{name}`
/// where kind is notebook-instance | endpoint-config | model | image | app-image-config and the
/// name is lowercased for notebook-instance, endpoint-config and model (AWS lowercases those in
/// ARNs). Partition from the region (`cn-*` -> aws-cn, `us-gov-*` -> aws-us-gov, `us-iso-*` ->
/// aws-iso, `us-isob-*` -> aws-iso-b, else aws).
pub fn arn(resource_type: ResourceType, region: &str, account: &str, name: &str) -> String {
    let name = if lowercased_in_arn(resource_type) {
        name.to_lowercase()
    } else {
        name.to_string()
    };
    format!(
        "arn:{}:sagemaker:{region}:{account}:{}/{name}",
        partition(region),
        arn_kind(resource_type)
    )
}

/// Parses a SageMaker ARN into (resource_type, region, account, canonical ARN); the canonical
/// form lowercases the name part for the three lowercased kinds. `None` for a non-SageMaker or
/// unrecognized ARN (other kinds such as `endpoint` or `image-version`, a malformed account or
/// region, an empty name).
pub fn parse_arn(arn: &str) -> Option<(ResourceType, String, String, String)> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    if prefix != "arn"
        || !partition.starts_with("aws")
        || service != "sagemaker"
        || !valid_region(region)
        || !valid_account(account)
    {
        return None;
    }
    let (kind, name) = resource.split_once('/')?;
    let resource_type = ResourceType::ALL
        .into_iter()
        .find(|t| arn_kind(*t) == kind)?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    Some((
        resource_type,
        region.to_string(),
        account.to_string(),
        self::arn(resource_type, region, account, name),
    ))
}

/// The resource-type segment of an ARN.
fn arn_kind(resource_type: ResourceType) -> &'static str {
    match resource_type {
        ResourceType::NotebookInstance => "notebook-instance",
        ResourceType::EndpointConfig => "endpoint-config",
        ResourceType::Model => "model",
        ResourceType::Image => "image",
        ResourceType::AppImageConfig => "app-image-config",
    }
}

fn lowercased_in_arn(resource_type: ResourceType) -> bool {
    matches!(
        resource_type,
        ResourceType::NotebookInstance | ResourceType::EndpointConfig | ResourceType::Model
    )
}

fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// Twelve ASCII digits.
fn valid_account(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

/// Shape only (`eu-west-1`, `us-gov-west-1`): lowercase letters, digits and dashes.
fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The parts of the envelope the parsers use.
pub(crate) struct Envelope<'a> {
    pub id: &'a str,
    pub source: &'a str,
    pub detail_type: &'a str,
    /// Last-resort fallback only: absent in moto, the administrator's in delegated setups.
    pub account: Option<&'a str>,
    /// Fallback only: the aggregation region for cross-region Security Hub findings.
    pub region: Option<&'a str>,
    pub detail: &'a Value,
}

impl<'a> Envelope<'a> {
    fn from_value(value: &'a Value) -> Result<Envelope<'a>, ParseError> {
        if !value.is_object() {
            return Err(ParseError::NotAnEvent("not a JSON object".into()));
        }
        let field = |name: &str| {
            str_at(value, &[name])
                .ok_or_else(|| ParseError::NotAnEvent(format!("no string `{name}`")))
        };
        let detail_type = field("detail-type")?;
        let source = field("source")?;
        let detail = value
            .get("detail")
            .filter(|d| d.is_object())
            .ok_or_else(|| ParseError::NotAnEvent("no object `detail`".into()))?;
        Ok(Envelope {
            id: str_at(value, &["id"]).unwrap_or_default(),
            source,
            detail_type,
            account: str_at(value, &["account"]).filter(|s| !s.is_empty()),
            region: str_at(value, &["region"]).filter(|s| !s.is_empty()),
            detail,
        })
    }
}

/// The string at `path` (object keys), if every step exists and the leaf is a string.
pub(crate) fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

/// A trigger for a resource named by ARN; `None` when the ARN is not one of ours.
/// The name is kept only when it agrees with the ARN, so a wrong name can never send a
/// Describe to the wrong resource.
pub(crate) fn trigger_from_arn(
    family: Family,
    event_id: &str,
    resource_arn: &str,
    name: Option<&str>,
    controls: Vec<ControlId>,
) -> Option<Trigger> {
    let (resource_type, region, account, canonical) = parse_arn(resource_arn)?;
    let name = name
        .filter(|n| !n.is_empty() && arn(resource_type, &region, &account, n) == canonical)
        .map(str::to_string);
    Some(Trigger {
        account,
        region,
        resource_type,
        arn: canonical,
        name,
        family,
        event_id: event_id.to_string(),
        controls,
    })
}

/// A trigger for a resource known by type and name; the caller has already chosen account and
/// region by the owner-first rule.
///
/// # Errors
/// `Invalid` when the account, region or name cannot form an ARN.
pub(crate) fn trigger_from_name(
    family: Family,
    event_id: &str,
    resource_type: ResourceType,
    region: &str,
    account: &str,
    name: &str,
    controls: Vec<ControlId>,
) -> Result<Trigger, ParseError> {
    let invalid = |field: &str, message: String| ParseError::Invalid {
        family: family.as_str(),
        field: field.to_string(),
        message,
    };
    if !valid_account(account) {
        return Err(invalid(
            "account",
            format!("`{account}` is not a 12-digit account id"),
        ));
    }
    if !valid_region(region) {
        return Err(invalid("region", format!("`{region}` is not a region")));
    }
    if name.is_empty() || name.contains(['/', ':']) {
        return Err(invalid(
            "name",
            format!("`{name}` is not a {resource_type} name"),
        ));
    }
    Ok(Trigger {
        account: account.to_string(),
        region: region.to_string(),
        resource_type,
        arn: arn(resource_type, region, account, name),
        name: Some(name.to_string()),
        family,
        event_id: event_id.to_string(),
        controls,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    pub(crate) fn triggers(body: &str) -> Vec<Trigger> {
        match parse(body) {
            Ok(Parsed::Triggers(t)) => t,
            other => unreachable!("expected triggers, got {other:?}"),
        }
    }

    pub(crate) fn irrelevant(body: &str) -> (Option<Family>, String) {
        match parse(body) {
            Ok(Parsed::Irrelevant { family, reason }) => (family, reason),
            other => unreachable!("expected irrelevant, got {other:?}"),
        }
    }

    /// A fixture with the JSON value at `pointer` replaced (or removed when `value` is None).
    pub(crate) fn edit(body: &str, pointer: &str, value: Option<Value>) -> String {
        let mut v: Value = serde_json::from_str(body).unwrap();
        match value {
            Some(new) => *v.pointer_mut(pointer).unwrap() = new,
            None => {
                let (parent, key) = pointer.rsplit_once('/').unwrap();
                v.pointer_mut(parent)
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove(key)
                    .unwrap();
            }
        }
        v.to_string()
    }

    #[test]
    fn arn_lowercases_only_the_three_lowercased_kinds() {
        use ResourceType::*;
        let cases = [
            (NotebookInstance, "notebook-instance/ds-team-notebook"),
            (EndpointConfig, "endpoint-config/ds-team-notebook"),
            (Model, "model/ds-team-notebook"),
            (Image, "image/DS-Team-Notebook"),
            (AppImageConfig, "app-image-config/DS-Team-Notebook"),
        ];
        for (t, tail) in cases {
            assert_eq!(
                arn(t, "eu-west-1", "123456789012", "DS-Team-Notebook"),
                format!("arn:aws:sagemaker:eu-west-1:123456789012:{tail}")
            );
        }
    }

    #[test]
    fn arn_partition_follows_region() {
        let a = |r| arn(ResourceType::Model, r, "123456789012", "m");
        assert_eq!(
            a("cn-north-1"),
            "arn:aws-cn:sagemaker:cn-north-1:123456789012:model/m"
        );
        assert_eq!(
            a("us-gov-west-1"),
            "arn:aws-us-gov:sagemaker:us-gov-west-1:123456789012:model/m"
        );
        assert_eq!(
            a("us-east-1"),
            "arn:aws:sagemaker:us-east-1:123456789012:model/m"
        );
    }

    #[test]
    fn parse_arn_canonicalizes_and_rejects_others() {
        assert_eq!(
            parse_arn(
                "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/DS-Team-Notebook"
            ),
            Some((
                ResourceType::NotebookInstance,
                "us-east-1".into(),
                "123456789012".into(),
                "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/ds-team-notebook"
                    .into()
            ))
        );
        assert_eq!(
            parse_arn("arn:aws-cn:sagemaker:cn-north-1:123456789012:app-image-config/Cfg")
                .map(|p| (p.0, p.3)),
            Some((
                ResourceType::AppImageConfig,
                "arn:aws-cn:sagemaker:cn-north-1:123456789012:app-image-config/Cfg".into()
            ))
        );
        for bad in [
            "",
            "DS-Team-Notebook",
            "arn:aws:s3:::bucket",
            "arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep",
            "arn:aws:sagemaker:us-east-1:123456789012:image-version/img/1",
            "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/",
            "arn:aws:sagemaker:us-east-1:12345:model/m",
            "arn:aws:sagemaker::123456789012:model/m",
            "arn:aws:sagemaker:us-east-1:123456789012:model",
        ] {
            assert_eq!(parse_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn family_round_trips() {
        for f in Family::ALL {
            assert_eq!(Family::parse(f.as_str()), Some(f));
            assert_eq!(serde_json::to_string(&f).unwrap(), format!("\"{f}\""));
        }
        assert_eq!(Family::parse("SecurityHub"), None);
    }

    #[test]
    fn oversized_body_is_too_large() {
        let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_EVENT_BYTES));
        assert_eq!(
            parse(&body),
            Err(ParseError::TooLarge {
                size: body.len(),
                limit: MAX_EVENT_BYTES
            })
        );
    }

    #[test]
    fn truncated_and_empty_bodies_are_not_json() {
        let full = include_str!("../../tests/fixtures/events/config-noncompliant-name.json");
        for body in [&full[..full.len() / 2], "", "   ", "{\"id\": "] {
            assert!(
                matches!(parse(body), Err(ParseError::Json(_))),
                "{body:?}: {:?}",
                parse(body)
            );
        }
    }

    #[test]
    fn non_objects_and_partial_envelopes_are_not_events() {
        for body in [
            "[]",
            "[{\"source\":\"aws.config\"}]",
            "\"hello\"",
            "42",
            "null",
            "{}",
            r#"{"source":"aws.sagemaker","detail":{}}"#,
            r#"{"detail-type":"x","detail":{}}"#,
            r#"{"detail-type":"x","source":"aws.sagemaker"}"#,
            r#"{"detail-type":"x","source":"aws.sagemaker","detail":"text"}"#,
            r#"{"detail-type":7,"source":"aws.sagemaker","detail":{}}"#,
        ] {
            assert!(
                matches!(parse(body), Err(ParseError::NotAnEvent(_))),
                "{body}: {:?}",
                parse(body)
            );
        }
    }

    #[test]
    fn unknown_source_is_irrelevant() {
        let body = r#"{"version":"0","id":"e1","detail-type":"EC2 Instance State-change Notification",
            "source":"aws.ec2","account":"123456789012","region":"us-east-1","resources":[],
            "detail":{"instance-id":"i-0abc","state":"running"}}"#;
        assert_eq!(
            irrelevant(body),
            (
                None,
                "source aws.ec2 / detail-type EC2 Instance State-change Notification is not handled"
                    .to_string()
            )
        );
        let custom = r#"{"id":"e2","detail-type":"Security Hub Insight Results","source":"aws.securityhub","detail":{}}"#;
        assert_eq!(irrelevant(custom).0, Some(Family::SecurityHub));
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            ParseError::Missing {
                family: "config",
                field: "detail.resourceId".into()
            }
            .to_string(),
            "config event lacks detail.resourceId"
        );
        assert_eq!(
            ParseError::TooLarge { size: 3, limit: 2 }.to_string(),
            "event is 3 bytes, over the 2-byte limit"
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod proptests;

/// The number of cases of a property test: `PROPTEST_CASES` when set, else `default`.
#[cfg(test)]
pub(crate) fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
