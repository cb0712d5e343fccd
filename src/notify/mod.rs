//! Notifications of outcomes on an EventBridge bus: what was planned, done, failed or needs
//! recreating, for whatever the bus feeds (chat, tickets, pagers).
//!
//! - this module: the detail-types and the versioned detail (its JSON Schema is
//!   `deploy/schemas/notification-detail.v1.json`), built into [`Notice`]s that the reconciler
//!   hands to the store with the journal change that causes them (the outbox);
//! - [`sender`]: drains the outbox with `PutEvents`, retrying what the bus did not take;
//! - [`findings`]: Security Hub write-back, the findings' workflow status and note, drained
//!   from the same outbox (its own channel) with `GetFindings` and `BatchUpdateFindings`;
//! - [`drain`]: the loop both senders run.
//!
//! # Guarantees
//! - Nothing is lost: a notice is committed with its journal change, and removed from the
//!   outbox only once the bus accepted it. Delivery is at least once; every event carries a
//!   stable `event_id` (also in the detail) for de-duplication.
//! - Off unless `notifications.event_bus` is set: then no notice is written at all. The same
//!   for the write-back and `findings.update`, which never writes in a dry run.

pub mod drain;
pub mod findings;
pub mod sender;

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use tokio::sync::Notify;

use crate::model::{ControlId, ResourceRef};
use crate::store::{Channel, Millis, Notice, RemediationKind};

/// Which outbox channels are on, each with the handle that wakes its sender.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    /// The event bus (`notifications.event_bus` set).
    pub events: Option<Arc<Notify>>,
    /// Security Hub write-back (`findings.update`).
    pub findings: Option<Arc<Notify>>,
    /// The (resource ARN, control) pairs whose findings were already asked to be suppressed
    /// while this process runs.
    pub suppressed: Arc<std::sync::Mutex<std::collections::HashSet<(String, ControlId)>>>,
}

impl Outbox {
    /// Nothing is sent anywhere.
    pub fn off() -> Outbox {
        Outbox::default()
    }

    /// The notices of `outcome` for the channels that are on.
    pub fn notices(&self, outcome: &Outcome<'_>) -> Vec<Notice> {
        let mut notices = Vec::new();
        if self.events.is_some() {
            notices.push(outcome.notice());
        }
        if self.findings.is_some() {
            notices.extend(findings::update_for(outcome));
        }
        notices
    }

    /// Whether the findings of `control` on `arn` are still to be suppressed in this run (true
    /// once per pair: the caller then writes the notice).
    pub fn first_suppression(&self, arn: &str, control: ControlId) -> bool {
        self.findings.is_some()
            && self
                .suppressed
                .lock()
                .map(|mut seen| seen.insert((arn.to_string(), control)))
                .unwrap_or(false)
    }

    /// Forgets a suppression whose notice could not be written, so that it is asked again.
    pub fn forget_suppression(&self, arn: &str, control: ControlId) {
        if let Ok(mut seen) = self.suppressed.lock() {
            seen.remove(&(arn.to_string(), control));
        }
    }

    /// Wakes the senders after notices were committed.
    pub fn written(&self) {
        for wake in [&self.events, &self.findings].into_iter().flatten() {
            wake.notify_one();
        }
    }
}

/// The `Source` of every event.
pub const SOURCE: &str = "sagemaker-remediator";

/// The version of the detail schema, in every detail as `version`.
pub const DETAIL_VERSION: &str = "1";

/// What happened, as EventBridge's `DetailType`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumIter,
    strum::EnumString,
)]
pub enum DetailType {
    /// A remediation was decided: in enforce mode it starts now; in dry-run it is what would
    /// be done.
    #[strum(serialize = "Remediation Planned")]
    Planned,
    /// A remediation waits for a person's approval.
    #[strum(serialize = "Remediation Pending Approval")]
    PendingApproval,
    /// The notice before a disruptive step (a notebook stop), with the planned time.
    #[strum(serialize = "Remediation Scheduled")]
    Scheduled,
    /// The fix was carried out and verified.
    #[strum(serialize = "Remediation Succeeded")]
    Succeeded,
    /// The fix failed; the reason says why.
    #[strum(serialize = "Remediation Failed")]
    Failed,
    /// The resource cannot be fixed in place (or may not be): the plan says how to recreate it.
    #[strum(serialize = "Recreation Required")]
    RecreationRequired,
    /// Enforcement stopped acting (a limit or an operator), until it resumes.
    #[strum(serialize = "Enforcement Paused")]
    EnforcementPaused,
}

impl DetailType {
    /// The detail's `outcome`: the detail-type in kebab case, e.g. `recreation-required`.
    pub fn outcome(self) -> &'static str {
        match self {
            DetailType::Planned => "planned",
            DetailType::PendingApproval => "pending-approval",
            DetailType::Scheduled => "scheduled",
            DetailType::Succeeded => "succeeded",
            DetailType::Failed => "failed",
            DetailType::RecreationRequired => "recreation-required",
            DetailType::EnforcementPaused => "enforcement-paused",
        }
    }
}

