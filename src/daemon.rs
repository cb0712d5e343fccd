//! `run`: assembles the long-running service — store, metrics and the operations endpoint,
//! SQS intake, periodic sweeps and the reconcile scheduler — and shuts it down gracefully.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use tokio::sync::Notify;

use crate::aws::Clients;
use crate::clock::Clock;
use crate::config::{Config, StoreKind};
use crate::http::{self, Ops, Readiness};
use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::notify::findings::Updater;
use crate::notify::sender::Sender;
use crate::notify::Outbox;
use crate::reconcile::{self, Context, StepObserver};
use crate::shutdown::{self, Shutdown};
use crate::store::{DaemonLock, DynamoStore, LockError, SqliteStore, Store, StoreError};
use crate::telemetry::{Exemptions, InternalEvent};

/// Why the daemon could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot open the store: {source}")]
    Store {
        path: String,
        #[source]
        source: StoreError,
    },
    #[error("{0}")]
    Locked(#[from] LockError),
    #[error("the store failed: {0}")]
    StoreFailed(#[source] StoreError),
    #[error("daemon.listen {listen}: {source}")]
    Listen {
        listen: String,
        #[source]
        source: std::io::Error,
    },
}

/// Runs until SIGTERM/SIGINT.
pub async fn run(config: Config) -> Result<(), DaemonError> {
    match http::raise_open_file_limit() {
        Ok(limit) => tracing::info!(event = "open_file_limit", limit),
        Err(e) => tracing::warn!(event = "open_file_limit", error = %e, "could not raise it"),
    }
    let base = crate::aws::base_config().await;
    let (trigger, shutdown) = shutdown::channel();
    tokio::spawn(async move {
        shutdown::signal().await;
        tracing::info!(event = "shutdown_requested");
        trigger.fire();
    });
    match config.daemon.store {
        StoreKind::Sqlite => {
            // One daemon per journal file; a daemon that is just exiting gets a few seconds to
            // let go.
            let path = config.daemon.store_path.clone();
            let lock = tokio::task::spawn_blocking(move || DaemonLock::take(&path, LOCK_PATIENCE))
                .await
                .map_err(|e| LockError::Io {
                    store: config.daemon.store_path.display().to_string(),
                    lock: crate::store::lock_path(&config.daemon.store_path)
                        .display()
                        .to_string(),
                    source: std::io::Error::other(e),
                })??;
            tracing::info!(
                event = "journal_locked",
                "this daemon alone works on the journal"
            );
            tracing::debug!(event = "journal_locked", lock = %lock.path.display());
            let store = SqliteStore::open(&config.daemon.store_path).map_err(|source| {
                DaemonError::Store {
                    path: config.daemon.store_path.display().to_string(),
                    source,
                }
            })?;
            let served = serve(config, Arc::new(store), base, shutdown, None).await;
            drop(lock);
            served
        }
        StoreKind::Dynamodb => {
            let table = config.daemon.dynamodb_table.clone();
            let client = crate::store::dynamodb_client(&base);
            let retention = config.daemon.dynamodb_retention_days;
            let opened = {
                let name = table.clone();
                tokio::task::spawn_blocking(move || DynamoStore::open(client, &name, retention))
                    .await
                    .map_err(|e| DaemonError::Store {
                        path: table.clone(),
                        source: StoreError::Corrupt {
                            what: "the store's start".to_string(),
                            message: e.to_string(),
                        },
                    })?
            };
            let store = opened.map_err(|source| DaemonError::Store {
                path: format!("DynamoDB table {table}"),
                source,
            })?;
            tracing::info!(event = "store_opened", store = "dynamodb", table = %table);
            serve(config, Arc::new(store), base, shutdown, None).await
        }
    }
}

/// How long `run` waits for another daemon on the same journal to exit before it gives up.
const LOCK_PATIENCE: Duration = Duration::from_secs(5);

/// The daemon on given parts (the demo and tests use it with their own store and signal).
pub async fn serve<S: Store + 'static>(
    config: Config,
    store: Arc<S>,
    base: SdkConfig,
    shutdown: Shutdown,
    observer: Option<StepObserver>,
) -> Result<(), DaemonError> {
    let config = Arc::new(config);
    let metrics = Arc::new(Metrics::new());
    let readiness = Arc::new(Readiness::default());
    store.ping().map_err(DaemonError::StoreFailed)?;
    readiness.store.store(true, Ordering::Relaxed);

    let listener = tokio::net::TcpListener::bind(&config.daemon.listen)
        .await
        .map_err(|source| DaemonError::Listen {
            listen: config.daemon.listen.clone(),
            source,
        })?;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(event = "listening", address = %addr, mode = ?config.mode);
    }
    let approvals_store: Arc<dyn Store> = store.clone();
    let ops = Ops {
        metrics: metrics.clone(),
        readiness: readiness.clone(),
        approvals: http::approvals::ApprovalsApi::new(
            approvals_store,
            &config.approvals.approvers,
            Clock::System,
        ),
    };
    let limits = http::Limits::for_this_process();
    tracing::info!(
        event = "http_limits",
        max_connections = limits.max_connections,
        header_read_timeout_secs = limits.header_read.as_secs()
    );
    let http_shutdown = shutdown.clone();
    let http_task = tokio::spawn(async move {
        if let Err(e) = http::serve(listener, ops, limits, async move {
            http_shutdown.requested().await
        })
        .await
        {
            tracing::error!(event = "http_failed", error = %e);
        }
    });

    let wake = Arc::new(Notify::new());
    let (outbox, senders) = start_outbox(&config, &store, &metrics, &base, &shutdown);
    let terraform = crate::terraform::Addresses::default();
    if !config.iac.terraform_states.is_empty() {
        // before the first sweep, so its plans already name the addresses
        crate::terraform::refresh(&config, &base, &terraform).await;
        tokio::spawn(crate::terraform::keep_fresh(
            config.clone(),
            base.clone(),
            terraform.clone(),
            shutdown.clone(),
        ));
    }
    let ctx = Arc::new(Context {
        store: store.clone(),
        config: config.clone(),
        metrics: metrics.clone(),
        clients: Clients::new(base.clone(), config.clone(), metrics.clone()),
        clock: Clock::System,
        owner: crate::claims::owner_name(),
        shutdown: shutdown.clone(),
        observer,
        wake: wake.clone(),
        outbox,
        hub: Default::default(),
        terraform,
        full_sweep: Default::default(),
        starts: Default::default(),
    });

    let mut intakes = Vec::new();
    match config.daemon.intake_queue_url() {
        Some(queue_url) => {
            let sqs = aws_sdk_sqs::Client::new(&base);
            for _ in 0..config.daemon.receive_concurrency.max(1) {
                let intake = Intake {
                    sqs: sqs.clone(),
                    queue_url: queue_url.to_string(),
                    store: store.clone(),
                    metrics: metrics.clone(),
                    readiness: readiness.clone(),
                    wake: wake.clone(),
                };
                intakes.push(tokio::spawn(intake.run(shutdown.clone())));
            }
        }
        None => {
            tracing::info!(
                event = "no_queue",
                "daemon.queue_url is empty: periodic sweeps only"
            );
            readiness.queue.store(true, Ordering::Relaxed);
        }
    }

    let sweeper = tokio::spawn(sweep_loop(ctx.clone(), base, readiness.clone()));
    let result = reconcile::run_scheduler(ctx).await;
    sweeper.abort();
    for intake in intakes {
        let _ = intake.await;
    }
    for sender in senders {
        let _ = sender.await;
    }
    let _ = http_task.await;
    tracing::info!(event = "stopped");
    result.map_err(DaemonError::StoreFailed)
}

