//! SageMaker.5: a model must have network isolation enabled.

use super::Verdict;
use crate::model::{ControlId, Model};

/// The verdict of `control` on `model`; `None` unless `control` is SageMaker.5.
pub(super) fn evaluate(control: ControlId, model: &Model) -> Option<Verdict> {
    (control == ControlId::SageMaker5).then(|| network_isolation(model))
}

/// SageMaker.5: `EnableNetworkIsolation` must be true; missing means the AWS default, false.
fn network_isolation(model: &Model) -> Verdict {
    match model.enable_network_isolation {
        Some(true) => Verdict::passed("EnableNetworkIsolation is true"),
        Some(false) => Verdict::failed("EnableNetworkIsolation is false"),
        None => Verdict::failed("EnableNetworkIsolation was not reported (AWS default is false)"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::controls::fixtures::snap;
    use crate::controls::{evaluate, evaluate_control, Params};
    use crate::model::{ControlId, Detail, Evaluation, Model, Remedy, Status};

    fn eval(enable_network_isolation: Option<bool>) -> Evaluation {
        let s = snap(Detail::Model(Model {
            enable_network_isolation,
        }));
        evaluate_control(ControlId::SageMaker5, &s, &Params::default()).unwrap()
    }

    #[test]
    fn isolation_true_passes_and_anything_else_fails_with_recreate() {
        for (isolation, status, remedy, reason) in [
            (
                Some(true),
                Status::Passed,
                Remedy::None,
                "EnableNetworkIsolation is true",
            ),
            (
                Some(false),
                Status::Failed,
                Remedy::Recreate,
                "EnableNetworkIsolation is false",
            ),
            (
                None,
                Status::Failed,
                Remedy::Recreate,
                "EnableNetworkIsolation was not reported (AWS default is false)",
            ),
        ] {
            let e = eval(isolation);
            assert_eq!(e.status, status, "{isolation:?}");
            assert_eq!(e.remediation, remedy, "{isolation:?}");
            assert_eq!(e.reason, reason, "{isolation:?}");
        }
    }

    #[test]
    fn only_sm5_judges_models() {
        let s = snap(Detail::Model(Model {
            enable_network_isolation: Some(true),
        }));
        let evals = evaluate(&s, &Params::default());
        assert_eq!(evals.len(), 1);
        assert_eq!(evals[0].control, ControlId::SageMaker5);
    }
}