/// One outcome about one resource, to be turned into a [`Notice`].
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    pub detail_type: DetailType,
    pub resource: &'a ResourceRef,
    pub controls: &'a [ControlId],
    pub dry_run: bool,
    /// The journal kind, when a remediation is behind it (not for flags).
    pub kind: Option<RemediationKind>,
    /// The change planned or made (the fix plan, the recreation plan).
    pub plan: Option<&'a serde_json::Value>,
    /// The outcome in words (e.g. the failure's reason).
    pub reason: Option<&'a str>,
    /// When the step a `Remediation Scheduled` announces is planned.
    pub scheduled_for: Option<Millis>,
    pub at: Millis,
}

#[derive(Serialize)]
struct ResourceDetail<'a> {
    arn: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    resource_type: &'static str,
    account: &'a str,
    region: &'a str,
}

impl Outcome<'_> {
    /// The notice, with a new random event id. The journal link (`journal.remediation_id`) is
    /// completed by the sender from the outbox entry.
    pub fn notice(&self) -> Notice {
        let event_id = new_event_id();
        let r = self.resource;
        let detail = json!({
            "version": DETAIL_VERSION,
            "event_id": event_id,
            "outcome": self.detail_type.outcome(),
            "resource": ResourceDetail {
                arn: &r.arn,
                name: &r.name,
                resource_type: r.resource_type.config_type(),
                account: &r.account,
                region: &r.region,
            },
            "account": r.account,
            "region": r.region,
            "controls": self.controls,
            "dry_run": self.dry_run,
            "kind": self.kind,
            "plan": self.plan,
            "reason": self.reason,
            "scheduled_for": self.scheduled_for.map(crate::journal::time),
            "at": crate::journal::time(self.at),
        });
        Notice {
            channel: Channel::Events,
            event_id,
            detail_type: self.detail_type.to_string(),
            detail,
            at: self.at,
        }
    }
}

/// A random 128-bit id in the 8-4-4-4-12 hex form of a UUID.
pub(crate) fn new_event_id() -> String {
    let hex = format!("{:032x}", rand::random::<u128>());
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The detail as sent: the stored one with the link back to the journal.
pub fn detail_as_sent(
    detail: &serde_json::Value,
    remediation_id: Option<i64>,
) -> serde_json::Value {
    let mut detail = detail.clone();
    let arn = detail["resource"]["arn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    detail["journal"] = json!({
        "remediation_id": remediation_id,
        "command": format!("sagemaker-remediator remediations --resource {arn}"),
    });
    detail
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;
    use crate::model::ResourceType;

    #[test]
    fn detail_types_are_the_documented_names() {
        let names: Vec<String> = DetailType::iter().map(|d| d.to_string()).collect();
        assert_eq!(
            names,
            [
                "Remediation Planned",
                "Remediation Pending Approval",
                "Remediation Scheduled",
                "Remediation Succeeded",
                "Remediation Failed",
                "Recreation Required",
                "Enforcement Paused",
            ]
        );
        for d in DetailType::iter() {
            assert_eq!(
                d.outcome(),
                d.to_string()
                    .to_lowercase()
                    .replace(' ', "-")
                    .replace("remediation-", "")
            );
        }
    }

    #[test]
    fn a_notice_carries_its_event_id_in_the_detail_and_the_journal_link_when_sent() {
        let resource = ResourceRef {
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            resource_type: ResourceType::NotebookInstance,
            name: "Nb".into(),
            arn: "arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/nb".into(),
        };
        let plan = json!({"disable_root_access": true});
        let outcome = Outcome {
            detail_type: DetailType::Succeeded,
            resource: &resource,
            controls: &[ControlId::SageMaker3],
            dry_run: false,
            kind: Some(RemediationKind::NotebookFix),
            plan: Some(&plan),
            reason: Some("fixed"),
            scheduled_for: None,
            at: 0,
        };
        let a = outcome.notice();
        let b = outcome.notice();
        assert_ne!(a.event_id, b.event_id);
        assert_eq!(a.event_id.len(), 36);
        assert_eq!(a.detail["event_id"], a.event_id.as_str());
        assert_eq!(a.detail_type, "Remediation Succeeded");
        assert_eq!(a.detail["outcome"], "succeeded");
        assert_eq!(a.detail["resource"]["name"], "Nb");
        assert_eq!(
            a.detail["resource"]["type"],
            "AWS::SageMaker::NotebookInstance"
        );
        assert_eq!(a.detail["controls"], json!(["SageMaker.3"]));
        assert_eq!(a.detail["kind"], "notebook-fix");
        assert_eq!(a.detail["at"], "1970-01-01T00:00:00Z");
        let sent = detail_as_sent(&a.detail, Some(7));
        assert_eq!(sent["journal"]["remediation_id"], 7);
        assert_eq!(
            sent["journal"]["command"],
            "sagemaker-remediator remediations --resource \
             arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/nb"
        );
    }
}
