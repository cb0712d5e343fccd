//! `demo` as a new user runs it: the seeded fleet audited, fixed by the daemon, audited again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;

/// What a notebook's `UpdateNotebookInstance done` line changed, from the steps printed as
/// they happen (`  6.0s  name  UpdateNotebookInstance done  RootAccess=Disabled ...`).
fn update_of(text: &str, notebook: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        (words.len() >= 4
            && words[0].ends_with('s')
            && words[1] == notebook
            && words[2] == "UpdateNotebookInstance"
            && words[3] == "done")
            .then(|| words[4..].join(" "))
    })
}

/// The passed/failed/n/a figures of a control in the last audit table of the output.
fn last_table_row(text: &str, control: &str) -> Vec<String> {
    let line = text
        .lines()
        .rfind(|l| l.starts_with(&format!("{control} ")))
        .unwrap_or_else(|| panic!("no {control} row in:\n{text}"));
    line.split_whitespace()
        .skip(1)
        .take(3)
        .map(str::to_string)
        .collect()
}

#[test]
fn demo_moves_amazon_linux_2_notebooks_forward_and_leaves_al2023_platforms_alone() {
    let out = Command::new(BIN).arg("demo").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));

    // notebook-al2-v3 with root access: one cycle for both controls, forward to AL2023.
    assert_eq!(
        update_of(&text, "fraud-model-dev").as_deref(),
        Some("RootAccess=Disabled PlatformIdentifier=notebook-al2023-v1"),
        "{text}"
    );
    // notebook-al2-v2: forward to AL2023.
    assert_eq!(
        update_of(&text, "legacy-analysis").as_deref(),
        Some("PlatformIdentifier=notebook-al2023-v1"),
        "{text}"
    );
    // Already on AL2023: root access fixed, the platform not named in the update.
    assert_eq!(
        update_of(&text, "quick-experiment").as_deref(),
        Some("RootAccess=Disabled"),
        "{text}"
    );
    // Compliant (AL2023, no root access): never touched.
    assert_eq!(update_of(&text, "DS-Team-Notebook"), None, "{text}");
    let steps_of = |name: &str| {
        text.lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(name))
            .count()
    };
    assert_eq!(steps_of("DS-Team-Notebook"), 0, "{text}");
    assert!(steps_of("quick-experiment") > 0, "{text}");

    // The audit after the run: every notebook passes SageMaker.3 and SageMaker.8.
    assert_eq!(
        last_table_row(&text, "SageMaker.3"),
        ["4", "0", "0"],
        "{text}"
    );
    assert_eq!(
        last_table_row(&text, "SageMaker.8"),
        ["4", "0", "0"],
        "{text}"
    );
    assert!(!text.contains("downgrade"), "{text}");

    // The outcomes on the bus: one per fix started and ended, one per flag.
    let on_bus = |detail_type: &str| {
        text.lines()
            .filter(|l| l.trim_start().starts_with(detail_type))
            .count()
    };
    assert_eq!(on_bus("Remediation Planned"), 6, "{text}");
    assert_eq!(on_bus("Remediation Succeeded"), 6, "{text}");
    assert_eq!(on_bus("Recreation Required"), 3, "{text}");
    assert_eq!(on_bus("Remediation Pending Approval"), 1, "{text}");

    // The findings: the fixed controls' resolved, the flagged ones' notified.
    let findings = |status: &str| {
        text.lines()
            .filter(|l| l.contains(&format!("NEW -> {status}")))
            .count()
    };
    assert_eq!(findings("RESOLVED"), 7, "{text}");
    assert_eq!(findings("NOTIFIED"), 4, "{text}");
}

#[test]
fn demo_replaces_the_single_instance_endpoint_config_once_after_an_approval() {
    let out = Command::new(BIN).arg("demo").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    let approval = text
        .find("Approval request #1 for churn-staging-config")
        .unwrap_or_else(|| panic!("no approval: {text}"));
    let create = text
        .find("churn-staging-config     CreateEndpointConfig   done")
        .unwrap_or_else(|| panic!("no copy: {text}"));
    assert!(
        approval < create,
        "the copy only after the approval: {text}"
    );
    assert!(
        text.contains("churn-staging-config     UpdateEndpoint         observed churn-staging serves churn-staging-config-ha and is InService (verified)"),
        "{text}"
    );
    assert!(
        text.contains("1 CreateEndpointConfig, 1 UpdateEndpoint."),
        "one copy, one endpoint update: {text}"
    );
    // The config without endpoints is flagged, not replaced.
    assert!(
        text.lines()
            .any(|l| l.contains("Recreation Required") && l.contains("recs-mixed-config")),
        "{text}"
    );
    assert!(
        !text.contains("recs-mixed-config     CreateEndpointConfig"),
        "{text}"
    );
}
