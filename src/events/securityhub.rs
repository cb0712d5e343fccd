//! Security Hub findings (`aws.securityhub`): ASFF (`Security Hub Findings - Imported`) and,
//! best effort, OCSF (`Findings Imported V2`) -> one trigger per SageMaker resource of every
//! active, unsuppressed, failed SageMaker.1-.8 finding.

use serde_json::Value;

use super::{
    str_at, trigger_from_arn, trigger_from_name, Envelope, Family, ParseError, Parsed, Trigger,
};
use crate::model::{ControlId, ResourceType};

const FAMILY: Family = Family::SecurityHub;

/// ASFF findings. Per finding: skip when `RecordState` is ARCHIVED, the workflow status is
/// SUPPRESSED, the control is not SageMaker.1-.8, or `Compliance.Status` is not FAILED/WARNING.
pub(super) fn parse_asff(env: &Envelope) -> Result<Parsed, ParseError> {
    parse_findings(env, asff_finding)
}

/// OCSF findings, best effort. No SageMaker sample is available offline; the field names follow
/// the OCSF Compliance Finding class as Security Hub documents it (`compliance.control`,
/// `compliance.status`/`status_id`, `resources[].uid`/`uid_alt`/`type`/`region`/
/// `owner.account.uid`, `cloud.account.uid`, `cloud.region`, `finding_info.uid`). Guesses:
/// the control may only appear in `finding_info.uid` (`.../security-control/SageMaker.3/...`);
/// the ARN may sit in `uid` or `uid_alt`; a closed finding (`activity_name` Close, `status`
/// Suppressed/Resolved/Archived) is skipped. Anything without a SageMaker ARN is irrelevant.
pub(super) fn parse_ocsf(env: &Envelope) -> Result<Parsed, ParseError> {
    parse_findings(env, ocsf_finding)
}

/// What one finding amounts to: triggers, or the reason it was skipped.
type Outcome = Result<Vec<Trigger>, String>;

fn parse_findings(
    env: &Envelope,
    one: fn(&Envelope, &Value, usize, &str) -> Result<Outcome, ParseError>,
) -> Result<Parsed, ParseError> {
    let findings = env
        .detail
        .get("findings")
        .and_then(Value::as_array)
        .ok_or_else(|| FAMILY.missing("detail.findings"))?;
    if findings.is_empty() {
        return Ok(FAMILY.irrelevant("the event carries no findings".into()));
    }
    let mut triggers = Vec::new();
    let mut skipped = Vec::new();
    for (i, finding) in findings.iter().enumerate() {
        let event_id = if findings.len() > 1 {
            format!("{}#{i}", env.id)
        } else {
            env.id.to_string()
        };
        match one(env, finding, i, &event_id)? {
            Ok(t) => triggers.extend(t),
            Err(reason) => skipped.push(reason),
        }
    }
    if triggers.is_empty() {
        Ok(FAMILY.irrelevant(skipped.join("; ")))
    } else {
        Ok(Parsed::Triggers(triggers))
    }
}

