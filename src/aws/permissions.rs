//! Every AWS operation the daemon can call, with the IAM action it needs and whose credentials
//! make the call. The CloudFormation templates in `deploy/cloudformation/` grant exactly these
//! (a test compares them), so a new call without its permission, or a permission no call needs,
//! fails the tests.

/// Whose credentials make a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Principal {
    /// The daemon's own task role in the security tooling account (`service.yaml`).
    Task,
    /// The role it assumes in each member account (`member-account.yaml`).
    Member,
}

/// One operation and its permission.
#[derive(Debug, Clone, Copy)]
pub struct Permission {
    /// The API operation (`Service:Operation`), or what needs the permission when it is not
    /// a call of ours (a mount, a call SageMaker makes for us).
    pub operation: &'static str,
    /// The IAM action; `None` when the operation needs no permission.
    pub action: Option<&'static str>,
    pub principal: Principal,
    /// When the daemon makes the call.
    pub when: &'static str,
}

const fn call(
    operation: &'static str,
    action: &'static str,
    principal: Principal,
    when: &'static str,
) -> Permission {
    Permission {
        operation,
        action: Some(action),
        principal,
        when,
    }
}

use Principal::{Member, Task};

/// The table.
pub const PERMISSIONS: &[Permission] = &[
    call(
        "SQS:ReceiveMessage",
        "sqs:ReceiveMessage",
        Task,
        "event intake",
    ),
    call(
        "SQS:DeleteMessageBatch",
        "sqs:DeleteMessage",
        Task,
        "event intake, after the trigger is stored",
    ),
    call(
        "STS:AssumeRole",
        "sts:AssumeRole",
        Task,
        "every call in a member account",
    ),
    Permission {
        operation: "STS:GetCallerIdentity",
        action: None,
        principal: Task,
        when: "audit without [[accounts]]: the caller's own account",
    },
    call(
        "DynamoDB:DescribeTable",
        "dynamodb:DescribeTable",
        Task,
        "start: the table is checked",
    ),
    call(
        "DynamoDB:GetItem",
        "dynamodb:GetItem",
        Task,
        "the journal (daemon.store = \"dynamodb\")",
    ),
    call(
        "DynamoDB:BatchGetItem",
        "dynamodb:BatchGetItem",
        Task,
        "the journal: triggers and remediations read together",
    ),
    call(
        "DynamoDB:Query",
        "dynamodb:Query",
        Task,
        "the journal: lists and the index of due triggers",
    ),
    call(
        "DynamoDB:PutItem",
        "dynamodb:PutItem",
        Task,
        "the journal, also inside TransactWriteItems",
    ),
    call(
        "DynamoDB:UpdateItem",
        "dynamodb:UpdateItem",
        Task,
        "the journal: counters, finished and deferred triggers",
    ),
    call(
        "DynamoDB:DeleteItem",
        "dynamodb:DeleteItem",
        Task,
        "the journal: released claims, also inside TransactWriteItems",
    ),
    call(
        "DynamoDB:BatchWriteItem",
        "dynamodb:BatchWriteItem",
        Task,
        "the journal: the sweep's cache, delivered notices",
    ),
    call(
        "DynamoDB:ConditionCheckItem (in TransactWriteItems)",
        "dynamodb:ConditionCheckItem",
        Task,
        "the journal: the claim checked with the intent before a mutating call",
    ),
    call(
        "Organizations:ListRoots",
        "organizations:ListRoots",
        Task,
        "[organization]",
    ),
    call(
        "Organizations:ListChildren",
        "organizations:ListChildren",
        Task,
        "[organization]",
    ),
    call(
        "Organizations:ListAccountsForParent",
        "organizations:ListAccountsForParent",
        Task,
        "[organization]",
    ),
    call(
        "EventBridge:PutEvents",
        "events:PutEvents",
        Task,
        "notifications.event_bus",
    ),
    call("S3:GetObject", "s3:GetObject", Task, "iac.terraform_states"),
    call(
        "SageMaker:ListNotebookInstances",
        "sagemaker:ListNotebookInstances",
        Member,
        "sweep",
    ),
    call(
        "SageMaker:ListEndpointConfigs",
        "sagemaker:ListEndpointConfigs",
        Member,
        "sweep",
    ),
    call(
        "SageMaker:ListModels",
        "sagemaker:ListModels",
        Member,
        "sweep",
    ),
    call(
        "SageMaker:ListImages",
        "sagemaker:ListImages",
        Member,
        "sweep",
    ),
    call(
        "SageMaker:ListAppImageConfigs",
        "sagemaker:ListAppImageConfigs",
        Member,
        "sweep",
    ),
    call(
        "SageMaker:ListEndpoints",
        "sagemaker:ListEndpoints",
        Member,
        "SageMaker.4 replacement",
    ),
    call(
        "SageMaker:DescribeNotebookInstance",
        "sagemaker:DescribeNotebookInstance",
        Member,
        "every reconcile of a notebook",
    ),
    call(
        "SageMaker:DescribeEndpointConfig",
        "sagemaker:DescribeEndpointConfig",
        Member,
        "every reconcile of an endpoint config",
    ),
    call(
        "SageMaker:DescribeModel",
        "sagemaker:DescribeModel",
        Member,
        "every reconcile of a model",
    ),
    call(
        "SageMaker:DescribeEndpoint",
        "sagemaker:DescribeEndpoint",
        Member,
        "SageMaker.4 replacement",
    ),
    call(
        "SageMaker:ListTags",
        "sagemaker:ListTags",
        Member,
        "every reconcile",
    ),
    call(
        "SageMaker:StopNotebookInstance",
        "sagemaker:StopNotebookInstance",
        Member,
        "notebook fix",
    ),
    call(
        "SageMaker:UpdateNotebookInstance",
        "sagemaker:UpdateNotebookInstance",
        Member,
        "notebook fix",
    ),
    call(
        "SageMaker:StartNotebookInstance",
        "sagemaker:StartNotebookInstance",
        Member,
        "notebook fix",
    ),
    call(
        "SageMaker:AddTags",
        "sagemaker:AddTags",
        Member,
        "tag fix, flag tag, stop notice",
    ),
    call(
        "SageMaker:DeleteTags",
        "sagemaker:DeleteTags",
        Member,
        "the stop notice's tag",
    ),
    call(
        "SageMaker:CreateEndpointConfig",
        "sagemaker:CreateEndpointConfig",
        Member,
        "SageMaker.4 replacement",
    ),
    call(
        "SageMaker:UpdateEndpoint",
        "sagemaker:UpdateEndpoint",
        Member,
        "SageMaker.4 replacement",
    ),
    call(
        "KMS:CreateGrant (made by SageMaker for an encrypted endpoint config)",
        "kms:CreateGrant",
        Member,
        "SageMaker.4 replacement of a config with a KMS key",
    ),
    call(
        "SecurityHub:GetFindings",
        "securityhub:GetFindings",
        Member,
        "findings.update",
    ),
    call(
        "SecurityHub:BatchUpdateFindings",
        "securityhub:BatchUpdateFindings",
        Member,
        "findings.update",
    ),
    call(
        "SecurityHub:BatchGetSecurityControls",
        "securityhub:BatchGetSecurityControls",
        Member,
        "controls.from_security_hub",
    ),
];

