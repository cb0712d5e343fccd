//! The outbox: notifications written in the same transaction as the journal change that causes
//! them, and drained by a sender (`notify::sender`) that deletes each one only once the bus has
//! taken it. A crash between the journal write and the send loses nothing: the entry is still
//! there after the restart, with the same event id, so delivery is at least once and receivers
//! de-duplicate by that id.

use super::Millis;

/// One notification for the event bus.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Stable across retries and restarts (receivers de-duplicate by it).
    pub event_id: String,
    /// EventBridge's `DetailType`, e.g. `Remediation Succeeded`.
    pub detail_type: String,
    /// The event's detail; the journal link is completed when it is sent.
    pub detail: serde_json::Value,
    pub at: Millis,
}

/// A notice in the outbox, with its delivery attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub notice: Notice,
    /// The journal entry whose change wrote it (`None` for flags).
    pub remediation_id: Option<i64>,
    /// Failed deliveries so far.
    pub attempts: u32,
    /// Not to be sent before this time.
    pub next_attempt_at: Millis,
    /// Why the last delivery failed.
    pub last_error: Option<String>,
}
