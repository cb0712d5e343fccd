//! Counters and gauges of the daemon, rendered in the Prometheus text format on `/metrics`.
//! Every metric name is declared once in [`METRICS`] with its help text; labels are free.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// (name, type, help) of every metric the daemon exports.
pub const METRICS: &[(&str, &str, &str)] = &[
    (
        "smr_events_received_total",
        "counter",
        "SQS messages received, by event family and outcome (triggered, irrelevant, malformed, store_error).",
    ),
    (
        "smr_evaluations_total",
        "counter",
        "Control evaluations made by reconciles, by control and status.",
    ),
    (
        "smr_remediations_total",
        "counter",
        "Remediations ended, by control and outcome.",
    ),
    (
        "smr_aws_calls_total",
        "counter",
        "AWS calls, by operation and result class (ok, throttled, transient, not-found, wrong-state, access-denied, unsupported, invalid).",
    ),
    (
        "smr_reconciles_total",
        "counter",
        "Reconcile runs, by result (ok, error).",
    ),
    (
        "smr_remediations_held_total",
        "counter",
        "Fixes not started because of a remembered failure, by reason (retry-later, needs-person, quiet-period, maintenance-window, in-use).",
    ),
    (
        "smr_workflow_retries_total",
        "counter",
        "Throttled or transient calls retried inside a waiting fix, by operation and class.",
    ),
    (
        "smr_queue_lag_seconds",
        "gauge",
        "Age of the newest received SQS message when it was received.",
    ),
    (
        "smr_pending_triggers",
        "gauge",
        "Resources waiting to be reconciled.",
    ),
    (
        "smr_notifications_total",
        "counter",
        "Notices sent to the event bus, by result (delivered, retried).",
    ),
    (
        "smr_outbox_notices",
        "gauge",
        "Notices waiting in the outbox to be sent, by channel (events, findings).",
    ),
    (
        "smr_enforcement_paused",
        "gauge",
        "1 while enforcement in an account is paused by the hourly limit on notebook fixes, by account.",
    ),
    (
        "smr_exemptions",
        "gauge",
        "Exemptions in the configuration, by state (active, expired).",
    ),
    (
        "smr_findings_updated_total",
        "counter",
        "Security Hub findings given a workflow status by the write-back, by status.",
    ),
];

/// One series: the metric name and its sorted labels.
type Series = (&'static str, Vec<(&'static str, String)>);

/// The daemon's metrics. Cheap enough for the event rates this service sees.
#[derive(Debug, Default)]
pub struct Metrics {
    values: Mutex<BTreeMap<Series, f64>>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Adds one to a counter.
    pub fn inc(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        self.add(name, labels, 1.0);
    }

    pub fn add(&self, name: &'static str, labels: &[(&'static str, &str)], v: f64) {
        let key = key(name, labels);
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        *values.entry(key).or_insert(0.0) += v;
    }

    pub fn set(&self, name: &'static str, labels: &[(&'static str, &str)], v: f64) {
        let key = key(name, labels);
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        values.insert(key, v);
    }

    /// The current value of one series (0 when never touched).
    pub fn get(&self, name: &'static str, labels: &[(&'static str, &str)]) -> f64 {
        let key = key(name, labels);
        let values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        values.get(&key).copied().unwrap_or(0.0)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        for (name, kind, help) in METRICS {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for ((n, labels), v) in values.iter() {
                if n != name {
                    continue;
                }
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                    .collect();
                if labels.is_empty() {
                    let _ = writeln!(out, "{name} {v}");
                } else {
                    let _ = writeln!(out, "{name}{{{}}} {v}", labels.join(","));
                }
            }
        }
        out
    }
}

fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Series {
    let mut labels: Vec<(&'static str, String)> =
        labels.iter().map(|(k, v)| (*k, v.to_string())).collect();
    labels.sort();
    (name, labels)
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_sorted_escaped_labels() {
        let m = Metrics::new();
        m.inc(
            "smr_events_received_total",
            &[("outcome", "triggered"), ("family", "config")],
        );
        m.inc(
            "smr_events_received_total",
            &[("family", "config"), ("outcome", "triggered")],
        );
        m.set("smr_pending_triggers", &[], 3.0);
        m.inc(
            "smr_aws_calls_total",
            &[("operation", "a\"b"), ("class", "ok")],
        );
        let text = m.render();
        assert!(
            text.contains("smr_events_received_total{family=\"config\",outcome=\"triggered\"} 2\n")
        );
        assert!(text.contains("smr_pending_triggers 3\n"));
        assert!(text.contains("smr_aws_calls_total{class=\"ok\",operation=\"a\\\"b\"} 1\n"));
        assert!(text.contains("# TYPE smr_queue_lag_seconds gauge\n"));
        assert_eq!(
            m.get(
                "smr_events_received_total",
                &[("family", "config"), ("outcome", "triggered")]
            ),
            2.0
        );
    }
}
