//! The embedded [`Store`]: one SQLite file in WAL mode with `synchronous=FULL`, so a trigger
//! acknowledged to SQS survives a crash or power loss.
//!
//! Tables mirror the items a DynamoDB backend would keep: `triggers` (one row per ARN ever
//! queued; `pending = 0` marks a finished row, which keeps its generation so generations of an
//! ARN only grow), `claims` (one row per claimed ARN), `remediations` plus `steps` (the journal;
//! steps are read per remediation, no join), and `flags` (one row per ARN). Every write is a
//! single-row conditional update inside one short transaction.
//!
//! The connection sits behind a `Mutex` held only for the SQLite calls themselves; rows are
//! decoded into domain types after the lock is released.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

mod approvals;
mod lock;
mod outbox;
mod rows;
mod schema;

pub use lock::{lock_path, DaemonLock, LockError};

use super::coalesce::{encode_controls, Existing, Merged};
use super::{check_final, check_unclaimed};
use rows::*;
use schema::*;

use super::{
    Approval, ApprovalState, Channel, Failure, Flag, Millis, NewApproval, NewRemediation, Notice,
    OutboxEntry, Pause, Pending, Remediation, RemediationKind, RemediationStatus, StepRecord,
    Store, StoreError, Verdict, Wait,
};
use crate::events::Trigger;

/// The embedded default [`Store`]: one SQLite file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl rusqlite::ToSql for crate::model::Arn {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.as_str().to_sql()
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the store at `path`, creating the file and its schema when missing (the parent
    /// directory must exist), and migrating an older schema.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] when the file cannot be opened or set up (WAL, `synchronous=FULL`);
    /// [`StoreError::Schema`] when a newer build wrote it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        let err = |error| StoreError::Sqlite {
            path: shown.clone(),
            error,
        };
        let mut conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                event = "store.wal_unavailable",
                path = %shown,
                journal_mode = %mode,
                "the store could not switch to WAL; continuing in the mode SQLite chose"
            );
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(err)?;
        // Temporary tables and indices in memory: the container's root file system is
        // read-only, and the journal's volume is the only place the daemon writes.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(err)?;

        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(err)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::Schema {
                path: shown,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        // Version 1 is the first schema; later versions add their steps here, each guarded by
        // `found < N` (the statements are idempotent too).
        tx.execute_batch(SCHEMA_V1).map_err(err)?;
        if found < 2 {
            tx.execute_batch(SCHEMA_V2).map_err(err)?;
        }
        if found < 3 {
            tx.execute_batch(outbox::SCHEMA_V3).map_err(err)?;
            tx.execute_batch(approvals::SCHEMA).map_err(err)?;
        }
        if found < 4 {
            tx.execute_batch(SCHEMA_V4).map_err(err)?;
        }
        if found < 5 {
            tx.execute_batch(SCHEMA_V5).map_err(err)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(err)?;
        tx.commit().map_err(err)?;
        tracing::debug!(event = "store.opened", path = %shown, schema = SCHEMA_VERSION, from = found);

        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing store for reading it (the `remediations` command): unlike
    /// [`SqliteStore::open`], a missing file is an error and nothing is created.
    ///
    /// # Errors
    ///
    /// [`StoreError::Missing`] when there is no file at `path`; otherwise as
    /// [`SqliteStore::open`].
    pub fn open_existing(path: &Path) -> Result<SqliteStore, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing {
                path: path.display().to_string(),
            });
        }
        SqliteStore::open(path)
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (an open transaction
        // rolls back when dropped), so the connection is still good.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one statement in its own transaction; the number of rows it changed.
    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
        let conn = self.lock();
        conn.execute(sql, params).map_err(|e| self.sql(e))
    }

    /// One write transaction: `write`, then `notices` into the outbox, committed together.
    fn with_notices(
        &self,
        notices: &[Notice],
        write: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        write(&tx).map_err(|e| self.sql(e))?;
        outbox::insert(&tx, notices, None).map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))
    }

    fn sql(&self, error: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.display().to_string(),
            error,
        }
    }

    /// The JSON `body` of the row `sql` selects, decoded after the lock is released; `what`
    /// names the record in a corrupt-record error.
    fn body_of<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        what: impl FnOnce() -> String,
    ) -> Result<Option<T>, StoreError> {
        let body: Option<String> = {
            let conn = self.lock();
            conn.query_row(sql, params, |row| row.get(0))
                .optional()
                .map_err(|e| self.sql(e))?
        };
        body.map(|b| decode_body(what, &b)).transpose()
    }

    /// Every `(key, body)` row `sql` selects, the bodies decoded after the lock is released;
    /// errors name them `{kind} of {key}`.
    fn bodies_of<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        kind: &str,
    ) -> Result<Vec<T>, StoreError> {
        let rows: Vec<(String, String)> = {
            let conn = self.lock();
            let mut stmt = conn.prepare_cached(sql).map_err(|e| self.sql(e))?;
            let rows = stmt
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(|e| self.sql(e))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.sql(e))?
        };
        rows.iter()
            .map(|(key, body)| decode_body(|| format!("{kind} of {key}"), body))
            .collect()
    }

    /// Loads remediations chosen by `filter` (a WHERE/ORDER/LIMIT tail) with their steps, in
    /// one read transaction, and decodes them after the lock is released.
    fn load_remediations(
        &self,
        tail: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Remediation>, StoreError> {
        let raws = {
            let mut conn = self.lock();
            let tx = conn.transaction().map_err(|e| self.sql(e))?;
            let mut raws = {
                let mut stmt = tx
                    .prepare(&format!(
                        "SELECT {REMEDIATION_COLUMNS} FROM remediations {tail}"
                    ))
                    .map_err(|e| self.sql(e))?;
                let rows = stmt
                    .query_map(params, RawRemediation::from_row)
                    .map_err(|e| self.sql(e))?;
                rows.collect::<Result<Vec<_>, _>>()
                    .map_err(|e| self.sql(e))?
            };
            {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT at, step, phase, detail FROM steps \
                         WHERE remediation_id = ?1 ORDER BY seq",
                    )
                    .map_err(|e| self.sql(e))?;
                for raw in &mut raws {
                    let steps = stmt
                        .query_map([raw.id], |row| {
                            Ok(StepRecord {
                                at: row.get(0)?,
                                step: row.get(1)?,
                                phase: row.get(2)?,
                                detail: row.get(3)?,
                            })
                        })
                        .map_err(|e| self.sql(e))?;
                    raw.steps = steps
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| self.sql(e))?;
                }
            }
            tx.commit().map_err(|e| self.sql(e))?;
            raws
        };
        raws.into_iter().map(RawRemediation::decode).collect()
    }

    /// Appends a step; with `claim` (arn, owner, now), only while no other owner holds an
    /// unexpired claim on the ARN.
    fn append(
        &self,
        id: i64,
        step: &StepRecord,
        claim: Option<(&str, &str, Millis)>,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        if let Some((arn, owner, now)) = claim {
            let holder: Option<(String, Millis)> = tx
                .query_row(
                    "SELECT owner, expires_at FROM claims WHERE arn = ?1",
                    [arn],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(|e| self.sql(e))?;
            check_unclaimed(arn, holder, owner, now)?;
        }
        let changed = tx
            .execute(
                "UPDATE remediations SET updated_at = MAX(updated_at, ?2) WHERE id = ?1",
                params![id, step.at],
            )
            .map_err(|e| self.sql(e))?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                what: format!("remediation {id}"),
            });
        }
        tx.execute(
            "INSERT INTO steps (remediation_id, seq, at, step, phase, detail) \
             SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5 \
             FROM steps WHERE remediation_id = ?1",
            params![id, step.at, step.step, step.phase, step.detail],
        )
        .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))
    }
}

