//! SageMaker.4: every instance-based production variant of an endpoint config must have an
//! `InitialInstanceCount` greater than 1. Serverless variants are out of scope.

use super::Verdict;
use crate::model::{ControlId, EndpointConfig, Variant};

/// The verdict of `control` on `config`; `None` unless `control` is SageMaker.4.
pub(super) fn evaluate(control: ControlId, config: &EndpointConfig) -> Option<Verdict> {
    (control == ControlId::SageMaker4).then(|| instance_count(config))
}

/// Why one variant fails, or `None` when its count is > 1.
fn variant_problem(variant: &Variant) -> Option<String> {
    match variant.initial_instance_count {
        Some(n) if n > 1 => None,
        Some(n) => Some(format!(
            "variant {:?} has InitialInstanceCount {n}",
            variant.name
        )),
        None => Some(format!(
            "variant {:?} has no InitialInstanceCount",
            variant.name
        )),
    }
}

fn instance_count(config: &EndpointConfig) -> Verdict {
    let instance_based: Vec<&Variant> = config.variants.iter().filter(|v| !v.serverless).collect();
    if instance_based.is_empty() {
        return if config.variants.is_empty() {
            Verdict::not_applicable("no production variants")
        } else {
            Verdict::not_applicable(format!(
                "only serverless production variants ({})",
                config.variants.len()
            ))
        };
    }
    let problems: Vec<String> = instance_based
        .iter()
        .filter_map(|v| variant_problem(v))
        .collect();
    if problems.is_empty() {
        let counts: Vec<String> = instance_based
            .iter()
            .map(|v| {
                format!(
                    "{:?}={}",
                    v.name,
                    v.initial_instance_count.unwrap_or_default()
                )
            })
            .collect();
        Verdict::passed(format!(
            "every instance-based variant has InitialInstanceCount > 1 ({})",
            counts.join(", ")
        ))
    } else {
        Verdict::failed(problems.join("; "))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::controls::fixtures::{serverless, snap, variant};
    use crate::controls::{evaluate, evaluate_control, Params};
    use crate::model::{ControlId, Detail, EndpointConfig, Evaluation, Remedy, Status, Variant};

    fn eval(variants: Vec<Variant>) -> Evaluation {
        let s = snap(Detail::EndpointConfig(EndpointConfig { variants }));
        evaluate_control(ControlId::SageMaker4, &s, &Params::default()).unwrap()
    }

    #[test]
    fn count_two_passes() {
        let e = eval(vec![variant("AllTraffic", Some(2))]);
        assert_eq!(e.status, Status::Passed);
        assert_eq!(e.remediation, Remedy::None);
        assert!(e.reason.contains("\"AllTraffic\"=2"), "{}", e.reason);
    }

    #[test]
    fn count_exactly_one_fails_with_replace() {
        let e = eval(vec![variant("AllTraffic", Some(1))]);
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.remediation, Remedy::Replace);
        assert_eq!(
            e.reason,
            "variant \"AllTraffic\" has InitialInstanceCount 1"
        );
    }

    #[test]
    fn count_zero_or_negative_fails() {
        for n in [0, -1, i32::MIN] {
            let e = eval(vec![variant("v", Some(n))]);
            assert_eq!(e.status, Status::Failed, "{n}");
            assert_eq!(
                e.reason,
                format!("variant \"v\" has InitialInstanceCount {n}")
            );
        }
    }

    #[test]
    fn large_count_passes() {
        assert_eq!(
            eval(vec![variant("v", Some(i32::MAX))]).status,
            Status::Passed
        );
    }

    #[test]
    fn count_missing_fails() {
        let e = eval(vec![variant("AllTraffic", None)]);
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.remediation, Remedy::Replace);
        assert_eq!(
            e.reason,
            "variant \"AllTraffic\" has no InitialInstanceCount"
        );
    }

    #[test]
    fn no_variants_is_not_applicable() {
        let e = eval(Vec::new());
        assert_eq!(e.status, Status::NotApplicable);
        assert_eq!(e.remediation, Remedy::None);
        assert_eq!(e.reason, "no production variants");
    }

    #[test]
    fn only_serverless_is_not_applicable() {
        let e = eval(vec![serverless("s1"), serverless("s2")]);
        assert_eq!(e.status, Status::NotApplicable);
        assert_eq!(e.remediation, Remedy::None);
        assert!(e.reason.contains("serverless"), "{}", e.reason);
    }

    #[test]
    fn serverless_variant_with_low_count_is_ignored() {
        let odd = Variant {
            initial_instance_count: Some(1),
            ..serverless("s")
        };
        assert_eq!(eval(vec![odd.clone()]).status, Status::NotApplicable);
        assert_eq!(
            eval(vec![odd, variant("a", Some(3))]).status,
            Status::Passed
        );
    }

    #[test]
    fn mixed_serverless_and_good_instance_variant_passes() {
        let e = eval(vec![serverless("s"), variant("a", Some(2))]);
        assert_eq!(e.status, Status::Passed);
        assert!(!e.reason.contains("\"s\""), "{}", e.reason);
    }

    #[test]
    fn mixed_serverless_and_bad_instance_variant_fails_naming_only_it() {
        let e = eval(vec![serverless("s"), variant("a", Some(1))]);
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.reason, "variant \"a\" has InitialInstanceCount 1");
    }

    #[test]
    fn instance_variant_without_instance_type_still_counts() {
        let v = Variant {
            instance_type: None,
            ..variant("a", Some(1))
        };
        assert_eq!(eval(vec![v]).status, Status::Failed);
    }

    #[test]
    fn one_bad_variant_among_good_fails_and_lists_only_bad() {
        let e = eval(vec![
            variant("good", Some(2)),
            variant("bad", Some(1)),
            variant("also-good", Some(4)),
        ]);
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.reason, "variant \"bad\" has InitialInstanceCount 1");
    }

    #[test]
    fn all_failing_variants_are_listed_in_order() {
        let e = eval(vec![
            variant("first", Some(1)),
            variant("ok", Some(2)),
            variant("second", None),
        ]);
        assert_eq!(e.status, Status::Failed);
        assert_eq!(
            e.reason,
            "variant \"first\" has InitialInstanceCount 1; variant \"second\" has no InitialInstanceCount"
        );
    }

    #[test]
    fn all_good_variants_pass() {
        let e = eval(vec![variant("a", Some(2)), variant("b", Some(3))]);
        assert_eq!(e.status, Status::Passed);
        assert!(e.reason.contains("\"a\"=2, \"b\"=3"), "{}", e.reason);
    }

    #[test]
    fn only_sm4_judges_endpoint_configs() {
        let s = snap(Detail::EndpointConfig(EndpointConfig {
            variants: vec![variant("a", Some(1))],
        }));
        let evals = evaluate(&s, &Params::default());
        assert_eq!(evals.len(), 1);
        assert_eq!(evals[0].control, ControlId::SageMaker4);
    }
}
