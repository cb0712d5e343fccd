//! The in-place notebook fix (SageMaker.3 `RootAccess=Disabled` and SageMaker.8
//! `PlatformIdentifier=<target>`, both in one cycle) as an explicit step machine with a pure
//! transition function. The flow follows terraform's update flow: stop, wait for Stopped,
//! update, wait for Stopped, and start again only if the notebook was running before.
//!
//! The executor loops: Describe the notebook, call [`next`], journal the returned state, perform
//! the returned [`Command`], journal the result, repeat. When an AWS call fails it asks
//! [`on_error`] instead. After a crash it resumes from the last journaled state with a fresh
//! Describe.
//!
//! The decision table, per phase and observed status (`ok` = [`compliant`]):
//!
//! | phase | observed | command |
//! |---|---|---|
//! | any | gone | `Finish(Gone)` |
//! | Observe | InService/Stopped/Failed, ok | `Finish(AlreadyCompliant)` |
//! | Observe | InService | Stop (restart at the end) |
//! | Observe | Stopped/Failed | Update (leave stopped at the end) |
//! | Observe | Pending | Wait (counts as running: restart at the end) |
//! | Stopping | Stopped/Failed | Update, or wind up if ok |
//! | Stopping | InService, our Stop not yet seen to take effect | Stop again (bounded), or finish if ok |
//! | Updating | Stopped/Failed | wind up if ok, else Update again (bounded) |
//! | Stopping | InService/Pending after Stopping/Stopped was seen | `Finish(Interrupted)`: someone started it |
//! | Updating | InService/Pending | `Finish(Interrupted)` (someone started it), or finish if ok |
//! | Starting | InService | `Finish(Fixed)`, or `Failed` when a failure was recorded |
//! | Starting | Stopped | Start again (bounded) |
//! | Starting | Failed | `Finish(Failed)`: the notebook failed to start |
//! | any | anything else | Wait; Suspend once the phase has lasted over the step timeout |
//!
//! "Wind up" means Start when the notebook was running before, else Finish.
//!
//! # Guarantees
//!
//! - Pure: [`next`] and [`on_error`] read only their arguments; no I/O, no clock.
//! - Idempotent: every decision is taken from the observed status, never from "I already sent
//!   it". Replaying [`next`] with the journaled state never sends a second Stop, Update or Start
//!   once the first has taken effect: Stopping + (Stopping | Stopped) never stops again,
//!   Updating + Updating waits, Updating + compliant never updates again, Starting + (Pending |
//!   InService) never starts again. A command journaled but never performed is sent again.
//! - People win: once our Stop has taken effect (Stopping or Stopped seen), a notebook seen
//!   InService or Pending again before our Start was started by someone else; so is one that
//!   shows Pending, or InService on two looks, after our Stop was accepted ([`performed`]). The fix ends at
//!   once as [`Outcome::Interrupted`], with no second Stop; the reconciler then keeps it from
//!   being stopped again for a quiet period.
//! - One cycle for both controls: one Update carries every field that still differs, and only
//!   those.
//! - The prior state is restored: a notebook first seen InService (or Pending) is started again
//!   at the end, also when the update failed or was denied (the failure is reported in
//!   [`Outcome::Failed`]); one first seen Stopped or Failed is never started.
//! - Bounded: at most `max_stop_attempts` Stops, `max_update_attempts` Updates and
//!   `max_start_attempts` Starts are sent by [`next`] (a journaled but unperformed command
//!   counts); a phase that lasts over `step_timeout_ms` yields [`Command::Suspend`] instead of
//!   waiting forever.
//! - A status this build does not know ([`NotebookStatus::Unknown`]), maintenance, deletion or
//!   someone else's transition is never acted on: the machine waits and looks again.
//! - [`NotebookState`] round-trips through serde_json (it is journaled).
//!
//! # Assumptions
//!
//! - The executor journals the state returned by [`next`]/[`on_error`] before it performs the
//!   command, and resumes from the last journaled state with a fresh Describe.
//! - AWS's allowed-from table: Stop from InService; Start from Stopped or Failed; Update from
//!   Stopped (Failed unverified: if AWS refuses it, the refusal is wrong-state and the bounded
//!   update attempts end the fix as failed). After a successful call, Describe shows the
//!   transition (Stopping, Updating, Pending) at once; if it lagged, a repeated call would be
//!   refused as wrong-state, which only waits.
//! - Failed observed while Starting means the start failed (a lifecycle script over 5 minutes
//!   fails it). It cannot be told apart from a crash just before a Start from Failed; either way
//!   the fix stops there rather than looping on a failing start.
//! - `root_access == "Disabled"` and `platform == target` are exactly what the controls check.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::aws::ErrorClass;
use crate::model::{NotebookPlan, NotebookStatus};

pub use crate::model::Millis;

/// The value of `RootAccess` that passes SageMaker.3.
const ROOT_ACCESS_DISABLED: &str = "Disabled";

/// Where the fix stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// First look: waiting for a stable status to decide from.
    Observe,
    /// Stop sent: waiting for Stopped.
    Stopping,
    /// Update sent: waiting for it to finish (Updating -> Stopped).
    Updating,
    /// Start sent (restoring the prior running state): waiting for InService.
    Starting,
    /// Finished; `outcome` says how.
    Done,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Observe => "Observe",
            Phase::Stopping => "Stopping",
            Phase::Updating => "Updating",
            Phase::Starting => "Starting",
            Phase::Done => "Done",
        }
    }

    /// What the machine waits for in this phase, for Wait and Suspend reasons.
    fn waiting_for(self) -> &'static str {
        match self {
            Phase::Observe => "waiting for a stable status",
            Phase::Stopping => "waiting for the notebook to stop",
            Phase::Updating => "waiting for the update to finish",
            Phase::Starting => "waiting for the notebook to start",
            Phase::Done => "done",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The journaled state of one notebook fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotebookState {
    pub phase: Phase,
    /// The status first observed (what the user had); unset until a stable status (or Pending)
    /// was seen.
    pub prior_status: Option<String>,
    /// Start again at the end: the notebook was InService or Pending before the fix.
    pub restart: bool,
    /// Update, Start and Stop commands issued so far (journaled ones count, performed or not).
    pub update_attempts: u32,
    pub start_attempts: u32,
    pub stop_attempts: u32,
    /// When the current phase (or the current attempt within it) began, for the step timeout.
    pub phase_since: Millis,
    /// Why the fix failed, when it did (the instance is restored anyway).
    pub failure: Option<String>,
    /// Set when `phase` is `Done`.
    pub outcome: Option<Outcome>,
    /// Our Stop took effect: Stopping or Stopped was observed after it. From then on, a
    /// notebook seen running again before our Start was started by someone else.
    #[serde(default)]
    pub stop_seen: bool,
    /// Our Stop was accepted (the call returned success; see [`performed`]).
    #[serde(default)]
    pub stop_sent: bool,
    /// Looks that showed the notebook still InService after our accepted Stop, before any
    /// Stopping or Stopped.
    #[serde(default)]
    pub running_after_stop: u32,
    /// The failure is one that retrying cannot cure (access denied, invalid request): the
    /// remediation needs a person.
    #[serde(default)]
    pub permanent: bool,
}

impl NotebookState {
    pub fn new(now: Millis) -> Self {
        NotebookState {
            phase: Phase::Observe,
            prior_status: None,
            restart: false,
            update_attempts: 0,
            start_attempts: 0,
            stop_attempts: 0,
            phase_since: now,
            failure: None,
            outcome: None,
            stop_seen: false,
            stop_sent: false,
            running_after_stop: 0,
            permanent: false,
        }
    }

    /// Moves to `phase`, restarting the step clock.
    fn enter(mut self, phase: Phase, now: Millis) -> Self {
        self.phase = phase;
        self.phase_since = now;
        self
    }

    /// Records the status first observed; later observations never overwrite it.
    fn remember_prior(&mut self, status: &NotebookStatus) {
        if self.prior_status.is_none() {
            self.prior_status = Some(status.as_str().to_string());
        }
    }

    /// Whether any mutating command was issued.
    fn touched(&self) -> bool {
        self.stop_attempts + self.update_attempts + self.start_attempts > 0
    }

    /// The prior status for messages.
    fn prior(&self) -> &str {
        self.prior_status.as_deref().unwrap_or("running")
    }
}

/// What a fresh DescribeNotebookInstance shows, as far as the fix cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub status: NotebookStatus,
    pub root_access: Option<String>,
    pub platform: Option<String>,
}

/// The executor's limits for one fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long one phase may wait before [`Command::Suspend`].
    pub step_timeout_ms: i64,
    pub max_update_attempts: u32,
    pub max_start_attempts: u32,
    pub max_stop_attempts: u32,
}

/// What the executor does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Poll again after the executor's poll interval.
    Wait { reason: String },
    /// StopNotebookInstance.
    Stop,
    /// StartNotebookInstance.
    Start,
    /// UpdateNotebookInstance with only the fields that still differ.
    Update {
        disable_root_access: bool,
        platform: Option<String>,
    },
    /// Timed out or a retryable error: journal and retry later (the remediation stays running;
    /// a later [`next`] with the same state continues).
    Suspend { reason: String },
    /// The fix is over.
    Finish(Outcome),
}

