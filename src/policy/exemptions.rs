//! Exemptions in the configuration (`[[exemptions]]`): an ARN glob, controls, a reason and an
//! expiry date. Applied to a decision after [`super::decide`], with the time, like the
//! platform guard: the exempted controls are taken out of every fix, flag and approval, and
//! said in the notes. An expired entry no longer applies.

use super::Decision;
use crate::config::Config;
use crate::model::{ControlId, Millis};

/// The configured exemption in force at `now` for `control` of the resource `arn`, if any.
pub fn entry_for<'c>(
    config: &'c Config,
    arn: &str,
    control: ControlId,
    now: Millis,
) -> Option<&'c crate::config::Exemption> {
    config
        .exemptions
        .iter()
        .find(|e| e.active(now) && e.covers(arn, control))
}

/// Takes the controls that an active exemption covers out of `decision` (of which `failed`
/// are the failed controls); the exempted controls.
pub fn apply(
    decision: &mut Decision,
    failed: &[ControlId],
    config: &Config,
    now: Millis,
) -> Vec<ControlId> {
    let arn = decision.resource.arn.to_string();
    let mut exempted = Vec::new();
    for &control in failed {
        let Some(e) = entry_for(config, &arn, control, now) else {
            continue;
        };
        exempted.push(control);
        decision.notes.push(format!(
            "{control} exempt until {} (configured exemption `{}`): {}",
            e.expires, e.arn, e.reason
        ));
    }
    if exempted.is_empty() {
        return exempted;
    }
    let out = |c: &ControlId| !exempted.contains(c);
    decision.flag.retain(out);
    decision.approve.retain(out);
    decision.ignored.retain(out);
    if let Some(plan) = decision.fix.as_mut() {
        if exempted.contains(&ControlId::SageMaker3) {
            plan.disable_root_access = false;
        }
        if exempted.contains(&ControlId::SageMaker8) {
            plan.platform = None;
        }
        if !plan.disable_root_access && plan.platform.is_none() {
            decision.fix = None;
        }
    }
    if exempted.contains(&ControlId::SageMaker6) || exempted.contains(&ControlId::SageMaker7) {
        decision.add_tags.clear();
    }
    if exempted.contains(&ControlId::SageMaker4) {
        decision.replace = false;
    }
    exempted
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::config::Exemption;
    use crate::model::{NotebookPlan, ResourceRef, ResourceType};

    fn decision() -> Decision {
        Decision {
            resource: ResourceRef {
                account: "111122223333".into(),
                region: "us-east-1".into(),
                resource_type: ResourceType::NotebookInstance,
                name: "research-1".into(),
                arn: "arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/research-1".into(),
            },
            dry_run: false,
            exempt: false,
            fix: Some(NotebookPlan {
                disable_root_access: true,
                platform: Some("notebook-al2023-v1".into()),
            }),
            add_tags: Vec::new(),
            replace: false,
            flag: vec![ControlId::SageMaker1],
            ignored: Vec::new(),
            approve: vec![ControlId::SageMaker3],
            notes: Vec::new(),
            iac: None,
        }
    }

    /// 2027-03-31 as epoch milliseconds at midnight UTC.
    const MARCH_31_2027: Millis = 1_806_451_200_000;
    const DAY: Millis = 86_400_000;

    #[test]
    fn an_exemption_applies_to_its_controls_until_the_end_of_its_last_day() {
        let mut config = Config {
            exemptions: vec![Exemption {
                arn: "arn:aws:sagemaker:*:111122223333:notebook-instance/research-*".into(),
                controls: vec![ControlId::SageMaker3, ControlId::SageMaker1],
                reason: "the research team's pilot".into(),
                expires: "2027-03-31".into(),
            }],
            ..Config::default()
        };
        let failed = [
            ControlId::SageMaker1,
            ControlId::SageMaker3,
            ControlId::SageMaker8,
        ];
        let mut d = decision();
        let exempted = apply(&mut d, &failed, &config, MARCH_31_2027 + DAY - 1);
        assert_eq!(exempted, [ControlId::SageMaker1, ControlId::SageMaker3]);
        assert_eq!(
            d.fix,
            Some(NotebookPlan {
                disable_root_access: false,
                platform: Some("notebook-al2023-v1".into())
            })
        );
        assert!(d.flag.is_empty() && d.approve.is_empty());
        assert!(
            d.notes[1].contains("SageMaker.3 exempt until 2027-03-31"),
            "{:?}",
            d.notes
        );

        // The next day it no longer applies.
        let mut d = decision();
        assert!(apply(&mut d, &failed, &config, MARCH_31_2027 + DAY).is_empty());
        assert_eq!(d, decision());

        // Another resource is not covered.
        let mut d = decision();
        d.resource.arn = "arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/prod".into();
        assert!(apply(&mut d, &failed, &config, MARCH_31_2027).is_empty());

        // With no controls listed, all are exempt, and nothing is left to do.
        config.exemptions[0].controls.clear();
        let mut d = decision();
        apply(&mut d, &failed, &config, MARCH_31_2027);
        assert!(d.is_noop(), "{d:?}");
    }
}
