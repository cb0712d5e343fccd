//! The tower stack every AWS call of one (account, service) goes through, composed once in
//! [`CallStack::new`] in this order, outermost first:
//!
//! 1. buffer: lets many tasks share one stack (and one rate limit);
//! 2. rate limit: at most `requests_per_second` calls are started per second, before the SDK,
//!    so throttling is avoided rather than retried (none for the audit, which is bounded by
//!    its concurrency instead);
//! 3. timeout: the whole call, SDK retries included, must end within `call_timeout`;
//! 4. fault injection (only with the `failpoints` feature, for tests): fails a share of calls
//!    with a chosen error class;
//! 5. the call itself (an SDK future; the SDK keeps its own retry for throttling and 5xx).
//!
//! A call is any future yielding `Result<T, AwsError>`; the stack carries it as a boxed job
//! whose result goes back to the caller through a oneshot channel.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tower::buffer::Buffer;
use tower::limit::RateLimitLayer;
use tower::timeout::TimeoutLayer;
use tower::util::BoxService;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

use super::{AwsError, ErrorClass};
use crate::metrics::Metrics;
use crate::telemetry::{AwsCall, InternalEvent};

/// One AWS call travelling through the stack.
pub struct Job {
    pub operation: &'static str,
    future: Pin<Box<dyn Future<Output = ()> + Send>>,
}

/// Faults injected before the SDK (tests only): `share` of calls fail with `class`.
#[cfg(feature = "failpoints")]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InjectedFaults {
    pub share: f64,
    pub class: ErrorClass,
}

/// Settings of one stack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StackSettings {
    /// `None`: no rate limit.
    pub requests_per_second: Option<f64>,
    pub call_timeout: Duration,
    #[cfg(feature = "failpoints")]
    pub faults: Option<InjectedFaults>,
}

impl Default for StackSettings {
    fn default() -> Self {
        StackSettings {
            requests_per_second: Some(10.0),
            call_timeout: Duration::from_secs(60),
            #[cfg(feature = "failpoints")]
            faults: None,
        }
    }
}

/// A shared, cloneable handle on one stack.
#[derive(Clone)]
pub struct CallStack {
    service: Buffer<Job, <BoxService<Job, (), BoxError> as Service<Job>>::Future>,
    metrics: Option<Arc<Metrics>>,
}

impl std::fmt::Debug for CallStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallStack")
    }
}

/// `rate` as a tower rate: whole requests per period (no limit: more than can ever be sent).
fn rate(requests_per_second: Option<f64>) -> (u64, Duration) {
    let Some(requests_per_second) = requests_per_second else {
        return (u64::MAX, Duration::from_secs(1));
    };
    if requests_per_second >= 1.0 {
        (requests_per_second.round() as u64, Duration::from_secs(1))
    } else {
        let per = 1.0 / requests_per_second.max(0.001);
        (1, Duration::from_secs_f64(per))
    }
}

impl CallStack {
    /// Builds the stack. Must be called within a tokio runtime (the buffer spawns a worker).
    pub fn new(settings: StackSettings) -> CallStack {
        let (num, per) = rate(settings.requests_per_second);
        let builder = ServiceBuilder::new()
            .layer(RateLimitLayer::new(num, per))
            .layer(TimeoutLayer::new(settings.call_timeout));
        #[cfg(feature = "failpoints")]
        let builder = builder.layer(FaultLayer(settings.faults));
        let inner = builder
            .service(tower::service_fn(|job: Job| async move {
                job.future.await;
                Ok::<(), Infallible>(())
            }))
            .map_err(BoxError::from);
        CallStack {
            service: Buffer::new(BoxService::new(inner), 1024),
            metrics: None,
        }
    }

    /// Counts every call in `smr_aws_calls_total{operation, class}`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> CallStack {
        self.metrics = Some(metrics);
        self
    }

    /// Runs `future` as AWS call `operation` through the stack.
    pub async fn call<T, F>(&self, operation: &'static str, future: F) -> Result<T, AwsError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, AwsError>> + Send + 'static,
    {
        let result = self.call_uncounted(operation, future).await;
        if let Some(metrics) = &self.metrics {
            let class = match &result {
                Ok(_) => "ok",
                Err(e) => e.class.as_str(),
            };
            AwsCall { operation, class }.emit(metrics);
        }
        result
    }

    async fn call_uncounted<T, F>(&self, operation: &'static str, future: F) -> Result<T, AwsError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, AwsError>> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job {
            operation,
            future: Box::pin(async move {
                let _ = tx.send(future.await);
            }),
        };
        let mut service = self.service.clone();
        let outcome = match service.ready().await {
            Ok(ready) => ready.call(job).await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            return Err(stack_error(operation, e));
        }
        rx.await.unwrap_or_else(|_| {
            Err(AwsError {
                operation,
                resource: None,
                class: ErrorClass::Transient,
                code: None,
                message: "the call was dropped before it answered".to_string(),
            })
        })
    }
}

