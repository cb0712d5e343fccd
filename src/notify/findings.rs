//! Security Hub write-back: the outcomes the findings' readers need, on the findings themselves.
//!
//! - A fix done and verified: the resource's active findings for the fixed controls get
//!   `Workflow.Status = RESOLVED` and a note naming the remediation.
//! - A resource flagged for recreation, or a fix that failed: `NOTIFIED` and a note saying what
//!   is planned or what went wrong, with the journal entry.
//!
//! The update is a notice on the outbox's `findings` channel, committed with the journal change
//! like a bus event. The [`Updater`] drains it: `GetFindings` by resource ARN and control (the
//! active findings still `NEW` or `NOTIFIED`, so a finding a person resolved or suppressed is
//! left alone), then `BatchUpdateFindings` in chunks of 100. Unprocessed findings, throttling
//! and unreachable endpoints keep the notice for another attempt. Findings are updated in the
//! resource's account, or in the configured delegated administrator account.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_sdk_securityhub::types::{
    AwsSecurityFindingFilters, AwsSecurityFindingIdentifier, NoteUpdate, StringFilter,
    StringFilterComparison, WorkflowStatus, WorkflowUpdate,
};
use serde_json::json;
use tokio::sync::Notify;

use super::sender::Backoff;
use super::{new_event_id, DetailType, Outcome};
use crate::aws::AwsError;
use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::model::{ControlId, ResourceRef};
use crate::shutdown::Shutdown;
use crate::store::{Channel, Millis, Notice, OutboxEntry, RemediationKind, Store, StoreError};
use crate::telemetry::{FindingsUpdated, InternalEvent, OutboxLength};

/// Entries handled per round (each is one resource: a GetFindings and a BatchUpdateFindings).
const BATCH: usize = 10;
/// `BatchUpdateFindings` takes at most 100 identifiers.
const MAX_IDENTIFIERS: usize = 100;
/// Security Hub's limit on a note.
const MAX_NOTE_CHARS: usize = 512;
/// `Note.UpdatedBy`.
const UPDATED_BY: &str = "sagemaker-remediator";

/// The findings update an outcome calls for, if any (never for a dry run).
pub fn update_for(outcome: &Outcome<'_>) -> Option<Notice> {
    if outcome.dry_run {
        return None;
    }
    let r = outcome.resource;
    let controls: Vec<&str> = outcome.controls.iter().map(|c| c.as_str()).collect();
    let controls_text = controls.join(" ");
    let pass = if controls.len() == 1 {
        "passes"
    } else {
        "pass"
    };
    let (status, note) = match outcome.detail_type {
        DetailType::Succeeded if outcome.kind == Some(RemediationKind::EndpointReplace) => (
            "RESOLVED",
            format!(
                "Replaced by sagemaker-remediator (endpoint-replace): {}; the replacement passes \
                 {controls_text}. This endpoint config is left in place, unused, for you to \
                 delete when no longer needed.",
                outcome.reason.unwrap_or("every endpoint moved")
            ),
        ),
        DetailType::Succeeded => (
            "RESOLVED",
            format!(
                "Fixed by sagemaker-remediator ({}): {controls_text} now {pass}.{}",
                outcome.kind.map(|k| k.as_str()).unwrap_or("fix"),
                // An IaC-managed resource: the outcome states the drift.
                outcome
                    .reason
                    .and_then(|r| r.strip_prefix("fixed; "))
                    .map(|drift| format!(" {drift}."))
                    .unwrap_or_default()
            ),
        ),
        DetailType::Failed => (
            "NOTIFIED",
            format!(
                "sagemaker-remediator could not fix {controls_text}: {}",
                outcome.reason.unwrap_or("unknown error")
            ),
        ),
        DetailType::RecreationRequired => (
            "NOTIFIED",
            format!(
                "sagemaker-remediator: {controls_text} cannot (or may not) be fixed in place; a \
                 recreation plan is in the journal.{}",
                outcome
                    .reason
                    .filter(|r| !r.starts_with("flagged"))
                    .map(|r| format!(" {r}."))
                    .unwrap_or_default()
            ),
        ),
        DetailType::PendingApproval => (
            "NOTIFIED",
            format!("sagemaker-remediator: a fix of {controls_text} waits for approval."),
        ),
        DetailType::Planned | DetailType::Scheduled | DetailType::EnforcementPaused => return None,
    };
    Some(Notice {
        channel: Channel::Findings,
        event_id: new_event_id(),
        detail_type: status.to_string(),
        detail: json!({
            "account": r.account,
            "region": r.region,
            "resource_arn": r.arn,
            "controls": controls,
            "note": note,
        }),
        at: outcome.at,
    })
}

/// The update that suppresses the active findings of an exempt `control`, with `note` saying
/// why.
pub fn suppression(resource: &ResourceRef, control: ControlId, note: String, at: Millis) -> Notice {
    Notice {
        channel: Channel::Findings,
        event_id: new_event_id(),
        detail_type: "SUPPRESSED".to_string(),
        detail: json!({
            "account": resource.account,
            "region": resource.region,
            "resource_arn": resource.arn,
            "controls": [control.as_str()],
            "note": note,
        }),
        at,
    }
}

