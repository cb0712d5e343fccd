//! Resources managed by infrastructure as code. CloudFormation (and CDK, which deploys through
//! it) tags every resource it creates with `aws:cloudformation:stack-id`,
//! `aws:cloudformation:stack-name` and `aws:cloudformation:logical-id`; other tools are
//! recognised by a configured tag (`iac.tags`, e.g. `managed-by = terraform`). An in-place fix
//! of such a resource is reverted by the next deploy, so by default its failed controls are
//! flagged with the change to make in the code; a configured in-place fix states the drift.

use serde::Serialize;

use crate::config::Config;
use crate::model::{ControlId, Tag};

pub const STACK_ID: &str = "aws:cloudformation:stack-id";
pub const STACK_NAME: &str = "aws:cloudformation:stack-name";
pub const LOGICAL_ID: &str = "aws:cloudformation:logical-id";

/// Who owns a resource's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Owner {
    /// A CloudFormation stack (or a CDK app).
    CloudFormation {
        stack_id: String,
        stack_name: Option<String>,
        logical_id: Option<String>,
    },
    /// A configured tag, e.g. `managed-by = terraform`.
    Tagged { key: String, value: String },
}

/// The owner of a resource carrying `tags`, if it is IaC-managed.
pub fn owner(tags: &[Tag], config: &Config) -> Option<Owner> {
    let value = |key: &str| tags.iter().find(|t| t.key == key).map(|t| t.value.clone());
    if let Some(stack_id) = value(STACK_ID) {
        return Some(Owner::CloudFormation {
            stack_id,
            stack_name: value(STACK_NAME),
            logical_id: value(LOGICAL_ID),
        });
    }
    config.iac.tags.iter().find_map(|(key, wanted)| {
        tags.iter()
            .any(|t| &t.key == key && &t.value == wanted)
            .then(|| Owner::Tagged {
                key: key.clone(),
                value: wanted.clone(),
            })
    })
}

impl Owner {
    /// `CloudFormation stack churn-ml (logical id Notebook)`, `the tag managed-by = terraform`.
    pub fn describe(&self) -> String {
        match self {
            Owner::CloudFormation {
                stack_id,
                stack_name,
                logical_id,
            } => {
                let stack = stack_name.as_deref().unwrap_or(stack_id);
                match logical_id {
                    Some(id) => format!("CloudFormation stack {stack} (logical id {id})"),
                    None => format!("CloudFormation stack {stack}"),
                }
            }
            Owner::Tagged { key, value } => format!("the tag {key} = {value}"),
        }
    }

    fn terraform(&self) -> bool {
        matches!(self, Owner::Tagged { value, .. } if value.to_lowercase().contains("terraform"))
    }

    /// The change `control` needs in this owner's code, in its language where known.
    pub fn change(&self, control: ControlId, config: &Config) -> String {
        let platform = &config.controls.platform_target;
        let (cfn, tf) = match control {
            ControlId::SageMaker1 => (
                "DirectInternetAccess: Disabled".to_string(),
                "direct_internet_access = \"Disabled\"".to_string(),
            ),
            ControlId::SageMaker2 => (
                "SubnetId and SecurityGroupIds of a subnet in your VPC".to_string(),
                "subnet_id and security_groups in your VPC".to_string(),
            ),
            ControlId::SageMaker3 => (
                "RootAccess: Disabled".to_string(),
                "root_access = \"Disabled\"".to_string(),
            ),
            ControlId::SageMaker4 => (
                "InitialInstanceCount: 2 on every instance-based ProductionVariant".to_string(),
                "initial_instance_count = 2 in every production_variants block".to_string(),
            ),
            ControlId::SageMaker5 => (
                "EnableNetworkIsolation: true".to_string(),
                "enable_network_isolation = true".to_string(),
            ),
            ControlId::SageMaker6 | ControlId::SageMaker7 => {
                let keys = match config.controls.required_tag_keys.is_empty() {
                    true => "a tag".to_string(),
                    false => format!("the tags {}", config.controls.required_tag_keys.join(", ")),
                };
                (format!("Tags with {keys}"), format!("tags with {keys}"))
            }
            ControlId::SageMaker8 => (
                format!("PlatformIdentifier: {platform}"),
                format!("platform_identifier = \"{platform}\""),
            ),
        };
        match self {
            Owner::CloudFormation { .. } => cfn,
            _ if self.terraform() => tf,
            _ => format!("{tf} in Terraform, {cfn} in CloudFormation"),
        }
    }

    /// Why `control` is flagged rather than fixed in place.
    pub fn flag_note(&self, control: ControlId, config: &Config) -> String {
        format!(
            "{control} flagged instead of fixed: the resource is managed by {}, whose next deploy \
             would revert an in-place fix; change the code: {}",
            self.describe(),
            self.change(control, config)
        )
    }

    /// What an in-place fix of `controls` leaves behind.
    pub fn drift(&self, controls: &[ControlId], config: &Config) -> String {
        let changes: Vec<String> = controls
            .iter()
            .map(|c| format!("{c}: {}", self.change(*c, config)))
            .collect();
        format!(
            "drift: fixed in place although managed by {}; make the same change in the code ({}) \
             or the next deploy reverts it",
            self.describe(),
            changes.join("; ")
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn cfn_tags() -> Vec<Tag> {
        vec![
            Tag::new(
                STACK_ID,
                "arn:aws:cloudformation:us-east-1:111122223333:stack/ml/1",
            ),
            Tag::new(STACK_NAME, "ml"),
            Tag::new(LOGICAL_ID, "ResearchNotebook"),
        ]
    }

    #[test]
    fn cloudformation_and_configured_tags_make_a_resource_iac_managed() {
        let mut config = Config::default();
        let owner = owner(&cfn_tags(), &config).unwrap();
        assert_eq!(
            owner.describe(),
            "CloudFormation stack ml (logical id ResearchNotebook)"
        );
        assert_eq!(
            owner.change(ControlId::SageMaker3, &config),
            "RootAccess: Disabled"
        );
        assert_eq!(
            super::owner(&[Tag::new("managed-by", "terraform")], &config),
            None
        );

        config
            .iac
            .tags
            .insert("managed-by".into(), "terraform".into());
        let tf = super::owner(&[Tag::new("managed-by", "terraform")], &config).unwrap();
        assert_eq!(tf.describe(), "the tag managed-by = terraform");
        assert_eq!(
            tf.change(ControlId::SageMaker8, &config),
            "platform_identifier = \"notebook-al2023-v1\""
        );
        assert_eq!(
            super::owner(&[Tag::new("managed-by", "pulumi")], &config),
            None,
            "the value must match"
        );
        let drift = tf.drift(&[ControlId::SageMaker3], &config);
        assert!(
            drift.contains("managed by the tag managed-by = terraform")
                && drift.contains("SageMaker.3: root_access = \"Disabled\""),
            "{drift}"
        );
    }
}
