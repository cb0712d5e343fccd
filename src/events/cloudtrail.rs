//! `AWS API Call via CloudTrail` events for `sagemaker.amazonaws.com` -> a trigger for the
//! resource a successful create, update, start/stop or tag call touched.

use serde_json::Value;

use super::{str_at, trigger_from_arn, trigger_from_name, Envelope, Family, ParseError, Parsed};
use crate::model::ResourceType;

const FAMILY: Family = Family::CloudTrail;

/// How a call worth a look names its resource.
enum Target {
    /// By name, in this request parameter.
    Named(ResourceType, &'static str),
    /// By `resourceArn` (the tagging calls).
    ByArn,
}

fn target(event_name: &str) -> Option<Target> {
    use ResourceType::*;
    Some(match event_name {
        "CreateNotebookInstance"
        | "UpdateNotebookInstance"
        | "StartNotebookInstance"
        | "StopNotebookInstance" => Target::Named(NotebookInstance, "notebookInstanceName"),
        "CreateImage" | "UpdateImage" => Target::Named(Image, "imageName"),
        "CreateAppImageConfig" | "UpdateAppImageConfig" => {
            Target::Named(AppImageConfig, "appImageConfigName")
        }
        "CreateEndpointConfig" => Target::Named(EndpointConfig, "endpointConfigName"),
        "CreateModel" => Target::Named(Model, "modelName"),
        "AddTags" | "DeleteTags" => Target::ByArn,
        _ => return None,
    })
}

pub(super) fn parse(env: &Envelope) -> Result<Parsed, ParseError> {
    let d = env.detail;
    let event_source = str_at(d, &["eventSource"]).unwrap_or_default();
    if event_source != "sagemaker.amazonaws.com" {
        return Ok(FAMILY.irrelevant(format!("event source {event_source:?} is not SageMaker")));
    }
    let event_name = str_at(d, &["eventName"]).ok_or_else(|| FAMILY.missing("detail.eventName"))?;
    if let Some(code) = d.get("errorCode").filter(|c| !c.is_null()) {
        let code = code
            .as_str()
            .map_or_else(|| code.to_string(), str::to_string);
        return Ok(FAMILY.irrelevant(format!("{event_name} failed with {code}")));
    }
    if event_name == "CreatePresignedNotebookInstanceUrl" {
        return activity(env);
    }
    let Some(target) = target(event_name) else {
        return Ok(FAMILY.irrelevant(format!("{event_name} is not a call worth a look")));
    };
    let params = d
        .get("requestParameters")
        .filter(|p| p.is_object())
        .ok_or_else(|| FAMILY.missing("detail.requestParameters"))?;

    let trigger = match target {
        Target::Named(resource_type, key) => {
            let (account, region, name) = named(env, params, key)?;
            trigger_from_name(FAMILY, env.id, resource_type, region, account, name, vec![])?
        }
        Target::ByArn => {
            let arn = param(params, "resourceArn")
                .ok_or_else(|| FAMILY.missing("detail.requestParameters.resourceArn"))?;
            match trigger_from_arn(FAMILY, env.id, arn, None, vec![]) {
                Some(t) => t,
                None => {
                    return Ok(FAMILY.irrelevant(format!(
                        "{event_name} on {arn}, not a resource the controls judge"
                    )))
                }
            }
        }
    };
    Ok(Parsed::Triggers(vec![trigger]))
}

/// Someone asked for a URL to open a notebook (the console's "Open JupyterLab" does): the
/// notebook is in use from `eventTime` on.
fn activity(env: &Envelope) -> Result<Parsed, ParseError> {
    let d = env.detail;
    let key = "notebookInstanceName";
    let params = d
        .get("requestParameters")
        .filter(|p| p.is_object())
        .ok_or_else(|| FAMILY.missing("detail.requestParameters"))?;
    let (account, region, name) = named(env, params, key)?;
    let at = str_at(d, &["eventTime"])
        .ok_or_else(|| FAMILY.missing("detail.eventTime"))?
        .parse::<jiff::Timestamp>()
        .map_err(|_| FAMILY.missing("detail.eventTime (an RFC 3339 time)"))?
        .as_millisecond();
    let arn = super::arn(ResourceType::NotebookInstance, region, account, name);
    Ok(Parsed::Activity(vec![super::Activity { arn, at }]))
}

/// (account, region, name) of a call that names its resource by the parameter `key`; the
/// account is the one that owns the resource (`recipientAccountId`).
fn named<'a>(
    env: &Envelope<'a>,
    params: &'a Value,
    key: &str,
) -> Result<(&'a str, &'a str, &'a str), ParseError> {
    let d = env.detail;
    let name = param(params, key)
        .ok_or_else(|| FAMILY.missing(&format!("detail.requestParameters.{key}")))?;
    let account = str_at(d, &["recipientAccountId"])
        .or(str_at(d, &["userIdentity", "accountId"]))
        .or(env.account)
        .ok_or_else(|| FAMILY.missing("detail.recipientAccountId"))?;
    let region = str_at(d, &["awsRegion"])
        .or(env.region)
        .ok_or_else(|| FAMILY.missing("detail.awsRegion"))?;
    Ok((account, region, name))
}

