//! Accounts from AWS Organizations (`[organization]`): the organisation's tree is read from its
//! roots down (ListRoots, then ListChildren and ListAccountsForParent per parent), the active
//! accounts that the include and exclude rules select become [`AccountConfig`]s with the role
//! template filled in, and the list is read again every `refresh_secs` while the daemon runs.
//!
//! Enforcement stays opt-in: a discovered account enforces only when `enforce_ous` or
//! `enforce_accounts` names it (and `mode = "enforce"`). An `[[accounts]]` entry for the same
//! account wins ([`merge`]).

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_organizations::types::{AccountState, AccountStatus, ChildType};

use crate::aws::{self, AwsError};
use crate::config::{AccountConfig, Config, OrganizationConfig};

/// After a failed read, how long until the next attempt (at most `refresh_secs`).
const RETRY: Duration = Duration::from_secs(300);

/// An account as the organisation's tree shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    /// `ACTIVE`; a suspended or closing account is not swept.
    pub active: bool,
    /// The root's id, then each organizational unit down to the account's parent.
    pub path: Vec<String>,
}

/// The accounts discovered so far, shared by every clone of the [`Config`] that holds it.
/// Not configuration: two of them always compare equal.
#[derive(Debug, Clone, Default)]
pub struct Discovered(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    accounts: RwLock<Option<Arc<Vec<AccountConfig>>>>,
    /// When the organisation is read next; `None`: at the first chance.
    next_read: Mutex<Option<Instant>>,
    /// One read at a time.
    reading: tokio::sync::Mutex<()>,
}

impl PartialEq for Discovered {
    fn eq(&self, _: &Discovered) -> bool {
        true
    }
}

impl Discovered {
    /// The accounts of the last successful read; `None` before the first.
    pub fn get(&self) -> Option<Arc<Vec<AccountConfig>>> {
        self.0
            .accounts
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the discovered accounts.
    pub fn set(&self, accounts: Vec<AccountConfig>) {
        *self
            .0
            .accounts
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(accounts));
    }

    fn due(&self, now: Instant) -> bool {
        self.0
            .next_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none_or(|at| at <= now)
    }

    fn read_again_at(&self, at: Instant) {
        *self
            .0
            .next_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(at);
    }
}

/// Reads the organisation again when `[organization]` is enabled and the last read is older
/// than `refresh_secs` (or failed more than 5 minutes ago). On failure the previous list stays
/// in use; the error is returned (and logged) for the caller to report.
pub async fn refresh_if_due(config: &Config, base: &SdkConfig) -> Result<(), AwsError> {
    let org = &config.organization;
    if !org.enabled || !config.discovered.due(Instant::now()) {
        return Ok(());
    }
    let _reading = config.discovered.0.reading.lock().await;
    if !config.discovered.due(Instant::now()) {
        return Ok(()); // another task read it meanwhile
    }
    let refresh = Duration::from_secs(org.refresh_secs);
    match read(base, org).await {
        Ok(members) => {
            let accounts = select(&members, org);
            let before = config.discovered.get();
            let ids = |list: &[AccountConfig]| -> Vec<String> {
                list.iter().map(|a| a.id.clone()).collect()
            };
            let now_ids = ids(&accounts);
            let before_ids = before.as_deref().map(|b| ids(b)).unwrap_or_default();
            let added: Vec<&String> = now_ids.iter().filter(|a| !before_ids.contains(a)).collect();
            let removed: Vec<&String> =
                before_ids.iter().filter(|a| !now_ids.contains(a)).collect();
            tracing::info!(
                event = "organization_read",
                members = members.len(),
                selected = accounts.len(),
                enforced = accounts.iter().filter(|a| a.enforce).count(),
                added = ?added,
                removed = ?removed,
                "accounts discovered from the organisation"
            );
            config.discovered.set(accounts);
            config.discovered.read_again_at(Instant::now() + refresh);
            Ok(())
        }
        Err(e) => {
            tracing::warn!(event = "organization_unreadable", error = %e, "keeping the accounts of the last read");
            config
                .discovered
                .read_again_at(Instant::now() + RETRY.min(refresh));
            Err(e)
        }
    }
}

