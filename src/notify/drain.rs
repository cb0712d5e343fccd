//! The loop of an outbox sender: send what is due, then sleep until the next entry is due, a
//! notice is written (the wake handle), at most [`IDLE_POLL`], or shutdown.

use std::future::Future;
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::shutdown::Shutdown;
use crate::store::{Channel, Store, StoreError};

/// The longest a sender sleeps without looking at the outbox (a notice written by another
/// process, e.g. before a restart, is found within this).
pub const IDLE_POLL: Duration = Duration::from_secs(5);

/// Runs `send_due` (which sends one batch and says how many entries were due) until shutdown;
/// a full batch (`batch` entries) is followed at once by the next.
pub async fn run<S, F, Fut>(
    store: &S,
    channel: Channel,
    clock: &Clock,
    wake: &Notify,
    shutdown: Shutdown,
    batch: usize,
    mut send_due: F,
) where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, StoreError>>,
{
    loop {
        if shutdown.is_requested() {
            break;
        }
        let full = match send_due().await {
            Ok(sent) => sent >= batch,
            Err(e) => {
                tracing::error!(event = "outbox_failed", %channel, error = %e, "the outbox could not be read or updated");
                false
            }
        };
        if full {
            continue;
        }
        let wait = match store.outbox_next_due(channel) {
            Ok(Some(at)) => {
                let ms = u64::try_from(at.saturating_sub(clock.now())).unwrap_or(0);
                Duration::from_millis(ms).min(IDLE_POLL)
            }
            _ => IDLE_POLL,
        };
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            () = shutdown.requested() => break,
        }
    }
}
