//! The rows of the SQLite store as stored, and their decoding into domain types (after the
//! connection's lock is released).

use rusqlite::Row;

use crate::events::{Family, Trigger};
use crate::model::{ControlId, ResourceRef, ResourceType};
use crate::store::coalesce::parse_controls_lenient;
use crate::store::{Flag, Millis, Pending, Remediation, RemediationStatus, StepRecord, StoreError};

/// The resource columns every table has (after `id` in `remediations`).
pub(super) struct RawResource {
    pub(super) arn: String,
    pub(super) account: String,
    pub(super) region: String,
    pub(super) resource_type: String,
    pub(super) name: Option<String>,
}

impl RawResource {
    /// Columns `at` to `at + 4`.
    fn from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<RawResource> {
        Ok(RawResource {
            arn: row.get(at)?,
            account: row.get(at + 1)?,
            region: row.get(at + 2)?,
            resource_type: row.get(at + 3)?,
            name: row.get(at + 4)?,
        })
    }

    fn decode(&self) -> Result<ResourceRef, String> {
        Ok(ResourceRef {
            resource_type: parse_resource_type(&self.resource_type)?,
            arn: self.arn.clone().into(),
            account: self.account.clone(),
            region: self.region.clone(),
            name: self.name.clone().unwrap_or_default(),
        })
    }
}

/// A `triggers` row as stored, decoded after the lock is released.
pub(super) struct RawPending {
    pub(super) resource: RawResource,
    pub(super) family: String,
    pub(super) event_id: String,
    pub(super) controls: String,
    pub(super) generation: i64,
    pub(super) attempts: i64,
    pub(super) not_before: Millis,
    pub(super) first_seen: Millis,
}

impl RawPending {
    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<RawPending> {
        Ok(RawPending {
            resource: RawResource::from_row(row, 0)?,
            family: row.get(5)?,
            event_id: row.get(6)?,
            controls: row.get(7)?,
            generation: row.get(8)?,
            attempts: row.get(9)?,
            not_before: row.get(10)?,
            first_seen: row.get(11)?,
        })
    }

    pub(super) fn decode(self) -> Result<Pending, StoreError> {
        let what = || format!("trigger {}", self.resource.arn);
        let corrupt = |message: String| StoreError::Corrupt {
            what: what(),
            message,
        };
        let resource_type = parse_resource_type(&self.resource.resource_type).map_err(corrupt)?;
        let family = Family::parse(&self.family)
            .ok_or_else(|| corrupt(format!("unknown family `{}`", self.family)))?;
        let controls = parse_controls(&self.controls).map_err(corrupt)?;
        let generation = u64::try_from(self.generation)
            .map_err(|_| corrupt(format!("negative generation {}", self.generation)))?;
        let attempts = u32::try_from(self.attempts)
            .map_err(|_| corrupt(format!("attempts {} out of range", self.attempts)))?;
        Ok(Pending {
            trigger: Trigger {
                account: self.resource.account,
                region: self.resource.region,
                resource_type,
                arn: self.resource.arn,
                name: self.resource.name,
                family,
                event_id: self.event_id,
                controls,
            },
            generation,
            attempts,
            not_before: self.not_before,
            first_seen: self.first_seen,
        })
    }
}

/// A `remediations` row with its steps, as stored.
pub(super) struct RawRemediation {
    pub(super) id: i64,
    pub(super) resource: RawResource,
    pub(super) controls: String,
    pub(super) kind: crate::store::RemediationKind,
    pub(super) dry_run: bool,
    pub(super) state: String,
    pub(super) status: String,
    pub(super) outcome: Option<String>,
    pub(super) created_at: Millis,
    pub(super) updated_at: Millis,
    pub(super) steps: Vec<StepRecord>,
}

impl RawRemediation {
    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<RawRemediation> {
        Ok(RawRemediation {
            id: row.get(0)?,
            resource: RawResource::from_row(row, 1)?,
            controls: row.get(6)?,
            kind: row.get(7)?,
            dry_run: row.get(8)?,
            state: row.get(9)?,
            status: row.get(10)?,
            outcome: row.get(11)?,
            created_at: row.get(12)?,
            updated_at: row.get(13)?,
            steps: Vec::new(),
        })
    }

    pub(super) fn decode(self) -> Result<Remediation, StoreError> {
        let corrupt = |message: String| StoreError::Corrupt {
            what: format!("remediation {} ({})", self.id, self.resource.arn),
            message,
        };
        let controls = parse_controls(&self.controls).map_err(corrupt)?;
        let state = serde_json::from_str(&self.state)
            .map_err(|e| corrupt(format!("state is not JSON: {e}")))?;
        let status = RemediationStatus::parse(&self.status)
            .ok_or_else(|| corrupt(format!("unknown status `{}`", self.status)))?;
        let resource = self.resource.decode().map_err(corrupt)?;
        Ok(Remediation {
            id: self.id,
            resource,
            controls,
            kind: self.kind,
            dry_run: self.dry_run,
            state,
            status,
            outcome: self.outcome,
            created_at: self.created_at,
            updated_at: self.updated_at,
            steps: self.steps,
        })
    }
}

/// A `flags` row as stored.
pub(super) struct RawFlag {
    pub(super) resource: RawResource,
    pub(super) controls: String,
    pub(super) plan: String,
    pub(super) dry_run: bool,
    pub(super) at: Millis,
}

impl RawFlag {
    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<RawFlag> {
        Ok(RawFlag {
            resource: RawResource::from_row(row, 0)?,
            controls: row.get(5)?,
            plan: row.get(6)?,
            dry_run: row.get(7)?,
            at: row.get(8)?,
        })
    }

    pub(super) fn decode(self) -> Result<Flag, StoreError> {
        let corrupt = |message: String| StoreError::Corrupt {
            what: format!("flag {}", self.resource.arn),
            message,
        };
        let controls = parse_controls(&self.controls).map_err(corrupt)?;
        let plan = serde_json::from_str(&self.plan)
            .map_err(|e| corrupt(format!("plan is not JSON: {e}")))?;
        let resource = self.resource.decode().map_err(corrupt)?;
        Ok(Flag {
            resource,
            controls,
            plan,
            dry_run: self.dry_run,
            at: self.at,
        })
    }
}

/// A record kept as a JSON body (failures, pauses); `what` names it in the error.
pub(super) fn decode_body<T: serde::de::DeserializeOwned>(
    what: impl FnOnce() -> String,
    body: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        what: what(),
        message: e.to_string(),
    })
}

pub(super) fn parse_controls(s: &str) -> Result<Vec<ControlId>, String> {
    let (controls, bad) = parse_controls_lenient(s);
    match bad.first() {
        None => Ok(controls),
        Some(bad) => Err(format!("unknown control `{bad}`")),
    }
}

pub(super) fn parse_resource_type(s: &str) -> Result<ResourceType, String> {
    ResourceType::parse(s).ok_or_else(|| format!("unknown resource type `{s}`"))
}

/// The journal's vocabulary is stored as its historic strings.
macro_rules! sql_text {
    ($($t:ty),*) => {$(
        impl rusqlite::types::ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        impl rusqlite::types::FromSql for $t {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                let text = value.as_str()?;
                text.parse().map_err(|_| {
                    rusqlite::types::FromSqlError::Other(
                        format!("unknown {} `{text}`", stringify!($t)).into(),
                    )
                })
            }
        }
    )*};
}

sql_text!(
    crate::store::RemediationKind,
    crate::store::Step,
    crate::store::StepPhase
);
