//! Unit tests of the reconciler and the scheduler: a hand-written fake SageMaker (statuses and
//! transitions only, no wire protocol), a real SQLite store in a temporary directory, and
//! tokio's paused clock, so waits of minutes take no time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use super::*;
use crate::aws::sagemaker::Listed;
use crate::aws::AccountNotConfigured;
use crate::config::{AccountConfig, Mode};
use crate::events::{Family, Trigger};
use crate::model::{Arn, Endpoint, EndpointConfig, Image, Model, Notebook, NotebookStatus};
use crate::shutdown;
use crate::store::{Hold, SqliteStore};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";

fn arn(name: &str) -> String {
    format!("arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/{name}")
}

struct FakeNotebook {
    status: NotebookStatus,
    root_access: String,
    /// The status a transition under way ends in, and how many Describes it still takes.
    pending: Option<(NotebookStatus, u32)>,
}

#[derive(Default)]
struct FakeState {
    notebooks: BTreeMap<String, FakeNotebook>,
    calls: BTreeMap<&'static str, u32>,
    /// Errors for the next calls of an operation, in order.
    next_errors: BTreeMap<&'static str, VecDeque<ErrorClass>>,
    /// An error for every call of an operation.
    always: BTreeMap<&'static str, ErrorClass>,
    /// Describes a transition takes.
    transition_describes: u32,
    /// Tags added by the code under test, by ARN (every resource also has `owner`).
    tags: BTreeMap<String, BTreeMap<String, String>>,
}

/// A fake SageMaker that knows notebook statuses and nothing else.
#[derive(Clone, Default)]
struct Fake(Arc<Mutex<FakeState>>);

impl Fake {
    fn new(transition_describes: u32) -> Fake {
        let fake = Fake::default();
        fake.state().transition_describes = transition_describes;
        fake
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.0.lock().unwrap()
    }

    fn add(&self, name: &str, status: NotebookStatus, root_access: &str) {
        self.state().notebooks.insert(
            name.to_string(),
            FakeNotebook {
                status,
                root_access: root_access.to_string(),
                pending: None,
            },
        );
    }

    fn calls(&self, op: &str) -> u32 {
        self.state().calls.get(op).copied().unwrap_or(0)
    }

    fn status(&self, name: &str) -> (NotebookStatus, String) {
        let state = self.state();
        let nb = &state.notebooks[name];
        (nb.status.clone(), nb.root_access.clone())
    }

    /// Counts the call and answers with an injected error, if one is due.
    fn enter(&self, op: &'static str, name: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        *state.calls.entry(op).or_default() += 1;
        let injected = match state.next_errors.get_mut(op).and_then(VecDeque::pop_front) {
            Some(class) => Some(class),
            None => state.always.get(op).copied(),
        };
        match injected {
            Some(class) => Err(error(op, name, class)),
            None => Ok(()),
        }
    }

    /// A transition from one of `from` to `via`, ending in `to`.
    fn transition(
        &self,
        op: &'static str,
        name: &str,
        from: &[NotebookStatus],
        via: NotebookStatus,
        to: NotebookStatus,
    ) -> Result<(), AwsError> {
        self.enter(op, name)?;
        let mut state = self.state();
        let describes = state.transition_describes;
        let nb = state
            .notebooks
            .get_mut(name)
            .ok_or_else(|| error(op, name, ErrorClass::NotFound))?;
        if !from.contains(&nb.status) {
            return Err(error(op, name, ErrorClass::WrongState));
        }
        nb.status = via;
        nb.pending = Some((to, describes));
        Ok(())
    }
}

fn error(op: &'static str, name: &str, class: ErrorClass) -> AwsError {
    AwsError {
        operation: op,
        resource: Some(name.to_string()),
        class,
        code: None,
        message: format!("injected {class}"),
    }
}

impl SageMakerApi for Fake {
    async fn list_notebooks(&self) -> Result<Vec<Listed>, AwsError> {
        self.enter("ListNotebookInstances", "")?;
        let names: Vec<String> = self.state().notebooks.keys().cloned().collect();
        Ok(names
            .into_iter()
            .map(|name| Listed {
                arn: arn(&name).into(),
                name,
                version: None,
            })
            .collect())
    }

    async fn describe_notebook(&self, name: &str) -> Result<Notebook, AwsError> {
        self.enter("DescribeNotebookInstance", name)?;
        let mut state = self.state();
        let nb = state
            .notebooks
            .get_mut(name)
            .ok_or_else(|| error("DescribeNotebookInstance", name, ErrorClass::NotFound))?;
        if let Some((to, left)) = nb.pending.take() {
            if left <= 1 {
                nb.status = to;
            } else {
                nb.pending = Some((to, left - 1));
            }
        }
        Ok(Notebook {
            status: nb.status.clone(),
            direct_internet_access: Some("Disabled".into()),
            subnet_id: Some("subnet-1".into()),
            security_group_ids: vec!["sg-1".into()],
            root_access: Some(nb.root_access.clone()),
            platform_identifier: Some("notebook-al2023-v1".into()),
            instance_type: Some("ml.t3.medium".into()),
            role_arn: Some(format!("arn:aws:iam::{ACCOUNT}:role/notebook")),
            kms_key_id: None,
            volume_size_gb: Some(5),
        })
    }

