//! Failure memory: whether a remediation that failed (or was interrupted by a person) may be
//! started again, and what to remember after it failed. Pure: the reconciler reads and writes
//! the [`Failure`] records in the store and asks here.
//!
//! # Rules
//!
//! - A failed remediation is not started again for the same plan until the resource changed
//!   (its settings differ from those remembered) or its retry time has come. The retry delay
//!   starts at `remediation.retry_failed_after_secs` and doubles per consecutive failure up to
//!   `remediation.max_retry_failed_after_secs`.
//! - After `remediation.max_failed_fixes` consecutive failures of one plan, and at once for a
//!   permanent error (access denied, invalid request), the resource "needs a person": it is
//!   left alone until it or the plan changes.
//! - A notebook fix interrupted by a start we did not make keeps every disruptive fix of that
//!   notebook away for `remediation.quiet_period_secs`, whatever changes.
//! - A plan that differs from the remembered one is a new plan: it is tried at once, and its
//!   failures count from one.
//!
//! A stop or a start alone does not change a notebook's settings, so our own Stop and Start
//! (and the state-change events they cause) never make a failed fix due again.

use std::time::Duration;

use serde_json::json;

use crate::model::Detail;
use crate::store::{Failure, Hold, Millis};

/// The retry settings from `[remediation]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first: Duration,
    pub max: Duration,
    pub max_failures: u32,
    pub quiet: Duration,
}

/// How a remediation ended badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setback {
    /// It failed; `permanent` when retrying cannot cure it.
    Failed { permanent: bool },
    /// Someone started the notebook while our fix held it stopped.
    Interrupted,
}

/// Why a remediation is not started now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// When it may be tried again; `None` until the resource or the plan changes.
    pub until: Option<Millis>,
    /// For logs and metrics: `retry-later`, `needs-person` or `quiet-period`.
    pub reason: &'static str,
}

/// Whether the remembered failure `f` holds back a remediation of `plan` on a resource whose
/// settings are now `version`.
pub fn held(f: &Failure, plan: &str, version: &str, now: Millis) -> Option<Held> {
    let same = f.plan == plan && f.version == version;
    match f.hold {
        Hold::Quiet { until } if now < until => Some(Held {
            until: Some(until),
            reason: "quiet-period",
        }),
        Hold::Quiet { .. } => None,
        Hold::NeedsPerson if same => Some(Held {
            until: None,
            reason: "needs-person",
        }),
        Hold::Retry { at } if same && now < at => Some(Held {
            until: Some(at),
            reason: "retry-later",
        }),
        Hold::NeedsPerson | Hold::Retry { .. } => None,
    }
}

/// What to remember after an attempt of `plan` ended in `setback`: the number of consecutive
/// failures of this plan and what they hold back. `previous` is what was remembered before the
/// attempt.
pub fn after(
    previous: Option<&Failure>,
    plan: &str,
    setback: Setback,
    now: Millis,
    policy: &RetryPolicy,
) -> (u32, Hold) {
    let failures = match previous {
        Some(p) if p.plan == plan => p.failures.saturating_add(1),
        _ => 1,
    };
    let hold = match setback {
        Setback::Interrupted => Hold::Quiet {
            until: now.saturating_add(millis(policy.quiet)),
        },
        Setback::Failed { permanent: true } => Hold::NeedsPerson,
        Setback::Failed { .. } if failures >= policy.max_failures.max(1) => Hold::NeedsPerson,
        Setback::Failed { .. } => Hold::Retry {
            at: now.saturating_add(millis(retry_delay(policy, failures))),
        },
    };
    (failures, hold)
}

/// The delay before attempt `failures + 1`: `first`, doubling per failure, at most `max`.
pub fn retry_delay(policy: &RetryPolicy, failures: u32) -> Duration {
    policy
        .first
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(20)))
        .min(policy.max)
}

/// The resource's settings that only an update changes (not its status, not its times), as
/// canonical JSON. Notebooks: every setting the controls and the fix read; other kinds have no
/// updatable settings apart from tags, and their plans already depend on those.
pub fn settings_version(detail: &Detail) -> String {
    match detail {
        Detail::Notebook(n) => json!({
            "direct_internet_access": n.direct_internet_access,
            "subnet_id": n.subnet_id,
            "security_group_ids": n.security_group_ids,
            "root_access": n.root_access,
            "platform_identifier": n.platform_identifier,
            "instance_type": n.instance_type,
            "role_arn": n.role_arn,
            "kms_key_id": n.kms_key_id,
            "volume_size_gb": n.volume_size_gb,
        })
        .to_string(),
        _ => String::new(),
    }
}

