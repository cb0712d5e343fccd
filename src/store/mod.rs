//! The durable state of the remediator: the trigger queue (recorded before the SQS message is
//! deleted), the journal of every remediation with its resumable state, the per-resource
//! exclusive claim, flagged resources with their recreation plans, and the failures that keep a
//! failed remediation from being started again until it is due.
//!
//! [`Store`] is the contract; [`SqliteStore`] is the embedded default (one file). Every
//! operation touches one logical item (a trigger row, a claim, a remediation with its steps, a
//! flag) and decides with a condition on that item alone, so a DynamoDB backend with
//! conditional writes can implement the same trait. No operation reads the clock: every time is
//! passed in by the caller.

use serde::{Deserialize, Serialize};

use crate::events::Trigger;
use crate::model::{ControlId, ResourceRef};

mod approvals;
mod coalesce;
mod dynamodb;
mod outbox;
mod sqlite;
mod vocabulary;

pub use approvals::{Approval, ApprovalState, NewApproval, Verdict};
pub use dynamodb::{client as dynamodb_client, DynamoStore, Init as TableInit};
pub use outbox::{Channel, Notice, OutboxEntry};
pub use sqlite::{lock_path, DaemonLock, LockError, SqliteStore};
pub use vocabulary::{RemediationKind, Step, StepPhase};

pub use crate::model::Millis;

/// A trigger waiting in the queue: the latest trigger recorded for its ARN, with the merged
/// name and control hints of every trigger coalesced into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub trigger: Trigger,
    /// Bumped by every trigger recorded for this ARN; [`Store::finish`] removes the row only for
    /// the generation the caller worked on.
    pub generation: u64,
    /// Failed attempts so far (set by [`Store::defer`]).
    pub attempts: u32,
    /// Not to be worked on before this time.
    pub not_before: Millis,
    /// When the first trigger of this pending row was recorded.
    pub first_seen: Millis,
}

/// Where a remediation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemediationStatus {
    /// Started and not finished: resumed after a restart.
    Running,
    Succeeded,
    Failed,
    /// Given up on purpose (the resource vanished, the policy changed, an operator said so).
    Abandoned,
}

impl RemediationStatus {
    pub const ALL: [RemediationStatus; 4] = [
        RemediationStatus::Running,
        RemediationStatus::Succeeded,
        RemediationStatus::Failed,
        RemediationStatus::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RemediationStatus::Running => "running",
            RemediationStatus::Succeeded => "succeeded",
            RemediationStatus::Failed => "failed",
            RemediationStatus::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<RemediationStatus> {
        RemediationStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// True for every status but `Running`.
    pub fn is_terminal(self) -> bool {
        self != RemediationStatus::Running
    }
}

impl std::fmt::Display for RemediationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`Store::begin`] records about a new remediation.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRemediation {
    /// The resource, as its Describe or List named it.
    pub resource: ResourceRef,
    pub controls: Vec<ControlId>,
    pub kind: RemediationKind,
    pub dry_run: bool,
    /// The initial resumable state of the workflow.
    pub state: serde_json::Value,
    pub at: Millis,
    /// Written to the outbox with the entry, linked to its id.
    pub notices: Vec<Notice>,
}

/// One line of a remediation's journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub at: Millis,
    /// The workflow step, e.g. `StopNotebookInstance`.
    pub step: Step,
    /// `intent` (about to call), `done`, `error`, `observed`, `wait` or `dry-run`.
    pub phase: StepPhase,
    pub detail: String,
}

/// A journal entry: one remediation of one resource, with every step recorded so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remediation {
    pub id: i64,
    /// The resource, as its Describe or List named it.
    #[serde(flatten)]
    pub resource: ResourceRef,
    pub controls: Vec<ControlId>,
    pub kind: RemediationKind,
    pub dry_run: bool,
    pub state: serde_json::Value,
    pub status: RemediationStatus,
    pub outcome: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// In the order they were appended.
    pub steps: Vec<StepRecord>,
}

