//! The outbox table of the SQLite store: inserts inside the callers' transactions, and the
//! senders' reads and deletes, per channel.

use rusqlite::{params, Connection, Row};

use crate::store::{Channel, Millis, Notice, OutboxEntry, StoreError};

pub(super) const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    channel         TEXT    NOT NULL,
    event_id        TEXT    NOT NULL UNIQUE,
    detail_type     TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    remediation_id  INTEGER,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (channel, next_attempt_at, seq);
";

const COLUMNS: &str = "channel, event_id, detail_type, detail, remediation_id, created_at, \
     attempts, next_attempt_at, last_error";

/// Adds `notices` to the outbox (inside the caller's transaction); a notice whose event id is
/// there already is left as it is.
pub(super) fn insert(
    conn: &Connection,
    notices: &[Notice],
    remediation_id: Option<i64>,
) -> rusqlite::Result<()> {
    for notice in notices {
        let channel: &str = notice.channel.into();
        conn.execute(
            &format!(
                "INSERT OR IGNORE INTO outbox ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?6, NULL)"
            ),
            params![
                channel,
                notice.event_id,
                notice.detail_type,
                notice.detail.to_string(),
                remediation_id,
                notice.at,
            ],
        )?;
    }
    Ok(())
}

/// The stored row, decoded after the lock is released.
pub(super) struct RawEntry {
    channel: String,
    event_id: String,
    detail_type: String,
    detail: String,
    remediation_id: Option<i64>,
    created_at: Millis,
    attempts: u32,
    next_attempt_at: Millis,
    last_error: Option<String>,
}

pub(super) fn due(
    conn: &Connection,
    channel: Channel,
    now: Millis,
    limit: usize,
) -> rusqlite::Result<Vec<RawEntry>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let channel: &str = channel.into();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE channel = ?1 AND next_attempt_at <= ?2 \
         ORDER BY next_attempt_at, seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![channel, now, limit], RawEntry::from_row)?;
    rows.collect()
}

impl RawEntry {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawEntry> {
        Ok(RawEntry {
            channel: row.get(0)?,
            event_id: row.get(1)?,
            detail_type: row.get(2)?,
            detail: row.get(3)?,
            remediation_id: row.get(4)?,
            created_at: row.get(5)?,
            attempts: row.get(6)?,
            next_attempt_at: row.get(7)?,
            last_error: row.get(8)?,
        })
    }

    pub(super) fn decode(self) -> Result<OutboxEntry, StoreError> {
        let corrupt = |message: String| StoreError::Corrupt {
            what: format!("outbox entry {}", self.event_id),
            message,
        };
        let detail = serde_json::from_str(&self.detail).map_err(|e| corrupt(e.to_string()))?;
        let channel = self
            .channel
            .parse()
            .map_err(|_| corrupt(format!("unknown channel `{}`", self.channel)))?;
        Ok(OutboxEntry {
            notice: Notice {
                channel,
                event_id: self.event_id,
                detail_type: self.detail_type,
                detail,
                at: self.created_at,
            },
            remediation_id: self.remediation_id,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at,
            last_error: self.last_error,
        })
    }
}
