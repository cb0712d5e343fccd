//! AWS Config `Config Rules Compliance Change` events (`aws.config`) -> a trigger for a SageMaker
//! resource that a rule found NON_COMPLIANT, with the rule's control as a hint.

use super::{parse_arn, str_at, trigger_from_name, Envelope, Family, ParseError, Parsed, Trigger};
use crate::model::{ControlId, ResourceType};

const FAMILY: Family = Family::Config;

pub(super) fn parse(env: &Envelope) -> Result<Parsed, ParseError> {
    let d = env.detail;
    let config_type =
        str_at(d, &["resourceType"]).ok_or_else(|| FAMILY.missing("detail.resourceType"))?;
    let Some(resource_type) = ResourceType::parse(config_type) else {
        return Ok(FAMILY.irrelevant(format!("resource type {config_type} is not SageMaker")));
    };
    let compliance = str_at(d, &["newEvaluationResult", "complianceType"])
        .ok_or_else(|| FAMILY.missing("detail.newEvaluationResult.complianceType"))?;
    if compliance != "NON_COMPLIANT" {
        return Ok(FAMILY.irrelevant(format!("evaluation is {compliance}")));
    }
    let resource_id =
        str_at(d, &["resourceId"]).ok_or_else(|| FAMILY.missing("detail.resourceId"))?;
    let rule = str_at(d, &["configRuleName"]).unwrap_or_default();
    let controls = controls_for(rule, resource_type);

    let trigger = if resource_id.starts_with("arn:") {
        from_arn(env, resource_id, resource_type, controls)?
    } else {
        let account = str_at(d, &["awsAccountId"])
            .or(env.account)
            .ok_or_else(|| FAMILY.missing("detail.awsAccountId"))?;
        let region = str_at(d, &["awsRegion"])
            .or(env.region)
            .ok_or_else(|| FAMILY.missing("detail.awsRegion"))?;
        trigger_from_name(
            FAMILY,
            env.id,
            resource_type,
            region,
            account,
            resource_id,
            controls,
        )?
    };
    Ok(Parsed::Triggers(vec![trigger]))
}

/// A resource id given as an ARN: it decides account and region, and must match the type.
fn from_arn(
    env: &Envelope,
    resource_arn: &str,
    resource_type: ResourceType,
    controls: Vec<ControlId>,
) -> Result<Trigger, ParseError> {
    let invalid = |message: String| ParseError::Invalid {
        family: FAMILY.as_str(),
        field: "detail.resourceId".into(),
        message,
    };
    let (arn_type, region, account, arn) = parse_arn(resource_arn)
        .ok_or_else(|| invalid(format!("`{resource_arn}` is not a SageMaker ARN")))?;
    if arn_type != resource_type {
        return Err(invalid(format!(
            "`{resource_arn}` is not a {resource_type}"
        )));
    }
    Ok(Trigger {
        account,
        region,
        resource_type,
        arn,
        name: None,
        family: FAMILY,
        event_id: env.id.to_string(),
        controls,
    })
}

/// The controls a rule name stands for, restricted to those judging `resource_type`. Security
/// Hub's service-linked copies of the managed rules are named `securityhub-<rule>-<hash>`, so
/// rule names are matched by substring (the rules are in the control catalogue).
fn controls_for(rule: &str, resource_type: ResourceType) -> Vec<ControlId> {
    ControlId::ALL
        .into_iter()
        .filter(|c| rule.contains(c.config_rule()) && c.resource_type() == resource_type)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::super::tests::{edit, irrelevant, triggers};
    use super::super::{parse, Family, ParseError, Trigger};
    use super::*;

    const BY_NAME: &str = include_str!("../../tests/fixtures/events/config-noncompliant-name.json");
    const BY_ARN: &str = include_str!("../../tests/fixtures/events/config-noncompliant-arn.json");
    const COMPLIANT: &str = include_str!("../../tests/fixtures/events/config-compliant.json");

    #[test]
    fn noncompliant_by_name_fixture() {
        assert_eq!(
            triggers(BY_NAME),
            vec![Trigger {
                account: "444455556666".into(),
                region: "eu-central-1".into(),
                resource_type: ResourceType::NotebookInstance,
                arn:
                    "arn:aws:sagemaker:eu-central-1:444455556666:notebook-instance/ds-team-notebook"
                        .into(),
                name: Some("DS-Team-Notebook".into()),
                family: Family::Config,
                event_id: "2b9f6a4e-3c1d-4e7f-9a8b-5c6d7e8f9a0b".into(),
                controls: vec![ControlId::SageMaker3],
            }]
        );
    }

    #[test]
    fn noncompliant_by_arn_fixture() {
        assert_eq!(
            triggers(BY_ARN),
            vec![Trigger {
                account: "444455556666".into(),
                region: "eu-central-1".into(),
                resource_type: ResourceType::EndpointConfig,
                arn:
                    "arn:aws:sagemaker:eu-central-1:444455556666:endpoint-config/fraud-scorer-prod"
                        .into(),
                name: None,
                family: Family::Config,
                event_id: "7d1e3f5a-9b2c-4d6e-8f0a-1b3c5d7e9f2a".into(),
                controls: vec![ControlId::SageMaker4],
            }]
        );
    }

    #[test]
    fn compliant_fixture_is_irrelevant() {
        assert_eq!(
            irrelevant(COMPLIANT),
            (Some(Family::Config), "evaluation is COMPLIANT".to_string())
        );
        let na = edit(
            COMPLIANT,
            "/detail/newEvaluationResult/complianceType",
            Some(json!("NOT_APPLICABLE")),
        );
        assert_eq!(irrelevant(&na).1, "evaluation is NOT_APPLICABLE");
    }

    #[test]
    fn other_resource_types_are_irrelevant() {
        let body = edit(
            BY_NAME,
            "/detail/resourceType",
            Some(json!("AWS::S3::Bucket")),
        );
        assert_eq!(
            irrelevant(&body).1,
            "resource type AWS::S3::Bucket is not SageMaker"
        );
    }

    #[test]
    fn unknown_rule_gives_no_hint() {
        let body = edit(
            BY_NAME,
            "/detail/configRuleName",
            Some(json!("my-custom-rule")),
        );
        assert_eq!(triggers(&body)[0].controls, vec![]);
        assert_eq!(
            controls_for(
                "sagemaker-notebook-instance-platform-version",
                ResourceType::NotebookInstance
            ),
            vec![ControlId::SageMaker8]
        );
        assert_eq!(
            controls_for("sagemaker-image-tagged", ResourceType::Model),
            vec![]
        );
    }

    #[test]
    fn mismatched_or_foreign_arns_are_invalid() {
        for id in [
            "arn:aws:sagemaker:eu-central-1:444455556666:model/fraud-scorer-prod",
            "arn:aws:s3:::bucket",
        ] {
            let body = edit(BY_ARN, "/detail/resourceId", Some(json!(id)));
            assert!(
                matches!(parse(&body), Err(ParseError::Invalid { ref field, .. }) if field == "detail.resourceId"),
                "{id}"
            );
        }
    }

    #[test]
    fn a_missing_resource_id_is_missing() {
        let body = edit(BY_NAME, "/detail/resourceId", None);
        assert_eq!(
            parse(&body),
            Err(ParseError::Missing {
                family: "config",
                field: "detail.resourceId".into()
            })
        );
    }
}
