//! The outbox table of the SQLite store: inserts inside the callers' transactions, and the
//! sender's reads and deletes.

use rusqlite::{params, Connection, Row};

use crate::store::{Millis, Notice, OutboxEntry, StoreError};

pub(super) const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL UNIQUE,
    detail_type     TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    remediation_id  INTEGER,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at, seq);
";

const COLUMNS: &str =
    "event_id, detail_type, detail, remediation_id, created_at, attempts, next_attempt_at, last_error";

/// Adds `notice` to the outbox (inside the caller's transaction); a notice whose event id is
/// there already is left as it is.
pub(super) fn insert(
    conn: &Connection,
    notice: &Notice,
    remediation_id: Option<i64>,
) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "INSERT OR IGNORE INTO outbox ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?5, NULL)"
        ),
        params![
            notice.event_id,
            notice.detail_type,
            notice.detail.to_string(),
            remediation_id,
            notice.at,
        ],
    )?;
    Ok(())
}

/// The stored row, decoded after the lock is released.
pub(super) struct RawEntry {
    event_id: String,
    detail_type: String,
    detail: String,
    remediation_id: Option<i64>,
    created_at: Millis,
    attempts: u32,
    next_attempt_at: Millis,
    last_error: Option<String>,
}

pub(super) fn due(conn: &Connection, now: Millis, limit: usize) -> rusqlite::Result<Vec<RawEntry>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE next_attempt_at <= ?1 \
         ORDER BY next_attempt_at, seq LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![now, limit], RawEntry::from_row)?;
    rows.collect()
}

impl RawEntry {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawEntry> {
        Ok(RawEntry {
            event_id: row.get(0)?,
            detail_type: row.get(1)?,
            detail: row.get(2)?,
            remediation_id: row.get(3)?,
            created_at: row.get(4)?,
            attempts: row.get(5)?,
            next_attempt_at: row.get(6)?,
            last_error: row.get(7)?,
        })
    }

    pub(super) fn decode(self) -> Result<OutboxEntry, StoreError> {
        let detail = serde_json::from_str(&self.detail).map_err(|e| StoreError::Corrupt {
            what: format!("outbox entry {}", self.event_id),
            message: e.to_string(),
        })?;
        Ok(OutboxEntry {
            notice: Notice {
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
