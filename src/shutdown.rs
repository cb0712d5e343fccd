//! Graceful shutdown: one signal shared by every task (mini-redis style). SIGTERM or SIGINT
//! flips it; intake stops taking messages, reconciles stop between steps.

use tokio::sync::watch;

/// Sends the shutdown signal.
#[derive(Debug)]
pub struct Sender(watch::Sender<bool>);

/// Receives the shutdown signal; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A linked pair.
pub fn channel() -> (Sender, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Sender(tx), Shutdown(rx))
}

impl Sender {
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// A signal that never fires (for one-shot runs and tests).
    pub fn never() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Shutdown(rx)
    }

    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown is requested.
    pub async fn requested(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Sleeps for `d`, or less if shutdown is requested meanwhile; true if it slept fully.
    pub async fn sleep(&self, d: std::time::Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.requested() => false,
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sleep_ends_early_on_shutdown() {
        let (trigger, shutdown) = channel();
        let s = shutdown.clone();
        let sleeper =
            tokio::spawn(async move { s.sleep(std::time::Duration::from_secs(60)).await });
        tokio::task::yield_now().await;
        trigger.fire();
        assert!(!sleeper.await.unwrap_or(true));
        assert!(shutdown.is_requested());
    }
}