/// A resource that cannot be fixed in place, with the plan to recreate it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    /// The resource, as its Describe or List named it.
    #[serde(flatten)]
    pub resource: ResourceRef,
    pub controls: Vec<ControlId>,
    pub plan: serde_json::Value,
    pub dry_run: bool,
    pub at: Millis,
}

/// What the daemon remembers about a remediation that did not succeed, per resource and
/// remediation kind, so that a failed fix is not started again on every trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The resource, as its Describe or List named it.
    #[serde(flatten)]
    pub resource: ResourceRef,
    pub kind: RemediationKind,
    pub controls: Vec<ControlId>,
    /// The plan that failed, as its canonical JSON (the plan fingerprint).
    pub plan: String,
    /// The resource's settings when it failed (see `policy::retry::settings_version`): a
    /// change of them means someone changed the resource.
    pub version: String,
    /// Consecutive failed attempts of this plan.
    pub failures: u32,
    pub hold: Hold,
    /// Why the last attempt failed.
    pub reason: String,
    /// The journal entry of the last attempt.
    pub remediation_id: i64,
    pub at: Millis,
}

/// What a remembered failure holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Hold {
    /// The same plan is tried again from `at` on (or as soon as the resource changes).
    Retry { at: Millis },
    /// Not tried again until the resource or the plan changes.
    NeedsPerson,
    /// Someone started the notebook while our fix held it stopped: no disruptive fix until
    /// `until`, whatever changes.
    Quiet { until: Millis },
}

/// Enforcement paused for an account (the blast-radius limit was reached).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub account: String,
    /// Fixes start again from then on.
    pub until: Millis,
    pub reason: String,
    pub at: Millis,
    /// When an operator resumed it early (`enforcement resume`): fixes started before do not
    /// count against the limit any more.
    pub resumed_at: Option<Millis>,
}

/// A notebook fix that is due but may not start yet: a maintenance window is closed, someone
/// used the notebook lately, its notice before a stop runs, or the blast-radius limits hold it.
/// Kept for `remediations` until the fix starts or is no longer needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wait {
    #[serde(flatten)]
    pub resource: ResourceRef,
    pub kind: RemediationKind,
    pub controls: Vec<ControlId>,
    /// `maintenance-window`, `in-use`, `stop-notice`, `enforcement-paused` or `fixes-at-once`.
    pub reason: String,
    /// When the fix is looked at again (and starts, if nothing else holds it).
    pub until: Millis,
    /// When the wait was recorded (the fix was last looked at).
    pub at: Millis,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed (I/O, locked past the busy timeout, constraint).
    /// (The SQLite error is part of the message, with the path said once, rather than a
    /// separate cause.)
    #[error("store {path}: {}", sqlite_message(error, path))]
    Sqlite {
        path: String,
        error: rusqlite::Error,
    },
    /// A stored record cannot be read back (unknown control, resource type, status, bad JSON).
    #[error("store: corrupt record {what}: {message}")]
    Corrupt { what: String, message: String },
    /// The operation names a record that does not exist (e.g. an unknown remediation id).
    #[error("store: no {what}")]
    NotFound { what: String },
    /// The condition of a conditional write did not hold (e.g. a second Running remediation
    /// for one resource, or changing a finished one).
    #[error("store: conflict on {what}: {message}")]
    Conflict { what: String, message: String },
    /// A DynamoDB call failed for good (after the SDK's retries), or the table is not what the
    /// store expects.
    #[error("store: DynamoDB table {table}: {operation}: {reason}: {message}")]
    Dynamo {
        table: String,
        operation: &'static str,
        reason: DynamoReason,
        message: String,
    },
    /// There is no store file at the path (reading commands never create one).
    #[error(
        "store {path} does not exist: no daemon has written a journal there (check \
         daemon.store_path and --config)"
    )]
    Missing { path: String },
    /// The file was written by a newer version of the remediator.
    #[error(
        "store {path}: schema version {found} is newer than this build supports ({supported})"
    )]
    Schema {
        path: String,
        found: i64,
        supported: i64,
    },
}

