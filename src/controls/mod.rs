//! The eight controls as pure functions over resource snapshots: no I/O, no SDK types.
//!
//! [`evaluate`] judges a snapshot against every control of its resource type;
//! [`evaluate_control`] against one. The checks live in one file per family: `notebook`
//! (SageMaker.1, .2, .3, .8), `endpoint` (.4), `model` (.5) and `tags` (.6, .7).

pub mod catalogue;
mod endpoint;
mod model;
mod notebook;
mod tags;

#[cfg(test)]
mod fixtures;

use crate::model::{ControlId, Detail, Evaluation, Remedy, ResourceRef, Snapshot, Status};

/// Control parameters (from config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// SageMaker.6/.7 `requiredKeyTags`: 0-6 case-sensitive keys; empty means "any tag whose key
    /// does not start with `aws:`".
    pub required_tag_keys: Vec<String>,
    /// SageMaker.8: the platform identifiers that pass.
    pub supported_platforms: Vec<String>,
}

/// The platform SageMaker.8 passes as Security Hub evaluates it today (control reference of
/// 2026; before, it was `notebook-al2-v3`, which is Amazon Linux 2, now out of support). It is
/// also what SageMaker gives a new notebook that names no platform.
pub const SUPPORTED_PLATFORM: &str = "notebook-al2023-v1";

impl Default for Params {
    fn default() -> Self {
        Params {
            required_tag_keys: Vec::new(),
            supported_platforms: vec![SUPPORTED_PLATFORM.to_string()],
        }
    }
}

/// Every control that applies to this snapshot's resource type, in control order.
pub fn evaluate(snapshot: &Snapshot, params: &Params) -> Vec<Evaluation> {
    ControlId::ALL
        .into_iter()
        .filter_map(|control| evaluate_control(control, snapshot, params))
        .collect()
}

/// One control; `None` if the control does not judge this resource type.
///
/// The resource type is taken from `snapshot.detail` (what is actually judged).
pub fn evaluate_control(
    control: ControlId,
    snapshot: &Snapshot,
    params: &Params,
) -> Option<Evaluation> {
    let verdict = match &snapshot.detail {
        Detail::Notebook(notebook) => notebook::evaluate(control, notebook, params),
        Detail::EndpointConfig(config) => endpoint::evaluate(control, config),
        Detail::Model(model) => model::evaluate(control, model),
        Detail::AppImageConfig(config) => tags::evaluate_app_image_config(control, config, params),
        Detail::Image(image) => tags::evaluate_image(control, image, params),
    }?;
    Some(verdict.into_evaluation(control, &snapshot.resource))
}

/// A control's verdict before it is tied to a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    status: Status,
    reason: String,
}

impl Verdict {
    fn passed(reason: impl Into<String>) -> Verdict {
        Verdict {
            status: Status::Passed,
            reason: reason.into(),
        }
    }

    fn failed(reason: impl Into<String>) -> Verdict {
        Verdict {
            status: Status::Failed,
            reason: reason.into(),
        }
    }

    fn not_applicable(reason: impl Into<String>) -> Verdict {
        Verdict {
            status: Status::NotApplicable,
            reason: reason.into(),
        }
    }

