//! An in-process SageMaker simulator that speaks the real awsJson1_1 wire protocol, so the real
//! `aws-sdk-sagemaker` works against it through `AWS_ENDPOINT_URL` (integration tests, the
//! benchmark, the `demo` command). It owns the HTTP server, the dispatch of
//! `X-Amz-Target: SageMaker.<Operation>`, fault injection, call counters and an admin API. It
//! also answers EventBridge's `AWSEvents.PutEvents` (see `bus`), so notification tests can
//! fail a share of entries the way the service does.
//!
//!
//! - `GET /_sim/calls`: the [`CallCounts`] as JSON; `POST /_sim/calls/reset` zeroes them.
//! - `POST /_sim/faults`: `{"throttle_share", "server_error_share", "failed_entry_share",
//!   "latency_ms",
//!   "access_denied": [ops], "unsupported": [ops], "failed_endpoint_updates": [endpoint names]}`,
//!   missing fields off.
//! - `POST /_sim/notebooks/{name}/status` with `{"status": "Failed"}`: forces a status.
//!
//! # Guarantees
//! One simulated account ([`SimConfig::account`]), one state per region (taken from the SigV4
//! credential scope). Asynchronous transitions are lazy: a resource moves on when it is next
//! read after [`SimConfig::transition_delay`]. State sits behind one mutex never held across
//! an await; every call is O(1) except List*, which is O(n log n) in that region's resources.

mod bus;
mod findings;
mod hub_controls;
mod images;
mod inference;
mod listing;
mod notebooks;
mod state;
mod tags;
#[cfg(test)]
mod tests;
mod wire;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use wire::SimError;

use state::{Ctx, RegionState};
use wire::OpResult;

/// How the simulated account behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The account id in every ARN. Default `123456789012`.
    pub account: String,
    /// The region of calls whose `Authorization` header names none. Default `us-east-1`.
    pub default_region: String,
    /// How long every asynchronous transition takes. Default 2 s.
    pub transition_delay: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            account: "123456789012".into(),
            default_region: "us-east-1".into(),
            transition_delay: Duration::from_secs(2),
        }
    }
}

/// Faults injected into SageMaker calls (never into the admin API). Default: all off.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Share of calls (0.0..=1.0) answered `ThrottlingException`, spread evenly (not at
    /// random) over the calls since the faults were set, so a test sees the same share on
    /// every run: 0.2 throttles exactly every fifth call.
    pub throttle_share: f64,
    /// Share of `PutEvents` entries (0.0..=1.0) failed in the response (`FailedEntryCount`,
    /// `ErrorCode: InternalFailure`), spread the same way.
    pub failed_entry_share: f64,
    /// Share of calls (0.0..=1.0) answered HTTP 500 `InternalFailure`, spread the same way.
    pub server_error_share: f64,
    /// Delay before every answer.
    pub latency: Duration,
    /// Operation names answered `AccessDeniedException`.
    pub access_denied: BTreeSet<String>,
    /// Operation names answered `UnknownOperationException`.
    pub unsupported: BTreeSet<String>,
    /// Endpoints whose updates fail: `UpdateEndpoint` is accepted, the endpoint goes
    /// `Updating`, then rolls back to `InService` on its old config with a `FailureReason`, as
    /// a blue/green deployment whose new fleet never became healthy.
    pub failed_endpoint_updates: BTreeSet<String>,
    /// A request-rate limit, as AWS throttles an account: a token bucket of `burst` calls,
    /// refilled at `per_second`; a call that finds it empty is answered `ThrottlingException`.
    pub rate_limit: Option<RateLimit>,
}

/// The token bucket of [`Faults::rate_limit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

/// How many SageMaker calls reached the simulator, and how many were answered 2xx, by operation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CallCounts {
    pub received: BTreeMap<String, u64>,
    pub succeeded: BTreeMap<String, u64>,
    /// Successful mutating calls by operation, then by the resource they named (a notebook,
    /// endpoint or endpoint config name, or a tagged ARN).
    #[serde(default)]
    pub succeeded_on: BTreeMap<String, BTreeMap<String, u64>>,
}

impl CallCounts {
    /// Calls of `op` received (including those answered with an injected fault).
    pub fn received(&self, op: &str) -> u64 {
        self.received.get(op).copied().unwrap_or(0)
    }

    /// Calls of `op` answered 2xx.
    pub fn succeeded(&self, op: &str) -> u64 {
        self.succeeded.get(op).copied().unwrap_or(0)
    }

