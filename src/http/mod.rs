//! The operations endpoint: `/healthz` (200 while the process runs), `/readyz` (200 once the
//! queue, the store and AWS each answered once, 503 before, with what is missing), `/metrics`
//! (Prometheus text), and, when approvers are configured, the approvals API ([`approvals`]) and
//! its web page at `/approvals`.
//!
//! # Guarantees
//!
//! The server stays answerable when clients misbehave: a connection that does not send a
//! complete request head within [`Limits::header_read`] (also between keep-alive requests) is
//! closed; at most [`Limits::max_connections`] are open at once, and a connection over the cap
//! is closed at once instead of waiting in the kernel's backlog; request heads are limited to
//! 16 KiB and bodies to 64 KiB. With the soft open-file limit raised to the hard limit at
//! start ([`raise_open_file_limit`]), thousands of idle connections do not stop `/healthz`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::metrics::Metrics;

pub mod approvals;
pub mod healthcheck;
mod page;

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
    /// The approvals API; `None`: off (no approver configured).
    pub approvals: Option<approvals::ApprovalsApi>,
}

pub fn router(ops: Ops) -> Router {
    let api = approvals::routes(ops.approvals.clone());
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(ops)
        .merge(api)
}

/// The largest request body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// The largest request head (request line and headers) accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// How the server protects itself from slow, idle and too many clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A connection must send a complete request head within this long after it opened or
    /// after its previous response (keep-alive idle time).
    pub header_read: Duration,
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
}

impl Limits {
    /// 10 s for a request head, and up to 4,096 connections, fewer when the open-file limit
    /// leaves less room (a quarter of it is kept for the rest of the daemon).
    pub fn for_this_process() -> Limits {
        let files = open_file_limit().unwrap_or(1024);
        let room = usize::try_from(files - files / 4).unwrap_or(usize::MAX);
        Limits {
            header_read: Duration::from_secs(10),
            max_connections: room.clamp(16, 4096),
        }
    }
}

/// The soft open-file limit, if it can be read.
fn open_file_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// Raises the soft open-file limit to the hard limit (an idle client costs one file); returns
/// the limit now in force.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
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

/// Serves the endpoint on `listener` until `shutdown` resolves, then lets the requests in
/// flight finish (at most a second).
pub async fn serve(
    listener: tokio::net::TcpListener,
    ops: Ops,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = TowerToHyperService::new(router(ops));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_buf_size(MAX_HEAD_BYTES);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of files or a connection reset before it was accepted: keep serving.
                    tracing::warn!(event = "http_accept_failed", error = %e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(stream); // over the cap: closed at once, never queued
            continue;
        };
        let connection =
            graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
        tokio::spawn(async move {
            // Errors here are a client's doing (reset, timeout, a bad request): nothing to log.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(1), graceful.shutdown()).await;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    async fn server(limits: Limits) -> (std::net::SocketAddr, crate::shutdown::Sender) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let ops = Ops {
            metrics: Arc::new(Metrics::new()),
            readiness: Arc::new(Readiness::default()),
            approvals: None,
        };
        let (trigger, shutdown) = crate::shutdown::channel();
        tokio::spawn(serve(listener, ops, limits, async move {
            shutdown.requested().await
        }));
        (addr, trigger)
    }

    async fn get(stream: &mut TcpStream, path: &str, close: bool) -> String {
        let connection = if close { "close" } else { "keep-alive" };
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: {connection}\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let mut buf = vec![0; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Waits until the server closes `stream` (a read returns 0), or `within` passes.
    async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
        let mut buf = [0; 64];
        matches!(
            tokio::time::timeout(within, stream.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    #[tokio::test]
    async fn a_silent_connection_and_an_idle_keep_alive_one_are_closed() {
        let header_read = Duration::from_millis(300);
        let (addr, _t) = server(Limits {
            header_read,
            max_connections: 16,
        })
        .await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let opened = Instant::now();
        assert!(closed_within(&mut silent, Duration::from_secs(5)).await);
        assert!(opened.elapsed() >= header_read, "{:?}", opened.elapsed());

        let mut idle = TcpStream::connect(addr).await.unwrap();
        assert!(get(&mut idle, "/healthz", false)
            .await
            .starts_with("HTTP/1.1 200"));
        assert!(
            closed_within(&mut idle, Duration::from_secs(5)).await,
            "closed after the keep-alive idle time"
        );
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_closed_at_once_and_the_rest_keep_working() {
        let (addr, _t) = server(Limits {
            header_read: Duration::from_secs(30),
            max_connections: 3,
        })
        .await;
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(TcpStream::connect(addr).await.unwrap());
        }
        let mut over = TcpStream::connect(addr).await.unwrap();
        assert!(closed_within(&mut over, Duration::from_secs(5)).await);
        // One of the held ones still answers.
        assert!(get(&mut held[0], "/healthz", true)
            .await
            .starts_with("HTTP/1.1 200"));
        // Closing it frees its slot for a new connection.
        drop(held.remove(0));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut next = TcpStream::connect(addr).await.unwrap();
        assert!(get(&mut next, "/healthz", true)
            .await
            .starts_with("HTTP/1.1 200"));
    }

    #[tokio::test]
    async fn an_oversized_request_head_is_refused() {
        let (addr, _t) = server(Limits::for_this_process()).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let big = "x".repeat(64 * 1024);
        let request = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
        let _ = stream.write_all(request.as_bytes()).await;
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response).await;
        assert!(
            response.is_empty() || response.starts_with("HTTP/1.1 431"),
            "{response}"
        );
    }

    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_limit() {
        let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        assert_eq!(raise_open_file_limit().unwrap(), hard);
        assert_eq!(open_file_limit(), Some(hard));
        let limits = Limits::for_this_process();
        assert!(limits.max_connections >= 16 && limits.max_connections <= 4096);
    }
}
