//! SageMaker.1, .2, .3 and .8: a notebook instance's network, root access and platform.
//!
//! Security Hub judges configuration, so the notebook's status does not change a verdict, with
//! one exception: a notebook that is `Deleting` is NOT_APPLICABLE (it is going away).

use super::{Params, Verdict};
use crate::model::{ControlId, Notebook, NotebookStatus};

/// The verdict of `control` on `notebook`; `None` if `control` does not judge notebooks.
pub(super) fn evaluate(
    control: ControlId,
    notebook: &Notebook,
    params: &Params,
) -> Option<Verdict> {
    let check: fn(&Notebook, &Params) -> Verdict = match control {
        ControlId::SageMaker1 => direct_internet_access,
        ControlId::SageMaker2 => inside_vpc,
        ControlId::SageMaker3 => root_access,
        ControlId::SageMaker8 => platform,
        ControlId::SageMaker4
        | ControlId::SageMaker5
        | ControlId::SageMaker6
        | ControlId::SageMaker7 => return None,
    };
    if notebook.status == NotebookStatus::Deleting {
        return Some(Verdict::not_applicable(
            "notebook instance is Deleting: it is going away",
        ));
    }
    Some(check(notebook, params))
}

/// A create-time `Enabled`/`Disabled` switch whose AWS default is `Enabled`: only an explicit
/// `Disabled` passes.
fn must_be_disabled(field: &str, value: Option<&str>) -> Verdict {
    match value {
        Some("Disabled") => Verdict::passed(format!("{field} is Disabled")),
        Some("Enabled") => Verdict::failed(format!("{field} is Enabled")),
        None => Verdict::failed(format!("{field} was not reported (AWS default is Enabled)")),
        Some(other) => Verdict::failed(format!(
            "{field} has unrecognized value {other:?} (only Disabled passes)"
        )),
    }
}

/// SageMaker.1: `DirectInternetAccess` must be `Disabled`.
fn direct_internet_access(notebook: &Notebook, _: &Params) -> Verdict {
    must_be_disabled(
        "DirectInternetAccess",
        notebook.direct_internet_access.as_deref(),
    )
}

/// SageMaker.2: the notebook must have a `SubnetId` (launched in a customer VPC).
fn inside_vpc(notebook: &Notebook, _: &Params) -> Verdict {
    match notebook.subnet_id.as_deref() {
        None => Verdict::failed("SubnetId was not reported: not launched in a customer VPC"),
        Some(s) if s.trim().is_empty() => {
            Verdict::failed("SubnetId is empty: not launched in a customer VPC")
        }
        Some(s) => Verdict::passed(format!("SubnetId is {s}")),
    }
}

/// SageMaker.3: `RootAccess` must be `Disabled`.
fn root_access(notebook: &Notebook, _: &Params) -> Verdict {
    must_be_disabled("RootAccess", notebook.root_access.as_deref())
}