/// Turns a stack-level failure (timeout, injected fault, closed buffer) into an [`AwsError`].
fn stack_error(operation: &'static str, e: BoxError) -> AwsError {
    #[cfg(feature = "failpoints")]
    if let Some(injected) = e.downcast_ref::<fault::Injected>() {
        return AwsError {
            operation,
            resource: None,
            class: injected.0,
            code: Some("InjectedFault".to_string()),
            message: "fault injected by the call stack".to_string(),
        };
    }
    let message = if e.is::<tower::timeout::error::Elapsed>() {
        "the call timed out (aws.call_timeout_secs)".to_string()
    } else {
        format!("call stack: {e}")
    };
    AwsError {
        operation,
        resource: None,
        class: ErrorClass::Transient,
        code: None,
        message,
    }
}

/// Fault injection, only in builds with the `failpoints` feature.
#[cfg(feature = "failpoints")]
mod fault {
    use std::task::{Context, Poll};

    use tower::Layer;

    use super::*;

    /// The error an injected fault carries.
    #[derive(Debug)]
    pub(super) struct Injected(pub(super) ErrorClass);

    impl std::fmt::Display for Injected {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "injected {} fault", self.0)
        }
    }

    impl std::error::Error for Injected {}

    /// Fails a share of calls before they reach the SDK (none when `None`).
    #[derive(Debug, Clone, Copy)]
    pub struct FaultLayer(pub Option<InjectedFaults>);

    impl<S> Layer<S> for FaultLayer {
        type Service = Fault<S>;
        fn layer(&self, inner: S) -> Fault<S> {
            Fault {
                inner,
                faults: self.0.map(Arc::new),
            }
        }
    }

    /// See [`FaultLayer`].
    #[derive(Debug, Clone)]
    pub struct Fault<S> {
        inner: S,
        faults: Option<Arc<InjectedFaults>>,
    }

    impl<S> Service<Job> for Fault<S>
    where
        S: Service<Job, Response = ()>,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        type Response = ();
        type Error = BoxError;
        type Future = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            self.inner.poll_ready(cx).map_err(Into::into)
        }

        fn call(&mut self, job: Job) -> Self::Future {
            if let Some(faults) = &self.faults {
                if rand::random::<f64>() < faults.share {
                    let class = faults.class;
                    return Box::pin(async move { Err(Box::new(Injected(class)) as BoxError) });
                }
            }
            let fut = self.inner.call(job);
            Box::pin(async move { fut.await.map_err(Into::into) })
        }
    }
}

#[cfg(feature = "failpoints")]
pub use fault::{Fault, FaultLayer};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_call_returns_its_value() {
        let stack = CallStack::new(StackSettings::default());
        let v = stack
            .call("Test", async { Ok::<_, AwsError>(42) })
            .await
            .unwrap();
        assert_eq!(v, 42);
    }

    #[tokio::test]
    async fn the_timeout_bounds_a_call() {
        let stack = CallStack::new(StackSettings {
            call_timeout: Duration::from_millis(20),
            ..StackSettings::default()
        });
        let err = stack
            .call("Slow", async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, AwsError>(())
            })
            .await
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Transient);
        assert_eq!(err.operation, "Slow");
        assert!(err.message.contains("timed out"), "{}", err.message);
    }

    #[cfg(feature = "failpoints")]
    #[tokio::test]
    async fn injected_faults_fail_every_call_at_share_one() {
        let stack = CallStack::new(StackSettings {
            faults: Some(InjectedFaults {
                share: 1.0,
                class: ErrorClass::Throttled,
            }),
            ..StackSettings::default()
        });
        let err = stack
            .call("Any", async { Ok::<_, AwsError>(()) })
            .await
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Throttled);
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limit_spaces_calls() {
        let stack = CallStack::new(StackSettings {
            requests_per_second: Some(2.0),
            ..StackSettings::default()
        });
        let start = tokio::time::Instant::now();
        for _ in 0..5 {
            stack
                .call("Tick", async { Ok::<_, AwsError>(()) })
                .await
                .unwrap();
        }
        // 2 per second: calls 3-4 wait for the second window, call 5 for the third.
        assert!(
            start.elapsed() >= Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn fractional_rates_become_longer_periods() {
        assert_eq!(rate(Some(10.0)), (10, Duration::from_secs(1)));
        assert_eq!(rate(Some(0.5)), (1, Duration::from_secs(2)));
        assert_eq!(rate(None), (u64::MAX, Duration::from_secs(1)));
    }
}