impl StoreError {
    /// Worth trying again in a moment: DynamoDB throttled or did not answer, or writers kept
    /// meeting on one item. (Everything else says something about the data or the setup.)
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Dynamo { reason, .. } if reason.is_transient())
    }
}

/// The rule of [`Store::save_state`], which both backends apply: a finished remediation is
/// final, saved again only with the same status.
pub(in crate::store) fn check_final(
    id: i64,
    current: RemediationStatus,
    status: RemediationStatus,
) -> Result<(), StoreError> {
    if current.is_terminal() && current != status {
        return Err(StoreError::Conflict {
            what: format!("remediation {id}"),
            message: format!("already {current}, cannot become {status}"),
        });
    }
    Ok(())
}

/// The rule of [`Store::append_intent`]: an unexpired claim of another owner on `arn`
/// (`holder`: who holds it and until when) refuses the intent.
pub(in crate::store) fn check_unclaimed(
    arn: &str,
    holder: Option<(String, Millis)>,
    owner: &str,
    now: Millis,
) -> Result<(), StoreError> {
    match holder {
        Some((holder, expires_at)) if holder != owner && expires_at > now => {
            Err(StoreError::Conflict {
                what: format!("claim on {arn}"),
                message: format!("held by {holder}: the call is not made"),
            })
        }
        _ => Ok(()),
    }
}

/// Why a DynamoDB call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::IntoStaticStr)]
pub enum DynamoReason {
    /// Throttled past the SDK's retries: the table's capacity or an account limit.
    #[strum(
        serialize = "throttled (more than the table or the account allows; the SDK's retries ran out)"
    )]
    Throttled,
    #[strum(serialize = "access denied (see the task role's DynamoDB permissions in deploy/)")]
    AccessDenied,
    #[strum(serialize = "no such table (create it with `sagemaker-remediator store init`)")]
    NoTable,
    #[strum(serialize = "DynamoDB did not answer (network, timeout or a server error)")]
    Unavailable,
    #[strum(serialize = "request refused")]
    Rejected,
    /// A read-modify-write kept meeting other writers.
    #[strum(serialize = "contended (other writers kept changing the item)")]
    Contended,
    #[strum(serialize = "failed")]
    Other,
}

impl DynamoReason {
    /// Worth trying again later (the scheduler backs off instead of stopping).
    pub fn is_transient(self) -> bool {
        // A table that disappears while the daemon runs (deleted, being restored) is waited
        // for too: the start-up check already refused a wrong name.
        matches!(
            self,
            DynamoReason::Throttled
                | DynamoReason::Unavailable
                | DynamoReason::Contended
                | DynamoReason::NoTable
        )
    }
}

/// SQLite's message without the file's path, which some of its messages repeat.
fn sqlite_message(error: &rusqlite::Error, path: &str) -> String {
    error.to_string().replace(&format!(": {path}"), "")
}

/// The durable state of the remediator. Synchronous: the embedded backend answers in well under
/// a millisecond, and callers on async tasks accept that.
///
/// # Assumptions
///
/// Every time (`now`, `at`) comes from the caller; the store never reads a clock. Callers hold
/// the resource's claim ([`Store::claim`]) while they work on it.
pub trait Store: Send + Sync {
    /// Records triggers durably, coalescing them by ARN.
    ///
    /// # Guarantees
    ///
    /// - All of `triggers` are committed in one transaction before this returns `Ok`: an SQS
    ///   message may be deleted after that, and its trigger survives a crash or power loss.
    /// - One pending row per ARN. A trigger for an ARN already pending bumps the row's
    ///   generation, takes the new trigger's event id and family, keeps a known name when the
    ///   new trigger has none, unions the control hints, keeps `first_seen` and `attempts`, and
    ///   keeps the earlier `not_before`; a row in error backoff (`attempts > 0`) keeps its backoff.
    /// - Generations of one ARN only grow, also across [`Store::finish`]: a stale `finish` can
    ///   never remove a row recorded after it.
    fn enqueue(&self, triggers: &[Trigger], now: Millis) -> Result<(), StoreError>;