/// Every account of the organisation with its place in the tree.
pub async fn read(base: &SdkConfig, org: &OrganizationConfig) -> Result<Vec<Member>, AwsError> {
    let region = base
        .region()
        .map_or_else(|| "us-east-1".to_string(), |r| r.to_string());
    let sdk = match &org.reader_role_arn {
        Some(role) => {
            let reader = AccountConfig {
                role_arn: Some(role.clone()),
                external_id: org.external_id.clone(),
                session_name: org.session_name.clone(),
                ..AccountConfig::default()
            };
            aws::account_config(base, &reader, &region).await
        }
        None => base.clone(),
    };
    let client = aws_sdk_organizations::Client::new(&sdk);
    let roots: Vec<_> = client
        .list_roots()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| AwsError::from_sdk("ListRoots", None, e))?
        .into_iter()
        .flat_map(|page| page.roots.unwrap_or_default())
        .collect();
    let mut parents: Vec<Vec<String>> = roots
        .iter()
        .filter_map(|r| r.id().map(|id| vec![id.to_string()]))
        .collect();
    let mut members = Vec::new();
    while let Some(path) = parents.pop() {
        let parent = path.last().cloned().unwrap_or_default();
        let accounts: Vec<_> = client
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("ListAccountsForParent", Some(&parent), e))?
            .into_iter()
            .flat_map(|page| page.accounts.unwrap_or_default())
            .collect();
        for account in accounts {
            let Some(id) = account.id() else { continue };
            #[allow(deprecated)] // `Status` is what older organisations (and emulators) send
            let active = match account.state() {
                Some(state) => *state == AccountState::Active,
                None => account.status() == Some(&AccountStatus::Active),
            };
            members.push(Member {
                id: id.to_string(),
                active,
                path: path.clone(),
            });
        }
        let children: Vec<_> = client
            .list_children()
            .parent_id(&parent)
            .child_type(ChildType::OrganizationalUnit)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("ListChildren", Some(&parent), e))?
            .into_iter()
            .flat_map(|page| page.children.unwrap_or_default())
            .collect();
        for child in children {
            if let Some(id) = child.id() {
                let mut below = path.clone();
                below.push(id.to_string());
                parents.push(below);
            }
        }
    }
    members.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(members)
}

/// The accounts `org` selects from `members`: active, in `include_ous` (any, when empty) or
/// `include_accounts`, in neither `exclude_ous` nor `exclude_accounts`; each with the role
/// template filled in, the configured regions, and `enforce` from `enforce_ous` and
/// `enforce_accounts`.
pub fn select(members: &[Member], org: &OrganizationConfig) -> Vec<AccountConfig> {
    let under = |m: &Member, ous: &[String]| m.path.iter().any(|p| ous.contains(p));
    members
        .iter()
        .filter(|m| m.active)
        .filter(|m| {
            (org.include_ous.is_empty() && org.include_accounts.is_empty())
                || under(m, &org.include_ous)
                || org.include_accounts.contains(&m.id)
        })
        .filter(|m| !under(m, &org.exclude_ous) && !org.exclude_accounts.contains(&m.id))
        .map(|m| AccountConfig {
            id: m.id.clone(),
            role_arn: Some(org.role_arn.replace("{account}", &m.id)),
            external_id: org.external_id.clone(),
            regions: org.regions.clone(),
            session_name: org.session_name.clone(),
            enforce: under(m, &org.enforce_ous) || org.enforce_accounts.contains(&m.id),
        })
        .collect()
}

