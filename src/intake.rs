//! The SQS consumer: long-polls the queue the EventBridge rules deliver to, parses each
//! message into triggers, records them durably, and only then deletes the message.
//!
//! # Guarantees
//! - Persist before acknowledging: a message is deleted only after its triggers are committed
//!   to the store. A crash between the two re-delivers the message; triggers coalesce by
//!   resource, so the duplicate is harmless.
//! - A malformed message (not JSON, truncated, oversized, missing fields) is logged with its
//!   message id and reason, counted, and left on the queue: its redrive policy moves it to the
//!   dead-letter queue after `maxReceiveCount` receipts. It never stops the consumer.
//! - A well-formed message about something we do not handle is logged, counted and deleted.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};

use crate::aws::AwsError;
use crate::events::{self, Parsed};
use crate::http::Readiness;
use crate::metrics::Metrics;
use crate::reconcile::now_ms;
use crate::shutdown::Shutdown;
use crate::store::Store;
use crate::telemetry::{EventReceived, InternalEvent, QueueLag, Received};

/// Long polling as the reference recommends: the longest wait, the largest batch.
const WAIT_SECONDS: i32 = 20;
const MAX_MESSAGES: i32 = 10;

/// One consumer of one queue.
pub struct Intake<S: Store> {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub store: Arc<S>,
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<Readiness>,
    /// Woken after new triggers are recorded.
    pub wake: Arc<tokio::sync::Notify>,
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Triggers recorded: delete.
    Recorded {
        family: &'static str,
        triggers: usize,
    },
    /// Nothing for us: delete.
    Irrelevant {
        family: &'static str,
        reason: String,
    },
    /// Malformed: keep for the dead-letter queue.
    Malformed { reason: String },
    /// The store failed: keep, it will be received again.
    StoreFailed { reason: String },
}

impl Disposition {
    pub fn delete(&self) -> bool {
        matches!(
            self,
            Disposition::Recorded { .. } | Disposition::Irrelevant { .. }
        )
    }
}

/// Parses one message body and records its triggers. Pure apart from the store.
pub fn handle<S: Store + ?Sized>(store: &S, body: &str) -> Disposition {
    handle_batch(store, &[body])
        .pop()
        .unwrap_or(Disposition::Malformed {
            reason: "no message".to_string(),
        })
}

/// Parses a received batch of message bodies and records all their triggers in one durable
/// write (one transaction, one fsync for SQLite; one transaction for DynamoDB): what each
/// message became, in order. When that write fails, every message that carried triggers is
/// `StoreFailed` (kept on the queue), so nothing is deleted before it is stored.
pub fn handle_batch<S: Store + ?Sized>(store: &S, bodies: &[&str]) -> Vec<Disposition> {
    let parsed: Vec<_> = bodies.iter().map(|b| events::parse(b)).collect();
    let triggers: Vec<_> = parsed
        .iter()
        .filter_map(|p| match p {
            Ok(Parsed::Triggers(t)) => Some(t.iter().cloned()),
            _ => None,
        })
        .flatten()
        .collect();
    let stored = match triggers.is_empty() {
        true => Ok(()),
        false => store.enqueue(&triggers, now_ms()),
    };
    parsed
        .into_iter()
        .map(|p| match p {
            Ok(Parsed::Triggers(triggers)) => {
                let family = triggers
                    .first()
                    .map(|t| t.family.as_str())
                    .unwrap_or("unknown");
                match &stored {
                    Ok(()) => Disposition::Recorded {
                        family,
                        triggers: triggers.len(),
                    },
                    Err(e) => Disposition::StoreFailed {
                        reason: e.to_string(),
                    },
                }
            }
            Ok(Parsed::Activity(used)) => {
                let mut result = Ok(());
                for a in &used {
                    result = result.and(store.record_activity(&a.arn, a.at));
                }
                match result {
                    Ok(()) => Disposition::Recorded {
                        family: "cloudtrail",
                        triggers: 0,
                    },
                    Err(e) => Disposition::StoreFailed {
                        reason: e.to_string(),
                    },
                }
            }
            Ok(Parsed::Irrelevant { family, reason }) => Disposition::Irrelevant {
                family: family.map(|f| f.as_str()).unwrap_or("other"),
                reason,
            },
            Err(e) => Disposition::Malformed {
                reason: e.to_string(),
            },
        })
        .collect()
}