    async fn list_endpoint_configs(&self) -> Result<Vec<Listed>, AwsError> {
        Ok(Vec::new())
    }

    async fn describe_endpoint_config(&self, name: &str) -> Result<EndpointConfig, AwsError> {
        Err(error("DescribeEndpointConfig", name, ErrorClass::NotFound))
    }

    async fn list_models(&self) -> Result<Vec<Listed>, AwsError> {
        Ok(Vec::new())
    }

    async fn describe_model(&self, name: &str) -> Result<Model, AwsError> {
        Err(error("DescribeModel", name, ErrorClass::NotFound))
    }

    async fn list_images(&self) -> Result<Vec<(Listed, Image)>, AwsError> {
        Ok(Vec::new())
    }

    async fn list_app_image_configs(&self) -> Result<Vec<Listed>, AwsError> {
        Ok(Vec::new())
    }

    async fn list_tags(&self, arn: &str) -> Result<Vec<Tag>, AwsError> {
        self.enter("ListTags", arn)?;
        let mut tags = vec![Tag::new("owner", "data-science")];
        if let Some(added) = self.state().tags.get(arn) {
            tags.extend(added.iter().map(|(k, v)| Tag::new(k, v)));
        }
        Ok(tags)
    }

    async fn stop_notebook(&self, name: &str) -> Result<(), AwsError> {
        use NotebookStatus as S;
        self.transition(
            "StopNotebookInstance",
            name,
            &[S::InService],
            S::Stopping,
            S::Stopped,
        )
    }

    async fn start_notebook(&self, name: &str) -> Result<(), AwsError> {
        use NotebookStatus as S;
        self.transition(
            "StartNotebookInstance",
            name,
            &[S::Stopped, S::Failed],
            S::Pending,
            S::InService,
        )
    }

    async fn update_notebook(
        &self,
        name: &str,
        disable_root_access: bool,
        _platform: Option<&str>,
    ) -> Result<(), AwsError> {
        use NotebookStatus as S;
        self.transition(
            "UpdateNotebookInstance",
            name,
            &[S::Stopped, S::Failed],
            S::Updating,
            S::Stopped,
        )?;
        if disable_root_access {
            if let Some(nb) = self.state().notebooks.get_mut(name) {
                nb.root_access = "Disabled".into();
            }
        }
        Ok(())
    }

    async fn add_tags(&self, arn: &str, tags: &[Tag]) -> Result<(), AwsError> {
        self.enter("AddTags", arn)?;
        let mut state = self.state();
        let added = state.tags.entry(arn.to_string()).or_default();
        for t in tags {
            added.insert(t.key.clone(), t.value.clone());
        }
        Ok(())
    }

    async fn delete_tags(&self, arn: &str, keys: &[&str]) -> Result<(), AwsError> {
        self.enter("DeleteTags", arn)?;
        if let Some(added) = self.state().tags.get_mut(arn) {
            added.retain(|k, _| !keys.contains(&k.as_str()));
        }
        Ok(())
    }

    // Endpoints are not modelled here: the replacement runs against the simulator in the
    // integration tests.
    async fn endpoint_config_arn(&self, _: &str) -> Result<Option<Arn>, AwsError> {
        Ok(None)
    }

    async fn list_endpoints(&self) -> Result<Vec<Listed>, AwsError> {
        Ok(Vec::new())
    }

    async fn describe_endpoint(&self, name: &str) -> Result<Endpoint, AwsError> {
        Err(error("DescribeEndpoint", name, ErrorClass::NotFound))
    }

    async fn copy_endpoint_config(
        &self,
        _: &str,
        target: &str,
        _: i32,
        _: &[Tag],
    ) -> Result<Arn, AwsError> {
        Err(error("CreateEndpointConfig", target, ErrorClass::Invalid))
    }

    async fn update_endpoint(&self, name: &str, _: &str, _: &[String]) -> Result<(), AwsError> {
        Err(error("UpdateEndpoint", name, ErrorClass::Invalid))
    }

    async fn hub_parameters(&self) -> Result<crate::aws::hub_params::HubParameters, AwsError> {
        Ok(crate::aws::hub_params::HubParameters::default())
    }
}

/// Hands out the fake for the one configured account.
struct FakeClients(Fake);

impl ClientFactory for FakeClients {
    type Api = Fake;

    async fn sagemaker(&self, account: &str, _region: &str) -> Result<Fake, AccountNotConfigured> {
        if account == ACCOUNT {
            Ok(self.0.clone())
        } else {
            Err(AccountNotConfigured {
                account: account.to_string(),
            })
        }
    }
}