    /// Successful calls of the mutating `op` that named `resource`.
    pub fn succeeded_on(&self, op: &str, resource: &str) -> u64 {
        self.succeeded_on
            .get(op)
            .and_then(|by| by.get(resource))
            .copied()
            .unwrap_or(0)
    }

    /// All calls received.
    pub fn total_received(&self) -> u64 {
        self.received.values().sum()
    }

    /// All calls answered 2xx.
    pub fn total_succeeded(&self) -> u64 {
        self.succeeded.values().sum()
    }

    /// Successful calls of operations that change something (not `Describe*`/`List*`).
    pub fn mutating_succeeded(&self) -> u64 {
        self.succeeded
            .iter()
            .filter(|(op, _)| !op.starts_with("Describe") && !op.starts_with("List"))
            .map(|(_, n)| n)
            .sum()
    }
}

/// One SageMaker operation over the state of the caller's region.
type Op = fn(&mut RegionState, &Ctx, &[u8]) -> OpResult;

/// Every operation the simulator serves.
const OPERATIONS: &[(&str, Op)] = &[
    ("CreateNotebookInstance", notebooks::create),
    ("DescribeNotebookInstance", notebooks::describe),
    ("ListNotebookInstances", notebooks::list),
    ("StopNotebookInstance", notebooks::stop),
    ("StartNotebookInstance", notebooks::start),
    ("UpdateNotebookInstance", notebooks::update),
    ("DeleteNotebookInstance", notebooks::delete),
    ("AddTags", tags::add_tags),
    ("ListTags", tags::list_tags),
    ("DeleteTags", tags::delete_tags),
    ("CreateImage", images::create_image),
    ("DescribeImage", images::describe_image),
    ("ListImages", images::list_images),
    ("UpdateImage", images::update_image),
    ("DeleteImage", images::delete_image),
    ("CreateAppImageConfig", images::create_app_image_config),
    ("DescribeAppImageConfig", images::describe_app_image_config),
    ("ListAppImageConfigs", images::list_app_image_configs),
    ("DeleteAppImageConfig", images::delete_app_image_config),
    ("CreateModel", inference::create_model),
    ("DescribeModel", inference::describe_model),
    ("ListModels", inference::list_models),
    ("DeleteModel", inference::delete_model),
    ("CreateEndpointConfig", inference::create_endpoint_config),
    (
        "DescribeEndpointConfig",
        inference::describe_endpoint_config,
    ),
    ("ListEndpointConfigs", inference::list_endpoint_configs),
    ("DeleteEndpointConfig", inference::delete_endpoint_config),
    ("CreateEndpoint", inference::create_endpoint),
    ("DescribeEndpoint", inference::describe_endpoint),
    ("ListEndpoints", inference::list_endpoints),
    ("UpdateEndpoint", inference::update_endpoint),
    ("DeleteEndpoint", inference::delete_endpoint),
];

struct Shared {
    config: SimConfig,
    regions: Mutex<HashMap<String, RegionState>>,
    faults: Mutex<Faults>,
    calls: Mutex<CallCounts>,
    request_ids: AtomicU64,
    /// Calls judged for throttling and for server errors, and `PutEvents` entries judged for
    /// failure, since the faults were last set.
    fault_counters: [AtomicU64; 3],
    /// The rate limit's tokens and when they were last counted.
    bucket: Mutex<(f64, tokio::time::Instant)>,
    /// The `PutEvents` entries accepted, in order.
    bus: Mutex<Vec<serde_json::Value>>,
    /// Security Hub findings (ASFF), see [`Simulator::add_finding`].
    findings: Mutex<Vec<serde_json::Value>>,
    /// Security Hub control parameters, see [`Simulator::set_control_parameters`].
    control_parameters: Mutex<BTreeMap<String, serde_json::Value>>,
}

/// Whether call number `counter` (counted from 0, then incremented) falls in `share`: an even
/// spread, `floor((n + 1) * share) > floor(n * share)`, so exactly `floor(n * share)` of the
/// first `n` calls are hit, evenly spaced.
fn spread_hit(counter: &AtomicU64, share: f64) -> bool {
    if share <= 0.0 {
        return false;
    }
    let n = counter.fetch_add(1, Ordering::Relaxed) as f64;
    ((n + 1.0) * share).floor() > (n * share).floor()
}

/// The simulator: cheap to clone, all clones share one account.
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
}

