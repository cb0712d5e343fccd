//! Drains the outbox onto the event bus with `PutEvents`: up to 10 entries per call (the API's
//! limit), each entry's own result checked (`FailedEntryCount` and the per-entry error code),
//! whatever the bus did not take kept with a growing delay, and a throttled or unreachable
//! bus survived the same way. An entry leaves the outbox only once the bus accepted it.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use tokio::sync::Notify;

use super::{detail_as_sent, SOURCE};
use crate::aws::AwsError;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::store::{Channel, Millis, OutboxEntry, Store, StoreError};
use crate::telemetry::{InternalEvent, NotificationSent, OutboxLength};

/// `PutEvents` takes at most 10 entries.
pub const BATCH: usize = 10;

/// The delays between failed deliveries of one notice: `first`, doubling up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The delay after `attempts` failed deliveries.
    pub fn after(&self, attempts: u32) -> Duration {
        self.first
            .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(20)))
            .min(self.max)
    }

    /// Keeps `entry` in the outbox for another attempt after this delay, with `why` it failed;
    /// its failed attempts now.
    ///
    /// # Errors
    ///
    /// When the store cannot record it.
    pub fn reschedule<S: Store + ?Sized>(
        &self,
        store: &S,
        entry: &OutboxEntry,
        why: &str,
        now: Millis,
    ) -> Result<u32, StoreError> {
        let attempts = entry.attempts.saturating_add(1);
        let delay = i64::try_from(self.after(attempts).as_millis()).unwrap_or(i64::MAX);
        store.outbox_retry(
            &entry.notice.event_id,
            attempts,
            now.saturating_add(delay),
            why,
        )?;
        Ok(attempts)
    }
}

/// The outbox's sender.
pub struct Sender<S: Store> {
    pub store: Arc<S>,
    pub events: aws_sdk_eventbridge::Client,
    /// The bus's name or ARN.
    pub bus: String,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    /// Woken when a notice was written.
    pub wake: Arc<Notify>,
    pub backoff: Backoff,
}

impl<S: Store> Sender<S> {
    /// Sends until shutdown; what is left stays in the outbox for the next start.
    pub async fn run(self, shutdown: Shutdown) {
        tracing::info!(event = "notifications_on", bus = %self.bus);
        let (store, clock, wake) = (self.store.clone(), self.clock, self.wake.clone());
        super::drain::run(
            &*store,
            Channel::Events,
            &clock,
            &wake,
            shutdown,
            BATCH,
            || self.send_due(),
        )
        .await;
    }

    /// Sends one batch of due entries; how many were due.
    ///
    /// # Errors
    ///
    /// When the outbox cannot be read or updated (the entries stay, and are sent again).
    pub async fn send_due(&self) -> Result<usize, StoreError> {
        let due = self
            .store
            .outbox_due(Channel::Events, self.clock.now(), BATCH)?;
        if due.is_empty() {
            OutboxLength("events", self.store.outbox_len(Channel::Events)?).emit(&self.metrics);
            return Ok(0);
        }
        crate::reconcile::crash_point("PutEvents", "before");
        let entries: Vec<PutEventsRequestEntry> = due.iter().map(|e| self.entry(e)).collect();
        let sent = self
            .events
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await;
        let now = self.clock.now();
        match sent {
            Ok(out) => {
                let results = out.entries();
                let mut delivered = Vec::new();
                for (i, entry) in due.iter().enumerate() {
                    let failure = match results.get(i) {
                        Some(r) if r.error_code().is_none() && r.event_id().is_some() => None,
                        Some(r) => Some(format!(
                            "{}: {}",
                            r.error_code().unwrap_or("no event id"),
                            r.error_message().unwrap_or_default()
                        )),
                        None => Some("the bus returned no result for the entry".to_string()),
                    };
                    match failure {
                        None => {
                            delivered.push(entry.notice.event_id.clone());
                            self.delivered(entry);
                        }
                        Some(why) => self.retry(entry, &why, now)?,
                    }
                }
                self.store.outbox_delivered(&delivered)?;
            }
            Err(err) => {
                let err = AwsError::from_sdk("PutEvents", Some(&self.bus), err);
                for entry in &due {
                    self.retry(entry, &err.to_string(), now)?;
                }
            }
        }
        OutboxLength("events", self.store.outbox_len(Channel::Events)?).emit(&self.metrics);
        Ok(due.len())
    }

    fn entry(&self, e: &OutboxEntry) -> PutEventsRequestEntry {
        let detail = detail_as_sent(&e.notice.detail, e.remediation_id);
        let mut entry = PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(&e.notice.detail_type)
            .detail(detail.to_string())
            .event_bus_name(&self.bus)
            .time(aws_smithy_types::DateTime::from_millis(e.notice.at));
        if let Some(arn) = detail["resource"]["arn"].as_str() {
            entry = entry.resources(arn);
        }
        entry.build()
    }

    fn delivered(&self, e: &OutboxEntry) {
        NotificationSent {
            event_id: &e.notice.event_id,
            detail_type: &e.notice.detail_type,
            failure: None,
        }
        .emit(&self.metrics);
    }

    fn retry(&self, e: &OutboxEntry, why: &str, now: Millis) -> Result<(), StoreError> {
        let attempts = self.backoff.reschedule(&*self.store, e, why, now)?;
        NotificationSent {
            event_id: &e.notice.event_id,
            detail_type: &e.notice.detail_type,
            failure: Some((why, attempts)),
        }
        .emit(&self.metrics);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_maximum() {
        let b = Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        let delays: Vec<u64> = (1..=6).map(|a| b.after(a).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.after(u32::MAX), Duration::from_secs(10));
    }
}
