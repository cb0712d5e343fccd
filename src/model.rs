//! Plain data shared by every part of the remediator: resource snapshots, control ids and
//! evaluations. No I/O and no AWS SDK types live here, so the pure core can be tested alone.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch: every time in the journal and the workflows.
pub type Millis = i64;

/// The five SageMaker resource kinds the eight controls judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ResourceType {
    NotebookInstance,
    EndpointConfig,
    Model,
    Image,
    AppImageConfig,
}

impl ResourceType {
    pub const ALL: [ResourceType; 5] = [
        ResourceType::NotebookInstance,
        ResourceType::EndpointConfig,
        ResourceType::Model,
        ResourceType::Image,
        ResourceType::AppImageConfig,
    ];

    /// The AWS Config resource type, e.g. `AWS::SageMaker::NotebookInstance`.
    pub fn config_type(self) -> &'static str {
        match self {
            ResourceType::NotebookInstance => "AWS::SageMaker::NotebookInstance",
            ResourceType::EndpointConfig => "AWS::SageMaker::EndpointConfig",
            ResourceType::Model => "AWS::SageMaker::Model",
            ResourceType::Image => "AWS::SageMaker::Image",
            ResourceType::AppImageConfig => "AWS::SageMaker::AppImageConfig",
        }
    }

    /// The Security Hub (ASFF) resource type, e.g. `AwsSageMakerNotebookInstance`.
    pub fn asff_type(self) -> &'static str {
        match self {
            ResourceType::NotebookInstance => "AwsSageMakerNotebookInstance",
            ResourceType::EndpointConfig => "AwsSageMakerEndpointConfig",
            ResourceType::Model => "AwsSageMakerModel",
            ResourceType::Image => "AwsSageMakerImage",
            ResourceType::AppImageConfig => "AwsSageMakerAppImageConfig",
        }
    }

    /// Parses either the Config type or the ASFF type.
    pub fn parse(s: &str) -> Option<ResourceType> {
        ResourceType::ALL
            .into_iter()
            .find(|t| t.config_type() == s || t.asff_type() == s)
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.config_type())
    }
}

/// One of the eight Security Hub controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ControlId {
    SageMaker1,
    SageMaker2,
    SageMaker3,
    SageMaker4,
    SageMaker5,
    SageMaker6,
    SageMaker7,
    SageMaker8,
}

impl ControlId {
    pub const ALL: [ControlId; 8] = [
        ControlId::SageMaker1,
        ControlId::SageMaker2,
        ControlId::SageMaker3,
        ControlId::SageMaker4,
        ControlId::SageMaker5,
        ControlId::SageMaker6,
        ControlId::SageMaker7,
        ControlId::SageMaker8,
    ];

    /// The ids separated by spaces, e.g. `SageMaker.3 SageMaker.8`.
    pub fn spaced(controls: &[ControlId]) -> String {
        let ids: Vec<&str> = controls.iter().map(|c| c.as_str()).collect();
        ids.join(" ")
    }

    /// The Security Hub id, e.g. `SageMaker.3`.
    pub fn as_str(self) -> &'static str {
        match self {
            ControlId::SageMaker1 => "SageMaker.1",
            ControlId::SageMaker2 => "SageMaker.2",
            ControlId::SageMaker3 => "SageMaker.3",
            ControlId::SageMaker4 => "SageMaker.4",
            ControlId::SageMaker5 => "SageMaker.5",
            ControlId::SageMaker6 => "SageMaker.6",
            ControlId::SageMaker7 => "SageMaker.7",
            ControlId::SageMaker8 => "SageMaker.8",
        }
    }

    pub fn parse(s: &str) -> Option<ControlId> {
        ControlId::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ControlId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ControlId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ControlId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ControlId::parse(&s).ok_or_else(|| {
            let close = ControlId::ALL
                .into_iter()
                .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()));
            serde::de::Error::custom(match close {
                Some(c) => format!("unknown control; did you mean `{c}`?"),
                None => "unknown control; expected SageMaker.1 to SageMaker.8".to_string(),
            })
        })
    }
}

/// The outcome of one control on one resource, as Security Hub reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Passed,
    Failed,
    NotApplicable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "PASSED",
            Status::Failed => "FAILED",
            Status::NotApplicable => "NOT_APPLICABLE",
        }
    }
}

/// The class of remedy a failed control calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Remedy {
    /// In place: stop, update, start (SageMaker.3, .8).
    Fix,
    /// In place: AddTags (SageMaker.6, .7).
    Tag,
    /// A new endpoint config and an endpoint update (SageMaker.4).
    Replace,
    /// Cannot be changed in place: delete and recreate (SageMaker.1, .2, .5).
    Recreate,
    /// Nothing to do.
    None,
}

impl Remedy {
    pub fn as_str(self) -> &'static str {
        match self {
            Remedy::Fix => "fix",
            Remedy::Tag => "tag",
            Remedy::Replace => "replace",
            Remedy::Recreate => "recreate",
            Remedy::None => "none",
        }
    }
}

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A notebook instance status. Statuses this build does not know (newer API models) are kept
/// verbatim in `Unknown`: callers treat them as "not safe to act, look again later".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotebookStatus {
    Pending,
    InService,
    Stopping,
    Stopped,
    Failed,
    Deleting,
    Updating,
    PendingMaintenance,
    InMaintenance,
    Unknown(String),
}