/// How a notebook fix ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The notebook is compliant now, in its prior running state.
    Fixed,
    /// Nothing needed doing; the notebook was not touched.
    AlreadyCompliant,
    /// The notebook no longer exists.
    Gone,
    /// The fix failed; the instance was restored to its prior running state where we stopped
    /// it, unless the reason says otherwise.
    Failed { reason: String },
    /// Someone else started the notebook while our fix held it stopped: a person wants it
    /// running, so the fix was given up at once (no second Stop).
    Interrupted { reason: String },
}

/// Whether the observed notebook already satisfies the plan: `RootAccess` is `Disabled` if the
/// plan disables root access, and the platform is the target if the plan sets one.
pub fn compliant(plan: &NotebookPlan, o: &Observation) -> bool {
    let root_ok = !plan.disable_root_access || root_disabled(o);
    let platform_ok = plan
        .platform
        .as_deref()
        .is_none_or(|target| o.platform.as_deref() == Some(target));
    root_ok && platform_ok
}

fn root_disabled(o: &Observation) -> bool {
    o.root_access.as_deref() == Some(ROOT_ACCESS_DISABLED)
}

type Step = (NotebookState, Command);

/// The pure transition: from the journaled state and a fresh observation (`None` = the
/// notebook is gone) to the state to journal and the command to perform.
pub fn next(
    plan: &NotebookPlan,
    state: &NotebookState,
    observed: Option<&Observation>,
    now: Millis,
    limits: &Limits,
) -> Step {
    use NotebookStatus as S;

    let mut s = state.clone();
    if s.phase == Phase::Done {
        return done(s);
    }
    let Some(o) = observed else {
        return finish(s, Outcome::Gone, now);
    };
    let ok = compliant(plan, o);
    if s.phase == Phase::Stopping && matches!(o.status, S::Stopping | S::Stopped | S::Failed) {
        s.stop_seen = true;
    }

    match (s.phase, &o.status) {
        (Phase::Observe, _) => observe(plan, s, o, now, limits),

        // Running again after our Stop took effect, before our Start: someone started it.
        (Phase::Stopping, S::InService | S::Pending) if s.stop_seen && ok => {
            finish_compliant(s, now)
        }
        (Phase::Stopping, S::InService | S::Pending) if s.stop_seen => interrupted(s, o, now),
        // Our Stop was accepted but never seen to take effect. Pending only follows a Start:
        // someone started it. InService may be a Describe lagging behind our Stop: look once
        // more; still InService then means someone started it (a real Stop shows Stopping).
        (Phase::Stopping, S::InService | S::Pending) if s.stop_sent && ok => {
            finish_compliant(s, now)
        }
        (Phase::Stopping, S::Pending) if s.stop_sent => interrupted(s, o, now),
        (Phase::Stopping, S::InService) if s.stop_sent && s.running_after_stop >= 1 => {
            interrupted(s, o, now)
        }
        (Phase::Stopping, S::InService) if s.stop_sent => {
            s.running_after_stop += 1;
            let reason = "our Stop was accepted but the notebook still shows InService; \
                          looking once more"
                .to_string();
            (s, Command::Wait { reason })
        }
        (Phase::Stopping, S::Stopped | S::Failed) if ok => wind_up(s, now, limits),
        (Phase::Stopping, S::Stopped | S::Failed) => update(plan, s, o, now, limits),
        (Phase::Stopping, S::InService) if ok => finish_compliant(s, now),
        (Phase::Stopping, S::InService) => stop(s, now, limits),

        (Phase::Updating, S::Stopped | S::Failed) if ok => wind_up(s, now, limits),
        (Phase::Updating, S::Stopped | S::Failed) => update(plan, s, o, now, limits),
        // Someone started it meanwhile (only a Start leaves Stopped): never stop it again.
        (Phase::Updating, S::InService | S::Pending) if ok => finish_compliant(s, now),
        (Phase::Updating, S::InService | S::Pending) => interrupted(s, o, now),

        (Phase::Starting, S::InService) => started(s, ok, now),
        (Phase::Starting, S::Stopped) => start(s, now, limits),
        (Phase::Starting, S::Failed) => {
            let reason = with_failure(
                &s,
                "notebook failed to start (a lifecycle configuration script running over 5 \
                 minutes fails the start); it is left Failed"
                    .to_string(),
            );
            finish(s, Outcome::Failed { reason }, now)
        }

        // A transition under way, maintenance, deletion or an unknown status: look again.
        _ => wait(s, o, now, limits),
    }
}

/// The first look (and a fresh look after someone started the notebook mid-fix).
fn observe(
    plan: &NotebookPlan,
    mut s: NotebookState,
    o: &Observation,
    now: Millis,
    limits: &Limits,
) -> Step {
    use NotebookStatus as S;

    let stable = matches!(o.status, S::InService | S::Stopped | S::Failed);
    if stable && compliant(plan, o) {
        s.remember_prior(&o.status);
        return finish_compliant(s, now);
    }
    match o.status {
        S::InService => {
            s.remember_prior(&o.status);
            s.restart = true;
            stop(s, now, limits)
        }
        // Failed: a start failed on its own; starting it again afterwards would fail again.
        S::Stopped | S::Failed => {
            s.remember_prior(&o.status);
            s.restart = false;
            update(plan, s, o, now, limits)
        }
        // On its way to InService: counts as running.
        S::Pending => {
            s.remember_prior(&o.status);
            s.restart = true;
            wait(s, o, now, limits)
        }
        _ => wait(s, o, now, limits),
    }
}

/// The state after the executor performed `command` successfully: an accepted Stop is
/// remembered, so a notebook seen running afterwards is not stopped a second time.
pub fn performed(state: &NotebookState, command: &Command) -> NotebookState {
    let mut s = state.clone();
    if *command == Command::Stop {
        s.stop_sent = true;
        s.running_after_stop = 0;
    }
    s
}

/// Someone else started the notebook while our fix held it stopped: give up at once.
fn interrupted(s: NotebookState, o: &Observation, now: Millis) -> Step {
    let reason = format!(
        "interrupted by a start we did not make: the notebook is {} again while the fix held \
         it stopped ({}); it is left running and not stopped again for the quiet period",
        o.status,
        s.phase.waiting_for()
    );
    finish(s, Outcome::Interrupted { reason }, now)
}

/// Sends Stop, unless the notebook keeps getting started again.
fn stop(mut s: NotebookState, now: Millis, limits: &Limits) -> Step {
    if s.stop_attempts >= limits.max_stop_attempts {
        let reason = format!(
            "the notebook is still InService after {} StopNotebookInstance attempts (is someone \
             starting it?); it is left running",
            s.stop_attempts
        );
        return finish(s, Outcome::Failed { reason }, now);
    }
    s.stop_attempts += 1;
    (s.enter(Phase::Stopping, now), Command::Stop)
}

/// Sends Update with the fields that still differ, or gives up after the attempts allowed.
fn update(
    plan: &NotebookPlan,
    mut s: NotebookState,
    o: &Observation,
    now: Millis,
    limits: &Limits,
) -> Step {
    if s.update_attempts >= limits.max_update_attempts {
        s.failure = Some(format!(
            "update did not take effect after {} attempts",
            s.update_attempts
        ));
        return wind_up(s, now, limits);
    }
    s.update_attempts += 1;
    let command = Command::Update {
        disable_root_access: plan.disable_root_access && !root_disabled(o),
        platform: plan
            .platform
            .clone()
            .filter(|target| o.platform.as_deref() != Some(target.as_str())),
    };
    (s.enter(Phase::Updating, now), command)
}

/// The notebook is stopped and no further update will be sent: restore the prior running
/// state, or finish.
fn wind_up(s: NotebookState, now: Millis, limits: &Limits) -> Step {
    if s.restart {
        return start(s, now, limits);
    }
    match s.failure.clone() {
        Some(reason) => finish(s, Outcome::Failed { reason }, now),
        None => finish_compliant(s, now),
    }
}

/// Sends Start, unless it was tried often enough.
fn start(mut s: NotebookState, now: Millis, limits: &Limits) -> Step {
    if s.start_attempts >= limits.max_start_attempts {
        let reason = could_not_restart(
            &s,
            format!(
                "still Stopped after {} StartNotebookInstance attempts",
                s.start_attempts
            ),
        );
        return finish(s, Outcome::Failed { reason }, now);
    }
    s.start_attempts += 1;
    (s.enter(Phase::Starting, now), Command::Start)
}

/// InService again after our Start.
fn started(s: NotebookState, ok: bool, now: Millis) -> Step {
    let outcome = match (&s.failure, ok) {
        (Some(failure), _) => Outcome::Failed {
            reason: format!("{failure}; the notebook was restored to InService"),
        },
        (None, true) => Outcome::Fixed,
        (None, false) => Outcome::Failed {
            reason: "the notebook is InService again but not compliant: it was changed by \
                     someone else during the fix"
                .to_string(),
        },
    };
    finish(s, outcome, now)
}