    /// Pending triggers with `not_before <= now`, oldest `not_before` first (then by ARN), at
    /// most `limit`.
    ///
    /// # Guarantees
    ///
    /// Read-only: a returned row stays pending until [`Store::finish`] removes it, so a crash
    /// while working on it loses nothing.
    fn due(&self, now: Millis, limit: usize) -> Result<Vec<Pending>, StoreError>;

    /// The earliest `not_before` among pending triggers (how long the scheduler may sleep),
    /// `None` when nothing is pending.
    fn next_due(&self) -> Result<Option<Millis>, StoreError>;

    /// Removes the pending row of `arn` if its generation is still `generation`.
    ///
    /// # Guarantees
    ///
    /// Returns `true` when the row was removed. When a newer trigger arrived meanwhile (or the
    /// row is already gone) it returns `false` and leaves the row, so the resource is
    /// reconciled again.
    fn finish(&self, arn: &str, generation: u64) -> Result<bool, StoreError>;

    /// Puts the pending row of `arn` off until `not_before` and records `attempts` (error
    /// backoff). Does nothing when `arn` is not pending.
    fn defer(&self, arn: &str, not_before: Millis, attempts: u32) -> Result<(), StoreError>;

    /// How many ARNs are pending.
    fn pending_count(&self) -> Result<u64, StoreError>;

    /// Takes the exclusive claim on a resource until `now + ttl_ms`.
    ///
    /// # Guarantees
    ///
    /// Returns `true` (and sets the expiry) when the claim was free, expired
    /// (`expires_at <= now`), or already held by `owner` (a renewal). Returns `false` and
    /// changes nothing while another owner holds an unexpired claim.
    fn claim(&self, arn: &str, owner: &str, now: Millis, ttl_ms: i64) -> Result<bool, StoreError>;

    /// Gives the claim up if `owner` holds it; does nothing otherwise (never releases another
    /// owner's claim).
    fn release(&self, arn: &str, owner: &str) -> Result<(), StoreError>;

    /// Starts a journal entry with status `Running`; returns its id.
    ///
    /// # Guarantees
    ///
    /// At most one `Running` remediation per ARN: while one exists this fails with
    /// [`StoreError::Conflict`] (resume it instead, see [`Store::unfinished_for`]). Ids grow.
    fn begin(&self, r: &NewRemediation) -> Result<i64, StoreError>;

    /// Appends a step to the journal of remediation `id` and moves its `updated_at` forward.
    ///
    /// # Guarantees
    ///
    /// Committed before this returns: write the `intent` before a mutating call and `done`
    /// after it. Steps read back in the order appended.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown id.
    fn append_step(&self, id: i64, step: &StepRecord) -> Result<(), StoreError>;

    /// Appends the `intent` step before a mutating call: as [`Store::append_step`], but only
    /// while no other owner holds an unexpired claim on `arn` at `now`.
    ///
    /// # Guarantees
    ///
    /// The check and the append are one conditional write: a replica whose claim lapsed and
    /// was taken by another cannot journal (and so cannot make) the call.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when another owner holds the claim; otherwise as
    /// [`Store::append_step`].
    fn append_intent(
        &self,
        id: i64,
        step: &StepRecord,
        arn: &str,
        owner: &str,
        now: Millis,
    ) -> Result<(), StoreError>;

