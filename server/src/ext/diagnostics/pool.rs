//! The threads that hash and parse files: a fixed number of permits over tokio's blocking
//! pool, so however many rooms want a check, at most `workers` run at once and the
//! runtime's threads keep relaying. A room has at most one job out, so those waiting for
//! a permit are bounded by the open rooms.

use std::sync::Arc;

use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct CheckPool {
    permits: Arc<Semaphore>,
}

impl CheckPool {
    /// A pool of `workers` threads (at least one: hashing needs one even when syntax
    /// checks are off).
    pub fn new(workers: usize) -> Self {
        CheckPool {
            permits: Arc::new(Semaphore::new(workers.max(1))),
        }
    }

    /// Runs `work` on a pool thread once one is free. `None` if it panicked (the panic
    /// is contained to this job).
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let _permit = self.permits.acquire().await.ok()?;
        match tokio::task::spawn_blocking(work).await {
            Ok(value) => Some(value),
            Err(error) => {
                tracing::error!(%error, "a diagnostics job failed");
                None
            }
        }
    }
}