fn millis(d: Duration) -> Millis {
    Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::model::{ControlId, ResourceRef, ResourceType};

    const HOUR: Millis = 3_600_000;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            first: Duration::from_secs(3600),
            max: Duration::from_secs(4 * 3600),
            max_failures: 3,
            quiet: Duration::from_secs(24 * 3600),
        }
    }

    fn failure(plan: &str, version: &str, failures: u32, hold: Hold) -> Failure {
        Failure {
            resource: ResourceRef {
                arn: "arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/nb".into(),
                account: "111122223333".into(),
                region: "us-east-1".into(),
                resource_type: ResourceType::NotebookInstance,
                name: "nb".into(),
            },
            kind: crate::store::RemediationKind::NotebookFix,
            controls: vec![ControlId::SageMaker3],
            plan: plan.into(),
            version: version.into(),
            failures,
            hold,
            reason: "denied".into(),
            remediation_id: 1,
            at: 0,
        }
    }

    #[test]
    fn a_failure_is_retried_later_with_a_growing_delay_then_needs_a_person() {
        let p = policy();
        let (n, hold) = after(None, "A", Setback::Failed { permanent: false }, 0, &p);
        assert_eq!((n, hold), (1, Hold::Retry { at: HOUR }));
        let first = failure("A", "v", n, hold);
        let (n, hold) = after(
            Some(&first),
            "A",
            Setback::Failed { permanent: false },
            10,
            &p,
        );
        assert_eq!((n, hold), (2, Hold::Retry { at: 10 + 2 * HOUR }));
        let second = failure("A", "v", n, hold);
        let (n, hold) = after(
            Some(&second),
            "A",
            Setback::Failed { permanent: false },
            0,
            &p,
        );
        assert_eq!((n, hold), (3, Hold::NeedsPerson), "max_failed_fixes = 3");
        assert_eq!(retry_delay(&p, 10), Duration::from_secs(4 * 3600), "capped");
    }

    #[test]
    fn a_permanent_error_needs_a_person_at_once() {
        let (n, hold) = after(None, "A", Setback::Failed { permanent: true }, 0, &policy());
        assert_eq!((n, hold), (1, Hold::NeedsPerson));
    }

    #[test]
    fn a_new_plan_counts_from_one() {
        let old = failure("A", "v", 2, Hold::Retry { at: HOUR });
        let (n, _) = after(
            Some(&old),
            "B",
            Setback::Failed { permanent: false },
            0,
            &policy(),
        );
        assert_eq!(n, 1);
    }

    #[test]
    fn an_interruption_keeps_quiet_for_the_quiet_period_whatever_changes() {
        let (_, hold) = after(None, "A", Setback::Interrupted, 5, &policy());
        assert_eq!(
            hold,
            Hold::Quiet {
                until: 5 + 24 * HOUR
            }
        );
        let f = failure("A", "v", 1, hold);
        for (plan, version) in [("A", "v"), ("B", "v"), ("A", "w")] {
            assert_eq!(
                held(&f, plan, version, 6).map(|h| h.reason),
                Some("quiet-period"),
                "{plan} {version}"
            );
        }
        assert_eq!(held(&f, "A", "v", 5 + 24 * HOUR), None, "over");
    }

    #[test]
    fn a_retry_holds_the_same_plan_on_an_unchanged_resource_until_it_is_due() {
        let f = failure("A", "v", 1, Hold::Retry { at: HOUR });
        assert_eq!(
            held(&f, "A", "v", HOUR - 1),
            Some(Held {
                until: Some(HOUR),
                reason: "retry-later"
            })
        );
        assert_eq!(held(&f, "A", "v", HOUR), None, "due");
        assert_eq!(held(&f, "B", "v", 0), None, "another plan");
        assert_eq!(held(&f, "A", "w", 0), None, "the resource changed");
    }

    #[test]
    fn needing_a_person_holds_until_the_resource_or_the_plan_changes() {
        let f = failure("A", "v", 3, Hold::NeedsPerson);
        assert_eq!(
            held(&f, "A", "v", Millis::MAX).map(|h| (h.until, h.reason)),
            Some((None, "needs-person"))
        );
        assert_eq!(held(&f, "A", "w", 0), None);
        assert_eq!(held(&f, "B", "v", 0), None);
    }

    #[test]
    fn a_stop_or_start_does_not_change_the_settings_version() {
        use crate::model::{Notebook, NotebookStatus};
        let nb = |status: &str, root: &str| {
            Detail::Notebook(Notebook {
                status: NotebookStatus::parse(status),
                direct_internet_access: Some("Disabled".into()),
                subnet_id: Some("subnet-1".into()),
                security_group_ids: vec!["sg-1".into()],
                root_access: Some(root.into()),
                platform_identifier: Some("notebook-al2-v3".into()),
                instance_type: Some("ml.t3.medium".into()),
                role_arn: Some("arn:aws:iam::111122223333:role/r".into()),
                kms_key_id: None,
                volume_size_gb: Some(5),
            })
        };
        let running = settings_version(&nb("InService", "Enabled"));
        assert_eq!(running, settings_version(&nb("Stopped", "Enabled")));
        assert_ne!(running, settings_version(&nb("Stopped", "Disabled")));
    }
}
