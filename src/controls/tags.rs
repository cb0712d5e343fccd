//! SageMaker.6 (app image configs) and SageMaker.7 (images): the resource must be tagged.
//!
//! Tags whose key starts with `aws:` (case-sensitive) are system tags and are ignored. With no
//! required keys, any remaining tag passes; otherwise every required key must be present
//! (case-sensitive; empty values are fine).

use super::{Params, Verdict};
use crate::model::{AppImageConfig, ControlId, Image, Tag};

/// The prefix of system tags, which the tagging controls ignore.
const SYSTEM_PREFIX: &str = "aws:";

/// The image status in which SageMaker.7 does not apply.
const IMAGE_DELETING: &str = "DELETING";

/// SageMaker.6 on an app image config; `None` unless `control` is SageMaker.6.
pub(super) fn evaluate_app_image_config(
    control: ControlId,
    config: &AppImageConfig,
    params: &Params,
) -> Option<Verdict> {
    (control == ControlId::SageMaker6).then(|| tagged(&config.tags, &params.required_tag_keys))
}

/// SageMaker.7 on an image; `None` unless `control` is SageMaker.7.
pub(super) fn evaluate_image(
    control: ControlId,
    image: &Image,
    params: &Params,
) -> Option<Verdict> {
    if control != ControlId::SageMaker7 {
        return None;
    }
    if image.status == IMAGE_DELETING {
        return Some(Verdict::not_applicable(
            "image is DELETING: it is going away",
        ));
    }
    Some(tagged(&image.tags, &params.required_tag_keys))
}