/// An `[[accounts]]` entry for a discovered account: the entry wins. Its `enforce` applies as
/// it is (false unless set); a role it does not name is the organisation's (with its external
/// id and session name); regions it does not list are the organisation's.
pub fn merge(explicit: &AccountConfig, discovered: &AccountConfig) -> AccountConfig {
    let (role_arn, external_id, session_name) = match &explicit.role_arn {
        Some(_) => (
            explicit.role_arn.clone(),
            explicit.external_id.clone(),
            explicit.session_name.clone(),
        ),
        None => (
            discovered.role_arn.clone(),
            discovered.external_id.clone(),
            discovered.session_name.clone(),
        ),
    };
    AccountConfig {
        id: explicit.id.clone(),
        role_arn,
        external_id,
        regions: if explicit.regions.is_empty() {
            discovered.regions.clone()
        } else {
            explicit.regions.clone()
        },
        session_name,
        enforce: explicit.enforce,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const ROOT: &str = "r-ab12";
    const PROD: &str = "ou-ab12-prod0001";
    const PROD_EU: &str = "ou-ab12-prodeu01";
    const DEV: &str = "ou-ab12-dev00001";
    const SANDBOX: &str = "ou-ab12-sandbox1";

    fn member(id: &str, active: bool, path: &[&str]) -> Member {
        Member {
            id: id.to_string(),
            active,
            path: path.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn tree() -> Vec<Member> {
        vec![
            member("000000000001", true, &[ROOT]),
            member("000000000002", true, &[ROOT, PROD]),
            member("000000000003", true, &[ROOT, PROD, PROD_EU]),
            member("000000000004", true, &[ROOT, DEV]),
            member("000000000005", false, &[ROOT, DEV]),
            member("000000000006", true, &[ROOT, SANDBOX]),
        ]
    }

    fn ids(accounts: &[AccountConfig]) -> Vec<&str> {
        accounts.iter().map(|a| a.id.as_str()).collect()
    }

    fn org() -> OrganizationConfig {
        OrganizationConfig {
            enabled: true,
            ..OrganizationConfig::default()
        }
    }

    #[test]
    fn the_whole_organisation_but_suspended_accounts_by_default() {
        let selected = select(&tree(), &org());
        assert_eq!(
            ids(&selected),
            [
                "000000000001",
                "000000000002",
                "000000000003",
                "000000000004",
                "000000000006"
            ]
        );
        let first = &selected[0];
        assert_eq!(
            first.role_arn.as_deref(),
            Some("arn:aws:iam::000000000001:role/SageMakerRemediator")
        );
        assert!(selected.iter().all(|a| !a.enforce), "audit unless opted in");
    }

    #[test]
    fn includes_and_excludes_reach_nested_units() {
        let org = OrganizationConfig {
            include_ous: vec![PROD.to_string(), DEV.to_string()],
            include_accounts: vec!["000000000006".to_string()],
            exclude_ous: vec![PROD_EU.to_string()],
            ..org()
        };
        assert_eq!(
            ids(&select(&tree(), &org)),
            ["000000000002", "000000000004", "000000000006"]
        );
        let org = OrganizationConfig {
            exclude_ous: vec![SANDBOX.to_string()],
            exclude_accounts: vec!["000000000001".to_string()],
            ..org
        };
        // PROD_EU is no longer excluded; the sandbox account is, though included by id
        assert_eq!(
            ids(&select(&tree(), &org)),
            ["000000000002", "000000000003", "000000000004"]
        );
        // an excluded account stays excluded even when included by id
        let org = OrganizationConfig {
            include_accounts: vec!["000000000001".to_string()],
            exclude_accounts: vec!["000000000001".to_string()],
            ..self::org()
        };
        assert!(!ids(&select(&tree(), &org)).contains(&"000000000001"));
    }

    #[test]
    fn enforcement_is_opted_in_by_unit_or_account() {
        let org = OrganizationConfig {
            enforce_ous: vec![PROD.to_string()],
            enforce_accounts: vec!["000000000004".to_string()],
            regions: vec!["eu-west-1".to_string()],
            external_id: Some("ext-id".to_string()),
            role_arn: "arn:aws:iam::{account}:role/ops/Remediator".to_string(),
            ..org()
        };
        let selected = select(&tree(), &org);
        let enforced: Vec<&str> = selected
            .iter()
            .filter(|a| a.enforce)
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(enforced, ["000000000002", "000000000003", "000000000004"]);
        let a = &selected[1];
        assert_eq!(a.regions, ["eu-west-1"]);
        assert_eq!(a.external_id.as_deref(), Some("ext-id"));
        assert_eq!(
            a.role_arn.as_deref(),
            Some("arn:aws:iam::000000000002:role/ops/Remediator")
        );
    }

    #[test]
    fn an_explicit_entry_wins_and_borrows_what_it_leaves_out() {
        let discovered = AccountConfig {
            id: "000000000002".to_string(),
            role_arn: Some("arn:aws:iam::000000000002:role/SageMakerRemediator".to_string()),
            external_id: Some("org-ext".to_string()),
            regions: vec!["eu-west-1".to_string()],
            session_name: None,
            enforce: true,
        };
        let entry = AccountConfig {
            id: "000000000002".to_string(),
            regions: vec!["us-east-1".to_string()],
            ..AccountConfig::default()
        };
        let merged = merge(&entry, &discovered);
        assert_eq!(merged.role_arn, discovered.role_arn);
        assert_eq!(merged.external_id.as_deref(), Some("org-ext"));
        assert_eq!(merged.regions, ["us-east-1"]);
        assert!(!merged.enforce, "the entry's enforce wins");
        let own_role = AccountConfig {
            role_arn: Some("arn:aws:iam::000000000002:role/Other".to_string()),
            enforce: true,
            ..AccountConfig::default()
        };
        let merged = merge(&own_role, &discovered);
        assert_eq!(merged.role_arn, own_role.role_arn);
        assert_eq!(
            merged.external_id, None,
            "the org's external id is for its role"
        );
        assert_eq!(merged.regions, ["eu-west-1"]);
        assert!(merged.enforce);
    }

    #[test]
    fn the_config_merges_entries_with_what_was_discovered() {
        let mut config = Config {
            mode: crate::config::Mode::Enforce,
            ..Config::default()
        };
        config.accounts = vec![AccountConfig {
            id: "000000000009".to_string(),
            enforce: true,
            ..AccountConfig::default()
        }];
        config.organization = OrganizationConfig {
            enforce_ous: vec![PROD.to_string()],
            ..org()
        };
        assert!(config.account("000000000002").is_none());
        let clone = config.clone();
        config.discovered.set(select(&tree(), &config.organization));
        // the clone sees the same discovery
        assert!(clone.enforces("000000000002"));
        assert!(!clone.enforces("000000000004"));
        assert!(clone.enforces("000000000009"));
        let list = clone.account_list();
        assert_eq!(list[0].id, "000000000009");
        assert_eq!(list.len(), 6);
        assert!(!clone.own_account_only());
    }
}