/// Waits, or suspends once the current phase has lasted over the step timeout.
fn wait(s: NotebookState, o: &Observation, now: Millis, limits: &Limits) -> Step {
    let elapsed = now.saturating_sub(s.phase_since);
    let command = if elapsed > limits.step_timeout_ms {
        Command::Suspend {
            reason: format!(
                "still {} after {} ({})",
                o.status,
                duration(elapsed),
                s.phase.waiting_for()
            ),
        }
    } else {
        Command::Wait {
            reason: format!("{}: notebook is {}", s.phase.waiting_for(), o.status),
        }
    };
    (s, command)
}

/// Finishes compliant: `AlreadyCompliant` if nothing was touched, else `Fixed`.
fn finish_compliant(s: NotebookState, now: Millis) -> Step {
    let outcome = if s.touched() {
        Outcome::Fixed
    } else {
        Outcome::AlreadyCompliant
    };
    finish(s, outcome, now)
}

fn finish(mut s: NotebookState, outcome: Outcome, now: Millis) -> Step {
    if let Outcome::Failed { reason } = &outcome {
        if s.failure.is_none() {
            s.failure = Some(reason.clone());
        }
    }
    s.outcome = Some(outcome.clone());
    (s.enter(Phase::Done, now), Command::Finish(outcome))
}

/// Already finished: repeat the recorded outcome.
fn done(s: NotebookState) -> Step {
    let outcome = s.outcome.clone().unwrap_or_else(|| Outcome::Failed {
        reason: "the fix finished without recording an outcome".to_string(),
    });
    (s, Command::Finish(outcome))
}

/// A failed AWS call: what to do instead. `state` and `command` are what [`next`] (or an
/// earlier `on_error`) returned. With a command that is not an AWS call (Wait, Suspend), the
/// error is taken as the Describe's.
///
/// - WrongState: Wait; the next Describe tells the truth.
/// - NotFound: `Finish(Gone)`.
/// - Throttled, Transient: Wait: the executor polls again after its poll interval and the next
///   Describe decides (a throttled call was not carried out, so it does not count as an attempt).
/// - AccessDenied, Invalid, Unsupported: permanent. On Update (e.g. an SCP on
///   `sagemaker:RootAccess`) the failure is recorded and the prior state restored (Start if it
///   was running) — never retried, and the state is marked `permanent`; on Stop the fix fails with the notebook left running; on
///   Start the fix fails with the notebook left stopped, the worst case, said so in the reason.
pub fn on_error(
    _plan: &NotebookPlan,
    state: &NotebookState,
    command: &Command,
    class: ErrorClass,
    message: &str,
    now: Millis,
) -> Step {
    let mut s = state.clone();
    if s.phase == Phase::Done {
        return done(s);
    }
    let operation = match command {
        Command::Stop => "StopNotebookInstance",
        Command::Start => "StartNotebookInstance",
        Command::Update { .. } => "UpdateNotebookInstance",
        Command::Wait { .. } | Command::Suspend { .. } | Command::Finish(_) => {
            "DescribeNotebookInstance"
        }
    };
    let refused = match class {
        ErrorClass::WrongState => {
            let reason = format!(
                "{operation} refused in the current status ({message}); the next Describe decides"
            );
            return (s, Command::Wait { reason });
        }
        ErrorClass::NotFound => return finish(s, Outcome::Gone, now),
        ErrorClass::Throttled | ErrorClass::Transient => {
            if class == ErrorClass::Throttled {
                // Refused before it was carried out: the attempt does not count.
                let attempts = match command {
                    Command::Stop => Some(&mut s.stop_attempts),
                    Command::Start => Some(&mut s.start_attempts),
                    Command::Update { .. } => Some(&mut s.update_attempts),
                    _ => None,
                };
                if let Some(attempts) = attempts {
                    *attempts = attempts.saturating_sub(1);
                }
            }
            let reason = format!(
                "{operation} failed ({class}): {message}; the next Describe decides after a poll \
                 interval"
            );
            return (s, Command::Wait { reason });
        }
        ErrorClass::AccessDenied => {
            s.permanent = true;
            format!("{operation} denied: {message}")
        }
        ErrorClass::Invalid => {
            s.permanent = true;
            format!("{operation} rejected as invalid: {message}")
        }
        ErrorClass::Unsupported => {
            s.permanent = true;
            format!("{operation} not supported by the endpoint: {message}")
        }
    };

    match command {
        Command::Update { .. } => {
            s.failure = Some(refused.clone());
            if s.restart {
                // Not bounded by max_start_attempts (no limits here): this is the first Start
                // of the restore; any further one goes through `next`.
                s.start_attempts += 1;
                (s.enter(Phase::Starting, now), Command::Start)
            } else {
                finish(s, Outcome::Failed { reason: refused }, now)
            }
        }
        Command::Stop => {
            let reason = format!("{refused}; the notebook is left running");
            finish(s, Outcome::Failed { reason }, now)
        }
        Command::Start => {
            let reason = could_not_restart(&s, refused);
            finish(s, Outcome::Failed { reason }, now)
        }
        Command::Wait { .. } | Command::Suspend { .. } | Command::Finish(_) => {
            let mut reason = format!("cannot look at the notebook: {refused}");
            if s.restart && s.touched() {
                reason.push_str(&format!(
                    "; it may be left stopped although it was {} before the fix: check it and \
                     start it by hand",
                    s.prior()
                ));
            }
            finish(s, Outcome::Failed { reason }, now)
        }
    }
}

/// The worst case: we stopped a running notebook and cannot start it again.
fn could_not_restart(s: &NotebookState, why: String) -> String {
    let fix = match &s.failure {
        Some(failure) => format!("the fix itself failed too: {failure}"),
        None => "the fix itself was applied".to_string(),
    };
    format!(
        "could not restart: {why}. The notebook is left STOPPED although it was {} before the \
         fix: start it by hand ({fix})",
        s.prior()
    )
}

/// Prefixes a recorded failure, if any.
fn with_failure(s: &NotebookState, reason: String) -> String {
    match &s.failure {
        Some(failure) => format!("{failure}; then the {reason}"),
        None => reason,
    }
}

