//! The approvals table of the SQLite store: one row per request, its record as JSON beside the
//! columns it is looked up by. The same schema step adds the enforcement pauses (one row per
//! account, written by `save_pause` in `sqlite.rs`).

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::store::{Approval, ApprovalState, NewApproval, RemediationKind, StoreError};

pub(super) use crate::store::approvals::{bind, decide, expire};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS approvals (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    arn   TEXT    NOT NULL,
    kind  TEXT    NOT NULL,
    state TEXT    NOT NULL,
    body  TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS approvals_by_arn ON approvals (arn, kind, id);
CREATE INDEX IF NOT EXISTS approvals_by_state ON approvals (state, id);

CREATE TABLE IF NOT EXISTS activity (
    arn TEXT    NOT NULL PRIMARY KEY,
    at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS pauses (
    account TEXT NOT NULL PRIMARY KEY,
    body    TEXT NOT NULL
) WITHOUT ROWID;
";

/// A row as stored: its id and its JSON record.
pub(super) type Raw = (i64, String);

pub(super) fn decode((id, body): Raw) -> Result<Approval, StoreError> {
    let mut approval: Approval = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
        what: format!("approval {id}"),
        message: e.to_string(),
    })?;
    approval.id = id;
    Ok(approval)
}

fn encode(a: &Approval) -> String {
    serde_json::to_string(a).unwrap_or_default()
}

fn save(tx: &Connection, a: &Approval) -> rusqlite::Result<()> {
    let state: &str = a.state.into();
    tx.execute(
        "UPDATE approvals SET state = ?2, body = ?3 WHERE id = ?1",
        params![a.id, state, encode(a)],
    )?;
    Ok(())
}

pub(super) fn one(conn: &Connection, id: i64) -> rusqlite::Result<Option<Raw>> {
    conn.query_row("SELECT id, body FROM approvals WHERE id = ?1", [id], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()
}

pub(super) fn latest(
    conn: &Connection,
    arn: &str,
    kind: RemediationKind,
) -> rusqlite::Result<Option<Raw>> {
    conn.query_row(
        "SELECT id, body FROM approvals WHERE arn = ?1 AND kind = ?2 ORDER BY id DESC LIMIT 1",
        params![arn, kind],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

pub(super) fn list(
    conn: &Connection,
    state: Option<ApprovalState>,
    limit: usize,
) -> rusqlite::Result<Vec<Raw>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let state: Option<&str> = state.map(Into::into);
    let mut stmt = conn.prepare_cached(
        "SELECT id, body FROM approvals WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![state, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Inserts the request, superseding the one it replaces; the stored request.
pub(super) fn request(tx: &Transaction<'_>, r: &NewApproval) -> Result<Approval, rusqlite::Error> {
    let open: Vec<Raw> = {
        let mut stmt = tx.prepare(
            "SELECT id, body FROM approvals WHERE arn = ?1 AND kind = ?2 \
             AND state IN ('pending', 'approved')",
        )?;
        let rows = stmt.query_map(params![r.resource.arn, r.kind], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    for raw in open {
        if let Ok(mut old) = decode(raw) {
            if old.state == ApprovalState::Pending || old.remediation_id.is_none() {
                old.state = ApprovalState::Superseded;
                save(tx, &old)?;
            }
        }
    }
    let mut approval = Approval {
        id: 0,
        resource: r.resource.clone(),
        controls: r.controls.clone(),
        kind: r.kind,
        plan: r.plan.clone(),
        fingerprint: r.fingerprint.clone(),
        state: ApprovalState::Pending,
        requested_at: r.requested_at,
        expires_at: r.expires_at,
        decided_by: None,
        decided_at: None,
        reason: None,
        remediation_id: None,
    };
    tx.execute(
        "INSERT INTO approvals (arn, kind, state, body) VALUES (?1, ?2, 'pending', ?3)",
        params![r.resource.arn, r.kind, encode(&approval)],
    )?;
    approval.id = tx.last_insert_rowid();
    save(tx, &approval)?;
    Ok(approval)
}

pub(super) fn store(tx: &Connection, a: &Approval) -> rusqlite::Result<()> {
    save(tx, a)
}
