//! SageMaker.8: a platform fix never moves a notebook backwards. The notebook platforms in the
//! order Amazon released them; a move to an older one, or between platforms this table does not
//! know, is flagged with the reason instead of carried out.

use super::Decision;
use crate::model::ControlId;

/// The notebook instance platforms, oldest first.
pub const PLATFORMS: [&str; 5] = [
    "notebook-al1-v1",
    "notebook-al2-v1",
    "notebook-al2-v2",
    "notebook-al2-v3",
    "notebook-al2023-v1",
];

/// The position of `platform` in [`PLATFORMS`], if it is known.
pub fn generation(platform: &str) -> Option<usize> {
    PLATFORMS.iter().position(|p| *p == platform)
}

/// Why moving from `current` to `target` must not be done, if it must not.
pub fn refusal(current: Option<&str>, target: &str) -> Option<String> {
    let Some(current) = current else {
        return Some(
            "the notebook reports no platform identifier, so the move cannot be \
             checked to be an upgrade"
                .to_string(),
        );
    };
    match (generation(current), generation(target)) {
        (None, _) => Some(format!(
            "the notebook's platform `{current}` is not one this version knows, so it is left \
             as it is"
        )),
        (_, None) => Some(format!(
            "the target platform `{target}` is not one this version knows, so no notebook is \
             moved to it"
        )),
        (Some(now), Some(then)) if then < now => Some(format!(
            "moving from `{current}` to `{target}` would downgrade the operating system; \
             list `{current}` in controls.supported_platforms if it is acceptable"
        )),
        _ => None,
    }
}

/// Takes the platform change out of `decision`'s fix when it would not be an upgrade from
/// `current` (the notebook's `PlatformIdentifier`), and flags SageMaker.8 with the reason.
pub fn guard(decision: &mut Decision, current: Option<&str>) {
    let Some(plan) = decision.fix.as_mut() else {
        return;
    };
    let Some(why) = plan.platform.as_deref().and_then(|t| refusal(current, t)) else {
        return;
    };
    plan.platform = None;
    decision.approve.retain(|c| *c != ControlId::SageMaker8);
    if !plan.disable_root_access {
        decision.fix = None;
    }
    decision.flag.push(ControlId::SageMaker8);
    decision.flag.sort();
    decision
        .notes
        .push(format!("SageMaker.8 flagged instead of fixed: {why}"));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::model::{NotebookPlan, ResourceRef, ResourceType};

    fn decision(root: bool, platform: Option<&str>) -> Decision {
        let resource = ResourceRef {
            account: "111122223333".into(),
            region: "us-east-1".into(),
            resource_type: ResourceType::NotebookInstance,
            name: "nb".into(),
            arn: "arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/nb".into(),
        };
        let mut d = Decision::nothing(&resource, false);
        d.fix = Some(NotebookPlan {
            disable_root_access: root,
            platform: platform.map(str::to_string),
        });
        d
    }

    #[test]
    fn platforms_are_ordered_oldest_first() {
        let order: Vec<usize> = PLATFORMS.iter().filter_map(|p| generation(p)).collect();
        assert_eq!(order, [0, 1, 2, 3, 4]);
        assert!(generation("notebook-al2-v3") < generation("notebook-al2023-v1"));
        assert_eq!(generation("notebook-al2024-v1"), None);
    }

    #[test]
    fn an_upgrade_goes_ahead() {
        let mut d = decision(false, Some("notebook-al2023-v1"));
        guard(&mut d, Some("notebook-al2-v2"));
        assert_eq!(
            d.fix.unwrap().platform.as_deref(),
            Some("notebook-al2023-v1")
        );
        assert!(d.flag.is_empty() && d.notes.is_empty());
    }

    #[test]
    fn a_downgrade_is_flagged_and_the_rest_of_the_fix_kept() {
        let mut d = decision(true, Some("notebook-al2-v3"));
        guard(&mut d, Some("notebook-al2023-v1"));
        let plan = d.fix.clone().unwrap();
        assert!(plan.disable_root_access);
        assert_eq!(plan.platform, None);
        assert_eq!(d.flag, [ControlId::SageMaker8]);
        assert!(d.notes[0].contains("downgrade"), "{:?}", d.notes);

        let mut d = decision(false, Some("notebook-al2-v3"));
        guard(&mut d, Some("notebook-al2023-v1"));
        assert_eq!(d.fix, None, "nothing left to do in place");
        assert_eq!(d.flag, [ControlId::SageMaker8]);
    }

    #[test]
    fn unknown_or_missing_platforms_are_not_touched() {
        for (current, target) in [
            (Some("notebook-al2024-v1"), "notebook-al2023-v1"),
            (Some("notebook-al2-v1"), "notebook-al2099-v1"),
            (None, "notebook-al2023-v1"),
        ] {
            let mut d = decision(false, Some(target));
            guard(&mut d, current);
            assert_eq!(d.fix, None, "{current:?} -> {target}");
            assert_eq!(d.flag, [ControlId::SageMaker8]);
            assert_eq!(d.notes.len(), 1);
        }
    }

    #[test]
    fn a_fix_without_a_platform_change_is_left_alone() {
        let mut d = decision(true, None);
        guard(&mut d, None);
        assert!(d.fix.is_some() && d.flag.is_empty());
    }
}
