//! The operations endpoint: `/healthz` (200 while the process runs), `/readyz` (200 once the
//! queue, the store and AWS each answered once, 503 before, with what is missing), `/metrics`
//! (Prometheus text).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::metrics::Metrics;

/// What `/readyz` waits for. Each flag is set by the part that proved its dependency works.
#[derive(Debug, Default)]
pub struct Readiness {
    pub queue: AtomicBool,
    pub store: AtomicBool,
    pub aws: AtomicBool,
}

impl Readiness {
    /// The dependencies that have not answered yet.
    pub fn missing(&self) -> Vec<&'static str> {
        [
            ("queue", &self.queue),
            ("store", &self.store),
            ("aws", &self.aws),
        ]
        .into_iter()
        .filter(|(_, flag)| !flag.load(Ordering::Relaxed))
        .map(|(name, _)| name)
        .collect()
    }
}

/// Shared state of the endpoint.
#[derive(Debug, Clone)]
pub struct Ops {
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<Readiness>,
}

pub fn router(ops: Ops) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ops)
}

async fn readyz(State(ops): State<Ops>) -> impl IntoResponse {
    let missing = ops.readiness.missing();
    if missing.is_empty() {
        (StatusCode::OK, "ready\n".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: waiting for {}\n", missing.join(", ")),
        )
    }
}

async fn metrics(State(ops): State<Ops>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        ops.metrics.render(),
    )
}

/// Serves the endpoint on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ops: Ops,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(ops))
        .with_graceful_shutdown(shutdown)
        .await
}
