//! How a new trigger is merged into the pending row of its ARN: the rule both backends apply
//! in `enqueue`.

use crate::events::Trigger;
use crate::model::ControlId;
use crate::store::Millis;

/// The stored row of an ARN that `enqueue` merges a new trigger into.
pub(in crate::store) struct Existing {
    pub(in crate::store) name: Option<String>,
    pub(in crate::store) controls: String,
    pub(in crate::store) generation: i64,
    pub(in crate::store) attempts: i64,
    pub(in crate::store) not_before: Millis,
    pub(in crate::store) first_seen: Millis,
    pub(in crate::store) pending: bool,
}

/// The row `enqueue` writes.
pub(in crate::store) struct Merged {
    pub(in crate::store) name: Option<String>,
    pub(in crate::store) controls: Vec<ControlId>,
    pub(in crate::store) generation: i64,
    pub(in crate::store) attempts: i64,
    pub(in crate::store) not_before: Millis,
    pub(in crate::store) first_seen: Millis,
}

impl Merged {
    pub(in crate::store) fn of(t: &Trigger, existing: Option<&Existing>, now: Millis) -> Merged {
        let mut controls = t.controls.clone();
        let merged = match existing {
            None => Merged {
                name: t.name.clone(),
                controls: Vec::new(),
                generation: 1,
                attempts: 0,
                not_before: now,
                first_seen: now,
            },
            // A finished row only lends its generation (and the resource's name).
            Some(e) if !e.pending => Merged {
                name: t.name.clone().or_else(|| e.name.clone()),
                controls: Vec::new(),
                generation: e.generation.saturating_add(1),
                attempts: 0,
                not_before: now,
                first_seen: now,
            },
            Some(e) => {
                // Hints are hints: an unreadable stored hint is dropped, not fatal.
                let (old, bad) = parse_controls_lenient(&e.controls);
                if !bad.is_empty() {
                    tracing::warn!(
                        event = "store.corrupt_hint_dropped",
                        arn = %t.arn,
                        dropped = %bad.join(","),
                        "dropped unreadable control hints of a pending trigger"
                    );
                }
                controls.extend(old);
                Merged {
                    name: t.name.clone().or_else(|| e.name.clone()),
                    controls: Vec::new(),
                    generation: e.generation.saturating_add(1),
                    attempts: e.attempts,
                    // In backoff: keep it. Otherwise the earlier of the two.
                    not_before: if e.attempts > 0 {
                        e.not_before
                    } else {
                        e.not_before.min(now)
                    },
                    first_seen: e.first_seen,
                }
            }
        };
        controls.sort();
        controls.dedup();
        Merged { controls, ..merged }
    }
}

/// `SageMaker.1,SageMaker.3`; empty for none.
pub(in crate::store) fn encode_controls(controls: &[ControlId]) -> String {
    controls
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The controls that parse, and the pieces that do not.
pub(in crate::store) fn parse_controls_lenient(s: &str) -> (Vec<ControlId>, Vec<String>) {
    let mut controls = Vec::new();
    let mut bad = Vec::new();
    for piece in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match ControlId::parse(piece) {
            Some(c) => controls.push(c),
            None => bad.push(piece.to_string()),
        }
    }
    (controls, bad)
}
