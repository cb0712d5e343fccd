//! Internal events, in the style of vector's: every outcome the daemon reports is one struct
//! whose [`InternalEvent::emit`] writes its log line (a stable `event` name) and counts its
//! metric, in one place, so a log line and its counter cannot drift apart. Every metric an event
//! counts is declared in [`crate::metrics::METRICS`] (a test emits each event and checks that it
//! is rendered).

use std::time::Duration;

use crate::aws::AwsError;
use crate::metrics::Metrics;
use crate::model::{ControlId, Status};

/// Something worth a log line and a count.
pub trait InternalEvent {
    fn emit(self, metrics: &Metrics);
}

/// What became of one SQS message.
#[derive(Debug, Clone, Copy)]
pub enum Received<'a> {
    /// Recorded as `triggers` triggers of `family`.
    Recorded { family: &'a str, triggers: usize },
    /// A well-formed event about something else: deleted.
    Irrelevant { family: &'a str, reason: &'a str },
    /// Not an event we can read: left for the dead-letter queue.
    Malformed { receives: &'a str, reason: &'a str },
    /// The store refused the trigger: left on the queue.
    StoreFailed { reason: &'a str },
}

/// `smr_events_received_total{family, outcome}`, logged as `event_recorded`,
/// `event_irrelevant`, `event_malformed` or `event_not_recorded`.
#[derive(Debug, Clone, Copy)]
pub struct EventReceived<'a> {
    pub message_id: &'a str,
    pub received: Received<'a>,
}

impl InternalEvent for EventReceived<'_> {
    fn emit(self, metrics: &Metrics) {
        let id = self.message_id;
        let (family, outcome) = match self.received {
            Received::Recorded { family, triggers } => {
                tracing::debug!(event = "event_recorded", message_id = id, family, triggers);
                (family, "triggered")
            }
            Received::Irrelevant { family, reason } => {
                tracing::info!(event = "event_irrelevant", message_id = id, family, reason);
                (family, "irrelevant")
            }
            Received::Malformed { receives, reason } => {
                tracing::warn!(
                    event = "event_malformed",
                    message_id = id,
                    receives,
                    reason,
                    "left for the dead-letter queue"
                );
                ("unknown", "malformed")
            }
            Received::StoreFailed { reason } => {
                tracing::error!(
                    event = "event_not_recorded",
                    message_id = id,
                    reason,
                    "left on the queue"
                );
                ("unknown", "store_error")
            }
        };
        metrics.inc(
            "smr_events_received_total",
            &[("family", family), ("outcome", outcome)],
        );
    }
}

/// `smr_queue_lag_seconds`: the age of the newest received message.
#[derive(Debug, Clone, Copy)]
pub struct QueueLag(pub Duration);

impl InternalEvent for QueueLag {
    fn emit(self, metrics: &Metrics) {
        metrics.set("smr_queue_lag_seconds", &[], self.0.as_secs_f64());
    }
}

/// `smr_evaluations_total{control, status}`: one control judged one resource.
#[derive(Debug, Clone, Copy)]
pub struct Evaluated {
    pub control: ControlId,
    pub status: Status,
}

impl InternalEvent for Evaluated {
    fn emit(self, metrics: &Metrics) {
        metrics.inc(
            "smr_evaluations_total",
            &[
                ("control", self.control.as_str()),
                ("status", self.status.as_str()),
            ],
        );
    }
}

/// `smr_remediations_total{control, outcome}`, logged as `remediation_ended` (debug: the
/// journal and the step logs say the rest).
#[derive(Debug, Clone, Copy)]
pub struct RemediationEnded<'a> {
    pub resource_arn: &'a str,
    pub control: ControlId,
    /// `fixed`, `already-compliant`, `gone`, `failed`, `interrupted`, `dry-run`, `flagged`,
    /// `flagged-dry-run`, `exempt` or `ignored`.
    pub outcome: &'a str,
}

impl InternalEvent for RemediationEnded<'_> {
    fn emit(self, metrics: &Metrics) {
        // A failure is a warning (the deploy's failed-remediations alarm counts these lines).
        match self.outcome {
            "failed" => tracing::warn!(
                event = "remediation_ended",
                resource_arn = self.resource_arn,
                control = self.control.as_str(),
                outcome = self.outcome
            ),
            _ => tracing::debug!(
                event = "remediation_ended",
                resource_arn = self.resource_arn,
                control = self.control.as_str(),
                outcome = self.outcome
            ),
        }
        metrics.inc(
            "smr_remediations_total",
            &[
                ("control", self.control.as_str()),
                ("outcome", self.outcome),
            ],
        );
    }
}

/// `smr_remediations_held_total{reason}`, logged as `remediation_held`: a fix not started
/// because of a remembered failure.
#[derive(Debug, Clone, Copy)]
pub struct RemediationHeld<'a> {
    pub resource_arn: &'a str,
    pub kind: &'a str,
    /// `retry-later`, `needs-person` or `quiet-period`.
    pub reason: &'static str,
    pub failures: u32,
    /// When it is due, in words.
    pub until: &'a str,
    pub last_failure: &'a str,
}

