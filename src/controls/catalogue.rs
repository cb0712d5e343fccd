//! The control catalogue: the one place that says which controls exist, what each one judges,
//! how a failure can be remedied, whether `fix` is possible (and why not), its default action
//! and the AWS Config rule behind it. Everything else asks [`ControlId`]'s methods, which read
//! [`CATALOGUE`].

use crate::config::Action;
use crate::model::{ControlId, Remedy, ResourceType};

/// What the product knows about one control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub id: ControlId,
    /// A one-line title, as in the Security Hub control reference.
    pub title: &'static str,
    /// The resource type the control judges.
    pub resource_type: ResourceType,
    /// How a failure can be remedied.
    pub remedy: Remedy,
    /// The action when the configuration names none.
    pub default_action: Action,
    /// Why `action = "fix"` is impossible; `None` when the daemon can fix it in place.
    pub no_fix: Option<&'static str>,
    /// The AWS Config managed rule (Security Hub's copies are `securityhub-<rule>-<hash>`).
    pub config_rule: &'static str,
}

/// The eight controls, in control order.
pub const CATALOGUE: [Entry; 8] = [
    Entry {
        id: ControlId::SageMaker1,
        title: "notebook instances should not have direct internet access",
        resource_type: ResourceType::NotebookInstance,
        remedy: Remedy::Recreate,
        default_action: Action::Flag,
        no_fix: Some(
            "DirectInternetAccess is fixed at creation: the notebook instance must be deleted \
             and recreated",
        ),
        config_rule: "sagemaker-notebook-no-direct-internet-access",
    },
    Entry {
        id: ControlId::SageMaker2,
        title: "notebook instances should be launched in a custom VPC",
        resource_type: ResourceType::NotebookInstance,
        remedy: Remedy::Recreate,
        default_action: Action::Flag,
        no_fix: Some(
            "SubnetId is fixed at creation: the notebook instance must be deleted and recreated \
             in a VPC",
        ),
        config_rule: "sagemaker-notebook-instance-inside-vpc",
    },
    Entry {
        id: ControlId::SageMaker3,
        title: "users should not have root access to notebook instances",
        resource_type: ResourceType::NotebookInstance,
        remedy: Remedy::Fix,
        default_action: Action::Fix,
        no_fix: None,
        config_rule: "sagemaker-notebook-instance-root-access-check",
    },
    Entry {
        id: ControlId::SageMaker4,
        title: "endpoint production variants should have more than one instance",
        resource_type: ResourceType::EndpointConfig,
        remedy: Remedy::Replace,
        // A replacement costs money (twice the instances): it waits for a person by default.
        default_action: Action::Approve,
        no_fix: None,
        config_rule: "sagemaker-endpoint-config-prod-instance-count",
    },
    Entry {
        id: ControlId::SageMaker5,
        title: "models should have network isolation enabled",
        resource_type: ResourceType::Model,
        remedy: Remedy::Recreate,
        default_action: Action::Flag,
        no_fix: Some(
            "models are immutable, and the container may need the network: a new model, \
             endpoint configuration and UpdateEndpoint are needed",
        ),
        config_rule: "sagemaker-model-isolation-enabled",
    },
    Entry {
        id: ControlId::SageMaker6,
        title: "app image configs should be tagged",
        resource_type: ResourceType::AppImageConfig,
        remedy: Remedy::Tag,
        default_action: Action::Fix,
        no_fix: None,
        config_rule: "sagemaker-app-image-config-tagged",
    },
    Entry {
        id: ControlId::SageMaker7,
        title: "images should be tagged",
        resource_type: ResourceType::Image,
        remedy: Remedy::Tag,
        default_action: Action::Fix,
        no_fix: None,
        config_rule: "sagemaker-image-tagged",
    },
    Entry {
        id: ControlId::SageMaker8,
        title: "notebook instances should run on supported platforms",
        resource_type: ResourceType::NotebookInstance,
        remedy: Remedy::Fix,
        // It swaps the OS and JupyterLab: opt-in.
        default_action: Action::Flag,
        no_fix: None,
        config_rule: "sagemaker-notebook-instance-platform-version",
    },
];

impl ControlId {
    /// This control's catalogue entry.
    pub fn entry(self) -> &'static Entry {
        // CATALOGUE is in control order, one entry per control (a test checks it).
        &CATALOGUE[self as usize]
    }

    /// A one-line title, as in the Security Hub control reference.
    pub fn title(self) -> &'static str {
        self.entry().title
    }

    /// The resource type this control judges.
    pub fn resource_type(self) -> ResourceType {
        self.entry().resource_type
    }

    /// How a failure of this control can be remedied.
    pub fn remediation(self) -> Remedy {
        self.entry().remedy
    }

    /// The action when the configuration names none.
    pub fn default_action(self) -> Action {
        self.entry().default_action
    }

    /// Why `action = "fix"` is impossible for this control; `None` when it can be fixed.
    pub fn fix_unsupported(self) -> Option<&'static str> {
        self.entry().no_fix
    }

    /// The AWS Config managed rule behind this control.
    pub fn config_rule(self) -> &'static str {
        self.entry().config_rule
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_every_control_once_in_order() {
        assert_eq!(CATALOGUE.len(), ControlId::ALL.len());
        for (entry, id) in CATALOGUE.iter().zip(ControlId::ALL) {
            assert_eq!(entry.id, id);
            assert_eq!(id.entry().id, id);
        }
    }

    #[test]
    fn fix_is_possible_exactly_for_the_in_place_remedies_and_the_replacement() {
        for entry in &CATALOGUE {
            let in_place = matches!(entry.remedy, Remedy::Fix | Remedy::Tag | Remedy::Replace);
            assert_eq!(entry.no_fix.is_none(), in_place, "{:?}", entry.id);
            if entry.default_action == Action::Fix {
                assert!(in_place, "{:?} defaults to an impossible fix", entry.id);
            }
        }
    }
}
