//! The store's contract, held by both backends: every scenario runs on an SQLite file and on a
//! DynamoDB table in moto (through the real SDK over HTTP).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use serde_json::json;

use sagemaker_remediator::events::{Family, Trigger};
use sagemaker_remediator::model::{ControlId, ResourceRef, ResourceType};
use sagemaker_remediator::store::{
    ApprovalState, Channel, DynamoStore, Failure, Flag, Hold, Millis, NewApproval, NewRemediation,
    Notice, Pause, RemediationKind, RemediationStatus, SqliteStore, StepRecord, Store, StoreError,
    TableInit, Verdict, Wait,
};

fn moto() -> &'static common::Moto {
    static MOTO: OnceLock<common::Moto> = OnceLock::new();
    MOTO.get_or_init(common::Moto::start)
}

fn client() -> aws_sdk_dynamodb::Client {
    let endpoint = moto().endpoint.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = rt.block_on(sagemaker_remediator::demo::emulator_sdk_config(&endpoint));
    sagemaker_remediator::store::dynamodb_client(&base)
}

fn init(client: &aws_sdk_dynamodb::Client, table: &str) -> TableInit {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(DynamoStore::init(client, table))
        .unwrap()
}

/// A DynamoDB store on a new table of its own.
fn dynamo() -> DynamoStore {
    static N: AtomicU32 = AtomicU32::new(0);
    let table = format!(
        "contract-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let client = client();
    assert_eq!(init(&client, &table), TableInit::Created);
    DynamoStore::open(client, &table, 90).unwrap()
}

/// Runs `scenario` on both backends, naming the one that failed.
fn both(scenario: impl Fn(&dyn Store)) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("store.db")).unwrap();
    for (name, store) in [
        ("sqlite", &sqlite as &dyn Store),
        ("dynamodb", &dynamo() as &dyn Store),
    ] {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(store)));
        if let Err(panic) = outcome {
            eprintln!("the {name} store broke the contract");
            std::panic::resume_unwind(panic);
        }
    }
}

const A: &str = "arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/a";
const B: &str = "arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/b";
const C: &str = "arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/c";

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

fn notebook(arn: &str) -> ResourceRef {
    ResourceRef {
        arn: arn.into(),
        account: "111122223333".into(),
        region: "eu-west-1".into(),
        resource_type: ResourceType::NotebookInstance,
        name: "Nb".into(),
    }
}