/// A request parameter by its lower camel case key (as CloudTrail records it; inferred), or
/// the PascalCase spelling of the API.
fn param<'a>(params: &'a Value, key: &str) -> Option<&'a str> {
    let pascal: String = key
        .chars()
        .take(1)
        .flat_map(char::to_uppercase)
        .chain(key.chars().skip(1))
        .collect();
    str_at(params, &[key])
        .or_else(|| str_at(params, &[pascal.as_str()]))
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::super::tests::{edit, irrelevant, triggers};
    use super::super::{parse, Family, ParseError, Trigger};
    use crate::model::ResourceType;

    const CREATE: &str =
        include_str!("../../tests/fixtures/events/cloudtrail-create-notebook.json");
    const ADD_TAGS: &str = include_str!("../../tests/fixtures/events/cloudtrail-addtags.json");
    const ERROR: &str = include_str!("../../tests/fixtures/events/cloudtrail-error.json");

    #[test]
    fn create_notebook_fixture() {
        assert_eq!(
            triggers(CREATE),
            vec![Trigger {
                account: "123456789012".into(),
                region: "us-east-1".into(),
                resource_type: ResourceType::NotebookInstance,
                arn: "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/ds-team-notebook"
                    .into(),
                name: Some("DS-Team-Notebook".into()),
                family: Family::CloudTrail,
                event_id: "6a7e0f1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b".into(),
                controls: vec![],
            }]
        );
    }

    #[test]
    fn addtags_fixture() {
        assert_eq!(
            triggers(ADD_TAGS),
            vec![Trigger {
                account: "123456789012".into(),
                region: "us-east-1".into(),
                resource_type: ResourceType::AppImageConfig,
                arn: "arn:aws:sagemaker:us-east-1:123456789012:app-image-config/r-kernel-config"
                    .into(),
                name: None,
                family: Family::CloudTrail,
                event_id: "0e4f8a2b-6c1d-4e3f-a5b7-c9d1e3f5a7b9".into(),
                controls: vec![],
            }]
        );
    }

    #[test]
    fn failed_call_fixture_is_irrelevant() {
        assert_eq!(
            irrelevant(ERROR),
            (
                Some(Family::CloudTrail),
                "UpdateNotebookInstance failed with ValidationException".to_string()
            )
        );
    }

    #[test]
    fn pascal_case_parameters_are_accepted() {
        let body = edit(
            CREATE,
            "/detail/requestParameters",
            Some(json!({
                "NotebookInstanceName": "DS-Team-Notebook", "InstanceType": "ml.t3.medium"
            })),
        );
        assert_eq!(triggers(&body), triggers(CREATE));
    }

    #[test]
    fn deletes_and_other_calls_are_irrelevant() {
        for name in [
            "DeleteNotebookInstance",
            "DescribeNotebookInstance",
            "CreateEndpoint",
        ] {
            let body = edit(CREATE, "/detail/eventName", Some(json!(name)));
            assert_eq!(
                irrelevant(&body).1,
                format!("{name} is not a call worth a look")
            );
        }
        let s3 = edit(
            CREATE,
            "/detail/eventSource",
            Some(json!("s3.amazonaws.com")),
        );
        assert_eq!(irrelevant(&s3).0, Some(Family::CloudTrail));
    }

    #[test]
    fn tags_on_other_kinds_are_irrelevant() {
        let body = edit(
            ADD_TAGS,
            "/detail/requestParameters/resourceArn",
            Some(json!(
                "arn:aws:sagemaker:us-east-1:123456789012:endpoint/recsys-prod"
            )),
        );
        assert!(irrelevant(&body).1.starts_with(
            "AddTags on arn:aws:sagemaker:us-east-1:123456789012:endpoint/recsys-prod"
        ));
    }

    #[test]
    fn account_falls_back_to_the_caller_then_the_envelope() {
        let body = edit(CREATE, "/detail/recipientAccountId", None);
        assert_eq!(triggers(&body)[0].account, "123456789012");
        let body = edit(&body, "/detail/userIdentity", None);
        let body = edit(&body, "/account", Some(json!("999988887777")));
        assert_eq!(triggers(&body)[0].account, "999988887777");
        let body = edit(&body, "/account", None);
        assert_eq!(
            parse(&body),
            Err(ParseError::Missing {
                family: "cloudtrail",
                field: "detail.recipientAccountId".into()
            })
        );
    }

    #[test]
    fn a_create_without_its_name_is_missing() {
        let body = edit(
            CREATE,
            "/detail/requestParameters/notebookInstanceName",
            None,
        );
        assert_eq!(
            parse(&body),
            Err(ParseError::Missing {
                family: "cloudtrail",
                field: "detail.requestParameters.notebookInstanceName".into()
            })
        );
    }

    #[test]
    fn opening_a_notebook_is_recorded_as_activity_not_as_a_trigger() {
        let body = edit(
            CREATE,
            "/detail/eventName",
            Some(json!("CreatePresignedNotebookInstanceUrl")),
        );
        let body = edit(
            &body,
            "/detail/eventTime",
            Some(json!("2026-12-04T10:00:00Z")),
        );
        match parse(&body).unwrap() {
            super::super::Parsed::Activity(used) => {
                assert_eq!(used.len(), 1);
                assert!(
                    used[0].arn.ends_with(":notebook-instance/ds-team-notebook"),
                    "{used:?}"
                );
                assert_eq!(used[0].at, 1_796_378_400_000);
            }
            other => panic!("expected activity, got {other:?}"),
        }
        let no_time = edit(&body, "/detail/eventTime", None);
        assert!(matches!(parse(&no_time), Err(ParseError::Missing { .. })));
    }
}
