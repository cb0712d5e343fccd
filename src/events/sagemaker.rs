//! Native SageMaker events (`aws.sagemaker`): notebook instance, image and image version state
//! changes -> a trigger for the notebook or the (parent) image. Statuses are ignored: the
//! reconciler reads the live state itself.

use super::{
    str_at, trigger_from_arn, trigger_from_name, Envelope, Family, ParseError, Parsed, Trigger,
};
use crate::model::ResourceType;

const FAMILY: Family = Family::SageMaker;

pub(super) fn parse(env: &Envelope) -> Result<Parsed, ParseError> {
    let trigger = match env.detail_type {
        // The detail mirrors DescribeNotebookInstance.
        "SageMaker Notebook Instance State Change" => resource(
            env,
            ResourceType::NotebookInstance,
            "NotebookInstanceArn",
            Some("NotebookInstanceName"),
        )?,
        "SageMaker Image State Change" => {
            resource(env, ResourceType::Image, "ImageArn", Some("ImageName"))?
        }
        // SageMaker.7 judges the image, not its versions: look at the parent.
        "SageMaker Image Version State Change" => {
            resource(env, ResourceType::Image, "ImageArn", None)?
        }
        other => {
            return Ok(Parsed::Irrelevant {
                family: Some(FAMILY),
                reason: format!("source aws.sagemaker / detail-type {other} is not handled"),
            })
        }
    };
    Ok(Parsed::Triggers(vec![trigger]))
}

/// The resource named by `detail.{arn_key}`, or failing that by `detail.{name_key}` placed in
/// the envelope's account and region.
fn resource(
    env: &Envelope,
    resource_type: ResourceType,
    arn_key: &str,
    name_key: Option<&str>,
) -> Result<Trigger, ParseError> {
    let name = name_key.and_then(|k| str_at(env.detail, &[k]));
    if let Some(arn) = str_at(env.detail, &[arn_key]) {
        return trigger_from_arn(FAMILY, env.id, arn, name, vec![])
            .filter(|t| t.resource_type == resource_type)
            .ok_or_else(|| ParseError::Invalid {
                family: FAMILY.as_str(),
                field: format!("detail.{arn_key}"),
                message: format!("`{arn}` is not a SageMaker {resource_type} ARN"),
            });
    }
    let missing = |field: String| ParseError::Missing {
        family: FAMILY.as_str(),
        field,
    };
    let name = name.ok_or_else(|| missing(format!("detail.{arn_key}")))?;
    let account = env.account.ok_or_else(|| missing("account".into()))?;
    let region = env.region.ok_or_else(|| missing("region".into()))?;
    trigger_from_name(FAMILY, env.id, resource_type, region, account, name, vec![])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::super::tests::{edit, irrelevant, triggers};
    use super::super::{parse, Family, ParseError, Trigger};
    use crate::model::ResourceType;

    const NOTEBOOK: &str =
        include_str!("../../tests/fixtures/events/sagemaker-notebook-state-change.json");
    const IMAGE: &str =
        include_str!("../../tests/fixtures/events/sagemaker-image-state-change.json");
    const IMAGE_VERSION: &str =
        include_str!("../../tests/fixtures/events/sagemaker-image-version-state-change.json");

    fn ds_team_notebook() -> Trigger {
        Trigger {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            resource_type: ResourceType::NotebookInstance,
            arn: "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/ds-team-notebook"
                .into(),
            name: Some("DS-Team-Notebook".into()),
            family: Family::SageMaker,
            event_id: "b2f1c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d".into(),
            controls: vec![],
        }
    }

    #[test]
    fn notebook_state_change_fixture_keeps_the_capitalized_name() {
        assert_eq!(triggers(NOTEBOOK), vec![ds_team_notebook()]);
    }

    #[test]
    fn notebook_arn_with_capitals_is_canonicalized() {
        let body = edit(
            NOTEBOOK,
            "/detail/NotebookInstanceArn",
            Some(json!(
                "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/DS-Team-Notebook"
            )),
        );
        assert_eq!(triggers(&body), vec![ds_team_notebook()]);
    }

    #[test]
    fn notebook_without_arn_uses_the_envelope_and_needs_its_account() {
        let body = edit(NOTEBOOK, "/detail/NotebookInstanceArn", None);
        assert_eq!(triggers(&body), vec![ds_team_notebook()]);
        let body = edit(&body, "/account", None);
        assert_eq!(
            parse(&body),
            Err(ParseError::Missing {
                family: "sagemaker",
                field: "account".into()
            })
        );
    }

    #[test]
    fn image_state_change_fixture_takes_the_region_from_the_arn() {
        // As in AWS's own sample, the envelope says us-east-1 while the image is in us-west-2.
        assert_eq!(
            triggers(IMAGE),
            vec![Trigger {
                account: "111122223333".into(),
                region: "us-west-2".into(),
                resource_type: ResourceType::Image,
                arn: "arn:aws:sagemaker:us-west-2:111122223333:image/Geo-Spatial-Base".into(),
                name: Some("Geo-Spatial-Base".into()),
                family: Family::SageMaker,
                event_id: "cee033a3-17d8-49f8-865f-b9ebf485d9ee".into(),
                controls: vec![],
            }]
        );
    }

    #[test]
    fn image_version_state_change_fixture_points_at_the_parent_image() {
        assert_eq!(
            triggers(IMAGE_VERSION),
            vec![Trigger {
                account: "111122223333".into(),
                region: "us-west-2".into(),
                resource_type: ResourceType::Image,
                arn: "arn:aws:sagemaker:us-west-2:111122223333:image/geo-spatial-base".into(),
                name: None,
                family: Family::SageMaker,
                event_id: "07fc4615-ebd7-15fc-1746-243411f09f04".into(),
                controls: vec![],
            }]
        );
    }

    #[test]
    fn other_sagemaker_events_are_irrelevant() {
        let body = edit(
            NOTEBOOK,
            "/detail-type",
            Some(json!("SageMaker Training Job State Change")),
        );
        assert_eq!(irrelevant(&body).0, Some(Family::SageMaker));
    }

    #[test]
    fn a_wrong_kind_of_arn_is_invalid() {
        let body = edit(
            IMAGE,
            "/detail/ImageArn",
            Some(json!("arn:aws:sagemaker:us-west-2:111122223333:model/geo")),
        );
        assert!(matches!(parse(&body), Err(ParseError::Invalid { .. })));
    }
}