/// The note as written: the stored text, the journal entry, within Security Hub's limit.
pub fn note_text(note: &str, remediation_id: Option<i64>, resource_arn: &str) -> String {
    let journal = match remediation_id {
        Some(id) => format!(" Journal: remediation #{id} (sagemaker-remediator remediations --resource {resource_arn})."),
        None => format!(" Journal: sagemaker-remediator remediations --resource {resource_arn}."),
    };
    let text = format!("{note}{journal}");
    if text.chars().count() <= MAX_NOTE_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_NOTE_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The write-back sender.
pub struct Updater<S: Store> {
    pub store: Arc<S>,
    pub base: SdkConfig,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub wake: Arc<Notify>,
    pub backoff: Backoff,
    /// Security Hub clients by (account, region).
    pub clients: Mutex<HashMap<(String, String), aws_sdk_securityhub::Client>>,
}

/// Why one entry was not done.
struct NotDone(String);

impl<S: Store> Updater<S> {
    /// Updates until shutdown; what is left stays in the outbox for the next start.
    pub async fn run(self, shutdown: Shutdown) {
        let (store, clock, wake) = (self.store.clone(), self.clock, self.wake.clone());
        super::drain::run(
            &*store,
            Channel::Findings,
            &clock,
            &wake,
            shutdown,
            BATCH,
            || self.update_due(),
        )
        .await;
    }

    /// Handles one round of due entries; how many were due.
    ///
    /// # Errors
    ///
    /// When the outbox cannot be read or updated (the entries stay, and are tried again).
    pub async fn update_due(&self) -> Result<usize, StoreError> {
        let due = self
            .store
            .outbox_due(Channel::Findings, self.clock.now(), BATCH)?;
        for entry in &due {
            match self.update(entry).await {
                Ok(()) => self
                    .store
                    .outbox_delivered(std::slice::from_ref(&entry.notice.event_id))?,
                Err(NotDone(why)) => self.retry(entry, &why, self.clock.now())?,
            }
        }
        OutboxLength("findings", self.store.outbox_len(Channel::Findings)?).emit(&self.metrics);
        Ok(due.len())
    }

    async fn update(&self, entry: &OutboxEntry) -> Result<(), NotDone> {
        let d = &entry.notice.detail;
        let text = |k: &str| d[k].as_str().unwrap_or_default().to_string();
        let (account, region, arn) = (text("account"), text("region"), text("resource_arn"));
        let status = WorkflowStatus::from(entry.notice.detail_type.as_str());
        let controls: Vec<String> = d["controls"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let client = self.client(&account, &region).await;
        // A retry skips the findings an earlier attempt already moved (only the unprocessed
        // ones are left to do).
        let skip = (entry.attempts > 0).then_some(&status);
        let found = self.active_findings(&client, &arn, &controls, skip).await?;
        if found.is_empty() {
            tracing::info!(event = "findings_none_active", resource_arn = %arn, controls = %controls.join(" "), "no active finding to update");
            return Ok(());
        }
        let note = note_text(&text("note"), entry.remediation_id, &arn);
        for chunk in found.chunks(MAX_IDENTIFIERS) {
            let out = client
                .batch_update_findings()
                .set_finding_identifiers(Some(chunk.to_vec()))
                .workflow(WorkflowUpdate::builder().status(status.clone()).build())
                .note(
                    NoteUpdate::builder()
                        .text(&note)
                        .updated_by(UPDATED_BY)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| {
                    NotDone(AwsError::from_sdk("BatchUpdateFindings", Some(&arn), e).to_string())
                })?;
            let unprocessed = out.unprocessed_findings();
            if let Some(first) = unprocessed.first() {
                return Err(NotDone(format!(
                    "{} of {} findings unprocessed ({}: {})",
                    unprocessed.len(),
                    chunk.len(),
                    first.error_code().unwrap_or("no code"),
                    first.error_message().unwrap_or_default()
                )));
            }
            FindingsUpdated {
                resource_arn: &arn,
                status: status.as_str(),
                count: chunk.len(),
            }
            .emit(&self.metrics);
        }
        Ok(())
    }

    /// The active findings of `controls` about `arn` still `NEW` or `NOTIFIED`, but not those
    /// already in `skip`.
    async fn active_findings(
        &self,
        client: &aws_sdk_securityhub::Client,
        arn: &str,
        controls: &[String],
        skip: Option<&WorkflowStatus>,
    ) -> Result<Vec<AwsSecurityFindingIdentifier>, NotDone> {
        let equals = |v: &str| {
            StringFilter::builder()
                .value(v)
                .comparison(StringFilterComparison::Equals)
                .build()
        };
        let filters = AwsSecurityFindingFilters::builder()
            .resource_id(equals(arn))
            .set_compliance_security_control_id(Some(controls.iter().map(|c| equals(c)).collect()))
            .record_state(equals("ACTIVE"))
            .workflow_status(equals("NEW"))
            .workflow_status(equals("NOTIFIED"))
            .build();
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = client
                .get_findings()
                .filters(filters.clone())
                .max_results(100)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    NotDone(AwsError::from_sdk("GetFindings", Some(arn), e).to_string())
                })?;
            for f in out.findings() {
                let current = f.workflow().and_then(|w| w.status());
                if skip.is_some() && current == skip {
                    continue;
                }
                let id = AwsSecurityFindingIdentifier::builder()
                    .id(f.id().unwrap_or_default())
                    .product_arn(f.product_arn().unwrap_or_default())
                    .build();
                found.push(id);
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(found)
    }

    /// The client for the account where the findings of `account` are updated.
    async fn client(&self, account: &str, region: &str) -> aws_sdk_securityhub::Client {
        let admin = &self.config.findings.administrator_account;
        let owner = if admin.is_empty() {
            account
        } else {
            admin.as_str()
        };
        let key = (owner.to_string(), region.to_string());
        if let Some(c) = self
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return c.clone();
        }
        let sdk = match self.config.account(owner) {
            Some(a) => crate::aws::account_config(&self.base, &a, region).await,
            None => self
                .base
                .to_builder()
                .region(aws_config::Region::new(region.to_string()))
                .build(),
        };
        let client = aws_sdk_securityhub::Client::new(&sdk);
        self.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, client.clone());
        client
    }

    fn retry(&self, e: &OutboxEntry, why: &str, now: Millis) -> Result<(), StoreError> {
        let attempts = self.backoff.reschedule(&*self.store, e, why, now)?;
        tracing::warn!(event = "findings_update_retried", event_id = %e.notice.event_id, attempts, error = why, "kept in the outbox for another attempt");
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::model::{ControlId, ResourceRef, ResourceType};
    use crate::store::RemediationKind;

    fn outcome<'a>(
        resource: &'a ResourceRef,
        detail_type: DetailType,
        dry_run: bool,
    ) -> Outcome<'a> {
        Outcome {
            detail_type,
            resource,
            controls: &[ControlId::SageMaker3],
            dry_run,
            kind: Some(RemediationKind::NotebookFix),
            plan: None,
            reason: Some("UpdateNotebookInstance (nb): access-denied: no"),
            scheduled_for: None,
            at: 5,
        }
    }

    #[test]
    fn outcomes_map_to_workflow_statuses_and_dry_runs_write_nothing() {
        let r = ResourceRef {
            account: "111122223333".into(),
            region: "us-east-1".into(),
            resource_type: ResourceType::NotebookInstance,
            name: "nb".into(),
            arn: "arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/nb".into(),
        };
        let status = |t, dry| update_for(&outcome(&r, t, dry)).map(|n| n.detail_type);
        assert_eq!(
            status(DetailType::Succeeded, false).as_deref(),
            Some("RESOLVED")
        );
        assert_eq!(
            status(DetailType::Failed, false).as_deref(),
            Some("NOTIFIED")
        );
        assert_eq!(
            status(DetailType::RecreationRequired, false).as_deref(),
            Some("NOTIFIED")
        );
        assert_eq!(
            status(DetailType::PendingApproval, false).as_deref(),
            Some("NOTIFIED")
        );
        assert_eq!(status(DetailType::Planned, false), None);
        assert_eq!(status(DetailType::Succeeded, true), None);
        let failed = update_for(&outcome(&r, DetailType::Failed, false)).unwrap();
        assert_eq!(failed.channel, Channel::Findings);
        assert_eq!(failed.detail["controls"], json!(["SageMaker.3"]));
        assert!(failed.detail["note"]
            .as_str()
            .unwrap()
            .contains("access-denied"));
    }

    #[test]
    fn a_replaced_endpoint_config_is_resolved_with_a_note_that_it_stays_in_place() {
        let r = ResourceRef {
            account: "111122223333".into(),
            region: "us-east-1".into(),
            resource_type: ResourceType::EndpointConfig,
            name: "churn".into(),
            arn: "arn:aws:sagemaker:us-east-1:111122223333:endpoint-config/churn".into(),
        };
        let mut o = outcome(&r, DetailType::Succeeded, false);
        o.controls = &[ControlId::SageMaker4];
        o.kind = Some(RemediationKind::EndpointReplace);
        o.reason = Some("every endpoint that used churn (a) now serves churn-ha");
        let n = update_for(&o).unwrap();
        assert_eq!(n.detail_type, "RESOLVED");
        let note = n.detail["note"].as_str().unwrap();
        assert!(note.starts_with("Replaced by sagemaker-remediator (endpoint-replace): every endpoint that used churn (a) now serves churn-ha; the replacement passes SageMaker.4."), "{note}");
        assert!(note.contains("left in place, unused"), "{note}");
    }

    #[test]
    fn notes_name_the_journal_entry_and_stay_within_the_limit() {
        let arn = "arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/nb";
        let text = note_text("Fixed.", Some(4), arn);
        assert_eq!(
            text,
            format!("Fixed. Journal: remediation #4 (sagemaker-remediator remediations --resource {arn}).")
        );
        let long = note_text(&"x".repeat(600), None, arn);
        assert_eq!(long.chars().count(), MAX_NOTE_CHARS);
        assert!(long.ends_with('…'));
    }
}