impl NotebookStatus {
    pub fn parse(s: &str) -> NotebookStatus {
        match s {
            "Pending" => NotebookStatus::Pending,
            "InService" => NotebookStatus::InService,
            "Stopping" => NotebookStatus::Stopping,
            "Stopped" => NotebookStatus::Stopped,
            "Failed" => NotebookStatus::Failed,
            "Deleting" => NotebookStatus::Deleting,
            "Updating" => NotebookStatus::Updating,
            "PendingMaintenance" => NotebookStatus::PendingMaintenance,
            "InMaintenance" => NotebookStatus::InMaintenance,
            other => NotebookStatus::Unknown(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            NotebookStatus::Pending => "Pending",
            NotebookStatus::InService => "InService",
            NotebookStatus::Stopping => "Stopping",
            NotebookStatus::Stopped => "Stopped",
            NotebookStatus::Failed => "Failed",
            NotebookStatus::Deleting => "Deleting",
            NotebookStatus::Updating => "Updating",
            NotebookStatus::PendingMaintenance => "PendingMaintenance",
            NotebookStatus::InMaintenance => "InMaintenance",
            NotebookStatus::Unknown(s) => s,
        }
    }
}

impl fmt::Display for NotebookStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What DescribeNotebookInstance tells about one notebook, as far as the controls care.
/// `None` means the API did not report the field.
#[derive(Debug, Clone, PartialEq)]
pub struct Notebook {
    pub status: NotebookStatus,
    /// `Enabled` or `Disabled` (AWS default when created: `Enabled`).
    pub direct_internet_access: Option<String>,
    pub subnet_id: Option<String>,
    pub security_group_ids: Vec<String>,
    /// `Enabled` or `Disabled` (AWS default when created: `Enabled`).
    pub root_access: Option<String>,
    /// e.g. `notebook-al2-v3`.
    pub platform_identifier: Option<String>,
    pub instance_type: Option<String>,
    pub role_arn: Option<String>,
    pub kms_key_id: Option<String>,
    pub volume_size_gb: Option<i32>,
}

/// One production variant of an endpoint config.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub name: String,
    /// The model it serves (`None` for a variant of inference components).
    pub model_name: Option<String>,
    pub instance_type: Option<String>,
    pub initial_instance_count: Option<i32>,
    /// True when the variant has a ServerlessConfig (SageMaker.4 does not apply to it).
    pub serverless: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    pub variants: Vec<Variant>,
}

/// What DescribeEndpoint tells about an endpoint, as far as an endpoint config replacement
/// cares.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// EndpointStatus, e.g. `InService`, `Updating`, `Failed`.
    pub status: String,
    /// The endpoint config it serves (during an update: the one it is leaving).
    pub config_name: String,
    /// Why the last update or creation failed, when it did.
    pub failure_reason: Option<String>,
    /// LastModifiedTime in epoch milliseconds (an update moves it).
    pub last_modified_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// `None` when DescribeModel omitted the field (AWS default: false).
    pub enable_network_isolation: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// ImageStatus, e.g. `CREATED`.
    pub status: String,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppImageConfig {
    pub tags: Vec<Tag>,
}

/// The kind-specific part of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    Notebook(Notebook),
    EndpointConfig(EndpointConfig),
    Model(Model),
    Image(Image),
    AppImageConfig(AppImageConfig),
}

/// A resource's ARN, spelled as SageMaker returned it (or as the event named it, for a
/// resource not yet described). Compared, hashed and stored as the plain string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Arn(String);

impl Arn {
    pub fn new(arn: impl Into<String>) -> Arn {
        Arn(arn.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The account field (the fifth); `None` when it is empty or the ARN has fewer fields.
    pub fn account(&self) -> Option<&str> {
        self.0.split(':').nth(4).filter(|a| !a.is_empty())
    }
}

impl std::ops::Deref for Arn {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Arn {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Arn {
    fn from(arn: String) -> Arn {
        Arn(arn)
    }
}

impl From<&str> for Arn {
    fn from(arn: &str) -> Arn {
        Arn(arn.to_string())
    }
}

impl From<Arn> for String {
    fn from(arn: Arn) -> String {
        arn.0
    }
}

impl PartialEq<str> for Arn {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Arn {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Arn {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

/// Which resource, where: enough to find it again and to name it in a report.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    pub account: String,
    pub region: String,
    pub resource_type: ResourceType,
    /// The resource name as the API spells it (case kept; the ARN lowercases notebook names).
    pub name: String,
    pub arn: Arn,
}

/// The live state of one resource, taken from a fresh Describe.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub resource: ResourceRef,
    pub detail: Detail,
}

/// One control's verdict on one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub control: ControlId,
    pub resource: ResourceRef,
    pub status: Status,
    pub remediation: Remedy,
    pub reason: String,
}

/// What an in-place notebook fix changes (SageMaker.3 and/or SageMaker.8): one
/// stop/update/start cycle applies both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotebookPlan {
    /// Set `RootAccess=Disabled` (SageMaker.3).
    pub disable_root_access: bool,
    /// Set `PlatformIdentifier` to this value (SageMaker.8).
    pub platform: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::Arn;

    #[test]
    fn arn_account_reads_the_fifth_field() {
        let account = |arn: &str| Arn::from(arn).account().map(str::to_string);
        assert_eq!(
            account("arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/a").as_deref(),
            Some("111122223333")
        );
        assert_eq!(account("arn:aws:s3:::bucket"), None);
        assert_eq!(account("nonsense"), None);
    }

    #[test]
    fn an_arn_keeps_its_spelling_and_serializes_as_a_string() {
        let arn = Arn::from("arn:aws:sagemaker:us-east-1:111122223333:image/GeoImage");
        assert_eq!(
            arn,
            "arn:aws:sagemaker:us-east-1:111122223333:image/GeoImage"
        );
        assert_eq!(
            serde_json::to_string(&arn).unwrap(),
            "\"arn:aws:sagemaker:us-east-1:111122223333:image/GeoImage\""
        );
        let back: Arn = serde_json::from_str(&serde_json::to_string(&arn).unwrap()).unwrap();
        assert_eq!(back, arn);
    }
}