impl<S: Store> Intake<S> {
    /// Receives until shutdown. A long poll in flight is abandoned at shutdown: messages it
    /// may have received become visible again after the queue's visibility timeout.
    ///
    /// The first receive does not wait for messages, so the queue is known to answer (and
    /// `/readyz` can say so) at once rather than after a long poll of an empty queue.
    pub async fn run(self, shutdown: Shutdown) {
        let mut failures: u32 = 0;
        let mut wait_seconds = 0;
        while !shutdown.is_requested() {
            let received = tokio::select! {
                r = self.receive(wait_seconds) => r,
                _ = shutdown.requested() => break,
            };
            match received {
                Ok(messages) => {
                    failures = 0;
                    wait_seconds = WAIT_SECONDS;
                    self.readiness.queue.store(true, Ordering::Relaxed);
                    self.process(messages).await;
                }
                Err(e) => {
                    failures += 1;
                    let delay = Duration::from_secs(1u64 << failures.min(5));
                    tracing::warn!(event = "sqs_receive_failed", error = %e, retry_in_secs = delay.as_secs());
                    if !shutdown.sleep(delay).await {
                        break;
                    }
                }
            }
        }
        tracing::info!(event = "intake_stopped", queue_url = %self.queue_url);
    }

    async fn receive(&self, wait_seconds: i32) -> Result<Vec<Message>, AwsError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .wait_time_seconds(wait_seconds)
            .max_number_of_messages(MAX_MESSAGES)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ReceiveMessage", Some(&self.queue_url), e))?;
        Ok(out.messages.unwrap_or_default())
    }

    /// Handles a batch, then deletes what may be deleted in one call.
    async fn process(&self, messages: Vec<Message>) {
        let mut delete = Vec::new();
        let now = now_ms();
        let bodies: Vec<&str> = messages.iter().map(|m| m.body().unwrap_or("")).collect();
        let dispositions = handle_batch(&*self.store, &bodies);
        for (i, (m, disposition)) in messages.iter().zip(dispositions).enumerate() {
            let id = m.message_id().unwrap_or("?");
            if let Some(sent) = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                .and_then(|s| s.parse::<i64>().ok())
            {
                let lag = u64::try_from(now - sent).unwrap_or(0);
                QueueLag(Duration::from_millis(lag)).emit(&self.metrics);
            }
            let received = match &disposition {
                Disposition::Recorded { family, triggers } => Received::Recorded {
                    family,
                    triggers: *triggers,
                },
                Disposition::Irrelevant { family, reason } => {
                    Received::Irrelevant { family, reason }
                }
                Disposition::Malformed { reason } => Received::Malformed {
                    receives: m
                        .attributes()
                        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                        .map(String::as_str)
                        .unwrap_or("?"),
                    reason,
                },
                Disposition::StoreFailed { reason } => Received::StoreFailed { reason },
            };
            EventReceived {
                message_id: id,
                received,
            }
            .emit(&self.metrics);
            if disposition.delete() {
                if let Some(handle) = m.receipt_handle() {
                    if let Ok(entry) = DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()
                    {
                        delete.push(entry);
                    }
                }
            }
        }
        if !messages.is_empty() {
            self.wake.notify_one();
        }
        if delete.is_empty() {
            return;
        }
        match self
            .sqs
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(delete))
            .send()
            .await
        {
            Ok(out) => {
                for failed in out.failed() {
                    // Recorded already; the message will come back and coalesce.
                    tracing::warn!(event = "sqs_delete_failed", entry = failed.id(), code = failed.code(), message = ?failed.message());
                }
            }
            Err(e) => {
                let e = AwsError::from_sdk("DeleteMessageBatch", Some(&self.queue_url), e);
                tracing::warn!(event = "sqs_delete_failed", error = %e, "messages will be received again; their triggers coalesce");
            }
        }
    }
}
