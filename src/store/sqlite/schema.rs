//! The SQLite store's schema, by version.

use std::time::Duration;

/// The schema this build writes (`PRAGMA user_version`).
pub(super) const SCHEMA_VERSION: i64 = 5;

/// How long a statement waits for a lock held by another connection.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Version 5: what the sweep last saw of each compliant resource (its version from the List
/// call), so that an unchanged one is not described again.
pub(super) const SCHEMA_V5: &str = "
CREATE TABLE IF NOT EXISTS seen (
    arn     TEXT    NOT NULL PRIMARY KEY,
    account TEXT    NOT NULL,
    region  TEXT    NOT NULL,
    version TEXT    NOT NULL,
    at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_target ON seen (account, region);
";

/// Version 4: the fixes that wait to start, one row per resource and kind.
pub(super) const SCHEMA_V4: &str = "
CREATE TABLE IF NOT EXISTS waits (
    arn   TEXT    NOT NULL,
    kind  TEXT    NOT NULL,
    until INTEGER NOT NULL,
    body  TEXT    NOT NULL,
    PRIMARY KEY (arn, kind)
) WITHOUT ROWID;
";

pub(super) const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS triggers (
    arn           TEXT    NOT NULL PRIMARY KEY,
    account       TEXT    NOT NULL,
    region        TEXT    NOT NULL,
    resource_type TEXT    NOT NULL,
    name          TEXT,
    family        TEXT    NOT NULL,
    event_id      TEXT    NOT NULL,
    controls      TEXT    NOT NULL,
    generation    INTEGER NOT NULL,
    attempts      INTEGER NOT NULL,
    not_before    INTEGER NOT NULL,
    first_seen    INTEGER NOT NULL,
    pending       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS triggers_due ON triggers (pending, not_before, arn);

CREATE TABLE IF NOT EXISTS claims (
    arn        TEXT    NOT NULL PRIMARY KEY,
    owner      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS remediations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    arn           TEXT    NOT NULL,
    account       TEXT    NOT NULL,
    region        TEXT    NOT NULL,
    resource_type TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    controls      TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    dry_run       INTEGER NOT NULL,
    state         TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    outcome       TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS remediations_one_running ON remediations (arn)
    WHERE status = 'running';
CREATE INDEX IF NOT EXISTS remediations_by_arn ON remediations (arn, created_at, id);
CREATE INDEX IF NOT EXISTS remediations_by_time ON remediations (created_at, id);

CREATE TABLE IF NOT EXISTS steps (
    remediation_id INTEGER NOT NULL REFERENCES remediations (id),
    seq            INTEGER NOT NULL,
    at             INTEGER NOT NULL,
    step           TEXT    NOT NULL,
    phase          TEXT    NOT NULL,
    detail         TEXT    NOT NULL,
    PRIMARY KEY (remediation_id, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS flags (
    arn           TEXT    NOT NULL PRIMARY KEY,
    account       TEXT    NOT NULL,
    region        TEXT    NOT NULL,
    resource_type TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    controls      TEXT    NOT NULL,
    plan          TEXT    NOT NULL,
    dry_run       INTEGER NOT NULL,
    at            INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 2: the failure memory, one row per (ARN, remediation kind), the record as JSON.
pub(super) const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS failures (
    arn  TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (arn, kind)
) WITHOUT ROWID;
";

pub(super) const PENDING_COLUMNS: &str =
    "arn, account, region, resource_type, name, family, event_id, \
     controls, generation, attempts, not_before, first_seen";

pub(super) const REMEDIATION_COLUMNS: &str =
    "id, arn, account, region, resource_type, name, controls, \
     kind, dry_run, state, status, outcome, created_at, updated_at";

pub(super) const FLAG_COLUMNS: &str =
    "arn, account, region, resource_type, name, controls, plan, dry_run, at";
