//! The outbox: notifications written in the same transaction as the journal change that causes
//! them, and drained per [`Channel`] by a sender (`notify::sender` for the event bus,
//! `notify::findings` for Security Hub) that deletes each one only once it took effect. A crash between the journal write and the send loses nothing: the entry is still
//! there after the restart, with the same event id, so delivery is at least once and receivers
//! de-duplicate by that id.

use super::Millis;

/// Where a notice goes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Channel {
    /// An event on the EventBridge bus (`notifications.event_bus`).
    Events,
    /// A workflow status and note on the resource's Security Hub findings.
    Findings,
}

/// One notification: an event for the bus, or an update of Security Hub findings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Notice {
    pub channel: Channel,
    /// Stable across retries and restarts (receivers de-duplicate by it).
    pub event_id: String,
    /// EventBridge's `DetailType`, e.g. `Remediation Succeeded` (for findings: the workflow
    /// status to set, e.g. `RESOLVED`).
    pub detail_type: String,
    /// The event's detail (the journal link is completed when it is sent), or the findings
    /// update.
    pub detail: serde_json::Value,
    pub at: Millis,
}

/// A notice in the outbox, with its delivery attempts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