impl InternalEvent for RemediationHeld<'_> {
    fn emit(self, metrics: &Metrics) {
        tracing::debug!(
            event = "remediation_held",
            resource_arn = self.resource_arn,
            kind = self.kind,
            reason = self.reason,
            failures = self.failures,
            until = self.until,
            last_failure = self.last_failure,
        );
        metrics.inc("smr_remediations_held_total", &[("reason", self.reason)]);
    }
}

/// `smr_workflow_retries_total{operation, class}`, logged as `workflow_retry`: a throttled or
/// transient call retried inside a waiting fix.
#[derive(Debug, Clone, Copy)]
pub struct WorkflowRetry<'a> {
    pub resource_arn: &'a str,
    pub error: &'a AwsError,
}

impl InternalEvent for WorkflowRetry<'_> {
    fn emit(self, metrics: &Metrics) {
        tracing::debug!(
            event = "workflow_retry",
            resource_arn = self.resource_arn,
            error = %self.error
        );
        metrics.inc(
            "smr_workflow_retries_total",
            &[
                ("operation", self.error.operation),
                ("class", self.error.class.as_str()),
            ],
        );
    }
}

/// `smr_aws_calls_total{operation, class}`: one AWS call and how it ended (`ok` or the error
/// class).
#[derive(Debug, Clone, Copy)]
pub struct AwsCall {
    pub operation: &'static str,
    pub class: &'static str,
}

impl InternalEvent for AwsCall {
    fn emit(self, metrics: &Metrics) {
        metrics.inc(
            "smr_aws_calls_total",
            &[("operation", self.operation), ("class", self.class)],
        );
    }
}

/// `smr_reconciles_total{result}`; a failed one is logged as `reconcile_failed` with its retry.
pub struct ReconcileEnded<'a> {
    /// `None` when it succeeded; else the error, the failed attempts and the retry delay.
    pub failure: Option<(&'a dyn std::fmt::Display, u32, Duration)>,
}

impl InternalEvent for ReconcileEnded<'_> {
    fn emit(self, metrics: &Metrics) {
        let result = match self.failure {
            None => "ok",
            Some((error, attempts, retry_in)) => {
                tracing::warn!(
                    event = "reconcile_failed",
                    error = %error,
                    attempts,
                    retry_in_secs = retry_in.as_secs()
                );
                "error"
            }
        };
        metrics.inc("smr_reconciles_total", &[("result", result)]);
    }
}

/// `smr_pending_triggers`: resources waiting to be reconciled.
#[derive(Debug, Clone, Copy)]
pub struct PendingTriggers(pub u64);

impl InternalEvent for PendingTriggers {
    fn emit(self, metrics: &Metrics) {
        metrics.set("smr_pending_triggers", &[], self.0 as f64);
    }
}

/// `smr_notifications_total{result}`: notices the bus took (`delivered`) or did not take
/// this time (`retried`), logged as `notification_delivered` or `notification_retried`.
#[derive(Debug, Clone, Copy)]
pub struct NotificationSent<'a> {
    pub event_id: &'a str,
    pub detail_type: &'a str,
    /// Why the bus did not take it, with the attempts so far.
    pub failure: Option<(&'a str, u32)>,
}

impl InternalEvent for NotificationSent<'_> {
    fn emit(self, metrics: &Metrics) {
        let (id, detail_type) = (self.event_id, self.detail_type);
        let result = match self.failure {
            None => {
                tracing::info!(event = "notification_delivered", event_id = id, detail_type);
                "delivered"
            }
            Some((error, attempts)) => {
                tracing::warn!(
                    event = "notification_retried",
                    event_id = id,
                    detail_type,
                    attempts,
                    error,
                    "kept in the outbox for another attempt"
                );
                "retried"
            }
        };
        metrics.inc("smr_notifications_total", &[("result", result)]);
    }
}

/// `smr_outbox_notices{channel}`: notices waiting in the outbox.
#[derive(Debug, Clone, Copy)]
pub struct OutboxLength(pub &'static str, pub u64);

impl InternalEvent for OutboxLength {
    fn emit(self, metrics: &Metrics) {
        metrics.set("smr_outbox_notices", &[("channel", self.0)], self.1 as f64);
    }
}

/// `smr_exemptions{state}`: the configured exemptions in force and expired.
#[derive(Debug, Clone, Copy)]
pub struct Exemptions {
    pub active: usize,
    pub expired: usize,
}

impl InternalEvent for Exemptions {
    fn emit(self, metrics: &Metrics) {
        if self.expired > 0 {
            tracing::warn!(
                event = "exemptions_expired",
                expired = self.expired,
                "configured exemptions past their date no longer apply"
            );
        }
        metrics.set("smr_exemptions", &[("state", "active")], self.active as f64);
        metrics.set(
            "smr_exemptions",
            &[("state", "expired")],
            self.expired as f64,
        );
    }
}

/// `smr_findings_updated_total{status}`: Security Hub findings given a workflow status, logged
/// as `findings_updated`.
#[derive(Debug, Clone, Copy)]
pub struct FindingsUpdated<'a> {
    pub resource_arn: &'a str,
    pub status: &'a str,
    pub count: usize,
}