/// The outbox senders that are configured (the event bus: `notifications.event_bus`;
/// Security Hub write-back: `findings.update`), started, and the handles that wake them.
fn start_outbox<S: Store + 'static>(
    config: &Arc<Config>,
    store: &Arc<S>,
    metrics: &Arc<Metrics>,
    base: &SdkConfig,
    shutdown: &Shutdown,
) -> (Outbox, Vec<tokio::task::JoinHandle<()>>) {
    let mut outbox = Outbox::off();
    let mut tasks = Vec::new();
    if let Some(bus) = config.notifications.bus() {
        let mut sdk = base.to_builder();
        if let Some(region) = config.notifications.bus_region() {
            sdk = sdk.region(aws_config::Region::new(region.to_string()));
        }
        let wake = Arc::new(Notify::new());
        let sender = Sender {
            store: store.clone(),
            events: aws_sdk_eventbridge::Client::new(&sdk.build()),
            bus: bus.to_string(),
            clock: Clock::System,
            metrics: metrics.clone(),
            wake: wake.clone(),
            backoff: config.notifications.backoff(),
        };
        tasks.push(tokio::spawn(sender.run(shutdown.clone())));
        outbox.events = Some(wake);
    }
    if config.findings.update {
        let wake = Arc::new(Notify::new());
        let updater = Updater {
            store: store.clone(),
            base: base.clone(),
            config: config.clone(),
            clock: Clock::System,
            metrics: metrics.clone(),
            wake: wake.clone(),
            backoff: config.notifications.backoff(),
            clients: Default::default(),
        };
        tracing::info!(event = "findings_write_back_on", administrator_account = %config.findings.administrator_account);
        tasks.push(tokio::spawn(updater.run(shutdown.clone())));
        outbox.findings = Some(wake);
    }
    (outbox, tasks)
}

/// A full sweep at start-up, then every `daemon.sweep_interval_secs` (jittered).
async fn sweep_loop<S: Store + 'static>(
    ctx: Arc<Context<S>>,
    base: SdkConfig,
    readiness: Arc<Readiness>,
) {
    loop {
        let now = ctx.now();
        let exemptions = &ctx.config.exemptions;
        let active = exemptions.iter().filter(|e| e.active(now)).count();
        Exemptions {
            active,
            expired: exemptions.len() - active,
        }
        .emit(&ctx.metrics);
        let answered = match reconcile::sweep_once(&ctx, &base).await {
            Ok(outcome) => {
                tracing::info!(
                    event = "sweep_done",
                    failing_resources = outcome.failing_resources,
                    aws_answered = outcome.aws_answered,
                    unchanged = outcome.unchanged,
                    full = outcome.full
                );
                outcome.aws_answered
            }
            Err(e) => {
                tracing::error!(event = "sweep_failed", error = %e);
                false
            }
        };
        if answered {
            readiness.aws.store(true, Ordering::Relaxed);
        } else if !readiness.aws.load(Ordering::Relaxed) {
            // Not ready until AWS answered once: try again soon, whatever the interval.
            if !ctx
                .shutdown
                .sleep(
                    ctx.config
                        .daemon
                        .max_error_backoff()
                        .min(Duration::from_secs(30)),
                )
                .await
            {
                return;
            }
            continue;
        }
        let Some(interval) = ctx.config.daemon.sweep_interval() else {
            return;
        };
        let jitter = ctx.config.daemon.sweep_jitter;
        let factor = 1.0 + jitter * (2.0 * rand::random::<f64>() - 1.0);
        let delay = Duration::from_secs_f64(interval.as_secs_f64() * factor.max(0.0));
        if !ctx.shutdown.sleep(delay).await {
            return;
        }
    }
}
