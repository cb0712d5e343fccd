//! `remediations`: prints the journal — each remediation with its steps, times and outcome,
//! and the flagged resources with their recreation plans.

use std::io::{self, Write};

use serde_json::json;

use crate::store::{Millis, Store, StoreError};

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

/// Prints remediations (newest first) and flags, all or for one resource.
pub fn print<S: Store>(
    store: &S,
    resource: Option<&str>,
    limit: usize,
    as_json: bool,
    out: &mut dyn Write,
) -> Result<(), JournalError> {
    let remediations = store.remediations(resource, limit)?;
    let flags = store.flags(resource)?;
    if as_json {
        for r in &remediations {
            writeln!(out, "{}", json!({ "remediation": r }))?;
        }
        for f in &flags {
            writeln!(out, "{}", json!({ "flag": f }))?;
        }
        return Ok(());
    }
    if remediations.is_empty() && flags.is_empty() {
        writeln!(out, "The journal is empty.")?;
        return Ok(());
    }
    for r in &remediations {
        let controls: Vec<&str> = r.controls.iter().map(|c| c.as_str()).collect();
        writeln!(
            out,
            "#{} {} {} [{}] {}{}: {}",
            r.id,
            time(r.created_at),
            r.kind,
            controls.join(" "),
            r.arn,
            if r.dry_run { " (dry run)" } else { "" },
            r.outcome.as_deref().unwrap_or(r.status.as_str()),
        )?;
        for s in &r.steps {
            writeln!(
                out,
                "    {} {:<22} {:<8} {}",
                time(s.at),
                s.step,
                s.phase,
                s.detail
            )?;
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
            let controls: Vec<&str> = f.controls.iter().map(|c| c.as_str()).collect();
            writeln!(
                out,
                "  {} [{}] {}{}",
                time(f.at),
                controls.join(" "),
                f.arn,
                if f.dry_run {
                    " (dry run: not tagged)"
                } else {
                    ""
                }
            )?;
            let plan = serde_json::to_string_pretty(&f.plan).unwrap_or_default();
            for line in plan.lines() {
                writeln!(out, "      {line}")?;
            }
        }
    }
    Ok(())
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