impl InternalEvent for FindingsUpdated<'_> {
    fn emit(self, metrics: &Metrics) {
        tracing::info!(
            event = "findings_updated",
            resource_arn = self.resource_arn,
            status = self.status,
            count = self.count
        );
        metrics.add(
            "smr_findings_updated_total",
            &[("status", self.status)],
            self.count as f64,
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::aws::ErrorClass;

    #[test]
    fn every_event_counts_a_declared_metric() {
        let error = AwsError {
            operation: "DescribeNotebookInstance",
            resource: None,
            class: ErrorClass::Throttled,
            code: None,
            message: "slow down".into(),
        };
        let metrics = Metrics::new();
        let arn = "arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/nb";
        for received in [
            Received::Recorded {
                family: "config",
                triggers: 1,
            },
            Received::Irrelevant {
                family: "other",
                reason: "EC2",
            },
            Received::Malformed {
                receives: "1",
                reason: "not JSON",
            },
            Received::StoreFailed { reason: "disk" },
        ] {
            EventReceived {
                message_id: "m",
                received,
            }
            .emit(&metrics);
        }
        QueueLag(Duration::from_millis(1500)).emit(&metrics);
        Evaluated {
            control: ControlId::SageMaker3,
            status: Status::Failed,
        }
        .emit(&metrics);
        RemediationEnded {
            resource_arn: arn,
            control: ControlId::SageMaker3,
            outcome: "fixed",
        }
        .emit(&metrics);
        RemediationHeld {
            resource_arn: arn,
            kind: "notebook-fix",
            reason: "needs-person",
            failures: 1,
            until: "a change",
            last_failure: "denied",
        }
        .emit(&metrics);
        WorkflowRetry {
            resource_arn: arn,
            error: &error,
        }
        .emit(&metrics);
        AwsCall {
            operation: "StopNotebookInstance",
            class: "ok",
        }
        .emit(&metrics);
        ReconcileEnded { failure: None }.emit(&metrics);
        ReconcileEnded {
            failure: Some((&"boom", 1, Duration::from_secs(5))),
        }
        .emit(&metrics);
        PendingTriggers(3).emit(&metrics);
        NotificationSent {
            event_id: "e1",
            detail_type: "Remediation Succeeded",
            failure: None,
        }
        .emit(&metrics);
        NotificationSent {
            event_id: "e2",
            detail_type: "Remediation Failed",
            failure: Some(("ThrottlingException", 1)),
        }
        .emit(&metrics);
        OutboxLength("events", 2).emit(&metrics);
        Exemptions {
            active: 1,
            expired: 2,
        }
        .emit(&metrics);
        FindingsUpdated {
            resource_arn: arn,
            status: "RESOLVED",
            count: 2,
        }
        .emit(&metrics);

        let text = metrics.render();
        for series in [
            "smr_events_received_total{family=\"config\",outcome=\"triggered\"} 1",
            "smr_events_received_total{family=\"other\",outcome=\"irrelevant\"} 1",
            "smr_events_received_total{family=\"unknown\",outcome=\"malformed\"} 1",
            "smr_events_received_total{family=\"unknown\",outcome=\"store_error\"} 1",
            "smr_queue_lag_seconds 1.5",
            "smr_evaluations_total{control=\"SageMaker.3\",status=\"FAILED\"} 1",
            "smr_remediations_total{control=\"SageMaker.3\",outcome=\"fixed\"} 1",
            "smr_remediations_held_total{reason=\"needs-person\"} 1",
            "smr_workflow_retries_total{class=\"throttled\",operation=\"DescribeNotebookInstance\"} 1",
            "smr_aws_calls_total{class=\"ok\",operation=\"StopNotebookInstance\"} 1",
            "smr_reconciles_total{result=\"ok\"} 1",
            "smr_reconciles_total{result=\"error\"} 1",
            "smr_pending_triggers 3",
            "smr_notifications_total{result=\"delivered\"} 1",
            "smr_notifications_total{result=\"retried\"} 1",
            "smr_outbox_notices{channel=\"events\"} 2",
            "smr_exemptions{state=\"expired\"} 2",
            "smr_exemptions{state=\"active\"} 1",
            "smr_findings_updated_total{status=\"RESOLVED\"} 2",
        ] {
            assert!(text.contains(series), "{series} missing from\n{text}");
        }
    }
}