/// Locks a mutex, tolerating poisoning (state stays usable after a panicking test thread).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Simulator {
    /// A simulator with an empty account.
    pub fn new(config: SimConfig) -> Simulator {
        Simulator {
            shared: Arc::new(Shared {
                config,
                regions: Mutex::new(HashMap::new()),
                faults: Mutex::new(Faults::default()),
                calls: Mutex::new(CallCounts::default()),
                request_ids: AtomicU64::new(0),
                bucket: Mutex::new((0.0, tokio::time::Instant::now())),
                fault_counters: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
                bus: Mutex::new(Vec::new()),
                findings: Mutex::new(Vec::new()),
                control_parameters: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The names of every operation served.
    pub fn operations() -> impl Iterator<Item = &'static str> {
        OPERATIONS.iter().map(|(name, _)| *name)
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Serves SageMaker and the admin API on `listener` until `shutdown` completes.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Binds `127.0.0.1:0` and serves in a spawned task until the handle is shut down or dropped.
    pub async fn start(config: SimConfig) -> std::io::Result<SimHandle> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let simulator = Simulator::new(config);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = simulator.clone();
        let task = tokio::spawn(async move {
            server
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(SimHandle {
            simulator,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Replaces the injected faults.
    pub fn set_faults(&self, faults: Faults) {
        let mut current = lock(&self.shared.faults);
        for counter in &self.shared.fault_counters {
            counter.store(0, Ordering::Relaxed);
        }
        if let Some(limit) = faults.rate_limit {
            *lock(&self.shared.bucket) = (limit.burst, tokio::time::Instant::now());
        }
        *current = faults;
    }

    /// The injected faults now.
    pub fn faults(&self) -> Faults {
        lock(&self.shared.faults).clone()
    }

    /// A snapshot of the call counters.
    pub fn calls(&self) -> CallCounts {
        lock(&self.shared.calls).clone()
    }

    /// Adds an active, failed Security Hub finding (ASFF, workflow status `NEW`) of `control`
    /// about `resource_arn` in `region`; its `Id`.
    pub fn add_finding(&self, region: &str, resource_arn: &str, control: &str) -> String {
        let mut findings = lock(&self.shared.findings);
        let finding = findings::new_finding(
            &self.shared.config.account,
            region,
            resource_arn,
            control,
            findings.len() + 1,
        );
        let id = finding["Id"].as_str().unwrap_or_default().to_string();
        findings.push(finding);
        id
    }

    /// Sets the `Parameters` Security Hub's `BatchGetSecurityControls` reports for `control`,
    /// e.g. `{"requiredKeyTags": {"ValueType": "CUSTOM", "Value": {"StringList": ["owner"]}}}`.
    pub fn set_control_parameters(&self, control: &str, parameters: serde_json::Value) {
        lock(&self.shared.control_parameters).insert(control.to_string(), parameters);
    }

    /// Every Security Hub finding as it stands (ASFF).
    pub fn findings(&self) -> Vec<serde_json::Value> {
        lock(&self.shared.findings).clone()
    }

    /// The EventBridge `PutEvents` entries accepted so far (`Source`, `DetailType`, `Detail`,
    /// `EventBusName`, `Resources`, ... as sent, plus the `EventId` given).
    pub fn bus_events(&self) -> Vec<serde_json::Value> {
        lock(&self.shared.bus).clone()
    }

    /// Zeroes the call counters.
    pub fn reset_calls(&self) {
        *lock(&self.shared.calls) = CallCounts::default();
    }

    /// Forces the status of a notebook (in every region that has one by that name), cancelling
    /// any transition under way: it stays there until a call moves it. False if none exists.
    pub fn set_notebook_status(&self, name: &str, status: &str) -> bool {
        let now = tokio::time::Instant::now();
        let epoch = wire::epoch_now();
        let mut regions = lock(&self.shared.regions);
        let mut found = false;
        for region in regions.values_mut() {
            if let Some(notebook) = state::lookup(&mut region.notebooks, name, now) {
                notebook.force_status(status, epoch);
                found = true;
            }
        }
        found
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/", post(sagemaker))
            .route("/findings", post(findings::get_route))
            .route("/findings/batchupdate", patch(findings::batch_update_route))
            .route(
                "/securityControls/batchGet",
                post(hub_controls::batch_get_route),
            )
            .route("/_sim/calls", get(admin_calls))
            .route("/_sim/calls/reset", post(admin_reset_calls))
            .route("/_sim/faults", post(admin_faults))
            .route("/_sim/notebooks/{name}/status", post(admin_notebook_status))
            .fallback(admin_not_found)
            .with_state(self.clone())
    }

    fn count_received(&self, op: &str) {
        *lock(&self.shared.calls)
            .received
            .entry(op.to_string())
            .or_default() += 1;
    }

    /// One token from the rate limit's bucket, if there is one.
    fn take_token(&self, limit: RateLimit) -> bool {
        let mut bucket = lock(&self.shared.bucket);
        let now = tokio::time::Instant::now();
        let (tokens, at) = *bucket;
        let refilled =
            (tokens + now.duration_since(at).as_secs_f64() * limit.per_second).min(limit.burst);
        let (left, taken) = match refilled >= 1.0 {
            true => (refilled - 1.0, true),
            false => (refilled, false),
        };
        *bucket = (left, now);
        taken
    }

    fn count_succeeded_on(&self, op: &str, body: &[u8]) {
        let Ok(request) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        let named = [
            "NotebookInstanceName",
            "EndpointName",
            "EndpointConfigName",
            "ResourceArn",
        ]
        .iter()
        .find_map(|key| request.get(*key).and_then(|v| v.as_str()));
        if let Some(resource) = named {
            *lock(&self.shared.calls)
                .succeeded_on
                .entry(op.to_string())
                .or_default()
                .entry(resource.to_string())
                .or_default() += 1;
        }
    }

    fn count_succeeded(&self, op: &str) {
        *lock(&self.shared.calls)
            .succeeded
            .entry(op.to_string())
            .or_default() += 1;
    }

    /// Answers one SageMaker call: injected faults first, then the operation.
    fn answer(&self, op: &str, region: &str, body: &[u8], faults: &Faults) -> OpResult {
        if faults.unsupported.contains(op) {
            return Err(SimError::unknown_operation(op));
        }
        if faults.access_denied.contains(op) {
            return Err(SimError::access_denied(op));
        }
        if let Some(limit) = faults.rate_limit {
            if !self.take_token(limit) {
                return Err(SimError::throttling());
            }
        }
        let [throttles, server_errors, entries] = &self.shared.fault_counters;
        if spread_hit(throttles, faults.throttle_share) {
            return Err(SimError::throttling());
        }
        if spread_hit(server_errors, faults.server_error_share) {
            return Err(SimError::internal());
        }
        let fail = || spread_hit(entries, faults.failed_entry_share);
        match op {
            "PutEvents" => return bus::put_events(body, fail, &mut lock(&self.shared.bus)),
            "GetFindings" => return findings::get(body, &lock(&self.shared.findings)),
            "BatchGetSecurityControls" => {
                return hub_controls::batch_get(
                    body,
                    &self.shared.config.account,
                    region,
                    &lock(&self.shared.control_parameters),
                )
            }
            "BatchUpdateFindings" => {
                return findings::batch_update(body, fail, &mut lock(&self.shared.findings))
            }
            _ => {}
        }
        let Some((_, operation)) = OPERATIONS.iter().find(|(name, _)| *name == op) else {
            return Err(SimError::unknown_operation(op));
        };
        let config = &self.shared.config;
        let ctx = Ctx {
            account: &config.account,
            region,
            now: tokio::time::Instant::now(),
            epoch: wire::epoch_now(),
            delay: config.transition_delay,
            failed_endpoint_updates: &faults.failed_endpoint_updates,
        };
        let mut regions = lock(&self.shared.regions);
        let state = regions.entry(region.to_string()).or_default();
        let mut output = operation(state, &ctx, body)?;
        wire::drop_nulls(&mut output);
        Ok(output)
    }
}

/// A running simulator; dropping it stops the server too.
pub struct SimHandle {
    pub simulator: Simulator,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`, for `endpoint_url` / `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server, waiting up to 5 s for open connections to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The region of the SigV4 credential scope (`Credential=AKID/DATE/REGION/sagemaker/aws4_request`).
fn region_of(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let scope = auth.split("Credential=").nth(1)?;
    let scope = scope.split([',', ' ']).next()?;
    let region = scope.split('/').nth(2)?;
    (!region.is_empty()).then(|| region.to_string())
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

/// `POST /`: one SageMaker call.
async fn sagemaker(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(target) = headers.get("x-amz-target").and_then(|t| t.to_str().ok()) else {
        return admin_not_found().await;
    };
    match target
        .strip_prefix("SageMaker.")
        .or_else(|| (target == "AWSEvents.PutEvents").then_some("PutEvents"))
    {
        Some(op) => dispatch(&sim, op, &headers, &body).await,
        None => {
            let op = target.to_string();
            sim.count_received(&op);
            respond(&sim, &op, "-", Err(SimError::unknown_operation(target)))
        }
    }
}

/// Answers one call of `op` (SageMaker, `PutEvents`, or Security Hub's): counted, delayed and
/// faulted as configured.
async fn dispatch(sim: &Simulator, op: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    sim.count_received(op);
    let faults = sim.faults();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let region = region_of(headers).unwrap_or_else(|| sim.shared.config.default_region.clone());
    let result = sim.answer(op, &region, body, &faults);
    if result.is_ok() && !op.starts_with("Describe") && !op.starts_with("List") {
        sim.count_succeeded_on(op, body);
    }
    respond(sim, op, &region, result)
}

fn respond(sim: &Simulator, op: &str, region: &str, result: OpResult) -> Response {
    let request_id = sim
        .shared
        .request_ids
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut response = match result {
        Ok(output) => {
            sim.count_succeeded(op);
            tracing::trace!(operation = %op, %region, "sim.call.succeeded");
            json_response(StatusCode::OK, &output)
        }
        Err(error) => {
            tracing::debug!(operation = %op, %region, code = error.code, message = %error.message, "sim.call.failed");
            let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = json_response(status, &error.body());
            response
                .headers_mut()
                .insert("x-amzn-errortype", HeaderValue::from_static(error.code));
            response
        }
    };
    if let Ok(id) = HeaderValue::from_str(&format!("sim-{request_id:016x}")) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

fn admin_json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn admin_not_found() -> Response {
    admin_json(
        StatusCode::NOT_FOUND,
        serde_json::json!({ "error": "not a SageMaker call (POST / with X-Amz-Target) nor an admin endpoint" }),
    )
}

async fn admin_calls(State(sim): State<Simulator>) -> Response {
    (StatusCode::OK, axum::Json(sim.calls())).into_response()
}

async fn admin_reset_calls(State(sim): State<Simulator>) -> Response {
    sim.reset_calls();
    admin_json(StatusCode::OK, serde_json::json!({ "ok": true }))
}

/// The admin form of [`Faults`].
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FaultsBody {
    throttle_share: f64,
    failed_entry_share: f64,
    server_error_share: f64,
    latency_ms: u64,
    access_denied: BTreeSet<String>,
    unsupported: BTreeSet<String>,
    failed_endpoint_updates: BTreeSet<String>,
    /// Calls per second allowed (0: no limit), with `rate_limit_burst` (default: one second's).
    rate_limit_per_sec: f64,
    rate_limit_burst: Option<f64>,
}

async fn admin_faults(State(sim): State<Simulator>, body: Bytes) -> Response {
    let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
    match serde_json::from_slice::<FaultsBody>(body) {
        Ok(f) => {
            sim.set_faults(Faults {
                throttle_share: f.throttle_share,
                failed_entry_share: f.failed_entry_share,
                server_error_share: f.server_error_share,
                latency: Duration::from_millis(f.latency_ms),
                access_denied: f.access_denied,
                unsupported: f.unsupported,
                failed_endpoint_updates: f.failed_endpoint_updates,
                rate_limit: (f.rate_limit_per_sec > 0.0).then(|| RateLimit {
                    per_second: f.rate_limit_per_sec,
                    burst: f.rate_limit_burst.unwrap_or(f.rate_limit_per_sec).max(1.0),
                }),
            });
            admin_json(StatusCode::OK, serde_json::json!({ "ok": true }))
        }
        Err(e) => admin_json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": e.to_string() }),
        ),
    }
}

#[derive(Deserialize)]
struct StatusBody {
    status: String,
}

async fn admin_notebook_status(
    State(sim): State<Simulator>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let status = match serde_json::from_slice::<StatusBody>(&body) {
        Ok(b) => b.status,
        Err(e) => {
            return admin_json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": e.to_string() }),
            )
        }
    };
    if sim.set_notebook_status(&name, &status) {
        admin_json(StatusCode::OK, serde_json::json!({ "ok": true }))
    } else {
        admin_json(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": format!("no notebook instance named {name}") }),
        )
    }
}
