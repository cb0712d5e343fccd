//! Policy: what to do about one resource's failed controls, as a pure function of its
//! evaluations, its current tags and the configuration. No I/O.
//!
//! [`decide`] applies, in this order:
//!
//! 1. **Exemption**: a tag whose key is exactly `remediation.exemption_tag_key` (any value)
//!    makes the resource exempt; nothing else is decided.
//! 2. **Per-control action** (`actions`, [`Config::action`]) for every FAILED control:
//!    - `ignore`: listed in [`Decision::ignored`];
//!    - `flag`: listed in [`Decision::flag`];
//!    - `fix`: SageMaker.3 and .8 go into one [`NotebookPlan`] (one stop/update/start cycle
//!      applies both), SageMaker.6/.7 into [`Decision::add_tags`], SageMaker.4 sets
//!      [`Decision::replace`] (the blue/green endpoint config replacement). A fix that is impossible
//!      (a required tag key without a configured value, no tag values at all, or a control that
//!      cannot be fixed in place on a hand-built config) flags the control instead, with the
//!      reason in [`Decision::notes`].
//!    - `approve`: as `fix`, and the control is listed in [`Decision::approve`]; so is a `fix`
//!      that an approval rule (`approvals.rules`) matches.
//! 3. **Dry run**: unless [`Config::enforces`] the resource's account (`mode = "enforce"` and the
//!    account listed with `enforce = true`), the decision is a plan to record, not to carry out.
//!
//! # Guarantees
//!
//! - Tags that exist are never overwritten: [`Decision::add_tags`] only holds keys the resource
//!   does not carry.
//! - Passed and not-applicable evaluations never lead to anything: a compliant resource's
//!   decision [`is_noop`](Decision::is_noop).
//! - Deterministic: controls are handled in control order, each at most once.

pub mod exemptions;
pub mod iac;
pub mod platform;
pub mod retry;
mod tags;
pub mod windows;

use serde::Serialize;

use crate::config::{fix_unsupported, Action, Config};
use crate::model::{ControlId, Evaluation, NotebookPlan, ResourceRef, Status, Tag};

/// What to do about one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The resource decided about.
    pub resource: ResourceRef,
    /// Audit mode, or the account has not opted in: plan and record, touch nothing.
    pub dry_run: bool,
    /// The exemption tag is present: nothing else is set.
    pub exempt: bool,
    /// The in-place notebook fix for SageMaker.3 and/or .8 with action `fix` (the platform
    /// target is `controls.platform_target`).
    pub fix: Option<NotebookPlan>,
    /// Tags to add for SageMaker.6/.7 with action `fix`; never a key the resource already has.
    pub add_tags: Vec<Tag>,
    /// SageMaker.4 with action `fix` or `approve`: replace the endpoint config (a copy with at
    /// least two instances per instance-based variant) behind every endpoint that uses it.
    pub replace: bool,
    /// Failed controls to flag: action `flag`, or a fix that is impossible (reason in `notes`).
    pub flag: Vec<ControlId>,
    /// Failed controls whose action is `ignore`.
    pub ignored: Vec<ControlId>,
    /// Controls in `fix` or `add_tags` whose fix waits for a person's approval (action
    /// `approve`, or an approval rule matched).
    pub approve: Vec<ControlId>,
    /// Human reasons, e.g. why a control is flagged instead of fixed.
    pub notes: Vec<String>,
    /// Who owns the resource's configuration when it is IaC-managed: its failed controls take
    /// `iac.actions` (default `flag`), and an in-place fix states the drift.
    pub iac: Option<iac::Owner>,
}

impl Decision {
    /// A decision that does nothing: no fix, no tags, no flags, no notes.
    fn nothing(resource: &ResourceRef, dry_run: bool) -> Decision {
        Decision {
            resource: resource.clone(),
            dry_run,
            exempt: false,
            fix: None,
            add_tags: Vec::new(),
            replace: false,
            flag: Vec::new(),
            ignored: Vec::new(),
            approve: Vec::new(),
            notes: Vec::new(),
            iac: None,
        }
    }