fn asff_finding(
    env: &Envelope,
    finding: &Value,
    i: usize,
    event_id: &str,
) -> Result<Outcome, ParseError> {
    let resources = finding
        .get("Resources")
        .and_then(Value::as_array)
        .ok_or_else(|| FAMILY.missing(&format!("detail.findings[{i}].Resources")))?;
    let label = format!("finding {}", str_at(finding, &["Id"]).unwrap_or("(no Id)"));

    if str_at(finding, &["RecordState"]) == Some("ARCHIVED") {
        return Ok(Err(format!("{label} is ARCHIVED")));
    }
    let workflow = str_at(finding, &["Workflow", "Status"]).or(str_at(finding, &["WorkflowState"]));
    if workflow == Some("SUPPRESSED") {
        return Ok(Err(format!("{label} is SUPPRESSED")));
    }
    let named = str_at(finding, &["Compliance", "SecurityControlId"])
        .or(str_at(finding, &["ProductFields", "ControlId"]))
        .or(str_at(finding, &["GeneratorId"]).and_then(|g| g.rsplit('/').next()));
    let control = match named.map(|c| (c, ControlId::parse(c))) {
        Some((_, Some(control))) => control,
        Some((other, None)) => return Ok(Err(format!("{label} is for control {other}"))),
        None => return Ok(Err(format!("{label} names no control"))),
    };
    match str_at(finding, &["Compliance", "Status"]) {
        Some("FAILED" | "WARNING") => {}
        Some(status) => return Ok(Err(format!("{label} is {status}"))),
        None => return Ok(Err(format!("{label} has no Compliance.Status"))),
    }

    let account = str_at(finding, &["AwsAccountId"]).or(env.account);
    let mut triggers = Vec::new();
    for (j, resource) in resources.iter().enumerate() {
        let id = str_at(resource, &["Id"]).unwrap_or_default();
        let declared = str_at(resource, &["Type"]).and_then(ResourceType::parse);
        let name = str_at(
            resource,
            &[
                "Details",
                "AwsSageMakerNotebookInstance",
                "NotebookInstanceName",
            ],
        );
        if let Some(t) = trigger_from_arn(FAMILY, event_id, id, name, vec![control]) {
            triggers.push(t);
            continue;
        }
        let Some(resource_type) = declared else {
            continue; // not a SageMaker resource (Type `Other` with a foreign ARN, AwsAccount, ...)
        };
        let field = |f: &str| format!("detail.findings[{i}].Resources[{j}].{f}");
        if id.is_empty() || id.starts_with("arn:") {
            return Err(ParseError::Invalid {
                family: FAMILY.as_str(),
                field: field("Id"),
                message: format!("`{id}` is not a SageMaker {resource_type} ARN"),
            });
        }
        // An Id that is not an ARN: take it as the name.
        let region = str_at(resource, &["Region"])
            .or(str_at(finding, &["Region"]))
            .or(env.region)
            .ok_or_else(|| FAMILY.missing(&field("Region")))?;
        let account =
            account.ok_or_else(|| FAMILY.missing(&format!("detail.findings[{i}].AwsAccountId")))?;
        let name = name.unwrap_or(id);
        triggers.push(trigger_from_name(
            FAMILY,
            event_id,
            resource_type,
            region,
            account,
            name,
            vec![control],
        )?);
    }
    if triggers.is_empty() {
        return Ok(Err(format!("{label} concerns no SageMaker resource")));
    }
    Ok(Ok(triggers))
}