/// The tag check both controls share.
fn tagged(tags: &[Tag], required: &[String]) -> Verdict {
    let user: Vec<&str> = tags
        .iter()
        .map(|t| t.key.as_str())
        .filter(|k| !k.starts_with(SYSTEM_PREFIX))
        .collect();

    if required.is_empty() {
        return if !user.is_empty() {
            Verdict::passed(format!("tagged: {}", user.join(", ")))
        } else if tags.is_empty() {
            Verdict::failed("no tags")
        } else {
            Verdict::failed(format!(
                "only system ({SYSTEM_PREFIX}) tags, which do not count: {}",
                tags.iter()
                    .map(|t| t.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        };
    }

    let mut missing: Vec<&str> = Vec::new();
    for key in required {
        let key = key.as_str();
        if !user.contains(&key) && !missing.contains(&key) {
            missing.push(key);
        }
    }
    if missing.is_empty() {
        return Verdict::passed(format!("has required tag keys: {}", required.join(", ")));
    }

    let mut reason = format!("missing required tag keys: {}", missing.join(", "));
    // Point at near misses: keys are case-sensitive, and `aws:` keys never count.
    let near: Vec<String> = missing
        .iter()
        .filter_map(|m| {
            if m.starts_with(SYSTEM_PREFIX) {
                return Some(format!("{m} is a system key and never counts"));
            }
            user.iter()
                .find(|k| k.eq_ignore_ascii_case(m))
                .map(|k| format!("found {k} instead of {m}, keys are case-sensitive"))
        })
        .collect();
    if !near.is_empty() {
        reason.push_str(&format!(" ({})", near.join("; ")));
    }
    Verdict::failed(reason)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::controls::fixtures::snap;
    use crate::controls::{evaluate, evaluate_control, Params};
    use crate::model::{AppImageConfig, ControlId, Detail, Evaluation, Image, Remedy, Status, Tag};

    /// Both tagged kinds, so every rule is checked for .6 and .7 alike.
    const KINDS: [ControlId; 2] = [ControlId::SageMaker6, ControlId::SageMaker7];

    fn detail(control: ControlId, tags: Vec<Tag>) -> Detail {
        if control == ControlId::SageMaker6 {
            Detail::AppImageConfig(AppImageConfig { tags })
        } else {
            Detail::Image(Image {
                status: "CREATED".to_string(),
                tags,
            })
        }
    }

    fn params(required: &[&str]) -> Params {
        Params {
            required_tag_keys: required.iter().map(|s| s.to_string()).collect(),
            ..Params::default()
        }
    }

    fn eval(control: ControlId, tags: Vec<Tag>, required: &[&str]) -> Evaluation {
        evaluate_control(control, &snap(detail(control, tags)), &params(required)).unwrap()
    }

    fn tags(keys: &[&str]) -> Vec<Tag> {
        keys.iter().map(|k| Tag::new(*k, "v")).collect()
    }

    #[test]
    fn empty_tag_list_fails() {
        for c in KINDS {
            let e = eval(c, Vec::new(), &[]);
            assert_eq!(e.status, Status::Failed, "{c}");
            assert_eq!(e.remediation, Remedy::Tag);
            assert_eq!(e.reason, "no tags");
        }
    }

    #[test]
    fn any_user_tag_passes_when_no_keys_required() {
        for c in KINDS {
            let e = eval(c, tags(&["team"]), &[]);
            assert_eq!(e.status, Status::Passed, "{c}");
            assert_eq!(e.remediation, Remedy::None);
            assert_eq!(e.reason, "tagged: team");
        }
    }

    #[test]
    fn only_aws_tags_fail() {
        for c in KINDS {
            let e = eval(
                c,
                tags(&["aws:cloudformation:stack-name", "aws:sagemaker:domain-arn"]),
                &[],
            );
            assert_eq!(e.status, Status::Failed, "{c}");
            assert_eq!(e.remediation, Remedy::Tag);
            assert!(e.reason.contains("only system"), "{}", e.reason);
            assert!(
                e.reason.contains("aws:cloudformation:stack-name"),
                "{}",
                e.reason
            );
        }
    }

    #[test]
    fn uppercase_aws_prefix_is_a_user_tag() {
        for c in KINDS {
            let e = eval(c, tags(&["AWS:team"]), &[]);
            assert_eq!(e.status, Status::Passed, "{c}");
            let e = eval(c, tags(&["Aws:team"]), &[]);
            assert_eq!(e.status, Status::Passed, "{c}");
        }
    }

    #[test]
    fn aws_without_colon_is_a_user_tag() {
        for c in KINDS {
            assert_eq!(eval(c, tags(&["aws"]), &[]).status, Status::Passed, "{c}");
            assert_eq!(
                eval(c, tags(&["aws-team"]), &[]).status,
                Status::Passed,
                "{c}"
            );
            assert_eq!(
                eval(c, tags(&["awsome"]), &[]).status,
                Status::Passed,
                "{c}"
            );
        }
    }

    #[test]
    fn user_tag_alongside_aws_tags_passes() {
        for c in KINDS {
            let e = eval(c, tags(&["aws:x", "team"]), &[]);
            assert_eq!(e.status, Status::Passed, "{c}");
            assert_eq!(e.reason, "tagged: team");
        }
    }

    #[test]
    fn empty_value_counts_as_a_tag() {
        for c in KINDS {
            let e = eval(c, vec![Tag::new("team", "")], &[]);
            assert_eq!(e.status, Status::Passed, "{c}");
        }
    }

    #[test]
    fn required_keys_all_missing_fail_and_are_listed() {
        for c in KINDS {
            let e = eval(c, Vec::new(), &["owner", "cost-center"]);
            assert_eq!(e.status, Status::Failed, "{c}");
            assert_eq!(e.remediation, Remedy::Tag);
            assert_eq!(e.reason, "missing required tag keys: owner, cost-center");
        }
    }

    #[test]
    fn required_keys_present_pass() {
        for c in KINDS {
            let e = eval(
                c,
                tags(&["cost-center", "owner", "extra"]),
                &["owner", "cost-center"],
            );
            assert_eq!(e.status, Status::Passed, "{c}");
            assert_eq!(e.remediation, Remedy::None);
            assert_eq!(e.reason, "has required tag keys: owner, cost-center");
        }
    }

    #[test]
    fn required_keys_with_empty_values_pass() {
        for c in KINDS {
            let t = vec![Tag::new("owner", ""), Tag::new("cost-center", "")];
            assert_eq!(
                eval(c, t, &["owner", "cost-center"]).status,
                Status::Passed,
                "{c}"
            );
        }
    }

    #[test]
    fn partially_missing_lists_only_the_missing() {
        for c in KINDS {
            let e = eval(c, tags(&["owner"]), &["owner", "cost-center"]);
            assert_eq!(e.status, Status::Failed, "{c}");
            assert_eq!(e.reason, "missing required tag keys: cost-center");
        }
    }

    #[test]
    fn required_keys_are_case_sensitive() {
        for c in KINDS {
            let e = eval(c, tags(&["Owner"]), &["owner"]);
            assert_eq!(e.status, Status::Failed, "{c}");
            assert!(
                e.reason.starts_with("missing required tag keys: owner"),
                "{}",
                e.reason
            );
            assert!(
                e.reason.contains("found Owner instead of owner"),
                "{}",
                e.reason
            );

            assert_eq!(
                eval(c, tags(&["owner"]), &["Owner"]).status,
                Status::Failed,
                "{c}"
            );
            assert_eq!(
                eval(c, tags(&["Owner"]), &["Owner"]).status,
                Status::Passed,
                "{c}"
            );
        }
    }

    #[test]
    fn aws_prefixed_tag_does_not_satisfy_a_required_key() {
        for c in KINDS {
            // `aws:owner` is not `owner`...
            assert_eq!(
                eval(c, tags(&["aws:owner"]), &["owner"]).status,
                Status::Failed
            );
            // ...and a required `aws:` key can never be met, since system tags are ignored.
            let e = eval(c, tags(&["aws:owner"]), &["aws:owner"]);
            assert_eq!(e.status, Status::Failed, "{c}");
            assert!(e.reason.contains("system key"), "{}", e.reason);
        }
    }

    #[test]
    fn required_keys_only_aws_tags_fail() {
        for c in KINDS {
            let e = eval(c, tags(&["aws:a", "aws:b"]), &["owner"]);
            assert_eq!(e.status, Status::Failed, "{c}");
            assert_eq!(e.reason, "missing required tag keys: owner");
        }
    }

    #[test]
    fn duplicate_required_keys_listed_once() {
        for c in KINDS {
            let e = eval(c, Vec::new(), &["owner", "owner"]);
            assert_eq!(e.reason, "missing required tag keys: owner", "{c}");
            assert_eq!(
                eval(c, tags(&["owner"]), &["owner", "owner"]).status,
                Status::Passed
            );
        }
    }

    #[test]
    fn with_required_keys_other_tags_do_not_help() {
        for c in KINDS {
            assert_eq!(
                eval(c, tags(&["team", "env"]), &["owner"]).status,
                Status::Failed
            );
        }
    }

    #[test]
    fn image_deleting_is_not_applicable() {
        for t in [Vec::new(), tags(&["owner"])] {
            let s = snap(Detail::Image(Image {
                status: "DELETING".to_string(),
                tags: t,
            }));
            let e = evaluate_control(ControlId::SageMaker7, &s, &Params::default()).unwrap();
            assert_eq!(e.status, Status::NotApplicable);
            assert_eq!(e.remediation, Remedy::None);
            assert!(e.reason.contains("DELETING"), "{}", e.reason);
        }
    }

    #[test]
    fn other_image_statuses_are_judged() {
        for status in [
            "CREATING",
            "CREATED",
            "CREATE_FAILED",
            "UPDATING",
            "UPDATE_FAILED",
            "DELETE_FAILED",
            "deleting",
            "",
        ] {
            let untagged = snap(Detail::Image(Image {
                status: status.to_string(),
                tags: Vec::new(),
            }));
            let e = evaluate_control(ControlId::SageMaker7, &untagged, &Params::default()).unwrap();
            assert_eq!(e.status, Status::Failed, "{status:?}");
            let tagged = snap(Detail::Image(Image {
                status: status.to_string(),
                tags: tags(&["team"]),
            }));
            let e = evaluate_control(ControlId::SageMaker7, &tagged, &Params::default()).unwrap();
            assert_eq!(e.status, Status::Passed, "{status:?}");
        }
    }

    #[test]
    fn each_tagged_kind_is_judged_by_its_own_control_only() {
        let p = Params::default();
        let aic = snap(detail(ControlId::SageMaker6, Vec::new()));
        let img = snap(detail(ControlId::SageMaker7, Vec::new()));
        assert_eq!(evaluate_control(ControlId::SageMaker7, &aic, &p), None);
        assert_eq!(evaluate_control(ControlId::SageMaker6, &img, &p), None);
        let controls: Vec<ControlId> = evaluate(&aic, &p).iter().map(|e| e.control).collect();
        assert_eq!(controls, vec![ControlId::SageMaker6]);
        let controls: Vec<ControlId> = evaluate(&img, &p).iter().map(|e| e.control).collect();
        assert_eq!(controls, vec![ControlId::SageMaker7]);
    }
}