/// `1h5m`, `30m`, `45s`; milliseconds only below a second.
fn duration(ms: i64) -> String {
    let secs = ms / 1000;
    if secs == 0 {
        return format!("{ms}ms");
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    for (value, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const TARGET: &str = "notebook-al2-v3";
    const OLD: &str = "notebook-al2-v1";
    const MIN: i64 = 60_000;

    /// Every status, by its API name; `Rebooting` stands for one this build does not know.
    const STATUSES: [&str; 10] = [
        "Pending",
        "InService",
        "Stopping",
        "Stopped",
        "Failed",
        "Deleting",
        "Updating",
        "PendingMaintenance",
        "InMaintenance",
        "Rebooting",
    ];

    fn limits() -> Limits {
        Limits {
            step_timeout_ms: 30 * MIN,
            max_update_attempts: 3,
            max_start_attempts: 3,
            max_stop_attempts: 3,
        }
    }

    fn both() -> NotebookPlan {
        NotebookPlan {
            disable_root_access: true,
            platform: Some(TARGET.to_string()),
        }
    }

    fn root_only() -> NotebookPlan {
        NotebookPlan {
            disable_root_access: true,
            platform: None,
        }
    }

    fn platform_only() -> NotebookPlan {
        NotebookPlan {
            disable_root_access: false,
            platform: Some(TARGET.to_string()),
        }
    }

    fn obs(status: &str, root: &str, platform: &str) -> Observation {
        Observation {
            status: NotebookStatus::parse(status),
            root_access: Some(root.to_string()),
            platform: Some(platform.to_string()),
        }
    }

    /// Fails both controls.
    fn bad(status: &str) -> Observation {
        obs(status, "Enabled", OLD)
    }

    /// Passes both controls.
    fn good(status: &str) -> Observation {
        obs(status, ROOT_ACCESS_DISABLED, TARGET)
    }

    fn observed(status: &str, ok: bool) -> Observation {
        if ok {
            good(status)
        } else {
            bad(status)
        }
    }

    /// A state in `phase` as the happy path leaves it (phase began at 0).
    fn in_phase(phase: Phase, restart: bool) -> NotebookState {
        let mut s = NotebookState::new(0);
        s.phase = phase;
        s.restart = restart;
        let prior = if restart { "InService" } else { "Stopped" };
        match phase {
            Phase::Observe | Phase::Done => {}
            Phase::Stopping => {
                s.prior_status = Some(prior.to_string());
                s.stop_attempts = 1;
            }
            Phase::Updating => {
                s.prior_status = Some(prior.to_string());
                s.stop_attempts = u32::from(restart);
                s.update_attempts = 1;
            }
            Phase::Starting => {
                s.prior_status = Some(prior.to_string());
                s.stop_attempts = 1;
                s.update_attempts = 1;
                s.start_attempts = 1;
            }
        }
        s
    }

    fn step(state: &NotebookState, o: &Observation, now: Millis) -> (NotebookState, Command) {
        next(&both(), state, Some(o), now, &limits())
    }

    /// A short name of a command, for tables.
    fn kind(c: &Command) -> &'static str {
        match c {
            Command::Wait { .. } => "wait",
            Command::Stop => "stop",
            Command::Start => "start",
            Command::Update { .. } => "update",
            Command::Suspend { .. } => "suspend",
            Command::Finish(Outcome::Fixed) => "fixed",
            Command::Finish(Outcome::AlreadyCompliant) => "already",
            Command::Finish(Outcome::Gone) => "gone",
            Command::Finish(Outcome::Failed { .. }) => "failed",
            Command::Finish(Outcome::Interrupted { .. }) => "interrupted",
        }
    }

    fn is_mutating(c: &Command) -> bool {
        matches!(c, Command::Stop | Command::Start | Command::Update { .. })
    }

    fn roundtrip(s: &NotebookState) -> NotebookState {
        let json = serde_json::to_string(s).unwrap();
        let back: NotebookState = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, s, "journal round trip of {json}");
        back
    }

    /// Threads `observations` through `next` from `start` (journaling each state through JSON)
    /// and returns the final state and the command kinds.
    fn drive(
        plan: &NotebookPlan,
        start: NotebookState,
        observations: &[Observation],
    ) -> (NotebookState, Vec<Command>) {
        let mut state = start;
        let mut commands = Vec::new();
        for (i, o) in observations.iter().enumerate() {
            let now = (i as i64 + 1) * MIN;
            let (s, c) = next(plan, &state, Some(o), now, &limits());
            state = roundtrip(&s);
            commands.push(c);
        }
        (state, commands)
    }

    fn kinds(commands: &[Command]) -> Vec<&'static str> {
        commands.iter().map(kind).collect()
    }

    fn reason(c: &Command) -> String {
        match c {
            Command::Finish(Outcome::Failed { reason })
            | Command::Finish(Outcome::Interrupted { reason })
            | Command::Wait { reason }
            | Command::Suspend { reason } => reason.clone(),
            other => panic!("no reason in {other:?}"),
        }
    }

    // ---- the decision table -------------------------------------------------------------

    use Phase::{Done, Observe, Starting, Stopping, Updating};

    /// (phase, restart, observed status, compliant) -> (command, next phase).
    #[rustfmt::skip]
    const TABLE: &[(Phase, bool, &str, bool, &str, Phase)] = &[
        // First look: decide from a stable status; Pending counts as running.
        (Observe, false, "Pending", false, "wait", Observe),
        (Observe, false, "Pending", true, "wait", Observe),
        (Observe, false, "InService", false, "stop", Stopping),
        (Observe, false, "InService", true, "already", Done),
        (Observe, false, "Stopping", false, "wait", Observe),
        (Observe, false, "Stopping", true, "wait", Observe),
        (Observe, false, "Stopped", false, "update", Updating),
        (Observe, false, "Stopped", true, "already", Done),
        (Observe, false, "Failed", false, "update", Updating),
        (Observe, false, "Failed", true, "already", Done),
        (Observe, false, "Deleting", false, "wait", Observe),
        (Observe, false, "Deleting", true, "wait", Observe),
        (Observe, false, "Updating", false, "wait", Observe),
        (Observe, false, "Updating", true, "wait", Observe),
        (Observe, false, "PendingMaintenance", false, "wait", Observe),
        (Observe, false, "PendingMaintenance", true, "wait", Observe),
        (Observe, false, "InMaintenance", false, "wait", Observe),
        (Observe, false, "InMaintenance", true, "wait", Observe),
        (Observe, false, "Rebooting", false, "wait", Observe),
        (Observe, false, "Rebooting", true, "wait", Observe),
        // Stop sent.
        (Stopping, true, "Pending", false, "wait", Stopping),
        (Stopping, true, "Pending", true, "wait", Stopping),
        (Stopping, true, "InService", false, "stop", Stopping),
        (Stopping, true, "InService", true, "fixed", Done),
        (Stopping, true, "Stopping", false, "wait", Stopping),
        (Stopping, true, "Stopping", true, "wait", Stopping),
        (Stopping, true, "Stopped", false, "update", Updating),
        (Stopping, true, "Stopped", true, "start", Starting),
        (Stopping, true, "Failed", false, "update", Updating),
        (Stopping, true, "Failed", true, "start", Starting),
        (Stopping, true, "Deleting", false, "wait", Stopping),
        (Stopping, true, "Deleting", true, "wait", Stopping),
        (Stopping, true, "Updating", false, "wait", Stopping),
        (Stopping, true, "Updating", true, "wait", Stopping),
        (Stopping, true, "PendingMaintenance", false, "wait", Stopping),
        (Stopping, true, "PendingMaintenance", true, "wait", Stopping),
        (Stopping, true, "InMaintenance", false, "wait", Stopping),
        (Stopping, true, "InMaintenance", true, "wait", Stopping),
        (Stopping, true, "Rebooting", false, "wait", Stopping),
        (Stopping, true, "Rebooting", true, "wait", Stopping),
        // Update sent, notebook was running.
        // Running after our Update, before our Start: someone else started it.
        (Updating, true, "Pending", false, "interrupted", Done),
        (Updating, true, "Pending", true, "fixed", Done),
        (Updating, true, "InService", false, "interrupted", Done),
        (Updating, true, "InService", true, "fixed", Done),
        (Updating, true, "Stopping", false, "wait", Updating),
        (Updating, true, "Stopping", true, "wait", Updating),
        (Updating, true, "Stopped", false, "update", Updating),
        (Updating, true, "Stopped", true, "start", Starting),
        (Updating, true, "Failed", false, "update", Updating),
        (Updating, true, "Failed", true, "start", Starting),
        (Updating, true, "Deleting", false, "wait", Updating),
        (Updating, true, "Deleting", true, "wait", Updating),
        (Updating, true, "Updating", false, "wait", Updating),
        (Updating, true, "Updating", true, "wait", Updating),
        (Updating, true, "PendingMaintenance", false, "wait", Updating),
        (Updating, true, "PendingMaintenance", true, "wait", Updating),
        (Updating, true, "InMaintenance", false, "wait", Updating),
        (Updating, true, "InMaintenance", true, "wait", Updating),
        (Updating, true, "Rebooting", false, "wait", Updating),
        (Updating, true, "Rebooting", true, "wait", Updating),
        // Update sent, notebook was stopped: no Start at the end.
        (Updating, false, "Stopped", true, "fixed", Done),
        (Updating, false, "Failed", true, "fixed", Done),
        (Updating, false, "Stopped", false, "update", Updating),
        (Updating, false, "InService", false, "interrupted", Done),
        (Updating, false, "InService", true, "fixed", Done),
        // Start sent (restoring).
        (Starting, true, "Pending", false, "wait", Starting),
        (Starting, true, "Pending", true, "wait", Starting),
        (Starting, true, "InService", false, "failed", Done),
        (Starting, true, "InService", true, "fixed", Done),
        (Starting, true, "Stopping", false, "wait", Starting),
        (Starting, true, "Stopping", true, "wait", Starting),
        (Starting, true, "Stopped", false, "start", Starting),
        (Starting, true, "Stopped", true, "start", Starting),
        (Starting, true, "Failed", false, "failed", Done),
        (Starting, true, "Failed", true, "failed", Done),
        (Starting, true, "Deleting", false, "wait", Starting),
        (Starting, true, "Deleting", true, "wait", Starting),
        (Starting, true, "Updating", false, "wait", Starting),
        (Starting, true, "Updating", true, "wait", Starting),
        (Starting, true, "PendingMaintenance", false, "wait", Starting),
        (Starting, true, "PendingMaintenance", true, "wait", Starting),
        (Starting, true, "InMaintenance", false, "wait", Starting),
        (Starting, true, "InMaintenance", true, "wait", Starting),
        (Starting, true, "Rebooting", false, "wait", Starting),
        (Starting, true, "Rebooting", true, "wait", Starting),
    ];

    #[test]
    fn the_table_holds() {
        for &(phase, restart, status, ok, want, want_phase) in TABLE {
            let state = in_phase(phase, restart);
            let (s, c) = step(&state, &observed(status, ok), MIN);
            let case = format!("{phase} restart={restart} {status} compliant={ok}: {c:?}");
            assert_eq!(kind(&c), want, "{case}");
            assert_eq!(s.phase, want_phase, "{case}");
            if s.phase != state.phase {
                assert_eq!(
                    s.phase_since, MIN,
                    "a phase change restarts the clock: {case}"
                );
            }
            if want == "wait" && s.phase == state.phase {
                assert_eq!(s.phase_since, 0, "waiting keeps the clock: {case}");
            }
            if s.phase == Done {
                assert_eq!(c, Command::Finish(s.outcome.clone().unwrap()), "{case}");
            }
        }
    }

    #[test]
    fn the_table_covers_every_phase_status_and_compliance() {
        for phase in [Observe, Stopping, Updating, Starting] {
            for status in STATUSES {
                for ok in [false, true] {
                    assert!(
                        TABLE
                            .iter()
                            .any(|r| r.0 == phase && r.2 == status && r.3 == ok),
                        "no row for {phase} {status} compliant={ok}"
                    );
                }
            }
        }
    }

    #[test]
    fn unknown_and_maintenance_statuses_are_never_acted_on() {
        for phase in [Observe, Stopping, Updating, Starting] {
            for status in [
                "Rebooting",
                "PendingMaintenance",
                "InMaintenance",
                "Deleting",
            ] {
                for ok in [false, true] {
                    let (s, c) = step(&in_phase(phase, true), &observed(status, ok), MIN);
                    assert!(matches!(c, Command::Wait { .. }), "{phase} {status}: {c:?}");
                    assert_eq!(s, in_phase(phase, true), "{phase} {status}");
                }
            }
        }
    }

    #[test]
    fn the_first_look_records_the_prior_status_and_whether_to_restart() {
        let cases = [
            ("InService", Some("InService"), true),
            ("Stopped", Some("Stopped"), false),
            ("Failed", Some("Failed"), false),
            ("Pending", Some("Pending"), true),
            ("Stopping", None, false),
            ("Updating", None, false),
            ("Deleting", None, false),
            ("Rebooting", None, false),
        ];
        for (status, prior, restart) in cases {
            let (s, _) = step(&NotebookState::new(0), &bad(status), MIN);
            assert_eq!(s.prior_status.as_deref(), prior, "{status}");
            assert_eq!(s.restart, restart, "{status}");
        }
        let (s, c) = step(&NotebookState::new(0), &good("InService"), MIN);
        assert_eq!(c, Command::Finish(Outcome::AlreadyCompliant));
        assert_eq!(s.prior_status.as_deref(), Some("InService"));
        assert_eq!(
            (s.stop_attempts, s.update_attempts, s.start_attempts),
            (0, 0, 0)
        );
    }

    #[test]
    fn pending_then_failed_is_not_started_again() {
        let (s, c) = drive(
            &both(),
            NotebookState::new(0),
            &[bad("Pending"), bad("Failed")],
        );
        assert_eq!(kinds(&c), ["wait", "update"]);
        assert_eq!(
            s.prior_status.as_deref(),
            Some("Pending"),
            "first status kept"
        );
        assert!(!s.restart, "a failing start is not repeated");
    }

    #[test]
    fn done_repeats_the_recorded_outcome_whatever_is_observed() {
        let (done, _) = step(&in_phase(Starting, true), &good("InService"), MIN);
        assert_eq!(done.phase, Done);
        for status in STATUSES {
            for ok in [false, true] {
                let (s, c) = step(&done, &observed(status, ok), 2 * MIN);
                assert_eq!(c, Command::Finish(Outcome::Fixed));
                assert_eq!(s, done);
            }
        }
        let (s, c) = next(&both(), &done, None, 2 * MIN, &limits());
        assert_eq!(
            c,
            Command::Finish(Outcome::Fixed),
            "gone after the fix: still fixed"
        );
        assert_eq!(s, done);
        let mut blank = NotebookState::new(0);
        blank.phase = Done;
        let (_, c) = step(&blank, &good("InService"), MIN);
        assert_eq!(
            kind(&c),
            "failed",
            "Done without an outcome is reported, not a panic"
        );
    }

    // ---- happy paths ------------------------------------------------------------------------

    #[test]
    fn from_in_service_stop_update_start_fixed() {
        let (s, c) = drive(
            &both(),
            NotebookState::new(0),
            &[
                bad("InService"),
                bad("Stopping"),
                bad("Stopped"),
                bad("Updating"),
                good("Stopped"),
                good("Pending"),
                good("InService"),
            ],
        );
        assert_eq!(
            kinds(&c),
            ["stop", "wait", "update", "wait", "start", "wait", "fixed"]
        );
        assert_eq!(
            c[2],
            Command::Update {
                disable_root_access: true,
                platform: Some(TARGET.to_string()),
            },
            "one Update carries both fields"
        );
        assert_eq!(s.phase, Done);
        assert_eq!(s.outcome, Some(Outcome::Fixed));
        assert_eq!(s.prior_status.as_deref(), Some("InService"));
        assert_eq!(
            (s.stop_attempts, s.update_attempts, s.start_attempts),
            (1, 1, 1)
        );
        assert_eq!(s.failure, None);
    }

    #[test]
    fn from_stopped_update_only() {
        let (s, c) = drive(
            &both(),
            NotebookState::new(0),
            &[
                bad("Stopped"),
                bad("Updating"),
                good("Updating"),
                good("Stopped"),
            ],
        );
        assert_eq!(kinds(&c), ["update", "wait", "wait", "fixed"]);
        assert_eq!(
            (s.stop_attempts, s.update_attempts, s.start_attempts),
            (0, 1, 0)
        );
    }

    #[test]
    fn from_failed_update_and_never_start() {
        let (s, c) = drive(
            &both(),
            NotebookState::new(0),
            &[bad("Failed"), bad("Updating"), good("Stopped")],
        );
        assert_eq!(kinds(&c), ["update", "wait", "fixed"]);
        assert!(!s.restart);
        let (_, c) = drive(
            &both(),
            NotebookState::new(0),
            &[bad("Failed"), bad("Updating"), good("Failed")],
        );
        assert_eq!(kinds(&c), ["update", "wait", "fixed"]);
    }

    #[test]
    fn from_pending_wait_then_stop_update_start() {
        let (s, c) = drive(
            &both(),
            NotebookState::new(0),
            &[
                bad("Pending"),
                bad("Pending"),
                bad("InService"),
                bad("Stopping"),
                bad("Stopped"),
                bad("Updating"),
                good("Stopped"),
                good("Pending"),
                good("InService"),
            ],
        );
        assert_eq!(
            kinds(&c),
            ["wait", "wait", "stop", "wait", "update", "wait", "start", "wait", "fixed"]
        );
        assert_eq!(s.prior_status.as_deref(), Some("Pending"));
        assert!(s.restart);
    }

    #[test]
    fn from_a_transition_waits_for_a_stable_status_first() {
        for status in ["Stopping", "Updating"] {
            let (s, c) = drive(
                &both(),
                NotebookState::new(0),
                &[
                    bad(status),
                    bad(status),
                    bad("Stopped"),
                    bad("Updating"),
                    good("Stopped"),
                ],
            );
            assert_eq!(
                kinds(&c),
                ["wait", "wait", "update", "wait", "fixed"],
                "{status}"
            );
            assert_eq!(s.prior_status.as_deref(), Some("Stopped"), "{status}");
        }
    }

    #[test]
    fn only_the_fields_that_differ_are_updated() {
        let cases = [
            // (plan, root, platform, expected update)
            (both(), "Enabled", OLD, Some((true, Some(TARGET)))),
            (both(), "Disabled", OLD, Some((false, Some(TARGET)))),
            (both(), "Enabled", TARGET, Some((true, None))),
            (both(), "Disabled", TARGET, None),
            (root_only(), "Enabled", OLD, Some((true, None))),
            (root_only(), "Disabled", OLD, None),
            (platform_only(), "Enabled", OLD, Some((false, Some(TARGET)))),
            (platform_only(), "Enabled", TARGET, None),
        ];
        for (plan, root, platform, want) in cases {
            let o = obs("Stopped", root, platform);
            let (_, c) = next(&plan, &NotebookState::new(0), Some(&o), MIN, &limits());
            let want = match want {
                Some((disable_root_access, platform)) => Command::Update {
                    disable_root_access,
                    platform: platform.map(str::to_string),
                },
                None => Command::Finish(Outcome::AlreadyCompliant),
            };
            assert_eq!(c, want, "{plan:?} root={root} platform={platform}");
        }
    }

    #[test]
    fn compliant_checks_only_what_the_plan_asks() {
        let missing = Observation {
            status: NotebookStatus::Stopped,
            root_access: None,
            platform: None,
        };
        assert!(
            !compliant(&root_only(), &missing),
            "unreported RootAccess is Enabled"
        );
        assert!(!compliant(&platform_only(), &missing));
        let empty = NotebookPlan {
            disable_root_access: false,
            platform: None,
        };
        assert!(compliant(&empty, &missing));
        assert!(compliant(
            &platform_only(),
            &obs("Stopped", "Enabled", TARGET)
        ));
        assert!(!compliant(&both(), &obs("Stopped", "Enabled", TARGET)));
        assert!(compliant(&root_only(), &obs("Stopped", "Disabled", OLD)));
    }

    #[test]
    fn only_platform_full_cycle() {
        let stale = |status: &str| obs(status, "Enabled", OLD);
        let fresh = |status: &str| obs(status, "Enabled", TARGET);
        let (s, c) = drive(
            &platform_only(),
            NotebookState::new(0),
            &[
                stale("InService"),
                stale("Stopped"),
                fresh("Stopped"),
                fresh("InService"),
            ],
        );
        assert_eq!(kinds(&c), ["stop", "update", "start", "fixed"]);
        assert_eq!(
            c[1],
            Command::Update {
                disable_root_access: false,
                platform: Some(TARGET.to_string()),
            }
        );
        assert_eq!(s.outcome, Some(Outcome::Fixed));
    }

    // ---- failures ---------------------------------------------------------------------------

    #[test]
    fn an_update_that_never_takes_is_given_up_and_the_notebook_restored() {
        let (s, c) = drive(
            &both(),
            NotebookState::new(0),
            &[
                bad("InService"),
                bad("Stopped"),
                bad("Stopped"),
                bad("Stopped"),
                bad("Stopped"),
                bad("Pending"),
                bad("InService"),
            ],
        );
        assert_eq!(
            kinds(&c),
            ["stop", "update", "update", "update", "start", "wait", "failed"]
        );
        assert_eq!(
            s.failure.as_deref(),
            Some("update did not take effect after 3 attempts")
        );
        let r = reason(&c[6]);
        assert!(
            r.contains("did not take effect") && r.contains("restored"),
            "{r}"
        );
    }

    #[test]
    fn an_update_that_never_takes_on_a_stopped_notebook_fails_without_start() {
        let (s, c) = drive(
            &both(),
            NotebookState::new(0),
            &[
                bad("Stopped"),
                bad("Stopped"),
                bad("Stopped"),
                bad("Stopped"),
            ],
        );
        assert_eq!(kinds(&c), ["update", "update", "update", "failed"]);
        assert_eq!(s.start_attempts, 0);
    }

    #[test]
    fn an_scp_denied_update_restores_and_fails() {
        let (s, c) = drive(
            &both(),
            NotebookState::new(0),
            &[bad("InService"), bad("Stopped")],
        );
        assert_eq!(kinds(&c), ["stop", "update"]);
        let message = "with an explicit deny in a service control policy";
        let (s, c) = on_error(
            &both(),
            &s,
            &c[1],
            ErrorClass::AccessDenied,
            message,
            3 * MIN,
        );
        assert_eq!(c, Command::Start, "restore, never retry the update");
        assert_eq!(
            (s.phase, s.phase_since, s.start_attempts),
            (Starting, 3 * MIN, 1)
        );
        assert_eq!(
            s.failure.as_deref(),
            Some(
                "UpdateNotebookInstance denied: with an explicit deny in a service control policy"
            )
        );
        let (s, c) = drive(&both(), roundtrip(&s), &[bad("Pending"), bad("InService")]);
        assert_eq!(kinds(&c), ["wait", "failed"]);
        let r = reason(&c[1]);
        assert!(
            r.contains("denied") && r.contains("restored to InService"),
            "{r}"
        );
        assert_eq!(s.update_attempts, 1, "never retried");
    }

    #[test]
    fn an_scp_denied_update_on_a_stopped_notebook_fails_at_once() {
        let (s, c) = drive(&both(), NotebookState::new(0), &[bad("Stopped")]);
        let (s, c) = on_error(&both(), &s, &c[0], ErrorClass::AccessDenied, "SCP", MIN);
        assert_eq!(kind(&c), "failed");
        assert_eq!(s.phase, Done);
        assert_eq!(s.start_attempts, 0);
    }

    #[test]
    fn a_failed_start_is_reported_not_retried() {
        let (s, c) = step(&in_phase(Starting, true), &good("Failed"), MIN);
        assert_eq!(kind(&c), "failed");
        assert!(reason(&c).contains("failed to start"), "{c:?}");
        assert_eq!(s.start_attempts, 1);
    }

    #[test]
    fn a_start_that_does_not_take_is_retried_then_reported() {
        let (_, c) = drive(
            &both(),
            in_phase(Starting, true),
            &[good("Stopped"), good("Stopped"), good("Stopped")],
        );
        assert_eq!(kinds(&c), ["start", "start", "failed"]);
        let r = reason(&c[2]);
        assert!(
            r.contains("could not restart") && r.contains("by hand"),
            "{r}"
        );
    }

    #[test]
    fn a_denied_start_is_the_worst_case_and_says_so() {
        let state = in_phase(Starting, true);
        let (s, c) = on_error(
            &both(),
            &state,
            &Command::Start,
            ErrorClass::AccessDenied,
            "no",
            MIN,
        );
        let r = reason(&c);
        assert!(
            r.contains("could not restart")
                && r.contains("STOPPED")
                && r.contains("InService before the fix")
                && r.contains("start it by hand"),
            "{r}"
        );
        assert_eq!(s.phase, Done);
    }

    #[test]
    fn a_notebook_that_keeps_being_started_is_given_up_running() {
        let (s, c) = drive(
            &both(),
            NotebookState::new(0),
            &[
                bad("InService"),
                bad("InService"),
                bad("InService"),
                bad("InService"),
            ],
        );
        assert_eq!(kinds(&c), ["stop", "stop", "stop", "failed"]);
        assert!(reason(&c[3]).contains("left running"));
        assert_eq!(s.update_attempts, 0);
    }

    #[test]
    fn someone_starting_it_mid_update_ends_the_fix_without_a_stop() {
        let (s, c) = drive(
            &both(),
            NotebookState::new(0),
            &[bad("Stopped"), bad("Pending"), bad("InService")],
        );
        assert_eq!(kinds(&c), ["update", "interrupted", "interrupted"]);
        assert!(reason(&c[1]).contains("interrupted by a start we did not make"));
        assert_eq!(s.prior_status.as_deref(), Some("Stopped"));
        assert_eq!(s.stop_attempts, 0, "never stopped");
    }

    #[test]
    fn someone_starting_it_after_our_stop_took_effect_ends_the_fix_at_once() {
        for started in ["InService", "Pending"] {
            let (s, c) = drive(
                &both(),
                NotebookState::new(0),
                &[
                    bad("InService"),
                    bad("Stopping"),
                    bad(started),
                    bad("InService"),
                ],
            );
            assert_eq!(
                kinds(&c),
                ["stop", "wait", "interrupted", "interrupted"],
                "{started}"
            );
            assert_eq!(s.stop_attempts, 1, "no second Stop after {started}");
            assert!(s.stop_seen);
            assert!(
                matches!(&s.outcome, Some(Outcome::Interrupted { reason }) if reason.contains("left running")),
                "{s:?}"
            );
        }
        // Observed Stopped (not only Stopping) counts as the Stop having taken effect too.
        let (s, c) = drive(
            &both(),
            NotebookState::new(0),
            &[bad("InService"), bad("Stopped")],
        );
        assert_eq!(kinds(&c), ["stop", "update"]);
        assert!(s.stop_seen);
        // Compliant and running again (someone fixed it and started it): nothing left to do.
        let (_, c) = drive(
            &both(),
            NotebookState::new(0),
            &[bad("InService"), bad("Stopping"), good("InService")],
        );
        assert_eq!(kinds(&c), ["stop", "wait", "fixed"]);
    }

    #[test]
    fn a_stop_not_yet_seen_to_take_effect_is_sent_again_not_taken_for_a_person() {
        // A journaled Stop that was never performed (crash before the call): still InService.
        let (s, c) = drive(
            &both(),
            in_phase(Stopping, true),
            &[bad("InService"), bad("Stopping"), bad("Stopped")],
        );
        assert_eq!(kinds(&c), ["stop", "wait", "update"]);
        assert_eq!(s.stop_attempts, 2);
    }

    #[test]
    fn a_notebook_running_after_our_accepted_stop_was_started_by_someone() {
        let (s, c) = drive(&both(), NotebookState::new(0), &[bad("InService")]);
        assert_eq!(kinds(&c), ["stop"]);
        let s = performed(&s, &c[0]);
        assert!(s.stop_sent);
        // Never seen Stopping: InService may lag once, a second look decides.
        let (s2, c2) = drive(&both(), s.clone(), &[bad("InService"), bad("InService")]);
        assert_eq!(kinds(&c2), ["wait", "interrupted"]);
        assert_eq!(s2.stop_attempts, 1, "no second Stop");
        // A lagging Describe: the next look shows the Stop under way, and the fix goes on.
        let (s3, c3) = drive(
            &both(),
            s.clone(),
            &[bad("InService"), bad("Stopping"), bad("Stopped")],
        );
        assert_eq!(kinds(&c3), ["wait", "wait", "update"]);
        assert!(s3.stop_seen);
        // Pending only follows a Start.
        let (_, c4) = drive(&both(), s.clone(), &[bad("Pending")]);
        assert_eq!(kinds(&c4), ["interrupted"]);
        // Compliant and running: done.
        let (_, c5) = drive(&both(), s, &[good("InService")]);
        assert_eq!(kinds(&c5), ["fixed"]);
        // Only a Stop is remembered.
        assert_eq!(
            performed(&NotebookState::new(0), &Command::Start),
            NotebookState::new(0)
        );
    }

    #[test]
    fn old_journal_states_without_the_new_fields_still_load() {
        let json = r#"{"phase":"Stopping","prior_status":"InService","restart":true,
            "update_attempts":0,"start_attempts":0,"stop_attempts":1,"phase_since":5,
            "failure":null,"outcome":null}"#;
        let s: NotebookState = serde_json::from_str(json).unwrap();
        assert_eq!(
            (
                s.phase,
                s.stop_seen,
                s.stop_sent,
                s.running_after_stop,
                s.permanent
            ),
            (Stopping, false, false, 0, false)
        );
    }

    // ---- on_error ---------------------------------------------------------------------------

    #[test]
    fn on_error_by_class_and_command() {
        let update = Command::Update {
            disable_root_access: true,
            platform: None,
        };
        let wait = Command::Wait {
            reason: String::new(),
        };
        let commands = [
            (Stopping, Command::Stop),
            (Updating, update),
            (Starting, Command::Start),
            (Updating, wait),
        ];
        for (phase, command) in commands {
            let state = in_phase(phase, true);
            let run = |class| on_error(&both(), &state, &command, class, "msg", MIN);

            let (s, c) = run(ErrorClass::WrongState);
            assert_eq!((kind(&c), &s), ("wait", &state), "{command:?}");
            let (s, c) = run(ErrorClass::NotFound);
            assert_eq!(
                (kind(&c), s.outcome),
                ("gone", Some(Outcome::Gone)),
                "{command:?}"
            );
            for class in [ErrorClass::Throttled, ErrorClass::Transient] {
                let (s, c) = run(class);
                assert_eq!(kind(&c), "wait", "{command:?} {class}");
                let mut want = state.clone();
                if class == ErrorClass::Throttled {
                    // A throttled call was not carried out: its attempt is given back.
                    match command {
                        Command::Stop => want.stop_attempts -= 1,
                        Command::Start => want.start_attempts -= 1,
                        Command::Update { .. } => want.update_attempts -= 1,
                        _ => {}
                    }
                }
                assert_eq!(s, want, "{command:?} {class}");
            }
            for class in [
                ErrorClass::AccessDenied,
                ErrorClass::Invalid,
                ErrorClass::Unsupported,
            ] {
                let (s, c) = run(class);
                let want = if matches!(command, Command::Update { .. }) {
                    "start"
                } else {
                    "failed"
                };
                assert_eq!(kind(&c), want, "{command:?} {class}");
                assert!(s.failure.is_some(), "{command:?} {class}");
                assert!(s.permanent, "{command:?} {class}");
            }
        }
    }

    #[test]
    fn a_denied_stop_changes_nothing() {
        let (s, c) = drive(&both(), NotebookState::new(0), &[bad("InService")]);
        let (s, c) = on_error(&both(), &s, &c[0], ErrorClass::AccessDenied, "no", MIN);
        assert_eq!(kind(&c), "failed");
        assert!(
            reason(&c).contains("StopNotebookInstance denied: no; the notebook is left running")
        );
        assert_eq!(s.update_attempts, 0);
    }

    #[test]
    fn a_throttled_call_waits_a_poll_and_the_same_state_resumes() {
        let (s, c) = drive(
            &both(),
            NotebookState::new(0),
            &[bad("InService"), bad("Stopped")],
        );
        let (s, waiting) = on_error(&both(), &s, &c[1], ErrorClass::Throttled, "slow", MIN);
        assert_eq!(kind(&waiting), "wait");
        assert_eq!(s.update_attempts, 0, "a throttled Update is not an attempt");
        let (_, c) = drive(
            &both(),
            s,
            &[bad("Stopped"), good("Stopped"), good("InService")],
        );
        assert_eq!(
            kinds(&c),
            ["update", "start", "fixed"],
            "resent: it did not take"
        );
    }

    // ---- timeouts ---------------------------------------------------------------------------

    #[test]
    fn a_step_over_the_timeout_suspends_and_later_continues() {
        let cases = [
            (Observe, bad("Updating"), "Updating"),
            (Stopping, bad("Stopping"), "Stopping"),
            (Updating, bad("Updating"), "Updating"),
            (Starting, good("Pending"), "Pending"),
        ];
        for (phase, o, status) in cases {
            let state = in_phase(phase, true);
            let (s, c) = step(&state, &o, 30 * MIN);
            assert_eq!(kind(&c), "wait", "{phase}: at the limit still waits");
            // Seeing Stopping after our Stop records that the Stop took effect; nothing else
            // changes while waiting.
            let state = NotebookState {
                stop_seen: phase == Stopping,
                ..state
            };
            assert_eq!(s, state);
            let (s, c) = step(&state, &o, 30 * MIN + 1);
            assert_eq!(
                c,
                Command::Suspend {
                    reason: format!("still {status} after 30m ({})", phase.waiting_for())
                },
                "{phase}"
            );
            assert_eq!(s, state, "{phase}: suspending changes nothing");
            let (_, c) = step(&state, &o, 95 * MIN);
            assert!(reason(&c).contains("after 1h35m"), "{c:?}");
        }
        // Resumed later, the same journaled state carries on.
        let state = in_phase(Stopping, true);
        let (s, c) = step(&state, &bad("Stopped"), 40 * MIN);
        assert_eq!(kind(&c), "update");
        assert_eq!(s.phase_since, 40 * MIN);
        let state = in_phase(Starting, true);
        let (_, c) = step(&state, &good("InService"), 90 * MIN);
        assert_eq!(c, Command::Finish(Outcome::Fixed));
    }

    #[test]
    fn pending_on_first_look_times_out_too() {
        let (s, _) = step(&NotebookState::new(0), &bad("Pending"), MIN);
        let (s2, c) = step(&s, &bad("Pending"), 31 * MIN);
        assert_eq!(kind(&c), "suspend");
        assert_eq!(s2, s);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(30 * MIN), "30m");
        assert_eq!(duration(65 * MIN + 5_000), "1h5m5s");
        assert_eq!(duration(45_000), "45s");
        assert_eq!(duration(999), "999ms");
    }

    // ---- gone -------------------------------------------------------------------------------

    #[test]
    fn gone_at_every_phase_finishes_gone() {
        for phase in [Observe, Stopping, Updating, Starting] {
            for restart in [false, true] {
                let (s, c) = next(&both(), &in_phase(phase, restart), None, MIN, &limits());
                assert_eq!(c, Command::Finish(Outcome::Gone), "{phase}");
                assert_eq!((s.phase, s.outcome), (Done, Some(Outcome::Gone)), "{phase}");
            }
        }
    }

    // ---- idempotence after a crash ----------------------------------------------------------

    /// Observations that show `command` took effect (the notebook moved on, or finished).
    fn took_effect(command: &Command) -> Vec<Observation> {
        match command {
            Command::Stop => vec![bad("Stopping"), bad("Stopped"), good("Stopped")],
            Command::Update { .. } => vec![
                bad("Updating"),
                good("Updating"),
                good("Stopped"),
                good("Failed"),
            ],
            Command::Start => vec![good("Pending"), good("InService"), bad("InService")],
            _ => Vec::new(),
        }
    }

    /// Every (journaled state, mutating command) the happy paths produce, with the observation
    /// that led to it.
    fn journaled_steps() -> Vec<(NotebookState, Command, Observation)> {
        let paths = [
            vec![
                bad("InService"),
                bad("Stopping"),
                bad("Stopped"),
                bad("Updating"),
                good("Stopped"),
                good("Pending"),
                good("InService"),
            ],
            vec![bad("Stopped"), bad("Updating"), good("Stopped")],
            vec![bad("Failed"), bad("Updating"), good("Stopped")],
        ];
        let mut steps = Vec::new();
        for path in paths {
            let mut state = NotebookState::new(0);
            for (i, o) in path.iter().enumerate() {
                let (s, c) = step(&state, o, (i as i64 + 1) * MIN);
                state = roundtrip(&s);
                if is_mutating(&c) {
                    steps.push((state.clone(), c, o.clone()));
                }
            }
        }
        steps
    }

    #[test]
    fn replaying_a_step_whose_command_took_effect_never_repeats_it() {
        let steps = journaled_steps();
        assert_eq!(steps.len(), 5, "3 + 1 + 1 mutating steps");
        for (state, command, _) in steps {
            for o in took_effect(&command) {
                let first = step(&state, &o, 10 * MIN);
                let replay = step(&state, &o, 10 * MIN);
                assert_eq!(first, replay, "deterministic");
                assert_ne!(
                    kind(&first.1),
                    kind(&command),
                    "{:?} after {command:?} took effect ({o:?})",
                    state.phase
                );
                // Replaying the follow-up state too never goes back to the same call.
                let again = step(&first.0, &o, 11 * MIN);
                assert_ne!(kind(&again.1), kind(&command), "{command:?} then {o:?}");
            }
        }
    }

    #[test]
    fn a_journaled_command_that_was_never_performed_is_sent_again() {
        for (state, command, before) in journaled_steps() {
            let (s, c) = step(&state, &before, 10 * MIN);
            assert_eq!(c, command, "{:?}", state.phase);
            assert_eq!(s.phase, state.phase);
        }
    }

    #[test]
    fn the_state_round_trips_through_json() {
        let mut s = in_phase(Starting, true);
        s.failure = Some("UpdateNotebookInstance denied: SCP".to_string());
        roundtrip(&s);
        let (done, _) = step(&s, &good("InService"), MIN);
        roundtrip(&done);
        assert!(matches!(done.outcome, Some(Outcome::Failed { .. })));
    }

    // ---- simulation -------------------------------------------------------------------------

    /// A tiny model of one notebook that enforces AWS's allowed-from table and takes
    /// `TICKS` polls for every transition.
    mod sim {
        use super::*;

        pub const TICKS: u32 = 2;

        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct Calls {
            pub stop: u32,
            pub update: u32,
            pub start: u32,
        }

        #[derive(Debug, Clone)]
        pub struct Notebook {
            pub status: NotebookStatus,
            pub root: String,
            pub platform: String,
            busy: u32,
            pending_update: Option<(bool, Option<String>)>,
            /// Starts end Failed (a lifecycle script over 5 minutes).
            pub start_fails: bool,
            /// AWS accepts Update from Failed (unverified).
            pub update_from_failed: bool,
            /// An SCP denies UpdateNotebookInstance.
            pub deny_update: bool,
            /// Calls that took effect.
            pub calls: Calls,
            /// Calls refused with a wrong-state error.
            pub refused: u32,
        }

        impl Notebook {
            pub fn new(status: &str, ok: bool) -> Notebook {
                let o = observed(status, ok);
                let transitional = matches!(
                    o.status,
                    NotebookStatus::Pending | NotebookStatus::Stopping | NotebookStatus::Updating
                );
                Notebook {
                    status: o.status,
                    root: o.root_access.unwrap_or_default(),
                    platform: o.platform.unwrap_or_default(),
                    busy: if transitional { TICKS } else { 0 },
                    pending_update: None,
                    start_fails: false,
                    update_from_failed: true,
                    deny_update: false,
                    calls: Calls::default(),
                    refused: 0,
                }
            }

            pub fn describe(&self) -> Observation {
                Observation {
                    status: self.status.clone(),
                    root_access: Some(self.root.clone()),
                    platform: Some(self.platform.clone()),
                }
            }

            /// One poll interval passes.
            pub fn tick(&mut self) {
                if self.busy == 0 {
                    return;
                }
                self.busy -= 1;
                if self.busy > 0 {
                    return;
                }
                self.status = match self.status {
                    NotebookStatus::Stopping => NotebookStatus::Stopped,
                    NotebookStatus::Updating => {
                        if let Some((root, platform)) = self.pending_update.take() {
                            if root {
                                self.root = ROOT_ACCESS_DISABLED.to_string();
                            }
                            if let Some(p) = platform {
                                self.platform = p;
                            }
                        }
                        NotebookStatus::Stopped
                    }
                    NotebookStatus::Pending if self.start_fails => NotebookStatus::Failed,
                    NotebookStatus::Pending => NotebookStatus::InService,
                    ref other => other.clone(),
                };
            }

            pub fn perform(&mut self, command: &Command) -> Result<(), ErrorClass> {
                use NotebookStatus as S;
                let allowed = match command {
                    Command::Stop => matches!(self.status, S::InService),
                    Command::Start => matches!(self.status, S::Stopped | S::Failed),
                    Command::Update { .. } if self.deny_update => {
                        return Err(ErrorClass::AccessDenied)
                    }
                    Command::Update { .. } => {
                        matches!(self.status, S::Stopped)
                            || (self.update_from_failed && self.status == S::Failed)
                    }
                    _ => return Ok(()),
                };
                if !allowed {
                    self.refused += 1;
                    return Err(ErrorClass::WrongState);
                }
                self.busy = TICKS;
                match command {
                    Command::Stop => {
                        self.calls.stop += 1;
                        self.status = S::Stopping;
                    }
                    Command::Start => {
                        self.calls.start += 1;
                        self.status = S::Pending;
                    }
                    Command::Update {
                        disable_root_access,
                        platform,
                    } => {
                        assert!(
                            *disable_root_access || platform.is_some(),
                            "an empty Update"
                        );
                        self.calls.update += 1;
                        self.status = S::Updating;
                        self.pending_update = Some((*disable_root_access, platform.clone()));
                    }
                    _ => {}
                }
                Ok(())
            }
        }

        /// The executor's loop: Describe, next, journal, perform (or on_error), repeat. With
        /// `crash_at = Some(k)`, the k-th mutating command is journaled but never performed
        /// (the process died), and the loop resumes from the journal.
        pub fn run(
            plan: &NotebookPlan,
            mut nb: Notebook,
            crash_at: Option<u32>,
        ) -> (Outcome, Notebook, NotebookState) {
            let limits = limits();
            let mut now = 0;
            let mut journal = NotebookState::new(now);
            let mut mutating = 0;
            for _ in 0..200 {
                now += 30_000;
                let observed = nb.describe();
                let (mut state, mut command) = next(plan, &journal, Some(&observed), now, &limits);
                loop {
                    journal = roundtrip(&state);
                    match &command {
                        Command::Finish(outcome) => return (outcome.clone(), nb, journal),
                        Command::Wait { .. } | Command::Suspend { .. } => break,
                        Command::Stop | Command::Start | Command::Update { .. } => {
                            mutating += 1;
                            if crash_at == Some(mutating) {
                                break;
                            }
                            match nb.perform(&command) {
                                Ok(()) => break,
                                Err(class) => {
                                    (state, command) =
                                        on_error(plan, &journal, &command, class, "sim", now);
                                }
                            }
                        }
                    }
                }
                nb.tick();
            }
            panic!("the fix did not finish: {journal:?} {nb:?}")
        }
    }

    use sim::{run, Calls, Notebook};

    fn calls(stop: u32, update: u32, start: u32) -> Calls {
        Calls {
            stop,
            update,
            start,
        }
    }

    /// (Stop, Update, Start) calls that took effect.
    type Expected = (u32, u32, u32);

    /// (prior status, compliant, expected calls, final status, expected outcome kind)
    const PRIORS: [(&str, bool, Expected, &str, &str); 9] = [
        ("InService", false, (1, 1, 1), "InService", "fixed"),
        ("Pending", false, (1, 1, 1), "InService", "fixed"),
        ("Stopped", false, (0, 1, 0), "Stopped", "fixed"),
        ("Failed", false, (0, 1, 0), "Stopped", "fixed"),
        ("Stopping", false, (0, 1, 0), "Stopped", "fixed"),
        ("Updating", false, (0, 1, 0), "Stopped", "fixed"),
        ("InService", true, (0, 0, 0), "InService", "already"),
        ("Stopped", true, (0, 0, 0), "Stopped", "already"),
        ("Failed", true, (0, 0, 0), "Failed", "already"),
    ];

    #[test]
    fn simulation_restores_the_prior_state_with_one_call_of_each() {
        for plan in [both(), root_only(), platform_only()] {
            for (prior, ok, (stop, update, start), end, outcome) in PRIORS {
                let (got, nb, state) = run(&plan, Notebook::new(prior, ok), None);
                let case = format!("{plan:?} from {prior} compliant={ok}: {got:?}");
                assert_eq!(kind(&Command::Finish(got)), outcome, "{case}");
                assert_eq!(nb.calls, calls(stop, update, start), "{case}");
                assert_eq!(nb.status.as_str(), end, "{case}");
                assert_eq!(nb.refused, 0, "never called in a wrong state: {case}");
                assert!(compliant(&plan, &nb.describe()), "{case}");
                assert_eq!(state.failure, None, "{case}");
            }
        }
    }

    #[test]
    fn simulation_survives_a_crash_before_any_call() {
        for (prior, ok, (stop, update, start), end, outcome) in PRIORS {
            for crash in 1..=3 {
                let (got, nb, _) = run(&both(), Notebook::new(prior, ok), Some(crash));
                let case = format!("from {prior}, crash before call {crash}: {got:?}");
                assert_eq!(kind(&Command::Finish(got)), outcome, "{case}");
                assert_eq!(nb.calls, calls(stop, update, start), "{case}");
                assert_eq!(nb.status.as_str(), end, "{case}");
                assert_eq!(nb.refused, 0, "{case}");
            }
        }
    }

    #[test]
    fn simulation_scp_denied_update_restores_the_running_notebook() {
        let mut nb = Notebook::new("InService", false);
        nb.deny_update = true;
        let (got, nb, state) = run(&both(), nb, None);
        assert_eq!(nb.calls, calls(1, 0, 1));
        assert_eq!(nb.status, NotebookStatus::InService, "restored");
        assert!(
            matches!(&got, Outcome::Failed { reason } if reason.contains("denied")),
            "{got:?}"
        );
        assert_eq!(state.update_attempts, 1, "a denial is never retried");
    }

    #[test]
    fn simulation_failing_start_is_reported() {
        let mut nb = Notebook::new("InService", false);
        nb.start_fails = true;
        let (got, nb, _) = run(&both(), nb, None);
        assert_eq!(nb.calls, calls(1, 1, 1), "no start loop");
        assert_eq!(nb.status, NotebookStatus::Failed);
        assert!(
            matches!(&got, Outcome::Failed { reason } if reason.contains("failed to start")),
            "{got:?}"
        );
    }

    #[test]
    fn simulation_update_refused_from_failed_gives_up_without_starting() {
        let mut nb = Notebook::new("Failed", false);
        nb.update_from_failed = false;
        let (got, nb, _) = run(&both(), nb, None);
        assert_eq!(nb.calls, calls(0, 0, 0));
        assert_eq!(nb.refused, 3, "bounded by max_update_attempts");
        assert_eq!(nb.status, NotebookStatus::Failed, "never started");
        assert!(
            matches!(&got, Outcome::Failed { reason } if reason.contains("after 3 attempts")),
            "{got:?}"
        );
    }
}