fn ocsf_finding(
    env: &Envelope,
    finding: &Value,
    _i: usize,
    event_id: &str,
) -> Result<Outcome, ParseError> {
    let label = format!(
        "finding {}",
        str_at(finding, &["finding_info", "uid"]).unwrap_or("(no finding_info.uid)")
    );
    if str_at(finding, &["activity_name"]).is_some_and(|a| a.eq_ignore_ascii_case("close")) {
        return Ok(Err(format!("{label} is closed")));
    }
    if let Some(status) = str_at(finding, &["status"]) {
        if ["suppressed", "resolved", "archived"]
            .iter()
            .any(|s| status.eq_ignore_ascii_case(s))
        {
            return Ok(Err(format!("{label} is {status}")));
        }
    }
    let control = str_at(finding, &["compliance", "control"])
        .and_then(ControlId::parse)
        .or_else(|| {
            str_at(finding, &["finding_info", "uid"])
                .and_then(|uid| uid.split('/').find_map(ControlId::parse))
        });
    let Some(control) = control else {
        return Ok(Err(format!("{label} is not for a SageMaker control")));
    };
    let failed = match str_at(finding, &["compliance", "status"]) {
        Some(s) => s.eq_ignore_ascii_case("fail") || s.eq_ignore_ascii_case("warning"),
        None => matches!(
            finding
                .pointer("/compliance/status_id")
                .and_then(Value::as_i64),
            Some(2 | 3)
        ),
    };
    if !failed {
        return Ok(Err(format!("{label} did not fail")));
    }

    let empty = Vec::new();
    let resources = finding
        .get("resources")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut triggers = Vec::new();
    for resource in resources {
        let name = str_at(resource, &["name"]);
        let by_arn = [&["uid_alt"], &["uid"]]
            .into_iter()
            .filter_map(|key| str_at(resource, key))
            .find_map(|id| trigger_from_arn(FAMILY, event_id, id, name, vec![control]));
        if let Some(t) = by_arn {
            triggers.push(t);
            continue;
        }
        // Not an ARN: a SageMaker type with a name-like uid, placed by owner/cloud fields.
        let resource_type = str_at(resource, &["type"]).and_then(ResourceType::parse);
        let uid = str_at(resource, &["uid"]).filter(|u| !u.starts_with("arn:"));
        let account = str_at(resource, &["owner", "account", "uid"])
            .or(str_at(finding, &["cloud", "account", "uid"]))
            .or(env.account);
        let region = str_at(resource, &["region"])
            .or(str_at(finding, &["cloud", "region"]))
            .or(env.region);
        if let (Some(t), Some(uid), Some(account), Some(region)) =
            (resource_type, uid, account, region)
        {
            triggers.push(trigger_from_name(
                FAMILY,
                event_id,
                t,
                region,
                account,
                uid,
                vec![control],
            )?);
        }
    }
    if triggers.is_empty() {
        return Ok(Err(format!("{label} names no SageMaker resource ARN")));
    }
    Ok(Ok(triggers))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::super::tests::{edit, irrelevant, triggers};
    use super::super::{parse, Family, ParseError, Trigger};
    use crate::model::{ControlId, ResourceType};

    const SAGEMAKER3: &str =
        include_str!("../../tests/fixtures/events/securityhub-imported-sagemaker3.json");
    const ARCHIVED: &str = include_str!("../../tests/fixtures/events/securityhub-archived.json");
    const LEGACY: &str =
        include_str!("../../tests/fixtures/events/securityhub-legacy-controlid.json");
    const DELEGATED: &str =
        include_str!("../../tests/fixtures/events/securityhub-delegated-admin.json");
    const THREE: &str =
        include_str!("../../tests/fixtures/events/securityhub-three-findings-one-archived.json");
    const TWO_RESOURCES: &str =
        include_str!("../../tests/fixtures/events/securityhub-two-resources.json");
    const MOTO: &str = include_str!("../../tests/fixtures/events/moto-routed-no-account.json");
    const OCSF: &str = include_str!("../../tests/fixtures/events/securityhub-v2-ocsf.json");

    fn notebook(account: &str, region: &str, name: &str) -> Trigger {
        Trigger {
            account: account.into(),
            region: region.into(),
            resource_type: ResourceType::NotebookInstance,
            arn: format!(
                "arn:aws:sagemaker:{region}:{account}:notebook-instance/{}",
                name.to_lowercase()
            ),
            name: Some(name.into()),
            family: Family::SecurityHub,
            event_id: String::new(),
            controls: vec![],
        }
    }

    #[test]
    fn imported_sagemaker3_fixture() {
        assert_eq!(
            triggers(SAGEMAKER3),
            vec![Trigger {
                event_id: "8e5622f9-d81c-4d81-612a-9319e7ee2506".into(),
                controls: vec![ControlId::SageMaker3],
                ..notebook("123456789012", "us-east-1", "Fraud-Model-Dev")
            }]
        );
    }

    #[test]
    fn archived_fixture() {
        let (family, reason) = irrelevant(ARCHIVED);
        assert_eq!(family, Some(Family::SecurityHub));
        assert_eq!(
            reason,
            "finding arn:aws:securityhub:us-east-1:123456789012:security-control/SageMaker.1/finding/0c4a7f63-2d8e-4b1a-9e35-7a6f1c2d8b94 is ARCHIVED"
        );
    }

    #[test]
    fn legacy_controlid_fixture() {
        assert_eq!(
            triggers(LEGACY),
            vec![Trigger {
                event_id: "3b7a6c1d-0f2e-4a9b-8c5d-6e7f8a9b0c1d".into(),
                controls: vec![ControlId::SageMaker1],
                ..notebook("123456789012", "us-west-2", "churn-analysis")
            }]
        );
    }

    #[test]
    fn delegated_admin_fixture_uses_the_member_account_and_region() {
        assert_eq!(
            triggers(DELEGATED),
            vec![Trigger {
                account: "222233334444".into(),
                region: "eu-west-1".into(),
                resource_type: ResourceType::Model,
                arn: "arn:aws:sagemaker:eu-west-1:222233334444:model/xgboost-churn-2025-05-30"
                    .into(),
                name: None,
                family: Family::SecurityHub,
                event_id: "a6b0e7d2-51c3-4f8e-9d2a-0b1c3e5f7a92".into(),
                controls: vec![ControlId::SageMaker5],
            }]
        );
    }

    #[test]
    fn three_findings_one_archived() {
        assert_eq!(
            triggers(THREE),
            vec![
                Trigger {
                    event_id: "5f0c2b9e-7d41-4a3c-b8e6-1a2d3c4b5e6f#0".into(),
                    controls: vec![ControlId::SageMaker3],
                    ..notebook("123456789012", "us-east-1", "nlp-sandbox")
                },
                Trigger {
                    account: "123456789012".into(),
                    region: "us-east-1".into(),
                    resource_type: ResourceType::Image,
                    arn: "arn:aws:sagemaker:us-east-1:123456789012:image/Custom-PyTorch".into(),
                    name: None,
                    family: Family::SecurityHub,
                    event_id: "5f0c2b9e-7d41-4a3c-b8e6-1a2d3c4b5e6f#2".into(),
                    controls: vec![ControlId::SageMaker7],
                },
            ]
        );
    }

    #[test]
    fn a_finding_with_two_resources_yields_two_triggers() {
        let t = triggers(TWO_RESOURCES);
        let expected = |arn: &str| Trigger {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            resource_type: ResourceType::EndpointConfig,
            arn: arn.into(),
            name: None,
            family: Family::SecurityHub,
            event_id: "c2d4e6f8-0a1b-4c3d-9e5f-7a8b9c0d1e2f".into(),
            controls: vec![ControlId::SageMaker4],
        };
        assert_eq!(
            t,
            vec![
                expected("arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/recsys-prod-v7"),
                expected(
                    "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/recsys-shadow-v7"
                ),
            ]
        );
    }

    #[test]
    fn moto_routed_event_without_account() {
        assert_eq!(
            triggers(MOTO),
            vec![Trigger {
                event_id: "f3c9a1e2-6b7d-4e8f-a0b1-c2d3e4f5a6b7".into(),
                controls: vec![ControlId::SageMaker8],
                ..notebook("123456789012", "us-east-1", "moto-notebook")
            }]
        );
    }

    #[test]
    fn passed_and_not_available_do_not_trigger() {
        for status in ["PASSED", "NOT_AVAILABLE"] {
            let body = edit(
                SAGEMAKER3,
                "/detail/findings/0/Compliance/Status",
                Some(json!(status)),
            );
            let (_, reason) = irrelevant(&body);
            assert!(reason.ends_with(&format!(" is {status}")), "{reason}");
        }
        let warning = edit(
            SAGEMAKER3,
            "/detail/findings/0/Compliance/Status",
            Some(json!("WARNING")),
        );
        assert_eq!(triggers(&warning).len(), 1);
    }

    #[test]
    fn suppressed_findings_are_skipped_in_both_spellings() {
        let body = edit(
            SAGEMAKER3,
            "/detail/findings/0/Workflow/Status",
            Some(json!("SUPPRESSED")),
        );
        assert!(irrelevant(&body).1.ends_with(" is SUPPRESSED"));
        let legacy = edit(SAGEMAKER3, "/detail/findings/0/Workflow", None);
        let legacy = edit(
            &legacy,
            "/detail/findings/0/WorkflowState",
            Some(json!("SUPPRESSED")),
        );
        assert!(irrelevant(&legacy).1.ends_with(" is SUPPRESSED"));
    }

    #[test]
    fn other_controls_are_skipped() {
        let body = edit(
            SAGEMAKER3,
            "/detail/findings/0/Compliance/SecurityControlId",
            Some(json!("S3.1")),
        );
        assert!(irrelevant(&body).1.ends_with(" is for control S3.1"));
        let body = edit(
            SAGEMAKER3,
            "/detail/findings/0/Compliance/SecurityControlId",
            Some(json!("SageMaker.9")),
        );
        assert!(irrelevant(&body).1.ends_with(" is for control SageMaker.9"));
    }

    #[test]
    fn control_falls_back_to_the_generator_id() {
        let body = edit(
            SAGEMAKER3,
            "/detail/findings/0/Compliance/SecurityControlId",
            None,
        );
        assert_eq!(triggers(&body)[0].controls, vec![ControlId::SageMaker3]);
        let body = edit(
            &body,
            "/detail/findings/0/GeneratorId",
            Some(json!(
                "aws-foundational-security-best-practices/v/1.0.0/SageMaker.2"
            )),
        );
        assert_eq!(triggers(&body)[0].controls, vec![ControlId::SageMaker2]);
        let body = edit(&body, "/detail/findings/0/GeneratorId", None);
        assert!(irrelevant(&body).1.ends_with(" names no control"));
    }

    #[test]
    fn a_finding_without_resources_is_missing() {
        let body = edit(SAGEMAKER3, "/detail/findings/0/Resources", None);
        assert_eq!(
            parse(&body),
            Err(ParseError::Missing {
                family: "securityhub",
                field: "detail.findings[0].Resources".into()
            })
        );
        let body = edit(SAGEMAKER3, "/detail/findings", None);
        assert!(matches!(parse(&body), Err(ParseError::Missing { .. })));
    }

    #[test]
    fn a_name_that_disagrees_with_the_arn_is_dropped() {
        let body = edit(
            SAGEMAKER3,
            "/detail/findings/0/Resources/0/Details/AwsSageMakerNotebookInstance/NotebookInstanceName",
            Some(json!("someone-else")),
        );
        assert_eq!(triggers(&body)[0].name, None);
    }

    #[test]
    fn other_typed_resources_are_recognized_by_arn() {
        let body = edit(
            SAGEMAKER3,
            "/detail/findings/0/Resources/0/Type",
            Some(json!("Other")),
        );
        assert_eq!(triggers(&body), triggers(SAGEMAKER3));
    }

    #[test]
    fn a_sagemaker_resource_with_a_foreign_arn_is_invalid() {
        let body = edit(
            SAGEMAKER3,
            "/detail/findings/0/Resources/0/Id",
            Some(json!("arn:aws:s3:::not-a-notebook")),
        );
        assert!(matches!(
            parse(&body),
            Err(ParseError::Invalid { field, .. }) if field == "detail.findings[0].Resources[0].Id"
        ));
    }

    #[test]
    fn unknown_extra_fields_are_ignored() {
        let mut v: serde_json::Value = serde_json::from_str(SAGEMAKER3).unwrap();
        v["brand-new-envelope-field"] = json!({"x": [1, 2]});
        v["detail"]["findings"][0]["NewTopLevel"] = json!(true);
        v["detail"]["findings"][0]["Resources"][0]["Tags"] = json!({"team": "fraud"});
        assert_eq!(triggers(&v.to_string()), triggers(SAGEMAKER3));
    }

    #[test]
    fn ocsf_v2_fixture() {
        assert_eq!(
            triggers(OCSF),
            vec![Trigger {
                account: "123456789012".into(),
                region: "us-east-2".into(),
                resource_type: ResourceType::AppImageConfig,
                arn: "arn:aws:sagemaker:us-east-2:123456789012:app-image-config/studio-kernel-cfg"
                    .into(),
                name: Some("studio-kernel-cfg".into()),
                family: Family::SecurityHub,
                event_id: "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6".into(),
                controls: vec![ControlId::SageMaker6],
            }]
        );
        let passed = edit(
            OCSF,
            "/detail/findings/0/compliance/status",
            Some(json!("Pass")),
        );
        assert!(irrelevant(&passed).1.ends_with(" did not fail"));
        let no_arn = edit(
            OCSF,
            "/detail/findings/0/resources/0",
            Some(json!({"type": "AWS::S3::Bucket", "uid": "data-lake-raw"})),
        );
        assert!(irrelevant(&no_arn)
            .1
            .contains("names no SageMaker resource ARN"));
    }
}
