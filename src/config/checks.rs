//! The checks that span several keys (duplicates, one key against another), and the warnings.
//! Single values are checked by the garde rules on the fields ([`super::rules`]).

use std::ops::RangeInclusive;

use super::problems::{quoted_list, Issue, KeyPath};
use super::rules::{parse_role_arn, tag_key_problem, tag_value_problem};
use super::{Action, Config, ConfigProblem, Mode};
use crate::model::ControlId;

/// Reports every item of `items` that repeats an earlier one.
fn duplicates<T: PartialEq>(path: &KeyPath, items: &[T], out: &mut Vec<Issue>) {
    for (i, item) in items.iter().enumerate() {
        if let Some(first) = items[..i].iter().position(|x| x == item) {
            out.push(Issue::new(
                &path.index(i),
                format!("duplicate of {}", path.index(first)),
            ));
        }
    }
}

/// `key` must be at least `low_key`; checked only when both lie in `range` (the range of both
/// keys), since otherwise their range problems say enough.
fn at_least(
    out: &mut Vec<Issue>,
    range: RangeInclusive<u64>,
    (key, value): (KeyPath, u64),
    (low_key, low): (KeyPath, u64),
) {
    if range.contains(&value) && range.contains(&low) && value < low {
        let message = format!("must be at least {low_key} ({low}), found {value}");
        out.push(Issue::new(&key, message).depends_on(&low_key));
    }
}

impl Config {
    pub(super) fn cross_checks(&self, out: &mut Vec<Issue>) {
        let root = KeyPath::root();
        let controls = root.key("controls");
        duplicates(
            &controls.key("required_tag_keys"),
            &self.controls.required_tag_keys,
            out,
        );
        let platforms = &self.controls.supported_platforms;
        let target = &self.controls.platform_target;
        if platforms.is_empty() {
            let message = format!(
                "must list at least one platform identifier, e.g. [\"{}\"]",
                super::DEFAULT_PLATFORM
            );
            out.push(Issue::new(&controls.key("supported_platforms"), message));
        } else if !target.trim().is_empty() && !platforms.contains(target) {
            let message = format!(
                "`{target}` is not one of controls.supported_platforms ({})",
                quoted_list(platforms)
            );
            let issue = Issue::new(&controls.key("platform_target"), message);
            out.push(issue.depends_on(&controls.key("supported_platforms")));
        }
        duplicates(&root.key("audit").key("regions"), &self.audit.regions, out);

        let accounts = root.key("accounts");
        for (i, account) in self.accounts.iter().enumerate() {
            let path = accounts.index(i);
            duplicates(&path.key("regions"), &account.regions, out);
            let (id, role) = (path.key("id"), path.key("role_arn"));
            if let Some(first) = self.accounts[..i].iter().position(|a| a.id == account.id) {
                let message = format!(
                    "duplicate account id `{}`, already configured at {}",
                    account.id,
                    accounts.index(first)
                );
                out.push(Issue::new(&id, message).depends_on(&accounts.index(first).key("id")));
            }
            let role_account = account
                .role_arn
                .as_deref()
                .and_then(|a| parse_role_arn(a).ok());
            if let Some(role_account) = role_account {
                if super::rules::is_account_id(&account.id) && role_account != account.id {
                    let message = format!(
                        "role belongs to account {role_account}, not to this account ({id} = {})",
                        account.id
                    );
                    out.push(Issue::new(&role, message).depends_on(&id));
                }
            }
            if account.role_arn.is_none() {
                for (key, set, what) in [
                    (
                        "external_id",
                        account.external_id.is_some(),
                        "the external id is only sent",
                    ),
                    (
                        "session_name",
                        account.session_name.is_some(),
                        "the session name is only used",
                    ),
                ] {
                    if set {
                        let message = format!("needs role_arn: {what} with sts:AssumeRole");
                        out.push(Issue::new(&path.key(key), message).depends_on(&role));
                    }
                }
            }
        }

        let actions = root.key("actions");
        for (&control, &action) in &self.actions {
            if let (Action::Fix | Action::Approve, Some(why)) = (action, control.fix_unsupported())
            {
                let message = format!(
                    "{control} cannot be fixed in place ({why}); use \"flag\" or \"ignore\""
                );
                out.push(Issue::new(&actions.key(control.as_str()), message));
            }
        }
        let iac_tags = root.key("iac").key("tags");
        for key in self.iac.tags.keys() {
            if let Some(message) = tag_key_problem(key) {
                out.push(Issue::new(&iac_tags.key(key), message));
            }
        }
        let iac_actions = root.key("iac").key("actions");
        for (&control, &action) in &self.iac.actions {
            if let (Action::Fix | Action::Approve, Some(why)) = (action, control.fix_unsupported())
            {
                let message = format!(
                    "{control} cannot be fixed in place ({why}); use \"flag\" or \"ignore\""
                );
                out.push(Issue::new(&iac_actions.key(control.as_str()), message));
            }
        }
        self.remediation_checks(out);
        self.organization_checks(out);

        let daemon = root.key("daemon");
        let d = &self.daemon;
        at_least(
            out,
            1..=super::MAX_ERROR_BACKOFF_SECS,
            (
                daemon.key("max_error_backoff_secs"),
                d.max_error_backoff_secs,
            ),
            (daemon.key("error_backoff_secs"), d.error_backoff_secs),
        );
        let notifications = root.key("notifications");
        let n = &self.notifications;
        at_least(
            out,
            1..=super::MAX_POLL_INTERVAL_SECS,
            (
                notifications.key("max_retry_backoff_secs"),
                n.max_retry_backoff_secs,
            ),
            (
                notifications.key("retry_backoff_secs"),
                n.retry_backoff_secs,
            ),
        );
    }