fn config() -> Config {
    let mut config = Config {
        mode: Mode::Enforce,
        accounts: vec![AccountConfig {
            id: ACCOUNT.to_string(),
            enforce: true,
            regions: vec![REGION.to_string()],
            ..AccountConfig::default()
        }],
        ..Config::default()
    };
    config.remediation.poll_interval_secs = 1;
    config.remediation.max_poll_interval_secs = 1;
    config.daemon.claim_ttl_secs = 6;
    // Many fixes at once here; the limits have their own test.
    config.limits.notebook_fixes_per_hour = 10_000;
    config.limits.notebook_fixes_at_once = 1_000;
    config.daemon.shutdown_grace_secs = 5;
    config
}

type Ctx = Arc<Context<SqliteStore, FakeClients>>;

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    fake: Fake,
    config: Config,
}

impl Harness {
    fn new(transition_describes: u32) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("journal.db")).unwrap());
        Harness {
            _dir: dir,
            store,
            fake: Fake::new(transition_describes),
            config: config(),
        }
    }

    fn context(&self, owner: &str, shutdown: Shutdown) -> Ctx {
        Arc::new(Context {
            store: self.store.clone(),
            config: Arc::new(self.config.clone()),
            metrics: Arc::new(Metrics::new()),
            clients: FakeClients(self.fake.clone()),
            clock: Clock::tokio(),
            owner: owner.to_string(),
            shutdown,
            observer: None,
            wake: Arc::new(Notify::new()),
            outbox: crate::notify::Outbox {
                events: Some(Arc::new(Notify::new())),
                ..Default::default()
            },
            hub: Default::default(),
            terraform: Default::default(),
            full_sweep: Default::default(),
            starts: Default::default(),
        })
    }

    fn trigger(&self, ctx: &Ctx, name: &str, event: &str) {
        let trigger = Trigger {
            account: ACCOUNT.to_string(),
            region: REGION.to_string(),
            resource_type: ResourceType::NotebookInstance,
            arn: arn(name),
            name: Some(name.to_string()),
            family: Family::SecurityHub,
            event_id: event.to_string(),
            controls: vec![ControlId::SageMaker3],
        };
        self.store.enqueue(&[trigger], ctx.now()).unwrap();
        ctx.wake.notify_one();
    }

    fn journal(&self, name: &str) -> Vec<crate::store::Remediation> {
        self.store.remediations(Some(&arn(name)), 100).unwrap()
    }
}

/// A scheduler running on the harness's store.
struct Running {
    ctx: Ctx,
    stop: shutdown::Sender,
    scheduler: tokio::task::JoinHandle<Result<(), StoreError>>,
}

impl Harness {
    /// Starts a scheduler as replica `owner`.
    fn start(&self, owner: &str) -> Running {
        let (stop, shutdown) = shutdown::channel();
        let ctx = self.context(owner, shutdown);
        let scheduler = tokio::spawn(run_scheduler(ctx.clone()));
        Running {
            ctx,
            stop,
            scheduler,
        }
    }

    /// (Stop, Update, Start) calls so far.
    fn fix_calls(&self) -> (u32, u32, u32) {
        (
            self.fake.calls(STOP),
            self.fake.calls(UPDATE),
            self.fake.calls(START),
        )
    }
}

impl Running {
    /// Requests shutdown and waits for the scheduler to return.
    async fn stop(self) {
        self.stop.fire();
        self.scheduler.await.unwrap().unwrap();
    }
}

