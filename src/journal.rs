//! `remediations`: prints the journal — the fixes waiting to start and when they may, each
//! remediation with its steps, times and outcome, the flagged resources with their recreation
//! plans, and the remediations held back after a failure with when (or on what) they are tried
//! again.

use std::io::{self, Write};

use serde_json::json;

use crate::model::ControlId;
use crate::store::{Failure, Hold, Millis, Store, StoreError, Wait};

/// Errors of the printer.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing: {0}")]
    Io(#[from] io::Error),
}

/// RFC 3339 UTC, to the second.
pub fn time(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// When a held remediation is tried again, in words.
pub fn describe_hold(hold: &Hold) -> String {
    match hold {
        Hold::Retry { at } => format!("next attempt {} (or when the resource changes)", time(*at)),
        Hold::NeedsPerson => {
            "needs a person: not tried again until the resource or the plan changes".to_string()
        }
        Hold::Quiet { until } => format!(
            "quiet until {}: someone started the notebook while the fix held it stopped",
            time(*until)
        ),
    }
}

/// When a waiting fix starts, in words.
pub fn describe_wait(w: &Wait) -> String {
    let why = match w.reason.as_str() {
        "maintenance-window" => "outside a maintenance window",
        "in-use" => "someone used the notebook lately",
        "stop-notice" => "notice given before the stop (tag sagemaker-remediator:scheduled-at)",
        "enforcement-paused" => "enforcement in the account is paused (hourly limit)",
        "fixes-at-once" => "as many fixes as allowed run at once in the account",
        other => other,
    };
    format!("{why}; starts at {} at the earliest", time(w.until))
}

/// Prints the fixes waiting to start, remediations (newest first), flags and held failures, all or for one resource.
pub fn print<S: Store + ?Sized>(
    store: &S,
    resource: Option<&str>,
    limit: usize,
    as_json: bool,
    out: &mut dyn Write,
) -> Result<(), JournalError> {
    let remediations = store.remediations(resource, limit)?;
    let flags = store.flags(resource)?;
    let failures: Vec<Failure> = store
        .failures()?
        .into_iter()
        .filter(|f| resource.is_none_or(|arn| f.resource.arn == arn))
        .collect();
    let waits: Vec<Wait> = store
        .waits()?
        .into_iter()
        .filter(|w| resource.is_none_or(|arn| w.resource.arn == arn))
        .collect();
    if as_json {
        for w in &waits {
            let mut value = json!({ "wait": w });
            value["wait"]["starts"] = json!(describe_wait(w));
            writeln!(out, "{value}")?;
        }
        for r in &remediations {
            let mut value = json!({ "remediation": r });
            if let Some(code) = crate::render::fix(&r.resource, r.kind, &r.state) {
                value["remediation"]["code"] = code;
            }
            writeln!(out, "{value}")?;
        }
        for f in &flags {
            writeln!(out, "{}", json!({ "flag": f }))?;
        }
        for f in &failures {
            let mut value = json!({ "failure": f });
            value["failure"]["next_attempt"] = json!(describe_hold(&f.hold));
            writeln!(out, "{value}")?;
        }
        return Ok(());
    }
    if remediations.is_empty() && flags.is_empty() && failures.is_empty() && waits.is_empty() {
        match resource {
            Some(arn) => writeln!(out, "The journal has nothing about {arn}.")?,
            None => writeln!(out, "The journal is empty.")?,
        }
        return Ok(());
    }
    if !waits.is_empty() {
        writeln!(out, "Waiting to start ({}):", waits.len())?;
        for w in &waits {
            writeln!(
                out,
                "  {} {} [{}]: {}",
                w.kind,
                w.resource.arn,
                ControlId::spaced(&w.controls),
                describe_wait(w)
            )?;
        }
        writeln!(out)?;
    }
    if !failures.is_empty() {
        writeln!(out, "Held after a failure ({}):", failures.len())?;
        for f in &failures {
            writeln!(
                out,
                "  {} {} [{}] {}: {} failed attempt(s), last #{} at {}",
                f.kind,
                f.resource.arn,
                ControlId::spaced(&f.controls),
                f.plan,
                f.failures,
                f.remediation_id,
                time(f.at)
            )?;
            writeln!(out, "      why: {}", f.reason)?;
            writeln!(out, "      {}", describe_hold(&f.hold))?;
        }
        writeln!(out)?;
    }
    for r in &remediations {
        writeln!(
            out,
            "#{} {} {} [{}] {}{}: {}",
            r.id,
            time(r.created_at),
            r.kind,
            ControlId::spaced(&r.controls),
            r.resource.arn,
            if r.dry_run { " (dry run)" } else { "" },
            r.outcome.as_deref().unwrap_or(r.status.as_str()),
        )?;
        for s in &r.steps {
            writeln!(
                out,
                "    {} {:<22} {:<8} {}",
                time(s.at),
                s.step.as_str(),
                s.phase.as_str(),
                s.detail
            )?;
        }
        if crate::render::fix(&r.resource, r.kind, &r.state).is_some() {
            writeln!(out, "    {}", as_code(&r.resource.arn))?;
        }
    }
    if !flags.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Flagged for recreation or manual action ({}):",
            flags.len()
        )?;
        for f in &flags {
            writeln!(
                out,
                "  {} [{}] {}{}",
                time(f.at),
                ControlId::spaced(&f.controls),
                f.resource.arn,
                if f.dry_run {
                    " (dry run: not tagged)"
                } else {
                    ""
                }
            )?;
            // The code forms are long: the table names the command that prints them.
            let mut shown = f.plan.clone();
            let code = shown
                .as_object_mut()
                .and_then(|p| p.remove("code"))
                .is_some();
            let plan = serde_json::to_string_pretty(&shown).unwrap_or_default();
            for line in plan.lines() {
                writeln!(out, "      {line}")?;
            }
            if code {
                writeln!(out, "      {}", as_code(&f.resource.arn))?;
            }
        }
    }
    Ok(())
}

/// The line that names the command printing a plan as code.
fn as_code(arn: &str) -> String {
    format!(
        "as code: sagemaker-remediator remediations --resource {arn} --as cli|terraform|cloudformation"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        assert_eq!(time(1_795_000_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(time(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