    fn organization_checks(&self, out: &mut Vec<Issue>) {
        let section = KeyPath::root().key("organization");
        let o = &self.organization;
        for (key, list) in [
            ("include_ous", &o.include_ous),
            ("include_accounts", &o.include_accounts),
            ("exclude_ous", &o.exclude_ous),
            ("exclude_accounts", &o.exclude_accounts),
            ("enforce_ous", &o.enforce_ous),
            ("enforce_accounts", &o.enforce_accounts),
            ("regions", &o.regions),
        ] {
            duplicates(&section.key(key), list, out);
        }
        for (key, list, excluded_by) in [
            (
                "include_ous",
                &o.include_ous,
                ("exclude_ous", &o.exclude_ous),
            ),
            (
                "include_accounts",
                &o.include_accounts,
                ("exclude_accounts", &o.exclude_accounts),
            ),
            (
                "enforce_ous",
                &o.enforce_ous,
                ("exclude_ous", &o.exclude_ous),
            ),
            (
                "enforce_accounts",
                &o.enforce_accounts,
                ("exclude_accounts", &o.exclude_accounts),
            ),
        ] {
            let (other, excluded) = excluded_by;
            for (i, id) in list.iter().enumerate() {
                if excluded.contains(id) {
                    let other = section.key(other);
                    let message =
                        format!("`{id}` is also in {other}, which wins: it is never swept");
                    out.push(Issue::new(&section.key(key).index(i), message).depends_on(&other));
                }
            }
        }
    }

    fn remediation_checks(&self, out: &mut Vec<Issue>) {
        let section = KeyPath::root().key("remediation");
        let r = &self.remediation;
        let exemption = section.key("exemption_tag_key");
        let flag = section.key("flag_tag_key");
        if tag_key_problem(&r.flag_tag_key).is_none() && r.flag_tag_key == r.exemption_tag_key {
            let message =
                format!("must differ from {exemption}: flagged resources would exempt themselves");
            out.push(Issue::new(&flag, message).depends_on(&exemption));
        }
        let tag_values = section.key("tag_values");
        for (key, value) in &r.tag_values {
            let path = tag_values.key(key);
            if let Some(message) = tag_key_problem(key) {
                out.push(Issue::new(&path, message));
            } else if *key == r.exemption_tag_key {
                let message =
                    format!("is {exemption}: every resource fixed with it would become exempt");
                out.push(Issue::new(&path, message).depends_on(&exemption));
            } else if *key == r.flag_tag_key {
                let message = format!("is {flag}, which the remediator manages itself");
                out.push(Issue::new(&path, message).depends_on(&flag));
            }
            if let Some(message) = tag_value_problem(value) {
                out.push(Issue::new(&path, message));
            }
        }
        let groups = section.key("recreate_security_group_ids");
        if !r.recreate_security_group_ids.is_empty() && r.recreate_subnet_id.is_empty() {
            let message = "needs recreate_subnet_id: security groups belong to the subnet's VPC";
            out.push(Issue::new(&groups, message).depends_on(&section.key("recreate_subnet_id")));
        }
        duplicates(&groups, &r.recreate_security_group_ids, out);
        at_least(
            out,
            1..=super::MAX_POLL_INTERVAL_SECS,
            (
                section.key("max_poll_interval_secs"),
                r.max_poll_interval_secs,
            ),
            (section.key("poll_interval_secs"), r.poll_interval_secs),
        );
        at_least(
            out,
            60..=super::MAX_RETRY_SECS,
            (
                section.key("max_retry_failed_after_secs"),
                r.max_retry_failed_after_secs,
            ),
            (
                section.key("retry_failed_after_secs"),
                r.retry_failed_after_secs,
            ),
        );
    }