    /// Saves the resumable state, status and outcome of remediation `id`.
    ///
    /// # Guarantees
    ///
    /// A finished (non-`Running`) remediation is final: saving it again with the same status is
    /// accepted (an idempotent retry), any other status fails with [`StoreError::Conflict`].
    /// `notices` go into the outbox in the same transaction, linked to `id`, unless the
    /// remediation was finished already (so a retried save sends nothing twice).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown id; [`StoreError::Conflict`] as above.
    fn save_state(
        &self,
        id: i64,
        state: &serde_json::Value,
        status: RemediationStatus,
        outcome: Option<&str>,
        at: Millis,
        notices: &[Notice],
    ) -> Result<(), StoreError>;

    /// Every `Running` remediation with its steps, oldest first (to resume after a restart).
    fn unfinished(&self) -> Result<Vec<Remediation>, StoreError>;

    /// The `Running` remediation of one resource, if any.
    fn unfinished_for(&self, arn: &str) -> Result<Option<Remediation>, StoreError>;

    /// Remediations with their steps, newest first, of every resource or of one ARN; at most
    /// `limit`.
    fn remediations(&self, arn: Option<&str>, limit: usize)
        -> Result<Vec<Remediation>, StoreError>;

    /// Records the flag of a resource, replacing an earlier flag of the same ARN.
    ///
    /// # Guarantees
    ///
    /// `notices` go into the outbox in the same transaction, but only when the flag is new or
    /// its controls, plan or dry-run changed (a sweep that flags the same again sends nothing).
    /// Returns whether they were written.
    fn save_flag(&self, flag: &Flag, notices: &[Notice]) -> Result<bool, StoreError>;

    /// Every flag (by ARN), or the flag of one ARN.
    fn flags(&self, arn: Option<&str>) -> Result<Vec<Flag>, StoreError>;

    /// Who holds the claim on `arn` and until when, if anyone does (expired claims included).
    fn claim_holder(&self, arn: &str) -> Result<Option<(String, Millis)>, StoreError>;