/// The IAM actions `principal` needs, sorted, without repeats.
pub fn actions(principal: Principal) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = PERMISSIONS
        .iter()
        .filter(|p| p.principal == principal)
        .filter_map(|p| p.action)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::BTreeSet;

    use serde_yaml::Value;

    use super::*;

    const SERVICE: &str = include_str!("../../deploy/cloudformation/service.yaml");
    const MEMBER: &str = include_str!("../../deploy/cloudformation/member-account.yaml");

    /// Every action that `role`'s inline policies and the `AWS::IAM::Policy` resources
    /// attached to it allow (whatever their conditions).
    fn granted(template: &str, role: &str) -> BTreeSet<String> {
        let template: Value = serde_yaml::from_str(template).unwrap();
        let resources = template["Resources"].as_mapping().unwrap();
        let mut documents: Vec<Value> = template["Resources"][role]["Properties"]["Policies"]
            .as_sequence()
            .unwrap()
            .clone();
        for resource in resources.values() {
            let attached = resource["Properties"]["Roles"]
                .as_sequence()
                .is_some_and(|roles| roles.iter().any(|r| r["Ref"] == role));
            if resource["Type"] == "AWS::IAM::Policy" && attached {
                documents.push(resource["Properties"].clone());
            }
        }
        let mut out = BTreeSet::new();
        for document in &documents {
            for statement in document["PolicyDocument"]["Statement"]
                .as_sequence()
                .unwrap()
            {
                assert_eq!(statement["Effect"], "Allow", "{statement:?}");
                match &statement["Action"] {
                    Value::String(a) => {
                        out.insert(a.clone());
                    }
                    Value::Sequence(list) => {
                        out.extend(list.iter().map(|a| a.as_str().unwrap().to_string()))
                    }
                    other => panic!("Action {other:?}"),
                }
            }
        }
        out
    }

    /// `role` in `template` grants exactly what the table says `principal` needs.
    fn grants_exactly(file: &str, template: &str, role: &str, principal: Principal) {
        let granted = granted(template, role);
        let needed: BTreeSet<String> = actions(principal).into_iter().map(str::to_string).collect();
        let extra: Vec<_> = granted.difference(&needed).collect();
        let missing: Vec<_> = needed.difference(&granted).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{file} {role} grants {extra:?} that no call needs, and misses {missing:?}"
        );
    }

    #[test]
    fn the_task_role_grants_exactly_the_calls_made_with_the_daemons_own_credentials() {
        grants_exactly("service.yaml", SERVICE, "TaskRole", Principal::Task);
    }

    #[test]
    fn the_member_role_grants_exactly_the_calls_made_in_member_accounts() {
        grants_exactly(
            "member-account.yaml",
            MEMBER,
            "MemberRole",
            Principal::Member,
        );
    }

    #[test]
    fn the_forwarding_rules_carry_the_service_rules_patterns() {
        let service: Value = serde_yaml::from_str(SERVICE).unwrap();
        let member: Value = serde_yaml::from_str(MEMBER).unwrap();
        for (rule, forward) in [
            ("SecurityHubRule", "ForwardSecurityHub"),
            ("ConfigRule", "ForwardConfig"),
            ("CloudTrailRule", "ForwardCloudTrail"),
            ("SageMakerRule", "ForwardSageMaker"),
        ] {
            assert_eq!(
                service["Resources"][rule]["Properties"]["EventPattern"],
                member["Resources"][forward]["Properties"]["EventPattern"],
                "{rule} and {forward} differ"
            );
        }
    }
}
