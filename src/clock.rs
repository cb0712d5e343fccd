//! Where "now" comes from: the system clock in the daemon, tokio's clock (which tests can
//! pause and advance) in unit tests of the reconciler and scheduler.

use crate::store::Millis;

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> Millis {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    now.saturating_add(skew_ms())
}

/// With the `failpoints` feature (tests only), `SAGEMAKER_REMEDIATOR_CLOCK_SKEW_SECS` moves the
/// process's "now" by that many seconds, so that end-to-end tests can let hours pass (an
/// approval request expiring) without waiting for them. AWS request signing keeps the real time.
#[cfg(feature = "failpoints")]
pub const CLOCK_SKEW_VAR: &str = "SAGEMAKER_REMEDIATOR_CLOCK_SKEW_SECS";

#[cfg(feature = "failpoints")]
fn skew_ms() -> Millis {
    static SKEW: std::sync::OnceLock<Millis> = std::sync::OnceLock::new();
    *SKEW.get_or_init(|| {
        std::env::var(CLOCK_SKEW_VAR)
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
            .map_or(0, |secs| secs.saturating_mul(1000))
    })
}

#[cfg(not(feature = "failpoints"))]
fn skew_ms() -> Millis {
    0
}

/// A source of the current time in epoch milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// `epoch` plus the time tokio's clock has moved since `start`: follows paused and advanced
    /// tokio time.
    Tokio {
        epoch: Millis,
        start: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that follows tokio's time from now on, starting at the system time.
    pub fn tokio() -> Clock {
        Clock::Tokio {
            epoch: now_ms(),
            start: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> Millis {
        match self {
            Clock::System => now_ms(),
            Clock::Tokio { epoch, start } => {
                epoch + i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
            }
        }
    }
}