    /// Legal but probably unintended settings, for `validate-config` to print (they do not stop
    /// the tool): enforce mode with no account opted in, accounts opted in while in audit mode,
    /// SageMaker.6/.7 set to `fix` without a `tag_values` entry for every required tag key (or,
    /// with no required keys, with no `tag_values` at all while some account is enforced),
    /// exemptions whose date has passed (judged by the system clock).
    /// Sources are not known here; the built-in defaults give no warnings.
    pub fn warnings(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let mut warn = |path: KeyPath, message: String| {
            out.push(ConfigProblem {
                key: path.to_string(),
                message,
                source: None,
            });
        };
        let root = KeyPath::root();
        let now = crate::clock::now_ms();
        for (i, e) in self.exemptions.iter().enumerate() {
            if e.ends_at().is_some_and(|end| end <= now) {
                warn(
                    root.key("exemptions").index(i).key("expires"),
                    format!(
                        "expired on {}: the exemption of `{}` no longer applies",
                        e.expires, e.arn
                    ),
                );
            }
        }
        let org = &self.organization;
        let org_opts_in = !org.enforce_ous.is_empty() || !org.enforce_accounts.is_empty();
        let opted_in = self.accounts.iter().any(|a| a.enforce) || (org.enabled && org_opts_in);
        if !org.enabled && *org != super::OrganizationConfig::default() {
            warn(
                root.key("organization").key("enabled"),
                "is false: the other [organization] settings are not used".to_string(),
            );
        }
        if org.enabled && self.mode == Mode::Audit && org_opts_in {
            warn(
                root.key("organization").key("enforce_ous"),
                "has no effect while mode = \"audit\" (nor has enforce_accounts): discovered \
                 accounts are only audited"
                    .to_string(),
            );
        }
        match self.mode {
            Mode::Enforce if !opted_in => warn(
                root.key("mode"),
                "is \"enforce\" but no account sets enforce = true: nothing will be changed \
                 anywhere"
                    .to_string(),
            ),
            Mode::Audit => {
                for (i, account) in self.accounts.iter().enumerate().filter(|(_, a)| a.enforce) {
                    warn(
                        root.key("accounts").index(i).key("enforce"),
                        format!(
                            "has no effect while mode = \"audit\": account {} is only audited",
                            account.id
                        ),
                    );
                }
            }
            Mode::Enforce => {}
        }

        let fixing: Vec<&str> = [ControlId::SageMaker6, ControlId::SageMaker7]
            .into_iter()
            .filter(|&c| matches!(self.action(c), Action::Fix | Action::Approve))
            .map(ControlId::as_str)
            .collect();
        if fixing.is_empty() {
            return out;
        }
        let controls = fixing.join("/");
        let tag_values = root.key("remediation").key("tag_values");
        let required = &self.controls.required_tag_keys;
        let missing: Vec<&String> = required
            .iter()
            .filter(|key| !self.remediation.tag_values.contains_key(*key))
            .collect();
        // with no required keys, only where it matters: by default (audit only) it would show
        let enforcing = self.mode == Mode::Enforce && opted_in;
        if required.is_empty() && enforcing && self.remediation.tag_values.is_empty() {
            warn(
                tag_values,
                format!(
                    "is empty while {controls} is set to fix: untagged resources will be flagged \
                     instead (add e.g. owner = \"platform-team\")"
                ),
            );
        } else if !missing.is_empty() {
            warn(
                tag_values,
                format!(
                    "has no value for the required tag key(s) {} while {controls} is set to fix: \
                     resources missing them will be flagged instead",
                    quoted_list(&missing)
                ),
            );
        }
        out
    }
}