/// Waits (in paused time) until `done` holds, at most `within` of tokio time.
async fn until(within: Duration, what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn finished(h: &Harness, name: &str, status: RemediationStatus) -> bool {
    h.journal(name).iter().any(|r| r.status == status)
}

/// The outbox: (detail-type, journal entry, detail `outcome` and `reason`) of every notice.
fn outbox(h: &Harness) -> Vec<(String, Option<i64>, String)> {
    h.store
        .outbox_due(crate::store::Channel::Events, i64::MAX, 100)
        .unwrap()
        .into_iter()
        .map(|e| {
            let d = &e.notice.detail;
            let reason = d["reason"].as_str().unwrap_or("-");
            (
                e.notice.detail_type,
                e.remediation_id,
                format!("{} {reason}", d["outcome"].as_str().unwrap()),
            )
        })
        .collect()
}

const STOP: &str = "StopNotebookInstance";
const UPDATE: &str = "UpdateNotebookInstance";
const START: &str = "StartNotebookInstance";
const DESCRIBE: &str = "DescribeNotebookInstance";

#[tokio::test(start_paused = true)]
async fn a_fix_makes_one_stop_update_and_start_and_gives_its_claim_back() {
    let h = Harness::new(3);
    h.fake.add("nb", NotebookStatus::InService, "Enabled");
    let run = h.start("a");
    let ctx = &run.ctx;
    h.trigger(ctx, "nb", "e1");
    until(Duration::from_secs(120), "the fix", || {
        finished(&h, "nb", RemediationStatus::Succeeded)
    })
    .await;
    assert_eq!(h.fix_calls(), (1, 1, 1));
    assert_eq!(
        h.fake.status("nb"),
        (NotebookStatus::InService, "Disabled".into())
    );
    until(Duration::from_secs(5), "the claim released", || {
        h.store.claim_holder(&arn("nb")).unwrap().is_none()
    })
    .await;
    assert_eq!(h.store.pending_count().unwrap(), 0);
    let id = Some(h.journal("nb")[0].id);
    assert_eq!(
        outbox(&h),
        [
            (
                "Remediation Planned".to_string(),
                id,
                "planned -".to_string()
            ),
            (
                "Remediation Succeeded".to_string(),
                id,
                "succeeded fixed".to_string()
            ),
        ]
    );
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn triggers_for_one_resource_coalesce_into_one_reconcile() {
    let h = Harness::new(1);
    h.fake.add("quiet", NotebookStatus::InService, "Disabled");
    let run = h.start("a");
    let ctx = &run.ctx;
    // No await between them: the scheduler sees all ten at once.
    for i in 0..10 {
        h.trigger(ctx, "quiet", &format!("e{i}"));
    }
    until(Duration::from_secs(30), "the queue drained", || {
        h.store.pending_count().unwrap() == 0
    })
    .await;
    assert_eq!(h.fake.calls(DESCRIBE), 1, "one reconcile for ten triggers");
    assert_eq!(
        ctx.metrics.get("smr_reconciles_total", &[("result", "ok")]),
        1.0
    );
    run.stop().await;
}

/// The pending row of `name`: (failed attempts, delay until it is due), read at `now`.
fn backoff_of(h: &Harness, ctx: &Ctx, name: &str) -> Option<(u32, Duration)> {
    let now = ctx.now();
    h.store
        .due(i64::MAX, 100)
        .unwrap()
        .into_iter()
        .find(|p| p.trigger.arn == arn(name))
        .map(|p| {
            let left = u64::try_from(p.not_before - now).unwrap_or(0);
            (p.attempts, Duration::from_millis(left))
        })
}

#[tokio::test(start_paused = true)]
async fn transient_errors_back_off_doubling_and_a_success_ends_it() {
    let h = Harness::new(1);
    h.fake.add("flaky", NotebookStatus::InService, "Disabled");
    h.fake
        .state()
        .always
        .insert(DESCRIBE, ErrorClass::Transient);
    let run = h.start("a");
    let ctx = &run.ctx;
    h.trigger(ctx, "flaky", "e1");
    until(Duration::from_secs(2), "the first failure", || {
        backoff_of(&h, ctx, "flaky").is_some_and(|(a, _)| a == 1)
    })
    .await;
    let (_, delay) = backoff_of(&h, ctx, "flaky").unwrap();
    assert!(
        delay <= Duration::from_secs(5) && delay > Duration::from_secs(4),
        "{delay:?}"
    );
    until(Duration::from_secs(10), "the second failure", || {
        backoff_of(&h, ctx, "flaky").is_some_and(|(a, _)| a == 2)
    })
    .await;
    let (_, delay) = backoff_of(&h, ctx, "flaky").unwrap();
    assert!(
        delay <= Duration::from_secs(10) && delay > Duration::from_secs(9),
        "{delay:?}"
    );
    h.fake.state().always.clear();
    until(Duration::from_secs(30), "the success", || {
        h.store.pending_count().unwrap() == 0
    })
    .await;
    assert_eq!(h.fake.calls(DESCRIBE), 3);
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_waits_the_maximum_backoff_at_once() {
    let h = Harness::new(1);
    h.fake.add("denied", NotebookStatus::InService, "Disabled");
    h.fake
        .state()
        .always
        .insert(DESCRIBE, ErrorClass::AccessDenied);
    let run = h.start("a");
    let ctx = &run.ctx;
    h.trigger(ctx, "denied", "e1");
    until(Duration::from_secs(2), "the failure", || {
        backoff_of(&h, ctx, "denied").is_some_and(|(a, _)| a == 1)
    })
    .await;
    let (_, delay) = backoff_of(&h, ctx, "denied").unwrap();
    assert!(delay > Duration::from_secs(899), "{delay:?}");
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_waiting_fix_holds_no_claim_and_is_continued_from_the_journal() {
    // Each transition takes 20 polls of 1 s: far longer than the 6 s claim.
    let h = Harness::new(20);
    h.fake.add("slow", NotebookStatus::InService, "Enabled");
    let run = h.start("a");
    let ctx = &run.ctx;
    h.trigger(ctx, "slow", "e1");
    until(Duration::from_secs(5), "the Stop", || {
        h.fake.calls(STOP) == 1
    })
    .await;
    // Between two looks the fix is a requeue: no claim is held (or it has been given back),
    // and the journal says what it waits for.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = h.store.claim_holder(&arn("slow")).unwrap();
    assert!(held.is_none(), "a waiting fix holds no claim: {held:?}");
    let running = h.store.unfinished_for(&arn("slow")).unwrap().unwrap();
    assert_eq!(
        running.state["waiting"]["owner"], "a",
        "{:#?}",
        running.state
    );
    assert!(running.state["waiting"]["reason"].as_str().is_some());
    until(Duration::from_secs(300), "the fix", || {
        finished(&h, "slow", RemediationStatus::Succeeded)
    })
    .await;
    assert_eq!(h.fix_calls(), (1, 1, 1));
    let journal = h.journal("slow");
    let steps: Vec<&str> = journal[0].steps.iter().map(|s| s.step.as_str()).collect();
    assert!(
        !steps.contains(&"Resume"),
        "its own waits are not resumptions: {steps:?}"
    );
    let waits = steps.iter().filter(|s| **s == "Wait").count();
    assert!(
        waits <= 3,
        "each wait journaled once, not per look: {steps:?}"
    );
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn with_one_reconcile_slot_every_fix_waits_at_once() {
    // 12 notebooks, each transition 5 polls, and a single slot: were the waits held inside a
    // reconcile, the fixes would run one after the other (each Stop after the last Start).
    let mut h = Harness::new(5);
    h.config.daemon.reconcile_concurrency = 1;
    let names: Vec<String> = (0..12).map(|i| format!("nb-{i:02}")).collect();
    for name in &names {
        h.fake.add(name, NotebookStatus::InService, "Enabled");
    }
    let run = h.start("a");
    for name in &names {
        h.trigger(&run.ctx, name, &format!("e-{name}"));
    }
    until(Duration::from_secs(60), "every Stop", || {
        h.fake.calls(STOP) == 12
    })
    .await;
    assert_eq!(
        h.fake.calls(START),
        0,
        "every fix stopped its notebook before any started"
    );
    until(Duration::from_secs(600), "every fix", || {
        names
            .iter()
            .all(|n| finished(&h, n, RemediationStatus::Succeeded))
    })
    .await;
    assert_eq!(h.fix_calls(), (12, 12, 12));
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_pauses_a_fix_at_a_step_boundary_and_the_next_start_resumes_it() {
    let h = Harness::new(10);
    h.fake.add("paused", NotebookStatus::InService, "Enabled");
    let first = h.start("first");
    h.trigger(&first.ctx, "paused", "e1");
    until(Duration::from_secs(5), "the Stop", || {
        h.fake.calls(STOP) == 1
    })
    .await;
    first.stop().await;
    let journal = h.journal("paused");
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].status, RemediationStatus::Running);
    // Stopped in a reconcile (a Pause at the step boundary) or between two (a Wait).
    assert!(
        journal[0]
            .steps
            .iter()
            .any(|s| s.step == "Pause" || s.step == "Wait"),
        "{journal:#?}"
    );
    assert_eq!(h.store.claim_holder(&arn("paused")).unwrap(), None);

    let run = h.start("second");
    until(Duration::from_secs(300), "the resumed fix", || {
        finished(&h, "paused", RemediationStatus::Succeeded)
    })
    .await;
    let journal = h.journal("paused");
    assert_eq!(journal.len(), 1, "resumed, not started again");
    assert!(journal[0].steps.iter().any(|s| s.step == "Resume"));
    assert_eq!(h.fix_calls(), (1, 1, 1));
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_denied_update_fails_once_and_later_triggers_do_not_repeat_it() {
    let h = Harness::new(1);
    h.fake.add("scp", NotebookStatus::InService, "Enabled");
    h.fake
        .state()
        .always
        .insert(UPDATE, ErrorClass::AccessDenied);
    let run = h.start("a");
    let ctx = &run.ctx;
    h.trigger(ctx, "scp", "e1");
    until(Duration::from_secs(60), "the failure", || {
        finished(&h, "scp", RemediationStatus::Failed)
    })
    .await;
    for i in 2..12 {
        h.trigger(ctx, "scp", &format!("e{i}"));
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    assert_eq!(h.fix_calls(), (1, 1, 1));
    assert_eq!(
        h.fake.status("scp").0,
        NotebookStatus::InService,
        "restored"
    );
    assert_eq!(h.journal("scp").len(), 1);
    let failure = h
        .store
        .failure(&arn("scp"), RemediationKind::NotebookFix)
        .unwrap()
        .unwrap();
    assert_eq!(failure.hold, Hold::NeedsPerson);
    let notices: Vec<(String, Option<i64>)> =
        outbox(&h).into_iter().map(|(t, id, _)| (t, id)).collect();
    let id = Some(h.journal("scp")[0].id);
    assert_eq!(
        notices,
        [
            ("Remediation Planned".to_string(), id),
            ("Remediation Failed".to_string(), id),
        ],
        "one failure, announced once"
    );
    assert!(
        ctx.metrics
            .get("smr_remediations_held_total", &[("reason", "needs-person")])
            >= 10.0
    );
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn throttled_describes_while_a_fix_waits_are_retried_in_the_fix() {
    let h = Harness::new(2);
    h.fake
        .add("throttled", NotebookStatus::InService, "Enabled");
    let run = h.start("a");
    let ctx = &run.ctx;
    h.trigger(ctx, "throttled", "e1");
    until(Duration::from_secs(5), "the Stop", || {
        h.fake.calls(STOP) == 1
    })
    .await;
    h.fake
        .state()
        .next_errors
        .insert(DESCRIBE, VecDeque::from(vec![ErrorClass::Throttled; 5]));
    until(Duration::from_secs(120), "the fix", || {
        finished(&h, "throttled", RemediationStatus::Succeeded)
    })
    .await;
    assert_eq!(
        ctx.metrics
            .get("smr_reconciles_total", &[("result", "error")]),
        0.0,
        "never a failed reconcile"
    );
    assert_eq!(
        ctx.metrics.get(
            "smr_workflow_retries_total",
            &[("operation", DESCRIBE), ("class", "throttled")]
        ),
        5.0
    );
    assert_eq!(h.journal("throttled").len(), 1);
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_resource_of_an_unknown_account_fails_permanently() {
    let h = Harness::new(1);
    let run = h.start("a");
    let ctx = &run.ctx;
    let trigger = Trigger {
        account: "999999999999".to_string(),
        region: REGION.to_string(),
        resource_type: ResourceType::NotebookInstance,
        arn: "arn:aws:sagemaker:eu-west-1:999999999999:notebook-instance/x".to_string(),
        name: Some("x".to_string()),
        family: Family::Sweep,
        event_id: "e".to_string(),
        controls: vec![],
    };
    h.store.enqueue(&[trigger], ctx.now()).unwrap();
    ctx.wake.notify_one();
    until(Duration::from_secs(2), "the failure", || {
        ctx.metrics
            .get("smr_reconciles_total", &[("result", "error")])
            == 1.0
    })
    .await;
    let pending = h.store.due(i64::MAX, 10).unwrap();
    assert_eq!(pending[0].attempts, 1);
    assert!(pending[0].not_before - ctx.now() > 899_000);
    run.stop().await;
}

#[test]
fn a_fix_record_written_now_reads_back_and_older_rows_still_load() {
    use super::notebook_fix::FixRecord;
    let plan = NotebookPlan {
        disable_root_access: true,
        platform: None,
    };
    let mut state = NotebookState::new(5);
    state.stop_sent = true;
    let written = FixRecord::json(&plan, &state, None);
    assert_eq!(written["version"], 1);
    let back = FixRecord::read(&written).unwrap();
    assert_eq!((back.plan, back.state), (plan.clone(), state));
    // A row from before the version tag and the newer state fields.
    let old = serde_json::json!({
        "plan": { "disable_root_access": true, "platform": null },
        "state": { "phase": "Stopping", "prior_status": "InService", "restart": true,
                   "update_attempts": 0, "start_attempts": 0, "stop_attempts": 1,
                   "phase_since": 5, "failure": null, "outcome": null }
    });
    let back = FixRecord::read(&old).unwrap();
    assert_eq!(back.version, 1);
    assert_eq!(back.plan, plan);
    assert!(!back.state.stop_sent);
    // A newer release's row is refused with a clear reason, not misread.
    let mut newer = written.clone();
    newer["version"] = serde_json::json!(2);
    assert!(FixRecord::read(&newer)
        .unwrap_err()
        .contains("newer release"));
    assert!(FixRecord::read(&serde_json::json!({ "plan": 1 })).is_err());
}

/// The approval requests of `name`: (state, at `now`).
fn requests_of(h: &Harness, now: Millis) -> Vec<String> {
    let mut all = h.store.approvals(None, 100).unwrap();
    all.reverse();
    all.iter()
        .map(|a| crate::approvals::state_at(a, now).to_string())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn approval_requests_expire_rejections_hold_until_the_reask_and_an_approval_runs_once() {
    use crate::store::Verdict;
    let mut h = Harness::new(1);
    h.config
        .actions
        .insert(ControlId::SageMaker3, crate::config::Action::Approve);
    h.config.approvals.expiry_hours = 1;
    h.config.approvals.reask_after_hours = 2;
    h.fake.add("gated", NotebookStatus::InService, "Enabled");
    let run = h.start("a");
    let ctx = &run.ctx;
    let settle = || tokio::time::sleep(Duration::from_secs(5));

    h.trigger(ctx, "gated", "e1");
    settle().await;
    assert_eq!(requests_of(&h, ctx.now()), ["pending"]);
    h.trigger(ctx, "gated", "e2");
    settle().await;
    assert_eq!(requests_of(&h, ctx.now()), ["pending"], "asked once");

    // Nobody decided within the hour: the next trigger records that and asks again.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    h.trigger(ctx, "gated", "e3");
    settle().await;
    assert_eq!(requests_of(&h, ctx.now()), ["expired", "pending"]);
    let second = h.store.approvals(None, 1).unwrap()[0].id;
    let first = second - 1;
    let late = crate::approvals::decide(&*h.store, first, Verdict::Approve, "x", "late", ctx.now());
    assert!(matches!(late, Err(StoreError::Conflict { .. })), "{late:?}");

    // Rejected: held while the re-ask interval runs, asked again after it.
    crate::approvals::decide(
        &*h.store,
        second,
        Verdict::Reject,
        "carol",
        "not now",
        ctx.now(),
    )
    .unwrap();
    settle().await;
    h.trigger(ctx, "gated", "e4");
    settle().await;
    assert_eq!(requests_of(&h, ctx.now()), ["expired", "rejected"]);
    tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
    h.trigger(ctx, "gated", "e5");
    settle().await;
    assert_eq!(
        requests_of(&h, ctx.now()),
        ["expired", "rejected", "pending"]
    );
    assert_eq!(h.fix_calls(), (0, 0, 0), "nothing without an approval");
    assert!(h.journal("gated").is_empty());

    // Approved: one fix, and the approval is used up.
    let third = h.store.approvals(None, 1).unwrap()[0].id;
    crate::approvals::decide(&*h.store, third, Verdict::Approve, "dave", "go", ctx.now()).unwrap();
    until(Duration::from_secs(120), "the approved fix", || {
        finished(&h, "gated", RemediationStatus::Succeeded)
    })
    .await;
    assert_eq!(h.fix_calls(), (1, 1, 1));
    let used = h.store.approval(third).unwrap().unwrap();
    assert_eq!(used.remediation_id, Some(h.journal("gated")[0].id));
    let kinds: Vec<String> = outbox(&h).into_iter().map(|(t, _, _)| t).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|t| *t == "Remediation Pending Approval")
            .count(),
        3,
        "{kinds:?}"
    );
    run.stop().await;
}

/// Triggers the notebook "stopped" and waits for its fix: a stopped notebook is not disrupted,
/// so no window or notice holds it.
async fn stopped_one_is_fixed_at_once(h: &Harness, ctx: &Ctx) {
    h.trigger(ctx, "stopped", "e2");
    until(
        Duration::from_secs(60),
        "the stopped notebook's fix",
        || finished(h, "stopped", RemediationStatus::Succeeded),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_fix_outside_its_maintenance_window_waits_and_runs_when_the_window_opens() {
    let mut h = Harness::new(1);
    // A daily window in UTC from two hours from now, for an hour.
    let now = Clock::tokio().now();
    let hhmm = |ms: Millis| {
        let t = jiff::Timestamp::from_millisecond(ms)
            .unwrap()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC);
        format!("{:02}:{:02}", t.hour(), t.minute())
    };
    let start = now + 2 * 3_600_000;
    h.config.windows = vec![crate::config::MaintenanceWindow {
        when: format!("{}-{}", hhmm(start), hhmm(start + 3_600_000)),
        ..Default::default()
    }];
    h.fake.add("windowed", NotebookStatus::InService, "Enabled");
    h.fake.add("stopped", NotebookStatus::Stopped, "Enabled");
    let run = h.start("a");
    let ctx = &run.ctx;
    h.trigger(ctx, "windowed", "e1");
    stopped_one_is_fixed_at_once(&h, ctx).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(h.journal("windowed").is_empty());
    assert_eq!(h.fake.calls(STOP), 0, "nothing stopped outside the window");
    // The wait is recorded with the window's start (rounded down to the minute), for
    // `remediations`; the stopped notebook never waited.
    let waits = h.store.waits().unwrap();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0].resource.arn, arn("windowed"));
    assert_eq!(waits[0].reason, "maintenance-window");
    assert!(
        (start - 60_000..=start).contains(&waits[0].until),
        "{waits:?}"
    );
    assert!(
        ctx.metrics.get(
            "smr_remediations_held_total",
            &[("reason", "maintenance-window")]
        ) >= 1.0
    );
    // Within a minute of the window opening (the start is rounded down to the minute).
    tokio::time::sleep(Duration::from_secs(2 * 3600 - 120)).await;
    assert!(h.journal("windowed").is_empty());
    until(Duration::from_secs(300), "the fix in the window", || {
        finished(&h, "windowed", RemediationStatus::Succeeded)
    })
    .await;
    assert_eq!(h.fake.calls(STOP), 1);
    assert!(
        h.store.waits().unwrap().is_empty(),
        "the wait ends when the fix starts"
    );
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_running_notebook_gets_notice_before_its_stop_and_the_notice_goes_once_it_is_fixed() {
    let mut h = Harness::new(1);
    h.config.remediation.stop_notice_secs = 600;
    h.fake.add("noticed", NotebookStatus::InService, "Enabled");
    h.fake.add("stopped", NotebookStatus::Stopped, "Enabled");
    let run = h.start("a");
    let ctx = &run.ctx;
    let asked = ctx.now();
    h.trigger(ctx, "noticed", "e1");
    stopped_one_is_fixed_at_once(&h, ctx).await;
    until(Duration::from_secs(60), "the notice", || {
        !h.store.waits().unwrap().is_empty()
    })
    .await;
    // The running notebook is tagged with the planned stop time, told about, and not stopped.
    let scheduled = h.fake.state().tags[&arn("noticed")][waits::SCHEDULED_AT].clone();
    let at = scheduled
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    assert!(
        (asked + 600_000..=asked + 601_000).contains(&at),
        "{scheduled}"
    );
    assert!(
        !h.fake.state().tags.contains_key(&arn("stopped")),
        "a stopped one gets no notice"
    );
    let waits = h.store.waits().unwrap();
    assert_eq!(
        (waits[0].reason.as_str(), waits[0].until),
        ("stop-notice", at)
    );
    assert_eq!(
        outbox(&h)
            .iter()
            .filter(|(t, _, _)| t == "Remediation Scheduled")
            .count(),
        1
    );
    // More triggers during the notice neither stop it nor give notice again.
    tokio::time::sleep(Duration::from_secs(300)).await;
    h.trigger(ctx, "noticed", "e3");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(h.fake.calls(STOP), 0, "nothing stopped during the notice");
    assert_eq!(h.fake.calls("AddTags"), 1);
    // When the notice is over, its tag is removed and the fix runs.
    until(Duration::from_secs(600), "the fix after the notice", || {
        finished(&h, "noticed", RemediationStatus::Succeeded)
    })
    .await;
    assert!(ctx.now() >= at);
    assert_eq!((h.fake.calls(STOP), h.fake.calls("DeleteTags")), (1, 1));
    assert!(!h.fake.state().tags[&arn("noticed")].contains_key(waits::SCHEDULED_AT));
    assert!(h.store.waits().unwrap().is_empty());
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_hourly_limit_pauses_enforcement_in_the_account_until_the_next_hour() {
    let mut h = Harness::new(1);
    h.config.limits.notebook_fixes_per_hour = 2;
    h.config.limits.notebook_fixes_at_once = 1;
    for n in ["l1", "l2", "l3"] {
        h.fake.add(n, NotebookStatus::InService, "Enabled");
    }
    let run = h.start("a");
    let ctx = &run.ctx;
    // Start at the top of an hour, so the next hour is an hour away.
    let now = ctx.now();
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(3_600_000 - now.rem_euclid(3_600_000)).unwrap(),
    ))
    .await;
    for n in ["l1", "l2", "l3"] {
        h.trigger(ctx, n, n);
    }
    until(Duration::from_secs(600), "two fixes", || {
        ["l1", "l2", "l3"]
            .iter()
            .filter(|n| finished(&h, n, RemediationStatus::Succeeded))
            .count()
            == 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(h.fix_calls(), (2, 2, 2), "the third waits");
    let pause = h.store.pause(ACCOUNT).unwrap().unwrap();
    assert!(pause.reason.contains("enforcement paused"), "{pause:?}");
    assert_eq!(
        ctx.metrics
            .get("smr_enforcement_paused", &[("account", ACCOUNT)]),
        1.0
    );
    let kinds: Vec<String> = outbox(&h).into_iter().map(|(t, _, _)| t).collect();
    assert_eq!(
        kinds.iter().filter(|t| *t == "Enforcement Paused").count(),
        1,
        "{kinds:?}"
    );
    // The next hour: the third is fixed.
    until(Duration::from_secs(3700), "the third fix", || {
        h.fix_calls().0 == 3
    })
    .await;
    until(Duration::from_secs(300), "all fixed", || {
        ["l1", "l2", "l3"]
            .iter()
            .all(|n| finished(&h, n, RemediationStatus::Succeeded))
    })
    .await;
    run.stop().await;
}

#[test]
fn resuming_ends_a_pause_and_forgives_the_fixes_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    assert!(
        !limits::resume(&store, ACCOUNT, 1_000).unwrap(),
        "not paused"
    );
    store
        .save_pause(
            &crate::store::Pause {
                account: ACCOUNT.into(),
                until: 5_000,
                reason: "limit".into(),
                at: 500,
                resumed_at: None,
            },
            &[],
        )
        .unwrap();
    assert!(limits::resume(&store, ACCOUNT, 1_000).unwrap());
    assert_eq!(
        store.pause(ACCOUNT).unwrap().unwrap().resumed_at,
        Some(1_000)
    );
    assert!(
        !limits::resume(&store, ACCOUNT, 1_001).unwrap(),
        "resumed already"
    );
}