    /// Nothing to fix, tag or flag (exempt, compliant, or every failure ignored).
    pub fn is_noop(&self) -> bool {
        self.fix.is_none() && self.add_tags.is_empty() && self.flag.is_empty() && !self.replace
    }

    /// The value of the flag tag (`remediation.flag_tag_key`) for this decision: the flagged
    /// controls separated by spaces, e.g. `SageMaker.1 SageMaker.2`. `None` when nothing is
    /// flagged.
    pub fn flag_tag_value(&self) -> Option<String> {
        (!self.flag.is_empty()).then(|| {
            self.flag
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
    }
}

/// Decides what to do about `resource`.
///
/// `evaluations`: this resource's evaluations (any status; only FAILED ones matter).
/// `tags`: the resource's current tags (for the exemption and the SageMaker.6/.7 fix).
pub fn decide(
    resource: &ResourceRef,
    evaluations: &[Evaluation],
    tags: &[Tag],
    config: &Config,
) -> Decision {
    let dry_run = !config.enforces(&resource.account);
    let mut decision = Decision::nothing(resource, dry_run);

    let exemption_key = config.remediation.exemption_tag_key.as_str();
    if tags.iter().any(|tag| tag.key == exemption_key) {
        decision.exempt = true;
        return decision;
    }

    let failed: Vec<(ControlId, &str)> = ControlId::ALL
        .into_iter()
        .filter_map(|control| {
            evaluations
                .iter()
                .find(|e| e.control == control && e.status == Status::Failed)
                .map(|e| (control, e.reason.as_str()))
        })
        .collect();

    decision.iac = iac::owner(tags, config);
    let mut plan = NotebookPlan {
        disable_root_access: false,
        platform: None,
    };
    for (control, reason) in failed {
        match config.action_on(control, decision.iac.is_some()) {
            Action::Ignore => decision.ignored.push(control),
            Action::Flag => {
                decision.flag.push(control);
                if let Some(owner) = &decision.iac {
                    decision.notes.push(owner.flag_note(control, config));
                }
            }
            Action::Fix | Action::Approve => match control {
                ControlId::SageMaker3 => {
                    plan.disable_root_access = true;
                    approval(&mut decision, control, tags, config);
                }
                ControlId::SageMaker8 => {
                    plan.platform = Some(config.controls.platform_target.clone());
                    approval(&mut decision, control, tags, config);
                }
                ControlId::SageMaker6 | ControlId::SageMaker7 => {
                    match tags::to_add(tags, &decision.add_tags, config) {
                        Ok(add) => {
                            if add.is_empty() && decision.add_tags.is_empty() {
                                decision.notes.push(format!(
                                    "{control} failed ({reason}) but the current tags already \
                                     satisfy it: nothing to add"
                                ));
                            }
                            if !add.is_empty() {
                                approval(&mut decision, control, tags, config);
                            }
                            decision.add_tags.extend(add);
                        }
                        Err(why) => {
                            decision.flag.push(control);
                            decision
                                .notes
                                .push(format!("{control} flagged instead of fixed: {why}"));
                        }
                    }
                }
                ControlId::SageMaker4 => {
                    decision.replace = true;
                    approval(&mut decision, control, tags, config);
                }
                ControlId::SageMaker1 | ControlId::SageMaker2 | ControlId::SageMaker5 => {
                    decision.flag.push(control);
                    let why = fix_unsupported(control).unwrap_or("no in-place fix exists");
                    decision.notes.push(format!(
                        "{control} flagged instead of fixed: it cannot be fixed in place ({why})"
                    ));
                }
            },
        }
    }
    if plan.disable_root_access || plan.platform.is_some() {
        decision.fix = Some(plan);
    }
    decision
}

/// Notes that the fix of `control` waits for approval, when the configuration says so.
fn approval(decision: &mut Decision, control: ControlId, tags: &[Tag], config: &Config) {
    if config.needs_approval(&decision.resource.account, control, tags) {
        decision.approve.push(control);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::config::{AccountConfig, Mode};
    use crate::model::{Remedy, ResourceType};

    const ACCOUNT: &str = "111122223333";
    const OTHER: &str = "444455556666";

    fn resource(resource_type: ResourceType, account: &str) -> ResourceRef {
        ResourceRef {
            account: account.to_string(),
            region: "eu-west-1".to_string(),
            resource_type,
            name: "Thing".to_string(),
            arn: format!("arn:aws:sagemaker:eu-west-1:{account}:thing/thing").into(),
        }
    }

    fn notebook() -> ResourceRef {
        resource(ResourceType::NotebookInstance, ACCOUNT)
    }

    fn image() -> ResourceRef {
        resource(ResourceType::Image, ACCOUNT)
    }

    fn eval(resource: &ResourceRef, control: ControlId, status: Status) -> Evaluation {
        Evaluation {
            control,
            resource: resource.clone(),
            status,
            remediation: if status == Status::Failed {
                control.remediation()
            } else {
                Remedy::None
            },
            reason: format!("{control} is {}", status.as_str()),
        }
    }

    fn failed(resource: &ResourceRef, controls: &[ControlId]) -> Vec<Evaluation> {
        controls
            .iter()
            .map(|&c| eval(resource, c, Status::Failed))
            .collect()
    }

    /// Enforce mode with `ACCOUNT` opted in and `OTHER` listed but not.
    fn enforcing() -> Config {
        Config {
            mode: Mode::Enforce,
            accounts: vec![
                AccountConfig {
                    id: ACCOUNT.to_string(),
                    enforce: true,
                    ..AccountConfig::default()
                },
                AccountConfig {
                    id: OTHER.to_string(),
                    ..AccountConfig::default()
                },
            ],
            ..Config::default()
        }
    }

    fn with_action(mut config: Config, control: ControlId, action: Action) -> Config {
        config.actions.insert(control, action);
        config
    }

    fn tag_values(mut config: Config, pairs: &[(&str, &str)]) -> Config {
        config.remediation.tag_values = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        config
    }

    fn required(mut config: Config, keys: &[&str]) -> Config {
        config.controls.required_tag_keys = keys.iter().map(|k| k.to_string()).collect();
        config
    }

    use ControlId::*;

    #[test]
    fn defaults_are_a_dry_run_everywhere() {
        let config = Config::default();
        let nb = notebook();
        let d = decide(
            &nb,
            &failed(&nb, &[SageMaker1, SageMaker3, SageMaker8]),
            &[],
            &config,
        );
        assert!(d.dry_run);
        assert!(!d.exempt);
        assert_eq!(
            d.fix,
            Some(NotebookPlan {
                disable_root_access: true,
                platform: None,
            })
        );
        assert_eq!(
            d.flag,
            [SageMaker1, SageMaker8],
            "SageMaker.8 is flag by default"
        );
        assert!(d.ignored.is_empty() && d.add_tags.is_empty() && d.notes.is_empty());
        assert!(!d.is_noop());
        assert_eq!(
            d.flag_tag_value().as_deref(),
            Some("SageMaker.1 SageMaker.8")
        );
        assert_eq!(d.resource, nb);
    }

    #[test]
    fn enforce_mode_acts_only_in_opted_in_accounts() {
        let config = enforcing();
        let mine = notebook();
        let d = decide(&mine, &failed(&mine, &[SageMaker3]), &[], &config);
        assert!(!d.dry_run);
        assert!(d.fix.is_some());

        for account in [OTHER, "777788889999"] {
            let theirs = resource(ResourceType::NotebookInstance, account);
            let d = decide(&theirs, &failed(&theirs, &[SageMaker3]), &[], &config);
            assert!(d.dry_run, "{account}");
            assert!(d.fix.is_some(), "still planned and recorded: {account}");
        }

        let audit = Config {
            mode: Mode::Audit,
            ..enforcing()
        };
        assert!(decide(&mine, &failed(&mine, &[SageMaker3]), &[], &audit).dry_run);
    }

    #[test]
    fn per_control_actions() {
        let nb = notebook();
        let evals = failed(&nb, &[SageMaker1, SageMaker2, SageMaker3, SageMaker8]);
        let config = with_action(enforcing(), SageMaker1, Action::Ignore);
        let config = with_action(config, SageMaker3, Action::Flag);
        let config = with_action(config, SageMaker8, Action::Ignore);
        let d = decide(&nb, &evals, &[], &config);
        assert_eq!(d.fix, None);
        assert_eq!(d.flag, [SageMaker2, SageMaker3]);
        assert_eq!(d.ignored, [SageMaker1, SageMaker8]);
        assert!(!d.is_noop());

        let config = with_action(enforcing(), SageMaker1, Action::Ignore);
        let config = with_action(config, SageMaker2, Action::Ignore);
        let config = with_action(config, SageMaker3, Action::Ignore);
        let config = with_action(config, SageMaker8, Action::Ignore);
        let d = decide(&nb, &evals, &[], &config);
        assert!(d.is_noop(), "every failure ignored");
        assert_eq!(d.ignored.len(), 4);
        assert_eq!(d.flag_tag_value(), None);
    }

    #[test]
    fn root_access_and_platform_make_one_plan() {
        let mut config = with_action(enforcing(), SageMaker8, Action::Fix);
        config.controls.supported_platforms = vec![
            "notebook-al2-v3".to_string(),
            "notebook-al2023-v1".to_string(),
        ];
        config.controls.platform_target = "notebook-al2023-v1".to_string();
        let nb = notebook();
        let d = decide(&nb, &failed(&nb, &[SageMaker3, SageMaker8]), &[], &config);
        assert_eq!(
            d.fix,
            Some(NotebookPlan {
                disable_root_access: true,
                platform: Some("notebook-al2023-v1".to_string()),
            })
        );
        assert!(d.flag.is_empty());

        let d = decide(&nb, &failed(&nb, &[SageMaker8]), &[], &config);
        assert_eq!(
            d.fix,
            Some(NotebookPlan {
                disable_root_access: false,
                platform: Some("notebook-al2023-v1".to_string()),
            })
        );
    }

    #[test]
    fn exemption_tag_sets_nothing_else() {
        let config = tag_values(enforcing(), &[("owner", "me")]);
        let nb = notebook();
        let evals = failed(&nb, &[SageMaker1, SageMaker3, SageMaker8]);
        let tags = [Tag::new("sagemaker-remediator:exempt", "")];
        let d = decide(&nb, &evals, &tags, &config);
        assert_eq!(
            d,
            Decision {
                exempt: true,
                ..Decision::nothing(&nb, false)
            }
        );
        assert!(d.is_noop());

        // exact key only
        for key in [
            "Sagemaker-Remediator:Exempt",
            "sagemaker-remediator:exempt ",
            "exempt",
        ] {
            let d = decide(&nb, &evals, &[Tag::new(key, "yes")], &config);
            assert!(!d.exempt, "{key}");
        }

        let mut custom = config;
        custom.remediation.exemption_tag_key = "security:skip".to_string();
        let img = image();
        let d = decide(
            &img,
            &failed(&img, &[SageMaker7]),
            &[Tag::new("security:skip", "ticket-42")],
            &custom,
        );
        assert!(d.exempt && d.add_tags.is_empty() && d.notes.is_empty());
    }

    #[test]
    fn passed_resources_are_a_noop() {
        let config = enforcing();
        let nb = notebook();
        let evals: Vec<Evaluation> = [SageMaker1, SageMaker2, SageMaker3, SageMaker8]
            .into_iter()
            .map(|c| eval(&nb, c, Status::Passed))
            .collect();
        let d = decide(&nb, &evals, &[], &config);
        assert_eq!(d, Decision::nothing(&nb, false));
        assert!(d.is_noop());

        let img = image();
        let d = decide(
            &img,
            &[eval(&img, SageMaker7, Status::NotApplicable)],
            &[],
            &config,
        );
        assert!(d.is_noop() && d.notes.is_empty());
        assert!(decide(&img, &[], &[], &config).is_noop());
    }

    #[test]
    fn a_control_failing_twice_is_handled_once() {
        let nb = notebook();
        let evals = failed(&nb, &[SageMaker1, SageMaker1]);
        let d = decide(&nb, &evals, &[], &enforcing());
        assert_eq!(d.flag, [SageMaker1]);
    }

    #[test]
    fn required_tags_are_added_with_their_configured_values() {
        let config = required(enforcing(), &["owner", "team"]);
        let config = tag_values(
            config,
            &[("owner", "ml-platform"), ("team", "ds"), ("extra", "x")],
        );
        let img = image();
        let d = decide(
            &img,
            &failed(&img, &[SageMaker7]),
            &[Tag::new("aws:cloudformation:stack-name", "s")],
            &config,
        );
        assert_eq!(
            d.add_tags,
            [Tag::new("owner", "ml-platform"), Tag::new("team", "ds")],
            "only the missing required keys"
        );
        assert!(d.flag.is_empty() && d.notes.is_empty());
        assert!(!d.dry_run);
    }

    #[test]
    fn existing_tag_values_are_never_overwritten() {
        let config = required(enforcing(), &["owner", "team"]);
        let config = tag_values(config, &[("owner", "ml-platform"), ("team", "ds")]);
        let img = resource(ResourceType::AppImageConfig, ACCOUNT);
        let d = decide(
            &img,
            &failed(&img, &[SageMaker6]),
            &[Tag::new("owner", "alice")],
            &config,
        );
        assert_eq!(d.add_tags, [Tag::new("team", "ds")]);

        // the key differs only in case: a different key, so it is added (AWS keys are
        // case-sensitive) and `Owner` is left alone
        let d = decide(
            &img,
            &failed(&img, &[SageMaker6]),
            &[Tag::new("Owner", "alice"), Tag::new("team", "")],
            &config,
        );
        assert_eq!(d.add_tags, [Tag::new("owner", "ml-platform")]);
    }

    #[test]
    fn required_key_without_a_value_is_flagged_with_a_note() {
        let config = required(enforcing(), &["owner", "team", "cost-center"]);
        let config = tag_values(config, &[("owner", "ml-platform")]);
        let img = image();
        let d = decide(&img, &failed(&img, &[SageMaker7]), &[], &config);
        assert!(d.add_tags.is_empty(), "no partial fix");
        assert_eq!(d.flag, [SageMaker7]);
        assert_eq!(d.notes.len(), 1);
        let note = &d.notes[0];
        assert!(
            note.starts_with("SageMaker.7 flagged instead of fixed"),
            "{note}"
        );
        assert!(note.contains("`team`, `cost-center`"), "{note}");
        assert!(note.contains("remediation.tag_values"), "{note}");

        // a required key already present needs no value
        let d = decide(
            &img,
            &failed(&img, &[SageMaker7]),
            &[Tag::new("team", "a"), Tag::new("cost-center", "b")],
            &config,
        );
        assert_eq!(d.add_tags, [Tag::new("owner", "ml-platform")]);
        assert!(d.flag.is_empty());
    }

    #[test]
    fn without_required_keys_all_tag_values_are_added() {
        let config = tag_values(enforcing(), &[("owner", "ml-platform"), ("team", "ds")]);
        let img = image();
        let d = decide(
            &img,
            &failed(&img, &[SageMaker7]),
            &[Tag::new("aws:createdBy", "x")],
            &config,
        );
        assert_eq!(
            d.add_tags,
            [Tag::new("owner", "ml-platform"), Tag::new("team", "ds")]
        );
        assert!(d.flag.is_empty());
    }

    #[test]
    fn without_required_keys_or_tag_values_the_control_is_flagged() {
        let config = enforcing();
        let img = image();
        let d = decide(&img, &failed(&img, &[SageMaker7]), &[], &config);
        assert!(d.add_tags.is_empty());
        assert_eq!(d.flag, [SageMaker7]);
        assert!(
            d.notes[0].contains("remediation.tag_values is empty"),
            "{:?}",
            d.notes
        );
    }

    #[test]
    fn stale_tag_failure_adds_nothing_and_says_so() {
        let config = tag_values(enforcing(), &[("owner", "ml-platform")]);
        let img = image();
        let d = decide(
            &img,
            &failed(&img, &[SageMaker7]),
            &[Tag::new("team", "ds")],
            &config,
        );
        assert!(d.is_noop());
        assert_eq!(d.notes.len(), 1);
        assert!(d.notes[0].contains("nothing to add"));
    }

    #[test]
    fn tag_controls_follow_their_actions() {
        let config = tag_values(enforcing(), &[("owner", "ml-platform")]);
        let img = image();
        let evals = failed(&img, &[SageMaker7]);
        let d = decide(
            &img,
            &evals,
            &[],
            &with_action(config.clone(), SageMaker7, Action::Flag),
        );
        assert_eq!(d.flag, [SageMaker7]);
        assert!(d.add_tags.is_empty() && d.notes.is_empty());
        let d = decide(
            &img,
            &evals,
            &[],
            &with_action(config, SageMaker7, Action::Ignore),
        );
        assert_eq!(d.ignored, [SageMaker7]);
        assert!(d.is_noop());
    }

    #[test]
    fn both_tag_controls_add_each_key_once() {
        // not a real combination (.6 and .7 judge different resource types), but the decision
        // must stay sane when handed one
        let config = tag_values(enforcing(), &[("owner", "ml-platform")]);
        let img = image();
        let d = decide(&img, &failed(&img, &[SageMaker6, SageMaker7]), &[], &config);
        assert_eq!(d.add_tags, [Tag::new("owner", "ml-platform")]);
    }

    #[test]
    fn fix_of_a_control_that_cannot_be_fixed_is_a_flag() {
        // validate() rejects this; a hand-built config still gets a safe answer
        for control in [SageMaker1, SageMaker2, SageMaker5] {
            let config = with_action(enforcing(), control, Action::Fix);
            let r = resource(control.resource_type(), ACCOUNT);
            let d = decide(&r, &failed(&r, &[control]), &[], &config);
            assert_eq!(d.flag, [control]);
            assert_eq!(d.fix, None);
            assert!(
                d.notes[0].contains("cannot be fixed in place"),
                "{:?}",
                d.notes
            );
        }
    }

    #[test]
    fn a_single_instance_endpoint_config_is_replaced_behind_an_approval_by_default() {
        let config = enforcing();
        let ec = resource(ResourceType::EndpointConfig, ACCOUNT);
        let d = decide(&ec, &failed(&ec, &[SageMaker4]), &[], &config);
        assert!(d.replace && !d.dry_run);
        assert_eq!(d.approve, [SageMaker4], "approve is SageMaker.4's default");
        assert!(d.flag.is_empty() && d.fix.is_none() && !d.is_noop());

        let d = decide(
            &ec,
            &failed(&ec, &[SageMaker4]),
            &[],
            &with_action(enforcing(), SageMaker4, Action::Fix),
        );
        assert!(d.replace && d.approve.is_empty(), "fix: no approval asked");

        let d = decide(
            &ec,
            &failed(&ec, &[SageMaker4]),
            &[],
            &with_action(enforcing(), SageMaker4, Action::Flag),
        );
        assert!(!d.replace);
        assert_eq!(d.flag, [SageMaker4]);

        let passed = [eval(&ec, SageMaker4, Status::Passed)];
        assert!(decide(&ec, &passed, &[], &config).is_noop());
    }

    #[test]
    fn an_iac_managed_resource_is_flagged_with_the_code_change_unless_configured() {
        let nb = notebook();
        let cfn = [
            Tag::new(
                iac::STACK_ID,
                "arn:aws:cloudformation:eu-west-1:111122223333:stack/ml/1",
            ),
            Tag::new(iac::LOGICAL_ID, "Nb"),
        ];
        let evals = failed(&nb, &[SageMaker3, SageMaker8]);
        let config = with_action(enforcing(), SageMaker8, Action::Ignore);
        let d = decide(&nb, &evals, &cfn, &config);
        assert_eq!(d.fix, None);
        assert_eq!(d.flag, [SageMaker3]);
        assert_eq!(d.ignored, [SageMaker8], "an ignored control stays ignored");
        assert!(d.iac.is_some());
        assert!(
            d.notes[0].contains("managed by CloudFormation stack arn:aws:cloudformation:eu-west-1:111122223333:stack/ml/1 (logical id Nb)")
                && d.notes[0].ends_with("change the code: RootAccess: Disabled"),
            "{:?}",
            d.notes
        );

        let mut config = config;
        config.iac.actions.insert(SageMaker3, Action::Fix);
        let d = decide(&nb, &evals, &cfn, &config);
        assert!(d.fix.is_some() && d.flag.is_empty() && d.iac.is_some());
        config.iac.actions.insert(SageMaker3, Action::Approve);
        assert_eq!(decide(&nb, &evals, &cfn, &config).approve, [SageMaker3]);
        // Without the tags: the normal actions.
        let d = decide(&nb, &evals, &[], &config);
        assert!(d.fix.is_some() && d.approve.is_empty() && d.iac.is_none());
    }

    #[test]
    fn approval_rules_turn_fix_into_approve_only_where_they_match() {
        let mut config = tag_values(enforcing(), &[("owner", "me")]);
        config.approvals.rules = vec![crate::config::ApprovalRule {
            tags: [("env".to_string(), "prod".to_string())].into(),
            ..Default::default()
        }];
        let nb = notebook();
        let evals = failed(&nb, &[SageMaker3]);
        let prod = [Tag::new("env", "prod")];
        let dev = [Tag::new("env", "dev")];
        assert_eq!(decide(&nb, &evals, &prod, &config).approve, [SageMaker3]);
        assert!(decide(&nb, &evals, &dev, &config).approve.is_empty());
        assert!(decide(&nb, &evals, &[], &config).approve.is_empty());
        // The plan is the same either way: approval gates it, it does not change it.
        assert_eq!(
            decide(&nb, &evals, &prod, &config).fix,
            decide(&nb, &evals, &dev, &config).fix
        );
        // A rule limited to other controls or accounts does not match.
        config.approvals.rules[0].controls = vec![SageMaker8];
        assert!(decide(&nb, &evals, &prod, &config).approve.is_empty());
        config.approvals.rules[0].controls = Vec::new();
        config.approvals.rules[0].accounts = vec![OTHER.to_string()];
        assert!(decide(&nb, &evals, &prod, &config).approve.is_empty());
        // `approve` as the action gates everywhere; `flag` is never gated.
        let config = with_action(enforcing(), SageMaker3, Action::Approve);
        assert_eq!(decide(&nb, &evals, &[], &config).approve, [SageMaker3]);
        let config = with_action(enforcing(), SageMaker3, Action::Flag);
        assert!(decide(&nb, &evals, &prod, &config).approve.is_empty());
    }
}