fn new_remediation(arn: &str, at: Millis, notices: Vec<Notice>) -> NewRemediation {
    NewRemediation {
        resource: notebook(arn),
        controls: vec![ControlId::SageMaker3],
        kind: RemediationKind::NotebookFix,
        dry_run: false,
        state: json!({"phase": "stop"}),
        at,
        notices,
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

fn notice(id: &str, at: Millis) -> Notice {
    Notice {
        channel: Channel::Events,
        event_id: id.to_string(),
        detail_type: "Remediation Succeeded".to_string(),
        detail: json!({"id": id}),
        at,
    }
}

fn arns(store: &dyn Store, now: Millis) -> Vec<String> {
    store
        .due(now, 100)
        .unwrap()
        .into_iter()
        .map(|p| p.trigger.arn)
        .collect()
}

#[test]
fn triggers_coalesce_by_arn_and_generations_only_grow() {
    both(|store| {
        store
            .enqueue(
                &[
                    trigger(A, Some("Nb"), &[ControlId::SageMaker3], "e1"),
                    trigger(B, None, &[], "e2"),
                    trigger(A, None, &[ControlId::SageMaker8], "e3"),
                ],
                1_000,
            )
            .unwrap();
        assert_eq!(store.pending_count().unwrap(), 2);
        assert_eq!(store.next_due().unwrap(), Some(1_000));
        let due = store.due(1_000, 10).unwrap();
        assert_eq!(due.len(), 2);
        let a = due.iter().find(|p| p.trigger.arn == A).unwrap();
        assert_eq!(a.generation, 2, "two triggers of one batch");
        assert_eq!(a.trigger.event_id, "e3", "the newest trigger's id");
        assert_eq!(
            a.trigger.name.as_deref(),
            Some("Nb"),
            "a known name is kept"
        );
        assert_eq!(
            a.trigger.controls,
            vec![ControlId::SageMaker3, ControlId::SageMaker8]
        );
        assert_eq!(a.first_seen, 1_000);

        // A stale finish leaves the row; the right generation removes it.
        assert!(!store.finish(A, 1).unwrap());
        assert!(store.finish(A, 2).unwrap());
        assert!(!store.finish(A, 2).unwrap(), "already finished");
        assert_eq!(arns(store, 5_000), vec![B.to_string()]);

        // After finish, the next trigger continues the generations.
        store
            .enqueue(&[trigger(A, None, &[], "e4")], 2_000)
            .unwrap();
        let a = store.due(2_000, 10).unwrap();
        let a = a.iter().find(|p| p.trigger.arn == A).unwrap();
        assert_eq!(a.generation, 3);
        assert_eq!(a.trigger.name.as_deref(), Some("Nb"));
        assert!(
            a.trigger.controls.is_empty(),
            "a finished row lends no hints"
        );
        assert_eq!(a.first_seen, 2_000);
    });
}

#[test]
fn due_orders_by_not_before_honours_limit_and_defer_hides_rows() {
    both(|store| {
        store.enqueue(&[trigger(C, None, &[], "c")], 3_000).unwrap();
        store.enqueue(&[trigger(A, None, &[], "a")], 1_000).unwrap();
        store.enqueue(&[trigger(B, None, &[], "b")], 2_000).unwrap();
        assert_eq!(arns(store, 2_500), vec![A.to_string(), B.to_string()]);
        let first: Vec<String> = store
            .due(10_000, 1)
            .unwrap()
            .into_iter()
            .map(|p| p.trigger.arn)
            .collect();
        assert_eq!(first, vec![A.to_string()]);

        store.defer(A, 9_000, 2).unwrap();
        assert_eq!(arns(store, 5_000), vec![B.to_string(), C.to_string()]);
        assert_eq!(store.next_due().unwrap(), Some(2_000));
        // A new trigger keeps the backoff of a row in error backoff.
        store
            .enqueue(&[trigger(A, None, &[], "a2")], 5_000)
            .unwrap();
        assert!(!arns(store, 5_000).contains(&A.to_string()));
        let a = store.due(9_000, 10).unwrap();
        let a = a.iter().find(|p| p.trigger.arn == A).unwrap();
        assert_eq!((a.attempts, a.not_before), (2, 9_000));
        // Deferring what is not pending does nothing.
        store.defer("arn:nothing", 1, 1).unwrap();
        assert_eq!(store.pending_count().unwrap(), 3);
    });
}

#[test]
fn claims_are_exclusive_until_expiry_or_release_and_taken_over_only_from_the_named_holder() {
    both(|store| {
        assert!(store.claim(A, "one", 1_000, 5_000).unwrap());
        assert!(!store.claim(A, "two", 2_000, 5_000).unwrap());
        assert!(store.claim(A, "one", 2_000, 5_000).unwrap(), "a renewal");
        assert_eq!(
            store.claim_holder(A).unwrap(),
            Some(("one".to_string(), 7_000))
        );
        assert!(!store.claim(A, "two", 6_999, 5_000).unwrap());
        assert!(store.claim(A, "two", 7_000, 5_000).unwrap(), "expired");
        store.release(A, "one").unwrap();
        assert_eq!(
            store.claim_holder(A).unwrap().unwrap().0,
            "two",
            "not one's"
        );
        assert!(!store.take_over(A, "one", "three", 8_000, 5_000).unwrap());
        assert!(store.take_over(A, "two", "three", 8_000, 5_000).unwrap());
        store.release(A, "three").unwrap();
        assert_eq!(store.claim_holder(A).unwrap(), None);
        assert!(
            store.take_over(A, "gone", "four", 9_000, 5_000).unwrap(),
            "free"
        );
    });
}

#[test]
fn the_journal_keeps_one_running_remediation_per_resource_and_final_statuses() {
    both(|store| {
        let id = store
            .begin(&new_remediation(A, 1_000, vec![notice("begun", 1_000)]))
            .unwrap();
        let again = store.begin(&new_remediation(A, 1_001, Vec::new()));
        match again {
            Err(StoreError::Conflict { message, .. }) => {
                assert!(message.contains(&id.to_string()), "{message}")
            }
            other => panic!("a second running remediation: {other:?}"),
        }
        store
            .append_step(id, &step(1_100, "StopNotebookInstance", "intent"))
            .unwrap();
        store
            .append_step(id, &step(1_200, "StopNotebookInstance", "done"))
            .unwrap();
        assert!(matches!(
            store.append_step(id + 1000, &step(1, "Wait", "wait")),
            Err(StoreError::NotFound { .. })
        ));
        let running = store.unfinished_for(A).unwrap().unwrap();
        assert_eq!(running.id, id);
        assert_eq!(running.updated_at, 1_200);
        let phases: Vec<String> = running.steps.iter().map(|s| s.detail.clone()).collect();
        assert_eq!(
            phases,
            vec!["StopNotebookInstance intent", "StopNotebookInstance done"]
        );
        assert_eq!(store.unfinished().unwrap().len(), 1);
        assert_eq!(store.notebook_fixes("111122223333", 0).unwrap(), (1, 1));

        let done = json!({"phase": "done"});
        let notices = [notice("succeeded", 1_300)];
        store
            .save_state(
                id,
                &done,
                RemediationStatus::Succeeded,
                Some("fixed"),
                1_300,
                &notices,
            )
            .unwrap();
        // A retried save of the same status is accepted and sends nothing twice.
        store
            .save_state(
                id,
                &done,
                RemediationStatus::Succeeded,
                Some("fixed"),
                1_301,
                &[notice("twice", 1_301)],
            )
            .unwrap();
        assert!(matches!(
            store.save_state(id, &done, RemediationStatus::Failed, None, 1_400, &[]),
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(store.unfinished().unwrap(), Vec::new());
        assert_eq!(store.unfinished_for(A).unwrap(), None);
        assert_eq!(store.notebook_fixes("111122223333", 0).unwrap(), (1, 0));
        assert_eq!(store.notebook_fixes("111122223333", 1_001).unwrap(), (0, 0));
        let ids: Vec<String> = store
            .outbox_due(Channel::Events, 10_000, 10)
            .unwrap()
            .into_iter()
            .map(|e| {
                assert_eq!(e.remediation_id, Some(id));
                e.notice.event_id
            })
            .collect();
        assert_eq!(ids, vec!["begun", "succeeded"]);

        // A new remediation may start once the last one finished; newest first.
        let second = store.begin(&new_remediation(A, 2_000, Vec::new())).unwrap();
        assert!(second > id, "ids grow");
        let other = store.begin(&new_remediation(B, 3_000, Vec::new())).unwrap();
        let all: Vec<i64> = store
            .remediations(None, 10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(all, vec![other, second, id]);
        let of_a: Vec<i64> = store
            .remediations(Some(A), 10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(of_a, vec![second, id]);
        let newest: Vec<i64> = store
            .remediations(Some(A), 1)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(newest, vec![second]);
        let first = &store.remediations(Some(A), 10).unwrap()[1];
        assert_eq!(
            (first.status, first.outcome.as_deref(), first.steps.len()),
            (RemediationStatus::Succeeded, Some("fixed"), 2)
        );
        assert_eq!(store.unfinished().unwrap().len(), 2);
    });
}

#[test]
fn an_intent_is_journaled_only_while_no_other_owner_holds_the_claim() {
    both(|store| {
        let id = store.begin(&new_remediation(A, 1_000, Vec::new())).unwrap();
        let intent = step(1_100, "StopNotebookInstance", "intent");
        // Nobody holds it (a direct call), or we do: written.
        store.append_intent(id, &intent, A, "me", 1_100).unwrap();
        assert!(store.claim(A, "me", 1_100, 5_000).unwrap());
        store.append_intent(id, &intent, A, "me", 1_200).unwrap();
        // Our claim lapsed and another replica took it: refused, and nothing written.
        assert!(store.claim(A, "other", 6_100, 5_000).unwrap());
        match store.append_intent(id, &intent, A, "me", 6_200) {
            Err(StoreError::Conflict { message, .. }) => {
                assert!(message.contains("other"), "{message}")
            }
            other => panic!("an intent under another's claim: {other:?}"),
        }
        assert_eq!(store.unfinished_for(A).unwrap().unwrap().steps.len(), 2);
        // Once the other's claim expired, it is ours to write again.
        store.append_intent(id, &intent, A, "me", 11_100).unwrap();
        assert_eq!(store.unfinished_for(A).unwrap().unwrap().steps.len(), 3);
        assert!(matches!(
            store.append_intent(id + 1000, &intent, A, "me", 11_100),
            Err(StoreError::NotFound { .. })
        ));
    });
}

#[test]
fn a_flag_notice_is_written_only_when_the_flag_is_new_or_changed() {
    both(|store| {
        let flag = Flag {
            resource: notebook(A),
            controls: vec![ControlId::SageMaker1],
            plan: json!({"recreate": "with KMS"}),
            dry_run: true,
            at: 1_000,
        };
        assert!(store.save_flag(&flag, &[notice("f1", 1_000)]).unwrap());
        let later = Flag {
            at: 2_000,
            ..flag.clone()
        };
        assert!(!store.save_flag(&later, &[notice("f2", 2_000)]).unwrap());
        let changed = Flag {
            plan: json!({"recreate": "with KMS and no internet"}),
            ..later.clone()
        };
        assert!(store.save_flag(&changed, &[notice("f3", 3_000)]).unwrap());
        assert_eq!(store.flags(Some(A)).unwrap(), vec![changed.clone()]);
        assert_eq!(store.flags(None).unwrap().len(), 1);
        assert_eq!(store.outbox_len(Channel::Events).unwrap(), 2);
        assert_eq!(store.outbox_len(Channel::Findings).unwrap(), 0);
    });
}

#[test]
fn the_outbox_hands_out_due_entries_oldest_first_and_keeps_them_until_delivered() {
    both(|store| {
        store
            .save_notices(&[
                notice("n2", 2_000),
                notice("n1", 1_000),
                notice("n3", 3_000),
            ])
            .unwrap();
        let due: Vec<String> = store
            .outbox_due(Channel::Events, 2_500, 10)
            .unwrap()
            .into_iter()
            .map(|e| e.notice.event_id)
            .collect();
        assert_eq!(due, vec!["n1", "n2"]);
        assert_eq!(store.outbox_next_due(Channel::Events).unwrap(), Some(1_000));
        store.outbox_retry("n1", 1, 5_000, "throttled").unwrap();
        let later = store.outbox_due(Channel::Events, 5_000, 10).unwrap();
        let n1 = later.iter().find(|e| e.notice.event_id == "n1").unwrap();
        assert_eq!(
            (n1.attempts, n1.last_error.as_deref()),
            (1, Some("throttled"))
        );
        assert_eq!(
            later.last().unwrap().notice.event_id,
            "n1",
            "its retry is last"
        );
        store
            .outbox_delivered(&["n1".to_string(), "n2".to_string(), "gone".to_string()])
            .unwrap();
        assert_eq!(store.outbox_len(Channel::Events).unwrap(), 1);
        assert_eq!(store.outbox_next_due(Channel::Events).unwrap(), Some(3_000));
        assert_eq!(store.outbox_next_due(Channel::Findings).unwrap(), None);
    });
}

#[test]
fn failures_pauses_seen_activity_and_waits_round_trip() {
    both(|store| {
        let failure = Failure {
            resource: notebook(A),
            kind: RemediationKind::NotebookFix,
            controls: vec![ControlId::SageMaker3],
            plan: "{}".into(),
            version: "v1".into(),
            failures: 2,
            hold: Hold::Retry { at: 9_000 },
            reason: "denied".into(),
            remediation_id: 4,
            at: 1_000,
        };
        store.save_failure(&failure).unwrap();
        assert_eq!(
            store.failure(A, RemediationKind::NotebookFix).unwrap(),
            Some(failure.clone())
        );
        assert_eq!(
            store.failure(A, RemediationKind::EndpointReplace).unwrap(),
            None
        );
        assert_eq!(store.failures().unwrap(), vec![failure]);
        store
            .clear_failure(A, RemediationKind::NotebookFix)
            .unwrap();
        assert_eq!(store.failures().unwrap(), Vec::new());

        let pause = Pause {
            account: "111122223333".into(),
            until: 5_000,
            reason: "3 fixes in an hour".into(),
            at: 1_000,
            resumed_at: None,
        };
        store
            .save_pause(&pause, &[notice("paused", 1_000)])
            .unwrap();
        assert_eq!(store.pause("111122223333").unwrap(), Some(pause.clone()));
        assert_eq!(store.pauses().unwrap(), vec![pause]);
        assert_eq!(store.outbox_len(Channel::Events).unwrap(), 1);

        store
            .save_seen(
                "111122223333",
                "eu-west-1",
                &[(A.into(), "v1".into()), (B.into(), "v2".into())],
                &[],
                1_000,
            )
            .unwrap();
        store
            .save_seen("111122223333", "eu-west-1", &[], &[A.to_string()], 2_000)
            .unwrap();
        let seen = store.seen("111122223333", "eu-west-1").unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen.get(B).map(String::as_str), Some("v2"));
        assert!(store.seen("111122223333", "us-east-1").unwrap().is_empty());

        store.record_activity(A, 5_000).unwrap();
        store.record_activity(A, 4_000).unwrap();
        assert_eq!(
            store.last_activity(A).unwrap(),
            Some(5_000),
            "the latest is kept"
        );
        assert_eq!(store.last_activity(B).unwrap(), None);

        let wait = |arn: &str, until| Wait {
            resource: notebook(arn),
            kind: RemediationKind::NotebookFix,
            controls: vec![ControlId::SageMaker3],
            reason: "maintenance-window".into(),
            until,
            at: 1_000,
        };
        store.save_wait(&wait(A, 9_000), &[]).unwrap();
        store.save_wait(&wait(B, 7_000), &[]).unwrap();
        store.save_wait(&wait(A, 8_000), &[]).unwrap();
        let order: Vec<(String, Millis)> = store
            .waits()
            .unwrap()
            .into_iter()
            .map(|w| (w.resource.arn.to_string(), w.until))
            .collect();
        assert_eq!(order, vec![(B.to_string(), 7_000), (A.to_string(), 8_000)]);
        store.clear_wait(A, RemediationKind::NotebookFix).unwrap();
        store.clear_wait(C, RemediationKind::NotebookFix).unwrap();
        assert_eq!(store.waits().unwrap().len(), 1);
        store.ping().unwrap();
    });
}

#[test]
fn approvals_supersede_expire_and_are_used_once() {
    both(|store| {
        let request = |fingerprint: &str, at: Millis| NewApproval {
            resource: notebook(A),
            controls: vec![ControlId::SageMaker3],
            kind: RemediationKind::NotebookFix,
            plan: json!({"root_access": "Disabled"}),
            fingerprint: fingerprint.into(),
            requested_at: at,
            expires_at: at + 1_000,
        };
        let first = store
            .request_approval(&request("p1", 1_000), &[notice("asked", 1_000)])
            .unwrap();
        let second = store.request_approval(&request("p2", 1_100), &[]).unwrap();
        assert!(second.id > first.id);
        assert_eq!(
            store.approval(first.id).unwrap().unwrap().state,
            ApprovalState::Superseded
        );
        assert_eq!(
            store
                .latest_approval(A, RemediationKind::NotebookFix)
                .unwrap()
                .unwrap()
                .id,
            second.id
        );
        assert_eq!(
            store
                .latest_approval(A, RemediationKind::EndpointReplace)
                .unwrap(),
            None
        );
        assert!(matches!(
            store.decide_approval(first.id, Verdict::Approve, "ana", "ok", 1_200),
            Err(StoreError::Conflict { .. })
        ));
        let approved = store
            .decide_approval(second.id, Verdict::Approve, "ana", "ok", 1_200)
            .unwrap();
        assert_eq!(approved.state, ApprovalState::Approved);
        assert_eq!(approved.decided_by.as_deref(), Some("ana"));
        store.use_approval(second.id, 42).unwrap();
        assert!(matches!(
            store.use_approval(second.id, 43),
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(
            store.approval(second.id).unwrap().unwrap().remediation_id,
            Some(42)
        );

        // A used approval is not superseded by the next request; an expired one is marked.
        let third = store.request_approval(&request("p3", 5_000), &[]).unwrap();
        assert_eq!(
            store.approval(second.id).unwrap().unwrap().state,
            ApprovalState::Approved
        );
        assert!(matches!(
            store.decide_approval(third.id, Verdict::Reject, "bo", "no", 7_000),
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(
            store.approval(third.id).unwrap().unwrap().state,
            ApprovalState::Expired
        );
        store.expire_approval(third.id).unwrap();
        assert!(matches!(
            store.decide_approval(999_999, Verdict::Reject, "bo", "no", 7_000),
            Err(StoreError::NotFound { .. })
        ));
        let ids = |state| -> Vec<i64> {
            store
                .approvals(state, 10)
                .unwrap()
                .iter()
                .map(|a| a.id)
                .collect()
        };
        assert_eq!(ids(None), vec![third.id, second.id, first.id]);
        assert_eq!(ids(Some(ApprovalState::Approved)), vec![second.id]);
        assert_eq!(store.approvals(None, 1).unwrap().len(), 1);
        assert_eq!(store.outbox_len(Channel::Events).unwrap(), 1);
    });
}

#[test]
fn racing_writers_coalesce_and_exactly_one_takes_a_claim() {
    both(|store| {
        std::thread::scope(|scope| {
            for t in 0..4 {
                scope.spawn(move || {
                    for i in 0..5 {
                        let event = format!("t{t}-{i}");
                        store
                            .enqueue(&[trigger(A, None, &[], &event)], 1_000)
                            .unwrap();
                    }
                });
            }
        });
        let due = store.due(1_000, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].generation, 20, "every trigger counted once");

        let winners: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..6)
                .map(|t| {
                    scope.spawn(move || {
                        store
                            .claim(B, &format!("owner-{t}"), 1_000, 60_000)
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(winners.iter().filter(|w| **w).count(), 1, "{winners:?}");
    });
}

#[test]
fn the_dynamodb_store_works_from_every_kind_of_caller() {
    let store = Arc::new(dynamo());
    // A worker of a multi-threaded runtime (the daemon).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s = store.clone();
    rt.block_on(async move {
        tokio::spawn(async move { s.enqueue(&[trigger(A, None, &[], "mt")], 1).unwrap() })
            .await
            .unwrap()
    });
    // A current-thread runtime (a `#[tokio::test]`).
    let ct = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    ct.block_on(async { store.enqueue(&[trigger(B, None, &[], "ct")], 1).unwrap() });
    assert_eq!(store.pending_count().unwrap(), 2);
    // Dropped inside a runtime: no panic.
    rt.block_on(async move { drop(store) });
}

#[test]
fn a_missing_or_foreign_table_is_a_clear_error() {
    let client = client();
    let missing = DynamoStore::open(client.clone(), "no-such-table", 90).unwrap_err();
    let text = missing.to_string();
    assert!(
        text.contains("no-such-table") && text.contains("store init"),
        "{text}"
    );

    // A table with other keys.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use aws_sdk_dynamodb::types::*;
        client
            .create_table()
            .table_name("foreign")
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    });
    let foreign = DynamoStore::open(client.clone(), "foreign", 90)
        .unwrap_err()
        .to_string();
    assert!(
        foreign.contains("not made by `sagemaker-remediator store init`"),
        "{foreign}"
    );
    // init on an existing table of ours checks it.
    let table = format!("again-{}", std::process::id());
    assert_eq!(init(&client, &table), TableInit::Created);
    assert_eq!(init(&client, &table), TableInit::Existed);
}