/// SageMaker.8: `PlatformIdentifier` must be in the supported list (exact match).
fn platform(notebook: &Notebook, params: &Params) -> Verdict {
    let supported = if params.supported_platforms.is_empty() {
        "none configured".to_string()
    } else {
        params.supported_platforms.join(", ")
    };
    match notebook.platform_identifier.as_deref() {
        None => Verdict::failed(format!(
            "PlatformIdentifier was not reported: cannot verify it is in the supported list ({supported})"
        )),
        Some(p) if params.supported_platforms.iter().any(|s| s == p) => {
            Verdict::passed(format!("PlatformIdentifier {p} is supported"))
        }
        Some(p) => Verdict::failed(format!(
            "PlatformIdentifier {p} is not in the supported list ({supported})"
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::controls::fixtures::{all_statuses, notebook, snap};
    use crate::controls::{evaluate, evaluate_control, Params};
    use crate::model::{ControlId, Detail, Evaluation, Notebook, NotebookStatus, Remedy, Status};

    const NOTEBOOK_CONTROLS: [ControlId; 4] = [
        ControlId::SageMaker1,
        ControlId::SageMaker2,
        ControlId::SageMaker3,
        ControlId::SageMaker8,
    ];

    fn eval_with(control: ControlId, nb: Notebook, params: &Params) -> Evaluation {
        evaluate_control(control, &snap(Detail::Notebook(nb)), params).unwrap()
    }

    fn eval(control: ControlId, nb: Notebook) -> Evaluation {
        eval_with(control, nb, &Params::default())
    }

    /// A notebook that fails all four controls under the default params.
    fn bad_notebook() -> Notebook {
        Notebook {
            direct_internet_access: Some("Enabled".to_string()),
            subnet_id: None,
            root_access: Some("Enabled".to_string()),
            platform_identifier: Some("notebook-al2-v1".to_string()),
            ..notebook()
        }
    }

    #[test]
    fn compliant_notebook_passes_all_four() {
        let evals = evaluate(&snap(Detail::Notebook(notebook())), &Params::default());
        assert_eq!(evals.len(), 4);
        for e in evals {
            assert_eq!(e.status, Status::Passed, "{e:?}");
            assert_eq!(e.remediation, Remedy::None);
        }
    }

    #[test]
    fn noncompliant_notebook_fails_all_four_with_their_remediation() {
        let evals = evaluate(&snap(Detail::Notebook(bad_notebook())), &Params::default());
        let got: Vec<(ControlId, Status, Remedy)> = evals
            .iter()
            .map(|e| (e.control, e.status, e.remediation))
            .collect();
        assert_eq!(
            got,
            vec![
                (ControlId::SageMaker1, Status::Failed, Remedy::Recreate),
                (ControlId::SageMaker2, Status::Failed, Remedy::Recreate),
                (ControlId::SageMaker3, Status::Failed, Remedy::Fix),
                (ControlId::SageMaker8, Status::Failed, Remedy::Fix),
            ]
        );
    }

    // ---- SageMaker.1 ----

    fn with_dia(v: Option<&str>) -> Notebook {
        Notebook {
            direct_internet_access: v.map(str::to_string),
            ..notebook()
        }
    }

    #[test]
    fn sm1_disabled_passes() {
        let e = eval(ControlId::SageMaker1, with_dia(Some("Disabled")));
        assert_eq!(e.status, Status::Passed);
        assert_eq!(e.reason, "DirectInternetAccess is Disabled");
    }

    #[test]
    fn sm1_enabled_fails() {
        let e = eval(ControlId::SageMaker1, with_dia(Some("Enabled")));
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.remediation, Remedy::Recreate);
        assert_eq!(e.reason, "DirectInternetAccess is Enabled");
    }

    #[test]
    fn sm1_missing_fails_as_default_enabled() {
        let e = eval(ControlId::SageMaker1, with_dia(None));
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.remediation, Remedy::Recreate);
        assert!(e.reason.contains("not reported"), "{}", e.reason);
        assert!(e.reason.contains("default is Enabled"), "{}", e.reason);
    }

    #[test]
    fn sm1_unrecognized_values_fail() {
        for v in ["disabled", "DISABLED", "", " Disabled", "Off", "false"] {
            let e = eval(ControlId::SageMaker1, with_dia(Some(v)));
            assert_eq!(e.status, Status::Failed, "{v:?}");
            assert!(e.reason.contains("unrecognized"), "{}", e.reason);
            assert!(e.reason.contains(&format!("{v:?}")), "{}", e.reason);
        }
    }

    // ---- SageMaker.2 ----

    fn with_subnet(v: Option<&str>) -> Notebook {
        Notebook {
            subnet_id: v.map(str::to_string),
            ..notebook()
        }
    }

    #[test]
    fn sm2_subnet_passes_and_names_it() {
        let e = eval(ControlId::SageMaker2, with_subnet(Some("subnet-0123")));
        assert_eq!(e.status, Status::Passed);
        assert_eq!(e.remediation, Remedy::None);
        assert_eq!(e.reason, "SubnetId is subnet-0123");
    }

    #[test]
    fn sm2_missing_subnet_fails() {
        let e = eval(ControlId::SageMaker2, with_subnet(None));
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.remediation, Remedy::Recreate);
        assert!(e.reason.contains("not reported"), "{}", e.reason);
    }

    #[test]
    fn sm2_empty_or_blank_subnet_fails() {
        for v in ["", " ", "\t"] {
            let e = eval(ControlId::SageMaker2, with_subnet(Some(v)));
            assert_eq!(e.status, Status::Failed, "{v:?}");
            assert_eq!(e.remediation, Remedy::Recreate);
            assert!(e.reason.contains("SubnetId is empty"), "{}", e.reason);
        }
    }

    #[test]
    fn sm2_ignores_security_groups() {
        let nb = Notebook {
            security_group_ids: Vec::new(),
            ..notebook()
        };
        assert_eq!(eval(ControlId::SageMaker2, nb).status, Status::Passed);
    }

    // ---- SageMaker.3 ----

    fn with_root(v: Option<&str>) -> Notebook {
        Notebook {
            root_access: v.map(str::to_string),
            ..notebook()
        }
    }

    #[test]
    fn sm3_disabled_passes() {
        let e = eval(ControlId::SageMaker3, with_root(Some("Disabled")));
        assert_eq!(e.status, Status::Passed);
        assert_eq!(e.remediation, Remedy::None);
        assert_eq!(e.reason, "RootAccess is Disabled");
    }

    #[test]
    fn sm3_enabled_fails_with_fix() {
        let e = eval(ControlId::SageMaker3, with_root(Some("Enabled")));
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.remediation, Remedy::Fix);
        assert_eq!(e.reason, "RootAccess is Enabled");
    }

    #[test]
    fn sm3_missing_fails_as_default_enabled() {
        let e = eval(ControlId::SageMaker3, with_root(None));
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.remediation, Remedy::Fix);
        assert!(
            e.reason.contains("RootAccess was not reported"),
            "{}",
            e.reason
        );
    }

    #[test]
    fn sm3_unrecognized_value_fails() {
        let e = eval(ControlId::SageMaker3, with_root(Some("Restricted")));
        assert_eq!(e.status, Status::Failed);
        assert!(e.reason.contains("\"Restricted\""), "{}", e.reason);
    }

    #[test]
    fn sm1_and_sm3_are_independent() {
        let nb = Notebook {
            direct_internet_access: Some("Enabled".to_string()),
            root_access: Some("Disabled".to_string()),
            ..notebook()
        };
        assert_eq!(
            eval(ControlId::SageMaker1, nb.clone()).status,
            Status::Failed
        );
        assert_eq!(eval(ControlId::SageMaker3, nb).status, Status::Passed);
    }

    // ---- SageMaker.8 ----

    fn with_platform(v: Option<&str>) -> Notebook {
        Notebook {
            platform_identifier: v.map(str::to_string),
            ..notebook()
        }
    }

    #[test]
    fn sm8_supported_platform_passes() {
        let e = eval(
            ControlId::SageMaker8,
            with_platform(Some("notebook-al2023-v1")),
        );
        assert_eq!(e.status, Status::Passed);
        assert_eq!(e.remediation, Remedy::None);
        assert_eq!(
            e.reason,
            "PlatformIdentifier notebook-al2023-v1 is supported"
        );
    }

    #[test]
    fn sm8_unsupported_platform_fails_and_names_both() {
        let e = eval(
            ControlId::SageMaker8,
            with_platform(Some("notebook-al2-v1")),
        );
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.remediation, Remedy::Fix);
        assert_eq!(
            e.reason,
            "PlatformIdentifier notebook-al2-v1 is not in the supported list (notebook-al2023-v1)"
        );
    }

    #[test]
    fn sm8_amazon_linux_2_fails_under_security_hub_default() {
        let e = eval(
            ControlId::SageMaker8,
            with_platform(Some("notebook-al2-v3")),
        );
        assert_eq!(e.status, Status::Failed);
    }

    #[test]
    fn sm8_match_is_exact_and_case_sensitive() {
        for v in [
            "Notebook-AL2023-V1",
            "notebook-al2023-v1 ",
            " notebook-al2023-v1",
            "notebook-al2023",
            "",
        ] {
            let e = eval(ControlId::SageMaker8, with_platform(Some(v)));
            assert_eq!(e.status, Status::Failed, "{v:?}");
        }
    }

    #[test]
    fn sm8_missing_fails_cannot_verify() {
        let e = eval(ControlId::SageMaker8, with_platform(None));
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.remediation, Remedy::Fix);
        assert!(e.reason.contains("not reported"), "{}", e.reason);
        assert!(e.reason.contains("cannot verify"), "{}", e.reason);
    }

    #[test]
    fn sm8_uses_configured_list() {
        let params = Params {
            supported_platforms: vec![
                "notebook-al2-v3".to_string(),
                "notebook-al2023-v1".to_string(),
            ],
            ..Params::default()
        };
        let e = eval_with(
            ControlId::SageMaker8,
            with_platform(Some("notebook-al2023-v1")),
            &params,
        );
        assert_eq!(e.status, Status::Passed);
        let e = eval_with(
            ControlId::SageMaker8,
            with_platform(Some("notebook-al1-v1")),
            &params,
        );
        assert_eq!(e.status, Status::Failed);
        assert_eq!(
            e.reason,
            "PlatformIdentifier notebook-al1-v1 is not in the supported list (notebook-al2-v3, notebook-al2023-v1)"
        );
    }

    #[test]
    fn sm8_empty_list_fails_everything() {
        let params = Params {
            supported_platforms: Vec::new(),
            ..Params::default()
        };
        let e = eval_with(
            ControlId::SageMaker8,
            with_platform(Some("notebook-al2-v3")),
            &params,
        );
        assert_eq!(e.status, Status::Failed);
        assert!(e.reason.contains("none configured"), "{}", e.reason);
    }

    // ---- status ----

    #[test]
    fn status_does_not_change_verdict_except_deleting() {
        let params = Params::default();
        for nb in [
            notebook(),
            bad_notebook(),
            with_dia(None),
            with_platform(None),
        ] {
            let baseline = evaluate(&snap(Detail::Notebook(nb.clone())), &params);
            for status in all_statuses() {
                if status == NotebookStatus::Deleting {
                    continue;
                }
                let got = evaluate(
                    &snap(Detail::Notebook(Notebook {
                        status: status.clone(),
                        ..nb.clone()
                    })),
                    &params,
                );
                assert_eq!(got, baseline, "status {status}");
            }
        }
    }

    #[test]
    fn unknown_status_is_judged_on_configuration() {
        let nb = Notebook {
            status: NotebookStatus::Unknown("Rebooting".to_string()),
            ..bad_notebook()
        };
        for c in NOTEBOOK_CONTROLS {
            assert_eq!(eval(c, nb.clone()).status, Status::Failed, "{c}");
        }
        let nb = Notebook {
            status: NotebookStatus::Unknown("Rebooting".to_string()),
            ..notebook()
        };
        for c in NOTEBOOK_CONTROLS {
            assert_eq!(eval(c, nb.clone()).status, Status::Passed, "{c}");
        }
    }

    #[test]
    fn lowercase_deleting_is_an_unknown_status_not_deleting() {
        assert_eq!(
            NotebookStatus::parse("deleting"),
            NotebookStatus::Unknown("deleting".to_string())
        );
        let nb = Notebook {
            status: NotebookStatus::parse("deleting"),
            ..bad_notebook()
        };
        assert_eq!(eval(ControlId::SageMaker3, nb).status, Status::Failed);
    }

    #[test]
    fn deleting_is_not_applicable_for_all_four() {
        for nb in [notebook(), bad_notebook(), with_dia(None)] {
            let nb = Notebook {
                status: NotebookStatus::Deleting,
                ..nb
            };
            let evals = evaluate(&snap(Detail::Notebook(nb)), &Params::default());
            assert_eq!(evals.len(), 4);
            for e in evals {
                assert_eq!(e.status, Status::NotApplicable, "{e:?}");
                assert_eq!(e.remediation, Remedy::None);
                assert!(e.reason.contains("Deleting"), "{}", e.reason);
            }
        }
    }
}