    /// The remediation is the control's own when FAILED, `None` otherwise.
    fn into_evaluation(self, control: ControlId, resource: &ResourceRef) -> Evaluation {
        let remediation = match self.status {
            Status::Failed => control.remediation(),
            Status::Passed | Status::NotApplicable => Remedy::None,
        };
        Evaluation {
            control,
            resource: resource.clone(),
            status: self.status,
            remediation,
            reason: self.reason,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::catalogue::CATALOGUE;
    use super::fixtures::*;
    use super::*;
    use crate::model::{
        AppImageConfig, EndpointConfig, Image, Model, Notebook, ResourceType, Tag, Variant,
    };

    fn one_of_each() -> Vec<Snapshot> {
        vec![
            snap(Detail::Notebook(notebook())),
            snap(Detail::EndpointConfig(EndpointConfig {
                variants: vec![variant("AllTraffic", Some(2))],
            })),
            snap(Detail::Model(Model {
                enable_network_isolation: Some(true),
            })),
            snap(Detail::Image(Image {
                status: "CREATED".to_string(),
                tags: vec![Tag::new("owner", "me")],
            })),
            snap(Detail::AppImageConfig(AppImageConfig {
                tags: vec![Tag::new("owner", "me")],
            })),
        ]
    }

    fn controls_of(evals: &[Evaluation]) -> Vec<ControlId> {
        evals.iter().map(|e| e.control).collect()
    }

    #[test]
    fn evaluate_returns_exactly_the_controls_of_the_type_in_order() {
        use ControlId::*;
        let params = Params::default();
        let expected: Vec<(ResourceType, Vec<ControlId>)> = vec![
            (
                ResourceType::NotebookInstance,
                vec![SageMaker1, SageMaker2, SageMaker3, SageMaker8],
            ),
            (ResourceType::EndpointConfig, vec![SageMaker4]),
            (ResourceType::Model, vec![SageMaker5]),
            (ResourceType::Image, vec![SageMaker7]),
            (ResourceType::AppImageConfig, vec![SageMaker6]),
        ];
        let snapshots = one_of_each();
        assert_eq!(snapshots.len(), expected.len());
        for (snapshot, (rt, controls)) in snapshots.iter().zip(expected) {
            assert_eq!(detail_type(&snapshot.detail), rt);
            let evals = evaluate(snapshot, &params);
            assert_eq!(controls_of(&evals), controls, "{rt}");
        }
    }

    #[test]
    fn evaluate_control_is_some_exactly_for_the_controls_resource_type() {
        let params = Params::default();
        let mut some = 0;
        for snapshot in one_of_each() {
            for control in ControlId::ALL {
                let got = evaluate_control(control, &snapshot, &params);
                let applies = control.resource_type() == detail_type(&snapshot.detail);
                assert_eq!(got.is_some(), applies, "{control} on {:?}", snapshot.detail);
                if let Some(e) = got {
                    some += 1;
                    assert_eq!(e.control, control);
                }
            }
        }
        assert_eq!(some, 8, "each control judges exactly one of the five types");
    }

    #[test]
    fn evaluate_control_none_for_wrong_type() {
        let params = Params::default();
        let nb = snap(Detail::Notebook(notebook()));
        let model = snap(Detail::Model(Model {
            enable_network_isolation: None,
        }));
        for entry in CATALOGUE {
            let c = entry.id;
            let expected = |on: ResourceType| (entry.resource_type == on).then_some(());
            assert_eq!(
                evaluate_control(c, &nb, &params).map(|_| ()),
                expected(ResourceType::NotebookInstance),
                "{c}"
            );
            assert_eq!(
                evaluate_control(c, &model, &params).map(|_| ()),
                expected(ResourceType::Model),
                "{c}"
            );
        }
    }

    #[test]
    fn evaluations_carry_the_snapshot_resource() {
        let params = Params::default();
        for snapshot in one_of_each() {
            for e in evaluate(&snapshot, &params) {
                assert_eq!(e.resource, snapshot.resource);
            }
        }
    }

    #[test]
    fn evaluate_agrees_with_evaluate_control() {
        let params = Params::default();
        for snapshot in one_of_each() {
            let all = evaluate(&snapshot, &params);
            let one_by_one: Vec<Evaluation> = ControlId::ALL
                .into_iter()
                .filter_map(|c| evaluate_control(c, &snapshot, &params))
                .collect();
            assert_eq!(all, one_by_one);
        }
    }

    #[test]
    fn into_evaluation_sets_remediation_from_status() {
        let r = resource(ResourceType::NotebookInstance);
        for control in ControlId::ALL {
            let f = Verdict::failed("x").into_evaluation(control, &r);
            assert_eq!(f.remediation, control.remediation());
            assert_ne!(f.remediation, Remedy::None);
            let p = Verdict::passed("x").into_evaluation(control, &r);
            assert_eq!(p.remediation, Remedy::None);
            let n = Verdict::not_applicable("x").into_evaluation(control, &r);
            assert_eq!(n.remediation, Remedy::None);
        }
    }

    // ---- property-style: a generated table of snapshots and parameter sets ----

    fn generated_params() -> Vec<Params> {
        vec![
            Params::default(),
            Params {
                required_tag_keys: vec!["owner".to_string(), "cost-center".to_string()],
                supported_platforms: vec![
                    "notebook-al2-v3".to_string(),
                    "notebook-al2023-v1".to_string(),
                ],
            },
            Params {
                required_tag_keys: vec!["Owner".to_string()],
                supported_platforms: Vec::new(),
            },
        ]
    }

    fn generated_snapshots() -> Vec<Snapshot> {
        let mut out = Vec::new();
        let statuses = all_statuses();
        let on_off = [None, Some("Enabled"), Some("Disabled"), Some("disabled")];
        let subnets = [None, Some(""), Some("subnet-0abc")];
        let platforms = [
            None,
            Some("notebook-al2-v3"),
            Some("notebook-al2023-v1"),
            Some("notebook-al1-v1"),
        ];
        for status in &statuses {
            for dia in on_off {
                for subnet in subnets {
                    for root in on_off {
                        for platform in platforms {
                            out.push(snap(Detail::Notebook(Notebook {
                                status: status.clone(),
                                direct_internet_access: dia.map(str::to_string),
                                subnet_id: subnet.map(str::to_string),
                                root_access: root.map(str::to_string),
                                platform_identifier: platform.map(str::to_string),
                                ..notebook()
                            })));
                        }
                    }
                }
            }
        }

        let counts = [None, Some(-1), Some(0), Some(1), Some(2), Some(5)];
        let mut variant_sets: Vec<Vec<Variant>> = vec![Vec::new()];
        for c in counts {
            variant_sets.push(vec![variant("a", c)]);
            variant_sets.push(vec![serverless("s"), variant("a", c)]);
            for d in counts {
                variant_sets.push(vec![variant("a", c), variant("b", d)]);
            }
        }
        variant_sets.push(vec![serverless("s")]);
        variant_sets.push(vec![serverless("s"), serverless("t")]);
        for variants in variant_sets {
            out.push(snap(Detail::EndpointConfig(EndpointConfig { variants })));
        }

        for enable_network_isolation in [None, Some(false), Some(true)] {
            out.push(snap(Detail::Model(Model {
                enable_network_isolation,
            })));
        }

        let tag_sets: Vec<Vec<Tag>> = vec![
            Vec::new(),
            vec![Tag::new("aws:cloudformation:stack-name", "s")],
            vec![Tag::new("AWS:team", "x")],
            vec![Tag::new("owner", "")],
            vec![Tag::new("Owner", "me")],
            vec![Tag::new("owner", "me"), Tag::new("cost-center", "42")],
            vec![Tag::new("aws:owner", "me"), Tag::new("cost-center", "42")],
        ];
        for tags in &tag_sets {
            out.push(snap(Detail::AppImageConfig(AppImageConfig {
                tags: tags.clone(),
            })));
            for status in [
                "CREATED",
                "CREATE_FAILED",
                "DELETING",
                "DELETE_FAILED",
                "deleting",
            ] {
                out.push(snap(Detail::Image(Image {
                    status: status.to_string(),
                    tags: tags.clone(),
                })));
            }
        }
        out
    }

    #[test]
    fn property_failed_iff_remediation_is_the_controls_own() {
        let snapshots = generated_snapshots();
        assert!(
            snapshots.len() > 2000,
            "table too small: {}",
            snapshots.len()
        );
        let mut seen = std::collections::HashSet::new();
        for params in generated_params() {
            for snapshot in &snapshots {
                let evals = evaluate(snapshot, &params);
                assert!(!evals.is_empty());
                for e in &evals {
                    match e.status {
                        Status::Failed => {
                            assert_ne!(e.remediation, Remedy::None, "{e:?}");
                            assert_eq!(e.remediation, e.control.remediation(), "{e:?}");
                        }
                        Status::Passed | Status::NotApplicable => {
                            assert_eq!(e.remediation, Remedy::None, "{e:?}");
                        }
                    }
                    assert!(!e.reason.trim().is_empty(), "{e:?}");
                    assert_eq!(e.resource, snapshot.resource);
                    assert_eq!(e.control.resource_type(), detail_type(&snapshot.detail));
                    seen.insert((e.control, e.status));
                }
            }
        }
        // The table must reach every verdict each control can give, or the test proves little.
        for control in ControlId::ALL {
            assert!(
                seen.contains(&(control, Status::Passed)),
                "{control} never PASSED"
            );
            assert!(
                seen.contains(&(control, Status::Failed)),
                "{control} never FAILED"
            );
            if control != ControlId::SageMaker5 && control != ControlId::SageMaker6 {
                assert!(
                    seen.contains(&(control, Status::NotApplicable)),
                    "{control} never NOT_APPLICABLE"
                );
            }
        }
    }

    #[test]
    fn model_and_app_image_config_are_never_not_applicable() {
        for params in generated_params() {
            for snapshot in generated_snapshots() {
                for e in evaluate(&snapshot, &params) {
                    if matches!(e.control, ControlId::SageMaker5 | ControlId::SageMaker6) {
                        assert_ne!(e.status, Status::NotApplicable, "{e:?}");
                    }
                }
            }
        }
    }
}
