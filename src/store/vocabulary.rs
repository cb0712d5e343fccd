//! The journal's vocabulary: which kind a remediation is, which step a line records and in
//! which phase. Stored and printed as the same strings as ever (`notebook-fix`,
//! `StopNotebookInstance`, `intent`), so journals written before these types still read back;
//! compared with plain strings where that reads better (tests, filters).

use serde::{Deserialize, Serialize};

/// What a remediation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[derive(strum::Display, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum RemediationKind {
    /// The in-place notebook fix (SageMaker.3/.8): stop, update, start.
    NotebookFix,
    /// The tag fix (SageMaker.6/.7): AddTags.
    Tags,
    /// The SageMaker.4 blue/green replacement: a copy of the endpoint config with two or more
    /// instances per variant, and UpdateEndpoint of every endpoint that used the old one.
    EndpointReplace,
}

/// The step one journal line records, spelled as the API operation it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[derive(strum::Display, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "PascalCase")]
pub enum Step {
    StopNotebookInstance,
    UpdateNotebookInstance,
    StartNotebookInstance,
    AddTags,
    CreateEndpointConfig,
    UpdateEndpoint,
    /// A Describe that failed in a way the fix cannot wait out.
    Describe,
    /// Waiting for a status.
    Wait,
    /// A phase over its step timeout: looked at again later.
    Suspend,
    /// The remediation ended.
    Finish,
    /// Shutdown between steps: the next start resumes here.
    Pause,
    /// A start resumed an unfinished remediation.
    Resume,
    /// A dry run's plan.
    Plan,
    /// The approval the fix runs on: who approved, when and why.
    Approve,
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[derive(strum::Display, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum StepPhase {
    /// About to make a mutating call (journaled before it).
    Intent,
    /// The call succeeded, or the step is complete.
    Done,
    /// The call failed.
    Error,
    /// Something seen, e.g. the state a resumed remediation starts from.
    Observed,
    /// Waiting.
    Wait,
    /// What a dry run would do.
    DryRun,
}

macro_rules! vocabulary {
    ($($t:ty),*) => {$(
        impl $t {
            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
    )*};
}

vocabulary!(RemediationKind, Step, StepPhase);

impl Step {
    /// The journal step of a mutating AWS call, by operation name.
    pub fn call(operation: &str) -> Option<Step> {
        match operation {
            "StopNotebookInstance" => Some(Step::StopNotebookInstance),
            "UpdateNotebookInstance" => Some(Step::UpdateNotebookInstance),
            "StartNotebookInstance" => Some(Step::StartNotebookInstance),
            "AddTags" => Some(Step::AddTags),
            "CreateEndpointConfig" => Some(Step::CreateEndpointConfig),
            "UpdateEndpoint" => Some(Step::UpdateEndpoint),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn the_stored_spellings_are_the_historic_ones_and_parse_back() {
        assert_eq!(RemediationKind::NotebookFix.as_str(), "notebook-fix");
        assert_eq!(RemediationKind::Tags.to_string(), "tags");
        assert_eq!(Step::StopNotebookInstance.as_str(), "StopNotebookInstance");
        assert_eq!(StepPhase::DryRun.as_str(), "dry-run");
        assert_eq!(StepPhase::Intent, "intent");
        for phase in ["intent", "done", "error", "observed", "wait", "dry-run"] {
            assert_eq!(StepPhase::from_str(phase).unwrap().as_str(), phase);
            let json = format!("\"{phase}\"");
            let back: StepPhase = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }
        for step in [
            "StopNotebookInstance",
            "UpdateNotebookInstance",
            "StartNotebookInstance",
            "AddTags",
            "Describe",
            "Wait",
            "Suspend",
            "Finish",
            "Pause",
            "Resume",
            "Plan",
            "Approve",
        ] {
            assert_eq!(Step::from_str(step).unwrap(), step);
        }
        assert!(Step::from_str("Reboot").is_err());
        assert_eq!(
            serde_json::to_string(&RemediationKind::NotebookFix).unwrap(),
            "\"notebook-fix\""
        );
        assert_eq!(Step::call("AddTags"), Some(Step::AddTags));
        assert_eq!(Step::call("DescribeNotebookInstance"), None);
    }
}