impl Store for SqliteStore {
    fn enqueue(&self, triggers: &[Trigger], now: Millis) -> Result<(), StoreError> {
        if triggers.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        for t in triggers {
            let existing = tx
                .query_row(
                    "SELECT name, controls, generation, attempts, not_before, first_seen, pending \
                     FROM triggers WHERE arn = ?1",
                    [&t.arn],
                    |row| {
                        Ok(Existing {
                            name: row.get(0)?,
                            controls: row.get(1)?,
                            generation: row.get(2)?,
                            attempts: row.get(3)?,
                            not_before: row.get(4)?,
                            first_seen: row.get(5)?,
                            pending: row.get(6)?,
                        })
                    },
                )
                .optional()
                .map_err(|e| self.sql(e))?;
            let merged = Merged::of(t, existing.as_ref(), now);
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO triggers ({PENDING_COLUMNS}, pending) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1)"
                ),
                params![
                    t.arn,
                    t.account,
                    t.region,
                    t.resource_type.config_type(),
                    merged.name,
                    t.family.as_str(),
                    t.event_id,
                    encode_controls(&merged.controls),
                    merged.generation,
                    merged.attempts,
                    merged.not_before,
                    merged.first_seen,
                ],
            )
            .map_err(|e| self.sql(e))?;
        }
        tx.commit().map_err(|e| self.sql(e))
    }

    fn due(&self, now: Millis, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raws = {
            let conn = self.lock();
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {PENDING_COLUMNS} FROM triggers \
                     WHERE pending = 1 AND not_before <= ?1 ORDER BY not_before, arn LIMIT ?2"
                ))
                .map_err(|e| self.sql(e))?;
            let rows = stmt
                .query_map(params![now, limit], RawPending::from_row)
                .map_err(|e| self.sql(e))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.sql(e))?
        };
        raws.into_iter().map(RawPending::decode).collect()
    }

    fn next_due(&self) -> Result<Option<Millis>, StoreError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT MIN(not_before) FROM triggers WHERE pending = 1",
            [],
            |row| row.get(0),
        )
        .map_err(|e| self.sql(e))
    }

    fn finish(&self, arn: &str, generation: u64) -> Result<bool, StoreError> {
        let Ok(generation) = i64::try_from(generation) else {
            return Ok(false); // never stored: no row can have it
        };
        let conn = self.lock();
        let changed = conn
            .execute(
                "UPDATE triggers SET pending = 0 \
                 WHERE arn = ?1 AND generation = ?2 AND pending = 1",
                params![arn, generation],
            )
            .map_err(|e| self.sql(e))?;
        Ok(changed == 1)
    }

    fn defer(&self, arn: &str, not_before: Millis, attempts: u32) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.execute(
            "UPDATE triggers SET not_before = ?2, attempts = ?3 WHERE arn = ?1 AND pending = 1",
            params![arn, not_before, attempts],
        )
        .map_err(|e| self.sql(e))?;
        Ok(())
    }

    fn pending_count(&self) -> Result<u64, StoreError> {
        let conn = self.lock();
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM triggers WHERE pending = 1",
                [],
                |row| row.get(0),
            )
            .map_err(|e| self.sql(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn claim(&self, arn: &str, owner: &str, now: Millis, ttl_ms: i64) -> Result<bool, StoreError> {
        let expires_at = now.saturating_add(ttl_ms);
        let conn = self.lock();
        let changed = conn
            .execute(
                "INSERT INTO claims (arn, owner, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (arn) DO UPDATE SET owner = excluded.owner, \
                     expires_at = excluded.expires_at \
                 WHERE claims.owner = excluded.owner OR claims.expires_at <= ?4",
                params![arn, owner, expires_at, now],
            )
            .map_err(|e| self.sql(e))?;
        Ok(changed == 1)
    }

    fn release(&self, arn: &str, owner: &str) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM claims WHERE arn = ?1 AND owner = ?2",
            params![arn, owner],
        )?;
        Ok(())
    }

    fn begin(&self, r: &NewRemediation) -> Result<i64, StoreError> {
        let state = r.state.to_string();
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let running: Option<i64> = tx
            .query_row(
                "SELECT id FROM remediations WHERE arn = ?1 AND status = 'running'",
                [&r.resource.arn],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        if let Some(id) = running {
            return Err(StoreError::Conflict {
                what: format!("remediation of {}", r.resource.arn),
                message: format!("remediation {id} is still running"),
            });
        }
        tx.execute(
            &format!(
                "INSERT INTO remediations ({REMEDIATION_COLUMNS}) \
                 VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11, ?11)"
            ),
            params![
                r.resource.arn,
                r.resource.account,
                r.resource.region,
                r.resource.resource_type.config_type(),
                r.resource.name,
                encode_controls(&r.controls),
                r.kind,
                r.dry_run,
                state,
                RemediationStatus::Running.as_str(),
                r.at,
            ],
        )
        .map_err(|e| self.sql(e))?;
        let id = tx.last_insert_rowid();
        outbox::insert(&tx, &r.notices, Some(id)).map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(id)
    }

    fn append_step(&self, id: i64, step: &StepRecord) -> Result<(), StoreError> {
        self.append(id, step, None)
    }

    fn append_intent(
        &self,
        id: i64,
        step: &StepRecord,
        arn: &str,
        owner: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.append(id, step, Some((arn, owner, now)))
    }

    fn save_state(
        &self,
        id: i64,
        state: &serde_json::Value,
        status: RemediationStatus,
        outcome: Option<&str>,
        at: Millis,
        notices: &[Notice],
    ) -> Result<(), StoreError> {
        let state = state.to_string();
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let current: Option<String> = tx
            .query_row(
                "SELECT status FROM remediations WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        let Some(current) = current else {
            return Err(StoreError::NotFound {
                what: format!("remediation {id}"),
            });
        };
        let current = RemediationStatus::parse(&current).ok_or_else(|| StoreError::Corrupt {
            what: format!("remediation {id}"),
            message: format!("unknown status `{current}`"),
        })?;
        check_final(id, current, status)?;
        tx.execute(
            "UPDATE remediations SET state = ?2, status = ?3, outcome = ?4, \
                 updated_at = MAX(updated_at, ?5) \
             WHERE id = ?1 AND (status = 'running' OR status = ?3)",
            params![id, state, status.as_str(), outcome, at],
        )
        .map_err(|e| self.sql(e))?;
        if !current.is_terminal() {
            outbox::insert(&tx, notices, Some(id)).map_err(|e| self.sql(e))?;
        }
        tx.commit().map_err(|e| self.sql(e))
    }

    fn unfinished(&self) -> Result<Vec<Remediation>, StoreError> {
        self.load_remediations("WHERE status = 'running' ORDER BY created_at, id", &[])
    }

    fn unfinished_for(&self, arn: &str) -> Result<Option<Remediation>, StoreError> {
        let mut found = self.load_remediations(
            "WHERE arn = ?1 AND status = 'running' ORDER BY created_at DESC, id DESC LIMIT 1",
            &[&arn],
        )?;
        Ok(found.pop())
    }

    fn remediations(
        &self,
        arn: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Remediation>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match arn {
            Some(arn) => self.load_remediations(
                "WHERE arn = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2",
                &[&arn, &limit],
            ),
            None => self.load_remediations("ORDER BY created_at DESC, id DESC LIMIT ?1", &[&limit]),
        }
    }

    fn save_flag(&self, flag: &Flag, notices: &[Notice]) -> Result<bool, StoreError> {
        let plan = flag.plan.to_string();
        let controls = encode_controls(&flag.controls);
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let before: Option<(String, String, bool)> = tx
            .query_row(
                "SELECT controls, plan, dry_run FROM flags WHERE arn = ?1",
                [&flag.resource.arn],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO flags ({FLAG_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            params![
                flag.resource.arn,
                flag.resource.account,
                flag.resource.region,
                flag.resource.resource_type.config_type(),
                flag.resource.name,
                controls,
                plan,
                flag.dry_run,
                flag.at,
            ],
        )
        .map_err(|e| self.sql(e))?;
        let changed = before.as_ref() != Some(&(controls.clone(), plan.clone(), flag.dry_run));
        if changed {
            outbox::insert(&tx, notices, None).map_err(|e| self.sql(e))?;
        }
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(changed && !notices.is_empty())
    }

    fn flags(&self, arn: Option<&str>) -> Result<Vec<Flag>, StoreError> {
        let raws = {
            let conn = self.lock();
            let (sql, params): (String, Vec<&dyn rusqlite::ToSql>) = match &arn {
                Some(arn) => (
                    format!("SELECT {FLAG_COLUMNS} FROM flags WHERE arn = ?1"),
                    vec![arn],
                ),
                None => (
                    format!("SELECT {FLAG_COLUMNS} FROM flags ORDER BY arn"),
                    Vec::new(),
                ),
            };
            let mut stmt = conn.prepare_cached(&sql).map_err(|e| self.sql(e))?;
            let rows = stmt
                .query_map(params.as_slice(), RawFlag::from_row)
                .map_err(|e| self.sql(e))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.sql(e))?
        };
        raws.into_iter().map(RawFlag::decode).collect()
    }

    fn claim_holder(&self, arn: &str) -> Result<Option<(String, Millis)>, StoreError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT owner, expires_at FROM claims WHERE arn = ?1",
            params![arn],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(|e| self.sql(e))
    }

    fn take_over(
        &self,
        arn: &str,
        previous: &str,
        owner: &str,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let changed = self.execute(
            "INSERT INTO claims (arn, owner, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (arn) DO UPDATE SET owner = excluded.owner, \
                 expires_at = excluded.expires_at \
             WHERE claims.owner = ?4 OR claims.owner = excluded.owner",
            params![arn, owner, now.saturating_add(ttl_ms), previous],
        )?;
        Ok(changed == 1)
    }

    fn save_failure(&self, failure: &Failure) -> Result<(), StoreError> {
        let body = serde_json::to_string(failure).map_err(|e| StoreError::Corrupt {
            what: format!("failure of {}", failure.resource.arn),
            message: e.to_string(),
        })?;
        self.execute(
            "INSERT OR REPLACE INTO failures (arn, kind, body) VALUES (?1, ?2, ?3)",
            params![failure.resource.arn, failure.kind, body],
        )?;
        Ok(())
    }

    fn failure(&self, arn: &str, kind: RemediationKind) -> Result<Option<Failure>, StoreError> {
        self.body_of(
            "SELECT body FROM failures WHERE arn = ?1 AND kind = ?2",
            params![arn, kind],
            || format!("failure of {arn}"),
        )
    }

    fn failures(&self) -> Result<Vec<Failure>, StoreError> {
        self.bodies_of(
            "SELECT arn, body FROM failures ORDER BY arn, kind",
            "failure",
        )
    }

    fn clear_failure(&self, arn: &str, kind: RemediationKind) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM failures WHERE arn = ?1 AND kind = ?2",
            params![arn, kind],
        )?;
        Ok(())
    }

    fn outbox_due(
        &self,
        channel: Channel,
        now: Millis,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let raws = {
            let conn = self.lock();
            outbox::due(&conn, channel, now, limit).map_err(|e| self.sql(e))?
        };
        raws.into_iter().map(outbox::RawEntry::decode).collect()
    }

    fn outbox_next_due(&self, channel: Channel) -> Result<Option<Millis>, StoreError> {
        let conn = self.lock();
        let channel: &str = channel.into();
        conn.query_row(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE channel = ?1",
            [channel],
            |row| row.get(0),
        )
        .map_err(|e| self.sql(e))
    }

    fn outbox_delivered(&self, event_ids: &[String]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        for id in event_ids {
            tx.execute("DELETE FROM outbox WHERE event_id = ?1", [id])
                .map_err(|e| self.sql(e))?;
        }
        tx.commit().map_err(|e| self.sql(e))
    }

    fn outbox_retry(
        &self,
        event_id: &str,
        attempts: u32,
        next_attempt_at: Millis,
        error: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4              WHERE event_id = ?1",
            params![event_id, attempts, next_attempt_at, error],
        )
        .map(|_| ())
    }

    fn outbox_len(&self, channel: Channel) -> Result<u64, StoreError> {
        let conn = self.lock();
        let channel: &str = channel.into();
        conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE channel = ?1",
            [channel],
            |row| row.get(0),
        )
        .map_err(|e| self.sql(e))
    }

    fn request_approval(
        &self,
        request: &NewApproval,
        notices: &[Notice],
    ) -> Result<Approval, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let approval = approvals::request(&tx, request).map_err(|e| self.sql(e))?;
        outbox::insert(&tx, notices, None).map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(approval)
    }

    fn latest_approval(
        &self,
        arn: &str,
        kind: RemediationKind,
    ) -> Result<Option<Approval>, StoreError> {
        let raw = {
            let conn = self.lock();
            approvals::latest(&conn, arn, kind).map_err(|e| self.sql(e))?
        };
        raw.map(approvals::decode).transpose()
    }

    fn approval(&self, id: i64) -> Result<Option<Approval>, StoreError> {
        let raw = {
            let conn = self.lock();
            approvals::one(&conn, id).map_err(|e| self.sql(e))?
        };
        raw.map(approvals::decode).transpose()
    }

    fn approvals(
        &self,
        state: Option<ApprovalState>,
        limit: usize,
    ) -> Result<Vec<Approval>, StoreError> {
        let raws = {
            let conn = self.lock();
            approvals::list(&conn, state, limit).map_err(|e| self.sql(e))?
        };
        raws.into_iter().map(approvals::decode).collect()
    }

    fn decide_approval(
        &self,
        id: i64,
        verdict: Verdict,
        by: &str,
        reason: &str,
        at: Millis,
    ) -> Result<Approval, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let raw = approvals::one(&tx, id).map_err(|e| self.sql(e))?;
        let Some(raw) = raw else {
            return Err(StoreError::NotFound {
                what: format!("approval request {id}"),
            });
        };
        let (write, result) = approvals::decide(approvals::decode(raw)?, verdict, by, reason, at);
        if let Some(a) = write {
            approvals::store(&tx, &a).map_err(|e| self.sql(e))?;
            tx.commit().map_err(|e| self.sql(e))?;
        }
        result
    }

    fn expire_approval(&self, id: i64) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        if let Some(raw) = approvals::one(&tx, id).map_err(|e| self.sql(e))? {
            if let (Some(a), _) = approvals::expire(approvals::decode(raw)?) {
                approvals::store(&tx, &a).map_err(|e| self.sql(e))?;
            }
        }
        tx.commit().map_err(|e| self.sql(e))
    }

    fn use_approval(&self, id: i64, remediation_id: i64) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let raw = approvals::one(&tx, id).map_err(|e| self.sql(e))?;
        let Some(raw) = raw else {
            return Err(StoreError::NotFound {
                what: format!("approval request {id}"),
            });
        };
        let (write, result) = approvals::bind(approvals::decode(raw)?, remediation_id);
        if let Some(a) = write {
            approvals::store(&tx, &a).map_err(|e| self.sql(e))?;
            tx.commit().map_err(|e| self.sql(e))?;
        }
        result
    }

    fn notebook_fixes(&self, account: &str, since: Millis) -> Result<(u64, u64), StoreError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT \
               COALESCE(SUM(created_at >= ?2), 0), \
               COALESCE(SUM(status = 'running'), 0) \
             FROM remediations \
             WHERE account = ?1 AND kind = 'notebook-fix' AND dry_run = 0 \
               AND (created_at >= ?2 OR status = 'running')",
            params![account, since],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(|e| self.sql(e))
    }

    fn pause(&self, account: &str) -> Result<Option<Pause>, StoreError> {
        self.body_of(
            "SELECT body FROM pauses WHERE account = ?1",
            [account],
            || format!("pause of {account}"),
        )
    }

    fn pauses(&self) -> Result<Vec<Pause>, StoreError> {
        self.bodies_of("SELECT account, body FROM pauses ORDER BY account", "pause")
    }

    fn seen(&self, account: &str, region: &str) -> Result<HashMap<String, String>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT arn, version FROM seen WHERE account = ?1 AND region = ?2")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![account, region], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    fn save_seen(
        &self,
        account: &str,
        region: &str,
        compliant: &[(String, String)],
        not_compliant: &[String],
        at: Millis,
    ) -> Result<(), StoreError> {
        self.with_notices(&[], |tx| {
            let mut upsert = tx.prepare_cached(
                "INSERT OR REPLACE INTO seen (arn, account, region, version, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (arn, version) in compliant {
                upsert.execute(params![arn, account, region, version, at])?;
            }
            let mut delete = tx.prepare_cached("DELETE FROM seen WHERE arn = ?1")?;
            for arn in not_compliant {
                delete.execute(params![arn])?;
            }
            Ok(())
        })
    }

    fn save_notices(&self, notices: &[Notice]) -> Result<(), StoreError> {
        self.with_notices(notices, |_| Ok(()))
    }

    fn save_pause(&self, pause: &Pause, notices: &[Notice]) -> Result<(), StoreError> {
        let body = serde_json::to_string(pause).unwrap_or_default();
        self.with_notices(notices, |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO pauses (account, body) VALUES (?1, ?2)",
                params![pause.account, body],
            )
            .map(drop)
        })
    }

    fn save_wait(&self, wait: &Wait, notices: &[Notice]) -> Result<(), StoreError> {
        let body = serde_json::to_string(wait).unwrap_or_default();
        self.with_notices(notices, |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO waits (arn, kind, until, body) VALUES (?1, ?2, ?3, ?4)",
                params![wait.resource.arn, wait.kind.as_str(), wait.until, body],
            )
            .map(drop)
        })
    }

    fn clear_wait(&self, arn: &str, kind: RemediationKind) -> Result<(), StoreError> {
        // Most resources never wait: a read first spares them a write transaction.
        let conn = self.lock();
        let found = conn
            .prepare_cached("SELECT 1 FROM waits WHERE arn = ?1 AND kind = ?2")
            .and_then(|mut stmt| stmt.exists(params![arn, kind.as_str()]))
            .map_err(|e| self.sql(e))?;
        if found {
            conn.execute(
                "DELETE FROM waits WHERE arn = ?1 AND kind = ?2",
                params![arn, kind.as_str()],
            )
            .map_err(|e| self.sql(e))?;
        }
        Ok(())
    }

    fn waits(&self) -> Result<Vec<Wait>, StoreError> {
        self.bodies_of("SELECT arn, body FROM waits ORDER BY until, arn", "wait")
    }

    fn record_activity(&self, arn: &str, at: Millis) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO activity (arn, at) VALUES (?1, ?2) \
             ON CONFLICT (arn) DO UPDATE SET at = MAX(at, excluded.at)",
            params![arn, at],
        )
        .map(|_| ())
    }

    fn last_activity(&self, arn: &str) -> Result<Option<Millis>, StoreError> {
        let conn = self.lock();
        conn.query_row("SELECT at FROM activity WHERE arn = ?1", [arn], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| self.sql(e))
    }

    fn ping(&self) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
            .map_err(|e| self.sql(e))?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use crate::events::Family;
    use crate::model::{ControlId, ResourceRef, ResourceType};
    use crate::store::Hold;
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::json;

    use super::*;

    const NB1: &str = "arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/nb-1";
    const NB2: &str = "arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/nb-2";
    const NB3: &str = "arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/nb-3";

    fn open() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("store.db")).unwrap();
        (dir, store)
    }

    fn trigger(arn: &str, name: Option<&str>, controls: &[ControlId], event: &str) -> Trigger {
        Trigger {
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            resource_type: ResourceType::NotebookInstance,
            arn: arn.into(),
            name: name.map(String::from),
            family: Family::SecurityHub,
            event_id: event.into(),
            controls: controls.to_vec(),
        }
    }

    /// The notebook `Nb` in 111122223333, eu-west-1, at `arn`.
    fn notebook(arn: &str) -> ResourceRef {
        ResourceRef {
            arn: arn.into(),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            resource_type: ResourceType::NotebookInstance,
            name: "Nb".into(),
        }
    }

    fn new_remediation(arn: &str, at: Millis) -> NewRemediation {
        NewRemediation {
            resource: notebook(arn),
            controls: vec![ControlId::SageMaker3, ControlId::SageMaker8],
            kind: RemediationKind::NotebookFix,
            dry_run: false,
            state: json!({"step": "Stop", "was_running": true}),
            at,
            notices: Vec::new(),
        }
    }

    fn step(at: Millis, step: &str, phase: &str) -> StepRecord {
        StepRecord {
            at,
            step: step.parse().unwrap(),
            phase: phase.parse().unwrap(),
            detail: format!("{step} {phase}"),
        }
    }

    fn flag(arn: &str, at: Millis, plan: serde_json::Value) -> Flag {
        Flag {
            resource: notebook(arn),
            controls: vec![ControlId::SageMaker1],
            plan,
            dry_run: true,
            at,
        }
    }

    fn arns(pending: &[Pending]) -> Vec<&str> {
        pending.iter().map(|p| p.trigger.arn.as_str()).collect()
    }

    #[test]
    fn store_is_send_sync_and_object_safe() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SqliteStore>();
        let (_dir, store) = open();
        let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(store);
        store.ping().unwrap();
    }

    #[test]
    fn enqueue_due_finish_round_trip() {
        let (_dir, store) = open();
        let t = trigger(NB1, Some("Nb-1"), &[ControlId::SageMaker3], "e1");
        store.enqueue(std::slice::from_ref(&t), 1_000).unwrap();
        assert_eq!(store.pending_count().unwrap(), 1);

        let due = store.due(1_000, 10).unwrap();
        assert_eq!(
            due,
            vec![Pending {
                trigger: t,
                generation: 1,
                attempts: 0,
                not_before: 1_000,
                first_seen: 1_000,
            }]
        );
        assert!(
            store.due(999, 10).unwrap().is_empty(),
            "not due before not_before"
        );

        assert!(store.finish(NB1, 1).unwrap());
        assert!(store.due(i64::MAX, 10).unwrap().is_empty());
        assert_eq!(store.pending_count().unwrap(), 0);
        assert!(
            !store.finish(NB1, 1).unwrap(),
            "finishing twice removes nothing"
        );
        store.enqueue(&[], 2_000).unwrap();
        assert_eq!(store.pending_count().unwrap(), 0);
    }

    #[test]
    fn due_orders_by_not_before_and_honours_limit() {
        let (_dir, store) = open();
        store.enqueue(&[trigger(NB3, None, &[], "a")], 300).unwrap();
        store.enqueue(&[trigger(NB1, None, &[], "b")], 100).unwrap();
        store.enqueue(&[trigger(NB2, None, &[], "c")], 200).unwrap();
        assert_eq!(arns(&store.due(1_000, 10).unwrap()), vec![NB1, NB2, NB3]);
        assert_eq!(arns(&store.due(1_000, 2).unwrap()), vec![NB1, NB2]);
        assert_eq!(arns(&store.due(250, 10).unwrap()), vec![NB1, NB2]);
        assert!(store.due(1_000, 0).unwrap().is_empty());
    }

    #[test]
    fn coalesces_by_arn_bumping_generation_and_merging_hints() {
        let (_dir, store) = open();
        let batch: Vec<Trigger> = (0..10)
            .map(|i| {
                let arn = [NB1, NB2, NB3][i % 3];
                let name = (i == 3).then_some("Nb-1");
                let controls: &[ControlId] = match i {
                    0 => &[ControlId::SageMaker8],
                    3 => &[ControlId::SageMaker3, ControlId::SageMaker8],
                    6 => &[ControlId::SageMaker1],
                    _ => &[],
                };
                trigger(arn, name, controls, &format!("e{i}"))
            })
            .collect();
        // Split over two transactions: coalescing holds within and across batches.
        store.enqueue(&batch[..5], 1_000).unwrap();
        store.enqueue(&batch[5..], 2_000).unwrap();

        assert_eq!(store.pending_count().unwrap(), 3);
        let due = store.due(2_000, 10).unwrap();
        assert_eq!(arns(&due), vec![NB1, NB2, NB3]);
        let nb1 = &due[0];
        // NB1 got triggers 0, 3, 6, 9.
        assert_eq!(nb1.generation, 4);
        assert_eq!(nb1.trigger.name.as_deref(), Some("Nb-1"), "known name kept");
        assert_eq!(
            nb1.trigger.controls,
            vec![
                ControlId::SageMaker1,
                ControlId::SageMaker3,
                ControlId::SageMaker8
            ]
        );
        assert_eq!(nb1.trigger.event_id, "e9", "latest event id");
        assert_eq!(nb1.not_before, 1_000, "earlier not_before kept");
        assert_eq!(nb1.first_seen, 1_000);
        assert_eq!(due[1].generation, 3);
        assert_eq!(due[2].generation, 3);

        // A stale generation keeps the row; the current one removes it.
        assert!(!store.finish(NB1, 3).unwrap());
        assert_eq!(store.pending_count().unwrap(), 3);
        assert!(store.finish(NB1, 4).unwrap());
        assert_eq!(store.pending_count().unwrap(), 2);
    }

    #[test]
    fn a_trigger_arriving_during_work_survives_finish() {
        let (_dir, store) = open();
        store.enqueue(&[trigger(NB1, None, &[], "a")], 100).unwrap();
        let taken = store.due(100, 1).unwrap().remove(0);
        store.enqueue(&[trigger(NB1, None, &[], "b")], 150).unwrap();
        assert!(!store.finish(NB1, taken.generation).unwrap());
        let again = store.due(150, 1).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].generation, taken.generation + 1);
    }

    #[test]
    fn generations_keep_growing_after_finish() {
        let (_dir, store) = open();
        store
            .enqueue(
                &[trigger(NB1, Some("Nb-1"), &[ControlId::SageMaker3], "a")],
                100,
            )
            .unwrap();
        assert!(store.finish(NB1, 1).unwrap());
        store
            .enqueue(&[trigger(NB1, None, &[ControlId::SageMaker8], "b")], 500)
            .unwrap();
        let p = store.due(500, 1).unwrap().remove(0);
        assert_eq!(p.generation, 2);
        assert!(
            !store.finish(NB1, 1).unwrap(),
            "a stale finish cannot remove the new row"
        );
        // A finished row lends its name, not its old hints or times.
        assert_eq!(p.trigger.name.as_deref(), Some("Nb-1"));
        assert_eq!(p.trigger.controls, vec![ControlId::SageMaker8]);
        assert_eq!((p.first_seen, p.not_before, p.attempts), (500, 500, 0));
    }

    #[test]
    fn defer_hides_a_row_until_not_before_and_backoff_survives_new_triggers() {
        let (_dir, store) = open();
        store.enqueue(&[trigger(NB1, None, &[], "a")], 100).unwrap();
        store.enqueue(&[trigger(NB2, None, &[], "b")], 100).unwrap();
        store.defer(NB1, 5_000, 1).unwrap();
        assert_eq!(arns(&store.due(4_999, 10).unwrap()), vec![NB2]);

        // A new trigger for a row in backoff keeps the backoff and the attempt count.
        store.enqueue(&[trigger(NB1, None, &[], "c")], 200).unwrap();
        assert_eq!(arns(&store.due(4_999, 10).unwrap()), vec![NB2]);
        let due = store.due(5_000, 10).unwrap();
        assert_eq!(arns(&due), vec![NB2, NB1]);
        assert_eq!(
            (due[1].attempts, due[1].not_before, due[1].generation),
            (1, 5_000, 2)
        );

        // Deferring an ARN that is not pending does nothing.
        store.defer(NB3, 1, 1).unwrap();
        assert_eq!(store.pending_count().unwrap(), 2);
    }

    #[test]
    fn next_due_is_the_earliest_not_before() {
        let (_dir, store) = open();
        assert_eq!(store.next_due().unwrap(), None);
        store.enqueue(&[trigger(NB1, None, &[], "a")], 300).unwrap();
        store.enqueue(&[trigger(NB2, None, &[], "b")], 200).unwrap();
        assert_eq!(store.next_due().unwrap(), Some(200));
        store.defer(NB2, 900, 1).unwrap();
        assert_eq!(store.next_due().unwrap(), Some(300));
        assert!(store.finish(NB1, 1).unwrap());
        assert_eq!(store.next_due().unwrap(), Some(900));
        assert!(store.finish(NB2, 1).unwrap());
        assert_eq!(store.next_due().unwrap(), None);
    }

    #[test]
    fn everything_survives_closing_and_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let (pending, running, done, flags) = {
            let store = SqliteStore::open(&path).unwrap();
            store
                .enqueue(
                    &[
                        trigger(NB1, Some("Nb-1"), &[ControlId::SageMaker3], "a"),
                        trigger(NB2, None, &[], "b"),
                    ],
                    100,
                )
                .unwrap();
            store.defer(NB2, 7_000, 2).unwrap();
            let id = store.begin(&new_remediation(NB1, 200)).unwrap();
            store
                .append_step(id, &step(210, "StopNotebookInstance", "intent"))
                .unwrap();
            store
                .append_step(id, &step(220, "StopNotebookInstance", "done"))
                .unwrap();
            store
                .save_state(
                    id,
                    &json!({"step": "Update"}),
                    RemediationStatus::Running,
                    None,
                    230,
                    &[],
                )
                .unwrap();
            let other = store.begin(&new_remediation(NB2, 300)).unwrap();
            store
                .save_state(
                    other,
                    &json!({}),
                    RemediationStatus::Failed,
                    Some("denied"),
                    310,
                    &[],
                )
                .unwrap();
            store
                .save_flag(&flag(NB3, 400, json!({"recreate": true})), &[])
                .unwrap();
            store.claim(NB1, "worker-a", 500, 60_000).unwrap();
            (
                store.due(i64::MAX, 10).unwrap(),
                store.unfinished().unwrap(),
                store.remediations(None, 10).unwrap(),
                store.flags(None).unwrap(),
            )
        };
        assert_eq!(pending.len(), 2);
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].steps.len(), 2);

        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.due(i64::MAX, 10).unwrap(), pending);
        assert_eq!(store.unfinished().unwrap(), running);
        assert_eq!(store.remediations(None, 10).unwrap(), done);
        assert_eq!(store.flags(None).unwrap(), flags);
        let r = &running[0];
        assert_eq!(r.state, json!({"step": "Update"}));
        assert_eq!(r.updated_at, 230);
        assert_eq!(r.steps[1], step(220, "StopNotebookInstance", "done"));
        assert!(
            !store.claim(NB1, "worker-b", 600, 1_000).unwrap(),
            "claims persist too"
        );
        // Reopening did not reset the queue's generations.
        store.enqueue(&[trigger(NB1, None, &[], "c")], 800).unwrap();
        assert_eq!(store.due(800, 1).unwrap()[0].generation, 2);
    }

    #[test]
    fn open_sets_wal_and_full_sync_and_refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = SqliteStore::open(&path).unwrap();
        {
            let conn = store.lock();
            let mode: String = conn
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .unwrap();
            let sync: i64 = conn
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap();
            let version: i64 = conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            assert_eq!((mode.as_str(), sync, version), ("wal", 2, SCHEMA_VERSION));
        }
        drop(store);
        let raw = Connection::open(&path).unwrap();
        raw.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(raw);
        match SqliteStore::open(&path) {
            Err(StoreError::Schema { found, .. }) => assert_eq!(found, SCHEMA_VERSION + 1),
            other => panic!("expected a schema error, got {other:?}"),
        }
        let missing_parent = dir.path().join("no/such/dir/store.db");
        assert!(matches!(
            SqliteStore::open(&missing_parent),
            Err(StoreError::Sqlite { .. })
        ));
    }

    #[test]
    fn a_version_1_file_gains_the_failure_memory_and_the_outbox_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let raw = Connection::open(&path).unwrap();
            raw.execute_batch(SCHEMA_V1).unwrap();
            raw.pragma_update(None, "user_version", 1).unwrap();
            raw.execute(
                "INSERT INTO claims (arn, owner, expires_at) VALUES ('a', 'o', 5)",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.claim_holder("a").unwrap(), Some(("o".to_string(), 5)));
        assert!(store.failures().unwrap().is_empty());
        assert_eq!(store.outbox_len(Channel::Events).unwrap(), 0);
        let version: i64 = store
            .lock()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(SCHEMA_VERSION, 5);
        assert!(store.seen("111122223333", "eu-west-1").unwrap().is_empty());
    }

    fn notice(id: &str, at: Millis) -> Notice {
        Notice {
            channel: Channel::Events,
            event_id: id.to_string(),
            detail_type: "Remediation Succeeded".to_string(),
            detail: json!({"event_id": id}),
            at,
        }
    }

    #[test]
    fn notices_are_committed_with_the_journal_change_that_causes_them() {
        let (_dir, store) = open();
        let planned = notice("planned", 100);
        let id = store
            .begin(&NewRemediation {
                notices: vec![planned.clone()],
                ..new_remediation(NB1, 100)
            })
            .unwrap();
        let done = notice("done", 200);
        store
            .save_state(id, &json!({}), RemediationStatus::Running, None, 150, &[])
            .unwrap();
        store
            .save_state(
                id,
                &json!({}),
                RemediationStatus::Succeeded,
                Some("fixed"),
                200,
                std::slice::from_ref(&done),
            )
            .unwrap();
        // A retried save of the finished remediation sends nothing twice.
        store
            .save_state(
                id,
                &json!({}),
                RemediationStatus::Succeeded,
                Some("fixed"),
                201,
                std::slice::from_ref(&notice("again", 201)),
            )
            .unwrap();
        // A refused begin (one is running) writes no notice either.
        let other = store.begin(&new_remediation(NB2, 300)).unwrap();
        assert!(store
            .begin(&NewRemediation {
                notices: vec![notice("refused", 300)],
                ..new_remediation(NB2, 300)
            })
            .is_err());
        let due = store.outbox_due(Channel::Events, 1_000, 10).unwrap();
        let ids: Vec<_> = due.iter().map(|e| e.notice.event_id.as_str()).collect();
        assert_eq!(ids, ["planned", "done"]);
        assert_eq!(due[0].remediation_id, Some(id));
        assert_eq!(due[0].notice, planned);
        assert_eq!(due[1].notice, done);
        assert_ne!(other, id);
    }

    #[test]
    fn a_flag_notice_is_written_only_when_the_flag_is_new_or_changed() {
        let (_dir, store) = open();
        let f = flag(NB1, 100, json!({"v": 1}));
        assert!(store
            .save_flag(&f, std::slice::from_ref(&notice("first", 100)))
            .unwrap());
        // The same flag again (a later sweep): no notice.
        let again = Flag {
            at: 200,
            ..f.clone()
        };
        assert!(!store
            .save_flag(&again, std::slice::from_ref(&notice("same", 200)))
            .unwrap());
        let changed = Flag {
            plan: json!({"v": 2}),
            at: 300,
            ..f.clone()
        };
        assert!(store
            .save_flag(&changed, std::slice::from_ref(&notice("changed", 300)))
            .unwrap());
        let ids: Vec<_> = store
            .outbox_due(Channel::Events, 1_000, 10)
            .unwrap()
            .into_iter()
            .map(|e| (e.notice.event_id, e.remediation_id))
            .collect();
        assert_eq!(
            ids,
            [("first".to_string(), None), ("changed".to_string(), None)]
        );
        assert_eq!(store.flags(Some(NB1)).unwrap()[0].at, 300);
    }

    #[test]
    fn the_outbox_hands_out_due_entries_oldest_first_and_keeps_them_until_delivered() {
        let (_dir, store) = open();
        for (i, at) in [(1, 100), (2, 50), (3, 200)] {
            let id = store.begin(&NewRemediation {
                notices: vec![notice(&format!("n{i}"), at)],
                ..new_remediation(&format!("{NB1}-{i}"), at)
            });
            id.unwrap();
        }
        assert_eq!(store.outbox_len(Channel::Events).unwrap(), 3);
        assert_eq!(store.outbox_next_due(Channel::Events).unwrap(), Some(50));
        let ids = |now| -> Vec<String> {
            store
                .outbox_due(Channel::Events, now, 2)
                .unwrap()
                .into_iter()
                .map(|e| e.notice.event_id)
                .collect()
        };
        assert_eq!(ids(150), ["n2", "n1"]);
        store
            .outbox_retry("n2", 1, 500, "ThrottlingException: slow down")
            .unwrap();
        assert_eq!(ids(300), ["n1", "n3"]);
        store
            .outbox_delivered(&["n1".to_string(), "gone".to_string()])
            .unwrap();
        assert_eq!(ids(300), ["n3"]);
        let retried = store.outbox_due(Channel::Events, 500, 10).unwrap();
        let n2 = retried.iter().find(|e| e.notice.event_id == "n2").unwrap();
        assert_eq!(n2.attempts, 1);
        assert_eq!(n2.next_attempt_at, 500);
        assert_eq!(
            n2.last_error.as_deref(),
            Some("ThrottlingException: slow down")
        );
        store
            .outbox_delivered(&["n2".to_string(), "n3".to_string()])
            .unwrap();
        assert_eq!(store.outbox_len(Channel::Events).unwrap(), 0);
        assert_eq!(store.outbox_next_due(Channel::Events).unwrap(), None);
    }

    #[test]
    fn open_existing_refuses_a_missing_file_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.db");
        let err = SqliteStore::open_existing(&path).unwrap_err();
        assert!(matches!(err, StoreError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("absent.db"), "{err}");
        assert!(!path.exists());
        SqliteStore::open(&path).unwrap();
        SqliteStore::open_existing(&path).unwrap();
    }

    fn failure(arn: &str, kind: RemediationKind, hold: Hold) -> Failure {
        Failure {
            resource: ResourceRef {
                arn: arn.into(),
                account: "111122223333".into(),
                region: "eu-west-1".into(),
                resource_type: ResourceType::NotebookInstance,
                name: "nb-1".into(),
            },
            kind,
            controls: vec![ControlId::SageMaker3],
            plan: r#"{"disable_root_access":true,"platform":null}"#.into(),
            version: "{}".into(),
            failures: 1,
            hold,
            reason: "UpdateNotebookInstance denied".into(),
            remediation_id: 7,
            at: 1_000,
        }
    }

    #[test]
    fn failures_are_kept_per_arn_and_kind_replaced_and_cleared() {
        let (dir, store) = open();
        assert_eq!(
            store.failure(NB1, RemediationKind::NotebookFix).unwrap(),
            None
        );
        let first = failure(NB1, RemediationKind::NotebookFix, Hold::Retry { at: 5_000 });
        store.save_failure(&first).unwrap();
        store
            .save_failure(&failure(NB1, RemediationKind::Tags, Hold::NeedsPerson))
            .unwrap();
        store
            .save_failure(&failure(
                NB2,
                RemediationKind::NotebookFix,
                Hold::Quiet { until: 9 },
            ))
            .unwrap();
        assert_eq!(
            store.failure(NB1, RemediationKind::NotebookFix).unwrap(),
            Some(first)
        );
        let second = Failure {
            failures: 2,
            hold: Hold::NeedsPerson,
            ..failure(NB1, RemediationKind::NotebookFix, Hold::NeedsPerson)
        };
        store.save_failure(&second).unwrap();
        assert_eq!(
            store.failure(NB1, RemediationKind::NotebookFix).unwrap(),
            Some(second)
        );
        assert_eq!(store.failures().unwrap().len(), 3);
        store
            .clear_failure(NB1, RemediationKind::NotebookFix)
            .unwrap();
        store
            .clear_failure(NB3, RemediationKind::NotebookFix)
            .unwrap();
        assert_eq!(
            store.failure(NB1, RemediationKind::NotebookFix).unwrap(),
            None
        );
        // Survives reopening.
        let path = store.path().to_path_buf();
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        let kept: Vec<_> = store
            .failures()
            .unwrap()
            .into_iter()
            .map(|f| (f.resource.arn.to_string(), f.kind, f.hold))
            .collect();
        assert_eq!(
            kept,
            [
                (NB1.to_string(), RemediationKind::Tags, Hold::NeedsPerson),
                (
                    NB2.to_string(),
                    RemediationKind::NotebookFix,
                    Hold::Quiet { until: 9 }
                )
            ]
        );
        drop(dir);
    }

    #[test]
    fn a_claim_is_taken_over_only_from_the_named_previous_holder() {
        let (_dir, store) = open();
        assert_eq!(store.claim_holder(NB1).unwrap(), None);
        assert!(store.claim(NB1, "dead", 1_000, 60_000).unwrap());
        assert!(!store.claim(NB1, "me", 1_001, 60_000).unwrap(), "unexpired");
        assert!(
            !store
                .take_over(NB1, "someone-else", "me", 1_001, 500)
                .unwrap(),
            "the holder is not the one named"
        );
        assert_eq!(
            store.claim_holder(NB1).unwrap(),
            Some(("dead".to_string(), 61_000))
        );
        assert!(store.take_over(NB1, "dead", "me", 1_002, 500).unwrap());
        assert_eq!(
            store.claim_holder(NB1).unwrap(),
            Some(("me".to_string(), 1_502))
        );
        assert!(
            !store.take_over(NB1, "dead", "third", 1_003, 500).unwrap(),
            "taken already"
        );
        assert!(
            store.take_over(NB2, "dead", "me", 1_003, 500).unwrap(),
            "a free claim is taken"
        );
    }

    #[test]
    fn claims_are_exclusive_until_expiry_or_release() {
        let (_dir, store) = open();
        assert!(store.claim(NB1, "a", 1_000, 500).unwrap());
        assert!(!store.claim(NB1, "b", 1_200, 500).unwrap(), "held by a");
        assert!(
            store.claim(NB2, "b", 1_200, 500).unwrap(),
            "claims are per resource"
        );
        assert!(
            store.claim(NB1, "a", 1_400, 500).unwrap(),
            "a renews, now until 1_900"
        );
        assert!(!store.claim(NB1, "b", 1_899, 500).unwrap());
        assert!(
            store.claim(NB1, "b", 1_900, 500).unwrap(),
            "expired at 1_900"
        );
        assert!(!store.claim(NB1, "a", 2_000, 500).unwrap(), "now held by b");

        store.release(NB1, "a").unwrap(); // not a's: nothing happens
        assert!(!store.claim(NB1, "a", 2_000, 500).unwrap());
        store.release(NB1, "b").unwrap();
        assert!(store.claim(NB1, "a", 2_000, 500).unwrap());
        store.release(NB3, "nobody").unwrap();
    }

    #[test]
    fn unfinished_returns_only_running_remediations() {
        let (_dir, store) = open();
        let a = store.begin(&new_remediation(NB1, 100)).unwrap();
        let b = store.begin(&new_remediation(NB2, 110)).unwrap();
        let c = store.begin(&new_remediation(NB3, 120)).unwrap();
        store
            .append_step(a, &step(101, "StopNotebookInstance", "intent"))
            .unwrap();
        store
            .save_state(
                b,
                &json!({"done": true}),
                RemediationStatus::Succeeded,
                Some("fixed"),
                130,
                &[],
            )
            .unwrap();
        store
            .save_state(
                c,
                &json!({}),
                RemediationStatus::Abandoned,
                Some("gone"),
                140,
                &[],
            )
            .unwrap();

        let unfinished = store.unfinished().unwrap();
        assert_eq!(unfinished.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a]);
        assert_eq!(unfinished[0].status, RemediationStatus::Running);
        assert_eq!(
            unfinished[0].steps,
            vec![step(101, "StopNotebookInstance", "intent")]
        );
        assert_eq!(store.unfinished_for(NB1).unwrap().map(|r| r.id), Some(a));
        assert_eq!(store.unfinished_for(NB2).unwrap(), None);
        assert_eq!(store.unfinished_for(NB3).unwrap(), None);

        store
            .save_state(
                a,
                &json!({}),
                RemediationStatus::Failed,
                Some("x"),
                150,
                &[],
            )
            .unwrap();
        assert!(store.unfinished().unwrap().is_empty());
        assert_eq!(store.unfinished_for(NB1).unwrap(), None);
    }

    #[test]
    fn journal_guards_one_running_per_resource_and_final_statuses() {
        let (_dir, store) = open();
        let a = store.begin(&new_remediation(NB1, 100)).unwrap();
        assert!(matches!(
            store.begin(&new_remediation(NB1, 110)),
            Err(StoreError::Conflict { .. })
        ));
        store
            .save_state(
                a,
                &json!({}),
                RemediationStatus::Succeeded,
                Some("ok"),
                120,
                &[],
            )
            .unwrap();
        // An idempotent retry of the final save is fine; reopening or changing it is not.
        store
            .save_state(
                a,
                &json!({}),
                RemediationStatus::Succeeded,
                Some("ok"),
                121,
                &[],
            )
            .unwrap();
        for status in [RemediationStatus::Running, RemediationStatus::Failed] {
            assert!(matches!(
                store.save_state(a, &json!({}), status, None, 130, &[]),
                Err(StoreError::Conflict { .. })
            ));
        }
        let b = store.begin(&new_remediation(NB1, 140)).unwrap();
        assert!(b > a, "ids grow");
        assert!(matches!(
            store.append_step(9_999, &step(1, "StopNotebookInstance", "intent")),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.save_state(9_999, &json!({}), RemediationStatus::Failed, None, 1, &[]),
            Err(StoreError::NotFound { .. })
        ));
        let r = store.remediations(Some(NB1), 1).unwrap().remove(0);
        assert_eq!((r.id, r.created_at, r.updated_at), (b, 140, 140));
    }

    #[test]
    fn steps_and_updated_at_record_the_journal() {
        let (_dir, store) = open();
        let id = store.begin(&new_remediation(NB1, 100)).unwrap();
        let steps = vec![
            step(110, "StopNotebookInstance", "intent"),
            step(120, "StopNotebookInstance", "done"),
            step(115, "StopNotebookInstance", "observed"), // an out-of-order clock does not move updated_at back
            step(130, "UpdateNotebookInstance", "intent"),
        ];
        for s in &steps {
            store.append_step(id, s).unwrap();
        }
        let r = store.unfinished_for(NB1).unwrap().unwrap();
        assert_eq!(r.steps, steps);
        assert_eq!((r.created_at, r.updated_at), (100, 130));
        assert_eq!(r.kind, "notebook-fix");
        assert_eq!(
            r.controls,
            vec![ControlId::SageMaker3, ControlId::SageMaker8]
        );
        assert_eq!(r.outcome, None);
    }

    #[test]
    fn remediations_are_newest_first_and_filtered_by_arn() {
        let (_dir, store) = open();
        let mut ids = Vec::new();
        for (i, arn) in [NB1, NB2, NB1, NB3, NB1].into_iter().enumerate() {
            let at = 1_000 + i64::try_from(i).unwrap() * 10;
            let id = store.begin(&new_remediation(arn, at)).unwrap();
            store
                .append_step(id, &step(at + 1, "AddTags", "done"))
                .unwrap();
            store
                .save_state(
                    id,
                    &json!({ "i": i }),
                    RemediationStatus::Succeeded,
                    None,
                    at + 2,
                    &[],
                )
                .unwrap();
            ids.push(id);
        }
        let all = store.remediations(None, 100).unwrap();
        assert_eq!(
            all.iter().map(|r| r.id).collect::<Vec<_>>(),
            ids.iter().rev().copied().collect::<Vec<_>>()
        );
        assert!(all.iter().all(|r| r.steps.len() == 1));
        let nb1 = store.remediations(Some(NB1), 100).unwrap();
        assert_eq!(
            nb1.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![ids[4], ids[2], ids[0]]
        );
        assert_eq!(nb1[0].state, json!({"i": 4}));
        let two = store.remediations(Some(NB1), 2).unwrap();
        assert_eq!(
            two.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![ids[4], ids[2]]
        );
        assert_eq!(store.remediations(None, 1).unwrap().len(), 1);
        assert!(store.remediations(Some("arn:none"), 10).unwrap().is_empty());
    }

    #[test]
    fn what_a_sweep_found_compliant_is_kept_per_target_until_it_fails() {
        let (_dir, store) = open();
        assert!(store.seen("111122223333", "eu-west-1").unwrap().is_empty());
        let seen = |arn: &str, v: &str| (arn.to_string(), v.to_string());
        store
            .save_seen(
                "111122223333",
                "eu-west-1",
                &[
                    seen(NB1, "modified 1 InService"),
                    seen(NB2, "modified 2 Stopped"),
                ],
                &[],
                100,
            )
            .unwrap();
        store
            .save_seen("111122223333", "us-east-1", &[seen(NB3, "x")], &[], 100)
            .unwrap();
        // NB1 changed and fails now: forgotten; NB2 changed and passes: its new version.
        store
            .save_seen(
                "111122223333",
                "eu-west-1",
                &[seen(NB2, "modified 3 InService")],
                &[NB1.to_string()],
                200,
            )
            .unwrap();
        let kept = store.seen("111122223333", "eu-west-1").unwrap();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[NB2], "modified 3 InService");
        assert_eq!(store.seen("111122223333", "us-east-1").unwrap().len(), 1);
    }

    #[test]
    fn save_flag_upserts_by_arn() {
        let (_dir, store) = open();
        assert!(store.flags(None).unwrap().is_empty());
        store
            .save_flag(&flag(NB2, 100, json!({"v": 1})), &[])
            .unwrap();
        store
            .save_flag(&flag(NB1, 110, json!({"v": 1})), &[])
            .unwrap();
        let mut newer = flag(NB2, 200, json!({"v": 2, "subnet": "subnet-1"}));
        newer.controls = vec![ControlId::SageMaker1, ControlId::SageMaker2];
        newer.dry_run = false;
        store.save_flag(&newer, &[]).unwrap();

        let all = store.flags(None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].resource.arn, NB1, "sorted by ARN");
        assert_eq!(all[1], newer);
        assert_eq!(store.flags(Some(NB2)).unwrap(), vec![newer]);
        assert!(store.flags(Some(NB3)).unwrap().is_empty());
    }

    #[test]
    fn corrupt_rows_are_errors_naming_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = SqliteStore::open(&path).unwrap();
        store
            .enqueue(&[trigger(NB1, None, &[ControlId::SageMaker3], "a")], 100)
            .unwrap();
        let id = store.begin(&new_remediation(NB2, 100)).unwrap();
        store.save_flag(&flag(NB3, 100, json!({})), &[]).unwrap();

        let raw = Connection::open(&path).unwrap();
        raw.execute(
            "UPDATE triggers SET controls = 'SageMaker.3,SageMaker.99'",
            [],
        )
        .unwrap();
        raw.execute(
            "UPDATE remediations SET resource_type = 'AWS::SageMaker::Nope'",
            [],
        )
        .unwrap();
        raw.execute("UPDATE flags SET plan = '{not json'", [])
            .unwrap();

        let expect_corrupt = |result: Result<(), StoreError>, needle: &str| match result {
            Err(StoreError::Corrupt { what, message }) => {
                assert!(what.contains(needle), "{what}: {message}");
            }
            other => panic!("expected corrupt {needle}, got {other:?}"),
        };
        expect_corrupt(store.due(100, 10).map(drop), NB1);
        expect_corrupt(store.unfinished().map(drop), &format!("remediation {id}"));
        expect_corrupt(store.flags(None).map(drop), NB3);

        // A new trigger heals the queue row: unreadable hints are dropped, not fatal.
        store
            .enqueue(&[trigger(NB1, None, &[ControlId::SageMaker8], "b")], 200)
            .unwrap();
        let p = store.due(200, 10).unwrap().remove(0);
        assert_eq!(
            p.trigger.controls,
            vec![ControlId::SageMaker3, ControlId::SageMaker8]
        );
    }

    #[test]
    fn a_poisoned_lock_is_recovered() {
        let (_dir, store) = open();
        let store = std::sync::Arc::new(store);
        let poisoner = std::sync::Arc::clone(&store);
        let joined = std::thread::spawn(move || {
            let _guard = poisoner.conn.lock();
            panic!("poison the store lock");
        })
        .join();
        assert!(joined.is_err());
        assert!(store.conn.is_poisoned());
        store.enqueue(&[trigger(NB1, None, &[], "a")], 1).unwrap();
        assert_eq!(store.pending_count().unwrap(), 1);
    }

    #[test]
    fn concurrent_enqueues_from_threads_coalesce() {
        let (_dir, store) = open();
        let store = std::sync::Arc::new(store);
        let handles: Vec<_> = (0..4)
            .map(|w| {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let arn = [NB1, NB2, NB3][(w + i) % 3];
                        store
                            .enqueue(&[trigger(arn, None, &[], &format!("{w}-{i}"))], 1)
                            .unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let due = store.due(1, 10).unwrap();
        assert_eq!(arns(&due), vec![NB1, NB2, NB3]);
        assert_eq!(due.iter().map(|p| p.generation).sum::<u64>(), 100);
    }

    /// Any interleaving of enqueue, due and finish (with current or stale generations) keeps
    /// exactly one pending row per ARN that has a generation not yet finished, with the
    /// generation the model predicts; finish succeeds exactly when the model says it should.
    #[test]
    fn property_one_pending_row_per_unfinished_arn() {
        const ARNS: [&str; 5] = ["arn:p:0", "arn:p:1", "arn:p:2", "arn:p:3", "arn:p:4"];
        for seed in [1_u64, 7, 42, 1_234_567, 0xdead_beef] {
            let (_dir, store) = open();
            let mut lcg = seed;
            let mut next = move |n: u64| {
                lcg = lcg
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (lcg >> 33) % n
            };
            // arn -> (latest generation, still pending)
            let mut model: BTreeMap<&str, (u64, bool)> = BTreeMap::new();
            // generations a worker has seen (some of them stale by now)
            let mut seen: Vec<(&str, u64)> = Vec::new();
            for op in 0..400_i64 {
                match next(4) {
                    0 | 1 => {
                        let count = 1 + next(3);
                        let batch: Vec<Trigger> = (0..count)
                            .map(|_| {
                                let arn = ARNS[usize::try_from(next(5)).unwrap()];
                                let e = model.entry(arn).or_insert((0, false));
                                *e = (e.0 + 1, true);
                                trigger(arn, None, &[], &format!("{seed}-{op}"))
                            })
                            .collect();
                        store.enqueue(&batch, op).unwrap();
                    }
                    2 => {
                        for p in store.due(i64::MAX, 3).unwrap() {
                            let arn = ARNS.iter().find(|a| **a == p.trigger.arn).unwrap();
                            seen.push((arn, p.generation));
                        }
                    }
                    _ => {
                        if seen.is_empty() {
                            continue;
                        }
                        let (arn, generation) =
                            seen.swap_remove(usize::try_from(next(seen.len() as u64)).unwrap());
                        let e = model.get_mut(arn).unwrap();
                        let expected = e.1 && e.0 == generation;
                        if expected {
                            e.1 = false;
                        }
                        assert_eq!(
                            store.finish(arn, generation).unwrap(),
                            expected,
                            "seed {seed} op {op}: finish({arn}, {generation})"
                        );
                    }
                }
                let rows: Vec<(String, u64)> = store
                    .due(i64::MAX, 100)
                    .unwrap()
                    .into_iter()
                    .map(|p| (p.trigger.arn, p.generation))
                    .collect();
                let distinct: BTreeSet<&String> = rows.iter().map(|(a, _)| a).collect();
                assert_eq!(
                    distinct.len(),
                    rows.len(),
                    "seed {seed} op {op}: duplicate rows"
                );
                let mut rows = rows;
                rows.sort();
                let want: Vec<(String, u64)> = model
                    .iter()
                    .filter(|(_, (_, pending))| *pending)
                    .map(|(a, (g, _))| ((*a).to_string(), *g))
                    .collect();
                assert_eq!(rows, want, "seed {seed} op {op}");
                assert_eq!(store.pending_count().unwrap(), want.len() as u64);
            }
        }
    }
}