    /// Takes the claim on `arn` from `previous`, a holder known to be gone (a dead process of
    /// this host), whatever its expiry.
    ///
    /// # Guarantees
    ///
    /// Returns `true` and sets the expiry when `previous` held the claim (or nobody did);
    /// returns `false` and changes nothing when anyone else holds it now.
    fn take_over(
        &self,
        arn: &str,
        previous: &str,
        owner: &str,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Remembers a failed remediation, replacing what was remembered for its ARN and kind.
    fn save_failure(&self, failure: &Failure) -> Result<(), StoreError>;

    /// The remembered failure of `arn` for remediations of `kind`, if any.
    fn failure(&self, arn: &str, kind: RemediationKind) -> Result<Option<Failure>, StoreError>;

    /// Every remembered failure, by ARN.
    fn failures(&self) -> Result<Vec<Failure>, StoreError>;

    /// Forgets the failure of `arn` for `kind` (the remediation succeeded since).
    fn clear_failure(&self, arn: &str, kind: RemediationKind) -> Result<(), StoreError>;

    /// Outbox entries of `channel` with `next_attempt_at <= now`, oldest first, at most
    /// `limit`.
    fn outbox_due(
        &self,
        channel: Channel,
        now: Millis,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// The earliest `next_attempt_at` of `channel` in the outbox (how long its sender may
    /// sleep), `None` when it has no entry.
    fn outbox_next_due(&self, channel: Channel) -> Result<Option<Millis>, StoreError>;

    /// Removes the entries the bus accepted. Unknown ids are ignored (already removed).
    fn outbox_delivered(&self, event_ids: &[String]) -> Result<(), StoreError>;

    /// Records a failed delivery of one entry: its attempts, when to try again and why.
    fn outbox_retry(
        &self,
        event_id: &str,
        attempts: u32,
        next_attempt_at: Millis,
        error: &str,
    ) -> Result<(), StoreError>;

    /// How many notices of `channel` wait in the outbox.
    fn outbox_len(&self, channel: Channel) -> Result<u64, StoreError>;

    /// Records a new pending approval request, with `notices` in the same transaction.
    ///
    /// # Guarantees
    ///
    /// An earlier request of the same ARN and kind that is still pending, or approved and not
    /// used, is `Superseded` in the same transaction: at most one request per ARN and kind can
    /// be acted on.
    fn request_approval(
        &self,
        request: &NewApproval,
        notices: &[Notice],
    ) -> Result<Approval, StoreError>;

    /// The newest request of `arn` for remediations of `kind`, if any.
    fn latest_approval(
        &self,
        arn: &str,
        kind: RemediationKind,
    ) -> Result<Option<Approval>, StoreError>;

    /// One request by id.
    fn approval(&self, id: i64) -> Result<Option<Approval>, StoreError>;

    /// Requests, newest first, in `state` or all; at most `limit`.
    fn approvals(
        &self,
        state: Option<ApprovalState>,
        limit: usize,
    ) -> Result<Vec<Approval>, StoreError>;

    /// A person's decision on request `id`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown id; [`StoreError::Conflict`] when the request is
    /// not pending (decided, superseded) or expired at `at` (it is then marked `Expired`).
    fn decide_approval(
        &self,
        id: i64,
        verdict: Verdict,
        by: &str,
        reason: &str,
        at: Millis,
    ) -> Result<Approval, StoreError>;

    /// Marks a pending request whose time ran out as `Expired` (nothing otherwise).
    fn expire_approval(&self, id: i64) -> Result<(), StoreError>;

    /// Binds an approved, unused request to the remediation it allowed.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when it is not approved or already used.
    fn use_approval(&self, id: i64, remediation_id: i64) -> Result<(), StoreError>;

    /// Non-dry-run notebook fixes of `account`: how many started at or after `since`, and how
    /// many are running now.
    fn notebook_fixes(&self, account: &str, since: Millis) -> Result<(u64, u64), StoreError>;

    /// The last pause of `account`'s enforcement, if any (it may be over).
    fn pause(&self, account: &str) -> Result<Option<Pause>, StoreError>;

    /// Every recorded pause, by account.
    fn pauses(&self) -> Result<Vec<Pause>, StoreError>;

    /// The resources of `account` and `region` that the last sweeps found compliant: ARN to
    /// the version their List call reported then.
    fn seen(
        &self,
        account: &str,
        region: &str,
    ) -> Result<std::collections::HashMap<String, String>, StoreError>;

    /// Records a sweep's verdicts: `compliant` (ARN, version) are not described again while
    /// their version stays; `not_compliant` ARNs are forgotten (described on every sweep).
    fn save_seen(
        &self,
        account: &str,
        region: &str,
        compliant: &[(String, String)],
        not_compliant: &[String],
        at: Millis,
    ) -> Result<(), StoreError>;

    /// Adds `notices` to the outbox on their own (no journal change causes them).
    fn save_notices(&self, notices: &[Notice]) -> Result<(), StoreError>;

    /// Records a pause (replacing the account's last one), with `notices` in the same
    /// transaction.
    fn save_pause(&self, pause: &Pause, notices: &[Notice]) -> Result<(), StoreError>;

    /// Records that someone opened the notebook `arn` at `at` (keeps the latest time).
    fn record_activity(&self, arn: &str, at: Millis) -> Result<(), StoreError>;

    /// When someone last opened the notebook `arn`, if ever recorded.
    fn last_activity(&self, arn: &str) -> Result<Option<Millis>, StoreError>;

    /// Records that a fix waits (replacing the resource's earlier wait of the same kind), with
    /// `notices` in the same transaction.
    fn save_wait(&self, wait: &Wait, notices: &[Notice]) -> Result<(), StoreError>;

    /// Forgets the wait of `arn`'s fix of `kind` (it started, or is no longer needed).
    fn clear_wait(&self, arn: &str, kind: RemediationKind) -> Result<(), StoreError>;

    /// Every fix that waits, soonest first.
    fn waits(&self) -> Result<Vec<Wait>, StoreError>;

    /// A cheap round trip to the database, for readiness checks.
    fn ping(&self) -> Result<(), StoreError>;
}
